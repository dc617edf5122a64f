/*
 * store_redis.c -- the Redis backend of the state store (store.h): state
 * shared by many daemons through one Redis server, and the part of it that
 * the Redis Cluster backend (store_cluster.c) reuses.
 *
 * Owns the key layout (each key one Redis string: a tag, the expiry in
 * message time, the bytes; written with one PSETEX, read with MGET), the
 * group overlay (a group's writes are buffered, its reads see them, and
 * commit sends them in one MULTI/EXEC per hash slot), watched reads and
 * their turns, batches (all reads of a batch in one pipeline: one WATCH and
 * one MGET per slot), the command pipeline shared with the cluster layer
 * (formatted in RESP into one buffer per unit), and the single-server link.
 * Routing by hash slot, redirects and the slot map live in store_cluster.c.
 */
#include "store_redis.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MAX_KEY_BYTES 4096
#define MAX_VAL_BYTES (16u << 20)
#define CONNECT_TIMEOUT_MS 500
#define COMMAND_TIMEOUT_MS 2000

/* ================================================================ pipeline */

static bool grow_array(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need) n *= 2;
    void *q = sg__realloc(*p, n * elem);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

void sg__rpipe_unit_reset(sg_runit *u) {
    if (u->reply) freeReplyObject(u->reply);
    u->reply = NULL;
    u->err = SG_OK;
}

void sg__rpipe_clear(sg_rpipe *p) {
    for (size_t i = 0; i < p->nunit; i++) sg__rpipe_unit_reset(&p->unit[i]);
    for (size_t i = 0; i < p->ncmd; i++) p->cmd[i].reply = NULL;
    p->bytes.len = 0;
    p->narg = p->ncmd = p->nunit = 0;
    p->group = 0;
    p->err = SG_OK;
}

void sg__rpipe_free(sg_rpipe *p) {
    sg__rpipe_clear(p);
    sg__buf_free(&p->bytes);
    sg__free(p->arg);
    sg__free(p->cmd);
    sg__free(p->unit);
    sg__buf_free(&p->resp);
    memset(p, 0, sizeof *p);
}

static sg_runit *new_unit(sg_rpipe *p, int slot, bool atomic) {
    if (!grow_array((void **)&p->unit, &p->capunit, p->nunit + 1,
                    sizeof *p->unit)) {
        p->err = SG_ENOMEM;
        return NULL;
    }
    sg_runit *u = &p->unit[p->nunit++];
    *u = (sg_runit){.slot = slot, .cmd0 = p->ncmd, .atomic = atomic};
    return u;
}

void sg__rpipe_group(sg_rpipe *p, int slot) {
    if (p->err || p->group) return;
    if (new_unit(p, slot, true)) p->group = (int)p->nunit;
}

void sg__rpipe_group_end(sg_rpipe *p) {
    if (p->err || !p->group) return;
    sg_runit *u = &p->unit[p->group - 1];
    if (u->ncmd <= 1) u->atomic = false;
    if (u->ncmd == 0) p->nunit--;
    p->group = 0;
}

void sg__rpipe_start(sg_rpipe *p) {
    if (p->err) return;
    if (!grow_array((void **)&p->cmd, &p->capcmd, p->ncmd + 1,
                    sizeof *p->cmd)) {
        p->err = SG_ENOMEM;
        return;
    }
    p->cmd[p->ncmd] = (sg_rcmd){.arg0 = p->narg};
}

void sg__rpipe_arg(sg_rpipe *p, const void *b, size_t n) {
    if (p->err) return;
    size_t off = p->bytes.len;
    if (!grow_array((void **)&p->arg, &p->caparg, p->narg + 1,
                    sizeof *p->arg) ||
        sg__buf_append(&p->bytes, b, n)) {
        p->err = SG_ENOMEM;
        return;
    }
    p->arg[p->narg++] = (sg_rarg){off, n};
    p->cmd[p->ncmd].argc++;
}

void sg__rpipe_arg_str(sg_rpipe *p, const char *s) {
    sg__rpipe_arg(p, s, strlen(s));
}

void sg__rpipe_arg_i64(sg_rpipe *p, int64_t v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    sg__rpipe_arg(p, tmp, (size_t)n);
}

size_t sg__rpipe_end(sg_rpipe *p, int slot) {
    if (p->err) return 0;
    size_t ci = p->ncmd++;
    if (p->group) {
        p->unit[p->group - 1].ncmd++;
    } else {
        sg_runit *u = new_unit(p, slot, false);
        if (u) {
            u->cmd0 = ci;
            u->ncmd = 1;
        }
    }
    return ci;
}

/* Room for `more` bytes at the end of b. */
static bool resp_room(sg_buf *b, size_t more) {
    if (b->len + more <= b->cap) return true;
    size_t n = b->cap ? b->cap * 2 : 4096;
    while (n < b->len + more) n *= 2;
    char *q = sg__realloc(b->p, n);
    if (!q) return false;
    b->p = q;
    b->cap = n;
    return true;
}

/* "<mark><n>\r\n" at w; returns the bytes written (at most 23). */
static size_t resp_head(char *w, char mark, size_t n) {
    char d[20];
    size_t k = 0, len = 0;
    do d[k++] = (char)('0' + n % 10); while ((n /= 10));
    w[len++] = mark;
    while (k) w[len++] = d[--k];
    w[len++] = '\r';
    w[len++] = '\n';
    return len;
}

/* One command in RESP (an array of bulk strings) at the end of b. */
static bool resp_cmd(const sg_rpipe *p, const sg_rcmd *c, sg_buf *b) {
    size_t need = 23;
    for (int i = 0; i < c->argc; i++) need += 25 + p->arg[c->arg0 + (size_t)i].len;
    if (!resp_room(b, need)) return false;
    char *w = b->p + b->len;
    w += resp_head(w, '*', (size_t)c->argc);
    for (int i = 0; i < c->argc; i++) {
        const sg_rarg *a = &p->arg[c->arg0 + (size_t)i];
        w += resp_head(w, '$', a->len);
        if (a->len) memcpy(w, p->bytes.p + a->off, a->len);
        w += a->len;
        *w++ = '\r';
        *w++ = '\n';
    }
    b->len = (size_t)(w - b->p);
    return true;
}

static bool resp_lit(sg_buf *b, const char *s) {
    size_t n = strlen(s);
    if (!resp_room(b, n)) return false;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return true;
}

#define RESP_ASKING "*1\r\n$6\r\nASKING\r\n"
#define RESP_MULTI "*1\r\n$5\r\nMULTI\r\n"
#define RESP_EXEC "*1\r\n$4\r\nEXEC\r\n"

/* The unit's commands, in RESP, into p->resp, which hiredis then copies
 * once: no allocation per command (hiredis's own formatter makes two). */
int sg__rpipe_append(sg_rpipe *p, sg_runit *u, redisContext *c, bool asking) {
    sg_buf *b = &p->resp;
    bool ok = true;
    b->len = 0;
    if (asking) ok = resp_lit(b, RESP_ASKING);
    if (ok && u->atomic) ok = resp_lit(b, RESP_MULTI);
    for (size_t i = 0; ok && i < u->ncmd; i++)
        ok = resp_cmd(p, &p->cmd[u->cmd0 + i], b);
    if (ok && u->atomic) ok = resp_lit(b, RESP_EXEC);
    if (!ok) return SG_ENOMEM;
    return redisAppendFormattedCommand(c, b->p, b->len) == REDIS_OK
               ? SG_OK
               : SG_ENOMEM;
}

static redisReply *get_reply(redisContext *c) {
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK) return NULL;
    return r;
}

/* Read MULTI's reply, the queued replies and EXEC's; keep EXEC's array, or
 * the first error a queued command got (MOVED, ASK ...) when it aborted. */
