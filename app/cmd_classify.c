/*
 * `micromoment classify`: the same pipeline as `run`, offline. JSON lines in
 * on stdin, moments out on stdout as JSON lines, bad records on stderr as
 * JSON lines naming the error. --explain prints, for every event, the
 * language, the four scores and every signal, for people tuning lexicons;
 * --compare --lexicon-dir DIR compares two rule sets (compare.c).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_config.h"
#include "compare.h"
#include "log.h"
#include "run.h"

typedef struct explain_ctx_s {
    char *buf;
    size_t cap;
} explain_ctx_t;

static void print_explain(const mm_event_t *ev, const mm_explain_t *explain,
                          const mm_moment_t *moment, void *hook_ctx) {
    explain_ctx_t *ec = hook_ctx;
    size_t len = mm_explain_to_json(ev, explain, moment, ec->buf, ec->cap);
    if (len) {
        fwrite(ec->buf, 1, len, stdout);
        fputc('\n', stdout);
    }
}

static void classify_usage(FILE *out) {
    fputs("usage: micromoment classify [--explain] [-c FILE] [-X KEY=VALUE]...\n"
          "                            < events.jsonl > moments.jsonl\n"
          "       micromoment classify --compare --lexicon-dir DIR [--examples N]\n"
          "                            [-c FILE] [-X KEY=VALUE]... < events.jsonl\n\n"
          "Classify input events (one JSON object per line) with the same rules as\n"
          "`run`. Moments go to stdout; records that are not valid events go to\n"
          "stderr as JSON lines with the error code and reason.\n\n"
          "  --explain         per event: language, scores and signals (moment or not)\n"
          "  --compare         classify every event with the rules in force (A) and\n"
          "                    with the lexicons of --lexicon-dir (B); print the events\n"
          "                    whose moment changes, how many, and from what to what\n"
          "  --lexicon-dir DIR the lexicons B (with --compare)\n"
          "  --examples N      changed events shown (with --compare; default 20)\n"
          "  -c FILE           read KEY=VALUE lines (mm. keys)\n"
          "  -X KEY=VALUE      set a key (mm.lexicon.dir, thresholds, ...)\n",
          out);
}

static int classify_stream(mm_config_t *cfg, bool explain) {
    char errstr[1024];
    int code = 1;
    mm_resolve_lexicon_dir(cfg);
    mm_rules_t *rules = mm_rules_load(cfg->lexicon_dir, &cfg->rules, errstr, sizeof(errstr));
    mm_offline_t *off = NULL;
    explain_ctx_t ec = {0};
    char *line = NULL;
    size_t line_cap = 0;
    if (!rules) {
        code = 2; /* the rules' files are configuration, as for `run` */
        goto fail;
    }
    cfg->engine.lateness_ms = cfg->rules.allowed_lateness_ms; /* as `run` has it */
    off = mm_offline_new(&cfg->engine, rules, stdout, stderr, errstr, sizeof(errstr));
    if (!off)
        goto fail;
    if (explain) {
        ec.cap = 65536;
        ec.buf = malloc(ec.cap);
        if (!ec.buf) {
            snprintf(errstr, sizeof(errstr), "out of memory");
            goto fail;
        }
        mm_offline_set_explain(off, print_explain, &ec);
    }
    int64_t lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &line_cap, stdin)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        if (len == 0) {
            mm_offline_skip(off); /* blank lines separate, they are not records */
            continue;
        }
        mm_err_t err = mm_offline_process(off, (mm_str_t){line, len});
        if (err == MM_ERR_IO) {
            snprintf(errstr, sizeof(errstr), "line %" PRId64 ": %s", lineno,
                     mm_offline_reason(off));
            goto fail;
        }
        if (err != MM_ERR_OK) {
            snprintf(errstr, sizeof(errstr), "cannot write output");
            goto fail;
        }
    }
    code = 0;
    goto done;
fail:
    fprintf(stderr, "micromoment classify: %s\n", errstr);
done:
    free(line);
    free(ec.buf);
    mm_offline_destroy(off);
    mm_rules_destroy(rules);
    return code;
}

int mm_cmd_classify(int argc, char **argv) {
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"explain", no_argument, NULL, 'e'},
        {"compare", no_argument, NULL, 'C'},
        {"lexicon-dir", required_argument, NULL, 'L'},
        {"examples", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    mm_config_t cfg;
    if (!mm_config_init(&cfg))
        return 1;
    bool explain = false, compare = false;
    const char *lexicon_dir_b = NULL;
    size_t examples = 20;
    char *end = NULL;
    int c, code = -1;
    optind = 1;
    while (code < 0 && (c = getopt_long(argc, argv, "hc:X:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': classify_usage(stdout); code = 0; break;
        case 'e': explain = true; break;
        case 'C': compare = true; break;
        case 'L': lexicon_dir_b = optarg; break;
        case 'n':
            examples = (size_t)strtoull(optarg, &end, 10);
            if (!*optarg || *end || *optarg == '-' || examples > 1000000) {
                fprintf(stderr, "micromoment classify: --examples %s: expected 0..1000000\n",
                        optarg);
                code = 2;
            }
            break;
        case 'c':
        case 'X': code = mm_cli_config_option(&cfg, "classify", c, optarg) ? 2 : -1; break;
        default: fprintf(stderr, "micromoment classify: see --help\n"); code = 2; break;
        }
    }
    if (code < 0 && optind < argc) {
        fprintf(stderr, "micromoment classify: unexpected argument '%s'\n", argv[optind]);
        code = 2;
    }
    if (code < 0 && compare != (lexicon_dir_b != NULL)) {
        fprintf(stderr, "micromoment classify: --compare and --lexicon-dir DIR go together\n");
        code = 2;
    }
    if (code < 0 && compare && explain) {
        fprintf(stderr, "micromoment classify: --compare and --explain exclude each other\n");
        code = 2;
    }
    if (code < 0 && compare) {
        mm_resolve_lexicon_dir(&cfg);
        code = mm_compare_run(&cfg, lexicon_dir_b, examples, stdin, stdout);
    }
    if (code < 0)
        code = classify_stream(&cfg, explain);
    mm_config_destroy(&cfg);
    return code;
}
