/*
 * test_store_cluster.c -- the Redis Cluster routing layer (store_cluster.c)
 * against a real 3-master cluster built here with `redis-cli --cluster
 * create` on free loopback ports: CRC16 key slots and hash tags checked
 * against the cluster itself, one account's keys on one node, per-slot
 * MULTI/EXEC, MOVED after resharding a slot, ASK while it migrates, and a
 * master killed and brought back.  Shared semantics:
 * test_store_conformance.c.
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
#include "store_redis.h"

#define K(s) (s), strlen(s)
#define T0 978307200000LL /* message time, 2001-01-01 */

static int node[3];

static int nport(int i) { return rh_srv[node[i]].port; }

static sg_store *open_store(void) {
    char seeds[64], err[200];
    snprintf(seeds, sizeof seeds, "127.0.0.1:%d,127.0.0.1:%d", nport(1), nport(2));
    sg_store *s = NULL;
    int rc = sg__redis_open_cluster(seeds, &s, err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, SG_OK);
    return s;
}

static int setup(void **state) {
    for (int i = 0; i < 3; i++) assert_true(rh_flush(node[i]));
    *state = open_store();
    return 0;
}

static int teardown(void **state) {
    sg__store_free(*state);
    return 0;
}

static long long int_cmd(int port, const char *fmt, const void *b, size_t n) {
    redisReply *r = rh_cmd(port, fmt, b, n);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR) fprintf(stderr, "%s\n", r->str);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void status_cmd(int port, const char *fmt, ...) {
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    assert_true(c && !c->err);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR) fprintf(stderr, "%s\n", r->str);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    redisFree(c);
}

static void node_id(int i, char *id, size_t cap) {
    redisReply *r = rh_cmd(nport(i), "CLUSTER MYID");
    assert_true(r && r->type == REDIS_REPLY_STRING);
    snprintf(id, cap, "%s", r->str);
    freeReplyObject(r);
}

/* Which of the three nodes holds key (by CLUSTER COUNTKEYSINSLOT). */
static int holder(const char *key) {
    int slot = sg__cluster_keyslot(key, strlen(key));
    for (int i = 0; i < 3; i++) {
        redisReply *r = rh_cmd(nport(i), "EXISTS %s", key);
        bool here = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (r) freeReplyObject(r);
        if (here) return i;
    }
    (void)slot;
    return -1;
}

/* Node (0..2) that owns a slot, from the first node's CLUSTER SLOTS. */
static int owner(int slot) {
    redisReply *r = rh_cmd(nport(0), "CLUSTER SLOTS");
    assert_true(r && r->type == REDIS_REPLY_ARRAY);
    int who = -1;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (slot < e->element[0]->integer || slot > e->element[1]->integer) continue;
        long long p = e->element[2]->element[1]->integer;
        for (int n = 0; n < 3; n++)
            if (nport(n) == p) who = n;
    }
    freeReplyObject(r);
    return who;
}

static long long exec_calls(void) {
    long long n = 0;
    for (int i = 0; i < 3; i++) {
        redisReply *r = rh_cmd(nport(i), "INFO commandstats");
        assert_non_null(r);
        const char *p = strstr(r->str, "cmdstat_exec:calls=");
        if (p) n += atoll(p + 19);
        freeReplyObject(r);
    }
    return n;
}

/* ------------------------------------------------------------ slots */

static void crc16_and_hash_tags_follow_the_cluster_specification(void **state) {
    assert_int_equal(sg__crc16_xmodem("123456789", 9), 0x31C3);
    assert_int_equal(sg__cluster_keyslot(K("{user1000}.following")),
                     sg__cluster_keyslot(K("{user1000}.followers")));
    assert_int_equal(sg__cluster_keyslot(K("foo{}{bar}")), sg__crc16_xmodem(K("foo{}{bar}")) & 16383);
    assert_int_equal(sg__cluster_keyslot(K("foo{{bar}}zap")), sg__crc16_xmodem(K("{bar")) & 16383);
    assert_int_equal(sg__cluster_keyslot(K("foo{bar}{zap}")), sg__crc16_xmodem(K("bar")) & 16383);
    assert_int_equal(sg__cluster_keyslot(K("acct:{alice@example.org}:fan")),
                     sg__cluster_keyslot(K("alice@example.org")));
    /* ... and agree with the cluster on 2000 keys, binary ones included */
    unsigned char key[40];
    uint32_t x = 12345;
    for (int i = 0; i < 2000; i++) {
        size_t n = 1 + i % 39;
        for (size_t j = 0; j < n; j++) {
            x = x * 1103515245u + 12345u;
            key[j] = (unsigned char)(x >> 16);
            if (i % 3 == 0 && j % 7 == 2) key[j] = '{';
            if (i % 3 == 0 && j % 7 == 5) key[j] = '}';
        }
        long long want = int_cmd(nport(i % 3), "CLUSTER KEYSLOT %b", key, n);
        assert_int_equal(sg__cluster_keyslot(key, n), want);
    }
}

