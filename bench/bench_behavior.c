/*
 * bench_behavior.c -- speed of the behaviour stages (fingerprint + bulk
 * counts + campaigns + sender profiles, i.e. the bulk and sender detector
 * rows) on one core with the in-memory store, and the state they keep.
 * Messages: the shipped corpora's texts (data/corpus), sent between 20,000
 * accounts with 40 contacts each, 20 ms apart.  Normalization, features
 * and URL extraction are done outside the timed part (other stages); the
 * whole sg_check() is timed too, for reference.
 *
 *   build-x/bench_behavior [MESSAGES]      (default 200000)
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "behavior.h"

#define ACCOUNTS 20000
#define CONTACTS 40

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: one core, no preemption */
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng = 42;
static uint64_t next(void) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Texts of the shipped corpora. */
static char **load_texts(size_t *n) {
    const char *files[] = {"corpus/sms_spam_train.jsonl", "corpus/irc_ubuntu_ham.jsonl",
                           "corpus/youtube_spam.jsonl", "corpus/tg_spam.jsonl"};
    size_t cap = 1 << 15;
    char **v = malloc(cap * sizeof *v), line[1 << 16], path[4096];
    *n = 0;
    for (size_t f = 0; f < 4; f++) {
        if (sg__data_path(files[f], path, sizeof path)) continue;
        FILE *in = fopen(path, "r");
        while (in && fgets(line, sizeof line, in)) {
            json_t *j = json_loads(line, 0, NULL);
            const char *t = json_string_value(json_object_get(j, "text"));
            if (t && *n < cap) v[(*n)++] = strdup(t);
            json_decref(j);
        }
        if (in) fclose(in);
    }
    return v;
}

static sg_message *make_message(char **texts, size_t ntexts, int64_t ts) {
    static const char *const clients[] = {"android-5.2", "ios-5.1", "desktop-3.0", "web"};
    char from[32], to[32], ip[32];
    uint32_t a = (uint32_t)(next() % ACCOUNTS);
    uint32_t b = (a * 7919u + 1 + (uint32_t)(next() % CONTACTS)) % ACCOUNTS;
    snprintf(from, sizeof from, "u%u@bench.example", a);
    snprintf(to, sizeof to, "u%u@bench.example", b);
    snprintf(ip, sizeof ip, "81.%u.%u.%u", a % 250, (a / 250) % 250,
             (unsigned)(next() % 250));
    sg_message *m;
    if (sg_message_new(from, to, texts[next() % ntexts], &m)) return NULL;
    sg_message_set_ts(m, ts);
    sg_message_set_contact(m, next() % 50 != 0);
    sg_message_set_client(m, clients[a % 4]);
    sg_message_set_client_ip(m, ip);
    return m;
}

static int slot_of(const sg_detector *d) {
    for (size_t i = 0; i < sg__ndetectors; i++)
        if (sg__detectors[i] == d) return (int)i;
    return -1;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000, ntexts;
    char **texts = load_texts(&ntexts);
    sg_engine *eng;
    if (!ntexts || sg_engine_new(NULL, &eng)) {
        fprintf(stderr, "bench_behavior: no corpus texts or no engine\n");
        return 1;
    }
    int sb = slot_of(&sg__detector_bulk), ss = slot_of(&sg__detector_sender);
    if (sb < 0 || ss < 0) { fprintf(stderr, "behaviour rows missing\n"); return 1; }
    /* Contexts are prepared in batches (normalize, features, URLs: other
     * stages), then the batch goes through the behaviour rows between two
     * clock reads, so the timer's own cost stays out of the figure. */
    enum { BATCH = 512 };
    sg_message **msgs = calloc(BATCH, sizeof *msgs);
    sg_ctx *ctx = calloc(BATCH, sizeof *ctx);
    int64_t ts = 1709510400000LL;
    double t_behav = 0, t_fp = 0, t_all = 0;
    size_t done = 0, fps = 0;
    for (size_t base = 0; base < n; base += BATCH) {
        size_t nb = 0;
        for (size_t i = base; i < n && i < base + BATCH; i++, ts += 20) {
            sg_message *m = make_message(texts, ntexts, ts);
            if (!m || sg__ctx_init(eng, m, &ctx[nb])) { sg_message_free(m); continue; }
            sg__ctx_urls(&ctx[nb]);
            msgs[nb++] = m;
        }
        double t1 = now_s();
        for (size_t i = 0; i < nb; i++) {
            sg_fingerprint fp;
            sg__fingerprint(ctx[i].norm.text, ctx[i].norm.len, &fp);
            fps += fp.valid;
        }
        double t2 = now_s();
        for (size_t i = 0; i < nb; i++) {
            eng->store->ops->begin(eng->store);
            int rc = sg__detectors[sb]->check(eng->det_state[sb], &ctx[i]);
            if (!rc) rc = sg__detectors[ss]->check(eng->det_state[ss], &ctx[i]);
            eng->store->ops->commit(eng->store);
            done += rc == SG_OK;
        }
        double t3 = now_s();
        t_fp += t2 - t1;
        t_behav += t3 - t2;
        for (size_t i = 0; i < nb; i++) {
            sg__ctx_free(&ctx[i]);
            sg_message_free(msgs[i]);
        }
    }
    free(msgs);
    free(ctx);
    uint64_t keys, bytes;
    eng->store->ops->stats(eng->store, &keys, &bytes);
    /* the whole pipeline, for reference, on a fresh engine, in batches */
    sg_engine *eng2;
    sg_engine_new(NULL, &eng2);
    size_t nall = n < 50000 ? n : 50000;
    msgs = calloc(BATCH, sizeof *msgs);
    ts = 1709510400000LL;
    for (size_t base = 0; base < nall; base += BATCH) {
        size_t nb = 0;
        for (size_t i = base; i < nall && i < base + BATCH; i++, ts += 20)
            if ((msgs[nb] = make_message(texts, ntexts, ts))) nb++;
        double t1 = now_s();
        for (size_t i = 0; i < nb; i++) {
            sg_verdict *v = NULL;
            sg_check(eng2, msgs[i], &v);
            sg_verdict_free(v);
        }
        t_all += now_s() - t1;
        for (size_t i = 0; i < nb; i++) sg_message_free(msgs[i]);
    }
    free(msgs);
    printf("bench_behavior: %zu messages (%zu fingerprinted), %d accounts, %d contacts each\n",
           done, fps, ACCOUNTS, CONTACTS);
    printf("  fingerprint alone       %10.0f msgs/s  (%.2f us/msg)\n", n / t_fp, 1e6 * t_fp / n);
    printf("  bulk + sender rows      %10.0f msgs/s  (%.2f us/msg; fingerprint, cluster,\n"
           "                                             bulk counts, campaign, profile)\n",
           n / t_behav, 1e6 * t_behav / n);
    printf("  whole sg_check          %10.0f msgs/s  (%zu messages, all stages)\n",
           nall / t_all, nall);
    printf("  store: %llu keys, %.1f MiB (%.0f bytes per account incl. bulk/campaign keys;"
           " account state %d bytes)\n",
           (unsigned long long)keys, bytes / 1048576.0, (double)bytes / ACCOUNTS,
           SG_ACCT_STATE_BYTES);
    sg_engine_free(eng);
    sg_engine_free(eng2);
    for (size_t i = 0; i < ntexts; i++) free(texts[i]);
    free(texts);
    return 0;
}
