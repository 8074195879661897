/*
 * A worker: takes records from its ring in batches, runs them through its
 * own record path (decode, classify, encode, produce), serves its producer's
 * acknowledgements and makes its output durable (delivery_*.c).
 *
 * Controls (assign, revoke, stop) travel through the same ring as records,
 * so a task exists before its first record and is dropped after its last.
 * The consumer thread waits for a revoke on a semaphore the worker posts.
 *
 * PARKED PARTITIONS. A record whose schema the registry cannot give yet
 * (down, slow, garbage) must not hold up the worker's other partitions. The
 * worker keeps that one record, pauses its partition at the consumer and
 * drops the partition's later records as they come out of the ring (they
 * were not processed; they come again). After each batch it tries the kept
 * record's decode again (the registry request runs in the background); once
 * the schema is there, or a definitive answer, or mm.schema.registry.wait.max.ms
 * has passed (then the record becomes a dead letter when it comes again), it
 * seeks the partition back to the kept record and resumes it. Records
 * handed over before the seek are skipped until the kept offset comes again:
 * the ring is first in, first out, so nothing fetched before the seek can
 * come after it.
 *
 * Idle cost: when the ring is empty the worker waits in its producer's poll
 * for up to 1 ms, which bounds the added latency and keeps an idle worker
 * off the CPU.
 */
#include "engine_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { CONTROL_ASSIGN, CONTROL_REVOKE, CONTROL_STOP } control_kind_t;

typedef struct control_s {
    control_kind_t kind;
    char topic[256];
    int32_t partition;
    bool lost;
    mm__partition_t *pub;
    sem_t done; /* revoke: posted by the worker, waited on by the caller */
} control_t;

/* Ring entries are pointers: records as they are, control items with the
 * low bit set (both are at least 8-byte aligned). */
#define CONTROL_TAG ((uintptr_t)1)

static void pause_partition(mm__worker_t *w, mm__task_t *task, bool pause);
static void start_restore(mm__worker_t *w, mm__task_t *task);

/* ------------------------------------------------------------------ state */

static bool worker_failed(const mm__worker_t *w) {
    return atomic_load(&w->failed) || mm__proc_failed(w->proc, NULL);
}

void mm__worker_fail(mm__worker_t *w, const char *fmt, ...) {
    if (atomic_load(&w->failed))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->fail_reason, sizeof(w->fail_reason), fmt, ap);
    va_end(ap);
    atomic_store(&w->failed, true);
}

void mm__task_committed(mm__task_t *task, int64_t offset) {
    task->committed = offset;
    if (task->pub)
        atomic_store_explicit(&task->pub->committed, offset, memory_order_relaxed);
}

static void set_processed(mm__task_t *task, int64_t next) {
    task->processed = next;
    if (task->pub)
        atomic_store_explicit(&task->pub->processed, next, memory_order_relaxed);
}

bool mm__worker_drain(mm__worker_t *w, mm__task_t *task) {
    int64_t deadline = mm_now_ms() + w->conf->shutdown_timeout_ms;
    for (;;) {
        size_t left = task ? mm_offsets_inflight(task->offsets) : mm__proc_inflight(w->proc);
        if (left == 0)
            return true;
        if (worker_failed(w) || mm_now_ms() > deadline) {
            mm__warn(w->engine,
                     "worker %d: %zu records still unacknowledged after %" PRId64
                     " ms; only what was acknowledged is committed",
                     w->id, left, w->conf->shutdown_timeout_ms);
            return false;
        }
        w->sink->ops->poll(w->sink->ctx, 20);
    }
}

/*
 * A seek is local to the consumer and may be asked again. librdkafka before
 * 2.1.0 (Debian 12 has 2.0.2) reads rd_kafka_seek_partitions' timeout as
 * microseconds (librdkafka #4230): mm.shutdown.timeout.ms is a thousandth of
 * itself there, 30 ms by default, which a busy machine exceeds. A seek that
 * timed out is asked again until our own bound has passed.
 */
