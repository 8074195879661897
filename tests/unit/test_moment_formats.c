/*
 * The JSON and Avro encodings of a moment carry the same fields and values:
 *  - the field walk (mm_moment_visit) written as JSON is byte for byte what
 *    mm_moment_to_json() writes, so the walk is the JSON contract;
 *  - the Avro encoding, decoded by Avro C's generic reader with
 *    schemas/moment.avsc, holds exactly the walk's values, field by field.
 */
#include <avro.h>
#include <check.h>

#include "check_run.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/consumer.h"
#include "sinks/sinks.h"

/* ---------------------------------------------------------- fixtures */

static mm_event_t g_ev;
static mm_moment_t g_m;
/* A strategy row with the optional offer, and one without it. */
static const mm_strategy_t g_offer = {"find options nearby", "local listings, maps",
                                      "minutes to hours", "spring-\"sale\"-42"};
static const mm_strategy_t g_plain = {"gather information", "guides", "long", NULL};

/** Which moment: 0 full (a strategy with an offer), 1 every optional part
 * absent (no strategy at all), 2 invalid UTF-8 and awkward numbers (a
 * strategy without an offer). */
static void make_moment(int variant) {
    mm_event_init(&g_ev);
    memset(&g_m, 0, sizeof(g_m));
    g_ev.type = MM_EVENT_QUERY;
    g_ev.user_id = MM_STR_LIT("u42");
    g_ev.source = (mm_source_t){MM_STR_LIT("events"), 3, 1234};
    g_m.event = &g_ev;
    g_m.local_hour = -1;
    if (variant == 1) {
        g_m.type = MM_MOMENT_KNOW;
        g_m.confidence = 0.5f;
        return;
    }
    g_ev.event_id = MM_STR_LIT("e-17");
    g_ev.session_id = MM_STR_LIT("s9");
    g_ev.device = MM_STR_LIT("mobile");
    g_ev.channel = MM_STR_LIT("search");
    g_ev.ts = 1763900000000LL;
    g_ev.has_ts = true;
    g_m.type = MM_MOMENT_GO;
    g_m.strategy = variant == 0 ? &g_offer : &g_plain;
    g_m.confidence = 0.91f;
    g_m.scores[0] = 0.12f;
    g_m.scores[1] = 0.91f;
    g_m.scores[3] = 0.0805f;
    g_m.stage = MM_STAGE_DECISION;
    g_m.local_hour = 12;
    g_m.ordinal = 1;
    g_m.n_signals = 3;
    g_m.signals[0] = (mm_signal_t){.name = "keyword", .value = MM_STR_LIT("near me"),
                                   .lang = "en"};
    g_m.signals[1] = (mm_signal_t){.name = "location_burst", .count = 4, .has_count = true,
                                   .window_ms = 600000, .has_window = true};
    g_m.signals[2] = (mm_signal_t){.name = "slow_page", .number = 4200.4567,
                                   .has_number = true};
    if (variant == 2) {
        g_ev.user_id = (mm_str_t){"u\xff\xc3(x\xe2\x82", 7};
        g_ev.device = (mm_str_t){"tab\"let\n", 8};
        g_m.signals[0].value = (mm_str_t){"n\xed\xa0\x80r", 5}; /* a surrogate */
        g_m.signals[2].number = -0.0004;
        g_m.confidence = 1.0f;
        g_m.scores[2] = 0.9995f;
        g_ev.source.offset = INT64_MAX;
        g_ev.source.partition = INT32_MAX;
    }
}

/* ------------------------------------------------------------- JSON */

START_TEST(test_visitor_json_is_moment_to_json) {
    make_moment(_i);
    char a[8192], b[8192];
    size_t na = mm_moment_to_json(&g_m, 1763900000004LL, a, sizeof(a));
    mm_jw_t jw;
    mm_jw_init(&jw, b, sizeof(b));
    mm_moment_visit(&g_m, 1763900000004LL, mm_moment_visit_json, &jw);
    ck_assert(mm_jw_ok(&jw));
    ck_assert_uint_gt(na, 0);
    ck_assert_msg(na == jw.len && memcmp(a, b, na) == 0, "\njson: %.*s\nwalk: %.*s", (int)na,
                  a, (int)jw.len, b);
    ck_assert(mm_json_valid(b, jw.len, 8));
}
END_TEST

