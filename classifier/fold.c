/*
 * The fold: the one canonical form of query text and lexicon phrases
 * (matcher.h says what it produces).
 *
 * HOW A CHARACTER IS FOLDED
 *   ASCII goes through a 128-entry class table (picohttpparser's
 *   token_char_map shape): letters lowered, digit runs to '#', a few
 *   punctuation rules. Everything else gets Unicode's NFKC case folding
 *   (utf8proc: compatibility decomposition, case folding, default
 *   ignorables removed), so full-width "ＣＯＦＦＥＥ", "Coffee", the ligature
 *   in "ﬁnd" and "①" meet their plain forms; then marks are stripped
 *   (users omit accents: "como", "nahe"), except that a ring over an 'a'
 *   stays "å": å, æ, ø, ð, þ are letters of their own in Danish and
 *   Icelandic, not accented ones. Letters with a stroke, which Unicode does
 *   not decompose, are stripped by a short table (ł -> l, đ -> d, œ -> oe).
 *   Letters come out as UTF-8; numbers as digits; punctuation, symbols and
 *   spaces separate words, except £ and € (tokens of their own, as '$' and
 *   '%' are) and the apostrophes ’ ‘ ´ ʼ (joined, as ' is).
 *
 * WHY A TABLE
 *   utf8proc per character costs a property lookup, a recursive
 *   decomposition and an encoding. mm__fold_map_new() does that once for
 *   every character of the Basic Multilingual Plane at load time, into a
 *   two-level table (256 pages of 256 entries, identical pages shared:
 *   ~60 distinct pages, ~150 KB with the replacement bytes). On the match
 *   path an ASCII byte never touches it; a BMP character costs two loads;
 *   a character above U+FFFF (emoji, mathematical letters: rare) is folded
 *   on the spot by the same function into a stack buffer. No allocation
 *   after load.
 *
 * While folding, letters that tell languages apart are counted before their
 * accents go (mm_fold_evidence_t): the input of lang.c.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "classifier.h"
#include "matcher.h"

/* ------------------------------------------------------------ ASCII path */

enum {
    CC_SEP = 0, /* separates words */
    CC_LOWER,   /* a-z */
    CC_UPPER,   /* A-Z */
    CC_DIGIT,   /* 0-9 */
    CC_JOIN,    /* ' : dropped, joins the letters around it */
    CC_SYM,     /* $ % : a token of its own */
    CC_GROUP,   /* . , : inside a number, else a separator */
    CC_OTHER    /* not ASCII: only as the class of what comes next */
};

#define R2(x) x, x
#define R4(x) R2(x), R2(x)
#define R8(x) R4(x), R4(x)
#define R16(x) R8(x), R8(x)
#define R32(x) R16(x), R16(x)

static const uint8_t char_class[128] = {
    /* 0x00 */ R32(CC_SEP),
    /* 0x20  !"#$%&' */ CC_SEP, CC_SEP, CC_SEP, CC_SEP, CC_SYM, CC_SYM, CC_SEP,
    CC_JOIN,
    /* 0x28 ()*+,-./ */ CC_SEP, CC_SEP, CC_SEP, CC_SEP, CC_GROUP, CC_SEP,
    CC_GROUP, CC_SEP,
    /* 0x30 */ R8(CC_DIGIT), R2(CC_DIGIT),
    /* 0x3A :;<=>?@ */ CC_SEP, CC_SEP, CC_SEP, CC_SEP, CC_SEP, CC_SEP, CC_SEP,
    /* 0x41 */ R16(CC_UPPER), R8(CC_UPPER), R2(CC_UPPER),
    /* 0x5B [\]^_` */ CC_SEP, CC_SEP, CC_SEP, CC_SEP, CC_SEP, CC_SEP,
    /* 0x61 */ R16(CC_LOWER), R8(CC_LOWER), R2(CC_LOWER),
    /* 0x7B {|}~DEL */ CC_SEP, CC_SEP, CC_SEP, CC_SEP, CC_SEP,
};

_Static_assert(sizeof(char_class) == 128, "char_class covers ASCII");

/* ------------------------------------------------------- non-ASCII table */

/* What one character folds to. */
enum {
    FK_SEP,   /* separates words */
    FK_DROP,  /* nothing: marks, ignorables, apostrophes (join) */
    FK_KEEP,  /* the character itself, as it was written */
    FK_TEXT,  /* the replacement bytes, folded again as text */
    FK_SYM,   /* the replacement bytes, a token of their own */
    FK_DIGIT, /* a decimal digit of another script */
};

