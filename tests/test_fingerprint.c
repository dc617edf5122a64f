/*
 * test_fingerprint.c -- near-duplicate fingerprints (fingerprint.c): the
 * canonical text, variants of one lure matching, short chat getting no
 * fingerprint, unrelated real chat (the shipped #ubuntu IRC ham) almost
 * never matching, the MinHash estimate tracking the exact Jaccard
 * similarity, and bounded cost on huge or broken input.  Texts that differ
 * only in case, punctuation, white space, URLs, @names, numbers or past
 * the first 2,048 canonical bytes get the same fingerprint.  And the fast
 * paths (SSE2 canonicaliser, AVX2 MinHash) equal the portable reference
 * (sg__fingerprint_reference) on every corpus message, raw and
 * normalized, on tokens of every kind straddling the 64-byte blocks, on
 * every byte value at every offset near them, at the 2,048-byte cap, and
 * on seeded random texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "behavior.h"
#include "jsonl_corpus.h"

static sg_normctx *nc;

static int setup(void **state) {
    return sg__normctx_new(&nc) == SG_OK ? 0 : -1;
}

static int teardown(void **state) {
    sg__normctx_free(nc);
    return 0;
}

/* Fingerprint of raw text, through the real normalizer. */
static sg_fingerprint fp_of(const char *text) {
    sg_norm n;
    sg_fingerprint fp;
    assert_int_equal(sg__normalize(nc, text, strlen(text), &n), SG_OK);
    assert_int_equal(sg__fingerprint(n.text, n.len, &fp), SG_OK);
    sg__norm_free(&n);
    return fp;
}

static char *canon_of(const char *text) {
    sg_norm n;
    sg_buf b = {0};
    assert_int_equal(sg__normalize(nc, text, strlen(text), &n), SG_OK);
    assert_int_equal(sg__fingerprint_canon(n.text, n.len, &b), SG_OK);
    sg__norm_free(&n);
    if (!b.p) sg__buf_append(&b, "", 0);
    return b.p;
}

static void canonical_text_replaces_urls_names_and_numbers(void **state) {
    char *c = canon_of("Hey @Ann!! Check THIS: https://bit.ly/3xYz -- 50% off, "
                       "only 1,000.00 left (e.g. today) hxxp://evil[.]com/a ok.");
    assert_string_equal(c, "hey @ check this U # off only # left eg today U ok");
    sg__free(c);
    c = canon_of("Привет, Маша: 2 билета на www.kino-example.ru/x?id=7 ждут");
    assert_string_equal(c, "привет маша # билета на U ждут");
    sg__free(c);
}

static void variants_of_one_lure_match(void **state) {
    const char *lure[] = {
        "hey Ann, is this you in this video?? 😱 https://faceb00k-video.com/v/8812",
        "hey Bob is this you in this video? https://faceb00k-video.com/v/1931",
        "OMG @carol is this you in this video?! http://faceb00k-video.com/v/77",
        "Hey Dave, is this YOU in this video?? https://facebook-vid.example/v/5",
    };
    sg_fingerprint f[4];
    for (int i = 0; i < 4; i++) {
        f[i] = fp_of(lure[i]);
        assert_true(f[i].valid);
    }
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++) {
            assert_true(sg__fingerprint_match(&f[i], &f[j]));
            assert_true(sg__fingerprint_similarity(&f[i], &f[j]) >= 0.5);
        }
}

static void short_or_repetitive_chat_gets_no_fingerprint(void **state) {
    const char *chat[] = {"ok", "lol", "OK!!!", "see you at 5", "thx :)",
                          "hahahahahahahahahahahahahahahahahaha",
                          "https://youtu.be/dQw4w9WgXcQ", ""};
    for (size_t i = 0; i < sizeof chat / sizeof chat[0]; i++) {
        sg_fingerprint f = fp_of(chat[i]);
        assert_false(f.valid);
        assert_false(sg__fingerprint_match(&f, &f));
    }
}

