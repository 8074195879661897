/*
 * `run` (and the demo) around the engine: logging, the metrics endpoint,
 * signals (SIGINT/SIGTERM stop, SIGHUP reloads the rules) and the summary.
 */
#ifndef MM_RUN_H
#define MM_RUN_H

#include "config.h"

typedef struct mm_run_s mm_run_t;

typedef struct mm_run_hooks_s {
    /** About once a second from the thread that called mm_run; may be NULL. */
    void (*tick)(mm_run_t *run, void *ctx);
    /** For each moment written, from a worker thread; may be NULL. */
    mm_engine_moment_hook *on_moment;
    /** For each conversion written, from a worker thread; may be NULL. */
    mm_engine_conversion_hook *on_conversion;
    void *ctx;
} mm_run_hooks_t;

/**
 * @brief Block SIGINT, SIGTERM, SIGHUP in the calling thread and every thread
 * it starts after: mm_run's signal thread takes them. Call first in main.
 */
void mm_signals_block(void);

/**
 * @brief Run the engine until stopped (a signal, mm_run_stop), drained
 * (--exit-on-eof) or failed.
 * @returns the process exit code: 0 clean stop, 1 runtime failure, 2 the
 *          rules' files (lexicons, strategy, places) could not be loaded.
 */
int mm_run(mm_config_t *cfg, const mm_run_hooks_t *hooks);

/** @brief Ask the run to stop, as SIGTERM does (from a tick hook). */
void mm_run_stop(mm_run_t *run);

/** @brief The port the HTTP listener (metrics, /users/{id}) serves; 0: none. */
uint16_t mm_run_http_port(const mm_run_t *run);

/** @brief The engine's counters and gauges (see mm_engine_stats). */
void mm_run_stats(mm_run_t *run, mm_engine_stats_t *stats);

/** @brief Resolve the lexicon folder: the key, the installed one, the
 * source tree's (for a build tree). Writes into cfg->lexicon_dir; and,
 * unless mm.strategy.dir is set, the strategy folder into
 * cfg->rules.strategy_dir: the lexicon folder's strategy/, else the
 * installed one, else the source tree's. */
void mm_resolve_lexicon_dir(mm_config_t *cfg);

#endif
