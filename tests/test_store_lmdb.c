/*
 * test_store_lmdb.c -- the LMDB backend (store_lmdb.c): what survives a
 * restart and a kill -9, the map growing under a running group, the expiry
 * sweep keeping the file bounded, two processes sharing one environment,
 * URI options and a damaged data file.  The shared get/put/incr/del cases
 * are in test_store_conformance.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "sg_internal.h"
#include "store.h"

#define K(s) (s), strlen(s)
#define T0 978307200000LL /* message time, 2001-01-01 */

static int setup(void **state) {
    char *dir = malloc(64);
    snprintf(dir, 64, "/tmp/sg-lmdb-XXXXXX");
    assert_non_null(mkdtemp(dir));
    *state = dir;
    return 0;
}

static int teardown(void **state) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", (char *)*state);
    assert_int_equal(system(cmd), 0);
    free(*state);
    return 0;
}

static sg_store *open_dir(const char *dir, size_t map_bytes) {
    sg_store_lmdb_opts o = {.map_bytes = map_bytes};
    sg_store *s = NULL;
    assert_int_equal(sg__store_lmdb_open(dir, &o, &s), SG_OK);
    return s;
}

static void committed_writes_survive_reopening_and_an_open_group_does_not(void **state) {
    const char *dir = *state;
    sg_store *s = open_dir(dir, 0);
    int64_t v;
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_put(s, K("acct:{dave}"), "state-1", 7, 0, T0), SG_OK);
    assert_int_equal(sg__store_incr(s, K("acct:{dave}:out"), 4, T0 + 600000, T0, &v), SG_OK);
    assert_int_equal(sg__store_commit(s), SG_OK);
    assert_int_equal(sg__store_begin(s), SG_OK);
    assert_int_equal(sg__store_put(s, K("acct:{dave}"), "state-2", 7, 0, T0), SG_OK);
    sg__store_free(s); /* the process goes away with a group open */

    s = open_dir(dir, 0);
    char buf[16];
    size_t vlen;
    assert_int_equal(sg__store_get(s, K("acct:{dave}"), buf, sizeof buf, &vlen, T0), SG_OK);
    assert_memory_equal(buf, "state-1", 7);
    assert_int_equal(sg__store_get(s, K("acct:{dave}:out"), &v, sizeof v, &vlen, T0 + 599999), SG_OK);
    assert_int_equal(v, 4);
    assert_int_equal(sg__store_get(s, K("acct:{dave}:out"), &v, sizeof v, &vlen, T0 + 600000), SG_ENOTFOUND);
    sg__store_free(s);
}

/* A 64 KiB map cannot hold 40 values of 16 KiB written in one group: the
 * map must double several times and the group be replayed each time. */
static void the_map_grows_under_a_running_group(void **state) {
    const char *dir = *state;
    sg_store *s = open_dir(dir, 64 << 10);
    static unsigned char val[16384], got[16384];
    char key[32];
    assert_int_equal(sg__store_begin(s), SG_OK);
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "camp:{c%d}", i);
        memset(val, i, sizeof val);
        assert_int_equal(sg__store_put(s, K(key), val, sizeof val, 0, T0), SG_OK);
        int64_t v;
        assert_int_equal(sg__store_incr(s, K("camp:count"), 1, 0, T0, &v), SG_OK);
        assert_int_equal(v, i + 1); /* replays do not count twice */
    }
    assert_int_equal(sg__store_commit(s), SG_OK);
    assert_true(sg__store_lmdb_grows(s) >= 3);
    sg__store_free(s);

    s = open_dir(dir, 64 << 10); /* the file's larger map wins */
    size_t vlen;
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "camp:{c%d}", i);
        memset(val, i, sizeof val);
        assert_int_equal(sg__store_get(s, K(key), got, sizeof got, &vlen, T0), SG_OK);
        assert_int_equal(vlen, sizeof val);
        assert_memory_equal(got, val, sizeof val);
    }
    int64_t n;
    assert_int_equal(sg__store_get(s, K("camp:count"), &n, sizeof n, &vlen, T0), SG_OK);
    assert_int_equal(n, 40);
    sg__store_free(s);
}

static void write_wave(sg_store *s, int wave, int64_t now) {
    char key[32];
    for (int g = 0; g < 100; g++) {
        assert_int_equal(sg__store_begin(s), SG_OK);
        for (int i = 0; i < 50; i++) {
            int n = snprintf(key, sizeof key, "rcpt:{w%d-%d}", wave, g * 50 + i);
            assert_int_equal(sg__store_put(s, key, (size_t)n, "seen", 4, now + 1000, now), SG_OK);
        }
        assert_int_equal(sg__store_commit(s), SG_OK);
    }
}

