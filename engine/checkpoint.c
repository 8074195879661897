/*
 * Checkpoints: what a worker writes besides the outputs of single records,
 * and the mail other threads leave it.
 *
 * A CHECKPOINT writes, for every user whose state changed since the last
 * one, the user's profile (the profiles topic, keyed by user_id: at most one
 * per user per checkpoint, so updates are coalesced) and a snapshot of the
 * user's detector state (the changelog topic, key "<input topic>\0<user_id>",
 * to the partition of the user's input partition, so a task restores from one
 * changelog partition). A user that left the table (expired, evicted) gets a
 * tombstone, so a restore does not bring it back.
 *
 * Why snapshots restore exactly. A checkpoint first waits until every output
 * of every processed record is acknowledged (at-least-once), so the state is
 * exactly that of the records before each task's next offset; it writes the
 * changed users' snapshots, then, in each task's changelog partition, a
 * MARKER with that next offset (engine_int.h), and commits the input offsets
 * once all of it is acknowledged. A restore takes the snapshots up to the
 * last marker (those after it belong to a checkpoint a crash cut short) and
 * resumes the partition at the marker's offset, so every user sees the same
 * events in the same order as an uninterrupted run, whether or not the last
 * commit landed. Exactly-once writes snapshots and markers into the
 * transaction that commits the offsets. The wait costs a round trip to the
 * broker per checkpoint (mm.commit.interval.ms).
 *
 * MAIL. The restore thread hands a restored state over, and GET /users/{id}
 * asks for a profile, through a worker's mailbox: a short list under a mutex
 * that the worker looks at between batches (one atomic load a batch when
 * empty). Neither is on the record path.
 */
#include "engine_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { MAIL_RESTORED, MAIL_USER } mail_kind_t;

struct mm__mail_s {
    mail_kind_t kind;
    struct mm__mail_s *next;
    char topic[256];
    int32_t partition;
    /* MAIL_RESTORED */
    uint8_t generation;
    mm_state_t *state;
    uint64_t users;
    int64_t ms;
    int64_t resume;
    char error[256];
    /* MAIL_USER: the asker and the worker both hold it; the last one frees */
    _Atomic int refs;
    char *user;
    size_t user_len;
    char *answer;
    size_t answer_cap, answer_len;
    int status;
    sem_t done;
};

/* ------------------------------------------------------------ checkpoint */

bool mm__checkpoint_needed(const mm__worker_t *w) {
    const mm__outputs_t *out = mm__proc_outputs(w->proc);
    if (!out->profiles && !out->changelog)
        return false;
    return mm__proc_dirty_full(w->proc) ||
           mm_now_ms() - w->last_checkpoint_ms >= w->conf->commit_interval_ms;
}

/* Serves acknowledgements until every checkpoint record is acknowledged. */
static bool wait_checkpoint(mm__worker_t *w) {
    int64_t deadline = mm_now_ms() + w->conf->shutdown_timeout_ms;
    while (mm__proc_checkpoint_pending(w->proc) > 0) {
        if (mm__proc_failed(w->proc, NULL) || mm_now_ms() > deadline)
            return false;
        w->sink->ops->poll(w->sink->ctx, 10);
    }
    return true;
}

