/*
 * cmd_simulate.c -- `spimguard simulate`: the command line of the network
 * simulator (simulate.c).  Writes the simulated stream as JSONL with
 * ground truth, or with --compare runs the scenario without and with the
 * defence and prints how far the worm spread in each.  Every option is one
 * row of the table below (name, kind, field, bounds, help).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "simulate.h"

typedef enum { OPT_STR, OPT_U32, OPT_U64, OPT_DBL, OPT_MS, OPT_FLAG } opt_kind;

typedef struct sim_cli {
    sg_sim_opts o;
    bool compare, json;
    const char *data_dir;
    char store[4200];       /* lmdb:DATA_DIR/state */
} sim_cli;

#define F(field) offsetof(sim_cli, field)
static const struct sim_opt {
    const char *name;
    opt_kind kind;
    size_t off;
    double lo, hi;     /* bounds (units as given on the command line) */
    const char *help;
} sim_opts[] = {
    {"graph", OPT_STR, F(o.graph_path), 0, 0, "EDGES  contact graph, one \"a b\" edge per line (default: generated)"},
    {"ham", OPT_STR, F(o.ham_path), 0, 0, "FILE   JSONL ham texts (default: data/corpus)"},
    {"seed", OPT_U64, F(o.seed), 0, 1e18, "N      random seed (1)"},
    {"defended", OPT_FLAG, F(o.defended), 0, 0, "       judge each message with the engine; stop locked accounts"},
    {"compare", OPT_FLAG, F(compare), 0, 0, "       run without and with the defence, print the spread"},
    {"json", OPT_FLAG, F(json), 0, 0, "       --compare: print one JSON object"},
    {"model", OPT_STR, F(o.model_path), 0, 0, "FILE   model for --defended (default model)"},
    {"store", OPT_STR, F(o.store_uri), 0, 0, "URI    --defended: state store (memory:; lmdb:DIR, redis://H:P ...)"},
    {"data-dir", OPT_STR, F(data_dir), 0, 0, "DIR    --defended: state in lmdb:DIR/state"},
    {"nodes", OPT_U32, F(o.gen_nodes), 10, 1e7, "N      generated graph: accounts (2000)"},
    {"degree", OPT_U32, F(o.gen_degree), 2, 1000, "N      generated graph: contacts each (20)"},
    {"rewire", OPT_DBL, F(o.gen_rewire), 0, 1, "P      generated graph: rewiring probability (0.1)"},
    {"k", OPT_U32, F(o.k), 0, 1e6, "N      accounts the phisher takes over first (5)"},
    {"p", OPT_DBL, F(o.p), 0, 1, "P      a victim falls for a lure (0.1)"},
    {"burst-gap", OPT_MS, F(o.burst_gap_ms), 0.001, 86400, "SEC    mean seconds between lures of one account (10)"},
    {"fall-delay", OPT_MS, F(o.fall_delay_ms), 1, 864000, "SEC    mean seconds from lure to takeover (7200)"},
    {"max-lures", OPT_U32, F(o.max_lures), 1, 1e6, "N      lures per compromised account (200)"},
    {"warmup-days", OPT_DBL, F(o.warmup_days), 0, 365, "D      days of ham before the attack (7)"},
    {"attack-hours", OPT_DBL, F(o.attack_hours), 0, 8760, "H      hours simulated after the attack starts (48)"},
    {"ham-per-day", OPT_DBL, F(o.ham_per_day), 0.1, 1000, "N      mean ham messages per account per day (6)"},
    {"spimmers", OPT_U32, F(o.spimmers), 0, 1e6, "N      fresh accounts sending stranger spim (10)"},
    {"spim-msgs", OPT_U32, F(o.spim_msgs), 1, 1e6, "N      messages per spimmer (100)"},
    {"reset-delay", OPT_MS, F(o.reset_delay_ms), 0, 8640000, "SEC    --defended: owner resets a locked account after (21600)"},
    {"quiet", OPT_FLAG, F(o.quiet), 0, 0, "       no progress or summary on stderr"},
};
#undef F
#define NOPTS (sizeof sim_opts / sizeof sim_opts[0])

static void sim_usage(FILE *f) {
    fprintf(f, "usage: spimguard simulate [--graph EDGES] [--ham HAM.jsonl] [--seed N]\n"
               "                          [--defended] [--compare --json] [options] > stream.jsonl\n"
               "Simulates an IM network under a worm-like phishing campaign through\n"
               "compromised contacts, plus stranger spim; writes the messages as JSONL with\n"
               "ground truth (truth_attack, truth_compromised_at, truth_kind).\n\n");
    for (size_t i = 0; i < NOPTS; i++)
        fprintf(f, "  --%-13s %s\n", sim_opts[i].name, sim_opts[i].help);
    fprintf(f, "\nexit: 0 done; 2 usage; 3 fatal\n");
}

