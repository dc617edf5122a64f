/*
 * test_store_conformance.c -- the same cases against every state store
 * backend (store.h): memory, LMDB, Redis and a 3-master Redis Cluster, each
 * opened through its URI (store_uri.c).  get/put/incr/del, expiry in
 * message time (never the wall clock), values up to 64 KiB and keys up to
 * 4 KiB, begin/commit groups (and, where the data is shared, what a second
 * daemon sees), batches and stats.  The Redis servers are started here on
 * free loopback ports and stopped by PID (tests/redis_harness.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "redis_harness.h"
#include "sg_internal.h"
#include "store.h"

#define K(s) (s), strlen(s)
/* Message times far from today's wall clock: expiry must follow them. */
#define T0 978307200000LL /* 2001-01-01T00:00:00Z */

typedef struct backend {
    const char *name;
    bool shared;        /* a second handle sees the first one's commits */
    bool can_abort;     /* offers abort (memory does not) */
    char uri[600];
    int masters[3];     /* harness indices to FLUSHALL, -1 = none */
} backend;

static backend *cur;
static char lmdb_base[128];
static int lmdb_seq;

typedef struct fixture {
    sg_store *s, *other;
} fixture;

static void wipe(void) {
    for (int i = 0; i < 3; i++)
        if (cur->masters[i] >= 0) assert_true(rh_flush(cur->masters[i]));
}

static sg_store *open_cur(void) {
    char err[200] = "";
    sg_store *s = NULL;
    int rc = sg__store_open_uri(cur->uri, &s, err, sizeof err);
    if (rc) fprintf(stderr, "%s: %s\n", cur->uri, err);
    assert_int_equal(rc, SG_OK);
    return s;
}

static int setup(void **state) {
    if (!strcmp(cur->name, "lmdb"))
        snprintf(cur->uri, sizeof cur->uri, "lmdb:%s/t%d", lmdb_base, ++lmdb_seq);
    wipe();
    fixture *f = calloc(1, sizeof *f);
    f->s = open_cur();
    if (cur->shared) f->other = open_cur();
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    const char *m = sg__store_errmsg(f->s);
    if (m[0]) fprintf(stderr, "  [%s] last store detail: %s\n", cur->name, m);
    sg__store_free(f->s);
    sg__store_free(f->other);
    free(f);
    return 0;
}

static void fill(unsigned char *b, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 31 + seed);
}

/* ------------------------------------------------------------ cases */

static void put_then_get_returns_the_value_and_its_length(void **state) {
    sg_store *s = ((fixture *)*state)->s;
    char buf[32] = {0};
    size_t vlen = 0;
    assert_int_equal(sg__store_put(s, K("acct:{alice@example.org}"), "profile", 7, 0, T0), SG_OK);
    assert_int_equal(sg__store_get(s, K("acct:{alice@example.org}"), buf, sizeof buf, &vlen, T0), SG_OK);
    assert_int_equal(vlen, 7);
    assert_memory_equal(buf, "profile", 7);
    assert_int_equal(sg__store_get(s, K("acct:{alice@example.orh}"), buf, sizeof buf, &vlen, T0), SG_ENOTFOUND);
    /* a short buffer gets a prefix and the full length */
    char small[3];
    assert_int_equal(sg__store_get(s, K("acct:{alice@example.org}"), small, sizeof small, &vlen, T0), SG_OK);
    assert_int_equal(vlen, 7);
    assert_memory_equal(small, "pro", 3);
    assert_int_equal(sg__store_get(s, K("acct:{alice@example.org}"), NULL, 0, &vlen, T0), SG_OK);
    assert_int_equal(vlen, 7);
    /* an empty value exists and is empty */
    assert_int_equal(sg__store_put(s, K("empty"), "", 0, 0, T0), SG_OK);
    assert_int_equal(sg__store_get(s, K("empty"), buf, sizeof buf, &vlen, T0), SG_OK);
    assert_int_equal(vlen, 0);
}

