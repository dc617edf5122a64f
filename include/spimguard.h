/*
 * spimguard.h -- the one public C API of spimguard.
 *
 * spimguard judges instant messages: spim (spam over IM), phishing links,
 * compromised senders and bulk campaigns.  An application creates one engine
 * (sg_engine_new), loads or trains a model, then hands each message to
 * sg_check() and gets a verdict back: an action for the message, an action
 * for the sender's account, a score 0..1, labels, and a list of reasons.
 *
 * Conventions (same everywhere in this header):
 *  - Every function that can fail returns an sg_error: 0 (SG_OK) on success,
 *    a negative code on failure.  A call that fails changes nothing.  A human
 *    readable detail of the last failure is in sg_engine_errmsg().
 *  - Strings are UTF-8, NUL-terminated unless a length in bytes is given.
 *  - Times are milliseconds since the Unix epoch (int64_t).
 *  - Probabilities and scores are doubles in 0..1.
 *  - Objects returned through an out-pointer are owned by the caller and are
 *    released with the matching *_free function; *_free(NULL) is a no-op.
 *  - Thread safety: an sg_engine is NOT safe for concurrent sg_check /
 *    sg_learn calls from several threads; serialize them (the daemon holds a
 *    lock).  Messages and verdicts are plain values, safe to use from any one
 *    thread at a time.
 */
#ifndef SPIMGUARD_H
#define SPIMGUARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- errors */

/** Error codes: 0 is success, every failure is negative. */
typedef enum sg_error {
    SG_OK = 0,
    SG_ENOMEM = -1,     /**< an allocation failed */
    SG_EINVAL = -2,     /**< an argument is out of range or NULL */
    SG_EJSON = -3,      /**< input is not valid JSON, or not a JSON object */
    SG_EFIELD = -4,     /**< a required field is missing or has the wrong type */
    SG_EUTF8 = -5,      /**< text is not valid UTF-8 (or has a NUL byte) */
    SG_ETOOBIG = -6,    /**< text longer than the configured limit */
    SG_EIO = -7,        /**< reading or writing a file failed (errno kept) */
    SG_EFORMAT = -8,    /**< a file is not of the expected kind, or truncated */
    SG_ECHECKSUM = -9,  /**< a file's checksum does not match its contents */
    SG_EVERSION = -10,  /**< a file was written by an unsupported version */
    SG_ESTORE = -11,    /**< the state store failed */
    SG_ENOTFOUND = -12, /**< the thing asked for does not exist */
    SG_EUNICODE = -13   /**< ICU failed to open or run a service */
} sg_error;

/** Static English text for an error code; never NULL, never freed. */
const char *sg_strerror(int err);

/* ---------------------------------------------------------------- engine */

typedef struct sg_engine sg_engine;
typedef struct sg_message sg_message;
typedef struct sg_verdict sg_verdict;

/** Engine options.  Zero-initialise, then set what you need; a zero field
 *  means "the documented default". */
typedef struct sg_options {
    uint32_t hash_bits;      /**< log2 of the weight table size, 16..26;
                                  default 22 (4 Mi weights, 16 MiB) */
    size_t max_text_bytes;   /**< longest accepted message text in bytes;
                                  default 65536 (64 KiB) */
    uint64_t seed;           /**< seed for training order; default 1 */
    const char *brands_file; /**< protected brand domains (replaces the shipped
                                  list); NULL = shipped list */
    const char *allow_file;  /**< extra allow-listed domains; NULL = none */
    const char *blocklist_file; /**< extra blocked domains/URLs; NULL = none */
    const char *store_uri;   /**< state store: "memory:", "lmdb:DIR",
                                  "redis://HOST:PORT",
                                  "redis-cluster://HOST:PORT[,HOST:PORT..]";
                                  NULL = memory: (docs/storage.md) */
    const char *evidence_dir; /**< evidence log directory: every account
                                  action (and held phishing / compromise
                                  message) is appended, hash-chained and
                                  signed (docs/enforcement.md); NULL = no
                                  log unless the policy file names one */
    const char *policy_file; /**< enforcement policy, `key = value` lines
                                  (docs/enforcement.md); NULL = defaults */
} sg_options;

