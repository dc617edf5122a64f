/*
 * test_features.c -- hashed features (features.c): which words, OSB word
 * pairs, character n-grams, digit shapes and meta features a message
 * yields, with their spans and readable names, on real SMS spam and ham
 * lines from the SMS Spam Collection and on hand-made tricky cases; plus
 * the per-kind weights, unit L2 norm, de-duplication, determinism and a
 * 1 MiB input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_internal.h"

#define BITS 22

static sg_normctx *nc;

static int setup(void **state) {
    return sg__normctx_new(&nc) == SG_OK ? 0 : -1;
}

static int teardown(void **state) {
    sg__normctx_free(nc);
    return 0;
}

typedef struct msg {
    sg_norm n;
    sg_featvec fv;
} msg;

static msg extract(const char *text) {
    msg m = {0};
    assert_int_equal(sg__normalize(nc, text, strlen(text), &m.n), SG_OK);
    assert_int_equal(sg__features(&m.n, BITS, &m.fv), SG_OK);
    return m;
}

static void msg_free(msg *m) {
    sg__norm_free(&m->n);
    sg__featvec_free(&m->fv);
}

/* The feature named `name`, or NULL. */
static const sg_feat *find(const msg *m, const char *name) {
    for (size_t i = 0; i < m->fv.n; i++) {
        sg_buf b = {0};
        assert_int_equal(sg__feature_name(&m->n, &m->fv.v[i], &b), SG_OK);
        bool hit = b.p && strcmp(b.p, name) == 0;
        sg__buf_free(&b);
        if (hit) return &m->fv.v[i];
    }
    return NULL;
}

static double l2(const sg_featvec *fv);

static size_t count_kind(const msg *m, sg_feat_kind k) {
    size_t c = 0;
    for (size_t i = 0; i < m->fv.n; i++) c += m->fv.v[i].kind == k;
    return c;
}

/* The text of one line of the SMS Spam Collection, by id (caller frees). */
static char *sms_text(const char *file, const char *id) {
    char path[1024];
    snprintf(path, sizeof path, "%s/sms_spam_collection/%s", SG_TEST_SHARED, file);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s (the shared data sets, ../shared/data or SG_SHARED_DATA: see README)", path);
    char *line = NULL, *out = NULL;
    size_t cap = 0;
    while (!out && getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *o = json_loads(line, 0, &e);
        if (o && strcmp(json_string_value(json_object_get(o, "id")), id) == 0)
            out = strdup(json_string_value(json_object_get(o, "text")));
        json_decref(o);
    }
    free(line);
    fclose(f);
    assert_non_null(out);
    return out;
}

static void words_pairs_and_ngrams_have_exact_spans(void **state) {
    msg m = extract("Call NOW to claim your prize");
    const char *t = m.n.text; /* "call now to claim your prize" */
    const sg_feat *f = find(&m, "word \"claim\"");
    assert_non_null(f);
    assert_int_equal(f->kind, SG_FEAT_WORD);
    assert_int_equal(f->off, 12);
    assert_int_equal(f->len, 5);
    f = find(&m, "word pair \"call now\"");
    assert_non_null(f);
    assert_int_equal(f->gap, 0);
    assert_memory_equal(t + f->off2, "now", 3);
    f = find(&m, "word pair \"call \u2026 claim\""); /* call (now to) claim */
    assert_non_null(f);
    assert_int_equal(f->kind, SG_FEAT_PAIR);
    assert_int_equal(f->gap, 2);
    assert_int_equal(f->off, 0);
    assert_int_equal(f->off2, 12);
    assert_null(find(&m, "word pair \"call \u2026 prize\"")); /* 4 words apart */
    assert_non_null(find(&m, "word pair \"now \u2026 prize\""));
    f = find(&m, "char n-gram \"claim\"");
    assert_non_null(f);
    assert_int_equal(f->kind, SG_FEAT_CHAR);
    assert_int_equal(f->off, 12);
    assert_int_equal(f->len, 5);
    f = find(&m, "char n-gram \"w to\""); /* across a word boundary */
    assert_non_null(f);
    assert_int_equal(f->off, 7);
    assert_int_equal(f->len, 4);
    f = find(&m, "char n-gram \"ca\""); /* n-grams are 2..5 */
    assert_non_null(f);
    assert_int_equal(f->off, 0);
    assert_int_equal(f->len, 2);
    f = find(&m, "char n-gram \"w \""); /* a 2-gram ending at a boundary */
    assert_non_null(f);
    assert_int_equal(f->off, 7);
    assert_int_equal(f->len, 2);
    assert_null(find(&m, "char n-gram \"call n\"")); /* 6 units: too long */
    assert_int_equal(count_kind(&m, SG_FEAT_WORD), 6);
    /* 6 words: pairs 4+4+3+2+1 */
    assert_int_equal(count_kind(&m, SG_FEAT_PAIR), 14);
    assert_int_equal(count_kind(&m, SG_FEAT_BIAS), 1);
    msg_free(&m);
}

