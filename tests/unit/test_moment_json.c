/*
 * mm_moment_to_json and mm_explain_to_json: the contract's exact shape and
 * field order (docs/events.md, Output), only the signal parts present,
 * nulls for absent fields, valid JSON always, and 0 (with nothing written
 * past cap) when the buffer is short. Moments are built by hand: no
 * classifier needed.
 */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/consumer.h"
#include "sinks/sinks.h"

static mm_event_t ev;
static mm_moment_t mo;
/* The English go row, as the classifier would point the moment at it. */
static mm_strategy_t go_strategy = {
    "find options nearby", "local listings, maps, directions, reviews, opening hours",
    "minutes to hours", NULL};
static char out[4096];

/** The contract example's event and moment. */
static void contract_example(void) {
    mm_event_init(&ev);
    ev.type = MM_EVENT_QUERY;
    ev.event_id = MM_STR_LIT("e-17");
    ev.user_id = MM_STR_LIT("u42");
    ev.session_id = MM_STR_LIT("s9");
    ev.ts = 1763900000000LL;
    ev.has_ts = true;
    ev.query = MM_STR_LIT("coffee near me");
    ev.device = MM_STR_LIT("mobile");
    ev.channel = MM_STR_LIT("search");
    ev.source = (mm_source_t){MM_STR_LIT("events"), 3, 1234};
    memset(&mo, 0, sizeof(mo));
    mo.type = MM_MOMENT_GO;
    go_strategy.offer = NULL;
    mo.strategy = &go_strategy;
    mo.confidence = 0.91f;
    mo.scores[MM_MOMENT_KNOW] = 0.12f;
    mo.scores[MM_MOMENT_GO] = 0.91f;
    mo.scores[MM_MOMENT_DO] = 0.0f;
    mo.scores[MM_MOMENT_BUY] = 0.08f;
    mo.stage = MM_STAGE_DECISION;
    mo.local_hour = 12;
    mo.event = &ev;
    mo.n_signals = 2;
    mo.signals[0] = (mm_signal_t){.name = "keyword",
                                  .value = MM_STR_LIT("near me"),
                                  .lang = "en"};
    mo.signals[1] = (mm_signal_t){.name = "location_burst",
                                  .count = 4,
                                  .has_count = true,
                                  .window_ms = 600000,
                                  .has_window = true};
}

/** out[0, n) as a string, asserting it is a whole, valid encoding. */
static const char *finished(size_t n) {
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_lt(n, sizeof(out));
    out[n] = '\0';
    ck_assert_msg(mm_json_valid(out, n, 16), "invalid JSON: %s", out);
    return out;
}

static const char *encode(void) {
    return finished(mm_moment_to_json(&mo, 1763900000004LL, out, sizeof(out)));
}

START_TEST(test_contract_example_is_byte_exact) {
    char id[MM_MOMENT_ID_LEN + 1], want[2048];
    contract_example();
    mm_moment_id(&mo, id);
    snprintf(
        want, sizeof(want),
        "{\"moment_id\":\"%s\",\"moment\":\"go\",\"confidence\":0.91,"
        "\"scores\":{\"know\":0.12,\"go\":0.91,\"do\":0,\"buy\":0.08},"
        "\"signals\":[{\"name\":\"keyword\",\"value\":\"near me\","
        "\"lang\":\"en\"},{\"name\":\"location_burst\",\"count\":4,"
        "\"window_ms\":600000}],"
        "\"user_id\":\"u42\",\"session_id\":\"s9\",\"event_id\":\"e-17\","
        "\"event_ts\":1763900000000,\"detected_ts\":1763900000004,"
        "\"journey_stage\":\"decision\","
        "\"strategy\":{\"goal\":\"find options nearby\",\"content\":\"local "
        "listings, maps, directions, reviews, opening hours\","
        "\"horizon\":\"minutes to hours\"},"
        "\"context\":{\"device\":\"mobile\",\"channel\":\"search\","
        "\"local_hour\":12},"
        "\"source\":{\"topic\":\"events\",\"partition\":3,\"offset\":1234}}",
        id);
    ck_assert_str_eq(encode(), want);
}
END_TEST

