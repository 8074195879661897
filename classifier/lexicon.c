/*
 * Loading and validating lexicon files (lexicons/<lang>.tsv; the format is
 * described at the top of each file). Every row is checked, and the first
 * bad one fails the load with "<path>:<line>: <what>", so a typo never ships
 * as a silently ignored row. Runs at load time only: allocation is fine.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "lexicon_int.h"

#define MM__LINE_MAX 1024 /* bytes of one lexicon line */
#define MM__FILES_MAX 64

static const char *const class_names[] = {
#define MM__LEX_NAME(name, text, help) text,
    MM_LEX_CLASS_MAP(MM__LEX_NAME)
#undef MM__LEX_NAME
};

const char *mm__lex_class_name(mm_lex_class_t cls) {
    return (unsigned)cls < MM_LEX__COUNT ? class_names[cls] : "unknown";
}

int mm__lexicon_lang_index(const mm_lexicon_t *lex, const char *code,
                           size_t len) {
    for (size_t i = 0; i < lex->n_langs; i++)
        if (strlen(lex->langs[i]) == len && memcmp(lex->langs[i], code, len) == 0)
            return (int)i;
    return -1;
}

void mm__lexicon_destroy(struct mm_lexicon_s *lex) {
    if (!lex)
        return;
    for (size_t i = 0; i < lex->n_entries; i++)
        free((char *)lex->entries[i].phrase);
    free(lex->entries);
    mm__matcher_destroy(lex->matcher);
    mm__typo_destroy(lex->typo);
    mm__fold_map_destroy(lex->fold_map);
    free(lex);
}

static bool utf8_valid(const char *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        uint8_t b = p[i];
        size_t need = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3
                                : (b >> 3) == 30 ? 4 : 0;
        if (need == 0 || b == 0xC0 || b == 0xC1 || b > 0xF4 || i + need > n)
            return false;
        for (size_t k = 1; k < need; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        if ((b == 0xE0 && p[i + 1] < 0xA0) || (b == 0xED && p[i + 1] > 0x9F) ||
            (b == 0xF0 && p[i + 1] < 0x90) || (b == 0xF4 && p[i + 1] > 0x8F))
            return false;
        i += need;
    }
    return true;
}

static bool parse_class(const char *s, mm_lex_class_t *cls) {
    for (int i = 0; i < MM_LEX__COUNT; i++)
        if (strcmp(class_names[i], s) == 0) {
            *cls = (mm_lex_class_t)i;
            return true;
        }
    return false;
}

static bool parse_weight(const char *s, float *w) {
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(d) || d <= 0.0 ||
        d > 1.0)
        return false;
    *w = (float)d;
    return true;
}

/* An affix row: "-piletid" ends a word (a compound head: "kinopiletid"),
 * "apotek-" starts one (a stem: "apoteket", "apotekets"), "-apotek-" is
 * inside one. One word of at least MM__AFFIX_MIN folded bytes, so that a
 * short affix cannot fire inside unrelated words. */
#define MM__AFFIX_MIN 4

/* Appends the entry of a phrase whose pattern is in the matcher; false
 * with the reason in why when out of memory. */
static bool append_entry(mm_lexicon_t *lex, mm_lex_entry_t entry, const char *phrase,
                         char *why, size_t why_size) {
    if (lex->n_entries == lex->cap_entries) {
        size_t cap = lex->cap_entries ? lex->cap_entries * 2 : 1024;
        mm_lex_entry_t *e = realloc(lex->entries, cap * sizeof(*e));
        if (!e) {
            snprintf(why, why_size, "out of memory");
            return false;
        }
        lex->entries = e;
        lex->cap_entries = cap;
    }
    entry.phrase = strdup(phrase);
    if (!entry.phrase) {
        snprintf(why, why_size, "out of memory");
        return false;
    }
    lex->entries[lex->n_entries++] = entry;
    return true;
}

/* Adds one phrase. A generated variant (spelling) that some row already
 * has is skipped silently; for a row it is an error. */
