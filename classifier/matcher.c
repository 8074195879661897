/*
 * Aho-Corasick matching over folded text (the fold is fold.c).
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

bool mm__grow(void **p, size_t *cap, size_t need, size_t size) {
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
    if (!mm__grow((void **)&m->nodes, &m->cap_nodes, m->n_nodes + 1, sizeof(node_t)))
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
    if (!mm__grow((void **)&m->outs, &m->cap_outs, m->n_outs + 1, sizeof(out_t)))
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
                out[n].edits = 0;
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
