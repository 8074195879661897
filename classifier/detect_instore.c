/*
 * In-store: the person is inside a store, so a product query there is a
 * purchase decision being made on the spot (buy), not research.
 *
 * In store when the event says so (in_store true), or, when it does not
 * say, its position lies inside a configured store geofence (at most
 * MM_GEOFENCES_MAX circles, scanned linearly with a cheap latitude
 * prefilter: ~64 compares in the worst case, none with no stores). An
 * explicit in_store false wins over the geofence (the client knows it is
 * in the car park). Between direct observations a visit is remembered for
 * burst_window_ms, so "does this come in blue" typed without a position
 * right after an in-store ping still counts.
 */
#include "detectors.h"

/* In store, naming a product is choosing one: enough to turn "best X" and
 * "what is a blender" into buy, not enough to outvote "how to use X". */
#define MM__PRODUCT_BUY 0.8f
#define MM__M_PER_DEG_LAT 111195.0

bool mm__in_geofence(const mm_rules_conf_t *conf, double lat, double lon) {
    for (uint32_t i = 0; i < conf->n_geofences && i < MM_GEOFENCES_MAX; i++) {
        const mm_geofence_t *g = &conf->geofences[i];
        double dlat_m = (lat - g->lat) * MM__M_PER_DEG_LAT;
        if (dlat_m > g->radius_m || dlat_m < -g->radius_m)
            continue;
        if (mm__geo_distance_m(lat, lon, g->lat, g->lon) <= g->radius_m)
            return true;
    }
    return false;
}

/* Direct evidence: 1 in, 0 out, -1 the event does not tell. */
static int observe(const mm__detect_ctx_t *ctx) {
    const mm_event_t *ev = ctx->ev;
    if (ev->in_store >= 0)
        return ev->in_store ? 1 : 0;
    if (ev->has_geo && ctx->conf->n_geofences > 0)
        return mm__in_geofence(ctx->conf, ev->lat, ev->lon) ? 1 : 0;
    return -1;
}

void mm__detect_instore(const mm__detect_ctx_t *ctx, mm__evidence_t *evd) {
    mm__user_t *u = ctx->user;
    int seen = observe(ctx);
    bool in = seen == 1;
    if (seen == 1 && ctx->windows)
        u->last_instore_t = mm__t_pack(u, ctx->ts);
    else if (seen == 0 && ctx->windows)
        u->last_instore_t = 0; /* left the store */
    else if (seen == -1 && ctx->windows)
        in = mm__t_within(u, u->last_instore_t, ctx->ts, ctx->conf->burst_window_ms);
    if (!in)
        return;
    evd->in_store = true;
    mm__evidence_signal(evd, "in_store");
    if (ctx->ev->type == MM_EVENT_QUERY && ctx->qa && ctx->qa->product) {
        evd->boost[MM_MOMENT_BUY] += MM__PRODUCT_BUY;
        mm__evidence_urgency(evd, 0.4f);
    }
}
