/* Behavioural detectors as units: a record, an event, a hand-made analysis. */
#include <check.h>

#include "check_run.h"
#include <stdlib.h>
#include <string.h>

#include "classifier/detectors.h"

#define T0 ((int64_t)1763900000000) /* 2025-11-23 12:13:20 UTC */
#define SEC 1000
#define MIN (60 * SEC)

/* One user's world: the rules, the record, the evidence of the last event. */
typedef struct {
    mm_rules_conf_t conf;
    struct mm__places_s *places; /* owned; NULL: no stores */
    mm__user_t user;
    mm__evidence_t evd;
    bool windows;
    bool is_new;
} world_t;

static void world_init(world_t *w) {
    memset(w, 0, sizeof(*w));
    mm_rules_conf_defaults(&w->conf);
    mm__user_reset(&w->user, 42, T0);
    w->windows = true;
}

static mm_event_t event(mm_event_type_t type) {
    mm_event_t ev;
    mm_event_init(&ev);
    ev.type = type;
    ev.user_id = MM_STR_LIT("u");
    return ev;
}

static mm_event_t ping(double lat, double lon) {
    mm_event_t ev = event(MM_EVENT_LOCATION);
    ev.lat = lat;
    ev.lon = lon;
    ev.has_geo = true;
    return ev;
}

/* An analysis with the given content-word hashes and flags. */
static mm_query_analysis_t analysis(const uint32_t *terms, uint32_t n) {
    mm_query_analysis_t qa;
    memset(&qa, 0, sizeof(qa));
    for (uint32_t i = 0; i < n; i++)
        qa.term_hashes[i] = terms[i];
    qa.n_terms = n;
    return qa;
}

typedef void (*detector_fn)(const mm__detect_ctx_t *, mm__evidence_t *);

/* Run one detector for one event at ts; the evidence lands in w->evd. */
static void run(world_t *w, detector_fn fn, const mm_event_t *ev,
                const mm_query_analysis_t *qa, int64_t ts) {
    memset(&w->evd, 0, sizeof(w->evd));
    if (ts > w->user.last_ts)
        w->user.last_ts = ts;
    mm__detect_ctx_t ctx = {.conf = &w->conf, .places = w->places, .ev = ev, .qa = qa,
                            .user = &w->user, .ts = ts, .windows = w->windows,
                            .is_new = w->is_new};
    fn(&ctx, &w->evd);
}

static const mm_signal_t *find_signal(const mm__evidence_t *evd, const char *name) {
    for (uint32_t i = 0; i < evd->n_signals; i++)
        if (strcmp(evd->signals[i].name, name) == 0)
            return &evd->signals[i];
    return NULL;
}

/* ------------------------------------------------------------------ rapid */

/* Gaps between three queries and whether rapid_queries fires on the third
 * (defaults: N = 3 within 120 s). */
static const struct {
    int64_t gap1, gap2;
    bool fires;
} rapid_rows[] = {{10 * SEC, 10 * SEC, true},
                  {60 * SEC, 60 * SEC, true},   /* exactly on the window */
                  {61 * SEC, 60 * SEC, false},  /* first one just out */
                  {5 * MIN, 5 * SEC, false}};

START_TEST(test_rapid_queries_fire_at_n_within_window) {
    world_t w;
    world_init(&w);
    mm_event_t ev = event(MM_EVENT_QUERY);
    uint32_t t1[] = {1}, t2[] = {2}, t3[] = {3};
    mm_query_analysis_t q1 = analysis(t1, 1), q2 = analysis(t2, 1), q3 = analysis(t3, 1);
    int64_t ts = T0;
    run(&w, mm__detect_rapid, &ev, &q1, ts);
    run(&w, mm__detect_rapid, &ev, &q2, ts += rapid_rows[_i].gap1);
    ck_assert_ptr_null(find_signal(&w.evd, "rapid_queries"));
    run(&w, mm__detect_rapid, &ev, &q3, ts += rapid_rows[_i].gap2);
    const mm_signal_t *sig = find_signal(&w.evd, "rapid_queries");
    ck_assert_int_eq(sig != NULL, rapid_rows[_i].fires);
    if (sig) {
        ck_assert_int_eq(sig->count, 3);
        ck_assert_int_eq(sig->window_ms, w.conf.rapid_window_ms);
        ck_assert(w.evd.research);
    }
}
END_TEST

