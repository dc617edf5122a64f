/*
 * store_memory.c -- the in-memory backend of the state store (store.h).
 *
 * An open-addressing hash table (linear probing, xxHash3 of the key, load
 * factor at most 1/2) whose slots hold the key's hash and expiry next to a
 * pointer to the entry (key and value), so a lookup of an absent key and
 * the expiry sweep touch only the slot array.  Expired keys are removed
 * lazily when touched and by an incremental sweep: every write inspects
 * the slots at a rotating cursor, so keys nobody touches again still go
 * away and memory tracks the live state, not the history.  Deletion
 * shifts the probe run back (no tombstones).  Time is the caller's now_ms
 * (the message's own time), never the wall clock.  begin/commit are
 * no-ops: one process, one thread, nothing to roll back to.  A batch runs
 * its ops one by one, as single calls would, after prefetching every op's
 * slot and then the entries they point to: the table is far larger than
 * the caches, and a lookup is two cache misses (slot, entry) that a batch
 * overlaps instead of paying in turn.  Each op's key is hashed once; a
 * GET without a buffer (a read-ahead: the judge phase reads its keys in
 * batches before the stages read them one by one) also pulls the value
 * into the cache.
 */
#include "sg_internal.h"
#include "store.h"

#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

/* Slots examined per write by the incremental sweep.  The table has at
 * least twice as many slots as keys, so a full pass takes about
 * 2 x keys / SWEEP_STEP writes: expired keys linger that long at most. */
#define SWEEP_STEP 2
#define MIN_SLOTS 64
#define MAX_KEY_BYTES 4096
#define MAX_VALUE_BYTES (16u << 20) /* store.h: values up to 16 MiB */
#define NOT_FOUND SIZE_MAX

typedef struct mem_entry {
    uint32_t klen;      /* bytes of key at data[0] */
    uint32_t vlen;      /* bytes of value at data[klen] */
    uint32_t vcap;      /* bytes allocated for the value */
    unsigned char data[];
} mem_entry;

typedef struct mem_slot {
    uint64_t hash;
    int64_t expire_at;  /* absolute ms, 0 = never */
    mem_entry *e;       /* NULL: empty slot */
} mem_slot;

typedef struct mem_store {
    sg_store base;
    mem_slot *slot;
    size_t cap;         /* slots, a power of two */
    size_t count;       /* entries, live or not yet swept */
    size_t bytes;       /* approximate heap bytes of entries + slots */
    size_t sweep_pos;   /* next slot the sweep looks at */
    int depth;          /* begin/commit nesting, for assertions */
} mem_store;

static size_t entry_bytes(const mem_entry *e) {
    return sizeof *e + e->klen + e->vcap;
}

static bool is_expired(const mem_slot *s, int64_t now) {
    return s->expire_at != 0 && s->expire_at <= now;
}

/* Index of the slot holding key, or NOT_FOUND; *empty gets the empty slot
 * that ends its probe run (where the key would go). */
static size_t probe(const mem_store *m, const void *key, size_t klen,
                    uint64_t h, size_t *empty) {
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const mem_slot *s = &m->slot[i];
        if (!s->e) {
            if (empty) *empty = i;
            return NOT_FOUND;
        }
        if (s->hash == h && s->e->klen == klen &&
            memcmp(s->e->data, key, klen) == 0)
            return i;
    }
}

/* Free slot i's entry and shift the rest of its probe run back over it
 * (Knuth's deletion for linear probing), so lookups need no tombstones. */
static void remove_at(mem_store *m, size_t i) {
    size_t mask = m->cap - 1;
    m->bytes -= entry_bytes(m->slot[i].e);
    sg__free(m->slot[i].e);
    m->count--;
    for (size_t j = (i + 1) & mask; m->slot[j].e; j = (j + 1) & mask) {
        size_t home = m->slot[j].hash & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        m->slot[i] = m->slot[j];
        i = j;
    }
    m->slot[i] = (mem_slot){0};
}

/* Look at SWEEP_STEP slots and drop what has expired by now.  A removal
 * can shift a later entry into the slot just freed: look at it again. */