static void seek_to(mm__worker_t *w, mm__task_t *task, int64_t offset) {
    int64_t deadline = mm_now_ms() + w->conf->shutdown_timeout_ms;
    rd_kafka_error_t *error;
    for (;;) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, task->topic, task->partition)->offset = offset;
        error = rd_kafka_seek_partitions(mm__engine_consumer(w->engine), list,
                                         (int)w->conf->shutdown_timeout_ms);
        rd_kafka_topic_partition_list_destroy(list);
        if (!error || rd_kafka_error_code(error) != RD_KAFKA_RESP_ERR__TIMED_OUT ||
            mm_now_ms() >= deadline)
            break;
        rd_kafka_error_destroy(error);
    }
    if (error) {
        mm__worker_fail(w, "cannot seek %s [%" PRId32 "] to offset %" PRId64 ": %s",
                        task->topic, task->partition, offset, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return;
    }
    task->resume_at = offset;
}

bool mm__worker_rewind(mm__worker_t *w, mm__task_t *task, int64_t offset) {
    char topic[sizeof(task->topic)];
    int32_t partition = task->partition;
    mm__partition_t *pub = task->pub;
    int64_t committed = task->committed;
    int64_t first_offset = task->first_offset;
    snprintf(topic, sizeof(topic), "%s", task->topic);
    /* A new task: fresh state, fresh tracker, a new generation so late acks
     * of the aborted outputs are ignored. A mark for a record to
     * dead-letter survives: it is why we rewind. */
    int64_t dead_at = task->dead_at;
    mm_err_t dead_err = task->dead_err;
    size_t dead_value_max = task->dead_value_max;
    char dead_reason[sizeof(task->dead_reason)];
    memcpy(dead_reason, task->dead_reason, sizeof(dead_reason));
    if (task->parked) {
        rd_kafka_message_destroy(task->parked);
        w->n_parked--;
    }
    mm__task_close(w->proc, task);
    task = mm__task_open(w->proc, topic, partition);
    if (!task) {
        mm__worker_fail(w, "no memory to rewind %s [%" PRId32 "]", topic, partition);
        return false;
    }
    task->pub = pub;
    task->committed = committed;
    task->first_offset = first_offset;
    task->dead_at = dead_at;
    task->dead_err = dead_err;
    task->dead_value_max = dead_value_max;
    memcpy(task->dead_reason, dead_reason, sizeof(dead_reason));
    if (pub)
        atomic_store(&pub->waiting, false);
    seek_to(w, task, offset);
    if (worker_failed(w))
        return false;
    if (mm__proc_outputs(w->proc)->changelog) {
        /* The state of the last committed transaction, not an empty one. */
        pause_partition(w, task, true);
        start_restore(w, task);
    }
    mm__info(w->engine, "worker %d: rewound %s [%" PRId32 "] to offset %" PRId64, w->id, topic,
             partition, offset);
    return true;
}

/* ----------------------------------------------------------------- parked */

static void pause_partition(mm__worker_t *w, mm__task_t *task, bool pause) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, task->topic, task->partition);
    rd_kafka_t *rk = mm__engine_consumer(w->engine);
    rd_kafka_resp_err_t err =
        pause ? rd_kafka_pause_partitions(rk, list) : rd_kafka_resume_partitions(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err)
        mm__warn(w->engine, "worker %d: cannot %s %s [%" PRId32 "]: %s", w->id,
                 pause ? "pause" : "resume", task->topic, task->partition,
                 rd_kafka_err2str(err));
}

static void park(mm__worker_t *w, mm__task_t *task, rd_kafka_message_t *rkm) {
    task->parked = rkm;
    task->parked_since_ms = mm_now_ms();
    w->n_parked++;
    atomic_store(&task->pub->waiting, true);
    pause_partition(w, task, true);
    mm__warn(w->engine,
             "%s [%" PRId32 "] waits for the schema registry at offset %" PRId64
             " (its other partitions go on): %s",
             task->topic, task->partition, rkm->offset, mm__proc_reason(w->proc));
}

/* The kept record comes again from the broker: seek there and resume. */
static void unpark(mm__worker_t *w, mm__task_t *task, const char *how) {
    rd_kafka_message_t *rkm = task->parked;
    int64_t waited = mm_now_ms() - task->parked_since_ms;
    task->parked = NULL;
    w->n_parked--;
    atomic_store(&task->pub->waiting, false);
    seek_to(w, task, rkm->offset);
    pause_partition(w, task, false);
    mm__info(w->engine,
             "%s [%" PRId32 "] stops waiting for the schema registry after %" PRId64
             " ms at offset %" PRId64 ": %s",
             task->topic, task->partition, waited, rkm->offset, how);
    rd_kafka_message_destroy(rkm);
}

