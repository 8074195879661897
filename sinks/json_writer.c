/*
 * JSON writer into a fixed caller buffer: the one place micromoment builds
 * JSON (never printf). Whatever bytes it is given, the output is valid JSON:
 * quotes, backslashes and control characters are escaped and invalid UTF-8
 * becomes U+FFFD, one per maximal ill-formed subpart (Unicode's recommended
 * practice, what browsers do).
 *
 * Commas are the writer's job: need_comma[d] says the container at depth d
 * already holds an item. A value right after a key needs none; rather than
 * widen the struct for that, begin_item() looks at the last byte written,
 * which is ':' exactly when a key was just written (a value never ends in
 * ':' outside a string, and strings end in '"').
 *
 * Overflow: a write that does not fit is dropped whole, overflow turns true
 * and every later write is a no-op, so nothing lands past cap and a caller
 * checks mm_jw_ok() once at the end. Misuse (closing more than was opened,
 * nesting past MM_JW_MAX_DEPTH) is reported the same way.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sinks.h"

void mm_jw_init(mm_jw_t *jw, char *buf, size_t cap) {
    memset(jw, 0, sizeof(*jw));
    jw->buf = buf;
    jw->cap = buf ? cap : 0;
}

bool mm_jw_ok(const mm_jw_t *jw) { return !jw->overflow; }

static inline void copy8(char *d, const char *s) {
    uint64_t w;
    memcpy(&w, s, 8);
    memcpy(d, &w, 8);
}

/*
 * memcpy for the short pieces a moment is made of (keys, ids, names) without
 * the library call: two moves that overlap, each inside [0, n) of both sides.
 */
static inline void copy(char *d, const char *s, size_t n) {
    if (n >= 8 && n <= 16) {
        copy8(d, s);
        copy8(d + n - 8, s + n - 8);
    } else if (n > 16 && n <= 32) {
        copy8(d, s);
        copy8(d + 8, s + 8);
        copy8(d + n - 16, s + n - 16);
        copy8(d + n - 8, s + n - 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else {
        memcpy(d, s, n);
    }
}

static inline void put(mm_jw_t *jw, const void *p, size_t n) {
    if (jw->overflow)
        return;
    if (n > jw->cap - jw->len) {
        jw->overflow = true;
        return;
    }
    copy(jw->buf + jw->len, p, n);
    jw->len += n;
}

static inline void put_c(mm_jw_t *jw, char c) {
    if (jw->overflow)
        return;
    if (jw->len >= jw->cap) {
        jw->overflow = true;
        return;
    }
    jw->buf[jw->len++] = c;
}

/** The comma before an item (key or array element), when it has a sibling. */
static inline void begin_item(mm_jw_t *jw) {
    if (jw->overflow || jw->depth == 0)
        return;
    if (jw->len > 0 && jw->buf[jw->len - 1] == ':')
        return; /* the value of the key just written */
    if (jw->need_comma[jw->depth - 1])
        put_c(jw, ',');
    jw->need_comma[jw->depth - 1] = true;
}

static void open_container(mm_jw_t *jw, char c) {
    begin_item(jw);
    if (jw->depth >= MM_JW_MAX_DEPTH) {
        jw->overflow = true;
        return;
    }
    put_c(jw, c);
    jw->need_comma[jw->depth++] = false;
}

static void close_container(mm_jw_t *jw, char c) {
    if (jw->depth == 0) {
        jw->overflow = true;
        return;
    }
    jw->depth--;
    put_c(jw, c);
}

void mm_jw_object_open(mm_jw_t *jw) { open_container(jw, '{'); }
void mm_jw_object_close(mm_jw_t *jw) { close_container(jw, '}'); }
void mm_jw_array_open(mm_jw_t *jw) { open_container(jw, '['); }
void mm_jw_array_close(mm_jw_t *jw) { close_container(jw, ']'); }


static void put_escape(mm_jw_t *jw, unsigned char c) {
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 0, 0, 0, 0, 0};
    switch (c) {
    case '"': e[1] = '"'; break;
    case '\\': e[1] = '\\'; break;
    case '\b': e[1] = 'b'; break;
    case '\f': e[1] = 'f'; break;
    case '\n': e[1] = 'n'; break;
    case '\r': e[1] = 'r'; break;
    case '\t': e[1] = 't'; break;
    default:
        memcpy(e + 1, "u00", 3);
        e[4] = hex[c >> 4];
        e[5] = hex[c & 15];
        put(jw, e, 6);
        return;
    }
    put(jw, e, 2);
}

/*
 * Eight bytes at a time (SIMD-free): the high bit of each byte of the result
 * is set where the byte needs care: a control character, '"', '\\' or a
 * non-ASCII byte. A borrow can also flag a byte above a true one, never one
 * below the first, so the lowest flag is exactly the first byte that needs
 * care and "no flag" means none does. Most text is plain ASCII and this was
 * the writer's hottest loop.
 */
#define ONES8 0x0101010101010101ull
#define HIGHS8 (ONES8 * 0x80)

static inline uint64_t le64(uint64_t w) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w); /* the first byte in the low bits, as below */
#endif
    return w;
}

