/*
 * Avro input: Confluent-framed records, writer schemas from files or a
 * Schema Registry (served by a thread in this test), resolution against
 * schemas/event.avsc, and the same validation as JSON. Records are written
 * with Avro C's generic writer, as a producer would.
 */
#include <arpa/inet.h>
#include <avro.h>
#include <check.h>

#include "check_run.h"
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "consumer/consumer.h"

#define SCHEMA_DIR MM_SOURCE_DIR "/schemas"

/* A producer's next version: fields added in every position, of every
 * complex type, so that skipping is exercised; ts written as int. */
static const char *V2_AVSC =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"io.micromoment\",\"fields\":["
    "{\"name\":\"schema_version\",\"type\":\"int\"},"
    "{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
    "{\"name\":\"type\",\"type\":\"string\"},"
    "{\"name\":\"attrs\",\"type\":{\"type\":\"map\",\"values\":[\"null\",\"long\",\"double\"]}},"
    "{\"name\":\"geo\",\"type\":{\"type\":\"record\",\"name\":\"Geo\",\"fields\":["
    "{\"name\":\"city\",\"type\":\"string\"},{\"name\":\"acc\",\"type\":\"float\"}]}},"
    "{\"name\":\"query\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\",\"symbols\":[\"A\",\"B\"]}},"
    "{\"name\":\"hash\",\"type\":{\"type\":\"fixed\",\"name\":\"H\",\"size\":4}},"
    "{\"name\":\"lat\",\"type\":\"float\"},"
    "{\"name\":\"lon\",\"type\":[\"null\",\"int\"]},"
    "{\"name\":\"page_load_ms\",\"type\":\"int\"},"
    "{\"name\":\"blob\",\"type\":\"bytes\"},"
    "{\"name\":\"ok\",\"type\":\"boolean\"}"
    "]}";

/* ------------------------------------------------------------- helpers */

static avro_schema_t parse(const char *json) {
    avro_schema_t s = NULL;
    ck_assert_msg(avro_schema_from_json_length(json, strlen(json), &s) == 0, "%s",
                  avro_strerror());
    return s;
}

