/*
 * Confluent Schema Registry client: GET /schemas/ids/{id}, which answers
 * {"schema": "<the schema as an escaped JSON string>", ...}. One curl easy
 * handle per decoder, reused so the connection is kept alive, driven by a
 * curl multi handle so that the decoder's thread never waits for it: a slow
 * or silent registry costs the records that need it, not the others. Called
 * only on a schema cache miss, never per record; the caller bounds how often.
 *
 * Bounds: the whole request (connect included) takes at most timeout_ms; an
 * answer over MM__AVRO_SCHEMA_MAX bytes is refused. The answer is parsed
 * with the consumer's JSON scanner (json_int.h), the same one that reads
 * events.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_int.h"
#include "json_int.h"

struct mm__registry_s {
    CURLM *multi;
    CURL *curl;
    bool busy;
    uint32_t busy_id;
    char url[2048];
    char *base; /* url without a trailing '/' */
    char curl_err[CURL_ERROR_SIZE];
    char *body; /* answer being received */
    size_t body_len;
    bool body_too_big;
};

mm__registry_t *mm__registry_new(const char *url, int timeout_ms, char *errstr,
                                 size_t errstr_size) {
    mm__registry_t *reg = calloc(1, sizeof(*reg));
    if (!reg)
        goto fail;
    /* Thread-safe since curl 7.84 (Debian 12 has 7.88); idempotent. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        goto fail;
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(errstr, errstr_size,
                 "mm.schema.registry.url: \"%s\" is not an http:// or https:// URL", url);
        mm__registry_destroy(reg);
        return NULL;
    }
    reg->base = strndup(url, n);
    reg->body = malloc(MM__AVRO_SCHEMA_MAX + 1);
    reg->curl = curl_easy_init();
    reg->multi = curl_multi_init();
    if (!reg->base || !reg->body || !reg->curl || !reg->multi)
        goto fail;
    curl_easy_setopt(reg->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(reg->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(reg->curl, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM */
    curl_easy_setopt(reg->curl, CURLOPT_ERRORBUFFER, reg->curl_err);
    curl_easy_setopt(reg->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(reg->curl, CURLOPT_USERAGENT, "micromoment/" MM_VERSION);
    return reg;
fail:
    snprintf(errstr, errstr_size, "schema registry client: out of memory");
    mm__registry_destroy(reg);
    return NULL;
}

void mm__registry_destroy(mm__registry_t *reg) {
    if (!reg)
        return;
    if (reg->busy)
        curl_multi_remove_handle(reg->multi, reg->curl);
    if (reg->curl)
        curl_easy_cleanup(reg->curl);
    if (reg->multi)
        curl_multi_cleanup(reg->multi);
    free(reg->base);
    free(reg->body);
    free(reg);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx) {
    mm__registry_t *reg = ctx;
    size_t n = size * nmemb;
    if (n > MM__AVRO_SCHEMA_MAX - reg->body_len) {
        reg->body_too_big = true;
        return 0; /* aborts the transfer */
    }
    memcpy(reg->body + reg->body_len, p, n);
    reg->body_len += n;
    return n;
}

typedef struct answer_s {
    char *schema;
    size_t schema_len;
    bool not_avro;
    char schema_type[16];
} answer_t;

static bool key_is(const mm_json_parser_t *jp, const mm_json_value_t *key, const char *name) {
    return !key->escaped && key->raw_len == strlen(name) &&
           memcmp(jp->p + key->start, name, key->raw_len) == 0;
}

static mm_err_t on_member(mm_json_parser_t *jp, const mm_json_value_t *key, void *ctx) {
    answer_t *a = ctx;
    mm_json_value_t v;
    mm_err_t err = mm__json_read_value(jp, 2, &v);
    if (err != MM_ERR_OK)
        return err;
    if (key_is(jp, key, "schema") && v.kind == MM_JV_STRING && !a->schema) {
        if (!(a->schema = malloc(v.dec_len + 1)))
            return MM_ERR_NOMEM;
        a->schema_len = mm__json_unescape(jp, &v, a->schema);
        a->schema[a->schema_len] = '\0';
    } else if (key_is(jp, key, "schemaType") && v.kind == MM_JV_STRING) {
        /* Absent means AVRO; PROTOBUF and JSON schemas are not ours. */
        if (v.raw_len != 4 || memcmp(jp->p + v.start, "AVRO", 4) != 0) {
            a->not_avro = true;
            snprintf(a->schema_type, sizeof(a->schema_type), "%.*s",
                     (int)(v.raw_len < 15 ? v.raw_len : 15), (const char *)jp->p + v.start);
        }
    }
    return MM_ERR_OK;
}

bool mm__registry_start(mm__registry_t *reg, uint32_t id, char *errstr, size_t errstr_size) {
    if (reg->busy) {
        snprintf(errstr, errstr_size, "a registry request is already under way");
        return false;
    }
    if ((size_t)snprintf(reg->url, sizeof(reg->url), "%s/schemas/ids/%u", reg->base, id) >=
        sizeof(reg->url)) {
        snprintf(errstr, errstr_size, "registry URL too long");
        return false;
    }
    reg->body_len = 0;
    reg->body_too_big = false;
    reg->curl_err[0] = '\0';
    curl_easy_setopt(reg->curl, CURLOPT_URL, reg->url);
    curl_easy_setopt(reg->curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(reg->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(reg->curl, CURLOPT_WRITEDATA, reg);
    CURLMcode mc = curl_multi_add_handle(reg->multi, reg->curl);
    if (mc != CURLM_OK) {
        snprintf(errstr, errstr_size, "registry request: %s", curl_multi_strerror(mc));
        return false;
    }
    reg->busy = true;
    reg->busy_id = id;
    int running;
    curl_multi_perform(reg->multi, &running); /* connects, sends: no wait */
    return true;
}

bool mm__registry_busy(const mm__registry_t *reg, uint32_t *id) {
    if (id)
        *id = reg->busy_id;
    return reg->busy;
}

/* The answer to the request that just ended. */
static mm_err_t answer(mm__registry_t *reg, CURLcode rc, char **json, size_t *json_len,
                       char *errstr, size_t errstr_size) {
    uint32_t id = reg->busy_id;
    const char *url = reg->url;
    if (reg->body_too_big) {
        snprintf(errstr, errstr_size, "registry answer for id %u is over 1 MiB", id);
        return MM_ERR_UNKNOWN_SCHEMA;
    }
    if (rc != CURLE_OK) {
        snprintf(errstr, errstr_size, "registry request %s failed: %s", url,
                 reg->curl_err[0] ? reg->curl_err : curl_easy_strerror(rc));
        return MM_ERR_IO;
    }
    long status = 0;
    curl_easy_getinfo(reg->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 404) {
        snprintf(errstr, errstr_size, "the registry has no schema id %u", id);
        return MM_ERR_UNKNOWN_SCHEMA;
    }
    if (status != 200) {
        /* 5xx, 3xx (a redirect we do not follow), 401/403 (credentials),
         * 429: the id may well exist. */
        snprintf(errstr, errstr_size, "registry answered HTTP %ld for %s", status, url);
        return MM_ERR_IO;
    }
    answer_t a = {0};
    mm_json_parser_t jp = {.p = (const unsigned char *)reg->body, .len = reg->body_len,
                           .max_depth = 8};
    mm__json_skip_ws(&jp);
    mm_err_t err = MM_ERR_BAD_JSON;
    if (jp.pos < jp.len && jp.p[jp.pos] == '{')
        err = mm__json_walk_object(&jp, 1, on_member, &a);
    if (err == MM_ERR_NOMEM) {
        free(a.schema);
        snprintf(errstr, errstr_size, "out of memory");
        return MM_ERR_IO;
    }
    if (err != MM_ERR_OK || !a.schema) {
        /* A proxy's error page, a truncated body: not the registry's word
         * on the id. */
        free(a.schema);
        snprintf(errstr, errstr_size, "registry answer for id %u has no \"schema\" string", id);
        return MM_ERR_IO;
    }
    if (a.not_avro) {
        free(a.schema);
        snprintf(errstr, errstr_size, "schema id %u is a %s schema, not Avro", id,
                 a.schema_type);
        return MM_ERR_UNKNOWN_SCHEMA;
    }
    *json = a.schema;
    *json_len = a.schema_len;
    return MM_ERR_OK;
}

bool mm__registry_poll(mm__registry_t *reg, int wait_ms, mm_err_t *result, char **json,
                       size_t *json_len, char *errstr, size_t errstr_size) {
    if (!reg->busy)
        return false;
    int running = 0;
    if (wait_ms > 0)
        curl_multi_poll(reg->multi, NULL, 0, wait_ms, NULL);
    curl_multi_perform(reg->multi, &running);
    int left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(reg->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE || msg->easy_handle != reg->curl)
            continue;
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(reg->multi, reg->curl);
        *result = answer(reg, rc, json, json_len, errstr, errstr_size);
        reg->busy = false;
        return true;
    }
    return false;
}