static void a_value_expires_at_its_deadline_in_message_time(void **state) {
    sg_store *s = ((fixture *)*state)->s;
    size_t vlen;
    /* 2001 is long past on the wall clock; only message time counts */
    assert_int_equal(sg__store_put(s, K("win:{bob}:1"), "x", 1, T0 + 5000, T0), SG_OK);
    assert_int_equal(sg__store_get(s, K("win:{bob}:1"), NULL, 0, &vlen, T0 + 4999), SG_OK);
    assert_int_equal(sg__store_get(s, K("win:{bob}:1"), NULL, 0, &vlen, T0 + 5000), SG_ENOTFOUND);
    assert_int_equal(sg__store_get(s, K("win:{bob}:1"), NULL, 0, &vlen, T0 + 86400000LL * 365), SG_ENOTFOUND);
    /* a put over the expired key starts a new life with its own deadline */
    assert_int_equal(sg__store_put(s, K("win:{bob}:1"), "yz", 2, 0, T0 + 6000), SG_OK);
    assert_int_equal(sg__store_get(s, K("win:{bob}:1"), NULL, 0, &vlen, INT64_MAX), SG_OK);
    assert_int_equal(vlen, 2);
    /* a deadline a century ahead is kept (Redis caps only its own TTL) */
    assert_int_equal(sg__store_put(s, K("far"), "f", 1, T0 + 86400000LL * 36500, T0), SG_OK);
    assert_int_equal(sg__store_get(s, K("far"), NULL, 0, &vlen, T0 + 86400000LL * 36499), SG_OK);
}

static void incr_counts_from_zero_and_restarts_after_expiry(void **state) {
    sg_store *s = ((fixture *)*state)->s;
    int64_t v = 0;
    assert_int_equal(sg__store_incr(s, K("n"), 3, T0 + 10000, T0, &v), SG_OK);
    assert_int_equal(v, 3);
    /* expire 0 keeps the old deadline */
    assert_int_equal(sg__store_incr(s, K("n"), -1, 0, T0 + 9000, &v), SG_OK);
    assert_int_equal(v, 2);
    assert_int_equal(sg__store_incr(s, K("n"), 5, 0, T0 + 10000, &v), SG_OK);
    assert_int_equal(v, 5); /* the old counter had expired at T0+10000 */
    /* ... and the new one never expires (0 on a fresh key) */
    assert_int_equal(sg__store_incr(s, K("n"), 1, 0, INT64_MAX, &v), SG_OK);
    assert_int_equal(v, 6);
    /* a new deadline on a live counter moves it */
    assert_int_equal(sg__store_incr(s, K("n"), 1, T0 + 20000, T0 + 11000, &v), SG_OK);
    assert_int_equal(v, 7);
    assert_int_equal(sg__store_incr(s, K("n"), 0, 0, T0 + 20000, &v), SG_OK);
    assert_int_equal(v, 0);
}

static void get_of_a_counter_returns_its_int64_and_8_bytes_count_as_one(void **state) {
    sg_store *s = ((fixture *)*state)->s;
    int64_t v = 0, got = 0;
    size_t vlen = 0;
    assert_int_equal(sg__store_incr(s, K("bulk:{fp1}"), -40, 0, T0, &v), SG_OK);
    assert_int_equal(sg__store_get(s, K("bulk:{fp1}"), &got, sizeof got, &vlen, T0), SG_OK);
    assert_int_equal(vlen, 8);
    assert_int_equal(got, -40);
    int64_t seed = 1000000007LL;
    assert_int_equal(sg__store_put(s, K("bulk:{fp2}"), &seed, sizeof seed, 0, T0), SG_OK);
    assert_int_equal(sg__store_incr(s, K("bulk:{fp2}"), 3, 0, T0, &v), SG_OK);
    assert_int_equal(v, 1000000010LL);
    assert_int_equal(sg__store_get(s, K("bulk:{fp2}"), &got, sizeof got, &vlen, T0), SG_OK);
    assert_int_equal(got, 1000000010LL);
}

static void incr_on_a_non_counter_fails_and_changes_nothing(void **state) {
    sg_store *s = ((fixture *)*state)->s;
    char buf[8];
    size_t vlen;
    int64_t v = 42;
    assert_int_equal(sg__store_put(s, K("acct:{b}"), "abc", 3, 0, T0), SG_OK);
    assert_int_equal(sg__store_incr(s, K("acct:{b}"), 1, 0, T0, &v), SG_EINVAL);
    assert_int_equal(v, 42);
    assert_int_equal(sg__store_get(s, K("acct:{b}"), buf, sizeof buf, &vlen, T0), SG_OK);
    assert_int_equal(vlen, 3);
    assert_memory_equal(buf, "abc", 3);
}

