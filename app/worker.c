/*
 * A worker: takes records from its ring in batches, runs them through its
 * own pipeline (decode, classify, encode, produce), serves its producer's
 * acknowledgements and commits its partitions' acknowledged offsets.
 *
 * Idle cost: when the ring is empty the worker waits in its producer's poll
 * for up to 1 ms, which bounds the added latency and keeps an idle worker
 * off the CPU.
 */
#include "worker_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "run.h"

typedef enum { CONTROL_ASSIGN, CONTROL_REVOKE, CONTROL_STOP } control_kind_t;

typedef struct control_s {
    control_kind_t kind;
    char topic[256];
    int32_t partition;
    bool lost;
    atomic_int done;
} control_t;

/* Ring entries are pointers: records as they are, control items with the
 * low bit set (both are at least 8-byte aligned). */
#define CONTROL_TAG ((uintptr_t)1)

/* ------------------------------------------------------------------ state */

static bool worker_failed(const mm_worker_t *w) {
    return atomic_load(&w->failed) || mm_pipeline_failed(w->pipe, NULL);
}

void mm__worker_fail(mm_worker_t *w, const char *fmt, ...) {
    if (atomic_load(&w->failed))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->fail_reason, sizeof(w->fail_reason), fmt, ap);
    va_end(ap);
    atomic_store(&w->failed, true);
}

bool mm__worker_drain(mm_worker_t *w, mm_task_t *task) {
    mm_sink_t *sink = mm_pipeline_sink(w->pipe);
    int64_t deadline = mm_now_ms() + w->env->cfg->shutdown_timeout_ms;
    for (;;) {
        size_t left = task ? mm_offsets_inflight(task->offsets) : mm_pipeline_inflight(w->pipe);
        if (left == 0)
            return true;
        if (worker_failed(w) || mm_now_ms() > deadline) {
            mm_log_warn("worker %d: %zu records still unacknowledged after %" PRId64
                        " ms; only what was acknowledged is committed",
                        w->id, left, w->env->cfg->shutdown_timeout_ms);
            return false;
        }
        sink->ops->poll(sink->ctx, 20);
    }
}

bool mm__worker_rewind(mm_worker_t *w, mm_task_t *task, int64_t offset) {
    char topic[sizeof(task->topic)];
    int32_t partition = task->partition;
    snprintf(topic, sizeof(topic), "%s", task->topic);
    /* A new task: fresh state, fresh tracker, a new generation so late acks
     * of the aborted outputs are ignored. */
    mm_pipeline_task_close(w->pipe, task);
    task = mm_pipeline_task_open(w->pipe, topic, partition);
    if (!task) {
        mm__worker_fail(w, "no memory to rewind %s [%" PRId32 "]", topic, partition);
        return false;
    }
    task->resume_at = offset;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition)->offset = offset;
    rd_kafka_error_t *error = rd_kafka_seek_partitions(w->env->consumer, list,
                                                       (int)w->env->cfg->shutdown_timeout_ms);
    rd_kafka_topic_partition_list_destroy(list);
    if (error) {
        mm__worker_fail(w, "cannot rewind %s [%" PRId32 "] to offset %" PRId64 ": %s", topic,
                        partition, offset, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return false;
    }
    mm_log_info("worker %d: rewound %s [%" PRId32 "] to offset %" PRId64, w->id, topic,
                partition, offset);
    return true;
}

/* ---------------------------------------------------------------- control */

static void handle_control(mm_worker_t *w, control_t *ctl) {
    switch (ctl->kind) {
    case CONTROL_ASSIGN:
        if (!mm_pipeline_task_open(w->pipe, ctl->topic, ctl->partition))
            mm_log_error("worker %d: no room for the task of %s [%" PRId32 "]", w->id,
                         ctl->topic, ctl->partition);
        free(ctl); /* the consumer thread does not wait for an assign */
        return;
    case CONTROL_REVOKE: {
        mm_task_t *t = mm_pipeline_task_find(w->pipe, ctl->topic, ctl->partition);
        if (t) {
            /* Finish and commit what was done before the partition goes, so
             * the next owner starts right after it. State is dropped: the
             * next owner's windows start empty (see README). */
            if (!ctl->lost)
                w->delivery->release(w, t);
            mm_state_stats_t st;
            mm_state_stats(t->state, &st);
            w->closed_evicted_cap += st.evicted_cap;
            w->closed_expired_ttl += st.expired_ttl;
            mm_pipeline_task_close(w->pipe, t);
        }
        atomic_store(&ctl->done, 1);
        return;
    }
    case CONTROL_STOP:
        w->stopping = true;
        free(ctl);
        return;
    }
}

