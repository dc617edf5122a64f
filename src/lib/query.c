/*
 * query.c -- operator queries on an engine (query.h): sizes for metrics,
 * account and campaign views, the index of recent campaigns, the list
 * reload, and the report ledger (reporter buckets, per-account tallies,
 * learn de-duplication).  It reads the behaviour state only through
 * sender.c and campaign.c; its own keys are "q:", "rptr:", "rptd:",
 * "rpta:", "rptc:" and "rptm:" (docs/daemon.md).  It never judges a
 * message and never changes an account's status on a report.
 */
#include "query.h"
#include "enforce.h"
#include "urls.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#define DAY_MS (24 * 3600 * 1000LL)
#define HOUR_MS (3600 * 1000LL)
#define TALLY_HALF_LIFE_MS (7 * DAY_MS)
#define TALLY_TTL_MS (30 * DAY_MS)
#define CAMPAIGN_TTL_DEFAULT_MS (7 * DAY_MS)
#define INDEX_KEY "q:campaigns"

/* ------------------------------------------------------------ sizes */

void sg__query_sizes(sg_engine *eng, sg_query_sizes *out) {
    memset(out, 0, sizeof *out);
    out->hash_bits = eng->model.hash_bits;
    out->model_weights = (uint64_t)1 << eng->model.hash_bits;
    out->model_bytes = out->model_weights * sizeof(float);
    out->model_updates = eng->model.updates;
    out->store_name = eng->store->ops->name;
    sg__store_stats(eng->store, &out->store_keys, &out->store_bytes);
}

int64_t sg__query_clock(const sg_engine *eng) { return eng->clock_ms; }

/* ------------------------------------------------------------ accounts */

int sg__query_account(sg_engine *eng, const char *id, int64_t now_ms,
                      sg_acct_view *out) {
    if (!eng || !id || !*id || !out) return SG_EINVAL;
    return sg__sender_view(eng, id, now_ms, out);
}

const char *sg__query_status_name(sg_acct_status s) {
    switch (s) {
    case SG_ACCT_OK: return "ok";
    case SG_ACCT_THROTTLED: return "throttled";
    case SG_ACCT_LOCKED: return "locked";
    case SG_ACCT_SUSPENDED: return "suspended";
    }
    return "unknown";
}

sg_account_action sg__query_status_action(sg_acct_status s) {
    switch (s) {
    case SG_ACCT_THROTTLED: return SG_ACCOUNT_THROTTLE;
    case SG_ACCT_LOCKED: return SG_ACCOUNT_LOCK_AND_RESET;
    case SG_ACCT_SUSPENDED: return SG_ACCOUNT_SUSPEND;
    default: return SG_ACCOUNT_NONE;
    }
}

int sg__query_account_reset(sg_engine *eng, const char *id, int64_t now_ms) {
    if (!eng || !id || !*id) return SG_EINVAL;
    return sg__sender_reset(eng, id, now_ms);
}

/* ------------------------------------------------------------ campaigns */

/* One entry of the "q:campaigns" value. */
typedef struct index_entry {
    char id[16];      /* NUL-terminated campaign id */
    int64_t last_ms;  /* when it was last noted */
} index_entry;

static int64_t campaign_ttl(sg_engine *eng) {
    const sg_behav_config *cfg = sg__behav_config(eng);
    return cfg && cfg->camp_ttl_ms > 0 ? cfg->camp_ttl_ms
                                       : CAMPAIGN_TTL_DEFAULT_MS;
}

/* Read the index into v (capacity SG_QUERY_CAMPAIGNS); *n entries. */
static int index_load(sg_engine *eng, int64_t now_ms, index_entry *v,
                      size_t *n) {
    size_t len = 0;
    *n = 0;
    int rc = sg__store_get(eng->store, INDEX_KEY, strlen(INDEX_KEY), v,
                           SG_QUERY_CAMPAIGNS * sizeof *v, &len, now_ms);
    if (rc == SG_ENOTFOUND) return SG_OK;
    if (rc) return SG_ESTORE;
    if (len % sizeof *v || len > SG_QUERY_CAMPAIGNS * sizeof *v)
        return SG_OK; /* not ours or damaged: start afresh */
    *n = len / sizeof *v;
    for (size_t i = 0; i < *n; i++) v[i].id[sizeof v[i].id - 1] = '\0';
    return SG_OK;
}

int sg__query_campaign_note(sg_engine *eng, const char *id, int64_t now_ms) {
    if (!eng || !id || !*id || strlen(id) >= SG_CAMPAIGN_ID_LEN)
        return SG_EINVAL;
    index_entry v[SG_QUERY_CAMPAIGNS + 1];
    size_t n;
    int rc = index_load(eng, now_ms, v + 1, &n);
    if (rc) return rc;
    int64_t ttl = campaign_ttl(eng);
    /* Put the noted id first, then the others still alive, newest first. */
    memset(&v[0], 0, sizeof v[0]);
    snprintf(v[0].id, sizeof v[0].id, "%s", id);
    v[0].last_ms = now_ms;
    size_t out = 1;
    for (size_t i = 1; i <= n && out < SG_QUERY_CAMPAIGNS; i++) {
        if (!strcmp(v[i].id, id) || v[i].last_ms + ttl <= now_ms) continue;
        v[out++] = v[i];
    }
    rc = sg__store_put(eng->store, INDEX_KEY, strlen(INDEX_KEY), v,
                       out * sizeof *v, now_ms + ttl, now_ms);
    return rc ? SG_ESTORE : SG_OK;
}