static int read_atomic(sg_rpipe *p, sg_runit *u, redisContext *c) {
    redisReply *r = get_reply(c), *first_err = NULL;
    if (!r) return SG_ESTORE;
    freeReplyObject(r);
    for (size_t i = 0; i < u->ncmd; i++) {
        if (!(r = get_reply(c))) goto broken;
        if (r->type == REDIS_REPLY_ERROR && !first_err) first_err = r;
        else freeReplyObject(r);
    }
    if (!(r = get_reply(c))) goto broken;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == u->ncmd) {
        if (first_err) freeReplyObject(first_err);
        u->reply = r;
        for (size_t i = 0; i < u->ncmd; i++)
            p->cmd[u->cmd0 + i].reply = r->element[i];
        return SG_OK;
    }
    if (first_err) {
        freeReplyObject(r);
        r = first_err;
    }
    u->reply = r;
    return SG_OK;
broken:
    if (first_err) freeReplyObject(first_err);
    return SG_ESTORE;
}

int sg__rpipe_read(sg_rpipe *p, sg_runit *u, redisContext *c, bool asking) {
    if (asking) {
        redisReply *r = get_reply(c);
        if (!r) return SG_ESTORE;
        freeReplyObject(r);
    }
    if (u->atomic) return read_atomic(p, u, c);
    redisReply *r = get_reply(c);
    if (!r) return SG_ESTORE;
    u->reply = r;
    p->cmd[u->cmd0].reply = r;
    return SG_OK;
}

const redisReply *sg__rpipe_unit_error(const sg_runit *u) {
    return u->reply && u->reply->type == REDIS_REPLY_ERROR ? u->reply : NULL;
}

/* ================================================================ connect */

int64_t sg__redis_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ignore_sigpipe_once(void) {
    static bool done;
    if (done) return;
    done = true;
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
        !(old.sa_flags & SA_SIGINFO))
        signal(SIGPIPE, SIG_IGN);
}

