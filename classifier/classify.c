/*
 * mm_classify: the composition of the text side and the behavioural side.
 *
 * SCORING
 *   query event   scores = text scores (mm__query_analyze) + the detectors'
 *                 boosts, each clipped to [0, 1]. A non-query event that
 *                 triggers a moment (location burst, cart/purchase after a
 *                 buy moment) gets behavioural scores instead: burst
 *                 go = 0.6 + 0.1 per ping over K, cart buy = 0.9, purchase
 *                 buy = 1.0.
 *   type          mm__query_decide over those scores: the one rule the
 *                 product and the quality test share (argmax, ties to enum
 *                 order; no moment when the top score is below
 *                 min_confidence). Behaviour can lift a query over the bar
 *                 (a bare "starbucks" during a location burst is go).
 *   confidence    top + (1 - top) * 0.5 * urgency, clipped to [0, 1]: the
 *                 winning score, closed halfway towards certainty by the
 *                 behavioural urgency (rapid queries, refinements, a burst,
 *                 lunch near me, in store, a cart add). It is never below
 *                 the top score, so the decision bar and the confidence
 *                 agree: a moment's confidence is >= min_confidence.
 *
 * A query event yields at most one moment, any other event at most one
 * (its trigger). State is updated the same whether or not the moment fits
 * the caller's array, so the output depends on the input alone.
 */
#include <string.h>

#include "detectors.h"

#define MM__URGENCY_GAIN 0.5f

static int64_t event_time(const mm_state_t *state, const mm_event_t *ev) {
    if (ev->has_ts || ev->ts > 0)
        return ev->ts; /* `ts`, or the Kafka timestamp the caller set */
    /* No time at all: the newest this task has seen, so the event lands
     * "now" in event time and stays deterministic. */
    return mm__state_watermark(state);
}

static void run_detectors(const mm__detect_ctx_t *ctx, mm__evidence_t *evd) {
    /* Order is signal priority when MM_SIGNALS_MAX is reached. */
    mm__detect_cart(ctx, evd);
    mm__detect_location(ctx, evd);
    mm__detect_instore(ctx, evd);
    mm__detect_rapid(ctx, evd);
    mm__detect_friction(ctx, evd);
    mm__detect_context(ctx, evd);
}

static float clip01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

/* Scores of a query, or of a non-query event's trigger (none: all zero). */
static void final_scores(const mm__detect_ctx_t *ctx, const mm__evidence_t *evd,
                         float scores[MM_MOMENT__COUNT]) {
    memset(scores, 0, sizeof(float) * MM_MOMENT__COUNT);
    if (ctx->qa) {
        for (int k = 0; k < MM_MOMENT__COUNT; k++)
            scores[k] = clip01(ctx->qa->scores[k] + evd->boost[k]);
        return;
    }
    uint32_t over = 0;
    switch (evd->trigger) {
    case MM__TRIGGER_BURST:
        over = (uint32_t)evd->burst_count - ctx->conf->burst_min_pings;
        scores[MM_MOMENT_GO] = clip01(0.6f + 0.1f * (float)over);
        break;
    case MM__TRIGGER_CART:
        scores[MM_MOMENT_BUY] = 0.9f;
        break;
    case MM__TRIGGER_PURCHASE:
        scores[MM_MOMENT_BUY] = 1.0f;
        break;
    case MM__TRIGGER_NONE:
        break;
    }
}

static void copy_signals(const mm_query_analysis_t *qa, const mm__evidence_t *evd,
                         mm_signal_t *out, uint32_t *n_out) {
    uint32_t n = 0;
    for (uint32_t i = 0; qa && i < qa->n_signals && i < MM_QUERY_SIGNALS_MAX &&
                         n < MM_SIGNALS_MAX; i++)
        out[n++] = qa->signals[i];
    for (uint32_t i = 0; i < evd->n_signals && n < MM_SIGNALS_MAX; i++)
        out[n++] = evd->signals[i];
    *n_out = n;
}

