/*
 * lookalike.c -- does a host imitate a protected brand?  Compares each label
 * and `-` token of the host with the brand labels (the label left of the
 * brand's public suffix: microsoft.com -> "microsoft") by UTS #39 skeleton,
 * a visual fold (rn->m vv->w cl->d 0->o 1->l ll->11), Damerau-Levenshtein
 * distance 1, and as a token (login-live-support, paypal.com.evil.example,
 * paypalsecure).  Lookups go through hash maps and a single-deletion index
 * (symmetric delete), so the cost per host does not grow with the number
 * of brands.  Whether the host is the brand's own or allow-listed is
 * decided by the caller (phish.c).
 */
#include "urls.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unicode/utf8.h>

#define LABEL_MAX 64   /* bytes of a label or token we compare */
#define FORM_MAX 256   /* bytes of a skeleton / fold */
#define MAX_LABELS 32
#define SHORT_BRAND 4  /* brand labels of <= 4 code points are "short" */
#define EDIT_MIN 5     /* edit distance only between labels of >= 5 */
#define AFFIX_MIN 7    /* brands this long also match at a label's ends */

typedef struct blabel {
    char label[LABEL_MAX];  /* Unicode form */
    char skel[FORM_MAX];    /* UTS #39 skeleton */
    char vis[LABEL_MAX];    /* visual fold of the label itself */
    char fold[FORM_MAX];    /* visual fold of the skeleton */
    size_t len, cps;        /* bytes, code points of label */
    uint32_t brand;         /* first brand with this label */
} blabel;

struct sg_brandidx {
    blabel *v;
    size_t n;
    uint64_t label_lens;  /* bit k: some brand label has k bytes */
    uint64_t fold_lens;   /* bit k: some brand fold (>= EDIT_MIN) has k bytes */
    sg_strmap by_label, by_fold, by_del, domains;
    uint32_t *del_lab, *del_next; /* chains of the deletion index */
    size_t ndel, capdel;
};

/* Host words that phishing domains put beside a brand (lure = 1), chosen
 * from the PhishTank hosts (login, secure, verify, account ...), and words
 * that are only glued to a brand (lure = 0: mynetflix, outlookwebappinfo). */
typedef struct word { const char *s; uint8_t len, lure; } word;
#define LW(s) {s, sizeof s - 1, 1}
#define GW(s) {s, sizeof s - 1, 0}
static const word words[] = {
    LW("login"), LW("logon"), LW("signin"), LW("sign"), LW("secure"),
    LW("security"), LW("verify"), LW("verification"), LW("verif"),
    LW("account"), LW("accounts"), LW("support"), LW("update"),
    LW("updates"), LW("confirm"), LW("confirmation"), LW("auth"),
    LW("authentication"), LW("billing"), LW("service"), LW("services"),
    LW("help"), LW("helpdesk"), LW("recovery"), LW("recover"), LW("unlock"),
    LW("reactivate"), LW("validate"), LW("validation"), LW("wallet"),
    LW("password"), LW("webscr"), LW("customer"), LW("official"),
    LW("online"), LW("app"), LW("apps"), LW("portal"), LW("access"),
    LW("restore"), LW("unblock"), LW("alert"), LW("alerts"), LW("notice"),
    LW("id"), LW("connect"), LW("claim"), LW("reward"), LW("rewards"),
    LW("gift"), LW("airdrop"), LW("team"),
    /* messenger-worm bait: "is this you in this video?" (fb-watch-video) */
    LW("video"), LW("videos"), LW("photo"), LW("photos"), LW("watch"),
    LW("viewer"),
    GW("my"), GW("web"), GW("info"), GW("mail"), GW("page"), GW("pages"),
    GW("center"), GW("centre"), GW("com"), GW("net"), GW("org"), GW("get")};
#define NWORDS (sizeof words / sizeof words[0])

const char *sg__match_name(sg_match m) {
    switch (m) {
    case SG_MATCH_SKELETON: return "skeleton";
    case SG_MATCH_EDIT: return "edit";
    case SG_MATCH_VISUAL: return "visual";
    case SG_MATCH_TOKEN: return "token";
    case SG_MATCH_BLOCKLIST: return "blocklist";
    default: return "none";
    }
}