redisContext *sg__redis_connect(const char *host, int port, char *err,
                                size_t errlen) {
    ignore_sigpipe_once();
    struct timeval ct = {0, CONNECT_TIMEOUT_MS * 1000};
    struct timeval rt = {COMMAND_TIMEOUT_MS / 1000,
                         (COMMAND_TIMEOUT_MS % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host, port, ct);
    if (!c || c->err) {
        snprintf(err, errlen, "redis %s:%d: %s", host, port,
                 c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, rt);
    redisEnableKeepAlive(c);
    /* Keep the reply buffer between pipelines (it stays at the size of the
     * largest reply, a batch commit's: ~100 KiB): by default hiredis frees
     * it whenever it empties past 16 KiB, and a daemon's batch replies are
     * larger, so every round trip freed and regrew it. */
    if (c->reader) c->reader->maxbuf = 0;
    return c;
}

/* ================================================================ one server */

typedef struct single_link {
    sg_rlink base;
    char *host;
    int port;
    redisContext *c;
    int64_t last_fail;  /* clock of the last failed connect, or 0 */
} single_link;

static bool single_connected(single_link *s, char *err, size_t el) {
    if (s->c) return true;
    int64_t now = sg__redis_clock_ms();
    if (s->last_fail && now - s->last_fail < SG_REDIS_RETRY_MS) {
        snprintf(err, el, "redis %s:%d: down, next try in %d ms", s->host,
                 s->port, (int)(SG_REDIS_RETRY_MS - (now - s->last_fail)));
        return false;
    }
    s->c = sg__redis_connect(s->host, s->port, err, el);
    s->last_fail = s->c ? 0 : now;
    return s->c != NULL;
}

static void single_drop(single_link *s, char *err, size_t el) {
    snprintf(err, el, "redis %s:%d: %s", s->host, s->port,
             s->c->errstr[0] ? s->c->errstr : "connection lost");
    redisFree(s->c);
    s->c = NULL;
    s->last_fail = sg__redis_clock_ms();
}

static int single_exec(sg_rlink *lk, sg_rpipe *p, char *err, size_t el) {
    single_link *s = (single_link *)lk;
    size_t i = 0;
    if (!single_connected(s, err, el)) goto failed;
    for (size_t j = 0; j < p->nunit; j++) {
        if (sg__rpipe_append(p, &p->unit[j], s->c, false)) {
            single_drop(s, err, el); /* output buffer half written */
            goto failed;
        }
    }
    for (; i < p->nunit; i++) {
        if (sg__rpipe_read(p, &p->unit[i], s->c, false)) {
            single_drop(s, err, el);
            goto failed;
        }
    }
    return SG_OK;
failed:
    for (; i < p->nunit; i++) p->unit[i].err = SG_ESTORE;
    return SG_ESTORE;
}

static int single_slot(sg_rlink *lk, const void *key, size_t klen) {
    return 0;
}

/* used_memory from the text INFO memory returns. */
static uint64_t info_field(const redisReply *r, const char *field) {
    if (!r || r->type != REDIS_REPLY_STRING) return 0;
    const char *p = strstr(r->str, field);
    return p ? strtoull(p + strlen(field), NULL, 10) : 0;
}

static int single_stats(sg_rlink *lk, uint64_t *keys, uint64_t *bytes) {
    single_link *s = (single_link *)lk;
    sg_rpipe p = {0};
    char err[128];
    sg__rpipe_start(&p);
    sg__rpipe_arg_str(&p, "DBSIZE");
    sg__rpipe_end(&p, -1);
    sg__rpipe_start(&p);
    sg__rpipe_arg_str(&p, "INFO");
    sg__rpipe_arg_str(&p, "memory");
    sg__rpipe_end(&p, -1);
    int rc = p.err ? p.err : single_exec(lk, &p, err, sizeof err);
    if (!rc) {
        const redisReply *n = p.cmd[0].reply;
        *keys = n && n->type == REDIS_REPLY_INTEGER ? (uint64_t)n->integer : 0;
        *bytes = info_field(p.cmd[1].reply, "used_memory:");
    }
    sg__rpipe_free(&p);
    (void)s;
    return rc;
}

static void single_free(sg_rlink *lk) {
    single_link *s = (single_link *)lk;
    if (s->c) redisFree(s->c);
    sg__free(s->host);
    sg__free(s);
}

/* ================================================================ overlay */

enum { K_ABSENT = 0, K_VALUE, K_COUNTER };

/* The stored form of a key (docs/storage.md "Redis"): one Redis string,
 *   byte 0      'V' (a value) or 'N' (a counter)
 *   bytes 1..8  expire_at_ms in message time, big-endian; 0 = never
 *   the rest    the value's bytes, or the counter in decimal ASCII,
 * so a read is one GET (one MGET for many keys), a write one PSETEX (the
 * wall-clock TTL; SET for a key that never expires), and only a counter's
 * relative add, which must happen on the server, takes a small script
 * (ADD_LUA). */
#define HDR_BYTES 9
#define TAG_VALUE 'V'
#define TAG_COUNTER 'N'

/* Turns: after a watched key's commit conflicted, the retry takes the
 * key's turn -- "<key>\0turn", SET NX PX TURN_MS, same hash slot -- with
 * its read, and touches the key, so a group in flight that watched it is
 * refused; every watched read also reads the turn key, and a group that
 * finds another's turn commits nothing and waits (up to TURN_WAIT_MS)
 * until it ends.  So a message that keeps losing the race to the other
 * daemons wins on its next attempt (docs/storage.md "Many daemons").  A
 * turn outlives a dead holder by at most TURN_MS; the wait is shorter, so
 * a holder is never refused for its own turn timing out under a waiter. */
#define TURN_SUFFIX "\0turn"
#define TURN_LEN (sizeof TURN_SUFFIX - 1)
#define TURN_MS 1000
#define TURN_WAIT_MS 250
#define MAX_ESC 8           /* keys remembered to take the turn next time */

/* One key the open group (or batch) has touched: what this group sees for
 * it and what its commit must write. */
typedef struct ovl {
    uint64_t hash;
    size_t klen, idx, pos;  /* key bytes; order in list; slot in table */
    int slot;               /* hash slot (cluster) */
    uint8_t kind;           /* K_*, valid when known */
    bool known;             /* state read from Redis or fully written */
    bool stale;             /* Redis holds an entry expired at now */
    bool queued, covered;   /* batch pass 1 scratch */
    bool guarded;           /* commit scratch: its slot has a watched key */
    bool overwrite;         /* commit rewrites the key whole */
    bool dirty;             /* commit has something to write */
    bool exp_set;           /* relative counter: expiry changed */
    bool watch;             /* send WATCH with the key's first read */
    bool watched;           /* WATCH went out with its read (this group) */
    bool turn;              /* its turn key is on its slot: turns work */
    bool take;              /* take the turn with the read */
    bool mine;              /* this group holds the turn; commit ends it */
    int64_t exp, n, delta, now, n_est;
    size_t incr_cmd;        /* the add's command index + 1, or 0 */
    size_t turn_cmd;        /* the GET of its turn key (cluster), + 1 */
    char *val;
    size_t vlen;
    unsigned char key[];
} ovl;

typedef struct rs_store {
    sg_store base;
    sg_rlink *link;
    sg_rpipe pipe;
    int depth;
    ovl **tab;              /* open addressing, power of two */
    size_t tabcap;
    ovl **list;             /* insertion order */
    size_t n, cap;
    size_t nwatched;        /* entries with WATCH sent in the open group */
    bool watch_lost;        /* a pipeline failed while watches were held:
                               the connection (and its WATCHes) may be new */
    const ovl *foreign;     /* a watched key whose turn another holds: the
                               group cannot commit (waits, then conflicts) */
    uint64_t esc[MAX_ESC];  /* hashes of watched keys that conflicted */
    size_t nesc;            /* ring position in esc[] */
    char token[20];         /* this store's turn token */
    bool turn_in_mget;      /* read turn keys in the MGET (one server); a
                               cluster GETs them alone, since a multi-key
                               read of a migrating slot gets TRYAGAIN */
    char err[256];
} rs_store;

static bool key_ok(const void *key, size_t klen) {
    return key != NULL && klen > 0 && klen <= MAX_KEY_BYTES;
}

static void ovl_clear(rs_store *r) {
    for (size_t i = 0; i < r->n; i++) {
        r->tab[r->list[i]->pos] = NULL;
        sg__free(r->list[i]->val);
        sg__free(r->list[i]);
    }
    r->n = 0;
    r->nwatched = 0;
    r->watch_lost = false;
    r->foreign = NULL;
}

static bool ovl_rehash(rs_store *r) {
    size_t cap = r->tabcap ? r->tabcap * 2 : 64;
    ovl **t = sg__calloc(cap, sizeof *t);
    if (!t) return false;
    for (size_t i = 0; i < r->n; i++) {
        ovl *e = r->list[i];
        size_t j = e->hash & (cap - 1);
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = e;
        e->pos = j;
    }
    sg__free(r->tab);
    r->tab = t;
    r->tabcap = cap;
    return true;
}

/* The overlay entry of key, created (unknown state) when absent; NULL when
 * out of memory.  Finding an existing entry never allocates. */
static ovl *ovl_get(rs_store *r, const void *key, size_t klen) {
    if (!r->tabcap && !ovl_rehash(r)) return NULL;
    uint64_t h = XXH3_64bits(key, klen);
    size_t j = h & (r->tabcap - 1);
    for (ovl *e; (e = r->tab[j]); j = (j + 1) & (r->tabcap - 1))
        if (e->hash == h && e->klen == klen && !memcmp(e->key, key, klen))
            return e;
    if ((r->n + 1) * 2 > r->tabcap) {
        if (!ovl_rehash(r)) return NULL;
        j = h & (r->tabcap - 1);
        while (r->tab[j]) j = (j + 1) & (r->tabcap - 1);
    }
    if (!grow_array((void **)&r->list, &r->cap, r->n + 1, sizeof *r->list))
        return NULL;
    ovl *e = sg__calloc(1, sizeof *e + klen);
    if (!e) return NULL;
    e->hash = h;
    e->klen = klen;
    e->idx = r->n;
    e->pos = j;
    e->slot = r->link->slot(r->link, key, klen);
    memcpy(e->key, key, klen);
    r->tab[j] = e;
    r->list[r->n++] = e;
    return e;
}

static bool ovl_live(const ovl *e, int64_t now) {
    return e->kind != K_ABSENT && (e->exp == 0 || e->exp > now);
}

/* ------------------------------------------------------------ encoding */

typedef struct decoded {
    uint8_t kind;
    bool stale;
    int64_t exp, n;
    const char *val;
    size_t vlen;
} decoded;

static void put_be64(unsigned char *b, int64_t v) {
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8) b[i] = (unsigned char)u;
}

static int64_t get_be64(const char *s) {
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = u << 8 | (unsigned char)s[i];
    return (int64_t)u;
}

/* The header of a stored entry: tag, then the deadline (a negative one,
 * which no caller gives, is stored as 1: long expired). */
static void header(unsigned char *h, char tag, int64_t exp) {
    h[0] = (unsigned char)tag;
    put_be64(h + 1, exp < 0 ? 1 : exp);
}

static bool parse_dec(const char *s, size_t len, int64_t *out) {
    if (len == 0 || len > 20) return false;
    char tmp[24], *end;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    *out = strtoll(tmp, &end, 10);
    return *end == '\0' && errno == 0;
}

/* Decode one key's reply (GET, or an element of MGET) as seen at now. */
static int decode(rs_store *r, const redisReply *v, int64_t now, decoded *d) {
    *d = (decoded){K_ABSENT, false, 0, 0, NULL, 0};
    if (v && v->type == REDIS_REPLY_NIL) return SG_OK;
    if (!v || v->type != REDIS_REPLY_STRING) {
        snprintf(r->err, sizeof r->err, "%s: unexpected reply to GET%s%s",
                 r->link->name, v && v->type == REDIS_REPLY_ERROR ? ": " : "",
                 v && v->type == REDIS_REPLY_ERROR ? v->str : "");
        return SG_ESTORE;
    }
    if (v->len < HDR_BYTES ||
        (v->str[0] != TAG_VALUE && v->str[0] != TAG_COUNTER))
        goto bad;
    int64_t exp = get_be64(v->str + 1);
    if (exp != 0 && exp <= now) {
        d->stale = true;
        return SG_OK;
    }
    d->exp = exp;
    if (v->str[0] == TAG_COUNTER) {
        if (!parse_dec(v->str + HDR_BYTES, v->len - HDR_BYTES, &d->n)) goto bad;
        d->kind = K_COUNTER;
    } else {
        d->kind = K_VALUE;
        d->val = v->str + HDR_BYTES;
        d->vlen = v->len - HDR_BYTES;
    }
    return SG_OK;
bad:
    snprintf(r->err, sizeof r->err, "%s: malformed entry", r->link->name);
    return SG_ESTORE;
}

static int copy_out(const decoded *d, void *buf, size_t cap, size_t *vlen) {
    if (d->kind == K_ABSENT) return SG_ENOTFOUND;
    const void *src = d->val;
    size_t n = d->vlen;
    if (d->kind == K_COUNTER) {
        src = &d->n;
        n = sizeof d->n;
    }
    if (vlen) *vlen = n;
    if (buf) memcpy(buf, src, n < cap ? n : cap);
    return SG_OK;
}

/* One argument made of a then b (a stored entry, a turn key). */
static void arg_cat(sg_rpipe *p, const void *a, size_t an, const void *b,
                    size_t bn) {
    sg__rpipe_arg(p, a, an);
    if (p->err || !bn) return;
    if (sg__buf_append(&p->bytes, b, bn)) {
        p->err = SG_ENOMEM;
        return;
    }
    p->arg[p->narg - 1].len += bn;
}

static void arg_turn(sg_rpipe *p, const ovl *e) {
    arg_cat(p, e->key, e->klen, TURN_SUFFIX, TURN_LEN);
}

static int run_pipe(rs_store *r) {
    if (r->pipe.err) return r->pipe.err;
    int rc = r->link->exec(r->link, &r->pipe, r->err, sizeof r->err);
    if (rc && r->nwatched) r->watch_lost = true;
    return rc;
}

static void cmd_key(sg_rpipe *p, const char *verb, const ovl *e) {
    sg__rpipe_start(p);
    sg__rpipe_arg_str(p, verb);
    sg__rpipe_arg(p, e->key, e->klen);
}

/* ------------------------------------------------------------ turns */

static bool esc_has(const rs_store *r, uint64_t h) {
    for (size_t i = 0; i < MAX_ESC; i++)
        if (r->esc[i] == h && h) return true;
    return false;
}

static void esc_set(rs_store *r, uint64_t h, bool on) {
    for (size_t i = 0; i < MAX_ESC; i++)
        if (r->esc[i] == h) r->esc[i] = 0;
    if (on) r->esc[r->nesc++ % MAX_ESC] = h;
}

/* Whether e's turn key hashes to e's slot (always on one server; on a
 * cluster when the key has a {hash tag}, as every account key does). */
static bool turn_slot_ok(rs_store *r, const ovl *e) {
    char stack[512];
    char *k = e->klen + TURN_LEN <= sizeof stack ? stack
                                                  : sg__malloc(e->klen + TURN_LEN);
    if (!k) return false;
    memcpy(k, e->key, e->klen);
    memcpy(k + e->klen, TURN_SUFFIX, TURN_LEN);
    bool ok = r->link->slot(r->link, k, e->klen + TURN_LEN) == e->slot;
    if (k != stack) sg__free(k);
    return ok;
}

/* End the turns this group holds, where still ours (a script compares the
 * token: a turn that timed out may be another's by now). */
#define END_TURN_LUA \
    "if redis.call('GET',KEYS[1])==ARGV[1] then redis.call('DEL',KEYS[1]) end"

static void end_turns(rs_store *r) {
    sg_rpipe *p = &r->pipe;
    sg__rpipe_clear(p);
    for (size_t i = 0; i < r->n; i++) {
        ovl *e = r->list[i];
        if (!e->mine) continue;
        e->mine = false;
        sg__rpipe_start(p);
        sg__rpipe_arg_str(p, "EVAL");
        sg__rpipe_arg_str(p, END_TURN_LUA);
        sg__rpipe_arg_str(p, "1");
        arg_turn(p, e);
        sg__rpipe_arg_str(p, r->token);
        sg__rpipe_end(p, e->slot);
    }
    if (p->nunit) run_pipe(r); /* on failure the turn times out */
    sg__rpipe_clear(p);
}

/* Wait until the turn another holds on r->foreign ends (or TURN_WAIT_MS):
 * polled with EXISTS, 0.2 ms apart at first, then up to 1.6 ms. */
static void wait_turn(rs_store *r) {
    const ovl *e = r->foreign;
    int64_t end = sg__redis_clock_ms() + TURN_WAIT_MS;
    long pause_us = 200;
    sg_rpipe *p = &r->pipe;
    while (sg__redis_clock_ms() < end) {
        sg__rpipe_clear(p);
        sg__rpipe_start(p);
        sg__rpipe_arg_str(p, "EXISTS");
        arg_turn(p, e);
        sg__rpipe_end(p, e->slot);
        bool held = run_pipe(r) == SG_OK && p->cmd[0].reply &&
                    p->cmd[0].reply->type == REDIS_REPLY_INTEGER &&
                    p->cmd[0].reply->integer > 0;
        sg__rpipe_clear(p);
        if (!held) return;
        nanosleep(&(struct timespec){0, pause_us * 1000}, NULL);
        if (pause_us < 1000) pause_us *= 2;
    }
}

/* ------------------------------------------------------------ reads */

static int by_slot_then_idx(const void *a, const void *b) {
    const ovl *x = *(ovl *const *)a, *y = *(ovl *const *)b;
    if (x->slot != y->slot) return x->slot < y->slot ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Take the turn of KEYS[2] (turn key KEYS[1], token ARGV[1], for ARGV[2]
 * ms) if nobody holds it, and then touch KEYS[2] -- rewrite it with its
 * own value, or create and delete it when absent -- which refuses the
 * EXEC of every group that watched it before.  (Watching the turn key as
 * well would do the same, but Redis 7.0 checks a connection's watched keys
 * one by one at each WATCH: twice the keys cost four times the time in a
 * daemon's batch group.) */
#define TAKE_TURN_LUA                                                          \
    "if redis.call('SET',KEYS[1],ARGV[1],'NX','PX',ARGV[2]) then "             \
    "local v=redis.call('GET',KEYS[2]) "                                       \
    "if v then redis.call('SET',KEYS[2],v,'KEEPTTL') "                         \
    "else redis.call('SET',KEYS[2],'') redis.call('DEL',KEYS[2]) end end"

/* The commands that read es[0..n) (sorted by slot): per slot, the turn
 * takes of its watched entries (TAKE_TURN_LUA), then one WATCH of all of
 * them, on a cluster followed by a GET of each one's turn key; then one
 * MGET per hash slot -- one MGET on one server, with a watched key's turn
 * key next to it.  @return the number of commands before the first MGET. */
static size_t add_reads(rs_store *r, ovl **es, size_t n) {
    sg_rpipe *p = &r->pipe;
    for (size_t i = 0, j; i < n; i = j) {
        size_t nw = 0;
        for (j = i; j < n && es[j]->slot == es[i]->slot; j++) {
            ovl *e = es[j];
            if (!e->watch) continue;
            nw++;
            if (!e->take) continue;
            sg__rpipe_start(p);
            sg__rpipe_arg_str(p, "EVAL");
            sg__rpipe_arg_str(p, TAKE_TURN_LUA);
            sg__rpipe_arg_str(p, "2");
            arg_turn(p, e);
            sg__rpipe_arg(p, e->key, e->klen);
            sg__rpipe_arg_str(p, r->token);
            sg__rpipe_arg_i64(p, TURN_MS);
            sg__rpipe_end(p, e->slot);
        }
        if (!nw) continue;
        sg__rpipe_start(p);
        sg__rpipe_arg_str(p, "WATCH");
        for (size_t k = i; k < j; k++)
            if (es[k]->watch) sg__rpipe_arg(p, es[k]->key, es[k]->klen);
        sg__rpipe_end(p, es[i]->slot);
        for (size_t k = i; k < j && !r->turn_in_mget; k++) {
            if (!es[k]->watch || !es[k]->turn) continue;
            sg__rpipe_start(p);
            sg__rpipe_arg_str(p, "GET");
            arg_turn(p, es[k]);
            es[k]->turn_cmd = sg__rpipe_end(p, es[k]->slot) + 1;
        }
    }
    size_t nw = p->ncmd;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && es[i]->slot == es[i - 1]->slot) continue;
        sg__rpipe_start(p);
        sg__rpipe_arg_str(p, "MGET");
        for (size_t j = i; j < n && es[j]->slot == es[i]->slot; j++) {
            sg__rpipe_arg(p, es[j]->key, es[j]->klen);
            if (es[j]->watch && es[j]->turn && r->turn_in_mget)
                arg_turn(p, es[j]);
        }
        sg__rpipe_end(p, es[i]->slot);
    }
    return nw;
}

/* Take in what Redis holds for e. */
static int take_in(rs_store *r, ovl *e, const redisReply *v, int64_t now) {
    decoded d;
    int rc = decode(r, v, now, &d);
    if (rc) return rc;
    if (d.kind == K_VALUE && !(e->val = sg__malloc(d.vlen ? d.vlen : 1)))
        return SG_ENOMEM;
    if (d.kind == K_VALUE) memcpy(e->val, d.val, d.vlen);
    e->vlen = d.vlen;
    e->kind = d.kind;
    e->stale = d.stale;
    e->exp = d.exp;
    e->n = d.n;
    e->known = true;
    return SG_OK;
}

/* A watched entry's WATCH went out and its turn key read t: ours, free,
 * or another's (then the group cannot commit). */
static void note_turn(rs_store *r, ovl *e, const redisReply *t) {
    e->watch = false;
    e->watched = true;
    r->nwatched++;
    if (!e->turn || !t || t->type != REDIS_REPLY_STRING) return;
    if (t->len == strlen(r->token) && !memcmp(t->str, r->token, t->len))
        e->mine = true;
    else if (!r->foreign)
        r->foreign = e;
}

static int watch_replies_ok(rs_store *r, size_t ncmd) {
    for (size_t ci = 0; ci < ncmd; ci++) {
        const redisReply *w = r->pipe.cmd[ci].reply;
        if (!w || w->type == REDIS_REPLY_ERROR) {
            snprintf(r->err, sizeof r->err, "%s: WATCH: %s", r->link->name,
                     w ? w->str : "no reply");
            return SG_ESTORE;
        }
    }
    return SG_OK;
}

/* Take in the reply m of the MGET of es[0..n) (all on one slot). */
static int take_mget(rs_store *r, ovl **es, size_t n, const redisReply *m,
                     int64_t now) {
    if (!m || m->type != REDIS_REPLY_ARRAY) {
        snprintf(r->err, sizeof r->err, "%s: unexpected reply to MGET%s%s",
                 r->link->name, m && m->type == REDIS_REPLY_ERROR ? ": " : "",
                 m && m->type == REDIS_REPLY_ERROR ? m->str : "");
        return SG_ESTORE;
    }
    size_t k = 0;
    for (size_t j = 0; j < n; j++) {
        ovl *e = es[j];
        bool turn = e->watch && e->turn && r->turn_in_mget;
        if (k + turn >= m->elements) {
            snprintf(r->err, sizeof r->err, "%s: short MGET reply",
                     r->link->name);
            return SG_ESTORE;
        }
        int rc = take_in(r, e, m->element[k++], now);
        if (rc) return rc;
        const redisReply *t = turn ? m->element[k++]
                              : e->turn_cmd ? r->pipe.cmd[e->turn_cmd - 1].reply
                                            : NULL;
        if (e->watch) note_turn(r, e, t);
    }
    return SG_OK;
}

/* Read the state of the n entries es[] from Redis in one pipeline (es[]
 * is reordered by slot); a watched entry's WATCH precedes its read on the
 * same slot, so on the same connection as the commit's MULTI/EXEC. */
static int fetch(rs_store *r, ovl **es, size_t n, int64_t now) {
    sg_rpipe *p = &r->pipe;
    bool sort = false;
    for (size_t i = 1; i < n && !sort; i++) sort = es[i]->slot != es[0]->slot;
    if (sort) qsort(es, n, sizeof *es, by_slot_then_idx);
    sg__rpipe_clear(p);
    size_t ci = add_reads(r, es, n);
    int rc = run_pipe(r);
    if (!rc) rc = watch_replies_ok(r, ci);
    for (size_t i = 0, j; !rc && i < n; i = j, ci++) {
        for (j = i; j < n && es[j]->slot == es[i]->slot; j++) {}
        rc = take_mget(r, es + i, j - i, p->cmd[ci].reply, now);
    }
    sg__rpipe_clear(p);
    return rc;
}

/* ------------------------------------------------------------ overlay ops */

static int ov_get(const ovl *e, void *buf, size_t cap, size_t *vlen,
                  int64_t now) {
    if (!ovl_live(e, now)) return SG_ENOTFOUND;
    decoded d = {e->kind, false, e->exp, e->n, e->val, e->vlen};
    return copy_out(&d, buf, cap, vlen);
}

static int ov_put(ovl *e, const void *val, size_t vlen, int64_t exp,
                  int64_t now) {
    char *copy = sg__malloc(vlen ? vlen : 1);
    if (!copy) return SG_ENOMEM;
    if (vlen) memcpy(copy, val, vlen);
    sg__free(e->val);
    e->val = copy;
    e->vlen = vlen;
    e->kind = K_VALUE;
    e->exp = exp;
    e->known = e->overwrite = e->dirty = true;
    e->exp_set = false;
    e->delta = 0;
    e->now = now;
    return SG_OK;
}

static void ov_del(ovl *e) {
    sg__free(e->val);
    e->val = NULL;
    e->vlen = 0;
    e->kind = K_ABSENT;
    e->exp = 0;
    e->known = e->overwrite = e->dirty = true;
    e->exp_set = false;
    e->delta = 0;
}

static int ov_incr(ovl *e, int64_t d, int64_t exp, int64_t now, int64_t *out) {
    bool live = ovl_live(e, now), was_value = live && e->kind == K_VALUE;
    int64_t base = 0, sum;
    if (was_value && e->vlen != sizeof base) return SG_EINVAL;
    if (was_value) memcpy(&base, e->val, sizeof base);
    else if (live) base = e->n;
    if (__builtin_add_overflow(base, d, &sum)) return SG_EINVAL;
    if (was_value) { /* a put counter: rewrite it as one */
        sg__free(e->val);
        e->val = NULL;
        e->vlen = 0;
        e->overwrite = true;
    }
    if (!live) {
        /* Expired (or deleted) here: start from 0.  Redis may still hold
         * the old entry, so the commit must replace it, not add to it. */
        if (e->stale || e->kind != K_ABSENT) e->overwrite = true;
        e->delta = 0;
        e->exp = 0;
    }
    e->kind = K_COUNTER;
    e->n = sum;
    if (!e->overwrite) e->delta += d;
    if (exp && exp != e->exp) { /* a fixed window keeps its deadline */
        e->exp = exp;
        e->exp_set = true;
    }
    e->dirty = true;
    e->now = now;
    if (out) *out = sum;
    return SG_OK;
}

/* ------------------------------------------------------------ commit */

/* Wall-clock TTL for a key that expires at exp in message time, seen at
 * message time now: the same length, capped to MAX_TTL_MS (Redis refuses
 * deadlines past 2^63 ms); 0 when already expired. */
#define MAX_TTL_MS (3660LL * 86400 * 1000) /* ~10 years */
static int64_t ttl_ms(int64_t exp, int64_t now) {
    if (exp <= now) return 0;
    uint64_t d = (uint64_t)exp - (uint64_t)now;
    return d > (uint64_t)MAX_TTL_MS ? MAX_TTL_MS : (int64_t)d;
}

/* A counter's relative add, on the server (counts from many daemons add up
 * exactly): KEYS[1] the counter; ARGV delta, the new deadline's 8 header
 * bytes or "" to keep the live one's, now (message time), the new TTL in
 * ms.  A counter absent, expired at now, or not a counter starts from 0.
 * INCRBY does the int64 arithmetic (and refuses an overflow, which puts
 * the old entry back); the answer is the new sum in decimal. */
static const char ADD_LUA[] =
    "local v=redis.call('GET',KEYS[1])\n"
    "local n,h,live='0',string.rep('\\0',8),false\n"
    "if v and #v>=9 and string.byte(v,1)==78 then\n"
    " local x=0\n"
    " for i=2,9 do x=x*256+string.byte(v,i) end\n"
    " if x==0 or x>tonumber(ARGV[3]) then\n"
    "  n=string.sub(v,10) h=string.sub(v,2,9) live=true\n"
    " end\n"
    "end\n"
    "local keep=redis.call('PTTL',KEYS[1])\n"
    "redis.call('SET',KEYS[1],n)\n"
    "local s=redis.pcall('INCRBY',KEYS[1],ARGV[1])\n"
    "if type(s)=='table' and s.err then\n"
    " if v and keep>0 then redis.call('SET',KEYS[1],v,'PX',keep)\n"
    " elseif v then redis.call('SET',KEYS[1],v)\n"
    " else redis.call('DEL',KEYS[1]) end\n"
    " return s\n"
    "end\n"
    "s=redis.call('GET',KEYS[1])\n"
    "if ARGV[2]~='' then\n"
    " local t=tonumber(ARGV[4])\n"
    " if t<=0 then redis.call('DEL',KEYS[1]) return s end\n"
    " redis.call('SET',KEYS[1],'N'..ARGV[2]..s,'PX',t)\n"
    "elseif live and keep>0 then redis.call('SET',KEYS[1],'N'..h..s,'PX',keep)\n"
    "else redis.call('SET',KEYS[1],'N'..h..s) end\n"
    "return s\n";

/* A key's stored entry (header, then the value or the counter in
 * decimal) as one argument. */
static void arg_entry(sg_rpipe *p, const ovl *e) {
    unsigned char h[HDR_BYTES];
    char num[24];
    const void *body = e->val;
    size_t blen = e->vlen;
    header(h, e->kind == K_VALUE ? TAG_VALUE : TAG_COUNTER, e->exp);
    if (e->kind == K_COUNTER) {
        blen = (size_t)snprintf(num, sizeof num, "%lld", (long long)e->n);
        body = num;
    }
    arg_cat(p, h, sizeof h, body, blen);
}

/* Whether the group rewrites e whole, and whether that is a DEL. */
static bool whole(const ovl *e) { return e->dirty && e->overwrite; }
static bool gone(const ovl *e) {
    return e->kind == K_ABSENT || (e->exp && e->exp <= e->now);
}

/* PSETEX key ttl <entry> (SET key <entry> when it never expires, which
 * also drops an old TTL), or DEL key: what the group left for e, written
 * whole. */
static void emit_whole(sg_rpipe *p, const ovl *e) {
    if (gone(e)) {
        cmd_key(p, "DEL", e);
        sg__rpipe_end(p, e->slot);
        return;
    }
    if (e->exp) { /* = SET key entry PX ttl, without the option parsing */
        cmd_key(p, "PSETEX", e);
        sg__rpipe_arg_i64(p, ttl_ms(e->exp, e->now));
    } else {
        cmd_key(p, "SET", e);
    }
    arg_entry(p, e);
    sg__rpipe_end(p, e->slot);
}

static void emit_turn_end(sg_rpipe *p, const ovl *e) {
    sg__rpipe_start(p);
    sg__rpipe_arg_str(p, "DEL");
    arg_turn(p, e);
    sg__rpipe_end(p, e->slot);
}

/* A counter's relative add (ADD_LUA); its reply is the exact sum. */
static void emit_add(sg_rpipe *p, ovl *e) {
    unsigned char h[8];
    put_be64(h, e->exp < 0 ? 1 : e->exp);
    sg__rpipe_start(p);
    sg__rpipe_arg_str(p, "EVAL");
    sg__rpipe_arg(p, ADD_LUA, sizeof ADD_LUA - 1);
    sg__rpipe_arg_str(p, "1");
    sg__rpipe_arg(p, e->key, e->klen);
    sg__rpipe_arg_i64(p, e->delta);
    sg__rpipe_arg(p, h, e->exp_set ? sizeof h : 0);
    sg__rpipe_arg_i64(p, e->now);
    sg__rpipe_arg_i64(p, ttl_ms(e->exp, e->now));
    e->incr_cmd = sg__rpipe_end(p, e->slot) + 1;
}

/* The writes of d[0..n) (one slot): a held turn's end, the key rewritten
 * whole (SET/PSETEX or DEL), or its relative add.  (Version 3 tried all of
 * a slot's whole-key writes in one Lua script: Redis spent 2.7 us a key in
 * it against 1.3 us for a SET queued in MULTI; docs/storage.md.) */
static void emit_slot(sg_rpipe *p, ovl **d, size_t n) {
    for (size_t i = 0; i < n; i++) {
        ovl *e = d[i];
        if (e->mine) emit_turn_end(p, e);
        if (whole(e)) emit_whole(p, e);
        else if (e->dirty) emit_add(p, e);
    }
}

/* Guarded slots (those holding a watched key) first, then by slot, then
 * in the order the group touched the keys. */
static int by_slot(const void *a, const void *b) {
    const ovl *x = *(ovl *const *)a, *y = *(ovl *const *)b;
    if (x->guarded != y->guarded) return x->guarded ? -1 : 1;
    if (x->slot != y->slot) return x->slot < y->slot ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool in_slots(const int *ws, size_t nws, int slot) {
    for (size_t i = 0; i < nws; i++)
        if (ws[i] == slot) return true;
    return false;
}

/* Distinct slots of the group's watched keys into ws[] (r->n room). */
static size_t watched_slots(rs_store *r, int *ws) {
    size_t nws = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->list[i]->watched && !in_slots(ws, nws, r->list[i]->slot))
            ws[nws++] = r->list[i]->slot;
    return nws;
}

/* Every reply of the commit pipeline must be a success; an EXEC that
 * answered nil found a WATCHed key changed (nothing of it was applied). */
static int check_replies(rs_store *r) {
    sg_rpipe *p = &r->pipe;
    for (size_t i = 0; i < p->nunit; i++)
        if (!p->unit[i].err && p->unit[i].atomic && p->unit[i].reply &&
            p->unit[i].reply->type == REDIS_REPLY_NIL) {
            snprintf(r->err, sizeof r->err, "%s: a watched key changed",
                     r->link->name);
            return SG__ECONFLICT;
        }
    for (size_t i = 0; i < p->nunit; i++) {
        const sg_runit *u = &p->unit[i];
        const redisReply *e = sg__rpipe_unit_error(u);
        if (u->err) return SG_ESTORE;
        for (size_t j = 0; !e && j < u->ncmd; j++) {
            const redisReply *c = p->cmd[u->cmd0 + j].reply;
            if (!c || c->type == REDIS_REPLY_ERROR) e = c;
        }
        if (e || !u->reply) {
            snprintf(r->err, sizeof r->err, "%s: commit: %s", r->link->name,
                     e && e->str ? e->str : "no reply");
            return SG_ESTORE;
        }
    }
    return SG_OK;
}

/* Close the unit being built; a unit on a guarded slot stays MULTI/EXEC
 * even for one command, since its EXEC is what checks the WATCHes. */
static void end_unit(sg_rpipe *p, const int *ws, size_t nws) {
    int g = p->group;
    sg__rpipe_group_end(p);
    if (g && !p->err && (size_t)g <= p->nunit &&
        in_slots(ws, nws, p->unit[g - 1].slot))
        p->unit[g - 1].atomic = true;
}

/* The exact sums the relative adds of d[0..nd) got back. */
static void take_sums(rs_store *r, ovl **d, size_t nd) {
    for (size_t i = 0; i < nd; i++) {
        const redisReply *x = d[i]->incr_cmd
                                  ? r->pipe.cmd[d[i]->incr_cmd - 1].reply
                                  : NULL;
        int64_t v;
        d[i]->n_est = d[i]->n;
        if (x && x->type == REDIS_REPLY_STRING && parse_dec(x->str, x->len, &v))
            d[i]->n = v;
    }
}

/* Send the writes of d[0..nd) (sorted by slot), one MULTI/EXEC per slot,
 * all pipelined; a watched slot of ws[] where nothing is written gets an
 * UNWATCH.  Counters added relatively get their exact sum back in e->n.
 * @return SG_OK, SG__ECONFLICT, SG_ESTORE, SG_ENOMEM. */
static int send_writes(rs_store *r, ovl **d, size_t nd, const int *ws,
                       size_t nws) {
    sg_rpipe *p = &r->pipe;
    sg__rpipe_clear(p);
    for (size_t i = 0, j; i < nd; i = j) {
        for (j = i; j < nd && d[j]->slot == d[i]->slot; j++) {}
        sg__rpipe_group(p, d[i]->slot);
        emit_slot(p, d + i, j - i);
        end_unit(p, ws, nws);
    }
    for (size_t j = 0; j < nws; j++) {
        bool wrote = false;
        for (size_t i = 0; i < nd && !wrote; i++) wrote = d[i]->slot == ws[j];
        if (wrote) continue;
        sg__rpipe_start(p);
        sg__rpipe_arg_str(p, "UNWATCH");
        sg__rpipe_end(p, ws[j]);
    }
    int rc = p->nunit ? run_pipe(r) : SG_OK;
    if (!rc) rc = check_replies(r);
    if (!rc) take_sums(r, d, nd);
    sg__rpipe_clear(p);
    return rc;
}

static void unwatch(rs_store *r);

/* A conflict: the watched keys (of a group that watched few) take their
 * turn at their next read; a group that found another's turn first waits
 * for it to end.  A success forgets them. */
static void after_commit(rs_store *r, int rc) {
    bool esc = rc == SG__ECONFLICT && r->nwatched <= MAX_ESC;
    for (size_t i = 0; i < r->n; i++) {
        const ovl *e = r->list[i];
        if (e->watched && e->turn && (esc || rc == SG_OK))
            esc_set(r, e->hash, esc);
    }
    if (rc == SG__ECONFLICT && r->foreign) wait_turn(r);
}

/* Send the group's writes: one MULTI/EXEC per hash slot, all pipelined.
 * When the group watched keys, the slots holding them go first, on their
 * own (one round trip more on a cluster; on one server every key is in
 * one transaction anyway), and only when their EXEC succeeded does the
 * rest follow: a conflict applies nothing.  A group that read another's
 * turn on a watched key commits nothing: a conflict. */
static int flush(rs_store *r) {
    ovl **d = sg__malloc((r->n ? r->n : 1) * sizeof *d);
    int *ws = sg__malloc((r->n ? r->n : 1) * sizeof *ws);
    int rc = d && ws ? SG_OK : SG_ENOMEM;
    size_t nd = 0, ng = 0, nws = rc ? 0 : watched_slots(r, ws);
    if (rc) goto out;
    if (nws && (r->watch_lost || r->foreign)) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->link->name,
                 r->foreign ? "another daemon holds the turn of a watched key"
                            : "connection lost under a watch");
        if (r->foreign) {
            unwatch(r);
            end_turns(r);
        }
        rc = SG__ECONFLICT;
        goto out;
    }
    for (size_t i = 0; i < r->n; i++) {
        ovl *e = r->list[i];
        if (!e->dirty && !e->mine) continue;
        e->guarded = in_slots(ws, nws, e->slot);
        ng += e->guarded;
        d[nd++] = e;
    }
    if (nd == 0 && nws == 0) goto out;
    qsort(d, nd, sizeof *d, by_slot);
    if (nws) rc = send_writes(r, d, ng, ws, nws);
    if (!rc && nd > ng) rc = send_writes(r, d + ng, nd - ng, NULL, 0);
