/*
 * The engine's life cycle: configuration, start-up checks, threads, rules,
 * the end of the run, and what it publishes (stats, partitions, latency).
 *
 * START-UP. A processor pointed at the wrong place must say so, not wait
 * for ever: until a broker answers a metadata request (bounded by
 * mm.startup.timeout.ms) nothing else starts, and the run fails naming the
 * bootstrap servers. The answer also says which topics exist: a missing
 * output or dead-letter topic fails the run (every output would be lost or
 * stuck); a missing input topic fails an --exit-on-eof run (it would never
 * reach an end) and is an error line and a gauge otherwise (it may be
 * created later, and the group picks it up).
 */
#include "engine_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <time.h>

/* -------------------------------------------------------------------- log */

void mm__log(const mm_engine_t *e, int level, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (e && e->hooks.log)
        e->hooks.log(level, line, e->hooks.log_ctx);
    else
        fprintf(stderr, "micromoment: %s\n", line);
}

/* ------------------------------------------------------------------- misc */

rd_kafka_t *mm__engine_consumer(const mm_engine_t *e) { return e->consumer; }
const char *mm__engine_txn_prefix(const mm_engine_t *e) { return e->txn_prefix; }

mm__worker_t *mm__engine_owner(mm_engine_t *e, const char *topic, int32_t partition) {
    uint32_t h = 2166136261u;
    for (const char *p = topic; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return e->workers[(h + (uint32_t)partition) % (uint32_t)e->n_workers];
}

void mm__engine_end(mm_engine_t *e, int code, const char *fmt, ...) {
    if (code != 0)
        atomic_store(&e->failing, true);
    atomic_store(&e->end_requested, true);
    pthread_mutex_lock(&e->end_lock);
    if (!*e->why || (code != 0 && e->exit_code == 0)) {
        e->exit_code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->why, sizeof(e->why), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&e->end_lock);
}

bool mm__engine_failing(mm_engine_t *e) { return atomic_load(&e->failing); }

static void mark_ended(mm_engine_t *e) {
    pthread_mutex_lock(&e->end_lock);
    e->ended = true;
    pthread_cond_broadcast(&e->end_cond);
    pthread_mutex_unlock(&e->end_lock);
}

/* ---------------------------------------------------------- partitions */

mm__partition_t *mm__partition_add(mm_engine_t *e, const char *topic, int32_t partition) {
    mm__partition_t *p = NULL;
    pthread_mutex_lock(&e->parts_lock);
    for (int i = 0; i < MM_PARTITIONS_MAX && !p; i++) {
        if (e->parts[i].in_use)
            continue;
        p = &e->parts[i];
        snprintf(p->topic, sizeof(p->topic), "%s", topic);
        p->partition = partition;
        atomic_store(&p->processed, -1);
        atomic_store(&p->committed, -1);
        atomic_store(&p->waiting, false);
        p->end_asked = -1;
        p->in_use = true;
    }
    pthread_mutex_unlock(&e->parts_lock);
    return p;
}

void mm__partition_remove(mm_engine_t *e, mm__partition_t *p) {
    if (!p)
        return;
    pthread_mutex_lock(&e->parts_lock);
    p->in_use = false;
    pthread_mutex_unlock(&e->parts_lock);
}

/* ----------------------------------------------------------------- rules */

void mm__engine_reap_rules(mm_engine_t *e) {
    pthread_mutex_lock(&e->rules_lock);
    mm__retired_rules_t **pp = &e->retired;
    while (*pp) {
        bool held = false;
        for (int i = 0; i < e->n_workers && !held; i++)
            held = atomic_load_explicit(&mm__worker_gauges(e->workers[i])->rules_generation,
                                        memory_order_acquire) < (*pp)->generation &&
                   !atomic_load(&e->workers[i]->exited);
        if (held) {
            pp = &(*pp)->next;
            continue;
        }
        mm__retired_rules_t *r = *pp;
        *pp = r->next;
        mm_rules_destroy(r->rules);
        free(r);
    }
    pthread_mutex_unlock(&e->rules_lock);
}

void mm_engine_set_rules(mm_engine_t *e, mm_rules_t *rules) {
    mm__retired_rules_t *r = calloc(1, sizeof(*r));
    pthread_mutex_lock(&e->rules_lock);
    mm_rules_t *old = (mm_rules_t *)atomic_load(&e->rules);
    atomic_store_explicit(&e->rules, rules, memory_order_release);
    uint64_t gen =
        atomic_fetch_add_explicit(&e->rules_generation, 1, memory_order_acq_rel) + 1;
    if (r) {
        r->rules = old;
        r->generation = gen;
        r->next = e->retired;
        e->retired = r;
    }
    pthread_mutex_unlock(&e->rules_lock);
    if (!r)
        mm__warn(e, "out of memory: the replaced rules are kept until the end");
    mm__engine_reap_rules(e);
}

/* ------------------------------------------------------------- lifecycle */

static int on_consumer_stats(rd_kafka_t *rk, char *json, size_t json_len, void *opaque) {
    (void)rk;
    mm_engine_t *e = opaque;
    if (e->hooks.on_stats)
        e->hooks.on_stats(json, json_len, e->hooks.stats_ctx);
    return 0; /* librdkafka frees json */
}

static void instance_id(char *out, size_t size) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    snprintf(out, size, "%016" PRIx64, r);
}