static char *slurp(const char *path) {
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s", path);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* Schema files live only until the decoder has read them (at _new). */
static char g_tmp[8][64];
static int g_ntmp;

static void tmp_cleanup(void) {
    while (g_ntmp > 0)
        unlink(g_tmp[--g_ntmp]);
}

static char *tmp_schema_file(const char *json) {
    ck_assert_int_lt(g_ntmp, 8);
    char *path = g_tmp[g_ntmp++];
    snprintf(path, sizeof(g_tmp[0]), "/tmp/mm-avro-test-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    return path;
}

/** A decoder with event.avsc as id 1 and V2 as id 2 (plus @p extra). */
static mm_avro_decoder_t *decoder_with(const char *extra) {
    char spec[512], err[512];
    char v2[64];
    snprintf(v2, sizeof(v2), "%s", tmp_schema_file(V2_AVSC));
    snprintf(spec, sizeof(spec), "1=%s/event.avsc,2=%s%s%s", SCHEMA_DIR, v2,
             extra ? "," : "", extra ? extra : "");
    mm_avro_conf_t conf;
    mm_avro_conf_defaults(&conf);
    conf.schema_files = spec;
    mm_avro_decoder_t *dec = mm_avro_decoder_new(&conf, err, sizeof(err));
    tmp_cleanup();
    ck_assert_msg(dec != NULL, "%s", err);
    return dec;
}

static void set_branch_str(avro_value_t *rec, const char *name, const char *s) {
    avro_value_t f, b;
    ck_assert_int_eq(avro_value_get_by_name(rec, name, &f, NULL), 0);
    if (avro_value_get_type(&f) == AVRO_UNION) {
        ck_assert_int_eq(avro_value_set_branch(&f, s ? 1 : 0, &b), 0);
        if (s)
            avro_value_set_string(&b, s);
        else
            avro_value_set_null(&b);
    } else {
        avro_value_set_string(&f, s);
    }
}

static avro_value_t *branch(avro_value_t *rec, const char *name, int idx, avro_value_t *b) {
    avro_value_t f;
    ck_assert_int_eq(avro_value_get_by_name(rec, name, &f, NULL), 0);
    ck_assert_int_eq(avro_value_set_branch(&f, idx, b), 0);
    return b;
}

/** Frame @p v (schema id @p id) into out; returns the length. */
static size_t frame(avro_value_t *v, uint32_t id, char *out, size_t cap) {
    out[0] = 0;
    out[1] = (char)(id >> 24);
    out[2] = (char)(id >> 16);
    out[3] = (char)(id >> 8);
    out[4] = (char)id;
    avro_writer_t w = avro_writer_memory(out + 5, (int64_t)(cap - 5));
    ck_assert_msg(avro_value_write(w, v) == 0, "%s", avro_strerror());
    size_t n = (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    return n + 5;
}

typedef struct rec_s {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t v;
} rec_t;

static void rec_new(rec_t *r, const char *json) {
    r->schema = parse(json);
    r->iface = avro_generic_class_from_schema(r->schema);
    ck_assert_int_eq(avro_generic_value_new(r->iface, &r->v), 0);
}

static void rec_free(rec_t *r) {
    avro_value_decref(&r->v);
    avro_value_iface_decref(r->iface);
    avro_schema_decref(r->schema);
}

/** A full v1 record (event.avsc, id 1). */
static size_t v1_record(char *out, size_t cap, const char *user_id, const char *type,
                        int64_t ts, const char *query) {
    char *json = slurp(SCHEMA_DIR "/event.avsc");
    rec_t r;
    avro_value_t b;
    rec_new(&r, json);
    free(json);
    set_branch_str(&r.v, "event_id", "e-17");
    set_branch_str(&r.v, "user_id", user_id);
    set_branch_str(&r.v, "session_id", "s9");
    avro_value_set_long(branch(&r.v, "ts", 1, &b), ts);
    set_branch_str(&r.v, "type", type);
    set_branch_str(&r.v, "query", query);
    set_branch_str(&r.v, "device", "mobile");
    set_branch_str(&r.v, "channel", "search");
    set_branch_str(&r.v, "lang", "en");
    avro_value_set_double(branch(&r.v, "lat", 1, &b), 55.676);
    avro_value_set_double(branch(&r.v, "lon", 1, &b), 12.568);
    avro_value_set_int(branch(&r.v, "tz_offset_min", 1, &b), 60);
    set_branch_str(&r.v, "url", NULL);
    avro_value_set_null(branch(&r.v, "page_load_ms", 0, &b));
    avro_value_set_boolean(branch(&r.v, "in_store", 1, &b), 1);
    avro_value_set_double(branch(&r.v, "value", 1, &b), 19.5);
    set_branch_str(&r.v, "currency", "EUR");
    size_t n = frame(&r.v, 1, out, cap);
    rec_free(&r);
    return n;
}

/* Decodes as a caller with nothing else to do would: while the registry
 * is being asked, wait for its answer and try again. */
static mm_err_t decode(mm_avro_decoder_t *dec, const char *buf, size_t len, mm_event_t *ev,
                       char *err, size_t err_size) {
    mm_event_init(ev);
    mm_err_t r = mm_decode_avro(dec, buf, len, NULL, ev, err, err_size);
    while (r == MM_ERR_IO && mm_avro_decoder_busy(dec)) {
        mm_avro_decoder_wait(dec, 100);
        mm_event_init(ev);
        r = mm_decode_avro(dec, buf, len, NULL, ev, err, err_size);
    }
    return r;
}

static bool str_eq(mm_str_t s, const char *want) {
    return want ? s.p && s.len == strlen(want) && memcmp(s.p, want, s.len) == 0 : !s.p;
}

/* ---------------------------------------------------------- decoding */

START_TEST(test_valid_framed_record_decodes) {
    mm_avro_decoder_t *dec = decoder_with(NULL);
    char buf[1024], err[256];
    size_t n = v1_record(buf, sizeof(buf), "u42", "query", 1763900000000LL, "coffee near me");
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, n, &ev, err, sizeof(err)), MM_ERR_OK);
    ck_assert(str_eq(ev.user_id, "u42"));
    ck_assert(str_eq(ev.event_id, "e-17"));
    ck_assert(str_eq(ev.session_id, "s9"));
    ck_assert(str_eq(ev.query, "coffee near me"));
    ck_assert(str_eq(ev.device, "mobile"));
    ck_assert(str_eq(ev.channel, "search"));
    ck_assert(str_eq(ev.lang, "en"));
    ck_assert(str_eq(ev.url, NULL));
    ck_assert_int_eq(ev.type, MM_EVENT_QUERY);
    ck_assert(ev.has_ts);
    ck_assert_int_eq(ev.ts, 1763900000000LL);
    ck_assert(ev.has_geo);
    ck_assert_double_eq(ev.lat, 55.676);
    ck_assert_double_eq(ev.lon, 12.568);
    ck_assert(ev.has_tz_offset);
    ck_assert_int_eq(ev.tz_offset_min, 60);
    ck_assert(!ev.has_page_load_ms);
    ck_assert_int_eq(ev.in_store, 1);
    ck_assert(ev.has_value);
    ck_assert(ev.value == 19.5);
    ck_assert(str_eq(ev.currency, "EUR"));
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_strings_are_views_into_the_record) {
    mm_avro_decoder_t *dec = decoder_with(NULL);
    char buf[1024], err[256];
    size_t n = v1_record(buf, sizeof(buf), "u42", "query", 1763900000000LL, "coffee");
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, n, &ev, err, sizeof(err)), MM_ERR_OK);
    ck_assert(ev.query.p >= buf && ev.query.p + ev.query.len <= buf + n);
    ck_assert(ev.user_id.p >= buf && ev.user_id.p + ev.user_id.len <= buf + n);
    mm_avro_decoder_destroy(dec);
}
END_TEST

