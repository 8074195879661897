/*
 * Private to engine/: the engine's threads and what they share.
 *
 *   engine.c    life cycle, start-up checks, rules, stats
 *   consume.c   the consumer thread: poll, dispatch, rebalances, end of input
 *   worker.c    a worker thread: its ring, batches, controls, parked partitions
 *   process.c   one record: decode, classify, encode, write; tasks; acks
 *   delivery_alo.c, delivery_eos.c   how a worker's output becomes durable
 *   offline.c   the record path without Kafka (classify)
 *
 * Who writes what: every field of a task has one writer, named beside it.
 * Other threads read only the partition table's atomics (mm__partition_t).
 */
#ifndef MM_ENGINE_INT_H
#define MM_ENGINE_INT_H

#include <ck_ring.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "engine.h"

#define MM_TASKS_MAX 4096
#define MM_PARTITIONS_MAX 8192        /* assigned to one instance */
#define MM_WORKER_RING_SIZE 8192      /* records in hand-over: a power of two */
#define MM_WORKER_PREFETCH_AHEAD 8
#define MM_CONSUME_BATCH 256          /* records taken from librdkafka in one call */
#define MM_MOMENTS_PER_EVENT 4
#define MM_DIRTY_BYTES (16u << 20)     /* user ids awaiting a checkpoint, a worker */
#define MM_DIRTY_MAX 262144            /* ... and how many */

/* The sink's topics, by number: moments (by type when routed per type),
 * then the other outputs. Disabled ones alias the moment topic. */
enum {
    MM__TOPIC_MOMENTS = 0, /* .. + MM_MOMENT__COUNT - 1 */
    MM__TOPIC_PROFILES = MM_MOMENT__COUNT,
    MM__TOPIC_CONVERSIONS,
    MM__TOPIC_LATE,
    MM__TOPIC_STATE,
    MM__TOPIC__COUNT
};
#define MM__OUTPUTS_MAX (MM__TOPIC__COUNT + 1) /* + the dead-letter topic */
/* ------------------------------------------------------------------- log */

