/*
 * JSON decoder for input events (RFC 8259), shaped like picohttpparser: one
 * pass over the caller's bytes, no allocation, and never a read past len (the
 * record is not NUL-terminated). json_scan.c does the scanning; this file
 * hands the contract's fields to the event builder (event_validate.c), which
 * holds the checks the Avro decoder shares. Strings
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
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "event_int.h"
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
/*
 * What a value must be, its bounds and the required fields are the event
 * builder's (event_validate.c), shared with the Avro decoder. This file only
 * says what JSON adds: which JSON value kinds a field accepts, numeric ids
 * as text, duplicate keys, and where unescaped strings go.
 */

/** Decoder state beyond the lexer's. */
typedef struct decode_s {
    mm__evb_t evb;
    mm_scratch_t *scratch;
    uint32_t keys; /* bit per mm__ev_field_t: the key appeared (duplicates) */
    int next;      /* the field after the last one found: tried first */
} decode_t;

static bool is_id(mm__ev_field_t f) {
    return f == MM__EVF_EVENT_ID || f == MM__EVF_USER_ID || f == MM__EVF_SESSION_ID;
}

/** What a field accepts, for "expected X, got Y". */
static const char *wanted(mm__ev_field_t f) {
    if (is_id(f))
        return "a string or an integer";
    switch (mm__ev_fields[f].kind) {
    case MM__EVK_STR: return "a string or null";
    case MM__EVK_TYPE: return "a string";
    case MM__EVK_BOOL: return "true, false or null";
    default: return f == MM__EVF_TS ? "integer epoch milliseconds" : "a number or null";
    }
}

static void wrong_type(decode_t *dc, mm__ev_field_t f, const jv_t *v) {
    mm__evb_fail(&dc->evb, MM_ERR_BAD_FIELD_TYPE, f, "expected %s, got %s", wanted(f),
                 mm__json_kind_names[v->kind]);
}

/** memcmp(a, b, n) == 0 for a field name's length: two overlapping word
 * loads instead of a library call. Both sides hold at least n bytes. */
static inline bool same_bytes(const char *a, const char *b, size_t n) {
    if (n >= 8 && n <= 16) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + n - 8, 8);
        memcpy(&b1, b + n - 8, 8);
        return a0 == b0 && a1 == b1;
    }
    if (n >= 4 && n < 8) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4);
        memcpy(&b0, b, 4);
        memcpy(&a1, a + n - 4, 4);
        memcpy(&b1, b + n - 4, 4);
        return a0 == b0 && a1 == b1;
    }
    return memcmp(a, b, n) == 0;
}

/*
 * A producer writes its fields in one order, most often the contract's, so
 * the field after the last one found is tried first: one comparison instead
 * of a walk through the table for a record in that order. Any other order
 * still finds every field (the table), only slower.
 */
static int field_lookup(const jp_t *jp, const jv_t *key, decode_t *dc) {
    char tmp[32];
    const char *name = (const char *)jp->p + key->start;
    if (key->escaped) {
        if (key->dec_len > sizeof(tmp))
            return -1; /* longer than any field name */
        mm__json_unescape(jp, key, tmp);
        name = tmp;
    }
    int f = dc->next;
    if (f >= MM__EVF__COUNT || mm__ev_fields[f].name_len != key->dec_len ||
        !same_bytes(mm__ev_fields[f].name, name, key->dec_len))
        f = mm__ev_field_lookup(name, key->dec_len);
    if (f >= 0)
        dc->next = f + 1;
    return f;
}

/** A string value: a view into the record, or unescaped into scratch. */
static mm_err_t set_string(jp_t *jp, decode_t *dc, mm__ev_field_t f, const jv_t *v) {
    const char *raw = (const char *)jp->p + v->start;
    if (mm__ev_fields[f].kind == MM__EVK_TYPE) {
        /* Parsed, not kept: a short escaped name unescapes on the stack. */
        char tmp[32];
        if (v->escaped && v->dec_len <= sizeof(tmp)) {
            mm__json_unescape(jp, v, tmp);
            mm__evb_text(&dc->evb, f, tmp, v->dec_len);
        } else {
            mm__evb_text(&dc->evb, f, raw, v->raw_len); /* refused: quoted as sent */
        }
        return MM_ERR_OK;
    }
    if (mm__ev_fields[f].kind != MM__EVK_STR) {
        wrong_type(dc, f, v);
        return MM_ERR_OK;
    }
    if (!v->escaped || v->dec_len > dc->evb.lim->max_field_bytes) {
        /* too long: the builder refuses it before anything is copied */
        mm__evb_text(&dc->evb, f, raw, v->dec_len);
        return MM_ERR_OK;
    }
    mm_scratch_t *sc = dc->scratch;
    if (!sc || !sc->buf || sc->used > sc->cap || sc->cap - sc->used < v->dec_len)
        return mm__json_syn(jp, MM_ERR_FULL, v->start,
                            "decoder scratch too small for field %s (%zu bytes)",
                            mm__ev_fields[f].name, v->dec_len);
    char *dst = sc->buf + sc->used;
    size_t n = mm__json_unescape(jp, v, dst);
    sc->used += n;
    mm__evb_text(&dc->evb, f, dst, n);
    return MM_ERR_OK;
}

