/*
 * The JSON of what the stream tells personalization services besides single
 * moments: a user's profile (the compacted profiles topic, GET /users/{id})
 * and a conversion with the moments it is attributed to. Written with the
 * one JSON writer, like moments. Moment ids are derived exactly as a
 * moment's own (moment_id.c), so a service joins them to the moments topic.
 */
#include "sinks.h"

static void moment_ref(mm_jw_t *jw, const mm_source_t *src, uint8_t ordinal) {
    char id[MM_MOMENT_ID_LEN + 1];
    mm_moment_id_of(src, ordinal, id);
    mm_jw_key_plain(jw, "moment_id");
    mm_jw_string(jw, id, MM_MOMENT_ID_LEN);
}

size_t mm_profile_to_json(mm_str_t user_id, const mm_profile_t *p, mm_str_t topic,
                          int32_t partition, int64_t updated_ms, char *buf, size_t cap) {
    mm_jw_t jw;
    mm_jw_init(&jw, buf, cap);
    mm_jw_object_open(&jw);
    mm_jw_key_plain(&jw, "user_id");
    mm_jw_str(&jw, user_id);
    mm_jw_key_plain(&jw, "last");
    mm_jw_object_open(&jw);
    for (int t = 0; t < MM_MOMENT__COUNT; t++) {
        const mm_profile_moment_t *m = &p->last[t];
        mm_jw_key_plain(&jw, mm_moment_type_name((mm_moment_type_t)t));
        if (!m->present) {
            mm_jw_null(&jw);
            continue;
        }
        mm_source_t src = {topic, partition, m->offset};
        mm_jw_object_open(&jw);
        moment_ref(&jw, &src, m->ordinal);
        mm_jw_key_plain(&jw, "ts");
        mm_jw_int(&jw, m->ts);
        mm_jw_object_close(&jw);
    }
    mm_jw_object_close(&jw);
    mm_jw_key_plain(&jw, "counts");
    mm_jw_object_open(&jw);
    for (int t = 0; t < MM_MOMENT__COUNT; t++) {
        mm_jw_key_plain(&jw, mm_moment_type_name((mm_moment_type_t)t));
        mm_jw_int(&jw, p->counts[t]);
    }
    mm_jw_key_plain(&jw, "since");
    if (p->counts_since)
        mm_jw_int(&jw, p->counts_since);
    else
        mm_jw_null(&jw);
    mm_jw_object_close(&jw);
    mm_jw_key_plain(&jw, "journey_stage");
    mm_jw_cstr(&jw, p->has_stage ? mm_journey_stage_name(p->stage) : NULL);
    mm_jw_key_plain(&jw, "last_conversion");
    if (p->has_conversion) {
        mm_jw_object_open(&jw);
        mm_jw_key_plain(&jw, "type");
        mm_jw_cstr(&jw, mm_event_type_name(p->conversion_type));
        mm_jw_key_plain(&jw, "ts");
        mm_jw_int(&jw, p->conversion_ts);
        if (p->has_value) {
            mm_jw_key_plain(&jw, "value");
            mm_jw_double(&jw, p->conversion_value, 2);
        }
        if (*p->currency) {
            mm_jw_key_plain(&jw, "currency");
            mm_jw_cstr(&jw, p->currency);
        }
        mm_jw_object_close(&jw);
    } else {
        mm_jw_null(&jw);
    }
    mm_jw_key_plain(&jw, "events");
    mm_jw_int(&jw, p->n_events);
    mm_jw_key_plain(&jw, "last_ts");
    mm_jw_int(&jw, p->last_ts);
    mm_jw_key_plain(&jw, "owner");
    mm_jw_object_open(&jw);
    mm_jw_key_plain(&jw, "topic");
    mm_jw_str(&jw, topic);
    mm_jw_key_plain(&jw, "partition");
    mm_jw_int(&jw, partition);
    mm_jw_object_close(&jw);
    mm_jw_key_plain(&jw, "updated_ms");
    mm_jw_int(&jw, updated_ms);
    mm_jw_object_close(&jw);
    return mm_jw_ok(&jw) ? jw.len : 0;
}

size_t mm_conversion_to_json(const mm_event_t *ev, const mm_attribution_t *attributed,
                             size_t n, char *buf, size_t cap) {
    mm_jw_t jw;
    mm_jw_init(&jw, buf, cap);
    mm_jw_object_open(&jw);
    mm_jw_key_plain(&jw, "user_id");
    mm_jw_str(&jw, ev->user_id);
    mm_jw_key_plain(&jw, "event_id");
    mm_jw_str(&jw, ev->event_id);
    mm_jw_key_plain(&jw, "type");
    mm_jw_cstr(&jw, mm_event_type_name(ev->type));
    mm_jw_key_plain(&jw, "event_ts");
    if (ev->has_ts)
        mm_jw_int(&jw, ev->ts);
    else
        mm_jw_null(&jw);
    mm_jw_key_plain(&jw, "value");
    if (ev->has_value)
        mm_jw_double(&jw, ev->value, 4);
    else
        mm_jw_null(&jw);
    mm_jw_key_plain(&jw, "currency");
    mm_jw_str(&jw, ev->currency);
    mm_jw_key_plain(&jw, "attributed_to");
    mm_jw_array_open(&jw);
    for (size_t i = 0; i < n; i++) {
        mm_source_t src = {ev->source.topic, ev->source.partition, attributed[i].offset};
        mm_jw_object_open(&jw);
        moment_ref(&jw, &src, attributed[i].ordinal);
        mm_jw_key_plain(&jw, "moment");
        mm_jw_cstr(&jw, mm_moment_type_name(attributed[i].type));
        mm_jw_key_plain(&jw, "age_ms");
        mm_jw_int(&jw, attributed[i].age_ms);
        mm_jw_object_close(&jw);
    }
    mm_jw_array_close(&jw);
    mm_jw_key_plain(&jw, "source");
    mm_jw_object_open(&jw);
    mm_jw_key_plain(&jw, "topic");
    mm_jw_str(&jw, ev->source.topic);
    mm_jw_key_plain(&jw, "partition");
    mm_jw_int(&jw, ev->source.partition);
    mm_jw_key_plain(&jw, "offset");
    mm_jw_int(&jw, ev->source.offset);
    mm_jw_object_close(&jw);
    mm_jw_object_close(&jw);
    return mm_jw_ok(&jw) ? jw.len : 0;
}
