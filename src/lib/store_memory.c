/*
 * store_memory.c -- the in-memory backend of the state store (store.h).
 *
 * A chained hash table (xxHash3 of the key) whose entries carry their key,
 * value and absolute expiry.  Expired keys are removed lazily when touched
 * and by an incremental sweep: every write inspects a few buckets from a
 * rotating cursor, so keys that are never touched again still go away and
 * memory tracks the live state, not the history.  Time is the caller's
 * now_ms (the message's own time), never the wall clock.  begin/commit are
 * no-ops: one process, one thread, nothing to roll back to.
 */
#include "sg_internal.h"
#include "store.h"

#include <string.h>
#include <xxhash.h>

/* Buckets examined per write by the incremental sweep.  With the table's
 * load factor <= 1, a full pass takes about nbuckets / SWEEP_STEP writes. */
#define SWEEP_STEP 4
#define MIN_BUCKETS 64
#define MAX_KEY_BYTES 4096

typedef struct mem_entry {
    struct mem_entry *next;
    uint64_t hash;
    int64_t expire_at;  /* absolute ms, 0 = never */
    uint32_t klen;      /* bytes of key at data[0] */
    uint32_t vlen;      /* bytes of value at data[klen] */
    uint32_t vcap;      /* bytes allocated for the value */
    unsigned char data[];
} mem_entry;

typedef struct mem_store {
    sg_store base;
    mem_entry **bucket;
    size_t nbucket;     /* power of two */
    size_t count;       /* entries, live or not yet swept */
    size_t bytes;       /* approximate heap bytes of entries + buckets */
    size_t sweep_pos;   /* next bucket the sweep looks at */
    int depth;          /* begin/commit nesting, for assertions */
} mem_store;

static size_t entry_bytes(const mem_entry *e) {
    return sizeof *e + e->klen + e->vcap;
}

static bool is_expired(const mem_entry *e, int64_t now) {
    return e->expire_at != 0 && e->expire_at <= now;
}

/* Slot (pointer to the link) holding key, or the NULL link at the chain's
 * end when absent. */
static mem_entry **find_slot(mem_store *m, const void *key, size_t klen,
                             uint64_t h) {
    mem_entry **slot = &m->bucket[h & (m->nbucket - 1)];
    while (*slot) {
        mem_entry *e = *slot;
        if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0)
            return slot;
        slot = &e->next;
    }
    return slot;
}

static void unlink_free(mem_store *m, mem_entry **slot) {
    mem_entry *e = *slot;
    *slot = e->next;
    m->count--;
    m->bytes -= entry_bytes(e);
    sg__free(e);
}

/* Look at SWEEP_STEP buckets and drop what has expired by now. */
static void sweep(mem_store *m, int64_t now) {
    for (int i = 0; i < SWEEP_STEP; i++) {
        mem_entry **slot = &m->bucket[m->sweep_pos];
        while (*slot) {
            if (is_expired(*slot, now))
                unlink_free(m, slot);
            else
                slot = &(*slot)->next;
        }
        m->sweep_pos = (m->sweep_pos + 1) & (m->nbucket - 1);
    }
}

/* Double the table when the load factor passes 1.  A failed allocation
 * keeps the old table (longer chains, still correct). */
static void maybe_grow(mem_store *m) {
    if (m->count <= m->nbucket) return;
    size_t n = m->nbucket * 2;
    mem_entry **nb = sg__calloc(n, sizeof *nb);
    if (!nb) return;
    for (size_t i = 0; i < m->nbucket; i++) {
        mem_entry *e = m->bucket[i];
        while (e) {
            mem_entry *next = e->next;
            size_t j = e->hash & (n - 1);
            e->next = nb[j];
            nb[j] = e;
            e = next;
        }
    }
    m->bytes += (n - m->nbucket) * sizeof *nb;
    sg__free(m->bucket);
    m->bucket = nb;
    m->nbucket = n;
    m->sweep_pos &= n - 1;
}

/* Entry for key with room for vlen value bytes: the existing one (grown if
 * needed, expired contents kept for the caller to overwrite) or a new one
 * linked in.  *fresh tells which.  NULL when out of memory. */
