/*
 * bench_serve.c -- load generator for `spimguard serve`: C keep-alive
 * HTTP/1.1 connections on loopback, one request in flight each (closed
 * loop), driven by one epoll thread, sending real messages (JSONL with a
 * "text" field, e.g. the SMS Spam Collection test split) as single checks
 * or as batches.  Prints requests/s, messages/s, latency percentiles,
 * errors, the daemon's CPU time per message (in all, and in the prepare and
 * judge phases, from its /metrics) and its RSS over the run (flat = no
 * leak).  Every response is checked without building a JSON
 * tree (so the client stays cheap): status 200, and a body that holds one
 * verdict per message sent (top-level objects counted with a string-aware
 * scan; an element {"error": ...} counts as an error).  Bounded in time and
 * count; talks to 127.0.0.1 only.
 *
 *   bench_serve [--spawn BUILD/spimguard [--model F] [--store URI]
 *                | --port P [--pid PID]]
 *               [--data FILE.jsonl] [--mode single|batch] [--batch N]
 *               [--conns C] [--seconds S] [--max-requests N] [--token T]
 *               [--rss-every S]   (print the daemon's RSS every S seconds)
 * Defaults: spawn the spimguard beside this program with the memory store,
 * the shared SMS test split, single checks, 8 connections, 10 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_corpus.h"

typedef struct opts {
    const char *spawn, *model, *data, *mode, *token, *store;
    int port, conns, batch;
    pid_t pid, watch;
    double seconds, rss_every;
    long max_requests;
} opts;

typedef struct conn {
    int fd;
    char *req;            /* the request being sent (points into reqs) */
    size_t req_len, sent;
    char buf[1 << 14];    /* response header bytes */
    size_t got;
    bool head_done;
    int status;
    long body_left;       /* body bytes still to read */
    char *body;           /* the response body so far */
    size_t body_len, body_cap;
    uint64_t t0;
} conn;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

/* ------------------------------------------------------------ requests */

static json_t *message(char **texts, size_t ntexts, size_t i) {
    char from[32], to[32], id[32];
    bool contact = bench_stream_msg(i, from, to, id);
    return json_pack("{s:s, s:s, s:s, s:b, s:s}", "id", id, "from", from, "to", to,
                     "contact", (int)contact, "text", texts[i % ntexts]);
}

