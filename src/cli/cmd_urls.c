/*
 * cmd_urls.c -- `spimguard urls`: for operators, the URL stage on its own.
 * Reads one text per line (or JSONL messages with --jsonl) and prints, per
 * input line, the URLs found and what the URL detector finds in each
 * (lookalike, blocklist, shortener, IP, script, punycode, credential
 * lure); --json prints one object per input line.  No model is loaded.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "urls.h"

/* How a URL was written (sg_url.flags), in words; the same names in text
 * and JSON output. */
static const struct { unsigned flag; const char *name; } url_flags[] = {
    {SG_URL_OBFUSCATED, "obfuscated"}, {SG_URL_NO_SCHEME, "no_scheme"},
    {SG_URL_USERINFO, "userinfo"},     {SG_URL_IP, "ip_host"},
    {SG_URL_PUNYCODE, "punycode"},     {SG_URL_SHORTENER, "shortener"},
};
#define N_URL_FLAGS (sizeof url_flags / sizeof url_flags[0])

static void urls_usage(FILE *f) {
    fprintf(f,
        "usage: spimguard urls [options] [FILE]\n"
        "Finds the links in each input line (a text per line, or a JSONL\n"
        "message per line with --jsonl; FILE or stdin) and prints what the URL\n"
        "detector finds in them.\n\n"
        "  --json            one JSON object per input line:\n"
        "                    {\"line\": N, \"urls\": [{\"url\", \"host\",\n"
        "                    \"registrable_domain\", \"written\": [...],\n"
        "                    \"findings\": [{\"kind\", \"brand\", \"match\"}]}]}\n"
        "  --jsonl           input lines are JSON messages; their \"text\" is read\n"
        "  --brands FILE     protected brand domains (replaces the shipped list)\n"
        "  --allow FILE      allow-listed domains (added to the shipped list)\n"
        "  --blocklist FILE  blocked domains / URLs (added to the shipped list)\n"
        "  --all             also print lines without URLs (text mode)\n\n"
        "List files may be plain (one domain or URL per line), hosts files\n"
        "(0.0.0.0 domain) or CSV with a url/domain/host column.\n"
        "match is one of skeleton, edit, visual, token, blocklist (null for\n"
        "IP, shortener, script and punycode findings).  written lists how the\n"
        "link was written: obfuscated (hxxp, [.], zero-width or other hidden\n"
        "characters undone to find it), no_scheme, userinfo (user@host),\n"
        "ip_host, punycode, shortener.\n\n"
        "exit: 0 ok; 1 some lines rejected (bad JSON / UTF-8); 2 usage; 3 fatal\n");
}

typedef struct urls_opts {
    bool json, jsonl, all;
    sg_listfiles files;
    const char *input;
} urls_opts;

static int parse_args(int argc, char **argv, urls_opts *o) {
    static const struct option lo[] = {
        {"json", 0, 0, 'j'}, {"jsonl", 0, 0, 'l'}, {"brands", 1, 0, 'b'},
        {"allow", 1, 0, 'a'}, {"blocklist", 1, 0, 'k'}, {"all", 0, 0, 'A'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'j': o->json = true; break;
        case 'l': o->jsonl = true; break;
        case 'b': o->files.brands = optarg; break;
        case 'a': o->files.allow = optarg; break;
        case 'k': o->files.blocklist = optarg; break;
        case 'A': o->all = true; break;
        case 'h': urls_usage(stdout); return EXIT_OK;
        default: urls_usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) { urls_usage(stderr); return EXIT_USAGE; }
    o->input = optind < argc ? argv[optind] : NULL;
    return -1;
}

/* Findings of URL i, plus CREDENTIAL_LURE when the lure rule picked it. */
static size_t findings_of(const sg_urls *st, const sg_urlset *set, size_t i,
                          size_t lure_url, sg_urlfinding *f, size_t cap,
                          bool *lure) {
    size_t n = sg__urls_judge(st, &set->v[i], f, cap);
    *lure = i == lure_url;
    return n;
}

static void print_json(const sg_urls *st, size_t lineno, const sg_urlset *set,
                       size_t lure_url) {
    json_t *o = json_object(), *arr = json_array();
    json_object_set_new(o, "line", json_integer((json_int_t)lineno));
    for (size_t i = 0; i < set->n; i++) {
        const sg_url *u = &set->v[i];
        sg_urlfinding f[8];
        bool lure;
        size_t nf = findings_of(st, set, i, lure_url, f, 8, &lure);
        json_t *fa = json_array();
        for (size_t k = 0; k < nf; k++)
            json_array_append_new(fa, json_pack("{s:s, s:s?, s:s?}",
                "kind", sg__find_code(f[k].kind), "brand", f[k].brand,
                "match", f[k].match ? sg__match_name(f[k].match) : NULL));
        if (lure)
            json_array_append_new(fa, json_pack("{s:s, s:n, s:n}", "kind",
                                                "CREDENTIAL_LURE", "brand", "match"));
        json_t *wa = json_array();
        for (size_t k = 0; k < N_URL_FLAGS; k++)
            if (u->flags & url_flags[k].flag)
                json_array_append_new(wa, json_string(url_flags[k].name));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:o, s:o}", "url",
            u->url, "host", u->host, "registrable_domain", u->registrable,
            "written", wa, "findings", fa));
    }
    json_object_set_new(o, "urls", arr);
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) puts(s);
    free(s);
    json_decref(o);
}

