/*
 * The engine's delivery on librdkafka's mock cluster: produce errors,
 * commit errors, transaction errors and a rebalance in the middle of the
 * stream. Each test reads the outputs back with a plain consumer and the
 * group's committed offsets with rd_kafka_committed, and compares the
 * moments with an error-free run over the same input (every field but
 * detected_ts). Errors are queued at a broker, so that each test can check
 * that every one of them met a request.
 *
 * What the mock cannot show, and what is asserted instead:
 *  - it has no transactional isolation (a read_committed reader sees the
 *    records of aborted transactions): the exactly-once tests count those
 *    copies and check that each is a moment of the error-free run, same
 *    moment_id and content;
 *  - its TxnOffsetCommit does not store offsets: the exactly-once tests read
 *    what the transactions committed from the engine's partition table;
 *  - it refuses every OffsetCommit while a group is joining (a real broker
 *    takes those of the current generation): the rebalance test uses the
 *    cooperative protocol, whose revocations come after the join.
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_run.h"
#include "engine_harness.h"

/* ------------------------------------------------------------- helpers */

/* A cluster of @p brokers with input "in" (@p partitions partitions of @p per
 * events each; with none, no client has asked for the topic yet, so its
 * leaders can still be moved), outputs "out" (2 partitions) and "dlq", and
 * the same pair for the error-free reference run ("ref.out", "ref.dlq"). */
static void world_new(mm_test_world_t *w, int brokers, int partitions, int per, bool distinct) {
    memset(w, 0, sizeof(*w));
    w->c = mm_test_cluster_new(brokers);
    static const char *const topics[] = {"out", "ref.out", "dlq", "ref.dlq"};
    mm_test_topic(w->c, "in", partitions);
    for (int i = 0; i < 4; i++)
        mm_test_topic(w->c, topics[i], i < 2 ? 2 : 1);
    for (int p = 0; p < partitions && per > 0; p++)
        mm_test_produce_events(w->c, "in", p, per, distinct);
    mm_test_log_init(&w->log, "g");
}

/* The moments an error-free run gives for @p inputs, into w->ref. */
static void reference_run(mm_test_world_t *w, const char *inputs) {
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, inputs);
    snprintf(conf.output_topic, sizeof(conf.output_topic), "ref.out");
    snprintf(conf.dlq_topic, sizeof(conf.dlq_topic), "ref.dlq");
    mm_test_engine_run_ok(&conf, mm_test_kafka_conf(w->c, "ref"), NULL);
    mm_test_read_topic(w->c, "ref.out", &w->ref);
    ck_assert_uint_gt(w->ref.n, 0);
}

/* Runs @p conf in group "g" to its end (exit 0) and reads the outputs. */
static void run_ok(mm_test_world_t *w, const mm_engine_conf_t *conf, rd_kafka_conf_t *kafka) {
    mm_test_engine_run_ok(conf, kafka, &w->log);
    mm_test_read_outputs(w);
}

/* ------------------------------------------------------ produce errors */

