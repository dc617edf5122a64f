/*
 * evidence_verify.c -- the checking and reading side of the evidence log
 * (evidence.h): parsing a line at its fixed places, recomputing the
 * BLAKE2b chain, checking Ed25519 checkpoint signatures, and, at the first
 * bad line, saying what happened to it (edited, removed, inserted,
 * reordered, torn).  Also reads texts beside the chain and elides entries
 * for export.  It never writes a log (evidence.c does).
 */
#define _GNU_SOURCE
#include "evidence.h"
#include "sg_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ hex */

void sg__evidence_hex(const unsigned char *b, size_t n, char *out) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1; /* upper case is not the log's form: an edit */
}

bool sg__evidence_unhex(const char *s, unsigned char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int hi = nibble(s[2 * i]), lo = hi < 0 ? -1 : nibble(s[2 * i + 1]);
        if (lo < 0) return false;
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

void sg__evidence_chain_hash(const unsigned char prev[32],
                             const unsigned char digest[32],
                             unsigned char out[32]) {
    unsigned char in[64];
    memcpy(in, prev, 32);
    memcpy(in + 32, digest, 32);
    crypto_generichash(out, 32, in, sizeof in, NULL, 0);
}

size_t sg__evidence_sign_msg(uint64_t covers_seq, const char *covers_hash_hex,
                             int64_t ts_ms, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "spimguard-evidence-checkpoint/1\n%llu\n%s\n%lld",
                     (unsigned long long)covers_seq, covers_hash_hex, (long long)ts_ms);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* ------------------------------------------------------------ lines */

#define SEQ_KEY "{\"seq\":"
#define PREV_KEY ",\"prev\":\""
#define HASH_KEY ",\"hash\":\""
#define ELIDED_KEY ",\"elided\":\""
#define CKPT_KIND ",\"kind\":\"checkpoint\""
/* ',"hash":"' + 64 hex + '"}' */
#define SUFFIX_LEN (sizeof HASH_KEY - 1 + SG_EV_HEX_LEN + 2)

static bool has_at(const char *p, size_t n, size_t at, const char *lit) {
    size_t l = strlen(lit);
    return at + l <= n && !memcmp(p + at, lit, l);
}

bool sg__evidence_parse_line(const char *p, size_t n, sg_ev_line *out) {
    memset(out, 0, sizeof *out);
    if (n < sizeof SEQ_KEY + SUFFIX_LEN + 70 || !has_at(p, n, 0, SEQ_KEY)) return false;
    size_t i = sizeof SEQ_KEY - 1, d0 = i;
    uint64_t seq = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9' && i - d0 < 19) seq = seq * 10 + (uint64_t)(p[i++] - '0');
    if (i == d0 || (p[d0] == '0' && i - d0 > 1) || !has_at(p, n, i, PREV_KEY)) return false;
    i += sizeof PREV_KEY - 1;
    if (i + SG_EV_HEX_LEN + 1 > n || !sg__evidence_unhex(p + i, out->prev, 32) ||
        p[i + SG_EV_HEX_LEN] != '"')
        return false;
    i += SG_EV_HEX_LEN + 1;
    size_t pre = n - SUFFIX_LEN;
    if (pre < i || !has_at(p, n, pre, HASH_KEY) || p[n - 2] != '"' || p[n - 1] != '}' ||
        !sg__evidence_unhex(p + pre + sizeof HASH_KEY - 1, out->hash, 32))
        return false;
    out->seq = seq;
    out->prefix_len = pre;
    if (has_at(p, n, i, ELIDED_KEY) && i + sizeof ELIDED_KEY - 1 + SG_EV_HEX_LEN + 1 == pre) {
        out->elided = true;
        return sg__evidence_unhex(p + i + sizeof ELIDED_KEY - 1, out->digest, 32) &&
               p[pre - 1] == '"';
    }
    out->checkpoint = has_at(p, n, i, CKPT_KIND);
    crypto_generichash(out->digest, 32, (const unsigned char *)p, pre, NULL, 0);
    return true;
}

/* ------------------------------------------------------------ mapping */

typedef struct mapped {
    const char *p;
    size_t n;
} mapped;

static int map_file(const char *path, mapped *m) {
    m->p = NULL;
    m->n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return SG_EIO;
    struct stat st;
    if (fstat(fd, &st)) { close(fd); return SG_EIO; }
    m->n = (size_t)st.st_size;
    if (m->n) {
        void *p = mmap(NULL, m->n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) { close(fd); return SG_EIO; }
        madvise(p, m->n, MADV_SEQUENTIAL);
        m->p = p;
    }
    close(fd);
    return SG_OK;
}

static void unmap_file(mapped *m) {
    if (m->p) munmap((void *)m->p, m->n);
}

/* The line starting at *off: its bytes and whether it had a newline;
 * *off moves past it.  False at the end. */
static bool next_line(const mapped *m, size_t *off, const char **p, size_t *n,
                      bool *complete) {
    if (*off >= m->n) return false;
    const char *s = m->p + *off;
    const char *nl = memchr(s, '\n', m->n - *off);
    *p = s;
    *n = nl ? (size_t)(nl - s) : m->n - *off;
    *complete = nl != NULL;
    *off += *n + (nl ? 1 : 0);
    return true;
}

/* ------------------------------------------------------------ verify */

const char *sg__evidence_fault_name(sg_ev_fault f) {
    static const char *const n[] = {"ok", "edited", "removed", "inserted", "reordered",
                                    "torn", "malformed", "bad_signature", "no_file"};
    return (unsigned)f < sizeof n / sizeof n[0] ? n[f] : "unknown";
}

/* The walk's state: what the good lines so far chain to. */
typedef struct walk {
    const mapped *m;
    const unsigned char (*pks)[32];
    size_t npk;
    bool segment;
    uint64_t lineno;          /* lines read */
    bool have_prev;           /* at least one good line */
    uint64_t expect;          /* seq of the next entry */
    unsigned char head[32];   /* hash of the last good line */
    unsigned char head2[32];  /* hash before that (what line-1 chained to) */
    bool have_head2;
    size_t next_off;          /* offset of the line after the current one */
    sg_ev_report *rep;
} walk;

static int report(walk *w, sg_ev_fault f, uint64_t line, int64_t expected,
                  int64_t found, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int report(walk *w, sg_ev_fault f, uint64_t line, int64_t expected,
                  int64_t found, const char *fmt, ...) {
    sg_ev_report *r = w->rep;
    r->fault = f;
    r->bad_line = line;
    r->expected_seq = expected;
    r->found_seq = found;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
    return SG_ECHECKSUM;
}

/* Parse the line after the current one, if any. */
static bool peek(const walk *w, size_t off, sg_ev_line *l, size_t skip) {
    const char *p;
    size_t n;
    bool complete;
    while (next_line(w->m, &off, &p, &n, &complete)) {
        if (skip-- == 0) return complete && sg__evidence_parse_line(p, n, l);
    }
    return false;
}

/* Does an entry with this seq appear anywhere after the current line? */
static bool appears_later(const walk *w, uint64_t seq) {
    size_t off = w->next_off;
    const char *p;
    size_t n;
    bool complete;
    sg_ev_line l;
    while (next_line(w->m, &off, &p, &n, &complete))
        if (sg__evidence_parse_line(p, n, &l) && l.seq == seq) return true;
    return false;
}

/* Two lines chain from the same entry (head2): which one is the intruder?
 * The one the next line does not continue from. */
static int duplicate(walk *w, const sg_ev_line *l) {
    sg_ev_line nx;
    unsigned char mine[32];
    sg__evidence_chain_hash(l->prev, l->digest, mine);
    /* an exact copy of the line before: the copy is the intruder */
    bool next_follows_me = memcmp(mine, w->head, 32) && peek(w, w->next_off, &nx, 0) &&
                           !memcmp(nx.prev, mine, 32);
    uint64_t line = next_follows_me ? w->lineno - 1 : w->lineno;
    return report(w, SG_EV_INSERTED, line, (int64_t)w->expect - 1,
                  next_follows_me ? (int64_t)w->expect - 1 : (int64_t)l->seq,
                  "line %llu was inserted: lines %llu and %llu both follow entry %lld",
                  (unsigned long long)line, (unsigned long long)w->lineno - 1,
                  (unsigned long long)w->lineno, (long long)w->expect - 2);
}

/* The line is whole and self-consistent but does not follow the last good
 * one: say why. */
static int misplaced(walk *w, const sg_ev_line *l) {
    uint64_t s = w->expect;
    if (l->seq > s) {
        if (appears_later(w, s))
            return report(w, SG_EV_REORDERED, w->lineno, (int64_t)s, (int64_t)l->seq,
                          "entries out of order at line %llu: entry %llu is there, "
                          "entry %llu comes later", (unsigned long long)w->lineno,
                          (unsigned long long)l->seq, (unsigned long long)s);
        return report(w, SG_EV_REMOVED, w->lineno, (int64_t)s, (int64_t)l->seq,
                      "entry %llu was removed: line %llu holds entry %llu",
                      (unsigned long long)s, (unsigned long long)w->lineno,
                      (unsigned long long)l->seq);
    }
    if (l->seq < s) {
        if (w->have_head2 && !memcmp(l->prev, w->head2, 32)) return duplicate(w, l);
        return report(w, SG_EV_INSERTED, w->lineno, (int64_t)s, (int64_t)l->seq,
                      "line %llu was inserted: it holds entry %llu where entry %llu "
                      "belongs", (unsigned long long)w->lineno,
                      (unsigned long long)l->seq, (unsigned long long)s);
    }
    /* right seq, wrong prev: the line before was replaced by a forgery */
    return report(w, SG_EV_EDITED, w->lineno - 1, (int64_t)s - 1, (int64_t)s - 1,
                  "entry %llu (line %llu) was replaced: entry %llu does not follow it",
                  (unsigned long long)s - 1, (unsigned long long)w->lineno - 1,
                  (unsigned long long)s);
}

/* Check a checkpoint's signature; SG_OK when good or unchecked. */
static int check_signature(walk *w, const char *p, size_t n, const sg_ev_line *l) {
    w->rep->checkpoints++;
    if (!w->npk) return SG_OK;
    json_t *o = json_loadb(p, n, 0, NULL);
    const char *ch = json_string_value(json_object_get(o, "covers_hash"));
    const char *sx = json_string_value(json_object_get(o, "sig"));
    json_int_t cs = json_integer_value(json_object_get(o, "covers_seq"));
    json_int_t ts = json_integer_value(json_object_get(o, "ts"));
    unsigned char sig[crypto_sign_BYTES], prev[32];
    char msg[256];
    bool ok = ch && sx && strlen(sx) == 2 * sizeof sig && strlen(ch) == SG_EV_HEX_LEN &&
              sg__evidence_unhex(sx, sig, sizeof sig) && sg__evidence_unhex(ch, prev, 32) &&
              (uint64_t)cs + 1 == l->seq && !memcmp(prev, l->prev, 32);
    size_t mn = ok ? sg__evidence_sign_msg((uint64_t)cs, ch, ts, msg, sizeof msg) : 0;
    bool good = false;
    for (size_t k = 0; ok && !good && k < w->npk; k++)
        good = crypto_sign_verify_detached(sig, (const unsigned char *)msg, mn, w->pks[k]) == 0;
    json_decref(o);
    if (!good)
        return report(w, SG_EV_BAD_SIGNATURE, w->lineno, (int64_t)l->seq, (int64_t)l->seq,
                      "checkpoint entry %llu (line %llu) has a bad signature: the entries "
                      "after entry %lld were rewritten, or another key signed it",
                      (unsigned long long)l->seq, (unsigned long long)w->lineno,
                      (long long)w->rep->last_signed_seq);
    w->rep->signatures_ok++;
    w->rep->last_signed_seq = (int64_t)l->seq - 1;
    w->rep->unsigned_tail = 0;
    return SG_OK;
}

/* The first line: a whole log starts at entry 0 after 64 zeros. */
static int check_first(walk *w, const sg_ev_line *l) {
    static const unsigned char zero[32];
    w->rep->first_seq = l->seq;
    if (w->segment) return SG_OK;
    if (l->seq == 0 && !memcmp(l->prev, zero, 32)) return SG_OK;
    if (l->seq == 0)
        return report(w, SG_EV_EDITED, 1, 0, 0, "entry 0 (line 1) does not start the chain");
    w->expect = 0;
    return misplaced(w, l);
}

/* One line; SG_OK to go on. */
static int check_line(walk *w, const char *p, size_t n, bool complete) {
    sg_ev_line l;
    int64_t want = w->have_prev ? (int64_t)w->expect : -1;
    if (!complete)
        return report(w, SG_EV_TORN, w->lineno, want, -1,
                      "line %llu is torn: a write was cut (crash) after entry %lld",
                      (unsigned long long)w->lineno, (long long)want - 1);
    if (!sg__evidence_parse_line(p, n, &l))
        return report(w, SG_EV_MALFORMED, w->lineno, want, -1,
                      "line %llu is not an evidence entry (edited beyond its format)",
                      (unsigned long long)w->lineno);
    unsigned char h[32];
    sg__evidence_chain_hash(l.prev, l.digest, h);
    if (memcmp(h, l.hash, 32)) {
        if (w->have_head2 && !memcmp(l.prev, w->head2, 32))
            return duplicate(w, &l); /* a forged line before, this one renumbered */
        return report(w, SG_EV_EDITED, w->lineno, want, (int64_t)l.seq,
                      "entry %llu (line %llu) was edited: its contents do not match its hash",
                      (unsigned long long)l.seq, (unsigned long long)w->lineno);
    }
    int rc = !w->have_prev ? check_first(w, &l)
             : (l.seq == w->expect && !memcmp(l.prev, w->head, 32)) ? SG_OK
                                                                     : misplaced(w, &l);
    if (!rc && l.checkpoint) rc = check_signature(w, p, n, &l);
    if (rc) return rc;
    memcpy(w->head2, w->head, 32);
    w->have_head2 = w->have_prev;
    memcpy(w->head, h, 32);
    w->have_prev = true;
    w->expect = l.seq + 1;
    w->rep->entries++;
    w->rep->elided += l.elided;
    if (!l.checkpoint) w->rep->unsigned_tail++;
    return SG_OK;
}

int sg__evidence_verify(const char *log_path, const unsigned char (*pks)[32],
                        size_t npk, bool segment, sg_ev_report *rep) {
    memset(rep, 0, sizeof *rep);
    rep->last_signed_seq = -1;
    rep->expected_seq = rep->found_seq = -1;
    rep->signatures_checked = npk > 0;
    if (sodium_init() < 0) return SG_EIO;
    mapped m;
    if (map_file(log_path, &m)) {
        rep->fault = SG_EV_NO_FILE;
        snprintf(rep->detail, sizeof rep->detail, "%s: %s", log_path, strerror(errno));
        return SG_EIO;
    }
    walk w = {.m = &m, .pks = pks, .npk = npk, .segment = segment, .rep = rep};
    size_t off = 0, n;
    const char *p;
    bool complete;
    int rc = SG_OK;
    while (!rc && next_line(&m, &off, &p, &n, &complete)) {
        w.lineno++;
        w.next_off = off;
        rc = check_line(&w, p, n, complete);
    }
    if (!rc && !w.have_prev) {
        rep->fault = SG_EV_MALFORMED;
        snprintf(rep->detail, sizeof rep->detail, "%s holds no entry", log_path);
        rc = SG_ECHECKSUM;
    }
    if (w.have_prev) sg__evidence_hex(w.head, 32, rep->head);
    unmap_file(&m);
    return rc;
}

/* ------------------------------------------------------------ reading */

int sg__evidence_each(const char *log_path,
                      int (*fn)(void *ud, const char *line, size_t n, uint64_t lineno),
                      void *ud) {
    mapped m;
    if (map_file(log_path, &m)) return SG_EIO;
    size_t off = 0, n;
    const char *p;
    bool complete;
    uint64_t lineno = 0;
    int rc = SG_OK;
    while (!rc && next_line(&m, &off, &p, &n, &complete)) {
        lineno++;
        if (complete) rc = fn(ud, p, n, lineno);
    }
    unmap_file(&m);
    return rc;
}

typedef struct text_find {
    const char *hash;
    char *text;
    int rc;
} text_find;

/* The text of a texts.jsonl line, decoded from "text" or "text_hex". */
static char *line_text(json_t *o) {
    json_t *t = json_object_get(o, "text");
    if (json_is_string(t)) return sg__strndup(json_string_value(t), json_string_length(t));
    const char *x = json_string_value(json_object_get(o, "text_hex"));
    size_t n = x ? strlen(x) / 2 : 0;
    char *b = x ? sg__malloc(n + 1) : NULL;
    if (b && !sg__evidence_unhex(x, (unsigned char *)b, n)) { sg__free(b); return NULL; }
    if (b) b[n] = '\0';
    return b;
}

static int find_text_cb(void *ud, const char *line, size_t n, uint64_t lineno) {
    text_find *f = ud;
    if (n < 6 + SG_EV_HEX_LEN || memcmp(line, "{\"h\":\"", 6) ||
        memcmp(line + 6, f->hash, SG_EV_HEX_LEN))
        return 0;
    json_t *o = json_loadb(line, n, 0, NULL);
    f->text = o ? line_text(o) : NULL;
    json_decref(o);
    f->rc = f->text ? SG_OK : o ? SG_ENOMEM : SG_EFORMAT;
    return 1;
}

int sg__evidence_text(const char *dir, const char *text_hash, char **text) {
    char path[4200];
    *text = NULL;
    if (!text_hash || strlen(text_hash) != SG_EV_HEX_LEN) return SG_EINVAL;
    snprintf(path, sizeof path, "%s/texts.jsonl", dir);
    text_find f = {.hash = text_hash, .rc = SG_ENOTFOUND};
    int rc = sg__evidence_each(path, find_text_cb, &f);
    if (rc == SG_EIO) return SG_EIO;
    *text = f.text;
    return f.rc;
}

typedef struct text_check {
    uint64_t present, bad;
} text_check;

static int check_text_cb(void *ud, const char *line, size_t n, uint64_t lineno) {
    text_check *c = ud;
    json_t *o = json_loadb(line, n, 0, NULL);
    const char *h = json_string_value(json_object_get(o, "h"));
    const char *sx = json_string_value(json_object_get(o, "salt"));
    json_t *t = json_object_get(o, "text");
    char *hex_text = json_is_string(t) ? NULL : line_text(o);
    unsigned char salt[16], want[32], got[32];
    bool ok = h && sx && strlen(sx) == 32 && strlen(h) == SG_EV_HEX_LEN &&
              sg__evidence_unhex(sx, salt, 16) && sg__evidence_unhex(h, want, 32) &&
              (json_is_string(t) || hex_text);
    if (ok) {
        const char *s = hex_text ? hex_text : json_string_value(t);
        size_t len = hex_text ? strlen(json_string_value(json_object_get(o, "text_hex"))) / 2
                              : json_string_length(t);
        crypto_generichash(got, 32, (const unsigned char *)s, len, salt, 16);
        ok = !memcmp(got, want, 32);
    }
    c->present++;
    c->bad += !ok;
    sg__free(hex_text);
    json_decref(o);
    return 0;
}

int sg__evidence_check_texts(const char *dir, uint64_t *present, uint64_t *mismatched) {
    char path[4200];
    snprintf(path, sizeof path, "%s/texts.jsonl", dir);
    text_check c = {0};
    int rc = access(path, F_OK) ? SG_OK : sg__evidence_each(path, check_text_cb, &c);
    *present = c.present;
    *mismatched = c.bad;
    return rc;
}

int sg__evidence_elide(const char *line, size_t n, char **out) {
    sg_ev_line l;
    *out = NULL;
    if (!sg__evidence_parse_line(line, n, &l)) return SG_EFORMAT;
    char prev[65], dig[65], hash[65];
    sg__evidence_hex(l.prev, 32, prev);
    sg__evidence_hex(l.digest, 32, dig);
    sg__evidence_hex(l.hash, 32, hash);
    size_t cap = 300;
    *out = sg__malloc(cap);
    if (!*out) return SG_ENOMEM;
    snprintf(*out, cap, "{\"seq\":%llu,\"prev\":\"%s\",\"elided\":\"%s\",\"hash\":\"%s\"}",
             (unsigned long long)l.seq, prev, dig, hash);
    return SG_OK;
}
