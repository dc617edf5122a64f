/*
 * model.c -- the content classifier's weights: a linear model on hashed
 * binary features whose output is log-odds, the family that led the TREC
 * spam tracks (Goodman & Yih 2006; Cormack 2007; Sculley & Wachman 2007).
 * Batch training fits a linear SVM by dual coordinate descent, starting
 * from (regularised toward) a naive-Bayes model of the same features, and
 * scales it to log-odds; online updates (user reports) are
 * logistic-regression steps.
 * Owns the weight table, both kinds of training and the model file.
 * Feature extraction is features.c; choosing thresholds is policy.c.
 *
 * Model file (little-endian):
 *   magic "SGMODEL\0" | u32 version (1) | u32 hash_bits | u64 updates |
 *   u64 nonzero count | nonzero x { u32 index, f32 weight } |
 *   u64 XXH64 of everything before it (seed 0)
 * Only non-zero weights are stored, so a model trained on a few thousand
 * messages is a few MiB, not 4 Mi floats.
 */
#include "sg_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define MODEL_MAGIC "SGMODEL"
#define MODEL_VERSION 1u
/* Online step (sg_learn, user reports) on unit-norm vectors: a report moves
 * the message's log-odds by up to ONLINE_RATE, so five reports take an
 * unknown message from p = 0.5 to p = 0.92.  With rates 0.5..2 a stream
 * scored with immediate feedback keeps its (1-ROCA)% within 2 % of no
 * learning in 5-fold cross-validation on the training corpora
 * (docs/accuracy.md); 4 and more lower the ROC AUC. */
#define ONLINE_RATE 2.0
/* Batch training: soft-margin cost of the hinge-loss SVM.  With the
 * naive-Bayes prior, 0.7..3 gave the same cross-validated (1-ROCA)% within
 * noise; 1 gave the best leave-one-corpus-out ROC AUC (docs/accuracy.md).
 * (Regularised toward 0 instead, 3 was needed: 0.5..1 lost ROC AUC.) */
#define SVM_COST 1.0
/* The SVM puts the margin at +-1; this factor makes w . x log-odds.  Chosen
 * by cross-validated log-loss (Platt scaling with the intercept fixed at
 * 0): 6 was best or within 0.001 of best on SMS, YouTube and tg-spam. */
#define LOGIT_SCALE 6.0
/* Dual coordinate descent stops when no coordinate's projected gradient
 * exceeds this in a pass: the default of LIBLINEAR's dual solvers (Fan et
 * al., JMLR 2008).  SMS train and the default corpora stop within 10
 * passes (docs/accuracy.md). */
#define DCD_TOLERANCE 0.1

double sg__sigmoid(double x) {
    if (x > 35) return 1.0;
    if (x < -35) return 0.0;
    return 1.0 / (1.0 + exp(-x));
}

double sg__logit(double p) {
    if (p < 1e-6) p = 1e-6;
    if (p > 1 - 1e-6) p = 1 - 1e-6;
    return log(p / (1 - p));
}

int sg__model_init(sg_model *m, uint32_t hash_bits) {
    memset(m, 0, sizeof *m);
    m->w = sg__calloc_huge(((size_t)1 << hash_bits) * sizeof *m->w);
    if (!m->w) return SG_ENOMEM;
    m->hash_bits = hash_bits;
    m->rate = ONLINE_RATE;
    return SG_OK;
}

void sg__model_free(sg_model *m) {
    sg__free(m->w);
    m->w = NULL;
}

double sg__model_margin(const sg_model *m, const sg_featvec *fv) {
    double s = 0;
    for (size_t i = 0; i < fv->n; i++) s += m->w[fv->v[i].idx] * fv->v[i].val;
    return s;
}

void sg__model_update(sg_model *m, const sg_featvec *fv, int y) {
    double p = sg__sigmoid(sg__model_margin(m, fv));
    double g = m->rate * ((y ? 1.0 : 0.0) - p);
    for (size_t i = 0; i < fv->n; i++)
        m->w[fv->v[i].idx] += (float)(g * fv->v[i].val);
    m->updates++;
}

/* ---------------------------------------------------------------- batch */

