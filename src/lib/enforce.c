/*
 * enforce.c -- the enforcement side of an engine (enforce.h): it holds the
 * policy config and the evidence log, softens verdicts as the policy says
 * (ceiling, allowlists, dry-run), writes an evidence entry for every
 * account action and every held phishing / compromise message, and keeps
 * each actioned account's case, its appeal and the trust of reporters.
 * Its store keys: "enf:{id}" (case), "enfm:{id}:0".."enfm:{id}:7" (the
 * last recorded messages, a ring of binary records, for learning them back
 * as ham), "enfr:{id}" (who reported it), "rtrust:{id}"
 * (reporter trust), "enf:list" and "enf:appeals" (indexes).  The detectors
 * decide; this file records and applies the operator's word.
 */
#define _GNU_SOURCE
#include "enforce.h"
#include "behavior.h"
#include "store.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define DAY_MS (24 * 3600 * 1000LL)
#define CASE_TTL_MS (365 * DAY_MS)
#define MSGS_TTL_MS (90 * DAY_MS)
#define RPTR_TTL_MS (30 * DAY_MS)
#define TRUST_TTL_MS (180 * DAY_MS)
#define CASE_MSGS 8          /* messages kept per case for learning back */
#define CASE_REPORTERS 64    /* reporters kept per account */
#define RECENT_REPORTS 64
#define MIN_TRUST 0.01

struct sg_enforce {
    sg_policy_config cfg;
    char *policy_path;          /* NULL = defaults */
    char *evidence_dir;         /* owned copy of the option */
    sg_evidence *ev;
    struct {                    /* what the verdict of `ctx` would have been */
        const sg_ctx *ctx;
        sg_action action;
        sg_account_action account;
        bool allowlisted;
    } last;
    sg_enforce_stats stats;
    sg_enforce_stats stats_at_group; /* stats when the open group began */
    sg_enf_report recent[RECENT_REPORTS];
    size_t nrecent, recent_head;
};

/* The stored case, fixed layout (version 1). */
typedef struct case_rec {
    int64_t since_ms, until_ms, appeal_ms, decided_ms;
    uint64_t seq;
    uint32_t messages;
    uint8_t action, taken, appeal, flags; /* flags: 1 = dry-run */
    uint8_t version, pad[7];
    unsigned char hash[32];
} case_rec;

#define CASE_VERSION 1

static const sg_policy_config *default_policy(void) {
    static sg_policy_config def;
    static bool ready;
    if (!ready) { sg__policy_config_default(&def); ready = true; }
    return &def;
}

const sg_policy_config *sg__policy_config_of(const sg_engine *eng) {
    return eng && eng->enforce ? &eng->enforce->cfg : default_policy();
}

sg_evidence *sg__enforce_evidence(sg_engine *eng) {
    return eng && eng->enforce ? eng->enforce->ev : NULL;
}

static void note_failure(sg_enforce *e, const char *what, int rc) {
    e->stats.failures++;
    snprintf(e->stats.last_error, sizeof e->stats.last_error, "%s: %s", what,
             sg_strerror(rc));
}

/* ------------------------------------------------------------ lifetime */

static int open_evidence(sg_engine *eng, sg_enforce *e) {
    const sg_policy_config *pc = &e->cfg;
    const char *dir = *pc->evidence_dir ? pc->evidence_dir : e->evidence_dir;
    if (!dir || !*dir) return SG_OK;
    sg_evidence_opts o = {.dir = dir,
                          .key_path = *pc->evidence_key ? pc->evidence_key : NULL,
                          .checkpoint_every = (uint32_t)pc->checkpoint_every,
                          .checkpoint_ms = (int64_t)(pc->checkpoint_minutes * 60000.0),
                          .sync_every = pc->evidence_sync};
    char err[256];
    int rc = sg__evidence_open(&o, &e->ev, NULL, err, sizeof err);
    return rc ? sg__set_error(eng, rc, "evidence log: %s", err) : SG_OK;
}

int sg__enforce_open(sg_engine *eng) {
    sg_enforce *e = sg__calloc(1, sizeof *e);
    if (!e) return SG_ENOMEM;
    sg__policy_config_default(&e->cfg);
    e->policy_path = sg__strdup(eng->opt.policy_file);
    e->evidence_dir = sg__strdup(eng->opt.evidence_dir);
    eng->opt.policy_file = e->policy_path;
    eng->opt.evidence_dir = e->evidence_dir;
    eng->enforce = e;
    if ((eng->opt.policy_file && !e->policy_path) ||
        (eng->opt.evidence_dir && !e->evidence_dir))
        return SG_ENOMEM;
    char err[300];
    int rc = e->policy_path ? sg__policy_config_load(&e->cfg, e->policy_path, err, sizeof err)
                            : SG_OK;
    if (rc) return sg__set_error(eng, rc, "policy: %s", err);
    return open_evidence(eng, e);
}

