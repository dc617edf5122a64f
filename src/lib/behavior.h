/*
 * behavior.h -- what the behaviour stages share: near-duplicate
 * fingerprints (fingerprint.c), bulk counts and the per-message behaviour
 * record (bulk.c), campaigns and infection edges (campaign.c), account
 * profiles and compromise detection (sender.c).  Internal to the library;
 * the CLI's simulator and the tests include it too.  Design, state layout
 * and measured figures: docs/behavior.md.
 */
#ifndef SG_BEHAVIOR_H
#define SG_BEHAVIOR_H

#include "sg_internal.h"
#include "store.h"

/* ------------------------------------------------------------ fingerprint */

/* MinHash (Broder 1997) over shingles of the canonical text, with LSH bands
 * (Indyk & Motwani 1998; Leskovec, Rajaraman & Ullman, "Mining of Massive
 * Datasets" ch. 3): SG_FP_BANDS bands of SG_FP_ROWS rows.  Two texts share a
 * band with probability 1 - (1 - J^ROWS)^BANDS for Jaccard similarity J:
 * 0.99 at J = 0.8, 0.86 at J = 0.6, 0.06 at J = 0.3. */
#define SG_FP_BANDS 8
#define SG_FP_ROWS 4
#define SG_FP_HASHES (SG_FP_BANDS * SG_FP_ROWS)
/* Shingles are SG_FP_SHINGLE code points of the canonical text. */
#define SG_FP_SHINGLE 5
/* Texts with fewer shingles than this, or fewer distinct shingles than
 * SG_FP_MIN_DISTINCT, get no fingerprint: "ok", "lol", "see you at 5"
 * and "hahahahaha" are too short or too repetitive to say they are copies
 * of anything. */
#define SG_FP_MIN_SHINGLES 16
#define SG_FP_MIN_DISTINCT 12
/* Only the first SG_FP_MAX_CANON bytes of the canonical text are used, so a
 * 64 KiB message costs as much as a 2 KiB one. */
#define SG_FP_MAX_CANON 2048

typedef struct sg_fingerprint {
    bool valid;                      /* false: too short, no fingerprint */
    uint32_t shingles;               /* shingles hashed */
    uint32_t minhash[SG_FP_HASHES];  /* the MinHash signature */
    uint64_t band[SG_FP_BANDS];      /* LSH band keys (never 0) */
} sg_fingerprint;

/** Write the canonical form of normalized text into b (appended): tokens
 *  split on white space, each URL-like token replaced by "U", each @name by
 *  "@", each run of digits by "#", other punctuation and symbols dropped,
 *  tokens joined by one space.  The text must be the normalizer's output
 *  (case-folded), so the upper-case placeholders cannot collide with it.
 *  Invalid UTF-8 bytes are dropped.  Stops after SG_FP_MAX_CANON bytes.
 *  @return SG_OK, SG_ENOMEM. */
int sg__fingerprint_canon(const char *text, size_t len, sg_buf *b);

/** Fingerprint normalized text (bytes, UTF-8) into *out.  out->valid is
 *  false when the text is too short (see SG_FP_MIN_SHINGLES).  Pure: no
 *  state, thread-safe.  @return SG_OK, SG_ENOMEM. */
int sg__fingerprint(const char *text, size_t len, sg_fingerprint *out);

/** For tests and fuzzing only: sg__fingerprint computed by the portable
 *  paths (the byte-table canonicaliser and the scalar multiply-shift
 *  MinHash) instead of the SSE2 canonicaliser and the AVX2 MinHash chosen
 *  at run time.  Every field of *out must equal sg__fingerprint's for any
 *  bytes (tests/test_fingerprint.c, fuzz/fuzz_fingerprint.c check it).
 *  Same arguments, ownership and errors: @return SG_OK. */
int sg__fingerprint_reference(const char *text, size_t len, sg_fingerprint *out);

/** Estimated Jaccard similarity 0..1 of two fingerprints' shingle sets
 *  (share of equal MinHash values); 0 when either is not valid. */
double sg__fingerprint_similarity(const sg_fingerprint *a,
                                  const sg_fingerprint *b);

