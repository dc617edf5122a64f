/*
 * serve_api.c -- the JSON API of `spimguard serve`, one handler per route:
 * POST /v1/check (one message or an array), POST /v1/report, GET
 * /v1/accounts/{id} (+ POST .../reset), GET /v1/campaigns[/{id}], GET
 * /metrics, GET /healthz.  Parsing and serialization happen outside the
 * engine lock; each request takes it once.  HTTP itself is serve_http.c.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "enforce.h"
#include "group.h"
#include "serve.h"
#include "serve_enforce.h"

/* ---------------------------------------------------------------- helpers */

/* HTTP status for a library error about a message. */
static unsigned status_of(int rc) {
    switch (rc) {
    case SG_EJSON: case SG_EFIELD: case SG_EUTF8: case SG_EINVAL: return 400;
    case SG_ETOOBIG: return 413;
    case SG_ENOTFOUND: return 404;
    case SG_ESTORE: return 503;
    default: return 500;
    }
}

static size_t max_text(sg_serve *s) { return (size_t)s->cfg.max_text_bytes; }

/* How far past the daemon's wall clock a client's "ts" may be (a phone or
 * server clock a little fast); later ones are taken at the wall clock. */
#define TS_MAX_AHEAD_MS (5 * 60 * 1000)

/* The time a message is judged at: its own "ts" (live traffic, or history
 * being imported), or the wall clock when it has none or when it claims a
 * time in the future -- one client with a clock years ahead must not move
 * the engine's clock and expire every account's windows. */
static void stamp(sg_message *m) {
    int64_t wall = sg_serve_wall_ms(), ts = sg_message_ts(m);
    if (ts == 0 || ts > wall + TS_MAX_AHEAD_MS) sg_message_set_ts(m, wall);
}

/* Parse one message and stamp its time. */
static int parse_msg(sg_serve *s, const char *p, size_t n, sg_message **m,
                     char *err, size_t errlen) {
    int rc = sg_message_parse_json(p, n, max_text(s), 0, m, err, errlen);
    if (!rc) stamp(*m);
    return rc;
}

/* Note a verdict's campaign in the index when new here or a minute old.
 * Called with eng_lock held. */
static void note_campaign(sg_serve *s, const char *id, int64_t now) {
    if (!id) return;
    size_t slot = 0;
    for (const char *p = id; *p; p++) slot = slot * 31 + (unsigned char)*p;
    slot %= sizeof s->noted / sizeof s->noted[0];
    if (!strcmp(s->noted[slot].id, id) && now - s->noted[slot].at_ms < 60000) return;
    if (sg__query_campaign_note(s->eng, id, now) == SG_OK) {
        snprintf(s->noted[slot].id, sizeof s->noted[slot].id, "%s", id);
        s->noted[slot].at_ms = now;
    }
}

/* A check the state store failed (a Redis node down) is answered as
 * store_failure says: an error (503), or one of these in rc[] -- a verdict
 * of its own, unjudged, that delivers (fail-open) or holds (fail-closed). */
enum { UNJUDGED_DELIVER = 1, UNJUDGED_HOLD = 2 };

static int failure_mode(sg_serve *s) {
    pthread_rwlock_rdlock(&s->cfg_lock);
    const char *f = s->cfg.store_failure;
    int mode = !strcmp(f, "open") ? UNJUDGED_DELIVER
               : !strcmp(f, "closed") ? UNJUDGED_HOLD : 0;
    pthread_rwlock_unlock(&s->cfg_lock);
    return mode;
}

/* The verdict of a message the store failed for, shaped like a verdict. */
static char *unjudged_json(const sg_message *m, int how, const char *why) {
    char detail[320];
    snprintf(detail, sizeof detail, "state store failed (%s); %s unjudged "
             "(store_failure = %s)", why, how == UNJUDGED_DELIVER ? "delivered" : "held",
             how == UNJUDGED_DELIVER ? "open" : "closed");
    const char *id = m ? sg_message_id(m) : NULL;
    json_t *o = json_pack("{s:o, s:s, s:f, s:f, s:[], s:[{s:s, s:f, s:s}], s:n, s:s, s:b}",
                          "id", id ? json_string(id) : json_null(),
                          "action", how == UNJUDGED_DELIVER ? "deliver" : "hold",
                          "score", 0.0, "content_score", 0.0, "labels", "reasons",
                          "code", "STORE_UNAVAILABLE", "weight", 0.0, "detail", detail,
                          "campaign", "account_action", "none", "unjudged", 1);
    char *out = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return out;
}

