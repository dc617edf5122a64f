/*
 * test_check_split.c -- sg_check in two phases (sg__check_prepare outside
 * the engine lock, sg__check_judge under it, sg__group_judge in a store
 * group) gives the same verdicts, byte for byte, as sg_check: on the demo
 * stream (lures, campaigns, spim) followed by the SMS test split sent among
 * 40 accounts (bulk, throttles), with messages prepared ahead of the
 * judging of earlier ones and on two threads at once, as the daemon does;
 * on the memory store and on LMDB in groups.  Failures of the prepare
 * phase are reported by the judge as sg_check reports them.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "group.h"
#include "jsonl_corpus.h"
#include "sg_internal.h"

#define DEMO SG_TEST_SOURCE "/data/demo/messages.jsonl"
#define TRAIN SG_TEST_SOURCE "/data/corpus/sms_spam_train.jsonl"
#define TEST SG_TEST_SHARED "/sms_spam_collection/test.jsonl"
#define BLOCK 16 /* messages prepared before the first of them is judged */

static corpus stream, train;
static char model_path[] = "/tmp/sg_split_model.XXXXXX";

/* The demo stream, then the SMS test texts from 40 accounts to 40, one
 * every 20 s after the demo's last message, every third to a contact. */
static void build_stream(void) {
    corpus_add(&stream, DEMO, 0);
    size_t demo = stream.n;
    int64_t ts = 1767300000000;
    corpus_add(&stream, TEST, SG_PARSE_LABELED); /* texts: no from / to */
    for (size_t i = demo; i < stream.n; i++) {
        sg_message *m = stream.m[i], *r;
        char from[32], to[32];
        uint32_t h = (uint32_t)(i * 2654435761u);
        snprintf(from, sizeof from, "acct%u@split", h % 40);
        snprintf(to, sizeof to, "acct%u@split", (h >> 12) % 40);
        assert_int_equal(sg_message_new(from, to, sg_message_text(m), &r), SG_OK);
        sg_message_set_id(r, sg_message_id(m));
        sg_message_set_ts(r, ts += 20000);
        sg_message_set_contact(r, i % 3 == 0);
        sg_message_free(m);
        stream.m[i] = r;
    }
}

static int setup(void **state) {
    (void)state;
    build_stream();
    corpus_add(&train, TRAIN, SG_PARSE_LABELED);
    sg_engine *e;
    assert_int_equal(sg_engine_new(NULL, &e), SG_OK);
    assert_int_equal(sg_train(e, train.m, train.n, 5), SG_OK);
    int fd = mkstemp(model_path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sg_engine_save_model(e, model_path), SG_OK);
    sg_engine_free(e);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    corpus_free(&stream);
    corpus_free(&train);
    unlink(model_path);
    return 0;
}

static sg_engine *engine(const char *store_uri) {
    sg_options o = {.store_uri = store_uri};
    sg_engine *e;
    assert_int_equal(sg_engine_new(&o, &e), SG_OK);
    assert_int_equal(sg_engine_load_model(e, model_path), SG_OK);
    return e;
}

/* The verdicts of sg_check, one message after the other, as JSON. */
static char **reference(const char *store_uri) {
    sg_engine *e = engine(store_uri);
    char **out = calloc(stream.n, sizeof *out);
    for (size_t i = 0; i < stream.n; i++) {
        sg_verdict *v;
        assert_int_equal(sg_check(e, stream.m[i], &v), SG_OK);
        out[i] = sg_verdict_to_json(v);
        sg_verdict_free(v);
    }
    sg_engine_free(e);
    return out;
}

typedef struct prep_job {
    sg_engine *eng;
    sg_ctx *c;
    size_t from, to;     /* stream indices */
    size_t base;         /* c[i - base] */
} prep_job;

static void *prep_run(void *arg) {
    prep_job *j = arg;
    sg_normctx *nc;
    if (sg__normctx_new(&nc)) return (void *)1;
    for (size_t i = j->from; i < j->to; i++)
        if (sg__check_prepare(j->eng, stream.m[i], &j->c[i - j->base], nc)) return (void *)1;
    sg__normctx_free(nc);
    return NULL;
}

/* Prepare stream[from..to) into c on two threads at once. */
static void prepare_block(sg_engine *e, sg_ctx *c, size_t from, size_t to) {
    size_t mid = from + (to - from) / 2;
    prep_job a = {e, c, from, mid, from}, b = {e, c, mid, to, from};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, prep_run, &b), 0);
    void *ra = prep_run(&a), *rb;
    pthread_join(t, &rb);
    assert_null(ra);
    assert_null(rb);
}