/** Create an engine with an empty (all-zero) model.
 *  @param opts  options, or NULL for all defaults.  Strings in it are copied.
 *  @param out   receives the engine; owned by the caller (sg_engine_free).
 *  @return SG_OK, SG_EINVAL (bad option or NULL out), SG_ENOMEM, SG_EUNICODE
 *          (ICU services could not be opened), SG_EIO / SG_EFORMAT (a list
 *          file named in opts cannot be read), SG_ESTORE (the store named
 *          by store_uri cannot be opened); the detail is in
 *          sg_engine_errmsg(NULL).  On failure *out is NULL. */
int sg_engine_new(const sg_options *opts, sg_engine **out);

/** Release an engine and everything it owns.  NULL is a no-op. */
void sg_engine_free(sg_engine *eng);

/** Detail of the last failure on this engine ("model.bin: checksum does not
 *  match"), or "" if none.  Valid until the next call on the engine.
 *  With eng == NULL: the detail of the last sg_engine_new() that failed on
 *  the calling thread. */
const char *sg_engine_errmsg(const sg_engine *eng);

/** Load model weights from a file written by sg_engine_save_model().
 *  The file has a versioned header and an xxHash64 checksum of its payload.
 *  @return SG_OK; SG_EIO (cannot open/read), SG_EFORMAT (not a spimguard
 *          model, or truncated), SG_EVERSION (unsupported format version),
 *          SG_ECHECKSUM (payload damaged), SG_EINVAL (hash_bits differ from
 *          the engine's), SG_ENOMEM.  On failure the current model is kept. */
int sg_engine_load_model(sg_engine *eng, const char *path);

/** Write the model to `path` atomically (temporary file + rename).
 *  @return SG_OK, SG_EIO. */
int sg_engine_save_model(sg_engine *eng, const char *path);

/** Locate the default model shipped with the build: $SPIMGUARD_MODEL if set,
 *  else "default.model" beside the running executable, else the installed
 *  data directory.  @return a static path, or NULL when none exists. */
const char *sg_default_model_path(void);

/* --------------------------------------------------------------- message */

/** Create a message from its three required fields (copied).
 *  @return SG_OK, SG_EINVAL (NULL argument), SG_EUTF8 (a field is not valid
 *          UTF-8), SG_ENOMEM. */
int sg_message_new(const char *from, const char *to, const char *text,
                   sg_message **out);

/** Flags for sg_message_parse_json. */
enum {
    /** Training / evaluation data: "from" and "to" may be absent (they
     *  default to "unknown"), and "label" ("spam"|"ham") is required. */
    SG_PARSE_LABELED = 1 << 0
};

/** Parse one JSON object (DESIGN.md "Formats") into a message.
 *  Required string fields: "from", "to", "text".  Optional: "id" (string or
 *  integer), "ts" (RFC 3339 string or integer Unix milliseconds), "contact"
 *  (bool), "client_ip", "client", "lang" (strings), "label" ("spam"|"ham").
 *  Unknown fields are ignored.
 *  @param json      bytes of the object, need not be NUL-terminated.
 *  @param len       length in bytes.
 *  @param max_text  largest accepted "text" in bytes (0 = 65536).
 *  @param flags     0 or SG_PARSE_LABELED.
 *  @param out       receives the message (caller frees with sg_message_free).
 *  @param err       if not NULL, receives a one-line English reason on
 *                   failure ("missing field \"to\""); errlen bytes max.
 *  @return SG_OK, SG_EJSON (not JSON, or not an object), SG_EFIELD (a field
 *          missing or of the wrong type, "from"/"to" empty, "ts" outside
 *          1970..9999), SG_EUTF8 (invalid UTF-8 or
 *          a NUL character), SG_ETOOBIG (text over max_text), SG_ENOMEM. */
