/*
 * test_store_redis.c -- the Redis backend (store_redis.c) against a private
 * redis-server started on a free loopback port: wall-clock TTLs that mirror
 * message-time expiry, one MULTI/EXEC per group, one pipeline per batch,
 * exact counts from several daemons at once, surviving a server restart,
 * foreign data and URIs.  Shared semantics: test_store_conformance.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "behavior.h"
#include "redis_harness.h"
#include "sg_internal.h"
#include "store.h"
#include "store_redis.h"

#define K(s) (s), strlen(s)
#define T0 978307200000LL /* message time, 2001-01-01 */

static int srv = -1;

static int port(void) { return rh_srv[srv].port; }

static sg_store *open_store(void) {
    sg_store *s = NULL;
    assert_int_equal(sg__store_redis_new("127.0.0.1", port(), &s), SG_OK);
    return s;
}

static int setup(void **state) {
    assert_true(rh_flush(srv));
    *state = open_store();
    return 0;
}

static int teardown(void **state) {
    sg__store_free(*state);
    return 0;
}

static long long pttl(const char *key) {
    redisReply *r = rh_cmd(port(), "PTTL %s", key);
    assert_non_null(r);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* calls=N of one command in INFO commandstats. */
static long long calls(const char *cmd) {
    redisReply *r = rh_cmd(port(), "INFO commandstats");
    assert_non_null(r);
    char pat[64];
    snprintf(pat, sizeof pat, "cmdstat_%s:calls=", cmd);
    const char *p = strstr(r->str, pat);
    long long n = p ? atoll(p + strlen(pat)) : 0;
    freeReplyObject(r);
    return n;
}

static void keys_carry_a_wall_clock_ttl_as_long_as_their_message_time_life(void **state) {
    sg_store *s = *state;
    int64_t v;
    assert_int_equal(sg__store_put(s, K("win:{a}"), "x", 1, T0 + 60000, T0), SG_OK);
    long long t = pttl("win:{a}");
    assert_true(t > 55000 && t <= 60000);
    assert_int_equal(sg__store_incr(s, K("fan:{a}"), 1, T0 + 3600000, T0, &v), SG_OK);
    t = pttl("fan:{a}");
    assert_true(t > 3595000 && t <= 3600000);
    /* expire 0 on a live counter keeps its TTL */
    assert_int_equal(sg__store_incr(s, K("fan:{a}"), 1, 0, T0 + 1000, &v), SG_OK);
    assert_true(pttl("fan:{a}") > 3590000);
    /* never-expiring keys have no TTL; a put without expiry drops one */
    assert_int_equal(sg__store_put(s, K("acct:{a}"), "p", 1, 0, T0), SG_OK);
    assert_int_equal(pttl("acct:{a}"), -1);
    assert_int_equal(sg__store_put(s, K("win:{a}"), "y", 1, 0, T0), SG_OK);
    assert_int_equal(pttl("win:{a}"), -1);
    /* a deadline centuries away is capped to about ten years of TTL */
    assert_int_equal(sg__store_put(s, K("far"), "f", 1, INT64_MAX, T0), SG_OK);
    t = pttl("far");
    assert_true(t > 3600LL * 86400 * 1000 && t <= 3660LL * 86400 * 1000);
}

/* A value read in the group and written back is rewritten by one SET (no
 * DEL), and its deadline follows the new put exactly. */
static void a_value_read_then_rewritten_keeps_exactly_the_new_deadline(void **state) {
    sg_store *s = *state;
    char buf[8];
    size_t vlen;
    assert_int_equal(sg__store_put(s, K("acct:{j}"), "v1", 2, T0 + 60000, T0), SG_OK);
    long long del0 = calls("del");
    for (int round = 0; round < 3; round++) {
        /* round 0: same deadline; 1: a later one; 2: none */
        int64_t exp = round == 0 ? T0 + 60000 : round == 1 ? T0 + 120000 : 0;
        assert_int_equal(sg__store_begin(s), SG_OK);
        assert_int_equal(sg__store_get(s, K("acct:{j}"), buf, sizeof buf, &vlen, T0), SG_OK);
        buf[1] = (char)('2' + round);
        assert_int_equal(sg__store_put(s, K("acct:{j}"), buf, 2, exp, T0), SG_OK);
        assert_int_equal(sg__store_commit(s), SG_OK);
        long long t = pttl("acct:{j}");
        if (round < 2) assert_true(t > exp - T0 - 5000 && t <= exp - T0);
        else assert_int_equal(t, -1);
        assert_int_equal(sg__store_get(s, K("acct:{j}"), buf, sizeof buf, &vlen,
                                       round < 2 ? exp - 1 : INT64_MAX), SG_OK);
        assert_int_equal(buf[1], '2' + round);
        if (round < 2)
            assert_int_equal(sg__store_get(s, K("acct:{j}"), buf, sizeof buf, &vlen, exp), SG_ENOTFOUND);
    }
    assert_int_equal(calls("del"), del0);
}

static void an_expired_counter_redis_still_holds_restarts_from_zero(void **state) {
    sg_store *s = *state;
    int64_t v;
    assert_int_equal(sg__store_incr(s, K("bulk:{fp}"), 5, T0 + 1000, T0, &v), SG_OK);
    assert_int_equal(v, 5);
    /* one wall-clock instant later, but 2 s later in message time */
    assert_true(pttl("bulk:{fp}") > 0);
    assert_int_equal(sg__store_incr(s, K("bulk:{fp}"), 1, 0, T0 + 2000, &v), SG_OK);
    assert_int_equal(v, 1);
    assert_int_equal(pttl("bulk:{fp}"), -1); /* a fresh key: never */
    size_t vlen;
    assert_int_equal(sg__store_get(s, K("bulk:{fp}"), &v, sizeof v, &vlen, T0 + 3000), SG_OK);
    assert_int_equal(v, 1);
}

static void a_group_is_one_multi_exec_that_others_see_only_after_commit(void **state) {
    sg_store *s = *state, *other = open_store();
    int64_t v;
    size_t vlen;
    long long exec0 = calls("exec"), mget0 = calls("mget");
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_put(s, K("acct:{gina}"), "held", 4, 0, T0), SG_OK);
    assert_int_equal(sg__store_incr(s, K("acct:{gina}:out"), 1, T0 + 60000, T0, &v), SG_OK);
    assert_int_equal(sg__store_incr(s, K("acct:{gina}:out"), 1, 0, T0, &v), SG_OK);
    assert_int_equal(sg__store_incr(s, K("camp:{c9}:n"), 1, T0 + 60000, T0, &v), SG_OK);
    assert_int_equal(sg__store_del(s, K("acct:{gina}:old")), SG_OK);
    assert_int_equal(sg__store_get(other, K("acct:{gina}"), NULL, 0, &vlen, T0), SG_ENOTFOUND);
    assert_int_equal(calls("exec"), exec0); /* nothing sent yet */
    assert_int_equal(sg__store_commit(s), SG_OK);
    assert_int_equal(calls("exec"), exec0 + 1); /* the whole group at once */
    /* the counters were read once each (to answer incr), not per call;
     * other's single get is a GET */
    assert_int_equal(calls("mget"), mget0 + 2);
    assert_int_equal(sg__store_get(other, K("acct:{gina}:out"), &v, sizeof v, &vlen, T0), SG_OK);
    assert_int_equal(v, 2);
    sg__store_free(other);
}