/* ------------------------------------------------------------ forms */

static size_t count_cps(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Visual fold: rn->m vv->w cl->d 0->o O->o 1->l i->l (so "11" reads "ll");
 * other bytes unchanged.  Output never longer than input. */
static size_t visual_fold(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i], d = i + 1 < n ? s[i + 1] : 0;
        if (c == 'r' && d == 'n') { out[o++] = 'm'; i++; }
        else if (c == 'v' && d == 'v') { out[o++] = 'w'; i++; }
        else if (c == 'c' && d == 'l') { out[o++] = 'd'; i++; }
        else if (c == '0' || c == 'O') out[o++] = 'o';
        else if (c == '1' || c == 'i') out[o++] = 'l';
        else out[o++] = c;
    }
    out[o] = '\0';
    return o;
}

typedef struct forms {
    char skel[FORM_MAX], fold[FORM_MAX], vis[LABEL_MAX];
    size_t skel_len, fold_len, vis_len;
} forms;

static int make_forms(const sg_domain *d, const char *s, size_t n, forms *f) {
    if (n >= LABEL_MAX) return SG_EINVAL;
    int l = sg__domain_skeleton(d, s, n, f->skel, sizeof f->skel);
    if (l < 0) return l;
    f->skel_len = (size_t)l;
    f->fold_len = visual_fold(f->skel, f->skel_len, f->fold);
    f->vis_len = visual_fold(s, n, f->vis);
    return SG_OK;
}

/* ------------------------------------------------------------ distance */

static size_t decode(const char *s, size_t n, UChar32 *out, size_t cap) {
    size_t k = 0;
    for (int32_t i = 0; i < (int32_t)n;) {
        UChar32 c;
        U8_NEXT(s, i, (int32_t)n, c);
        if (k == cap) return cap + 1;
        out[k++] = c;
    }
    return k;
}

unsigned sg__lookalike_distance(const char *a, size_t na, const char *b,
                                size_t nb, unsigned cap) {
    UChar32 x[64], y[64];
    size_t n = decode(a, na, x, 63), m = decode(b, nb, y, 63);
    if (n > 63 || m > 63) return cap + 1;
    if ((n > m ? n - m : m - n) > cap) return cap + 1;
    unsigned d[64][64];
    for (size_t i = 0; i <= n; i++) d[i][0] = (unsigned)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (unsigned)j;
    for (size_t i = 1; i <= n; i++) {
        unsigned rowmin = ~0u;
        for (size_t j = 1; j <= m; j++) {
            unsigned cost = x[i - 1] != y[j - 1];
            unsigned v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
            if (v < rowmin) rowmin = v;
        }
        if (rowmin > cap) return cap + 1;
    }
    return d[n][m] > cap ? cap + 1 : d[n][m];
}

/* ------------------------------------------------------------ index */

static int del_add(sg_brandidx *x, const char *k, size_t n, uint32_t lab) {
    if (x->ndel == x->capdel) {
        size_t cap = x->capdel ? x->capdel * 2 : 256;
        uint32_t *a = sg__realloc(x->del_lab, cap * sizeof *a);
        if (!a) return SG_ENOMEM;
        x->del_lab = a;
        uint32_t *b = sg__realloc(x->del_next, cap * sizeof *b);
        if (!b) return SG_ENOMEM;
        x->del_next = b;
        x->capdel = cap;
    }
    uint32_t head = UINT32_MAX, node = (uint32_t)x->ndel;
    sg__strmap_get(&x->by_del, k, n, &head);
    for (uint32_t p = head; p != UINT32_MAX; p = x->del_next[p])
        if (x->del_lab[p] == lab) return SG_OK;
    x->del_lab[node] = lab;
    x->del_next[node] = head;
    x->ndel++;
    return sg__strmap_put(&x->by_del, k, n, node, true);
}

/* Index the fold of brand label `lab` and every single-code-point deletion
 * of it (symmetric delete: two strings within distance 1 share a key). */
