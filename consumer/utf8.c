/*
 * UTF-8 validation (RFC 3629, mm_utf8_char). ASCII runs are skipped eight
 * bytes at a time because most clickstream text is ASCII.
 */
#include <stdint.h>
#include <string.h>

#include "consumer.h"

bool mm_utf8_valid(const char *s, size_t len) {
    if (!s)
        return len == 0; /* NULL + 0 is undefined behaviour */
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    while (p < end) {
        if ((size_t)(end - p) >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                p += 8;
                continue;
            }
        }
        bool ok;
        size_t char_len = mm_utf8_char(p, (size_t)(end - p), &ok);
        if (!ok)
            return false;
        p += char_len;
    }
    return true;
}
