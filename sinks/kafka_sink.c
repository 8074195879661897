/*
 * Kafka sink: moments and dead letters through one idempotent producer.
 *
 * Delivery: the producer retries by itself (message.timeout.ms defaults to
 * infinite here), so a delivery report with an error means the error is one
 * that retrying will not fix. The sink says which kind (mm_sink_fault_t):
 * the record (too large, invalid), the topic (missing, not authorised) or
 * something else, and passes the destination's own words on.
 *
 * A dead letter is the last place a record can go, so the sink does not give
 * up on one the broker refuses as too large: it writes it again with its
 * value cut to half of what was refused (headers mm.value.truncated and
 * mm.value.original.size say so) until the broker takes it or the value is
 * empty. Key, headers, reason and source coordinates always go whole.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks.h"

#define MAX_TOPICS 16

typedef struct kafka_sink_s {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topics[MAX_TOPICS];
    int n_topics;
    rd_kafka_topic_t *dlq;
    size_t message_max_bytes;
    mm_sink_ack_cb *ack;
    void *ack_ctx;
} kafka_sink_t;

static mm_sink_fault_t fault_of(rd_kafka_resp_err_t err) {
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return MM_SINK_FAULT_NONE;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
        return MM_SINK_FAULT_RECORD;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        return MM_SINK_FAULT_TOPIC;
    default:
        return MM_SINK_FAULT_OTHER;
    }
}

/* "Broker: Message size too large (MSG_SIZE_TOO_LARGE)": the prose and the
 * name an operator can search for. */
static const char *describe(rd_kafka_resp_err_t err, char *buf, size_t size) {
    snprintf(buf, size, "%s (%s)", rd_kafka_err2str(err), rd_kafka_err2name(err));
    return buf;
}

/* An output's fate; or, with @p again_len other than SIZE_MAX, a refusal
 * whose bytes go again cut to that length (the fate comes later). */
static void report(kafka_sink_t *ks, void *opaque, rd_kafka_resp_err_t err,
                   const char *topic, mm_str_t key, mm_str_t value, size_t again_len) {
    char why[256];
    mm_sink_ack_t ack = {
        .err = err ? MM_ERR_KAFKA : MM_ERR_OK,
        .fault = fault_of(err),
        .reason = err ? describe(err, why, sizeof(why)) : NULL,
        .topic = topic,
        .key = key,
        .value = value,
        .again = again_len != SIZE_MAX,
        .again_len = again_len != SIZE_MAX ? again_len : 0,
    };
    ks->ack(opaque, &ack, ks->ack_ctx);
}

/* Produce, waiting for room when the local queue is full: that is the
 * back-pressure that keeps memory bounded when the broker is slow. */
static rd_kafka_resp_err_t produce_blocking(kafka_sink_t *ks, rd_kafka_vu_t *vus,
                                            size_t cnt) {
    for (;;) {
        rd_kafka_error_t *error = rd_kafka_produceva(ks->rk, vus, cnt);
        if (!error)
            return RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_resp_err_t code = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
        if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return code;
        rd_kafka_poll(ks->rk, 50);
    }
}

static mm_err_t write_record(void *ctx, int topic, int32_t partition, mm_str_t key,
                             const char *payload, size_t len, void *opaque) {
    kafka_sink_t *ks = ctx;
    rd_kafka_topic_t *rkt = ks->topics[topic >= 0 && topic < ks->n_topics ? topic : 0];
    rd_kafka_vu_t vus[] = {
        {.vtype = RD_KAFKA_VTYPE_RKT, .u.rkt = rkt},
        {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)key.p, key.len}},
        {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {(void *)payload, payload ? len : 0}},
        {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
        {.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = opaque},
        {.vtype = RD_KAFKA_VTYPE_PARTITION, .u.i32 = partition},
    };
    rd_kafka_resp_err_t err = produce_blocking(ks, vus, sizeof(vus) / sizeof(vus[0]));
    if (err && fault_of(err) == MM_SINK_FAULT_RECORD) {
        /* Refused before it left (over message.max.bytes): its fate is
         * known now, and it is the record's, not the stream's. */
        report(ks, opaque, err, rd_kafka_topic_name(rkt), key, (mm_str_t){payload, len},
               SIZE_MAX);
        return MM_ERR_OK;
    }
    return err ? MM_ERR_KAFKA : MM_ERR_OK;
}