static int index_deletions(sg_brandidx *x, uint32_t lab) {
    const blabel *b = &x->v[lab];
    size_t n = strlen(b->fold);
    int rc = del_add(x, b->fold, n, lab);
    char tmp[FORM_MAX];
    for (size_t i = 0; !rc && i < n;) {
        size_t l = 1;
        while (i + l < n && ((unsigned char)b->fold[i + l] & 0xC0) == 0x80) l++;
        memcpy(tmp, b->fold, i);
        memcpy(tmp + i, b->fold + i + l, n - i - l);
        rc = del_add(x, tmp, n - l, lab);
        i += l;
    }
    return rc;
}

/* Unicode form of the first label of a brand's registrable domain. */
static int brand_label(const sg_domain *d, const char *reg, char *out,
                       size_t *len) {
    sg_host *h = sg__malloc(sizeof *h);
    if (!h) return SG_ENOMEM;
    int rc = sg__domain_host(d, reg, strlen(reg), SG_HOST_SCHEME, h);
    if (!rc) {
        const char *dot = strchr(h->unicode, '.');
        size_t l = dot ? (size_t)(dot - h->unicode) : h->unicode_len;
        if (l >= LABEL_MAX) rc = SG_EINVAL;
        else { memcpy(out, h->unicode, l); out[l] = '\0'; *len = l; }
    }
    sg__free(h);
    return rc;
}

/* Add a new brand label entry (its forms and deletion keys); *lab gets
 * its index, or the index of the entry that already has this label. */
static int add_label(sg_brandidx *x, const sg_domain *d, const char *label,
                     size_t len, uint32_t bi, uint32_t *lab) {
    if (sg__strmap_get(&x->by_label, label, len, lab)) return SG_OK;
    blabel *e = &x->v[x->n];
    forms f;
    int rc = make_forms(d, label, len, &f);
    if (rc) return rc;
    memcpy(e->label, label, len);
    e->label[len] = '\0';
    e->len = len;
    memcpy(e->skel, f.skel, f.skel_len + 1);
    memcpy(e->fold, f.fold, f.fold_len + 1);
    memcpy(e->vis, f.vis, f.vis_len + 1);
    e->cps = count_cps(label, len);
    e->brand = bi;
    *lab = (uint32_t)x->n++;
    x->label_lens |= 1ull << (len & 63);
    if (e->cps >= EDIT_MIN) x->fold_lens |= 1ull << (f.fold_len & 63);
    if ((rc = sg__strmap_put(&x->by_label, label, len, *lab, false)) ||
        (rc = sg__strmap_put(&x->by_fold, e->fold, f.fold_len, *lab, false)))
        return rc;
    return e->cps >= EDIT_MIN ? index_deletions(x, *lab) : SG_OK;
}

static int index_brand(sg_brandidx *x, const sg_domain *d, const sg_brand *b,
                       uint32_t bi) {
    char label[LABEL_MAX];
    size_t len;
    uint32_t lab;
    int rc = brand_label(d, b->registrable, label, &len);
    if (rc) return rc == SG_ENOMEM ? rc : SG_OK; /* unusable: skip it */
    if ((rc = add_label(x, d, label, len, bi, &lab)))
        return rc == SG_EINVAL ? SG_OK : rc;
    if ((rc = sg__strmap_put(&x->domains, b->domain, strlen(b->domain), lab,
                             false)))
        return rc;
    return sg__strmap_put(&x->domains, b->registrable, strlen(b->registrable),
                          lab, false);
}

int sg__lookalike_index_new(const sg_domain *d, const sg_brand *brands,
                            size_t n, sg_brandidx **out) {
    *out = NULL;
    sg_brandidx *x = sg__calloc(1, sizeof *x);
    if (!x || !(x->v = sg__calloc(n ? n : 1, sizeof *x->v))) {
        sg__free(x);
        return SG_ENOMEM;
    }
    int rc = SG_OK;
    for (size_t i = 0; !rc && i < n; i++)
        rc = index_brand(x, d, &brands[i], (uint32_t)i);
    if (rc) {
        sg__lookalike_index_free(x);
        return rc;
    }
    *out = x;
    return SG_OK;
}