START_TEST(test_refinement_raises_urgency) {
    uint32_t running_shoes[] = {0xA1, 0xB2};
    uint32_t running_wide[] = {0xA1, 0xC3};
    uint32_t pizza[] = {0xD4};
    mm_event_t ev = event(MM_EVENT_QUERY);

    world_t refined, unrelated;
    world_init(&refined);
    world_init(&unrelated);
    mm_query_analysis_t first = analysis(running_shoes, 2);
    mm_query_analysis_t second = analysis(running_wide, 2);
    mm_query_analysis_t other = analysis(pizza, 1);
    run(&refined, mm__detect_rapid, &ev, &first, T0);
    run(&refined, mm__detect_rapid, &ev, &second, T0 + 20 * SEC);
    run(&unrelated, mm__detect_rapid, &ev, &first, T0);
    run(&unrelated, mm__detect_rapid, &ev, &other, T0 + 20 * SEC);

    ck_assert_float_gt(refined.evd.urgency, unrelated.evd.urgency);
    const mm_signal_t *sig = find_signal(&refined.evd, "refinement");
    ck_assert_ptr_nonnull(sig);
    ck_assert_int_eq(sig->count, 1);
    ck_assert_double_eq(sig->number, 1); /* one shared term */
    ck_assert_ptr_null(find_signal(&unrelated.evd, "refinement"));
}
END_TEST

START_TEST(test_refinement_streak_grows_urgency) {
    world_t w;
    world_init(&w);
    mm_event_t ev = event(MM_EVENT_QUERY);
    uint32_t terms[] = {7, 8};
    mm_query_analysis_t qa = analysis(terms, 2);
    w.conf.rapid_min_queries = MM__QRING; /* isolate refinements */
    float urgency[3];
    for (int i = 0; i < 3; i++) {
        run(&w, mm__detect_rapid, &ev, &qa, T0 + i * 20 * SEC);
        urgency[i] = w.evd.urgency;
    }
    ck_assert_float_eq(urgency[0], 0.0f);
    ck_assert_float_gt(urgency[1], 0.0f);
    ck_assert_float_gt(urgency[2], urgency[1]);
    ck_assert_int_eq(find_signal(&w.evd, "refinement")->count, 2);
}
END_TEST

START_TEST(test_refinement_needs_previous_within_window) {
    world_t w;
    world_init(&w);
    mm_event_t ev = event(MM_EVENT_QUERY);
    uint32_t terms[] = {7};
    mm_query_analysis_t qa = analysis(terms, 1);
    run(&w, mm__detect_rapid, &ev, &qa, T0);
    run(&w, mm__detect_rapid, &ev, &qa, T0 + 10 * MIN);
    ck_assert_ptr_null(find_signal(&w.evd, "refinement"));
    run(&w, mm__detect_rapid, &ev, &qa, T0 + 10 * MIN + 30 * SEC);
    ck_assert_ptr_nonnull(find_signal(&w.evd, "refinement"));
}
END_TEST

START_TEST(test_refinement_carries_previous_moment_type) {
    world_t w;
    world_init(&w);
    mm_event_t ev = event(MM_EVENT_QUERY);
    uint32_t terms[] = {7};
    mm_query_analysis_t qa = analysis(terms, 1);
    run(&w, mm__detect_rapid, &ev, &qa, T0);
    w.user.prev_type = MM_MOMENT_BUY;
    run(&w, mm__detect_rapid, &ev, &qa, T0 + 5 * SEC);
    ck_assert_float_gt(w.evd.boost[MM_MOMENT_BUY], 0.0f);
    ck_assert_float_eq(w.evd.boost[MM_MOMENT_KNOW], 0.0f);
}
END_TEST

/* --------------------------------------------------------------- location */

START_TEST(test_location_burst_yields_go_without_query) {
    world_t w;
    world_init(&w);
    /* Four pings around Copenhagen's Strøget, within ~150 m, 9 minutes. */
    const double pts[][2] = {
        {55.6786, 12.5760}, {55.6790, 12.5770}, {55.6795, 12.5780}, {55.6792, 12.5785}};
    for (int i = 0; i < 4; i++) {
        mm_event_t ev = ping(pts[i][0], pts[i][1]);
        run(&w, mm__detect_location, &ev, NULL, T0 + i * 3 * MIN);
        if (i == 2) {
            ck_assert_int_eq(w.evd.trigger, MM__TRIGGER_BURST);
        }
    }
    /* The fourth is still a burst, but the moment already went out. */
    const mm_signal_t *sig = find_signal(&w.evd, "location_burst");
    ck_assert_ptr_nonnull(sig);
    ck_assert_int_eq(sig->count, 4);
    ck_assert_int_eq(sig->window_ms, 600000);
    ck_assert_int_eq(w.evd.trigger, MM__TRIGGER_NONE);
    ck_assert_float_gt(w.evd.boost[MM_MOMENT_GO], 0.0f);
}
END_TEST

START_TEST(test_far_apart_pings_are_no_burst) {
    world_t w;
    world_init(&w);
    for (int i = 0; i < 4; i++) {
        mm_event_t ev = ping(55.6786 + 0.01 * i, 12.5760); /* ~1.1 km apart */
        run(&w, mm__detect_location, &ev, NULL, T0 + i * MIN);
        ck_assert_int_eq(w.evd.burst_count, 0);
    }
}
END_TEST

