/*
 * mm_decode_json and mm_json_valid: the contract's fields, the decisions
 * documented in consumer/json_decode.c, the malformed-record catalogue (every
 * record error code), and no read past the input: records are placed right
 * before a PROT_NONE page, so a one-byte over-read is a SIGSEGV.
 */
#include <check.h>

#include "check_run.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "consumer/consumer.h"

#define S(lit) lit, sizeof(lit) - 1

static const char contract_example[] =
    "{\"event_id\":\"e-17\",\"user_id\":\"u42\",\"session_id\":\"s9\","
    "\"ts\":1763900000000,\"type\":\"query\",\"query\":\"coffee near me\","
    "\"device\":\"mobile\",\"channel\":\"search\",\"lang\":\"en\","
    "\"lat\":55.676,\"lon\":12.568,\"tz_offset_min\":60,\"url\":null,"
    "\"page_load_ms\":null}";

/* --------------------------------------------------------------- helpers */

static char *guard_base;
static size_t page_size;

/** A copy of rec whose last byte is the last readable byte of a page. */
static const char *at_page_end(const char *rec, size_t len) {
    if (!guard_base) {
        page_size = (size_t)sysconf(_SC_PAGESIZE);
        guard_base = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(guard_base, MAP_FAILED);
        ck_assert_int_eq(mprotect(guard_base + page_size, page_size, PROT_NONE),
                         0);
    }
    ck_assert_uint_le(len, page_size);
    char *dst = guard_base + page_size - len;
    memcpy(dst, rec, len);
    return dst;
}

static char scratch_buf[1 << 16];
static mm_scratch_t scratch;
static char errstr[256];

static mm_err_t decode_lim(const char *rec, size_t len,
                           const mm_decode_limits_t *lim, mm_event_t *ev) {
    scratch = (mm_scratch_t){scratch_buf, sizeof(scratch_buf), 0};
    memset(errstr, 'x', sizeof(errstr));
    mm_event_init(ev);
    return mm_decode_json(at_page_end(rec, len), len, lim, &scratch, ev,
                          errstr, sizeof(errstr));
}

static mm_err_t decode(const char *rec, size_t len, mm_event_t *ev) {
    return decode_lim(rec, len, NULL, ev);
}

static void assert_str(mm_str_t s, const char *want) {
    ck_assert_ptr_nonnull(s.p);
    ck_assert_uint_eq(s.len, strlen(want));
    ck_assert(memcmp(s.p, want, s.len) == 0);
}

/* ---------------------------------------------------------- valid records */

START_TEST(test_contract_example_decodes_every_field) {
    mm_event_t ev;
    ck_assert_int_eq(decode(S(contract_example), &ev), MM_ERR_OK);
    assert_str(ev.event_id, "e-17");
    assert_str(ev.user_id, "u42");
    assert_str(ev.session_id, "s9");
    ck_assert(ev.has_ts);
    ck_assert_int_eq(ev.ts, 1763900000000LL);
    ck_assert_int_eq(ev.type, MM_EVENT_QUERY);
    assert_str(ev.query, "coffee near me");
    assert_str(ev.device, "mobile");
    assert_str(ev.channel, "search");
    assert_str(ev.lang, "en");
    ck_assert(ev.has_geo);
    ck_assert_double_eq_tol(ev.lat, 55.676, 1e-9);
    ck_assert_double_eq_tol(ev.lon, 12.568, 1e-9);
    ck_assert(ev.has_tz_offset);
    ck_assert_int_eq(ev.tz_offset_min, 60);
    ck_assert_ptr_null(ev.url.p);
    ck_assert(!ev.has_page_load_ms);
    ck_assert_int_eq(ev.in_store, -1);
    ck_assert_str_eq(errstr, "");
}
END_TEST

START_TEST(test_unescaped_strings_are_views_into_the_record) {
    mm_event_t ev;
    ck_assert_int_eq(decode(S(contract_example), &ev), MM_ERR_OK);
    const char *rec = guard_base + page_size - (sizeof(contract_example) - 1);
    ck_assert(ev.user_id.p > rec && ev.user_id.p < guard_base + page_size);
    ck_assert_uint_eq(scratch.used, 0);
}
END_TEST

START_TEST(test_source_is_left_to_the_caller) {
    mm_event_t ev;
    mm_event_init(&ev);
    ev.source = (mm_source_t){MM_STR_LIT("events"), 3, 1234};
    scratch = (mm_scratch_t){scratch_buf, sizeof(scratch_buf), 0};
    ck_assert_int_eq(mm_decode_json(S(contract_example), NULL, &scratch, &ev,
                                    errstr, sizeof(errstr)),
                     MM_ERR_OK);
    ck_assert_int_eq(ev.source.partition, 3);
    ck_assert_int_eq(ev.source.offset, 1234);
}
END_TEST

/* Each row: a record whose query decodes to the given bytes. */
static const struct {
    const char *rec, *query;
} escape_rows[] = {
    {"{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"a\\\"b\"}", "a\"b"},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"\\\\\\/\"}", "\\/"},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"\\b\\f\\n\\r\\t\"}",
     "\b\f\n\r\t"},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"caf\\u00e9\"}",
     "caf\xc3\xa9"},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"\\u20AC 5\"}",
     "\xe2\x82\xac 5"},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"\\ud83d\\ude00\"}",
     "\xf0\x9f\x98\x80"},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"n\xc3\xa6r mig\"}",
     "n\xc3\xa6r mig"},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"\\u0041\\u00410\"}",
     "AA0"},
};