void sg__lookalike_index_free(sg_brandidx *x) {
    if (!x) return;
    sg__free(x->v);
    sg__strmap_free(&x->by_label);
    sg__strmap_free(&x->by_fold);
    sg__strmap_free(&x->by_del);
    sg__strmap_free(&x->domains);
    sg__free(x->del_lab);
    sg__free(x->del_next);
    sg__free(x);
}

/* ------------------------------------------------------------ matching */

typedef struct cand_match {
    sg_match match;
    bool literal;       /* the token is the brand label itself */
    uint32_t lab;
} cand_match;

/* Damerau-Levenshtein 1 through the deletion index. */
static bool match_edit(const sg_brandidx *x, const forms *f, uint32_t *lab) {
    char tmp[FORM_MAX];
    size_t n = f->fold_len;
    uint64_t near = (1ull << (n & 63)) | (1ull << ((n + 1) & 63)) |
                    (n ? 1ull << ((n - 1) & 63) : 0);
    if (n >= 63 || !(x->fold_lens & near)) return false; /* no brand that long */
    for (size_t i = 0; i <= n;) {
        size_t l = 0;
        const char *key = f->fold;
        size_t kl = n;
        if (i < n) {
            l = 1;
            while (i + l < n && ((unsigned char)f->fold[i + l] & 0xC0) == 0x80) l++;
            memcpy(tmp, f->fold, i);
            memcpy(tmp + i, f->fold + i + l, n - i - l);
            key = tmp;
            kl = n - l;
        }
        uint32_t p = UINT32_MAX;
        sg__strmap_get(&x->by_del, key, kl, &p);
        for (; p != UINT32_MAX; p = x->del_next[p]) {
            const blabel *b = &x->v[x->del_lab[p]];
            if (b->fold[0] == f->fold[0] &&
                sg__lookalike_distance(f->fold, n, b->fold, strlen(b->fold), 1) <= 1) {
                *lab = x->del_lab[p];
                return true;
            }
        }
        if (i == n) break;
        i += l;
    }
    return false;
}

/* Compare one label or token with the brand labels. */
static cand_match match_candidate(const sg_domain *d, const sg_brandidx *x,
                                  const char *c, size_t n, bool allow_edit) {
    cand_match r = {SG_MATCH_NONE, false, 0};
    if (!n || n >= LABEL_MAX) return r;
    if ((x->label_lens & (1ull << n)) && sg__strmap_get(&x->by_label, c, n, &r.lab)) {
        r.match = SG_MATCH_TOKEN;
        r.literal = true;
        return r;
    }
    forms f;
    if (make_forms(d, c, n, &f)) return r;
    if (sg__strmap_get(&x->by_fold, f.fold, f.fold_len, &r.lab)) {
        const blabel *b = &x->v[r.lab];
        bool skel_eq = !strcmp(f.skel, b->skel);
        if (b->cps <= SHORT_BRAND && !skel_eq) return r;
        bool vis_eq = !strcmp(f.vis, b->vis);
        r.match = (vis_eq || !skel_eq) ? SG_MATCH_VISUAL : SG_MATCH_SKELETON;
        return r;
    }
    if (allow_edit && count_cps(c, n) >= EDIT_MIN && match_edit(x, &f, &r.lab))
        r.match = SG_MATCH_EDIT;
    return r;
}

static bool is_lure_word(const char *s, size_t n) {
    for (size_t k = 0; k < NWORDS; k++)
        if (words[k].lure && words[k].len == n && words[k].s[0] == s[0] &&
            !memcmp(words[k].s, s, n))
            return true;
    return false;
}

/* Words of the table by first / last byte (index lists end with 0xFF). */
static uint8_t by_first[256][16], by_last[256][16];
static pthread_once_t ends_once = PTHREAD_ONCE_INIT;
static void ends_init(void) {
    memset(by_first, 0xFF, sizeof by_first);
    memset(by_last, 0xFF, sizeof by_last);
    for (size_t k = 0; k < NWORDS; k++) {
        uint8_t *f = by_first[(unsigned char)words[k].s[0]];
        uint8_t *l = by_last[(unsigned char)words[k].s[words[k].len - 1]];
        while (*f != 0xFF) f++;
        while (*l != 0xFF) l++;
        *f = (uint8_t)k;
        *l = (uint8_t)k;
    }
}

