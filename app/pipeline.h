/*
 * The pipeline of one instance: record bytes in, moments and dead letters out
 * through a sink, with the input offsets each output holds. Shared by `run`,
 * `demo` and `classify`.
 *
 * A task is one input partition: its per-user state and its offsets.
 * @locality one thread drives a pipeline (process, ack, tasks).
 */
#ifndef MM_PIPELINE_H
#define MM_PIPELINE_H

#include <stdatomic.h>

#include "../classifier/classifier.h"
#include "../consumer/consumer.h"
#include "../sinks/sinks.h"
#include "config.h"

#define MM_TASKS_MAX 4096

typedef struct mm_task_s {
    char topic[256];
    size_t topic_len;
    int32_t partition;
    bool in_use;
    bool eof;
    uint8_t generation; /* tells acks for a reused slot apart */
    int64_t committed;  /* last offset committed, -1 none */
    int64_t next_offset; /* after the last record processed, -1 none */
    int64_t txn_base;   /* first record of the open transaction, -1 none */
    int64_t resume_at;  /* after a rewind: skip records until this one */
    mm_state_t *state;
    mm_offsets_t *offsets;
} mm_task_t;

/* Counters have one writer (the pipeline's thread) and any number of
 * readers (metrics, the live view): relaxed atomic loads and stores, no
 * read-modify-write, so counting costs what a plain increment does. */
typedef struct mm_pipeline_counters_s {
    _Atomic uint64_t records_in;
    _Atomic uint64_t moments_out[MM_MOMENT__COUNT];
    _Atomic uint64_t dead_out[MM_ERR__COUNT];
    _Atomic uint64_t acked;
} mm_pipeline_counters_t;

#define MM_COUNTER_ADD(counter, n)                                              \
    atomic_store_explicit(&(counter),                                          \
                          atomic_load_explicit(&(counter), memory_order_relaxed) + (n), \
                          memory_order_relaxed)
#define MM_COUNTER_GET(counter) atomic_load_explicit(&(counter), memory_order_relaxed)

/** Called for each moment written (demo's live view); may be NULL. */
typedef void mm_pipeline_moment_hook(const mm_moment_t *m, const char *json,
                                     size_t len, void *hook_ctx);

/** Explain mode (classify --explain): called for every decoded event instead
 * of writing its moments. @p moment is NULL when none came out. */
typedef void mm_pipeline_explain_hook(const mm_event_t *ev, const mm_explain_t *explain,
                                      const mm_moment_t *moment, void *hook_ctx);

typedef struct mm_pipeline_s mm_pipeline_t;

/**
 * @brief A pipeline over @p rules (borrowed: must outlive the pipeline).
 * The sink is attached afterwards with mm_pipeline_set_sink, because the sink
 * needs the pipeline's ack callback.
 */
mm_pipeline_t *mm_pipeline_new(const mm_config_t *cfg, const mm_rules_t *rules,
                               char *errstr, size_t errstr_size);
void mm_pipeline_destroy(mm_pipeline_t *pipe);
/** @brief Attach @p sink (taken). */
void mm_pipeline_set_sink(mm_pipeline_t *pipe, mm_sink_t *sink);
mm_sink_t *mm_pipeline_sink(mm_pipeline_t *pipe);
void mm_pipeline_set_hook(mm_pipeline_t *pipe, mm_pipeline_moment_hook *hook,
                          void *hook_ctx);

/** @brief Use @p rules from the next record on (hot reload); borrowed. */
void mm_pipeline_set_rules(mm_pipeline_t *pipe, const mm_rules_t *rules);

struct mm_histogram_s;
/** @brief Record each moment's latency from its record's timestamp into
 * @p hist (borrowed; NULL: none). */
void mm_pipeline_set_histogram(mm_pipeline_t *pipe, struct mm_histogram_s *hist);

/** @brief Hint that @p key's record comes soon (the key is the user id). */
void mm_pipeline_prefetch(mm_pipeline_t *pipe, mm_task_t *task, mm_str_t key);

void mm_pipeline_set_explain(mm_pipeline_t *pipe, mm_pipeline_explain_hook *hook,
                             void *hook_ctx);

/**
 * @brief The wall clock for the records processed next (detected_ts, dead
 * letter times): a worker reads the clock once per batch, not per record.
 * 0: read it per record.
 */
void mm_pipeline_set_now(mm_pipeline_t *pipe, int64_t now_ms);

/** @brief Exactly-once: a failed output does not fail the pipeline (the
 * transaction's commit fails and rewinds instead). */
void mm_pipeline_set_transactional(mm_pipeline_t *pipe, bool transactional);

/** The ack callback to create the sink with (cb_ctx = the pipeline). */
mm_sink_ack_cb mm_pipeline_ack;

mm_task_t *mm_pipeline_task_open(mm_pipeline_t *pipe, const char *topic,
                                 int32_t partition);
mm_task_t *mm_pipeline_task_find(mm_pipeline_t *pipe, const char *topic,
                                 int32_t partition);
/** @brief Forget a task: its state and its tracker (acks still to come for it
 * are ignored). */
void mm_pipeline_task_close(mm_pipeline_t *pipe, mm_task_t *task);
/** @brief Visit every open task. */
mm_task_t *mm_pipeline_task_next(mm_pipeline_t *pipe, mm_task_t *prev);

/**
 * @brief Process one record of @p task: decode, classify, write moments or a
 * dead letter.
 * @returns MM_ERR_OK; MM_ERR_FULL when the task's tracker is full (poll the
 *          sink and call again); MM_ERR_IO when the schema registry cannot be
 *          reached (call again later; mm_pipeline_io_reason says why); another
 *          error when the sink refused a write (the record stays uncommitted;
 *          in transactional mode MM_ERR_KAFKA, and the pipeline goes on).
 */
mm_err_t mm_pipeline_process(mm_pipeline_t *pipe, mm_task_t *task, mm_str_t key,
                             mm_str_t value, int64_t offset, int64_t record_ts);

const char *mm_pipeline_io_reason(const mm_pipeline_t *pipe);

/** @brief True once an output failed for good; the reason is in @p why. */
bool mm_pipeline_failed(const mm_pipeline_t *pipe, const char **why);
const mm_pipeline_counters_t *mm_pipeline_counters(const mm_pipeline_t *pipe);
/** @brief Records in flight over every task. */
size_t mm_pipeline_inflight(mm_pipeline_t *pipe);

int64_t mm_now_ms(void);

#endif
