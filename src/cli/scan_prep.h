/*
 * scan_prep.h -- the prepare phase of `spimguard scan`'s chunks on two
 * threads: the scanning thread and one helper thread share a chunk's
 * messages and run sg__check_prepare_reuse on them (normalize, features,
 * model, URLs, fingerprint; src/lib/engine.c) before the scanning thread
 * judges them in order (cmd_scan.c).  Internal to the spimguard command.
 */
#ifndef SG_CLI_SCAN_PREP_H
#define SG_CLI_SCAN_PREP_H

#include <stddef.h>

#include "sg_internal.h"

typedef struct sg_scan_prep sg_scan_prep;

/** A preparer for eng.  It starts one helper thread, with its own
 *  normalizer scratch, when more than one core is available to the
 *  process (sched_getaffinity); else, or when the thread or the scratch
 *  cannot be had, every chunk is prepared by the caller alone (same
 *  result).  NULL only when out of memory; sg_scan_prep_all and
 *  sg_scan_prep_stop accept NULL (then the caller prepares alone).  The
 *  caller keeps eng alive until sg_scan_prep_stop. */
sg_scan_prep *sg_scan_prep_start(sg_engine *eng);

/** Prepare m[i] into c[i] for every i < n with m[i] != NULL (contexts all
 *  zero or left by sg__ctx_recycle), on both threads when there is a helper
 *  and n is large enough to share; returns when all are done.  The calling
 *  thread uses the engine's normalizer scratch: it must be the only thread
 *  using eng meanwhile (scan is).  A failure of one message is kept in its
 *  context and answered by sg__check_judge. */
void sg_scan_prep_all(sg_scan_prep *p, sg_engine *eng, sg_message **m,
                      sg_ctx *c, size_t n);

/** Stop the helper thread and free p (NULL is fine). */
void sg_scan_prep_stop(sg_scan_prep *p);

#endif /* SG_CLI_SCAN_PREP_H */