static void retry_parked(mm__worker_t *w) {
    if (w->n_parked == 0)
        return;
    mm__proc_poll_registry(w->proc);
    int64_t now = mm_now_ms();
    for (mm__task_t *t = mm__task_next(w->proc, NULL); t; t = mm__task_next(w->proc, t)) {
        if (!t->parked)
            continue;
        mm_str_t value = {t->parked->payload, t->parked->len};
        mm_err_t err = mm__proc_try_decode(w->proc, value);
        if (err != MM_ERR_IO) {
            unpark(w, t, "the registry answered");
        } else if (w->conf->registry_wait_max_ms > 0 &&
                   now - t->parked_since_ms >= w->conf->registry_wait_max_ms) {
            char reason[256];
            snprintf(reason, sizeof(reason),
                     "no schema after waiting %" PRId64 " ms (mm.schema.registry.wait.max.ms): %s",
                     now - t->parked_since_ms, mm__proc_reason(w->proc));
            mm__task_dead_on_return(t, t->parked->offset, MM_ERR_SCHEMA_UNAVAILABLE, reason);
            unpark(w, t, "the wait bound passed; the record becomes a dead letter");
        }
    }
}

/* --------------------------------------------------------------- restore */

/* The task's state comes from the changelog; its records wait (dropped,
 * they come again) until it is there. */
static void start_restore(mm__worker_t *w, mm__task_t *task) {
    task->restoring = true;
    task->restore_from = -1;
    mm__restore_request(w->engine, w, task->topic, task->partition, task->generation);
}

void mm__worker_restored(mm__worker_t *w, const char *topic, int32_t partition,
                         uint8_t generation, mm_state_t *state, uint64_t users, int64_t ms,
                         int64_t resume, const char *error) {
    mm__task_t *t = mm__task_find(w->proc, topic, partition);
    if (!t || t->generation != generation || !t->restoring) {
        mm_state_destroy(state); /* revoked or rewound since */
        return;
    }
    if (error || !state) {
        mm__worker_fail(w, "cannot restore %s [%" PRId32 "] from the changelog: %s", topic,
                        partition, error ? error : "no state");
        mm_state_destroy(state);
        return;
    }
    mm_state_destroy(t->state);
    t->state = state;
    t->restoring = false;
    mm__counters_t *c = mm__proc_counters_mut(w->proc);
    MM_COUNTER_ADD(c->restored_users, users);
    MM_COUNTER_ADD(c->restore_ms, (uint64_t)ms);
    mm__info(w->engine, "restored %" PRIu64 " users of %s [%" PRId32 "] from the changelog in %"
             PRId64 " ms%s", users, topic, partition, ms, resume >= 0 ? "" : " (no checkpoint yet)");
    /* The state is that of the records before the last marker's offset:
     * start there. A record dropped while restoring (fetched before the
     * pause took hold) is a real offset to seek back to exactly; the floor
     * then skips what the marker says was processed. The marker's offset
     * itself need not be a record (a transaction marker), hence the floor
     * rather than an exact match there. */
    t->marked = resume;
    if (t->restore_from >= 0) {
        seek_to(w, t, t->restore_from);
        t->floor = resume;
    } else if (resume >= 0) {
        seek_to(w, t, resume);
        t->resume_at = -1; /* nothing was fetched: no stale record to skip */
        t->floor = resume;
    }
    pause_partition(w, t, false);
}

/* ---------------------------------------------------------------- control */

static void close_task(mm__worker_t *w, mm__task_t *t) {
    mm_state_stats_t st;
    mm_state_stats(t->state, &st);
    w->closed_evicted_cap += st.evicted_cap;
    w->closed_expired_ttl += st.expired_ttl;
    if (t->parked) {
        rd_kafka_message_destroy(t->parked);
        t->parked = NULL;
        w->n_parked--;
    }
    mm__task_close(w->proc, t);
}

