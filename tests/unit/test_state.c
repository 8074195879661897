/* Per-user state: preallocated table, TTL on event time, cap by CLOCK. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/classifier_int.h"
#include "classifier/state_int.h"

#define LATENESS 60000

static mm_str_t id_of(char *buf, size_t size, unsigned n) {
    int len = snprintf(buf, size, "user-%u", n);
    return (mm_str_t){buf, (size_t)len};
}

static mm_state_t *state_with(uint32_t max_users, int64_t ttl_ms) {
    mm_state_conf_t conf;
    mm_state_conf_defaults(&conf);
    conf.max_users = max_users;
    conf.ttl_ms = ttl_ms;
    mm_state_t *st = mm_state_new(&conf);
    ck_assert_ptr_nonnull(st);
    return st;
}

static mm__user_t *touch(mm_state_t *st, const char *id, int64_t ts,
                         mm__touch_t *t) {
    mm__touch_t local;
    return mm__state_touch(st, (mm_str_t){id, strlen(id)}, ts, LATENESS,
                           t ? t : &local);
}

static bool tracked(const mm_state_t *st, const char *id) {
    return mm__state_find(st, (mm_str_t){id, strlen(id)}) != NULL;
}

START_TEST(test_first_event_creates_user) {
    mm_state_t *st = state_with(10, 0);
    mm__touch_t t;
    touch(st, "u1", 1000, &t);
    ck_assert(t.is_new);
    ck_assert(!t.late);
    mm_state_stats_t stats;
    mm_state_stats(st, &stats);
    ck_assert_uint_eq(stats.users, 1);
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_same_id_same_record) {
    mm_state_t *st = state_with(10, 0);
    mm__touch_t t;
    mm__user_t *a = touch(st, "u1", 1000, NULL);
    mm__user_t *b = touch(st, "u1", 2000, &t);
    ck_assert_ptr_eq(a, b);
    ck_assert(!t.is_new);
    ck_assert_uint_eq(b->n_events, 2);
    ck_assert_int_eq(b->last_ts, 2000);
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_state_cap_evicts_oldest) {
    mm_state_t *st = state_with(3, 0);
    touch(st, "a", 1, NULL);
    touch(st, "b", 2, NULL);
    touch(st, "c", 3, NULL);
    touch(st, "a", 4, NULL); /* a is now the newest; b the oldest */
    touch(st, "d", 5, NULL);
    ck_assert(!tracked(st, "b"));
    ck_assert(tracked(st, "a") && tracked(st, "c") && tracked(st, "d"));
    mm_state_stats_t stats;
    mm_state_stats(st, &stats);
    ck_assert_uint_eq(stats.users, 3);
    ck_assert_uint_eq(stats.evicted_cap, 1);
    mm_state_destroy(st);
}
END_TEST

/* Churn far past the cap: exactly the newest max_users must remain, which
 * exercises eviction and backward-shift deletion on every insert. */
static const uint32_t churn_caps[] = {1, 7, 1000, 4096};

START_TEST(test_cap_keeps_exactly_newest_users) {
    uint32_t cap = churn_caps[_i];
    mm_state_t *st = state_with(cap, 0);
    unsigned total = cap * 5 + 13;
    char buf[32];
    for (unsigned n = 0; n < total; n++) {
        mm__touch_t t;
        mm__state_touch(st, id_of(buf, sizeof(buf), n), n, LATENESS, &t);
        ck_assert(t.is_new);
    }
    for (unsigned n = 0; n < total; n++) {
        bool want = n >= total - cap;
        ck_assert_msg(want == (mm__state_find(st, id_of(buf, sizeof(buf), n)) != NULL),
                      "user %u: want tracked=%d", n, want);
    }
    mm_state_stats_t stats;
    mm_state_stats(st, &stats);
    ck_assert_uint_eq(stats.users, cap);
    ck_assert_uint_eq(stats.evicted_cap, total - cap);
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_recently_touched_user_survives_cap) {
    mm_state_t *st = state_with(4, 0);
    touch(st, "a", 1, NULL);
    touch(st, "b", 2, NULL);
    touch(st, "c", 3, NULL);
    touch(st, "d", 4, NULL);
    touch(st, "a", 5, NULL); /* a second chance for a */
    touch(st, "e", 6, NULL);
    ck_assert(tracked(st, "a"));
    ck_assert(!tracked(st, "b"));
    mm_state_destroy(st);
}
END_TEST

