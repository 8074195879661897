/*
 * User profiles: what the state remembers of a user's moments and
 * conversions for the services that act on them (mm_state_conf_t.profiles).
 *
 * Per user, in the profile array beside the records (state_int.h): the
 * latest moment of each type (its source offset and ordinal, from which the
 * sink derives its moment_id, and its time), moments per type since the
 * start of the current counting window (a tumbling window of
 * profile_window_ms on event time: simple, and the same input always counts
 * the same), the journey stage of the latest moment, and the last conversion.
 *
 * Attribution credits a conversion to the user's latest moment of each type
 * within the window before it: one per type, so a long run of buy moments
 * does not crowd out the know moment that started the journey.
 */
#include <string.h>

#include "classifier_int.h"
#include "state_int.h"

size_t mm_profile_attribute(const mm_state_t *st, const mm_event_t *ev, int64_t window_ms,
                            mm_attribution_t *out, size_t max) {
    const mm__user_t *u = mm__state_find(st, ev->user_id);
    mm__user_ext_t *x = u ? mm__state_ext((mm_state_t *)st, u) : NULL;
    if (!x || !ev->has_ts)
        return 0;
    size_t n = 0;
    for (int t = 0; t < MM_MOMENT__COUNT; t++) {
        if (!x->last_t[t] || !mm__t_within(u, x->last_t[t], ev->ts, window_ms))
            continue;
        mm_attribution_t a = {
            .type = (mm_moment_type_t)t,
            .offset = x->last_off[t],
            .ordinal = x->last_ord[t],
            .age_ms = mm__t_age(u, x->last_t[t], ev->ts),
        };
        /* Newest first: insert before the first older one. */
        size_t at = n;
        while (at > 0 && out[at - 1].age_ms > a.age_ms)
            at--;
        if (at >= max)
            continue;
        size_t last = n < max ? n : max - 1;
        memmove(&out[at + 1], &out[at], (last - at) * sizeof(out[0]));
        out[at] = a;
        if (n < max)
            n++;
    }
    return n;
}

void mm_profile_record(mm_state_t *st, const mm_event_t *ev, const mm_moment_t *moments,
                       size_t n, bool conversion) {
    mm__user_t *u = mm__state_find_mut(st, ev->user_id);
    mm__user_ext_t *x = u ? mm__state_ext(st, u) : NULL;
    if (!x || !ev->has_ts)
        return;
    int64_t window = mm__state_conf(st)->profile_window_ms;
    if (n > 0 && (!x->count_t || !mm__t_within(u, x->count_t, ev->ts, window))) {
        memset(x->count, 0, sizeof(x->count));
        x->count_t = mm__t_pack(u, ev->ts);
    }
    for (size_t i = 0; i < n; i++) {
        const mm_moment_t *m = &moments[i];
        x->last_off[m->type] = ev->source.offset;
        x->last_ord[m->type] = m->ordinal;
        x->last_t[m->type] = mm__t_pack(u, ev->ts);
        if (x->count[m->type] < UINT16_MAX)
            x->count[m->type]++;
        x->stage = (uint8_t)(m->stage + 1);
    }
    if (conversion) {
        x->conv_t = mm__t_pack(u, ev->ts);
        x->conv_type = (uint8_t)ev->type;
        x->flags = (uint8_t)(ev->has_value ? x->flags | MM__XF_CONV_VALUE
                                           : x->flags & ~MM__XF_CONV_VALUE);
        x->conv_value = (float)ev->value;
        memset(x->conv_currency, 0, sizeof(x->conv_currency));
        if (ev->currency.p && ev->currency.len <= sizeof(x->conv_currency))
            memcpy(x->conv_currency, ev->currency.p, ev->currency.len);
    }
}

/* Event time of packed @p t (0: never). */
static int64_t unpack(const mm__user_t *u, uint32_t t) {
    return t ? u->base_ts + (int64_t)t - 1 : 0;
}

bool mm_profile_get(const mm_state_t *st, mm_str_t user_id, mm_profile_t *out) {
    memset(out, 0, sizeof(*out));
    const mm__user_t *u = mm__state_find(st, user_id);
    mm__user_ext_t *x = u ? mm__state_ext((mm_state_t *)st, u) : NULL;
    if (!x)
        return false;
    for (int t = 0; t < MM_MOMENT__COUNT; t++) {
        out->last[t] = (mm_profile_moment_t){
            .present = x->last_t[t] != 0,
            .offset = x->last_off[t],
            .ordinal = x->last_ord[t],
            .ts = unpack(u, x->last_t[t]),
        };
        out->counts[t] = x->count[t];
    }
    out->counts_since = unpack(u, x->count_t);
    out->has_stage = x->stage != 0;
    out->stage = out->has_stage ? (mm_journey_stage_t)(x->stage - 1) : MM_STAGE_AWARENESS;
    out->has_conversion = x->conv_t != 0;
    out->conversion_type = (mm_event_type_t)x->conv_type;
    out->conversion_ts = unpack(u, x->conv_t);
    out->has_value = out->has_conversion && (x->flags & MM__XF_CONV_VALUE);
    out->conversion_value = x->conv_value;
    memcpy(out->currency, x->conv_currency, sizeof(x->conv_currency));
    out->currency[3] = '\0';
    out->n_events = u->n_events;
    out->last_ts = u->last_ts;
    return true;
}
