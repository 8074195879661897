/*
 * The run loop: the consumer thread.
 *
 * It polls the group consumer, hands each record to the worker that owns the
 * record's partition (app/worker.c) and handles rebalances: an assignment
 * opens tasks on their workers; a revocation waits until the owning worker
 * has finished, committed and dropped the partition's task, so the next
 * owner starts right after what we delivered (cooperative-sticky or eager).
 *
 * At-least-once: enable.auto.commit is off; a worker commits a partition's
 * offset only up to the last record whose outputs were all acknowledged
 * (consumer/offsets.c), on an interval, on revoke and at shutdown.
 */
#include "run_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

volatile sig_atomic_t mm_running = 1;
static volatile sig_atomic_t reload_requested;

static void on_stop_signal(int sig) {
    (void)sig;
    mm_running = 0;
}

static void on_reload_signal(int sig) {
    (void)sig;
    reload_requested = 1;
}

void mm_install_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_reload_signal;
    sigaction(SIGHUP, &sa, NULL);
}

/* ------------------------------------------------------------- hot reload */

/* Frees replaced rules once every worker has moved past them. */
static void reap_retired_rules(mm_run_t *run) {
    if (!run->retired_rules)
        return;
    for (int i = 0; i < run->n_workers; i++)
        if (atomic_load_explicit(&mm_worker_gauges(run->workers[i])->rules_generation,
                                 memory_order_acquire) < run->retired_generation)
            return;
    mm_rules_destroy(run->retired_rules);
    run->retired_rules = NULL;
}

/*
 * SIGHUP: re-read the configuration file and the command line's keys, load
 * the lexicons and thresholds into new rules, and publish them. Workers pick
 * them up between batches (they never wait); the old rules are freed when
 * the last worker has moved on. Invalid rules change nothing.
 */
static void reload(mm_run_t *run) {
    char errstr[1024];
    mm_config_t fresh;
    mm_rules_t *rules = NULL;
    while (run->retired_rules) { /* one replacement in flight at a time */
        reap_retired_rules(run);
        if (run->retired_rules)
            usleep(1000);
    }
    if (!mm_config_init(&fresh)) {
        snprintf(errstr, sizeof(errstr), "out of memory");
    } else if (mm_config_reapply(&fresh, run->cfg, errstr, sizeof(errstr)) == MM_CONF_OK) {
        mm_resolve_lexicon_dir(&fresh);
        rules = mm_rules_load(fresh.lexicon_dir, &fresh.rules, errstr, sizeof(errstr));
    }
    mm_config_destroy(&fresh);
    if (!rules) {
        atomic_fetch_add(&run->reloads_failed, 1);
        mm_log_error("reload failed, the current rules stay in force: %s", errstr);
        return;
    }
    run->retired_rules = (mm_rules_t *)atomic_load(&run->env.rules);
    atomic_store_explicit(&run->env.rules, rules, memory_order_release);
    run->retired_generation =
        atomic_fetch_add_explicit(&run->env.rules_generation, 1, memory_order_acq_rel) + 1;
    atomic_fetch_add(&run->reloads_ok, 1);
    mm_log_info("reloaded rules from %s (generation %" PRIu64 ")", fresh.lexicon_dir,
                run->retired_generation);
}

/* A partition's owner: stable for the life of the process. */
static mm_worker_t *owner(mm_run_t *run, const char *topic, int32_t partition) {
    uint32_t h = 2166136261u;
    for (const char *p = topic; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return run->workers[(h + (uint32_t)partition) % (uint32_t)run->n_workers];
}

/* ------------------------------------------------------------- rebalances */

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    mm_run_t *run = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            const rd_kafka_topic_partition_t *p = &parts->elems[i];
            mm_worker_assign(owner(run, p->topic, p->partition), p->topic, p->partition);
            mm_log_info("assigned %s [%" PRId32 "]", p->topic, p->partition);
        }
        run->assigned += parts->cnt;
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
    } else {
        bool lost = rd_kafka_assignment_lost(rk);
        for (int i = 0; i < parts->cnt; i++) {
            const rd_kafka_topic_partition_t *p = &parts->elems[i];
            mm_worker_revoke(owner(run, p->topic, p->partition), p->topic, p->partition,
                             lost);
            mm_log_info("%s %s [%" PRId32 "]", lost ? "lost" : "revoked", p->topic,
                        p->partition);
        }
        run->assigned -= parts->cnt;
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, NULL);
    }
    if (error) {
        mm_log_error("rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (aerr) {
        mm_log_error("rebalance: %s", rd_kafka_err2str(aerr));
    }
}