bool mm__checkpoint(mm__worker_t *w, bool wait) {
    mm__proc_t *proc = w->proc;
    const mm__outputs_t *out = mm__proc_outputs(proc);
    if (!out->profiles && !out->changelog)
        return true;
    if (out->changelog && wait && !mm__worker_drain(w, NULL))
        return false; /* outputs still unacknowledged: no exact point */
    const mm__dirty_t *dirty;
    const char *arena;
    size_t n = mm__proc_dirty(proc, &dirty, &arena);
    char snap[MM_STATE_EXPORT_MAX];
    char key[256 + 1 + 8192];
    uint64_t profiles = 0, snapshots = 0;
    int64_t now = mm_now_ms();
    for (size_t i = 0; i < n; i++) {
        mm__task_t *t = mm__task_at(proc, dirty[i].slot, dirty[i].gen);
        if (!t || t->restoring)
            continue; /* revoked or rewound since: its users are not ours */
        mm_str_t user = {arena + dirty[i].off, dirty[i].len};
        mm_err_t err = MM_ERR_OK;
        if (out->changelog && t->topic_len + 1 + user.len <= sizeof(key)) {
            size_t len = mm_state_export(t->state, user, snap, sizeof(snap));
            memcpy(key, t->topic, t->topic_len);
            key[t->topic_len] = '\0';
            memcpy(key + t->topic_len + 1, user.p, user.len);
            err = mm__proc_write_checkpoint(proc, MM__TOPIC_STATE, t->partition,
                                            (mm_str_t){key, t->topic_len + 1 + user.len},
                                            len ? snap : NULL, len);
            snapshots++;
        }
        mm_profile_t profile;
        if (err == MM_ERR_OK && out->profiles && mm_profile_get(t->state, user, &profile)) {
            size_t len = mm_profile_to_json(user, &profile, (mm_str_t){t->topic, t->topic_len},
                                            t->partition, now, w->ckpt_buf, w->ckpt_cap);
            if (len) {
                err = mm__proc_write_checkpoint(proc, MM__TOPIC_PROFILES, RD_KAFKA_PARTITION_UA,
                                                user, w->ckpt_buf, len);
                profiles++;
            }
        }
        if (err != MM_ERR_OK) {
            mm__worker_fail(w, "cannot write a checkpoint: %s", mm_err_str(err));
            return false;
        }
        mm_state_clear_dirty(t->state, user);
    }
    /* Each task's marker, after its snapshots in its partition. */
    for (mm__task_t *t = out->changelog ? mm__task_next(proc, NULL) : NULL; t;
         t = mm__task_next(proc, t)) {
        if (t->restoring || t->processed < 0 || t->processed == t->marked)
            continue;
        char marker[MM__MARKER_LEN];
        marker[0] = MM__MARKER_TAG;
        for (int i = 0; i < 8; i++)
            marker[1 + i] = (char)((uint64_t)t->processed >> (56 - 8 * i));
        memcpy(key, t->topic, t->topic_len);
        key[t->topic_len] = '\0';
        if (mm__proc_write_checkpoint(proc, MM__TOPIC_STATE, t->partition,
                                      (mm_str_t){key, t->topic_len + 1}, marker,
                                      sizeof(marker)) != MM_ERR_OK) {
            mm__worker_fail(w, "cannot write a checkpoint marker");
            return false;
        }
        t->marked = t->processed;
    }
    mm__proc_dirty_reset(proc);
    mm__counters_t *c = mm__proc_counters_mut(proc);
    MM_COUNTER_ADD(c->profiles_out, profiles);
    MM_COUNTER_ADD(c->snapshots_out, snapshots);
    MM_COUNTER_ADD(c->checkpoints, 1);
    w->last_checkpoint_ms = now;
    return !(out->changelog && wait) || wait_checkpoint(w);
}

/* ------------------------------------------------------------------ mail */

void mm__worker_post(mm__worker_t *w, mm__mail_t *mail) {
    pthread_mutex_lock(&w->mail_lock);
    mail->next = NULL;
    mm__mail_t **tail = &w->mail;
    while (*tail)
        tail = &(*tail)->next;
    *tail = mail;
    atomic_store_explicit(&w->has_mail, true, memory_order_release);
    pthread_mutex_unlock(&w->mail_lock);
}

static void mail_release(mm__mail_t *mail) {
    if (atomic_fetch_sub(&mail->refs, 1) != 1)
        return;
    sem_destroy(&mail->done);
    free(mail->user);
    free(mail->answer);
    free(mail);
}

static void answer_user(mm__worker_t *w, mm__mail_t *mail) {
    mm__task_t *t = mm__task_find(w->proc, mail->topic, mail->partition);
    mm_str_t user = {mail->user, mail->user_len};
    mm_profile_t profile;
    mm_jw_t jw;
    if (t && !t->restoring && mm_profile_get(t->state, user, &profile)) {
        mail->answer_len = mm_profile_to_json(user, &profile, (mm_str_t){t->topic, t->topic_len},
                                              t->partition, mm_now_ms(), mail->answer,
                                              mail->answer_cap);
        mail->status = mail->answer_len ? 200 : 500;
        return;
    }
    mm_jw_init(&jw, mail->answer, mail->answer_cap);
    mm_jw_object_open(&jw);
    mm_jw_key_plain(&jw, "user_id");
    mm_jw_str(&jw, user);
    mm_jw_key_plain(&jw, "tracked");
    mm_jw_bool(&jw, false);
    mm_jw_key_plain(&jw, "reason");
    mm_jw_cstr(&jw, !t            ? "its partition moved away from this instance"
                    : t->restoring ? "its partition's state is being restored"
                                   : "no recent event of this user on its partition");
    mm_jw_object_close(&jw);
    mail->answer_len = mm_jw_ok(&jw) ? jw.len : 0;
    mail->status = t && t->restoring ? 503 : 404;
}

