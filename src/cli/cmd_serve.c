/*
 * cmd_serve.c -- `spimguard serve`: the command line of the HTTP daemon.
 * Options become key=value overrides of the config table (serve_config.c)
 * so that a SIGHUP reload applies them again over the re-read file.  The
 * daemon itself is serve.c.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "serve.h"

static void serve_usage(FILE *f) {
    fprintf(f,
        "usage: spimguard serve [--config FILE] [--listen ADDR] [--port N]\n"
        "                       [--token T] [--store URI] [--data-dir DIR]\n"
        "                       [--model FILE] [--threads N] [--set KEY=VALUE]\n"
        "Runs the HTTP daemon: POST /v1/check, POST /v1/report,\n"
        "GET /v1/accounts/{id}, GET /v1/campaigns, GET /metrics, GET /healthz\n"
        "(docs/daemon.md).  The token may also come from $SPIMGUARD_TOKEN.\n"
        "Precedence: defaults < config file < $SPIMGUARD_TOKEN < options.\n"
        "Signals: SIGHUP reloads the config and URL lists; SIGTERM drains and\n"
        "exits 0.\n\n");
    sg_serve_config_help(f);
    fprintf(f, "\nexit: 0 clean stop; 2 usage or bad config; 3 cannot start\n");
}

int sg_cmd_serve(int argc, char **argv) {
    static const struct option lo[] = {
        {"config", 1, 0, 'c'}, {"listen", 1, 0, 'l'}, {"port", 1, 0, 'p'},
        {"token", 1, 0, 't'}, {"store", 1, 0, 's'}, {"data-dir", 1, 0, 'd'},
        {"model", 1, 0, 'm'}, {"threads", 1, 0, 'j'}, {"set", 1, 0, 'S'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    static const struct { int opt; const char *key; } keymap[] = {
        {'l', "listen"}, {'p', "port"}, {'t', "token"}, {'s', "store"},
        {'d', "data_dir"}, {'m', "model"}, {'j', "threads"}};
    const char *config = NULL;
    char **ov = calloc((size_t)argc + 1, sizeof *ov);
    int nov = 0, c, rc = EXIT_OK;
    if (!ov) return EXIT_FATAL;
    optind = 1;
    while (rc == EXIT_OK && (c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (c == 'c') { config = optarg; continue; }
        if (c == 'h') { serve_usage(stdout); rc = -1; break; }
        if (c == 'S') { ov[nov++] = strdup(optarg); continue; }
        const char *key = NULL;
        for (size_t i = 0; i < sizeof keymap / sizeof keymap[0]; i++)
            if (keymap[i].opt == c) key = keymap[i].key;
        if (!key) { serve_usage(stderr); rc = EXIT_USAGE; break; }
        size_t n = strlen(key) + strlen(optarg) + 2;
        if ((ov[nov] = malloc(n))) snprintf(ov[nov], n, "%s=%s", key, optarg);
        nov++;
    }
    if (rc == EXIT_OK && optind != argc) { serve_usage(stderr); rc = EXIT_USAGE; }
    for (int i = 0; rc == EXIT_OK && i < nov; i++)
        if (!ov[i]) rc = EXIT_FATAL;
    if (rc == EXIT_OK) rc = sg_serve_run(config, ov, nov);
    for (int i = 0; i < nov; i++) free(ov[i]);
    free(ov);
    return rc < 0 ? EXIT_OK : rc;
}
