/*
 * evidence.c -- the writing side of the evidence log (evidence.h): keys,
 * open (lock, torn-tail recovery, genesis), append (texts beside the
 * chain, one write per line), signed checkpoints and redaction of texts.
 * Checking and reading a log is evidence_verify.c.  It knows nothing of
 * engines or verdicts (enforce.c does the translation).  libsodium does
 * the cryptography: BLAKE2b (crypto_generichash) and Ed25519 (crypto_sign).
 */
#define _GNU_SOURCE
#include "evidence.h"
#include "sg_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_NAME "log.jsonl"
#define TEXTS_NAME "texts.jsonl"
#define FORMAT_NAME "spimguard-evidence/1"
#define SALT_BYTES 16

struct sg_evidence {
    char *dir;
    int fd, tfd;                   /* log.jsonl, texts.jsonl (O_APPEND) */
    uint64_t next_seq;             /* seq of the next entry */
    off_t size;                    /* bytes of whole lines in log.jsonl */
    unsigned char head[32];        /* hash of the last entry */
    char head_hex[SG_EV_HEX_LEN + 1];
    unsigned char sk[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    char key_id[SG_EV_KEY_ID_LEN + 1];
    uint32_t every;
    int64_t every_ms;
    bool sync_every;
    uint64_t since_ckpt;           /* entries after the last checkpoint */
    int64_t last_ckpt_ts;          /* 0 = none seen yet */
    char err[256];
    /* A group (sg__evidence_begin): its lines wait here until commit. */
    struct {
        bool open, checkpointed;   /* a checkpoint was sealed inside */
        char *log, *texts;         /* pending bytes of log.jsonl, texts.jsonl */
        size_t nlog, caplog, ntexts, captexts;
        uint64_t next_seq, since_ckpt;  /* the chain as it was at begin */
        off_t size;
        unsigned char head[32];
        int64_t last_ckpt_ts;
    } grp;
};

static int fail(sg_evidence *ev, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(sg_evidence *ev, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->err, sizeof ev->err, fmt, ap);
    va_end(ap);
    return rc;
}

static int64_t wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ files */

/* mkdir -p with mode 0700 for what it creates. */
static int mkdir_p(const char *dir) {
    char tmp[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, dir, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0700) && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0700) && errno != EEXIST ? -1 : 0;
}

static void path_in(const char *dir, const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* Write all n bytes; -1 on error (errno kept). */
static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read a whole small file into buf (cap bytes, NUL-terminated). */
/* Append n bytes to a pending buffer.  @return 0, -1 out of memory. */
static int buf_add(char **b, size_t *len, size_t *cap, const char *p, size_t n) {
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n) c *= 2;
        char *nb = sg__realloc(*b, c);
        if (!nb) return -1;
        *b = nb;
        *cap = c;
    }
    memcpy(*b + *len, p, n);
    *len += n;
    return 0;
}

/* Write a whole line to the log (texts: the texts file), or keep it for the
 * commit when a group is open.  @return 0, -1 with errno set. */
static int put_line(sg_evidence *ev, bool texts, const char *p, size_t n) {
    if (!ev->grp.open) return write_all(texts ? ev->tfd : ev->fd, p, n);
    int bad = texts ? buf_add(&ev->grp.texts, &ev->grp.ntexts, &ev->grp.captexts, p, n)
                    : buf_add(&ev->grp.log, &ev->grp.nlog, &ev->grp.caplog, p, n);
    if (bad) errno = ENOMEM;
    return bad;
}

static int read_small(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return 0;
}

/* ------------------------------------------------------------ keys */

void sg__evidence_key_id(const unsigned char pk[32], char out[17]) {
    unsigned char h[32];
    crypto_generichash(h, sizeof h, pk, 32, NULL, 0);
    sg__evidence_hex(h, 8, out);
}

