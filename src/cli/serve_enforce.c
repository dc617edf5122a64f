/*
 * serve_enforce.c -- the enforcement routes of `spimguard serve`
 * (serve_enforce.h): appeals, operator decisions, the dashboard's data
 * (summary counters, actioned accounts, open appeals, recent reports) and
 * its static files.  The library does the work (src/lib/enforce.h); this
 * file parses, locks, and answers JSON.  The router of serve_api.c asks it
 * first; HTTP itself is serve_http.c.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enforce.h"
#include "serve_enforce.h"

#define LIST_MAX 200
#define DASH_MAX_BYTES (1 << 20)

/* ---------------------------------------------------------------- helpers */

static unsigned status_of(int rc) {
    switch (rc) {
    case SG_EINVAL: return 400;
    case SG_ENOTFOUND: return 404;
    case SG_ESTORE: return 503;
    default: return 500;
    }
}

static json_t *case_json(const char *id, const sg_enf_case *c, const sg_acct_view *a,
                         bool have_view) {
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:s?, s:I, s:b, s:I, s:I}",
        "id", id, "status", have_view ? sg__query_status_name(a->status) : "unknown",
        "action", sg_account_action_name(c->action), "taken", sg_account_action_name(c->taken),
        "since_ms", (json_int_t)c->since_ms, "until_ms", (json_int_t)c->until_ms,
        "appeal", sg__appeal_state_name(c->appeal), "appeal_ms", (json_int_t)c->appeal_ms,
        "evidence_hash", c->evidence_hash[0] ? c->evidence_hash : NULL,
        "evidence_seq", c->evidence_seq == UINT64_MAX ? (json_int_t)-1 : (json_int_t)c->evidence_seq,
        "dry_run", c->dry_run, "messages", (json_int_t)c->messages,
        "decided_ms", (json_int_t)c->decided_ms);
}

/* The case of one account and its live status, under the lock. */
static json_t *read_case(sg_serve *s, const char *id, int64_t now, int *rc) {
    sg_enf_case c;
    sg_acct_view a;
    *rc = sg__enforce_case(s->eng, id, now, &c);
    if (*rc) return NULL;
    bool view = sg__query_account(s->eng, id, now, &a) == SG_OK;
    return case_json(id, &c, &a, view);
}

/* ---------------------------------------------------------------- appeal */

static json_t *body_object(const char *body, size_t len, sg_serve_resp *r) {
    json_error_t e;
    json_t *o = len ? json_loadb(body, len, 0, &e) : json_object();
    if (!o) sg_serve_error(r, 400, "invalid JSON at column %d: %s", e.column, e.text);
    else if (!json_is_object(o)) sg_serve_error(r, 400, "expected a JSON object"), json_decref(o), o = NULL;
    return o;
}

static void h_appeal(sg_serve *s, const char *id, const char *body, size_t len, sg_serve_resp *r) {
    json_t *o = body_object(body, len, r);
    if (!o) return;
    const char *text = json_string_value(json_object_get(o, "text"));
    pthread_mutex_lock(&s->eng_lock);
    int64_t now = sg_serve_now_ms(s);
    int rc = sg__enforce_appeal(s->eng, id, text ? text : "", now, NULL);
    json_t *c = rc ? NULL : read_case(s, id, now, &rc);
    pthread_mutex_unlock(&s->eng_lock);
    if (rc == SG_ENOTFOUND) sg_serve_error(r, 404, "no enforcement action on \"%s\" to appeal", id);
    else if (rc == SG_EINVAL) sg_serve_error(r, 400, "\"text\" must be UTF-8, at most 4096 bytes");
    else if (rc) sg_serve_error(r, status_of(rc), "%s", sg_strerror(rc));
    else sg_serve_json(r, 200, c);
    json_decref(o);
}

static void h_decision(sg_serve *s, const char *id, const char *body, size_t len, sg_serve_resp *r) {
    json_t *o = body_object(body, len, r);
    if (!o) return;
    const char *d = json_string_value(json_object_get(o, "decision"));
    const char *op = json_string_value(json_object_get(o, "operator"));
    const char *note = json_string_value(json_object_get(o, "note"));
    if (!d || (strcmp(d, "clear") && strcmp(d, "confirm"))) {
        sg_serve_error(r, 400, "field \"decision\" must be \"clear\" or \"confirm\"");
        json_decref(o);
        return;
    }
    sg_enf_decision dec;
    sg_serve_lock_all(s); /* a cleared case learns its messages as ham */
    int64_t now = sg_serve_now_ms(s);
    int rc = sg__enforce_decide(s->eng, id, !strcmp(d, "clear"), op, note, now, &dec);
    json_t *c = rc ? NULL : read_case(s, id, now, &rc);
    if (!rc && dec.learned_ham) s->model_dirty = true;
    sg_serve_unlock_all(s);
    if (rc == SG_ENOTFOUND) sg_serve_error(r, 404, "no enforcement case for \"%s\"", id);
    else if (rc) sg_serve_error(r, status_of(rc), "%s", sg_strerror(rc));
    else sg_serve_json(r, 200, json_pack("{s:o, s:s, s:I, s:I, s:b}", "case", c, "decision", d,
                                  "learned_ham", (json_int_t)dec.learned_ham,
                                  "reporters_penalized", (json_int_t)dec.reporters_penalized,
                                  "status_restored", dec.status_restored));
    json_decref(o);
}

