/*
 * bench_urls.c -- speed of the URL stage on one thread: messages WITH URLs
 * analysed per second (extraction, host analysis, lists, lookalike
 * matching against the shipped brands, credential-lure rule), and the
 * same messages through the whole engine (sg_check, zero model).
 * Messages: every text of the shipped corpora (data/corpus, *.jsonl) that
 * has a URL, plus, when ../shared/data is there, PhishTank URLs wrapped in
 * a lure ("Your account is locked, verify at URL").  The set is repeated
 * for about two seconds of CPU time per figure.
 * Usage: bench_urls [seconds]
 *
 * Stage-alone mode: the cost of URL extraction per message as the engine
 * pays it in sg__ctx_urls (allocate the set, sg__urls_extract, free), over
 * EVERY message of a JSONL file ("text" fields; lines from SKIP on, at most
 * COUNT), messages with and without URLs alike.  Thread CPU time; prints
 * the median of 7 passes of about SECONDS/7 each; then the same for
 * sg__ctx_urls itself (an engine's context per message).
 * Usage: bench_urls --stage FILE.jsonl [SKIP] [COUNT] [SECONDS]
 */
#include "urls.h"

#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Folder of the source tree, from this file's path. */
static const char *src_dir(void) {
    static char buf[4096];
    const char *src = __FILE__, *cut = strstr(src, "bench/bench_urls.c");
    snprintf(buf, sizeof buf, "%.*s", cut ? (int)(cut - src) : 0, src);
    return buf;
}

typedef struct texts { char **v; size_t n, cap; } texts;

static void add(texts *t, const char *s) {
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->v = realloc(t->v, t->cap * sizeof *t->v);
    }
    t->v[t->n++] = strdup(s);
}

static bool has_url(const sg_urls *st, const char *s) {
    sg_urlset set;
    sg__urls_extract(st, s, strlen(s), &set);
    bool yes = set.n > 0;
    sg__urlset_clear(&set);
    return yes;
}

static void load_corpora(const sg_urls *st, texts *t) {
    char pat[4200];
    glob_t g;
    snprintf(pat, sizeof pat, "%sdata/corpus/*.jsonl", src_dir());
    if (glob(pat, 0, NULL, &g)) return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        char *line = NULL;
        size_t cap = 0;
        while (f && getline(&line, &cap, f) > 0) {
            json_t *o = json_loads(line, 0, NULL);
            const char *s = json_string_value(json_object_get(o, "text"));
            if (s && has_url(st, s)) add(t, s);
            json_decref(o);
        }
        free(line);
        if (f) fclose(f);
    }
    globfree(&g);
}

static size_t load_phishtank(texts *t, size_t max) {
    char path[4200], *line = NULL, msg[8192];
    size_t cap = 0, n = 0;
    snprintf(path, sizeof path, "%s../shared/data/phishing/phishtank_urls.txt", src_dir());
    FILE *f = fopen(path, "r");
    while (f && n < max && getline(&line, &cap, f) > 0) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\r\n")] = '\0';
        snprintf(msg, sizeof msg, "Your account is locked, verify at %s", line);
        add(t, msg);
        n++;
    }
    free(line);
    if (f) fclose(f);
    return n;
}

/* The URL stage alone: what the urls detector does per message. */
static size_t stage_once(const sg_urls *st, const texts *t) {
    size_t findings = 0;
    for (size_t i = 0; i < t->n; i++) {
        const char *s = t->v[i];
        size_t len = strlen(s), which;
        sg_urlset set;
        sg__urls_extract(st, s, len, &set);
        for (size_t k = 0; k < set.n; k++) {
            sg_urlfinding f[8];
            findings += sg__urls_judge(st, &set.v[k], f, 8);
        }
        bool named;
        char phrase[96];
        findings += sg__urls_lure(st, s, len, &set, &which, &named, phrase, sizeof phrase);
        sg__urlset_clear(&set);
    }
    return findings;
}

static double rate_stage(const sg_urls *st, const texts *t, double secs,
                         size_t *findings) {
    double t0 = cpu_s(), el;
    size_t msgs = 0;
    do {
        *findings = stage_once(st, t);
        msgs += t->n;
    } while ((el = cpu_s() - t0) < secs);
    return msgs / el;
}

static double rate_engine(const texts *t, double secs) {
    sg_engine *eng;
    if (sg_engine_new(NULL, &eng)) return 0;
    sg_message **m = calloc(t->n, sizeof *m);
    for (size_t i = 0; i < t->n; i++) sg_message_new("a@x", "b@x", t->v[i], &m[i]);
    double t0 = cpu_s(), el;
    size_t msgs = 0;
    do {
        for (size_t i = 0; i < t->n; i++) {
            sg_verdict *v = NULL;
            if (m[i] && sg_check(eng, m[i], &v) == SG_OK) msgs++;
            sg_verdict_free(v);
        }
    } while ((el = cpu_s() - t0) < secs);
    for (size_t i = 0; i < t->n; i++) sg_message_free(m[i]);
    free(m);
    sg_engine_free(eng);
    return msgs / el;
}

static double thread_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One pass of what sg__ctx_urls does per message; returns the URLs found. */
static size_t extract_pass(const sg_urls *st, const texts *t, const size_t *len) {
    size_t found = 0;
    for (size_t i = 0; i < t->n; i++) {
        sg_urlset *set = sg__calloc(1, sizeof *set);
        sg__urls_extract(st, t->v[i], len[i], set);
        found += set->n;
        sg__urlset_free(set);
    }
    return found;
}

