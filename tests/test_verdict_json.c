/*
 * test_verdict_json.c -- the daemon's fast JSON paths give the same answers
 * as the jansson paths they replaced: sg_verdict_to_json (written directly)
 * against a jansson dump of the same verdict, on the SMS test split's real
 * verdicts and on hand-made tricky ones (quotes, controls, emoji, invalid
 * UTF-8, exponents, NaN); sg__message_from_json (a batch element, parsed
 * once) against sg_message_parse_json on the same text.
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

/* The verdict JSON as verdict.c built it before: a jansson tree, dumped. */
static json_t *real4(double x) {
    return json_real((double)(long long)(x * 10000.0 + (x < 0 ? -0.5 : 0.5)) / 10000.0);
}

static char *jansson_json(const sg_verdict *v) {
    json_t *labels = json_array(), *reasons = json_array();
    for (unsigned i = 0; i < SG_LABEL_COUNT_; i++)
        if (v->labels & (1u << i))
            json_array_append_new(labels, json_string(sg_label_name(1u << i)));
    for (size_t i = 0; i < v->nreasons; i++)
        json_array_append_new(reasons, json_pack("{s:s, s:o, s:s}", "code", v->reasons[i].code,
                                                 "weight", real4(v->reasons[i].weight),
                                                 "detail", v->reasons[i].detail));
    json_t *o = json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:s}",
                          "id", v->id ? json_string(v->id) : json_null(),
                          "action", sg_action_name(v->action),
                          "score", real4(v->score),
                          "content_score", real4(v->content_score),
                          "labels", labels, "reasons", reasons,
                          "campaign", v->campaign ? json_string(v->campaign) : json_null(),
                          "account_action", sg_account_action_name(v->account_action));
    if (!o) return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(o);
    return s;
}

static void same_as_jansson(const sg_verdict *v) {
    char *mine = sg_verdict_to_json(v), *ref = jansson_json(v);
    assert_non_null(mine);
    assert_non_null(ref);
    assert_string_equal(mine, ref);
    free(mine);
    free(ref);
}

static void real_verdicts_match_jansson(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/sms_spam_collection/test.jsonl", SG_TEST_SHARED);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s (the shared data sets, ../shared/data or SG_SHARED_DATA: see README)", path);
    sg_engine *e;
    assert_int_equal(sg_engine_new(NULL, &e), SG_OK);
    char *line = NULL;
    size_t cap = 0, n = 0, with_reasons = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0 && n < 400) {
        sg_message *m;
        if (sg_message_parse_json(line, (size_t)len, 0, SG_PARSE_LABELED, &m, NULL, 0)) continue;
        sg_verdict *v;
        assert_int_equal(sg_check(e, m, &v), SG_OK);
        same_as_jansson(v);
        with_reasons += v->nreasons > 0;
        sg_verdict_free(v);
        sg_message_free(m);
        n++;
    }
    free(line);
    fclose(f);
    sg_engine_free(e);
    assert_int_equal(n, 400);
    assert_true(with_reasons > 100); /* details with quotes, £, digits ... */
}

/* A verdict made by hand (verdict.c frees what it owns). */
static sg_verdict *made(const char *id, double score, const char *detail, double w) {
    sg_verdict *v = sg__calloc(1, sizeof *v);
    v->id = id ? sg__strdup(id) : NULL;
    v->action = SG_ACTION_WARN;
    v->score = score;
    v->content_score = 1.0 - score;
    v->labels = SG_LABEL_PHISHING | SG_LABEL_STRANGER;
    v->reasons = sg__calloc(2, sizeof *v->reasons);
    v->nreasons = 2;
    v->reasons[0] = (sg_reason){"LOOKALIKE_DOMAIN", w, sg__strdup(detail)};
    v->reasons[1] = (sg_reason){"CONTENT", -w, sg__strdup("plain")};
    v->campaign = sg__strdup("c-\"1\"");
    return v;
}

static void tricky_verdicts_match_jansson(void **state) {
    (void)state;
    static const struct { const char *id, *detail; double score, w; } cases[] = {
        {"q\"uote", "say \"hi\" \\ back\\slash / slash", 0.5, 1.25},
        {NULL, "tab\there\nnew line\r\b\f\x01\x1f end", 0.99995, -0.00004},
        {"emoji", "paypa\xd0\xb5.com \xf0\x9f\x92\xb0 \xe2\x80\x8b zero-width", 1.0, 12.0},
        {"big", "x", 1234567.0, 0.1},
        {"neg", "x", -2.5, -1234567.891},
        {"tiny", "", 0.00005, 0.00015},
        {"del", "\x7f DEL is not escaped", 0.25, 3.14159265},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sg_verdict *v = made(cases[i].id, cases[i].score, cases[i].detail, cases[i].w);
        same_as_jansson(v);
        sg_verdict_free(v);
    }
    /* exponents as jansson writes them: no '+', no leading zero */
    sg_verdict *v = made("e", 1234567.0, "x", 0.1);
    char *js = sg_verdict_to_json(v);
    assert_non_null(strstr(js, "\"score\":1.23457e6,"));
    free(js);
    sg_verdict_free(v);
}

