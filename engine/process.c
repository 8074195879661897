/*
 * One record through the engine: decode, classify, encode, write; the tasks
 * (one per input partition) with their per-user state and offset trackers;
 * and what happens to each output once the destination answers.
 *
 * OUTPUTS THE DESTINATION REFUSES. An output refused for what it is (too
 * large, invalid) must not stop the stream, and must not be lost:
 *   at-least-once  a refused moment is written to the dead-letter topic as
 *                  it is (code output_refused, the destination's words as the
 *                  reason); its record's offset is held until that lands.
 *   exactly-once   the transaction cannot commit any more; the task marks the
 *                  record, the worker aborts and rewinds, and when the record
 *                  comes again its moments go to the dead-letter topic instead
 *                  (a dead letter refused for its size comes again cut to
 *                  half, until it fits).
 * A dead letter the sink could not fit even with an empty value, a missing or
 * forbidden topic, or any other failure at-least-once cannot recover from
 * stops the run (mm__proc_failed), with the topic and the destination's words.
 */
#include "engine_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mm__proc_s {
    const mm_engine_conf_t *conf;
    const mm_rules_t *rules;
    mm_sink_t *sink;
    mm_engine_moment_hook *moment_hook;
    void *moment_ctx;
    mm_engine_conversion_hook *conversion_hook;
    void *conversion_ctx;
    mm_offline_explain_fn *explain;
    void *explain_ctx;
    mm_avro_decoder_t *avro;
    mm_scratch_t scratch;
    char *encode_buf;
    size_t encode_cap;
    mm_histogram_t *latency;
    mm_engine_log_fn *log;
    void *log_ctx;
    bool failed;
    bool transactional;
    bool refused; /* exactly-once: a refusal since mm__proc_take_refusal */
    char fail_reason[512];
    char reason[256];
    int64_t refusal_logged_ms;
    uint64_t refusals_unlogged;
    mm__counters_t counters;
    mm__outputs_t outputs;
    /* checkpoints: users changed since the last, and records in flight */
    char *dirty_arena;
    size_t dirty_used;
    mm__dirty_t *dirty;
    size_t n_dirty;
    bool dirty_overflow;
    size_t checkpoint_pending;
    char *aux_buf; /* conversions */
    size_t aux_cap;
    mm_moment_t moments[MM_MOMENTS_PER_EVENT];
    /* Slots [0, n_slots) may be in use: loops stop there, not at
     * MM_TASKS_MAX. last_task answers most lookups (records come in runs
     * from one partition). */
    size_t n_slots;
    mm__task_t *last_task;
    int64_t now_ms; /* the batch's clock */
    mm__task_t tasks[MM_TASKS_MAX];
};

/*
 * An output's opaque names its record: task slot (12 bits), the slot's
 * generation (8 bits), what the output is (2 bits) and the tracker ticket
 * (42 bits, 4.4e12 records per task). Packing it into the pointer avoids
 * allocating a context per output. A checkpoint record (a profile, a state
 * snapshot) belongs to no input record: it is counted, not tracked.
 */
#define TICKET_BITS 42
#define KIND_BITS 2
#define GEN_BITS 8

typedef enum { OUT_MOMENT, OUT_DEAD, OUT_RECORD, OUT_CHECKPOINT } out_kind_t;

static void *opaque_pack(size_t slot, uint8_t gen, out_kind_t kind, uint64_t ticket) {
    uint64_t v = ((uint64_t)slot << (TICKET_BITS + KIND_BITS + GEN_BITS)) |
                 ((uint64_t)gen << (TICKET_BITS + KIND_BITS)) |
                 ((uint64_t)kind << TICKET_BITS) | (ticket & ((1ull << TICKET_BITS) - 1));
    return (void *)(uintptr_t)v;
}

int64_t mm_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

