/* mm.input.topics: topics for the group, or partitions named outright.
 * Configuration files, the checks made before start, --print-config. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

/* ---- files, checks before start, --print-config ---- */

static char tmpdir[] = "/tmp/mm-test-config.XXXXXX";

static const char *write_bytes(const char *name, const char *bytes, size_t len) {
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(bytes, 1, len, fp), len);
    fclose(fp);
    return path;
}
static const char *write_file(const char *name, const char *text) {
    return write_bytes(name, text, strlen(text));
}

static mm_conf_res_t load(const char *path) {
    ck_assert(mm_config_init(&cfg));
    errstr[0] = 0;
    mm_conf_res_t res = mm_config_load_file(&cfg, path, errstr, sizeof(errstr));
    mm_config_destroy(&cfg);
    return res;
}

static void setup_files(void) { ck_assert_ptr_nonnull(mkdtemp(tmpdir)); }
static void teardown_files(void) {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mm-test-config.XXXXXX");
}

START_TEST(test_directory_is_not_a_config_file) {
    ck_assert_int_eq(load(tmpdir), MM_CONF_INVALID);
    ck_assert_msg(strstr(errstr, "is a directory"), "%s", errstr);
}
END_TEST

START_TEST(test_endless_file_is_refused_at_the_bound) {
    ck_assert_int_eq(load("/dev/zero"), MM_CONF_INVALID);
    ck_assert_msg(strstr(errstr, "/dev/zero") && strstr(errstr, "larger than"), "%s", errstr);
}
END_TEST

START_TEST(test_long_line_keeps_line_numbers_right) {
    char *text = malloc(20000);
    ck_assert_ptr_nonnull(text);
    memset(text, 'x', 12000);
    memcpy(text, "# ", 2);
    snprintf(text + 12000, 8000, "\nmm.output.topic=%0300d\nno equals sign here\n", 0);
    ck_assert_int_eq(load(write_file("long.conf", text)), MM_CONF_INVALID);
    free(text);
    /* line 2's value is too long for the key; it is named with its line */
    ck_assert_msg(strstr(errstr, "long.conf:2: mm.output.topic"), "%s", errstr);
    ck_assert_int_eq(load(write_file("long2.conf", "# x\n\nmm.workers=3\nnot a key\n")),
                     MM_CONF_INVALID);
    ck_assert_msg(strstr(errstr, "long2.conf:4: expected KEY=VALUE"), "%s", errstr);
}
END_TEST

START_TEST(test_errors_never_quote_the_file) {
    ck_assert_int_eq(load(write_file("shadow", "root:$6$hunter2hash:19000:0:99999:7:::\n")),
                     MM_CONF_INVALID);
    ck_assert_msg(strstr(errstr, "shadow:1:") && !strstr(errstr, "hunter2"), "%s", errstr);
    ck_assert_int_eq(load(write_bytes("nul", "mm.workers=2\n\0hunter2\n", 22)), MM_CONF_INVALID);
    ck_assert_msg(strstr(errstr, "nul:2: a NUL byte") && !strstr(errstr, "hunter2"), "%s",
                  errstr);
}
END_TEST

/* Sets key=value pairs, then mm_config_finish(). */
static mm_conf_res_t finish_with(const char *const *kv) {
    ck_assert(mm_config_init(&cfg));
    ck_assert_int_eq(mm_config_set(&cfg, "bootstrap.servers", "127.0.0.1:1", errstr,
                                   sizeof(errstr)), MM_CONF_OK);
    for (size_t i = 0; kv[i]; i += 2)
        ck_assert_msg(mm_config_set(&cfg, kv[i], kv[i + 1], errstr, sizeof(errstr)) ==
                          MM_CONF_OK, "%s", errstr);
    errstr[0] = 0;
    mm_conf_res_t res = mm_config_finish(&cfg, errstr, sizeof(errstr));
    mm_config_destroy(&cfg);
    return res;
}
#define KV(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct {
    const char *key, *value, *needle;
} bad_before_start[] = {
    {"mm.metrics.listen", "nonsense", "mm.metrics.listen"},
    {"mm.metrics.listen", "127.0.0.1:99999", "mm.metrics.listen"},
    {"mm.schema.registry.url", "file:///etc/passwd", "mm.schema.registry.url"},
    {"mm.lexicon.dir", "/etc/passwd", "not a directory"},
    {"mm.lexicon.dir", "/nonexistent/lexicons", "mm.lexicon.dir"},
    {"mm.schema.registry.ssl.ca.location", "/nonexistent.pem", "ssl.ca.location"},
    {"mm.schema.reader.path", "/", "mm.schema.reader.path"},
};