/* All of a batch in one store group (group.h), so LMDB commits once and
 * Redis sends one MULTI/EXEC per batch; the verdicts stand only when the
 * group committed.  False (every v[i] NULL again) when the store gains
 * nothing from it, or a check or the commit failed: then the caller judges
 * the messages one by one.  Called with eng_lock held. */
static bool judge_grouped(sg_serve *s, sg_message **m, sg_ctx *c, size_t n,
                          sg_verdict **v) {
    size_t live = 0;
    for (size_t i = 0; i < n; i++) live += m[i] != NULL;
    if (live < 2 || !sg__group_worth(s->eng)) return false;
    sg_check_group g;
    bool ok = sg__group_begin(&g, s->eng) == SG_OK;
    /* the first reads of all the messages in one round trip (Redis) */
    if (ok && sg__behav_prefetch_batch(s->eng, c, n) != SG_OK) ok = false;
    for (size_t i = 0; ok && i < n; i++) {
        if (m[i]) ok = sg__group_judge(&g, &c[i], &v[i]) == SG_OK;
        if (ok && v[i]) /* in the group: its index update commits with it */
            note_campaign(s, sg_verdict_campaign(v[i]), sg_message_ts(m[i]));
    }
    if (ok) ok = sg__group_commit(&g) == SG_OK;
    else sg__group_abort(&g); /* safe when aborted or never opened */
    if (!ok) memset(s->noted, 0, sizeof s->noted); /* those notes are gone */
    for (size_t i = 0; !ok && i < n; i++) {
        sg_verdict_free(v[i]);
        v[i] = NULL;
    }
    return ok;
}

/* The prepare phase of n messages (sg__check_prepare: text, features,
 * model, URLs, fingerprint), outside eng_lock so that it runs in parallel
 * with other requests and, for a batch, on helper threads (serve_prep.c);
 * prep_lock (read) keeps the model and the lists still meanwhile.  A
 * failure is kept in c[i] for the judge phase to answer. */
static void prepare(sg_serve *s, sg_message **m, sg_ctx *c, size_t n) {
    pthread_rwlock_rdlock(&s->prep_lock);
    sg_serve_prepare_all(s, m, c, n);
    pthread_rwlock_unlock(&s->prep_lock);
}

/* Count the verdicts and failures of a judged request (no lock held). */
static void count(sg_serve *s, sg_message **m, size_t n, sg_verdict **v,
                  int *rc, int mode) {
    for (size_t i = 0; i < n; i++) {
        if (v[i]) {
            sg_serve_metrics_verdict(&s->metrics, v[i]);
            sg_recent_put(s->recent, m[i], sg_verdict_campaign(v[i]));
        } else if (m[i] && rc[i] == SG_ESTORE) {
            atomic_fetch_add(&s->metrics.store_errors[mode], 1);
            if (mode) {
                rc[i] = mode;
                atomic_fetch_add(&s->metrics.checks[mode == UNJUDGED_DELIVER
                                                        ? SG_ACTION_DELIVER
                                                        : SG_ACTION_HOLD], 1);
            } else {
                atomic_fetch_add(&s->metrics.check_errors, 1);
            }
        } else {
            atomic_fetch_add(&s->metrics.check_errors, 1);
        }
    }
}

/* Contexts kept per worker thread, recycled across requests
 * (sg__ctx_recycle): each keeps its feature buffer (~12 KiB for an SMS),
 * signal array and detail block, so preparing a message allocates none of
 * them.  At most WORK_KEEP per thread (at most ~7 MiB): a larger batch
 * gets fresh contexts, freed after it. */
#define WORK_KEEP 256

