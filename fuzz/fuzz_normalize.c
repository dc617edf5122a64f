/*
 * fuzz_normalize.c -- libFuzzer target for the text front end: the
 * normalizer (normalize.c), the UTS #39 skeleton and the hashed features
 * with their names (features.c).  Input: any bytes, taken as message text.
 * Besides crashes, sanitizer reports and leaks, it checks what the content
 * model relies on: invalid UTF-8 is refused exactly when sg__utf8_valid
 * says so; the normalized text and skeleton are valid UTF-8; every feature
 * has an index inside the table, a span inside the text, no index twice,
 * a readable UTF-8 name; and the vector has unit L2 norm.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sg_internal.h"

#define SMALL_BITS 12 /* a small table: many collisions, dedup exercised */

static sg_normctx *nc;
static sg_featvec fv;

static void check_vector(const sg_norm *n, const sg_featvec *v, uint32_t bits) {
    static uint8_t seen[1u << (SMALL_BITS - 3)];
    double ss = 0;
    if (bits == SMALL_BITS) memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < v->n; i++) {
        const sg_feat *f = &v->v[i];
        if (f->idx >> bits) abort();
        if (f->kind > SG_FEAT_SHAPE) abort();
        if (f->kind != SG_FEAT_META && f->kind != SG_FEAT_BIAS &&
            !(f->kind == SG_FEAT_SHAPE && f->len == 0) && (size_t)f->off + f->len > n->len)
            abort();
        if (f->kind == SG_FEAT_PAIR && (size_t)f->off2 + f->len2 > n->len) abort();
        if (bits == SMALL_BITS) {
            if (seen[f->idx >> 3] & (1u << (f->idx & 7))) abort(); /* kept twice */
            seen[f->idx >> 3] |= (uint8_t)(1u << (f->idx & 7));
        }
        ss += (double)f->val * f->val;
    }
    if (v->n == 0 || fabs(ss - 1.0) > 1e-3) abort();
}

static void check_names(const sg_norm *n, const sg_featvec *v) {
    for (size_t i = 0; i < v->n && i < 512; i++) {
        sg_buf b = {0};
        if (sg__feature_name(n, &v->v[i], &b) != SG_OK) abort();
        if (!b.p || !sg__utf8_valid(b.p, b.len)) abort();
        sg__buf_free(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!nc && sg__normctx_new(&nc) != SG_OK) abort();
    const char *text = (const char *)data;
    sg_norm n;
    int rc = sg__normalize(nc, text, size, &n);
    if (rc == SG_EUTF8) {
        if (sg__utf8_valid(text, size)) abort(); /* refused valid text */
        return 0;
    }
    if (rc != SG_OK) abort();
    if (!sg__utf8_valid(text, size)) abort(); /* accepted invalid text */
    if (!n.text || n.text[n.len] != '\0' || !sg__utf8_valid(n.text, n.len)) abort();
    if (sg__features(&n, 22, &fv) != SG_OK) abort();
    check_vector(&n, &fv, 22);
    check_names(&n, &fv);
    if (sg__features(&n, SMALL_BITS, &fv) != SG_OK) abort();
    check_vector(&n, &fv, SMALL_BITS);
    if (sg__norm_skeleton(nc, &n) != SG_OK) abort();
    if (!n.skeleton || !sg__utf8_valid(n.skeleton, n.skeleton_len)) abort();
    sg__norm_free(&n);
    return 0;
}
