/*
 * serve_http.c -- the HTTP layer of `spimguard serve` (libmicrohttpd, a
 * thread pool with epoll): binds the configured address, collects request
 * bodies up to max_body_bytes, checks the bearer token (all but /healthz),
 * refuses new requests while draining, hands the rest to sg_serve_api and
 * sends its JSON answer.  Its own acceptor thread deals the connections
 * to MHD's workers in turn.  A batch check is run on a request thread
 * (serve_offload.c) while its connection is suspended, so that the HTTP
 * worker goes on with its other connections.  It never calls the engine
 * itself.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"
#include "serve_enforce.h"

/* A body is first allocated at its Content-Length (one allocation, no
 * regrowth and copies), but never above this before its bytes arrive. */
#define DECLARED_MAX ((size_t)1 << 20)

/* Where a request is: its body still coming (or answered inline), or
 * handed to a request thread, or answered by one and ready to send. */
enum { REQ_COLLECT, REQ_RUNNING, REQ_DONE };

/* Per-request state, kept in MHD's *con_cls from the first call on. */
typedef struct req {
    sg_serve_job job;   /* first: the request thread's job is the request */
    sg_serve *s;
    struct MHD_Connection *conn;
    atomic_int state;   /* REQ_*: a request thread sets REQ_DONE */
    sg_serve_resp resp; /* the answer a request thread made */
    char *body;
    size_t len, cap;
    size_t limit;       /* max_body_bytes when the request started */
    size_t declared;    /* Content-Length (0: none), at most DECLARED_MAX:
                           the body's first size */
    bool counted;       /* in s->inflight: its body is complete and it is
                           being answered (a client that never finishes its
                           body does not hold up a SIGTERM's drain) */
    bool too_big;
    uint64_t t0_ns;
} req;

/* Cut s (len bytes, NUL-terminated) back to its last whole UTF-8
 * character: vsnprintf may have cut a message inside one, and an error
 * answer is JSON, which must be UTF-8 (found by fuzz_serve_api). */
static void utf8_cut_tail(char *s, size_t len) {
    size_t i = len;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--;
    if (i == 0) return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (len - (i - 1) < need) s[i - 1] = '\0';
}

void sg_serve_error(sg_serve_resp *r, unsigned status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof msg) utf8_cut_tail(msg, sizeof msg - 1);
    /* jansson escapes the message and refuses one that is not UTF-8 */
    json_t *o = json_pack("{s:s}", "error", msg);
    if (!o) o = json_pack("{s:s}", "error", "request refused (the reason is not UTF-8)");
    free(r->body);
    r->status = status;
    r->content_type = NULL;
    r->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    r->len = r->body ? strlen(r->body) : 0;
}

void sg_serve_json(sg_serve_resp *r, unsigned status, json_t *o) {
    char *js = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))
                 : NULL;
    json_decref(o);
    if (!js) { sg_serve_error(r, 500, "out of memory"); return; }
    free(r->body);
    r->status = status;
    r->body = js;
    r->len = strlen(js);
}

static enum MHD_Result send_resp(sg_serve *s, struct MHD_Connection *c,
                                 sg_serve_resp *r) {
    if (!r->body) {
        r->status = 500;
        r->body = strdup("{\"error\":\"out of memory\"}");
        r->len = r->body ? strlen(r->body) : 0;
        r->content_type = NULL;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->len, r->body ? r->body : (char *)"", MHD_RESPMEM_MUST_FREE);
    if (!resp) { free(r->body); return MHD_NO; }
    MHD_add_response_header(resp, "Content-Type",
                            r->content_type ? r->content_type : "application/json");
    if (r->allow) MHD_add_response_header(resp, "Allow", r->allow);
    if (r->status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"spimguard\"");
    if (atomic_load(&s->draining))
        MHD_add_response_header(resp, "Connection", "close");
    unsigned cls = r->status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add_explicit(&s->metrics.http[cls], 1, memory_order_relaxed);
    enum MHD_Result ok = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* Constant-time comparison of the Authorization header with the token. */
static bool authorized(sg_serve *s, struct MHD_Connection *c) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    pthread_rwlock_rdlock(&s->cfg_lock);
    const char *tok = s->cfg.token;
    bool ok = !*tok;
    if (!ok && h && !strncasecmp(h, "Bearer ", 7)) {
        h += 7;
        while (*h == ' ') h++;
        size_t n = strlen(tok);
        ok = strlen(h) == n && sodium_memcmp(h, tok, n) == 0;
    }
    pthread_rwlock_unlock(&s->cfg_lock);
    return ok;
}

