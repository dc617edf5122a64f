/*
 * group.h -- many checks, one store commit.  A caller that judges messages
 * in batches (the daemon's batch requests, `spimguard scan` over a file
 * with a persistent store) opens one outer store group around several
 * sg_check calls (groups nest: each check's own commit then does nothing)
 * and sends the verdicts only after the outer commit, so an LMDB commit or
 * a Redis round trip is paid once per batch instead of once per message.
 * Internal to spimguard (src/lib, src/cli); not thread-safe: call under the
 * lock that guards sg_check.  Design and figures: docs/storage.md.
 */
#ifndef SG_GROUP_H
#define SG_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "spimguard.h"

/** One outer group over an engine's store. */
typedef struct sg_check_group {
    sg_engine *eng;
    size_t checks;      /* sg__group_check calls that succeeded */
    bool open;          /* begin ran and nothing ended the group yet */
    bool broken;        /* a check failed inside: the store group was
                           aborted, every write of the group is gone */
} sg_check_group;

/** True when grouping checks pays off and is safe on eng's store: the
 *  backend commits in transactions that can be rolled back (LMDB, Redis
 *  on one server).  False for memory: (nothing to amortise, and it cannot
 *  roll back) and for Redis Cluster (a group there commits one
 *  transaction per hash slot, so the account check of docs/storage.md
 *  "Many daemons" can only guard one account per commit). */
bool sg__group_worth(sg_engine *eng);

/** Open an outer group.  @return SG_OK, SG_EINVAL (NULL argument),
 *  SG_ESTORE (detail in sg_engine_errmsg). */
int sg__group_begin(sg_check_group *g, sg_engine *eng);

/** sg_check inside the group.  When a check fails, the engine has aborted
 *  the store group (all of the group's writes are dropped, not only this
 *  message's): g->broken is set, and the caller must judge the group's
 *  messages again one by one, outside any group.  A check after a broken
 *  one is refused with SG_EINVAL and changes nothing.
 *  @return what sg_check returns. */
int sg__group_check(sg_check_group *g, const sg_message *msg,
                    sg_verdict **out);

struct sg_ctx;
/** sg__group_check for a message already prepared with sg__check_prepare
 *  (sg_internal.h): only the judge phase runs here, under the caller's
 *  lock.  Same rules: a failure breaks the group.  The context stays the
 *  caller's (sg__ctx_free); after a broken group it may be judged again.
 *  @return what sg__check_judge returns. */
int sg__group_judge(sg_check_group *g, struct sg_ctx *c, sg_verdict **out);

/** Commit the group.  Verdicts of its checks may be sent only after this
 *  returned SG_OK.
 *  @return SG_OK; SG_EINVAL (the group is broken or was not opened);
 *          SG_ESTORE (the commit failed, or another daemon changed an
 *          account the group had read -- then nothing was applied and
 *          the caller judges the messages again; detail in
 *          sg_engine_errmsg). */
int sg__group_commit(sg_check_group *g);

/** Drop the group's writes (if still open).  Safe to call on a broken or
 *  committed group. */
void sg__group_abort(sg_check_group *g);

#endif /* SG_GROUP_H */
