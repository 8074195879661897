/*
 * Restoring a task's per-user state from the changelog, off the workers.
 *
 * When a partition is assigned (or an exactly-once abort rewinds it), its
 * worker opens the task as "restoring": the partition is paused and any
 * record that arrives meanwhile is dropped (it comes again). The restore
 * thread reads the task's changelog partition from its beginning to its end
 * with a consumer of its own (read_committed, so exactly-once snapshots of
 * aborted transactions are never seen), imports every snapshot of the
 * task's input topic into a fresh table (the newest snapshot of a user wins;
 * a tombstone forgets the user), and mails the table to the worker, which
 * installs it, seeks the partition back to the first dropped record and
 * resumes it. The worker's other partitions go on meanwhile. The restores
 * queued together (an assignment's partitions) share one consumer.
 */
#include "engine_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct mm__restore_job_s {
    struct mm__restore_job_s *next;
    mm__worker_t *worker;
    char topic[256];
    int32_t partition;
    uint8_t generation;
} restore_job_t;

void mm__restore_request(mm_engine_t *e, mm__worker_t *w, const char *topic,
                         int32_t partition, uint8_t generation) {
    restore_job_t *job = calloc(1, sizeof(*job));
    if (!job) {
        mm__worker_fail(w, "out of memory restoring %s [%" PRId32 "]", topic, partition);
        return;
    }
    job->worker = w;
    snprintf(job->topic, sizeof(job->topic), "%s", topic);
    job->partition = partition;
    job->generation = generation;
    pthread_mutex_lock(&e->restore_lock);
    restore_job_t **tail = &e->restore_jobs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = job;
    pthread_cond_signal(&e->restore_cond);
    pthread_mutex_unlock(&e->restore_lock);
}

#define BATCH_MAX 256

/* One restore in a batch: its job, its table, how it went. */
typedef struct pending_s {
    restore_job_t *job;
    mm_state_t *state;
    uint64_t users;
    bool done;
} pending_t;

static void deliver(mm_engine_t *e, pending_t *p, int64_t t0, const char *why) {
    if (why)
        mm_state_destroy(p->state);
    mm__restore_deliver(p->job->worker, p->job->topic, p->job->partition, p->job->generation,
                        why ? NULL : p->state, p->users, mm_now_ms() - t0, why);
    p->state = NULL;
    p->done = true;
    (void)e;
}

/*
 * Restores every job of @p jobs with one consumer: each job's changelog
 * partition is read from its beginning to its end (several input topics may
 * share one: the key's topic prefix tells their users apart), and each job is
 * handed over as soon as its partition is at its end.
 */