static void unrelated_messages_do_not_match(void **state) {
    const char *a[] = {
        "hey, are you coming to the party tonight? bring some chips",
        "the meeting moved to thursday, can you tell the others please",
        "is this you in the picture from the lake last summer",
    };
    sg_fingerprint f[3];
    for (int i = 0; i < 3; i++) f[i] = fp_of(a[i]);
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++) {
            assert_false(sg__fingerprint_match(&f[i], &f[j]));
            assert_true(sg__fingerprint_similarity(&f[i], &f[j]) < 0.2);
        }
}

/* 2,000 real chat lines: pairs that are not near-identical must almost
 * never share a band (measured: 23 in a million pairs of distinct lines).*/
static void real_chat_lines_rarely_collide(void **state) {
    FILE *in = fopen(SG_TEST_SOURCE "/data/corpus/irc_ubuntu_ham.jsonl", "r");
    assert_non_null(in);
    enum { N = 2000 };
    sg_fingerprint *f = calloc(N, sizeof *f);
    char line[8192];
    int n = 0, valid = 0;
    while (n < N && fgets(line, sizeof line, in)) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j) continue;
        f[n++] = fp_of(json_string_value(json_object_get(j, "text")));
        json_decref(j);
    }
    fclose(in);
    assert_int_equal(n, N);
    long pairs = 0, matched = 0;
    for (int i = 0; i < n; i++) {
        valid += f[i].valid;
        for (int k = i + 1; k < n; k++) {
            if (!f[i].valid || !f[k].valid) continue;
            if (sg__fingerprint_similarity(&f[i], &f[k]) >= 0.9) continue;
            pairs++;
            matched += sg__fingerprint_match(&f[i], &f[k]);
        }
    }
    free(f);
    assert_true(valid > N / 2);       /* most chat lines are long enough */
    assert_true(pairs > 500000);
    assert_true(matched * 10000 < pairs); /* < 0.01 % of pairs */
}

/* Exact Jaccard of the 5-code-point shingle sets (ASCII canonical text). */
static double exact_jaccard(const char *x, const char *y) {
    char *cx = canon_of(x), *cy = canon_of(y);
    size_t nx = strlen(cx) - 4, ny = strlen(cy) - 4, inter = 0, ux = 0, uy = 0;
    for (size_t i = 0; i < nx; i++) {
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++) dup = !memcmp(cx + k, cx + i, 5);
        if (dup) continue;
        ux++;
        for (size_t k = 0; k < ny; k++)
            if (!memcmp(cy + k, cx + i, 5)) { inter++; break; }
    }
    for (size_t i = 0; i < ny; i++) {
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++) dup = !memcmp(cy + k, cy + i, 5);
        uy += !dup;
    }
    sg__free(cx);
    sg__free(cy);
    return (double)inter / (double)(ux + uy - inter);
}

static void minhash_estimate_tracks_exact_jaccard(void **state) {
    const char *p[][2] = {
        {"your account will be suspended today, verify your login details at",
         "your account will be closed today, please verify your login details"},
        {"win a brand new phone, reply yes to claim your prize before friday",
         "win a brand new car, reply yes now to claim the prize before monday"},
        {"can you send me the notes from yesterday's lecture when you can",
         "did anyone record the lecture yesterday? i missed the first hour"},
    };
    for (int i = 0; i < 3; i++) {
        sg_fingerprint a = fp_of(p[i][0]), b = fp_of(p[i][1]);
        double exact = exact_jaccard(p[i][0], p[i][1]);
        double est = sg__fingerprint_similarity(&a, &b);
        assert_true(est > exact - 0.2 && est < exact + 0.2);
    }
}

static void huge_and_broken_input_is_bounded_and_safe(void **state) {
    size_t n = 65536;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++) big[i] = "abcdefghij klmnopqrstuvwxyz 0123"[i % 32];
    big[n] = '\0';
    sg_fingerprint f;
    assert_int_equal(sg__fingerprint(big, n, &f), SG_OK);
    assert_true(f.valid);
    assert_true(f.shingles <= SG_FP_MAX_CANON);
    /* invalid UTF-8 and NUL bytes straight into the pure function */
    const char bad[] = "\xff\xfe caf\xc3 \xe2\x82 is this you in this video \x80\x80 "
                       "https://x.example/\xc0\xaf \0 tail";
    assert_int_equal(sg__fingerprint(bad, sizeof bad - 1, &f), SG_OK);
    assert_true(f.valid);
    assert_int_equal(sg__fingerprint(NULL, 0, &f), SG_OK);
    assert_false(f.valid);
    free(big);
}

