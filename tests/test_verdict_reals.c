/*
 * test_verdict_reals.c -- the verdict JSON's reals (verdict.c) are the
 * bytes jansson writes for the value rounded to 4 decimals with
 * JSON_REAL_PRECISION(6), also on the fast path that prints |x| < 99.99
 * from the rounded integer without printf: every 4-decimal value in
 * [-100, 100] (step 0.0007, plus the ends of the fast range and halfway
 * cases), and reals between; and sg__verdict_json_append writes the same
 * bytes as sg_verdict_to_json, appends verdict after verdict into one
 * buffer, and leaves the buffer as it was when a verdict cannot be written.
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

static double round4(double x) {
    return (double)(long long)(x * 10000.0 + (x < 0 ? -0.5 : 0.5)) / 10000.0;
}

/* jansson's text of round4(x). */
static void jansson_real(double x, char *out, size_t cap) {
    json_t *r = json_real(round4(x));
    char *s = json_dumps(r, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
    assert_non_null(s);
    snprintf(out, cap, "%s", s);
    free(s);
    json_decref(r);
}

static sg_verdict *bare(double score, double content) {
    sg_verdict *v = sg__calloc(1, sizeof *v);
    v->score = score;
    v->content_score = content;
    return v;
}

/* The verdict JSON of (x, -x) carries jansson's texts of both. */
static void check_real(double x) {
    char a[64], b[64], want[512];
    jansson_real(x, a, sizeof a);
    jansson_real(-x, b, sizeof b);
    snprintf(want, sizeof want, "{\"id\":null,\"action\":\"deliver\",\"score\":%s,"
             "\"content_score\":%s,\"labels\":[],\"reasons\":[],\"campaign\":null,"
             "\"account_action\":\"none\"}", a, b);
    sg_verdict *v = bare(x, -x);
    char *js = sg_verdict_to_json(v);
    assert_non_null(js);
    if (strcmp(js, want)) fail_msg("x = %.17g: %s, jansson %s", x, js, want);
    free(js);
    sg_verdict_free(v);
}

static void reals_are_written_as_jansson_writes_them(void **state) {
    (void)state;
    for (long k = -1000000; k <= 1000000; k += 7) check_real(k / 10000.0);
    for (long k = -1000000; k <= 1000000; k += 7919) /* between, and halfway */
        check_real(k / 10000.0 + 0.00005), check_real(k / 10000.0 + 0.0000499),
            check_real(k / 10000.0 + 0.0000123456789);
    static const double edge[] = {0.0, -0.0, 99.99, -99.99, 99.9899999, -99.9899999,
                                  99.98995, 99.99005, 100.0, -100.0, 0.00005, -0.00005,
                                  0.0000499999, -0.0000499999, 1e-9, -1e-9, 9.99995,
                                  12.34565, -12.34565, 0.0001, 1234567.0, 3.14159265};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) check_real(edge[i]);
    srand(7);
    for (int i = 0; i < 200000; i++)
        check_real(((double)rand() / RAND_MAX - 0.5) * 250.0);
}

static void append_writes_verdict_after_verdict(void **state) {
    (void)state;
    sg_verdict *v1 = bare(0.73, 0.41), *v2 = bare(-3.25, 0.0);
    v2->id = sg__strdup("m\"2");
    v2->campaign = sg__strdup("c-9");
    v2->labels = SG_LABEL_PHISHING;
    v2->reasons = sg__calloc(1, sizeof *v2->reasons);
    v2->nreasons = 1;
    v2->reasons[0] = (sg_reason){"LOOKALIKE_DOMAIN", 7.0, sg__strdup("paypa1.com \xe2\x80\x94")};
    char *j1 = sg_verdict_to_json(v1), *j2 = sg_verdict_to_json(v2);
    assert_non_null(j1);
    assert_non_null(j2);
    sg_buf b = {0};
    assert_int_equal(sg__buf_append(&b, "[", 1), SG_OK);
    assert_int_equal(sg__verdict_json_append(&b, v1), SG_OK);
    assert_int_equal(sg__buf_append(&b, ",", 1), SG_OK);
    assert_int_equal(sg__verdict_json_append(&b, v2), SG_OK);
    char want[2048];
    snprintf(want, sizeof want, "[%s,%s", j1, j2);
    assert_string_equal(b.p, want);
    assert_int_equal(b.len, strlen(want));
    /* a weight that JSON cannot hold: SG_EINVAL, the buffer unchanged */
    v2->reasons[0].weight = NAN;
    assert_int_equal(sg__verdict_json_append(&b, v2), SG_EINVAL);
    assert_string_equal(b.p, want);
    assert_int_equal(b.len, strlen(want));
    assert_int_equal(sg__verdict_json_append(&b, NULL), SG_EINVAL);
    assert_int_equal(sg__verdict_json_append(NULL, v1), SG_EINVAL);
    sg__buf_free(&b);
    free(j1);
    free(j2);
    sg_verdict_free(v1);
    sg_verdict_free(v2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reals_are_written_as_jansson_writes_them),
        cmocka_unit_test(append_writes_verdict_after_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
