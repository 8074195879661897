/* librdkafka's statistics JSON into mm_kafka_broker_rtt_seconds: one series
 * per broker node id, whatever else the document holds. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"

#include "app/kafka_stats.h"

/* The shape librdkafka 2.0.2 emits, trimmed: the logical coordinator
 * entry repeats a broker's node id and host:port (the duplicate series this
 * replaced), a bootstrap entry may stand beside the learned one. */
static const char stats[] =
    "{\"name\":\"rdkafka#consumer-1\",\"type\":\"consumer\",\"ts\":1,"
    "\"brokers\":{"
    "\"127.0.0.1:9092/bootstrap\":{\"name\":\"127.0.0.1:9092/bootstrap\",\"nodeid\":-1,"
    "\"nodename\":\"127.0.0.1:9092\",\"source\":\"configured\",\"state\":\"UP\","
    "\"rtt\":{\"min\":10,\"max\":90,\"avg\":40,\"p99\":90},\"toppars\":{}},"
    "\"127.0.0.1:9092/1\":{\"name\":\"127.0.0.1:9092/1\",\"nodeid\":1,"
    "\"nodename\":\"127.0.0.1:9092\",\"source\":\"learned\","
    "\"int_latency\":{\"avg\":7},\"rtt\":{\"min\":100,\"max\":900,\"avg\":250},"
    "\"toppars\":{\"t-0\":{\"topic\":\"t\",\"partition\":0}}},"
    "\"127.0.0.1:9093/2\":{\"nodename\":\"127.0.0.1:9093\",\"nodeid\":2,\"source\":\"configured\","
    "\"rtt\":{\"avg\":1500000,\"cnt\":3},\"req\":[1,2.5e3,\"x\\\"y\",null,true]},"
    "\"127.0.0.1:9093/again\":{\"nodeid\":2,\"nodename\":\"127.0.0.1:9093\","
    "\"source\":\"learned\",\"rtt\":{\"avg\":7}},"
    "\"GroupCoordinator\":{\"name\":\"GroupCoordinator\",\"nodeid\":2,"
    "\"nodename\":\"127.0.0.1:9092\",\"source\":\"logical\",\"rtt\":{\"avg\":5}}"
    "},\"topics\":{},\"cgrp\":{\"state\":\"up\"}}";

typedef struct doc_s {
    const char *json;
    size_t len;
} doc_t;

static void collect(mm_metrics_writer_t *w, void *ctx) {
    const doc_t *d = ctx;
    mm_kafka_stats_broker_rtts(w, "consumer", d->json, d->len);
}

static char *render(const char *json, size_t len) {
    doc_t d = {json, len};
    char err[256];
    size_t n = 0;
    char *text = mm_metrics_render(collect, &d, &n, err, sizeof(err));
    ck_assert_msg(text != NULL, "%s", err);
    return text;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

START_TEST(test_one_series_per_node_id) {
    char *text = render(stats, sizeof(stats) - 1);
    ck_assert_int_eq(count(text, "mm_kafka_broker_rtt_seconds{"), 2);
    ck_assert_msg(strstr(text, "mm_kafka_broker_rtt_seconds{client=\"consumer\",broker_id=\"1\","
                               "broker=\"127.0.0.1:9092\"} 0.00025\n"), "%s", text);
    ck_assert_msg(strstr(text, "{client=\"consumer\",broker_id=\"2\","
                               "broker=\"127.0.0.1:9093\"} 1.5\n"), "%s", text);
    free(text);
}
END_TEST

START_TEST(test_malformed_or_cut_documents_write_nothing_wrong) {
    /* Cut anywhere: never read past len, never a half series. */
    for (size_t len = 0; len < sizeof(stats) - 1; len += 7) {
        char *cut = malloc(len ? len : 1);
        memcpy(cut, stats, len);
        char *text = render(cut, len);
        ck_assert_int_le(count(text, "mm_kafka_broker_rtt_seconds{"), 2);
        free(text);
        free(cut);
    }
    static const char *const bad[] = {"", "[]", "{\"brokers\":[1,2]}", "{\"brokers\":{\"a\":7}}",
                                      "{\"brokers\":{\"a\":{\"nodeid\":\"1\",\"rtt\":{\"avg\":1}}}}",
                                      "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *text = render(bad[i], strlen(bad[i]));
        ck_assert_msg(!strstr(text, "mm_kafka_broker_rtt_seconds{"), "bad[%zu] %s: %s", i, bad[i], text);
        free(text);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("kafka_stats");
    TCase *tc = tcase_create("broker_rtt");
    tcase_add_test(tc, test_one_series_per_node_id);
    tcase_add_test(tc, test_malformed_or_cut_documents_write_nothing_wrong);
    suite_add_tcase(s, tc);
    return mm_check_run(s);
}
