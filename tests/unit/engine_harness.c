/* The engine suites' mock cluster, readers and engine set-up (see the header). */
#include "engine_harness.h"

#include "app/config.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t mm_test_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool mm_test_wait(bool (*cond)(void *ctx), void *ctx, int timeout_ms) {
    int64_t deadline = mm_test_now_ms() + timeout_ms;
    for (;;) {
        if (cond(ctx))
            return true;
        if (mm_test_now_ms() >= deadline)
            return false;
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

void mm_test_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char errstr[256];
    ck_assert_msg(rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) ==
                      RD_KAFKA_CONF_OK,
                  "%s=%s: %s", key, value, errstr);
}

/* librdkafka's own lines: none (injected failures make every client
 * complain), unless MM_TEST_VERBOSE asks for them; MM_TEST_DEBUG sets
 * librdkafka's debug contexts. */
static void quiet(rd_kafka_conf_t *conf) {
    mm_test_kafka_set(conf, "log_level", getenv("MM_TEST_VERBOSE") ? "7" : "0");
    if (getenv("MM_TEST_DEBUG"))
        mm_test_kafka_set(conf, "debug", getenv("MM_TEST_DEBUG"));
}

static rd_kafka_t *client(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    ck_assert_msg(rk != NULL, "rd_kafka_new: %s", errstr);
    return rk;
}

/* ---------------------------------------------------------------- cluster */

