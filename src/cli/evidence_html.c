/*
 * evidence_html.c -- the HTML face of a campaign report (evidence_report.c
 * builds the JSON): one self-contained file with inline CSS and inline
 * SVG (a histogram of the campaign over time and the propagation graph),
 * no script and no external resource, so it opens offline and prints.
 * Every string from the log is HTML-escaped.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "evidence.h"
#include "evidence_cli.h"

#define MAX_HTML_ROWS 1000
#define MAX_GRAPH_NODES 3000
#define COL_NODES 50      /* nodes per sub-column of a generation */
#define ROW_H 14          /* px between nodes */
#define SUBCOL_W 18       /* px between sub-columns */
#define GEN_GAP 90        /* px between generations */

static const char *s_(const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}
static long long i_(const json_t *o, const char *k) {
    return (long long)json_integer_value(json_object_get(o, k));
}

static void esc(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* "2024-03-11 09:30:11Z", or "" for 0. */
static const char *utc(long long ms, char buf[32]) {
    if (!ms) return buf[0] = '\0', buf;
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

static const char CSS[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}"
    "h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;width:100%;font-size:12px}"
    "th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}td.h{font-family:monospace;font-size:11px;word-break:break-all}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{font-weight:600}"
    ".compromised{color:#b00}.abusive{color:#c60}.note{color:#666}"
    "pre{background:#f6f6f6;padding:8px;overflow-x:auto}"
    ".scroll{overflow:auto;max-height:720px;border:1px solid #ddd}";

/* ------------------------------------------------------------ graph */

/* Node positions: x by generation (with sub-columns), y within it. */
typedef struct node {
    const json_t *s;
    int x, y;
} node;

static int layout(const json_t *senders, node *nodes, int *w, int *h) {
    int n = (int)json_array_size(senders), count[128] = {0}, maxrow = 1;
    if (n > MAX_GRAPH_NODES) n = MAX_GRAPH_NODES;
    int subcols[128] = {0}, x0[128];
    for (int i = 0; i < n; i++) {
        long long g = i_(json_array_get(senders, (size_t)i), "generation");
        count[g < 127 ? g : 127]++;
    }
    int x = 20;
    for (int g = 0; g < 128; g++) {
        subcols[g] = (count[g] + COL_NODES - 1) / COL_NODES;
        x0[g] = x;
        if (count[g]) x += subcols[g] * SUBCOL_W + GEN_GAP;
        if (count[g] > maxrow) maxrow = count[g] < COL_NODES ? count[g] : COL_NODES;
        count[g] = 0;
    }
    for (int i = 0; i < n; i++) {
        const json_t *s = json_array_get(senders, (size_t)i);
        long long g = i_(s, "generation");
        int gi = g < 127 ? (int)g : 127, k = count[gi]++;
        nodes[i] = (node){s, x0[gi] + (k / COL_NODES) * SUBCOL_W, 40 + (k % COL_NODES) * ROW_H};
    }
    *w = x + 20;
    *h = 60 + maxrow * ROW_H;
    return n;
}

static int find_node(const node *nodes, int n, const char *id) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s_(nodes[i].s, "id"), id)) return i;
    return -1;
}

static void graph_edges(FILE *f, const node *nodes, int n) {
    fputs("<g stroke=\"#999\" stroke-width=\"0.7\" fill=\"none\" opacity=\"0.7\">\n", f);
    for (int i = 0; i < n; i++) {
        const char *by = s_(nodes[i].s, "infected_by");
        int j = *by ? find_node(nodes, n, by) : -1;
        if (j < 0) continue;
        int mx = (nodes[j].x + nodes[i].x) / 2;
        fprintf(f, "<path d=\"M%d %d C%d %d %d %d %d %d\"/>\n", nodes[j].x, nodes[j].y, mx,
                nodes[j].y, mx, nodes[i].y, nodes[i].x, nodes[i].y);
    }
    fputs("</g>\n", f);
}

