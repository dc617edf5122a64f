/*
 * store_lmdb.c -- the LMDB backend of the state store (store.h): state that
 * survives restarts and crashes, in one environment under a data directory.
 *
 * An outermost begin..commit is one LMDB write transaction, so a message's
 * writes land together or not at all.  Each value carries its absolute
 * expiry (message time) in an 8-byte header; reads ignore expired values
 * and every commit sweeps a few entries from a rotating cursor so that keys
 * nobody touches again still go away.  The map doubles when it fills up:
 * the open transaction is then replayed from a log of its writes.  This file
 * never decides what is stored; the detectors do (docs/storage.md).
 */
#include "sg_internal.h"
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

#define MAX_KEY_BYTES 4096
#define MAX_VAL_BYTES (16u << 20)
#define HDR 8 /* int64 expire_at_ms, host order, before the payload */
#define DEFAULT_MAP ((size_t)256 << 20)
#define DEFAULT_SYNC_MS 1000
#define DEFAULT_SWEEP 4 /* entries examined per write of a group */

/* A write of the open group, kept so that the group can be replayed into a
 * fresh transaction after the map has grown (MDB_MAP_FULL). */
typedef struct wrec {
    uint8_t op;          /* SG_STORE_PUT, SG_STORE_INCR, SG_STORE_DEL */
    uint32_t klen, vlen; /* key bytes, value bytes (PUT) */
    int64_t exp, now, delta;
    /* followed by key, then value */
} wrec;

typedef struct lm_store {
    sg_store base;
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *wtxn;       /* open write transaction, or NULL */
    MDB_txn *rtxn;       /* reusable read-only transaction */
    bool rlive;          /* rtxn holds a snapshot (inside a group, kept
                            from the first read to the first write) */
    int depth;           /* begin nesting */
    size_t maxkey;       /* mdb_env_get_maxkeysize */
    int64_t sync_ms;     /* < 0: fsync per commit */
    int64_t last_sync;   /* wall clock ms of the last fsync */
    unsigned sweep_step;
    int64_t group_now;   /* latest now_ms written in the open group */
    unsigned group_writes; /* writes in the open group */
    size_t entries0;     /* entries when the write transaction began */
    bool broken;         /* a write of the open group failed: it is lost */
    sg_buf log;          /* wrec records of the open group */
    unsigned char sweep_key[512];
    size_t sweep_klen;   /* 0: start from the first key */
    uint64_t grows;      /* times the map was grown (tests, metrics) */
    sg_buf watch;        /* watched keys of the open group, read before
                            its write transaction: wkey records */
    bool conflict;       /* a watched key changed: commit applies nothing */
    char err[256];
} lm_store;

/* A watched key and what the group read for it (sg_store_ops.watch). */
typedef struct wkey {
    uint32_t klen;       /* followed by the key, padded to 8 bytes */
    bool present;
    uint64_t hash;       /* XXH3 of the stored bytes (header included) */
} wkey;

/* ---------------------------------------------------------------- helpers */

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(lm_store *l, int rc, const char *what) {
    snprintf(l->err, sizeof l->err, "lmdb: %s: %s", what, mdb_strerror(rc));
    return rc == MDB_NOTFOUND ? SG_ENOTFOUND : SG_ESTORE;
}

static bool key_ok(const void *key, size_t klen) {
    return key != NULL && klen > 0 && klen <= MAX_KEY_BYTES;
}

/* LMDB keys are at most maxkey (511) bytes: a longer key is stored as its
 * first maxkey-16 bytes followed by its 128-bit XXH3 hash, which keeps keys
 * of one family together and collides with probability ~2^-128. */
static MDB_val map_key(const lm_store *l, const void *key, size_t klen,
                       unsigned char *tmp) {
    if (klen <= l->maxkey) return (MDB_val){klen, (void *)key};
    size_t keep = l->maxkey - 16;
    XXH128_hash_t h = XXH3_128bits(key, klen);
    memcpy(tmp, key, keep);
    memcpy(tmp + keep, &h.high64, 8);
    memcpy(tmp + keep + 8, &h.low64, 8);
    return (MDB_val){l->maxkey, tmp};
}

static int64_t val_exp(const MDB_val *v) {
    int64_t e;
    memcpy(&e, v->mv_data, HDR);
    return e;
}

static bool val_live(const MDB_val *v, int64_t now) {
    int64_t e = val_exp(v);
    return e == 0 || e > now;
}

/* ------------------------------------------------------------ snapshots */

