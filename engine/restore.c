/*
 * Restoring a task's per-user state from the changelog, off the workers.
 *
 * When a partition is assigned (or an exactly-once abort rewinds it), its
 * worker opens the task as "restoring": the partition is paused and any
 * record that arrives meanwhile is dropped (it comes again). The restore
 * thread reads the task's changelog partition from its beginning to its end
 * with a consumer of its own (read_committed, so exactly-once snapshots of
 * aborted transactions are never seen), imports the snapshots of the task's
 * input topic into a fresh table up to the last checkpoint marker (the newest
 * snapshot of a user wins; a tombstone forgets the user; what follows the
 * last marker is a checkpoint a crash cut short, and is left out), and mails
 * the table and the marker's offset to the worker, which installs the table
 * and resumes the partition at that offset (checkpoint.c says why that is
 * exact). The worker's other partitions go on meanwhile. The restores
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

/* One restore in a batch: its job, its table, how it went. Snapshots after
 * the last checkpoint marker wait in `held` (the marker may never come: a
 * crash cut that checkpoint short); a marker applies them. */
typedef struct pending_s {
    restore_job_t *job;
    mm_state_t *state;
    uint64_t users;
    int64_t resume; /* the last marker's offset, -1 none */
    bool done;
    char *held;     /* [u32 user len][user][u32 len][bytes or none: 0xFFFFFFFF] ... */
    size_t held_len, held_cap;
} pending_t;

static bool hold(pending_t *p, mm_str_t user, const void *bytes, size_t len) {
    size_t need = 8 + user.len + (bytes ? len : 0);
    if (p->held_len + need > p->held_cap) {
        size_t cap = p->held_cap ? p->held_cap * 2 : 1 << 20;
        while (cap < p->held_len + need)
            cap *= 2;
        char *grown = realloc(p->held, cap);
        if (!grown)
            return false;
        p->held = grown;
        p->held_cap = cap;
    }
    uint32_t ulen = (uint32_t)user.len, blen = bytes ? (uint32_t)len : UINT32_MAX;
    memcpy(p->held + p->held_len, &ulen, 4);
    memcpy(p->held + p->held_len + 4, user.p, user.len);
    memcpy(p->held + p->held_len + 4 + user.len, &blen, 4);
    if (bytes)
        memcpy(p->held + p->held_len + 8 + user.len, bytes, len);
    p->held_len += need;
    return true;
}

/* A marker: what was held is part of a whole checkpoint. */
static void apply_held(pending_t *p) {
    size_t at = 0;
    while (at < p->held_len) {
        uint32_t ulen, blen;
        memcpy(&ulen, p->held + at, 4);
        mm_str_t user = {p->held + at + 4, ulen};
        memcpy(&blen, p->held + at + 4 + ulen, 4);
        const char *bytes = p->held + at + 8 + ulen;
        if (blen == UINT32_MAX) {
            mm_state_forget(p->state, user);
            blen = 0;
        } else if (mm_state_import(p->state, user, bytes, blen)) {
            p->users++;
        }
        at += 8 + ulen + blen;
    }
    p->held_len = 0;
}

static int64_t marker_offset(const unsigned char *v) {
    uint64_t o = 0;
    for (int i = 0; i < 8; i++)
        o = o << 8 | v[1 + i];
    return (int64_t)o;
}

static void deliver(mm_engine_t *e, pending_t *p, int64_t t0, const char *why) {
    if (why)
        mm_state_destroy(p->state);
    mm__restore_deliver(p->job->worker, p->job->topic, p->job->partition, p->job->generation,
                        why ? NULL : p->state, p->users, mm_now_ms() - t0, p->resume, why);
    free(p->held);
    p->held = NULL;
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
            if (rkm->key_len < prefix || memcmp(rkm->key, p->job->topic, prefix) != 0)
                continue;
            if (rkm->key_len == prefix) { /* this topic's checkpoint marker */
                if (rkm->len == MM__MARKER_LEN &&
                    ((const char *)rkm->payload)[0] == MM__MARKER_TAG) {
                    apply_held(p);
                    p->resume = marker_offset(rkm->payload);
                }
                continue;
            }
            mm_str_t user = {(const char *)rkm->key + prefix, rkm->key_len - prefix};
            if (!hold(p, user, rkm->payload, rkm->len))
                snprintf(why, sizeof(why), "out of memory reading %s", changelog);
        }
        rd_kafka_message_destroy(rkm);
    }
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].done) {
            if (atomic_load(&e->restore_stop)) {
                mm_state_destroy(jobs[i].state);
                free(jobs[i].held);
            } else {
                deliver(e, &jobs[i], t0, *why ? why : "restore ended early");
            }
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
            batch[n++] = (pending_t){.job = job, .resume = -1};
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