void sg__enforce_free(sg_enforce *e) {
    if (!e) return;
    sg__evidence_close(e->ev);
    sg__policy_config_free(&e->cfg);
    sg__free(e->policy_path);
    sg__free(e->evidence_dir);
    sg__free(e);
}

int sg__enforce_reload(sg_engine *eng, char *changed, size_t ccap, char *err, size_t errlen) {
    sg_enforce *e = eng ? eng->enforce : NULL;
    if (ccap) changed[0] = '\0';
    if (!e || !e->policy_path) return SG_ENOTFOUND;
    sg_policy_config fresh;
    sg__policy_config_default(&fresh);
    int rc = sg__policy_config_load(&fresh, e->policy_path, err, errlen);
    if (rc) return rc;
    return sg__policy_config_apply_reload(&e->cfg, &fresh, changed, ccap);
}

void sg__enforce_stats(sg_engine *eng, sg_enforce_stats *out) {
    if (eng && eng->enforce) *out = eng->enforce->stats;
    else memset(out, 0, sizeof *out);
}

/* ------------------------------------------------------------ adjust */

int sg__enforce_adjust(sg_ctx *c, sg_verdict *v) {
    sg_enforce *e = c->eng->enforce;
    const sg_policy_config *pc = sg__policy_config_of(c->eng);
    int rc = SG_OK;
    if (v->account_action > pc->max_account_action) {
        rc = sg__ctx_explain(c, "POLICY_CEILING", 0, "account action %s lowered to %s "
                             "(max_account_action)", sg_account_action_name(v->account_action),
                             sg_account_action_name(pc->max_account_action));
        v->account_action = pc->max_account_action;
    }
    sg_action would = v->action;
    sg_account_action would_acct = v->account_action;
    bool allow = (would_acct != SG_ACCOUNT_NONE || would > SG_ACTION_WARN) &&
                 sg__policy_allowlisted(pc, c->msg->from);
    if (!rc && allow) {
        rc = sg__ctx_explain(c, "ALLOWLISTED", 0, "%s is on the policy allowlist: would %s "
                             "the message and %s the account; not enforced", c->msg->from,
                             sg_action_name(would), sg_account_action_name(would_acct));
        v->account_action = SG_ACCOUNT_NONE;
        if (v->action > SG_ACTION_WARN) v->action = SG_ACTION_WARN;
    }
    bool dry = pc->dry_run && (v->action != SG_ACTION_DELIVER || v->account_action != SG_ACCOUNT_NONE);
    if (!rc && dry) {
        rc = sg__ctx_explain(c, "DRY_RUN", 0, "dry run: would %s the message and %s the "
                             "account; recorded only", sg_action_name(v->action),
                             sg_account_action_name(v->account_action));
        v->action = SG_ACTION_DELIVER;
        v->account_action = SG_ACCOUNT_NONE;
    }
    if (e) {
        e->last.ctx = c;
        e->last.action = would;
        e->last.account = would_acct;
        e->last.allowlisted = allow;
        e->stats.allowlisted += allow;
        e->stats.dry_run += dry;
    }
    return rc;
}

/* ------------------------------------------------------------ store */

static int store_rc(int rc) { return rc == SG_ENOMEM ? SG_ENOMEM : SG_ESTORE; }

static int case_load(sg_engine *eng, const char *id, int64_t now, case_rec *r) {
    char key[SG_BEHAV_KEY_CAP];
    size_t kl = sg__behav_key(key, "enf:", id, ""), vlen = 0;
    int rc = sg__store_get(eng->store, key, kl, r, sizeof *r, &vlen, now);
    if (rc == SG_ENOTFOUND || (!rc && (vlen != sizeof *r || r->version != CASE_VERSION)))
        return SG_ENOTFOUND;
    return rc ? store_rc(rc) : SG_OK;
}

static int case_save(sg_engine *eng, const char *id, int64_t now, const case_rec *r) {
    char key[SG_BEHAV_KEY_CAP];
    size_t kl = sg__behav_key(key, "enf:", id, "");
    int rc = sg__store_put(eng->store, key, kl, r, sizeof *r, now + CASE_TTL_MS, now);
    return rc ? store_rc(rc) : SG_OK;
}