/** A V2 record: every added field filled, the contract ones promoted. */
static size_t v2_record(char *out, size_t cap) {
    rec_t r;
    avro_value_t f, item, b;
    rec_new(&r, V2_AVSC);
    avro_value_get_by_name(&r.v, "schema_version", &f, NULL);
    avro_value_set_int(&f, 2);
    set_branch_str(&r.v, "user_id", "u7");
    avro_value_get_by_name(&r.v, "tags", &f, NULL);
    for (int i = 0; i < 3; i++) {
        avro_value_append(&f, &item, NULL);
        avro_value_set_string(&item, "tag");
    }
    set_branch_str(&r.v, "type", "page_view");
    avro_value_get_by_name(&r.v, "attrs", &f, NULL);
    avro_value_add(&f, "a", &item, NULL, NULL);
    avro_value_set_branch(&item, 1, &b);
    avro_value_set_long(&b, 5);
    avro_value_add(&f, "b", &item, NULL, NULL);
    avro_value_set_branch(&item, 0, &b);
    avro_value_set_null(&b);
    avro_value_get_by_name(&r.v, "geo", &f, NULL);
    avro_value_get_by_name(&f, "city", &item, NULL);
    avro_value_set_string(&item, "Aarhus");
    avro_value_get_by_name(&f, "acc", &item, NULL);
    avro_value_set_float(&item, 1.5f);
    set_branch_str(&r.v, "query", "how to fix a bike");
    avro_value_get_by_name(&r.v, "kind", &f, NULL);
    avro_value_set_enum(&f, 1);
    avro_value_get_by_name(&r.v, "hash", &f, NULL);
    avro_value_set_fixed(&f, (void *)"\x01\x02\x03\x04", 4);
    avro_value_get_by_name(&r.v, "lat", &f, NULL);
    avro_value_set_float(&f, 55.5f);
    avro_value_set_int(branch(&r.v, "lon", 1, &b), 12);
    avro_value_get_by_name(&r.v, "page_load_ms", &f, NULL);
    avro_value_set_int(&f, 4200);
    avro_value_get_by_name(&r.v, "blob", &f, NULL);
    avro_value_set_bytes(&f, (void *)"\xff\x00", 2);
    avro_value_get_by_name(&r.v, "ok", &f, NULL);
    avro_value_set_boolean(&f, 1);
    size_t n = frame(&r.v, 2, out, cap);
    rec_free(&r);
    return n;
}

START_TEST(test_writer_schema_with_added_fields_resolves) {
    mm_avro_decoder_t *dec = decoder_with(NULL);
    char buf[1024], err[256];
    size_t n = v2_record(buf, sizeof(buf));
    mm_event_t ev;
    ck_assert_msg(decode(dec, buf, n, &ev, err, sizeof(err)) == MM_ERR_OK, "%s", err);
    ck_assert(str_eq(ev.user_id, "u7"));
    ck_assert_int_eq(ev.type, MM_EVENT_PAGE_VIEW);
    ck_assert(str_eq(ev.query, "how to fix a bike"));
    ck_assert(str_eq(ev.session_id, NULL)); /* not in the writer: null */
    ck_assert(!ev.has_ts);
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_writer_types_are_promoted) {
    mm_avro_decoder_t *dec = decoder_with(NULL);
    char buf[1024], err[256];
    size_t n = v2_record(buf, sizeof(buf));
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, n, &ev, err, sizeof(err)), MM_ERR_OK);
    ck_assert(ev.has_geo);
    ck_assert_double_eq(ev.lat, 55.5); /* float -> double */
    ck_assert_double_eq(ev.lon, 12);   /* int -> double */
    ck_assert(ev.has_page_load_ms);    /* int -> long */
    ck_assert_int_eq(ev.page_load_ms, 4200);
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_unknown_schema_id_is_unknown_schema) {
    mm_avro_decoder_t *dec = decoder_with(NULL);
    char buf[1024], err[256];
    size_t n = v1_record(buf, sizeof(buf), "u1", "query", 1763900000000LL, "x");
    buf[4] = 9; /* id 9: no file, no registry */
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, n, &ev, err, sizeof(err)), MM_ERR_UNKNOWN_SCHEMA);
    ck_assert_msg(strstr(err, "9") != NULL, "%s", err);
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_every_truncation_is_bad_avro) {
    mm_avro_decoder_t *dec = decoder_with(NULL);
    char buf[1024], err[256];
    size_t sizes[2];
    char recs[2][1024];
    sizes[0] = v1_record(recs[0], sizeof(recs[0]), "u1", "query", 1763900000000LL, "coffee");
    sizes[1] = v2_record(recs[1], sizeof(recs[1]));
    for (int r = 0; r < 2; r++) {
        for (size_t len = 1; len < sizes[r]; len++) {
            /* exactly len bytes on the heap: ASan sees any overread */
            char *p = malloc(len);
            memcpy(p, recs[r], len);
            mm_event_t ev;
            mm_err_t e = decode(dec, p, len, &ev, err, sizeof(err));
            ck_assert_msg(e == MM_ERR_BAD_AVRO, "record %d cut at %zu: %s (%s)", r, len,
                          mm_err_name(e), err);
            free(p);
        }
    }
    (void)buf;
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_trailing_bytes_are_bad_avro) {
    mm_avro_decoder_t *dec = decoder_with(NULL);
    char buf[1024], err[256];
    size_t n = v1_record(buf, sizeof(buf), "u1", "query", 1763900000000LL, "x");
    buf[n++] = 0;
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, n, &ev, err, sizeof(err)), MM_ERR_BAD_AVRO);
    ck_assert_msg(strstr(err, "after the record") != NULL, "%s", err);
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_bad_union_index_is_bad_avro) {
    mm_avro_decoder_t *dec = decoder_with(NULL);
    char buf[1024], err[256];
    size_t n = v1_record(buf, sizeof(buf), "u1", "query", 1763900000000LL, "x");
    buf[5] = 0x04; /* event_id's union index 2 (zig-zag) of a 2-branch union */
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, n, &ev, err, sizeof(err)), MM_ERR_BAD_AVRO);
    ck_assert_msg(strstr(err, "union index") != NULL, "%s", err);
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_overlong_varint_is_bad_avro) {
    mm_avro_decoder_t *dec = decoder_with(NULL);
    char buf[64] = {0, 0, 0, 0, 1};
    memset(buf + 5, 0xff, 12); /* a varint that never ends */
    char err[256];
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, 17, &ev, err, sizeof(err)), MM_ERR_BAD_AVRO);
    ck_assert_msg(strstr(err, "varint") != NULL, "%s", err);
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_huge_length_is_refused_before_any_allocation) {
    mm_avro_decoder_t *dec = decoder_with(NULL);
    /* event_id branch 1, then a string length of 2^62 */
    char buf[] = {0, 0, 0, 0, 1, 0x02, (char)0x80, (char)0x80, (char)0x80, (char)0x80,
                  (char)0x80, (char)0x80, (char)0x80, (char)0x80, 0x7f, 'x'};
    char err[256];
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, sizeof(buf), &ev, err, sizeof(err)), MM_ERR_BAD_AVRO);
    ck_assert_msg(strstr(err, "truncated") != NULL, "%s", err);
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_recursive_schema_nesting_is_bounded) {
    const char *list =
        "{\"type\":\"record\",\"name\":\"E\",\"fields\":["
        "{\"name\":\"user_id\",\"type\":\"string\"},{\"name\":\"type\",\"type\":\"string\"},"
        "{\"name\":\"next\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"N\",\"fields\":["
        "{\"name\":\"next\",\"type\":[\"null\",\"N\"]}]}]}]}";
    char spec[128];
    snprintf(spec, sizeof(spec), "3=%s", tmp_schema_file(list));
    mm_avro_decoder_t *dec = decoder_with(spec);
    char buf[256] = {0, 0, 0, 0, 3, 2, 'u', 10, 'q', 'u', 'e', 'r', 'y'};
    size_t n = 13;
    for (int i = 0; i < 100; i++)
        buf[n++] = 2; /* branch 1: one more level */
    buf[n++] = 0;
    char err[256];
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, n, &ev, err, sizeof(err)), MM_ERR_TOO_DEEP);
    n = 13;
    buf[n++] = 2;
    buf[n++] = 2;
    buf[n++] = 0; /* two levels: fine */
    ck_assert_msg(decode(dec, buf, n, &ev, err, sizeof(err)) == MM_ERR_OK, "%s", err);
    mm_avro_decoder_destroy(dec);
}
END_TEST

