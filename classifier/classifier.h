/*
 * micromoment classifier: events in, micro-moments out.
 *
 * Pure C with no I/O on the classify path, no clock reads and no allocation
 * per event (shaped like picohttpparser): the caller owns every buffer, an
 * event holds views into the caller's payload, and moments are written into a
 * caller array whose count is in/out. Allocation happens only when rules are
 * loaded and when per-user state is created (mm_state_new), both off the hot
 * path.
 *
 * Two objects:
 *   mm_rules_t  immutable once built (lexicons, thresholds). Safe to share
 *               between any number of threads; swapped whole on reload.
 *   mm_state_t  per-user state of one task (one input partition). Used by one
 *               thread at a time.
 */
#ifndef MM_CLASSIFIER_H
#define MM_CLASSIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h" /* quoted: beside this file, in the tree and installed */

#define MM_VERSION "0.1.0"

/** A borrowed view of bytes; p == NULL means absent or JSON null. */
typedef struct mm_str_s {
    const char *p;
    size_t len;
} mm_str_t;

#define MM_STR_LIT(s) ((mm_str_t){(s), sizeof(s) - 1})

/**
 * @brief Length of the UTF-8 character at @p s (@p n > 0 bytes left).
 * @param ok false when it is ill-formed (RFC 3629: no overlong forms, no
 *        surrogates, nothing above U+10FFFF); the length is then that of the
 *        maximal subpart to replace by one U+FFFD (at least 1).
 */
MM_EXPORT size_t mm_utf8_char(const unsigned char *s, size_t n, bool *ok);

/* ----------------------------------------------------------------- events */

#define MM_EVENT_TYPE_MAP(X)                                                   \
    X(QUERY, "query")                                                          \
    X(PAGE_VIEW, "page_view")                                                  \
    X(CLICK, "click")                                                          \
    X(SCROLL, "scroll")                                                        \
    X(ADD_TO_CART, "add_to_cart")                                              \
    X(PURCHASE, "purchase")                                                    \
    X(LOCATION, "location")                                                    \
    X(APP_OPEN, "app_open")

typedef enum {
#define MM__EV_ENUM(name, text) MM_EVENT_##name,
    MM_EVENT_TYPE_MAP(MM__EV_ENUM)
#undef MM__EV_ENUM
    MM_EVENT__COUNT
} mm_event_type_t;

/** @brief Contract name of @p type ("add_to_cart"). */
MM_EXPORT const char *mm_event_type_name(mm_event_type_t type);
/** @brief Parse a contract type name; false when unknown. */
MM_EXPORT bool mm_event_type_parse(const char *s, size_t len,
                                   mm_event_type_t *type);

/** Where a record came from; also the input of moment_id. */
typedef struct mm_source_s {
    mm_str_t topic;
    int32_t partition;
    int64_t offset;
} mm_source_t;

/**
 * A decoded input event. Strings are views into the record (or into the
 * decoder's scratch when the JSON string had escapes); they live as long as
 * the record. Optional numeric fields carry a has_ flag.
 */
typedef struct mm_event_s {
    mm_event_type_t type;
    mm_str_t event_id;
    mm_str_t user_id; /* never empty after decoding */
    mm_str_t session_id;
    mm_str_t query;
    mm_str_t device;
    mm_str_t channel;
    mm_str_t lang; /* a hint; may be absent */
    mm_str_t url;
    int64_t ts; /* event time, epoch ms: `ts` or the Kafka timestamp */
    double lat, lon;
    int64_t page_load_ms;
    int32_t tz_offset_min;
    bool has_ts, has_geo, has_page_load_ms, has_tz_offset;
    int8_t in_store; /* -1 absent, 0 false, 1 true */
    double value;     /* has_value: a conversion's amount */
    mm_str_t currency; /* ISO 4217 code, may be absent */
    bool has_value;
    mm_source_t source;
} mm_event_t;

/** @brief Reset @p ev to "every field absent". */
MM_EXPORT void mm_event_init(mm_event_t *ev);

/* ---------------------------------------------------------------- moments */

typedef enum {
    MM_MOMENT_KNOW,
    MM_MOMENT_GO,
    MM_MOMENT_DO,
    MM_MOMENT_BUY,
    MM_MOMENT__COUNT
} mm_moment_type_t;