/* ------------------------------------------------------------------ setup */

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


static rd_kafka_t *consumer_new(mm_run_t *run, char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(run->cfg->kafka);
    char errbuf[256];
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errbuf, sizeof(errbuf));
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errbuf, sizeof(errbuf));
    /* A processor started on a new group reads what is there. */
    mm_kafka_conf_default(conf, "auto.offset.reset", "earliest");
    mm_kafka_conf_default(conf, "group.id", "micromoment");
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    /* Broker round-trip times for the metrics endpoint. */
    mm_kafka_conf_default(conf, "statistics.interval.ms", "10000");
    rd_kafka_conf_set_stats_cb(conf, mm__run_on_stats);
    rd_kafka_conf_set_opaque(conf, run);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static rd_kafka_resp_err_t subscribe(rd_kafka_t *rk, const char *topics) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", topics);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*t)
            rd_kafka_topic_partition_list_add(list, t, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    return err;
}

/* A named partition the cluster does not have would never reach its end;
 * say so at start. When metadata cannot be had, librdkafka keeps trying. */
static bool partitions_exist(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts,
                             char *errstr, size_t errstr_size) {
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (err) {
        mm_log_warn("cannot check the named input partitions: %s", rd_kafka_err2str(err));
        return true;
    }
    bool ok = true;
    for (int i = 0; ok && i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        int have = -1;
        for (int t = 0; t < md->topic_cnt; t++)
            if (strcmp(md->topics[t].topic, p->topic) == 0 && !md->topics[t].err)
                have = md->topics[t].partition_cnt;
        if (have >= 0 && p->partition >= have) {
            snprintf(errstr, errstr_size,
                     "mm.input.topics: %s has %d partitions, there is no partition %" PRId32,
                     p->topic, have, p->partition);
            ok = false;
        }
    }
    rd_kafka_metadata_destroy(md);
    return ok;
}

/* TOPIC:N in mm.input.topics: these partitions for the life of the process,
 * no group membership, no rebalances (a static deployment, or a backfill
 * that should not wait for a group to form). Offsets are still committed
 * to the group, so a restart resumes where the last run left off. */
static bool assign_explicit(mm_run_t *run, rd_kafka_topic_partition_list_t *parts,
                            char *errstr, size_t errstr_size) {
    if (!partitions_exist(run->consumer, parts, errstr, errstr_size))
        return false;
    for (int i = 0; i < parts->cnt; i++)
        mm_worker_assign(owner(run, parts->elems[i].topic, parts->elems[i].partition),
                         parts->elems[i].topic, parts->elems[i].partition);
    rd_kafka_resp_err_t err = rd_kafka_assign(run->consumer, parts);
    if (err) {
        snprintf(errstr, errstr_size, "assign the named input partitions: %s",
                 rd_kafka_err2str(err));
        return false;
    }
    run->assigned = parts->cnt;
    mm_log_info("assigned %d named partitions, without a group rebalance", parts->cnt);
    return true;
}

/* ------------------------------------------------------------------- loop */

static bool any_failed(mm_run_t *run, const char **why) {
    for (int i = 0; i < run->n_workers; i++)
        if (mm_worker_failed(run->workers[i], why))
            return true;
    return false;
}

/* Hands one record to its owner, waiting while the owner's ring is full:
 * that is the back-pressure from a slow worker to the consumer. */
static void dispatch(mm_run_t *run, rd_kafka_message_t *rkm) {
    mm_worker_t *w = owner(run, rd_kafka_topic_name(rkm->rkt), rkm->partition);
    while (!mm_worker_offer(w, rkm)) {
        if (any_failed(run, NULL)) {
            rd_kafka_message_destroy(rkm);
            return;
        }
        usleep(100);
    }
}

/* Every assigned partition at its end, every record handed over processed,
 * every output acknowledged. */
static bool all_done(mm_run_t *run) {
    uint32_t open = 0, settled = 0;
    for (int i = 0; i < run->n_workers; i++) {
        const mm_worker_gauges_t *g = mm_worker_gauges(run->workers[i]);
        if (atomic_load_explicit(&g->processed, memory_order_acquire) !=
            mm_worker_offered(run->workers[i]))
            return false;
        open += atomic_load_explicit(&g->tasks_open, memory_order_relaxed);
        settled += atomic_load_explicit(&g->tasks_settled, memory_order_relaxed);
    }
    return run->assigned > 0 && open == (uint32_t)run->assigned && settled == open;
}