static void expired_keys_nobody_reads_again_are_swept_and_pages_reused(void **state) {
    sg_store *s = open_dir(*state, 0);
    uint64_t keys, bytes1, bytes2;
    int64_t v;
    char path[128];
    struct stat st1, st2;
    snprintf(path, sizeof path, "%s/data.mdb", (char *)*state);
    write_wave(s, 1, T0);
    sg__store_stats(s, &keys, &bytes1);
    assert_int_equal(keys, 5000);
    assert_int_equal(stat(path, &st1), 0);
    /* Later traffic on one other key, after every deadline: at 4 entries
     * per write, 1300 one-write commits visit the 5000 expired keys. */
    for (int i = 0; i < 1300; i++)
        assert_int_equal(sg__store_incr(s, K("live"), 1, 0, T0 + 5000 + i, &v), SG_OK);
    sg__store_stats(s, &keys, NULL);
    assert_int_equal(keys, 1);
    /* A second wave of the same size reuses the freed pages. */
    write_wave(s, 2, T0 + 10000);
    sg__store_stats(s, &keys, &bytes2);
    assert_int_equal(keys, 5001);
    assert_true(bytes2 <= bytes1 + bytes1 / 10);
    assert_int_equal(stat(path, &st2), 0);
    assert_true(st2.st_size <= st1.st_size + st1.st_size / 4);
    sg__store_free(s);
}

/* ------------------------------------------------------------ kill -9 */

/* Child: one group with writes, then SIGKILL before or after commit. */
static void killed_child(const char *dir, bool commit) {
    sg_store *s = NULL;
    int64_t v;
    if (sg__store_lmdb_new(dir, &s)) _exit(2);
    sg__store_begin(s);
    sg__store_put(s, "acct:{erin}", 11, "locked", 6, 0, T0);
    sg__store_incr(s, "camp:{k1}:n", 11, 7, 0, T0, &v);
    if (commit && sg__store_commit(s)) _exit(3);
    raise(SIGKILL);
    _exit(4);
}

static void a_group_killed_before_commit_leaves_nothing_after_commit_everything(void **state) {
    const char *dir = *state;
    for (int commit = 0; commit < 2; commit++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) killed_child(dir, commit);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        sg_store *s = open_dir(dir, 0);
        size_t vlen;
        int64_t n = 0;
        assert_int_equal(sg__store_get(s, K("acct:{erin}"), NULL, 0, &vlen, T0),
                         commit ? SG_OK : SG_ENOTFOUND);
        assert_int_equal(sg__store_get(s, K("camp:{k1}:n"), &n, sizeof n, &vlen, T0),
                         commit ? SG_OK : SG_ENOTFOUND);
        if (commit) assert_int_equal(n, 7);
        sg__store_free(s);
    }
}

/* The record message i writes: its number, filler, and an XXH64 of both. */
static size_t record(uint64_t i, unsigned char *buf) {
    size_t n = 16 + (size_t)(i * 7919 % 1500);
    memcpy(buf, &i, 8);
    for (size_t j = 8; j < n - 8; j++) buf[j] = (unsigned char)(i + j);
    uint64_t h = XXH64(buf, n - 8, 0);
    memcpy(buf + n - 8, &h, 8);
    return n;
}

static bool record_ok(const unsigned char *buf, size_t n, uint64_t i) {
    uint64_t id, h;
    if (n < 16) return false;
    memcpy(&id, buf, 8);
    memcpy(&h, buf + n - 8, 8);
    return id == i && h == XXH64(buf, n - 8, 0);
}

/* Is rec:j deleted once messages up to `last` are in?  Message i deletes
 * rec:(i-5) when i is a multiple of 10. */
static bool deleted_by(uint64_t j, uint64_t last) {
    return (j + 5) % 10 == 0 && j + 5 <= last;
}

/* Child of the crash test: messages from `next` on, each one group, each
 * reported on fd after its commit, until killed.  mode 0: default (fsync
 * every second, writemap), 1: without writemap, 2: fsync at every commit. */
