/*
 * The consumer thread: polls the input, hands each record to the worker that
 * owns its partition, handles rebalances and notices the end of the input.
 *
 * A revocation waits until the owning worker has finished, committed and
 * dropped the partition's task (the worker posts a semaphore), so the next
 * owner starts right after what we delivered (cooperative-sticky or eager).
 * Errors that are not a partition's (a subscribed topic that does not exist)
 * are handled here: an error line, a gauge, and under --exit-on-eof the end
 * of the run.
 */
#include "engine_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- rebalances */

void mm__consume_assigned(mm_engine_t *e, const char *topic, int32_t partition) {
    mm__partition_t *pub = mm__partition_add(e, topic, partition);
    if (!pub) {
        mm__engine_end(e, 1, "more than %d partitions assigned to one instance",
                       MM_PARTITIONS_MAX);
        return;
    }
    mm__worker_t *w = mm__engine_owner(e, topic, partition);
    pub->worker = w->id;
    mm__worker_assign(w, topic, partition, pub);
    e->assigned++;
    mm__inputs_mark(e, topic, false); /* here now, if it was missing */
}

static mm__partition_t *find_partition(mm_engine_t *e, const char *topic, int32_t partition) {
    for (int i = 0; i < MM_PARTITIONS_MAX; i++)
        if (e->parts[i].in_use && e->parts[i].partition == partition &&
            strcmp(e->parts[i].topic, topic) == 0)
            return &e->parts[i];
    return NULL;
}

static void revoked(mm_engine_t *e, const char *topic, int32_t partition, bool lost) {
    mm__worker_revoke(mm__engine_owner(e, topic, partition), topic, partition, lost);
    mm__partition_remove(e, find_partition(e, topic, partition));
    e->assigned--;
}

void mm__consume_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t *parts, void *opaque) {
    mm_engine_t *e = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            const rd_kafka_topic_partition_t *p = &parts->elems[i];
            mm__consume_assigned(e, p->topic, p->partition);
            mm__info(e, "assigned %s [%" PRId32 "]", p->topic, p->partition);
        }
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
        /* A partition we paused before it moved away must not come back
         * paused: the pause belonged to the task that is gone. One that
         * restores its state from the changelog waits paused until then. */
        if (e->outputs.changelog)
            rd_kafka_pause_partitions(rk, parts);
        else
            rd_kafka_resume_partitions(rk, parts);
        /* A missing topic that appeared rebalances the group, whichever
         * member its partitions go to. */
        mm__inputs_recheck(e, rk);
    } else {
        bool lost = rd_kafka_assignment_lost(rk);
        for (int i = 0; i < parts->cnt; i++) {
            const rd_kafka_topic_partition_t *p = &parts->elems[i];
            revoked(e, p->topic, p->partition, lost);
            mm__info(e, "%s %s [%" PRId32 "]", lost ? "lost" : "revoked", p->topic,
                     p->partition);
        }
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, NULL);
    }
    if (error) {
        mm__error(e, "rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (aerr) {
        mm__error(e, "rebalance: %s", rd_kafka_err2str(aerr));
    }
}

/* ------------------------------------------------------------------- loop */

static bool any_failed(mm_engine_t *e, const char **why) {
    for (int i = 0; i < e->n_workers; i++)
        if (mm__worker_failed(e->workers[i], why))
            return true;
    return false;
}

/* Every assigned partition at its end, every record handed over processed,
 * every output acknowledged (and, exactly-once, committed). */
static bool all_done(mm_engine_t *e) {
    uint32_t open = 0, settled = 0;
    for (int i = 0; i < e->n_workers; i++) {
        const mm__worker_gauges_t *g = mm__worker_gauges(e->workers[i]);
        if (atomic_load_explicit(&g->processed, memory_order_acquire) !=
            mm__worker_offered(e->workers[i]))
            return false;
        settled += atomic_load_explicit(&g->tasks_settled, memory_order_acquire);
        open += atomic_load_explicit(&g->tasks_open, memory_order_relaxed);
    }
    return e->assigned > 0 && open == (uint32_t)e->assigned && settled == open;
}

/* An error that is not one partition's: librdkafka tells a subscribed topic
 * that does not exist this way. */
static void consumer_error(mm_engine_t *e, const rd_kafka_message_t *rkm) {
    const char *topic = rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "";
    bool missing = rkm->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                   rkm->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    int64_t now = mm_now_ms();
    if (missing) {
        if (e->conf.exit_on_eof) {
            mm__engine_end(e, 1, "the input topic '%s' does not exist at %s: %s", topic,
                           e->bootstrap, rd_kafka_message_errstr(rkm));
            return;
        }
        mm__inputs_mark(e, topic, true);
    }
    /* Once a minute at most: the same error comes on every metadata refresh. */
    if (now - e->missing_logged_ms >= 60000) {
        mm__error(e, "consumer: %s%s%s", *topic ? topic : "", *topic ? ": " : "",
                  rd_kafka_message_errstr(rkm));
        e->missing_logged_ms = now;
    }
}

static void dispatch(mm_engine_t *e, rd_kafka_message_t *rkm) {
    if (rkm->err && rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
        (!rkm->rkt || rkm->partition < 0)) {
        consumer_error(e, rkm);
        rd_kafka_message_destroy(rkm);
        return;
    }
    if (!rkm->rkt) {
        rd_kafka_message_destroy(rkm);
        return;
    }
    mm__worker_offer(mm__engine_owner(e, rd_kafka_topic_name(rkm->rkt), rkm->partition), rkm);
}

static void run_loop(mm_engine_t *e) {
    const char *why;
    while (!atomic_load(&e->stop_requested)) {
        if (any_failed(e, &why)) {
            mm__engine_end(e, 1, "%s", why);
            return;
        }
        /* Wait for one record, then take what else has arrived in one call
         * (one queue lock for up to a batch; never waits to fill it). */
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(e->consumer, 100);
        if (rkm) {
            dispatch(e, rkm);
            ssize_t n = rd_kafka_consume_batch_queue(e->queue, 0, e->batch, MM_CONSUME_BATCH);
            for (ssize_t i = 0; i < n; i++)
                dispatch(e, e->batch[i]);
        }
        mm__engine_reap_rules(e);
        if (atomic_load(&e->end_requested)) /* found while dispatching */
            return;
        if (e->conf.exit_on_eof && all_done(e)) {
            mm__info(e, "every assigned partition is at its end and acknowledged");
            mm__engine_end(e, 0, "drained");
            return;
        }
    }
    mm__engine_end(e, 0, "stopped");
}

/* Graceful stop: workers finish what they hold (bounded) and commit it, then
 * the consumer leaves the group (revokes find nothing left to do). */
void mm__consume_shutdown(mm_engine_t *e) {
    mm__watch_stop(e);
    for (int i = 0; i < e->n_workers; i++)
        if (e->workers[i])
            mm__worker_stop(e->workers[i]);
    for (int i = 0; i < e->n_workers; i++)
        if (e->workers[i])
            mm__worker_join(e->workers[i]);
    mm__restore_stop(e);
    if (e->consumer)
        rd_kafka_consumer_close(e->consumer);
}

void *mm__consume_main(void *arg) {
    mm_engine_t *e = arg;
    run_loop(e);
    mm__consume_shutdown(e);
    /* A worker that failed while finishing (a commit refused at stop) fails
     * the run too. */
    const char *why;
    if (any_failed(e, &why))
        mm__engine_end(e, 1, "%s", why);
    mm__engine_finished(e);
    return NULL;
}