START_TEST(test_escapes_are_unescaped) {
    mm_event_t ev;
    const char *rec = escape_rows[_i].rec;
    ck_assert_int_eq(decode(rec, strlen(rec), &ev), MM_ERR_OK);
    assert_str(ev.query, escape_rows[_i].query);
}
END_TEST

START_TEST(test_escaped_key_matches_its_field) {
    mm_event_t ev;
    ck_assert_int_eq(
        decode(S("{\"user\\u005fid\":\"u7\",\"typ\\u0065\":\"click\"}"), &ev),
        MM_ERR_OK);
    assert_str(ev.user_id, "u7");
    ck_assert_int_eq(ev.type, MM_EVENT_CLICK);
}
END_TEST

START_TEST(test_integer_user_id_is_its_text) {
    mm_event_t ev;
    ck_assert_int_eq(decode(S("{\"user_id\":42,\"type\":\"scroll\","
                              "\"session_id\":-7,\"event_id\":0}"),
                            &ev),
                     MM_ERR_OK);
    assert_str(ev.user_id, "42");
    assert_str(ev.session_id, "-7");
    assert_str(ev.event_id, "0");
}
END_TEST

START_TEST(test_integer_id_longer_than_field_bound_is_too_long) {
    mm_decode_limits_t lim;
    mm_decode_limits_defaults(&lim);
    lim.max_field_bytes = 16;
    mm_event_t ev;
    const char rec[] = "{\"user_id\":12345678901234567890,\"type\":\"click\"}";
    ck_assert_int_eq(decode_lim(rec, sizeof(rec) - 1, &lim, &ev), MM_ERR_FIELD_TOO_LONG);
    ck_assert_ptr_nonnull(strstr(errstr, "user_id"));
}
END_TEST

START_TEST(test_integral_float_ts_is_accepted) {
    mm_event_t ev;
    ck_assert_int_eq(decode(S("{\"user_id\":\"u\",\"type\":\"click\","
                              "\"ts\":1.7639e12}"),
                            &ev),
                     MM_ERR_OK);
    ck_assert_int_eq(ev.ts, 1763900000000LL);
    ck_assert_int_eq(decode(S("{\"user_id\":\"u\",\"type\":\"click\","
                              "\"ts\":1763900000000.0}"),
                            &ev),
                     MM_ERR_OK);
    ck_assert_int_eq(ev.ts, 1763900000000LL);
}
END_TEST

START_TEST(test_ts_bounds_are_inclusive) {
    mm_event_t ev;
    ck_assert_int_eq(decode(S("{\"user_id\":\"u\",\"type\":\"click\","
                              "\"ts\":946684800000}"),
                            &ev),
                     MM_ERR_OK);
    ck_assert_int_eq(decode(S("{\"user_id\":\"u\",\"type\":\"click\","
                              "\"ts\":4102444800000}"),
                            &ev),
                     MM_ERR_OK);
}
END_TEST

START_TEST(test_nulls_are_absent_fields) {
    mm_event_t ev;
    ck_assert_int_eq(
        decode(S("{\"user_id\":\"u\",\"type\":\"page_view\",\"event_id\":null,"
                 "\"ts\":null,\"query\":null,\"lat\":null,\"lon\":null,"
                 "\"tz_offset_min\":null,\"page_load_ms\":null,"
                 "\"in_store\":null}"),
               &ev),
        MM_ERR_OK);
    ck_assert_ptr_null(ev.event_id.p);
    ck_assert(!ev.has_ts && !ev.has_geo && !ev.has_tz_offset &&
              !ev.has_page_load_ms);
    ck_assert_int_eq(ev.in_store, -1);
}
END_TEST

START_TEST(test_geo_needs_both_lat_and_lon) {
    mm_event_t ev;
    ck_assert_int_eq(
        decode(S("{\"user_id\":\"u\",\"type\":\"location\",\"lat\":55.6}"),
               &ev),
        MM_ERR_OK);
    ck_assert(!ev.has_geo);
    ck_assert_int_eq(decode(S("{\"user_id\":\"u\",\"type\":\"location\","
                              "\"lon\":-3.7,\"lat\":-90,\"in_store\":true}"),
                            &ev),
                     MM_ERR_OK);
    ck_assert(ev.has_geo);
    ck_assert_double_eq(ev.lat, -90);
    ck_assert_int_eq(ev.in_store, 1);
}
END_TEST

START_TEST(test_fractional_page_load_is_rounded) {
    mm_event_t ev;
    ck_assert_int_eq(decode(S("{\"user_id\":\"u\",\"type\":\"page_view\","
                              "\"page_load_ms\":3120.6}"),
                            &ev),
                     MM_ERR_OK);
    ck_assert(ev.has_page_load_ms);
    ck_assert_int_eq(ev.page_load_ms, 3121);
}
END_TEST

