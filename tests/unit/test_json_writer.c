/*
 * mm_jw_*: escaping, invalid UTF-8 to U+FFFD, commas, number formatting, and
 * overflow that never writes past cap (guard bytes after the buffer).
 */
#include <check.h>

#include "check_run.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "consumer/consumer.h"
#include "sinks/sinks.h"

#define FFFD "\xEF\xBF\xBD"

static char out[4096];

/** The writer's output as a NUL-terminated string (asserting it is ok). */
static const char *done(mm_jw_t *jw) {
    ck_assert(mm_jw_ok(jw));
    ck_assert_uint_lt(jw->len, sizeof(out));
    out[jw->len] = '\0';
    ck_assert_msg(mm_json_valid(out, jw->len, 16), "invalid JSON: %s", out);
    return out;
}

/* --------------------------------------------------------------- escaping */

static const struct {
    const char *in;
    size_t len; /* 0: strlen */
    const char *want;
} escape_rows[] = {
    {"plain", 0, "\"plain\""},
    {"", 0, "\"\""},
    {"a\"b", 0, "\"a\\\"b\""},
    {"back\\slash", 0, "\"back\\\\slash\""},
    {"\b\f\n\r\t", 0, "\"\\b\\f\\n\\r\\t\""},
    {"\x01\x1f", 0, "\"\\u0001\\u001f\""},
    {"a\0b", 3, "\"a\\u0000b\""},
    {"\x7f/", 0, "\"\x7f/\""},
    {"n\xc3\xa6r caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0,
     "\"n\xc3\xa6r caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
    {"\xff", 0, "\"" FFFD "\""},
    {"a\xc3", 0, "\"a" FFFD "\""},          /* truncated 2-byte */
    {"\xe2\x82", 0, "\"" FFFD "\""},        /* truncated 3-byte: one */
    {"\xe2\x82x", 0, "\"" FFFD "x\""},      /* maximal subpart, then x */
    {"\xc0\xaf", 0, "\"" FFFD FFFD "\""},   /* overlong */
    {"\xed\xa0\x80", 0, "\"" FFFD FFFD FFFD "\""}, /* encoded surrogate */
    {"\xf4\x90\x80\x80", 0, "\"" FFFD FFFD FFFD FFFD "\""}, /* > U+10FFFF */
    {"\x80\"", 0, "\"" FFFD "\\\"\""},
};

START_TEST(test_string_is_escaped) {
    mm_jw_t jw;
    const char *in = escape_rows[_i].in;
    size_t len = escape_rows[_i].len ? escape_rows[_i].len : strlen(in);
    mm_jw_init(&jw, out, sizeof(out));
    mm_jw_string(&jw, in, len);
    ck_assert_str_eq(done(&jw), escape_rows[_i].want);
}
END_TEST

START_TEST(test_key_is_escaped) {
    mm_jw_t jw;
    mm_jw_init(&jw, out, sizeof(out));
    mm_jw_object_open(&jw);
    mm_jw_key(&jw, "a\"\n\xff");
    mm_jw_int(&jw, 1);
    mm_jw_object_close(&jw);
    ck_assert_str_eq(done(&jw), "{\"a\\\"\\n" FFFD "\":1}");
}
END_TEST

START_TEST(test_any_bytes_give_valid_json) {
    /* 2000 random byte strings, biased to the interesting bytes. */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    unsigned char in[64];
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < sizeof(in); i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            unsigned char c = (unsigned char)x;
            in[i] = (x >> 8) % 4 == 0 ? (unsigned char)("\"\\\x80\xc3\xed\xf4"
                                                        "\x01\xe2")[c % 8]
                                      : c;
        }
        mm_jw_t jw;
        mm_jw_init(&jw, out, sizeof(out));
        mm_jw_array_open(&jw);
        mm_jw_string(&jw, (const char *)in, (size_t)(x % sizeof(in)));
        mm_jw_array_close(&jw);
        done(&jw);
        ck_assert(mm_utf8_valid(out, jw.len));
    }
}
END_TEST

