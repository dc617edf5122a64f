/*
 * store.h -- the one interface behind which all engine state lives
 * (account profiles, rate windows, bulk counts, campaigns, reputation).
 * Detectors never talk to a backend directly; they call sg__store_*().
 * Backends are tables of function pointers (store_memory.c today; LMDB and
 * Redis later) so a new backend is one file plus one row.
 *
 * Keys are byte strings; by convention "family:rest", where the family names
 * the kind of state ("acct:", "fp:", "camp:" ...), and an account's keys
 * carry its id in braces ("acct:{alice@example.org}") so a Redis Cluster
 * backend can keep one account's keys on one node (hash tags).
 *
 * Time: every call takes now_ms, the time of the message being judged (not
 * the wall clock), so replayed and simulated streams expire state exactly as
 * a live one would.  expire_at_ms is absolute; 0 means never.
 */
#ifndef SG_STORE_H
#define SG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spimguard.h"

typedef struct sg_store sg_store;

/** What one operation of a batch does (sg_store_ops.batch). */
typedef enum sg_store_opcode {
    SG_STORE_GET = 0,   /* read key into buf/cap; full length in out_len */
    SG_STORE_PUT,       /* set key to val/vlen, expire_at_ms */
    SG_STORE_INCR,      /* add delta, expire_at_ms; new value in result */
    SG_STORE_DEL        /* remove key */
} sg_store_opcode;

/** One operation of a batch.  The caller fills the inputs; the backend
 *  fills err (what the single call would have returned: SG_OK,
 *  SG_ENOTFOUND, SG_EINVAL, ...), out_len (GET) and result (INCR).
 *  Pointers are borrowed for the duration of the call only. */
typedef struct sg_store_op {
    sg_store_opcode op;
    const void *key;        /* in: key bytes */
    size_t klen;            /* in: bytes of key (1..4096) */
    const void *val;        /* in (PUT): value bytes */
    size_t vlen;            /* in (PUT): bytes of val */
    void *buf;              /* in (GET): where the value is copied */
    size_t cap;             /* in (GET): bytes available at buf */
    int64_t delta;          /* in (INCR) */
    int64_t expire_at_ms;   /* in (PUT, INCR): absolute, as for put/incr */
    size_t out_len;         /* out (GET): full length of the value */
    int64_t result;         /* out (INCR): the counter after the add */
    int err;                /* out: SG_OK or the op's error */
} sg_store_op;

typedef struct sg_store_ops {
    const char *name;
    /** Read the value of key into buf (up to cap bytes); *vlen gets its full
     *  length.  SG_ENOTFOUND when absent or expired at now_ms. */
    int (*get)(sg_store *s, const void *key, size_t klen, void *buf,
               size_t cap, size_t *vlen, int64_t now_ms);
    /** Set key to val, expiring at expire_at_ms (0 = never). */
    int (*put)(sg_store *s, const void *key, size_t klen, const void *val,
               size_t vlen, int64_t expire_at_ms, int64_t now_ms);
    /** Add delta to the int64 counter at key (absent/expired counts as 0),
     *  store the sum in *out; expire_at_ms as for put (0 keeps the old
     *  expiry, or never for a new key). */
    int (*incr)(sg_store *s, const void *key, size_t klen, int64_t delta,
                int64_t expire_at_ms, int64_t now_ms, int64_t *out);
    /** Remove key; SG_OK whether or not it existed. */
    int (*del)(sg_store *s, const void *key, size_t klen);
    /** Group writes that belong together (one message's updates). */
    int (*begin)(sg_store *s);
    int (*commit)(sg_store *s);
    /** Number of live keys and bytes used (approximate), for metrics. */
    void (*stats)(sg_store *s, uint64_t *keys, uint64_t *bytes);
    void (*free)(sg_store *s);
    /* Optional members (NULL = not offered; the sg__store_* wrappers below
     * fall back to the plain calls). */
    /** Run n operations in order, as n single calls would, but in as few
     *  round trips as the backend can (Redis: one pipeline).  Later ops see
     *  earlier ones' writes.  Outside begin/commit the batch's writes commit
     *  together.  @return SG_OK when the batch ran (per-op results in
     *  ops[i].err), or SG_ESTORE / SG_ENOMEM when the backend failed (then
     *  every op's err says so and no write of the batch was applied). */
    int (*batch)(sg_store *s, sg_store_op *ops, size_t n, int64_t now_ms);
    /** Drop every write since the outermost begin and end the group.
     *  @return SG_OK, SG_EINVAL (no group open). */
    int (*abort)(sg_store *s);
    /** Detail of the last failure ("redis 127.0.0.1:6379: Connection
     *  refused"), or "".  Valid until the next call on s. */
    const char *(*errmsg)(sg_store *s);
    /** Watch key for the open group (optimistic concurrency; docs/
     *  storage.md "Many daemons, one truth").  Call it before the key's
     *  first read in the group.  If another writer (daemon, process)
     *  changes the key between this call and the outermost commit, that
     *  commit applies nothing of the group and returns SG__ECONFLICT; the
     *  caller reads again and redoes its work.  Outside a group it does
     *  nothing.  NULL = the backend has no other writer to fear (memory:,
     *  one process).  LMDB checks the watched values when the group's
     *  write transaction starts (writers are serialised from there on);
     *  Redis sends WATCH with the key's first read and learns of a
     *  conflict from EXEC.  @return SG_OK, SG_EINVAL, SG_ENOMEM,
     *  SG_ESTORE. */
    int (*watch)(sg_store *s, const void *key, size_t klen, int64_t now_ms);
} sg_store_ops;

