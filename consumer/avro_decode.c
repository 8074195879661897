/*
 * Avro input events in the Confluent wire format:
 *
 *     byte 0      magic 0
 *     bytes 1..4  writer schema id, big-endian
 *     bytes 5..   one Avro binary datum of that schema
 *
 * HOW IT WORKS. The first time a schema id is seen, its writer schema (from a
 * configured file, else the Schema Registry) is compiled into a plan: for
 * each top-level writer field, either "skip a value of this schema" or "read
 * it into contract field F", with, per union branch, how the writer encodes
 * it (null, int, long, float, double, string/bytes, boolean) or that the
 * branch cannot be read as F. That is Avro schema resolution (spec,
 * "Schema Resolution") against our reader schema, schemas/event.avsc: fields
 * are matched by name, writer fields the reader lacks are skipped (producers
 * may add fields), reader fields the writer lacks stay null, and the
 * promotions int->long->float->double and string<->bytes apply.
 *
 * Decoding then walks the record's bytes once with the plan: no allocation,
 * no copy. Strings become views into the caller's record (Avro strings are
 * length-prefixed raw bytes), so an event decoded here lives exactly as long
 * as the record's buffer, as with the JSON decoder.
 *
 * WHY NOT AVRO C'S RESOLVED READER ON THE HOT PATH. avro_value_read() mallocs
 * every string and bytes value it reads (one allocation per string field per
 * record), and it trusts lengths: a varint claiming 2^62 bytes is passed to
 * malloc before the read fails, which is a denial of service from one record.
 * Avro C 1.11's resolved reader also refuses a writer that lacks any reader
 * field, default or not ("Reader field event_id doesn't appear in writer"),
 * which would defeat optional fields. Avro C is still what parses schemas
 * (files and registry answers; plans are compiled in avro_schema.c), and
 * the tests check this decoder against avro_resolved_reader_new() on the
 * same records.
 *
 * DECISIONS (each visible in errstr):
 * - Every length, count, union and enum index is checked against the bytes
 *   left and the schema before use; a varint longer than 10 bytes (5 for an
 *   int), a boolean byte other than 0/1, bytes left over after the datum:
 *   BAD_AVRO. An array or map block may not claim more items than bytes left
 *   (an item takes at least one byte except null; a block of more nulls than
 *   bytes is refused rather than looped over).
 * - Values nest at most lim->max_depth deep (recursive schemas): TOO_DEEP.
 * - Stricter schema resolution would refuse a writer schema without user_id
 *   or type outright (every record UNKNOWN_SCHEMA); instead each record is
 *   sent to the DLQ as MISSING_USER_ID / MISSING_TYPE, as in JSON, and a
 *   writer ["null","string"] user_id that is null is NULL_USER_ID.
 * - A writer union branch that cannot be read as its reader field (a string
 *   in lat) is BAD_FIELD_TYPE for the records that use it; a field none of
 *   whose types can be read refuses the schema (UNKNOWN_SCHEMA, with why).
 * - The same validation as JSON (event_validate.c): lengths, UTF-8, ranges.
 *
 * REGISTRY DOWN. The registry is asked in the background (avro_registry.c):
 * a record whose schema is not cached yet gets MM_ERR_IO at once ("not
 * now"), and is tried again after mm_avro_decoder_poll has brought the
 * answer. An id the registry says it does not know (404) is UNKNOWN_SCHEMA,
 * remembered for registry_negative_ttl_ms; a schema that cannot be read as
 * an event is UNKNOWN_SCHEMA for good. A registry that cannot be reached or
 * answers nothing usable (connection refused, timeout, 5xx, a redirect, a
 * malformed body) is MM_ERR_IO, a runtime error, not a record error: the
 * record is fine and must not go to the DLQ for an outage of ours. After a
 * failure no request is made for registry_retry_ms, doubled at each failure
 * in a row (at most 16 times), so an outage costs a request now and then,
 * not one per record.
 */
#include <avro.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avro_int.h"
#include "event_int.h"

/* ------------------------------------------------------------ the decoder */

typedef enum { ENT_FREE, ENT_PLAN, ENT_NEGATIVE } ent_kind_t;

