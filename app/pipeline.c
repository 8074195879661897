#include "pipeline.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "histogram.h"

#define MM_MOMENTS_PER_EVENT 4

struct mm_pipeline_s {
    const mm_config_t *cfg;
    const mm_rules_t *rules;
    mm_sink_t *sink;
    mm_pipeline_moment_hook *hook;
    void *hook_ctx;
    mm_pipeline_explain_hook *explain_hook;
    void *explain_ctx;
    mm_avro_decoder_t *avro;
    mm_scratch_t scratch;
    char *encode_buf;
    size_t encode_cap;
    struct mm_histogram_s *latency;
    bool failed;
    bool transactional;
    char fail_reason[512];
    char io_reason[256];
    mm_pipeline_counters_t counters;
    mm_moment_t moments[MM_MOMENTS_PER_EVENT];
    /* Slots [0, n_slots) may be in use: loops stop there, not at
     * MM_TASKS_MAX. last_task answers most lookups (records come in runs
     * from one partition). */
    size_t n_slots;
    mm_task_t *last_task;
    int64_t now_ms; /* the batch's clock (mm_pipeline_set_now) */
    mm_task_t tasks[MM_TASKS_MAX];
};

/*
 * An output's opaque names its record: task slot (12 bits), the slot's
 * generation (8 bits) and the tracker ticket (44 bits, 17e12 records per
 * task). Packing it into the pointer avoids allocating a context per output.
 */
#define TICKET_BITS 44
#define GEN_BITS 8

static void *opaque_pack(size_t slot, uint8_t gen, uint64_t ticket) {
    uint64_t v = ((uint64_t)slot << (TICKET_BITS + GEN_BITS)) |
                 ((uint64_t)gen << TICKET_BITS) | (ticket & ((1ull << TICKET_BITS) - 1));
    return (void *)(uintptr_t)v;
}

int64_t mm_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

mm_pipeline_t *mm_pipeline_new(const mm_config_t *cfg, const mm_rules_t *rules,
                               char *errstr, size_t errstr_size) {
    mm_pipeline_t *pipe = calloc(1, sizeof(*pipe));
    if (!pipe)
        goto fail;
    pipe->cfg = cfg;
    pipe->rules = rules;
    /* Unescaped strings are never longer than the record they come from. */
    pipe->scratch.cap = cfg->limits.max_record_bytes;
    pipe->scratch.buf = malloc(pipe->scratch.cap);
    /* A moment repeats at most four bounded fields of its event (ids,
     * session, query) plus bounded signals. */
    pipe->encode_cap = 6 * cfg->limits.max_field_bytes + 16384;
    pipe->encode_buf = malloc(pipe->encode_cap);
    if (!pipe->scratch.buf || !pipe->encode_buf)
        goto nomem;
    if (cfg->input_format != MM_INPUT_JSON) {
        mm_avro_conf_t ac;
        mm_avro_conf_defaults(&ac);
        ac.schema_files = *cfg->schema_files ? cfg->schema_files : NULL;
        ac.registry_url = *cfg->registry_url ? cfg->registry_url : NULL;
        ac.reader_schema_path = *cfg->reader_schema_path ? cfg->reader_schema_path : NULL;
        ac.registry_timeout_ms = (int)cfg->registry_timeout_ms;
        ac.registry_retry_ms = (int)cfg->registry_retry_ms;
        ac.registry_negative_ttl_ms = (int)cfg->registry_negative_ttl_ms;
        ac.cache_max = (size_t)cfg->schema_cache_max;
        pipe->avro = mm_avro_decoder_new(&ac, errstr, errstr_size);
        if (!pipe->avro)
            goto fail;
    }
    return pipe;
nomem:
    snprintf(errstr, errstr_size, "out of memory for the pipeline");
fail:
    mm_pipeline_destroy(pipe);
    return NULL;
}