mm__proc_t *mm__proc_new(const mm_engine_conf_t *conf, const mm_rules_t *rules,
                         char *errstr, size_t errstr_size) {
    mm__proc_t *proc = calloc(1, sizeof(*proc));
    if (!proc)
        goto nomem;
    proc->conf = conf;
    proc->rules = rules;
    /* Unescaped strings are never longer than the record they come from. */
    proc->scratch.cap = conf->limits.max_record_bytes;
    proc->scratch.buf = malloc(proc->scratch.cap);
    /* A moment repeats at most four bounded fields of its event (ids,
     * session, query) plus bounded signals. */
    proc->encode_cap = 6 * conf->limits.max_field_bytes + 16384;
    proc->encode_buf = malloc(proc->encode_cap);
    /* A conversion repeats three bounded fields and a few attributions. */
    proc->aux_cap = 4 * conf->limits.max_field_bytes + 4096;
    proc->aux_buf = malloc(proc->aux_cap);
    if (!proc->scratch.buf || !proc->encode_buf || !proc->aux_buf)
        goto nomem;
    if (conf->input_format != MM_INPUT_JSON) {
        mm_avro_conf_t ac;
        mm_engine_avro_conf(conf, &ac);
        proc->avro = mm_avro_decoder_new(&ac, errstr, errstr_size);
        if (!proc->avro)
            goto fail;
    }
    return proc;
nomem:
    snprintf(errstr, errstr_size, "out of memory for the record path");
fail:
    mm__proc_destroy(proc);
    return NULL;
}

void mm_engine_avro_conf(const mm_engine_conf_t *conf, mm_avro_conf_t *ac) {
    mm_avro_conf_defaults(ac);
    ac->schema_files = *conf->schema_files ? conf->schema_files : NULL;
    ac->registry_url = *conf->registry_url ? conf->registry_url : NULL;
    ac->registry_user_info = *conf->registry_user_info ? conf->registry_user_info : NULL;
    ac->registry_ca_file = *conf->registry_ca_file ? conf->registry_ca_file : NULL;
    ac->reader_schema_path = *conf->reader_schema_path ? conf->reader_schema_path : NULL;
    ac->registry_timeout_ms = (int)conf->registry_timeout_ms;
    ac->registry_retry_ms = (int)conf->registry_retry_ms;
    ac->registry_negative_ttl_ms = (int)conf->registry_negative_ttl_ms;
    ac->cache_max = (size_t)conf->schema_cache_max;
}

void mm__proc_destroy(mm__proc_t *proc) {
    if (!proc)
        return;
    free(proc->dirty_arena);
    free(proc->dirty);
    free(proc->aux_buf);
    for (size_t i = 0; i < proc->n_slots; i++)
        if (proc->tasks[i].in_use)
            mm__task_close(proc, &proc->tasks[i]);
    mm_sink_destroy(proc->sink);
    mm_avro_decoder_destroy(proc->avro);
    free(proc->scratch.buf);
    free(proc->encode_buf);
    free(proc);
}

void mm__proc_set_sink(mm__proc_t *proc, mm_sink_t *sink) { proc->sink = sink; }
mm_sink_t *mm__proc_sink(mm__proc_t *proc) { return proc->sink; }
void mm__proc_set_rules(mm__proc_t *proc, const mm_rules_t *rules) { proc->rules = rules; }
void mm__proc_set_now(mm__proc_t *proc, int64_t now_ms) { proc->now_ms = now_ms; }
void mm__proc_set_latency(mm__proc_t *proc, mm_histogram_t *hist) { proc->latency = hist; }

void mm__proc_set_outputs(mm__proc_t *proc, const mm__outputs_t *outputs) {
    proc->outputs = *outputs;
}

const mm__outputs_t *mm__proc_outputs(const mm__proc_t *proc) { return &proc->outputs; }

mm__counters_t *mm__proc_counters_mut(mm__proc_t *proc) { return &proc->counters; }

mm__task_t *mm__task_at(mm__proc_t *proc, uint32_t slot, uint8_t gen) {
    mm__task_t *t = slot < proc->n_slots ? &proc->tasks[slot] : NULL;
    return t && t->in_use && t->generation == gen ? t : NULL;
}

uint32_t mm__task_slot(const mm__proc_t *proc, const mm__task_t *task) {
    return (uint32_t)(task - proc->tasks);
}

/* ------------------------------------------------------------ checkpoints */

static bool dirty_alloc(mm__proc_t *proc) {
    if (proc->dirty)
        return true;
    proc->dirty_arena = malloc(MM_DIRTY_BYTES);
    proc->dirty = malloc(MM_DIRTY_MAX * sizeof(*proc->dirty));
    return proc->dirty_arena && proc->dirty;
}