static bool add_phrase(mm_lexicon_t *lex, uint8_t lang, size_t first_of_file,
                       const char *phrase, mm_lex_class_t cls, float weight,
                       uint32_t lineno, bool variant, char *why, size_t why_size) {
    size_t phrase_len = strlen(phrase);
    bool suffix = phrase_len > 1 && phrase[0] == '-';
    bool prefix = phrase_len > 1 && phrase[phrase_len - 1] == '-';
    /* NFKC case folding of the whole phrase first (utf8proc), so that a
     * phrase typed decomposed or with compatibility characters composes as
     * a query's characters fold one by one. */
    mm_fold_t *fold = malloc(sizeof(*fold));
    char *nfkc = (char *)utf8proc_NFKC_Casefold((const utf8proc_uint8_t *)phrase);
    if (!fold || !nfkc) {
        free(fold);
        free(nfkc);
        snprintf(why, why_size, "out of memory");
        return false;
    }
    mm__fold(lex->fold_map, nfkc, strlen(nfkc), fold);
    free(nfkc);
    uint16_t n_words = fold->n_tokens;
    const char *pat = fold->buf;
    size_t pat_len = fold->len;
    bool ok = false;
    if ((suffix || prefix) && (n_words != 1 || pat_len - 2 < MM__AFFIX_MIN)) {
        snprintf(why, why_size, "affix '%.60s' must be one word of at least %d letters",
                 phrase, MM__AFFIX_MIN);
        goto done;
    }
    if (suffix) {
        pat++;
        pat_len--;
    }
    if (prefix)
        pat_len--;
    if (variant && (n_words == 0 || fold->truncated ||
                    mm__matcher_has(lex->matcher, pat, pat_len))) {
        ok = true;
        goto done;
    }
    uint32_t state = 0;
    if (n_words == 0) {
        snprintf(why, why_size, "phrase '%.60s' has no words", phrase);
        goto done;
    }
    if (fold->truncated || !mm__matcher_add(lex->matcher, pat, pat_len,
                                            (uint32_t)lex->n_entries, &state)) {
        snprintf(why, why_size, "phrase too long or out of memory");
        goto done;
    }
    /* Duplicate: the same folded phrase twice in one file (another language
     * may have it too: "restaurant" is en, da and de). */
    for (size_t i = first_of_file; i < lex->n_entries && !variant; i++) {
        if (lex->entries[i].state == state) {
            snprintf(why, why_size, "duplicate phrase '%.60s' (first at line %u)",
                     phrase, lex->entries[i].line);
            goto done;
        }
    }
    mm_lex_entry_t entry = {
        .phrase_len = (uint32_t)phrase_len,
        .state = state,
        .line = lineno,
        .weight = weight,
        .cls = (uint8_t)cls,
        .lang = lang,
        .n_words = (uint8_t)(n_words > 255 ? 255 : n_words),
    };
    if (!append_entry(lex, entry, phrase, why, why_size))
        goto done;
    /* A whole single word may be found mistyped (typo.c). */
    const mm_fold_token_t *tok = &fold->tokens[0];
    ok = n_words > 1 || suffix || prefix || cls == MM_LEX_STOP || cls == MM_LEX_WORD ||
         mm__typo_add(lex->typo, fold->buf + tok->start, (size_t)(tok->end - tok->start),
                      (uint32_t)(lex->n_entries - 1));
    if (!ok)
        snprintf(why, why_size, "out of memory");
done:
    free(fold);
    return ok;
}

/* One row "phrase\tclass\tweight" (line without its newline). Returns
 * false with the reason in why. */
