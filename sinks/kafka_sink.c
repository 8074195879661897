/*
 * Kafka sink: moments and dead letters through one idempotent producer.
 *
 * Delivery: the producer retries by itself (message.timeout.ms defaults to
 * infinite here), so a delivery report with an error means the error is one
 * that retrying will not fix (too large, not authorized, fatal idempotence
 * state). It is passed to the ack callback; the pipeline then stops without
 * committing that input offset, so nothing is lost.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks.h"

typedef struct kafka_sink_s {
    rd_kafka_t *rk;
    rd_kafka_topic_t *moment_topic;
    char *dlq_topic;
    mm_sink_ack_cb *ack;
    void *ack_ctx;
} kafka_sink_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkmessage,
                        void *conf_opaque) {
    (void)rk;
    kafka_sink_t *ks = conf_opaque;
    mm_err_t err = rkmessage->err ? MM_ERR_KAFKA : MM_ERR_OK;
    ks->ack(rkmessage->_private, err,
            rkmessage->err ? rd_kafka_err2str(rkmessage->err) : NULL, ks->ack_ctx);
}

/* Produce, waiting for room when the local queue is full: that is the
 * back-pressure that keeps memory bounded when the broker is slow. */
static mm_err_t produce_blocking(kafka_sink_t *ks, rd_kafka_vu_t *vus, size_t cnt) {
    for (;;) {
        rd_kafka_error_t *error = rd_kafka_produceva(ks->rk, vus, cnt);
        if (!error)
            return MM_ERR_OK;
        rd_kafka_resp_err_t code = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
        if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return MM_ERR_KAFKA;
        rd_kafka_poll(ks->rk, 50);
    }
}

static mm_err_t write_moment(void *ctx, mm_str_t key, const char *payload,
                             size_t len, void *opaque) {
    kafka_sink_t *ks = ctx;
    rd_kafka_vu_t vus[] = {
        {.vtype = RD_KAFKA_VTYPE_RKT, .u.rkt = ks->moment_topic},
        {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)key.p, key.len}},
        {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {(void *)payload, len}},
        {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
        {.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = opaque},
    };
    return produce_blocking(ks, vus, sizeof(vus) / sizeof(vus[0]));
}

static void add_header(rd_kafka_headers_t *hdrs, const char *name, const char *value,
                       size_t len) {
    rd_kafka_header_add(hdrs, name, -1, value, (ssize_t)len);
}

static mm_err_t write_dead(void *ctx, const mm_dead_letter_t *dl, void *opaque) {
    kafka_sink_t *ks = ctx;
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(8);
    char num[32];
    const char *code = mm_err_name(dl->err);
    add_header(hdrs, MM_DLQ_HDR_ERROR, code, strlen(code));
    const char *reason = dl->reason ? dl->reason : mm_err_str(dl->err);
    add_header(hdrs, MM_DLQ_HDR_REASON, reason, strlen(reason));
    int n = snprintf(num, sizeof(num), "%" PRId64, dl->time_ms);
    add_header(hdrs, MM_DLQ_HDR_TIME, num, (size_t)n);
    add_header(hdrs, MM_DLQ_HDR_TOPIC, dl->source.topic.p, dl->source.topic.len);
    n = snprintf(num, sizeof(num), "%" PRId32, dl->source.partition);
    add_header(hdrs, MM_DLQ_HDR_PARTITION, num, (size_t)n);
    n = snprintf(num, sizeof(num), "%" PRId64, dl->source.offset);
    add_header(hdrs, MM_DLQ_HDR_OFFSET, num, (size_t)n);
    if (dl->source_ts >= 0) {
        n = snprintf(num, sizeof(num), "%" PRId64, dl->source_ts);
        add_header(hdrs, MM_DLQ_HDR_TIMESTAMP, num, (size_t)n);
    }
    rd_kafka_vu_t vus[] = {
        {.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = ks->dlq_topic},
        {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)dl->key.p, dl->key.len}},
        {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {(void *)dl->value.p, dl->value.len}},
        {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
        {.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = opaque},
        {.vtype = RD_KAFKA_VTYPE_HEADERS, .u.headers = hdrs},
    };
    mm_err_t err = produce_blocking(ks, vus, sizeof(vus) / sizeof(vus[0]));
    if (err != MM_ERR_OK)
        rd_kafka_headers_destroy(hdrs); /* ownership passes only on success */
    return err;
}

