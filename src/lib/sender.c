/*
 * sender.c -- the sender detector (row sg__detector_sender): one 128-byte
 * profile per account in the store ("acct:{id}") and two judgements on it.
 *  - Compromise, after COMPA (Egele, Stringhini, Kruegel & Vigna, "COMPA:
 *    Detecting Compromised Accounts on Social Networks", NDSS 2013): a
 *    message that violates the account's own profile (new client or
 *    network, a link from an account that never sends links, an unusual
 *    hour, another script) while the account fans one campaign out to
 *    several contacts in a burst -> compromised_sender, lock_and_reset.
 *  - Spim senders: a new account that messages many strangers -> throttle,
 *    then suspend.
 * Fingerprints, clusters and campaigns come from bulk.c (sg__behav_msg).
 */
#include "behavior.h"
#include "enforce.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

/* The hot state of one account, exactly 128 bytes, stored as is under
 * "acct:{id}" (layout version 1; docs/behavior.md has the same table).
 * Counts are decayed (halved) so the profile follows the account. */
typedef struct acct_state {
    int64_t last_ms;          /*   0  latest message, ms */
    uint64_t fan[2];          /*   8  recipient bitmaps: current, previous
                                      fan-out window (linear counting) */
    uint64_t burst_rcpt;      /*  24  recipients of the current burst */
    uint32_t first_seen_s;    /*  32  first message, s since the epoch */
    uint32_t fan_window;      /*  36  index of the current fan-out window */
    uint32_t burst_cluster;   /*  40  low 32 bits of the burst's cluster */
    uint32_t burst_domain;    /*  44  hash of the burst's landing domain */
    uint32_t burst_last_s;    /*  48  latest message of the burst, s */
    float tokens;             /*  52  token bucket, messages */
    uint32_t msgs;            /*  56  messages (halved at MSGS_DECAY) */
    uint16_t url_msgs;        /*  60  ... of them with a link */
    uint16_t stranger_msgs;   /*  62  ... of them to strangers */
    uint8_t hours[24];        /*  64  messages per UTC hour (halved at 255) */
    uint32_t clients[3];      /*  88  client hashes; low 4 bits: use count */
    uint32_t nets[3];         /* 100  /24 or /48 hashes; low 4 bits: count */
    uint16_t len_avg;         /* 112  typical length, code points (EWMA) */
    uint16_t scripts;         /* 114  SG_SCRIPT_* seen */
    uint16_t burst_msgs;      /* 116  messages in the burst */
    uint8_t burst_dev;        /* 118  DEV_* bits seen during the burst */
    uint8_t status;           /* 119  sg_acct_status */
    uint32_t status_since_s;  /* 120  when status last changed, s */
    uint8_t strikes;          /* 124  throttles so far */
    uint8_t version;          /* 125  layout version (1) */
    uint8_t burst_links;      /* 126  1 when the burst carried a link */
    uint8_t reserved;         /* 127 */
} acct_state;

_Static_assert(sizeof(acct_state) == SG_ACCT_STATE_BYTES,
               "account state must stay 128 bytes");

#define ACCT_VERSION 1
#define MSGS_DECAY 1024

/* Profile deviations (burst_dev bits). */
enum {
    DEV_CLIENT = 1 << 0,
    DEV_NETWORK = 1 << 1,
    DEV_URL = 1 << 2,
    DEV_HOUR = 1 << 3,
    DEV_SCRIPT = 1 << 4,
    DEV_LENGTH = 1 << 5,
    DEV_BAD_URL = 1 << 6,
    DEV_NO_PROFILE = 1 << 7, /* too new or too quiet to have a profile */
};

/* What one message brings, computed once. */
typedef struct msg_facts {
    bool has_url, stranger, bad_url;
    unsigned hour;            /* UTC */
    uint32_t len;             /* code points */
    uint32_t scripts;
    uint32_t client, net;     /* slot hashes, 0 = not given */
} msg_facts;

/* ------------------------------------------------------------ store */

static int store_err(int rc) {
    return rc == SG_ENOMEM ? SG_ENOMEM : SG_ESTORE;
}

size_t sg__sender_key(char *buf, const char *id) {
    return sg__behav_key(buf, "acct:", id, "");
}

/* Load the account; a new account starts at now.  *found tells which.
 * Inside a group the key is watched first: the state is read, changed and
 * written whole, so a daemon that wrote it meanwhile makes the commit a
 * conflict and the message is judged again (docs/storage.md). */
