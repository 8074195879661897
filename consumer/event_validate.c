/*
 * The checks every decoded event passes, whatever its wire format (see
 * event_int.h). Bounds, and why:
 *   text fields  at most lim->max_field_bytes bytes: they are kept (per-user
 *                state, output) so they are bounded; valid UTF-8.
 *   ts           integer epoch ms in [lim->ts_min_ms, lim->ts_max_ms]: a ts
 *                in seconds falls before 2000 and is refused, not misread.
 *   lat, lon     degrees within [-90, 90] and [-180, 180], finite.
 *   tz_offset_min integer minutes within +-18 h (ISO 8601's widest offset).
 *   page_load_ms non-negative, at most 2^53 (exact in a double); fractional
 *                ms (what browsers report) are rounded.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "event_int.h"

const mm__ev_field_desc_t mm__ev_fields[MM__EVF__COUNT] = {
#define MM__EVF_ROW(id, name, kind) {name, sizeof(name) - 1, kind},
    MM__EV_FIELD_MAP(MM__EVF_ROW)
#undef MM__EVF_ROW
};

int mm__ev_field_lookup(const char *name, size_t len) {
    for (int i = 0; i < MM__EVF__COUNT; i++)
        if (mm__ev_fields[i].name_len == len &&
            memcmp(mm__ev_fields[i].name, name, len) == 0)
            return i;
    return -1;
}

void mm__evb_init(mm__evb_t *b, mm_event_t *ev, const mm_decode_limits_t *lim,
                  bool check_utf8, char *errstr, size_t errstr_size) {
    mm_source_t source = ev->source; /* the caller's */
    mm_event_init(ev);
    ev->source = source;
    memset(b, 0, sizeof(*b));
    b->ev = ev;
    b->lim = lim;
    b->check_utf8 = check_utf8;
    b->errstr = errstr;
    b->errstr_size = errstr_size;
    if (errstr && errstr_size)
        errstr[0] = '\0';
}

void mm__evb_fail(mm__evb_t *b, mm_err_t err, mm__ev_field_t f, const char *fmt, ...) {
    if (b->field_err != MM_ERR_OK)
        return;
    b->field_err = err;
    if (!b->errstr || b->errstr_size == 0)
        return;
    int n = snprintf(b->errstr, b->errstr_size, "field %s: ", mm__ev_fields[f].name);
    if (n < 0 || (size_t)n >= b->errstr_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->errstr + n, b->errstr_size - (size_t)n, fmt, ap);
    va_end(ap);
}

static mm_str_t *str_slot(mm_event_t *ev, mm__ev_field_t f) {
    switch (f) {
    case MM__EVF_EVENT_ID: return &ev->event_id;
    case MM__EVF_USER_ID: return &ev->user_id;
    case MM__EVF_SESSION_ID: return &ev->session_id;
    case MM__EVF_QUERY: return &ev->query;
    case MM__EVF_DEVICE: return &ev->device;
    case MM__EVF_CHANNEL: return &ev->channel;
    case MM__EVF_LANG: return &ev->lang;
    case MM__EVF_URL: return &ev->url;
    case MM__EVF_CURRENCY: return &ev->currency;
    default: return NULL;
    }
}

static void seen(mm__evb_t *b, mm__ev_field_t f) { b->seen |= 1u << f; }

void mm__evb_null(mm__evb_t *b, mm__ev_field_t f) { seen(b, f); }

