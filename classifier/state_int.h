/*
 * Private view of the per-user state (state.c): the fixed-size record each
 * tracked user gets, and the one call classify.c makes per event.
 *
 * Times inside a record are packed to 32 bits: milliseconds since the
 * record's own base_ts, plus one, so that 0 means "never". A record is
 * rebased (rare: after 2^31 ms, ~24 days, of uninterrupted activity) and
 * anything older than the new base reads as "never"; every window is far
 * shorter than that (mm_rules_load caps windows at a day).
 */
#ifndef MM_STATE_INT_H
#define MM_STATE_INT_H

#include <stdint.h>

#include "classifier.h"

/* Ring sizes bound the N and K the rules may ask for (mm_rules_load
 * rejects larger). Six covers "several" with room to spare. */
#define MM__QRING 6
#define MM__LRING 6
/* Terms of the previous query kept as 16-bit fingerprints (see rapid):
 * seven, so that the in-store device's fingerprint fits the budget. */
#define MM__PREV_TERMS 7
#define MM__GEO_UNKNOWN INT32_MIN /* a ring entry without a position */
#define MM__TYPE_NONE 0xFF

/* Flags of mm__user_t.flags. */
#define MM__UF_PAGE_OPEN 0x01 /* last event was a page_view: a bounce may follow */
#define MM__UF_SLOW 0x02      /* a slow page awaits the next moment */
#define MM__UF_BOUNCE 0x04    /* a bounce awaits the next moment */
#define MM__UF_PURCHASED 0x08 /* a purchase happened while tracked */
#define MM__UF_REF 0x10       /* CLOCK: touched since the hand last passed */
#define MM__UF_DIRTY 0x20     /* changed since last written out (changelog) */

/*
 * One tracked user. Fixed size, no pointers: the table is one array of
 * these, allocated once. Keep it <= 176 bytes (static assert in state.c) so
 * that with the index it stays under 200 bytes per user.
 */
typedef struct mm__user_s {
    uint64_t uid_hash;           /* seeded XXH3 of user_id; 0 = free slot */
    union {
        int64_t last_ts;         /* newest event time seen, ms */
        uint32_t free_next;      /* a free slot: the next one, MM__NIL ends */
    };
    int64_t base_ts;             /* packed times are relative to this */
    uint32_t q_t[MM__QRING];     /* query times (packed) */
    uint16_t q_terms[MM__PREV_TERMS]; /* previous query's term fingerprints */
    uint16_t instore_fp;         /* the device last_instore_t is about */
    uint32_t loc_t[MM__LRING];   /* location pings / place queries */
    int32_t loc_lat[MM__LRING];  /* 1e-7 degrees, MM__GEO_UNKNOWN */
    int32_t loc_lon[MM__LRING];
    uint32_t last_buy_t;         /* last buy moment */
    uint32_t last_purchase_t;
    uint32_t last_page_t;        /* last page_view */
    uint32_t last_instore_t;     /* last in-store position (instore_fp's) */
    uint32_t last_burst_t;       /* last location-burst moment */
    uint32_t friction_t;         /* when pending friction was seen */
    uint32_t slow_page_ms;       /* the pending slow page's load time */
    uint32_t bounce_dwell_ms;    /* the pending bounce's dwell time */
    uint16_t n_events;           /* saturating: new vs returning */
    uint8_t q_head, q_n_terms;   /* next ring slot; fingerprints used */
    uint8_t loc_head;
    uint8_t refine_streak;       /* consecutive refinements */
    uint8_t prev_type;           /* last moment's type, MM__TYPE_NONE */
    uint8_t flags;               /* MM__UF_* */
} mm__user_t;

#define MM__NIL UINT32_MAX

/*
 * A user's profile (mm_state_conf_t.profiles), in an array beside the records
 * with the same slot numbers, so that the per-event record keeps its cache
 * footprint when profiles are off. Times are packed like the record's.
 */
typedef struct mm__user_ext_s {
    int64_t last_off[MM_MOMENT__COUNT]; /* latest moment's source offset */
    uint32_t last_t[MM_MOMENT__COUNT];  /* ... its time; 0 none */
    uint16_t count[MM_MOMENT__COUNT];   /* moments since count_t (saturating) */
    uint32_t count_t;                   /* the counting window's start */
    uint32_t conv_t;                    /* last conversion; 0 none */
    float conv_value;                   /* its amount (has: CONV_VALUE flag) */
    char conv_currency[3];
    uint8_t last_ord[MM_MOMENT__COUNT]; /* latest moment's ordinal */
    uint8_t conv_type;                  /* mm_event_type_t */
    uint8_t stage;                      /* journey stage + 1; 0 none */
    uint8_t flags;                      /* MM__XF_* */
} mm__user_ext_t;

#define MM__XF_CONV_VALUE 0x01

/** @brief The profile of the user in @p user's slot, NULL when profiles are
 * off. */
mm__user_ext_t *mm__state_ext(mm_state_t *state, const mm__user_t *user);
/** @brief Like mm__state_find, for writing (no touch, no expiry). */
mm__user_t *mm__state_find_mut(mm_state_t *state, mm_str_t user_id);
const mm_state_conf_t *mm__state_conf(const mm_state_t *state);

/** What mm__state_touch found out about the event's user. */
typedef struct mm__touch_s {
    bool is_new;  /* created by this event (first seen, or after TTL) */
    bool late;    /* older than last_ts - allowed lateness: no windows */
} mm__touch_t;

/**
 * @brief Find or create @p user_id's record for an event at @p ts, expiring
 * idle users (lazily and by an incremental sweep) and evicting one not
 * touched lately past the cap. Advances last_ts (and marks the user
 * recently used) unless the event is older than the user's newest.
 * @returns the record, borrowed until the next call on @p state; never NULL.
 * @locality the thread that owns @p state.
 */
mm__user_t *mm__state_touch(mm_state_t *state, mm_str_t user_id, int64_t ts,
                            int64_t allowed_lateness_ms, mm__touch_t *touch);

/**
 * @brief @p user_id's record without touching it (no expiry, no marking),
 * or NULL when untracked. For tests and tools.
 */
const mm__user_t *mm__state_find(const mm_state_t *state, mm_str_t user_id);

/** @brief Newest event time the state has seen (0 before any). */
int64_t mm__state_watermark(const mm_state_t *state);

/** @brief Reset @p user to "just created at ts" keeping its identity. */
void mm__user_reset(mm__user_t *user, uint64_t uid_hash, int64_t ts);

/** @brief Pack @p ts relative to @p user (0 is reserved for "never"). */
static inline uint32_t mm__t_pack(const mm__user_t *user, int64_t ts) {
    if (ts < user->base_ts)
        return 0; /* older than anything a window can reach */
    int64_t d = ts - user->base_ts + 1;
    return d > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/** @brief Milliseconds from packed @p t to @p ts; INT64_MAX for "never". */
static inline int64_t mm__t_age(const mm__user_t *user, uint32_t t, int64_t ts) {
    if (t == 0)
        return INT64_MAX;
    return ts - (user->base_ts + (int64_t)t - 1);
}

/** @brief True when packed @p t lies in [ts - window, ts]. */
static inline bool mm__t_within(const mm__user_t *user, uint32_t t, int64_t ts,
                                int64_t window) {
    int64_t age = mm__t_age(user, t, ts);
    return age >= 0 && age <= window;
}

#endif
