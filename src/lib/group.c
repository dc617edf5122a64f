/*
 * group.c -- many checks, one store commit (group.h): an outer store group
 * around several sg_check calls, for callers that judge in batches.  It
 * owns no state of its own; the nesting itself is the store's (store.h:
 * only the outermost commit writes, abort drops everything since the
 * outermost begin).  It does not retry: a broken or conflicting group is
 * judged again message by message by the caller, where sg_check retries.
 */
#include "group.h"

#include <string.h>

#include "enforce.h"
#include "sg_internal.h"
#include "store.h"

bool sg__group_worth(sg_engine *eng) {
    if (!eng || !eng->store || !eng->store->ops->abort) return false;
    const char *name = eng->store->ops->name;
    return !strcmp(name, "lmdb") || !strcmp(name, "redis");
}

int sg__group_begin(sg_check_group *g, sg_engine *eng) {
    if (!g || !eng) return SG_EINVAL;
    *g = (sg_check_group){.eng = eng};
    int rc = sg__store_begin(eng->store);
    if (rc)
        return sg__set_error(eng, SG_ESTORE, "store: %s",
                             sg__store_errmsg(eng->store));
    g->open = true;
    sg__enforce_group_begin(eng); /* evidence only if the group commits */
    return SG_OK;
}

int sg__group_check(sg_check_group *g, const sg_message *msg,
                    sg_verdict **out) {
    if (!g || !g->open || g->broken) {
        if (out) *out = NULL;
        return SG_EINVAL;
    }
    int rc = sg_check(g->eng, msg, out);
    if (rc) { /* sg_check aborted the store group: the outer one is gone */
        g->broken = true;
        g->open = false;
        sg__enforce_group_end(g->eng, false);
    } else {
        g->checks++;
    }
    return rc;
}

int sg__group_judge(sg_check_group *g, sg_ctx *c, sg_verdict **out) {
    if (!g || !g->open || g->broken) {
        if (out) *out = NULL;
        return SG_EINVAL;
    }
    int rc = sg__check_judge(g->eng, c, out);
    if (rc) { /* the judge phase aborted the store group, as sg_check does */
        g->broken = true;
        g->open = false;
        sg__enforce_group_end(g->eng, false);
    } else {
        g->checks++;
    }
    return rc;
}

int sg__group_commit(sg_check_group *g) {
    if (!g || !g->open || g->broken) return SG_EINVAL;
    g->open = false;
    int rc = sg__store_commit(g->eng->store);
    sg__enforce_group_end(g->eng, rc == SG_OK);
    if (rc == SG_OK) return SG_OK;
    return sg__set_error(g->eng, SG_ESTORE, "store commit of %zu checks: %s",
                         g->checks,
                         rc == SG__ECONFLICT
                             ? "an account changed meanwhile (another daemon)"
                             : sg__store_errmsg(g->eng->store));
}

void sg__group_abort(sg_check_group *g) {
    if (!g || !g->open) return;
    g->open = false;
    sg__store_abort(g->eng->store);
    sg__enforce_group_end(g->eng, false);
}