/* ------------------------------------------------------- validation */

/** A writer schema with only user_id and type, either possibly null. */
static const char *MIN_AVSC =
    "{\"type\":\"record\",\"name\":\"E\",\"fields\":["
    "{\"name\":\"user_id\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"type\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"ts\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"lat\",\"type\":[\"null\",\"double\",\"string\"]},"
    "{\"name\":\"lon\",\"type\":[\"null\",\"double\"]},"
    "{\"name\":\"query\",\"type\":[\"null\",\"string\"]}]}";

static const char *NO_USER_AVSC =
    "{\"type\":\"record\",\"name\":\"E\",\"fields\":["
    "{\"name\":\"type\",\"type\":\"string\"}]}";

typedef struct vcase_s {
    const char *name;
    const char *json; /* the same event as JSON */
    const char *user_id, *type, *query, *lat_str;
    int64_t ts;      /* 0: null */
    double lat;      /* NAN-free; 999: null */
    mm_err_t want;
} vcase_t;

static const vcase_t vcases[] = {
    {"ok", "{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"q\"}", "u", "query", "q", NULL,
     0, 999, MM_ERR_OK},
    {"null user_id", "{\"user_id\":null,\"type\":\"query\"}", NULL, "query", NULL, NULL, 0,
     999, MM_ERR_NULL_USER_ID},
    {"empty user_id", "{\"user_id\":\"\",\"type\":\"query\"}", "", "query", NULL, NULL, 0,
     999, MM_ERR_NULL_USER_ID},
    {"null type", "{\"user_id\":\"u\",\"type\":null}", "u", NULL, NULL, NULL, 0, 999,
     MM_ERR_MISSING_TYPE},
    {"unknown type", "{\"user_id\":\"u\",\"type\":\"teleport\"}", "u", "teleport", NULL,
     NULL, 0, 999, MM_ERR_UNKNOWN_TYPE},
    {"ts in seconds", "{\"user_id\":\"u\",\"type\":\"query\",\"ts\":1763900000}", "u",
     "query", NULL, NULL, 1763900000, 999, MM_ERR_TS_OUT_OF_RANGE},
    {"lat out of range", "{\"user_id\":\"u\",\"type\":\"query\",\"lat\":91,\"lon\":0}", "u",
     "query", NULL, NULL, 0, 91, MM_ERR_BAD_FIELD_TYPE},
    {"lat as a string", "{\"user_id\":\"u\",\"type\":\"query\",\"lat\":\"55\"}", "u",
     "query", NULL, "55", 0, 999, MM_ERR_BAD_FIELD_TYPE},
    {"invalid utf-8", "{\"user_id\":\"u\xff\",\"type\":\"query\"}", "u\xff", "query", NULL,
     NULL, 0, 999, MM_ERR_BAD_UTF8},
    {"query too long",
     "{\"user_id\":\"u\",\"type\":\"query\",\"query\":\"0123456789012345678901234567890123"
     "456789\"}",
     "u", "query", "0123456789012345678901234567890123456789", NULL, 0, 999,
     MM_ERR_FIELD_TOO_LONG},
};