static int load_at(sg_store *st, const char *key, size_t kl, int64_t now,
                   acct_state *a, bool *found) {
    size_t vlen = 0;
    int rc = sg__store_watch(st, key, kl, now);
    if (rc) return store_err(rc);
    rc = sg__store_get(st, key, kl, a, sizeof *a, &vlen, now);
    *found = rc == SG_OK && vlen == sizeof *a && a->version == ACCT_VERSION;
    if (rc && rc != SG_ENOTFOUND) return store_err(rc);
    if (!*found) {
        memset(a, 0, sizeof *a);
        a->version = ACCT_VERSION;
        a->first_seen_s = (uint32_t)(now / 1000);
        a->last_ms = now;
    }
    return SG_OK;
}

/* load_at with the key of account id. */
static int load(sg_store *st, const char *id, int64_t now, acct_state *a,
                bool *found) {
    char key[SG_BEHAV_KEY_CAP];
    size_t kl = sg__sender_key(key, id);
    return load_at(st, key, kl, now, a, found);
}

/* Write the state under key (kl bytes, sg__sender_key). */
static int save_at(sg_store *st, const sg_behav_config *cfg, const char *key,
                   size_t kl, int64_t now, const acct_state *a) {
    int64_t exp = cfg->profile_ttl_ms > 0 ? now + cfg->profile_ttl_ms : 0;
    int rc = sg__store_put(st, key, kl, a, sizeof *a, exp, now);
    return rc ? store_err(rc) : SG_OK;
}

static int save(sg_store *st, const sg_behav_config *cfg, const char *id,
                int64_t now, const acct_state *a) {
    char key[SG_BEHAV_KEY_CAP];
    size_t kl = sg__sender_key(key, id);
    return save_at(st, cfg, key, kl, now, a);
}

/* ------------------------------------------------------------ facts */

/* Network of an address for the profile: the top 16 bits hash its wide
 * range (IPv4 /16, IPv6 /32: a carrier's pool), bits 4..15 its network
 * (IPv4 /24, IPv6 /48); the low 4 bits stay free for the slot's count.
 * With text (for reasons) when text is not NULL.  Something that is not an
 * address is hashed as given. */
static uint32_t net_hash(const char *ip, char *text, size_t cap) {
    unsigned char b[16];
    uint32_t wide, narrow;
    if (inet_pton(AF_INET, ip, b) == 1) {
        if (text) snprintf(text, cap, "%u.%u.%u.0/24", b[0], b[1], b[2]);
        wide = (uint32_t)XXH3_64bits(b, 2), narrow = (uint32_t)XXH3_64bits(b, 3);
    } else if (inet_pton(AF_INET6, ip, b) == 1) {
        if (text)
            snprintf(text, cap, "%x:%x:%x::/48", b[0] << 8 | b[1],
                     b[2] << 8 | b[3], b[4] << 8 | b[5]);
        wide = (uint32_t)XXH3_64bits(b, 4), narrow = (uint32_t)XXH3_64bits(b, 6);
    } else {
        if (text) snprintf(text, cap, "%.40s", ip);
        wide = narrow = (uint32_t)XXH3_64bits(ip, strlen(ip));
    }
    return (wide & 0xFFFF0000u) | (narrow & 0xFFF0u);
}

/* A network in a wide range the account uses (>= 2 messages). */
static bool wide_known(const uint32_t *slots, int n, uint32_t h) {
    for (int i = 0; i < n; i++)
        if ((slots[i] & 0xF) >= 2 && (slots[i] >> 16) == (h >> 16)) return true;
    return false;
}

/* Slot hashes keep their low 4 bits for a use count; never 0. */
static uint32_t slot_hash(uint32_t h) {
    h &= ~0xFu;
    return h ? h : 0x10;
}

static void facts_of(sg_ctx *c, msg_facts *f) {
    memset(f, 0, sizeof *f);
    const sg_message *m = c->msg;
    f->has_url = sg__ctx_urls(c)->n > 0;
    f->stranger = m->contact == 0;
    f->bad_url = (c->labels & (SG_LABEL_LOOKALIKE_URL | SG_LABEL_PHISHING |
                               SG_LABEL_BLOCKLISTED_URL)) != 0;
    int64_t h = (c->now_ms / 3600000) % 24;
    f->hour = (unsigned)(h < 0 ? h + 24 : h);
    f->len = c->norm.codepoints;
    f->scripts = c->norm.scripts;
    if (m->client && m->client[0])
        f->client = slot_hash((uint32_t)XXH3_64bits(m->client,
                                                    strlen(m->client)));
    if (m->client_ip && m->client_ip[0])
        f->net = slot_hash(net_hash(m->client_ip, NULL, 0));
}

