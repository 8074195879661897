/*
 * Per-user state of one task: a preallocated table with a hard cap and an
 * event-time TTL.
 *
 * HOW IT WORKS
 *   users[]  max_users fixed-size records (mm__user_t, state_int.h), handed
 *            out from a high-water mark, then from a free list threaded
 *            through free records. Records never move, so a slot index is a
 *            stable name for a user while it is tracked.
 *   index[]  open addressing, linear probing, 2 * max_users buckets (load
 *            <= 0.5: a hit probes ~1.5 buckets, a miss ~2.5). A bucket is
 *            32 bits: slot + 1 in the low 25 bits (0 = empty), 7 bits of the
 *            hash as a tag above, so a probe rarely touches a record that is
 *            not the one wanted. The home bucket is fastrange of the hash's
 *            high half (no power-of-two rounding, which would double the
 *            index at the wrong sizes). Deletion is backward-shift (Knuth
 *            6.4 algorithm R): no tombstones, so probes stay short forever.
 *   CLOCK    one hand sweeps the slots in order. An event that advances a
 *            user's newest event time sets the user's REF bit; the hand
 *            clears REF bits as it passes. Past the cap, the hand evicts the
 *            first user it finds whose bit is clear: one not touched since
 *            the hand last went by, i.e. among the least recently active
 *            (exactly the oldest when users are not re-touched: the hand
 *            follows insertion order). Each bit is cleared once per setting,
 *            so eviction is O(1) amortised. Why not an exact LRU list:
 *            moving a user to the tail touches its two neighbours, two
 *            random cache misses per event (measured: touch 82 -> 319 ns
 *            from 10k to 1M users); the hand reads records in order, which
 *            the hardware prefetches.
 *   TTL      on event time, never the clock: a user whose newest event is
 *            older than watermark - ttl is dropped, lazily when touched, by
 *            the cap's hand when it passes, and by a sweep of MM__SWEEP
 *            slots per event (a full turn every high / MM__SWEEP events
 *            bounds how long an idle user can linger).
 *
 * COSTS (mm_state_stats().bytes_per_user, at capacity):
 *   sizeof(mm__user_t) = 176 bytes + 2 buckets * 4 bytes = 184 bytes/user.
 *   One event: one hash, ~1.5 index probes (one cache line), one record,
 *   MM__SWEEP sequential record reads.
 *
 * Identity: only a 64-bit seeded hash of user_id is kept, not the id. Two
 * distinct ids collide with probability ~n^2 / 2^65 over n tracked users
 * (1e-6 at 10M users); the cost of a collision is two users sharing
 * behavioural windows for a while, which is no worse than the noise the
 * windows already tolerate. The seed keeps crafted ids from aiming at it.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "classifier_int.h"
#include "state_int.h"

#define MM__SLOT_BITS 25
#define MM__SLOT_MASK ((1u << MM__SLOT_BITS) - 1)
#define MM__MAX_USERS (MM__SLOT_MASK - 1) /* 33.5M per task */
#define MM__SWEEP 2                        /* slots the TTL sweep reads per event */
#define MM__T_BACK ((int64_t)1 << 30)      /* base_ts sits this far back */
#define MM__T_REBASE ((int64_t)1 << 31)    /* rebase a record past this */
#define MM__PF_RING 8                      /* prefetch: hashes remembered */
#define MM__PF_LAG 4                       /* prefetch: bucket -> record */

_Static_assert(sizeof(mm__user_t) <= 176, "per-user record outgrew its budget");

struct mm_state_s {
    mm_state_conf_t conf;
    mm__user_t *users;
    mm__user_ext_t *ext; /* profiles: beside users, same slots; NULL when off */
    uint32_t *index;
    uint32_t n_buckets;
    uint32_t used;      /* live users */
    uint32_t high;      /* slots ever handed out */
    uint32_t free_head; /* freed slots, through free_next */
    uint32_t hand;      /* CLOCK hand for the cap, in [0, high) */
    uint32_t sweep;     /* TTL sweep position, in [0, high) */
    int64_t watermark;
    uint64_t evicted_cap, expired_ttl;
    uint64_t pf_hash[MM__PF_RING]; /* mm_state_prefetch's pending hashes */
    uint32_t pf_n;
};