static void del_removes_and_a_counter_starts_again_from_zero(void **state) {
    sg_store *s = ((fixture *)*state)->s;
    size_t vlen;
    int64_t v;
    assert_int_equal(sg__store_incr(s, K("c"), 9, 0, T0, &v), SG_OK);
    assert_int_equal(sg__store_del(s, K("c")), SG_OK);
    assert_int_equal(sg__store_del(s, K("c")), SG_OK); /* absent is fine */
    assert_int_equal(sg__store_get(s, K("c"), NULL, 0, &vlen, T0), SG_ENOTFOUND);
    assert_int_equal(sg__store_incr(s, K("c"), 2, 0, T0, &v), SG_OK);
    assert_int_equal(v, 2);
    /* a put replaces a counter whole */
    assert_int_equal(sg__store_put(s, K("c"), "text", 4, 0, T0), SG_OK);
    assert_int_equal(sg__store_get(s, K("c"), NULL, 0, &vlen, T0), SG_OK);
    assert_int_equal(vlen, 4);
}

static void values_up_to_64_kib_and_keys_up_to_4_kib_round_trip(void **state) {
    sg_store *s = ((fixture *)*state)->s;
    static unsigned char val[65536], got[65536], key[4097];
    const size_t sizes[] = {1, 9, 255, 4096, 65535, 65536};
    size_t vlen;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char k[32];
        snprintf(k, sizeof k, "camp:{c%zu}", sizes[i]);
        fill(val, sizes[i], (unsigned)i);
        assert_int_equal(sg__store_put(s, K(k), val, sizes[i], 0, T0), SG_OK);
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char k[32];
        snprintf(k, sizeof k, "camp:{c%zu}", sizes[i]);
        fill(val, sizes[i], (unsigned)i);
        memset(got, 0, sizeof got);
        assert_int_equal(sg__store_get(s, K(k), got, sizeof got, &vlen, T0), SG_OK);
        assert_int_equal(vlen, sizes[i]);
        assert_memory_equal(got, val, sizes[i]);
    }
    /* Long and binary keys: 511 and 512 bytes straddle LMDB's key limit;
     * two 4096-byte keys differ only in their last byte. */
    const size_t klens[] = {511, 512, 4096};
    for (size_t i = 0; i < 3; i++) {
        fill(key, klens[i], 7);
        key[0] = 0; /* a NUL byte inside a key is just a byte */
        unsigned char tag = (unsigned char)i;
        assert_int_equal(sg__store_put(s, key, klens[i], &tag, 1, 0, T0), SG_OK);
    }
    fill(key, 4096, 7);
    key[0] = 0;
    key[4095] ^= 1;
    unsigned char other = 99, b = 0;
    assert_int_equal(sg__store_put(s, key, 4096, &other, 1, 0, T0), SG_OK);
    key[4095] ^= 1;
    assert_int_equal(sg__store_get(s, key, 4096, &b, 1, &vlen, T0), SG_OK);
    assert_int_equal(b, 2);
    assert_int_equal(sg__store_get(s, key, 512, &b, 1, &vlen, T0), SG_OK);
    assert_int_equal(b, 1);
    assert_int_equal(sg__store_get(s, key, 511, &b, 1, &vlen, T0), SG_OK);
    assert_int_equal(b, 0);
    assert_int_equal(sg__store_put(s, key, 4097, "x", 1, 0, T0), SG_EINVAL);
}

