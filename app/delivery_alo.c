/*
 * At-least-once: a partition's offset is committed through the consumer up
 * to the last record whose outputs were all acknowledged (consumer/offsets.c),
 * every mm.commit.interval.ms, before a partition is given up and at stop.
 * A crash re-reads at most what was not committed yet; the moments of those
 * records come again with the same moment_id.
 */
#include <inttypes.h>

#include "log.h"
#include "worker_int.h"

static void commit_offsets(mm_worker_t *w, mm_task_t *only_task, bool sync) {
    rd_kafka_topic_partition_list_t *list = NULL;
    for (mm_task_t *t = mm_pipeline_task_next(w->pipe, NULL); t;
         t = mm_pipeline_task_next(w->pipe, t)) {
        if (only_task && t != only_task)
            continue;
        int64_t off = mm_offsets_committable(t->offsets);
        if (off <= t->committed)
            continue;
        if (!list)
            list = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(list, t->topic, t->partition)->offset = off;
        t->committed = off;
    }
    if (!list)
        return;
    rd_kafka_resp_err_t err = rd_kafka_commit(w->env->consumer, list, sync ? 0 : 1);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        mm_log_warn("worker %d: commit failed (committed again later): %s", w->id,
                    rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(list);
}

static bool alo_begin(mm_worker_t *w) {
    (void)w;
    return true;
}

static void alo_after_batch(mm_worker_t *w, bool idle) {
    (void)idle;
    int64_t now = mm_now_ms();
    if (now - w->txn_started_ms >= w->env->cfg->commit_interval_ms) {
        commit_offsets(w, NULL, false);
        w->txn_started_ms = now; /* reused as "last commit" */
    }
}

static void alo_release(mm_worker_t *w, mm_task_t *task) {
    mm__worker_drain(w, task);
    commit_offsets(w, task, true);
}

static void alo_finish(mm_worker_t *w) {
    mm__worker_drain(w, NULL);
    commit_offsets(w, NULL, true);
}

static bool alo_settled(const mm_worker_t *w) {
    (void)w;
    return true; /* what is acknowledged is committed on the next interval */
}

const mm_delivery_ops_t mm__delivery_at_least_once = {
    .name = "at-least-once",
    .begin = alo_begin,
    .after_batch = alo_after_batch,
    .release = alo_release,
    .finish = alo_finish,
    .settled = alo_settled,
};
