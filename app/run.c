/*
 * `run` around the engine (engine/engine.h): what an operator sees of it.
 *
 * SIGNALS. Every thread blocks SIGINT, SIGTERM and SIGHUP (mm_signals_block
 * runs first in main); one thread takes them with sigwait, so a signal is an
 * ordinary function call: SIGINT/SIGTERM call mm_engine_stop(), SIGHUP loads
 * the rules again and hands them to the engine. The same thread is the last
 * line of defence against a broker that never answers: if the engine has
 * not ended within twice mm.shutdown.timeout.ms of the stop, the process
 * exits 1 with a line that says so (what was not committed is read again).
 */
#include "run_int.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static sigset_t run_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1); /* mm_run's own: the signal thread's end */
    return set;
}

void mm_signals_block(void) {
    sigset_t set = run_signals();
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* ------------------------------------------------------------- hot reload */

/* ", N places from FILE" when the rules have a places file, else "". */
static void places_note(const mm_config_t *cfg, const mm_rules_t *rules, char *buf,
                        size_t cap) {
    const mm_place_t *places;
    size_t n = mm_rules_places(rules, &places);
    if (cfg->rules.places_file[0])
        snprintf(buf, cap, ", %zu places from %s", n, cfg->rules.places_file);
    else
        buf[0] = '\0';
}

/*
 * SIGHUP: re-read the configuration file and the command line's keys, load
 * the lexicons and thresholds into new rules, and hand them to the engine
 * (workers take them between batches and never wait). Invalid rules change
 * nothing.
 */
static void reload(mm_run_t *run) {
    char errstr[1024];
    mm_config_t fresh;
    mm_rules_t *rules = NULL;
    if (!mm_config_init(&fresh)) {
        snprintf(errstr, sizeof(errstr), "out of memory");
    } else if (mm_config_reapply(&fresh, run->cfg, errstr, sizeof(errstr)) == MM_CONF_OK) {
        mm_resolve_lexicon_dir(&fresh);
        rules = mm_rules_load(fresh.lexicon_dir, &fresh.rules, errstr, sizeof(errstr));
    }
    if (!rules) {
        mm_config_destroy(&fresh);
        atomic_fetch_add(&run->reloads_failed, 1);
        mm_log_error("reload failed, the current rules stay in force: %s", errstr);
        return;
    }
    char note[1200];
    places_note(&fresh, rules, note, sizeof(note)); /* before the engine owns them */
    mm_engine_set_rules(run->engine, rules);
    atomic_fetch_add(&run->reloads_ok, 1);
    mm_engine_stats_t st;
    mm_engine_stats(run->engine, &st);
    mm_log_info("reloaded rules from %s (generation %" PRIu32 "%s)", fresh.lexicon_dir,
                st.rules_generation, note);
    mm_config_destroy(&fresh);
}

static void *signal_main(void *arg) {
    mm_run_t *run = arg;
    sigset_t set = run_signals();
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGUSR1 && atomic_load(&run->finished))
            return NULL;
        if (sig == SIGHUP) {
            reload(run);
        } else if (sig == SIGINT || sig == SIGTERM) {
            mm_log_info("stopping (signal %d): finishing and committing what is in flight", sig);
            mm_engine_stop(run->engine);
            int bound = (int)(2 * run->cfg->engine.shutdown_timeout_ms);
            if (!mm_engine_wait(run->engine, bound)) {
                mm_log_error("shutdown did not finish within %d ms (a broker does not "
                             "answer); exiting now, uncommitted records are read again "
                             "after a restart",
                             bound);
                _exit(1);
            }
        }
    }
}

/* ------------------------------------------------------------------ hooks */

static void engine_log(int level, const char *line, void *ctx) {
    (void)ctx;
    mm_log((mm_log_level_t)level, "%s", line);
}

static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    /* One configuration feeds both clients; each ignores the other's keys. */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "will be ignored"))
        return;
    mm_log_level_t lvl = level <= 3   ? MM_LOG_ERROR
                         : level == 4 ? MM_LOG_WARN
                         : level <= 6 ? MM_LOG_INFO
                                      : MM_LOG_DEBUG;
    mm_log(lvl, "librdkafka %s: %s", fac, buf);
}

static void log_summary(mm_run_t *run) {
    mm_engine_stats_t st;
    mm_engine_stats(run->engine, &st);
    uint64_t n_dead = 0;
    for (int e = 0; e < MM_ERR__COUNT; e++)
        n_dead += st.dead_out[e];
    mm_log_info("records %" PRIu64 ", moments know %" PRIu64 " go %" PRIu64 " do %" PRIu64
                " buy %" PRIu64 ", dead letters %" PRIu64,
                st.records_in, st.moments_out[MM_MOMENT_KNOW], st.moments_out[MM_MOMENT_GO],
                st.moments_out[MM_MOMENT_DO], st.moments_out[MM_MOMENT_BUY], n_dead);
    for (int e = 0; e < MM_ERR__COUNT; e++)
        if (st.dead_out[e])
            mm_log_info("dead letters %s: %" PRIu64, mm_err_name((mm_err_t)e), st.dead_out[e]);
}

/* GET /users/{id}: the profile, from the worker that owns the user. */
static int users_route(const char *rest, char *buf, size_t cap, size_t *len, void *ctx) {
    mm_run_t *run = ctx;
    return mm_engine_user(run->engine, (mm_str_t){rest, strlen(rest)}, buf, cap, len, 500);
}