static void a_group_reads_its_own_writes_and_commits_them_together(void **state) {
    fixture *f = *state;
    sg_store *s = f->s;
    int64_t v;
    size_t vlen;
    char buf[16];
    assert_int_equal(sg__store_put(s, K("acct:{carol}"), "old", 3, 0, T0), SG_OK);
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_put(s, K("acct:{carol}"), "new", 3, 0, T0), SG_OK);
    assert_int_equal(sg__store_incr(s, K("acct:{carol}:out"), 1, T0 + 60000, T0, &v), SG_OK);
    assert_int_equal(sg__store_incr(s, K("acct:{carol}:out"), 1, 0, T0, &v), SG_OK);
    assert_int_equal(v, 2);
    assert_int_equal(sg__store_incr(s, K("bulk:{fpX}"), 1, T0 + 60000, T0, &v), SG_OK);
    assert_int_equal(sg__store_get(s, K("acct:{carol}"), buf, sizeof buf, &vlen, T0), SG_OK);
    assert_memory_equal(buf, "new", 3);
    if (f->other) { /* another daemon sees nothing of the open group */
        assert_int_equal(sg__store_get(f->other, K("acct:{carol}"), buf, sizeof buf, &vlen, T0), SG_OK);
        assert_memory_equal(buf, "old", 3);
        assert_int_equal(sg__store_get(f->other, K("bulk:{fpX}"), NULL, 0, &vlen, T0), SG_ENOTFOUND);
    }
    /* nested groups: only the outermost commit writes */
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_del(s, K("acct:{carol}:gone")), SG_OK);
    assert_int_equal(sg__store_commit(s), SG_OK);
    if (f->other)
        assert_int_equal(sg__store_get(f->other, K("acct:{carol}:out"), NULL, 0, &vlen, T0), SG_ENOTFOUND);
    assert_int_equal(sg__store_commit(s), SG_OK);
    sg_store *r = f->other ? f->other : s;
    int64_t n = 0;
    assert_int_equal(sg__store_get(r, K("acct:{carol}"), buf, sizeof buf, &vlen, T0), SG_OK);
    assert_memory_equal(buf, "new", 3);
    assert_int_equal(sg__store_get(r, K("acct:{carol}:out"), &n, sizeof n, &vlen, T0), SG_OK);
    assert_int_equal(n, 2);
    assert_int_equal(sg__store_get(r, K("bulk:{fpX}"), &n, sizeof n, &vlen, T0 + 59999), SG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(sg__store_get(r, K("bulk:{fpX}"), &n, sizeof n, &vlen, T0 + 60000), SG_ENOTFOUND);
    assert_int_equal(sg__store_commit(s), SG_EINVAL); /* no group open */
}

static void abort_drops_the_groups_writes(void **state) {
    if (!cur->can_abort) skip();
    sg_store *s = ((fixture *)*state)->s;
    size_t vlen;
    int64_t v;
    assert_int_equal(sg__store_put(s, K("keep"), "k", 1, 0, T0), SG_OK);
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_put(s, K("keep"), "changed", 7, 0, T0), SG_OK);
    assert_int_equal(sg__store_put(s, K("drop"), "d", 1, 0, T0), SG_OK);
    assert_int_equal(sg__store_incr(s, K("cnt"), 5, 0, T0, &v), SG_OK);
    assert_int_equal(sg__store_abort(s), SG_OK);
    assert_int_equal(sg__store_get(s, K("keep"), NULL, 0, &vlen, T0), SG_OK);
    assert_int_equal(vlen, 1);
    assert_int_equal(sg__store_get(s, K("drop"), NULL, 0, &vlen, T0), SG_ENOTFOUND);
    assert_int_equal(sg__store_get(s, K("cnt"), NULL, 0, &vlen, T0), SG_ENOTFOUND);
    assert_int_equal(sg__store_abort(s), SG_EINVAL);
}

static void a_batch_runs_in_order_and_reports_each_op(void **state) {
    sg_store *s = ((fixture *)*state)->s;
    for (int in_group = 0; in_group < 2; in_group++) {
        char buf[16] = {0}, buf2[16] = {0}, buf3[8];
        int64_t cnt = 0;
        sg_store_op ops[] = {
            {.op = SG_STORE_PUT, .key = "b:a", .klen = 3, .val = "hello", .vlen = 5},
            {.op = SG_STORE_GET, .key = "b:a", .klen = 3, .buf = buf, .cap = sizeof buf},
            {.op = SG_STORE_INCR, .key = "b:c", .klen = 3, .delta = 2, .expire_at_ms = T0 + 1000},
            {.op = SG_STORE_INCR, .key = "b:c", .klen = 3, .delta = 3},
            {.op = SG_STORE_GET, .key = "b:c", .klen = 3, .buf = &cnt, .cap = sizeof cnt},
            {.op = SG_STORE_DEL, .key = "b:a", .klen = 3},
            {.op = SG_STORE_GET, .key = "b:a", .klen = 3, .buf = buf2, .cap = sizeof buf2},
            {.op = SG_STORE_INCR, .key = "b:a", .klen = 3, .delta = 1},
            {.op = SG_STORE_PUT, .key = "b:v", .klen = 3, .val = "xyz", .vlen = 3},
            {.op = SG_STORE_INCR, .key = "b:v", .klen = 3, .delta = 1},
            {.op = SG_STORE_GET, .key = "b:none", .klen = 6, .buf = buf3, .cap = sizeof buf3},
            {.op = SG_STORE_PUT, .key = NULL, .klen = 3, .val = "x", .vlen = 1},
        };
        if (in_group) assert_int_equal(sg__store_begin(s), SG_OK);
        assert_int_equal(sg__store_batch(s, ops, sizeof ops / sizeof ops[0], T0), SG_OK);
        if (in_group) assert_int_equal(sg__store_commit(s), SG_OK);
        assert_int_equal(ops[0].err, SG_OK);
        assert_int_equal(ops[1].err, SG_OK);
        assert_int_equal(ops[1].out_len, 5);
        assert_memory_equal(buf, "hello", 5);
        assert_int_equal(ops[2].result, 2);
        assert_int_equal(ops[3].result, 5);
        assert_int_equal(ops[4].err, SG_OK);
        assert_int_equal(cnt, 5);
        assert_int_equal(ops[5].err, SG_OK);
        assert_int_equal(ops[6].err, SG_ENOTFOUND);
        assert_int_equal(ops[7].err, SG_OK);
        assert_int_equal(ops[7].result, 1);
        assert_int_equal(ops[9].err, SG_EINVAL);
        assert_int_equal(ops[10].err, SG_ENOTFOUND);
        assert_int_equal(ops[11].err, SG_EINVAL);
        /* the batch's writes are in the store */
        int64_t v = 0;
        size_t vlen;
        assert_int_equal(sg__store_get(s, K("b:c"), &v, sizeof v, &vlen, T0), SG_OK);
        assert_int_equal(v, 5);
        assert_int_equal(sg__store_get(s, K("b:c"), &v, sizeof v, &vlen, T0 + 1000), SG_ENOTFOUND);
        assert_int_equal(sg__store_get(s, K("b:v"), buf3, sizeof buf3, &vlen, T0), SG_OK);
        assert_int_equal(vlen, 3);
        assert_int_equal(sg__store_del(s, K("b:a")), SG_OK);
        assert_int_equal(sg__store_del(s, K("b:c")), SG_OK);
    }
}