static inline uint64_t care8(uint64_t w) {
    uint64_t q = w ^ (ONES8 * '"'), b = w ^ (ONES8 * '\\');
    return (((w - ONES8 * 0x20) | (q - ONES8) | (b - ONES8)) & ~w & HIGHS8) | (w & HIGHS8);
}

static inline uint64_t load64(const unsigned char *s) {
    uint64_t w;
    memcpy(&w, s, 8);
    return le64(w);
}

/** Bytes s[0, 4) and s[n-4, n) as one word (they overlap when n < 8). */
static inline uint64_t load_4_4(const unsigned char *s, size_t n) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + n - 4, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    a = __builtin_bswap32(a);
    b = __builtin_bswap32(b);
#endif
    return (uint64_t)a | (uint64_t)b << 32;
}

static inline bool plain(unsigned char c) {
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/*
 * The length of the run of plain ASCII bytes at the start of s[0, n), never
 * reading outside it. The last word is loaded so that it ends at s + n,
 * overlapping bytes already found plain, which cannot be flagged (there is
 * no borrow without a byte that needs care below them); a string of 4 to 7
 * bytes is one word made of two overlapping halves, the same way.
 */
static inline size_t plain_run(const unsigned char *s, size_t n) {
    uint64_t m;
    if (n >= 8) {
        size_t i = 0;
        for (; n - i > 8; i += 8)
            if ((m = care8(load64(s + i))) != 0)
                return i + ((size_t)__builtin_ctzll(m) >> 3);
        m = care8(load64(s + n - 8));
        return m ? n - 8 + ((size_t)__builtin_ctzll(m) >> 3) : n;
    }
    if (n >= 4) {
        if ((m = care8(load_4_4(s, n))) == 0)
            return n;
        size_t k = (size_t)__builtin_ctzll(m) >> 3;
        return k < 4 ? k : n - 8 + k; /* byte k >= 4 of the word is s[n - 8 + k] */
    }
    size_t i = 0;
    while (i < n && plain(s[i]))
        i++;
    return i;
}

/** The body of a JSON string: runs of plain ASCII are copied whole. */
static void put_escaped(mm_jw_t *jw, const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n && !jw->overflow) {
        size_t run = i + plain_run(s + i, n - i);
        put(jw, s + i, run - i);
        if ((i = run) >= n)
            break;
        if (s[i] < 0x80) {
            put_escape(jw, s[i++]);
            continue;
        }
        bool ok;
        size_t k = mm_utf8_char(s + i, n - i, &ok);
        if (ok)
            put(jw, s + i, k);
        else
            put(jw, "\xEF\xBF\xBD", 3); /* U+FFFD */
        i += k;
    }
}

/** A quoted string; one copy when it is all plain ASCII and fits. */
static void put_string(mm_jw_t *jw, const char *p, size_t len) {
    const unsigned char *s = (const unsigned char *)p;
    if (!jw->overflow && jw->cap - jw->len >= 2 && jw->cap - jw->len - 2 >= len &&
        plain_run(s, len) == len) {
        char *o = jw->buf + jw->len;
        o[0] = '"';
        copy(o + 1, p, len);
        o[len + 1] = '"';
        jw->len += len + 2;
        return;
    }
    put_c(jw, '"');
    put_escaped(jw, s, len);
    put_c(jw, '"');
}

void mm_jw_key(mm_jw_t *jw, const char *key) {
    begin_item(jw);
    put_string(jw, key, strlen(key));
    put_c(jw, ':');
}

