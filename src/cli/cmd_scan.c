/*
 * cmd_scan.c -- `spimguard scan`: judge a JSONL stream of messages, one
 * verdict per line on stdout.  A bad line gets a line-numbered error on
 * stderr and the stream goes on; the exit status then says some failed.
 * State (sender profiles, campaigns) is kept across the whole run, in
 * memory unless --store / --data-dir name a persistent store; then each
 * verdict is written (and flushed) only after its state was committed.
 * A check runs in the daemon's two phases: a chunk's messages are prepared
 * on two threads (scan_prep.c), then judged in input order.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "behavior.h"
#include "commands.h"
#include "group.h"
#include "scan_prep.h"

static void scan_usage(FILE *f) {
    fprintf(f,
        "usage: spimguard scan [options] [FILE]   (FILE or - for stdin; default stdin)\n"
        "Reads one JSON message per line ({\"from\",\"to\",\"text\", optional \"id\",\"ts\",\n"
        "\"contact\",\"client\",\"client_ip\",\"lang\"}) and writes one verdict per line.\n\n"
        "  --model FILE      content model (default: the model built with spimguard)\n"
        "  --brands FILE     protected brand domains (replaces the shipped list)\n"
        "  --allow FILE      extra allow-listed domains\n"
        "  --blocklist FILE  extra blocked domains or URLs\n"
        "  --max-text BYTES  longest accepted message text (default 65536)\n"
        "  --evidence DIR    append every account action to the evidence log in DIR\n"
        "  --policy FILE     enforcement policy, key = value (docs/enforcement.md)\n"
        "  --store URI       state store: memory: (default), lmdb:DIR, redis://HOST[:PORT],\n"
        "                    redis-cluster://HOST:PORT[,...] (docs/storage.md)\n"
        "  --data-dir DIR    keep the state in lmdb:DIR/state (as `serve --data-dir`)\n"
        "  --human           readable lines instead of JSON\n"
        "  --summary         print counts by action and label on stderr at the end\n"
        "  --quiet           no per-line errors on stderr (still counted)\n\n"
        "exit: 0 all lines judged; 1 some lines rejected; 2 usage; 3 fatal\n");
}

typedef struct scan_opts {
    sg_options eng;
    const char *model, *input, *data_dir;
    bool human, summary, quiet;
    bool durable;           /* a persistent store: flush every verdict */
    char store_uri[4200];
} scan_opts;

/* --store wins; --data-dir DIR means lmdb:DIR/state (the layout of
 * `serve --data-dir`); else memory. */
static int scan_store(scan_opts *o) {
    if (!o->store_uri[0] && o->data_dir) {
        if (mkdir(o->data_dir, 0700) && errno != EEXIST) {
            sg_cli_error("scan", "--data-dir %s: %s", o->data_dir, strerror(errno));
            return EXIT_FATAL;
        }
        snprintf(o->store_uri, sizeof o->store_uri, "lmdb:%s/state", o->data_dir);
    }
    if (o->store_uri[0]) o->eng.store_uri = o->store_uri;
    o->durable = o->store_uri[0] && strcmp(o->store_uri, "memory:") != 0;
    return 0;
}

static int parse_scan_args(int argc, char **argv, scan_opts *o) {
    static const struct option lo[] = {
        {"model", 1, 0, 'm'}, {"brands", 1, 0, 'b'}, {"allow", 1, 0, 'a'},
        {"blocklist", 1, 0, 'B'}, {"max-text", 1, 0, 'x'}, {"human", 0, 0, 'H'},
        {"summary", 0, 0, 's'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'},
        {"evidence", 1, 0, 'E'}, {"policy", 1, 0, 'P'}, {"store", 1, 0, 'S'},
        {"data-dir", 1, 0, 'D'}, {0, 0, 0, 0}};
    int c;
    memset(o, 0, sizeof *o);
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'b': o->eng.brands_file = optarg; break;
        case 'a': o->eng.allow_file = optarg; break;
        case 'B': o->eng.blocklist_file = optarg; break;
        case 'x': o->eng.max_text_bytes = strtoul(optarg, NULL, 10);
                  if (!o->eng.max_text_bytes || o->eng.max_text_bytes > (16u << 20)) {
                      sg_cli_error("scan", "--max-text takes 1..16777216 bytes");
                      return EXIT_USAGE;
                  }
                  break;
        case 'E': o->eng.evidence_dir = optarg; break;
        case 'P': o->eng.policy_file = optarg; break;
        case 'S': snprintf(o->store_uri, sizeof o->store_uri, "%s", optarg); break;
        case 'D': o->data_dir = optarg; break;
        case 'H': o->human = true; break;
        case 's': o->summary = true; break;
        case 'q': o->quiet = true; break;
        case 'h': scan_usage(stdout); return -1;
        default: scan_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) o->input = argv[optind++];
    if (optind < argc) { scan_usage(stderr); return EXIT_USAGE; }
    return scan_store(o);
}