START_TEST(test_unknown_fields_are_validated_and_skipped) {
    mm_event_t ev;
    ck_assert_int_eq(
        decode(S(" \t\r\n{\"props\":{\"a\":[1,-2.5e-3,true,false,null,{}],"
                 "\"b\":{\"c\":[[],[{\"d\":\"\\u00e9\"}]]}},"
                 "\"user_id\":\"u\",\"big\":123456789012345678901234567890,"
                 "\"type\":\"purchase\",\"user\":1,\"items\":[]} \n"),
               &ev),
        MM_ERR_OK);
    assert_str(ev.user_id, "u");
    ck_assert_int_eq(ev.type, MM_EVENT_PURCHASE);
}
END_TEST

START_TEST(test_leading_bom_is_skipped) {
    mm_event_t ev;
    ck_assert_int_eq(
        decode(S("\xEF\xBB\xBF{\"user_id\":\"u\",\"type\":\"app_open\"}"), &ev),
        MM_ERR_OK);
    ck_assert_int_eq(ev.type, MM_EVENT_APP_OPEN);
}
END_TEST

START_TEST(test_every_contract_type_decodes) {
    char rec[128];
    mm_event_t ev;
    for (int t = 0; t < MM_EVENT__COUNT; t++) {
        int n = snprintf(rec, sizeof(rec), "{\"user_id\":\"u\",\"type\":\"%s\"}",
                         mm_event_type_name((mm_event_type_t)t));
        ck_assert_int_eq(decode(rec, (size_t)n, &ev), MM_ERR_OK);
        ck_assert_int_eq(ev.type, t);
    }
}
END_TEST

/* ---------------------------------------------------- malformed catalogue */