START_TEST(test_burst_triggers_again_after_a_window) {
    world_t w;
    world_init(&w);
    int triggers = 0;
    for (int i = 0; i <= 12; i++) { /* a ping every 2 minutes for 24 minutes */
        mm_event_t ev = ping(55.6786, 12.5760);
        run(&w, mm__detect_location, &ev, NULL, T0 + i * 2 * MIN);
        triggers += w.evd.trigger == MM__TRIGGER_BURST;
    }
    ck_assert_int_eq(triggers, 3); /* at 4, 14 and 24 minutes */
}
END_TEST

START_TEST(test_place_queries_without_geo_count_toward_burst) {
    world_t w;
    world_init(&w);
    mm_event_t ev = event(MM_EVENT_QUERY);
    mm_query_analysis_t qa = analysis(NULL, 0);
    qa.place_seeking = true;
    for (int i = 0; i < 3; i++)
        run(&w, mm__detect_location, &ev, &qa, T0 + i * MIN);
    ck_assert_int_eq(w.evd.burst_count, 3);
    ck_assert_int_eq(w.evd.trigger, MM__TRIGGER_NONE); /* the query carries it */
}
END_TEST

START_TEST(test_any_query_during_burst_leans_go) {
    world_t w;
    world_init(&w);
    for (int i = 0; i < 3; i++) {
        mm_event_t p = ping(55.6786, 12.5760);
        run(&w, mm__detect_location, &p, NULL, T0 + i * MIN);
    }
    mm_event_t q = event(MM_EVENT_QUERY);
    mm_query_analysis_t qa = analysis(NULL, 0); /* "starbucks": no place word */
    run(&w, mm__detect_location, &q, &qa, T0 + 4 * MIN);
    ck_assert_int_eq(w.evd.burst_count, 3);
    ck_assert_float_gt(w.evd.boost[MM_MOMENT_GO], 0.0f);
    ck_assert_int_eq(w.evd.trigger, MM__TRIGGER_NONE);
}
END_TEST

START_TEST(test_non_place_query_is_not_a_ping) {
    world_t w;
    world_init(&w);
    mm_event_t ev = event(MM_EVENT_QUERY);
    mm_query_analysis_t qa = analysis(NULL, 0);
    for (int i = 0; i < 4; i++)
        run(&w, mm__detect_location, &ev, &qa, T0 + i * MIN);
    ck_assert_int_eq(w.evd.burst_count, 0);
}
END_TEST

/* Known distances, metres, 1% tolerance. */
static const struct {
    double lat1, lon1, lat2, lon2, metres;
} distance_rows[] = {
    {55.6761, 12.5683, 55.6761, 12.5683, 0},
    {55.0, 12.0, 55.001, 12.0, 111.2},        /* 0.001 deg of latitude */
    {0.0, 179.9995, 0.0, -179.9995, 111.2},   /* across the antimeridian */
    {55.6761, 12.5683, 55.6867, 12.5701, 1184}, /* Rådhuspladsen - Nørreport */
};

START_TEST(test_geo_distance_known_points) {
    double d = mm__geo_distance_m(distance_rows[_i].lat1, distance_rows[_i].lon1,
                                  distance_rows[_i].lat2, distance_rows[_i].lon2);
    double want = distance_rows[_i].metres;
    ck_assert_double_le(d, want * 1.01 + 0.01);
    ck_assert_double_ge(d, want * 0.99 - 0.01);
}
END_TEST

/* ---------------------------------------------------------------- in-store */

START_TEST(test_in_store_product_query_is_buy) {
    world_t w;
    world_init(&w);
    mm_event_t ev = event(MM_EVENT_QUERY);
    ev.in_store = 1;
    mm_query_analysis_t qa = analysis(NULL, 0);
    qa.product = true;
    run(&w, mm__detect_instore, &ev, &qa, T0);
    ck_assert(w.evd.in_store);
    ck_assert_float_ge(w.evd.boost[MM_MOMENT_BUY], 0.5f);
    ck_assert_ptr_nonnull(find_signal(&w.evd, "in_store"));
}
END_TEST

/* One store at Magasin (80 m) and one across the street (30 m) whose circle
 * overlaps it: a position in both belongs to the nearer centre. */
static void world_stores(world_t *w) {
    char dir[64], path[128], err[256];
    mm_test_dir(dir);
    mm_test_file(dir, "places.csv",
                 "id,name,lat,lon,radius,kind\n"
                 "magasin,Magasin du Nord,55.6794,12.5841,80,store\n"
                 "kiosk,Kiosk,55.6790,12.5850,30,store\n",
                 path, sizeof(path));
    w->places = mm__places_load(path, err, sizeof(err));
    ck_assert_msg(w->places != NULL, "places: %s", err);
    mm_test_dir_remove(dir);
}

