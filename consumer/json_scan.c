/*
 * RFC 8259 scanner behind mm_decode_json() and mm_json_valid(): strings
 * (escapes, surrogate pairs, UTF-8), numbers, literals and nesting, checked
 * in one pass over the caller's bytes. It never reads past len (records are
 * not NUL-terminated: every peek checks the bound first), allocates nothing,
 * and recurses at most max_depth frames of a few words each.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json_int.h"

/* Short local names: these two appear in every signature below. */
typedef mm_json_parser_t jp_t;
typedef mm_json_value_t jv_t;

const char *const mm__json_kind_names[] = {
    "a string", "a number", "true", "false", "null", "an object", "an array"};

__attribute__((format(printf, 3, 0))) static void
put_err(jp_t *jp, size_t off, const char *fmt, va_list ap) {
    if (!jp->errstr || jp->errstr_size == 0)
        return;
    int n = 0;
    if (off != MM__JSON_NO_OFFSET)
        n = snprintf(jp->errstr, jp->errstr_size, "offset %zu: ", off);
    if (n < 0 || (size_t)n >= jp->errstr_size)
        return;
    vsnprintf(jp->errstr + n, jp->errstr_size - (size_t)n, fmt, ap);
}

mm_err_t mm__json_syn(jp_t *jp, mm_err_t err, size_t off,
                      const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    put_err(jp, off, fmt, ap);
    va_end(ap);
    return err;
}

/** "expected X, got 'c'" or "... unexpected end of record". */
static mm_err_t expected(jp_t *jp, const char *what) {
    if (jp->pos >= jp->len)
        return mm__json_syn(jp, MM_ERR_BAD_JSON, jp->pos,
                   "unexpected end of record, expected %s", what);
    unsigned char c = jp->p[jp->pos];
    if (c > 0x20 && c < 0x7f)
        return mm__json_syn(jp, MM_ERR_BAD_JSON, jp->pos,
                            "expected %s, got '%c'",
                   what, c);
    return mm__json_syn(jp, MM_ERR_BAD_JSON, jp->pos,
                        "expected %s, got byte 0x%02x",
               what, c);
}

/*
 * Byte classes, one table lookup per byte (picohttpparser's token_char_map):
 * WS is JSON whitespace; STOP ends a run of plain string bytes ('"', '\\'
 * or a control character, which is an error inside a string).
 */
enum { C_WS = 1, C_STOP = 2 };
static const unsigned char byte_class[256] = {
    C_STOP, C_STOP, C_STOP, C_STOP, C_STOP, C_STOP, C_STOP, C_STOP, /* 0x00 */
    C_STOP, C_WS | C_STOP, C_WS | C_STOP, C_STOP,                    /* \t \n */
    C_STOP, C_WS | C_STOP, C_STOP, C_STOP,                           /* \r */
    C_STOP, C_STOP, C_STOP, C_STOP, C_STOP, C_STOP, C_STOP, C_STOP, /* 0x10 */
    C_STOP, C_STOP, C_STOP, C_STOP, C_STOP, C_STOP, C_STOP, C_STOP,
    [' '] = C_WS,
    ['"'] = C_STOP,
    ['\\'] = C_STOP,
};

/* Whitespace is rare between tokens of a producer's JSON: the first test
 * is the whole cost in the common case. */
static inline void skip_ws(jp_t *jp) {
    while (jp->pos < jp->len && (byte_class[jp->p[jp->pos]] & C_WS))
        jp->pos++;
}

void mm__json_skip_ws(jp_t *jp) { skip_ws(jp); }