/* ------------------------------------------------------------ profile */

/* Use count of h in slots, 0 when absent. */
static unsigned slot_count(const uint32_t *slots, int n, uint32_t h) {
    for (int i = 0; i < n; i++)
        if ((slots[i] & ~0xFu) == h) return slots[i] & 0xF;
    return 0;
}

static bool slots_known(const uint32_t *slots, int n) {
    for (int i = 0; i < n; i++)
        if ((slots[i] & 0xF) >= 2) return true;
    return false;
}

/* Count one use of h: bump its slot, or take the least used one.  Counts
 * are halved when one reaches 15, so old clients fade. */
static void slot_learn(uint32_t *slots, int n, uint32_t h) {
    int best = 0;
    for (int i = 0; i < n; i++) {
        if ((slots[i] & ~0xFu) == h) { best = i; goto bump; }
        if ((slots[i] & 0xF) < (slots[best] & 0xF)) best = i;
    }
    slots[best] = h;
bump:
    if ((slots[best] & 0xF) == 15)
        for (int i = 0; i < n; i++)
            if (slots[i]) slots[i] = (slots[i] & ~0xFu) | ((slots[i] & 0xF) + 1) / 2;
    slots[best]++;
}

static bool profile_mature(const sg_behav_config *cfg, const acct_state *a,
                           int64_t now) {
    return a->msgs >= cfg->profile_min_msgs &&
           now - (int64_t)a->first_seen_s * 1000 >= cfg->profile_min_age_ms;
}

static double hour_share(const acct_state *a, unsigned h) {
    unsigned total = 0;
    for (int i = 0; i < 24; i++) total += a->hours[i];
    if (!total) return 1;
    double near = a->hours[h] + 0.5 * (a->hours[(h + 23) % 24] +
                                       a->hours[(h + 1) % 24]);
    return near / total;
}

/* Deviations of this message from the profile (DEV_* bits). */
static unsigned deviations(const sg_behav_config *cfg, const acct_state *a,
                           const msg_facts *f, int64_t now) {
    unsigned d = f->bad_url ? DEV_BAD_URL : 0;
    if (!profile_mature(cfg, a, now)) return d | DEV_NO_PROFILE;
    if (f->client && slots_known(a->clients, 3) &&
        slot_count(a->clients, 3, f->client) < 2)
        d |= DEV_CLIENT;
    if (f->net && slots_known(a->nets, 3) && slot_count(a->nets, 3, f->net) < 2 &&
        !wide_known(a->nets, 3, f->net))
        d |= DEV_NETWORK;
    if (f->has_url && a->url_msgs < cfg->rare_share * a->msgs) d |= DEV_URL;
    if (hour_share(a, f->hour) < cfg->rare_share) d |= DEV_HOUR;
    if (f->scripts && a->scripts && (f->scripts & ~(uint32_t)a->scripts))
        d |= DEV_SCRIPT;
    if (fabs(log2((f->len + 8.0) / (a->len_avg + 8.0))) > 2) d |= DEV_LENGTH;
    return d;
}

static double dev_points(const sg_behav_config *cfg, unsigned d) {
    return (d & DEV_CLIENT ? cfg->w_new_client : 0) +
           (d & DEV_NETWORK ? cfg->w_new_network : 0) +
           (d & DEV_URL ? cfg->w_url_never : 0) +
           (d & DEV_HOUR ? cfg->w_odd_hour : 0) +
           (d & DEV_SCRIPT ? cfg->w_other_script : 0) +
           (d & DEV_LENGTH ? cfg->w_odd_length : 0) +
           (d & DEV_BAD_URL ? cfg->w_bad_url : 0) +
           (d & DEV_NO_PROFILE ? cfg->w_no_profile : 0);
}

/* Count the message; with `profile`, learn it into the profile too (its
 * hour, client, network, script, length, whether it had a link).  A
 * message of a suspicious burst is only counted, so the stranger share of
 * a new account still moves while its clients and links are not learned. */
