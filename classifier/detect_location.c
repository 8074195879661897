/*
 * Location bursts: K or more location pings or place-seeking queries by one
 * user within R metres and T (event time) is someone looking for a place
 * around them now: a go moment, even without a query.
 *
 * The burst is measured around the newest known position (this event's, or
 * the newest positioned ring entry in the window); entries without a
 * position (a "near me" query with no lat/lon) count as nearby, since the
 * person asked about where they are. A burst triggers a moment on a
 * location event at most once per window; a query during a burst carries
 * the burst's evidence in its own moment instead. Any query reads the burst
 * (a bare "starbucks" typed while pinging around a square is go), but only
 * pings and place-seeking queries are part of it.
 *
 * Positions are stored as int32 1e-7 degrees (~1 cm) to halve the ring.
 */
#include <math.h>

#include "detectors.h"

#define MM__EARTH_R_M 6371008.8
#define MM__DEG2RAD (3.14159265358979323846 / 180.0)

double mm__geo_distance_m(double lat1, double lon1, double lat2, double lon2) {
    double dlon = lon2 - lon1;
    if (dlon > 180)
        dlon -= 360; /* the short way round the antimeridian */
    else if (dlon < -180)
        dlon += 360;
    double x = dlon * MM__DEG2RAD * cos((lat1 + lat2) * 0.5 * MM__DEG2RAD);
    double y = (lat2 - lat1) * MM__DEG2RAD;
    return MM__EARTH_R_M * sqrt(x * x + y * y);
}

static bool geo_valid(const mm_event_t *ev) {
    return ev->has_geo && ev->lat >= -90 && ev->lat <= 90 && ev->lon >= -180 &&
           ev->lon <= 180; /* also false for NaN */
}

static int32_t to_e7(double deg) { return (int32_t)lround(deg * 1e7); }

/* Newest positioned entry in the window, for an event without position. */
static bool ring_anchor(const mm__user_t *u, int64_t ts, int64_t window,
                        int32_t *lat, int32_t *lon) {
    int64_t best_age = INT64_MAX;
    for (int i = 0; i < MM__LRING; i++) {
        int64_t age = mm__t_age(u, u->loc_t[i], ts);
        if (u->loc_lat[i] == MM__GEO_UNKNOWN || age < 0 || age > window ||
            age >= best_age)
            continue;
        best_age = age;
        *lat = u->loc_lat[i];
        *lon = u->loc_lon[i];
    }
    return best_age != INT64_MAX;
}

static uint32_t count_nearby(const mm__detect_ctx_t *ctx, uint32_t self,
                             bool anchored, int32_t lat, int32_t lon) {
    const mm__user_t *u = ctx->user;
    uint32_t count = self; /* this event, when it is a ping itself */
    for (int i = 0; i < MM__LRING; i++) {
        if (!mm__in_window(ctx, u->loc_t[i], ctx->conf->burst_window_ms))
            continue;
        if (anchored && u->loc_lat[i] != MM__GEO_UNKNOWN &&
            mm__geo_distance_m(lat * 1e-7, lon * 1e-7, u->loc_lat[i] * 1e-7,
                               u->loc_lon[i] * 1e-7) > ctx->conf->burst_radius_m)
            continue;
        count++;
    }
    return count;
}

static void burst(const mm__detect_ctx_t *ctx, mm__evidence_t *evd,
                  uint32_t count) {
    mm__user_t *u = ctx->user;
    evd->burst_count = count;
    mm_signal_t *sig = mm__evidence_signal(evd, "location_burst");
    if (sig) {
        sig->count = count;
        sig->has_count = true;
        sig->window_ms = ctx->conf->burst_window_ms;
        sig->has_window = true;
    }
    evd->boost[MM_MOMENT_GO] += 0.3f;
    mm__evidence_urgency(evd, 0.3f);
    int64_t since = mm__t_age(u, u->last_burst_t, ctx->ts);
    bool quiet = since < 0 || since >= ctx->conf->burst_window_ms;
    if (ctx->ev->type == MM_EVENT_LOCATION && quiet)
        evd->trigger = MM__TRIGGER_BURST;
    if (ctx->ev->type == MM_EVENT_QUERY || quiet)
        u->last_burst_t = mm__t_pack(u, ctx->ts);
}

void mm__detect_location(const mm__detect_ctx_t *ctx, mm__evidence_t *evd) {
    const mm_event_t *ev = ctx->ev;
    bool has_geo = geo_valid(ev);
    bool query = ev->type == MM_EVENT_QUERY && ctx->qa;
    bool ping = (ev->type == MM_EVENT_LOCATION && has_geo) ||
                (query && ctx->qa->place_seeking);
    if (!(ping || query) || !ctx->windows)
        return;
    mm__user_t *u = ctx->user;
    int32_t lat = MM__GEO_UNKNOWN, lon = 0;
    bool anchored = has_geo;
    if (has_geo) {
        lat = to_e7(ev->lat);
        lon = to_e7(ev->lon);
    } else {
        anchored = ring_anchor(u, ctx->ts, ctx->conf->burst_window_ms, &lat, &lon);
    }
    uint32_t count = count_nearby(ctx, ping ? 1 : 0, anchored, lat, lon);
    if (count >= ctx->conf->burst_min_pings)
        burst(ctx, evd, count);
    if (!ping)
        return;
    u->loc_t[u->loc_head] = mm__t_pack(u, ctx->ts);
    u->loc_lat[u->loc_head] = has_geo ? to_e7(ev->lat) : MM__GEO_UNKNOWN;
    u->loc_lon[u->loc_head] = has_geo ? to_e7(ev->lon) : 0;
    u->loc_head = (uint8_t)((u->loc_head + 1) % MM__LRING);
}
