/* Scoring against labelled queries; see eval.h. */
#include "eval.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MM__EVAL_COLUMNS_MAX 32
#define MM__EVAL_TS 1763900000000LL /* any fixed time: rows share no state */

static const char *const label_names[MM_EVAL_LABELS] = {"know", "go", "do", "buy",
                                                       "none"};

const char *mm_eval_label_name(int label) {
    return label >= 0 && label < MM_EVAL_LABELS ? label_names[label] : "?";
}

int mm_eval_label_parse(const char *s, size_t len) {
    for (int k = 0; k < MM_EVAL_LABELS; k++)
        if (strlen(label_names[k]) == len && memcmp(label_names[k], s, len) == 0)
            return k;
    return -1;
}

int mm_eval_classify(const mm_rules_t *rules, mm_state_t *state, mm_str_t query,
                     mm_str_t lang) {
    mm_event_t ev;
    mm_event_init(&ev);
    ev.type = MM_EVENT_QUERY;
    ev.user_id = MM_STR_LIT("eval");
    ev.query = query;
    ev.lang = lang;
    ev.ts = MM__EVAL_TS;
    ev.has_ts = true;
    mm_state_clear(state);
    mm_moment_t moment;
    size_t n = 1;
    mm_classify(rules, state, &ev, &moment, &n, NULL);
    return n == 1 ? (int)moment.type : MM_EVAL_NONE;
}

/* The table of rows whose `lang` is @p lang: found, added, or "other". */
static mm_eval_table_t *group_of(mm_eval_t *ev, mm_str_t lang) {
    size_t len = lang.p ? lang.len : 0;
    for (size_t i = 0; i < ev->n_groups; i++)
        if (strlen(ev->groups[i].group) == len &&
            memcmp(ev->groups[i].group, lang.p, len) == 0)
            return &ev->groups[i];
    mm_eval_table_t *t = &ev->groups[MM_EVAL_GROUPS_MAX];
    if (ev->n_groups < MM_EVAL_GROUPS_MAX && len < sizeof(t->group)) {
        t = &ev->groups[ev->n_groups++];
        memset(t, 0, sizeof(*t));
        memcpy(t->group, lang.p ? lang.p : "", len);
    } else if (!t->group[0]) {
        snprintf(t->group, sizeof(t->group), "other");
    }
    return t;
}

/* Splits line (no newline) at tabs into at most max fields. */
static size_t split_tabs(char *line, char **fields, size_t max) {
    size_t n = 0;
    for (char *p = line; n < max;) {
        fields[n++] = p;
        p = strchr(p, '\t');
        if (!p)
            break;
        *p++ = '\0';
    }
    return n;
}

typedef struct columns_s {
    int query, lang, label; /* -1: absent */
} columns_t;

static bool read_header(char *line, columns_t *cols) {
    char *fields[MM__EVAL_COLUMNS_MAX];
    size_t n = split_tabs(line, fields, MM__EVAL_COLUMNS_MAX);
    *cols = (columns_t){-1, -1, -1};
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(fields[i], "query"))
            cols->query = (int)i;
        else if (!strcmp(fields[i], "lang"))
            cols->lang = (int)i;
        else if (!strcmp(fields[i], "label"))
            cols->label = (int)i;
    }
    return cols->query >= 0 && cols->label >= 0;
}