/** True when both are valid and share at least one LSH band. */
bool sg__fingerprint_match(const sg_fingerprint *a, const sg_fingerprint *b);

/* ------------------------------------------------------------ keys */

/** Lower-case hex of x, 16 digits + NUL, into out[17]. */
static inline void sg__behav_hex64(uint64_t x, char out[17]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, x >>= 4) out[i] = hex[x & 15];
    out[16] = '\0';
}

/** Longest account id kept verbatim in a key (bytes); longer ids are
 *  replaced by "#" + the hex xxHash64 of the id, so keys stay bounded. */
#define SG_BEHAV_MAX_ID 512
/** Size of a key buffer that fits every key the behaviour stages build. */
#define SG_BEHAV_KEY_CAP (SG_BEHAV_MAX_ID + 96)

/** Build the key prefix "{" id "}" suffix into buf (SG_BEHAV_KEY_CAP
 *  bytes), e.g. ("acct:", "alice", "") -> "acct:{alice}" (store.h's
 *  convention: the account id in braces).  suffix may be "" and is at most
 *  64 bytes.  @return the key length in bytes (no NUL counted). */
size_t sg__behav_key(char *buf, const char *prefix, const char *id,
                     const char *suffix);

/** 64-bit hash of an account id (xxHash3), the same everywhere. */
uint64_t sg__behav_id_hash(const char *id);

/** Distinct items in a linear-counting bitmap of `nbits` bits
 *  (Whang, Vander-Zanden & Taylor 1990): -m ln(zeros / m), rounded; the
 *  saturation value m ln m when no bit is zero. */
uint32_t sg__behav_lincount(const uint64_t *bits, unsigned nbits);

/* ------------------------------------------------------------ config */

/** Thresholds of the behaviour stages.  Defaults (sg__behav_config_default)
 *  are documented field by field and in docs/behavior.md, where the default
 *  scenario shows how they were chosen. */
typedef struct sg_behav_config {
    /* fingerprints and bulk (bulk.c) */
    int64_t fp_ttl_ms;          /* band -> cluster memory; 24 h */
    int64_t bulk_window_ms;     /* bulk count window; 1 h (counts cover the
                                   current and the previous window) */
    uint32_t bulk_senders;      /* distinct senders that make a cluster bulk; 3 */
    uint32_t bulk_recipients;   /* distinct recipients that make it bulk; 20 */
    double bulk_weight;         /* log-odds of the BULK signal; 0.5 */
    /* campaigns (campaign.c) */
    int64_t camp_ttl_ms;        /* idle campaign forgotten after; 7 days */
    int64_t receipt_ttl_ms;     /* "B received campaign X from A" kept; 3 days */
    uint32_t camp_min_senders;  /* distinct senders that open a campaign; 2 */
    uint32_t camp_min_recipients; /* or distinct recipients; 3 */
    int64_t young_domain_ms;    /* a landing domain first seen less than this
                                   ago may open a campaign; 3 days */
    int64_t domain_memory_ms;   /* first-seen time of a domain kept for;
                                   30 days after its last link */
    /* sender profile (sender.c) */
    int64_t profile_ttl_ms;     /* an account's state is dropped after this
                                   long without a message; 90 days */
    uint32_t profile_min_msgs;  /* messages before the profile is trusted; 10 */
    int64_t profile_min_age_ms; /* account age before it is trusted; 2 days */
    double rare_share;          /* a URL / an hour is "unusual" below this
                                   share of the account's messages; 0.03 */
    int64_t burst_gap_ms;       /* a fan-out burst ends after this silence;
                                   6 h (a slow worm is still one burst) */
    int64_t fanout_window_ms;   /* distinct-recipient window; 1 h */
    double rate_per_min;        /* token bucket refill, messages/min; 20 */
    double rate_burst;          /* token bucket size, messages; 60 */
    /* compromise (COMPA-style) */
    double w_new_client, w_new_network, w_url_never, w_odd_hour,
        w_other_script, w_odd_length; /* deviation points; 1.0, 0.5, 1.0,
                                         0.5, 1.0, 0.25 */
    double w_bad_url;           /* the urls stage flagged the link
                                   (lookalike, phishing, blocklisted); 1.5 */
    double w_phishing;          /* more, when the message is a credential
                                   lure with a foreign link (label
                                   phishing): an owner who forwards a
                                   lookalike link by mistake does not also
                                   claim the account is locked; 1.0 */
    double w_no_profile;        /* the account is too new or too quiet for a
                                   profile (fewer than profile_min_msgs
                                   messages or younger than
                                   profile_min_age_ms); 0.5 */
    double w_infected;          /* sender received this campaign before
                                   (counted when it is confirmed); 1.0 */
    double w_confirmed;         /* campaign already has a locked sender; 1.0 */
    uint32_t lock_fanout;       /* distinct contacts in the burst; 3 */
    double lock_points;         /* deviation + evidence points to lock; 2.5 */
    double nolink_extra_points; /* more points a burst without any link
                                   needs; 0.5 */
    double worm_points;         /* points to lock on the first message when
                                   infected and confirmed; 2.5 */
    double compromised_weight;  /* log-odds of COMPROMISED_SENDER; 6.0 */
    /* new-account spim */
    int64_t new_account_ms;     /* an account younger than this is new; 2 days */
    uint32_t spim_throttle_fanout; /* distinct recipients, mostly strangers,
                                      in the window: throttle; 5 */
    uint32_t spim_suspend_fanout;  /* ... suspend; 15 */
    double stranger_share;      /* "mostly strangers"; 0.5 */
    double spim_weight;         /* log-odds of SPIM_SENDER (throttle); 2.0;
                                   suspend adds as much again */
} sg_behav_config;