static void graph_nodes(FILE *f, const node *nodes, int n) {
    for (int i = 0; i < n; i++) {
        const char *role = s_(nodes[i].s, "role");
        const char *fill = !strcmp(role, "compromised") ? "#c0392b"
                           : !strcmp(role, "abusive") ? "#e67e22" : "#7f8c8d";
        long long m = i_(nodes[i].s, "messages");
        int r = m > 100 ? 6 : m > 20 ? 5 : m > 5 ? 4 : 3;
        char t[32];
        fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"%d\" fill=\"%s\"><title>", nodes[i].x,
                nodes[i].y, r, fill);
        esc(f, s_(nodes[i].s, "id"));
        fprintf(f, " (%s, generation %lld, %lld messages, first %s", role,
                i_(nodes[i].s, "generation"), m, utc(i_(nodes[i].s, "first_ts"), t));
        if (*s_(nodes[i].s, "infected_by")) fputs(", infected by ", f), esc(f, s_(nodes[i].s, "infected_by"));
        fputs(")</title></circle>\n", f);
    }
}

/* The propagation graph: senders by generation (who infected whom). */
static void write_graph(FILE *f, const json_t *senders) {
    size_t total = json_array_size(senders);
    node *nodes = calloc(total ? total : 1, sizeof *nodes);
    int w, h, n = nodes ? layout(senders, nodes, &w, &h) : 0;
    if (!nodes) w = h = 40;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\" "
               "role=\"img\" aria-label=\"propagation graph\">\n", w, h, w, h);
    fputs("<text x=\"20\" y=\"18\">generation 0 = accounts the attacker took over first; "
          "each line: who sent the lure to whom before they spread it. "
          "<tspan fill=\"#c0392b\">&#9679; compromised</tspan> "
          "<tspan fill=\"#e67e22\">&#9679; abusive</tspan> "
          "<tspan fill=\"#7f8c8d\">&#9679; not actioned</tspan></text>\n", f);
    graph_edges(f, nodes, n);
    graph_nodes(f, nodes, n);
    if ((int)total > n)
        fprintf(f, "<text x=\"20\" y=\"%d\">%zu more senders not drawn</text>\n", h - 6, total - (size_t)n);
    fputs("</svg>\n", f);
    free(nodes);
}

/* Bars: messages per bucket; red marks: account actions. */
static void write_histogram(FILE *f, const json_t *hist, long long bucket_ms) {
    size_t n = json_array_size(hist), i;
    long long max = 1;
    json_t *b;
    json_array_foreach(hist, i, b) if (i_(b, "messages") > max) max = i_(b, "messages");
    int bw = n > 200 ? 3 : n > 60 ? 6 : 14, H = 140, W = (int)n * bw + 60;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n", W, H + 30);
    json_array_foreach(hist, i, b) {
        int bh = (int)(i_(b, "messages") * H / max);
        char t[32];
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#5d6d7e\">"
                   "<title>%s: %lld messages, %lld account actions</title></rect>\n",
                40 + (int)i * bw, H - bh, bw - 1, bh, utc(i_(b, "start"), t),
                i_(b, "messages"), i_(b, "account_actions"));
        if (i_(b, "account_actions"))
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"4\" fill=\"#c0392b\"/>\n",
                    40 + (int)i * bw, H + 2, bw - 1);
    }
    fprintf(f, "<text x=\"0\" y=\"12\">%lld</text><text x=\"40\" y=\"%d\">one bar = %lld min; "
               "red = account actions</text></svg>\n", max, H + 24, bucket_ms / 60000);
}

/* ------------------------------------------------------------ sections */

static void summary(FILE *f, const json_t *rep) {
    const json_t *s = json_object_get(rep, "summary"), *p = json_object_get(rep, "proof");
    char a[32], b[32];
    fputs("<dl>", f);
    fprintf(f, "<dt>evidence entries</dt><dd>%lld</dd>", i_(s, "entries"));
    fprintf(f, "<dt>first / last seen</dt><dd>%s &ndash; %s</dd>", utc(i_(s, "first_ts"), a),
            utc(i_(s, "last_ts"), b));
    fprintf(f, "<dt>senders</dt><dd>%lld: <span class=compromised>%lld compromised</span>, "
               "<span class=abusive>%lld abusive</span></dd>", i_(s, "senders"),
            i_(s, "compromised_senders"), i_(s, "abusive_senders"));
    fprintf(f, "<dt>victims reached</dt><dd>%lld (%lld of them became senders)</dd>",
            i_(s, "victims"), i_(s, "victims_who_became_senders"));
    fputs("<dt>signing key</dt><dd class=h>", f);
    esc(f, *s_(p, "key_id") ? s_(p, "key_id") : "(public key not in the evidence directory)");
    fputs("</dd></dl>\n", f);
}