/* ---------------------------------------------------------------- records */

static void handle_record(mm_worker_t *w, rd_kafka_message_t *rkm) {
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    mm_task_t *task = mm_pipeline_task_find(w->pipe, topic, rkm->partition);
    if (task && task->resume_at >= 0 && (rkm->err || rkm->offset != task->resume_at))
        return; /* fetched before a rewind: it comes again */
    if (task)
        task->resume_at = -1;
    if (rkm->err) {
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (task)
                task->eof = true;
        } else {
            mm_log_warn("consumer: %s", rd_kafka_message_errstr(rkm));
        }
        return;
    }
    if (!task) /* revoked while the record waited in the ring */
        return;
    task->eof = false;
    if (w->txn_broken) {
        /* The open transaction will be aborted: this record is read again
         * after the rewind, which must therefore cover its partition. */
        if (task->txn_base < 0)
            task->txn_base = rkm->offset;
        return;
    }
    mm_str_t key = {rkm->key, rkm->key_len};
    mm_str_t value = {rkm->payload, rkm->len};
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(rkm, &tstype);
    mm_sink_t *sink = mm_pipeline_sink(w->pipe);
    int64_t next_warn = 0;
    for (;;) {
        mm_err_t err = mm_pipeline_process(w->pipe, task, key, value, rkm->offset, ts);
        if (err == MM_ERR_OK) {
            task->next_offset = rkm->offset + 1;
            if (task->txn_base < 0)
                task->txn_base = rkm->offset;
            w->txn_records++;
        }
        if (err == MM_ERR_KAFKA && w->txn_open) {
            if (task->txn_base < 0)
                task->txn_base = rkm->offset;
            w->txn_broken = true;
            return;
        }
        if (err != MM_ERR_FULL && err != MM_ERR_IO)
            return;
        if (worker_failed(w) || (err == MM_ERR_IO && !mm_running))
            return; /* not begun: stays uncommitted, re-read after a restart */
        if (err == MM_ERR_IO && mm_now_ms() >= next_warn) {
            mm_log_warn("worker %d: %s [%" PRId32 "] offset %" PRId64
                        " waits for the schema registry: %s",
                        w->id, task->topic, task->partition, rkm->offset,
                        mm_pipeline_io_reason(w->pipe));
            next_warn = mm_now_ms() + 10000;
        }
        /* Back-pressure (tracker full) or registry outage: serve acks and
         * try the same record again. */
        sink->ops->poll(sink->ctx, err == MM_ERR_FULL ? 10 : 200);
    }
}

static void prefetch(mm_worker_t *w, rd_kafka_message_t *rkm) {
    if (rkm->err || !rkm->key)
        return;
    mm_task_t *task = mm_pipeline_task_find(w->pipe, rd_kafka_topic_name(rkm->rkt),
                                            rkm->partition);
    if (task)
        mm_pipeline_prefetch(w->pipe, task, (mm_str_t){rkm->key, rkm->key_len});
}

/* Runs a batch through the pipeline (in exactly-once mode inside the open
 * transaction). A record the worker could not take stays uncommitted. */
static void process_batch(mm_worker_t *w, rd_kafka_message_t **batch, size_t n) {
    bool ok = n == 0 || w->delivery->begin(w);
    if (n)
        mm_pipeline_set_now(w->pipe, mm_now_ms());
    for (size_t i = 0; i < n; i++) {
        if (ok && i + MM_WORKER_PREFETCH_AHEAD < n)
            prefetch(w, batch[i + MM_WORKER_PREFETCH_AHEAD]);
        if (ok && !worker_failed(w))
            handle_record(w, batch[i]);
        rd_kafka_message_destroy(batch[i]);
    }
    atomic_fetch_add_explicit(&w->gauges.processed, n, memory_order_release);
}

/* Takes up to a batch of records; a control item is handled in its place
 * in the order, after the records before it. @returns records taken. */
static size_t take_batch(mm_worker_t *w) {
    rd_kafka_message_t *batch[MM_WORKER_BATCH];
    size_t n = 0, total = 0;
    void *item;
    while (n < MM_WORKER_BATCH && ck_ring_dequeue_spsc(&w->ring, w->ring_buf, &item)) {
        if ((uintptr_t)item & CONTROL_TAG) {
            process_batch(w, batch, n);
            total += n;
            n = 0;
            handle_control(w, (control_t *)((uintptr_t)item & ~CONTROL_TAG));
            continue;
        }
        batch[n++] = item;
    }
    process_batch(w, batch, n);
    return total + n;
}