/* ------------------------------------------------------------- Avro */

static char *slurp(const char *path) {
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s", path);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static avro_schema_t file_schema(void) {
    char *json = slurp(MM_SOURCE_DIR "/schemas/moment.avsc");
    avro_schema_t s = NULL;
    ck_assert_msg(avro_schema_from_json_length(json, strlen(json), &s) == 0, "%s",
                  avro_strerror());
    free(json);
    return s;
}

/** Compares each step of the walk with the decoded Avro value. */
typedef struct cmp_s {
    avro_value_t stack[8];
    size_t next_item[8]; /* arrays: the item to compare next */
    int depth;
    int fields; /* values compared */
    char failure[512];
} cmp_t;

static void cmp_fail(cmp_t *c, const mm_mf_t *f, const char *what) {
    if (!c->failure[0])
        snprintf(c->failure, sizeof(c->failure), "field %s: %s", f->key ? f->key : "(item)",
                 what);
}

/** The field's value; for ["null", T], the branch (false when null). */
static bool field_value(cmp_t *c, const mm_mf_t *f, avro_value_t *out) {
    avro_value_t *top = &c->stack[c->depth - 1], v;
    int rc = f->key ? avro_value_get_by_name(top, f->key, &v, NULL)
                    : avro_value_get_by_index(top, c->next_item[c->depth - 1]++, &v, NULL);
    if (rc != 0) {
        cmp_fail(c, f, "not in the Avro record");
        return false;
    }
    if (f->presence == MM_MF_REQUIRED) {
        if (avro_value_get_type(&v) == AVRO_UNION)
            cmp_fail(c, f, "required in the walk, a union in the schema");
        *out = v;
        return true;
    }
    int disc = -1;
    if (avro_value_get_type(&v) != AVRO_UNION || avro_value_get_discriminant(&v, &disc) != 0) {
        cmp_fail(c, f, "optional in the walk, not a union in the schema");
        return false;
    }
    if (disc != (f->present ? 1 : 0))
        cmp_fail(c, f, "presence differs");
    avro_value_get_current_branch(&v, out);
    return f->present;
}

static void compare(void *ctx, const mm_mf_t *f) {
    cmp_t *c = ctx;
    avro_value_t v;
    c->fields++;
    switch (f->kind) {
    case MM_MF_OBJECT_BEGIN:
    case MM_MF_ARRAY_BEGIN:
        if (c->depth == 0) {
            c->depth = 1; /* the top-level record is already stack[0] */
            return;
        }
        if (field_value(c, f, &v)) {
            size_t n = 0;
            if (f->kind == MM_MF_ARRAY_BEGIN && (avro_value_get_size(&v, &n) || n != f->count))
                cmp_fail(c, f, "item count differs");
            c->next_item[c->depth] = 0;
            c->stack[c->depth++] = v;
        }
        return;
    case MM_MF_OBJECT_END:
    case MM_MF_ARRAY_END: c->depth--; return;
    default: break;
    }
    if (!field_value(c, f, &v))
        return;
    const char *s;
    size_t len;
    int32_t i32;
    int64_t i64;
    double d;
    switch (f->kind) {
    case MM_MF_STRING:
        if (avro_value_get_string(&v, &s, &len) != 0)
            cmp_fail(c, f, "not a string");
        else if (len != f->str.len + 1 || memcmp(s, f->str.p, f->str.len) != 0)
            cmp_fail(c, f, "string differs"); /* Avro C counts the NUL */
        return;
    case MM_MF_INT:
        if (avro_value_get_type(&v) == AVRO_INT32) {
            if (avro_value_get_int(&v, &i32) != 0 || i32 != f->i)
                cmp_fail(c, f, "int differs");
        } else if (avro_value_get_long(&v, &i64) != 0 || i64 != f->i) {
            cmp_fail(c, f, "long differs");
        }
        return;
    case MM_MF_DOUBLE:
        if (avro_value_get_double(&v, &d) != 0 || d != f->d)
            cmp_fail(c, f, "double differs");
        return;
    default: return;
    }
}

