/*
 * serve_enforce.h -- the enforcement part of `spimguard serve`
 * (serve_enforce.c): appeals and operator decisions, the lists the
 * operator dashboard shows, the dashboard's static files at `/`, the
 * engine options that give the daemon its evidence log and policy, and the
 * policy reload on SIGHUP.  The rest of the daemon calls these through
 * one line each (router, HTTP auth, engine_open, reload, report path).
 * API and keys: docs/enforcement.md.
 */
#ifndef SG_CLI_SERVE_ENFORCE_H
#define SG_CLI_SERVE_ENFORCE_H

#include <stdbool.h>
#include <stddef.h>

#include "serve.h"

/** Handle the request when it is one of the enforcement routes:
 *    POST /v1/accounts/{id}/appeal    {"text"}                 -> the case
 *    POST /v1/accounts/{id}/decision  {"decision": "clear"|"confirm",
 *                                      "operator", "note"}     -> the case
 *    GET  /v1/enforcement/summary     counters, evidence head, policy
 *    GET  /v1/enforcement/accounts    actioned accounts, newest first
 *    GET  /v1/enforcement/appeals     open appeals
 *    GET  /v1/enforcement/reports     the last user reports
 *    GET  /, /dashboard.js, /dashboard.css   the dashboard (static files)
 *  Takes the engine lock for engine calls.  @return true when it filled r
 *  (the router then stops), false when the path is not one of these. */
bool sg_serve_enforce_route(sg_serve *s, const char *method, const char *path,
                            const char *body, size_t len, sg_serve_resp *r);

/** True for the dashboard's static files, served without a token: they
 *  hold no data (the page asks for the token and sends it to the API). */
bool sg_serve_enforce_public(const char *method, const char *path);

/** Fill the engine options the enforcement side needs from the daemon
 *  config: evidence_dir = DATA_DIR/evidence when data_dir is set (the
 *  policy file may name another), policy_file = the policy_file key.
 *  evbuf (cap bytes) holds the built path; it must outlive sg_engine_new. */
void sg_serve_enforce_options(const sg_serve_config *c, sg_options *o,
                              char *evbuf, size_t cap);

/** SIGHUP: re-read the policy file under the engine lock and log what
 *  changed (keys that need a restart are named).  Failures keep the old
 *  policy and are counted as reload failures. */
void sg_serve_enforce_reload(sg_serve *s);

#endif
