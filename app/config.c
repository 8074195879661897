/*
 * The configuration table. Every key micromoment owns is one row here; a key
 * that is not in the table and has no "mm." prefix belongs to librdkafka.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"

typedef enum {
    MM_CT_STR,  /* char[] of the field's size */
    MM_CT_I64,  /* int64_t */
    MM_CT_U32,  /* uint32_t */
    MM_CT_U64,  /* uint64_t */
    MM_CT_SIZE, /* size_t */
    MM_CT_DBL,  /* double */
    MM_CT_ENUM,  /* int: index into values "a|b|c" */
    MM_CT_FIELDS /* uint32_t: moment fields left out (mm_moment_fields_parse) */
} mm_conf_type_t;

typedef struct mm_conf_key_s {
    const char *name;
    mm_conf_type_t type;
    size_t offset;
    size_t size; /* MM_CT_STR: capacity */
    double min, max;
    const char *values; /* MM_CT_ENUM: "a|b" */
    const char *def;    /* default, as text */
    const char *help;
} mm_conf_key_t;

#define F(field) offsetof(mm_config_t, field), sizeof(((mm_config_t *)0)->field)
#define MS_MAX 86400000.0 * 365

static const mm_conf_key_t conf_keys[] = {
    {"mm.input.topics", MM_CT_STR, F(engine.input_topics), 0, 0, NULL, "events",
     "Input topics, comma-separated (-i). TOPIC: the consumer group shares the "
     "topic's partitions among the instances. TOPIC:N or TOPIC:N-M: exactly these "
     "partitions, with no group membership (each instance is told its own; "
     "offsets are still committed to the group; at-least-once only)."},
    {"mm.output.topic", MM_CT_STR, F(engine.output_topic), 0, 0, NULL, "micro-moments",
     "Topic the moments are written to (-o), keyed by user_id."},
    {"mm.output.routing", MM_CT_ENUM, F(engine.routing), 0, 0, "single|per-type", "single",
     "single: every moment to mm.output.topic. per-type: each to its type's topic "
     "(mm.output.topic.know, .go, .do, .buy), which must exist."},
    {"mm.output.topic.know", MM_CT_STR, F(engine.type_topics[0]), 0, 0, NULL, "",
     "per-type routing: the know moments' topic; empty: <mm.output.topic>.know."},
    {"mm.output.topic.go", MM_CT_STR, F(engine.type_topics[1]), 0, 0, NULL, "",
     "per-type routing: the go moments' topic; empty: <mm.output.topic>.go."},
    {"mm.output.topic.do", MM_CT_STR, F(engine.type_topics[2]), 0, 0, NULL, "",
     "per-type routing: the do moments' topic; empty: <mm.output.topic>.do."},
    {"mm.output.topic.buy", MM_CT_STR, F(engine.type_topics[3]), 0, 0, NULL, "",
     "per-type routing: the buy moments' topic; empty: <mm.output.topic>.buy."},
    {"mm.profiles", MM_CT_ENUM, F(engine.profiles), 0, 0, "auto|on|off", "auto",
     "User profiles: each changed user's profile to mm.profiles.topic (compacted, key "
     "user_id) at every commit, and GET /users/{id} on mm.metrics.listen. auto: on "
     "when the topic exists at start."},
    {"mm.profiles.topic", MM_CT_STR, F(engine.profiles_topic), 0, 0, NULL,
     "micro-moments.profiles", "Topic of the user profiles (make it compacted)."},
    {"mm.profiles.window.ms", MM_CT_I64, F(engine.profile_window_ms), 60000, MS_MAX, NULL,
     "86400000", "A profile counts each type's moments over a window this long (event time)."},
    {"mm.conversions", MM_CT_ENUM, F(engine.conversions), 0, 0, "auto|on|off", "auto",
     "Conversions (mm.conversion.types) to mm.conversions.topic with the moments they are "
     "attributed to. auto: on when the topic exists at start."},
    {"mm.conversions.topic", MM_CT_STR, F(engine.conversions_topic), 0, 0, NULL,
     "micro-moments.conversions", "Topic of the attributed conversions, keyed by user_id."},
    {"mm.conversion.types", MM_CT_STR, F(engine.conversion_types), 0, 0, NULL,
     "add_to_cart,purchase", "Event types that are conversions, comma-separated."},
    {"mm.attribution.window.ms", MM_CT_I64, F(engine.attribution_window_ms), 1000, MS_MAX, NULL,
     "1800000", "A conversion is attributed to the user's moments this long before it."},
    {"mm.attribution.max", MM_CT_U32, F(engine.attribution_max), 1, 4, NULL, "4",
     "At most this many moments per conversion: the latest of each type, newest first."},
    {"mm.late.topic", MM_CT_STR, F(engine.late_topic), 0, 0, NULL, "",
     "Late events (behind their partition's newest event time by more than "
     "mm.lateness.ms) are flagged on their moments and counted; this topic, when set, "
     "also gets a copy of each (key and value unchanged)."},
    {"mm.state.changelog", MM_CT_ENUM, F(engine.changelog), 0, 0, "auto|on|off", "auto",
     "Per-user state survives restarts and rebalances: changed users' state is written "
     "to mm.state.changelog.topic at every commit and restored from it when a partition "
     "is assigned. auto: on when the topic exists at start with enough partitions."},
    {"mm.state.changelog.topic", MM_CT_STR, F(engine.changelog_topic), 0, 0, NULL,
     "micro-moments.state",
     "The state changelog: compacted, at least as many partitions as every input topic."},
    {"mm.input.partitioner", MM_CT_ENUM, F(engine.partitioner), 0, 0, "consistent|murmur2",
     "consistent",
     "How the input's producers partition by key (librdkafka's default, or the Java "
     "client's): GET /users/{id} names the partition that owns a user."},
    {"mm.dlq.topic", MM_CT_STR, F(engine.dlq_topic), 0, 0, NULL, "micro-moments.dlq",
     "Dead-letter topic: bad records, unchanged, with headers naming the error."},
    {"mm.lexicon.dir", MM_CT_STR, F(lexicon_dir), 0, 0, NULL, "",
     "Folder of lexicon files (*.tsv); empty: the installed lexicons."},
    {"mm.strategy.dir", MM_CT_STR, F(rules.strategy_dir), 0, 0, NULL, "",
     "Folder of strategy files (<lang>.tsv: goal, content, horizon and an optional "
     "offer per moment type; en.tsv required); empty: <mm.lexicon.dir>/strategy, or "
     "the installed ones when that folder has none. "
     "Read with the rules (at start and on SIGHUP)."},
    {"mm.places.file", MM_CT_STR, F(rules.places_file), 0, 0, NULL, "",
     "Stores: a CSV (header id,name,lat,lon,radius,kind; radius in metres) or GeoJSON "
     "file of Point features; a position inside one is in store. Read with the rules "
     "(at start and on SIGHUP: a bad file stops the start with exit 2, a reload keeps "
     "the old rules). Empty: no stores."},
    {"mm.delivery", MM_CT_ENUM, F(engine.delivery), 0, 0, "at-least-once|exactly-once",
     "at-least-once",
     "at-least-once: an input offset is committed only after every output it "
     "caused is acknowledged. exactly-once: Kafka transactions, the consumed "
     "offsets committed with the outputs; read with isolation.level=read_committed."},
    {"mm.transactional.id", MM_CT_STR, F(engine.transactional_id), 0, 0, NULL, "",
     "exactly-once: prefix of the workers' transactional ids (<prefix>-<worker>); "
     "empty: micromoment-<group.id>-<a random id per start>, so that instances of "
     "one group never fence each other. Set it only to give each instance a "
     "stable name; two live instances must not share it."},
    {"mm.txn.interval.ms", MM_CT_I64, F(engine.txn_interval_ms), 10, 600000, NULL, "1000",
     "exactly-once: a transaction commits when it is this old..."},
    {"mm.txn.max.records", MM_CT_I64, F(engine.txn_max_records), 1, 100000000, NULL, "10000",
     "exactly-once: ...or when it holds this many input records."},
    {"mm.input.format", MM_CT_ENUM, F(engine.input_format), 0, 0, "auto|json|avro", "auto",
     "Input encoding: JSON, or Avro in the Confluent wire format; told apart per "
     "message when auto."},
    {"mm.output.format", MM_CT_ENUM, F(engine.output_format), 0, 0, "json|avro", "json",
     "Output encoding; avro is Confluent-framed with mm.output.schema.id."},
    {"mm.output.fields", MM_CT_FIELDS, F(engine.output_omit), 0, 0, NULL, "all",
     "Top-level fields of each JSON moment: all (the full record), or a "
     "comma-separated list of moment_id, moment, confidence, scores, signals, "
     "user_id, session_id, event_id, event_ts, detected_ts, journey_stage, "
     "strategy, context, source, late, lateness_ms (the last two only on a late "
     "event), written in that order. moment_id, moment, "
     "user_id and source are always written (the id downstream deduplicates on, "
     "what was detected, for whom, and the input record it came from). JSON "
     "only: an Avro moment has every field of its schema, so a list with "
     "mm.output.format=avro is an error."},
    {"mm.output.schema.id", MM_CT_I64, F(engine.output_schema_id), -1, 2147483647, NULL, "-1",
     "Schema id written in Avro output. -1 with mm.output.format=avro: the moment "
     "schema is registered at start as subject <mm.output.topic>-value at "
     "mm.schema.registry.url, which is then required."},
    {"mm.schema.files", MM_CT_STR, F(engine.schema_files), 0, 0, NULL, "",
     "Avro writer schemas by id, ID=PATH[,ID=PATH]; read at start."},
    {"mm.schema.registry.url", MM_CT_STR, F(engine.registry_url), 0, 0, NULL, "",
     "Schema Registry base URL for ids not in mm.schema.files."},
    {"mm.schema.registry.basic.auth.credentials.source", MM_CT_ENUM,
     F(registry_auth_source), 0, 0, "URL|USER_INFO", "URL",
     "Registry basic auth: URL takes user:password from the URL's user info "
     "(http://user:password@host:8081), USER_INFO from "
     "mm.schema.registry.basic.auth.user.info. Neither is ever printed or logged."},
    {"mm.schema.registry.basic.auth.user.info", MM_CT_STR, F(engine.registry_user_info), 0,
     0, NULL, "", "user:password for the registry, with credentials.source=USER_INFO."},
    {"mm.schema.registry.ssl.ca.location", MM_CT_STR, F(engine.registry_ca_file), 0, 0, NULL,
     "", "CA certificates (PEM file) to verify an https:// registry; empty: the system's."},
    {"mm.schema.registry.timeout.ms", MM_CT_I64, F(engine.registry_timeout_ms), 100, 60000,
     NULL, "5000", "One registry request, connect included."},
    {"mm.schema.registry.retry.ms", MM_CT_I64, F(engine.registry_retry_ms), 100, 600000, NULL,
     "1000", "After a failed registry request, no new one for this long; the record "
     "waits (it is not a dead letter)."},
    {"mm.schema.registry.negative.ttl.ms", MM_CT_I64, F(engine.registry_negative_ttl_ms), 1000,
     86400000, NULL, "60000", "An id the registry lacks (404) is asked again after this."},
    {"mm.schema.registry.wait.max.ms", MM_CT_I64, F(engine.registry_wait_max_ms), 0, MS_MAX,
     NULL, "0",
     "A record whose schema the registry cannot give parks its partition (the "
     "others go on); after this long it becomes a dead letter "
     "(schema_unavailable). 0: it waits for ever (an outage must not turn good "
     "records into dead letters)."},
    {"mm.schema.cache.max", MM_CT_I64, F(engine.schema_cache_max), 1, 65536, NULL, "256",
     "Registry schemas kept per worker (least recently used evicted)."},
    {"mm.schema.reader.path", MM_CT_STR, F(engine.reader_schema_path), 0, 0, NULL, "",
     "Reader schema for Avro input; empty: the built-in schemas/event.avsc."},
    {"mm.metrics.listen", MM_CT_STR, F(metrics_listen), 0, 0, NULL, "127.0.0.1:9464",
     "Prometheus endpoint HOST:PORT (/metrics, /healthz, /readyz); port 0 disables it."},
    {"mm.log.format", MM_CT_ENUM, F(log_format), 0, 0, "text|json", "text",
     "Log lines on stderr: human-readable text, or one JSON object per line "
     "(--log-format)."},
    {"mm.log.level", MM_CT_ENUM, F(log_level), 0, 0, "error|warn|info|debug", "info",
     "Lowest level of log lines written to stderr."},
    {"mm.commit.interval.ms", MM_CT_I64, F(engine.commit_interval_ms), 10, 3600000, NULL,
     "1000", "How often acknowledged input offsets are committed."},
    {"mm.startup.timeout.ms", MM_CT_I64, F(engine.startup_timeout_ms), 100, 3600000, NULL,
     "30000",
     "At start, the longest wait for a broker to answer; past it the run exits 1 "
     "naming bootstrap.servers."},
    {"mm.shutdown.timeout.ms", MM_CT_I64, F(engine.shutdown_timeout_ms), 100, 600000,
     NULL, "30000",
     "Longest wait for outstanding outputs at shutdown or revoke; past it the "
     "unacknowledged offsets stay uncommitted (they are re-read)."},
    {"mm.inflight.per.partition", MM_CT_I64, F(engine.inflight_per_partition), 16,
     16777216, NULL, "65536",
     "Input records per partition whose outputs may be unacknowledged at once; "
     "consumption waits when it is reached."},
    {"mm.batch.records", MM_CT_U32, F(engine.batch_records), 1, 1024, NULL, "256",
     "Records a worker takes from its ring at once: one clock read, one poll of "
     "its producer and one commit check per batch. Smaller batches add work, not "
     "latency (a worker never waits to fill one); the output is the same."},
    {"mm.workers", MM_CT_U32, F(engine.workers), 1, 64, NULL, "2",
     "Worker threads; each owns some input partitions, their per-user state "
     "and a producer."},
    {"mm.state.max.users", MM_CT_U32, F(engine.state.max_users), 16, 100000000, NULL,
     "200000", "Users tracked per input partition; past it the oldest is evicted."},
    {"mm.state.ttl.ms", MM_CT_I64, F(engine.state.ttl_ms), 1000, MS_MAX, NULL, "1800000",
     "A user with no event for this long (event time) is forgotten."},
    {"mm.state.seed", MM_CT_U64, F(engine.state.seed), 0, 1.8e19, NULL, "0",
     "Seed of the user-id hash; 0 picks a random one at start."},
    {"mm.rapid.window.ms", MM_CT_I64, F(rules.rapid_window_ms), 1000, MS_MAX, NULL,
     "120000", "Rapid repeated queries: the window."},
    {"mm.rapid.min.queries", MM_CT_U32, F(rules.rapid_min_queries), 2, 64, NULL, "3",
     "Rapid repeated queries: queries within the window."},
    {"mm.burst.window.ms", MM_CT_I64, F(rules.burst_window_ms), 1000, MS_MAX, NULL,
     "600000", "Location burst: the window."},
    {"mm.burst.min.pings", MM_CT_U32, F(rules.burst_min_pings), 2, 64, NULL, "3",
     "Location burst: pings or place-seeking queries within window and radius."},
    {"mm.burst.radius.m", MM_CT_DBL, F(rules.burst_radius_m), 1, 100000, NULL, "500",
     "Location burst: the radius in metres."},
    {"mm.friction.slow.page.ms", MM_CT_I64, F(rules.slow_page_ms), 100, 600000,
     NULL, "3000", "Friction: a page slower than this."},
    {"mm.friction.bounce.ms", MM_CT_I64, F(rules.bounce_ms), 100, 3600000, NULL,
     "10000", "Friction: leaving a page within this is a bounce."},
    {"mm.cart.window.ms", MM_CT_I64, F(rules.cart_after_buy_ms), 1000, MS_MAX, NULL,
     "1800000", "A cart add or purchase this soon after a buy query is attributed to it."},
    {"mm.lateness.ms", MM_CT_I64, F(rules.allowed_lateness_ms), 0, MS_MAX, NULL,
     "60000", "Event-time disorder accepted by the windows."},
    {"mm.min.confidence", MM_CT_DBL, F(rules.min_confidence), 0, 1, NULL, "0.25",
     "A query whose best score is below this yields no moment."},
    {"mm.topic.confidence", MM_CT_DBL, F(rules.topic_confidence), 0, 1, NULL, "0.3",
     "Know score of a bare topic query (no cue word: \"alan alda\"); 0 turns those moments off."},
    {"mm.max.record.bytes", MM_CT_SIZE, F(engine.limits.max_record_bytes), 64, 67108864,
     NULL, "1048576", "Larger records go to the dead-letter topic."},
    {"mm.max.field.bytes", MM_CT_SIZE, F(engine.limits.max_field_bytes), 16, 1048576, NULL,
     "8192", "A record with a longer string field goes to the dead-letter topic."},
    {"mm.max.depth", MM_CT_U32, F(engine.limits.max_depth), 1, 256, NULL, "16",
     "A record nesting deeper goes to the dead-letter topic."},
};
#undef F

