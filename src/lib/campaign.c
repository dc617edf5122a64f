/*
 * campaign.c -- campaigns: messages that share a fingerprint cluster or a
 * landing registrable domain form one campaign with a stable id.  Keeps,
 * per campaign, first/last seen, distinct senders and recipients, bounded
 * lists of senders, URLs and infection edges (an account that received the
 * campaign and later sends it), and whether a sender of it was locked.
 * Everything is in the store with TTLs, so memory is bounded by recent
 * traffic.  It sets no signal itself: bulk.c and sender.c read the hit.
 *
 * Keys: camp:<id> (record), camp:<id>:s|u|e (lists of senders, URLs,
 * edges), camp:<id>:l (senders locked: a counter, so that daemons locking
 * senders of one campaign at once all count; docs/storage.md), cmap:f:
 * <cluster> and cmap:d:<domain> (what belongs to which campaign),
 * rcv:{account}:f<cluster> / :d<domain> (who sent it a link).
 */
#include "behavior.h"

#include <stdio.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

/* The campaign record, key "camp:<id>", 96 bytes.  `locked` is what
 * records written before the counter camp:<id>:l counted; it only adds.
 * `opened_by`: the distinct senders (low 16 bits) and recipients (high
 * 16) that the cluster or domain group had when it opened the campaign,
 * floors of the counts (earlier messages are not in the bitmaps; 0 in
 * records written before it was kept). */
typedef struct camp_rec {
    int64_t first_ms, last_ms;
    uint32_t msgs, infections, locked, opened_by;
    uint64_t snd[4], rcp[4]; /* 256-bit linear-counting bitmaps */
} camp_rec;

/* A list value holds at most SG_CAMPAIGN_LIST NUL-terminated items in
 * LIST_CAP bytes. */
#define LIST_CAP 4096

static int store_err(int rc) {
    return rc == SG_ENOMEM ? SG_ENOMEM : SG_ESTORE;
}

/* buf = a b c, with at most bmax bytes of b, cut to cap - 1 bytes and
 * NUL-terminated: snprintf(buf, cap, "%s%.*s%s", a, bmax, b, c) without
 * the format parsing (keys are built several times per message).
 * @return the bytes written (the key length). */
static size_t join3(char *buf, size_t cap, const char *a, const char *b, size_t bmax,
                    const char *c) {
    size_t n = 0;
    const char *part[3] = {a, b, c};
    size_t lim[3] = {SIZE_MAX, bmax, SIZE_MAX};
    for (int i = 0; i < 3; i++) {
        size_t l = strnlen(part[i], lim[i]);
        if (l > cap - 1 - n) l = cap - 1 - n;
        memcpy(buf + n, part[i], l);
        n += l;
    }
    buf[n] = '\0';
    return n;
}

static size_t camp_key(char *buf, const char *id, const char *suffix) {
    return join3(buf, 64, "camp:", id, SIZE_MAX, suffix);
}

/* Value of key as a NUL-terminated string into buf[cap]; SG_ENOTFOUND. */
static int get_str(sg_store *st, const char *key, size_t klen, char *buf,
                   size_t cap, int64_t now) {
    size_t vlen = 0;
    int rc = sg__store_get(st, key, klen, buf, cap - 1, &vlen, now);
    if (rc) return rc;
    buf[vlen < cap - 1 ? vlen : cap - 1] = '\0';
    return SG_OK;
}

/* ------------------------------------------------------------ lookup */

static int lookup(sg_store *st, const sg_campaign_msg *m, char *id) {
    char key[SG_BEHAV_KEY_CAP];
    char hex[17];
    int rc = SG_ENOTFOUND;
    if (m->cluster && !m->cluster_new) {
        sg__behav_hex64(m->cluster, hex);
        size_t kl = join3(key, sizeof key, "cmap:f:", hex, SIZE_MAX, "");
        rc = get_str(st, key, kl, id, SG_CAMPAIGN_ID_LEN, m->now_ms);
    }
    for (size_t i = 0; rc == SG_ENOTFOUND && i < m->ndomains; i++) {
        size_t kl = join3(key, sizeof key, "cmap:d:", m->domains[i], 255, "");
        rc = get_str(st, key, kl, id, SG_CAMPAIGN_ID_LEN, m->now_ms);
    }
    return rc == SG_ENOTFOUND || rc == SG_OK ? rc : store_err(rc);
}

