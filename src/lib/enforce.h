/*
 * enforce.h -- the enforcement side of an engine (enforce.c): the policy
 * config it runs with, the evidence log it writes, the case of every
 * actioned account (action, since, until, appeal), appeals and operator
 * decisions, and the trust of reporters.  Internal to spimguard (src/lib,
 * src/cli).  None of these is thread-safe: call them under the same lock
 * as sg_check (the daemon's engine lock).  docs/enforcement.md.
 */
#ifndef SG_ENFORCE_H
#define SG_ENFORCE_H

#include "evidence.h"
#include "policy_config.h"
#include "sg_internal.h"

/* ------------------------------------------------------------ engine */

typedef struct sg_enforce sg_enforce;

/** Build the engine's enforcement state from eng->opt.policy_file (NULL =
 *  defaults) and the evidence directory (the policy's evidence_dir, else
 *  eng->opt.evidence_dir; none = no log), and set eng->enforce.  The
 *  option strings are replaced by owned copies.
 *  @return SG_OK, SG_EIO / SG_EINVAL (policy file unreadable or wrong;
 *          evidence log cannot be opened), SG_EFORMAT (damaged log tail),
 *          SG_ENOMEM; detail via sg__set_error. */
int sg__enforce_open(sg_engine *eng);

/** Close the evidence log (a last signed checkpoint) and free.  NULL is a
 *  no-op. */
void sg__enforce_free(sg_enforce *e);

/** The policy the engine runs with; static defaults when eng has no
 *  enforcement state.  Never NULL; valid until the next reload. */
const sg_policy_config *sg__policy_config_of(const sg_engine *eng);

/** Apply the policy's account ceiling, allowlists and dry-run to a verdict
 *  being built (policy.c calls it before copying the reasons): lowers
 *  v->action / v->account_action as the policy says and adds a reason
 *  (POLICY_CEILING, ALLOWLISTED, DRY_RUN) saying what was not enforced.
 *  Remembers what the verdict would have been for sg__enforce_record.
 *  @return SG_OK, SG_ENOMEM. */
int sg__enforce_adjust(sg_ctx *c, sg_verdict *v);

/** After sg_check committed: when the verdict carries an account action,
 *  or holds/drops a message labelled phishing, blocklisted_url or
 *  compromised_sender, append an evidence entry (account, actions, labels,
 *  score, campaign, who infected the sender, reasons, the message with its
 *  text hash, URLs, config version, dry-run) and update the account's case.
 *  Never fails the check: a failure is counted (sg__enforce_stats) and its
 *  detail kept in last_error. */
void sg__enforce_record(sg_engine *eng, sg_ctx *c, const sg_verdict *v);

/** The evidence of a group of checks (group.c) is written only when the
 *  group's store commit succeeded: begin opens an evidence group
 *  (sg__evidence_begin); end writes it (commit true) or drops it (false).
 *  A failure to write is counted like any evidence failure (the store has
 *  committed by then).  No evidence log: nothing. */
void sg__enforce_group_begin(sg_engine *eng);
void sg__enforce_group_end(sg_engine *eng, bool commit);

/** Re-read the policy file (SIGHUP).  Reloadable keys take effect; the
 *  names of changed keys that need a restart go to changed.  A file that
 *  fails to load keeps the old policy.
 *  @return SG_OK, SG_ENOTFOUND (no policy file configured), or the error
 *          of sg__policy_config_load (detail in err). */
int sg__enforce_reload(sg_engine *eng, char *changed, size_t ccap, char *err,
                       size_t errlen);

/** The engine's evidence log, or NULL when none is configured. */
sg_evidence *sg__enforce_evidence(sg_engine *eng);

/** Counters of the enforcement side. */
typedef struct sg_enforce_stats {
    uint64_t account_actions;   /* account_action entries written */
    uint64_t message_actions;   /* message_action entries written */
    uint64_t dry_run;           /* verdicts softened by dry-run */
    uint64_t allowlisted;       /* verdicts softened by an allowlist */
    uint64_t failures;          /* evidence or case writes that failed */
    uint64_t appeals, cleared, confirmed;
    char last_error[256];
} sg_enforce_stats;

void sg__enforce_stats(sg_engine *eng, sg_enforce_stats *out);

/* ------------------------------------------------------------ cases */

typedef enum sg_appeal_state {
    SG_APPEAL_NONE = 0,
    SG_APPEAL_OPEN = 1,
    SG_APPEAL_CLEARED = 2,    /* operator lifted the action */
    SG_APPEAL_CONFIRMED = 3   /* operator upheld it */
} sg_appeal_state;

/** "none", "open", "cleared", "confirmed". */
const char *sg__appeal_state_name(sg_appeal_state s);

