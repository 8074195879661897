/*
 * `micromoment broker`: librdkafka's mock cluster as a development broker.
 * It speaks the Kafka protocol over TCP, so any client can use it. Its limits
 * are in DESIGN.md (no persistence, ~5 MB per partition, no transactional
 * isolation, simplified groups).
 *
 * Fault control for tests: one command per line on stdin, answered with one
 * line on stdout ("ok" or "error: ..."). Kept here, out of the run path.
 *   down BROKER_ID | up BROKER_ID          take a broker down / up
 *   rtt BROKER_ID MS                       add round-trip delay
 *   errors API COUNT ERROR                 the next COUNT requests of API
 *                                          (name or key) fail with ERROR
 *                                          (name as rd_kafka_err2name, or code)
 *   leader TOPIC PARTITION BROKER_ID       move a partition's leader
 *   coordinator group|transaction KEY ID   move a coordinator
 *   topic NAME PARTITIONS                  create a topic
 */
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <signal.h>
#include <stdbool.h>

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

/* Executes one control line; the reply goes to stdout. */
static void control(rd_kafka_mock_cluster_t *mc, char *line) {
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
            printf("error: usage: errors API COUNT ERROR\n");
            fflush(stdout);
            return;
        }
        rd_kafka_resp_err_t *codes = malloc(sizeof(*codes) * (size_t)cnt);
        for (int i = 0; i < cnt; i++)
            codes[i] = code;
        rd_kafka_mock_push_request_errors_array(mc, api, (size_t)cnt, codes);
        free(codes);
    } else if (!strcmp(cmd, "leader") && argc == 4) {
        err = rd_kafka_mock_partition_set_leader(mc, argv[1], atoi(argv[2]), atoi(argv[3]));
    } else if (!strcmp(cmd, "coordinator") && argc == 4) {
        err = rd_kafka_mock_coordinator_set(mc, argv[1], argv[2], atoi(argv[3]));
    } else if (!strcmp(cmd, "topic") && argc == 3) {
        err = rd_kafka_mock_topic_create(mc, argv[1], atoi(argv[2]), 1);
    } else {
        printf("error: unknown command '%s'\n", cmd);
        fflush(stdout);
        return;
    }
    if (err)
        printf("error: %s\n", rd_kafka_err2str(err));
    else
        printf("ok\n");
    fflush(stdout);
}

static void broker_usage(FILE *out) {
    fputs("usage: micromoment broker [--brokers N] [--topic NAME[:PARTITIONS]]...\n\n"
          "Start a local Kafka-protocol broker (librdkafka's mock cluster), print its\n"
          "bootstrap address as the first line of stdout and run until SIGINT/SIGTERM.\n"
          "Topics not created with --topic are created on first use with 4 partitions.\n"
          "Fault-control commands are read from stdin (see the source or README).\n\n"
          "  --brokers N              brokers in the cluster (default 1, at most 16)\n"
          "  --topic NAME[:PARTS]     create a topic (default 4 partitions), repeatable\n",
          out);
}

#define MAX_TOPICS 64

static volatile sig_atomic_t running = 1;

static void on_stop(int sig) {
    (void)sig;
    running = 0;
}

int mm_cmd_broker(int argc, char **argv) {
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"brokers", required_argument, NULL, 'n'},
        {"topic", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    int brokers = 1;
    char *topics[MAX_TOPICS];
    int partitions[MAX_TOPICS];
    int n_topics = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'h': broker_usage(stdout); return 0;
        case 'n':
            brokers = (int)strtol(optarg, &end, 10);
            if (*end || brokers < 1 || brokers > 16) {
                fprintf(stderr, "micromoment broker: --brokers: '%s' is not in 1..16\n", optarg);
                return 2;
            }
            break;
        case 't': {
            if (n_topics == MAX_TOPICS) {
                fprintf(stderr, "micromoment broker: at most %d --topic\n", MAX_TOPICS);
                return 2;
            }
            char *colon = strchr(optarg, ':');
            int parts = 4;
            if (colon) {
                *colon = '\0';
                parts = (int)strtol(colon + 1, &end, 10);
                if (*end || parts < 1 || parts > 10000) {
                    fprintf(stderr, "micromoment broker: --topic %s: bad partition count\n",
                            optarg);
                    return 2;
                }
            }
            if (!*optarg) {
                fprintf(stderr, "micromoment broker: --topic: empty name\n");
                return 2;
            }
            topics[n_topics] = optarg;
            partitions[n_topics++] = parts;
            break;
        }
        default: fprintf(stderr, "micromoment broker: see --help\n"); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "micromoment broker: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "micromoment broker: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "micromoment broker: could not start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 0; i < n_topics; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
            mc, topics[i], partitions[i], brokers < 3 ? brokers : 3);
        if (err) {
            fprintf(stderr, "micromoment broker: topic %s: %s\n", topics[i],
                    rd_kafka_err2str(err));
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 1;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Raw reads, not stdio: poll() must see every line that is waiting. */
    bool stdin_open = true;
    char buf[4096];
    size_t used = 0;
    while (running) {
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        if (!stdin_open || poll(&pfd, 1, 200) <= 0) {
            if (!stdin_open)
                usleep(200 * 1000);
            continue;
        }
        ssize_t r = read(0, buf + used, sizeof(buf) - 1 - used);
        if (r <= 0) {
            stdin_open = false; /* no controller: just serve */
            continue;
        }
        used += (size_t)r;
        char *nl;
        while ((nl = memchr(buf, '\n', used))) {
            *nl = '\0';
            control(mc, buf);
            size_t consumed = (size_t)(nl - buf) + 1;
            memmove(buf, nl + 1, used - consumed);
            used -= consumed;
        }
        if (used == sizeof(buf) - 1)
            used = 0; /* a line longer than any command: drop it */
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