/* A word of the table (lure words, plus glue words with `extra`) ends at
 * s[i] (fwd: starts at s[i]); calls back with its length. */
static bool word_at(const char *s, size_t n, size_t i, bool fwd, bool extra,
                    bool *reach) {
    pthread_once(&ends_once, ends_init);
    if (fwd ? i >= n : i == 0) return false;
    const uint8_t *cand = fwd ? by_first[(unsigned char)s[i]]
                              : by_last[(unsigned char)s[i - 1]];
    bool any = false;
    for (; *cand != 0xFF; cand++) {
        const word *w = &words[*cand];
        if (!w->lure && !extra) continue;
        if (fwd) {
            if (i + w->len > n || memcmp(s + i, w->s, w->len)) continue;
            if (reach) reach[i + w->len] = true;
        } else {
            if (w->len > i || memcmp(s + i - w->len, w->s, w->len)) continue;
            if (reach) reach[i - w->len] = true;
        }
        any = true;
    }
    return any;
}

/* Positions of s reachable by gluing lure words (and, with `extra`, the
 * glue words) from the front (fwd) or from the back (!fwd): reach[i] for
 * the split s[0..i) / s[i..n). */
static void lure_reach(const char *s, size_t n, bool fwd, bool extra,
                       bool *reach) {
    memset(reach, 0, (n + 1) * sizeof *reach);
    reach[fwd ? 0 : n] = true;
    for (size_t step = 0; step <= n; step++) {
        size_t i = fwd ? step : n - step;
        if (reach[i]) word_at(s, n, i, fwd, extra, reach);
    }
}

/* ------------------------------------------------------------ a host */

typedef struct span { const char *p; size_t n; } span;

typedef struct hostview {
    span lab[MAX_LABELS];   /* Unicode labels */
    span alab[MAX_LABELS];  /* ASCII labels */
    size_t n;               /* labels */
    size_t reg;             /* index of the registrable label */
    bool lure;              /* a label or `-` token is a lure word */
    int8_t sfx[MAX_LABELS]; /* suffix_follows(i), -1 = not computed yet */
    const sg_domain *d;
} hostview;

static size_t split_labels(const char *s, span *out) {
    size_t n = 0;
    for (const char *p = s; n < MAX_LABELS;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        out[n++] = (span){p, l};
        if (!dot) break;
        p = dot + 1;
    }
    return n;
}

static bool host_has_lure(const hostview *v) {
    for (size_t i = 0; i <= v->reg; i++) {
        const char *p = v->lab[i].p, *end = p + v->lab[i].n;
        while (p < end) {
            const char *q = memchr(p, '-', (size_t)(end - p));
            if (!q) q = end;
            if (is_lure_word(p, (size_t)(q - p))) return true;
            p = q + 1;
        }
    }
    return false;
}

/* Do the subdomain labels after label i imitate the end of a domain: a
 * public suffix right after it or one label later (paypal.co.uk.x.example,
 * ebay.itm.com.x.shop), or a suffix glued to more text (ebay.com-item-1,
 * ebay.com1)? */
static bool suffix_follows(const sg_domain *d, const hostview *v, size_t i) {
    for (size_t j = i + 1; j < v->reg && j <= i + 2; j++) {
        const char *start = v->alab[j].p;
        for (size_t k = j; k < v->reg && k < j + 3; k++) {
            size_t len = (size_t)(v->alab[k].p + v->alab[k].n - start);
            if (sg__domain_is_suffix(d, start, len)) return true;
        }
    }
    const char *start = v->alab[i + 1].p;
    /* "com-secure-123", "com1": a suffix glued to more text */
    size_t k = 0, n = v->alab[i + 1].n;
    while (k < n && start[k] >= 'a' && start[k] <= 'z') k++;
    return k && k < n && (start[k] == '-' || (start[k] >= '0' && start[k] <= '9')) &&
           sg__domain_is_suffix(d, start, k);
}

