/*
 * Exactly-once: consume-transform-produce in Kafka transactions.
 *
 * Each worker has its own transactional producer and at most one open
 * transaction. Its transactional id is "<prefix>-<worker>", the prefix unique
 * to this instance (engine.c): ids need only be unique per live producer,
 * because the consumer group's generation, sent with the offsets, is what
 * fences a zombie (KIP-447). The moments and dead letters of the records a
 * worker processes, and the offsets after those records, commit together or
 * not at all. A transaction commits when it is mm.txn.interval.ms old or
 * holds mm.txn.max.records records, when a partition is revoked, at EOF with
 * nothing more to do and at stop. Longer transactions cost fewer commits
 * (throughput) and delay what read_committed readers see (latency).
 *
 * Failures: a retriable error retries the call; an abortable one aborts the
 * transaction and rewinds every partition it touched to where the last
 * committed transaction left it (the per-user state of those partitions
 * restarts empty, as after a rebalance); a fatal one (fenced) stops the
 * worker and the run exits 1. An output refused for what it is marks its
 * record (process.c) before the abort, so the rewind does not loop on it.
 */
#include "engine_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define TXN_RETRIES 5

static int txn_timeout_ms(const mm__worker_t *w) { return (int)w->conf->shutdown_timeout_ms; }

/* While stopping, one attempt each: shutdown is bounded. */
static int retries(const mm__worker_t *w) { return w->stopping ? 0 : TXN_RETRIES; }

static void fatal(mm__worker_t *w, const char *what, mm_txn_res_t res, const char *errstr) {
    if (res == MM_TXN_FENCED)
        mm__worker_fail(w,
                        "%s: this instance was fenced: another producer took over "
                        "transactional id '%s-%d' (%s)",
                        what, mm__engine_txn_prefix(w->engine), w->id, errstr);
    else
        mm__worker_fail(w, "%s: fatal transaction error: %s", what, errstr);
}

/* Where a task's partition starts again after an abort: after its last
 * committed transaction, or at the first record this run took. @returns -1
 * when it took nothing since. */
static int64_t rewind_target(const mm__task_t *t) {
    int64_t base = t->committed >= 0 ? t->committed : t->first_offset;
    return base >= 0 && t->seen > base ? base : -1;
}

static void abort_and_rewind(mm__worker_t *w, const char *reason) {
    mm__warn(w->engine,
             "worker %d: transaction aborted: %s; rewinding to the last committed offsets",
             w->id, reason);
    char errstr[512];
    for (int attempt = 0;; attempt++) {
        mm_txn_res_t res =
            w->sink->ops->txn_abort(w->sink->ctx, txn_timeout_ms(w), errstr, sizeof(errstr));
        if (res == MM_TXN_OK)
            break;
        if (res != MM_TXN_RETRY || attempt >= retries(w)) {
            fatal(w, "abort", res, errstr);
            return;
        }
    }
    w->txn_open = false;
    w->txn_broken = false;
    mm__proc_dirty_reset(w->proc); /* their changes are rolled back with the tasks */
    for (mm__task_t *t = mm__task_next(w->proc, NULL); t; t = mm__task_next(w->proc, t)) {
        int64_t target = rewind_target(t);
        if (target >= 0 && !mm__worker_rewind(w, t, target))
            return;
    }
}

