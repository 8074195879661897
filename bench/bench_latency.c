/*
 * End-to-end latency of a running `micromoment run`: a paced producer and a
 * moment consumer in one process, so both ends read one clock.
 *
 * usage: bench_latency BROKERS IN_TOPIC OUT_TOPIC RATE SECONDS [WARMUP_S] [USERS] [LINGER_MS]
 * prints one JSON object on stdout; progress on stderr.
 *
 * HOW IT WORKS
 *   - The producer thread writes generated events (app/gen.c, keyed by
 *     user_id, `ts` rewritten to now) at RATE per second, paced against the
 *     monotonic clock in 1 ms ticks (a late tick catches up, so the mean
 *     rate holds). The Kafka timestamp is CreateTime = the produce() call,
 *     and the send time of event "e-N" is kept in slot N of an array.
 *   - The consumer (main thread) is assigned every partition of OUT_TOPIC at
 *     its end before the first record is sent, and notes the arrival time of
 *     each record by its "event_id": a moment carries its event's id, and a
 *     record relayed unchanged (the kcat baseline) is the event itself, so
 *     the same tool measures both. With OUT_TOPIC = IN_TOPIC it measures one
 *     hop: its own producer -> broker -> its consumer, the floor.
 *   - latency = arrival - send, in us: the record's whole trip (producer
 *     batching, broker, the processor's consume, work and produce, broker,
 *     this consumer's fetch).
 *   - Records sent during the first WARMUP_S seconds are not counted.
 *   - Quantiles come from engine/histogram.c (log-linear, 1/64 relative error).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "app/gen.h"
#include "engine/histogram.h"

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct rec_s {
    int32_t partition;
    int64_t offset;
    uint64_t t_us;
} rec_t;

typedef struct vec_s {
    rec_t *v;
    size_t n, cap;
} vec_t;

static void vec_push(vec_t *vec, int32_t p, int64_t o, uint64_t t) {
    if (vec->n == vec->cap) {
        vec->cap = vec->cap ? vec->cap * 2 : 65536;
        vec->v = realloc(vec->v, vec->cap * sizeof(rec_t));
        if (!vec->v) {
            fprintf(stderr, "bench_latency: out of memory\n");
            exit(1);
        }
    }
    vec->v[vec->n++] = (rec_t){p, o, t};
}

typedef struct prod_s {
    const char *brokers, *topic;
    double rate, seconds, warmup;
    uint32_t users;
    unsigned tag;        /* event ids are "e<tag>-N" */
    const char *linger_ms;
    uint64_t *sent_us;   /* send time of event e-N, by N */
    size_t n_sent_max;
    uint64_t produced, delivered, failed, queue_full;
    uint64_t t_start, t_measure, t_end;
    atomic_int done;
} prod_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    prod_t *pr = opaque;
    if (m->err)
        pr->failed++;
    else
        pr->delivered++;
}

static const char *find(const char *p, size_t len, const char *pat) {
    size_t n = strlen(pat);
    for (size_t i = 0; i + n <= len; i++)
        if (p[i] == pat[0] && memcmp(p + i, pat, n) == 0)
            return p + i;
    return NULL;
}

/* Rebuild the record into out with "ts" = @p ts (wall-clock ms) and the
 * event id "e-N" made "eTAG-N": ids are unique to this run, so a late moment
 * of an earlier run (same generator, same e-N) is never taken for ours. */