#define N_KEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

static const mm_conf_key_t *find_key(const char *name) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(conf_keys[i].name, name) == 0)
            return &conf_keys[i];
    return NULL;
}

/* Index of value in "a|b|c", or -1. */
static int enum_index(const char *values, const char *value) {
    size_t vlen = strlen(value);
    int idx = 0;
    for (const char *p = values; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == vlen && strncmp(p, value, len) == 0)
            return idx;
        if (!bar)
            break;
        p = bar + 1;
    }
    return -1;
}

const char *mm_config_enum_name(const char *key, int value) {
    static __thread char name[64];
    const mm_conf_key_t *k = find_key(key);
    if (!k || k->type != MM_CT_ENUM)
        return "?";
    const char *p = k->values;
    for (int i = 0; i < value && p; i++) {
        p = strchr(p, '|');
        if (p)
            p++;
    }
    if (!p)
        return "?";
    size_t len = strcspn(p, "|");
    if (len >= sizeof(name))
        len = sizeof(name) - 1;
    memcpy(name, p, len);
    name[len] = '\0';
    return name;
}

static bool parse_number(const char *value, double *out) {
    if (!*value)
        return false;
    char *end;
    errno = 0;
    double d = strtod(value, &end);
    if (errno || *end || isnan(d))
        return false;
    *out = d;
    return true;
}