static size_t min_record(const vcase_t *c, char *out, size_t cap) {
    rec_t r;
    avro_value_t b;
    rec_new(&r, MIN_AVSC);
    set_branch_str(&r.v, "user_id", c->user_id);
    set_branch_str(&r.v, "type", c->type);
    if (c->ts)
        avro_value_set_long(branch(&r.v, "ts", 1, &b), c->ts);
    else
        avro_value_set_null(branch(&r.v, "ts", 0, &b));
    if (c->lat_str)
        avro_value_set_string(branch(&r.v, "lat", 2, &b), c->lat_str);
    else if (c->lat != 999)
        avro_value_set_double(branch(&r.v, "lat", 1, &b), c->lat);
    else
        avro_value_set_null(branch(&r.v, "lat", 0, &b));
    if (c->lat != 999)
        avro_value_set_double(branch(&r.v, "lon", 1, &b), 0);
    else
        avro_value_set_null(branch(&r.v, "lon", 0, &b));
    set_branch_str(&r.v, "query", c->query);
    size_t n = frame(&r.v, 4, out, cap);
    rec_free(&r);
    return n;
}

START_TEST(test_validation_matches_json) {
    const vcase_t *c = &vcases[_i];
    char spec[128];
    snprintf(spec, sizeof(spec), "4=%s", tmp_schema_file(MIN_AVSC));
    mm_avro_decoder_t *dec = decoder_with(spec);
    mm_decode_limits_t lim;
    mm_decode_limits_defaults(&lim);
    lim.max_field_bytes = 32;
    char buf[1024], aerr[256], jerr[256], scratch[512];
    size_t n = min_record(c, buf, sizeof(buf));
    mm_event_t ev;
    mm_event_init(&ev);
    mm_err_t a = mm_decode_avro(dec, buf, n, &lim, &ev, aerr, sizeof(aerr));
    mm_scratch_t sc = {scratch, sizeof(scratch), 0};
    mm_err_t j = mm_decode_json(c->json, strlen(c->json), &lim, &sc, &ev, jerr, sizeof(jerr));
    ck_assert_msg(a == c->want, "%s: avro %s (%s)", c->name, mm_err_name(a), aerr);
    ck_assert_msg(j == c->want, "%s: json %s (%s)", c->name, mm_err_name(j), jerr);
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_writer_without_user_id_is_missing_user_id) {
    char spec[128];
    snprintf(spec, sizeof(spec), "5=%s", tmp_schema_file(NO_USER_AVSC));
    mm_avro_decoder_t *dec = decoder_with(spec);
    char buf[] = {0, 0, 0, 0, 5, 10, 'q', 'u', 'e', 'r', 'y'};
    char err[256];
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, sizeof(buf), &ev, err, sizeof(err)),
                     MM_ERR_MISSING_USER_ID);
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_incompatible_schema_file_is_a_config_error) {
    const char *bad = "{\"type\":\"record\",\"name\":\"E\",\"fields\":["
                      "{\"name\":\"user_id\",\"type\":\"string\"},"
                      "{\"name\":\"lat\",\"type\":\"string\"}]}";
    char spec[128], err[512];
    snprintf(spec, sizeof(spec), "6=%s", tmp_schema_file(bad));
    mm_avro_conf_t conf;
    mm_avro_conf_defaults(&conf);
    conf.schema_files = spec;
    ck_assert_ptr_null(mm_avro_decoder_new(&conf, err, sizeof(err)));
    ck_assert_msg(strstr(err, "lat") != NULL, "%s", err);
    tmp_cleanup();
    conf.schema_files = "7";
    ck_assert_ptr_null(mm_avro_decoder_new(&conf, err, sizeof(err)));
    ck_assert_msg(strstr(err, "mm.schema.files") != NULL, "%s", err);
}
END_TEST

START_TEST(test_avro_is_told_from_json) {
    ck_assert(mm_record_is_avro("\0\0\0\0\1", 5));
    ck_assert(!mm_record_is_avro("\0\0\0\0", 4));
    ck_assert(!mm_record_is_avro("{\"a\":1}", 7));
    ck_assert(!mm_record_is_avro(" \0\0\0\0\1", 6));
}
END_TEST

START_TEST(test_embedded_reader_schema_matches_file) {
    char *json = slurp(SCHEMA_DIR "/event.avsc");
    avro_schema_t file = parse(json), built_in = parse(mm_avro_event_schema());
    ck_assert(avro_schema_equal(file, built_in));
    avro_schema_decref(file);
    avro_schema_decref(built_in);
    free(json);
}
END_TEST

/* Avro C's own resolution (the reference) reads the same values. Avro C
 * 1.11 does not apply reader defaults ("Reader field event_id doesn't
 * appear in writer"), so the writer here has every reader field, plus
 * added ones before, between and after them. */
