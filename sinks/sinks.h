/*
 * micromoment sinks: moments out, as JSON (or Avro) to Kafka, stdout or the
 * dead-letter topic.
 */
#ifndef MM_SINKS_H
#define MM_SINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <librdkafka/rdkafka.h>

#include "../classifier/classifier.h"

/* ------------------------------------------------------------ JSON writer */

#define MM_JW_MAX_DEPTH 16

/**
 * A JSON writer into a caller buffer of fixed size. It escapes quotes,
 * backslashes and control characters, and replaces invalid UTF-8 with
 * U+FFFD, so whatever bytes it is given the output is valid JSON. When the
 * buffer is too small it stops writing and mm_jw_ok() turns false: check once
 * at the end.
 */
typedef struct mm_jw_s {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
    uint8_t depth;
    bool need_comma[MM_JW_MAX_DEPTH];
} mm_jw_t;

void mm_jw_init(mm_jw_t *jw, char *buf, size_t cap);
void mm_jw_object_open(mm_jw_t *jw);
void mm_jw_object_close(mm_jw_t *jw);
void mm_jw_array_open(mm_jw_t *jw);
void mm_jw_array_close(mm_jw_t *jw);
/** @brief Write an object key (a NUL-terminated literal, written escaped). */
void mm_jw_key(mm_jw_t *jw, const char *key);
/** @brief An object key known to be a plain identifier ([A-Za-z0-9_]):
 * written in one pass without escaping (the moment's own keys). */
void mm_jw_key_plain(mm_jw_t *jw, const char *key);
/**
 * @brief An object key given as its finished text with the comma before it,
 * `,"name":` (@p len bytes; name a plain identifier, as for key_plain): one
 * copy, from the comma on when the object already holds a member, from the
 * quote otherwise. MM_JW_KEY_TEXT("name") makes the arguments.
 */
void mm_jw_key_text(mm_jw_t *jw, const char *text, size_t len);
#define MM_JW_KEY_TEXT(name) ",\"" name "\":", sizeof(name) + 3
void mm_jw_string(mm_jw_t *jw, const char *p, size_t len);
/** @brief A string, or null when s.p == NULL. */
void mm_jw_str(mm_jw_t *jw, mm_str_t s);
void mm_jw_cstr(mm_jw_t *jw, const char *s); /* NULL: null */
void mm_jw_int(mm_jw_t *jw, int64_t v);
/** @brief A number with at most @p decimals decimals, trailing zeros cut. */
void mm_jw_double(mm_jw_t *jw, double v, int decimals);
/**
 * @brief llround(@p x) for 0 <= x < 2^63: half away from zero, without the
 * library call. The cast truncates exactly and x minus that is exact too
 * (no rounding), so the comparison with 0.5 decides as llround does. The
 * writer's numbers and the moment's rounded values (both encodings) use it.
 */
static inline uint64_t mm_jw_round(double x) {
    uint64_t q = (uint64_t)x;
    return x - (double)q >= 0.5 ? q + 1 : q;
}
void mm_jw_bool(mm_jw_t *jw, bool v);
void mm_jw_null(mm_jw_t *jw);
bool mm_jw_ok(const mm_jw_t *jw);

/* ------------------------------------------------------- moment encoding */

#define MM_MOMENT_ID_LEN 32

/**
 * @brief The moment's id: 32 hex characters derived from the event's source
 * (topic, partition, offset) and the moment's ordinal among that record's
 * moments, not its type: the same input record always gives the same id,
 * even when a replay with less per-user history classifies it differently,
 * so downstream keeps one moment per id. @p out gets MM_MOMENT_ID_LEN chars
 * and a NUL.
 */
void mm_moment_id(const mm_moment_t *m, char out[MM_MOMENT_ID_LEN + 1]);

/** @brief The id of moment number @p ordinal of the record at @p source
 * (what mm_moment_id computes, for moments remembered in a profile). */
void mm_moment_id_of(const mm_source_t *source, uint8_t ordinal,
                     char out[MM_MOMENT_ID_LEN + 1]);

/**
 * @brief Encode a user's profile as one JSON object: {"user_id",
 * "last":{"know":{"moment_id","ts"},...}, "counts":{...,"since"},
 * "journey_stage", "last_conversion":{...}, "events", "last_ts",
 * "owner":{"topic","partition"}}. Moment ids are derived from @p topic and
 * @p partition (the user's input partition). @returns bytes, 0 when
 * @p cap was too small.
 */
