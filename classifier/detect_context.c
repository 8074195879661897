/*
 * Context: device, channel, local time of day, new vs returning user.
 *
 *   device   go is mainly mobile: a place-seeking query from a mobile
 *            device leans go a little more and is a little more urgent.
 *   channel  maps is where people go to go: a query there leans go
 *            (signal channel=maps). search, social and app are neutral.
 *   hour     local hour = ts + tz_offset_min. A place-seeking query at
 *            lunch (11:00-13:59 local) is someone hungry nearby now: go,
 *            more urgent (signal lunch_time, number = hour). Evening
 *            browsing gets no bonus, which is what sets the two apart.
 *   user     new_user when this event created the user's record (first
 *            seen, or back after the TTL), else returning_user with the
 *            number of earlier events seen (saturating at 65534).
 */
#include <strings.h>

#include "detectors.h"

#define MM__HOUR_MS ((int64_t)3600 * 1000)
#define MM__LUNCH_FIRST 11
#define MM__LUNCH_LAST 13

int8_t mm__local_hour(const mm_event_t *ev, int64_t ts) {
    /* UTC offsets run from -12:00 to +14:00; anything else is noise. A
     * time of 0 or less is an event with no time at all (no ts, no Kafka
     * timestamp, nothing seen before it). */
    if (!ev->has_tz_offset || ev->tz_offset_min < -16 * 60 ||
        ev->tz_offset_min > 16 * 60 || ts <= 0)
        return -1;
    int64_t local = ts + (int64_t)ev->tz_offset_min * 60 * 1000;
    int64_t day = 24 * MM__HOUR_MS;
    int64_t in_day = (local % day + day) % day; /* floor: local may be < 0 */
    return (int8_t)(in_day / MM__HOUR_MS);
}

static bool str_is(mm_str_t s, const char *lit, size_t lit_len) {
    return s.p && s.len == lit_len && strncasecmp(s.p, lit, lit_len) == 0;
}
#define STR_IS(s, lit) str_is((s), (lit), sizeof(lit) - 1)

static void place_context(const mm__detect_ctx_t *ctx, mm__evidence_t *evd) {
    const mm_event_t *ev = ctx->ev;
    bool place = ctx->qa && ctx->qa->place_seeking;
    if (place && STR_IS(ev->device, "mobile")) {
        evd->boost[MM_MOMENT_GO] += 0.1f;
        mm__evidence_urgency(evd, 0.1f);
    }
    if (ctx->qa && STR_IS(ev->channel, "maps")) {
        evd->boost[MM_MOMENT_GO] += 0.25f;
        mm__evidence_urgency(evd, 0.1f);
        mm_signal_t *sig = mm__evidence_signal(evd, "channel");
        if (sig)
            sig->value = MM_STR_LIT("maps");
    }
    int8_t hour = mm__local_hour(ev, ctx->ts);
    if (place && hour >= MM__LUNCH_FIRST && hour <= MM__LUNCH_LAST) {
        evd->boost[MM_MOMENT_GO] += 0.15f;
        mm__evidence_urgency(evd, 0.3f);
        mm_signal_t *sig = mm__evidence_signal(evd, "lunch_time");
        if (sig) {
            sig->number = hour;
            sig->has_number = true;
        }
    }
}

void mm__detect_context(const mm__detect_ctx_t *ctx, mm__evidence_t *evd) {
    if (ctx->ev->type == MM_EVENT_QUERY)
        place_context(ctx, evd);
    if (ctx->is_new) {
        mm__evidence_signal(evd, "new_user");
    } else {
        mm_signal_t *sig = mm__evidence_signal(evd, "returning_user");
        if (sig) {
            sig->count = ctx->user->n_events - 1;
            sig->has_count = true;
        }
    }
}
