/*
 * test_store_watch.c -- watched reads (sg_store_ops.watch), the optimistic
 * compare-and-set that lets many daemons rewrite an account's state whole
 * (docs/storage.md "Many daemons, one truth"): a group that read a watched
 * key which another writer changed before its commit applies nothing and
 * answers SG__ECONFLICT; without a concurrent write it commits as usual;
 * a watched group that ends without writing, or is aborted, leaves no
 * watch behind to fail the next one.  Against LMDB (the other writer is a
 * forked process on the same directory), one redis-server and a 3-master
 * Redis Cluster (the other writer is a second store object), and the
 * memory backend, which has no other writer and no watch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redis_harness.h"
#include "sg_internal.h"
#include "store.h"
#include "store_redis.h"

#define K(s) (s), strlen(s)
#define T0 978307200000LL /* message time, 2001-01-01 */

static int single = -1, node[3];
static bool have_cluster;

/* The value of key as a string ("" when absent). */
static const char *value(sg_store *s, const char *key) {
    static char buf[64];
    size_t n = 0;
    if (sg__store_get(s, K(key), buf, sizeof buf - 1, &n, T0) != SG_OK) return "";
    buf[n < sizeof buf - 1 ? n : sizeof buf - 1] = '\0';
    return buf;
}

static void put(sg_store *s, const char *key, const char *val) {
    assert_int_equal(sg__store_put(s, K(key), K(val), 0, T0), SG_OK);
}

/* A group that watches and reads "acct:{ann}", then writes it and a key of
 * another family (another hash slot on a cluster); `meanwhile` runs
 * between the read and the commit.  Returns what the commit answered. */
static int watched_group(sg_store *s, void (*meanwhile)(void *), void *arg) {
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_watch(s, K("acct:{ann}"), T0), SG_OK);
    (void)value(s, "acct:{ann}");
    if (meanwhile) meanwhile(arg);
    put(s, "acct:{ann}", "mine");
    int64_t n;
    assert_int_equal(sg__store_incr(s, K("camp:c1:n"), 1, 0, T0, &n), SG_OK);
    return sg__store_commit(s);
}

/* The same steps against a store and its rival (another connection). */
static void rival_put(void *rival) { put(rival, "acct:{ann}", "theirs"); }

static void conflict_applies_nothing_and_a_retry_succeeds(sg_store *s, sg_store *rival) {
    put(s, "acct:{ann}", "start");
    assert_int_equal(watched_group(s, rival_put, rival), SG__ECONFLICT);
    assert_string_equal(value(s, "acct:{ann}"), "theirs");
    assert_string_equal(value(s, "camp:c1:n"), ""); /* the other key too */
    assert_int_equal(watched_group(s, NULL, NULL), SG_OK);
    assert_string_equal(value(rival, "acct:{ann}"), "mine");
    int64_t n = 0;
    size_t vl;
    assert_int_equal(sg__store_get(rival, K("camp:c1:n"), &n, sizeof n, &vl, T0), SG_OK);
    assert_int_equal(n, 1);
}

/* A watched group that writes nothing, and one that is aborted, must not
 * leave a watch that fails the next group after the key changed. */
static void no_watch_outlives_its_group(sg_store *s, sg_store *rival) {
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_watch(s, K("acct:{bob}"), T0), SG_OK);
    (void)value(s, "acct:{bob}");
    assert_int_equal(sg__store_commit(s), SG_OK);
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_watch(s, K("acct:{cid}"), T0), SG_OK);
    (void)value(s, "acct:{cid}");
    assert_int_equal(sg__store_abort(s), SG_OK);
    put(rival, "acct:{bob}", "changed");
    put(rival, "acct:{cid}", "changed");
    assert_int_equal(sg__store_begin(s), SG_OK);
    put(s, "fpw:0001", "x");
    assert_int_equal(sg__store_commit(s), SG_OK);
    assert_string_equal(value(rival, "fpw:0001"), "x");
}

/* After a conflict the retry takes the key's turn with its read: a rival
 * group that read the key before (in flight) is refused at its commit,
 * and one that reads it while the turn is held commits nothing (it waits
 * for the turn to end, then answers a conflict) -- so the message that
 * lost the race wins the next round whatever the rivals do meanwhile. */
