/*
 * GeoJSON places (a FeatureCollection of Point features, see places.c), read
 * by a small pull reader over the file's bytes: objects and arrays are
 * walked member by member, the strings asked for are decoded into caller
 * buffers and everything else is skipped (validated, to a bounded depth).
 * RFC 8259 throughout: a file another tool would refuse is refused here.
 */
#include <stdio.h>
#include <string.h>

#include "places_int.h"

#define MM__JSON_DEPTH_MAX 32

typedef struct jr_s {
    const char *s;
    size_t len, pos;
    uint32_t line;
    char why[160];
} jr_t;

#define JR_FAIL(r, ...) (snprintf((r)->why, sizeof((r)->why), __VA_ARGS__), false)

static void jr_ws(jr_t *r) {
    for (; r->pos < r->len; r->pos++) {
        char c = r->s[r->pos];
        if (c == '\n')
            r->line++;
        else if (c != ' ' && c != '\t' && c != '\r')
            return;
    }
}

static char jr_peek(jr_t *r) {
    jr_ws(r);
    return r->pos < r->len ? r->s[r->pos] : '\0';
}

static bool jr_expect(jr_t *r, char c) {
    if (jr_peek(r) != c)
        return JR_FAIL(r, "expected '%c'", c);
    r->pos++;
    return true;
}