/* suffix_follows(i), computed once per label when first asked. */
static bool sfx_after(hostview *v, size_t i) {
    if (v->sfx[i] < 0) v->sfx[i] = suffix_follows(v->d, v, i);
    return v->sfx[i];
}

static bool make_view(const sg_domain *d, const sg_host *h, hostview *v) {
    if (h->reg_off == SIZE_MAX) return false;
    v->n = split_labels(h->unicode, v->lab);
    if (split_labels(h->ascii, v->alab) != v->n || v->n == MAX_LABELS) return false;
    const char *reg = h->ascii + h->reg_off;
    size_t nreg = 1;
    for (const char *p = reg; *p; p++) nreg += *p == '.';
    if (nreg > v->n) return false;
    v->reg = v->n - nreg;
    v->lure = host_has_lure(v);
    memset(v->sfx, -1, sizeof v->sfx);
    v->d = d;
    return true;
}

static int strength(sg_match m) {
    return m == SG_MATCH_SKELETON || m == SG_MATCH_VISUAL ? 3
         : m == SG_MATCH_EDIT ? 2 : m == SG_MATCH_TOKEN ? 1 : 0;
}

static void swaps_of(const char *cand, const char *brand, char *out, size_t cap) {
    static const char *const pat[][2] = {{"rn", "rn→m"}, {"vv", "vv→w"},
        {"cl", "cl→d"}, {"11", "ll→11"}, {"0", "0→o"}, {"1", "1→l"}};
    out[0] = '\0';
    for (size_t k = 0; k < sizeof pat / sizeof pat[0]; k++) {
        if (!strstr(cand, pat[k][0]) || strstr(brand, pat[k][0])) continue;
        if (k == 5 && strstr(cand, "11") && strstr(brand, "ll")) continue;
        size_t o = strlen(out);
        snprintf(out + o, cap - o, "%s%s", o ? ", " : "", pat[k][1]);
    }
    if (!out[0] && strchr(cand, 'l') && strchr(brand, 'i'))
        snprintf(out, cap, "l→i");
}

static void record(const sg_brandidx *x, sg_lookalike *slot, sg_match m,
                   bool sub, uint32_t lab, const char *c, size_t n) {
    if (strength(m) <= strength(slot->match)) return;
    const blabel *b = &x->v[lab];
    slot->match = m;
    slot->in_subdomain = sub;
    slot->brand = b->brand;
    size_t l = n < sizeof slot->label - 1 ? n : sizeof slot->label - 1;
    memcpy(slot->label, c, l);
    slot->label[l] = '\0';
    slot->swap[0] = '\0';
    if (m == SG_MATCH_VISUAL) swaps_of(slot->label, b->label, slot->swap, sizeof slot->swap);
}

/* Where a candidate sits in the host. */
typedef struct place {
    size_t i;       /* label index */
    bool whole;     /* the whole label (not a token of it) */
    bool glued;     /* found by stripping glued lure words (a lure is there) */
} place;

/* Decide what a candidate match means at this place of the host. */
static void judge(const sg_brandidx *x, hostview *v, sg_lookalike *res,
                  place at, const char *c, size_t n, cand_match m) {
    if (m.match == SG_MATCH_NONE) return;
    const blabel *b = &x->v[m.lab];
    bool sub = at.i < v->reg, shortb = b->cps <= SHORT_BRAND;
    bool lure = v->lure || at.glued;
    sg_lookalike *slot = &res[sub ? 1 : 0];
    if (m.literal) {
        /* the whole registrable label (microsoft.de, paypal.github.io) is an
         * exact skeleton match, unless the brand has 1-2 letters; elsewhere
         * a short brand needs a lure word beside it (login-live-support,
         * fb-help; not live-score) */
        if ((sub || !at.whole) && shortb && !(lure && b->cps >= 2)) return;
        if (b->cps <= 2 && !lure) return; /* x.org, t.so: too short to tell */
        record(x, slot, SG_MATCH_TOKEN, sub, m.lab, c, n);
        return;
    }
    if (shortb && m.match != SG_MATCH_SKELETON) return;
    if (shortb && sub && !lure) return;
    /* a typo in a subdomain label: only for long brands or when a public
     * suffix follows (amaozn.co.jp.evil.example; not webchat.freenode.net) */
    if (sub && m.match == SG_MATCH_EDIT && b->cps < 7 && !sfx_after(v, at.i))
        return;
    record(x, slot, m.match, sub, m.lab, c, n);
}

