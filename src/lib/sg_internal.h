/*
 * sg_internal.h -- what the stages of the library share and the public API
 * does not show.  Naming: sg__stage_verb() for functions used across files,
 * `static` for everything else (STYLE.md 3).
 *
 * Data flow of one message (DESIGN.md): parse (message.c) -> normalize
 * (normalize.c) -> features (features.c) -> detectors (content.c, urls.c,
 * bulk.c, sender.c ...; each a row of sg__detectors[] in engine.c) -> policy
 * (policy.c) -> verdict (verdict.c).  State lives behind sg_store (store.h).
 */
#ifndef SG_INTERNAL_H
#define SG_INTERNAL_H

#include "spimguard.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ allocation */
/* All allocation goes through these, so a test build can fail the Nth one
 * (alloc.c, sg__alloc_fail_after). */
void *sg__malloc(size_t n);
void *sg__calloc(size_t n, size_t size);
void *sg__realloc(void *p, size_t n);
void sg__free(void *p);
/** Zeroed block of n bytes for a large table read at random (the model's
 *  weights): for n >= 2 MiB it is 2 MiB-aligned and advised for
 *  transparent huge pages (madvise MADV_HUGEPAGE; a hint, ignored where
 *  unsupported), so random reads miss the TLB far less.  Freed with
 *  sg__free.  NULL when out of memory (or failed by the test hook). */
void *sg__calloc_huge(size_t n);
char *sg__strdup(const char *s);
char *sg__strndup(const char *s, size_t n);
/** Test hook: make the allocation after `n` more succeed-calls fail
 *  (n < 0 disables).  Not thread-safe; for tests only. */
void sg__alloc_fail_after(long n);