/* One pass of sg__ctx_urls itself (an engine's urls state, the message's
 * own text), the context's set freed after each message. */
static size_t ctx_pass(sg_engine *eng, sg_message **m, size_t n) {
    size_t found = 0;
    sg_ctx c;
    memset(&c, 0, sizeof c);
    c.eng = eng;
    for (size_t i = 0; i < n; i++) {
        c.msg = m[i];
        found += sg__ctx_urls(&c)->n;
        sg__urlset_free(c.urls);
        c.urls = NULL;
    }
    return found;
}

/* Median us/message of 7 timed runs of ctx_pass. */
static double time_ctx(sg_engine *eng, sg_message **m, size_t n, double secs,
                       double *lo, double *hi) {
    double med[7];
    for (int p = 0; p < 7; p++) {
        double t0 = thread_us(), el;
        size_t msgs = 0;
        do {
            ctx_pass(eng, m, n);
            msgs += n;
        } while ((el = thread_us() - t0) < secs / 7 * 1e6);
        med[p] = el / (double)msgs;
    }
    qsort(med, 7, sizeof *med, cmp_double);
    *lo = med[0];
    *hi = med[6];
    return med[3];
}

static int stage_mode(const sg_urls *st, int argc, char **argv) {
    const char *path = argv[2];
    size_t skip = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
    size_t count = argc > 4 ? strtoul(argv[4], NULL, 10) : SIZE_MAX;
    double secs = argc > 5 ? atof(argv[5]) : 3.5;
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); return 1; }
    texts t = {0};
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    while (getline(&line, &cap, f) > 0 && t.n < count) {
        if (lineno++ < skip) continue;
        json_t *o = json_loads(line, 0, NULL);
        const char *s = json_string_value(json_object_get(o, "text"));
        if (s) add(&t, s);
        json_decref(o);
    }
    free(line);
    fclose(f);
    if (!t.n) { fprintf(stderr, "bench_urls: no message in %s\n", path); return 1; }
    size_t *len = malloc(t.n * sizeof *len);
    for (size_t i = 0; i < t.n; i++) len[i] = strlen(t.v[i]);
    size_t found = extract_pass(st, &t, len); /* warm-up */
    double med[7];
    for (int p = 0; p < 7; p++) {
        double t0 = thread_us(), el;
        size_t msgs = 0;
        do {
            extract_pass(st, &t, len);
            msgs += t.n;
        } while ((el = thread_us() - t0) < secs / 7 * 1e6);
        med[p] = el / (double)msgs;
    }
    qsort(med, 7, sizeof *med, cmp_double);
    printf("sg__urls_extract (+ set calloc/free), %zu messages of %s, %zu URLs: "
           "%.3f us/message (median of 7 passes; min %.3f, max %.3f)\n",
           t.n, path, found, med[3], med[0], med[6]);
    sg_engine *eng;
    if (!sg_engine_new(NULL, &eng)) {
        sg_message **m = calloc(t.n, sizeof *m);
        size_t ok = 0;
        for (size_t i = 0; i < t.n; i++)
            ok += !sg_message_new("a@x", "b@x", t.v[i], &m[i]);
        if (ok == t.n) {
            double lo, hi, c = time_ctx(eng, m, t.n, secs, &lo, &hi);
            printf("sg__ctx_urls (the engine's URL stage), same messages, %zu URLs: "
                   "%.3f us/message (median of 7 passes; min %.3f, max %.3f)\n",
                   ctx_pass(eng, m, t.n), c, lo, hi);
        }
        for (size_t i = 0; i < t.n; i++) sg_message_free(m[i]);
        free(m);
        sg_engine_free(eng);
    }
    for (size_t i = 0; i < t.n; i++) free(t.v[i]);
    free(t.v);
    free(len);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 2 && !strcmp(argv[1], "--stage")) {
        sg_urls *st;
        char err[256];
        if (sg__urls_new(NULL, NULL, &st, err, sizeof err)) {
            fprintf(stderr, "bench_urls: %s\n", err);
            return 1;
        }
        int rc = stage_mode(st, argc, argv);
        sg__urls_free(st);
        return rc;
    }
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    sg_urls *st;
    char err[256];
    if (sg__urls_new(NULL, NULL, &st, err, sizeof err)) {
        fprintf(stderr, "bench_urls: %s\n", err);
        return 1;
    }
    texts t = {0};
    load_corpora(st, &t);
    size_t chat = t.n, phish = load_phishtank(&t, 2000);
    if (!t.n) { fprintf(stderr, "bench_urls: no message with a URL found\n"); return 1; }
    size_t findings;
    double r = rate_stage(st, &t, secs, &findings);
    printf("messages with URLs: %zu (%zu chat messages from data/corpus, %zu PhishTank "
           "URLs in a lure)\n", t.n, chat, phish);
    printf("URL stage (extract + judge + lure), one thread: %.0f messages/s "
           "(%.2f us/message; %zu findings per pass)\n", r, 1e6 / r, findings);
    double e = rate_engine(&t, secs);
    printf("whole engine sg_check (zero model, all detectors), one thread: "
           "%.0f messages/s\n", e);
    for (size_t i = 0; i < t.n; i++) free(t.v[i]);
    free(t.v);
    sg__urls_free(st);
    return 0;
}