START_TEST(test_str_and_cstr_null_are_null) {
    mm_jw_t jw;
    mm_jw_init(&jw, out, sizeof(out));
    mm_jw_array_open(&jw);
    mm_jw_str(&jw, (mm_str_t){NULL, 5});
    mm_jw_cstr(&jw, NULL);
    mm_jw_str(&jw, MM_STR_LIT("s"));
    mm_jw_cstr(&jw, "c");
    mm_jw_array_close(&jw);
    ck_assert_str_eq(done(&jw), "[null,null,\"s\",\"c\"]");
}
END_TEST

/* ----------------------------------------------------------------- commas */

START_TEST(test_commas_are_placed_per_depth) {
    mm_jw_t jw;
    mm_jw_init(&jw, out, sizeof(out));
    mm_jw_object_open(&jw);
    mm_jw_key(&jw, "a");
    mm_jw_int(&jw, 1);
    mm_jw_key(&jw, "b");
    mm_jw_array_open(&jw);
    mm_jw_int(&jw, 1);
    mm_jw_bool(&jw, true);
    mm_jw_object_open(&jw);
    mm_jw_key(&jw, "c");
    mm_jw_null(&jw);
    mm_jw_object_close(&jw);
    mm_jw_array_open(&jw);
    mm_jw_array_close(&jw);
    mm_jw_array_close(&jw);
    mm_jw_key(&jw, "d");
    mm_jw_object_open(&jw);
    mm_jw_object_close(&jw);
    mm_jw_key(&jw, "e:");
    mm_jw_string(&jw, "x:", 2);
    mm_jw_key(&jw, "f");
    mm_jw_bool(&jw, false);
    mm_jw_object_close(&jw);
    ck_assert_str_eq(done(&jw), "{\"a\":1,\"b\":[1,true,{\"c\":null},[]],"
                                "\"d\":{},\"e:\":\"x:\",\"f\":false}");
}
END_TEST

START_TEST(test_nesting_past_max_depth_is_not_ok) {
    mm_jw_t jw;
    mm_jw_init(&jw, out, sizeof(out));
    for (int i = 0; i < MM_JW_MAX_DEPTH; i++)
        mm_jw_array_open(&jw);
    ck_assert(mm_jw_ok(&jw));
    mm_jw_array_open(&jw);
    ck_assert(!mm_jw_ok(&jw));
}
END_TEST

START_TEST(test_closing_unopened_is_not_ok) {
    mm_jw_t jw;
    mm_jw_init(&jw, out, sizeof(out));
    mm_jw_object_close(&jw);
    ck_assert(!mm_jw_ok(&jw));
}
END_TEST

/* ---------------------------------------------------------------- numbers */

static const struct {
    int64_t v;
    const char *want;
} int_rows[] = {
    {0, "0"},
    {-1, "-1"},
    {1763900000000LL, "1763900000000"},
    {INT64_MAX, "9223372036854775807"},
    {INT64_MIN, "-9223372036854775808"},
    /* two digits at a time: odd and even digit counts, zeros inside */
    {9, "9"}, {10, "10"}, {99, "99"}, {100, "100"}, {101, "101"}, {1000, "1000"},
    {10001, "10001"}, {-100, "-100"}, {1000000000000000000LL, "1000000000000000000"},
};

START_TEST(test_int_is_decimal) {
    mm_jw_t jw;
    mm_jw_init(&jw, out, sizeof(out));
    mm_jw_int(&jw, int_rows[_i].v);
    ck_assert_str_eq(done(&jw), int_rows[_i].want);
}
END_TEST

static const struct {
    double v;
    int decimals;
    const char *want;
} double_rows[] = {
    {0.91, 3, "0.91"},
    {(double)0.91f, 3, "0.91"}, /* a float score is not 0.910000026 */
    {1.0, 3, "1"},
    {0.0, 3, "0"},
    {-0.0, 3, "0"},
    {-0.0001, 3, "0"}, /* rounds to zero: no "-0" */
    {0.0004, 3, "0"},
    {0.0005, 3, "0.001"},
    {0.12, 3, "0.12"},
    {0.08, 3, "0.08"},
    {-1.25, 2, "-1.25"},
    {1234.5678, 2, "1234.57"},
    {0.999, 2, "1"},
    {12.5, 0, "13"},
    {55.676123456, 5, "55.67612"},
    {-3.70380, 5, "-3.7038"},
    {600000.0, 3, "600000"},
    {1.5, -3, "2"},   /* decimals clamped to 0 */
    {0.123456789123, 20, "0.123456789"}, /* clamped to 9 */
    {NAN, 3, "null"},
    {INFINITY, 3, "null"},
    {-INFINITY, 3, "null"},
    {1e20, 3, "1e+20"},
    {-2.5e300, 3, "-2.5000000000000001e+300"},
};