static size_t rewrite(const char *in, size_t len, char *out, size_t cap, int64_t ts,
                      unsigned tag) {
    const char *k = find(in, len, "\"ts\":");
    const char *id = find(in, len, "\"event_id\":\"e-");
    if (!k || !id || id > k)
        return 0;
    const char *v = k + 5, *e = v;
    while (e < in + len && *e >= '0' && *e <= '9')
        e++;
    const char *idn = id + 13; /* at "-N" */
    int n = snprintf(out, cap, "%.*s%u%.*s%" PRId64 "%.*s", (int)(idn - in), in, tag,
                     (int)(v - idn), idn, ts, (int)(in + len - e), e);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void *producer_main(void *arg) {
    prod_t *pr = arg;
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", pr->brokers, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "linger.ms", pr->linger_ms, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", errstr,
                          sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "acks", "1", errstr, sizeof(errstr))) {
        fprintf(stderr, "bench_latency: %s\n", errstr);
        exit(2);
    }
    rd_kafka_conf_set_opaque(conf, pr);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "bench_latency: %s\n", errstr);
        exit(1);
    }
    mm_gen_conf_t gconf;
    mm_gen_conf_defaults(&gconf);
    gconf.users = pr->users;
    gconf.zipf_s = 0.8;
    gconf.seed = (uint64_t)now_us();
    gconf.rate = pr->rate;
    gconf.start_ts = wall_ms();
    mm_gen_t *gen = mm_gen_new(&gconf);
    char buf[MM_GEN_EVENT_MAX], out[MM_GEN_EVENT_MAX + 32];
    pr->t_start = now_us();
    pr->t_measure = pr->t_start + (uint64_t)(pr->warmup * 1e6);
    uint64_t t_stop = pr->t_measure + (uint64_t)(pr->seconds * 1e6);
    uint64_t next_report = pr->t_start + 1000000;
    struct timespec tick = {0, 1000000};
    for (;;) {
        uint64_t t = now_us();
        if (t >= t_stop)
            break;
        uint64_t due = (uint64_t)((double)(t - pr->t_start) * pr->rate / 1e6);
        int64_t ms = wall_ms();
        while (pr->produced < due && pr->produced < pr->n_sent_max) {
            mm_str_t key;
            size_t len = mm_gen_next(gen, buf, sizeof(buf), &key);
            if (!len)
                continue;
            len = rewrite(buf, len, out, sizeof(out), ms, pr->tag);
            if (!len)
                continue;
            uint64_t ts_send = now_us();
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(pr->topic), RD_KAFKA_V_KEY(key.p, key.len),
                RD_KAFKA_V_VALUE(out, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                pr->queue_full++;
                rd_kafka_poll(rk, 1);
                break;
            }
            /* gen numbers its events e-0, e-1, ... in the order written */
            pr->sent_us[pr->produced] = err ? 0 : ts_send;
            pr->produced++;
            if (err)
                pr->failed++;
        }
        rd_kafka_poll(rk, 0);
        if (t >= next_report) {
            fprintf(stderr, "\r    producing at %.0f/s: %" PRIu64 " sent   ", pr->rate,
                    pr->produced);
            next_report += 1000000;
        }
        nanosleep(&tick, NULL);
    }
    pr->t_end = now_us();
    rd_kafka_flush(rk, 30000);
    fprintf(stderr, "\r%70s\r", "");
    mm_gen_destroy(gen);
    rd_kafka_destroy(rk);
    atomic_store(&pr->done, 1);
    return NULL;
}

/* The number N of the record's "event_id":"e<tag>-N" (a moment's or an
 * event's); -1 when absent or of another run. */