static void stats_count_the_keys(void **state) {
    sg_store *s = ((fixture *)*state)->s;
    char k[32];
    int64_t v;
    for (int i = 0; i < 10; i++) {
        snprintf(k, sizeof k, "acct:{user%d}", i);
        assert_int_equal(sg__store_put(s, K(k), "profile-bytes", 13, 0, T0), SG_OK);
        snprintf(k, sizeof k, "acct:{user%d}:n", i);
        if (i < 5) assert_int_equal(sg__store_incr(s, K(k), 1, 0, T0, &v), SG_OK);
    }
    uint64_t keys = 0, bytes = 0;
    sg__store_stats(s, &keys, &bytes);
    assert_int_equal(keys, 15);
    assert_true(bytes > 15 * 13);
    for (int i = 0; i < 5; i++) {
        snprintf(k, sizeof k, "acct:{user%d}", i);
        assert_int_equal(sg__store_del(s, K(k)), SG_OK);
    }
    sg__store_stats(s, &keys, &bytes);
    assert_int_equal(keys, 10);
}

static void bad_arguments_are_refused(void **state) {
    sg_store *s = ((fixture *)*state)->s;
    size_t vlen;
    int64_t v;
    assert_int_equal(sg__store_put(s, NULL, 3, "v", 1, 0, T0), SG_EINVAL);
    assert_int_equal(sg__store_put(s, "k", 0, "v", 1, 0, T0), SG_EINVAL);
    assert_int_equal(sg__store_put(s, "k", 1, NULL, 1, 0, T0), SG_EINVAL);
    assert_int_equal(sg__store_get(s, "k", 1, NULL, 4, &vlen, T0), SG_EINVAL);
    assert_int_equal(sg__store_incr(s, NULL, 1, 1, 0, T0, &v), SG_EINVAL);
    assert_int_equal(sg__store_del(s, "k", 0), SG_EINVAL);
    assert_int_equal(sg__store_commit(s), SG_EINVAL);
}

/* One message's worth of calls; stops at the first failure. */
static int scenario(sg_store *s, int round) {
    char buf[32];
    size_t vlen;
    int64_t v;
    char k[4][32];
    for (int i = 0; i < 4; i++) snprintf(k[i], sizeof k[i], "acct:{u%d}:%d", round, i);
    sg_store_op ops[] = {
        {.op = SG_STORE_GET, .key = k[0], .klen = strlen(k[0]), .buf = buf, .cap = sizeof buf},
        {.op = SG_STORE_INCR, .key = k[1], .klen = strlen(k[1]), .delta = 1},
        {.op = SG_STORE_PUT, .key = k[2], .klen = strlen(k[2]), .val = "abc", .vlen = 3},
        {.op = SG_STORE_INCR, .key = k[3], .klen = strlen(k[3]), .delta = 2, .expire_at_ms = T0 + 5},
    };
    int rc;
    if ((rc = sg__store_begin(s))) return rc;
    if ((rc = sg__store_put(s, K(k[0]), "profile", 7, 0, T0)) ||
        (rc = sg__store_incr(s, K(k[1]), 1, T0 + 1000, T0, &v)) ||
        (rc = sg__store_get(s, K(k[0]), buf, sizeof buf, &vlen, T0)) ||
        (rc = sg__store_batch(s, ops, 4, T0))) {
        sg__store_abort(s);
        return rc;
    }
    for (int i = 0; i < 4; i++)
        if (ops[i].err) {
            sg__store_abort(s);
            return ops[i].err;
        }
    return sg__store_commit(s);
}

