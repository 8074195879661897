/*
 * micromoment's stream engine: Kafka records in, moments and dead letters
 * out, input offsets committed only for what was delivered.
 *
 * One consumer thread polls the input and hands each record to the worker
 * thread that owns its partition; a worker decodes, classifies, encodes and
 * produces through its own producer, and makes its output durable with one of
 * two delivery modes (at-least-once: commit acknowledged offsets;
 * exactly-once: Kafka transactions). A task is one input partition: its
 * per-user state, its offsets and its outputs belong to one worker.
 *
 * LIFE CYCLE (docs/engine.md tells the same story with the failure cases)
 *
 *   new       checks the configuration, builds the workers' producers.
 *   start     waits (bounded by mm.startup.timeout.ms) until a broker answers
 *             and the output topics exist, then starts the threads and joins
 *             the group (or assigns the named partitions).
 *   assign    a partition's task opens on its worker before its first record.
 *   run       records flow; a record whose schema the registry cannot give yet
 *             parks its partition only (paused, sought back, retried), never
 *             its worker.
 *   revoke    the worker finishes the partition's in-flight outputs (bounded
 *             by mm.shutdown.timeout.ms), commits them and drops the task;
 *             the rebalance callback waits on a semaphore, not a spin.
 *   drain     --exit-on-eof: once every assigned partition is at its end and
 *             every output acknowledged and committed, the engine ends by
 *             itself.
 *   stop      mm_engine_stop() from any thread: stop taking records, finish
 *             and commit in-flight work (bounded), leave the group.
 *
 * Whatever ends the run, mm_engine_wait() returns and mm_engine_exit_code()
 * says how: 0 (stopped, or drained) or 1 with the reason (no broker, missing
 * topic, an output the destination will never take, fenced).
 *
 * @locality every function here may be called from any thread, except
 *           mm_engine_destroy (once, after the run ended or never started).
 */
#ifndef MM_ENGINE_H
#define MM_ENGINE_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../classifier/classifier.h"
#include "../consumer/consumer.h"
#include "../sinks/sinks.h"
#include "histogram.h"

typedef enum { MM_DELIVERY_AT_LEAST_ONCE, MM_DELIVERY_EXACTLY_ONCE } mm_delivery_t;
typedef enum { MM_INPUT_AUTO, MM_INPUT_JSON, MM_INPUT_AVRO } mm_input_format_t;
typedef enum { MM_OUTPUT_JSON, MM_OUTPUT_AVRO } mm_output_format_t;
typedef enum { MM_ROUTING_SINGLE, MM_ROUTING_PER_TYPE } mm_routing_t;
/* auto: on when its topic exists at start (a line says which), else off. */
typedef enum { MM_FEATURE_AUTO, MM_FEATURE_ON, MM_FEATURE_OFF } mm_feature_t;
typedef enum { MM_PARTITIONER_CONSISTENT, MM_PARTITIONER_MURMUR2 } mm_partitioner_t;

#define MM_ENGINE_WORKERS_MAX 64
#define MM_ENGINE_BATCH_MAX 1024

/** The engine's part of the configuration (app/config.c's table fills it). */
typedef struct mm_engine_conf_s {
    char input_topics[1024]; /* TOPIC[,TOPIC] or TOPIC:N-M[,...] */
    char output_topic[256];
    char dlq_topic[256];
    char transactional_id[256]; /* exactly-once prefix; "": per instance */
    /* librdkafka keys the user set (-X, configuration file), as ",k1,k2,":
     * a key set to librdkafka's own default keeps that value, where our
     * defaults would otherwise replace it (mm_kafka_conf_default). */
    char kafka_user_keys[4096];
    int64_t txn_interval_ms;
    int64_t txn_max_records;
    int delivery;      /* mm_delivery_t */
    int input_format;  /* mm_input_format_t */
    int output_format; /* mm_output_format_t */
    uint32_t output_omit; /* JSON: top-level moment fields left out (bits of
                           * mm_moment_field_t, mm.output.fields); 0: all */
    int64_t output_schema_id;
    int routing;                                 /* mm_routing_t */
    char type_topics[MM_MOMENT__COUNT][256];     /* per-type; "": <output>.<type> */
    /* profiles: the compacted topic, GET /users/{id} */
    int profiles;                                /* mm_feature_t */
    char profiles_topic[256];
    int64_t profile_window_ms;
    /* conversions and attribution */
    int conversions;                             /* mm_feature_t */
    char conversions_topic[256];
    char conversion_types[256];                  /* event types, comma-separated */
    int64_t attribution_window_ms;
    uint32_t attribution_max;
    /* late events: behind the partition's watermark by more than lateness_ms */
    int64_t lateness_ms;
    char late_topic[256];                        /* "": none */
    /* per-user state restored from a compacted changelog on assignment */
    int changelog;                               /* mm_feature_t */
    char changelog_topic[256];
    int partitioner;                             /* mm_partitioner_t: the input's */
    /* Avro input */
    char schema_files[4096];
    char registry_url[1024];
    char registry_user_info[512]; /* basic auth user:password; "": the URL's */
    char registry_ca_file[1024];  /* PEM CA bundle for https; "": the system's */
    char reader_schema_path[1024];
    int64_t registry_timeout_ms;
    int64_t registry_retry_ms;
    int64_t registry_negative_ttl_ms;
    int64_t registry_wait_max_ms; /* 0: a parked record waits for ever */
    int64_t schema_cache_max;
    /* flow */
    int64_t commit_interval_ms;
    int64_t shutdown_timeout_ms;
    int64_t startup_timeout_ms;
    int64_t inflight_per_partition;
    uint32_t workers;
    uint32_t batch_records; /* a worker's batch: 1 .. MM_ENGINE_BATCH_MAX */
    mm_state_conf_t state;
    mm_decode_limits_t limits;
    bool exit_on_eof;
} mm_engine_conf_t;