size_t mm_profile_to_json(mm_str_t user_id, const mm_profile_t *p, mm_str_t topic,
                          int32_t partition, int64_t updated_ms, char *buf, size_t cap);

/**
 * @brief Encode a conversion: the event (user, event_id, type, ts, value,
 * currency, source) and "attributed_to": [{"moment_id","moment","age_ms"}].
 * @returns bytes, 0 when @p cap was too small.
 */
size_t mm_conversion_to_json(const mm_event_t *ev, const mm_attribution_t *attributed,
                             size_t n, char *buf, size_t cap);

/**
 * @brief Encode @p m as the contract's output JSON object (one line, no
 * newline).
 * @param detected_ts wall-clock ms when the moment was detected.
 * @returns bytes written, or 0 when @p cap was too small.
 */
size_t mm_moment_to_json(const mm_moment_t *m, int64_t detected_ts, char *buf,
                         size_t cap);

/**
 * @brief Encode an explanation (classify --explain) of @p ev: the query,
 * language, scores and every signal, and the moment if one came out.
 * @returns bytes written, or 0 when @p cap was too small.
 */
size_t mm_explain_to_json(const mm_event_t *ev, const mm_explain_t *explain,
                          const mm_moment_t *moment, char *buf, size_t cap);

/* ------------------------------------------------------------------ sinks */

/** Why an output failed for good, so the caller can tell a record the
 * destination refuses (route it elsewhere, go on) from a destination that
 * is gone (stop: every later output would fail the same way). */
typedef enum {
    MM_SINK_FAULT_NONE,   /* delivered */
    MM_SINK_FAULT_RECORD, /* this record: too large, invalid */
    MM_SINK_FAULT_TOPIC,  /* the topic: missing, not authorised */
    MM_SINK_FAULT_OTHER   /* anything else (timed out, fatal client error) */
} mm_sink_fault_t;

/** The fate of one output. Views are valid during the callback only. */
typedef struct mm_sink_ack_s {
    mm_err_t err; /* MM_ERR_OK: the destination acknowledged it */
    mm_sink_fault_t fault;
    const char *reason; /* what the destination answered; NULL when ok */
    const char *topic;  /* where it was going */
    mm_str_t key;
    mm_str_t value; /* the bytes that were refused (a moment to dead-letter) */
    /* Not its fate yet: the destination refused these bytes as too large and
     * the sink wrote them again with the value cut to again_len bytes; the
     * fate of that copy comes in a later ack. Only for dead letters. */
    bool again;
    size_t again_len;
} mm_sink_ack_t;

/**
 * Called once per written output when its fate is known. @p opaque is the
 * one given to the write call. Called from inside write (synchronous sinks)
 * or poll; the callback may write again.
 */
typedef void mm_sink_ack_cb(void *opaque, const mm_sink_ack_t *ack, void *cb_ctx);

/** A record that could not become an event (or an output the destination
 * refused), with why and where from. */
typedef struct mm_dead_letter_s {
    mm_str_t key;   /* original key, may be absent */
    mm_str_t value; /* original bytes, unchanged */
    mm_err_t err;
    const char *reason;
    mm_source_t source;
    int64_t source_ts; /* the record's timestamp, -1 unknown */
    int64_t time_ms;   /* when it was routed */
    bool value_cut;    /* cut the value to value_max bytes (the destination */
    size_t value_max;  /* refused more before); else only to what fits */
} mm_dead_letter_t;

/** Dead-letter header names (a contract for whoever reads the DLQ). */
#define MM_DLQ_HDR_ERROR "mm.error.code"
#define MM_DLQ_HDR_REASON "mm.error.reason"
#define MM_DLQ_HDR_TIME "mm.error.time"
#define MM_DLQ_HDR_TOPIC "mm.source.topic"
#define MM_DLQ_HDR_PARTITION "mm.source.partition"
#define MM_DLQ_HDR_OFFSET "mm.source.offset"
#define MM_DLQ_HDR_TIMESTAMP "mm.source.timestamp"
/* Only on a dead letter whose value the destination would not take whole:
 * "true", and the value's size before it was cut. */
