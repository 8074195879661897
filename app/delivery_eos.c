/*
 * Exactly-once: consume-transform-produce in Kafka transactions.
 *
 * Each worker has its own transactional producer (transactional.id
 * "<mm.transactional.id>-<worker>") and at most one open transaction. The
 * moments and dead letters of the records it processes, and the offsets
 * after those records (sent with the consumer's group metadata, so a
 * rebalance fences a zombie), commit together or not at all. A transaction
 * commits when it is mm.txn.interval.ms old or holds mm.txn.max.records
 * records, when a partition is revoked, at EOF with nothing more to do and
 * at stop. Longer transactions cost fewer commits (throughput) and delay
 * what read_committed readers see (latency): 1 s and 10 000 records keep the
 * added latency near a second and the commit overhead per record small.
 *
 * Failures: a retriable error retries the call; an abortable one aborts the
 * transaction and rewinds every partition it touched to where the last
 * committed transaction left it (the per-user state of those partitions
 * restarts empty, as after a rebalance); a fatal one (fenced by another
 * instance with the same transactional id, for example) stops the worker
 * and the process exits 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "worker_int.h"

#define TXN_RETRIES 5

static int txn_timeout_ms(const mm_worker_t *w) {
    return (int)w->env->cfg->shutdown_timeout_ms;
}

/* While stopping, one attempt each: shutdown is bounded. */
static int retries(const mm_worker_t *w) { return w->stopping ? 0 : TXN_RETRIES; }

/* Fatal errors end the worker; the message says why in an operator's words. */
static void fatal(mm_worker_t *w, const char *what, const rd_kafka_error_t *error) {
    rd_kafka_resp_err_t code = rd_kafka_error_code(error);
    bool fenced = code == RD_KAFKA_RESP_ERR__FENCED ||
                  code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
                  code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
    if (fenced)
        mm__worker_fail(w, "%s: this instance was fenced: another instance uses "
                           "transactional id '%s-%d' (%s)",
                        what, w->env->cfg->transactional_id, w->id,
                        rd_kafka_error_string(error));
    else
        mm__worker_fail(w, "%s: fatal transaction error: %s", what,
                        rd_kafka_error_string(error));
}

static void abort_and_rewind(mm_worker_t *w, const char *reason) {
    rd_kafka_t *rk = mm_worker_producer(w);
    mm_log_warn("worker %d: transaction aborted: %s; rewinding to the last committed "
                "offsets",
                w->id, reason);
    for (int attempt = 0;; attempt++) {
        rd_kafka_error_t *error = rd_kafka_abort_transaction(rk, txn_timeout_ms(w));
        if (!error)
            break;
        bool retry = rd_kafka_error_is_retriable(error) && attempt < retries(w);
        if (!retry) {
            fatal(w, "abort", error);
            rd_kafka_error_destroy(error);
            return;
        }
        rd_kafka_error_destroy(error);
    }
    w->txn_open = false;
    w->txn_broken = false;
    for (mm_task_t *t = mm_pipeline_task_next(w->pipe, NULL); t;
         t = mm_pipeline_task_next(w->pipe, t))
        if (t->txn_base >= 0)
            mm__worker_rewind(w, t, t->txn_base);
}

static rd_kafka_topic_partition_list_t *txn_offsets(mm_worker_t *w) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    for (mm_task_t *t = mm_pipeline_task_next(w->pipe, NULL); t;
         t = mm_pipeline_task_next(w->pipe, t))
        if (t->txn_base >= 0)
            rd_kafka_topic_partition_list_add(list, t->topic, t->partition)->offset =
                t->next_offset;
    return list;
}

