/*
 * evidence.h -- the tamper-evident evidence log (evidence.c): an
 * append-only file of JSON lines, each entry hash-chained to the one
 * before with BLAKE2b (libsodium crypto_generichash), message texts kept
 * beside the chain so they can be redacted, and periodic checkpoints
 * signed with Ed25519 (libsodium crypto_sign) so a third party holding the
 * public key can verify any range.  It knows nothing of engines or
 * verdicts: enforce.c turns a verdict into an sg_evidence_entry.
 * Format, key handling and figures: docs/enforcement.md.
 */
#ifndef SG_EVIDENCE_H
#define SG_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spimguard.h"

/* ------------------------------------------------------------ format */

/* Files in an evidence directory:
 *   log.jsonl       the chain, one entry per line (see below)
 *   texts.jsonl     message texts: {"h": text hash, "salt": hex, "text"}
 *   signing.key     Ed25519 secret key, hex (64 bytes), mode 0600
 *   signing.pub     Ed25519 public key, hex (32 bytes)
 *   torn-SEQ.bin    bytes of a torn last line set aside at open (if any)
 *
 * One entry (one line, no space, keys in this order):
 *   {"seq":N,"prev":"<64 hex>","kind":"...", ...body...,"hash":"<64 hex>"}
 * digest(entry) = BLAKE2b-256(line bytes before ',"hash":')
 * hash(entry)   = BLAKE2b-256(raw prev hash (32 bytes) || digest)
 * The first entry (seq 0, kind "genesis") has prev = 64 zeros.  An entry
 * may be shipped "elided" -- {"seq":N,"prev":...,"elided":"<digest>",
 * "hash":...} -- which keeps the chain checkable without its contents
 * (reports for a legal team elide other people's entries).
 * A checkpoint entry signs "spimguard-evidence-checkpoint/1\n" SEQ "\n"
 * HASH "\n" TS, where SEQ/HASH are the entry it follows. */

#define SG_EV_HASH_BYTES 32  /* BLAKE2b-256 */
#define SG_EV_HEX_LEN 64     /* hex digits of a hash */
#define SG_EV_KEY_ID_LEN 16  /* hex digits of a key id */

/* ------------------------------------------------------------ lines */

/** One log line, parsed without a JSON parser (the fixed key order makes
 *  seq, prev and hash findable at known places). */
typedef struct sg_ev_line {
    uint64_t seq;
    unsigned char prev[SG_EV_HASH_BYTES];
    unsigned char hash[SG_EV_HASH_BYTES];   /* as written on the line */
    unsigned char digest[SG_EV_HASH_BYTES]; /* computed, or given (elided) */
    bool elided;        /* {"seq","prev","elided","hash"} form */
    bool checkpoint;    /* kind "checkpoint" */
    size_t prefix_len;  /* bytes before ',"hash":' */
} sg_ev_line;

/** Parse one line (n bytes, without its newline) and compute its digest.
 *  @return true when it has the shape of an entry. */
bool sg__evidence_parse_line(const char *p, size_t n, sg_ev_line *out);

/** hash = BLAKE2b-256(prev || digest) of a parsed line, into out[32]. */
void sg__evidence_chain_hash(const unsigned char prev[32],
                             const unsigned char digest[32],
                             unsigned char out[32]);

/** Lower-case hex of n bytes into out (2n + 1 bytes). */
void sg__evidence_hex(const unsigned char *b, size_t n, char *out);

/** Decode exactly 2n hex digits into b[n].  @return true on success. */
bool sg__evidence_unhex(const char *s, unsigned char *b, size_t n);

/** The message a checkpoint signs, into buf (cap bytes); returns its
 *  length. */
size_t sg__evidence_sign_msg(uint64_t covers_seq, const char *covers_hash_hex,
                             int64_t ts_ms, char *buf, size_t cap);

/* ------------------------------------------------------------ keys */

/** Generate an Ed25519 key pair and write it as hex: the secret key to
 *  `sk_path` (mode 0600, created exclusively: an existing file is never
 *  overwritten) and the public key to `pk_path`.
 *  @return SG_OK, SG_EIO (a file exists or cannot be written; detail in
 *          err), SG_EUNICODE never; SG_ENOMEM never. */