static void sweep(mem_store *m, int64_t now) {
    for (int n = 0; n < SWEEP_STEP; n++) {
        mem_slot *s = &m->slot[m->sweep_pos];
        if (s->e && is_expired(s, now)) {
            remove_at(m, m->sweep_pos);
            continue;
        }
        m->sweep_pos = (m->sweep_pos + 1) & (m->cap - 1);
    }
}

/* Double the table.  On failure the old table stays (still correct). */
static int grow(mem_store *m) {
    size_t n = m->cap * 2, mask = n - 1;
    mem_slot *ns = sg__calloc(n, sizeof *ns);
    if (!ns) return SG_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slot[i].e) continue;
        size_t j = m->slot[i].hash & mask;
        while (ns[j].e) j = (j + 1) & mask;
        ns[j] = m->slot[i];
    }
    m->bytes += (n - m->cap) * sizeof *ns;
    sg__free(m->slot);
    m->slot = ns;
    m->cap = n;
    m->sweep_pos &= mask;
    return SG_OK;
}

/* Slot for key with room for vlen value bytes: the existing one (its
 * entry grown if needed; expired contents left for the caller to
 * overwrite) or a new one.  *fresh: no live value was there.  NOT_FOUND
 * when out of memory (nothing changed). */
static size_t upsert(mem_store *m, const void *key, size_t klen, uint64_t h,
                     size_t vlen, int64_t now, bool *fresh) {
    size_t empty = 0, i = probe(m, key, klen, h, &empty);
    if (i == NOT_FOUND && (m->count + 1) * 2 > m->cap) {
        if (grow(m) && m->count + 1 >= m->cap) return NOT_FOUND;
        i = probe(m, key, klen, h, &empty);
    }
    *fresh = i == NOT_FOUND || is_expired(&m->slot[i], now);
    mem_entry *e = i == NOT_FOUND ? NULL : m->slot[i].e;
    if (e && vlen <= e->vcap) return i;
    size_t cap = vlen < 16 ? 16 : vlen;
    mem_entry *ne = sg__realloc(e, sizeof *ne + klen + cap);
    if (!ne) return NOT_FOUND;
    if (e) {
        m->bytes -= entry_bytes(ne); /* old vcap still recorded */
        ne->vcap = (uint32_t)cap;
        m->bytes += entry_bytes(ne);
        m->slot[i].e = ne;
        return i;
    }
    *ne = (mem_entry){(uint32_t)klen, 0, (uint32_t)cap};
    memcpy(ne->data, key, klen);
    m->slot[empty] = (mem_slot){h, 0, ne};
    m->count++;
    m->bytes += entry_bytes(ne);
    return empty;
}

static bool key_ok(const void *key, size_t klen) {
    return key != NULL && klen > 0 && klen <= MAX_KEY_BYTES;
}

/* Bytes of a value that a batch GET without a buffer pulls into the
 * cache: such a get reads ahead for a later one, which then copies the
 * value without a miss (a sender's state, a campaign's lists). */
#define AHEAD_VALUE_BYTES 1024

/* mem_get of a key (valid, key_ok) whose hash h is known.  ahead: a
 * batch's read-ahead; without buf, prefetch the value. */
static int get_hashed(mem_store *m, const void *key, size_t klen, uint64_t h,
                      void *buf, size_t cap, size_t *vlen, int64_t now,
                      bool ahead) {
    size_t i = probe(m, key, klen, h, NULL);
    if (i == NOT_FOUND) return SG_ENOTFOUND;
    if (is_expired(&m->slot[i], now)) {
        remove_at(m, i);
        return SG_ENOTFOUND;
    }
    const mem_entry *e = m->slot[i].e;
    if (vlen) *vlen = e->vlen;
    if (buf) memcpy(buf, e->data + e->klen, e->vlen < cap ? e->vlen : cap);
    else if (ahead) {
        const char *v = (const char *)(e->data + e->klen);
        const char *end = v + (e->vlen < AHEAD_VALUE_BYTES ? e->vlen : AHEAD_VALUE_BYTES);
        for (v = (const char *)((uintptr_t)v & ~(uintptr_t)63); v < end; v += 64)
            __builtin_prefetch(v);
    }
    return SG_OK;
}