/* First call of a request: allocate its state; refuse a declared body over
 * the limit at once. */
static req *req_start(sg_serve *s, struct MHD_Connection *c) {
    req *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->t0_ns = sg_serve_mono_ns();
    pthread_rwlock_rdlock(&s->cfg_lock);
    q->limit = (size_t)s->cfg.max_body_bytes;
    pthread_rwlock_unlock(&s->cfg_lock);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    unsigned long long want = cl ? strtoull(cl, NULL, 10) : 0;
    if (want > q->limit) q->too_big = true;
    else q->declared = want < DECLARED_MAX ? (size_t)want : DECLARED_MAX;
    return q;
}

static void req_append(req *q, const char *data, size_t n) {
    if (q->too_big) return;
    if (q->len + n > q->limit) {
        q->too_big = true;
        free(q->body);
        q->body = NULL;
        q->len = q->cap = 0;
        return;
    }
    if (q->len + n + 1 > q->cap) {
        size_t cap = q->cap ? q->cap : q->declared >= 4096 ? q->declared + 1 : 4096;
        while (cap < q->len + n + 1) cap *= 2;
        char *p = realloc(q->body, cap);
        if (!p) { q->too_big = true; return; }
        q->body = p;
        q->cap = cap;
    }
    memcpy(q->body + q->len, data, n);
    q->len += n;
    q->body[q->len] = '\0';
}

static bool is_check(const char *method, const char *url) {
    return !strcmp(method, "POST") && !strcmp(url, "/v1/check");
}

static void dispatch(sg_serve *s, struct MHD_Connection *c, const char *url,
                     const char *method, req *q, sg_serve_resp *r) {
    bool health = !strcmp(url, "/healthz") || /* and the dashboard's static files */
                  sg_serve_enforce_public(method, url);
    if (atomic_load(&s->draining) && !health)
        sg_serve_error(r, 503, "shutting down");
    else if (!health && !authorized(s, c))
        sg_serve_error(r, 401, "missing or wrong bearer token");
    else if (q->too_big)
        sg_serve_error(r, 413, "request body larger than %zu bytes", q->limit);
    else
        sg_serve_api(s, method, url, q->body ? q->body : "", q->len, r);
}

/* Whether a body is a batch (a JSON array). */
static bool is_batch(const req *q) {
    return q->len && q->body[strspn(q->body, " \t\r\n")] == '[';
}

static void latency(sg_serve *s, const char *method, const char *url,
                    const req *q, const sg_serve_resp *r) {
    if (is_check(method, url) && r->status == 200)
        sg_serve_metrics_latency(&s->metrics, is_batch(q) ? SG_SERVE_BATCH : SG_SERVE_SINGLE,
                                 sg_serve_mono_ns() - q->t0_ns);
}

/* On a request thread: answer the batch, then wake its connection, whose
 * worker calls on_request again and sends the answer. */
static void run_batch(sg_serve_job *j) {
    req *q = (req *)j;
    sg_serve_api(q->s, "POST", "/v1/check", q->body, q->len, &q->resp);
    atomic_store(&q->state, REQ_DONE);
    MHD_resume_connection(q->conn);
}

/* Hand an authorized batch check to a request thread, its connection
 * suspended meanwhile (when the queue is full, run it on this worker,
 * still through the suspended connection); false when there are no
 * request threads (answer it inline). */
