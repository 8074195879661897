/*
 * Strategy: what to answer each moment type with (goal, content, horizon,
 * and the operator's own offer), one file per language, read with the
 * rules (lexicons/strategy/<lang>.tsv; the format is at the top of each).
 *
 * A moment gets the row of its event's language (mm_rules_strategy), and
 * English's when there is no file for that language: en.tsv must exist and
 * every file must have a row for each of the four types, so a moment always
 * has a whole strategy. The first bad row fails the load with
 * "<path>:<line>: <what>", as a lexicon's does.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier_int.h"

#define MM__STRAT_LANGS_MAX 32
#define MM__STRAT_TEXT_MAX 512   /* bytes of one field */
#define MM__STRAT_FILE_MAX 65536 /* four rows and their comments */

struct mm__strategy_s {
    size_t n_langs;
    size_t en; /* index of English, the fallback */
    char langs[MM__STRAT_LANGS_MAX][4];
    mm_strategy_t rows[MM__STRAT_LANGS_MAX][MM_MOMENT__COUNT]; /* strings owned */
};

void mm__strategy_destroy(struct mm__strategy_s *st) {
    if (!st)
        return;
    for (size_t l = 0; l < st->n_langs; l++) {
        for (int t = 0; t < MM_MOMENT__COUNT; t++) {
            mm_strategy_t *r = &st->rows[l][t];
            free((char *)r->goal);
            free((char *)r->content);
            free((char *)r->horizon);
            free((char *)r->offer);
        }
    }
    free(st);
}

/* "da-DK", "DA", "da_dk" -> "da" in @p code; false when it is no code. */
static bool lang_code(mm_str_t lang, char code[4]) {
    size_t n = 0;
    while (n < lang.len && n < 4 && lang.p[n] != '-' && lang.p[n] != '_') {
        char c = lang.p[n];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c < 'a' || c > 'z')
            return false;
        code[n++] = c;
    }
    if (n < 2 || n > 3 || (n < lang.len && lang.p[n] != '-' && lang.p[n] != '_'))
        return false;
    code[n] = '\0';
    return true;
}

const mm_strategy_t *mm__strategy_get(const struct mm__strategy_s *st, mm_moment_type_t type,
                                      mm_str_t lang) {
    unsigned t = (unsigned)type < MM_MOMENT__COUNT ? (unsigned)type : 0;
    char code[4];
    if (lang.p && lang_code(lang, code))
        for (size_t l = 0; l < st->n_langs; l++)
            if (strcmp(st->langs[l], code) == 0)
                return &st->rows[l][t];
    return &st->rows[st->en][t];
}

/* One row "moment\tgoal\tcontent\thorizon[\toffer]" into @p rows. */
static bool add_row(mm_strategy_t rows[MM_MOMENT__COUNT], uint32_t lines[MM_MOMENT__COUNT],
                    char *line, uint32_t lineno, char *why, size_t why_size) {
    char *f[5];
    size_t n = mm__split_tabs(line, f, 5);
    if (n != 4 && n != 5) {
        snprintf(why, why_size,
                 "expected 4 or 5 tab-separated fields (moment, goal, content, horizon, "
                 "offer), got %zu",
                 n);
        return false;
    }
    mm_moment_type_t type;
    if (!mm_moment_type_parse(f[0], strlen(f[0]), &type)) {
        snprintf(why, why_size, "unknown moment '%.20s' (know, go, do or buy)", f[0]);
        return false;
    }
    if (lines[type]) {
        snprintf(why, why_size, "a second row for '%s' (first at line %u)", f[0],
                 lines[type]);
        return false;
    }
    const char *offer = n == 5 ? f[4] : "";
    static const char *const names[] = {"goal", "content", "horizon", "offer"};
    const char *texts[] = {f[1], f[2], f[3], offer};
    for (int k = 0; k < 4; k++)
        if (!mm__text_check(names[k], texts[k], strlen(texts[k]), MM__STRAT_TEXT_MAX, k < 3,
                            why, why_size))
            return false;
    mm_strategy_t *r = &rows[type];
    lines[type] = lineno;
    r->goal = strdup(f[1]);
    r->content = strdup(f[2]);
    r->horizon = strdup(f[3]);
    r->offer = *offer ? strdup(offer) : NULL;
    if (!r->goal || !r->content || !r->horizon || (*offer && !r->offer)) {
        snprintf(why, why_size, "out of memory");
        return false;
    }
    return true;
}

