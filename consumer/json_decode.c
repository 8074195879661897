/*
 * JSON decoder for input events (RFC 8259), shaped like picohttpparser: one
 * pass over the caller's bytes, no allocation, and never a read past len (the
 * record is not NUL-terminated). json_scan.c does the scanning; this file
 * maps the contract's fields onto mm_event_t. Strings
 * without escapes become views into the record; strings with escapes are
 * unescaped into the caller's scratch, which never needs more than len bytes
 * because an escape is never shorter than what it decodes to.
 *
 * HOW ERRORS ARE CHOSEN. A syntax, encoding or depth error anywhere stops the
 * decoder at once and is what the DLQ header names. A field error (wrong JSON
 * type, too long, ts out of range, unknown type) is remembered, first one
 * wins, and reported only once the whole record has parsed: a record that is
 * both broken and mistyped is reported as broken, which is the more useful
 * thing to tell its producer.
 *
 * DECISIONS (each one is visible in the errstr the DLQ carries):
 * - Duplicate contract keys are BAD_JSON. RFC 8259 leaves them undefined and
 *   two parsers picking different user_ids (say, the Kafka key's producer and
 *   us) is how records end up on the wrong task. Duplicate unknown keys are
 *   not tracked: we never read them.
 * - user_id, event_id and session_id accept a JSON integer literal as its
 *   text (42 -> "42"): numeric ids are common in clickstream exports. A
 *   fraction or exponent is refused, since 42.0 and 42 would name two users.
 * - ts is integer epoch ms. A number written with a fraction or exponent is
 *   accepted when its value is integral (1.7639e12, JavaScript's and
 *   Python's float output); a fractional value or a string is BAD_FIELD_TYPE.
 *   A ts in seconds falls before 2000-01-01 and is TS_OUT_OF_RANGE.
 * - A \u escape naming a lone surrogate is BAD_UTF8: it has no UTF-8 form.
 * - max_field_bytes bounds the decoded bytes of the contract's fields, which
 *   we keep (per-user state, output). Unknown fields are validated and
 *   skipped but bounded only by max_record_bytes: we never keep them.
 * - One leading UTF-8 byte order mark is skipped (RFC 8259 8.1 allows it).
 * - lat/lon set has_geo only when both are present.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_int.h"

/* Short local names: these two appear in every signature below. */
typedef mm_json_parser_t jp_t;
typedef mm_json_value_t jv_t;

void mm_decode_limits_defaults(mm_decode_limits_t *lim) {
    /* librdkafka's default message.max.bytes is about 1 MB: a larger record
     * could not have been produced by a default-configured client. */
    lim->max_record_bytes = 1u << 20;
    /* 16 KiB: the longest contract field in practice is a URL, and servers
     * commonly cap those at 8 KiB; a query is a few hundred bytes at most. */
    lim->max_field_bytes = 16u << 10;
    lim->max_depth = 16;
    lim->ts_min_ms = 946684800000LL;  /* 2000-01-01T00:00:00Z */
    lim->ts_max_ms = 4102444800000LL; /* 2100-01-01T00:00:00Z */
}

/* ---------------------------------------------------------------- fields */