static void read_end(lm_store *l) {
    if (!l->rlive) return;
    mdb_txn_reset(l->rtxn);
    l->rlive = false;
}

/* ------------------------------------------------------------ map growth */

static int grow_map(lm_store *l, size_t at_least) {
    MDB_envinfo info;
    mdb_env_info(l->env, &info);
    size_t n = info.me_mapsize * 2;
    while (n < at_least) n *= 2;
    int rc = mdb_env_set_mapsize(l->env, n);
    if (rc) return fail(l, rc, "growing the map");
    l->grows++;
    return SG_OK;
}

/* Grow before a transaction when the used pages pass 3/4 of the map, so
 * MDB_MAP_FULL (and a replay) stays rare. */
static int grow_if_crowded(lm_store *l) {
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(l->env, &info);
    mdb_env_stat(l->env, &st);
    size_t used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
    if (used < info.me_mapsize / 4 * 3) return SG_OK;
    return grow_map(l, 0);
}

static int txn_begin(lm_store *l) {
    read_end(l); /* no snapshot may outlive a remap of the file */
    int rc = grow_if_crowded(l);
    if (rc) return rc;
    rc = mdb_txn_begin(l->env, NULL, 0, &l->wtxn);
    if (rc == MDB_MAP_RESIZED) { /* another process grew it: adopt */
        mdb_env_set_mapsize(l->env, 0);
        rc = mdb_txn_begin(l->env, NULL, 0, &l->wtxn);
    }
    if (rc) {
        l->wtxn = NULL;
        return fail(l, rc, "beginning a write transaction");
    }
    MDB_stat st;
    l->entries0 = mdb_stat(l->wtxn, l->dbi, &st) ? 0 : st.ms_entries;
    return SG_OK;
}

static void txn_abort(lm_store *l) {
    if (l->wtxn) mdb_txn_abort(l->wtxn);
    l->wtxn = NULL;
}

/* ------------------------------------------------------------ one write */

/* Apply one logged write to the open transaction.  Returns an MDB code, or
 * NOT_A_COUNTER for incr on a live value that is not a counter (or an add
 * past the int64 range). */
#define NOT_A_COUNTER (-1000000) /* outside LMDB's and errno's codes */

static int apply_put(lm_store *l, MDB_val *k, const void *val, size_t vlen,
                     int64_t exp) {
    MDB_val v = {HDR + vlen, NULL};
    int rc = mdb_put(l->wtxn, l->dbi, k, &v, MDB_RESERVE);
    if (rc) return rc;
    memcpy(v.mv_data, &exp, HDR);
    if (vlen) memcpy((char *)v.mv_data + HDR, val, vlen);
    return MDB_SUCCESS;
}

static int apply_incr(lm_store *l, MDB_val *k, int64_t delta, int64_t exp,
                      int64_t now, int64_t *out) {
    MDB_val v;
    int64_t cur = 0, old_exp = 0;
    int rc = mdb_get(l->wtxn, l->dbi, k, &v);
    if (rc && rc != MDB_NOTFOUND) return rc;
    if (rc == MDB_SUCCESS && v.mv_size >= HDR && val_live(&v, now)) {
        if (v.mv_size != HDR + sizeof cur) return NOT_A_COUNTER;
        memcpy(&cur, (char *)v.mv_data + HDR, sizeof cur);
        old_exp = val_exp(&v);
    }
    if (__builtin_add_overflow(cur, delta, &cur)) return NOT_A_COUNTER;
    if (out) *out = cur;
    return apply_put(l, k, &cur, sizeof cur, exp ? exp : old_exp);
}

static int apply(lm_store *l, const wrec *r, int64_t *out) {
    const unsigned char *key = (const unsigned char *)(r + 1);
    unsigned char tmp[512];
    MDB_val k = map_key(l, key, r->klen, tmp);
    switch (r->op) {
    case SG_STORE_PUT:
        return apply_put(l, &k, key + r->klen, r->vlen, r->exp);
    case SG_STORE_INCR:
        return apply_incr(l, &k, r->delta, r->exp, r->now, out);
    default: {
        int rc = mdb_del(l->wtxn, l->dbi, &k, NULL);
        return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
    }
    }
}

/* The map filled up: drop the transaction, grow the map, and replay the
 * group's logged writes that precede log offset `upto` (the write in
 * progress starts there) into a new transaction. */
