/* UTF-8 character boundaries (RFC 3629), shared by every module that
 * validates or sanitizes text. */
#include "classifier.h"

size_t mm_utf8_char(const unsigned char *s, size_t n, bool *ok) {
    unsigned char c = s[0], lo = 0x80, hi = 0xBF; /* bounds of the 2nd byte */
    size_t need;
    *ok = c < 0x80;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* overlong */
        hi = c == 0xED ? 0x9F : 0xBF; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80; /* overlong */
        hi = c == 0xF4 ? 0x8F : 0xBF; /* above U+10FFFF */
    } else {
        return 1;
    }
    if (n < 2 || s[1] < lo || s[1] > hi)
        return 1;
    size_t i = 2;
    while (i <= need && i < n && (s[i] & 0xC0) == 0x80)
        i++;
    *ok = i == need + 1;
    return i;
}