/** A field error: remembered (first wins), decoding goes on. */
__attribute__((format(printf, 4, 5))) static void
field_fail(jp_t *jp, mm_err_t err, const char *field, const char *fmt, ...) {
    if (jp->field_err != MM_ERR_OK)
        return;
    jp->field_err = err;
    if (!jp->errstr || jp->errstr_size == 0)
        return;
    int n = snprintf(jp->errstr, jp->errstr_size, "field %s: ", field);
    if (n < 0 || (size_t)n >= jp->errstr_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(jp->errstr + n, jp->errstr_size - (size_t)n, fmt, ap);
    va_end(ap);
}


typedef enum {
    K_ID,      /* string, integer literal (as text) or null */
    K_STR,     /* string or null */
    K_TYPE,    /* one of the contract's event types */
    K_TS,      /* integer epoch ms within the limits */
    K_LAT,     /* number in [-90, 90] */
    K_LON,     /* number in [-180, 180] */
    K_TZ,      /* integer minutes within +-18 h (ISO 8601's widest offset) */
    K_DURATION, /* non-negative number of ms, rounded */
    K_BOOL     /* true, false or null */
} field_kind_t;

typedef struct field_s {
    const char *name;
    size_t name_len;
    field_kind_t kind;
    size_t str_off; /* K_ID, K_STR: offset of the mm_str_t in mm_event_t */
} field_t;

#define MM__F(name, kind, member) {name, sizeof(name) - 1, kind, offsetof(mm_event_t, member)}
static const field_t fields[] = {
    MM__F("event_id", K_ID, event_id),
    MM__F("user_id", K_ID, user_id),
    MM__F("session_id", K_ID, session_id),
    MM__F("ts", K_TS, ts),
    MM__F("type", K_TYPE, type),
    MM__F("query", K_STR, query),
    MM__F("device", K_STR, device),
    MM__F("channel", K_STR, channel),
    MM__F("lang", K_STR, lang),
    MM__F("lat", K_LAT, lat),
    MM__F("lon", K_LON, lon),
    MM__F("tz_offset_min", K_TZ, tz_offset_min),
    MM__F("url", K_STR, url),
    MM__F("page_load_ms", K_DURATION, page_load_ms),
    MM__F("in_store", K_BOOL, in_store),
};
#undef MM__F
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))
enum { F_USER_ID = 1 }; /* fields[] row of user_id */

/** Decoder state beyond the lexer's. */
typedef struct decode_s {
    const mm_decode_limits_t *lim;
    mm_scratch_t *scratch;
    mm_event_t *ev;
    uint32_t seen; /* bit per fields[] row */
    bool has_type, has_lat, has_lon;
    double lat, lon;
} decode_t;

/** The fields[] row for a key, or -1. Escaped keys are unescaped first. */
static int field_lookup(const jp_t *jp, const jv_t *key) {
    char tmp[32];
    const char *name = (const char *)jp->p + key->start;
    if (key->escaped) {
        if (key->dec_len > sizeof(tmp))
            return -1; /* longer than any field name */
        mm__json_unescape(jp, key, tmp);
        name = tmp;
    }
    for (size_t i = 0; i < N_FIELDS; i++)
        if (fields[i].name_len == key->dec_len &&
            memcmp(fields[i].name, name, key->dec_len) == 0)
            return (int)i;
    return -1;
}

/** A string value as a view into the record, or unescaped into scratch. */
static mm_err_t take_string(jp_t *jp, decode_t *dc, const field_t *f,
                            const jv_t *v, mm_str_t *out) {
    if (v->dec_len > dc->lim->max_field_bytes) {
        field_fail(jp, MM_ERR_FIELD_TOO_LONG, f->name, "%zu bytes, limit %zu",
                   v->dec_len, dc->lim->max_field_bytes);
        return MM_ERR_OK;
    }
    if (!v->escaped) {
        *out = (mm_str_t){(const char *)jp->p + v->start, v->raw_len};
        return MM_ERR_OK;
    }
    mm_scratch_t *sc = dc->scratch;
    if (!sc || !sc->buf || sc->used > sc->cap ||
        sc->cap - sc->used < v->dec_len)
        return mm__json_syn(jp, MM_ERR_FULL, v->start,
                   "decoder scratch too small for field %s (%zu bytes)",
                   f->name, v->dec_len);
    char *dst = sc->buf + sc->used;
    size_t n = mm__json_unescape(jp, v, dst);
    sc->used += n;
    *out = (mm_str_t){dst, n};
    return MM_ERR_OK;
}

typedef enum { NUM_OK, NUM_NOT_INTEGER, NUM_RANGE } num_res_t;