static int mem_get(sg_store *s, const void *key, size_t klen, void *buf,
                   size_t cap, size_t *vlen, int64_t now) {
    mem_store *m = (mem_store *)s;
    if (!key_ok(key, klen) || (cap && !buf)) return SG_EINVAL;
    return get_hashed(m, key, klen, XXH3_64bits(key, klen), buf, cap, vlen, now,
                      false);
}

/* mem_put of a key whose hash h is known (XXH3_64bits of the key when it
 * is valid; anything otherwise). */
static int put_hashed(mem_store *m, const void *key, size_t klen, uint64_t h,
                      const void *val, size_t vlen, int64_t expire_at,
                      int64_t now) {
    if (!key_ok(key, klen) || (vlen && !val) || vlen > MAX_VALUE_BYTES)
        return SG_EINVAL;
    sweep(m, now);
    bool fresh;
    size_t i = upsert(m, key, klen, h, vlen, now, &fresh);
    if (i == NOT_FOUND) return SG_ENOMEM;
    mem_entry *e = m->slot[i].e;
    if (vlen) memcpy(e->data + e->klen, val, vlen);
    e->vlen = (uint32_t)vlen;
    m->slot[i].expire_at = expire_at;
    return SG_OK;
}

static int mem_put(sg_store *s, const void *key, size_t klen, const void *val,
                   size_t vlen, int64_t expire_at, int64_t now) {
    uint64_t h = key_ok(key, klen) ? XXH3_64bits(key, klen) : 0;
    return put_hashed((mem_store *)s, key, klen, h, val, vlen, expire_at, now);
}

static int mem_incr(sg_store *s, const void *key, size_t klen, int64_t delta,
                    int64_t expire_at, int64_t now, int64_t *out) {
    mem_store *m = (mem_store *)s;
    if (!key_ok(key, klen)) return SG_EINVAL;
    sweep(m, now);
    uint64_t h = XXH3_64bits(key, klen);
    size_t i = probe(m, key, klen, h, NULL);
    int64_t old = 0, sum;
    if (i != NOT_FOUND && !is_expired(&m->slot[i], now)) {
        const mem_entry *e = m->slot[i].e;
        if (e->vlen != sizeof old) return SG_EINVAL; /* not a counter */
        memcpy(&old, e->data + e->klen, sizeof old);
    }
    if (__builtin_add_overflow(old, delta, &sum)) return SG_EINVAL;
    bool fresh;
    i = upsert(m, key, klen, h, sizeof(int64_t), now, &fresh);
    if (i == NOT_FOUND) return SG_ENOMEM;
    mem_entry *e = m->slot[i].e;
    memcpy(e->data + e->klen, &sum, sizeof sum);
    e->vlen = sizeof sum;
    if (expire_at != 0 || fresh) m->slot[i].expire_at = expire_at;
    if (out) *out = sum;
    return SG_OK;
}

static int mem_del(sg_store *s, const void *key, size_t klen) {
    mem_store *m = (mem_store *)s;
    if (!key_ok(key, klen)) return SG_EINVAL;
    size_t i = probe(m, key, klen, XXH3_64bits(key, klen), NULL);
    if (i != NOT_FOUND) remove_at(m, i);
    return SG_OK;
}

/* A batch prefetches op i + SLOT_AHEAD's slot and op i + ENTRY_AHEAD's
 * entry while it runs op i, so the misses of a long batch (the daemon
 * reads ahead for 100 messages at once) overlap too. */
#define SLOT_AHEAD 16
#define ENTRY_AHEAD 8
/* Slots of a probe run looked at for the entry to prefetch. */
#define PREFETCH_RUN 8

static uint64_t op_hash(const sg_store_op *o) {
    return key_ok(o->key, o->klen) ? XXH3_64bits(o->key, o->klen) : 0;
}

/* Prefetch the entry of the key hashed h if its slot (prefetched earlier)
 * holds a matching hash: its first two cache lines (header, key and the
 * start of the value; a record of ~100 bytes spans both). */