/* ------------------------------------------------ equivalence classes */

static bool same_fp(const sg_fingerprint *a, const sg_fingerprint *b) {
    return a->valid == b->valid && a->shingles == b->shingles &&
           !memcmp(a->minhash, b->minhash, sizeof a->minhash) &&
           !memcmp(a->band, b->band, sizeof a->band);
}

/* docs/behavior.md: case is folded by the normalizer, punctuation dropped,
 * tokens split on any white space and joined by one space. */
static void case_punctuation_and_spacing_do_not_change_the_fingerprint(void **state) {
    const char *v[] = {
        "hey, is this you in the video from the party last night? check it out",
        "Hey is THIS you in the video from the party last night!!! check it out...",
        "  hey   is this you\tin the video\nfrom the party -- last night ?? Check it OUT ",
        "HEY, IS THIS YOU IN THE VIDEO FROM THE PARTY LAST NIGHT? \"CHECK\" (IT) OUT!",
    };
    sg_fingerprint f[4];
    for (int i = 0; i < 4; i++) {
        char *c = canon_of(v[i]);
        assert_string_equal(c, "hey is this you in the video from the party last night "
                               "check it out");
        sg__free(c);
        f[i] = fp_of(v[i]);
        assert_true(f[i].valid);
    }
    for (int i = 1; i < 4; i++) {
        assert_true(same_fp(&f[0], &f[i]));
        assert_true(sg__fingerprint_match(&f[0], &f[i]));
        assert_true(sg__fingerprint_similarity(&f[0], &f[i]) == 1.0);
    }
    /* a changed word is not a copy: a different signature */
    sg_fingerprint g = fp_of("hey is this you in the video from the party last "
                             "weekend? check it out");
    assert_true(g.valid);
    assert_false(same_fp(&f[0], &g));
}

/* URLs -> U, @names -> @, digit runs (with inner . , :) -> #. */
static void urls_names_and_numbers_do_not_change_the_fingerprint(void **state) {
    const char *v[] = {
        "@ann your parcel 4521 is waiting, pay 1.99 at https://parcel-fee.example/a1 "
        "today please",
        "@Bob your parcel 87 is waiting pay 0,50 at www.parcel-fee2.example/zz?id=9 "
        "today please",
        "@carol your parcel 10:30 is waiting pay 300 at parcel[.]example "
        "today please",
    };
    sg_fingerprint f[3];
    for (int i = 0; i < 3; i++) {
        char *c = canon_of(v[i]);
        assert_string_equal(c, "@ your parcel # is waiting pay # at U today please");
        sg__free(c);
        f[i] = fp_of(v[i]);
        assert_true(f[i].valid);
    }
    assert_true(same_fp(&f[0], &f[1]));
    assert_true(same_fp(&f[0], &f[2]));
}

/* Only the first SG_FP_MAX_CANON bytes of canonical text count. */
static void text_past_the_canonical_cap_does_not_count(void **state) {
    char a[4096], b[4096];
    size_t n = 0;
    for (int w = 0; n < 2400; w++) { /* 5-letter words: 6 bytes each */
        for (int k = 0, x = w; k < 5; k++, x /= 26) a[n++] = (char)('a' + x % 26);
        a[n++] = ' ';
    }
    memcpy(b, a, n);
    const char ta[] = "alpha beta gamma delta", tb[] = "zulu yankee x-ray whiskey";
    memcpy(a + n, ta, sizeof ta);
    memcpy(b + n, tb, sizeof tb);
    sg_fingerprint fa, fb;
    assert_int_equal(sg__fingerprint(a, strlen(a), &fa), SG_OK);
    assert_int_equal(sg__fingerprint(b, strlen(b), &fb), SG_OK);
    assert_true(fa.valid);
    assert_true(fa.shingles <= SG_FP_MAX_CANON - SG_FP_SHINGLE + 1);
    assert_true(same_fp(&fa, &fb));
    /* the same tail inside the cap does change it */
    memcpy(b + 600, tb, sizeof tb - 1);
    assert_int_equal(sg__fingerprint(b, strlen(b), &fb), SG_OK);
    assert_false(same_fp(&fa, &fb));
}

