/*
 * mm.metrics.listen's syntax (see metrics.h), apart from the server so that
 * the configuration checks it without libmicrohttpd: a bad address is a
 * configuration error (exit 2), found before anything starts.
 */
#include <stdio.h>
#include <string.h>

#include "metrics.h"

bool mm_metrics_parse_listen(const char *listen, char *host_out, size_t host_size,
                             uint16_t *port_out, char *errstr, size_t errstr_size) {
    const char *colon = strrchr(listen, ':');
    const char *host = listen;
    size_t host_len;
    if (!colon) {
        snprintf(errstr, errstr_size, "mm.metrics.listen: '%s' is not HOST:PORT", listen);
        return false;
    }
    host_len = (size_t)(colon - listen);
    if (host_len > 0 && listen[0] == '[') {
        if (host_len < 2 || colon[-1] != ']') {
            snprintf(errstr, errstr_size, "mm.metrics.listen: '%s': unclosed [", listen);
            return false;
        }
        host++;
        host_len -= 2;
    } else if (memchr(listen, ':', host_len)) {
        snprintf(errstr, errstr_size,
                 "mm.metrics.listen: '%s': write an IPv6 address as [ADDR]:PORT", listen);
        return false;
    }
    if (host_len == 0) {
        host = "0.0.0.0";
        host_len = strlen(host);
    }
    if (host_len >= host_size) {
        snprintf(errstr, errstr_size, "mm.metrics.listen: '%s': host too long", listen);
        return false;
    }
    const char *p = colon + 1;
    unsigned long port = 0;
    if (!*p || strlen(p) > 5)
        goto bad_port;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            goto bad_port;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port > 65535)
        goto bad_port;
    memcpy(host_out, host, host_len);
    host_out[host_len] = '\0';
    *port_out = (uint16_t)port;
    return true;
bad_port:
    snprintf(errstr, errstr_size, "mm.metrics.listen: '%s': port is not in 0..65535",
             listen);
    return false;
}
