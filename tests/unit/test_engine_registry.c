/*
 * A record that waits for the Schema Registry parks its own partition only
 * (issue 14, "waiting stays on its partition"). One worker owns two JSON
 * partitions and one partition whose record at offset 3 is Avro with a
 * schema id only the registry knows. The registry is a small HTTP server in
 * this test whose behaviour the test switches: down (nothing listens), slow
 * (answers after the request's bound), garbage (200 without a schema, 500, a
 * redirect to itself), 404, healthy.
 *
 * While it cannot answer: the JSON partitions deliver every moment and
 * commit to their end within seconds, the waiting partition is visible
 * (mm_engine_stats().partitions_waiting, its committed offset stays at the
 * waiting record, nothing after it is processed). Once it answers: the
 * waiting partition's moments arrive and the run drains. A 404 makes the
 * record a dead letter (unknown_schema) at once; mm.schema.registry.wait.max.ms
 * makes a long wait one (schema_unavailable). The seek back to the waiting
 * record may be slow (a busy machine): the run waits for it. Every run is
 * compared with an error-free run against a second, healthy registry.
 */
#include <arpa/inet.h>
#include <check.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "engine_harness.h"

#define SCHEMA_ID 7
#define AVRO_OFFSET 3 /* of the Avro record in "avro" [0] */
#define AVRO_PARTITION_RECORDS 6
#define JSON_PER_PARTITION 20
/* In step with the JSON events around it (the harness's ts: one second per
 * offset), so that no record is late behind it. */
#define AVRO_TS ((int64_t)1763900000000 + AVRO_OFFSET * 1000)

/* The producer's writer schema: fewer fields than schemas/event.avsc, in
 * another order, without unions (the decoder resolves it). */
static const char WRITER_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"io.micromoment\",\"fields\":["
    "{\"name\":\"user_id\",\"type\":\"string\"},{\"name\":\"type\",\"type\":\"string\"},"
    "{\"name\":\"query\",\"type\":\"string\"},{\"name\":\"ts\",\"type\":\"long\"}]}";

/* -------------------------------------------------------------- registry */

typedef enum {
    REG_OK,
    REG_SLOW,      /* answers after slow_ms, past the request's bound */
    REG_NO_SCHEMA, /* 200 with a body without "schema" */
    REG_500,
    REG_REDIRECT, /* 302 to the same URL */
    REG_404,
} reg_mode_t;

typedef struct registry_s {
    int port;
    int fd; /* listening; -1 while down */
    pthread_t thread;
    _Atomic int mode;
    _Atomic bool stop;
    _Atomic int requests;
    int slow_ms;
} registry_t;

static void pause_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void answer(registry_t *reg, int c, const char *path) {
    static const char ok_fmt[] = "{\"subject\":\"events-value\",\"version\":1,\"id\":%d,"
                                 "\"schema\":\"%s\"}";
    char escaped[sizeof(WRITER_SCHEMA) * 2], body[2048], resp[4096];
    size_t j = 0;
    for (const char *p = WRITER_SCHEMA; *p; p++) {
        if (*p == '"' || *p == '\\')
            escaped[j++] = '\\';
        escaped[j++] = *p;
    }
    escaped[j] = '\0';
    int status = 200;
    const char *extra = "";
    char location[256];
    switch ((reg_mode_t)atomic_load(&reg->mode)) {
    case REG_SLOW:
        for (int waited = 0; waited < reg->slow_ms && !atomic_load(&reg->stop); waited += 10)
            pause_ms(10);
        /* the answer is good, only late */
        __attribute__((fallthrough));
    case REG_OK:
        snprintf(body, sizeof(body), ok_fmt, SCHEMA_ID, escaped);
        break;
    case REG_NO_SCHEMA:
        snprintf(body, sizeof(body), "{\"subject\":\"events-value\",\"id\":%d}", SCHEMA_ID);
        break;
    case REG_500:
        status = 500;
        snprintf(body, sizeof(body), "{\"error_code\":50001,\"message\":\"store error\"}");
        break;
    case REG_REDIRECT:
        status = 302;
        snprintf(location, sizeof(location), "Location: http://127.0.0.1:%d%s\r\n", reg->port,
                 path);
        extra = location;
        snprintf(body, sizeof(body), "see elsewhere");
        break;
    case REG_404:
        status = 404;
        snprintf(body, sizeof(body), "{\"error_code\":40403,\"message\":\"Schema not found\"}");
        break;
    }
    int len = snprintf(resp, sizeof(resp),
                       "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
                       "Content-Length: %zu\r\n\r\n%s",
                       status, extra, strlen(body), body);
    /* The client may have given up (slow): no SIGPIPE. */
    (void)send(c, resp, (size_t)len, MSG_NOSIGNAL);
}

