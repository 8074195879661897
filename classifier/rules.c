/*
 * Rules: the behavioural thresholds plus the lexicons, the strategy table
 * and the places, built once, then immutable and shared by every thread
 * (swapped whole on reload: a moment never mixes two generations).
 */
#include <stdio.h>
#include <stdlib.h>

#include "classifier_int.h"
#include "state_int.h"

#define MM__MINUTE_MS ((int64_t)60 * 1000)
#define MM__DAY_MS ((int64_t)24 * 60 * MM__MINUTE_MS)

void mm_rules_conf_defaults(mm_rules_conf_t *conf) {
    /* Rapid repeated queries: three queries inside two minutes is a person
     * refining one need on the spot, not a browsing session. */
    conf->rapid_window_ms = 2 * MM__MINUTE_MS;
    conf->rapid_min_queries = 3;
    /* Location burst: three pings or place-seeking queries within 500 m
     * (a few minutes' walk) inside ten minutes is someone looking for a
     * place around them right now. */
    conf->burst_window_ms = 10 * MM__MINUTE_MS;
    conf->burst_min_pings = 3;
    conf->burst_radius_m = 500.0;
    /* Friction: over 3 s a page loses half of mobile visitors (seed
     * texts); leaving within 10 s is a bounce. */
    conf->slow_page_ms = 3000;
    conf->bounce_ms = 10 * 1000;
    /* A cart add or purchase within 30 minutes of a buy moment is
     * attributed to it (the buy moment's horizon is "minutes"). */
    conf->cart_after_buy_ms = 30 * MM__MINUTE_MS;
    /* Mobile clients batch and retry; a minute of disorder is normal. */
    conf->allowed_lateness_ms = MM__MINUTE_MS;
    /* Below a quarter the text is noise ("hello", a typo), not intent. */
    conf->min_confidence = 0.25;
    /* A query with no cue word ("alan alda", "plate tectonics") is someone
     * wanting to know about it: in web-search logs about a third of all
     * queries. Just over the bar, so it is a moment, and the weakest one:
     * downstream can drop it by confidence. */
    conf->topic_confidence = 0.3;
    /* Friction rides on the user's next moment if it comes within ten
     * minutes; later it says nothing about that moment. */
    conf->friction_carry_ms = 10 * MM__MINUTE_MS;
    conf->places_file[0] = '\0';  /* no stores */
    conf->strategy_dir[0] = '\0'; /* the lexicon folder's strategy/ */
}

/* Each bound is why the detectors can keep fixed-size rings and 32-bit
 * packed times (state_int.h). */
static bool conf_check(const mm_rules_conf_t *c, char *errstr, size_t errstr_size) {
    const struct {
        const char *name;
        int64_t value;
    } windows[] = {{"rapid_window_ms", c->rapid_window_ms},
                   {"burst_window_ms", c->burst_window_ms},
                   {"slow_page_ms", c->slow_page_ms},
                   {"bounce_ms", c->bounce_ms},
                   {"cart_after_buy_ms", c->cart_after_buy_ms},
                   {"allowed_lateness_ms", c->allowed_lateness_ms},
                   {"friction_carry_ms", c->friction_carry_ms}};
    for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
        if (windows[i].value < 0 || windows[i].value > MM__DAY_MS) {
            snprintf(errstr, errstr_size, "%s: %lld is outside [0, %lld]",
                     windows[i].name, (long long)windows[i].value,
                     (long long)MM__DAY_MS);
            return false;
        }
    }
    if (c->rapid_min_queries < 1 || c->rapid_min_queries > MM__QRING) {
        snprintf(errstr, errstr_size, "rapid_min_queries: must be 1..%d", MM__QRING);
        return false;
    }
    if (c->burst_min_pings < 1 || c->burst_min_pings > MM__LRING) {
        snprintf(errstr, errstr_size, "burst_min_pings: must be 1..%d", MM__LRING);
        return false;
    }
    if (!(c->burst_radius_m > 0 && c->burst_radius_m <= 50000)) {
        snprintf(errstr, errstr_size, "burst_radius_m: must be in (0, 50000]");
        return false;
    }
    if (!(c->min_confidence >= 0 && c->min_confidence <= 1)) {
        snprintf(errstr, errstr_size, "min_confidence: must be in [0, 1]");
        return false;
    }
    if (!(c->topic_confidence >= 0 && c->topic_confidence <= 1)) {
        snprintf(errstr, errstr_size, "topic_confidence: must be in [0, 1]");
        return false;
    }
    return true;
}

mm_rules_t *mm_rules_load(const char *lexicon_dir, const mm_rules_conf_t *conf,
                          char *errstr, size_t errstr_size) {
    mm_rules_t *rules = calloc(1, sizeof(*rules));
    if (!rules) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (!conf_check(conf, errstr, errstr_size))
        goto fail;
    rules->conf = *conf;
    rules->lexicon = mm__lexicon_load_dir(lexicon_dir, errstr, errstr_size);
    if (!rules->lexicon)
        goto fail;
    char dir[sizeof(conf->strategy_dir) + 16];
    if (conf->strategy_dir[0])
        snprintf(dir, sizeof(dir), "%s", conf->strategy_dir);
    else
        snprintf(dir, sizeof(dir), "%s/strategy", lexicon_dir);
    rules->strategy = mm__strategy_load(dir, errstr, errstr_size);
    if (!rules->strategy)
        goto fail;
    if (conf->places_file[0]) {
        rules->places = mm__places_load(conf->places_file, errstr, errstr_size);
        if (!rules->places)
            goto fail;
    }
    return rules;
fail:
    mm_rules_destroy(rules);
    return NULL;
}

void mm_rules_destroy(mm_rules_t *rules) {
    if (!rules)
        return;
    if (rules->lexicon)
        mm__lexicon_destroy(rules->lexicon);
    mm__strategy_destroy(rules->strategy);
    mm__places_destroy(rules->places);
    free(rules);
}

const mm_strategy_t *mm_rules_strategy(const mm_rules_t *rules, mm_moment_type_t type,
                                       mm_str_t lang) {
    return mm__strategy_get(rules->strategy, type, lang);
}

size_t mm_rules_places(const mm_rules_t *rules, const mm_place_t **places) {
    return mm__places_list(rules->places, places);
}