START_TEST(test_agrees_with_avro_c_resolved_reader) {
    const char *extra_head = "{\"name\":\"x\",\"type\":{\"type\":\"map\",\"values\":\"int\"}},";
    const char *extra_tail = ",{\"name\":\"y\",\"type\":[\"null\",\"float\"]}]}";
    const char *base = mm_avro_event_schema();
    const char *fields = strstr(base, "\"fields\":[") + 10;
    char wjson[4096];
    snprintf(wjson, sizeof(wjson), "%.*s%s%.*s%s", (int)(fields - base), base, extra_head,
             (int)(strlen(fields) - 2), fields, extra_tail);
    char spec[128];
    snprintf(spec, sizeof(spec), "8=%s", tmp_schema_file(wjson));
    mm_avro_decoder_t *dec = decoder_with(spec);
    char buf[1024], err[256];
    rec_t r;
    avro_value_t f0, b0, i0;
    rec_new(&r, wjson);
    avro_value_get_by_name(&r.v, "x", &f0, NULL);
    avro_value_add(&f0, "k", &i0, NULL, NULL);
    avro_value_set_int(&i0, 3);
    set_branch_str(&r.v, "event_id", NULL);
    set_branch_str(&r.v, "user_id", "u9");
    set_branch_str(&r.v, "session_id", NULL);
    avro_value_set_null(branch(&r.v, "ts", 0, &b0));
    set_branch_str(&r.v, "type", "click");
    set_branch_str(&r.v, "query", "best running shoes");
    set_branch_str(&r.v, "device", NULL);
    set_branch_str(&r.v, "channel", NULL);
    set_branch_str(&r.v, "lang", NULL);
    avro_value_set_double(branch(&r.v, "lat", 1, &b0), -33.5);
    avro_value_set_null(branch(&r.v, "lon", 0, &b0));
    avro_value_set_null(branch(&r.v, "tz_offset_min", 0, &b0));
    set_branch_str(&r.v, "url", NULL);
    avro_value_set_long(branch(&r.v, "page_load_ms", 1, &b0), 3100);
    avro_value_set_null(branch(&r.v, "in_store", 0, &b0));
    avro_value_set_double(branch(&r.v, "value", 1, &b0), 7.25);
    set_branch_str(&r.v, "currency", NULL);
    avro_value_set_float(branch(&r.v, "y", 1, &b0), 2.5f);
    size_t n = frame(&r.v, 8, buf, sizeof(buf));
    rec_free(&r);
    avro_schema_t writer = parse(wjson), reader = parse(mm_avro_event_schema());
    avro_value_iface_t *wi = avro_generic_class_from_schema(writer);
    avro_value_iface_t *ri = avro_resolved_reader_new(writer, reader);
    ck_assert_msg(ri != NULL, "%s", avro_strerror());
    avro_value_t wv, rv, f, b;
    avro_generic_value_new(wi, &wv);
    avro_resolved_reader_new_value(ri, &rv);
    avro_resolved_reader_set_source(&rv, &wv);
    avro_reader_t rd = avro_reader_memory(buf + 5, (int64_t)(n - 5));
    ck_assert_int_eq(avro_value_read(rd, &wv), 0);
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, n, &ev, err, sizeof(err)), MM_ERR_OK);
    const char *s;
    size_t len;
    double d;
    int64_t l;
    avro_value_get_by_name(&rv, "user_id", &f, NULL);
    avro_value_get_string(&f, &s, &len);
    ck_assert(str_eq(ev.user_id, s));
    avro_value_get_by_name(&rv, "query", &f, NULL);
    avro_value_get_current_branch(&f, &b);
    avro_value_get_string(&b, &s, &len);
    ck_assert(str_eq(ev.query, s));
    avro_value_get_by_name(&rv, "lat", &f, NULL);
    avro_value_get_current_branch(&f, &b);
    avro_value_get_double(&b, &d);
    ck_assert_double_eq(d, -33.5);
    ck_assert(!ev.has_geo); /* lon is null: no position */
    avro_value_get_by_name(&rv, "type", &f, NULL);
    avro_value_get_string(&f, &s, &len);
    ck_assert_str_eq(mm_event_type_name(ev.type), s);
    avro_value_get_by_name(&rv, "page_load_ms", &f, NULL);
    avro_value_get_current_branch(&f, &b);
    avro_value_get_long(&b, &l);
    ck_assert_int_eq(ev.page_load_ms, l);
    avro_value_get_by_name(&rv, "value", &f, NULL);
    avro_value_get_current_branch(&f, &b);
    avro_value_get_double(&b, &d);
    ck_assert(ev.has_value && ev.value == d);
    ck_assert(!ev.currency.p);
    avro_reader_free(rd);
    avro_value_decref(&rv);
    avro_value_decref(&wv);
    avro_value_iface_decref(ri);
    avro_value_iface_decref(wi);
    avro_schema_decref(writer);
    avro_schema_decref(reader);
    mm_avro_decoder_destroy(dec);
}
END_TEST

/* ---------------------------------------------- allocation counting */

#if defined(__SANITIZE_ADDRESS__)
#define MM_COUNT_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MM_COUNT_MALLOC 0
#endif
#endif
#ifndef MM_COUNT_MALLOC
#define MM_COUNT_MALLOC 1
#endif