static void invalid_utf8_in_a_detail_becomes_replacement_chars(void **state) {
    (void)state;
    /* a detail cut in the middle of "€" (E2 82 AC) and a stray byte */
    sg_verdict *v = made("cut", 0.5, "price \xe2\x82 and \xff!", 1.0);
    char *js = sg_verdict_to_json(v);
    assert_non_null(js); /* jansson refused the whole verdict */
    json_error_t jerr;
    json_t *o = json_loads(js, 0, &jerr);
    assert_non_null(o);
    const char *d = json_string_value(json_object_get(
        json_array_get(json_object_get(o, "reasons"), 0), "detail"));
    assert_string_equal(d, "price \xef\xbf\xbd\xef\xbf\xbd and \xef\xbf\xbd!");
    json_decref(o);
    free(js);
    sg_verdict_free(v);
}

static void non_finite_score_gives_no_json(void **state) {
    (void)state;
    sg_verdict *v = made("nan", NAN, "x", 1.0);
    assert_null(sg_verdict_to_json(v));
    sg_verdict_free(v);
    v = made("inf", 0.5, "x", INFINITY);
    assert_null(sg_verdict_to_json(v));
    sg_verdict_free(v);
}

/* ------------------------------------------------------------ batch element */

static void from_json_agrees_with_parse_json(void **state) {
    (void)state;
    static const char *cases[] = {
        ("{\"id\":\"m1\",\"from\":\"a@x.org\",\"to\":\"b@x.org\",\"text\":\"hi \\u00e9\","
         "\"ts\":1700000000000,\"contact\":true,\"lang\":\"en\"}"),
        "{\"from\":\"a@x.org\",\"to\":\"b@x.org\"}",                       /* no text */
        "{\"from\":\"a@x.org\",\"to\":\"\",\"text\":\"x\"}",               /* empty to */
        "{\"from\":\"a@x.org\",\"to\":\"b@x.org\",\"text\":7}",            /* wrong type */
        "{\"from\":\"a@x.org\",\"to\":\"b@x.org\",\"text\":\"a\\u0000b\"}", /* NUL */
        "{\"from\":\"a@x.org\",\"to\":\"b@x.org\",\"text\":\"x\",\"contact\":\"yes\"}",
        "[1,2]",                                                            /* not an object */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char e1[256], e2[256];
        sg_message *m1 = NULL, *m2 = NULL;
        int rc1 = sg_message_parse_json(cases[i], strlen(cases[i]), 0, 0, &m1, e1, sizeof e1);
        json_error_t jerr;
        json_t *o = json_loads(cases[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        assert_non_null(o);
        int rc2 = sg__message_from_json(o, 0, 0, &m2, e2, sizeof e2);
        json_decref(o);
        assert_int_equal(rc1, rc2);
        assert_string_equal(e1, e2);
        if (!rc1) {
            assert_string_equal(sg_message_text(m1), sg_message_text(m2));
            assert_string_equal(sg_message_from(m1), sg_message_from(m2));
            assert_int_equal(sg_message_ts(m1), sg_message_ts(m2));
            assert_string_equal(sg_message_id(m1), sg_message_id(m2));
        }
        sg_message_free(m1);
        sg_message_free(m2);
    }
    /* too big for the limit, and the limit is the caller's */
    json_t *o = json_pack("{s:s, s:s, s:s}", "from", "a@x.org", "to", "b@x.org",
                          "text", "0123456789abcdef");
    sg_message *m = NULL;
    char err[256];
    assert_int_equal(sg__message_from_json(o, 8, 0, &m, err, sizeof err), SG_ETOOBIG);
    assert_null(m);
    assert_int_equal(sg__message_from_json(o, 16, 0, &m, err, sizeof err), SG_OK);
    assert_string_equal(sg_message_text(m), "0123456789abcdef");
    sg_message_free(m);
    assert_int_equal(sg__message_from_json(NULL, 0, 0, &m, err, sizeof err), SG_EJSON);
    assert_int_equal(sg__message_from_json(o, 0, 0, NULL, err, sizeof err), SG_EINVAL);
    json_decref(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_verdicts_match_jansson),
        cmocka_unit_test(tricky_verdicts_match_jansson),
        cmocka_unit_test(invalid_utf8_in_a_detail_becomes_replacement_chars),
        cmocka_unit_test(non_finite_score_gives_no_json),
        cmocka_unit_test(from_json_agrees_with_parse_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