static void learn(acct_state *a, const msg_facts *f, bool profile) {
    if (++a->msgs >= MSGS_DECAY) {
        a->msgs /= 2;
        a->url_msgs /= 2;
        a->stranger_msgs /= 2;
    }
    a->stranger_msgs += f->stranger;
    if (!profile) return;
    a->url_msgs += f->has_url;
    if (++a->hours[f->hour] == 255)
        for (int i = 0; i < 24; i++) a->hours[i] /= 2;
    uint32_t len = f->len > 65535 ? 65535 : f->len;
    a->len_avg = a->msgs == 1 ? (uint16_t)len
                              : (uint16_t)((7u * a->len_avg + len) / 8);
    a->scripts |= (uint16_t)f->scripts;
    if (f->client) slot_learn(a->clients, 3, f->client);
    if (f->net) slot_learn(a->nets, 3, f->net);
}

/* ------------------------------------------------------------ windows */

static void set_bit64(uint64_t *w, uint64_t h) { *w |= 1ull << (h & 63); }

/* Distinct recipients in the current and previous fan-out window. */
static uint32_t fanout(const sg_behav_config *cfg, acct_state *a,
                       uint64_t to_hash, int64_t now) {
    int64_t len = cfg->fanout_window_ms > 0 ? cfg->fanout_window_ms : 1;
    uint32_t w = (uint32_t)(now / len);
    if (w != a->fan_window) {
        a->fan[1] = w == a->fan_window + 1 ? a->fan[0] : 0;
        a->fan[0] = 0;
        a->fan_window = w;
    }
    set_bit64(&a->fan[0], to_hash);
    uint64_t u = a->fan[0] | a->fan[1];
    return sg__behav_lincount(&u, 64);
}

/* Follow the burst: messages of one cluster or landing domain with no
 * silence longer than burst_gap_ms.  Returns whether this message is part
 * of the burst.  One burst is followed at a time: a message of another
 * cluster replaces it when it has gone stale, or when the message deviates
 * more from the profile than the whole burst did (so a takeover's lures
 * displace the owner's own chain message, never the other way round). */
static bool burst(const sg_behav_config *cfg, acct_state *a,
                  const sg_behav_msg *rec, unsigned dev, bool link,
                  int64_t now) {
    uint32_t cl = (uint32_t)(rec ? rec->cluster : 0);
    uint32_t dom = rec ? rec->domain_hash : 0;
    if (!cl && !dom) return false;
    uint32_t now_s = (uint32_t)(now / 1000);
    bool fresh = ((int64_t)now_s - (int64_t)a->burst_last_s) * 1000 <=
                     cfg->burst_gap_ms &&
                 a->burst_msgs > 0;
    bool same = (cl && cl == a->burst_cluster) || (dom && dom == a->burst_domain);
    if (!(same && fresh)) {
        if (fresh && dev_points(cfg, dev) <= dev_points(cfg, a->burst_dev))
            return false; /* another burst runs */
        a->burst_cluster = cl;
        a->burst_domain = dom;
        a->burst_rcpt = 0;
        a->burst_msgs = 0;
        a->burst_dev = 0;
        a->burst_links = 0;
    }
    if (cl && !a->burst_cluster) a->burst_cluster = cl;
    if (dom && !a->burst_domain) a->burst_domain = dom;
    set_bit64(&a->burst_rcpt, rec->to_hash);
    if (a->burst_msgs < UINT16_MAX) a->burst_msgs++;
    a->burst_dev |= (uint8_t)dev;
    a->burst_links |= link;
    a->burst_last_s = now_s;
    return true;
}

/* Token bucket (rate_burst messages, refilled at rate_per_min); true when
 * this message finds it empty.  Messages without a time are not rated. */
static bool rate_limited(const sg_behav_config *cfg, acct_state *a,
                         int64_t now, bool timed) {
    if (!timed) return false;
    double elapsed_min = (now - a->last_ms) / 60000.0;
    if (a->msgs == 0 && a->tokens == 0) a->tokens = (float)cfg->rate_burst;
    double t = a->tokens + (elapsed_min > 0 ? elapsed_min * cfg->rate_per_min : 0);
    if (t > cfg->rate_burst) t = cfg->rate_burst;
    t -= 1;
    if (t < -cfg->rate_burst) t = -cfg->rate_burst;
    a->tokens = (float)t;
    return t < 0;
}

/* ------------------------------------------------------------ reasons */

