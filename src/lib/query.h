/*
 * query.h -- what an operator (the daemon's /v1/accounts, /v1/campaigns,
 * /v1/report and /metrics) asks of an engine besides sg_check: read-only
 * views of accounts and campaigns, sizes for metrics, a reload of the URL
 * lists, a small index of recent campaigns, and the report ledger that
 * bounds how much user reports may weigh.  Internal to spimguard (src/lib,
 * src/cli).  None of these is thread-safe: call them under the same lock
 * as sg_check.  Key families and the report rules: docs/daemon.md.
 */
#ifndef SG_QUERY_H
#define SG_QUERY_H

#include "behavior.h"

/* ------------------------------------------------------------ sizes */

/** Sizes of an engine's state, for /metrics. */
typedef struct sg_query_sizes {
    uint32_t hash_bits;      /* log2 of the model's weight count */
    uint64_t model_weights;  /* 1 << hash_bits */
    uint64_t model_bytes;    /* bytes of the weight table (4 per weight) */
    uint64_t model_updates;  /* gradient steps taken since load */
    uint64_t store_keys;     /* live keys in the store (backend estimate) */
    uint64_t store_bytes;    /* bytes the store uses (backend estimate) */
    const char *store_name;  /* backend name ("memory", "lmdb", ...) */
} sg_query_sizes;

/** Fill *out with the engine's model and store sizes (store->ops->stats). */
void sg__query_sizes(sg_engine *eng, sg_query_sizes *out);

/** The engine's clock: the latest message time it has seen, Unix ms. */
int64_t sg__query_clock(const sg_engine *eng);

/* ------------------------------------------------------------ accounts */

/** Account `id`'s profile at now_ms (sender.c's sg__sender_view).
 *  @return SG_OK, SG_EINVAL (NULL argument), SG_ENOTFOUND (never seen, or
 *          the sender stage is not in the pipeline), SG_ESTORE. */
int sg__query_account(sg_engine *eng, const char *id, int64_t now_ms,
                      sg_acct_view *out);

/** Name of an account status: "ok", "throttled", "locked", "suspended". */
const char *sg__query_status_name(sg_acct_status s);

/** The account action that an account status stands for (throttled ->
 *  SG_ACCOUNT_THROTTLE, locked -> SG_ACCOUNT_LOCK_AND_RESET, ...). */
sg_account_action sg__query_status_action(sg_acct_status s);

/** The owner of a locked account reset the password (sg__sender_reset).
 *  @return SG_OK, SG_EINVAL, SG_ENOTFOUND, SG_ENOMEM, SG_ESTORE. */
int sg__query_account_reset(sg_engine *eng, const char *id, int64_t now_ms);

/* ------------------------------------------------------------ campaigns */

/** Most campaigns the index remembers (the most recently seen win). */
#define SG_QUERY_CAMPAIGNS 128

/** Record that campaign `id` was seen at now_ms in the index of recent
 *  campaigns (store key "q:campaigns", one value of at most
 *  SG_QUERY_CAMPAIGNS entries of 24 bytes; expires with the campaigns).
 *  Costs one get and one put: callers note an id when it is new to them or
 *  once a minute, not for every message.
 *  @return SG_OK, SG_EINVAL (id empty or longer than a campaign id),
 *          SG_ESTORE, SG_ENOMEM. */
int sg__query_campaign_note(sg_engine *eng, const char *id, int64_t now_ms);

/** The ids of the indexed campaigns still alive at now_ms, most recently
 *  seen first, into ids[0..cap); *n gets how many were written.
 *  @return SG_OK, SG_EINVAL, SG_ESTORE. */
int sg__query_campaign_list(sg_engine *eng, int64_t now_ms,
                            char (*ids)[SG_CAMPAIGN_ID_LEN], size_t cap,
                            size_t *n);

/** Read campaign `id` (campaign.c's sg__campaign_info).
 *  @return SG_OK, SG_EINVAL, SG_ENOTFOUND, SG_ESTORE. */
int sg__query_campaign(sg_engine *eng, const char *id, int64_t now_ms,
                       sg_campaign_info *out);

/* ------------------------------------------------------------ lists */

/** Re-read the URL stage's brand, allow and block lists from their files
 *  (urls.h sg__urls_reload); a failed reload keeps the old lists.
 *  @return SG_OK, SG_ENOTFOUND (no URL stage in the pipeline), or the
 *          error of sg__urls_reload (detail in err). */
int sg__query_reload_lists(sg_engine *eng, char *err, size_t errlen);

/* ------------------------------------------------------------ reports */

/** Limits of the report ledger (docs/daemon.md "Reports"). */
typedef struct sg_report_limits {
    double burst;        /* reports a reporter may send at once; 20 */
    double per_hour;     /* refill of a reporter's bucket, reports/h; 20 */
    double min_weight;   /* weight of a reporter whose bucket is empty-ish;
                            0.1.  Weight = tokens left / burst, clamped to
                            min_weight..1 */
    double learn_weight; /* a report teaches the content model only when
                            its weight is at least this; 0.5 */
} sg_report_limits;

/** Fill *l with the defaults above. */
void sg__report_limits_default(sg_report_limits *l);

/** One report, as the ledger sees it. */
typedef struct sg_report {
    const char *reporter;   /* who reports (required) */
    const char *account;    /* the reported sender, or NULL */
    const char *campaign;   /* the message's campaign id, or NULL */
    const char *text;       /* the reported text, or NULL: no learning */
    size_t text_len;        /* bytes of text */
    int is_spam;            /* 1 spam, 0 not spam */
    bool reporter_received; /* the reporter is the message's recipient */
} sg_report;

/** What the ledger decided. */
typedef struct sg_report_result {
    double weight;        /* 0..1: what this report counts for */
    bool rate_limited;    /* the reporter's bucket was empty: nothing done */
    bool counted;         /* added to the account's tally (first report of
                             this reporter about this account in 24 h) */
    bool learn;           /* the caller should run sg_learn on the message
                             (weight >= learn_weight, the reporter received
                             it, and this text was not learned with this
                             label in the last 24 h) */
} sg_report_result;

/** Take one report into the ledger at now_ms: spend a token of the
 *  reporter's bucket ("rptr:{reporter}"), count the report once per
 *  reporter and account per 24 h ("rptd:{account}:{reporter}") into the
 *  account's tally ("rpta:{account}", weights decayed with a 7-day half
 *  life) and into the campaign's ("rptc:{campaign}"), and decide whether
 *  the text may be learned ("rptm:" + xxHash64 of the text and label).
 *  Never changes an account's status: reports alone lock or suspend no
 *  one.  @return SG_OK (also when rate limited: see out->rate_limited),
 *  SG_EINVAL (no reporter), SG_ESTORE, SG_ENOMEM. */
int sg__report_take(sg_engine *eng, const sg_report_limits *lim,
                    const sg_report *r, int64_t now_ms,
                    sg_report_result *out);

/** An account's (or campaign's) report tally: decayed weights and counts. */
typedef struct sg_report_tally {
    double spam_weight, not_spam_weight; /* decayed sums of weights */
    uint32_t spam, not_spam;             /* reports counted (not decayed) */
    int64_t last_ms;                     /* latest counted report, 0 = none */
} sg_report_tally;

/** Read the tally of account `id` (campaign = false) or of campaign `id`
 *  (campaign = true) at now_ms; all zero when there is none.
 *  @return SG_OK, SG_EINVAL, SG_ESTORE. */
int sg__report_tally(sg_engine *eng, const char *id, bool campaign,
                     int64_t now_ms, sg_report_tally *out);

#endif /* SG_QUERY_H */