static void handle_control(mm__worker_t *w, control_t *ctl) {
    switch (ctl->kind) {
    case CONTROL_ASSIGN: {
        mm__task_t *t = mm__task_open(w->proc, ctl->topic, ctl->partition);
        if (t) {
            t->pub = ctl->pub;
            if (mm__proc_outputs(w->proc)->changelog)
                start_restore(w, t); /* the consumer thread paused it */
        } else
            mm__worker_fail(w, "no room for the task of %s [%" PRId32 "] (at most %d a worker)",
                            ctl->topic, ctl->partition, MM_TASKS_MAX);
        free(ctl); /* the consumer thread does not wait for an assign */
        return;
    }
    case CONTROL_REVOKE: {
        mm__task_t *t = mm__task_find(w->proc, ctl->topic, ctl->partition);
        if (t) {
            /* Finish and commit what was done before the partition goes, so
             * the next owner starts right after it. */
            if (!ctl->lost && !worker_failed(w))
                w->delivery->release(w, t);
            close_task(w, t);
        }
        sem_post(&ctl->done);
        return;
    }
    case CONTROL_STOP:
        w->stopping = true;
        free(ctl);
        return;
    }
}

/* ---------------------------------------------------------------- records */

static void handle_record(mm__worker_t *w, rd_kafka_message_t *rkm, bool *keep) {
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    mm__task_t *task = mm__task_find(w->proc, topic, rkm->partition);
    if (!task) /* revoked while the record waited in the ring */
        return;
    if (task->parked)
        return; /* it comes again after the partition resumes */
    if (task->resume_at >= 0 && (rkm->err || rkm->offset != task->resume_at))
        return; /* fetched before a seek: it comes again */
    task->resume_at = -1;
    if (task->floor >= 0 && !rkm->err && rkm->offset < task->floor)
        return; /* processed before the restore's checkpoint */
    if (task->restoring) {
        if (!rkm->err && task->restore_from < 0)
            task->restore_from = rkm->offset;
        return;
    }
    if (rkm->err) {
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            task->eof = true;
        else
            mm__warn(w->engine, "consumer: %s [%" PRId32 "]: %s", topic, rkm->partition,
                     rd_kafka_message_errstr(rkm));
        return;
    }
    task->eof = false;
    if (task->first_offset < 0)
        task->first_offset = rkm->offset;
    /* Nothing processed yet: the lag counts from this record, which may
     * wait (the registry) before it is. */
    if (task->processed < 0 && task->pub)
        atomic_store_explicit(&task->pub->processed, rkm->offset, memory_order_relaxed);
    task->seen = rkm->offset + 1;
    if (w->txn_broken)
        return; /* the transaction aborts and rewinds to before this record */
    mm_str_t key = {rkm->key, rkm->key_len};
    mm_str_t value = {rkm->payload, rkm->len};
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(rkm, &tstype);
    if (mm__proc_dirty_full(w->proc))
        w->delivery->checkpoint(w);
    for (;;) {
        mm_err_t err = mm__proc_record(w->proc, task, key, value, rkm->offset, ts);
        if (err == MM_ERR_OK) {
            set_processed(task, rkm->offset + 1);
            w->txn_records++;
            return;
        }
        if (err == MM_ERR_IO) {
            park(w, task, rkm);
            *keep = true;
            return;
        }
        if (err == MM_ERR_KAFKA && w->txn_open) {
            w->txn_broken = true;
            return;
        }
        if (err != MM_ERR_FULL || worker_failed(w))
            return; /* not begun: stays uncommitted, re-read after a restart */
        /* Back-pressure (tracker full): serve acks and try again. */
        w->sink->ops->poll(w->sink->ctx, 10);
    }
}

static void prefetch(mm__worker_t *w, rd_kafka_message_t *rkm) {
    if (rkm->err || !rkm->key)
        return;
    mm__task_t *task = mm__task_find(w->proc, rd_kafka_topic_name(rkm->rkt), rkm->partition);
    if (task)
        mm_state_prefetch(task->state, (mm_str_t){rkm->key, rkm->key_len});
}

/* Runs a batch through the record path (in exactly-once mode inside the open
 * transaction). A record the worker could not take stays uncommitted. */