static mm_conf_res_t set_ours(mm_config_t *cfg, const mm_conf_key_t *k,
                              const char *value, char *errstr, size_t errstr_size) {
    char *field = (char *)cfg + k->offset;
    if (k->type == MM_CT_STR) {
        if (strlen(value) >= k->size) {
            snprintf(errstr, errstr_size, "%s: value longer than %zu bytes", k->name,
                     k->size - 1);
            return MM_CONF_INVALID;
        }
        memcpy(field, value, strlen(value) + 1);
        return MM_CONF_OK;
    }
    if (k->type == MM_CT_ENUM) {
        int idx = enum_index(k->values, value);
        if (idx < 0) {
            snprintf(errstr, errstr_size, "%s: '%s' is not one of %s", k->name, value,
                     k->values);
            return MM_CONF_INVALID;
        }
        *(int *)field = idx;
        return MM_CONF_OK;
    }
    if (k->type == MM_CT_FIELDS) {
        char why[512];
        if (!mm_moment_fields_parse(value, (uint32_t *)field, why, sizeof(why))) {
            snprintf(errstr, errstr_size, "%s: %s", k->name, why);
            return MM_CONF_INVALID;
        }
        return MM_CONF_OK;
    }
    double d;
    bool integral = k->type != MM_CT_DBL;
    if (!parse_number(value, &d) || (integral && d != floor(d)) || d < k->min ||
        d > k->max) {
        snprintf(errstr, errstr_size, "%s: '%s' is not %s in [%.17g, %.17g]", k->name,
                 value, integral ? "a whole number" : "a number", k->min, k->max);
        return MM_CONF_INVALID;
    }
    switch (k->type) {
    case MM_CT_I64: *(int64_t *)field = (int64_t)d; break;
    case MM_CT_U32: *(uint32_t *)field = (uint32_t)d; break;
    case MM_CT_U64: *(uint64_t *)field = strtoull(value, NULL, 10); break;
    case MM_CT_SIZE: *(size_t *)field = (size_t)d; break;
    default: *(double *)field = d; break;
    }
    return MM_CONF_OK;
}