/* Lists the event's user for the next checkpoint, once per checkpoint. */
static void note_dirty(mm__proc_t *proc, mm__task_t *task, mm_str_t user_id) {
    if (!mm_state_mark_dirty(task->state, user_id))
        return;
    if (!dirty_alloc(proc) || proc->n_dirty >= MM_DIRTY_MAX ||
        proc->dirty_used + user_id.len > MM_DIRTY_BYTES) {
        /* Checked before the record (mm__proc_dirty_full), so this is only
         * the arena's allocation failing: the checkpoint must not pretend. */
        proc->dirty_overflow = true;
        return;
    }
    memcpy(proc->dirty_arena + proc->dirty_used, user_id.p, user_id.len);
    proc->dirty[proc->n_dirty++] = (mm__dirty_t){
        .slot = mm__task_slot(proc, task),
        .gen = task->generation,
        .off = (uint32_t)proc->dirty_used,
        .len = (uint32_t)user_id.len,
    };
    proc->dirty_used += user_id.len;
}

bool mm__proc_dirty_full(const mm__proc_t *proc) {
    return proc->n_dirty + 1 >= MM_DIRTY_MAX ||
           proc->dirty_used + proc->conf->limits.max_field_bytes > MM_DIRTY_BYTES;
}

size_t mm__proc_dirty(mm__proc_t *proc, const mm__dirty_t **entries, const char **arena) {
    *entries = proc->dirty;
    *arena = proc->dirty_arena;
    return proc->n_dirty;
}

void mm__proc_dirty_reset(mm__proc_t *proc) {
    proc->n_dirty = 0;
    proc->dirty_used = 0;
}

mm_err_t mm__proc_write_checkpoint(mm__proc_t *proc, int topic, int32_t partition,
                                   mm_str_t key, const char *payload, size_t len) {
    proc->checkpoint_pending++;
    mm_err_t err = proc->sink->ops->write(proc->sink->ctx, topic, partition, key, payload, len,
                                          opaque_pack(0, 0, OUT_CHECKPOINT, 0));
    if (err != MM_ERR_OK)
        proc->checkpoint_pending--;
    return err;
}

size_t mm__proc_checkpoint_pending(const mm__proc_t *proc) { return proc->checkpoint_pending; }

void mm__proc_set_log(mm__proc_t *proc, mm_engine_log_fn *log, void *ctx) {
    proc->log = log;
    proc->log_ctx = ctx;
}

void mm__proc_set_transactional(mm__proc_t *proc, bool transactional) {
    proc->transactional = transactional;
}

void mm__proc_set_moment_hook(mm__proc_t *proc, mm_engine_moment_hook *hook, void *ctx) {
    proc->moment_hook = hook;
    proc->moment_ctx = ctx;
}

void mm__proc_set_conversion_hook(mm__proc_t *proc, mm_engine_conversion_hook *hook,
                                  void *ctx) {
    proc->conversion_hook = hook;
    proc->conversion_ctx = ctx;
}

void mm__proc_set_explain(mm__proc_t *proc, mm_offline_explain_fn *fn, void *ctx) {
    proc->explain = fn;
    proc->explain_ctx = ctx;
}

