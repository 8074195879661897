/*
 * Strategy files (classifier/strategy.c): the shipped languages, the lookup
 * by language with English as the fallback, the offer column, and every bad
 * file refused with its file and line.
 */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/classifier_int.h"

#define SHIPPED MM_SOURCE_DIR "/lexicons/strategy"

static char g_dir[64];

static void setup(void) { mm_test_dir(g_dir); }
static void teardown(void) { mm_test_dir_remove(g_dir); }

static mm_str_t str(const char *s) { return (mm_str_t){s, s ? strlen(s) : 0}; }

static const char en_rows[] = "know\tgather information\tguides\tlong\n"
                              "go\tfind options nearby\tmaps\tminutes to hours\n"
                              "do\tlearn how\tstep-by-step guides\tduring the task\n"
                              "buy\tcomplete a transaction\tprices\tminutes\n";

static void put_file(const char *name, const char *text) {
    char path[128];
    mm_test_file(g_dir, name, text, path, sizeof(path));
}

/* ------------------------------------------------------------- shipped */

/* The English table every moment carried before it was data. */
static const char *const en_goals[MM_MOMENT__COUNT] = {
    "gather information", "find options nearby", "learn how", "complete a transaction"};
static const char *const en_horizons[MM_MOMENT__COUNT] = {
    "long (awareness building)", "minutes to hours", "during the task", "minutes"};

START_TEST(test_shipped_english_is_the_seed_table) {
    char err[256];
    struct mm__strategy_s *st = mm__strategy_load(SHIPPED, err, sizeof(err));
    ck_assert_msg(st != NULL, "%s", err);
    for (int t = 0; t < MM_MOMENT__COUNT; t++) {
        const mm_strategy_t *r = mm__strategy_get(st, (mm_moment_type_t)t, str("en"));
        ck_assert_str_eq(r->goal, en_goals[t]);
        ck_assert_str_eq(r->horizon, en_horizons[t]);
        ck_assert_ptr_null(r->offer);
    }
    ck_assert_str_eq(mm__strategy_get(st, MM_MOMENT_GO, str("en"))->content,
                     "local listings, maps, directions, reviews, opening hours");
    mm__strategy_destroy(st);
}
END_TEST

/* Every shipped language has its own text for every type (a row copied
 * from English by mistake would show as the same goal). */
static const char *const shipped_langs[] = {"da", "de", "es", "et"};

START_TEST(test_shipped_language_has_its_own_rows) {
    char err[256];
    struct mm__strategy_s *st = mm__strategy_load(SHIPPED, err, sizeof(err));
    ck_assert_msg(st != NULL, "%s", err);
    for (int t = 0; t < MM_MOMENT__COUNT; t++) {
        const mm_strategy_t *r =
            mm__strategy_get(st, (mm_moment_type_t)t, str(shipped_langs[_i]));
        const mm_strategy_t *en = mm__strategy_get(st, (mm_moment_type_t)t, str("en"));
        ck_assert_ptr_ne(r, en);
        ck_assert_str_ne(r->goal, en->goal);
        ck_assert_str_ne(r->content, en->content);
        ck_assert_str_ne(r->horizon, en->horizon);
    }
    mm__strategy_destroy(st);
}
END_TEST

/* ---------------------------------------------------------------- lookup */

/* { the language asked for, the goal of go that answers } */
static const struct {
    const char *lang, *goal;
} lookup_rows[] = {
    {"da", "find muligheder i nærheden"}, {"DA", "find muligheder i nærheden"},
    {"da-DK", "find muligheder i nærheden"}, {"da_dk", "find muligheder i nærheden"},
    {"de", "Angebote in der Nähe finden"}, {"es", "encontrar opciones cercanas"},
    {"et", "leida lähedal olevaid valikuid"}, {"fr", "find options nearby"},
    {NULL, "find options nearby"},          {"", "find options nearby"},
    {"d", "find options nearby"},           {"dan", "find options nearby"},
    {"da1", "find options nearby"},         {"dansk", "find options nearby"},
};

START_TEST(test_lookup_by_language_falls_back_to_english) {
    char err[256];
    struct mm__strategy_s *st = mm__strategy_load(SHIPPED, err, sizeof(err));
    ck_assert_msg(st != NULL, "%s", err);
    const mm_strategy_t *r = mm__strategy_get(st, MM_MOMENT_GO, str(lookup_rows[_i].lang));
    ck_assert_str_eq(r->goal, lookup_rows[_i].goal);
    mm__strategy_destroy(st);
}
END_TEST

START_TEST(test_offer_column_is_carried) {
    put_file("en.tsv", en_rows);
    put_file("da.tsv", "# a comment\n\n"
                    "know\tmål\tindhold\tlang\t\n"
                    "go\tmål\tindhold\tminutter\tstore-map-7\n"
                    "do\tmål\tindhold\tunder opgaven\n"
                    "buy\tmål\tindhold\tminutter\tKØB10 rabat\r\n");
    char err[256];
    struct mm__strategy_s *st = mm__strategy_load(g_dir, err, sizeof(err));
    ck_assert_msg(st != NULL, "%s", err);
    ck_assert_ptr_null(mm__strategy_get(st, MM_MOMENT_KNOW, str("da"))->offer); /* empty */
    ck_assert_str_eq(mm__strategy_get(st, MM_MOMENT_GO, str("da"))->offer, "store-map-7");
    ck_assert_ptr_null(mm__strategy_get(st, MM_MOMENT_DO, str("da"))->offer);
    ck_assert_str_eq(mm__strategy_get(st, MM_MOMENT_BUY, str("da"))->offer, "KØB10 rabat");
    ck_assert_ptr_null(mm__strategy_get(st, MM_MOMENT_GO, str("en"))->offer);
    mm__strategy_destroy(st);
}
END_TEST