/*
 * Clinger's fast path: a literal whose digits, without the point, make an
 * integer m <= 2^53 and whose power of ten e has |e| <= 22 is m * 10^e or
 * m / 10^-e, where both operands are exact doubles and IEEE 754 rounds the
 * one operation correctly, which is the value strtod returns. Coordinates
 * (55.68355) and decimal page loads are all of this kind. Anything else
 * (more digits, a larger exponent) returns false and goes to strtod.
 */
static bool num_double_fast(const unsigned char *s, size_t n, double *out) {
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
    return false; /* x87: an operation in extended precision rounds twice */
#endif
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const unsigned char *end = s + n;
    bool neg = s < end && *s == '-';
    uint64_t m = 0;
    int e = 0;
    s += neg;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (m > (1ull << 53) / 10)
            return false;
        m = m * 10 + (uint64_t)(*s - '0');
    }
    if (s < end && *s == '.') {
        for (s++; s < end && *s >= '0' && *s <= '9'; s++, e--) {
            if (m > (1ull << 53) / 10)
                return false;
            m = m * 10 + (uint64_t)(*s - '0');
        }
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        bool eneg = ++s < end && *s == '-';
        if (s < end && (*s == '-' || *s == '+'))
            s++;
        int x = 0;
        for (; s < end && *s >= '0' && *s <= '9'; s++)
            if ((x = x * 10 + (*s - '0')) > 400)
                return false;
        e += eneg ? -x : x;
    }
    if (s != end || m > (1ull << 53) || e < -22 || e > 22)
        return false;
    double d = (double)m;
    d = e < 0 ? d / pow10[-e] : d * pow10[e];
    *out = neg ? -d : d;
    return true;
}

/*
 * strtod needs a NUL-terminated copy (the record is not terminated). It
 * follows LC_NUMERIC, which micromoment never changes from "C". A literal
 * over 127 bytes counts as out of range rather than being truncated.
 */
static double num_double(const jp_t *jp, const jv_t *v) {
    char tmp[128];
    double d;
    if (v->raw_len >= sizeof(tmp))
        return INFINITY;
    if (num_double_fast(jp->p + v->start, v->raw_len, &d))
        return d;
    memcpy(tmp, jp->p + v->start, v->raw_len);
    tmp[v->raw_len] = '\0';
    return strtod(tmp, NULL);
}

/** An integer literal that fits int64_t, exactly (a double would round). */
static bool num_int64(const jp_t *jp, const jv_t *v, int64_t *out) {
    const unsigned char *s = jp->p + v->start, *end = s + v->raw_len;
    bool neg = *s == '-';
    uint64_t acc = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
    s += neg;
    if (end - s <= 18) { /* below 10^18: cannot overflow, no check per digit */
        for (; s < end; s++)
            acc = acc * 10 + (uint64_t)(*s - '0');
        *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
        return true;
    }
    for (; s < end; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (acc > (lim - d) / 10)
            return false;
        acc = acc * 10 + d;
    }
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return true;
}

static void set_number(jp_t *jp, decode_t *dc, mm__ev_field_t f, const jv_t *v) {
    mm__ev_kind_t kind = mm__ev_fields[f].kind;
    if (is_id(f) && v->integer) {
        /* A numeric id is its text: 42 -> "42" (42.0 would name another user). */
        mm__evb_text(&dc->evb, f, (const char *)jp->p + v->start, v->raw_len);
        return;
    }
    if (kind != MM__EVK_INT && kind != MM__EVK_DOUBLE) {
        wrong_type(dc, f, v);
        return;
    }
    int64_t i;
    if (v->integer && num_int64(jp, v, &i))
        mm__evb_int(&dc->evb, f, i);
    else
        mm__evb_double(&dc->evb, f, num_double(jp, v));
}

/** mm_json_member_fn for the top-level object: the contract's fields. */
static mm_err_t decode_member(jp_t *jp, const jv_t *key, void *ctx) {
    decode_t *dc = ctx;
    jv_t v;
    int fi = field_lookup(jp, key, dc);
    mm_err_t err = mm__json_read_value(jp, 2, &v);
    if (err != MM_ERR_OK || fi < 0)
        return err;
    mm__ev_field_t f = (mm__ev_field_t)fi;
    if (dc->keys & (1u << f))
        return mm__json_syn(jp, MM_ERR_BAD_JSON, key->start - 1, "duplicate key %s",
                            mm__ev_fields[f].name);
    dc->keys |= 1u << f;
    switch (v.kind) {
    case MM_JV_NULL: mm__evb_null(&dc->evb, f); break;
    case MM_JV_STRING: return set_string(jp, dc, f, &v);
    case MM_JV_NUMBER: set_number(jp, dc, f, &v); break;
    case MM_JV_TRUE:
    case MM_JV_FALSE:
        if (mm__ev_fields[f].kind == MM__EVK_BOOL)
            mm__evb_bool(&dc->evb, f, v.kind == MM_JV_TRUE);
        else
            wrong_type(dc, f, &v);
        break;
    default: wrong_type(dc, f, &v); break;
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
    return mm__evb_finish(&dc->evb);
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
    decode_t dc = {.scratch = scratch};
    /* The scanner checks UTF-8 as it goes: the builder need not again. */
    mm__evb_init(&dc.evb, ev, lim, false, errstr, errstr_size);
    return decode_top(&jp, &dc);
}
