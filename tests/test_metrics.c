/*
 * test_metrics.c -- the evaluation measures on small cases whose answers
 * are known by hand: ROC AUC with ties, (1-ROCA)%, spam caught at a bound on
 * ham blocked, MCC, and the SVG writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "sg_internal.h"

static void perfect_separation_has_auc_one(void **state) {
    double s[] = {0.9, 0.8, 0.2, 0.1};
    int y[] = {1, 1, 0, 0};
    sg_metrics m;
    assert_int_equal(sg__metrics_compute(s, y, 4, 0.5, &m), 0);
    assert_float_equal(m.auc, 1.0, 1e-12);
    assert_float_equal(m.one_minus_roca_pct, 0.0, 1e-9);
    assert_float_equal(m.accuracy_pct, 100.0, 1e-9);
    assert_float_equal(m.mcc, 1.0, 1e-12);
    assert_float_equal(m.sc_at_hb_0_1_pct, 100.0, 1e-9);
}

static void one_inversion_out_of_four_pairs_gives_three_quarters(void **state) {
    /* spam {0.9, 0.4}, ham {0.6, 0.1}: pairs (s>h): 0.9>0.6 0.9>0.1 0.4>0.1, 0.4<0.6 */
    double s[] = {0.9, 0.4, 0.6, 0.1};
    int y[] = {1, 1, 0, 0};
    sg_metrics m;
    assert_int_equal(sg__metrics_compute(s, y, 4, 0.5, &m), 0);
    assert_float_equal(m.auc, 0.75, 1e-12);
    assert_float_equal(m.one_minus_roca_pct, 25.0, 1e-9);
    assert_float_equal(m.spam_caught_pct, 50.0, 1e-9);
    assert_float_equal(m.ham_blocked_pct, 50.0, 1e-9);
    assert_float_equal(m.mcc, 0.0, 1e-12);
    /* at 0 % ham blocked only the 0.9 spam is caught */
    assert_float_equal(m.sc_at_hb_0_1_pct, 50.0, 1e-9);
}

static void tied_scores_count_one_half(void **state) {
    double s[] = {0.5, 0.5};
    int y[] = {1, 0};
    sg_metrics m;
    assert_int_equal(sg__metrics_compute(s, y, 2, 0.5, &m), 0);
    assert_float_equal(m.auc, 0.5, 1e-12);
    assert_float_equal(m.sc_at_hb_1_pct, 0.0, 1e-12);
}

static void one_class_only_is_an_error(void **state) {
    double s[] = {0.5, 0.7};
    int y[] = {1, 1};
    sg_metrics m;
    assert_int_equal(sg__metrics_compute(s, y, 2, 0.5, &m), SG_EINVAL);
}

static void roc_svg_is_written(void **state) {
    double s[] = {0.9, 0.4, 0.6, 0.1};
    int y[] = {1, 1, 0, 0};
    char path[] = "/tmp/sg_roc_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(sg__metrics_roc_svg(s, y, 4, "t", path), 0);
    FILE *f = fopen(path, "r");
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    remove(path);
    assert_non_null(strstr(buf, "<svg"));
    assert_non_null(strstr(buf, "ROC AUC 0.7500"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(perfect_separation_has_auc_one),
        cmocka_unit_test(one_inversion_out_of_four_pairs_gives_three_quarters),
        cmocka_unit_test(tied_scores_count_one_half),
        cmocka_unit_test(one_class_only_is_an_error),
        cmocka_unit_test(roc_svg_is_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
