/*
 * Folding and Aho-Corasick matching; see matcher.h for what the fold does.
 *
 * HOW THE AUTOMATON IS BUILT (once, at load time)
 *   1. mm__matcher_add() inserts each folded pattern into a trie whose
 *      children are sibling lists (cheap to grow, slow to walk).
 *   2. mm__matcher_build() numbers the bytes that occur in any pattern
 *      (classes 1..n; every other byte is class 0 and can never extend a
 *      match), lays the trie out as a dense table states x classes, then
 *      walks it breadth-first to set failure links and fill every missing
 *      transition with the failure state's one. The result is a DFA: a scan
 *      is one lookup per byte and never backtracks.
 *   3. A transition whose target has outputs (its own patterns, or a shorter
 *      pattern that is a suffix of it) carries MM__OUT in its top bit, so the
 *      scan loop only touches output tables when there is something to
 *      report. Transitions hold the target's row offset (state x classes),
 *      which saves a multiply per byte.
 *
 * COST: table bytes = states x classes x 4. The shipped lexicons (about
 * 3,500 entries with generated spellings) give 17.6k states x 40 classes =
 * 2.9 MB, of which a scan touches only the rows of the states it visits
 * (the root's neighbourhood stays in cache). Affix patterns (no space at
 * one end) cost nothing extra per byte; they only report more often.
 * Measured: ~335-355 ns CPU per query for the whole mm__query_analyze
 * (fold + scan + scoring) over dev + held-out queries, about 2.8M
 * queries/s per core (was ~290-340 ns with 2,400 rows and no affixes).
 */
#include "matcher.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ fold */

/* Byte classes of the tokenizer (picohttpparser's token_char_map shape). */
enum {
    CC_SEP = 0, /* separates words */
    CC_LOWER,   /* a-z */
    CC_UPPER,   /* A-Z */
    CC_DIGIT,   /* 0-9 */
    CC_JOIN,    /* ' : dropped, joins the letters around it */
    CC_SYM,     /* $ % : a token of its own */
    CC_GROUP,   /* . , : inside a number, else a separator */
    CC_U2,      /* lead byte of a 2-byte UTF-8 sequence */
    CC_U3,      /* ... 3-byte */
    CC_U4,      /* ... 4-byte */
    CC_BAD      /* continuation byte out of place, C0, C1, F5..FF */
};

#define R2(x) x, x
#define R4(x) R2(x), R2(x)
#define R8(x) R4(x), R4(x)
#define R16(x) R8(x), R8(x)
#define R32(x) R16(x), R16(x)
#define R64(x) R32(x), R32(x)

static const uint8_t char_class[256] = {
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
    /* 0x80 continuation */ R64(CC_BAD),
    /* 0xC0 C1 overlong */ CC_BAD, CC_BAD,
    /* 0xC2..0xDF */ R16(CC_U2), R8(CC_U2), R4(CC_U2), R2(CC_U2),
    /* 0xE0..0xEF */ R16(CC_U3),
    /* 0xF0..0xF4 */ R4(CC_U4), CC_U4,
    /* 0xF5..0xFF */ R8(CC_BAD), R2(CC_BAD), CC_BAD,
};

_Static_assert(sizeof(char_class) == 256, "char_class covers every byte");

/* Latin-1 Supplement U+00C0..U+00FF by (cp & 0x1F): upper and lower halves
 * fold alike, except 0x17 (x, /) and 0x1F (ß, ÿ), handled by the caller.
 * NULL: a separator. Letters of their own (æ ø å ð þ) stay themselves. */
static const char *const latin1_fold[32] = {
    "a", "a", "a", "a", "a", "\xc3\xa5", "\xc3\xa6", "c",       /* C0..C7 */
    "e", "e", "e", "e", "i", "i", "i", "i",                     /* C8..CF */
    "\xc3\xb0", "n", "o", "o", "o", "o", "o", NULL,             /* D0..D7 */
    "\xc3\xb8", "u", "u", "u", "u", "y", "\xc3\xbe", NULL,      /* D8..DF */
};