int sg__evidence_keygen(const char *sk_path, const char *pk_path, char *err,
                        size_t errlen) {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    char skx[2 * sizeof sk + 2], pkx[2 * sizeof pk + 2];
    if (sodium_init() < 0) { snprintf(err, errlen, "libsodium cannot start"); return SG_EIO; }
    crypto_sign_keypair(pk, sk);
    sg__evidence_hex(sk, sizeof sk, skx);
    sg__evidence_hex(pk, sizeof pk, pkx);
    strcat(skx, "\n");
    strcat(pkx, "\n");
    sodium_memzero(sk, sizeof sk);
    int fd = open(sk_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", sk_path, strerror(errno));
        return SG_EIO;
    }
    int bad = write_all(fd, skx, strlen(skx)) || fsync(fd);
    close(fd);
    sodium_memzero(skx, sizeof skx);
    FILE *f = bad ? NULL : fopen(pk_path, "w");
    if (!f || fputs(pkx, f) < 0 || fclose(f)) {
        if (f) fclose(f);
        snprintf(err, errlen, "%s: %s", bad ? sk_path : pk_path, strerror(errno));
        return SG_EIO;
    }
    return SG_OK;
}

int sg__evidence_read_pubkey(const char *path, unsigned char pk[32], char *err,
                             size_t errlen) {
    char buf[256];
    if (read_small(path, buf, sizeof buf)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SG_EIO;
    }
    buf[strcspn(buf, " \r\n")] = '\0';
    if (strlen(buf) != 64 || !sg__evidence_unhex(buf, pk, 32)) {
        snprintf(err, errlen, "%s: not an Ed25519 public key (64 hex digits)", path);
        return SG_EFORMAT;
    }
    return SG_OK;
}

/* Load the secret key; generate the default one when it is missing. */
static int load_key(sg_evidence *ev, const char *key_path) {
    char def[4200], pub[4200], buf[512];
    path_in(ev->dir, "signing.key", def, sizeof def);
    path_in(ev->dir, "signing.pub", pub, sizeof pub);
    const char *p = key_path ? key_path : def;
    if (!key_path && access(def, F_OK) != 0) {
        int rc = sg__evidence_keygen(def, pub, ev->err, sizeof ev->err);
        if (rc) return rc;
    }
    if (read_small(p, buf, sizeof buf))
        return fail(ev, SG_EIO, "signing key %s: %s", p, strerror(errno));
    buf[strcspn(buf, " \r\n")] = '\0';
    bool ok = strlen(buf) == 2 * sizeof ev->sk &&
              sg__evidence_unhex(buf, ev->sk, sizeof ev->sk);
    sodium_memzero(buf, sizeof buf);
    if (!ok) return fail(ev, SG_EFORMAT, "signing key %s: not an Ed25519 secret key", p);
    crypto_sign_ed25519_sk_to_pk(ev->pk, ev->sk);
    sg__evidence_key_id(ev->pk, ev->key_id);
    return SG_OK;
}

/* ------------------------------------------------------------ lines */

/* Serialize o (whose first keys are seq and prev) into a log line with its
 * hash; *line is malloc'd (free()).  out gets the new head. */
static int seal_line(json_t *o, char **line, size_t *len,
                     const unsigned char prev[32], unsigned char out[32]) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                JSON_REAL_PRECISION(10));
    if (!s) return SG_ENOMEM;
    size_t n = strlen(s);
    sg_assert(n > 2 && s[n - 1] == '}');
    unsigned char digest[32];
    crypto_generichash(digest, sizeof digest, (const unsigned char *)s, n - 1, NULL, 0);
    sg__evidence_chain_hash(prev, digest, out);
    char *l = realloc(s, n - 1 + 80);
    if (!l) { free(s); return SG_ENOMEM; }
    char hex[SG_EV_HEX_LEN + 1];
    sg__evidence_hex(out, 32, hex);
    *len = (n - 1) + (size_t)sprintf(l + n - 1, ",\"hash\":\"%s\"}\n", hex);
    *line = l;
    return SG_OK;
}