/** @brief "know", "go", "do", "buy". */
MM_EXPORT const char *mm_moment_type_name(mm_moment_type_t type);
MM_EXPORT bool mm_moment_type_parse(const char *s, size_t len,
                                    mm_moment_type_t *type);

typedef enum {
    MM_STAGE_AWARENESS,
    MM_STAGE_CONSIDERATION,
    MM_STAGE_DECISION,
    MM_STAGE_POST_PURCHASE,
    MM_STAGE__COUNT
} mm_journey_stage_t;

MM_EXPORT const char *mm_journey_stage_name(mm_journey_stage_t stage);

/**
 * What to answer a moment of one type with, in one language: a row of
 * lexicons/strategy/<lang>.tsv (mm_rules_strategy). Strings belong to the
 * rules that loaded them.
 */
typedef struct mm_strategy_s {
    const char *goal;
    const char *content;
    const char *horizon;
    const char *offer; /* the operator's own content or offer id; NULL: none */
} mm_strategy_t;

/**
 * One signal that fired. Which optional parts are present is in has_*.
 * name is a static string; value and lang are static or point into the rules
 * (valid while the mm_rules_t that produced them lives) or into the event.
 */
typedef struct mm_signal_s {
    const char *name;  /* "keyword", "rapid_queries", "location_burst", ... */
    mm_str_t value;    /* e.g. the phrase that matched; p == NULL: none */
    const char *lang;  /* NULL: none */
    int64_t count;     /* has_count */
    int64_t window_ms; /* has_window */
    double number;     /* has_number: a weight, a distance, a duration */
    bool has_count, has_window, has_number;
} mm_signal_t;

#define MM_SIGNALS_MAX 16

typedef struct mm_moment_s {
    mm_moment_type_t type;
    float confidence;               /* 0..1 */
    float scores[MM_MOMENT__COUNT]; /* 0..1, every type */
    mm_journey_stage_t stage;
    int8_t local_hour;         /* 0..23, -1 unknown */
    uint8_t ordinal;           /* index among the moments of one event */
    bool late;                 /* the event came behind its partition's */
    int64_t lateness_ms;       /* watermark by more than the allowed lateness */
    const mm_event_t *event;   /* borrowed: the event that triggered it */
    const mm_strategy_t *strategy; /* in the event's language; borrowed from
                                      the rules (NULL: none) */
    uint32_t n_signals;
    mm_signal_t signals[MM_SIGNALS_MAX];
} mm_moment_t;

/* ------------------------------------------------------------------ rules */

typedef struct mm_rules_s mm_rules_t;

/**
 * A place from the places file (mm_rules_conf_t.places_file): a circle; a
 * position inside it is "in store". Strings belong to the rules.
 */
typedef struct mm_place_s {
    const char *id;   /* unique in the file; the in_store signal's value */
    const char *name; /* "" when the file has none */
    const char *kind; /* "store" unless the file says otherwise */
    double lat, lon;  /* degrees */
    double radius_m;
} mm_place_t;

/* Bounds of one places file: a country's stores fit many times over. */
#define MM_PLACES_MAX 100000
#define MM_PLACES_FILE_MAX ((size_t)64 << 20)

/** Behavioural thresholds; mm_rules_conf_defaults() gives sane values. */
typedef struct mm_rules_conf_s {
    int64_t rapid_window_ms;      /* rapid repeated queries: window T */
    uint32_t rapid_min_queries;   /* ... and count N */
    int64_t burst_window_ms;      /* location burst: window T */
    uint32_t burst_min_pings;     /* ... count K */
    double burst_radius_m;        /* ... radius R */
    int64_t slow_page_ms;         /* friction: a page slower than this */
    int64_t bounce_ms;            /* friction: leave within this */
    int64_t cart_after_buy_ms;    /* a cart/purchase this soon after a buy query */
    int64_t allowed_lateness_ms;  /* event-time disorder accepted */
    double min_confidence;        /* below this a query yields no moment */
    double topic_confidence;      /* know score of a bare topic (a query
                                     no row explains); 0: no such moment */
    int64_t friction_carry_ms;    /* slow page / bounce ride on the next
                                     moment this soon after */
    char places_file[1024];       /* stores (CSV or GeoJSON); "": none */
    char strategy_dir[1024];      /* <lang>.tsv strategy files; "": the
                                     lexicon folder's strategy/ */
} mm_rules_conf_t;