out:
    after_commit(r, rc);
    sg__free(d);
    sg__free(ws);
    return rc;
}

/* Drop the WATCHes of a group that ends without a commit. */
static void unwatch(rs_store *r) {
    int *ws = r->nwatched ? sg__malloc(r->n * sizeof *ws) : NULL;
    size_t nws = ws ? watched_slots(r, ws) : 0;
    if (!nws) {
        sg__free(ws);
        return;
    }
    sg__rpipe_clear(&r->pipe);
    for (size_t j = 0; j < nws; j++) {
        sg__rpipe_start(&r->pipe);
        sg__rpipe_arg_str(&r->pipe, "UNWATCH");
        sg__rpipe_end(&r->pipe, ws[j]);
    }
    run_pipe(r); /* a failure took the WATCHes with the connection */
    sg__rpipe_clear(&r->pipe);
    sg__free(ws);
}

/* ================================================================ store ops */

static int direct_get(rs_store *r, const void *key, size_t klen, void *buf,
                      size_t cap, size_t *vlen, int64_t now) {
    sg__rpipe_clear(&r->pipe);
    sg__rpipe_start(&r->pipe);
    sg__rpipe_arg_str(&r->pipe, "GET");
    sg__rpipe_arg(&r->pipe, key, klen);
    sg__rpipe_end(&r->pipe, r->link->slot(r->link, key, klen));
    int rc = run_pipe(r);
    decoded d;
    if (!rc && !(rc = decode(r, r->pipe.cmd[0].reply, now, &d)))
        rc = copy_out(&d, buf, cap, vlen);
    sg__rpipe_clear(&r->pipe);
    return rc;
}