/** @brief The Avro decoder's settings (schema files, registry, cache) from
 * @p conf; pointers borrow from it. For the engine's decoders and for
 * registering the output schema at start. */
void mm_engine_avro_conf(const mm_engine_conf_t *conf, mm_avro_conf_t *ac);

/**
 * @brief Parse mm.input.topics: TOPIC[,TOPIC] (the group assigns; *out =
 * NULL) or TOPIC:N[-M][,...] (*out = these partitions, each at the group's
 * committed offset; the caller destroys the list).
 * @returns false with a message naming the key for a bad entry or a mix.
 */
#define MM_ENGINE_NAMED_PARTITIONS_MAX 65536
bool mm_engine_input_partitions(const char *topics, rd_kafka_topic_partition_list_t **out,
                                char *errstr, size_t errstr_size);

typedef struct mm_engine_s mm_engine_t;

/** Log levels are syslog's (3 error, 4 warning, 6 info, 7 debug). */
typedef void mm_engine_log_fn(int level, const char *line, void *ctx);

/** Called for each moment written (the demo's live view), from a worker
 * thread; @p payload is its encoding, valid during the call. */
typedef void mm_engine_moment_hook(const mm_moment_t *m, const char *payload, size_t len,
                                   void *ctx);

/** Called for each conversion written (its JSON), from a worker thread. */
typedef void mm_engine_conversion_hook(const char *json, size_t len, void *ctx);

/** librdkafka's statistics JSON of the consumer, valid during the call. */
typedef void mm_engine_stats_hook(const char *json, size_t len, void *ctx);

typedef struct mm_engine_hooks_s {
    mm_engine_log_fn *log; /* NULL: lines to stderr */
    void *log_ctx;
    mm_engine_moment_hook *on_moment;
    void *moment_ctx;
    mm_engine_conversion_hook *on_conversion;
    void *conversion_ctx;
    mm_engine_stats_hook *on_stats;
    void *stats_ctx;
} mm_engine_hooks_t;

/**
 * @brief An engine for @p conf (copied) with librdkafka properties @p kafka
 * (copied; bootstrap.servers, group.id, security...) and @p rules (taken).
 * @returns NULL with the reason in errstr (a bad configuration the table
 *          could not see, out of memory).
 */
mm_engine_t *mm_engine_new(const mm_engine_conf_t *conf, const rd_kafka_conf_t *kafka,
                           mm_rules_t *rules, const mm_engine_hooks_t *hooks, char *errstr,
                           size_t errstr_size);

/**
 * @brief Connect (within mm.startup.timeout.ms), check the topics and start.
 * @returns false when the engine cannot run; mm_engine_exit_code says why.
 */
bool mm_engine_start(mm_engine_t *engine);

/** @brief Ask the engine to stop: finish and commit in-flight work, bounded
 * by mm.shutdown.timeout.ms. Returns at once. Not async-signal-safe. */
void mm_engine_stop(mm_engine_t *engine);

/** @brief Wait up to @p timeout_ms (-1: for ever) for the run to end.
 * @returns true once it has ended. */
bool mm_engine_wait(mm_engine_t *engine, int timeout_ms);

