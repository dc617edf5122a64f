/*
 * simulate.c -- the network simulator (simulate.h): builds a contact graph
 * (an edge list, or a generated Watts-Strogatz small world), gives every
 * account real ham text, its own clients, networks and waking hours, and
 * injects the attack: the phisher takes over k accounts, each sends a
 * lookalike-link lure to its contacts in a burst, each victim falls with
 * probability p and becomes a sender after a delay; plus stranger spim
 * from fresh accounts.  One event queue in simulated time; every random
 * draw comes from the seed, so a scenario replays exactly.  With
 * --defended each message goes through sg_check and locked, suspended or
 * throttled accounts are stopped or slowed.  No detection logic here.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "behavior.h"
#include "commands.h"
#include "sg_internal.h"
#include "simulate.h"

/* 2024-03-04T00:00:00Z: simulated time starts here (Unix ms). */
#define SIM_EPOCH_MS 1709510400000LL
#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)

void sg_sim_defaults(sg_sim_opts *o) {
    *o = (sg_sim_opts){
        .gen_nodes = 2000,
        .gen_degree = 20,
        .gen_rewire = 0.1,
        .seed = 1,
        .warmup_days = 7,
        .attack_hours = 48,
        .ham_per_day = 6,
        .k = 5,
        .p = 0.1,
        .burst_gap_ms = 10000,
        .fall_delay_ms = 2 * HOUR_MS,
        .max_lures = 200,
        .spimmers = 10,
        .spim_msgs = 100,
        .spim_gap_ms = 30000,
        .reset_delay_ms = 6 * HOUR_MS,
    };
}

/* ------------------------------------------------------------ random */

/* splitmix64 (Steele, Lea & Flood 2014). */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *s) { return mix64(*s += 0x9E3779B97F4A7C15ull); }
static double rnd_unit(uint64_t *s) { return (rnd(s) >> 11) * 0x1.0p-53; }
static uint64_t rnd_below(uint64_t *s, uint64_t n) { return n ? rnd(s) % n : 0; }
static double rnd_exp(uint64_t *s, double mean) {
    return -mean * log(1.0 - rnd_unit(s));
}
/* A draw fixed by its inputs, not by the order of events: the same victim
 * falls for the same lure in the defended and the undefended run. */
static double draw(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    return (mix64(seed ^ mix64(a ^ mix64(b ^ mix64(c)))) >> 11) * 0x1.0p-53;
}

/* ------------------------------------------------------------ graph */

typedef struct graph {
    uint32_t n;
    uint32_t *off;      /* n + 1 */
    uint32_t *adj;      /* sorted neighbours */
    uint64_t *label;    /* original node ids (edge list), or NULL */
} graph;

typedef struct edge { uint32_t a, b; } edge;

static int cmp_edge(const void *x, const void *y) {
    const edge *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

/* CSR from undirected edges (both directions added, duplicates and loops
 * dropped).  Takes ownership of e. */
static int build_csr(graph *g, edge *e, size_t ne) {
    edge *d = realloc(e, 2 * ne * sizeof *d + 1);
    if (!d) { free(e); return -1; }
    for (size_t i = 0; i < ne; i++) d[ne + i] = (edge){d[i].b, d[i].a};
    qsort(d, 2 * ne, sizeof *d, cmp_edge);
    g->off = calloc(g->n + 1, sizeof *g->off);
    g->adj = malloc(2 * ne * sizeof *g->adj + 1);
    if (!g->off || !g->adj) { free(d); return -1; }
    size_t m = 0;
    for (size_t i = 0; i < 2 * ne; i++) {
        if (d[i].a == d[i].b) continue;
        if (i && d[i].a == d[i - 1].a && d[i].b == d[i - 1].b) continue;
        g->adj[m++] = d[i].b;
        g->off[d[i].a + 1]++;
    }
    for (uint32_t i = 0; i < g->n; i++) g->off[i + 1] += g->off[i];
    free(d);
    return 0;
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

static uint32_t label_index(const graph *g, uint64_t v) {
    const uint64_t *p = bsearch(&v, g->label, g->n, sizeof v, cmp_u64);
    return (uint32_t)(p - g->label);
}

/* Edge list: two non-negative integer node ids per line; '#' comments. */
static int load_graph(graph *g, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) { sg_cli_error("simulate", "%s: %s", path, strerror(errno)); return -1; }
    size_t cap = 1024, n = 0;
    uint64_t *v = malloc(cap * 2 * sizeof *v);
    char line[512];
    unsigned long long a, b;
    while (v && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '%' || line[0] == '\n') continue;
        if (sscanf(line, "%llu %llu", &a, &b) != 2) continue;
        if (n == cap) { cap *= 2; uint64_t *nv = realloc(v, cap * 2 * sizeof *v); if (!nv) { free(v); v = NULL; break; } v = nv; }
        v[2 * n] = a, v[2 * n + 1] = b, n++;
    }
    fclose(f);
    if (!v || n == 0) { free(v); sg_cli_error("simulate", "%s: no edges", path); return -1; }
    g->label = malloc(2 * n * sizeof *g->label);
    if (!g->label) { free(v); return -1; }
    memcpy(g->label, v, 2 * n * sizeof *v);
    qsort(g->label, 2 * n, sizeof *g->label, cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < 2 * n; i++)
        if (!u || g->label[u - 1] != g->label[i]) g->label[u++] = g->label[i];
    g->n = (uint32_t)u;
    edge *e = malloc(n * sizeof *e + 1);
    if (!e) { free(v); return -1; }
    for (size_t i = 0; i < n; i++)
        e[i] = (edge){label_index(g, v[2 * i]), label_index(g, v[2 * i + 1])};
    free(v);
    return build_csr(g, e, n);
}

