/* Private to app/run*.c: the state of one `run`. */
#ifndef MM_RUN_INT_H
#define MM_RUN_INT_H

#include <pthread.h>

#include "metrics.h"
#include "run.h"
#include "worker.h"

#define MM_WORKERS_MAX 64
#define MM_CONSUME_BATCH 256 /* records taken from librdkafka in one call */

struct mm_run_s {
    mm_config_t *cfg;
    rd_kafka_t *consumer;
    rd_kafka_queue_t *consumer_queue; /* for batched takes (consumer thread) */
    rd_kafka_message_t *batch[MM_CONSUME_BATCH];
    mm_worker_env_t env;
    mm_worker_t *workers[MM_WORKERS_MAX];
    int n_workers;
    int assigned; /* partitions assigned (consumer thread only) */
    mm_metrics_t *metrics;
    /* Hot reload: rules replaced but maybe still held by a worker. */
    mm_rules_t *retired_rules;
    uint64_t retired_generation;
    _Atomic uint64_t reloads_ok, reloads_failed;
    /* librdkafka's last statistics JSON (see run_metrics.c). */
    pthread_mutex_t stats_lock;
    char *stats_json;
    size_t stats_cap;
};

/** The metrics endpoint's collect callback (HTTP thread). */
void mm__run_collect(mm_metrics_writer_t *w, void *ctx);
/** librdkafka's statistics callback (rd_kafka_conf_set_stats_cb). */
int mm__run_on_stats(rd_kafka_t *rk, char *json, size_t json_len, void *opaque);

#endif