/* Append o as the next entry: seq and prev are set here. */
static int write_entry(sg_evidence *ev, json_t *o) {
    if (json_object_set_new(o, "seq", json_integer((json_int_t)ev->next_seq)) ||
        json_object_set_new(o, "prev", json_string(ev->head_hex)))
        return fail(ev, SG_ENOMEM, "out of memory");
    char *line = NULL;
    size_t len = 0;
    unsigned char h[32];
    int rc = seal_line(o, &line, &len, ev->head, h);
    if (rc) return fail(ev, rc, "out of memory");
    if (put_line(ev, false, line, len)) {
        int e = errno;
        if (!ev->grp.open && ftruncate(ev->fd, ev->size)) { /* keep the log whole */ }
        free(line);
        return fail(ev, SG_EIO, "%s/" LOG_NAME ": %s", ev->dir, strerror(e));
    }
    free(line);
    if (ev->sync_every && !ev->grp.open && fdatasync(ev->fd))
        return fail(ev, SG_EIO, "%s/" LOG_NAME ": fdatasync: %s", ev->dir, strerror(errno));
    ev->size += (off_t)len;
    memcpy(ev->head, h, 32);
    sg__evidence_hex(h, 32, ev->head_hex);
    ev->next_seq++;
    ev->since_ckpt++;
    return SG_OK;
}

/* A new object with seq and prev placeholders first (fixed key order). */
static json_t *entry_object(const char *kind, int64_t ts) {
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "seq", json_integer(0)) ||
        json_object_set_new(o, "prev", json_string("")) ||
        json_object_set_new(o, "kind", json_string(kind)) ||
        json_object_set_new(o, "ts", json_integer((json_int_t)ts))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------ checkpoint */

int sg__evidence_checkpoint(sg_evidence *ev, int64_t ts_ms) {
    if (!ev) return SG_EINVAL;
    char msg[256], sigx[2 * crypto_sign_BYTES + 1];
    unsigned char sig[crypto_sign_BYTES];
    uint64_t covers = ev->next_seq - 1;
    size_t n = sg__evidence_sign_msg(covers, ev->head_hex, ts_ms, msg, sizeof msg);
    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, n, ev->sk);
    sg__evidence_hex(sig, sizeof sig, sigx);
    json_t *o = entry_object("checkpoint", ts_ms);
    if (!o || json_object_set_new(o, "covers_seq", json_integer((json_int_t)covers)) ||
        json_object_set_new(o, "covers_hash", json_string(ev->head_hex)) ||
        json_object_set_new(o, "key_id", json_string(ev->key_id)) ||
        json_object_set_new(o, "sig", json_string(sigx))) {
        json_decref(o);
        return fail(ev, SG_ENOMEM, "out of memory");
    }
    int rc = write_entry(ev, o);
    json_decref(o);
    if (rc) return rc;
    if (ev->grp.open) ev->grp.checkpointed = true; /* synced at the commit */
    else if (fdatasync(ev->fd) || (ev->tfd >= 0 && fdatasync(ev->tfd)))
        return fail(ev, SG_EIO, "%s: fdatasync: %s", ev->dir, strerror(errno));
    ev->since_ckpt = 0;
    ev->last_ckpt_ts = ts_ms;
    return SG_OK;
}

static bool checkpoint_due(const sg_evidence *ev, int64_t ts) {
    if (ev->since_ckpt >= ev->every) return true;
    if (ev->last_ckpt_ts == 0) return false;
    return ts - ev->last_ckpt_ts >= ev->every_ms;
}

/* ------------------------------------------------------------ texts */

/* The JSON value holding a text: the string, or its bytes in hex under
 * "text_hex" when they are not UTF-8 (*key says which). */
static json_t *text_value(const char *text, size_t len, const char **key) {
    *key = "text";
    if (sg__utf8_valid(text, len)) return json_stringn(text, len);
    *key = "text_hex";
    char *x = sg__malloc(2 * len + 1);
    if (!x) return NULL;
    sg__evidence_hex((const unsigned char *)text, len, x);
    json_t *t = json_string(x);
    sg__free(x);
    return t;
}

