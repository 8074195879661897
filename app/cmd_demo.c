/*
 * `micromoment demo`: nothing to set up. An embedded development broker, the
 * synthetic clickstream produced into it by a second thread (with a few
 * malformed records, to show the dead-letter path), and the real `run`
 * pipeline consuming it over TCP. A live line of counts per moment type, then
 * a summary with example moments. Ends by itself.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "commands.h"
#include "gen.h"
#include "log.h"
#include "run.h"

#define EXAMPLE_LEN 2048

typedef struct demo_s {
    int seconds;
    int rate; /* events per second */
    const char *bootstrap;
    int64_t started_ms;
    atomic_int gen_stop;
    atomic_uint_fast64_t produced;
    char examples[MM_MOMENT__COUNT][EXAMPLE_LEN];
    uint32_t example_signals[MM_MOMENT__COUNT];
    char buyer[128]; /* the user of the buy example: whose profile to show */
    pthread_mutex_t examples_lock;
    char profile_url[256];
    char profile[EXAMPLE_LEN]; /* what GET /users/{id} answered */
    size_t profile_len;
    char conversion[EXAMPLE_LEN];
} demo_t;

/* Malformed records, one of each kind the dead-letter path handles. */
static const char *const bad_records[] = {
    "this is not json",
    "[\"an\", \"array\"]",
    "{\"type\":\"query\",\"query\":\"no user id\"}",
    "{\"user_id\":\"u1\",\"type\":\"teleport\"}",
    "{\"user_id\":\"u1\",\"type\":\"query\",\"query\":\"bad \xff\xfe utf8\"}",
};

static void *generate(void *arg) {
    demo_t *demo = arg;
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", demo->bootstrap, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "linger.ms", "20", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        mm_log_error("demo generator: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    mm_gen_conf_t gconf;
    mm_gen_conf_defaults(&gconf);
    gconf.users = 5000;
    /* Event time runs at the generator's human pace (its default rate)
     * while records are sent much faster, so a short demo covers about half
     * an hour of behaviour: location bursts and carts need minutes. */
    gconf.start_ts = mm_now_ms() - 30 * 60 * 1000;
    mm_gen_t *gen = mm_gen_new(&gconf);
    char buf[4096];
    uint64_t n = 0;
    int64_t t0 = mm_now_ms();
    while (gen && !atomic_load(&demo->gen_stop)) {
        /* Pace to the rate, in steps of 10 ms. */
        int64_t due = (mm_now_ms() - t0) * demo->rate / 1000;
        if ((int64_t)n >= due) {
            rd_kafka_poll(rk, 10);
            continue;
        }
        mm_str_t key;
        const char *value = buf;
        size_t len;
        if (n % 997 == 500) {
            value = bad_records[(n / 997) % (sizeof(bad_records) / sizeof(bad_records[0]))];
            len = strlen(value);
            key = (mm_str_t){"u-bad", 5};
        } else {
            len = mm_gen_next(gen, buf, sizeof(buf), &key);
        }
        if (len && rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("events"),
                                     RD_KAFKA_V_KEY(key.p, key.len),
                                     RD_KAFKA_V_VALUE((void *)value, len),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            n++;
            atomic_store(&demo->produced, n);
        } else {
            rd_kafka_poll(rk, 10);
        }
    }
    rd_kafka_flush(rk, 5000);
    mm_gen_destroy(gen);
    rd_kafka_destroy(rk);
    return NULL;
}

/* A port the OS says is free now, for the demo's HTTP listener (port 0 would
 * mean "no listener"). */
static uint16_t free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    uint16_t port = 19464;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static size_t keep_body(char *p, size_t size, size_t nmemb, void *ctx) {
    demo_t *demo = ctx;
    size_t n = size * nmemb, room = sizeof(demo->profile) - 1 - demo->profile_len;
    size_t take = n < room ? n : room;
    memcpy(demo->profile + demo->profile_len, p, take);
    demo->profile_len += take;
    demo->profile[demo->profile_len] = '\0';
    return n;
}

/* What a personalization service would ask: the profile of a user who has
 * just had a buy moment, over the same HTTP listener as /metrics. */