void mm__log(const mm_engine_t *e, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define mm__error(e, ...) mm__log(e, 3, __VA_ARGS__)
#define mm__warn(e, ...) mm__log(e, 4, __VA_ARGS__)
#define mm__info(e, ...) mm__log(e, 6, __VA_ARGS__)

/** Something for a worker from another thread (restore, GET /users). */
typedef struct mm__mail_s mm__mail_t;

/* ------------------------------------------------------- partition table */

/**
 * What other threads may know of an assigned partition. The consumer thread
 * fills an entry at assignment and frees it after the revoke completed,
 * under the engine's parts_lock; the owning worker writes the atomics.
 */
typedef struct mm__partition_s {
    bool in_use;
    char topic[256];
    int32_t partition;
    int worker;
    _Atomic int64_t processed; /* worker: next offset to process */
    _Atomic int64_t committed; /* delivery: last committed offset */
    _Atomic bool waiting;      /* worker: parked on the schema registry */
    int64_t end_asked;         /* the metrics: its end as the broker last
                                * answered while it waited (-1 none) */
} mm__partition_t;

/* ----------------------------------------------------------------- tasks */

/** One input partition on its worker. */
typedef struct mm__task_s {
    /* task table (process.c), when the slot opens */
    char topic[256];
    size_t topic_len;
    int32_t partition;
    bool in_use;
    uint8_t generation; /* tells acks for a reused slot apart */
    mm_state_t *state;
    mm_offsets_t *offsets; /* holds: process.c (begin, hold, release) */
    mm__partition_t *pub;  /* borrowed from the partition table */
    /* worker.c */
    bool eof;
    int64_t first_offset; /* of the first record taken, -1 none */
    int64_t seen;        /* after the last record taken (processed or not) */
    int64_t processed;   /* after the last record processed, -1 none */
    int64_t resume_at;   /* after a seek: skip records until this one */
    int64_t floor;       /* records below this were processed before a
                            restore: skip them, -1 none */
    rd_kafka_message_t *parked; /* the record waiting for the registry */
    int64_t parked_since_ms;
    /* worker.c: the state is being restored from the changelog; records are
     * dropped meanwhile (they come again) */
    bool restoring;
    int64_t restore_from; /* the first record dropped, -1 none */
    /* process.c: a record to dead-letter when it comes again, -1 none */
    int64_t dead_at;
    mm_err_t dead_err;
    size_t dead_value_max; /* SIZE_MAX: its value whole */
    char dead_reason[256];
    /* delivery_*.c */
    int64_t committed; /* next offset after the last commit, -1 none */
    /* checkpoint.c */
    int64_t marked;    /* the offset of the last checkpoint marker, -1 none */
} mm__task_t;

/* ------------------------------------------------------------- processor */

/** Counters: one writer (the worker), relaxed loads for readers. */
typedef struct mm__counters_s {
    _Atomic uint64_t records_in;
    _Atomic uint64_t moments_out[MM_MOMENT__COUNT];
    _Atomic uint64_t dead_out[MM_ERR__COUNT];
    _Atomic uint64_t acked;
    _Atomic uint64_t late_events;
    _Atomic uint64_t conversions;
    _Atomic uint64_t conversions_attributed[MM_MOMENT__COUNT];
    _Atomic uint64_t profiles_out, snapshots_out, checkpoints;
    _Atomic uint64_t restored_users, restore_ms;
} mm__counters_t;

/** What the record path writes besides moments and dead letters. */
typedef struct mm__outputs_s {
    bool per_type;        /* moments to their type's topic */
    bool profiles;        /* profiles topic, at checkpoints */
    bool conversions;     /* conversions topic */
    bool late;            /* late events copied to the late topic */
    bool changelog;       /* state snapshots, at checkpoints */
    uint32_t conversion_types; /* bit per mm_event_type_t */
    int64_t attribution_window_ms;
    uint32_t attribution_max;
    bool flag_late;       /* flag late events (lateness_ms) on their moments */
    int64_t lateness_ms;
} mm__outputs_t;

#define MM_COUNTER_ADD(counter, n)                                              \
    atomic_store_explicit(&(counter),                                          \
                          atomic_load_explicit(&(counter), memory_order_relaxed) + (n), \
                          memory_order_relaxed)
#define MM_COUNTER_GET(counter) atomic_load_explicit(&(counter), memory_order_relaxed)

/** The record path of one worker (or of `classify`): decode, classify,
 * encode, write; the tasks and their offsets. @locality one thread. */
typedef struct mm__proc_s mm__proc_t;

mm__proc_t *mm__proc_new(const mm_engine_conf_t *conf, const mm_rules_t *rules,
                         char *errstr, size_t errstr_size);
void mm__proc_destroy(mm__proc_t *proc);
/** @brief Attach @p sink (taken), made with mm__proc_ack and the processor. */
void mm__proc_set_sink(mm__proc_t *proc, mm_sink_t *sink);
mm_sink_t *mm__proc_sink(mm__proc_t *proc);
mm_sink_ack_cb mm__proc_ack;
void mm__proc_set_rules(mm__proc_t *proc, const mm_rules_t *rules);
/** The wall clock for the next records (detected_ts): read once a batch. */
void mm__proc_set_now(mm__proc_t *proc, int64_t now_ms);
/** Exactly-once: refused outputs fail the transaction, not the processor. */
void mm__proc_set_transactional(mm__proc_t *proc, bool transactional);
void mm__proc_set_moment_hook(mm__proc_t *proc, mm_engine_moment_hook *hook, void *ctx);
void mm__proc_set_conversion_hook(mm__proc_t *proc, mm_engine_conversion_hook *hook,
                                  void *ctx);
void mm__proc_set_explain(mm__proc_t *proc, mm_offline_explain_fn *fn, void *ctx);
void mm__proc_set_latency(mm__proc_t *proc, mm_histogram_t *hist);
void mm__proc_set_outputs(mm__proc_t *proc, const mm__outputs_t *outputs);
const mm__outputs_t *mm__proc_outputs(const mm__proc_t *proc);
/** @brief The task in @p slot, if it is still generation @p gen. */
mm__task_t *mm__task_at(mm__proc_t *proc, uint32_t slot, uint8_t gen);
uint32_t mm__task_slot(const mm__proc_t *proc, const mm__task_t *task);

/* ------------------------------------------------------------ checkpoints */

/**
 * Users whose state changed since the last checkpoint, per worker: their
 * ids in an arena (the state keeps only hashes), each with its task. A
 * checkpoint writes each one's profile and state snapshot and empties it.
 */
typedef struct mm__dirty_s {
    uint32_t slot;  /* the task's */
    uint8_t gen;
    uint32_t off;   /* in the arena */
    uint32_t len;
} mm__dirty_t;

/** @brief The dirty users, for the checkpoint (borrowed until the next
 * mm__proc_dirty_reset). */
size_t mm__proc_dirty(mm__proc_t *proc, const mm__dirty_t **entries, const char **arena);
void mm__proc_dirty_reset(mm__proc_t *proc);
/** @brief The arena cannot take one more user: checkpoint before going on. */
bool mm__proc_dirty_full(const mm__proc_t *proc);
/** @brief Write one checkpoint record (not tied to an input record); its
 * acknowledgement is counted by mm__proc_checkpoint_pending. */
mm_err_t mm__proc_write_checkpoint(mm__proc_t *proc, int topic, int32_t partition,
                                   mm_str_t key, const char *payload, size_t len);
size_t mm__proc_checkpoint_pending(const mm__proc_t *proc);
mm__counters_t *mm__proc_counters_mut(mm__proc_t *proc);
/** Lines about refused outputs (rate-limited); NULL: none. */
void mm__proc_set_log(mm__proc_t *proc, mm_engine_log_fn *log, void *ctx);

mm__task_t *mm__task_open(mm__proc_t *proc, const char *topic, int32_t partition);
mm__task_t *mm__task_find(mm__proc_t *proc, const char *topic, int32_t partition);
/** @brief Forget a task: its state and its tracker (late acks are ignored). */
void mm__task_close(mm__proc_t *proc, mm__task_t *task);
mm__task_t *mm__task_next(mm__proc_t *proc, mm__task_t *prev);
/** @brief Records in flight over every task. */
size_t mm__proc_inflight(mm__proc_t *proc);

/**
 * @brief Process one record of @p task.
 * @returns MM_ERR_OK; MM_ERR_FULL when the task's tracker is full (serve
 *          acks, call again); MM_ERR_IO when the schema registry cannot give
 *          the record's schema now (mm__proc_reason says why; nothing was
 *          begun); MM_ERR_KAFKA when an output was refused (exactly-once: the
 *          transaction must abort; at-least-once: the processor failed).
 */
mm_err_t mm__proc_record(mm__proc_t *proc, mm__task_t *task, mm_str_t key, mm_str_t value,
                         int64_t offset, int64_t record_ts);
/** @brief Only decode (is the record's schema available now?). */
mm_err_t mm__proc_try_decode(mm__proc_t *proc, mm_str_t value);
/** @brief Send the record to the dead-letter topic with @p err / @p reason,
 * holding its offset until that is acknowledged. */
mm_err_t mm__proc_dead_letter(mm__proc_t *proc, mm__task_t *task, mm_str_t key,
                              mm_str_t value, int64_t offset, int64_t record_ts,
                              mm_err_t err, const char *reason);
/** @brief When @p task's record at @p offset comes again, send it to the
 * dead-letter topic with @p err and @p reason instead of processing it. */
void mm__task_dead_on_return(mm__task_t *task, int64_t offset, mm_err_t err,
                             const char *reason);
/** @brief Drive the schema registry's requests (no wait). */
void mm__proc_poll_registry(mm__proc_t *proc);
/** @brief A registry request is under way; wait for it (offline only). */
bool mm__proc_registry_busy(const mm__proc_t *proc);
void mm__proc_wait_registry(mm__proc_t *proc, int timeout_ms);

const char *mm__proc_reason(const mm__proc_t *proc);
/** @brief True once an output failed in a way that must stop the run. */
bool mm__proc_failed(const mm__proc_t *proc, const char **why);
const mm__counters_t *mm__proc_counters(const mm__proc_t *proc);
/** @brief Outputs the destination refused as records since the last call
 * (exactly-once: the transaction must abort). */
bool mm__proc_take_refusal(mm__proc_t *proc);

/* ---------------------------------------------------------------- worker */

typedef struct mm__worker_s mm__worker_t;
typedef struct mm__delivery_ops_s mm__delivery_ops_t;

/** What a worker publishes for the consumer thread and metrics. */
typedef struct mm__worker_gauges_s {
    _Atomic uint64_t processed;     /* records taken from the ring */
    _Atomic uint32_t tasks_open;
    _Atomic uint32_t tasks_settled; /* at EOF with nothing unacknowledged */
    _Atomic uint32_t tasks_waiting; /* parked on the registry */
    _Atomic uint64_t inflight;
    _Atomic uint64_t rules_generation; /* generation of the rules in use */
    _Atomic uint64_t state_users;      /* over the worker's tasks */
    _Atomic uint64_t evicted_cap;
    _Atomic uint64_t expired_ttl;
} mm__worker_gauges_t;

mm__worker_t *mm__worker_new(int id, mm_engine_t *engine, char *errstr, size_t errstr_size);
bool mm__worker_start(mm__worker_t *w);
/**
 * @brief Hand @p rkm (taken) to the worker, waiting for room while its ring
 * is full (the back-pressure from a slow worker). @returns false when the
 * worker has failed (rkm is destroyed). @locality the consumer thread.
 */
bool mm__worker_offer(mm__worker_t *w, rd_kafka_message_t *rkm);
/** @brief Open a task, ordered before the partition's records. */
void mm__worker_assign(mm__worker_t *w, const char *topic, int32_t partition,
                       mm__partition_t *pub);
/** @brief Finish, commit (unless @p lost) and drop the partition's task;
 * returns when done. @locality the consumer thread. */
void mm__worker_revoke(mm__worker_t *w, const char *topic, int32_t partition, bool lost);
void mm__worker_stop(mm__worker_t *w);
/** @brief Drop the outputs its sink holds unsent (their acks come as
 * failures, an open transaction can only abort). @locality any thread. */
void mm__worker_cancel_outputs(mm__worker_t *w);
void mm__worker_join(mm__worker_t *w);
void mm__worker_destroy(mm__worker_t *w);

const mm__worker_gauges_t *mm__worker_gauges(const mm__worker_t *w);
const mm__counters_t *mm__worker_counters(const mm__worker_t *w);
mm_histogram_t *mm__worker_latency(mm__worker_t *w);
size_t mm__worker_outstanding(mm__worker_t *w);
bool mm__worker_failed(const mm__worker_t *w, const char **why);
uint64_t mm__worker_offered(const mm__worker_t *w);

/* --------------------------------------------------------- worker's guts */

struct mm__worker_s {
    int id;
    mm_engine_t *engine;
    const mm_engine_conf_t *conf;
    const mm__delivery_ops_t *delivery;
    pthread_t thread;
    bool started;
    ck_ring_t ring;
    ck_ring_buffer_t *ring_buf;
    uint64_t offered; /* consumer thread only */
    /* The ring's doorbell: the consumer thread sleeps on it while the ring
     * is full, a failed worker while it is empty. Rung only when someone
     * said they sleep, so the record path pays one atomic load a batch. */
    pthread_mutex_t bell_lock;
    pthread_cond_t bell;
    _Atomic bool producer_sleeps;
    _Atomic bool consumer_sleeps;
    mm__proc_t *proc;
    mm_sink_t *sink;
    const mm_rules_t *rules;
    uint64_t rules_generation;
    mm_histogram_t *latency;
    mm__worker_gauges_t gauges;
    uint64_t closed_evicted_cap, closed_expired_ttl; /* of tasks revoked */
    uint32_t n_parked;
    bool stopping;
    _Atomic bool exited; /* the thread is gone: its ring has no consumer */
    _Atomic bool failed;
    char fail_reason[512];
    /* mail from other threads (restores, user queries) */
    pthread_mutex_t mail_lock;
    mm__mail_t *mail;
    _Atomic bool has_mail;
    int64_t last_checkpoint_ms;
    char *ckpt_buf; /* a profile's JSON */
    size_t ckpt_cap;
    /* delivery: at-least-once's last commit, exactly-once's transaction */
    int64_t last_commit_ms;
    bool txn_open;
    bool txn_broken; /* a write was refused: abort and rewind, do not commit */
    int64_t txn_started_ms;
    uint64_t txn_records;
};

/**
 * How a worker makes its output durable and its input offsets committed.
 * Every call runs on the worker's thread.
 */
struct mm__delivery_ops_s {
    const char *name;
    /** Before records are processed (exactly-once: a transaction is open). */
    bool (*begin)(mm__worker_t *w);
    /** After a batch: commit when due. @p idle: nothing arrived. */
    void (*after_batch)(mm__worker_t *w, bool idle);
    /** Before @p task's partition goes: finish and commit its work. */
    void (*release)(mm__worker_t *w, mm__task_t *task);
    /** The worker stops: finish and commit everything (bounded). */
    void (*finish)(mm__worker_t *w);
    /** Nothing is waiting to be committed. */
    bool (*settled)(const mm__worker_t *w);
    /** The checkpoint arena is full: write it now (and at-least-once,
     * commit at that point). */
    void (*checkpoint)(mm__worker_t *w);
};

extern const mm__delivery_ops_t mm__delivery_at_least_once;
extern const mm__delivery_ops_t mm__delivery_exactly_once;

/** @brief Serve acknowledgements until @p task (NULL: every task) has none
 * outstanding or mm.shutdown.timeout.ms passes. @returns true when none. */
bool mm__worker_drain(mm__worker_t *w, mm__task_t *task);
/** @brief Write every dirty user's profile and state snapshot, waiting for
 * the snapshots' acknowledgements when @p wait (at-least-once: the commit
 * after it must not pass them). @returns false when it could not (nothing
 * may be committed past the last checkpoint then). */
bool mm__checkpoint(mm__worker_t *w, bool wait);
/** @brief A checkpoint is due (its interval passed, or the arena is full). */
bool mm__checkpoint_needed(const mm__worker_t *w);

/** @brief Post @p mail to @p w (any thread); the worker takes it between
 * batches. */
void mm__worker_post(mm__worker_t *w, mm__mail_t *mail);
/** @brief Ask the worker for a user's profile (GET /users/{id}). */
int mm__worker_user(mm__worker_t *w, const char *topic, int32_t partition, mm_str_t user_id,
                    char *buf, size_t cap, size_t *len, int timeout_ms);

/* ---------------------------------------------------------------- restore */

/** @brief Restore @p topic [@p partition]'s users from the changelog on the
 * restore thread, then hand the state to @p w (a RESTORED mail). */
void mm__restore_request(mm_engine_t *e, mm__worker_t *w, const char *topic,
                         int32_t partition, uint8_t generation);
bool mm__restore_start(mm_engine_t *e, char *errstr, size_t errstr_size);
void mm__restore_stop(mm_engine_t *e);
/** @brief Hand a restored state (or why not) to @p w (restore thread). */
void mm__restore_deliver(mm__worker_t *w, const char *topic, int32_t partition,
                         uint8_t generation, mm_state_t *state, uint64_t users, int64_t ms,
                         int64_t resume, const char *error);

/* A checkpoint marker in the changelog: key "<input topic>\0" (an empty user
 * id, which no event has), value MM__MARKER_TAG then the next input offset
 * to process, big-endian. It follows its checkpoint's snapshots in the
 * partition, so a restore takes the snapshots up to the last marker. */
#define MM__MARKER_TAG 'M'
#define MM__MARKER_LEN 9
/** @brief Take the worker's mail (worker thread, between batches). */
void mm__worker_take_mail(mm__worker_t *w);
/** @brief Answer what is left with 503 and free it (the worker is gone). */
void mm__worker_drop_mail(mm__worker_t *w);
/** @brief Install a restored state (worker thread). */
void mm__worker_restored(mm__worker_t *w, const char *topic, int32_t partition,
                         uint8_t generation, mm_state_t *state, uint64_t users, int64_t ms,
                         int64_t resume, const char *error);

/** @brief Stop the worker for good with a reason (the run exits 1). */
void mm__worker_fail(mm__worker_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** @brief Start @p task again at @p offset with fresh state: the consumer is
 * sought there and records already handed over are skipped until it comes. */
bool mm__worker_rewind(mm__worker_t *w, mm__task_t *task, int64_t offset);
/** @brief Record the offset committed for @p task (the delivery's write). */
void mm__task_committed(mm__task_t *task, int64_t offset);
/** @brief The consumer, for commits and group metadata (thread-safe calls). */
rd_kafka_t *mm__engine_consumer(const mm_engine_t *e);
/** @brief This instance's transactional id prefix (exactly-once). */
const char *mm__engine_txn_prefix(const mm_engine_t *e);

/* ---------------------------------------------------------------- engine */

typedef struct mm__retired_rules_s {
    mm_rules_t *rules;
    uint64_t generation; /* freed once every worker holds this or newer */
    struct mm__retired_rules_s *next;
} mm__retired_rules_t;

struct mm_engine_s {
    mm_engine_conf_t conf;
    rd_kafka_conf_t *kafka;
    mm_engine_hooks_t hooks;
    char bootstrap[512];
    char txn_prefix[400];
    rd_kafka_t *consumer;
    rd_kafka_queue_t *queue; /* the consumer's, for batched takes */
    rd_kafka_message_t *batch[MM_CONSUME_BATCH];
    mm__worker_t *workers[MM_ENGINE_WORKERS_MAX];
    int n_workers;
    /* rules: the current ones and those a worker may still hold */
    _Atomic(const mm_rules_t *) rules;
    _Atomic uint64_t rules_generation;
    pthread_mutex_t rules_lock; /* the retired list; never the record path */
    mm__retired_rules_t *retired;
    /* partitions assigned to this instance */
    pthread_mutex_t parts_lock;
    mm__partition_t parts[MM_PARTITIONS_MAX];
    int assigned; /* consumer thread */
    bool named_partitions;
    /* input topics that do not exist: bit i is input_topic[i] (consumer
     * thread writes, the metrics read) */
    _Atomic uint32_t inputs_missing;
    int64_t missing_logged_ms;
    /* the input topics' partition counts at start (GET /users' owner) */
    int n_input_topics;
    char input_topic[16][256];
    int input_partitions[16];
    /* what is on (auto resolved at start) */
    mm__outputs_t outputs;
    char topic_names[MM__TOPIC__COUNT][256];
    /* the topics written to; exactly-once, the watch thread asks for them
     * (see mm__watch_start) */
    const char *output_name[MM__OUTPUTS_MAX];
    const char *output_role[MM__OUTPUTS_MAX];
    rd_kafka_topic_t *output_rkt[MM__OUTPUTS_MAX];
    int n_outputs;
    pthread_t watch_thread;
    bool watch_started;
    bool watch_stop; /* under watch_lock */
    pthread_mutex_t watch_lock;
    pthread_cond_t watch_cond;
    /* the restore thread */
    pthread_t restore_thread;
    bool restore_started;
    pthread_mutex_t restore_lock;
    pthread_cond_t restore_cond;
    struct mm__restore_job_s *restore_jobs;
    _Atomic bool restore_stop;
    /* the run */
    _Atomic bool stop_requested;
    _Atomic bool end_requested; /* mm__engine_end was called */
    _Atomic bool failing;       /* ... with a code other than 0 */
    pthread_t consumer_thread;
    bool consumer_started;
    pthread_mutex_t end_lock;
    pthread_cond_t end_cond;
    bool ended;
    int exit_code;
    char why[512];
};

/** @brief The consumer thread's main. */
void *mm__consume_main(void *arg);
/** @brief librdkafka's rebalance callback (opaque: the engine). */
/** Marks input topic @p topic missing or there (mm_input_topics_missing). */
void mm__inputs_mark(mm_engine_t *e, const char *topic, bool missing);
/** Clears the marks of missing input topics the cluster now has; a
 * metadata request (bounded) only while some are missing. */
void mm__inputs_recheck(mm_engine_t *e, rd_kafka_t *rk);

void mm__consume_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t *parts, void *opaque);
/** @brief A partition is ours: publish it and open its task on its worker. */
void mm__consume_assigned(mm_engine_t *e, const char *topic, int32_t partition);
/** @brief Stop and join the workers, then close the consumer. */
void mm__consume_shutdown(mm_engine_t *e);
/** @brief The run has ended: wake mm_engine_wait. */
void mm__engine_finished(mm_engine_t *e);
/** @brief End the run with @p code and a reason (first one wins). */
void mm__engine_end(mm_engine_t *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** @brief The run is ending in failure: a worker commits nothing more. */
bool mm__engine_failing(mm_engine_t *e);
/** Exactly-once: a thread asks every second whether each output topic still
 * exists. One that was deleted ends the run with 1, naming it, and cancels
 * what the workers' producers hold: a transaction would otherwise wait out
 * transaction.timeout.ms on it, abort, and try again for ever. Its own
 * thread, because the consumer thread waits while a worker's ring is full,
 * and a worker waits on that very transaction. */
bool mm__watch_start(mm_engine_t *e);
void mm__watch_stop(mm_engine_t *e);
/** @brief The worker that owns a partition: stable for the run. */
mm__worker_t *mm__engine_owner(mm_engine_t *e, const char *topic, int32_t partition);
/** @brief Free the retired rules that no worker holds any more. */
void mm__engine_reap_rules(mm_engine_t *e);
mm__partition_t *mm__partition_add(mm_engine_t *e, const char *topic, int32_t partition);
void mm__partition_remove(mm_engine_t *e, mm__partition_t *p);

#endif