/* splitmix64 (Steele, Lea & Flood 2014): a small, seedable generator. */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void shuffle(size_t *order, size_t n, uint64_t *seed) {
    for (size_t i = n; i > 1; i--) {
        size_t j = splitmix64(seed) % i, t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* Naive-Bayes log-count ratios as feature scales (Wang & Manning,
 * "Baselines and Bigrams: Simple, Good Sentiment and Topic
 * Classification", ACL 2012): r = |log((s + a)/|s| / ((h + a)/|h|))| from the
 * number of spam (s) and ham (h) messages that have the feature, blended
 * with 1 as NB_BLEND * r + (1 - NB_BLEND), so no feature is switched off.
 * Features that only one class has are stretched: the SVM then needs less
 * weight norm to use them.  NB_SMOOTHING and NB_BLEND were chosen by
 * 5-fold cross-validation on the training corpora (docs/accuracy.md). */
#define NB_SMOOTHING 0.05
#define NB_BLEND 0.3

/* The naive-Bayes prior of the SVM: per weight slot, the log ratio
 * log(P(f | spam) / P(f | ham)) of a Bernoulli model, P(f | class) =
 * (messages of the class with f + NB_PRIOR_SMOOTHING) / (messages of the
 * class + 2 NB_PRIOR_SMOOTHING), times NB_PRIOR_WEIGHT, in log-odds.  The
 * SVM is regularised toward these weights instead of toward 0, so it keeps
 * what NB knows (weight on rare words only spam has, which a margin
 * learner on separable data leaves near 0) and corrects it where the
 * training messages need: a combination of two filter families (Lynam &
 * Cormack, "On-line spam filter fusion", SIGIR 2006: combined filters beat
 * each one) that stays one linear model, so the model file keeps one
 * weight per slot.  Weight 0.05 and smoothing 0.03
 * were chosen by 5-fold cross-validation on the training corpora
 * (docs/accuracy.md). */
#define NB_PRIOR_WEIGHT 0.05
#define NB_PRIOR_SMOOTHING 0.03

/* Spam and ham message counts of every slot (two tables of 1 << hash_bits
 * floats, caller frees both, also on failure), or SG_ENOMEM. */
static int slot_counts(const sg_model *m, const sg_featvec *const *x,
                       const int *y, size_t n, float **spam, float **ham) {
    size_t size = (size_t)1 << m->hash_bits;
    *spam = sg__calloc(size, sizeof **spam);
    *ham = sg__calloc(size, sizeof **ham);
    if (!*spam || !*ham) return SG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < x[i]->n; j++) (y[i] ? *spam : *ham)[x[i]->v[j].idx] += 1;
    return SG_OK;
}

/* Turns the slot counts into the two tables training needs, in place:
 * spam[k] becomes the naive-Bayes prior weight of slot k (0 for slots
 * no message has) and ham[k] the NBSVM scale r of slot k (1 - NB_BLEND
 * for those).  ns and nh: spam and ham messages. */
static void nb_tables(const sg_model *m, float *spam, float *ham, size_t ns, size_t nh) {
    size_t size = (size_t)1 << m->hash_bits;
    double ts = 0, th = 0, a = NB_PRIOR_SMOOTHING;
    double bs = (double)ns + 2 * a, bh = (double)nh + 2 * a;
    for (size_t k = 0; k < size; k++) {
        if (spam[k] == 0 && ham[k] == 0) continue;
        ts += spam[k] + NB_SMOOTHING;
        th += ham[k] + NB_SMOOTHING;
    }
    for (size_t k = 0; k < size; k++) {
        double r = 0, nb = 0, s = spam[k], h = ham[k];
        if (s != 0 || h != 0) {
            r = fabs(log((s + NB_SMOOTHING) / ts) - log((h + NB_SMOOTHING) / th));
            nb = log((s + a) / bs) - log((h + a) / bh);
        }
        spam[k] = (float)(NB_PRIOR_WEIGHT * nb);
        ham[k] = (float)(NB_BLEND * r + (1 - NB_BLEND));
    }
}

/* What the solver works on: example i is x[i] with each value times
 * r[idx]; qii[i] is its squared norm. */
typedef struct dcd {
    sg_model *m;
    const float *r;
    double *alpha, *qii;
} dcd;

static double scaled_margin(const dcd *d, const sg_featvec *x) {
    double s = 0;
    for (size_t j = 0; j < x->n; j++) {
        uint32_t k = x->v[j].idx;
        s += (double)d->m->w[k] * x->v[j].val * d->r[k];
    }
    return s;
}

/* One coordinate step of the dual for example i (label s = +-1, dual
 * variable alpha[i] in [0, SVM_COST]); returns |projected gradient|. */
static double dcd_step(dcd *d, const sg_featvec *x, size_t i, double s) {
    double g = s * scaled_margin(d, x) - 1, a0 = d->alpha[i];
    double pg = (a0 <= 0 && g > 0) || (a0 >= SVM_COST && g < 0) ? 0 : g;
    if (pg == 0 || d->qii[i] <= 0) return 0;
    double a = a0 - g / d->qii[i];
    a = a < 0 ? 0 : a > SVM_COST ? SVM_COST : a;
    double step = (a - a0) * s;
    d->alpha[i] = a;
    for (size_t j = 0; j < x->n; j++) {
        uint32_t k = x->v[j].idx;
        d->m->w[k] += (float)(step * x->v[j].val * d->r[k]);
    }
    d->m->updates++;
    return fabs(pg);
}

/* Passes in shuffled order until no step is left or `epochs` are done. */
static void dcd_solve(dcd *d, const sg_featvec *const *x, const int *y,
                      size_t n, size_t *order, int epochs, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        double q = 0;
        for (size_t j = 0; j < x[i]->n; j++) {
            double v = (double)x[i]->v[j].val * d->r[x[i]->v[j].idx];
            q += v * v;
        }
        d->qii[i] = q;
        order[i] = i;
    }
    for (int e = 0; e < epochs; e++) {
        double worst = 0;
        shuffle(order, n, &seed);
        for (size_t k = 0; k < n; k++) {
            size_t i = order[k];
            double pg = dcd_step(d, x[i], i, y[i] ? 1.0 : -1.0);
            if (pg > worst) worst = pg;
        }
        if (worst < DCD_TOLERANCE) break;
    }
}

/* L1-loss linear SVM, min 1/2 |u - u0|^2 + C sum max(0, 1 - s_i u.x'_i)
 * on the NB-scaled examples x'_i, solved in the dual one example at a time
 * (Hsieh, Chang, Lin, Keerthi & Sundararajan, "A dual coordinate descent
 * method for large-scale linear SVM", ICML 2008).  u0 is the prior in
 * these units, u0 = w0 / (LOGIT_SCALE * r): w0 is the naive-Bayes model
 * (nb_tables) for a new model (no updates yet), else the model so far, so
 * training from a loaded model refines it.  The weights kept are
 * w = LOGIT_SCALE * r * u: log-odds on the unscaled features.  Peak
 * memory: two extra tables of 1 << hash_bits floats. */
int sg__model_train(sg_model *m, const sg_featvec *const *x, const int *y,
                    size_t n, int epochs, uint64_t seed) {
    size_t size = (size_t)1 << m->hash_bits, cap = n ? n : 1, ns = 0;
    float *nb = NULL, *r = NULL; /* the slot counts first (nb_tables) */
    dcd d = {m, NULL, sg__calloc(cap, sizeof(double)), sg__calloc(cap, sizeof(double))};
    size_t *order = sg__malloc(cap * sizeof *order);
    int rc = slot_counts(m, x, y, n, &nb, &r);
    if (rc || !d.alpha || !d.qii || !order) {
        rc = SG_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) ns += y[i] != 0;
    nb_tables(m, nb, r, ns, n - ns);
    d.r = r;
    bool fresh = m->updates == 0; /* all zero: the prior is the NB model */
    for (size_t k = 0; k < size; k++)
        m->w[k] = (float)((fresh ? nb[k] : m->w[k]) / (LOGIT_SCALE * r[k]));
    dcd_solve(&d, x, y, n, order, epochs, seed);
    for (size_t k = 0; k < size; k++) m->w[k] = (float)(m->w[k] * LOGIT_SCALE * r[k]);
out:
    sg__free(nb);
    sg__free(r);
    sg__free(d.alpha);
    sg__free(d.qii);
    sg__free(order);
    return rc;
}

/* ---------------------------------------------------------------- file */

typedef struct wfile {
    FILE *f;
    XXH64_state_t *h;
    int err;
} wfile;

static void wput(wfile *w, const void *p, size_t n) {
    if (w->err) return;
    if (fwrite(p, 1, n, w->f) != n) w->err = errno ? errno : EIO;
    XXH64_update(w->h, p, n);
}

static size_t count_nonzero(const sg_model *m) {
    size_t n = 0, size = (size_t)1 << m->hash_bits;
    for (size_t i = 0; i < size; i++) n += m->w[i] != 0.0f;
    return n;
}

static void write_body(const sg_model *m, wfile *w) {
    uint32_t ver = MODEL_VERSION, bits = m->hash_bits;
    uint64_t updates = m->updates, nz = count_nonzero(m);
    wput(w, MODEL_MAGIC, 8);
    wput(w, &ver, 4);
    wput(w, &bits, 4);
    wput(w, &updates, 8);
    wput(w, &nz, 8);
    size_t size = (size_t)1 << m->hash_bits;
    for (uint32_t i = 0; i < size; i++) {
        if (m->w[i] == 0.0f) continue;
        wput(w, &i, 4);
        wput(w, &m->w[i], 4);
    }
}

int sg__model_save(const sg_model *m, const char *path, char *err, size_t el) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    wfile w = {fopen(tmp, "wb"), XXH64_createState(), 0};
    if (!w.h) { if (w.f) fclose(w.f); return SG_ENOMEM; }
    if (!w.f) {
        snprintf(err, el, "%s: cannot create: %s", tmp, strerror(errno));
        XXH64_freeState(w.h);
        return SG_EIO;
    }
    XXH64_reset(w.h, 0);
    write_body(m, &w);
    uint64_t sum = XXH64_digest(w.h);
    if (!w.err && fwrite(&sum, 1, 8, w.f) != 8) w.err = errno ? errno : EIO;
    if (fflush(w.f) || fsync(fileno(w.f))) w.err = w.err ? w.err : errno;
    if (fclose(w.f) && !w.err) w.err = errno;
    XXH64_freeState(w.h);
    if (!w.err && rename(tmp, path) != 0) w.err = errno;
    if (w.err) {
        snprintf(err, el, "%s: cannot write: %s", path, strerror(w.err));
        unlink(tmp);
        return SG_EIO;
    }
    return SG_OK;
}