int sg__query_campaign_list(sg_engine *eng, int64_t now_ms,
                            char (*ids)[SG_CAMPAIGN_ID_LEN], size_t cap,
                            size_t *n) {
    if (!eng || !n || (!ids && cap)) return SG_EINVAL;
    index_entry v[SG_QUERY_CAMPAIGNS];
    size_t m;
    *n = 0;
    int rc = index_load(eng, now_ms, v, &m);
    int64_t ttl = campaign_ttl(eng);
    for (size_t i = 0; !rc && i < m && *n < cap; i++) {
        if (v[i].last_ms + ttl <= now_ms) continue;
        memcpy(ids[*n], v[i].id, SG_CAMPAIGN_ID_LEN - 1);
        ids[(*n)++][SG_CAMPAIGN_ID_LEN - 1] = '\0';
    }
    return rc;
}

int sg__query_campaign(sg_engine *eng, const char *id, int64_t now_ms,
                       sg_campaign_info *out) {
    if (!eng || !id || !*id || !out) return SG_EINVAL;
    return sg__campaign_info(eng->store, id, now_ms, out);
}

/* ------------------------------------------------------------ lists */

int sg__query_reload_lists(sg_engine *eng, char *err, size_t errlen) {
    sg_urls *u = eng ? sg__urls_of(eng) : NULL;
    if (!u) {
        if (err && errlen) snprintf(err, errlen, "no URL stage to reload");
        return SG_ENOTFOUND;
    }
    return sg__urls_reload(u, err, errlen);
}

/* ------------------------------------------------------------ reports */

void sg__report_limits_default(sg_report_limits *l) {
    l->burst = 20;
    l->per_hour = 20;
    l->min_weight = 0.1;
    l->learn_weight = 0.5;
}

/* A reporter's token bucket, "rptr:{reporter}". */
typedef struct bucket {
    double tokens;
    int64_t last_ms;
} bucket;

/* A tally as stored, "rpta:{account}" / "rptc:{campaign}". */
typedef struct tally_rec {
    double spam_w, ham_w;
    uint32_t spam, ham;
    int64_t last_ms;
} tally_rec;

/* Key prefix "{" id "}" into buf (SG_BEHAV_KEY_CAP bytes), an id longer
 * than SG_BEHAV_MAX_ID hashed as the account keys do (sg__behav_key:
 * "{#<hex>}"), with ":" other after it when other is not NULL (":#<hex>"
 * when other is over 63 bytes, to fit sg__behav_key's 64-byte suffix).
 * @return the key length. */
static int key_of(char *buf, const char *prefix, const char *id,
                  const char *other) {
    char suffix[66] = "";
    if (other) {
        size_t ol = strlen(other);
        if (ol <= 63) {
            suffix[0] = ':';
            memcpy(suffix + 1, other, ol + 1);
        } else {
            memcpy(suffix, ":#", 2);
            sg__behav_hex64(XXH3_64bits(other, ol), suffix + 2);
        }
    }
    return (int)sg__behav_key(buf, prefix, id, suffix);
}

/* Spend one token of the reporter's bucket; *tokens_left gets the level
 * after the spend, or -1 when the bucket was empty (nothing written). */
static int bucket_take(sg_store *st, const sg_report_limits *lim,
                       const char *reporter, int64_t now,
                       double *tokens_left) {
    char key[SG_BEHAV_KEY_CAP];
    int kl = key_of(key, "rptr:", reporter, NULL);
    bucket b = {lim->burst, now};
    size_t len = 0;
    int rc = sg__store_get(st, key, kl, &b, sizeof b, &len, now);
    if (rc && rc != SG_ENOTFOUND) return SG_ESTORE;
    if (rc == SG_ENOTFOUND || len != sizeof b) b = (bucket){lim->burst, now};
    if (now > b.last_ms)
        b.tokens = fmin(lim->burst,
                        b.tokens + lim->per_hour * (now - b.last_ms) / HOUR_MS);
    b.last_ms = now;
    if (b.tokens < 1.0) {
        *tokens_left = -1;
        return SG_OK;
    }
    b.tokens -= 1.0;
    *tokens_left = b.tokens;
    int64_t refill_ms = lim->per_hour > 0
                            ? (int64_t)(lim->burst / lim->per_hour * HOUR_MS)
                            : 30 * DAY_MS;
    rc = sg__store_put(st, key, kl, &b, sizeof b, now + refill_ms + DAY_MS,
                       now);
    return rc ? SG_ESTORE : SG_OK;
}