/* Brand glued to lure words without a hyphen: paypalsecure, appleidlogin,
 * metamaskapp, mynetflix; a short brand only beside lure words proper
 * (hsbcsecurity, not zoominfo).  Literal / skeleton / visual matches. */
static void scan_glued(const sg_domain *d, const sg_brandidx *x,
                       hostview *v, place at, const char *p, size_t n,
                       sg_lookalike *res) {
    bool front[LABEL_MAX + 1], back[LABEL_MAX + 1];
    bool lfront[LABEL_MAX + 1], lback[LABEL_MAX + 1];
    if (n < 5 || n > LABEL_MAX - 1) return;
    if (!word_at(p, n, 0, true, true, NULL) && !word_at(p, n, n, false, true, NULL))
        return; /* no word glued at either end: the common case */
    lure_reach(p, n, true, true, front);
    lure_reach(p, n, false, true, back);
    lure_reach(p, n, true, false, lfront);
    lure_reach(p, n, false, false, lback);
    at.glued = true;
    at.whole = false;
    for (size_t a = 0; a < n; a++) {
        if (!front[a]) continue;
        for (size_t b = n; b >= a + 3; b--) {
            if (!back[b] || (a == 0 && b == n)) continue;
            cand_match m = match_candidate(d, x, p + a, b - a, false);
            if (m.match == SG_MATCH_NONE) continue;
            size_t cps = x->v[m.lab].cps;
            if (cps > SHORT_BRAND || (cps == SHORT_BRAND && lfront[a] && lback[b]))
                judge(x, v, res, at, p + a, b - a, m);
        }
    }
}

/* A long brand label (>= 7 code points) as the start or the end of a label
 * or token: pembatalanfacebook, allegrolokalnie.  Literal only. */
static void scan_affix(const sg_brandidx *x, hostview *v, place at,
                       const char *p, size_t n, sg_lookalike *res) {
    uint32_t lab;
    at.whole = false;
    for (size_t k = AFFIX_MIN; k + 2 <= n && k < LABEL_MAX; k++) {
        if (!(x->label_lens & (1ull << k))) continue;
        if (sg__strmap_get(&x->by_label, p, k, &lab) && x->v[lab].cps >= AFFIX_MIN)
            judge(x, v, res, at, p, k, (cand_match){SG_MATCH_TOKEN, true, lab});
        if (sg__strmap_get(&x->by_label, p + n - k, k, &lab) &&
            x->v[lab].cps >= AFFIX_MIN)
            judge(x, v, res, at, p + n - k, k, (cand_match){SG_MATCH_TOKEN, true, lab});
    }
}

/* Letter runs of a label with digits (metamask2x, paypal2024-login):
 * runs of >= 3 ASCII letters, literal / skeleton / visual matches only. */
static void scan_letter_runs(const sg_domain *d, const sg_brandidx *x,
                             hostview *v, place at, sg_lookalike *res) {
    const char *p = v->lab[at.i].p;
    size_t n = v->lab[at.i].n, a = 0;
    bool digits = false;
    for (size_t k = 0; k < n; k++) digits |= p[k] >= '0' && p[k] <= '9';
    if (!digits) return;
    at.whole = false;
    for (size_t k = 0; k <= n; k++) {
        bool letter = k < n && ((unsigned char)p[k] >= 0x80 ||
                                (p[k] >= 'a' && p[k] <= 'z'));
        if (letter) continue;
        if (k - a >= 3 && k - a < n)
            judge(x, v, res, at, p + a, k - a,
                  match_candidate(d, x, p + a, k - a, false));
        a = k + 1;
    }
}