void mm_state_conf_defaults(mm_state_conf_t *conf) {
    /* 1M users per task at 184 bytes is ~180 MB; a partition rarely has
     * more users active within 30 minutes. */
    conf->max_users = 1000000;
    /* A micro-moment's windows are minutes long; after 30 idle minutes a
     * user starts a new visit, as web analytics sessions do. */
    conf->ttl_ms = 30 * 60 * 1000;
    conf->seed = 0x6d6d2d7365656431ull; /* fixed: same input, same output */
    conf->profiles = false;
    conf->profile_window_ms = 24 * 60 * 60 * 1000; /* a day of moments */
}

static inline uint32_t home_of(const mm_state_t *st, uint64_t h) {
    return (uint32_t)(((h >> 32) * (uint64_t)st->n_buckets) >> 32);
}

static inline uint32_t tag_of(uint64_t h) {
    return (uint32_t)(h & 0x7F) << MM__SLOT_BITS;
}

static inline uint32_t next_bucket(const mm_state_t *st, uint32_t i) {
    return i + 1 == st->n_buckets ? 0 : i + 1;
}

/* Bucket holding @h, or the empty bucket ending its probe sequence. */
static uint32_t probe(const mm_state_t *st, uint64_t h, bool *found) {
    uint32_t i = home_of(st, h), tag = tag_of(h);
    for (;;) {
        uint32_t b = st->index[i];
        if (b == 0) {
            *found = false;
            return i;
        }
        if ((b & ~MM__SLOT_MASK) == tag &&
            st->users[(b & MM__SLOT_MASK) - 1].uid_hash == h) {
            *found = true;
            return i;
        }
        i = next_bucket(st, i);
    }
}

/* Backward-shift deletion: pull later members of the cluster into the hole
 * when their home allows, so no probe sequence is ever broken. */
static void index_delete(mm_state_t *st, uint32_t hole) {
    uint32_t j = hole;
    for (;;) {
        j = next_bucket(st, j);
        uint32_t b = st->index[j];
        if (b == 0)
            break;
        uint32_t k = home_of(st, st->users[(b & MM__SLOT_MASK) - 1].uid_hash);
        /* The entry at j may fill the hole unless its home lies cyclically
         * in (hole, j]. */
        bool stays = hole <= j ? (k > hole && k <= j) : (k > hole || k <= j);
        if (!stays) {
            st->index[hole] = b;
            hole = j;
        }
    }
    st->index[hole] = 0;
}

static void user_remove(mm_state_t *st, uint32_t s) {
    bool found;
    uint32_t i = probe(st, st->users[s].uid_hash, &found);
    if (found)
        index_delete(st, i);
    st->users[s].uid_hash = 0;
    st->users[s].free_next = st->free_head;
    st->free_head = s;
    st->used--;
}

static bool expired(const mm_state_t *st, const mm__user_t *u) {
    return st->conf.ttl_ms > 0 && st->watermark - u->last_ts > st->conf.ttl_ms;
}

/* The slot under @pos, moving it on; MM__NIL when no slot is used. */
static uint32_t step(const mm_state_t *st, uint32_t *pos) {
    if (st->high == 0)
        return MM__NIL;
    uint32_t s = *pos < st->high ? *pos : 0;
    *pos = s + 1 >= st->high ? 0 : s + 1;
    return s;
}

/* Step the TTL sweep MM__SWEEP slots, dropping users idle past the TTL. It
 * has its own position and leaves REF bits alone: only the cap's hand
 * spends second chances, or a small table would lose them in a few events. */
static void ttl_sweep(mm_state_t *st) {
    if (st->conf.ttl_ms <= 0)
        return;
    for (int n = 0; n < MM__SWEEP; n++) {
        uint32_t s = step(st, &st->sweep);
        if (s == MM__NIL)
            return;
        if (st->users[s].uid_hash != 0 && expired(st, &st->users[s])) {
            user_remove(st, s);
            st->expired_ttl++;
        }
    }
}