static void describe(char *buf, size_t cap, unsigned d, const sg_message *m,
                     const msg_facts *f) {
    size_t n = 0;
    buf[0] = '\0';
#define ADD(...)                                                          \
    do {                                                                  \
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, "%s", n ? ", " : ""); \
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__); \
    } while (0)
    if (d & DEV_CLIENT) ADD("new client '%.32s'", m->client ? m->client : "?");
    if (d & DEV_NETWORK) {
        char net[48];
        net_hash(m->client_ip ? m->client_ip : "?", net, sizeof net);
        ADD("new network %s", net);
    }
    if (d & DEV_URL) ADD("links from an account that rarely sends any");
    if (d & DEV_HOUR) ADD("unusual hour %02u UTC", f->hour);
    if (d & DEV_SCRIPT) ADD("another script than usual");
    if (d & DEV_LENGTH) ADD("unusual length (%u code points)", f->len);
    if (d & DEV_BAD_URL) ADD("a link the URL stage flagged");
    if (d & DEV_NO_PROFILE) ADD("too little history for a profile");
#undef ADD
    if (!n) snprintf(buf, cap, "no profile deviation");
}

/* ------------------------------------------------------------ judgements */

typedef struct sender_state {
    sg_behav_config own; /* used when the bulk row (owner of the config) is
                            not in the table */
} sender_state;

static const sg_behav_config *config_of(sender_state *ss, sg_engine *eng) {
    const sg_behav_config *cfg = sg__behav_config(eng);
    return cfg ? cfg : &ss->own;
}

static int set_status(acct_state *a, sg_acct_status s, int64_t now) {
    if (a->status == s) return 0;
    a->status = (uint8_t)s;
    a->status_since_s = (uint32_t)(now / 1000);
    return 1;
}

/* False when the policy records actions without enforcing them (dry run)
 * or the account is allow-listed (policy_config.c). */
static bool enforcing(const sg_engine *eng, const char *account) {
    const sg_policy_config *pc = sg__policy_config_of(eng);
    return !pc || (!pc->dry_run && !sg__policy_allowlisted(pc, account));
}

/* Messages of a locked or suspended account are held. */
static int judge_closed(const sg_behav_config *cfg, sg_ctx *c,
                        const acct_state *a) {
    sg__ctx_want_action(c, SG_ACTION_HOLD);
    if (a->status == SG_ACCT_LOCKED) {
        sg__ctx_want_account_action(c, SG_ACCOUNT_LOCK_AND_RESET);
        return sg__ctx_signal(c, "ACCOUNT_LOCKED", cfg->compromised_weight,
                              SG_LABEL_COMPROMISED_SENDER,
                              "account locked as compromised; waiting for a "
                              "password reset");
    }
    sg__ctx_want_account_action(c, SG_ACCOUNT_SUSPEND);
    return sg__ctx_signal(c, "ACCOUNT_SUSPENDED", 2 * cfg->spim_weight,
                          SG_LABEL_SPIM, "account suspended for spim");
}

/* COMPA-style decision; *locked set when the account is locked now. */
static int judge_compromise(const sg_behav_config *cfg, sg_ctx *c,
                            acct_state *a, const sg_behav_msg *rec,
                            const msg_facts *f, unsigned dev, bool in_burst,
                            bool *locked) {
    unsigned d = in_burst ? a->burst_dev : dev;
    uint32_t fan = in_burst ? sg__behav_lincount(&a->burst_rcpt, 64) : 0;
    bool confirmed = rec && rec->camp.confirmed;
    bool infected = rec && rec->camp.infected;
    double points = dev_points(cfg, d) +
                    (c->labels & SG_LABEL_PHISHING ? cfg->w_phishing : 0) +
                    (confirmed ? cfg->w_confirmed : 0) +
                    (confirmed && infected ? cfg->w_infected : 0);
    /* a burst without any link (the "stuck abroad, send money" scam) must
     * deviate more: legitimate owners forward chat to friends too */
    double need = cfg->lock_points +
                  (in_burst && !a->burst_links ? cfg->nolink_extra_points : 0);
    *locked = (in_burst && fan >= cfg->lock_fanout && points >= need) ||
              (confirmed && infected && points >= cfg->worm_points);
    if (!*locked) return SG_OK;
    char why[320];
    describe(why, sizeof why, d, c->msg, f);
    set_status(a, SG_ACCT_LOCKED, c->now_ms);
    sg__ctx_want_action(c, SG_ACTION_HOLD);
    sg__ctx_want_account_action(c, SG_ACCOUNT_LOCK_AND_RESET);
    int rc = sg__ctx_signal(
        c, "COMPROMISED_SENDER", cfg->compromised_weight,
        SG_LABEL_COMPROMISED_SENDER,
        "%s; same campaign to %u recipients in a burst%s%s%s%s (%.2f points)",
        why, fan, confirmed ? "; campaign already seen from a compromised "
                              "account" : "",
        infected ? "; received it from " : "",
        infected ? rec->camp.infected_by : "", infected ? " before" : "",
        points);
    if (!rc && rec && rec->camp.id[0]) {
        int crc = sg__campaign_confirm(c->eng->store, cfg, rec->camp.id,
                                       c->now_ms);
        if (crc && crc != SG_ENOTFOUND) rc = crc;
    }
    return rc;
}

