/*
 * Moments (and classify --explain) as JSON, in the exact field order of
 * DESIGN.md "Output moment", through the one JSON writer.
 *
 * Signals carry only the parts that are present (has_* flags; a NULL value or
 * lang is left out, not written as null). Each key keeps one JSON type across
 * all signals so that a schema (Avro, a warehouse table) can declare it:
 *   "value"     string  the phrase or term that matched
 *   "lang"      string
 *   "count"     integer
 *   "window_ms" integer
 *   "number"    number  mm_signal_t.number: a weight, distance or duration,
 *                       whichever the signal's name says (3 decimals)
 * Scores and confidence have 3 decimals, trailing zeros cut (0.91, 1, 0).
 */
#include "sinks.h"

static void write_scores(mm_jw_t *jw, const float scores[MM_MOMENT__COUNT]) {
    mm_jw_key(jw, "scores");
    mm_jw_object_open(jw);
    for (int t = 0; t < MM_MOMENT__COUNT; t++) {
        mm_jw_key(jw, mm_moment_type_name((mm_moment_type_t)t));
        mm_jw_double(jw, scores[t], 3);
    }
    mm_jw_object_close(jw);
}

/** Shared by the moment and the explanation: one shape for a signal. */
static void write_signals(mm_jw_t *jw, const mm_signal_t *sigs, uint32_t n) {
    if (n > MM_SIGNALS_MAX)
        n = MM_SIGNALS_MAX;
    mm_jw_key(jw, "signals");
    mm_jw_array_open(jw);
    for (uint32_t i = 0; i < n; i++) {
        const mm_signal_t *s = &sigs[i];
        mm_jw_object_open(jw);
        mm_jw_key(jw, "name");
        mm_jw_cstr(jw, s->name);
        if (s->value.p) {
            mm_jw_key(jw, "value");
            mm_jw_str(jw, s->value);
        }
        if (s->lang) {
            mm_jw_key(jw, "lang");
            mm_jw_cstr(jw, s->lang);
        }
        if (s->has_count) {
            mm_jw_key(jw, "count");
            mm_jw_int(jw, s->count);
        }
        if (s->has_window) {
            mm_jw_key(jw, "window_ms");
            mm_jw_int(jw, s->window_ms);
        }
        if (s->has_number) {
            mm_jw_key(jw, "number");
            mm_jw_double(jw, s->number, 3);
        }
        mm_jw_object_close(jw);
    }
    mm_jw_array_close(jw);
}

static void write_strategy(mm_jw_t *jw, mm_moment_type_t type) {
    const mm_strategy_t *st = mm_moment_strategy(type);
    mm_jw_key(jw, "strategy");
    mm_jw_object_open(jw);
    mm_jw_key(jw, "goal");
    mm_jw_cstr(jw, st->goal);
    mm_jw_key(jw, "content");
    mm_jw_cstr(jw, st->content);
    mm_jw_key(jw, "horizon");
    mm_jw_cstr(jw, st->horizon);
    mm_jw_object_close(jw);
}

static void write_context(mm_jw_t *jw, const mm_moment_t *m) {
    mm_jw_key(jw, "context");
    mm_jw_object_open(jw);
    mm_jw_key(jw, "device");
    mm_jw_str(jw, m->event->device);
    mm_jw_key(jw, "channel");
    mm_jw_str(jw, m->event->channel);
    mm_jw_key(jw, "local_hour");
    if (m->local_hour >= 0)
        mm_jw_int(jw, m->local_hour);
    else
        mm_jw_null(jw);
    mm_jw_object_close(jw);
}

static void write_source(mm_jw_t *jw, const mm_source_t *src) {
    mm_jw_key(jw, "source");
    mm_jw_object_open(jw);
    mm_jw_key(jw, "topic");
    mm_jw_str(jw, src->topic);
    mm_jw_key(jw, "partition");
    mm_jw_int(jw, src->partition);
    mm_jw_key(jw, "offset");
    mm_jw_int(jw, src->offset);
    mm_jw_object_close(jw);
}

size_t mm_moment_to_json(const mm_moment_t *m, int64_t detected_ts, char *buf,
                         size_t cap) {
    const mm_event_t *ev = m->event;
    char id[MM_MOMENT_ID_LEN + 1];
    mm_jw_t jw;
    mm_moment_id(m, id);
    mm_jw_init(&jw, buf, cap);
    mm_jw_object_open(&jw);
    mm_jw_key(&jw, "moment_id");
    mm_jw_string(&jw, id, MM_MOMENT_ID_LEN);
    mm_jw_key(&jw, "moment");
    mm_jw_cstr(&jw, mm_moment_type_name(m->type));
    mm_jw_key(&jw, "confidence");
    mm_jw_double(&jw, m->confidence, 3);
    write_scores(&jw, m->scores);
    write_signals(&jw, m->signals, m->n_signals);
    mm_jw_key(&jw, "user_id");
    mm_jw_str(&jw, ev->user_id);
    mm_jw_key(&jw, "session_id");
    mm_jw_str(&jw, ev->session_id);
    mm_jw_key(&jw, "event_id");
    mm_jw_str(&jw, ev->event_id);
    mm_jw_key(&jw, "event_ts");
    if (ev->has_ts)
        mm_jw_int(&jw, ev->ts);
    else
        mm_jw_null(&jw);
    mm_jw_key(&jw, "detected_ts");
    mm_jw_int(&jw, detected_ts);
    mm_jw_key(&jw, "journey_stage");
    mm_jw_cstr(&jw, mm_journey_stage_name(m->stage));
    write_strategy(&jw, m->type);
    write_context(&jw, m);
    write_source(&jw, &ev->source);
    mm_jw_object_close(&jw);
    return mm_jw_ok(&jw) ? jw.len : 0;
}

size_t mm_explain_to_json(const mm_event_t *ev, const mm_explain_t *explain,
                          const mm_moment_t *moment, char *buf, size_t cap) {
    mm_jw_t jw;
    mm_jw_init(&jw, buf, cap);
    mm_jw_object_open(&jw);
    mm_jw_key(&jw, "query");
    mm_jw_str(&jw, ev ? ev->query : (mm_str_t){NULL, 0});
    mm_jw_key(&jw, "lang");
    mm_jw_cstr(&jw, explain->lang);
    mm_jw_key(&jw, "lang_inferred");
    mm_jw_bool(&jw, explain->lang_inferred);
    write_scores(&jw, explain->scores);
    write_signals(&jw, explain->signals, explain->n_signals);
    mm_jw_key(&jw, "moment");
    mm_jw_cstr(&jw, moment ? mm_moment_type_name(moment->type) : NULL);
    mm_jw_key(&jw, "confidence");
    if (moment)
        mm_jw_double(&jw, moment->confidence, 3);
    else
        mm_jw_null(&jw);
    mm_jw_object_close(&jw);
    return mm_jw_ok(&jw) ? jw.len : 0;
}
