/*
 * store_cluster.c -- the Redis Cluster backend: a small routing layer on
 * hiredis (Debian ships no cluster client) under the Redis store of
 * store_redis.c, which keeps the key layout, groups and batches.
 *
 * Owns: key -> hash slot (CRC16-XMODEM of the key, or of its {hash tag},
 * mod 16384, as the Redis Cluster specification defines), the slot map read
 * with CLUSTER SLOTS, one connection per master, and the MOVED / ASK /
 * TRYAGAIN redirects (MOVED patches the map and schedules a refresh; ASK
 * resends once to the importing node after ASKING).  A pipeline is split
 * by node, sent to every node before any reply is read, and retried for
 * redirected units only.
 */
#include "store_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSLOTS 16384
#define MAX_ROUNDS 6

/* ------------------------------------------------------------ key slots */

/* CRC16-CCITT in the XMODEM variant (polynomial 0x1021, initial value 0,
 * no reflection, no final xor): the checksum the Redis Cluster
 * specification uses for key slots; CRC16("123456789") = 0x31C3. */
static uint16_t crc16_table[256];

static void crc16_init(void) {
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int b = 0; b < 8; b++)
            c = (uint16_t)(c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1);
        crc16_table[i] = c;
    }
}

uint16_t sg__crc16_xmodem(const void *buf, size_t len) {
    if (crc16_table[1] == 0) crc16_init();
    const unsigned char *p = buf;
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ p[i]) & 0xff]);
    return crc;
}

int sg__cluster_keyslot(const void *key, size_t klen) {
    const char *k = key;
    const char *open = memchr(k, '{', klen);
    if (open) {
        size_t rest = klen - (size_t)(open - k) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1) {
            k = open + 1;
            klen = (size_t)(close - k);
        }
    }
    return sg__crc16_xmodem(k, klen) & (NSLOTS - 1);
}

/* ------------------------------------------------------------ nodes */

typedef struct cnode {
    char *host;
    int port;
    redisContext *c;
    int64_t last_fail;      /* clock of the last failed connect, or 0 */
} cnode;

typedef struct cluster_link {
    sg_rlink base;
    cnode *node;
    size_t nnode, capnode;
    int16_t slot[NSLOTS];   /* master's index in node[], or -1 */
    bool stale;             /* refresh the map before the next send */
    int64_t last_refresh;
    uint64_t moved, asks, refreshes;
} cluster_link;

static int find_node(cluster_link *l, const char *host, size_t hlen,
                     int port) {
    for (size_t i = 0; i < l->nnode; i++)
        if (l->node[i].port == port && strlen(l->node[i].host) == hlen &&
            !memcmp(l->node[i].host, host, hlen))
            return (int)i;
    if (l->nnode >= INT16_MAX) return -1;
    if (l->nnode == l->capnode) {
        size_t cap = l->capnode ? l->capnode * 2 : 8;
        cnode *n = sg__realloc(l->node, cap * sizeof *n);
        if (!n) return -1;
        l->node = n;
        l->capnode = cap;
    }
    cnode *n = &l->node[l->nnode];
    *n = (cnode){.host = sg__strndup(host, hlen), .port = port};
    if (!n->host) return -1;
    return (int)l->nnode++;
}

static bool node_connected(cnode *n, char *err, size_t el) {
    if (n->c) return true;
    int64_t now = sg__redis_clock_ms();
    if (n->last_fail && now - n->last_fail < SG_REDIS_RETRY_MS) {
        snprintf(err, el, "redis-cluster %s:%d: down", n->host, n->port);
        return false;
    }
    n->c = sg__redis_connect(n->host, n->port, err, el);
    n->last_fail = n->c ? 0 : now;
    return n->c != NULL;
}

static void node_drop(cnode *n, char *err, size_t el) {
    snprintf(err, el, "redis-cluster %s:%d: %s", n->host, n->port,
             n->c->errstr[0] ? n->c->errstr : "connection lost");
    redisFree(n->c);
    n->c = NULL;
    n->last_fail = sg__redis_clock_ms();
}