static int replay(lm_store *l, size_t upto) {
    for (;;) {
        txn_abort(l);
        int rc = grow_map(l, 0);
        if (!rc) rc = txn_begin(l);
        if (rc) return rc;
        size_t off = 0;
        int mrc = MDB_SUCCESS;
        while (off < upto && mrc == MDB_SUCCESS) {
            const wrec *r = (const wrec *)(l->log.p + off);
            mrc = apply(l, r, NULL);
            if (mrc == NOT_A_COUNTER) mrc = MDB_SUCCESS; /* as first time */
            off += sizeof *r + r->klen + r->vlen;
            off = (off + 7) & ~(size_t)7;
        }
        if (mrc == MDB_SUCCESS) return SG_OK;
        if (mrc != MDB_MAP_FULL) return fail(l, mrc, "replaying a group");
    }
}

/* Append a record for this write to the group log; returns its offset. */
static int log_write(lm_store *l, uint8_t op, const void *key, size_t klen,
                     const void *val, size_t vlen, int64_t exp, int64_t now,
                     int64_t delta, size_t *at) {
    wrec r = {op, (uint32_t)klen, (uint32_t)vlen, exp, now, delta};
    static const char pad[8];
    *at = l->log.len;
    size_t end = *at + sizeof r + klen + vlen;
    size_t padn = ((end + 7) & ~(size_t)7) - end;
    if (sg__buf_append(&l->log, (const char *)&r, sizeof r) ||
        sg__buf_append(&l->log, key, klen) ||
        (vlen && sg__buf_append(&l->log, val, vlen)) ||
        (padn && sg__buf_append(&l->log, pad, padn))) {
        l->log.len = *at;
        return SG_ENOMEM;
    }
    return SG_OK;
}

static int commit_txn(lm_store *l);

