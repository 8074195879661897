/* mm.input.topics: topics for the group, or partitions named outright. */
#include <check.h>

#include "check_run.h"

#include "app/config.h"

static mm_config_t cfg;
static char errstr[512];

static rd_kafka_topic_partition_list_t *parse(const char *topics, mm_conf_res_t want) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    ck_assert(mm_config_init(&cfg));
    snprintf(cfg.engine.input_topics, sizeof(cfg.engine.input_topics), "%s", topics);
    errstr[0] = 0;
    ck_assert_int_eq(mm_config_input_partitions(&cfg, &parts, errstr, sizeof(errstr)), want);
    mm_config_destroy(&cfg);
    return parts;
}

START_TEST(test_plain_topics_mean_the_group) {
    ck_assert_ptr_null(parse("events", MM_CONF_OK));
    ck_assert_ptr_null(parse("events,clicks", MM_CONF_OK));
}
END_TEST

START_TEST(test_named_partitions_and_ranges) {
    rd_kafka_topic_partition_list_t *p = parse("events:0-2,clicks:7", MM_CONF_OK);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->cnt, 4);
    ck_assert_str_eq(p->elems[0].topic, "events");
    ck_assert_int_eq(p->elems[0].partition, 0);
    ck_assert_int_eq(p->elems[2].partition, 2);
    ck_assert_str_eq(p->elems[3].topic, "clicks");
    ck_assert_int_eq(p->elems[3].partition, 7);
    /* the group's committed offset, else auto.offset.reset */
    ck_assert_int_eq(p->elems[3].offset, RD_KAFKA_OFFSET_STORED);
    rd_kafka_topic_partition_list_destroy(p);
}
END_TEST

START_TEST(test_bad_entries_name_the_key_and_the_entry) {
    static const char *const bad[] = {"events:",   "events:x", "events:3-1", ":3",
                                      "events:-1", "events:1-", "events:99999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_ptr_null(parse(bad[i], MM_CONF_INVALID));
        ck_assert_msg(strstr(errstr, "mm.input.topics") && strstr(errstr, bad[i]),
                      "%s: %s", bad[i], errstr);
    }
}
END_TEST

START_TEST(test_mixing_the_two_forms_is_refused) {
    ck_assert_ptr_null(parse("events:0,clicks", MM_CONF_INVALID));
    ck_assert_ptr_nonnull(strstr(errstr, "mixes"));
}
END_TEST

START_TEST(test_partition_count_is_bounded) {
    ck_assert_ptr_null(parse("events:0-70000", MM_CONF_INVALID));
    ck_assert_ptr_nonnull(strstr(errstr, "more than"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("input_topics");
    tcase_add_test(tc, test_plain_topics_mean_the_group);
    tcase_add_test(tc, test_named_partitions_and_ranges);
    tcase_add_test(tc, test_bad_entries_name_the_key_and_the_entry);
    tcase_add_test(tc, test_mixing_the_two_forms_is_refused);
    tcase_add_test(tc, test_partition_count_is_bounded);
    suite_add_tcase(s, tc);
    return mm_check_run(s);
}
