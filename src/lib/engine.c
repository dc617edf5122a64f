/*
 * engine.c -- the engine: options, lifetime, and the loop that carries one
 * message through the stages (normalize -> features -> each detector row of
 * sg__detectors[] -> policy).  It owns no detection logic: a new detector
 * is a new file plus one row in the table below.
 */
#define _GNU_SOURCE
#include "sg_internal.h"
#include "store.h"
#include "enforce.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The pipeline, in order.  Later rows may read what earlier rows found. */
const sg_detector *const sg__detectors[] = {
    &sg__detector_content,
    &sg__detector_urls,
    &sg__detector_bulk,
    &sg__detector_sender,
};
const size_t sg__ndetectors = sizeof sg__detectors / sizeof sg__detectors[0];

int sg__set_error(sg_engine *eng, int err, const char *fmt, ...) {
    if (!eng) return err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eng->errmsg, sizeof eng->errmsg, fmt, ap);
    va_end(ap);
    return err;
}

/* Detail of the last sg_engine_new() that failed on this thread. */
static _Thread_local char new_errmsg[256];

const char *sg_engine_errmsg(const sg_engine *eng) {
    return eng ? eng->errmsg : new_errmsg;
}

static int copy_options(sg_engine *eng, const sg_options *o) {
    if (o) eng->opt = *o;
    if (!eng->opt.hash_bits) eng->opt.hash_bits = 22;
    if (!eng->opt.max_text_bytes) eng->opt.max_text_bytes = 65536;
    if (!eng->opt.seed) eng->opt.seed = 1;
    if (eng->opt.hash_bits < 16 || eng->opt.hash_bits > 26)
        return sg__set_error(eng, SG_EINVAL, "hash_bits %u is outside 16..26",
                             eng->opt.hash_bits);
    eng->brands_file = sg__strdup(eng->opt.brands_file);
    eng->allow_file = sg__strdup(eng->opt.allow_file);
    eng->blocklist_file = sg__strdup(eng->opt.blocklist_file);
    eng->store_uri = sg__strdup(eng->opt.store_uri);
    if ((eng->opt.store_uri && !eng->store_uri) ||
        (eng->opt.brands_file && !eng->brands_file) ||
        (eng->opt.allow_file && !eng->allow_file) ||
        (eng->opt.blocklist_file && !eng->blocklist_file))
        return SG_ENOMEM;
    eng->opt.brands_file = eng->brands_file;
    eng->opt.allow_file = eng->allow_file;
    eng->opt.blocklist_file = eng->blocklist_file;
    eng->opt.store_uri = eng->store_uri;
    return SG_OK;
}

/* The state store named by opt.store_uri (memory: when none). */
static int open_store(sg_engine *eng) {
    const char *uri = eng->opt.store_uri;
    if (!uri || !*uri) return sg__store_memory_new(&eng->store);
    char err[200];
    int rc = sg__store_open_uri(uri, &eng->store, err, sizeof err);
    if (rc) sg__set_error(eng, rc, "store %s: %s", uri, err);
    return rc;
}

static int init_detectors(sg_engine *eng) {
    for (size_t i = 0; i < sg__ndetectors; i++) {
        const sg_detector *d = sg__detectors[i];
        if (!d->init) continue;
        int rc = d->init(eng, &eng->det_state[i]);
        if (rc) {
            if (!eng->errmsg[0])
                sg__set_error(eng, rc, "detector %s: %s", d->name,
                              sg_strerror(rc));
            return rc;
        }
    }
    return SG_OK;
}

int sg_engine_new(const sg_options *opts, sg_engine **out) {
    if (!out) return SG_EINVAL;
    *out = NULL;
    sg_engine *eng = sg__calloc(1, sizeof *eng);
    if (!eng) return SG_ENOMEM;
    int rc;
    if ((rc = copy_options(eng, opts)) ||
        (rc = sg__normctx_new(&eng->nc)) ||
        (rc = sg__model_init(&eng->model, eng->opt.hash_bits)) ||
        (rc = open_store(eng)) ||
        (rc = init_detectors(eng)) ||
        (rc = sg__enforce_open(eng))) {
        snprintf(new_errmsg, sizeof new_errmsg, "%s",
                 eng->errmsg[0] ? eng->errmsg : sg_strerror(rc));
        sg_engine_free(eng);
        return rc;
    }
    *out = eng;
    return SG_OK;
}

