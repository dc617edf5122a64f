/*
 * bench_accuracy.c -- the content model's accuracy on real data, in one
 * run, with the settings compiled into the library (features.c, model.c):
 *   1. SMS Spam Collection: train split -> test split (the target);
 *   2. 5-fold cross-validation on the training corpora (SMS train, YouTube,
 *      tg-spam), folds stratified by label with duplicate texts kept in one
 *      fold, as the SMS split itself was made;
 *   3. the default model (all of data/corpus): ROC AUC on each corpus
 *      (in-sample), ham blocked on NPS Chat and on the Ubuntu IRC lines not
 *      shipped (out-of-sample);
 *   4. leave-one-corpus-out: train on the other shipped corpora, measure on
 *      the one left out.
 * Figures and how the settings were chosen: docs/accuracy.md.
 *   usage: bench_accuracy [SHARED_DATA_DIR [SOURCE_DIR]]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "sg_internal.h"

#define EPOCHS 10
#define FOLDS 5

typedef struct corpus {
    const char *name;
    sg_message **m;
    size_t n;
    uint64_t *group; /* duplicate group of each message (lower-cased text) */
} corpus;

/* Where this file's tree is: SOURCE_DIR, with ../shared/data beside it. */
static const char *src_dir(void) {
    static char buf[4096];
    const char *f = __FILE__, *cut = strstr(f, "bench/bench_accuracy.c");
    snprintf(buf, sizeof buf, "%.*s", cut ? (int)(cut - f) : 2, cut ? f : "./");
    return buf;
}

/* FNV-1a of the text lower-cased (ASCII) with whitespace runs as one
 * space, trimmed: the key the SMS split grouped duplicates by. */
static uint64_t dup_key(const char *t) {
    uint64_t h = 1469598103934665603ull;
    int space = 1, pending = 0;
    for (; *t; t++) {
        unsigned char c = (unsigned char)*t;
        if (c == ' ' || (c >= 9 && c <= 13)) { space = 1; continue; }
        if (space && pending) h = (h ^ ' ') * 1099511628211ull;
        space = 0;
        pending = 1;
        h = (h ^ (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c)) * 1099511628211ull;
    }
    return h;
}

static void add(corpus *c, sg_message *m, const char *text) {
    c->m = realloc(c->m, (c->n + 1) * sizeof *c->m);
    c->group = realloc(c->group, (c->n + 1) * sizeof *c->group);
    c->group[c->n] = dup_key(text);
    c->m[c->n++] = m;
}

static int by_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load JSONL.  Lines with a "label" become labeled messages; with
 * all_ham, lines without one are ham (only scored, never trained on).
 * With `skip` (the IRC log), lines whose "class" is not "message" (server
 * lines) and lines whose "irc-"+id is in the sorted list are left out. */
static corpus load(const char *name, const char *path, int all_ham,
                   char **skip, size_t nskip) {
    corpus c = {name, NULL, 0, NULL};
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); exit(3); }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *text = json_string_value(json_object_get(o, "text"));
        const char *cls = json_string_value(json_object_get(o, "class"));
        const char *id = json_string_value(json_object_get(o, "id"));
        char key[256];
        snprintf(key, sizeof key, "irc-%s", id ? id : "");
        const char *kp = key;
        sg_message *m = NULL;
        if (!text || (skip && (!cls || strcmp(cls, "message") != 0)) ||
            (nskip && bsearch(&kp, skip, nskip, sizeof *skip, by_str) != NULL)) {
            json_decref(o);
            continue;
        }
        if (json_object_get(o, "label"))
            sg_message_parse_json(line, (size_t)len, 0, SG_PARSE_LABELED, &m, NULL, 0);
        else if (all_ham)
            sg_message_new("a", "b", text, &m);
        if (m) add(&c, m, text);
        json_decref(o);
    }
    free(line);
    fclose(f);
    return c;
}

/* The ids of a JSONL file, sorted (for bsearch). */
static char **ids_of(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); exit(3); }
    char **v = NULL, *line = NULL;
    size_t cap = 0, k = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *id = json_string_value(json_object_get(o, "id"));
        if (id) {
            v = realloc(v, (k + 1) * sizeof *v);
            v[k++] = strdup(id);
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    qsort(v, k, sizeof *v, by_str);
    *n = k;
    return v;
}