#if MM_COUNT_MALLOC
/* glibc's allocator under our own names: every allocation in this process
 * is counted. Sanitizer builds bring their own allocator and skip this. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static volatile unsigned long g_allocs;
void *malloc(size_t n) {
    g_allocs++;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t m) {
    g_allocs++;
    return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n) {
    g_allocs++;
    return __libc_realloc(p, n);
}
#endif

START_TEST(test_no_allocation_per_record_once_cached) {
#if MM_COUNT_MALLOC
    mm_avro_decoder_t *dec = decoder_with(NULL);
    char r1[1024], r2[1024], err[256];
    size_t n1 = v1_record(r1, sizeof(r1), "u1", "query", 1763900000000LL, "coffee");
    size_t n2 = v2_record(r2, sizeof(r2));
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, r1, n1, &ev, err, sizeof(err)), MM_ERR_OK);
    ck_assert_int_eq(decode(dec, r2, n2, &ev, err, sizeof(err)), MM_ERR_OK);
    /* No ck_assert inside the loop: Check allocates to record each one. */
    int failures = 0;
    unsigned long before = g_allocs;
    for (int i = 0; i < 10000; i++) {
        failures += decode(dec, r1, n1, &ev, err, sizeof(err)) != MM_ERR_OK;
        failures += decode(dec, r2, n2, &ev, err, sizeof(err)) != MM_ERR_OK;
    }
    unsigned long allocs = g_allocs - before;
    ck_assert_int_eq(failures, 0);
    ck_assert_uint_eq(allocs, 0);
    mm_avro_decoder_destroy(dec);
#endif
}
END_TEST

/* -------------------------------------------------- schema registry */

/** A one-thread HTTP/1.1 server answering GET /schemas/ids/N for N in
 * {1, 2} with the schema, 404 otherwise; counts requests. */
typedef struct registry_s {
    int fd;
    int port;
    pthread_t thread;
    volatile int requests;
    volatile int stop;
} registry_t;

