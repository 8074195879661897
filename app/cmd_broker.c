/*
 * `micromoment broker`: librdkafka's mock cluster as a development broker.
 * It speaks the Kafka protocol over TCP, so any client can use it. What it
 * is not (no persistence, ~5 MB per partition, no transactional isolation,
 * simplified groups) is in docs/design.md.
 *
 * Topics exist only when declared (--topic, or the `topic` control command),
 * as on a Kafka cluster with auto.create.topics.enable=false; see
 * watch_topics() for how far librdkafka 2.0.2's mock lets us go.
 *
 * Fault control for tests, only when asked for (--control stdin|FIFO): one
 * command per line, answered with one line on stdout ("ok" or "error: ...").
 * Without --control the broker never reads stdin, so `broker &` in an
 * interactive shell is not stopped by the terminal (SIGTTIN).
 *   down BROKER_ID | up BROKER_ID          take a broker down / up
 *   rtt BROKER_ID MS                       add round-trip delay
 *   errors API COUNT ERROR                 the next COUNT requests of API
 *                                          (name or key) fail with ERROR
 *                                          (name as rd_kafka_err2name, or code)
 *   leader TOPIC PARTITION BROKER_ID       move a partition's leader
 *   coordinator group|transaction KEY ID   move a coordinator
 *   topic NAME PARTITIONS                  create (declare) a topic
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"

#define MAX_TOPICS 1024        /* declared topics, --topic and `topic` together */
#define WATCH_INTERVAL_MS 100  /* how often undeclared topics are looked for */
#define METADATA_API_KEY 3

typedef struct broker_s {
    rd_kafka_t *rk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_t *watcher; /* a client of the cluster that lists its topics */
    int brokers;
    char *declared[MAX_TOPICS];
    int n_declared;
} broker_t;

static volatile sig_atomic_t broker_running = 1;

static void on_stop_signal(int sig) {
    (void)sig;
    broker_running = 0;
}

