/*
 * Friction: slow pages and bounces.
 *
 * A page_view slower than slow_page_ms, or a page left within bounce_ms
 * (the user's next page-level event is another query, page_view or
 * app_open rather than a click, scroll or cart add on it), is friction the
 * person hit on the way. Neither is a moment by itself: both are signals
 * on the user's NEXT moment (slow_page: number = load ms; bounce: number =
 * dwell ms), if it comes within friction_carry_ms, because that moment is
 * what personalization acts on ("they just bounced off a slow page: show
 * the fast answer"). A slow page also shows as a signal in the explanation
 * of its own page_view, so metrics can count it. Friction does not change
 * the scores: it says how the person got here, not what they want.
 */
#include "detectors.h"

static bool closes_page(mm_event_type_t type) {
    return type != MM_EVENT_LOCATION; /* a ping is not an action on the page */
}

static bool leaves_page(mm_event_type_t type) {
    return type == MM_EVENT_QUERY || type == MM_EVENT_PAGE_VIEW ||
           type == MM_EVENT_APP_OPEN;
}

static bool can_make_moment(mm_event_type_t type) {
    return type == MM_EVENT_QUERY || type == MM_EVENT_LOCATION ||
           type == MM_EVENT_ADD_TO_CART || type == MM_EVENT_PURCHASE;
}

static uint32_t sat_u32(int64_t v) {
    return v < 0 ? 0 : v > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static void signal_ms(mm__evidence_t *evd, const char *name, uint32_t ms) {
    mm_signal_t *sig = mm__evidence_signal(evd, name);
    if (sig) {
        sig->number = ms;
        sig->has_number = true;
    }
}

static void observe_page(const mm__detect_ctx_t *ctx, mm__evidence_t *evd) {
    mm__user_t *u = ctx->user;
    const mm_event_t *ev = ctx->ev;
    if ((u->flags & MM__UF_PAGE_OPEN) && closes_page(ev->type)) {
        u->flags &= (uint8_t)~MM__UF_PAGE_OPEN;
        int64_t dwell = mm__t_age(u, u->last_page_t, ctx->ts);
        if (leaves_page(ev->type) && dwell >= 0 && dwell <= ctx->conf->bounce_ms) {
            u->flags |= MM__UF_BOUNCE;
            u->bounce_dwell_ms = sat_u32(dwell);
            u->friction_t = mm__t_pack(u, ctx->ts);
        }
    }
    if (ev->type != MM_EVENT_PAGE_VIEW)
        return;
    u->flags |= MM__UF_PAGE_OPEN;
    u->last_page_t = mm__t_pack(u, ctx->ts);
    if (ev->has_page_load_ms && ev->page_load_ms > ctx->conf->slow_page_ms) {
        u->flags |= MM__UF_SLOW;
        u->slow_page_ms = sat_u32(ev->page_load_ms);
        u->friction_t = mm__t_pack(u, ctx->ts);
        signal_ms(evd, "slow_page", u->slow_page_ms);
    }
}

void mm__detect_friction(const mm__detect_ctx_t *ctx, mm__evidence_t *evd) {
    if (!ctx->windows)
        return;
    mm__user_t *u = ctx->user;
    observe_page(ctx, evd);
    if (!(u->flags & (MM__UF_SLOW | MM__UF_BOUNCE)) ||
        !can_make_moment(ctx->ev->type))
        return;
    if (!mm__t_within(u, u->friction_t, ctx->ts, ctx->conf->friction_carry_ms)) {
        u->flags &= (uint8_t)~(MM__UF_SLOW | MM__UF_BOUNCE); /* stale */
        return;
    }
    if (u->flags & MM__UF_SLOW)
        signal_ms(evd, "slow_page", u->slow_page_ms);
    if (u->flags & MM__UF_BOUNCE)
        signal_ms(evd, "bounce", u->bounce_dwell_ms);
    evd->friction = true;
}

void mm__friction_consumed(const mm__detect_ctx_t *ctx) {
    ctx->user->flags &= (uint8_t)~(MM__UF_SLOW | MM__UF_BOUNCE);
}
