/*
 * metrics.h -- evaluation measures used by `spimguard eval`, the tests and
 * the benchmarks (metrics.c): accuracy, spam caught, ham blocked, MCC,
 * ROC AUC, (1-ROCA)% as in the TREC spam track (Cormack & Lynam 2005), and
 * spam caught at a bound on ham blocked.
 */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stddef.h>
#include <stdio.h>

typedef struct sg_metrics {
    size_t messages, spam, ham;
    double threshold;          /* score at or above which a message is spam */
    double accuracy_pct;       /* share of messages classified right, % */
    double spam_caught_pct;    /* true positive rate at threshold, % */
    double ham_blocked_pct;    /* false positive rate at threshold, % */
    double mcc;                /* Matthews correlation coefficient, -1..1 */
    double auc;                /* ROC AUC, 0..1 (ties count one half) */
    double one_minus_roca_pct; /* 100 * (1 - AUC) */
    double sc_at_hb_0_1_pct;   /* best spam caught % with ham blocked <= 0.1 % */
    double sc_at_hb_1_pct;     /* best spam caught % with ham blocked <= 1 % */
} sg_metrics;

/** Compute every measure for n scored messages.
 *  @param scores     n scores, higher = more spam-like (any real scale).
 *  @param is_spam    n truth labels, 1 spam / 0 ham.
 *  @param threshold  decision threshold on the score for the rates at a
 *                    point (accuracy, spam caught, ham blocked, MCC).
 *  @return 0, or SG_EINVAL when n == 0 or a class is empty, SG_ENOMEM. */
int sg__metrics_compute(const double *scores, const int *is_spam, size_t n,
                        double threshold, sg_metrics *out);

/** Write the ROC curve (ham blocked % on x, spam caught % on y, log-scaled
 *  x from 0.01 % as in TREC plots) as a self-contained SVG file.
 *  @return 0, SG_EIO, SG_EINVAL, SG_ENOMEM. */
int sg__metrics_roc_svg(const double *scores, const int *is_spam, size_t n,
                        const char *title, const char *path);

#endif