static void process_batch(mm__worker_t *w, rd_kafka_message_t **batch, size_t n) {
    bool ok = n == 0 || w->delivery->begin(w);
    if (n)
        mm__proc_set_now(w->proc, mm_now_ms());
    for (size_t i = 0; i < n; i++) {
        if (ok && i + MM_WORKER_PREFETCH_AHEAD < n)
            prefetch(w, batch[i + MM_WORKER_PREFETCH_AHEAD]);
        bool keep = false;
        if (ok && !worker_failed(w))
            handle_record(w, batch[i], &keep);
        if (!keep)
            rd_kafka_message_destroy(batch[i]);
    }
    if (mm__proc_take_refusal(w->proc))
        w->txn_broken = true;
    atomic_fetch_add_explicit(&w->gauges.processed, n, memory_order_release);
}

/* The consumer thread sleeps on the bell while the ring is full. */
static void ring_bell(mm__worker_t *w) {
    atomic_thread_fence(memory_order_seq_cst); /* the dequeue before the flag */
    if (!atomic_load_explicit(&w->producer_sleeps, memory_order_seq_cst))
        return;
    pthread_mutex_lock(&w->bell_lock);
    pthread_cond_broadcast(&w->bell);
    pthread_mutex_unlock(&w->bell_lock);
}

/* Takes up to a batch of records; a control item is handled in its place
 * in the order, after the records before it. @returns items taken. */
static size_t take_batch(mm__worker_t *w) {
    rd_kafka_message_t *batch[MM_ENGINE_BATCH_MAX];
    size_t n = 0, total = 0, max = w->conf->batch_records;
    void *item;
    while (n < max && ck_ring_dequeue_spsc(&w->ring, w->ring_buf, &item)) {
        if ((uintptr_t)item & CONTROL_TAG) {
            process_batch(w, batch, n);
            total += n + 1;
            n = 0;
            handle_control(w, (control_t *)((uintptr_t)item & ~CONTROL_TAG));
            continue;
        }
        batch[n++] = item;
    }
    process_batch(w, batch, n);
    if (total + n)
        ring_bell(w);
    return total + n;
}

static void publish(mm__worker_t *w) {
    uint32_t open = 0, settled = 0;
    uint64_t users = 0, cap = 0, ttl = 0;
    for (mm__task_t *t = mm__task_next(w->proc, NULL); t; t = mm__task_next(w->proc, t)) {
        open++;
        if (t->eof && !t->parked && !t->restoring && t->resume_at < 0 &&
            mm_offsets_inflight(t->offsets) == 0 &&
            w->delivery->settled(w))
            settled++;
        mm_state_stats_t st;
        mm_state_stats(t->state, &st);
        users += st.users;
        cap += st.evicted_cap;
        ttl += st.expired_ttl;
    }
    cap += w->closed_evicted_cap; /* counters never go down */
    ttl += w->closed_expired_ttl;
    atomic_store_explicit(&w->gauges.state_users, users, memory_order_relaxed);
    atomic_store_explicit(&w->gauges.evicted_cap, cap, memory_order_relaxed);
    atomic_store_explicit(&w->gauges.expired_ttl, ttl, memory_order_relaxed);
    atomic_store_explicit(&w->gauges.tasks_open, open, memory_order_relaxed);
    atomic_store_explicit(&w->gauges.tasks_waiting, w->n_parked, memory_order_relaxed);
    atomic_store_explicit(&w->gauges.inflight, mm__proc_inflight(w->proc),
                          memory_order_relaxed);
    /* Last: the consumer thread reads settled after open. */
    atomic_store_explicit(&w->gauges.tasks_settled, settled, memory_order_release);
}

/* Between batches: take newer rules if there are, and say which we hold. */
static void quiesce(mm__worker_t *w) {
    mm_engine_t *e = w->engine;
    uint64_t gen = atomic_load_explicit(&e->rules_generation, memory_order_acquire);
    if (gen != w->rules_generation) {
        w->rules = atomic_load_explicit(&e->rules, memory_order_acquire);
        w->rules_generation = gen;
        mm__proc_set_rules(w->proc, w->rules);
    }
    atomic_store_explicit(&w->gauges.rules_generation, gen, memory_order_release);
}

