/*
 * The record path without Kafka, for `classify`: one task ("stdin", 0),
 * a synchronous stdout sink, offsets counted by the caller's lines.
 *
 * The schema registry answers in the background (the record path never
 * waits for it); offline there is nothing else to do meanwhile, so a record
 * whose schema is being fetched waits here, up to the request's own bound.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <time.h>

struct mm_offline_s {
    mm_engine_conf_t conf;
    mm__proc_t *proc;
    mm__task_t *task;
    int64_t offset;
};

mm_offline_t *mm_offline_new(const mm_engine_conf_t *conf, const mm_rules_t *rules,
                             FILE *moments, FILE *dead, char *errstr, size_t errstr_size) {
    mm_offline_t *off = calloc(1, sizeof(*off));
    if (!off) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    off->conf = *conf;
    off->proc = mm__proc_new(&off->conf, rules, errstr, errstr_size);
    if (!off->proc)
        goto fail;
    mm_sink_t *sink = mm_sink_stdout_new(moments, dead, mm__proc_ack, off->proc);
    if (!sink) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    mm__proc_set_sink(off->proc, sink);
    /* Late events flagged as `run` flags them, one stream for one partition. */
    mm__outputs_t outputs = {.flag_late = true, .lateness_ms = conf->lateness_ms};
    mm__proc_set_outputs(off->proc, &outputs);
    off->task = mm__task_open(off->proc, "stdin", 0);
    if (!off->task) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    return off;
fail:
    mm_offline_destroy(off);
    return NULL;
}

void mm_offline_set_explain(mm_offline_t *off, mm_offline_explain_fn *fn, void *ctx) {
    mm__proc_set_explain(off->proc, fn, ctx);
}

mm_err_t mm_offline_process(mm_offline_t *off, mm_str_t value) {
    int64_t deadline = mm_now_ms() + off->conf.registry_timeout_ms + 1000;
    for (;;) {
        mm_err_t err = mm__proc_record(off->proc, off->task, (mm_str_t){0}, value,
                                       off->offset, -1);
        if (err != MM_ERR_IO || mm_now_ms() > deadline || !mm__proc_registry_busy(off->proc)) {
            if (err != MM_ERR_IO)
                off->offset++;
            return err;
        }
        mm__proc_wait_registry(off->proc, 100);
    }
}

void mm_offline_skip(mm_offline_t *off) { off->offset++; }

const char *mm_offline_reason(const mm_offline_t *off) { return mm__proc_reason(off->proc); }

void mm_offline_destroy(mm_offline_t *off) {
    if (!off)
        return;
    mm__proc_destroy(off->proc);
    free(off);
}
