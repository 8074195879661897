/*
 * The output moment's fields, once: every encoder (JSON, Avro) walks the
 * moment through mm_moment_visit() and only decides how each step is
 * written, so a field added here appears in both, in the same place, with
 * the same value. schemas/moment.avsc declares the same list; the unit test
 * test_moment_formats decodes the Avro with that schema and compares it with
 * the JSON, field by field.
 *
 * Values are made final here, not in the encoders: numbers are rounded to
 * their decimals (3) before either encoding sees them, so the JSON text and
 * the Avro double are the same number (q / 1000.0 is the double nearest the
 * decimal the JSON prints).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sinks.h"

typedef struct walk_s {
    mm_moment_visit_fn *fn;
    void *ctx;
} walk_t;

/* A key with its JSON text (`,"key":`), both from one literal at compile
 * time: the JSON encoding copies the text whole, no strlen, no loop. */
typedef struct fkey_s {
    const char *name, *json;
    uint32_t json_len;
} fkey_t;
#define KEY_INIT(name) {name, MM_JW_KEY_TEXT(name)}
#define K(name) ((fkey_t)KEY_INIT(name))
#define NO_KEY ((fkey_t){NULL, NULL, 0})

/* The score keys are the moment names (mm_moment_type_name), in
 * mm_moment_type_t's order; test_moment_json pins the pairing. */
static const fkey_t score_keys[MM_MOMENT__COUNT] = {KEY_INIT("know"), KEY_INIT("go"),
                                                    KEY_INIT("do"), KEY_INIT("buy")};

/*
 * Every helper of the walk is inlined, so that where the walk is entered
 * with a visitor known at compile time (the JSON one, in
 * mm_moment_visit_fields) each step becomes a direct call with its key, kind
 * and presence folded in: the one list of fields, and no function pointer,
 * 80-byte step or branch on the kind per field on the hot path.
 */
#define WALK_INLINE static inline __attribute__((always_inline))

WALK_INLINE void emit(walk_t *w, mm_mf_t f) { w->fn(w->ctx, &f); }

WALK_INLINE void begin(walk_t *w, fkey_t key, mm_mf_kind_t kind, uint32_t count) {
    emit(w, (mm_mf_t){.key = key.name, .key_json = key.json, .key_json_len = key.json_len,
                      .kind = kind, .present = true, .count = count});
}

WALK_INLINE void str(walk_t *w, fkey_t key, mm_mf_presence_t pr, mm_str_t s) {
    bool present = s.p != NULL;
    if (!present && pr == MM_MF_REQUIRED) {
        s = (mm_str_t){"", 0};
        present = true;
    }
    emit(w, (mm_mf_t){.key = key.name, .key_json = key.json, .key_json_len = key.json_len,
                      .kind = MM_MF_STRING, .presence = pr, .present = present, .str = s});
}

WALK_INLINE void cstr(walk_t *w, fkey_t key, mm_mf_presence_t pr, const char *s) {
    str(w, key, pr, (mm_str_t){s, s ? strlen(s) : 0});
}

WALK_INLINE void integer(walk_t *w, fkey_t key, mm_mf_presence_t pr, bool present, int64_t v) {
    emit(w, (mm_mf_t){.key = key.name, .key_json = key.json, .key_json_len = key.json_len,
                      .kind = MM_MF_INT, .presence = pr,
                      .present = present || pr == MM_MF_REQUIRED, .i = present ? v : 0});
}

WALK_INLINE void boolean(walk_t *w, fkey_t key, mm_mf_presence_t pr, bool present, bool v) {
    emit(w, (mm_mf_t){.key = key.name, .key_json = key.json, .key_json_len = key.json_len,
                      .kind = MM_MF_BOOL, .presence = pr,
                      .present = present || pr == MM_MF_REQUIRED, .i = present && v});
}

/** Rounded as mm_jw_double() prints it: half away from zero, no -0. */
WALK_INLINE double round_to(double v, int decimals) {
    static const double pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    double scale = pow10[decimals], scaled = fabs(v) * scale;
    if (scaled >= 9.2e18)
        return v; /* printed with all its digits */
    double q = (double)mm_jw_round(scaled);
    return q == 0 ? 0 : copysign(q / scale, v);
}

