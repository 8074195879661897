/* Private to app/run*.c: the state of one `run`. */
#ifndef MM_RUN_INT_H
#define MM_RUN_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "metrics.h"
#include "run.h"

struct mm_run_s {
    mm_config_t *cfg;
    mm_engine_t *engine;
    mm_metrics_t *metrics;
    pthread_t signal_thread;
    _Atomic bool finished;
    _Atomic uint64_t reloads_ok, reloads_failed;
    /* librdkafka's last statistics JSON (see run_metrics.c). */
    pthread_mutex_t stats_lock;
    char *stats_json;
    size_t stats_cap;
};

/** The metrics endpoint's collect callback (HTTP thread). */
void mm__run_collect(mm_metrics_writer_t *w, void *ctx);
/** The engine's statistics hook: keeps the consumer's last statistics. */
void mm__run_on_stats(const char *json, size_t len, void *ctx);

#endif
