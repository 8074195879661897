/*
 * Classification quality on labelled queries (../shared/data, never copied
 * into the repository). Each query goes through mm_classify, the product's
 * own path and decision rule, with a fresh per-user state so that no
 * behaviour carries over between rows: this measures what the text says.
 *
 * dev_queries.tsv: macro-F1 over know/go/do/buy/none must be >= 0.90, with
 * the `lang` hint and without it. Those 82 queries were in view while the
 * lexicons were written, so they are not a generalisation estimate.
 *
 * tests/data/holdout_queries.tsv (ours, in the repository; its header says
 * how it was made): 520 search queries in five languages, written and
 * labelled before the classifier ran on them. Part A (430) was measured at
 * 0.917 / 0.913 before the lexicons were broadened with its misses in view;
 * part B (90) stayed blind until after (0.966 -> 0.989). The bar, 0.95, is
 * below what both parts reach by a margin and was not moved to pass; a drop
 * under it means a lexicon or scoring change lost general coverage.
 *
 * massive_train.tsv (voice-assistant text, see the data README): the figure
 * is printed as a generalisation check, not asserted. A missing file skips
 * with a message. Lines starting with '#' are comments.
 */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/classifier.h"

#define DEV_FILE MM_SHARED_DIR "/data/dev_queries.tsv"
#define MASSIVE_FILE MM_SHARED_DIR "/data/massive_train.tsv"
#define N_LABELS (MM_MOMENT__COUNT + 1) /* the four moments, then none */
#define HOLDOUT_FILE MM_SOURCE_DIR "/tests/data/holdout_queries.tsv"
#define MIN_MACRO_F1 0.90
#define MIN_HOLDOUT_MACRO_F1 0.95

static mm_rules_t *rules;
static mm_state_t *state;

static void setup(void) {
    char err[256] = "";
    mm_rules_conf_t conf;
    mm_state_conf_t sconf;
    mm_rules_conf_defaults(&conf);
    mm_state_conf_defaults(&sconf);
    rules = mm_rules_load(MM_SOURCE_DIR "/lexicons", &conf, err, sizeof(err));
    ck_assert_msg(rules != NULL, "%s", err);
    state = mm_state_new(&sconf);
    ck_assert_ptr_nonnull(state);
}

static void teardown(void) {
    mm_state_destroy(state);
    mm_rules_destroy(rules);
}

static const char *label_name(int label) {
    return label < MM_MOMENT__COUNT ? mm_moment_type_name((mm_moment_type_t)label)
                                    : "none";
}

static int label_parse(const char *s) {
    mm_moment_type_t type;
    if (mm_moment_type_parse(s, strlen(s), &type))
        return (int)type;
    return strcmp(s, "none") == 0 ? MM_MOMENT__COUNT : -1;
}

static int classify(const char *query, const char *lang) {
    mm_event_t ev;
    mm_event_init(&ev);
    ev.type = MM_EVENT_QUERY;
    ev.user_id = MM_STR_LIT("quality");
    ev.query = (mm_str_t){query, strlen(query)};
    if (lang)
        ev.lang = (mm_str_t){lang, strlen(lang)};
    ev.ts = 1763900000000;
    ev.has_ts = true;
    mm_state_clear(state);
    mm_moment_t moment;
    size_t n = 1;
    ck_assert_int_eq(mm_classify(rules, state, &ev, &moment, &n, NULL), MM_ERR_OK);
    return n == 1 ? (int)moment.type : MM_MOMENT__COUNT;
}

/* Classifies every row of a labelled file; prints per-type precision and
 * recall (and, when show_errors, the rows it got wrong). Returns the
 * macro-F1, or -1 when the file is absent. */