mm_test_cluster_t *mm_test_cluster_new(int brokers) {
    mm_test_cluster_t *c = calloc(1, sizeof(*c));
    ck_assert_ptr_nonnull(c);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    quiet(conf);
    c->rk = client(RD_KAFKA_PRODUCER, conf);
    c->mc = rd_kafka_mock_cluster_new(c->rk, brokers);
    ck_assert_msg(c->mc != NULL, "the mock cluster did not start");
    snprintf(c->bootstraps, sizeof(c->bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(c->mc));
    conf = rd_kafka_conf_new();
    quiet(conf);
    mm_test_kafka_set(conf, "bootstrap.servers", c->bootstraps);
    /* The input's order within a partition is part of what is asserted. */
    mm_test_kafka_set(conf, "enable.idempotence", "true");
    c->producer = client(RD_KAFKA_PRODUCER, conf);
    return c;
}

void mm_test_cluster_destroy(mm_test_cluster_t *c) {
    if (!c)
        return;
    rd_kafka_destroy(c->producer);
    rd_kafka_mock_cluster_destroy(c->mc);
    rd_kafka_destroy(c->rk);
    free(c);
}

void mm_test_topic(mm_test_cluster_t *c, const char *name, int partitions) {
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(c->mc, name, partitions, 1);
    ck_assert_msg(!err, "topic %s: %s", name, rd_kafka_err2str(err));
}

void mm_test_inject(mm_test_cluster_t *c, int32_t broker, int16_t api, size_t cnt,
                    rd_kafka_resp_err_t err) {
    for (size_t i = 0; i < cnt; i++)
        ck_assert_int_eq(
            rd_kafka_mock_broker_push_request_error_rtts(c->mc, broker, api, 1, err, 0), 0);
}

size_t mm_test_errors_left(mm_test_cluster_t *c, int32_t broker, int16_t api) {
    size_t cnt = 0;
    ck_assert_int_eq(rd_kafka_mock_broker_error_stack_cnt(c->mc, broker, api, &cnt), 0);
    return cnt;
}

void mm_test_produce(mm_test_cluster_t *c, const char *topic, int32_t partition,
                     const char *key, const void *value, size_t len) {
    rd_kafka_resp_err_t err;
    do {
        err = rd_kafka_producev(c->producer, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                RD_KAFKA_V_VALUE((void *)value, len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(c->producer, 10);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    ck_assert_msg(!err, "produce to %s: %s", topic, rd_kafka_err2str(err));
}

void mm_test_flush(mm_test_cluster_t *c) {
    rd_kafka_resp_err_t err = rd_kafka_flush(c->producer, 10000);
    ck_assert_msg(!err, "flush: %s", rd_kafka_err2str(err));
}

/* Queries the lexicons classify by keyword alone (know, go, do, buy). */
static const char *const queries[] = {
    "buy running shoes",   "how to tie a tie",    "pizza near me",
    "weather tomorrow",    "cheap flights to rome", "what is a heat pump",
    "fix a leaking tap",   "hotels near me",      "best price iphone 15",
    "how to bake bread",
};

void mm_test_produce_events(mm_test_cluster_t *c, const char *topic, int32_t partition,
                            int n, bool distinct) {
    int64_t first = mm_test_end(c, topic, partition);
    for (int i = 0; i < n; i++) {
        char user[64], json[256];
        int64_t seq = first + i;
        if (distinct)
            snprintf(user, sizeof(user), "%s-%" PRId32 "-u%" PRId64, topic, partition, seq);
        else
            snprintf(user, sizeof(user), "u%" PRId64, seq % 5);
        int len = snprintf(json, sizeof(json),
                           "{\"user_id\":\"%s\",\"type\":\"query\",\"query\":\"%s\","
                           "\"ts\":%" PRId64 "}",
                           user, queries[seq % (int64_t)(sizeof(queries) / sizeof(queries[0]))],
                           (int64_t)1763900000000 + seq * 1000);
        mm_test_produce(c, topic, partition, user, json, (size_t)len);
    }
    mm_test_flush(c);
}

int64_t mm_test_end(mm_test_cluster_t *c, const char *topic, int32_t partition) {
    int64_t low = -1, high = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(c->producer, topic, partition, &low, &high, 5000);
    ck_assert_msg(!err, "watermarks of %s [%d]: %s", topic, partition, rd_kafka_err2str(err));
    return high;
}

/* ----------------------------------------------------------- read back */

static int partition_count(rd_kafka_t *rk, const char *topic) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
    ck_assert_msg(!err, "metadata of %s: %s", topic, rd_kafka_err2str(err));
    int n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    ck_assert_msg(n > 0, "topic %s does not exist", topic);
    return n;
}

static rd_kafka_t *reader(mm_test_cluster_t *c, const char *group) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    quiet(conf);
    mm_test_kafka_set(conf, "bootstrap.servers", c->bootstraps);
    mm_test_kafka_set(conf, "group.id", group);
    mm_test_kafka_set(conf, "enable.auto.commit", "false");
    mm_test_kafka_set(conf, "enable.partition.eof", "true");
    mm_test_kafka_set(conf, "auto.offset.reset", "earliest");
    return client(RD_KAFKA_CONSUMER, conf);
}

static void add_record(mm_test_records_t *out, size_t *cap, rd_kafka_message_t *m) {
    if (out->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        out->recs = realloc(out->recs, *cap * sizeof(*out->recs));
        ck_assert_ptr_nonnull(out->recs);
    }
    mm_test_record_t *r = &out->recs[out->n++];
    memset(r, 0, sizeof(*r));
    r->partition = m->partition;
    r->offset = m->offset;
    r->len = m->len;
    r->value = malloc(m->len + 1);
    ck_assert_ptr_nonnull(r->value);
    if (m->len)
        memcpy(r->value, m->payload, m->len);
    r->value[m->len] = '\0';
    if (m->key) {
        r->key_len = m->key_len;
        r->key = malloc(m->key_len + 1);
        ck_assert_ptr_nonnull(r->key);
        memcpy(r->key, m->key, m->key_len);
        r->key[m->key_len] = '\0';
    }
    rd_kafka_message_detach_headers(m, &r->headers);
}

void mm_test_read_topic(mm_test_cluster_t *c, const char *topic, mm_test_records_t *out) {
    memset(out, 0, sizeof(*out));
    rd_kafka_t *rk = reader(c, "mm-test-reader");
    int n = partition_count(rk, topic);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    int64_t ends[1024];
    ck_assert_int_le(n, 1024);
    int left = 0;
    for (int p = 0; p < n; p++) {
        ends[p] = mm_test_end(c, topic, p);
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        left += ends[p] > 0;
    }
    ck_assert_int_eq(rd_kafka_assign(rk, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    /* Read to the ends known now: records written later are not asked for. */
    int64_t deadline = mm_test_now_ms() + 15000;
    size_t cap = 0;
    while (left > 0 && mm_test_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err && m->offset < ends[m->partition]) {
            add_record(out, &cap, m);
            if (m->offset + 1 == ends[m->partition])
                left--;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    ck_assert_msg(left == 0, "%s: %d partitions not read to their end", topic, left);
}

void mm_test_records_free(mm_test_records_t *rs) {
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->recs[i].key);
        free(rs->recs[i].value);
        if (rs->recs[i].headers)
            rd_kafka_headers_destroy(rs->recs[i].headers);
    }
    free(rs->recs);
    memset(rs, 0, sizeof(*rs));
}

const char *mm_test_header(const mm_test_record_t *r, const char *name, char *buf,
                           size_t size) {
    const void *v;
    size_t len;
    if (!r->headers || rd_kafka_header_get_last(r->headers, name, &v, &len) != 0 || !v)
        return NULL;
    if (len >= size)
        len = size - 1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}

int64_t mm_test_committed(mm_test_cluster_t *c, const char *group, const char *topic,
                          int32_t partition) {
    rd_kafka_t *rk = reader(c, group);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, partition);
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, parts, 5000);
    ck_assert_msg(!err, "committed offsets of %s: %s", group, rd_kafka_err2str(err));
    int64_t off = parts->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
    return off < 0 ? -1 : off;
}

bool mm_test_committed_at_end(mm_test_cluster_t *c, const char *group, const char *topic,
                              int partitions) {
    for (int p = 0; p < partitions; p++)
        if (mm_test_committed(c, group, topic, p) != mm_test_end(c, topic, p))
            return false;
    return true;
}

/* -------------------------------------------------------------- moments */

void mm_test_moment_canonical(const char *json, char *out, size_t size) {
    static const char key[] = "\"detected_ts\":";
    const char *at = strstr(json, key);
    if (!at) {
        snprintf(out, size, "%s", json);
        return;
    }
    const char *after = at + sizeof(key) - 1;
    while (*after >= '0' && *after <= '9')
        after++;
    if (*after == ',')
        after++;
    snprintf(out, size, "%.*s%s", (int)(at - json), json, after);
}

void mm_test_json_str(const char *json, const char *name, char *out, size_t size) {
    char key[64];
    snprintf(key, sizeof(key), "\"%s\":\"", name);
    const char *at = strstr(json, key);
    *out = '\0';
    if (!at)
        return;
    at += strlen(key);
    const char *end = strchr(at, '"');
    if (end)
        snprintf(out, size, "%.*s", (int)(end - at), at);
}

int64_t mm_test_source_int(const char *json, const char *name) {
    const char *src = strstr(json, "\"source\":{");
    char key[64];
    snprintf(key, sizeof(key), "\"%s\":", name);
    const char *at = src ? strstr(src, key) : NULL;
    return at ? strtoll(at + strlen(key), NULL, 10) : -1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t mm_test_canonical_sorted(const mm_test_records_t *rs, char ***out) {
    char **s = calloc(rs->n + 1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < rs->n; i++) {
        size_t size = rs->recs[i].len + 1;
        s[i] = malloc(size);
        ck_assert_ptr_nonnull(s[i]);
        mm_test_moment_canonical(rs->recs[i].value, s[i], size);
    }
    qsort(s, rs->n, sizeof(*s), cmp_str);
    *out = s;
    return rs->n;
}

void mm_test_strings_free(char **s, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

/* ------------------------------------------------------------------- log */

void mm_test_log_init(mm_test_log_t *log, const char *name) {
    memset(log, 0, sizeof(*log));
    pthread_mutex_init(&log->lock, NULL);
    log->name = name;
    log->cap = 4096;
    log->text = calloc(1, log->cap); /* "" until a line comes */
    ck_assert_ptr_nonnull(log->text);
}

void mm_test_log_free(mm_test_log_t *log) {
    free(log->text);
    pthread_mutex_destroy(&log->lock);
}

static void on_log(int level, const char *line, void *ctx) {
    mm_test_log_t *log = ctx;
    size_t n = strlen(line);
    pthread_mutex_lock(&log->lock);
    if (log->len + n + 2 > log->cap) {
        size_t cap = log->cap;
        while (cap < log->len + n + 2)
            cap *= 2;
        char *text = realloc(log->text, cap);
        if (text) {
            log->text = text;
            log->cap = cap;
        }
    }
    if (log->len + n + 2 <= log->cap) {
        memcpy(log->text + log->len, line, n);
        log->len += n;
        log->text[log->len++] = '\n';
        log->text[log->len] = '\0';
    }
    pthread_mutex_unlock(&log->lock);
    if (getenv("MM_TEST_VERBOSE")) {
        int64_t t = mm_test_now_ms();
        fprintf(stderr, "%" PRId64 ".%03d [%s] %d %s\n", t / 1000 % 1000, (int)(t % 1000),
                log->name ? log->name : "engine", level, line);
    }
}

long mm_test_log_find(mm_test_log_t *log, const char *needle, long from) {
    pthread_mutex_lock(&log->lock);
    long at = -1;
    if (log->text && from >= 0 && (size_t)from <= log->len) {
        const char *p = strstr(log->text + from, needle);
        if (p)
            at = p - log->text;
    }
    pthread_mutex_unlock(&log->lock);
    return at;
}

bool mm_test_log_has(mm_test_log_t *log, const char *needle) {
    return mm_test_log_find(log, needle, 0) >= 0;
}

int mm_test_log_count(mm_test_log_t *log, const char *needle) {
    int n = 0;
    for (long at = mm_test_log_find(log, needle, 0); at >= 0;
         at = mm_test_log_find(log, needle, at + 1))
        n++;
    return n;
}

/* --------------------------------------------------------------- engine */

/*
 * The configuration `run` would have with nothing but these keys set: the
 * key table's defaults (app/config.c, compiled into the engine suites) and
 * its cross-key checks (mm_config_finish: message.max.bytes aligned with
 * mm.max.record.bytes, mm.lateness.ms, ...).
 */
static void config_of(mm_config_t *cfg, const char *bootstrap, const char *group,
                      const char *inputs) {
    char errstr[512];
    ck_assert(mm_config_init(cfg));
    const char *kv[][2] = {
        {"bootstrap.servers", bootstrap}, {"group.id", group}, {"mm.input.topics", inputs},
        {"mm.output.topic", "out"},       {"mm.dlq.topic", "dlq"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        ck_assert_msg(mm_config_set(cfg, kv[i][0], kv[i][1], errstr, sizeof(errstr)) ==
                          MM_CONF_OK,
                      "%s", errstr);
    ck_assert_msg(mm_config_finish(cfg, errstr, sizeof(errstr)) == MM_CONF_OK, "%s", errstr);
}

void mm_test_engine_conf(mm_engine_conf_t *c, const char *inputs) {
    mm_config_t cfg;
    config_of(&cfg, "127.0.0.1:1", "g", inputs);
    *c = cfg.engine;
    c->exit_on_eof = true;
    mm_config_destroy(&cfg);
}

rd_kafka_conf_t *mm_test_kafka_conf(mm_test_cluster_t *c, const char *group) {
    mm_config_t cfg;
    config_of(&cfg, c ? c->bootstraps : "127.0.0.1:1", group, "in");
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(cfg.kafka);
    mm_config_destroy(&cfg);
    quiet(conf);
    /* The mock holds a fetch at a partition's end this long (500 ms by
     * default), several times before a run sees the end of its input: a
     * shorter hold keeps the suites fast and changes nothing the engine
     * decides. */
    mm_test_kafka_set(conf, "fetch.wait.max.ms", "20");
    return conf;
}

mm_engine_t *mm_test_engine_new(const mm_engine_conf_t *conf, rd_kafka_conf_t *kafka,
                                mm_test_log_t *log, const mm_engine_hooks_t *hooks) {
    char errstr[512];
    mm_config_t cfg;
    ck_assert(mm_config_init(&cfg));
    mm_rules_t *rules =
        mm_rules_load(MM_SOURCE_DIR "/lexicons", &cfg.rules, errstr, sizeof(errstr));
    mm_config_destroy(&cfg);
    ck_assert_msg(rules != NULL, "%s", errstr);
    mm_engine_hooks_t h = {0};
    if (hooks)
        h = *hooks;
    h.log = on_log;
    h.log_ctx = log;
    mm_engine_t *e = mm_engine_new(conf, kafka, rules, &h, errstr, sizeof(errstr));
    rd_kafka_conf_destroy(kafka);
    ck_assert_msg(e != NULL, "%s", errstr);
    return e;
}

mm_engine_t *mm_test_engine_start(const mm_engine_conf_t *conf, rd_kafka_conf_t *kafka,
                                  mm_test_log_t *log, const mm_engine_hooks_t *hooks) {
    mm_engine_t *e = mm_test_engine_new(conf, kafka, log, hooks);
    if (!mm_engine_start(e)) {
        char why[512];
        mm_engine_exit_code(e, why, sizeof(why));
        mm_engine_destroy(e);
        ck_abort_msg("the engine did not start: %s", why);
    }
    return e;
}

int mm_test_engine_end(mm_engine_t *e, int timeout_ms, char *why, size_t why_size) {
    ck_assert_msg(mm_engine_wait(e, timeout_ms), "the run did not end within %d ms",
                  timeout_ms);
    return mm_engine_exit_code(e, why, why_size);
}

int mm_test_engine_run(const mm_engine_conf_t *conf, rd_kafka_conf_t *kafka,
                       mm_test_log_t *log, char *why, size_t why_size) {
    mm_test_log_t own;
    if (!log) {
        mm_test_log_init(&own, "run");
        log = &own;
    }
    mm_engine_t *e = mm_test_engine_start(conf, kafka, log, NULL);
    int code = mm_test_engine_end(e, 25000, why, why_size);
    mm_engine_destroy(e);
    if (log == &own)
        mm_test_log_free(&own);
    return code;
}

void mm_test_engine_run_ok(const mm_engine_conf_t *conf, rd_kafka_conf_t *kafka,
                           mm_test_log_t *log) {
    char why[512];
    int code = mm_test_engine_run(conf, kafka, log, why, sizeof(why));
    ck_assert_msg(code == 0, "the run exited %d: %s\n%s", code, why, log ? log->text : "");
}

/* ---------------------------------------------------------- interceptors */

/* on_new interceptors the tests add; the configuration's copies carry them
 * (rd_kafka_conf_dup copies no on_conf_* interceptor by itself). */
typedef struct on_new_hook_s {
    rd_kafka_interceptor_f_on_new_t *on_new;
    void *opaque;
} on_new_hook_t;

static on_new_hook_t on_new_hooks[4];

static void hook_install(rd_kafka_conf_t *conf, on_new_hook_t *hook);

static rd_kafka_resp_err_t hook_on_conf_dup(rd_kafka_conf_t *new_conf,
                                            const rd_kafka_conf_t *old_conf, size_t filter_cnt,
                                            const char **filter, void *opaque) {
    (void)old_conf, (void)filter_cnt, (void)filter;
    hook_install(new_conf, opaque);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static void hook_install(rd_kafka_conf_t *conf, on_new_hook_t *hook) {
    char name[32];
    snprintf(name, sizeof(name), "mm-test-%d", (int)(hook - on_new_hooks));
    /* CONFLICT when a copy has it already: fine. */
    rd_kafka_conf_interceptor_add_on_new(conf, name, hook->on_new, hook->opaque);
    rd_kafka_conf_interceptor_add_on_conf_dup(conf, name, hook_on_conf_dup, hook);
}

void mm_test_on_new(rd_kafka_conf_t *conf, rd_kafka_interceptor_f_on_new_t *on_new,
                    void *opaque) {
    size_t i = 0;
    while (i < 4 && on_new_hooks[i].on_new)
        i++;
    ck_assert_uint_lt(i, 4);
    on_new_hooks[i] = (on_new_hook_t){on_new, opaque};
    hook_install(conf, &on_new_hooks[i]);
}

/* ---------------------------------------------------------------- world */

void mm_test_read_outputs(mm_test_world_t *w) {
    mm_test_records_free(&w->out);
    mm_test_records_free(&w->dlq);
    mm_test_read_topic(w->c, "out", &w->out);
    mm_test_read_topic(w->c, "dlq", &w->dlq);
}

void mm_test_world_free(mm_test_world_t *w) {
    mm_test_records_free(&w->ref);
    mm_test_records_free(&w->out);
    mm_test_records_free(&w->dlq);
    if (w->log.name)
        mm_test_log_free(&w->log);
    mm_test_cluster_destroy(w->c);
    memset(w, 0, sizeof(*w));
}

void mm_test_assert_same_moments(const mm_test_records_t *a, const mm_test_records_t *b) {
    char **sa, **sb;
    size_t na = mm_test_canonical_sorted(a, &sa);
    size_t nb = mm_test_canonical_sorted(b, &sb);
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < na; i++)
        ck_assert_str_eq(sa[i], sb[i]);
    mm_test_strings_free(sa, na);
    mm_test_strings_free(sb, nb);
}

void mm_test_assert_committed_at_end(mm_test_cluster_t *c, const char *group, const char *topic,
                                     int partitions) {
    for (int p = 0; p < partitions; p++)
        ck_assert_int_eq(mm_test_committed(c, group, topic, p), mm_test_end(c, topic, p));
}
