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

int main(int argc, char **argv) {
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
