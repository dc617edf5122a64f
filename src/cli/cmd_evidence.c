/*
 * cmd_evidence.c -- `spimguard evidence`: the operator's and the third
 * party's tools for the evidence log (src/lib/evidence.h): verify (find
 * the first edited, removed, inserted or reordered entry, check the
 * Ed25519 checkpoints with a public key), redact (remove message texts,
 * chain intact), export (a campaign report: evidence_report.c), keygen and
 * show.  docs/enforcement.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "evidence.h"
#include "evidence_cli.h"
#include "policy_config.h"

#define MAX_KEYS 8
#define MAX_REFS 4096

static void ev_usage(FILE *f) {
    fprintf(f,
        "usage: spimguard evidence verify [--data-dir DIR | --dir EVDIR | --log FILE]\n"
        "                                 [--pubkey FILE]... [--segment] [--json]\n"
        "       spimguard evidence redact [--data-dir DIR | --dir EVDIR] --reason TEXT\n"
        "                                 (--text-hash H | --message ID | --account ID)...\n"
        "                                 [--by NAME]\n"
        "       spimguard evidence export --campaign ID --out OUTDIR\n"
        "                                 [--data-dir DIR | --dir EVDIR]\n"
        "                                 [--brands F] [--allow F] [--blocklist F]\n"
        "       spimguard evidence show   [--data-dir DIR | --dir EVDIR] [--account ID]\n"
        "                                 [--campaign ID] [--kind K] [--last N]\n"
        "       spimguard evidence keygen --out PREFIX   (PREFIX.key, PREFIX.pub)\n"
        "       spimguard evidence policy-keys [--markdown]   (the policy file's keys)\n\n"
        "Instead of --data-dir, --dir or --log, one path may be given alone: a\n"
        "data directory, an evidence directory or a log file.\n"
        "The evidence log lives in DIR/evidence (DIR = the daemon's --data-dir) or\n"
        "in the directory the policy's evidence_dir names (--dir).\n"
        "verify: checks the hash chain and every signed checkpoint; names the\n"
        "  first bad entry (edited, removed, inserted, reordered, torn).  Without\n"
        "  --pubkey the key in the log's directory is used: a third party should\n"
        "  pass the public key the operator published.  --segment: FILE is a\n"
        "  segment cut from a log (as in an export), not a whole log.\n"
        "redact: removes message texts kept beside the chain (the chain still\n"
        "  verifies) and logs a redaction entry; stop the daemon first.\n"
        "export: writes report.json, report.html, graph.svg, segment.jsonl and\n"
        "  signing.pub about one campaign into OUTDIR.\n\n"
        "exit: 0 ok; 1 the log failed verification / nothing found; 2 usage; 3 fatal\n");
}

typedef struct ev_opts {
    const char *data_dir, *dir, *log, *campaign, *out, *reason, *by, *account, *kind;
    const char *pubkeys[MAX_KEYS];
    int npubkeys;
    const char *hashes[MAX_REFS], *messages[MAX_REFS], *accounts[MAX_REFS];
    int nhashes, nmessages, naccounts;
    long last;
    bool segment, json, markdown;
    sg_listfiles lists;
    char evdir[4096];
} ev_opts;

static int add_to(const char **v, int *n, const char *s) {
    if (*n >= MAX_REFS) return EXIT_USAGE;
    v[(*n)++] = s;
    return 0;
}

/* One positional path instead of --data-dir/--dir/--log: a daemon's data
 * directory (it holds evidence/), an evidence directory, or a log file. */
static int take_positional(ev_opts *o, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        sg_cli_error("evidence", "%s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    if (!S_ISDIR(st.st_mode)) { o->log = path; return 0; }
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/evidence", path);
    if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) o->data_dir = path;
    else o->dir = path;
    return 0;
}