static void a_retry_takes_the_turn_and_rivals_give_way(sg_store *s, sg_store *rival,
                                                       int port) {
    put(s, "acct:{ann}", "start");
    assert_int_equal(watched_group(s, rival_put, rival), SG__ECONFLICT);
    assert_int_equal(sg__store_begin(rival), SG_OK); /* in flight */
    assert_int_equal(sg__store_watch(rival, K("acct:{ann}"), T0), SG_OK);
    assert_string_equal(value(rival, "acct:{ann}"), "theirs");
    assert_int_equal(sg__store_begin(s), SG_OK); /* the retry */
    assert_int_equal(sg__store_watch(s, K("acct:{ann}"), T0), SG_OK);
    assert_string_equal(value(s, "acct:{ann}"), "theirs");
    redisReply *r = rh_cmd(port, "EXISTS %b", "acct:{ann}\0turn", (size_t)15);
    assert_non_null(r);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    put(rival, "acct:{ann}", "rival");
    assert_int_equal(sg__store_commit(rival), SG__ECONFLICT);
    assert_int_equal(sg__store_begin(rival), SG_OK); /* reads during the turn */
    assert_int_equal(sg__store_watch(rival, K("acct:{ann}"), T0), SG_OK);
    assert_string_equal(value(rival, "acct:{ann}"), "theirs");
    put(rival, "acct:{ann}", "rival");
    assert_int_equal(sg__store_commit(rival), SG__ECONFLICT);
    put(s, "acct:{ann}", "mine");
    assert_int_equal(sg__store_commit(s), SG_OK);
    assert_string_equal(value(rival, "acct:{ann}"), "mine");
    r = rh_cmd(port, "EXISTS %b", "acct:{ann}\0turn", (size_t)15);
    assert_non_null(r);
    assert_int_equal(r->integer, 0); /* the commit ended the turn */
    freeReplyObject(r);
    assert_int_equal(watched_group(rival, NULL, NULL), SG_OK); /* its turn now */
    r = rh_cmd(port, "EXISTS %b", "acct:{ann}\0turn", (size_t)15);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
}

/* ------------------------------------------------------------ redis */

static sg_store *open_uri(const char *uri) {
    sg_store *s = NULL;
    char err[200];
    int rc = sg__store_open_uri(uri, &s, err, sizeof err);
    if (rc) fprintf(stderr, "%s: %s\n", uri, err);
    assert_int_equal(rc, SG_OK);
    return s;
}

static void with_redis(void (*fn)(sg_store *, sg_store *), bool cluster) {
    char uri[128];
    if (cluster) {
        for (int i = 0; i < 3; i++) assert_true(rh_flush(node[i]));
        snprintf(uri, sizeof uri, "redis-cluster://127.0.0.1:%d,127.0.0.1:%d",
                 rh_srv[node[0]].port, rh_srv[node[1]].port);
    } else {
        assert_true(rh_flush(single));
        snprintf(uri, sizeof uri, "redis://127.0.0.1:%d", rh_srv[single].port);
    }
    sg_store *s = open_uri(uri), *rival = open_uri(uri);
    fn(s, rival);
    sg__store_free(s);
    sg__store_free(rival);
}

static void redis_conflict_applies_nothing_and_a_retry_succeeds(void **state) {
    if (single < 0) skip();
    with_redis(conflict_applies_nothing_and_a_retry_succeeds, false);
}

static void redis_no_watch_outlives_its_group(void **state) {
    if (single < 0) skip();
    with_redis(no_watch_outlives_its_group, false);
}

static void cluster_conflict_applies_nothing_on_any_slot(void **state) {
    if (!have_cluster) skip();
    assert_int_not_equal(sg__cluster_keyslot(K("acct:{ann}")),
                         sg__cluster_keyslot(K("camp:c1:n")));
    with_redis(conflict_applies_nothing_and_a_retry_succeeds, true);
}

static void cluster_no_watch_outlives_its_group(void **state) {
    if (!have_cluster) skip();
    with_redis(no_watch_outlives_its_group, true);
}

static void redis_a_retry_takes_the_turn_and_rivals_give_way(void **state) {
    if (single < 0) skip();
    char uri[64];
    assert_true(rh_flush(single));
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d", rh_srv[single].port);
    sg_store *s = open_uri(uri), *rival = open_uri(uri);
    a_retry_takes_the_turn_and_rivals_give_way(s, rival, rh_srv[single].port);
    sg__store_free(s);
    sg__store_free(rival);
}