static void add_header(rd_kafka_headers_t *hdrs, const char *name, const char *value,
                       size_t len) {
    rd_kafka_header_add(hdrs, name, -1, value, (ssize_t)len);
}

static void add_number_header(rd_kafka_headers_t *hdrs, const char *name, int64_t v) {
    char num[32];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);
    add_header(hdrs, name, num, (size_t)n);
}

/* Writes a dead letter with @p hdrs (taken) and a value cut to @p len. */
static rd_kafka_resp_err_t produce_dead(kafka_sink_t *ks, rd_kafka_headers_t *hdrs,
                                        mm_str_t key, mm_str_t value, size_t len,
                                        size_t original_len, void *opaque) {
    if (len < value.len) {
        rd_kafka_header_remove(hdrs, MM_DLQ_HDR_TRUNCATED);
        rd_kafka_header_remove(hdrs, MM_DLQ_HDR_ORIGINAL_SIZE);
        add_header(hdrs, MM_DLQ_HDR_TRUNCATED, "true", 4);
        add_number_header(hdrs, MM_DLQ_HDR_ORIGINAL_SIZE, (int64_t)original_len);
    }
    rd_kafka_vu_t vus[] = {
        {.vtype = RD_KAFKA_VTYPE_RKT, .u.rkt = ks->dlq},
        {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)key.p, key.len}},
        {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {(void *)value.p, len}},
        {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
        {.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = opaque},
        {.vtype = RD_KAFKA_VTYPE_HEADERS, .u.headers = hdrs},
    };
    rd_kafka_resp_err_t err = produce_blocking(ks, vus, sizeof(vus) / sizeof(vus[0]));
    if (err)
        rd_kafka_headers_destroy(hdrs); /* ownership passes only on success */
    return err;
}

/* Room for the value in a message of message.max.bytes: what the key and
 * headers take, plus the record batch's own framing (under 100 bytes; 512
 * leaves a margin for the protocol's varints). */
static size_t value_room(const kafka_sink_t *ks, const rd_kafka_headers_t *hdrs,
                         size_t key_len) {
    size_t used = key_len + 512;
    const char *name;
    const void *val;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR;
         i++)
        used += strlen(name) + size + 8;
    return ks->message_max_bytes > used ? ks->message_max_bytes - used : 0;
}

/* A dead letter refused as too large at @p refused_len bytes of value: again,
 * with half of it, halving while this producer refuses it at once.
 * @returns the value length of the copy now on its way, or SIZE_MAX when
 * there is nothing left to cut or another error came. */
static size_t retry_dead_smaller(kafka_sink_t *ks, const rd_kafka_headers_t *hdrs,
                                 mm_str_t key, mm_str_t value, size_t refused_len,
                                 size_t original_len, void *opaque) {
    while (refused_len > 0) {
        size_t len = refused_len / 2;
        rd_kafka_resp_err_t err = produce_dead(ks, rd_kafka_headers_copy(hdrs), key, value,
                                               len, original_len, opaque);
        if (!err)
            return len;
        if (fault_of(err) != MM_SINK_FAULT_RECORD)
            return SIZE_MAX;
        refused_len = len;
    }
    return SIZE_MAX;
}