typedef struct tally {
    size_t lines, judged, bad, by_action[4], by_label[SG_LABEL_COUNT_];
} tally;

/* Bytes of the longest prefix of s of at most max bytes that ends on a
 * character boundary, stopping at a line break. */
static size_t utf8_prefix(const char *s, size_t max) {
    size_t n = 0;
    while (s[n] && s[n] != '\n' && n < max) n++;
    if (s[n] && s[n] != '\n')
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return n;
}

static void print_human(const sg_verdict *v, const sg_message *m) {
    char labels[256] = "";
    for (unsigned i = 0; i < SG_LABEL_COUNT_; i++)
        if (sg_verdict_labels(v) & (1u << i)) {
            if (labels[0]) strcat(labels, ",");
            strcat(labels, sg_label_name(1u << i));
        }
    printf("%-7s %.3f %-24s %s: %.*s\n", sg_action_name(sg_verdict_action(v)),
           sg_verdict_score(v), labels[0] ? labels : "-",
           sg_message_id(m) ? sg_message_id(m) : sg_message_from(m),
           (int)utf8_prefix(sg_message_text(m), 70), sg_message_text(m));
    if (sg_verdict_action(v) == SG_ACTION_DELIVER &&
        sg_verdict_account_action(v) == SG_ACCOUNT_NONE)
        return; /* the reasons of ordinary traffic are in the JSON form */
    for (size_t i = 0, shown = 0; i < sg_verdict_reason_count(v) && shown < 5; i++) {
        const sg_reason *r = sg_verdict_reason(v, i);
        if ((r->weight < 0 && strcmp(r->code, "CONTENT") != 0) || r->weight == 0)
            continue; /* what speaks for a message we stop is in the JSON */
        shown++;
        printf("        %+6.2f %s: %s\n", r->weight, r->code, r->detail);
    }
    if (sg_verdict_account_action(v) != SG_ACCOUNT_NONE)
        printf("        account: %s\n", sg_account_action_name(sg_verdict_account_action(v)));
}

static void count(tally *t, const sg_verdict *v) {
    t->judged++;
    t->by_action[sg_verdict_action(v)]++;
    for (unsigned i = 0; i < SG_LABEL_COUNT_; i++)
        if (sg_verdict_labels(v) & (1u << i)) t->by_label[i]++;
}

/* Lines read but not judged yet, in input order.  From a file, up to
 * SCAN_CHUNK of them are read before any is judged: the chunk's prepare
 * phase (sg__check_prepare: normalize, features, model, URLs, fingerprint)
 * runs on two threads (scan_prep.c), then its messages are judged in
 * order.  With a persistent store that gains from it (sg__group_worth)
 * they share one store commit and one read-ahead of their first reads, and
 * their verdicts are written after the commit; else each is judged on its
 * own, and a rejected line's error is kept in the chunk and reported in
 * its turn (stderr reads as when every line is judged at once).  From a
 * pipe every message is judged (and its verdict flushed) at once. */
#define SCAN_CHUNK 256
typedef struct chunk {
    sg_message *m[SCAN_CHUNK];  /* NULL: a rejected line (defer) */
    size_t lineno[SCAN_CHUNK];
    char err[SCAN_CHUNK][256];  /* what was wrong with a rejected line */
    sg_ctx *c;                  /* cap contexts, recycled (sg__ctx_recycle) */
    size_t n, cap;
    bool grouped;               /* one store group per chunk */
    bool defer;                 /* rejected lines are entries of the chunk */
} chunk;