START_TEST(test_retriable_produce_errors_change_no_moment) {
    mm_test_world_t w;
    world_new(&w, 1, 2, 30, false);
    reference_run(&w, "in:0-1");
    /* The next Produce requests fail, as a leader change and a slow broker
     * would make them: librdkafka retries; nothing may change. */
    mm_test_inject(w.c, 1, MM_TEST_API_PRODUCE, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    mm_test_inject(w.c, 1, MM_TEST_API_PRODUCE, 3, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, "in:0-1");
    run_ok(&w, &conf, mm_test_kafka_conf(w.c, "g"));
    ck_assert_uint_eq(mm_test_errors_left(w.c, 1, MM_TEST_API_PRODUCE), 0);
    mm_test_assert_same_moments(&w.out, &w.ref);
    ck_assert_uint_eq(w.dlq.n, 0);
    mm_test_assert_committed_at_end(w.c, "g", "in", 2);
    mm_test_world_free(&w);
}
END_TEST

/* The reference moment of the record @p d names (topic "in"). */
static const mm_test_record_t *moment_of(const mm_test_world_t *w, const mm_test_record_t *d) {
    char buf[64];
    int64_t offset = strtoll(mm_test_header(d, "mm.source.offset", buf, sizeof(buf)), NULL, 10);
    int64_t partition =
        strtoll(mm_test_header(d, "mm.source.partition", buf, sizeof(buf)), NULL, 10);
    ck_assert_str_eq(mm_test_header(d, "mm.source.topic", buf, sizeof(buf)), "in");
    for (size_t j = 0; j < w->ref.n; j++)
        if (mm_test_source_int(w->ref.recs[j].value, "offset") == offset &&
            mm_test_source_int(w->ref.recs[j].value, "partition") == partition)
            return &w->ref.recs[j];
    ck_abort_msg("no moment of in [%" PRId64 "] offset %" PRId64, partition, offset);
    return NULL;
}

/* @p d is the dead letter of a moment the destination refused with @p err:
 * the moment's key, the record's coordinates, the broker's words. */
static const mm_test_record_t *assert_refused_moment(const mm_test_world_t *w,
                                                     const mm_test_record_t *d,
                                                     rd_kafka_resp_err_t err) {
    char buf[256];
    const mm_test_record_t *m = moment_of(w, d);
    ck_assert_str_eq(mm_test_header(d, "mm.error.code", buf, sizeof(buf)), "output_refused");
    ck_assert_ptr_nonnull(strstr(mm_test_header(d, "mm.error.reason", buf, sizeof(buf)),
                                 rd_kafka_err2name(err)));
    ck_assert_ptr_nonnull(d->key);
    ck_assert_str_eq(d->key, m->key);
    return m;
}

/* What a broker answers for a record it will never take. */
static const rd_kafka_resp_err_t refusals[] = {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                                               RD_KAFKA_RESP_ERR_INVALID_RECORD};

START_TEST(test_refused_moment_is_dead_letter_and_stream_goes_on) {
    rd_kafka_resp_err_t refusal = refusals[_i];
    mm_test_world_t w;
    world_new(&w, 1, 1, 12, true);
    reference_run(&w, "in:0");
    ck_assert_uint_eq(w.ref.n, 12);
    /* One moment per Produce request, and the first one the broker refuses
     * for good. */
    mm_test_inject(w.c, 1, MM_TEST_API_PRODUCE, 1, refusal);
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, "in:0");
    conf.workers = 1;
    rd_kafka_conf_t *kafka = mm_test_kafka_conf(w.c, "g");
    mm_test_kafka_set(kafka, "batch.num.messages", "1");
    run_ok(&w, &conf, kafka);
    ck_assert_uint_eq(mm_test_errors_left(w.c, 1, MM_TEST_API_PRODUCE), 0);
    ck_assert_uint_eq(w.out.n, 11);
    ck_assert_uint_eq(w.dlq.n, 1);
    assert_refused_moment(&w, &w.dlq.recs[0], refusal);
    /* The outputs and the refused moment are exactly the error-free run's. */
    mm_test_records_t all = {calloc(w.out.n + 1, sizeof(mm_test_record_t)), w.out.n + 1};
    memcpy(all.recs, w.out.recs, w.out.n * sizeof(mm_test_record_t));
    all.recs[w.out.n] = w.dlq.recs[0];
    mm_test_assert_same_moments(&all, &w.ref);
    free(all.recs);
    /* The log says what the broker answered. */
    ck_assert(mm_test_log_has(&w.log, "refused a moment"));
    ck_assert(mm_test_log_has(&w.log, rd_kafka_err2name(refusal)));
    mm_test_assert_committed_at_end(w.c, "g", "in", 1);
    mm_test_world_free(&w);
}
END_TEST

START_TEST(test_moment_over_message_max_bytes_is_dead_letter) {
    /* The producer itself refuses every moment (each, with its key, is
     * larger than message.max.bytes, librdkafka's smallest): each becomes a
     * dead letter, cut to what fits beside its key and headers, and the
     * stream goes on to its end. */
    mm_test_world_t w;
    world_new(&w, 1, 1, 0, true);
    for (int i = 0; i < 5; i++) {
        char user[512], json[1024];
        snprintf(user, sizeof(user), "user-%d-%0400d", i, i);
        int len = snprintf(json, sizeof(json),
                           "{\"user_id\":\"%s\",\"type\":\"query\",\"query\":\"how to bake "
                           "bread\",\"ts\":1763900000000}",
                           user);
        mm_test_produce(w.c, "in", 0, user, json, (size_t)len);
    }
    mm_test_flush(w.c);
    reference_run(&w, "in:0");
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, "in:0");
    rd_kafka_conf_t *kafka = mm_test_kafka_conf(w.c, "g");
    mm_test_kafka_set(kafka, "message.max.bytes", "1000");
    run_ok(&w, &conf, kafka);
    ck_assert_uint_eq(w.out.n, 0);
    ck_assert_uint_eq(w.dlq.n, w.ref.n);
    for (size_t i = 0; i < w.dlq.n; i++) {
        const mm_test_record_t *d = &w.dlq.recs[i];
        const mm_test_record_t *m = assert_refused_moment(&w, d, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
        char buf[64], num[32];
        ck_assert_uint_gt(m->len + m->key_len, 1000);
        ck_assert_str_eq(mm_test_header(d, "mm.value.truncated", buf, sizeof(buf)), "true");
        snprintf(num, sizeof(num), "%zu", m->len);
        ck_assert_str_eq(mm_test_header(d, "mm.value.original.size", buf, sizeof(buf)), num);
        ck_assert_uint_lt(d->len, m->len);
        ck_assert_int_eq(memcmp(d->value, m->value, d->len), 0);
    }
    mm_test_assert_committed_at_end(w.c, "g", "in", 1);
    mm_test_world_free(&w);
}
END_TEST