/* New account messaging many strangers: throttle, then suspend. */
static int judge_spim(const sg_behav_config *cfg, sg_ctx *c, acct_state *a,
                      uint32_t fan) {
    int64_t age = c->now_ms - (int64_t)a->first_seen_s * 1000;
    double share = a->msgs ? (double)a->stranger_msgs / a->msgs : 0;
    if (age >= cfg->new_account_ms || share < cfg->stranger_share ||
        fan < cfg->spim_throttle_fanout)
        return SG_OK;
    bool suspend = fan >= cfg->spim_suspend_fanout;
    if (set_status(a, suspend ? SG_ACCT_SUSPENDED : SG_ACCT_THROTTLED,
                   c->now_ms) && !suspend && a->strikes < 255)
        a->strikes++;
    sg__ctx_want_account_action(c, suspend ? SG_ACCOUNT_SUSPEND
                                           : SG_ACCOUNT_THROTTLE);
    if (suspend) sg__ctx_want_action(c, SG_ACTION_HOLD);
    return sg__ctx_signal(c, "SPIM_SENDER",
                          suspend ? 2 * cfg->spim_weight : cfg->spim_weight,
                          SG_LABEL_SPIM | SG_LABEL_RATE_LIMITED,
                          "account %.1f h old messaged ~%u recipients in "
                          "1-2 h, %.0f%% of its messages to strangers: %s",
                          age / 3600000.0, fan, 100 * share,
                          suspend ? "suspend" : "throttle");
}

static int judge_rate(const sg_behav_config *cfg, sg_ctx *c) {
    sg__ctx_want_account_action(c, SG_ACCOUNT_THROTTLE);
    return sg__ctx_signal(c, "RATE_LIMIT", 0.5, SG_LABEL_RATE_LIMITED,
                          "more than %.0f messages at once or %.0f per "
                          "minute", cfg->rate_burst, cfg->rate_per_min);
}

/* ------------------------------------------------------------ detector */

static int judge(const sg_behav_config *cfg, sg_ctx *c, acct_state *a,
                 const sg_behav_msg *rec) {
    msg_facts f;
    facts_of(c, &f);
    unsigned dev = deviations(cfg, a, &f, c->now_ms);
    uint32_t fan = fanout(cfg, a, rec ? rec->to_hash
                                      : sg__behav_id_hash(c->msg->to),
                          c->now_ms);
    bool in_burst = burst(cfg, a, rec, dev, f.has_url, c->now_ms);
    bool limited = rate_limited(cfg, a, c->now_ms, c->msg->ts_ms != 0);
    bool locked = false;
    int rc = judge_compromise(cfg, c, a, rec, &f, dev, in_burst, &locked);
    /* a burst that looks like a takeover must not teach the profile */
    bool suspicious = in_burst && dev_points(cfg, a->burst_dev) >= cfg->lock_points / 2;
    if (!locked) learn(a, &f, !suspicious);
    if (!rc && !locked) rc = judge_spim(cfg, c, a, fan);
    if (!rc && limited) rc = judge_rate(cfg, c);
    if (!rc && !locked && (dev & ~DEV_NO_PROFILE) && f.has_url) {
        char why[320];
        describe(why, sizeof why, in_burst ? a->burst_dev : dev, c->msg, &f);
        rc = sg__ctx_explain(c, "PROFILE_DEVIATION", 0, "%s", why);
    }
    a->last_ms = c->now_ms > a->last_ms ? c->now_ms : a->last_ms;
    return rc;
}

