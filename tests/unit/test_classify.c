/* mm_classify end to end: the real lexicons, a real state, event streams. */
#include <check.h>

#include "check_run.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/classifier_int.h"

#define T0 ((int64_t)1763900000000) /* 2025-11-23 12:13:20 UTC */
#define SEC 1000
#define MIN (60 * SEC)

static mm_rules_t *rules;
static mm_state_t *state;

static void setup(void) {
    mm_rules_conf_t conf;
    mm_rules_conf_defaults(&conf);
    char err[256];
    rules = mm_rules_load(MM_SOURCE_DIR "/lexicons", &conf, err, sizeof(err));
    ck_assert_msg(rules != NULL, "rules: %s", err);
    mm_state_conf_t sconf;
    mm_state_conf_defaults(&sconf);
    sconf.max_users = 1000;
    state = mm_state_new(&sconf);
    ck_assert_ptr_nonnull(state);
}

static void teardown(void) {
    mm_state_destroy(state);
    mm_rules_destroy(rules);
}

static mm_str_t str(const char *s) { return (mm_str_t){s, s ? strlen(s) : 0}; }

static mm_event_t event(const char *user, mm_event_type_t type, int64_t ts) {
    mm_event_t ev;
    mm_event_init(&ev);
    ev.user_id = str(user);
    ev.type = type;
    ev.ts = ts;
    ev.has_ts = true;
    return ev;
}

static mm_event_t query(const char *user, const char *text, int64_t ts) {
    mm_event_t ev = event(user, MM_EVENT_QUERY, ts);
    ev.query = str(text);
    return ev;
}

/* Classify one event; returns the number of moments (0 or 1) in *m. */
static size_t classify(const mm_event_t *ev, mm_moment_t *m) {
    size_t n = 1;
    ck_assert_int_eq(mm_classify(rules, state, ev, m, &n, NULL), MM_ERR_OK);
    ck_assert_uint_le(n, 1);
    return n;
}

static const mm_signal_t *find_signal(const mm_moment_t *m, const char *name) {
    for (uint32_t i = 0; i < m->n_signals; i++)
        if (strcmp(m->signals[i].name, name) == 0)
            return &m->signals[i];
    return NULL;
}

/* ------------------------------------------------------------ text path */

static const struct {
    const char *text;
    mm_moment_type_t type;
} keyword_rows[] = {
    {"coffee near me", MM_MOMENT_GO},
    {"how to fix a bike", MM_MOMENT_DO},
    {"how does wifi work", MM_MOMENT_KNOW},
    {"buy running shoes", MM_MOMENT_BUY},
};

START_TEST(test_query_keywords_decide_type) {
    mm_event_t ev = query("u1", keyword_rows[_i].text, T0);
    mm_moment_t m;
    ck_assert_uint_eq(classify(&ev, &m), 1);
    ck_assert_str_eq(mm_moment_type_name(m.type),
                     mm_moment_type_name(keyword_rows[_i].type));
    ck_assert_float_ge(m.confidence, m.scores[m.type]);
    ck_assert_float_le(m.confidence, 1.0f);
    ck_assert_str_eq(m.signals[0].name, "keyword"); /* keywords come first */
}
END_TEST

START_TEST(test_no_intent_query_yields_no_moment) {
    mm_event_t ev = query("u1", "hello there", T0);
    mm_moment_t m;
    ck_assert_uint_eq(classify(&ev, &m), 0);
}
END_TEST

START_TEST(test_bare_topic_is_the_weakest_know) {
    mm_event_t ev = query("u1", "zxqv blorp", T0);
    mm_moment_t m;
    ck_assert_uint_eq(classify(&ev, &m), 1);
    ck_assert_int_eq(m.type, MM_MOMENT_KNOW);
    ck_assert_float_eq_tol(m.confidence, (float)rules->conf.topic_confidence, 1e-6f);
}
END_TEST