START_TEST(test_known_bad_values_fail_before_start) {
    ck_assert_int_eq(finish_with(KV(bad_before_start[_i].key, bad_before_start[_i].value)),
                     MM_CONF_INVALID);
    ck_assert_msg(strstr(errstr, bad_before_start[_i].needle), "%s", errstr);
}
END_TEST

/* The bug this guards: message.max.bytes written out at librdkafka's own
 * default looked unset, so a record bound above it was accepted (exit 0)
 * and a record that size could never be dead-lettered. */
START_TEST(test_record_bounds_disagree_at_librdkafkas_default) {
    const char *record = "mm.max.record.bytes", *message = "message.max.bytes";
    ck_assert_int_eq(finish_with(KV(record, "2000000", message, "1000000")), MM_CONF_INVALID);
    ck_assert_msg(strstr(errstr, "mm.max.record.bytes=2000000") &&
                      strstr(errstr, "message.max.bytes=1000000"), "%s", errstr);
    ck_assert_int_eq(finish_with(KV(record, "2000000", message, "1500000")), MM_CONF_INVALID);
    ck_assert_int_eq(finish_with(KV(record, "2000000", message, "2065536")), MM_CONF_OK);
    ck_assert_int_eq(finish_with(KV(record, "2000000")), MM_CONF_OK); /* the other follows */
}
END_TEST

START_TEST(test_registry_credentials_come_from_one_source) {
    const char *src = "mm.schema.registry.basic.auth.credentials.source";
    const char *info = "mm.schema.registry.basic.auth.user.info";
    const char *url = "mm.schema.registry.url";
    ck_assert_int_eq(finish_with(KV(url, "http://u:p@r:8081")), MM_CONF_OK);
    ck_assert_int_eq(finish_with(KV(url, "http://r:8081", src, "USER_INFO", info, "u:p")),
                     MM_CONF_OK);
    ck_assert_int_eq(finish_with(KV(url, "http://r:8081", src, "USER_INFO")), MM_CONF_INVALID);
    ck_assert_int_eq(finish_with(KV(url, "http://u:p@r:8081", src, "USER_INFO", info, "u:p")),
                     MM_CONF_INVALID);
    ck_assert_msg(!strstr(errstr, "u:p"), "%s", errstr);
    ck_assert_int_eq(finish_with(KV(url, "http://r:8081", info, "u:p")), MM_CONF_INVALID);
    ck_assert_msg(strstr(errstr, "USER_INFO"), "%s", errstr);
}
END_TEST

START_TEST(test_avro_output_without_id_needs_a_registry) {
    ck_assert_int_eq(finish_with(KV("mm.output.format", "avro")), MM_CONF_INVALID);
    ck_assert_msg(strstr(errstr, "mm.output.schema.id"), "%s", errstr);
    ck_assert_int_eq(finish_with(KV("mm.output.format", "avro", "mm.schema.registry.url",
                                    "http://r:8081")), MM_CONF_OK);
}
END_TEST

static char *printed(const char *const *kv) {
    ck_assert(mm_config_init(&cfg));
    for (size_t i = 0; kv[i]; i += 2)
        ck_assert_msg(mm_config_set(&cfg, kv[i], kv[i + 1], errstr, sizeof(errstr)) ==
                          MM_CONF_OK, "%s", errstr);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    mm_config_print(&cfg, out);
    fclose(out);
    mm_config_destroy(&cfg);
    return text;
}

START_TEST(test_print_masks_credentials_everywhere) {
    char *text = printed(KV("mm.schema.registry.url", "https://alice:s3cret@r:8081/x",
                            "mm.schema.registry.basic.auth.user.info", "bob:hunter2",
                            "sasl.password", "pw123"));
    ck_assert_msg(!strstr(text, "s3cret") && !strstr(text, "alice") &&
                      !strstr(text, "hunter2") && !strstr(text, "pw123"), "%s", text);
    ck_assert_msg(strstr(text, "mm.schema.registry.url=https://[masked]@r:8081/x\n"), "%s",
                  text);
    ck_assert_msg(strstr(text, "mm.schema.registry.basic.auth.user.info=[masked]\n"), "%s",
                  text);
    free(text);
}
END_TEST

START_TEST(test_print_names_bootstrap_servers_and_the_group) {
    char *text = printed(KV("bootstrap.servers", "k1:9092"));
    ck_assert_msg(strstr(text, "\nbootstrap.servers=k1:9092\n"), "%s", text);
    ck_assert_msg(!strstr(text, "metadata.broker.list"), "%s", text);
    ck_assert_msg(strstr(text, "\ngroup.id=micromoment\n"), "%s", text);
    free(text);
    text = printed(KV("group.id", "g7"));
    ck_assert_msg(strstr(text, "\ngroup.id=g7\n"), "%s", text);
    free(text);
}
END_TEST

