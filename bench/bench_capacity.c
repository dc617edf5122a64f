/*
 * bench_capacity.c -- bytes of state per account, per fingerprint and per
 * campaign, measured through the whole engine (sg_check with the default
 * model) in each store backend, for the capacity plan of docs/storage.md.
 * Three phases, each a stream that adds one kind of state only, with the
 * store's own size (stats: LMDB pages in use; Redis used_memory; memory:
 * the table's heap) read before and after.  Messages are 1 ms apart, so
 * nothing expires during a phase: the figures are what each item costs
 * while it lives (its keys' TTLs are in the key schema of the doc).
 *   accounts      N messages, each from a new account, text too short for
 *                 a fingerprint: one account state each
 *   fingerprints  N new texts from one account: LSH band keys + window
 *   campaigns     N/10 campaigns of a new text and a new landing domain,
 *                 3 senders x 2 recipients each (6 messages): bands,
 *                 windows, campaign record and lists, maps, receipts
 * With no URI given: memory:, lmdb in a temporary directory, and a
 * redis-server and 3-master cluster started on loopback ports (stopped by
 * PID at exit).  usage: bench_capacity [-n N] [URI...]   (N = 100000)
 */
#include "../tests/redis_harness.h"
#include "query.h"
#include "sg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1795900000000LL /* message time, ms */

static const char *const words[] = {
    "river", "window", "garden", "yellow", "market", "winter", "silver", "candle",
    "pocket", "ticket", "forest", "bridge", "summer", "planet", "rocket", "orange",
    "mirror", "castle", "jacket", "little", "wonder", "secret", "butter", "coffee",
    "doctor", "flower", "guitar", "hammer", "island", "jungle", "kitten", "ladder",
    "monkey", "needle", "object", "pepper", "quarter", "rabbit", "saddle", "tunnel",
    "valley", "walnut", "zipper", "anchor", "basket", "cotton", "dinner", "engine"};
#define NWORDS (sizeof words / sizeof words[0])

/* A text of 10 two-word tokens drawn by x (2,304 tokens): long enough
 * for a fingerprint, and new. */
static void text_of(uint64_t x, char *buf, size_t cap) {
    size_t n = 0;
    for (int i = 0; i < 10 && n < cap; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        n += (size_t)snprintf(buf + n, cap - n, "%s%s%s", i ? " " : "",
                              words[(x >> 33) % NWORDS], words[(x >> 45) % NWORDS]);
    }
}

static int check(sg_engine *eng, const char *from, const char *to,
                 const char *text, int64_t ts) {
    sg_message *m = NULL;
    sg_verdict *v = NULL;
    int rc = sg_message_new(from, to, text, &m);
    if (!rc) {
        sg_message_set_ts(m, ts);
        sg_message_set_contact(m, 1);
        rc = sg_check(eng, m, &v);
    }
    if (rc) fprintf(stderr, "check: %s\n", sg_engine_errmsg(eng));
    sg_verdict_free(v);
    sg_message_free(m);
    return rc;
}

typedef struct size { uint64_t keys, bytes; } size;

static size sizes(sg_engine *eng) {
    sg_query_sizes z;
    sg__query_sizes(eng, &z);
    return (size){z.store_keys, z.store_bytes};
}

static void report(const char *uri, const char *what, size a, size b, long n) {
    printf("%-34.34s %-13s %9ld %10.1f %12.1f\n", uri, what, n,
           (double)(b.keys - a.keys) / n, (double)((int64_t)b.bytes - (int64_t)a.bytes) / n);
    fflush(stdout);
}

static int accounts(sg_engine *eng, long n, int64_t *ts) {
    char from[48], to[48];
    for (long i = 0; i < n; i++) {
        snprintf(from, sizeof from, "acct%07ld@cap.example", i);
        snprintf(to, sizeof to, "friend%04ld@cap.example", i % 1000);
        if (check(eng, from, to, "ok, see you at 5", ++*ts)) return -1;
    }
    return 0;
}

/* The accounts that send the later phases exist before they are measured:
 * 100 writers of new texts, 300 campaign senders. */