/* "add_to_cart,purchase" into a bit per event type. */
static bool conversion_types(const char *list, uint32_t *mask, char *errstr,
                             size_t errstr_size) {
    *mask = 0;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        mm_event_type_t type;
        if (len && !mm_event_type_parse(p, len, &type)) {
            snprintf(errstr, errstr_size, "mm.conversion.types: '%.*s' is not an event type",
                     (int)len, p);
            return false;
        }
        if (len)
            *mask |= 1u << type;
        p += len;
        if (*p == ',')
            p++;
    }
    return true;
}

/* The sink's topics by number; a feature that is off aliases the moment
 * topic (never written). */
static void name_topics(mm_engine_t *e) {
    const mm_engine_conf_t *c = &e->conf;
    for (int t = 0; t < MM_MOMENT__COUNT; t++) {
        char *name = e->topic_names[MM__TOPIC_MOMENTS + t];
        const char *type = mm_moment_type_name((mm_moment_type_t)t);
        if (c->routing != MM_ROUTING_PER_TYPE)
            snprintf(name, 256, "%s", c->output_topic);
        else if (*c->type_topics[t])
            snprintf(name, 256, "%s", c->type_topics[t]);
        else
            snprintf(name, 256, "%.*s.%s", 240, c->output_topic, type);
    }
    /* A topic handle makes librdkafka ask for the topic's metadata, which
     * a broker with auto-create answers by creating it: only the topics of
     * what is on get one. */
    const mm__outputs_t *o = &e->outputs;
    const char *others[] = {o->profiles ? c->profiles_topic : NULL,
                            o->conversions ? c->conversions_topic : NULL,
                            o->late ? c->late_topic : NULL,
                            o->changelog ? c->changelog_topic : NULL};
    for (int i = 0; i < 4; i++)
        snprintf(e->topic_names[MM__TOPIC_PROFILES + i], 256, "%s",
                 others[i] ? others[i] : e->topic_names[MM__TOPIC_MOMENTS]);
}

mm_engine_t *mm_engine_new(const mm_engine_conf_t *conf, const rd_kafka_conf_t *kafka,
                           mm_rules_t *rules, const mm_engine_hooks_t *hooks, char *errstr,
                           size_t errstr_size) {
    mm_engine_t *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(errstr, errstr_size, "out of memory");
        mm_rules_destroy(rules);
        return NULL;
    }
    e->conf = *conf;
    if (hooks)
        e->hooks = *hooks;
    atomic_store(&e->rules, rules);
    pthread_mutex_init(&e->rules_lock, NULL);
    pthread_mutex_init(&e->parts_lock, NULL);
    pthread_mutex_init(&e->end_lock, NULL);
    pthread_cond_init(&e->end_cond, NULL);
    pthread_mutex_init(&e->restore_lock, NULL);
    pthread_cond_init(&e->restore_cond, NULL);
    pthread_mutex_init(&e->watch_lock, NULL);
    pthread_cond_init(&e->watch_cond, NULL);
    e->kafka = rd_kafka_conf_dup(kafka);
    char value[512];
    size_t size = sizeof(value);
    if (rd_kafka_conf_get(e->kafka, "bootstrap.servers", value, &size) == RD_KAFKA_CONF_OK)
        snprintf(e->bootstrap, sizeof(e->bootstrap), "%s", value);
    mm_kafka_conf_default(e->kafka, e->conf.kafka_user_keys, "group.id", "micromoment");
    if (*conf->transactional_id) {
        snprintf(e->txn_prefix, sizeof(e->txn_prefix), "%s", conf->transactional_id);
    } else {
        /* Unique per instance without configuration, so that instances of
         * one group never fence each other; the group generation fences a
         * zombie's offsets (see delivery_eos.c). */
        char group[256] = "micromoment", id[20];
        size = sizeof(group);
        rd_kafka_conf_get(e->kafka, "group.id", group, &size);
        instance_id(id, sizeof(id));
        snprintf(e->txn_prefix, sizeof(e->txn_prefix), "micromoment-%s-%s", group, id);
    }
    if (!conversion_types(conf->conversion_types, &e->outputs.conversion_types, errstr,
                          errstr_size)) {
        mm_engine_destroy(e);
        return NULL;
    }
    e->n_workers = (int)conf->workers;
    if (e->n_workers < 1 || e->n_workers > MM_ENGINE_WORKERS_MAX) {
        snprintf(errstr, errstr_size, "mm.workers: %d is out of range", e->n_workers);
        mm_engine_destroy(e);
        return NULL;
    }
    return e;
}

