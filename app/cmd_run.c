/*
 * The run loop. One thread consumes, classifies, produces and commits:
 * delivery reports are served by the same thread (mm_sink poll), so the
 * offset trackers are never shared and need no lock.
 *
 * At-least-once: enable.auto.commit is off; a partition's offset is committed
 * only up to the last record whose outputs were all acknowledged (see
 * consumer/offsets.c), on an interval, on revoke and at shutdown.
 */
#include "run.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

volatile sig_atomic_t mm_running = 1;

static void on_stop_signal(int sig) {
    (void)sig;
    mm_running = 0;
}

void mm_install_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

typedef struct run_ctx_s {
    mm_config_t *cfg;
    mm_pipeline_t *pipe;
    rd_kafka_t *consumer;
} run_ctx_t;

/* ------------------------------------------------------------- committing */

/* Commit every task's acknowledged offset that moved (only_task: just one). */
static void commit_offsets(run_ctx_t *rc, mm_task_t *only_task, bool sync) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    for (mm_task_t *t = mm_pipeline_task_next(rc->pipe, NULL); t;
         t = mm_pipeline_task_next(rc->pipe, t)) {
        if (only_task && t != only_task)
            continue;
        int64_t off = mm_offsets_committable(t->offsets);
        if (off > t->committed) {
            rd_kafka_topic_partition_list_add(list, t->topic, t->partition)->offset = off;
            t->committed = off;
        }
    }
    if (list->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(rc->consumer, list, sync ? 0 : 1);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            mm_log_warn("commit failed (the offsets are committed again later): %s",
                        rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* Serve acknowledgements until the task has none outstanding, or the bound. */
static bool drain_task(run_ctx_t *rc, mm_task_t *task) {
    mm_sink_t *sink = mm_pipeline_sink(rc->pipe);
    int64_t deadline = mm_now_ms() + rc->cfg->shutdown_timeout_ms;
    while (mm_offsets_inflight(task->offsets) > 0 && !mm_pipeline_failed(rc->pipe, NULL)) {
        if (mm_now_ms() > deadline)
            return false;
        sink->ops->poll(sink->ctx, 20);
    }
    return mm_offsets_inflight(task->offsets) == 0;
}

/* ------------------------------------------------------------- rebalances */

static void on_assign(run_ctx_t *rc, rd_kafka_topic_partition_list_t *parts) {
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (!mm_pipeline_task_open(rc->pipe, p->topic, p->partition))
            mm_log_error("no room for the task of %s [%" PRId32 "]", p->topic, p->partition);
        else
            mm_log_info("assigned %s [%" PRId32 "]", p->topic, p->partition);
    }
}

/* Finish in-flight work of revoked partitions and commit it before they go,
 * so the next owner starts exactly after what we delivered. Their per-user
 * state is dropped: windows restart empty on the new owner. */
static void on_revoke(run_ctx_t *rc, rd_kafka_topic_partition_list_t *parts, bool lost) {
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        mm_task_t *t = mm_pipeline_task_find(rc->pipe, p->topic, p->partition);
        if (!t)
            continue;
        if (!lost) {
            if (!drain_task(rc, t))
                mm_log_warn("%s [%" PRId32 "]: outputs still unacknowledged after %" PRId64
                            " ms; committing only what was acknowledged",
                            t->topic, t->partition, rc->cfg->shutdown_timeout_ms);
            commit_offsets(rc, t, true);
        }
        mm_log_info("%s %s [%" PRId32 "]", lost ? "lost" : "revoked", p->topic, p->partition);
        mm_pipeline_task_close(rc->pipe, t);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    run_ctx_t *rc = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(rc, parts);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
    } else {
        on_revoke(rc, parts, rd_kafka_assignment_lost(rk));
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
    mm_log((mm_log_level_t)(level <= 3 ? MM_LOG_ERROR : level == 4 ? MM_LOG_WARN
                                                    : level <= 6 ? MM_LOG_INFO
                                                                 : MM_LOG_DEBUG),
           "librdkafka %s: %s", fac, buf);
}

static void set_if_default(rd_kafka_conf_t *conf, const char *key, const char *value,
                           const char *librdkafka_default) {
    char cur[128];
    size_t size = sizeof(cur);
    if (rd_kafka_conf_get(conf, key, cur, &size) == RD_KAFKA_CONF_OK &&
        strcmp(cur, librdkafka_default) != 0)
        return; /* the user set it */
    char errstr[256];
    rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr));
}

