/*
 * bench_split.c -- in-process cost of one message in the two phases of
 * sg_check (sg_internal.h): the stateless prepare phase (normalize,
 * features, model, URLs, fingerprint), which the daemon runs in parallel
 * outside its engine lock, and the judge phase (store state, policy,
 * enforcement records), which it runs under the lock.  Real texts (the SMS
 * test split) sent as the daemon benchmark sends them: from 10,000
 * accounts to 10,000, every other one to a contact, one every ms, memory
 * store, default model.  Thread CPU time per message, after a warm-up.
 * A second split run recycles one context (the daemon's way).
 *   usage: bench_split [SMS_TEST.jsonl] [MESSAGES]   (default 100000)
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sg_internal.h"
#include "bench_corpus.h"

static double cpu_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* Message i of the stream (bench_serve's accounts and ids). */
static sg_message *message(char **texts, size_t nt, size_t i) {
    char from[32], to[32], id[32];
    bool contact = bench_stream_msg(i, from, to, id);
    sg_message *m;
    if (sg_message_new(from, to, texts[i % nt], &m)) exit(3);
    sg_message_set_id(m, id);
    sg_message_set_contact(m, contact);
    sg_message_set_ts(m, 1767300000000 + (int64_t)i);
    return m;
}

static sg_engine *engine(void) {
    sg_engine *e;
    if (sg_engine_new(NULL, &e)) { fprintf(stderr, "%s\n", sg_engine_errmsg(NULL)); exit(3); }
    const char *model = sg_default_model_path();
    if (model && sg_engine_load_model(e, model)) { fprintf(stderr, "%s\n", sg_engine_errmsg(e)); exit(3); }
    return e;
}

/* sg_check over messages [0, n): CPU us per message over the second half. */
static double run_check(char **texts, size_t nt, size_t n) {
    sg_engine *e = engine();
    double t0 = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == n / 2) t0 = cpu_us();
        sg_message *m = message(texts, nt, i);
        sg_verdict *v;
        if (sg_check(e, m, &v) == SG_OK) sg_verdict_free(v);
        sg_message_free(m);
    }
    double us = (cpu_us() - t0) / (n - n / 2);
    sg_engine_free(e);
    return us;
}

/* The two phases apart, over the second half: *prep and *judge us.
 * reuse: one context recycled across messages, as the daemon does
 * (sg__check_prepare_reuse + sg__ctx_recycle), else a fresh one each. */
static void run_split(char **texts, size_t nt, size_t n, bool reuse, double *prep,
                      double *judge) {
    sg_engine *e = engine();
    sg_normctx *nc;
    if (sg__normctx_new(&nc)) exit(3);
    double tp = 0, tj = 0;
    sg_ctx c;
    memset(&c, 0, sizeof c);
    for (size_t i = 0; i < n; i++) {
        sg_message *m = message(texts, nt, i);
        sg_verdict *v;
        double a = cpu_us();
        if (reuse) sg__check_prepare_reuse(e, m, &c, nc);
        else sg__check_prepare(e, m, &c, nc);
        double b = cpu_us();
        if (sg__check_judge(e, &c, &v) == SG_OK) sg_verdict_free(v);
        double d = cpu_us();
        if (i >= n / 2) tp += b - a, tj += d - b;
        if (reuse) sg__ctx_recycle(&c);
        else sg__ctx_free(&c);
        sg_message_free(m);
    }
    sg__ctx_free(&c);
    *prep = tp / (n - n / 2);
    *judge = tj / (n - n / 2);
    sg__normctx_free(nc);
    sg_engine_free(e);
}

/* sg__features alone (one reused vector) and sg__model_margin on it, over
 * the texts normalized once: *feat and *margin us per text. */
static void run_features(char **texts, size_t nt, size_t rounds, double *feat,
                         double *margin) {
    sg_engine *e = engine();
    sg_normctx *nc;
    sg_norm *norm = calloc(nt, sizeof *norm);
    if (sg__normctx_new(&nc) || !norm) exit(3);
    for (size_t i = 0; i < nt; i++) sg__normalize(nc, texts[i], strlen(texts[i]), &norm[i]);
    sg_featvec fv = {0};
    double tf = 0, tm = 0, sink = 0;
    for (size_t r = 0; r < rounds; r++) { /* features; features + margin */
        double a = cpu_us();
        for (size_t i = 0; i < nt; i++) sg__features(&norm[i], e->opt.hash_bits, &fv);
        double b = cpu_us();
        for (size_t i = 0; i < nt; i++) {
            sg__features(&norm[i], e->opt.hash_bits, &fv);
            sink += sg__model_margin(&e->model, &fv);
        }
        tf += b - a, tm += (cpu_us() - b) - (b - a);
    }
    if (sink == 12345.678) printf("%f\n", sink); /* keep the margins */
    *feat = tf / (rounds * nt);
    *margin = tm / (rounds * nt);
    sg__featvec_free(&fv);
    for (size_t i = 0; i < nt; i++) sg__norm_free(&norm[i]);
    free(norm);
    sg__normctx_free(nc);
    sg_engine_free(e);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "../shared/data/sms_spam_collection/test.jsonl";
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000, nt;
    if (n < 2) n = 2;
    char **texts = bench_load_texts(path, &nt);
    if (!nt) { fprintf(stderr, "no texts in %s\n", path); return 3; }
    double check = run_check(texts, nt, n), prep, judge, prep_r, judge_r;
    run_split(texts, nt, n, false, &prep, &judge);
    run_split(texts, nt, n, true, &prep_r, &judge_r);
    printf("%zu messages (%zu texts), 10,000 senders, memory store; thread CPU per "
           "message over the last %zu:\n", n, nt, n - n / 2);
    printf("  sg_check            %6.2f us\n", check);
    printf("  prepare phase       %6.2f us  (parallel, outside the daemon's lock)\n", prep);
    printf("  judge phase         %6.2f us  (under the lock)\n", judge);
    double feat, margin;
    run_features(texts, nt, 20, &feat, &margin);
    printf("  features alone      %6.2f us, then the model margin %.2f us (texts "
           "normalized once, 20 rounds)\n", feat, margin);
    printf("  recycled context:   prepare %.2f us, judge %.2f us  (as the daemon)\n",
           prep_r, judge_r);
    for (size_t i = 0; i < nt; i++) free(texts[i]);
    free(texts);
    return 0;
}
