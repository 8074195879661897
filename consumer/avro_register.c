/*
 * Registering the output schema at start-up: POST
 * /subjects/{subject}/versions, answered {"id": N} (the same id again when
 * the subject already has this schema). One synchronous request on a client
 * of its own, set up as every registry request is (mm__registry_setopt).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_int.h"
#include "json_int.h"

typedef struct id_answer_s {
    int64_t id;
    bool seen;
} id_answer_t;

static mm_err_t on_member(mm_json_parser_t *jp, const mm_json_value_t *key, void *ctx) {
    id_answer_t *a = ctx;
    mm_json_value_t v;
    mm_err_t err = mm__json_read_value(jp, 2, &v);
    if (err != MM_ERR_OK)
        return err;
    if (!key->escaped && key->raw_len == 2 && memcmp(jp->p + key->start, "id", 2) == 0 &&
        v.kind == MM_JV_NUMBER && v.integer && v.raw_len <= 10) {
        a->id = strtoll((const char *)jp->p + v.start, NULL, 10);
        a->seen = a->id >= 0 && a->id <= INT32_MAX;
    }
    return MM_ERR_OK;
}

mm_err_t mm_avro_register_schema(const mm_avro_conf_t *conf, const char *subject,
                                 const char *body, size_t body_len, int32_t *id,
                                 char *errstr, size_t errstr_size) {
    mm__registry_t *reg = mm__registry_new(conf, errstr, errstr_size);
    if (!reg)
        return MM_ERR_IO;
    char path[512];
    long status = 0;
    const char *answer = NULL;
    size_t answer_len = 0;
    mm_err_t err = MM_ERR_IO;
    if ((size_t)snprintf(path, sizeof(path), "/subjects/%s/versions", subject) >=
        sizeof(path)) {
        snprintf(errstr, errstr_size, "subject %.64s...: too long", subject);
        goto done;
    }
    if (mm__registry_post(reg, path, body, body_len, &status, &answer, &answer_len, errstr,
                          errstr_size) != MM_ERR_OK)
        goto done;
    if (status != 200) {
        /* 409: incompatible with the subject's schemas; 422: invalid. The
         * answer's message says which; it is the registry's, not a secret. */
        snprintf(errstr, errstr_size, "registering subject %s: HTTP %ld: %.300s", subject,
                 status, answer);
        goto done;
    }
    id_answer_t a = {0};
    mm_json_parser_t jp = {.p = (const unsigned char *)answer, .len = answer_len,
                           .max_depth = 4};
    mm__json_skip_ws(&jp);
    if (jp.pos < jp.len && jp.p[jp.pos] == '{' &&
        mm__json_walk_object(&jp, 1, on_member, &a) == MM_ERR_OK && a.seen) {
        *id = (int32_t)a.id;
        err = MM_ERR_OK;
    } else {
        snprintf(errstr, errstr_size, "registering subject %s: the answer has no \"id\"",
                 subject);
    }
done:
    mm__registry_destroy(reg);
    return err;
}