typedef struct work {
    sg_ctx *c;
    size_t n;
} work;

void sg_serve_work_free(void *p) {
    work *w = p;
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) sg__ctx_free(&w->c[i]);
    free(w->c);
    free(w);
}

/* n contexts, each zero or recycled: the thread's own when *kept, else
 * fresh zeroed ones (free with free() after sg__ctx_free); NULL when out
 * of memory. */
static sg_ctx *ctx_get(sg_serve *s, size_t n, bool *kept) {
    *kept = false;
    work *w = pthread_getspecific(s->work_key);
    if (!w && (w = calloc(1, sizeof *w)) && pthread_setspecific(s->work_key, w)) {
        free(w);
        w = NULL;
    }
    if (!w || n > WORK_KEEP) return calloc(n, sizeof(sg_ctx));
    if (w->n < n) {
        sg_ctx *c = realloc(w->c, n * sizeof *c);
        if (!c) return calloc(n, sizeof(sg_ctx));
        memset(c + w->n, 0, (n - w->n) * sizeof *c);
        w->c = c;
        w->n = n;
    }
    *kept = true;
    return w->c;
}

/* Judge n parsed messages: prepare them in parallel with other requests,
 * then the judge phase under one lock acquisition.  v[i] stays NULL and
 * rc[i] gets the error for a message that failed (or UNJUDGED_* when the
 * store failed and store_failure says how to answer). */
static void judge(sg_serve *s, sg_message **m, size_t n, sg_verdict **v,
                  int *rc, char (*why)[256]) {
    int mode = failure_mode(s);
    bool kept;
    sg_ctx *c = ctx_get(s, n, &kept);
    if (!c) {
        for (size_t i = 0; i < n; i++)
            if (m[i]) rc[i] = SG_ENOMEM, snprintf(why[i], sizeof why[i], "out of memory");
        count(s, m, n, v, rc, mode);
        return;
    }
    prepare(s, m, c, n);
    pthread_mutex_lock(&s->eng_lock);
    unsigned weight = sg_serve_cpu_weight(1, n);
    uint64_t cpu0 = weight ? sg_serve_thread_cpu_ns() : 0;
    bool grouped = judge_grouped(s, m, c, n, v);
    for (size_t i = 0; !grouped && i < n; i++) {
        if (!m[i]) continue;
        rc[i] = sg__check_judge(s->eng, &c[i], &v[i]);
        if (rc[i]) snprintf(why[i], sizeof why[i], "%s", sg_engine_errmsg(s->eng));
        else note_campaign(s, sg_verdict_campaign(v[i]), sg_message_ts(m[i]));
    }
    if (weight)
        atomic_fetch_add_explicit(&s->metrics.judge_cpu_ns,
                                  (sg_serve_thread_cpu_ns() - cpu0) * weight,
                                  memory_order_relaxed);
    pthread_mutex_unlock(&s->eng_lock);
    for (size_t i = 0; i < n; i++) {
        if (!m[i]) continue;
        if (kept) sg__ctx_recycle(&c[i]);
        else sg__ctx_free(&c[i]);
    }
    if (!kept) free(c);
    count(s, m, n, v, rc, mode);
}

/* ---------------------------------------------------------------- check */

static void check_one(sg_serve *s, const char *body, size_t len,
                      sg_serve_resp *r) {
    char err[256] = "";
    sg_message *m = NULL;
    sg_verdict *v = NULL;
    int rc = parse_msg(s, body, len, &m, err, sizeof err);
    if (rc) {
        atomic_fetch_add(&s->metrics.check_errors, 1);
        sg_serve_error(r, status_of(rc), "%s", err);
        return;
    }
    judge(s, &m, 1, &v, &rc, &err);
    if (rc == UNJUDGED_DELIVER || rc == UNJUDGED_HOLD) {
        r->status = 200;
        r->body = unjudged_json(m, rc, err);
        r->len = r->body ? strlen(r->body) : 0;
        if (!r->body) sg_serve_error(r, 500, "out of memory");
    } else if (rc) {
        sg_serve_error(r, status_of(rc), "%s", err[0] ? err : sg_strerror(rc));
    } else {
        r->status = 200;
        r->body = sg_verdict_to_json(v);
        r->len = r->body ? strlen(r->body) : 0;
    }
    sg_verdict_free(v);
    sg_message_free(m);
}

