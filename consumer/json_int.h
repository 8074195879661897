/*
 * Private seam of the JSON decoder, not included outside consumer/:
 *   json_scan.c    RFC 8259 scanning: strings, numbers, literals, nesting
 *   json_decode.c  the contract's fields onto mm_event_t
 * The scanner never reads past len and allocates nothing; a container is
 * validated and skipped, or walked member by member with a callback.
 */
#ifndef MM_JSON_INT_H
#define MM_JSON_INT_H

#include "consumer.h"

typedef struct mm_json_parser_s {
    const unsigned char *p;
    size_t len;
    size_t pos;
    uint32_t max_depth;
    char *errstr; /* may be NULL */
    size_t errstr_size;
} mm_json_parser_t;

typedef enum {
    MM_JV_STRING,
    MM_JV_NUMBER,
    MM_JV_TRUE,
    MM_JV_FALSE,
    MM_JV_NULL,
    MM_JV_OBJECT,
    MM_JV_ARRAY
} mm_json_kind_t;

/** One scanned value. Containers are validated and skipped, not kept. */
typedef struct mm_json_value_s {
    mm_json_kind_t kind;
    size_t start;   /* strings: first byte after the quote; numbers: literal */
    size_t raw_len; /* strings: bytes between the quotes; numbers: literal */
    size_t dec_len; /* strings: bytes once unescaped */
    bool escaped;   /* strings: contains a backslash escape */
    bool integer;   /* numbers: no fraction, no exponent */
} mm_json_value_t;

/** "a string", "a number", ... indexed by mm_json_kind_t, for messages. */
extern const char *const mm__json_kind_names[];

/** For errors about the record as a whole: no "offset N: " prefix. */
#define MM__JSON_NO_OFFSET ((size_t)-1)

/**
 * @brief Write "offset N: <fmt>" into jp->errstr and return @p err: a hard
 * error, which stops decoding and replaces any earlier message.
 */
__attribute__((format(printf, 4, 5))) mm_err_t
mm__json_syn(mm_json_parser_t *jp, mm_err_t err, size_t off, const char *fmt,
             ...);

void mm__json_skip_ws(mm_json_parser_t *jp);

/**
 * @brief Scan any value at jp->pos (leading whitespace skipped); a container
 * found there sits at nesting @p depth (the top level is 1).
 */
mm_err_t mm__json_read_value(mm_json_parser_t *jp, uint32_t depth,
                             mm_json_value_t *v);

/** Called once per object member, with jp->pos at the member's value,
 * which it must consume. */
typedef mm_err_t (*mm_json_member_fn)(mm_json_parser_t *jp,
                                      const mm_json_value_t *key, void *ctx);

/**
 * @brief Walk the object at jp->pos == '{' at nesting @p depth. With @p fn
 * NULL every member is validated and skipped.
 */
mm_err_t mm__json_walk_object(mm_json_parser_t *jp, uint32_t depth,
                              mm_json_member_fn fn, void *ctx);

/** @brief Only whitespace may follow; BAD_JSON otherwise. */
mm_err_t mm__json_expect_end(mm_json_parser_t *jp);

/**
 * @brief Unescape a string mm__json_read_value() accepted into @p out, which
 * has room for v->dec_len bytes. @returns v->dec_len.
 */
size_t mm__json_unescape(const mm_json_parser_t *jp, const mm_json_value_t *v,
                         char *out);

#endif