/* "host:port" as CLUSTER SLOTS / MOVED give it; the last ':' splits. */
static int node_of_addr(cluster_link *l, const char *addr, size_t len) {
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        if (addr[i] == ':') colon = addr + i;
    if (!colon) return -1;
    int port = atoi(colon + 1);
    size_t hlen = (size_t)(colon - addr);
    if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
        addr++;
        hlen -= 2;
    }
    if (port <= 0 || port > 65535 || hlen == 0) return -1;
    return find_node(l, addr, hlen, port);
}

/* ------------------------------------------------------------ slot map */

/* One entry of CLUSTER SLOTS: [start, end, [ip, port, id, ...], replicas]. */
static bool map_entry(cluster_link *l, const redisReply *e, size_t via,
                      int16_t *slot) {
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3) return false;
    const redisReply *a = e->element[0], *b = e->element[1],
                     *m = e->element[2];
    if (a->type != REDIS_REPLY_INTEGER || b->type != REDIS_REPLY_INTEGER ||
        m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
        m->element[0]->type != REDIS_REPLY_STRING ||
        m->element[1]->type != REDIS_REPLY_INTEGER)
        return false;
    long long lo = a->integer, hi = b->integer;
    if (lo < 0 || hi >= NSLOTS || lo > hi) return false;
    const char *host = m->element[0]->str;
    size_t hlen = m->element[0]->len;
    if (hlen == 0 || (hlen == 1 && host[0] == '?')) { /* unknown: as asked */
        host = l->node[via].host; /* find_node may move node[]: re-read */
        hlen = strlen(host);
    }
    int ni = find_node(l, host, hlen, (int)m->element[1]->integer);
    if (ni < 0) return false;
    for (long long s = lo; s <= hi; s++) slot[s] = (int16_t)ni;
    return true;
}

static bool load_map(cluster_link *l, size_t via, char *err, size_t el) {
    redisReply *r = redisCommand(l->node[via].c, "CLUSTER SLOTS");
    if (!r) {
        node_drop(&l->node[via], err, el);
        return false;
    }
    bool ok = r->type == REDIS_REPLY_ARRAY && r->elements > 0;
    int16_t *slot = sg__malloc(sizeof l->slot);
    if (!slot) ok = false;
    if (slot) memset(slot, 0xff, sizeof l->slot); /* all -1 */
    for (size_t i = 0; ok && i < r->elements; i++)
        ok = map_entry(l, r->element[i], via, slot);
    if (ok) memcpy(l->slot, slot, sizeof l->slot);
    else
        snprintf(err, el, "redis-cluster %s:%d: CLUSTER SLOTS: %s",
                 l->node[via].host, l->node[via].port,
                 r->type == REDIS_REPLY_ERROR ? r->str : "no slots");
    sg__free(slot);
    freeReplyObject(r);
    return ok;
}

/* Read the slot map from the first node that answers. */
static int refresh_map(cluster_link *l, char *err, size_t el) {
    l->last_refresh = sg__redis_clock_ms();
    for (size_t i = 0; i < l->nnode; i++) {
        cnode *n = &l->node[i];
        if (!node_connected(n, err, el)) continue;
        if (load_map(l, i, err, el)) {
            l->stale = false;
            l->refreshes++;
            return SG_OK;
        }
    }
    return SG_ESTORE;
}

/* ------------------------------------------------------------ sending */

static int route(cluster_link *l, sg_runit *u) {
    if (u->ask) return u->ask - 1;
    int n = u->slot >= 0 ? l->slot[u->slot] : -1;
    return n >= 0 ? n : 0; /* unknown: any node answers MOVED */
}

/* Send the units of pending[] routed to node ni, in order; then (second
 * call, reading) collect their replies.  A unit that could not be sent
 * (no connection) keeps err = SG_ESTORE and stays retryable. */
static void send_node(cluster_link *l, sg_rpipe *p, size_t *pending,
                      size_t np, int ni, char *err, size_t el) {
    cnode *n = &l->node[ni];
    bool up = node_connected(n, err, el);
    for (size_t i = 0; i < np; i++) {
        sg_runit *u = &p->unit[pending[i]];
        if (u->node != ni) continue;
        u->err = SG_ESTORE;
        if (up && sg__rpipe_append(p, u, n->c, u->ask != 0) == SG_OK)
            u->err = SG_OK;
        else if (up) {
            node_drop(n, err, el);
            up = false;
        }
    }
    if (!up) l->stale = true;
}