/** Strings of the walk with invalid UTF-8 made valid, as both encoders do:
 * the walk itself hands over the raw bytes. */
static int variant_has_bad_utf8(int variant) { return variant == 2; }

START_TEST(test_avro_decodes_to_the_walks_values) {
    make_moment(_i);
    char buf[8192];
    size_t n = mm_moment_to_avro(&g_m, 1763900000004LL, 42, buf, sizeof(buf));
    ck_assert_uint_gt(n, MM_AVRO_HEADER_LEN);
    ck_assert_mem_eq(buf, "\0\0\0\0\x2a", 5);
    avro_schema_t schema = file_schema();
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec;
    avro_generic_value_new(iface, &rec);
    avro_reader_t rd = avro_reader_memory(buf + 5, (int64_t)(n - 5));
    ck_assert_msg(avro_value_read(rd, &rec) == 0, "%s", avro_strerror());
    size_t used = 0;
    ck_assert_int_eq(avro_value_sizeof(&rec, &used), 0);
    ck_assert_uint_eq(used, n - 5); /* every byte is the record's */
    cmp_t c = {.depth = 0};
    c.stack[0] = rec;
    if (variant_has_bad_utf8(_i)) {
        /* Compare what Avro holds with the JSON text instead: both replace
         * the same bytes with U+FFFD. */
        avro_value_t f;
        const char *s;
        size_t len;
        char js[8192];
        size_t jn = mm_moment_to_json(&g_m, 1763900000004LL, js, sizeof(js) - 1);
        avro_value_get_by_name(&rec, "user_id", &f, NULL);
        avro_value_get_string(&f, &s, &len);
        char want[64];
        snprintf(want, sizeof(want), "\"user_id\":\"%s\"", s);
        js[jn] = '\0';
        ck_assert_msg(strstr(js, want) != NULL, "%s not in %s", want, js);
    } else {
        mm_moment_visit(&g_m, 1763900000004LL, compare, &c);
        ck_assert_msg(!c.failure[0], "%s", c.failure);
        ck_assert_int_gt(c.fields, 30);
    }
    avro_reader_free(rd);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
}
END_TEST

START_TEST(test_avro_too_small_buffer_is_zero) {
    make_moment(0);
    char buf[8192];
    size_t n = mm_moment_to_avro(&g_m, 1, 1, buf, sizeof(buf));
    for (size_t cap = 0; cap < n; cap++)
        ck_assert_uint_eq(mm_moment_to_avro(&g_m, 1, 1, buf, cap), 0);
    ck_assert_uint_eq(mm_moment_to_avro(&g_m, 1, 1, buf, n), n);
}
END_TEST

START_TEST(test_embedded_moment_schema_matches_file) {
    avro_schema_t file = file_schema(), built_in = NULL;
    const char *json = mm_avro_moment_schema();
    ck_assert_int_eq(avro_schema_from_json_length(json, strlen(json), &built_in), 0);
    ck_assert(avro_schema_equal(file, built_in));
    avro_schema_decref(file);
    avro_schema_decref(built_in);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("moment_formats");
    TCase *tc = tcase_create("moment_formats");
    tcase_add_loop_test(tc, test_visitor_json_is_moment_to_json, 0, 3);
    tcase_add_loop_test(tc, test_avro_decodes_to_the_walks_values, 0, 3);
    tcase_add_test(tc, test_avro_too_small_buffer_is_zero);
    tcase_add_test(tc, test_embedded_moment_schema_matches_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return mm_check_run(suite());
}