START_TEST(test_moment_id_is_32_hex_and_stable) {
    char a[MM_MOMENT_ID_LEN + 1], b[MM_MOMENT_ID_LEN + 1];
    contract_example();
    mm_moment_id(&mo, a);
    mm_moment_id(&mo, b);
    ck_assert_str_eq(a, b);
    ck_assert_uint_eq(strspn(a, "0123456789abcdef"), MM_MOMENT_ID_LEN);
    ev.source.offset++;
    mm_moment_id(&mo, b);
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_absent_fields_are_null) {
    contract_example();
    ev.session_id = (mm_str_t){NULL, 0};
    ev.event_id = (mm_str_t){NULL, 0};
    ev.device = (mm_str_t){NULL, 0};
    ev.channel = (mm_str_t){NULL, 0};
    ev.has_ts = false;
    mo.local_hour = -1;
    const char *j = encode();
    ck_assert_ptr_nonnull(strstr(j, "\"session_id\":null,\"event_id\":null,"
                                    "\"event_ts\":null,"));
    ck_assert_ptr_nonnull(strstr(
        j, "\"context\":{\"device\":null,\"channel\":null,\"local_hour\":null}"));
}
END_TEST

/* ------------------------------------------------------ lean output */

static const char *encode_fields(uint32_t omit) {
    return finished(mm_moment_to_json_fields(&mo, 1763900000004LL, omit, out, sizeof(out)));
}

START_TEST(test_no_omission_is_the_full_record) {
    char full[4096];
    contract_example();
    snprintf(full, sizeof(full), "%s", encode());
    ck_assert_str_eq(encode_fields(0), full);
}
END_TEST

START_TEST(test_full_record_keys_are_the_field_list_in_order) {
    /* The walk's keys and MM_MOMENT_FIELD_MAP (what mm.output.fields names)
     * are one list: every top-level key, in the same order. */
    static const char *const names[] = {
#define NAME(id, name, required) name,
        MM_MOMENT_FIELD_MAP(NAME)
#undef NAME
    };
    contract_example();
    mo.late = true; /* late and lateness_ms are written only then */
    mo.lateness_ms = 90000;
    const char *j = encode();
    const char *at = j;
    for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
        char key[64];
        snprintf(key, sizeof(key), "%s\"%s\":", f ? "," : "{", names[f]);
        const char *hit = strstr(at, key);
        ck_assert_msg(hit != NULL, "%s missing or out of order in %s", names[f], j);
        at = hit + 1;
    }
}
END_TEST

START_TEST(test_lean_output_has_the_listed_and_required_fields_only) {
    char id[MM_MOMENT_ID_LEN + 1], want[1024];
    uint32_t omit;
    char why[256];
    ck_assert(mm_moment_fields_parse("confidence, journey_stage", &omit, why, sizeof(why)));
    contract_example();
    mm_moment_id(&mo, id);
    snprintf(want, sizeof(want),
             "{\"moment_id\":\"%s\",\"moment\":\"go\",\"confidence\":0.91,"
             "\"user_id\":\"u42\",\"journey_stage\":\"decision\","
             "\"source\":{\"topic\":\"events\",\"partition\":3,\"offset\":1234}}",
             id);
    ck_assert_str_eq(encode_fields(omit), want);
}
END_TEST

START_TEST(test_required_fields_cannot_be_left_out) {
    char id[MM_MOMENT_ID_LEN + 1], want[1024];
    contract_example();
    mm_moment_id(&mo, id);
    snprintf(want, sizeof(want),
             "{\"moment_id\":\"%s\",\"moment\":\"go\",\"user_id\":\"u42\","
             "\"source\":{\"topic\":\"events\",\"partition\":3,\"offset\":1234}}",
             id);
    ck_assert_str_eq(encode_fields(UINT32_MAX), want); /* every bit, required too */
}
END_TEST