static void case_view(const case_rec *r, sg_enf_case *out) {
    memset(out, 0, sizeof *out);
    out->action = (sg_account_action)r->action;
    out->taken = (sg_account_action)r->taken;
    out->since_ms = r->since_ms;
    out->until_ms = r->until_ms;
    out->evidence_seq = r->seq;
    static const unsigned char zero[32];
    if (r->seq != UINT64_MAX && memcmp(r->hash, zero, 32))
        sg__evidence_hex(r->hash, 32, out->evidence_hash);
    out->messages = r->messages;
    out->dry_run = r->flags & 1;
    out->appeal = (sg_appeal_state)r->appeal;
    out->appeal_ms = r->appeal_ms;
    out->decided_ms = r->decided_ms;
}

/* Bytes of a list's buffer on the stack (list_update): room for a value
 * of LIST_STACK - SG_ENFORCE_ID bytes (~500 ids of 15 bytes); a longer
 * one is read again into the heap. */
#define LIST_STACK 8192

/* Offset of the first NUL in p[0..n), or n: eight bytes at a time (a
 * lane's high bit is set in t exactly when its byte is 0; the lowest such
 * lane is the first NUL), inline, since ids are short and a list holds
 * hundreds of them. */
static size_t nul_at(const char *p, size_t n) {
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
    size_t i = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ /* the first byte is the lowest */
    for (; i + 8 <= n; i += 8) {
        uint64_t x, t;
        memcpy(&x, p + i, 8);
        t = ~(((x & low7) + low7) | x | low7);
        if (t) return i + (size_t)__builtin_ctzll(t) / 8;
    }
#else
    (void)low7;
#endif
    while (i < n && p[i]) i++;
    return i;
}

/* The ids of old (vlen bytes) that a list keeps after id (idl bytes),
 * appended to buf at *used: the non-empty ones other than id, in order,
 * each NUL-terminated, while *kept < max.  Kept ids are moved in runs;
 * buf + *used never passes old + the next byte to read (buf ends where
 * old does, plus one byte for the NUL of a last id without one). */
static void list_keep(char *buf, size_t *used, const char *old, size_t vlen,
                      const char *id, size_t idl, size_t max, size_t *kept) {
    size_t off = 0, run = 0; /* old[run, off): kept ids not moved yet */
    while (off < vlen && *kept < max) {
        size_t l = nul_at(old + off, vlen - off);
        if (l && !(l == idl && !memcmp(old + off, id, idl))) {
            (*kept)++;
        } else { /* dropped: move the run before it */
            memmove(buf + *used, old + run, off - run);
            *used += off - run;
            run = off + l + 1;
        }
        off += l + 1;
    }
    size_t end = off < vlen ? off : vlen;
    if (run < end) {
        memmove(buf + *used, old + run, end - run);
        *used += end - run;
        if (off > vlen) buf[(*used)++] = '\0'; /* the last id had none */
    }
}

/* A list of ids in one value: NUL-separated, newest first, at most `max`. */
static int list_update(sg_engine *eng, const char *key, const char *id, bool add,
                       size_t max, int64_t now, int64_t ttl) {
    char stack[LIST_STACK + 1], *buf = stack;
    size_t cap = max * SG_ENFORCE_ID, klen = strlen(key);
    size_t have = cap < LIST_STACK - SG_ENFORCE_ID ? cap : LIST_STACK - SG_ENFORCE_ID;
    size_t vlen = 0, used = 0, idl = strnlen(id, SG_ENFORCE_ID - 1);
    int rc = sg__store_get(eng->store, key, klen, buf + SG_ENFORCE_ID, have, &vlen, now);
    if (rc == SG_OK && vlen > have && vlen <= cap) { /* too long for the stack */
        if (!(buf = sg__malloc(cap + SG_ENFORCE_ID + 1))) return SG_ENOMEM;
        rc = sg__store_get(eng->store, key, klen, buf + SG_ENFORCE_ID, cap, &vlen, now);
    }
    if (rc == SG_ENOTFOUND || vlen > cap) vlen = 0, rc = SG_OK;
    if (add) {
        memcpy(buf, id, idl);
        buf[idl] = '\0';
        used = idl + 1;
    }
    size_t kept = add;
    if (!rc) list_keep(buf, &used, buf + SG_ENFORCE_ID, vlen, id, idl, max, &kept);
    if (!rc) rc = sg__store_put(eng->store, key, klen, buf, used, now + ttl, now);
    if (buf != stack) sg__free(buf);
    return rc ? store_rc(rc) : SG_OK;
}

/* ------------------------------------------------------------ record */

