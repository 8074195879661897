/*
 * What `run` exposes at mm.metrics.listen. The collect callback runs on the
 * HTTP thread and only reads: workers' counters and gauges (single-writer
 * atomics), their latency histograms (merged into a scratch copy),
 * librdkafka's thread-safe getters, and the statistics librdkafka last
 * emitted (kept under a mutex: written every few seconds, read per scrape,
 * never touched by the record path).
 */
#include "run_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "log.h"

#define M_MOMENTS "mm_moments_out_total"

static void counters(mm_metrics_writer_t *w, mm_run_t *run) {
    mm_metrics_counter(w, "mm_events_in_total", "Input records taken in.", NULL,
                       (double)mm_run_counter(run, MM_RUN_RECORDS_IN, 0));
    for (int t = 0; t < MM_MOMENT__COUNT; t++)
        mm_metrics_counter(w, M_MOMENTS, "Moments written, by type.",
                           MM_LABELS("moment", mm_moment_type_name((mm_moment_type_t)t)),
                           (double)mm_run_counter(run, MM_RUN_MOMENTS_OUT, t));
    for (int e = 1; e < MM_ERR__COUNT; e++) {
        uint64_t n = mm_run_counter(run, MM_RUN_DEAD_OUT, e);
        if (e > MM_ERR_PROCESSING && n == 0)
            continue; /* runtime errors never reach the DLQ */
        mm_metrics_counter(w, "mm_dlq_records_total", "Dead letters, by error code.",
                           MM_LABELS("code", mm_err_name((mm_err_t)e)), (double)n);
    }
}

static void state(mm_metrics_writer_t *w, mm_run_t *run) {
    uint64_t users = 0, cap = 0, ttl = 0;
    for (int i = 0; i < run->n_workers; i++) {
        const mm_worker_gauges_t *g = mm_worker_gauges(run->workers[i]);
        users += atomic_load_explicit(&g->state_users, memory_order_relaxed);
        cap += atomic_load_explicit(&g->evicted_cap, memory_order_relaxed);
        ttl += atomic_load_explicit(&g->expired_ttl, memory_order_relaxed);
    }
    mm_metrics_gauge(w, "mm_state_users", "Users tracked in per-user state.", NULL,
                     (double)users);
    mm_metrics_counter(w, "mm_state_evictions_total", "Users dropped from state.",
                       MM_LABELS("reason", "cap"), (double)cap);
    mm_metrics_counter(w, "mm_state_evictions_total", "Users dropped from state.",
                       MM_LABELS("reason", "ttl"), (double)ttl);
    mm_metrics_counter(w, "mm_reloads_total", "Rule reloads (SIGHUP), by result.",
                       MM_LABELS("result", "ok"), (double)atomic_load(&run->reloads_ok));
    mm_metrics_counter(w, "mm_reloads_total", "Rule reloads (SIGHUP), by result.",
                       MM_LABELS("result", "failed"),
                       (double)atomic_load(&run->reloads_failed));
}

static void lag(mm_metrics_writer_t *w, mm_run_t *run) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(run->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    rd_kafka_position(run->consumer, parts);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t low, high;
        if (rd_kafka_get_watermark_offsets(run->consumer, p->topic, p->partition, &low,
                                           &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            high < 0)
            continue;
        int64_t pos = p->offset >= 0 ? p->offset : low;
        char partition[16];
        snprintf(partition, sizeof(partition), "%" PRId32, p->partition);
        mm_metrics_gauge(w, "mm_consumer_lag", "Records behind the partition's end.",
                         MM_LABELS("topic", p->topic, "partition", partition),
                         (double)(high > pos ? high - pos : 0));
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

static void latency(mm_metrics_writer_t *w, mm_run_t *run) {
    mm_histogram_t *sum = mm_histogram_new();
    if (!sum)
        return;
    for (int i = 0; i < run->n_workers; i++)
        mm_histogram_merge(sum, mm_worker_latency(run->workers[i]));
    mm_metrics_histogram(w, "mm_processing_latency_seconds",
                         "From the input record's timestamp to its moment's detection.",
                         NULL, sum);
    mm_histogram_destroy(sum);
}

/* ---------------------------------------------------- librdkafka statistics */

/* Pulls "avg" of the "rtt" object of each broker out of librdkafka's
 * statistics JSON: each broker object has "nodename" before its "rtt". */
static void broker_rtts(mm_metrics_writer_t *w, const char *client, const char *json) {
    const char *brokers = strstr(json, "\"brokers\":");
    const char *p = brokers;
    while (p && (p = strstr(p, "\"nodename\":\"")) != NULL) {
        p += strlen("\"nodename\":\"");
        const char *end = strchr(p, '"');
        const char *rtt = strstr(p, "\"rtt\":");
        const char *avg = rtt ? strstr(rtt, "\"avg\":") : NULL;
        if (!end || !avg)
            break;
        char node[128];
        size_t len = (size_t)(end - p) < sizeof(node) - 1 ? (size_t)(end - p) : sizeof(node) - 1;
        memcpy(node, p, len);
        node[len] = '\0';
        double us = strtod(avg + strlen("\"avg\":"), NULL);
        if (*node)
            mm_metrics_gauge(w, "mm_kafka_broker_rtt_seconds",
                             "Broker round-trip time (librdkafka's average).",
                             MM_LABELS("client", client, "broker", node), us / 1e6);
        p = avg;
    }
}

int mm__run_on_stats(rd_kafka_t *rk, char *json, size_t json_len, void *opaque) {
    (void)rk;
    mm_run_t *run = opaque;
    pthread_mutex_lock(&run->stats_lock);
    if (json_len + 1 > run->stats_cap) {
        char *grown = realloc(run->stats_json, json_len + 1);
        if (grown) {
            run->stats_json = grown;
            run->stats_cap = json_len + 1;
        }
    }
    if (json_len + 1 <= run->stats_cap) {
        memcpy(run->stats_json, json, json_len);
        run->stats_json[json_len] = '\0';
    }
    pthread_mutex_unlock(&run->stats_lock);
    return 0; /* librdkafka frees json */
}

static void kafka(mm_metrics_writer_t *w, mm_run_t *run) {
    for (int i = 0; i < run->n_workers; i++) {
        char client[32];
        snprintf(client, sizeof(client), "producer-%d", i);
        rd_kafka_t *rk = mm_worker_producer(run->workers[i]);
        if (rk)
            mm_metrics_gauge(w, "mm_kafka_queue_depth",
                             "Messages waiting in the client's queues.",
                             MM_LABELS("client", client), (double)rd_kafka_outq_len(rk));
    }
    pthread_mutex_lock(&run->stats_lock);
    if (run->stats_json)
        broker_rtts(w, "consumer", run->stats_json);
    pthread_mutex_unlock(&run->stats_lock);
}

void mm__run_collect(mm_metrics_writer_t *w, void *ctx) {
    mm_run_t *run = ctx;
    counters(w, run);
    lag(w, run);
    latency(w, run);
    state(w, run);
    kafka(w, run);
    mm_metrics_gauge(w, "mm_build_info", "Build information.",
                     MM_LABELS("version", MM_VERSION,
                               "librdkafka", rd_kafka_version_str()),
                     1);
}