/* Is domains[0] young?  Its first-seen time lives under "dom:<domain>",
 * written at its first link and kept domain_memory_ms after the last. */
static int domain_young(sg_store *st, const sg_behav_config *cfg,
                        const sg_campaign_msg *m, bool *young) {
    char key[SG_BEHAV_KEY_CAP];
    *young = false;
    if (!m->ndomains) return SG_OK;
    size_t kl = join3(key, sizeof key, "dom:", m->domains[0], 255, "");
    int64_t first = m->now_ms;
    size_t vlen = 0;
    int rc = sg__store_get(st, key, kl, &first, sizeof first, &vlen, m->now_ms);
    if (rc == SG_ENOTFOUND || vlen != sizeof first) first = m->now_ms;
    else if (rc) return store_err(rc);
    *young = m->now_ms - first < cfg->young_domain_ms;
    rc = sg__store_put(st, key, kl, &first, sizeof first,
                       m->now_ms + cfg->domain_memory_ms, m->now_ms);
    return rc ? store_err(rc) : SG_OK;
}

/* Id of the campaign this message opens, or "" when it opens none. */
static void opening_id(const sg_behav_config *cfg, const sg_campaign_msg *m,
                       bool young, char *id) {
    const sg_group_count *d = &m->domain_group;
    uint64_t from = 0;
    if (m->cluster && (m->bulk_senders >= cfg->camp_min_senders ||
                       m->bulk_recipients >= cfg->camp_min_recipients))
        from = m->cluster;
    else if (young && d->id && (d->senders >= cfg->camp_min_senders ||
                                d->recipients >= cfg->camp_min_recipients))
        from = d->id;
    id[0] = '\0';
    if (from)
        snprintf(id, SG_CAMPAIGN_ID_LEN, "c%012llx",
                 (unsigned long long)(from >> 16));
}

static int map_to(sg_store *st, const sg_behav_config *cfg,
                  const sg_campaign_msg *m, const char *id) {
    char key[SG_BEHAV_KEY_CAP];
    char hex[17];
    int64_t exp = m->now_ms + cfg->camp_ttl_ms;
    size_t idl = strlen(id);
    int rc = SG_OK;
    if (m->cluster) {
        sg__behav_hex64(m->cluster, hex);
        size_t kl = join3(key, sizeof key, "cmap:f:", hex, SIZE_MAX, "");
        rc = sg__store_put(st, key, kl, id, idl, exp, m->now_ms);
    }
    for (size_t i = 0; !rc && i < m->ndomains; i++) {
        size_t kl = join3(key, sizeof key, "cmap:d:", m->domains[i], 255, "");
        rc = sg__store_put(st, key, kl, id, idl, exp, m->now_ms);
    }
    return rc ? store_err(rc) : SG_OK;
}

/* ------------------------------------------------------------ lists */

/* Items in the first vlen bytes of a list value: its NUL bytes, plus one
 * for a last item without one.  Eight bytes at a time: a lane's high bit
 * is set in t exactly when the byte is 0 (no carry crosses lanes); the
 * multiply sums the lanes' flags into the top byte. */
static size_t list_items(const char *buf, size_t vlen) {
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
    size_t n = 0, i = 0;
    for (; i + 8 <= vlen; i += 8) {
        uint64_t x, t;
        memcpy(&x, buf + i, 8);
        t = ~(((x & low7) + low7) | x | low7);
        n += (size_t)(((t >> 7) * 0x0101010101010101ull) >> 56);
    }
    for (; i < vlen; i++) n += buf[i] == '\0';
    return n + (vlen && buf[vlen - 1] != '\0');
}

/* Append item to the list at "camp:<id><suffix>" unless it is there or
 * the list is full. */