/** The enforcement case of one account: the strongest action taken, when,
 *  until when, the evidence entry behind it, the appeal. */
typedef struct sg_enf_case {
    sg_account_action action;   /* NONE once cleared */
    sg_account_action taken;    /* the action that was taken */
    int64_t since_ms;           /* when it was taken (message time) */
    int64_t until_ms;           /* end of a suspension, 0 = open-ended */
    uint64_t evidence_seq;      /* its evidence entry (UINT64_MAX: none) */
    char evidence_hash[SG_EV_HEX_LEN + 1]; /* "" when no log */
    uint32_t messages;          /* messages recorded in the case */
    bool dry_run;               /* recorded under dry-run, not enforced */
    sg_appeal_state appeal;
    int64_t appeal_ms, decided_ms;
} sg_enf_case;

/** Read account `id`'s case.  @return SG_OK, SG_EINVAL, SG_ENOTFOUND
 *  (never actioned, or expired), SG_ESTORE. */
int sg__enforce_case(sg_engine *eng, const char *id, int64_t now_ms,
                     sg_enf_case *out);

/** Most accounts the case index lists (newest first). */
#define SG_ENFORCE_LIST 256
/** Longest account id the index keeps (bytes, NUL included). */
#define SG_ENFORCE_ID 128

/** Ids of the accounts actioned lately (open_appeals = false) or of the
 *  open appeals (true), newest first, into ids[0..cap); *n gets how many.
 *  @return SG_OK, SG_EINVAL, SG_ESTORE. */
int sg__enforce_list(sg_engine *eng, bool open_appeals, int64_t now_ms,
                     char (*ids)[SG_ENFORCE_ID], size_t cap, size_t *n);

/** The account's owner (or someone for them) appeals its action: the case
 *  gets an open appeal, the evidence log an "appeal" entry with the text.
 *  @return SG_OK, SG_EINVAL (no id, or text over 4096 bytes / not UTF-8),
 *          SG_ENOTFOUND (no action to appeal), SG_ESTORE, SG_ENOMEM. */
int sg__enforce_appeal(sg_engine *eng, const char *id, const char *text,
                       int64_t now_ms, sg_enf_case *out);

/** What an operator decision did. */
typedef struct sg_enf_decision {
    sg_enf_case after;          /* the case after the decision */
    uint32_t learned_ham;       /* messages fed back to the model as ham */
    uint32_t reporters_penalized; /* reporters whose trust was lowered */
    bool status_restored;       /* the account's status is back to ok */
} sg_enf_decision;

/** An operator decides a case: `clear` lifts the action (the account's
 *  status goes back to ok when the sender stage allows it -- locked and
 *  throttled accounts; a suspension needs sg__sender_* support, see
 *  docs/enforcement.md), feeds the recorded messages back to the content
 *  model as ham (sg_learn) and multiplies the trust of every reporter who
 *  reported the account as spam by reporter_penalty; `confirm` upholds it.
 *  Either way the evidence log gets a "decision" entry.
 *  @return SG_OK, SG_EINVAL, SG_ENOTFOUND (no case), SG_ESTORE, SG_ENOMEM. */
int sg__enforce_decide(sg_engine *eng, const char *id, bool clear,
                       const char *actor, const char *note, int64_t now_ms,
                       sg_enf_decision *out);

/** The owner of a locked account reset the password (after
 *  sg__query_account_reset succeeded): the case closes and the evidence
 *  log gets an "unlocked" entry.  @return SG_OK, SG_ENOTFOUND (no case),
 *  SG_ESTORE, SG_ENOMEM. */
int sg__enforce_unlocked(sg_engine *eng, const char *id, int64_t now_ms);

/* ------------------------------------------------------------ reporters */

/** Note a user report (the daemon's POST /v1/report calls it once the
 *  ledger took the report): spam reports are remembered per reported
 *  account (at most 64 reporters, 30 days) so a cleared appeal can lower
 *  their trust; every report goes to an in-memory list of recent reports
 *  for the dashboard.  Failures are ignored (counted). */
void sg__enforce_note_report(sg_engine *eng, const char *reporter,
                             const char *account, int is_spam,
                             int64_t now_ms);

/** Trust 0..1 of a reporter (1 until a cleared appeal lowered it); the
 *  report ledger multiplies a report's weight by it. */
double sg__enforce_reporter_trust(sg_engine *eng, const char *reporter,
                                  int64_t now_ms);

/** One recent report. */
typedef struct sg_enf_report {
    char reporter[64], account[64];
    int is_spam;
    int64_t ts_ms;
} sg_enf_report;

/** The last reports noted, newest first, into out[0..cap); returns how
 *  many. */
size_t sg__enforce_recent_reports(sg_engine *eng, sg_enf_report *out,
                                  size_t cap);

#endif /* SG_ENFORCE_H */
