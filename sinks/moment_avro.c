/*
 * Moments as Avro binary (schemas/moment.avsc) in the Confluent wire format,
 * written straight into the caller's buffer: no Avro C on this path, no
 * allocation. The field walk is mm_moment_visit() (moment_fields.c), the
 * same one the JSON encoding follows; this file only knows how Avro writes
 * each step:
 *   record          its fields one after the other, nothing else
 *   array           one block: item count, the items, then 0 (no block when
 *                   empty: just the 0)
 *   ["null", T]     union index 0 (absent) or 1 followed by the value
 *   int, long       zig-zag varint (the same bytes for both)
 *   double          8 bytes little-endian
 *   string          length (varint) then UTF-8 bytes; invalid UTF-8 becomes
 *                   U+FFFD per maximal ill-formed subpart, as the JSON
 *                   writer does, so both encodings carry the same text.
 */
#include <string.h>

#include "sinks.h"

/* Mirror of schemas/moment.avsc (docs dropped); a unit test checks that the
 * two parse to equal schemas. */
static const char mm__moment_avsc[] =
    "{\"type\":\"record\",\"name\":\"Moment\",\"namespace\":\"io.micromoment\",\"fields\":["
    "{\"name\":\"moment_id\",\"type\":\"string\"},"
    "{\"name\":\"moment\",\"type\":\"string\"},"
    "{\"name\":\"confidence\",\"type\":\"double\"},"
    "{\"name\":\"scores\",\"type\":{\"type\":\"record\",\"name\":\"Scores\",\"fields\":["
    "{\"name\":\"know\",\"type\":\"double\"},{\"name\":\"go\",\"type\":\"double\"},"
    "{\"name\":\"do\",\"type\":\"double\"},{\"name\":\"buy\",\"type\":\"double\"}]}},"
    "{\"name\":\"signals\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
    "\"name\":\"Signal\",\"fields\":["
    "{\"name\":\"name\",\"type\":\"string\"},"
    "{\"name\":\"value\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"lang\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"count\",\"type\":[\"null\",\"long\"],\"default\":null},"
    "{\"name\":\"window_ms\",\"type\":[\"null\",\"long\"],\"default\":null},"
    "{\"name\":\"number\",\"type\":[\"null\",\"double\"],\"default\":null}]}}},"
    "{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"session_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"event_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"event_ts\",\"type\":[\"null\",{\"type\":\"long\","
    "\"logicalType\":\"timestamp-millis\"}],\"default\":null},"
    "{\"name\":\"detected_ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
    "{\"name\":\"journey_stage\",\"type\":\"string\"},"
    "{\"name\":\"strategy\",\"type\":{\"type\":\"record\",\"name\":\"Strategy\",\"fields\":["
    "{\"name\":\"goal\",\"type\":\"string\"},{\"name\":\"content\",\"type\":\"string\"},"
    "{\"name\":\"horizon\",\"type\":\"string\"},"
    "{\"name\":\"offer\",\"type\":[\"null\",\"string\"],\"default\":null}]}},"
    "{\"name\":\"context\",\"type\":{\"type\":\"record\",\"name\":\"Context\",\"fields\":["
    "{\"name\":\"device\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"channel\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"local_hour\",\"type\":[\"null\",\"int\"],\"default\":null}]}},"
    "{\"name\":\"source\",\"type\":{\"type\":\"record\",\"name\":\"Source\",\"fields\":["
    "{\"name\":\"topic\",\"type\":\"string\"},{\"name\":\"partition\",\"type\":\"int\"},"
    "{\"name\":\"offset\",\"type\":\"long\"}]}},"
    "{\"name\":\"late\",\"type\":[\"null\",\"boolean\"],\"default\":null},"
    "{\"name\":\"lateness_ms\",\"type\":[\"null\",\"long\"],\"default\":null}"
    "]}";

const char *mm_avro_moment_schema(void) { return mm__moment_avsc; }

typedef struct aw_s {
    unsigned char *buf;
    size_t cap, len;
    bool overflow;
} aw_t;

static void put(aw_t *w, const void *p, size_t n) {
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put_long(aw_t *w, int64_t v) {
    unsigned char tmp[10];
    size_t n = 0;
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        unsigned char b = (unsigned char)(u & 0x7f);
        u >>= 7;
        tmp[n++] = (unsigned char)(b | (u ? 0x80 : 0));
    } while (u);
    put(w, tmp, n);
}

static void put_double(aw_t *w, double d) {
    uint64_t u;
    unsigned char tmp[8];
    memcpy(&u, &d, sizeof(u));
    for (int i = 0; i < 8; i++, u >>= 8)
        tmp[i] = (unsigned char)(u & 0xff);
    put(w, tmp, 8);
}


/** Bytes of s once each ill-formed subpart is a 3-byte U+FFFD. */
static size_t clean_len(const unsigned char *s, size_t n) {
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        bool ok;
        size_t k = mm_utf8_char(s + i, n - i, &ok);
        out += ok ? k : 3;
        i += k;
    }
    return out;
}

static void put_string(aw_t *w, mm_str_t s) {
    const unsigned char *p = (const unsigned char *)s.p;
    size_t clean = clean_len(p, s.len);
    put_long(w, (int64_t)clean);
    if (clean == s.len) { /* valid UTF-8: the common case */
        put(w, p, s.len);
        return;
    }
    for (size_t i = 0; i < s.len;) {
        bool ok;
        size_t k = mm_utf8_char(p + i, s.len - i, &ok);
        put(w, ok ? p + i : (const unsigned char *)"\xEF\xBF\xBD", ok ? k : 3);
        i += k;
    }
}

static void visit_avro(void *ctx, const mm_mf_t *f) {
    aw_t *w = ctx;
    switch (f->kind) {
    case MM_MF_OBJECT_BEGIN:
    case MM_MF_OBJECT_END: return;
    case MM_MF_ARRAY_BEGIN:
        if (f->count)
            put_long(w, f->count);
        return;
    case MM_MF_ARRAY_END: put_long(w, 0); return;
    default: break;
    }
    if (f->presence != MM_MF_REQUIRED) {
        put_long(w, f->present ? 1 : 0);
        if (!f->present)
            return;
    }
    switch (f->kind) {
    case MM_MF_STRING: put_string(w, f->str); break;
    case MM_MF_INT: put_long(w, f->i); break;
    case MM_MF_BOOL: put(w, (const unsigned char *)(f->i ? "\1" : "\0"), 1); break;
    case MM_MF_DOUBLE: put_double(w, f->d); break;
    default: break;
    }
}

size_t mm_moment_to_avro(const mm_moment_t *m, int64_t detected_ts, int32_t schema_id,
                         char *buf, size_t cap) {
    aw_t w = {(unsigned char *)buf, buf ? cap : 0, 0, false};
    uint32_t id = (uint32_t)schema_id;
    unsigned char hdr[MM_AVRO_HEADER_LEN] = {0, (unsigned char)(id >> 24),
                                             (unsigned char)(id >> 16),
                                             (unsigned char)(id >> 8), (unsigned char)id};
    put(&w, hdr, sizeof(hdr));
    mm_moment_visit(m, detected_ts, visit_avro, &w);
    return w.overflow ? 0 : w.len;
}