/* Watts & Strogatz (Nature 1998): a ring where each account knows the
 * `degree` nearest, each edge rewired to a random account with
 * probability `rewire`. */
static int gen_graph(graph *g, const sg_sim_opts *o, uint64_t *rs) {
    uint32_t n = o->gen_nodes < 10 ? 10 : o->gen_nodes;
    uint32_t half = o->gen_degree / 2 ? o->gen_degree / 2 : 1;
    if (half >= n / 2) half = n / 2 - 1;
    g->n = n;
    size_t ne = (size_t)n * half;
    edge *e = malloc(ne * sizeof *e + 1);
    if (!e) return -1;
    for (uint32_t i = 0, k = 0; i < n; i++)
        for (uint32_t j = 1; j <= half; j++, k++) {
            uint32_t t = (i + j) % n;
            if (rnd_unit(rs) < o->gen_rewire) t = (uint32_t)rnd_below(rs, n);
            e[k] = (edge){i, t};
        }
    return build_csr(g, e, ne);
}

static void graph_free(graph *g) {
    free(g->off);
    free(g->adj);
    free(g->label);
}

static bool adjacent(const graph *g, uint32_t a, uint32_t b) {
    uint32_t lo = g->off[a], hi = g->off[a + 1];
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (g->adj[mid] == b) return true;
        if (g->adj[mid] < b) lo = mid + 1; else hi = mid;
    }
    return false;
}

/* ------------------------------------------------------------ texts */

typedef struct pool {
    char **v;
    size_t n, cap;
} pool;

enum { POOL_SMS, POOL_IRC, POOL_YT, POOL_TG, NPOOLS };

typedef struct texts {
    pool ham[NPOOLS];   /* by source; --ham fills only [0] */
    pool spam;
} texts;

static int pool_add(pool *p, const char *s) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 1024;
        char **v = realloc(p->v, cap * sizeof *v);
        if (!v) return -1;
        p->v = v, p->cap = cap;
    }
    return (p->v[p->n] = strdup(s)) ? (int)(++p->n, 0) : -1;
}

/* Texts of a JSONL file: label "spam" to spam, the rest to ham; a NULL
 * pool skips its lines, as do lines without a "text". */