/* The one dead letter of @p w, of the record "poison" at @p offset, cut
 * from @p original: the headers say so, the value is the original's
 * beginning, at most @p max bytes. */
static void assert_cut(const mm_test_world_t *w, const char *original, size_t original_len,
                       size_t max, int64_t offset) {
    ck_assert_uint_eq(w->dlq.n, 1);
    const mm_test_record_t *d = &w->dlq.recs[0];
    char buf[256], num[32];
    ck_assert_str_eq(mm_test_header(d, "mm.error.code", buf, sizeof(buf)), "bad_json");
    ck_assert_str_eq(mm_test_header(d, "mm.value.truncated", buf, sizeof(buf)), "true");
    snprintf(num, sizeof(num), "%zu", original_len);
    ck_assert_str_eq(mm_test_header(d, "mm.value.original.size", buf, sizeof(buf)), num);
    ck_assert_str_eq(mm_test_header(d, "mm.source.topic", buf, sizeof(buf)), "in");
    ck_assert_str_eq(mm_test_header(d, "mm.source.partition", buf, sizeof(buf)), "0");
    snprintf(num, sizeof(num), "%" PRId64, offset);
    ck_assert_str_eq(mm_test_header(d, "mm.source.offset", buf, sizeof(buf)), num);
    ck_assert_ptr_nonnull(mm_test_header(d, "mm.error.reason", buf, sizeof(buf)));
    ck_assert_uint_gt(d->len, 0);
    ck_assert_uint_le(d->len, max);
    ck_assert_int_eq(memcmp(d->value, original, d->len), 0);
    ck_assert_ptr_nonnull(d->key);
    ck_assert_str_eq(d->key, "poison");
}

/* Input "in" [0]: two events, a record of @p len bytes that is not JSON
 * (key "poison"), two events. @returns the record (caller frees). */
static char *poison_input(mm_test_world_t *w, size_t len) {
    char *bad = malloc(len);
    ck_assert_ptr_nonnull(bad);
    memset(bad, 'x', len);
    mm_test_produce_events(w->c, "in", 0, 2, true);
    mm_test_produce(w->c, "in", 0, "poison", bad, len);
    mm_test_flush(w->c);
    mm_test_produce_events(w->c, "in", 0, 2, true);
    return bad;
}

START_TEST(test_dead_letter_over_message_max_bytes_arrives_cut) {
    /* The poison pill of issue 14: a record under mm.max.record.bytes but
     * over the producer's message.max.bytes, so that its dead letter cannot
     * be written whole. (`run` keeps the two consistent; a producer
     * configured past that check must not stop the stream either.) */
    mm_test_world_t w;
    world_new(&w, 1, 1, 0, true);
    char *big = poison_input(&w, 60000);
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, "in:0");
    rd_kafka_conf_t *kafka = mm_test_kafka_conf(w.c, "g");
    mm_test_kafka_set(kafka, "message.max.bytes", "20000");
    run_ok(&w, &conf, kafka);
    ck_assert_uint_eq(w.out.n, 4); /* the records on either side */
    assert_cut(&w, big, 60000, 20000, 2);
    mm_test_assert_committed_at_end(w.c, "g", "in", 1);
    free(big);
    mm_test_world_free(&w);
}
END_TEST

START_TEST(test_dead_letter_the_broker_refuses_arrives_cut) {
    /* The producer would take it; the broker says it is too large (its own
     * limit is lower): the dead letter comes again at half the size. The
     * dead-letter topic has a broker of its own, so the refusal queued
     * there meets the dead letter and nothing else. */
    mm_test_world_t w;
    world_new(&w, 2, 1, 0, true);
    ck_assert_int_eq(rd_kafka_mock_partition_set_leader(w.c->mc, "in", 0, 1), 0);
    for (int p = 0; p < 2; p++)
        ck_assert_int_eq(rd_kafka_mock_partition_set_leader(w.c->mc, "out", p, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_partition_set_leader(w.c->mc, "dlq", 0, 2), 0);
    char *bad = poison_input(&w, 3000);
    mm_test_inject(w.c, 2, MM_TEST_API_PRODUCE, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, "in:0");
    run_ok(&w, &conf, mm_test_kafka_conf(w.c, "g"));
    ck_assert_uint_eq(mm_test_errors_left(w.c, 2, MM_TEST_API_PRODUCE), 0);
    ck_assert_uint_eq(w.out.n, 4);
    assert_cut(&w, bad, 3000, 1500, 2);
    ck_assert_uint_eq(w.dlq.recs[0].len, 1500);
    /* The log says what the broker answered, and what came of it. */
    ck_assert_msg(mm_test_log_has(&w.log, "refused a dead letter of in [0] offset 2"), "%s",
                  w.log.text);
    ck_assert(mm_test_log_has(&w.log, "MSG_SIZE_TOO_LARGE"));
    ck_assert(mm_test_log_has(&w.log, "it goes again cut to 1500 bytes"));
    mm_test_assert_committed_at_end(w.c, "g", "in", 1);
    free(bad);
    mm_test_world_free(&w);
}
END_TEST

/* ------------------------------------------------------- commit errors */

/* @p n errors @p err for the requests of @p api. */
typedef struct injection_s {
    int16_t api;
    size_t n;
    rd_kafka_resp_err_t err;
} injection_t;

/* An at-least-once run over "in" [0, 1] (20 events each) committing every
 * @p interval_ms, with the requests of @p inj failing at broker 1. */
static void commit_run(mm_test_world_t *w, int64_t interval_ms, const injection_t *inj,
                       size_t n_inj) {
    world_new(w, 1, 2, 20, false);
    for (size_t i = 0; i < n_inj; i++)
        mm_test_inject(w->c, 1, inj[i].api, inj[i].n, inj[i].err);
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, "in:0-1");
    conf.commit_interval_ms = interval_ms;
    run_ok(w, &conf, mm_test_kafka_conf(w->c, "g"));
    ck_assert_uint_eq(mm_test_errors_left(w->c, 1, MM_TEST_API_OFFSET_COMMIT), 0);
    ck_assert_msg(!mm_test_log_has(&w->log, "could not commit"), "%s", w->log.text);
    ck_assert_uint_eq(w->out.n, 40);
    mm_test_assert_committed_at_end(w->c, "g", "in", 2);
}