typedef struct entry_s {
    ent_kind_t kind;
    bool pinned;       /* from a file: never evicted */
    uint32_t id;
    uint64_t last_use; /* decoder tick, for eviction */
    int64_t expires_ms; /* ENT_NEGATIVE: ask again after (INT64_MAX: never) */
    mm__avro_plan_t *plan;
    char reason[256]; /* ENT_NEGATIVE */
} entry_t;

struct mm_avro_decoder_s {
    mm__avro_reader_t reader;
    mm__registry_t *registry; /* NULL: files only */
    int retry_ms, negative_ttl_ms;
    int backoff_ms; /* the wait after the next failure */
    int64_t registry_down_until; /* monotonic ms */
    char registry_err[200];
    size_t n_entries, cap_entries, n_pinned;
    entry_t *entries;
    entry_t *last; /* the entry of the previous record: the common case */
    uint64_t tick;
    mm_avro_stats_t stats;
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mm_avro_conf_defaults(mm_avro_conf_t *conf) {
    memset(conf, 0, sizeof(*conf));
    conf->registry_timeout_ms = 5000;
    conf->registry_retry_ms = 1000;
    conf->registry_negative_ttl_ms = 60000;
    conf->cache_max = 256;
}

/** A free slot for a new registry entry, evicting the least recently used
 * unpinned one when the cache is full. */
static entry_t *entry_alloc(mm_avro_decoder_t *dec) {
    if (dec->n_entries < dec->cap_entries)
        return &dec->entries[dec->n_entries++];
    entry_t *victim = NULL;
    for (size_t i = 0; i < dec->n_entries; i++) {
        entry_t *e = &dec->entries[i];
        if (!e->pinned && (!victim || e->last_use < victim->last_use))
            victim = e;
    }
    if (!victim)
        return NULL;
    if (dec->last == victim)
        dec->last = NULL;
    mm__avro_plan_destroy(victim->plan);
    memset(victim, 0, sizeof(*victim));
    dec->stats.evictions++;
    return victim;
}

static entry_t *entry_find(mm_avro_decoder_t *dec, uint32_t id) {
    if (dec->last && dec->last->id == id && dec->last->kind != ENT_FREE)
        return dec->last;
    for (size_t i = 0; i < dec->n_entries; i++)
        if (dec->entries[i].kind != ENT_FREE && dec->entries[i].id == id)
            return &dec->entries[i];
    return NULL;
}

static int add_schema_file(mm_avro_decoder_t *dec, uint32_t id, const char *path,
                           char *errstr, size_t errstr_size) {
    size_t len;
    char why[256];
    char *text = mm__avro_slurp(path, &len, errstr, errstr_size);
    if (!text)
        return -1;
    avro_schema_t s = mm__avro_parse_schema(text, len, path, errstr, errstr_size);
    free(text);
    if (!s)
        return -1;
    mm__avro_plan_t *plan = mm__avro_plan_new(s, &dec->reader, why, sizeof(why));
    avro_schema_decref(s);
    if (!plan) {
        snprintf(errstr, errstr_size, "%s: %s", path, why);
        return -1;
    }
    if (entry_find(dec, id)) {
        mm__avro_plan_destroy(plan);
        snprintf(errstr, errstr_size, "schema id %u is given twice", id);
        return -1;
    }
    entry_t *e = &dec->entries[dec->n_entries++];
    *e = (entry_t){.kind = ENT_PLAN, .pinned = true, .id = id, .plan = plan};
    return 0;
}

/** "17=/path/a.avsc,18=/path/b.avsc": ids are decimal, paths have no comma. */
static int parse_schema_files(mm_avro_decoder_t *dec, const char *spec, char *errstr,
                              size_t errstr_size) {
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[1024];
        if (n >= sizeof(item)) {
            snprintf(errstr, errstr_size, "mm.schema.files: an entry is too long");
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        char *eq = strchr(item, '='), *idend;
        errno = 0;
        unsigned long id = eq ? strtoul(item, &idend, 10) : 0;
        if (!eq || idend != eq || eq == item || errno || id > INT32_MAX || !eq[1]) {
            snprintf(errstr, errstr_size,
                     "mm.schema.files: \"%s\" is not ID=PATH (e.g. 17=/etc/event.avsc)", item);
            return -1;
        }
        if (add_schema_file(dec, (uint32_t)id, eq + 1, errstr, errstr_size) != 0)
            return -1;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static size_t count_entries(const char *spec) {
    size_t n = 1;
    for (; spec && *spec; spec++)
        n += *spec == ',';
    return n;
}

mm_avro_decoder_t *mm_avro_decoder_new(const mm_avro_conf_t *conf, char *errstr,
                                       size_t errstr_size) {
    mm_avro_conf_t defaults;
    if (!conf) {
        mm_avro_conf_defaults(&defaults);
        conf = &defaults;
    }
    mm_avro_decoder_t *dec = calloc(1, sizeof(*dec));
    if (!dec) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    bool has_files = conf->schema_files && *conf->schema_files;
    bool has_registry = conf->registry_url && *conf->registry_url;
    dec->retry_ms = conf->registry_retry_ms > 0 ? conf->registry_retry_ms : 1000;
    dec->backoff_ms = dec->retry_ms;
    dec->negative_ttl_ms =
        conf->registry_negative_ttl_ms > 0 ? conf->registry_negative_ttl_ms : 60000;
    dec->n_pinned = has_files ? count_entries(conf->schema_files) : 0;
    size_t cache_max = has_registry ? (conf->cache_max ? conf->cache_max : 256) : 0;
    dec->cap_entries = dec->n_pinned + cache_max;
    dec->entries = calloc(dec->cap_entries ? dec->cap_entries : 1, sizeof(entry_t));
    if (!dec->entries) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (mm__avro_reader_load(&dec->reader, conf->reader_schema_path, errstr, errstr_size) != 0)
        goto fail;
    if (has_files && parse_schema_files(dec, conf->schema_files, errstr, errstr_size) != 0)
        goto fail;
    if (has_registry &&
        !(dec->registry = mm__registry_new(conf, errstr, errstr_size)))
        goto fail;
    dec->cap_entries = dec->n_entries + cache_max; /* never more than allocated */
    return dec;
fail:
    mm_avro_decoder_destroy(dec);
    return NULL;
}

void mm_avro_decoder_destroy(mm_avro_decoder_t *dec) {
    if (!dec)
        return;
    for (size_t i = 0; i < dec->n_entries; i++)
        mm__avro_plan_destroy(dec->entries[i].plan);
    free(dec->entries);
    mm__registry_destroy(dec->registry);
    free(dec);
}

void mm_avro_decoder_stats(const mm_avro_decoder_t *dec, mm_avro_stats_t *stats) {
    *stats = dec->stats;
    stats->cached = 0;
    for (size_t i = 0; i < dec->n_entries; i++)
        stats->cached += dec->entries[i].kind == ENT_PLAN;
}

/* After a failed request, no new one for backoff_ms, doubled at each failure
 * in a row up to this many times retry_ms: an outage costs a request now
 * and then, not one per record. */
#define BACKOFF_MAX_FACTOR 16

/** Cache the registry's answer for @p id: a plan, or a refusal. An answer
 * that says nothing about the id (MM_ERR_IO) only delays the next request. */
static void settle(mm_avro_decoder_t *dec, uint32_t id, mm_err_t err, char *json, size_t len,
                   const char *answer_why) {
    int64_t now = mono_ms();
    char why[200];
    snprintf(why, sizeof(why), "%s", answer_why);
    if (err == MM_ERR_IO) {
        dec->stats.registry_failures++;
        dec->registry_down_until = now + dec->backoff_ms;
        int64_t next = (int64_t)dec->backoff_ms * 2;
        int64_t cap = (int64_t)dec->retry_ms * BACKOFF_MAX_FACTOR;
        dec->backoff_ms = (int)(next < cap ? next : cap);
        snprintf(dec->registry_err, sizeof(dec->registry_err), "%s", why);
        free(json);
        return;
    }
    dec->backoff_ms = dec->retry_ms;
    mm__avro_plan_t *plan = NULL;
    if (err == MM_ERR_OK) {
        char what[32];
        snprintf(what, sizeof(what), "schema id %u", id);
        avro_schema_t s = mm__avro_parse_schema(json, len, what, why, sizeof(why));
        if (s) {
            char pwhy[160];
            plan = mm__avro_plan_new(s, &dec->reader, pwhy, sizeof(pwhy));
            if (!plan)
                snprintf(why, sizeof(why), "%s", pwhy);
            avro_schema_decref(s);
        }
    }
    free(json);
    entry_t *e = entry_alloc(dec);
    if (!e) { /* only pinned entries and no room: cannot happen, cap > pinned */
        mm__avro_plan_destroy(plan);
        return;
    }
    e->id = id;
    e->last_use = dec->tick;
    if (plan) {
        e->kind = ENT_PLAN;
        e->plan = plan;
    } else {
        /* 404s are asked again later (the schema may be registered since);
         * a schema we cannot use never changes: an id names one schema. */
        e->kind = ENT_NEGATIVE;
        e->expires_ms = err == MM_ERR_UNKNOWN_SCHEMA ? now + dec->negative_ttl_ms : INT64_MAX;
        snprintf(e->reason, sizeof(e->reason), "%s", why);
    }
}

static void drive(mm_avro_decoder_t *dec, int wait_ms) {
    if (!dec->registry)
        return;
    uint32_t id;
    if (!mm__registry_busy(dec->registry, &id))
        return;
    mm_err_t result = MM_ERR_IO;
    char *json = NULL, why[200] = "";
    size_t len = 0;
    if (mm__registry_poll(dec->registry, wait_ms, &result, &json, &len, why, sizeof(why)))
        settle(dec, id, result, json, len, why);
}

void mm_avro_decoder_poll(mm_avro_decoder_t *dec) { drive(dec, 0); }

void mm_avro_decoder_wait(mm_avro_decoder_t *dec, int timeout_ms) { drive(dec, timeout_ms); }

bool mm_avro_decoder_busy(const mm_avro_decoder_t *dec) {
    return dec->registry && mm__registry_busy(dec->registry, NULL);
}

/** Ask the registry for @p id in the background. @returns MM_ERR_IO: the
 * record waits (errstr says for what); its caller tries again later. */
static mm_err_t fetch(mm_avro_decoder_t *dec, uint32_t id, char *errstr, size_t errstr_size) {
    uint32_t busy_id;
    if (mm__registry_busy(dec->registry, &busy_id)) {
        if (busy_id == id)
            snprintf(errstr, errstr_size, "schema id %u: waiting for the registry's answer", id);
        else
            snprintf(errstr, errstr_size,
                     "schema id %u: waiting for the registry (it is asked for schema id %u "
                     "first)",
                     id, busy_id);
        return MM_ERR_IO;
    }
    if (mono_ms() < dec->registry_down_until) {
        snprintf(errstr, errstr_size, "schema id %u: registry unavailable: %s", id,
                 dec->registry_err);
        return MM_ERR_IO;
    }
    char why[200];
    dec->stats.registry_requests++;
    if (!mm__registry_start(dec->registry, id, why, sizeof(why))) {
        settle(dec, id, MM_ERR_IO, NULL, 0, why);
        snprintf(errstr, errstr_size, "schema id %u: %s", id, why);
        return MM_ERR_IO;
    }
    snprintf(errstr, errstr_size, "schema id %u: waiting for the registry's answer", id);
    return MM_ERR_IO;
}

static mm_err_t lookup(mm_avro_decoder_t *dec, uint32_t id, const mm__avro_plan_t **plan,
                       char *errstr, size_t errstr_size) {
    entry_t *e = entry_find(dec, id);
    dec->tick++;
    if (e && e->kind == ENT_NEGATIVE && e->expires_ms != INT64_MAX &&
        mono_ms() >= e->expires_ms) {
        if (dec->last == e)
            dec->last = NULL;
        memset(e, 0, sizeof(*e)); /* expired: ask again */
        e = NULL;
    }
    if (e) {
        dec->stats.cache_hits++;
    } else {
        dec->stats.cache_misses++;
        if (!dec->registry) {
            snprintf(errstr, errstr_size,
                     "schema id %u is not in mm.schema.files and no registry is set", id);
            return MM_ERR_UNKNOWN_SCHEMA;
        }
        drive(dec, 0); /* the answer may be in */
        e = entry_find(dec, id);
        if (!e)
            return fetch(dec, id, errstr, errstr_size);
    }
    e->last_use = dec->tick;
    dec->last = e;
    if (e->kind == ENT_NEGATIVE) {
        snprintf(errstr, errstr_size, "schema id %u: %s", id, e->reason);
        return MM_ERR_UNKNOWN_SCHEMA;
    }
    *plan = e->plan;
    return MM_ERR_OK;
}

/* ---------------------------------------------------------------- decoding */

typedef struct cur_s {
    const unsigned char *p, *start, *end;
    uint32_t max_depth;
    char *errstr;
    size_t errstr_size;
} cur_t;

/** A hard error at the cursor: replaces any field error's message. */
__attribute__((format(printf, 3, 4))) static mm_err_t
bad(cur_t *c, mm_err_t err, const char *fmt, ...) {
    if (!c->errstr || c->errstr_size == 0)
        return err;
    int n = snprintf(c->errstr, c->errstr_size, "offset %zu: ", (size_t)(c->p - c->start));
    if (n < 0 || (size_t)n >= c->errstr_size)
        return err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr + n, c->errstr_size - (size_t)n, fmt, ap);
    va_end(ap);
    return err;
}

/** A zig-zag varint of at most @p max_bytes (10 for long, 5 for int). */
static mm_err_t read_varint(cur_t *c, int max_bytes, int64_t *out) {
    uint64_t v = 0;
    *out = 0;
    for (int i = 0; i < max_bytes; i++) {
        if (c->p >= c->end)
            return bad(c, MM_ERR_BAD_AVRO, "truncated varint");
        unsigned char b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            if (max_bytes == 5 && (*out < INT32_MIN || *out > INT32_MAX))
                return bad(c, MM_ERR_BAD_AVRO, "int varint out of range");
            return MM_ERR_OK;
        }
    }
    return bad(c, MM_ERR_BAD_AVRO, "varint longer than %d bytes", max_bytes);
}

static mm_err_t need(cur_t *c, uint64_t n) {
    if ((uint64_t)(c->end - c->p) < n)
        return bad(c, MM_ERR_BAD_AVRO, "truncated: %llu bytes needed, %zu left",
                   (unsigned long long)n, (size_t)(c->end - c->p));
    return MM_ERR_OK;
}

/** A length prefix (bytes, string) checked against what is left. */
static mm_err_t read_len(cur_t *c, size_t *len) {
    int64_t n;
    mm_err_t err = read_varint(c, 10, &n);
    if (err != MM_ERR_OK)
        return err;
    if (n < 0)
        return bad(c, MM_ERR_BAD_AVRO, "negative length %lld", (long long)n);
    if ((err = need(c, (uint64_t)n)) != MM_ERR_OK)
        return err;
    *len = (size_t)n;
    return MM_ERR_OK;
}

static mm_err_t skip(cur_t *c, avro_schema_t s, uint32_t depth);

/** Array and map blocks: a count, a byte size when negative, the items. */
static mm_err_t skip_blocks(cur_t *c, avro_schema_t items, bool map, uint32_t depth) {
    for (;;) {
        int64_t count = 0, size = 0;
        mm_err_t err = read_varint(c, 10, &count);
        if (err != MM_ERR_OK)
            return err;
        if (count == 0)
            return MM_ERR_OK;
        if (count < 0) {
            if (count == INT64_MIN)
                return bad(c, MM_ERR_BAD_AVRO, "block count out of range");
            count = -count;
            if ((err = read_varint(c, 10, &size)) != MM_ERR_OK)
                return err;
            if (size < 0)
                return bad(c, MM_ERR_BAD_AVRO, "negative block size");
        }
        if ((uint64_t)count > (uint64_t)(c->end - c->p))
            return bad(c, MM_ERR_BAD_AVRO, "block of %lld items in %zu bytes",
                       (long long)count, (size_t)(c->end - c->p));
        for (int64_t i = 0; i < count; i++) {
            size_t klen;
            if (map && ((err = read_len(c, &klen)) != MM_ERR_OK))
                return err;
            if (map)
                c->p += klen;
            if ((err = skip(c, items, depth)) != MM_ERR_OK)
                return err;
        }
    }
}

/** Skip one value of writer schema @p s, checking it as it goes. */
static mm_err_t skip(cur_t *c, avro_schema_t s, uint32_t depth) {
    int64_t v;
    size_t len;
    mm_err_t err;
    s = mm__avro_deref(s);
    if (!s)
        return bad(c, MM_ERR_BAD_AVRO, "unresolved schema reference");
    if (depth > c->max_depth)
        return bad(c, MM_ERR_TOO_DEEP, "values nest deeper than %u", c->max_depth);
    switch (avro_typeof(s)) {
    case AVRO_NULL: return MM_ERR_OK;
    case AVRO_BOOLEAN:
        if ((err = need(c, 1)) != MM_ERR_OK)
            return err;
        if (*c->p > 1)
            return bad(c, MM_ERR_BAD_AVRO, "boolean byte %u", *c->p);
        c->p++;
        return MM_ERR_OK;
    case AVRO_INT32: return read_varint(c, 5, &v);
    case AVRO_INT64: return read_varint(c, 10, &v);
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        len = is_avro_float(s) ? 4 : 8;
        if ((err = need(c, len)) != MM_ERR_OK)
            return err;
        c->p += len;
        return MM_ERR_OK;
    case AVRO_STRING:
    case AVRO_BYTES:
        if ((err = read_len(c, &len)) != MM_ERR_OK)
            return err;
        c->p += len;
        return MM_ERR_OK;
    case AVRO_FIXED: {
        int64_t n = avro_schema_fixed_size(s);
        if ((err = need(c, n < 0 ? 0 : (uint64_t)n)) != MM_ERR_OK)
            return err;
        c->p += n < 0 ? 0 : n;
        return MM_ERR_OK;
    }
    case AVRO_ENUM:
        if ((err = read_varint(c, 5, &v)) != MM_ERR_OK)
            return err;
        if (v < 0 || v >= avro_schema_enum_number_of_symbols(s))
            return bad(c, MM_ERR_BAD_AVRO, "enum index %lld out of range", (long long)v);
        return MM_ERR_OK;
    case AVRO_UNION:
        if ((err = read_varint(c, 10, &v)) != MM_ERR_OK)
            return err;
        if (v < 0 || (uint64_t)v >= avro_schema_union_size(s))
            return bad(c, MM_ERR_BAD_AVRO, "union index %lld out of range", (long long)v);
        return skip(c, avro_schema_union_branch(s, (int)v), depth);
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s); i++)
            if ((err = skip(c, avro_schema_record_field_get_by_index(s, (int)i),
                            depth + 1)) != MM_ERR_OK)
                return err;
        return MM_ERR_OK;
    case AVRO_ARRAY: return skip_blocks(c, avro_schema_array_items(s), false, depth + 1);
    case AVRO_MAP: return skip_blocks(c, avro_schema_map_values(s), true, depth + 1);
    default: return bad(c, MM_ERR_BAD_AVRO, "unsupported writer type");
    }
}