static void emit(const scan_opts *o, const sg_verdict *v, const sg_message *m, tally *t) {
    if (o->human) {
        print_human(v, m);
    } else {
        char *js = sg_verdict_to_json(v);
        if (js) puts(js);
        else fprintf(stderr, "spimguard scan: out of memory writing the verdict of %s\n",
                     sg_message_id(m) ? sg_message_id(m) : "a message");
        free(js);
    }
    count(t, v);
}

/* Report a rejected line: now, or in its turn when the chunk defers. */
static void reject(const scan_opts *o, const char *name, size_t lineno, chunk *ch,
                   const char *why) {
    if (ch->defer) {
        ch->m[ch->n] = NULL;
        ch->lineno[ch->n] = lineno;
        snprintf(ch->err[ch->n++], sizeof ch->err[0], "%s", why);
    } else if (!o->quiet) {
        fprintf(stderr, "%s:%zu: %s\n", name, lineno, why);
    }
}

/* Parse one input line into the chunk; returns 0 or -1 for a rejected
 * line, -2 fatal. */
static int scan_line(const scan_opts *o, sg_lines *r, size_t len, chunk *ch) {
    char err[256];
    sg_message *m = NULL;
    int rc = r->too_long ? SG_ETOOBIG
                         : sg_message_parse_json(r->buf, len, o->eng.max_text_bytes, 0, &m, err, sizeof err);
    if (rc) {
        if (r->too_long) snprintf(err, sizeof err, "line longer than %zu bytes; skipped", r->cap);
        reject(o, r->name, r->lineno, ch, err);
        return rc == SG_ENOMEM ? -2 : -1;
    }
    ch->m[ch->n] = m;
    ch->lineno[ch->n++] = r->lineno;
    return 0;
}

/* All of the chunk in one store group; false when the group broke or its
 * commit failed (then nothing of it was kept or written). */
static bool judge_grouped(sg_engine *eng, const scan_opts *o, chunk *ch, tally *t) {
    sg_verdict *v[SCAN_CHUNK] = {0};
    sg_check_group g;
    bool ok = sg__group_begin(&g, eng) == SG_OK;
    /* the first reads of all the messages in one round trip (Redis) */
    if (ok && sg__behav_prefetch_batch(eng, ch->c, ch->n) != SG_OK) ok = false;
    for (size_t i = 0; ok && i < ch->n; i++) ok = sg__group_judge(&g, &ch->c[i], &v[i]) == SG_OK;
    if (ok) ok = sg__group_commit(&g) == SG_OK;
    else sg__group_abort(&g); /* safe when aborted or never opened */
    for (size_t i = 0; i < ch->n; i++) {
        if (ok) emit(o, v[i], ch->m[i], t);
        sg_verdict_free(v[i]);
    }
    return ok;
}

/* Empty the chunk: free its messages, keep its contexts for the next. */
static void chunk_clear(chunk *ch) {
    for (size_t i = 0; i < ch->n; i++) {
        sg__ctx_recycle(&ch->c[i]);
        sg_message_free(ch->m[i]);
    }
    ch->n = 0;
}

/* Prepare and judge the chunk's messages, in order; returns how many were
 * rejected, or -2 fatal.  After a broken group each message is judged
 * again on its own (its prepared context is kept). */
static int judge_chunk(sg_engine *eng, sg_scan_prep *prep, const scan_opts *o,
                       const char *name, chunk *ch, tally *t) {
    int bad = 0;
    sg_scan_prep_all(prep, eng, ch->m, ch->c, ch->n);
    bool done = ch->grouped && ch->n > 1 && judge_grouped(eng, o, ch, t);
    for (size_t i = 0; !done && i < ch->n && bad >= 0; i++) { /* one by one */
        sg_verdict *v = NULL;
        if (!ch->m[i]) { /* a rejected line, counted when it was read */
            if (!o->quiet) fprintf(stderr, "%s:%zu: %s\n", name, ch->lineno[i], ch->err[i]);
            continue;
        }
        int rc = sg__check_judge(eng, &ch->c[i], &v);
        if (rc) {
            if (!o->quiet) fprintf(stderr, "%s:%zu: %s\n", name, ch->lineno[i], sg_engine_errmsg(eng));
            bad = rc == SG_ENOMEM ? -2 : bad + 1;
            continue;
        }
        emit(o, v, ch->m[i], t);
        sg_verdict_free(v);
        if (o->durable) fflush(stdout); /* committed: let the reader see it */
    }
    if (o->durable) fflush(stdout);
    chunk_clear(ch);
    return bad;
}

