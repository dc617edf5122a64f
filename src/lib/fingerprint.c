/*
 * fingerprint.c -- near-duplicate fingerprints of message text, so that the
 * variants of one lure ("hey Ann, is this you? http://x/1" / "hey Bob, is
 * this you?? http://x/2") get the same LSH band keys and unrelated chat
 * does not.  Canonical text (URLs, @names and numbers as placeholders,
 * punctuation dropped) -> 5-code-point shingles (xxHash3) -> MinHash with
 * 32 multiply-shift hash functions -> 8 LSH bands of 4 rows.  (One
 * permutation hashing with densification is 2x faster but matched 20 %
 * fewer lure variants on these short texts: docs/behavior.md.)  Pure
 * functions: no store, no state.  bulk.c turns band keys into cluster ids.
 */
#include "behavior.h"

#include <string.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

/* ------------------------------------------------------------ canonical */

typedef struct canon {
    char *p;
    size_t len, cap;
} canon;

static bool put_bytes(canon *o, const char *s, size_t n) {
    if (o->len + n > o->cap) return false;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    return true;
}

static bool is_edge_punct(unsigned char ch) {
    switch (ch) {
    case '.': case ',': case ';': case ':': case '!': case '?': case '(':
    case ')': case '[': case ']': case '{': case '}': case '<': case '>':
    case '\'': case '"': case '*':
        return true;
    default:
        return false;
    }
}

static bool has(const char *t, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(t + i, needle, m) == 0) return true;
    return false;
}

/* Host part (up to / ? # or :) looks like name.tld: a dot, and a last
 * label of two or more letters (ASCII or non-ASCII bytes). */
static bool host_like(const char *t, size_t n) {
    size_t h = 0;
    while (h < n && t[h] != '/' && t[h] != '?' && t[h] != '#' && t[h] != ':')
        h++;
    size_t dot = h;
    while (dot > 0 && t[dot - 1] != '.') dot--;
    if (dot < 2 || h - dot < 2) return false; /* "x.", ".com", "e.g" */
    for (size_t i = dot; i < h; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (!(ch >= 0x80 || (ch >= 'a' && ch <= 'z'))) return false;
    }
    return t[dot - 2] != '.';
}

/* URL-like token: a scheme, www., the obfuscations hxxp / [.] / (.), an
 * e-mail address, or a bare name.tld[/path]. */
static bool token_is_url(const char *t, size_t n) {
    bool maybe = false; /* every form needs one of . : @ */
    for (size_t i = 0; i < n && !maybe; i++)
        maybe = t[i] == '.' || t[i] == ':' || t[i] == '@';
    if (!maybe) return false;
    while (n && is_edge_punct((unsigned char)*t)) t++, n--;
    while (n && is_edge_punct((unsigned char)t[n - 1])) n--;
    if (n < 4) return false;
    if (has(t, n, "://") || has(t, n, "[.]") || has(t, n, "(.)") ||
        has(t, n, "[dot]"))
        return true;
    if (!memcmp(t, "www.", 4) || !memcmp(t, "hxxp", 4)) return true;
    const char *at = memchr(t, '@', n);
    if (at && at != t) return host_like(at + 1, n - (size_t)(at + 1 - t));
    return host_like(t, n);
}

static bool is_word_cp(UChar32 c) {
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9');
    if (u_isalnum(c)) return true;
    int8_t t = u_charType(c);
    return t == U_NON_SPACING_MARK || t == U_COMBINING_SPACING_MARK;
}

static bool is_digit_cp(UChar32 c) {
    return c < 0x80 ? (c >= '0' && c <= '9') : c > 0 && u_isdigit(c);
}

