/*
 * Private seams between the classifier's units. Not included outside
 * classifier/ (and its tests).
 *
 *   text side   (lexicon.c, matcher, lang, query scoring): what a query says
 *   behaviour   (state.c, detect_*.c, enrich.c, classify.c): what a user does
 *
 * classify.c composes them: mm_query_analyze() on the query text, then the
 * detectors over the user's state, then scoring and enrichment.
 */
#ifndef MM_CLASSIFIER_INT_H
#define MM_CLASSIFIER_INT_H

#include "classifier.h"

struct mm_lexicon_s; /* owned by the text side */

struct mm_rules_s {
    mm_rules_conf_t conf;
    struct mm_lexicon_s *lexicon;
};

#define MM_QUERY_TERMS_MAX 8
#define MM_QUERY_SIGNALS_MAX 8

/** What the text of one query says, before any behaviour is considered. */
typedef struct mm_query_analysis_s {
    float scores[MM_MOMENT__COUNT]; /* lexical evidence, 0..1 each */
    const char *lang;               /* "en", ...; NULL when unknown */
    bool lang_inferred;             /* true when not from the hint */
    bool place_seeking;             /* names a place or "near me"-like */
    bool product;                   /* names a product or category to buy */
    bool price_bound;               /* "under 1000 kr", "cheap", ... */
    bool navigational;              /* a bare site or brand name */
    uint32_t n_terms;               /* content words, for refinements */
    uint32_t term_hashes[MM_QUERY_TERMS_MAX];
    uint32_t n_signals;
    mm_signal_t signals[MM_QUERY_SIGNALS_MAX]; /* keyword hits, language */
} mm_query_analysis_t;

/**
 * @brief Analyse one query's text.
 * @param lang_hint the event's `lang`; p == NULL when absent.
 * @locality any thread; no allocation.
 */
void mm__query_analyze(const mm_rules_t *rules, mm_str_t query,
                       mm_str_t lang_hint, mm_query_analysis_t *out);

/**
 * @brief The one decision rule from scores to a moment type, shared by
 * mm_classify and the quality test: the highest score wins (ties go to the
 * first in enum order: know, go, do, buy); no moment when it is below
 * rules->conf.min_confidence (or zero).
 * @param type, confidence out: the winner and its score, set either way.
 * @returns true when there is a moment.
 * @locality any thread; no allocation.
 */
bool mm__query_decide(const mm_rules_t *rules, const mm_query_analysis_t *qa,
                      mm_moment_type_t *type, float *confidence);

/** @brief Load every *.tsv under dir into a new lexicon (text side). */
struct mm_lexicon_s *mm__lexicon_load_dir(const char *dir, char *errstr,
                                          size_t errstr_size);
void mm__lexicon_destroy(struct mm_lexicon_s *lexicon);

#endif