/* Invariant check that names file:line and aborts (STYLE.md 8). */
#define sg_assert(cond)                                                        \
    ((cond) ? (void)0 : sg__assert_fail(#cond, __FILE__, __LINE__))
void sg__assert_fail(const char *expr, const char *file, int line);

/* ------------------------------------------------------------ strings */
/** Growable byte buffer, always NUL-terminated after the first append. */
typedef struct sg_buf {
    char *p;
    size_t len, cap;
} sg_buf;
int sg__buf_append(sg_buf *b, const char *s, size_t n);
int sg__buf_printf(sg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sg__buf_free(sg_buf *b);

/** True when s[0..n) is valid UTF-8 without NUL bytes, overlongs or
 *  surrogates (RFC 3629). */
bool sg__utf8_valid(const char *s, size_t n);

/* ------------------------------------------------------------ message */
struct sg_message {
    char *id, *from, *to, *text;
    size_t text_len;       /* bytes */
    int64_t ts_ms;         /* 0 = not given */
    int contact;           /* 1, 0, -1 = not given */
    int label;             /* 1 spam, 0 ham, -1 none */
    char *client, *client_ip, *lang;
};

struct json_t;
/** sg_message_parse_json() for a JSON value already parsed by jansson (an
 *  element of a batch array), without printing and parsing it again: same
 *  fields, flags, max_text (0 = 64 KiB), errors and err detail.  Reads obj
 *  (borrowed), keeps nothing of it; *out is the caller's (sg_message_free).
 *  UTF-8 and duplicate names are jansson's to reject when it parses.
 *  @return SG_OK, SG_EJSON (not an object), SG_EFIELD, SG_EUTF8,
 *          SG_ETOOBIG, SG_EINVAL (out is NULL), SG_ENOMEM. */
int sg__message_from_json(struct json_t *obj, size_t max_text, unsigned flags,
                          sg_message **out, char *err, size_t errlen);

/* ------------------------------------------------------------ normalize */
/* normalize.c owns Unicode: UTF-8 check, NFKC casefold, invisible and
 * format characters, folding of small capitals / styled letters, the UTS #39
 * confusable skeleton and mixed-script words.  ICU does the work. */

typedef struct sg_normctx sg_normctx; /* ICU services and scratch buffers:
                                          one per engine, and one per thread
                                          that runs sg__check_prepare; one
                                          is never used by two threads at
                                          once */

/** Open the ICU services (NFKC casefold normalizer, spoof checker).
 *  @return SG_OK, SG_EUNICODE, SG_ENOMEM. */
int sg__normctx_new(sg_normctx **out);
void sg__normctx_free(sg_normctx *nc);

typedef struct sg_norm {
    char *text;            /* normalized text: NFKC casefolded, invisibles
                              removed, styled letters folded; UTF-8, owned */
    size_t len;            /* bytes of text */
    char *skeleton;        /* UTS #39 skeleton of `text`, UTF-8, owned; for
                              comparing, never for showing.  NULL until
                              sg__norm_skeleton() is called (it is costly) */
    size_t skeleton_len;
    uint32_t codepoints;   /* code points in the original text */
    uint32_t letters;      /* letters in the original text */
    uint32_t uppercase;    /* upper-case letters in the original text */
    uint32_t digits;       /* decimal digits in the original text */
    uint32_t invisibles;   /* invisible / format characters removed */
    uint32_t mixed_script_words; /* words mixing scripts (Latin+Cyrillic..) */
    uint32_t folded;       /* styled letters folded (small caps, math
                              alphanumerics, full-width) */
    uint32_t scripts;      /* bit set of main scripts seen, SG_SCRIPT_* */
} sg_norm;

enum {
    SG_SCRIPT_LATIN = 1 << 0,
    SG_SCRIPT_CYRILLIC = 1 << 1,
    SG_SCRIPT_GREEK = 1 << 2,
    SG_SCRIPT_ARABIC = 1 << 3,
    SG_SCRIPT_HEBREW = 1 << 4,
    SG_SCRIPT_HAN = 1 << 5,
    SG_SCRIPT_KANA = 1 << 6,
    SG_SCRIPT_HANGUL = 1 << 7,
    SG_SCRIPT_DEVANAGARI = 1 << 8,
    SG_SCRIPT_THAI = 1 << 9,
    SG_SCRIPT_OTHER = 1 << 15
};

/** Normalize `len` bytes of UTF-8 text into *out (zeroed first).
 *  @return SG_OK, SG_EUTF8 (invalid UTF-8), SG_ENOMEM, SG_EUNICODE.
 *  On failure *out holds nothing to free. */
int sg__normalize(sg_normctx *nc, const char *text, size_t len, sg_norm *out);
void sg__norm_free(sg_norm *n);

/** Fill n->skeleton (once; later calls return at once).
 *  @return SG_OK, SG_EUNICODE, SG_ENOMEM. */
int sg__norm_skeleton(sg_normctx *nc, sg_norm *n);

/** UTS #39 skeleton of a UTF-8 string (e.g. a domain label); malloc'd
 *  result in *out (sg__free), NUL-terminated.
 *  @return SG_OK, SG_EUTF8 (s is not valid UTF-8), SG_EUNICODE, SG_ENOMEM. */
int sg__skeleton(sg_normctx *nc, const char *s, size_t len, char **out);

/* ------------------------------------------------------------ features */
/* features.c turns a normalized message into hashed features (xxHash).
 * Each feature keeps where it came from, so a reason can name it. */

typedef enum sg_feat_kind {
    SG_FEAT_BIAS = 0,   /* constant 1 */
    SG_FEAT_WORD,       /* word unigram: text[off..off+len) */
    SG_FEAT_PAIR,       /* OSB word pair: word a, gap, word b */
    SG_FEAT_CHAR,       /* character n-gram (2..5 code points) */
    SG_FEAT_META,       /* meta feature: meta id in off, bucket in len */
    SG_FEAT_SHAPE       /* digits: token shape, number length (gap = which) */
} sg_feat_kind;

/* Meta feature ids (sg_feat.off when kind == SG_FEAT_META). */
typedef enum sg_meta_id {
    SG_META_URL = 0,        /* a URL-like token is present */
    SG_META_PHONE,          /* phone-number-like digit run */
    SG_META_CURRENCY,       /* currency sign or amount */
    SG_META_PRIZE,          /* prize / money / urgency word */
    SG_META_DIGIT_RATIO,    /* bucketed share of digits */
    SG_META_UPPER_RATIO,    /* bucketed share of upper-case letters */
    SG_META_LENGTH,         /* bucketed length in code points */
    SG_META_INVISIBLE,      /* invisible characters were removed */
    SG_META_MIXED_SCRIPT,   /* a word mixes scripts */
    SG_META_FOLDED,         /* styled letters were folded */
    SG_META_COUNT_
} sg_meta_id;

typedef struct sg_feat {
    uint32_t idx;       /* weight index, already masked to the table */
    float val;          /* feature value */
    uint8_t kind;       /* sg_feat_kind */
    uint8_t gap;        /* SG_FEAT_PAIR: words skipped between a and b */
    uint32_t off, len;  /* first span in the normalized text (bytes) */
    uint32_t off2, len2;/* second span (SG_FEAT_PAIR) */
} sg_feat;

typedef struct sg_featvec {
    sg_feat *v;
    size_t n, cap;
} sg_featvec;

/** Extract features of a normalized message into fv (appended after
 *  clearing; fv's memory is reused across calls).  Values are scaled so the
 *  vector has unit L2 norm.  hash_bits: table size is 1 << hash_bits
 *  (1..31, asserted).  Binary presence: an index seen twice in a message
 *  is kept once (the first feature); at most 65536 features per message.
 *  Details: docs/normalization.md.  @return SG_OK, SG_ENOMEM. */
int sg__features(const sg_norm *n, uint32_t hash_bits, sg_featvec *fv);
/** sg__features, and for each feature also a prefetch of weights[index]
 *  (a hint to the CPU: nothing is read or written through it), so that
 *  the model margin that follows finds its weights in cache instead of
 *  waiting for ~350 misses in a 16 MiB table one after another.  weights:
 *  the 1 << hash_bits weights of the model about to score fv, or NULL
 *  (then exactly sg__features).  Same output, same errors. */
int sg__features_warm(const sg_norm *n, uint32_t hash_bits, const float *weights,
                      sg_featvec *fv);
void sg__featvec_free(sg_featvec *fv);

/** Write a readable name of feature f into b, e.g. `word "winner"`,
 *  `char n-gram "claim"`, `phone number`, `prize word`.  `n` is the
 *  normalized text the feature came from.  @return SG_OK, SG_ENOMEM. */
int sg__feature_name(const sg_norm *n, const sg_feat *f, sg_buf *b);

/* ------------------------------------------------------------ model */
/* model.c: a linear model on hashed features giving log-odds; batch
 * training by SVM dual coordinate descent, online steps of logistic loss. */
typedef struct sg_model {
    uint32_t hash_bits;
    float *w;           /* 1 << hash_bits weights */
    double rate;        /* learning rate */
    uint64_t updates;   /* number of gradient steps taken */
} sg_model;

int sg__model_init(sg_model *m, uint32_t hash_bits);
void sg__model_free(sg_model *m);
/** w . x (log-odds). */
double sg__model_margin(const sg_model *m, const sg_featvec *fv);
/** One gradient step of logistic loss toward label y (1 spam, 0 ham). */
void sg__model_update(sg_model *m, const sg_featvec *fv, int y);
/** Batch training (model.c): linear SVM by dual coordinate descent, at
 *  most `epochs` passes, regularised toward a naive-Bayes model of the same
 *  features (a new model) or toward the current weights (a trained or
 *  loaded one), result scaled to log-odds.  x[i], y[i] (1 spam,
 *  0 ham) for i < n; reads x, keeps nothing.  @return SG_OK, SG_ENOMEM. */
int sg__model_train(sg_model *m, const sg_featvec *const *x, const int *y,
                    size_t n, int epochs, uint64_t seed);
/** Save / load; see sg_engine_save_model.  errbuf gets a detail. */
int sg__model_save(const sg_model *m, const char *path, char *err, size_t el);
int sg__model_load(sg_model *m, const char *path, char *err, size_t el);

double sg__sigmoid(double x);
double sg__logit(double p); /* p clamped to [1e-6, 1-1e-6] */

/* ------------------------------------------------------------ urls */
/* urls.c finds links in a message; later stages (bulk, sender, policy) read
 * them through sg__ctx_urls() so the text is scanned once per message. */
enum {
    SG_URL_IP = 1 << 0,         /* host is a raw IPv4/IPv6 address */
    SG_URL_PUNYCODE = 1 << 1,   /* host has an xn-- label */
    SG_URL_SHORTENER = 1 << 2,  /* registrable domain is a URL shortener */
    SG_URL_OBFUSCATED = 1 << 3, /* found only after de-obfuscation (hxxp,
                                   [.], " dot ", zero-width ...) */
    SG_URL_NO_SCHEME = 1 << 4,  /* written without http(s):// */
    SG_URL_USERINFO = 1 << 5    /* user@host trick */
};

typedef struct sg_url {
    char *url;          /* the URL as found, de-obfuscated, UTF-8, owned */
    char *host;         /* lower-case ASCII (punycode) host, owned */
    char *host_unicode; /* host in Unicode (UTS #46 ToUnicode), owned */
    char *registrable;  /* eTLD+1 (ASCII), owned; NULL for IP hosts */
    unsigned flags;     /* SG_URL_* */
} sg_url;

typedef struct sg_urlset {
    sg_url *v;
    size_t n;
} sg_urlset;

struct sg_ctx;
/** The URLs of the context's message, extracted on the first call and kept
 *  in the context (freed by sg__ctx_free).  Never NULL: an empty set when
 *  there are none or extraction ran out of memory. */
const sg_urlset *sg__ctx_urls(struct sg_ctx *c);
/** Free a set made by sg__ctx_urls (its URLs and the set itself). */
void sg__urlset_free(sg_urlset *s);

/* ------------------------------------------------------------ data files */
/** Find a data file shipped with spimguard (data/NAME in the source tree):
 *  $SPIMGUARD_DATADIR/NAME, then data/NAME beside the executable's folder,
 *  then the source tree's data/, then the installed share/spimguard/.
 *  Writes the path into buf.  @return SG_OK or SG_ENOTFOUND. */
int sg__data_path(const char *name, char *buf, size_t cap);

/* ------------------------------------------------------------ per message */
/* The context of one message as it goes through the detectors.  Detectors
 * read msg/norm/fv and add signals; policy.c turns signals into a verdict. */

typedef struct sg_signal {
    const char *code;   /* static rule name, "LOOKALIKE_DOMAIN" */
    double weight;      /* log-odds contribution (may be negative) */
    unsigned labels;    /* SG_LABEL_* bits this signal sets */
    char *detail;       /* owned, human readable */
    bool explain_only;  /* shown as a reason, not added to the score */
} sg_signal;

typedef struct sg_ctx {
    sg_engine *eng;
    const sg_message *msg;
    int64_t now_ms;     /* the message's time (see sg_check) */
    sg_norm norm;
    sg_featvec fv;
    double content_p;   /* P(spim) from the content model */
    double content_margin; /* its log-odds */
    sg_signal *sig;
    size_t nsig, capsig;
    unsigned labels;    /* labels forced by detectors */
    sg_account_action account_action; /* strongest asked for so far */
    sg_action min_action;             /* floor asked for by a detector */
    char *campaign;     /* owned; campaign id or NULL */
    struct sg_detail_chunk *details; /* owned: where the signals' details
                                        live (engine.c) */
    sg_urlset *urls;    /* filled by sg__ctx_urls(); free with sg__urlset_free */
    void *stage[8];     /* per-detector scratch, indexed by detector slot */
    /* The prepare phase (sg__check_prepare) and what the judge phase
     * (sg__check_judge) needs to report it or to run again. */
    void *prep[8];      /* per-detector result of its prepare hook, by
                           slot: one block from sg__malloc (or NULL),
                           freed by sg__ctx_free */
    int prep_rc;        /* what preparing returned (SG_OK or an error) */
    int prep_failed;    /* slot of the prepare hook that failed, or -1 */
    size_t prep_nsig;   /* signals added by prepare hooks; the judge
                           phase keeps these when it runs again */
    unsigned prep_labels;
    sg_account_action prep_account_action;
    sg_action prep_min_action;
} sg_ctx;

/** Add a signal with a printf-style detail.  @return SG_OK, SG_ENOMEM. */
int sg__ctx_signal(sg_ctx *c, const char *code, double weight,
                   unsigned labels, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/** Add a reason that explains the score without adding to it (e.g. the
 *  content model's strongest features, whose sum is already the CONTENT
 *  signal).  @return SG_OK, SG_ENOMEM. */
int sg__ctx_explain(sg_ctx *c, const char *code, double weight,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/** Ask for at least this message action / account action. */
void sg__ctx_want_action(sg_ctx *c, sg_action a);
void sg__ctx_want_account_action(sg_ctx *c, sg_account_action a);
/** Set the campaign id (copied). @return SG_OK, SG_ENOMEM. */
int sg__ctx_set_campaign(sg_ctx *c, const char *id);

/* ------------------------------------------------------------ detectors */
/* A detector is a row of function pointers (STYLE.md 10): adding one is a
 * new file plus one row in sg__detectors[] (engine.c).  `state` is what
 * init returned; it lives as long as the engine. */
typedef struct sg_detector {
    const char *name;
    int (*init)(sg_engine *eng, void **state);           /* may be NULL */
    /* The stateless part, run by sg__check_prepare before any store
     * access, possibly on another thread and concurrently with other
     * prepares on the same engine: it reads only c's message, norm, fv,
     * URLs and the state's immutable data (model weights, URL lists),
     * never the store, eng->clock_ms or a shared scratch buffer, and
     * writes only to c (signals, prep[slot]).  May be NULL.  A row whose
     * prepare adds signals must come before every row whose check does
     * (signal order is the verdict's reason order). */
    int (*prepare)(void *state, sg_ctx *c);
    /* The stateful part, in the judge phase under the caller's engine
     * lock; may run more than once per message (SG__ECONFLICT retries,
     * after the judge-phase signals were dropped).  May be NULL. */
    int (*check)(void *state, sg_ctx *c);                 /* add signals */
    int (*learn)(void *state, sg_ctx *c, int is_spam);    /* may be NULL */
    void (*free)(void *state);                            /* may be NULL */
} sg_detector;

extern const sg_detector *const sg__detectors[];
extern const size_t sg__ndetectors;

extern const sg_detector sg__detector_content;
extern const sg_detector sg__detector_urls;
extern const sg_detector sg__detector_bulk;
extern const sg_detector sg__detector_sender;

/* ------------------------------------------------------------ policy */
/** Turn the signals in c into a verdict (policy.c).  @return SG_OK,
 *  SG_ENOMEM. */
int sg__policy_decide(sg_ctx *c, sg_verdict **out);

/* ------------------------------------------------------------ engine */
struct sg_store;

struct sg_engine {
    sg_options opt;         /* strings below are owned copies */
    char *brands_file, *allow_file, *blocklist_file, *store_uri;
    sg_normctx *nc;
    sg_model model;
    struct sg_store *store; /* account / bulk / campaign state */
    int64_t clock_ms;       /* latest message time seen */
    void *det_state[8];     /* one per detector row */
    struct sg_enforce *enforce; /* policy config + evidence log (enforce.c) */
    char errmsg[256];
};

/** Set the engine's error detail (printf-style); returns err. */
int sg__set_error(sg_engine *eng, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Prepare a context for msg: normalize + features (no detectors).
 *  @return SG_OK, SG_EUTF8, SG_ENOMEM. */
int sg__ctx_init(sg_engine *eng, const sg_message *msg, sg_ctx *c);
void sg__ctx_free(sg_ctx *c);
/** Free what c owns except its feature buffer (kept unless over 28 KiB),
 *  its signal array and one 1 KiB block for signal details (emptied),
 *  for sg__check_prepare_reuse: a caller that prepares many messages keeps
 *  its contexts and saves their allocations.  c is left zeroed but for
 *  those buffers; sg__ctx_free releases them. */
void sg__ctx_recycle(sg_ctx *c);

/* sg_check in two phases (engine.c), so that a caller with threads (the
 * daemon) can prepare messages in parallel outside its engine lock and
 * hold the lock only to judge them.  sg_check(eng, msg, &v) is exactly
 * sg__check_prepare(eng, msg, &c, NULL) + sg__check_judge(eng, &c, &v) +
 * sg__ctx_free(&c): same verdict, byte for byte (tests/test_engine.c). */

/** The prepare phase: checks the size limit, normalizes, extracts features,
 *  scores the content model, finds and judges the URLs, fingerprints the
 *  text (every detector row's prepare hook).  Reads no store state and
 *  writes nothing in eng, so several threads may prepare on one engine at
 *  once -- but never while sg_learn, sg_train, sg_engine_load_model or a
 *  list reload (sg__query_reload_lists) runs on it: the caller excludes
 *  those (the daemon with a rwlock).  nc: the calling thread's own
 *  normalizer scratch (sg__normctx_new; one per thread, reused across
 *  messages), or NULL to use the engine's, which only a caller holding the
 *  engine lock may do.  msg must outlive c.  c always needs sg__ctx_free
 *  afterwards, whatever the result; a failure is also kept in c and
 *  reported (with its detail) by sg__check_judge.
 *  @return SG_OK, SG_ETOOBIG, SG_EUTF8, SG_EUNICODE, SG_ENOMEM. */
int sg__check_prepare(sg_engine *eng, const sg_message *msg, sg_ctx *c,
                      sg_normctx *nc);
/** sg__check_prepare into a context that is all zero or was left by
 *  sg__ctx_recycle, reusing its buffers (same result, byte for
 *  byte).  engine.c.  @return as sg__check_prepare. */
int sg__check_prepare_reuse(sg_engine *eng, const sg_message *msg, sg_ctx *c,
                            sg_normctx *nc);

/** The judge phase, under the caller's engine lock: the stateful detector
 *  checks (bulk counts, campaigns, sender profile), policy, the store
 *  commit, the engine clock and enforcement records -- sg_check's contract
 *  (store groups nest, retries on SG__ECONFLICT redo only this phase).
 *  *out gets the verdict (the caller's) or NULL.  A prepare that failed is
 *  answered here with its error and the engine's detail message.  c may
 *  be judged again only after a failure.
 *  @return what sg_check returns. */
int sg__check_judge(sg_engine *eng, sg_ctx *c, sg_verdict **out);

/* ------------------------------------------------------------ verdict */
struct sg_verdict {
    char *id;
    sg_action action;
    sg_account_action account_action;
    double score, content_score;
    unsigned labels;
    sg_reason *reasons;     /* code static, detail owned */
    size_t nreasons;
    char *campaign;
    bool reasons_block;     /* the details live in the reasons' allocation
                               (policy.c): freed with it, not one by one */
};

/** Append v's JSON (the same bytes as sg_verdict_to_json) to b: for a
 *  caller rendering many verdicts into one buffer (the daemon's batch
 *  answer), no allocation per verdict.  On failure b is as it was.
 *  @return SG_OK, SG_EINVAL (NULL argument, a score or weight that is NaN
 *  or infinite), SG_ENOMEM.  verdict.c. */
int sg__verdict_json_append(sg_buf *b, const sg_verdict *v);

#endif /* SG_INTERNAL_H */