/* One label or `-` token: compared whole, then with glued words removed,
 * then for a long brand at its start or end. */
static void scan_piece(const sg_domain *d, const sg_brandidx *x,
                       hostview *v, place at, const char *p, size_t n,
                       sg_lookalike *res) {
    judge(x, v, res, at, p, n, match_candidate(d, x, p, n, true));
    scan_glued(d, x, v, at, p, n, res);
    scan_affix(x, v, at, p, n, res);
}

/* Label i, its `-` tokens, its letter runs. */
static void scan_label(const sg_domain *d, const sg_brandidx *x,
                       hostview *v, size_t i, sg_lookalike *res) {
    const char *p = v->lab[i].p, *end = p + v->lab[i].n;
    if (v->lab[i].n == 3 && !memcmp(p, "www", 3)) return;
    scan_piece(d, x, v, (place){i, true, false}, p, v->lab[i].n, res);
    if (memchr(p, '-', v->lab[i].n)) {
        while (p < end) {
            const char *q = memchr(p, '-', (size_t)(end - p));
            if (!q) q = end;
            if (q - p >= 2)
                scan_piece(d, x, v, (place){i, false, false}, p, (size_t)(q - p), res);
            p = q + 1;
        }
    }
    scan_letter_runs(d, x, v, (place){i, false, false}, res);
}

/* The label is a brand label, or starts or ends with one of >= 3 code
 * points (ebayitm in ebayitm.com.evil.example). */
static bool brand_at_ends(const sg_brandidx *x, const char *p, size_t n,
                          uint32_t *lab) {
    if (sg__strmap_get(&x->by_label, p, n, lab)) return true;
    for (size_t k = 3; k < n && k < LABEL_MAX; k++)
        if ((x->label_lens & (1ull << k)) && (sg__strmap_get(&x->by_label, p, k, lab) ||
             sg__strmap_get(&x->by_label, p + n - k, k, lab)) &&
            x->v[*lab].cps >= 3)
            return true;
    return false;
}

/* A brand's domain inside the subdomain: paypal.com.evil.example,
 * hsbc.co.uk.evil.example, ebay.com-item-1234.evil.example,
 * ebaybuy.com.evil.example. */
static void scan_brand_domain(const sg_brandidx *x, hostview *v,
                              sg_lookalike *res) {
    char buf[SG_HOST_MAX];
    for (size_t i = 0; i + 1 < v->reg; i++) {
        uint32_t lab;
        if (sfx_after(v, i) && brand_at_ends(x, v->lab[i].p, v->lab[i].n, &lab)) {
            record(x, &res[1], SG_MATCH_TOKEN, true, lab, v->lab[i].p, v->lab[i].n);
            return;
        }
        size_t len = 0; /* multi-label brand domains: launchpad.ethereum.org */
        for (size_t k = i; k < v->reg && k < i + 4; k++) {
            if (len + v->alab[k].n + 1 >= sizeof buf) break;
            if (k > i) buf[len++] = '.';
            memcpy(buf + len, v->alab[k].p, v->alab[k].n);
            len += v->alab[k].n;
            if (k > i && sg__strmap_get(&x->domains, buf, len, &lab)) {
                record(x, &res[1], SG_MATCH_TOKEN, true, lab, buf, len);
                return;
            }
        }
    }
}

size_t sg__lookalike_find(const sg_domain *d, const sg_urllists *l,
                          const sg_host *h, sg_lookalike out[2]) {
    const sg_brandidx *x = l->idx;
    hostview v;
    if (!x || !x->n || h->is_ip || !make_view(d, h, &v)) return 0;
    sg_lookalike res[2];
    memset(res, 0, sizeof res);
    scan_brand_domain(x, &v, res);
    for (size_t i = 0; i <= v.reg; i++) scan_label(d, x, &v, i, res);
    size_t k = 0;
    for (int s = 0; s < 2; s++)
        if (res[s].match != SG_MATCH_NONE) out[k++] = res[s];
    return k;
}