/* The user's librdkafka keys, so that one set to librdkafka's own default
 * (message.max.bytes=1000000, linger.ms=5) is still theirs. */
static mm_conf_res_t remember_kafka_key(mm_config_t *cfg, const char *key, char *errstr,
                                        size_t errstr_size) {
    char *keys = cfg->engine.kafka_user_keys;
    size_t used = strlen(keys), len = strlen(key);
    char listed[300];
    snprintf(listed, sizeof(listed), ",%s,", key);
    if (strstr(keys, listed))
        return MM_CONF_OK;
    if (used + len + 2 >= sizeof(cfg->engine.kafka_user_keys)) {
        snprintf(errstr, errstr_size, "%s: too many librdkafka keys set (their names may take "
                 "%zu bytes in all)", key, sizeof(cfg->engine.kafka_user_keys) - 2);
        return MM_CONF_INVALID;
    }
    snprintf(keys + used, sizeof(cfg->engine.kafka_user_keys) - used, "%s%s,",
             used ? "" : ",", key);
    return MM_CONF_OK;
}

mm_conf_res_t mm_config_set(mm_config_t *cfg, const char *key, const char *value,
                            char *errstr, size_t errstr_size) {
    const mm_conf_key_t *k = find_key(key);
    if (k)
        return set_ours(cfg, k, value, errstr, errstr_size);
    if (strncmp(key, "mm.", 3) == 0) {
        snprintf(errstr, errstr_size,
                 "%s: unknown key (run `micromoment run --help-config` for the list)",
                 key);
        return MM_CONF_UNKNOWN;
    }
    char rkerr[512];
    rd_kafka_conf_res_t res = rd_kafka_conf_set(cfg->kafka, key, value, rkerr,
                                                sizeof(rkerr));
    if (res == RD_KAFKA_CONF_OK)
        return remember_kafka_key(cfg, key, errstr, errstr_size);
    snprintf(errstr, errstr_size, "%s: %s", key, rkerr);
    return res == RD_KAFKA_CONF_UNKNOWN ? MM_CONF_UNKNOWN : MM_CONF_INVALID;
}