int sg__evidence_keygen(const char *sk_path, const char *pk_path, char *err,
                        size_t errlen);

/** Read a public key file (64 hex digits, optional trailing newline) into
 *  pk[32].  @return SG_OK, SG_EIO (cannot read), SG_EFORMAT (not a key). */
int sg__evidence_read_pubkey(const char *path, unsigned char pk[32], char *err,
                             size_t errlen);

/** Key id of a public key: the first 16 hex digits of BLAKE2b-256(pk),
 *  into out[17]. */
void sg__evidence_key_id(const unsigned char pk[32], char out[17]);

/* ------------------------------------------------------------ writing */

typedef struct sg_evidence sg_evidence;

/** Options of an evidence log; zero means the default. */
typedef struct sg_evidence_opts {
    const char *dir;            /* evidence directory (required; created
                                   0700 with its parents' last level) */
    const char *key_path;       /* Ed25519 secret key; NULL = DIR/signing.key,
                                   generated (with signing.pub) when
                                   missing.  A key named here must exist. */
    uint32_t checkpoint_every;  /* entries between signed checkpoints; 1000 */
    int64_t checkpoint_ms;      /* or this much time (entry ts, ms) since the
                                   last checkpoint; 3600000 (1 h) */
    bool sync_every;            /* fdatasync after every entry; default:
                                   only at checkpoints and close */
} sg_evidence_opts;

/** One message an entry refers to.  Strings are borrowed for the call. */
typedef struct sg_evidence_msg {
    const char *id;            /* may be NULL */
    const char *from, *to;     /* sender, recipient */
    int64_t ts_ms;             /* message time, Unix ms (0 = unknown) */
    const char *text;          /* NULL = no text kept */
    size_t text_len;           /* bytes */
} sg_evidence_msg;

/** One reason: code, log-odds weight, detail (as in sg_reason). */
typedef struct sg_evidence_reason {
    const char *code;
    double weight;
    const char *detail;
} sg_evidence_reason;

/** What one entry records.  Every pointer is borrowed for the call; NULL
 *  strings and empty arrays are left out of the line. */
typedef struct sg_evidence_entry {
    const char *kind;          /* "account_action", "message_action",
                                  "appeal", "decision", "redaction",
                                  "note" ... (required, [a-z_]+) */
    int64_t ts_ms;             /* when it happened (message time), Unix ms */
    const char *account;       /* the account acted on */
    const char *action;        /* account action ("lock_and_reset" ...) or
                                  the decision ("clear", "confirm") */
    const char *message_action;/* "hold", "drop" ... */
    const char *labels[8];     /* label names, NULL-terminated if < 8 */
    double score;              /* verdict score 0..1 (when has_score) */
    bool has_score;
    const char *campaign;      /* campaign id or NULL */
    const char *infected_by;   /* who sent the campaign to this account */
    const char *config_version;/* policy config version ("policy:ab12...") */
    bool dry_run;              /* recorded, not enforced */
    const char *actor;         /* operator or "engine" */
    const char *note;          /* free text (appeal text, decision note) */
    int64_t until_ms;          /* end of a suspension, 0 = permanent/none */
    const sg_evidence_reason *reasons;
    size_t nreasons;
    const sg_evidence_msg *msgs;
    size_t nmsgs;
    const char *const *urls;   /* URLs the messages carried */
    size_t nurls;
    const char *const *refs;   /* text hashes (redaction) or entry hashes
                                  (appeal/decision) referred to */
    size_t nrefs;
} sg_evidence_entry;

/** Where an appended entry landed. */
typedef struct sg_evidence_ref {
    uint64_t seq;
    char hash[SG_EV_HEX_LEN + 1];
} sg_evidence_ref;