static void an_accounts_keys_share_a_node_and_commit_in_one_exec(void **state) {
    sg_store *s = *state;
    int64_t v;
    long long exec0 = exec_calls();
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_put(s, K("acct:{ivy@im.example}"), "p", 1, 0, T0), SG_OK);
    assert_int_equal(sg__store_incr(s, K("acct:{ivy@im.example}:out"), 1, T0 + 60000, T0, &v), SG_OK);
    assert_int_equal(sg__store_incr(s, K("acct:{ivy@im.example}:strangers"), 1, T0 + 60000, T0, &v), SG_OK);
    assert_int_equal(sg__store_incr(s, K("camp:{c1}:n"), 1, 0, T0, &v), SG_OK);
    assert_int_equal(sg__store_incr(s, K("camp:{c2}:n"), 1, 0, T0, &v), SG_OK);
    assert_int_equal(sg__store_commit(s), SG_OK);
    int h = holder("acct:{ivy@im.example}");
    assert_true(h >= 0);
    assert_int_equal(holder("acct:{ivy@im.example}:out"), h);
    assert_int_equal(holder("acct:{ivy@im.example}:strangers"), h);
    assert_int_equal(h, owner(sg__cluster_keyslot(K("ivy@im.example"))));
    /* ivy's 3 keys: one MULTI/EXEC; each campaign counter is a lone
     * command (a group of one command needs no MULTI) */
    assert_int_equal(exec_calls(), exec0 + 1);
}

static void a_batch_over_all_nodes_is_exact(void **state) {
    sg_store *s = *state;
    enum { N = 300 };
    static sg_store_op ops[N];
    static char keys[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "acct:{u%d}:out", i % 100);
        ops[i] = (sg_store_op){.op = SG_STORE_INCR, .key = keys[i],
                               .klen = strlen(keys[i]), .delta = 1,
                               .expire_at_ms = T0 + 60000};
    }
    assert_int_equal(sg__store_batch(s, ops, N, T0), SG_OK);
    bool on[3] = {false, false, false};
    for (int i = 0; i < N; i++) {
        assert_int_equal(ops[i].err, SG_OK);
        assert_int_equal(ops[i].result, i / 100 + 1);
    }
    for (int i = 0; i < 100; i++) on[holder(keys[i])] = true;
    assert_true(on[0] && on[1] && on[2]);
    uint64_t keys_n = 0, bytes = 0;
    sg__store_stats(s, &keys_n, &bytes);
    assert_int_equal(keys_n, 100);
    assert_true(bytes > 0);
}

/* ------------------------------------------------------------ redirects */

static void ask_while_a_slot_migrates_and_moved_after_it_has(void **state) {
    sg_store *s = *state;
    const char *k = "acct:{mover}";
    size_t vlen;
    char buf[8];
    assert_int_equal(sg__store_put(s, K(k), "v1", 2, 0, T0), SG_OK);
    int slot = sg__cluster_keyslot(K("mover"));
    int a = owner(slot), b = (a + 1) % 3, c = (a + 2) % 3;
    char ida[64], idb[64];
    node_id(a, ida, sizeof ida);
    node_id(b, idb, sizeof idb);
    status_cmd(nport(b), "CLUSTER SETSLOT %d IMPORTING %s", slot, ida);
    status_cmd(nport(a), "CLUSTER SETSLOT %d MIGRATING %s", slot, idb);
    status_cmd(nport(a), "MIGRATE 127.0.0.1 %d %s 0 5000", nport(b), k);

    uint64_t moved0, ask0, ref0, moved, ask, ref;
    sg__store_cluster_counters(s, &moved0, &ask0, &ref0);
    assert_int_equal(sg__store_get(s, K(k), buf, sizeof buf, &vlen, T0), SG_OK);
    assert_memory_equal(buf, "v1", 2);
    /* a new key of the migrating slot goes to the importing node, and a
     * watched group on that slot (WATCH + read, then MULTI SET EXEC: a
     * guarded unit stays a transaction) follows the ASK as a whole.  (A
     * transaction of two keys the importing node does not hold yet gets
     * TRYAGAIN until the migration ends -- Redis Cluster's rule.) */
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_watch(s, K("acct:{mover}:new"), T0), SG_OK);
    assert_int_equal(sg__store_get(s, K("acct:{mover}:new"), buf, sizeof buf, &vlen, T0),
                     SG_ENOTFOUND);
    assert_int_equal(sg__store_put(s, K("acct:{mover}:new"), "n", 1, T0 + 60000, T0), SG_OK);
    assert_int_equal(sg__store_commit(s), SG_OK);
    sg__store_cluster_counters(s, &moved, &ask, &ref);
    assert_true(ask >= ask0 + 2);
    assert_int_equal(moved, moved0);

    for (int n = 0; n < 3; n++) status_cmd(nport(n), "CLUSTER SETSLOT %d NODE %s", slot, idb);
    assert_int_equal(holder("acct:{mover}:new"), b);
    assert_int_equal(holder(k), b);
    assert_int_equal(sg__store_get(s, K(k), buf, sizeof buf, &vlen, T0), SG_OK);
    assert_memory_equal(buf, "v1", 2);
    sg__store_cluster_counters(s, &moved, &ask, &ref);
    assert_int_equal(moved, moved0 + 1);
    rh_sleep_ms(SG_REDIS_RETRY_MS + 10);
    int64_t v;
    assert_int_equal(sg__store_incr(s, K("acct:{mover}:n"), 1, 0, T0, &v), SG_OK);
    sg__store_cluster_counters(s, &moved, &ask, &ref);
    assert_true(ref > ref0);           /* the map was read again ... */
    assert_int_equal(moved, moved0 + 1); /* ... so no second MOVED */
    assert_int_equal(holder("acct:{mover}:n"), b);
    (void)c;
}