START_TEST(test_each_field_alone_is_written_with_the_required_ones) {
    static const char *const names[] = {
#define NAME(id, name, required) name,
        MM_MOMENT_FIELD_MAP(NAME)
#undef NAME
    };
    uint32_t omit;
    char why[256], key[64];
    ck_assert(mm_moment_fields_parse(names[_i], &omit, why, sizeof(why)));
    contract_example();
    mo.late = true;
    mo.lateness_ms = 90000;
    const char *j = encode_fields(omit);
    for (int f = 0; f < MM_MOMENT_F__COUNT; f++) {
        snprintf(key, sizeof(key), "\"%s\":", names[f]);
        bool want = f == _i || (MM_MOMENT_FIELDS_REQUIRED & (1u << f));
        ck_assert_msg((strstr(j, key) != NULL) == want, "fields=%s: %s %s in %s", names[_i],
                      names[f], want ? "missing" : "present", j);
    }
}
END_TEST

static const struct {
    const char *value;
    bool ok;
    const char *printed; /* mm_moment_fields_format of the result */
} fields_rows[] = {
    {"all", true, "all"},
    {" all ", true, "all"},
    {"moment_id,moment,confidence,scores,signals,user_id,session_id,event_id,event_ts,"
     "detected_ts,journey_stage,strategy,context,source,late,lateness_ms",
     true, "all"},
    {"moment", true, "moment_id,moment,user_id,source"},
    {"source , scores", true, "moment_id,moment,scores,user_id,source"},
    {"", false, NULL},
    {"scores,", false, NULL},
    {"scores,,moment", false, NULL},
    {"score", false, NULL},
    {"all,scores", false, NULL},
    {"scores,scores", false, NULL},
    {"Scores", false, NULL},
};

START_TEST(test_fields_value_parses_and_prints_back) {
    uint32_t omit = 12345, again;
    char why[512] = "", printed[512];
    bool ok = mm_moment_fields_parse(fields_rows[_i].value, &omit, why, sizeof(why));
    ck_assert_msg(ok == fields_rows[_i].ok, "'%s': %s", fields_rows[_i].value, why);
    if (!ok) {
        ck_assert_uint_gt(strlen(why), 0);
        return;
    }
    mm_moment_fields_format(omit, printed, sizeof(printed));
    ck_assert_str_eq(printed, fields_rows[_i].printed);
    ck_assert(mm_moment_fields_parse(printed, &again, why, sizeof(why)));
    ck_assert_uint_eq(again, omit);
}
END_TEST

START_TEST(test_unknown_field_names_it_and_the_list) {
    uint32_t omit;
    char why[512];
    ck_assert(!mm_moment_fields_parse("moment,strategies", &omit, why, sizeof(why)));
    ck_assert_msg(strstr(why, "'strategies'") && strstr(why, "journey_stage"), "%s", why);
}
END_TEST

/* Each row: one signal and exactly the JSON it must become. */
static const struct {
    mm_signal_t sig;
    const char *want;
} signal_rows[] = {
    {{.name = "rapid_queries"}, "{\"name\":\"rapid_queries\"}"},
    {{.name = "keyword", .value = {"køb", 4}, .lang = "da"},
     "{\"name\":\"keyword\",\"value\":\"køb\",\"lang\":\"da\"}"},
    {{.name = "slow_page", .number = 4200.0, .has_number = true},
     "{\"name\":\"slow_page\",\"number\":4200}"},
    {{.name = "keyword", .value = {"best", 4}, .number = 0.35,
      .has_number = true},
     "{\"name\":\"keyword\",\"value\":\"best\",\"number\":0.35}"},
    {{.name = "location_burst", .count = 3, .has_count = true,
      .window_ms = 600000, .has_window = true, .number = 180.5,
      .has_number = true},
     "{\"name\":\"location_burst\",\"count\":3,\"window_ms\":600000,"
     "\"number\":180.5}"},
    {{.name = "keyword", .value = {"a\"\n\xff", 4}},
     "{\"name\":\"keyword\",\"value\":\"a\\\"\\n\xEF\xBF\xBD\"}"},
};