/* Failed: nothing more is processed or committed, but revokes must not wait
 * for ever. Sleeps on the bell until the consumer thread enqueues. */
static void serve_controls_failed(mm__worker_t *w) {
    void *item;
    while (!w->stopping) {
        if (ck_ring_dequeue_spsc(&w->ring, w->ring_buf, &item)) {
            if ((uintptr_t)item & CONTROL_TAG) {
                control_t *ctl = (control_t *)((uintptr_t)item & ~CONTROL_TAG);
                ctl->lost = true;
                handle_control(w, ctl);
            } else {
                rd_kafka_message_destroy(item);
            }
            ring_bell(w);
            continue;
        }
        pthread_mutex_lock(&w->bell_lock);
        atomic_store_explicit(&w->consumer_sleeps, true, memory_order_seq_cst);
        if (ck_ring_size(&w->ring) == 0)
            pthread_cond_wait(&w->bell, &w->bell_lock);
        atomic_store_explicit(&w->consumer_sleeps, false, memory_order_relaxed);
        pthread_mutex_unlock(&w->bell_lock);
    }
}

static void worker_run(mm__worker_t *w) {
    w->last_commit_ms = mm_now_ms();
    /* A run that is failing (another worker, a deleted output topic) takes
     * nothing more: what a worker holds is read again after a restart. */
    while (!worker_failed(w) && !mm__engine_failing(w->engine)) {
        quiesce(w);
        mm__worker_take_mail(w);
        size_t n = take_batch(w);
        w->sink->ops->poll(w->sink->ctx, n ? 0 : 1);
        retry_parked(w);
        w->delivery->after_batch(w, n == 0);
        publish(w);
        if (w->stopping && n == 0 && ck_ring_size(&w->ring) == 0)
            break;
    }
    const char *why;
    if (mm__proc_failed(w->proc, &why))
        mm__worker_fail(w, "%s", why);
    if (!atomic_load(&w->failed)) {
        w->delivery->finish(w);
        publish(w);
        if (!atomic_load(&w->failed) && w->stopping)
            return;
    }
    serve_controls_failed(w); /* until the stop: revokes still come */
}

static void *worker_main(void *arg) {
    mm__worker_t *w = arg;
    worker_run(w);
    atomic_store(&w->exited, true);
    ring_bell(w);
    return NULL;
}

/* ------------------------------------------------------------- lifecycle */

static void proc_log(int level, const char *line, void *ctx) {
    mm__log(ctx, level, "%s", line);
}