/* Batch state: one slot per array element. */
typedef struct batch {
    size_t n;
    sg_message **m;
    sg_verdict **v;
    int *rc;
    char (*why)[256];
} batch;

static void batch_free(batch *b) {
    for (size_t i = 0; i < b->n; i++) {
        sg_message_free(b->m[i]);
        sg_verdict_free(b->v[i]);
    }
    free(b->m);
    free(b->v);
    free(b->rc);
    free(b->why);
}

static int batch_parse(sg_serve *s, json_t *arr, batch *b) {
    size_t n = json_array_size(arr);
    b->n = 0; /* batch_free walks only what exists */
    b->m = calloc(n + 1, sizeof *b->m);
    b->v = calloc(n + 1, sizeof *b->v);
    b->rc = calloc(n + 1, sizeof *b->rc);
    b->why = calloc(n + 1, sizeof *b->why);
    if (!b->m || !b->v || !b->rc || !b->why) return SG_ENOMEM;
    b->n = n;
    for (size_t i = 0; i < b->n; i++) { /* from the parsed array: no reprint */
        b->rc[i] = sg__message_from_json(json_array_get(arr, i), max_text(s), 0,
                                         &b->m[i], b->why[i], sizeof b->why[0]);
        if (!b->rc[i]) stamp(b->m[i]);
    }
    return SG_OK;
}

/* One element that is not a verdict: an unjudged answer or an error. */
static char *batch_other(batch *b, size_t i) {
    if (b->rc[i] == UNJUDGED_DELIVER || b->rc[i] == UNJUDGED_HOLD)
        return unjudged_json(b->m[i], b->rc[i], b->why[i]);
    json_t *o = json_pack("{s:s, s:I}", "error",
                          b->why[i][0] ? b->why[i] : sg_strerror(b->rc[i]),
                          "index", (json_int_t)i);
    char *piece = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return piece;
}

/* "[v1,v2,...]"; an element that failed is {"error": "..."}.  Verdicts are
 * rendered straight into the answer (sg__verdict_json_append), which goes
 * to MHD as it is (malloc'd: MHD frees it). */
static char *batch_render(batch *b, size_t *len) {
    sg_buf out = {malloc(2 + b->n * 600), 0, 2 + b->n * 600};
    bool ok = out.p && sg__buf_append(&out, "[", 1) == SG_OK;
    for (size_t i = 0; ok && i < b->n; i++) {
        if (i) ok = sg__buf_append(&out, ",", 1) == SG_OK;
        if (ok && b->v[i]) {
            ok = sg__verdict_json_append(&out, b->v[i]) == SG_OK;
        } else if (ok) {
            char *piece = batch_other(b, i);
            ok = piece && sg__buf_append(&out, piece, strlen(piece)) == SG_OK;
            free(piece);
        }
    }
    if (ok) ok = sg__buf_append(&out, "]", 1) == SG_OK;
    if (!ok) { sg__buf_free(&out); return NULL; }
    *len = out.len;
    return out.p;
}

static void check_batch(sg_serve *s, const char *body, size_t len,
                        sg_serve_resp *r) {
    json_error_t jerr;
    json_t *arr = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!arr) {
        sg_serve_error(r, 400, "invalid JSON at column %d: %s", jerr.column, jerr.text);
        return;
    }
    pthread_rwlock_rdlock(&s->cfg_lock);
    size_t maxb = (size_t)s->cfg.max_batch;
    pthread_rwlock_unlock(&s->cfg_lock);
    if (json_array_size(arr) > maxb) {
        sg_serve_error(r, 413, "batch of %zu messages; at most %zu",
                       json_array_size(arr), maxb);
        json_decref(arr);
        return;
    }
    batch b = {0};
    int rc = batch_parse(s, arr, &b);
    json_decref(arr);
    if (!rc) {
        atomic_fetch_add(&s->batches_busy, 1);
        judge(s, b.m, b.n, b.v, b.rc, b.why);
        atomic_fetch_sub(&s->batches_busy, 1);
        atomic_fetch_add(&s->metrics.batches, 1);
        r->body = batch_render(&b, &r->len);
        r->status = 200;
    }
    if (rc || !r->body) sg_serve_error(r, 500, "out of memory");
    batch_free(&b);
}