static rd_kafka_t *consumer_new(mm_engine_t *e, char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(e->kafka);
    char errbuf[256];
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errbuf, sizeof(errbuf));
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errbuf, sizeof(errbuf));
    /* A processor started on a new group reads what is there. */
    mm_kafka_conf_default(conf, e->conf.kafka_user_keys, "auto.offset.reset", "earliest");
    rd_kafka_conf_set_rebalance_cb(conf, mm__consume_rebalance);
    if (e->hooks.on_stats) {
        mm_kafka_conf_default(conf, e->conf.kafka_user_keys, "statistics.interval.ms", "10000");
        rd_kafka_conf_set_stats_cb(conf, on_consumer_stats);
    }
    rd_kafka_conf_set_opaque(conf, e);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static const rd_kafka_metadata_topic_t *find_topic(const rd_kafka_metadata_t *md,
                                                   const char *name) {
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0 && !md->topics[i].err)
            return &md->topics[i];
    return NULL;
}

/* Waits for a broker's metadata, in steps so that a stop is heard. */
static const rd_kafka_metadata_t *wait_for_broker(mm_engine_t *e) {
    int64_t deadline = mm_now_ms() + e->conf.startup_timeout_ms;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TRANSPORT;
    for (;;) {
        const rd_kafka_metadata_t *md = NULL;
        int64_t left = deadline - mm_now_ms();
        int step = left > 1000 ? 1000 : left > 0 ? (int)left : 1;
        err = rd_kafka_metadata(e->consumer, 1, NULL, &md, step);
        if (!err)
            return md;
        if (atomic_load(&e->stop_requested) || mm_now_ms() >= deadline)
            break;
    }
    const char *where = *e->bootstrap ? e->bootstrap : "(bootstrap.servers not set)";
    if (atomic_load(&e->stop_requested))
        mm__engine_end(e, 1, "stopped before a Kafka broker answered at %s: %s", where,
                       rd_kafka_err2str(err));
    else
        mm__engine_end(e, 1,
                       "no Kafka broker answered at %s within %" PRId64
                       " ms (mm.startup.timeout.ms): %s",
                       where, e->conf.startup_timeout_ms, rd_kafka_err2str(err));
    return NULL;
}

/* Whether a feature runs: on when asked and its topic exists, fails the
 * start when asked and it does not, follows the topic when auto. */
static bool feature(mm_engine_t *e, const rd_kafka_metadata_t *md, int setting,
                    const char *key, const char *topic, bool *on) {
    *on = false;
    if (setting == MM_FEATURE_OFF)
        return true;
    bool exists = find_topic(md, topic) != NULL;
    if (!exists && setting == MM_FEATURE_ON) {
        mm__engine_end(e, 1, "%s=on, but the topic '%s' does not exist at %s: create it first",
                       key, topic, e->bootstrap);
        return false;
    }
    *on = exists;
    mm__info(e, "%s: %s (topic '%s' %s)", key, exists ? "on" : "off", topic,
             exists ? "exists" : "does not exist; create it to turn this on");
    return true;
}

/* A task restores from the changelog partition of its own number: the
 * changelog needs at least as many partitions as every input topic. */
static bool changelog_fits(mm_engine_t *e, const rd_kafka_metadata_t *md, const char *topic,
                           char *why, size_t why_size) {
    const rd_kafka_metadata_topic_t *cl = find_topic(md, topic);
    for (int i = 0; cl && i < e->n_input_topics; i++)
        if (e->input_partitions[i] > cl->partition_cnt) {
            snprintf(why, why_size, "the changelog '%s' has %d partitions, the input '%s' %d",
                     cl->topic, cl->partition_cnt, e->input_topic[i], e->input_partitions[i]);
            return false;
        }
    return cl != NULL;
}

