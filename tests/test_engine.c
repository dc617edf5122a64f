/*
 * test_engine.c -- the engine end to end on real data: train on the SMS
 * Spam Collection train split, measure ROC AUC on its test split; the model
 * file round trip (identical scores), damaged model files, determinism for
 * a seed, weight on rare spam-only words, the verdict's JSON form and
 * online learning.
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
#include <unistd.h>

#include "jsonl_corpus.h"
#include "metrics.h"
#include "sg_internal.h"

#define TRAIN SG_TEST_SHARED "/sms_spam_collection/train.jsonl"
#define TEST SG_TEST_SHARED "/sms_spam_collection/test.jsonl"

static corpus load(const char *path) {
    corpus c = {0};
    corpus_add(&c, path, SG_PARSE_LABELED);
    return c;
}

static corpus train_set, test_set;

static int setup(void **state) {
    train_set = load(TRAIN);
    test_set = load(TEST);
    return 0;
}

static int teardown(void **state) {
    corpus_free(&train_set);
    corpus_free(&test_set);
    return 0;
}

static sg_engine *trained_engine(uint64_t seed) {
    sg_options o = {.seed = seed};
    sg_engine *e;
    assert_int_equal(sg_engine_new(&o, &e), SG_OK);
    assert_int_equal(sg_train(e, train_set.m, train_set.n, 10), SG_OK);
    return e;
}

static sg_metrics measure(sg_engine *e) {
    double *s = calloc(test_set.n, sizeof *s);
    int *y = calloc(test_set.n, sizeof *y);
    for (size_t i = 0; i < test_set.n; i++) {
        assert_int_equal(sg_content_score(e, test_set.m[i], &s[i]), SG_OK);
        y[i] = sg_message_label(test_set.m[i]);
    }
    sg_metrics m;
    assert_int_equal(sg__metrics_compute(s, y, test_set.n, 0.5, &m), 0);
    free(s);
    free(y);
    return m;
}

static void training_on_sms_train_reaches_auc_099_on_test(void **state) {
    sg_engine *e = trained_engine(1);
    sg_metrics m = measure(e);
    print_message("SMS test: AUC %.5f (1-ROCA)%% %.3f sc@0.1%% %.2f acc %.2f\n", m.auc,
                  m.one_minus_roca_pct, m.sc_at_hb_0_1_pct, m.accuracy_pct);
    assert_int_equal(m.messages, 1338);
    assert_true(m.auc >= 0.99);
    assert_true(m.accuracy_pct >= 97.0);
    sg_engine_free(e);
}

static void save_and_load_give_identical_scores(void **state) {
    sg_engine *a = trained_engine(1), *b;
    char path[] = "/tmp/sg_model_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(sg_engine_save_model(a, path), SG_OK);
    assert_int_equal(sg_engine_new(NULL, &b), SG_OK);
    assert_int_equal(sg_engine_load_model(b, path), SG_OK);
    for (size_t i = 0; i < 200; i++) {
        double x, y;
        sg_content_score(a, test_set.m[i], &x);
        sg_content_score(b, test_set.m[i], &y);
        assert_true(x == y);
    }
    remove(path);
    sg_engine_free(a);
    sg_engine_free(b);
}

static void same_seed_same_model_other_seed_other_model(void **state) {
    sg_engine *a = trained_engine(7), *b = trained_engine(7), *c = trained_engine(8);
    double x, y, z;
    sg_content_score(a, test_set.m[3], &x);
    sg_content_score(b, test_set.m[3], &y);
    sg_content_score(c, test_set.m[3], &z);
    assert_true(x == y);
    assert_true(x != z);
    sg_engine_free(a);
    sg_engine_free(b);
    sg_engine_free(c);
}

/* Write bytes to a temp file and try to load it as a model. */
static int load_bytes(sg_engine *e, const void *p, size_t n) {
    char path[] = "/tmp/sg_bad_XXXXXX";
    int fd = mkstemp(path);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
    int rc = sg_engine_load_model(e, path);
    remove(path);
    return rc;
}