static void h_check(sg_serve *s, const char *body, size_t len, sg_serve_resp *r) {
    size_t skip = strspn(body, " \t\r\n");
    if (skip == len) {
        atomic_fetch_add(&s->metrics.check_errors, 1); /* a message refused */
        sg_serve_error(r, 400, "empty body: expected a message object or an array");
    } else if (body[skip] == '[') {
        check_batch(s, body, len, r);
    } else if (body[skip] == '{') {
        check_one(s, body, len, r);
    } else { /* JSON maybe ("hi", 42), but not a message */
        atomic_fetch_add(&s->metrics.check_errors, 1);
        sg_serve_error(r, 400, "expected a message object or an array of them");
    }
}

/* ---------------------------------------------------------------- report */

/* A report, read from its JSON. */
typedef struct report_in {
    const char *reporter, *account, *id;
    int is_spam;
    sg_message *msg;          /* from "message", or rebuilt from the cache */
    sg_recent_msg cached;     /* when named by id */
    bool received;            /* the reporter is the message's recipient */
} report_in;

static int report_label(json_t *o, int *is_spam) {
    const char *l = json_string_value(json_object_get(o, "label"));
    if (!l) return -1;
    if (!strcmp(l, "spam")) *is_spam = 1;
    else if (!strcmp(l, "not_spam") || !strcmp(l, "ham")) *is_spam = 0;
    else return -1;
    return 0;
}

/* Resolve the message of a report; 0, or an HTTP status after filling r. */
static unsigned report_message(sg_serve *s, json_t *o, report_in *in,
                               sg_serve_resp *r) {
    json_t *jm = json_object_get(o, "message");
    char err[256];
    if (jm) {
        char *txt = json_dumps(jm, JSON_COMPACT);
        int rc = txt ? parse_msg(s, txt, strlen(txt), &in->msg, err, sizeof err) : SG_ENOMEM;
        free(txt);
        if (rc) { sg_serve_error(r, status_of(rc), "message: %s", rc == SG_ENOMEM ? "out of memory" : err); return r->status; }
        /* an inline message is the caller's claim, not a message this
         * daemon judged: it is counted, never learned as the recipient's */
        in->received = false;
        if (!in->account) in->account = sg_message_from(in->msg);
        return 0;
    }
    if (!in->id) return 0;
    if (!sg_recent_get(s->recent, in->id, &in->cached)) {
        if (in->account) return 0; /* still a report about the account */
        sg_serve_error(r, 404, "unknown message id \"%s\" (not checked lately)", in->id);
        return 404;
    }
    if (strcmp(in->cached.to, in->reporter)) {
        sg_serve_error(r, 403, "%s did not receive message \"%s\"", in->reporter, in->id);
        return 403;
    }
    in->received = true;
    if (!in->account) in->account = in->cached.from;
    if (sg_message_new(in->cached.from, in->cached.to, in->cached.text, &in->msg)) {
        sg_serve_error(r, 500, "out of memory");
        return 500;
    }
    return 0;
}