static void writer(const char *dir, uint64_t next, int fd, int mode) {
    sg_store_lmdb_opts o = {.map_bytes = 256 << 10, .sync_ms = mode == 2 ? -1 : 0,
                            .writemap = mode == 1 ? -1 : 0};
    sg_store *s = NULL;
    static unsigned char buf[2048];
    char key[32];
    int64_t v;
    if (sg__store_lmdb_open(dir, &o, &s)) _exit(2);
    for (uint64_t i = next;; i++) {
        int64_t now = T0 + (int64_t)i;
        sg__store_begin(s);
        int n = snprintf(key, sizeof key, "rec:%llu", (unsigned long long)i);
        size_t len = record(i, buf);
        if (sg__store_put(s, key, (size_t)n, buf, len, 0, now)) _exit(3);
        n = snprintf(key, sizeof key, "tmp:%llu", (unsigned long long)i);
        if (sg__store_put(s, key, (size_t)n, buf, 64, now + 3, now)) _exit(3);
        if (i % 10 == 0 && i >= 5) {
            n = snprintf(key, sizeof key, "rec:%llu", (unsigned long long)(i - 5));
            sg__store_del(s, key, (size_t)n);
        }
        if (sg__store_incr(s, "count", 5, 1, 0, now, &v)) _exit(3);
        if (sg__store_put(s, "last", 4, &i, 8, 0, now)) _exit(3);
        if (sg__store_commit(s)) _exit(4);
        if (write(fd, &i, sizeof i) != sizeof i) _exit(5);
    }
}

/* Walk every entry with LMDB itself: each value has its 8-byte header and
 * every rec: value is intact. */
static void check_env_is_sound(const char *dir) {
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &t), 0);
    assert_int_equal(mdb_dbi_open(t, NULL, 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(t, dbi, &c), 0);
    int rc;
    size_t n = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
        assert_true(v.mv_size >= 8);
        if (k.mv_size > 4 && !memcmp(k.mv_data, "rec:", 4)) {
            char num[24] = {0};
            memcpy(num, (char *)k.mv_data + 4, k.mv_size - 4 < 23 ? k.mv_size - 4 : 23);
            assert_true(record_ok((unsigned char *)v.mv_data + 8, v.mv_size - 8,
                                  strtoull(num, NULL, 10)));
        }
    }
    assert_int_equal(rc, MDB_NOTFOUND);
    assert_true(n > 0);
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    mdb_env_close(env);
}

/* What the parent checks after each kill: every message reported
 * committed is in, with its record, the counter agrees, nothing is
 * corrupt.  `reported` is the highest message told so far, -1 for none.
 * Returns the number of the next message to write. */
static uint64_t check_after_kill(const char *dir, int64_t reported) {
    sg_store *s = open_dir(dir, 0);
    static unsigned char buf[2048];
    uint64_t last = 0;
    int64_t count = 0;
    size_t vlen;
    char key[32];
    int rc = sg__store_get(s, K("last"), &last, sizeof last, &vlen, INT64_MAX);
    if (rc == SG_ENOTFOUND) { /* killed before its first commit */
        assert_int_equal(reported, -1);
        sg__store_free(s);
        return 0;
    }
    assert_int_equal(rc, SG_OK);
    assert_true((int64_t)last >= reported); /* at most one commit untold */
    assert_true((int64_t)last <= reported + 1);
    assert_int_equal(sg__store_get(s, K("count"), &count, sizeof count, &vlen, INT64_MAX), SG_OK);
    assert_int_equal(count, (int64_t)last + 1);
    for (uint64_t j = 0; j <= last; j++) {
        int n = snprintf(key, sizeof key, "rec:%llu", (unsigned long long)j);
        rc = sg__store_get(s, key, (size_t)n, buf, sizeof buf, &vlen, INT64_MAX);
        if (deleted_by(j, last)) {
            assert_int_equal(rc, SG_ENOTFOUND);
        } else {
            assert_int_equal(rc, SG_OK);
            assert_true(record_ok(buf, vlen, j));
        }
    }
    sg__store_free(s);
    check_env_is_sound(dir);
    return last + 1;
}

static void kill_9_at_random_points_loses_no_committed_write(void **state) {
    const char *dir = *state;
    unsigned seed = (unsigned)time(NULL);
    printf("  crash test seed %u\n", seed);
    srand(seed);
    uint64_t next = 0;
    int kills = 0;
    for (int round = 0; round < 40; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            writer(dir, next, fds[1], round % 8 == 7 ? 2 : round % 4 == 1);
        }
        close(fds[1]);
        struct timespec ts = {0, (long)(1 + rand() % 25) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st)); /* killed, not failed */
        kills++;
        int64_t reported = (int64_t)next - 1;
        uint64_t i;
        while (read(fds[0], &i, sizeof i) == sizeof i) reported = (int64_t)i;
        close(fds[0]);
        next = check_after_kill(dir, reported);
    }
    printf("  %d kills, %llu messages committed\n", kills, (unsigned long long)next);
    assert_true(next > 40);
}