bool mm_config_init(mm_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->kafka = rd_kafka_conf_new();
    if (!cfg->kafka)
        return false;
    mm_rules_conf_defaults(&cfg->rules);
    mm_state_conf_defaults(&cfg->engine.state);
    mm_decode_limits_defaults(&cfg->engine.limits);
    char errstr[512];
    /* The group `run` joins unless told (-g): set here, not where the consumer
     * is made, so that --print-config and the transactional id see it. */
    if (rd_kafka_conf_set(cfg->kafka, "group.id", "micromoment", errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK)
        return false;
    for (size_t i = 0; i < N_KEYS; i++) {
        /* The table's defaults win over the modules' own, so that the help
         * text and the behaviour cannot disagree. */
        if (set_ours(cfg, &conf_keys[i], conf_keys[i].def, errstr, sizeof(errstr)) !=
            MM_CONF_OK) {
            fprintf(stderr, "internal: bad default: %s\n", errstr);
            abort();
        }
    }
    return true;
}

void mm_config_destroy(mm_config_t *cfg) {
    if (cfg->kafka)
        rd_kafka_conf_destroy(cfg->kafka);
    cfg->kafka = NULL;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
                       end[-1] == '\r'))
        *--end = '\0';
    return s;
}

/* Reads @p path whole into a malloc'ed NUL-terminated buffer, refusing what
 * is not a file of KEY=VALUE lines: a directory, more than
 * MM_CONFIG_FILE_MAX bytes (so -c /dev/zero ends), or a NUL byte. */
static char *read_config_file(const char *path, size_t *len_out, char *errstr,
                              size_t errstr_size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(errstr, errstr_size, "%s: is a directory, not a configuration file", path);
        goto fail;
    }
    if (!(buf = malloc(MM_CONFIG_FILE_MAX + 1))) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        goto fail;
    }
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, MM_CONFIG_FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > MM_CONFIG_FILE_MAX) {
            snprintf(errstr, errstr_size, "%s: larger than %u bytes: not a configuration file",
                     path, MM_CONFIG_FILE_MAX);
            goto fail;
        }
    }
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *c = buf; c < nul; c++)
            line += *c == '\n';
        snprintf(errstr, errstr_size, "%s:%d: a NUL byte: not a text file", path, line);
        goto fail;
    }
    buf[len] = '\0';
    close(fd);
    *len_out = len;
    return buf;
fail:
    free(buf);
    close(fd);
    return NULL;
}

mm_conf_res_t mm_config_load_file(mm_config_t *cfg, const char *path, char *errstr,
                                  size_t errstr_size) {
    snprintf(cfg->config_file, sizeof(cfg->config_file), "%s", path);
    size_t len = 0;
    char *text = read_config_file(path, &len, errstr, errstr_size);
    if (!text)
        return MM_CONF_INVALID;
    /* Errors name the file, the line and the key, never a line's text: the
     * file may not be what the user thought (-c /etc/shadow). */
    mm_conf_res_t res = MM_CONF_OK;
    int lineno = 0;
    char *save = NULL;
    for (char *line = text; res == MM_CONF_OK && line && *line; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(errstr, errstr_size, "%s:%d: expected KEY=VALUE", path, lineno);
            res = MM_CONF_INVALID;
            break;
        }
        *eq = '\0';
        char inner[1024];
        res = mm_config_set(cfg, trim(s), trim(eq + 1), inner, sizeof(inner));
        if (res != MM_CONF_OK)
            snprintf(errstr, errstr_size, "%s:%d: %s", path, lineno, inner);
    }
    free(text);
    return res;
}

mm_conf_res_t mm_config_set_cli(mm_config_t *cfg, const char *key, const char *value,
                                char *errstr, size_t errstr_size) {
    mm_conf_res_t res = mm_config_set(cfg, key, value, errstr, errstr_size);
    size_t used = strlen(cfg->overrides);
    if (res == MM_CONF_OK)
        snprintf(cfg->overrides + used, sizeof(cfg->overrides) - used, "%s=%s\n", key, value);
    return res;
}

mm_conf_res_t mm_config_reapply(mm_config_t *fresh, const mm_config_t *orig,
                                char *errstr, size_t errstr_size) {
    mm_conf_res_t res = MM_CONF_OK;
    if (*orig->config_file) {
        res = mm_config_load_file(fresh, orig->config_file, errstr, errstr_size);
        if (res != MM_CONF_OK)
            return res;
    }
    char lines[sizeof(orig->overrides)];
    memcpy(lines, orig->overrides, sizeof(lines));
    char *save = NULL;
    for (char *line = strtok_r(lines, "\n", &save); line && res == MM_CONF_OK;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        res = mm_config_set(fresh, line, eq + 1, errstr, errstr_size);
    }
    return res;
}