static int parse_event_id(const char *p, size_t len, unsigned tag, uint64_t *n) {
    char pat[48];
    const size_t plen = (size_t)snprintf(pat, sizeof(pat), "\"event_id\":\"e%u-", tag);
    for (size_t i = 0; i + plen < len; i++)
        if (p[i] == '"' && memcmp(p + i, pat, plen) == 0) {
            const char *d = p + i + plen, *end = p + len;
            if (d >= end || *d < '0' || *d > '9')
                return -1;
            uint64_t v = 0;
            while (d < end && *d >= '0' && *d <= '9')
                v = v * 10 + (uint64_t)(*d++ - '0');
            *n = v;
            return 0;
        }
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: bench_latency BROKERS IN_TOPIC OUT_TOPIC RATE SECONDS "
                        "[WARMUP_S] [USERS] [LINGER_MS]\n");
        return 2;
    }
    prod_t pr = {0};
    pr.brokers = argv[1];
    pr.topic = argv[2];
    const char *out_topic = argv[3];
    pr.rate = strtod(argv[4], NULL);
    pr.seconds = strtod(argv[5], NULL);
    pr.warmup = argc > 6 ? strtod(argv[6], NULL) : 1.0;
    pr.users = argc > 7 ? (uint32_t)strtoul(argv[7], NULL, 10) : 100000;
    pr.linger_ms = argc > 8 ? argv[8] : "5"; /* librdkafka's default */
    char errstr[512];
    pr.tag = (unsigned)(now_us() % 1000000u);
    pr.n_sent_max = (size_t)(pr.rate * (pr.seconds + pr.warmup) * 1.2) + 1000;
    pr.sent_us = calloc(pr.n_sent_max, sizeof(uint64_t));
    if (!pr.sent_us)
        return 1;

    /* Consumer: every partition of the moments topic, from its end. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", pr.brokers, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "group.id", "bench-latency", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "fetch.error.backoff.ms", "5", errstr, sizeof(errstr))) {
        fprintf(stderr, "bench_latency: %s\n", errstr);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "bench_latency: %s\n", errstr);
        return 1;
    }
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, out_topic, NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 ||
        md->topics[0].partition_cnt < 1) {
        fprintf(stderr, "bench_latency: no metadata for %s\n", out_topic);
        return 1;
    }
    int n_parts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(n_parts);
    for (int i = 0; i < n_parts; i++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, out_topic, i, &lo, &hi, 10000)) {
            fprintf(stderr, "bench_latency: watermarks of %s [%d] failed\n", out_topic, i);
            return 1;
        }
        rd_kafka_topic_partition_list_add(tp, out_topic, i)->offset = hi;
    }
    rd_kafka_assign(rk, tp);
    rd_kafka_topic_partition_list_destroy(tp);

    pthread_t th;
    pthread_create(&th, NULL, producer_main, &pr);
    vec_t got = {0};
    uint64_t last_arrival = now_us(), unparsed = 0;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10);
        uint64_t t = now_us();
        if (m) {
            if (!m->err) {
                uint64_t id;
                if (parse_event_id(m->payload, m->len, pr.tag, &id) == 0)
                    vec_push(&got, 0, (int64_t)id, t);
                else
                    unparsed++;
                last_arrival = t;
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        /* Done when the producer is and no moment came for 3 s. */
        if (atomic_load(&pr.done) && t - last_arrival > 3000000)
            break;
    }
    pthread_join(th, NULL);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    mm_histogram_t *h = mm_histogram_new();
    uint64_t matched = 0, unmatched = 0, warm = 0;
    for (size_t i = 0; i < got.n; i++) {
        uint64_t id = (uint64_t)got.v[i].offset;
        uint64_t sent = id < pr.produced ? pr.sent_us[id] : 0;
        if (!sent) {
            unmatched++;
            continue;
        }
        if (sent < pr.t_measure) {
            warm++;
            continue;
        }
        matched++;
        mm_histogram_record_us(h, got.v[i].t_us > sent ? got.v[i].t_us - sent : 0);
    }
    double secs = (double)(pr.t_end - pr.t_start) / 1e6;
    printf("{\"rate_target\":%.0f,\"rate_achieved\":%.0f,\"seconds\":%.1f,\"warmup_s\":%.1f,"
           "\"produced\":%" PRIu64 ",\"delivered\":%zu,\"failed\":%" PRIu64
           ",\"queue_full\":%" PRIu64 ",\"received\":%zu,\"measured\":%" PRIu64
           ",\"unmatched\":%" PRIu64 ",\"unparsed\":%" PRIu64
           ",\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,\"p999_us\":%.0f,"
           "\"max_us\":%" PRIu64 ",\"mean_us\":%.0f,\"quantiles\":[",
           pr.rate, (double)pr.produced / secs, secs, pr.warmup, pr.produced, pr.delivered,
           pr.failed, pr.queue_full, got.n, matched, unmatched, unparsed,
           mm_histogram_quantile_us(h, 0.5), mm_histogram_quantile_us(h, 0.9),
           mm_histogram_quantile_us(h, 0.99), mm_histogram_quantile_us(h, 0.999),
           mm_histogram_max_us(h),
           matched ? (double)mm_histogram_sum_us(h) / (double)matched : 0.0);
    static const double qs[] = {0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
                                0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.0};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
        printf("%s[%g,%.0f]", i ? "," : "", qs[i], mm_histogram_quantile_us(h, qs[i]));
    printf("]}\n");
    mm_histogram_destroy(h);
    free(pr.sent_us);
    free(got.v);
    (void)warm;
    return matched ? 0 : 1;
}
