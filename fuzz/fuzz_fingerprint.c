/*
 * fuzz_fingerprint.c -- libFuzzer target for the near-duplicate
 * fingerprints (fingerprint.c).  Input: any bytes, straight into the pure
 * function (the engine passes normalized text; the function must take
 * anything).  Besides crashes, sanitizer reports and leaks, it aborts when
 * the fast paths (the SSE2 canonicaliser, 64 bytes classified at a time;
 * the AVX2 MinHash where the cpu has it) and the portable reference
 * (sg__fingerprint_reference) differ in any field, and when a result
 * breaks what behavior.h promises: no fingerprint is all zeros, a
 * fingerprint has enough shingles, at most the cap's, and no band key 0.
 */
#include <stdlib.h>
#include <string.h>

#include "behavior.h"

static void check_promises(const sg_fingerprint *f) {
    if (!f->valid) {
        static const sg_fingerprint zero;
        if (f->shingles || memcmp(f->minhash, zero.minhash, sizeof f->minhash) ||
            memcmp(f->band, zero.band, sizeof f->band))
            abort();
        return;
    }
    if (f->shingles < SG_FP_MIN_SHINGLES) abort();
    if (f->shingles > SG_FP_MAX_CANON - SG_FP_SHINGLE + 1) abort();
    for (int b = 0; b < SG_FP_BANDS; b++)
        if (f->band[b] == 0) abort();
}

static bool same(const sg_fingerprint *a, const sg_fingerprint *b) {
    return a->valid == b->valid && a->shingles == b->shingles &&
           !memcmp(a->minhash, b->minhash, sizeof a->minhash) &&
           !memcmp(a->band, b->band, sizeof a->band);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    sg_fingerprint f, r;
    if (sg__fingerprint(text, size, &f) != SG_OK) abort();
    if (sg__fingerprint_reference(text, size, &r) != SG_OK) abort();
    if (!same(&f, &r)) abort(); /* fast path and reference disagree */
    check_promises(&f);
    /* the same bytes at each offset 1..63 from a 64-byte boundary, so a
     * found input also tries its other alignments to the blocks */
    if (size <= 4096) {
        static char buf[64 + 4096];
        size_t off = 1 + size % 63;
        memset(buf, ' ', off);
        memcpy(buf + off, data, size);
        if (sg__fingerprint(buf, off + size, &f) != SG_OK) abort();
        if (sg__fingerprint_reference(buf, off + size, &r) != SG_OK) abort();
        if (!same(&f, &r)) abort();
    }
    return 0;
}
