/*
 * fuzz_serve_api.c -- libFuzzer target for the daemon's JSON API
 * (sg_serve_api, src/cli/serve_api.c and the enforcement routes of
 * serve_enforce.c) on a real sg_serve: memory: store, a small model trained
 * in-process, auth off, no listener, no helper threads.  An input is
 * "METHOD\nPATH\nBODY" (the path is percent-decoded as libmicrohttpd does;
 * a missing line is empty).  Besides crashes, sanitizer reports and leaks,
 * a broken invariant of the answer traps: see check_resp.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "serve_enforce.h"
#include "sg_internal.h"

/* The serve is rebuilt every RENEW runs: the memory store, the campaign
 * index and the enforcement cases grow with every new account. */
#define RENEW 20000

static sg_serve *srv;
static unsigned long runs;
static bool trace;

/* Labeled messages the content model is trained on (any two classes do:
 * the fuzzer explores the API, not accuracy). */
static const char *const train_json[] = {
    "{\"from\":\"s1\",\"to\":\"r\",\"label\":\"spam\",\"text\":\"WINNER!! You have won a "
    "1000 GBP prize, call 09061701461 to claim now\"}",
    "{\"from\":\"s2\",\"to\":\"r\",\"label\":\"spam\",\"text\":\"URGENT your account is "
    "locked, verify at http://paypa1-secure.com/login today\"}",
    "{\"from\":\"s3\",\"to\":\"r\",\"label\":\"spam\",\"text\":\"FREE crypto giveaway: "
    "send 0.1 BTC and get 1 BTC back, join t.me/freecoins\"}",
    "{\"from\":\"h1\",\"to\":\"r\",\"label\":\"ham\",\"text\":\"are we still on for lunch "
    "tomorrow at noon?\"}",
    "{\"from\":\"h2\",\"to\":\"r\",\"label\":\"ham\",\"text\":\"ok see you at the station "
    "at 5, bring the charger\"}",
    "{\"from\":\"h3\",\"to\":\"r\",\"label\":\"ham\",\"text\":\"the build is green again, "
    "thanks for the fix\"}",
};
#define NTRAIN (sizeof train_json / sizeof train_json[0])

static void free_nc(void *nc) { sg__normctx_free(nc); }

static void set(sg_serve_config *c, const char *key, const char *value) {
    char err[256];
    if (sg_serve_config_set(c, key, value, err, sizeof err)) abort();
}

/* The engine as serve.c's engine_open makes it, with a trained model
 * instead of a model file. */
static void engine_open(sg_serve *s) {
    sg_options o = {.hash_bits = 16, .max_text_bytes = (size_t)s->cfg.max_text_bytes,
                    .store_uri = "memory:"};
    char evdir[256];
    sg_serve_enforce_options(&s->cfg, &o, evdir, sizeof evdir);
    if (sg_engine_new(&o, &s->eng)) abort();
    sg_message *m[NTRAIN];
    for (size_t i = 0; i < NTRAIN; i++)
        if (sg_message_parse_json(train_json[i], strlen(train_json[i]), 0, SG_PARSE_LABELED,
                                  &m[i], NULL, 0))
            abort();
    if (sg_train(s->eng, m, NTRAIN, 5)) abort();
    for (size_t i = 0; i < NTRAIN; i++) sg_message_free(m[i]);
}

/* State for the seeds to find in a fresh serve: account alice@x, message
 * "m1" she sent bob@x (reports by id), and a campaign of parcel phishing
 * from four senders whose accounts the policy acts on (appeals). */