static int parse_args(int argc, char **argv, ev_opts *o) {
    static const struct option lo[] = {
        {"data-dir", 1, 0, 'd'}, {"dir", 1, 0, 'D'}, {"log", 1, 0, 'l'},
        {"pubkey", 1, 0, 'p'}, {"segment", 0, 0, 's'}, {"json", 0, 0, 'j'},
        {"campaign", 1, 0, 'c'}, {"out", 1, 0, 'o'}, {"reason", 1, 0, 'r'},
        {"by", 1, 0, 'b'}, {"text-hash", 1, 0, 'H'}, {"message", 1, 0, 'm'},
        {"account", 1, 0, 'a'}, {"kind", 1, 0, 'k'}, {"last", 1, 0, 'n'},
        {"brands", 1, 0, 'B'}, {"allow", 1, 0, 'A'}, {"blocklist", 1, 0, 'L'},
        {"markdown", 0, 0, 'M'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c, bad = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'd': o->data_dir = optarg; break;
        case 'D': o->dir = optarg; break;
        case 'l': o->log = optarg; break;
        case 'p': if (o->npubkeys < MAX_KEYS) o->pubkeys[o->npubkeys++] = optarg; break;
        case 's': o->segment = true; break;
        case 'j': o->json = true; break;
        case 'c': o->campaign = optarg; break;
        case 'o': o->out = optarg; break;
        case 'r': o->reason = optarg; break;
        case 'b': o->by = optarg; break;
        case 'H': bad |= add_to(o->hashes, &o->nhashes, optarg); break;
        case 'm': bad |= add_to(o->messages, &o->nmessages, optarg); break;
        case 'a': o->account = optarg; bad |= add_to(o->accounts, &o->naccounts, optarg); break;
        case 'k': o->kind = optarg; break;
        case 'n': o->last = atol(optarg); break;
        case 'B': o->lists.brands = optarg; break;
        case 'A': o->lists.allow = optarg; break;
        case 'L': o->lists.blocklist = optarg; break;
        case 'M': o->markdown = true; break;
        case 'h': ev_usage(stdout); return -1;
        default: ev_usage(stderr); return EXIT_USAGE;
        }
    }
    if (bad) { ev_usage(stderr); return EXIT_USAGE; }
    if (optind < argc && !o->data_dir && !o->dir && !o->log && optind == argc - 1)
        return take_positional(o, argv[optind]);
    if (optind < argc) {
        bool path_given = o->data_dir || o->dir || o->log;
        sg_cli_error("evidence", "unexpected argument '%s' (see --help)",
                     argv[path_given ? optind : optind + 1]);
        return EXIT_USAGE;
    }
    return 0;
}

/* The evidence directory from --dir or --data-dir. */
static int resolve_dir(ev_opts *o, const char *cmd) {
    if (o->dir) snprintf(o->evdir, sizeof o->evdir, "%s", o->dir);
    else if (o->data_dir) snprintf(o->evdir, sizeof o->evdir, "%s/evidence", o->data_dir);
    else {
        sg_cli_error("evidence", "%s: give --data-dir DIR or --dir EVDIR", cmd);
        return EXIT_USAGE;
    }
    return 0;
}

/* ------------------------------------------------------------ verify */

static int load_keys(ev_opts *o, unsigned char (*pk)[32], int *n, const char **used) {
    char err[512], def[4200];
    *n = 0;
    *used = "";
    for (int i = 0; i < o->npubkeys; i++) {
        if (sg__evidence_read_pubkey(o->pubkeys[i], pk[*n], err, sizeof err)) {
            sg_cli_error("evidence", "%s", err);
            return EXIT_FATAL;
        }
        (*n)++;
        *used = "given";
    }
    snprintf(def, sizeof def, "%s/signing.pub", o->evdir);
    if (!*n && o->evdir[0] && access(def, R_OK) == 0 &&
        !sg__evidence_read_pubkey(def, pk[0], err, sizeof err))
        *n = 1, *used = "from the log's directory (a third party should pass --pubkey)";
    return 0;
}

static void print_verify_json(const char *log, const sg_ev_report *r, uint64_t texts,
                              uint64_t bad_texts) {
    json_t *o = json_pack("{s:s, s:b, s:s, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:I, s:I}",
        "log", log, "ok", r->fault == SG_EV_OK, "fault", sg__evidence_fault_name(r->fault),
        "line", (json_int_t)r->bad_line, "expected_seq", (json_int_t)r->expected_seq,
        "found_seq", (json_int_t)r->found_seq, "detail", r->detail,
        "entries", (json_int_t)r->entries, "first_seq", (json_int_t)r->first_seq,
        "elided", (json_int_t)r->elided, "checkpoints", (json_int_t)r->checkpoints,
        "signatures_ok", (json_int_t)r->signatures_ok,
        "last_signed_seq", (json_int_t)r->last_signed_seq,
        "signatures_checked", r->signatures_checked, "head", r->head,
        "texts", (json_int_t)texts, "texts_mismatched", (json_int_t)bad_texts);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s) puts(s);
    free(s);
    json_decref(o);
}