static int load_texts(const char *path, pool *ham, pool *spam) {
    sg_lines r;
    if (sg_lines_open(&r, path, 1 << 20)) {
        sg_cli_error("simulate", "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t len;
    int rc = 0;
    while (!rc && sg_lines_next(&r, &len) == 1) {
        json_t *j = json_loadb(r.buf, len, 0, NULL);
        const char *t = json_string_value(json_object_get(j, "text"));
        const char *l = json_string_value(json_object_get(j, "label"));
        pool *to = l && !strcmp(l, "spam") ? spam : ham;
        if (t && *t && to) rc = pool_add(to, t);
        json_decref(j);
    }
    sg_lines_close(&r);
    return rc;
}

static int load_all_texts(texts *tx, const char *ham_path) {
    static const char *const shipped[NPOOLS] = {
        "corpus/sms_spam_train.jsonl", "corpus/irc_ubuntu_ham.jsonl",
        "corpus/youtube_spam.jsonl", "corpus/tg_spam.jsonl"};
    char path[4096];
    for (int i = 0; i < NPOOLS; i++) {
        if (sg__data_path(shipped[i], path, sizeof path)) continue;
        if (load_texts(path, ham_path ? NULL : &tx->ham[i], &tx->spam))
            return -1;
    }
    if (ham_path && load_texts(ham_path, &tx->ham[0], NULL)) return -1;
    size_t total = 0;
    for (int i = 0; i < NPOOLS; i++) total += tx->ham[i].n;
    if (!total) {
        sg_cli_error("simulate", "no ham text found (%s)",
                     ham_path ? ham_path : "data/corpus/*.jsonl");
        return -1;
    }
    return 0;
}

static void texts_free(texts *tx) {
    for (int i = 0; i < NPOOLS; i++) {
        for (size_t k = 0; k < tx->ham[i].n; k++) free(tx->ham[i].v[k]);
        free(tx->ham[i].v);
    }
    for (size_t k = 0; k < tx->spam.n; k++) free(tx->spam.v[k]);
    free(tx->spam.v);
}

/* ------------------------------------------------------------ accounts */

static const char *const first_names[] = {
    "ann", "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan",
    "judy", "ken", "laura", "mike", "nina", "oscar", "paula", "quinn", "rosa",
    "sam", "tina", "umar", "vera", "walt", "xena", "yusuf", "zoe", "olga",
    "pavel", "maria", "jose", "li", "wei", "aisha", "omar", "sara", "tom",
    "emma", "liam", "noah", "mia"};
#define NNAMES (sizeof first_names / sizeof first_names[0])

static const char *const client_names[] = {"android-5.2", "ios-5.1",
                                           "desktop-3.0", "web"};
/* How often each is an owner's main client. */
static const double client_share[] = {0.45, 0.35, 0.15, 0.05};

/* The campaign's landing pages: lookalikes of a well-known brand. */
static const char *const lure_domains[] = {
    "faceb00k-video.com", "facebook-video-login.com", "fb-watch-video.net"};

typedef struct account {
    char id[40];
    uint16_t name;          /* index into first_names */
    uint8_t pool;           /* main ham pool */
    uint8_t client[2];      /* main and second client */
    bool two_clients, v6, roaming;
    uint32_t home_net, mobile_net; /* /24 prefixes (a<<16 | b<<8 | c) */
    double wake_h, awake_h; /* UTC hour it wakes, hours awake */
    double rate;            /* ham per day */
    uint64_t rng;           /* this account's own ham stream */
    int64_t compromised_at; /* -1: never */
    bool fell;              /* a takeover is already scheduled */
    bool stopped;           /* the attacker lost the account (locked) */
    int64_t locked_until;   /* --defended: owner locked out until */
    bool suspended;
    uint32_t *order, norder; /* lure targets, in sending order */
    const char *bcast_text; /* the owner sends one text to several friends */
    uint32_t bcast_left;
    uint32_t atk_net;       /* the attacker's /24 */
    uint8_t atk_client, domain;
} account;

typedef struct spimmer {
    char id[40];
    uint32_t net, sent;
    double slow;            /* gap factor, 4 once throttled */
    bool stopped;
} spimmer;

static uint8_t pick_client(uint64_t *rs) {
    double u = rnd_unit(rs), acc = 0;
    for (uint8_t i = 0; i < 4; i++)
        if (u < (acc += client_share[i])) return i;
    return 0;
}

static uint32_t pick_net(uint64_t *rs) {
    static const uint8_t first[] = {31, 46, 62, 77, 81, 85, 89, 93, 109,
                                    178, 188, 212, 217};
    return (uint32_t)first[rnd_below(rs, sizeof first)] << 16 |
           (uint32_t)rnd_below(rs, 256) << 8 | (uint32_t)rnd_below(rs, 256);
}

static void init_account(account *a, const graph *g, uint32_t i,
                         const texts *tx, uint64_t seed) {
    memset(a, 0, sizeof *a);
    a->rng = mix64(seed ^ mix64(0xACC0 + i));
    uint64_t *rs = &a->rng;
    if (g->label)
        snprintf(a->id, sizeof a->id, "u%llu@sim.example",
                 (unsigned long long)g->label[i]);
    else
        snprintf(a->id, sizeof a->id, "u%u@sim.example", i);
    a->name = (uint16_t)rnd_below(rs, NNAMES);
    static const double pool_share[NPOOLS] = {0.4, 0.4, 0.1, 0.1};
    double u = rnd_unit(rs), acc = 0;
    a->pool = 0;
    for (uint8_t p = 0; p < NPOOLS; p++)
        if (tx->ham[p].n && u < (acc += pool_share[p])) { a->pool = p; break; }
    for (uint8_t p = 0; p < NPOOLS && !tx->ham[a->pool].n; p++) a->pool = p;
    a->client[0] = pick_client(rs);
    a->client[1] = pick_client(rs);
    a->two_clients = rnd_unit(rs) < 0.3 && a->client[1] != a->client[0];
    a->v6 = rnd_unit(rs) < 0.15;
    a->roaming = rnd_unit(rs) < 0.1;
    a->home_net = pick_net(rs);
    a->mobile_net = 100u << 16 | (uint32_t)(64 + rnd_below(rs, 64)) << 8 |
                    (uint32_t)rnd_below(rs, 256);
    a->wake_h = 5 + 5 * rnd_unit(rs);
    a->awake_h = 14 + 3 * rnd_unit(rs);
    a->rate = 0; /* set by the caller (needs the mean) */
    a->compromised_at = -1;
}

static void format_ip(char *buf, size_t cap, uint32_t net, bool v6,
                      uint64_t *rs) {
    if (v6)
        snprintf(buf, cap, "2a02:%x:%x::%x", (net >> 8) & 0xffff, net & 0xff,
                 (unsigned)(1 + rnd_below(rs, 0xfffe)));
    else
        snprintf(buf, cap, "%u.%u.%u.%u", net >> 16, (net >> 8) & 0xff,
                 net & 0xff, (unsigned)(2 + rnd_below(rs, 253)));
}

/* ------------------------------------------------------------ events */

enum { EV_HAM, EV_BCAST, EV_TAKEOVER, EV_LURE, EV_SPIM, EV_RESET };

typedef struct event {
    int64_t t;
    uint64_t seq;
    uint32_t who, arg;
    uint8_t type;
} event;

typedef struct heap {
    event *v;
    size_t n, cap;
    uint64_t seq;
} heap;

static bool before(const event *x, const event *y) {
    return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static int heap_push(heap *h, int64_t t, uint8_t type, uint32_t who,
                     uint32_t arg) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 4096;
        event *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v, h->cap = cap;
    }
    size_t i = h->n++;
    event e = {t, h->seq++, who, arg, type};
    while (i && before(&e, &h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = e;
    return 0;
}

static event heap_pop(heap *h) {
    event top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c])) c++;
        if (!before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

/* ------------------------------------------------------------ the run */

typedef struct sim {
    const sg_sim_opts *o;
    graph g;
    texts tx;
    account *acct;
    spimmer *spim;
    heap q;
    FILE *out;
    sg_engine *eng;
    sg_sim_result *res;
    int64_t t0, t_end;      /* attack start, end of the run */
    uint64_t nmsg;
    uint64_t rng;           /* attack and spim draws */
} sim;

/* One message as the simulator sends it. */
typedef struct sim_msg {
    int64_t t;
    const char *from, *to, *text, *client;
    char ip[48];
    bool contact;
    const char *kind;       /* "ham", "lure", "spim" */
    int64_t compromised_at; /* of the sender, -1 none */
} sim_msg;

typedef struct sim_verdict {
    sg_action action;
    sg_account_action account;
} sim_verdict;

static int judge(sim *s, const sim_msg *m, char *id, sim_verdict *v) {
    v->action = SG_ACTION_DELIVER;
    v->account = SG_ACCOUNT_NONE;
    if (!s->eng) return 0;
    sg_message *msg;
    if (sg_message_new(m->from, m->to, m->text, &msg)) return 0; /* bad text */
    sg_message_set_id(msg, id);
    sg_message_set_ts(msg, m->t);
    sg_message_set_contact(msg, m->contact);
    sg_message_set_client(msg, m->client);
    sg_message_set_client_ip(msg, m->ip);
    sg_verdict *vd = NULL;
    int rc = sg_check(s->eng, msg, &vd);
    sg_message_free(msg);
    if (rc == SG_ENOMEM) return -1;
    if (vd) {
        v->action = sg_verdict_action(vd);
        v->account = sg_verdict_account_action(vd);
    }
    sg_verdict_free(vd);
    return 0;
}

static int write_msg(sim *s, const sim_msg *m, const char *id,
                     const sim_verdict *v) {
    if (!s->out) return 0;
    bool attack = strcmp(m->kind, "ham") != 0;
    json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:s,s:b,s:s,s:s,s:b,s:o,s:s}",
                          "id", id, "ts", (json_int_t)m->t, "from", m->from,
                          "to", m->to, "text", m->text, "contact", m->contact,
                          "client", m->client, "client_ip", m->ip,
                          "truth_attack", attack, "truth_compromised_at",
                          m->compromised_at >= 0
                              ? json_integer(m->compromised_at) : json_null(),
                          "truth_kind", m->kind);
    if (!o) return -1;
    if (s->eng) {
        json_object_set_new(o, "sim_action", json_string(sg_action_name(v->action)));
        json_object_set_new(o, "sim_account_action",
                            json_string(sg_account_action_name(v->account)));
    }
    int rc = json_dumpf(o, s->out, JSON_COMPACT);
    json_decref(o);
    fputc('\n', s->out);
    return rc;
}