/* { lat, lon, in_store field, want in store, the signal's place } */
static const struct {
    double lat, lon;
    int8_t in_store;
    bool want;
    const char *place;
} fence_rows[] = {
    {55.6794, 12.5841, -1, true, "magasin"}, /* in the middle */
    {55.6800, 12.5841, -1, true, "magasin"}, /* ~67 m north, radius 80 m */
    {55.6810, 12.5841, -1, false, NULL},     /* ~178 m north */
    {55.6790, 12.5849, -1, true, "kiosk"},   /* in both: the kiosk is nearer */
    {55.6794, 12.5841, 0, false, NULL},      /* explicit false wins over the fence */
    {55.6900, 12.6000, 1, true, NULL},       /* explicit true wins without a fence */
};

START_TEST(test_geofence_marks_in_store) {
    world_t w;
    world_init(&w);
    world_stores(&w);
    mm_event_t ev = ping(fence_rows[_i].lat, fence_rows[_i].lon);
    ev.in_store = fence_rows[_i].in_store;
    run(&w, mm__detect_instore, &ev, NULL, T0);
    ck_assert_int_eq(w.evd.in_store, fence_rows[_i].want);
    const mm_signal_t *sig = find_signal(&w.evd, "in_store");
    if (fence_rows[_i].place) {
        ck_assert_ptr_nonnull(sig);
        ck_assert_uint_eq(sig->value.len, strlen(fence_rows[_i].place));
        ck_assert_mem_eq(sig->value.p, fence_rows[_i].place, sig->value.len);
    } else if (sig) {
        ck_assert_ptr_null(sig->value.p); /* no place named without a position in one */
    }
    mm__places_destroy(w.places);
}
END_TEST

START_TEST(test_no_places_no_geofence) {
    world_t w;
    world_init(&w);
    mm_event_t ev = ping(55.6794, 12.5841);
    run(&w, mm__detect_instore, &ev, NULL, T0);
    ck_assert(!w.evd.in_store);
}
END_TEST

START_TEST(test_store_visit_remembered_for_query_without_position) {
    world_t w;
    world_init(&w);
    mm_event_t p = event(MM_EVENT_LOCATION);
    p.in_store = 1;
    run(&w, mm__detect_instore, &p, NULL, T0);
    mm_event_t q = event(MM_EVENT_QUERY);
    mm_query_analysis_t qa = analysis(NULL, 0);
    run(&w, mm__detect_instore, &q, &qa, T0 + 2 * MIN);
    ck_assert(w.evd.in_store);
    run(&w, mm__detect_instore, &q, &qa, T0 + 30 * MIN);
    ck_assert(!w.evd.in_store);
}
END_TEST

/* The leak: a phone pings from the shop, and 8 minutes later a query
 * comes from { session, device }; in store only for the device that was
 * there. */
static const struct {
    const char *session, *device;
    bool want;
} device_rows[] = {
    {"s1", "mobile", true},   /* the phone itself */
    {"s2", "desktop", false}, /* the desktop at home */
    {"s1", "desktop", false}, /* a session shared across devices */
    {"s2", "mobile", false},  /* another session on a phone */
    {NULL, NULL, false},      /* an event that says neither */
};

static mm_str_t opt(const char *s) { return (mm_str_t){s, s ? strlen(s) : 0}; }

START_TEST(test_store_visit_stays_with_its_device) {
    world_t w;
    world_init(&w);
    mm_event_t p = event(MM_EVENT_LOCATION);
    p.in_store = 1;
    p.session_id = MM_STR_LIT("s1");
    p.device = MM_STR_LIT("mobile");
    run(&w, mm__detect_instore, &p, NULL, T0);
    mm_event_t q = event(MM_EVENT_QUERY);
    q.session_id = opt(device_rows[_i].session);
    q.device = opt(device_rows[_i].device);
    mm_query_analysis_t qa = analysis(NULL, 0);
    qa.product = true;
    run(&w, mm__detect_instore, &q, &qa, T0 + 8 * MIN);
    ck_assert_int_eq(w.evd.in_store, device_rows[_i].want);
    ck_assert_int_eq(w.evd.boost[MM_MOMENT_BUY] > 0, device_rows[_i].want);
}
END_TEST

