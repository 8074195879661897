/*
 * moment_id: a pure function of where the triggering record sits in Kafka
 * (topic, partition, offset) and which moment of that record it is, so a
 * record processed twice (at-least-once after a crash) yields the same id and
 * downstream can drop the duplicate. XXH3-128 is fast and well distributed;
 * this is not a security boundary.
 */
#include <string.h>
#include <xxhash.h>

#include "sinks.h"

void mm_moment_id(const mm_moment_t *m, char out[MM_MOMENT_ID_LEN + 1]) {
    mm_moment_id_of(&m->event->source, m->ordinal, out);
}

void mm_moment_id_of(const mm_source_t *src, uint8_t ordinal,
                     char out[MM_MOMENT_ID_LEN + 1]) {
    /* Field separators keep ("ab", 1) and ("a", 11...) apart. */
    unsigned char buf[512];
    size_t n = 0;
    size_t topic_len = src->topic.len < 256 ? src->topic.len : 256;
    if (topic_len)
        memcpy(buf, src->topic.p, topic_len);
    n = topic_len;
    buf[n++] = 0;
    uint32_t partition = (uint32_t)src->partition;
    memcpy(buf + n, &partition, sizeof(partition));
    n += sizeof(partition);
    uint64_t offset = (uint64_t)src->offset;
    memcpy(buf + n, &offset, sizeof(offset));
    n += sizeof(offset);
    /* Not the type: a record read again after a crash, with per-user state
     * rebuilt from less history, may come out as another type, and it must
     * keep its id so that downstream sees it as the same moment again. */
    buf[n++] = ordinal;
    XXH128_hash_t h = XXH3_128bits(buf, n);
    /* Hex by hand: snprintf's format parsing cost more than the hash. */
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[i] = hex[(h.high64 >> (60 - 4 * i)) & 0xF];
        out[16 + i] = hex[(h.low64 >> (60 - 4 * i)) & 0xF];
    }
    out[MM_MOMENT_ID_LEN] = '\0';
}