/** @brief 0 when the run ended well (stopped or drained), 1 when it failed;
 * the reason is copied into @p why (may be NULL). */
int mm_engine_exit_code(mm_engine_t *engine, char *why, size_t why_size);

/** @brief Use @p rules (taken) from each worker's next batch on; the old
 * rules are freed once no worker holds them. Readers never wait. */
void mm_engine_set_rules(mm_engine_t *engine, mm_rules_t *rules);

void mm_engine_destroy(mm_engine_t *engine);

/* ------------------------------------------------------------------ stats */

typedef struct mm_engine_stats_s {
    uint64_t records_in;
    uint64_t moments_out[MM_MOMENT__COUNT];
    uint64_t dead_out[MM_ERR__COUNT];
    uint64_t state_users, evicted_cap, expired_ttl;
    uint32_t partitions; /* assigned to this instance */
    uint32_t partitions_waiting; /* parked on the schema registry */
    uint32_t input_topics_missing;
    uint32_t rules_generation;
    uint64_t late_events;
    uint64_t conversions;
    uint64_t conversions_attributed[MM_MOMENT__COUNT];
    uint64_t profiles_out, snapshots_out, checkpoints;
    uint64_t restored_users, restore_ms; /* over every restore this run */
    bool profiles_on, conversions_on, changelog_on;
    int n_workers;
    uint64_t producer_queue[MM_ENGINE_WORKERS_MAX]; /* outputs not yet acknowledged */
} mm_engine_stats_t;

/** @brief Counters and gauges summed over the workers (relaxed reads). */
void mm_engine_stats(mm_engine_t *engine, mm_engine_stats_t *stats);

typedef struct mm_engine_partition_s {
    const char *topic;
    int32_t partition;
    int64_t processed;  /* next offset to process; -1 before the first record */
    int64_t committed;  /* last offset committed by this instance; -1 none */
    int64_t end;        /* the partition's end (high watermark); -1 unknown */
    bool waiting;       /* parked on the schema registry */
} mm_engine_partition_t;

/** @brief Visit every partition assigned now (the metrics' consumer lag). */
void mm_engine_partitions(mm_engine_t *engine,
                          void (*visit)(const mm_engine_partition_t *p, void *ctx),
                          void *ctx);

/** @brief Merge every worker's moment latency histogram into @p into. */
void mm_engine_latency(mm_engine_t *engine, mm_histogram_t *into);

/**
 * @brief @p user_id's profile as JSON (GET /users/{id}), asked of the worker
 * that owns the user's input partition, waiting up to @p timeout_ms.
 * @returns an HTTP status: 200 with the profile; 404 with {"user_id",
 *          "tracked":false} when this instance owns the user's partition but
 *          does not track the user, or with {"user_id","owner":{"topic",
 *          "partition"}} when another instance owns that partition; 503
 *          when profiles are off or the worker did not answer in time.
 */
int mm_engine_user(mm_engine_t *engine, mm_str_t user_id, char *buf, size_t cap,
                   size_t *len, int timeout_ms);

/* ---------------------------------------------------------------- offline */

/**
 * The engine's record path without Kafka (`classify`): decode, classify,
 * encode; moments as JSON lines to @p moments, records that are not events
 * as JSON lines to @p dead. One task, offsets counted from 0.
 */
typedef struct mm_offline_s mm_offline_t;

/** Called for every decoded event instead of writing its moments
 * (classify --explain); @p moment is NULL when none came out. */
typedef void mm_offline_explain_fn(const mm_event_t *ev, const mm_explain_t *explain,
                                   const mm_moment_t *moment, void *ctx);

/** @brief @p rules are borrowed (they must outlive the offline path). */
mm_offline_t *mm_offline_new(const mm_engine_conf_t *conf, const mm_rules_t *rules,
                             FILE *moments, FILE *dead, char *errstr, size_t errstr_size);
void mm_offline_set_explain(mm_offline_t *off, mm_offline_explain_fn *fn, void *ctx);
/** @returns MM_ERR_OK, or MM_ERR_IO when the schema registry cannot give the
 * record's schema now (mm_offline_reason says why). */
mm_err_t mm_offline_process(mm_offline_t *off, mm_str_t value);
const char *mm_offline_reason(const mm_offline_t *off);
/** @brief A line that is not a record (blank) still takes an offset. */
void mm_offline_skip(mm_offline_t *off);
void mm_offline_destroy(mm_offline_t *off);

/** @brief Wall-clock milliseconds since the epoch. */
int64_t mm_now_ms(void);

#endif
