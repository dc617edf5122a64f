/*
 * lists.c -- the URL stage's lists: protected brands, allow-list, URL
 * shorteners, domain and URL blocklists.  Reads list files in the forms
 * operators have (plain, hosts file, CSV with a header, adblock `||x^`),
 * keeps them in xxHash open-addressing string maps, and builds a whole new
 * sg_urllists on every (re)load so a reload either fully succeeds or
 * changes nothing.  It judges nothing: phish.c and lookalike.c do.
 */
#define _GNU_SOURCE
#include "urls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

/* ------------------------------------------------------------ strmap */

struct sg_strmap_slot {
    uint64_t hash;
    uint32_t off, len; /* key in keys.p; len == UINT32_MAX: empty */
    uint32_t val;
};

static int strmap_grow(sg_strmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct sg_strmap_slot *s = sg__malloc(cap * sizeof *s);
    if (!s) return SG_ENOMEM;
    for (size_t i = 0; i < cap; i++) s[i].len = UINT32_MAX;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slot[i].len == UINT32_MAX) continue;
        size_t j = m->slot[i].hash & (cap - 1);
        while (s[j].len != UINT32_MAX) j = (j + 1) & (cap - 1);
        s[j] = m->slot[i];
    }
    sg__free(m->slot);
    m->slot = s;
    m->cap = cap;
    return SG_OK;
}

/* Slot holding key, or the empty slot where it would go. */
static size_t strmap_find(const sg_strmap *m, const char *k, size_t n,
                          uint64_t h) {
    size_t j = h & (m->cap - 1);
    for (;;) {
        const struct sg_strmap_slot *s = &m->slot[j];
        if (s->len == UINT32_MAX) return j;
        if (s->hash == h && s->len == n && !memcmp(m->keys.p + s->off, k, n))
            return j;
        j = (j + 1) & (m->cap - 1);
    }
}

int sg__strmap_put(sg_strmap *m, const char *k, size_t n, uint32_t val,
                   bool replace) {
    if (n >= UINT32_MAX || m->keys.len + n + 1 >= UINT32_MAX) return SG_EINVAL;
    if ((m->n + 1) * 2 > m->cap && strmap_grow(m)) return SG_ENOMEM;
    uint64_t h = XXH3_64bits(k, n);
    size_t j = strmap_find(m, k, n, h);
    struct sg_strmap_slot *s = &m->slot[j];
    if (s->len != UINT32_MAX) {
        if (replace) s->val = val;
        return SG_OK;
    }
    uint32_t off = (uint32_t)m->keys.len;
    if (sg__buf_append(&m->keys, k, n) || sg__buf_append(&m->keys, "", 1))
        return SG_ENOMEM;
    *s = (struct sg_strmap_slot){h, off, (uint32_t)n, val};
    m->n++;
    return SG_OK;
}

bool sg__strmap_get(const sg_strmap *m, const char *k, size_t n,
                    uint32_t *val) {
    if (!m->n) return false;
    size_t j = strmap_find(m, k, n, XXH3_64bits(k, n));
    if (m->slot[j].len == UINT32_MAX) return false;
    if (val) *val = m->slot[j].val;
    return true;
}

bool sg__strmap_has_domain(const sg_strmap *m, const char *host,
                           const char **hit, uint32_t *val) {
    if (!m->n) return false;
    for (const char *p = host; p; ) {
        const char *dot = strchr(p, '.');
        if (!dot) break; /* a single label (a TLD) never matches */
        if (sg__strmap_get(m, p, strlen(p), val)) {
            if (hit) *hit = p;
            return true;
        }
        p = dot + 1;
    }
    return false;
}

void sg__strmap_free(sg_strmap *m) {
    sg__free(m->slot);
    sg__buf_free(&m->keys);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ reading */

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Split one CSV record (RFC 4180 quoting, no multi-line fields) and return
 * field `col` in *f / *fn (quotes removed, "" kept as one quote char is not
 * needed for hosts).  @return true when the field exists. */
static bool csv_field(const char *s, size_t n, int col, const char **f,
                      size_t *fn) {
    int c = 0;
    size_t i = 0;
    while (i <= n) {
        size_t start = i, end;
        if (i < n && s[i] == '"') {
            start = ++i;
            while (i < n && !(s[i] == '"' && (i + 1 >= n || s[i + 1] != '"')))
                i += (s[i] == '"') ? 2 : 1;
            end = i < n ? i : n;
            while (i < n && s[i] != ',') i++;
        } else {
            while (i < n && s[i] != ',') i++;
            end = i;
        }
        if (c == col) {
            while (start < end && is_blank(s[start])) start++;
            while (end > start && is_blank(s[end - 1])) end--;
            *f = s + start;
            *fn = end - start;
            return true;
        }
        c++;
        i++;
    }
    return false;
}

/* Column named like a host/URL column in a CSV header line, or -1. */
static int csv_header_col(const char *s, size_t n) {
    static const char *const names[] = {"url", "domain", "host", "hostname",
                                        "fqdn", "dns", NULL};
    if (!memchr(s, ',', n)) return -1;
    for (int col = 0; col < 64; col++) {
        const char *f;
        size_t fn;
        if (!csv_field(s, n, col, &f, &fn)) break;
        for (int k = 0; names[k]; k++)
            if (strlen(names[k]) == fn && !strncasecmp(f, names[k], fn))
                return col;
    }
    return -1;
}

static bool looks_like_ip(const char *s, size_t n) {
    if (n == 2 && !memcmp(s, "::", 2)) return true;
    if (n == 3 && !memcmp(s, "::1", 3)) return true;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) return false;
    return n > 0;
}