/** Fill *cfg with the documented defaults above. */
void sg__behav_config_default(sg_behav_config *cfg);

/** The engine's behaviour configuration, to read or change between
 *  messages (tests, the simulator); NULL when the bulk detector is not in
 *  sg__detectors[].  Lives as long as the engine. */
sg_behav_config *sg__behav_config(sg_engine *eng);

/* ------------------------------------------------------------ campaigns */

/** Campaign ids are "c" + 12 hex digits, NUL-terminated. */
#define SG_CAMPAIGN_ID_LEN 14

/** What campaign.c found for one message. */
typedef struct sg_campaign_hit {
    char id[SG_CAMPAIGN_ID_LEN]; /* "" when the message is in no campaign */
    bool infected;     /* the sender received this campaign before (an
                          infection edge was recorded now or earlier) */
    char infected_by[64]; /* who sent it to them (truncated), if infected */
    bool confirmed;    /* the campaign already has a locked sender */
    uint32_t senders;  /* distinct senders of the campaign so far (estimate) */
} sg_campaign_hit;

/** Distinct senders and recipients of a group of messages in the bulk
 *  window (bulk.c), this message included. */
typedef struct sg_group_count {
    uint64_t id;               /* group id, 0 = none */
    uint32_t senders, recipients;
    int64_t first_ms;          /* the group's first message since its window
                                  record was made (it lives while messages
                                  come at least every two windows), ms;
                                  0 = unknown */
} sg_group_count;

/** What one message contributes, the inputs of sg__campaign_observe. */
typedef struct sg_campaign_msg {
    const char *from, *to;
    uint64_t cluster;          /* fingerprint cluster, 0 = none */
    bool cluster_new;          /* the cluster was opened by this message */
    const char *domains[4];    /* eligible landing registrable domains */
    const char *urls[4];       /* the URLs they came from */
    size_t ndomains;
    bool has_url;              /* the message carries any link at all */
    uint32_t bulk_senders;     /* distinct senders of the cluster (bulk.c) */
    uint32_t bulk_recipients;  /* distinct recipients of the cluster */
    uint32_t bulk_msgs;        /* messages of the cluster in the window,
                                  this one included */
    int64_t bulk_first_ms;     /* the cluster's first message, as
                                  sg_group_count.first_ms; 0 = unknown */
    sg_group_count domain_group; /* all links to domains[0], in the window */
    int64_t now_ms;
} sg_campaign_msg;

