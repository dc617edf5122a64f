/*
 * bench_store.c -- speed and size of the state store backends (store.h):
 * single get / put / incr, one message's group (read a profile, bump three
 * windowed counters, write the profile back, commit), the same message
 * pipelined as one batch, 32 messages per batch, and the bytes each key
 * costs.  With no argument it runs memory, LMDB (in a temporary directory)
 * and, when redis-server is installed, a private Redis server and a private
 * 3-master Redis Cluster on loopback ports (tests/redis_harness.h).
 *
 *   bench_store [-t SECONDS_PER_CASE] [URI...]
 *   bench_store -r ACCOUNTS DIR   time to reopen an LMDB directory holding
 *                                 ACCOUNTS accounts (filled first if empty)
 *   bench_store -e CORPUS.jsonl [-g N [-p]] URI...
 *                                 sg_check over the corpus (3 passes) with
 *                                 each store: checks/s and store calls per
 *                                 check; -g N wraps N checks in one outer
 *                                 group (one commit for N messages); -p
 *                                 judges each group as the daemon does a
 *                                 batch: prepare all N, read ahead for all
 *                                 of them (sg__behav_prefetch_batch), judge;
 *                                 -s PID[,PID...] adds the CPU those
 *                                 processes (the redis-servers) spent per
 *                                 check, from /proc (column srv-us)
 *
 * Each case runs for a fixed time (default 0.3 s) and prints ops/s.
 */
#include "../tests/redis_harness.h"
#include "behavior.h"
#include "sg_internal.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW 1700000000000LL /* message time of the run */
#define WINDOW 600000       /* counters live 10 minutes */
#define NACCT 50000         /* accounts the cases spread over */
#define PROFILE 64          /* bytes of an account profile */

static double budget = 0.3;
static uint32_t NACCT_RUN = NACCT; /* accounts the random cases pick from */