START_TEST(test_only_the_visiting_device_leaves_the_store) {
    world_t w;
    world_init(&w);
    mm_event_t phone = event(MM_EVENT_LOCATION), desk = event(MM_EVENT_LOCATION);
    phone.session_id = MM_STR_LIT("s1");
    desk.session_id = MM_STR_LIT("s2");
    phone.in_store = 1;
    run(&w, mm__detect_instore, &phone, NULL, T0);
    desk.in_store = 0; /* another device, elsewhere: says nothing of the phone */
    run(&w, mm__detect_instore, &desk, NULL, T0 + MIN);
    mm_event_t q = event(MM_EVENT_QUERY);
    q.session_id = MM_STR_LIT("s1");
    mm_query_analysis_t qa = analysis(NULL, 0);
    run(&w, mm__detect_instore, &q, &qa, T0 + 2 * MIN);
    ck_assert(w.evd.in_store);
    phone.in_store = 0; /* the phone itself left */
    run(&w, mm__detect_instore, &phone, NULL, T0 + 3 * MIN);
    run(&w, mm__detect_instore, &q, &qa, T0 + 4 * MIN);
    ck_assert(!w.evd.in_store);
}
END_TEST

START_TEST(test_device_fingerprint_tells_session_and_device_apart) {
    mm_event_t a = event(MM_EVENT_QUERY), b = event(MM_EVENT_QUERY);
    ck_assert_uint_eq(mm__device_fp(&a), mm__device_fp(&b));
    a.session_id = MM_STR_LIT("s1");
    b.device = MM_STR_LIT("s1"); /* the same bytes in the other field */
    ck_assert_uint_ne(mm__device_fp(&a), mm__device_fp(&b));
    b.session_id = MM_STR_LIT("s1");
    b.device = (mm_str_t){NULL, 0};
    ck_assert_uint_eq(mm__device_fp(&a), mm__device_fp(&b));
}
END_TEST

/* -------------------------------------------------------------------- cart */

static void note_buy(world_t *w, int64_t ts) {
    mm_event_t ev = event(MM_EVENT_QUERY);
    mm__detect_ctx_t ctx = {.conf = &w->conf, .ev = &ev, .user = &w->user,
                            .ts = ts, .windows = true};
    mm__note_moment(&ctx, MM_MOMENT_BUY);
}

/* { event, minutes after the buy moment, trigger } */
static const struct {
    mm_event_type_t type;
    int64_t after;
    mm__trigger_t trigger;
    const char *signal;
} cart_rows[] = {
    {MM_EVENT_ADD_TO_CART, 5 * MIN, MM__TRIGGER_CART, "cart_after_buy"},
    {MM_EVENT_PURCHASE, 29 * MIN, MM__TRIGGER_PURCHASE, "purchase_after_buy"},
    {MM_EVENT_ADD_TO_CART, 31 * MIN, MM__TRIGGER_NONE, NULL},
    {MM_EVENT_PAGE_VIEW, 1 * MIN, MM__TRIGGER_NONE, NULL},
};

START_TEST(test_cart_after_buy_moment_triggers_buy) {
    world_t w;
    world_init(&w);
    note_buy(&w, T0);
    mm_event_t ev = event(cart_rows[_i].type);
    run(&w, mm__detect_cart, &ev, NULL, T0 + cart_rows[_i].after);
    ck_assert_int_eq(w.evd.trigger, cart_rows[_i].trigger);
    if (cart_rows[_i].signal) {
        const mm_signal_t *sig = find_signal(&w.evd, cart_rows[_i].signal);
        ck_assert_ptr_nonnull(sig);
        ck_assert_double_eq(sig->number, (double)cart_rows[_i].after);
    }
}
END_TEST

START_TEST(test_cart_without_buy_moment_is_silent) {
    world_t w;
    world_init(&w);
    mm_event_t ev = event(MM_EVENT_ADD_TO_CART);
    run(&w, mm__detect_cart, &ev, NULL, T0);
    ck_assert_int_eq(w.evd.trigger, MM__TRIGGER_NONE);
    ck_assert_uint_eq(w.evd.n_signals, 0);
}
END_TEST

START_TEST(test_purchase_marks_user_post_purchase) {
    world_t w;
    world_init(&w);
    mm_event_t buy = event(MM_EVENT_PURCHASE);
    run(&w, mm__detect_cart, &buy, NULL, T0);
    mm_event_t q = event(MM_EVENT_QUERY);
    run(&w, mm__detect_cart, &q, NULL, T0 + 10 * MIN);
    ck_assert(w.evd.post_purchase);
}
END_TEST

/* ---------------------------------------------------------------- friction */

static mm_event_t page(int64_t load_ms) {
    mm_event_t ev = event(MM_EVENT_PAGE_VIEW);
    if (load_ms >= 0) {
        ev.page_load_ms = load_ms;
        ev.has_page_load_ms = true;
    }
    return ev;
}