/** Find or open the campaign of a message and record it: first/last seen,
 *  senders, recipients, URLs, receipts and infection edges (an account that
 *  received the campaign and now sends it).  A message joins the campaign
 *  its cluster or one of its landing domains belongs to.  A campaign opens
 *  when a cluster reaches cfg->camp_min_senders or camp_min_recipients, or
 *  when links to a young domain (first seen less than young_domain_ms ago;
 *  long-known domains such as youtube.com never group messages on their
 *  own) do; its id is stable (derived from the cluster or domain that
 *  opened it).  Everything lives in the store
 *  under "camp:", "cmap:" and "rcv:{account}" keys with TTLs, so memory is
 *  bounded by the traffic of the last camp_ttl_ms.
 *  @return SG_OK, SG_ENOMEM, SG_ESTORE. */
int sg__campaign_observe(sg_store *st, const sg_behav_config *cfg,
                         const sg_campaign_msg *m, sg_campaign_hit *hit);

/** Most keys sg__campaign_read_keys writes. */
#define SG_CAMPAIGN_READ_KEYS 9

/** The keys sg__campaign_observe will read for m, so that a caller can
 *  fetch them ahead in one round trip (sg__behav_prefetch_batch): with
 *  cluster_keys false those it reads about m's landing domains (first
 *  seen, domain -> campaign maps, the sender's receipts), with
 *  cluster_keys true those about m's cluster (none for a new cluster).
 *  keys must have room for SG_CAMPAIGN_READ_KEYS keys.
 *  @return how many were written. */
size_t sg__campaign_read_keys(const sg_campaign_msg *m, bool cluster_keys,
                              char (*keys)[SG_BEHAV_KEY_CAP], size_t *lens);

/** Mark a campaign confirmed (a sender of it was locked as compromised).
 *  @return SG_OK, SG_ENOTFOUND (no such campaign), SG_ENOMEM. */
int sg__campaign_confirm(sg_store *st, const sg_behav_config *cfg,
                         const char *id, int64_t now_ms);

/** A campaign as recorded.  Lists are bounded (SG_CAMPAIGN_LIST items);
 *  counts go on past them. */
#define SG_CAMPAIGN_LIST 32
typedef struct sg_campaign_info {
    int64_t first_ms, last_ms;
    uint32_t msgs;
    uint32_t senders, recipients;   /* distinct, estimated (linear counting) */
    uint32_t infections;            /* infection edges seen */
    uint32_t locked;                /* senders locked as compromised */
    size_t nsender_ids, nurls, nedges;
    char sender_ids[SG_CAMPAIGN_LIST][64];
    char urls[SG_CAMPAIGN_LIST][128];
    char edges[SG_CAMPAIGN_LIST][2][64]; /* from, to */
} sg_campaign_info;

/** Read a campaign.  *out is filled (about 10 KiB; the caller's memory).
 *  @return SG_OK, SG_ENOTFOUND. */
int sg__campaign_info(sg_store *st, const char *id, int64_t now_ms,
                      sg_campaign_info *out);

/* ------------------------------------------------------------ per message */

/** The behaviour record of one message, computed once (by whichever of the
 *  bulk and sender stages asks first) and shared by both. */
typedef struct sg_behav_msg {
    uint64_t from_hash, to_hash; /* sg__behav_id_hash of sender, recipient */
    bool has_url;             /* sg__ctx_urls() found at least one link */
    sg_fingerprint fp;
    uint64_t cluster;         /* fingerprint cluster id, 0 = none */
    uint32_t senders;         /* distinct senders of the cluster in the bulk
                                 window, this message included */
    uint32_t recipients;      /* distinct recipients, likewise */
    uint32_t msgs;            /* messages of the cluster in the window */
    int64_t first_ms;         /* the cluster's first message (as
                                 sg_group_count.first_ms), 0 = unknown */
    uint32_t domain_hash;     /* first eligible landing domain, 0 = none */
    sg_group_count domain_group; /* counts of all links to that domain */
    sg_campaign_hit camp;
} sg_behav_msg;

