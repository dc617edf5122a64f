/*
 * policy.c -- turns the signals the detectors found into a verdict: the
 * score (sigmoid of the summed log-odds), the labels, the action for the
 * message and for the account.  Thresholds live in one table below, each
 * defined once with its meaning.  It never touches the store.
 */
#include "sg_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Score thresholds (0..1), highest first: the first one the score reaches
 * decides the message action.  Defaults chosen on the SMS train split so
 * that "drop" blocks well under 0.1 % of ham (docs/accuracy.md). */
static const struct {
    double min_score;
    sg_action action;
} action_ladder[] = {
    {0.98, SG_ACTION_DROP},
    {0.90, SG_ACTION_HOLD},
    {0.60, SG_ACTION_WARN},
    {0.00, SG_ACTION_DELIVER},
};

/* A message at or above this score is labeled spim. */
#define SPIM_LABEL_SCORE 0.60

/* Labels that never let a message through untouched, with the least action
 * each one asks for. */
static const struct {
    unsigned label;
    sg_action floor;
} label_floor[] = {
    {SG_LABEL_PHISHING, SG_ACTION_HOLD},
    {SG_LABEL_BLOCKLISTED_URL, SG_ACTION_HOLD},
    {SG_LABEL_COMPROMISED_SENDER, SG_ACTION_HOLD},
    {SG_LABEL_LOOKALIKE_URL, SG_ACTION_WARN},
};

/* Labels whose messages are held rather than dropped: the sender of a
 * phishing link is often a compromised contact, not the phisher, and the
 * operator needs the message as evidence; dropping would also tell the
 * attacker which lure failed. */
#define HOLD_NOT_DROP (SG_LABEL_PHISHING | SG_LABEL_LOOKALIKE_URL | \
                       SG_LABEL_BLOCKLISTED_URL | SG_LABEL_COMPROMISED_SENDER)

static sg_action action_for(double score, unsigned labels, sg_action floor) {
    sg_action a = SG_ACTION_DELIVER;
    for (size_t i = 0; i < sizeof action_ladder / sizeof action_ladder[0]; i++)
        if (score >= action_ladder[i].min_score) { a = action_ladder[i].action; break; }
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

static int copy_reasons(const sg_ctx *c, sg_verdict *v) {
    v->reasons = sg__calloc(c->nsig ? c->nsig : 1, sizeof *v->reasons);
    if (!v->reasons) return SG_ENOMEM;
    for (size_t i = 0; i < c->nsig; i++) {
        v->reasons[i].code = c->sig[i].code;
        v->reasons[i].weight = c->sig[i].weight;
        v->reasons[i].detail = sg__strdup(c->sig[i].detail);
        v->nreasons++;
        if (!v->reasons[i].detail) return SG_ENOMEM;
    }
    qsort(v->reasons, v->nreasons, sizeof *v->reasons, by_strength);
    return SG_OK;
}

int sg__policy_decide(sg_ctx *c, sg_verdict **out) {
    sg_verdict *v = sg__calloc(1, sizeof *v);
    if (!v) return SG_ENOMEM;
    double sum = 0;
    for (size_t i = 0; i < c->nsig; i++)
        if (!c->sig[i].explain_only) sum += c->sig[i].weight;
    v->score = sg__sigmoid(sum);
    v->content_score = c->content_p;
    v->labels = c->labels;
    if (v->score >= SPIM_LABEL_SCORE) v->labels |= SG_LABEL_SPIM;
    if (c->msg->contact == 0) v->labels |= SG_LABEL_STRANGER;
    v->action = action_for(v->score, v->labels, c->min_action);
    v->account_action = c->account_action;
    int rc = copy_reasons(c, v);
    if (!rc && c->msg->id && !(v->id = sg__strdup(c->msg->id))) rc = SG_ENOMEM;
    if (!rc && c->campaign && !(v->campaign = sg__strdup(c->campaign)))
        rc = SG_ENOMEM;
    if (rc) { sg_verdict_free(v); return rc; }
    *out = v;
    return SG_OK;
}