static void log_summary(mm_run_t *run) {
    uint64_t in = 0, moments[MM_MOMENT__COUNT] = {0}, dead[MM_ERR__COUNT] = {0}, n_dead = 0;
    for (int w = 0; w < run->n_workers; w++) {
        const mm_pipeline_counters_t *c = mm_worker_counters(run->workers[w]);
        in += MM_COUNTER_GET(c->records_in);
        for (int t = 0; t < MM_MOMENT__COUNT; t++)
            moments[t] += MM_COUNTER_GET(c->moments_out[t]);
        for (int e = 0; e < MM_ERR__COUNT; e++) {
            dead[e] += MM_COUNTER_GET(c->dead_out[e]);
            n_dead += MM_COUNTER_GET(c->dead_out[e]);
        }
    }
    mm_log_info("records %" PRIu64 ", moments know %" PRIu64 " go %" PRIu64 " do %" PRIu64
                " buy %" PRIu64 ", dead letters %" PRIu64,
                in, moments[MM_MOMENT_KNOW], moments[MM_MOMENT_GO], moments[MM_MOMENT_DO],
                moments[MM_MOMENT_BUY], n_dead);
    for (int e = 0; e < MM_ERR__COUNT; e++)
        if (dead[e])
            mm_log_info("dead letters %s: %" PRIu64, mm_err_name((mm_err_t)e), dead[e]);
}

static int loop(mm_run_t *run, const mm_run_hooks_t *hooks) {
    int64_t next_tick = mm_now_ms() + 1000;
    const char *why;
    while (mm_running && !any_failed(run, NULL)) {
        /* Wait for one record, then take what else has arrived in one call
         * (one queue lock for up to a batch; never waits to fill it). */
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(run->consumer, 50);
        if (rkm) {
            dispatch(run, rkm);
            ssize_t n = rd_kafka_consume_batch_queue(run->consumer_queue, 0, run->batch,
                                                     MM_CONSUME_BATCH);
            for (ssize_t i = 0; i < n; i++)
                dispatch(run, run->batch[i]);
        }
        if (reload_requested) {
            reload_requested = 0;
            reload(run);
        }
        reap_retired_rules(run);
        mm_metrics_set_ready(run->metrics, run->assigned > 0);
        int64_t now = mm_now_ms();
        if (hooks && hooks->tick && now >= next_tick) {
            hooks->tick(run, hooks->ctx);
            next_tick = now + 1000;
        }
        if (run->cfg->exit_on_eof && all_done(run)) {
            mm_log_info("every assigned partition is at its end and acknowledged");
            break;
        }
    }
    if (any_failed(run, &why)) {
        mm_log_error("stopping: %s; what was not committed is read again after a restart",
                     why);
        return 1;
    }
    return 0;
}

/* Graceful stop: workers finish what they hold (bounded) and commit it, then
 * the consumer leaves the group (revokes find nothing left to do). */
/* The last line of defence against a broker that never answers: whatever
 * blocks (a flush, a transaction, leaving the group), the process ends
 * within twice mm.shutdown.timeout.ms of the stop, with exit 1 and a line
 * that says so. What was not committed is read again after a restart. */