WALK_INLINE void number(walk_t *w, fkey_t key, mm_mf_presence_t pr, bool present, double v) {
    if (present && !isfinite(v)) {
        present = false; /* neither encoding can carry it as a number */
        v = 0;
    }
    if (!present && pr == MM_MF_REQUIRED)
        present = true;
    emit(w, (mm_mf_t){.key = key.name, .key_json = key.json, .key_json_len = key.json_len,
                      .kind = MM_MF_DOUBLE, .presence = pr, .present = present,
                      .d = present ? round_to(v, 3) : 0, .decimals = 3});
}

WALK_INLINE void signals(walk_t *w, const mm_signal_t *sigs, uint32_t n_signals) {
    uint32_t n = n_signals < MM_SIGNALS_MAX ? n_signals : MM_SIGNALS_MAX;
    begin(w, K("signals"), MM_MF_ARRAY_BEGIN, n);
    for (uint32_t i = 0; i < n; i++) {
        const mm_signal_t *s = &sigs[i];
        begin(w, NO_KEY, MM_MF_OBJECT_BEGIN, 0);
        cstr(w, K("name"), MM_MF_REQUIRED, s->name);
        str(w, K("value"), MM_MF_OPTIONAL, s->value);
        cstr(w, K("lang"), MM_MF_OPTIONAL, s->lang);
        integer(w, K("count"), MM_MF_OPTIONAL, s->has_count, s->count);
        integer(w, K("window_ms"), MM_MF_OPTIONAL, s->has_window, s->window_ms);
        number(w, K("number"), MM_MF_OPTIONAL, s->has_number, s->number);
        begin(w, NO_KEY, MM_MF_OBJECT_END, 0);
    }
    begin(w, NO_KEY, MM_MF_ARRAY_END, 0);
}

WALK_INLINE void scores(walk_t *w, const float sc[MM_MOMENT__COUNT]) {
    begin(w, K("scores"), MM_MF_OBJECT_BEGIN, 0);
    for (int t = 0; t < MM_MOMENT__COUNT; t++)
        number(w, score_keys[t], MM_MF_REQUIRED, true, sc[t]);
    begin(w, NO_KEY, MM_MF_OBJECT_END, 0);
}

void mm_moment_visit_scores(const float sc[MM_MOMENT__COUNT], mm_moment_visit_fn *fn,
                            void *ctx) {
    walk_t w = {fn, ctx};
    scores(&w, sc);
}

void mm_moment_visit_signals(const mm_signal_t *sigs, uint32_t n, mm_moment_visit_fn *fn,
                             void *ctx) {
    walk_t w = {fn, ctx};
    signals(&w, sigs, n);
}

/* A top-level field is walked unless a lean output leaves it out. */
#define WANT(id) (!(omit & MM_MOMENT_F_BIT(id)))