/* The recorded messages of a case: a ring of CASE_MSGS keys
 * "enfm:{id}:<slot>", message number k (1-based, the case's `messages`
 * count when it was recorded) in slot (k - 1) % CASE_MSGS, each a binary
 * record written whole -- no read, no parse: a throttled sender's every
 * verdict records one.  Layout: msg_rec, then `to` (to_len bytes), then
 * the text (text_len bytes, at most MSG_TEXT, cut on a UTF-8 boundary). */
#define MSG_TEXT 2048
#define MSG_VERSION 1
typedef struct msg_rec {
    uint8_t version, pad;
    uint16_t to_len, text_len;
} msg_rec;

static size_t msgs_key(char *key, const char *id, uint32_t slot) {
    char suffix[4] = {':', (char)('0' + slot % CASE_MSGS), '\0'};
    return sg__behav_key(key, "enfm:", id, suffix);
}

/* Record message number k of the case (see above). */
static int case_msgs_add(sg_engine *eng, const sg_message *m, uint32_t k, int64_t now) {
    char key[SG_BEHAV_KEY_CAP], stack[4096];
    size_t kl = msgs_key(key, m->from, k - 1);
    size_t tl = m->text_len > MSG_TEXT ? MSG_TEXT : m->text_len;
    while (tl && tl < m->text_len && ((unsigned char)m->text[tl] & 0xC0) == 0x80) tl--;
    size_t tol = strnlen(m->to, SG_BEHAV_MAX_ID), vlen = sizeof(msg_rec) + tol + tl;
    char *buf = vlen <= sizeof stack ? stack : sg__malloc(vlen);
    if (!buf) return SG_ENOMEM;
    msg_rec h = {MSG_VERSION, 0, (uint16_t)tol, (uint16_t)tl};
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, m->to, tol);
    memcpy(buf + sizeof h + tol, m->text, tl);
    int rc = sg__store_put(eng->store, key, kl, buf, vlen, now + MSGS_TTL_MS, now);
    if (buf != stack) sg__free(buf);
    return rc ? store_rc(rc) : SG_OK;
}

static size_t label_names(unsigned labels, const char **out) {
    size_t n = 0;
    for (unsigned i = 0; i < SG_LABEL_COUNT_ && n < 8; i++)
        if (labels & (1u << i)) out[n++] = sg_label_name(1u << i);
    return n;
}

/* Build and append the entry of one verdict. */
static int append_verdict(sg_enforce *e, sg_ctx *c, const sg_verdict *v, const char *kind,
                          int64_t until, sg_evidence_ref *ref) {
    const sg_message *m = c->msg;
    const sg_urlset *us = sg__ctx_urls(c);
    const char *urls[16];
    size_t nurls = 0;
    for (size_t i = 0; i < us->n && nurls < 16; i++) urls[nurls++] = us->v[i].url;
    sg_evidence_reason rs[32];
    size_t nr = 0;
    for (size_t i = 0; i < v->nreasons && nr < 32; i++)
        rs[nr++] = (sg_evidence_reason){v->reasons[i].code, v->reasons[i].weight,
                                        v->reasons[i].detail};
    int berr;
    const sg_behav_msg *rec = sg__behav_msg(c, &berr);
    sg_evidence_msg em = {m->id, m->from, m->to, c->now_ms, m->text, m->text_len};
    sg_evidence_entry en = {
        .kind = kind, .ts_ms = c->now_ms, .account = m->from,
        .action = sg_account_action_name(e->last.account),
        .message_action = sg_action_name(e->last.action), .score = v->score, .has_score = true,
        .campaign = v->campaign,
        .infected_by = rec && rec->camp.infected && rec->camp.infected_by[0] ? rec->camp.infected_by : NULL,
        .config_version = e->cfg.version, .dry_run = e->cfg.dry_run, .actor = "engine",
        .note = e->last.allowlisted ? "allowlisted: not enforced" : NULL, .until_ms = until,
        .reasons = rs, .nreasons = nr, .msgs = &em, .nmsgs = 1, .urls = urls, .nurls = nurls};
    label_names(v->labels, en.labels);
    return sg__evidence_append(e->ev, &en, ref);
}

static bool worth_recording(const sg_enforce *e, const sg_verdict *v) {
    if (e->last.account != SG_ACCOUNT_NONE) return true;
    unsigned bad = SG_LABEL_PHISHING | SG_LABEL_BLOCKLISTED_URL | SG_LABEL_COMPROMISED_SENDER;
    return e->cfg.record_message_actions && e->last.action >= SG_ACTION_HOLD && (v->labels & bad);
}

