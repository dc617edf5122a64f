/*
 * test_store_memory.c -- the in-memory state store (store_memory.c):
 * get/put/incr/del semantics, expiry at the caller's time, the incremental
 * sweep that frees keys nobody touches again, growth, and clean failure
 * when an allocation fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sg_internal.h"
#include "store.h"

#define K(s) (s), strlen(s)

static int setup(void **state) {
    sg_store *s = NULL;
    assert_int_equal(sg__store_memory_new(&s), SG_OK);
    *state = s;
    return 0;
}

static int teardown(void **state) {
    sg__store_free(*state);
    return 0;
}

static void put_then_get_returns_the_value_and_its_length(void **state) {
    sg_store *s = *state;
    char buf[32] = {0};
    size_t vlen = 0;
    assert_int_equal(sg__store_put(s, K("acct:{alice@example.org}"), "profile", 7, 0, 1000), SG_OK);
    assert_int_equal(sg__store_get(s, K("acct:{alice@example.org}"), buf, sizeof buf, &vlen, 1000), SG_OK);
    assert_int_equal(vlen, 7);
    assert_memory_equal(buf, "profile", 7);
    /* a key that differs in one byte is another key */
    assert_int_equal(sg__store_get(s, K("acct:{alice@example.orh}"), buf, sizeof buf, &vlen, 1000), SG_ENOTFOUND);
}

static void get_into_a_short_buffer_copies_a_prefix_and_reports_full_length(void **state) {
    sg_store *s = *state;
    char buf[4] = {0};
    size_t vlen = 0;
    assert_int_equal(sg__store_put(s, K("fp:1"), "0123456789", 10, 0, 0), SG_OK);
    assert_int_equal(sg__store_get(s, K("fp:1"), buf, sizeof buf, &vlen, 0), SG_OK);
    assert_int_equal(vlen, 10);
    assert_memory_equal(buf, "0123", 4);
    /* asking only for the length works too */
    assert_int_equal(sg__store_get(s, K("fp:1"), NULL, 0, &vlen, 0), SG_OK);
    assert_int_equal(vlen, 10);
}

static void a_key_expires_at_its_deadline_not_a_millisecond_earlier(void **state) {
    sg_store *s = *state;
    char buf[8];
    size_t vlen;
    assert_int_equal(sg__store_put(s, K("win:a"), "x", 1, 5000, 1000), SG_OK);
    assert_int_equal(sg__store_get(s, K("win:a"), buf, sizeof buf, &vlen, 4999), SG_OK);
    assert_int_equal(sg__store_get(s, K("win:a"), buf, sizeof buf, &vlen, 5000), SG_ENOTFOUND);
    uint64_t keys = 99;
    s->ops->stats(s, &keys, NULL);
    assert_int_equal(keys, 0); /* the lazy expiry freed it */
}

static void overwriting_with_a_longer_value_keeps_one_key(void **state) {
    sg_store *s = *state;
    char big[300], buf[300];
    size_t vlen;
    memset(big, 'z', sizeof big);
    assert_int_equal(sg__store_put(s, K("camp:c1"), "ab", 2, 0, 0), SG_OK);
    assert_int_equal(sg__store_put(s, K("camp:c1"), big, sizeof big, 0, 0), SG_OK);
    assert_int_equal(sg__store_get(s, K("camp:c1"), buf, sizeof buf, &vlen, 0), SG_OK);
    assert_int_equal(vlen, 300);
    assert_memory_equal(buf, big, 300);
    uint64_t keys;
    s->ops->stats(s, &keys, NULL);
    assert_int_equal(keys, 1);
}

static void incr_counts_from_zero_and_restarts_after_expiry(void **state) {
    sg_store *s = *state;
    int64_t v = 0;
    assert_int_equal(sg__store_incr(s, K("n"), 3, 10000, 0, &v), SG_OK);
    assert_int_equal(v, 3);
    /* expire 0 keeps the old deadline */
    assert_int_equal(sg__store_incr(s, K("n"), -1, 0, 9000, &v), SG_OK);
    assert_int_equal(v, 2);
    assert_int_equal(sg__store_incr(s, K("n"), 5, 0, 10000, &v), SG_OK);
    assert_int_equal(v, 5); /* the old counter had expired at 10000 */
    /* ... and the new one never expires (0 on a fresh key) */
    assert_int_equal(sg__store_incr(s, K("n"), 1, 0, INT64_MAX, &v), SG_OK);
    assert_int_equal(v, 6);
}

static void incr_on_a_non_counter_fails_and_changes_nothing(void **state) {
    sg_store *s = *state;
    char buf[8];
    size_t vlen;
    int64_t v = 42;
    assert_int_equal(sg__store_put(s, K("acct:{b}"), "abc", 3, 0, 0), SG_OK);
    assert_int_equal(sg__store_incr(s, K("acct:{b}"), 1, 0, 0, &v), SG_EINVAL);
    assert_int_equal(v, 42);
    assert_int_equal(sg__store_get(s, K("acct:{b}"), buf, sizeof buf, &vlen, 0), SG_OK);
    assert_int_equal(vlen, 3);
    /* past the int64 range: refused, the counter keeps its value */
    assert_int_equal(sg__store_incr(s, K("c"), INT64_MAX - 1, 0, 0, &v), SG_OK);
    assert_int_equal(sg__store_incr(s, K("c"), 2, 0, 0, &v), SG_EINVAL);
    assert_int_equal(sg__store_incr(s, K("c"), 0, 0, 0, &v), SG_OK);
    assert_int_equal(v, INT64_MAX - 1);
}