START_TEST(test_double_has_fixed_decimals_trailing_zeros_cut) {
    mm_jw_t jw;
    mm_jw_init(&jw, out, sizeof(out));
    mm_jw_double(&jw, double_rows[_i].v, double_rows[_i].decimals);
    ck_assert_str_eq(done(&jw), double_rows[_i].want);
}
END_TEST

/* llround's half away from zero, where a shortcut could differ. */
static const double round_rows[] = {
    0.0, 0.5, 1.5, 2.5, 0.49999999999999994, 0.5000000000000001, 1.4999999999999998,
    4503599627370495.5, 4503599627370496.0, 9007199254740993.0, 123456.4999, 910.0000001,
    9.1e18,
};

START_TEST(test_round_is_llround) {
    double x = round_rows[_i];
    ck_assert_msg(mm_jw_round(x) == (uint64_t)llround(x), "%.17g: %llu, llround %lld", x,
                  (unsigned long long)mm_jw_round(x), (long long)llround(x));
}
END_TEST

/* ------------------------------------------------ word-at-a-time escaping */

/** What the writer must make of s[0, n) when its only non-plain byte is an
 * ASCII one: the same rules, one byte at a time. */
static size_t reference_escape(const char *s, size_t n, char *o) {
    size_t k = 0;
    o[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            o[k++] = '\\';
            o[k++] = (char)c;
        } else if (c == '\n') {
            o[k++] = '\\';
            o[k++] = 'n';
        } else if (c < 0x20) {
            k += (size_t)sprintf(o + k, "\\u%04x", c);
        } else {
            o[k++] = (char)c;
        }
    }
    o[k++] = '"';
    return k;
}

START_TEST(test_special_byte_at_every_offset_and_length) {
    /* Plain runs are found a word at a time (two overlapping half-words for
     * 4 to 7 bytes, an overlapping last word from 8 on): every length up to
     * 40 and one special byte at every offset, else none. */
    static const char specials[] = {'"', '\\', '\n', '\x01', '\x1f'};
    char s[48], want[512];
    size_t n = (size_t)_i;
    for (size_t at = 0; at <= n; at++) { /* at == n: no special byte */
        for (size_t k = 0; k < sizeof(specials); k++) {
            for (size_t i = 0; i < n; i++)
                s[i] = (char)('a' + i % 26);
            if (at < n)
                s[at] = specials[k];
            mm_jw_t jw;
            mm_jw_init(&jw, out, sizeof(out));
            mm_jw_string(&jw, s, n);
            size_t wlen = reference_escape(s, n, want);
            ck_assert_msg(jw.len == wlen && memcmp(done(&jw), want, wlen) == 0,
                          "length %zu, byte 0x%02x at %zu: %s", n,
                          (unsigned char)specials[k], at, out);
            if (at == n)
                break;
        }
    }
}
END_TEST

START_TEST(test_non_ascii_at_every_offset_is_kept_or_replaced) {
    char s[48], want[64];
    size_t n = (size_t)_i;
    for (size_t at = 0; at + 2 <= n; at++) {
        for (int bad = 0; bad < 2; bad++) {
            memset(s, 'x', n);
            memcpy(s + at, bad ? "\xff" "y" : "\xc3\xa6", 2);
            memset(want, 'x', n + 2);
            want[0] = '"';
            memcpy(want + 1 + at, bad ? FFFD "y" : "\xc3\xa6", bad ? 4 : 2);
            size_t wlen = n + 2 + (bad ? 2u : 0u);
            memset(want + 1 + at + (bad ? 4 : 2), 'x', n - at - 2);
            want[wlen - 1] = '"';
            mm_jw_t jw;
            mm_jw_init(&jw, out, sizeof(out));
            mm_jw_string(&jw, s, n);
            ck_assert_msg(jw.len == wlen && memcmp(done(&jw), want, wlen) == 0,
                          "length %zu, %s at %zu: %s", n, bad ? "0xff" : "U+00E6", at, out);
        }
    }
}
END_TEST