/* Update the case after the entry: a new or stronger action opens it. */
static int update_case(sg_engine *eng, sg_enforce *e, sg_ctx *c, bool opens, bool found,
                       case_rec *r, int64_t until, const sg_evidence_ref *ref) {
    const char *id = c->msg->from;
    if (!found) memset(r, 0, sizeof *r), r->version = CASE_VERSION, r->seq = UINT64_MAX;
    if (opens) {
        r->action = r->taken = (uint8_t)e->last.account;
        r->since_ms = c->now_ms;
        r->until_ms = until;
        r->flags = e->cfg.dry_run ? 1 : 0;
        r->appeal = SG_APPEAL_NONE;
        r->appeal_ms = r->decided_ms = 0;
        r->seq = ref ? ref->seq : UINT64_MAX;
        if (ref) sg__evidence_unhex(ref->hash, r->hash, 32);
    }
    r->messages++;
    int rc = case_save(eng, id, c->now_ms, r);
    if (!rc && opens) rc = list_update(eng, "enf:list", id, true, SG_ENFORCE_LIST, c->now_ms, CASE_TTL_MS);
    if (!rc && r->messages <= CASE_MSGS * 4)
        rc = case_msgs_add(eng, c->msg, r->messages, c->now_ms);
    return rc;
}

void sg__enforce_group_begin(sg_engine *eng) {
    sg_enforce *e = eng ? eng->enforce : NULL;
    if (!e || !e->ev) return;
    e->stats_at_group = e->stats;
    if (sg__evidence_begin(e->ev)) note_failure(e, sg__evidence_errmsg(e->ev), SG_EINVAL);
}

void sg__enforce_group_end(sg_engine *eng, bool commit) {
    sg_enforce *e = eng ? eng->enforce : NULL;
    if (!e || !e->ev) return;
    if (!commit) { /* its entries are gone: so are their counts */
        sg__evidence_abort(e->ev);
        e->stats.account_actions = e->stats_at_group.account_actions;
        e->stats.message_actions = e->stats_at_group.message_actions;
        e->stats.dry_run = e->stats_at_group.dry_run; /* judged again */
        e->stats.allowlisted = e->stats_at_group.allowlisted;
        return;
    }
    int rc = sg__evidence_commit(e->ev);
    if (rc) note_failure(e, sg__evidence_errmsg(e->ev), rc);
}

void sg__enforce_record(sg_engine *eng, sg_ctx *c, const sg_verdict *v) {
    sg_enforce *e = eng->enforce;
    if (!e || !v) return;
    if (e->last.ctx != c) { /* policy did not run adjust: take the verdict */
        e->last.action = v->action;
        e->last.account = v->account_action;
        e->last.allowlisted = false;
    }
    e->last.ctx = NULL;
    if (!worth_recording(e, v)) return;
    case_rec r;
    int rc = case_load(eng, c->msg->from, c->now_ms, &r);
    bool found = rc == SG_OK;
    if (rc && rc != SG_ENOTFOUND) { note_failure(e, "case", rc); return; }
    bool stronger = e->last.account != SG_ACCOUNT_NONE && (!found || r.action < e->last.account);
    bool opens = stronger && !e->last.allowlisted; /* allowlisted: logged, no case */
    const sg_policy_config *pc = &e->cfg;
    int64_t until = opens && e->last.account == SG_ACCOUNT_SUSPEND && pc->suspend_hours > 0
                        ? c->now_ms + (int64_t)(pc->suspend_hours * 3600000.0) : 0;
    sg_evidence_ref ref;
    if (e->ev) {
        rc = append_verdict(e, c, v, stronger ? "account_action" : "message_action", until, &ref);
        if (rc) { note_failure(e, sg__evidence_errmsg(e->ev), rc); return; }
        if (stronger) e->stats.account_actions++;
        else e->stats.message_actions++;
    }
    if (e->last.allowlisted) return;
    rc = update_case(eng, e, c, opens, found, &r, until, e->ev ? &ref : NULL);
    if (rc) note_failure(e, "case", rc);
}

/* ------------------------------------------------------------ cases */

const char *sg__appeal_state_name(sg_appeal_state s) {
    static const char *const n[] = {"none", "open", "cleared", "confirmed"};
    return (unsigned)s < 4 ? n[s] : "unknown";
}

int sg__enforce_case(sg_engine *eng, const char *id, int64_t now_ms, sg_enf_case *out) {
    if (!eng || !id || !*id || !out) return SG_EINVAL;
    case_rec r;
    int rc = case_load(eng, id, now_ms, &r);
    if (!rc) case_view(&r, out);
    return rc;
}