static const struct {
    const char *name;
    int16_t key;
} api_names[] = {
    {"Produce", 0},         {"Fetch", 1},           {"ListOffsets", 2},
    {"Metadata", 3},        {"OffsetCommit", 8},    {"OffsetFetch", 9},
    {"FindCoordinator", 10}, {"JoinGroup", 11},      {"Heartbeat", 12},
    {"LeaveGroup", 13},     {"SyncGroup", 14},      {"InitProducerId", 22},
    {"AddPartitionsToTxn", 24}, {"AddOffsetsToTxn", 25}, {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

static bool parse_api(const char *s, int16_t *key) {
    for (size_t i = 0; i < sizeof(api_names) / sizeof(api_names[0]); i++)
        if (strcasecmp(s, api_names[i].name) == 0) {
            *key = api_names[i].key;
            return true;
        }
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0 || v > 100)
        return false;
    *key = (int16_t)v;
    return true;
}

static bool parse_err(const char *s, rd_kafka_resp_err_t *err) {
    const struct rd_kafka_err_desc *descs;
    size_t cnt;
    rd_kafka_get_err_descs(&descs, &cnt);
    for (size_t i = 0; i < cnt; i++)
        if (descs[i].name && strcasecmp(descs[i].name, s) == 0) {
            *err = descs[i].code;
            return true;
        }
    char *end;
    long v = strtol(s, &end, 10);
    if (*end)
        return false;
    *err = (rd_kafka_resp_err_t)v;
    return true;
}

static bool is_declared(const broker_t *b, const char *topic) {
    for (int i = 0; i < b->n_declared; i++)
        if (strcmp(b->declared[i], topic) == 0)
            return true;
    return false;
}

/* Creates and declares a topic; @returns the mock's answer. */
static rd_kafka_resp_err_t declare(broker_t *b, const char *topic, int partitions) {
    if (!is_declared(b, topic)) {
        if (b->n_declared == MAX_TOPICS)
            return RD_KAFKA_RESP_ERR_POLICY_VIOLATION;
        char *copy = strdup(topic);
        if (!copy)
            return RD_KAFKA_RESP_ERR__FAIL;
        b->declared[b->n_declared++] = copy;
    }
    return rd_kafka_mock_topic_create(b->mc, topic, partitions,
                                      b->brokers < 3 ? b->brokers : 3);
}

static void reply(const char *fmt, const char *detail) {
    printf(fmt, detail);
    fputc('\n', stdout);
    fflush(stdout);
}

/* Executes one control line; the reply goes to stdout. */
static void control(broker_t *b, char *line) {
    rd_kafka_mock_cluster_t *mc = b->mc;
    char *argv[6] = {0};
    int argc = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && argc < 6;
         t = strtok_r(NULL, " \t\r\n", &save))
        argv[argc++] = t;
    if (argc == 0)
        return;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    const char *cmd = argv[0];
    if (!strcmp(cmd, "down") && argc == 2) {
        err = rd_kafka_mock_broker_set_down(mc, atoi(argv[1]));
    } else if (!strcmp(cmd, "up") && argc == 2) {
        err = rd_kafka_mock_broker_set_up(mc, atoi(argv[1]));
    } else if (!strcmp(cmd, "rtt") && argc == 3) {
        err = rd_kafka_mock_broker_set_rtt(mc, atoi(argv[1]), atoi(argv[2]));
    } else if (!strcmp(cmd, "errors") && argc == 4) {
        int16_t api;
        rd_kafka_resp_err_t code;
        int cnt = atoi(argv[2]);
        if (!parse_api(argv[1], &api) || !parse_err(argv[3], &code) || cnt <= 0 ||
            cnt > 10000) {
            reply("error: usage: %s", "errors API COUNT ERROR");
            return;
        }
        rd_kafka_resp_err_t *codes = malloc(sizeof(*codes) * (size_t)cnt);
        if (!codes) {
            reply("error: %s", "out of memory");
            return;
        }
        for (int i = 0; i < cnt; i++)
            codes[i] = code;
        rd_kafka_mock_push_request_errors_array(mc, api, (size_t)cnt, codes);
        free(codes);
    } else if (!strcmp(cmd, "leader") && argc == 4) {
        if (!is_declared(b, argv[1])) {
            reply("error: topic %s was not declared (--topic or `topic`)", argv[1]);
            return;
        }
        err = rd_kafka_mock_partition_set_leader(mc, argv[1], atoi(argv[2]), atoi(argv[3]));
    } else if (!strcmp(cmd, "coordinator") && argc == 4) {
        err = rd_kafka_mock_coordinator_set(mc, argv[1], argv[2], atoi(argv[3]));
    } else if (!strcmp(cmd, "topic") && argc == 3) {
        int parts = atoi(argv[2]);
        if (parts < 1 || parts > 10000) {
            reply("error: usage: %s", "topic NAME PARTITIONS (1..10000)");
            return;
        }
        err = declare(b, argv[1], parts);
    } else {
        reply("error: unknown command '%s'", cmd);
        return;
    }
    if (err)
        reply("error: %s", rd_kafka_err2str(err));
    else
        reply("%s", "ok");
}

/* ------------------------------------------------------ undeclared topics */

/*
 * Kafka with auto.create.topics.enable=false answers UNKNOWN_TOPIC_OR_PART
 * for a topic nobody created. librdkafka 2.0.2's mock has no switch for
 * that; what it has:
 *  - its Metadata handler creates a requested topic unless the request
 *    (v4 and later) says AllowAutoTopicCreation=false, but it advertises
 *    Metadata v0-v2 only, where the flag does not exist. Advertising v4
 *    (rd_kafka_mock_set_apiversion, the handler reads v4 fully) lets every
 *    client that does not ask for auto-creation see an unknown topic, as on
 *    Kafka: consumers (allow.auto.create.topics defaults to false there),
 *    so a mistyped input topic stays unknown.
 *  - producers ask for auto-creation by default (librdkafka's producer
 *    default is true), and the mock grants it. Nothing refuses that first
 *    request, so the watcher below lists the cluster's topics every
 *    WATCH_INTERVAL_MS, and for each one nobody declared prints a warning,
 *    takes its partitions' leaders away and makes it answer
 *    UNKNOWN_TOPIC_OR_PART from then on: what the creating producer sent
 *    before that may have been stored, but no later request succeeds.
 * The watcher's listing is a Metadata request: `errors Metadata N ...`
 * counts it too.
 */
static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk, (void)level, (void)fac, (void)buf; /* a broker down is expected here */
}