static void cluster_a_retry_takes_the_turn_and_rivals_give_way(void **state) {
    if (!have_cluster) skip();
    char uri[64];
    for (int i = 0; i < 3; i++) assert_true(rh_flush(node[i]));
    snprintf(uri, sizeof uri, "redis-cluster://127.0.0.1:%d", rh_srv[node[0]].port);
    sg_store *s = open_uri(uri), *rival = open_uri(uri);
    int owner = -1; /* the master holding acct:{ann}'s slot */
    for (int i = 0; i < 3 && owner < 0; i++) {
        put(s, "acct:{ann}", "probe");
        redisReply *r = rh_cmd(rh_srv[node[i]].port, "EXISTS acct:{ann}");
        if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1) owner = i;
        if (r) freeReplyObject(r);
    }
    assert_true(owner >= 0);
    a_retry_takes_the_turn_and_rivals_give_way(s, rival, rh_srv[node[owner]].port);
    sg__store_free(s);
    sg__store_free(rival);
}

/* A watched key read again later in the group (a second message of the
 * same account in a daemon's batch) is still guarded at commit. */
static void redis_a_key_read_twice_stays_watched(void **state) {
    if (single < 0) skip();
    char uri[64];
    assert_true(rh_flush(single));
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d", rh_srv[single].port);
    sg_store *s = open_uri(uri), *rival = open_uri(uri);
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_watch(s, K("acct:{dan}"), T0), SG_OK);
    (void)value(s, "acct:{dan}");
    put(s, "acct:{dan}", "one");
    assert_int_equal(sg__store_watch(s, K("acct:{dan}"), T0), SG_OK);
    assert_string_equal(value(s, "acct:{dan}"), "one");
    put(rival, "acct:{dan}", "theirs");
    put(s, "acct:{dan}", "two");
    assert_int_equal(sg__store_commit(s), SG__ECONFLICT);
    assert_string_equal(value(s, "acct:{dan}"), "theirs");
    sg__store_free(s);
    sg__store_free(rival);
}

/* ------------------------------------------------------------ lmdb */

static void lmdb_rival_put(void *dir) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sg_store *r = NULL;
        if (sg__store_lmdb_new(dir, &r)) _exit(2);
        int rc = sg__store_put(r, K("acct:{ann}"), K("theirs"), 0, T0);
        sg__store_free(r);
        _exit(rc ? 3 : 0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void lmdb_conflict_with_another_process_applies_nothing(void **state) {
    char dir[] = "/tmp/sg-watch-XXXXXX";
    assert_non_null(mkdtemp(dir));
    sg_store *s = NULL;
    assert_int_equal(sg__store_lmdb_new(dir, &s), SG_OK);
    put(s, "acct:{ann}", "start");
    assert_int_equal(watched_group(s, lmdb_rival_put, dir), SG__ECONFLICT);
    assert_string_equal(value(s, "acct:{ann}"), "theirs");
    assert_string_equal(value(s, "camp:c1:n"), "");
    assert_int_equal(watched_group(s, NULL, NULL), SG_OK);
    assert_string_equal(value(s, "acct:{ann}"), "mine");
    /* once the group writes, writers are serialised: a watch then is free */
    assert_int_equal(sg__store_begin(s), SG_OK);
    put(s, "fpw:0001", "x");
    assert_int_equal(sg__store_watch(s, K("acct:{ann}"), T0), SG_OK);
    put(s, "acct:{ann}", "again");
    assert_int_equal(sg__store_commit(s), SG_OK);
    assert_string_equal(value(s, "acct:{ann}"), "again");
    sg__store_free(s);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void memory_has_no_rival_and_no_watch(void **state) {
    sg_store *s = NULL;
    assert_int_equal(sg__store_memory_new(&s), SG_OK);
    assert_null(s->ops->watch);
    assert_int_equal(watched_group(s, NULL, NULL), SG_OK);
    assert_string_equal(value(s, "acct:{ann}"), "mine");
    sg__store_free(s);
}

int main(void) {
    if (rh_have_redis()) {
        single = rh_start(false);
        have_cluster = rh_start_cluster(node);
    } else {
        printf("SKIP: redis-server/redis-cli not installed; Redis watches not tested\n");
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memory_has_no_rival_and_no_watch),
        cmocka_unit_test(lmdb_conflict_with_another_process_applies_nothing),
        cmocka_unit_test(redis_conflict_applies_nothing_and_a_retry_succeeds),
        cmocka_unit_test(redis_no_watch_outlives_its_group),
        cmocka_unit_test(redis_a_key_read_twice_stays_watched),
        cmocka_unit_test(cluster_conflict_applies_nothing_on_any_slot),
        cmocka_unit_test(cluster_no_watch_outlives_its_group),
        cmocka_unit_test(redis_a_retry_takes_the_turn_and_rivals_give_way),
        cmocka_unit_test(cluster_a_retry_takes_the_turn_and_rivals_give_way),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    rh_stop_all();
    return failed;
}
