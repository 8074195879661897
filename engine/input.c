/*
 * mm.input.topics: TOPIC[,TOPIC] (the group shares the topics' partitions)
 * or TOPIC:N[-M][,...] (exactly these partitions, no group membership).
 * One parser for the configuration check (app/config.c) and the engine.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

/* One partition number of TOPIC:N-M, in [0, INT32_MAX). */
static bool parse_partition(const char *p, const char *end, int32_t *out) {
    if (p == end || end - p > 10)
        return false;
    int64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v >= INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

bool mm_engine_input_partitions(const char *topics, rd_kafka_topic_partition_list_t **out,
                                 char *errstr, size_t errstr_size) {
    *out = NULL;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(16);
    int entries = 0, plain = 0;
    const char *s = topics;
    while (*s) {
        const char *end = strchr(s, ',');
        if (!end)
            end = s + strlen(s);
        const char *colon = memchr(s, ':', (size_t)(end - s));
        if (end == s) {
            s = *end ? end + 1 : end;
            continue;
        }
        entries++;
        if (!colon) {
            plain++;
        } else {
            const char *dash = memchr(colon + 1, '-', (size_t)(end - colon - 1));
            int32_t lo = 0, hi = 0;
            bool ok = colon != s && parse_partition(colon + 1, dash ? dash : end, &lo);
            if (ok && dash)
                ok = parse_partition(dash + 1, end, &hi) && hi >= lo;
            else
                hi = lo;
            if (!ok) {
                snprintf(errstr, errstr_size,
                         "mm.input.topics: '%.*s' is not TOPIC, TOPIC:N or TOPIC:N-M",
                         (int)(end - s), s);
                goto invalid;
            }
            if ((int64_t)list->cnt + (hi - lo) + 1 > MM_ENGINE_NAMED_PARTITIONS_MAX) {
                snprintf(errstr, errstr_size,
                         "mm.input.topics: more than %d explicit partitions",
                         MM_ENGINE_NAMED_PARTITIONS_MAX);
                goto invalid;
            }
            char topic[256];
            snprintf(topic, sizeof(topic), "%.*s", (int)(colon - s), s);
            for (int64_t p = lo; p <= hi; p++)
                rd_kafka_topic_partition_list_add(list, topic, (int32_t)p)->offset =
                    RD_KAFKA_OFFSET_STORED; /* the group's, else auto.offset.reset */
        }
        s = *end ? end + 1 : end;
    }
    if (plain && plain != entries) {
        snprintf(errstr, errstr_size,
                 "mm.input.topics: '%s' mixes TOPIC and TOPIC:N; an instance either "
                 "joins the group for all its topics or is told all its partitions",
                 topics);
        goto invalid;
    }
    if (plain) {
        rd_kafka_topic_partition_list_destroy(list);
        return true;
    }
    *out = list;
    return true;
invalid:
    rd_kafka_topic_partition_list_destroy(list);
    return false;
}