/** A commit found a watched key changed by another writer and applied
 *  nothing (sg_store_ops.watch).  Internal: sg_check retries the message
 *  and turns repeated conflicts into SG_ESTORE, so it never reaches the
 *  public API. */
#define SG__ECONFLICT (-100)

struct sg_store {
    const sg_store_ops *ops;
};

/** In-memory backend (store_memory.c): a hash table with lazy expiry plus
 *  an incremental sweep, so expired keys do not pile up.
 *  @return SG_OK, SG_ENOMEM. */
int sg__store_memory_new(sg_store **out);

/* Common rules of the persistent and shared backends below, the same as the
 * memory backend's (docs/storage.md; tests/test_store_conformance.c): keys
 * are 1..4096 bytes and values up to 16 MiB (SG_EINVAL otherwise); a
 * counter is an 8-byte value holding an int64 in host byte order (what get
 * returns for it); incr on a live value of another length, or past the
 * int64 range, is SG_EINVAL and changes nothing; begin/commit nest (only the
 * outermost commit writes); commit or abort without begin is SG_EINVAL.  A
 * store object is not thread-safe: one thread at a time.  Several processes
 * may share the same data (an LMDB directory, a Redis server or cluster). */

/** Options of the LMDB backend; zero means the default. */
typedef struct sg_store_lmdb_opts {
    size_t map_bytes;       /* initial map size in bytes; default 256 MiB.
                               The map doubles whenever it fills up. */
    int64_t sync_ms;        /* fsync policy: < 0 fsync at every commit
                               (durable against power loss); 0 default =
                               1000; > 0 fsync at a commit at most every
                               sync_ms ms of wall clock, and on free.  Every
                               committed write survives a crash of the
                               process in all modes. */
    unsigned sweep_step;    /* entries the expiry sweep examines per key
                               a group added (at commit; 8 at least);
                               default 4 */
    int writemap;           /* MDB_WRITEMAP: 0 default = on, > 0 on,
                               < 0 off.  On, commits change pages in the
                               shared map instead of pwrite()ing each
                               dirty page (~1.2-1.6x faster through the
                               engine); a crash of the process loses
                               nothing committed either way.  An OS crash
                               or power loss between two fsyncs can damage
                               the file in both modes (LMDB's MDB_NOSYNC:
                               the kernel writes pages back in any order);
                               only sync_ms < 0 is safe against it.  What
                               on adds: a stray write of this process into
                               the map lands in the file (off: a fault).
                               docs/storage.md "LMDB". */
} sg_store_lmdb_opts;