static void fetch_profile(mm_run_t *run, demo_t *demo) {
    char user[128];
    pthread_mutex_lock(&demo->examples_lock);
    snprintf(user, sizeof(user), "%s", demo->buyer);
    pthread_mutex_unlock(&demo->examples_lock);
    uint16_t port = mm_run_http_port(run);
    CURL *curl = *user && port ? curl_easy_init() : NULL;
    if (!curl)
        return;
    char *escaped = curl_easy_escape(curl, user, 0);
    snprintf(demo->profile_url, sizeof(demo->profile_url), "http://127.0.0.1:%u/users/%s",
             (unsigned)port, escaped ? escaped : user);
    curl_free(escaped);
    demo->profile_len = 0;
    curl_easy_setopt(curl, CURLOPT_URL, demo->profile_url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, demo);
    if (curl_easy_perform(curl) != CURLE_OK)
        demo->profile_len = 0;
    curl_easy_cleanup(curl);
}

static void live_line(mm_run_t *run, void *ctx) {
    demo_t *demo = ctx;
    mm_engine_stats_t st;
    mm_run_stats(run, &st);
    uint64_t dead = 0;
    for (int i = 0; i < MM_ERR__COUNT; i++)
        dead += st.dead_out[i];
    int64_t elapsed = (mm_now_ms() - demo->started_ms) / 1000;
    if (elapsed >= demo->seconds) {
        fetch_profile(run, demo);
        mm_run_stop(run);
    }
    if (st.partitions == 0) {
        printf("[%3" PRId64 "s] joining the consumer group...\n", elapsed);
        fflush(stdout);
        return;
    }
    printf("[%3" PRId64 "s] events %8" PRIu64 "  know %6" PRIu64 "  go %6" PRIu64
           "  do %6" PRIu64 "  buy %6" PRIu64 "  dead letters %4" PRIu64 "\n",
           elapsed, st.records_in, st.moments_out[MM_MOMENT_KNOW],
           st.moments_out[MM_MOMENT_GO], st.moments_out[MM_MOMENT_DO],
           st.moments_out[MM_MOMENT_BUY], dead);
    fflush(stdout);
}

/* Per type, the moment with the most signals that fired: it shows most.
 * Called from every worker: a worker that finds the examples busy skips. */
static void keep_example(const mm_moment_t *m, const char *json, size_t len, void *ctx) {
    demo_t *demo = ctx;
    if (len >= EXAMPLE_LEN || pthread_mutex_trylock(&demo->examples_lock) != 0)
        return;
    if (!*demo->examples[m->type] || m->n_signals > demo->example_signals[m->type]) {
        memcpy(demo->examples[m->type], json, len);
        demo->examples[m->type][len] = '\0';
        demo->example_signals[m->type] = m->n_signals;
    }
    if (m->type == MM_MOMENT_BUY && m->event->user_id.len < sizeof(demo->buyer)) {
        memcpy(demo->buyer, m->event->user_id.p, m->event->user_id.len);
        demo->buyer[m->event->user_id.len] = '\0';
    }
    pthread_mutex_unlock(&demo->examples_lock);
}

/* The first conversion attributed to a moment (from a worker thread). */
static void keep_conversion(const char *json, size_t len, void *ctx) {
    demo_t *demo = ctx;
    if (len >= EXAMPLE_LEN || pthread_mutex_trylock(&demo->examples_lock) != 0)
        return;
    if (!*demo->conversion) {
        memcpy(demo->conversion, json, len);
        demo->conversion[len] = '\0';
        if (!strstr(demo->conversion, "\"moment_id\"")) /* attributed to none */
            *demo->conversion = '\0';
    }
    pthread_mutex_unlock(&demo->examples_lock);
}

static void summary(demo_t *demo, int code) {
    printf("\nproduced %" PRIu64 " events in %d s; one example moment of each type:\n",
           (uint64_t)atomic_load(&demo->produced), demo->seconds);
    for (int t = 0; t < MM_MOMENT__COUNT; t++)
        printf("\n%s:\n  %s\n", mm_moment_type_name((mm_moment_type_t)t),
               *demo->examples[t] ? demo->examples[t] : "(none detected)");
    printf("\nwhat a personalization service reads of that buyer (GET %s):\n  %s\n",
           *demo->profile_url ? demo->profile_url : "/users/{id}",
           demo->profile_len ? demo->profile : "(no answer)");
    printf("\none conversion, with the moments it is attributed to "
           "(topic micro-moments.conversions):\n  %s\n",
           *demo->conversion ? demo->conversion : "(none attributed yet)");
    printf("\ndemo %s. Next: README.md shows the same flow with `micromoment broker`,\n"
           "kcat and `micromoment run`.\n",
           code == 0 ? "finished" : "failed");
}