START_TEST(test_url_mask) {
    static const char *const rows[][2] = {
        {"http://u:p@h:8081", "http://[masked]@h:8081"},
        {"https://h:8081/a@b", "https://[masked]@b"}, /* an '@' in a path masks too much, never too little */
        {"http://u:p@ss/w@h:1/x?y=@", "http://[masked]@h:1/x?y=@"},
        {"http://h:8081", "http://h:8081"},
        {"h:8081", "h:8081"},
        {"", ""},
    };
    char out[128];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        ck_assert_str_eq(mm_url_mask(rows[i][0], out, sizeof(out)), rows[i][1]);
}
END_TEST

/* ------------------------------------------------------ mm.output.fields */

START_TEST(test_output_fields_sets_the_omitted_fields) {
    ck_assert(mm_config_init(&cfg));
    ck_assert_uint_eq(cfg.engine.output_omit, 0); /* default: the full record */
    ck_assert_int_eq(mm_config_set(&cfg, "mm.output.fields", "scores,detected_ts", errstr,
                                   sizeof(errstr)),
                     MM_CONF_OK);
    ck_assert_uint_ne(cfg.engine.output_omit & MM_MOMENT_F_BIT(STRATEGY), 0);
    ck_assert_uint_eq(cfg.engine.output_omit & MM_MOMENT_F_BIT(SCORES), 0);
    ck_assert_uint_eq(cfg.engine.output_omit & MM_MOMENT_FIELDS_REQUIRED, 0);
    mm_config_destroy(&cfg);
}
END_TEST

START_TEST(test_bad_output_fields_is_invalid_naming_the_key) {
    ck_assert(mm_config_init(&cfg));
    ck_assert_int_eq(mm_config_set(&cfg, "mm.output.fields", "scores,nope", errstr,
                                   sizeof(errstr)),
                     MM_CONF_INVALID);
    ck_assert_msg(strstr(errstr, "mm.output.fields") && strstr(errstr, "'nope'"), "%s",
                  errstr);
    mm_config_destroy(&cfg);
}
END_TEST

START_TEST(test_lean_output_with_avro_is_refused) {
    ck_assert(mm_config_init(&cfg));
    ck_assert_int_eq(mm_config_set(&cfg, "bootstrap.servers", "localhost:9092", errstr,
                                   sizeof(errstr)),
                     MM_CONF_OK);
    ck_assert_int_eq(mm_config_set(&cfg, "mm.output.format", "avro", errstr, sizeof(errstr)),
                     MM_CONF_OK);
    ck_assert_int_eq(mm_config_set(&cfg, "mm.output.schema.id", "7", errstr, sizeof(errstr)),
                     MM_CONF_OK);
    ck_assert_int_eq(mm_config_finish(&cfg, errstr, sizeof(errstr)), MM_CONF_OK);
    ck_assert_int_eq(mm_config_set(&cfg, "mm.output.fields", "moment", errstr,
                                   sizeof(errstr)),
                     MM_CONF_OK);
    ck_assert_int_eq(mm_config_finish(&cfg, errstr, sizeof(errstr)), MM_CONF_INVALID);
    ck_assert_msg(strstr(errstr, "mm.output.fields") && strstr(errstr, "JSON only"), "%s",
                  errstr);
    mm_config_destroy(&cfg);
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
    tc = tcase_create("files_and_checks");
    tcase_add_checked_fixture(tc, setup_files, teardown_files);
    tcase_add_test(tc, test_directory_is_not_a_config_file);
    tcase_add_test(tc, test_endless_file_is_refused_at_the_bound);
    tcase_add_test(tc, test_long_line_keeps_line_numbers_right);
    tcase_add_test(tc, test_errors_never_quote_the_file);
    tcase_add_loop_test(tc, test_known_bad_values_fail_before_start, 0,
                        (int)(sizeof(bad_before_start) / sizeof(bad_before_start[0])));
    tcase_add_test(tc, test_record_bounds_disagree_at_librdkafkas_default);
    tcase_add_test(tc, test_registry_credentials_come_from_one_source);
    tcase_add_test(tc, test_avro_output_without_id_needs_a_registry);
    suite_add_tcase(s, tc);
    tc = tcase_create("print_config");
    tcase_add_test(tc, test_print_masks_credentials_everywhere);
    tcase_add_test(tc, test_print_names_bootstrap_servers_and_the_group);
    tcase_add_test(tc, test_url_mask);
    suite_add_tcase(s, tc);
    tc = tcase_create("output_fields");
    tcase_add_test(tc, test_output_fields_sets_the_omitted_fields);
    tcase_add_test(tc, test_bad_output_fields_is_invalid_naming_the_key);
    tcase_add_test(tc, test_lean_output_with_avro_is_refused);
    suite_add_tcase(s, tc);
    return mm_check_run(s);
}