static void *shutdown_watchdog(void *arg) {
    int64_t bound_ms = *(const int64_t *)arg;
    struct timespec ts = {(time_t)(bound_ms / 1000), (long)(bound_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    mm_log_error("shutdown did not finish within %" PRId64 " ms (a broker does not answer); "
                 "exiting now, uncommitted records are read again after a restart",
                 bound_ms);
    _exit(1);
    return NULL;
}

static void shutdown_run(mm_run_t *run) {
    static int64_t bound_ms;
    bound_ms = 2 * run->cfg->shutdown_timeout_ms;
    pthread_t watchdog;
    if (pthread_create(&watchdog, NULL, shutdown_watchdog, &bound_ms) == 0)
        pthread_detach(watchdog);
    for (int i = 0; i < run->n_workers; i++)
        mm_worker_stop(run->workers[i]);
    for (int i = 0; i < run->n_workers; i++)
        mm_worker_join(run->workers[i]);
    rd_kafka_consumer_close(run->consumer);
}

int mm_run_assigned(const mm_run_t *run) { return run->assigned; }

uint64_t mm_run_counter(mm_run_t *run, mm_run_counter_t which, int index) {
    uint64_t sum = 0;
    for (int w = 0; w < run->n_workers; w++) {
        const mm_pipeline_counters_t *c = mm_worker_counters(run->workers[w]);
        switch (which) {
        case MM_RUN_RECORDS_IN: sum += MM_COUNTER_GET(c->records_in); break;
        case MM_RUN_MOMENTS_OUT: sum += MM_COUNTER_GET(c->moments_out[index]); break;
        case MM_RUN_DEAD_OUT: sum += MM_COUNTER_GET(c->dead_out[index]); break;
        }
    }
    return sum;
}

int mm_run(mm_config_t *cfg, const mm_run_hooks_t *hooks) {
    char errstr[512];
    int code = 1;
    mm_run_t *run = calloc(1, sizeof(*run));
    if (!run)
        return 1;
    run->cfg = cfg;
    rd_kafka_conf_set_log_cb(cfg->kafka, on_kafka_log);
    mm_resolve_lexicon_dir(cfg);
    mm_rules_t *rules = mm_rules_load(cfg->lexicon_dir, &cfg->rules, errstr, sizeof(errstr));
    if (!rules)
        goto fail;
    run->env.cfg = cfg;
    atomic_store(&run->env.rules, rules);
    if (hooks) {
        run->env.on_moment = hooks->on_moment;
        run->env.hook_ctx = hooks->ctx;
    }
    pthread_mutex_init(&run->stats_lock, NULL);
    run->metrics = mm_metrics_start(cfg->metrics_listen, mm__run_collect, run, errstr,
                                    sizeof(errstr));
    if (!run->metrics && strcmp(cfg->metrics_listen, MM_METRICS_LISTEN_DEFAULT) != 0)
        goto fail; /* an address the operator chose must work */
    if (!run->metrics) /* e.g. a second instance on this host */
        mm_log_warn("%s; running without the metrics endpoint (set mm.metrics.listen)",
                    errstr);
    run->consumer = consumer_new(run, errstr, sizeof(errstr));
    if (!run->consumer)
        goto fail;
    run->env.consumer = run->consumer;
    run->consumer_queue = rd_kafka_queue_get_consumer(run->consumer);
    run->n_workers = (int)cfg->workers;
    for (int i = 0; i < run->n_workers; i++) {
        run->workers[i] = mm_worker_new(i, &run->env, errstr, sizeof(errstr));
        if (!run->workers[i] || !mm_worker_start(run->workers[i])) {
            if (run->workers[i])
                snprintf(errstr, sizeof(errstr), "cannot start worker %d", i);
            goto fail;
        }
    }
    rd_kafka_topic_partition_list_t *explicit_parts = NULL;
    if (mm_config_input_partitions(cfg, &explicit_parts, errstr, sizeof(errstr)) !=
        MM_CONF_OK)
        goto fail;
    if (explicit_parts) {
        bool ok = assign_explicit(run, explicit_parts, errstr, sizeof(errstr));
        rd_kafka_topic_partition_list_destroy(explicit_parts);
        if (!ok)
            goto fail;
    } else {
        rd_kafka_resp_err_t err = subscribe(run->consumer, cfg->input_topics);
        if (err) {
            snprintf(errstr, sizeof(errstr), "subscribe to %.200s: %s", cfg->input_topics,
                     rd_kafka_err2str(err));
            goto fail;
        }
    }
    mm_log_info("consuming %s with %d workers, producing %s (dead letters: %s)",
                cfg->input_topics, run->n_workers, cfg->output_topic, cfg->dlq_topic);
    code = loop(run, hooks);
    shutdown_run(run);
    log_summary(run);
    goto done;
fail:
    mm_log_error("%s", errstr);
    for (int i = 0; i < run->n_workers; i++)
        if (run->workers[i])
            mm_worker_stop(run->workers[i]);
done:
    mm_metrics_stop(run->metrics); /* before what its collector reads */
    for (int i = 0; i < run->n_workers; i++)
        mm_worker_destroy(run->workers[i]);
    if (run->consumer_queue)
        rd_kafka_queue_destroy(run->consumer_queue);
    if (run->consumer)
        rd_kafka_destroy(run->consumer);
    mm_rules_destroy(run->retired_rules);
    mm_rules_destroy((mm_rules_t *)atomic_load(&run->env.rules));
    pthread_mutex_destroy(&run->stats_lock);
    free(run->stats_json);
    free(run);
    return code;
}

void mm_resolve_lexicon_dir(mm_config_t *cfg) {
    if (*cfg->lexicon_dir)
        return;
    const char *candidates[] = {MM_LEXICON_DIR_DEFAULT, MM_LEXICON_DIR_SOURCE};
    for (size_t i = 0; i < 2; i++) {
        if (access(candidates[i], R_OK) == 0) {
            snprintf(cfg->lexicon_dir, sizeof(cfg->lexicon_dir), "%s", candidates[i]);
            return;
        }
    }
    snprintf(cfg->lexicon_dir, sizeof(cfg->lexicon_dir), "%s", MM_LEXICON_DIR_DEFAULT);
}