/* "/v1/accounts/{id}/appeal" or ".../decision"; false for other paths. */
static bool account_route(sg_serve *s, const char *method, const char *path, const char *body,
                          size_t len, sg_serve_resp *r) {
    if (strncmp(path, "/v1/accounts/", 13)) return false;
    const char *rest = path + 13, *slash = strrchr(rest, '/');
    if (!slash || slash == rest) return false;
    bool appeal = !strcmp(slash, "/appeal"), decision = !strcmp(slash, "/decision");
    if (!appeal && !decision) return false;
    /* any id a message may carry: long ones are hashed in the store keys */
    char *id = strndup(rest, (size_t)(slash - rest));
    if (!id) {
        sg_serve_error(r, 500, "out of memory");
    } else if (strcmp(method, "POST")) {
        r->allow = "POST";
        sg_serve_error(r, 405, "use POST");
    } else if (appeal) {
        h_appeal(s, id, body, len, r);
    } else {
        h_decision(s, id, body, len, r);
    }
    free(id);
    return true;
}

/* ---------------------------------------------------------------- lists */

static void h_cases(sg_serve *s, bool appeals, sg_serve_resp *r) {
    char (*ids)[SG_ENFORCE_ID] = malloc(LIST_MAX * sizeof *ids);
    json_t *list = json_array();
    size_t n = 0;
    if (!ids || !list) { free(ids); json_decref(list); sg_serve_error(r, 500, "out of memory"); return; }
    pthread_mutex_lock(&s->eng_lock);
    int64_t now = sg_serve_now_ms(s);
    int rc = sg__enforce_list(s->eng, appeals, now, ids, LIST_MAX, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        int one;
        json_t *c = read_case(s, ids[i], now, &one);
        if (c) json_array_append_new(list, c);
    }
    pthread_mutex_unlock(&s->eng_lock);
    free(ids);
    if (rc) { json_decref(list); sg_serve_error(r, status_of(rc), "%s", sg_strerror(rc)); return; }
    sg_serve_json(r, 200, json_pack("{s:o}", appeals ? "appeals" : "accounts", list));
}

static void h_reports(sg_serve *s, sg_serve_resp *r) {
    sg_enf_report rep[64];
    pthread_mutex_lock(&s->eng_lock);
    size_t n = sg__enforce_recent_reports(s->eng, rep, 64);
    pthread_mutex_unlock(&s->eng_lock);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I}", "reporter", rep[i].reporter,
                                           "account", rep[i].account, "label",
                                           rep[i].is_spam ? "spam" : "not_spam",
                                           "ts_ms", (json_int_t)rep[i].ts_ms));
    sg_serve_json(r, 200, json_pack("{s:o}", "reports", a));
}

#define GET(x) ((json_int_t)atomic_load_explicit(&(x), memory_order_relaxed))

static json_t *counters(sg_serve *s) {
    sg_serve_metrics *m = &s->metrics;
    json_t *actions = json_object(), *labels = json_object(), *accounts = json_object();
    for (int i = 0; i < 4; i++) {
        json_object_set_new(actions, sg_action_name((sg_action)i), json_integer(GET(m->checks[i])));
        json_object_set_new(accounts, sg_account_action_name((sg_account_action)i),
                            json_integer(GET(m->account_actions[i])));
    }
    for (unsigned i = 0; i < SG_LABEL_COUNT_; i++)
        json_object_set_new(labels, sg_label_name(1u << i), json_integer(GET(m->labels[i])));
    json_int_t spam = 0, ham = 0;
    for (int k = 0; k < 3; k++) spam += GET(m->reports[1][k]), ham += GET(m->reports[0][k]);
    return json_pack("{s:o, s:o, s:o, s:{s:I, s:I}}", "actions", actions, "labels", labels,
                     "account_actions", accounts, "reports", "spam", spam, "not_spam", ham);
}