void sg_engine_free(sg_engine *eng) {
    if (!eng) return;
    for (size_t i = 0; i < sg__ndetectors; i++)
        if (sg__detectors[i]->free && eng->det_state[i])
            sg__detectors[i]->free(eng->det_state[i]);
    sg__enforce_free(eng->enforce);
    sg__store_free(eng->store);
    sg__model_free(&eng->model);
    sg__normctx_free(eng->nc);
    sg__free(eng->brands_file);
    sg__free(eng->allow_file);
    sg__free(eng->blocklist_file);
    sg__free(eng->store_uri);
    sg__free(eng);
}

int sg_engine_load_model(sg_engine *eng, const char *path) {
    if (!eng || !path) return SG_EINVAL;
    return sg__model_load(&eng->model, path, eng->errmsg, sizeof eng->errmsg);
}

int sg_engine_save_model(sg_engine *eng, const char *path) {
    if (!eng || !path) return SG_EINVAL;
    return sg__model_save(&eng->model, path, eng->errmsg, sizeof eng->errmsg);
}

/* ---------------------------------------------------------------- files */

static bool file_exists(const char *p) { return access(p, R_OK) == 0; }

/* Folder of the running executable, or "" when unknown. */
static void exe_dir(char *buf, size_t cap) {
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0) { buf[0] = '\0'; return; }
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash) *slash = '\0';
}

int sg__data_path(const char *name, char *buf, size_t cap) {
    char dir[PATH_MAX / 2];
    const char *env = getenv("SPIMGUARD_DATADIR");
    if (env && *env) {
        snprintf(buf, cap, "%s/%s", env, name);
        if (file_exists(buf)) return SG_OK;
    }
    exe_dir(dir, sizeof dir);
    if (dir[0]) {
        snprintf(buf, cap, "%s/data/%s", dir, name);
        if (file_exists(buf)) return SG_OK;
        snprintf(buf, cap, "%s/../data/%s", dir, name);
        if (file_exists(buf)) return SG_OK;
        snprintf(buf, cap, "%s/../share/spimguard/%s", dir, name);
        if (file_exists(buf)) return SG_OK;
    }
#ifdef SG_SOURCE_DATADIR
    snprintf(buf, cap, "%s/%s", SG_SOURCE_DATADIR, name);
    if (file_exists(buf)) return SG_OK;
#endif
#ifdef SG_DATADIR
    snprintf(buf, cap, "%s/%s", SG_DATADIR, name);
    if (file_exists(buf)) return SG_OK;
#endif
    return SG_ENOTFOUND;
}

const char *sg_default_model_path(void) {
    static char path[PATH_MAX + 64];
    char dir[PATH_MAX];
    const char *env = getenv("SPIMGUARD_MODEL");
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
        return file_exists(path) ? path : NULL;
    }
    exe_dir(dir, sizeof dir);
    if (dir[0]) {
        snprintf(path, sizeof path, "%s/default.model", dir);
        if (file_exists(path)) return path;
        snprintf(path, sizeof path, "%s/../share/spimguard/default.model", dir);
        if (file_exists(path)) return path;
    }
#ifdef SG_DATADIR
    snprintf(path, sizeof path, "%s/default.model", SG_DATADIR);
    if (file_exists(path)) return path;
#endif
    return NULL;
}

/* ---------------------------------------------------------------- context */

/* The signals' details: copied into chunks that the context owns (one
 * allocation for many details; a recycled context keeps its first chunk),
 * freed all at once with it. */
#define DETAIL_CHUNK 1024

struct sg_detail_chunk {
    struct sg_detail_chunk *next;
    size_t used, cap;
    char data[];
};