static mm_err_t write_dead(void *ctx, const mm_dead_letter_t *dl, void *opaque) {
    kafka_sink_t *ks = ctx;
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(10);
    const char *code = mm_err_name(dl->err);
    add_header(hdrs, MM_DLQ_HDR_ERROR, code, strlen(code));
    const char *reason = dl->reason ? dl->reason : mm_err_str(dl->err);
    add_header(hdrs, MM_DLQ_HDR_REASON, reason, strlen(reason));
    add_number_header(hdrs, MM_DLQ_HDR_TIME, dl->time_ms);
    add_header(hdrs, MM_DLQ_HDR_TOPIC, dl->source.topic.p, dl->source.topic.len);
    add_number_header(hdrs, MM_DLQ_HDR_PARTITION, dl->source.partition);
    add_number_header(hdrs, MM_DLQ_HDR_OFFSET, dl->source.offset);
    if (dl->source_ts >= 0)
        add_number_header(hdrs, MM_DLQ_HDR_TIMESTAMP, dl->source_ts);
    /* What this producer would refuse anyway is cut now, not after a
     * round trip. */
    size_t room = value_room(ks, hdrs, dl->key.len);
    if (dl->value_cut && dl->value_max < room)
        room = dl->value_max;
    size_t len = dl->value.len < room ? dl->value.len : room;
    rd_kafka_resp_err_t err =
        produce_dead(ks, hdrs, dl->key, dl->value, len, dl->value.len, opaque);
    if (err && fault_of(err) == MM_SINK_FAULT_RECORD) {
        report(ks, opaque, err, rd_kafka_topic_name(ks->dlq), dl->key, dl->value, SIZE_MAX);
        return MM_ERR_OK;
    }
    return err ? MM_ERR_KAFKA : MM_ERR_OK;
}

