/*
 * Text folding and multi-pattern matching (private to classifier/).
 *
 * A query and every lexicon phrase go through the same fold, so that what
 * the lexicon writes and what a user types meet in one canonical form:
 *
 *   "Farmacia CERCA de mí!"  ->  " farmacia cerca de mi "
 *   "under 1.000 kr"         ->  " under # kr "
 *   "what's"                 ->  " whats "
 *
 *   - Letters are lowered and accent-stripped after Unicode's NFKC case
 *     folding (fold.c): "ＣＯＦＦＥＥ" = "Coffee" = "coffee", é -> e, ñ -> n,
 *     ä -> a, õ -> o, ß -> ss, ł -> l, because users often omit accents
 *     ("como", "nahe"). Letters that are letters of their own, not accented
 *     ones, are only lowered: æ ø å ð þ. Combining marks are dropped, so NFD
 *     input folds like NFC (a ring over 'a' excepted within one character).
 *     Other scripts are case-folded and kept.
 *   - A run of digits (with '.' or ',' between digits) becomes one '#': a
 *     lexicon phrase "under 100 kr" matches any number.
 *   - '$', '%', '£', '€' become tokens of their own ("$200" -> "$ #").
 *   - Apostrophes (' and ’ ‘ ´ ʼ) join ("don't" -> "dont").
 *   - A '.' between a word and a letter joins too: "Dr.dk" -> " dr.dk ", so a
 *     host name is one token whose parts are not words of the query.
 *   - Everything else (punctuation, symbols, spaces, invalid UTF-8)
 *     separates words; the result has exactly one space between tokens and
 *     one at each end, so a pattern " near me " can only match whole words.
 *
 * While folding, letters that tell languages apart are counted before their
 * accents are stripped (see mm_fold_evidence_t): the input of lang.c.
 *
 * Matching is Aho-Corasick over the folded bytes, compiled at load time into
 * a dense DFA over an alphabet of only the bytes that occur in patterns (a
 * 256-entry byte -> class table), so a scan is one table lookup per byte.
 */
#ifndef MM_MATCHER_H
#define MM_MATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Folded bytes analysed per query. A longer query is analysed on the tokens
 * that fit (up to ~1 KB of text; the rest is ignored, and fold->truncated
 * says so): intent words come early in a query, and the bound keeps the
 * per-query cost and the stack buffer fixed. */
#define MM_FOLD_MAX 1024
/* Tokens whose spans and hashes are recorded (the rest are still matched). */
#define MM_FOLD_TOKENS_MAX 64

/** Letters counted for language inference, before accent stripping. */
typedef enum {
    MM_EVID_DA,      /* æ ø å */
    MM_EVID_ET,      /* õ */
    MM_EVID_DE,      /* ß */
    MM_EVID_UMLAUT,  /* ä ö ü: German or Estonian */
    MM_EVID_ES,      /* ñ ¿ ¡ */
    MM_EVID_ACUTE,   /* á í ó ú: mostly Spanish */
    MM_EVID_E_ACUTE, /* é: Spanish, but also café in any language */
    MM_EVID__COUNT
} mm_fold_evidence_t;

typedef struct mm_fold_token_s {
    uint16_t start, end; /* [start, end) in buf */
    uint32_t hash;       /* FNV-1a of the folded token, digits kept */
} mm_fold_token_t;

typedef struct mm_fold_s {
    char buf[MM_FOLD_MAX];
    size_t len;
    bool truncated; /* the input did not fit; its tail was ignored */
    uint16_t n_tokens;
    mm_fold_token_t tokens[MM_FOLD_TOKENS_MAX];
    uint16_t evidence[MM_EVID__COUNT];
} mm_fold_t;

/** What every non-ASCII character folds to, computed once (fold.c). */
typedef struct mm_fold_map_s mm_fold_map_t;

/**
 * @brief Build the fold table with utf8proc (load time: ~65k characters).
 * @returns NULL when out of memory.
 * @locality any thread; the result is immutable and shareable.
 */
mm_fold_map_t *mm__fold_map_new(void);
void mm__fold_map_destroy(mm_fold_map_t *map);
/** @brief Bytes the table holds (for tests and the bench). */
size_t mm__fold_map_bytes(const mm_fold_map_t *map);

/**
 * @brief Fold @p len bytes of @p s into @p fold (see the file comment).
 * Never reads past s + len; any bytes are accepted.
 * @locality any thread; no allocation.
 */
void mm__fold(const mm_fold_map_t *map, const char *s, size_t len, mm_fold_t *fold);

/**
 * @brief Grow the array *p of *cap elements of @p size bytes to hold at
 * least @p need (doubling); false when out of memory (*p is kept).
 * Load time only.
 */
bool mm__grow(void **p, size_t *cap, size_t need, size_t size);

/* ---------------------------------------------------------------- matcher */

typedef struct mm_matcher_s mm_matcher_t;

/** One pattern occurrence in a folded buffer. */
typedef struct mm_match_s {
    uint32_t id;         /* the id given to mm__matcher_add */
    uint16_t start, end; /* the phrase's words: [start, end) in the buffer */
    uint8_t edits;       /* 0: as written; 1: a typo of it (typo.c) */
} mm_match_t;

/** @brief Whether the hit explains the token: its span meets the token's
 * (a phrase covers its words, an affix row the word it is part of). */
static inline bool mm__match_covers(const mm_match_t *hit, const mm_fold_token_t *tok) {
    return hit->start < tok->end && tok->start < hit->end;
}

/** @brief An empty matcher to add patterns to; NULL when out of memory. */
mm_matcher_t *mm__matcher_new(void);
void mm__matcher_destroy(mm_matcher_t *m);

/**
 * @brief Add a folded pattern (as mm__fold produced it, spaces at both ends).
 * Without the leading space the pattern also matches the end of a longer
 * word ("piletid " in "kinopiletid"), without the trailing one the start of
 * one (" apotek" in "apoteket"); the reported span is the letters matched.
 * Patterns with equal bytes share one state; *state tells which, so the
 * caller can detect duplicates.
 * @returns false when out of memory or the pattern is empty or too long.
 */
bool mm__matcher_add(mm_matcher_t *m, const char *pat, size_t len, uint32_t id,
                     uint32_t *state);

/** @brief Whether a pattern with exactly these folded bytes was added
 * (before mm__matcher_build only). */
bool mm__matcher_has(const mm_matcher_t *m, const char *pat, size_t len);

/** @brief Compile the added patterns; false when out of memory. */
bool mm__matcher_build(mm_matcher_t *m);

/**
 * @brief Every occurrence of every pattern in @p buf, in order of end.
 * Patterns that end at one position come in the order they were added.
 * @returns the number found; at most @p max are written, the count beyond
 *          that is still returned so the caller can tell.
 * @locality any thread on a built matcher; no allocation.
 */
size_t mm__matcher_scan(const mm_matcher_t *m, const char *buf, size_t len,
                        mm_match_t *out, size_t max);

/** @brief States and bytes of the compiled automaton (for tests, metrics). */
void mm__matcher_stats(const mm_matcher_t *m, size_t *states, size_t *classes,
                       size_t *bytes);

#endif
