/*
 * Private seam shared by the event decoders (JSON, Avro), not included
 * outside consumer/: the contract's fields as one table, and the checks a
 * decoded value must pass, so both formats accept the same events and name
 * the same error codes with the same messages in the DLQ.
 *
 * A decoder feeds values through an mm__evb_t (event builder). A field error
 * (too long, out of range, unknown type, invalid UTF-8) is remembered, first
 * one wins, and decoding goes on; mm__evb_finish() reports it, else the
 * first missing required field. Hard errors (the record cannot be parsed at
 * all) are the decoder's own business and replace any field error.
 */
#ifndef MM_EVENT_INT_H
#define MM_EVENT_INT_H

#include "consumer.h"

/** The contract's input fields (docs/events.md, Input), in its order. */
#define MM__EV_FIELD_MAP(X)                                                    \
    X(EVENT_ID, "event_id", MM__EVK_STR)                                       \
    X(USER_ID, "user_id", MM__EVK_STR)                                         \
    X(SESSION_ID, "session_id", MM__EVK_STR)                                   \
    X(TS, "ts", MM__EVK_INT)                                                   \
    X(TYPE, "type", MM__EVK_TYPE)                                              \
    X(QUERY, "query", MM__EVK_STR)                                             \
    X(DEVICE, "device", MM__EVK_STR)                                           \
    X(CHANNEL, "channel", MM__EVK_STR)                                         \
    X(LANG, "lang", MM__EVK_STR)                                               \
    X(LAT, "lat", MM__EVK_DOUBLE)                                              \
    X(LON, "lon", MM__EVK_DOUBLE)                                              \
    X(TZ_OFFSET_MIN, "tz_offset_min", MM__EVK_INT)                             \
    X(URL, "url", MM__EVK_STR)                                                 \
    X(PAGE_LOAD_MS, "page_load_ms", MM__EVK_INT)                               \
    X(IN_STORE, "in_store", MM__EVK_BOOL)                                      \
    X(VALUE, "value", MM__EVK_DOUBLE)                                          \
    X(CURRENCY, "currency", MM__EVK_STR)

/** What a field holds once decoded. */
typedef enum {
    MM__EVK_STR,    /* text (a view) */
    MM__EVK_TYPE,   /* text naming a contract event type */
    MM__EVK_INT,    /* integer */
    MM__EVK_DOUBLE, /* number */
    MM__EVK_BOOL
} mm__ev_kind_t;

typedef enum {
#define MM__EVF_ENUM(id, name, kind) MM__EVF_##id,
    MM__EV_FIELD_MAP(MM__EVF_ENUM)
#undef MM__EVF_ENUM
    MM__EVF__COUNT
} mm__ev_field_t;

typedef struct mm__ev_field_desc_s {
    const char *name;
    size_t name_len;
    mm__ev_kind_t kind;
} mm__ev_field_desc_t;

extern const mm__ev_field_desc_t mm__ev_fields[MM__EVF__COUNT];

/** @brief The field named [name, name+len), or -1 when not a contract field. */
int mm__ev_field_lookup(const char *name, size_t len);

/** Event builder: one per record, on the decoder's stack. */
typedef struct mm__evb_s {
    mm_event_t *ev;
    const mm_decode_limits_t *lim;
    char *errstr; /* may be NULL */
    size_t errstr_size;
    bool check_utf8; /* false when the decoder validated the bytes already */
    mm_err_t field_err;
    uint32_t seen; /* bit per mm__ev_field_t: present, even if null */
    bool has_type, has_lat, has_lon;
    double lat, lon;
} mm__evb_t;

/** @brief Start a record: @p ev is reset (its source kept). */
void mm__evb_init(mm__evb_t *b, mm_event_t *ev, const mm_decode_limits_t *lim,
                  bool check_utf8, char *errstr, size_t errstr_size);

/** @brief Remember a field error (first one wins). */
__attribute__((format(printf, 4, 5))) void
mm__evb_fail(mm__evb_t *b, mm_err_t err, mm__ev_field_t f, const char *fmt, ...);

/** @brief The field is present with a null value. */
void mm__evb_null(mm__evb_t *b, mm__ev_field_t f);
/** @brief A text value (a view kept in the event) for a STR or TYPE field. */
void mm__evb_text(mm__evb_t *b, mm__ev_field_t f, const char *p, size_t len);
/** @brief An integer value for an INT field (or a DOUBLE one: promoted). */
void mm__evb_int(mm__evb_t *b, mm__ev_field_t f, int64_t v);
/** @brief A number for a DOUBLE field, or an INT one when integral. */
void mm__evb_double(mm__evb_t *b, mm__ev_field_t f, double v);
void mm__evb_bool(mm__evb_t *b, mm__ev_field_t f, bool v);

/**
 * @brief End of record: the first field error, else MISSING_USER_ID,
 * NULL_USER_ID, MISSING_TYPE in that order, else MM_ERR_OK (lat/lon become
 * the event's position only when both are present).
 */
mm_err_t mm__evb_finish(mm__evb_t *b);

#endif