static bool resolve_features(mm_engine_t *e, const rd_kafka_metadata_t *md) {
    const mm_engine_conf_t *c = &e->conf;
    mm__outputs_t *out = &e->outputs;
    out->per_type = c->routing == MM_ROUTING_PER_TYPE;
    out->attribution_window_ms = c->attribution_window_ms;
    out->attribution_max = c->attribution_max;
    out->flag_late = true;
    out->lateness_ms = c->lateness_ms;
    out->late = *c->late_topic != '\0';
    if (!feature(e, md, c->profiles, "mm.profiles", c->profiles_topic, &out->profiles) ||
        !feature(e, md, c->conversions, "mm.conversions", c->conversions_topic,
                 &out->conversions) ||
        !feature(e, md, c->changelog, "mm.state.changelog", c->changelog_topic,
                 &out->changelog))
        return false;
    char why[512];
    if (out->changelog && !changelog_fits(e, md, c->changelog_topic, why, sizeof(why))) {
        if (c->changelog == MM_FEATURE_ON) {
            mm__engine_end(e, 1, "mm.state.changelog: %s", why);
            return false;
        }
        mm__warn(e, "mm.state.changelog: off: %s", why);
        out->changelog = false;
    }
    /* Profiles and attribution read the per-user profile. */
    e->conf.state.profiles = out->profiles || out->conversions;
    e->conf.state.profile_window_ms = c->profile_window_ms;
    name_topics(e);
    return true;
}

/* The input topics' names and partition counts (GET /users' owner). */
static void note_inputs(mm_engine_t *e, const rd_kafka_metadata_t *md) {
    char buf[sizeof(e->conf.input_topics)];
    snprintf(buf, sizeof(buf), "%s", e->conf.input_topics);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t && e->n_input_topics < 16;
         t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':');
        if (colon)
            *colon = '\0';
        const rd_kafka_metadata_topic_t *mt = find_topic(md, t);
        bool seen = false;
        for (int i = 0; i < e->n_input_topics; i++)
            seen = seen || strcmp(e->input_topic[i], t) == 0;
        if (!*t || seen)
            continue;
        snprintf(e->input_topic[e->n_input_topics], 256, "%s", t);
        e->input_partitions[e->n_input_topics++] = mt ? mt->partition_cnt : 0;
    }
}