MM_EXPORT void mm_rules_conf_defaults(mm_rules_conf_t *conf);

/**
 * @brief Build rules from every lexicon file (*.tsv) in @p lexicon_dir, the
 * strategy files (conf->strategy_dir, else @p lexicon_dir/strategy) and the
 * places file (conf->places_file, when set).
 * @returns the rules, or NULL with a message naming file and line (or
 *          GeoJSON feature) in errstr.
 * @locality any thread; the result is immutable and shareable.
 */
MM_EXPORT mm_rules_t *mm_rules_load(const char *lexicon_dir,
                                    const mm_rules_conf_t *conf, char *errstr,
                                    size_t errstr_size);
MM_EXPORT void mm_rules_destroy(mm_rules_t *rules);

/**
 * @brief The strategy of @p type in language @p lang ("da", "da-DK", any
 * case), English when the rules have no file for it or @p lang.p is NULL.
 * @returns a row of @p rules (valid while they live); never NULL.
 * @locality any thread.
 */
MM_EXPORT const mm_strategy_t *mm_rules_strategy(const mm_rules_t *rules,
                                                 mm_moment_type_t type, mm_str_t lang);

/**
 * @brief The places @p rules loaded (in the order of their index).
 * @returns their number; *places points into @p rules (NULL when none).
 */
MM_EXPORT size_t mm_rules_places(const mm_rules_t *rules, const mm_place_t **places);

/* ------------------------------------------------------------------ state */

typedef struct mm_state_s mm_state_t;

typedef struct mm_state_conf_s {
    uint32_t max_users; /* hard cap: the oldest user is evicted past it */
    int64_t ttl_ms;     /* a user idle this long (event time) is dropped */
    uint64_t seed;      /* hash seed for user ids */
    bool profiles;      /* keep each user's profile (mm_profile_*): 80 more
                           bytes per user */
    int64_t profile_window_ms; /* the profile's moment counts cover this */
} mm_state_conf_t;

MM_EXPORT void mm_state_conf_defaults(mm_state_conf_t *conf);

/**
 * @brief Preallocate the per-user table of one task.
 * @returns NULL on allocation failure.
 * @locality used by one thread at a time.
 */
MM_EXPORT mm_state_t *mm_state_new(const mm_state_conf_t *conf);
MM_EXPORT void mm_state_destroy(mm_state_t *state);
/** @brief Drop every user (partition revoked). */
MM_EXPORT void mm_state_clear(mm_state_t *state);

/** @brief The newest event time the table has seen (0 before any); a
 * restored table's is its newest user's. */
MM_EXPORT int64_t mm_state_watermark(const mm_state_t *state);

typedef struct mm_state_stats_s {
    uint64_t users;
    uint64_t evicted_cap;
    uint64_t expired_ttl;
    size_t bytes_per_user;
} mm_state_stats_t;

MM_EXPORT void mm_state_stats(const mm_state_t *state, mm_state_stats_t *stats);

/**
 * @brief Hint that an event of @p user_id will be classified soon: starts
 * loading its state into the cache. Results never depend on it. Call it for
 * the event about 8 ahead of the one being classified in a batch; records
 * are prefetched in two steps (bucket now, record 4 calls later), which
 * hides most of the two memory round trips per event at millions of users.
 * @locality the thread that owns @p state.
 */
MM_EXPORT void mm_state_prefetch(mm_state_t *state, mm_str_t user_id);

/* ------------------------------------------------------------ persistence */

/* A user's state as bytes, for a changelog that restores it elsewhere (the
 * record is versioned: a record of another version or size is refused). */
#define MM_STATE_EXPORT_MAX 512

/**
 * @brief Write @p user_id's state into @p buf.
 * @returns bytes written; 0 when the user is not tracked (evicted or expired:
 *          the changelog should forget it) or @p cap is too small.
 * @locality the thread that owns @p state.
 */
MM_EXPORT size_t mm_state_export(const mm_state_t *state, mm_str_t user_id,
                                 char *buf, size_t cap);

/**
 * @brief Track @p user_id with the state @p buf holds (mm_state_export's
 * bytes), replacing what the table had for it. @returns false (nothing
 * changed) for bytes of another version or size.
 */