/* Ledger + learning under the engine lock. */
static int report_apply(sg_serve *s, report_in *in, sg_report_result *res) {
    sg_report_limits lim;
    sg__report_limits_default(&lim);
    pthread_rwlock_rdlock(&s->cfg_lock);
    lim.burst = s->cfg.report_burst;
    lim.per_hour = s->cfg.report_per_hour;
    pthread_rwlock_unlock(&s->cfg_lock);
    sg_report rep = {
        .reporter = in->reporter, .account = in->account,
        .campaign = in->cached.campaign[0] ? in->cached.campaign : NULL,
        .text = in->msg ? sg_message_text(in->msg) : NULL,
        .text_len = in->msg ? strlen(sg_message_text(in->msg)) : 0,
        .is_spam = in->is_spam, .reporter_received = in->received};
    sg_serve_lock_all(s); /* sg_learn changes the model prepares read */
    int rc = sg__report_take(s->eng, &lim, &rep, sg_serve_now_ms(s), res);
    if (!rc && !res->rate_limited) /* reporters of a cleared appeal lose trust */
        sg__enforce_note_report(s->eng, in->reporter, in->account, in->is_spam, sg_serve_now_ms(s));
    if (!rc && res->learn && (rc = sg_learn(s->eng, in->msg, in->is_spam)) == SG_OK)
        s->model_dirty = true;
    sg_serve_unlock_all(s);
    return rc;
}

static void report_answer(sg_serve *s, report_in *in, int rc,
                          const sg_report_result *res, sg_serve_resp *r) {
    atomic_uint_fast64_t *ctr = s->metrics.reports[in->is_spam];
    if (rc) {
        atomic_fetch_add(&ctr[SG_REPORT_REJECTED], 1);
        sg_serve_error(r, status_of(rc), "report not taken: %s", sg_strerror(rc));
    } else if (res->rate_limited) {
        atomic_fetch_add(&ctr[SG_REPORT_LIMITED], 1);
        sg_serve_error(r, 429, "too many reports from %s; try later", in->reporter);
    } else {
        atomic_fetch_add(&ctr[SG_REPORT_ACCEPTED], 1);
        if (res->learn) atomic_fetch_add(&s->metrics.learned, 1);
        sg_serve_json(r, 200, json_pack("{s:b, s:f, s:b, s:b, s:s?}", "accepted", 1,
                                  "weight", res->weight, "counted", res->counted,
                                  "learned", res->learn, "account", in->account));
    }
}

static void h_report(sg_serve *s, const char *body, size_t len, sg_serve_resp *r) {
    json_error_t jerr;
    json_t *o = json_loadb(body, len, 0, &jerr);
    report_in in = {0};
    if (!o || !json_is_object(o)) {
        if (o) sg_serve_error(r, 400, "expected a JSON object");
        else sg_serve_error(r, 400, "invalid JSON at column %d: %s", jerr.column, jerr.text);
        json_decref(o);
        return;
    }
    in.reporter = json_string_value(json_object_get(o, "reporter"));
    in.account = json_string_value(json_object_get(o, "account"));
    char idbuf[32];
    json_t *jid = json_object_get(o, "id");
    in.id = json_string_value(jid);
    if (json_is_integer(jid)) {
        snprintf(idbuf, sizeof idbuf, "%" JSON_INTEGER_FORMAT, json_integer_value(jid));
        in.id = idbuf;
    }
    unsigned bad = 0;
    if (!in.reporter || !*in.reporter)
        bad = 1, sg_serve_error(r, 400, "missing field \"reporter\"");
    else if (report_label(o, &in.is_spam))
        bad = 1, sg_serve_error(r, 400, "field \"label\" must be \"spam\" or \"not_spam\"");
    else if (!json_object_get(o, "message") && !in.id && !in.account)
        bad = 1, sg_serve_error(r, 400, "a report needs \"message\", \"id\" or \"account\"");
    else
        bad = report_message(s, o, &in, r);
    if (bad) {
        atomic_fetch_add(&s->metrics.reports[in.is_spam][SG_REPORT_REJECTED], 1);
    } else {
        sg_report_result res;
        int rc = report_apply(s, &in, &res);
        report_answer(s, &in, rc, &res, r);
    }
    sg_message_free(in.msg);
    sg_recent_msg_clear(&in.cached);
    json_decref(o);
}

/* ---------------------------------------------------------------- accounts */

static json_t *tally_json(const sg_report_tally *t) {
    return json_pack("{s:I, s:I, s:f, s:f}", "spam", (json_int_t)t->spam,
                     "not_spam", (json_int_t)t->not_spam, "spam_weight",
                     t->spam_weight, "not_spam_weight", t->not_spam_weight);
}