/* @returns whether an output topic is gone (the run is then ending). */
static bool outputs_gone(mm_engine_t *e) {
    for (int i = 0; i < e->n_outputs; i++) {
        if (!e->output_rkt[i] &&
            !(e->output_rkt[i] = rd_kafka_topic_new(e->consumer, e->output_name[i], NULL)))
            continue;
        /* By name, through the consumer (it never asks the broker to create
         * a topic); a broker that does not answer in time tells nothing. */
        const rd_kafka_metadata_t *md = NULL;
        if (rd_kafka_metadata(e->consumer, 0, e->output_rkt[i], &md, 500) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        rd_kafka_resp_err_t err = md->topic_cnt == 1 ? md->topics[0].err : 0;
        rd_kafka_metadata_destroy(md);
        if (err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            continue;
        mm__engine_end(e, 1,
                       "the %s '%s' no longer exists at %s (deleted while the run wrote "
                       "to it): %s",
                       e->output_role[i], e->output_name[i], e->bootstrap,
                       rd_kafka_err2str(err));
        for (int w = 0; w < e->n_workers; w++)
            mm__worker_cancel_outputs(e->workers[w]);
        return true;
    }
    return false;
}

static void *watch_main(void *arg) {
    mm_engine_t *e = arg;
    pthread_mutex_lock(&e->watch_lock);
    while (!e->watch_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&e->watch_cond, &e->watch_lock, &ts);
        if (e->watch_stop)
            break;
        pthread_mutex_unlock(&e->watch_lock);
        bool gone = outputs_gone(e);
        pthread_mutex_lock(&e->watch_lock);
        if (gone)
            break;
    }
    pthread_mutex_unlock(&e->watch_lock);
    return NULL;
}

bool mm__watch_start(mm_engine_t *e) {
    if (e->conf.delivery != MM_DELIVERY_EXACTLY_ONCE)
        return true; /* at-least-once hears of a deleted topic from its next write */
    e->watch_started = pthread_create(&e->watch_thread, NULL, watch_main, e) == 0;
    return e->watch_started;
}

void mm__watch_stop(mm_engine_t *e) {
    if (!e->watch_started)
        return;
    pthread_mutex_lock(&e->watch_lock);
    e->watch_stop = true;
    pthread_cond_signal(&e->watch_cond);
    pthread_mutex_unlock(&e->watch_lock);
    pthread_join(e->watch_thread, NULL);
    e->watch_started = false;
}

void mm__inputs_mark(mm_engine_t *e, const char *topic, bool missing) {
    for (int i = 0; i < e->n_input_topics; i++)
        if (strcmp(e->input_topic[i], topic) == 0) {
            if (missing)
                atomic_fetch_or(&e->inputs_missing, 1u << i);
            else
                atomic_fetch_and(&e->inputs_missing, ~(1u << i));
            return;
        }
}

void mm__inputs_recheck(mm_engine_t *e, rd_kafka_t *rk) {
    uint32_t missing = atomic_load(&e->inputs_missing);
    if (!missing)
        return;
    /* Every topic, not the missing ones by name: asking for a topic by name
     * can create it on a broker that auto-creates topics. */
    const rd_kafka_metadata_t *md = NULL;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 2000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    for (int i = 0; i < e->n_input_topics; i++)
        if (missing & (1u << i) && find_topic(md, e->input_topic[i])) {
            mm__info(e, "the input topic '%s' exists now", e->input_topic[i]);
            mm__inputs_mark(e, e->input_topic[i], false);
        }
    rd_kafka_metadata_destroy(md);
}

/* The topics the run writes to and must find at start; exactly-once, the
 * watch thread asks for them after (mm__watch_start). */
static void list_outputs(mm_engine_t *e) {
    int n = 0;
    e->output_name[n] = e->conf.output_topic;
    e->output_role[n++] = "output topic";
    e->output_name[n] = e->conf.dlq_topic;
    e->output_role[n++] = "dead-letter topic";
    if (e->conf.routing == MM_ROUTING_PER_TYPE)
        for (int t = 0; t < MM_MOMENT__COUNT; t++) {
            e->output_name[n] = e->topic_names[MM__TOPIC_MOMENTS + t];
            e->output_role[n++] = "per-type output topic";
        }
    if (*e->conf.late_topic) {
        e->output_name[n] = e->conf.late_topic;
        e->output_role[n++] = "late topic (mm.late.topic)";
    }
    e->n_outputs = n;
}

/* The input's topic names, with or without partition lists. */
static bool check_topics(mm_engine_t *e, const rd_kafka_metadata_t *md) {
    name_topics(e); /* the moment topics; the others once features are known */
    list_outputs(e);
    for (int i = 0; i < e->n_outputs; i++)
        if (!find_topic(md, e->output_name[i])) {
            mm__engine_end(e, 1, "the %s '%s' does not exist at %s: create it first",
                           e->output_role[i], e->output_name[i], e->bootstrap);
            return false;
        }
    note_inputs(e, md);
    if (!resolve_features(e, md))
        return false;
    char buf[sizeof(e->conf.input_topics)];
    snprintf(buf, sizeof(buf), "%s", e->conf.input_topics);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':');
        if (colon)
            *colon = '\0';
        if (!*t || find_topic(md, t))
            continue;
        if (e->conf.exit_on_eof || e->named_partitions) {
            mm__engine_end(e, 1, "the input topic '%s' does not exist at %s", t, e->bootstrap);
            return false;
        }
        mm__error(e, "the input topic '%s' does not exist at %s; waiting for it", t,
                  e->bootstrap);
        mm__inputs_mark(e, t, true);
    }
    return true;
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

/* TOPIC:N in mm.input.topics: these partitions for the life of the process,
 * no group membership, no rebalances. Offsets are still committed to the
 * group, so a restart resumes where the last run left off. */
static bool assign_named(mm_engine_t *e, rd_kafka_topic_partition_list_t *parts,
                         const rd_kafka_metadata_t *md) {
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        const rd_kafka_metadata_topic_t *t = find_topic(md, p->topic);
        if (t && p->partition >= t->partition_cnt) {
            mm__engine_end(e, 1,
                           "mm.input.topics: %s has %d partitions, there is no partition %" PRId32,
                           p->topic, t->partition_cnt, p->partition);
            return false;
        }
    }
    for (int i = 0; i < parts->cnt; i++)
        mm__consume_assigned(e, parts->elems[i].topic, parts->elems[i].partition);
    rd_kafka_resp_err_t err = rd_kafka_assign(e->consumer, parts);
    if (err) {
        mm__engine_end(e, 1, "assign the named input partitions: %s", rd_kafka_err2str(err));
        return false;
    }
    if (e->outputs.changelog) /* each waits for its state (restore.c) */
        rd_kafka_pause_partitions(e->consumer, parts);
    mm__info(e, "assigned %d named partitions, without a group rebalance", parts->cnt);
    return true;
}