/* The cap: run the hand until a user without a second chance comes up.
 * Ends within one turn plus one slot, since the turn clears every bit; on
 * average 1 + (bits set since the last eviction) / evictions steps. */
static void hand_evict(mm_state_t *st) {
    for (;;) {
        uint32_t s = step(st, &st->hand);
        mm__user_t *u = &st->users[s];
        if (u->uid_hash == 0)
            continue;
        if (expired(st, u)) {
            user_remove(st, s);
            st->expired_ttl++;
            return;
        }
        if (!(u->flags & MM__UF_REF)) {
            user_remove(st, s);
            st->evicted_cap++;
            return;
        }
        u->flags &= (uint8_t)~MM__UF_REF;
    }
}

static uint32_t slot_alloc(mm_state_t *st) {
    if (st->free_head == MM__NIL && st->high == st->conf.max_users)
        hand_evict(st);
    if (st->free_head != MM__NIL) {
        uint32_t s = st->free_head;
        st->free_head = st->users[s].free_next;
        return s;
    }
    return st->high++;
}

void mm__user_reset(mm__user_t *u, uint64_t uid_hash, int64_t ts) {
    memset(u, 0, sizeof(*u));
    u->uid_hash = uid_hash;
    u->last_ts = ts;
    u->base_ts = ts - MM__T_BACK;
    u->prev_type = MM__TYPE_NONE;
}

/* Slide base_ts forward so that packed times never overflow; times older
 * than the new base become "never" (they are days older than any window). */
static void user_rebase(mm_state_t *st, mm__user_t *u, int64_t ts) {
    int64_t shift64 = (ts - MM__T_BACK) - u->base_ts;
    uint32_t shift = shift64 > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)shift64;
    uint32_t *scalars[] = {&u->last_buy_t,     &u->last_purchase_t,
                           &u->last_page_t,    &u->last_instore_t,
                           &u->last_burst_t,   &u->friction_t};
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++)
        *scalars[i] = *scalars[i] > shift ? *scalars[i] - shift : 0;
    for (int i = 0; i < MM__QRING; i++)
        u->q_t[i] = u->q_t[i] > shift ? u->q_t[i] - shift : 0;
    for (int i = 0; i < MM__LRING; i++)
        u->loc_t[i] = u->loc_t[i] > shift ? u->loc_t[i] - shift : 0;
    mm__user_ext_t *x = st->ext ? &st->ext[u - st->users] : NULL;
    if (x) {
        for (int i = 0; i < MM_MOMENT__COUNT; i++)
            x->last_t[i] = x->last_t[i] > shift ? x->last_t[i] - shift : 0;
        x->count_t = x->count_t > shift ? x->count_t - shift : 0;
        x->conv_t = x->conv_t > shift ? x->conv_t - shift : 0;
    }
    u->base_ts += shift64;
}

/* A slot's user starts afresh, profile included. */
static void slot_reset(mm_state_t *st, uint32_t s, uint64_t uid_hash, int64_t ts) {
    mm__user_reset(&st->users[s], uid_hash, ts);
    if (st->ext)
        memset(&st->ext[s], 0, sizeof(st->ext[s]));
}

/* An existing user's event: lazy TTL, lateness, recency. */
static void touch_existing(mm_state_t *st, mm__user_t *u, int64_t ts,
                           int64_t lateness, mm__touch_t *touch) {
    if (st->conf.ttl_ms > 0 && ts - u->last_ts > st->conf.ttl_ms) {
        slot_reset(st, (uint32_t)(u - st->users), u->uid_hash, ts); /* a new visit */
        st->expired_ttl++;
        touch->is_new = true;
    } else {
        touch->late = ts < u->last_ts - lateness;
    }
    if (ts >= u->last_ts) {
        u->last_ts = ts;
        u->flags |= MM__UF_REF;
        if (ts - u->base_ts > MM__T_REBASE)
            user_rebase(st, u, ts);
    }
}

static uint64_t uid_hash(const mm_state_t *st, mm_str_t user_id) {
    uint64_t h = XXH3_64bits_withSeed(user_id.p ? user_id.p : "", user_id.len,
                                      st->conf.seed);
    return h ? h : 1; /* 0 marks a free record */
}

