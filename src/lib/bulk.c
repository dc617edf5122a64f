/*
 * bulk.c -- the bulk detector (row sg__detector_bulk) and the per-message
 * behaviour record it shares with sender.c.  For each message: fingerprint
 * (fingerprint.c) -> cluster id through LSH band keys in the store ->
 * distinct senders and recipients of the cluster in a time window, like
 * DCC's counts (Distributed Checksum Clearinghouses, Rhyolite) -> campaign
 * (campaign.c).  Owns the behaviour config.  A message in a bulk cluster
 * gets the `bulk` label with a small weight: bulk alone is not spim.
 */
#include "behavior.h"

#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

typedef struct bulk_state {
    sg_behav_config cfg;
    sg_behav_msg rec;   /* the current message's record */
} bulk_state;

/* Distinct senders / recipients of one cluster in the current and the
 * previous window: 128-bit linear-counting bitmaps.  88 bytes per cluster,
 * key "fpw:<cluster hex>", expiring two windows after its start. */
typedef struct bulk_win {
    int64_t start;      /* start of the current window, ms */
    uint32_t msgs[2];   /* [0] current window, [1] previous */
    uint64_t snd[2][2];
    uint64_t rcp[2][2];
    int64_t first_ms;   /* the group's first message since the record was
                           made, ms; 0 = unknown */
} bulk_win;

/* Records written before first_ms was kept: the same fields without it. */
#define BULK_WIN_V1 offsetof(bulk_win, first_ms)

void sg__behav_config_default(sg_behav_config *c) {
    const int64_t min = 60 * 1000, hour = 60 * min, day = 24 * hour;
    *c = (sg_behav_config){
        .fp_ttl_ms = day,
        .bulk_window_ms = hour,
        .bulk_senders = 3,
        .bulk_recipients = 20,
        .bulk_weight = 0.5,
        .camp_ttl_ms = 7 * day,
        .receipt_ttl_ms = 3 * day,
        .camp_min_senders = 2,
        .camp_min_recipients = 3,
        .young_domain_ms = 3 * day,
        .domain_memory_ms = 30 * day,
        .profile_ttl_ms = 90 * day,
        .profile_min_msgs = 10,
        .profile_min_age_ms = 2 * day,
        .rare_share = 0.03,
        .burst_gap_ms = 6 * hour,
        .fanout_window_ms = hour,
        .rate_per_min = 20,
        .rate_burst = 60,
        .w_new_client = 1.0,
        .w_new_network = 0.5,
        .w_url_never = 1.0,
        .w_odd_hour = 0.5,
        .w_other_script = 1.0,
        .w_odd_length = 0.25,
        .w_bad_url = 1.5,
        .w_phishing = 1.0,
        .w_no_profile = 0.5,
        .w_infected = 1.0,
        .w_confirmed = 1.0,
        .lock_fanout = 3,
        .lock_points = 2.5,
        .nolink_extra_points = 0.5,
        .worm_points = 2.5,
        .compromised_weight = 6.0,
        .new_account_ms = 2 * day,
        .spim_throttle_fanout = 5,
        .spim_suspend_fanout = 15,
        .stranger_share = 0.5,
        .spim_weight = 2.0,
    };
}

/* ------------------------------------------------------------ helpers */

size_t sg__behav_key(char *buf, const char *prefix, const char *id,
                     const char *suffix) {
    size_t pl = strlen(prefix), il = strlen(id), sl = strlen(suffix);
    char hashed[18];
    if (il > SG_BEHAV_MAX_ID) {
        hashed[0] = '#';
        sg__behav_hex64(XXH3_64bits(id, il), hashed + 1);
        id = hashed;
        il = 17;
    }
    if (sl > 64) sl = 64;
    size_t n = 0;
    memcpy(buf + n, prefix, pl), n += pl;
    buf[n++] = '{';
    memcpy(buf + n, id, il), n += il;
    buf[n++] = '}';
    memcpy(buf + n, suffix, sl), n += sl;
    buf[n] = '\0';
    return n;
}

uint64_t sg__behav_id_hash(const char *id) {
    return XXH3_64bits(id, strlen(id));
}