mm__worker_t *mm__worker_new(int id, mm_engine_t *engine, char *errstr, size_t errstr_size) {
    mm__worker_t *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    const mm_engine_conf_t *conf = &engine->conf;
    w->id = id;
    w->engine = engine;
    w->conf = conf;
    pthread_mutex_init(&w->bell_lock, NULL);
    pthread_cond_init(&w->bell, NULL);
    pthread_mutex_init(&w->mail_lock, NULL);
    w->ring_buf = calloc(MM_WORKER_RING_SIZE, sizeof(ck_ring_buffer_t));
    w->latency = mm_histogram_new();
    if (!w->ring_buf || !w->latency) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    ck_ring_init(&w->ring, MM_WORKER_RING_SIZE);
    w->rules = atomic_load(&engine->rules);
    w->rules_generation = atomic_load(&engine->rules_generation);
    w->proc = mm__proc_new(conf, w->rules, errstr, errstr_size);
    if (!w->proc)
        goto fail;
    mm__proc_set_latency(w->proc, w->latency);
    mm__proc_set_log(w->proc, proc_log, engine);
    mm__proc_set_outputs(w->proc, &engine->outputs);
    w->ckpt_cap = 6 * conf->limits.max_field_bytes + 4096;
    if (!(w->ckpt_buf = malloc(w->ckpt_cap))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (engine->hooks.on_moment)
        mm__proc_set_moment_hook(w->proc, engine->hooks.on_moment, engine->hooks.moment_ctx);
    if (engine->hooks.on_conversion)
        mm__proc_set_conversion_hook(w->proc, engine->hooks.on_conversion,
                                     engine->hooks.conversion_ctx);
    bool eos = conf->delivery == MM_DELIVERY_EXACTLY_ONCE;
    w->delivery = eos ? &mm__delivery_exactly_once : &mm__delivery_at_least_once;
    rd_kafka_conf_t *kconf = rd_kafka_conf_dup(engine->kafka);
    if (eos) {
        char txn_id[512];
        snprintf(txn_id, sizeof(txn_id), "%s-%d", mm__engine_txn_prefix(engine), id);
        if (rd_kafka_conf_set(kconf, "transactional.id", txn_id, errstr, errstr_size) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(kconf);
            goto fail;
        }
        /* Acknowledgements no longer decide what is committed: the
         * transaction does. */
        mm__proc_set_transactional(w->proc, true);
    }
    const char *topics[MM__TOPIC__COUNT];
    for (int i = 0; i < MM__TOPIC__COUNT; i++)
        topics[i] = engine->topic_names[i];
    mm_sink_kafka_conf_t sconf = {
        .topics = topics,
        .n_topics = MM__TOPIC__COUNT,
        .dlq_topic = conf->dlq_topic,
        .txn_init_timeout_ms = eos ? (int)conf->startup_timeout_ms : 0,
        .user_keys = conf->kafka_user_keys,
    };
    char why[400];
    w->sink = mm_sink_kafka_new(kconf, &sconf, mm__proc_ack, w->proc, why, sizeof(why));
    if (!w->sink) {
        snprintf(errstr, errstr_size, "worker %d: %s", id, why);
        goto fail;
    }
    mm__proc_set_sink(w->proc, w->sink);
    return w;
fail:
    mm__worker_destroy(w);
    return NULL;
}

bool mm__worker_start(mm__worker_t *w) {
    w->started = pthread_create(&w->thread, NULL, worker_main, w) == 0;
    return w->started;
}

/* Rings the worker when it sleeps (failed, waiting for controls). */
static void wake_consumer_side(mm__worker_t *w) {
    atomic_thread_fence(memory_order_seq_cst); /* the enqueue before the flag */
    if (!atomic_load_explicit(&w->consumer_sleeps, memory_order_seq_cst))
        return;
    pthread_mutex_lock(&w->bell_lock);
    pthread_cond_broadcast(&w->bell);
    pthread_mutex_unlock(&w->bell_lock);
}

/* Waits until the ring has room or the worker is gone. @returns false when
 * the worker has exited (nobody will ever make room). */
static bool wait_for_room(mm__worker_t *w) {
    pthread_mutex_lock(&w->bell_lock);
    atomic_store_explicit(&w->producer_sleeps, true, memory_order_seq_cst);
    while (ck_ring_size(&w->ring) >= MM_WORKER_RING_SIZE - 1 && !atomic_load(&w->exited)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L; /* a missed wake-up costs 100 ms at most */
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->bell, &w->bell_lock, &ts);
    }
    atomic_store_explicit(&w->producer_sleeps, false, memory_order_relaxed);
    pthread_mutex_unlock(&w->bell_lock);
    return !atomic_load(&w->exited);
}

static bool enqueue(mm__worker_t *w, void *item) {
    while (!ck_ring_enqueue_spsc(&w->ring, w->ring_buf, item))
        if (!wait_for_room(w))
            return false;
    wake_consumer_side(w);
    return true;
}

bool mm__worker_offer(mm__worker_t *w, rd_kafka_message_t *rkm) {
    if (atomic_load_explicit(&w->failed, memory_order_relaxed) || !enqueue(w, rkm)) {
        rd_kafka_message_destroy(rkm);
        return false;
    }
    w->offered++;
    return true;
}

static control_t *control_new(control_kind_t kind, const char *topic, int32_t partition) {
    control_t *ctl = calloc(1, sizeof(*ctl));
    if (!ctl)
        return NULL;
    ctl->kind = kind;
    if (topic)
        snprintf(ctl->topic, sizeof(ctl->topic), "%s", topic);
    ctl->partition = partition;
    sem_init(&ctl->done, 0, 0);
    return ctl;
}

static void *control_item(control_t *ctl) { return (void *)((uintptr_t)ctl | CONTROL_TAG); }

