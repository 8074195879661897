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

static void put(mm_jw_t *jw, const void *p, size_t n) {
    if (jw->overflow)
        return;
    if (n > jw->cap - jw->len) {
        jw->overflow = true;
        return;
    }
    memcpy(jw->buf + jw->len, p, n);
    jw->len += n;
}

static void put_c(mm_jw_t *jw, char c) { put(jw, &c, 1); }

/** The comma before an item (key or array element), when it has a sibling. */
static void begin_item(mm_jw_t *jw) {
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
 * Eight bytes at a time: true when none of them needs care (a control
 * character, '"', '\\' or a non-ASCII byte). Most text is plain ASCII and
 * this was the writer's hottest loop. The "has a byte less than n" trick
 * can only misfire above a byte that truly matches, so "none" is exact.
 */
static bool plain8(const unsigned char *s) {
    const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
    uint64_t w, q, b;
    memcpy(&w, s, 8);
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    return ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
             ((b - ones) & ~b) | w) &
            high) == 0;
}

static bool plain(unsigned char c) {
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/** The body of a JSON string: runs of plain ASCII are copied whole. */
static void put_escaped(mm_jw_t *jw, const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n && !jw->overflow) {
        size_t run = i;
        while (n - run >= 8 && plain8(s + run))
            run += 8;
        while (run < n && plain(s[run]))
            run++;
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

static void put_string(mm_jw_t *jw, const char *p, size_t len) {
    put_c(jw, '"');
    put_escaped(jw, (const unsigned char *)p, len);
    put_c(jw, '"');
}

void mm_jw_key(mm_jw_t *jw, const char *key) {
    begin_item(jw);
    put_string(jw, key, strlen(key));
    put_c(jw, ':');
}

void mm_jw_key_plain(mm_jw_t *jw, const char *key) {
    begin_item(jw);
    put_c(jw, '"');
    /* One pass, no escaping: the caller promises a plain identifier. */
    size_t start = jw->len, room = jw->cap - jw->len;
    size_t n = 0;
    while (key[n] && n < room && !jw->overflow) {
        jw->buf[start + n] = key[n];
        n++;
    }
    if (key[n])
        jw->overflow = true;
    else
        jw->len += n;
    put(jw, "\":", 2);
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

/** Decimal digits of u, right-aligned ending at end; returns the start. */
static char *fmt_u64(char *end, uint64_t u) {
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
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
    uint64_t q = (uint64_t)llround(scaled), unit = (uint64_t)pow10[d];
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