bool mm_engine_start(mm_engine_t *e) {
    char errstr[512];
    rd_kafka_topic_partition_list_t *named = NULL;
    const rd_kafka_metadata_t *md = NULL;
    if (!mm_engine_input_partitions(e->conf.input_topics, &named, errstr, sizeof(errstr))) {
        mm__engine_end(e, 1, "%s", errstr);
        goto fail;
    }
    e->named_partitions = named != NULL;
    if (!(e->consumer = consumer_new(e, errstr, sizeof(errstr)))) {
        mm__engine_end(e, 1, "%s", errstr);
        goto fail;
    }
    e->queue = rd_kafka_queue_get_consumer(e->consumer);
    if (!(md = wait_for_broker(e)) || !check_topics(e, md))
        goto fail;
    if (!mm__restore_start(e, errstr, sizeof(errstr))) {
        mm__engine_end(e, 1, "%s", errstr);
        goto fail;
    }
    for (int i = 0; i < e->n_workers; i++) {
        e->workers[i] = mm__worker_new(i, e, errstr, sizeof(errstr));
        if (!e->workers[i]) {
            mm__engine_end(e, 1, "%s", errstr);
            goto fail;
        }
    }
    for (int i = 0; i < e->n_workers; i++)
        if (!mm__worker_start(e->workers[i])) {
            mm__engine_end(e, 1, "cannot start worker %d", i);
            goto fail;
        }
    if (named) {
        if (!assign_named(e, named, md))
            goto fail;
    } else {
        rd_kafka_resp_err_t err = subscribe(e->consumer, e->conf.input_topics);
        if (err) {
            mm__engine_end(e, 1, "subscribe to %.200s: %s", e->conf.input_topics,
                           rd_kafka_err2str(err));
            goto fail;
        }
    }
    rd_kafka_metadata_destroy(md);
    md = NULL;
    if (named)
        rd_kafka_topic_partition_list_destroy(named);
    named = NULL;
    mm__info(e, "consuming %s with %d workers (%s), producing %s (dead letters: %s)",
             e->conf.input_topics, e->n_workers,
             e->conf.delivery == MM_DELIVERY_EXACTLY_ONCE ? "exactly-once" : "at-least-once",
             e->conf.output_topic, e->conf.dlq_topic);
    if (!mm__watch_start(e)) {
        mm__engine_end(e, 1, "cannot start the thread that watches the output topics");
        goto fail;
    }
    if (pthread_create(&e->consumer_thread, NULL, mm__consume_main, e) != 0) {
        mm__engine_end(e, 1, "cannot start the consumer thread");
        goto fail;
    }
    e->consumer_started = true;
    return true;
fail:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (named)
        rd_kafka_topic_partition_list_destroy(named);
    mm__consume_shutdown(e);
    mark_ended(e);
    return false;
}

void mm_engine_stop(mm_engine_t *e) {
    atomic_store(&e->stop_requested, true);
    if (e->queue)
        rd_kafka_queue_yield(e->queue); /* the poll returns now, not at its timeout */
}

bool mm_engine_wait(mm_engine_t *e, int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (timeout_ms >= 0) {
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&e->end_lock);
    while (!e->ended) {
        if (timeout_ms < 0)
            pthread_cond_wait(&e->end_cond, &e->end_lock);
        else if (pthread_cond_timedwait(&e->end_cond, &e->end_lock, &ts) != 0)
            break;
    }
    bool ended = e->ended;
    pthread_mutex_unlock(&e->end_lock);
    return ended; /* the consumer thread is joined by mm_engine_destroy */
}

void mm__engine_finished(mm_engine_t *e) { mark_ended(e); }

int mm_engine_exit_code(mm_engine_t *e, char *why, size_t why_size) {
    pthread_mutex_lock(&e->end_lock);
    int code = e->exit_code;
    if (why && why_size)
        snprintf(why, why_size, "%s", e->why);
    pthread_mutex_unlock(&e->end_lock);
    return code;
}

void mm_engine_destroy(mm_engine_t *e) {
    if (!e)
        return;
    if (e->consumer_started) {
        mm_engine_stop(e);
        pthread_join(e->consumer_thread, NULL);
    }
    for (int i = 0; i < e->n_workers; i++)
        mm__worker_destroy(e->workers[i]);
    if (e->queue)
        rd_kafka_queue_destroy(e->queue);
    for (int i = 0; i < e->n_outputs; i++)
        if (e->output_rkt[i])
            rd_kafka_topic_destroy(e->output_rkt[i]);
    if (e->consumer)
        rd_kafka_destroy(e->consumer);
    while (e->retired) {
        mm__retired_rules_t *r = e->retired;
        e->retired = r->next;
        mm_rules_destroy(r->rules);
        free(r);
    }
    mm_rules_destroy((mm_rules_t *)atomic_load(&e->rules));
    if (e->kafka)
        rd_kafka_conf_destroy(e->kafka);
    pthread_mutex_destroy(&e->rules_lock);
    pthread_mutex_destroy(&e->parts_lock);
    pthread_mutex_destroy(&e->end_lock);
    pthread_cond_destroy(&e->end_cond);
    pthread_mutex_destroy(&e->restore_lock);
    pthread_cond_destroy(&e->restore_cond);
    pthread_mutex_destroy(&e->watch_lock);
    pthread_cond_destroy(&e->watch_cond);
    free(e);
}