void mm__worker_assign(mm__worker_t *w, const char *topic, int32_t partition,
                       mm__partition_t *pub) {
    control_t *ctl = control_new(CONTROL_ASSIGN, topic, partition);
    if (!ctl) {
        mm__worker_fail(w, "out of memory assigning %s [%" PRId32 "]", topic, partition);
        return;
    }
    ctl->pub = pub;
    if (!enqueue(w, control_item(ctl)))
        free(ctl);
}

/* Once the thread has exited, the caller is the ring's only consumer and
 * serves what is left in it. */
static void serve_ring_after_exit(mm__worker_t *w) {
    void *item;
    while (ck_ring_dequeue_spsc(&w->ring, w->ring_buf, &item)) {
        if ((uintptr_t)item & CONTROL_TAG) {
            control_t *ctl = (control_t *)((uintptr_t)item & ~CONTROL_TAG);
            ctl->lost = true; /* what was acknowledged is committed already */
            handle_control(w, ctl);
        } else {
            rd_kafka_message_destroy(item);
        }
    }
}

void mm__worker_revoke(mm__worker_t *w, const char *topic, int32_t partition, bool lost) {
    control_t *ctl = control_new(CONTROL_REVOKE, topic, partition);
    if (!ctl)
        return;
    ctl->lost = lost;
    if (!w->started || !enqueue(w, control_item(ctl))) {
        /* No thread to serve it: do it here. */
        serve_ring_after_exit(w);
        ctl->lost = true;
        handle_control(w, ctl);
    }
    for (;;) {
        /* The worker posts when done; if it exits first, its ring is ours. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (sem_timedwait(&ctl->done, &ts) == 0)
            break;
        if (atomic_load(&w->exited))
            serve_ring_after_exit(w);
    }
    sem_destroy(&ctl->done);
    free(ctl);
}

void mm__worker_stop(mm__worker_t *w) {
    control_t *ctl = control_new(CONTROL_STOP, NULL, 0);
    if (ctl && (!w->started || !enqueue(w, control_item(ctl))))
        free(ctl);
}

void mm__worker_cancel_outputs(mm__worker_t *w) {
    if (w->sink && w->sink->ops->cancel)
        w->sink->ops->cancel(w->sink->ctx);
}

void mm__worker_join(mm__worker_t *w) {
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = false;
}

void mm__worker_destroy(mm__worker_t *w) {
    if (!w)
        return;
    mm__worker_join(w);
    void *item;
    while (w->ring_buf && ck_ring_dequeue_spsc(&w->ring, w->ring_buf, &item)) {
        if ((uintptr_t)item & CONTROL_TAG) {
            control_t *ctl = (control_t *)((uintptr_t)item & ~CONTROL_TAG);
            if (ctl->kind == CONTROL_REVOKE)
                sem_post(&ctl->done); /* its caller frees it */
            else
                free(ctl);
        } else {
            rd_kafka_message_destroy(item);
        }
    }
    for (mm__task_t *t = w->proc ? mm__task_next(w->proc, NULL) : NULL; t;
         t = mm__task_next(w->proc, t))
        if (t->parked) {
            rd_kafka_message_destroy(t->parked);
            t->parked = NULL;
        }
    mm__proc_destroy(w->proc); /* and the sink with it */
    if (!w->proc)
        mm_sink_destroy(w->sink);
    mm_histogram_destroy(w->latency);
    free(w->ring_buf);
    free(w->ckpt_buf);
    mm__worker_drop_mail(w);
    pthread_mutex_destroy(&w->mail_lock);
    pthread_mutex_destroy(&w->bell_lock);
    pthread_cond_destroy(&w->bell);
    free(w);
}

const mm__worker_gauges_t *mm__worker_gauges(const mm__worker_t *w) { return &w->gauges; }
const mm__counters_t *mm__worker_counters(const mm__worker_t *w) {
    return mm__proc_counters(w->proc);
}
mm_histogram_t *mm__worker_latency(mm__worker_t *w) { return w->latency; }
size_t mm__worker_outstanding(mm__worker_t *w) { return w->sink->ops->outstanding(w->sink->ctx); }
uint64_t mm__worker_offered(const mm__worker_t *w) { return w->offered; }

bool mm__worker_failed(const mm__worker_t *w, const char **why) {
    if (why)
        *why = w->fail_reason;
    return atomic_load(&w->failed);
}
