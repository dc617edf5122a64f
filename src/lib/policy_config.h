/*
 * policy_config.h -- the enforcement policy as configuration
 * (policy_config.c): the score ladder and label floors policy.c applies,
 * the ceiling of automatic account actions, the suspension length,
 * dry-run, allowlists of accounts and account domains, the evidence log's
 * place and checkpoints, and the reporter penalty of a cleared appeal.
 * Every key is one row of a table (name, type, bounds, default, reloadable,
 * meaning, STYLE.md 11) that drives the file parser, --help and
 * docs/enforcement.md.  It knows nothing of engines.
 */
#ifndef SG_POLICY_CONFIG_H
#define SG_POLICY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spimguard.h"

/** The policy.  Defaults (sg__policy_config_default) are the values the
 *  static tables of policy.c had: chosen on the SMS train split so that
 *  "drop" blocks well under 0.1 % of ham. */
typedef struct sg_policy_config {
    /* message ladder: the first score the message reaches decides */
    double drop_score;            /* 0.98 */
    double hold_score;            /* 0.90 */
    double warn_score;            /* 0.60 */
    double spim_score;            /* label spim at or above; 0.60 */
    double contact_prior;         /* log-odds when contact: true; -1.5 */
    sg_action contact_content_action; /* ceiling for a contact's message
                                     flagged by the content model alone;
                                     warn */
    /* labels that never let a message through untouched */
    sg_action phishing_action;    /* hold */
    sg_action blocklisted_action; /* hold */
    sg_action compromised_action; /* hold */
    sg_action lookalike_action;   /* warn */
    /* account ladder (throttle -> lock_and_reset -> suspend) */
    sg_account_action max_account_action; /* highest action taken
                                             automatically; suspend */
    double suspend_hours;         /* length of a suspension; 0 = permanent
                                     until an operator decides */
    bool dry_run;                 /* record, do not enforce; false */
    /* allowlists: never actioned, messages at most warned */
    char **allow_accounts;        /* account ids (ASCII case-insensitive) */
    size_t nallow_accounts;
    char **allow_domains;         /* account domains (after '@'), with
                                     their subdomains */
    size_t nallow_domains;
    char *allow_accounts_file;    /* more ids, one per line; "" = none */
    bool record_message_actions;  /* log holds/drops labelled phishing,
                                     blocklisted_url or compromised_sender
                                     (not only account actions); true */
    /* evidence log (not reloadable) */
    char *evidence_dir;           /* "" = the engine option / DATA_DIR */
    char *evidence_key;           /* "" = EVIDENCE_DIR/signing.key */
    long checkpoint_every;        /* entries between signed checkpoints;
                                     1000 */
    double checkpoint_minutes;    /* or minutes (entry time); 60 */
    bool evidence_sync;           /* fdatasync every entry; false */
    /* appeals */
    double reporter_penalty;      /* trust multiplier a reporter gets for
                                     each cleared account it reported as
                                     spam; 0.5 */
    char version[40];             /* "policy:" + 16 hex digits of the
                                     BLAKE2b of the file, or
                                     "policy:default" */
} sg_policy_config;

/** Fill *c with the defaults (no allocation; strings point at ""). */
void sg__policy_config_default(sg_policy_config *c);

/** Release what c owns and reset it to the defaults.  NULL is a no-op. */
void sg__policy_config_free(sg_policy_config *c);

/** Set one key from its text ("0.95", "hold", "true", "a@x, b@y").
 *  @return SG_OK; SG_EINVAL (unknown key, bad value, out of bounds) or
 *          SG_ENOMEM with a one-line reason in err ("hold_score: 1.5 is
 *          outside 0..1"). */
int sg__policy_config_set(sg_policy_config *c, const char *key,
                          const char *value, char *err, size_t errlen);

/** Read `key = value` lines from path into c (defaults first; `#`
 *  comments; values may be quoted), then check that the ladder is ordered
 *  (drop >= hold >= warn) and read allow_accounts_file.  c->version gets
 *  the file's hash.  On failure c is left with the defaults.
 *  @return SG_OK, SG_EIO (cannot read), SG_EINVAL ("FILE:LINE: reason"
 *          in err), SG_ENOMEM. */
int sg__policy_config_load(sg_policy_config *c, const char *path, char *err,
                           size_t errlen);

/** Copy into dst the reloadable keys of src (the others keep dst's
 *  values; the names of those that differ go to changed, comma
 *  separated, "" when none).  src is left empty (ownership moves).
 *  @return SG_OK. */
int sg__policy_config_apply_reload(sg_policy_config *dst,
                                   sg_policy_config *src, char *changed,
                                   size_t cap);

/** True when account id (e.g. "bob@partner.example/phone") is on the
 *  account or domain allowlist. */
bool sg__policy_allowlisted(const sg_policy_config *c, const char *account);

/** Print the key table (name, default, reloadable, meaning), one key per
 *  line, for --help; with markdown set, as a docs table. */
void sg__policy_config_help(FILE *f, bool markdown);

#endif /* SG_POLICY_CONFIG_H */
