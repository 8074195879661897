/*
 * Lexicon files and the text matcher: loading, validation messages, folding
 * and whole-word matching.
 */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classifier/lexicon_int.h"

#define LEXICONS MM_SOURCE_DIR "/lexicons"

/* ------------------------------------------------------------ helpers */

typedef struct tmpdir_s {
    char path[64];
    char files[4][128];
    int n_files;
} tmpdir_t;

static void tmpdir_make(tmpdir_t *d) {
    memset(d, 0, sizeof(*d));
    strcpy(d->path, "/tmp/mm_lexicon_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d->path));
}

static void tmpdir_write(tmpdir_t *d, const char *name, const char *text) {
    ck_assert_int_lt(d->n_files, 4);
    char dir[64];
    memcpy(dir, d->path, sizeof(dir));
    char *path = d->files[d->n_files++];
    snprintf(path, sizeof(d->files[0]), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

static void tmpdir_remove(tmpdir_t *d) {
    for (int i = 0; i < d->n_files; i++)
        unlink(d->files[i]);
    rmdir(d->path);
}

static mm_lexicon_t *load_one(const char *name, const char *text, char *err,
                              size_t err_size) {
    tmpdir_t d;
    tmpdir_make(&d);
    tmpdir_write(&d, name, text);
    mm_lexicon_t *lex = mm__lexicon_load_dir(d.path, err, err_size);
    tmpdir_remove(&d);
    return lex;
}

/* One fold table for the suite: building it is the loader's job. */
static mm_fold_map_t *fold_map;

static void fold_setup(void) {
    fold_map = mm__fold_map_new();
    ck_assert_ptr_nonnull(fold_map);
}

static void fold_teardown(void) { mm__fold_map_destroy(fold_map); }

static void fold_str(const char *s, mm_fold_t *f) { mm__fold(fold_map, s, strlen(s), f); }

/* ------------------------------------------------------------- loading */

START_TEST(test_shipped_lexicons_load) {
    char err[256] = "";
    mm_lexicon_t *lex = mm__lexicon_load_dir(LEXICONS, err, sizeof(err));
    ck_assert_msg(lex != NULL, "%s", err);
    const char *langs[] = {"en", "da", "et", "de", "es"};
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_ge(mm__lexicon_lang_index(lex, langs[i], 2), 0);
    ck_assert_uint_gt(lex->n_entries, 1000);
    mm__lexicon_destroy(lex);
}
END_TEST

START_TEST(test_comments_blank_lines_and_crlf_are_accepted) {
    char err[256] = "";
    mm_lexicon_t *lex = load_one("xx.tsv",
                                 "# a comment\n\n   \nnear me\tgo\t0.9\r\n"
                                 "buy\tbuy\t1\n",
                                 err, sizeof(err));
    ck_assert_msg(lex != NULL, "%s", err);
    ck_assert_uint_eq(lex->n_entries, 2);
    ck_assert_str_eq(lex->entries[0].phrase, "near me");
    ck_assert_uint_eq(lex->entries[0].line, 4);
    mm__lexicon_destroy(lex);
}
END_TEST

/* Each bad row must fail the load with "<dir>/xx.tsv:<line>: <reason>". */
static const struct {
    const char *text;
    const char *line; /* ":<n>: " expected after the file name */
    const char *reason;
} bad_rows[] = {
    {"buy\tbuy\t0.9\nbye\tbye\t0.5\n", ":2: ", "unknown class 'bye'"},
    {"near me\tgo\n", ":1: ", "expected 3 tab-separated fields"},
    {"near me\tgo\t0.9\textra\n", ":1: ", "expected 3 tab-separated fields"},
    {"# c\nnear me\tgo\t1.5\n", ":2: ", "weight '1.5'"},
    {"near me\tgo\t0\n", ":1: ", "weight '0'"},
    {"near me\tgo\t-0.2\n", ":1: ", "weight '-0.2'"},
    {"near me\tgo\tmuch\n", ":1: ", "weight 'much'"},
    {"near me\tgo\t0.9x\n", ":1: ", "weight '0.9x'"},
    {"n\xe6r mig\tgo\t0.9\n", ":1: ", "not valid UTF-8"},
    {"k\xc3\xb8" "b\tbuy\t0.9\n\nK\xc3\x98" "B\tbuy\t0.8\n", ":3: ",
     "duplicate phrase"},
    {"caf\xc3\xa9\tplace\t0.6\ncafe\tplace\t0.6\n", ":2: ", "duplicate phrase"},
    {"!!!\tstop\t1\n", ":1: ", "has no words"},
    {"\tbuy\t0.9\n", ":1: ", "has no words"},
};

START_TEST(test_bad_lexicon_line_names_file_and_line) {
    char err[256] = "";
    mm_lexicon_t *lex = load_one("xx.tsv", bad_rows[_i].text, err, sizeof(err));
    ck_assert_ptr_null(lex);
    char want[64];
    snprintf(want, sizeof(want), "xx.tsv%s", bad_rows[_i].line);
    ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
    ck_assert_msg(strstr(err, bad_rows[_i].reason) != NULL, "'%s' lacks '%s'",
                  err, bad_rows[_i].reason);
}
END_TEST

START_TEST(test_duplicate_message_names_first_line) {
    char err[256] = "";
    mm_lexicon_t *lex = load_one("da.tsv", "k\xc3\xb8" "b\tbuy\t0.9\nx\tstop\t1\n"
                                 "K\xc3\x98" "B\tbuy\t0.8\n", err, sizeof(err));
    ck_assert_ptr_null(lex);
    ck_assert_msg(strstr(err, "da.tsv:3: ") && strstr(err, "first at line 1"),
                  "%s", err);
}
END_TEST

START_TEST(test_same_phrase_in_two_languages_is_allowed) {
    char err[256] = "";
    tmpdir_t d;
    tmpdir_make(&d);
    tmpdir_write(&d, "en.tsv", "restaurant\tplace\t0.6\n");
    tmpdir_write(&d, "da.tsv", "restaurant\tplace\t0.6\n");
    mm_lexicon_t *lex = mm__lexicon_load_dir(d.path, err, sizeof(err));
    tmpdir_remove(&d);
    ck_assert_msg(lex != NULL, "%s", err);
    ck_assert_uint_eq(lex->n_langs, 2);
    ck_assert_str_eq(lex->langs[0], "da"); /* files load in name order */
    mm__lexicon_destroy(lex);
}
END_TEST

START_TEST(test_bad_file_name_is_an_error) {
    char err[256] = "";
    ck_assert_ptr_null(load_one("English.tsv", "buy\tbuy\t0.9\n", err, sizeof(err)));
    ck_assert_msg(strstr(err, "English.tsv") && strstr(err, "<lang>.tsv"), "%s", err);
}
END_TEST

START_TEST(test_missing_or_empty_dir_is_an_error) {
    char err[256] = "";
    ck_assert_ptr_null(mm__lexicon_load_dir("/nonexistent/lexicons", err, sizeof(err)));
    ck_assert_msg(strstr(err, "/nonexistent/lexicons") != NULL, "%s", err);
    tmpdir_t d;
    tmpdir_make(&d);
    ck_assert_ptr_null(mm__lexicon_load_dir(d.path, err, sizeof(err)));
    tmpdir_remove(&d);
    ck_assert_msg(strstr(err, "no lexicon files") != NULL, "%s", err);
}
END_TEST

/* ------------------------------------------------------------- folding */

static const struct {
    const char *in, *out;
} folds[] = {
    {"Coffee  NEAR me!", " coffee near me "},
    {"\xc3\x86\xc3\x98\xc3\x85 \xc3\xa6\xc3\xb8\xc3\xa5", " \xc3\xa6\xc3\xb8\xc3\xa5 \xc3\xa6\xc3\xb8\xc3\xa5 "},
    {"C\xc3\xb3mo", " como "},
    {"N\xc3\x84HE Stra\xc3\x9f" "e", " nahe strasse "},
    {"L\xc3\xa4hedal \xc3\xb5un", " lahedal oun "},
    {"Espa\xc3\xb1" "a \xc2\xbf" "d\xc3\xb3nde?", " espana donde "},
    {"\xc5\x81\xc3\xb3" "d\xc5\xba", " lodz "},
    {"e\xcc\x81t\xc3\xa9", " ete "}, /* NFD é folds like NFC é */
    {"what's don\xe2\x80\x99t", " whats dont "},
    {"under 1.000 kr", " under # kr "},
    {"$200 or 20%", " $ # or # % "},
    {"iphone15 s24", " iphone# s# "},
    {"\xe2\x82\xac" "50", " \xe2\x82\xac # "},
    {"", " "},
    {"  ,;  ", " "},
};

/* Unicode NFKC case folding: compatibility forms meet their plain ones. */
static const struct {
    const char *in, *out;
} nfkc_folds[] = {
    {"\xef\xbc\xa3\xef\xbc\xaf\xef\xbc\xa6\xef\xbc\xa6\xef\xbc\xa5\xef\xbc\xa5",
     " coffee "},                                            /* full-width */
    {"\xef\xbc\x91\xef\xbc\x92\xef\xbc\x90 kr", " # kr "},    /* full-width digits */
    {"www\xef\xbc\x8egoogle\xef\xbc\x8e" "com", " www.google.com "}, /* full-width dots */
    {"\xef\xac\x81nd", " find "},                              /* ligature fi */
    {"\xce\x91\xce\x98\xce\x97\xce\x9d\xce\x91",
     " \xce\xb1\xce\xb8\xce\xb7\xce\xbd\xce\xb1 "},            /* Greek */
    {"\xe2\x84\xab" "ben", " \xc3\xa5" "ben "},                /* angstrom sign: å */
    {"near\xc2\xa0me", " near me "},                           /* no-break space */
    {"ex\xc2\xad" "ample", " example "},                       /* soft hyphen joins */
    {"don\xc2\xb4t", " dont "},                                /* acute as apostrophe */
    {"pizza\xf0\x9f\x8d\x95near", " pizza near "},             /* emoji separates */
    {"\xf0\x9d\x90\x9b\xf0\x9d\x90\xae\xf0\x9d\x90\xb2", " buy "}, /* math bold */
    {"\xe2\x91\xa0 step", " # step "},                         /* circled digit */
};

START_TEST(test_fold_lowers_strips_accents_and_normalises) {
    mm_fold_t f;
    fold_str(folds[_i].in, &f);
    ck_assert_uint_eq(f.len, strlen(folds[_i].out));
    ck_assert_msg(memcmp(f.buf, folds[_i].out, f.len) == 0, "'%s' -> '%.*s'",
                  folds[_i].in, (int)f.len, f.buf);
}
END_TEST

START_TEST(test_fold_applies_nfkc_case_folding) {
    mm_fold_t f;
    fold_str(nfkc_folds[_i].in, &f);
    ck_assert_msg(f.len == strlen(nfkc_folds[_i].out) &&
                      memcmp(f.buf, nfkc_folds[_i].out, f.len) == 0,
                  "'%s' -> '%.*s'", nfkc_folds[_i].in, (int)f.len, f.buf);
}
END_TEST

START_TEST(test_fold_table_is_small) {
    /* Identical pages are shared: the whole BMP in well under a megabyte. */
    ck_assert_uint_lt(mm__fold_map_bytes(fold_map), 1u << 20);
}
END_TEST

START_TEST(test_danish_letters_fold) {
    mm_fold_t upper, lower;
    fold_str("K\xc3\x98" "B N\xc3\x86R \xc3\x85" "BENT", &upper);
    fold_str("k\xc3\xb8" "b n\xc3\xa6r \xc3\xa5" "bent", &lower);
    ck_assert_uint_eq(upper.len, lower.len);
    ck_assert_int_eq(memcmp(upper.buf, lower.buf, upper.len), 0);
    ck_assert_uint_eq(upper.evidence[MM_EVID_DA], 3);
}
END_TEST

START_TEST(test_fold_counts_language_letters_before_stripping) {
    mm_fold_t f;
    fold_str("\xc3\xb5 \xc3\x9f \xc3\xb1 \xc3\xa4 \xc3\xa1 \xc3\xa9 \xc2\xbf", &f);
    ck_assert_uint_eq(f.evidence[MM_EVID_ET], 1);
    ck_assert_uint_eq(f.evidence[MM_EVID_DE], 1);
    ck_assert_uint_eq(f.evidence[MM_EVID_ES], 2);
    ck_assert_uint_eq(f.evidence[MM_EVID_UMLAUT], 1);
    ck_assert_uint_eq(f.evidence[MM_EVID_ACUTE], 1);
    ck_assert_uint_eq(f.evidence[MM_EVID_E_ACUTE], 1);
}
END_TEST

START_TEST(test_fold_invalid_utf8_separates_words) {
    mm_fold_t f;
    /* stray continuation, overlong, surrogate, truncated sequence */
    const char in[] = "buy\x80shoes\xc0\xafnow\xed\xa0\x80x\xe2\x82";
    mm__fold(fold_map, in, sizeof(in) - 1, &f);
    ck_assert_msg(f.len == strlen(" buy shoes now x ") &&
                      memcmp(f.buf, " buy shoes now x ", f.len) == 0,
                  "'%.*s'", (int)f.len, f.buf);
}
END_TEST

START_TEST(test_fold_records_tokens_and_hashes_digits) {
    mm_fold_t a, b;
    fold_str("iphone 13", &a);
    fold_str("IPHONE 15", &b);
    ck_assert_uint_eq(a.n_tokens, 2);
    ck_assert_uint_eq(a.tokens[0].hash, b.tokens[0].hash);
    ck_assert_uint_ne(a.tokens[1].hash, b.tokens[1].hash); /* 13 != 15 */
}
END_TEST

START_TEST(test_fold_truncates_long_input_on_a_word_boundary) {
    static char big[5000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = "abcdefg "[i % 8];
    mm_fold_t f;
    mm__fold(fold_map, big, sizeof(big), &f);
    ck_assert(f.truncated);
    ck_assert_uint_le(f.len, MM_FOLD_MAX);
    ck_assert_int_eq(f.buf[0], ' ');
    ck_assert_int_eq(f.buf[f.len - 1], ' ');
    ck_assert_int_eq(f.buf[f.len - 2], 'g'); /* last whole word kept */
    ck_assert_uint_le(f.n_tokens, MM_FOLD_TOKENS_MAX);
}
END_TEST

/* ------------------------------------------------------------- matching */

static mm_lexicon_t *small_lexicon(void) {
    char err[256] = "";
    mm_lexicon_t *lex = load_one("en.tsv",
                                 "buy\tbuy\t0.9\n"
                                 "near me\tgo\t0.9\n"
                                 "me\tstop\t1\n"
                                 "atm\tplace\t0.7\n"
                                 "under 100 kr\tprice\t0.8\n"
                                 "caf\xc3\xa9\tplace\t0.6\n",
                                 err, sizeof(err));
    ck_assert_msg(lex != NULL, "%s", err);
    return lex;
}

static size_t scan(const mm_lexicon_t *lex, const char *q, mm_match_t *hits,
                   size_t max) {
    mm_fold_t f;
    mm__fold(lex->fold_map, q, strlen(q), &f);
    return mm__matcher_scan(lex->matcher, f.buf, f.len, hits, max);
}

static const char *const no_match_queries[] = {
    "buyer guide", "rebuy", "atmosphere", "nearme", "under100kr", "cafeteria",
    "b u y",
};

START_TEST(test_word_boundary_no_partial_match) {
    mm_lexicon_t *lex = small_lexicon();
    mm_match_t hits[8];
    ck_assert_uint_eq(scan(lex, no_match_queries[_i], hits, 8), 0);
    mm__lexicon_destroy(lex);
}
END_TEST

START_TEST(test_overlapping_phrases_are_all_reported) {
    mm_lexicon_t *lex = small_lexicon();
    mm_match_t hits[8];
    size_t n = scan(lex, "ATM near me", hits, 8);
    ck_assert_uint_eq(n, 3); /* atm, near me, me */
    ck_assert_str_eq(lex->entries[hits[0].id].phrase, "atm");
    ck_assert_str_eq(lex->entries[hits[1].id].phrase, "near me");
    ck_assert_str_eq(lex->entries[hits[2].id].phrase, "me");
    /* spans: "near me" contains "me" */
    ck_assert_uint_le(hits[1].start, hits[2].start);
    ck_assert_uint_eq(hits[1].end, hits[2].end);
    mm__lexicon_destroy(lex);
}
END_TEST

START_TEST(test_number_pattern_matches_any_number) {
    mm_lexicon_t *lex = small_lexicon();
    mm_match_t hits[8];
    ck_assert_uint_eq(scan(lex, "headphones under 1.499 kr", hits, 8), 1);
    ck_assert_str_eq(lex->entries[hits[0].id].phrase, "under 100 kr");
    ck_assert_uint_eq(scan(lex, "Caf\xc3\x89 or cafe", hits, 8), 2);
    mm__lexicon_destroy(lex);
}
END_TEST

START_TEST(test_scan_is_bounded_by_caller_array) {
    mm_lexicon_t *lex = small_lexicon();
    mm_match_t hits[4];
    size_t n = scan(lex, "buy buy buy buy buy buy buy buy", hits, 4);
    ck_assert_uint_eq(n, 8); /* all counted, 4 written */
    mm__lexicon_destroy(lex);
}
END_TEST

START_TEST(test_typo_targets_are_long_single_words) {
    char err[256] = "";
    mm_lexicon_t *lex = load_one("en.tsv",
                                 "restaurant\tplace\t0.6\n"  /* a target */
                                 "restaurants\tplace\t0.6\n" /* a target */
                                 "menu\tplace\t0.4\n"        /* too short */
                                 "opening hours\tgo\t0.8\n"  /* two words */
                                 "therefore\tstop\t1\n"      /* a function word */
                                 "taylor\tword\t1\n"         /* a plain word */
                                 "-station\tplace\t0.5\n",   /* an affix */
                                 err, sizeof(err));
    ck_assert_msg(lex != NULL, "%s", err);
    ck_assert_uint_eq(mm__typo_words(lex->typo), 2);
    mm__lexicon_destroy(lex);
}
END_TEST

START_TEST(test_automaton_is_modest) {
    char err[256] = "";
    mm_lexicon_t *lex = mm__lexicon_load_dir(LEXICONS, err, sizeof(err));
    ck_assert_msg(lex != NULL, "%s", err);
    size_t states, classes, bytes;
    mm__matcher_stats(lex->matcher, &states, &classes, &bytes);
    ck_assert_uint_lt(classes, 256);
    ck_assert_uint_lt(bytes, 16u << 20); /* a dense table must stay small */
    mm__lexicon_destroy(lex);
}
END_TEST

static Suite *lexicon_suite(void) {
    Suite *s = suite_create("lexicon");
    TCase *tc = tcase_create("lexicon_load");
    tcase_add_test(tc, test_shipped_lexicons_load);
    tcase_add_test(tc, test_comments_blank_lines_and_crlf_are_accepted);
    tcase_add_loop_test(tc, test_bad_lexicon_line_names_file_and_line, 0,
                        (int)(sizeof(bad_rows) / sizeof(bad_rows[0])));
    tcase_add_test(tc, test_duplicate_message_names_first_line);
    tcase_add_test(tc, test_same_phrase_in_two_languages_is_allowed);
    tcase_add_test(tc, test_bad_file_name_is_an_error);
    tcase_add_test(tc, test_missing_or_empty_dir_is_an_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("lexicon_fold");
    tcase_add_unchecked_fixture(tc, fold_setup, fold_teardown);
    tcase_add_loop_test(tc, test_fold_lowers_strips_accents_and_normalises, 0,
                        (int)(sizeof(folds) / sizeof(folds[0])));
    tcase_add_loop_test(tc, test_fold_applies_nfkc_case_folding, 0,
                        (int)(sizeof(nfkc_folds) / sizeof(nfkc_folds[0])));
    tcase_add_test(tc, test_fold_table_is_small);
    tcase_add_test(tc, test_danish_letters_fold);
    tcase_add_test(tc, test_fold_counts_language_letters_before_stripping);
    tcase_add_test(tc, test_fold_invalid_utf8_separates_words);
    tcase_add_test(tc, test_fold_records_tokens_and_hashes_digits);
    tcase_add_test(tc, test_fold_truncates_long_input_on_a_word_boundary);
    suite_add_tcase(s, tc);

    tc = tcase_create("lexicon_match");
    tcase_add_loop_test(tc, test_word_boundary_no_partial_match, 0,
                        (int)(sizeof(no_match_queries) / sizeof(no_match_queries[0])));
    tcase_add_test(tc, test_overlapping_phrases_are_all_reported);
    tcase_add_test(tc, test_number_pattern_matches_any_number);
    tcase_add_test(tc, test_scan_is_bounded_by_caller_array);
    tcase_add_test(tc, test_typo_targets_are_long_single_words);
    tcase_add_test(tc, test_automaton_is_modest);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return mm_check_run(lexicon_suite());
}
