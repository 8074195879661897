/*
 * micromoment error codes.
 *
 * One list, expanded into the enum, the stable names (DLQ headers, metric
 * labels: never rename a row) and the prose (logs). Details that vary per
 * occurrence go into a caller buffer (char *errstr, size_t errstr_size).
 *
 * Lives beside the classifier because every other module depends on the
 * classifier; it is reached through classifier/classifier.h.
 */
#ifndef MM_ERRORS_H
#define MM_ERRORS_H

/*
 * MM_EXPORT marks what libmicromoment-classifier.so exports: the shared
 * library is compiled with -fvisibility=hidden, so a public function without
 * it is missing from the library (test_packaging compares the two lists).
 * Here rather than in classifier.h because this header comes first.
 */
#ifndef MM_EXPORT
#if defined(__GNUC__)
#define MM_EXPORT __attribute__((visibility("default")))
#else
#define MM_EXPORT
#endif
#endif

#define MM_ERR_MAP(X)                                                          \
    X(OK, "ok")                                                                \
    /* record errors: the record goes to the dead-letter topic */              \
    X(EMPTY_RECORD, "record has no payload")                                   \
    X(BAD_JSON, "record is not valid JSON")                                    \
    X(NOT_OBJECT, "record is not a JSON object")                               \
    X(BAD_UTF8, "record contains invalid UTF-8")                               \
    X(TOO_DEEP, "record nests deeper than the allowed bound")                  \
    X(TOO_LARGE, "record is larger than the allowed bound")                    \
    X(FIELD_TOO_LONG, "a field is longer than the allowed bound")              \
    X(MISSING_USER_ID, "record has no user_id")                                \
    X(NULL_USER_ID, "record has a null or empty user_id")                      \
    X(MISSING_TYPE, "record has no type")                                      \
    X(UNKNOWN_TYPE, "record has an unknown type")                              \
    X(BAD_FIELD_TYPE, "a field has the wrong JSON type")                       \
    X(TS_OUT_OF_RANGE, "ts is out of the accepted range")                      \
    X(BAD_AVRO, "record is not valid Avro")                                    \
    X(UNKNOWN_SCHEMA, "record names an unknown schema id")                     \
    X(SCHEMA_UNAVAILABLE, "the record's schema could not be had in time")      \
    X(OUTPUT_REFUSED, "the destination refused the record's output")           \
    X(PROCESSING, "record could not be processed")                             \
    /* runtime errors: reported to the operator, never to the DLQ */           \
    X(CONFIG, "invalid configuration")                                         \
    X(LEXICON, "invalid lexicon file")                                         \
    X(IO, "input/output error")                                                \
    X(NOMEM, "out of memory")                                                  \
    X(FULL, "a bounded buffer is full")                                        \
    X(KAFKA, "Kafka client error")

typedef enum {
#define MM__ERR_ENUM(name, text) MM_ERR_##name,
    MM_ERR_MAP(MM__ERR_ENUM)
#undef MM__ERR_ENUM
    MM_ERR__COUNT
} mm_err_t;

/** @brief Stable lower-case name of @p err ("bad_json"); never NULL. */
MM_EXPORT const char *mm_err_name(mm_err_t err);

/** @brief One-line description of @p err for logs; never NULL. */
MM_EXPORT const char *mm_err_str(mm_err_t err);

#endif
