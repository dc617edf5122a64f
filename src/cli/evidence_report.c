/*
 * evidence_report.c -- `spimguard evidence export --campaign ID`: the
 * report a legal team gets about one campaign, built from the evidence
 * log alone: timeline, senders (compromised vs abusive), victims, URLs with
 * the URL stage's lookalike analysis, sample messages (texts beside the
 * chain; "[redacted]" when removed), the propagation graph as SVG, and the
 * evidence entries with their hashes plus a verifiable segment of the
 * chain.  Writes JSON and one self-contained HTML file.  It reads the log;
 * it never writes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "commands.h"
#include "evidence.h"
#include "evidence_cli.h"

#define MAX_SAMPLES 12

typedef struct report {
    const char *campaign, *evdir;
    json_t *entries;   /* campaign entries (parsed), in log order */
    json_t *cases;     /* appeal / decision / unlocked entries, all accounts */
    json_t *accounts;  /* id -> sender stats */
    json_t *victims;   /* id -> messages received */
    json_t *hosts;     /* host -> {count, url} */
    uint64_t first_line, last_line;
    int64_t first_ts, last_ts;
    uint64_t *seqs;    /* seqs of the entries kept whole in the segment */
    size_t nseqs, capseqs;
    sg_urls *urls;
} report;

static int64_t jint(json_t *o, const char *k) {
    return (int64_t)json_integer_value(json_object_get(o, k));
}
static const char *jstr(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static bool has_label(json_t *e, const char *label) {
    json_t *a = json_object_get(e, "labels"), *v;
    size_t i;
    json_array_foreach(a, i, v) if (!strcmp(json_string_value(v), label)) return true;
    return false;
}

static void add_seq(report *r, uint64_t seq) {
    if (r->nseqs == r->capseqs) {
        size_t cap = r->capseqs ? r->capseqs * 2 : 1024;
        uint64_t *p = realloc(r->seqs, cap * sizeof *p);
        if (!p) return;
        r->seqs = p;
        r->capseqs = cap;
    }
    r->seqs[r->nseqs++] = seq;
}

/* ------------------------------------------------------------ collecting */

static json_t *sender_of(report *r, const char *id) {
    json_t *a = json_object_get(r->accounts, id);
    if (a) return a;
    a = json_pack("{s:s, s:i, s:i, s:i, s:b, s:b, s:n}", "id", id, "messages", 0,
                  "first_ts", 0, "last_ts", 0, "compromised", 0, "abusive", 0,
                  "infected_by");
    json_object_set_new(r->accounts, id, a);
    return a;
}

static void count_sender(report *r, json_t *e) {
    const char *id = jstr(e, "account");
    if (!id) return;
    json_t *a = sender_of(r, id);
    int64_t ts = jint(e, "ts");
    const char *act = jstr(e, "action"), *kind = jstr(e, "kind");
    json_object_set_new(a, "messages", json_integer(jint(a, "messages") + 1));
    if (!jint(a, "first_ts")) json_object_set_new(a, "first_ts", json_integer(ts));
    json_object_set_new(a, "last_ts", json_integer(ts));
    if ((act && !strcmp(act, "lock_and_reset")) || has_label(e, "compromised_sender"))
        json_object_set_new(a, "compromised", json_true());
    else if (act && (!strcmp(act, "suspend") || !strcmp(act, "throttle")))
        json_object_set_new(a, "abusive", json_true());
    if (kind && !strcmp(kind, "account_action") && act) {
        char key[64];
        snprintf(key, sizeof key, "%s_ts", act);
        if (!json_object_get(a, key)) json_object_set_new(a, key, json_integer(ts));
    }
    if (jstr(e, "infected_by") && json_is_null(json_object_get(a, "infected_by")))
        json_object_set(a, "infected_by", json_object_get(e, "infected_by"));
}

static void count_messages(report *r, json_t *e) {
    json_t *ms = json_object_get(e, "messages"), *m;
    size_t i;
    json_array_foreach(ms, i, m) {
        const char *to = jstr(m, "to");
        if (!to) continue;
        json_t *v = json_object_get(r->victims, to);
        json_object_set_new(r->victims, to, json_integer(v ? json_integer_value(v) + 1 : 1));
    }
}

static void count_urls(report *r, json_t *e) {
    json_t *us = json_object_get(e, "urls"), *u;
    size_t i;
    json_array_foreach(us, i, u) {
        const char *url = json_string_value(u);
        sg_urlset set;
        if (!url || sg__urls_extract(r->urls, url, strlen(url), &set)) continue;
        if (set.n) {
            json_t *h = json_object_get(r->hosts, set.v[0].host);
            if (!h) {
                h = json_pack("{s:s, s:s, s:s?, s:i}", "host", set.v[0].host_unicode,
                              "url", url, "registrable_domain", set.v[0].registrable,
                              "messages", 0);
                json_object_set_new(r->hosts, set.v[0].host, h);
            }
            json_object_set_new(h, "messages", json_integer(jint(h, "messages") + 1));
        }
        sg__urlset_clear(&set);
    }
}

static bool is_case_kind(const char *k) {
    return k && (!strcmp(k, "appeal") || !strcmp(k, "decision") || !strcmp(k, "unlocked"));
}

static int collect_cb(void *ud, const char *line, size_t n, uint64_t lineno) {
    report *r = ud;
    char needle[96];
    int nl = snprintf(needle, sizeof needle, "\"campaign\":\"%s\"", r->campaign);
    bool mine = memmem(line, n, needle, (size_t)nl) != NULL;
    if (!mine && !memmem(line, n, "\"kind\":\"appeal\"", 15) &&
        !memmem(line, n, "\"kind\":\"decision\"", 17) && !memmem(line, n, "\"kind\":\"unlocked\"", 17))
        return 0;
    json_t *e = json_loadb(line, n, 0, NULL);
    if (!e) return 0;
    json_object_set_new(e, "line", json_integer((json_int_t)lineno));
    if (mine && !strcmp(jstr(e, "campaign") ? jstr(e, "campaign") : "", r->campaign)) {
        if (!r->first_line) r->first_line = lineno, r->first_ts = jint(e, "ts");
        r->last_line = lineno;
        if (jint(e, "ts") > r->last_ts) r->last_ts = jint(e, "ts");
        count_sender(r, e);
        count_messages(r, e);
        count_urls(r, e);
        add_seq(r, (uint64_t)jint(e, "seq"));
        json_array_append(r->entries, e);
    } else if (is_case_kind(jstr(e, "kind"))) {
        json_array_append(r->cases, e);
    }
    json_decref(e);
    return 0;
}

/* Keep the case entries of the campaign's accounts (after its start). */
static void filter_cases(report *r) {
    json_t *kept = json_array(), *e;
    size_t i;
    json_array_foreach(r->cases, i, e) {
        const char *id = jstr(e, "account");
        if (id && json_object_get(r->accounts, id) && jint(e, "line") > (json_int_t)r->first_line) {
            json_array_append(kept, e);
            add_seq(r, (uint64_t)jint(e, "seq"));
            if ((uint64_t)jint(e, "line") > r->last_line) r->last_line = (uint64_t)jint(e, "line");
        }
    }
    json_decref(r->cases);
    r->cases = kept;
}

/* ------------------------------------------------------------ analysis */

static json_t *judge_hosts(report *r) {
    json_t *out = json_array(), *h;
    const char *key;
    json_object_foreach(r->hosts, key, h) {
        const char *url = jstr(h, "url");
        sg_urlset set;
        json_t *fa = json_array();
        if (url && !sg__urls_extract(r->urls, url, strlen(url), &set) && set.n) {
            sg_urlfinding f[8];
            size_t nf = sg__urls_judge(r->urls, &set.v[0], f, 8);
            for (size_t k = 0; k < nf; k++)
                json_array_append_new(fa, json_pack("{s:s, s:s?, s:s?, s:s}", "kind",
                    sg__find_code(f[k].kind), "brand", f[k].brand,
                    "match", f[k].match ? sg__match_name(f[k].match) : NULL,
                    "detail", f[k].detail));
            sg__urlset_clear(&set);
        }
        json_t *o = json_deep_copy(h);
        json_object_set_new(o, "findings", fa);
        json_array_append_new(out, o);
    }
    return out;
}

/* Generation of a sender: 0 when nobody in the campaign infected it. */
static int generation(report *r, const char *id, int depth) {
    json_t *a = json_object_get(r->accounts, id);
    if (!a || depth > 64) return 0;
    json_t *g = json_object_get(a, "generation");
    if (g) return (int)json_integer_value(g);
    const char *by = jstr(a, "infected_by");
    int gen = by && json_object_get(r->accounts, by) && strcmp(by, id)
                  ? generation(r, by, depth + 1) + 1 : 0;
    json_object_set_new(a, "generation", json_integer(gen));
    return gen;
}

static int by_first_ts(const void *a, const void *b) {
    int64_t x = jint(*(json_t *const *)a, "first_ts"), y = jint(*(json_t *const *)b, "first_ts");
    return (x > y) - (x < y);
}

/* Senders sorted by their first campaign message. */
static json_t *senders_sorted(report *r) {
    size_t n = json_object_size(r->accounts), i = 0;
    json_t **v = calloc(n ? n : 1, sizeof *v), *a, *out = json_array();
    const char *key;
    json_object_foreach(r->accounts, key, a) {
        generation(r, key, 0);
        bool comp = json_is_true(json_object_get(a, "compromised"));
        bool abus = json_is_true(json_object_get(a, "abusive"));
        json_object_set_new(a, "role", json_string(comp ? "compromised" : abus ? "abusive"
                                                                              : "sender"));
        v[i++] = a;
    }
    qsort(v, n, sizeof *v, by_first_ts);
    for (i = 0; i < n; i++) json_array_append(out, v[i]);
    free(v);
    return out;
}

static json_t *victims_list(report *r, size_t *total, size_t *became) {
    json_t *out = json_array(), *v;
    const char *key;
    *total = *became = 0;
    json_object_foreach(r->victims, key, v) {
        bool sender = json_object_get(r->accounts, key) != NULL;
        (*total)++;
        *became += sender;
        json_array_append_new(out, json_pack("{s:s, s:O, s:b}", "id", key, "messages", v,
                                             "became_sender", sender));
    }
    return out;
}

/* Account actions and case events in time order, plus the first and the
 * last message. */
static json_t *timeline(report *r) {
    json_t *out = json_array(), *e;
    size_t i, n = json_array_size(r->entries);
    json_array_foreach(r->entries, i, e) {
        const char *kind = jstr(e, "kind");
        bool edge = i == 0 || i + 1 == n;
        if (!edge && strcmp(kind, "account_action")) continue;
        json_array_append_new(out, json_pack("{s:I, s:s, s:s?, s:s?, s:I, s:s?}", "ts",
            (json_int_t)jint(e, "ts"), "event",
            !strcmp(kind, "account_action") ? jstr(e, "action")
            : i == 0 ? "first message" : "last message",
            "account", jstr(e, "account"), "message_action", jstr(e, "message_action"),
            "seq", (json_int_t)jint(e, "seq"), "hash", jstr(e, "hash")));
    }
    json_array_foreach(r->cases, i, e)
        json_array_append_new(out, json_pack("{s:I, s:s, s:s?, s:s?, s:I, s:s?, s:s?}", "ts",
            (json_int_t)jint(e, "ts"), "event", jstr(e, "kind"), "account", jstr(e, "account"),
            "action", jstr(e, "action"), "seq", (json_int_t)jint(e, "seq"),
            "hash", jstr(e, "hash"), "note", jstr(e, "note")));
    return out;
}

/* Messages per time bucket (about 1 h; at most 400 buckets). */
static json_t *histogram(report *r, int64_t *bucket_ms) {
    int64_t span = r->last_ts - r->first_ts + 1, b = 3600000;
    while (span / b > 400) b *= 2;
    size_t nb = (size_t)(span / b) + 1;
    json_int_t *msgs = calloc(nb, sizeof *msgs), *locks = calloc(nb, sizeof *locks);
    json_t *e, *out = json_array();
    size_t i;
    json_array_foreach(r->entries, i, e) {
        size_t k = (size_t)((jint(e, "ts") - r->first_ts) / b);
        if (k >= nb) continue;
        msgs[k] += (json_int_t)json_array_size(json_object_get(e, "messages"));
        locks[k] += !strcmp(jstr(e, "kind"), "account_action");
    }
    for (i = 0; i < nb; i++)
        json_array_append_new(out, json_pack("{s:I, s:I, s:I}", "start", (json_int_t)(r->first_ts + (int64_t)i * b),
                                             "messages", msgs[i], "account_actions", locks[i]));
    free(msgs);
    free(locks);
    *bucket_ms = b;
    return out;
}

/* ------------------------------------------------------------ samples */

typedef struct sample_fill {
    json_t *samples;   /* objects with text_hash; "text" filled in */
} sample_fill;

static int fill_text_cb(void *ud, const char *line, size_t n, uint64_t lineno) {
    sample_fill *f = ud;
    json_t *s;
    size_t i;
    if (n < 6 + SG_EV_HEX_LEN) return 0;
    json_array_foreach(f->samples, i, s) {
        const char *h = jstr(s, "text_hash");
        if (!h || json_object_get(s, "text") || memcmp(line + 6, h, SG_EV_HEX_LEN)) continue;
        json_t *o = json_loadb(line, n, 0, NULL);
        json_t *t = json_object_get(o, "text");
        json_object_set(s, "text", t ? t : json_string("[not UTF-8: see texts.jsonl]"));
        json_decref(o);
    }
    return 0;
}

static json_t *samples(report *r) {
    json_t *out = json_array(), *seen = json_object(), *e, *m;
    size_t i, k;
    for (int pass = 0; pass < 2; pass++)
        json_array_foreach(r->entries, i, e) {
            if (json_array_size(out) >= MAX_SAMPLES) break;
            if ((pass == 0) != !strcmp(jstr(e, "kind"), "account_action")) continue;
            json_array_foreach(json_object_get(e, "messages"), k, m) {
                const char *h = jstr(m, "text_hash");
                if (!h || json_object_get(seen, h) || json_array_size(out) >= MAX_SAMPLES) continue;
                json_object_set_new(seen, h, json_true());
                json_t *s = json_deep_copy(m);
                json_object_set_new(s, "seq", json_integer(jint(e, "seq")));
                json_array_append_new(out, s);
            }
        }
    json_decref(seen);
    char path[4200];
    snprintf(path, sizeof path, "%s/texts.jsonl", r->evdir);
    sample_fill f = {out};
    sg__evidence_each(path, fill_text_cb, &f);
    json_array_foreach(out, i, m)
        if (!json_object_get(m, "text")) json_object_set_new(m, "text", json_string("[redacted]"));
    return out;
}

/* ------------------------------------------------------------ segment */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

typedef struct seg {
    report *r;
    FILE *out;
    bool done;
    uint64_t first_seq, last_seq, checkpoint_seq;
} seg;

static int segment_cb(void *ud, const char *line, size_t n, uint64_t lineno) {
    seg *s = ud;
    if (lineno < s->r->first_line || s->done) return s->done;
    sg_ev_line l;
    if (!sg__evidence_parse_line(line, n, &l)) return 0;
    bool keep = l.checkpoint ||
                bsearch(&l.seq, s->r->seqs, s->r->nseqs, sizeof l.seq, cmp_u64) != NULL;
    char *el = NULL;
    if (keep) fwrite(line, 1, n, s->out);
    else if (!sg__evidence_elide(line, n, &el)) fputs(el, s->out);
    sg__free(el);
    fputc('\n', s->out);
    if (lineno == s->r->first_line) s->first_seq = l.seq;
    s->last_seq = l.seq;
    if (l.checkpoint && lineno > s->r->last_line) s->done = true, s->checkpoint_seq = l.seq;
    return 0;
}

static int write_segment(report *r, const char *outdir, json_t *proof) {
    char in[4200], out[4200];
    snprintf(in, sizeof in, "%s/log.jsonl", r->evdir);
    snprintf(out, sizeof out, "%s/segment.jsonl", outdir);
    qsort(r->seqs, r->nseqs, sizeof *r->seqs, cmp_u64);
    seg s = {.r = r, .out = fopen(out, "w")};
    if (!s.out) return -1;
    sg__evidence_each(in, segment_cb, &s);
    if (fclose(s.out)) return -1;
    json_object_set_new(proof, "segment_file", json_string("segment.jsonl"));
    json_object_set_new(proof, "first_seq", json_integer((json_int_t)s.first_seq));
    json_object_set_new(proof, "last_seq", json_integer((json_int_t)s.last_seq));
    json_object_set_new(proof, "signed", json_boolean(s.done));
    json_object_set_new(proof, "verify",
                        json_string("spimguard evidence verify --log segment.jsonl --segment "
                                    "--pubkey signing.pub"));
    return 0;
}

static int copy_pubkey(const report *r, const char *outdir, json_t *proof) {
    char in[4200], out[4200], buf[256] = "";
    snprintf(in, sizeof in, "%s/signing.pub", r->evdir);
    snprintf(out, sizeof out, "%s/signing.pub", outdir);
    FILE *f = fopen(in, "r");
    if (!f) return 0; /* a key kept elsewhere: the operator ships it */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    f = fopen(out, "w");
    if (!f || fputs(buf, f) < 0 || fclose(f)) return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    unsigned char pk[32];
    char id[17];
    if (strlen(buf) == 64 && sg__evidence_unhex(buf, pk, 32)) {
        sg__evidence_key_id(pk, id);
        json_object_set_new(proof, "pubkey", json_string(buf));
        json_object_set_new(proof, "key_id", json_string(id));
    }
    return 0;
}

/* ------------------------------------------------------------ entries */

static json_t *entry_rows(report *r) {
    json_t *out = json_array(), *e, *all = json_array();
    size_t i;
    json_array_extend(all, r->entries);
    json_array_extend(all, r->cases);
    json_array_foreach(all, i, e) {
        json_t *m = json_array_get(json_object_get(e, "messages"), 0);
        json_array_append_new(out, json_pack("{s:I, s:s?, s:s?, s:I, s:s?, s:s?, s:s?, s:s?, s:s?}",
            "seq", (json_int_t)jint(e, "seq"), "hash", jstr(e, "hash"), "kind", jstr(e, "kind"),
            "ts", (json_int_t)jint(e, "ts"), "account", jstr(e, "account"),
            "action", jstr(e, "action"), "message_action", jstr(e, "message_action"),
            "to", m ? jstr(m, "to") : NULL, "text_hash", m ? jstr(m, "text_hash") : NULL));
    }
    json_decref(all);
    return out;
}

/* ------------------------------------------------------------ building */

static json_t *build(report *r, const char *outdir, int64_t *bucket) {
    size_t nv, became, compromised = 0, abusive = 0, i;
    json_t *senders = senders_sorted(r), *s, *proof = json_object();
    json_array_foreach(senders, i, s) {
        compromised += !strcmp(jstr(s, "role"), "compromised");
        abusive += !strcmp(jstr(s, "role"), "abusive");
    }
    json_t *victims = victims_list(r, &nv, &became);
    if (write_segment(r, outdir, proof) || copy_pubkey(r, outdir, proof)) {
        json_decref(senders), json_decref(victims), json_decref(proof);
        return NULL;
    }
    json_t *rep = json_pack("{s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
        "campaign", r->campaign, "format", "spimguard-campaign-report/1",
        "generated_ms", (json_int_t)time(NULL) * 1000, "summary",
        "entries", (json_int_t)json_array_size(r->entries), "first_ts", (json_int_t)r->first_ts,
        "last_ts", (json_int_t)r->last_ts, "senders", (json_int_t)json_array_size(senders),
        "compromised_senders", (json_int_t)compromised, "abusive_senders", (json_int_t)abusive,
        "victims", (json_int_t)nv, "victims_who_became_senders", (json_int_t)became);
    json_object_set_new(rep, "timeline", timeline(r));
    json_object_set_new(rep, "histogram", histogram(r, bucket));
    json_object_set_new(rep, "senders", senders);
    json_object_set_new(rep, "victims", victims);
    json_object_set_new(rep, "urls", judge_hosts(r));
    json_object_set_new(rep, "samples", samples(r));
    json_object_set_new(rep, "entries", entry_rows(r));
    json_object_set_new(rep, "proof", proof);
    return rep;
}

/* ------------------------------------------------------------ output */

static int write_json(const json_t *rep, const char *outdir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/report.json", outdir);
    return json_dump_file(rep, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
}

static void report_free(report *r) {
    json_decref(r->entries);
    json_decref(r->cases);
    json_decref(r->accounts);
    json_decref(r->victims);
    json_decref(r->hosts);
    free(r->seqs);
    sg__urls_free(r->urls);
}

int sg_evidence_export(const char *evdir, const char *campaign, const char *outdir,
                       const sg_listfiles *lists, char *err, size_t errlen) {
    report r = {.campaign = campaign, .evdir = evdir, .entries = json_array(),
                .cases = json_array(), .accounts = json_object(), .victims = json_object(),
                .hosts = json_object()};
    char log[4200], html[4200], svg[4200];
    snprintf(log, sizeof log, "%s/log.jsonl", evdir);
    sg_listfiles none = {0};
    int rc = sg__urls_new(NULL, lists ? lists : &none, &r.urls, err, errlen);
    if (rc) { report_free(&r); return EXIT_FATAL; }
    if (sg__evidence_each(log, collect_cb, &r)) {
        snprintf(err, errlen, "%s: %s", log, strerror(errno));
        report_free(&r);
        return EXIT_FATAL;
    }
    if (!json_array_size(r.entries)) {
        snprintf(err, errlen, "no evidence entry of campaign %s in %s", campaign, log);
        report_free(&r);
        return EXIT_BADLINES;
    }
    filter_cases(&r);
    if (mkdir(outdir, 0755) && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", outdir, strerror(errno));
        report_free(&r);
        return EXIT_FATAL;
    }
    int64_t bucket = 0;
    json_t *rep = build(&r, outdir, &bucket);
    snprintf(html, sizeof html, "%s/report.html", outdir);
    snprintf(svg, sizeof svg, "%s/graph.svg", outdir);
    rc = !rep || write_json(rep, outdir) || sg_evidence_write_html(rep, html, svg, bucket);
    if (rc) snprintf(err, errlen, "%s: cannot write the report: %s", outdir, strerror(errno));
    json_decref(rep);
    report_free(&r);
    return rc ? EXIT_FATAL : EXIT_OK;
}