WALK_INLINE void walk_moment(const mm_moment_t *m, int64_t detected_ts, uint32_t omit,
                             mm_moment_visit_fn *fn, void *ctx) {
    walk_t w = {fn, ctx};
    const mm_event_t *ev = m->event;
    omit &= ~MM_MOMENT_FIELDS_REQUIRED;

    begin(&w, NO_KEY, MM_MF_OBJECT_BEGIN, 0);
    char id[MM_MOMENT_ID_LEN + 1];
    mm_moment_id(m, id);
    str(&w, K("moment_id"), MM_MF_REQUIRED, (mm_str_t){id, MM_MOMENT_ID_LEN});
    cstr(&w, K("moment"), MM_MF_REQUIRED, mm_moment_type_name(m->type));
    if (WANT(CONFIDENCE))
        number(&w, K("confidence"), MM_MF_REQUIRED, true, m->confidence);
    if (WANT(SCORES))
        scores(&w, m->scores);
    if (WANT(SIGNALS))
        signals(&w, m->signals, m->n_signals);
    str(&w, K("user_id"), MM_MF_REQUIRED, ev->user_id);
    if (WANT(SESSION_ID))
        str(&w, K("session_id"), MM_MF_NULLABLE, ev->session_id);
    if (WANT(EVENT_ID))
        str(&w, K("event_id"), MM_MF_NULLABLE, ev->event_id);
    if (WANT(EVENT_TS))
        integer(&w, K("event_ts"), MM_MF_NULLABLE, ev->has_ts, ev->ts);
    if (WANT(DETECTED_TS))
        integer(&w, K("detected_ts"), MM_MF_REQUIRED, true, detected_ts);
    if (WANT(JOURNEY_STAGE))
        cstr(&w, K("journey_stage"), MM_MF_REQUIRED, mm_journey_stage_name(m->stage));
    if (WANT(STRATEGY)) {
        const mm_strategy_t *st = m->strategy; /* NULL: a moment made by hand */
        begin(&w, K("strategy"), MM_MF_OBJECT_BEGIN, 0);
        cstr(&w, K("goal"), MM_MF_REQUIRED, st ? st->goal : NULL);
        cstr(&w, K("content"), MM_MF_REQUIRED, st ? st->content : NULL);
        cstr(&w, K("horizon"), MM_MF_REQUIRED, st ? st->horizon : NULL);
        cstr(&w, K("offer"), MM_MF_OPTIONAL, st ? st->offer : NULL); /* the operator's, when set */
        begin(&w, NO_KEY, MM_MF_OBJECT_END, 0);
    }
    if (WANT(CONTEXT)) {
        begin(&w, K("context"), MM_MF_OBJECT_BEGIN, 0);
        str(&w, K("device"), MM_MF_NULLABLE, ev->device);
        str(&w, K("channel"), MM_MF_NULLABLE, ev->channel);
        integer(&w, K("local_hour"), MM_MF_NULLABLE, m->local_hour >= 0, m->local_hour);
        begin(&w, NO_KEY, MM_MF_OBJECT_END, 0);
    }
    begin(&w, K("source"), MM_MF_OBJECT_BEGIN, 0);
    str(&w, K("topic"), MM_MF_REQUIRED, ev->source.topic);
    integer(&w, K("partition"), MM_MF_REQUIRED, true, ev->source.partition);
    integer(&w, K("offset"), MM_MF_REQUIRED, true, ev->source.offset);
    begin(&w, NO_KEY, MM_MF_OBJECT_END, 0);
    /* Only on a late event: behind its partition's watermark by more than the
     * allowed lateness. */
    if (WANT(LATE))
        boolean(&w, K("late"), MM_MF_OPTIONAL, m->late, true);
    if (WANT(LATENESS_MS))
        integer(&w, K("lateness_ms"), MM_MF_OPTIONAL, m->late, m->lateness_ms);
    begin(&w, NO_KEY, MM_MF_OBJECT_END, 0);
}

WALK_INLINE void json_step(void *ctx, const mm_mf_t *f) {
    mm_jw_t *jw = ctx;
    if (!f->present && f->presence == MM_MF_OPTIONAL)
        return;
    if (f->kind == MM_MF_OBJECT_END) {
        mm_jw_object_close(jw);
        return;
    }
    if (f->kind == MM_MF_ARRAY_END) {
        mm_jw_array_close(jw);
        return;
    }
    if (f->key)
        mm_jw_key_text(jw, f->key_json, f->key_json_len); /* every key has its text */
    if (!f->present) {
        mm_jw_null(jw);
        return;
    }
    switch (f->kind) {
    case MM_MF_OBJECT_BEGIN: mm_jw_object_open(jw); break;
    case MM_MF_ARRAY_BEGIN: mm_jw_array_open(jw); break;
    case MM_MF_STRING: mm_jw_string(jw, f->str.p, f->str.len); break;
    case MM_MF_INT: mm_jw_int(jw, f->i); break;
    case MM_MF_BOOL: mm_jw_bool(jw, f->i != 0); break;
    case MM_MF_DOUBLE: mm_jw_double(jw, f->d, f->decimals); break;
    default: break;
    }
}