/* Letters and marks kept, each digit run (with inner . , :) -> "#". */
static void put_word(canon *o, const char *t, size_t n) {
    int32_t i = 0, len = (int32_t)n;
    while (i < len) {
        unsigned char ch = (unsigned char)t[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
            if (o->len < o->cap) o->p[o->len++] = (char)ch; /* ASCII letter */
            i++;
            continue;
        }
        int32_t start = i;
        UChar32 c;
        U8_NEXT(t, i, len, c);
        if (c < 0) continue;
        if (is_digit_cp(c)) {
            while (i < len) {
                int32_t j = i;
                UChar32 d;
                U8_NEXT(t, j, len, d);
                bool sep = d == '.' || d == ',' || d == ':';
                if (sep && j < len) {
                    int32_t k = j;
                    UChar32 e;
                    U8_NEXT(t, k, len, e);
                    if (!is_digit_cp(e)) break;
                } else if (!is_digit_cp(d)) {
                    break;
                }
                i = j;
            }
            put_bytes(o, "#", 1);
        } else if (is_word_cp(c)) {
            put_bytes(o, t + start, (size_t)(i - start));
        }
    }
}

static void put_token(canon *o, const char *t, size_t n) {
    size_t before = o->len;
    if (o->len && !put_bytes(o, " ", 1)) return;
    size_t mark = o->len;
    if (t[0] == '@' && n > 1)
        put_bytes(o, "@", 1);
    else if (token_is_url(t, n))
        put_bytes(o, "U", 1);
    else
        put_word(o, t, n);
    if (o->len == mark) o->len = before; /* nothing kept: no extra space */
}

/* Byte classes for the tokenizer.  S: white space (' ' \t \n \r \f \v).
 * L: an ASCII letter, kept as it is.  D: another ASCII byte that no rule
 * of put_token keeps or looks at (not a digit, '.', ':' or '@').  0: the
 * rest (digits, '.', ':', '@', bytes of multi-byte UTF-8).  A token of L
 * and D bytes only, most words of chat, comes out as its letters. */
enum { BYTE_SPACE = 1, BYTE_LETTER = 2, BYTE_DROP = 4, BYTE_PLAIN = 8 };
#define S BYTE_SPACE
#define L (BYTE_LETTER | BYTE_PLAIN)
#define D (BYTE_DROP | BYTE_PLAIN)
static const uint8_t byte_class[256] = {
    D, D, D, D, D, D, D, D, D, S, S, S, S, S, D, D,
    D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D,
    S, D, D, D, D, D, D, D, D, D, D, D, D, D, 0, D,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, D, D, D, D, D,
    0, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
    L, L, L, L, L, L, L, L, L, L, L, D, D, D, D, D,
    D, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
    L, L, L, L, L, L, L, L, L, L, L, D, D, D, D, D,
    /* 0x80..0xff: 0 */
};
#undef S
#undef L
#undef D

/* What put_token makes of a token of L and D bytes (byte_class): no '@'
 * name, no URL (every URL form needs '.', ':' or '@'), its ASCII letters
 * kept, the other bytes dropped (put_word).  drops: the token has D bytes. */
static void put_letters(canon *o, const char *t, size_t n, bool drops) {
    size_t before = o->len;
    if (o->len && !put_bytes(o, " ", 1)) return;
    size_t mark = o->len;
    if (!drops) {
        size_t room = o->cap - o->len, k = n < room ? n : room;
        memcpy(o->p + o->len, t, k);
        o->len += k;
    } else {
        for (size_t i = 0; i < n && o->len < o->cap; i++)
            if (byte_class[(unsigned char)t[i]] & BYTE_LETTER) o->p[o->len++] = t[i];
    }
    if (o->len == mark) o->len = before; /* nothing kept: no extra space */
}

/* The token that starts at text[i] (not a space): put, and its end. */
static size_t scan_token(const char *text, size_t len, size_t i, canon *o) {
    const unsigned char *u = (const unsigned char *)text;
    size_t s = i;
    unsigned all = BYTE_PLAIN, any = 0;
    for (; i < len && byte_class[u[i]] != BYTE_SPACE; i++) {
        all &= byte_class[u[i]];
        any |= byte_class[u[i]];
    }
    if (all) put_letters(o, text + s, i - s, any & BYTE_DROP);
    else put_token(o, text + s, i - s);
    return i;
}