/* Parse the value of option d into c.  Returns 0, or EXIT_USAGE. */
static int set_opt(sim_cli *c, const struct sim_opt *d, const char *v) {
    char *p = (char *)c + d->off, *end = NULL;
    if (d->kind == OPT_STR) { *(const char **)p = v; return 0; }
    double x = strtod(v, &end);
    if (!end || *end || end == v || x < d->lo || x > d->hi) {
        sg_cli_error("simulate", "--%s: '%s' is not a number in %g..%g", d->name, v,
                     d->lo, d->hi);
        return EXIT_USAGE;
    }
    switch (d->kind) {
    case OPT_U32: *(uint32_t *)p = (uint32_t)x; break;
    case OPT_U64: *(uint64_t *)p = (uint64_t)x; break;
    case OPT_DBL: *(double *)p = x; break;
    case OPT_MS: *(int64_t *)p = (int64_t)(x * 1000); break;
    default: break;
    }
    return 0;
}

/* Returns 0, -1 for --help (done), or EXIT_USAGE. */
static int parse_args(int argc, char **argv, sim_cli *c) {
    memset(c, 0, sizeof *c);
    sg_sim_defaults(&c->o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            sim_usage(stdout);
            return -1;
        }
        const struct sim_opt *d = NULL;
        for (size_t k = 0; k < NOPTS && !d; k++)
            if (!strncmp(argv[i], "--", 2) && !strcmp(argv[i] + 2, sim_opts[k].name))
                d = &sim_opts[k];
        if (!d) {
            sg_cli_error("simulate", "unknown option '%s'", argv[i]);
            sim_usage(stderr);
            return EXIT_USAGE;
        }
        if (d->kind == OPT_FLAG) { *(bool *)((char *)c + d->off) = true; continue; }
        if (i + 1 >= argc) {
            sg_cli_error("simulate", "--%s needs a value", d->name);
            return EXIT_USAGE;
        }
        int rc = set_opt(c, d, argv[++i]);
        if (rc) return rc;
    }
    if (c->data_dir && !c->o.store_uri) {
        snprintf(c->store, sizeof c->store, "lmdb:%s/state", c->data_dir);
        mkdir(c->data_dir, 0700); /* LMDB creates state/; a failure shows there */
        c->o.store_uri = c->store;
    }
    if (c->json && !c->compare) {
        sg_cli_error("simulate", "--json goes with --compare");
        return EXIT_USAGE;
    }
    return 0;
}

static void print_summary(const sg_sim_opts *o, const sg_sim_result *r) {
    fprintf(stderr,
            "simulate: %u accounts, %llu contact pairs; %llu messages (%llu ham, "
            "%llu lures, %llu spim); %u accounts compromised",
            r->nodes, (unsigned long long)r->edges, (unsigned long long)r->messages,
            (unsigned long long)r->ham, (unsigned long long)r->lures,
            (unsigned long long)r->spim, r->compromised);
    if (o->defended)
        fprintf(stderr, "; defended: %u compromised locked, %u innocent locked, "
                        "%llu lures and %llu ham held",
                r->locked_compromised, r->false_locks,
                (unsigned long long)r->lures_blocked, (unsigned long long)r->ham_blocked);
    fputc('\n', stderr);
}

static void print_compare(const sim_cli *c, const sg_sim_result *u,
                          const sg_sim_result *d) {
    double ratio = u->compromised ? (double)d->compromised / u->compromised : 0;
    const sg_sim_opts *o = &c->o;
    if (!c->json) {
        printf("compromised undefended  %u\ncompromised defended    %u\n"
               "spread ratio            %.4f\n", u->compromised, d->compromised, ratio);
        return;
    }
    printf("{\"compromised_undefended\": %u, \"compromised_defended\": %u, "
           "\"spread_ratio\": %.4f, \"seed\": %llu, \"nodes\": %u, \"edges\": %llu, "
           "\"k\": %u, \"p\": %g, \"burst_gap_s\": %g, \"lures_undefended\": %llu, "
           "\"lures_defended\": %llu, \"lures_held_defended\": %llu, "
           "\"locked_compromised\": %u, \"false_locks\": %u, \"ham_defended\": %llu, "
           "\"ham_held_defended\": %llu, \"spim_defended\": %llu, "
           "\"spim_held_defended\": %llu, \"spimmers_suspended\": %u}\n",
           u->compromised, d->compromised, ratio, (unsigned long long)o->seed,
           u->nodes, (unsigned long long)u->edges, o->k, o->p, o->burst_gap_ms / 1000.0,
           (unsigned long long)u->lures, (unsigned long long)d->lures,
           (unsigned long long)d->lures_blocked, d->locked_compromised, d->false_locks,
           (unsigned long long)d->ham, (unsigned long long)d->ham_blocked,
           (unsigned long long)d->spim, (unsigned long long)d->spim_blocked,
           d->suspended_spimmers);
}

int sg_cmd_simulate(int argc, char **argv) {
    sim_cli c;
    int rc = parse_args(argc, argv, &c);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    sg_sim_result u, d;
    if (!c.compare) {
        if (sg_sim_run(&c.o, stdout, &u)) return EXIT_FATAL;
        fflush(stdout);
        if (!c.o.quiet) print_summary(&c.o, &u);
        return ferror(stdout) ? EXIT_FATAL : EXIT_OK;
    }
    c.o.defended = false;
    if (sg_sim_run(&c.o, NULL, &u)) return EXIT_FATAL;
    if (!c.o.quiet) print_summary(&c.o, &u);
    c.o.defended = true;
    if (sg_sim_run(&c.o, NULL, &d)) return EXIT_FATAL;
    if (!c.o.quiet) print_summary(&c.o, &d);
    print_compare(&c, &u, &d);
    return EXIT_OK;
}