static char *detail_copy(sg_ctx *c, const char *s, size_t len) {
    struct sg_detail_chunk *k = c->details;
    if (!k || k->cap - k->used < len + 1) {
        size_t cap = len + 1 > DETAIL_CHUNK ? len + 1 : DETAIL_CHUNK;
        struct sg_detail_chunk *n = sg__malloc(sizeof *n + cap);
        if (!n) return NULL;
        *n = (struct sg_detail_chunk){k, 0, cap};
        c->details = k = n;
    }
    char *d = k->data + k->used;
    memcpy(d, s, len);
    d[len] = '\0';
    k->used += len + 1;
    return d;
}

static void details_free(struct sg_detail_chunk *k) {
    while (k) {
        struct sg_detail_chunk *next = k->next;
        sg__free(k);
        k = next;
    }
}

/* What a recycled context keeps (sg__ctx_recycle): buffers, all empty. */
typedef struct ctx_keep {
    sg_featvec fv;
    sg_signal *sig;
    size_t capsig;
    struct sg_detail_chunk *details;
} ctx_keep;

/* Normalize, features and the content margin into c (zeroed first), with
 * the normalizer scratch nc; touches nothing in eng.  The time is set by
 * the judge phase (it reads the engine clock).  keep: buffers to reuse
 * (sg__ctx_recycle), or NULL. */
static int ctx_setup(sg_engine *eng, const sg_message *msg, sg_ctx *c,
                     sg_normctx *nc, const ctx_keep *keep) {
    memset(c, 0, sizeof *c);
    if (keep) {
        c->fv = keep->fv;
        c->sig = keep->sig;
        c->capsig = keep->capsig;
        c->details = keep->details;
    }
    c->eng = eng;
    c->msg = msg;
    c->prep_failed = -1;
    if (msg->text_len > eng->opt.max_text_bytes) return SG_ETOOBIG;
    int rc = sg__normalize(nc, msg->text, msg->text_len, &c->norm);
    if (rc) return rc;
    const float *w = eng->model.hash_bits == eng->opt.hash_bits ? eng->model.w : NULL;
    if ((rc = sg__features_warm(&c->norm, eng->opt.hash_bits, w, &c->fv))) return rc;
    c->content_margin = sg__model_margin(&eng->model, &c->fv);
    c->content_p = sg__sigmoid(c->content_margin);
    return SG_OK;
}

/* The detail of a failed ctx_setup / prepare hook in eng->errmsg. */
static int setup_error(sg_engine *eng, const sg_ctx *c, int rc) {
    if (c->prep_failed >= 0)
        return sg__set_error(eng, rc, "detector %s: %s",
                             sg__detectors[c->prep_failed]->name, sg_strerror(rc));
    if (rc == SG_ETOOBIG)
        return sg__set_error(eng, rc, "text is %zu bytes, over the %zu-byte limit",
                             c->msg->text_len, eng->opt.max_text_bytes);
    if (rc == SG_ENOMEM && c->norm.text) return rc; /* features ran out */
    return sg__set_error(eng, rc, "cannot normalize text: %s", sg_strerror(rc));
}

int sg__ctx_init(sg_engine *eng, const sg_message *msg, sg_ctx *c) {
    int rc = ctx_setup(eng, msg, c, eng->nc, NULL);
    if (rc) {
        setup_error(eng, c, rc);
        sg__ctx_free(c);
        c->eng = eng;
        c->msg = msg;
        return rc;
    }
    c->now_ms = msg->ts_ms ? msg->ts_ms : eng->clock_ms; /* the clock moves
                                                            only on a commit */
    return SG_OK;
}

void sg__ctx_free(sg_ctx *c) {
    sg__norm_free(&c->norm);
    sg__featvec_free(&c->fv);
    details_free(c->details);
    sg__free(c->sig);
    sg__free(c->campaign);
    if (c->urls) sg__urlset_free(c->urls);
    for (size_t i = 0; i < sizeof c->prep / sizeof c->prep[0]; i++)
        sg__free(c->prep[i]);
    memset(c, 0, sizeof *c);
}

/* Feature buffers larger than this (in features; 28 KiB, room for an
 * SMS-length text) are not kept by sg__ctx_recycle: long texts must not
 * pin their buffers for good. */
#define RECYCLE_MAX_FEATS 1024