static int rs_get(sg_store *s, const void *key, size_t klen, void *buf,
                  size_t cap, size_t *vlen, int64_t now) {
    rs_store *r = (rs_store *)s;
    if (!key_ok(key, klen) || (cap && !buf)) return SG_EINVAL;
    if (r->depth == 0) return direct_get(r, key, klen, buf, cap, vlen, now);
    ovl *e = ovl_get(r, key, klen);
    if (!e) return SG_ENOMEM;
    int rc = e->known ? SG_OK : fetch(r, &e, 1, now);
    return rc ? rc : ov_get(e, buf, cap, vlen, now);
}

/* Outside a group a write is a group of its own. */
static int end_implicit(rs_store *r, int rc) {
    if (r->depth == 0) {
        if (rc == SG_OK) rc = flush(r);
        ovl_clear(r);
    }
    return rc;
}

static int rs_put(sg_store *s, const void *key, size_t klen, const void *val,
                  size_t vlen, int64_t expire_at, int64_t now) {
    rs_store *r = (rs_store *)s;
    if (!key_ok(key, klen) || (vlen && !val) || vlen > MAX_VAL_BYTES)
        return SG_EINVAL;
    ovl *e = ovl_get(r, key, klen);
    int rc = e ? ov_put(e, val, vlen, expire_at, now) : SG_ENOMEM;
    return end_implicit(r, rc);
}

