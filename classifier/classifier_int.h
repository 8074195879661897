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
struct mm__places_s;   /* places.c */
struct mm__strategy_s; /* strategy.c */

struct mm_rules_s {
    mm_rules_conf_t conf;
    struct mm_lexicon_s *lexicon;
    struct mm__places_s *places; /* NULL: no places file */
    struct mm__strategy_s *strategy;
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

/* ---------------------------------------------- places, strategy (rules) */

/** @brief Load a places file, CSV or GeoJSON (told apart by its first
 * character), indexed for mm__places_find; NULL with "<path>:<line>: ..." or
 * "<path>: feature N (line L): ..." in errstr. */
struct mm__places_s *mm__places_load(const char *path, char *errstr, size_t errstr_size);
void mm__places_destroy(struct mm__places_s *places);
/** @brief The place whose circle holds (lat, lon), the one with the nearest
 * centre when several do; NULL when none (or @p places is NULL). */
const mm_place_t *mm__places_find(const struct mm__places_s *places, double lat, double lon);
size_t mm__places_list(const struct mm__places_s *places, const mm_place_t **out);

/** @brief Load every <lang>.tsv strategy file in @p dir; en.tsv must be one
 * of them (the fallback). NULL with "<path>:<line>: ..." in errstr. */
struct mm__strategy_s *mm__strategy_load(const char *dir, char *errstr, size_t errstr_size);
void mm__strategy_destroy(struct mm__strategy_s *strategy);
const mm_strategy_t *mm__strategy_get(const struct mm__strategy_s *strategy,
                                      mm_moment_type_t type, mm_str_t lang);

/* Text files the rules are read from (textfile.c). */

/** @brief Read @p path whole (at most @p max bytes) into a new NUL-ended
 * buffer; a NUL byte inside is an error naming its line. */
bool mm__file_read(const char *path, size_t max, char **buf, size_t *len, char *errstr,
                   size_t errstr_size);

/** Lines of a buffer that mm__file_read returned, walked in place. */
typedef struct mm__lines_s {
    char *p, *end;
    uint32_t lineno; /* of the line last returned */
} mm__lines_t;

/** @brief The next line, NUL-ended in place without its "\n" or "\r\n";
 * false at the end of the buffer. */
bool mm__lines_next(mm__lines_t *it, char **line, size_t *len);

/** @brief Cut @p line at its tabs in place; the first @p max fields go to
 * @p fields. @returns how many fields the line has (more than @p max, too). */
size_t mm__split_tabs(char *line, char **fields, size_t max);

/** @brief True when @p s is well-formed UTF-8 without control characters
 * (a name or a text written for people). */
bool mm__text_valid(const char *s, size_t n);

/** @brief Check a field of text: not empty when @p required, at most @p max
 * bytes, mm__text_valid; false with "<what> is ..." in @p why. */
bool mm__text_check(const char *what, const char *s, size_t n, size_t max, bool required,
                    char *why, size_t why_size);

#endif