bool mm_eval_file(const mm_rules_t *rules, const char *path, bool use_hint,
                  mm_eval_t *ev, char *errstr, size_t errstr_size) {
    bool stdin_ = !strcmp(path, "-");
    FILE *fp = stdin_ ? stdin : fopen(path, "r");
    if (!fp) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return false;
    }
    mm_state_conf_t sconf;
    mm_state_conf_defaults(&sconf);
    sconf.max_users = 16; /* one user per row; a small table clears fast */
    mm_state_t *state = mm_state_new(&sconf);
    char *line = NULL;
    size_t cap = 0;
    unsigned long lineno = 0;
    columns_t cols = {-1, -1, -1};
    bool header = false, ok = state != NULL;
    if (!state)
        snprintf(errstr, errstr_size, "out of memory");
    snprintf(ev->all.group, sizeof(ev->all.group), "all");
    ssize_t got;
    while (ok && (got = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || (line[0] == '\0' && !header))
            continue;
        if (!header) {
            header = true;
            if (!read_header(line, &cols)) {
                snprintf(errstr, errstr_size,
                         "%s:%lu: the header row must name the columns query and "
                         "label (tab-separated; lang optional)",
                         path, lineno);
                ok = false;
            }
            continue;
        }
        if (line[0] == '\0')
            continue;
        char *fields[MM__EVAL_COLUMNS_MAX];
        size_t n = split_tabs(line, fields, MM__EVAL_COLUMNS_MAX);
        int need = cols.query > cols.label ? cols.query : cols.label;
        if (cols.lang > need)
            need = cols.lang;
        if ((int)n <= need) {
            snprintf(errstr, errstr_size, "%s:%lu: %zu columns, the header has more",
                     path, lineno, n);
            ok = false;
            break;
        }
        const char *label_s = fields[cols.label];
        int gold = mm_eval_label_parse(label_s, strlen(label_s));
        if (gold < 0) {
            snprintf(errstr, errstr_size,
                     "%s:%lu: unknown label '%.40s' (know, go, do, buy, none)", path,
                     lineno, label_s);
            ok = false;
            break;
        }
        mm_str_t lang = {0};
        if (cols.lang >= 0 && fields[cols.lang][0])
            lang = (mm_str_t){fields[cols.lang], strlen(fields[cols.lang])};
        mm_str_t query = {fields[cols.query], strlen(fields[cols.query])};
        int pred = mm_eval_classify(rules, state, query, use_hint ? lang : (mm_str_t){0});
        mm_eval_table_t *g = group_of(ev, lang);
        ev->all.rows++;
        ev->all.confusion[gold][pred]++;
        g->rows++;
        g->confusion[gold][pred]++;
    }
    if (ok && !stdin_ && ferror(fp)) {
        snprintf(errstr, errstr_size, "%s: read error", path);
        ok = false;
    }
    if (ok && !header) {
        snprintf(errstr, errstr_size, "%s: no header row and no data", path);
        ok = false;
    }
    free(line);
    mm_state_destroy(state);
    if (!stdin_)
        fclose(fp);
    return ok;
}

void mm_eval_scores(const mm_eval_table_t *t, mm_eval_scores_t *s) {
    double sum = 0.0;
    int present = 0;
    memset(s, 0, sizeof(*s));
    for (int k = 0; k < MM_EVAL_LABELS; k++) {
        uint64_t tp = t->confusion[k][k], gold = 0, pred = 0;
        for (int j = 0; j < MM_EVAL_LABELS; j++) {
            gold += t->confusion[k][j];
            pred += t->confusion[j][k];
        }
        s->support[k] = gold;
        s->precision[k] = pred ? (double)tp / (double)pred : 0.0;
        s->recall[k] = gold ? (double)tp / (double)gold : 0.0;
        double pr = s->precision[k] + s->recall[k];
        s->f1[k] = pr > 0.0 ? 2.0 * s->precision[k] * s->recall[k] / pr : 0.0;
        if (gold || pred) {
            sum += s->f1[k];
            present++;
        }
    }
    s->macro_f1 = present ? sum / present : 0.0;
}

void mm_eval_print(FILE *out, const mm_eval_table_t *t) {
    mm_eval_scores_t s;
    mm_eval_scores(t, &s);
    fprintf(out, "%s: %llu rows\n", t->group[0] ? t->group : "(no lang)",
            (unsigned long long)t->rows);
    fprintf(out, "  confusion (rows: gold, columns: predicted)\n  %-6s", "");
    for (int j = 0; j < MM_EVAL_LABELS; j++)
        fprintf(out, " %6s", label_names[j]);
    fputc('\n', out);
    for (int k = 0; k < MM_EVAL_LABELS; k++) {
        fprintf(out, "  %-6s", label_names[k]);
        for (int j = 0; j < MM_EVAL_LABELS; j++)
            fprintf(out, " %6llu", (unsigned long long)t->confusion[k][j]);
        fputc('\n', out);
    }
    fprintf(out, "  %-6s %9s %9s %9s %8s\n", "label", "precision", "recall", "f1",
            "support");
    for (int k = 0; k < MM_EVAL_LABELS; k++)
        fprintf(out, "  %-6s %9.3f %9.3f %9.3f %8llu\n", label_names[k],
                s.precision[k], s.recall[k], s.f1[k],
                (unsigned long long)s.support[k]);
    fprintf(out, "  macro-F1 %.3f\n", s.macro_f1);
}