/* Random churn with TTL and cap both at work: the index must agree with
 * itself (every tracked user is found, the count matches) throughout. */
START_TEST(test_random_churn_keeps_index_consistent) {
    mm_state_t *st = state_with(250, 1000);
    char buf[32];
    uint64_t x = 7;
    int64_t ts = 0;
    for (int i = 0; i < 40000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(x >> 33);
        ts += r % 7;
        mm_str_t id = id_of(buf, sizeof(buf), r % 800);
        mm__touch_t t;
        mm__user_t *u = mm__state_touch(st, id, ts - (int64_t)(r % 50), LATENESS, &t);
        ck_assert_ptr_eq(mm__state_find(st, id), u);
        if (i % 4000 != 0)
            continue;
        uint64_t found = 0;
        for (unsigned n = 0; n < 800; n++)
            found += mm__state_find(st, id_of(buf, sizeof(buf), n)) != NULL;
        mm_state_stats_t stats;
        mm_state_stats(st, &stats);
        ck_assert_uint_eq(found, stats.users);
        ck_assert_uint_le(stats.users, 250);
    }
    mm_state_stats_t stats;
    mm_state_stats(st, &stats);
    ck_assert_uint_gt(stats.evicted_cap, 0);
    ck_assert_uint_gt(stats.expired_ttl, 0);
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_ttl_expires_idle_user) {
    mm_state_t *st = state_with(10, 1000);
    touch(st, "idle", 0, NULL);
    touch(st, "busy", 5000, NULL); /* the sweep sees idle past its TTL */
    ck_assert(!tracked(st, "idle"));
    ck_assert(tracked(st, "busy"));
    mm_state_stats_t stats;
    mm_state_stats(st, &stats);
    ck_assert_uint_eq(stats.users, 1);
    ck_assert_uint_eq(stats.expired_ttl, 1);
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_ttl_idle_user_returns_as_new) {
    mm_state_t *st = state_with(10, 1000);
    mm__touch_t t;
    touch(st, "u", 0, NULL);
    mm__user_t *u = touch(st, "u", 1500, &t);
    ck_assert(t.is_new);
    ck_assert_uint_eq(u->n_events, 1);
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_user_within_ttl_is_kept) {
    mm_state_t *st = state_with(10, 1000);
    mm__touch_t t;
    touch(st, "u", 0, NULL);
    touch(st, "other", 900, NULL);
    touch(st, "u", 1000, &t);
    ck_assert(!t.is_new);
    mm_state_destroy(st);
}
END_TEST

/* Lateness boundary: { offset before the newest event, late? } */
static const struct {
    int64_t back_ms;
    bool late;
} lateness_rows[] = {{0, false}, {LATENESS, false}, {LATENESS + 1, true},
                     {-5000, false}, {10 * LATENESS, true}};