void sg__ctx_recycle(sg_ctx *c) {
    ctx_keep k = {c->fv, c->sig, c->capsig, c->details};
    c->fv = (sg_featvec){0};
    c->sig = NULL;
    c->details = NULL;
    sg__ctx_free(c);
    if (k.fv.cap > RECYCLE_MAX_FEATS) sg__featvec_free(&k.fv);
    if (k.details && k.details->cap == DETAIL_CHUNK) { /* keep one, emptied */
        details_free(k.details->next);
        k.details->next = NULL;
        k.details->used = 0;
    } else {
        details_free(k.details);
        k.details = NULL;
    }
    c->fv = (sg_featvec){k.fv.v, 0, k.fv.cap};
    c->sig = k.sig;
    c->capsig = k.sig ? k.capsig : 0;
    c->details = k.details;
}

/* True when fmt's only conversions are %u, %s and %% (format_plain). */
static bool plain_format(const char *fmt) {
    for (const char *p = strchr(fmt, '%'); p; p = strchr(p + 2, '%'))
        if (p[1] != 'u' && p[1] != 's' && p[1] != '%') return false;
    return true;
}

/* vsnprintf(out, cap, fmt, ap) for a plain_format fmt, without printf's
 * machinery (most details: "~%u senders to ~%u recipients").  @return
 * the bytes written (at most cap - 1). */
static size_t format_plain(char *out, size_t cap, const char *fmt, va_list ap) {
    size_t n = 0;
    for (const char *p = fmt; *p;) {
        char num[16], *e = num + sizeof num;
        const char *s = p;
        size_t l;
        if (*p != '%') { /* a run of plain bytes */
            const char *q = strchr(p, '%');
            l = q ? (size_t)(q - p) : strlen(p);
            p += l;
        } else if (p[1] == 'u') {
            unsigned v = va_arg(ap, unsigned);
            do *--e = (char)('0' + v % 10); while (v /= 10);
            s = e, l = (size_t)(num + sizeof num - e), p += 2;
        } else if (p[1] == 's') {
            s = va_arg(ap, const char *);
            if (!s) s = "(null)"; /* as glibc prints it */
            l = strlen(s), p += 2;
        } else { /* "%%": one '%' (s is at it) */
            l = 1, p += 2;
        }
        if (l > cap - 1 - n) l = cap - 1 - n;
        memcpy(out + n, s, l);
        n += l;
    }
    out[n] = '\0';
    return n;
}

/* Append a signal whose detail is fmt/ap (cut at 511 bytes). */
static int add_signal(sg_ctx *c, const char *code, double weight,
                      unsigned labels, bool explain, const char *fmt,
                      va_list ap) {
    if (c->nsig == c->capsig) {
        size_t cap = c->capsig ? c->capsig * 2 : 8;
        sg_signal *s = sg__realloc(c->sig, cap * sizeof *s);
        if (!s) return SG_ENOMEM;
        c->sig = s;
        c->capsig = cap;
    }
    char tmp[512];
    size_t len;
    if (plain_format(fmt)) {
        len = format_plain(tmp, sizeof tmp, fmt, ap);
    } else {
        int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
        len = n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1;
        len = strnlen(tmp, len);
    }
    char *detail = detail_copy(c, tmp, len);
    if (!detail) return SG_ENOMEM;
    c->sig[c->nsig++] = (sg_signal){code, weight, labels, detail, explain};
    c->labels |= labels;
    return SG_OK;
}

int sg__ctx_signal(sg_ctx *c, const char *code, double weight,
                   unsigned labels, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = add_signal(c, code, weight, labels, false, fmt, ap);
    va_end(ap);
    return rc;
}

int sg__ctx_explain(sg_ctx *c, const char *code, double weight,
                    const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = add_signal(c, code, weight, 0, true, fmt, ap);
    va_end(ap);
    return rc;
}

void sg__ctx_want_action(sg_ctx *c, sg_action a) {
    if (a > c->min_action) c->min_action = a;
}

void sg__ctx_want_account_action(sg_ctx *c, sg_account_action a) {
    if (a > c->account_action) c->account_action = a;
}