/* Keep one text beside the chain; hex_out gets its keyed hash. */
static int keep_text(sg_evidence *ev, const char *text, size_t len,
                     char hex_out[SG_EV_HEX_LEN + 1]) {
    unsigned char salt[SALT_BYTES], h[32];
    char saltx[2 * SALT_BYTES + 1];
    randombytes_buf(salt, sizeof salt);
    crypto_generichash(h, sizeof h, (const unsigned char *)text, len, salt, sizeof salt);
    sg__evidence_hex(h, 32, hex_out);
    sg__evidence_hex(salt, sizeof salt, saltx);
    const char *key;
    json_t *o = json_pack("{s:s, s:s}", "h", hex_out, "salt", saltx);
    json_t *t = text_value(text, len, &key);
    char *s = NULL;
    if (o && t && !json_object_set_new(o, key, t))
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    else
        json_decref(t);
    json_decref(o);
    if (!s) return fail(ev, SG_ENOMEM, "out of memory");
    size_t n = strlen(s);
    s[n] = '\n'; /* replaces the NUL: one write of the whole line */
    int bad = put_line(ev, true, s, n + 1);
    free(s);
    if (bad) return fail(ev, SG_EIO, "%s/" TEXTS_NAME ": %s", ev->dir, strerror(errno));
    return SG_OK;
}

/* ------------------------------------------------------------ entries */

static int set_str(json_t *o, const char *k, const char *v) {
    return v ? json_object_set_new(o, k, json_string(v)) : 0;
}