static size_t original_size(rd_kafka_headers_t *hdrs, size_t len) {
    const void *val;
    size_t size;
    char num[32];
    if (rd_kafka_header_get_last(hdrs, MM_DLQ_HDR_ORIGINAL_SIZE, &val, &size) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        size >= sizeof(num))
        return len;
    memcpy(num, val, size);
    num[size] = '\0';
    return (size_t)strtoull(num, NULL, 10);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *conf_opaque) {
    (void)rk;
    kafka_sink_t *ks = conf_opaque;
    mm_str_t key = {rkm->key, rkm->key_len};
    mm_str_t value = {rkm->payload, rkm->len};
    size_t again_len = SIZE_MAX;
    rd_kafka_headers_t *hdrs = NULL;
    if (rkm->err && rkm->rkt == ks->dlq && fault_of(rkm->err) == MM_SINK_FAULT_RECORD &&
        rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
        /* Its fate comes with the smaller copy; the refusal is told now,
         * so the log says what the broker answered. */
        again_len = retry_dead_smaller(ks, hdrs, key, value, rkm->len,
                                       original_size(hdrs, rkm->len), rkm->_private);
    report(ks, rkm->_private, rkm->err, rd_kafka_topic_name(rkm->rkt), key, value, again_len);
}

static void sink_poll(void *ctx, int timeout_ms) {
    kafka_sink_t *ks = ctx;
    rd_kafka_poll(ks->rk, timeout_ms);
}

static size_t outstanding(void *ctx) {
    kafka_sink_t *ks = ctx;
    return (size_t)rd_kafka_outq_len(ks->rk);
}

static bool sink_fatal(void *ctx, char *errstr, size_t errstr_size) {
    kafka_sink_t *ks = ctx;
    return rd_kafka_fatal_error(ks->rk, errstr, errstr_size) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* librdkafka's purge is safe from any thread; a commit waiting on these
 * messages returns at once with an abortable error. */
static void sink_cancel(void *ctx) {
    kafka_sink_t *ks = ctx;
    rd_kafka_purge(ks->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                               RD_KAFKA_PURGE_F_NON_BLOCKING);
}

/* ----------------------------------------------------------- transactions */

static mm_txn_res_t txn_result(rd_kafka_error_t *error, char *errstr, size_t errstr_size) {
    if (!error)
        return MM_TXN_OK;
    rd_kafka_resp_err_t code = rd_kafka_error_code(error);
    snprintf(errstr, errstr_size, "%s (%s)", rd_kafka_error_string(error),
             rd_kafka_err2name(code));
    mm_txn_res_t res = MM_TXN_FATAL;
    if (code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
        code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH)
        res = MM_TXN_FENCED;
    else if (rd_kafka_error_is_retriable(error))
        res = MM_TXN_RETRY;
    else if (rd_kafka_error_txn_requires_abort(error))
        res = MM_TXN_ABORT;
    rd_kafka_error_destroy(error);
    return res;
}

static mm_txn_res_t txn_begin(void *ctx, char *errstr, size_t errstr_size) {
    kafka_sink_t *ks = ctx;
    return txn_result(rd_kafka_begin_transaction(ks->rk), errstr, errstr_size);
}

static mm_txn_res_t txn_commit(void *ctx, const mm_txn_offset_t *offsets, size_t n,
                               void *group_metadata, int timeout_ms, char *errstr,
                               size_t errstr_size) {
    kafka_sink_t *ks = ctx;
    if (n > 0) {
        rd_kafka_topic_partition_list_t *list =
            rd_kafka_topic_partition_list_new((int)n);
        for (size_t i = 0; i < n; i++)
            rd_kafka_topic_partition_list_add(list, offsets[i].topic, offsets[i].partition)
                ->offset = offsets[i].offset;
        rd_kafka_error_t *error =
            rd_kafka_send_offsets_to_transaction(ks->rk, list, group_metadata, timeout_ms);
        rd_kafka_topic_partition_list_destroy(list);
        if (error)
            return txn_result(error, errstr, errstr_size);
    }
    return txn_result(rd_kafka_commit_transaction(ks->rk, timeout_ms), errstr, errstr_size);
}

static mm_txn_res_t txn_abort(void *ctx, int timeout_ms, char *errstr, size_t errstr_size) {
    kafka_sink_t *ks = ctx;
    return txn_result(rd_kafka_abort_transaction(ks->rk, timeout_ms), errstr, errstr_size);
}

/* ------------------------------------------------------------- lifecycle */

static void kafka_sink_destroy(void *ctx) {
    kafka_sink_t *ks = ctx;
    if (!ks)
        return;
    for (int i = 0; i < ks->n_topics; i++)
        rd_kafka_topic_destroy(ks->topics[i]);
    if (ks->dlq)
        rd_kafka_topic_destroy(ks->dlq);
    if (ks->rk)
        rd_kafka_destroy(ks->rk);
    free(ks);
}

static const mm_sink_ops_t mm_sink_kafka_ops = {
    .name = "kafka",
    .write = write_record,
    .write_dead = write_dead,
    .poll = sink_poll,
    .outstanding = outstanding,
    .fatal = sink_fatal,
    .cancel = sink_cancel,
    .destroy = kafka_sink_destroy,
};

static const mm_sink_ops_t mm_sink_kafka_txn_ops = {
    .name = "kafka-transactional",
    .write = write_record,
    .write_dead = write_dead,
    .poll = sink_poll,
    .outstanding = outstanding,
    .fatal = sink_fatal,
    .cancel = sink_cancel,
    .txn_begin = txn_begin,
    .txn_commit = txn_commit,
    .txn_abort = txn_abort,
    .destroy = kafka_sink_destroy,
};

static bool key_listed(const char *user_keys, const char *key) {
    if (!user_keys)
        return false;
    size_t len = strlen(key);
    for (const char *at = strstr(user_keys, key); at; at = strstr(at + 1, key))
        if (at > user_keys && at[-1] == ',' && at[len] == ',')
            return true;
    return false;
}

bool mm_kafka_conf_user_set(rd_kafka_conf_t *conf, const char *user_keys, const char *key,
                            char *value, size_t value_size) {
    char def[256];
    size_t cur_size = value_size, def_size = sizeof(def);
    /* A topic-level key (auto.offset.reset) reads back from a global
     * configuration only once something set it. */
    if (rd_kafka_conf_get(conf, key, value, &cur_size) != RD_KAFKA_CONF_OK)
        return false;
    if (key_listed(user_keys, key))
        return true;
    rd_kafka_conf_t *fresh = rd_kafka_conf_new();
    bool user_set = rd_kafka_conf_get(fresh, key, def, &def_size) != RD_KAFKA_CONF_OK ||
                    strcmp(value, def) != 0;
    rd_kafka_conf_destroy(fresh);
    return user_set;
}

void mm_kafka_conf_default(rd_kafka_conf_t *conf, const char *user_keys, const char *key,
                           const char *value) {
    char cur[256];
    if (mm_kafka_conf_user_set(conf, user_keys, key, cur, sizeof(cur)))
        return; /* theirs wins */
    char errstr[256];
    rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr));
}