/* Bits set in x (SWAR; the builtin is a library call on baseline x86-64). */
static unsigned popcount64(uint64_t x) {
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

/* The linear-counting estimate for `ones` bits set of nbits. */
static uint32_t lincount_of(unsigned ones, unsigned nbits) {
    double m = nbits, zeros = nbits - ones;
    double n = zeros > 0 ? -m * log(zeros / m) : m * log(m);
    return (uint32_t)(n + 0.5);
}

/* lincount_of for the bitmaps in use (64, 128 and 256 bits), computed
 * once: a message counts several, and log() was a visible share of the
 * judge phase. */
static uint32_t lincount64[65], lincount128[129], lincount256[257];
static pthread_once_t lincount_once = PTHREAD_ONCE_INIT;

static void lincount_tables(void) {
    for (unsigned i = 0; i <= 64; i++) lincount64[i] = lincount_of(i, 64);
    for (unsigned i = 0; i <= 128; i++) lincount128[i] = lincount_of(i, 128);
    for (unsigned i = 0; i <= 256; i++) lincount256[i] = lincount_of(i, 256);
}

uint32_t sg__behav_lincount(const uint64_t *bits, unsigned nbits) {
    unsigned ones = 0;
    for (unsigned i = 0; i < nbits / 64; i++)
        ones += popcount64(bits[i]);
    if (nbits != 64 && nbits != 128 && nbits != 256) return lincount_of(ones, nbits);
    pthread_once(&lincount_once, lincount_tables);
    return nbits == 64 ? lincount64[ones] : nbits == 128 ? lincount128[ones]
                                                         : lincount256[ones];
}

bool sg__behav_domain_eligible(const sg_url *u) {
    return u->registrable && u->registrable[0] &&
           !(u->flags & (SG_URL_IP | SG_URL_SHORTENER));
}

static int store_err(int rc) {
    return rc == SG_ENOMEM ? SG_ENOMEM : SG_ESTORE;
}

/* ------------------------------------------------------------ clusters */

/* A band key's value: the cluster it points to and when it was written. */
typedef struct band_val {
    uint64_t cluster;
    int64_t written_ms;
} band_val;

/* The values of a fingerprint's band keys as one batch read them
 * (prefetch_message), so that assign_cluster need not read them again. */
typedef struct band_read {
    bool done;                  /* false: nothing read yet */
    band_val v[SG_FP_BANDS];
    size_t len[SG_FP_BANDS];    /* full value lengths (out_len) */
    int err[SG_FP_BANDS];       /* each read's result */
} band_read;

/* Key "fpb:<hex band>" into key (21 bytes). */
static void band_key(char *key, uint64_t band) {
    memcpy(key, "fpb:", 4);
    sg__behav_hex64(band, key + 4);
}

/* Read the band keys of fp into br (one batch, one round trip). */
static int read_bands(sg_store *st, const sg_fingerprint *fp, int64_t now,
                      band_read *br) {
    char key[SG_FP_BANDS][4 + 17];
    sg_store_op op[SG_FP_BANDS];
    for (int b = 0; b < SG_FP_BANDS; b++) {
        band_key(key[b], fp->band[b]);
        op[b] = (sg_store_op){.op = SG_STORE_GET, .key = key[b], .klen = 20,
                              .buf = &br->v[b], .cap = sizeof br->v[b]};
    }
    int rc = sg__store_batch(st, op, SG_FP_BANDS, now);
    if (rc) return store_err(rc);
    for (int b = 0; b < SG_FP_BANDS; b++)
        br->err[b] = op[b].err, br->len[b] = op[b].out_len;
    br->done = true;
    return SG_OK;
}

/* Cluster id of a fingerprint: the id any of its bands already points to
 * (first in band order), else (*is_new) its first band key; then every band
 * points
 * to it for fp_ttl_ms more (bands already pointing there and written in the
 * last quarter of the TTL are left alone, to save writes).  Variants thus
 * join the cluster of the first message they resemble, and the id never
 * changes while the cluster lives.  br: the bands' values when the
 * message's first batch read them (nothing was written since), else read
 * here. */
static int assign_cluster(sg_store *st, const sg_behav_config *cfg,
                          const sg_fingerprint *fp, int64_t now,
                          band_read *br, uint64_t *cluster, bool *is_new) {
    char key[SG_FP_BANDS][4 + 17];
    band_val *v = br->v, nv;
    sg_store_op op[SG_FP_BANDS];
    int rc = br->done ? SG_OK : read_bands(st, fp, now, br);
    if (rc) return rc;
    uint64_t id = 0;
    for (int b = 0; b < SG_FP_BANDS; b++) {
        if (br->err[b] == SG_OK && br->len[b] != sizeof v[b]) br->err[b] = SG_ENOTFOUND;
        if (br->err[b] == SG_ENOTFOUND) v[b].cluster = 0;
        else if (br->err[b]) return store_err(br->err[b]);
        if (!id) id = v[b].cluster;
    }
    *is_new = !id;
    if (!id) id = fp->band[0];
    nv = (band_val){id, now};
    size_t n = 0;
    for (int b = 0; b < SG_FP_BANDS; b++) {
        if (v[b].cluster == id && now - v[b].written_ms < cfg->fp_ttl_ms / 4)
            continue;
        band_key(key[n], fp->band[b]);
        op[n] = (sg_store_op){.op = SG_STORE_PUT, .key = key[n], .klen = 20,
                              .val = &nv, .vlen = sizeof nv,
                              .expire_at_ms = now + cfg->fp_ttl_ms};
        n++;
    }
    if (n && (rc = sg__store_batch(st, op, n, now))) return store_err(rc);
    for (size_t i = 0; i < n; i++)
        if (op[i].err) return store_err(op[i].err);
    *cluster = id;
    return SG_OK;
}

static void set_bit(uint64_t *bits, uint64_t h) {
    bits[(h >> 6) & 1] |= 1ull << (h & 63);
}

/* Slide the window record to the window that holds now. */
static void slide(bulk_win *w, int64_t now, int64_t len) {
    int64_t start = now - now % len;
    if (start <= w->start) return; /* same window, or an older message */
    if (start - w->start == len) {
        w->msgs[1] = w->msgs[0];
        memcpy(w->snd[1], w->snd[0], sizeof w->snd[0]);
        memcpy(w->rcp[1], w->rcp[0], sizeof w->rcp[0]);
    } else {
        w->msgs[1] = 0;
        memset(w->snd[1], 0, sizeof w->snd[1]);
        memset(w->rcp[1], 0, sizeof w->rcp[1]);
    }
    w->msgs[0] = 0;
    memset(w->snd[0], 0, sizeof w->snd[0]);
    memset(w->rcp[0], 0, sizeof w->rcp[0]);
    w->start = start;
}

/* Distinct senders and recipients of a group of messages (a text cluster,
 * or all links to one landing domain) in its window, this message counted. */
typedef struct bulk_count {
    uint32_t senders, recipients, msgs;
    int64_t first_ms;   /* the group's first message in its record, 0 = unknown */
} bulk_count;

/* A window record as the cluster's batch read it (prefetch_cluster). */
typedef struct win_read {
    bool done;          /* false: not read */
    int err;            /* the read's result */
    size_t len;         /* full value length */
    bulk_win w;
} win_read;

/* wr: the record read ahead with nothing written since, or NULL. */
static int count_window(sg_store *st, const sg_behav_config *cfg, uint64_t id,
                        bool is_new, const sg_behav_msg *rec, int64_t now,
                        const win_read *wr, bulk_count *out) {
    char key[4 + 17];
    memcpy(key, "fpw:", 4);
    sg__behav_hex64(id, key + 4);
    bulk_win w;
    size_t vlen = 0;
    int rc;
    if (is_new) {
        rc = SG_ENOTFOUND; /* a new cluster has no counts yet */
    } else if (wr && wr->done) {
        rc = wr->err, vlen = wr->len;
        memcpy(&w, &wr->w, sizeof w);
    } else {
        rc = sg__store_get(st, key, 20, &w, sizeof w, &vlen, now);
    }
    if (rc == SG_ENOTFOUND ||
        (rc == SG_OK && vlen != sizeof w && vlen != BULK_WIN_V1)) {
        memset(&w, 0, sizeof w);
        w.first_ms = now;
    } else if (rc) {
        return store_err(rc);
    } else if (vlen == BULK_WIN_V1) {
        w.first_ms = 0; /* written by a version that did not keep it */
    } else if (w.first_ms > now) {
        w.first_ms = now; /* a message older than the first one seen */
    }
    int64_t len = cfg->bulk_window_ms > 0 ? cfg->bulk_window_ms : 1;
    slide(&w, now, len);
    w.msgs[0]++;
    set_bit(w.snd[0], rec->from_hash);
    set_bit(w.rcp[0], rec->to_hash);
    uint64_t snd[2] = {w.snd[0][0] | w.snd[1][0], w.snd[0][1] | w.snd[1][1]};
    uint64_t rcp[2] = {w.rcp[0][0] | w.rcp[1][0], w.rcp[0][1] | w.rcp[1][1]};
    out->senders = sg__behav_lincount(snd, 128);
    out->recipients = sg__behav_lincount(rcp, 128);
    out->msgs = w.msgs[0] + w.msgs[1];
    out->first_ms = w.first_ms;
    rc = sg__store_put(st, key, 20, &w, sizeof w, w.start + 2 * len, now);
    return rc ? store_err(rc) : SG_OK;
}

/* ------------------------------------------------------------ record */

static int find_slot(void) {
    for (size_t i = 0; i < sg__ndetectors; i++)
        if (sg__detectors[i] == &sg__detector_bulk) return (int)i;
    return -1;
}

sg_behav_config *sg__behav_config(sg_engine *eng) {
    int slot = find_slot();
    if (!eng || slot < 0 || !eng->det_state[slot]) return NULL;
    return &((bulk_state *)eng->det_state[slot])->cfg;
}

static void campaign_input(sg_ctx *c, const sg_behav_msg *rec,
                           sg_campaign_msg *m) {
    memset(m, 0, sizeof *m);
    m->from = c->msg->from;
    m->to = c->msg->to;
    m->cluster = rec->cluster;
    m->has_url = rec->has_url;
    m->bulk_senders = rec->senders;
    m->bulk_recipients = rec->recipients;
    m->bulk_msgs = rec->msgs;
    m->bulk_first_ms = rec->first_ms;
    m->domain_group = rec->domain_group;
    m->now_ms = c->now_ms;
    const sg_urlset *u = sg__ctx_urls(c);
    for (size_t i = 0; i < u->n && m->ndomains < 4; i++) {
        if (!sg__behav_domain_eligible(&u->v[i])) continue;
        size_t j = 0;
        while (j < m->ndomains && strcmp(m->domains[j], u->v[i].registrable))
            j++;
        if (j < m->ndomains) continue;
        m->urls[m->ndomains] = u->v[i].url;
        m->domains[m->ndomains++] = u->v[i].registrable;
    }
}

/* Key "fpw:<hex id>" of a window record into key (21 bytes). */
static void window_key(char *key, uint64_t id) {
    memcpy(key, "fpw:", 4);
    sg__behav_hex64(id, key + 4);
}

/* Id of the window record of all links to a landing domain. */
static uint64_t domain_group_id(const char *domain) {
    uint64_t d = XXH3_64bits_withSeed(domain, strlen(domain), 0x646f6d); /* "dom" */
    return d ? d : 1;
}

/* Keys of a campaign's record and lists (campaign.c's update_campaign
 * reads them; docs/storage.md "Key schema").  @return how many (5). */
#define CAMPAIGN_KEYS 5
static size_t campaign_keys(const char *id, char (*keys)[SG_BEHAV_KEY_CAP],
                            size_t *lens) {
    static const char *const parts[CAMPAIGN_KEYS] = {"", ":s", ":u", ":e", ":l"};
    size_t il = strnlen(id, SG_CAMPAIGN_ID_LEN - 1);
    for (int p = 0; p < CAMPAIGN_KEYS; p++) {
        size_t pl = strlen(parts[p]);
        memcpy(keys[p], "camp:", 5);
        memcpy(keys[p] + 5, id, il);
        memcpy(keys[p] + 5 + il, parts[p], pl + 1);
        lens[p] = 5 + il + pl;
    }
    return CAMPAIGN_KEYS;
}

/* Id of the campaign a cluster opens (campaign.c's opening_id:
 * "c%012llx" of cluster >> 16): what a known cluster's text most often
 * belongs to. */
static void cluster_campaign_id(uint64_t cluster, char id[SG_CAMPAIGN_ID_LEN]) {
    char hex[17];
    sg__behav_hex64(cluster >> 16, hex); /* 48 bits: 4 leading zeros */
    id[0] = 'c';
    memcpy(id + 1, hex + 4, 13);
}

/* Keys of the second round trip (prefetch_cluster) for cluster cl: its
 * window record (first), what the campaign stage reads about it, and the
 * keys of the campaign it opens.  @return how many (at most
 * CLUSTER_KEYS). */
#define CLUSTER_KEYS (1 + SG_CAMPAIGN_READ_KEYS + CAMPAIGN_KEYS)
static size_t cluster_keys(const sg_campaign_msg *m, uint64_t cl,
                           char (*keys)[SG_BEHAV_KEY_CAP], size_t *lens) {
    sg_campaign_msg sel = *m;
    char id[SG_CAMPAIGN_ID_LEN];
    size_t n = 0;
    sel.cluster = cl;
    sel.cluster_new = false;
    window_key(keys[n], cl), lens[n++] = 20;
    n += sg__campaign_read_keys(&sel, true, keys + n, lens + n);
    cluster_campaign_id(cl, id);
    return n + campaign_keys(id, keys + n, lens + n);
}

/* Most keys of a message's first round trip (first_keys). */
#define FIRST_KEYS (SG_FP_BANDS + 2 + SG_CAMPAIGN_READ_KEYS + CLUSTER_KEYS)

/* The keys of a message's first round trip: its fingerprint's band keys,
 * the sender's state (keys[*sender]: watched, it is rewritten whole),
 * what the campaign stage will read about its landing domains, and, with
 * `ahead`, from keys[*spec] on, the second round trip's keys for the
 * cluster of the text's first band (cluster_keys): a text sent before
 * verbatim has the same bands, so its cluster is the one its first
 * message opened -- read before the bands tell, to save the second round
 * trip (a variant or a new text reads them for nothing).  @return how
 * many (at most FIRST_KEYS); *spec == the count when there are no such
 * keys. */
static size_t first_keys(const sg_ctx *c, const sg_fingerprint *fp,
                         const sg_campaign_msg *m, bool ahead,
                         char (*keys)[SG_BEHAV_KEY_CAP], size_t *lens,
                         size_t *sender, size_t *spec) {
    size_t n = 0;
    for (int b = 0; fp->valid && b < SG_FP_BANDS; b++, n++) {
        memcpy(keys[n], "fpb:", 4);
        sg__behav_hex64(fp->band[b], keys[n] + 4);
        lens[n] = 20;
    }
    *sender = n;
    lens[n] = sg__sender_key(keys[n], c->msg->from);
    n++;
    if (m->ndomains) window_key(keys[n], domain_group_id(m->domains[0])), lens[n++] = 20;
    n += sg__campaign_read_keys(m, false, keys + n, lens + n);
    *spec = n;
    if (ahead && fp->valid) n += cluster_keys(m, fp->band[0], keys + n, lens + n);
    return n;
}

/* First round trip of a message on a store that batches (first_keys); it
 * finds nothing to read when sg__behav_prefetch_batch came first.  The
 * band values it reads go to br (assign_cluster's reads) and the window
 * record of the first band's cluster to wr (count_window's read, once the
 * bands confirm that cluster; *spec tells that these keys were read);
 * the other values stay in the store's group for the stages' own gets. */
static int prefetch_message(sg_store *st, sg_ctx *c, const sg_behav_msg *rec,
                            const sg_campaign_msg *m, band_read *br,
                            win_read *wr, bool *spec) {
    char keys[FIRST_KEYS][SG_BEHAV_KEY_CAP];
    size_t lens[FIRST_KEYS], sender, sp;
    sg_store_op op[FIRST_KEYS];
    if (!st->ops->batch) return SG_OK;
    /* the second trip's keys ahead only on a store in this process (no
     * other writer to watch for): there they cost a few more lookups, and
     * a remote store's trips stay as its read-ahead rounds expect */
    size_t n = first_keys(c, &rec->fp, m, !st->ops->watch, keys, lens, &sender, &sp);
    int rc = sg__store_watch(st, keys[sender], lens[sender], c->now_ms);
    if (rc) return store_err(rc);
    for (size_t i = 0; i < n; i++) /* the first `sender` keys are the bands */
        op[i] = (sg_store_op){.op = SG_STORE_GET, .key = keys[i], .klen = lens[i],
                              .buf = i < sender ? &br->v[i] : NULL,
                              .cap = i < sender ? sizeof br->v[i] : 0};
    if (sp < n) op[sp].buf = &wr->w, op[sp].cap = sizeof wr->w;
    if ((rc = sg__store_batch(st, op, n, c->now_ms))) return store_err(rc);
    for (size_t i = 0; i < sender; i++)
        br->err[i] = op[i].err, br->len[i] = op[i].out_len;
    br->done = sender == SG_FP_BANDS;
    if (sp < n) wr->err = op[sp].err, wr->len = op[sp].out_len;
    *spec = sp < n;
    return SG_OK;
}

/* The prefetch of one prepared message into the batch's key arena: its
 * first_keys, the sender's watched; *bands gets how many of them are band
 * keys (first, in band order).  @return SG_OK, or the watch's error. */
static int batch_one(sg_engine *eng, int slot, sg_ctx *c, int64_t now,
                     sg_buf *arena, size_t *lens, size_t *nkeys,
                     size_t *bands) {
    char keys[FIRST_KEYS][SG_BEHAV_KEY_CAP];
    sg_fingerprint fp;
    sg_behav_msg rec = {0};
    sg_campaign_msg m;
    if (c->prep[slot]) memcpy(&fp, c->prep[slot], sizeof fp);
    else if (sg__fingerprint(c->norm.text, c->norm.len, &fp)) fp.valid = false;
    rec.has_url = sg__ctx_urls(c)->n > 0;
    campaign_input(c, &rec, &m);
    size_t sender, sp, n = first_keys(c, &fp, &m, false, keys, lens + *nkeys, &sender, &sp);
    int rc = sg__store_watch(eng->store, keys[sender], lens[*nkeys + sender], now);
    for (size_t i = 0; !rc && i < n; i++)
        if (sg__buf_append(arena, keys[i], lens[*nkeys + i])) rc = SG_ENOMEM;
    if (!rc) *nkeys += n;
    *bands = sender;
    return rc;
}

/* The cluster a message's bands point to, from their values read ahead
 * (as assign_cluster finds it: the first band that points somewhere);
 * 0 when none does (a new text: nothing of its cluster to read). */
static uint64_t cluster_of(const sg_store_op *op, size_t nbands) {
    for (size_t b = 0; b < nbands; b++) {
        const band_val *v = op[b].buf;
        if (op[b].err == SG_OK && op[b].out_len == sizeof *v && v->cluster)
            return v->cluster;
    }
    return 0;
}

/* Round 2 of the batch read-ahead: for each message whose text is in a
 * known cluster, what prefetch_cluster would read for it (cluster_keys:
 * the cluster's window, campaign map, the sender's receipt and the keys
 * of the campaign the cluster opens), all in one batch.  A
 * message whose cluster an earlier message of the batch creates reads its
 * own in its judge step, as without the read-ahead. */
static int batch_clusters(sg_store *st, sg_ctx *cs, size_t n,
                          const size_t *first, const size_t *nbands,
                          const sg_store_op *op1, uint64_t *cl, int64_t now) {
    size_t cap = n * CLUSTER_KEYS, nk = 0;
    char (*keys)[SG_BEHAV_KEY_CAP] = sg__malloc(cap * sizeof *keys);
    size_t *lens = sg__malloc(cap * sizeof *lens);
    sg_store_op *op = sg__malloc(cap * sizeof *op);
    int rc = keys && lens && op ? SG_OK : SG_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        uint64_t id = nbands[i] ? cluster_of(op1 + first[i], nbands[i]) : 0;
        cl[i] = id;
        if (!id) continue;
        sg_behav_msg rec = {.has_url = sg__ctx_urls(&cs[i])->n > 0, .cluster = id};
        sg_campaign_msg m;
        campaign_input(&cs[i], &rec, &m);
        nk += cluster_keys(&m, id, keys + nk, lens + nk);
    }
    for (size_t i = 0; !rc && i < nk; i++)
        op[i] = (sg_store_op){.op = SG_STORE_GET, .key = keys[i], .klen = lens[i]};
    if (!rc && nk) rc = sg__store_batch(st, op, nk, now);
    sg__free(keys);
    sg__free(lens);
    sg__free(op);
    return rc;
}