typedef struct fold_entry_s {
    uint32_t off; /* FK_TEXT, FK_SYM: replacement bytes in the pool */
    uint8_t kind;
    uint8_t len;
    uint8_t evidence; /* mm_fold_evidence_t + 1; 0: none */
    uint8_t pad;
} fold_entry_t;

#define MM__PAGE 256
#define MM__FOLDED_MAX 96 /* bytes one character folds to (NFKC's longest
                             expansion is 18 code points) */

struct mm_fold_map_s {
    uint16_t page_of[256]; /* code point >> 8 -> page in pages */
    fold_entry_t *pages;
    size_t n_pages;
    char *pool;
    size_t pool_len, pool_cap;
};

/* One character's fold, as fold_cp() computes it. */
typedef struct folded_s {
    uint8_t kind, len, evidence;
    char bytes[MM__FOLDED_MAX];
} folded_t;

/* Language evidence of Latin-1 letters, by (cp & 0x1F): both cases alike. */
static const uint8_t latin1_evidence[32] = {
    [0x01] = MM_EVID_ACUTE + 1,   [0x04] = MM_EVID_UMLAUT + 1,
    [0x05] = MM_EVID_DA + 1,      [0x06] = MM_EVID_DA + 1,
    [0x09] = MM_EVID_E_ACUTE + 1, [0x0D] = MM_EVID_ACUTE + 1,
    [0x11] = MM_EVID_ES + 1,      [0x13] = MM_EVID_ACUTE + 1,
    [0x15] = MM_EVID_ET + 1,      [0x16] = MM_EVID_UMLAUT + 1,
    [0x18] = MM_EVID_DA + 1,      [0x1A] = MM_EVID_ACUTE + 1,
    [0x1C] = MM_EVID_UMLAUT + 1,  [0x1F] = MM_EVID_DE + 1, /* ß (ÿ: below) */
};

static uint8_t evidence_of(int32_t cp) {
    if (cp == 0xA1 || cp == 0xBF) /* ¡ ¿ */
        return MM_EVID_ES + 1;
    if (cp == 0x1E9E) /* ẞ */
        return MM_EVID_DE + 1;
    if (cp < 0xC0 || cp > 0xFF || cp == 0xFF || cp == 0xD7 || cp == 0xF7)
        return 0;
    return latin1_evidence[cp & 0x1F];
}

/* Letters with a stroke or a ligature that Unicode does not decompose. */
static const struct {
    int32_t cp;
    const char *to;
} stroke_letters[] = {
    {0x0110, "d"}, {0x0111, "d"}, {0x0126, "h"},  {0x0127, "h"},
    {0x0131, "i"}, {0x0138, "k"}, {0x013F, "l"},  {0x0140, "l"},
    {0x0141, "l"}, {0x0142, "l"}, {0x014A, "n"},  {0x014B, "n"},
    {0x0152, "oe"}, {0x0153, "oe"}, {0x0166, "t"}, {0x0167, "t"},
};

static bool is_apostrophe(int32_t cp) {
    return cp == 0x2018 || cp == 0x2019 || cp == 0xB4 || cp == 0x2BC;
}

static void put(folded_t *out, const char *s, size_t n) {
    if (out->len + n <= MM__FOLDED_MAX) {
        memcpy(out->bytes + out->len, s, n);
        out->len = (uint8_t)(out->len + n);
    }
}

/* The fold of one code point (see the design block). Allocation-free: it
 * also runs on the match path for code points above U+FFFF. */