static const struct {
    const char *rec;
    size_t len; /* 0: strlen(rec) */
    mm_err_t err;
    const char *reason; /* a substring errstr must contain, or NULL */
} bad_rows[] = {
    {"", 0, MM_ERR_EMPTY_RECORD, "empty"},
    {" \t\r\n ", 0, MM_ERR_EMPTY_RECORD, NULL},
    {"\xEF\xBB\xBF", 0, MM_ERR_EMPTY_RECORD, NULL},
    {"{", 0, MM_ERR_BAD_JSON, "offset 1: unexpected end of record"},
    {"{\"a\" 1}", 0, MM_ERR_BAD_JSON,
     "offset 5: expected ':' after object key, got '1'"},
    {"{\"user_id\":\"u\",}", 0, MM_ERR_BAD_JSON, "expected a string key"},
    {"{'a':1}", 0, MM_ERR_BAD_JSON, NULL},
    {"{\"a\":1 \"b\":2}", 0, MM_ERR_BAD_JSON, "',' or '}'"},
    {"{\"user_id\":\"u\",\"type\":\"query\"} x", 0, MM_ERR_BAD_JSON,
     "trailing"},
    {"{\"user_id\":\"u\",\"type\":\"query\"}}", 0, MM_ERR_BAD_JSON, "trailing"},
    {"{\"a\":01}", 0, MM_ERR_BAD_JSON, "leading zero"},
    {"{\"a\":1.}", 0, MM_ERR_BAD_JSON, "after '.'"},
    {"{\"a\":.5}", 0, MM_ERR_BAD_JSON, NULL},
    {"{\"a\":-}", 0, MM_ERR_BAD_JSON, NULL},
    {"{\"a\":1e}", 0, MM_ERR_BAD_JSON, "exponent"},
    {"{\"a\":+1}", 0, MM_ERR_BAD_JSON, NULL},
    {"{\"a\":NaN}", 0, MM_ERR_BAD_JSON, NULL},
    {"{\"a\":Infinity}", 0, MM_ERR_BAD_JSON, NULL},
    {"{\"a\":tru}", 0, MM_ERR_BAD_JSON, "literal"},
    {"{\"a\":nul}", 0, MM_ERR_BAD_JSON, NULL},
    {"{\"a\":\"\\x\"}", 0, MM_ERR_BAD_JSON, "invalid escape"},
    {"{\"a\":\"\\u12G4\"}", 0, MM_ERR_BAD_JSON, "four hex digits"},
    {"{\"a\":\"tab\there\"}", 0, MM_ERR_BAD_JSON, "control character"},
    {"{\"a\":\"nul\0x\"}", 13, MM_ERR_BAD_JSON, "control character"},
    {"{\"a\":\"open}", 0, MM_ERR_BAD_JSON, "unterminated string"},
    {"{\"a\":[1,]}", 0, MM_ERR_BAD_JSON, NULL},
    {"{\"a\":[1 2]}", 0, MM_ERR_BAD_JSON, "',' or ']'"},
    {"{\"a\":}", 0, MM_ERR_BAD_JSON, "expected a value"},
    {"{\"user_id\":\"a\",\"user_id\":\"b\",\"type\":\"query\"}", 0,
     MM_ERR_BAD_JSON, "duplicate key user_id"},
    {"{\"user_id\":5.5,\"type\":\"query\"", 0, MM_ERR_BAD_JSON, NULL},
    {"[]", 0, MM_ERR_NOT_OBJECT, "an array"},
    {"\"u42\"", 0, MM_ERR_NOT_OBJECT, "a string"},
    {"42", 0, MM_ERR_NOT_OBJECT, NULL},
    {" null ", 0, MM_ERR_NOT_OBJECT, "null"},
    {"[1,{\"a\":2}]", 0, MM_ERR_NOT_OBJECT, NULL},
    {"[1,{\"a\":2}", 0, MM_ERR_BAD_JSON, NULL},
    {"{\"user_id\":\"\xff\",\"type\":\"query\"}", 0, MM_ERR_BAD_UTF8, "UTF-8"},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"x\":\"\xc0\xaf\"}", 0,
     MM_ERR_BAD_UTF8, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"q\xe9\":1}", 0, MM_ERR_BAD_UTF8,
     NULL},
    {"{\"user_id\":\"u\",\"query\":\"\xed\xa0\x80\",\"type\":\"query\"}", 0,
     MM_ERR_BAD_UTF8, NULL},
    {"{\"user_id\":\"u\",\"query\":\"\xc3\",\"type\":\"query\"}", 0,
     MM_ERR_BAD_UTF8, NULL},
    {"{\"user_id\":\"u\",\"query\":\"\\ud800\",\"type\":\"query\"}", 0,
     MM_ERR_BAD_UTF8, "lone high surrogate"},
    {"{\"user_id\":\"u\",\"query\":\"\\udc00x\",\"type\":\"query\"}", 0,
     MM_ERR_BAD_UTF8, "lone low surrogate"},
    {"{\"user_id\":\"u\",\"query\":\"\\ud800\\u0041\",\"type\":\"query\"}", 0,
     MM_ERR_BAD_UTF8, NULL},
    {"{\"type\":\"query\"}", 0, MM_ERR_MISSING_USER_ID, "no user_id"},
    {"{}", 0, MM_ERR_MISSING_USER_ID, NULL},
    {"{\"user_id\":null,\"type\":\"query\"}", 0, MM_ERR_NULL_USER_ID, NULL},
    {"{\"user_id\":\"\",\"type\":\"query\"}", 0, MM_ERR_NULL_USER_ID, NULL},
    {"{\"user_id\":\"u\"}", 0, MM_ERR_MISSING_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":null}", 0, MM_ERR_MISSING_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"hover\"}", 0, MM_ERR_UNKNOWN_TYPE,
     "field type: unknown event type \"hover\""},
    {"{\"user_id\":\"u\",\"type\":\"Query\"}", 0, MM_ERR_UNKNOWN_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"\"}", 0, MM_ERR_UNKNOWN_TYPE, NULL},
    {"{\"user_id\":1.5,\"type\":\"query\"}", 0, MM_ERR_BAD_FIELD_TYPE,
     "field user_id: expected a string or an integer, got a number"},
    {"{\"user_id\":1e3,\"type\":\"query\"}", 0, MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":true,\"type\":\"query\"}", 0, MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":{\"id\":1},\"type\":\"query\"}", 0, MM_ERR_BAD_FIELD_TYPE,
     "got an object"},
    {"{\"user_id\":\"u\",\"type\":1}", 0, MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"query\":5}", 0,
     MM_ERR_BAD_FIELD_TYPE, "field query"},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"query\":[\"a\"]}", 0,
     MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"device\":false}", 0,
     MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"ts\":\"1763900000000\"}", 0,
     MM_ERR_BAD_FIELD_TYPE, "field ts"},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"ts\":1763900000000.5}", 0,
     MM_ERR_BAD_FIELD_TYPE, "fraction"},
    {"{\"user_id\":\"u\",\"type\":\"location\",\"lat\":\"55\",\"lon\":1}", 0,
     MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"location\",\"lat\":90.5,\"lon\":1}", 0,
     MM_ERR_BAD_FIELD_TYPE, "outside"},
    {"{\"user_id\":\"u\",\"type\":\"location\",\"lat\":1,\"lon\":-181}", 0,
     MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"tz_offset_min\":60.5}", 0,
     MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"tz_offset_min\":5000}", 0,
     MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"page_view\",\"page_load_ms\":-1}", 0,
     MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"page_view\",\"page_load_ms\":\"9\"}", 0,
     MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"location\",\"in_store\":\"yes\"}", 0,
     MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"location\",\"in_store\":1}", 0,
     MM_ERR_BAD_FIELD_TYPE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"ts\":0}", 0,
     MM_ERR_TS_OUT_OF_RANGE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"ts\":1763900000}", 0,
     MM_ERR_TS_OUT_OF_RANGE, "field ts: 1763900000 is outside"},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"ts\":-5}", 0,
     MM_ERR_TS_OUT_OF_RANGE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"ts\":4102444800001}", 0,
     MM_ERR_TS_OUT_OF_RANGE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"ts\":99999999999999999999999}",
     0, MM_ERR_TS_OUT_OF_RANGE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"ts\":-9223372036854775809}", 0,
     MM_ERR_TS_OUT_OF_RANGE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"ts\":1e300}", 0,
     MM_ERR_TS_OUT_OF_RANGE, NULL},
    {"{\"user_id\":\"u\",\"type\":\"query\",\"ts\":1e999}", 0,
     MM_ERR_TS_OUT_OF_RANGE, NULL},
    /* The first field error is the one reported. */
    {"{\"user_id\":\"u\",\"type\":\"nope\",\"query\":5}", 0,
     MM_ERR_UNKNOWN_TYPE, NULL},
};