/* Read the whole file into memory (models are a few MiB at most). */
static int slurp(const char *path, unsigned char **data, size_t *len,
                 char *err, size_t el) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, el, "%s: cannot open: %s", path, strerror(errno));
        return SG_EIO;
    }
    sg_buf b = {0};
    char chunk[65536];
    size_t n;
    int rc = SG_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if ((rc = sg__buf_append(&b, chunk, n))) break;
    if (!rc && ferror(f)) {
        snprintf(err, el, "%s: read error: %s", path, strerror(errno));
        rc = SG_EIO;
    }
    fclose(f);
    if (rc) { sg__buf_free(&b); return rc; }
    *data = (unsigned char *)b.p;
    *len = b.len;
    return SG_OK;
}

static int check_header(const unsigned char *d, size_t len, const char *path,
                        uint32_t *bits, uint64_t *updates, uint64_t *nz,
                        char *err, size_t el) {
    uint32_t ver;
    if (len < 40 || memcmp(d, MODEL_MAGIC, 8) != 0) {
        snprintf(err, el, "%s: not a spimguard model file", path);
        return SG_EFORMAT;
    }
    memcpy(&ver, d + 8, 4);
    memcpy(bits, d + 12, 4);
    memcpy(updates, d + 16, 8);
    memcpy(nz, d + 24, 8);
    if (ver != MODEL_VERSION) {
        snprintf(err, el, "%s: model format version %u, this build reads %u",
                 path, ver, MODEL_VERSION);
        return SG_EVERSION;
    }
    if (*bits < 16 || *bits > 26 || *nz > ((uint64_t)1 << *bits) ||
        len != 32 + *nz * 8 + 8) {
        snprintf(err, el, "%s: model file is truncated or damaged", path);
        return SG_EFORMAT;
    }
    uint64_t sum;
    memcpy(&sum, d + len - 8, 8);
    if (XXH64(d, len - 8, 0) != sum) {
        snprintf(err, el, "%s: checksum does not match: file is damaged", path);
        return SG_ECHECKSUM;
    }
    return SG_OK;
}