static const uint8_t latin1_evidence[32] = {
    [0x01] = MM_EVID_ACUTE + 1,  [0x04] = MM_EVID_UMLAUT + 1,
    [0x05] = MM_EVID_DA + 1,     [0x06] = MM_EVID_DA + 1,
    [0x09] = MM_EVID_E_ACUTE + 1, [0x0D] = MM_EVID_ACUTE + 1,
    [0x11] = MM_EVID_ES + 1,     [0x13] = MM_EVID_ACUTE + 1,
    [0x15] = MM_EVID_ET + 1,     [0x16] = MM_EVID_UMLAUT + 1,
    [0x18] = MM_EVID_DA + 1,     [0x1A] = MM_EVID_ACUTE + 1,
    [0x1C] = MM_EVID_UMLAUT + 1,
};

/* Latin Extended-A U+0100..U+017F: ranges that fold to one base. */
static const struct {
    uint16_t last;
    const char *to;
} latin_ext_a[] = {
    {0x0105, "a"}, {0x010D, "c"}, {0x0111, "d"}, {0x011B, "e"},
    {0x0123, "g"}, {0x0127, "h"}, {0x0131, "i"}, {0x0133, "ij"},
    {0x0135, "j"}, {0x0138, "k"}, {0x0142, "l"}, {0x014B, "n"},
    {0x0151, "o"}, {0x0153, "oe"}, {0x0159, "r"}, {0x0161, "s"},
    {0x0167, "t"}, {0x0173, "u"}, {0x0175, "w"}, {0x0178, "y"},
    {0x017E, "z"}, {0x017F, "s"},
};

typedef struct fold_ctx_s {
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

static void out_str(fold_ctx_t *c, const char *s) {
    for (; *s; s++)
        out_byte(c, *s, *s);
    c->in_number = false;
}

static void out_symbol(fold_ctx_t *c, const char *s) {
    token_end(c);
    out_str(c, s);
    token_end(c);
}

/* Decode one UTF-8 sequence at s[0..n); returns its length, 0 if invalid. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
    uint8_t cc = char_class[s[0]];
    size_t need = cc == CC_U2 ? 2 : cc == CC_U3 ? 3 : 4;
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (need == 2) {
        *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3Fu);
        return 2;
    }
    if (need == 3) {
        if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F))
            return 0; /* overlong, or a UTF-16 surrogate */
        *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
              (s[2] & 0x3Fu);
        return 3;
    }
    if ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
          ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3Fu);
    return 4;
}