START_TEST(test_retriable_commit_errors_still_commit_to_the_end) {
    /* The one commit of this run (the interval is longer than the run) is
     * the synchronous one at the end: it fails three times, as a group
     * coordinator in the middle of a rebalance answers, and is retried. */
    static const injection_t inj[] = {
        {MM_TEST_API_OFFSET_COMMIT, 3, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS},
    };
    mm_test_world_t w;
    commit_run(&w, 3600000, inj, 1);
    ck_assert_int_eq(mm_test_log_count(&w.log, "commit failed (attempt"), 3);
    mm_test_world_free(&w);
}
END_TEST

START_TEST(test_periodic_commit_errors_are_repaired_by_the_next_commit) {
    /* Commits every 10 ms, the first four of them refused: whichever
     * commits they hit (periodic or final), the offsets end at the end. */
    static const injection_t inj[] = {
        {MM_TEST_API_OFFSET_COMMIT, 2, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS},
        {MM_TEST_API_OFFSET_COMMIT, 2, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT},
    };
    mm_test_world_t w;
    commit_run(&w, 10, inj, 2);
    mm_test_world_free(&w);
}
END_TEST

START_TEST(test_permanent_commit_error_is_logged_and_offsets_stay_behind) {
    mm_test_world_t w;
    world_new(&w, 1, 1, 10, false);
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, "in:0");
    conf.commit_interval_ms = 3600000;
    mm_test_engine_run_ok(&conf, mm_test_kafka_conf(w.c, "g"), NULL);
    ck_assert_int_eq(mm_test_committed(w.c, "g", "in", 0), 10);
    /* Ten more records; every commit of the second run is refused (more
     * errors queued than the run makes attempts). */
    mm_test_produce_events(w.c, "in", 0, 10, false);
    mm_test_inject(w.c, 1, MM_TEST_API_OFFSET_COMMIT, 30,
                   RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
    char why[512];
    int code = mm_test_engine_run(&conf, mm_test_kafka_conf(w.c, "g"), &w.log, why, sizeof(why));
    size_t left = mm_test_errors_left(w.c, 1, MM_TEST_API_OFFSET_COMMIT);
    ck_assert_uint_gt(left, 0);
    ck_assert_uint_lt(left, 30); /* the run did try */
    /* The run says so, with the broker's words... */
    ck_assert_msg(mm_test_log_has(&w.log, "could not commit"), "%s", w.log.text);
    ck_assert(mm_test_log_has(&w.log, "Group authorization failed"));
    /* ...its outputs were delivered, and the offsets did not move: the next
     * run reads the ten records again, never fewer. */
    mm_test_read_outputs(&w);
    ck_assert_uint_eq(w.out.n, 20);
    ck_assert_int_eq(mm_test_committed(w.c, "g", "in", 0), 10);
    fprintf(stderr, "permanent commit error: exit code %d (%s)\n", code, why);
    mm_test_world_free(&w);
}
END_TEST

/* --------------------------------------------------------- exactly-once */

/* What the engine says it committed, partition by partition. */
typedef struct engine_offsets_s {
    mm_engine_t *engine;
    const char *topic;
    int partitions;
    int64_t ends[8];
    int64_t committed[8];
} engine_offsets_t;

static void visit_committed(const mm_engine_partition_t *p, void *ctx) {
    engine_offsets_t *eo = ctx;
    if (strcmp(p->topic, eo->topic) == 0 && p->partition < eo->partitions)
        eo->committed[p->partition] = p->committed;
}