static void timeline_table(FILE *f, const json_t *rep) {
    const json_t *t = json_object_get(rep, "timeline"), *e;
    size_t i;
    fputs("<div class=scroll><table><tr><th>time (UTC)</th><th>event</th><th>account</th>"
          "<th>entry</th><th>hash</th></tr>\n", f);
    json_array_foreach(t, i, e) {
        if (i >= MAX_HTML_ROWS) break;
        char ts[32];
        fprintf(f, "<tr><td>%s</td><td>", utc(i_(e, "ts"), ts));
        esc(f, s_(e, "event"));
        if (*s_(e, "note")) fputs(": ", f), esc(f, s_(e, "note"));
        fputs("</td><td>", f);
        esc(f, s_(e, "account"));
        fprintf(f, "</td><td>%lld</td><td class=h>", i_(e, "seq"));
        esc(f, s_(e, "hash"));
        fputs("</td></tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

static void senders_table(FILE *f, const json_t *rep) {
    const json_t *ss = json_object_get(rep, "senders"), *s;
    size_t i;
    fputs("<div class=scroll><table><tr><th>account</th><th>role</th><th>gen.</th>"
          "<th>first message</th><th>locked</th><th>suspended</th><th>messages</th>"
          "<th>infected by</th></tr>\n", f);
    json_array_foreach(ss, i, s) {
        if (i >= MAX_HTML_ROWS) break;
        char a[32], b[32], c[32];
        fputs("<tr><td>", f);
        esc(f, s_(s, "id"));
        fprintf(f, "</td><td class=\"%s\">%s</td><td>%lld</td><td>%s</td><td>%s</td><td>%s</td>"
                   "<td>%lld</td><td>", s_(s, "role"), s_(s, "role"), i_(s, "generation"),
                utc(i_(s, "first_ts"), a), utc(i_(s, "lock_and_reset_ts"), b),
                utc(i_(s, "suspend_ts"), c), i_(s, "messages"));
        esc(f, s_(s, "infected_by"));
        fputs("</td></tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

static void urls_table(FILE *f, const json_t *rep) {
    const json_t *us = json_object_get(rep, "urls"), *u, *x;
    size_t i, k;
    fputs("<table><tr><th>host</th><th>registrable domain</th><th>messages</th>"
          "<th>sample URL</th><th>lookalike analysis</th></tr>\n", f);
    json_array_foreach(us, i, u) {
        if (i >= MAX_HTML_ROWS) break;
        fputs("<tr><td>", f);
        esc(f, s_(u, "host"));
        fputs("</td><td>", f);
        esc(f, s_(u, "registrable_domain"));
        fprintf(f, "</td><td>%lld</td><td class=h>", i_(u, "messages"));
        esc(f, s_(u, "url"));
        fputs("</td><td>", f);
        json_array_foreach(json_object_get(u, "findings"), k, x) {
            fputs("<b>", f);
            esc(f, s_(x, "kind"));
            fputs("</b>: ", f);
            esc(f, s_(x, "detail"));
            fputs("<br>", f);
        }
        if (!json_array_size(json_object_get(u, "findings"))) fputs("no finding", f);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void samples_table(FILE *f, const json_t *rep) {
    const json_t *ss = json_object_get(rep, "samples"), *s;
    size_t i;
    fputs("<table><tr><th>time (UTC)</th><th>from</th><th>to</th><th>text</th>"
          "<th>text hash (BLAKE2b, salted)</th></tr>\n", f);
    json_array_foreach(ss, i, s) {
        char t[32];
        fprintf(f, "<tr><td>%s</td><td>", utc(i_(s, "ts"), t));
        esc(f, s_(s, "from"));
        fputs("</td><td>", f);
        esc(f, s_(s, "to"));
        fputs("</td><td>", f);
        esc(f, s_(s, "text"));
        fputs("</td><td class=h>", f);
        esc(f, s_(s, "text_hash"));
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void entries_table(FILE *f, const json_t *rep) {
    const json_t *es = json_object_get(rep, "entries"), *e;
    size_t i, n = json_array_size(es);
    fputs("<div class=scroll><table><tr><th>seq</th><th>kind</th><th>time (UTC)</th>"
          "<th>account</th><th>account action</th><th>message</th><th>to</th>"
          "<th>entry hash</th></tr>\n", f);
    json_array_foreach(es, i, e) {
        if (i >= MAX_HTML_ROWS) break;
        char t[32];
        fprintf(f, "<tr><td>%lld</td><td>%s</td><td>%s</td><td>", i_(e, "seq"), s_(e, "kind"),
                utc(i_(e, "ts"), t));
        esc(f, s_(e, "account"));
        fprintf(f, "</td><td>%s</td><td>%s</td><td>", s_(e, "action"), s_(e, "message_action"));
        esc(f, s_(e, "to"));
        fputs("</td><td class=h>", f);
        esc(f, s_(e, "hash"));
        fputs("</td></tr>\n", f);
    }
    fputs("</table></div>\n", f);
    if (n > MAX_HTML_ROWS)
        fprintf(f, "<p class=note>%zu of %zu entries shown; all are in report.json.</p>\n",
                (size_t)MAX_HTML_ROWS, n);
}

static void proof_section(FILE *f, const json_t *rep) {
    const json_t *p = json_object_get(rep, "proof");
    fprintf(f, "<p>Every entry above is a line of the evidence log, hash-chained with "
               "BLAKE2b-256 (each entry's hash covers the previous hash and the entry). "
               "<code>segment.jsonl</code> holds the log from entry %lld to entry %lld; "
               "entries of other cases are elided (only their digest is shown), so the "
               "chain still checks. %s</p>\n<pre>", i_(p, "first_seq"), i_(p, "last_seq"),
            json_is_true(json_object_get(p, "signed"))
                ? "It ends with a checkpoint signed with Ed25519: whoever holds the public "
                  "key can check that the operator's key signed exactly these entries."
                : "No signed checkpoint follows it yet: re-export after the next checkpoint.");
    esc(f, s_(p, "verify"));
    fputs("</pre>\n<p>Public key (Ed25519, hex): <code>", f);
    esc(f, s_(p, "pubkey"));
    fputs("</code> &mdash; compare it with the key the operator published.</p>\n", f);
}

/* ------------------------------------------------------------ page */

int sg_evidence_write_html(const json_t *rep, const char *html_path, const char *svg_path,
                           int64_t bucket_ms) {
    FILE *g = fopen(svg_path, "w");
    if (!g) return -1;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", g);
    write_graph(g, json_object_get(rep, "senders"));
    if (fclose(g)) return -1;
    FILE *f = fopen(html_path, "w");
    if (!f) return -1;
    fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", f);
    esc(f, s_(rep, "campaign"));
    fprintf(f, " &mdash; spimguard campaign report</title>\n<style>%s</style></head><body>\n", CSS);
    fputs("<h1>Campaign <code>", f);
    esc(f, s_(rep, "campaign"));
    fputs("</code></h1>\n<p class=note>Built by <code>spimguard evidence export</code> from the "
          "tamper-evident evidence log. Times are UTC.</p>\n<h2>Summary</h2>\n", f);
    summary(f, rep);
    fputs("<h2>Timeline</h2>\n", f);
    write_histogram(f, json_object_get(rep, "histogram"), bucket_ms);
    timeline_table(f, rep);
    fputs("<h2>Senders</h2>\n<p class=note>compromised: locked as taken over (the owner "
          "must reset the password); abusive: suspended or throttled for spim.</p>\n", f);
    senders_table(f, rep);
    fputs("<h2>Propagation graph</h2>\n<div class=scroll>", f);
    write_graph(f, json_object_get(rep, "senders"));
    fputs("</div>\n<h2>URLs and their lookalike analysis</h2>\n", f);
    urls_table(f, rep);
    fputs("<h2>Sample messages</h2>\n", f);
    samples_table(f, rep);
    fprintf(f, "<h2>Victims reached</h2>\n<p>%lld accounts received messages of this campaign; "
               "the full list is in report.json.</p>\n",
            i_(json_object_get(rep, "summary"), "victims"));
    fputs("<h2>Evidence entries</h2>\n", f);
    entries_table(f, rep);
    fputs("<h2>How to verify</h2>\n", f);
    proof_section(f, rep);
    fputs("</body></html>\n", f);
    return fclose(f) ? -1 : 0;
}
