/*
 * What the engine suites (test_engine_*.c) share: librdkafka's in-process
 * mock cluster, input written and outputs read back with plain librdkafka
 * clients, committed offsets as the group sees them, and an engine
 * configured as app/config.c's table would configure it.
 *
 * Every wait is a deadline on a condition (mm_test_wait); every helper fails
 * the calling Check test when the cluster does not do what it is told.
 */
#ifndef MM_ENGINE_HARNESS_H
#define MM_ENGINE_HARNESS_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"

/* Kafka protocol request types the tests inject errors into. */
#define MM_TEST_API_PRODUCE 0
#define MM_TEST_API_OFFSET_COMMIT 8
#define MM_TEST_API_END_TXN 26
#define MM_TEST_API_TXN_OFFSET_COMMIT 28

/* ---------------------------------------------------------------- cluster */

typedef struct mm_test_cluster_s {
    rd_kafka_t *rk; /* the mock cluster's own handle */
    rd_kafka_mock_cluster_t *mc;
    char bootstraps[256];
    rd_kafka_t *producer; /* writes the input */
} mm_test_cluster_t;

/** @brief A mock cluster of @p brokers brokers (ids 1..brokers). */
mm_test_cluster_t *mm_test_cluster_new(int brokers);
void mm_test_cluster_destroy(mm_test_cluster_t *c);
void mm_test_topic(mm_test_cluster_t *c, const char *name, int partitions);

/** @brief Append one record to @p topic [@p partition] (key may be NULL);
 * written once mm_test_flush returns. */
void mm_test_produce(mm_test_cluster_t *c, const char *topic, int32_t partition,
                     const char *key, const void *value, size_t len);
void mm_test_flush(mm_test_cluster_t *c);

/**
 * @brief Write @p n query events to @p topic [@p partition], each a query
 * from a fixed list that the lexicons classify by keyword. @p distinct: each
 * event has a user of its own (its moment does not depend on per-user state,
 * so a replay with fresh state gives the same moment); else users repeat.
 */
void mm_test_produce_events(mm_test_cluster_t *c, const char *topic, int32_t partition,
                            int n, bool distinct);

/** @brief Queue @p cnt copies of @p err for the next requests of @p api
 * that @p broker receives. */
void mm_test_inject(mm_test_cluster_t *c, int32_t broker, int16_t api, size_t cnt,
                    rd_kafka_resp_err_t err);
/** @brief Errors queued at @p broker for @p api not served yet. */
size_t mm_test_errors_left(mm_test_cluster_t *c, int32_t broker, int16_t api);

/* ----------------------------------------------------------- read back */

typedef struct mm_test_record_s {
    int32_t partition;
    int64_t offset;
    char *key;
    size_t key_len;
    char *value; /* NUL-terminated copy */
    size_t len;
    rd_kafka_headers_t *headers;
} mm_test_record_t;

typedef struct mm_test_records_s {
    mm_test_record_t *recs;
    size_t n;
} mm_test_records_t;

/** @brief Every record of @p topic, partition by partition, from the first
 * to the end (a plain consumer: assign, read to end). */
void mm_test_read_topic(mm_test_cluster_t *c, const char *topic, mm_test_records_t *out);
void mm_test_records_free(mm_test_records_t *rs);

/** @brief Header @p name of @p r as a string in @p buf; NULL when absent. */
const char *mm_test_header(const mm_test_record_t *r, const char *name, char *buf,
                           size_t size);

/** @brief The group's committed offset of @p topic [@p partition]; -1 none. */
int64_t mm_test_committed(mm_test_cluster_t *c, const char *group, const char *topic,
                          int32_t partition);
/** @brief The partition's end (high watermark). */
int64_t mm_test_end(mm_test_cluster_t *c, const char *topic, int32_t partition);

/* -------------------------------------------------------------- moments */

/**
 * @brief @p json (a moment) without its "detected_ts" member, the one field
 * that differs between two runs over the same input, into @p out.
 */
void mm_test_moment_canonical(const char *json, char *out, size_t size);

/** @brief The string member @p name ("moment_id") of @p json; "" absent. */
void mm_test_json_str(const char *json, const char *name, char *out, size_t size);
/** @brief The integer member @p name of the "source" object of @p json. */
int64_t mm_test_source_int(const char *json, const char *name);

/**
 * @brief Sorted canonical forms of @p rs's moments; the caller frees the
 * array and each string. @returns the count.
 */
size_t mm_test_canonical_sorted(const mm_test_records_t *rs, char ***out);
void mm_test_strings_free(char **s, size_t n);