static int list_add(sg_store *st, const sg_behav_config *cfg, const char *id,
                    const char *suffix, const char *item, int64_t now) {
    char key[64], buf[LIST_CAP];
    size_t kl = camp_key(key, id, suffix), vlen = 0;
    int rc = sg__store_get(st, key, kl, buf, sizeof buf, &vlen, now);
    if (rc == SG_ENOTFOUND) vlen = 0;
    else if (rc) return store_err(rc);
    if (vlen > sizeof buf) return SG_OK; /* written by someone else: leave */
    if (list_items(buf, vlen) >= SG_CAMPAIGN_LIST) return SG_OK; /* full */
    size_t n = 0, il = strnlen(item, 255);
    for (size_t off = 0; off < vlen; n++) {
        size_t l = strnlen(buf + off, vlen - off);
        if (l == il && !memcmp(buf + off, item, il)) return SG_OK;
        off += l + 1;
    }
    if (n >= SG_CAMPAIGN_LIST || vlen + il + 1 > sizeof buf) return SG_OK;
    memcpy(buf + vlen, item, il);
    buf[vlen + il] = '\0';
    rc = sg__store_put(st, key, kl, buf, vlen + il + 1,
                       now + cfg->camp_ttl_ms, now);
    return rc ? store_err(rc) : SG_OK;
}

/* Items of a list into items[max][width] (truncated to width - 1). */
static size_t list_read(sg_store *st, const char *id, const char *suffix,
                        int64_t now, char *items, size_t width, size_t max) {
    char key[64], buf[LIST_CAP];
    size_t kl = camp_key(key, id, suffix), vlen = 0, n = 0;
    if (sg__store_get(st, key, kl, buf, sizeof buf, &vlen, now)) return 0;
    if (vlen > sizeof buf) vlen = sizeof buf;
    for (size_t off = 0; off < vlen && n < max; n++) {
        size_t l = strnlen(buf + off, vlen - off);
        snprintf(items + n * width, width, "%.*s", (int)l, buf + off);
        off += l + 1;
    }
    return n;
}

/* ------------------------------------------------------------ receipts */

/* Keys under which a recipient remembers who sent it this cluster or a
 * link to this domain; returns how many (0..1 + ndomains). */
static size_t receipt_keys(const char *acct, const sg_campaign_msg *m,
                           char keys[][SG_BEHAV_KEY_CAP], size_t *lens) {
    size_t n = 0;
    char suffix[80];
    if (m->cluster) {
        char hex[17];
        sg__behav_hex64(m->cluster, hex);
        join3(suffix, sizeof suffix, ":f", hex, SIZE_MAX, "");
        lens[n] = sg__behav_key(keys[n], "rcv:", acct, suffix), n++;
    }
    for (size_t i = 0; i < m->ndomains; i++) {
        char hex[17];
        sg__behav_hex64(XXH3_64bits(m->domains[i], strlen(m->domains[i])),
                        hex);
        join3(suffix, sizeof suffix, ":d", hex, SIZE_MAX, "");
        lens[n] = sg__behav_key(keys[n], "rcv:", acct, suffix), n++;
    }
    return n;
}

/* The recipient of a message with a link remembers its sender. */
static int record_receipt(sg_store *st, const sg_behav_config *cfg,
                          const sg_campaign_msg *m) {
    char keys[5][SG_BEHAV_KEY_CAP];
    size_t lens[5];
    size_t n = receipt_keys(m->to, m, keys, lens);
    char val[64];
    size_t vl = join3(val, sizeof val, "-", m->from, 62, ""); /* '-': no edge yet */
    for (size_t i = 0; i < n; i++) {
        int rc = sg__store_put(st, keys[i], lens[i], val, vl,
                               m->now_ms + cfg->receipt_ttl_ms, m->now_ms);
        if (rc) return store_err(rc);
    }
    return SG_OK;
}

/* Did the sender receive this campaign before?  Fills hit->infected and
 * infected_by; *new_edge when the edge is seen for the first time (the
 * receipt is then marked '+'). */
