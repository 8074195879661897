/*
 * `micromoment gen`: synthetic clickstream as JSON lines on stdout (the
 * generator is gen.c). With --keyed each line is "user_id<TAB>json", which
 * kcat produces keyed by user id:
 *   micromoment gen --keyed --events 100000 | kcat -P -b HOST -t events -K'\t'
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

#define PROG "micromoment gen"

typedef struct gen_opts_s {
    mm_gen_conf_t conf;
    uint64_t events; /* 0: endless */
    bool keyed;
} gen_opts_t;

static void usage(FILE *out) {
    fprintf(out,
            "usage: " PROG " [--events N] [--users N] [--seed N] [--rate N]\n"
            "                     [--start-ts MS] [--zipf S] [--keyed]\n"
            "\n"
            "Writes synthetic clickstream events (the input contract's JSON),\n"
            "one per line, to stdout. The same flags give the same bytes.\n"
            "\n"
            "  --events N     events to write; 0 = until stopped "
            "(default 1000)\n"
            "  --users N      distinct users, Zipf-distributed activity, "
            "1..%u (default 1000)\n"
            "  --seed N       random seed (default 1)\n"
            "  --rate N       mean events per second of event time: sets the "
            "ts spacing,\n"
            "                 not output speed (default 20)\n"
            "  --start-ts MS  ts of the first event, epoch ms "
            "(default 1763900000000)\n"
            "  --zipf S       Zipf exponent of per-user activity, (0, 5] "
            "(default 1)\n"
            "  --keyed        print \"user_id<TAB>json\" per line, for\n"
            "                 kcat -P -t events -K'\\t'\n"
            "  --help         this text\n",
            MM_GEN_USERS_MAX);
}

static int bad(const char *fmt, const char *flag, const char *val) {
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, flag, val);
    fprintf(stderr, "\n");
    return 2;
}

/** A decimal integer in [min, max]; no sign, no trailing text. */
static int parse_u64(const char *flag, const char *s, uint64_t min,
                     uint64_t max, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno == ERANGE || v < min ||
        v > max) {
        fprintf(stderr,
                PROG ": %s: expected an integer in [%llu, %llu], got '%s'\n",
                flag, (unsigned long long)min, (unsigned long long)max, s);
        return 2;
    }
    *out = v;
    return 0;
}

static int parse_double(const char *flag, const char *s, double max,
                        double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v) || !(v > 0) || v > max) {
        fprintf(stderr, PROG ": %s: expected a number in (0, %g], got '%s'\n",
                flag, max, s);
        return 2;
    }
    *out = v;
    return 0;
}

/** One flag with its value; returns an exit status (0: go on). */
static int set_flag(gen_opts_t *o, const char *flag, const char *val) {
    uint64_t u;
    int rc;
    if (strcmp(flag, "--events") == 0)
        return parse_u64(flag, val, 0, UINT64_MAX, &o->events);
    if (strcmp(flag, "--users") == 0) {
        if ((rc = parse_u64(flag, val, 1, MM_GEN_USERS_MAX, &u)) == 0)
            o->conf.users = (uint32_t)u;
        return rc;
    }
    if (strcmp(flag, "--seed") == 0)
        return parse_u64(flag, val, 0, UINT64_MAX, &o->conf.seed);
    if (strcmp(flag, "--start-ts") == 0) {
        if ((rc = parse_u64(flag, val, 0, 4102444800000ULL, &u)) == 0)
            o->conf.start_ts = (int64_t)u;
        return rc;
    }
    if (strcmp(flag, "--rate") == 0)
        return parse_double(flag, val, 1e9, &o->conf.rate);
    if (strcmp(flag, "--zipf") == 0)
        return parse_double(flag, val, 5, &o->conf.zipf_s);
    return bad("unknown flag %s%s (see --help)", flag, ""); /* unreachable */
}

/** Known before its value is consumed, so "--bogus 5" names --bogus. */
static bool takes_value(const char *flag) {
    static const char *const flags[] = {"--events", "--users", "--seed",
                                        "--rate",   "--start-ts", "--zipf"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (strcmp(flag, flags[i]) == 0)
            return true;
    return false;
}

/**
 * Flags as "--flag value" or "--flag=value". Returns -1 to go on, else the
 * exit status (--help: 0).
 */
static int parse_args(int argc, char **argv, gen_opts_t *o) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '=');
        char flag[32];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(arg, "--keyed") == 0) {
            o->keyed = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            return bad("unexpected argument '%s'%s (see --help)", arg, "");
        size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
        if (n >= sizeof(flag))
            return bad("unknown flag %s%s (see --help)", arg, "");
        memcpy(flag, arg, n);
        flag[n] = '\0';
        if (!takes_value(flag))
            return bad("unknown flag %s%s (see --help)", flag, "");
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val)
            return bad("%s needs a value%s", flag, "");
        int rc = set_flag(o, flag, val);
        if (rc != 0)
            return rc;
    }
    return -1;
}

/* Room before the JSON for "key<TAB>": user ids are "u" and <= 8 digits,
 * so a keyed line is one contiguous fwrite. */
#define KEY_ROOM 20

static int write_events(mm_gen_t *gen, const gen_opts_t *o) {
    char line[KEY_ROOM + MM_GEN_EVENT_MAX + 1];
    char *json = line + KEY_ROOM;
    for (uint64_t i = 0; o->events == 0 || i < o->events; i++) {
        mm_str_t key;
        size_t n = mm_gen_next(gen, json, MM_GEN_EVENT_MAX, &key);
        if (n == 0)
            continue; /* cannot happen: MM_GEN_EVENT_MAX fits every event */
        char *start = json;
        if (o->keyed && key.len < KEY_ROOM) {
            start = json - key.len - 1;
            memcpy(start, key.p, key.len);
            json[-1] = '\t';
        }
        json[n] = '\n';
        size_t len = (size_t)(json + n + 1 - start);
        if (fwrite(start, 1, len, stdout) != len)
            break;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, PROG ": write error: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

int mm_cmd_gen(int argc, char **argv) {
    gen_opts_t o = {.events = 1000};
    mm_gen_conf_defaults(&o.conf);
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    mm_gen_t *gen = mm_gen_new(&o.conf);
    if (!gen) {
        fprintf(stderr, PROG ": out of memory for %u users\n", o.conf.users);
        return 1;
    }
    rc = write_events(gen, &o);
    mm_gen_destroy(gen);
    return rc;
}