static double evaluate(const char *path, bool use_hint, bool show_errors) {
    FILE *fp = fopen(path, "r");
    if (!fp) {
        printf("SKIP: %s is absent (labelled data lives in ../shared/data)\n", path);
        return -1.0;
    }
    long tp[N_LABELS] = {0}, fp_[N_LABELS] = {0}, fn[N_LABELS] = {0};
    long rows = 0;
    char line[4096];
    bool header = true;
    while (fgets(line, sizeof(line), fp)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#')
            continue; /* comment */
        if (header) {
            header = false;
            continue;
        }
        char *query = strtok(line, "\t");
        char *lang = strtok(NULL, "\t");
        char *gold_s = strtok(NULL, "\t");
        if (!query || !lang || !gold_s)
            continue;
        int gold = label_parse(gold_s);
        ck_assert_msg(gold >= 0, "%s: unknown label '%s'", path, gold_s);
        int pred = classify(query, use_hint ? lang : NULL);
        rows++;
        if (pred == gold) {
            tp[gold]++;
        } else {
            fp_[pred]++;
            fn[gold]++;
            if (show_errors)
                printf("  miss: %-45s %s want %-4s got %s\n", query, lang,
                       label_name(gold), label_name(pred));
        }
    }
    fclose(fp);
    double f1_sum = 0.0;
    printf("%s, %s hint: %ld rows\n", strrchr(path, '/') + 1,
           use_hint ? "with" : "without", rows);
    for (int k = 0; k < N_LABELS; k++) {
        double p = tp[k] + fp_[k] ? (double)tp[k] / (double)(tp[k] + fp_[k]) : 0.0;
        double r = tp[k] + fn[k] ? (double)tp[k] / (double)(tp[k] + fn[k]) : 0.0;
        double f1 = p + r > 0.0 ? 2.0 * p * r / (p + r) : 0.0;
        f1_sum += f1;
        printf("  %-5s precision %.3f recall %.3f f1 %.3f\n", label_name(k), p, r, f1);
    }
    double macro = f1_sum / N_LABELS;
    printf("  macro-F1 %.3f\n", macro);
    fflush(stdout);
    return macro;
}

START_TEST(test_dev_macro_f1_with_lang_hint) {
    double f1 = evaluate(DEV_FILE, true, true);
    if (f1 < 0)
        return;
    ck_assert_msg(f1 >= MIN_MACRO_F1, "macro-F1 %.3f < %.2f", f1, MIN_MACRO_F1);
}
END_TEST

START_TEST(test_dev_macro_f1_without_lang_hint) {
    double f1 = evaluate(DEV_FILE, false, true);
    if (f1 < 0)
        return;
    ck_assert_msg(f1 >= MIN_MACRO_F1, "macro-F1 %.3f < %.2f", f1, MIN_MACRO_F1);
}
END_TEST

START_TEST(test_holdout_macro_f1_with_lang_hint) {
    double f1 = evaluate(HOLDOUT_FILE, true, true);
    ck_assert_msg(f1 >= 0, "%s is part of the repository", HOLDOUT_FILE);
    ck_assert_msg(f1 >= MIN_HOLDOUT_MACRO_F1, "macro-F1 %.3f < %.2f", f1,
                  MIN_HOLDOUT_MACRO_F1);
}
END_TEST

START_TEST(test_holdout_macro_f1_without_lang_hint) {
    double f1 = evaluate(HOLDOUT_FILE, false, true);
    ck_assert_msg(f1 >= 0, "%s is part of the repository", HOLDOUT_FILE);
    ck_assert_msg(f1 >= MIN_HOLDOUT_MACRO_F1, "macro-F1 %.3f < %.2f", f1,
                  MIN_HOLDOUT_MACRO_F1);
}
END_TEST

START_TEST(test_massive_generalisation_is_reported) {
    /* Printed, not asserted: spoken commands, not web queries. */
    evaluate(MASSIVE_FILE, true, false);
    evaluate(MASSIVE_FILE, false, false);
}
END_TEST

static Suite *quality_suite(void) {
    Suite *s = suite_create("quality");
    TCase *tc = tcase_create("quality_dev");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_dev_macro_f1_with_lang_hint);
    tcase_add_test(tc, test_dev_macro_f1_without_lang_hint);
    suite_add_tcase(s, tc);

    tc = tcase_create("quality_holdout");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_holdout_macro_f1_with_lang_hint);
    tcase_add_test(tc, test_holdout_macro_f1_without_lang_hint);
    suite_add_tcase(s, tc);

    tc = tcase_create("quality_massive");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_massive_generalisation_is_reported);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return mm_check_run(quality_suite());
}
