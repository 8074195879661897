/*
 * The operator's text files that rules are built from besides the lexicons
 * (places, strategy): read whole with a bound, then walked line by line in
 * place. Load time only: allocation is fine here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier_int.h"

static uint32_t line_of(const char *buf, size_t off) {
    uint32_t line = 1;
    for (size_t i = 0; i < off; i++)
        line += buf[i] == '\n';
    return line;
}

bool mm__file_read(const char *path, size_t max, char **out, size_t *out_len, char *errstr,
                   size_t errstr_size) {
    *out = NULL;
    *out_len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return false;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    bool ok = buf != NULL;
    while (ok) {
        if (len == cap) {
            /* One byte past max tells "too large" from "exactly max". */
            size_t next = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *grown = next > cap ? realloc(buf, next + 1) : NULL;
            if (!grown) {
                ok = false;
                break;
            }
            buf = grown;
            cap = next;
        }
        size_t n = fread(buf + len, 1, cap - len, fp);
        len += n;
        if (n == 0)
            break;
    }
    if (!ok && len > max) {
        snprintf(errstr, errstr_size, "%s: larger than %zu bytes", path, max);
    } else if (!ok) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
    } else if (ferror(fp)) {
        snprintf(errstr, errstr_size, "%s: read error", path);
        ok = false;
    } else if (len > max) {
        snprintf(errstr, errstr_size, "%s: larger than %zu bytes", path, max);
        ok = false;
    } else {
        const char *nul = memchr(buf, '\0', len);
        if (nul) {
            snprintf(errstr, errstr_size, "%s:%u: a NUL byte", path,
                     line_of(buf, (size_t)(nul - buf)));
            ok = false;
        }
    }
    fclose(fp);
    if (!ok) {
        free(buf);
        return false;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return true;
}

bool mm__lines_next(mm__lines_t *it, char **line, size_t *len) {
    if (it->p >= it->end)
        return false;
    char *start = it->p;
    char *nl = memchr(start, '\n', (size_t)(it->end - start));
    char *stop = nl ? nl : it->end;
    it->p = nl ? nl + 1 : it->end;
    if (stop > start && stop[-1] == '\r')
        stop--;
    *stop = '\0';
    it->lineno++;
    *line = start;
    *len = (size_t)(stop - start);
    return true;
}

bool mm__text_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        bool ok;
        if (p[i] < 0x20 || p[i] == 0x7F)
            return false;
        i += mm_utf8_char(p + i, n - i, &ok);
        if (!ok)
            return false;
    }
    return true;
}

size_t mm__split_tabs(char *line, char **fields, size_t max) {
    size_t n = 0;
    for (char *p = line;; p++) {
        if (n < max)
            fields[n] = p;
        n++;
        if (!(p = strchr(p, '\t')))
            break;
        *p = '\0';
    }
    return n;
}

bool mm__text_check(const char *what, const char *s, size_t n, size_t max, bool required,
                    char *why, size_t why_size) {
    if (required && n == 0)
        snprintf(why, why_size, "%s is empty", what);
    else if (n > max)
        snprintf(why, why_size, "%s is longer than %zu bytes", what, max);
    else if (!mm__text_valid(s, n))
        snprintf(why, why_size, "%s is not UTF-8 text (or has control characters)", what);
    else
        return true;
    return false;
}
