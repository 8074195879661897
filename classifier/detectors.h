/*
 * Behavioural detectors: small units over one user's record and one event,
 * each turning what the user does into evidence (score adjustments,
 * urgency, signals, triggers) that classify.c composes with the text side.
 *
 * Every detector works on event time (ctx->ts) only. When ctx->windows is
 * false (the event is later than the allowed lateness) a detector neither
 * reads nor updates its windows; stateless evidence (the event's own
 * fields) still counts. Detectors do not allocate and do not fail.
 */
#ifndef MM_DETECTORS_H
#define MM_DETECTORS_H

#include "classifier_int.h"
#include "state_int.h"

/** What the detectors see for one event. */
typedef struct mm__detect_ctx_s {
    const mm_rules_conf_t *conf;
    const struct mm__places_s *places; /* the rules' stores; NULL: none */
    const mm_event_t *ev;
    const mm_query_analysis_t *qa; /* NULL unless a query event */
    mm__user_t *user;
    int64_t ts;     /* event time, ms */
    bool windows;   /* false: too late to read or update windows */
    bool is_new;    /* the record was created by this event */
} mm__detect_ctx_t;

/**
 * @brief True when packed @p t is within @p window before the event, or
 * newer than it by at most the allowed lateness: an accepted late event
 * sees the window as if it had arrived in order.
 */
static inline bool mm__in_window(const mm__detect_ctx_t *ctx, uint32_t t,
                                 int64_t window) {
    int64_t age = mm__t_age(ctx->user, t, ctx->ts);
    return t != 0 && age >= -ctx->conf->allowed_lateness_ms && age <= window;
}

/** A moment a non-query event triggers on its own. */
typedef enum {
    MM__TRIGGER_NONE,
    MM__TRIGGER_BURST,    /* location burst: go */
    MM__TRIGGER_CART,     /* add_to_cart after a buy moment: buy */
    MM__TRIGGER_PURCHASE, /* purchase after a buy moment: buy */
} mm__trigger_t;

/** What the detectors found, summed over all of them. */
typedef struct mm__evidence_s {
    float boost[MM_MOMENT__COUNT]; /* added to the text scores */
    float urgency;                 /* 0..1: how pressing (stage, confidence) */
    mm__trigger_t trigger;
    int64_t burst_count;           /* pings in the burst, 0: none */
    bool in_store;
    bool research;      /* repeated research: refinements, rapid queries */
    bool post_purchase; /* the user purchased while tracked */
    bool friction;      /* pending friction signals were attached */
    uint32_t n_signals;
    mm_signal_t signals[MM_SIGNALS_MAX];
} mm__evidence_t;

/** @brief Append a signal to @p evd; dropped silently when full. */
mm_signal_t *mm__evidence_signal(mm__evidence_t *evd, const char *name);

/** @brief Add to @p evd's urgency, clipped to 1. */
void mm__evidence_urgency(mm__evidence_t *evd, float add);

/* Rapid repeated queries and refinements (detect_rapid.c). */
void mm__detect_rapid(const mm__detect_ctx_t *ctx, mm__evidence_t *evd);
/** @brief 16-bit fingerprint of a term hash as the record keeps it. */
uint16_t mm__term_fp(uint32_t term_hash);

/* Location bursts (detect_location.c). */
void mm__detect_location(const mm__detect_ctx_t *ctx, mm__evidence_t *evd);
/** @brief Metres between two points (equirectangular; good below ~50 km). */
double mm__geo_distance_m(double lat1, double lon1, double lat2, double lon2);

/* In-store position (detect_instore.c). */
void mm__detect_instore(const mm__detect_ctx_t *ctx, mm__evidence_t *evd);
/** @brief 16-bit fingerprint of the event's session and device: which
 * device was in the store. */
uint16_t mm__device_fp(const mm_event_t *ev);

/* Cart and purchase after a buy moment (detect_cart.c). */
void mm__detect_cart(const mm__detect_ctx_t *ctx, mm__evidence_t *evd);
/** @brief Remember that @p type's moment was emitted for this event. */
void mm__note_moment(const mm__detect_ctx_t *ctx, mm_moment_type_t type);

/* Slow pages and bounces (detect_friction.c). */
void mm__detect_friction(const mm__detect_ctx_t *ctx, mm__evidence_t *evd);
/** @brief Forget pending friction once a moment has carried it. */
void mm__friction_consumed(const mm__detect_ctx_t *ctx);

/* Device, channel, local hour, new vs returning (detect_context.c). */
void mm__detect_context(const mm__detect_ctx_t *ctx, mm__evidence_t *evd);
/** @brief Local hour 0..23 of @p ts in the event's zone; -1 without one. */
int8_t mm__local_hour(const mm_event_t *ev, int64_t ts);

/* Journey stage and local hour of a moment (enrich.c). */
void mm__enrich(const mm__detect_ctx_t *ctx, const mm__evidence_t *evd,
                mm_moment_t *moment);

#endif