/* First time in 24 h that `key` is incremented? */
static int first_in_day(sg_store *st, const char *key, size_t kl, int64_t now,
                        bool *first) {
    int64_t v = 0;
    int rc = sg__store_incr(st, key, kl, 1, now + DAY_MS, now, &v);
    if (rc) return SG_ESTORE;
    *first = v == 1;
    return SG_OK;
}

static void tally_decay(tally_rec *t, int64_t now) {
    if (now <= t->last_ms) return;
    double f = pow(0.5, (double)(now - t->last_ms) / TALLY_HALF_LIFE_MS);
    t->spam_w *= f;
    t->ham_w *= f;
}

static int tally_load(sg_store *st, const char *key, size_t kl, int64_t now,
                      tally_rec *t) {
    size_t len = 0;
    memset(t, 0, sizeof *t);
    int rc = sg__store_get(st, key, kl, t, sizeof *t, &len, now);
    if (rc == SG_ENOTFOUND || (!rc && len != sizeof *t)) {
        memset(t, 0, sizeof *t);
        return SG_OK;
    }
    if (rc) return SG_ESTORE;
    tally_decay(t, now);
    return SG_OK;
}

static int tally_add(sg_store *st, const char *prefix, const char *id,
                     int is_spam, double w, int64_t now) {
    char key[SG_BEHAV_KEY_CAP];
    int kl = key_of(key, prefix, id, NULL);
    tally_rec t;
    int rc = tally_load(st, key, kl, now, &t);
    if (rc) return rc;
    if (is_spam) { t.spam_w += w; t.spam++; }
    else { t.ham_w += w; t.ham++; }
    t.last_ms = now;
    rc = sg__store_put(st, key, kl, &t, sizeof t, now + TALLY_TTL_MS, now);
    return rc ? SG_ESTORE : SG_OK;
}

/* May this text be learned with this label now (once per 24 h)? */
static int learn_once(sg_store *st, const sg_report *r, int64_t now,
                      bool *ok) {
    char key[64];
    unsigned long long h = XXH3_64bits(r->text, r->text_len);
    int kl = snprintf(key, sizeof key, "rptm:%016llx:%c", h,
                      r->is_spam ? 's' : 'h');
    return first_in_day(st, key, (size_t)kl, now, ok);
}

/* Count the report into the account's and the campaign's tallies, once per
 * reporter and account per day. */
static int count_report(sg_store *st, const sg_report *r, double w,
                        int64_t now, bool *counted) {
    char key[SG_BEHAV_KEY_CAP];
    *counted = false;
    if (!r->account || !*r->account) return SG_OK;
    int kl = key_of(key, "rptd:", r->account, r->reporter);
    int rc = first_in_day(st, key, kl, now, counted);
    if (rc || !*counted) return rc;
    rc = tally_add(st, "rpta:", r->account, r->is_spam, w, now);
    if (!rc && r->campaign && *r->campaign)
        rc = tally_add(st, "rptc:", r->campaign, r->is_spam, w, now);
    return rc;
}

int sg__report_take(sg_engine *eng, const sg_report_limits *lim,
                    const sg_report *r, int64_t now_ms,
                    sg_report_result *out) {
    memset(out, 0, sizeof *out);
    if (!eng || !lim || !r || !r->reporter || !*r->reporter) return SG_EINVAL;
    double left;
    int rc = bucket_take(eng->store, lim, r->reporter, now_ms, &left);
    if (rc) return rc;
    if (left < 0) {
        out->rate_limited = true;
        return SG_OK;
    }
    double w = lim->burst > 0 ? (left + 1.0) / lim->burst : 1.0;
    out->weight = fmax(lim->min_weight, fmin(1.0, w));
    if (!r->reporter_received) out->weight *= 0.5;
    /* a reporter whose reports an operator found false weighs less */
    out->weight *= sg__enforce_reporter_trust(eng, r->reporter, now_ms);
    rc = count_report(eng->store, r, out->weight, now_ms, &out->counted);
    if (!rc && r->text && r->text_len && r->reporter_received &&
        out->weight >= lim->learn_weight)
        rc = learn_once(eng->store, r, now_ms, &out->learn);
    return rc;
}

int sg__report_tally(sg_engine *eng, const char *id, bool campaign,
                     int64_t now_ms, sg_report_tally *out) {
    memset(out, 0, sizeof *out);
    if (!eng || !id || !*id) return SG_EINVAL;
    char key[SG_BEHAV_KEY_CAP];
    int kl = key_of(key, campaign ? "rptc:" : "rpta:", id, NULL);
    tally_rec t;
    int rc = tally_load(eng->store, key, kl, now_ms, &t);
    if (rc) return rc;
    out->spam_weight = t.spam_w;
    out->not_spam_weight = t.ham_w;
    out->spam = t.spam;
    out->not_spam = t.ham;
    out->last_ms = t.last_ms;
    return SG_OK;
}