/* The campaign a message's text or landing domains map to, as campaign.c's
 * lookup finds it ("cmap:f:<cluster>", then "cmap:d:<domain>"), from the
 * group: rounds 1 and 2 of the read-ahead read those keys.  "" if none. */
static void campaign_of(sg_store *st, const sg_campaign_msg *m, uint64_t cl,
                        char id[SG_CAMPAIGN_ID_LEN]) {
    char key[SG_BEHAV_KEY_CAP];
    size_t vlen = 0;
    int rc = SG_ENOTFOUND;
    id[0] = '\0';
    if (cl) {
        memcpy(key, "cmap:f:", 7);
        sg__behav_hex64(cl, key + 7);
        rc = sg__store_get(st, key, 23, id, SG_CAMPAIGN_ID_LEN - 1, &vlen, m->now_ms);
    }
    for (size_t i = 0; rc == SG_ENOTFOUND && i < m->ndomains; i++) {
        size_t kl = (size_t)snprintf(key, sizeof key, "cmap:d:%.255s", m->domains[i]);
        rc = sg__store_get(st, key, kl, id, SG_CAMPAIGN_ID_LEN - 1, &vlen, m->now_ms);
    }
    id[rc == SG_OK && vlen < SG_CAMPAIGN_ID_LEN ? vlen : 0] = '\0';
}