/* Send one message: judge it (--defended), write it, count it. */
static int send_msg(sim *s, const sim_msg *m, sim_verdict *v) {
    char id[24];
    snprintf(id, sizeof id, "m%llu", (unsigned long long)++s->nmsg);
    if (judge(s, m, id, v) || write_msg(s, m, id, v)) return -1;
    bool blocked = v->action >= SG_ACTION_HOLD;
    s->res->messages++;
    if (!strcmp(m->kind, "ham")) s->res->ham++, s->res->ham_blocked += blocked;
    else if (!strcmp(m->kind, "lure")) s->res->lures++, s->res->lures_blocked += blocked;
    else s->res->spim++, s->res->spim_blocked += blocked;
    return 0;
}

/* ------------------------------------------------------------ handlers */

/* Next ham time: an exponential gap counted in waking hours only. */
static int64_t next_ham(account *a, int64_t t) {
    double left = rnd_exp(&a->rng, a->awake_h * HOUR_MS / a->rate);
    for (int guard = 0; guard < 1000 && left > 0; guard++) {
        double h = fmod((double)(t % DAY_MS) / HOUR_MS - a->wake_h + 24, 24);
        if (h < a->awake_h) {
            double until_sleep = (a->awake_h - h) * HOUR_MS;
            if (left < until_sleep) return t + (int64_t)left;
            left -= until_sleep;
            t += (int64_t)until_sleep + 1;
        } else {
            t += (int64_t)((24 - h) * HOUR_MS) + 1; /* to the next waking */
        }
    }
    return t;
}