/** Open (or create) the log in o->dir and take an exclusive lock on it
 *  (flock: a second process gets SG_EIO "in use").  A new log gets its
 *  genesis entry.  A torn last line (a write cut by a crash) is moved to
 *  torn-SEQ.bin, the file is cut back to the last whole line, and a
 *  "recovery" entry recording the offset and bytes is appended: nothing is
 *  silently accepted.  *recovered (may be NULL) tells whether that
 *  happened.  The last line's own hash is checked; full verification is
 *  sg__evidence_verify's job.
 *  @return SG_OK, SG_EINVAL (no dir), SG_EIO (cannot create / lock / read;
 *          key file missing or unreadable), SG_EFORMAT (the last line is
 *          not an entry, or its hash is wrong), SG_ENOMEM; detail in err.
 *          On failure *out is NULL. */
int sg__evidence_open(const sg_evidence_opts *o, sg_evidence **out,
                      bool *recovered, char *err, size_t errlen);

/** Write a checkpoint if any entry follows the last one, sync, unlock and
 *  release.  NULL is a no-op. */
void sg__evidence_close(sg_evidence *ev);

/** Append one entry: texts of e->msgs first go to texts.jsonl (each with a
 *  fresh 16-byte salt; the entry keeps BLAKE2b-256(key = salt, text)),
 *  then the line is written with one write(2).  A checkpoint follows when
 *  checkpoint_every entries or checkpoint_ms have passed.  Not
 *  thread-safe (one writer: the engine's lock covers it).
 *  @param out  may be NULL; receives the entry's seq and hash.
 *  @return SG_OK, SG_EINVAL (no kind), SG_EIO (write failed: the log is
 *          left as it was, a partial line cut off), SG_ENOMEM. */
int sg__evidence_append(sg_evidence *ev, const sg_evidence_entry *e,
                        sg_evidence_ref *out);

/** Write a signed checkpoint now (ts_ms = its time).  @return as append. */
int sg__evidence_checkpoint(sg_evidence *ev, int64_t ts_ms);

/** Open a group of entries that stands or falls with a store group (the
 *  checks of one batch, group.h): until sg__evidence_commit, appends and
 *  checkpoints are chained and sealed as usual (seqs and hashes are final,
 *  so refs handed out stay true) but their lines wait in memory.  So a
 *  batch whose store commit fails, and is judged again message by message,
 *  is not logged twice.  Groups do not nest.
 *  @return SG_OK, SG_EINVAL (NULL, or a group already open). */
int sg__evidence_begin(sg_evidence *ev);

/** Write the group's lines (texts first, then the log, one write each) and
 *  close it; fdatasync as a lone append or checkpoint would have.  No group
 *  open: SG_OK, nothing done.
 *  @return SG_OK; SG_EIO (a write failed: the log is cut back to where the
 *          group began and the chain rewound; texts already written stay,
 *          unreferenced, as after a crash). */
int sg__evidence_commit(sg_evidence *ev);

/** Drop the group's lines and rewind the chain to where the group began.
 *  No group open (or NULL): nothing. */
void sg__evidence_abort(sg_evidence *ev);

/** Entries in the log (= the next seq), and the head hash (hex, lives as
 *  long as ev). */
uint64_t sg__evidence_count(const sg_evidence *ev);
const char *sg__evidence_head(const sg_evidence *ev);

/** Detail of the last failure on ev, or "". */
const char *sg__evidence_errmsg(const sg_evidence *ev);

/* ------------------------------------------------------------ checking */

typedef enum sg_ev_fault {
    SG_EV_OK = 0,
    SG_EV_EDITED,        /* an entry's contents do not match its hash */
    SG_EV_REMOVED,       /* an entry is missing */
    SG_EV_INSERTED,      /* an entry that does not belong was added */
    SG_EV_REORDERED,     /* entries are out of order */
    SG_EV_TORN,          /* the last line is incomplete (a cut write) */
    SG_EV_MALFORMED,     /* a line is not an entry at all */
    SG_EV_BAD_SIGNATURE, /* a checkpoint's signature does not verify: the
                            chain before it was rewritten, or another key
                            signed it */
    SG_EV_NO_FILE        /* the log cannot be read */
} sg_ev_fault;

/** Name of a fault ("edited", "removed", ...). */
const char *sg__evidence_fault_name(sg_ev_fault f);

