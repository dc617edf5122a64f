/*
 * policy.c -- turns the signals the detectors found into a verdict: the
 * score (sigmoid of the summed log-odds), the labels, the action for the
 * message and for the account.  Thresholds come from the policy config
 * (policy_config.c: one table of keys with their defaults, loaded from a
 * `key = value` file); the ceiling, allowlists and dry-run are applied by
 * enforce.c.  It never touches the store.
 */
#include "enforce.h"
#include "sg_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Score thresholds (0..1), highest first: the first one the score reaches
 * decides the message action (drop_score, hold_score, warn_score; defaults
 * 0.98, 0.90, 0.60, chosen on the SMS train split so that "drop" blocks
 * well under 0.1 % of ham).  Labels that never let a message through
 * untouched ask for at least their *_action (phishing, blocklisted,
 * compromised: hold; lookalike: warn). */
static sg_action ladder(const sg_policy_config *pc, double score) {
    if (score >= pc->drop_score) return SG_ACTION_DROP;
    if (score >= pc->hold_score) return SG_ACTION_HOLD;
    if (score >= pc->warn_score) return SG_ACTION_WARN;
    return SG_ACTION_DELIVER;
}

/* Labels whose messages are held rather than dropped: the sender of a
 * phishing link is often a compromised contact, not the phisher, and the
 * operator needs the message as evidence; dropping would also tell the
 * attacker which lure failed. */
#define HOLD_NOT_DROP (SG_LABEL_PHISHING | SG_LABEL_LOOKALIKE_URL | \
                       SG_LABEL_BLOCKLISTED_URL | SG_LABEL_COMPROMISED_SENDER)

static sg_action action_for(const sg_policy_config *pc, double score,
                            unsigned labels, sg_action floor) {
    const struct { unsigned label; sg_action floor; } label_floor[] = {
        {SG_LABEL_PHISHING, pc->phishing_action},
        {SG_LABEL_BLOCKLISTED_URL, pc->blocklisted_action},
        {SG_LABEL_COMPROMISED_SENDER, pc->compromised_action},
        {SG_LABEL_LOOKALIKE_URL, pc->lookalike_action},
    };
    sg_action a = ladder(pc, score);
    if (a == SG_ACTION_DROP && (labels & HOLD_NOT_DROP)) a = SG_ACTION_HOLD;
    for (size_t i = 0; i < sizeof label_floor / sizeof label_floor[0]; i++)
        if ((labels & label_floor[i].label) && label_floor[i].floor > a)
            a = label_floor[i].floor;
    return floor > a ? floor : a;
}

/* Reasons are shown strongest first. */
static int by_strength(const void *a, const void *b) {
    double x = fabs(((const sg_reason *)a)->weight);
    double y = fabs(((const sg_reason *)b)->weight);
    return (x < y) - (x > y);
}

/* Reasons sorted here without qsort's indirect calls, up to this many
 * (more go to qsort). */
#define SORT_MAX 32

/* Sort b[0..n) by by_strength with tmp (n elements) as scratch: the
 * top-down merge sort that glibc's qsort runs (msort_with_tmp, stable),
 * step for step, so that reasons of equal strength keep the same order
 * as before. */
static void sort_reasons(sg_reason *b, size_t n, sg_reason *tmp) {
    if (n <= 1) return;
    size_t n1 = n / 2, n2 = n - n1;
    sg_reason *b1 = b, *b2 = b + n1, *t = tmp;
    sort_reasons(b1, n1, tmp);
    sort_reasons(b2, n2, tmp);
    while (n1 > 0 && n2 > 0) {
        if (by_strength(b1, b2) <= 0) *t++ = *b1++, n1--;
        else *t++ = *b2++, n2--;
    }
    if (n1 > 0) memcpy(t, b1, n1 * sizeof *b1);
    memcpy(b, tmp, (n - n2) * sizeof *b);
}

/* The signals as the verdict's reasons, strongest first: the array and
 * every detail in one allocation (v->reasons_block). */
static int copy_reasons(const sg_ctx *c, sg_verdict *v) {
    size_t bytes = (c->nsig ? c->nsig : 1) * sizeof *v->reasons;
    for (size_t i = 0; i < c->nsig; i++) bytes += strlen(c->sig[i].detail) + 1;
    v->reasons = sg__malloc(bytes);
    if (!v->reasons) return SG_ENOMEM;
    if (!c->nsig) memset(v->reasons, 0, sizeof *v->reasons);
    v->reasons_block = true;
    char *d = (char *)(v->reasons + (c->nsig ? c->nsig : 1));
    for (size_t i = 0; i < c->nsig; i++) {
        size_t len = strlen(c->sig[i].detail) + 1;
        memcpy(d, c->sig[i].detail, len);
        v->reasons[i] = (sg_reason){c->sig[i].code, c->sig[i].weight, d};
        d += len;
    }
    v->nreasons = c->nsig;
    sg_reason tmp[SORT_MAX];
    if (v->nreasons <= SORT_MAX) sort_reasons(v->reasons, v->nreasons, tmp);
    else qsort(v->reasons, v->nreasons, sizeof *v->reasons, by_strength);
    return SG_OK;
}

/* A contact relationship is evidence of ham: spim comes from strangers,
 * and a contact's unusual message is the behaviour stage's to judge. */
static int contact_prior(sg_ctx *c, const sg_policy_config *pc) {
    if (c->msg->contact != 1 || pc->contact_prior == 0) return SG_OK;
    return sg__ctx_signal(c, "CONTACT", pc->contact_prior, 0,
                          "the sender is in the recipient's contacts");
}

/* True when nothing but the text classifier speaks against the message:
 * no URL, bulk or behaviour finding with a positive weight. */
static bool content_only(const sg_ctx *c) {
    for (size_t i = 0; i < c->nsig; i++)
        if (!c->sig[i].explain_only && c->sig[i].weight > 0 &&
            strcmp(c->sig[i].code, "CONTENT") != 0)
            return false;
    return c->min_action == SG_ACTION_DELIVER && c->labels == 0;
}

int sg__policy_decide(sg_ctx *c, sg_verdict **out) {
    sg_verdict *v = sg__calloc(1, sizeof *v);
    if (!v) return SG_ENOMEM;
    const sg_policy_config *pc = sg__policy_config_of(c->eng);
    int rc = contact_prior(c, pc);
    if (rc) { sg_verdict_free(v); return rc; }
    double sum = 0;
    for (size_t i = 0; i < c->nsig; i++)
        if (!c->sig[i].explain_only) sum += c->sig[i].weight;
    v->score = sg__sigmoid(sum);
    v->content_score = c->content_p;
    v->labels = c->labels;
    if (v->score >= pc->spim_score) v->labels |= SG_LABEL_SPIM;
    if (c->msg->contact == 0) v->labels |= SG_LABEL_STRANGER;
    v->action = action_for(pc, v->score, v->labels, c->min_action);
    if (c->msg->contact == 1 && content_only(c) && v->action > pc->contact_content_action)
        v->action = pc->contact_content_action;
    v->account_action = c->account_action;
    rc = sg__enforce_adjust(c, v); /* ceiling, allowlists, dry-run */
    if (!rc) rc = copy_reasons(c, v);
    if (!rc && c->msg->id && !(v->id = sg__strdup(c->msg->id))) rc = SG_ENOMEM;
    if (!rc && c->campaign && !(v->campaign = sg__strdup(c->campaign)))
        rc = SG_ENOMEM;
    if (rc) { sg_verdict_free(v); return rc; }
    *out = v;
    return SG_OK;
}