int sg_message_parse_json(const char *json, size_t len, size_t max_text,
                          unsigned flags, sg_message **out, char *err,
                          size_t errlen);

/** Setters for the optional fields; strings are copied.  Each returns SG_OK,
 *  SG_EINVAL (NULL message; for sg_message_set_ts also a time outside
 *  0..9999-12-31T23:59:59.999Z), SG_EUTF8 (a string that is not valid
 *  UTF-8) or SG_ENOMEM. */
int sg_message_set_id(sg_message *m, const char *id);
int sg_message_set_ts(sg_message *m, int64_t ts_ms);
int sg_message_set_contact(sg_message *m, int is_contact);
int sg_message_set_client(sg_message *m, const char *client);
int sg_message_set_client_ip(sg_message *m, const char *ip);
int sg_message_set_lang(sg_message *m, const char *lang);

/** Read-only accessors; the returned strings live as long as the message.
 *  id, client, client_ip and lang may be NULL when not given. */
const char *sg_message_from(const sg_message *m);
const char *sg_message_to(const sg_message *m);
const char *sg_message_text(const sg_message *m);
const char *sg_message_id(const sg_message *m);
/** Message time in Unix ms, or 0 when the message had no "ts". */
int64_t sg_message_ts(const sg_message *m);
/** 1 contact, 0 stranger, -1 not said. */
int sg_message_contact(const sg_message *m);
/** Label given in the input: 1 spam, 0 ham, -1 none. */
int sg_message_label(const sg_message *m);

void sg_message_free(sg_message *m);

/* --------------------------------------------------------------- verdict */

/** What to do with the message. */
typedef enum sg_action {
    SG_ACTION_DELIVER = 0, /**< deliver unchanged */
    SG_ACTION_WARN = 1,    /**< deliver with a visible warning */
    SG_ACTION_HOLD = 2,    /**< do not deliver; keep for the operator */
    SG_ACTION_DROP = 3     /**< do not deliver; tell the sender */
} sg_action;

/** What to do with the sender's account. */
typedef enum sg_account_action {
    SG_ACCOUNT_NONE = 0,
    SG_ACCOUNT_THROTTLE = 1,       /**< rate-limit the sender */
    SG_ACCOUNT_LOCK_AND_RESET = 2, /**< compromised: lock until password reset */
    SG_ACCOUNT_SUSPEND = 3         /**< abusive: suspend */
} sg_account_action;

/** Verdict labels, a bit set. */
enum {
    SG_LABEL_SPIM = 1 << 0,
    SG_LABEL_PHISHING = 1 << 1,
    SG_LABEL_LOOKALIKE_URL = 1 << 2,
    SG_LABEL_BLOCKLISTED_URL = 1 << 3,
    SG_LABEL_BULK = 1 << 4,
    SG_LABEL_COMPROMISED_SENDER = 1 << 5,
    SG_LABEL_RATE_LIMITED = 1 << 6,
    SG_LABEL_STRANGER = 1 << 7,
    SG_LABEL_COUNT_ = 8
};

/** Name of one label bit ("lookalike_url"), or NULL for an unknown bit. */
const char *sg_label_name(unsigned label_bit);
/** Name of an action ("deliver", "warn", "hold", "drop"). */
const char *sg_action_name(sg_action a);
/** Name of an account action ("none", "throttle", "lock_and_reset",
 *  "suspend"). */
const char *sg_account_action_name(sg_account_action a);

/** One reason of a verdict.  Pointers live as long as the verdict. */
typedef struct sg_reason {
    const char *code;    /**< rule name, e.g. "CONTENT", "LOOKALIKE_DOMAIN" */
    double weight;       /**< contribution to the score, in log-odds */
    const char *detail;  /**< human-readable detail */
} sg_reason;