static json_t *account_json(const char *id, const sg_acct_view *a,
                            const sg_report_tally *t) {
    sg_account_action act = sg__query_status_action(a->status);
    return json_pack(
        "{s:s, s:s, s:s, s:b, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}, s:o}",
        "id", id, "status", sg__query_status_name(a->status),
        "account_action", sg_account_action_name(act),
        "delivery_blocked", a->status == SG_ACCT_LOCKED || a->status == SG_ACCT_SUSPENDED,
        "first_seen_ms", (json_int_t)a->first_seen_ms, "last_seen_ms", (json_int_t)a->last_ms,
        "profile", "messages", (json_int_t)a->msgs, "url_messages", (json_int_t)a->url_msgs,
        "stranger_messages", (json_int_t)a->stranger_msgs, "fanout", (json_int_t)a->fanout,
        "burst_recipients", (json_int_t)a->burst_recipients,
        "typical_length", (json_int_t)a->typical_len, "clients", (json_int_t)a->nclients,
        "networks", (json_int_t)a->nnetworks, "tokens", a->tokens,
        "reports", tally_json(t));
}

static void h_account(sg_serve *s, const char *method, const char *rest,
                      sg_serve_resp *r) {
    const char *slash = strchr(rest, '/');
    bool reset = slash && !strcmp(slash, "/reset");
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (!n || (slash && !reset)) { sg_serve_error(r, 404, "no such path"); return; }
    if (strcmp(method, reset ? "POST" : "GET")) {
        r->allow = reset ? "POST" : "GET";
        sg_serve_error(r, 405, "use %s", r->allow);
        return;
    }
    /* any id a message may carry: long ones are hashed in the store keys */
    char *id = strndup(rest, n);
    if (!id) { sg_serve_error(r, 500, "out of memory"); return; }
    sg_acct_view a;
    sg_report_tally t;
    pthread_mutex_lock(&s->eng_lock);
    int64_t now = sg_serve_now_ms(s);
    int rc = reset ? sg__query_account_reset(s->eng, id, now) : SG_OK;
    if (!rc && reset) sg__enforce_unlocked(s->eng, id, now); /* closes the case, logged */
    if (!rc) rc = sg__query_account(s->eng, id, now, &a);
    if (!rc) rc = sg__report_tally(s->eng, id, false, now, &t);
    pthread_mutex_unlock(&s->eng_lock);
    if (rc == SG_ENOTFOUND) sg_serve_error(r, 404, "unknown account \"%s\"", id);
    else if (rc) sg_serve_error(r, status_of(rc), "%s", sg_strerror(rc));
    else sg_serve_json(r, 200, account_json(id, &a, &t));
    free(id);
}

/* ---------------------------------------------------------------- campaigns */

static json_t *strings_json(const char *base, size_t stride, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(base + i * stride));
    return a;
}

static json_t *campaign_json(const char *id, const sg_campaign_info *c,
                             const sg_report_tally *t) {
    json_t *edges = json_array();
    for (size_t i = 0; edges && i < c->nedges; i++)
        json_array_append_new(edges, json_pack("{s:s, s:s}", "from", c->edges[i][0],
                                               "to", c->edges[i][1]));
    return json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "id", id,
        "first_seen_ms", (json_int_t)c->first_ms, "last_seen_ms", (json_int_t)c->last_ms,
        "messages", (json_int_t)c->msgs, "senders", (json_int_t)c->senders,
        "recipients", (json_int_t)c->recipients, "infections", (json_int_t)c->infections,
        "locked_senders", (json_int_t)c->locked,
        "sender_ids", strings_json(c->sender_ids[0], sizeof c->sender_ids[0], c->nsender_ids),
        "urls", strings_json(c->urls[0], sizeof c->urls[0], c->nurls),
        "infection_edges", edges, "reports", tally_json(t));
}

/* One campaign's JSON, read under the lock; NULL when it is gone. */
static json_t *campaign_read(sg_serve *s, const char *id, int64_t now,
                             sg_campaign_info *ci, int *rc) {
    sg_report_tally t;
    *rc = sg__query_campaign(s->eng, id, now, ci);
    if (!*rc) *rc = sg__report_tally(s->eng, id, true, now, &t);
    return *rc ? NULL : campaign_json(id, ci, &t);
}