void mm_pipeline_destroy(mm_pipeline_t *pipe) {
    if (!pipe)
        return;
    for (size_t i = 0; i < pipe->n_slots; i++)
        if (pipe->tasks[i].in_use)
            mm_pipeline_task_close(pipe, &pipe->tasks[i]);
    mm_sink_destroy(pipe->sink);
    mm_avro_decoder_destroy(pipe->avro);
    free(pipe->scratch.buf);
    free(pipe->encode_buf);
    free(pipe);
}

void mm_pipeline_set_sink(mm_pipeline_t *pipe, mm_sink_t *sink) { pipe->sink = sink; }
mm_sink_t *mm_pipeline_sink(mm_pipeline_t *pipe) { return pipe->sink; }

void mm_pipeline_set_hook(mm_pipeline_t *pipe, mm_pipeline_moment_hook *hook,
                          void *hook_ctx) {
    pipe->hook = hook;
    pipe->hook_ctx = hook_ctx;
}

static void fail(mm_pipeline_t *pipe, const char *fmt, const char *detail) {
    if (pipe->failed)
        return;
    pipe->failed = true;
    snprintf(pipe->fail_reason, sizeof(pipe->fail_reason), fmt, detail);
}

void mm_pipeline_ack(void *opaque, mm_err_t err, const char *reason, void *cb_ctx) {
    mm_pipeline_t *pipe = cb_ctx;
    uint64_t v = (uint64_t)(uintptr_t)opaque;
    size_t slot = (size_t)(v >> (TICKET_BITS + GEN_BITS));
    uint8_t gen = (uint8_t)(v >> TICKET_BITS);
    uint64_t ticket = v & ((1ull << TICKET_BITS) - 1);
    mm_task_t *task = &pipe->tasks[slot];
    if (!task->in_use || task->generation != gen)
        return; /* the partition was revoked; its offsets are not ours now */
    if (err != MM_ERR_OK && !pipe->transactional) {
        /* The record stays held: its offset is never committed. */
        fail(pipe, "an output could not be delivered: %s", reason ? reason : mm_err_str(err));
        return;
    }
    MM_COUNTER_ADD(pipe->counters.acked, 1);
    mm_offsets_release(task->offsets, ticket);
}

void mm_pipeline_set_now(mm_pipeline_t *pipe, int64_t now_ms) { pipe->now_ms = now_ms; }

void mm_pipeline_set_transactional(mm_pipeline_t *pipe, bool transactional) {
    pipe->transactional = transactional;
}

void mm_pipeline_set_rules(mm_pipeline_t *pipe, const mm_rules_t *rules) {
    pipe->rules = rules;
}

void mm_pipeline_set_histogram(mm_pipeline_t *pipe, struct mm_histogram_s *hist) {
    pipe->latency = hist;
}

void mm_pipeline_prefetch(mm_pipeline_t *pipe, mm_task_t *task, mm_str_t key) {
    (void)pipe;
    if (key.p)
        mm_state_prefetch(task->state, key);
}

void mm_pipeline_set_explain(mm_pipeline_t *pipe, mm_pipeline_explain_hook *hook,
                             void *hook_ctx) {
    pipe->explain_hook = hook;
    pipe->explain_ctx = hook_ctx;
}

mm_task_t *mm_pipeline_task_find(mm_pipeline_t *pipe, const char *topic,
                                 int32_t partition) {
    mm_task_t *t = pipe->last_task;
    if (t && t->in_use && t->partition == partition && strcmp(t->topic, topic) == 0)
        return t;
    for (size_t i = 0; i < pipe->n_slots; i++) {
        t = &pipe->tasks[i];
        if (t->in_use && t->partition == partition && strcmp(t->topic, topic) == 0)
            return pipe->last_task = t;
    }
    return NULL;
}