START_TEST(test_late_event_flagged_by_lateness) {
    mm_state_t *st = state_with(10, 0);
    mm__touch_t t;
    touch(st, "u", 1000000, NULL);
    touch(st, "u", 1000000 - lateness_rows[_i].back_ms, &t);
    ck_assert_int_eq(t.late, lateness_rows[_i].late);
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_late_event_does_not_refresh_recency) {
    mm_state_t *st = state_with(2, 0);
    touch(st, "a", 100000, NULL);
    touch(st, "b", 200000, NULL);
    touch(st, "a", 50000, NULL); /* older than a's newest: a stays oldest */
    touch(st, "c", 200001, NULL);
    ck_assert(!tracked(st, "a"));
    ck_assert(tracked(st, "b"));
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_state_bytes_per_user_within_budget) {
    mm_state_t *st = state_with(1000000, 0);
    mm_state_stats_t stats;
    mm_state_stats(st, &stats);
    ck_assert_uint_le(stats.bytes_per_user, 200);
    ck_assert_uint_ge(stats.bytes_per_user, sizeof(mm__user_t));
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_clear_drops_every_user) {
    mm_state_t *st = state_with(10, 0);
    touch(st, "a", 1, NULL);
    touch(st, "b", 2, NULL);
    mm_state_clear(st);
    ck_assert(!tracked(st, "a") && !tracked(st, "b"));
    mm__touch_t t;
    touch(st, "a", 3, &t);
    ck_assert(t.is_new);
    mm_state_stats_t stats;
    mm_state_stats(st, &stats);
    ck_assert_uint_eq(stats.users, 1);
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_seed_changes_user_hash) {
    mm_state_conf_t conf;
    mm_state_conf_defaults(&conf);
    conf.max_users = 4;
    mm_state_t *a = mm_state_new(&conf);
    conf.seed ^= 1;
    mm_state_t *b = mm_state_new(&conf);
    uint64_t ha = touch(a, "u", 1, NULL)->uid_hash;
    uint64_t hb = touch(b, "u", 1, NULL)->uid_hash;
    ck_assert(ha != hb);
    mm_state_destroy(a);
    mm_state_destroy(b);
}
END_TEST

START_TEST(test_rebase_keeps_recent_times) {
    mm_state_t *st = state_with(4, 0); /* no TTL: one long visit */
    mm__user_t *u = touch(st, "u", 0, NULL);
    int64_t t1 = u->base_ts + ((int64_t)1 << 31) - 10;
    touch(st, "u", t1, NULL);
    u->q_t[0] = mm__t_pack(u, t1 - 5000);
    u->last_buy_t = mm__t_pack(u, 0); /* ~24 days old: becomes "never" */
    int64_t base = u->base_ts;
    touch(st, "u", t1 + 20, NULL); /* crosses the rebase point */
    ck_assert_int_gt(u->base_ts, base);
    ck_assert_int_eq(mm__t_age(u, u->q_t[0], t1 + 20), 5020);
    ck_assert_int_eq(mm__t_age(u, u->last_buy_t, t1 + 20), INT64_MAX);
    mm_state_destroy(st);
}
END_TEST

START_TEST(test_empty_user_id_is_a_user) {
    mm_state_t *st = state_with(4, 0);
    mm__touch_t t;
    mm__state_touch(st, (mm_str_t){NULL, 0}, 1, LATENESS, &t);
    ck_assert(t.is_new);
    mm__state_touch(st, (mm_str_t){NULL, 0}, 2, LATENESS, &t);
    ck_assert(!t.is_new);
    mm_state_destroy(st);
}
END_TEST

static Suite *state_suite(void) {
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("state_table");
    tcase_add_test(tc, test_first_event_creates_user);
    tcase_add_test(tc, test_same_id_same_record);
    tcase_add_test(tc, test_clear_drops_every_user);
    tcase_add_test(tc, test_seed_changes_user_hash);
    tcase_add_test(tc, test_state_bytes_per_user_within_budget);
    tcase_add_test(tc, test_empty_user_id_is_a_user);
    tcase_add_test(tc, test_rebase_keeps_recent_times);
    suite_add_tcase(s, tc);

    tc = tcase_create("state_cap");
    tcase_add_test(tc, test_state_cap_evicts_oldest);
    tcase_add_loop_test(tc, test_cap_keeps_exactly_newest_users, 0,
                        sizeof(churn_caps) / sizeof(churn_caps[0]));
    tcase_add_test(tc, test_late_event_does_not_refresh_recency);
    tcase_add_test(tc, test_recently_touched_user_survives_cap);
    tcase_add_test(tc, test_random_churn_keeps_index_consistent);
    suite_add_tcase(s, tc);

    tc = tcase_create("state_time");
    tcase_add_test(tc, test_ttl_expires_idle_user);
    tcase_add_test(tc, test_ttl_idle_user_returns_as_new);
    tcase_add_test(tc, test_user_within_ttl_is_kept);
    tcase_add_loop_test(tc, test_late_event_flagged_by_lateness, 0,
                        sizeof(lateness_rows) / sizeof(lateness_rows[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return mm_check_run(state_suite());
}
