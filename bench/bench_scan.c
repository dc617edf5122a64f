/*
 * bench_scan.c -- in-process speed of the content path on one core:
 * normalize + features + score (sg_content_score) and the whole pipeline
 * (sg_check, every detector), over the SMS test split repeated.  Prints
 * messages per second and the process's peak RSS.
 *   usage: bench_scan [SMS_TEST.jsonl] [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sg_internal.h"
#include "bench_corpus.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run `fn` over the corpus until `seconds` pass; returns messages/s. */
static double rate(sg_engine *e, sg_message **v, size_t n, double seconds, int full) {
    size_t done = 0;
    double t0 = now_s(), t;
    double sink = 0;
    do {
        for (size_t i = 0; i < n; i++) {
            if (full) {
                sg_verdict *vd;
                if (sg_check(e, v[i], &vd) == SG_OK) { sink += sg_verdict_score(vd); sg_verdict_free(vd); }
            } else {
                double p;
                sg_content_score(e, v[i], &p);
                sink += p;
            }
        }
        done += n;
        t = now_s();
    } while (t - t0 < seconds);
    if (sink < 0) puts("");
    return done / (t - t0);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "../shared/data/sms_spam_collection/test.jsonl";
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    size_t n;
    sg_message **v = bench_load_messages(path, &n);
    sg_engine *e;
    if (sg_engine_new(NULL, &e)) { fprintf(stderr, "engine: %s\n", sg_engine_errmsg(NULL)); return 3; }
    const char *model = sg_default_model_path();
    if (model && sg_engine_load_model(e, model)) { fprintf(stderr, "%s\n", sg_engine_errmsg(e)); return 3; }
    printf("corpus: %zu messages from %s; model: %s\n", n, path, model ? model : "(empty)");
    printf("normalize+features+score: %10.0f messages/s (one core)\n", rate(e, v, n, seconds, 0));
    printf("full sg_check pipeline:   %10.0f messages/s (one core)\n", rate(e, v, n, seconds, 1));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS: %.1f MiB\n", ru.ru_maxrss / 1024.0);
    for (size_t i = 0; i < n; i++) sg_message_free(v[i]);
    free(v);
    sg_engine_free(e);
    return 0;
}