static double le_double(const unsigned char *p) {
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | p[i];
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static float le_float(const unsigned char *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

/** One writer field read into its contract field. */
static mm_err_t read_field(cur_t *c, const mm__avro_wfield_t *f, mm__evb_t *b) {
    mm__ev_field_t target = (mm__ev_field_t)f->target;
    avro_schema_t s = mm__avro_deref(f->schema);
    mm__avro_conv_t cv = (mm__avro_conv_t)f->conv;
    int64_t v;
    size_t len;
    mm_err_t err;
    if (f->n_branches) {
        if ((err = read_varint(c, 10, &v)) != MM_ERR_OK)
            return err;
        if (v < 0 || v >= f->n_branches)
            return bad(c, MM_ERR_BAD_AVRO, "union index %lld out of range", (long long)v);
        cv = (mm__avro_conv_t)f->branch_conv[v];
        s = avro_schema_union_branch(s, (int)v);
    }
    switch (cv) {
    case MM__CV_NULL: mm__evb_null(b, target); return MM_ERR_OK;
    case MM__CV_BOOL:
        if ((err = need(c, 1)) != MM_ERR_OK)
            return err;
        if (*c->p > 1)
            return bad(c, MM_ERR_BAD_AVRO, "boolean byte %u", *c->p);
        mm__evb_bool(b, target, *c->p++ == 1);
        return MM_ERR_OK;
    case MM__CV_INT:
    case MM__CV_LONG:
        if ((err = read_varint(c, cv == MM__CV_INT ? 5 : 10, &v)) != MM_ERR_OK)
            return err;
        mm__evb_int(b, target, v);
        return MM_ERR_OK;
    case MM__CV_FLOAT:
        if ((err = need(c, 4)) != MM_ERR_OK)
            return err;
        mm__evb_double(b, target, le_float(c->p));
        c->p += 4;
        return MM_ERR_OK;
    case MM__CV_DOUBLE:
        if ((err = need(c, 8)) != MM_ERR_OK)
            return err;
        mm__evb_double(b, target, le_double(c->p));
        c->p += 8;
        return MM_ERR_OK;
    case MM__CV_TEXT:
        if ((err = read_len(c, &len)) != MM_ERR_OK)
            return err;
        mm__evb_text(b, target, (const char *)c->p, len);
        c->p += len;
        return MM_ERR_OK;
    default:
        mm__evb_fail(b, MM_ERR_BAD_FIELD_TYPE, target, "writer type %s cannot be read here",
                     avro_schema_type_name(mm__avro_deref(s)));
        return skip(c, s, 1);
    }
}

bool mm_record_is_avro(const char *buf, size_t len) {
    return buf && len >= 5 && buf[0] == 0;
}

mm_err_t mm_decode_avro(mm_avro_decoder_t *dec, const char *buf, size_t len,
                        const mm_decode_limits_t *lim, mm_event_t *ev, char *errstr,
                        size_t errstr_size) {
    mm_decode_limits_t defaults;
    if (!lim) {
        mm_decode_limits_defaults(&defaults);
        lim = &defaults;
    }
    cur_t c = {.p = (const unsigned char *)buf, .start = (const unsigned char *)buf,
               .end = (const unsigned char *)buf + len, .max_depth = lim->max_depth,
               .errstr = errstr, .errstr_size = errstr_size};
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (len == 0)
        return bad(&c, MM_ERR_EMPTY_RECORD, "record is empty");
    if (len > lim->max_record_bytes)
        return bad(&c, MM_ERR_TOO_LARGE, "record is %zu bytes, limit %zu", len,
                   lim->max_record_bytes);
    if (len < 5 || buf[0] != 0)
        return bad(&c, MM_ERR_BAD_AVRO, "not Confluent-framed Avro (magic byte 0 and a "
                                        "4-byte schema id)");
    uint32_t id = (uint32_t)c.p[1] << 24 | (uint32_t)c.p[2] << 16 | (uint32_t)c.p[3] << 8 |
                  (uint32_t)c.p[4];
    c.p += 5;
    const mm__avro_plan_t *plan = NULL;
    mm_err_t err = lookup(dec, id, &plan, errstr, errstr_size);
    if (err != MM_ERR_OK)
        return err;
    mm__evb_t b;
    mm__evb_init(&b, ev, lim, true, errstr, errstr_size);
    for (size_t i = 0; i < plan->n_fields; i++) {
        const mm__avro_wfield_t *f = &plan->fields[i];
        err = f->target < 0 ? skip(&c, f->schema, 1) : read_field(&c, f, &b);
        if (err != MM_ERR_OK)
            return err;
    }
    if (c.p != c.end)
        return bad(&c, MM_ERR_BAD_AVRO, "%zu bytes after the record", (size_t)(c.end - c.p));
    return mm__evb_finish(&b);
}