START_TEST(test_signal_has_only_its_present_parts) {
    char want[512];
    contract_example();
    mo.n_signals = 1;
    mo.signals[0] = signal_rows[_i].sig;
    snprintf(want, sizeof(want), "\"signals\":[%s],", signal_rows[_i].want);
    const char *j = encode();
    ck_assert_msg(strstr(j, want), "%s\nlacks %s", j, want);
}
END_TEST

START_TEST(test_no_signals_is_empty_array) {
    contract_example();
    mo.n_signals = 0;
    ck_assert_ptr_nonnull(strstr(encode(), "\"signals\":[],"));
}
END_TEST

START_TEST(test_signal_count_is_capped) {
    contract_example();
    for (int i = 0; i < MM_SIGNALS_MAX; i++)
        mo.signals[i] = (mm_signal_t){.name = "keyword"};
    mo.n_signals = MM_SIGNALS_MAX + 5; /* corrupt: must not read past */
    const char *j = encode(), *p = j;
    int n = 0;
    while ((p = strstr(p, "\"name\":")))
        n++, p++;
    ck_assert_int_eq(n, MM_SIGNALS_MAX);
}
END_TEST

START_TEST(test_strategy_offer_only_when_set) {
    contract_example();
    ck_assert_ptr_null(strstr(encode(), "\"offer\""));
    go_strategy.offer = "coffee-2for1";
    ck_assert_ptr_nonnull(strstr(encode(), "\"horizon\":\"minutes to hours\","
                                           "\"offer\":\"coffee-2for1\"},\"context\""));
}
END_TEST

START_TEST(test_moment_without_strategy_has_empty_texts) {
    contract_example();
    mo.strategy = NULL; /* a moment not made by mm_classify */
    ck_assert_ptr_nonnull(
        strstr(encode(), "\"strategy\":{\"goal\":\"\",\"content\":\"\",\"horizon\":\"\"},"));
}
END_TEST

START_TEST(test_hostile_ids_stay_valid_json) {
    static const char hostile[] = "u\"},{\"x\":\"\x01\xc3";
    contract_example();
    ev.user_id = (mm_str_t){hostile, sizeof(hostile) - 1};
    ev.source.topic = (mm_str_t){"ev\\ents", 7};
    const char *j = encode();
    ck_assert_ptr_nonnull(strstr(j, "\"user_id\":\"u\\\"},{\\\"x\\\":\\\""
                                    "\\u0001\xEF\xBF\xBD\""));
}
END_TEST

START_TEST(test_short_buffer_gives_zero_and_no_overrun) {
    contract_example();
    size_t need = mm_moment_to_json(&mo, 1, out, sizeof(out));
    ck_assert_uint_gt(need, 0);
    for (size_t cap = 0; cap < need; cap += 7) {
        char buf[4096];
        memset(buf, 'G', sizeof(buf));
        ck_assert_uint_eq(mm_moment_to_json(&mo, 1, buf, cap), 0);
        for (size_t i = cap; i < need + 16; i++)
            ck_assert_msg(buf[i] == 'G', "cap %zu: byte %zu written", cap, i);
    }
    ck_assert_uint_eq(mm_moment_to_json(&mo, 1, out, need), need);
}
END_TEST

/* ---------------------------------------------------------------- explain */

static mm_explain_t ex;

static const char *explain(const mm_moment_t *m) {
    size_t n = mm_explain_to_json(&ev, &ex, m, out, sizeof(out));
    ck_assert_uint_gt(n, 0);
    out[n] = '\0';
    ck_assert_msg(mm_json_valid(out, n, 16), "invalid JSON: %s", out);
    return out;
}

