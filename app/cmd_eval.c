/*
 * `micromoment eval --labels FILE.tsv`: how well the rules in force classify
 * a user's own labelled queries. Prints the confusion matrix, precision,
 * recall and F1 per label and macro-F1, over the whole file and, with
 * `--by lang`, per value of its lang column. For people tuning lexicons:
 * measure, change a row, measure again (docs/tuning.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_config.h"
#include "eval.h"
#include "run.h"

static void eval_usage(FILE *out) {
    fputs("usage: micromoment eval --labels FILE.tsv [--by lang] [--no-hint]\n"
          "                        [-c FILE] [-X KEY=VALUE]...\n\n"
          "Classify every query of a labelled file with the rules in force (the\n"
          "lexicons of mm.lexicon.dir, mm.min.confidence) and score the result.\n"
          "FILE: tab-separated, '#' comment lines, then a header row naming the\n"
          "columns query, label and optionally lang; labels know, go, do, buy, none.\n\n"
          "  --labels FILE   the labelled queries ('-': stdin)\n"
          "  --by lang       figures per value of the lang column too\n"
          "  --no-hint       do not pass the lang column as the events' language\n"
          "                  hint (the classifier infers the language)\n"
          "  -c FILE         read KEY=VALUE lines (mm. keys)\n"
          "  -X KEY=VALUE    set a key (mm.lexicon.dir, mm.min.confidence, ...)\n"
          "exit: 0 ok, 1 unreadable or malformed file, 2 bad usage\n",
          out);
}

static int eval_run(mm_config_t *cfg, const char *labels, bool by_lang, bool use_hint) {
    char errstr[1024];
    mm_resolve_lexicon_dir(cfg);
    mm_rules_t *rules = mm_rules_load(cfg->lexicon_dir, &cfg->rules, errstr, sizeof(errstr));
    if (!rules) {
        fprintf(stderr, "micromoment eval: %s\n", errstr);
        return 1;
    }
    mm_eval_t *ev = calloc(1, sizeof(*ev));
    int code = 1;
    if (!ev) {
        fprintf(stderr, "micromoment eval: out of memory\n");
    } else if (!mm_eval_file(rules, labels, use_hint, ev, errstr, sizeof(errstr))) {
        fprintf(stderr, "micromoment eval: %s\n", errstr);
    } else {
        printf("labels %s, lexicons %s, language hint %s\n", labels, cfg->lexicon_dir,
               use_hint ? "from the lang column" : "not used");
        mm_eval_print(stdout, &ev->all);
        for (size_t i = 0; by_lang && i <= MM_EVAL_GROUPS_MAX; i++) {
            if (i < ev->n_groups || (i == MM_EVAL_GROUPS_MAX && ev->groups[i].rows))
                mm_eval_print(stdout, &ev->groups[i]);
        }
        code = 0;
    }
    free(ev);
    mm_rules_destroy(rules);
    return code;
}

int mm_cmd_eval(int argc, char **argv) {
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"labels", required_argument, NULL, 'l'},
        {"by", required_argument, NULL, 'b'},
        {"no-hint", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    mm_config_t cfg;
    if (!mm_config_init(&cfg))
        return 1;
    const char *labels = NULL;
    bool by_lang = false, use_hint = true;
    int c, code = -1;
    optind = 1;
    while (code < 0 && (c = getopt_long(argc, argv, "hc:X:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': eval_usage(stdout); code = 0; break;
        case 'l': labels = optarg; break;
        case 'n': use_hint = false; break;
        case 'b':
            if (strcmp(optarg, "lang") != 0) {
                fprintf(stderr, "micromoment eval: --by %s: only 'lang' is supported\n",
                        optarg);
                code = 2;
            }
            by_lang = true;
            break;
        case 'c':
        case 'X': code = mm_cli_config_option(&cfg, "eval", c, optarg) ? 2 : -1; break;
        default: fprintf(stderr, "micromoment eval: see --help\n"); code = 2; break;
        }
    }
    if (code < 0 && optind < argc) {
        fprintf(stderr, "micromoment eval: unexpected argument '%s'\n", argv[optind]);
        code = 2;
    }
    if (code < 0 && !labels) {
        fprintf(stderr, "micromoment eval: --labels FILE is required (see --help)\n");
        code = 2;
    }
    if (code < 0)
        code = eval_run(&cfg, labels, by_lang, use_hint);
    mm_config_destroy(&cfg);
    return code;
}