/* ------------------------------------------------------------------- run */

void mm_run_stop(mm_run_t *run) { mm_engine_stop(run->engine); }

uint16_t mm_run_http_port(const mm_run_t *run) { return mm_metrics_port(run->metrics); }

void mm_run_stats(mm_run_t *run, mm_engine_stats_t *stats) {
    mm_engine_stats(run->engine, stats);
}

int mm_run(mm_config_t *cfg, const mm_run_hooks_t *hooks) {
    char errstr[1024];
    int code = 1;
    mm_run_t *run = calloc(1, sizeof(*run));
    if (!run)
        return 1;
    run->cfg = cfg;
    /* Before any thread starts (the metrics server's, librdkafka's): they
     * all inherit the mask, and the signal thread alone takes them. */
    mm_signals_block();
    pthread_mutex_init(&run->stats_lock, NULL);
    bool signals_started = false;
    rd_kafka_conf_set_log_cb(cfg->kafka, on_kafka_log);
    mm_resolve_lexicon_dir(cfg);
    mm_rules_t *rules = mm_rules_load(cfg->lexicon_dir, &cfg->rules, errstr, sizeof(errstr));
    if (!rules) {
        code = 2; /* the operator's files (lexicons, strategy, places): configuration */
        goto fail;
    }
    char note[1200];
    places_note(cfg, rules, note, sizeof(note));
    if (note[0])
        mm_log_info("rules from %s%s", cfg->lexicon_dir, note);
    mm_engine_hooks_t ehooks = {
        .log = engine_log,
        .on_moment = hooks ? hooks->on_moment : NULL,
        .moment_ctx = hooks ? hooks->ctx : NULL,
        .on_conversion = hooks ? hooks->on_conversion : NULL,
        .conversion_ctx = hooks ? hooks->ctx : NULL,
        .on_stats = mm__run_on_stats,
        .stats_ctx = run,
    };
    run->engine = mm_engine_new(&cfg->engine, cfg->kafka, rules, &ehooks, errstr,
                                sizeof(errstr));
    if (!run->engine)
        goto fail;
    run->metrics = mm_metrics_start(cfg->metrics_listen, mm__run_collect, run, errstr,
                                    sizeof(errstr));
    if (!run->metrics && strcmp(cfg->metrics_listen, MM_METRICS_LISTEN_DEFAULT) != 0)
        goto fail; /* an address the operator chose must work */
    if (!run->metrics) /* e.g. a second instance on this host */
        mm_log_warn("%s; running without the metrics endpoint (set mm.metrics.listen)",
                    errstr);
    mm_metrics_route(run->metrics, "/users/", users_route, run);
    if (pthread_create(&run->signal_thread, NULL, signal_main, run) == 0)
        signals_started = true;
    if (mm_engine_start(run->engine)) {
        for (;;) {
            if (mm_engine_wait(run->engine, 1000))
                break;
            mm_engine_stats_t st;
            mm_engine_stats(run->engine, &st);
            mm_metrics_set_ready(run->metrics, st.partitions > 0);
            if (hooks && hooks->tick)
                hooks->tick(run, hooks->ctx);
        }
    }
    code = mm_engine_exit_code(run->engine, errstr, sizeof(errstr));
    if (code != 0)
        mm_log_error("stopping: %s; what was not committed is read again after a restart",
                     errstr);
    log_summary(run);
    goto done;
fail:
    mm_log_error("%s", errstr);
done:
    mm_metrics_stop(run->metrics); /* before what its collector reads */
    if (signals_started) {
        atomic_store(&run->finished, true);
        pthread_kill(run->signal_thread, SIGUSR1);
        pthread_join(run->signal_thread, NULL);
    }
    mm_engine_destroy(run->engine);
    pthread_mutex_destroy(&run->stats_lock);
    free(run->stats_json);
    free(run);
    return code;
}

/* The first of @p candidates that can be read, else the first. */
static void resolve(char *out, size_t cap, const char *const *candidates, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (access(candidates[i], R_OK) == 0) {
            snprintf(out, cap, "%s", candidates[i]);
            return;
        }
    }
    snprintf(out, cap, "%s", candidates[0]);
}

void mm_resolve_lexicon_dir(mm_config_t *cfg) {
    if (!*cfg->lexicon_dir) {
        const char *const dirs[] = {MM_LEXICON_DIR_DEFAULT, MM_LEXICON_DIR_SOURCE};
        resolve(cfg->lexicon_dir, sizeof(cfg->lexicon_dir), dirs, 2);
    }
    /* A lexicon folder of one's own without strategy files (made before
     * they existed, or holding only lexicons to try) keeps the installed
     * strategy: its own strategy/ when it has one. */
    if (!*cfg->rules.strategy_dir) {
        char own[sizeof(cfg->rules.strategy_dir)];
        int k = snprintf(own, sizeof(own), "%s/strategy", cfg->lexicon_dir);
        const char *const dirs[] = {k > 0 && (size_t)k < sizeof(own) ? own : "",
                                    MM_LEXICON_DIR_DEFAULT "/strategy",
                                    MM_LEXICON_DIR_SOURCE "/strategy"};
        resolve(cfg->rules.strategy_dir, sizeof(cfg->rules.strategy_dir), dirs, 3);
    }
}
