/*
 * fuzz_urls.c -- libFuzzer target for the URL extractor (urls.c) and what
 * runs on each URL it finds: host analysis (domain.c), lookalike matching
 * (lookalike.c), blocklist / shortener / script checks and the credential-
 * lure rule (phish.c).  Input: any bytes, taken as message text (invalid
 * UTF-8 included).  Any crash, sanitizer report or leak is a bug; the
 * extractor must also stay linear (libFuzzer's -timeout catches blow-ups).
 * The pre-scan must never hide a URL: when sg__urls_possible says "no",
 * the full extraction (sg__urls_extract_full) must find nothing either.
 */
#include <stdlib.h>
#include <string.h>

#include "urls.h"

static sg_urls *st;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    if (!st && sg__urls_new(NULL, NULL, &st, err, sizeof err)) abort();
    const char *text = (const char *)data;
    sg_urlset set;
    if (!sg__urls_possible(text, size)) { /* the fast path's promise */
        if (sg__urls_extract_full(st, text, size, &set) == SG_OK && set.n) abort();
        sg__urlset_clear(&set);
    }
    if (sg__urls_extract(st, text, size, &set) != SG_OK) return 0;
    for (size_t i = 0; i < set.n; i++) {
        const sg_url *u = &set.v[i];
        if (!u->url || !u->host || !u->host_unicode) abort();
        if (strlen(u->host) >= SG_HOST_MAX) abort();
        sg_urlfinding f[8];
        sg__urls_judge(st, u, f, 8);
    }
    if (sg__utf8_valid(text, size)) {
        size_t which;
        bool named;
        char phrase[96];
        if (sg__urls_lure(st, text, size, &set, &which, &named, phrase, sizeof phrase) &&
            which >= set.n)
            abort();
    }
    sg__urlset_clear(&set);
    return 0;
}