/* ------------------------------------------------ fast == reference */

/* Up to 96 bytes of t, non-printable ones as \xNN, for failure messages. */
static const char *shown(const char *t, size_t n) {
    static char out[400];
    size_t k = 0;
    for (size_t i = 0; i < n && i < 96; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') out[k++] = (char)c;
        else k += (size_t)snprintf(out + k, sizeof out - k, "\\x%02x", c);
    }
    out[k] = '\0';
    return out;
}

typedef struct tally {
    size_t texts, valid;
} tally;

/* sg__fingerprint (SSE2 canonicaliser; AVX2 MinHash where the cpu has it)
 * equals sg__fingerprint_reference in every field, on t[0..n). */
static void check_same(const char *t, size_t n, tally *y) {
    sg_fingerprint f, r;
    assert_int_equal(sg__fingerprint(t, n, &f), SG_OK);
    assert_int_equal(sg__fingerprint_reference(t, n, &r), SG_OK);
    if (!same_fp(&f, &r))
        fail_msg("fast and reference fingerprints differ on %zu bytes: \"%s\"", n,
                 shown(t, n));
    y->texts++;
    y->valid += f.valid;
}

/* A corpus text as it is, and normalized as the engine fingerprints it. */
static void check_corpus_text(const char *t, size_t len, void *arg) {
    tally *y = arg;
    check_same(t, len, y);
    sg_norm n;
    if (sg__normalize(nc, t, len, &n) == SG_OK) {
        check_same(n.text, n.len, y);
        sg__norm_free(&n);
    }
}

static void fast_paths_equal_reference_on_every_corpus_message(void **state) {
    tally y = {0};
    corpus_each_text_all(SG_TEST_SHARED, 0, SG_TEST_SOURCE, check_corpus_text, &y);
    printf("corpora: %zu texts (raw and normalized) equal, %zu with a fingerprint\n",
           y.texts, y.valid);
    /* 45,169 shared messages, each raw and normalized, and the repo's own */
    assert_true(y.texts >= 2 * 45169);
    assert_true(y.valid > y.texts / 5);
}

/* Tokens of every kind the canonicaliser tells apart, with explicit
 * lengths (some hold NUL or invalid UTF-8). */
typedef struct piece {
    const char *s;
    size_t n;
} piece;
#define P(lit) {lit, sizeof lit - 1}
static const piece pieces[] = {
    P("hello"), P("Hello"), P("it's"), P("a-b_c"), P("(what)"), P("[x]"), P("<b>"),
    P("\"q\""), P("--"), P("#tag"), P("$5"), P("~"), P("\x7f"), P("/"), P("a/b"),
    P("https://bit.ly/3xYz"), P("www.example.com/path?q=1"), P("hxxp://evil[.]com/a"),
    P("evil(.)com"), P("evil[dot]com"), P("user@mail.example"), P("name.tld/x"),
    P("@ann"), P("@"), P("@@"), P("a@b"), P("12,345.67"), P("10:30"), P("50%"),
    P("1."), P("1.a"), P("."), P(":"), P("..."), P("e.g."), P("a.b"), P("x."),
    P(".com"), P("a:b"), P("a://b"), P("http://localhost/x"), P("mailto:ann"),
    P("0"), P("9"), P("caf\xc3\xa9"),
    P("\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"), /* привет */
    P("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"),             /* 日本語 */
    P("\xf0\x9f\x98\xb1"),                                 /* 😱 */
    P("e\xcc\x81"),                                        /* e + combining acute */
    P("\xd9\xa1\xd9\xa2\xd9\xa3"),                         /* Arabic-Indic 123 */
    P("\xef\xbc\x91\xef\xbc\x92"),                         /* fullwidth 12 */
    P("\xd8\xa7\xd9\x84\xd9\x84\xd9\x87"),                 /* Arabic word */
    P("\xe3\x80\x82"), P("\xc2\xa0"),                      /* ideographic dot, NBSP */
    P("\xff"), P("\xc3"), P("\xe2\x82"), P("\x80\x80"), P("\xc0\xaf"),
    P("\xed\xa0\x80"), P("\xf4\x90\x80\x80"), P("a\0b"), P("\x08"), P("\x0e"),
};
#define NPIECES (sizeof pieces / sizeof pieces[0])
static const piece seps[] = {P(" "), P("\t"), P("\n"), P("\r\n"), P("\v"), P("\f"),
                             P("   "), P(""), P(".")};
