/* micromoment: one binary, subcommands. */
#include <stdio.h>
#include <string.h>

#include "../classifier/classifier.h"
#include "commands.h"
#include "gen.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"run", mm_cmd_run, "consume events, detect micro-moments, produce them"},
    {"broker", mm_cmd_broker, "start a local development broker (mock cluster)"},
    {"demo", mm_cmd_demo, "embedded broker + generator + pipeline, live view"},
    {"classify", mm_cmd_classify, "classify JSON lines from stdin to stdout"},
    {"eval", mm_cmd_eval, "score the rules against labelled queries (TSV)"},
    {"gen", mm_cmd_gen, "generate a synthetic clickstream as JSON lines"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out) {
    fputs("usage: micromoment COMMAND [OPTIONS]\n\ncommands:\n", out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fputs("\n`micromoment COMMAND --help` describes each.\n"
          "exit: 0 ok, 1 runtime failure, 2 bad usage or configuration\n",
          out);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("micromoment %s\n", MM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (!strcmp(argv[1], commands[i].name)) {
            /* --version is understood by every subcommand */
            for (int a = 2; a < argc; a++)
                if (!strcmp(argv[a], "--version")) {
                    printf("micromoment %s\n", MM_VERSION);
                    return 0;
                }
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "micromoment: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