static void explain_example(void) {
    contract_example();
    memset(&ex, 0, sizeof(ex));
    memcpy(ex.scores, mo.scores, sizeof(ex.scores));
    ex.lang = "en";
    ex.lang_inferred = true;
    ex.n_signals = 1;
    ex.signals[0] = mo.signals[0];
}

START_TEST(test_explain_with_moment_is_exact) {
    explain_example();
    ck_assert_str_eq(
        explain(&mo),
        "{\"query\":\"coffee near me\",\"lang\":\"en\",\"lang_inferred\":true,"
        "\"scores\":{\"know\":0.12,\"go\":0.91,\"do\":0,\"buy\":0.08},"
        "\"signals\":[{\"name\":\"keyword\",\"value\":\"near me\","
        "\"lang\":\"en\"}],\"moment\":\"go\",\"confidence\":0.91}");
}
END_TEST

START_TEST(test_explain_without_moment_has_nulls) {
    explain_example();
    ex.lang = NULL;
    ex.lang_inferred = false;
    ex.n_signals = 0;
    ev.query = (mm_str_t){NULL, 0};
    ck_assert_str_eq(explain(NULL),
                     "{\"query\":null,\"lang\":null,\"lang_inferred\":false,"
                     "\"scores\":{\"know\":0.12,\"go\":0.91,\"do\":0,"
                     "\"buy\":0.08},\"signals\":[],\"moment\":null,"
                     "\"confidence\":null}");
}
END_TEST

START_TEST(test_explain_short_buffer_gives_zero) {
    char buf[32];
    explain_example();
    ck_assert_uint_eq(mm_explain_to_json(&ev, &ex, &mo, buf, sizeof(buf)), 0);
}
END_TEST

/* ------------------------------------------------------------------ main */

#define N_ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *moment_json_suite(void) {
    Suite *s = suite_create("moment_json");
    TCase *tc = tcase_create("moment_json_shape");
    tcase_add_test(tc, test_contract_example_is_byte_exact);
    tcase_add_test(tc, test_moment_id_is_32_hex_and_stable);
    tcase_add_test(tc, test_absent_fields_are_null);
    tcase_add_test(tc, test_strategy_offer_only_when_set);
    tcase_add_test(tc, test_moment_without_strategy_has_empty_texts);
    tcase_add_test(tc, test_hostile_ids_stay_valid_json);
    tcase_add_test(tc, test_short_buffer_gives_zero_and_no_overrun);
    suite_add_tcase(s, tc);

    tc = tcase_create("moment_json_lean");
    tcase_add_test(tc, test_no_omission_is_the_full_record);
    tcase_add_test(tc, test_full_record_keys_are_the_field_list_in_order);
    tcase_add_test(tc, test_lean_output_has_the_listed_and_required_fields_only);
    tcase_add_test(tc, test_required_fields_cannot_be_left_out);
    tcase_add_loop_test(tc, test_each_field_alone_is_written_with_the_required_ones, 0,
                        MM_MOMENT_F__COUNT);
    tcase_add_loop_test(tc, test_fields_value_parses_and_prints_back, 0,
                        (int)(sizeof(fields_rows) / sizeof(fields_rows[0])));
    tcase_add_test(tc, test_unknown_field_names_it_and_the_list);
    suite_add_tcase(s, tc);

    tc = tcase_create("moment_json_signals");
    tcase_add_loop_test(tc, test_signal_has_only_its_present_parts, 0,
                        N_ROWS(signal_rows));
    tcase_add_test(tc, test_no_signals_is_empty_array);
    tcase_add_test(tc, test_signal_count_is_capped);
    suite_add_tcase(s, tc);

    tc = tcase_create("explain_json");
    tcase_add_test(tc, test_explain_with_moment_is_exact);
    tcase_add_test(tc, test_explain_without_moment_has_nulls);
    tcase_add_test(tc, test_explain_short_buffer_gives_zero);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return mm_check_run(moment_json_suite());
}