/* ------------------------------------------------------------------ stats */

void mm_engine_stats(mm_engine_t *e, mm_engine_stats_t *s) {
    memset(s, 0, sizeof(*s));
    s->n_workers = e->n_workers;
    for (int i = 0; i < e->n_workers; i++) {
        mm__worker_t *w = e->workers[i];
        if (!w)
            continue;
        const mm__counters_t *c = mm__worker_counters(w);
        s->records_in += MM_COUNTER_GET(c->records_in);
        for (int t = 0; t < MM_MOMENT__COUNT; t++)
            s->moments_out[t] += MM_COUNTER_GET(c->moments_out[t]);
        for (int x = 0; x < MM_ERR__COUNT; x++)
            s->dead_out[x] += MM_COUNTER_GET(c->dead_out[x]);
        const mm__worker_gauges_t *g = mm__worker_gauges(w);
        s->state_users += atomic_load_explicit(&g->state_users, memory_order_relaxed);
        s->evicted_cap += atomic_load_explicit(&g->evicted_cap, memory_order_relaxed);
        s->expired_ttl += atomic_load_explicit(&g->expired_ttl, memory_order_relaxed);
        s->partitions_waiting += atomic_load_explicit(&g->tasks_waiting, memory_order_relaxed);
        s->late_events += MM_COUNTER_GET(c->late_events);
        s->conversions += MM_COUNTER_GET(c->conversions);
        for (int t = 0; t < MM_MOMENT__COUNT; t++)
            s->conversions_attributed[t] += MM_COUNTER_GET(c->conversions_attributed[t]);
        s->profiles_out += MM_COUNTER_GET(c->profiles_out);
        s->snapshots_out += MM_COUNTER_GET(c->snapshots_out);
        s->checkpoints += MM_COUNTER_GET(c->checkpoints);
        s->restored_users += MM_COUNTER_GET(c->restored_users);
        s->restore_ms += MM_COUNTER_GET(c->restore_ms);
        s->producer_queue[i] = mm__worker_outstanding(w);
    }
    pthread_mutex_lock(&e->parts_lock);
    for (int i = 0; i < MM_PARTITIONS_MAX; i++)
        s->partitions += e->parts[i].in_use;
    pthread_mutex_unlock(&e->parts_lock);
    s->input_topics_missing = (uint32_t)__builtin_popcount(atomic_load(&e->inputs_missing));
    s->profiles_on = e->outputs.profiles;
    s->conversions_on = e->outputs.conversions;
    s->changelog_on = e->outputs.changelog;
    s->rules_generation = (uint32_t)atomic_load(&e->rules_generation);
}

/* A paused partition is not fetched, so the consumer's cached end of it
 * stops moving: the broker is asked for the ends of the partitions waiting
 * on the registry (outside the lock; a bounded number, each bounded in
 * time), or their lag would stand still while their records pile up. */
