/*
 * main.c -- the `spimguard` command: finds the subcommand in a table and
 * hands it argc/argv.  Each subcommand lives in its own cmd_*.c file and
 * prints its own --help.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"scan", sg_cmd_scan, "judge a stream of JSONL messages, print one verdict per line"},
    {"check", sg_cmd_check, "judge one message given on the command line"},
    {"train", sg_cmd_train, "train a content model from labeled JSONL"},
    {"eval", sg_cmd_eval, "measure a model on labeled JSONL (ROC AUC, (1-ROCA)%, ...)"},
    {"urls", sg_cmd_urls, "find and judge the links in text (lookalikes, blocklists, lures)"},
    {"simulate", sg_cmd_simulate, "simulate a network under a worm-like phishing campaign"},
    {"serve", sg_cmd_serve, "run the HTTP daemon (JSON API, /metrics) for IM servers"},
    {"evidence", sg_cmd_evidence, "verify, redact and export the tamper-evident evidence log"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: spimguard COMMAND [options]   (spimguard COMMAND --help)\n\n"
               "spimguard %s judges instant messages: spim, phishing links,\n"
               "compromised senders and bulk campaigns.\n\ncommands:\n",
            SG_VERSION_STRING);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexit codes: 0 success; 1 some input lines were rejected;\n"
               "            2 usage error; 3 fatal error\n");
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return EXIT_USAGE; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) { printf("spimguard %s\n", SG_VERSION_STRING); return 0; }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "spimguard: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