const mm__user_t *mm__state_find(const mm_state_t *st, mm_str_t user_id) {
    return mm__state_find_mut((mm_state_t *)st, user_id); /* no write: a lookup */
}

/* The slot of the user hashed @p h, taking a new one (evicting past the cap)
 * when the table has none: *added says which. */
static uint32_t slot_of(mm_state_t *st, uint64_t h, bool *added) {
    bool found;
    uint32_t i = probe(st, h, &found);
    *added = !found;
    if (found)
        return (st->index[i] & MM__SLOT_MASK) - 1;
    uint32_t used = st->used;
    uint32_t s = slot_alloc(st);
    if (st->used != used)         /* an eviction may have opened a */
        i = probe(st, h, &found); /* hole earlier on h's probe path */
    st->index[i] = tag_of(h) | (s + 1);
    st->used++;
    return s;
}

mm__user_t *mm__state_touch(mm_state_t *st, mm_str_t user_id, int64_t ts,
                            int64_t lateness, mm__touch_t *touch) {
    touch->is_new = false;
    touch->late = false;
    if (ts > st->watermark)
        st->watermark = ts;
    ttl_sweep(st);

    uint64_t h = uid_hash(st, user_id);
    bool added;
    uint32_t s = slot_of(st, h, &added);
    if (added) {
        slot_reset(st, s, h, ts); /* REF clear: see CLOCK */
        touch->is_new = true;
    } else {
        touch_existing(st, &st->users[s], ts, lateness, touch);
    }
    mm__user_t *u = &st->users[s];
    if (u->n_events < UINT16_MAX)
        u->n_events++;
    return u;
}

int64_t mm__state_watermark(const mm_state_t *st) { return st->watermark; }
int64_t mm_state_watermark(const mm_state_t *st) { return st->watermark; }

mm__user_t *mm__state_find_mut(mm_state_t *st, mm_str_t user_id) {
    bool found;
    uint32_t i = probe(st, uid_hash(st, user_id), &found);
    return found ? &st->users[(st->index[i] & MM__SLOT_MASK) - 1] : NULL;
}

mm__user_ext_t *mm__state_ext(mm_state_t *st, const mm__user_t *u) {
    return st->ext ? &st->ext[u - st->users] : NULL;
}

const mm_state_conf_t *mm__state_conf(const mm_state_t *st) { return &st->conf; }

bool mm_state_mark_dirty(mm_state_t *st, mm_str_t user_id) {
    mm__user_t *u = mm__state_find_mut(st, user_id);
    if (!u || (u->flags & MM__UF_DIRTY))
        return false;
    u->flags |= MM__UF_DIRTY;
    return true;
}

void mm_state_forget(mm_state_t *st, mm_str_t user_id) {
    mm__user_t *u = mm__state_find_mut(st, user_id);
    if (u)
        user_remove(st, (uint32_t)(u - st->users));
}

void mm_state_clear_dirty(mm_state_t *st, mm_str_t user_id) {
    mm__user_t *u = mm__state_find_mut(st, user_id);
    if (u)
        u->flags &= (uint8_t)~MM__UF_DIRTY;
}

/*
 * EXPORT FORMAT. One version byte, one flags byte (bit 0: a profile
 * follows), the record's bytes after its hash (the hash is seeded per
 * table, so it is recomputed on import), then the profile's bytes. The
 * record holds no pointer and only times relative to its own base, so the
 * bytes mean the same in any table of the same build; the version changes
 * whenever mm__user_t or mm__user_ext_t does (their sizes are checked too).
 */
#define MM__EXPORT_VERSION 2 /* 2: instore_fp took the 8th term fingerprint */
#define MM__EXPORT_HEAD 2
#define MM__REC_BYTES (sizeof(mm__user_t) - sizeof(uint64_t))
_Static_assert(MM__EXPORT_HEAD + MM__REC_BYTES + sizeof(mm__user_ext_t) <= MM_STATE_EXPORT_MAX,
               "an exported user outgrew MM_STATE_EXPORT_MAX");