START_TEST(test_explain_filled_without_moment) {
    mm_event_t ev = query("u1", "hello there", T0);
    mm_moment_t m;
    mm_explain_t ex;
    memset(&ex, 0xAB, sizeof(ex));
    size_t n = 1;
    ck_assert_int_eq(mm_classify(rules, state, &ev, &m, &n, &ex), MM_ERR_OK);
    ck_assert_uint_eq(n, 0);
    for (int k = 0; k < MM_MOMENT__COUNT; k++)
        ck_assert_float_eq(ex.scores[k], 0.0f);
    ck_assert_uint_ge(ex.n_signals, 1);
    ck_assert_str_eq(ex.signals[ex.n_signals - 1].name, "new_user");
}
END_TEST

START_TEST(test_query_yields_at_most_one_moment) {
    mm_event_t ev = query("u1", "how to make pizza buy cheap best near me open now", T0);
    mm_moment_t m[4];
    size_t n = 4;
    ck_assert_int_eq(mm_classify(rules, state, &ev, m, &n, NULL), MM_ERR_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(m[0].ordinal, 0);
    ck_assert_ptr_eq(m[0].event, &ev);
}
END_TEST

START_TEST(test_full_array_reports_full) {
    mm_event_t ev = query("u1", "coffee near me", T0);
    mm_moment_t m;
    size_t n = 0;
    ck_assert_int_eq(mm_classify(rules, state, &ev, &m, &n, NULL), MM_ERR_FULL);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_moment_context_filled) {
    mm_event_t ev = query("u1", "coffee near me", T0);
    ev.tz_offset_min = 60;
    ev.has_tz_offset = true;
    mm_moment_t m;
    ck_assert_uint_eq(classify(&ev, &m), 1);
    ck_assert_int_eq(m.local_hour, 13);
    ck_assert_str_eq(m.strategy->goal, "find options nearby");
    for (int k = 0; k < MM_MOMENT__COUNT; k++)
        ck_assert(m.scores[k] >= 0.0f && m.scores[k] <= 1.0f);
}
END_TEST

/* ------------------------------------------------------------ behaviour */

START_TEST(test_refinement_raises_urgency) {
    mm_moment_t first, refined, fresh;
    mm_event_t a = query("runner", "running shoes", T0);
    mm_event_t b = query("runner", "running shoes wide feet", T0 + 20 * SEC);
    mm_event_t c = query("newcomer", "running shoes wide feet", T0 + 20 * SEC);
    ck_assert_uint_eq(classify(&a, &first), 1);
    ck_assert_uint_eq(classify(&b, &refined), 1);
    ck_assert_uint_eq(classify(&c, &fresh), 1);
    ck_assert_ptr_nonnull(find_signal(&refined, "refinement"));
    ck_assert_ptr_null(find_signal(&fresh, "refinement"));
    ck_assert_float_gt(refined.confidence, fresh.confidence);
    ck_assert_int_eq(refined.stage, MM_STAGE_DECISION);
    ck_assert_int_eq(fresh.stage, MM_STAGE_CONSIDERATION);
}
END_TEST

START_TEST(test_rapid_queries_signal_on_third) {
    const char *texts[] = {"pharmacy", "pharmacy open now", "pharmacy near me"};
    mm_moment_t m;
    for (int i = 0; i < 3; i++) {
        mm_event_t ev = query("u1", texts[i], T0 + i * 15 * SEC);
        ck_assert_uint_eq(classify(&ev, &m), 1);
    }
    const mm_signal_t *sig = find_signal(&m, "rapid_queries");
    ck_assert_ptr_nonnull(sig);
    ck_assert_int_eq(sig->count, 3);
}
END_TEST

START_TEST(test_location_burst_yields_go_without_query) {
    const double pts[][2] = {{55.6786, 12.5760}, {55.6790, 12.5770},
                             {55.6795, 12.5780}, {55.6792, 12.5785}};
    size_t moments = 0;
    mm_moment_t m, burst;
    for (int i = 0; i < 4; i++) {
        mm_event_t ev = event("walker", MM_EVENT_LOCATION, T0 + i * 2 * MIN);
        ev.lat = pts[i][0];
        ev.lon = pts[i][1];
        ev.has_geo = true;
        if (classify(&ev, &m)) {
            moments++;
            burst = m;
        }
    }
    ck_assert_uint_eq(moments, 1); /* once per window */
    ck_assert_int_eq(burst.type, MM_MOMENT_GO);
    const mm_signal_t *sig = find_signal(&burst, "location_burst");
    ck_assert_ptr_nonnull(sig);
    ck_assert_int_eq(sig->count, 3);
    ck_assert_int_eq(sig->window_ms, 600000);
    ck_assert_int_eq(burst.stage, MM_STAGE_DECISION);
    ck_assert_float_ge(burst.confidence, 0.6f);
}
END_TEST

START_TEST(test_bare_query_during_burst_is_go) {
    mm_moment_t m;
    for (int i = 0; i < 3; i++) {
        mm_event_t ev = event("walker", MM_EVENT_LOCATION, T0 + i * MIN);
        ev.lat = 55.6786;
        ev.lon = 12.5760;
        ev.has_geo = true;
        classify(&ev, &m);
    }
    mm_event_t q = query("walker", "starbucks", T0 + 4 * MIN);
    ck_assert_uint_eq(classify(&q, &m), 1);
    ck_assert_int_eq(m.type, MM_MOMENT_GO);
    mm_event_t alone = query("sitter", "starbucks", T0 + 4 * MIN);
    ck_assert_uint_eq(classify(&alone, &m), 0);
}
END_TEST

START_TEST(test_in_store_product_query_is_buy) {
    mm_moment_t m;
    mm_event_t home = query("u1", "what is a blender", T0);
    ck_assert_uint_eq(classify(&home, &m), 1);
    ck_assert_int_eq(m.type, MM_MOMENT_KNOW);
    mm_event_t shop = query("u2", "what is a blender", T0);
    shop.in_store = 1;
    ck_assert_uint_eq(classify(&shop, &m), 1);
    ck_assert_int_eq(m.type, MM_MOMENT_BUY);
    ck_assert_int_eq(m.stage, MM_STAGE_DECISION);
    ck_assert_ptr_nonnull(find_signal(&m, "in_store"));
}
END_TEST

/* The leak: the phone pings from inside a shop, and 8 minutes later
 * a query comes from the desktop at home. Before the in-store memory was
 * tied to a device, the desktop query scored buy 1.0 with in_store. */
/* Classify @p ev as sent from @p session on @p device; its moment's type,
 * and whether it was in store. */
static mm_moment_type_t from_device(mm_event_t ev, const char *session, const char *device,
                                    bool *in_store) {
    mm_moment_t m;
    ev.session_id = str(session);
    ev.device = str(device);
    ck_assert_uint_eq(classify(&ev, &m), ev.type == MM_EVENT_QUERY ? 1 : 0);
    *in_store = ev.type == MM_EVENT_QUERY && find_signal(&m, "in_store") != NULL;
    return m.type;
}

START_TEST(test_in_store_stays_with_the_device_that_was_there) {
    bool in;
    mm_event_t ping = event("u1", MM_EVENT_LOCATION, T0);
    ping.in_store = 1;
    from_device(ping, "s1", "mobile", &in);
    mm_event_t desk = query("u1", "what is a blender", T0 + 8 * MIN);
    ck_assert_int_eq(from_device(desk, "s2", "desktop", &in), MM_MOMENT_KNOW);
    ck_assert(!in);
    /* Another product: the same words would be a refinement of the desk's
     * know moment, which carries know along. */
    mm_event_t phone = query("u1", "what is a toaster", T0 + 9 * MIN);
    ck_assert_int_eq(from_device(phone, "s1", "mobile", &in), MM_MOMENT_BUY);
    ck_assert(in);
}
END_TEST

/* A position inside a place of the rules' places file is in store, and the
 * signal names the place. */
START_TEST(test_position_in_a_place_is_in_store) {
    char dir[64], path[128], err[512];
    mm_test_dir(dir);
    mm_test_file(dir, "stores.csv", "id,name,lat,lon,radius\nmagasin,Magasin,55.6794,12.5841,80\n",
                 path, sizeof(path));
    mm_rules_conf_t conf;
    mm_rules_conf_defaults(&conf);
    snprintf(conf.places_file, sizeof(conf.places_file), "%s", path);
    mm_rules_t *placed = mm_rules_load(MM_SOURCE_DIR "/lexicons", &conf, err, sizeof(err));
    mm_test_dir_remove(dir);
    ck_assert_msg(placed != NULL, "%s", err);
    mm_moment_t m;
    size_t n = 1;
    mm_event_t shop = query("u1", "what is a blender", T0);
    shop.lat = 55.6795;
    shop.lon = 12.5842;
    shop.has_geo = true;
    ck_assert_int_eq(mm_classify(placed, state, &shop, &m, &n, NULL), MM_ERR_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(m.type, MM_MOMENT_BUY);
    const mm_signal_t *sig = find_signal(&m, "in_store");
    ck_assert_ptr_nonnull(sig);
    ck_assert_uint_eq(sig->value.len, 7);
    ck_assert_mem_eq(sig->value.p, "magasin", 7);
    mm_event_t away = query("u2", "what is a blender", T0);
    away.lat = 55.6900; /* ~1.2 km north */
    away.lon = 12.5841;
    away.has_geo = true;
    n = 1;
    ck_assert_int_eq(mm_classify(placed, state, &away, &m, &n, NULL), MM_ERR_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(m.type, MM_MOMENT_KNOW);
    ck_assert_ptr_null(find_signal(&m, "in_store"));
    mm_rules_destroy(placed);
}
END_TEST

/* { event, its lang hint, the query (NULL: a location burst), go's goal } */
static const struct {
    const char *hint, *text, *goal;
} strategy_rows[] = {
    {"da", "kaffe i nærheden", "find muligheder i nærheden"},
    {NULL, "cómo llegar a la farmacia más cercana", "encontrar opciones cercanas"},
    {"de-DE", NULL, "Angebote in der Nähe finden"}, /* no query: the hint */
    {"fr", NULL, "find options nearby"},            /* no file: English */
    {NULL, NULL, "find options nearby"},
};

START_TEST(test_strategy_speaks_the_event_language) {
    mm_moment_t m;
    const char *hint = strategy_rows[_i].hint, *text = strategy_rows[_i].text;
    if (text) {
        mm_event_t q = query("u1", text, T0);
        q.lang = str(hint);
        ck_assert_uint_eq(classify(&q, &m), 1);
    } else {
        for (int i = 0; i < 3; i++) { /* three pings: a location burst */
            mm_event_t p = event("u1", MM_EVENT_LOCATION, T0 + i * MIN);
            p.lat = 55.6761;
            p.lon = 12.5683;
            p.has_geo = true;
            p.lang = str(hint);
            classify(&p, &m);
        }
    }
    ck_assert_int_eq(m.type, MM_MOMENT_GO);
    ck_assert_ptr_nonnull(m.strategy);
    ck_assert_str_eq(m.strategy->goal, strategy_rows[_i].goal);
}
END_TEST

/* { event after "buy running shoes", minutes later, moment?, stage, signal } */
static const struct {
    mm_event_type_t type;
    int64_t after;
    bool moment;
    mm_journey_stage_t stage;
    const char *signal;
} cart_rows[] = {
    {MM_EVENT_ADD_TO_CART, 5 * MIN, true, MM_STAGE_DECISION, "cart_after_buy"},
    {MM_EVENT_PURCHASE, 20 * MIN, true, MM_STAGE_POST_PURCHASE, "purchase_after_buy"},
    {MM_EVENT_ADD_TO_CART, 45 * MIN, false, 0, NULL},
    {MM_EVENT_CLICK, 1 * MIN, false, 0, NULL},
};

START_TEST(test_cart_after_buy_query_is_buy) {
    mm_moment_t m;
    mm_event_t q = query("shopper", "buy running shoes", T0);
    ck_assert_uint_eq(classify(&q, &m), 1);
    mm_event_t ev = event("shopper", cart_rows[_i].type, T0 + cart_rows[_i].after);
    ck_assert_uint_eq(classify(&ev, &m), cart_rows[_i].moment);
    if (!cart_rows[_i].moment)
        return;
    ck_assert_int_eq(m.type, MM_MOMENT_BUY);
    ck_assert_int_eq(m.stage, cart_rows[_i].stage);
    ck_assert_ptr_nonnull(find_signal(&m, cart_rows[_i].signal));
}
END_TEST

START_TEST(test_support_query_after_purchase_is_post_purchase) {
    mm_moment_t m;
    mm_event_t p = event("owner", MM_EVENT_PURCHASE, T0);
    ck_assert_uint_eq(classify(&p, &m), 0); /* no buy moment to attribute to */
    mm_event_t q = query("owner", "how to set up headphones", T0 + 10 * MIN);
    ck_assert_uint_eq(classify(&q, &m), 1);
    ck_assert_int_eq(m.type, MM_MOMENT_DO);
    ck_assert_int_eq(m.stage, MM_STAGE_POST_PURCHASE);
}
END_TEST

START_TEST(test_slow_page_signal_on_next_moment) {
    mm_moment_t m;
    mm_event_t pv = event("u1", MM_EVENT_PAGE_VIEW, T0);
    pv.page_load_ms = 6000;
    pv.has_page_load_ms = true;
    mm_explain_t ex;
    size_t n = 1;
    mm_classify(rules, state, &pv, &m, &n, &ex);
    ck_assert_uint_eq(n, 0);
    ck_assert_str_eq(ex.signals[0].name, "slow_page");
    mm_event_t q = query("u1", "coffee near me", T0 + 5 * SEC);
    ck_assert_uint_eq(classify(&q, &m), 1);
    ck_assert_ptr_nonnull(find_signal(&m, "slow_page"));
    ck_assert_ptr_nonnull(find_signal(&m, "bounce")); /* left after 5 s */
    mm_event_t q2 = query("u1", "coffee near me", T0 + 30 * SEC);
    ck_assert_uint_eq(classify(&q2, &m), 1);
    ck_assert_ptr_null(find_signal(&m, "slow_page")); /* carried once */
}
END_TEST

START_TEST(test_lunch_near_me_is_urgent_go) {
    mm_moment_t lunch, evening;
    mm_event_t a = query("a", "italian restaurant", T0); /* 13:13 local */
    a.tz_offset_min = 60;
    a.has_tz_offset = true;
    a.device = str("mobile");
    mm_event_t b = a;
    b.user_id = str("b");
    b.ts = T0 + 7 * 3600 * SEC; /* 20:13 local */
    ck_assert_uint_eq(classify(&a, &lunch), 1);
    ck_assert_uint_eq(classify(&b, &evening), 1);
    ck_assert_int_eq(lunch.type, MM_MOMENT_GO);
    ck_assert_float_gt(lunch.confidence, evening.confidence);
    ck_assert_ptr_nonnull(find_signal(&lunch, "lunch_time"));
}
END_TEST

START_TEST(test_returning_user_signal) {
    mm_moment_t m;
    mm_event_t a = query("u1", "coffee near me", T0);
    mm_event_t b = query("u1", "how to fix a bike", T0 + 10 * MIN);
    ck_assert_uint_eq(classify(&a, &m), 1);
    ck_assert_ptr_nonnull(find_signal(&m, "new_user"));
    ck_assert_uint_eq(classify(&b, &m), 1);
    const mm_signal_t *sig = find_signal(&m, "returning_user");
    ck_assert_ptr_nonnull(sig);
    ck_assert_int_eq(sig->count, 1);
}
END_TEST

/* ------------------------------------------------------------ time */

START_TEST(test_late_event_outside_lateness_ignored_by_windows) {
    mm_moment_t m;
    mm_event_t q1 = query("u1", "pharmacy", T0);
    mm_event_t q2 = query("u1", "pharmacy open now", T0 + 10 * SEC);
    classify(&q1, &m);
    classify(&q2, &m);
    /* Two minutes older than the newest: past the 60 s lateness. */
    mm_event_t late = query("u1", "pharmacy near me", T0 - 110 * SEC);
    ck_assert_uint_eq(classify(&late, &m), 1); /* still classified by text */
    ck_assert_int_eq(m.type, MM_MOMENT_GO);
    ck_assert_ptr_null(find_signal(&m, "refinement"));
    ck_assert_ptr_null(find_signal(&m, "rapid_queries"));
    mm_event_t q3 = query("u1", "pharmacy", T0 + 20 * SEC);
    ck_assert_uint_eq(classify(&q3, &m), 1);
    const mm_signal_t *sig = find_signal(&m, "rapid_queries");
    ck_assert_ptr_nonnull(sig);
    ck_assert_int_eq(sig->count, 3); /* the late one is not in the window */
}
END_TEST

START_TEST(test_late_event_within_lateness_counts) {
    mm_moment_t m;
    mm_event_t q1 = query("u1", "pharmacy", T0);
    mm_event_t q2 = query("u1", "pharmacy open now", T0 + 50 * SEC);
    mm_event_t q3 = query("u1", "pharmacy near me", T0 + 20 * SEC); /* 30 s late */
    classify(&q1, &m);
    classify(&q2, &m);
    ck_assert_uint_eq(classify(&q3, &m), 1);
    ck_assert_ptr_nonnull(find_signal(&m, "refinement"));
    const mm_signal_t *sig = find_signal(&m, "rapid_queries");
    ck_assert_ptr_nonnull(sig);
    ck_assert_int_eq(sig->count, 3); /* as if it had arrived in order */
}
END_TEST

/* A deterministic mixed stream (LCG), run through two fresh states. */
static size_t run_stream(mm_state_t *st, mm_moment_t *out, size_t cap,
                         bool prefetch) {
    static const char *users[] = {"a", "b", "c", "d", "e"};
    static const char *texts[] = {"coffee near me", "running shoes", "buy running shoes",
                                  "how to fix a bike", "zxqv", "pharmacy open now",
                                  "what is a blender", "best headphones"};
    uint64_t x = 12345;
    size_t n_out = 0;
    int64_t ts = T0;
    for (int i = 0; i < 400; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(x >> 33);
        ts += (int64_t)(r % 40) * SEC - 5 * SEC; /* some disorder */
        mm_event_t ev = event(users[r % 5], (mm_event_type_t)((r >> 3) % MM_EVENT__COUNT), ts);
        ev.query = str(texts[(r >> 7) % 8]);
        ev.lat = 55.67 + (double)((r >> 10) % 10) * 0.0005;
        ev.lon = 12.56;
        ev.has_geo = (r >> 14) & 1;
        ev.in_store = (int8_t)((r >> 15) % 3) - 1;
        ev.tz_offset_min = 60;
        ev.has_tz_offset = true;
        size_t n = 1;
        if (prefetch) /* a hint for some other user: must change nothing */
            mm_state_prefetch(st, str(users[(r >> 5) % 5]));
        mm_classify(rules, st, &ev, &out[n_out], &n, NULL);
        if (n && n_out + 1 < cap) {
            out[n_out].event = NULL; /* points at a dead stack event */
            n_out++;
        }
    }
    return n_out;
}

static void assert_same_moment(const mm_moment_t *a, const mm_moment_t *b) {
    ck_assert_int_eq(a->type, b->type);
    ck_assert(a->confidence == b->confidence);
    ck_assert(memcmp(a->scores, b->scores, sizeof(a->scores)) == 0);
    ck_assert_int_eq(a->stage, b->stage);
    ck_assert_int_eq(a->local_hour, b->local_hour);
    ck_assert_uint_eq(a->n_signals, b->n_signals);
    for (uint32_t i = 0; i < a->n_signals; i++) {
        ck_assert_str_eq(a->signals[i].name, b->signals[i].name);
        ck_assert_int_eq(a->signals[i].count, b->signals[i].count);
        ck_assert(a->signals[i].number == b->signals[i].number);
    }
}

START_TEST(test_same_input_same_output) {
    static mm_moment_t one[400], two[400];
    mm_state_conf_t sconf;
    mm_state_conf_defaults(&sconf);
    sconf.max_users = 3; /* eviction in play too */
    mm_state_t *s1 = mm_state_new(&sconf);
    mm_state_t *s2 = mm_state_new(&sconf);
    size_t n1 = run_stream(s1, one, 400, false);
    size_t n2 = run_stream(s2, two, 400, _i == 1);
    ck_assert_uint_gt(n1, 20);
    ck_assert_uint_eq(n1, n2);
    for (size_t i = 0; i < n1; i++)
        assert_same_moment(&one[i], &two[i]);
    mm_state_destroy(s1);
    mm_state_destroy(s2);
}
END_TEST

/* ------------------------------------------------------------ robustness */

START_TEST(test_missing_fields_ok) {
    mm_event_t ev;
    mm_event_init(&ev);
    ev.type = (mm_event_type_t)_i;
    ev.user_id = str("bare"); /* required fields only: no ts, no query */
    mm_moment_t m;
    mm_explain_t ex;
    size_t n = 1;
    ck_assert_int_eq(mm_classify(rules, state, &ev, &m, &n, &ex), MM_ERR_OK);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_signals_never_exceed_max) {
    mm_moment_t m;
    for (int i = 0; i < 4; i++) {
        if (i == 3) { /* friction right before the last query */
            mm_event_t pv = event("busy", MM_EVENT_PAGE_VIEW, T0 + i * SEC + 500);
            pv.page_load_ms = 9000;
            pv.has_page_load_ms = true;
            classify(&pv, &m);
        }
        mm_event_t ev = query("busy", "how to make pizza buy cheap best near me open now what is",
                              T0 + (i + 1) * SEC);
        ev.in_store = 1;
        ev.channel = str("maps");
        ev.device = str("mobile");
        ev.tz_offset_min = 0;
        ev.has_tz_offset = true;
        if (classify(&ev, &m)) {
            ck_assert_uint_le(m.n_signals, MM_SIGNALS_MAX);
            ck_assert_str_eq(m.signals[0].name, "keyword");
        }
    }
    ck_assert_uint_eq(m.n_signals, MM_SIGNALS_MAX);
}
END_TEST

START_TEST(test_nan_position_ignored) {
    mm_event_t ev = event("u1", MM_EVENT_LOCATION, T0);
    ev.lat = NAN;
    ev.lon = 12.5;
    ev.has_geo = true;
    mm_moment_t m;
    for (int i = 0; i < 5; i++) {
        ev.ts = T0 + i * SEC;
        ck_assert_uint_eq(classify(&ev, &m), 0);
    }
}
END_TEST

static Suite *classify_suite(void) {
    Suite *s = suite_create("classify");
    TCase *tc = tcase_create("classify_text");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_query_keywords_decide_type, 0,
                        (int)(sizeof(keyword_rows) / sizeof(keyword_rows[0])));
    tcase_add_test(tc, test_no_intent_query_yields_no_moment);
    tcase_add_test(tc, test_bare_topic_is_the_weakest_know);
    tcase_add_test(tc, test_explain_filled_without_moment);
    tcase_add_test(tc, test_query_yields_at_most_one_moment);
    tcase_add_test(tc, test_full_array_reports_full);
    tcase_add_test(tc, test_moment_context_filled);
    suite_add_tcase(s, tc);

    tc = tcase_create("classify_behaviour");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_refinement_raises_urgency);
    tcase_add_test(tc, test_rapid_queries_signal_on_third);
    tcase_add_test(tc, test_location_burst_yields_go_without_query);
    tcase_add_test(tc, test_bare_query_during_burst_is_go);
    tcase_add_test(tc, test_in_store_product_query_is_buy);
    tcase_add_test(tc, test_in_store_stays_with_the_device_that_was_there);
    tcase_add_test(tc, test_position_in_a_place_is_in_store);
    tcase_add_loop_test(tc, test_strategy_speaks_the_event_language, 0,
                        (int)(sizeof(strategy_rows) / sizeof(strategy_rows[0])));
    tcase_add_loop_test(tc, test_cart_after_buy_query_is_buy, 0,
                        (int)(sizeof(cart_rows) / sizeof(cart_rows[0])));
    tcase_add_test(tc, test_support_query_after_purchase_is_post_purchase);
    tcase_add_test(tc, test_slow_page_signal_on_next_moment);
    tcase_add_test(tc, test_lunch_near_me_is_urgent_go);
    tcase_add_test(tc, test_returning_user_signal);
    suite_add_tcase(s, tc);

    tc = tcase_create("classify_time");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_late_event_outside_lateness_ignored_by_windows);
    tcase_add_test(tc, test_late_event_within_lateness_counts);
    tcase_add_loop_test(tc, test_same_input_same_output, 0, 2); /* 1: prefetch */
    suite_add_tcase(s, tc);

    tc = tcase_create("classify_robust");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_missing_fields_ok, 0, MM_EVENT__COUNT);
    tcase_add_test(tc, test_signals_never_exceed_max);
    tcase_add_test(tc, test_nan_position_ignored);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return mm_check_run(classify_suite());
}