static void h_campaigns(sg_serve *s, const char *rest, sg_serve_resp *r) {
    sg_campaign_info *ci = malloc(sizeof *ci);
    char (*ids)[SG_CAMPAIGN_ID_LEN] = malloc(SG_QUERY_CAMPAIGNS * sizeof *ids);
    json_t *list = json_array();
    if (!ci || !ids || !list) { sg_serve_error(r, 500, "out of memory"); goto out; }
    int rc = SG_OK;
    size_t n = 0;
    pthread_mutex_lock(&s->eng_lock);
    int64_t now = sg_serve_now_ms(s);
    if (*rest) {
        json_t *one = campaign_read(s, rest, now, ci, &rc);
        pthread_mutex_unlock(&s->eng_lock);
        if (rc == SG_ENOTFOUND) sg_serve_error(r, 404, "unknown campaign \"%s\"", rest);
        else if (rc) sg_serve_error(r, status_of(rc), "%s", sg_strerror(rc));
        else sg_serve_json(r, 200, one);
        goto out;
    }
    rc = sg__query_campaign_list(s->eng, now, ids, SG_QUERY_CAMPAIGNS, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        int one_rc;
        json_t *c = campaign_read(s, ids[i], now, ci, &one_rc);
        if (c) json_array_append_new(list, c);
    }
    pthread_mutex_unlock(&s->eng_lock);
    if (rc) sg_serve_error(r, status_of(rc), "%s", sg_strerror(rc));
    else sg_serve_json(r, 200, json_pack("{s:O}", "campaigns", list));
out:
    json_decref(list);
    free(ids);
    free(ci);
}

/* ---------------------------------------------------------------- routes */

static void h_metrics(sg_serve *s, sg_serve_resp *r) {
    r->body = sg_serve_metrics_render(s);
    if (!r->body) { sg_serve_error(r, 500, "out of memory"); return; }
    r->status = 200;
    r->len = strlen(r->body);
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void h_health(sg_serve *s, sg_serve_resp *r) {
    bool d = atomic_load(&s->draining);
    sg_serve_json(r, d ? 503 : 200, json_pack("{s:s, s:s}", "status", d ? "draining" : "ok",
                                        "version", SG_VERSION_STRING));
}

static bool want(const char *method, const char *m, sg_serve_resp *r) {
    if (!strcmp(method, m)) return true;
    r->allow = m;
    sg_serve_error(r, 405, "use %s", m);
    return false;
}

void sg_serve_api(sg_serve *s, const char *method, const char *path,
                  const char *body, size_t len, sg_serve_resp *r) {
    /* no route, account or campaign id is anything but UTF-8, and the
     * error answers echo the path: raw bytes (%FF) would break their JSON */
    if (!sg__utf8_valid(path, strlen(path))) {
        sg_serve_error(r, 404, "no such path (not UTF-8)");
        return;
    }
    if (sg_serve_enforce_route(s, method, path, body, len, r)) return; /* serve_enforce.c */
    if (!strcmp(path, "/v1/check")) {
        if (want(method, "POST", r)) h_check(s, body, len, r);
    } else if (!strcmp(path, "/v1/report")) {
        if (want(method, "POST", r)) h_report(s, body, len, r);
    } else if (!strncmp(path, "/v1/accounts/", 13)) {
        h_account(s, method, path + 13, r);
    } else if (!strcmp(path, "/v1/campaigns") || !strncmp(path, "/v1/campaigns/", 14)) {
        if (want(method, "GET", r)) h_campaigns(s, path[13] ? path + 14 : "", r);
    } else if (!strcmp(path, "/metrics")) {
        if (want(method, "GET", r)) h_metrics(s, r);
    } else if (!strcmp(path, "/healthz")) {
        if (want(method, "GET", r)) h_health(s, r);
    } else {
        sg_serve_error(r, 404, "no such path: %s", path);
    }
}
