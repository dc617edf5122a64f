/*
 * jsonl_corpus.h -- test helpers for real corpora: the messages of a JSONL
 * file read into memory with the public parser (one message per line; a
 * bad line fails the test), and a walk over the "text" of every line of
 * the shared corpora and the repository's data/ (jansson; lines without a
 * text are skipped).  Header-only, for the cmocka tests (include it after
 * <cmocka.h>: a missing file fails the test with fail_msg).
 */
#ifndef SG_TEST_JSONL_CORPUS_H
#define SG_TEST_JSONL_CORPUS_H

#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "spimguard.h"

typedef struct corpus {
    sg_message **m; /* owned; sg_message_free each */
    size_t n;
} corpus;

/* Append every message of path (parsed with flags, e.g. SG_PARSE_LABELED). */
static inline void corpus_add(corpus *c, const char *path, unsigned flags) {
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s (the shared data sets, ../shared/data or SG_SHARED_DATA: see README)", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        sg_message *m;
        char err[256];
        if (sg_message_parse_json(line, (size_t)len, 0, flags, &m, err, sizeof err))
            fail_msg("%s: %s", path, err);
        c->m = realloc(c->m, (c->n + 1) * sizeof *c->m);
        c->m[c->n++] = m;
    }
    free(line);
    fclose(f);
}

static inline void corpus_free(corpus *c) {
    for (size_t i = 0; i < c->n; i++) sg_message_free(c->m[i]);
    free(c->m);
    *c = (corpus){0};
}

/* The shared corpora, relative to SG_TEST_SHARED: the SMS test split
 * first, then the others. */
static const char *const corpus_shared_files[] = {
    "/sms_spam_collection/test.jsonl", "/sms_spam_collection/train.jsonl",
    "/youtube_spam_collection/youtube_spam.jsonl", "/tg_spam/tg_spam.jsonl",
    "/nps_chat/nps_chat.jsonl", "/irc_ubuntu/irc_ubuntu.jsonl", NULL};

typedef void (*corpus_text_fn)(const char *text, size_t len, void *arg);

/* fn(text, bytes, arg) for the "text" of every line of path. */
static inline void corpus_each_text(const char *path, corpus_text_fn fn, void *arg) {
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s (the shared data sets, ../shared/data or SG_SHARED_DATA: see README)", path);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        json_t *s = json_object_get(o, "text");
        if (json_is_string(s)) fn(json_string_value(s), json_string_length(s), arg);
        json_decref(o);
    }
    free(line);
    fclose(f);
}

/* corpus_each_text over the shared corpora from index `from` of
 * corpus_shared_files on (shared_dir: SG_TEST_SHARED), then, when
 * source_dir is not NULL, every data/<dir>/<file>.jsonl of the repository. */
static inline void corpus_each_text_all(const char *shared_dir, size_t from,
                                        const char *source_dir, corpus_text_fn fn,
                                        void *arg) {
    char path[4096];
    for (size_t k = from; corpus_shared_files[k]; k++) {
        snprintf(path, sizeof path, "%s%s", shared_dir, corpus_shared_files[k]);
        corpus_each_text(path, fn, arg);
    }
    if (!source_dir) return;
    glob_t g;
    snprintf(path, sizeof path, "%s/data/*/*.jsonl", source_dir);
    if (glob(path, 0, NULL, &g) != 0) fail_msg("no %s", path);
    for (size_t i = 0; i < g.gl_pathc; i++) corpus_each_text(g.gl_pathv[i], fn, arg);
    globfree(&g);
}

#endif /* SG_TEST_JSONL_CORPUS_H */