mm_sink_t *mm_sink_kafka_new(rd_kafka_conf_t *conf, const mm_sink_kafka_conf_t *kconf,
                             mm_sink_ack_cb *ack, void *ack_ctx, char *errstr,
                             size_t errstr_size) {
    mm_sink_t *sink = calloc(1, sizeof(*sink));
    kafka_sink_t *ks = calloc(1, sizeof(*ks));
    if (!sink || !ks || kconf->n_topics < 1 || kconf->n_topics > MAX_TOPICS) {
        snprintf(errstr, errstr_size, "%s",
                 sink && ks ? "a Kafka sink takes 1 to 16 topics" : "out of memory");
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    bool transactional = kconf->txn_init_timeout_ms > 0;
    sink->ops = transactional ? &mm_sink_kafka_txn_ops : &mm_sink_kafka_ops;
    sink->ctx = ks;
    ks->ack = ack;
    ks->ack_ctx = ack_ctx;
    /* Producer defaults for at-least-once, unless -X said otherwise. */
    mm_kafka_conf_default(conf, kconf->user_keys, "enable.idempotence", "true");
    /* Retry until delivered; a transaction bounds it by its own timeout. */
    if (!transactional)
        mm_kafka_conf_default(conf, kconf->user_keys, "message.timeout.ms", "0");

    /* The engine checks at start that its topics exist, so a topic the
     * cluster stops knowing was deleted: fail its messages within seconds,
     * not after librdkafka's 30 s allowance for a topic still being created. */
    mm_kafka_conf_default(conf, kconf->user_keys, "topic.metadata.propagation.max.ms", "5000");
    /* Batch for 50 ms, not librdkafka's 5. Moments are small and keyed over
     * many partitions: with 5 ms the producer's broker thread woke about once
     * per moment on a real Kafka (1.0 syscalls per input record against 0.12,
     * 5.1 against 3.6 us of CPU per record; bench/README.md). The price is
     * latency: a moment may wait up to 50 ms before it is sent. -X linger.ms
     * sets another bound. */
    mm_kafka_conf_default(conf, kconf->user_keys, "linger.ms", "50");
    char num[32];
    size_t num_size = sizeof(num);
    ks->message_max_bytes = 1000000;
    if (rd_kafka_conf_get(conf, "message.max.bytes", num, &num_size) == RD_KAFKA_CONF_OK)
        ks->message_max_bytes = (size_t)strtoull(num, NULL, 10);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, ks);
    ks->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (!ks->rk) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    for (int i = 0; i < kconf->n_topics; i++) {
        if (!(ks->topics[i] = rd_kafka_topic_new(ks->rk, kconf->topics[i], NULL))) {
            snprintf(errstr, errstr_size, "cannot create topic handle for %s",
                     kconf->topics[i]);
            goto fail;
        }
        ks->n_topics = i + 1;
    }
    if (!(ks->dlq = rd_kafka_topic_new(ks->rk, kconf->dlq_topic, NULL))) {
        snprintf(errstr, errstr_size, "cannot create topic handle for %s", kconf->dlq_topic);
        goto fail;
    }
    if (transactional) {
        rd_kafka_error_t *error = rd_kafka_init_transactions(ks->rk, kconf->txn_init_timeout_ms);
        if (error) {
            snprintf(errstr, errstr_size, "cannot initialise transactions: %s",
                     rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            goto fail;
        }
    }
    return sink;
fail:
    kafka_sink_destroy(ks);
    free(sink);
    return NULL;
}

void mm_sink_destroy(mm_sink_t *sink) {
    if (!sink)
        return;
    sink->ops->destroy(sink->ctx);
    free(sink);
}