int sg__enforce_list(sg_engine *eng, bool open_appeals, int64_t now_ms,
                     char (*ids)[SG_ENFORCE_ID], size_t cap, size_t *n) {
    *n = 0;
    if (!eng || !ids) return SG_EINVAL;
    const char *key = open_appeals ? "enf:appeals" : "enf:list";
    size_t max = SG_ENFORCE_LIST * SG_ENFORCE_ID, vlen = 0;
    char *buf = sg__malloc(max);
    if (!buf) return SG_ENOMEM;
    int rc = sg__store_get(eng->store, key, strlen(key), buf, max, &vlen, now_ms);
    if (rc == SG_ENOTFOUND) vlen = 0, rc = SG_OK;
    for (size_t off = 0; !rc && off < vlen && off < max && *n < cap;) {
        size_t l = strnlen(buf + off, vlen - off);
        if (l && l < SG_ENFORCE_ID) {
            memcpy(ids[*n], buf + off, l);
            ids[(*n)++][l] = '\0';
        }
        off += l + 1;
    }
    sg__free(buf);
    return rc ? store_rc(rc) : SG_OK;
}

/* Append a case-level entry (appeal, decision, unlocked) if there is a log. */
static int append_case_entry(sg_enforce *e, const char *kind, const char *id,
                             const char *action, const char *actor, const char *note,
                             const case_rec *r, int64_t now, const char *const *refs,
                             size_t nrefs) {
    if (!e->ev) return SG_OK;
    char hash[SG_EV_HEX_LEN + 1] = "";
    const char *all[CASE_MSGS + 1];
    size_t n = 0;
    static const unsigned char zero[32];
    if (memcmp(r->hash, zero, 32)) sg__evidence_hex(r->hash, 32, hash), all[n++] = hash;
    for (size_t i = 0; i < nrefs && n < CASE_MSGS + 1; i++) all[n++] = refs[i];
    sg_evidence_entry en = {.kind = kind, .ts_ms = now, .account = id, .action = action,
                            .actor = actor, .note = note, .config_version = e->cfg.version,
                            .refs = all, .nrefs = n};
    int rc = sg__evidence_append(e->ev, &en, NULL);
    if (rc) note_failure(e, sg__evidence_errmsg(e->ev), rc);
    return rc;
}

int sg__enforce_appeal(sg_engine *eng, const char *id, const char *text, int64_t now_ms,
                       sg_enf_case *out) {
    sg_enforce *e = eng ? eng->enforce : NULL;
    if (!e || !id || !*id || (text && (strlen(text) > 4096 || !sg__utf8_valid(text, strlen(text)))))
        return SG_EINVAL;
    case_rec r;
    int rc = case_load(eng, id, now_ms, &r);
    if (rc) return rc;
    if (r.action == SG_ACCOUNT_NONE) return SG_ENOTFOUND;
    r.appeal = SG_APPEAL_OPEN;
    r.appeal_ms = now_ms;
    if ((rc = append_case_entry(e, "appeal", id, sg_account_action_name(r.action), id,
                                text, &r, now_ms, NULL, 0)))
        return rc;
    rc = case_save(eng, id, now_ms, &r);
    if (!rc) rc = list_update(eng, "enf:appeals", id, true, SG_ENFORCE_LIST, now_ms, CASE_TTL_MS);
    if (!rc) e->stats.appeals++;
    if (!rc && out) case_view(&r, out);
    return rc;
}

/* ------------------------------------------------------------ decisions */

/* Learn one recorded message (to, text) of account id as ham. */
static bool learn_one(sg_engine *eng, const char *id, const char *to, size_t tol,
                      const char *text, size_t tl) {
    char *t = sg__strndup(to, tol), *x = sg__strndup(text, tl);
    sg_message *m = NULL;
    bool ok = t && x && !sg_message_new(id, t, x, &m) && !sg_learn(eng, m, 0);
    sg_message_free(m);
    sg__free(t);
    sg__free(x);
    return ok;
}

/* The JSON array "enfm:{id}" that versions before the ring kept (a store
 * written by them): learned first, being older; dropped once learned.
 * @return how many. */
static uint32_t learn_back_legacy(sg_engine *eng, const char *id, int64_t now) {
    char key[SG_BEHAV_KEY_CAP];
    size_t kl = sg__behav_key(key, "enfm:", id, ""), vlen = 0;
    char *buf = sg__malloc(65536);
    if (!buf) return 0;
    int rc = sg__store_get(eng->store, key, kl, buf, 65535, &vlen, now);
    json_t *a = !rc && vlen < 65535 ? json_loadb(buf, vlen, 0, NULL) : NULL;
    sg__free(buf);
    uint32_t learned = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *o = json_array_get(a, i);
        const char *to = json_string_value(json_object_get(o, "to"));
        const char *text = json_string_value(json_object_get(o, "text"));
        if (to && text) learned += learn_one(eng, id, to, strlen(to), text, strlen(text));
    }
    json_decref(a);
    if (learned) sg__store_del(eng->store, key, kl);
    return learned;
}