mm_task_t *mm_pipeline_task_open(mm_pipeline_t *pipe, const char *topic,
                                 int32_t partition) {
    mm_task_t *t = mm_pipeline_task_find(pipe, topic, partition);
    if (t)
        return t;
    for (size_t i = 0; i < MM_TASKS_MAX; i++) {
        t = &pipe->tasks[i];
        if (t->in_use)
            continue;
        snprintf(t->topic, sizeof(t->topic), "%s", topic);
        t->topic_len = strlen(t->topic);
        t->partition = partition;
        t->eof = false;
        t->committed = -1;
        t->next_offset = -1;
        t->txn_base = -1;
        t->resume_at = -1;
        t->generation++;
        t->state = mm_state_new(&pipe->cfg->state);
        t->offsets = mm_offsets_new((size_t)pipe->cfg->inflight_per_partition);
        if (!t->state || !t->offsets) {
            mm_state_destroy(t->state);
            mm_offsets_destroy(t->offsets);
            t->state = NULL;
            t->offsets = NULL;
            return NULL;
        }
        t->in_use = true;
        if (i + 1 > pipe->n_slots)
            pipe->n_slots = i + 1;
        return t;
    }
    return NULL;
}

void mm_pipeline_task_close(mm_pipeline_t *pipe, mm_task_t *task) {
    mm_state_destroy(task->state);
    mm_offsets_destroy(task->offsets);
    task->state = NULL;
    task->offsets = NULL;
    task->in_use = false;
    if (pipe->last_task == task)
        pipe->last_task = NULL;
    while (pipe->n_slots > 0 && !pipe->tasks[pipe->n_slots - 1].in_use)
        pipe->n_slots--;
}

mm_task_t *mm_pipeline_task_next(mm_pipeline_t *pipe, mm_task_t *prev) {
    size_t i = prev ? (size_t)(prev - pipe->tasks) + 1 : 0;
    for (; i < pipe->n_slots; i++)
        if (pipe->tasks[i].in_use)
            return &pipe->tasks[i];
    return NULL;
}

size_t mm_pipeline_inflight(mm_pipeline_t *pipe) {
    size_t n = 0;
    for (mm_task_t *t = mm_pipeline_task_next(pipe, NULL); t;
         t = mm_pipeline_task_next(pipe, t))
        n += mm_offsets_inflight(t->offsets);
    return n;
}

static mm_err_t write_dead(mm_pipeline_t *pipe, mm_task_t *task, void *opaque,
                           uint64_t ticket, mm_str_t key, mm_str_t value,
                           mm_source_t source, int64_t record_ts, mm_err_t err,
                           const char *reason) {
    mm_dead_letter_t dl = {
        .key = key,
        .value = value,
        .err = err,
        .reason = reason,
        .source = source,
        .source_ts = record_ts,
        .time_ms = pipe->now_ms ? pipe->now_ms : mm_now_ms(),
    };
    MM_COUNTER_ADD(pipe->counters.dead_out[err], 1);
    mm_offsets_hold(task->offsets, ticket);
    return pipe->sink->ops->write_dead(pipe->sink->ctx, &dl, opaque);
}

static mm_err_t write_moments(mm_pipeline_t *pipe, mm_task_t *task, void *opaque,
                              uint64_t ticket, size_t n, int64_t record_ts) {
    int64_t detected = pipe->now_ms ? pipe->now_ms : mm_now_ms();
    if (n && pipe->latency && record_ts > 0 && detected >= record_ts)
        mm_histogram_record_us(pipe->latency, (uint64_t)(detected - record_ts) * 1000u);
    for (size_t i = 0; i < n; i++) {
        const mm_moment_t *m = &pipe->moments[i];
        size_t len = pipe->cfg->output_format == MM_OUTPUT_AVRO
                         ? mm_moment_to_avro(m, detected, (int32_t)pipe->cfg->output_schema_id,
                                             pipe->encode_buf, pipe->encode_cap)
                         : mm_moment_to_json(m, detected, pipe->encode_buf, pipe->encode_cap);
        if (len == 0)
            return MM_ERR_FULL; /* cannot happen with bounded fields */
        MM_COUNTER_ADD(pipe->counters.moments_out[m->type], 1);
        mm_offsets_hold(task->offsets, ticket);
        mm_err_t err = pipe->sink->ops->write_moment(pipe->sink->ctx, m->event->user_id,
                                                     pipe->encode_buf, len, opaque);
        if (err != MM_ERR_OK)
            return err;
        if (pipe->hook)
            pipe->hook(m, pipe->encode_buf, len, pipe->hook_ctx);
    }
    return MM_ERR_OK;
}