/* What key holds in transaction t: present, and the hash of its bytes. */
static int raw_state(lm_store *l, MDB_txn *t, const void *key, size_t klen,
                     bool *present, uint64_t *hash) {
    unsigned char tmp[512];
    MDB_val k = map_key(l, key, klen, tmp), v;
    int rc = mdb_get(t, l->dbi, &k, &v);
    *present = rc == MDB_SUCCESS;
    *hash = *present ? XXH3_64bits(v.mv_data, v.mv_size) : 0;
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* The group's write transaction has just started, so no other writer can
 * change anything until it ends: a watched key that no longer holds what
 * the group read makes the group a conflict (its commit applies nothing). */
static int check_watched(lm_store *l) {
    size_t off = 0;
    while (off < l->watch.len && !l->conflict) {
        const wkey *w = (const wkey *)(l->watch.p + off);
        bool present;
        uint64_t h;
        int rc = raw_state(l, l->wtxn, w + 1, w->klen, &present, &h);
        if (rc) return fail(l, rc, "checking a watched key");
        l->conflict = present != w->present || h != w->hash;
        off += (sizeof *w + w->klen + 7) & ~(size_t)7;
    }
    l->watch.len = 0;
    return SG_OK;
}

/* One write: log it, apply it (growing the map and replaying as needed),
 * and commit at once when no group is open. */
static int do_write(lm_store *l, uint8_t op, const void *key, size_t klen,
                    const void *val, size_t vlen, int64_t exp, int64_t now,
                    int64_t delta, int64_t *out) {
    size_t at = l->log.len;
    int rc = SG_OK;
    if (l->broken) return SG_ESTORE;
    if (!l->wtxn && (rc = txn_begin(l))) return rc;
    if (l->watch.len && (rc = check_watched(l))) goto undo;
    if ((rc = log_write(l, op, key, klen, val, vlen, exp, now, delta, &at)))
        goto undo;
    int mrc;
    while ((mrc = apply(l, (const wrec *)(l->log.p + at), out)) ==
           MDB_MAP_FULL) {
        if ((rc = replay(l, at))) goto undo;
    }
    if (mrc == NOT_A_COUNTER) {
        rc = SG_EINVAL;
        snprintf(l->err, sizeof l->err, "lmdb: incr on a value that is not "
                 "a counter, or past the int64 range");
        l->log.len = at;
        goto out;
    }
    if (mrc) {
        rc = fail(l, mrc, "writing");
        goto undo;
    }
    if (now > l->group_now) l->group_now = now;
    l->group_writes++;
    if (l->depth == 0) return commit_txn(l);
    return SG_OK;
undo:
    /* LMDB leaves a transaction whose write failed unusable: the whole
     * group is lost, and its later writes and its commit say so. */
    l->log.len = at;
    if (l->depth > 0 && rc != SG_ENOMEM) l->broken = true;
out:
    if (l->depth == 0) {
        txn_abort(l);
        l->log.len = 0;
    }
    return rc;
}

/* ------------------------------------------------------------ sweep */

static void remember_sweep_pos(lm_store *l, const MDB_val *k) {
    size_t n = k->mv_size < sizeof l->sweep_key ? k->mv_size : 0;
    memcpy(l->sweep_key, k->mv_data, n);
    l->sweep_klen = n;
}

/* Entries the sweep examines at least, whatever the group added. */
#define SWEEP_MIN 8

/* Examine sweep_step entries per key the group added (SWEEP_MIN at least)
 * from where the last sweep stopped and delete the expired ones; wraps
 * around at the end of the database.  Only a write that adds a key can
 * make a key to expire later, and the sweep looks at several entries for
 * each such key, so expired keys cannot pile up faster than they are
 * found; rewrites of existing keys (most writes: accounts, windows) cost
 * no sweeping. */
static int sweep(lm_store *l, int64_t now) {
    MDB_cursor *c;
    MDB_val k = {l->sweep_klen, l->sweep_key}, v;
    int rc = mdb_cursor_open(l->wtxn, l->dbi, &c);
    if (rc) return rc;
    rc = mdb_cursor_get(c, &k, &v, l->sweep_klen ? MDB_SET_RANGE : MDB_FIRST);
    bool wrapped = false;
    MDB_stat st;
    size_t now_entries = mdb_stat(l->wtxn, l->dbi, &st) ? 0 : st.ms_entries;
    size_t added = now_entries > l->entries0 ? now_entries - l->entries0 : 0;
    size_t budget = l->sweep_step * added + SWEEP_MIN;
    for (size_t i = 0; i < budget; i++) {
        if (rc == MDB_NOTFOUND && !wrapped) {
            wrapped = true;
            rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        }
        if (rc) break;
        if (v.mv_size >= HDR && !val_live(&v, now)) {
            remember_sweep_pos(l, &k);
            if ((rc = mdb_cursor_del(c, 0))) break;
            k = (MDB_val){l->sweep_klen, l->sweep_key};
            rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        } else {
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
    }
    if (rc == MDB_SUCCESS) remember_sweep_pos(l, &k);
    else if (rc == MDB_NOTFOUND) l->sweep_klen = 0;
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* ------------------------------------------------------------ commit */

static void maybe_sync(lm_store *l) {
    if (l->sync_ms < 0) return;
    int64_t t = wall_ms();
    if (t - l->last_sync < l->sync_ms) return;
    mdb_env_sync(l->env, 1);
    l->last_sync = t;
}

/* Sweep, then commit the open transaction.  On MDB_MAP_FULL (from the
 * sweep or from the commit itself) grow, replay the log and try again. */
static int commit_txn(lm_store *l) {
    int rc;
    for (;;) {
        int mrc = sweep(l, l->group_now);
        if (mrc == MDB_SUCCESS) {
            mrc = mdb_txn_commit(l->wtxn);
            l->wtxn = NULL;
        }
        if (mrc == MDB_SUCCESS) break;
        if (mrc != MDB_MAP_FULL) {
            rc = fail(l, mrc, "committing");
            goto out;
        }
        if ((rc = replay(l, l->log.len))) goto out;
    }
    rc = SG_OK;
    maybe_sync(l);
out:
    txn_abort(l);
    l->log.len = 0;
    l->group_now = 0;
    l->group_writes = 0;
    return rc;
}

/* ------------------------------------------------------------ the ops */

static MDB_txn *read_txn(lm_store *l) {
    if (l->wtxn) return l->wtxn;
    if (l->rlive) return l->rtxn;
    int rc = l->rtxn ? mdb_txn_renew(l->rtxn)
                     : mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->rtxn);
    if (rc == MDB_MAP_RESIZED) {
        mdb_env_set_mapsize(l->env, 0);
        rc = l->rtxn ? mdb_txn_renew(l->rtxn)
                     : mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->rtxn);
    }
    if (rc) {
        fail(l, rc, "beginning a read transaction");
        return NULL;
    }
    l->rlive = true;
    return l->rtxn;
}

/* Outside a group each read sees the latest commit; inside one the reads
 * before the first write share one snapshot (one renew per message). */
static void read_done(lm_store *l, MDB_txn *t) {
    if (t == l->rtxn && l->depth == 0) read_end(l);
}

static int lm_get(sg_store *s, const void *key, size_t klen, void *buf,
                  size_t cap, size_t *vlen, int64_t now) {
    lm_store *l = (lm_store *)s;
    if (!key_ok(key, klen) || (cap && !buf)) return SG_EINVAL;
    MDB_txn *t = read_txn(l);
    if (!t) return SG_ESTORE;
    unsigned char tmp[512];
    MDB_val k = map_key(l, key, klen, tmp), v;
    int rc = mdb_get(t, l->dbi, &k, &v);
    if (rc == MDB_SUCCESS && v.mv_size < HDR) {
        snprintf(l->err, sizeof l->err, "lmdb: value without header");
        rc = SG_ESTORE;
    } else if (rc == MDB_SUCCESS && !val_live(&v, now)) {
        rc = SG_ENOTFOUND;
    } else if (rc == MDB_SUCCESS) {
        size_t n = v.mv_size - HDR;
        if (vlen) *vlen = n;
        if (buf) memcpy(buf, (char *)v.mv_data + HDR, n < cap ? n : cap);
    } else {
        rc = rc == MDB_NOTFOUND ? SG_ENOTFOUND : fail(l, rc, "reading");
    }
    read_done(l, t);
    return rc;
}

static int lm_put(sg_store *s, const void *key, size_t klen, const void *val,
                  size_t vlen, int64_t expire_at, int64_t now) {
    if (!key_ok(key, klen) || (vlen && !val) || vlen > MAX_VAL_BYTES)
        return SG_EINVAL;
    return do_write((lm_store *)s, SG_STORE_PUT, key, klen, val, vlen,
                    expire_at, now, 0, NULL);
}

static int lm_incr(sg_store *s, const void *key, size_t klen, int64_t delta,
                   int64_t expire_at, int64_t now, int64_t *out) {
    if (!key_ok(key, klen)) return SG_EINVAL;
    int64_t v;
    int rc = do_write((lm_store *)s, SG_STORE_INCR, key, klen, NULL, 0,
                      expire_at, now, delta, &v);
    if (rc == SG_OK && out) *out = v;
    return rc;
}

static int lm_del(sg_store *s, const void *key, size_t klen) {
    if (!key_ok(key, klen)) return SG_EINVAL;
    return do_write((lm_store *)s, SG_STORE_DEL, key, klen, NULL, 0, 0, 0, 0,
                    NULL);
}

static int lm_watch(sg_store *s, const void *key, size_t klen, int64_t now) {
    lm_store *l = (lm_store *)s;
    if (!key_ok(key, klen)) return SG_EINVAL;
    if (l->depth == 0 || l->wtxn) return SG_OK; /* writers already excluded */
    MDB_txn *t = read_txn(l);
    if (!t) return SG_ESTORE;
    wkey w = {(uint32_t)klen, false, 0};
    int rc = raw_state(l, t, key, klen, &w.present, &w.hash);
    read_done(l, t);
    if (rc) return fail(l, rc, "reading a watched key");
    static const char pad[8];
    size_t at = l->watch.len, padn = ((sizeof w + klen + 7) & ~(size_t)7) - sizeof w - klen;
    if (sg__buf_append(&l->watch, (const char *)&w, sizeof w) ||
        sg__buf_append(&l->watch, key, klen) ||
        (padn && sg__buf_append(&l->watch, pad, padn))) {
        l->watch.len = at;
        return SG_ENOMEM;
    }
    return SG_OK;
}

/* The group ended: forget its watches. */
static bool end_watch(lm_store *l) {
    bool conflict = l->conflict;
    l->watch.len = 0;
    l->conflict = false;
    return conflict;
}

static int lm_begin(sg_store *s) {
    ((lm_store *)s)->depth++;
    return SG_OK;
}

static int lm_commit(sg_store *s) {
    lm_store *l = (lm_store *)s;
    if (l->depth <= 0) return SG_EINVAL;
    if (--l->depth > 0) return SG_OK;
    read_end(l);
    if (end_watch(l)) { /* another writer changed a watched key */
        l->broken = false;
        txn_abort(l);
        l->log.len = 0;
        l->group_now = 0;
        l->group_writes = 0;
        snprintf(l->err, sizeof l->err, "lmdb: a watched key changed");
        return SG__ECONFLICT;
    }
    if (l->broken) {
        l->broken = false;
        txn_abort(l);
        l->log.len = 0;
        l->group_now = 0;
        l->group_writes = 0;
        return SG_ESTORE;
    }
    return l->wtxn ? commit_txn(l) : SG_OK;
}

static int lm_abort(sg_store *s) {
    lm_store *l = (lm_store *)s;
    if (l->depth <= 0) return SG_EINVAL;
    l->depth = 0;
    l->broken = false;
    end_watch(l);
    read_end(l);
    txn_abort(l);
    l->log.len = 0;
    l->group_now = 0;
    l->group_writes = 0;
    return SG_OK;
}

static void lm_stats(sg_store *s, uint64_t *keys, uint64_t *bytes) {
    lm_store *l = (lm_store *)s;
    MDB_stat st = {0};
    MDB_txn *t = read_txn(l);
    if (t) {
        mdb_stat(t, l->dbi, &st);
        read_done(l, t);
    }
    if (keys) *keys = st.ms_entries;
    if (bytes)
        *bytes = (uint64_t)st.ms_psize *
                 (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages);
}

static const char *lm_errmsg(sg_store *s) { return ((lm_store *)s)->err; }

static void lm_free(sg_store *s) {
    lm_store *l = (lm_store *)s;
    if (!l) return;
    txn_abort(l);
    if (l->rtxn) mdb_txn_abort(l->rtxn);
    if (l->env) {
        if (l->sync_ms >= 0) mdb_env_sync(l->env, 1);
        mdb_env_close(l->env);
    }
    sg__buf_free(&l->log);
    sg__buf_free(&l->watch);
    sg__free(l);
}

static const sg_store_ops lm_ops = {
    .name = "lmdb",
    .get = lm_get,
    .put = lm_put,
    .incr = lm_incr,
    .del = lm_del,
    .begin = lm_begin,
    .commit = lm_commit,
    .stats = lm_stats,
    .free = lm_free,
    .abort = lm_abort,
    .errmsg = lm_errmsg,
    .watch = lm_watch,
};

/* ------------------------------------------------------------ open */

static int open_env(lm_store *l, const char *dir, size_t map_bytes,
                    int writemap) {
    int rc = mdb_env_create(&l->env);
    if (rc) return fail(l, rc, "creating the environment");
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | (writemap >= 0 ? MDB_WRITEMAP : 0);
    if (l->sync_ms >= 0) flags |= MDB_NOSYNC;
    if ((rc = mdb_env_set_mapsize(l->env, map_bytes)) ||
        (rc = mdb_env_open(l->env, dir, flags, 0600)))
        return fail(l, rc, dir);
    int dead;
    mdb_reader_check(l->env, &dead); /* slots of killed processes */
    MDB_txn *t;
    if ((rc = mdb_txn_begin(l->env, NULL, 0, &t))) return fail(l, rc, dir);
    if ((rc = mdb_dbi_open(t, NULL, 0, &l->dbi)) || (rc = mdb_txn_commit(t))) {
        return fail(l, rc, dir);
    }
    l->maxkey = (size_t)mdb_env_get_maxkeysize(l->env);
    if (l->maxkey > sizeof l->sweep_key - 1) l->maxkey = sizeof l->sweep_key - 1;
    return SG_OK;
}

int sg__store_lmdb_open(const char *dir, const sg_store_lmdb_opts *opts,
                        sg_store **out) {
    if (!out) return SG_EINVAL;
    *out = NULL;
    if (!dir || !*dir) return SG_EINVAL;
    sg_store_lmdb_opts o = opts ? *opts : (sg_store_lmdb_opts){0};
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return SG_EIO;
    lm_store *l = sg__calloc(1, sizeof *l);
    if (!l) return SG_ENOMEM;
    l->base.ops = &lm_ops;
    l->sync_ms = o.sync_ms ? o.sync_ms : DEFAULT_SYNC_MS;
    l->sweep_step = o.sweep_step ? o.sweep_step : DEFAULT_SWEEP;
    l->last_sync = wall_ms();
    int rc = open_env(l, dir, o.map_bytes ? o.map_bytes : DEFAULT_MAP,
                      o.writemap);
    if (rc) {
        lm_free(&l->base);
        return rc;
    }
    *out = &l->base;
    return SG_OK;
}

int sg__store_lmdb_new(const char *dir, sg_store **out) {
    return sg__store_lmdb_open(dir, NULL, out);
}

uint64_t sg__store_lmdb_grows(sg_store *s) {
    return s && s->ops == &lm_ops ? ((lm_store *)s)->grows : 0;
}