START_TEST(test_slow_page_rides_on_next_moment) {
    world_t w;
    world_init(&w);
    mm_event_t pv = page(4500);
    run(&w, mm__detect_friction, &pv, NULL, T0);
    ck_assert_ptr_nonnull(find_signal(&w.evd, "slow_page")); /* for metrics */
    mm_event_t q = event(MM_EVENT_QUERY);
    run(&w, mm__detect_friction, &q, NULL, T0 + 40 * SEC);
    const mm_signal_t *sig = find_signal(&w.evd, "slow_page");
    ck_assert_ptr_nonnull(sig);
    ck_assert_double_eq(sig->number, 4500);
    ck_assert(w.evd.friction);
}
END_TEST

START_TEST(test_fast_page_is_no_friction) {
    world_t w;
    world_init(&w);
    mm_event_t pv = page(800);
    run(&w, mm__detect_friction, &pv, NULL, T0);
    mm_event_t q = event(MM_EVENT_QUERY);
    run(&w, mm__detect_friction, &q, NULL, T0 + 40 * SEC);
    ck_assert_uint_eq(w.evd.n_signals, 0);
}
END_TEST

/* { next event, seconds after the page_view, bounce? } */
static const struct {
    mm_event_type_t next;
    int64_t after;
    bool bounce;
} bounce_rows[] = {
    {MM_EVENT_QUERY, 4 * SEC, true},
    {MM_EVENT_QUERY, 10 * SEC, true},
    {MM_EVENT_QUERY, 11 * SEC, false},
    {MM_EVENT_CLICK, 4 * SEC, false}, /* engaged with the page */
};

START_TEST(test_quick_leave_is_bounce) {
    world_t w;
    world_init(&w);
    mm_event_t pv = page(-1);
    run(&w, mm__detect_friction, &pv, NULL, T0);
    mm_event_t next = event(bounce_rows[_i].next);
    run(&w, mm__detect_friction, &next, NULL, T0 + bounce_rows[_i].after);
    if (bounce_rows[_i].next != MM_EVENT_QUERY) { /* a click makes no moment: */
        mm_event_t q = event(MM_EVENT_QUERY);    /* look at the next query */
        run(&w, mm__detect_friction, &q, NULL, T0 + bounce_rows[_i].after + 1);
    }
    ck_assert_int_eq(find_signal(&w.evd, "bounce") != NULL, bounce_rows[_i].bounce);
}
END_TEST

START_TEST(test_friction_consumed_once) {
    world_t w;
    world_init(&w);
    mm_event_t pv = page(5000);
    run(&w, mm__detect_friction, &pv, NULL, T0);
    mm_event_t q = event(MM_EVENT_QUERY);
    run(&w, mm__detect_friction, &q, NULL, T0 + 40 * SEC);
    mm__detect_ctx_t ctx = {.conf = &w.conf, .ev = &q, .user = &w.user,
                            .ts = T0 + 40 * SEC, .windows = true};
    mm__friction_consumed(&ctx);
    run(&w, mm__detect_friction, &q, NULL, T0 + 50 * SEC);
    ck_assert_ptr_null(find_signal(&w.evd, "slow_page"));
}
END_TEST

START_TEST(test_friction_expires_after_carry) {
    world_t w;
    world_init(&w);
    mm_event_t pv = page(5000);
    run(&w, mm__detect_friction, &pv, NULL, T0);
    mm_event_t q = event(MM_EVENT_QUERY);
    run(&w, mm__detect_friction, &q, NULL, T0 + 11 * MIN);
    ck_assert(!w.evd.friction);
}
END_TEST

/* ----------------------------------------------------------------- context */

START_TEST(test_maps_channel_pushes_go) {
    world_t w;
    world_init(&w);
    mm_event_t ev = event(MM_EVENT_QUERY);
    ev.channel = MM_STR_LIT("maps");
    mm_query_analysis_t qa = analysis(NULL, 0);
    run(&w, mm__detect_context, &ev, &qa, T0);
    ck_assert_float_gt(w.evd.boost[MM_MOMENT_GO], 0.2f);
    ck_assert_ptr_nonnull(find_signal(&w.evd, "channel"));
}
END_TEST

START_TEST(test_lunch_near_me_is_more_urgent_than_evening) {
    mm_event_t ev = event(MM_EVENT_QUERY);
    ev.device = MM_STR_LIT("mobile");
    ev.tz_offset_min = 60;
    ev.has_tz_offset = true;
    mm_query_analysis_t qa = analysis(NULL, 0);
    qa.place_seeking = true;
    world_t lunch, evening;
    world_init(&lunch);
    world_init(&evening);
    run(&lunch, mm__detect_context, &ev, &qa, T0);              /* 13:13 local */
    run(&evening, mm__detect_context, &ev, &qa, T0 + 7 * 3600 * SEC); /* 20:13 */
    ck_assert_float_gt(lunch.evd.urgency, evening.evd.urgency);
    ck_assert_float_gt(lunch.evd.boost[MM_MOMENT_GO], evening.evd.boost[MM_MOMENT_GO]);
    ck_assert_ptr_nonnull(find_signal(&lunch.evd, "lunch_time"));
    ck_assert_ptr_null(find_signal(&evening.evd, "lunch_time"));
}
END_TEST

