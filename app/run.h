/* `micromoment run`: the consume -> classify -> produce loop. */
#ifndef MM_RUN_H
#define MM_RUN_H

#include <signal.h>

#include "config.h"
#include "pipeline.h"

typedef struct mm_run_hooks_s {
    /** About once a second from the loop's thread; may be NULL. */
    void (*tick)(mm_pipeline_t *pipe, void *ctx);
    mm_pipeline_moment_hook *on_moment;
    void *ctx;
} mm_run_hooks_t;

/** Cleared by SIGINT/SIGTERM (or a hook) to stop the loop gracefully. */
extern volatile sig_atomic_t mm_running;

/** @brief Install SIGINT/SIGTERM handlers that clear mm_running. */
void mm_install_stop_signals(void);

/**
 * @brief Run the pipeline on Kafka until stopped, EOF (cfg->exit_on_eof) or a
 * failure. @p cfg's Kafka configuration is consumed.
 * @returns the process exit code: 0 clean stop, 1 runtime failure.
 */
int mm_run(mm_config_t *cfg, const mm_run_hooks_t *hooks);

/** @brief Resolve the lexicon folder: the key, the installed one, the
 * source tree's (for a build tree). Writes into cfg->lexicon_dir. */
void mm_resolve_lexicon_dir(mm_config_t *cfg);

int mm_cmd_run(int argc, char **argv);

#endif