static rd_kafka_t *consumer_new(run_ctx_t *rc, char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(rc->cfg->kafka);
    char errbuf[256];
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errbuf, sizeof(errbuf));
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errbuf, sizeof(errbuf));
    /* A processor started on a new group reads what is there. */
    set_if_default(conf, "auto.offset.reset", "earliest", "largest");
    set_if_default(conf, "group.id", "micromoment", "");
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, rc);
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

/* ------------------------------------------------------------------- loop */

static void handle_message(run_ctx_t *rc, rd_kafka_message_t *rkm) {
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    mm_task_t *task = mm_pipeline_task_find(rc->pipe, topic, rkm->partition);
    if (rkm->err) {
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (task)
                task->eof = true;
        } else {
            mm_log_warn("consumer: %s", rd_kafka_message_errstr(rkm));
        }
        return;
    }
    if (!task) {
        mm_log_warn("record for unassigned %s [%" PRId32 "] skipped", topic, rkm->partition);
        return;
    }
    task->eof = false;
    mm_str_t key = {rkm->key, rkm->key_len};
    mm_str_t value = {rkm->payload, rkm->len};
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(rkm, &tstype);
    mm_sink_t *sink = mm_pipeline_sink(rc->pipe);
    while (mm_pipeline_process(rc->pipe, task, key, value, rkm->offset, ts) == MM_ERR_FULL) {
        if (mm_pipeline_failed(rc->pipe, NULL))
            return;
        sink->ops->poll(sink->ctx, 10); /* back-pressure: wait for acks */
    }
}

static bool all_done(run_ctx_t *rc) {
    bool any = false;
    for (mm_task_t *t = mm_pipeline_task_next(rc->pipe, NULL); t;
         t = mm_pipeline_task_next(rc->pipe, t)) {
        any = true;
        if (!t->eof || mm_offsets_inflight(t->offsets) > 0)
            return false;
    }
    return any;
}

static void log_summary(mm_pipeline_t *pipe) {
    const mm_pipeline_counters_t *c = mm_pipeline_counters(pipe);
    uint64_t dead = 0;
    for (int i = 0; i < MM_ERR__COUNT; i++)
        dead += c->dead_out[i];
    mm_log_info("records %" PRIu64 ", moments know %" PRIu64 " go %" PRIu64 " do %" PRIu64
                " buy %" PRIu64 ", dead letters %" PRIu64,
                c->records_in, c->moments_out[MM_MOMENT_KNOW], c->moments_out[MM_MOMENT_GO],
                c->moments_out[MM_MOMENT_DO], c->moments_out[MM_MOMENT_BUY], dead);
    for (int i = 0; i < MM_ERR__COUNT; i++)
        if (c->dead_out[i])
            mm_log_info("dead letters %s: %" PRIu64, mm_err_name((mm_err_t)i), c->dead_out[i]);
}

static int loop(run_ctx_t *rc, const mm_run_hooks_t *hooks) {
    mm_sink_t *sink = mm_pipeline_sink(rc->pipe);
    int64_t next_commit = mm_now_ms() + rc->cfg->commit_interval_ms;
    int64_t next_tick = mm_now_ms() + 1000;
    const char *why;
    while (mm_running && !mm_pipeline_failed(rc->pipe, NULL)) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rc->consumer, 50);
        if (rkm) {
            handle_message(rc, rkm);
            rd_kafka_message_destroy(rkm);
        }
        sink->ops->poll(sink->ctx, 0);
        int64_t now = mm_now_ms();
        if (now >= next_commit) {
            commit_offsets(rc, NULL, false);
            next_commit = now + rc->cfg->commit_interval_ms;
        }
        if (hooks && hooks->tick && now >= next_tick) {
            hooks->tick(rc->pipe, hooks->ctx);
            next_tick = now + 1000;
        }
        if (rc->cfg->exit_on_eof && all_done(rc) && sink->ops->outstanding(sink->ctx) == 0) {
            mm_log_info("every assigned partition is at its end and acknowledged");
            break;
        }
    }
    if (mm_pipeline_failed(rc->pipe, &why)) {
        mm_log_error("stopping: %s; offsets after the last acknowledged record are not "
                     "committed, a restart re-reads them",
                     why);
        return 1;
    }
    return 0;
}

