/*
 * In-store: the person is inside a store, so a product query there is a
 * purchase decision being made on the spot (buy), not research.
 *
 * In store when the event says so (in_store true), or, when it does not
 * say, its position lies inside one of the rules' places (places.c: a
 * binary search and a few circles). An explicit in_store false wins over
 * the places (the client knows it is in the car park). A position inside a
 * place names it: the in_store signal's value is the place's id.
 *
 * Between direct observations a visit is remembered for burst_window_ms,
 * so "does this come in blue" typed without a position right after an
 * in-store ping still counts, but only for the device that was there: the
 * record keeps a 16-bit fingerprint of the observing event's session and
 * device, and the memory applies to events with the same fingerprint. A
 * desktop query at home minutes after the phone pinged from the shop is
 * not in store (and does not end the phone's visit either); a second
 * session on one device is another device here, which errs towards no
 * in-store. Two different devices share a fingerprint once in 65,536.
 */
#include <string.h>
#include <xxhash.h>

#include "detectors.h"

/* In store, naming a product is choosing one: enough to turn "best X" and
 * "what is a blender" into buy, not enough to outvote "how to use X". */
#define MM__PRODUCT_BUY 0.8f

uint16_t mm__device_fp(const mm_event_t *ev) {
    /* Absent and empty hash alike: an event without either field is the
     * same "device" as any other event without it. */
    uint64_t h = XXH3_64bits(ev->session_id.p ? ev->session_id.p : "", ev->session_id.len);
    h = XXH3_64bits_withSeed(ev->device.p ? ev->device.p : "", ev->device.len, h);
    return (uint16_t)(h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48));
}

/* Direct evidence: 1 in, 0 out, -1 the event does not tell. */
static int observe(const mm__detect_ctx_t *ctx, const mm_place_t **place) {
    const mm_event_t *ev = ctx->ev;
    *place = NULL;
    if (ev->in_store >= 0)
        return ev->in_store ? 1 : 0;
    if (ev->has_geo && ctx->places) {
        *place = mm__places_find(ctx->places, ev->lat, ev->lon);
        return *place ? 1 : 0;
    }
    return -1;
}

void mm__detect_instore(const mm__detect_ctx_t *ctx, mm__evidence_t *evd) {
    mm__user_t *u = ctx->user;
    const mm_place_t *place;
    int seen = observe(ctx, &place);
    bool in = seen == 1;
    if (ctx->windows && seen == 1) {
        u->last_instore_t = mm__t_pack(u, ctx->ts);
        u->instore_fp = mm__device_fp(ctx->ev);
    } else if (ctx->windows && u->last_instore_t != 0 &&
               u->instore_fp == mm__device_fp(ctx->ev)) {
        if (seen == 0)
            u->last_instore_t = 0; /* this device left the store */
        else
            in = mm__t_within(u, u->last_instore_t, ctx->ts, ctx->conf->burst_window_ms);
    }
    if (!in)
        return;
    evd->in_store = true;
    mm_signal_t *sig = mm__evidence_signal(evd, "in_store");
    if (sig && place)
        sig->value = (mm_str_t){place->id, strlen(place->id)};
    if (ctx->ev->type == MM_EVENT_QUERY && ctx->qa && ctx->qa->product) {
        evd->boost[MM_MOMENT_BUY] += MM__PRODUCT_BUY;
        mm__evidence_urgency(evd, 0.4f);
    }
}