/* Room a dead letter needs beyond its record: key and headers. A rarer,
 * larger one is cut by the sink, with headers that say so. */
#define DLQ_OVERHEAD 65536
#define RECORD_BYTES_DEFAULT 1048576
#define KAFKA_MESSAGE_MAX 1000000000

/*
 * A record mm.max.record.bytes lets through must fit whole in the producer's
 * message.max.bytes when it goes to the dead-letter topic, or it would stop
 * the stream (a poison pill). Whichever of the two the user set, the other
 * follows; both set and inconsistent is a configuration error.
 */
static mm_conf_res_t align_record_bounds(mm_config_t *cfg, char *errstr, size_t errstr_size) {
    size_t *record = &cfg->engine.limits.max_record_bytes;
    char value[64];
    bool message_set = mm_kafka_conf_user_set(cfg->kafka, cfg->engine.kafka_user_keys, "message.max.bytes", value,
                                              sizeof(value));
    bool record_set = *record != RECORD_BYTES_DEFAULT;
    if (message_set) {
        size_t message = (size_t)strtoull(value, NULL, 10);
        if (message >= *record + DLQ_OVERHEAD)
            return MM_CONF_OK;
        if (record_set || message < DLQ_OVERHEAD + 64) {
            snprintf(errstr, errstr_size,
                     "mm.max.record.bytes=%zu and message.max.bytes=%zu disagree: a record "
                     "that large must fit in a dead letter, so message.max.bytes must be at "
                     "least mm.max.record.bytes + %d (or leave one of them unset)",
                     *record, message, DLQ_OVERHEAD);
            return MM_CONF_INVALID;
        }
        *record = message - DLQ_OVERHEAD;
        return MM_CONF_OK;
    }
    size_t message = *record + DLQ_OVERHEAD;
    if (message > KAFKA_MESSAGE_MAX)
        message = KAFKA_MESSAGE_MAX;
    snprintf(value, sizeof(value), "%zu", message);
    char why[256];
    if (rd_kafka_conf_set(cfg->kafka, "message.max.bytes", value, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "message.max.bytes=%s (from mm.max.record.bytes): %s",
                 value, why);
        return MM_CONF_INVALID;
    }
    return MM_CONF_OK;
}

/*
 * A crashed instance's open transaction holds back every read_committed
 * reader (downstream, and a state restore) until the broker aborts it after
 * transaction.timeout.ms: 10 s by default here, not librdkafka's 60, or three
 * transaction intervals when those are longer. One the user set must exceed
 * the interval, or every transaction would time out.
 */
static mm_conf_res_t align_transaction_timeout(mm_config_t *cfg, char *errstr,
                                               size_t errstr_size) {
    char value[64];
    int64_t interval = cfg->engine.txn_interval_ms;
    if (mm_kafka_conf_user_set(cfg->kafka, cfg->engine.kafka_user_keys, "transaction.timeout.ms", value, sizeof(value))) {
        if (strtoll(value, NULL, 10) > interval)
            return MM_CONF_OK;
        snprintf(errstr, errstr_size,
                 "transaction.timeout.ms=%s must be longer than mm.txn.interval.ms=%" PRId64,
                 value, interval);
        return MM_CONF_INVALID;
    }
    int64_t timeout = interval * 3 > 10000 ? interval * 3 : 10000;
    if (timeout > 900000) { /* the broker's default transaction.max.timeout.ms */
        snprintf(errstr, errstr_size,
                 "mm.txn.interval.ms=%" PRId64 " is too long for a transaction the broker "
                 "allows (at most 300000)", interval);
        return MM_CONF_INVALID;
    }
    snprintf(value, sizeof(value), "%" PRId64, timeout);
    char why[256];
    if (rd_kafka_conf_set(cfg->kafka, "transaction.timeout.ms", value, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "transaction.timeout.ms=%s: %s", value, why);
        return MM_CONF_INVALID;
    }
    return MM_CONF_OK;
}

/* The registry's credentials come from one place, the one
 * basic.auth.credentials.source names. */
static mm_conf_res_t finish_registry(const mm_config_t *cfg, char *errstr,
                                     size_t errstr_size) {
    const char *url = cfg->engine.registry_url;
    if (*url && !mm_registry_url_check(url, errstr, errstr_size))
        return MM_CONF_INVALID;
    char masked[sizeof(cfg->engine.registry_url) + 16];
    bool url_has_user = strcmp(mm_url_mask(url, masked, sizeof(masked)), url) != 0;
    if (cfg->registry_auth_source == MM_REGISTRY_AUTH_USER_INFO) {
        if (!strchr(cfg->engine.registry_user_info, ':')) {
            snprintf(errstr, errstr_size,
                     "mm.schema.registry.basic.auth.user.info: must be user:password "
                     "with mm.schema.registry.basic.auth.credentials.source=USER_INFO");
            return MM_CONF_INVALID;
        }
        if (url_has_user) {
            snprintf(errstr, errstr_size,
                     "mm.schema.registry.url: has user info, but "
                     "mm.schema.registry.basic.auth.credentials.source=USER_INFO takes "
                     "the credentials from mm.schema.registry.basic.auth.user.info");
            return MM_CONF_INVALID;
        }
    } else if (*cfg->engine.registry_user_info) {
        snprintf(errstr, errstr_size,
                 "mm.schema.registry.basic.auth.user.info: used only with "
                 "mm.schema.registry.basic.auth.credentials.source=USER_INFO");
        return MM_CONF_INVALID;
    }
    return MM_CONF_OK;
}