/* Graceful stop: finish what is in flight (bounded), commit it, leave the
 * group (the revoke handler commits again for the partitions it gives up). */
static void shutdown_run(run_ctx_t *rc) {
    mm_sink_t *sink = mm_pipeline_sink(rc->pipe);
    int64_t deadline = mm_now_ms() + rc->cfg->shutdown_timeout_ms;
    while (mm_pipeline_inflight(rc->pipe) > 0 && !mm_pipeline_failed(rc->pipe, NULL) &&
           mm_now_ms() < deadline)
        sink->ops->poll(sink->ctx, 20);
    if (mm_pipeline_inflight(rc->pipe) > 0)
        mm_log_warn("%zu records still unacknowledged at shutdown; they stay uncommitted",
                    mm_pipeline_inflight(rc->pipe));
    if (!mm_pipeline_failed(rc->pipe, NULL))
        commit_offsets(rc, NULL, true);
    rd_kafka_consumer_close(rc->consumer);
}

int mm_run(mm_config_t *cfg, const mm_run_hooks_t *hooks) {
    char errstr[512];
    int rc_exit = 1;
    run_ctx_t rc = {.cfg = cfg};
    mm_rules_t *rules = NULL;
    rd_kafka_conf_set_log_cb(cfg->kafka, on_kafka_log);
    mm_resolve_lexicon_dir(cfg);
    rules = mm_rules_load(cfg->lexicon_dir, &cfg->rules, errstr, sizeof(errstr));
    if (!rules) {
        mm_log_error("%s", errstr);
        goto done;
    }
    rc.pipe = mm_pipeline_new(cfg, rules, errstr, sizeof(errstr));
    if (!rc.pipe)
        goto fail;
    if (hooks && hooks->on_moment)
        mm_pipeline_set_hook(rc.pipe, hooks->on_moment, hooks->ctx);
    mm_sink_t *sink = mm_sink_kafka_new(rd_kafka_conf_dup(cfg->kafka), cfg->output_topic,
                                        cfg->dlq_topic, mm_pipeline_ack, rc.pipe, errstr,
                                        sizeof(errstr));
    if (!sink)
        goto fail;
    mm_pipeline_set_sink(rc.pipe, sink);
    rc.consumer = consumer_new(&rc, errstr, sizeof(errstr));
    if (!rc.consumer)
        goto fail;
    rd_kafka_resp_err_t err = subscribe(rc.consumer, cfg->input_topics);
    if (err) {
        snprintf(errstr, sizeof(errstr), "subscribe to %.200s: %s", cfg->input_topics,
                 rd_kafka_err2str(err));
        goto fail;
    }
    mm_log_info("consuming %s, producing %s (dead letters: %s)", cfg->input_topics,
                cfg->output_topic, cfg->dlq_topic);
    rc_exit = loop(&rc, hooks);
    shutdown_run(&rc);
    log_summary(rc.pipe);
    goto done;
fail:
    mm_log_error("%s", errstr);
done:
    if (rc.consumer)
        rd_kafka_destroy(rc.consumer);
    mm_pipeline_destroy(rc.pipe); /* destroys the sink: its producer flushes nothing more */
    mm_rules_destroy(rules);
    return rc_exit;
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

/* -------------------------------------------------------------------- CLI */

static void run_usage(FILE *out) {
    fputs("usage: micromoment run [-c FILE] [-b BROKERS] [-g GROUP] [-i TOPIC[,TOPIC...]]\n"
          "                       [-o TOPIC] [-X KEY=VALUE]... [--exit-on-eof]\n"
          "                       [--print-config] [--help-config]\n\n"
          "Consume events, detect micro-moments, produce them. Keys without the\n"
          "mm. prefix are librdkafka's (-X security.protocol=SASL_SSL).\n\n"
          "  -c FILE         read KEY=VALUE lines\n"
          "  -b BROKERS      bootstrap.servers\n"
          "  -g GROUP        group.id (default micromoment)\n"
          "  -i TOPICS       mm.input.topics (default events)\n"
          "  -o TOPIC        mm.output.topic (default micro-moments)\n"
          "  -X KEY=VALUE    any key, ours or librdkafka's\n"
          "  --exit-on-eof   stop once every assigned partition is at its end and\n"
          "                  every output is acknowledged\n"
          "  --print-config  print the configuration (secrets masked) and exit\n"
          "  --help-config   list micromoment's keys and exit\n"
          "exit: 0 ok, 1 runtime failure, 2 bad usage or configuration\n",
          out);
}

static int set_or_report(mm_config_t *cfg, const char *key, const char *value) {
    char errstr[1024];
    if (mm_config_set(cfg, key, value, errstr, sizeof(errstr)) != MM_CONF_OK) {
        fprintf(stderr, "micromoment run: %s\n", errstr);
        return 2;
    }
    return 0;
}

/* Parses the command line into cfg; @returns -1 to go on, else an exit code. */
static int parse_run_args(mm_config_t *cfg, int argc, char **argv) {
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"exit-on-eof", no_argument, NULL, 'E'},
        {"print-config", no_argument, NULL, 'P'},
        {"help-config", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    bool print = false;
    int c, bad;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:b:g:i:o:X:h", opts, NULL)) != -1) {
        char errstr[1024];
        switch (c) {
        case 'h': run_usage(stdout); return 0;
        case 'H': mm_config_print_help(stdout, false); return 0;
        case 'E': cfg->exit_on_eof = true; break;
        case 'P': print = true; break;
        case 'c':
            if (mm_config_load_file(cfg, optarg, errstr, sizeof(errstr)) != MM_CONF_OK) {
                fprintf(stderr, "micromoment run: %s\n", errstr);
                return 2;
            }
            break;
        case 'b': if ((bad = set_or_report(cfg, "bootstrap.servers", optarg))) return bad; break;
        case 'g': if ((bad = set_or_report(cfg, "group.id", optarg))) return bad; break;
        case 'i': if ((bad = set_or_report(cfg, "mm.input.topics", optarg))) return bad; break;
        case 'o': if ((bad = set_or_report(cfg, "mm.output.topic", optarg))) return bad; break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (!eq) {
                fprintf(stderr, "micromoment run: -X %s: expected KEY=VALUE\n", optarg);
                return 2;
            }
            *eq = '\0';
            if ((bad = set_or_report(cfg, optarg, eq + 1)))
                return bad;
            break;
        }
        default:
            fprintf(stderr, "micromoment run: see --help\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "micromoment run: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (print) {
        mm_resolve_lexicon_dir(cfg);
        mm_config_print(cfg, stdout);
        return 0;
    }
    char errstr[1024];
    if (mm_config_finish(cfg, errstr, sizeof(errstr)) != MM_CONF_OK) {
        fprintf(stderr, "micromoment run: %s\n", errstr);
        return 2;
    }
    return -1;
}

int mm_cmd_run(int argc, char **argv) {
    mm_config_t cfg;
    if (!mm_config_init(&cfg))
        return 1;
    int code = parse_run_args(&cfg, argc, argv);
    if (code < 0) {
        static const mm_log_level_t levels[] = {MM_LOG_ERROR, MM_LOG_WARN, MM_LOG_INFO,
                                                MM_LOG_DEBUG};
        mm_log_setup("micromoment", levels[cfg.log_level], MM_LOG_FORMAT_TEXT);
        mm_install_stop_signals();
        code = mm_run(&cfg, NULL);
    }
    mm_config_destroy(&cfg);
    return code;
}