#define ASK_ENDS_MAX 32
static void ask_waiting_ends(mm_engine_t *e) {
    struct {
        int slot;
        char topic[256];
        int32_t partition;
        int64_t end;
    } asked[ASK_ENDS_MAX];
    int n = 0;
    pthread_mutex_lock(&e->parts_lock);
    for (int i = 0; i < MM_PARTITIONS_MAX && n < ASK_ENDS_MAX; i++) {
        const mm__partition_t *p = &e->parts[i];
        if (p->in_use && atomic_load_explicit(&p->waiting, memory_order_relaxed)) {
            asked[n].slot = i;
            memcpy(asked[n].topic, p->topic, sizeof(asked[n].topic));
            asked[n++].partition = p->partition;
        }
    }
    pthread_mutex_unlock(&e->parts_lock);
    for (int i = 0; i < n; i++) {
        int64_t low = -1;
        asked[i].end = -1;
        if (rd_kafka_query_watermark_offsets(e->consumer, asked[i].topic, asked[i].partition,
                                             &low, &asked[i].end, 500) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            asked[i].end = -1;
    }
    pthread_mutex_lock(&e->parts_lock);
    for (int i = 0; i < n; i++) {
        mm__partition_t *p = &e->parts[asked[i].slot];
        if (p->in_use && p->partition == asked[i].partition &&
            strcmp(p->topic, asked[i].topic) == 0)
            p->end_asked = asked[i].end;
    }
    pthread_mutex_unlock(&e->parts_lock);
}

void mm_engine_partitions(mm_engine_t *e,
                          void (*visit)(const mm_engine_partition_t *p, void *ctx),
                          void *ctx) {
    if (e->consumer)
        ask_waiting_ends(e);
    pthread_mutex_lock(&e->parts_lock);
    for (int i = 0; i < MM_PARTITIONS_MAX; i++) {
        const mm__partition_t *p = &e->parts[i];
        if (!p->in_use)
            continue;
        int64_t low = -1, high = -1;
        if (e->consumer &&
            rd_kafka_get_watermark_offsets(e->consumer, p->topic, p->partition, &low, &high) !=
                RD_KAFKA_RESP_ERR_NO_ERROR)
            high = -1;
        bool waiting = atomic_load_explicit(&p->waiting, memory_order_relaxed);
        if (waiting && p->end_asked > high)
            high = p->end_asked;
        mm_engine_partition_t out = {
            .topic = p->topic,
            .partition = p->partition,
            .processed = atomic_load_explicit(&p->processed, memory_order_relaxed),
            .committed = atomic_load_explicit(&p->committed, memory_order_relaxed),
            .end = high,
            .waiting = waiting,
        };
        visit(&out, ctx);
    }
    pthread_mutex_unlock(&e->parts_lock);
}

void mm_engine_latency(mm_engine_t *e, mm_histogram_t *into) {
    for (int i = 0; i < e->n_workers; i++)
        if (e->workers[i])
            mm_histogram_merge(into, mm__worker_latency(e->workers[i]));
}

/* ------------------------------------------------------------------ users */

static int answer_json(char *buf, size_t cap, size_t *len, int status, mm_str_t user_id,
                       const char *topic, int32_t partition, const char *reason) {
    mm_jw_t jw;
    mm_jw_init(&jw, buf, cap);
    mm_jw_object_open(&jw);
    mm_jw_key_plain(&jw, "user_id");
    mm_jw_str(&jw, user_id);
    if (topic) {
        mm_jw_key_plain(&jw, "tracked");
        mm_jw_bool(&jw, false);
        mm_jw_key_plain(&jw, "owner");
        mm_jw_object_open(&jw);
        mm_jw_key_plain(&jw, "topic");
        mm_jw_cstr(&jw, topic);
        mm_jw_key_plain(&jw, "partition");
        mm_jw_int(&jw, partition);
        mm_jw_object_close(&jw);
    }
    mm_jw_key_plain(&jw, "reason");
    mm_jw_cstr(&jw, reason);
    mm_jw_object_close(&jw);
    *len = mm_jw_ok(&jw) ? jw.len : 0;
    return status;
}

static bool assigned_here(mm_engine_t *e, const char *topic, int32_t partition) {
    bool here = false;
    pthread_mutex_lock(&e->parts_lock);
    for (int i = 0; i < MM_PARTITIONS_MAX && !here; i++)
        here = e->parts[i].in_use && e->parts[i].partition == partition &&
               strcmp(e->parts[i].topic, topic) == 0;
    pthread_mutex_unlock(&e->parts_lock);
    return here;
}

int mm_engine_user(mm_engine_t *e, mm_str_t user_id, char *buf, size_t cap, size_t *len,
                   int timeout_ms) {
    if (!e->outputs.profiles || !e->consumer_started)
        return answer_json(buf, cap, len, 503, user_id, NULL, 0,
                           "profiles are off (mm.profiles, and its topic must exist)");
    /* Where the input's producers put this user: its key's partition. */
    const char *topic = NULL;
    int32_t partition = -1;
    for (int i = 0; i < e->n_input_topics; i++) {
        if (e->input_partitions[i] <= 0)
            continue;
        int32_t p = e->conf.partitioner == MM_PARTITIONER_MURMUR2
                        ? rd_kafka_msg_partitioner_murmur2(NULL, user_id.p, user_id.len,
                                                           e->input_partitions[i], NULL, NULL)
                        : rd_kafka_msg_partitioner_consistent(NULL, user_id.p, user_id.len,
                                                              e->input_partitions[i], NULL,
                                                              NULL);
        if (!topic) {
            topic = e->input_topic[i];
            partition = p;
        }
        if (assigned_here(e, e->input_topic[i], p))
            return mm__worker_user(mm__engine_owner(e, e->input_topic[i], p), e->input_topic[i],
                                   p, user_id, buf, cap, len, timeout_ms);
    }
    if (!topic)
        return answer_json(buf, cap, len, 503, user_id, NULL, 0, "no input partition known");
    return answer_json(buf, cap, len, 404, user_id, topic, partition,
                       "another instance owns this user's partition");
}