static int check_receipt(sg_store *st, const sg_behav_config *cfg,
                         const sg_campaign_msg *m, sg_campaign_hit *hit,
                         bool *new_edge) {
    char keys[5][SG_BEHAV_KEY_CAP];
    size_t lens[5];
    size_t n = receipt_keys(m->from, m, keys, lens);
    char val[64];
    *new_edge = false;
    for (size_t i = 0; i < n && !hit->infected; i++) {
        int rc = get_str(st, keys[i], lens[i], val, sizeof val, m->now_ms);
        if (rc == SG_ENOTFOUND) continue;
        if (rc) return store_err(rc);
        hit->infected = true;
        join3(hit->infected_by, sizeof hit->infected_by, "", val + 1, SIZE_MAX, "");
        if (val[0] != '-') break;
        *new_edge = true;
        val[0] = '+';
        rc = sg__store_put(st, keys[i], lens[i], val, strlen(val),
                           m->now_ms + cfg->receipt_ttl_ms, m->now_ms);
        if (rc) return store_err(rc);
    }
    return SG_OK;
}

/* ------------------------------------------------------------ record */

static void set_bit(uint64_t *bits, uint64_t h) {
    bits[(h >> 6) & 3] |= 1ull << (h & 63);
}

static bool has_bit(const uint64_t *bits, uint64_t h) {
    return bits[(h >> 6) & 3] & (1ull << (h & 63));
}

/* The record as a read of "camp:<id>" (result rc, full length vlen) left
 * it in r: a fresh one starting at now when there is none. */
static int rec_read(int rc, size_t vlen, int64_t now, camp_rec *r) {
    if (rc == SG_OK && vlen != sizeof *r) rc = SG_ENOTFOUND;
    if (rc == SG_ENOTFOUND) {
        memset(r, 0, sizeof *r);
        r->first_ms = now;
    }
    return rc;
}

static int load_rec(sg_store *st, const char *id, int64_t now, camp_rec *r) {
    char key[64];
    size_t kl = camp_key(key, id, ""), vlen = 0;
    int rc = sg__store_get(st, key, kl, r, sizeof *r, &vlen, now);
    return rec_read(rc, vlen, now, r);
}

/* The counter as a read of "camp:<id>:l" (result rc, full length vlen)
 * left it in *n: 0 when there is none. */
static int locked_read(int rc, size_t vlen, int64_t *n) {
    if (rc == SG_ENOTFOUND || (rc == SG_OK && vlen != sizeof *n)) *n = 0;
    else if (rc) return store_err(rc);
    return SG_OK;
}

/* Senders of campaign id locked so far (the counter camp:<id>:l). */
static int locked_count(sg_store *st, const char *id, int64_t now,
                        int64_t *n) {
    char key[64];
    size_t kl = camp_key(key, id, ":l"), vlen = 0;
    *n = 0;
    int rc = sg__store_get(st, key, kl, n, sizeof *n, &vlen, now);
    return locked_read(rc, vlen, n);
}

static int save_rec(sg_store *st, const sg_behav_config *cfg, const char *id,
                    int64_t now, const camp_rec *r) {
    char key[64];
    size_t kl = camp_key(key, id, "");
    int rc = sg__store_put(st, key, kl, r, sizeof *r, now + cfg->camp_ttl_ms,
                           now);
    return rc ? store_err(rc) : SG_OK;
}

/* The record and the locked counter of campaign id into *r and *locked
 * (as load_rec and locked_count), its three lists read ahead into the
 * store's group, in one round trip on a store that batches. */
static int read_campaign(sg_store *st, const char *id, int64_t now,
                         camp_rec *r, int64_t *locked) {
    if (!st->ops->batch) {
        int rc = load_rec(st, id, now, r);
        if (rc && rc != SG_ENOTFOUND) return store_err(rc);
        return locked_count(st, id, now, locked);
    }
    char keys[5][64];
    static const char *const parts[5] = {"", ":s", ":u", ":e", ":l"};
    sg_store_op op[5];
    for (int i = 0; i < 5; i++) {
        size_t kl = camp_key(keys[i], id, parts[i]);
        op[i] = (sg_store_op){.op = SG_STORE_GET, .key = keys[i], .klen = kl};
    }
    op[0].buf = r, op[0].cap = sizeof *r;
    op[4].buf = locked, op[4].cap = sizeof *locked;
    *locked = 0;
    int rc = sg__store_batch(st, op, 5, now);
    if (rc) return store_err(rc);
    rc = rec_read(op[0].err, op[0].out_len, now, r);
    if (rc && rc != SG_ENOTFOUND) return store_err(rc);
    return locked_read(op[4].err, op[4].out_len, locked);
}