static void *registry_main(void *arg) {
    registry_t *reg = arg;
    char req[4096];
    while (!atomic_load(&reg->stop)) {
        struct pollfd pfd = {.fd = reg->fd, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        int c = accept(reg->fd, NULL, NULL);
        if (c < 0)
            continue;
        for (;;) { /* keep-alive: several requests per connection */
            struct pollfd cfd = {.fd = c, .events = POLLIN};
            if (atomic_load(&reg->stop) || poll(&cfd, 1, 20) < 0)
                break;
            if (!(cfd.revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t n = read(c, req, sizeof(req) - 1);
            if (n <= 0)
                break;
            req[n] = '\0';
            char path[256] = "/";
            sscanf(req, "GET %255s", path);
            atomic_fetch_add(&reg->requests, 1);
            answer(reg, c, path);
        }
        close(c);
    }
    return NULL;
}

/* Listens on reg->port (0: any free port, noted). */
static void registry_up(registry_t *reg) {
    reg->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(reg->fd, 0);
    int one = 1;
    setsockopt(reg->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)reg->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    ck_assert_int_eq(bind(reg->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(reg->fd, 8), 0);
    getsockname(reg->fd, (struct sockaddr *)&a, &alen);
    reg->port = ntohs(a.sin_port);
    atomic_store(&reg->stop, false);
    ck_assert_int_eq(pthread_create(&reg->thread, NULL, registry_main, reg), 0);
}

static void registry_down(registry_t *reg) {
    if (reg->fd < 0)
        return;
    atomic_store(&reg->stop, true);
    pthread_join(reg->thread, NULL);
    close(reg->fd);
    reg->fd = -1;
}

static void registry_init(registry_t *reg, reg_mode_t mode, bool up) {
    memset(reg, 0, sizeof(*reg));
    reg->fd = -1;
    reg->slow_ms = 1000;
    atomic_store(&reg->mode, (int)mode);
    registry_up(reg); /* a port of our own, even when it starts down */
    if (!up)
        registry_down(reg);
}

/* ------------------------------------------------------------------ input */

static size_t put_long(unsigned char *p, int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); /* zig-zag */
    size_t n = 0;
    while (z > 0x7f) {
        p[n++] = (unsigned char)((z & 0x7f) | 0x80);
        z >>= 7;
    }
    p[n++] = (unsigned char)z;
    return n;
}

static size_t put_string(unsigned char *p, const char *s) {
    size_t len = strlen(s);
    size_t n = put_long(p, (int64_t)len);
    memcpy(p + n, s, len);
    return n + len;
}

/* A record of WRITER_SCHEMA in the Confluent framing: magic byte 0, the
 * schema id big-endian, the Avro body. */
static size_t avro_event(unsigned char *out, const char *user, const char *query, int64_t ts) {
    size_t n = 0;
    out[n++] = 0;
    out[n++] = 0;
    out[n++] = 0;
    out[n++] = 0;
    out[n++] = SCHEMA_ID;
    n += put_string(out + n, user);
    n += put_string(out + n, "query");
    n += put_string(out + n, query);
    n += put_long(out + n, ts);
    return n;
}

/* "json" [0, 1]: JSON events; "avro" [0]: JSON events around one Avro
 * record at AVRO_OFFSET. Outputs "out"/"dlq" and "ref.out"/"ref.dlq". */
static mm_test_cluster_t *registry_cluster(void) {
    mm_test_cluster_t *c = mm_test_cluster_new(1);
    static const char *const outs[] = {"out", "dlq", "ref.out", "ref.dlq"};
    mm_test_topic(c, "json", 2);
    mm_test_topic(c, "avro", 1);
    for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++)
        mm_test_topic(c, outs[i], 1);
    for (int p = 0; p < 2; p++)
        mm_test_produce_events(c, "json", p, JSON_PER_PARTITION, true);
    mm_test_produce_events(c, "avro", 0, AVRO_OFFSET, true);
    unsigned char rec[256];
    size_t n = avro_event(rec, "avro-user", "buy running shoes", AVRO_TS);
    mm_test_produce(c, "avro", 0, "avro-user", rec, n);
    mm_test_flush(c);
    mm_test_produce_events(c, "avro", 0, AVRO_PARTITION_RECORDS - AVRO_OFFSET - 1, true);
    ck_assert_int_eq(mm_test_end(c, "avro", 0), AVRO_PARTITION_RECORDS);
    return c;
}

/* One worker for the three partitions, so they share its decoder and its
 * thread; quick commits and registry retries to keep the test short. */
static void registry_conf(mm_engine_conf_t *conf, const registry_t *reg) {
    mm_test_engine_conf(conf, "json:0-1,avro:0");
    conf->workers = 1;
    conf->commit_interval_ms = 50;
    snprintf(conf->registry_url, sizeof(conf->registry_url), "http://127.0.0.1:%d/", reg->port);
    conf->registry_timeout_ms = 300;
    conf->registry_retry_ms = 100;
}

/* The moments of an error-free run (a healthy registry of its own). */
static void reference(mm_test_world_t *w) {
    registry_t healthy;
    registry_init(&healthy, REG_OK, true);
    mm_engine_conf_t conf;
    registry_conf(&conf, &healthy);
    snprintf(conf.output_topic, sizeof(conf.output_topic), "ref.out");
    snprintf(conf.dlq_topic, sizeof(conf.dlq_topic), "ref.dlq");
    mm_test_engine_run_ok(&conf, mm_test_kafka_conf(w->c, "ref"), NULL);
    registry_down(&healthy);
    mm_test_read_topic(w->c, "ref.out", &w->ref);
    ck_assert_uint_eq(w->ref.n, 2 * JSON_PER_PARTITION + AVRO_PARTITION_RECORDS);
}

/* A test's world: the input, the reference moments, the registry (in
 * @p mode; down when !up) and an engine started against it. */
typedef struct reg_world_s {
    mm_test_world_t w;
    registry_t reg;
    mm_engine_t *e;
    int64_t started_ms;
} reg_world_t;

typedef struct stall_s stall_t;
static rd_kafka_resp_err_t stall_on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf,
                                        void *opaque, char *errstr, size_t errstr_size);

static void reg_world_start(reg_world_t *rw, reg_mode_t mode, bool up, int64_t wait_max_ms,
                            stall_t *stall) {
    memset(rw, 0, sizeof(*rw));
    rw->w.c = registry_cluster();
    reference(&rw->w);
    registry_init(&rw->reg, mode, up);
    mm_engine_conf_t conf;
    registry_conf(&conf, &rw->reg);
    conf.registry_wait_max_ms = wait_max_ms;
    mm_test_log_init(&rw->w.log, "g");
    rd_kafka_conf_t *kafka = mm_test_kafka_conf(rw->w.c, "g");
    if (stall)
        mm_test_on_new(kafka, stall_on_new, stall);
    rw->started_ms = mm_test_now_ms();
    rw->e = mm_test_engine_start(&conf, kafka, &rw->w.log, NULL);
}

/* The run ends by itself (exit 0), its outputs are read back. */
static void reg_world_end(reg_world_t *rw) {
    char why[512];
    int code = mm_test_engine_end(rw->e, 10000, why, sizeof(why));
    ck_assert_msg(code == 0, "exit %d: %s\n%s", code, why, rw->w.log.text);
    mm_test_read_outputs(&rw->w);
    ck_assert(mm_test_committed_at_end(rw->w.c, "g", "json", 2));
    ck_assert_int_eq(mm_test_committed(rw->w.c, "g", "avro", 0), AVRO_PARTITION_RECORDS);
}

static void reg_world_free(reg_world_t *rw) {
    mm_engine_destroy(rw->e);
    registry_down(&rw->reg);
    mm_test_world_free(&rw->w);
}

/* @p rs without the moments of the Avro record (and, when @p after, of
 * the records after it in its partition). */
static void without_avro(const mm_test_records_t *rs, bool after, mm_test_records_t *out) {
    out->recs = calloc(rs->n + 1, sizeof(mm_test_record_t));
    out->n = 0;
    for (size_t i = 0; i < rs->n; i++) {
        char topic[64];
        const mm_test_record_t *r = &rs->recs[i];
        mm_test_json_str(r->value, "topic", topic, sizeof(topic));
        int64_t off = mm_test_source_int(r->value, "offset");
        bool skip = strcmp(topic, "avro") == 0 && (after ? off >= AVRO_OFFSET : off == AVRO_OFFSET);
        if (!skip)
            out->recs[out->n++] = *r;
    }
}

/* ------------------------------------------------------------ the waiting */

typedef struct waiting_s {
    mm_test_cluster_t *c;
    mm_engine_t *e;
} waiting_t;

/* The JSON partitions done and committed, the Avro partition committed up
 * to its waiting record and parked there. */
static bool only_avro_waits(void *ctx) {
    waiting_t *w = ctx;
    mm_engine_stats_t st;
    mm_engine_stats(w->e, &st);
    return st.partitions_waiting == 1 && mm_test_committed_at_end(w->c, "g", "json", 2) &&
           mm_test_committed(w->c, "g", "avro", 0) == AVRO_OFFSET;
}

typedef struct avro_part_s {
    bool found, waiting;
    int64_t processed, committed;
} avro_part_t;

static void visit_avro(const mm_engine_partition_t *p, void *ctx) {
    avro_part_t *a = ctx;
    if (strcmp(p->topic, "avro") != 0)
        return;
    a->found = true;
    a->waiting = p->waiting;
    a->processed = p->processed;
    a->committed = p->committed;
}

/* While the registry cannot answer: everything but the Avro partition's
 * tail is delivered and committed, within seconds. */
static void assert_waits_alone(mm_test_cluster_t *c, mm_engine_t *e, mm_test_log_t *log,
                               const mm_test_records_t *ref) {
    waiting_t w = {c, e};
    int64_t t0 = mm_test_now_ms();
    ck_assert_msg(mm_test_wait(only_avro_waits, &w, 5000), "%s", log->text);
    fprintf(stderr, "the JSON partitions were done %" PRId64 " ms after the start\n",
            mm_test_now_ms() - t0);
    avro_part_t a = {0};
    mm_engine_partitions(e, visit_avro, &a);
    ck_assert(a.found && a.waiting);
    ck_assert_int_eq(a.processed, AVRO_OFFSET); /* nothing after it */
    mm_engine_stats_t st;
    mm_engine_stats(e, &st);
    ck_assert_uint_eq(st.partitions_waiting, 1);
    ck_assert_uint_eq(st.records_in, 2 * JSON_PER_PARTITION + AVRO_OFFSET);
    mm_test_records_t out, expected;
    mm_test_read_topic(c, "out", &out);
    without_avro(ref, true, &expected);
    mm_test_assert_same_moments(&out, &expected);
    free(expected.recs);
    mm_test_records_free(&out);
    char line[128];
    snprintf(line, sizeof(line), "avro [0] waits for the schema registry at offset %d",
             AVRO_OFFSET);
    ck_assert_msg(mm_test_log_has(log, line), "%s", log->text);
}

/* Once the registry answers: the run drains with every moment. */
static void assert_drains_whole(reg_world_t *rw) {
    reg_world_end(rw);
    mm_engine_stats_t st;
    mm_engine_stats(rw->e, &st);
    ck_assert_uint_eq(st.partitions_waiting, 0);
    ck_assert(mm_test_log_has(&rw->w.log, "stops waiting for the schema registry"));
    mm_test_assert_same_moments(&rw->w.out, &rw->w.ref);
    ck_assert_uint_eq(rw->w.dlq.n, 0);
}

static bool asked_thrice(void *ctx) {
    registry_t *reg = ctx;
    return atomic_load(&reg->requests) >= 3;
}

/* The registry starts in @p mode (down when !up) and turns healthy once the
 * JSON partitions are done. */
static void outage_then_recovery(reg_mode_t mode, bool up) {
    reg_world_t rw;
    reg_world_start(&rw, mode, up, 0, NULL);
    assert_waits_alone(rw.w.c, rw.e, &rw.w.log, &rw.w.ref);
    if (up) {
        /* The registry is asked again (after a backoff) and the partition
         * keeps waiting meanwhile. */
        ck_assert_msg(mm_test_wait(asked_thrice, &rw.reg, 5000), "%d requests",
                      atomic_load(&rw.reg.requests));
        waiting_t w = {rw.w.c, rw.e};
        ck_assert(only_avro_waits(&w));
    }
    atomic_store(&rw.reg.mode, REG_OK);
    if (!up)
        registry_up(&rw.reg);
    assert_drains_whole(&rw);
    reg_world_free(&rw);
}

START_TEST(test_registry_down_parks_only_its_partition) {
    outage_then_recovery(REG_OK, false);
}
END_TEST

START_TEST(test_registry_slower_than_its_bound_parks_only_its_partition) {
    outage_then_recovery(REG_SLOW, true);
}
END_TEST

static const reg_mode_t garbage[] = {REG_NO_SCHEMA, REG_500, REG_REDIRECT};

START_TEST(test_registry_garbage_is_an_outage_not_a_verdict) {
    outage_then_recovery(garbage[_i], true);
}
END_TEST

/* The run ends by itself with the Avro record a dead letter @p code and
 * every other moment delivered. */
static void dead_letter_case(reg_mode_t mode, bool up, int64_t wait_max_ms, const char *code,
                             int64_t max_run_ms, int requests) {
    reg_world_t rw;
    reg_world_start(&rw, mode, up, wait_max_ms, NULL);
    reg_world_end(&rw);
    int64_t took = mm_test_now_ms() - rw.started_ms;
    ck_assert_msg(took <= max_run_ms, "the run took %" PRId64 " ms", took);
    mm_test_records_t expected;
    without_avro(&rw.w.ref, false, &expected);
    mm_test_assert_same_moments(&rw.w.out, &expected);
    free(expected.recs);
    ck_assert_uint_eq(rw.w.dlq.n, 1);
    char buf[512], num[16];
    const mm_test_record_t *d = &rw.w.dlq.recs[0];
    ck_assert_str_eq(mm_test_header(d, "mm.error.code", buf, sizeof(buf)), code);
    ck_assert_str_eq(mm_test_header(d, "mm.source.topic", buf, sizeof(buf)), "avro");
    snprintf(num, sizeof(num), "%d", AVRO_OFFSET);
    ck_assert_str_eq(mm_test_header(d, "mm.source.offset", buf, sizeof(buf)), num);
    unsigned char rec[256];
    size_t n = avro_event(rec, "avro-user", "buy running shoes", AVRO_TS);
    ck_assert_uint_eq(d->len, n); /* the record, unchanged */
    ck_assert_int_eq(memcmp(d->value, rec, n), 0);
    ck_assert_int_eq(atomic_load(&rw.reg.requests), requests);
    reg_world_free(&rw);
}

START_TEST(test_wait_bound_turns_the_waiting_record_into_a_dead_letter) {
    dead_letter_case(REG_OK, false, 1000, "schema_unavailable", 6000, 0);
}
END_TEST

START_TEST(test_unknown_schema_id_is_a_dead_letter_at_once) {
    /* No wait bound: a 404 is the registry's word on the id, not an
     * outage; it is asked once. */
    dead_letter_case(REG_404, true, 0, "unknown_schema", 5000, 1);
}
END_TEST

/* ------------------------------------------------------- a slow seek */

/*
 * A stalled consumer: while `on` is set, the engine's consumer holds the
 * answer to each of its offset commits in librdkafka's main thread (an
 * on_commit interceptor runs there), as a busy machine that does not
 * schedule that thread would. What the main thread serves meanwhile (a
 * seek) waits. librdkafka asks interceptors not to block; this one does so
 * on purpose, for a bounded time.
 */
struct stall_s {
    _Atomic bool on;
    _Atomic bool holding; /* the main thread is held now */
};

static rd_kafka_resp_err_t stall_commit(rd_kafka_t *rk,
                                        const rd_kafka_topic_partition_list_t *offsets,
                                        rd_kafka_resp_err_t err, void *opaque) {
    (void)rk, (void)offsets, (void)err;
    stall_t *stall = opaque;
    for (int waited = 0; atomic_load(&stall->on) && waited < 5000; waited += 5) {
        atomic_store(&stall->holding, true);
        pause_ms(5);
    }
    atomic_store(&stall->holding, false);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t stall_on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf,
                                        void *opaque, char *errstr, size_t errstr_size) {
    (void)conf, (void)errstr, (void)errstr_size;
    if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER) /* not the workers' producers */
        rd_kafka_interceptor_add_on_commit(rk, "mm-test-stall", stall_commit, opaque);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static bool stall_holding(void *ctx) {
    stall_t *stall = ctx;
    return atomic_load(&stall->holding);
}

static bool asked_once(void *ctx) {
    registry_t *reg = ctx;
    return atomic_load(&reg->requests) >= 1;
}

START_TEST(test_slow_seek_back_to_the_waiting_record_does_not_fail_the_run) {
    /* The registry comes back while the consumer's main thread is slow:
     * the seek back to the waiting record takes half a second. A seek is
     * local and the run's own bound is mm.shutdown.timeout.ms (30 s); the
     * run must wait for it, not fail. (librdkafka 2.0.2 reads
     * rd_kafka_seek_partitions' timeout as microseconds, librdkafka #4230:
     * 30 s there is 30 ms.) */
    static stall_t stall;
    reg_world_t rw;
    reg_world_start(&rw, REG_OK, false, 0, &stall);
    assert_waits_alone(rw.w.c, rw.e, &rw.w.log, &rw.w.ref);
    atomic_store(&stall.on, true); /* the next commit's answer holds it */
    ck_assert_msg(mm_test_wait(stall_holding, &stall, 3000), "no commit answer to hold");
    registry_up(&rw.reg);
    bool asked = mm_test_wait(asked_once, &rw.reg, 5000);
    /* The answer is in; the worker resumes the partition now, and its seek
     * waits behind the held commit answer for this long. */
    pause_ms(500);
    atomic_store(&stall.on, false);
    ck_assert_msg(asked, "the registry was not asked again");
    assert_drains_whole(&rw);
    reg_world_free(&rw);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("engine_registry");
    TCase *to = tcase_create("engine_registry_outage");
    tcase_add_test(to, test_registry_down_parks_only_its_partition);
    tcase_add_test(to, test_registry_slower_than_its_bound_parks_only_its_partition);
    tcase_add_test(to, test_slow_seek_back_to_the_waiting_record_does_not_fail_the_run);
    suite_add_tcase(s, to);
    TCase *tg = tcase_create("engine_registry_garbage");
    tcase_add_loop_test(tg, test_registry_garbage_is_an_outage_not_a_verdict, 0,
                        (int)(sizeof(garbage) / sizeof(garbage[0])));
    suite_add_tcase(s, tg);
    TCase *td = tcase_create("engine_registry_verdicts");
    tcase_add_test(td, test_wait_bound_turns_the_waiting_record_into_a_dead_letter);
    tcase_add_test(td, test_unknown_schema_id_is_a_dead_letter_at_once);
    suite_add_tcase(s, td);
    return s;
}

int main(void) {
    return mm_check_run(suite());
}
