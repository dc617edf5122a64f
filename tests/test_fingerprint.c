/*
 * test_fingerprint.c -- near-duplicate fingerprints (fingerprint.c): the
 * canonical text, variants of one lure matching, short chat getting no
 * fingerprint, unrelated real chat (the shipped #ubuntu IRC ham) almost
 * never matching, the MinHash estimate tracking the exact Jaccard
 * similarity, and bounded cost on huge or broken input.
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(canonical_text_replaces_urls_names_and_numbers),
        cmocka_unit_test(variants_of_one_lure_match),
        cmocka_unit_test(short_or_repetitive_chat_gets_no_fingerprint),
        cmocka_unit_test(unrelated_messages_do_not_match),
        cmocka_unit_test(real_chat_lines_rarely_collide),
        cmocka_unit_test(minhash_estimate_tracks_exact_jaccard),
        cmocka_unit_test(huge_and_broken_input_is_bounded_and_safe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