static void print_text(const sg_urls *st, size_t lineno, const sg_urlset *set,
                       size_t lure_url, const char *phrase, bool all) {
    if (!set->n) {
        if (all) printf("%zu: no URL\n", lineno);
        return;
    }
    for (size_t i = 0; i < set->n; i++) {
        const sg_url *u = &set->v[i];
        sg_urlfinding f[8];
        bool lure;
        size_t nf = findings_of(st, set, i, lure_url, f, 8, &lure);
        printf("%zu: %s  host=%s", lineno, u->url, u->host_unicode);
        if (strcmp(u->host, u->host_unicode)) printf(" (%s)", u->host);
        printf("  registrable=%s", u->registrable ? u->registrable : "-");
        for (size_t k = 0; k < N_URL_FLAGS; k++)
            if (u->flags & url_flags[k].flag) printf("  [%s]", url_flags[k].name);
        printf("\n");
        for (size_t k = 0; k < nf; k++)
            printf("    %-18s %-9s %s\n", sg__find_code(f[k].kind),
                   f[k].match ? sg__match_name(f[k].match) : "-", f[k].detail);
        if (lure)
            printf("    %-18s %-9s credential lure (\"%s\") with a link to a "
                   "domain that is not the brand's\n", "CREDENTIAL_LURE", "-",
                   phrase);
        if (!nf && !lure) printf("    (no finding)\n");
    }
}

/* Why a --jsonl line has no usable "text", in the words `scan` uses for
 * the same faults; NULL when it has one (*text, *len). */
static const char *jsonl_text(json_t *doc, const json_error_t *e, char *buf,
                              size_t cap, const char **text, size_t *len) {
    if (!doc) {
        snprintf(buf, cap, "invalid JSON at column %d: %s", e->column, e->text);
        return buf;
    }
    if (!json_is_object(doc)) return "expected a JSON object";
    json_t *t = json_object_get(doc, "text");
    if (!t) return "missing field \"text\"";
    if (!json_is_string(t)) return "field \"text\" must be a string";
    *text = json_string_value(t);
    *len = json_string_length(t);
    if (memchr(*text, '\0', *len)) return "field \"text\" contains a NUL character";
    return NULL;
}

/* Text of one input line; with --jsonl the "text" field of the JSON
 * object (other fields are not needed here), kept alive by *doc.  Bad
 * lines are reported as `scan` reports them: "NAME:LINE: what". */
static const char *line_text(const urls_opts *o, const sg_lines *r, size_t len,
                             json_t **doc, size_t *tl) {
    const char *line = r->buf;
    if (!sg__utf8_valid(line, len)) {
        fprintf(stderr, "%s:%zu: %s\n", r->name, r->lineno,
                memchr(line, '\0', len) ? "input contains a NUL byte" : "input is not valid UTF-8");
        return NULL;
    }
    if (o->jsonl) {
        json_error_t e;
        char why[256];
        *doc = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
        const char *bad = jsonl_text(*doc, &e, why, sizeof why, &line, &len);
        if (bad) {
            fprintf(stderr, "%s:%zu: %s\n", r->name, r->lineno, bad);
            return NULL;
        }
    }
    *tl = len;
    return line;
}

static int run(const urls_opts *o, const sg_urls *st) {
    sg_lines r;
    if (sg_lines_open(&r, o->input, 1 << 20) != 0) {
        sg_cli_error("urls", "cannot open %s", o->input ? o->input : "stdin");
        return EXIT_FATAL;
    }
    size_t len, bad = 0;
    int got;
    while ((got = sg_lines_next(&r, &len)) == 1) {
        json_t *doc = NULL;
        size_t tl;
        if (r.too_long) {
            fprintf(stderr, "%s:%zu: line longer than %zu bytes; skipped\n", r.name, r.lineno, r.cap);
            bad++;
            continue;
        }
        if (o->jsonl && len == 0) continue; /* empty or blank, as scan skips it */
        const char *text = line_text(o, &r, len, &doc, &tl);
        if (!text) { json_decref(doc); bad++; continue; }
        sg_urlset set;
        if (sg__urls_extract(st, text, tl, &set)) {
            json_decref(doc);
            sg_lines_close(&r);
            sg_cli_error("urls", "out of memory");
            return EXIT_FATAL;
        }
        size_t lure_url = SIZE_MAX;
        bool named;
        char phrase[96] = "";
        sg__urls_lure(st, text, tl, &set, &lure_url, &named, phrase, sizeof phrase);
        if (o->json) print_json(st, r.lineno, &set, lure_url);
        else print_text(st, r.lineno, &set, lure_url, phrase, o->all);
        sg__urlset_clear(&set);
        json_decref(doc);
    }
    sg_lines_close(&r);
    if (got < 0) { sg_cli_error("urls", "read error"); return EXIT_FATAL; }
    return bad ? EXIT_BADLINES : EXIT_OK;
}

int sg_cmd_urls(int argc, char **argv) {
    urls_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    sg_urls *st;
    char err[512] = "";
    if ((rc = sg__urls_new(NULL, &o.files, &st, err, sizeof err))) {
        sg_cli_error("urls", "%s", err[0] ? err : sg_strerror(rc));
        return EXIT_FATAL;
    }
    rc = run(&o, st);
    sg__urls_free(st);
    return rc;
}
