/*
 * Synthetic clickstream in the contract's input JSON (docs/events.md,
 * Input), for `micromoment gen`, the demo and the benchmarks. Private to
 * app/ (and its tests); built as the mm_gen library so that tests link it.
 *
 * The output is a pure function of the configuration: same seed, same
 * bytes. Event time starts at start_ts and never decreases.
 */
#ifndef MM_GEN_H
#define MM_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "../classifier/classifier.h"

/** A buffer this large always holds one event. */
#define MM_GEN_EVENT_MAX 1024
#define MM_GEN_USERS_MAX 10000000u

typedef struct mm_gen_conf_s {
    uint32_t users;   /* distinct users, 1..MM_GEN_USERS_MAX */
    uint64_t seed;    /* every random choice derives from it */
    int64_t start_ts; /* ts of the first event, epoch ms */
    double rate;      /* mean events per second of event time, > 0 */
    double zipf_s;    /* Zipf exponent of activity per user, (0, 5] */
} mm_gen_conf_t;

/** users 1000, seed 1, start_ts 1763900000000, rate 20, zipf_s 1.0 */
void mm_gen_conf_defaults(mm_gen_conf_t *conf);

typedef struct mm_gen_s mm_gen_t;

/**
 * @brief A generator for @p conf (copied).
 * @returns NULL when a conf value is out of range or memory is short
 *          (8 bytes per user, plus ~100 bytes per episode slot: 64 slots
 *          per event/s of rate, between 256 and 2^18, i.e. at most ~27 MB).
 * @locality one thread at a time per generator.
 */
mm_gen_t *mm_gen_new(const mm_gen_conf_t *conf);

/**
 * @brief Write the next event, one JSON object without a newline, into
 * @p buf.
 * @param key_out optional; set to the event's user_id (the Kafka key),
 *        borrowed from the generator until the next call.
 * @returns bytes written, or 0 when @p cap was too small (the event is
 *          skipped; MM_GEN_EVENT_MAX is always enough).
 */
size_t mm_gen_next(mm_gen_t *gen, char *buf, size_t cap, mm_str_t *key_out);

/** @brief ts of the event mm_gen_next() wrote last (epoch ms). */
int64_t mm_gen_ts(const mm_gen_t *gen);

/** @brief Free @p gen; NULL is fine. */
void mm_gen_destroy(mm_gen_t *gen);

/**
 * @brief `micromoment gen`: argv[0] is the subcommand's name, flags follow.
 * @returns the process exit status: 0 ok, 1 write error, 2 bad usage.
 */
int mm_cmd_gen(int argc, char **argv);

#endif