static double secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process (user + system, e.g. LMDB's writes): per-core
 * cost that other load on the machine does not inflate. */
static double cpu_secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t acct_key(char *buf, size_t cap, uint32_t i, const char *suffix) {
    return (size_t)snprintf(buf, cap, "acct:{user%u@im.example.org}%s", i, suffix);
}

static uint32_t rnd(void) {
    static uint32_t x = 2463534242u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

/* Run `one` (which does `per_call` ops) until the budget is spent;
 * returns ops per second, or -1 on the first failure. */
typedef int (*case_fn)(sg_store *s, uint32_t i);

static double timed(sg_store *s, case_fn one, int per_call) {
    double t0 = secs(), t;
    uint64_t calls = 0;
    do {
        for (int k = 0; k < 64; k++, calls++)
            if (one(s, rnd() % NACCT_RUN)) {
                fprintf(stderr, "  failed: %s\n", sg__store_errmsg(s));
                return -1;
            }
    } while ((t = secs() - t0) < budget);
    return (double)calls * per_call / t;
}

/* ------------------------------------------------------------ cases */

static unsigned char profile[PROFILE];

static int case_put(sg_store *s, uint32_t i) {
    char k[64];
    size_t n = acct_key(k, sizeof k, i, "");
    return sg__store_put(s, k, n, profile, sizeof profile, 0, NOW);
}

static int case_get(sg_store *s, uint32_t i) {
    char k[64];
    unsigned char buf[PROFILE];
    size_t n = acct_key(k, sizeof k, i, ""), vlen;
    int rc = sg__store_get(s, k, n, buf, sizeof buf, &vlen, NOW);
    return rc == SG_ENOTFOUND ? SG_OK : rc;
}

static int case_incr(sg_store *s, uint32_t i) {
    char k[64];
    int64_t v;
    size_t n = acct_key(k, sizeof k, i, ":out");
    return sg__store_incr(s, k, n, 1, NOW + WINDOW, NOW, &v);
}

/* One message the way a detector pass touches state, call by call. */
static int case_message(sg_store *s, uint32_t i) {
    char k[64], c[64];
    unsigned char buf[PROFILE];
    size_t n = acct_key(k, sizeof k, i, ""), vlen;
    int64_t v;
    int rc = sg__store_begin(s);
    if (!rc) rc = sg__store_get(s, k, n, buf, sizeof buf, &vlen, NOW);
    if (rc == SG_ENOTFOUND) rc = SG_OK;
    static const char *ctr[3] = {":out", ":strangers", ":urls"};
    for (int j = 0; j < 3 && !rc; j++) {
        size_t cn = acct_key(c, sizeof c, i, ctr[j]);
        rc = sg__store_incr(s, c, cn, 1, NOW + WINDOW, NOW, &v);
    }
    if (!rc) rc = sg__store_put(s, k, n, profile, sizeof profile, 0, NOW);
    int crc = sg__store_commit(s);
    return rc ? rc : crc;
}

/* The ops of message i appended to ops[] (5 ops); keys live in kb. */
static void message_ops(sg_store_op *ops, char (*kb)[64], uint32_t i,
                        unsigned char *buf) {
    static const char *sfx[4] = {"", ":out", ":strangers", ":urls"};
    for (int j = 0; j < 4; j++) acct_key(kb[j], 64, i, sfx[j]);
    ops[0] = (sg_store_op){.op = SG_STORE_GET, .key = kb[0],
                           .klen = strlen(kb[0]), .buf = buf, .cap = PROFILE};
    for (int j = 1; j < 4; j++)
        ops[j] = (sg_store_op){.op = SG_STORE_INCR, .key = kb[j],
                               .klen = strlen(kb[j]), .delta = 1,
                               .expire_at_ms = NOW + WINDOW};
    ops[4] = (sg_store_op){.op = SG_STORE_PUT, .key = kb[0],
                           .klen = strlen(kb[0]), .val = profile,
                           .vlen = PROFILE};
}

/* One message as one batch (its reads in one round trip) + commit. */
static int case_message_batch(sg_store *s, uint32_t i) {
    sg_store_op ops[5];
    char kb[4][64];
    unsigned char buf[PROFILE];
    message_ops(ops, kb, i, buf);
    int rc = sg__store_begin(s);
    if (!rc) rc = sg__store_batch(s, ops, 5, NOW);
    int crc = sg__store_commit(s);
    return rc ? rc : crc;
}

/* 32 messages in one batch and one group: what a daemon that batches its
 * requests can do.  Counts as 32 calls. */
#define MB 32
static int case_32_messages(sg_store *s, uint32_t i) {
    static sg_store_op ops[MB * 5];
    static char kb[MB * 4][64];
    static unsigned char buf[MB][PROFILE];
    for (int m = 0; m < MB; m++)
        message_ops(ops + m * 5, kb + m * 4, (i + (uint32_t)m * 7919) % NACCT_RUN, buf[m]);
    int rc = sg__store_begin(s);
    if (!rc) rc = sg__store_batch(s, ops, MB * 5, NOW);
    int crc = sg__store_commit(s);
    return rc ? rc : crc;
}

/* ------------------------------------------------------------ size */

/* Bytes per key: write NACCT accounts (a 64-byte profile and three
 * windowed counters each) and divide the growth of stats() by the keys. */
static void measure_size(sg_store *s, double *per_key, double *per_acct) {
    uint64_t k0, b0, k1, b1;
    sg__store_stats(s, &k0, &b0);
    static unsigned char buf[MB][PROFILE];
    static sg_store_op ops[MB * 5];
    static char kb[MB * 4][64];
    for (uint32_t i = 0; i < NACCT; i += MB) {
        sg__store_begin(s);
        for (int m = 0; m < MB; m++)
            message_ops(ops + m * 5, kb + m * 4, (i + (uint32_t)m) % NACCT, buf[m]);
        sg__store_batch(s, ops, MB * 5, NOW);
        sg__store_commit(s);
    }
    sg__store_stats(s, &k1, &b1);
    double dk = (double)(k1 - k0);
    *per_key = dk > 0 ? (double)(b1 - b0) / dk : 0;
    *per_acct = (double)(b1 - b0) / NACCT;
}

/* ------------------------------------------------------------ driver */

static void wipe_redis(const int *idx, int n) {
    for (int i = 0; i < n; i++)
        if (idx[i] >= 0) rh_flush(idx[i]);
}

static void bench_uri(const char *label, const char *uri) {
    char err[200];
    sg_store *s = NULL;
    if (sg__store_open_uri(uri, &s, err, sizeof err)) {
        printf("%-14s cannot open: %s\n", label, err);
        return;
    }
    memset(profile, 'p', sizeof profile);
    double put = timed(s, case_put, 1), get = timed(s, case_get, 1),
           incr = timed(s, case_incr, 1), msg = timed(s, case_message, 1),
           msgb = timed(s, case_message_batch, 1),
           msg32 = timed(s, case_32_messages, MB);
    uint64_t moved, asks, refreshes;
    sg__store_cluster_counters(s, &moved, &asks, &refreshes);
    sg__store_free(s);
    printf("%-14s %10.0f %10.0f %10.0f %10.0f %10.0f %10.0f\n", label, put,
           get, incr, msg, msgb, msg32);
    if (refreshes)
        printf("%-14s (slot map read %llu times, %llu MOVED, %llu ASK)\n", "",
               (unsigned long long)refreshes, (unsigned long long)moved,
               (unsigned long long)asks);
    fflush(stdout);
}

static void size_uri(const char *label, const char *uri) {
    char err[200];
    sg_store *s = NULL;
    if (sg__store_open_uri(uri, &s, err, sizeof err)) return;
    double pk, pa;
    measure_size(s, &pk, &pa);
    sg__store_free(s);
    printf("%-14s %10.1f %12.1f\n", label, pk, pa);
}

/* Fill dir with n accounts (profile + 3 counters) unless it has them,
 * close it, then time opening it and answering the first reads: what a
 * restart of `serve` costs before it can judge messages. */
static int restart(uint32_t n, const char *dir) {
    sg_store *s = NULL;
    uint64_t keys = 0;
    double t0 = secs();
    if (sg__store_lmdb_new(dir, &s)) return 1;
    sg__store_stats(s, &keys, NULL);
    static unsigned char buf[MB][PROFILE];
    static sg_store_op ops[MB * 5];
    static char kb[MB * 4][64];
    for (uint32_t i = 0; keys < (uint64_t)n * 4 && i < n; i += MB) {
        sg__store_begin(s);
        for (int m = 0; m < MB; m++)
            message_ops(ops + m * 5, kb + m * 4, i + (uint32_t)m, buf[m]);
        sg__store_batch(s, ops, MB * 5, NOW);
        if (sg__store_commit(s)) return 1;
    }
    sg__store_stats(s, &keys, NULL);
    sg__store_free(s);
    printf("filled/checked %llu keys in %.1f s\n", (unsigned long long)keys,
           secs() - t0);
    t0 = secs();
    if (sg__store_lmdb_new(dir, &s)) return 1;
    double opened = secs() - t0;
    int found = 0;
    for (int i = 0; i < 1000; i++) found += case_get(s, rnd() % n) == SG_OK;
    double ready = secs() - t0;
    sg__store_free(s);
    printf("reopen: %.1f ms to open, %.1f ms to open + 1000 random reads "
           "(%d ok)\n", opened * 1e3, ready * 1e3, found);
    return 0;
}

/* ------------------------------------------------------------ engine */

static sg_store_ops counted, real_ops;
static uint64_t ncalls[3]; /* get, put+del, incr */

static int c_get(sg_store *s, const void *k, size_t kl, void *b, size_t c,
                 size_t *vl, int64_t now) {
    ncalls[0]++;
    return real_ops.get(s, k, kl, b, c, vl, now);
}
static int c_put(sg_store *s, const void *k, size_t kl, const void *v,
                 size_t vl, int64_t e, int64_t now) {
    ncalls[1]++;
    return real_ops.put(s, k, kl, v, vl, e, now);
}
static int c_incr(sg_store *s, const void *k, size_t kl, int64_t d, int64_t e,
                  int64_t now, int64_t *o) {
    ncalls[2]++;
    return real_ops.incr(s, k, kl, d, e, now, o);
}

static sg_message **load_corpus(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    sg_message **v = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    *n = 0;
    while (f && (len = getline(&line, &cap, f)) > 0) {
        sg_message *m, **nv = realloc(v, (*n + 1) * sizeof *v);
        if (!nv) break;
        v = nv;
        if (!sg_message_parse_json(line, (size_t)len, 0, SG_PARSE_LABELED, &m, NULL, 0) ||
            !sg_message_parse_json(line, (size_t)len, 0, 0, &m, NULL, 0))
            v[(*n)++] = m; /* a labelled corpus, or a stream (simulate) */
    }
    free(line);
    if (f) fclose(f);
    return v;
}

/* Judge msgs[r0 .. r0+k) (mod n) as one daemon batch: prepare all, read
 * ahead for all in the open group, judge each.  @return checks judged. */
static size_t judge_batch(sg_engine *e, sg_message **msgs, size_t n,
                          size_t r0, size_t k) {
    sg_ctx c[256];
    size_t ok = 0;
    if (k > 256) k = 256;
    for (size_t i = 0; i < k; i++) {
        sg_message_set_ts(msgs[(r0 + i) % n], NOW + (int64_t)(r0 + i) * 100);
        sg__check_prepare(e, msgs[(r0 + i) % n], &c[i], NULL);
    }
    sg__behav_prefetch_batch(e, c, k);
    for (size_t i = 0; i < k; i++) {
        sg_verdict *v;
        if (sg__check_judge(e, &c[i], &v) == SG_OK) {
            sg_verdict_free(v);
            ok++;
        }
        sg__ctx_free(&c[i]);
    }
    return ok;
}

/* CPU seconds (user + system) the processes of the comma-separated pid
 * list have used, from /proc/PID/stat (fields 14 and 15); 0 if none. */
static const char *server_pids;
static double server_cpu(void) {
    double t = 0;
    const char *p = server_pids;
    while (p && *p) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%ld/stat", strtol(p, NULL, 10));
        FILE *f = fopen(path, "r");
        size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f) fclose(f);
        buf[len] = '\0';
        char *q = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                        &ut, &st) == 2)
            t += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        p = strchr(p, ',');
        if (p) p++;
    }
    return t;
}

