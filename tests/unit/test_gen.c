/*
 * The synthetic clickstream generator (app/gen.c): deterministic for a seed,
 * every event a valid contract record, and the shape the detectors need
 * (Zipf users, every type, five languages, refinement bursts, location
 * bursts, slow pages).
 */
#include <check.h>

#include "check_run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "app/gen.h"
#include "consumer/consumer.h"

#define N_EVENTS 20000
#define N_USERS 1000

/** Every event of one run, decoded; the JSON kept for views. */
typedef struct run_s {
    char *text; /* events back to back */
    size_t *off, *len;
    mm_event_t *ev;
    size_t n;
} run_t;

static run_t run;
static char scratch_buf[N_EVENTS * 64];

static mm_gen_t *new_gen(uint64_t seed) {
    mm_gen_conf_t conf;
    mm_gen_conf_defaults(&conf);
    conf.seed = seed;
    conf.users = N_USERS;
    mm_gen_t *gen = mm_gen_new(&conf);
    ck_assert_ptr_nonnull(gen);
    return gen;
}

/** Generate n events with @p seed and decode each (asserting it decodes). */
static void generate(uint64_t seed, size_t n) {
    mm_gen_t *gen = new_gen(seed);
    mm_scratch_t sc = {scratch_buf, sizeof(scratch_buf), 0};
    char err[256];
    run.text = malloc(n * MM_GEN_EVENT_MAX);
    run.off = calloc(n, sizeof(size_t));
    run.len = calloc(n, sizeof(size_t));
    run.ev = calloc(n, sizeof(mm_event_t));
    ck_assert(run.text && run.off && run.len && run.ev);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        mm_str_t key;
        size_t len = mm_gen_next(gen, run.text + at, MM_GEN_EVENT_MAX, &key);
        ck_assert_uint_gt(len, 0);
        mm_event_init(&run.ev[i]);
        mm_err_t rc = mm_decode_json(run.text + at, len, NULL, &sc, &run.ev[i],
                                     err, sizeof(err));
        ck_assert_msg(rc == MM_ERR_OK, "event %zu: %s: %s: %.*s", i,
                      mm_err_name(rc), err, (int)len, run.text + at);
        ck_assert_uint_eq(key.len, run.ev[i].user_id.len);
        ck_assert(memcmp(key.p, run.ev[i].user_id.p, key.len) == 0);
        ck_assert_int_eq(mm_gen_ts(gen), run.ev[i].ts);
        run.off[i] = at;
        run.len[i] = len;
        at += len;
    }
    run.n = n;
    mm_gen_destroy(gen);
}

static void setup(void) { generate(7, N_EVENTS); }

static void teardown(void) {
    free(run.text);
    free(run.off);
    free(run.len);
    free(run.ev);
    memset(&run, 0, sizeof(run));
}

static bool str_eq(mm_str_t s, const char *lit) {
    return s.p && s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static bool str_has(mm_str_t s, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; s.p && i + n <= s.len; i++)
        if (memcmp(s.p + i, needle, n) == 0)
            return true;
    return false;
}

static uint32_t user_index(mm_str_t id) {
    ck_assert(id.len >= 2 && id.p[0] == 'u');
    uint32_t v = 0;
    for (size_t i = 1; i < id.len; i++)
        v = v * 10 + (uint32_t)(id.p[i] - '0');
    ck_assert_uint_ge(v, 1);
    ck_assert_uint_le(v, N_USERS);
    return v - 1;
}

/* ---------------------------------------------------------- determinism */

static uint64_t digest(uint64_t seed, size_t n) {
    mm_gen_t *gen = new_gen(seed);
    char buf[MM_GEN_EVENT_MAX];
    uint64_t h = 1469598103934665603ull; /* FNV-1a over every byte */
    for (size_t i = 0; i < n; i++) {
        size_t len = mm_gen_next(gen, buf, sizeof(buf), NULL);
        for (size_t k = 0; k < len; k++)
            h = (h ^ (unsigned char)buf[k]) * 1099511628211ull;
        h = (h ^ '\n') * 1099511628211ull;
    }
    mm_gen_destroy(gen);
    return h;
}

START_TEST(test_same_seed_gives_same_bytes) {
    ck_assert_uint_eq(digest(42, 20000), digest(42, 20000));
}
END_TEST

START_TEST(test_different_seeds_differ) {
    ck_assert_uint_ne(digest(42, 200), digest(43, 200));
}
END_TEST

START_TEST(test_out_of_range_conf_is_refused) {
    mm_gen_conf_t conf;
    mm_gen_conf_defaults(&conf);
    conf.users = 0;
    ck_assert_ptr_null(mm_gen_new(&conf));
    mm_gen_conf_defaults(&conf);
    conf.rate = 0;
    ck_assert_ptr_null(mm_gen_new(&conf));
    mm_gen_conf_defaults(&conf);
    conf.zipf_s = NAN;
    ck_assert_ptr_null(mm_gen_new(&conf));
}
END_TEST