START_TEST(test_malformed_record_gives_its_error) {
    mm_event_t ev;
    const char *rec = bad_rows[_i].rec;
    size_t len = bad_rows[_i].len ? bad_rows[_i].len : strlen(rec);
    mm_err_t err = decode(rec, len, &ev);
    ck_assert_msg(err == bad_rows[_i].err, "row %d (%s): got %s (%s), want %s",
                  _i, rec, mm_err_name(err), errstr,
                  mm_err_name(bad_rows[_i].err));
    ck_assert_msg(memchr(errstr, '\0', sizeof(errstr)) && errstr[0],
                  "row %d: no reason", _i);
    if (bad_rows[_i].reason)
        ck_assert_msg(strstr(errstr, bad_rows[_i].reason),
                      "row %d: reason \"%s\" lacks \"%s\"", _i, errstr,
                      bad_rows[_i].reason);
}
END_TEST

/* ----------------------------------------------------------------- limits */

START_TEST(test_record_over_max_record_bytes_is_too_large) {
    mm_decode_limits_t lim;
    mm_event_t ev;
    mm_decode_limits_defaults(&lim);
    lim.max_record_bytes = sizeof(contract_example) - 2;
    ck_assert_int_eq(decode_lim(S(contract_example), &lim, &ev),
                     MM_ERR_TOO_LARGE);
    lim.max_record_bytes = sizeof(contract_example) - 1;
    ck_assert_int_eq(decode_lim(S(contract_example), &lim, &ev), MM_ERR_OK);
}
END_TEST

START_TEST(test_field_over_max_field_bytes_is_too_long) {
    mm_decode_limits_t lim;
    mm_event_t ev;
    mm_decode_limits_defaults(&lim);
    lim.max_field_bytes = 4;
    /* Decoded length counts: six escaped bytes are three characters. */
    ck_assert_int_eq(
        decode_lim(S("{\"user_id\":\"u\",\"type\":\"query\",\"query\":"
                     "\"\\u0041\\u0042\\u0043d\"}"),
                   &lim, &ev),
        MM_ERR_OK);
    ck_assert_int_eq(
        decode_lim(S("{\"user_id\":\"u\",\"type\":\"query\",\"url\":\"hello\"}"),
                   &lim, &ev),
        MM_ERR_FIELD_TOO_LONG);
    ck_assert_ptr_nonnull(strstr(errstr, "field url: 5 bytes, limit 4"));
    /* Unknown fields are not ours to keep, so not bounded. */
    ck_assert_int_eq(decode_lim(S("{\"user_id\":\"u\",\"type\":\"query\","
                                  "\"note\":\"far longer than four\"}"),
                                &lim, &ev),
                     MM_ERR_OK);
}
END_TEST

/** {"user_id":"u","type":"click","x": + n-1 nested arrays + }. */
static size_t nested(char *out, uint32_t arrays) {
    size_t n = (size_t)sprintf(out, "{\"user_id\":\"u\",\"type\":\"click\","
                                    "\"x\":");
    for (uint32_t i = 0; i < arrays; i++)
        out[n++] = '[';
    for (uint32_t i = 0; i < arrays; i++)
        out[n++] = ']';
    out[n++] = '}';
    return n;
}

START_TEST(test_nesting_past_max_depth_is_too_deep) {
    char rec[256];
    mm_event_t ev;
    /* The top object is depth 1: 15 arrays inside it reach 16. */
    ck_assert_int_eq(decode(rec, nested(rec, 15), &ev), MM_ERR_OK);
    ck_assert_int_eq(decode(rec, nested(rec, 16), &ev), MM_ERR_TOO_DEEP);
    ck_assert_ptr_nonnull(strstr(errstr, "nesting deeper than 16"));
}
END_TEST

START_TEST(test_deep_garbage_stops_at_the_bound) {
    /* 100k '[' must not recurse 100k frames. */
    static char rec[100000];
    memset(rec, '[', sizeof(rec));
    ck_assert(!mm_json_valid(rec, sizeof(rec), 16));
    mm_event_t ev;
    mm_event_init(&ev);
    ck_assert_int_eq(mm_decode_json(rec, sizeof(rec), NULL, NULL, &ev, NULL, 0),
                     MM_ERR_TOO_DEEP);
}
END_TEST

START_TEST(test_scratch_too_small_is_full_not_overrun) {
    char small[2];
    mm_event_t ev;
    mm_event_init(&ev);
    mm_scratch_t sc = {small, sizeof(small), 0};
    const char rec[] = "{\"user_id\":\"u\",\"type\":\"query\",\"query\":"
                       "\"a\\nbc\"}";
    ck_assert_int_eq(mm_decode_json(rec, sizeof(rec) - 1, NULL, &sc, &ev,
                                    errstr, sizeof(errstr)),
                     MM_ERR_FULL);
    ck_assert_uint_eq(sc.used, 0);
    ck_assert_int_eq(mm_decode_json(rec, sizeof(rec) - 1, NULL, NULL, &ev,
                                    errstr, sizeof(errstr)),
                     MM_ERR_FULL);
}
END_TEST