/* Every message of the corpus through sg_check three times, with the
 * engine's state in `uri`; message times 100 ms apart. */
static void engine_run(sg_message **msgs, size_t n, const char *uri, int group,
                       bool batch) {
    sg_options o = {.store_uri = uri};
    sg_engine *e;
    if (sg_engine_new(&o, &e)) {
        printf("%-40s cannot open: %s\n", uri, sg_engine_errmsg(NULL));
        return;
    }
    const char *model = sg_default_model_path();
    if (model) sg_engine_load_model(e, model);
    real_ops = *e->store->ops;
    counted = real_ops;
    counted.get = c_get;
    counted.put = c_put;
    counted.incr = c_incr;
    e->store->ops = &counted;
    memset(ncalls, 0, sizeof ncalls);
    size_t ok = 0, total = 3 * n;
    double t0 = secs(), c0 = cpu_secs(), s0 = server_cpu();
    for (size_t r = 0; batch && r < total; r += (size_t)group) {
        size_t k = total - r < (size_t)group ? total - r : (size_t)group;
        sg__store_begin(e->store);
        ok += judge_batch(e, msgs, n, r, k);
        sg__store_commit(e->store);
    }
    for (size_t r = 0; !batch && r < total; r++) {
        if (group > 1 && r % (size_t)group == 0) {
            if (r) sg__store_commit(e->store);
            sg__store_begin(e->store);
        }
        sg_message_set_ts(msgs[r % n], NOW + (int64_t)r * 100);
        sg_verdict *v;
        if (sg_check(e, msgs[r % n], &v) == SG_OK) {
            sg_verdict_free(v);
            ok++;
        }
    }
    if (group > 1 && !batch) sg__store_commit(e->store);
    double t = secs() - t0, c = cpu_secs() - c0, sv = server_cpu() - s0;
    printf("%-40s %9.0f %9.0f %7.1f %7.1f %7.1f %7zu %7.1f %7.1f\n", uri,
           (double)total / t, (double)total / c, (double)ncalls[0] / total,
           (double)ncalls[1] / total, (double)ncalls[2] / total, total - ok,
           1e6 * c / (double)total, 1e6 * sv / (double)total);
    e->store->ops = &real_ops;
    sg_engine_free(e);
}