static void whitespace_runs_are_one_boundary(void **state) {
    msg a = extract("win  \n\t cash"), b = extract("win cash");
    const sg_feat *f = find(&a, "char n-gram \"n c\"");
    assert_non_null(f);
    const sg_feat *g = find(&b, "char n-gram \"n c\"");
    assert_non_null(g);
    assert_int_equal(f->idx, g->idx);
    assert_int_equal(f->len, 7); /* the span covers the whole run */
    msg_free(&a);
    msg_free(&b);
}

static void apostrophes_inside_words_stay(void **state) {
    char *text = sms_text("train.jsonl", "sms-0005"); /* a real ham line */
    msg m = extract(text);
    assert_string_equal(m.n.text, "nah i don't think he goes to usf, he lives around here though");
    assert_non_null(find(&m, "word \"don't\""));
    assert_null(find(&m, "word \"don\""));
    assert_non_null(find(&m, "word pair \"i don't\""));
    assert_null(find(&m, "phone number"));
    assert_null(find(&m, "currency amount"));
    assert_null(find(&m, "prize word"));
    assert_null(find(&m, "link"));
    assert_non_null(find(&m, "no digits"));
    assert_non_null(find(&m, "medium message"));
    free(text);
    msg_free(&m);
}

static void real_sms_spam_has_phone_currency_and_prize_words(void **state) {
    /* "WINNER!! ... receivea £900 prize reward! To claim call 09061701461." */
    char *text = sms_text("train.jsonl", "sms-0009");
    msg m = extract(text);
    assert_non_null(find(&m, "phone number"));
    assert_non_null(find(&m, "currency amount"));
    assert_non_null(find(&m, "3+ prize words"));
    assert_non_null(find(&m, "word \"09061701461\""));
    assert_non_null(find(&m, "word \"winner\""));
    assert_non_null(find(&m, "some digits"));
    assert_non_null(find(&m, "SMS-length message"));
    assert_non_null(find(&m, "some upper case"));
    assert_null(find(&m, "link"));
    const sg_feat *f = find(&m, "currency amount");
    assert_int_equal(f->kind, SG_FEAT_META);
    assert_int_equal(f->off, SG_META_CURRENCY);
    free(text);
    msg_free(&m);
}

static void short_codes_and_amounts_in_real_spam(void **state) {
    /* "SIX chances to win CASH! From 100 to 20,000 pounds txt> CSH11 and
     *  send to 87575. ..." */
    char *text = sms_text("train.jsonl", "sms-0012");
    msg m = extract(text);
    assert_non_null(find(&m, "phone number"));    /* the short code 87575 */
    assert_non_null(find(&m, "currency amount")); /* 20,000 pounds */
    free(text);
    msg_free(&m);
}