START_TEST(test_short_buffer_gives_zero_and_no_overrun) {
    mm_gen_t *gen = new_gen(1);
    char buf[64];
    memset(buf, 'G', sizeof(buf));
    ck_assert_uint_eq(mm_gen_next(gen, buf, 16, NULL), 0);
    for (size_t i = 16; i < sizeof(buf); i++)
        ck_assert(buf[i] == 'G');
    mm_gen_destroy(gen);
}
END_TEST

/* ----------------------------------------------------------------- shape */

START_TEST(test_every_event_decodes_and_ts_never_decreases) {
    mm_gen_conf_t conf;
    mm_gen_conf_defaults(&conf);
    ck_assert_int_eq(run.ev[0].ts, conf.start_ts);
    for (size_t i = 1; i < run.n; i++)
        ck_assert_int_ge(run.ev[i].ts, run.ev[i - 1].ts);
    /* About conf.rate events per second of event time. */
    double secs = (double)(run.ev[run.n - 1].ts - run.ev[0].ts) / 1000.0;
    double rate = (double)run.n / secs;
    ck_assert_msg(rate > conf.rate * 0.7 && rate < conf.rate * 1.3,
                  "rate %.1f", rate);
}
END_TEST

static int cmp_desc(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

START_TEST(test_user_activity_is_zipf_skewed) {
    static uint32_t count[N_USERS];
    memset(count, 0, sizeof(count));
    for (size_t i = 0; i < run.n; i++)
        count[user_index(run.ev[i].user_id)]++;
    uint32_t top = 0;
    for (int u = 0; u < N_USERS; u++)
        top = count[u] > top ? count[u] : top;
    ck_assert_uint_eq(top, count[0]); /* u1 is the heaviest */
    /* The median over the users who were active at all. */
    qsort(count, N_USERS, sizeof(count[0]), cmp_desc);
    uint32_t active = 0;
    while (active < N_USERS && count[active] > 0)
        active++;
    uint32_t median = count[active / 2];
    ck_assert_msg(top > 20 * median, "top %u, median %u", top, median);
    ck_assert_uint_gt(active, N_USERS / 2); /* a long tail, not 3 users */
}
END_TEST

START_TEST(test_every_event_type_is_present) {
    size_t seen[MM_EVENT__COUNT] = {0};
    for (size_t i = 0; i < run.n; i++)
        seen[run.ev[i].type]++;
    for (int t = 0; t < MM_EVENT__COUNT; t++)
        ck_assert_msg(seen[t] > 0, "no %s", mm_event_type_name(t));
}
END_TEST

START_TEST(test_five_languages_and_missing_hints) {
    static const char *const langs[] = {"en", "da", "et", "de", "es"};
    size_t seen[5] = {0}, queries = 0, no_hint = 0;
    for (size_t i = 0; i < run.n; i++) {
        if (run.ev[i].type != MM_EVENT_QUERY)
            continue;
        queries++;
        no_hint += run.ev[i].lang.p == NULL;
        for (int l = 0; l < 5; l++)
            seen[l] += str_eq(run.ev[i].lang, langs[l]);
    }
    for (int l = 0; l < 5; l++)
        ck_assert_msg(seen[l] > 0, "no %s", langs[l]);
    ck_assert(no_hint > queries / 10 && no_hint < queries / 2);
}
END_TEST

/* Phrases of every intent in several languages must occur. */
static const char *const phrases[] = {
    "how to ",  "how does ", "near me",   "buy ",        "nær mig",
    "hvordan laver man ",   "køb ",      "osta ",       "minu lähedal",
    "kaufen",   "in der nähe", "comprar ", "cerca de mí", "cómo ",
    "under 1000 kr",
};

START_TEST(test_intent_phrase_occurs) {
    for (size_t i = 0; i < run.n; i++)
        if (str_has(run.ev[i].query, phrases[_i]))
            return;
    ck_abort_msg("no query contains \"%s\"", phrases[_i]);
}
END_TEST

START_TEST(test_pages_are_mostly_fast_some_slow) {
    size_t pages = 0, slow = 0;
    for (size_t i = 0; i < run.n; i++) {
        if (run.ev[i].type != MM_EVENT_PAGE_VIEW)
            continue;
        ck_assert(run.ev[i].has_page_load_ms && run.ev[i].url.p);
        pages++;
        slow += run.ev[i].page_load_ms > 3000;
    }
    ck_assert(slow > pages / 20 && slow < pages / 4);
}
END_TEST

START_TEST(test_locations_are_near_a_city_centre) {
    static const double centres[][2] = {{55.6761, 12.5683}, {59.4370, 24.7536},
                                         {52.5200, 13.4050}, {40.4168, -3.7038},
                                         {51.5072, -0.1276}};
    size_t in_store = 0;
    for (size_t i = 0; i < run.n; i++) {
        const mm_event_t *ev = &run.ev[i];
        if (ev->type != MM_EVENT_LOCATION)
            continue;
        ck_assert(ev->has_geo);
        in_store += ev->in_store == 1;
        bool near = false;
        for (int c = 0; c < 5; c++)
            near |= fabs(ev->lat - centres[c][0]) < 0.5 &&
                    fabs(ev->lon - centres[c][1]) < 0.5;
        ck_assert_msg(near, "event %zu at %f,%f", i, ev->lat, ev->lon);
    }
    ck_assert_uint_gt(in_store, 0);
}
END_TEST

/** True when a and b share a word of 4+ bytes. */
static bool share_term(mm_str_t a, mm_str_t b) {
    for (size_t i = 0; i < a.len;) {
        size_t j = i;
        while (j < a.len && a.p[j] != ' ')
            j++;
        if (j - i >= 4) {
            char w[64];
            size_t n = j - i < 63 ? j - i : 63;
            memcpy(w, a.p + i, n);
            w[n] = '\0';
            if (str_has(b, w))
                return true;
        }
        i = j + 1;
    }
    return false;
}

START_TEST(test_refinement_bursts_share_terms) {
    /* A user's next query within 15 s that shares a term with the last. */
    size_t bursts = 0;
    for (size_t i = 0; i < run.n && bursts < 50; i++) {
        const mm_event_t *a = &run.ev[i];
        if (a->type != MM_EVENT_QUERY)
            continue;
        for (size_t j = i + 1; j < run.n && run.ev[j].ts - a->ts <= 15000;
             j++) {
            const mm_event_t *b = &run.ev[j];
            if (b->type == MM_EVENT_QUERY && b->user_id.len == a->user_id.len &&
                memcmp(b->user_id.p, a->user_id.p, a->user_id.len) == 0) {
                bursts += share_term(a->query, b->query);
                break;
            }
        }
    }
    ck_assert_uint_ge(bursts, 50);
}
END_TEST

START_TEST(test_location_bursts_exist) {
    /* Three pings by one user within ten minutes. */
    size_t bursts = 0;
    for (size_t i = 0; i < run.n; i++) {
        const mm_event_t *a = &run.ev[i];
        if (a->type != MM_EVENT_LOCATION)
            continue;
        int pings = 1;
        for (size_t j = i + 1; j < run.n && run.ev[j].ts - a->ts <= 600000; j++)
            pings += run.ev[j].type == MM_EVENT_LOCATION &&
                     run.ev[j].user_id.len == a->user_id.len &&
                     memcmp(run.ev[j].user_id.p, a->user_id.p,
                            a->user_id.len) == 0;
        bursts += pings >= 3;
    }
    ck_assert_uint_gt(bursts, 20);
}
END_TEST

START_TEST(test_purchase_follows_a_buy_query) {
    /* Every purchase's user queried within the previous 15 minutes. */
    size_t purchases = 0;
    for (size_t i = 0; i < run.n; i++) {
        const mm_event_t *p = &run.ev[i];
        if (p->type != MM_EVENT_PURCHASE)
            continue;
        purchases++;
        bool found = false;
        for (size_t j = i; j-- > 0 && p->ts - run.ev[j].ts <= 900000;)
            found |= run.ev[j].type == MM_EVENT_QUERY &&
                     run.ev[j].user_id.len == p->user_id.len &&
                     memcmp(run.ev[j].user_id.p, p->user_id.p,
                            p->user_id.len) == 0;
        ck_assert_msg(found, "purchase %zu without a query", i);
    }
    ck_assert_uint_gt(purchases, 0);
}
END_TEST

/* ------------------------------------------------------------------ main */

static Suite *gen_suite(void) {
    Suite *s = suite_create("gen");
    TCase *tc = tcase_create("gen_determinism");
    tcase_add_test(tc, test_same_seed_gives_same_bytes);
    tcase_add_test(tc, test_different_seeds_differ);
    tcase_add_test(tc, test_out_of_range_conf_is_refused);
    tcase_add_test(tc, test_short_buffer_gives_zero_and_no_overrun);
    suite_add_tcase(s, tc);

    tc = tcase_create("gen_shape");
    /* Generated once per TCase: the tests only read the run. */
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_every_event_decodes_and_ts_never_decreases);
    tcase_add_test(tc, test_user_activity_is_zipf_skewed);
    tcase_add_test(tc, test_every_event_type_is_present);
    tcase_add_test(tc, test_five_languages_and_missing_hints);
    tcase_add_loop_test(tc, test_intent_phrase_occurs, 0,
                        (int)(sizeof(phrases) / sizeof(phrases[0])));
    tcase_add_test(tc, test_pages_are_mostly_fast_some_slow);
    tcase_add_test(tc, test_locations_are_near_a_city_centre);
    tcase_add_test(tc, test_refinement_bursts_share_terms);
    tcase_add_test(tc, test_location_bursts_exist);
    tcase_add_test(tc, test_purchase_follows_a_buy_query);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return mm_check_run(gen_suite());
}