int sg__ctx_set_campaign(sg_ctx *c, const char *id) {
    char *d = sg__strdup(id);
    if (id && !d) return SG_ENOMEM;
    sg__free(c->campaign);
    c->campaign = d;
    return SG_OK;
}

/* ---------------------------------------------------------------- check */

static int run_detectors(sg_engine *eng, sg_ctx *c) {
    for (size_t i = 0; i < sg__ndetectors; i++) {
        if (!sg__detectors[i]->check) continue;
        int rc = sg__detectors[i]->check(eng->det_state[i], c);
        if (rc) return sg__set_error(eng, rc, "detector %s: %s",
                                     sg__detectors[i]->name, sg_strerror(rc));
    }
    return SG_OK;
}

/* sg__check_prepare; keep as in ctx_setup. */
static int prepare(sg_engine *eng, const sg_message *msg, sg_ctx *c,
                   sg_normctx *nc, const ctx_keep *keep) {
    int rc = ctx_setup(eng, msg, c, nc ? nc : eng->nc, keep);
    for (size_t i = 0; !rc && i < sg__ndetectors; i++) {
        if (!sg__detectors[i]->prepare) continue;
        if ((rc = sg__detectors[i]->prepare(eng->det_state[i], c)))
            c->prep_failed = (int)i;
    }
    c->prep_rc = rc;
    c->prep_nsig = c->nsig;
    c->prep_labels = c->labels;
    c->prep_account_action = c->account_action;
    c->prep_min_action = c->min_action;
    return rc;
}

int sg__check_prepare(sg_engine *eng, const sg_message *msg, sg_ctx *c,
                      sg_normctx *nc) {
    return prepare(eng, msg, c, nc, NULL);
}

int sg__check_prepare_reuse(sg_engine *eng, const sg_message *msg, sg_ctx *c,
                            sg_normctx *nc) {
    ctx_keep keep = {{c->fv.v, 0, c->fv.cap}, c->sig, c->capsig, c->details};
    if (keep.details) keep.details->used = 0;
    return prepare(eng, msg, c, nc, &keep);
}

/* Drop what the judge phase added to c, so it can run again. */
static void judge_rewind(sg_ctx *c) {
    c->nsig = c->prep_nsig; /* their details stay in c->details till the end */
    c->labels = c->prep_labels;
    c->account_action = c->prep_account_action;
    c->min_action = c->prep_min_action;
    sg__free(c->campaign);
    c->campaign = NULL;
    memset(c->stage, 0, sizeof c->stage);
}

/* Everything one message writes to the store commits together, and only
 * when its verdict exists: on LMDB and Redis a failed check leaves the
 * state as it was; the memory store cannot roll back (store.h), so there a
 * check that fails half-way (out of memory) keeps what it wrote. */
static int judge_once(sg_engine *eng, sg_ctx *c, sg_verdict **out) {
    *out = NULL;
    sg_verdict *v = NULL;
    const sg_message *msg = c->msg;
    judge_rewind(c);
    c->now_ms = msg->ts_ms ? msg->ts_ms : eng->clock_ms; /* the clock moves
                                                            only on a commit */
    int rc = sg__store_begin(eng->store);
    if (rc) return sg__set_error(eng, rc, "store: %s", sg__store_errmsg(eng->store));
    rc = run_detectors(eng, c);
    if (!rc) rc = sg__policy_decide(c, &v);
    if (rc) {
        sg__store_abort(eng->store);
    } else if ((rc = sg__store_commit(eng->store))) {
        if (rc != SG__ECONFLICT)
            sg__set_error(eng, rc, "store commit failed: %s", sg__store_errmsg(eng->store));
        sg_verdict_free(v);
        v = NULL;
    }
    if (!rc && msg->ts_ms > eng->clock_ms) eng->clock_ms = msg->ts_ms;
    if (!rc) sg__enforce_record(eng, c, v); /* evidence, after the commit */
    *out = v;
    return rc;
}