/*
 * strtod needs a NUL-terminated copy (the record is not terminated). It
 * follows LC_NUMERIC, which micromoment never changes from "C". Literals over
 * 127 bytes are refused rather than truncated.
 */
static bool num_double(const jp_t *jp, const jv_t *v, double *out) {
    char tmp[128];
    if (v->raw_len >= sizeof(tmp))
        return false;
    memcpy(tmp, jp->p + v->start, v->raw_len);
    tmp[v->raw_len] = '\0';
    *out = strtod(tmp, NULL);
    return isfinite(*out);
}

static num_res_t num_int64(const jp_t *jp, const jv_t *v, int64_t *out) {
    if (v->integer) {
        const unsigned char *s = jp->p + v->start, *end = s + v->raw_len;
        bool neg = *s == '-';
        uint64_t acc = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
        for (s += neg; s < end; s++) {
            uint64_t d = (uint64_t)(*s - '0');
            if (acc > (lim - d) / 10)
                return NUM_RANGE;
            acc = acc * 10 + d;
        }
        *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
        return NUM_OK;
    }
    double d;
    if (!num_double(jp, v, &d) || fabs(d) >= 9.2e18)
        return NUM_RANGE;
    if (d != trunc(d))
        return NUM_NOT_INTEGER;
    *out = (int64_t)d;
    return NUM_OK;
}

static void wrong_type(jp_t *jp, const field_t *f, const jv_t *v,
                       const char *want) {
    field_fail(jp, MM_ERR_BAD_FIELD_TYPE, f->name, "expected %s, got %s", want,
               mm__json_kind_names[v->kind]);
}

static mm_err_t set_string(jp_t *jp, decode_t *dc, const field_t *f,
                           const jv_t *v) {
    mm_str_t *out = (mm_str_t *)(void *)((char *)dc->ev + f->str_off);
    if (v->kind == MM_JV_STRING)
        return take_string(jp, dc, f, v, out);
    if (v->kind == MM_JV_NULL)
        return MM_ERR_OK;
    if (f->kind == K_ID && v->kind == MM_JV_NUMBER && v->integer) {
        /* The same bound as for a string id (found by fuzz_json_decode). */
        if (v->raw_len > dc->lim->max_field_bytes) {
            field_fail(jp, MM_ERR_FIELD_TOO_LONG, f->name, "%zu bytes, limit %zu",
                       v->raw_len, dc->lim->max_field_bytes);
            return MM_ERR_OK;
        }
        *out = (mm_str_t){(const char *)jp->p + v->start, v->raw_len};
        return MM_ERR_OK;
    }
    wrong_type(jp, f, v,
               f->kind == K_ID ? "a string or an integer" : "a string or null");
    return MM_ERR_OK;
}

/** At most 32 bytes of a raw string for an error message, cut at a
 * character boundary so that errstr stays valid UTF-8. */