static bool eat(jp_t *jp, unsigned char c) {
    if (jp->pos < jp->len && jp->p[jp->pos] == c) {
        jp->pos++;
        return true;
    }
    return false;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int hex_val(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/** Four hex digits at p[at..at+4), bounds-checked against len. */
static bool hex4(const unsigned char *p, size_t len, size_t at, uint32_t *out) {
    if (at > len || len - at < 4)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        int h = hex_val(p[at + i]);
        if (h < 0)
            return false;
        v = (v << 4) | (uint32_t)h;
    }
    *out = v;
    return true;
}

static size_t utf8_len_of(uint32_t cp) {
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/**
 * Validate the escape at p[i] == '\\'. Sets *adv to its raw length and *dec
 * to the bytes it decodes to. A high surrogate must be followed by a \u low
 * surrogate; both halves make one 4-byte character.
 */
__attribute__((noinline)) static mm_err_t scan_escape(jp_t *jp, size_t i, size_t *adv,
                                                   size_t *dec) {
    if (i + 1 >= jp->len)
        return mm__json_syn(jp, MM_ERR_BAD_JSON, i, "unterminated escape");
    unsigned char e = jp->p[i + 1];
    if (strchr("\"\\/bfnrt", e) && e != '\0') {
        *adv = 2;
        *dec = 1;
        return MM_ERR_OK;
    }
    if (e != 'u')
        return mm__json_syn(jp, MM_ERR_BAD_JSON, i,
                            "invalid escape character 0x%02x",
                   e);
    uint32_t cp, lo;
    if (!hex4(jp->p, jp->len, i + 2, &cp))
        return mm__json_syn(jp, MM_ERR_BAD_JSON, i,
                            "\\u needs four hex digits");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return mm__json_syn(jp, MM_ERR_BAD_UTF8, i,
                            "lone low surrogate \\u%04X", cp);
    if (cp < 0xD800 || cp > 0xDBFF) {
        *adv = 6;
        *dec = utf8_len_of(cp);
        return MM_ERR_OK;
    }
    size_t j = i + 6;
    if (j + 1 >= jp->len || jp->p[j] != '\\' || jp->p[j + 1] != 'u')
        return mm__json_syn(jp, MM_ERR_BAD_UTF8, i,
                            "lone high surrogate \\u%04X", cp);
    if (!hex4(jp->p, jp->len, j + 2, &lo))
        return mm__json_syn(jp, MM_ERR_BAD_JSON, j,
                            "\\u needs four hex digits");
    if (lo < 0xDC00 || lo > 0xDFFF)
        return mm__json_syn(jp, MM_ERR_BAD_UTF8, i,
                   "high surrogate \\u%04X not followed by a low one", cp);
    *adv = 12;
    *dec = 4;
    return MM_ERR_OK;
}

/*
 * Eight bytes at a time (SIMD-free): the high bit of each byte of the result
 * is set where that byte is '"', '\\' or below 0x20. A borrow can also flag
 * a byte above a true stop, never one below the first, so the lowest flag is
 * exactly the first stop and "no flag" means "no stop" (the other flags are
 * never used). Bytes of 0x80 and up are not stops: their high bit is masked.
 */
#define ONES8 0x0101010101010101ull
#define HIGHS8 (ONES8 * 0x80)

static inline uint64_t load8_le(const unsigned char *s) {
    uint64_t w;
    memcpy(&w, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w); /* the first byte in the low bits, as below */
#endif
    return w;
}

static inline uint64_t stops8(uint64_t w) {
    uint64_t q = w ^ (ONES8 * '"'), b = w ^ (ONES8 * '\\');
    return ((w - ONES8 * 0x20) | (q - ONES8) | (b - ONES8)) & ~w & HIGHS8;
}

/**
 * From p[i], the index of the first stop byte ('"', '\\', a control
 * character), or len when there is none; *high gets the OR of the bytes
 * before it (is any of them non-ASCII?). A leaf: no calls.
 */
static inline size_t scan_plain(const unsigned char *p, size_t i, size_t len,
                                uint64_t *high) {
    uint64_t h = *high;
    while (len - i >= 8) { /* i <= len always */
        uint64_t w = load8_le(p + i), m = stops8(w);
        if (m) {
            uint64_t first = m & (0 - m); /* bit 7 of the first stop */
            *high = h | (w & (first - 1)); /* only the bytes before it */
            return i + ((size_t)__builtin_ctzll(first) >> 3);
        }
        h |= w;
        i += 8;
    }
    while (i < len && !(byte_class[p[i]] & C_STOP))
        h |= p[i++];
    *high = h;
    return i;
}

/**
 * The rest of a string after its first stop byte at @p i: escapes, errors,
 * and the UTF-8 check when a byte of 0x80 or more was seen. Out of line, so
 * that the common string (plain bytes up to its quote) costs no more than
 * the scan.
 */
__attribute__((noinline)) static mm_err_t scan_string_rest(jp_t *jp, jv_t *v, size_t i,
                                                           uint64_t high) {
    const unsigned char *p = jp->p;
    size_t len = jp->len, saved = 0; /* bytes escapes save */
    for (;;) {
        if (i >= len)
            return mm__json_syn(jp, MM_ERR_BAD_JSON, jp->pos, "unterminated string");
        unsigned char c = p[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return mm__json_syn(jp, MM_ERR_BAD_JSON, i,
                       "control character 0x%02x in string", c);
        size_t adv = 0, n = 0; /* c == '\\' */
        mm_err_t err = scan_escape(jp, i, &adv, &n);
        if (err != MM_ERR_OK)
            return err;
        v->escaped = true;
        saved += adv - n;
        i = scan_plain(p, i + adv, len, &high);
    }
    v->raw_len = i - v->start;
    v->dec_len = v->raw_len - saved;
    /* Escapes are ASCII, so checking the raw bytes checks every literal
     * character, including one an escape would split. */
    if ((high & HIGHS8) &&
        !mm_utf8_valid((const char *)jp->p + v->start, v->raw_len))
        return mm__json_syn(jp, MM_ERR_BAD_UTF8, v->start,
                            "string is not valid UTF-8");
    jp->pos = i + 1;
    return MM_ERR_OK;
}

/**
 * A string at jp->pos == '"': syntax, escapes and UTF-8 all checked. Runs of
 * plain bytes are skipped a word at a time; only a stop byte ('"', '\\', a
 * control character) is looked at alone, and UTF-8 is checked once, at the
 * end, only when a byte of 0x80 or more was seen.
 */
static inline mm_err_t scan_string(jp_t *jp, jv_t *v) {
    size_t start = jp->pos + 1;
    uint64_t high = 0;
    size_t i = scan_plain(jp->p, start, jp->len, &high);
    v->kind = MM_JV_STRING;
    v->start = start;
    v->escaped = false;
    if (i < jp->len && jp->p[i] == '"' && !(high & HIGHS8)) {
        v->raw_len = v->dec_len = i - start;
        jp->pos = i + 1;
        return MM_ERR_OK;
    }
    return scan_string_rest(jp, v, i, high);
}

static size_t put_utf8(char *out, uint32_t cp) {
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    size_t n = utf8_len_of(cp);
    if (n == 1) {
        out[0] = (char)cp;
        return 1;
    }
    for (size_t i = n - 1; i > 0; i--, cp >>= 6)
        out[i] = (char)(0x80 | (cp & 0x3F));
    out[0] = (char)(lead[n] | cp);
    return n;
}

static char simple_escape(unsigned char e) {
    static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
    const char *hit = strchr(from, e);
    return hit ? to[hit - from] : (char)e; /* '"', '\\', '/' */
}

/**
 * Unescape a string scan_string() accepted into out (v->dec_len bytes).
 * No checks: scan_string() proved every escape well-formed and in bounds.
 */
size_t mm__json_unescape(const jp_t *jp, const jv_t *v,
                         char *out) {
    const unsigned char *s = jp->p + v->start;
    size_t n = v->raw_len, o = 0, i = 0;
    while (i < n) {
        const unsigned char *bs = memchr(s + i, '\\', n - i);
        size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
        memcpy(out + o, s + i, run);
        o += run;
        i += run;
        if (i >= n)
            break;
        if (s[i + 1] != 'u') {
            out[o++] = simple_escape(s[i + 1]);
            i += 2;
            continue;
        }
        uint32_t cp = 0, lo = 0;
        hex4(s, n, i + 2, &cp);
        i += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            hex4(s, n, i + 2, &lo);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
        }
        o += put_utf8(out + o, cp);
    }
    return o;
}

/** One or more digits at jp->pos, else "expected <where>". */
static inline mm_err_t scan_digits(jp_t *jp, const char *where) {
    const unsigned char *p = jp->p;
    size_t i = jp->pos, len = jp->len;
    if (i >= len || !is_digit(p[i]))
        return expected(jp, where);
    while (++i < len && is_digit(p[i]))
        ;
    jp->pos = i;
    return MM_ERR_OK;
}

/** -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static mm_err_t scan_number(jp_t *jp, jv_t *v) {
    mm_err_t err;
    v->kind = MM_JV_NUMBER;
    v->start = jp->pos;
    v->integer = true;
    eat(jp, '-');
    if (eat(jp, '0')) {
        if (jp->pos < jp->len && is_digit(jp->p[jp->pos]))
            return mm__json_syn(jp, MM_ERR_BAD_JSON, jp->pos,
                                "leading zero in number");
    } else if ((err = scan_digits(jp, "a digit")) != MM_ERR_OK) {
        return err;
    }
    if (eat(jp, '.')) {
        v->integer = false;
        if ((err = scan_digits(jp, "a digit after '.'")) != MM_ERR_OK)
            return err;
    }
    if (eat(jp, 'e') || eat(jp, 'E')) {
        v->integer = false;
        if (!eat(jp, '+'))
            eat(jp, '-');
        if ((err = scan_digits(jp, "a digit in the exponent")) != MM_ERR_OK)
            return err;
    }
    v->raw_len = jp->pos - v->start;
    return MM_ERR_OK;
}

/** The literal @p word (@p n bytes, no NUL needed) at jp->pos. */
static mm_err_t scan_literal(jp_t *jp, const char *word, size_t n, mm_json_kind_t kind,
                             jv_t *v) {
    if (jp->len - jp->pos < n || memcmp(jp->p + jp->pos, word, n) != 0)
        return mm__json_syn(jp, MM_ERR_BAD_JSON, jp->pos,
                            "invalid literal, expected %s",
                   word);
    v->kind = kind;
    v->start = jp->pos;
    v->raw_len = n;
    jp->pos += n;
    return MM_ERR_OK;
}

/* ---------------------------------------------------------------- parser */

/** Called on each member of an object, positioned at the value. */

static mm_err_t check_depth(jp_t *jp, uint32_t depth) {
    if (depth > jp->max_depth)
        return mm__json_syn(jp, MM_ERR_TOO_DEEP, jp->pos,
                            "nesting deeper than %u",
                   jp->max_depth);
    return MM_ERR_OK;
}

/**
 * Walk the object at jp->pos == '{' (at nesting @p depth). With fn NULL the
 * members are validated and skipped; the recursion is bounded by max_depth.
 */
mm_err_t mm__json_walk_object(jp_t *jp, uint32_t depth,
                              mm_json_member_fn fn,
                            void *ctx) {
    mm_err_t err = check_depth(jp, depth);
    if (err != MM_ERR_OK)
        return err;
    jp->pos++;
    skip_ws(jp);
    if (eat(jp, '}'))
        return MM_ERR_OK;
    for (;;) {
        jv_t key, val;
        if (jp->pos >= jp->len || jp->p[jp->pos] != '"')
            return expected(jp, "a string key");
        if ((err = scan_string(jp, &key)) != MM_ERR_OK)
            return err;
        skip_ws(jp);
        if (!eat(jp, ':'))
            return expected(jp, "':' after object key");
        skip_ws(jp);
        err = fn ? fn(jp, &key, ctx) : mm__json_read_value(jp, depth + 1, &val);
        if (err != MM_ERR_OK)
            return err;
        skip_ws(jp);
        if (eat(jp, '}'))
            return MM_ERR_OK;
        if (!eat(jp, ','))
            return expected(jp, "',' or '}' after object member");
        skip_ws(jp);
    }
}

static mm_err_t walk_array(jp_t *jp, uint32_t depth) {
    mm_err_t err = check_depth(jp, depth);
    if (err != MM_ERR_OK)
        return err;
    jp->pos++;
    skip_ws(jp);
    if (eat(jp, ']'))
        return MM_ERR_OK;
    for (;;) {
        jv_t val;
        if ((err = mm__json_read_value(jp, depth + 1, &val)) != MM_ERR_OK)
            return err;
        skip_ws(jp);
        if (eat(jp, ']'))
            return MM_ERR_OK;
        if (!eat(jp, ','))
            return expected(jp, "',' or ']' after array element");
        skip_ws(jp);
    }
}

/** Any value; a container at this position is at nesting @p depth. */
mm_err_t mm__json_read_value(jp_t *jp, uint32_t depth,
                             jv_t *v) {
    skip_ws(jp);
    if (jp->pos >= jp->len)
        return expected(jp, "a value");
    unsigned char c = jp->p[jp->pos];
    v->start = jp->pos;
    switch (c) {
    case '"': return scan_string(jp, v);
    case '{':
        v->kind = MM_JV_OBJECT;
        return mm__json_walk_object(jp, depth, NULL, NULL);
    case '[': v->kind = MM_JV_ARRAY; return walk_array(jp, depth);
    case 't': return scan_literal(jp, "true", 4, MM_JV_TRUE, v);
    case 'f': return scan_literal(jp, "false", 5, MM_JV_FALSE, v);
    case 'n': return scan_literal(jp, "null", 4, MM_JV_NULL, v);
    default:
        if (c == '-' || is_digit(c))
            return scan_number(jp, v);
        return expected(jp, "a value");
    }
}

mm_err_t mm__json_expect_end(jp_t *jp) {
    skip_ws(jp);
    if (jp->pos != jp->len)
        return mm__json_syn(jp, MM_ERR_BAD_JSON, jp->pos,
                   "trailing characters after the JSON value");
    return MM_ERR_OK;
}

bool mm_json_valid(const char *buf, size_t len, uint32_t max_depth) {
    jp_t jp = {.p = (const unsigned char *)buf, .len = len,
               .max_depth = max_depth};
    jv_t v;
    return mm__json_read_value(&jp, 1, &v) == MM_ERR_OK &&
           mm__json_expect_end(&jp) == MM_ERR_OK;
}