/* Decodes per mm.input.format; MM_ERR_IO means "not now" (registry). */
static mm_err_t decode(mm_pipeline_t *pipe, mm_str_t value, mm_event_t *ev, char *reason,
                       size_t reason_size) {
    const mm_config_t *cfg = pipe->cfg;
    if (value.len > cfg->limits.max_record_bytes) {
        snprintf(reason, reason_size, "record of %zu bytes, the bound is %zu", value.len,
                 cfg->limits.max_record_bytes);
        return MM_ERR_TOO_LARGE;
    }
    bool avro = cfg->input_format == MM_INPUT_AVRO ||
                (cfg->input_format == MM_INPUT_AUTO && mm_record_is_avro(value.p, value.len));
    if (avro) {
        mm_event_init(ev);
        return mm_decode_avro(pipe->avro, value.p, value.len, &cfg->limits, ev, reason,
                              reason_size);
    }
    pipe->scratch.used = 0;
    return mm_decode_json(value.p, value.len, &cfg->limits, &pipe->scratch, ev, reason,
                          reason_size);
}

mm_err_t mm_pipeline_process(mm_pipeline_t *pipe, mm_task_t *task, mm_str_t key,
                             mm_str_t value, int64_t offset, int64_t record_ts) {
    char reason[256] = "";
    mm_event_t ev;
    mm_err_t derr = decode(pipe, value, &ev, reason, sizeof(reason));
    if (derr == MM_ERR_IO) {
        /* The registry is unreachable: not the record's fault. Nothing is
         * begun, so the caller retries this record later. */
        snprintf(pipe->io_reason, sizeof(pipe->io_reason), "%s", reason);
        return MM_ERR_IO;
    }
    uint64_t ticket;
    if (mm_offsets_begin(task->offsets, offset, &ticket) != MM_ERR_OK)
        return MM_ERR_FULL;
    MM_COUNTER_ADD(pipe->counters.records_in, 1);
    void *opaque = opaque_pack((size_t)(task - pipe->tasks), task->generation, ticket);
    mm_source_t source = {{task->topic, task->topic_len}, task->partition, offset};
    mm_err_t err;
    if (derr != MM_ERR_OK) {
        err = write_dead(pipe, task, opaque, ticket, key, value, source, record_ts, derr,
                         reason);
        goto done;
    }
    ev.source = source;
    if (!ev.has_ts && record_ts >= 0) {
        ev.ts = record_ts;
        ev.has_ts = true;
    }
    size_t n = MM_MOMENTS_PER_EVENT;
    if (pipe->explain_hook) {
        mm_explain_t explain;
        mm_classify(pipe->rules, task->state, &ev, pipe->moments, &n, &explain);
        pipe->explain_hook(&ev, &explain, n ? &pipe->moments[0] : NULL, pipe->explain_ctx);
        err = MM_ERR_OK;
    } else {
        mm_classify(pipe->rules, task->state, &ev, pipe->moments, &n, NULL);
        err = write_moments(pipe, task, opaque, ticket, n, record_ts);
    }
done:
    if (err != MM_ERR_OK) {
        /* In a transaction a refused write means the transaction is in an
         * abortable state: the caller aborts and rewinds, nothing fails. */
        if (pipe->transactional)
            return MM_ERR_KAFKA;
        char detail[320];
        snprintf(detail, sizeof(detail), "%s [%" PRId32 "] offset %" PRId64, task->topic,
                 task->partition, offset);
        fail(pipe, "could not write the output of %s", detail);
        return err; /* the record keeps its hold: never committed */
    }
    mm_offsets_release(task->offsets, ticket);
    return MM_ERR_OK;
}

const char *mm_pipeline_io_reason(const mm_pipeline_t *pipe) { return pipe->io_reason; }

bool mm_pipeline_failed(const mm_pipeline_t *pipe, const char **why) {
    if (why)
        *why = pipe->fail_reason;
    return pipe->failed;
}

const mm_pipeline_counters_t *mm_pipeline_counters(const mm_pipeline_t *pipe) {
    return &pipe->counters;
}
