/*
 * micromoment consumer: Kafka records in, typed events out.
 *
 * The decoders turn one record's bytes into an mm_event_t that holds views
 * into those bytes (no copy), except for JSON strings with escapes, which are
 * unescaped into a caller-owned scratch buffer. A record that is not a valid
 * event is reported with an error code and a reason; the caller routes it to
 * the dead-letter topic.
 */
#ifndef MM_CONSUMER_H
#define MM_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "../classifier/classifier.h"

/** Bounds a record must respect to be an event. */
typedef struct mm_decode_limits_s {
    size_t max_record_bytes; /* larger records: MM_ERR_TOO_LARGE */
    size_t max_field_bytes;  /* any string field longer: MM_ERR_FIELD_TOO_LONG */
    uint32_t max_depth;      /* JSON nesting deeper: MM_ERR_TOO_DEEP */
    int64_t ts_min_ms;       /* ts outside [ts_min_ms, ts_max_ms]: */
    int64_t ts_max_ms;       /*   MM_ERR_TS_OUT_OF_RANGE */
} mm_decode_limits_t;

void mm_decode_limits_defaults(mm_decode_limits_t *lim);

/**
 * Caller-owned bytes that unescaped strings are written into. Reset
 * (used = 0) before each record whose event is no longer needed; a record of
 * n bytes never needs more than n bytes of scratch.
 */
typedef struct mm_scratch_s {
    char *buf;
    size_t cap;
    size_t used;
} mm_scratch_t;

/**
 * @brief Decode one JSON object into @p ev.
 * @param buf,len the record; never read past len, need not be NUL-terminated.
 * @param ev filled on success; its views point into @p buf or @p scratch.
 *        ev->source is left untouched (the caller sets it).
 * @returns MM_ERR_OK or the record error, with details in errstr.
 * @locality any thread; no allocation.
 */
mm_err_t mm_decode_json(const char *buf, size_t len,
                        const mm_decode_limits_t *lim, mm_scratch_t *scratch,
                        mm_event_t *ev, char *errstr, size_t errstr_size);

/** @brief True when every byte of [p, p+len) is well-formed UTF-8. */
bool mm_utf8_valid(const char *p, size_t len);

/**
 * @brief True when [buf, buf+len) is exactly one RFC 8259 JSON value (any
 * type, surrounding whitespace allowed) nesting at most @p max_depth
 * containers, with valid UTF-8 and no lone surrogate escapes. Used to check
 * what the sinks write. Never reads past len; no allocation.
 */
bool mm_json_valid(const char *buf, size_t len, uint32_t max_depth);

/* --------------------------------------------------------- offset tracker */

/**
 * The offsets of one input partition whose outputs are not all acknowledged.
 * A record is begun with one hold (its processing), takes one more hold per
 * output written, and loses one per acknowledgement; once a record and every
 * record before it have no holds left, its offset + 1 may be committed.
 * Bounded: a ring of a fixed number of records.
 */
typedef struct mm_offsets_s mm_offsets_t;

/** @brief A tracker for up to @p capacity records in flight (rounded up to a
 * power of two). @returns NULL on allocation failure. */
mm_offsets_t *mm_offsets_new(size_t capacity);
void mm_offsets_destroy(mm_offsets_t *offsets);

/**
 * @brief Start tracking the record at @p offset with one hold.
 * @param ticket set to the record's ticket, for hold and release.
 * @returns MM_ERR_OK, or MM_ERR_FULL when capacity records are in flight.
 * @locality one thread per tracker, as for every function here.
 */
mm_err_t mm_offsets_begin(mm_offsets_t *offsets, int64_t offset, uint64_t *ticket);
void mm_offsets_hold(mm_offsets_t *offsets, uint64_t ticket);
void mm_offsets_release(mm_offsets_t *offsets, uint64_t ticket);

/** @brief The offset of the record @p ticket names; -1 when the ticket is
 * no longer (or not yet) tracked. */
int64_t mm_offsets_offset(const mm_offsets_t *offsets, uint64_t ticket);
/** @brief Offset to commit (last fully acknowledged record + 1), -1 if none. */
int64_t mm_offsets_committable(const mm_offsets_t *offsets);
/** @brief Records begun and not fully acknowledged. */
size_t mm_offsets_inflight(const mm_offsets_t *offsets);
bool mm_offsets_full(const mm_offsets_t *offsets);

/* -------------------------------------------------------------- Avro input */

/**
 * Avro events in the Confluent wire format (magic byte 0, 4-byte big-endian
 * schema id, Avro binary), resolved against schemas/event.avsc so producers
 * may add fields. Writer schemas come from files mapped by id and/or a
 * Schema Registry, compiled once per id and cached (bounded).
 */
typedef struct mm_avro_decoder_s mm_avro_decoder_t;