static rd_kafka_t *watcher_new(const char *bootstraps, char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, errstr_size) ||
        rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", errstr, errstr_size) ||
        rd_kafka_conf_set(conf, "client.id", "micromoment-broker-watcher", errstr,
                          errstr_size)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (!rk)
        rd_kafka_conf_destroy(conf);
    return rk;
}

static void watch_topics(broker_t *b) {
    const struct rd_kafka_metadata *md = NULL;
    /* All topics: a listing never creates one. */
    if (rd_kafka_metadata(b->watcher, 1, NULL, &md, 500) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return; /* a broker down or slow: next time */
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || is_declared(b, t->topic))
            continue; /* already refused, or wanted */
        for (int p = 0; p < t->partition_cnt; p++)
            rd_kafka_mock_partition_set_leader(b->mc, t->topic, t->partitions[p].id, -1);
        rd_kafka_mock_topic_set_error(b->mc, t->topic,
                                      RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
        fprintf(stderr,
                "micromoment broker: warning: a client's request created topic '%s', "
                "which was not declared (--topic); it answers UNKNOWN_TOPIC_OR_PART "
                "from now on\n",
                t->topic);
        fflush(stderr);
    }
    rd_kafka_metadata_destroy(md);
}

/* ------------------------------------------------------------- the command */

static void broker_usage(FILE *out) {
    fputs("usage: micromoment broker [--brokers N] [--topic NAME[:PARTITIONS]]...\n"
          "                          [--control stdin|FIFO]\n\n"
          "Start a local Kafka-protocol broker (librdkafka's mock cluster), print its\n"
          "bootstrap address as the first line of stdout and run until SIGINT/SIGTERM.\n"
          "Only declared topics exist: a client asking for another one gets\n"
          "UNKNOWN_TOPIC_OR_PART (a producer's first request may still create it: the\n"
          "broker then warns on stderr and refuses the topic from then on).\n\n"
          "  --brokers N              brokers in the cluster (default 1, at most 16)\n"
          "  --topic NAME[:PARTS]     declare a topic (default 4 partitions), repeatable\n"
          "  --control stdin|FIFO     read fault-control commands (tests) from stdin or\n"
          "                           from FIFO (created when missing); replies on stdout.\n"
          "                           Without it, stdin is never read.\n"
          "commands: down ID | up ID | rtt ID MS | errors API COUNT ERROR |\n"
          "          leader TOPIC PARTITION ID | coordinator group|transaction KEY ID |\n"
          "          topic NAME PARTITIONS\n",
          out);
}

