/*
 * evidence_cli.h -- what the files of `spimguard evidence` share:
 * cmd_evidence.c (verify, redact, keygen, show) calls the campaign report
 * of evidence_report.c (export).  docs/enforcement.md.
 */
#ifndef SG_CLI_EVIDENCE_H
#define SG_CLI_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "urls.h"

/** Write the report of campaign `campaign` found in the evidence log of
 *  directory `evdir` into directory `outdir` (created): report.json,
 *  report.html (one self-contained file: inline CSS and SVG, no script,
 *  no external resource), graph.svg, segment.jsonl (the log lines from
 *  the campaign's first entry to the first signed checkpoint after its
 *  last one, other entries elided, so `spimguard evidence verify --log
 *  segment.jsonl --segment --pubkey signing.pub` proves them) and
 *  signing.pub.  URLs are judged with the URL stage's lists (`lists`, NULL
 *  members = shipped lists).
 *  @return 0 (EXIT_OK), EXIT_BADLINES when the log holds no entry of that
 *          campaign, EXIT_FATAL (cannot read or write; reason in err). */
int sg_evidence_export(const char *evdir, const char *campaign,
                       const char *outdir, const sg_listfiles *lists,
                       char *err, size_t errlen);

/** Write the HTML page (html_path) and the propagation graph (svg_path)
 *  of a report built by sg_evidence_export (evidence_html.c); bucket_ms is
 *  the histogram's bar width.  @return 0, or -1 with errno. */
struct json_t;
int sg_evidence_write_html(const struct json_t *rep, const char *html_path,
                           const char *svg_path, int64_t bucket_ms);

#endif