/* Owner or attacker lost the account: stop the attacker, lock the owner
 * out until the reset. */
static int on_account_action(sim *s, account *a, sg_account_action act,
                             int64_t t) {
    if (act == SG_ACCOUNT_LOCK_AND_RESET && a->locked_until <= t) {
        bool compromised = a->compromised_at >= 0 && !a->stopped;
        if (compromised) s->res->locked_compromised++;
        else if (a->compromised_at < 0) s->res->false_locks++;
        a->stopped = a->compromised_at >= 0;
        a->locked_until = t + s->o->reset_delay_ms;
        return heap_push(&s->q, a->locked_until, EV_RESET, (uint32_t)(a - s->acct), 0);
    }
    if (act == SG_ACCOUNT_SUSPEND && !a->suspended) {
        a->suspended = true;
        a->stopped = true;
        if (a->compromised_at < 0) s->res->false_locks++;
    }
    return 0;
}

/* Where the owner writes from: the main client (the second one 20 % of
 * the time), home network 70 % / mobile 30 %; and on some days something
 * new that is still the owner: another phone (1 % of days), a trip with
 * another network (2 % of days). */
static void ham_origin(sim *s, account *a, uint32_t i, int64_t t, sim_msg *m) {
    uint64_t day = (uint64_t)((t - SIM_EPOCH_MS) / DAY_MS);
    uint8_t c = a->two_clients && rnd_unit(&a->rng) < 0.2 ? a->client[1] : a->client[0];
    if (draw(s->o->seed, i, day, 8) < 0.01) c = (uint8_t)((a->client[0] + 1) % 4);
    m->client = client_names[c];
    uint32_t net = rnd_unit(&a->rng) < 0.7 ? a->home_net : a->mobile_net;
    if (a->roaming && net == a->mobile_net) net += (uint32_t)rnd_below(&a->rng, 4);
    if (draw(s->o->seed, i, day, 7) < 0.02)
        net = (uint32_t)(mix64(s->o->seed ^ ((uint64_t)i << 24) ^ day) & 0xffffff);
    format_ip(m->ip, sizeof m->ip, net, a->v6, &a->rng);
}

/* Send an owner's message unless the owner is locked out. */
static int send_ham(sim *s, account *a, sim_msg *m) {
    if (a->suspended || a->locked_until > m->t) return 0;
    sim_verdict v;
    if (send_msg(s, m, &v)) return -1;
    return on_account_action(s, a, v.account, m->t);
}