#define NSEPS (sizeof seps / sizeof seps[0])

/* pieces plus long tokens (64+ and 128+ bytes) built once */
static piece all[NPIECES + 16];
static size_t nall;
static char longtok[16][400];

static void add_long(int k, const char *unit, size_t times, const char *tail) {
    char *p = longtok[k];
    size_t n = 0, u = strlen(unit);
    for (size_t i = 0; i < times; i++, n += u) memcpy(p + n, unit, u);
    memcpy(p + n, tail, strlen(tail));
    n += strlen(tail);
    all[nall++] = (piece){p, n};
}

static void build_pieces(void) {
    if (nall) return;
    for (size_t i = 0; i < NPIECES; i++) all[nall++] = pieces[i];
    int k = 0;
    add_long(k++, "a", 64, "");
    add_long(k++, "a", 70, "");
    add_long(k++, "b", 128, "");
    add_long(k++, "c", 140, "");
    add_long(k++, "x-", 70, "");             /* letters and dropped bytes */
    add_long(k++, "a", 66, "1");             /* a digit at the end */
    add_long(k++, "https://example.com/", 1, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    add_long(k++, "sub", 40, ".example.com");
    add_long(k++, "7", 100, "");
    add_long(k++, "12.", 45, "5");
    add_long(k++, "\xc3\xa9", 40, "");     /* 80 bytes of é */
    add_long(k++, "\xe6\x97\xa5", 45, "");  /* 135 bytes of 日 */
    add_long(k++, "\xf0\x9f\x98\xb1", 33, "a"); /* 4-byte runs across 64 */
    add_long(k++, "@", 1, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    add_long(k++, "ab", 40, "\xff\x80");   /* invalid tail */
    add_long(k++, ".", 70, "");
}

static const char filler[] =
    "the meeting moved to thursday so can you tell the others and bring some "
    "chips for later tonight we will watch the game at my place okay see you ";

/* filler bytes [from, from + n) into p, wrapping */
static size_t put_filler(char *p, size_t from, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = filler[(from + i) % (sizeof filler - 1)];
    return n;
}

/* Each token at every offset 0..150 (so around the 16- and 64-byte
 * chunks and the 64..128 block edge; offsets 50..80 and 114..144 in
 * particular), glued to the text before it or after a separator, with
 * texts of varied lengths after it. */
static void tokens_straddling_block_edges_equal_reference(void **state) {
    build_pieces();
    char t[1024];
    tally y = {0};
    for (size_t i = 0; i < nall; i++)
        for (size_t off = 0; off <= 150; off++)
            for (int glued = 0; glued < 2; glued++) {
                const piece *sp = &seps[(i + off) % NSEPS];
                size_t n = put_filler(t, i, off);
                if (!glued && off >= sp->n) memcpy(t + off - sp->n, sp->s, sp->n);
                memcpy(t + n, all[i].s, all[i].n);
                n += all[i].n;
                memcpy(t + n, sp->s, sp->n);
                n += sp->n;
                n += put_filler(t + n, off, (off * 7 + i) % 90);
                check_same(t, n, &y);
                /* the token again right after, ending at the text's end */
                memcpy(t + n, all[i].s, all[i].n);
                check_same(t, n + all[i].n, &y);
            }
    assert_true(y.valid > y.texts * 3 / 4);
}

/* Every prefix (lengths 0..300) of texts packed with the tokens, with and
 * without separators; and every byte value at every offset 0..140. */
static void every_length_and_byte_near_block_edges_equals_reference(void **state) {
    build_pieces();
    char src[3][4096];
    size_t m[3] = {0};
    for (size_t i = 0; m[1] < 600; i++) {
        const piece *pc = &all[(i * 7) % nall], *sp = &seps[i % NSEPS];
        memcpy(src[0] + m[0], pc->s, pc->n), m[0] += pc->n;
        memcpy(src[0] + m[0], " ", 1), m[0] += 1;
        memcpy(src[1] + m[1], pc->s, pc->n), m[1] += pc->n;
        memcpy(src[2] + m[2], pc->s, pc->n), m[2] += pc->n;
        memcpy(src[2] + m[2], sp->s, sp->n), m[2] += sp->n;
    }
    tally y = {0};
    for (int s = 0; s < 3; s++)
        for (size_t start = 0; start < 4; start++)
            for (size_t len = 0; len <= 300; len++) check_same(src[s] + start, len, &y);
    char t[256];
    for (int b = 0; b < 256; b++)
        for (size_t off = 0; off <= 140; off++) {
            put_filler(t, off, 150);
            t[off] = (char)b;
            check_same(t, 150, &y);
        }
    assert_int_equal(y.texts, 3 * 4 * 301 + 256 * 141);
    assert_true(y.valid > y.texts / 2);
}

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

/* A text of about n bytes of random tokens, separators and filler. */
static size_t random_text(char *t, size_t n, uint64_t *rng) {
    size_t k = 0;
    while (k < n) {
        uint64_t r = rng_next(rng);
        const piece *pc = &all[r % nall], *sp = &seps[(r >> 16) % NSEPS];
        if ((r >> 32) % 3 == 0) k += put_filler(t + k, (size_t)(r >> 40), (r >> 48) % 24);
        memcpy(t + k, pc->s, pc->n), k += pc->n;
        memcpy(t + k, sp->s, sp->n), k += sp->n;
    }
    return k;
}

/* Seeded random texts of the tokens: 4,000 short, 200 across the
 * 2,048-byte cap of canonical text, 1,000 of raw bytes. */
static void seeded_random_texts_equal_reference(void **state) {
    build_pieces();
    static char t[8192];
    uint64_t rng = 0x5347465054455354ull; /* "SGFPTEST" */
    tally y = {0};
    for (int i = 0; i < 4000; i++) check_same(t, random_text(t, rng_next(&rng) % 500, &rng), &y);
    for (int i = 0; i < 200; i++)
        check_same(t, random_text(t, 1800 + rng_next(&rng) % 2000, &rng), &y);
    for (int i = 0; i < 1000; i++) {
        size_t n = rng_next(&rng) % 400;
        for (size_t k = 0; k < n; k++) { /* bytes near the class boundaries */
            static const char near[] = " \t\n\x0b\x0c\r\x08\x0e.:@/-;09AZ[`az{\x7f\x80\xbf\xc3\xe2\xf0\xff";
            uint64_t r = rng_next(&rng);
            t[k] = r % 4 ? (char)('a' + r % 26) : near[(r >> 8) % (sizeof near - 1)];
        }
        check_same(t, n, &y);
    }
    assert_int_equal(y.texts, 5200);
    assert_true(y.valid > 3000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(canonical_text_replaces_urls_names_and_numbers),
        cmocka_unit_test(variants_of_one_lure_match),
        cmocka_unit_test(short_or_repetitive_chat_gets_no_fingerprint),
        cmocka_unit_test(unrelated_messages_do_not_match),
        cmocka_unit_test(real_chat_lines_rarely_collide),
        cmocka_unit_test(minhash_estimate_tracks_exact_jaccard),
        cmocka_unit_test(huge_and_broken_input_is_bounded_and_safe),
        cmocka_unit_test(case_punctuation_and_spacing_do_not_change_the_fingerprint),
        cmocka_unit_test(urls_names_and_numbers_do_not_change_the_fingerprint),
        cmocka_unit_test(text_past_the_canonical_cap_does_not_count),
        cmocka_unit_test(fast_paths_equal_reference_on_every_corpus_message),
        cmocka_unit_test(tokens_straddling_block_edges_equal_reference),
        cmocka_unit_test(every_length_and_byte_near_block_edges_equals_reference),
        cmocka_unit_test(seeded_random_texts_equal_reference),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