static void fold_cp(int32_t cp, folded_t *out) {
    out->kind = FK_SEP;
    out->len = 0;
    out->evidence = evidence_of(cp);
    if (is_apostrophe(cp)) {
        out->kind = FK_DROP;
        return;
    }
    if (cp == 0xA3 || cp == 0x20AC) { /* £ € */
        out->kind = FK_SYM;
        put(out, cp == 0xA3 ? "\xc2\xa3" : "\xe2\x82\xac", cp == 0xA3 ? 2 : 3);
        return;
    }
    for (size_t i = 0; i < sizeof(stroke_letters) / sizeof(stroke_letters[0]); i++) {
        if (stroke_letters[i].cp == cp) {
            out->kind = FK_TEXT;
            put(out, stroke_letters[i].to, strlen(stroke_letters[i].to));
            return;
        }
    }
    utf8proc_int32_t seq[32];
    int bound = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(
        cp, seq, 32,
        UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE,
        &bound);
    if (n < 0 || n > 32)
        return; /* unassigned or too long: a separator */
    if (n == 1 && utf8proc_category(seq[0]) == UTF8PROC_CATEGORY_ND && seq[0] >= 0x80) {
        out->kind = FK_DIGIT;
        return;
    }
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        int32_t u = seq[i];
        utf8proc_category_t cat = utf8proc_category(u);
        if (u == 0x30A && out->len > 0 && out->bytes[out->len - 1] == 'a') {
            out->len--; /* a + ring above: å stays a letter of its own */
            put(out, "\xc3\xa5", 2);
        } else if (u < 0x80) {
            char ch = u < 0x20 ? ' ' : (char)u;
            put(out, &ch, 1);
        } else if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
                   cat == UTF8PROC_CATEGORY_ME) {
            continue; /* an accent */
        } else if (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO &&
                   !is_apostrophe(u)) {
            utf8proc_uint8_t enc[4];
            put(out, (const char *)enc, (size_t)utf8proc_encode_char(u, enc));
        } else if (cat == UTF8PROC_CATEGORY_ND) {
            put(out, "0", 1); /* a digit among other characters */
        } else if (!is_apostrophe(u)) {
            put(out, " ", 1);
        }
    }
    size_t spaces = 0;
    while (spaces < out->len && out->bytes[spaces] == ' ')
        spaces++;
    if (out->len == 0) {
        out->kind = FK_DROP;
    } else if (spaces == out->len) {
        out->kind = FK_SEP;
        out->len = 0;
    } else {
        utf8proc_uint8_t self[4];
        utf8proc_ssize_t self_len = utf8proc_encode_char(cp, self);
        out->kind = (utf8proc_ssize_t)out->len == self_len &&
                            memcmp(out->bytes, self, out->len) == 0
                        ? FK_KEEP
                        : FK_TEXT;
    }
}

static bool pool_add(mm_fold_map_t *map, const char *s, size_t n, uint32_t *off) {
    if (!mm__grow((void **)&map->pool, &map->pool_cap, map->pool_len + n, 1))
        return false;
    memcpy(map->pool + map->pool_len, s, n);
    *off = (uint32_t)map->pool_len;
    map->pool_len += n;
    return true;
}

mm_fold_map_t *mm__fold_map_new(void) {
    mm_fold_map_t *map = calloc(1, sizeof(*map));
    fold_entry_t *page = malloc(MM__PAGE * sizeof(*page));
    if (!map || !page)
        goto fail;
    map->pages = malloc(256 * MM__PAGE * sizeof(fold_entry_t));
    if (!map->pages)
        goto fail;
    for (int32_t hi = 0; hi < 256; hi++) {
        for (int32_t lo = 0; lo < MM__PAGE; lo++) {
            int32_t cp = hi << 8 | lo;
            folded_t f = {0};
            if (cp >= 0x80 && (cp < 0xD800 || cp > 0xDFFF))
                fold_cp(cp, &f);
            fold_entry_t *e = &page[lo];
            *e = (fold_entry_t){.kind = f.kind, .len = f.len, .evidence = f.evidence};
            if (f.len && !pool_add(map, f.bytes, f.len, &e->off))
                goto fail;
        }
        /* Share a page with an earlier identical one (all of CJK is
         * "keep"). Replacement offsets differ between pages that carry
         * bytes, so only pages without any compare equal: that is enough. */
        size_t k = 0;
        while (k < map->n_pages &&
               memcmp(&map->pages[k * MM__PAGE], page, MM__PAGE * sizeof(*page)) != 0)
            k++;
        if (k == map->n_pages)
            memcpy(&map->pages[map->n_pages++ * MM__PAGE], page, MM__PAGE * sizeof(*page));
        map->page_of[hi] = (uint16_t)k;
    }
    fold_entry_t *fit = realloc(map->pages, map->n_pages * MM__PAGE * sizeof(fold_entry_t));
    if (fit)
        map->pages = fit;
    free(page);
    return map;
fail:
    free(page);
    mm__fold_map_destroy(map);
    return NULL;
}

void mm__fold_map_destroy(mm_fold_map_t *map) {
    if (!map)
        return;
    free(map->pages);
    free(map->pool);
    free(map);
}

size_t mm__fold_map_bytes(const mm_fold_map_t *map) {
    return sizeof(*map) + map->n_pages * MM__PAGE * sizeof(fold_entry_t) + map->pool_len;
}

