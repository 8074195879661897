/*
 * Lexicons in memory (private to classifier/): the rows of every
 * lexicons/<lang>.tsv, one automaton over all of them, and what the text
 * side computes from a query (language, hits).
 *
 * Row classes (the second column of a lexicon row). The first four are
 * direct evidence for a moment; the others are roles that query.c combines
 * with the rest of the query (see query.c's design block).
 */
#ifndef MM_LEXICON_INT_H
#define MM_LEXICON_INT_H

#include "classifier_int.h"
#include "matcher.h"

#define MM_LEX_CLASS_MAP(X)                                                    \
    X(KNOW, "know", "evidence for know")                                       \
    X(GO, "go", "evidence for go; marks the query place-seeking")             \
    X(DO, "do", "evidence for do")                                             \
    X(BUY, "buy", "evidence for buy")                                          \
    X(PLACE, "place", "a place category: go, place-seeking")                  \
    X(PRODUCT, "product", "a product category: buy, and turns best to buy")   \
    X(PRICE, "price", "a price bound or price word: buy, price_bound")        \
    X(BEST, "best", "a superlative: know, go or buy by the rest of the query") \
    X(QUESTION, "question", "a question word: know; not a content word")      \
    X(NAV, "nav", "a site or app: the query is navigational when alone")     \
    X(BRAND, "brand", "a maker of products: navigational alone, else buy")     \
    X(LOGIN, "login", "asks for a site: with a short name, navigational")      \
    X(CHAT, "chat", "a greeting or wake word: ignored; alone, no moment")     \
    X(NONE, "none", "a device command word: weakens every moment")           \
    X(WORD, "word", "a plain word: no moment, never read as a typo of a row") \
    X(STOP, "stop", "a function word: language evidence only")

typedef enum {
#define MM__LEX_ENUM(name, text, help) MM_LEX_##name,
    MM_LEX_CLASS_MAP(MM__LEX_ENUM)
#undef MM__LEX_ENUM
    MM_LEX__COUNT
} mm_lex_class_t;

_Static_assert((int)MM_LEX_KNOW == (int)MM_MOMENT_KNOW &&
                   (int)MM_LEX_GO == (int)MM_MOMENT_GO &&
                   (int)MM_LEX_DO == (int)MM_MOMENT_DO &&
                   (int)MM_LEX_BUY == (int)MM_MOMENT_BUY,
               "moment classes share the moment enum's values");

/** @brief "know", ..., "stop"; "unknown" out of range. */
const char *mm__lex_class_name(mm_lex_class_t cls);

#define MM_LEX_LANGS_MAX 16

typedef struct mm_lex_entry_s {
    const char *phrase;   /* as written in the file, NUL-terminated */
    uint32_t phrase_len;
    uint32_t state;       /* matcher state: equal folded phrases share one */
    uint32_t line;        /* line in its file, for messages */
    float weight;         /* 0 < weight <= 1 */
    uint8_t cls;          /* mm_lex_class_t */
    uint8_t lang;         /* index into mm_lexicon_s.langs */
    uint8_t n_words;      /* words after folding */
} mm_lex_entry_t;

/* ------------------------------------------------------------------ typo */

/* Bounded typo tolerance (typo.c): one edit, towards single-word rows of at
 * least MM_TYPO_MIN_LETTERS letters; query words up to MM_TYPO_MAX_LETTERS. */
#define MM_TYPO_MIN_LETTERS 6
#define MM_TYPO_MAX_LETTERS 24

typedef struct mm_typo_s mm_typo_t;

mm_typo_t *mm__typo_new(void);
void mm__typo_destroy(mm_typo_t *typo);
/** @brief Offer a folded single word of entry @p entry as a target (it is
 * kept only when long enough and made of letters); false when out of memory. */
bool mm__typo_add(mm_typo_t *typo, const char *word, size_t len, uint32_t entry);
/** @brief Build the lookup table once every word is added. */
bool mm__typo_build(mm_typo_t *typo);
/** @brief Distinct target words (tests). */
size_t mm__typo_words(const mm_typo_t *typo);
struct mm_lexicon_s;
/**
 * @brief Append hits (edits = 1) for every query token that no hit of
 * hits[0..n_hits) covers and that is one edit from exactly one target word
 * of language @p lang (-1: any language): the entries of that word.
 * @returns the new number of hits, at most @p max.
 * @locality any thread on a built lexicon; no allocation.
 */
size_t mm__typo_scan(const struct mm_lexicon_s *lex, const mm_fold_t *fold, int lang,
                     mm_match_t *hits, size_t n_hits, size_t max);

struct mm_lexicon_s {
    mm_lex_entry_t *entries;
    size_t n_entries, cap_entries;
    size_t n_langs;
    char langs[MM_LEX_LANGS_MAX][4]; /* "en", from the file name */
    mm_fold_map_t *fold_map;         /* the fold of queries and phrases */
    mm_matcher_t *matcher;
    mm_typo_t *typo;
};

typedef struct mm_lexicon_s mm_lexicon_t;

/** @brief Index of language @p code ("da"), -1 when no lexicon has it. */
int mm__lexicon_lang_index(const mm_lexicon_t *lex, const char *code,
                           size_t len);

/* ------------------------------------------------------------------ lang */

/**
 * @brief Infer the language of a folded query from its lexicon hits and its
 * letters (lang.c).
 * @param hits every hit of the scan, suppressed or not.
 * @param confidence out: the winner's share of all evidence, 0..1.
 * @returns a language index, or -1 when there is no evidence at all.
 * @locality any thread; no allocation.
 */
int mm__lang_infer(const mm_lexicon_t *lex, const mm_fold_t *fold,
                   const mm_match_t *hits, size_t n_hits, float *confidence);

#endif