static void json_escape(const char *in, char *out, size_t cap) {
    size_t o = 0;
    for (; *in && o + 8 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

static void *registry_main(void *arg) {
    registry_t *reg = arg;
    static char req[4096], body[1 << 16], esc[1 << 15], resp[1 << 17];
    while (!reg->stop) {
        int c = accept(reg->fd, NULL, NULL);
        if (c < 0)
            break;
        for (;;) { /* keep-alive: several requests per connection */
            ssize_t n = read(c, req, sizeof(req) - 1);
            if (n <= 0)
                break;
            req[n] = '\0';
            reg->requests++;
            unsigned id = 0;
            int status = 404;
            if (sscanf(req, "GET /schemas/ids/%u", &id) == 1 && (id == 1 || id == 2)) {
                char *schema = id == 1 ? slurp(SCHEMA_DIR "/event.avsc") : strdup(V2_AVSC);
                json_escape(schema, esc, sizeof(esc));
                free(schema);
                snprintf(body, sizeof(body), "{\"schema\":\"%s\"}", esc);
                status = 200;
            } else {
                snprintf(body, sizeof(body),
                         "{\"error_code\":40403,\"message\":\"Schema not found\"}");
            }
            int len = snprintf(resp, sizeof(resp),
                               "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                               "Content-Length: %zu\r\n\r\n%s",
                               status, strlen(body), body);
            if (write(c, resp, (size_t)len) != len)
                break;
        }
        close(c);
    }
    return NULL;
}

static void registry_start(registry_t *reg) {
    memset(reg, 0, sizeof(*reg));
    reg->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    ck_assert_int_eq(bind(reg->fd, (struct sockaddr *)&a, sizeof(a)), 0); /* port 0: free */
    ck_assert_int_eq(listen(reg->fd, 8), 0);
    getsockname(reg->fd, (struct sockaddr *)&a, &alen);
    reg->port = ntohs(a.sin_port);
    pthread_create(&reg->thread, NULL, registry_main, reg);
}

static mm_avro_decoder_t *registry_decoder(int port, size_t cache_max) {
    char url[64], err[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    mm_avro_conf_t conf;
    mm_avro_conf_defaults(&conf);
    conf.registry_url = url;
    conf.registry_timeout_ms = 2000;
    conf.registry_retry_ms = 60000;
    conf.cache_max = cache_max;
    mm_avro_decoder_t *dec = mm_avro_decoder_new(&conf, err, sizeof(err));
    ck_assert_msg(dec != NULL, "%s", err);
    return dec;
}

START_TEST(test_registry_schema_is_fetched_once_and_cached) {
    registry_t reg;
    registry_start(&reg);
    mm_avro_decoder_t *dec = registry_decoder(reg.port, 8);
    char buf[1024], err[256];
    size_t n = v2_record(buf, sizeof(buf));
    mm_event_t ev;
    for (int i = 0; i < 5; i++)
        ck_assert_msg(decode(dec, buf, n, &ev, err, sizeof(err)) == MM_ERR_OK, "%s", err);
    ck_assert(str_eq(ev.user_id, "u7"));
    ck_assert_int_eq(reg.requests, 1);
    mm_avro_stats_t st;
    mm_avro_decoder_stats(dec, &st);
    ck_assert_uint_eq(st.registry_requests, 1);
    /* The first record misses while its request is under way (once, or more
     * when it is looked up again before the answer is in) and hits once the
     * answer is cached; the four after it hit the cache. */
    ck_assert_uint_ge(st.cache_misses, 1);
    ck_assert_uint_eq(st.cache_hits, 5);
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_registry_unknown_id_is_unknown_schema) {
    registry_t reg;
    registry_start(&reg);
    mm_avro_decoder_t *dec = registry_decoder(reg.port, 8);
    char buf[1024], err[256];
    size_t n = v1_record(buf, sizeof(buf), "u1", "query", 1763900000000LL, "x");
    buf[4] = 77;
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, n, &ev, err, sizeof(err)), MM_ERR_UNKNOWN_SCHEMA);
    ck_assert_int_eq(decode(dec, buf, n, &ev, err, sizeof(err)), MM_ERR_UNKNOWN_SCHEMA);
    ck_assert_int_eq(reg.requests, 1); /* the 404 is remembered */
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_registry_down_is_io_error_not_a_record_error) {
    /* A port nothing listens on: bind, note the port, close. */
    registry_t reg;
    registry_start(&reg);
    reg.stop = 1;
    shutdown(reg.fd, SHUT_RDWR);
    close(reg.fd);
    pthread_join(reg.thread, NULL);
    mm_avro_decoder_t *dec = registry_decoder(reg.port, 8);
    char buf[1024], err[256];
    size_t n = v1_record(buf, sizeof(buf), "u1", "query", 1763900000000LL, "x");
    mm_event_t ev;
    ck_assert_int_eq(decode(dec, buf, n, &ev, err, sizeof(err)), MM_ERR_IO);
    ck_assert_int_eq(decode(dec, buf, n, &ev, err, sizeof(err)), MM_ERR_IO);
    mm_avro_stats_t st;
    mm_avro_decoder_stats(dec, &st);
    ck_assert_uint_eq(st.registry_requests, 1); /* no retry within retry_ms */
    ck_assert_msg(strstr(err, "unavailable") != NULL, "%s", err);
    mm_avro_decoder_destroy(dec);
}
END_TEST

START_TEST(test_registry_cache_is_bounded) {
    registry_t reg;
    registry_start(&reg);
    mm_avro_decoder_t *dec = registry_decoder(reg.port, 1);
    char r1[1024], r2[1024], err[256];
    size_t n1 = v1_record(r1, sizeof(r1), "u1", "query", 1763900000000LL, "x");
    size_t n2 = v2_record(r2, sizeof(r2));
    mm_event_t ev;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(decode(dec, r1, n1, &ev, err, sizeof(err)), MM_ERR_OK);
        ck_assert_int_eq(decode(dec, r2, n2, &ev, err, sizeof(err)), MM_ERR_OK);
    }
    mm_avro_stats_t st;
    mm_avro_decoder_stats(dec, &st);
    ck_assert_uint_eq(st.cached, 1);
    ck_assert_uint_eq(st.evictions, 5);
    ck_assert_int_eq(reg.requests, 6);
    mm_avro_decoder_destroy(dec);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("avro_decode");
    TCase *tc = tcase_create("avro_decode");
    tcase_add_test(tc, test_valid_framed_record_decodes);
    tcase_add_test(tc, test_strings_are_views_into_the_record);
    tcase_add_test(tc, test_writer_schema_with_added_fields_resolves);
    tcase_add_test(tc, test_writer_types_are_promoted);
    tcase_add_test(tc, test_unknown_schema_id_is_unknown_schema);
    tcase_add_test(tc, test_every_truncation_is_bad_avro);
    tcase_add_test(tc, test_trailing_bytes_are_bad_avro);
    tcase_add_test(tc, test_bad_union_index_is_bad_avro);
    tcase_add_test(tc, test_overlong_varint_is_bad_avro);
    tcase_add_test(tc, test_huge_length_is_refused_before_any_allocation);
    tcase_add_test(tc, test_recursive_schema_nesting_is_bounded);
    tcase_add_test(tc, test_avro_is_told_from_json);
    tcase_add_test(tc, test_embedded_reader_schema_matches_file);
    tcase_add_test(tc, test_agrees_with_avro_c_resolved_reader);
    tcase_add_test(tc, test_no_allocation_per_record_once_cached);
    suite_add_tcase(s, tc);

    TCase *tv = tcase_create("avro_validation");
    tcase_add_loop_test(tv, test_validation_matches_json, 0,
                        (int)(sizeof(vcases) / sizeof(vcases[0])));
    tcase_add_test(tv, test_writer_without_user_id_is_missing_user_id);
    tcase_add_test(tv, test_incompatible_schema_file_is_a_config_error);
    suite_add_tcase(s, tv);

    TCase *tr = tcase_create("avro_registry");
    tcase_add_test(tr, test_registry_schema_is_fetched_once_and_cached);
    tcase_add_test(tr, test_registry_unknown_id_is_unknown_schema);
    tcase_add_test(tr, test_registry_down_is_io_error_not_a_record_error);
    tcase_add_test(tr, test_registry_cache_is_bounded);
    suite_add_tcase(s, tr);
    return s;
}

int main(void) {
    return mm_check_run(suite());
}