static void del_removes_and_is_fine_on_a_missing_key(void **state) {
    sg_store *s = *state;
    size_t vlen;
    assert_int_equal(sg__store_put(s, K("k"), "v", 1, 0, 0), SG_OK);
    assert_int_equal(sg__store_del(s, K("k")), SG_OK);
    assert_int_equal(sg__store_del(s, K("k")), SG_OK);
    assert_int_equal(sg__store_get(s, K("k"), NULL, 0, &vlen, 0), SG_ENOTFOUND);
}

static void bad_arguments_are_refused(void **state) {
    sg_store *s = *state;
    size_t vlen;
    assert_int_equal(sg__store_put(s, NULL, 3, "v", 1, 0, 0), SG_EINVAL);
    assert_int_equal(sg__store_put(s, "k", 0, "v", 1, 0, 0), SG_EINVAL);
    assert_int_equal(sg__store_put(s, "k", 1, NULL, 1, 0, 0), SG_EINVAL);
    assert_int_equal(sg__store_get(s, "k", 1, NULL, 4, &vlen, 0), SG_EINVAL);
    static const char big[1];
    assert_int_equal(sg__store_put(s, "k", 1, big, (16u << 20) + 1, 0, 0), SG_EINVAL);
    char longkey[4097];
    memset(longkey, 'k', sizeof longkey);
    assert_int_equal(sg__store_put(s, longkey, sizeof longkey, "v", 1, 0, 0), SG_EINVAL);
    assert_int_equal(sg__store_put(s, longkey, 4096, "v", 1, 0, 0), SG_OK);
    assert_int_equal(s->ops->commit(s), SG_EINVAL); /* commit without begin */
    assert_int_equal(s->ops->begin(s), SG_OK);
    assert_int_equal(s->ops->commit(s), SG_OK);
}

/* 20,000 short-lived keys are written and never read again; the sweep that
 * rides on later writes must free them all. */
static void the_sweep_frees_expired_keys_nobody_touches_again(void **state) {
    sg_store *s = *state;
    char key[32];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(key, sizeof key, "rcpt:{u%d}", i);
        assert_int_equal(sg__store_put(s, key, (size_t)n, "1", 1, 50000 + i, i), SG_OK);
    }
    uint64_t keys, bytes_full;
    s->ops->stats(s, &keys, &bytes_full);
    assert_true(keys > 19000); /* most still alive while being written */
    /* Later traffic on a handful of other keys, long after every deadline:
     * 70,000 writes, enough for the sweep to pass the whole table. */
    for (int i = 0; i < 70000; i++) {
        int n = snprintf(key, sizeof key, "live:%d", i % 16);
        assert_int_equal(sg__store_put(s, key, (size_t)n, "x", 1, 0, 100000 + i), SG_OK);
    }
    uint64_t bytes;
    s->ops->stats(s, &keys, &bytes);
    assert_int_equal(keys, 16);
    /* each freed entry held at least its 10-byte key and a 16-byte value */
    assert_true(bytes_full - bytes > 19000 * 26);
    /* and every live key is still there */
    for (int i = 0; i < 16; i++) {
        int n = snprintf(key, sizeof key, "live:%d", i);
        assert_int_equal(sg__store_get(s, key, (size_t)n, NULL, 0, NULL, 200000), SG_OK);
    }
}

static void many_keys_survive_growth_with_their_own_values(void **state) {
    sg_store *s = *state;
    char key[32];
    for (int64_t i = 0; i < 50000; i++) {
        int n = snprintf(key, sizeof key, "acct:{%lld}", (long long)i);
        assert_int_equal(sg__store_put(s, key, (size_t)n, &i, sizeof i, 0, 0), SG_OK);
    }
    for (int64_t i = 0; i < 50000; i += 7) {
        int n = snprintf(key, sizeof key, "acct:{%lld}", (long long)i);
        int64_t v = -1;
        size_t vlen = 0;
        assert_int_equal(sg__store_get(s, key, (size_t)n, &v, sizeof v, &vlen, 0), SG_OK);
        assert_int_equal(vlen, sizeof v);
        assert_int_equal(v, i);
    }
}

static void a_failed_allocation_returns_enomem_and_keeps_the_old_value(void **state) {
    sg_store *s = *state;
    char big[1000], buf[8];
    size_t vlen;
    memset(big, 'q', sizeof big);
    assert_int_equal(sg__store_put(s, K("k"), "old", 3, 0, 0), SG_OK);
    sg__alloc_fail_after(0);
    int rc = sg__store_put(s, K("k"), big, sizeof big, 0, 0);
    int rc2 = sg__store_put(s, K("new"), "v", 1, 0, 0);
    sg__alloc_fail_after(-1);
    assert_int_equal(rc, SG_ENOMEM);
    assert_int_equal(rc2, SG_ENOMEM);
    assert_int_equal(sg__store_get(s, K("k"), buf, sizeof buf, &vlen, 0), SG_OK);
    assert_int_equal(vlen, 3);
    assert_memory_equal(buf, "old", 3);
    assert_int_equal(sg__store_get(s, K("new"), NULL, 0, &vlen, 0), SG_ENOTFOUND);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(put_then_get_returns_the_value_and_its_length),
        T(get_into_a_short_buffer_copies_a_prefix_and_reports_full_length),
        T(a_key_expires_at_its_deadline_not_a_millisecond_earlier),
        T(overwriting_with_a_longer_value_keeps_one_key),
        T(incr_counts_from_zero_and_restarts_after_expiry),
        T(incr_on_a_non_counter_fails_and_changes_nothing),
        T(del_removes_and_is_fine_on_a_missing_key),
        T(bad_arguments_are_refused),
        T(the_sweep_frees_expired_keys_nobody_touches_again),
        T(many_keys_survive_growth_with_their_own_values),
        T(a_failed_allocation_returns_enomem_and_keeps_the_old_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
