/*
 * content.c -- the content detector: the linear content model's (model.c:
 * an SVM with a naive-Bayes prior, online logistic steps for reports)
 * P(spim) for the message text (features.c), as the CONTENT signal,
 * plus its strongest features as readable reasons.  It learns from labeled
 * messages (training, user reports).  It keeps no state of its own; its
 * check reads no store, so it runs as the row's prepare hook.
 */
#include "sg_internal.h"

#include <math.h>
#include <string.h>

#define TOP_FEATURES 3

/* The largest float not above d: q <= float_below(d) for a float q means
 * (double)q <= d. */
static float float_below(double d) {
    float f = (float)d;
    return (double)f > d ? nextafterf(f, -INFINITY) : f;
}

/* Indices (into c->fv) of the TOP_FEATURES features that push hardest in
 * the direction of the verdict (toward spim when p >= 0.5, else ham);
 * of equal contributions the first stays first; the bias is never named.
 * A feature's contribution w * val * dir is first tested in float (exact:
 * dir only flips the sign) against a float at most the current bar, so
 * that the loop over all features is a load, a multiply and a branch that
 * is seldom taken. */
static size_t top_features(const sg_ctx *c, size_t top[TOP_FEATURES],
                           double contrib[TOP_FEATURES]) {
    const float *w = c->eng->model.w;
    double dir = c->content_p >= 0.5 ? 1.0 : -1.0, strength[TOP_FEATURES];
    float sign = (float)dir;
    double bar = 0.05; /* to beat: 0.05 (too weak to be worth naming),
                          then the third strongest */
    float pre = float_below(bar);
    size_t k = 0;
    for (size_t i = 0; i < c->fv.n; i++) {
        const sg_feat *f = &c->fv.v[i];
        if (w[f->idx] * f->val * sign <= pre) continue;
        double x = w[f->idx] * f->val * dir;
        if (x <= bar || f->kind == SG_FEAT_BIAS) continue;
        size_t pos = k < TOP_FEATURES ? k++ : TOP_FEATURES - 1;
        for (; pos > 0 && strength[pos - 1] < x; pos--) {
            strength[pos] = strength[pos - 1];
            top[pos] = top[pos - 1];
        }
        strength[pos] = x;
        top[pos] = i;
        if (k == TOP_FEATURES) {
            bar = strength[TOP_FEATURES - 1];
            pre = float_below(bar);
        }
    }
    for (size_t i = 0; i < k; i++) contrib[i] = strength[i] * dir;
    return k;
}

static int content_check(void *state, sg_ctx *c) {
    int rc = sg__ctx_signal(c, "CONTENT", c->content_margin, 0,
                            "text classifier: P(spim) = %.3f", c->content_p);
    if (rc) return rc;
    size_t top[TOP_FEATURES];
    double contrib[TOP_FEATURES];
    size_t k = top_features(c, top, contrib);
    sg_buf name = {0}; /* one buffer for the names: one allocation */
    for (size_t i = 0; i < k && !rc; i++) {
        name.len = 0;
        if (name.p) name.p[0] = '\0';
        rc = sg__feature_name(&c->norm, &c->fv.v[top[i]], &name);
        if (!rc)
            rc = sg__ctx_explain(c, contrib[i] > 0 ? "CONTENT_SPIM" : "CONTENT_HAM",
                                 contrib[i], "%s", name.p ? name.p : "?");
    }
    sg__buf_free(&name);
    return rc;
}

static int content_learn(void *state, sg_ctx *c, int is_spam) {
    sg__model_update(&c->eng->model, &c->fv, is_spam);
    return SG_OK;
}

const sg_detector sg__detector_content = {
    .name = "content",
    .init = NULL,
    .prepare = content_check, /* reads the model only: outside the lock */
    .check = NULL,
    .learn = content_learn,
    .free = NULL,
};
