/*
 * Bench: per-event cost of the per-user state alone and of the whole
 * classifier, at several numbers of tracked users.
 *
 *   bench_state [LEXICON_DIR] [USERS...]
 *
 * For each user count U: fill the state with U users (every user touched
 * once), then time random events over those users: first mm__state_touch
 * alone, then mm_classify on a clickstream mix (60% query, 20% page_view,
 * 10% location, 5% click, 5% add_to_cart). Events are built before the
 * timed loop, from precomputed ids, so the loop measures the classifier.
 * Not wired into CMake yet; build by hand:
 *   cc -O2 -std=c11 -I. bench/bench_state.c build/libmm_classifier.a \
 *      -lxxhash -lm -o bench_state
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classifier/classifier_int.h"
#include "classifier/state_int.h"

#define ID_SLOT 12
#define BATCH 4096

static const char *texts[] = {
    "coffee near me",      "how to fix a bike",   "buy running shoes",
    "running shoes",       "what is a blender",   "pharmacy open now",
    "best headphones",     "italian restaurant",  "cheap headphones under 100",
    "how does wifi work",  "zxqv",                "pizza near me"};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: shared hosts */
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng(uint64_t *x) {
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

static mm_str_t id_at(const char *ids, uint32_t u) {
    const char *p = ids + (size_t)u * ID_SLOT;
    return (mm_str_t){p, strlen(p)};
}

static void make_event(mm_event_t *ev, const char *ids, uint32_t users,
                       uint64_t *x, int64_t ts) {
    mm_event_init(ev);
    uint64_t r = rng(x);
    ev->user_id = id_at(ids, (uint32_t)(rng(x) % users));
    ev->ts = ts;
    ev->has_ts = true;
    ev->device = MM_STR_LIT("mobile");
    ev->channel = MM_STR_LIT("search");
    ev->tz_offset_min = 60;
    ev->has_tz_offset = true;
    unsigned k = (unsigned)(r % 100);
    ev->type = k < 60   ? MM_EVENT_QUERY
               : k < 80 ? MM_EVENT_PAGE_VIEW
               : k < 90 ? MM_EVENT_LOCATION
               : k < 95 ? MM_EVENT_CLICK
                        : MM_EVENT_ADD_TO_CART;
    const char *q = texts[(r >> 8) % (sizeof(texts) / sizeof(texts[0]))];
    ev->query = (mm_str_t){q, strlen(q)};
    ev->lat = 55.67 + (double)((r >> 12) % 100) * 1e-4;
    ev->lon = 12.56;
    ev->has_geo = ev->type == MM_EVENT_LOCATION;
    ev->page_load_ms = (int64_t)((r >> 20) % 5000);
    ev->has_page_load_ms = ev->type == MM_EVENT_PAGE_VIEW;
}

static void run(const mm_rules_t *rules, uint32_t users, uint64_t n_events,
                bool prefetch) {
    char *ids = malloc((size_t)users * ID_SLOT);
    mm_event_t *evs = malloc(BATCH * sizeof(mm_event_t));
    for (uint32_t u = 0; u < users; u++)
        snprintf(ids + (size_t)u * ID_SLOT, ID_SLOT, "u%u", u);
    mm_state_conf_t sconf;
    mm_state_conf_defaults(&sconf);
    sconf.max_users = users;
    sconf.ttl_ms = 0; /* measure the table full, not its expiry */
    mm_state_t *st = mm_state_new(&sconf);
    int64_t ts = 1763900000000;
    mm__touch_t touch;
    for (uint32_t u = 0; u < users; u++)
        mm__state_touch(st, id_at(ids, u), ts, 60000, &touch);

    /* Alternate batches between the two measurements, so neither runs on
     * records the other has just brought into cache. */
    uint64_t x = 42, sink = 0, batches = 0;
    double touch_s = 0, classify_s = 0;
    for (uint64_t done = 0; done < 2 * n_events; done += BATCH, batches++) {
        for (int i = 0; i < BATCH; i++)
            make_event(&evs[i], ids, users, &x, ts += 3);
        double t0 = now_s();
        if (batches % 2 == 0) {
            for (int i = 0; i < BATCH; i++)
                sink += mm__state_touch(st, evs[i].user_id, evs[i].ts, 60000, &touch)
                            ->n_events;
            touch_s += now_s() - t0;
            continue;
        }
        for (int i = 0; i < BATCH; i++) {
            mm_moment_t m;
            size_t n = 1;
            if (prefetch && i + 8 < BATCH)
                mm_state_prefetch(st, evs[i + 8].user_id);
            mm_classify(rules, st, &evs[i], &m, &n, NULL);
            sink += n;
        }
        classify_s += now_s() - t0;
    }
    mm_state_stats_t stats;
    mm_state_stats(st, &stats);
    printf("users=%-9u touch %6.1f ns/ev   classify%s %6.1f ns/ev = %5.2f M ev/s   "
           "%zu B/user (sink %llu)\n",
           users, touch_s * 1e9 / (double)n_events, prefetch ? "+prefetch" : "         ",
           classify_s * 1e9 / (double)n_events,
           (double)n_events / classify_s / 1e6, stats.bytes_per_user,
           (unsigned long long)(sink & 1));
    mm_state_destroy(st);
    free(evs);
    free(ids);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "lexicons";
    mm_rules_conf_t conf;
    mm_rules_conf_defaults(&conf);
    char err[256];
    mm_rules_t *rules = mm_rules_load(dir, &conf, err, sizeof(err));
    if (!rules) {
        fprintf(stderr, "bench_state: %s\n", err);
        return 1;
    }
    uint32_t dflt[] = {10000, 1000000, 10000000};
    int n = argc > 2 ? argc - 2 : 3;
    for (int i = 0; i < n; i++) {
        uint32_t users = argc > 2 ? (uint32_t)strtoul(argv[i + 2], NULL, 10) : dflt[i];
        run(rules, users, 4u << 20, false);
        run(rules, users, 4u << 20, true);
    }
    mm_rules_destroy(rules);
    return 0;
}