static int hex4(const char *s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t utf8_put(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string's escape at r->pos (just past the backslash) into tmp. */
static bool jr_escape(jr_t *r, char tmp[4], size_t *n) {
    static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
    char c = r->pos < r->len ? r->s[r->pos] : '\0';
    const char *k = c ? strchr(plain, c) : NULL;
    if (k) {
        tmp[0] = decoded[k - plain];
        *n = 1;
        r->pos++;
        return true;
    }
    if (c != 'u' || r->len - r->pos < 5 || hex4(r->s + r->pos + 1) < 0)
        return JR_FAIL(r, "bad escape in a string");
    uint32_t cp = (uint32_t)hex4(r->s + r->pos + 1);
    r->pos += 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return JR_FAIL(r, "a lone low surrogate in a string");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        int lo = r->len - r->pos >= 6 && r->s[r->pos] == '\\' && r->s[r->pos + 1] == 'u'
                     ? hex4(r->s + r->pos + 2)
                     : -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return JR_FAIL(r, "a lone high surrogate in a string");
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
        r->pos += 6;
    }
    *n = utf8_put(tmp, cp);
    return true;
}

/* A string at r->pos, decoded into out (cap bytes, NUL-ended) when out is
 * not NULL. *fits false when it was longer than cap - 1 (out then holds
 * nothing useful). */
static bool jr_string(jr_t *r, char *out, size_t cap, size_t *out_len, bool *fits) {
    if (!jr_expect(r, '"'))
        return JR_FAIL(r, "expected a string");
    size_t n = 0;
    *fits = true;
    for (;;) {
        if (r->pos >= r->len)
            return JR_FAIL(r, "a string does not end");
        unsigned char c = (unsigned char)r->s[r->pos];
        char tmp[4];
        size_t k = 1;
        if (c == '"') {
            r->pos++;
            break;
        }
        if (c < 0x20)
            return JR_FAIL(r, "a control character in a string");
        if (c == '\\') {
            r->pos++;
            if (!jr_escape(r, tmp, &k))
                return false;
        } else {
            bool ok;
            k = mm_utf8_char((const unsigned char *)r->s + r->pos, r->len - r->pos, &ok);
            if (!ok)
                return JR_FAIL(r, "invalid UTF-8 in a string");
            memcpy(tmp, r->s + r->pos, k);
            r->pos += k;
        }
        if (out && n + k < cap)
            memcpy(out + n, tmp, k);
        else
            *fits = false;
        n += k;
    }
    if (out && *fits)
        out[n] = '\0';
    if (out_len)
        *out_len = n;
    return true;
}

/* A number; its literal is at r->s + *start, *len bytes. */
static bool jr_number(jr_t *r, double *out, size_t *start, size_t *len) {
    jr_ws(r);
    size_t b = r->pos, e = b;
    while (e < r->len && strchr("0123456789+-.eE", r->s[e]) && r->s[e] != '\0')
        e++;
    /* JSON's grammar is stricter than parse_decimal's: no leading '+',
     * no "01", digits on both sides of the point. */
    const char *s = r->s + b;
    size_t n = e - b, i = s[0] == '-' ? 1 : 0;
    bool ok = n > i && s[i] >= '0' && s[i] <= '9' && !(s[i] == '0' && i + 1 < n &&
                                                      s[i + 1] >= '0' && s[i + 1] <= '9');
    for (size_t k = i; ok && k < n; k++)
        if (s[k] == '.')
            ok = k + 1 < n && s[k + 1] >= '0' && s[k + 1] <= '9';
    if (!ok || !mm__parse_decimal(s, n, out))
        return JR_FAIL(r, "expected a number");
    r->pos = e;
    if (start)
        *start = b;
    if (len)
        *len = n;
    return true;
}

/* Walks members: call with *first true; each true return with *done false
 * leaves r at the member's value, its key in key (or "" when longer). */
static bool jr_member(jr_t *r, bool *first, char *key, size_t key_cap, bool *done) {
    char c = jr_peek(r);
    if (*first && c != '{')
        return JR_FAIL(r, "expected an object");
    if (*first)
        r->pos++;
    if (jr_peek(r) == '}') {
        r->pos++;
        *done = true;
        return true;
    }
    if (!*first && !jr_expect(r, ','))
        return JR_FAIL(r, "expected ',' or '}'");
    *first = false;
    *done = false;
    bool fits;
    if (!jr_string(r, key, key_cap, NULL, &fits))
        return false;
    if (!fits)
        key[0] = '\0';
    return jr_expect(r, ':');
}

/* Walks items, as jr_member does members. */
static bool jr_item(jr_t *r, bool *first, bool *done) {
    char c = jr_peek(r);
    if (*first && c != '[')
        return JR_FAIL(r, "expected an array");
    if (*first) {
        r->pos++;
        if (jr_peek(r) == ']') {
            r->pos++;
            *done = true;
            return true;
        }
        *first = false;
        *done = false;
        return true;
    }
    if (c == ']') {
        r->pos++;
        *done = true;
        return true;
    }
    if (!jr_expect(r, ','))
        return JR_FAIL(r, "expected ',' or ']'");
    *done = false;
    return true;
}

static bool jr_literal(jr_t *r, const char *word) {
    size_t n = strlen(word);
    if (r->len - r->pos < n || memcmp(r->s + r->pos, word, n) != 0)
        return JR_FAIL(r, "unexpected character");
    r->pos += n;
    return true;
}

static bool jr_skip(jr_t *r, int depth) {
    if (depth > MM__JSON_DEPTH_MAX)
        return JR_FAIL(r, "nested deeper than %d", MM__JSON_DEPTH_MAX);
    bool first = true, done = false, fits;
    char key[1];
    switch (jr_peek(r)) {
    case '"': return jr_string(r, NULL, 0, NULL, &fits);
    case '{':
        while (jr_member(r, &first, key, sizeof(key), &done) && !done)
            if (!jr_skip(r, depth + 1))
                return false;
        return done;
    case '[':
        while (jr_item(r, &first, &done) && !done)
            if (!jr_skip(r, depth + 1))
                return false;
        return done;
    case 't': return jr_literal(r, "true");
    case 'f': return jr_literal(r, "false");
    case 'n': return jr_literal(r, "null");
    case '\0': return JR_FAIL(r, "unexpected end");
    default: return jr_number(r, &(double){0}, NULL, NULL);
    }
}

/* What one feature says, before checking. */
typedef struct feature_s {
    char id[MM__ID_MAX + 2], name[MM__NAME_MAX + 2], kind[MM__KIND_MAX + 2];
    size_t id_len, name_len, kind_len;
    bool has_id, has_name, has_kind, has_radius, has_coords;
    int geometry; /* 0 none, 1 a Point, 2 another type */
    double lat, lon, radius;
} feature_t;

/* A string property into buf (longer than the check allows: one more byte
 * than its bound, so that place_add names what is too long). */
static bool read_text(jr_t *r, char *buf, size_t cap, size_t *len, bool *has) {
    bool fits;
    if (!jr_string(r, buf, cap, len, &fits))
        return false;
    if (!fits)
        *len = cap; /* over the bound: place_add says so */
    *has = true;
    return true;
}

/* An id may be a string or a number (GeoJSON allows both). */
static bool read_id(jr_t *r, feature_t *f) {
    if (jr_peek(r) == '"')
        return read_text(r, f->id, sizeof(f->id), &f->id_len, &f->has_id);
    size_t start, len;
    if (!jr_number(r, &(double){0}, &start, &len))
        return JR_FAIL(r, "id is neither a string nor a number");
    f->id_len = len < sizeof(f->id) ? len : sizeof(f->id);
    memcpy(f->id, r->s + start, f->id_len < sizeof(f->id) ? f->id_len : 0);
    f->has_id = true;
    return true;
}

/* Coordinates of any shape; only [lon, lat] or [lon, lat, alt] counts. */
static bool read_coords(jr_t *r, feature_t *f) {
    bool first = true, done = false, numbers = true;
    double v[3];
    size_t n = 0;
    while (jr_item(r, &first, &done) && !done) {
        char c = jr_peek(r);
        bool number = c == '-' || (c >= '0' && c <= '9');
        if (number && n < 3 && numbers) {
            if (!jr_number(r, &v[n++], NULL, NULL))
                return false;
        } else {
            numbers = false;
            if (!jr_skip(r, 3))
                return false;
        }
    }
    if (!done)
        return false;
    f->has_coords = numbers && n >= 2;
    f->lon = v[0]; /* GeoJSON order: longitude first */
    f->lat = v[1];
    return true;
}

static bool read_geometry(jr_t *r, feature_t *f) {
    if (jr_peek(r) == 'n')
        return jr_literal(r, "null"); /* no geometry: said below */
    bool first = true, done = false;
    char key[16], type[16];
    while (jr_member(r, &first, key, sizeof(key), &done) && !done) {
        bool fits = true, ok;
        if (strcmp(key, "type") == 0) {
            ok = jr_string(r, type, sizeof(type), NULL, &fits);
            f->geometry = fits && strcmp(type, "Point") == 0 ? 1 : 2;
        } else if (strcmp(key, "coordinates") == 0) {
            ok = read_coords(r, f);
        } else {
            ok = jr_skip(r, 2);
        }
        if (!ok)
            return false;
    }
    return done;
}

static bool read_properties(jr_t *r, feature_t *f) {
    if (jr_peek(r) == 'n')
        return jr_literal(r, "null");
    bool first = true, done = false;
    char key[16];
    while (jr_member(r, &first, key, sizeof(key), &done) && !done) {
        bool ok;
        if (strcmp(key, "id") == 0)
            ok = read_id(r, f);
        else if (strcmp(key, "name") == 0)
            ok = read_text(r, f->name, sizeof(f->name), &f->name_len, &f->has_name);
        else if (strcmp(key, "kind") == 0)
            ok = read_text(r, f->kind, sizeof(f->kind), &f->kind_len, &f->has_kind);
        else if (strcmp(key, "radius") == 0 || strcmp(key, "radius_m") == 0)
            ok = (f->has_radius = jr_number(r, &f->radius, NULL, NULL));
        else
            ok = jr_skip(r, 3);
        if (!ok)
            return false;
    }
    return done;
}

/* One feature. false: a syntax error (in r->why), or with *bad set a
 * feature that is not a valid place (the message is in b->errstr). */
static bool read_feature(jr_t *r, mm__place_build_t *b, int32_t index, bool *bad) {
    feature_t f, outer; /* outer: the feature's own id, for properties without */
    memset(&f, 0, sizeof(f));
    memset(&outer, 0, sizeof(outer));
    jr_ws(r);
    uint32_t line = r->line;
    bool first = true, done = false, ok = true, is_feature = false;
    char key[16], type[16];
    while (ok && (ok = jr_member(r, &first, key, sizeof(key), &done)) && !done) {
        bool fits = true;
        if (strcmp(key, "type") == 0) {
            ok = jr_string(r, type, sizeof(type), NULL, &fits);
            is_feature = ok && fits && strcmp(type, "Feature") == 0;
        } else if (strcmp(key, "id") == 0) {
            ok = read_id(r, &outer);
        } else if (strcmp(key, "geometry") == 0) {
            ok = read_geometry(r, &f);
        } else if (strcmp(key, "properties") == 0) {
            ok = read_properties(r, &f);
        } else {
            ok = jr_skip(r, 2);
        }
    }
    if (!ok)
        return false;
    const char *why = !is_feature     ? "type is not \"Feature\""
                      : !f.geometry   ? "no geometry"
                      : f.geometry > 1 ? "geometry is not a Point (places are circles)"
                      : !f.has_coords ? "a Point's coordinates are [longitude, latitude]"
                      : !f.has_radius ? "no radius (metres) in properties"
                                      : NULL;
    if (why) {
        mm__place_fail(b, line, index, why);
        *bad = true;
        return false;
    }
    if (!f.has_id && outer.has_id) {
        memcpy(f.id, outer.id, sizeof(f.id));
        f.id_len = outer.id_len;
        f.has_id = true;
    }
    mm_str_t none = {NULL, 0};
    *bad = !mm__place_add(b, f.has_id ? (mm_str_t){f.id, f.id_len} : none,
                          f.has_name ? (mm_str_t){f.name, f.name_len} : none,
                          f.has_kind ? (mm_str_t){f.kind, f.kind_len} : none, f.lat, f.lon,
                          f.radius, line, index);
    return !*bad;
}

bool mm__places_geojson(mm__place_build_t *b, const char *buf, size_t len) {
    jr_t r = {.s = buf, .len = len, .line = 1};
    bool first = true, done = false, ok = true, bad = false;
    bool collection = false, has_features = false;
    char key[16], type[32];
    while (ok && (ok = jr_member(&r, &first, key, sizeof(key), &done)) && !done) {
        bool fits = true;
        if (strcmp(key, "type") == 0) {
            ok = jr_string(&r, type, sizeof(type), NULL, &fits);
            collection = ok && fits && strcmp(type, "FeatureCollection") == 0;
        } else if (strcmp(key, "features") == 0) {
            bool ffirst = true, fdone = false;
            int32_t index = 0;
            while (ok && (ok = jr_item(&r, &ffirst, &fdone)) && !fdone)
                ok = read_feature(&r, b, index++, &bad);
            has_features = true;
        } else {
            ok = jr_skip(&r, 1);
        }
    }
    if (bad)
        return false;
    if (ok && jr_peek(&r) != '\0') {
        snprintf(r.why, sizeof(r.why), "text after the GeoJSON object");
        ok = false;
    }
    if (!ok) {
        mm__place_fail(b, r.line, -1, r.why);
        return false;
    }
    if (!collection || !has_features) {
        snprintf(b->errstr, b->errstr_size,
                 "%s: not a GeoJSON FeatureCollection (\"type\" and \"features\")", b->path);
        return false;
    }
    return true;
}