#ifdef __SSE2__
#include <emmintrin.h>

/* Bit masks of 16 bytes by byte_class: *space (S), *plain (L or D),
 * *letter (L). */
static void chunk_classes(const char *p, unsigned *space, unsigned *plain,
                          unsigned *letter) {
    __m128i b = _mm_loadu_si128((const __m128i *)p);
    /* signed compares: bytes >= 0x80 are negative, in no range below */
    __m128i sp = _mm_or_si128(_mm_cmpeq_epi8(b, _mm_set1_epi8(' ')),
                              _mm_and_si128(_mm_cmpgt_epi8(b, _mm_set1_epi8(0x08)),
                                            _mm_cmplt_epi8(b, _mm_set1_epi8(0x0E))));
    __m128i kept = _mm_andnot_si128( /* digits, '.', ':' (0x2E..0x3A but '/') */
        _mm_cmpeq_epi8(b, _mm_set1_epi8('/')),
        _mm_and_si128(_mm_cmpgt_epi8(b, _mm_set1_epi8(0x2D)),
                      _mm_cmplt_epi8(b, _mm_set1_epi8(0x3B))));
    kept = _mm_or_si128(kept, _mm_cmpeq_epi8(b, _mm_set1_epi8('@')));
    __m128i l = _mm_or_si128(b, _mm_set1_epi8(0x20));
    __m128i lt = _mm_and_si128(_mm_cmpgt_epi8(l, _mm_set1_epi8(0x60)),
                               _mm_cmplt_epi8(l, _mm_set1_epi8(0x7B)));
    *space = (unsigned)_mm_movemask_epi8(sp);
    *plain = ~((unsigned)_mm_movemask_epi8(kept) | (unsigned)_mm_movemask_epi8(b)) & 0xFFFF;
    *letter = (unsigned)_mm_movemask_epi8(lt);
}

/* The masks of chunk_classes for the 64 bytes from text[i] (past len:
 * spaces), bit k for byte i + k. */
static void block_classes(const char *text, size_t len, size_t i, uint64_t *space,
                          uint64_t *plain, uint64_t *letter) {
    char pad[64];
    const char *p = text + i;
    if (len - i < 64) {
        memset(pad, ' ', sizeof pad);
        memcpy(pad, p, len - i);
        p = pad;
    }
    *space = *plain = *letter = 0;
    for (int c = 0; c < 4; c++) {
        unsigned s, pl, lt;
        chunk_classes(p + 16 * c, &s, &pl, &lt);
        *space |= (uint64_t)s << (16 * c);
        *plain |= (uint64_t)pl << (16 * c);
        *letter |= (uint64_t)lt << (16 * c);
    }
}

/* Canonical text into o (bounded by o->cap): 64 bytes classified at a
 * time, so that a word costs no branch per byte; a token of 64 bytes or
 * more goes through scan_token. */
static void make_canon(const char *text, size_t len, canon *o) {
    size_t i = 0;
    while (i < len) {
        uint64_t space, plain, letter;
        block_classes(text, len, i, &space, &plain, &letter);
        unsigned pos = 0; /* in the block: after the last token put */
        for (;;) {
            if (o->len + 1 >= o->cap) return;
            uint64_t rest = ~space >> pos;
            if (!rest) { /* only spaces to the end of the block */
                pos = 64;
                break;
            }
            pos += (unsigned)__builtin_ctzll(rest); /* a token starts */
            uint64_t after = space >> pos;
            if (!after) break; /* it ends past the block */
            unsigned n = (unsigned)__builtin_ctzll(after);
            uint64_t bits = ((1ull << n) - 1) << pos;
            if ((plain & bits) == bits)
                put_letters(o, text + i + pos, n, (letter & bits) != bits);
            else
                put_token(o, text + i + pos, n);
            pos += n;
        }
        i = pos ? i + pos : scan_token(text, len, i, o);
    }
}
#endif