#define MM_DLQ_HDR_TRUNCATED "mm.value.truncated"
#define MM_DLQ_HDR_ORIGINAL_SIZE "mm.value.original.size"

/** What a transactional call came to. */
typedef enum {
    MM_TXN_OK,
    MM_TXN_RETRY,  /* retriable: call again */
    MM_TXN_ABORT,  /* the transaction must be aborted; the sink lives on */
    MM_TXN_FENCED, /* another producer with our transactional id took over */
    MM_TXN_FATAL   /* the sink cannot go on */
} mm_txn_res_t;

/** Input offsets to commit inside a transaction. */
typedef struct mm_txn_offset_s {
    const char *topic;
    int32_t partition;
    int64_t offset; /* the next record to read */
} mm_txn_offset_t;

typedef struct mm_sink_ops_s {
    const char *name;
    /** Write one record (a moment, a profile, a state snapshot...) to the
     * sink's topic number @p topic, to @p partition (-1: by key); the bytes
     * are copied; @p payload NULL writes a tombstone (compacted topics). */
    mm_err_t (*write)(void *ctx, int topic, int32_t partition, mm_str_t key,
                      const char *payload, size_t len, void *opaque);
    /** Write one dead letter; its bytes are copied. A value the destination
     * refuses as too large is cut to what it takes, with headers saying so. */
    mm_err_t (*write_dead)(void *ctx, const mm_dead_letter_t *dl, void *opaque);
    /** Serve acknowledgements for up to timeout_ms. */
    void (*poll)(void *ctx, int timeout_ms);
    /** Outputs written but not yet acknowledged. */
    size_t (*outstanding)(void *ctx);
    /** A fatal client error, if any (text in @p errstr). */
    bool (*fatal)(void *ctx, char *errstr, size_t errstr_size);
    /** Drop what is written but not yet sent: each ack comes as a failure
     * (fault other). The only call another thread may make; NULL in a sink
     * that holds nothing. */
    void (*cancel)(void *ctx);

    /* Transactions; NULL in a sink without them. Each returns what the call
     * came to, with the destination's words in errstr. */
    mm_txn_res_t (*txn_begin)(void *ctx, char *errstr, size_t errstr_size);
    /** Commit @p offsets for the consumer group @p group_metadata (opaque to
     * the engine: the consumer's rd_kafka_consumer_group_metadata_t), then
     * the transaction. */
    mm_txn_res_t (*txn_commit)(void *ctx, const mm_txn_offset_t *offsets, size_t n,
                               void *group_metadata, int timeout_ms, char *errstr,
                               size_t errstr_size);
    mm_txn_res_t (*txn_abort)(void *ctx, int timeout_ms, char *errstr, size_t errstr_size);

    void (*destroy)(void *ctx);
} mm_sink_ops_t;

typedef struct mm_sink_s {
    const mm_sink_ops_t *ops;
    void *ctx;
} mm_sink_t;

/** The Kafka sink's destinations: topics by number (write's topic); dead
 * letters go to dlq_topic. A name may repeat (per-type routing off). */
typedef struct mm_sink_kafka_conf_s {
    const char *const *topics;
    int n_topics;
    const char *dlq_topic;
    /** Transactional producer: transactions are initialised within this
     * bound; 0: not transactional. The id is conf's transactional.id. */
    int txn_init_timeout_ms;
    /** ",key,key," of librdkafka keys the user set; NULL: none known. */
    const char *user_keys;
} mm_sink_kafka_conf_t;

/**
 * @brief A sink producing through one librdkafka producer.
 * @param conf taken in every case (used or destroyed).
 * @returns NULL with a message in errstr on failure.
 * @locality one thread writes and polls.
 */
mm_sink_t *mm_sink_kafka_new(rd_kafka_conf_t *conf, const mm_sink_kafka_conf_t *kconf,
                             mm_sink_ack_cb *ack, void *ack_ctx, char *errstr,
                             size_t errstr_size);

/**
 * @brief Set librdkafka property @p key to @p value unless the user set it
 * (a -X setting always wins).
 * @param user_keys ",key,key," of the keys the user set, even to
 *        librdkafka's default value; NULL: only a value other than
 *        librdkafka's default tells that the user set it.
 */