/* A commit that found the sender's state changed by another daemon since
 * it was read (SG__ECONFLICT, store.h) applied nothing: judge the message
 * again on the fresh state (docs/storage.md "Many daemons, one truth").
 * The prepared part (text, features, URLs, fingerprint) does not depend
 * on the store and is kept. */
#define CHECK_ATTEMPTS 8

int sg__check_judge(sg_engine *eng, sg_ctx *c, sg_verdict **out) {
    if (!eng || !c || !out) return SG_EINVAL;
    *out = NULL;
    if (c->prep_rc) return setup_error(eng, c, c->prep_rc);
    for (int i = 0; i < CHECK_ATTEMPTS; i++) {
        int rc = judge_once(eng, c, out);
        if (rc != SG__ECONFLICT) return rc;
    }
    return sg__set_error(eng, SG_ESTORE, "store: the sender's state changed "
                         "under %d attempts in a row", CHECK_ATTEMPTS);
}

int sg_check(sg_engine *eng, const sg_message *msg, sg_verdict **out) {
    if (!eng || !msg || !out) return SG_EINVAL;
    sg_ctx c;
    sg__check_prepare(eng, msg, &c, NULL);
    int rc = sg__check_judge(eng, &c, out);
    sg__ctx_free(&c);
    return rc;
}

int sg_content_score(sg_engine *eng, const sg_message *msg, double *p) {
    if (!eng || !msg || !p) return SG_EINVAL;
    sg_ctx c;
    int rc = sg__ctx_init(eng, msg, &c);
    if (rc) return rc;
    *p = c.content_p;
    sg__ctx_free(&c);
    return SG_OK;
}

/* ---------------------------------------------------------------- learn */

int sg_learn(sg_engine *eng, const sg_message *msg, int is_spam) {
    if (!eng || !msg || (is_spam != 0 && is_spam != 1)) return SG_EINVAL;
    sg_ctx c;
    int rc = sg__ctx_init(eng, msg, &c);
    if (rc) return rc;
    for (size_t i = 0; i < sg__ndetectors && !rc; i++)
        if (sg__detectors[i]->learn)
            rc = sg__detectors[i]->learn(eng->det_state[i], &c, is_spam);
    sg__ctx_free(&c);
    return rc;
}

/* Feature vectors of every labeled message, extracted once for all epochs:
 * fv[i] and y[i] for i < *m (invalid UTF-8 is skipped). */
static int extract_all(sg_engine *eng, sg_message *const *msgs, size_t n,
                       sg_featvec *fv, int *y, size_t *m) {
    *m = 0;
    for (size_t i = 0; i < n; i++) {
        if (msgs[i]->label < 0) continue;
        sg_ctx c;
        int rc = sg__ctx_init(eng, msgs[i], &c);
        if (rc == SG_EUTF8) continue;
        if (rc) return rc;
        fv[*m] = c.fv; /* take ownership of the vector */
        y[*m] = msgs[i]->label;
        memset(&c.fv, 0, sizeof c.fv);
        sg__ctx_free(&c);
        (*m)++;
    }
    return SG_OK;
}

/* Batch training: features once, then the model's SVM solver (model.c). */
int sg_train(sg_engine *eng, sg_message *const *msgs, size_t n, int epochs) {
    if (!eng || (!msgs && n) || epochs < 1 || epochs > 100) return SG_EINVAL;
    size_t cap = n ? n : 1, m = 0;
    sg_featvec *fv = sg__calloc(cap, sizeof *fv);
    const sg_featvec **x = sg__calloc(cap, sizeof *x);
    int *y = sg__calloc(cap, sizeof *y);
    int rc = (!fv || !x || !y) ? SG_ENOMEM : extract_all(eng, msgs, n, fv, y, &m);
    if (!rc && m == 0) rc = sg__set_error(eng, SG_EINVAL, "no labeled message to train on");
    for (size_t i = 0; !rc && i < m; i++) x[i] = &fv[i];
    if (!rc) rc = sg__model_train(&eng->model, x, y, m, epochs, eng->opt.seed);
    for (size_t i = 0; fv && i < m; i++) sg__featvec_free(&fv[i]);
    sg__free(fv);
    sg__free(x);
    sg__free(y);
    return rc;
}