/* -------------------------------------------------------------- the fold */

typedef struct fold_ctx_s {
    const mm_fold_map_t *map;
    mm_fold_t *f;
    bool in_token;
    bool in_number; /* the token's last output was a digit run's '#' */
    bool full;
    uint16_t tok_start;
    uint32_t hash;
} fold_ctx_t;

#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

static void token_end(fold_ctx_t *c) {
    mm_fold_t *f = c->f;
    if (!c->in_token)
        return;
    if (f->n_tokens < MM_FOLD_TOKENS_MAX) {
        mm_fold_token_t *t = &f->tokens[f->n_tokens++];
        t->start = c->tok_start;
        t->end = (uint16_t)f->len;
        t->hash = c->hash;
    }
    f->buf[f->len++] = ' '; /* room is kept by out_byte */
    c->in_token = false;
    c->in_number = false;
}

/* Append one folded byte; hash_byte is what the term hash sees (the digit
 * itself where the buffer gets '#'). Keeps one byte free for the closing
 * space; when full, drops the partial token so no half word can match. */
static void out_byte(fold_ctx_t *c, char b, char hash_byte) {
    mm_fold_t *f = c->f;
    if (c->full)
        return;
    if (f->len + 2 > MM_FOLD_MAX) {
        if (c->in_token)
            f->len = c->tok_start;
        c->in_token = false;
        c->full = true;
        f->truncated = true;
        return;
    }
    if (!c->in_token) {
        c->in_token = true;
        c->tok_start = (uint16_t)f->len;
        c->hash = FNV_OFFSET;
    }
    f->buf[f->len++] = b;
    c->hash = (c->hash ^ (uint8_t)hash_byte) * FNV_PRIME;
}

static void out_bytes(fold_ctx_t *c, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        out_byte(c, s[i], s[i]);
    c->in_number = false;
}

static void out_symbol(fold_ctx_t *c, const char *s, size_t n) {
    token_end(c);
    out_bytes(c, s, n);
    token_end(c);
}

static void out_digit(fold_ctx_t *c, uint8_t b) {
    if (c->in_number)
        c->hash = (c->hash ^ b) * FNV_PRIME;
    else
        out_byte(c, '#', (char)b);
    c->in_number = true;
}

/* Decode one UTF-8 sequence at s[0..n) (s[0] >= 0x80); returns its length,
 * 0 if ill-formed. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
    bool ok;
    size_t len = mm_utf8_char(s, n, &ok);
    if (!ok)
        return 0;
    if (len == 2)
        *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3Fu);
    else if (len == 3)
        *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
              (s[2] & 0x3Fu);
    else
        *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
              ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3Fu);
    return len;
}

/* The entry of a BMP code point; *bytes its replacement. */
static const fold_entry_t *lookup(const mm_fold_map_t *map, uint32_t cp,
                                  const char **bytes) {
    const fold_entry_t *e = &map->pages[(size_t)map->page_of[cp >> 8] * MM__PAGE +
                                        (cp & 0xFF)];
    *bytes = map->pool + e->off;
    return e;
}

/* Class of the first folded byte of the text at p[0..n): what the '.' and
 * ',' rules look ahead at. */
static uint8_t lead_class(const mm_fold_map_t *map, const uint8_t *p, size_t n) {
    if (n == 0)
        return CC_SEP;
    if (p[0] < 0x80)
        return char_class[p[0]];
    uint32_t cp = 0;
    if (utf8_decode(p, n, &cp) == 0 || cp > 0xFFFF)
        return CC_SEP;
    const char *bytes;
    const fold_entry_t *e = lookup(map, cp, &bytes);
    switch (e->kind) {
    case FK_KEEP: return CC_OTHER;
    case FK_DIGIT: return CC_DIGIT;
    case FK_TEXT: return (uint8_t)bytes[0] < 0x80 ? char_class[(uint8_t)bytes[0]] : CC_OTHER;
    default: return CC_SEP;
    }
}

