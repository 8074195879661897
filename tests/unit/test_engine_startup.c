/*
 * The engine's start-up checks (issue 14, "fail loudly"): no broker within
 * mm.startup.timeout.ms, a missing output or dead-letter topic, a missing
 * input topic under --exit-on-eof fail the start with exit code 1 and a
 * reason that names what is missing; a missing input topic in a continuous
 * run is an error line and a gauge.
 */
#include <check.h>
#include <string.h>

#include "check_run.h"
#include "engine_harness.h"

/* Starts @p conf on @p c (NULL: no broker at all); @returns whether the
 * start succeeded, with the exit code, the reason and the time it took. */
typedef struct start_s {
    bool started;
    int code;
    char why[512];
    int64_t took_ms;
} start_t;

static void try_start(mm_test_cluster_t *c, const mm_engine_conf_t *conf, mm_test_log_t *log,
                      start_t *out) {
    mm_engine_t *e = mm_test_engine_new(conf, mm_test_kafka_conf(c, "g"), log, NULL);
    int64_t t0 = mm_test_now_ms();
    out->started = mm_engine_start(e);
    out->took_ms = mm_test_now_ms() - t0;
    if (out->started)
        mm_engine_stop(e);
    out->code = mm_test_engine_end(e, 10000, out->why, sizeof(out->why));
    mm_engine_destroy(e);
}

static mm_test_cluster_t *cluster_with(const char *const *topics, size_t n) {
    mm_test_cluster_t *c = mm_test_cluster_new(1);
    for (size_t i = 0; i < n; i++)
        mm_test_topic(c, topics[i], 1);
    return c;
}

START_TEST(test_no_broker_fails_start_within_the_bound_naming_it) {
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, "in:0");
    conf.startup_timeout_ms = 1000;
    mm_test_log_t log;
    mm_test_log_init(&log, "start");
    start_t st;
    try_start(NULL, &conf, &log, &st); /* bootstrap.servers=127.0.0.1:1 */
    ck_assert(!st.started);
    ck_assert_int_le(st.took_ms, 3000); /* the bound and a second for a busy machine */
    ck_assert_int_ge(st.took_ms, 900);
    ck_assert_int_eq(st.code, 1);
    ck_assert_msg(strstr(st.why, "127.0.0.1:1") != NULL, "%s", st.why);
    ck_assert_msg(strstr(st.why, "mm.startup.timeout.ms") != NULL, "%s", st.why);
    mm_test_log_free(&log);
}
END_TEST

/* A topic the run needs is not there: exit 1 at once, naming it. An input
 * topic is needed under --exit-on-eof (the run could never reach its end),
 * as a subscription or as named partitions. */
static const struct {
    const char *inputs;
    const char *topics[3]; /* those that exist */
    const char *why;
} missing[] = {
    {"in:0", {"in", "dlq"}, "the output topic 'out' does not exist"},
    {"in:0", {"in", "out"}, "the dead-letter topic 'dlq' does not exist"},
    {"nosuch", {"in", "out", "dlq"}, "the input topic 'nosuch' does not exist"},
    {"nosuch:0", {"in", "out", "dlq"}, "the input topic 'nosuch' does not exist"},
};

START_TEST(test_missing_topic_fails_start_naming_it) {
    size_t n = 0;
    while (n < 3 && missing[_i].topics[n])
        n++;
    mm_test_cluster_t *c = cluster_with(missing[_i].topics, n);
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, missing[_i].inputs);
    mm_test_log_t log;
    mm_test_log_init(&log, "start");
    start_t st;
    try_start(c, &conf, &log, &st);
    ck_assert(!st.started);
    ck_assert_int_eq(st.code, 1);
    ck_assert_msg(strstr(st.why, missing[_i].why) != NULL, "%s", st.why);
    ck_assert_int_le(st.took_ms, 5000); /* at once, not mm.startup.timeout.ms (30 s) */
    mm_test_log_free(&log);
    mm_test_cluster_destroy(c);
}
END_TEST

START_TEST(test_missing_input_topic_in_a_continuous_run_is_an_error_and_a_gauge) {
    static const char *const topics[] = {"in", "out", "dlq"};
    mm_test_cluster_t *c = cluster_with(topics, 3);
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, "in,nosuch");
    conf.exit_on_eof = false;
    mm_test_log_t log;
    mm_test_log_init(&log, "start");
    mm_engine_t *e = mm_test_engine_start(&conf, mm_test_kafka_conf(c, "g"), &log, NULL);
    mm_engine_stats_t st;
    mm_engine_stats(e, &st);
    ck_assert_uint_eq(st.input_topics_missing, 1);
    ck_assert_msg(mm_test_log_has(&log, "input topic 'nosuch' does not exist"), "%s", log.text);
    mm_engine_stop(e);
    char why[512];
    ck_assert_int_eq(mm_test_engine_end(e, 10000, why, sizeof(why)), 0);
    mm_engine_destroy(e);
    mm_test_log_free(&log);
    mm_test_cluster_destroy(c);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("engine_startup");
    TCase *tc = tcase_create("engine_startup");
    tcase_add_test(tc, test_no_broker_fails_start_within_the_bound_naming_it);
    tcase_add_loop_test(tc, test_missing_topic_fails_start_naming_it, 0,
                        (int)(sizeof(missing) / sizeof(missing[0])));
    tcase_add_test(tc, test_missing_input_topic_in_a_continuous_run_is_an_error_and_a_gauge);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return mm_check_run(suite());
}