void mm_moment_visit_json(void *ctx, const mm_mf_t *f) { json_step(ctx, f); }

void mm_moment_visit_fields(const mm_moment_t *m, int64_t detected_ts, uint32_t omit,
                            mm_moment_visit_fn *fn, void *ctx) {
    if (fn == mm_moment_visit_json)
        walk_moment(m, detected_ts, omit, json_step, ctx); /* the same walk, JSON inlined */
    else
        walk_moment(m, detected_ts, omit, fn, ctx);
}

void mm_moment_visit(const mm_moment_t *m, int64_t detected_ts, mm_moment_visit_fn *fn,
                     void *ctx) {
    mm_moment_visit_fields(m, detected_ts, 0, fn, ctx);
}

size_t mm_moment_to_json_fields(const mm_moment_t *m, int64_t detected_ts, uint32_t omit,
                                char *buf, size_t cap) {
    mm_jw_t jw;
    mm_jw_init(&jw, buf, cap);
    mm_moment_visit_fields(m, detected_ts, omit, mm_moment_visit_json, &jw);
    return mm_jw_ok(&jw) ? jw.len : 0;
}

/* ------------------------------------------------------ mm.output.fields */

static const char *const field_names[MM_MOMENT_F__COUNT] = {
#define NAME_ROW(id, name, required) name,
    MM_MOMENT_FIELD_MAP(NAME_ROW)
#undef NAME_ROW
};

#define FIELDS_ALL ((1u << MM_MOMENT_F__COUNT) - 1)

/** The names of the fields in @p bits, in the contract's order, with commas. */
static size_t join_names(uint32_t bits, char *buf, size_t cap) {
    size_t n = 0;
    if (cap)
        buf[0] = '\0';
    for (int f = 0; f < MM_MOMENT_F__COUNT; f++) {
        if (!(bits & (1u << f)) || n >= cap)
            continue;
        int k = snprintf(buf + n, cap - n, "%s%s", n ? "," : "", field_names[f]);
        n = k < 0 ? cap : n + (size_t)k;
    }
    return n < cap ? n : (cap ? cap - 1 : 0);
}

static int field_index(const char *name, size_t len) {
    for (int f = 0; f < MM_MOMENT_F__COUNT; f++)
        if (strlen(field_names[f]) == len && memcmp(field_names[f], name, len) == 0)
            return f;
    return -1;
}

bool mm_moment_fields_parse(const char *list, uint32_t *omit, char *errstr,
                            size_t errstr_size) {
    const char *blank = " \t";
    const char *p = list + strspn(list, blank);
    size_t n = strcspn(p, blank);
    if (n == 3 && memcmp(p, "all", 3) == 0 && p[n + strspn(p + n, blank)] == '\0') {
        *omit = 0;
        return true;
    }
    uint32_t listed = 0;
    for (p = list;;) {
        p += strspn(p, blank);
        size_t len = strcspn(p, ",");
        while (len > 0 && strchr(blank, p[len - 1]))
            len--;
        int f = field_index(p, len);
        if (f >= 0 && (listed & (1u << f))) {
            snprintf(errstr, errstr_size, "'%.*s' is listed twice", (int)len, p);
            return false;
        }
        if (f < 0) {
            char names[256];
            join_names(FIELDS_ALL, names, sizeof(names));
            snprintf(errstr, errstr_size,
                     "'%.*s' is not a top-level moment field (all, or a list of: %s)",
                     (int)len, p, names);
            return false;
        }
        listed |= 1u << f;
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    *omit = FIELDS_ALL & ~listed & ~MM_MOMENT_FIELDS_REQUIRED;
    return true;
}

size_t mm_moment_fields_format(uint32_t omit, char *buf, size_t cap) {
    omit &= ~MM_MOMENT_FIELDS_REQUIRED;
    if (omit)
        return join_names(FIELDS_ALL & ~omit, buf, cap);
    int n = snprintf(buf, cap, "all");
    return (size_t)n < cap ? (size_t)n : (cap ? cap - 1 : 0);
}
