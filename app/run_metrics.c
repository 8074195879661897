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

#include "kafka_stats.h"
#include "log.h"

#define M_MOMENTS "mm_moments_out_total"

static void counters(mm_metrics_writer_t *w, const mm_engine_stats_t *st) {
    mm_metrics_counter(w, "mm_events_in_total", "Input records taken in.", NULL,
                       (double)st->records_in);
    for (int t = 0; t < MM_MOMENT__COUNT; t++)
        mm_metrics_counter(w, M_MOMENTS, "Moments written, by type.",
                           MM_LABELS("moment", mm_moment_type_name((mm_moment_type_t)t)),
                           (double)st->moments_out[t]);
    for (int e = 1; e < MM_ERR__COUNT; e++) {
        uint64_t n = st->dead_out[e];
        if (e > MM_ERR_PROCESSING && n == 0)
            continue; /* runtime errors never reach the DLQ */
        mm_metrics_counter(w, "mm_dlq_records_total", "Dead letters, by error code.",
                           MM_LABELS("code", mm_err_name((mm_err_t)e)), (double)n);
    }
}

static void state(mm_metrics_writer_t *w, mm_run_t *run, const mm_engine_stats_t *st) {
    mm_metrics_gauge(w, "mm_state_users", "Users tracked in per-user state.", NULL,
                     (double)st->state_users);
    mm_metrics_counter(w, "mm_state_evictions_total", "Users dropped from state.",
                       MM_LABELS("reason", "cap"), (double)st->evicted_cap);
    mm_metrics_counter(w, "mm_state_evictions_total", "Users dropped from state.",
                       MM_LABELS("reason", "ttl"), (double)st->expired_ttl);
    mm_metrics_counter(w, "mm_reloads_total", "Rule reloads (SIGHUP), by result.",
                       MM_LABELS("result", "ok"), (double)atomic_load(&run->reloads_ok));
    mm_metrics_counter(w, "mm_reloads_total", "Rule reloads (SIGHUP), by result.",
                       MM_LABELS("result", "failed"),
                       (double)atomic_load(&run->reloads_failed));
    mm_metrics_gauge(w, "mm_partitions_assigned", "Input partitions assigned to this instance.",
                     NULL, (double)st->partitions);
    mm_metrics_gauge(w, "mm_partitions_waiting",
                     "Input partitions parked on the schema registry.", NULL,
                     (double)st->partitions_waiting);
    mm_metrics_counter(w, "mm_late_events_total",
                       "Events behind their partition's newest event time by more than "
                       "mm.lateness.ms.", NULL, (double)st->late_events);
    for (int t = 0; t < MM_MOMENT__COUNT; t++)
        mm_metrics_counter(w, "mm_conversions_total",
                           "Conversions, by the type of each moment they are attributed to.",
                           MM_LABELS("moment", mm_moment_type_name((mm_moment_type_t)t)),
                           (double)st->conversions_attributed[t]);
    mm_metrics_counter(w, "mm_conversions_events_total", "Conversion events seen.", NULL,
                       (double)st->conversions);
    mm_metrics_counter(w, "mm_profiles_out_total", "Profile updates written.", NULL,
                       (double)st->profiles_out);
    mm_metrics_counter(w, "mm_state_snapshots_total", "User state snapshots written.", NULL,
                       (double)st->snapshots_out);
    mm_metrics_counter(w, "mm_checkpoints_total", "Checkpoints (profiles, snapshots, commit).",
                       NULL, (double)st->checkpoints);
    mm_metrics_counter(w, "mm_state_restored_users_total",
                       "Users restored from the changelog.", NULL, (double)st->restored_users);
    mm_metrics_counter(w, "mm_state_restore_seconds_total",
                       "Time spent restoring state from the changelog.", NULL,
                       (double)st->restore_ms / 1000.0);
    mm_metrics_gauge(w, "mm_input_topics_missing",
                     "Input topics subscribed to that do not exist.", NULL,
                     (double)st->input_topics_missing);
}

/* Lag from what was processed (not what was fetched): a partition parked on
 * the registry shows its records piling up. */
static void lag_one(const mm_engine_partition_t *p, void *ctx) {
    mm_metrics_writer_t *w = ctx;
    if (p->end < 0)
        return;
    int64_t pos = p->processed >= 0 ? p->processed : p->committed;
    if (pos < 0)
        return;
    char partition[16];
    snprintf(partition, sizeof(partition), "%" PRId32, p->partition);
    mm_metrics_gauge(w, "mm_consumer_lag",
                     "Records behind the partition's end, from the last one processed.",
                     MM_LABELS("topic", p->topic, "partition", partition),
                     (double)(p->end > pos ? p->end - pos : 0));
}

static void latency(mm_metrics_writer_t *w, mm_run_t *run) {
    mm_histogram_t *sum = mm_histogram_new();
    if (!sum)
        return;
    mm_engine_latency(run->engine, sum);
    mm_metrics_histogram(w, "mm_processing_latency_seconds",
                         "From the input record's timestamp to its moment's detection.",
                         NULL, sum);
    mm_histogram_destroy(sum);
}

/* ---------------------------------------------------- librdkafka statistics */

void mm__run_on_stats(const char *json, size_t json_len, void *ctx) {
    mm_run_t *run = ctx;
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
}

static void kafka(mm_metrics_writer_t *w, mm_run_t *run, const mm_engine_stats_t *st) {
    for (int i = 0; i < st->n_workers; i++) {
        char client[32];
        snprintf(client, sizeof(client), "producer-%d", i);
        mm_metrics_gauge(w, "mm_kafka_queue_depth", "Messages waiting in the client's queues.",
                         MM_LABELS("client", client), (double)st->producer_queue[i]);
    }
    pthread_mutex_lock(&run->stats_lock);
    if (run->stats_json)
        mm_kafka_stats_broker_rtts(w, "consumer", run->stats_json, strlen(run->stats_json));
    pthread_mutex_unlock(&run->stats_lock);
}

void mm__run_collect(mm_metrics_writer_t *w, void *ctx) {
    mm_run_t *run = ctx;
    mm_engine_stats_t st;
    mm_engine_stats(run->engine, &st);
    counters(w, &st);
    mm_engine_partitions(run->engine, lag_one, w);
    latency(w, run);
    state(w, run, &st);
    kafka(w, run, &st);
    mm_metrics_gauge(w, "mm_build_info", "Build information.",
                     MM_LABELS("version", MM_VERSION,
                               "librdkafka", rd_kafka_version_str()),
                     1);
}