/* Round 3 of the batch read-ahead: the record and lists of every campaign
 * the batch's messages map to -- the keys campaign.c's update_campaign
 * reads in one round trip per message ("camp:<id>", ":s", ":u", ":e",
 * ":l"; docs/storage.md "Key schema") -- once per campaign. */
static int batch_campaigns(sg_store *st, sg_ctx *cs, size_t n,
                           const uint64_t *cl, int64_t now) {
    static const char *const parts[5] = {"", ":s", ":u", ":e", ":l"};
    char (*ids)[SG_CAMPAIGN_ID_LEN] = sg__malloc(n * sizeof *ids);
    char (*keys)[24] = sg__malloc(5 * n * sizeof *keys);
    sg_store_op *op = sg__malloc(5 * n * sizeof *op);
    size_t nid = 0, nk = 0;
    int rc = ids && keys && op ? SG_OK : SG_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        if (!cs[i].msg || cs[i].prep_rc != SG_OK) continue;
        sg_behav_msg rec = {.has_url = sg__ctx_urls(&cs[i])->n > 0, .cluster = cl[i]};
        sg_campaign_msg m;
        campaign_input(&cs[i], &rec, &m);
        campaign_of(st, &m, cl[i], ids[nid]);
        bool seen = !ids[nid][0];
        for (size_t j = 0; j < nid && !seen; j++) seen = !strcmp(ids[j], ids[nid]);
        if (seen) continue;
        for (int p = 0; p < 5; p++, nk++) {
            size_t kl = (size_t)snprintf(keys[nk], sizeof keys[nk], "camp:%s%s", ids[nid], parts[p]);
            op[nk] = (sg_store_op){.op = SG_STORE_GET, .key = keys[nk], .klen = kl};
        }
        nid++;
    }
    if (!rc && nk) rc = sg__store_batch(st, op, nk, now);
    sg__free(ids);
    sg__free(keys);
    sg__free(op);
    return rc;
}

