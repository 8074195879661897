/*
 * Cart and purchase after a buy moment: conversions attributed to the
 * moment that preceded them.
 *
 * An add_to_cart within cart_after_buy_ms (event time) after the user's
 * last buy moment is itself a buy moment in the decision stage (signal
 * cart_after_buy); a purchase in that window is one in the post-purchase
 * stage (signal purchase_after_buy). Both carry the elapsed time (number,
 * ms) and the window. A cart moment refreshes the buy moment's time, so a
 * purchase after a cart add after a buy query stays attributed. Without a
 * recent buy moment a cart add or purchase yields no moment, but a
 * purchase still marks the user post-purchase while tracked.
 */
#include "detectors.h"

static void attribute(const mm__detect_ctx_t *ctx, mm__evidence_t *evd,
                      bool purchase, int64_t since) {
    evd->trigger = purchase ? MM__TRIGGER_PURCHASE : MM__TRIGGER_CART;
    mm_signal_t *sig =
        mm__evidence_signal(evd, purchase ? "purchase_after_buy" : "cart_after_buy");
    if (sig) {
        sig->number = (double)since;
        sig->has_number = true;
        sig->window_ms = ctx->conf->cart_after_buy_ms;
        sig->has_window = true;
    }
    mm__evidence_urgency(evd, 1.0f);
}

void mm__detect_cart(const mm__detect_ctx_t *ctx, mm__evidence_t *evd) {
    mm__user_t *u = ctx->user;
    bool cart = ctx->ev->type == MM_EVENT_ADD_TO_CART;
    bool purchase = ctx->ev->type == MM_EVENT_PURCHASE;
    if ((cart || purchase) && ctx->windows) {
        int64_t since = mm__t_age(u, u->last_buy_t, ctx->ts);
        if (since >= 0 && since <= ctx->conf->cart_after_buy_ms)
            attribute(ctx, evd, purchase, since);
        if (purchase) {
            u->last_purchase_t = mm__t_pack(u, ctx->ts);
            u->flags |= MM__UF_PURCHASED;
        }
    }
    evd->post_purchase = purchase || (u->flags & MM__UF_PURCHASED);
}

void mm__note_moment(const mm__detect_ctx_t *ctx, mm_moment_type_t type) {
    if (!ctx->windows)
        return; /* a late event's moment does not move the windows */
    mm__user_t *u = ctx->user;
    u->prev_type = (uint8_t)type;
    if (type == MM_MOMENT_BUY)
        u->last_buy_t = mm__t_pack(u, ctx->ts);
}