static void print_verify_text(const char *log, const sg_ev_report *r, const char *keys,
                              uint64_t texts, uint64_t bad_texts, bool have_texts) {
    bool ok = r->fault == SG_EV_OK;
    printf("evidence log %s: %s\n", log, ok ? "OK" : "FAILED");
    if (!ok)
        printf("  first bad entry  line %llu: %s -- %s\n", (unsigned long long)r->bad_line,
               sg__evidence_fault_name(r->fault), r->detail);
    printf("  entries          %llu %s(seq %llu..%llu)%s\n", (unsigned long long)r->entries,
           ok ? "" : "verified before it ", (unsigned long long)r->first_seq,
           (unsigned long long)(r->first_seq + (r->entries ? r->entries - 1 : 0)),
           r->elided ? ", some elided" : "");
    if (r->signatures_checked)
        printf("  checkpoints      %llu, %llu signatures good (key %s); last signed entry %lld; "
               "%llu entries after it not signed yet\n", (unsigned long long)r->checkpoints,
               (unsigned long long)r->signatures_ok, keys, (long long)r->last_signed_seq,
               (unsigned long long)r->unsigned_tail);
    else
        printf("  checkpoints      %llu, signatures NOT checked (no public key)\n",
               (unsigned long long)r->checkpoints);
    printf("  head             %s\n", r->head[0] ? r->head : "-");
    if (have_texts)
        printf("  texts            %llu kept beside the chain, %llu do not match their hash\n",
               (unsigned long long)texts, (unsigned long long)bad_texts);
}

static int cmd_verify(ev_opts *o) {
    char log[4200];
    if (o->log) snprintf(log, sizeof log, "%s", o->log), o->evdir[0] = '\0';
    else if (resolve_dir(o, "verify")) return EXIT_USAGE;
    else snprintf(log, sizeof log, "%s/log.jsonl", o->evdir);
    unsigned char pk[MAX_KEYS][32];
    int npk;
    const char *keys;
    if (load_keys(o, pk, &npk, &keys)) return EXIT_FATAL;
    sg_ev_report r;
    int rc = sg__evidence_verify(log, (const unsigned char(*)[32])pk, (size_t)npk, o->segment, &r);
    if (rc == SG_EIO || rc == SG_ENOMEM) {
        sg_cli_error("evidence", "%s", rc == SG_EIO ? r.detail : "out of memory");
        return EXIT_FATAL;
    }
    uint64_t texts = 0, bad_texts = 0;
    bool have_texts = o->evdir[0] && !sg__evidence_check_texts(o->evdir, &texts, &bad_texts);
    if (o->json) print_verify_json(log, &r, texts, bad_texts);
    else print_verify_text(log, &r, keys, texts, bad_texts, have_texts);
    return r.fault != SG_EV_OK || bad_texts ? EXIT_BADLINES : EXIT_OK;
}

/* ------------------------------------------------------------ redact */

typedef struct redact_find {
    ev_opts *o;
    json_t *hashes; /* set: hash -> true */
} redact_find;

static bool listed(const char *s, const char *const *v, int n) {
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, v[i])) return true;
    return false;
}

/* Text hashes of messages with a listed id, or from / to a listed account. */
static int redact_cb(void *ud, const char *line, size_t n, uint64_t lineno) {
    redact_find *f = ud;
    if (!memmem(line, n, "\"text_hash\"", 11)) return 0;
    json_t *e = json_loadb(line, n, 0, NULL), *m;
    size_t i;
    json_array_foreach(json_object_get(e, "messages"), i, m) {
        const char *h = json_string_value(json_object_get(m, "text_hash"));
        const char *id = json_string_value(json_object_get(m, "id"));
        const char *from = json_string_value(json_object_get(m, "from"));
        const char *to = json_string_value(json_object_get(m, "to"));
        if (h && (listed(id, f->o->messages, f->o->nmessages) ||
                  listed(from, f->o->accounts, f->o->naccounts) ||
                  listed(to, f->o->accounts, f->o->naccounts)))
            json_object_set_new(f->hashes, h, json_true());
    }
    json_decref(e);
    return 0;
}

static int cmd_redact(ev_opts *o) {
    if (resolve_dir(o, "redact")) return EXIT_USAGE;
    if (!o->reason || (!o->nhashes && !o->nmessages && !o->naccounts)) {
        sg_cli_error("evidence", "redact: give --reason and --text-hash, --message or --account");
        return EXIT_USAGE;
    }
    redact_find f = {o, json_object()};
    for (int i = 0; i < o->nhashes; i++) json_object_set_new(f.hashes, o->hashes[i], json_true());
    char log[4200], err[512];
    snprintf(log, sizeof log, "%s/log.jsonl", o->evdir);
    if ((o->nmessages || o->naccounts) && sg__evidence_each(log, redact_cb, &f)) {
        sg_cli_error("evidence", "%s: cannot read", log);
        json_decref(f.hashes);
        return EXIT_FATAL;
    }
    size_t n = 0, removed = 0;
    const char **hs = calloc(json_object_size(f.hashes) + 1, sizeof *hs);
    const char *k;
    json_t *v;
    json_object_foreach(f.hashes, k, v) hs[n++] = k;
    sg_evidence_opts eo = {.dir = o->evdir};
    sg_evidence *ev = NULL;
    int rc = n ? sg__evidence_open(&eo, &ev, NULL, err, sizeof err) : SG_ENOTFOUND;
    if (!rc) {
        rc = sg__evidence_redact(ev, hs, n, o->reason, o->by ? o->by : getlogin(), 0, &removed);
        snprintf(err, sizeof err, "%s", sg__evidence_errmsg(ev));
        sg__evidence_close(ev);
    } else if (rc == SG_ENOTFOUND) {
        snprintf(err, sizeof err, "no message matches");
    }
    free(hs);
    json_decref(f.hashes);
    if (rc == SG_ENOTFOUND) { sg_cli_error("evidence", "redact: %s", err); return EXIT_BADLINES; }
    if (rc) { sg_cli_error("evidence", "redact: %s", err); return EXIT_FATAL; }
    printf("redacted %zu text(s) of %zu listed; the chain is unchanged and a redaction entry "
           "was appended\n", removed, n);
    return EXIT_OK;
}