static void warm_up(sg_serve *s) {
    char body[8192];
    size_t n = (size_t)snprintf(body, sizeof body, "[{\"id\":\"m1\",\"from\":\"alice@x\","
        "\"to\":\"bob@x\",\"contact\":false,\"text\":\"WINNER!! You have won a 1000 GBP "
        "prize, claim at http://bit.ly/x\"}");
    for (int i = 0; i < 24; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, ",{\"id\":\"c%d\",\"from\":"
            "\"bulk%d@x\",\"to\":\"victim%d@x\",\"contact\":false,\"text\":\"Your parcel "
            "is waiting, confirm delivery here: https://parcel-redelivery-fee.com/track?c=%d "
            "today\"}", i, i % 4, i, i);
    n += (size_t)snprintf(body + n, sizeof body - n, "]");
    sg_serve_resp r = {0};
    sg_serve_api(s, "POST", "/v1/check", body, n, &r);
    if (r.status != 200) abort();
    if (getenv("SG_FUZZ_SERVE_TRACE")) fprintf(stderr, "warm-up: %s\n", r.body);
    free(r.body);
}

/* What serve.c's start() does, minus the HTTP server and the threads. */
static sg_serve *serve_new(void) {
    sg_serve *s = calloc(1, sizeof *s);
    if (!s || sg_serve_config_defaults(&s->cfg)) abort();
    set(&s->cfg, "store", "memory:");
    set(&s->cfg, "max_batch", "64");          /* 413 reachable in 4 KiB */
    set(&s->cfg, "max_text_bytes", "2048");
    set(&s->cfg, "recent_messages", "1024");
    set(&s->cfg, "recent_bytes", "1048576");
    s->listen_fd = -1;
    s->threads = 1;
    pthread_rwlock_init(&s->cfg_lock, NULL);
    pthread_mutex_init(&s->eng_lock, NULL);
    pthread_rwlock_init(&s->prep_lock, NULL);
    if (pthread_key_create(&s->nc_key, free_nc) ||
        pthread_key_create(&s->work_key, sg_serve_work_free))
        abort();
    s->started_ms = sg_serve_wall_ms();
    s->recent = sg_recent_new((size_t)s->cfg.recent_messages, (size_t)s->cfg.recent_bytes);
    if (!s->recent) abort();
    engine_open(s);
    warm_up(s);
    return s;
}

static void serve_free(sg_serve *s) {
    sg_serve_work_free(pthread_getspecific(s->work_key));
    sg__normctx_free(pthread_getspecific(s->nc_key));
    pthread_key_delete(s->work_key);
    pthread_key_delete(s->nc_key);
    sg_engine_free(s->eng);
    sg_recent_free(s->recent);
    sg_serve_config_free(&s->cfg);
    pthread_rwlock_destroy(&s->prep_lock);
    pthread_mutex_destroy(&s->eng_lock);
    pthread_rwlock_destroy(&s->cfg_lock);
    free(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    trace = getenv("SG_FUZZ_SERVE_TRACE") != NULL;
    srv = serve_new();
    return 0;
}

/* ---------------------------------------------------------------- input */

typedef struct request {
    char *method, *path, *body; /* NUL-terminated copies */
    size_t len;                 /* body bytes (it may hold NULs) */
} request;

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A copy of p[0..n) as a C string; for the path, %XX escapes decoded the
 * way MHD_http_unescape does (a %00 ends the string, as it does there). */
static char *line_copy(const char *p, size_t n, bool unescape) {
    char *s = malloc(n + 1), *o = s;
    if (!s) abort();
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (unescape && p[i] == '%' && i + 2 < n && (hi = hexval(p[i + 1])) >= 0 &&
            (lo = hexval(p[i + 2])) >= 0) {
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = p[i];
        }
    }
    *o = '\0';
    return s;
}

/* Next line of [*p, end): its length; *p moves past its newline. */
static size_t next_line(const char **p, const char *end, const char **start) {
    *start = *p;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    *p = nl ? nl + 1 : end;
    return n;
}

static void split(const uint8_t *data, size_t size, request *q) {
    const char *p = (const char *)data, *end = p + size, *ln;
    size_t n = next_line(&p, end, &ln);
    q->method = line_copy(ln, n, false);
    n = next_line(&p, end, &ln);
    q->path = line_copy(ln, n, true);
    q->len = (size_t)(end - p); /* the HTTP layer NUL-terminates the body */
    q->body = malloc(q->len + 1);
    if (!q->body) abort();
    memcpy(q->body, p, q->len);
    q->body[q->len] = '\0';
}

static void request_free(request *q) {
    free(q->method);
    free(q->path);
    free(q->body);
}