static void fail(mm__proc_t *proc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(mm__proc_t *proc, const char *fmt, ...) {
    if (proc->failed)
        return;
    proc->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(proc->fail_reason, sizeof(proc->fail_reason), fmt, ap);
    va_end(ap);
}

static int64_t now(const mm__proc_t *proc) {
    return proc->now_ms ? proc->now_ms : mm_now_ms();
}

/* ------------------------------------------------------------------ tasks */

mm__task_t *mm__task_find(mm__proc_t *proc, const char *topic, int32_t partition) {
    mm__task_t *t = proc->last_task;
    if (t && t->in_use && t->partition == partition && strcmp(t->topic, topic) == 0)
        return t;
    for (size_t i = 0; i < proc->n_slots; i++) {
        t = &proc->tasks[i];
        if (t->in_use && t->partition == partition && strcmp(t->topic, topic) == 0)
            return proc->last_task = t;
    }
    return NULL;
}

mm__task_t *mm__task_open(mm__proc_t *proc, const char *topic, int32_t partition) {
    mm__task_t *t = mm__task_find(proc, topic, partition);
    if (t)
        return t;
    for (size_t i = 0; i < MM_TASKS_MAX; i++) {
        t = &proc->tasks[i];
        if (t->in_use)
            continue;
        uint8_t generation = (uint8_t)(t->generation + 1);
        memset(t, 0, sizeof(*t));
        snprintf(t->topic, sizeof(t->topic), "%s", topic);
        t->topic_len = strlen(t->topic);
        t->partition = partition;
        t->generation = generation;
        t->processed = -1;
        t->first_offset = -1;
        t->seen = -1;
        t->resume_at = -1;
        t->floor = -1;
        t->marked = -1;
        t->dead_at = -1;
        t->committed = -1;
        t->state = mm_state_new(&proc->conf->state);
        t->offsets = mm_offsets_new((size_t)proc->conf->inflight_per_partition);
        if (!t->state || !t->offsets) {
            mm_state_destroy(t->state);
            mm_offsets_destroy(t->offsets);
            t->state = NULL;
            t->offsets = NULL;
            return NULL;
        }
        t->in_use = true;
        if (i + 1 > proc->n_slots)
            proc->n_slots = i + 1;
        return t;
    }
    return NULL;
}

void mm__task_close(mm__proc_t *proc, mm__task_t *task) {
    mm_state_destroy(task->state);
    mm_offsets_destroy(task->offsets);
    task->state = NULL;
    task->offsets = NULL;
    task->in_use = false;
    if (proc->last_task == task)
        proc->last_task = NULL;
    while (proc->n_slots > 0 && !proc->tasks[proc->n_slots - 1].in_use)
        proc->n_slots--;
}

mm__task_t *mm__task_next(mm__proc_t *proc, mm__task_t *prev) {
    size_t i = prev ? (size_t)(prev - proc->tasks) + 1 : 0;
    for (; i < proc->n_slots; i++)
        if (proc->tasks[i].in_use)
            return &proc->tasks[i];
    return NULL;
}

size_t mm__proc_inflight(mm__proc_t *proc) {
    size_t n = 0;
    for (mm__task_t *t = mm__task_next(proc, NULL); t; t = mm__task_next(proc, t))
        n += mm_offsets_inflight(t->offsets);
    return n;
}

/* The record at @p offset is to be dead-lettered when it comes again
 * (exactly-once, after the abort and rewind). */
static void mark_dead(mm__task_t *task, int64_t offset, mm_err_t err, size_t value_max,
                      const char *reason) {
    task->dead_at = offset;
    task->dead_err = err;
    task->dead_value_max = value_max;
    snprintf(task->dead_reason, sizeof(task->dead_reason), "%s", reason);
}

void mm__task_dead_on_return(mm__task_t *task, int64_t offset, mm_err_t err,
                             const char *reason) {
    mark_dead(task, offset, err, SIZE_MAX, reason);
}

/* ----------------------------------------------------------------- writes */

static mm_err_t write_dead(mm__proc_t *proc, mm__task_t *task, void *opaque,
                           uint64_t ticket, mm_str_t key, mm_str_t value, int64_t offset,
                           int64_t record_ts, mm_err_t err, const char *reason,
                           size_t value_max) {
    mm_dead_letter_t dl = {
        .key = key,
        .value = value,
        .err = err,
        .reason = reason,
        .source = {{task->topic, task->topic_len}, task->partition, offset},
        .source_ts = record_ts,
        .time_ms = now(proc),
        .value_cut = value_max != SIZE_MAX,
        .value_max = value_max,
    };
    MM_COUNTER_ADD(proc->counters.dead_out[err], 1);
    mm_offsets_hold(task->offsets, ticket);
    return proc->sink->ops->write_dead(proc->sink->ctx, &dl, opaque);
}

static mm_err_t write_moments(mm__proc_t *proc, mm__task_t *task, size_t slot,
                              uint64_t ticket, size_t n, mm_str_t key, int64_t offset,
                              int64_t record_ts) {
    int64_t detected = now(proc);
    if (n && proc->latency && record_ts > 0 && detected >= record_ts)
        mm_histogram_record_us(proc->latency, (uint64_t)(detected - record_ts) * 1000u);
    /* Exactly-once, the record whose output was refused: its moments are
     * dead letters this time. */
    bool refused = task->dead_at == offset && task->dead_err == MM_ERR_OUTPUT_REFUSED;
    for (size_t i = 0; i < n; i++) {
        const mm_moment_t *m = &proc->moments[i];
        size_t len = proc->conf->output_format == MM_OUTPUT_AVRO
                         ? mm_moment_to_avro(m, detected, (int32_t)proc->conf->output_schema_id,
                                             proc->encode_buf, proc->encode_cap)
                         : mm_moment_to_json_fields(m, detected, proc->conf->output_omit,
                                                    proc->encode_buf, proc->encode_cap);
        if (len == 0)
            return MM_ERR_FULL; /* cannot happen with bounded fields */
        mm_err_t err;
        if (refused) {
            void *opaque = opaque_pack(slot, task->generation, OUT_DEAD, ticket);
            err = write_dead(proc, task, opaque, ticket, m->event->user_id,
                             (mm_str_t){proc->encode_buf, len}, offset, record_ts,
                             MM_ERR_OUTPUT_REFUSED, task->dead_reason, task->dead_value_max);
        } else {
            MM_COUNTER_ADD(proc->counters.moments_out[m->type], 1);
            mm_offsets_hold(task->offsets, ticket);
            void *opaque = opaque_pack(slot, task->generation, OUT_MOMENT, ticket);
            int topic = MM__TOPIC_MOMENTS + (proc->outputs.per_type ? (int)m->type : 0);
            err = proc->sink->ops->write(proc->sink->ctx, topic, RD_KAFKA_PARTITION_UA,
                                         m->event->user_id, proc->encode_buf, len, opaque);
        }
        if (err != MM_ERR_OK)
            return err;
        if (proc->moment_hook && !refused)
            proc->moment_hook(m, proc->encode_buf, len, proc->moment_ctx);
    }
    (void)key;
    return MM_ERR_OK;
}

/* Another output of the record (a conversion, a late event's copy). */
static mm_err_t write_record(mm__proc_t *proc, mm__task_t *task, size_t slot, uint64_t ticket,
                             int topic, mm_str_t key, mm_str_t value) {
    mm_offsets_hold(task->offsets, ticket);
    void *opaque = opaque_pack(slot, task->generation, OUT_RECORD, ticket);
    return proc->sink->ops->write(proc->sink->ctx, topic, RD_KAFKA_PARTITION_UA, key, value.p,
                                  value.len, opaque);
}

static mm_err_t write_conversion(mm__proc_t *proc, mm__task_t *task, size_t slot,
                                 uint64_t ticket, const mm_event_t *ev,
                                 const mm_attribution_t *attributed, size_t n) {
    size_t len = mm_conversion_to_json(ev, attributed, n, proc->aux_buf, proc->aux_cap);
    if (len == 0)
        return MM_ERR_FULL; /* cannot happen with bounded fields */
    MM_COUNTER_ADD(proc->counters.conversions, 1);
    for (size_t i = 0; i < n; i++)
        MM_COUNTER_ADD(proc->counters.conversions_attributed[attributed[i].type], 1);
    if (proc->conversion_hook)
        proc->conversion_hook(proc->aux_buf, len, proc->conversion_ctx);
    return write_record(proc, task, slot, ticket, MM__TOPIC_CONVERSIONS, ev->user_id,
                        (mm_str_t){proc->aux_buf, len});
}

/* Rate-limited: a topic that refuses every record must not flood the log. */
static void log_refusal(mm__proc_t *proc, const char *what, const mm__task_t *task,
                        int64_t offset, const mm_sink_ack_t *ack) {
    int64_t t = mm_now_ms();
    if (t - proc->refusal_logged_ms < 1000) {
        proc->refusals_unlogged++;
        return;
    }
    char then[64] = "it goes to the dead-letter topic";
    if (ack->again)
        snprintf(then, sizeof(then), "it goes again cut to %zu bytes", ack->again_len);
    char more[64] = "";
    if (proc->refusals_unlogged)
        snprintf(more, sizeof(more), " (and %" PRIu64 " more since the last line)",
                 proc->refusals_unlogged);
    char line[512];
    snprintf(line, sizeof(line),
             "%s refused %s of %s [%" PRId32 "] offset %" PRId64
             " (%zu bytes): %s; %s%s",
             ack->topic ? ack->topic : "the destination", what, task->topic, task->partition,
             offset, ack->value.len, ack->reason ? ack->reason : "no reason given", then, more);
    if (proc->log)
        proc->log(4, line, proc->log_ctx);
    proc->refusal_logged_ms = t;
    proc->refusals_unlogged = 0;
}

void mm__proc_ack(void *opaque, const mm_sink_ack_t *ack, void *cb_ctx) {
    mm__proc_t *proc = cb_ctx;
    uint64_t v = (uint64_t)(uintptr_t)opaque;
    size_t slot = (size_t)(v >> (TICKET_BITS + KIND_BITS + GEN_BITS));
    uint8_t gen = (uint8_t)(v >> (TICKET_BITS + KIND_BITS));
    out_kind_t kind = (out_kind_t)((v >> TICKET_BITS) & 3);
    uint64_t ticket = v & ((1ull << TICKET_BITS) - 1);
    if (kind == OUT_CHECKPOINT) {
        proc->checkpoint_pending--;
        if (ack->err != MM_ERR_OK)
            fail(proc, "a checkpoint record to '%s' could not be written: %s (nothing is "
                       "committed past the last checkpoint)",
                 ack->topic ? ack->topic : "?", ack->reason ? ack->reason : "no reason given");
        return;
    }
    mm__task_t *task = &proc->tasks[slot];
    if (!task->in_use || task->generation != gen)
        return; /* the partition was revoked; its offsets are not ours now */
    if (ack->err == MM_ERR_OK) {
        MM_COUNTER_ADD(proc->counters.acked, 1);
        mm_offsets_release(task->offsets, ticket);
        return;
    }
    int64_t offset = mm_offsets_offset(task->offsets, ticket);
    if (ack->again) {
        log_refusal(proc, "a dead letter", task, offset, ack);
        return; /* the ticket is settled by the smaller copy's ack */
    }
    const char *topic = ack->topic ? ack->topic : "?";
    const char *why = ack->reason ? ack->reason : "no reason given";
    switch (ack->fault) {
    case MM_SINK_FAULT_TOPIC:
        fail(proc, "cannot write to topic '%s': %s (the output of %s [%" PRId32
                   "] offset %" PRId64 " stays uncommitted)",
             topic, why, task->topic, task->partition, offset);
        return;
    case MM_SINK_FAULT_RECORD:
        if (kind == OUT_DEAD && ack->value.len == 0) {
            fail(proc, "the dead-letter topic '%s' refuses even an empty record for %s [%" PRId32
                       "] offset %" PRId64 ": %s",
                 topic, task->topic, task->partition, offset, why);
            return;
        }
        if (proc->transactional) {
            /* After the rewind the record comes again: its moments become
             * dead letters, and a dead letter refused for its size comes
             * again at half of it. */
            char reason[256];
            snprintf(reason, sizeof(reason), "%s refused the record's output: %s", topic, why);
            mark_dead(task, offset, MM_ERR_OUTPUT_REFUSED,
                      kind == OUT_DEAD ? ack->value.len / 2 : SIZE_MAX, reason);
            log_refusal(proc, kind == OUT_DEAD ? "a dead letter" : "a moment", task, offset,
                        ack);
            proc->refused = true;
            mm_offsets_release(task->offsets, ticket);
            return;
        }
        if (kind != OUT_DEAD) {
            char reason[256];
            snprintf(reason, sizeof(reason), "%s refused the record's output: %s", topic, why);
            log_refusal(proc, "a moment", task, offset, ack);
            void *dl_opaque = opaque_pack(slot, gen, OUT_DEAD, ticket);
            mm_err_t err = write_dead(proc, task, dl_opaque, ticket, ack->key, ack->value,
                                      offset, -1, MM_ERR_OUTPUT_REFUSED, reason, SIZE_MAX);
            if (err != MM_ERR_OK)
                fail(proc, "cannot dead-letter a refused moment of %s [%" PRId32
                           "] offset %" PRId64 ": %s",
                     task->topic, task->partition, offset, mm_err_str(err));
            mm_offsets_release(task->offsets, ticket);
            return;
        }
        /* The sink cut a dead letter down and reported the last refusal. */
        fail(proc, "the dead-letter topic '%s' refuses the record of %s [%" PRId32
                   "] offset %" PRId64 ": %s",
             topic, task->topic, task->partition, offset, why);
        return;
    default:
        if (proc->transactional) {
            /* The transaction's commit fails and rewinds; nothing to hold. */
            mm_offsets_release(task->offsets, ticket);
            return;
        }
        fail(proc, "an output to '%s' could not be delivered: %s (the record of %s [%" PRId32
                   "] offset %" PRId64 " stays uncommitted)",
             topic, why, task->topic, task->partition, offset);
    }
}

/* ----------------------------------------------------------------- record */

/* Decodes per mm.input.format; MM_ERR_IO means "not now" (registry). */
static mm_err_t decode(mm__proc_t *proc, mm_str_t value, mm_event_t *ev, char *reason,
                       size_t reason_size) {
    const mm_engine_conf_t *conf = proc->conf;
    if (value.len > conf->limits.max_record_bytes) {
        snprintf(reason, reason_size, "record of %zu bytes, the bound is %zu", value.len,
                 conf->limits.max_record_bytes);
        return MM_ERR_TOO_LARGE;
    }
    bool avro = conf->input_format == MM_INPUT_AVRO ||
                (conf->input_format == MM_INPUT_AUTO && mm_record_is_avro(value.p, value.len));
    if (avro) {
        mm_event_init(ev);
        return mm_decode_avro(proc->avro, value.p, value.len, &conf->limits, ev, reason,
                              reason_size);
    }
    proc->scratch.used = 0;
    return mm_decode_json(value.p, value.len, &conf->limits, &proc->scratch, ev, reason,
                          reason_size);
}

mm_err_t mm__proc_try_decode(mm__proc_t *proc, mm_str_t value) {
    mm_event_t ev;
    return decode(proc, value, &ev, proc->reason, sizeof(proc->reason));
}

void mm__proc_poll_registry(mm__proc_t *proc) {
    if (proc->avro)
        mm_avro_decoder_poll(proc->avro);
}

bool mm__proc_registry_busy(const mm__proc_t *proc) {
    return proc->avro && mm_avro_decoder_busy(proc->avro);
}

void mm__proc_wait_registry(mm__proc_t *proc, int timeout_ms) {
    if (proc->avro)
        mm_avro_decoder_wait(proc->avro, timeout_ms);
}

static mm_err_t finish(mm__proc_t *proc, mm__task_t *task, uint64_t ticket, int64_t offset,
                       mm_err_t err) {
    if (err != MM_ERR_OK) {
        /* In a transaction a refused write means the transaction is in an
         * abortable state: the caller aborts and rewinds, nothing fails. */
        if (proc->transactional)
            return MM_ERR_KAFKA;
        fail(proc, "could not write the output of %s [%" PRId32 "] offset %" PRId64 ": %s",
             task->topic, task->partition, offset, mm_err_str(err));
        return err; /* the record keeps its hold: never committed */
    }
    mm_offsets_release(task->offsets, ticket);
    return MM_ERR_OK;
}

mm_err_t mm__proc_dead_letter(mm__proc_t *proc, mm__task_t *task, mm_str_t key,
                              mm_str_t value, int64_t offset, int64_t record_ts,
                              mm_err_t err, const char *reason) {
    uint64_t ticket;
    if (mm_offsets_begin(task->offsets, offset, &ticket) != MM_ERR_OK)
        return MM_ERR_FULL;
    MM_COUNTER_ADD(proc->counters.records_in, 1);
    size_t slot = (size_t)(task - proc->tasks);
    void *opaque = opaque_pack(slot, task->generation, OUT_DEAD, ticket);
    mm_err_t werr = write_dead(proc, task, opaque, ticket, key, value, offset, record_ts, err,
                               reason, SIZE_MAX);
    return finish(proc, task, ticket, offset, werr);
}

mm_err_t mm__proc_record(mm__proc_t *proc, mm__task_t *task, mm_str_t key, mm_str_t value,
                         int64_t offset, int64_t record_ts) {
    char reason[256] = "";
    mm_event_t ev;
    mm_err_t derr;
    bool marked = task->dead_at == offset;
    if (marked && task->dead_err == MM_ERR_SCHEMA_UNAVAILABLE) {
        derr = task->dead_err;
        snprintf(reason, sizeof(reason), "%s", task->dead_reason);
    } else {
        derr = decode(proc, value, &ev, reason, sizeof(reason));
    }
    if (derr == MM_ERR_IO) {
        /* The registry cannot answer now: not the record's fault. Nothing
         * is begun, so the caller retries this record later. */
        snprintf(proc->reason, sizeof(proc->reason), "%s", reason);
        return MM_ERR_IO;
    }
    uint64_t ticket;
    if (mm_offsets_begin(task->offsets, offset, &ticket) != MM_ERR_OK)
        return MM_ERR_FULL;
    MM_COUNTER_ADD(proc->counters.records_in, 1);
    size_t slot = (size_t)(task - proc->tasks);
    mm_err_t err;
    if (derr != MM_ERR_OK) {
        void *opaque = opaque_pack(slot, task->generation, OUT_DEAD, ticket);
        err = write_dead(proc, task, opaque, ticket, key, value, offset, record_ts, derr, reason,
                         marked ? task->dead_value_max : SIZE_MAX);
        goto done;
    }
    ev.source = (mm_source_t){{task->topic, task->topic_len}, task->partition, offset};
    if (!ev.has_ts && record_ts >= 0) {
        ev.ts = record_ts;
        ev.has_ts = true;
    }
    size_t n = MM_MOMENTS_PER_EVENT;
    if (proc->explain) {
        mm_explain_t explain;
        mm_classify(proc->rules, task->state, &ev, proc->moments, &n, &explain);
        proc->explain(&ev, &explain, n ? &proc->moments[0] : NULL, proc->explain_ctx);
        err = MM_ERR_OK;
    } else {
        const mm__outputs_t *out = &proc->outputs;
        bool conversion = (out->conversion_types >> ev.type) & 1u;
        mm_attribution_t attributed[MM_MOMENT__COUNT];
        size_t n_attr = 0;
        if (conversion && out->conversions) /* the moments before this event */
            n_attr = mm_profile_attribute(task->state, &ev, out->attribution_window_ms,
                                          attributed, out->attribution_max);
        /* Late: behind the partition's newest event time (its table's, so a
         * restored table goes on from the same one) by more than the allowed
         * lateness. Decided from the partition's own order, so the same input
         * flags the same events. */
        int64_t watermark = mm_state_watermark(task->state);
        int64_t lateness = ev.has_ts && watermark > 0 ? watermark - ev.ts : 0;
        bool late = out->flag_late && lateness > out->lateness_ms;
        mm_classify(proc->rules, task->state, &ev, proc->moments, &n, NULL);
        for (size_t i = 0; i < n; i++) { /* the array is reused: set both ways */
            proc->moments[i].late = late;
            proc->moments[i].lateness_ms = late ? lateness : 0;
        }
        if (late)
            MM_COUNTER_ADD(proc->counters.late_events, 1);
        if (out->profiles || out->conversions)
            mm_profile_record(task->state, &ev, proc->moments, n, conversion);
        if (out->profiles || out->changelog)
            note_dirty(proc, task, ev.user_id);
        err = write_moments(proc, task, slot, ticket, n, key, offset, record_ts);
        if (err == MM_ERR_OK && late && out->late)
            err = write_record(proc, task, slot, ticket, MM__TOPIC_LATE, key, value);
        if (err == MM_ERR_OK && conversion && out->conversions)
            err = write_conversion(proc, task, slot, ticket, &ev, attributed, n_attr);
    }
done:
    if (marked)
        task->dead_at = -1;
    return finish(proc, task, ticket, offset, err);
}

const char *mm__proc_reason(const mm__proc_t *proc) { return proc->reason; }

bool mm__proc_failed(const mm__proc_t *proc, const char **why) {
    if (why)
        *why = proc->fail_reason;
    return proc->failed;
}

const mm__counters_t *mm__proc_counters(const mm__proc_t *proc) { return &proc->counters; }

bool mm__proc_take_refusal(mm__proc_t *proc) {
    bool refused = proc->refused;
    proc->refused = false;
    return refused;
}