static void damaged_model_files_are_clear_errors(void **state) {
    sg_engine *a = trained_engine(1), *e;
    char path[] = "/tmp/sg_model_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(sg_engine_save_model(a, path), SG_OK);
    FILE *f = fopen(path, "rb");
    static unsigned char buf[1 << 24];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    remove(path);
    assert_int_equal(sg_engine_new(NULL, &e), SG_OK);
    double before;
    sg_content_score(a, test_set.m[0], &before);
    assert_int_equal(load_bytes(e, "hello world, not a model at all........................", 50), SG_EFORMAT);
    assert_int_equal(load_bytes(e, buf, n / 2), SG_EFORMAT);          /* truncated */
    buf[n / 2] ^= 0x40;
    assert_int_equal(load_bytes(e, buf, n), SG_ECHECKSUM);            /* one bit flipped */
    assert_non_null(strstr(sg_engine_errmsg(e), "checksum"));
    buf[n / 2] ^= 0x40;
    buf[8] = 99;
    assert_int_equal(load_bytes(e, buf, n), SG_EVERSION);             /* future version */
    assert_int_equal(sg_engine_load_model(e, "/nonexistent/model"), SG_EIO);
    /* the failed loads kept the (empty) model: score 0.5 */
    double p;
    sg_content_score(e, test_set.m[0], &p);
    assert_float_equal(p, 0.5, 1e-9);
    sg_engine_free(a);
    sg_engine_free(e);
}

static void verdict_json_has_the_documented_shape(void **state) {
    sg_engine *e = trained_engine(1);
    sg_message *m;
    assert_int_equal(sg_message_new("spammer", "victim",
        "WINNER!! You have won a £1000 cash prize. Call 09061701461 to claim now", &m), SG_OK);
    sg_message_set_id(m, "x1");
    sg_message_set_contact(m, 0);
    sg_verdict *v;
    assert_int_equal(sg_check(e, m, &v), SG_OK);
    char *js = sg_verdict_to_json(v);
    json_error_t jerr;
    json_t *o = json_loads(js, 0, &jerr);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "x1");
    assert_true(json_real_value(json_object_get(o, "score")) > 0.9);
    const char *action = json_string_value(json_object_get(o, "action"));
    assert_true(!strcmp(action, "hold") || !strcmp(action, "drop"));
    json_t *labels = json_object_get(o, "labels");
    int spim = 0, stranger = 0;
    for (size_t i = 0; i < json_array_size(labels); i++) {
        spim |= !strcmp(json_string_value(json_array_get(labels, i)), "spim");
        stranger |= !strcmp(json_string_value(json_array_get(labels, i)), "stranger");
    }
    assert_true(spim && stranger);
    json_t *reasons = json_object_get(o, "reasons");
    assert_true(json_array_size(reasons) >= 2);
    int named = 0;
    for (size_t i = 0; i < json_array_size(reasons); i++) {
        const char *code = json_string_value(json_object_get(json_array_get(reasons, i), "code"));
        named |= !strcmp(code, "CONTENT_SPIM");
    }
    assert_true(named);
    assert_true(json_is_null(json_object_get(o, "campaign")) ||
                json_is_string(json_object_get(o, "campaign")));
    assert_non_null(json_object_get(o, "account_action"));
    json_decref(o);
    free(js);
    sg_verdict_free(v);
    sg_message_free(m);
    sg_engine_free(e);
}

/* The weight of the word feature of a one-word text. */
static double word_weight(sg_engine *e, const char *word) {
    sg_message *m;
    sg_ctx c;
    assert_int_equal(sg_message_new("a", "b", word, &m), SG_OK);
    assert_int_equal(sg__ctx_init(e, m, &c), SG_OK);
    double w = NAN;
    for (size_t i = 0; i < c.fv.n; i++)
        if (c.fv.v[i].kind == SG_FEAT_WORD) w = e->model.w[c.fv.v[i].idx];
    sg__ctx_free(&c);
    sg_message_free(m);
    assert_false(isnan(w));
    return w;
}

/* A margin learner alone leaves a word at 0 when the only spam that has
 * it is already beyond the margin through its other words; the naive-Bayes
 * prior (model.c) gives such a rare spam-only word weight, as the
 * premium-rate "chat" spams whose cue is a word like "darling" need. */