static int on_ham(sim *s, uint32_t i, int64_t t) {
    account *a = &s->acct[i];
    const graph *g = &s->g;
    uint32_t deg = g->off[i + 1] - g->off[i];
    sim_msg m = {.t = t, .from = a->id, .kind = "ham", .contact = true,
                 .compromised_at = a->stopped ? -1 : a->compromised_at};
    uint32_t to = g->adj[g->off[i] + rnd_below(&a->rng, deg)];
    if (rnd_unit(&a->rng) < 0.01) { /* now and then a stranger */
        uint32_t r = (uint32_t)rnd_below(&a->rng, g->n);
        if (r != i && !adjacent(g, i, r)) to = r, m.contact = false;
    }
    m.to = s->acct[to].id;
    const pool *p = &s->tx.ham[a->pool];
    if (rnd_unit(&a->rng) < 0.05) {
        const pool *q = &s->tx.ham[rnd_below(&a->rng, NPOOLS)];
        if (q->n) p = q;
    }
    m.text = p->v[rnd_below(&a->rng, p->n)];
    ham_origin(s, a, i, t, &m);
    int64_t next = next_ham(a, t);
    if (next <= s->t_end && heap_push(&s->q, next, EV_HAM, i, 0)) return -1;
    if (rnd_unit(&a->rng) < 0.02 && deg >= 3 && !a->bcast_left) {
        /* the same text to a few more friends, seconds apart */
        a->bcast_text = m.text;
        a->bcast_left = 2 + (uint32_t)rnd_below(&a->rng, 6);
        if (heap_push(&s->q, t + 5000 + (int64_t)rnd_below(&a->rng, 25000), EV_BCAST, i, 0))
            return -1;
    }
    return send_ham(s, a, &m);
}

static int on_bcast(sim *s, uint32_t i, int64_t t) {
    account *a = &s->acct[i];
    const graph *g = &s->g;
    uint32_t deg = g->off[i + 1] - g->off[i];
    sim_msg m = {.t = t, .from = a->id, .kind = "ham", .contact = true,
                 .text = a->bcast_text,
                 .compromised_at = a->stopped ? -1 : a->compromised_at};
    m.to = s->acct[g->adj[g->off[i] + rnd_below(&a->rng, deg)]].id;
    ham_origin(s, a, i, t, &m);
    if (--a->bcast_left && t <= s->t_end &&
        heap_push(&s->q, t + 5000 + (int64_t)rnd_below(&a->rng, 25000), EV_BCAST, i, 0))
        return -1;
    return send_ham(s, a, &m);
}

static int on_takeover(sim *s, uint32_t i, int64_t t) {
    account *a = &s->acct[i];
    if (a->compromised_at >= 0) return 0;
    a->compromised_at = t;
    s->res->compromised++;
    const graph *g = &s->g;
    uint32_t deg = g->off[i + 1] - g->off[i];
    a->order = malloc((deg ? deg : 1) * sizeof *a->order);
    if (!a->order) return -1;
    memcpy(a->order, g->adj + g->off[i], deg * sizeof *a->order);
    for (uint32_t k = deg; k > 1; k--) { /* the attacker's own order */
        uint32_t j = (uint32_t)rnd_below(&s->rng, k), x = a->order[k - 1];
        a->order[k - 1] = a->order[j], a->order[j] = x;
    }
    a->norder = deg < s->o->max_lures ? deg : s->o->max_lures;
    a->atk_net = (rnd_unit(&s->rng) < 0.5 ? 185u << 16 | 220u << 8
                                          : 45u << 16 | (uint32_t)rnd_below(&s->rng, 256) << 8) |
                 (uint32_t)rnd_below(&s->rng, 256);
    a->atk_client = rnd_unit(&s->rng) < 0.7 ? 3 : 0;
    a->domain = (uint8_t)rnd_below(&s->rng, sizeof lure_domains / sizeof *lure_domains);
    int64_t start = t + 60000 + (int64_t)rnd_below(&s->rng, 9 * 60000);
    return a->norder ? heap_push(&s->q, start, EV_LURE, i, 0) : 0;
}

static void lure_text(sim *s, const account *to, const char *domain,
                      char *buf, size_t cap) {
    static const char *const greet[] = {"hey", "hi", "omg", "lol", "hey hey"};
    static const char *const tail[] = {"??", "?!", "? 😱", "?? 😂", "?"};
    uint64_t *rs = &s->rng;
    const char *g = greet[rnd_below(rs, 5)], *e = tail[rnd_below(rs, 5)];
    const char *name = first_names[to->name];
    char url[96];
    snprintf(url, sizeof url, "https://%s/watch?v=%08llx",
             domain, (unsigned long long)(rnd(rs) & 0xffffffffu));
    switch (rnd_below(rs, 3)) {
    case 0: snprintf(buf, cap, "%s %s, is this you in this video%s %s", g, name, e, url); break;
    case 1: snprintf(buf, cap, "%s is this you in this video%s %s", g, e, url); break;
    default: snprintf(buf, cap, "%s %s is this really you in this video%s %s", g, name, e, url);
    }
}