static void fold_codepoint(fold_ctx_t *c, uint32_t cp, const uint8_t *raw,
                           size_t raw_len) {
    mm_fold_t *f = c->f;
    if (cp >= 0xC0 && cp <= 0xFF) {
        unsigned i = cp & 0x1F;
        const char *to = latin1_fold[i];
        if (i == 0x1F) {
            to = cp == 0xDF ? "ss" : "y";
            if (cp == 0xDF)
                f->evidence[MM_EVID_DE]++;
        } else if (latin1_evidence[i]) {
            f->evidence[latin1_evidence[i] - 1]++;
        }
        if (to)
            out_str(c, to);
        else
            token_end(c);
        return;
    }
    if (cp >= 0x100 && cp <= 0x17F) {
        size_t k = 0;
        while (cp > latin_ext_a[k].last)
            k++;
        out_str(c, latin_ext_a[k].to);
        return;
    }
    if (cp >= 0x300 && cp <= 0x36F)
        return; /* combining mark: "e\u0301" folds like "é" */
    if (cp == 0x2018 || cp == 0x2019)
        return; /* typographic apostrophe joins, like ' */
    if (cp == 0xA3 || cp == 0x20AC) {
        out_symbol(c, cp == 0xA3 ? "\xc2\xa3" : "\xe2\x82\xac");
        return;
    }
    if (cp < 0xC0 || (cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000 ||
        cp == 0xFEFF) {
        if (cp == 0xA1 || cp == 0xBF) /* ¡ ¿ */
            f->evidence[MM_EVID_ES]++;
        token_end(c); /* Latin-1 punctuation, general punctuation, spaces */
        return;
    }
    for (size_t i = 0; i < raw_len; i++) /* other scripts: as they are */
        out_byte(c, (char)raw[i], (char)raw[i]);
    c->in_number = false;
}

void mm__fold(const char *s, size_t len, mm_fold_t *f) {
    fold_ctx_t c = {.f = f};
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
        switch (char_class[b]) {
        case CC_LOWER:
            out_byte(&c, (char)b, (char)b);
            c.in_number = false;
            i++;
            break;
        case CC_UPPER:
            out_byte(&c, (char)(b + 32), (char)(b + 32));
            c.in_number = false;
            i++;
            break;
        case CC_DIGIT:
            if (c.in_number)
                c.hash = (c.hash ^ b) * FNV_PRIME;
            else
                out_byte(&c, '#', (char)b);
            c.in_number = true;
            i++;
            break;
        case CC_GROUP: /* "1.000", "2,5": stays one number */
            if (c.in_number && i + 1 < len && char_class[p[i + 1]] == CC_DIGIT) {
                c.hash = (c.hash ^ b) * FNV_PRIME;
            } else if (b == '.' && c.in_token && i + 1 < len &&
                       (char_class[p[i + 1]] == CC_LOWER ||
                        char_class[p[i + 1]] == CC_UPPER)) {
                /* "dr.dk", "www.google.com": a host name stays one token,
                 * so its parts ("osta.ee") are not words of the query. */
                out_byte(&c, '.', '.');
                c.in_number = false;
            } else {
                token_end(&c);
            }
            i++;
            break;
        case CC_JOIN:
            i++;
            break;
        case CC_SYM:
            out_symbol(&c, b == '$' ? "$" : "%");
            i++;
            break;
        case CC_U2:
        case CC_U3:
        case CC_U4: {
            uint32_t cp = 0;
            size_t n = utf8_decode(p + i, len - i, &cp);
            if (n == 0) { /* invalid: the lead byte separates */
                token_end(&c);
                i++;
                break;
            }
            fold_codepoint(&c, cp, p + i, n);
            i += n;
            break;
        }
        default: /* CC_SEP, CC_BAD */
            token_end(&c);
            i++;
            break;
        }
    }
    token_end(&c);
    if (f->buf[f->len - 1] != ' ')
        f->buf[f->len++] = ' ';
}

/* --------------------------------------------------------------- matcher */

#define MM__NONE UINT32_MAX
#define MM__OUT 0x80000000u
#define MM__PATTERN_MAX 255 /* folded bytes of one pattern */
/* A pattern's shape: whole words have a space at both ends; an affix
 * pattern lacks one ("piletid " ends a word: a compound head; " apotek"
 * starts one: a stem). The scan reports only the letters as the span. */
#define MM__LEAD 1u
#define MM__TRAIL 2u

typedef struct node_s {
    uint32_t child;   /* first child, MM__NONE */
    uint32_t sibling; /* next sibling, MM__NONE */
    uint32_t out;     /* first output (index into outs), MM__NONE */
    uint32_t out_tail;
    uint8_t byte;
    uint8_t depth;
    uint8_t shape; /* MM__LEAD | MM__TRAIL of the pattern ending here */
} node_t;

typedef struct out_s {
    uint32_t id;
    uint32_t next;
} out_t;

struct mm_matcher_s {
    /* building */
    node_t *nodes;
    size_t n_nodes, cap_nodes;
    out_t *outs;
    size_t n_outs, cap_outs;
    /* compiled */
    uint8_t cls[256];
    uint32_t n_classes;
    size_t n_states;
    uint32_t *delta;     /* row offset of the target | MM__OUT */
    uint32_t *report;    /* per state: first state with own outputs */
    uint32_t *dict;      /* per state with outputs: the next one */
    uint32_t *out_start; /* per state + 1: into out_ids */
    uint32_t *out_ids;
    uint8_t *depth;
    uint8_t *shape; /* per state: MM__LEAD | MM__TRAIL */
};

