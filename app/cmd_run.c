/* `micromoment run`: the command line. The loop itself is app/run.c. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "output_schema.h"
#include "run.h"

/* -------------------------------------------------------------------- CLI */

static void run_usage(FILE *out) {
    fputs("usage: micromoment run [-c FILE] [-b BROKERS] [-g GROUP] [-i TOPIC[,TOPIC...]]\n"
          "                       [-o TOPIC] [-X KEY=VALUE]... [--exit-on-eof]\n"
          "                       [--log-format text|json] [--print-config]\n"
          "                       [--help-config] [--config-doc]\n\n"
          "Consume events, detect micro-moments, produce them. Keys without the\n"
          "mm. prefix are librdkafka's (-X security.protocol=SASL_SSL).\n\n"
          "  -c FILE         read KEY=VALUE lines\n"
          "  -b BROKERS      bootstrap.servers\n"
          "  -g GROUP        group.id (default micromoment)\n"
          "  -i TOPICS       mm.input.topics (default events)\n"
          "  -o TOPIC        mm.output.topic (default micro-moments)\n"
          "  -X KEY=VALUE    any key, ours or librdkafka's\n"
          "  --exit-on-eof   stop once every assigned partition is at its end and\n"
          "                  every output is acknowledged\n"
          "  --print-config  print the configuration (secrets masked) and exit\n"
          "  --log-format F  text (default) or json: one JSON object per log line\n"
          "  --help-config   list micromoment's keys and exit\n"
          "  --config-doc    the same as Markdown (docs/configuration.md)\n"
          "exit: 0 ok, 1 runtime failure, 2 bad usage or configuration\n",
          out);
}

static int set_or_report(mm_config_t *cfg, const char *key, const char *value) {
    char errstr[1024];
    if (mm_config_set_cli(cfg, key, value, errstr, sizeof(errstr)) != MM_CONF_OK) {
        fprintf(stderr, "micromoment run: %s\n", errstr);
        return 2;
    }
    return 0;
}

/* Parses the command line into cfg; @returns -1 to go on, else an exit code. */
static int parse_run_args(mm_config_t *cfg, int argc, char **argv) {
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"exit-on-eof", no_argument, NULL, 'E'},
        {"print-config", no_argument, NULL, 'P'},
        {"help-config", no_argument, NULL, 'H'},
        {"config-doc", no_argument, NULL, 'D'},
        {"log-format", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    bool print = false;
    int c, bad;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:b:g:i:o:X:h", opts, NULL)) != -1) {
        char errstr[1024];
        switch (c) {
        case 'h': run_usage(stdout); return 0;
        case 'H': mm_config_print_help(stdout, false); return 0;
        case 'D': mm_config_print_help(stdout, true); return 0;
        case 'L': if ((bad = set_or_report(cfg, "mm.log.format", optarg))) return bad; break;
        case 'E': cfg->engine.exit_on_eof = true; break;
        case 'P': print = true; break;
        case 'c':
            if (mm_config_load_file(cfg, optarg, errstr, sizeof(errstr)) != MM_CONF_OK) {
                fprintf(stderr, "micromoment run: %s\n", errstr);
                return 2;
            }
            break;
        case 'b': if ((bad = set_or_report(cfg, "bootstrap.servers", optarg))) return bad; break;
        case 'g': if ((bad = set_or_report(cfg, "group.id", optarg))) return bad; break;
        case 'i': if ((bad = set_or_report(cfg, "mm.input.topics", optarg))) return bad; break;
        case 'o': if ((bad = set_or_report(cfg, "mm.output.topic", optarg))) return bad; break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (!eq) {
                fprintf(stderr, "micromoment run: -X %s: expected KEY=VALUE\n", optarg);
                return 2;
            }
            *eq = '\0';
            if ((bad = set_or_report(cfg, optarg, eq + 1)))
                return bad;
            break;
        }
        default:
            fprintf(stderr, "micromoment run: see --help\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "micromoment run: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (print) {
        mm_resolve_lexicon_dir(cfg);
        mm_config_print(cfg, stdout);
        return 0;
    }
    char errstr[1024];
    if (mm_config_finish(cfg, errstr, sizeof(errstr)) != MM_CONF_OK) {
        fprintf(stderr, "micromoment run: %s\n", errstr);
        return 2;
    }
    return -1;
}

int mm_cmd_run(int argc, char **argv) {
    mm_config_t cfg;
    if (!mm_config_init(&cfg))
        return 1;
    int code = parse_run_args(&cfg, argc, argv);
    if (code < 0) {
        static const mm_log_level_t levels[] = {MM_LOG_ERROR, MM_LOG_WARN, MM_LOG_INFO,
                                                MM_LOG_DEBUG};
        mm_log_setup("micromoment", levels[cfg.log_level], (mm_log_format_t)cfg.log_format);
        char errstr[1024];
        if (!mm_output_schema_register(&cfg, errstr, sizeof(errstr))) {
            mm_log_error("mm.output.schema.id: %s", errstr);
            code = 1;
        } else {
            code = mm_run(&cfg, NULL);
        }
    }
    mm_config_destroy(&cfg);
    return code;
}