int sg__model_load(sg_model *m, const char *path, char *err, size_t el) {
    unsigned char *d = NULL;
    size_t len = 0;
    uint32_t bits;
    uint64_t updates, nz;
    int rc = slurp(path, &d, &len, err, el);
    if (rc) return rc;
    if ((rc = check_header(d, len, path, &bits, &updates, &nz, err, el)))
        goto out;
    if (bits != m->hash_bits) {
        snprintf(err, el, "%s: model has 2^%u weights, engine expects 2^%u",
                 path, bits, m->hash_bits);
        rc = SG_EINVAL;
        goto out;
    }
    float *w = sg__calloc_huge(((size_t)1 << bits) * sizeof *w);
    if (!w) { rc = SG_ENOMEM; goto out; }
    for (uint64_t i = 0; i < nz; i++) {
        uint32_t idx;
        memcpy(&idx, d + 32 + i * 8, 4);
        if (idx >= (1u << bits)) {
            snprintf(err, el, "%s: weight index out of range", path);
            sg__free(w);
            rc = SG_EFORMAT;
            goto out;
        }
        memcpy(&w[idx], d + 36 + i * 8, 4);
        if (!isfinite(w[idx])) {
            snprintf(err, el, "%s: weight %u is not a finite number", path, idx);
            sg__free(w);
            rc = SG_EFORMAT;
            goto out;
        }
    }
    sg__free(m->w);
    m->w = w;
    m->updates = updates;
out:
    sg__free(d);
    return rc;
}