/* Worker thread, between batches. */
void mm__worker_take_mail(mm__worker_t *w) {
    if (!atomic_load_explicit(&w->has_mail, memory_order_acquire))
        return;
    pthread_mutex_lock(&w->mail_lock);
    mm__mail_t *mail = w->mail;
    w->mail = NULL;
    atomic_store_explicit(&w->has_mail, false, memory_order_relaxed);
    pthread_mutex_unlock(&w->mail_lock);
    while (mail) {
        mm__mail_t *next = mail->next;
        if (mail->kind == MAIL_RESTORED) {
            mm__worker_restored(w, mail->topic, mail->partition, mail->generation, mail->state,
                                mail->users, mail->ms, mail->resume,
                                *mail->error ? mail->error : NULL);
            free(mail);
        } else {
            answer_user(w, mail);
            sem_post(&mail->done);
            mail_release(mail);
        }
        mail = next;
    }
}

/* Drops what is left when the worker is gone (its thread has exited). */
void mm__worker_drop_mail(mm__worker_t *w) {
    pthread_mutex_lock(&w->mail_lock);
    mm__mail_t *mail = w->mail;
    w->mail = NULL;
    pthread_mutex_unlock(&w->mail_lock);
    while (mail) {
        mm__mail_t *next = mail->next;
        if (mail->kind == MAIL_RESTORED) {
            mm_state_destroy(mail->state);
            free(mail);
        } else {
            mail->status = 503;
            sem_post(&mail->done);
            mail_release(mail);
        }
        mail = next;
    }
}

int mm__worker_user(mm__worker_t *w, const char *topic, int32_t partition, mm_str_t user_id,
                    char *buf, size_t cap, size_t *len, int timeout_ms) {
    mm__mail_t *mail = calloc(1, sizeof(*mail));
    if (!mail)
        return 503;
    mail->kind = MAIL_USER;
    snprintf(mail->topic, sizeof(mail->topic), "%s", topic);
    mail->partition = partition;
    mail->user = malloc(user_id.len ? user_id.len : 1);
    mail->answer_cap = cap;
    mail->answer = malloc(cap ? cap : 1);
    if (!mail->user || !mail->answer) {
        free(mail->user);
        free(mail->answer);
        free(mail);
        return 503;
    }
    memcpy(mail->user, user_id.p, user_id.len);
    mail->user_len = user_id.len;
    atomic_store(&mail->refs, 2);
    sem_init(&mail->done, 0, 0);
    mm__worker_post(w, mail);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int status = 503;
    *len = 0;
    if (sem_timedwait(&mail->done, &ts) == 0) {
        status = mail->status;
        *len = mail->answer_len < cap ? mail->answer_len : cap;
        memcpy(buf, mail->answer, *len);
    }
    mail_release(mail);
    return status;
}

/* ---------------------------------------------------------------- restore */

void mm__restore_deliver(mm__worker_t *w, const char *topic, int32_t partition,
                         uint8_t generation, mm_state_t *state, uint64_t users, int64_t ms,
                         int64_t resume, const char *error) {
    mm__mail_t *mail = calloc(1, sizeof(*mail));
    if (!mail) {
        mm_state_destroy(state);
        mm__worker_fail(w, "out of memory handing over a restored state");
        return;
    }
    mail->kind = MAIL_RESTORED;
    snprintf(mail->topic, sizeof(mail->topic), "%s", topic);
    mail->partition = partition;
    mail->generation = generation;
    mail->state = state;
    mail->users = users;
    mail->ms = ms;
    mail->resume = resume;
    if (error)
        snprintf(mail->error, sizeof(mail->error), "%s", error);
    mm__worker_post(w, mail);
}
