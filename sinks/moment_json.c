/*
 * Moments (and classify --explain) as JSON, in the exact field order of
 * docs/events.md "Output", through the one JSON writer.
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

size_t mm_moment_to_json(const mm_moment_t *m, int64_t detected_ts, char *buf,
                         size_t cap) {
    mm_jw_t jw;
    mm_jw_init(&jw, buf, cap);
    mm_moment_visit(m, detected_ts, mm_moment_visit_json, &jw);
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
    mm_moment_visit_scores(explain->scores, mm_moment_visit_json, &jw);
    mm_moment_visit_signals(explain->signals, explain->n_signals, mm_moment_visit_json, &jw);
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