static int sender_check(void *state, sg_ctx *c) {
    const sg_behav_config *cfg = config_of(state, c->eng);
    int rc;
    const sg_behav_msg *rec = sg__behav_msg(c, &rc);
    if (!rec && rc) return rc;
    sg_store *st = c->eng->store;
    acct_state a;
    bool known;
    char key[SG_BEHAV_KEY_CAP];
    size_t kl = sg__sender_key(key, c->msg->from);
    if ((rc = load_at(st, key, kl, c->now_ms, &a, &known))) return rc;
    if (a.status == SG_ACCT_LOCKED || a.status == SG_ACCT_SUSPENDED)
        return judge_closed(cfg, c, &a);
    uint8_t status = a.status;
    uint32_t since = a.status_since_s;
    rc = judge(cfg, c, &a, rec);
    if ((a.status != status || a.status_since_s != since) &&
        !enforcing(c->eng, c->msg->from)) {
        /* dry run or allow-listed: the verdict says what would happen, the
         * account keeps its status */
        a.status = status;
        a.status_since_s = since;
    }
    int src = save_at(st, cfg, key, kl, c->now_ms, &a);
    return rc ? rc : src;
}

static int sender_init(sg_engine *eng, void **state) {
    sender_state *ss = sg__calloc(1, sizeof *ss);
    if (!ss) return SG_ENOMEM;
    sg__behav_config_default(&ss->own);
    *state = ss;
    return SG_OK;
}

static void sender_free(void *state) { sg__free(state); }

const sg_detector sg__detector_sender = {
    .name = "sender",
    .init = sender_init,
    .check = sender_check,
    .learn = NULL,
    .free = sender_free,
};

/* ------------------------------------------------------------ operators */

int sg__sender_view(sg_engine *eng, const char *id, int64_t now_ms,
                    sg_acct_view *out) {
    if (!eng || !id || !out) return SG_EINVAL;
    acct_state a;
    bool found;
    int rc = load(eng->store, id, now_ms, &a, &found);
    if (rc) return rc;
    if (!found) return SG_ENOTFOUND;
    memset(out, 0, sizeof *out);
    out->first_seen_ms = (int64_t)a.first_seen_s * 1000;
    out->last_ms = a.last_ms;
    out->status = (sg_acct_status)a.status;
    out->msgs = a.msgs;
    out->url_msgs = a.url_msgs;
    out->stranger_msgs = a.stranger_msgs;
    uint64_t u = a.fan[0] | a.fan[1];
    out->fanout = sg__behav_lincount(&u, 64);
    out->burst_recipients = sg__behav_lincount(&a.burst_rcpt, 64);
    out->typical_len = a.len_avg;
    out->scripts = a.scripts;
    for (int i = 0; i < 3; i++) {
        out->nclients += (a.clients[i] & 0xF) >= 2;
        out->nnetworks += (a.nets[i] & 0xF) >= 2;
    }
    out->tokens = a.tokens;
    return SG_OK;
}

static int reset_once(sg_engine *eng, const char *id, int64_t now_ms) {
    acct_state a;
    bool found;
    int rc = load(eng->store, id, now_ms, &a, &found);
    if (rc) return rc;
    if (!found) return SG_ENOTFOUND;
    if (a.status == SG_ACCT_SUSPENDED) return SG_OK;
    set_status(&a, SG_ACCT_OK, now_ms);
    a.burst_rcpt = 0;
    a.burst_msgs = 0;
    a.burst_dev = 0;
    a.burst_cluster = a.burst_domain = 0;
    a.burst_links = 0;
    sg_behav_config def;
    const sg_behav_config *cfg = sg__behav_config(eng);
    if (!cfg) sg__behav_config_default(&def), cfg = &def;
    return save(eng->store, cfg, id, now_ms, &a);
}

/* Read, change and write the state in one watched group, again when
 * another daemon changed it meanwhile. */
int sg__sender_reset(sg_engine *eng, const char *id, int64_t now_ms) {
    if (!eng || !id) return SG_EINVAL;
    for (int attempt = 0; attempt < 8; attempt++) {
        int rc = sg__store_begin(eng->store);
        if (rc) return store_err(rc);
        rc = reset_once(eng, id, now_ms);
        if (rc) {
            sg__store_abort(eng->store);
            return rc;
        }
        rc = sg__store_commit(eng->store);
        if (rc != SG__ECONFLICT) return rc ? store_err(rc) : SG_OK;
    }
    return SG_ESTORE;
}