/* { ts, tz minutes (or none), hour } */
static const struct {
    int64_t ts;
    bool has_tz;
    int32_t tz;
    int hour;
} hour_rows[] = {
    {T0, true, 0, 12},         {T0, true, 60, 13},      {T0, true, -300, 7},
    {T0, true, 720, 0},        {T0, false, 0, -1},      {T0, true, 5000, -1},
    {-3600 * SEC, true, 0, -1}, /* no event time */
    {30 * MIN, true, -60, 23},  /* local time before the epoch */
};

START_TEST(test_local_hour_from_ts_and_offset) {
    mm_event_t ev = event(MM_EVENT_QUERY);
    ev.tz_offset_min = hour_rows[_i].tz;
    ev.has_tz_offset = hour_rows[_i].has_tz;
    ck_assert_int_eq(mm__local_hour(&ev, hour_rows[_i].ts), hour_rows[_i].hour);
}
END_TEST

START_TEST(test_new_vs_returning_user_signal) {
    world_t w;
    world_init(&w);
    mm_event_t ev = event(MM_EVENT_PAGE_VIEW);
    w.is_new = true;
    w.user.n_events = 1;
    run(&w, mm__detect_context, &ev, NULL, T0);
    ck_assert_ptr_nonnull(find_signal(&w.evd, "new_user"));
    w.is_new = false;
    w.user.n_events = 5;
    run(&w, mm__detect_context, &ev, NULL, T0 + SEC);
    const mm_signal_t *sig = find_signal(&w.evd, "returning_user");
    ck_assert_ptr_nonnull(sig);
    ck_assert_int_eq(sig->count, 4);
}
END_TEST

/* ------------------------------------------------------------- lateness */

START_TEST(test_late_event_leaves_windows_alone) {
    world_t w;
    world_init(&w);
    mm_event_t q = event(MM_EVENT_QUERY);
    uint32_t terms[] = {9};
    mm_query_analysis_t qa = analysis(terms, 1);
    qa.place_seeking = true;
    mm__user_t before = w.user;
    w.windows = false;
    detector_fn all[] = {mm__detect_rapid, mm__detect_location, mm__detect_instore,
                         mm__detect_cart, mm__detect_friction};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        run(&w, all[i], &q, &qa, T0);
    ck_assert(memcmp(&before, &w.user, sizeof(before)) == 0);
}
END_TEST

/* ------------------------------------------------------------------ stage */

/* { type, urgency, in_store, research, post_purchase, trigger, buy score, stage } */
static const struct {
    mm_moment_type_t type;
    float urgency;
    bool in_store, research, post;
    mm__trigger_t trigger;
    float buy;
    mm_journey_stage_t stage;
} stage_rows[] = {
    {MM_MOMENT_KNOW, 0, false, false, false, MM__TRIGGER_NONE, 0, MM_STAGE_AWARENESS},
    {MM_MOMENT_KNOW, 0, false, false, false, MM__TRIGGER_NONE, 0.5f, MM_STAGE_CONSIDERATION},
    {MM_MOMENT_KNOW, 0, false, true, false, MM__TRIGGER_NONE, 0, MM_STAGE_CONSIDERATION},
    {MM_MOMENT_BUY, 0, false, false, false, MM__TRIGGER_NONE, 0.8f, MM_STAGE_CONSIDERATION},
    {MM_MOMENT_BUY, 0.5f, false, false, false, MM__TRIGGER_NONE, 0.8f, MM_STAGE_DECISION},
    {MM_MOMENT_BUY, 0, true, false, false, MM__TRIGGER_NONE, 0.8f, MM_STAGE_DECISION},
    {MM_MOMENT_GO, 0.3f, false, false, false, MM__TRIGGER_BURST, 0, MM_STAGE_DECISION},
    {MM_MOMENT_BUY, 1, false, false, false, MM__TRIGGER_CART, 0.9f, MM_STAGE_DECISION},
    {MM_MOMENT_BUY, 1, false, false, true, MM__TRIGGER_PURCHASE, 1, MM_STAGE_POST_PURCHASE},
    {MM_MOMENT_DO, 0, false, false, true, MM__TRIGGER_NONE, 0, MM_STAGE_POST_PURCHASE},
    {MM_MOMENT_BUY, 0, false, false, true, MM__TRIGGER_NONE, 0.8f, MM_STAGE_CONSIDERATION},
};