static int engine_mode(int argc, char **argv) {
    size_t n;
    sg_message **msgs = load_corpus(argv[2], &n);
    if (!n) {
        fprintf(stderr, "no messages in %s\n", argv[2]);
        return 2;
    }
    int a = 3, group = 1;
    bool batch = false;
    if (a + 1 < argc && !strcmp(argv[a], "-g")) {
        group = atoi(argv[a + 1]);
        a += 2;
    }
    if (a < argc && !strcmp(argv[a], "-p")) {
        batch = group > 1;
        a++;
    }
    if (a + 1 < argc && !strcmp(argv[a], "-s")) {
        server_pids = argv[a + 1];
        a += 2;
    }
    printf("%zu messages x 3 passes, %d per commit%s\n", n, group,
           batch ? ", prepared and read ahead per batch" : "");
    printf("%-40s %9s %9s %7s %7s %7s %7s %7s %7s\n", "store", "checks/s", "per-cpu-s",
           "get", "put", "incr", "failed", "cpu-us", "srv-us");
    for (; a < argc; a++) engine_run(msgs, n, argv[a], group, batch);
    for (size_t i = 0; i < n; i++) sg_message_free(msgs[i]);
    free(msgs);
    return 0;
}

static void header(void) {
    printf("%-14s %10s %10s %10s %10s %10s %10s\n", "backend", "put/s",
           "get/s", "incr/s", "msg/s", "msg-batch/s", "32msg/s");
}