START_TEST(test_scratch_of_record_size_always_suffices) {
    const char rec[] = "{\"user_id\":\"\\u00e9\\u00e9\",\"type\":\"query\","
                       "\"query\":\"\\ud83d\\ude00\\n\",\"lang\":\"\\t\"}";
    char sbuf[sizeof(rec) - 1];
    mm_scratch_t sc = {sbuf, sizeof(sbuf), 0};
    mm_event_t ev;
    mm_event_init(&ev);
    ck_assert_int_eq(mm_decode_json(rec, sizeof(rec) - 1, NULL, &sc, &ev,
                                    errstr, sizeof(errstr)),
                     MM_ERR_OK);
    assert_str(ev.user_id, "\xc3\xa9\xc3\xa9");
    assert_str(ev.query, "\xf0\x9f\x98\x80\n");
    ck_assert_uint_le(sc.used, sizeof(sbuf));
}
END_TEST

START_TEST(test_tiny_errstr_is_truncated_not_overrun) {
    char small[8] = "zzzzzzz";
    mm_event_t ev;
    mm_event_init(&ev);
    ck_assert_int_eq(mm_decode_json(S("{\"a\" 1}"), NULL, NULL, &ev, small, 4),
                     MM_ERR_BAD_JSON);
    ck_assert_str_eq(small, "off");
    ck_assert(memcmp(small + 4, "zzz", 3) == 0);
}
END_TEST

/* ----------------------------------------------------------- no over-read */

START_TEST(test_every_prefix_of_a_valid_record_is_an_error) {
    static const char *const valid[] = {
        contract_example,
        "{\"user_id\":\"u\\u00e9\",\"type\":\"query\",\"query\":\"\\ud83d"
        "\\ude00 n\xc3\xa6r\",\"x\":[1.5e-3,-0,{\"y\":[true,false,null]}]}",
    };
    mm_event_t ev;
    for (size_t r = 0; r < sizeof(valid) / sizeof(valid[0]); r++) {
        size_t full = strlen(valid[r]);
        ck_assert_int_eq(decode(valid[r], full, &ev), MM_ERR_OK);
        for (size_t len = 0; len < full; len++) {
            mm_err_t err = decode(valid[r], len, &ev);
            ck_assert_msg(err != MM_ERR_OK, "prefix %zu of row %zu decoded",
                          len, r);
            ck_assert(mm_json_valid(at_page_end(valid[r], len), len, 16) ==
                      false);
        }
    }
}
END_TEST

START_TEST(test_catalogue_at_page_end_never_over_reads) {
    /* decode() already places records at a page end; this walks every
     * record of the catalogue and every truncation of it. */
    mm_event_t ev;
    for (size_t r = 0; r < sizeof(bad_rows) / sizeof(bad_rows[0]); r++) {
        size_t full = bad_rows[r].len ? bad_rows[r].len : strlen(bad_rows[r].rec);
        for (size_t len = 0; len <= full; len++)
            (void)decode(bad_rows[r].rec, len, &ev);
    }
}
END_TEST

/* ------------------------------------------------ word-at-a-time scanning */
/*
 * Strings are scanned eight bytes at a time, so a byte that stops the scan
 * ('"', '\\', a control character, the first non-ASCII byte) is tried at
 * every position of a word and across word boundaries, with the record
 * ending right after it.
 */