/* A delivered lure: the victim may fall for it (a draw fixed by seed,
 * sender and victim) and be taken over after a delay. */
static int maybe_fall(sim *s, uint32_t from, uint32_t to, int64_t t) {
    account *v = &s->acct[to];
    if (v->fell || v->compromised_at >= 0) return 0;
    if (draw(s->o->seed, from, to, 1) >= s->o->p) return 0;
    v->fell = true;
    double d = -(double)s->o->fall_delay_ms * log(1 - draw(s->o->seed, from, to, 2));
    int64_t when = t + (d < 300000 ? 300000 : (int64_t)d);
    return when <= s->t_end ? heap_push(&s->q, when, EV_TAKEOVER, to, 0) : 0;
}

static int on_lure(sim *s, uint32_t i, uint32_t k, int64_t t) {
    account *a = &s->acct[i];
    if (a->stopped || k >= a->norder) return 0;
    uint32_t to = a->order[k];
    char text[256];
    lure_text(s, &s->acct[to], lure_domains[a->domain], text, sizeof text);
    sim_msg m = {.t = t, .from = a->id, .to = s->acct[to].id, .text = text,
                 .contact = true, .kind = "lure", .compromised_at = a->compromised_at,
                 .client = client_names[a->atk_client]};
    format_ip(m.ip, sizeof m.ip, a->atk_net, false, &s->rng);
    sim_verdict v;
    if (send_msg(s, &m, &v)) return -1;
    if (v.action <= SG_ACTION_WARN && maybe_fall(s, i, to, t)) return -1;
    if (on_account_action(s, a, v.account, t)) return -1;
    double gap = (double)s->o->burst_gap_ms * (0.5 + draw(s->o->seed, i, k, 3));
    int64_t next = t + (int64_t)gap + 1;
    if (!a->stopped && k + 1 < a->norder && next <= s->t_end)
        return heap_push(&s->q, next, EV_LURE, i, k + 1);
    return 0;
}

static int on_spim(sim *s, uint32_t j, uint32_t k, int64_t t) {
    spimmer *sp = &s->spim[j];
    if (sp->stopped || !s->tx.spam.n) return 0;
    uint32_t to = (uint32_t)rnd_below(&s->rng, s->g.n);
    sim_msg m = {.t = t, .from = sp->id, .to = s->acct[to].id,
                 .text = s->tx.spam.v[rnd_below(&s->rng, s->tx.spam.n)],
                 .contact = false, .kind = "spim", .compromised_at = -1,
                 .client = rnd_unit(&s->rng) < 0.5 ? "web" : "android-5.2"};
    format_ip(m.ip, sizeof m.ip, sp->net, false, &s->rng);
    sim_verdict v;
    if (send_msg(s, &m, &v)) return -1;
    if (v.account == SG_ACCOUNT_SUSPEND) {
        sp->stopped = true;
        s->res->suspended_spimmers++;
        return 0;
    }
    if (v.account == SG_ACCOUNT_THROTTLE) sp->slow = 4;
    int64_t next = t + 1 + (int64_t)rnd_exp(&s->rng, (double)s->o->spim_gap_ms * sp->slow);
    if (k + 1 < s->o->spim_msgs && next <= s->t_end)
        return heap_push(&s->q, next, EV_SPIM, j, k + 1);
    return 0;
}

static int on_reset(sim *s, uint32_t i, int64_t t) {
    if (s->eng) sg__sender_reset(s->eng, s->acct[i].id, t);
    return 0;
}

static int dispatch(sim *s, const event *e) {
    switch (e->type) {
    case EV_HAM: return on_ham(s, e->who, e->t);
    case EV_BCAST: return on_bcast(s, e->who, e->t);
    case EV_TAKEOVER: return on_takeover(s, e->who, e->t);
    case EV_LURE: return on_lure(s, e->who, e->arg, e->t);
    case EV_SPIM: return on_spim(s, e->who, e->arg, e->t);
    case EV_RESET: return on_reset(s, e->who, e->t);
    }
    return 0;
}

/* ------------------------------------------------------------ setup */