static bool add_row(mm_lexicon_t *lex, uint8_t lang, size_t first_of_file,
                    char *line, uint32_t lineno, char *why, size_t why_size) {
    char *fields[3];
    size_t n = mm__split_tabs(line, fields, 3);
    if (n != 3) {
        snprintf(why, why_size,
                 "expected 3 tab-separated fields (phrase, class, weight), got %zu",
                 n);
        return false;
    }
    const char *phrase = fields[0];
    mm_lex_class_t cls;
    float weight;
    if (!utf8_valid(phrase, strlen(phrase))) {
        snprintf(why, why_size, "phrase is not valid UTF-8");
        return false;
    }
    if (!parse_class(fields[1], &cls)) {
        snprintf(why, why_size, "unknown class '%.40s'", fields[1]);
        return false;
    }
    if (!parse_weight(fields[2], &weight)) {
        snprintf(why, why_size, "weight '%.40s' is not a number in (0, 1]",
                 fields[2]);
        return false;
    }
    return add_phrase(lex, lang, first_of_file, phrase, cls, weight, lineno,
                      false, why, why_size);
}

/* Spellings of letters that keyboards without them produce: "naehe" for
 * "nähe", "naer"/"aaben" or "kobenhavn"/"aben" for "nær"/"åben"/"københavn".
 * The fold already strips ä ö ü to a o u; æ ø å stay letters of their own.
 * Table: UTF-8 of the lower- and upper-case letter, digraph, plain form
 * (NULL: the fold's own stripping already covers it). */
static const struct {
    const char *lower, *upper, *digraph, *plain;
} spell_variants[] = {
    {"\xc3\xa4", "\xc3\x84", "ae", NULL}, /* ä */
    {"\xc3\xb6", "\xc3\x96", "oe", NULL}, /* ö */
    {"\xc3\xbc", "\xc3\x9c", "ue", NULL}, /* ü */
    {"\xc3\xa6", "\xc3\x86", "ae", "ae"}, /* æ */
    {"\xc3\xb8", "\xc3\x98", "oe", "o"},  /* ø */
    {"\xc3\xa5", "\xc3\x85", "aa", "a"},  /* å */
};

/* Writes phrase with every letter of spell_variants replaced (digraph or
 * plain form) into out; false when no letter was replaced or out is short. */
static bool spell_variant(const char *phrase, bool plain, char *out,
                          size_t out_size) {
    size_t n = 0;
    bool changed = false;
    for (const char *p = phrase; *p;) {
        const char *to = NULL;
        for (size_t k = 0; k < sizeof(spell_variants) / sizeof(spell_variants[0]); k++) {
            if (strncmp(p, spell_variants[k].lower, 2) == 0 ||
                strncmp(p, spell_variants[k].upper, 2) == 0) {
                to = plain && spell_variants[k].plain ? spell_variants[k].plain
                                                      : spell_variants[k].digraph;
                break;
            }
        }
        const char *src = to ? to : p;
        size_t len = to ? strlen(to) : 1;
        if (n + len >= out_size)
            return false;
        memcpy(out + n, src, len);
        n += len;
        p += to ? 2 : 1;
        changed |= to != NULL;
    }
    out[n] = '\0';
    return changed;
}

/* Adds the spelling variants of the file's rows [first, end): after all
 * rows, so that a row written out in the file always wins over a variant. */
static bool add_variants(mm_lexicon_t *lex, uint8_t lang, size_t first,
                         char *why, size_t why_size, uint32_t *lineno) {
    size_t end = lex->n_entries;
    char buf[MM__LINE_MAX + 1];
    for (size_t i = first; i < end; i++) {
        for (int plain = 0; plain < 2; plain++) {
            mm_lex_entry_t e = lex->entries[i]; /* entries may move */
            if (!spell_variant(e.phrase, plain != 0, buf, sizeof(buf)))
                continue;
            *lineno = e.line;
            if (!add_phrase(lex, lang, first, buf, (mm_lex_class_t)e.cls,
                            e.weight, e.line, true, why, why_size))
                return false;
        }
    }
    return true;
}