static bool is_local_name(const char *s, size_t n) {
    static const char *const names[] = {"localhost", "localhost.localdomain",
                                        "local", "broadcasthost",
                                        "ip6-localhost", "ip6-loopback", NULL};
    for (int k = 0; names[k]; k++)
        if (strlen(names[k]) == n && !strncasecmp(s, names[k], n)) return true;
    return false;
}

/* Trim quotes, adblock `||`/`^`, wildcard `*.`, and a trailing dot. */
static void trim_entry(const char **s, size_t *n) {
    const char *p = *s;
    size_t l = *n;
    while (l && (*p == '"' || *p == '\'')) { p++; l--; }
    while (l && (p[l - 1] == '"' || p[l - 1] == '\'')) l--;
    if (l >= 2 && p[0] == '|' && p[1] == '|') { p += 2; l -= 2; }
    if (l && p[l - 1] == '^') l--;
    if (l >= 2 && p[0] == '*' && p[1] == '.') { p += 2; l -= 2; }
    if (l && p[l - 1] == '.' && !memmem(p, l, "://", 3)) l--;
    *s = p;
    *n = l;
}

/* Feed the entries of one plain / hosts-file line to cb. */
static int plain_line(const char *s, size_t n, size_t lineno, sg_list_cb cb,
                      void *ud) {
    const char *f[64];
    size_t fl[64], nf = 0;
    for (size_t i = 0; i < n && nf < 64;) {
        while (i < n && (is_blank(s[i]) || s[i] == ',' || s[i] == ';')) i++;
        size_t st = i;
        while (i < n && !is_blank(s[i]) && s[i] != ',' && s[i] != ';') i++;
        if (i > st) { f[nf] = s + st; fl[nf++] = i - st; }
    }
    size_t first = (nf > 1 && looks_like_ip(f[0], fl[0])) ? 1 : 0;
    for (size_t k = first; k < nf; k++) {
        const char *e = f[k];
        size_t el = fl[k];
        trim_entry(&e, &el);
        if (!el || is_local_name(e, el)) continue;
        int rc = cb(ud, e, el, lineno);
        if (rc) return rc;
    }
    return SG_OK;
}

/* Cut a comment: whole-line `#`/`!`/`;`, or ` #...` after an entry. */
static size_t strip_comment(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && is_blank(s[i])) i++;
    if (i < n && (s[i] == '#' || s[i] == '!' || s[i] == ';' ||
                  (s[i] == '[' && s[n - 1] == ']')))
        return 0;
    for (size_t j = i; j + 1 < n; j++)
        if (is_blank(s[j]) && s[j + 1] == '#') return j;
    return n;
}

