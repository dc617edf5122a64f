/*
 * simulate.h -- the network simulator behind `spimguard simulate`
 * (simulate.c does the work, cmd_simulate.c parses the command line).
 * A contact graph, accounts with real ham text and their own clients,
 * networks and hours, and a worm-like phishing campaign through compromised
 * contacts plus stranger spim from fresh accounts.  Seeded, deterministic.
 * The default scenario and its measured figures: docs/behavior.md.
 */
#ifndef SG_CLI_SIMULATE_H
#define SG_CLI_SIMULATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "spimguard.h"

/** One scenario.  sg_sim_defaults() fills the documented defaults. */
typedef struct sg_sim_opts {
    const char *graph_path;  /* edge list "a b" per line ('#' comments);
                                NULL = generated small-world graph */
    uint32_t gen_nodes;      /* generated graph: accounts; 2000 */
    uint32_t gen_degree;     /* ... contacts each (even); 20 */
    double gen_rewire;       /* ... Watts-Strogatz rewiring probability; 0.1 */
    const char *ham_path;    /* JSONL ham texts ("text", optional "label");
                                NULL = the shipped corpora (data/corpus) */
    uint64_t seed;           /* 1 */
    double warmup_days;      /* ham only, so profiles form; 7 */
    double attack_hours;     /* simulated time after the attack starts; 48 */
    double ham_per_day;      /* mean ham messages per account per day; 6 */
    uint32_t k;              /* accounts the phisher compromises first; 5 */
    double p;                /* a victim falls for a lure; 0.1 */
    int64_t burst_gap_ms;    /* mean gap between lures of one account
                                (the burst speed); 10 s */
    int64_t fall_delay_ms;   /* mean time from lure to takeover; 2 h */
    uint32_t max_lures;      /* lures per compromised account (contacts
                                beyond are skipped); 200 */
    uint32_t spimmers;       /* fresh accounts sending stranger spim; 10 */
    uint32_t spim_msgs;      /* messages each; 100 */
    int64_t spim_gap_ms;     /* mean gap between them; 30 s */
    int64_t reset_delay_ms;  /* --defended: owner resets a locked account's
                                password after; 6 h */
    bool defended;           /* feed each message through the engine */
    const char *model_path;  /* --defended: model; NULL = default model */
    const char *store_uri;   /* --defended: state store URI (store.h);
                                NULL = memory: */
    bool quiet;
} sg_sim_opts;

void sg_sim_defaults(sg_sim_opts *o);

/** What a run counted. */
typedef struct sg_sim_result {
    uint32_t nodes;
    uint64_t edges;
    uint64_t messages, ham, lures, spim;
    uint32_t compromised;    /* accounts taken over, the k seeds included */
    uint32_t locked_compromised, false_locks, suspended_spimmers;
    uint64_t lures_blocked, ham_blocked, spim_blocked;
} sg_sim_result;

/** Run one scenario.  Messages go to out as JSONL (NULL: not written).
 *  @return 0, or -1 after printing an error on stderr (cannot read the
 *  graph or the ham text, no model for --defended, out of memory). */
int sg_sim_run(const sg_sim_opts *o, FILE *out, sg_sim_result *res);

#endif