static int quote_len(const jp_t *jp, const jv_t *v) {
    size_t n = v->raw_len < 32 ? v->raw_len : 32;
    while (n > 0 && n < v->raw_len && (jp->p[v->start + n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

static void set_type(jp_t *jp, decode_t *dc, const field_t *f,
                     const jv_t *v) {
    char tmp[32];
    const char *s = (const char *)jp->p + v->start;
    if (v->kind == MM_JV_NULL)
        return; /* a null type is a missing one */
    if (v->kind != MM_JV_STRING) {
        wrong_type(jp, f, v, "a string");
        return;
    }
    if (v->escaped && v->dec_len <= sizeof(tmp)) {
        mm__json_unescape(jp, v, tmp);
        s = tmp;
    }
    if ((!v->escaped || v->dec_len <= sizeof(tmp)) &&
        mm_event_type_parse(s, v->dec_len, &dc->ev->type))
        dc->has_type = true;
    else
        field_fail(jp, MM_ERR_UNKNOWN_TYPE, f->name,
                   "unknown event type \"%.*s\"",
                   quote_len(jp, v), (const char *)jp->p + v->start);
}

static void set_ts(jp_t *jp, decode_t *dc, const field_t *f, const jv_t *v) {
    int64_t ts;
    if (v->kind == MM_JV_NULL)
        return;
    if (v->kind != MM_JV_NUMBER) {
        wrong_type(jp, f, v, "integer epoch milliseconds");
        return;
    }
    num_res_t r = num_int64(jp, v, &ts);
    if (r == NUM_NOT_INTEGER) {
        field_fail(jp, MM_ERR_BAD_FIELD_TYPE, f->name,
                   "expected integer epoch milliseconds, got a fraction");
    } else if (r == NUM_RANGE || ts < dc->lim->ts_min_ms ||
               ts > dc->lim->ts_max_ms) {
        field_fail(jp, MM_ERR_TS_OUT_OF_RANGE, f->name,
                   "%.*s is outside [%lld, %lld] epoch ms",
                   (int)(v->raw_len < 40 ? v->raw_len : 40),
                   (const char *)jp->p + v->start,
                   (long long)dc->lim->ts_min_ms,
                   (long long)dc->lim->ts_max_ms);
    } else {
        dc->ev->ts = ts;
        dc->ev->has_ts = true;
    }
}

/** A number within [lo, hi]; false (with a field error) otherwise. */
static bool number_in(jp_t *jp, const field_t *f, const jv_t *v, double lo,
                      double hi, double *out) {
    if (v->kind != MM_JV_NUMBER) {
        wrong_type(jp, f, v, "a number or null");
        return false;
    }
    if (!num_double(jp, v, out) || *out < lo || *out > hi) {
        field_fail(jp, MM_ERR_BAD_FIELD_TYPE, f->name,
                   "%.*s is outside [%g, %g]",
                   (int)(v->raw_len < 40 ? v->raw_len : 40),
                   (const char *)jp->p + v->start, lo, hi);
        return false;
    }
    return true;
}

static void set_number(jp_t *jp, decode_t *dc, const field_t *f,
                       const jv_t *v) {
    double d;
    mm_event_t *ev = dc->ev;
    if (v->kind == MM_JV_NULL)
        return;
    switch (f->kind) {
    case K_LAT:
        if ((dc->has_lat = number_in(jp, f, v, -90, 90, &d)))
            dc->lat = d;
        return;
    case K_LON:
        if ((dc->has_lon = number_in(jp, f, v, -180, 180, &d)))
            dc->lon = d;
        return;
    case K_TZ:
        if (!number_in(jp, f, v, -1080, 1080, &d))
            return;
        if (d != trunc(d)) {
            field_fail(jp, MM_ERR_BAD_FIELD_TYPE, f->name,
                       "expected integer minutes, got a fraction");
            return;
        }
        ev->tz_offset_min = (int32_t)d;
        ev->has_tz_offset = true;
        return;
    default: /* K_DURATION: browsers report fractional ms; 2^53 is exact */
        if (!number_in(jp, f, v, 0, 9007199254740992.0, &d))
            return;
        ev->page_load_ms = (int64_t)llround(d);
        ev->has_page_load_ms = true;
        return;
    }
}

static void set_bool(jp_t *jp, decode_t *dc, const field_t *f, const jv_t *v) {
    if (v->kind == MM_JV_TRUE || v->kind == MM_JV_FALSE)
        dc->ev->in_store = v->kind == MM_JV_TRUE ? 1 : 0;
    else if (v->kind != MM_JV_NULL)
        wrong_type(jp, f, v, "true, false or null");
}

/** mm_json_member_fn for the top-level object: the contract's fields. */
static mm_err_t decode_member(jp_t *jp, const jv_t *key, void *ctx) {
    decode_t *dc = ctx;
    jv_t v;
    int fi = field_lookup(jp, key);
    mm_err_t err = mm__json_read_value(jp, 2, &v);
    if (err != MM_ERR_OK || fi < 0)
        return err;
    const field_t *f = &fields[fi];
    if (dc->seen & (1u << fi))
        return mm__json_syn(jp, MM_ERR_BAD_JSON, key->start - 1,
                            "duplicate key %s",
                   f->name);
    dc->seen |= 1u << fi;
    switch (f->kind) {
    case K_ID:
    case K_STR: return set_string(jp, dc, f, &v);
    case K_TYPE: set_type(jp, dc, f, &v); break;
    case K_TS: set_ts(jp, dc, f, &v); break;
    case K_BOOL: set_bool(jp, dc, f, &v); break;
    default: set_number(jp, dc, f, &v); break;
    }
    return MM_ERR_OK;
}

/** Required fields, checked once the record has parsed. */
static mm_err_t check_required(jp_t *jp, decode_t *dc) {
    const mm_event_t *ev = dc->ev;
    if (jp->field_err != MM_ERR_OK)
        return jp->field_err;
    if (!(dc->seen & (1u << F_USER_ID)))
        return mm__json_syn(jp, MM_ERR_MISSING_USER_ID, MM__JSON_NO_OFFSET,
                            "no user_id field");
    if (!ev->user_id.p || ev->user_id.len == 0)
        return mm__json_syn(jp, MM_ERR_NULL_USER_ID, MM__JSON_NO_OFFSET,
                   "user_id is null or empty");
    if (!dc->has_type)
        return mm__json_syn(jp, MM_ERR_MISSING_TYPE, MM__JSON_NO_OFFSET,
                   "type is missing or null");
    if (dc->has_lat && dc->has_lon) {
        dc->ev->lat = dc->lat;
        dc->ev->lon = dc->lon;
        dc->ev->has_geo = true;
    }
    return MM_ERR_OK;
}

static mm_err_t decode_top(jp_t *jp, decode_t *dc) {
    mm_err_t err;
    if (jp->len >= 3 && memcmp(jp->p, "\xEF\xBB\xBF", 3) == 0)
        jp->pos = 3;
    mm__json_skip_ws(jp);
    if (jp->pos >= jp->len)
        return mm__json_syn(jp, MM_ERR_EMPTY_RECORD, MM__JSON_NO_OFFSET,
                   "record is empty or only whitespace");
    if (jp->p[jp->pos] != '{') {
        jv_t v;
        if ((err = mm__json_read_value(jp, 1, &v)) != MM_ERR_OK ||
            (err = mm__json_expect_end(jp)) != MM_ERR_OK)
            return err;
        return mm__json_syn(jp, MM_ERR_NOT_OBJECT, MM__JSON_NO_OFFSET,
                            "top-level value is %s",
                   mm__json_kind_names[v.kind]);
    }
    if ((err = mm__json_walk_object(jp, 1, decode_member, dc)) != MM_ERR_OK ||
        (err = mm__json_expect_end(jp)) != MM_ERR_OK)
        return err;
    return check_required(jp, dc);
}

mm_err_t mm_decode_json(const char *buf, size_t len,
                        const mm_decode_limits_t *lim, mm_scratch_t *scratch,
                        mm_event_t *ev, char *errstr, size_t errstr_size) {
    mm_decode_limits_t defaults;
    if (!lim) {
        mm_decode_limits_defaults(&defaults);
        lim = &defaults;
    }
    jp_t jp = {.p = (const unsigned char *)buf, .len = len,
               .max_depth = lim->max_depth, .errstr = errstr,
               .errstr_size = errstr_size};
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (len > lim->max_record_bytes)
        return mm__json_syn(&jp, MM_ERR_TOO_LARGE, MM__JSON_NO_OFFSET,
                   "record is %zu bytes, limit %zu",
                   len, lim->max_record_bytes);
    mm_source_t source = ev->source; /* the caller's, kept as documented */
    mm_event_init(ev);
    ev->source = source;
    decode_t dc = {.lim = lim, .scratch = scratch, .ev = ev};
    return decode_top(&jp, &dc);
}
