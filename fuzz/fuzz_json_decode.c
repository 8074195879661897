/*
 * libFuzzer target: arbitrary bytes through the JSON event decoder.
 * Properties beyond "no crash, no sanitizer report":
 *   - a decoded event's views lie inside the record or the scratch;
 *   - user_id is non-empty and the type is a contract type.
 * The record is copied into a buffer of exactly its size so ASan catches a
 * read one byte past the end (the record is not NUL-terminated in Kafka).
 */
#include <stdlib.h>
#include <string.h>

#include "consumer/consumer.h"

static int inside(mm_str_t s, const char *lo, size_t n) {
    return !s.p || (s.p >= lo && s.p + s.len <= lo + n);
}

static int view_ok(mm_str_t s, const char *rec, size_t len,
                   const mm_scratch_t *sc) {
    return inside(s, rec, len) || inside(s, sc->buf, sc->used);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *rec = malloc(size ? size : 1);
    char *scratch = malloc(size ? size : 1);
    if (!rec || !scratch)
        abort();
    memcpy(rec, data, size);
    mm_decode_limits_t lim;
    mm_decode_limits_defaults(&lim);
    lim.max_field_bytes = 64; /* reach FIELD_TOO_LONG with small inputs */
    lim.max_depth = 8;
    mm_scratch_t sc = {scratch, size, 0};
    mm_event_t ev;
    char errstr[256];
    mm_err_t err = mm_decode_json(rec, size, &lim, &sc, &ev, errstr, sizeof(errstr));
    if (strlen(errstr) >= sizeof(errstr))
        abort();
    if (err == MM_ERR_OK) {
        const mm_str_t *views[] = {&ev.event_id, &ev.user_id, &ev.session_id,
                                   &ev.query,    &ev.device,  &ev.channel,
                                   &ev.lang,     &ev.url};
        for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
            if (!view_ok(*views[i], rec, size, &sc) || views[i]->len > lim.max_field_bytes)
                abort();
        if (!ev.user_id.p || ev.user_id.len == 0 || (unsigned)ev.type >= MM_EVENT__COUNT)
            abort();
        if (sc.used > sc.cap)
            abort();
    } else if ((unsigned)err >= MM_ERR__COUNT) {
        abort();
    }
    free(rec);
    free(scratch);
    return 0;
}