static bool load_file(mm_lexicon_t *lex, const char *path, const char *name,
                      char *errstr, size_t errstr_size) {
    /* The language is the file name: "da.tsv" -> "da". */
    size_t stem = strlen(name) - 4;
    bool ok_name = stem >= 2 && stem <= 3;
    for (size_t i = 0; i < stem && ok_name; i++)
        ok_name = name[i] >= 'a' && name[i] <= 'z';
    if (!ok_name) {
        snprintf(errstr, errstr_size,
                 "%s: file name must be <lang>.tsv with a 2 or 3 letter "
                 "lower-case language code",
                 path);
        return false;
    }
    if (mm__lexicon_lang_index(lex, name, stem) >= 0)
        return true; /* cannot happen: one file per name */
    if (lex->n_langs == MM_LEX_LANGS_MAX) {
        snprintf(errstr, errstr_size, "%s: more than %d languages", path,
                 MM_LEX_LANGS_MAX);
        return false;
    }
    uint8_t lang = (uint8_t)lex->n_langs;
    memcpy(lex->langs[lang], name, stem);
    lex->langs[lang][stem] = '\0';
    lex->n_langs++;

    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return false;
    }
    char line[MM__LINE_MAX + 2];
    char why[160];
    uint32_t lineno = 0;
    size_t first = lex->n_entries;
    bool ok = true;
    while (ok && fgets(line, sizeof(line), fp)) {
        lineno++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] != '\n' && !feof(fp)) {
            snprintf(errstr, errstr_size, "%s:%u: line longer than %d bytes",
                     path, lineno, MM__LINE_MAX);
            ok = false;
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        size_t lead = strspn(line, " \t");
        if (line[lead] == '\0' || line[0] == '#')
            continue; /* blank or comment */
        if (!add_row(lex, lang, first, line, lineno, why, sizeof(why))) {
            snprintf(errstr, errstr_size, "%s:%u: %s", path, lineno, why);
            ok = false;
        }
    }
    if (ok && !add_variants(lex, lang, first, why, sizeof(why), &lineno)) {
        snprintf(errstr, errstr_size, "%s:%u: %s", path, lineno, why);
        ok = false;
    }
    if (ok && ferror(fp)) {
        snprintf(errstr, errstr_size, "%s: read error", path);
        ok = false;
    }
    fclose(fp);
    return ok;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct mm_lexicon_s *mm__lexicon_load_dir(const char *dir, char *errstr,
                                          size_t errstr_size) {
    char *names[MM__FILES_MAX];
    size_t n_names = 0;
    DIR *d = NULL;
    mm_lexicon_t *lex = calloc(1, sizeof(*lex));
    if (!lex || !(lex->matcher = mm__matcher_new()) ||
        !(lex->fold_map = mm__fold_map_new()) || !(lex->typo = mm__typo_new())) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    d = opendir(dir);
    if (!d) {
        snprintf(errstr, errstr_size, "%s: %s", dir, strerror(errno));
        goto fail;
    }
    for (struct dirent *de; (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".tsv") != 0 ||
            de->d_name[0] == '.')
            continue;
        if (n_names == MM__FILES_MAX) {
            snprintf(errstr, errstr_size, "%s: more than %d lexicon files", dir,
                     MM__FILES_MAX);
            goto fail;
        }
        if (!(names[n_names] = strdup(de->d_name))) {
            snprintf(errstr, errstr_size, "out of memory");
            goto fail;
        }
        n_names++;
    }
    closedir(d);
    d = NULL;
    if (n_names == 0) {
        snprintf(errstr, errstr_size, "%s: no lexicon files (*.tsv)", dir);
        goto fail;
    }
    qsort(names, n_names, sizeof(names[0]), cmp_names); /* load order is data */
    for (size_t i = 0; i < n_names; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (!load_file(lex, path, names[i], errstr, errstr_size))
            goto fail;
    }
    if (!mm__matcher_build(lex->matcher) || !mm__typo_build(lex->typo)) {
        snprintf(errstr, errstr_size, "%s: out of memory building the matcher",
                 dir);
        goto fail;
    }
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    return lex;
fail:
    if (d)
        closedir(d);
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    mm__lexicon_destroy(lex);
    return NULL;
}