/* One ASCII byte; next is the class of what follows (read for '.' ','). */
static inline void fold_ascii(fold_ctx_t *c, uint8_t b, uint8_t next) {
    switch (char_class[b]) {
    case CC_LOWER:
        out_byte(c, (char)b, (char)b);
        c->in_number = false;
        break;
    case CC_UPPER:
        out_byte(c, (char)(b + 32), (char)(b + 32));
        c->in_number = false;
        break;
    case CC_DIGIT:
        out_digit(c, b);
        break;
    case CC_GROUP: /* "1.000", "2,5": stays one number */
        if (c->in_number && next == CC_DIGIT) {
            c->hash = (c->hash ^ b) * FNV_PRIME;
        } else if (b == '.' && c->in_token && (next == CC_LOWER || next == CC_UPPER)) {
            /* "dr.dk", "www.google.com": a host name stays one token, so
             * its parts ("osta.ee") are not words of the query. */
            out_byte(c, '.', '.');
            c->in_number = false;
        } else {
            token_end(c);
        }
        break;
    case CC_JOIN:
        break;
    case CC_SYM:
        out_symbol(c, b == '$' ? "$" : "%", 1);
        break;
    default:
        token_end(c);
        break;
    }
}

/* A replacement folded as text; rest is the input after the character,
 * for the look-ahead of its last byte. */
static void fold_text(fold_ctx_t *c, const char *s, size_t n, const uint8_t *rest,
                      size_t rest_len) {
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)s[i];
        if (b >= 0x80) {
            out_byte(c, (char)b, (char)b);
            c->in_number = false;
            continue;
        }
        uint8_t next = CC_SEP;
        if (char_class[b] == CC_GROUP)
            next = i + 1 < n ? ((uint8_t)s[i + 1] < 0x80 ? char_class[(uint8_t)s[i + 1]]
                                                         : CC_OTHER)
                             : lead_class(c->map, rest, rest_len);
        fold_ascii(c, b, next);
    }
}

static void fold_char(fold_ctx_t *c, uint32_t cp, const uint8_t *raw, size_t raw_len,
                      const uint8_t *rest, size_t rest_len) {
    folded_t astral;
    const char *bytes;
    uint8_t kind, len, evidence;
    if (cp <= 0xFFFF) {
        const fold_entry_t *e = lookup(c->map, cp, &bytes);
        kind = e->kind;
        len = e->len;
        evidence = e->evidence;
    } else {
        fold_cp((int32_t)cp, &astral);
        bytes = astral.bytes;
        kind = astral.kind;
        len = astral.len;
        evidence = astral.evidence;
    }
    if (evidence)
        c->f->evidence[evidence - 1]++;
    switch (kind) {
    case FK_DROP:
        break;
    case FK_KEEP:
        out_bytes(c, (const char *)raw, raw_len);
        break;
    case FK_TEXT:
        fold_text(c, bytes, len, rest, rest_len);
        break;
    case FK_SYM:
        out_symbol(c, bytes, len);
        break;
    case FK_DIGIT:
        out_digit(c, raw[raw_len - 1]);
        break;
    default:
        token_end(c);
        break;
    }
}

void mm__fold(const mm_fold_map_t *map, const char *s, size_t len, mm_fold_t *f) {
    fold_ctx_t c = {.map = map, .f = f};
    const uint8_t *p = (const uint8_t *)s;
    f->len = 0;
    f->truncated = false;
    f->n_tokens = 0;
    memset(f->evidence, 0, sizeof(f->evidence));
    f->buf[f->len++] = ' ';
    if (!p)
        len = 0;
    for (size_t i = 0; i < len && !c.full;) {
        uint8_t b = p[i];
        if (b < 0x80) { /* the fast path: most query bytes */
            uint8_t cc = char_class[b];
            if (cc == CC_LOWER || cc == CC_UPPER) { /* most of those: inline */
                char lower = (char)(cc == CC_UPPER ? b + 32 : b);
                if (c.in_token && f->len + 2 <= MM_FOLD_MAX) {
                    /* out_byte's common case, inline: a letter inside a
                     * word with room left */
                    f->buf[f->len++] = lower;
                    c.hash = (c.hash ^ (uint8_t)lower) * FNV_PRIME;
                } else {
                    out_byte(&c, lower, lower);
                }
                c.in_number = false;
            } else if (cc == CC_SEP) {
                token_end(&c);
            } else {
                fold_ascii(&c, b, cc == CC_GROUP ? lead_class(map, p + i + 1, len - i - 1)
                                                 : CC_SEP);
            }
            i++;
            continue;
        }
        uint32_t cp = 0;
        size_t n = utf8_decode(p + i, len - i, &cp);
        if (n == 0) { /* ill-formed: the lead byte separates */
            token_end(&c);
            i++;
            continue;
        }
        fold_char(&c, cp, p + i, n, p + i + n, len - i - n);
        i += n;
    }
    token_end(&c);
    if (f->buf[f->len - 1] != ' ')
        f->buf[f->len++] = ' ';
}
