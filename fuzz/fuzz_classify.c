/*
 * libFuzzer target: arbitrary text as a search query through the classifier
 * with the real lexicons, then through both moment encoders.
 * Input layout: byte 0 picks the event type and device, byte 1 the
 * language hint; the rest is the query. One user keeps state across inputs
 * (ts advances), so the rapid-query and burst detectors see sequences too.
 * Properties: no crash; every moment's scores and confidence are in [0, 1];
 * its JSON encoding is valid JSON; its Avro encoding succeeds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/consumer.h"
#include "sinks/sinks.h"

static mm_rules_t *g_rules;
static mm_state_t *g_state;
static int64_t g_ts = 1763900000000LL;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char errstr[512];
    mm_rules_conf_t rc;
    mm_rules_conf_defaults(&rc);
    g_rules = mm_rules_load(MM_SOURCE_DIR "/lexicons", &rc, errstr, sizeof(errstr));
    if (!g_rules) {
        fprintf(stderr, "fuzz_classify: %s\n", errstr);
        abort();
    }
    mm_state_conf_t sc;
    mm_state_conf_defaults(&sc);
    sc.max_users = 64;
    g_state = mm_state_new(&sc);
    if (!g_state)
        abort();
    return 0;
}

static const char *const langs[] = {NULL, "en", "da", "et", "de", "es", "xx", ""};
static const char *const devices[] = {"mobile", "desktop", NULL, "tablet"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    uint8_t ctl = data[0], lang = data[1];
    size_t qlen = size - 2;
    char *q = malloc(qlen ? qlen : 1); /* exact size: overreads are caught */
    if (!q)
        abort();
    memcpy(q, data + 2, qlen);

    mm_event_t ev;
    mm_event_init(&ev);
    ev.type = (ctl & 7) < 5 ? MM_EVENT_QUERY : (mm_event_type_t)(ctl % MM_EVENT__COUNT);
    ev.user_id = (mm_str_t){"u-fuzz", 6};
    ev.event_id = (mm_str_t){"e", 1};
    ev.query = (mm_str_t){q, qlen};
    const char *l = langs[lang & 7];
    ev.lang = (mm_str_t){l, l ? strlen(l) : 0};
    const char *d = devices[(ctl >> 3) & 3];
    ev.device = (mm_str_t){d, d ? strlen(d) : 0};
    g_ts += (ctl >> 5) * 7000;
    ev.ts = g_ts;
    ev.has_ts = true;
    if (ctl & 0x80) {
        ev.lat = 55.676 + (lang & 15) * 1e-4;
        ev.lon = 12.568;
        ev.has_geo = true;
    }
    ev.source = (mm_source_t){{"events", 6}, 0, (int64_t)size};

    mm_moment_t moments[4];
    size_t n = 4;
    mm_explain_t explain;
    mm_classify(g_rules, g_state, &ev, moments, &n, &explain);
    if (n > 4)
        abort();
    static char buf[1 << 16];
    for (size_t i = 0; i < n; i++) {
        const mm_moment_t *m = &moments[i];
        if (!(m->confidence >= 0 && m->confidence <= 1))
            abort();
        for (int t = 0; t < MM_MOMENT__COUNT; t++)
            if (!(m->scores[t] >= 0 && m->scores[t] <= 1))
                abort();
        size_t len = mm_moment_to_json(m, g_ts + 1, buf, sizeof(buf));
        if (len == 0 || !mm_json_valid(buf, len, 16))
            abort();
        len = mm_moment_to_avro(m, g_ts + 1, 42, buf, sizeof(buf));
        if (len <= MM_AVRO_HEADER_LEN)
            abort();
    }
    free(q);
    return 0;
}