static void a_killed_master_fails_its_keys_and_recovers_when_back(void **state) {
    sg_store *s = *state;
    /* a key on each node */
    char key[3][32];
    int found = 0;
    for (int i = 0; found < 7 && i < 1000; i++) {
        char k[32];
        snprintf(k, sizeof k, "acct:{k%d}", i);
        int o = owner(sg__cluster_keyslot(k, strlen(k)));
        if (!(found & (1 << o))) {
            snprintf(key[o], sizeof key[o], "%s", k);
            found |= 1 << o;
        }
    }
    assert_int_equal(found, 7);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sg__store_put(s, K(key[i]), "x", 1, 0, T0), SG_OK);
    rh_crash(node[2]);
    size_t vlen;
    assert_int_equal(sg__store_get(s, K(key[2]), NULL, 0, &vlen, T0), SG_ESTORE);
    char where[32];
    snprintf(where, sizeof where, "127.0.0.1:%d", nport(2));
    assert_non_null(strstr(sg__store_errmsg(s), where));
    /* the other masters still answer (before the node timeout, 2 s) */
    assert_int_equal(sg__store_get(s, K(key[0]), NULL, 0, &vlen, T0), SG_OK);
    assert_true(rh_restart(node[2]));
    assert_true(rh_cluster_wait(node, 3, 10000));
    rh_sleep_ms(SG_REDIS_RETRY_MS + 10);
    assert_int_equal(sg__store_put(s, K(key[2]), "y", 1, 0, T0), SG_OK);
    char b;
    assert_int_equal(sg__store_get(s, K(key[2]), &b, 1, &vlen, T0), SG_OK);
    assert_int_equal(b, 'y');
}

static void seeds_must_be_host_port_lists(void **state) {
    char err[200];
    sg_store *s = NULL;
    assert_int_equal(sg__store_open_uri("redis-cluster://", &s, err, sizeof err), SG_EINVAL);
    assert_int_equal(sg__store_open_uri("redis-cluster://127.0.0.1", &s, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, "bad seed"));
    assert_int_equal(sg__store_open_uri("redis-cluster://127.0.0.1:7000,,x", &s, err, sizeof err), SG_EINVAL);
    char uri[80];
    int closed = rh_free_port(false);
    snprintf(uri, sizeof uri, "redis-cluster://127.0.0.1:%d", closed);
    assert_int_equal(sg__store_open_uri(uri, &s, err, sizeof err), SG_ESTORE);
    assert_non_null(strstr(err, "refused"));
    /* a seed that is not in cluster mode says so */
    int plain = rh_start(false);
    assert_true(plain >= 0);
    snprintf(uri, sizeof uri, "redis-cluster://127.0.0.1:%d", rh_srv[plain].port);
    assert_int_equal(sg__store_open_uri(uri, &s, err, sizeof err), SG_ESTORE);
    assert_non_null(strstr(err, "disabled"));
    rh_stop(plain);
    snprintf(uri, sizeof uri, "redis-cluster://127.0.0.1:%d,127.0.0.1:%d", closed, nport(0));
    assert_int_equal(sg__store_open_uri(uri, &s, err, sizeof err), SG_OK);
    assert_string_equal(s->ops->name, "redis-cluster");
    sg__store_free(s);
}

int main(void) {
    if (!rh_have_redis()) {
        printf("SKIP: redis-server/redis-cli not installed (Debian package "
               "redis-server); the Redis Cluster backend is not tested\n");
        return 0;
    }
    if (!rh_start_cluster(node)) {
        fprintf(stderr, "could not build a 3-master cluster\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(crc16_and_hash_tags_follow_the_cluster_specification),
        T(an_accounts_keys_share_a_node_and_commit_in_one_exec),
        T(a_batch_over_all_nodes_is_exact),
        T(ask_while_a_slot_migrates_and_moved_after_it_has),
        T(seeds_must_be_host_port_lists),
        T(a_killed_master_fails_its_keys_and_recovers_when_back),
#undef T
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    rh_stop_all();
    return failed;
}