/* ------------------------------------------------------------ show */

typedef struct show {
    ev_opts *o;
    json_t *ring;   /* the last N matching lines */
} show;

static int show_cb(void *ud, const char *line, size_t n, uint64_t lineno) {
    show *s = ud;
    ev_opts *o = s->o;
    json_t *e = json_loadb(line, n, 0, NULL);
    const char *acct = json_string_value(json_object_get(e, "account"));
    const char *camp = json_string_value(json_object_get(e, "campaign"));
    const char *kind = json_string_value(json_object_get(e, "kind"));
    bool keep = e && (!o->account || (acct && !strcmp(acct, o->account))) &&
                (!o->campaign || (camp && !strcmp(camp, o->campaign))) &&
                (!o->kind || (kind && !strcmp(kind, o->kind)));
    if (keep) {
        json_array_append_new(s->ring, json_stringn(line, n));
        if (o->last > 0 && json_array_size(s->ring) > (size_t)o->last) json_array_remove(s->ring, 0);
    }
    json_decref(e);
    return 0;
}

static int cmd_show(ev_opts *o) {
    if (resolve_dir(o, "show")) return EXIT_USAGE;
    char log[4200];
    snprintf(log, sizeof log, "%s/log.jsonl", o->evdir);
    show s = {o, json_array()};
    if (o->last <= 0) o->last = 20;
    int rc = sg__evidence_each(log, show_cb, &s);
    json_t *v;
    size_t i;
    json_array_foreach(s.ring, i, v) puts(json_string_value(v));
    json_decref(s.ring);
    if (rc) { sg_cli_error("evidence", "%s: cannot read", log); return EXIT_FATAL; }
    return EXIT_OK;
}

/* ------------------------------------------------------------ dispatch */

static int cmd_keygen(ev_opts *o) {
    if (!o->out) { sg_cli_error("evidence", "keygen: give --out PREFIX"); return EXIT_USAGE; }
    char sk[4200], pk[4200], err[512];
    snprintf(sk, sizeof sk, "%s.key", o->out);
    snprintf(pk, sizeof pk, "%s.pub", o->out);
    if (sg__evidence_keygen(sk, pk, err, sizeof err)) {
        sg_cli_error("evidence", "keygen: %s", err);
        return EXIT_FATAL;
    }
    printf("wrote %s (secret, mode 0600) and %s (public: publish it)\n", sk, pk);
    return EXIT_OK;
}

static int cmd_policy_keys(ev_opts *o) {
    if (!o->markdown)
        printf("policy file keys (key = value; * = takes effect on SIGHUP):\n");
    sg__policy_config_help(stdout, o->markdown);
    return EXIT_OK;
}

static int cmd_export(ev_opts *o) {
    if (resolve_dir(o, "export")) return EXIT_USAGE;
    if (!o->campaign || !o->out) {
        sg_cli_error("evidence", "export: give --campaign ID and --out DIR");
        return EXIT_USAGE;
    }
    char err[512] = "";
    int rc = sg_evidence_export(o->evdir, o->campaign, o->out, &o->lists, err, sizeof err);
    if (rc) sg_cli_error("evidence", "export: %s", err);
    else printf("wrote %s/report.html, report.json, graph.svg, segment.jsonl\n", o->out);
    return rc;
}

int sg_cmd_evidence(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        ev_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    static const struct { const char *name; int (*run)(ev_opts *); } subs[] = {
        {"verify", cmd_verify}, {"redact", cmd_redact}, {"export", cmd_export},
        {"show", cmd_show}, {"keygen", cmd_keygen}, {"policy-keys", cmd_policy_keys}};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(argv[1], subs[i].name)) continue;
        ev_opts *o = calloc(1, sizeof *o);
        if (!o) return EXIT_FATAL;
        int rc = parse_args(argc - 1, argv + 1, o);
        if (!rc) rc = subs[i].run(o);
        free(o);
        return rc < 0 ? EXIT_OK : rc;
    }
    sg_cli_error("evidence", "unknown subcommand '%s'", argv[1]);
    ev_usage(stderr);
    return EXIT_USAGE;
}