static bool engine_committed_at_end(void *ctx) {
    engine_offsets_t *eo = ctx;
    for (int p = 0; p < eo->partitions; p++)
        eo->committed[p] = -1;
    mm_engine_partitions(eo->engine, visit_committed, eo);
    for (int p = 0; p < eo->partitions; p++)
        if (eo->committed[p] != eo->ends[p])
            return false;
    return true;
}

/*
 * An exactly-once run over "in" (2 partitions, a subscription: the
 * transactions need the group's generation) with the requests of @p inj
 * failing.
 *
 * The mock's TxnOffsetCommit answers without storing the offsets (librdkafka
 * 2.0.2, rd_kafka_mock_handle_TxnOffsetCommit), so the group's committed
 * offsets cannot show what the transactions committed. The engine's own
 * partition table can: a partition's committed offset moves only after
 * commit_transaction succeeded. The run goes until that reaches the end of
 * every partition, then stops (exit 0).
 */
static void eos_run(mm_test_world_t *w, const injection_t *inj, size_t n_inj) {
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, "in");
    conf.delivery = MM_DELIVERY_EXACTLY_ONCE;
    conf.exit_on_eof = false;
    /* A failing EndTxn is retried by librdkafka up to this bound. */
    conf.shutdown_timeout_ms = 5000;
    for (size_t i = 0; i < n_inj; i++)
        mm_test_inject(w->c, 1, inj[i].api, inj[i].n, inj[i].err);
    engine_offsets_t eo = {.topic = "in", .partitions = 2};
    for (int p = 0; p < eo.partitions; p++)
        eo.ends[p] = mm_test_end(w->c, "in", p);
    eo.engine = mm_test_engine_start(&conf, mm_test_kafka_conf(w->c, "g"), &w->log, NULL);
    bool done = mm_test_wait(engine_committed_at_end, &eo, 20000);
    mm_engine_stop(eo.engine);
    char why[512];
    int code = mm_test_engine_end(eo.engine, 15000, why, sizeof(why));
    mm_engine_destroy(eo.engine);
    ck_assert_msg(done, "transactions committed up to %" PRId64 ", %" PRId64 " of %" PRId64
                  ", %" PRId64 "\n%s", eo.committed[0], eo.committed[1], eo.ends[0], eo.ends[1],
                  w->log.text);
    ck_assert_msg(code == 0, "exit %d: %s", code, why);
    for (size_t i = 0; i < n_inj; i++) /* every error met a request */
        ck_assert_uint_eq(mm_test_errors_left(w->c, 1, inj[i].api), 0);
    mm_test_read_outputs(w);
}

/* Every reference moment is in @p out, and every moment of @p out is a
 * reference moment (same id, same content): @returns the copies (records of
 * aborted transactions, which the mock shows to every reader). */
static size_t assert_every_moment_once_or_copied(const mm_test_records_t *out,
                                                 const mm_test_records_t *ref) {
    char **so, **sr;
    size_t no = mm_test_canonical_sorted(out, &so);
    size_t nr = mm_test_canonical_sorted(ref, &sr);
    size_t i = 0, copies = 0;
    for (size_t j = 0; j < nr; j++) {
        ck_assert_msg(i < no && strcmp(so[i], sr[j]) == 0, "moment missing: %s", sr[j]);
        for (i++; i < no && strcmp(so[i], sr[j]) == 0; i++)
            copies++;
    }
    ck_assert_msg(i == no, "a moment no error-free run gives: %s", i < no ? so[i] : "");
    mm_test_strings_free(so, no);
    mm_test_strings_free(sr, nr);
    return copies;
}

static void eos_case(const injection_t *inj, size_t n_inj, bool aborts) {
    mm_test_world_t w;
    world_new(&w, 1, 2, 25, true);
    reference_run(&w, "in:0-1");
    eos_run(&w, inj, n_inj);
    size_t copies = assert_every_moment_once_or_copied(&w.out, &w.ref);
    if (aborts) {
        /* An abort is followed by a rewind of the worker's partitions. */
        long abort_at = mm_test_log_find(&w.log, "transaction aborted", 0);
        ck_assert_msg(abort_at >= 0, "no transaction was aborted:\n%s", w.log.text);
        ck_assert_msg(mm_test_log_find(&w.log, "rewound in [", abort_at) > abort_at, "%s",
                      w.log.text);
        fprintf(stderr, "%s x%zu: %zu moments, %zu copies from aborted transactions\n",
                rd_kafka_err2name(inj[0].err), inj[0].n, w.ref.n, copies);
    } else {
        ck_assert_msg(!mm_test_log_has(&w.log, "transaction aborted"), "%s", w.log.text);
        ck_assert_uint_eq(copies, 0);
    }
    ck_assert_uint_eq(w.dlq.n, 0);
    mm_test_world_free(&w);
}