static void read_node(cluster_link *l, sg_rpipe *p, size_t *pending,
                      size_t np, int ni, char *err, size_t el) {
    cnode *n = &l->node[ni];
    for (size_t i = 0; i < np; i++) {
        sg_runit *u = &p->unit[pending[i]];
        if (u->node != ni || u->err) continue;
        if (!n->c || sg__rpipe_read(p, u, n->c, u->ask != 0)) {
            u->err = SG_ESTORE;
            u->node = -2; /* sent, fate unknown: never resent */
            if (n->c) node_drop(n, err, el);
            l->stale = true;
        }
    }
}

/* Look at a unit's reply: SG_OK done, 1 send again (redirected). */
static int redirected(cluster_link *l, sg_runit *u, bool *tryagain) {
    const redisReply *e = sg__rpipe_unit_error(u);
    u->ask = 0;
    if (!e) return SG_OK;
    bool moved = !strncmp(e->str, "MOVED ", 6), ask = !strncmp(e->str, "ASK ", 4);
    if (!strncmp(e->str, "TRYAGAIN", 8)) {
        *tryagain = true;
        sg__rpipe_unit_reset(u);
        return 1;
    }
    if (!moved && !ask) return SG_OK; /* a real error: the caller sees it */
    const char *sp = strchr(e->str + (moved ? 6 : 4), ' ');
    int slot = atoi(e->str + (moved ? 6 : 4));
    int ni = sp ? node_of_addr(l, sp + 1, strlen(sp + 1)) : -1;
    if (ni < 0 || slot < 0 || slot >= NSLOTS) return SG_OK;
    if (moved) {
        l->slot[slot] = (int16_t)ni;
        l->stale = true;
        l->moved++;
    } else {
        u->ask = ni + 1;
        l->asks++;
    }
    sg__rpipe_unit_reset(u);
    return 1;
}

/* One round: route, send to every node, read every node, keep in
 * pending[] the units to send again.  Returns the new count. */
static size_t round_trip(cluster_link *l, sg_rpipe *p, size_t *pending,
                         size_t np, char *err, size_t el) {
    for (size_t i = 0; i < np; i++) {
        sg_runit *u = &p->unit[pending[i]];
        u->node = route(l, u);
    }
    for (size_t ni = 0; ni < l->nnode; ni++)
        send_node(l, p, pending, np, (int)ni, err, el);
    for (size_t ni = 0; ni < l->nnode; ni++)
        read_node(l, p, pending, np, (int)ni, err, el);
    size_t keep = 0;
    bool tryagain = false;
    for (size_t i = 0; i < np; i++) {
        sg_runit *u = &p->unit[pending[i]];
        bool unsent = u->err && u->node >= 0;
        if (unsent || (!u->err && redirected(l, u, &tryagain)))
            pending[keep++] = pending[i];
    }
    if (tryagain) nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    return keep;
}

static int cluster_exec(sg_rlink *lk, sg_rpipe *p, char *err, size_t el) {
    cluster_link *l = (cluster_link *)lk;
    size_t *pending = sg__malloc((p->nunit ? p->nunit : 1) * sizeof *pending);
    if (!pending) return SG_ENOMEM;
    size_t np = p->nunit;
    for (size_t i = 0; i < np; i++) pending[i] = i;
    for (int round = 0; np > 0 && round < MAX_ROUNDS; round++) {
        if (l->stale &&
            sg__redis_clock_ms() - l->last_refresh >= SG_REDIS_RETRY_MS)
            refresh_map(l, err, el);
        np = round_trip(l, p, pending, np, err, el);
    }
    for (size_t i = 0; i < np; i++) { /* still redirected: give up */
        sg_runit *u = &p->unit[pending[i]];
        if (!u->err) snprintf(err, el, "redis-cluster: too many redirects");
        u->err = SG_ESTORE;
    }
    sg__free(pending);
    int rc = SG_OK;
    for (size_t i = 0; i < p->nunit; i++)
        if (p->unit[i].err) rc = SG_ESTORE;
    return rc;
}