/* Earliest message time of the batch's prepared messages. */
static int64_t batch_now(const sg_engine *eng, const sg_ctx *cs, size_t n) {
    int64_t now = INT64_MAX; /* the earliest: later reads re-check expiry */
    for (size_t i = 0; i < n; i++)
        if (cs[i].msg && cs[i].prep_rc == SG_OK) {
            int64_t t = sg_message_ts(cs[i].msg);
            if (!t) t = eng->clock_ms;
            if (t < now) now = t;
        }
    return now;
}

int sg__behav_prefetch_batch(sg_engine *eng, sg_ctx *cs, size_t n) {
    int slot = find_slot();
    sg_store *st = eng ? eng->store : NULL;
    if (!st || !st->ops->batch || slot < 0 || n == 0) return SG_OK;
    int64_t now = batch_now(eng, cs, n);
    size_t *lens = sg__malloc(n * (FIRST_KEYS + 2) * sizeof *lens), nkeys = 0;
    size_t *first = lens ? lens + n * FIRST_KEYS : NULL, *nbands = first + n;
    uint64_t *cl = sg__calloc(n, sizeof *cl);
    sg_buf arena = {0};
    int rc = lens && cl ? SG_OK : SG_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        first[i] = nkeys, nbands[i] = 0;
        if (cs[i].msg && cs[i].prep_rc == SG_OK)
            rc = batch_one(eng, slot, &cs[i], now, &arena, lens, &nkeys, &nbands[i]);
    }
    sg_store_op *op = rc ? NULL : sg__malloc((nkeys ? nkeys : 1) * sizeof *op);
    band_val *bv = rc ? NULL : sg__malloc((nkeys ? nkeys : 1) * sizeof *bv);
    if (!rc && (!op || !bv)) rc = SG_ENOMEM;
    for (size_t i = 0, off = 0; !rc && i < nkeys; off += lens[i++])
        op[i] = (sg_store_op){.op = SG_STORE_GET, .key = arena.p + off,
                              .klen = lens[i], .buf = &bv[i], .cap = sizeof bv[i]};
    if (!rc && nkeys) rc = sg__store_batch(st, op, nkeys, now);
    if (!rc && nkeys) rc = batch_clusters(st, cs, n, first, nbands, op, cl, now);
    if (!rc && nkeys) rc = batch_campaigns(st, cs, n, cl, now);
    sg__free(cl);
    sg__free(op);
    sg__free(bv);
    sg__free(lens);
    sg__buf_free(&arena);
    return rc ? store_err(rc) : SG_OK;
}

