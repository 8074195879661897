/*
 * Configuration: one table (config.c) declares every key micromoment owns,
 * with its type, bounds, default and help. Parsing, validation, --help and
 * the printed configuration all read that table. Keys without the "mm."
 * prefix are librdkafka's and go to rd_kafka_conf_set() unchanged.
 */
#ifndef MM_CONFIG_H
#define MM_CONFIG_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>

#include "../classifier/classifier.h"
#include "../consumer/consumer.h"
#include "../engine/engine.h"

/* Where the registry's basic-auth credentials come from (the Confluent
 * clients' basic.auth.credentials.source). */
typedef enum { MM_REGISTRY_AUTH_URL, MM_REGISTRY_AUTH_USER_INFO } mm_registry_auth_source_t;

typedef struct mm_config_s {
    mm_engine_conf_t engine; /* what the stream engine reads */
    char lexicon_dir[1024];
    char metrics_listen[256];
    int registry_auth_source; /* mm_registry_auth_source_t: checked here only */
    int log_level;     /* index into the level names */
    int log_format;    /* mm_log_format_t */
    mm_rules_conf_t rules;
    /* What the configuration came from, for SIGHUP: the -c file and the
     * command line's keys ("key=value\n" each). */
    char config_file[1024];
    char overrides[16384];
    /* librdkafka's keys, including bootstrap.servers and group.id */
    rd_kafka_conf_t *kafka;
} mm_config_t;

typedef enum {
    MM_CONF_OK,
    MM_CONF_UNKNOWN, /* no such key */
    MM_CONF_INVALID  /* known key, bad value */
} mm_conf_res_t;

/** @brief Defaults for every key; @returns false on allocation failure. */
bool mm_config_init(mm_config_t *cfg);
void mm_config_destroy(mm_config_t *cfg);

/**
 * @brief Set one key, ours ("mm.") or librdkafka's.
 * @returns MM_CONF_OK, or the failure with a message naming the key and what
 *          is allowed in errstr.
 */
mm_conf_res_t mm_config_set(mm_config_t *cfg, const char *key, const char *value,
                            char *errstr, size_t errstr_size);

/** Largest configuration file read (-c): a bound, so -c /dev/zero ends. */
#define MM_CONFIG_FILE_MAX (1u << 20)

/**
 * @brief Read KEY=VALUE lines from @p path ('#' comments, blank lines) and
 * set each. @returns MM_CONF_OK or the first failure, naming file and line
 * (never quoting the line: a file given by mistake may hold secrets). A
 * directory, a file over MM_CONFIG_FILE_MAX bytes or with a NUL byte is
 * refused.
 */
mm_conf_res_t mm_config_load_file(mm_config_t *cfg, const char *path,
                                  char *errstr, size_t errstr_size);

/**
 * @brief Set a key given on the command line and remember it for
 * mm_config_reapply(). Same results as mm_config_set().
 */
mm_conf_res_t mm_config_set_cli(mm_config_t *cfg, const char *key, const char *value,
                                char *errstr, size_t errstr_size);

/**
 * @brief Load into @p fresh (just initialised) what @p orig came from: its
 * configuration file again, then its command-line keys.
 */
mm_conf_res_t mm_config_reapply(mm_config_t *fresh, const mm_config_t *orig,
                                char *errstr, size_t errstr_size);

/** @brief Checks that need every key: required keys, cross-key rules. */
mm_conf_res_t mm_config_finish(mm_config_t *cfg, char *errstr, size_t errstr_size);



/**
 * @brief The partitions mm.input.topics names explicitly (TOPIC:N, TOPIC:N-M),
 * each at its committed offset; *out = NULL when it names topics only (the
 * group assigns). @returns MM_CONF_INVALID with a message for a bad entry or
 * a mix of the two forms.
 */
mm_conf_res_t mm_config_input_partitions(const mm_config_t *cfg,
                                         rd_kafka_topic_partition_list_t **out,
                                         char *errstr, size_t errstr_size);

/** @brief Print every mm. key with its value (secrets masked) to @p out. */
void mm_config_print(const mm_config_t *cfg, FILE *out);

/** @brief Print the key table as help text or as Markdown (docs). */
void mm_config_print_help(FILE *out, bool markdown);

/** @brief Names of the enum keys' values ("at-least-once", ...). */
const char *mm_config_enum_name(const char *key, int value);

#endif