void mm_jw_key_plain(mm_jw_t *jw, const char *key) {
    /* No escaping: the caller promises a plain identifier. */
    size_t n = strlen(key);
    begin_item(jw);
    put_c(jw, '"');
    put(jw, key, n);
    put(jw, "\":", 2);
}

void mm_jw_key_text(mm_jw_t *jw, const char *text, size_t len) {
    if (jw->overflow)
        return;
    /* begin_item(), with the comma already in the text */
    bool comma = false;
    if (jw->depth > 0 && !(jw->len > 0 && jw->buf[jw->len - 1] == ':')) {
        comma = jw->need_comma[jw->depth - 1];
        jw->need_comma[jw->depth - 1] = true;
    }
    if (comma)
        put(jw, text, len);
    else
        put(jw, text + 1, len - 1);
}

void mm_jw_string(mm_jw_t *jw, const char *p, size_t len) {
    begin_item(jw);
    put_string(jw, p ? p : "", p ? len : 0);
}

void mm_jw_str(mm_jw_t *jw, mm_str_t s) {
    if (s.p)
        mm_jw_string(jw, s.p, s.len);
    else
        mm_jw_null(jw);
}

void mm_jw_cstr(mm_jw_t *jw, const char *s) {
    if (s)
        mm_jw_string(jw, s, strlen(s));
    else
        mm_jw_null(jw);
}

/** Decimal digits of u, right-aligned ending at end; returns the start.
 * Two digits per division, from a table of the hundred pairs. */
static char *fmt_u64(char *end, uint64_t u) {
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
                                   "25262728293031323334353637383940414243444546474849"
                                   "50515253545556575859606162636465666768697071727374"
                                   "75767778798081828384858687888990919293949596979899";
    while (u >= 100) {
        const char *d = pairs + (u % 100) * 2;
        u /= 100;
        *--end = d[1];
        *--end = d[0];
    }
    if (u >= 10) {
        *--end = pairs[u * 2 + 1];
        *--end = pairs[u * 2];
    } else {
        *--end = (char)('0' + u);
    }
    return end;
}

void mm_jw_int(mm_jw_t *jw, int64_t v) {
    char tmp[24], *end = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    char *p = fmt_u64(end, u);
    if (v < 0)
        *--p = '-';
    begin_item(jw);
    put(jw, p, (size_t)(end - p));
}

/*
 * Fixed decimals by integer arithmetic rather than "%.*f": no locale (a
 * setlocale() elsewhere cannot turn the '.' into ','), no -0, and trailing
 * zeros are simply not written. decimals is clamped to 0..9 so that the
 * scaled value fits 63 bits for |v| < 9.2e9; larger magnitudes (not scores
 * or weights) fall back to %.17g, which is valid JSON too.
 */
void mm_jw_double(mm_jw_t *jw, double v, int decimals) {
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4,
                                   1e5, 1e6, 1e7, 1e8, 1e9};
    if (!isfinite(v)) {
        mm_jw_null(jw);
        return;
    }
    int d = decimals < 0 ? 0 : decimals > 9 ? 9 : decimals;
    double scaled = fabs(v) * pow10[d];
    char tmp[40], *end = tmp + sizeof(tmp), *p;
    if (scaled >= 9.2e18) {
        int n = snprintf(tmp, sizeof(tmp), "%.17g", v);
        begin_item(jw);
        put(jw, tmp, (size_t)n);
        return;
    }
    uint64_t q = mm_jw_round(scaled), unit = (uint64_t)pow10[d];
    uint64_t ip = q / unit, fp = q % unit;
    int frac_digits = d;
    while (frac_digits > 0 && fp % 10 == 0) { /* cut trailing zeros */
        fp /= 10;
        frac_digits--;
    }
    p = end;
    if (frac_digits > 0) {
        for (int i = 0; i < frac_digits; i++, fp /= 10)
            *--p = (char)('0' + fp % 10);
        *--p = '.';
    }
    p = fmt_u64(p, ip);
    if (v < 0 && q != 0)
        *--p = '-';
    begin_item(jw);
    put(jw, p, (size_t)(end - p));
}

void mm_jw_bool(mm_jw_t *jw, bool v) {
    begin_item(jw);
    put(jw, v ? "true" : "false", v ? 4 : 5);
}

void mm_jw_null(mm_jw_t *jw) {
    begin_item(jw);
    put(jw, "null", 4);
}