/** At most 32 bytes of a value for a message, cut at a character boundary. */
static int quote_len(const char *p, size_t len) {
    size_t n = len < 32 ? len : 32;
    while (n > 0 && n < len && (p[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

void mm__evb_text(mm__evb_t *b, mm__ev_field_t f, const char *p, size_t len) {
    seen(b, f);
    if (b->check_utf8 && !mm_utf8_valid(p, len)) {
        mm__evb_fail(b, MM_ERR_BAD_UTF8, f, "invalid UTF-8");
        return;
    }
    if (mm__ev_fields[f].kind == MM__EVK_TYPE) {
        if (mm_event_type_parse(p, len, &b->ev->type))
            b->has_type = true;
        else
            mm__evb_fail(b, MM_ERR_UNKNOWN_TYPE, f, "unknown event type \"%.*s\"",
                         quote_len(p, len), p);
        return;
    }
    mm_str_t *slot = str_slot(b->ev, f);
    if (!slot) {
        mm__evb_fail(b, MM_ERR_BAD_FIELD_TYPE, f, "expected a number or a boolean");
        return;
    }
    if (len > b->lim->max_field_bytes) {
        mm__evb_fail(b, MM_ERR_FIELD_TOO_LONG, f, "%zu bytes, limit %zu", len,
                     b->lim->max_field_bytes);
        return;
    }
    *slot = (mm_str_t){p ? p : "", len};
}

void mm__evb_int(mm__evb_t *b, mm__ev_field_t f, int64_t v) {
    mm_event_t *ev = b->ev;
    seen(b, f);
    switch (f) {
    case MM__EVF_TS:
        if (v < b->lim->ts_min_ms || v > b->lim->ts_max_ms) {
            mm__evb_fail(b, MM_ERR_TS_OUT_OF_RANGE, f,
                         "%lld is outside [%lld, %lld] epoch ms", (long long)v,
                         (long long)b->lim->ts_min_ms, (long long)b->lim->ts_max_ms);
            return;
        }
        ev->ts = v;
        ev->has_ts = true;
        return;
    case MM__EVF_TZ_OFFSET_MIN:
        if (v < -1080 || v > 1080) {
            mm__evb_fail(b, MM_ERR_BAD_FIELD_TYPE, f, "%lld is outside [-1080, 1080]",
                         (long long)v);
            return;
        }
        ev->tz_offset_min = (int32_t)v;
        ev->has_tz_offset = true;
        return;
    case MM__EVF_PAGE_LOAD_MS:
        if (v < 0 || v > 9007199254740992LL) {
            mm__evb_fail(b, MM_ERR_BAD_FIELD_TYPE, f, "%lld is outside [0, 2^53]",
                         (long long)v);
            return;
        }
        ev->page_load_ms = v;
        ev->has_page_load_ms = true;
        return;
    default:
        if (mm__ev_fields[f].kind == MM__EVK_DOUBLE)
            mm__evb_double(b, f, (double)v);
        else
            mm__evb_fail(b, MM_ERR_BAD_FIELD_TYPE, f, "expected %s, got an integer",
                         mm__ev_fields[f].kind == MM__EVK_BOOL ? "a boolean" : "a string");
        return;
    }
}

void mm__evb_double(mm__evb_t *b, mm__ev_field_t f, double v) {
    seen(b, f);
    if (f == MM__EVF_VALUE) { /* a conversion's amount: any finite number */
        if (!isfinite(v)) {
            mm__evb_fail(b, MM_ERR_BAD_FIELD_TYPE, f, "not a finite number");
            return;
        }
        b->ev->value = v;
        b->ev->has_value = true;
        return;
    }
    if (f == MM__EVF_LAT || f == MM__EVF_LON) {
        double lim = f == MM__EVF_LAT ? 90 : 180;
        if (!(v >= -lim && v <= lim)) { /* NaN too */
            mm__evb_fail(b, MM_ERR_BAD_FIELD_TYPE, f, "%g is outside [%g, %g]", v, -lim, lim);
            return;
        }
        if (f == MM__EVF_LAT) {
            b->lat = v;
            b->has_lat = true;
        } else {
            b->lon = v;
            b->has_lon = true;
        }
        return;
    }
    if (mm__ev_fields[f].kind != MM__EVK_INT) {
        mm__evb_fail(b, MM_ERR_BAD_FIELD_TYPE, f, "expected %s, got a number",
                     mm__ev_fields[f].kind == MM__EVK_BOOL ? "a boolean" : "a string");
        return;
    }
    if (!isfinite(v) || fabs(v) >= 9.2e18) {
        mm__evb_fail(b, f == MM__EVF_TS ? MM_ERR_TS_OUT_OF_RANGE : MM_ERR_BAD_FIELD_TYPE,
                     f, "%g is out of range", v);
        return;
    }
    if (f == MM__EVF_PAGE_LOAD_MS) { /* browsers report fractional ms */
        mm__evb_int(b, f, (int64_t)llround(v < 0 ? -1 : v));
        return;
    }
    if (v != trunc(v)) {
        mm__evb_fail(b, MM_ERR_BAD_FIELD_TYPE, f, "expected an integer, got a fraction");
        return;
    }
    mm__evb_int(b, f, (int64_t)v);
}

void mm__evb_bool(mm__evb_t *b, mm__ev_field_t f, bool v) {
    seen(b, f);
    if (f != MM__EVF_IN_STORE) {
        mm__evb_fail(b, MM_ERR_BAD_FIELD_TYPE, f, "expected %s, got a boolean",
                     mm__ev_fields[f].kind == MM__EVK_STR ? "a string" : "a number");
        return;
    }
    b->ev->in_store = v ? 1 : 0;
}

mm_err_t mm__evb_finish(mm__evb_t *b) {
    const char *why = NULL;
    mm_err_t err = b->field_err;
    if (err != MM_ERR_OK)
        return err;
    if (!(b->seen & (1u << MM__EVF_USER_ID))) {
        err = MM_ERR_MISSING_USER_ID;
        why = "no user_id field";
    } else if (!b->ev->user_id.p || b->ev->user_id.len == 0) {
        err = MM_ERR_NULL_USER_ID;
        why = "user_id is null or empty";
    } else if (!b->has_type) {
        err = MM_ERR_MISSING_TYPE;
        why = "type is missing or null";
    }
    if (err != MM_ERR_OK) {
        if (b->errstr && b->errstr_size)
            snprintf(b->errstr, b->errstr_size, "%s", why);
        return err;
    }
    if (b->has_lat && b->has_lon) {
        b->ev->lat = b->lat;
        b->ev->lon = b->lon;
        b->ev->has_geo = true;
    }
    return MM_ERR_OK;
}