/** {"user_id":"u","type":"query","query":"<n x 'a', then tail>"} */
static size_t query_record(char *rec, size_t cap, size_t n, const char *tail) {
    size_t len = (size_t)snprintf(rec, cap, "{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"");
    memset(rec + len, 'a', n);
    len += n;
    len += (size_t)snprintf(rec + len, cap - len, "%s", tail);
    return len;
}

START_TEST(test_stop_byte_at_every_offset_is_seen) {
    char rec[128], want[64];
    mm_event_t ev;
    size_t n = (size_t)_i; /* plain bytes before the stop */
    memset(want, 'a', n);

    size_t len = query_record(rec, sizeof(rec), n, "\"}");
    ck_assert_int_eq(decode(rec, len, &ev), MM_ERR_OK);
    want[n] = '\0';
    assert_str(ev.query, want);

    len = query_record(rec, sizeof(rec), n, "\\n\"}");
    ck_assert_int_eq(decode(rec, len, &ev), MM_ERR_OK);
    ck_assert_uint_eq(ev.query.len, n + 1);
    ck_assert_int_eq(ev.query.p[n], '\n');

    len = query_record(rec, sizeof(rec), n, "\x01\"}");
    ck_assert_int_eq(decode(rec, len, &ev), MM_ERR_BAD_JSON);
    char at[64];
    snprintf(at, sizeof(at), "offset %zu: control character 0x01", len - 3);
    ck_assert_msg(strstr(errstr, at) != NULL, "%s", errstr);

    len = query_record(rec, sizeof(rec), n, "\xc3\xa6\"}");
    ck_assert_int_eq(decode(rec, len, &ev), MM_ERR_OK);
    ck_assert_uint_eq(ev.query.len, n + 2);

    len = query_record(rec, sizeof(rec), n, "\xc3\"}"); /* cut UTF-8 */
    ck_assert_int_eq(decode(rec, len, &ev), MM_ERR_BAD_UTF8);

    len = query_record(rec, sizeof(rec), n, ""); /* ends inside the string */
    ck_assert_int_eq(decode(rec, len, &ev), MM_ERR_BAD_JSON);
    ck_assert_msg(strstr(errstr, "unterminated string") != NULL, "%s", errstr);
}
END_TEST

START_TEST(test_non_ascii_after_the_closing_quote_is_not_the_strings) {
    /* The word that holds a closing quote also holds the bytes after it:
     * they belong to the next token, never to the string's UTF-8 check. */
    mm_event_t ev;
    ck_assert_int_eq(decode(S("{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"ab\","
                              "\"x\":\"\xc3\xa6\xc3\xa6\"}"),
                            &ev),
                     MM_ERR_OK);
    assert_str(ev.query, "ab");
    ck_assert_int_eq(decode(S("{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"ab\","
                              "\"x\":\"\xff\"}"),
                            &ev),
                     MM_ERR_BAD_UTF8);
}
END_TEST

/* ----------------------------------------------------------- field order */

START_TEST(test_fields_in_any_order_decode_the_same) {
    static const char *const orders[] = {
        /* the contract's order, then reversed, then shuffled with unknown keys */
        "{\"event_id\":\"e\",\"user_id\":\"u\",\"ts\":1763900000000,\"type\":\"query\","
        "\"query\":\"q\",\"device\":\"d\",\"lang\":\"en\",\"lat\":1.5,\"lon\":2.5}",
        "{\"lon\":2.5,\"lat\":1.5,\"lang\":\"en\",\"device\":\"d\",\"query\":\"q\","
        "\"type\":\"query\",\"ts\":1763900000000,\"user_id\":\"u\",\"event_id\":\"e\"}",
        "{\"x\":1,\"type\":\"query\",\"lat\":1.5,\"event_id\":\"e\",\"y\":\"device\","
        "\"device\":\"d\",\"user_id\":\"u\",\"lang\":\"en\",\"ts\":1763900000000,"
        "\"lon\":2.5,\"query\":\"q\"}",
    };
    for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
        mm_event_t ev;
        ck_assert_int_eq(decode(orders[i], strlen(orders[i]), &ev), MM_ERR_OK);
        assert_str(ev.event_id, "e");
        assert_str(ev.user_id, "u");
        assert_str(ev.query, "q");
        assert_str(ev.device, "d");
        assert_str(ev.lang, "en");
        ck_assert_int_eq(ev.ts, 1763900000000LL);
        ck_assert(ev.has_geo && ev.lat == 1.5 && ev.lon == 2.5);
    }
}
END_TEST

START_TEST(test_key_that_only_prefixes_the_next_field_is_unknown) {
    /* The field after the last one found is tried first: a key of another
     * length or other bytes must not be taken for it. */
    mm_event_t ev;
    ck_assert_int_eq(decode(S("{\"user_id\":\"u\",\"session\":\"s\",\"type\":\"query\","
                              "\"session_ie\":\"t\"}"),
                            &ev),
                     MM_ERR_OK);
    ck_assert_ptr_null(ev.session_id.p);
}
END_TEST

/* ------------------------------------------------------------- numbers */

/* Each literal decodes (as lat) to exactly what strtod makes of it: the
 * short exact path and the strtod fallback must not differ by one bit. */
static const char *const double_rows[] = {
    "55.68355", "-12.53019", "0", "-0.0", "0.1", "1.5e-3", "45e-1", "0.45E2", "1E+1",
    "12.34567890123456",                  /* 16 digits: the short path */
    "12.345678901234567",                 /* 17: strtod */
    "89.99999999999999999999",            /* more digits than 2^53: strtod */
    "0.0000000000000000000001",           /* 10^-22: the short path's last */
    "0.00000000000000000000001",          /* 10^-23: strtod */
    "2.2250738585072014e-308", "4.9e-324", "-1e-400", "1e22", "1e400",
};

START_TEST(test_decimal_is_exactly_strtods) {
    const char *lit = double_rows[_i];
    char rec[256];
    int len = snprintf(rec, sizeof(rec), "{\"user_id\":\"u\",\"type\":\"click\",\"lat\":%s,"
                                         "\"lon\":0}", lit);
    mm_decode_limits_t lim;
    mm_decode_limits_defaults(&lim);
    mm_event_t ev;
    mm_err_t err = decode_lim(rec, (size_t)len, &lim, &ev);
    double want = strtod(lit, NULL);
    if (!isfinite(want) || fabs(want) > 90) {
        ck_assert_int_ne(err, MM_ERR_OK); /* out of range for a latitude */
        return;
    }
    ck_assert_int_eq(err, MM_ERR_OK);
    ck_assert_msg(memcmp(&ev.lat, &want, sizeof(want)) == 0, "%s: %.17g, strtod %.17g", lit,
                  ev.lat, want);
}
END_TEST

/* Integers near where the no-overflow-check loop ends (18 digits). */
static const struct {
    const char *lit;
    long long want;
    bool ok;
} int_rows[] = {
    {"999999999999999999", 999999999999999999LL, true},
    {"-999999999999999999", -999999999999999999LL, true},
    {"1000000000000000000", 1000000000000000000LL, true},
    {"9223372036854775807", INT64_MAX, true},
    {"-9223372036854775808", INT64_MIN, true},
    {"9223372036854775808", 0, false},
    {"-9223372036854775809", 0, false},
    {"100000000000000000000", 0, false},
};