/* A path that must name a readable thing of one kind: @p want_dir or a
 * regular file. The message names the key, never the file's content. */
static mm_conf_res_t check_path(const char *key, const char *path, bool want_dir,
                                char *errstr, size_t errstr_size) {
    struct stat st;
    if (stat(path, &st) != 0 || access(path, R_OK) != 0) {
        snprintf(errstr, errstr_size, "%s: '%s': %s", key, path, strerror(errno));
        return MM_CONF_INVALID;
    }
    if (want_dir ? !S_ISDIR(st.st_mode) : S_ISDIR(st.st_mode)) {
        snprintf(errstr, errstr_size, "%s: '%s' is %s", key, path,
                 want_dir ? "not a directory" : "a directory, not a file");
        return MM_CONF_INVALID;
    }
    return MM_CONF_OK;
}

/* What can be known wrong before starting: an address that is not one, a
 * URL we cannot use, a path to nothing. These exit 2 like any bad key. */
static mm_conf_res_t finish_files_and_addresses(const mm_config_t *cfg, char *errstr,
                                                size_t errstr_size) {
    char host[256];
    uint16_t port;
    if (!mm_metrics_parse_listen(*cfg->metrics_listen ? cfg->metrics_listen
                                                      : MM_METRICS_LISTEN_DEFAULT,
                                 host, sizeof(host), &port, errstr, errstr_size))
        return MM_CONF_INVALID;
    if (finish_registry(cfg, errstr, errstr_size) != MM_CONF_OK)
        return MM_CONF_INVALID;
    if (*cfg->engine.registry_ca_file &&
        check_path("mm.schema.registry.ssl.ca.location", cfg->engine.registry_ca_file, false,
                   errstr, errstr_size) != MM_CONF_OK)
        return MM_CONF_INVALID;
    if (*cfg->lexicon_dir &&
        check_path("mm.lexicon.dir", cfg->lexicon_dir, true, errstr, errstr_size) != MM_CONF_OK)
        return MM_CONF_INVALID;
    if (*cfg->engine.reader_schema_path &&
        check_path("mm.schema.reader.path", cfg->engine.reader_schema_path, false, errstr,
                   errstr_size) != MM_CONF_OK)
        return MM_CONF_INVALID;
    return MM_CONF_OK;
}

mm_conf_res_t mm_config_finish(mm_config_t *cfg, char *errstr, size_t errstr_size) {
    char value[512];
    size_t size = sizeof(value);
    if (rd_kafka_conf_get(cfg->kafka, "bootstrap.servers", value, &size) !=
            RD_KAFKA_CONF_OK ||
        !*value) {
        snprintf(errstr, errstr_size,
                 "bootstrap.servers: not set (use -b BROKERS or -X bootstrap.servers=...)");
        return MM_CONF_INVALID;
    }
    if (!*cfg->engine.input_topics) {
        snprintf(errstr, errstr_size, "mm.input.topics: empty (use -i TOPIC)");
        return MM_CONF_INVALID;
    }
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (mm_config_input_partitions(cfg, &parts, errstr, errstr_size) != MM_CONF_OK)
        return MM_CONF_INVALID;
    if (parts) {
        rd_kafka_topic_partition_list_destroy(parts);
        if (cfg->engine.delivery == MM_DELIVERY_EXACTLY_ONCE) {
            /* The broker fences a stale instance's transactional offset
             * commits by its group generation, which a static member lacks. */
            snprintf(errstr, errstr_size,
                     "mm.input.topics: explicit partitions (TOPIC:N) need "
                     "mm.delivery=at-least-once");
            return MM_CONF_INVALID;
        }
    }
    if (!*cfg->engine.output_topic) {
        snprintf(errstr, errstr_size, "mm.output.topic: empty (use -o TOPIC)");
        return MM_CONF_INVALID;
    }
    if (cfg->engine.output_format == MM_OUTPUT_AVRO && cfg->engine.output_omit) {
        snprintf(errstr, errstr_size,
                 "mm.output.fields: a lean output is for JSON only (an Avro moment has "
                 "every field of its schema); use all with mm.output.format=avro");
        return MM_CONF_INVALID;
    }
    if (cfg->engine.output_format == MM_OUTPUT_AVRO && cfg->engine.output_schema_id < 0 &&
        !*cfg->engine.registry_url) {
        snprintf(errstr, errstr_size,
                 "mm.output.schema.id: required when mm.output.format=avro without "
                 "mm.schema.registry.url (where the schema would be registered)");
        return MM_CONF_INVALID;
    }
    if (cfg->engine.delivery == MM_DELIVERY_EXACTLY_ONCE &&
        align_transaction_timeout(cfg, errstr, errstr_size) != MM_CONF_OK)
        return MM_CONF_INVALID;
    cfg->engine.lateness_ms = cfg->rules.allowed_lateness_ms;
    for (const char *p = cfg->engine.conversion_types; *p;) {
        size_t len = strcspn(p, ",");
        mm_event_type_t type;
        if (len && !mm_event_type_parse(p, len, &type)) {
            snprintf(errstr, errstr_size, "mm.conversion.types: '%.*s' is not an event type",
                     (int)len, p);
            return MM_CONF_INVALID;
        }
        p += len;
        p += *p == ',';
    }
    if (finish_files_and_addresses(cfg, errstr, errstr_size) != MM_CONF_OK)
        return MM_CONF_INVALID;
    return align_record_bounds(cfg, errstr, errstr_size);
}