/* Fail the 1st, 2nd, ... allocation of the library during a message: each
 * time the call that hit it says SG_ENOMEM, and afterwards the store works
 * (ASan checks that nothing leaked). */
static void every_allocation_failure_is_a_clean_error(void **state) {
    sg_store *s = ((fixture *)*state)->s;
    int failures = 0;
    for (long n = 0; n < 400; n++) {
        sg__alloc_fail_after(n);
        int rc = scenario(s, (int)n);
        sg__alloc_fail_after(-1);
        if (rc == SG_OK) break; /* the message needed fewer allocations */
        assert_int_equal(rc, SG_ENOMEM);
        failures++;
        char buf[8];
        size_t vlen;
        assert_int_equal(sg__store_put(s, K("after"), "ok", 2, 0, T0), SG_OK);
        assert_int_equal(sg__store_get(s, K("after"), buf, sizeof buf, &vlen, T0), SG_OK);
        assert_memory_equal(buf, "ok", 2);
    }
    printf("  [%s] %d allocation failures met cleanly\n", cur->name, failures);
    assert_true(failures > 0);
    assert_int_equal(scenario(s, 1000), SG_OK);
}

/* ------------------------------------------------------------ runner */

static int run(backend *b) {
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(put_then_get_returns_the_value_and_its_length),
        T(a_value_expires_at_its_deadline_in_message_time),
        T(incr_counts_from_zero_and_restarts_after_expiry),
        T(get_of_a_counter_returns_its_int64_and_8_bytes_count_as_one),
        T(incr_on_a_non_counter_fails_and_changes_nothing),
        T(del_removes_and_a_counter_starts_again_from_zero),
        T(values_up_to_64_kib_and_keys_up_to_4_kib_round_trip),
        T(a_group_reads_its_own_writes_and_commits_them_together),
        T(abort_drops_the_groups_writes),
        T(a_batch_runs_in_order_and_reports_each_op),
        T(stats_count_the_keys),
        T(bad_arguments_are_refused),
        T(every_allocation_failure_is_a_clean_error),
#undef T
    };
    cur = b;
    printf("== backend %s (%s)\n", b->name, b->uri[0] ? b->uri : "fresh dir per test");
    return _cmocka_run_group_tests(b->name, tests, sizeof tests / sizeof tests[0],
                                   NULL, NULL);
}

int main(void) {
    int failed = 0;
    backend mem = {"memory", false, false, "memory:", {-1, -1, -1}};
    failed += run(&mem);

    snprintf(lmdb_base, sizeof lmdb_base, "/tmp/sg-conf-lmdb-XXXXXX");
    if (!mkdtemp(lmdb_base)) return 1;
    backend lm = {"lmdb", false, true, "", {-1, -1, -1}};
    failed += run(&lm);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", lmdb_base);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", lmdb_base);

    if (!rh_have_redis()) {
        printf("SKIP redis, redis-cluster: redis-server/redis-cli not installed "
               "(Debian package redis-server)\n");
        return failed;
    }
    int one = rh_start(false);
    if (one < 0) return failed + 1;
    backend rd = {"redis", true, true, "", {one, -1, -1}};
    snprintf(rd.uri, sizeof rd.uri, "redis://127.0.0.1:%d", rh_srv[one].port);
    failed += run(&rd);
    rh_stop(one);

    backend cl = {"redis-cluster", true, true, "", {-1, -1, -1}};
    if (!rh_start_cluster(cl.masters)) return failed + 1;
    snprintf(cl.uri, sizeof cl.uri, "redis-cluster://127.0.0.1:%d,127.0.0.1:%d",
             rh_srv[cl.masters[0]].port, rh_srv[cl.masters[1]].port);
    failed += run(&cl);
    return failed;
}