typedef struct mm_avro_conf_s {
    const char *schema_files; /* "17=/path/a.avsc,18=/path/b.avsc"; NULL: none */
    const char *registry_url; /* "http://host:8081"; NULL: none */
    int registry_timeout_ms;  /* per request, connect included */
    int registry_retry_ms;    /* after a failed request, none for this long */
    int registry_negative_ttl_ms; /* an id the registry lacks is asked again after */
    size_t cache_max;         /* registry schemas kept (LRU); file ones always */
    const char *reader_schema_path; /* NULL: the built-in schemas/event.avsc */
    /* Basic auth "user:password" (NULL: the URL's user info, if any) and a
     * PEM CA bundle for an https registry (NULL: the system's). */
    const char *registry_user_info;
    const char *registry_ca_file;
} mm_avro_conf_t;

/** @brief Defaults: timeout 5000, retry 1000, negative ttl 60000, cache 256. */
void mm_avro_conf_defaults(mm_avro_conf_t *conf);

/**
 * @brief A decoder: parses the reader schema and every schema file now, so a
 * bad file is a configuration error at start, not a stream of DLQ records.
 * @param conf NULL: defaults (no files, no registry: every id is unknown).
 * @returns NULL with a message naming the key or file in errstr.
 * @locality the decoder is used by one thread at a time (one per worker).
 */
mm_avro_decoder_t *mm_avro_decoder_new(const mm_avro_conf_t *conf, char *errstr,
                                       size_t errstr_size);
void mm_avro_decoder_destroy(mm_avro_decoder_t *dec);

/**
 * @brief Decode one Confluent-framed Avro record into @p ev.
 * @param buf,len the record; never read past len.
 * @param ev filled on success; its strings are views into @p buf (no copy):
 *        valid as long as the record's bytes. ev->source is left untouched.
 * @returns MM_ERR_OK; a record error (EMPTY_RECORD, TOO_LARGE, BAD_AVRO,
 *          TOO_DEEP, UNKNOWN_SCHEMA, and the JSON decoder's validation
 *          errors: MISSING_USER_ID, NULL_USER_ID, MISSING_TYPE, UNKNOWN_TYPE,
 *          FIELD_TOO_LONG, BAD_UTF8, TS_OUT_OF_RANGE, BAD_FIELD_TYPE) to send
 *          to the DLQ; or MM_ERR_IO when the schema registry cannot be
 *          reached: NOT a record error, do not DLQ; retry the record later.
 *          Details in errstr.
 * @locality the decoder's thread. No allocation once the record's schema id
 *           is cached; a cache miss starts a registry request in the
 *           background and returns MM_ERR_IO until mm_avro_decoder_poll
 *           has its answer (never blocks).
 */
mm_err_t mm_decode_avro(mm_avro_decoder_t *dec, const char *buf, size_t len,
                        const mm_decode_limits_t *lim, mm_event_t *ev, char *errstr,
                        size_t errstr_size);

/**
 * @brief Auto-detection for mm.input.format=auto: true when the record
 * starts with the magic byte 0 and has at least 5 bytes. A JSON text never
 * starts with a 0 byte (it starts with whitespace, a BOM or a value).
 */
bool mm_record_is_avro(const char *buf, size_t len);

typedef struct mm_avro_stats_s {
    uint64_t cache_hits, cache_misses, evictions;
    uint64_t registry_requests, registry_failures;
    size_t cached; /* schemas compiled and kept */
} mm_avro_stats_t;

void mm_avro_decoder_stats(const mm_avro_decoder_t *dec, mm_avro_stats_t *stats);

/**
 * @brief Drive the decoder's registry request, if one is under way, without
 * waiting: a record whose schema is being fetched gets MM_ERR_IO at once and
 * is tried again after a later poll.
 * @locality the decoder's thread.
 */
void mm_avro_decoder_poll(mm_avro_decoder_t *dec);

/** @brief True while a registry request is under way. */
bool mm_avro_decoder_busy(const mm_avro_decoder_t *dec);

/** @brief Wait up to @p timeout_ms for the registry request under way to make
 * progress (for callers with nothing else to do: `classify`). */
void mm_avro_decoder_wait(mm_avro_decoder_t *dec, int timeout_ms);

/** @brief The built-in reader schema (schemas/event.avsc), JSON text. */
const char *mm_avro_event_schema(void);

/**
 * @brief Register a schema under @p subject at the registry of @p conf:
 * POST /subjects/{subject}/versions with @p body ({"schema": "..."}, built
 * by the caller). Registering a schema the subject already has returns its
 * id. Synchronous, at most conf->registry_timeout_ms; for start-up.
 * @returns MM_ERR_OK with the id in *id, else MM_ERR_IO with why in errstr
 *          (the URL in it masked).
 */
mm_err_t mm_avro_register_schema(const mm_avro_conf_t *conf, const char *subject,
                                 const char *body, size_t body_len, int32_t *id,
                                 char *errstr, size_t errstr_size);

/**
 * @brief @p url with its user info ("user:secret@") replaced by "[masked]@",
 * into @p out (truncated to out_size). Every message or printout that shows
 * a URL which may carry credentials goes through this. @returns out.
 */
const char *mm_url_mask(const char *url, char *out, size_t out_size);

/** @brief False, with why in errstr, unless @p url is an http:// or
 * https:// URL (a Schema Registry's). */
bool mm_registry_url_check(const char *url, char *errstr, size_t errstr_size);

#endif