static int cluster_slot(sg_rlink *lk, const void *key, size_t klen) {
    return sg__cluster_keyslot(key, klen);
}

/* ------------------------------------------------------------ stats */

static uint64_t used_memory(const redisReply *r) {
    const char *p = r && r->type == REDIS_REPLY_STRING
                        ? strstr(r->str, "used_memory:")
                        : NULL;
    return p ? strtoull(p + 12, NULL, 10) : 0;
}

static int cluster_stats(sg_rlink *lk, uint64_t *keys, uint64_t *bytes) {
    cluster_link *l = (cluster_link *)lk;
    char err[160];
    int rc = SG_OK;
    *keys = *bytes = 0;
    for (size_t ni = 0; ni < l->nnode; ni++) {
        bool master = false;
        for (int s = 0; s < NSLOTS && !master; s++) master = l->slot[s] == (int)ni;
        if (!master) continue;
        cnode *n = &l->node[ni];
        if (!node_connected(n, err, sizeof err)) {
            rc = SG_ESTORE;
            continue;
        }
        redisReply *a = redisCommand(n->c, "DBSIZE");
        redisReply *b = a ? redisCommand(n->c, "INFO memory") : NULL;
        if (a && a->type == REDIS_REPLY_INTEGER) *keys += (uint64_t)a->integer;
        *bytes += used_memory(b);
        if (!b) {
            node_drop(n, err, sizeof err);
            rc = SG_ESTORE;
        }
        if (a) freeReplyObject(a);
        if (b) freeReplyObject(b);
    }
    return rc;
}

static void cluster_free(sg_rlink *lk) {
    cluster_link *l = (cluster_link *)lk;
    for (size_t i = 0; i < l->nnode; i++) {
        if (l->node[i].c) redisFree(l->node[i].c);
        sg__free(l->node[i].host);
    }
    sg__free(l->node);
    sg__free(l);
}

/* ------------------------------------------------------------ open */

/* "host:port[,host:port...]" (IPv6 hosts in brackets) into seed nodes. */
static int parse_seeds(cluster_link *l, const char *seeds, char *err,
                       size_t el) {
    const char *p = seeds;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || node_of_addr(l, p, len) < 0) {
            snprintf(err, el, "redis-cluster: bad seed \"%.*s\" (want "
                     "host:port)", (int)(len > 64 ? 64 : len), p);
            return SG_EINVAL;
        }
        p += len + (end ? 1 : 0);
    }
    if (l->nnode == 0) {
        snprintf(err, el, "redis-cluster: no seed given");
        return SG_EINVAL;
    }
    return SG_OK;
}

int sg__redis_open_cluster(const char *seeds, sg_store **out, char *err,
                           size_t el) {
    if (!out) return SG_EINVAL;
    *out = NULL;
    if (!seeds) return SG_EINVAL;
    cluster_link *l = sg__calloc(1, sizeof *l);
    if (!l) return SG_ENOMEM;
    l->base = (sg_rlink){"redis-cluster", cluster_exec, cluster_slot,
                         cluster_stats, cluster_free};
    memset(l->slot, 0xff, sizeof l->slot);
    int rc = parse_seeds(l, seeds, err, el);
    if (!rc) rc = refresh_map(l, err, el);
    if (rc) {
        cluster_free(&l->base);
        return rc;
    }
    return sg__redis_store_new(&l->base, out);
}

int sg__store_cluster_new(const char *seeds, sg_store **out) {
    char err[160];
    return sg__redis_open_cluster(seeds, out, err, sizeof err);
}

void sg__store_cluster_counters(sg_store *s, uint64_t *moved, uint64_t *asks,
                                uint64_t *refreshes) {
    cluster_link *l = NULL;
    if (s && !strcmp(s->ops->name, "redis-cluster"))
        l = (cluster_link *)sg__redis_store_link(s);
    if (moved) *moved = l ? l->moved : 0;
    if (asks) *asks = l ? l->asks : 0;
    if (refreshes) *refreshes = l ? l->refreshes : 0;
}
