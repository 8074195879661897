/* Profiles, attribution, and a user's state written out and read back
 * (the state changelog's bytes). */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <string.h>

#include "classifier/classifier.h"

#define T0 1763900000000LL
#define SEC 1000LL
#define MIN (60 * SEC)

static mm_rules_t *rules;

static void setup(void) {
    mm_rules_conf_t conf;
    mm_rules_conf_defaults(&conf);
    char err[512];
    rules = mm_rules_load(MM_SOURCE_DIR "/lexicons", &conf, err, sizeof(err));
    ck_assert_msg(rules != NULL, "%s", err);
}

static void teardown(void) { mm_rules_destroy(rules); }

static mm_state_t *table(bool profiles) {
    mm_state_conf_t conf;
    mm_state_conf_defaults(&conf);
    conf.max_users = 64;
    conf.profiles = profiles;
    conf.profile_window_ms = 60 * MIN;
    mm_state_t *st = mm_state_new(&conf);
    ck_assert_ptr_nonnull(st);
    return st;
}

static mm_str_t S(const char *s) { return (mm_str_t){s, strlen(s)}; }

static mm_event_t event(const char *user, mm_event_type_t type, const char *query, int64_t ts,
                        int64_t offset) {
    mm_event_t ev;
    mm_event_init(&ev);
    ev.user_id = S(user);
    ev.type = type;
    if (query)
        ev.query = S(query);
    ev.lang = S("en");
    ev.ts = ts;
    ev.has_ts = true;
    ev.source = (mm_source_t){S("events"), 0, offset};
    return ev;
}

/* Classify and remember, as the engine does; @returns the moments' count. */
static size_t feed(mm_state_t *st, mm_event_t *ev, mm_moment_t *m, bool conversion) {
    size_t n = 4;
    ck_assert_int_eq(mm_classify(rules, st, ev, m, &n, NULL), MM_ERR_OK);
    mm_profile_record(st, ev, m, n, conversion);
    return n;
}