/* The same stream in blocks: prepared ahead on two threads, then judged
 * in order, one store group per block when grouped. */
static void split_matches(const char *store_uri, bool grouped, char **ref) {
    sg_engine *e = engine(store_uri);
    unsigned labels = 0;
    size_t campaigns = 0, throttled = 0;
    for (size_t from = 0; from < stream.n; from += BLOCK) {
        size_t to = from + BLOCK < stream.n ? from + BLOCK : stream.n;
        sg_ctx c[BLOCK];
        sg_verdict *v[BLOCK] = {0};
        prepare_block(e, c, from, to);
        sg_check_group g;
        if (grouped) assert_int_equal(sg__group_begin(&g, e), SG_OK);
        for (size_t i = from; i < to; i++)
            assert_int_equal(grouped ? sg__group_judge(&g, &c[i - from], &v[i - from])
                                     : sg__check_judge(e, &c[i - from], &v[i - from]),
                             SG_OK);
        if (grouped) assert_int_equal(sg__group_commit(&g), SG_OK);
        for (size_t i = from; i < to; i++) {
            char *js = sg_verdict_to_json(v[i - from]);
            if (strcmp(js, ref[i]))
                fail_msg("message %zu (%s):\n  sg_check: %s\n  split:    %s", i,
                         sg_message_id(stream.m[i]), ref[i], js);
            labels |= sg_verdict_labels(v[i - from]);
            campaigns += sg_verdict_campaign(v[i - from]) != NULL;
            throttled += sg_verdict_account_action(v[i - from]) != SG_ACCOUNT_NONE;
            free(js);
            sg_verdict_free(v[i - from]);
            sg__ctx_free(&c[i - from]);
        }
    }
    /* the stream exercises every stage the judge phase owns */
    assert_true(labels & SG_LABEL_PHISHING);
    assert_true(labels & SG_LABEL_LOOKALIKE_URL);
    assert_true(labels & SG_LABEL_SPIM);
    assert_true(labels & SG_LABEL_BULK);
    assert_true(campaigns > 0);
    assert_true(throttled > 0);
    sg_engine_free(e);
}

static void free_ref(char **ref) {
    for (size_t i = 0; i < stream.n; i++) free(ref[i]);
    free(ref);
}

static void split_check_gives_the_verdicts_of_sg_check_on_the_memory_store(void **state) {
    (void)state;
    char **ref = reference(NULL);
    split_matches(NULL, false, ref);
    free_ref(ref);
}

static void grouped_split_check_gives_the_verdicts_of_sg_check_on_lmdb(void **state) {
    (void)state;
    char dir[] = "/tmp/sg_split_lmdb.XXXXXX", uri[128], cmd[160];
    assert_non_null(mkdtemp(dir));
    snprintf(uri, sizeof uri, "lmdb:%s/ref", dir);
    char **ref = reference(uri);
    snprintf(uri, sizeof uri, "lmdb:%s/split", dir);
    split_matches(uri, true, ref);
    free_ref(ref);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A message the prepare phase refuses gets sg_check's error and detail. */
static void prepare_failures_are_answered_by_the_judge_like_sg_check(void **state) {
    (void)state;
    sg_options o = {.max_text_bytes = 64};
    sg_engine *a, *b;
    assert_int_equal(sg_engine_new(&o, &a), SG_OK);
    assert_int_equal(sg_engine_new(&o, &b), SG_OK);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sg_message *m;
    assert_int_equal(sg_message_new("ann@x", "bob@x", big, &m), SG_OK);
    sg_verdict *v = (sg_verdict *)1;
    assert_int_equal(sg_check(a, m, &v), SG_ETOOBIG);
    assert_null(v);
    sg_ctx c;
    assert_int_equal(sg__check_prepare(b, m, &c, NULL), SG_ETOOBIG);
    v = (sg_verdict *)1;
    assert_int_equal(sg__check_judge(b, &c, &v), SG_ETOOBIG);
    assert_null(v);
    assert_string_equal(sg_engine_errmsg(b), sg_engine_errmsg(a));
    assert_non_null(strstr(sg_engine_errmsg(b), "199 bytes, over the 64-byte limit"));
    sg__ctx_free(&c);
    sg_message_free(m);
    sg_engine_free(a);
    sg_engine_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_check_gives_the_verdicts_of_sg_check_on_the_memory_store),
        cmocka_unit_test(grouped_split_check_gives_the_verdicts_of_sg_check_on_lmdb),
        cmocka_unit_test(prepare_failures_are_answered_by_the_judge_like_sg_check),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