/* Second round trip, once the cluster is known (cluster_keys): its window
 * record (into wr, for count_window), what the campaign stage will read
 * about it, and the keys of the campaign the cluster opens -- read before
 * the stage knows it is that one (its cmap:f read is in this same trip),
 * so that its own read of them finds them. */
static int prefetch_cluster(sg_store *st, const sg_campaign_msg *m,
                            win_read *wr) {
    char keys[CLUSTER_KEYS][SG_BEHAV_KEY_CAP];
    size_t lens[CLUSTER_KEYS];
    sg_store_op op[CLUSTER_KEYS];
    if (!st->ops->batch || !m->cluster || m->cluster_new) return SG_OK;
    size_t n = cluster_keys(m, m->cluster, keys, lens);
    for (size_t i = 0; i < n; i++)
        op[i] = (sg_store_op){.op = SG_STORE_GET, .key = keys[i], .klen = lens[i]};
    op[0].buf = &wr->w, op[0].cap = sizeof wr->w;
    int rc = sg__store_batch(st, op, n, m->now_ms);
    if (rc) return store_err(rc);
    wr->done = true, wr->err = op[0].err, wr->len = op[0].out_len;
    return SG_OK;
}

static int build_record(bulk_state *bs, sg_ctx *c, int slot) {
    sg_behav_msg *rec = &bs->rec;
    sg_store *st = c->eng->store;
    memset(rec, 0, sizeof *rec);
    rec->from_hash = sg__behav_id_hash(c->msg->from);
    rec->to_hash = sg__behav_id_hash(c->msg->to);
    const sg_urlset *urls = sg__ctx_urls(c);
    rec->has_url = urls->n > 0;
    int rc = SG_OK;
    if (c->prep[slot]) /* bulk_prepare made it (outside the engine lock) */
        memcpy(&rec->fp, c->prep[slot], sizeof rec->fp);
    else
        rc = sg__fingerprint(c->norm.text, c->norm.len, &rec->fp);
    sg_campaign_msg m;
    campaign_input(c, rec, &m);
    band_read br;
    win_read wr;
    bool spec = false;
    br.done = wr.done = false;
    if (!rc) rc = prefetch_message(st, c, rec, &m, &br, &wr, &spec);
    bool is_new = false;
    if (!rc && rec->fp.valid)
        rc = assign_cluster(st, &bs->cfg, &rec->fp, c->now_ms, &br,
                            &rec->cluster, &is_new);
    m.cluster = rec->cluster;
    m.cluster_new = is_new;
    if (spec && !is_new && rec->cluster == rec->fp.band[0])
        wr.done = true; /* the first round trip read the second's keys */
    else if (!rc)
        rc = prefetch_cluster(st, &m, &wr);
    bulk_count n = {0};
    if (!rc && rec->cluster)
        rc = count_window(st, &bs->cfg, rec->cluster, is_new, rec, c->now_ms,
                          &wr, &n);
    rec->senders = n.senders, rec->recipients = n.recipients, rec->msgs = n.msgs;
    rec->first_ms = n.first_ms;
    campaign_input(c, rec, &m);
    if (!rc && m.ndomains) {
        uint64_t d = domain_group_id(m.domains[0]);
        rec->domain_hash = d == 1 ? 0 : (uint32_t)d;
        rc = count_window(st, &bs->cfg, d, false, rec, c->now_ms, NULL, &n);
        rec->domain_group = (sg_group_count){d, n.senders, n.recipients, n.first_ms};
        m.domain_group = rec->domain_group;
    }
    m.cluster_new = is_new;
    /* a text never seen before, without links, can be in no campaign yet */
    if (!rc && ((rec->cluster && !is_new) || m.ndomains || m.has_url))
        rc = sg__campaign_observe(st, &bs->cfg, &m, &rec->camp);
    if (!rc && rec->camp.id[0]) rc = sg__ctx_set_campaign(c, rec->camp.id);
    return rc;
}