/* Canonical text into o (bounded by o->cap), a token at a time: the
 * portable form (make_canon without SSE2), and the reference the SSE2
 * form must equal (sg__fingerprint_reference). */
static void make_canon_scalar(const char *text, size_t len, canon *o) {
    size_t i = 0;
    while (i < len && o->len + 1 < o->cap) {
        while (i < len && byte_class[(unsigned char)text[i]] == BYTE_SPACE) i++;
        if (i < len) i = scan_token(text, len, i, o);
    }
}
#ifndef __SSE2__
#define make_canon make_canon_scalar
#endif

int sg__fingerprint_canon(const char *text, size_t len, sg_buf *b) {
    char tmp[SG_FP_MAX_CANON];
    canon o = {tmp, 0, sizeof tmp};
    if (text) make_canon(text, len, &o);
    return sg__buf_append(b, tmp, o.len);
}

/* ------------------------------------------------------------ MinHash */

/* Odd 64-bit multipliers of the MinHash functions h_i(x) = (a_i * x) >> 32
 * (multiply-shift, Dietzfelbinger et al. 1997) over the shingle's xxHash3,
 * drawn once from splitmix64 seeded with "SGFIPRNT".  On 300 lure variants
 * and 3,000 IRC lines they match as often as 32 independent strong hashes
 * (docs/behavior.md). */
#define MINHASH_MULS(X) \
    X(0xd023b1fc58f57033ull) X(0xbcd6819ae2044041ull) \
    X(0x7b1c147d9d0fa7a1ull) X(0x0bae251e2888e60bull) \
    X(0x511d863454d440ffull) X(0x0ab4762f15a14449ull) \
    X(0x4a43fd3bf864f0c5ull) X(0x75a48a05156f7da7ull) \
    X(0x4f052f88dd8df92dull) X(0xe563c36a047ec83full) \
    X(0xe877fc2bbc4d6efdull) X(0xaa57ff70bfcbf033ull) \
    X(0xd39a02e28e859d1full) X(0x7b40c434828e2bf3ull) \
    X(0xcd783e1d9ed608f7ull) X(0xe694dae9c9e4db57ull) \
    X(0xf30dc77b40060031ull) X(0x0a9f3a28aa4f08e5ull) \
    X(0x0afb6b9cfa2da507ull) X(0xd33dbab0a59e3633ull) \
    X(0x3677ca5509840a6dull) X(0xc51ab383093d1555ull) \
    X(0x49cf53f8541d0adfull) X(0xc774101c6a6adc5bull) \
    X(0x7410ab6d5a75e863ull) X(0x7d4c6547c0f2b847ull) \
    X(0x1b0dcb67fd7b1b5dull) X(0x01bee770dc12e701ull) \
    X(0xff4aa42d3f60fe27ull) X(0xff7c59838445df87ull) \
    X(0x27b5e55bb4406c1full) X(0xfa53667a4854e5e7ull)

/* Split into 32-bit halves: bits 32..63 of a * x (mod 2^64) are
 * hi32(a_lo * x_lo) + a_hi * x_lo + a_lo * x_hi (mod 2^32), which vector
 * units compute 8 or 16 lanes at a time (one scalar 64-bit multiply per
 * hash and shingle was 6 percent of a check). */
#define LO32(a) (uint32_t)((a) & 0xffffffffu),
#define HI32(a) (uint32_t)((a) >> 32),
static const uint32_t minhash_lo[SG_FP_HASHES] = {MINHASH_MULS(LO32)};
static const uint32_t minhash_hi[SG_FP_HASHES] = {MINHASH_MULS(HI32)};

/* mins[i] = min over the shingle hashes xs[0..n) of h_i(x) = bits 32..63
 * of a_i * x (MINHASH_MULS): the portable form. */