static bool load_file(struct mm__strategy_s *st, size_t lang, const char *path, char *errstr,
                      size_t errstr_size) {
    char *buf = NULL, *line, why[200];
    size_t len;
    if (!mm__file_read(path, MM__STRAT_FILE_MAX, &buf, &len, errstr, errstr_size))
        return false;
    uint32_t lines[MM_MOMENT__COUNT] = {0};
    mm__lines_t it = {buf, buf + len, 0};
    bool ok = true;
    size_t line_len;
    while (ok && mm__lines_next(&it, &line, &line_len)) {
        size_t lead = strspn(line, " \t");
        if (line[lead] == '\0' || line[0] == '#')
            continue;
        if (!add_row(st->rows[lang], lines, line, it.lineno, why, sizeof(why))) {
            snprintf(errstr, errstr_size, "%s:%u: %s", path, it.lineno, why);
            ok = false;
        }
    }
    for (int t = 0; ok && t < MM_MOMENT__COUNT; t++) {
        if (!lines[t]) {
            snprintf(errstr, errstr_size, "%s: no row for '%s'", path,
                     mm_moment_type_name((mm_moment_type_t)t));
            ok = false;
        }
    }
    free(buf);
    return ok;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

/* The <lang>.tsv names in @p dir, sorted (load order is data). */
static size_t list_files(const char *dir, char names[MM__STRAT_LANGS_MAX][8], char *errstr,
                         size_t errstr_size, bool *ok) {
    *ok = false;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(errstr, errstr_size, "%s: %s (strategy files, <lang>.tsv)", dir,
                 strerror(errno));
        return 0;
    }
    size_t n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".tsv") != 0)
            continue;
        char code[4];
        if (len > 7 || !lang_code((mm_str_t){de->d_name, len - 4}, code) ||
            memcmp(code, de->d_name, len - 4) != 0) {
            snprintf(errstr, errstr_size,
                     "%s/%s: file name must be <lang>.tsv with a 2 or 3 letter lower-case "
                     "language code",
                     dir, de->d_name);
            closedir(d);
            return 0;
        }
        if (n == MM__STRAT_LANGS_MAX) {
            snprintf(errstr, errstr_size, "%s: more than %d strategy files", dir,
                     MM__STRAT_LANGS_MAX);
            closedir(d);
            return 0;
        }
        memcpy(names[n++], de->d_name, len + 1);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_names);
    *ok = true;
    return n;
}

struct mm__strategy_s *mm__strategy_load(const char *dir, char *errstr, size_t errstr_size) {
    char names[MM__STRAT_LANGS_MAX][8];
    bool ok;
    size_t n = list_files(dir, names, errstr, errstr_size, &ok);
    if (!ok)
        return NULL;
    struct mm__strategy_s *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    bool has_en = false;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        size_t stem = strlen(names[i]) - 4;
        memcpy(st->langs[i], names[i], stem);
        st->langs[i][stem] = '\0';
        st->n_langs = i + 1; /* freed from here on, whole or not */
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (!load_file(st, i, path, errstr, errstr_size))
            goto fail;
        if (strcmp(st->langs[i], "en") == 0) {
            st->en = i;
            has_en = true;
        }
    }
    if (!has_en) {
        snprintf(errstr, errstr_size, "%s/en.tsv: missing (English is every other "
                 "language's fallback)", dir);
        goto fail;
    }
    return st;
fail:
    mm__strategy_destroy(st);
    return NULL;
}