/* Learn recorded message number k of the case, if its record is there. */
static bool learn_slot(sg_engine *eng, const char *id, uint32_t k, char *buf, size_t cap,
                       int64_t now) {
    char key[SG_BEHAV_KEY_CAP];
    size_t kl = msgs_key(key, id, k - 1), vlen = 0;
    msg_rec h;
    if (sg__store_get(eng->store, key, kl, buf, cap, &vlen, now) || vlen < sizeof h ||
        vlen > cap)
        return false;
    memcpy(&h, buf, sizeof h);
    if (h.version != MSG_VERSION || vlen != sizeof h + (size_t)h.to_len + h.text_len)
        return false;
    return learn_one(eng, id, buf + sizeof h, h.to_len, buf + sizeof h + h.to_len, h.text_len);
}

/* Feed the case's recorded messages (the ring, oldest first: the last
 * recorded is number min(messages, CASE_MSGS * 4)) back to the model as
 * ham; once any was learned the ring is dropped (learned once). */
static uint32_t learn_back(sg_engine *eng, const char *id, const case_rec *r, int64_t now) {
    uint32_t learned = learn_back_legacy(eng, id, now), ring = 0;
    uint32_t last = r->messages < CASE_MSGS * 4 ? r->messages : CASE_MSGS * 4;
    uint32_t first = last > CASE_MSGS ? last - CASE_MSGS + 1 : 1;
    size_t cap = sizeof(msg_rec) + SG_BEHAV_MAX_ID + MSG_TEXT;
    char *buf = sg__malloc(cap);
    for (uint32_t k = first; buf && k <= last; k++) ring += learn_slot(eng, id, k, buf, cap, now);
    sg__free(buf);
    for (uint32_t k = first; ring && k <= last; k++) {
        char key[SG_BEHAV_KEY_CAP];
        sg__store_del(eng->store, key, msgs_key(key, id, k - 1));
    }
    return learned + ring;
}

static int trust_key(const char *reporter, char *key) {
    return (int)sg__behav_key(key, "rtrust:", reporter, "");
}

double sg__enforce_reporter_trust(sg_engine *eng, const char *reporter, int64_t now_ms) {
    if (!eng || !reporter) return 1.0;
    char key[SG_BEHAV_KEY_CAP];
    size_t kl = (size_t)trust_key(reporter, key), vlen = 0;
    double t = 1.0;
    if (sg__store_get(eng->store, key, kl, &t, sizeof t, &vlen, now_ms) || vlen != sizeof t ||
        !(t >= 0 && t <= 1))
        return 1.0;
    return t;
}

/* Lower the trust of everyone who reported account id as spam. */
static uint32_t penalize_reporters(sg_engine *eng, const char *id, double factor, int64_t now) {
    char (*ids)[SG_ENFORCE_ID] = sg__malloc(CASE_REPORTERS * sizeof *ids);
    char lkey[SG_BEHAV_KEY_CAP], key[SG_BEHAV_KEY_CAP];
    size_t lk = sg__behav_key(lkey, "enfr:", id, ""), vlen = 0, n = 0;
    char *buf = ids ? sg__malloc(CASE_REPORTERS * SG_ENFORCE_ID) : NULL;
    if (buf && !sg__store_get(eng->store, lkey, lk, buf, CASE_REPORTERS * SG_ENFORCE_ID, &vlen, now))
        for (size_t off = 0; off < vlen && n < CASE_REPORTERS;) {
            size_t l = strnlen(buf + off, vlen - off);
            if (l && l < SG_ENFORCE_ID) memcpy(ids[n], buf + off, l), ids[n++][l] = '\0';
            off += l + 1;
        }
    uint32_t done = 0;
    for (size_t i = 0; i < n; i++) {
        double t = sg__enforce_reporter_trust(eng, ids[i], now) * factor;
        if (t < MIN_TRUST) t = MIN_TRUST;
        size_t kl = (size_t)trust_key(ids[i], key);
        done += sg__store_put(eng->store, key, kl, &t, sizeof t, now + TRUST_TTL_MS, now) == SG_OK;
    }
    if (n) sg__store_del(eng->store, lkey, lk); /* each report is held against them once */
    sg__free(buf);
    sg__free(ids);
    return done;
}