static void minhash_all_scalar(uint32_t *restrict mins, const uint64_t *restrict xs,
                               size_t n) {
    for (size_t k = 0; k < n; k++) {
        uint32_t xl = (uint32_t)xs[k], xh = (uint32_t)(xs[k] >> 32);
        for (int i = 0; i < SG_FP_HASHES; i++) {
            uint32_t v = (uint32_t)(((uint64_t)minhash_lo[i] * xl) >> 32) +
                         minhash_hi[i] * xl + minhash_lo[i] * xh;
            mins[i] = v < mins[i] ? v : mins[i];
        }
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MINHASH_VECS (SG_FP_HASHES / 8)

/* The same integers, 8 hash functions per AVX2 register, the 32 minima
 * kept in registers across the shingles: hi32(a_lo * x_lo) from two
 * 32x32->64 multiplies (even and odd lanes), the two cross products with
 * 32-bit multiplies.  (The compiler's own vectorisation of the portable
 * loop widened every lane to 64 bits and was 2x slower.)  No AVX-512: its
 * wide multiplies lower the core's clock for the code that follows. */
__attribute__((target("avx2")))
static void minhash_all_avx2(uint32_t *restrict mins, const uint64_t *restrict xs,
                             size_t n) {
    __m256i lo[MINHASH_VECS], lo_odd[MINHASH_VECS], hi[MINHASH_VECS], m[MINHASH_VECS];
    for (int v = 0; v < MINHASH_VECS; v++) {
        lo[v] = _mm256_loadu_si256((const __m256i *)(minhash_lo + 8 * v));
        lo_odd[v] = _mm256_srli_epi64(lo[v], 32);
        hi[v] = _mm256_loadu_si256((const __m256i *)(minhash_hi + 8 * v));
        m[v] = _mm256_loadu_si256((const __m256i *)(mins + 8 * v));
    }
    for (size_t k = 0; k < n; k++) {
        __m256i xl = _mm256_set1_epi32((int)(uint32_t)xs[k]);
        __m256i xh = _mm256_set1_epi32((int)(uint32_t)(xs[k] >> 32));
        for (int v = 0; v < MINHASH_VECS; v++) {
            __m256i even = _mm256_srli_epi64(_mm256_mul_epu32(lo[v], xl), 32);
            __m256i odd = _mm256_mul_epu32(lo_odd[v], xl);
            __m256i h = _mm256_blend_epi32(even, odd, 0xAA);
            __m256i cross = _mm256_add_epi32(_mm256_mullo_epi32(hi[v], xl),
                                             _mm256_mullo_epi32(lo[v], xh));
            m[v] = _mm256_min_epu32(m[v], _mm256_add_epi32(h, cross));
        }
    }
    for (int v = 0; v < MINHASH_VECS; v++)
        _mm256_storeu_si256((__m256i *)(mins + 8 * v), m[v]);
}

static void minhash_all(uint32_t *restrict mins, const uint64_t *restrict xs, size_t n) {
    if (__builtin_cpu_supports("avx2")) minhash_all_avx2(mins, xs, n);
    else minhash_all_scalar(mins, xs, n);
}
#else
#define minhash_all minhash_all_scalar
#endif

/* Lower bound of the number of distinct shingles: bits set in a 256-bit
 * map of their hashes (linear counting, Whang et al. 1990, uncorrected). */
static int count_distinct(const uint64_t *bits) {
    int n = 0;
    for (int i = 0; i < 4; i++) n += __builtin_popcountll(bits[i]);
    return n;
}

static void make_bands(sg_fingerprint *fp) {
    for (int b = 0; b < SG_FP_BANDS; b++) {
        uint64_t h = XXH3_64bits_withSeed(&fp->minhash[b * SG_FP_ROWS],
                                          SG_FP_ROWS * sizeof(uint32_t),
                                          (uint64_t)b + 1);
        fp->band[b] = h ? h : 1;
    }
}

/* xs[k] = xxHash3 of the k-th shingle (SG_FP_SHINGLE code points) of the
 * canonical text t[0..len); returns how many, or 0 when the text has fewer
 * than SG_FP_SHINGLE + SG_FP_MIN_SHINGLES - 1 code points. */
static size_t shingle_hashes(const char *t, size_t len, uint64_t *xs) {
    unsigned char high = 0;
    for (size_t i = 0; i < len; i++) high |= (unsigned char)t[i];
    if (high < 0x80) { /* ASCII: a code point per byte, fixed-length keys */
        if (len < SG_FP_SHINGLE + SG_FP_MIN_SHINGLES - 1) return 0;
        for (size_t k = 0; k + SG_FP_SHINGLE <= len; k++)
            xs[k] = XXH3_64bits(t + k, SG_FP_SHINGLE);
        return len - SG_FP_SHINGLE + 1;
    }
    /* start offsets of the code points of the canonical text */
    uint16_t cp[SG_FP_MAX_CANON + 1];
    size_t ncp = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)t[i] & 0xC0) != 0x80) cp[ncp++] = (uint16_t)i;
    cp[ncp] = (uint16_t)len;
    if (ncp < SG_FP_SHINGLE + SG_FP_MIN_SHINGLES - 1) return 0;
    size_t nx = 0;
    for (size_t k = 0; k + SG_FP_SHINGLE <= ncp; k++)
        xs[nx++] = XXH3_64bits(t + cp[k], (size_t)(cp[k + SG_FP_SHINGLE] - cp[k]));
    return nx;
}