int main(int argc, char **argv) {
    int a = 1;
    if (argc >= 4 && !strcmp(argv[1], "-e")) return engine_mode(argc, argv);
    if (argc == 4 && !strcmp(argv[1], "-r")) {
        NACCT_RUN = (uint32_t)strtoul(argv[2], NULL, 10);
        return NACCT_RUN ? restart(NACCT_RUN, argv[3]) : 2;
    }
    if (a + 1 < argc && !strcmp(argv[a], "-t")) {
        budget = atof(argv[a + 1]);
        a += 2;
    }
    printf("bench_store: %.1f s per case; msg = 1 get + 3 incr + 1 put in a "
           "group; 32msg = 32 such messages in one batch and group\n", budget);
    if (a < argc) {
        header();
        for (; a < argc; a++) bench_uri(argv[a], argv[a]);
        return 0;
    }
    char dir[] = "/tmp/sg-bench-lmdb-XXXXXX", uri[600];
    if (!mkdtemp(dir)) return 1;
    int one = -1, cl[3] = {-1, -1, -1};
    bool redis = rh_have_redis() && (one = rh_start(false)) >= 0;
    bool cluster = redis && rh_start_cluster(cl);
    char ruri[64], curi[128];
    if (redis) snprintf(ruri, sizeof ruri, "redis://127.0.0.1:%d", rh_srv[one].port);
    if (cluster)
        snprintf(curi, sizeof curi, "redis-cluster://127.0.0.1:%d",
                 rh_srv[cl[0]].port);

    header();
    bench_uri("memory", "memory:");
    snprintf(uri, sizeof uri, "lmdb:%s/a", dir);
    bench_uri("lmdb", uri);
    snprintf(uri, sizeof uri, "lmdb:%s/b?sync=always", dir);
    bench_uri("lmdb-fsync", uri);
    if (redis) bench_uri("redis", ruri);
    if (cluster) bench_uri("redis-cluster", curi);
    if (!redis) printf("(redis-server not installed: Redis rows skipped)\n");

    printf("\nsize after %d accounts x (64-byte profile + 3 windowed counters)\n", NACCT);
    printf("%-14s %10s %12s\n", "backend", "bytes/key", "bytes/acct");
    size_uri("memory", "memory:");
    snprintf(uri, sizeof uri, "lmdb:%s/c", dir);
    size_uri("lmdb", uri);
    if (redis) {
        wipe_redis(&one, 1);
        size_uri("redis", ruri);
    }
    if (cluster) {
        wipe_redis(cl, 3);
        size_uri("redis-cluster", curi);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    rh_stop_all();
    return 0;
}