const sg_behav_msg *sg__behav_msg(sg_ctx *c, int *err) {
    *err = SG_OK;
    int slot = find_slot();
    if (slot < 0 || !c->eng->det_state[slot]) return NULL;
    bulk_state *bs = c->eng->det_state[slot];
    if (c->stage[slot] == &bs->rec) return &bs->rec;
    if ((*err = build_record(bs, c, slot))) return NULL;
    c->stage[slot] = &bs->rec;
    return &bs->rec;
}

/* ------------------------------------------------------------ detector */

static int bulk_init(sg_engine *eng, void **state) {
    bulk_state *bs = sg__calloc(1, sizeof *bs);
    if (!bs) return SG_ENOMEM;
    sg__behav_config_default(&bs->cfg);
    *state = bs;
    return SG_OK;
}

/* The stateless part: the text's fingerprint (pure, fingerprint.c), kept
 * in c->prep[slot] for build_record. */
static int bulk_prepare(void *state, sg_ctx *c) {
    (void)state;
    int slot = find_slot();
    if (slot < 0) return SG_OK;
    sg_fingerprint *fp = sg__malloc(sizeof *fp);
    if (!fp) return SG_ENOMEM;
    int rc = sg__fingerprint(c->norm.text, c->norm.len, fp);
    if (rc) { sg__free(fp); return rc; }
    sg__free(c->prep[slot]);
    c->prep[slot] = fp;
    return SG_OK;
}

static int bulk_check(void *state, sg_ctx *c) {
    bulk_state *bs = state;
    int rc;
    const sg_behav_msg *rec = sg__behav_msg(c, &rc);
    if (!rec) return rc;
    if (!rec->cluster) return SG_OK;
    if (rec->senders < bs->cfg.bulk_senders &&
        rec->recipients < bs->cfg.bulk_recipients)
        return SG_OK;
    return sg__ctx_signal(c, "BULK", bs->cfg.bulk_weight, SG_LABEL_BULK,
                          "near-duplicate text sent by ~%u senders to ~%u "
                          "recipients in the last 1-2 h",
                          rec->senders, rec->recipients);
}

static void bulk_free(void *state) { sg__free(state); }

const sg_detector sg__detector_bulk = {
    .name = "bulk",
    .init = bulk_init,
    .prepare = bulk_prepare,
    .check = bulk_check,
    .learn = NULL,
    .free = bulk_free,
};