/* sg__fingerprint, by the fast paths (SSE2 canonicaliser, MinHash by
 * cpu check) or, when reference, by the portable ones.  Inlined into
 * each caller with reference constant: no extra branch on the fast path. */
static inline __attribute__((always_inline)) int
fingerprint_by(const char *text, size_t len, bool reference, sg_fingerprint *out) {
    memset(out, 0, sizeof *out);
    char tmp[SG_FP_MAX_CANON];
    canon o = {tmp, 0, sizeof tmp};
    if (text && reference) make_canon_scalar(text, len, &o);
    else if (text) make_canon(text, len, &o);
    uint64_t seen[4] = {0}, xs[SG_FP_MAX_CANON];
    size_t nx = shingle_hashes(tmp, o.len, xs);
    if (nx == 0) return SG_OK;
    for (size_t k = 0; k < nx; k++) seen[(xs[k] >> 6) & 3] |= 1ull << (xs[k] & 63);
    out->shingles = (uint32_t)nx;
    memset(out->minhash, 0xff, sizeof out->minhash);
    if (reference) minhash_all_scalar(out->minhash, xs, nx);
    else minhash_all(out->minhash, xs, nx);
    if (count_distinct(seen) < SG_FP_MIN_DISTINCT) {
        memset(out, 0, sizeof *out);
        return SG_OK;
    }
    make_bands(out);
    out->valid = true;
    return SG_OK;
}

int sg__fingerprint(const char *text, size_t len, sg_fingerprint *out) {
    return fingerprint_by(text, len, false, out);
}

int sg__fingerprint_reference(const char *text, size_t len, sg_fingerprint *out) {
    return fingerprint_by(text, len, true, out);
}

double sg__fingerprint_similarity(const sg_fingerprint *a,
                                  const sg_fingerprint *b) {
    if (!a->valid || !b->valid) return 0;
    int eq = 0;
    for (int i = 0; i < SG_FP_HASHES; i++) eq += a->minhash[i] == b->minhash[i];
    return (double)eq / SG_FP_HASHES;
}

bool sg__fingerprint_match(const sg_fingerprint *a, const sg_fingerprint *b) {
    if (!a->valid || !b->valid) return false;
    for (int i = 0; i < SG_FP_BANDS; i++)
        if (a->band[i] == b->band[i]) return true;
    return false;
}
