/*
 * Scoring the classifier against labelled queries: the engine of
 * `micromoment eval` and of the quality test (tests/unit/test_quality.c), so
 * that the figures a user sees and the ones the tests assert come from one
 * piece of code.
 *
 * A labelled file is tab-separated UTF-8: lines starting with '#' are
 * comments, the first other line is a header naming the columns, and the
 * columns `query` and `label` are required (`lang` is optional; any other
 * column is ignored). Labels are know, go, do, buy and none.
 *
 * Each row is classified by mm_classify(), the product's own path and
 * decision rule, as a query event of a user with no history (the state is
 * cleared per row): this measures what the text says, not behaviour.
 */
#ifndef MM_EVAL_H
#define MM_EVAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../classifier/classifier.h"

/* The four moments, then none. */
#define MM_EVAL_NONE MM_MOMENT__COUNT
#define MM_EVAL_LABELS (MM_MOMENT__COUNT + 1)
/* Distinct `lang` values counted apart; rows past that go to "other". */
#define MM_EVAL_GROUPS_MAX 32

typedef struct mm_eval_table_s {
    char group[16]; /* "all", or a `lang` value ("" when the cell is empty) */
    uint64_t rows;
    uint64_t confusion[MM_EVAL_LABELS][MM_EVAL_LABELS]; /* [gold][predicted] */
} mm_eval_table_t;

typedef struct mm_eval_scores_s {
    double precision[MM_EVAL_LABELS];
    double recall[MM_EVAL_LABELS];
    double f1[MM_EVAL_LABELS];
    uint64_t support[MM_EVAL_LABELS]; /* gold rows of each label */
    /* Mean F1 over the labels that occur in the gold column or among the
     * predictions (a label absent from both says nothing). */
    double macro_f1;
} mm_eval_scores_t;

typedef struct mm_eval_s {
    mm_eval_table_t all;
    size_t n_groups;
    mm_eval_table_t groups[MM_EVAL_GROUPS_MAX + 1]; /* the last: "other" */
} mm_eval_t;

/** @brief "know", "go", "do", "buy", "none". */
const char *mm_eval_label_name(int label);
/** @brief The label index of @p s, -1 when it is not one. */
int mm_eval_label_parse(const char *s, size_t len);

/**
 * @brief The label the classifier gives one query: a moment type, or
 * MM_EVAL_NONE when no moment comes out.
 * @param state a state of the caller's, cleared here first.
 * @param lang the `lang` hint; p == NULL for none.
 */
int mm_eval_classify(const mm_rules_t *rules, mm_state_t *state, mm_str_t query,
                     mm_str_t lang);

/**
 * @brief Classify every row of the labelled file @p path ("-": stdin) and
 * add it to @p ev (zero it first for one file's figures).
 * @param use_hint pass the `lang` column as the event's hint.
 * @returns false with "path:line: what" in errstr for a file that cannot be
 *          read, a missing column or an unknown label.
 */
bool mm_eval_file(const mm_rules_t *rules, const char *path, bool use_hint,
                  mm_eval_t *ev, char *errstr, size_t errstr_size);

/** @brief Precision, recall and F1 per label, and macro-F1, of @p table. */
void mm_eval_scores(const mm_eval_table_t *table, mm_eval_scores_t *scores);

/** @brief The confusion matrix and the scores of @p table, as text. */
void mm_eval_print(FILE *out, const mm_eval_table_t *table);

#endif