/* ---------------------------------------------------------------- checks */

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* Statuses the API answers with here.  500 (out of memory, an unexpected
 * library error) and 503 (store failed, draining) have no legitimate cause
 * with the memory store, a live daemon and a malloc that does not fail:
 * either one is a bug. */
static bool status_ok(unsigned st) {
    switch (st) {
    case 200: case 400: case 403: case 404: case 405: case 413: case 429: return true;
    default: return false;
    }
}

/* A verdict object: an action name and scores 0..1. */
static void check_verdict(json_t *v) {
    CHECK(json_is_object(v));
    const char *a = json_string_value(json_object_get(v, "action"));
    CHECK(a);
    bool known = false;
    for (int i = 0; i < 4; i++) known |= !strcmp(a, sg_action_name((sg_action)i));
    CHECK(known);
    double score = json_number_value(json_object_get(v, "score"));
    CHECK(json_is_number(json_object_get(v, "score")) && score >= 0 && score <= 1);
}

/* A batch answer: one element per request element, in order; each a
 * verdict or {"error", "index": i}. */
static void check_batch(const request *q, json_t *ans) {
    json_error_t e;
    json_t *in = json_loadb(q->body, q->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    CHECK(json_is_array(in) && json_is_array(ans));
    CHECK(json_array_size(ans) == json_array_size(in));
    for (size_t i = 0; i < json_array_size(ans); i++) {
        json_t *el = json_array_get(ans, i);
        if (json_object_get(el, "error")) {
            CHECK(json_is_string(json_object_get(el, "error")));
            CHECK(json_integer_value(json_object_get(el, "index")) == (json_int_t)i);
        } else {
            check_verdict(el);
        }
    }
    json_decref(in);
}

/* What a 200 of /v1/check must hold. */
static void check_check(const request *q, json_t *ans) {
    size_t skip = strspn(q->body, " \t\r\n");
    if (q->body[skip] == '[') check_batch(q, ans);
    else check_verdict(ans);
}

static void check_json(const request *q, const sg_serve_resp *r) {
    CHECK(r->len == strlen(r->body)); /* sent as r->len bytes: no NUL */
    json_error_t e;
    json_t *o = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &e);
    CHECK(o);
    if (r->status >= 400) {
        CHECK(json_is_object(o) && json_is_string(json_object_get(o, "error")));
    } else if (!strcmp(q->path, "/v1/check")) {
        check_check(q, o);
    } else if (!strcmp(q->path, "/healthz")) {
        const char *st = json_string_value(json_object_get(o, "status"));
        CHECK(st && !strcmp(st, "ok"));
    } else {
        CHECK(json_is_object(o));
    }
    json_decref(o);
}

static void check_resp(const request *q, const sg_serve_resp *r) {
    CHECK(status_ok(r->status));
    CHECK(r->body && r->len > 0);
    CHECK((r->allow != NULL) == (r->status == 405));
    if (!strcmp(q->path, "/healthz") && !strcmp(q->method, "GET")) CHECK(r->status == 200);
    if (!r->content_type) {
        check_json(q, r);
    } else if (!strcmp(q->path, "/metrics")) { /* Prometheus text */
        CHECK(r->status == 200 && !strncmp(r->content_type, "text/plain", 10));
        CHECK(r->len == strlen(r->body) && r->body[r->len - 1] == '\n');
    } else { /* a dashboard file */
        CHECK(r->status == 200 && sg_serve_enforce_public(q->method, q->path));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (++runs % RENEW == 0) {
        serve_free(srv);
        srv = serve_new();
    }
    request q;
    split(data, size, &q);
    sg_serve_resp r = {0};
    sg_serve_api(srv, q.method, q.path, q.body, q.len, &r);
    if (trace) /* SG_FUZZ_SERVE_TRACE=1: what each input was answered */
        fprintf(stderr, "%s %s -> %u %.200s\n", q.method, q.path, r.status,
                r.body ? r.body : "(null)");
    check_resp(&q, &r);
    free(r.body);
    request_free(&q);
    return 0;
}
