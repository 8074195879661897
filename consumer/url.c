/*
 * User info in URLs ("http://user:secret@host:8081"). A registry URL may
 * carry credentials (the Confluent clients' basic.auth.credentials.source=URL),
 * so every message and every printed configuration shows it through
 * mm_url_mask(), and requests are made with the credentials taken out of
 * the URL (avro_registry.c).
 */
#include <stdio.h>
#include <string.h>

#include "avro_int.h"

bool mm__url_userinfo(const char *url, size_t *start, size_t *len) {
    const char *scheme_end = strstr(url, "://");
    if (!scheme_end)
        return false;
    const char *auth = scheme_end + 3;
    /* The last '@' before any query or fragment: a password with an
     * unescaped '@' or '/' in it is still masked whole. */
    size_t auth_len = strcspn(auth, "?#");
    const char *at = NULL;
    for (size_t i = 0; i < auth_len; i++)
        if (auth[i] == '@')
            at = auth + i;
    if (!at)
        return false;
    *start = (size_t)(auth - url);
    *len = (size_t)(at - auth);
    return true;
}

const char *mm_url_mask(const char *url, char *out, size_t out_size) {
    size_t start, len;
    if (!url)
        url = "";
    if (!mm__url_userinfo(url, &start, &len))
        snprintf(out, out_size, "%s", url);
    else
        snprintf(out, out_size, "%.*s[masked]%s", (int)start, url, url + start + len);
    return out;
}