START_TEST(test_profile_keeps_latest_moment_of_each_type) {
    mm_state_t *st = table(true);
    mm_moment_t m[4];
    mm_event_t a = event("u1", MM_EVENT_QUERY, "how does a heat pump work", T0, 10);
    mm_event_t b = event("u1", MM_EVENT_QUERY, "buy running shoes", T0 + MIN, 11);
    mm_event_t c = event("u1", MM_EVENT_QUERY, "buy cheap running shoes", T0 + 2 * MIN, 12);
    ck_assert_uint_eq(feed(st, &a, m, false), 1);
    ck_assert_uint_eq(feed(st, &b, m, false), 1);
    ck_assert_uint_eq(feed(st, &c, m, false), 1);
    mm_profile_t p;
    ck_assert(mm_profile_get(st, S("u1"), &p));
    ck_assert(p.last[MM_MOMENT_KNOW].present);
    ck_assert_int_eq(p.last[MM_MOMENT_KNOW].offset, 10);
    ck_assert(p.last[MM_MOMENT_BUY].present);
    ck_assert_int_eq(p.last[MM_MOMENT_BUY].offset, 12); /* the latest, not the first */
    ck_assert_int_eq(p.last[MM_MOMENT_BUY].ts, T0 + 2 * MIN);
    ck_assert(!p.last[MM_MOMENT_GO].present);
    ck_assert_uint_eq(p.counts[MM_MOMENT_BUY], 2);
    ck_assert_uint_eq(p.counts[MM_MOMENT_KNOW], 1);
    ck_assert_int_eq(p.counts_since, T0);
    ck_assert_uint_eq(p.n_events, 3);
    ck_assert(!mm_profile_get(st, S("nobody"), &p));
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_profile_counts_restart_after_their_window) {
    mm_state_t *st = table(true);
    mm_moment_t m[4];
    mm_event_t a = event("u1", MM_EVENT_QUERY, "buy running shoes", T0, 1);
    mm_event_t b = event("u1", MM_EVENT_QUERY, "buy running shoes", T0 + 61 * MIN, 2);
    feed(st, &a, m, false);
    feed(st, &b, m, false);
    mm_profile_t p;
    ck_assert(mm_profile_get(st, S("u1"), &p));
    ck_assert_uint_eq(p.counts[MM_MOMENT_BUY], 1);
    ck_assert_int_eq(p.counts_since, T0 + 61 * MIN);
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_profile_off_keeps_nothing) {
    mm_state_t *st = table(false);
    mm_moment_t m[4];
    mm_event_t a = event("u1", MM_EVENT_QUERY, "buy running shoes", T0, 1);
    feed(st, &a, m, false);
    mm_profile_t p;
    ck_assert(!mm_profile_get(st, S("u1"), &p));
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_conversion_is_attributed_to_latest_of_each_type_newest_first) {
    mm_state_t *st = table(true);
    mm_moment_t m[4];
    mm_event_t k = event("u1", MM_EVENT_QUERY, "how does a heat pump work", T0, 1);
    mm_event_t b1 = event("u1", MM_EVENT_QUERY, "buy running shoes", T0 + MIN, 2);
    mm_event_t b2 = event("u1", MM_EVENT_QUERY, "buy cheap running shoes", T0 + 3 * MIN, 3);
    feed(st, &k, m, false);
    feed(st, &b1, m, false);
    feed(st, &b2, m, false);
    mm_event_t buy = event("u1", MM_EVENT_PURCHASE, NULL, T0 + 5 * MIN, 4);
    buy.value = 89.5;
    buy.has_value = true;
    buy.currency = S("EUR");
    mm_attribution_t a[4];
    size_t n = mm_profile_attribute(st, &buy, 30 * MIN, a, 4);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(a[0].type, MM_MOMENT_BUY);
    ck_assert_int_eq(a[0].offset, 3);
    ck_assert_int_eq(a[0].age_ms, 2 * MIN);
    ck_assert_int_eq(a[1].type, MM_MOMENT_KNOW);
    ck_assert_int_eq(a[1].age_ms, 5 * MIN);
    ck_assert_uint_eq(mm_profile_attribute(st, &buy, 30 * MIN, a, 1), 1);
    ck_assert_int_eq(a[0].type, MM_MOMENT_BUY); /* the bound keeps the newest */
    ck_assert_uint_eq(mm_profile_attribute(st, &buy, 4 * MIN, a, 4), 1); /* window */
    feed(st, &buy, m, true);
    mm_profile_t p;
    ck_assert(mm_profile_get(st, S("u1"), &p));
    ck_assert(p.has_conversion);
    ck_assert_int_eq(p.conversion_type, MM_EVENT_PURCHASE);
    ck_assert(p.has_value && p.conversion_value == 89.5);
    ck_assert_str_eq(p.currency, "EUR");
    mm_state_destroy(st);
}
END_TEST

/* What a restore must give: the next event classified the same in the
 * table the user came back to as in the one it never left. */