static void fill_explain(const mm_query_analysis_t *qa, const mm__evidence_t *evd,
                         const float scores[MM_MOMENT__COUNT], mm_explain_t *ex) {
    memcpy(ex->scores, scores, sizeof(ex->scores));
    ex->lang = qa ? qa->lang : NULL;
    ex->lang_inferred = qa ? qa->lang_inferred : false;
    copy_signals(qa, evd, ex->signals, &ex->n_signals);
}

static void fill_moment(const mm__detect_ctx_t *ctx, const mm__evidence_t *evd,
                        const float scores[MM_MOMENT__COUNT],
                        mm_moment_type_t type, float confidence, mm_moment_t *m) {
    m->type = type;
    m->confidence = confidence;
    memcpy(m->scores, scores, sizeof(m->scores));
    m->ordinal = 0;
    m->late = false; /* the caller knows the partition's order */
    m->lateness_ms = 0;
    m->event = ctx->ev;
    copy_signals(ctx->qa, evd, m->signals, &m->n_signals);
    mm__enrich(ctx, evd, m);
}

/* The shared decision rule, then the behavioural confidence boost. */
static bool decide(const mm_rules_t *rules, const mm__evidence_t *evd,
                   const float scores[MM_MOMENT__COUNT], mm_moment_type_t *type,
                   float *confidence) {
    mm_query_analysis_t scored;
    memset(&scored, 0, sizeof(scored));
    memcpy(scored.scores, scores, sizeof(scored.scores));
    float top = 0.0f;
    bool yes = mm__query_decide(rules, &scored, type, &top);
    *confidence = clip01(top + (1.0f - top) * MM__URGENCY_GAIN * evd->urgency);
    return yes;
}

mm_err_t mm_classify(const mm_rules_t *rules, mm_state_t *state,
                     const mm_event_t *ev, mm_moment_t *moments,
                     size_t *n_moments, mm_explain_t *explain) {
    size_t cap = *n_moments;
    *n_moments = 0;
    int64_t ts = event_time(state, ev);
    mm__touch_t touch;
    mm__user_t *user = mm__state_touch(state, ev->user_id, ts,
                                       rules->conf.allowed_lateness_ms, &touch);

    mm_query_analysis_t qa;
    bool is_query = ev->type == MM_EVENT_QUERY;
    if (is_query) {
        mm_str_t q = ev->query.p ? ev->query : MM_STR_LIT("");
        mm__query_analyze(rules, q, ev->lang, &qa);
    }
    mm__detect_ctx_t ctx = {.conf = &rules->conf,
                            .places = rules->places,
                            .ev = ev,
                            .qa = is_query ? &qa : NULL,
                            .user = user,
                            .ts = ts,
                            .windows = !touch.late,
                            .is_new = touch.is_new};
    mm__evidence_t evd;
    memset(&evd, 0, sizeof(evd));
    run_detectors(&ctx, &evd);

    float scores[MM_MOMENT__COUNT];
    final_scores(&ctx, &evd, scores);
    if (explain)
        fill_explain(ctx.qa, &evd, scores, explain);

    mm_moment_type_t type = MM_MOMENT_KNOW;
    float confidence = 0.0f;
    bool due = (is_query || evd.trigger != MM__TRIGGER_NONE) &&
               decide(rules, &evd, scores, &type, &confidence);
    if (!due)
        return MM_ERR_OK;
    mm__note_moment(&ctx, type);
    if (evd.friction)
        mm__friction_consumed(&ctx);
    if (cap < 1)
        return MM_ERR_FULL;
    fill_moment(&ctx, &evd, scores, type, confidence, &moments[0]);
    /* The strategy speaks the query's language (hinted or inferred), else
     * the event's hint; English when the rules have neither. */
    mm_str_t lang = is_query && qa.lang ? (mm_str_t){qa.lang, strlen(qa.lang)} : ev->lang;
    moments[0].strategy = mm_rules_strategy(rules, type, lang);
    *n_moments = 1;
    return MM_ERR_OK;
}
