/*
 * jsonl_corpus.h -- test helper: messages of a JSONL file read into memory
 * with the public parser (one message per line; a bad line fails the test).
 * Header-only, for the cmocka tests that need a real corpus (include it
 * after <cmocka.h>: a bad file fails the test with fail_msg).
 */
#ifndef SG_TEST_JSONL_CORPUS_H
#define SG_TEST_JSONL_CORPUS_H

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
    if (!f) fail_msg("cannot open %s", path);
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

#endif /* SG_TEST_JSONL_CORPUS_H */