static int rs_del(sg_store *s, const void *key, size_t klen) {
    rs_store *r = (rs_store *)s;
    if (!key_ok(key, klen)) return SG_EINVAL;
    ovl *e = ovl_get(r, key, klen);
    if (e) ov_del(e);
    return end_implicit(r, e ? SG_OK : SG_ENOMEM);
}

static int rs_incr(sg_store *s, const void *key, size_t klen, int64_t delta,
                   int64_t expire_at, int64_t now, int64_t *out) {
    rs_store *r = (rs_store *)s;
    if (!key_ok(key, klen)) return SG_EINVAL;
    ovl *e = ovl_get(r, key, klen);
    int64_t v = 0;
    int rc = !e ? SG_ENOMEM : e->known || e->overwrite ? SG_OK
                                                       : fetch(r, &e, 1, now);
    if (!rc) rc = ov_incr(e, delta, expire_at, now, &v);
    if (r->depth == 0) {
        if (!rc) rc = flush(r);
        if (!rc) v = e->n; /* the exact sum the server's add returned */
        ovl_clear(r);
    }
    if (!rc && out) *out = v;
    return rc;
}

static bool op_ok(const sg_store_op *o) {
    if (!key_ok(o->key, o->klen)) return false;
    switch (o->op) {
    case SG_STORE_GET: return !(o->cap && !o->buf);
    case SG_STORE_PUT: return !(o->vlen && !o->val) && o->vlen <= MAX_VAL_BYTES;
    case SG_STORE_INCR:
    case SG_STORE_DEL: return true;
    default: return false;
    }
}

