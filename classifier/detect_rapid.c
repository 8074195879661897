/*
 * Rapid repeated queries and refinements.
 *
 * A person in a micro-moment fires several queries in a row at one need
 * ("running shoes", "running shoes wide feet", "running shoes wide feet
 * copenhagen"). Two signals:
 *   rapid_queries  N or more queries by the user within T (event time),
 *                  counting this one;
 *   refinement     this query shares a content term with the previous one
 *                  (term_hashes from the text side) and came within T of it;
 *                  consecutive refinements form a streak.
 * Both raise urgency (and through it confidence and the journey stage) and
 * mark repeated research; a refinement also carries a little of the
 * previous moment's type, since the need is the same one.
 *
 * The previous query's first MM__PREV_TERMS (7) terms are kept as 16-bit
 * fingerprints: 8 x 7 pairs give a false "shared term" about once in a
 * thousand unrelated pairs, for 14 bytes per user instead of 28.
 */
#include "detectors.h"

#define MM__REFINE_CARRY 0.1f /* previous moment type's share */

uint16_t mm__term_fp(uint32_t term_hash) {
    return (uint16_t)(term_hash ^ (term_hash >> 16));
}

static uint32_t shared_terms(const mm__user_t *u, const mm_query_analysis_t *qa) {
    uint32_t shared = 0;
    uint32_t n = qa->n_terms < MM_QUERY_TERMS_MAX ? qa->n_terms : MM_QUERY_TERMS_MAX;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t fp = mm__term_fp(qa->term_hashes[i]);
        for (uint32_t j = 0; j < u->q_n_terms; j++) {
            if (u->q_terms[j] == fp) {
                shared++;
                break;
            }
        }
    }
    return shared;
}

static void remember_query(mm__user_t *u, const mm_query_analysis_t *qa,
                           int64_t ts) {
    u->q_t[u->q_head] = mm__t_pack(u, ts);
    u->q_head = (uint8_t)((u->q_head + 1) % MM__QRING);
    uint32_t n = qa->n_terms < MM__PREV_TERMS ? qa->n_terms : MM__PREV_TERMS;
    for (uint32_t i = 0; i < n; i++)
        u->q_terms[i] = mm__term_fp(qa->term_hashes[i]);
    u->q_n_terms = (uint8_t)n;
}

static void refinement(const mm__detect_ctx_t *ctx, mm__evidence_t *evd,
                       uint32_t shared) {
    mm__user_t *u = ctx->user;
    if (u->refine_streak < UINT8_MAX)
        u->refine_streak++;
    mm_signal_t *sig = mm__evidence_signal(evd, "refinement");
    if (sig) {
        sig->count = u->refine_streak;
        sig->has_count = true;
        sig->number = shared;
        sig->has_number = true;
    }
    /* Narrowing one need down is pressing (0.3: a decision, enrich.c);
     * a longer streak more so, up to three steps. */
    uint32_t steps = u->refine_streak < 3 ? u->refine_streak : 3;
    mm__evidence_urgency(evd, 0.25f + 0.05f * (float)steps);
    evd->research = true;
    if (u->prev_type < MM_MOMENT__COUNT)
        evd->boost[u->prev_type] += MM__REFINE_CARRY;
}

void mm__detect_rapid(const mm__detect_ctx_t *ctx, mm__evidence_t *evd) {
    if (ctx->ev->type != MM_EVENT_QUERY || !ctx->qa || !ctx->windows)
        return;
    mm__user_t *u = ctx->user;
    int64_t window = ctx->conf->rapid_window_ms;

    uint32_t count = 1; /* this query */
    for (int i = 0; i < MM__QRING; i++)
        if (mm__in_window(ctx, u->q_t[i], window))
            count++;

    /* The previous query is the one stored last (arrival order). */
    uint32_t prev_t = u->q_t[(u->q_head + MM__QRING - 1) % MM__QRING];
    uint32_t shared = 0;
    if (mm__in_window(ctx, prev_t, window))
        shared = shared_terms(u, ctx->qa);
    if (shared > 0)
        refinement(ctx, evd, shared);
    else
        u->refine_streak = 0;

    if (count >= ctx->conf->rapid_min_queries) {
        mm_signal_t *sig = mm__evidence_signal(evd, "rapid_queries");
        if (sig) {
            sig->count = count;
            sig->has_count = true;
            sig->window_ms = window;
            sig->has_window = true;
        }
        mm__evidence_urgency(evd, 0.3f);
        evd->research = true;
    }
    remember_query(u, ctx->qa, ctx->ts);
}