static int setup_accounts(sim *s) {
    const sg_sim_opts *o = s->o;
    s->acct = calloc(s->g.n, sizeof *s->acct);
    if (!s->acct) return -1;
    for (uint32_t i = 0; i < s->g.n; i++) {
        account *a = &s->acct[i];
        init_account(a, &s->g, i, &s->tx, o->seed);
        /* heavy-tailed activity: log-normal with sigma 0.8, mean ham_per_day */
        double z = sqrt(-2 * log(1 - rnd_unit(&a->rng))) * cos(2 * M_PI * rnd_unit(&a->rng));
        a->rate = o->ham_per_day * exp(0.8 * z - 0.32);
        if (a->rate < 0.2) a->rate = 0.2;
        if (s->g.off[i + 1] > s->g.off[i] &&
            heap_push(&s->q, next_ham(a, SIM_EPOCH_MS), EV_HAM, i, 0))
            return -1;
    }
    return 0;
}

static int setup_attack(sim *s) {
    const sg_sim_opts *o = s->o;
    uint32_t seeded = 0;
    for (uint32_t tries = 0; seeded < o->k && tries < 100 * (o->k + 1); tries++) {
        uint32_t i = (uint32_t)rnd_below(&s->rng, s->g.n);
        if (s->acct[i].fell || s->g.off[i + 1] - s->g.off[i] < 2) continue;
        s->acct[i].fell = true;
        int64_t t = s->t0 + (int64_t)rnd_below(&s->rng, HOUR_MS);
        if (heap_push(&s->q, t, EV_TAKEOVER, i, 0)) return -1;
        seeded++;
    }
    s->spim = calloc(o->spimmers ? o->spimmers : 1, sizeof *s->spim);
    if (!s->spim) return -1;
    for (uint32_t j = 0; j < o->spimmers; j++) {
        spimmer *sp = &s->spim[j];
        snprintf(sp->id, sizeof sp->id, "s%u-%04llx@sim.example", j,
                 (unsigned long long)(rnd(&s->rng) & 0xffff));
        sp->net = 45u << 16 | (uint32_t)rnd_below(&s->rng, 65536);
        sp->slow = 1;
        int64_t t = s->t0 + (int64_t)(rnd_unit(&s->rng) * o->attack_hours * HOUR_MS);
        if (heap_push(&s->q, t, EV_SPIM, j, 0)) return -1;
    }
    return 0;
}

static void sim_free(sim *s) {
    for (uint32_t i = 0; s->acct && i < s->g.n; i++) free(s->acct[i].order);
    free(s->acct);
    free(s->spim);
    free(s->q.v);
    texts_free(&s->tx);
    graph_free(&s->g);
    sg_engine_free(s->eng);
}

int sg_sim_run(const sg_sim_opts *o, FILE *out, sg_sim_result *res) {
    sim s = {.o = o, .out = out, .res = res};
    memset(res, 0, sizeof *res);
    s.rng = mix64(o->seed ^ 0x51AA7AC4ull);
    s.t0 = SIM_EPOCH_MS + (int64_t)(o->warmup_days * DAY_MS);
    s.t_end = s.t0 + (int64_t)(o->attack_hours * HOUR_MS);
    int rc = o->graph_path ? load_graph(&s.g, o->graph_path) : gen_graph(&s.g, o, &s.rng);
    if (!rc) rc = load_all_texts(&s.tx, o->ham_path);
    sg_options eo = {.store_uri = o->store_uri};
    if (!rc && o->defended && !(s.eng = sg_cli_engine(&eo, o->model_path, true)))
        rc = -1;
    bool reported = rc != 0; /* the loaders print their own errors */
    errno = 0;
    if (!rc) rc = setup_accounts(&s);
    if (!rc) rc = setup_attack(&s);
    res->nodes = s.g.n;
    res->edges = s.g.off ? s.g.off[s.g.n] / 2 : 0;
    while (!rc && s.q.n) {
        event e = heap_pop(&s.q);
        if (e.t > s.t_end) continue;
        rc = dispatch(&s, &e);
        if (!o->quiet && (s.nmsg & 4095) == 0)
            sg_progress("simulate", (size_t)((e.t - SIM_EPOCH_MS) / 1000),
                        (size_t)((s.t_end - SIM_EPOCH_MS) / 1000));
    }
    if (!o->quiet) sg_progress_end();
    if (rc && !reported)
        sg_cli_error("simulate", "stopped after %llu messages: %s",
                     (unsigned long long)s.nmsg,
                     errno ? strerror(errno) : "cannot write the message");
    sim_free(&s);
    return rc ? -1 : 0;
}