/* @returns true when the transaction committed (or none was open). */
static bool commit(mm__worker_t *w) {
    if (!w->txn_open)
        return true;
    if (w->txn_broken) {
        abort_and_rewind(w, "an output of the transaction was refused");
        return false;
    }
    if (mm__proc_failed(w->proc, NULL))
        return false; /* an output cannot be written at all: nothing to commit */
    /* Profiles and state snapshots go in the transaction that commits the
     * offsets they reflect. */
    if (!mm__checkpoint(w, false))
        return false;
    mm_txn_offset_t offsets[MM_TASKS_MAX];
    size_t n = 0;
    for (mm__task_t *t = mm__task_next(w->proc, NULL); t; t = mm__task_next(w->proc, t))
        if (t->processed >= 0 && t->processed != t->committed)
            offsets[n++] = (mm_txn_offset_t){t->topic, t->partition, t->processed};
    char errstr[512];
    mm_txn_res_t res = MM_TXN_OK;
    for (int attempt = 0; attempt <= TXN_RETRIES; attempt++) {
        rd_kafka_consumer_group_metadata_t *cgmd =
            rd_kafka_consumer_group_metadata(mm__engine_consumer(w->engine));
        res = w->sink->ops->txn_commit(w->sink->ctx, offsets, n, cgmd, txn_timeout_ms(w),
                                       errstr, sizeof(errstr));
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        if (res != MM_TXN_RETRY || attempt >= retries(w))
            break;
    }
    if (res == MM_TXN_ABORT || (res == MM_TXN_RETRY && !w->stopping)) {
        abort_and_rewind(w, errstr);
        return false;
    }
    if (res != MM_TXN_OK) {
        fatal(w, "commit", res, errstr);
        return false;
    }
    w->txn_open = false;
    for (mm__task_t *t = mm__task_next(w->proc, NULL); t; t = mm__task_next(w->proc, t))
        if (t->processed >= 0)
            mm__task_committed(t, t->processed);
    return true;
}

static bool eos_begin(mm__worker_t *w) {
    if (w->txn_open)
        return true;
    char errstr[512];
    mm_txn_res_t res = w->sink->ops->txn_begin(w->sink->ctx, errstr, sizeof(errstr));
    if (res != MM_TXN_OK) {
        fatal(w, "begin", res, errstr);
        return false;
    }
    w->txn_open = true;
    w->txn_started_ms = mm_now_ms();
    w->txn_records = 0;
    return true;
}

static bool all_at_end(mm__worker_t *w) {
    for (mm__task_t *t = mm__task_next(w->proc, NULL); t; t = mm__task_next(w->proc, t))
        if (!t->eof)
            return false;
    return true;
}

static void eos_after_batch(mm__worker_t *w, bool idle) {
    char errstr[512];
    if (w->sink->ops->fatal(w->sink->ctx, errstr, sizeof(errstr))) {
        fatal(w, "producer", strstr(errstr, "fenced") ? MM_TXN_FENCED : MM_TXN_FATAL, errstr);
        return;
    }
    if (!w->txn_open)
        return;
    const mm_engine_conf_t *conf = w->conf;
    if (w->txn_broken || mm_now_ms() - w->txn_started_ms >= conf->txn_interval_ms ||
        w->txn_records >= (uint64_t)conf->txn_max_records || (idle && all_at_end(w)))
        commit(w);
}

static void eos_release(mm__worker_t *w, mm__task_t *task) {
    (void)task; /* one transaction covers every partition of the worker */
    commit(w);
}

static void eos_finish(mm__worker_t *w) {
    if (w->txn_open && mm__engine_failing(w->engine)) {
        /* What the run failed on (a deleted output topic) may be in this
         * transaction: a commit would wait it out; its records are read
         * again after a restart. */
        abort_and_rewind(w, "the run is failing");
        return;
    }
    if (!commit(w) && w->txn_open)
        abort_and_rewind(w, "stopping");
}

static bool eos_settled(const mm__worker_t *w) { return !w->txn_open; }

/* The arena is full mid-transaction: write what it holds into the open
 * transaction (a user changed again is listed again for the commit's). */
static void eos_checkpoint(mm__worker_t *w) {
    if (w->txn_open)
        mm__checkpoint(w, false);
}

const mm__delivery_ops_t mm__delivery_exactly_once = {
    .name = "exactly-once",
    .begin = eos_begin,
    .after_batch = eos_after_batch,
    .release = eos_release,
    .finish = eos_finish,
    .settled = eos_settled,
    .checkpoint = eos_checkpoint,
};
