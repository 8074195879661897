/* Two rule sets on the same events; see compare.h. */
#include "compare.h"

#include <stdlib.h>
#include <string.h>

#include "../sinks/sinks.h"

#define MM__NONE MM_MOMENT__COUNT /* "no moment" in the transition table */
#define MM__QUERY_SHOWN 120       /* bytes of a query in an example line */

typedef struct side_s {
    const char *dir;
    mm_rules_t *rules;
    mm_state_t *state;
    uint64_t moments;
} side_t;

typedef struct compare_s {
    side_t a, b;
    uint64_t events, bad, changed;
    uint64_t table[MM_MOMENT__COUNT + 1][MM_MOMENT__COUNT + 1]; /* [A][B] */
    size_t shown, max_examples;
} compare_t;

static const char *label(int k) {
    return k == MM__NONE ? "none" : mm_moment_type_name((mm_moment_type_t)k);
}

/* The moment type (or MM__NONE) and its confidence from one side. */
static int classify_side(side_t *side, const mm_event_t *ev, float *confidence) {
    mm_moment_t m;
    size_t n = 1;
    mm_classify(side->rules, side->state, ev, &m, &n, NULL);
    *confidence = n ? m.confidence : 0.0f;
    side->moments += n;
    return n ? (int)m.type : MM__NONE;
}

static void show_example(compare_t *c, const mm_event_t *ev, int ka, float ca, int kb,
                         float cb, FILE *out) {
    char q[6 * MM__QUERY_SHOWN + 8]; /* every byte may need \u00XX */
    mm_jw_t jw;
    mm_jw_init(&jw, q, sizeof(q));
    size_t len = ev->query.p ? ev->query.len : 0;
    mm_jw_string(&jw, ev->query.p ? ev->query.p : "",
                 len > MM__QUERY_SHOWN ? MM__QUERY_SHOWN : len);
    const char *type = mm_event_type_name(ev->type);
    fprintf(out, "  %-11s %.*s: %s", type, mm_jw_ok(&jw) ? (int)jw.len : 0, q, label(ka));
    if (ka != MM__NONE)
        fprintf(out, " %.2f", ca);
    fprintf(out, " -> %s", label(kb));
    if (kb != MM__NONE)
        fprintf(out, " %.2f", cb);
    fputc('\n', out);
    c->shown++;
}

static void report(const compare_t *c, FILE *out) {
    fprintf(out, "events %llu (records that are not events, skipped: %llu)\n",
            (unsigned long long)c->events, (unsigned long long)c->bad);
    fprintf(out, "A %s: %llu moments\nB %s: %llu moments\n", c->a.dir,
            (unsigned long long)c->a.moments, c->b.dir, (unsigned long long)c->b.moments);
    fprintf(out, "changed: %llu events (%.1f %%)\n", (unsigned long long)c->changed,
            c->events ? 100.0 * (double)c->changed / (double)c->events : 0.0);
    fprintf(out, "transitions (rows: A, columns: B)\n  %-5s", "");
    for (int k = 0; k <= MM__NONE; k++)
        fprintf(out, " %7s", label(k));
    fputc('\n', out);
    for (int i = 0; i <= MM__NONE; i++) {
        fprintf(out, "  %-5s", label(i));
        for (int k = 0; k <= MM__NONE; k++)
            fprintf(out, " %7llu", (unsigned long long)c->table[i][k]);
        fputc('\n', out);
    }
}

static void sides_destroy(compare_t *c) {
    side_t *sides[] = {&c->a, &c->b};
    for (int i = 0; i < 2; i++) {
        mm_state_destroy(sides[i]->state);
        mm_rules_destroy(sides[i]->rules);
    }
}

static bool side_open(side_t *side, const mm_config_t *cfg, const char *dir) {
    char err[512];
    side->dir = dir;
    side->rules = mm_rules_load(dir, &cfg->rules, err, sizeof(err));
    if (!side->rules) {
        fprintf(stderr, "micromoment classify: %s\n", err);
        return false;
    }
    side->state = mm_state_new(&cfg->engine.state);
    if (!side->state)
        fprintf(stderr, "micromoment classify: out of memory\n");
    return side->state != NULL;
}

int mm_compare_run(const mm_config_t *cfg, const char *lexicon_dir_b, size_t max_examples,
                   FILE *in, FILE *out) {
    compare_t *c = calloc(1, sizeof(*c));
    char *line = NULL, *scratch_buf = NULL;
    size_t line_cap = 0, scratch_cap = 0;
    int code = 1;
    if (!c) {
        fprintf(stderr, "micromoment classify: out of memory\n");
        return 1;
    }
    c->max_examples = max_examples;
    if (!side_open(&c->a, cfg, cfg->lexicon_dir) || !side_open(&c->b, cfg, lexicon_dir_b))
        goto done;
    fprintf(out, "changed events (first %zu): A -> B\n", max_examples);
    ssize_t n;
    while ((n = getline(&line, &line_cap, in)) >= 0) {
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        if (len > scratch_cap) { /* a record of n bytes needs at most n */
            char *p = realloc(scratch_buf, len);
            if (!p) {
                fprintf(stderr, "micromoment classify: out of memory\n");
                goto done;
            }
            scratch_buf = p;
            scratch_cap = len;
        }
        mm_scratch_t scratch = {scratch_buf, scratch_cap, 0};
        mm_event_t ev;
        char err[256];
        if (mm_decode_json(line, len, &cfg->engine.limits, &scratch, &ev, err, sizeof(err)) !=
            MM_ERR_OK) {
            c->bad++;
            continue;
        }
        ev.source = (mm_source_t){MM_STR_LIT("stdin"), 0, (int64_t)c->events};
        c->events++;
        float ca, cb;
        int ka = classify_side(&c->a, &ev, &ca), kb = classify_side(&c->b, &ev, &cb);
        c->table[ka][kb]++;
        if (ka != kb) {
            c->changed++;
            if (c->shown < c->max_examples)
                show_example(c, &ev, ka, ca, kb, cb, out);
        }
    }
    report(c, out);
    code = ferror(out) ? 1 : 0;
    if (code)
        fprintf(stderr, "micromoment classify: cannot write output\n");
done:
    free(line);
    free(scratch_buf);
    sides_destroy(c);
    free(c);
    return code;
}