void mm_kafka_conf_default(rd_kafka_conf_t *conf, const char *user_keys, const char *key,
                           const char *value);

/** @brief True when @p key is in @p user_keys or differs from librdkafka's
 * default in @p conf; its value is then in @p value. */
bool mm_kafka_conf_user_set(rd_kafka_conf_t *conf, const char *user_keys, const char *key,
                            char *value, size_t value_size);

/**
 * @brief A sink writing moments as JSON lines to @p moments and dead letters
 * as JSON lines (error, reason, source, the original value) to @p dead.
 * Records for topics numbered past MM_SINK_STDOUT_TOPICS (profiles, state)
 * are acknowledged and dropped. Acknowledges synchronously. The streams are
 * borrowed.
 */
#define MM_SINK_STDOUT_TOPICS 4
mm_sink_t *mm_sink_stdout_new(FILE *moments, FILE *dead, mm_sink_ack_cb *ack,
                              void *ack_ctx);

/** @brief Destroy any sink (NULL is fine). */
void mm_sink_destroy(mm_sink_t *sink);

/* ------------------------------------------- moment fields (one list) */

/**
 * The output moment's fields, in the contract's order (docs/events.md,
 * Output), as a walk that each encoder follows: the one source of truth for
 * the JSON and Avro encodings (schemas/moment.avsc), so they cannot drift.
 */
typedef enum {
    MM_MF_OBJECT_BEGIN, /* a record: JSON object, Avro record (no bytes) */
    MM_MF_OBJECT_END,
    MM_MF_ARRAY_BEGIN, /* count items follow */
    MM_MF_ARRAY_END,
    MM_MF_STRING,
    MM_MF_INT,    /* Avro long, or int where the schema says so */
    MM_MF_BOOL,   /* in i: 0 or 1 */
    MM_MF_DOUBLE  /* already rounded to `decimals` decimals */
} mm_mf_kind_t;

typedef enum {
    MM_MF_REQUIRED, /* always present */
    MM_MF_NULLABLE, /* Avro ["null", T]; JSON null when absent */
    MM_MF_OPTIONAL  /* Avro ["null", T]; JSON leaves the key out when absent */
} mm_mf_presence_t;

/** One step of the walk. Views are valid during the callback only. */
typedef struct mm_mf_s {
    const char *key; /* NULL: the top-level object or an array item */
    const char *key_json; /* with key: `,"key":` for mm_jw_key_text() */
    uint32_t key_json_len;
    mm_mf_kind_t kind;
    mm_mf_presence_t presence;
    bool present;   /* false: absent (never for MM_MF_REQUIRED) */
    mm_str_t str;   /* MM_MF_STRING */
    int64_t i;      /* MM_MF_INT */
    double d;       /* MM_MF_DOUBLE, finite */
    int decimals;   /* MM_MF_DOUBLE: for text encodings */
    uint32_t count; /* MM_MF_ARRAY_BEGIN */
} mm_mf_t;

typedef void mm_moment_visit_fn(void *ctx, const mm_mf_t *f);

/**
 * @brief Walk @p m's output fields in contract order, calling @p fn for each.
 * Values are final: scores and confidence rounded to 3 decimals, a
 * non-finite number is 0 (required) or absent (optional), a NULL required
 * string is "".
 */
void mm_moment_visit(const mm_moment_t *m, int64_t detected_ts,
                     mm_moment_visit_fn *fn, void *ctx);

/**
 * The moment's top-level fields, in the contract's order, with whether a
 * lean output (mm.output.fields) may leave them out. Four are always written:
 * moment_id (downstream keeps one moment per id after an at-least-once
 * replay), moment (what was detected), user_id (whom it is for: a consumer
 * that reads values only must not need the Kafka key) and source (the input
 * record it came from, which moment_id is derived from: a moment stays
 * traceable and its id checkable).
 */
