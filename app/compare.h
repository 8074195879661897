/*
 * `micromoment classify --compare --lexicon-dir DIR`: two rule sets on the
 * same events. Each event is classified by the rules in force (A) and by
 * the same thresholds with DIR's lexicons (B), each with its own per-user
 * state, so behaviour is compared too; the report says how many moments
 * change, from what to what, and shows examples.
 */
#ifndef MM_COMPARE_H
#define MM_COMPARE_H

#include <stdio.h>

#include "config.h"

/**
 * @brief Read JSON lines from @p in, write the comparison to @p out.
 * Lines that are not valid events are counted and skipped.
 * @param cfg rules A's lexicons and everything else (resolved by the caller).
 * @param lexicon_dir_b rules B's lexicons.
 * @param max_examples changed events to show.
 * @returns 0, or 1 with the reason on stderr (a lexicon that does not load,
 *          out of memory, a write error).
 */
int mm_compare_run(const mm_config_t *cfg, const char *lexicon_dir_b, size_t max_examples,
                   FILE *in, FILE *out);

#endif