/* Pre-render `n` complete HTTP requests. */
static char **make_requests(const opts *o, char **texts, size_t ntexts, size_t n,
                            size_t *lens) {
    char **r = calloc(n, sizeof *r);
    bool batch = !strcmp(o->mode, "batch");
    size_t msg = 0;
    for (size_t i = 0; r && i < n; i++) {
        json_t *body = batch ? json_array() : message(texts, ntexts, msg++);
        for (int k = 0; batch && k < o->batch; k++)
            json_array_append_new(body, message(texts, ntexts, msg++));
        char *js = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        int len = asprintf(&r[i], "POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                           "Content-Length: %zu\r\n\r\n%s", o->token, strlen(js), js);
        free(js);
        lens[i] = len > 0 ? (size_t)len : 0;
    }
    return r;
}

/* ------------------------------------------------------------ daemon */

static long rss_kib(pid_t pid) {
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kib = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kib;
}

/* CPU time (user + system) the process has used, seconds; -1 unknown. */
static double cpu_seconds(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                     &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/* A counter of the daemon's /metrics (the first sample of `name`), or -1
 * when it cannot be read (an older daemon without it). */
static double metric(const opts *o, const char *name) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(o->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char req[512], *buf = malloc(1 << 20);
    int rl = snprintf(req, sizeof req, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Authorization: Bearer %s\r\nConnection: close\r\n\r\n", o->token);
    size_t got = 0;
    ssize_t k;
    if (buf && write(fd, req, (size_t)rl) == rl)
        while (got < (1 << 20) - 1 && (k = read(fd, buf + got, (1 << 20) - 1 - got)) > 0)
            got += (size_t)k;
    close(fd);
    double v = -1;
    if (buf) {
        buf[got] = '\0';
        size_t nl = strlen(name);
        for (char *p = buf; (p = strstr(p, name)); p += nl)
            if ((p == buf || p[-1] == '\n') && p[nl] == ' ') { v = atof(p + nl + 1); break; }
    }
    free(buf);
    return v;
}

/* Start `spimguard serve` on a free port; returns its pid, sets o->port. */
static pid_t spawn(opts *o) {
    char log[] = "/tmp/bench_serve.XXXXXX";
    int lfd = mkstemp(log);
    if (lfd < 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(lfd, 2);
        char *argv[] = {(char *)o->spawn, "serve", "--port", "0", "--token",
                        (char *)o->token, "--store", (char *)o->store,
                        o->model ? "--model" : NULL, (char *)o->model, NULL};
        execv(o->spawn, argv);
        _exit(127);
    }
    for (int i = 0; pid > 0 && i < 200 && !o->port; i++) {
        usleep(50000);
        char buf[8192] = "";
        ssize_t n = pread(lfd, buf, sizeof buf - 1, 0);
        char *p = n > 0 ? strstr(buf, "listening on") : NULL;
        if (p && (p = strstr(p, " port "))) o->port = atoi(p + 6);
    }
    close(lfd);
    unlink(log);
    return o->port ? pid : -1;
}

/* ------------------------------------------------------------ client */

static int dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void body_add(conn *c, const char *p, size_t n) {
    if (c->body_len + n > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 1 << 16;
        while (cap < c->body_len + n) cap *= 2;
        char *b = realloc(c->body, cap);
        if (!b) return;
        c->body = b;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, p, n);
    c->body_len += n;
}

/* Parse the header once it is complete: status and body bytes still due;
 * body bytes that came with the header are kept. */
static void parse_head(conn *c) {
    c->buf[c->got] = '\0';
    const char *end = memmem(c->buf, c->got, "\r\n\r\n", 4);
    if (!end) return;
    c->head_done = true;
    c->status = atoi(c->buf + 9);
    const char *cl = strcasestr(c->buf, "content-length:");
    long body = cl && cl < end ? strtol(cl + 15, NULL, 10) : 0;
    size_t have = c->got - (size_t)(end - c->buf) - 4;
    body_add(c, end + 4, have);
    c->body_left = body - (long)have;
}

/* Verdicts in a response body: 1 for a single verdict object, the number
 * of top-level objects for a batch array; elements that are {"error": ...}
 * are counted in *bad.  A scan that skips strings, no JSON tree. */
static long count_verdicts(const char *p, size_t n, long *bad) {
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t')) i++;
    if (i == n) return 0;
    if (p[i] == '{') {
        bool err = n - i > 8 && !memcmp(p + i, "{\"error\"", 8);
        *bad += err;
        return err ? 0 : 1;
    }
    if (p[i] != '[') return 0;
    long count = 0;
    int depth = 0;
    bool str = false;
    for (; i < n; i++) {
        char ch = p[i];
        if (str) {
            if (ch == '\\') i++;
            else if (ch == '"') str = false;
            continue;
        }
        if (ch == '"') {
            str = true;
        } else if (ch == '{' || ch == '[') {
            if (depth++ == 1 && ch == '{') {
                bool err = n - i > 8 && !memcmp(p + i, "{\"error\"", 8);
                *bad += err;
                count += !err;
            }
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return depth == 0 ? count : 0;
}

typedef struct run {
    char **reqs;
    size_t *lens, nreqs, next;
    long per;            /* messages per request: verdicts expected */
    long verdicts;       /* verdicts received and counted */
    uint64_t *lat;       /* ns per completed request */
    size_t nlat, caplat;
    long errors;
} run;

static void send_next(run *r, conn *c) {
    size_t i = r->next++ % r->nreqs;
    c->req = r->reqs[i];
    c->req_len = r->lens[i];
    c->sent = c->got = 0;
    c->head_done = false;
    c->body_left = 0;
    c->body_len = 0;
    c->t0 = now_ns();
}

/* Write what is pending, read what has come; true when a response ended. */
static bool pump(run *r, conn *c) {
    while (c->sent < c->req_len) {
        ssize_t n = write(c->fd, c->req + c->sent, c->req_len - c->sent);
        if (n <= 0) return false;
        c->sent += (size_t)n;
    }
    char sink[1 << 16];
    for (;;) {
        ssize_t n = c->head_done ? read(c->fd, sink, sizeof sink)
                                 : read(c->fd, c->buf + c->got, sizeof c->buf - c->got - 1);
        if (n <= 0) break;
        if (c->head_done) c->body_left -= n, body_add(c, sink, (size_t)n);
        else { c->got += (size_t)n; parse_head(c); }
        if (!c->head_done && c->got >= sizeof c->buf - 1) { r->errors++; c->got = 0; }
    }
    if (!c->head_done || c->body_left > 0) return false;
    long bad = 0, got = count_verdicts(c->body, c->body_len, &bad);
    r->verdicts += got;
    if (c->status != 200 || got != r->per || bad) r->errors++;
    if (r->nlat < r->caplat) r->lat[r->nlat++] = now_ns() - c->t0;
    return true;
}

static int drive(const opts *o, run *r) {
    int ep = epoll_create1(0);
    conn *cs = calloc(o->conns, sizeof *cs);
    for (int i = 0; i < o->conns; i++) {
        if ((cs[i].fd = dial(o->port)) < 0) { fprintf(stderr, "connect failed\n"); return -1; }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        send_next(r, &cs[i]);
    }
    uint64_t start = now_ns(), end = start + (uint64_t)(o->seconds * 1e9);
    uint64_t next_rss = start + (uint64_t)(o->rss_every * 1e9);
    long done = 0;
    while (now_ns() < end && done < o->max_requests) {
        if (o->rss_every > 0 && o->watch && now_ns() >= next_rss) {
            printf("  t=%4.0f s  requests %ld  errors %ld  daemon RSS %.1f MiB\n",
                   (now_ns() - start) / 1e9, done, r->errors, rss_kib(o->watch) / 1024.0);
            fflush(stdout);
            next_rss += (uint64_t)(o->rss_every * 1e9);
        }
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLERR | EPOLLHUP)) { r->errors++; return -1; }
            while (pump(r, c)) { done++; send_next(r, c); }
        }
    }
    for (int i = 0; i < o->conns; i++) close(cs[i].fd), free(cs[i].body);
    free(cs);
    close(ep);
    return 0;
}

/* ------------------------------------------------------------ report */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double pct(const run *r, double q) {
    if (!r->nlat) return 0;
    size_t i = (size_t)(q * (r->nlat - 1));
    return r->lat[i] / 1e6;
}

static void usage(void) {
    fprintf(stderr, "usage: bench_serve (--spawn SPIMGUARD [--model F] [--store URI] | --port P [--pid PID])\n"
                    "  --data FILE.jsonl [--mode single|batch] [--batch N] [--conns C]\n"
                    "  [--seconds S] [--max-requests N] [--token T] [--rss-every S]\n");
}

/* Without --spawn/--port: the spimguard beside this program; without
 * --data: the shared SMS test split as laid out beside the repository. */
static void defaults(opts *o) {
    static char exe[4096], bin[4200], data[4200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    snprintf(bin, sizeof bin, "%s/spimguard", exe);
    snprintf(data, sizeof data, "%s/../../shared/data/sms_spam_collection/test.jsonl", exe);
    if (!o->spawn && !o->port) o->spawn = bin;
    if (!o->data && access(data, R_OK) == 0) o->data = data;
}

static int parse(int argc, char **argv, opts *o) {
    static const struct option lo[] = {
        {"spawn", 1, 0, 'S'}, {"model", 1, 0, 'm'}, {"port", 1, 0, 'p'}, {"pid", 1, 0, 'P'},
        {"data", 1, 0, 'd'}, {"mode", 1, 0, 'M'}, {"batch", 1, 0, 'b'}, {"conns", 1, 0, 'c'},
        {"seconds", 1, 0, 's'}, {"max-requests", 1, 0, 'n'}, {"token", 1, 0, 't'},
        {"rss-every", 1, 0, 'r'}, {"store", 1, 0, 'T'}, {0, 0, 0, 0}};
    *o = (opts){.mode = "single", .token = "bench", .store = "memory:", .conns = 8, .batch = 100,
                .seconds = 10, .max_requests = 100000000};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'S': o->spawn = optarg; break;
        case 'm': o->model = optarg; break;
        case 'p': o->port = atoi(optarg); break;
        case 'P': o->pid = atoi(optarg); break;
        case 'd': o->data = optarg; break;
        case 'M': o->mode = optarg; break;
        case 'b': o->batch = atoi(optarg); break;
        case 'c': o->conns = atoi(optarg); break;
        case 's': o->seconds = atof(optarg); break;
        case 'n': o->max_requests = atol(optarg); break;
        case 't': o->token = optarg; break;
        case 'r': o->rss_every = atof(optarg); break;
        case 'T': o->store = optarg; break;
        default: return -1;
        }
    }
    defaults(o);
    bool mode_ok = !strcmp(o->mode, "single") || !strcmp(o->mode, "batch");
    return (!o->data || (!o->spawn && !o->port) || !mode_ok || o->conns < 1 ||
            o->conns > 1000 || o->batch < 1 || o->seconds <= 0 || o->seconds > 3600) ? -1 : 0;
}

static void print_report(const opts *o, run *r, double secs, long rss0, long rss1,
                         double cpu, const double phase[2]) {
    qsort(r->lat, r->nlat, sizeof *r->lat, cmp_u64);
    size_t per = !strcmp(o->mode, "batch") ? (size_t)o->batch : 1;
    printf("mode %s%s, %d connections, %.1f s: %zu requests, %.0f requests/s, %.0f messages/s\n",
           o->mode, per > 1 ? "" : " check", o->conns, secs, r->nlat, r->nlat / secs,
           r->nlat * per / secs);
    printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", pct(r, 0.5),
           pct(r, 0.9), pct(r, 0.99), pct(r, 0.999), pct(r, 1.0));
    printf("errors: %ld (responses not 200 or without one verdict per message); "
           "verdicts counted: %ld\n", r->errors, r->verdicts);
    if (cpu >= 0 && r->nlat)
        printf("daemon CPU: %.1f us per request, %.1f us per message (%.2f cores busy)\n",
               cpu * 1e6 / r->nlat, cpu * 1e6 / (r->nlat * per), cpu / secs);
    if (phase[0] >= 0 && phase[1] >= 0 && r->verdicts)
        printf("daemon phases: prepare %.1f us, judge %.1f us per message (thread CPU; "
               "the judge phase holds the engine lock)\n",
               phase[0] * 1e6 / r->verdicts, phase[1] * 1e6 / r->verdicts);
    if (rss0 > 0) printf("daemon RSS: %.1f MiB after warm-up, %.1f MiB at the end (%+.1f MiB)\n",
                         rss0 / 1024.0, rss1 / 1024.0, (rss1 - rss0) / 1024.0);
}