/* Clear: lift the action, learn back, penalize reporters. */
static void clear_case(sg_engine *eng, sg_enforce *e, const char *id, case_rec *r,
                       int64_t now, sg_enf_decision *d) {
    sg__sender_reset(eng, id, now); /* locked/throttled -> ok; suspended stays */
    sg_acct_view av;
    d->status_restored = sg__sender_view(eng, id, now, &av) != SG_OK || av.status == SG_ACCT_OK;
    d->learned_ham = learn_back(eng, id, r, now);
    d->reporters_penalized = penalize_reporters(eng, id, e->cfg.reporter_penalty, now);
    r->action = SG_ACCOUNT_NONE;
    r->appeal = SG_APPEAL_CLEARED;
    e->stats.cleared++;
}

int sg__enforce_decide(sg_engine *eng, const char *id, bool clear, const char *actor,
                       const char *note, int64_t now_ms, sg_enf_decision *out) {
    sg_enforce *e = eng ? eng->enforce : NULL;
    sg_enf_decision d = {0};
    if (!e || !id || !*id || (note && !sg__utf8_valid(note, strlen(note)))) return SG_EINVAL;
    case_rec r;
    int rc = case_load(eng, id, now_ms, &r);
    if (rc) return rc;
    if (clear) clear_case(eng, e, id, &r, now_ms, &d);
    else r.appeal = SG_APPEAL_CONFIRMED, e->stats.confirmed++;
    r.decided_ms = now_ms;
    char what[600];
    snprintf(what, sizeof what, "%s%s%s", note ? note : "", note && *note ? "; " : "",
             clear ? "" : "action upheld");
    if (clear)
        snprintf(what + strlen(what), sizeof what - strlen(what),
                 "cleared: %u messages learned as ham, trust lowered for %u reporters%s",
                 d.learned_ham, d.reporters_penalized,
                 d.status_restored ? "" : "; account status still closed (suspension)");
    rc = append_case_entry(e, "decision", id, clear ? "clear" : "confirm",
                           actor && *actor ? actor : "operator", what, &r, now_ms, NULL, 0);
    if (!rc) rc = case_save(eng, id, now_ms, &r);
    if (!rc) rc = list_update(eng, "enf:appeals", id, false, SG_ENFORCE_LIST, now_ms, CASE_TTL_MS);
    case_view(&r, &d.after);
    if (out) *out = d;
    return rc;
}

int sg__enforce_unlocked(sg_engine *eng, const char *id, int64_t now_ms) {
    sg_enforce *e = eng ? eng->enforce : NULL;
    if (!e || !id || !*id) return SG_EINVAL;
    case_rec r;
    int rc = case_load(eng, id, now_ms, &r);
    if (rc) return rc;
    if (r.action != SG_ACCOUNT_LOCK_AND_RESET && r.action != SG_ACCOUNT_THROTTLE) return SG_OK;
    r.action = SG_ACCOUNT_NONE;
    rc = append_case_entry(e, "unlocked", id, "password_reset", id,
                           "the owner reset the password; account unlocked", &r, now_ms, NULL, 0);
    return rc ? rc : case_save(eng, id, now_ms, &r);
}

/* ------------------------------------------------------------ reports */

void sg__enforce_note_report(sg_engine *eng, const char *reporter, const char *account,
                             int is_spam, int64_t now_ms) {
    sg_enforce *e = eng ? eng->enforce : NULL;
    if (!e || !reporter) return;
    sg_enf_report *slot = &e->recent[e->recent_head];
    snprintf(slot->reporter, sizeof slot->reporter, "%s", reporter);
    snprintf(slot->account, sizeof slot->account, "%s", account ? account : "");
    slot->is_spam = is_spam;
    slot->ts_ms = now_ms;
    e->recent_head = (e->recent_head + 1) % RECENT_REPORTS;
    if (e->nrecent < RECENT_REPORTS) e->nrecent++;
    if (!is_spam || !account || !*account) return;
    char key[SG_BEHAV_KEY_CAP];
    sg__behav_key(key, "enfr:", account, "");
    int rc = list_update(eng, key, reporter, true, CASE_REPORTERS, now_ms, RPTR_TTL_MS);
    if (rc) note_failure(e, "reporters", rc);
}

size_t sg__enforce_recent_reports(sg_engine *eng, sg_enf_report *out, size_t cap) {
    sg_enforce *e = eng ? eng->enforce : NULL;
    size_t n = 0;
    for (; e && n < cap && n < e->nrecent; n++)
        out[n] = e->recent[(e->recent_head + RECENT_REPORTS - 1 - n) % RECENT_REPORTS];
    return n;
}