/** LMDB backend (store_lmdb.c) with default options: one environment (files
 *  data.mdb, lock.mdb) in directory `dir`, created (mode 0700) if missing.
 *  Each outermost begin..commit is one LMDB write transaction, so a
 *  message's writes are committed atomically (a kill -9 at any point leaves
 *  every committed group and no part of an uncommitted one); writes outside
 *  a group commit one by one.  Expiry is stored with each value, enforced
 *  at read time and by an incremental sweep at commit (sweep_step entries
 *  per key the group added).  Several processes may open the same directory (writers take
 *  turns); one process must not open it twice (an LMDB rule).
 *  @param dir  path of the data directory (copied).
 *  @param out  receives the store (sg__store_free).
 *  @return SG_OK, SG_EINVAL (NULL argument), SG_EIO (directory cannot be
 *          created), SG_ESTORE (LMDB refused to open the environment, e.g.
 *          a corrupt data.mdb), SG_ENOMEM.  On failure *out is NULL. */
int sg__store_lmdb_new(const char *dir, sg_store **out);
/** As sg__store_lmdb_new with options (NULL = defaults). */
int sg__store_lmdb_open(const char *dir, const sg_store_lmdb_opts *opts,
                        sg_store **out);

/** Redis backend (store_redis.c, hiredis) on one server.  Every key is one
 *  Redis string: a tag ('V' value, 'N' counter), the expiry in message time
 *  (8 bytes, big-endian, ms; 0 = never), then the value's bytes or the
 *  counter in decimal (docs/storage.md "Redis").  Expiry is checked against
 *  now_ms on read; each key with an expiry also gets a Redis TTL of
 *  (expire_at_ms - now_ms) ms of wall clock (PSETEX, = SET .. PX), so
 *  Redis frees it by itself.  begin..commit buffers the writes (reads see them) and sends
 *  them at commit in one MULTI/EXEC, one command per key; incr inside a
 *  group returns the value read before plus the group's deltas, and the
 *  add itself is applied atomically on the server (a Lua script) at
 *  commit, so the stored sum is exact across daemons.  Watched keys that
 *  conflicted take a "turn" at their next read (a retry wins the race).  Connections are made lazily and
 *  remade after a failure (at most every 100 ms; connect timeout 500 ms,
 *  command timeout 2 s).  Outside a group each call is one round trip; a
 *  batch (sg__store_batch) does all its reads in one (one WATCH for all
 *  its watched keys, one MGET).  If SIGPIPE is at its
 *  default action it is set to SIG_IGN (a dropped connection must not kill
 *  the process).
 *  @param host  host name or address (copied); port 1..65535; database 0.
 *  @return SG_OK, SG_EINVAL, SG_ENOMEM, SG_ESTORE (cannot connect; detail
 *          in the err of sg__store_open_uri).  On failure *out is NULL. */
int sg__store_redis_new(const char *host, int port, sg_store **out);

/** Redis Cluster backend (store_cluster.c): the Redis backend's key layout
 *  routed by our own cluster layer: key slot = CRC16-XMODEM(key or its hash
 *  tag {...}) mod 16384 (Redis Cluster specification), the slot map from
 *  CLUSTER SLOTS, MOVED (map refresh) and ASK (ASKING) redirects.  A group's
 *  writes commit in one MULTI/EXEC per hash slot, so the keys of one
 *  account ("acct:{id}...") commit together; keys on different slots do
 *  not commit atomically with each other.  A dead master fails the calls
 *  on its slots with SG_ESTORE; a failover or resharding is followed
 *  through MOVED and a re-read of CLUSTER SLOTS.
 *  @param seeds  "host:port[,host:port...]"; any reachable one will do.
 *  @return SG_OK, SG_EINVAL (malformed seeds), SG_ENOMEM, SG_ESTORE (no seed
 *          answers CLUSTER SLOTS).  On failure *out is NULL. */
int sg__store_cluster_new(const char *seeds, sg_store **out);

/** Open a store from a URI (store_uri.c):
 *    memory:                     in-process hash table (nothing persists)
 *    lmdb:DIR[?OPT&OPT]          LMDB environment in DIR; options
 *                                sync=always|MS, writemap=0|1
 *    redis://HOST[:PORT][/]      one Redis server (port 6379 by default)
 *    redis-cluster://HOST:PORT[,HOST:PORT...]  Redis Cluster seeds
 *  @param err  if not NULL, receives a one-line English reason on failure
 *              (errlen bytes max, NUL-terminated).
 *  @return SG_OK, SG_EINVAL (unknown scheme or malformed URI), or what the
 *          backend's constructor returns.  On failure *out is NULL. */