static void h_summary(sg_serve *s, sg_serve_resp *r) {
    sg_enforce_stats st;
    pthread_mutex_lock(&s->eng_lock);
    const sg_policy_config *pc = sg__policy_config_of(s->eng);
    sg_evidence *ev = sg__enforce_evidence(s->eng);
    sg__enforce_stats(s->eng, &st);
    json_t *evj = ev ? json_pack("{s:I, s:s, s:s}", "entries", (json_int_t)sg__evidence_count(ev),
                                 "head", sg__evidence_head(ev), "dir", sg__evidence_dir(ev))
                     : json_null();
    json_t *pol = json_pack("{s:s, s:b, s:s}", "version", pc->version, "dry_run", pc->dry_run,
                            "max_account_action", sg_account_action_name(pc->max_account_action));
    int64_t now = sg_serve_now_ms(s);
    pthread_mutex_unlock(&s->eng_lock);
    json_t *o = counters(s);
    json_object_set_new(o, "now_ms", json_integer(now));
    json_object_set_new(o, "uptime_s", json_integer((sg_serve_wall_ms() - s->started_ms) / 1000));
    json_object_set_new(o, "evidence", evj);
    json_object_set_new(o, "policy", pol);
    json_object_set_new(o, "enforcement", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
        "account_actions", (json_int_t)st.account_actions, "message_actions",
        (json_int_t)st.message_actions, "dry_run", (json_int_t)st.dry_run, "allowlisted",
        (json_int_t)st.allowlisted, "failures", (json_int_t)st.failures, "appeals",
        (json_int_t)st.appeals, "cleared", (json_int_t)st.cleared, "confirmed",
        (json_int_t)st.confirmed));
    sg_serve_json(r, 200, o);
}

/* ---------------------------------------------------------------- static */

static const struct {
    const char *path, *file, *type;
} statics[] = {
    {"/", "dashboard/index.html", "text/html; charset=utf-8"},
    {"/dashboard.js", "dashboard/dashboard.js", "text/javascript; charset=utf-8"},
    {"/dashboard.css", "dashboard/dashboard.css", "text/css; charset=utf-8"},
};
#define NSTATIC (sizeof statics / sizeof statics[0])

bool sg_serve_enforce_public(const char *method, const char *path) {
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) return false;
    for (size_t i = 0; i < NSTATIC; i++)
        if (!strcmp(path, statics[i].path)) return true;
    return false;
}

static void h_static(size_t i, sg_serve_resp *r) {
    char path[4096];
    if (sg__data_path(statics[i].file, path, sizeof path)) {
        sg_serve_error(r, 404, "%s is not installed (data/%s)", statics[i].path, statics[i].file);
        return;
    }
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(DASH_MAX_BYTES) : NULL;
    size_t n = buf ? fread(buf, 1, DASH_MAX_BYTES, f) : 0;
    if (f) fclose(f);
    if (!buf) { sg_serve_error(r, 500, "cannot read %s", path); return; }
    r->status = 200;
    r->body = buf;
    r->len = n;
    r->content_type = statics[i].type;
}

/* ---------------------------------------------------------------- route */

bool sg_serve_enforce_route(sg_serve *s, const char *method, const char *path,
                            const char *body, size_t len, sg_serve_resp *r) {
    for (size_t i = 0; i < NSTATIC; i++)
        if (!strcmp(path, statics[i].path)) {
            if (!sg_serve_enforce_public(method, path)) r->allow = "GET", sg_serve_error(r, 405, "use GET");
            else h_static(i, r);
            return true;
        }
    if (account_route(s, method, path, body, len, r)) return true;
    if (strncmp(path, "/v1/enforcement/", 16)) return false;
    const char *what = path + 16;
    if (strcmp(method, "GET")) {
        r->allow = "GET";
        sg_serve_error(r, 405, "use GET");
    } else if (!strcmp(what, "summary")) {
        h_summary(s, r);
    } else if (!strcmp(what, "accounts") || !strcmp(what, "appeals")) {
        h_cases(s, !strcmp(what, "appeals"), r);
    } else if (!strcmp(what, "reports")) {
        h_reports(s, r);
    } else {
        sg_serve_error(r, 404, "no such path: %s", path);
    }
    return true;
}

/* ---------------------------------------------------------------- life */

void sg_serve_enforce_options(const sg_serve_config *c, sg_options *o, char *evbuf, size_t cap) {
    if (c->data_dir && *c->data_dir) {
        snprintf(evbuf, cap, "%s/evidence", c->data_dir);
        o->evidence_dir = evbuf;
    }
    if (c->policy_file && *c->policy_file) o->policy_file = c->policy_file;
}

void sg_serve_enforce_reload(sg_serve *s) {
    char changed[256], err[512];
    pthread_mutex_lock(&s->eng_lock);
    int rc = sg__enforce_reload(s->eng, changed, sizeof changed, err, sizeof err);
    const sg_policy_config *pc = sg__policy_config_of(s->eng);
    char version[40];
    snprintf(version, sizeof version, "%s", pc->version);
    bool dry = pc->dry_run;
    pthread_mutex_unlock(&s->eng_lock);
    if (rc == SG_ENOTFOUND) return; /* no policy file: nothing to reload */
    if (rc) {
        sg_serve_log("policy reload failed, old policy kept: %s", err);
        atomic_fetch_add(&s->metrics.reload_failures, 1);
        return;
    }
    sg_serve_log("policy reloaded: %s%s", version, dry ? " (dry run)" : "");
    if (changed[0]) sg_serve_log("policy: %s changed; they need a restart", changed);
}