static sg_engine *train(sg_message **m, size_t n) {
    sg_engine *e;
    if (sg_engine_new(NULL, &e) || sg_train(e, m, n, EPOCHS)) {
        fprintf(stderr, "training failed\n");
        exit(3);
    }
    return e;
}

/* Train on every corpus in `set` except number `skip` (-1: none). */
static sg_engine *train_on(corpus *set, size_t nset, long skip) {
    size_t n = 0;
    for (size_t i = 0; i < nset; i++) n += (long)i == skip ? 0 : set[i].n;
    sg_message **all = malloc((n ? n : 1) * sizeof *all);
    n = 0;
    for (size_t i = 0; i < nset; i++)
        for (size_t j = 0; (long)i != skip && j < set[i].n; j++) all[n++] = set[i].m[j];
    sg_engine *e = train(all, n);
    free(all);
    return e;
}

static void score(sg_engine *e, sg_message **m, size_t n, double *s, int *y) {
    for (size_t i = 0; i < n; i++) {
        if (sg_content_score(e, m[i], &s[i])) s[i] = 0;
        y[i] = sg_message_label(m[i]) == 1;
    }
}

static void row(const char *name, const double *s, const int *y, size_t n) {
    sg_metrics mt;
    if (sg__metrics_compute(s, y, n, 0.5, &mt)) {
        size_t blocked = 0, blocked9 = 0;
        for (size_t i = 0; i < n; i++) {
            blocked += s[i] >= 0.5;
            blocked9 += s[i] >= 0.9;
        }
        printf("%-34s %6zu ham only: ham blocked %.3f %% at p >= 0.5, %.3f %% at p >= 0.9\n",
               name, n, 100.0 * blocked / n, 100.0 * blocked9 / n);
        return;
    }
    printf("%-34s %6zu %9.5f %9.3f %9.2f %9.2f %7.2f %7.3f\n", name, n, mt.auc,
           mt.one_minus_roca_pct, mt.sc_at_hb_0_1_pct, mt.sc_at_hb_1_pct, mt.accuracy_pct,
           mt.ham_blocked_pct);
}

static void header(const char *title) {
    printf("\n== %s\n%-34s %6s %9s %9s %9s %9s %7s %7s\n", title, "set", "msgs", "ROC AUC",
           "1-ROCA%", "sc@0.1%", "sc@1%", "acc%", "hb%");
}

static void measure(const char *name, sg_engine *e, const corpus *c) {
    double *s = malloc((c->n ? c->n : 1) * sizeof *s);
    int *y = malloc((c->n ? c->n : 1) * sizeof *y);
    score(e, c->m, c->n, s, y);
    row(name, s, y, c->n);
    free(s);
    free(y);
}

/* Folds stratified by label; a duplicate group stays in one fold. */
static void assign_folds(const corpus *c, int *fold) {
    size_t count[2][FOLDS] = {{0}}, left = c->n;
    for (size_t i = 0; i < c->n; i++) fold[i] = -1;
    uint64_t s = 0x5eed;
    while (left > 0) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        size_t i = (size_t)(s >> 33) % c->n; /* a scrambled order */
        while (fold[i] >= 0) i = (i + 1) % c->n;
        int y = sg_message_label(c->m[i]) == 1, best = 0;
        for (int f = 1; f < FOLDS; f++)
            if (count[y][f] < count[y][best]) best = f;
        for (size_t j = 0; j < c->n; j++)
            if (fold[j] < 0 && c->group[j] == c->group[i]) {
                fold[j] = best;
                count[y][best]++;
                left--;
            }
    }
}