START_TEST(test_integer_is_exact_up_to_int64) {
    char rec[256];
    int len = snprintf(rec, sizeof(rec), "{\"user_id\":\"u\",\"type\":\"click\",\"ts\":%s}",
                       int_rows[_i].lit);
    mm_decode_limits_t lim;
    mm_decode_limits_defaults(&lim);
    lim.ts_min_ms = INT64_MIN;
    lim.ts_max_ms = INT64_MAX;
    mm_event_t ev;
    mm_err_t err = decode_lim(rec, (size_t)len, &lim, &ev);
    if (!int_rows[_i].ok) {
        ck_assert_msg(err != MM_ERR_OK, "%s decoded to %lld", int_rows[_i].lit,
                      (long long)ev.ts);
        return;
    }
    ck_assert_int_eq(err, MM_ERR_OK);
    ck_assert_int_eq(ev.ts, int_rows[_i].want);
}
END_TEST

/* --------------------------------------------------------- mm_json_valid */

static const struct {
    const char *text;
    bool valid;
} valid_rows[] = {
    {"{}", true},         {"[]", true},           {" 0 ", true},
    {"-0.5e+7", true},    {"\"\"", true},         {"null", true},
    {"[[[]]]", true},     {"{\"a\":{\"b\":[]}}", true},
    {"", false},          {" ", false},           {"{} {}", false},
    {"[", false},         {"\"\\ud800\"", false}, {"\"\xff\"", false},
    {"[[[[]]]]", false}, /* deeper than 3 */
    {"01", false},        {"1.", false},          {"{\"a\"}", false},
};

START_TEST(test_json_valid_matches_rfc_8259) {
    const char *t = valid_rows[_i].text;
    ck_assert_msg(mm_json_valid(at_page_end(t, strlen(t)), strlen(t), 3) ==
                      valid_rows[_i].valid,
                  "row %d: %s", _i, t);
}
END_TEST

/* ------------------------------------------------------------------ main */

#define N_ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *json_decode_suite(void) {
    Suite *s = suite_create("json_decode");
    TCase *tc = tcase_create("decode_valid");
    tcase_add_test(tc, test_contract_example_decodes_every_field);
    tcase_add_test(tc, test_unescaped_strings_are_views_into_the_record);
    tcase_add_test(tc, test_source_is_left_to_the_caller);
    tcase_add_loop_test(tc, test_escapes_are_unescaped, 0, N_ROWS(escape_rows));
    tcase_add_test(tc, test_escaped_key_matches_its_field);
    tcase_add_test(tc, test_integer_user_id_is_its_text);
    tcase_add_test(tc, test_integer_id_longer_than_field_bound_is_too_long);
    tcase_add_test(tc, test_integral_float_ts_is_accepted);
    tcase_add_test(tc, test_ts_bounds_are_inclusive);
    tcase_add_test(tc, test_nulls_are_absent_fields);
    tcase_add_test(tc, test_geo_needs_both_lat_and_lon);
    tcase_add_test(tc, test_fractional_page_load_is_rounded);
    tcase_add_test(tc, test_unknown_fields_are_validated_and_skipped);
    tcase_add_test(tc, test_leading_bom_is_skipped);
    tcase_add_test(tc, test_every_contract_type_decodes);
    suite_add_tcase(s, tc);

    tc = tcase_create("decode_malformed");
    tcase_add_loop_test(tc, test_malformed_record_gives_its_error, 0,
                        N_ROWS(bad_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("decode_limits");
    tcase_add_test(tc, test_record_over_max_record_bytes_is_too_large);
    tcase_add_test(tc, test_field_over_max_field_bytes_is_too_long);
    tcase_add_test(tc, test_nesting_past_max_depth_is_too_deep);
    tcase_add_test(tc, test_deep_garbage_stops_at_the_bound);
    tcase_add_test(tc, test_scratch_too_small_is_full_not_overrun);
    tcase_add_test(tc, test_scratch_of_record_size_always_suffices);
    tcase_add_test(tc, test_tiny_errstr_is_truncated_not_overrun);
    suite_add_tcase(s, tc);

    tc = tcase_create("decode_no_overread");
    tcase_add_test(tc, test_every_prefix_of_a_valid_record_is_an_error);
    tcase_add_test(tc, test_catalogue_at_page_end_never_over_reads);
    suite_add_tcase(s, tc);

    tc = tcase_create("decode_fast_paths");
    tcase_add_loop_test(tc, test_stop_byte_at_every_offset_is_seen, 0, 20);
    tcase_add_test(tc, test_non_ascii_after_the_closing_quote_is_not_the_strings);
    tcase_add_test(tc, test_fields_in_any_order_decode_the_same);
    tcase_add_test(tc, test_key_that_only_prefixes_the_next_field_is_unknown);
    tcase_add_loop_test(tc, test_decimal_is_exactly_strtods, 0, N_ROWS(double_rows));
    tcase_add_loop_test(tc, test_integer_is_exact_up_to_int64, 0, N_ROWS(int_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("json_valid");
    tcase_add_loop_test(tc, test_json_valid_matches_rfc_8259, 0,
                        N_ROWS(valid_rows));
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return mm_check_run(json_decode_suite());
}