START_TEST(test_string_at_the_end_of_its_memory_is_not_over_read) {
    /* A string view may end on the last byte before an unreadable page:
     * its plain-run scan must not load past it, at any length. */
    long page = sysconf(_SC_PAGESIZE);
    char *two = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(two, MAP_FAILED);
    ck_assert_int_eq(mprotect(two + page, (size_t)page, PROT_NONE), 0);
    for (size_t n = 0; n <= 40; n++) {
        char *s = two + page - n;
        memset(s, 'p', n);
        mm_jw_t jw;
        mm_jw_init(&jw, out, sizeof(out));
        mm_jw_string(&jw, s, n);
        ck_assert_uint_eq(jw.len, n + 2);
    }
    munmap(two, 2 * (size_t)page);
}
END_TEST

/* ------------------------------------------------------------- key text */

START_TEST(test_key_text_equals_plain_key) {
    /* First member (no comma) and later ones, at two depths. */
    char a[256], b[256];
    mm_jw_t ja, jb;
    mm_jw_init(&ja, a, sizeof(a));
    mm_jw_init(&jb, b, sizeof(b));
    mm_jw_object_open(&ja);
    mm_jw_object_open(&jb);
    mm_jw_key_text(&ja, MM_JW_KEY_TEXT("journey_stage"));
    mm_jw_key_plain(&jb, "journey_stage");
    mm_jw_int(&ja, 1);
    mm_jw_int(&jb, 1);
    mm_jw_key_text(&ja, MM_JW_KEY_TEXT("o"));
    mm_jw_key_plain(&jb, "o");
    mm_jw_object_open(&ja);
    mm_jw_object_open(&jb);
    mm_jw_key_text(&ja, MM_JW_KEY_TEXT("x"));
    mm_jw_key_plain(&jb, "x");
    mm_jw_null(&ja);
    mm_jw_null(&jb);
    mm_jw_key_text(&ja, MM_JW_KEY_TEXT("window_ms"));
    mm_jw_key_plain(&jb, "window_ms");
    mm_jw_string(&ja, "v", 1);
    mm_jw_string(&jb, "v", 1);
    mm_jw_object_close(&ja);
    mm_jw_object_close(&jb);
    mm_jw_object_close(&ja);
    mm_jw_object_close(&jb);
    ck_assert(mm_jw_ok(&ja) && mm_jw_ok(&jb));
    ck_assert_uint_eq(ja.len, jb.len);
    ck_assert(memcmp(a, b, ja.len) == 0);
    ck_assert(memcmp(a, "{\"journey_stage\":1,\"o\":{\"x\":null,\"window_ms\":\"v\"}}", ja.len) ==
              0);
}
END_TEST

START_TEST(test_key_text_that_does_not_fit_is_dropped_whole) {
    char buf[32];
    memset(buf, 'G', sizeof(buf));
    mm_jw_t jw;
    mm_jw_init(&jw, buf, 12); /* {"window_ms": is 13 bytes */
    mm_jw_object_open(&jw);
    mm_jw_key_text(&jw, MM_JW_KEY_TEXT("window_ms"));
    ck_assert(!mm_jw_ok(&jw));
    ck_assert_uint_eq(jw.len, 1);
    for (size_t i = 1; i < sizeof(buf); i++)
        ck_assert_int_eq(buf[i], 'G');
}
END_TEST

/* --------------------------------------------------------------- overflow */

/** A document touching every writer call; cap bytes of room. */
static void write_doc(mm_jw_t *jw) {
    mm_jw_object_open(jw);
    mm_jw_key(jw, "s");
    mm_jw_string(jw, "q\"\n\xff\xc3\xa6", 6);
    mm_jw_key(jw, "n");
    mm_jw_array_open(jw);
    mm_jw_int(jw, -42);
    mm_jw_double(jw, 0.125, 3);
    mm_jw_double(jw, NAN, 3);
    mm_jw_bool(jw, true);
    mm_jw_null(jw);
    mm_jw_array_close(jw);
    mm_jw_key(jw, "o");
    mm_jw_object_open(jw);
    mm_jw_key_plain(jw, "plain_key");
    mm_jw_int(jw, 7);
    mm_jw_object_close(jw);
    mm_jw_object_close(jw);
}

