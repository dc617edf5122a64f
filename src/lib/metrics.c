/*
 * metrics.c -- evaluation measures over scored, labeled messages (see
 * metrics.h).  Pure computation; it reads no message and no model.
 */
#include "metrics.h"
#include "sg_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct scored {
    double s;
    int y;
} scored;

static int by_score_desc(const void *a, const void *b) {
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

/* The ROC curve as points (fpr, tpr), one per distinct score, from the
 * strictest threshold down.  Returns the number of points. */
static size_t roc_points(const scored *v, size_t n, size_t spam, size_t ham,
                         double *fpr, double *tpr) {
    size_t tp = 0, fp = 0, k = 0;
    fpr[k] = 0; tpr[k] = 0; k++;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        for (; j < n && v[j].s == v[i].s; j++) {
            if (v[j].y) tp++;
            else fp++;
        }
        fpr[k] = (double)fp / ham;
        tpr[k] = (double)tp / spam;
        k++;
        i = j;
    }
    return k;
}

static double auc_of(const double *fpr, const double *tpr, size_t k) {
    double a = 0; /* trapezoids: ties count one half */
    for (size_t i = 1; i < k; i++) a += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2;
    return a;
}

static double tpr_at_fpr(const double *fpr, const double *tpr, size_t k, double max_fpr) {
    double best = 0;
    for (size_t i = 0; i < k; i++)
        if (fpr[i] <= max_fpr + 1e-12 && tpr[i] > best) best = tpr[i];
    return best;
}

static void point_rates(const scored *v, size_t n, double thr, sg_metrics *m) {
    double tp = 0, fp = 0, tn = 0, fn = 0;
    for (size_t i = 0; i < n; i++) {
        int pos = v[i].s >= thr;
        if (v[i].y) pos ? tp++ : fn++;
        else pos ? fp++ : tn++;
    }
    m->accuracy_pct = 100.0 * (tp + tn) / n;
    m->spam_caught_pct = 100.0 * tp / (tp + fn);
    m->ham_blocked_pct = 100.0 * fp / (fp + tn);
    double d = sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
    m->mcc = d > 0 ? (tp * tn - fp * fn) / d : 0;
}

/* Sorted copy plus ROC points; the caller frees the three arrays. */
static int build_roc(const double *scores, const int *is_spam, size_t n,
                     scored **vo, double **fo, double **to, size_t *k,
                     size_t *spam) {
    scored *v = sg__malloc(n * sizeof *v);
    double *fpr = sg__malloc((n + 1) * sizeof *fpr), *tpr = sg__malloc((n + 1) * sizeof *tpr);
    if (!v || !fpr || !tpr) { sg__free(v); sg__free(fpr); sg__free(tpr); return SG_ENOMEM; }
    *spam = 0;
    for (size_t i = 0; i < n; i++) {
        v[i].s = scores[i];
        v[i].y = is_spam[i] ? 1 : 0;
        *spam += v[i].y;
    }
    if (*spam == 0 || *spam == n) { sg__free(v); sg__free(fpr); sg__free(tpr); return SG_EINVAL; }
    qsort(v, n, sizeof *v, by_score_desc);
    *k = roc_points(v, n, *spam, n - *spam, fpr, tpr);
    *vo = v; *fo = fpr; *to = tpr;
    return SG_OK;
}

int sg__metrics_compute(const double *scores, const int *is_spam, size_t n,
                        double threshold, sg_metrics *m) {
    if (!n || !scores || !is_spam || !m) return SG_EINVAL;
    scored *v; double *fpr, *tpr; size_t k, spam;
    int rc = build_roc(scores, is_spam, n, &v, &fpr, &tpr, &k, &spam);
    if (rc) return rc;
    memset(m, 0, sizeof *m);
    m->messages = n; m->spam = spam; m->ham = n - spam; m->threshold = threshold;
    point_rates(v, n, threshold, m);
    m->auc = auc_of(fpr, tpr, k);
    m->one_minus_roca_pct = 100.0 * (1.0 - m->auc);
    m->sc_at_hb_0_1_pct = 100.0 * tpr_at_fpr(fpr, tpr, k, 0.001);
    m->sc_at_hb_1_pct = 100.0 * tpr_at_fpr(fpr, tpr, k, 0.01);
    sg__free(v); sg__free(fpr); sg__free(tpr);
    return SG_OK;
}

/* x position of a false positive rate on a log axis 0.01 %..100 %. */
static double svg_x(double fpr) {
    double pct = fpr * 100.0;
    if (pct < 0.01) pct = 0.01;
    return 60 + (log10(pct) + 2) / 4 * 500;
}

static void svg_axes(FILE *f, const char *title) {
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='600' height='420' "
               "font-family='sans-serif' font-size='12'>\n<rect width='600' height='420' fill='white'/>\n");
    fprintf(f, "<text x='300' y='18' text-anchor='middle' font-size='14'>%s</text>\n", title);
    fprintf(f, "<rect x='60' y='30' width='500' height='340' fill='none' stroke='black'/>\n");
    const char *xt[] = {"0.01", "0.1", "1", "10", "100"};
    for (int i = 0; i <= 4; i++) {
        double x = 60 + i * 125;
        fprintf(f, "<line x1='%.1f' y1='30' x2='%.1f' y2='370' stroke='#ddd'/>"
                   "<text x='%.1f' y='386' text-anchor='middle'>%s</text>\n", x, x, x, xt[i]);
    }
    for (int i = 0; i <= 5; i++) {
        double y = 370 - i * 68;
        fprintf(f, "<line x1='60' y1='%.1f' x2='560' y2='%.1f' stroke='#ddd'/>"
                   "<text x='54' y='%.1f' text-anchor='end'>%d</text>\n", y, y, y + 4, i * 20);
    }
    fprintf(f, "<text x='310' y='408' text-anchor='middle'>ham blocked %% (log scale)</text>\n"
               "<text x='16' y='200' transform='rotate(-90 16 200)' text-anchor='middle'>spam caught %%</text>\n");
}

int sg__metrics_roc_svg(const double *scores, const int *is_spam, size_t n,
                        const char *title, const char *path) {
    if (!n || !path) return SG_EINVAL;
    scored *v; double *fpr, *tpr; size_t k, spam;
    int rc = build_roc(scores, is_spam, n, &v, &fpr, &tpr, &k, &spam);
    if (rc) return rc;
    FILE *f = fopen(path, "w");
    if (f) {
        svg_axes(f, title ? title : "ROC");
        fprintf(f, "<polyline fill='none' stroke='#c0392b' stroke-width='2' points='");
        for (size_t i = 0; i < k; i++)
            fprintf(f, "%.1f,%.1f ", svg_x(fpr[i]), 370 - tpr[i] * 340);
        fprintf(f, "'/>\n<text x='540' y='360' text-anchor='end'>ROC AUC %.4f</text>\n</svg>\n",
                auc_of(fpr, tpr, k));
        if (fclose(f)) rc = SG_EIO;
    } else {
        rc = SG_EIO;
    }
    sg__free(v); sg__free(fpr); sg__free(tpr);
    return rc;
}