/* ------------------------------------------------------------ sharing */

static void two_processes_add_to_one_counter_exactly(void **state) {
    const char *dir = *state;
    sg_store *s = open_dir(dir, 0); /* create it first */
    sg__store_free(s);
    pid_t pid[2];
    for (int p = 0; p < 2; p++) {
        pid[p] = fork();
        assert_true(pid[p] >= 0);
        if (pid[p] == 0) {
            sg_store *c = NULL;
            int64_t v;
            if (sg__store_lmdb_new(dir, &c)) _exit(2);
            for (int i = 0; i < 500; i++) {
                sg__store_begin(c);
                if (sg__store_incr(c, "acct:{frank}:out", 16, 1, 0, T0, &v)) _exit(3);
                if (sg__store_commit(c)) _exit(4);
            }
            sg__store_free(c);
            _exit(0);
        }
    }
    for (int p = 0; p < 2; p++) {
        int st;
        assert_int_equal(waitpid(pid[p], &st, 0), pid[p]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    s = open_dir(dir, 0);
    int64_t n = 0;
    size_t vlen;
    assert_int_equal(sg__store_get(s, K("acct:{frank}:out"), &n, sizeof n, &vlen, T0), SG_OK);
    assert_int_equal(n, 1000);
    sg__store_free(s);
}

/* ------------------------------------------------------------ opening */

static void uris_and_bad_directories_get_clear_errors(void **state) {
    const char *dir = *state;
    char uri[200], err[200];
    sg_store *s = NULL;
    snprintf(uri, sizeof uri, "lmdb:%s/durable?sync=always", dir);
    assert_int_equal(sg__store_open_uri(uri, &s, err, sizeof err), SG_OK);
    assert_int_equal(sg__store_put(s, K("k"), "v", 1, 0, T0), SG_OK);
    sg__store_free(s);
    snprintf(uri, sizeof uri, "lmdb://%s/durable?sync=250&writemap=1", dir);
    assert_int_equal(sg__store_open_uri(uri, &s, err, sizeof err), SG_OK);
    size_t vlen;
    assert_int_equal(sg__store_get(s, K("k"), NULL, 0, &vlen, T0), SG_OK);
    sg__store_free(s);

    snprintf(uri, sizeof uri, "lmdb:%s/x?sync=0", dir);
    assert_int_equal(sg__store_open_uri(uri, &s, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, "sync"));
    assert_null(s);
    snprintf(uri, sizeof uri, "lmdb:%s/x?sync=100&writemap=2", dir);
    assert_int_equal(sg__store_open_uri(uri, &s, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, "writemap=2"));
    assert_int_equal(sg__store_open_uri("lmdb:", &s, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, "directory"));
    assert_int_equal(sg__store_open_uri("lmdb:/proc/no/such/dir", &s, err, sizeof err), SG_EIO);
    assert_non_null(strstr(err, "/proc/no/such/dir"));
    assert_int_equal(sg__store_open_uri("sqlite:x", &s, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, "unknown store"));
    assert_int_equal(sg__store_open_uri("memory:", &s, err, sizeof err), SG_OK);
    assert_string_equal(s->ops->name, "memory");
    sg__store_free(s);
}

static void a_damaged_data_file_is_refused_without_a_crash(void **state) {
    const char *dir = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    unsigned char junk[65536];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 131 + 7);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    sg_store *s = (sg_store *)0x1;
    assert_int_equal(sg__store_lmdb_new(dir, &s), SG_ESTORE);
    assert_null(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(committed_writes_survive_reopening_and_an_open_group_does_not),
        T(the_map_grows_under_a_running_group),
        T(expired_keys_nobody_reads_again_are_swept_and_pages_reused),
        T(a_group_killed_before_commit_leaves_nothing_after_commit_everything),
        T(kill_9_at_random_points_loses_no_committed_write),
        T(two_processes_add_to_one_counter_exactly),
        T(uris_and_bad_directories_get_clear_errors),
        T(a_damaged_data_file_is_refused_without_a_crash),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