static void a_batch_reads_in_one_pipeline_and_writes_in_one_exec(void **state) {
    sg_store *s = *state;
    sg_store_op ops[60];
    char keys[60][16];
    for (int i = 0; i < 60; i++) {
        snprintf(keys[i], sizeof keys[i], "fp:{%d}", i % 20);
        ops[i] = (sg_store_op){.op = SG_STORE_INCR, .key = keys[i],
                               .klen = strlen(keys[i]), .delta = i,
                               .expire_at_ms = T0 + 60000};
    }
    long long exec0 = calls("exec"), mget0 = calls("mget");
    assert_int_equal(sg__store_batch(s, ops, 60, T0), SG_OK);
    assert_int_equal(calls("mget"), mget0 + 1); /* one MGET of the 20 keys */
    assert_int_equal(calls("exec"), exec0 + 1);
    /* fp:{k} got k, k+20, k+40 */
    for (int i = 40; i < 60; i++) {
        assert_int_equal(ops[i].err, SG_OK);
        assert_int_equal(ops[i].result, 3 * (i - 40) + 60);
    }
}

/* Several daemons add to the same counters at the same time; the add on
 * the server at commit (ADD_LUA) makes the stored sums exact. */
static void counts_from_three_daemons_at_once_add_up_exactly(void **state) {
    pid_t pid[3];
    for (int p = 0; p < 3; p++) {
        pid[p] = fork();
        assert_true(pid[p] >= 0);
        if (pid[p] == 0) {
            sg_store *c = NULL;
            int64_t v;
            if (sg__store_redis_new("127.0.0.1", port(), &c)) _exit(2);
            for (int i = 0; i < 300; i++) {
                sg__store_begin(c);
                sg__store_incr(c, "acct:{henk}:contacts", 20, 1, T0 + 600000, T0, &v);
                sg__store_incr(c, "camp:{worm}:senders", 19, 2, 0, T0, &v);
                if (sg__store_commit(c)) _exit(3);
            }
            sg__store_free(c);
            _exit(0);
        }
    }
    for (int p = 0; p < 3; p++) {
        int st;
        assert_int_equal(waitpid(pid[p], &st, 0), pid[p]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    sg_store *s = *state;
    int64_t v;
    size_t vlen;
    assert_int_equal(sg__store_get(s, K("acct:{henk}:contacts"), &v, sizeof v, &vlen, T0), SG_OK);
    assert_int_equal(v, 900);
    assert_int_equal(sg__store_get(s, K("camp:{worm}:senders"), &v, sizeof v, &vlen, T0), SG_OK);
    assert_int_equal(v, 1800);
}

static void a_server_restart_fails_calls_cleanly_and_then_recovers(void **state) {
    sg_store *s = *state;
    size_t vlen;
    assert_int_equal(sg__store_put(s, K("k"), "v", 1, 0, T0), SG_OK);
    rh_crash(srv);
    assert_int_equal(sg__store_get(s, K("k"), NULL, 0, &vlen, T0), SG_ESTORE);
    char where[32];
    snprintf(where, sizeof where, "127.0.0.1:%d", port());
    assert_non_null(strstr(sg__store_errmsg(s), where));
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_put(s, K("k2"), "v", 1, 0, T0), SG_OK);
    assert_int_equal(sg__store_commit(s), SG_ESTORE);
    assert_true(rh_restart(srv));
    rh_sleep_ms(SG_REDIS_RETRY_MS + 20); /* the back-off between attempts */
    assert_int_equal(sg__store_put(s, K("k"), "w", 1, 0, T0), SG_OK);
    char b;
    assert_int_equal(sg__store_get(s, K("k"), &b, 1, &vlen, T0), SG_OK);
    assert_int_equal(b, 'w');
}

static void a_foreign_key_of_another_type_is_an_error_not_a_crash(void **state) {
    sg_store *s = *state;
    redisReply *r = rh_cmd(port(), "SET acct:{x} plain");
    freeReplyObject(r);
    size_t vlen;
    int64_t v;
    assert_int_equal(sg__store_get(s, K("acct:{x}"), NULL, 0, &vlen, T0), SG_ESTORE);
    assert_non_null(strstr(sg__store_errmsg(s), "malformed"));
    assert_int_equal(sg__store_incr(s, K("acct:{x}"), 1, 0, T0, &v), SG_ESTORE);
    /* a counter whose digits are not a number */
    r = rh_cmd(port(), "SET acct:{z} N\x01\x02\x03\x04\x05\x06\x07\x08" "12x");
    freeReplyObject(r);
    assert_int_equal(sg__store_get(s, K("acct:{z}"), NULL, 0, &vlen, T0), SG_ESTORE);
    assert_non_null(strstr(sg__store_errmsg(s), "malformed"));
    r = rh_cmd(port(), "HSET acct:{y} n 1");
    freeReplyObject(r);
    assert_int_equal(sg__store_get(s, K("acct:{y}"), NULL, 0, &vlen, T0), SG_ESTORE);
    assert_non_null(strstr(sg__store_errmsg(s), "WRONGTYPE"));
}

static void uris_name_the_server_or_say_what_is_wrong(void **state) {
    char uri[64], err[200];
    sg_store *s = NULL;
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d/", port());
    assert_int_equal(sg__store_open_uri(uri, &s, err, sizeof err), SG_OK);
    assert_string_equal(s->ops->name, "redis");
    sg__store_free(s);
    assert_int_equal(sg__store_open_uri("redis://127.0.0.1:0", &s, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, "bad address"));
    assert_int_equal(sg__store_open_uri("redis://:6379", &s, err, sizeof err), SG_EINVAL);
    assert_int_equal(sg__store_open_uri("redis://127.0.0.1:6379/3", &s, err, sizeof err), SG_EINVAL);
    int closed = rh_free_port(false);
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d", closed);
    assert_int_equal(sg__store_open_uri(uri, &s, err, sizeof err), SG_ESTORE);
    assert_non_null(strstr(err, "refused"));
    assert_null(s);
}

/* ------------------------------------------------------------ read-ahead */

/* A small worm among chat: 18 accounts, each sending one message; two in
 * three send the same lure with a young lookalike link to the next account
 * (which then sends it on: infection edges), the others a chat line of
 * their own.  So bands, windows, campaign keys and receipts written early
 * in the batch are read back later in it. */
#define NSTREAM 18
static void stream_at(sg_message **m, long long t0);
static void stream(sg_message **m) { stream_at(m, T0); }
static void stream_at(sg_message **m, long long t0) {
    char json[512], text[128];
    for (int i = 0; i < NSTREAM; i++) {
        if (i % 3 == 2)
            snprintf(text, sizeof text, "hi, how was trip number %d? call me "
                     "when you are back home, %d", i, i * 7);
        else
            snprintf(text, sizeof text, "is this you in this video?? "
                     "https://faceb00k-clips.com/v/8841");
        snprintf(json, sizeof json, "{\"id\":\"m%d\",\"from\":\"u%d@im.example\","
                 "\"to\":\"u%d@im.example\",\"contact\":true,\"text\":\"%s\","
                 "\"ts\":%lld}", i, i, i + 1, text, t0 + i * 1000);
        assert_int_equal(sg_message_parse_json(json, strlen(json), 0, 0, &m[i], NULL, 0),
                         SG_OK);
    }
}

/* Judge the stream in one store group, as a daemon judges a batch:
 * prepare all, read ahead for all (when `ahead`), judge each, commit.
 * Fills json[] with the verdicts; returns the MGETs the judging sent. */
static long long judge_batch_on(sg_engine *e, sg_message **m, bool ahead,
                                char **json);
static long long judge_batch(sg_message **m, bool ahead, char **json) {
    char uri[64];
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d", port());
    sg_options o = {.store_uri = uri};
    sg_engine *e;
    assert_true(rh_flush(srv));
    assert_int_equal(sg_engine_new(&o, &e), SG_OK);
    long long mgets = judge_batch_on(e, m, ahead, json);
    sg_engine_free(e);
    return mgets;
}

/* judge_batch on an open engine (its store as earlier batches left it). */
static long long judge_batch_on(sg_engine *e, sg_message **m, bool ahead,
                                char **json) {
    sg_ctx c[NSTREAM];
    for (int i = 0; i < NSTREAM; i++)
        assert_int_equal(sg__check_prepare(e, m[i], &c[i], NULL), SG_OK);
    long long mget0 = calls("mget");
    assert_int_equal(sg__store_begin(e->store), SG_OK);
    if (ahead) assert_int_equal(sg__behav_prefetch_batch(e, c, NSTREAM), SG_OK);
    for (int i = 0; i < NSTREAM; i++) {
        sg_verdict *v;
        assert_int_equal(sg__check_judge(e, &c[i], &v), SG_OK);
        json[i] = sg_verdict_to_json(v);
        sg_verdict_free(v);
        sg__ctx_free(&c[i]);
    }
    long long mgets = calls("mget") - mget0;
    assert_int_equal(sg__store_commit(e->store), SG_OK);
    return mgets;
}

/* sg__behav_prefetch_batch reads every message's first keys in one round
 * trip; the verdicts are the same, byte for byte, and the judging itself
 * needs fewer reads. */
static void a_batch_read_ahead_changes_no_verdict_and_saves_round_trips(void **state) {
    (void)state;
    sg_message *m[NSTREAM];
    char *plain[NSTREAM], *ahead[NSTREAM];
    stream(m);
    long long mget_plain = judge_batch(m, false, plain);
    long long mget_ahead = judge_batch(m, true, ahead);
    bool campaign = false;
    for (int i = 0; i < NSTREAM; i++) {
        assert_non_null(plain[i]);
        assert_string_equal(plain[i], ahead[i]);
        campaign = campaign || strstr(plain[i], "\"campaign\":\"") != NULL;
        free(plain[i]);
        free(ahead[i]);
        sg_message_free(m[i]);
    }
    assert_true(campaign); /* the stream did reach the campaign stage */
    /* each message's first step is one MGET without it (a new sender
     * each time); with it one MGET does them all */
    assert_true(mget_plain >= NSTREAM);
    assert_true(mget_ahead <= mget_plain - (NSTREAM - 1));
}

/* A second batch of texts the store already knows (the stream again, a
 * minute later): rounds 2 and 3 of the read-ahead read each known
 * cluster's window, campaign map and receipt, and each campaign's record
 * and lists, for the whole batch, so judging it needs almost no read of
 * its own: 3 MGETs (+ 1 per sender acted on) for 18 messages instead of
 * two or more per message; the verdicts stay the same byte for byte. */
static void known_texts_are_read_ahead_in_three_round_trips(void **state) {
    (void)state;
    char uri[64], *first[NSTREAM], *plain[NSTREAM], *ahead[NSTREAM];
    long long mget[2];
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d", port());
    for (int pass = 0; pass < 2; pass++) {
        sg_message *m1[NSTREAM], *m2[NSTREAM];
        sg_options o = {.store_uri = uri};
        sg_engine *e;
        stream(m1);
        stream_at(m2, T0 + 60000);
        assert_true(rh_flush(srv));
        assert_int_equal(sg_engine_new(&o, &e), SG_OK);
        judge_batch_on(e, m1, true, first);
        mget[pass] = judge_batch_on(e, m2, pass == 1, pass ? ahead : plain);
        sg_engine_free(e);
        for (int i = 0; i < NSTREAM; i++) {
            free(first[i]);
            sg_message_free(m1[i]);
            sg_message_free(m2[i]);
        }
    }
    bool campaign = false;
    for (int i = 0; i < NSTREAM; i++) {
        assert_non_null(plain[i]);
        assert_string_equal(plain[i], ahead[i]);
        campaign = campaign || strstr(plain[i], "\"campaign\":\"") != NULL;
        free(plain[i]);
        free(ahead[i]);
    }
    assert_true(campaign);
    assert_true(mget[0] >= 2 * NSTREAM); /* first keys, then the cluster's */
    /* three rounds; then only the enforcement case (enf:{id}, enforce.c)
     * of each of the 12 lure senders the worm rule acts on, read when the
     * action is taken */
    assert_true(mget[1] >= 3);
    assert_true(mget[1] <= 3 + NSTREAM * 2 / 3);
}

int main(void) {
    if (!rh_have_redis()) {
        printf("SKIP: redis-server/redis-cli not installed (Debian package "
               "redis-server); the Redis backend is not tested\n");
        return 0;
    }
    if ((srv = rh_start(false)) < 0) {
        fprintf(stderr, "could not start redis-server\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(keys_carry_a_wall_clock_ttl_as_long_as_their_message_time_life),
        T(a_value_read_then_rewritten_keeps_exactly_the_new_deadline),
        T(an_expired_counter_redis_still_holds_restarts_from_zero),
        T(a_group_is_one_multi_exec_that_others_see_only_after_commit),
        T(a_batch_reads_in_one_pipeline_and_writes_in_one_exec),
        T(counts_from_three_daemons_at_once_add_up_exactly),
        T(a_server_restart_fails_calls_cleanly_and_then_recovers),
        T(a_foreign_key_of_another_type_is_an_error_not_a_crash),
        T(uris_name_the_server_or_say_what_is_wrong),
        T(a_batch_read_ahead_changes_no_verdict_and_saves_round_trips),
        T(known_texts_are_read_ahead_in_three_round_trips),
#undef T
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    rh_stop_all();
    return failed;
}
