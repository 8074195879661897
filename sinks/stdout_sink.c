/* Stdout sink: JSON lines for `classify`; acknowledged as soon as written. */
#include <stdlib.h>

#include "sinks.h"

typedef struct stdout_sink_s {
    FILE *moments;
    FILE *dead;
    mm_sink_ack_cb *ack;
    void *ack_ctx;
    char line[65536];
} stdout_sink_t;

static void acknowledge(stdout_sink_t *ss, void *opaque, bool ok, const char *what) {
    mm_sink_ack_t ack = {
        .err = ok ? MM_ERR_OK : MM_ERR_IO,
        .fault = ok ? MM_SINK_FAULT_NONE : MM_SINK_FAULT_OTHER,
        .reason = ok ? NULL : "write failed",
        .topic = what,
    };
    ss->ack(opaque, &ack, ss->ack_ctx);
}

static mm_err_t write_record(void *ctx, int topic, int32_t partition, mm_str_t key,
                             const char *payload, size_t len, void *opaque) {
    (void)key;
    (void)partition;
    stdout_sink_t *ss = ctx;
    if (topic >= MM_SINK_STDOUT_TOPICS || !payload) { /* not a moment */
        acknowledge(ss, opaque, true, "none");
        return MM_ERR_OK;
    }
    bool ok = fwrite(payload, 1, len, ss->moments) == len &&
              fputc('\n', ss->moments) != EOF;
    acknowledge(ss, opaque, ok, "stdout");
    return ok ? MM_ERR_OK : MM_ERR_IO;
}

static mm_err_t write_dead(void *ctx, const mm_dead_letter_t *dl, void *opaque) {
    stdout_sink_t *ss = ctx;
    mm_jw_t jw;
    mm_jw_init(&jw, ss->line, sizeof(ss->line));
    mm_jw_object_open(&jw);
    mm_jw_key(&jw, "error");
    mm_jw_cstr(&jw, mm_err_name(dl->err));
    mm_jw_key(&jw, "reason");
    mm_jw_cstr(&jw, dl->reason ? dl->reason : mm_err_str(dl->err));
    mm_jw_key(&jw, "offset");
    mm_jw_int(&jw, dl->source.offset);
    mm_jw_key(&jw, "value");
    mm_jw_str(&jw, dl->value); /* invalid UTF-8 becomes U+FFFD */
    mm_jw_object_close(&jw);
    bool ok = mm_jw_ok(&jw) && fwrite(ss->line, 1, jw.len, ss->dead) == jw.len &&
              fputc('\n', ss->dead) != EOF;
    acknowledge(ss, opaque, ok, "stderr");
    return ok ? MM_ERR_OK : MM_ERR_IO;
}

static void sink_poll(void *ctx, int timeout_ms) {
    (void)ctx;
    (void)timeout_ms;
}

static size_t outstanding(void *ctx) {
    (void)ctx;
    return 0;
}

static bool sink_fatal(void *ctx, char *errstr, size_t errstr_size) {
    (void)ctx;
    (void)errstr;
    (void)errstr_size;
    return false;
}

static void stdout_sink_destroy(void *ctx) {
    stdout_sink_t *ss = ctx;
    if (ss) {
        fflush(ss->moments);
        fflush(ss->dead);
    }
    free(ss);
}

static const mm_sink_ops_t mm_sink_stdout_ops = {
    .name = "stdout",
    .write = write_record,
    .write_dead = write_dead,
    .poll = sink_poll,
    .outstanding = outstanding,
    .fatal = sink_fatal,
    .destroy = stdout_sink_destroy,
};

mm_sink_t *mm_sink_stdout_new(FILE *moments, FILE *dead, mm_sink_ack_cb *ack,
                              void *ack_ctx) {
    mm_sink_t *sink = calloc(1, sizeof(*sink));
    stdout_sink_t *ss = calloc(1, sizeof(*ss));
    if (!sink || !ss) {
        free(sink);
        free(ss);
        return NULL;
    }
    ss->moments = moments;
    ss->dead = dead;
    ss->ack = ack;
    ss->ack_ctx = ack_ctx;
    sink->ops = &mm_sink_stdout_ops;
    sink->ctx = ss;
    return sink;
}
