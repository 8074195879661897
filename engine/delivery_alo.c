/*
 * At-least-once: a partition's offset is committed through the consumer up
 * to the last record whose outputs were all acknowledged (consumer/offsets.c),
 * every mm.commit.interval.ms, before a partition is given up and at stop.
 * A crash re-reads at most what was not committed yet; the moments of those
 * records come again with the same moment_id.
 *
 * With a changelog, a commit is always a checkpoint's (checkpoint.c): the
 * offsets committed are exactly the ones the state snapshots reflect, for
 * every task of the worker at once.
 */
#include "engine_int.h"

#include <inttypes.h>
#include <time.h>

/*
 * Every interval the acknowledged offset of every task is committed, moved
 * or not: an asynchronous commit can fail without telling this thread, and
 * repeating it is what makes it reach the broker eventually (one small
 * request per interval). Before a partition goes and at stop the commit is
 * synchronous and checked, with a few bounded retries.
 */
static rd_kafka_resp_err_t commit_offsets(mm__worker_t *w, mm__task_t *only_task, bool sync) {
    rd_kafka_topic_partition_list_t *list = NULL;
    for (mm__task_t *t = mm__task_next(w->proc, NULL); t; t = mm__task_next(w->proc, t)) {
        if (only_task && t != only_task)
            continue;
        int64_t off = mm_offsets_committable(t->offsets);
        if (off < 0)
            continue;
        if (!list)
            list = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(list, t->topic, t->partition)->offset = off;
        mm__task_committed(t, off);
    }
    if (!list)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t err = rd_kafka_commit(mm__engine_consumer(w->engine), list, sync ? 0 : 1);
    if (sync && !err) /* the request went through; partitions may still fail */
        for (int i = 0; i < list->cnt && !err; i++)
            err = list->elems[i].err;
    rd_kafka_topic_partition_list_destroy(list);
    return err == RD_KAFKA_RESP_ERR__NO_OFFSET ? RD_KAFKA_RESP_ERR_NO_ERROR : err;
}

/* A coordinator that has just come back (a broker restart, a moved
 * coordinator) answers "loading" or "not coordinator" for seconds: retry those
 * until the shutdown bound, not a fixed count. */
static bool retriable_commit_error(rd_kafka_resp_err_t err) {
    switch (err) {
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
        return true;
    default:
        return false;
    }
}

static void commit_sync(mm__worker_t *w, mm__task_t *only_task) {
    int64_t deadline = mm_now_ms() + w->conf->shutdown_timeout_ms;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int attempt = 1;; attempt++) {
        err = commit_offsets(w, only_task, true);
        if (!err)
            return;
        mm__warn(w->engine, "worker %d: commit failed (attempt %d): %s", w->id, attempt,
                 rd_kafka_err2str(err));
        if (!retriable_commit_error(err) || mm_now_ms() >= deadline)
            break;
        /* A pause before the next attempt: the coordinator needs a moment. */
        struct timespec pause = {0, 250 * 1000000L};
        nanosleep(&pause, NULL);
    }
    mm__error(w->engine,
              "worker %d: could not commit: %s; the records since the last commit "
              "will be read again (their moments keep their moment_id)",
              w->id, rd_kafka_err2str(err));
}

static bool alo_begin(mm__worker_t *w) {
    (void)w;
    return true;
}

static bool checkpointing(const mm__worker_t *w) {
    const mm__outputs_t *out = mm__proc_outputs(w->proc);
    return out->profiles || out->changelog;
}

/* A commit point: the checkpoint first, then every task's offsets. */
static void commit_point(mm__worker_t *w) {
    w->last_commit_ms = mm_now_ms();
    if (checkpointing(w) && !mm__checkpoint(w, true)) {
        mm__warn(w->engine, "worker %d: checkpoint not complete (outputs unacknowledged); "
                            "nothing committed this time", w->id);
        return;
    }
    rd_kafka_resp_err_t err = commit_offsets(w, NULL, false);
    if (err)
        mm__warn(w->engine, "worker %d: commit not sent (sent again next interval): %s", w->id,
                 rd_kafka_err2str(err));
}

static void alo_after_batch(mm__worker_t *w, bool idle) {
    (void)idle;
    if (mm_now_ms() - w->last_commit_ms >= w->conf->commit_interval_ms)
        commit_point(w);
}

static void alo_checkpoint(mm__worker_t *w) { commit_point(w); }

static void alo_release(mm__worker_t *w, mm__task_t *task) {
    if (!checkpointing(w)) {
        mm__worker_drain(w, task);
        commit_sync(w, task);
        return;
    }
    /* Snapshots cover the worker's every task: commit them all. */
    mm__worker_drain(w, NULL);
    if (mm__checkpoint(w, true))
        commit_sync(w, NULL);
}

static void alo_finish(mm__worker_t *w) {
    mm__worker_drain(w, NULL);
    if (!checkpointing(w) || mm__checkpoint(w, true))
        commit_sync(w, NULL);
}

static bool alo_settled(const mm__worker_t *w) {
    (void)w;
    return true; /* what is acknowledged is committed on the next interval */
}

const mm__delivery_ops_t mm__delivery_at_least_once = {
    .name = "at-least-once",
    .begin = alo_begin,
    .after_batch = alo_after_batch,
    .release = alo_release,
    .finish = alo_finish,
    .settled = alo_settled,
    .checkpoint = alo_checkpoint,
};