static uint32_t cap16(uint32_t v) {
    return v > 0xffff ? 0xffff : v;
}

/* A new record of the campaign m opens: the messages and the distinct
 * senders and recipients of the cluster (or young domain's links) so far,
 * not only this message, as opening_id found them, and the time of the
 * group's first message when its window record knows it. */
static void seed_opening(const sg_behav_config *cfg, const sg_campaign_msg *m,
                         camp_rec *r) {
    uint32_t snd = m->domain_group.senders, rcp = m->domain_group.recipients;
    int64_t first = m->domain_group.first_ms;
    if (m->cluster && (m->bulk_senders >= cfg->camp_min_senders ||
                       m->bulk_recipients >= cfg->camp_min_recipients)) {
        snd = m->bulk_senders, rcp = m->bulk_recipients;
        first = m->bulk_first_ms;
        if (m->bulk_msgs > 1) r->msgs = m->bulk_msgs - 1; /* ++ counts this one */
    }
    r->opened_by = cap16(snd) | cap16(rcp) << 16;
    if (first > 0 && first < r->first_ms) r->first_ms = first;
}

/* Distinct senders / recipients: the bitmap's estimate, at least what
 * opened the campaign. */
static uint32_t senders_of(const camp_rec *r) {
    uint32_t n = sg__behav_lincount(r->snd, 256), floor = r->opened_by & 0xffff;
    return n > floor ? n : floor;
}

static uint32_t recipients_of(const camp_rec *r) {
    uint32_t n = sg__behav_lincount(r->rcp, 256), floor = r->opened_by >> 16;
    return n > floor ? n : floor;
}

/* Count the message in the campaign and extend its lists. */
static int update_campaign(sg_store *st, const sg_behav_config *cfg,
                           const sg_campaign_msg *m, sg_campaign_hit *hit) {
    camp_rec r;
    int64_t locked = 0;
    int rc = read_campaign(st, hit->id, m->now_ms, &r, &locked);
    if (rc) return rc;
    if (r.msgs == 0 && r.last_ms == 0) seed_opening(cfg, m, &r); /* new */
    uint64_t fh = sg__behav_id_hash(m->from), th = sg__behav_id_hash(m->to);
    bool new_sender = !has_bit(r.snd, fh);
    bool new_edge = false;
    set_bit(r.snd, fh);
    set_bit(r.rcp, th);
    r.msgs++;
    if (m->now_ms > r.last_ms) r.last_ms = m->now_ms;
    if ((rc = check_receipt(st, cfg, m, hit, &new_edge))) return rc;
    if (new_edge) r.infections++;
    hit->confirmed = r.locked > 0 || locked > 0;
    hit->senders = senders_of(&r);
    if ((rc = save_rec(st, cfg, hit->id, m->now_ms, &r))) return rc;
    if (new_sender && (rc = list_add(st, cfg, hit->id, ":s", m->from, m->now_ms)))
        return rc;
    for (size_t i = 0; i < m->ndomains && !rc; i++)
        rc = list_add(st, cfg, hit->id, ":u", m->urls[i], m->now_ms);
    if (!rc && new_edge) {
        char edge[160];
        snprintf(edge, sizeof edge, "%.63s>%.63s", hit->infected_by, m->from);
        rc = list_add(st, cfg, hit->id, ":e", edge, m->now_ms);
    }
    return rc;
}