static void demo_usage(FILE *out) {
    fputs("usage: micromoment demo [--seconds N] [--rate EVENTS_PER_S]\n\n"
          "Embedded broker + synthetic clickstream + the pipeline, with a live line\n"
          "of counts per moment type and a summary. Ends by itself (default 15 s).\n",
          out);
}

static int parse_demo_args(demo_t *demo, int argc, char **argv) {
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"seconds", required_argument, NULL, 's'},
        {"rate", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end;
        long v;
        switch (c) {
        case 'h': demo_usage(stdout); return 0;
        case 's':
        case 'r':
            v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > (c == 's' ? 86400 : 1000000)) {
                fprintf(stderr, "micromoment demo: --%s: '%s' is out of range\n",
                        c == 's' ? "seconds" : "rate", optarg);
                return 2;
            }
            if (c == 's')
                demo->seconds = (int)v;
            else
                demo->rate = (int)v;
            break;
        default: fprintf(stderr, "micromoment demo: see --help\n"); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "micromoment demo: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return -1;
}

int mm_cmd_demo(int argc, char **argv) {
    static demo_t demo = {.examples_lock = PTHREAD_MUTEX_INITIALIZER}; /* one per process */
    demo.seconds = 15;
    demo.rate = 2000;
    int code = parse_demo_args(&demo, argc, argv);
    if (code >= 0)
        return code;
    mm_log_setup("micromoment demo", MM_LOG_WARN, MM_LOG_FORMAT_TEXT);
    mm_signals_block(); /* before the generator's thread: mm_run takes them */

    char errstr[512];
    rd_kafka_conf_t *mconf = rd_kafka_conf_new();
    rd_kafka_conf_set(mconf, "log_level", "3", errstr, sizeof(errstr));
    rd_kafka_t *mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, errstr, sizeof(errstr));
    rd_kafka_mock_cluster_t *mc = mock_rk ? rd_kafka_mock_cluster_new(mock_rk, 1) : NULL;
    if (!mc) {
        fprintf(stderr, "micromoment demo: cannot start the embedded broker\n");
        if (mock_rk)
            rd_kafka_destroy(mock_rk);
        return 1;
    }
    rd_kafka_mock_topic_create(mc, "events", 4, 1);
    rd_kafka_mock_topic_create(mc, "micro-moments", 4, 1);
    rd_kafka_mock_topic_create(mc, "micro-moments.dlq", 1, 1);
    /* Their existence turns profiles, attribution and the state changelog on. */
    rd_kafka_mock_topic_create(mc, "micro-moments.profiles", 4, 1);
    rd_kafka_mock_topic_create(mc, "micro-moments.conversions", 4, 1);
    rd_kafka_mock_topic_create(mc, "micro-moments.state", 4, 1);
    demo.bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    printf("micromoment %s demo: embedded broker at %s, %d events/s for %d s\n"
           "(the consumer group takes a few seconds to form)\n\n",
           MM_VERSION, demo.bootstrap, demo.rate, demo.seconds);
    fflush(stdout);

    demo.started_ms = mm_now_ms();
    pthread_t gen_thread;
    pthread_create(&gen_thread, NULL, generate, &demo);

    mm_config_t cfg;
    mm_config_init(&cfg);
    mm_config_set(&cfg, "bootstrap.servers", demo.bootstrap, errstr, sizeof(errstr));
    mm_config_set(&cfg, "group.id", "micromoment-demo", errstr, sizeof(errstr));
    mm_config_set(&cfg, "log_level", "3", errstr, sizeof(errstr));
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)free_port());
    mm_config_set(&cfg, "mm.metrics.listen", listen, errstr, sizeof(errstr));
    if (mm_config_finish(&cfg, errstr, sizeof(errstr)) != MM_CONF_OK) {
        fprintf(stderr, "micromoment demo: %s\n", errstr);
        code = 1;
        mm_config_destroy(&cfg);
        goto stop_generator;
    }
    mm_run_hooks_t hooks = {.tick = live_line, .on_moment = keep_example,
                            .on_conversion = keep_conversion, .ctx = &demo};
    code = mm_run(&cfg, &hooks);
    mm_config_destroy(&cfg);

stop_generator:
    atomic_store(&demo.gen_stop, 1);
    pthread_join(gen_thread, NULL);
    summary(&demo, code);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mock_rk);
    return code;
}