static void restore_batch(mm_engine_t *e, pending_t *jobs, size_t n) {
    int64_t t0 = mm_now_ms();
    const char *changelog = e->topic_names[MM__TOPIC_STATE];
    char why[512] = "";
    for (size_t i = 0; i < n; i++)
        if (!(jobs[i].state = mm_state_new(&e->conf.state)))
            snprintf(why, sizeof(why), "out of memory for the restored state");
    rd_kafka_t *rk = NULL;
    if (!*why) {
        rd_kafka_conf_t *conf = rd_kafka_conf_dup(e->kafka);
        char errbuf[256];
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errbuf, sizeof(errbuf));
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", errbuf, sizeof(errbuf));
        rd_kafka_conf_set(conf, "isolation.level", "read_committed", errbuf, sizeof(errbuf));
        rd_kafka_conf_set(conf, "statistics.interval.ms", "0", errbuf, sizeof(errbuf));
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "50", errbuf, sizeof(errbuf));
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errbuf, sizeof(errbuf)))) {
            rd_kafka_conf_destroy(conf);
            snprintf(why, sizeof(why), "restore consumer: %s", errbuf);
        }
    }
    if (rk) {
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new((int)n);
        for (size_t i = 0; i < n; i++)
            if (!rd_kafka_topic_partition_list_find(parts, changelog, jobs[i].job->partition))
                rd_kafka_topic_partition_list_add(parts, changelog, jobs[i].job->partition)
                    ->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        if (err)
            snprintf(why, sizeof(why), "assign %s: %s", changelog, rd_kafka_err2str(err));
    }
    size_t left = n;
    int64_t deadline = mm_now_ms() + e->conf.startup_timeout_ms;
    while (!*why && left > 0) {
        if (atomic_load(&e->restore_stop)) {
            snprintf(why, sizeof(why), "stopped");
            break;
        }
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 200);
        if (!rkm) {
            if (mm_now_ms() > deadline)
                snprintf(why, sizeof(why), "%s did not reach its end within %" PRId64 " ms",
                         changelog, e->conf.startup_timeout_ms);
            continue;
        }
        deadline = mm_now_ms() + e->conf.startup_timeout_ms; /* progress */
        if (rkm->err && rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            snprintf(why, sizeof(why), "reading %s [%" PRId32 "]: %s", changelog,
                     rkm->partition, rd_kafka_message_errstr(rkm));
            rd_kafka_message_destroy(rkm);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            pending_t *p = &jobs[i];
            if (p->done || p->job->partition != rkm->partition)
                continue;
            if (rkm->err) { /* the end: this job's table is complete */
                deliver(e, p, t0, NULL);
                left--;
                continue;
            }
            size_t prefix = strlen(p->job->topic) + 1;
            if (rkm->key_len <= prefix || memcmp(rkm->key, p->job->topic, prefix) != 0)
                continue;
            mm_str_t user = {(const char *)rkm->key + prefix, rkm->key_len - prefix};
            if (!rkm->payload)
                mm_state_forget(p->state, user);
            else if (mm_state_import(p->state, user, rkm->payload, rkm->len))
                p->users++;
        }
        rd_kafka_message_destroy(rkm);
    }
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].done) {
            if (atomic_load(&e->restore_stop))
                mm_state_destroy(jobs[i].state);
            else
                deliver(e, &jobs[i], t0, *why ? why : "restore ended early");
        }
}

static void *restore_main(void *arg) {
    mm_engine_t *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->restore_lock);
        while (!e->restore_jobs && !atomic_load(&e->restore_stop))
            pthread_cond_wait(&e->restore_cond, &e->restore_lock);
        /* Every job queued now, in one batch (an assignment comes at once). */
        pending_t batch[BATCH_MAX];
        size_t n = 0;
        while (e->restore_jobs && n < BATCH_MAX) {
            restore_job_t *job = e->restore_jobs;
            e->restore_jobs = job->next;
            batch[n++] = (pending_t){.job = job};
        }
        bool stop = atomic_load(&e->restore_stop);
        pthread_mutex_unlock(&e->restore_lock);
        if (n && !stop)
            restore_batch(e, batch, n);
        for (size_t i = 0; i < n; i++)
            free(batch[i].job);
        if (stop)
            return NULL;
    }
}

bool mm__restore_start(mm_engine_t *e, char *errstr, size_t errstr_size) {
    if (!e->outputs.changelog)
        return true;
    if (pthread_create(&e->restore_thread, NULL, restore_main, e) != 0) {
        snprintf(errstr, errstr_size, "cannot start the restore thread");
        return false;
    }
    e->restore_started = true;
    return true;
}

void mm__restore_stop(mm_engine_t *e) {
    if (!e->restore_started)
        return;
    pthread_mutex_lock(&e->restore_lock);
    atomic_store(&e->restore_stop, true);
    pthread_cond_signal(&e->restore_cond);
    pthread_mutex_unlock(&e->restore_lock);
    pthread_join(e->restore_thread, NULL);
    e->restore_started = false;
    while (e->restore_jobs) {
        restore_job_t *job = e->restore_jobs;
        e->restore_jobs = job->next;
        free(job);
    }
}