_Static_assert(offsetof(mm__user_t, uid_hash) == 0, "the hash leads the record");

size_t mm_state_export(const mm_state_t *st, mm_str_t user_id, char *buf, size_t cap) {
    const mm__user_t *u = mm__state_find(st, user_id);
    size_t need = MM__EXPORT_HEAD + MM__REC_BYTES + (st->ext ? sizeof(mm__user_ext_t) : 0);
    if (!u || cap < need)
        return 0;
    buf[0] = MM__EXPORT_VERSION;
    buf[1] = st->ext ? 1 : 0;
    memcpy(buf + MM__EXPORT_HEAD, (const char *)u + sizeof(uint64_t), MM__REC_BYTES);
    /* The dirty mark is about this table's writes, not the user. */
    buf[MM__EXPORT_HEAD + offsetof(mm__user_t, flags) - sizeof(uint64_t)] &= (char)~MM__UF_DIRTY;
    if (st->ext)
        memcpy(buf + MM__EXPORT_HEAD + MM__REC_BYTES, &st->ext[u - st->users],
               sizeof(mm__user_ext_t));
    return need;
}

bool mm_state_import(mm_state_t *st, mm_str_t user_id, const char *buf, size_t len) {
    if (len < MM__EXPORT_HEAD || buf[0] != MM__EXPORT_VERSION)
        return false;
    bool has_ext = buf[1] & 1;
    if (len != MM__EXPORT_HEAD + MM__REC_BYTES + (has_ext ? sizeof(mm__user_ext_t) : 0))
        return false;
    uint64_t h = uid_hash(st, user_id);
    bool added;
    mm__user_t *u = &st->users[slot_of(st, h, &added)];
    memcpy((char *)u + sizeof(uint64_t), buf + MM__EXPORT_HEAD, MM__REC_BYTES);
    u->uid_hash = h;
    if (st->ext) {
        mm__user_ext_t *x = &st->ext[u - st->users];
        if (has_ext)
            memcpy(x, buf + MM__EXPORT_HEAD + MM__REC_BYTES, sizeof(*x));
        else
            memset(x, 0, sizeof(*x));
    }
    if (u->last_ts > st->watermark)
        st->watermark = u->last_ts;
    return true;
}

/* Two steps, because the record's address is in the bucket: prefetch this
 * user's bucket now, and the record of the user hinted MM__PF_LAG calls ago,
 * whose bucket has had time to arrive. Reads only the home bucket and the
 * next (a tag match is enough for a hint), so it never waits on memory
 * for long and never changes what touch finds. */
void mm_state_prefetch(mm_state_t *st, mm_str_t user_id) {
    uint64_t h = uid_hash(st, user_id);
    __builtin_prefetch(&st->index[home_of(st, h)]);
    uint32_t k = st->pf_n++;
    st->pf_hash[k % MM__PF_RING] = h;
    if (k < MM__PF_LAG)
        return;
    uint64_t old = st->pf_hash[(k - MM__PF_LAG) % MM__PF_RING];
    uint32_t i = home_of(st, old), tag = tag_of(old);
    for (int n = 0; n < 2; n++, i = next_bucket(st, i)) {
        uint32_t b = st->index[i];
        if (b == 0)
            return;
        if ((b & ~MM__SLOT_MASK) == tag) {
            const char *rec = (const char *)&st->users[(b & MM__SLOT_MASK) - 1];
            for (size_t off = 0; off < sizeof(mm__user_t); off += 64)
                __builtin_prefetch(rec + off, 1);
            __builtin_prefetch(rec + sizeof(mm__user_t) - 1, 1);
            return;
        }
    }
}

void mm_state_clear(mm_state_t *st) {
    memset(st->index, 0, (size_t)st->n_buckets * sizeof(st->index[0]));
    st->used = 0;
    st->high = 0;
    st->free_head = MM__NIL;
    st->hand = st->sweep = 0;
    st->watermark = 0;
}

