/*
 * bench_normalize.c -- speed of the text front end on one thread: how many
 * SMS-sized messages per second go through sg__normalize + sg__features
 * (the part of the content path before the model's dot product).
 * Texts: the "text" field of each line of a JSONL file, by default the SMS
 * Spam Collection test split in ../shared/data; the set is repeated for
 * about two seconds.  Usage: bench_normalize [file.jsonl] [seconds]
 */
#include "sg_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ../shared/data beside the source tree, found from this file's path. */
static const char *default_data(void) {
    static char buf[4096];
    const char *src = __FILE__, *cut = strstr(src, "bench/bench_normalize.c");
    snprintf(buf, sizeof buf, "%.*s../shared/data/sms_spam_collection/test.jsonl",
             cut ? (int)(cut - src) : 0, src);
    return buf;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Read the "text" strings of a JSONL file; returns how many. */
static size_t load_texts(const char *path, char ***out) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0, n = 0, vcap = 0;
    char **v = NULL;
    while (getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *o = json_loads(line, 0, &e);
        const char *t = json_string_value(json_object_get(o, "text"));
        if (t) {
            if (n == vcap) {
                vcap = vcap ? vcap * 2 : 1024;
                v = realloc(v, vcap * sizeof *v);
            }
            v[n++] = strdup(t);
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    *out = v;
    return n;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : default_data();
    double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    char **texts = NULL;
    size_t n = load_texts(path, &texts);
    if (!n) {
        fprintf(stderr, "bench_normalize: no texts in %s\n", path);
        return 1;
    }
    sg_normctx *nc = NULL;
    if (sg__normctx_new(&nc)) return 1;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += strlen(texts[i]);
    sg_featvec fv = {0};
    uint64_t msgs = 0, feats = 0;
    double t0 = now_s(), t1 = t0;
    while (t1 - t0 < seconds) {
        for (size_t i = 0; i < n; i++) {
            sg_norm nm;
            if (sg__normalize(nc, texts[i], strlen(texts[i]), &nm)) return 1;
            if (sg__features(&nm, 22, &fv)) return 1;
            feats += fv.n;
            sg__norm_free(&nm);
        }
        msgs += n;
        t1 = now_s();
    }
    double el = t1 - t0;
    printf("normalize+features: %zu texts (%.0f bytes avg) x %.0f rounds, "
           "%.0f messages/s, %.2f us/message, %.0f features/message\n",
           n, (double)bytes / n, (double)msgs / n, msgs / el, el * 1e6 / msgs,
           (double)feats / msgs);
    sg__featvec_free(&fv);
    sg__normctx_free(nc);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    return 0;
}
