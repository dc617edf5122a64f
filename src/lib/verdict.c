/*
 * verdict.c -- the verdict object handed back to callers: accessors, its
 * JSON form (DESIGN.md "Formats") and its release.  Deciding what goes in
 * a verdict is policy.c's job.
 */
#include "sg_internal.h"

#include <jansson.h>
#include <stdlib.h>

void sg_verdict_free(sg_verdict *v) {
    if (!v) return;
    for (size_t i = 0; i < v->nreasons; i++) sg__free((char *)v->reasons[i].detail);
    sg__free(v->reasons);
    sg__free(v->id);
    sg__free(v->campaign);
    sg__free(v);
}

sg_action sg_verdict_action(const sg_verdict *v) { return v->action; }
sg_account_action sg_verdict_account_action(const sg_verdict *v) {
    return v->account_action;
}
double sg_verdict_score(const sg_verdict *v) { return v->score; }
double sg_verdict_content_score(const sg_verdict *v) { return v->content_score; }
unsigned sg_verdict_labels(const sg_verdict *v) { return v->labels; }
size_t sg_verdict_reason_count(const sg_verdict *v) { return v->nreasons; }
const sg_reason *sg_verdict_reason(const sg_verdict *v, size_t i) {
    return i < v->nreasons ? &v->reasons[i] : NULL;
}
const char *sg_verdict_campaign(const sg_verdict *v) { return v->campaign; }
const char *sg_verdict_id(const sg_verdict *v) { return v->id; }

/* Round to 4 decimals so the JSON stays short and stable. */
static json_t *real4(double x) {
    return json_real((double)(long long)(x * 10000.0 + (x < 0 ? -0.5 : 0.5)) / 10000.0);
}

static json_t *labels_json(unsigned labels) {
    json_t *a = json_array();
    for (unsigned i = 0; a && i < SG_LABEL_COUNT_; i++)
        if (labels & (1u << i)) json_array_append_new(a, json_string(sg_label_name(1u << i)));
    return a;
}

static json_t *reasons_json(const sg_verdict *v) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < v->nreasons; i++)
        json_array_append_new(a, json_pack("{s:s, s:o, s:s}", "code", v->reasons[i].code,
                                           "weight", real4(v->reasons[i].weight),
                                           "detail", v->reasons[i].detail));
    return a;
}

char *sg_verdict_to_json(const sg_verdict *v) {
    if (!v) return NULL;
    json_t *o = json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:s}",
                          "id", v->id ? json_string(v->id) : json_null(),
                          "action", sg_action_name(v->action),
                          "score", real4(v->score),
                          "content_score", real4(v->content_score),
                          "labels", labels_json(v->labels),
                          "reasons", reasons_json(v),
                          "campaign", v->campaign ? json_string(v->campaign) : json_null(),
                          "account_action", sg_account_action_name(v->account_action));
    if (!o) return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(o);
    return s;
}