/* ------------------------------------------------------------ bad files */

/* { file name, its text (en.tsv is good beside it), the message } */
static const struct {
    const char *name, *text, *want;
} bad_rows[] = {
    {"da.tsv", "know\tx\ty\tz\n", "/da.tsv: no row for 'go'"},
    {"da.tsv", "know\tx\ty\tz\nknow\tx\ty\tz\n",
     "/da.tsv:2: a second row for 'know' (first at line 1)"},
    {"da.tsv", "see\tx\ty\tz\n", "/da.tsv:1: unknown moment 'see' (know, go, do or buy)"},
    {"da.tsv", "# c\nknow\tx\ty\n", "/da.tsv:2: expected 4 or 5 tab-separated fields"},
    {"da.tsv", "know\tx\ty\tz\to\tp\n", "/da.tsv:1: expected 4 or 5 tab-separated fields"},
    {"da.tsv", "know\t\ty\tz\n", "/da.tsv:1: goal is empty"},
    {"da.tsv", "know\tx\ty\t\n", "/da.tsv:1: horizon is empty"},
    {"da.tsv", "know\tx\t\xc3\x28\tz\n", "/da.tsv:1: content is not UTF-8 text"},
    {"DA.tsv", en_rows, "/DA.tsv: file name must be <lang>.tsv"},
    {"dansk.tsv", en_rows, "/dansk.tsv: file name must be <lang>.tsv"},
    {"d.tsv", en_rows, "/d.tsv: file name must be <lang>.tsv"},
};

START_TEST(test_bad_file_names_file_and_line) {
    put_file("en.tsv", en_rows);
    put_file(bad_rows[_i].name, bad_rows[_i].text);
    char err[256] = "";
    ck_assert_ptr_null(mm__strategy_load(g_dir, err, sizeof(err)));
    ck_assert_msg(strstr(err, bad_rows[_i].want) != NULL, "got '%s', want '%s'", err,
                  bad_rows[_i].want);
}
END_TEST

START_TEST(test_field_longer_than_bound_refused) {
    char row[700] = "know\t";
    memset(row + 5, 'x', 513);
    strcpy(row + 5 + 513, "\ty\tz\n");
    put_file("en.tsv", row);
    char err[256] = "";
    ck_assert_ptr_null(mm__strategy_load(g_dir, err, sizeof(err)));
    ck_assert_msg(strstr(err, "/en.tsv:1: goal is longer than 512 bytes") != NULL, "%s", err);
}
END_TEST

START_TEST(test_english_is_required) {
    put_file("da.tsv", en_rows);
    char err[256] = "";
    ck_assert_ptr_null(mm__strategy_load(g_dir, err, sizeof(err)));
    ck_assert_msg(strstr(err, "/en.tsv: missing (English is every other language's fallback)"),
                  "%s", err);
    ck_assert_ptr_null(mm__strategy_load("/nonexistent/strategy", err, sizeof(err)));
    ck_assert_msg(strstr(err, "/nonexistent/strategy: No such file or directory"), "%s", err);
}
END_TEST

/* --------------------------------------------------------------- rules */

START_TEST(test_rules_read_the_strategy_folder) {
    char err[512];
    mm_rules_conf_t conf;
    mm_rules_conf_defaults(&conf);
    mm_rules_t *rules = mm_rules_load(MM_SOURCE_DIR "/lexicons", &conf, err, sizeof(err));
    ck_assert_msg(rules != NULL, "%s", err); /* default: <lexicons>/strategy */
    ck_assert_str_eq(mm_rules_strategy(rules, MM_MOMENT_DO, str("es"))->goal,
                     "aprender a hacerlo");
    mm_rules_destroy(rules);
    put_file("en.tsv", "know\tk\tk\tk\ngo\tg\tg\tg\ndo\td\td\td\nbuy\tb\tb\tb\tmine\n");
    snprintf(conf.strategy_dir, sizeof(conf.strategy_dir), "%s", g_dir);
    rules = mm_rules_load(MM_SOURCE_DIR "/lexicons", &conf, err, sizeof(err));
    ck_assert_msg(rules != NULL, "%s", err);
    const mm_strategy_t *buy = mm_rules_strategy(rules, MM_MOMENT_BUY, str("es"));
    ck_assert_str_eq(buy->goal, "b"); /* only English in this folder */
    ck_assert_str_eq(buy->offer, "mine");
    mm_rules_destroy(rules);
    put_file("en.tsv", "know\tk\tk\tk\n");
    ck_assert_ptr_null(mm_rules_load(MM_SOURCE_DIR "/lexicons", &conf, err, sizeof(err)));
    ck_assert_msg(strstr(err, "/en.tsv: no row for 'go'") != NULL, "%s", err);
}
END_TEST

#define NROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *strategy_suite(void) {
    Suite *s = suite_create("strategy");
    TCase *tc = tcase_create("strategy_files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_shipped_english_is_the_seed_table);
    tcase_add_loop_test(tc, test_shipped_language_has_its_own_rows, 0, NROWS(shipped_langs));
    tcase_add_loop_test(tc, test_lookup_by_language_falls_back_to_english, 0,
                        NROWS(lookup_rows));
    tcase_add_test(tc, test_offer_column_is_carried);
    tcase_add_loop_test(tc, test_bad_file_names_file_and_line, 0, NROWS(bad_rows));
    tcase_add_test(tc, test_field_longer_than_bound_refused);
    tcase_add_test(tc, test_english_is_required);
    tcase_add_test(tc, test_rules_read_the_strategy_folder);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return mm_check_run(strategy_suite()); }