static bool offload(sg_serve *s, struct MHD_Connection *c, const char *url,
                    const char *method, req *q) {
    if (!s->offload || !is_check(method, url) || !is_batch(q) || q->too_big ||
        atomic_load(&s->draining) || !authorized(s, c))
        return false;
    q->s = s;
    q->conn = c;
    q->job.run = run_batch;
    atomic_store(&q->state, REQ_RUNNING);
    MHD_suspend_connection(c); /* before the job can run: it resumes */
    if (!sg_serve_offload_submit(s->offload, &q->job))
        run_batch(&q->job); /* queue full or stopping: here, the same way */
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *data_size, void **con_cls) {
    sg_serve *s = cls;
    req *q = *con_cls;
    if (!q) {
        if (!(q = req_start(s, c))) return MHD_NO;
        *con_cls = q;
        if (!q->too_big) return MHD_YES;
    }
    if (*data_size) {
        /* A chunked body over the limit is read and dropped to its end:
         * MHD takes no response in the middle of an upload. */
        req_append(q, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    if (!q->counted) { /* the whole request is here: now it is in flight */
        q->counted = true;
        atomic_fetch_add(&s->inflight, 1);
    }
    int state = atomic_load(&q->state);
    if (state == REQ_RUNNING) return MHD_YES; /* woken early: still running */
    if (state == REQ_DONE) {
        sg_serve_resp r = q->resp;
        q->resp.body = NULL; /* send_resp frees it */
        atomic_store(&q->state, REQ_COLLECT);
        latency(s, method, url, q, &r);
        return send_resp(s, c, &r);
    }
    if (offload(s, c, url, method, q)) return MHD_YES;
    sg_serve_resp r = {0};
    dispatch(s, c, url, method, q, &r);
    latency(s, method, url, q, &r);
    return send_resp(s, c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    sg_serve *s = cls;
    req *q = *con_cls;
    if (!q) return;
    bool counted = q->counted;
    free(q->resp.body);
    free(q->body);
    free(q);
    *con_cls = NULL;
    if (counted) atomic_fetch_sub(&s->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    sg_serve_log("http: %s", line);
}

/* Parse listen/port into a socket address; *v6 set for IPv6. */
static int bind_addr(const sg_serve *s, struct sockaddr_storage *ss, bool *v6) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    const char *host = s->cfg.listen;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)s->cfg.port);
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)s->cfg.port);
        *v6 = true;
        return 0;
    }
    sg_serve_log("listen: \"%s\" is not an IPv4 or IPv6 address", host);
    return -1;
}

/* The listening socket on the configured address; -1 after logging why. */
static int listen_on(sg_serve *s) {
    struct sockaddr_storage ss;
    bool v6;
    if (bind_addr(s, &ss, &v6)) return -1;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd >= 0 && v6) /* "::" is IPv6 only, as libmicrohttpd bound it */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 1024)) {
        sg_serve_log("cannot listen on %s port %ld: %s", s->cfg.listen, s->cfg.port,
                     strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* The acceptor thread: accept connections and hand each to MHD, which
 * gives it to a worker by its socket number modulo the workers, so a
 * client's connections opened together (consecutive socket numbers) are
 * spread over the workers.  (With MHD's own listening socket the first
 * worker to wake takes up to ten pending connections: a client's
 * connections often all landed on one worker, and single checks then used
 * one core.)  Ends when sg_serve_http_quiesce shuts the socket down; any
 * other error is logged (once per kind) and retried: a failed accept must
 * not leave a running daemon that answers nobody. */
static void *acceptor(void *arg) {
    sg_serve *s = arg;
    int last_errno = 0;
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(s->listen_fd, (struct sockaddr *)&peer, &plen,
                         SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            /* at the connection limit or out of memory MHD logs why and
             * closes the socket itself */
            (void)MHD_add_connection(s->mhd, fd, (struct sockaddr *)&peer, plen);
            continue;
        }
        if (atomic_load(&s->accept_stop)) break; /* shut down: quiescing */
        int e = errno;
        if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;
        if (e != last_errno) sg_serve_log("accept: %s (retrying)", strerror(e));
        last_errno = e;
        struct timespec d = {0, 10 * 1000 * 1000}; /* e.g. out of sockets: wait */
        nanosleep(&d, NULL);
    }
    return NULL;
}

int sg_serve_http_start(sg_serve *s) {
    s->listen_fd = listen_on(s);
    if (s->listen_fd < 0) return -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_USE_ITC | MHD_USE_TURBO | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, s->threads,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
        MHD_OPTION_END);
    if (!s->mhd) {
        sg_serve_log("cannot start the HTTP server");
        close(s->listen_fd);
        s->listen_fd = -1;
        return -1;
    }
    if (pthread_create(&s->acceptor, NULL, acceptor, s)) {
        sg_serve_log("cannot start the acceptor thread");
        return -1;
    }
    s->acceptor_running = true;
    return 0;
}

unsigned sg_serve_http_port(sg_serve *s) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (s->listen_fd < 0 || getsockname(s->listen_fd, (struct sockaddr *)&ss, &len))
        return 0;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

void sg_serve_http_quiesce(sg_serve *s) {
    if (s->listen_fd < 0) return;
    atomic_store(&s->accept_stop, true);
    shutdown(s->listen_fd, SHUT_RDWR); /* wakes the acceptor's accept() */
    if (s->acceptor_running) pthread_join(s->acceptor, NULL);
    s->acceptor_running = false;
    close(s->listen_fd);
    s->listen_fd = -1;
}

void sg_serve_http_stop(sg_serve *s) {
    sg_serve_http_quiesce(s);
    if (s->mhd) MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}