START_TEST(test_journey_stage_table) {
    world_t w;
    world_init(&w);
    mm_event_t ev = event(MM_EVENT_QUERY);
    mm__evidence_t evd;
    memset(&evd, 0, sizeof(evd));
    evd.urgency = stage_rows[_i].urgency;
    evd.in_store = stage_rows[_i].in_store;
    evd.research = stage_rows[_i].research;
    evd.post_purchase = stage_rows[_i].post;
    evd.trigger = stage_rows[_i].trigger;
    mm_moment_t m;
    memset(&m, 0, sizeof(m));
    m.type = stage_rows[_i].type;
    m.scores[MM_MOMENT_BUY] = stage_rows[_i].buy;
    mm__detect_ctx_t ctx = {.conf = &w.conf, .ev = &ev, .user = &w.user, .ts = T0,
                            .windows = true};
    mm__enrich(&ctx, &evd, &m);
    ck_assert_str_eq(mm_journey_stage_name(m.stage),
                     mm_journey_stage_name(stage_rows[_i].stage));
    ck_assert_int_eq(m.local_hour, -1); /* no tz on the event */
}
END_TEST

START_TEST(test_evidence_signals_bounded) {
    mm__evidence_t evd;
    memset(&evd, 0, sizeof(evd));
    for (int i = 0; i < MM_SIGNALS_MAX + 5; i++)
        mm__evidence_signal(&evd, "x");
    ck_assert_uint_eq(evd.n_signals, MM_SIGNALS_MAX);
    ck_assert_ptr_null(mm__evidence_signal(&evd, "y"));
}
END_TEST

#define NROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *detectors_suite(void) {
    Suite *s = suite_create("detectors");
    TCase *tc = tcase_create("detect_rapid");
    tcase_add_loop_test(tc, test_rapid_queries_fire_at_n_within_window, 0, NROWS(rapid_rows));
    tcase_add_test(tc, test_refinement_raises_urgency);
    tcase_add_test(tc, test_refinement_streak_grows_urgency);
    tcase_add_test(tc, test_refinement_needs_previous_within_window);
    tcase_add_test(tc, test_refinement_carries_previous_moment_type);
    suite_add_tcase(s, tc);

    tc = tcase_create("detect_location");
    tcase_add_test(tc, test_location_burst_yields_go_without_query);
    tcase_add_test(tc, test_far_apart_pings_are_no_burst);
    tcase_add_test(tc, test_burst_triggers_again_after_a_window);
    tcase_add_test(tc, test_place_queries_without_geo_count_toward_burst);
    tcase_add_test(tc, test_non_place_query_is_not_a_ping);
    tcase_add_test(tc, test_any_query_during_burst_leans_go);
    tcase_add_loop_test(tc, test_geo_distance_known_points, 0, NROWS(distance_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("detect_instore");
    tcase_add_test(tc, test_in_store_product_query_is_buy);
    tcase_add_loop_test(tc, test_geofence_marks_in_store, 0, NROWS(fence_rows));
    tcase_add_test(tc, test_no_places_no_geofence);
    tcase_add_test(tc, test_store_visit_remembered_for_query_without_position);
    tcase_add_loop_test(tc, test_store_visit_stays_with_its_device, 0, NROWS(device_rows));
    tcase_add_test(tc, test_only_the_visiting_device_leaves_the_store);
    tcase_add_test(tc, test_device_fingerprint_tells_session_and_device_apart);
    suite_add_tcase(s, tc);

    tc = tcase_create("detect_cart");
    tcase_add_loop_test(tc, test_cart_after_buy_moment_triggers_buy, 0, NROWS(cart_rows));
    tcase_add_test(tc, test_cart_without_buy_moment_is_silent);
    tcase_add_test(tc, test_purchase_marks_user_post_purchase);
    suite_add_tcase(s, tc);

    tc = tcase_create("detect_friction");
    tcase_add_test(tc, test_slow_page_rides_on_next_moment);
    tcase_add_test(tc, test_fast_page_is_no_friction);
    tcase_add_loop_test(tc, test_quick_leave_is_bounce, 0, NROWS(bounce_rows));
    tcase_add_test(tc, test_friction_consumed_once);
    tcase_add_test(tc, test_friction_expires_after_carry);
    suite_add_tcase(s, tc);

    tc = tcase_create("detect_context");
    tcase_add_test(tc, test_maps_channel_pushes_go);
    tcase_add_test(tc, test_lunch_near_me_is_more_urgent_than_evening);
    tcase_add_loop_test(tc, test_local_hour_from_ts_and_offset, 0, NROWS(hour_rows));
    tcase_add_test(tc, test_new_vs_returning_user_signal);
    suite_add_tcase(s, tc);

    tc = tcase_create("detect_common");
    tcase_add_test(tc, test_late_event_leaves_windows_alone);
    tcase_add_loop_test(tc, test_journey_stage_table, 0, NROWS(stage_rows));
    tcase_add_test(tc, test_evidence_signals_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return mm_check_run(detectors_suite());
}
