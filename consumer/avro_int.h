/*
 * Private seam of the Avro decoder, not included outside consumer/:
 *   avro_decode.c    wire format, schema plans, the cache, decoding
 *   avro_registry.c  the Schema Registry's REST API over libcurl
 *   avro_register.c  registering a schema at start-up
 *   url.c            user info in URLs (masking, taking it out)
 */
#ifndef MM_AVRO_INT_H
#define MM_AVRO_INT_H

#include <curl/curl.h>

#include "consumer.h"

/** One registry connection (a reused curl handle), one request at a time,
 * driven without blocking (curl multi). */
typedef struct mm__registry_s mm__registry_t;

/** Largest schema text accepted from a registry or a file. */
#define MM__AVRO_SCHEMA_MAX (1u << 20)

/** @brief Where @p url's user info is (url.c): bytes [start, start + len),
 * without the '@'. @returns false when it has none. */
bool mm__url_userinfo(const char *url, size_t *start, size_t *len);

/**
 * @brief A client of conf->registry_url: the URL's user info, if any, is
 * taken out of it (requests and messages use the rest) and, with
 * conf->registry_user_info, becomes HTTP basic auth.
 * @returns NULL with why in errstr (the URL masked).
 */
mm__registry_t *mm__registry_new(const mm_avro_conf_t *conf, char *errstr,
                                 size_t errstr_size);
void mm__registry_destroy(mm__registry_t *reg);

/**
 * @brief Apply the connection's options to a curl easy handle: timeouts,
 * protocols (http, https only), the CA bundle, basic auth, no signals.
 * Every request to the registry, synchronous or not, is set up by this.
 */
void mm__registry_setopt(const mm__registry_t *reg, CURL *curl);

/** @brief Start GET {url}/schemas/ids/{id} in the background. @returns false
 * (why in errstr) when it cannot even be started. */
bool mm__registry_start(mm__registry_t *reg, uint32_t id, char *errstr, size_t errstr_size);

/** @brief A request is under way; *id says for which schema. */
bool mm__registry_busy(const mm__registry_t *reg, uint32_t *id);

/**
 * @brief Drive the request under way, waiting up to @p wait_ms for progress.
 * @returns false while it is still under way; true once it is over, with
 *          *result: MM_ERR_OK and *json (malloc'ed, NUL-terminated, the
 *          caller frees it); MM_ERR_UNKNOWN_SCHEMA when the registry answered
 *          that it has no such id (404) or the answer is not an Avro schema;
 *          MM_ERR_IO when it could not be asked or answered nothing usable
 *          (connection, timeout, 5xx, a redirect, a malformed body): the id
 *          may well exist, ask again later.
 */
bool mm__registry_poll(mm__registry_t *reg, int wait_ms, mm_err_t *result, char **json,
                       size_t *json_len, char *errstr, size_t errstr_size);

/**
 * @brief POST @p body (application/vnd.schemaregistry.v1+json) to
 * {url}{path} and wait for the answer (start-up only; no request may be
 * under way on @p reg). @returns MM_ERR_OK when an answer came, with its
 * status in *status and its body (valid until the next request on @p reg)
 * in *answer, *answer_len; MM_ERR_IO with why in errstr otherwise.
 */
mm_err_t mm__registry_post(mm__registry_t *reg, const char *path, const char *body,
                           size_t body_len, long *status, const char **answer,
                           size_t *answer_len, char *errstr, size_t errstr_size);

/* ------------------------------------------------- schemas (avro_schema.c) */

#include <avro.h>

#include "event_int.h"

/** How a writer value is encoded, as far as a contract field cares. */
typedef enum {
    MM__CV_NULL,
    MM__CV_BOOL,
    MM__CV_INT,
    MM__CV_LONG,
    MM__CV_FLOAT,
    MM__CV_DOUBLE,
    MM__CV_TEXT, /* string or bytes */
    MM__CV_BAD   /* cannot be read as the reader's type */
} mm__avro_conv_t;

#define MM__AVRO_UNION_MAX 16 /* branches of a union read into a contract field */

typedef struct mm__avro_wfield_s {
    avro_schema_t schema; /* the writer field's type (owned by the plan's writer) */
    int target;           /* mm__ev_field_t, or -1: skipped */
    uint8_t n_branches;   /* 0: not a union */
    uint8_t conv;         /* not a union */
    uint8_t branch_conv[MM__AVRO_UNION_MAX];
} mm__avro_wfield_t;

typedef struct mm__avro_plan_s {
    avro_schema_t writer;
    size_t n_fields;
    mm__avro_wfield_t *fields;
} mm__avro_plan_t;

/** The reader's primitive type of each contract field (AVRO_NULL: none). */
typedef struct mm__avro_reader_s {
    avro_type_t type[MM__EVF__COUNT];
    bool nullable[MM__EVF__COUNT];
} mm__avro_reader_t;

/** @brief Follow named-type references to the schema itself. */
avro_schema_t mm__avro_deref(avro_schema_t s);

/**
 * @brief Compile @p writer (a reference is taken) against @p rd.
 * @returns the plan, or NULL with why in errstr (the schema is unusable).
 */
mm__avro_plan_t *mm__avro_plan_new(avro_schema_t writer, const mm__avro_reader_t *rd,
                                   char *errstr, size_t errstr_size);
void mm__avro_plan_destroy(mm__avro_plan_t *plan);

/** @brief Load the reader schema (@p path, or the built-in one when NULL)
 * and check that each field is a contract field of a supported type. */
int mm__avro_reader_load(mm__avro_reader_t *reader, const char *path, char *errstr,
                         size_t errstr_size);

/** @brief A file of at most MM__AVRO_SCHEMA_MAX bytes, malloc'ed and
 * NUL-terminated. */
char *mm__avro_slurp(const char *path, size_t *len, char *errstr, size_t errstr_size);

/** @brief Avro C's parse, with its message in errstr prefixed by @p what. */
avro_schema_t mm__avro_parse_schema(const char *json, size_t len, const char *what,
                                    char *errstr, size_t errstr_size);

#endif