static bool grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 256;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static uint32_t node_new(mm_matcher_t *m, uint8_t byte, uint8_t depth) {
    if (!grow((void **)&m->nodes, &m->cap_nodes, m->n_nodes + 1, sizeof(node_t)))
        return MM__NONE;
    node_t *n = &m->nodes[m->n_nodes];
    n->child = n->sibling = n->out = n->out_tail = MM__NONE;
    n->byte = byte;
    n->depth = depth;
    n->shape = 0;
    return (uint32_t)m->n_nodes++;
}

mm_matcher_t *mm__matcher_new(void) {
    mm_matcher_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    if (node_new(m, 0, 0) == MM__NONE) {
        mm__matcher_destroy(m);
        return NULL;
    }
    return m;
}

void mm__matcher_destroy(mm_matcher_t *m) {
    if (!m)
        return;
    free(m->nodes);
    free(m->outs);
    free(m->delta);
    free(m->report);
    free(m->dict);
    free(m->out_start);
    free(m->out_ids);
    free(m->depth);
    free(m->shape);
    free(m);
}

bool mm__matcher_add(mm_matcher_t *m, const char *pat, size_t len, uint32_t id,
                     uint32_t *state) {
    if (len == 0 || len > MM__PATTERN_MAX || m->delta)
        return false;
    uint32_t s = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)pat[i];
        uint32_t c = m->nodes[s].child;
        while (c != MM__NONE && m->nodes[c].byte != b)
            c = m->nodes[c].sibling;
        if (c == MM__NONE) {
            c = node_new(m, b, (uint8_t)(i + 1));
            if (c == MM__NONE)
                return false;
            m->nodes[c].sibling = m->nodes[s].child;
            m->nodes[s].child = c;
        }
        s = c;
    }
    if (!grow((void **)&m->outs, &m->cap_outs, m->n_outs + 1, sizeof(out_t)))
        return false;
    uint32_t o = (uint32_t)m->n_outs++;
    m->outs[o].id = id;
    m->outs[o].next = MM__NONE;
    m->nodes[s].shape = (uint8_t)((pat[0] == ' ' ? MM__LEAD : 0) |
                                  (pat[len - 1] == ' ' ? MM__TRAIL : 0));
    if (m->nodes[s].out == MM__NONE)
        m->nodes[s].out = o;
    else
        m->outs[m->nodes[s].out_tail].next = o;
    m->nodes[s].out_tail = o;
    if (state)
        *state = s;
    return true;
}

bool mm__matcher_has(const mm_matcher_t *m, const char *pat, size_t len) {
    if (len == 0 || m->delta || !m->nodes)
        return false;
    uint32_t s = 0;
    for (size_t i = 0; i < len && s != MM__NONE; i++) {
        uint32_t c = m->nodes[s].child;
        while (c != MM__NONE && m->nodes[c].byte != (uint8_t)pat[i])
            c = m->nodes[c].sibling;
        s = c;
    }
    return s != MM__NONE && m->nodes[s].out != MM__NONE;
}