/** Judge one message.  Updates the engine's state (sender profiles, bulk
 *  counts, campaigns) with this message, as seen at the message's own time
 *  (its "ts"; messages without one are taken at the time of the latest
 *  message seen, so a stream replays as it happened).
 *  @param out  receives the verdict (caller frees with sg_verdict_free).
 *  @return SG_OK, SG_EINVAL, SG_ETOOBIG (text over the engine's
 *          max_text_bytes), SG_EUTF8, SG_ENOMEM, SG_ESTORE. */
int sg_check(sg_engine *eng, const sg_message *msg, sg_verdict **out);

/** Learn from one labeled message (online update of the content model, the
 *  path of user reports): one step of logistic-regression gradient descent
 *  on the message's features (docs/accuracy.md gives the step size).
 *  @param is_spam  1 spam, 0 ham.
 *  @return SG_OK, SG_EINVAL, SG_ENOMEM. */
int sg_learn(sg_engine *eng, const sg_message *msg, int is_spam);

/** Train the content model on a labeled set: naive-Bayes feature scaling
 *  (NBSVM, Wang & Manning 2012), then a linear SVM solved by dual
 *  coordinate descent (Hsieh et al. 2008) over the hashed features,
 *  regularised toward a naive-Bayes model of the same set, scaled so w.x
 *  is log-odds.  `epochs` (1..100) is the most passes it makes; it stops
 *  earlier when the solution no longer changes.  A new engine starts from
 *  the naive-Bayes model; a trained or loaded one from its weights (it is
 *  refined).  Messages need a label (sg_message_label() != -1); unlabeled
 *  ones and ones with invalid UTF-8 are skipped.  Deterministic for a given
 *  seed and input order.  Needs about 8 bytes per weight-table slot of
 *  extra memory while it runs (32 MiB at hash_bits 22).
 *  @return SG_OK, SG_EINVAL (epochs out of range, or no labeled message),
 *          SG_ENOMEM. */
int sg_train(sg_engine *eng, sg_message *const *msgs, size_t n, int epochs);

/** Content-model probability of spim for a message, 0..1, without touching
 *  any state.  @return SG_OK, SG_EINVAL, SG_ENOMEM. */
int sg_content_score(sg_engine *eng, const sg_message *msg, double *p_spam);

sg_action sg_verdict_action(const sg_verdict *v);
sg_account_action sg_verdict_account_action(const sg_verdict *v);
/** Final score 0..1 (probability-like; higher is worse). */
double sg_verdict_score(const sg_verdict *v);
/** Content classifier's own P(spim), 0..1. */
double sg_verdict_content_score(const sg_verdict *v);
/** Bit set of SG_LABEL_*. */
unsigned sg_verdict_labels(const sg_verdict *v);
size_t sg_verdict_reason_count(const sg_verdict *v);
/** Reason i (0-based; ordered by the size of their weight, largest
 *  first, across all stages); NULL if out of range. */
const sg_reason *sg_verdict_reason(const sg_verdict *v, size_t i);
/** Campaign id, or NULL when the message belongs to none. */
const char *sg_verdict_campaign(const sg_verdict *v);
/** Message id as given in the input, or NULL. */
const char *sg_verdict_id(const sg_verdict *v);

/** The verdict as one line of JSON (DESIGN.md "Formats"): keys id, action,
 *  score, content_score, labels, reasons [{code, weight, detail}], campaign,
 *  account_action; numbers rounded to 4 decimals; a byte of a string that
 *  is not valid UTF-8 is written as U+FFFD.  @return a malloc'd
 *  NUL-terminated string the caller frees with free(), or NULL when out of
 *  memory or a score is NaN or infinite. */
char *sg_verdict_to_json(const sg_verdict *v);

void sg_verdict_free(sg_verdict *v);

#ifdef __cplusplus
}
#endif
#endif /* SPIMGUARD_H */