/* --------------------------------------------------------------- engine */

/** Lines the engine logged, kept for assertions (and echoed to stderr when
 * MM_TEST_VERBOSE is set). */
typedef struct mm_test_log_s {
    pthread_mutex_t lock;
    char *text; /* every line, each ended by '\n'; never NULL */
    size_t len, cap;
    const char *name; /* prefix of echoed lines */
} mm_test_log_t;

void mm_test_log_init(mm_test_log_t *log, const char *name);
void mm_test_log_free(mm_test_log_t *log);
bool mm_test_log_has(mm_test_log_t *log, const char *needle);
int mm_test_log_count(mm_test_log_t *log, const char *needle);
/** @brief Byte position of the first @p needle at or after @p from; -1 none. */
long mm_test_log_find(mm_test_log_t *log, const char *needle, long from);

/**
 * @brief The engine's configuration as `run` makes it from app/config.c's
 * key table with only @p inputs as mm.input.topics, outputs "out" and
 * "dlq", and --exit-on-eof set.
 */
void mm_test_engine_conf(mm_engine_conf_t *conf, const char *inputs);

/** @brief librdkafka properties for an engine on @p c (NULL: no broker,
 * 127.0.0.1:1) in group @p group, as `run` makes them. */
rd_kafka_conf_t *mm_test_kafka_conf(mm_test_cluster_t *c, const char *group);

/** @brief An engine with the installed lexicons, not started; @p kafka is
 * taken, @p hooks may be NULL (the log hook is set to @p log). */
mm_engine_t *mm_test_engine_new(const mm_engine_conf_t *conf, rd_kafka_conf_t *kafka,
                                mm_test_log_t *log, const mm_engine_hooks_t *hooks);

/** @brief mm_test_engine_new, started (fails the test when it does not). */
mm_engine_t *mm_test_engine_start(const mm_engine_conf_t *conf, rd_kafka_conf_t *kafka,
                                  mm_test_log_t *log, const mm_engine_hooks_t *hooks);

/** @brief Wait up to @p timeout_ms for the run to end; fails the test when it
 * does not. @returns its exit code (the reason in @p why). */
int mm_test_engine_end(mm_engine_t *e, int timeout_ms, char *why, size_t why_size);

/** @brief Run @p conf to its end (25 s at most); @p kafka is taken, @p log
 * may be NULL. @returns the exit code, the reason in @p why. */
int mm_test_engine_run(const mm_engine_conf_t *conf, rd_kafka_conf_t *kafka,
                       mm_test_log_t *log, char *why, size_t why_size);
/** @brief mm_test_engine_run, which must exit 0. */
void mm_test_engine_run_ok(const mm_engine_conf_t *conf, rd_kafka_conf_t *kafka,
                           mm_test_log_t *log);

/** @brief Have @p on_new called for every client built from @p conf or a copy
 * of it (the engine copies its configuration for each client): the place to
 * add a client's interceptors. At most four per test. */
void mm_test_on_new(rd_kafka_conf_t *conf, rd_kafka_interceptor_f_on_new_t *on_new,
                    void *opaque);

/** @brief Set a librdkafka property (fails the test when it cannot). */
void mm_test_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value);

/** @brief Poll @p cond every 10 ms for up to @p timeout_ms. */
bool mm_test_wait(bool (*cond)(void *ctx), void *ctx, int timeout_ms);

/** @brief Every partition of @p topic (0 .. @p partitions - 1) has the group's
 * committed offset at its end. */
bool mm_test_committed_at_end(mm_test_cluster_t *c, const char *group, const char *topic,
                              int partitions);
/** @brief The same, asserted partition by partition. */
void mm_test_assert_committed_at_end(mm_test_cluster_t *c, const char *group, const char *topic,
                                     int partitions);

/** @brief @p a and @p b hold the same moments (canonical forms, as
 * multisets). */
void mm_test_assert_same_moments(const mm_test_records_t *a, const mm_test_records_t *b);

/** One test's cluster, the engine's log and what was read back: the
 * error-free reference run's moments and the run's outputs. */
typedef struct mm_test_world_s {
    mm_test_cluster_t *c;
    mm_test_log_t log;
    mm_test_records_t ref, out, dlq;
} mm_test_world_t;

/** @brief Read "out" and "dlq" into @p w. */
void mm_test_read_outputs(mm_test_world_t *w);
/** @brief Free what @p w holds (any part may be empty). */
void mm_test_world_free(mm_test_world_t *w);

int64_t mm_test_now_ms(void);

#endif