int sg__store_open_uri(const char *uri, sg_store **out, char *err,
                       size_t errlen);

/** Redis Cluster key slot of a key: CRC16-XMODEM (polynomial 0x1021, init
 *  0) of the key, or of its hash tag -- the bytes between the first '{' and
 *  the first '}' after it, when there is at least one -- mod 16384 (Redis
 *  Cluster specification, "Key distribution model").  @return 0..16383. */
int sg__cluster_keyslot(const void *key, size_t klen);
/** CRC16-XMODEM of len bytes; CRC16("123456789") = 0x31C3. */
uint16_t sg__crc16_xmodem(const void *buf, size_t len);
/** Counters of a cluster store for metrics and tests: MOVED and ASK
 *  redirects followed, slot-map reads.  Zeros for other backends.  Any
 *  pointer argument may be NULL. */
void sg__store_cluster_counters(sg_store *s, uint64_t *moved, uint64_t *asks,
                                uint64_t *refreshes);
/** Times an LMDB store grew its map since it was opened (tests, metrics);
 *  0 for other backends. */
uint64_t sg__store_lmdb_grows(sg_store *s);

/* Thin wrappers so callers read well. */
static inline int sg__store_get(sg_store *s, const void *k, size_t kl,
                                void *buf, size_t cap, size_t *vlen,
                                int64_t now) {
    return s->ops->get(s, k, kl, buf, cap, vlen, now);
}
static inline int sg__store_put(sg_store *s, const void *k, size_t kl,
                                const void *v, size_t vl, int64_t exp,
                                int64_t now) {
    return s->ops->put(s, k, kl, v, vl, exp, now);
}
static inline int sg__store_incr(sg_store *s, const void *k, size_t kl,
                                 int64_t d, int64_t exp, int64_t now,
                                 int64_t *out) {
    return s->ops->incr(s, k, kl, d, exp, now, out);
}
static inline int sg__store_del(sg_store *s, const void *k, size_t kl) {
    return s->ops->del(s, k, kl);
}
static inline void sg__store_free(sg_store *s) {
    if (s) s->ops->free(s);
}
static inline int sg__store_begin(sg_store *s) { return s->ops->begin(s); }
static inline int sg__store_commit(sg_store *s) { return s->ops->commit(s); }
/** Abort the open group; a backend without abort commits what was written
 *  (the memory backend cannot roll back). */
static inline int sg__store_abort(sg_store *s) {
    return s->ops->abort ? s->ops->abort(s) : s->ops->commit(s);
}
static inline void sg__store_stats(sg_store *s, uint64_t *keys,
                                   uint64_t *bytes) {
    s->ops->stats(s, keys, bytes);
}
static inline const char *sg__store_errmsg(sg_store *s) {
    return s->ops->errmsg ? s->ops->errmsg(s) : "";
}
/** Watch a key for the open group (sg_store_ops.watch); SG_OK when the
 *  backend has no watch (no other writer can interfere). */
static inline int sg__store_watch(sg_store *s, const void *k, size_t kl,
                                  int64_t now) {
    return s->ops->watch ? s->ops->watch(s, k, kl, now) : SG_OK;
}
/** Run a batch (see sg_store_ops.batch); backends without one run the ops
 *  one by one (outside begin/commit each write then commits on its own). */
static inline int sg__store_batch(sg_store *s, sg_store_op *ops, size_t n,
                                  int64_t now) {
    if (s->ops->batch) return s->ops->batch(s, ops, n, now);
    for (size_t i = 0; i < n; i++) {
        sg_store_op *o = &ops[i];
        switch (o->op) {
        case SG_STORE_GET:
            o->err = s->ops->get(s, o->key, o->klen, o->buf, o->cap,
                                 &o->out_len, now);
            break;
        case SG_STORE_PUT:
            o->err = s->ops->put(s, o->key, o->klen, o->val, o->vlen,
                                 o->expire_at_ms, now);
            break;
        case SG_STORE_INCR:
            o->err = s->ops->incr(s, o->key, o->klen, o->delta,
                                  o->expire_at_ms, now, &o->result);
            break;
        case SG_STORE_DEL:
            o->err = s->ops->del(s, o->key, o->klen);
            break;
        default:
            o->err = SG_EINVAL;
        }
    }
    return SG_OK;
}

#endif /* SG_STORE_H */