static mem_entry *upsert(mem_store *m, const void *key, size_t klen,
                         size_t vlen, int64_t now, bool *fresh) {
    uint64_t h = XXH3_64bits(key, klen);
    mem_entry **slot = find_slot(m, key, klen, h);
    mem_entry *e = *slot;
    *fresh = e == NULL || is_expired(e, now);
    if (e && vlen <= e->vcap) return e;
    size_t cap = vlen < 16 ? 16 : vlen;
    mem_entry *ne = sg__realloc(e, sizeof *ne + klen + cap);
    if (!ne) return NULL;
    if (e) {
        m->bytes -= entry_bytes(ne); /* old vcap still recorded */
        ne->vcap = (uint32_t)cap;
        m->bytes += entry_bytes(ne);
        *slot = ne;
        return ne;
    }
    ne->next = NULL;
    ne->hash = h;
    ne->expire_at = 0;
    ne->klen = (uint32_t)klen;
    ne->vlen = 0;
    ne->vcap = (uint32_t)cap;
    memcpy(ne->data, key, klen);
    *slot = ne;
    m->count++;
    m->bytes += entry_bytes(ne);
    return ne;
}

static bool key_ok(const void *key, size_t klen) {
    return key != NULL && klen > 0 && klen <= MAX_KEY_BYTES;
}

static int mem_get(sg_store *s, const void *key, size_t klen, void *buf,
                   size_t cap, size_t *vlen, int64_t now) {
    mem_store *m = (mem_store *)s;
    if (!key_ok(key, klen) || (cap && !buf)) return SG_EINVAL;
    mem_entry **slot = find_slot(m, key, klen, XXH3_64bits(key, klen));
    if (!*slot) return SG_ENOTFOUND;
    if (is_expired(*slot, now)) {
        unlink_free(m, slot);
        return SG_ENOTFOUND;
    }
    mem_entry *e = *slot;
    if (vlen) *vlen = e->vlen;
    if (buf) memcpy(buf, e->data + e->klen, e->vlen < cap ? e->vlen : cap);
    return SG_OK;
}

static int mem_put(sg_store *s, const void *key, size_t klen, const void *val,
                   size_t vlen, int64_t expire_at, int64_t now) {
    mem_store *m = (mem_store *)s;
    if (!key_ok(key, klen) || (vlen && !val) || vlen > UINT32_MAX)
        return SG_EINVAL;
    sweep(m, now);
    bool fresh;
    mem_entry *e = upsert(m, key, klen, vlen, now, &fresh);
    if (!e) return SG_ENOMEM;
    if (vlen) memcpy(e->data + e->klen, val, vlen);
    e->vlen = (uint32_t)vlen;
    e->expire_at = expire_at;
    maybe_grow(m);
    return SG_OK;
}

static int mem_incr(sg_store *s, const void *key, size_t klen, int64_t delta,
                    int64_t expire_at, int64_t now, int64_t *out) {
    mem_store *m = (mem_store *)s;
    if (!key_ok(key, klen)) return SG_EINVAL;
    uint64_t h = XXH3_64bits(key, klen);
    mem_entry *old = *find_slot(m, key, klen, h);
    if (old && !is_expired(old, now) && old->vlen != sizeof(int64_t))
        return SG_EINVAL; /* not a counter: change nothing */
    sweep(m, now);
    bool fresh;
    mem_entry *e = upsert(m, key, klen, sizeof(int64_t), now, &fresh);
    if (!e) return SG_ENOMEM;
    int64_t v = 0;
    if (!fresh) memcpy(&v, e->data + e->klen, sizeof v);
    v += delta;
    memcpy(e->data + e->klen, &v, sizeof v);
    e->vlen = sizeof v;
    if (expire_at != 0 || fresh) e->expire_at = expire_at;
    if (out) *out = v;
    maybe_grow(m);
    return SG_OK;
}

static int mem_del(sg_store *s, const void *key, size_t klen) {
    mem_store *m = (mem_store *)s;
    if (!key_ok(key, klen)) return SG_EINVAL;
    mem_entry **slot = find_slot(m, key, klen, XXH3_64bits(key, klen));
    if (*slot) unlink_free(m, slot);
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
    for (size_t i = 0; i < m->nbucket; i++) {
        mem_entry *e = m->bucket[i];
        while (e) {
            mem_entry *next = e->next;
            sg__free(e);
            e = next;
        }
    }
    sg__free(m->bucket);
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
};

int sg__store_memory_new(sg_store **out) {
    if (!out) return SG_EINVAL;
    *out = NULL;
    mem_store *m = sg__calloc(1, sizeof *m);
    if (!m) return SG_ENOMEM;
    m->bucket = sg__calloc(MIN_BUCKETS, sizeof *m->bucket);
    if (!m->bucket) {
        sg__free(m);
        return SG_ENOMEM;
    }
    m->base.ops = &mem_ops;
    m->nbucket = MIN_BUCKETS;
    m->bytes = MIN_BUCKETS * sizeof *m->bucket;
    *out = &m->base;
    return SG_OK;
}