static void cross_validate(const corpus *c) {
    int *fold = malloc(c->n * sizeof *fold), *y = malloc(c->n * sizeof *y);
    double *s = malloc(c->n * sizeof *s);
    sg_message **tr = malloc(c->n * sizeof *tr), **te = malloc(c->n * sizeof *te);
    assign_folds(c, fold);
    for (int f = 0; f < FOLDS; f++) {
        size_t ntr = 0, nte = 0;
        for (size_t i = 0; i < c->n; i++) {
            if (fold[i] == f) te[nte++] = c->m[i];
            else tr[ntr++] = c->m[i];
        }
        sg_engine *e = train(tr, ntr);
        for (size_t i = 0, k = 0; i < c->n; i++)
            if (fold[i] == f && sg_content_score(e, te[k++], &s[i])) s[i] = 0;
        sg_engine_free(e);
    }
    for (size_t i = 0; i < c->n; i++) y[i] = sg_message_label(c->m[i]) == 1;
    row(c->name, s, y, c->n);
    free(fold);
    free(y);
    free(s);
    free(tr);
    free(te);
}

static void corpus_free(corpus *c) {
    for (size_t i = 0; i < c->n; i++) sg_message_free(c->m[i]);
    free(c->m);
    free(c->group);
}

int main(int argc, char **argv) {
    char shared[8192], src[4096], p[16384];
    snprintf(src, sizeof src, "%s", argc > 2 ? argv[2] : src_dir());
    snprintf(shared, sizeof shared, "%s", argc > 1 ? argv[1] : "");
    if (!shared[0]) snprintf(shared, sizeof shared, "%s../shared/data", src);
#define SHARED(rel) (snprintf(p, sizeof p, "%s/%s", shared, rel), p)
#define SHIPPED(rel) (snprintf(p, sizeof p, "%s/data/corpus/%s", src, rel), p)
    corpus sms_train = load("SMS train", SHARED("sms_spam_collection/train.jsonl"), 0, NULL, 0);
    corpus sms_test = load("SMS test", SHARED("sms_spam_collection/test.jsonl"), 0, NULL, 0);
    header("SMS Spam Collection: train split -> test split");
    sg_engine *e = train(sms_train.m, sms_train.n);
    measure("SMS test", e, &sms_test);
    sg_engine_free(e);

    corpus shipped[4] = {
        load("SMS train (sms_spam_train)", SHIPPED("sms_spam_train.jsonl"), 0, NULL, 0),
        load("YouTube (youtube_spam)", SHIPPED("youtube_spam.jsonl"), 0, NULL, 0),
        load("tg-spam (tg_spam)", SHIPPED("tg_spam.jsonl"), 0, NULL, 0),
        load("Ubuntu IRC (irc_ubuntu_ham)", SHIPPED("irc_ubuntu_ham.jsonl"), 0, NULL, 0)};
    header("5-fold cross-validation, duplicates kept in one fold");
    for (int i = 0; i < 3; i++) cross_validate(&shipped[i]);

    size_t nids;
    char **ids = ids_of(SHIPPED("irc_ubuntu_ham.jsonl"), &nids);
    corpus nps = load("NPS Chat (all ham)", SHARED("nps_chat/nps_chat.jsonl"), 1, NULL, 0);
    corpus irc = load("Ubuntu IRC, lines not shipped", SHARED("irc_ubuntu/irc_ubuntu.jsonl"), 1,
                      ids, nids);
    header("default model: trained on all of data/corpus");
    e = train_on(shipped, 4, -1);
    for (int i = 0; i < 4; i++) measure(shipped[i].name, e, &shipped[i]);
    measure("SMS test (not in data/corpus)", e, &sms_test);
    measure(nps.name, e, &nps);
    measure(irc.name, e, &irc);
    sg_engine_free(e);

    header("leave one corpus out: trained on the other corpora of data/corpus");
    for (int i = 0; i < 4; i++) {
        e = train_on(shipped, 4, i);
        measure(i == 3 ? irc.name : shipped[i].name, e, i == 3 ? &irc : &shipped[i]);
        if (i == 0) measure("SMS test", e, &sms_test);
        sg_engine_free(e);
    }
    for (size_t i = 0; i < nids; i++) free(ids[i]);
    free(ids);
    for (int i = 0; i < 4; i++) corpus_free(&shipped[i]);
    corpus_free(&sms_train);
    corpus_free(&sms_test);
    corpus_free(&nps);
    corpus_free(&irc);
    return 0;
}