static void training_gives_weight_to_rare_spam_only_words(void **state) {
    static const char *const extra[] = {
        "{\"from\":\"a\",\"to\":\"b\",\"label\":\"spam\",\"text\":\"WINNER!! As a "
        "valued network customer you have been selected to receive a \\u00a3900 prize reward! "
        "To claim call 09061701461. Claim code KL341. Valid 12 hours only. plover\"}",
        "{\"from\":\"a\",\"to\":\"b\",\"label\":\"ham\",\"text\":\"ok lor, i'll "
        "see you at the kopitiam later then. wagtail\"}"};
    size_t n = train_set.n + 2;
    sg_message **m = calloc(n, sizeof *m);
    memcpy(m, train_set.m, train_set.n * sizeof *m);
    for (int i = 0; i < 2; i++)
        assert_int_equal(sg_message_parse_json(extra[i], strlen(extra[i]), 0, SG_PARSE_LABELED,
                                               &m[train_set.n + i], NULL, 0), SG_OK);
    sg_engine *e;
    assert_int_equal(sg_engine_new(NULL, &e), SG_OK);
    assert_int_equal(sg_train(e, m, n, 10), SG_OK);
    double spam_word = word_weight(e, "plover"), ham_word = word_weight(e, "wagtail");
    print_message("weights: \"plover\" (one spam) %.4f, \"wagtail\" (one ham) %.4f\n",
                  spam_word, ham_word);
    assert_true(spam_word > 0.01);
    assert_true(ham_word < -0.01);
    sg_message_free(m[train_set.n]);
    sg_message_free(m[train_set.n + 1]);
    free(m);
    sg_engine_free(e);
}

static void online_learning_moves_the_score_toward_the_label(void **state) {
    sg_engine *e;
    assert_int_equal(sg_engine_new(NULL, &e), SG_OK);
    sg_message *m;
    sg_message_new("a", "b", "join my crypto investment group and earn 500 usd daily", &m);
    double p0, p1;
    sg_content_score(e, m, &p0);
    for (int i = 0; i < 5; i++) assert_int_equal(sg_learn(e, m, 1), SG_OK);
    sg_content_score(e, m, &p1);
    assert_float_equal(p0, 0.5, 1e-9);
    assert_true(p1 > 0.8);
    assert_int_equal(sg_learn(e, m, 2), SG_EINVAL);
    sg_message_free(m);
    sg_engine_free(e);
}

static void limits_and_the_clock_hold_on_the_engine_path(void **state) {
    sg_engine *e;
    sg_options o = {.max_text_bytes = 16};
    assert_int_equal(sg_engine_new(&o, &e), SG_OK);
    sg_message *m;
    sg_verdict *v = NULL;
    sg_message_new("a", "b", "this text is longer than sixteen bytes", &m);
    assert_int_equal(sg_check(e, m, &v), SG_ETOOBIG);
    assert_null(v);
    sg_message_free(m);
    /* scoring without judging does not move the engine's clock */
    sg_message_new("a", "b", "short", &m);
    assert_int_equal(sg_message_set_ts(m, 4000000000000LL), SG_OK);
    assert_int_equal(sg_message_set_ts(m, -1), SG_EINVAL);
    double p;
    assert_int_equal(sg_content_score(e, m, &p), SG_OK);
    assert_int_equal(e->clock_ms, 0);
    assert_int_equal(sg_check(e, m, &v), SG_OK);
    assert_int_equal(e->clock_ms, 4000000000000LL);
    sg_verdict_free(v);
    sg_message_free(m);
    sg_engine_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(training_on_sms_train_reaches_auc_099_on_test),
        cmocka_unit_test(save_and_load_give_identical_scores),
        cmocka_unit_test(same_seed_same_model_other_seed_other_model),
        cmocka_unit_test(damaged_model_files_are_clear_errors),
        cmocka_unit_test(verdict_json_has_the_documented_shape),
        cmocka_unit_test(training_gives_weight_to_rare_spam_only_words),
        cmocka_unit_test(online_learning_moves_the_score_toward_the_label),
        cmocka_unit_test(limits_and_the_clock_hold_on_the_engine_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