static int pool(sg_engine *eng, int64_t *ts) {
    char from[48];
    for (int i = 0; i < 400; i++) {
        if (i < 100) snprintf(from, sizeof from, "writer%03d@cap.example", i);
        else snprintf(from, sizeof from, "sender%03d@cap.example", i - 100);
        if (check(eng, from, "friend0000@cap.example", "ok, see you at 5", ++*ts))
            return -1;
    }
    return 0;
}

static int fingerprints(sg_engine *eng, long n, int64_t *ts) {
    char from[48], to[48], text[256];
    for (long i = 0; i < n; i++) {
        snprintf(from, sizeof from, "writer%03ld@cap.example", i % 100);
        snprintf(to, sizeof to, "friend%04ld@cap.example", i % 1000);
        text_of((uint64_t)i + 1, text, sizeof text);
        if (check(eng, from, to, text, ++*ts)) return -1;
    }
    return 0;
}

static int campaigns(sg_engine *eng, long n, int64_t *ts) {
    char from[48], to[48], text[320], base[256];
    for (long c = 0; c < n; c++) {
        text_of(((uint64_t)c + 1) << 20, base, sizeof base);
        for (int s = 0; s < 3; s++)
            for (int r = 0; r < 2; r++) {
                snprintf(from, sizeof from, "sender%03ld@cap.example", (c * 3 + s) % 300);
                snprintf(to, sizeof to, "friend%04ld@cap.example", (c * 6 + s * 2 + r) % 1000);
                snprintf(text, sizeof text, "%s https://c%ldx-deals.com/p?r=%d", base, c, s * 2 + r);
                if (check(eng, from, to, text, ++*ts)) return -1;
            }
    }
    return 0;
}

static int measure(const char *uri, long n) {
    sg_options o = {.store_uri = uri};
    sg_engine *eng = NULL;
    const char *model = sg_default_model_path();
    if (sg_engine_new(&o, &eng) || !model || sg_engine_load_model(eng, model)) {
        fprintf(stderr, "%s: %s\n", uri, eng ? sg_engine_errmsg(eng) : sg_engine_errmsg(NULL));
        sg_engine_free(eng);
        return -1;
    }
    int64_t ts = T0;
    int rc = pool(eng, &ts);
    size a = sizes(eng);
    if (!rc) rc = accounts(eng, n, &ts);
    size b = sizes(eng);
    if (!rc) report(uri, "account", a, b, n);
    if (!rc) rc = fingerprints(eng, n, &ts);
    size c = sizes(eng);
    if (!rc) report(uri, "fingerprint", b, c, n);
    size d = sizes(eng);
    if (!rc) rc = campaigns(eng, n / 10, &ts);
    size e = sizes(eng);
    if (!rc) report(uri, "campaign", d, e, n / 10);
    sg_engine_free(eng);
    return rc;
}

int main(int argc, char **argv) {
    long n = 100000;
    int first = 1;
    if (argc > 2 && !strcmp(argv[1], "-n")) n = atol(argv[2]), first = 3;
    if (n < 10) n = 10;
    printf("%-34s %-13s %9s %10s %12s\n", "store", "per", "count", "keys/each", "bytes/each");
    int rc = 0;
    if (first < argc) {
        for (int i = first; i < argc; i++) rc |= measure(argv[i], n);
        return rc ? 1 : 0;
    }
    char dir[] = "/tmp/sg-capacity-XXXXXX", uri[256];
    if (!mkdtemp(dir)) return 1;
    rc |= measure("memory:", n);
    snprintf(uri, sizeof uri, "lmdb:%s/state", dir);
    rc |= measure(uri, n);
    int one, cl[3];
    if (rh_have_redis() && (one = rh_start(false)) >= 0) {
        snprintf(uri, sizeof uri, "redis://127.0.0.1:%d", rh_srv[one].port);
        rc |= measure(uri, n);
        if (rh_start_cluster(cl)) {
            snprintf(uri, sizeof uri, "redis-cluster://127.0.0.1:%d", rh_srv[cl[0]].port);
            rc |= measure(uri, n);
        }
    }
    rh_stop_all();
    snprintf(uri, sizeof uri, "rm -rf '%s'", dir);
    if (system(uri) != 0) rc = 1;
    return rc ? 1 : 0;
}