START_TEST(test_txn_retriable_errors_abort_nothing) {
    /* Answers a coordinator gives while it loads or while another
     * transaction of the id ends: librdkafka retries them. */
    static const injection_t inj[] = {
        {MM_TEST_API_TXN_OFFSET_COMMIT, 3, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS},
        {MM_TEST_API_END_TXN, 3, RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS},
    };
    eos_case(inj, 2, false);
}
END_TEST

START_TEST(test_txn_offset_commit_abortable_error_aborts_and_rewinds) {
    static const injection_t inj[] = {
        {MM_TEST_API_TXN_OFFSET_COMMIT, 1, RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED},
    };
    eos_case(inj, 1, true);
}
END_TEST

START_TEST(test_end_txn_abortable_error_aborts_and_rewinds) {
    static const injection_t inj[] = {
        {MM_TEST_API_END_TXN, 1, RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID},
    };
    eos_case(inj, 1, true);
}
END_TEST

/* ------------------------------------------------------------ rebalance */

#define REB_PARTITIONS 4
#define REB_SEEN_MAX 20000

typedef struct seen_s seen_t;

/* What one engine's workers wrote: (partition, offset) of each moment. */
struct seen_s {
    pthread_mutex_t lock;
    size_t n;
    int32_t partition[REB_SEEN_MAX];
    int64_t offset[REB_SEEN_MAX];
};

static void on_moment(const mm_moment_t *m, const char *payload, size_t len, void *ctx) {
    (void)payload;
    (void)len;
    seen_t *seen = ctx;
    pthread_mutex_lock(&seen->lock);
    if (seen->n < REB_SEEN_MAX) {
        seen->partition[seen->n] = m->event->source.partition;
        seen->offset[seen->n++] = m->event->source.offset;
    }
    pthread_mutex_unlock(&seen->lock);
}

/* Offsets [first, last] of @p partition that @p seen wrote, how many. */
static size_t seen_range(seen_t *seen, int32_t partition, int64_t *first, int64_t *last) {
    size_t n = 0;
    *first = INT64_MAX;
    *last = -1;
    pthread_mutex_lock(&seen->lock);
    for (size_t i = 0; i < seen->n; i++) {
        if (seen->partition[i] != partition)
            continue;
        n++;
        if (seen->offset[i] < *first)
            *first = seen->offset[i];
        if (seen->offset[i] > *last)
            *last = seen->offset[i];
    }
    pthread_mutex_unlock(&seen->lock);
    return n;
}

typedef struct feeder_s {
    mm_test_cluster_t *c;
    pthread_t thread;
    _Atomic bool stop;
} feeder_t;

/* One event per partition every 20 ms: the stream is flowing whenever the
 * group rebalances. */
