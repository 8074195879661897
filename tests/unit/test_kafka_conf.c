/* mm_kafka_conf_default: our defaults fill in only what the user left. */
#include <check.h>

#include "check_run.h"
#include <stdlib.h>
#include <string.h>

#include "sinks/sinks.h"

static const char *get(rd_kafka_conf_t *conf, const char *key) {
    static char value[256];
    size_t size = sizeof(value);
    if (rd_kafka_conf_get(conf, key, value, &size) != RD_KAFKA_CONF_OK)
        return "(unset)";
    return value;
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char errstr[256];
    ck_assert_int_eq(rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
}

START_TEST(test_default_fills_an_unset_global_key) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    mm_kafka_conf_default(conf, NULL, "group.id", "micromoment");
    ck_assert_str_eq(get(conf, "group.id"), "micromoment");
    rd_kafka_conf_destroy(conf);
}
END_TEST

START_TEST(test_user_global_key_wins) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "group.id", "mine");
    mm_kafka_conf_default(conf, NULL, "group.id", "micromoment");
    ck_assert_str_eq(get(conf, "group.id"), "mine");
    rd_kafka_conf_destroy(conf);
}
END_TEST

/* The bug this guards: a topic-level key does not read back from a fresh
 * global configuration, which once made our default never apply. */
START_TEST(test_default_fills_an_unset_topic_key) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    mm_kafka_conf_default(conf, NULL, "auto.offset.reset", "earliest");
    ck_assert_str_eq(get(conf, "auto.offset.reset"), "smallest");
    rd_kafka_conf_destroy(conf);
}
END_TEST

START_TEST(test_user_topic_key_wins) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "auto.offset.reset", "latest");
    mm_kafka_conf_default(conf, NULL, "auto.offset.reset", "earliest");
    ck_assert_str_eq(get(conf, "auto.offset.reset"), "largest");
    rd_kafka_conf_destroy(conf);
}
END_TEST

/* The bug this guards: linger.ms=5 and message.max.bytes=1000000 are
 * librdkafka's own defaults, so by value alone a user's explicit setting
 * looked unset and was replaced by ours. */
START_TEST(test_listed_key_wins_at_librdkafkas_default) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "linger.ms", "5");
    mm_kafka_conf_default(conf, ",acks,linger.ms,", "linger.ms", "50");
    ck_assert_str_eq(get(conf, "linger.ms"), "5");
    mm_kafka_conf_default(conf, ",linger.ms.x,", "linger.ms", "50");
    ck_assert_str_eq(get(conf, "linger.ms"), "50"); /* a longer key's name is not this one */
    rd_kafka_conf_destroy(conf);
}
END_TEST

int main(void) {
    Suite *s = suite_create("kafka_conf");
    TCase *tc = tcase_create("kafka_conf_default");
    tcase_add_test(tc, test_default_fills_an_unset_global_key);
    tcase_add_test(tc, test_user_global_key_wins);
    tcase_add_test(tc, test_default_fills_an_unset_topic_key);
    tcase_add_test(tc, test_user_topic_key_wins);
    tcase_add_test(tc, test_listed_key_wins_at_librdkafkas_default);
    suite_add_tcase(s, tc);
    return mm_check_run(s);
}