/* --control: @returns the fd to read commands from, or -1 with a message. */
static int open_control(const char *spec) {
    if (strcmp(spec, "stdin") == 0 || strcmp(spec, "-") == 0)
        return 0;
    struct stat st;
    if (stat(spec, &st) != 0) {
        if (errno != ENOENT || mkfifo(spec, 0600) != 0) {
            fprintf(stderr, "micromoment broker: --control %s: %s\n", spec, strerror(errno));
            return -1;
        }
    } else if (!S_ISFIFO(st.st_mode)) {
        fprintf(stderr, "micromoment broker: --control %s: not a FIFO (mkfifo it, or "
                        "use --control stdin)\n", spec);
        return -1;
    }
    /* Read-write: the FIFO never reads as closed when a writer goes away. */
    int fd = open(spec, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        fprintf(stderr, "micromoment broker: --control %s: %s\n", spec, strerror(errno));
    return fd;
}

/* Reads what is waiting on fd and runs each complete line. @returns false at
 * end of input (stdin closed: no controller any more). */
static bool serve_control(broker_t *b, int fd, char *buf, size_t cap, size_t *used) {
    ssize_t r = read(fd, buf + *used, cap - 1 - *used);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
        return false;
    if (r < 0)
        return true;
    *used += (size_t)r;
    char *nl;
    while ((nl = memchr(buf, '\n', *used))) {
        *nl = '\0';
        control(b, buf);
        size_t consumed = (size_t)(nl - buf) + 1;
        memmove(buf, nl + 1, *used - consumed);
        *used -= consumed;
    }
    if (*used == cap - 1)
        *used = 0; /* a line longer than any command: drop it */
    return true;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void serve(broker_t *b, int control_fd) {
    char buf[4096];
    size_t used = 0;
    int64_t next_watch = 0;
    while (broker_running) {
        int64_t now = now_ms();
        if (now >= next_watch) {
            watch_topics(b);
            next_watch = now_ms() + WATCH_INTERVAL_MS;
        }
        struct pollfd pfd = {.fd = control_fd, .events = POLLIN};
        int wait = (int)(next_watch - now_ms());
        if (poll(&pfd, control_fd >= 0 ? 1 : 0, wait > 0 ? wait : 0) > 0 &&
            !serve_control(b, control_fd, buf, sizeof(buf), &used))
            control_fd = -1; /* no controller any more: just serve */
    }
}

static int parse_topic(char *arg, char **name, int *parts) {
    char *colon = strchr(arg, ':');
    *parts = 4;
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (*end || colon[1] == '\0' || v < 1 || v > 10000) {
            fprintf(stderr, "micromoment broker: --topic %s: bad partition count\n", arg);
            return 2;
        }
        *parts = (int)v;
    }
    size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
    if (len == 0) {
        fprintf(stderr, "micromoment broker: --topic: empty name\n");
        return 2;
    }
    *name = strndup(arg, len);
    return *name ? 0 : 1;
}

static void broker_destroy(broker_t *b) {
    if (b->watcher)
        rd_kafka_destroy(b->watcher);
    if (b->mc)
        rd_kafka_mock_cluster_destroy(b->mc);
    if (b->rk)
        rd_kafka_destroy(b->rk);
    for (int i = 0; i < b->n_declared; i++)
        free(b->declared[i]);
}

int mm_cmd_broker(int argc, char **argv) {
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"brokers", required_argument, NULL, 'n'},
        {"topic", required_argument, NULL, 't'},
        {"control", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0},
    };
    broker_t b = {.brokers = 1};
    char *names[MAX_TOPICS];
    int partitions[MAX_TOPICS];
    int n_topics = 0, code = 1, control_fd = -1;
    const char *control_spec = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'h': broker_usage(stdout); code = 0; goto done;
        case 'n':
            b.brokers = (int)strtol(optarg, &end, 10);
            if (*end || b.brokers < 1 || b.brokers > 16) {
                fprintf(stderr, "micromoment broker: --brokers: '%s' is not in 1..16\n", optarg);
                code = 2;
                goto done;
            }
            break;
        case 't':
            if (n_topics == MAX_TOPICS) {
                fprintf(stderr, "micromoment broker: at most %d --topic\n", MAX_TOPICS);
                code = 2;
                goto done;
            }
            if ((code = parse_topic(optarg, &names[n_topics], &partitions[n_topics])) != 0)
                goto done;
            n_topics++;
            break;
        case 'C': control_spec = optarg; break;
        default: fprintf(stderr, "micromoment broker: see --help\n"); code = 2; goto done;
        }
    }
    code = 2;
    if (optind < argc) {
        fprintf(stderr, "micromoment broker: unexpected argument '%s'\n", argv[optind]);
        goto done;
    }
    if (control_spec && (control_fd = open_control(control_spec)) < 0)
        goto done;

    code = 1;
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    if (!(b.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)))) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "micromoment broker: %s\n", errstr);
        goto done;
    }
    if (!(b.mc = rd_kafka_mock_cluster_new(b.rk, b.brokers))) {
        fprintf(stderr, "micromoment broker: could not start the mock cluster\n");
        goto done;
    }
    rd_kafka_resp_err_t err = rd_kafka_mock_set_apiversion(b.mc, METADATA_API_KEY, 0, 4);
    if (err) {
        fprintf(stderr, "micromoment broker: Metadata v4: %s\n", rd_kafka_err2str(err));
        goto done;
    }
    for (int i = 0; i < n_topics; i++) {
        if ((err = declare(&b, names[i], partitions[i]))) {
            fprintf(stderr, "micromoment broker: topic %s: %s\n", names[i],
                    rd_kafka_err2str(err));
            goto done;
        }
    }
    if (!(b.watcher = watcher_new(rd_kafka_mock_cluster_bootstraps(b.mc), errstr,
                                  sizeof(errstr)))) {
        fprintf(stderr, "micromoment broker: %s\n", errstr);
        goto done;
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(b.mc));
    fflush(stdout);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    serve(&b, control_fd);
    code = 0;
done:
    if (control_fd > 0)
        close(control_fd);
    broker_destroy(&b);
    for (int i = 0; i < n_topics; i++)
        free(names[i]);
    return code;
}
