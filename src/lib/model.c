/*
 * model.c -- the content classifier's weights: online logistic regression
 * on hashed binary features, the family that led the TREC spam tracks
 * (Goodman & Yih 2006; Cormack 2007; Sculley & Wachman 2007).  Owns the
 * weight table, the gradient step and the model file.  Feature extraction
 * is features.c; choosing thresholds is policy.c.
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
/* Learning rate for unit-norm feature vectors; 0.002 is what Cormack (2007)
 * used for binary features without normalisation; with L2-normalised
 * vectors a larger step converges in a few epochs (tuned on the SMS train
 * split only, by 5-fold cross-validation). */
#define DEFAULT_RATE 0.5

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
    m->w = sg__calloc((size_t)1 << hash_bits, sizeof *m->w);
    if (!m->w) return SG_ENOMEM;
    m->hash_bits = hash_bits;
    m->rate = DEFAULT_RATE;
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
    float *w = sg__calloc((size_t)1 << bits, sizeof *w);
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
    }
    sg__free(m->w);
    m->w = w;
    m->updates = updates;
out:
    sg__free(d);
    return rc;
}