mm_conf_res_t mm_config_input_partitions(const mm_config_t *cfg,
                                         rd_kafka_topic_partition_list_t **out,
                                         char *errstr, size_t errstr_size) {
    return mm_engine_input_partitions(cfg->engine.input_topics, out, errstr, errstr_size)
               ? MM_CONF_OK
               : MM_CONF_INVALID;
}

static bool key_is_secret(const char *name) {
    return strstr(name, "password") || strstr(name, "secret") || strstr(name, "user.info") ||
           strstr(name, "sasl.oauthbearer.config") || strstr(name, ".key.pem") ||
           strstr(name, "ssl.key");
}

/* A value as printed: secrets masked, user info in URLs masked. */
static const char *shown(const char *key, const char *value, char *buf, size_t size) {
    if (key_is_secret(key) && *value)
        return "[masked]";
    return mm_url_mask(value, buf, size);
}

static void print_value(const mm_config_t *cfg, const mm_conf_key_t *k, FILE *out) {
    const char *field = (const char *)cfg + k->offset;
    char buf[4200];
    switch (k->type) {
    case MM_CT_STR: fprintf(out, "%s", shown(k->name, field, buf, sizeof(buf))); break;
    case MM_CT_ENUM: fprintf(out, "%s", mm_config_enum_name(k->name, *(const int *)field)); break;
    case MM_CT_I64: fprintf(out, "%" PRId64, *(const int64_t *)field); break;
    case MM_CT_U32: fprintf(out, "%" PRIu32, *(const uint32_t *)field); break;
    case MM_CT_U64: fprintf(out, "%" PRIu64, *(const uint64_t *)field); break;
    case MM_CT_SIZE: fprintf(out, "%zu", *(const size_t *)field); break;
    case MM_CT_DBL: fprintf(out, "%g", *(const double *)field); break;
    case MM_CT_FIELDS: {
        char list[512];
        mm_moment_fields_format(*(const uint32_t *)field, list, sizeof(list));
        fprintf(out, "%s", list);
        break;
    }
    }
}

void mm_config_print(const mm_config_t *cfg, FILE *out) {
    for (size_t i = 0; i < N_KEYS; i++) {
        fprintf(out, "%s=", conf_keys[i].name);
        print_value(cfg, &conf_keys[i], out);
        fputc('\n', out);
    }
    size_t cnt;
    const char **kv = rd_kafka_conf_dump(cfg->kafka, &cnt);
    for (size_t i = 0; i + 1 < cnt; i += 2) {
        /* Only what differs from librdkafka's defaults is of interest. */
        rd_kafka_conf_t *def = rd_kafka_conf_new();
        char dv[1024];
        size_t dsize = sizeof(dv);
        bool same = rd_kafka_conf_get(def, kv[i], dv, &dsize) == RD_KAFKA_CONF_OK &&
                    strcmp(dv, kv[i + 1]) == 0;
        rd_kafka_conf_destroy(def);
        /* librdkafka's canonical name is the alias everyone knows less. */
        const char *name =
            strcmp(kv[i], "metadata.broker.list") == 0 ? "bootstrap.servers" : kv[i];
        char buf[4200];
        if (!same)
            fprintf(out, "%s=%s\n", name, shown(kv[i], kv[i + 1], buf, sizeof(buf)));
    }
    rd_kafka_conf_dump_free(kv, cnt);
}

static const char *type_name(const mm_conf_key_t *k) {
    switch (k->type) {
    case MM_CT_STR: return "string";
    case MM_CT_ENUM: return k->values;
    case MM_CT_DBL: return "number";
    case MM_CT_FIELDS: return "list of fields";
    default: return "integer";
    }
}

void mm_config_print_help(FILE *out, bool markdown) {
    if (markdown)
        fputs("# micromoment configuration\n\n"
              "Generated by `micromoment run --config-doc` from the table in\n"
              "`app/config.c`; a unit test fails when this file and the table differ.\n"
              "Set keys with `-X KEY=VALUE` or as `KEY=VALUE` lines in `-c FILE`. Keys\n"
              "without the `mm.` prefix go to librdkafka unchanged (see its\n"
              "CONFIGURATION.md); its errors are reported the same way (exit 2).\n\n"
              "| key | type | default | range | meaning |\n|---|---|---|---|---|\n",
              out);
    for (size_t i = 0; i < N_KEYS; i++) {
        const mm_conf_key_t *k = &conf_keys[i];
        char range[64] = "";
        if (k->type != MM_CT_STR && k->type != MM_CT_ENUM && k->type != MM_CT_FIELDS)
            snprintf(range, sizeof(range), "%.15g .. %.15g", k->min, k->max);
        if (markdown) {
            /* A '|' would end the table cell. */
            char type[128];
            size_t j = 0;
            for (const char *c = type_name(k); *c && j + 5 < sizeof(type); c++) {
                if (*c == '|') {
                    memcpy(type + j, " or ", 4);
                    j += 4;
                } else {
                    type[j++] = *c;
                }
            }
            type[j] = '\0';
            fprintf(out, "| `%s` | %s | %s%s%s | %s | %s |\n", k->name, type,
                    *k->def ? "`" : "", *k->def ? k->def : "(empty)", *k->def ? "`" : "",
                    range, k->help);
        } else {
            fprintf(out, "  %-28s %s (default %s%s%s)\n      %s\n", k->name, type_name(k),
                    *k->def ? k->def : "\"\"", *range ? ", " : "", range, k->help);
        }
    }
}