size_t sg__campaign_read_keys(const sg_campaign_msg *m, bool cluster_keys,
                              char (*keys)[SG_BEHAV_KEY_CAP], size_t *lens) {
    sg_campaign_msg sel = *m;
    size_t n = 0;
    if (cluster_keys) {
        if (!m->cluster || m->cluster_new) return 0;
        char hex[17];
        sg__behav_hex64(m->cluster, hex);
        lens[n] = join3(keys[n], SG_BEHAV_KEY_CAP, "cmap:f:", hex, SIZE_MAX, "");
        n++;
        sel.ndomains = 0;
    } else {
        if (!m->ndomains) return 0;
        lens[n] = join3(keys[n], SG_BEHAV_KEY_CAP, "dom:", m->domains[0], 255, "");
        n++;
        for (size_t i = 0; i < m->ndomains; i++, n++)
            lens[n] = join3(keys[n], SG_BEHAV_KEY_CAP, "cmap:d:", m->domains[i], 255, "");
        sel.cluster = 0;
    }
    return n + receipt_keys(m->from, &sel, keys + n, lens + n);
}

int sg__campaign_observe(sg_store *st, const sg_behav_config *cfg,
                         const sg_campaign_msg *m, sg_campaign_hit *hit) {
    memset(hit, 0, sizeof *hit);
    bool young = false;
    int rc = domain_young(st, cfg, m, &young);
    if (!rc && (rc = lookup(st, m, hit->id)) == SG_ENOTFOUND) {
        opening_id(cfg, m, young, hit->id);
        rc = SG_OK;
    }
    if (!rc && hit->id[0]) rc = update_campaign(st, cfg, m, hit);
    if (!rc && hit->id[0]) rc = map_to(st, cfg, m, hit->id);
    if (!rc && m->has_url) rc = record_receipt(st, cfg, m);
    return rc;
}

/* A counter, not a field of the record: two daemons that lock senders of
 * one campaign at once both count (HINCRBY on Redis), where rewriting the
 * record whole would let one overwrite the other's confirmation. */
int sg__campaign_confirm(sg_store *st, const sg_behav_config *cfg,
                         const char *id, int64_t now_ms) {
    camp_rec r;
    int rc = load_rec(st, id, now_ms, &r);
    if (rc) return rc == SG_ENOTFOUND ? rc : store_err(rc);
    char key[64];
    size_t kl = camp_key(key, id, ":l");
    int64_t n;
    rc = sg__store_incr(st, key, kl, 1, now_ms + cfg->camp_ttl_ms, now_ms, &n);
    return rc ? store_err(rc) : SG_OK;
}

int sg__campaign_info(sg_store *st, const char *id, int64_t now_ms,
                      sg_campaign_info *out) {
    memset(out, 0, sizeof *out);
    camp_rec r;
    int rc = load_rec(st, id, now_ms, &r);
    if (rc) return rc == SG_ENOTFOUND ? rc : store_err(rc);
    out->first_ms = r.first_ms;
    out->last_ms = r.last_ms;
    out->msgs = r.msgs;
    out->senders = senders_of(&r);
    out->recipients = recipients_of(&r);
    out->infections = r.infections;
    int64_t locked = 0;
    if ((rc = locked_count(st, id, now_ms, &locked))) return rc;
    out->locked = r.locked + (uint32_t)locked;
    out->nsender_ids = list_read(st, id, ":s", now_ms, out->sender_ids[0],
                                 sizeof out->sender_ids[0], SG_CAMPAIGN_LIST);
    out->nurls = list_read(st, id, ":u", now_ms, out->urls[0],
                           sizeof out->urls[0], SG_CAMPAIGN_LIST);
    char edges[SG_CAMPAIGN_LIST][160];
    out->nedges = list_read(st, id, ":e", now_ms, edges[0], sizeof edges[0],
                            SG_CAMPAIGN_LIST);
    for (size_t i = 0; i < out->nedges; i++) {
        char *gt = strchr(edges[i], '>');
        if (gt) *gt = '\0';
        snprintf(out->edges[i][0], 64, "%.63s", edges[i]);
        snprintf(out->edges[i][1], 64, "%.63s", gt ? gt + 1 : "");
    }
    return SG_OK;
}
