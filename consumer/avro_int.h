/*
 * Private seam of the Avro decoder, not included outside consumer/:
 *   avro_decode.c    wire format, schema plans, the cache, decoding
 *   avro_registry.c  the Schema Registry's REST API over libcurl
 */
#ifndef MM_AVRO_INT_H
#define MM_AVRO_INT_H

#include "consumer.h"

/** One registry connection (a reused curl handle), one request at a time,
 * driven without blocking (curl multi). */
typedef struct mm__registry_s mm__registry_t;

/** Largest schema text accepted from a registry or a file. */
#define MM__AVRO_SCHEMA_MAX (1u << 20)

mm__registry_t *mm__registry_new(const char *url, int timeout_ms, char *errstr,
                                 size_t errstr_size);
void mm__registry_destroy(mm__registry_t *reg);

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