static void publish(mm_worker_t *w) {
    uint32_t open = 0, settled = 0;
    uint64_t users = 0, cap = 0, ttl = 0;
    for (mm_task_t *t = mm_pipeline_task_next(w->pipe, NULL); t;
         t = mm_pipeline_task_next(w->pipe, t)) {
        open++;
        if (t->eof && mm_offsets_inflight(t->offsets) == 0 && w->delivery->settled(w))
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
    atomic_store_explicit(&w->gauges.tasks_settled, settled, memory_order_relaxed);
    atomic_store_explicit(&w->gauges.inflight, mm_pipeline_inflight(w->pipe),
                          memory_order_relaxed);
}

/* Between batches: take newer rules if there are, and say which we hold. */
static void quiesce(mm_worker_t *w) {
    uint64_t gen = atomic_load_explicit(&w->env->rules_generation, memory_order_acquire);
    if (gen != w->rules_generation) {
        w->rules = atomic_load_explicit(&w->env->rules, memory_order_acquire);
        w->rules_generation = gen;
        mm_pipeline_set_rules(w->pipe, w->rules);
    }
    atomic_store_explicit(&w->gauges.rules_generation, gen, memory_order_release);
}

static void *worker_run(mm_worker_t *w);

static void *worker_main(void *arg) {
    mm_worker_t *w = arg;
    worker_run(w);
    atomic_store(&w->exited, true);
    return NULL;
}

static void *worker_run(mm_worker_t *w) {
    mm_sink_t *sink = mm_pipeline_sink(w->pipe);
    w->txn_started_ms = mm_now_ms();
    while (!worker_failed(w)) {
        quiesce(w);
        size_t n = take_batch(w);
        sink->ops->poll(sink->ctx, n ? 0 : 1);
        w->delivery->after_batch(w, n == 0);
        publish(w);
        if (w->stopping && n == 0 && ck_ring_size(&w->ring) == 0)
            break;
    }
    const char *why;
    if (mm_pipeline_failed(w->pipe, &why))
        mm__worker_fail(w, "%s", why);
    if (!atomic_load(&w->failed)) {
        w->delivery->finish(w);
        publish(w);
        if (!atomic_load(&w->failed))
            return NULL;
    }
    /* Failed: nothing more is committed. Keep serving controls so that
     * revokes do not wait forever. */
    void *item;
    while (!w->stopping) {
        if (ck_ring_dequeue_spsc(&w->ring, w->ring_buf, &item)) {
            if ((uintptr_t)item & CONTROL_TAG) {
                control_t *ctl = (control_t *)((uintptr_t)item & ~CONTROL_TAG);
                if (ctl->kind == CONTROL_REVOKE)
                    ctl->lost = true;
                handle_control(w, ctl);
            } else {
                rd_kafka_message_destroy(item);
            }
        } else {
            usleep(1000);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------- lifecycle */

mm_worker_t *mm_worker_new(int id, mm_worker_env_t *env, char *errstr,
                           size_t errstr_size) {
    mm_worker_t *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    w->id = id;
    w->env = env;
    w->ring_buf = calloc(MM_WORKER_RING_SIZE, sizeof(ck_ring_buffer_t));
    w->latency = mm_histogram_new();
    if (!w->ring_buf || !w->latency) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    ck_ring_init(&w->ring, MM_WORKER_RING_SIZE);
    w->rules = atomic_load(&env->rules);
    w->rules_generation = atomic_load(&env->rules_generation);
    w->pipe = mm_pipeline_new(env->cfg, w->rules, errstr, errstr_size);
    if (!w->pipe)
        goto fail;
    mm_pipeline_set_histogram(w->pipe, w->latency);
    if (env->on_moment)
        mm_pipeline_set_hook(w->pipe, env->on_moment, env->hook_ctx);
    bool eos = env->cfg->delivery == MM_DELIVERY_EXACTLY_ONCE;
    w->delivery = eos ? &mm__delivery_exactly_once : &mm__delivery_at_least_once;
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(env->cfg->kafka);
    if (eos) {
        char txn_id[300];
        snprintf(txn_id, sizeof(txn_id), "%s-%d", env->cfg->transactional_id, id);
        if (rd_kafka_conf_set(conf, "transactional.id", txn_id, errstr, errstr_size) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            goto fail;
        }
        /* Acknowledgements no longer decide what is committed: the
         * transaction does. */
        mm_pipeline_set_transactional(w->pipe, true);
    }
    mm_sink_t *sink = mm_sink_kafka_new(conf, env->cfg->output_topic, env->cfg->dlq_topic,
                                        mm_pipeline_ack, w->pipe, errstr, errstr_size);
    if (!sink)
        goto fail;
    mm_pipeline_set_sink(w->pipe, sink);
    if (eos) {
        rd_kafka_error_t *error = rd_kafka_init_transactions(
            mm_worker_producer(w), (int)env->cfg->shutdown_timeout_ms);
        if (error) {
            snprintf(errstr, errstr_size, "worker %d: cannot initialise transactions: %s", id,
                     rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            goto fail;
        }
    }
    return w;
fail:
    mm_worker_destroy(w);
    return NULL;
}

bool mm_worker_start(mm_worker_t *w) {
    w->started = pthread_create(&w->thread, NULL, worker_main, w) == 0;
    return w->started;
}

bool mm_worker_offer(mm_worker_t *w, rd_kafka_message_t *rkm) {
    if (!ck_ring_enqueue_spsc(&w->ring, w->ring_buf, rkm))
        return false;
    w->offered++;
    return true;
}

/* Controls are rare: wait for room rather than fail. */
static void enqueue_control(mm_worker_t *w, control_t *ctl) {
    void *item = (void *)((uintptr_t)ctl | CONTROL_TAG);
    while (!ck_ring_enqueue_spsc(&w->ring, w->ring_buf, item))
        usleep(100);
}

static control_t *control_new(control_kind_t kind, const char *topic, int32_t partition) {
    control_t *ctl = calloc(1, sizeof(*ctl));
    if (!ctl)
        return NULL;
    ctl->kind = kind;
    if (topic)
        snprintf(ctl->topic, sizeof(ctl->topic), "%s", topic);
    ctl->partition = partition;
    return ctl;
}

void mm_worker_assign(mm_worker_t *w, const char *topic, int32_t partition) {
    control_t *ctl = control_new(CONTROL_ASSIGN, topic, partition);
    if (ctl)
        enqueue_control(w, ctl);
}

/* Once the thread has exited (it committed on its way out), the caller is
 * the ring's only consumer and serves what is left in it. */
static void serve_ring_after_exit(mm_worker_t *w) {
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

void mm_worker_revoke(mm_worker_t *w, const char *topic, int32_t partition, bool lost) {
    control_t *ctl = control_new(CONTROL_REVOKE, topic, partition);
    if (!ctl)
        return;
    ctl->lost = lost;
    enqueue_control(w, ctl);
    while (!atomic_load(&ctl->done)) {
        if (atomic_load(&w->exited) || !w->started)
            serve_ring_after_exit(w);
        else
            usleep(200);
    }
    free(ctl);
}

void mm_worker_stop(mm_worker_t *w) {
    control_t *ctl = control_new(CONTROL_STOP, NULL, 0);
    if (ctl)
        enqueue_control(w, ctl);
}

void mm_worker_join(mm_worker_t *w) {
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = false;
}

void mm_worker_destroy(mm_worker_t *w) {
    if (!w)
        return;
    mm_worker_join(w);
    void *item;
    while (w->ring_buf && ck_ring_dequeue_spsc(&w->ring, w->ring_buf, &item)) {
        if ((uintptr_t)item & CONTROL_TAG)
            free((void *)((uintptr_t)item & ~CONTROL_TAG));
        else
            rd_kafka_message_destroy(item);
    }
    mm_pipeline_destroy(w->pipe);
    mm_histogram_destroy(w->latency);
    free(w->ring_buf);
    free(w);
}

const mm_worker_gauges_t *mm_worker_gauges(const mm_worker_t *w) { return &w->gauges; }
const mm_pipeline_counters_t *mm_worker_counters(const mm_worker_t *w) {
    return mm_pipeline_counters(w->pipe);
}
mm_histogram_t *mm_worker_latency(mm_worker_t *w) { return w->latency; }
rd_kafka_t *mm_worker_producer(mm_worker_t *w) {
    return mm_sink_kafka_handle(mm_pipeline_sink(w->pipe));
}
uint64_t mm_worker_offered(const mm_worker_t *w) { return w->offered; }

bool mm_worker_failed(const mm_worker_t *w, const char **why) {
    if (why)
        *why = w->fail_reason;
    return atomic_load(&w->failed);
}
