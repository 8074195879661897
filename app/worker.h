/*
 * Worker threads of `run`. The consumer thread polls Kafka and hands each
 * record to the worker that owns its partition through a bounded
 * single-producer single-consumer ring (Concurrency Kit's ck_ring): no lock
 * on the hot path. A worker owns its tasks (per-user state and offsets), its
 * producer and its acknowledgements, so nothing it touches per record is
 * shared. Assignment changes travel through the same ring, so a task always
 * exists before its first record arrives.
 */
#ifndef MM_WORKER_H
#define MM_WORKER_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>

#include "config.h"
#include "pipeline.h"

typedef struct mm_worker_s mm_worker_t;

/** What every worker shares; read-only while workers run, but the rules. */
typedef struct mm_worker_env_s {
    const mm_config_t *cfg;
    rd_kafka_t *consumer; /* commits go through it (thread-safe) */
    /* Hot reload: the current rules and their generation. A worker takes
     * them between batches and says which generation it holds, so the
     * reloader knows when nobody holds the old ones (readers never wait). */
    _Atomic(const mm_rules_t *) rules;
    _Atomic uint64_t rules_generation;
    mm_pipeline_moment_hook *on_moment; /* may be NULL */
    void *hook_ctx;
} mm_worker_env_t;

/** What a worker publishes for the consumer thread and metrics. */
typedef struct mm_worker_gauges_s {
    _Atomic uint64_t processed;     /* records taken from the ring */
    _Atomic uint32_t tasks_open;
    _Atomic uint32_t tasks_settled; /* at EOF with nothing unacknowledged */
    _Atomic uint64_t inflight;
    _Atomic uint64_t rules_generation; /* generation of the rules in use */
    _Atomic uint64_t state_users;      /* over the worker's tasks */
    _Atomic uint64_t evicted_cap;
    _Atomic uint64_t expired_ttl;
} mm_worker_gauges_t;

/**
 * @brief A worker with its own pipeline and Kafka producer.
 * @returns NULL with errstr set on failure.
 */
mm_worker_t *mm_worker_new(int id, mm_worker_env_t *env, char *errstr,
                           size_t errstr_size);
/** @brief Start the thread. @returns false when it cannot be created. */
bool mm_worker_start(mm_worker_t *w);

/**
 * @brief Hand @p rkm (taken on success) to the worker.
 * @returns false when the ring is full (retry later; rkm is still yours).
 * @locality the consumer thread only (single producer).
 */
bool mm_worker_offer(mm_worker_t *w, rd_kafka_message_t *rkm);

/**
 * @brief Open a task for a partition (asynchronous, ordered before later
 * records). @locality the consumer thread.
 */
void mm_worker_assign(mm_worker_t *w, const char *topic, int32_t partition);

/**
 * @brief Finish the partition's in-flight work (bounded by
 * mm.shutdown.timeout.ms), commit it unless @p lost, and drop its task;
 * returns when done. @locality the consumer thread.
 */
void mm_worker_revoke(mm_worker_t *w, const char *topic, int32_t partition, bool lost);

/** @brief Ask the worker to finish: drain, commit, exit. Then join. */
void mm_worker_stop(mm_worker_t *w);
void mm_worker_join(mm_worker_t *w);
void mm_worker_destroy(mm_worker_t *w);

const mm_worker_gauges_t *mm_worker_gauges(const mm_worker_t *w);
const mm_pipeline_counters_t *mm_worker_counters(const mm_worker_t *w);
struct mm_histogram_s *mm_worker_latency(mm_worker_t *w);
/** @brief The worker's producer, for its statistics (borrowed). */
rd_kafka_t *mm_worker_producer(mm_worker_t *w);
/** @brief True once the worker hit a failure it cannot recover from. */
bool mm_worker_failed(const mm_worker_t *w, const char **why);
/** @brief Records the consumer thread handed over (consumer thread only). */
uint64_t mm_worker_offered(const mm_worker_t *w);

#endif