/* Every event lands on a random record and a random bucket: with 4 KiB
 * pages each is also a TLB miss (a page walk that itself misses the cache)
 * once the table outgrows the TLB's reach, so large tables ask for huge
 * pages (THP "madvise" mode). Tables are mapped, not written: the kernel
 * hands out zeroed pages as users arrive, so resident memory follows the
 * users actually tracked, not the cap (an instance with 128 partitions at
 * the default cap would otherwise hold 4.7 GB at start).
 * A huge page is zeroed whole, 2 MiB, at its first touch. The index is hit
 * at random and soon touched all over, so it always asks for them. Records
 * are handed out from the front: a task with a few thousand users would
 * zero 2 MiB for 300 KiB of records (measured: 7 % of the pipeline's CPU
 * with 128 partitions), so the records ask only past 64 MiB (~380k users),
 * where the TLB misses cost more than that once-only zeroing. */
#define MM__HUGE ((size_t)2 << 20)
#define MM__HUGE_RECORDS_FROM ((size_t)64 << 20)

static size_t big_size(size_t size) {
    return size < MM__HUGE ? size : (size + MM__HUGE - 1) & ~(MM__HUGE - 1);
}

static void *big_alloc(size_t size, size_t huge_from) {
    if (size < MM__HUGE)
        return calloc(1, size);
    /* Huge pages need 2 MiB-aligned addresses, which mmap does not promise:
     * map one huge page more and give back the ends. */
    size_t len = big_size(size);
    char *raw = mmap(NULL, len + MM__HUGE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *p = (char *)(((uintptr_t)raw + MM__HUGE - 1) & ~(uintptr_t)(MM__HUGE - 1));
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    if (raw + MM__HUGE > p)
        munmap(p + len, (size_t)(raw + MM__HUGE - p));
#ifdef MADV_HUGEPAGE
    if (size >= huge_from)
        madvise(p, len, MADV_HUGEPAGE); /* a hint: failure only costs speed */
#endif
    return p;
}

static void big_free(void *p, size_t size) {
    if (!p)
        return;
    if (size < MM__HUGE)
        free(p);
    else
        munmap(p, big_size(size));
}

mm_state_t *mm_state_new(const mm_state_conf_t *conf) {
    mm_state_t *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->conf = *conf;
    if (st->conf.max_users < 1)
        st->conf.max_users = 1;
    if (st->conf.max_users > MM__MAX_USERS)
        st->conf.max_users = MM__MAX_USERS;
    st->n_buckets = st->conf.max_users * 2;
    st->users = big_alloc((size_t)st->conf.max_users * sizeof(mm__user_t),
                          MM__HUGE_RECORDS_FROM);
    st->index = big_alloc((size_t)st->n_buckets * sizeof(st->index[0]), MM__HUGE);
    if (st->conf.profiles)
        st->ext = big_alloc((size_t)st->conf.max_users * sizeof(mm__user_ext_t),
                            MM__HUGE_RECORDS_FROM);
    if (!st->users || !st->index || (st->conf.profiles && !st->ext))
        goto fail;
    /* As mm_state_clear() leaves it, without writing the fresh (zero) index. */
    st->free_head = MM__NIL;
    return st;
fail:
    mm_state_destroy(st);
    return NULL;
}

void mm_state_destroy(mm_state_t *st) {
    if (!st)
        return;
    big_free(st->users, (size_t)st->conf.max_users * sizeof(mm__user_t));
    big_free(st->index, (size_t)st->n_buckets * sizeof(st->index[0]));
    big_free(st->ext, (size_t)st->conf.max_users * sizeof(mm__user_ext_t));
    free(st);
}

void mm_state_stats(const mm_state_t *st, mm_state_stats_t *stats) {
    stats->users = st->used;
    stats->evicted_cap = st->evicted_cap;
    stats->expired_ttl = st->expired_ttl;
    /* At capacity: the record, the index's share, the header spread out. */
    size_t total = (size_t)st->conf.max_users * sizeof(mm__user_t) +
                   (size_t)st->n_buckets * sizeof(st->index[0]) + sizeof(*st);
    if (st->ext)
        total += (size_t)st->conf.max_users * sizeof(mm__user_ext_t);
    stats->bytes_per_user = (total + st->conf.max_users - 1) / st->conf.max_users;
}