/* Sends the offsets and commits; @returns NULL or the error that stopped it. */
static rd_kafka_error_t *send_and_commit(mm_worker_t *w) {
    rd_kafka_t *rk = mm_worker_producer(w);
    rd_kafka_topic_partition_list_t *offsets = txn_offsets(w);
    rd_kafka_error_t *error = NULL;
    for (int attempt = 0; attempt <= TXN_RETRIES; attempt++) {
        if (error)
            rd_kafka_error_destroy(error);
        error = NULL;
        if (offsets->cnt > 0) {
            rd_kafka_consumer_group_metadata_t *cgmd =
                rd_kafka_consumer_group_metadata(w->env->consumer);
            error = rd_kafka_send_offsets_to_transaction(rk, offsets, cgmd,
                                                         txn_timeout_ms(w));
            rd_kafka_consumer_group_metadata_destroy(cgmd);
        }
        if (!error)
            error = rd_kafka_commit_transaction(rk, txn_timeout_ms(w));
        if (!error || !rd_kafka_error_is_retriable(error) || attempt >= retries(w))
            break;
    }
    rd_kafka_topic_partition_list_destroy(offsets);
    return error;
}

/* @returns true when the transaction committed (or none was open). */
static bool commit(mm_worker_t *w) {
    if (!w->txn_open)
        return true;
    if (w->txn_broken) {
        abort_and_rewind(w, "an output of the transaction was refused");
        return false;
    }
    rd_kafka_error_t *error = send_and_commit(w);
    if (error) {
        char reason[512];
        snprintf(reason, sizeof(reason), "%s", rd_kafka_error_string(error));
        if (rd_kafka_error_txn_requires_abort(error))
            abort_and_rewind(w, reason);
        else
            fatal(w, "commit", error);
        rd_kafka_error_destroy(error);
        return false;
    }
    w->txn_open = false;
    for (mm_task_t *t = mm_pipeline_task_next(w->pipe, NULL); t;
         t = mm_pipeline_task_next(w->pipe, t)) {
        if (t->txn_base >= 0)
            t->committed = t->next_offset;
        t->txn_base = -1;
    }
    return true;
}

static bool eos_begin(mm_worker_t *w) {
    if (w->txn_open)
        return true;
    rd_kafka_error_t *error = rd_kafka_begin_transaction(mm_worker_producer(w));
    if (error) {
        fatal(w, "begin", error);
        rd_kafka_error_destroy(error);
        return false;
    }
    w->txn_open = true;
    w->txn_started_ms = mm_now_ms();
    w->txn_records = 0;
    return true;
}

static bool all_at_end(mm_worker_t *w) {
    for (mm_task_t *t = mm_pipeline_task_next(w->pipe, NULL); t;
         t = mm_pipeline_task_next(w->pipe, t))
        if (!t->eof)
            return false;
    return true;
}

static void eos_after_batch(mm_worker_t *w, bool idle) {
    rd_kafka_t *rk = mm_worker_producer(w);
    char errstr[512];
    rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, errstr, sizeof(errstr));
    if (ferr) {
        rd_kafka_error_t *error = rd_kafka_error_new(ferr, "%s", errstr);
        fatal(w, "producer", error);
        rd_kafka_error_destroy(error);
        return;
    }
    if (!w->txn_open)
        return;
    const mm_config_t *cfg = w->env->cfg;
    if (w->txn_broken || mm_now_ms() - w->txn_started_ms >= cfg->txn_interval_ms ||
        w->txn_records >= (uint64_t)cfg->txn_max_records || (idle && all_at_end(w)))
        commit(w);
}

static void eos_release(mm_worker_t *w, mm_task_t *task) {
    (void)task; /* one transaction covers every partition of the worker */
    commit(w);
}

static void eos_finish(mm_worker_t *w) {
    if (!commit(w) && w->txn_open)
        abort_and_rewind(w, "stopping");
}

static bool eos_settled(const mm_worker_t *w) { return !w->txn_open; }

const mm_delivery_ops_t mm__delivery_exactly_once = {
    .name = "exactly-once",
    .begin = eos_begin,
    .after_batch = eos_after_batch,
    .release = eos_release,
    .finish = eos_finish,
    .settled = eos_settled,
};