int main(int argc, char **argv) {
    opts o;
    if (parse(argc, argv, &o)) { usage(); return 2; }
    signal(SIGPIPE, SIG_IGN);
    size_t ntexts = 0;
    char **texts = bench_load_texts(o.data, &ntexts);
    if (!texts || !ntexts) { fprintf(stderr, "no texts in %s\n", o.data); return 1; }
    run r = {.nreqs = 4096, .per = !strcmp(o.mode, "batch") ? o.batch : 1};
    r.lens = calloc(r.nreqs, sizeof *r.lens);
    r.reqs = make_requests(&o, texts, ntexts, r.nreqs, r.lens);
    double cap = o.seconds * 200000.0; /* latencies kept: 200k requests/s */
    r.caplat = cap < 1e6 ? 1000000 : cap > 2e7 ? 20000000 : (size_t)cap;
    r.lat = malloc(r.caplat * sizeof *r.lat);
    pid_t child = o.spawn ? spawn(&o) : 0;
    if (o.spawn && child <= 0) { fprintf(stderr, "cannot start %s serve\n", o.spawn); return 1; }
    pid_t watch = o.watch = child ? child : o.pid;
    opts warm = o;
    warm.seconds = o.seconds > 10 ? 2 : 0.5;
    warm.rss_every = 0;
    run w = r;                       /* warm-up: fill caches, then measure */
    drive(&warm, &w);
    r.next = w.next;
    r.errors = w.errors;
    r.verdicts = 0;
    r.nlat = 0;
    long rss0 = watch ? rss_kib(watch) : -1;
    double cpu0 = watch ? cpu_seconds(watch) : -1;
    double ph0[2] = {metric(&o, "spimguard_prepare_cpu_seconds_total"),
                     metric(&o, "spimguard_judge_cpu_seconds_total")};
    uint64_t t0 = now_ns();
    int rc = drive(&o, &r);
    double secs = (now_ns() - t0) / 1e9;
    long rss1 = watch ? rss_kib(watch) : -1;
    double cpu = watch && cpu0 >= 0 ? cpu_seconds(watch) - cpu0 : -1;
    double ph[2] = {metric(&o, "spimguard_prepare_cpu_seconds_total") - ph0[0],
                    metric(&o, "spimguard_judge_cpu_seconds_total") - ph0[1]};
    if (ph0[0] < 0 || ph0[1] < 0) ph[0] = ph[1] = -1;
    print_report(&o, &r, secs, rss0, rss1, cpu, ph);
    if (child) {
        int st = 0;
        kill(child, SIGTERM);
        waitpid(child, &st, 0);
        printf("daemon exit status after SIGTERM: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) rc = -1;
    }
    for (size_t i = 0; i < r.nreqs; i++) free(r.reqs[i]);
    for (size_t i = 0; i < ntexts; i++) free(texts[i]);
    free(r.reqs);
    free(r.lens);
    free(r.lat);
    free(texts);
    return rc || r.errors ? 1 : 0;
}