static void sink_poll(void *ctx, int timeout_ms) {
    kafka_sink_t *ks = ctx;
    rd_kafka_poll(ks->rk, timeout_ms);
}

static size_t outstanding(void *ctx) {
    kafka_sink_t *ks = ctx;
    return (size_t)rd_kafka_outq_len(ks->rk);
}

static void kafka_sink_destroy(void *ctx) {
    kafka_sink_t *ks = ctx;
    if (!ks)
        return;
    if (ks->moment_topic)
        rd_kafka_topic_destroy(ks->moment_topic);
    if (ks->rk)
        rd_kafka_destroy(ks->rk);
    free(ks->dlq_topic);
    free(ks);
}

static const mm_sink_ops_t mm_sink_kafka_ops = {
    .name = "kafka",
    .write_moment = write_moment,
    .write_dead = write_dead,
    .poll = sink_poll,
    .outstanding = outstanding,
    .destroy = kafka_sink_destroy,
};

void mm_kafka_conf_default(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char cur[256], def[256];
    size_t cur_size = sizeof(cur), def_size = sizeof(def);
    rd_kafka_conf_t *fresh = rd_kafka_conf_new();
    /* A topic-level key (auto.offset.reset) reads back from a global
     * configuration only once something set it. */
    bool user_set = rd_kafka_conf_get(conf, key, cur, &cur_size) == RD_KAFKA_CONF_OK &&
                    (rd_kafka_conf_get(fresh, key, def, &def_size) != RD_KAFKA_CONF_OK ||
                     strcmp(cur, def) != 0);
    rd_kafka_conf_destroy(fresh);
    if (user_set)
        return; /* theirs wins */
    char errstr[256];
    rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr));
}

mm_sink_t *mm_sink_kafka_new(rd_kafka_conf_t *conf, const char *moment_topic,
                             const char *dlq_topic, mm_sink_ack_cb *ack,
                             void *ack_ctx, char *errstr, size_t errstr_size) {
    mm_sink_t *sink = calloc(1, sizeof(*sink));
    kafka_sink_t *ks = calloc(1, sizeof(*ks));
    if (!sink || !ks) {
        snprintf(errstr, errstr_size, "out of memory");
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    sink->ops = &mm_sink_kafka_ops;
    sink->ctx = ks;
    ks->ack = ack;
    ks->ack_ctx = ack_ctx;
    ks->dlq_topic = strdup(dlq_topic);
    char txn_id[256];
    size_t txn_size = sizeof(txn_id);
    bool transactional = rd_kafka_conf_get(conf, "transactional.id", txn_id, &txn_size) ==
                             RD_KAFKA_CONF_OK &&
                         *txn_id;
    /* Producer defaults for at-least-once, unless -X said otherwise. */
    mm_kafka_conf_default(conf, "enable.idempotence", "true");
    /* Retry until delivered; a transaction bounds it by its own timeout. */
    if (!transactional)
        mm_kafka_conf_default(conf, "message.timeout.ms", "0");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, ks);
    ks->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (!ks->rk) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    ks->moment_topic = rd_kafka_topic_new(ks->rk, moment_topic, NULL);
    if (!ks->moment_topic || !ks->dlq_topic) {
        snprintf(errstr, errstr_size, "cannot create topic handle for %s", moment_topic);
        goto fail;
    }
    return sink;
fail:
    kafka_sink_destroy(ks);
    free(sink);
    return NULL;
}

rd_kafka_t *mm_sink_kafka_handle(mm_sink_t *sink) {
    return sink->ops == &mm_sink_kafka_ops ? ((kafka_sink_t *)sink->ctx)->rk : NULL;
}

void mm_sink_destroy(mm_sink_t *sink) {
    if (!sink)
        return;
    sink->ops->destroy(sink->ctx);
    free(sink);
}