/* Pass 1 of a batch: find every entry whose state must be read from Redis
 * (read or incremented before this batch writes it whole). */
static int batch_plan(rs_store *r, sg_store_op *ops, size_t n, ovl **need,
                      size_t *nneed) {
    *nneed = 0;
    for (size_t i = 0; i < n; i++) {
        sg_store_op *o = &ops[i];
        if (!op_ok(o)) continue;
        ovl *e = ovl_get(r, o->key, o->klen);
        if (!e) return SG_ENOMEM;
        if (o->op == SG_STORE_PUT || o->op == SG_STORE_DEL) e->covered = true;
        else if (!e->known && !e->covered && !e->queued) {
            e->queued = true;
            need[(*nneed)++] = e;
        }
    }
    return SG_OK;
}

static void batch_apply(rs_store *r, sg_store_op *ops, size_t n,
                        int64_t now) {
    for (size_t i = 0; i < n; i++) {
        sg_store_op *o = &ops[i];
        if (!op_ok(o)) {
            o->err = SG_EINVAL;
            continue;
        }
        ovl *e = ovl_get(r, o->key, o->klen); /* exists since pass 1 */
        e->queued = e->covered = false;
        switch (o->op) {
        case SG_STORE_GET:
            o->err = ov_get(e, o->buf, o->cap, &o->out_len, now);
            break;
        case SG_STORE_PUT:
            o->err = ov_put(e, o->val, o->vlen, o->expire_at_ms, now);
            break;
        case SG_STORE_INCR:
            o->err = ov_incr(e, o->delta, o->expire_at_ms, now, &o->result);
            break;
        default:
            ov_del(e);
            o->err = SG_OK;
        }
    }
}

