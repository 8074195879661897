/*
 * Enrichment: the journey stage and local hour of a moment, plus the small
 * evidence helpers every detector shares.
 *
 * Journey stage, first rule that applies:
 *   post-purchase  a purchase triggered it, or the user has purchased while
 *                  tracked and this is know/do (support: "how to clean
 *                  suede"); a new buy/go after a purchase starts over.
 *   decision       a cart add after a buy moment; or buy/go with urgency
 *                  (>= MM__URGENT: rapid queries, refinements, a burst,
 *                  lunch near me, in store).
 *   consideration  buy/go without urgency (comparing options); repeated
 *                  research (rapid queries, refinements); or know layered
 *                  with buy or go ("best running shoes": know + buy).
 *   awareness      everything else: know, and do (learning how).
 * The strategy is the rules' row for the type in the event's language
 * (mm_rules_strategy), set by mm_classify.
 */
#include "detectors.h"

#define MM__URGENT 0.3f
#define MM__LAYERED 0.3f /* a second intent this strong makes know layered */

mm_signal_t *mm__evidence_signal(mm__evidence_t *evd, const char *name) {
    if (evd->n_signals >= MM_SIGNALS_MAX)
        return NULL;
    mm_signal_t *sig = &evd->signals[evd->n_signals++];
    *sig = (mm_signal_t){.name = name};
    return sig;
}

void mm__evidence_urgency(mm__evidence_t *evd, float add) {
    evd->urgency += add;
    if (evd->urgency > 1.0f)
        evd->urgency = 1.0f;
}

static mm_journey_stage_t stage_of(const mm__evidence_t *evd,
                                   const mm_moment_t *m) {
    bool acts = m->type == MM_MOMENT_BUY || m->type == MM_MOMENT_GO;
    bool learns = m->type == MM_MOMENT_KNOW || m->type == MM_MOMENT_DO;
    if (evd->trigger == MM__TRIGGER_PURCHASE || (evd->post_purchase && learns))
        return MM_STAGE_POST_PURCHASE;
    if (evd->trigger == MM__TRIGGER_CART)
        return MM_STAGE_DECISION;
    if (acts && (evd->urgency >= MM__URGENT || evd->in_store))
        return MM_STAGE_DECISION;
    if (acts || evd->research)
        return MM_STAGE_CONSIDERATION;
    if (m->type == MM_MOMENT_KNOW && (m->scores[MM_MOMENT_BUY] >= MM__LAYERED ||
                                      m->scores[MM_MOMENT_GO] >= MM__LAYERED))
        return MM_STAGE_CONSIDERATION;
    return MM_STAGE_AWARENESS;
}

void mm__enrich(const mm__detect_ctx_t *ctx, const mm__evidence_t *evd,
                mm_moment_t *m) {
    m->stage = stage_of(evd, m);
    m->local_hour = mm__local_hour(ctx->ev, ctx->ts);
}
