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
 *
 * Credentials (the URL's user info or mm.schema.registry.basic.auth.user.info)
 * are kept apart from the URL: requests carry them as HTTP basic auth, and
 * the URL in every message has none.
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
    char *base;     /* url without user info and without a trailing '/' */
    char *user;     /* basic auth, NULL: none */
    char *password;
    char *ca_file;  /* NULL: the system's CA bundle */
    long timeout_ms;
    char curl_err[CURL_ERROR_SIZE];
    char *body; /* answer being received */
    size_t body_len;
    bool body_too_big;
};

bool mm_registry_url_check(const char *url, char *errstr, size_t errstr_size) {
    if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
        return true;
    char shown[256];
    snprintf(errstr, errstr_size,
             "mm.schema.registry.url: \"%s\" is not an http:// or https:// URL",
             mm_url_mask(url, shown, sizeof(shown)));
    return false;
}

/* "user:password" into reg->user and reg->password; percent-decoded when it
 * came from a URL (where ':' '@' '/' in them must be escaped). */
static bool set_credentials(mm__registry_t *reg, const char *info, size_t len,
                            bool from_url) {
    const char *colon = memchr(info, ':', len);
    size_t ulen = colon ? (size_t)(colon - info) : len;
    const char *pw = colon ? colon + 1 : "";
    size_t plen = colon ? len - ulen - 1 : 0;
    if (from_url) {
        int n = 0;
        char *u = curl_easy_unescape(reg->curl, info, (int)ulen, &n);
        reg->user = u ? strndup(u, (size_t)n) : NULL;
        curl_free(u);
        char *p = curl_easy_unescape(reg->curl, pw, (int)plen, &n);
        reg->password = p ? strndup(p, (size_t)n) : NULL;
        curl_free(p);
    } else {
        reg->user = strndup(info, ulen);
        reg->password = strndup(pw, plen);
    }
    return reg->user && reg->password;
}

mm__registry_t *mm__registry_new(const mm_avro_conf_t *conf, char *errstr,
                                 size_t errstr_size) {
    const char *url = conf->registry_url ? conf->registry_url : "";
    if (!mm_registry_url_check(url, errstr, errstr_size))
        return NULL;
    mm__registry_t *reg = calloc(1, sizeof(*reg));
    if (!reg)
        goto fail;
    /* Thread-safe since curl 7.84 (Debian 12 has 7.88); idempotent. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        goto fail;
    reg->timeout_ms = conf->registry_timeout_ms > 0 ? conf->registry_timeout_ms : 5000;
    reg->body = malloc(MM__AVRO_SCHEMA_MAX + 1);
    reg->curl = curl_easy_init();
    reg->multi = curl_multi_init();
    if (!reg->body || !reg->curl || !reg->multi)
        goto fail;
    size_t info_start = 0, info_len = 0;
    bool has_info = mm__url_userinfo(url, &info_start, &info_len);
    size_t rest = has_info ? info_start + info_len + 1 : 0; /* past the '@' */
    size_t n = strlen(url);
    while (n > rest && url[n - 1] == '/')
        n--;
    if (!(reg->base = malloc(n + 1)))
        goto fail;
    snprintf(reg->base, n + 1, "%.*s%.*s", (int)(has_info ? info_start : 0), url,
             (int)(n - rest), url + rest);
    if (conf->registry_user_info && *conf->registry_user_info) {
        if (!set_credentials(reg, conf->registry_user_info,
                             strlen(conf->registry_user_info), false))
            goto fail;
    } else if (has_info && !set_credentials(reg, url + info_start, info_len, true)) {
        goto fail;
    }
    if (conf->registry_ca_file && *conf->registry_ca_file &&
        !(reg->ca_file = strdup(conf->registry_ca_file)))
        goto fail;
    mm__registry_setopt(reg, reg->curl);
    curl_easy_setopt(reg->curl, CURLOPT_ERRORBUFFER, reg->curl_err);
    return reg;
fail:
    snprintf(errstr, errstr_size, "schema registry client: out of memory");
    mm__registry_destroy(reg);
    return NULL;
}

void mm__registry_setopt(const mm__registry_t *reg, CURL *curl) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, reg->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, reg->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM */
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "micromoment/" MM_VERSION);
    if (reg->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, reg->ca_file);
    if (reg->user) {
        /* Sent only to the registry's own host: curl drops credentials on a
         * redirect elsewhere unless told otherwise (CURLOPT_UNRESTRICTED_AUTH). */
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, reg->user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, reg->password);
    }
}

static void free_secret(char *s) {
    if (!s)
        return;
    /* The password does not outlive the client in freed memory. */
    volatile char *p = s;
    while (*p)
        *p++ = '\0';
    free(s);
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
    free(reg->user);
    free_secret(reg->password);
    free(reg->ca_file);
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

mm_err_t mm__registry_post(mm__registry_t *reg, const char *path, const char *body,
                           size_t body_len, long *status, const char **answer,
                           size_t *answer_len, char *errstr, size_t errstr_size) {
    if (reg->busy || (size_t)snprintf(reg->url, sizeof(reg->url), "%s%s", reg->base, path) >=
                         sizeof(reg->url)) {
        snprintf(errstr, errstr_size, "registry request: %s",
                 reg->busy ? "another one is under way" : "URL too long");
        return MM_ERR_IO;
    }
    reg->body_len = 0;
    reg->body_too_big = false;
    reg->curl_err[0] = '\0';
    struct curl_slist *headers =
        curl_slist_append(NULL, "Content-Type: application/vnd.schemaregistry.v1+json");
    curl_easy_setopt(reg->curl, CURLOPT_URL, reg->url);
    curl_easy_setopt(reg->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(reg->curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    curl_easy_setopt(reg->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(reg->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(reg->curl, CURLOPT_WRITEDATA, reg);
    /* Start-up, one request: waiting for it here is what the caller wants. */
    CURLcode rc = curl_easy_perform(reg->curl);
    curl_easy_setopt(reg->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK || reg->body_too_big) {
        snprintf(errstr, errstr_size, "registry request %s failed: %s", reg->url,
                 reg->body_too_big ? "an answer over 1 MiB"
                 : reg->curl_err[0] ? reg->curl_err
                                    : curl_easy_strerror(rc));
        return MM_ERR_IO;
    }
    *status = 0;
    curl_easy_getinfo(reg->curl, CURLINFO_RESPONSE_CODE, status);
    reg->body[reg->body_len] = '\0';
    *answer = reg->body;
    *answer_len = reg->body_len;
    return MM_ERR_OK;
}