START_TEST(test_overflow_never_writes_past_cap) {
    char full[256];
    mm_jw_t jw;
    mm_jw_init(&jw, full, sizeof(full));
    write_doc(&jw);
    ck_assert(mm_jw_ok(&jw));
    size_t need = jw.len;
    for (size_t cap = 0; cap <= need; cap++) {
        char buf[256 + 16];
        memset(buf, 'G', sizeof(buf));
        mm_jw_init(&jw, buf, cap);
        write_doc(&jw);
        ck_assert_uint_le(jw.len, cap);
        ck_assert(mm_jw_ok(&jw) == (cap == need));
        for (size_t i = cap; i < sizeof(buf); i++)
            ck_assert_msg(buf[i] == 'G', "cap %zu: byte %zu written", cap, i);
        if (cap == need)
            ck_assert(memcmp(buf, full, need) == 0);
    }
}
END_TEST

START_TEST(test_plain_key_equals_escaped_key) {
    char a[64], b[64];
    mm_jw_t ja, jb;
    mm_jw_init(&ja, a, sizeof(a));
    mm_jw_init(&jb, b, sizeof(b));
    mm_jw_object_open(&ja);
    mm_jw_object_open(&jb);
    mm_jw_key(&ja, "window_ms");
    mm_jw_key_plain(&jb, "window_ms");
    mm_jw_int(&ja, 1);
    mm_jw_int(&jb, 1);
    mm_jw_object_close(&ja);
    mm_jw_object_close(&jb);
    ck_assert_uint_eq(ja.len, jb.len);
    ck_assert(memcmp(a, b, ja.len) == 0);
}
END_TEST

START_TEST(test_null_buffer_is_overflow_not_crash) {
    mm_jw_t jw;
    mm_jw_init(&jw, NULL, 100);
    mm_jw_int(&jw, 1);
    ck_assert(!mm_jw_ok(&jw));
    ck_assert_uint_eq(jw.len, 0);
}
END_TEST

/* ------------------------------------------------------------------ main */

#define N_ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *json_writer_suite(void) {
    Suite *s = suite_create("json_writer");
    TCase *tc = tcase_create("writer_escaping");
    tcase_add_loop_test(tc, test_string_is_escaped, 0, N_ROWS(escape_rows));
    tcase_add_test(tc, test_key_is_escaped);
    tcase_add_test(tc, test_any_bytes_give_valid_json);
    tcase_add_test(tc, test_str_and_cstr_null_are_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("writer_structure");
    tcase_add_test(tc, test_commas_are_placed_per_depth);
    tcase_add_test(tc, test_nesting_past_max_depth_is_not_ok);
    tcase_add_test(tc, test_closing_unopened_is_not_ok);
    suite_add_tcase(s, tc);

    tc = tcase_create("writer_numbers");
    tcase_add_loop_test(tc, test_int_is_decimal, 0, N_ROWS(int_rows));
    tcase_add_loop_test(tc, test_double_has_fixed_decimals_trailing_zeros_cut,
                        0, N_ROWS(double_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("writer_fast_paths");
    tcase_add_loop_test(tc, test_round_is_llround, 0, N_ROWS(round_rows));
    tcase_add_loop_test(tc, test_special_byte_at_every_offset_and_length, 0, 41);
    tcase_add_loop_test(tc, test_non_ascii_at_every_offset_is_kept_or_replaced, 2, 41);
    tcase_add_test(tc, test_string_at_the_end_of_its_memory_is_not_over_read);
    tcase_add_test(tc, test_key_text_equals_plain_key);
    tcase_add_test(tc, test_key_text_that_does_not_fit_is_dropped_whole);
    suite_add_tcase(s, tc);

    tc = tcase_create("writer_overflow");
    tcase_add_test(tc, test_overflow_never_writes_past_cap);
    tcase_add_test(tc, test_plain_key_equals_escaped_key);
    tcase_add_test(tc, test_null_buffer_is_overflow_not_crash);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return mm_check_run(json_writer_suite());
}