static void phone_number_rules(void **state) {
    static const struct { const char *text; bool phone; } cases[] = {
        {"Text WIN to 86688 now", true},
        {"call +44 (0) 7700 900123 today", true},
        {"ring 0800-123-4567", true},
        {"see you in 2024", false},
        {"on 2024-05-12 at noon", false},
        {"on 12-05-2024 at noon", false},
        {"pay 10000$ now", false},
        {"code abc12345", false},
        {"T&C's apply 08452810075over18's", true},
        {"ref 12345abc", false},
        {"pi is 3.14159265", false},
        {"total 1,234,567.89", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msg m = extract(cases[i].text);
        if (cases[i].phone != (find(&m, "phone number") != NULL))
            fail_msg("phone number in \"%s\": expected %d", cases[i].text,
                     cases[i].phone);
        msg_free(&m);
    }
}

static void currency_rules(void **state) {
    static const struct { const char *text; bool currency; } cases[] = {
        {"earn 1000usd a day", true},
        {"only 500 руб!", true},
        {"get \u20AC50 off", true},
        {"\u20BD 300", true},
        {"usd 20", true},
        {"pounds of flour", false},
        {"I owe you 5", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msg m = extract(cases[i].text);
        if (cases[i].currency != (find(&m, "currency amount") != NULL))
            fail_msg("currency in \"%s\": expected %d", cases[i].text,
                     cases[i].currency);
        msg_free(&m);
    }
}

static void link_rules(void **state) {
    static const struct { const char *text; bool link; } cases[] = {
        {"go to bit.ly/3xYz now", true},
        {"visit www.example.org", true},
        {"hxxp://evil.example", true},
        {"https://t.co/abc", true},
        {"see сайт.рф", true},
        {"e.g. tomorrow", false},
        {"ok. i will", false},
        {"time 10:30", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msg m = extract(cases[i].text);
        if (cases[i].link != (find(&m, "link") != NULL))
            fail_msg("link in \"%s\": expected %d", cases[i].text, cases[i].link);
        msg_free(&m);
    }
}

static void russian_prize_stems_count(void **state) {
    msg m = extract("Выиграй приз! Бесплатно, без признаков обмана");
    assert_non_null(find(&m, "3+ prize words")); /* выигр-, приз, бесплатн- */
    msg_free(&m);
    m = extract("признаков нет");
    assert_null(find(&m, "prize word")); /* "приз" is not a stem */
    msg_free(&m);
}

static void obfuscation_meta_features(void **state) {
    msg m = extract("Cl\u200Baim y\u043Eur \u1D18\u0280\u026A\u1D22\u1D07");
    assert_string_equal(m.n.text, "claim your prize");
    assert_non_null(find(&m, "invisible characters"));
    assert_non_null(find(&m, "mixed-script word"));
    assert_non_null(find(&m, "styled letters"));
    assert_non_null(find(&m, "word \"claim\"")); /* what the model sees */
    msg_free(&m);
    m = extract("claim your prize");
    assert_null(find(&m, "invisible characters"));
    assert_null(find(&m, "mixed-script word"));
    assert_null(find(&m, "styled letters"));
    msg_free(&m);
}

static void cjk_words_are_character_bigrams(void **state) {
    msg m = extract("我想买手机 iPhone");
    assert_non_null(find(&m, "word \"我想\""));
    assert_non_null(find(&m, "word \"想买\""));
    assert_non_null(find(&m, "word \"手机\""));
    assert_non_null(find(&m, "word \"iphone\""));
    assert_null(find(&m, "word \"我想买手机\""));
    assert_int_equal(count_kind(&m, SG_FEAT_WORD), 5);
    msg_free(&m);
    m = extract("コーヒー"); /* coffee: the long vowel mark stays in the run */
    assert_non_null(find(&m, "word \"コー\""));
    assert_non_null(find(&m, "word \"ーヒ\""));
    assert_non_null(find(&m, "word \"ヒー\""));
    assert_int_equal(count_kind(&m, SG_FEAT_WORD), 3);
    msg_free(&m);
}

static void empty_text_has_bias_and_bucket_features_only(void **state) {
    msg m = extract("");
    assert_int_equal(m.fv.n, 4);
    assert_non_null(find(&m, "bias"));
    assert_non_null(find(&m, "no digits"));
    assert_non_null(find(&m, "few letters"));
    assert_non_null(find(&m, "very short message"));
    assert_null(find(&m, "longest digit run: 0"));
    msg_free(&m);
}

static void real_spam_numbers_have_shapes_and_lengths(void **state) {
    /* "... receivea £900 prize reward! To claim call 09061701461. Claim
     *  code KL341. Valid 12 hours only." */
    char *text = sms_text("train.jsonl", "sms-0009");
    msg m = extract(text);
    const sg_feat *f = find(&m, "token shape \"99999999999.\"");
    assert_non_null(f);
    assert_int_equal(f->kind, SG_FEAT_SHAPE);
    assert_memory_equal(m.n.text + f->off, "09061701461.", 12);
    assert_int_equal(f->len, 12);
    assert_non_null(find(&m, "token shape \"£999\""));
    assert_non_null(find(&m, "token shape \"aa999.\""));  /* kl341. */
    assert_non_null(find(&m, "token shape \"99\""));      /* 12 */
    assert_non_null(find(&m, "11-digit number"));
    assert_non_null(find(&m, "11-digit number starting \"09\""));
    assert_non_null(find(&m, "3-digit number starting \"90\"")); /* 900 */
    assert_non_null(find(&m, "3-digit number starting \"34\"")); /* kl341 */
    assert_null(find(&m, "2-digit number"));                   /* runs of 3+ */
    assert_non_null(find(&m, "longest digit run: 11"));
    assert_null(find(&m, "longest digit run: 3"));
    free(text);
    msg_free(&m);
    m = extract("a 12345678901234567890 digit run");
    assert_non_null(find(&m, "16+-digit number"));
    assert_non_null(find(&m, "longest digit run: 16+"));
    msg_free(&m);
}

static void sms_spellings_also_yield_their_parts(void **state) {
    /* "... U wanna cum over 2nite? Chat now 09099725823 ..." (real spam) */
    char *text = sms_text("train.jsonl", "sms-1459");
    msg m = extract(text);
    assert_non_null(find(&m, "word \"2nite\""));
    const sg_feat *f = find(&m, "word \"nite\"");
    assert_non_null(f);
    assert_int_equal(f->kind, SG_FEAT_WORD);
    assert_memory_equal(m.n.text + f->off - 1, "2nite", 5);
    assert_non_null(find(&m, "word \"2\""));
    assert_non_null(find(&m, "token shape \"9aaaa?\""));
    free(text);
    msg_free(&m);
    /* a part is the same feature as the plain word */
    msg a = extract("150p per msg"), b = extract("150 p");
    assert_int_equal(find(&a, "word \"150\"")->idx, find(&b, "word \"150\"")->idx);
    assert_non_null(find(&a, "word \"p\""));
    assert_null(find(&b, "token shape \"999a\""));
    assert_non_null(find(&a, "token shape \"999a\""));
    msg_free(&a);
    msg_free(&b);
    /* words without digits are not split, numbers are not split */
    m = extract("don't 12345");
    assert_int_equal(count_kind(&m, SG_FEAT_WORD), 2);
    msg_free(&m);
}

static void many_digit_parts_are_all_kept(void **state) {
    /* 10 parts, 1 token shape, no run of 3 digits: the bound on features
     * must leave room for every one and for all 30 character n-grams */
    msg m = extract("a1b2c3d4e5");
    assert_int_equal(count_kind(&m, SG_FEAT_WORD), 11);
    assert_int_equal(count_kind(&m, SG_FEAT_SHAPE), 2); /* shape, longest run */
    assert_non_null(find(&m, "token shape \"a9a9a9a9a9\""));
    assert_int_equal(count_kind(&m, SG_FEAT_CHAR), 9 + 8 + 7 + 6);
    msg_free(&m);
}

static void kinds_are_weighted_before_the_unit_norm(void **state) {
    msg m = extract("call 09061701461 now");
    const sg_feat *bias = find(&m, "bias"), *w = find(&m, "word \"call\""),
                  *p = find(&m, "word pair \"call 09061701461\""),
                  *c = find(&m, "char n-gram \"cal\""), *meta = find(&m, "phone number"),
                  *sh = find(&m, "11-digit number");
    assert_non_null(bias);
    assert_non_null(w);
    assert_non_null(p);
    assert_non_null(c);
    assert_non_null(meta);
    assert_non_null(sh);
    /* words 2.5, pairs 0.7, n-grams, meta and shapes 1, bias 3 */
    assert_float_equal(w->val / c->val, 2.5, 1e-5);
    assert_float_equal(p->val / c->val, 0.7, 1e-5);
    assert_float_equal(meta->val / c->val, 1.0, 1e-6);
    assert_float_equal(sh->val / c->val, 1.0, 1e-6);
    assert_float_equal(bias->val / c->val, 3.0, 1e-5);
    assert_true(fabs(l2(&m.fv) - 1.0) < 1e-5);
    msg_free(&m);
}

static double l2(const sg_featvec *fv) {
    double s = 0;
    for (size_t i = 0; i < fv->n; i++) s += (double)fv->v[i].val * fv->v[i].val;
    return sqrt(s);
}

static void vectors_have_unit_norm_and_no_repeated_index(void **state) {
    msg m = extract("ha ha ha ha ha ha, free free free");
    assert_true(fabs(l2(&m.fv) - 1.0) < 1e-5);
    for (size_t i = 0; i < m.fv.n; i++)
        for (size_t j = i + 1; j < m.fv.n; j++)
            assert_int_not_equal(m.fv.v[i].idx, m.fv.v[j].idx);
    assert_int_equal(count_kind(&m, SG_FEAT_WORD), 2); /* "ha", "free" */
    const sg_feat *w = find(&m, "word \"free\""), *c = find(&m, "char n-gram \"free\"");
    assert_non_null(w);
    assert_non_null(c);
    assert_int_not_equal(w->idx, c->idx); /* kinds are hashed apart */
    for (size_t i = 0; i < m.fv.n; i++) assert_true(m.fv.v[i].idx < (1u << BITS));
    msg_free(&m);
}

static void extraction_is_deterministic_and_reuses_the_vector(void **state) {
    char *text = sms_text("test.jsonl", "sms-0003");
    msg a = extract(text);
    sg_featvec again = {0};
    assert_int_equal(sg__features(&a.n, BITS, &again), SG_OK);
    assert_int_equal(again.n, a.fv.n);
    for (size_t i = 0; i < a.fv.n; i++) {
        assert_int_equal(again.v[i].idx, a.fv.v[i].idx);
        assert_int_equal(again.v[i].off, a.fv.v[i].off);
    }
    /* Reuse with a short text: the old content is gone. */
    sg_norm s;
    assert_int_equal(sg__normalize(nc, "hi", 2, &s), SG_OK);
    assert_int_equal(sg__features(&s, BITS, &again), SG_OK);
    assert_int_equal(again.n, 4 + 2); /* bias, 3 buckets, word and 2-gram "hi" */
    /* A smaller table masks the same hashes. */
    sg_featvec small = {0};
    assert_int_equal(sg__features(&a.n, 16, &small), SG_OK);
    assert_true(small.n <= a.fv.n);
    assert_int_equal(small.v[0].idx, a.fv.v[0].idx & 0xFFFF);
    sg__featvec_free(&small);
    sg__norm_free(&s);
    sg__featvec_free(&again);
    free(text);
    msg_free(&a);
}

static void one_mebibyte_is_capped_and_unit_norm(void **state) {
    size_t n = 1u << 20;
    char *big = malloc(n + 1);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) { /* random words: worst case for n-grams */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big[i] = (x % 7 == 0) ? ' ' : (char)('a' + x % 26);
    }
    big[n] = '\0';
    msg m = extract(big);
    assert_int_equal(m.fv.n, 65536); /* FEAT_MAX distinct features */
    assert_true(fabs(l2(&m.fv) - 1.0) < 1e-4);
    assert_non_null(find(&m, "very long message"));
    free(big);
    msg_free(&m);
}

static void names_of_bad_spans_do_not_read_out_of_bounds(void **state) {
    msg m = extract("short");
    sg_feat f = {.kind = SG_FEAT_WORD, .off = 3, .len = 100};
    sg_buf b = {0};
    assert_int_equal(sg__feature_name(&m.n, &f, &b), SG_OK);
    assert_string_equal(b.p, "word \"?\"");
    sg__buf_free(&b);
    msg_free(&m);
    m = extract("Supercalifragilisticexpialidociousandevenlongerthanthat word");
    const sg_feat *w = &m.fv.v[0];
    for (size_t i = 0; i < m.fv.n; i++)
        if (m.fv.v[i].kind == SG_FEAT_WORD && m.fv.v[i].off == 0) w = &m.fv.v[i];
    assert_int_equal(sg__feature_name(&m.n, w, &b), SG_OK);
    assert_string_equal(b.p, "word \"supercalifragilisticexpialidociousandevenlongert\u2026\"");
    sg__buf_free(&b);
    msg_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(words_pairs_and_ngrams_have_exact_spans),
        cmocka_unit_test(whitespace_runs_are_one_boundary),
        cmocka_unit_test(apostrophes_inside_words_stay),
        cmocka_unit_test(real_sms_spam_has_phone_currency_and_prize_words),
        cmocka_unit_test(short_codes_and_amounts_in_real_spam),
        cmocka_unit_test(phone_number_rules),
        cmocka_unit_test(currency_rules),
        cmocka_unit_test(link_rules),
        cmocka_unit_test(russian_prize_stems_count),
        cmocka_unit_test(obfuscation_meta_features),
        cmocka_unit_test(cjk_words_are_character_bigrams),
        cmocka_unit_test(empty_text_has_bias_and_bucket_features_only),
        cmocka_unit_test(real_spam_numbers_have_shapes_and_lengths),
        cmocka_unit_test(sms_spellings_also_yield_their_parts),
        cmocka_unit_test(many_digit_parts_are_all_kept),
        cmocka_unit_test(kinds_are_weighted_before_the_unit_norm),
        cmocka_unit_test(vectors_have_unit_norm_and_no_repeated_index),
        cmocka_unit_test(extraction_is_deterministic_and_reuses_the_vector),
        cmocka_unit_test(one_mebibyte_is_capped_and_unit_norm),
        cmocka_unit_test(names_of_bad_spans_do_not_read_out_of_bounds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
