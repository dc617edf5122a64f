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

/* Indices (into c->fv) of the TOP_FEATURES features that push hardest in
 * the direction of the verdict (toward spim when p >= 0.5, else ham). */
static size_t top_features(const sg_ctx *c, size_t top[TOP_FEATURES],
                           double contrib[TOP_FEATURES]) {
    const float *w = c->eng->model.w;
    double dir = c->content_p >= 0.5 ? 1.0 : -1.0, strength[TOP_FEATURES];
    size_t k = 0;
    for (size_t i = 0; i < c->fv.n; i++) {
        const sg_feat *f = &c->fv.v[i];
        if (f->kind == SG_FEAT_BIAS) continue;
        double x = w[f->idx] * f->val * dir;
        if (x <= 0.05) continue; /* too weak to be worth naming */
        size_t pos;
        if (k < TOP_FEATURES) pos = k++;
        else if (x <= strength[TOP_FEATURES - 1]) continue;
        else pos = TOP_FEATURES - 1;
        for (; pos > 0 && strength[pos - 1] < x; pos--) {
            strength[pos] = strength[pos - 1];
            top[pos] = top[pos - 1];
        }
        strength[pos] = x;
        top[pos] = i;
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