static void prefetch_entry(const mem_store *m, uint64_t h) {
    size_t mask = m->cap - 1, j = h & mask;
    for (int k = 0; k < PREFETCH_RUN && m->slot[j].e; k++, j = (j + 1) & mask)
        if (m->slot[j].hash == h) {
            __builtin_prefetch(m->slot[j].e);
            __builtin_prefetch((const char *)m->slot[j].e + 64);
            return;
        }
}

/* Op o, whose key hashes to h (op_hash). */
static void run_op(sg_store *s, sg_store_op *o, uint64_t h, int64_t now) {
    switch (o->op) {
    case SG_STORE_GET:
        if (!key_ok(o->key, o->klen) || (o->cap && !o->buf)) o->err = SG_EINVAL;
        else o->err = get_hashed((mem_store *)s, o->key, o->klen, h, o->buf,
                                 o->cap, &o->out_len, now, true);
        break;
    case SG_STORE_PUT:
        o->err = put_hashed((mem_store *)s, o->key, o->klen, h, o->val, o->vlen,
                            o->expire_at_ms, now);
        break;
    case SG_STORE_INCR:
        o->err = mem_incr(s, o->key, o->klen, o->delta, o->expire_at_ms, now, &o->result);
        break;
    case SG_STORE_DEL:
        o->err = mem_del(s, o->key, o->klen);
        break;
    default:
        o->err = SG_EINVAL;
    }
}

/* The ops one by one, as single calls (a put may grow the table under the
 * prefetches: they are hints, the ops read the table afresh). */
static int mem_batch(sg_store *s, sg_store_op *ops, size_t n, int64_t now) {
    mem_store *m = (mem_store *)s;
    if (!ops && n) return SG_EINVAL;
    uint64_t h[SLOT_AHEAD];
    for (size_t i = 0; i < n + SLOT_AHEAD; i++) {
        /* op i - SLOT_AHEAD first: its hash is in the place op i's takes */
        if (i >= SLOT_AHEAD) run_op(s, &ops[i - SLOT_AHEAD], h[i % SLOT_AHEAD], now);
        if (i < n) {
            h[i % SLOT_AHEAD] = op_hash(&ops[i]);
            __builtin_prefetch(&m->slot[h[i % SLOT_AHEAD] & (m->cap - 1)]);
        }
        if (i >= SLOT_AHEAD - ENTRY_AHEAD && i - (SLOT_AHEAD - ENTRY_AHEAD) < n)
            prefetch_entry(m, h[(i - (SLOT_AHEAD - ENTRY_AHEAD)) % SLOT_AHEAD]);
    }
    return SG_OK;
}

static int mem_begin(sg_store *s) {
    ((mem_store *)s)->depth++;
    return SG_OK;
}

static int mem_commit(sg_store *s) {
    mem_store *m = (mem_store *)s;
    if (m->depth <= 0) return SG_EINVAL;
    m->depth--;
    return SG_OK;
}

static void mem_stats(sg_store *s, uint64_t *keys, uint64_t *bytes) {
    mem_store *m = (mem_store *)s;
    if (keys) *keys = m->count;
    if (bytes) *bytes = m->bytes + sizeof *m;
}

static void mem_free(sg_store *s) {
    mem_store *m = (mem_store *)s;
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++) sg__free(m->slot[i].e);
    sg__free(m->slot);
    sg__free(m);
}

static const sg_store_ops mem_ops = {
    .name = "memory",
    .get = mem_get,
    .put = mem_put,
    .incr = mem_incr,
    .del = mem_del,
    .begin = mem_begin,
    .commit = mem_commit,
    .stats = mem_stats,
    .free = mem_free,
    .batch = mem_batch,
};

int sg__store_memory_new(sg_store **out) {
    if (!out) return SG_EINVAL;
    *out = NULL;
    mem_store *m = sg__calloc(1, sizeof *m);
    if (!m) return SG_ENOMEM;
    m->slot = sg__calloc(MIN_SLOTS, sizeof *m->slot);
    if (!m->slot) {
        sg__free(m);
        return SG_ENOMEM;
    }
    m->base.ops = &mem_ops;
    m->cap = MIN_SLOTS;
    m->bytes = MIN_SLOTS * sizeof *m->slot;
    *out = &m->base;
    return SG_OK;
}
