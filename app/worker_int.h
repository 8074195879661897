/*
 * Private to app/worker.c and the delivery modes (app/delivery_*.c): a
 * worker's state, and the seam between the record loop and how its output
 * is made durable.
 *
 *   at-least-once  commit each partition's acknowledged offsets through the
 *                  consumer (delivery_alo.c)
 *   exactly-once   one Kafka transaction at a time per worker, with the
 *                  consumed offsets sent to it (delivery_eos.c)
 */
#ifndef MM_WORKER_INT_H
#define MM_WORKER_INT_H

#include <ck_ring.h>
#include <pthread.h>

#include "histogram.h"
#include "worker.h"

#define MM_WORKER_RING_SIZE 8192 /* records in hand-over: a power of two */
#define MM_WORKER_BATCH 256
#define MM_WORKER_PREFETCH_AHEAD 8

typedef struct mm_delivery_ops_s mm_delivery_ops_t;

struct mm_worker_s {
    int id;
    mm_worker_env_t *env;
    const mm_delivery_ops_t *delivery;
    pthread_t thread;
    bool started;
    ck_ring_t ring;
    ck_ring_buffer_t *ring_buf;
    uint64_t offered; /* consumer thread only */
    mm_pipeline_t *pipe;
    const mm_rules_t *rules;
    uint64_t rules_generation;
    mm_histogram_t *latency;
    mm_worker_gauges_t gauges;
    uint64_t closed_evicted_cap, closed_expired_ttl; /* of tasks revoked */
    bool stopping;
    _Atomic bool exited; /* the thread is gone: its ring has no consumer */
    _Atomic bool failed;
    char fail_reason[512];
    /* exactly-once: the open transaction */
    bool txn_open;
    bool txn_broken; /* a write was refused: abort and rewind, do not commit */
    int64_t txn_started_ms;
    uint64_t txn_records;
};

/**
 * How a worker makes its output durable and its input offsets committed.
 * Every call runs on the worker's thread.
 */
struct mm_delivery_ops_s {
    const char *name;
    /** Before records are processed (exactly-once: a transaction is open). */
    bool (*begin)(mm_worker_t *w);
    /** After a batch: commit when due. @p idle: nothing arrived. */
    void (*after_batch)(mm_worker_t *w, bool idle);
    /** Before @p task's partition goes: finish and commit its work. */
    void (*release)(mm_worker_t *w, mm_task_t *task);
    /** The worker stops: finish and commit everything (bounded). */
    void (*finish)(mm_worker_t *w);
    /** Nothing is waiting to be committed. */
    bool (*settled)(const mm_worker_t *w);
};

extern const mm_delivery_ops_t mm__delivery_at_least_once;
extern const mm_delivery_ops_t mm__delivery_exactly_once;

/** @brief Serve acknowledgements until @p task (NULL: every task) has none
 * outstanding or mm.shutdown.timeout.ms passes. @returns true when none. */
bool mm__worker_drain(mm_worker_t *w, mm_task_t *task);

/** @brief Stop the worker for good with a reason (it exits non-zero). */
void mm__worker_fail(mm_worker_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** @brief Drop @p task's state and tracker and start it again at @p offset:
 * the consumer is sought there and records already handed over for the
 * partition are skipped until it arrives. */
bool mm__worker_rewind(mm_worker_t *w, mm_task_t *task, int64_t offset);

#endif