START_TEST(test_exported_user_classifies_next_event_identically) {
    mm_state_t *live = table(true), *restored = table(true);
    mm_moment_t m[4], m2[4];
    const char *texts[] = {"running shoes", "running shoes wide feet",
                           "running shoes wide feet women", "buy running shoes wide feet"};
    for (int i = 0; i < 3; i++) {
        mm_event_t ev = event("runner", MM_EVENT_QUERY, texts[i], T0 + i * 10 * SEC, i);
        feed(live, &ev, m, false);
    }
    ck_assert(mm_state_mark_dirty(live, S("runner")));
    char buf[MM_STATE_EXPORT_MAX];
    size_t len = mm_state_export(live, S("runner"), buf, sizeof(buf));
    ck_assert_uint_gt(len, 0);
    ck_assert(mm_state_import(restored, S("runner"), buf, len));
    ck_assert_int_eq(mm_state_watermark(restored), T0 + 20 * SEC);
    mm_event_t next = event("runner", MM_EVENT_QUERY, texts[3], T0 + 30 * SEC, 3);
    size_t n = feed(live, &next, m, false), n2 = feed(restored, &next, m2, false);
    ck_assert_uint_eq(n, n2);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(m[0].type, m2[0].type);
    ck_assert(m[0].confidence == m2[0].confidence);
    ck_assert_uint_eq(m[0].n_signals, m2[0].n_signals);
    for (uint32_t i = 0; i < m[0].n_signals; i++)
        ck_assert_str_eq(m[0].signals[i].name, m2[0].signals[i].name);
    /* A fresh table (no history) does not: the rapid-query context is gone. */
    mm_state_t *fresh = table(true);
    mm_moment_t m3[4];
    feed(fresh, &next, m3, false);
    ck_assert(m3[0].n_signals != m[0].n_signals || m3[0].confidence != m[0].confidence);
    mm_profile_t p, p2;
    ck_assert(mm_profile_get(live, S("runner"), &p));
    ck_assert(mm_profile_get(restored, S("runner"), &p2));
    ck_assert_int_eq(p.last[MM_MOMENT_BUY].offset, p2.last[MM_MOMENT_BUY].offset);
    ck_assert_uint_eq(p.n_events, p2.n_events);
    mm_state_destroy(live);
    mm_state_destroy(restored);
    mm_state_destroy(fresh);
}
END_TEST

START_TEST(test_import_refuses_other_versions_and_sizes) {
    mm_state_t *st = table(false);
    mm_moment_t m[4];
    mm_event_t ev = event("u1", MM_EVENT_QUERY, "coffee near me", T0, 1);
    feed(st, &ev, m, false);
    char buf[MM_STATE_EXPORT_MAX];
    size_t len = mm_state_export(st, S("u1"), buf, sizeof(buf));
    ck_assert_uint_gt(len, 0);
    ck_assert(!mm_state_import(st, S("u2"), buf, len - 1));
    buf[0]++;
    ck_assert(!mm_state_import(st, S("u2"), buf, len));
    buf[0]--;
    ck_assert(mm_state_import(st, S("u2"), buf, len));
    ck_assert_uint_eq(mm_state_export(st, S("nobody"), buf, sizeof(buf)), 0);
    ck_assert_uint_eq(mm_state_export(st, S("u1"), buf, 8), 0); /* too small */
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_dirty_mark_once_per_round_and_forget) {
    mm_state_t *st = table(false);
    mm_moment_t m[4];
    mm_event_t ev = event("u1", MM_EVENT_QUERY, "coffee near me", T0, 1);
    feed(st, &ev, m, false);
    ck_assert(mm_state_mark_dirty(st, S("u1")));
    ck_assert(!mm_state_mark_dirty(st, S("u1")));
    ck_assert(!mm_state_mark_dirty(st, S("nobody")));
    mm_state_clear_dirty(st, S("u1"));
    ck_assert(mm_state_mark_dirty(st, S("u1")));
    mm_state_forget(st, S("u1"));
    char buf[MM_STATE_EXPORT_MAX];
    ck_assert_uint_eq(mm_state_export(st, S("u1"), buf, sizeof(buf)), 0);
    mm_state_stats_t stats;
    mm_state_stats(st, &stats);
    ck_assert_uint_eq(stats.users, 0);
    mm_state_destroy(st);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("profile");
    TCase *tc = tcase_create("profile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_profile_keeps_latest_moment_of_each_type);
    tcase_add_test(tc, test_profile_counts_restart_after_their_window);
    tcase_add_test(tc, test_profile_off_keeps_nothing);
    tcase_add_test(tc, test_conversion_is_attributed_to_latest_of_each_type_newest_first);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("state_export");
    tcase_add_checked_fixture(tp, setup, teardown);
    tcase_add_test(tp, test_exported_user_classifies_next_event_identically);
    tcase_add_test(tp, test_import_refuses_other_versions_and_sizes);
    tcase_add_test(tp, test_dirty_mark_once_per_round_and_forget);
    suite_add_tcase(s, tp);
    return s;
}

int main(void) { return mm_check_run(suite()); }