bool mm__matcher_build(mm_matcher_t *m) {
    size_t ns = m->n_nodes;
    uint32_t *queue = NULL, *fail = NULL;
    bool ok = false;

    memset(m->cls, 0, sizeof(m->cls));
    uint32_t nc = 1;
    for (size_t i = 1; i < ns; i++)
        if (!m->cls[m->nodes[i].byte])
            m->cls[m->nodes[i].byte] = (uint8_t)nc++; /* < 256: bytes */
    m->n_classes = nc;
    m->n_states = ns;
    if (ns * nc >= (size_t)(MM__OUT - 1))
        return false; /* row offsets must fit below the flag bit */

    m->delta = malloc(ns * nc * sizeof(uint32_t));
    m->report = malloc(ns * sizeof(uint32_t));
    m->dict = malloc(ns * sizeof(uint32_t));
    m->out_start = malloc((ns + 1) * sizeof(uint32_t));
    m->out_ids = malloc((m->n_outs ? m->n_outs : 1) * sizeof(uint32_t));
    m->depth = malloc(ns);
    m->shape = malloc(ns);
    queue = malloc(ns * sizeof(uint32_t));
    fail = malloc(ns * sizeof(uint32_t));
    if (!m->delta || !m->report || !m->dict || !m->out_start || !m->out_ids ||
        !m->depth || !m->shape || !queue || !fail)
        goto done;

    /* Outputs flattened in insertion order; children into the table. */
    uint32_t k = 0;
    for (size_t s = 0; s < ns; s++) {
        m->out_start[s] = k;
        for (uint32_t o = m->nodes[s].out; o != MM__NONE; o = m->outs[o].next)
            m->out_ids[k++] = m->outs[o].id;
        m->depth[s] = m->nodes[s].depth;
        m->shape[s] = m->nodes[s].shape;
        uint32_t *row = &m->delta[s * nc];
        for (uint32_t c = 0; c < nc; c++)
            row[c] = MM__NONE;
        for (uint32_t c = m->nodes[s].child; c != MM__NONE; c = m->nodes[c].sibling)
            row[m->cls[m->nodes[c].byte]] = c;
    }
    m->out_start[ns] = k;

    /* Breadth-first: failure links, completed transitions, output chains. */
    size_t head = 0, tail = 0;
    fail[0] = 0;
    m->report[0] = MM__NONE;
    for (uint32_t c = 0; c < nc; c++) {
        uint32_t v = m->delta[c];
        if (v == MM__NONE) {
            m->delta[c] = 0;
        } else {
            fail[v] = 0;
            queue[tail++] = v;
        }
    }
    while (head < tail) {
        uint32_t u = queue[head++];
        bool own = m->out_start[u + 1] > m->out_start[u];
        m->dict[u] = m->report[fail[u]];
        m->report[u] = own ? u : m->report[fail[u]];
        for (uint32_t c = 0; c < nc; c++) {
            uint32_t v = m->delta[u * nc + c];
            uint32_t via_fail = m->delta[fail[u] * nc + c];
            if (v == MM__NONE) {
                m->delta[u * nc + c] = via_fail;
            } else {
                fail[v] = via_fail;
                queue[tail++] = v;
            }
        }
    }
    /* Targets become row offsets, flagged when they have outputs. Every
     * entry holds a state number until now; convert in place. */
    for (size_t i = 0; i < ns * nc; i++) {
        uint32_t v = m->delta[i];
        m->delta[i] = (uint32_t)(v * nc) | (m->report[v] != MM__NONE ? MM__OUT : 0);
    }
    ok = true;
done:
    free(queue);
    free(fail);
    free(m->nodes);
    m->nodes = NULL;
    free(m->outs);
    m->outs = NULL;
    return ok;
}

size_t mm__matcher_scan(const mm_matcher_t *m, const char *buf, size_t len,
                        mm_match_t *out, size_t max) {
    const uint32_t *delta = m->delta;
    const uint8_t *cls = m->cls;
    uint32_t nc = m->n_classes, row = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t t = delta[row + cls[(uint8_t)buf[i]]];
        row = t & ~MM__OUT;
        if (!(t & MM__OUT))
            continue;
        for (uint32_t s = m->report[row / nc]; s != MM__NONE; s = m->dict[s]) {
            for (uint32_t k = m->out_start[s]; k < m->out_start[s + 1]; k++, n++) {
                if (n >= max)
                    continue;
                /* pattern " w1 w2 " ends at i: words are [i+2-depth, i);
                 * an affix pattern lacks a space at one end */
                uint8_t shape = m->shape[s];
                out[n].id = m->out_ids[k];
                out[n].start = (uint16_t)(i + 1 - m->depth[s] + (shape & MM__LEAD));
                out[n].end = (uint16_t)(shape & MM__TRAIL ? i : i + 1);
            }
        }
    }
    return n;
}

void mm__matcher_stats(const mm_matcher_t *m, size_t *states, size_t *classes,
                       size_t *bytes) {
    *states = m->n_states;
    *classes = m->n_classes;
    *bytes = m->n_states * (m->n_classes * sizeof(uint32_t) +
                            3 * sizeof(uint32_t) + 1) +
             m->out_start[m->n_states] * sizeof(uint32_t);
}