int sg__list_read(const char *path, sg_list_cb cb, void *ud, char *err,
                  size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SG_EIO;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int rc = SG_OK, csv_col = -2; /* -2: header not looked at yet */
    while (!rc && (got = getline(&line, &cap, f)) >= 0) {
        size_t n = (size_t)got;
        char *s = line;
        lineno++;
        if (lineno == 1 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) { s += 3; n -= 3; }
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
        if (!(n = strip_comment(s, n))) continue;
        if (csv_col == -2) {
            csv_col = csv_header_col(s, n);
            if (csv_col >= 0) continue;
        }
        if (csv_col >= 0) {
            const char *e;
            size_t el;
            if (csv_field(s, n, csv_col, &e, &el)) {
                trim_entry(&e, &el);
                if (el) rc = cb(ud, e, el, lineno);
            }
        } else {
            rc = plain_line(s, n, lineno, cb, ud);
        }
    }
    if (!rc && ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = SG_EIO;
    }
    free(line); /* allocated by getline, not by sg__malloc */
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------ URL keys */

size_t sg__url_key(const char *url, size_t n, char *buf, size_t cap) {
    const char *p = url, *end = url + n;
    const char *sch = memmem(url, n, "://", 3);
    if (sch) p = sch + 3;
    const char *at = NULL;
    for (const char *q = p; q < end && *q != '/' && *q != '?' && *q != '#'; q++)
        if (*q == '@') at = q;
    if (at) p = at + 1;
    if (end - p >= 4 && !strncasecmp(p, "www.", 4)) p += 4;
    const char *hash = memchr(p, '#', (size_t)(end - p));
    if (hash) end = hash;
    if (end > p && end[-1] == '/') end--;
    size_t len = (size_t)(end - p), i = 0;
    if (!len || len + 1 > cap) return 0;
    bool in_host = true;
    for (; i < len; i++) {
        char c = p[i];
        if (c == '/' || c == '?') in_host = false;
        buf[i] = (in_host && c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    buf[len] = '\0';
    return len;
}

/* ------------------------------------------------------------ loading */

typedef struct load_ctx {
    const sg_domain *d;
    sg_urllists *l;
    sg_strmap *set;     /* domain set being filled */
    bool urls_too;      /* blocklist: URL entries go to l->block_url */
    size_t bad;         /* entries that are neither domain nor URL */
} load_ctx;

/* Lower-case ACE form of a domain entry; false when it is not a host. */
static bool entry_host(const sg_domain *d, const char *e, size_t n,
                       sg_host *h) {
    return n < SG_HOST_UMAX &&
           sg__domain_host(d, e, n, SG_HOST_SCHEME, h) == SG_OK &&
           (h->is_ip || memchr(h->ascii, '.', h->ascii_len));
}

static int add_domain_entry(void *ud, const char *e, size_t n, size_t lineno) {
    load_ctx *c = ud;
    (void)lineno;
    bool is_url = memmem(e, n, "://", 3) || memchr(e, '/', n);
    if (is_url) {
        if (!c->urls_too) { c->bad++; return SG_OK; }
        char key[2048];
        size_t kl = sg__url_key(e, n, key, sizeof key);
        if (!kl) { c->bad++; return SG_OK; }
        /* a URL that is only a host blocks the whole host */
        if (!memchr(key, '/', kl) && !memchr(key, '?', kl)) {
            sg_host h;
            if (entry_host(c->d, key, kl, &h))
                return sg__strmap_put(c->set, h.ascii, h.ascii_len, 0, false);
        }
        return sg__strmap_put(&c->l->block_url, key, kl, 0, false);
    }
    sg_host *h = sg__malloc(sizeof *h);
    if (!h) return SG_ENOMEM;
    int rc = SG_OK;
    if (entry_host(c->d, e, n, h))
        rc = sg__strmap_put(c->set, h->ascii, h->ascii_len, 0, false);
    else
        c->bad++;
    sg__free(h);
    return rc;
}

/* "google.*": every registrable domain google.<ICANN suffix> is the
 * brand's own (google.de, google.co.uk). */
static int add_brand_wildcard(load_ctx *c, const char *e, size_t n,
                              size_t lineno) {
    char tmp[80];
    sg_host h;
    if (n < 3 || n - 2 + 5 > sizeof tmp || memchr(e, '.', n - 2)) {
        c->bad++;
        return SG_OK;
    }
    memcpy(tmp, e, n - 2);
    memcpy(tmp + n - 2, ".com", 5);
    if (!entry_host(c->d, tmp, n + 2, &h)) { c->bad++; return SG_OK; }
    return sg__strmap_put(&c->l->own_label, h.ascii, h.ascii_len - 4,
                          (uint32_t)lineno, false);
}

static int add_brand_entry(void *ud, const char *e, size_t n, size_t lineno) {
    load_ctx *c = ud;
    sg_urllists *l = c->l;
    sg_host h;
    if (n > 2 && e[n - 1] == '*' && e[n - 2] == '.')
        return add_brand_wildcard(c, e, n, lineno);
    if (memchr(e, '/', n) || !entry_host(c->d, e, n, &h) || h.is_ip ||
        h.reg_off == SIZE_MAX) {
        c->bad++;
        return SG_OK;
    }
    uint32_t dup;
    if (sg__strmap_get(&l->own, h.ascii + h.reg_off,
                       h.ascii_len - h.reg_off, &dup) &&
        !strcmp(l->brands[dup].domain, h.ascii))
        return SG_OK;
    if (l->nbrands % 64 == 0) {
        sg_brand *v = sg__realloc(l->brands, (l->nbrands + 64) * sizeof *v);
        if (!v) return SG_ENOMEM;
        l->brands = v;
    }
    char *dom = sg__strdup(h.ascii);
    if (!dom) return SG_ENOMEM;
    sg_brand *b = &l->brands[l->nbrands];
    *b = (sg_brand){dom, dom + h.reg_off, (uint32_t)lineno};
    l->nbrands++;
    const char *dot = strchr(b->registrable, '.');
    int rc = sg__strmap_put(&l->brand_label, b->registrable,
                            (size_t)(dot - b->registrable), (uint32_t)lineno,
                            false);
    return rc ? rc : sg__strmap_put(&l->own, b->registrable,
                                    strlen(b->registrable),
                                    (uint32_t)(l->nbrands - 1), false);
}

/* Read one file into `set` (or the brands); shipped = look it up with
 * sg__data_path. */
static int load_one(load_ctx *c, const char *name, bool shipped, sg_list_cb cb,
                    sg_buf *files, char *err, size_t errlen) {
    char path[4096];
    if (shipped) {
        if (sg__data_path(name, path, sizeof path)) {
            snprintf(err, errlen, "shipped list data/%s not found "
                     "(set SPIMGUARD_DATADIR)", name);
            return SG_EIO;
        }
        name = path;
    }
    int rc = sg__list_read(name, cb, c, err, errlen);
    if (!rc && files->len) rc = sg__buf_append(files, " ", 1);
    if (!rc) rc = sg__buf_append(files, name, strlen(name));
    return rc;
}

static int load_all(load_ctx *c, const sg_listfiles *fl, sg_buf *files,
                    char *err, size_t errlen) {
    sg_urllists *l = c->l;
    int rc;
    if ((rc = load_one(c, fl->brands ? fl->brands : "brands.txt", !fl->brands,
                       add_brand_entry, files, err, errlen)))
        return rc;
    if (!l->nbrands) {
        snprintf(err, errlen, "%s: no valid brand domain",
                 fl->brands ? fl->brands : "brands.txt");
        return SG_EFORMAT;
    }
    c->set = &l->allow;
    if ((rc = load_one(c, "allow.txt", true, add_domain_entry, files, err, errlen)) ||
        (fl->allow && (rc = load_one(c, fl->allow, false, add_domain_entry,
                                     files, err, errlen))))
        return rc;
    c->set = &l->shorteners;
    if ((rc = load_one(c, "shorteners.txt", true, add_domain_entry, files,
                       err, errlen)))
        return rc;
    c->set = &l->block_dom;
    c->urls_too = true;
    if ((rc = load_one(c, "blocklist.txt", true, add_domain_entry, files,
                       err, errlen)) ||
        (fl->blocklist && (rc = load_one(c, fl->blocklist, false,
                                         add_domain_entry, files, err,
                                         errlen))))
        return rc;
    return SG_OK;
}

int sg__lists_load(const sg_domain *d, const sg_listfiles *files,
                   sg_urllists **out, char *err, size_t errlen) {
    static const sg_listfiles none = {0};
    *out = NULL;
    if (!files) files = &none;
    sg_urllists *l = sg__calloc(1, sizeof *l);
    if (!l) return SG_ENOMEM;
    load_ctx c = {.d = d, .l = l};
    sg_buf names = {0};
    int rc = load_all(&c, files, &names, err, errlen);
    if (!rc) {
        rc = sg__lookalike_index_new(d, l->brands, l->nbrands, &l->idx);
        if (rc) snprintf(err, errlen, "cannot index brands: %s", sg_strerror(rc));
    }
    if (rc) {
        sg__buf_free(&names);
        sg__lists_free(l);
        return rc;
    }
    l->files = names.p;
    *out = l;
    return SG_OK;
}

bool sg__lists_own(const sg_domain *d, const sg_urllists *l, const char *reg,
                   uint32_t *group) {
    uint32_t v;
    if (sg__strmap_get(&l->own, reg, strlen(reg), &v)) {
        if (group) *group = l->brands[v].group;
        return true;
    }
    const char *dot = strchr(reg, '.');
    if (!dot || !l->own_label.n ||
        !sg__strmap_get(&l->own_label, reg, (size_t)(dot - reg), &v) ||
        !sg__domain_icann_suffix(d, reg))
        return false;
    if (group) *group = v;
    return true;
}

void sg__lists_free(sg_urllists *l) {
    if (!l) return;
    for (size_t i = 0; i < l->nbrands; i++) sg__free(l->brands[i].domain);
    sg__free(l->brands);
    sg__strmap_free(&l->own);
    sg__strmap_free(&l->own_label);
    sg__strmap_free(&l->brand_label);
    sg__strmap_free(&l->allow);
    sg__strmap_free(&l->shorteners);
    sg__strmap_free(&l->block_dom);
    sg__strmap_free(&l->block_url);
    sg__lookalike_index_free(l->idx);
    sg__free(l->files);
    sg__free(l);
}
