/* `micromoment run`: consume -> classify -> produce, with worker threads. */
#ifndef MM_RUN_H
#define MM_RUN_H

#include <signal.h>

#include "config.h"
#include "pipeline.h"

typedef struct mm_run_s mm_run_t;

typedef struct mm_run_hooks_s {
    /** About once a second from the consumer thread; may be NULL. */
    void (*tick)(mm_run_t *run, void *ctx);
    /** For each moment written, from a worker thread; may be NULL. */
    mm_pipeline_moment_hook *on_moment;
    void *ctx;
} mm_run_hooks_t;

/** Cleared by SIGINT/SIGTERM (or a hook) to stop the loop gracefully. */
extern volatile sig_atomic_t mm_running;

/** @brief Install SIGINT/SIGTERM handlers that clear mm_running. */
void mm_install_stop_signals(void);

/**
 * @brief Run the pipeline on Kafka until stopped, EOF (cfg->exit_on_eof) or a
 * failure.
 * @returns the process exit code: 0 clean stop, 1 runtime failure.
 */
int mm_run(mm_config_t *cfg, const mm_run_hooks_t *hooks);

typedef enum { MM_RUN_RECORDS_IN, MM_RUN_MOMENTS_OUT, MM_RUN_DEAD_OUT } mm_run_counter_t;

/** @brief A counter summed over the workers (index: moment type or error). */
uint64_t mm_run_counter(mm_run_t *run, mm_run_counter_t which, int index);

/** @brief Partitions assigned to this instance now (consumer thread). */
int mm_run_assigned(const mm_run_t *run);

/** @brief Resolve the lexicon folder: the key, the installed one, the
 * source tree's (for a build tree). Writes into cfg->lexicon_dir. */
void mm_resolve_lexicon_dir(mm_config_t *cfg);

#endif