static void *feed_main(void *arg) {
    feeder_t *f = arg;
    while (!atomic_load(&f->stop)) {
        for (int p = 0; p < REB_PARTITIONS; p++)
            mm_test_produce_events(f->c, "in", p, 1, true);
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    return NULL;
}

typedef struct two_s {
    mm_engine_t *e1, *e2;
    mm_test_cluster_t *c;
    seen_t *seen1, *seen2;
} two_t;

static bool e1_has_all(void *ctx) {
    two_t *t = ctx;
    mm_engine_stats_t st;
    mm_engine_stats(t->e1, &st);
    return st.partitions == REB_PARTITIONS;
}

static bool e1_has_all_and_works(void *ctx) {
    two_t *t = ctx;
    mm_engine_stats_t st;
    mm_engine_stats(t->e1, &st);
    return st.partitions == REB_PARTITIONS && st.records_in > 0;
}

static bool shared_and_both_work(void *ctx) {
    two_t *t = ctx;
    mm_engine_stats_t s1, s2;
    mm_engine_stats(t->e1, &s1);
    mm_engine_stats(t->e2, &s2);
    return s1.partitions > 0 && s2.partitions > 0 &&
           s1.partitions + s2.partitions == REB_PARTITIONS && s2.records_in > 0;
}

static size_t seen_range(seen_t *seen, int32_t partition, int64_t *first, int64_t *last);

/* Every record has its moment written, by one engine or the other (each
 * record gives one moment). */
static bool all_written(void *ctx) {
    two_t *t = ctx;
    for (int p = 0; p < REB_PARTITIONS; p++) {
        int64_t f, l;
        if (seen_range(t->seen1, p, &f, &l) + seen_range(t->seen2, p, &f, &l) <
            (size_t)mm_test_end(t->c, "in", p))
            return false;
    }
    return true;
}

/*
 * The mock elects the first member as the group's leader and ends a
 * rebalance when the leader's SyncGroup brings everyone's assignment; a
 * follower's SyncGroup that arrives after that is refused (INVALID_REQUEST,
 * where a real broker answers with the assignment), the follower rejoins at
 * once and its join refuses the leader's commits. The first engine (the
 * leader) therefore takes each JoinGroup answer 100 ms late, so that the
 * second engine's SyncGroup is in first.
 */
static rd_kafka_resp_err_t late_join_answer(rd_kafka_t *rk, int sockfd, const char *brokername,
                                            int32_t brokerid, int16_t api, int16_t api_version,
                                            int32_t corr_id, size_t size, int64_t rtt,
                                            rd_kafka_resp_err_t err, void *opaque) {
    (void)rk, (void)sockfd, (void)brokername, (void)brokerid, (void)api_version;
    (void)corr_id, (void)size, (void)rtt, (void)err, (void)opaque;
    if (api == 11 /* JoinGroup */) {
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t leader_on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf,
                                         void *opaque, char *errstr, size_t errstr_size) {
    (void)conf, (void)errstr, (void)errstr_size;
    if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER)
        rd_kafka_interceptor_add_on_response_received(rk, "mm-test-late-join",
                                                      late_join_answer, opaque);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

START_TEST(test_rebalance_mid_stream_loses_and_repeats_nothing) {
    /* Two brokers: the outputs go to broker 2, which answers 100 ms late, so
     * the first engine has outputs in flight when its partitions go; the
     * input, the dead letters and the group stay on broker 1. */
    mm_test_world_t w;
    world_new(&w, 2, REB_PARTITIONS, 0, true);
    mm_test_cluster_t *c = w.c;
    for (int p = 0; p < REB_PARTITIONS; p++)
        ck_assert_int_eq(rd_kafka_mock_partition_set_leader(c->mc, "in", p, 1), 0);
    for (int p = 0; p < 2; p++)
        ck_assert_int_eq(rd_kafka_mock_partition_set_leader(c->mc, "out", p, 2), 0);
    ck_assert_int_eq(rd_kafka_mock_partition_set_leader(c->mc, "dlq", 0, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_coordinator_set(c->mc, "group", "g", 1), 0);
    ck_assert_int_eq(rd_kafka_mock_broker_set_rtt(c->mc, 2, 100), 0);
    for (int p = 0; p < REB_PARTITIONS; p++)
        mm_test_produce_events(c, "in", p, 50, true);
    mm_engine_conf_t conf;
    mm_test_engine_conf(&conf, "in");
    conf.exit_on_eof = false;
    /*
     * No periodic commit during the test: its offsets are committed when a
     * partition is revoked and at stop. A periodic commit sent while the
     * member's JoinGroup is pending waits behind it and reaches the mock
     * with the old generation; the mock answers ILLEGAL_GENERATION, which
     * librdkafka takes for a lost assignment (no commit before the revoke,
     * the new owner reads again). A real broker answers such a commit
     * REBALANCE_IN_PROGRESS (it checks the rebalance before the
     * generation), which loses nothing.
     */
    conf.commit_interval_ms = 3600000;
    static seen_t seen1, seen2;
    pthread_mutex_init(&seen1.lock, NULL);
    pthread_mutex_init(&seen2.lock, NULL);
    mm_engine_hooks_t h1 = {.on_moment = on_moment, .moment_ctx = &seen1};
    mm_engine_hooks_t h2 = {.on_moment = on_moment, .moment_ctx = &seen2};
    mm_test_log_t *log1 = &w.log, log2;
    mm_test_log_init(&log2, "e2");
    two_t t = {.c = c, .seen1 = &seen1, .seen2 = &seen2};
    rd_kafka_conf_t *k1 = mm_test_kafka_conf(c, "g"), *k2 = mm_test_kafka_conf(c, "g");
    /*
     * Cooperative rebalancing: the partitions that move are revoked once the
     * group is stable again, and their offsets committed then. With the
     * eager protocol they are revoked while the group is joining, and the
     * mock refuses every OffsetCommit in that state (REBALANCE_IN_PROGRESS;
     * a real broker takes commits of the current generation while it
     * prepares a rebalance), so the commit-before-revoke could not be shown.
     * The mock waits session.timeout.ms - 1 s for members to rejoin, and a
     * member learns of a rebalance at its next heartbeat: both short.
     */
    mm_test_on_new(k1, leader_on_new, NULL);
    rd_kafka_conf_t *ks[] = {k1, k2};
    for (int i = 0; i < 2; i++) {
        mm_test_kafka_set(ks[i], "partition.assignment.strategy", "cooperative-sticky");
        mm_test_kafka_set(ks[i], "session.timeout.ms", "3500");
        mm_test_kafka_set(ks[i], "heartbeat.interval.ms", "100");
    }

    t.e1 = mm_test_engine_start(&conf, k1, log1, &h1);
    feeder_t feeder = {.c = c};
    pthread_create(&feeder.thread, NULL, feed_main, &feeder);
    ck_assert_msg(mm_test_wait(e1_has_all_and_works, &t, 15000), "%s", log1->text);
    t.e2 = mm_test_engine_start(&conf, k2, &log2, &h2);
    bool shared = mm_test_wait(shared_and_both_work, &t, 20000);
    atomic_store(&feeder.stop, true);
    pthread_join(feeder.thread, NULL);
    ck_assert_msg(shared, "e1:\n%s\ne2:\n%s", log1->text, log2.text);
    /* Every record processed, by one owner or the other; the stop commits
     * what each engine holds. */
    bool written = mm_test_wait(all_written, &t, 20000);
    /* The second engine stops first and commits; its leaving rebalances the
     * group (the mock refuses commits meanwhile), so the first one stops
     * once it holds every partition again. */
    mm_engine_stop(t.e2);
    char why[512];
    int code2 = mm_test_engine_end(t.e2, 15000, why, sizeof(why));
    ck_assert_msg(code2 == 0, "e2: %s", why);
    bool regained = mm_test_wait(e1_has_all, &t, 15000);
    mm_engine_stop(t.e1);
    int code1 = mm_test_engine_end(t.e1, 15000, why, sizeof(why));
    ck_assert_msg(code1 == 0, "e1: %s", why);
    mm_engine_destroy(t.e1);
    mm_engine_destroy(t.e2);
    ck_assert_msg(regained, "%s", log1->text);
    ck_assert_msg(written, "not every record was processed\ne1:\n%s\ne2:\n%s", log1->text,
                  log2.text);
    ck_assert(mm_test_log_has(log1, "revoked in ["));
    for (int i = 0; i < 2; i++) {
        mm_test_log_t *lg = i ? &log2 : log1;
        ck_assert_msg(!mm_test_log_has(lg, "lost in [") && !mm_test_log_has(lg, "commit failed"),
                      "%s", lg->text);
    }
    mm_test_assert_committed_at_end(c, "g", "in", REB_PARTITIONS);

    /* The mock serves one produced batch per partition per fetch: reading
     * the outputs back at 100 ms a fetch would take seconds. */
    ck_assert_int_eq(rd_kafka_mock_broker_set_rtt(c->mc, 2, 0), 0);
    /* Every record's moment, each once: what an error-free run gives. */
    reference_run(&w, "in:0-3");
    mm_test_read_outputs(&w);
    mm_test_assert_same_moments(&w.out, &w.ref);
    ck_assert_uint_eq(w.dlq.n, 0);

    /* A partition that moved: the first owner wrote a prefix of it, up to
     * what it committed when it gave the partition up; the new owner wrote
     * the rest, from the next offset on. */
    int moved = 0;
    for (int p = 0; p < REB_PARTITIONS; p++) {
        int64_t f1, l1, f2, l2;
        size_t n1 = seen_range(&seen1, p, &f1, &l1);
        size_t n2 = seen_range(&seen2, p, &f2, &l2);
        ck_assert_uint_eq(n1 + n2, (size_t)mm_test_end(c, "in", p));
        if (n1 && n2) {
            moved++;
            ck_assert_int_eq(f1, 0);
            ck_assert_int_eq(l1 + 1, f2);
            ck_assert_int_eq(l2 + 1, mm_test_end(c, "in", p));
        }
    }
    ck_assert_int_ge(moved, 1);
    mm_test_log_free(&log2);
    mm_test_world_free(&w);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("engine_delivery");
    TCase *tp = tcase_create("engine_produce_errors");
    tcase_add_test(tp, test_retriable_produce_errors_change_no_moment);
    tcase_add_loop_test(tp, test_refused_moment_is_dead_letter_and_stream_goes_on, 0,
                        (int)(sizeof(refusals) / sizeof(refusals[0])));
    tcase_add_test(tp, test_moment_over_message_max_bytes_is_dead_letter);
    tcase_add_test(tp, test_dead_letter_over_message_max_bytes_arrives_cut);
    tcase_add_test(tp, test_dead_letter_the_broker_refuses_arrives_cut);
    suite_add_tcase(s, tp);

    TCase *tc = tcase_create("engine_commit_errors");
    tcase_add_test(tc, test_retriable_commit_errors_still_commit_to_the_end);
    tcase_add_test(tc, test_periodic_commit_errors_are_repaired_by_the_next_commit);
    tcase_add_test(tc, test_permanent_commit_error_is_logged_and_offsets_stay_behind);
    suite_add_tcase(s, tc);

    TCase *te = tcase_create("engine_exactly_once");
    tcase_add_test(te, test_txn_retriable_errors_abort_nothing);
    tcase_add_test(te, test_txn_offset_commit_abortable_error_aborts_and_rewinds);
    tcase_add_test(te, test_end_txn_abortable_error_aborts_and_rewinds);
    suite_add_tcase(s, te);

    TCase *tr = tcase_create("engine_rebalance");
    tcase_add_test(tr, test_rebalance_mid_stream_loses_and_repeats_nothing);
    suite_add_tcase(s, tr);
    return s;
}

int main(void) {
    return mm_check_run(suite());
}