#define MM_MOMENT_FIELD_MAP(X)                                                 \
    X(MOMENT_ID, "moment_id", true)                                            \
    X(MOMENT, "moment", true)                                                  \
    X(CONFIDENCE, "confidence", false)                                         \
    X(SCORES, "scores", false)                                                 \
    X(SIGNALS, "signals", false)                                               \
    X(USER_ID, "user_id", true)                                                \
    X(SESSION_ID, "session_id", false)                                         \
    X(EVENT_ID, "event_id", false)                                             \
    X(EVENT_TS, "event_ts", false)                                             \
    X(DETECTED_TS, "detected_ts", false)                                       \
    X(JOURNEY_STAGE, "journey_stage", false)                                   \
    X(STRATEGY, "strategy", false)                                             \
    X(CONTEXT, "context", false)                                               \
    X(SOURCE, "source", true)                                                  \
    X(LATE, "late", false)                                                     \
    X(LATENESS_MS, "lateness_ms", false)

typedef enum {
#define MM_MOMENT_F_ENUM(id, name, required) MM_MOMENT_F_##id,
    MM_MOMENT_FIELD_MAP(MM_MOMENT_F_ENUM)
#undef MM_MOMENT_F_ENUM
    MM_MOMENT_F__COUNT
} mm_moment_field_t;

/** Bits (1 << mm_moment_field_t) of the fields a lean output must keep. */
#define MM_MOMENT_F_BIT(id) (1u << MM_MOMENT_F_##id)
#define MM_MOMENT_F_REQUIRED_BIT(id, name, required) | ((required) ? MM_MOMENT_F_BIT(id) : 0u)
#define MM_MOMENT_FIELDS_REQUIRED (0u MM_MOMENT_FIELD_MAP(MM_MOMENT_F_REQUIRED_BIT))

/**
 * @brief Parse a value of mm.output.fields: "all", or top-level field names
 * separated by commas (spaces allowed), in any order.
 * @param omit set to the bits of the fields left out (0 for "all"); the
 *        required fields are never in it, listed or not.
 * @returns false with the offending name in @p errstr (an unknown or
 *          repeated name, an empty list).
 */
bool mm_moment_fields_parse(const char *list, uint32_t *omit, char *errstr,
                            size_t errstr_size);

/** @brief The value that parses to @p omit: "all", or the fields written, in
 * the contract's order, comma-separated. @returns its length (cut at cap). */
size_t mm_moment_fields_format(uint32_t omit, char *buf, size_t cap);

/**
 * @brief mm_moment_visit() without the top-level fields in @p omit (bits of
 * mm_moment_field_t; the required ones are walked anyway): for JSON only,
 * since an Avro record must have every field of its schema.
 */
void mm_moment_visit_fields(const mm_moment_t *m, int64_t detected_ts, uint32_t omit,
                            mm_moment_visit_fn *fn, void *ctx);

/**
 * @brief mm_moment_to_json() without the top-level fields in @p omit (0:
 * the full record, the same bytes as mm_moment_to_json).
 * @returns bytes written, or 0 when @p cap was too small.
 */
size_t mm_moment_to_json_fields(const mm_moment_t *m, int64_t detected_ts, uint32_t omit,
                                char *buf, size_t cap);

/** @brief The JSON encoding of one step: @p ctx is an mm_jw_t. With it,
 * mm_moment_to_json() is mm_jw_init + mm_moment_visit + mm_jw_ok. */
void mm_moment_visit_json(void *ctx, const mm_mf_t *f);

/** @brief The "scores" and "signals" members alone, as in a moment (for
 * explanations, which share them). */
void mm_moment_visit_scores(const float scores[MM_MOMENT__COUNT],
                            mm_moment_visit_fn *fn, void *ctx);
void mm_moment_visit_signals(const mm_signal_t *signals, uint32_t n,
                             mm_moment_visit_fn *fn, void *ctx);

/* ------------------------------------------------------ Avro moment out */

/** Confluent framing: magic byte, 4-byte schema id. */
#define MM_AVRO_HEADER_LEN 5

/**
 * @brief Encode @p m as schemas/moment.avsc in the Confluent wire format
 * (magic byte 0, @p schema_id big-endian, Avro binary). Invalid UTF-8 in a
 * string becomes U+FFFD, exactly as in the JSON encoding.
 * @returns bytes written, or 0 when @p cap was too small.
 * @locality any thread; no allocation.
 */
size_t mm_moment_to_avro(const mm_moment_t *m, int64_t detected_ts, int32_t schema_id,
                         char *buf, size_t cap);

/** @brief The moment's Avro schema (schemas/moment.avsc), JSON text, for
 * registering it at a Schema Registry. */
const char *mm_avro_moment_schema(void);

#endif