/** Result of a verification. */
typedef struct sg_ev_report {
    sg_ev_fault fault;       /* the first problem found, SG_EV_OK if none */
    uint64_t bad_line;       /* 1-based line of the first bad entry */
    int64_t expected_seq;    /* seq that belongs at bad_line (-1 unknown) */
    int64_t found_seq;       /* seq written on bad_line (-1 none) */
    char detail[320];        /* one English sentence naming the entry */
    uint64_t entries;        /* entries that verified */
    uint64_t first_seq;      /* seq of the first line (0 for a whole log) */
    uint64_t elided;         /* entries shipped without their contents */
    uint64_t checkpoints;    /* checkpoints seen */
    uint64_t signatures_ok;  /* ... whose signature verified */
    int64_t last_signed_seq; /* last entry covered by a good signature,
                                -1 = none */
    uint64_t unsigned_tail;  /* entries after the last good signature */
    bool signatures_checked; /* a public key was available */
    char head[SG_EV_HEX_LEN + 1]; /* hash of the last good entry */
} sg_ev_report;

/** Verify a log file (a whole log, or a segment cut from one: then its
 *  first line's prev is taken on trust and only signatures vouch for it).
 *  Checks, line by line: the format, seq = previous + 1, prev = previous
 *  hash, hash = BLAKE2b(prev || digest); each checkpoint's signature with
 *  one of the `npk` public keys (none: signatures are not checked).
 *  Stops at the first bad line and classifies it (edited / removed /
 *  inserted / reordered / torn / malformed / bad signature), naming the
 *  line and the entry.  Linear in the file; reads it with mmap.
 *  @return SG_OK when the log verifies, SG_ECHECKSUM when a fault was
 *          found (see rep), SG_EIO (cannot read; rep->fault NO_FILE),
 *          SG_ENOMEM. */
int sg__evidence_verify(const char *log_path, const unsigned char (*pks)[32],
                        size_t npk, bool segment, sg_ev_report *rep);

/** Check texts.jsonl of dir against its own salts and hashes: *present
 *  texts, *mismatched ones (a text edited after the fact).
 *  @return SG_OK, SG_EIO, SG_ENOMEM. */
int sg__evidence_check_texts(const char *dir, uint64_t *present,
                             uint64_t *mismatched);

/* ------------------------------------------------------------ reading */

/** Call fn for every line of the log at `log_path` (whole lines only; a
 *  torn last line is skipped), with the line (not NUL-terminated), its
 *  length in bytes and its 1-based number.  fn returns 0 to go on,
 *  anything else to stop (returned).
 *  @return SG_OK, SG_EIO, or what fn returned. */
int sg__evidence_each(const char *log_path,
                      int (*fn)(void *ud, const char *line, size_t n,
                                uint64_t lineno),
                      void *ud);

/** Look up the text of a text hash in dir/texts.jsonl.  *text gets a
 *  malloc'd copy (sg__free) or NULL when absent (redacted).
 *  @return SG_OK, SG_ENOTFOUND, SG_EIO, SG_ENOMEM. */
int sg__evidence_text(const char *dir, const char *text_hash, char **text);

/** The elided form of one log line (digest instead of contents), into a
 *  malloc'd NUL-terminated string (sg__free).  @return SG_OK, SG_EFORMAT
 *  (not an entry line), SG_ENOMEM. */
int sg__evidence_elide(const char *line, size_t n, char **out);

/* ------------------------------------------------------------ redaction */

/** Remove the texts whose hashes are listed from the log's texts.jsonl
 *  (rewritten to a temporary file and renamed, so a crash leaves the old
 *  or the new file) and append a "redaction" entry naming the hashes, the
 *  reason and the actor.  The chain is untouched, so it still verifies.
 *  @param removed  may be NULL; receives how many texts were removed.
 *  @return SG_OK, SG_EINVAL (no hash), SG_ENOTFOUND (no listed hash had a
 *          text: nothing written), SG_EIO, SG_ENOMEM; detail in
 *          sg__evidence_errmsg(ev). */
int sg__evidence_redact(sg_evidence *ev, const char *const *hashes, size_t n,
                        const char *reason, const char *actor, int64_t ts_ms,
                        size_t *removed);

/** The evidence directory of an open log (lives as long as ev). */
const char *sg__evidence_dir(const sg_evidence *ev);

#endif /* SG_EVIDENCE_H */