static int batch_fail(rs_store *r, sg_store_op *ops, size_t n, int rc) {
    for (size_t i = 0; i < n; i++) ops[i].err = rc;
    for (size_t i = 0; i < r->n; i++) r->list[i]->queued = r->list[i]->covered = false;
    if (r->depth == 0) ovl_clear(r);
    return rc;
}

static int rs_batch(sg_store *s, sg_store_op *ops, size_t n, int64_t now) {
    rs_store *r = (rs_store *)s;
    if (n && !ops) return SG_EINVAL;
    ovl **need = sg__malloc((n ? n : 1) * sizeof *need);
    size_t nneed = 0;
    int rc = need ? batch_plan(r, ops, n, need, &nneed) : SG_ENOMEM;
    if (!rc && nneed) rc = fetch(r, need, nneed, now);
    sg__free(need);
    if (rc) return batch_fail(r, ops, n, rc);
    batch_apply(r, ops, n, now);
    if (r->depth > 0) return SG_OK;
    if ((rc = flush(r))) return batch_fail(r, ops, n, rc);
    for (size_t i = 0; i < n; i++) { /* concurrent adds came first */
        if (ops[i].op != SG_STORE_INCR || ops[i].err) continue;
        ovl *e = ovl_get(r, ops[i].key, ops[i].klen);
        if (e) ops[i].result += e->n - e->n_est;
    }
    ovl_clear(r);
    return SG_OK;
}

static int rs_begin(sg_store *s) {
    ((rs_store *)s)->depth++;
    return SG_OK;
}

static int rs_commit(sg_store *s) {
    rs_store *r = (rs_store *)s;
    if (r->depth <= 0) return SG_EINVAL;
    if (--r->depth > 0) return SG_OK;
    int rc = flush(r);
    ovl_clear(r);
    return rc;
}

static int rs_abort(sg_store *s) {
    rs_store *r = (rs_store *)s;
    if (r->depth <= 0) return SG_EINVAL;
    r->depth = 0;
    unwatch(r);
    end_turns(r);
    ovl_clear(r);
    return SG_OK;
}

static int rs_watch(sg_store *s, const void *key, size_t klen, int64_t now) {
    rs_store *r = (rs_store *)s;
    if (!key_ok(key, klen)) return SG_EINVAL;
    if (r->depth == 0) return SG_OK;
    ovl *e = ovl_get(r, key, klen);
    if (!e) return SG_ENOMEM;
    if (e->known || e->overwrite || e->watched || e->watch) return SG_OK;
    e->watch = true;
    e->turn = turn_slot_ok(r, e);
    e->take = e->turn && esc_has(r, e->hash);
    return SG_OK;
}

static void rs_stats(sg_store *s, uint64_t *keys, uint64_t *bytes) {
    rs_store *r = (rs_store *)s;
    uint64_t k = 0, b = 0;
    r->link->stats(r->link, &k, &b);
    if (keys) *keys = k;
    if (bytes) *bytes = b;
}

static const char *rs_errmsg(sg_store *s) { return ((rs_store *)s)->err; }

static void rs_free(sg_store *s) {
    rs_store *r = (rs_store *)s;
    if (!r) return;
    ovl_clear(r);
    sg__free(r->tab);
    sg__free(r->list);
    sg__rpipe_free(&r->pipe);
    if (r->link) r->link->free(r->link);
    sg__free(r);
}

#define RS_OPS(NAME)                                                           \
    {                                                                          \
        .name = NAME, .get = rs_get, .put = rs_put, .incr = rs_incr,           \
        .del = rs_del, .begin = rs_begin, .commit = rs_commit,                 \
        .stats = rs_stats, .free = rs_free, .batch = rs_batch,                 \
        .abort = rs_abort, .errmsg = rs_errmsg, .watch = rs_watch,             \
    }
static const sg_store_ops rs_ops = RS_OPS("redis");
static const sg_store_ops rs_cluster_ops = RS_OPS("redis-cluster");

int sg__redis_store_new(sg_rlink *link, sg_store **out) {
    *out = NULL;
    rs_store *r = sg__calloc(1, sizeof *r);
    if (!r) {
        link->free(link);
        return SG_ENOMEM;
    }
    r->base.ops = strcmp(link->name, "redis-cluster") ? &rs_ops : &rs_cluster_ops;
    r->link = link;
    r->turn_in_mget = !strcmp(link->name, "redis");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed[3] = {(uint64_t)getpid(), (uint64_t)ts.tv_nsec,
                        (uint64_t)(uintptr_t)r};
    snprintf(r->token, sizeof r->token, "%016llx",
             (unsigned long long)XXH3_64bits(seed, sizeof seed));
    *out = &r->base;
    return SG_OK;
}

sg_rlink *sg__redis_store_link(sg_store *s) { return ((rs_store *)s)->link; }

int sg__redis_open_single(const char *host, int port, sg_store **out,
                          char *err, size_t errlen) {
    if (!out) return SG_EINVAL;
    *out = NULL;
    if (!host || !*host || port <= 0 || port > 65535) {
        snprintf(err, errlen, "redis: bad host or port");
        return SG_EINVAL;
    }
    single_link *l = sg__calloc(1, sizeof *l);
    if (!l || !(l->host = sg__strdup(host))) {
        sg__free(l);
        snprintf(err, errlen, "redis: out of memory");
        return SG_ENOMEM;
    }
    l->base = (sg_rlink){"redis", single_exec, single_slot, single_stats,
                         single_free};
    l->port = port;
    if (!single_connected(l, err, errlen)) {
        single_free(&l->base);
        return SG_ESTORE;
    }
    return sg__redis_store_new(&l->base, out);
}

int sg__store_redis_new(const char *host, int port, sg_store **out) {
    char err[160];
    return sg__redis_open_single(host, port, out, err, sizeof err);
}
