/*
 * bench_corpus.h -- the benchmarks' reading of a JSONL corpus: its
 * messages, parsed with the public parser (labeled data: sender and
 * recipient may be absent), or just the "text" of each line (jansson).  A file that cannot be
 * opened ends the program with exit status 3; lines that do not parse are
 * skipped.  Header-only: each bench/NAME.c is a program of its own.
 */
#ifndef SG_BENCH_CORPUS_H
#define SG_BENCH_CORPUS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "spimguard.h"

/* The messages of path (*n of them; the caller frees each and the array). */
static inline sg_message **bench_load_messages(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); exit(3); }
    sg_message **v = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    *n = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        sg_message *m;
        if (sg_message_parse_json(line, (size_t)len, 0, SG_PARSE_LABELED, &m, NULL, 0)) continue;
        sg_message **w = realloc(v, (*n + 1) * sizeof *v);
        if (!w) { perror("realloc"); exit(3); }
        v = w;
        v[(*n)++] = m;
    }
    free(line);
    fclose(f);
    return v;
}

/* Copies of the non-empty "text" fields of path's lines (*n of them), of
 * any JSONL: no other field is needed. */
static inline char **bench_load_texts(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); exit(3); }
    char **v = NULL, *line = NULL;
    size_t cap = 0;
    *n = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *t = json_string_value(json_object_get(o, "text"));
        if (t && *t) {
            char **w = realloc(v, (*n + 1) * sizeof *v);
            if (!w) { perror("realloc"); exit(3); }
            v = w;
            v[(*n)++] = strdup(t);
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    return v;
}

/* Message i of the benchmarks' stream (bench_serve sends it, bench_split
 * judges it in-process): from one of 10,000 accounts to one of 10,000,
 * id "b<i>", every other one to a contact; from, to and id need 32 bytes.
 * @return whether the sender is a contact of the recipient. */
static inline bool bench_stream_msg(size_t i, char from[32], char to[32], char id[32]) {
    uint32_t h = (uint32_t)(i * 2654435761u);
    snprintf(from, 32, "u%u@bench", h % 10000);
    snprintf(to, 32, "u%u@bench", (h >> 16) % 10000);
    snprintf(id, 32, "b%zu", i);
    return (h >> 8) & 1;
}

#endif /* SG_BENCH_CORPUS_H */