/* A chunk of SCAN_CHUNK lines from a file, else of one; NULL when out of
 * memory. */
static chunk *chunk_new(sg_engine *eng, const scan_opts *o, const sg_lines *r) {
    chunk *ch = sg__calloc(1, sizeof *ch);
    if (!ch) return NULL;
    ch->cap = r->total_bytes ? SCAN_CHUNK : 1;
    ch->grouped = ch->cap > 1 && o->durable && sg__group_worth(eng);
    ch->defer = ch->cap > 1 && !ch->grouped;
    ch->c = sg__calloc(ch->cap, sizeof *ch->c);
    if (!ch->c) { sg__free(ch); return NULL; }
    return ch;
}

static void chunk_free(chunk *ch) {
    if (!ch) return;
    for (size_t i = 0; i < ch->n; i++) sg_message_free(ch->m[i]);
    for (size_t i = 0; i < ch->cap; i++) sg__ctx_free(&ch->c[i]);
    sg__free(ch->c);
    sg__free(ch);
}

static void print_summary(const tally *t) {
    fprintf(stderr, "scanned %zu lines: %zu judged, %zu rejected\n", t->lines, t->judged, t->bad);
    fprintf(stderr, "actions:");
    for (int a = 0; a < 4; a++) fprintf(stderr, " %s %zu", sg_action_name(a), t->by_action[a]);
    fprintf(stderr, "\nlabels: ");
    for (unsigned i = 0; i < SG_LABEL_COUNT_; i++)
        fprintf(stderr, " %s %zu", sg_label_name(1u << i), t->by_label[i]);
    fprintf(stderr, "\n");
}

/* Read, judge and write the whole input; returns 1 when a fatal error
 * stopped it.  A line that runs out of memory stops the scan; a chunk
 * that defers its errors is judged up to it first (as line by line). */
static int scan_all(sg_engine *eng, const scan_opts *o, sg_lines *r, chunk *ch, tally *t) {
    sg_scan_prep *prep = ch->cap > 1 ? sg_scan_prep_start(eng) : NULL;
    size_t len;
    int fatal = 0;
    while (!fatal && sg_lines_next(r, &len) == 1) {
        if (len == 0) continue;
        t->lines++;
        int s = scan_line(o, r, len, ch);
        if (s == -1) t->bad++;
        if (s == -2) fatal = 1;
        if ((!fatal && ch->n == ch->cap) || (fatal && ch->defer)) {
            int b = judge_chunk(eng, prep, o, r->name, ch, t);
            if (b < 0) fatal = 1;
            else t->bad += (size_t)b;
        }
        if ((t->lines & 1023) == 0) { fflush(stdout); sg_progress("scan", r->bytes_read, r->total_bytes); }
    }
    if (!fatal) {
        int b = judge_chunk(eng, prep, o, r->name, ch, t);
        if (b < 0) fatal = 1;
        else t->bad += (size_t)b;
    }
    sg_scan_prep_stop(prep);
    return fatal;
}

int sg_cmd_scan(int argc, char **argv) {
    scan_opts o;
    int rc = parse_scan_args(argc, argv, &o);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    sg_engine *eng = sg_cli_engine(&o.eng, o.model, true);
    if (!eng) return EXIT_FATAL;
    size_t max_text = o.eng.max_text_bytes ? o.eng.max_text_bytes : 65536;
    sg_lines r;
    if (sg_lines_open(&r, o.input, max_text * 6 + 65536) != 0) {
        sg_cli_error("scan", "%s: cannot open: %s", o.input, strerror(errno));
        sg_engine_free(eng);
        return EXIT_FATAL;
    }
    tally t = {0};
    chunk *ch = chunk_new(eng, &o, &r);
    int fatal = ch ? scan_all(eng, &o, &r, ch, &t) : 1;
    if (!ch) sg_cli_error("scan", "out of memory");
    chunk_free(ch);
    sg_progress_end();
    fflush(stdout);
    if (o.summary) print_summary(&t);
    sg_lines_close(&r);
    sg_engine_free(eng);
    if (fatal) return EXIT_FATAL;
    return t.bad ? EXIT_BADLINES : EXIT_OK;
}