static json_t *strings(const char *const *v, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (v[i] && json_array_append_new(a, json_string(v[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* Round to 4 decimals: short and stable. */
static json_t *real4(double x) {
    return json_real((double)(long long)(x * 10000.0 + (x < 0 ? -0.5 : 0.5)) / 10000.0);
}

static int add_scalars(json_t *o, const sg_evidence_entry *e) {
    int bad = set_str(o, "account", e->account) || set_str(o, "action", e->action) ||
              set_str(o, "message_action", e->message_action);
    size_t nl = 0;
    while (nl < 8 && e->labels[nl]) nl++;
    if (nl) bad |= json_object_set_new(o, "labels", strings(e->labels, nl));
    if (e->has_score) bad |= json_object_set_new(o, "score", real4(e->score));
    bad |= set_str(o, "campaign", e->campaign) || set_str(o, "infected_by", e->infected_by);
    if (e->dry_run) bad |= json_object_set_new(o, "dry_run", json_true());
    if (e->until_ms) bad |= json_object_set_new(o, "until", json_integer(e->until_ms));
    bad |= set_str(o, "actor", e->actor) || set_str(o, "config_version", e->config_version) ||
           set_str(o, "note", e->note);
    return bad ? SG_ENOMEM : SG_OK;
}

static int add_reasons(json_t *o, const sg_evidence_entry *e) {
    if (!e->nreasons) return SG_OK;
    json_t *a = json_array();
    for (size_t i = 0; a && i < e->nreasons; i++) {
        const sg_evidence_reason *r = &e->reasons[i];
        json_t *x = json_pack("{s:s, s:o, s:s}", "code", r->code ? r->code : "",
                              "weight", real4(r->weight), "detail",
                              r->detail ? r->detail : "");
        if (!x || json_array_append_new(a, x)) { json_decref(a); a = NULL; }
    }
    return a && !json_object_set_new(o, "reasons", a) ? SG_OK : SG_ENOMEM;
}

static int add_messages(sg_evidence *ev, json_t *o, const sg_evidence_entry *e) {
    if (!e->nmsgs) return SG_OK;
    json_t *a = json_array();
    if (!a) return SG_ENOMEM;
    for (size_t i = 0; i < e->nmsgs; i++) {
        const sg_evidence_msg *m = &e->msgs[i];
        json_t *x = json_object();
        char th[SG_EV_HEX_LEN + 1];
        int rc = x ? SG_OK : SG_ENOMEM;
        if (!rc && m->text) rc = keep_text(ev, m->text, m->text_len, th);
        if (!rc && (set_str(x, "id", m->id) || set_str(x, "from", m->from) ||
                    set_str(x, "to", m->to) ||
                    (m->ts_ms && json_object_set_new(x, "ts", json_integer(m->ts_ms))) ||
                    (m->text && set_str(x, "text_hash", th))))
            rc = SG_ENOMEM;
        if (!rc && json_array_append_new(a, x)) rc = SG_ENOMEM, x = NULL;
        if (rc) {
            json_decref(x);
            json_decref(a);
            return rc;
        }
    }
    return json_object_set_new(o, "messages", a) ? SG_ENOMEM : SG_OK;
}

static bool kind_valid(const char *k) {
    if (!k || !*k || strlen(k) > 32) return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || *k == '_')) return false;
    return true;
}

int sg__evidence_append(sg_evidence *ev, const sg_evidence_entry *e,
                        sg_evidence_ref *out) {
    if (!ev || !e || !kind_valid(e->kind) || !strcmp(e->kind, "checkpoint") ||
        !strcmp(e->kind, "genesis"))
        return ev ? fail(ev, SG_EINVAL, "bad entry kind") : SG_EINVAL;
    int64_t ts = e->ts_ms ? e->ts_ms : wall_ms();
    json_t *o = entry_object(e->kind, ts);
    int rc = o ? add_scalars(o, e) : SG_ENOMEM;
    if (!rc) rc = add_reasons(o, e);
    if (!rc) rc = add_messages(ev, o, e);
    if (!rc && e->nurls) rc = json_object_set_new(o, "urls", strings(e->urls, e->nurls)) ? SG_ENOMEM : 0;
    if (!rc && e->nrefs) rc = json_object_set_new(o, "refs", strings(e->refs, e->nrefs)) ? SG_ENOMEM : 0;
    if (rc) {
        json_decref(o);
        return rc == SG_ENOMEM ? fail(ev, rc, "out of memory") : rc;
    }
    rc = write_entry(ev, o);
    json_decref(o);
    if (rc) return rc;
    if (out) {
        out->seq = ev->next_seq - 1;
        memcpy(out->hash, ev->head_hex, sizeof out->hash);
    }
    if (ev->last_ckpt_ts == 0) ev->last_ckpt_ts = ts;
    return checkpoint_due(ev, ts) ? sg__evidence_checkpoint(ev, ts) : SG_OK;
}

/* ------------------------------------------------------------ open */

static int write_genesis(sg_evidence *ev) {
    char pkx[2 * 32 + 1];
    sg__evidence_hex(ev->pk, 32, pkx);
    json_t *o = entry_object("genesis", wall_ms());
    if (!o || json_object_set_new(o, "format", json_string(FORMAT_NAME)) ||
        json_object_set_new(o, "key_id", json_string(ev->key_id)) ||
        json_object_set_new(o, "pubkey", json_string(pkx))) {
        json_decref(o);
        return fail(ev, SG_ENOMEM, "out of memory");
    }
    int rc = write_entry(ev, o);
    json_decref(o);
    return rc ? rc : (fdatasync(ev->fd), SG_OK);
}

/* Read the last `want` bytes (or the whole file) into *buf. */
static int read_tail(int fd, off_t size, size_t want, char **buf, off_t *at) {
    *at = size > (off_t)want ? size - (off_t)want : 0;
    size_t n = (size_t)(size - *at);
    *buf = sg__malloc(n + 1);
    if (!*buf) return SG_ENOMEM;
    if (pread(fd, *buf, n, *at) != (ssize_t)n) { sg__free(*buf); return SG_EIO; }
    (*buf)[n] = '\0';
    return SG_OK;
}

/* Set aside a torn last line: bytes [cut, size) go to torn-SEQ.bin and the
 * log is cut back to `cut`. */
static int quarantine(sg_evidence *ev, const char *tail, off_t tail_at, off_t cut,
                      off_t size, char *what, size_t cap) {
    char path[4200], name[64];
    snprintf(name, sizeof name, "torn-%llu.bin", (unsigned long long)ev->next_seq);
    path_in(ev->dir, name, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write_all(fd, tail + (cut - tail_at), (size_t)(size - cut)) || fsync(fd)) {
        if (fd >= 0) close(fd);
        return fail(ev, SG_EIO, "%s: %s", path, strerror(errno));
    }
    close(fd);
    if (ftruncate(ev->fd, cut))
        return fail(ev, SG_EIO, "%s/" LOG_NAME ": %s", ev->dir, strerror(errno));
    snprintf(what, cap, "torn last line of %lld bytes at offset %lld (a cut write) "
             "set aside in %s", (long long)(size - cut), (long long)cut, name);
    return SG_OK;
}

/* Count entries after the last checkpoint in the tail window. */
static void scan_checkpoints(sg_evidence *ev, const char *buf, size_t n) {
    uint64_t lines = 0;
    size_t end = n;
    while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && buf[start - 1] != '\n') start--;
        sg_ev_line l;
        if (end - 1 > start && sg__evidence_parse_line(buf + start, end - 1 - start, &l) &&
            l.checkpoint) {
            ev->since_ckpt = lines;
            return;
        }
        lines++;
        end = start;
    }
    ev->since_ckpt = lines;
}

/* Take up the chain where the file ends; note a torn tail in *what. */
static int resume(sg_evidence *ev, off_t size, char *what, size_t cap) {
    char *buf;
    off_t at;
    for (size_t want = 1 << 20;; want *= 4) {
        int rc = read_tail(ev->fd, size, want, &buf, &at);
        if (rc) return fail(ev, rc, "%s/" LOG_NAME ": cannot read", ev->dir);
        size_t n = (size_t)(size - at);
        size_t last_nl = n;
        while (last_nl > 0 && buf[last_nl - 1] != '\n') last_nl--;
        size_t start = last_nl ? last_nl - 1 : 0;
        while (start > 0 && buf[start - 1] != '\n') start--;
        if (last_nl && (start > 0 || at == 0)) {
            sg_ev_line l;
            bool ok = sg__evidence_parse_line(buf + start, last_nl - 1 - start, &l);
            unsigned char h[32];
            if (ok) sg__evidence_chain_hash(l.prev, l.digest, h);
            int rc = SG_OK;
            if (!ok || memcmp(h, l.hash, 32))
                rc = fail(ev, SG_EFORMAT, "%s/" LOG_NAME ": the last entry is damaged; "
                          "run spimguard evidence verify", ev->dir);
            if (!rc) {
                ev->next_seq = l.seq + 1;
                memcpy(ev->head, l.hash, 32);
                sg__evidence_hex(l.hash, 32, ev->head_hex);
                scan_checkpoints(ev, buf, last_nl);
                ev->size = at + (off_t)last_nl;
                if (last_nl < n) rc = quarantine(ev, buf, at, ev->size, size, what, cap);
            }
            sg__free(buf);
            return rc;
        }
        sg__free(buf);
        if (at == 0) /* not one whole line: the genesis itself was cut */
            return fail(ev, SG_EFORMAT, "%s/" LOG_NAME ": no whole entry in the file",
                        ev->dir);
    }
}

static int open_files(sg_evidence *ev, bool *recovered) {
    char path[4200], what[256] = "";
    path_in(ev->dir, LOG_NAME, path, sizeof path);
    ev->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (ev->fd < 0) return fail(ev, SG_EIO, "%s: %s", path, strerror(errno));
    if (flock(ev->fd, LOCK_EX | LOCK_NB))
        return fail(ev, SG_EIO, "%s: in use by another process (%s)", path, strerror(errno));
    path_in(ev->dir, TEXTS_NAME, path, sizeof path);
    ev->tfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (ev->tfd < 0) return fail(ev, SG_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(ev->fd, &st)) return fail(ev, SG_EIO, "%s: %s", ev->dir, strerror(errno));
    if (st.st_size == 0) return write_genesis(ev);
    int rc = resume(ev, st.st_size, what, sizeof what);
    if (rc || !what[0]) return rc;
    if (recovered) *recovered = true;
    sg_evidence_entry e = {.kind = "recovery", .actor = "engine", .note = what};
    return sg__evidence_append(ev, &e, NULL);
}

int sg__evidence_open(const sg_evidence_opts *o, sg_evidence **out,
                      bool *recovered, char *err, size_t errlen) {
    if (out) *out = NULL;
    if (recovered) *recovered = false;
    if (!o || !o->dir || !*o->dir || !out) {
        snprintf(err, errlen, "no evidence directory");
        return SG_EINVAL;
    }
    if (sodium_init() < 0) { snprintf(err, errlen, "libsodium cannot start"); return SG_EIO; }
    sg_evidence *ev = sg__calloc(1, sizeof *ev);
    if (!ev || !(ev->dir = sg__strdup(o->dir))) {
        sg__free(ev);
        snprintf(err, errlen, "out of memory");
        return SG_ENOMEM;
    }
    ev->fd = ev->tfd = -1;
    ev->every = o->checkpoint_every ? o->checkpoint_every : 1000;
    ev->every_ms = o->checkpoint_ms > 0 ? o->checkpoint_ms : 3600000;
    ev->sync_every = o->sync_every;
    sg__evidence_hex(ev->head, 32, ev->head_hex);
    int rc = mkdir_p(ev->dir) ? fail(ev, SG_EIO, "%s: %s", ev->dir, strerror(errno)) : SG_OK;
    if (!rc) rc = load_key(ev, o->key_path);
    if (!rc) rc = open_files(ev, recovered);
    if (rc) {
        snprintf(err, errlen, "%s", ev->err[0] ? ev->err : sg_strerror(rc));
        ev->since_ckpt = 0; /* no closing checkpoint on a failed open */
        sg__evidence_close(ev);
        return rc;
    }
    *out = ev;
    return SG_OK;
}

/* ------------------------------------------------------------ groups */

int sg__evidence_begin(sg_evidence *ev) {
    if (!ev) return SG_EINVAL;
    if (ev->grp.open) return fail(ev, SG_EINVAL, "a group is already open");
    ev->grp.open = true;
    ev->grp.checkpointed = false;
    ev->grp.nlog = ev->grp.ntexts = 0;
    ev->grp.next_seq = ev->next_seq;
    ev->grp.since_ckpt = ev->since_ckpt;
    ev->grp.size = ev->size;
    memcpy(ev->grp.head, ev->head, 32);
    ev->grp.last_ckpt_ts = ev->last_ckpt_ts;
    return SG_OK;
}

/* Put the chain back as it was at begin and close the group. */
static void group_rewind(sg_evidence *ev) {
    ev->next_seq = ev->grp.next_seq;
    ev->since_ckpt = ev->grp.since_ckpt;
    ev->size = ev->grp.size;
    memcpy(ev->head, ev->grp.head, 32);
    sg__evidence_hex(ev->head, 32, ev->head_hex);
    ev->last_ckpt_ts = ev->grp.last_ckpt_ts;
    ev->grp.open = false;
}

void sg__evidence_abort(sg_evidence *ev) {
    if (ev && ev->grp.open) group_rewind(ev);
}

int sg__evidence_commit(sg_evidence *ev) {
    if (!ev || !ev->grp.open) return SG_OK;
    ev->grp.open = false;
    if (ev->grp.ntexts && write_all(ev->tfd, ev->grp.texts, ev->grp.ntexts)) {
        int e = errno;
        group_rewind(ev);
        return fail(ev, SG_EIO, "%s/" TEXTS_NAME ": %s", ev->dir, strerror(e));
    }
    if (ev->grp.nlog && write_all(ev->fd, ev->grp.log, ev->grp.nlog)) {
        int e = errno;
        if (ftruncate(ev->fd, ev->grp.size)) { /* keep the log whole */ }
        group_rewind(ev);
        return fail(ev, SG_EIO, "%s/" LOG_NAME ": %s", ev->dir, strerror(e));
    }
    bool sync = ev->grp.nlog && (ev->sync_every || ev->grp.checkpointed);
    if (sync && (fdatasync(ev->fd) || (ev->tfd >= 0 && fdatasync(ev->tfd))))
        return fail(ev, SG_EIO, "%s: fdatasync: %s", ev->dir, strerror(errno));
    return SG_OK;
}

void sg__evidence_close(sg_evidence *ev) {
    if (!ev) return;
    sg__evidence_abort(ev); /* a group never committed is not evidence */
    if (ev->fd >= 0 && ev->since_ckpt > 0 && ev->next_seq > 0)
        sg__evidence_checkpoint(ev, wall_ms());
    if (ev->fd >= 0) { fdatasync(ev->fd); close(ev->fd); }
    if (ev->tfd >= 0) { fdatasync(ev->tfd); close(ev->tfd); }
    sodium_memzero(ev->sk, sizeof ev->sk);
    sg__free(ev->grp.log);
    sg__free(ev->grp.texts);
    sg__free(ev->dir);
    sg__free(ev);
}

uint64_t sg__evidence_count(const sg_evidence *ev) { return ev ? ev->next_seq : 0; }
const char *sg__evidence_head(const sg_evidence *ev) { return ev ? ev->head_hex : ""; }
const char *sg__evidence_errmsg(const sg_evidence *ev) { return ev ? ev->err : ""; }
const char *sg__evidence_dir(const sg_evidence *ev) { return ev ? ev->dir : ""; }

/* ------------------------------------------------------------ redaction */

static bool listed(const char *h, const char *const *hashes, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (hashes[i] && !strncmp(h, hashes[i], SG_EV_HEX_LEN) &&
            strlen(hashes[i]) == SG_EV_HEX_LEN)
            return true;
    return false;
}

/* Copy texts.jsonl to texts.jsonl.tmp without the listed hashes. */
static int copy_without(sg_evidence *ev, const char *src, const char *dst,
                        const char *const *hashes, size_t n, size_t *removed) {
    FILE *in = fopen(src, "r");
    int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = in && fd >= 0 ? SG_OK : fail(ev, SG_EIO, "%s: %s", src, strerror(errno));
    while (!rc && (len = getline(&line, &cap, in)) > 0) {
        bool drop = len > 6 + SG_EV_HEX_LEN && !strncmp(line, "{\"h\":\"", 6) &&
                    listed(line + 6, hashes, n);
        if (drop) (*removed)++;
        else if (line[len - 1] == '\n' && write_all(fd, line, (size_t)len))
            rc = fail(ev, SG_EIO, "%s: %s", dst, strerror(errno));
    }
    free(line);
    if (in) fclose(in);
    if (fd >= 0 && (fsync(fd) || close(fd)) && !rc)
        rc = fail(ev, SG_EIO, "%s: %s", dst, strerror(errno));
    return rc;
}

int sg__evidence_redact(sg_evidence *ev, const char *const *hashes, size_t n,
                        const char *reason, const char *actor, int64_t ts_ms,
                        size_t *removed) {
    size_t got = 0;
    if (removed) *removed = 0;
    if (!ev || !hashes || !n) return ev ? fail(ev, SG_EINVAL, "no text hash given") : SG_EINVAL;
    char src[4200], dst[4300];
    path_in(ev->dir, TEXTS_NAME, src, sizeof src);
    snprintf(dst, sizeof dst, "%s.tmp", src);
    if (fdatasync(ev->tfd)) return fail(ev, SG_EIO, "%s: %s", src, strerror(errno));
    int rc = copy_without(ev, src, dst, hashes, n, &got);
    if (!rc && got == 0) rc = fail(ev, SG_ENOTFOUND, "no text with the given hash(es)");
    if (rc) { unlink(dst); return rc; }
    if (rename(dst, src)) return fail(ev, SG_EIO, "%s: %s", src, strerror(errno));
    close(ev->tfd);
    ev->tfd = open(src, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (ev->tfd < 0) return fail(ev, SG_EIO, "%s: %s", src, strerror(errno));
    if (removed) *removed = got;
    sg_evidence_entry e = {.kind = "redaction", .ts_ms = ts_ms, .actor = actor ? actor : "operator",
                           .note = reason, .refs = hashes, .nrefs = n};
    return sg__evidence_append(ev, &e, NULL);
}