MM_EXPORT bool mm_state_import(mm_state_t *state, mm_str_t user_id,
                               const char *buf, size_t len);

/** @brief Stop tracking @p user_id (a changelog tombstone). */
MM_EXPORT void mm_state_forget(mm_state_t *state, mm_str_t user_id);

/**
 * @brief Note that @p user_id's state changed since it was last written out.
 * @returns true when it was clean (so the caller lists it once per round);
 *          false when already marked or not tracked.
 */
MM_EXPORT bool mm_state_mark_dirty(mm_state_t *state, mm_str_t user_id);
/** @brief Clear the mark (after the state was written out). */
MM_EXPORT void mm_state_clear_dirty(mm_state_t *state, mm_str_t user_id);

/* --------------------------------------------------------------- profiles */

/** The user's latest moment of one type: its source record and time. */
typedef struct mm_profile_moment_s {
    bool present;
    int64_t offset;  /* the triggering record's offset in its partition */
    uint8_t ordinal; /* which moment of that record */
    int64_t ts;      /* event time */
} mm_profile_moment_t;

/**
 * What a personalization service wants to know of a user now: the latest
 * moment of each type, moments per type in the current profile window, the
 * journey stage, the last conversion (mm_state_conf_t.profiles).
 */
typedef struct mm_profile_s {
    mm_profile_moment_t last[MM_MOMENT__COUNT];
    uint32_t counts[MM_MOMENT__COUNT];
    int64_t counts_since; /* start of the counting window, event time */
    bool has_stage;
    mm_journey_stage_t stage;
    bool has_conversion;
    mm_event_type_t conversion_type;
    int64_t conversion_ts;
    bool has_value;
    double conversion_value;
    char currency[4]; /* "" when none */
    uint32_t n_events;
    int64_t last_ts;
} mm_profile_t;

/** One moment a conversion is attributed to. */
typedef struct mm_attribution_s {
    mm_moment_type_t type;
    int64_t offset;
    uint8_t ordinal;
    int64_t age_ms; /* from the moment to the conversion, event time */
} mm_attribution_t;

/**
 * @brief The moments @p ev (a conversion) is attributed to: the user's latest
 * moment of each type within @p window_ms before it, newest first, at most
 * @p max. Call before mm_profile_record for the same event.
 * @returns how many were written into @p out.
 */
MM_EXPORT size_t mm_profile_attribute(const mm_state_t *state,
                                      const mm_event_t *ev, int64_t window_ms,
                                      mm_attribution_t *out, size_t max);

/**
 * @brief After mm_classify: remember @p ev's moments (and, when @p conversion,
 * the event as the user's last conversion) in the user's profile. No effect
 * unless mm_state_conf_t.profiles.
 */
MM_EXPORT void mm_profile_record(mm_state_t *state, const mm_event_t *ev,
                                 const mm_moment_t *moments, size_t n,
                                 bool conversion);

/** @brief @p user_id's profile; false when untracked (or profiles are off). */
MM_EXPORT bool mm_profile_get(const mm_state_t *state, mm_str_t user_id,
                              mm_profile_t *out);

/* --------------------------------------------------------------- classify */

/**
 * Optional explanation of one classification, filled even when no moment
 * comes out (for `classify --explain`).
 */
typedef struct mm_explain_s {
    float scores[MM_MOMENT__COUNT];
    const char *lang; /* detected or hinted language, NULL when unknown */
    bool lang_inferred;
    uint32_t n_signals;
    mm_signal_t signals[MM_SIGNALS_MAX];
} mm_explain_t;

/**
 * @brief Classify one event, updating the user's state.
 * @param moments caller array; *n_moments is its capacity on entry and the
 *        number written on return (0 when the event has no moment).
 * @param explain optional, may be NULL.
 * @returns MM_ERR_OK; MM_ERR_FULL when the array was too small (the moments
 *          that fit are written).
 * @locality the thread that owns @p state; @p rules may be shared.
 */
MM_EXPORT mm_err_t mm_classify(const mm_rules_t *rules, mm_state_t *state,
                               const mm_event_t *ev, mm_moment_t *moments,
                               size_t *n_moments, mm_explain_t *explain);

#endif
