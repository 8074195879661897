/*
 * libFuzzer target: arbitrary bytes through the Avro event decoder, with
 * writer schemas 1 (schemas/event.avsc) and 2 (fuzz/schemas/event_v2.avsc:
 * arrays, maps, nested and recursive records, enums, fixed, unions) from
 * files. Seeds: fuzz/gen_corpus.py. Properties beyond "no crash, no
 * sanitizer report": the record is read in place (every view inside it),
 * user_id is non-empty and the type is a contract type, and once the two
 * schemas are compiled a decode never allocates (checked by the decoder's
 * own counters: no cache miss after the first inputs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/consumer.h"

static mm_avro_decoder_t *g_dec;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[512];
    mm_avro_conf_t conf;
    mm_avro_conf_defaults(&conf);
    conf.schema_files = "1=" MM_SOURCE_DIR "/schemas/event.avsc,"
                        "2=" MM_SOURCE_DIR "/fuzz/schemas/event_v2.avsc";
    g_dec = mm_avro_decoder_new(&conf, err, sizeof(err));
    if (!g_dec) {
        fprintf(stderr, "fuzz_avro_decode: %s\n", err);
        abort();
    }
    return 0;
}

static int inside(mm_str_t s, const char *lo, size_t n) {
    return !s.p || (s.p >= lo && s.p + s.len <= lo + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *rec = malloc(size ? size : 1); /* exact size: overreads are caught */
    if (!rec)
        abort();
    memcpy(rec, data, size);
    mm_decode_limits_t lim;
    mm_decode_limits_defaults(&lim);
    lim.max_field_bytes = 64;
    lim.max_depth = 8;
    mm_event_t ev;
    mm_event_init(&ev);
    char errstr[256];
    mm_err_t err = mm_decode_avro(g_dec, rec, size, &lim, &ev, errstr, sizeof(errstr));
    if (memchr(errstr, '\0', sizeof(errstr)) == NULL)
        abort();
    if (err == MM_ERR_OK) {
        const mm_str_t *views[] = {&ev.event_id, &ev.user_id, &ev.session_id, &ev.query,
                                   &ev.device,   &ev.channel, &ev.lang,       &ev.url};
        for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
            if (!inside(*views[i], rec, size) || views[i]->len > lim.max_field_bytes ||
                (views[i]->p && !mm_utf8_valid(views[i]->p, views[i]->len)))
                abort();
        if (!ev.user_id.p || ev.user_id.len == 0 || (unsigned)ev.type >= MM_EVENT__COUNT)
            abort();
        if (ev.has_geo && !(ev.lat >= -90 && ev.lat <= 90 && ev.lon >= -180 && ev.lon <= 180))
            abort();
        if (ev.has_ts && (ev.ts < lim.ts_min_ms || ev.ts > lim.ts_max_ms))
            abort();
    } else if ((unsigned)err >= MM_ERR__COUNT || err == MM_ERR_IO) {
        abort(); /* no registry here: never a runtime error */
    }
    mm_avro_stats_t st;
    mm_avro_decoder_stats(g_dec, &st);
    if (st.cached != 2 || st.registry_requests != 0)
        abort();
    free(rec);
    return 0;
}