/** The behaviour record of c's message: fingerprint, cluster, bulk counts
 *  and campaign (also set on the context with sg__ctx_set_campaign).  The
 *  first call per message does the work and the store updates; later calls
 *  return the same record.  The record lives in the engine and is valid
 *  until the next message.  NULL when the bulk detector is not in the
 *  table or on SG_ENOMEM/SG_ESTORE (then *err is set). */
const sg_behav_msg *sg__behav_msg(sg_ctx *c, int *err);

/** Batch-wide read-ahead for the judge phase of many prepared messages
 *  (sg__check_prepare done, the caller's outer store group open, e.g.
 *  right after sg__group_begin): reads the first-round keys of all of
 *  them -- band keys, the sender's state (watched), the landing domains'
 *  window and campaign keys -- in one sg__store_batch, then, from the band
 *  values read, each known cluster's window, campaign map and receipt in
 *  a second, and each campaign's record and lists in a third, so that on
 *  Redis the n messages' reads cost three round trips instead of ~1-2
 *  each (a cluster or campaign that the batch itself creates is read in
 *  its message's own step, as without the read-ahead).  Contexts
 *  without a message or whose prepare failed are skipped.  Stores without
 *  a batch op (memory, LMDB) skip it.  Reads run at the earliest message
 *  time of the batch (later reads re-check expiry in the group).
 *  @return SG_OK, SG_ESTORE (then the group should be aborted), SG_ENOMEM.
 *  docs/storage.md "Many checks, one commit". */
int sg__behav_prefetch_batch(sg_engine *eng, sg_ctx *cs, size_t n);

/** True when u's registrable domain may group messages into a campaign:
 *  not an IP host, not a URL shortener (every campaign would share bit.ly). */
bool sg__behav_domain_eligible(const sg_url *u);

/* ------------------------------------------------------------ accounts */

/** Account status, kept in the account's state. */
typedef enum sg_acct_status {
    SG_ACCT_OK = 0,
    SG_ACCT_THROTTLED = 1,
    SG_ACCT_LOCKED = 2,     /* compromised: locked until a password reset */
    SG_ACCT_SUSPENDED = 3
} sg_acct_status;

/** A read-only view of an account's profile, for tests, the simulator and
 *  operators (decoded from the 128-byte state; docs/behavior.md). */
typedef struct sg_acct_view {
    int64_t first_seen_ms, last_ms;
    sg_acct_status status;
    uint32_t msgs, url_msgs, stranger_msgs; /* decayed counts */
    uint32_t fanout;          /* distinct recipients, last 1-2 windows */
    uint32_t burst_recipients;/* distinct recipients of the current burst */
    uint32_t typical_len;     /* code points, moving average */
    uint32_t scripts;         /* SG_SCRIPT_* bits */
    uint32_t nclients, nnetworks;
    double tokens;            /* token bucket level */
} sg_acct_view;

/** Size of an account's hot state in the store, bytes (128). */
#define SG_ACCT_STATE_BYTES 128

/** The store key of account `id`'s state, "acct:{id}", into buf
 *  (SG_BEHAV_KEY_CAP bytes).  @return its length in bytes. */
size_t sg__sender_key(char *buf, const char *id);

/** Read account `id`'s profile at now_ms.  @return SG_OK, SG_ENOTFOUND. */
int sg__sender_view(sg_engine *eng, const char *id, int64_t now_ms,
                    sg_acct_view *out);

/** The owner reset the password of a locked (or throttled) account: status
 *  back to OK and the current burst forgotten; the profile is kept.
 *  Suspended accounts stay suspended (an operator decision).
 *  @return SG_OK, SG_ENOTFOUND, SG_ENOMEM. */
int sg__sender_reset(sg_engine *eng, const char *id, int64_t now_ms);

/* ------------------------------------------------------------ detectors */
/* Rows of sg__detectors[] (engine.c); declared here as well as in
 * sg_internal.h for files that include only this header. */
extern const sg_detector sg__detector_bulk;
extern const sg_detector sg__detector_sender;

#endif /* SG_BEHAVIOR_H */
