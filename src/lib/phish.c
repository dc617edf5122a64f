/*
 * phish.c -- the URL detector row (sg__detector_urls): judges each link of
 * a message (blocklist, shortener, raw IP, mixed-script or whole-script
 * confusable host, written punycode, brand lookalike, brand in a subdomain)
 * and the message as a whole (credential lure: a support/security-team
 * claim or a request to verify / unlock an account or enter a password or
 * code, beside a link to a domain that is not the named brand's).  Turns
 * findings into weighted signals with readable details.  Extraction is
 * urls.c's, host analysis domain.c's, brand matching lookalike.c's.
 */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include "urls.h"

#include <pcre2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ weights */

/* Log-odds added to the content model's (policy.c sums them).  Calibrated
 * on the 461 real ham messages with a link in irc_ubuntu_ham, the SMS test
 * split and the YouTube set, with that link replaced by a lookalike
 * (https://rnicrosoft-login.com/x), scored with the default model: their
 * other log-odds have median -2.4 and 5th percentile -4.6; a lookalike
 * weight of 7 puts 96 % of them above 0.9 (5 would put 63 %).  A lure with
 * a foreign link (7.5) clears 0.97 from a margin of -4 (sigmoid(3.5)).  A
 * shortener alone only nudges (0.7). */
static const struct {
    const char *code;
    double weight;
    unsigned labels;
    sg_action floor;
} kinds[SG_FIND_COUNT_] = {
    [SG_FIND_LOOKALIKE_DOMAIN] = {"LOOKALIKE_DOMAIN", 7.0,
                                  SG_LABEL_LOOKALIKE_URL, SG_ACTION_WARN},
    [SG_FIND_BRAND_IN_SUBDOMAIN] = {"BRAND_IN_SUBDOMAIN", 6.5,
                                    SG_LABEL_LOOKALIKE_URL, SG_ACTION_WARN},
    [SG_FIND_BLOCKLISTED_URL] = {"BLOCKLISTED_URL", 7.0,
                                 SG_LABEL_BLOCKLISTED_URL, SG_ACTION_HOLD},
    [SG_FIND_SHORTENER] = {"SHORTENER", 0.7, 0, SG_ACTION_DELIVER},
    [SG_FIND_IP_URL] = {"IP_URL", 1.5, 0, SG_ACTION_DELIVER},
    [SG_FIND_MIXED_SCRIPT_HOST] = {"MIXED_SCRIPT_HOST", 3.0,
                                   SG_LABEL_LOOKALIKE_URL, SG_ACTION_WARN},
    [SG_FIND_PUNYCODE_HOST] = {"PUNYCODE_HOST", 1.0, 0, SG_ACTION_DELIVER},
};

#define LURE_CODE "CREDENTIAL_LURE"
#define LURE_WEIGHT 7.5

const char *sg__find_code(sg_findkind k) {
    return k < SG_FIND_COUNT_ ? kinds[k].code : "?";
}

/* ------------------------------------------------------------ lures */

/* Phrases of credential phishing (case-insensitive, on the normalized
 * text).  English from the PhishTank / SMS spam wording, plus German,
 * Spanish, French, Portuguese and Russian equivalents. */
static const char lure_re[] =
    /* claims to be a team of the service */
    "\\b(?:support|security|safety|account|accounts|billing|verification"
    "|fraud|abuse|help|service|admin|administration|moderation|trust"
    "(?:\\s+(?:and|&)\\s+safety)?)\\s+(?:team|department|dept|center|centre"
    "|desk|staff|unit)\\b"
    "|\\b(?:customer|technical|tech)\\s+(?:support|service|care)\\b"
    /* asks to verify / unlock an account */
    "|\\b(?:verify|confirm|unlock|reactivate|re-activate|validate|unblock"
    "|unsuspend|reconfirm|re-confirm|authenticate)\\s+(?:(?:your|the|this|ur"
    "|my)\\s+)?(?:[\\w-]+\\s+){0,2}?(?:account|identity|login|log-in|password"
    "|details|information|info|profile|wallet|id|e-?mail|mailbox|billing"
    "|payment|card|credentials|access|ownership)s?\\b"
    "|\\b(?:update|restore|recover|secure|reset)\\s+(?:(?:your|the|this|ur)"
    "\\s+)?(?:[\\w-]+\\s+){0,2}?(?:account|password|billing|payment|card"
    "|credentials|wallet)s?\\b"
    /* asks to enter a secret */
    "|\\benter\\s+(?:(?:your|the|ur)\\s+)?(?:[\\w-]+\\s+){0,2}?(?:password"
    "|passcode|code|pin|otp|credentials|login|2fa|seed|recovery\\s+phrase)\\b"
    "|\\b(?:seed|recovery|secret)\\s+phrase\\b"
    /* messenger-worm bait that leads to a fake login page: "is this you in
     * this video?", "look what I found about you" (the Facebook Messenger
     * video worms of 2017-2018 and their successors) */
    "|\\bis\\s+(?:this|that|it)\\s+(?:really\\s+)?(?:you|u)\\s+in\\s+(?:this|the|that)"
    "\\s+(?:video|vid|photo|pic|picture|clip|movie)\\b"
    "|\\b(?:you|u)\\s*(?:are|'re|r)\\s+in\\s+(?:this|the)\\s+(?:video|vid|photo|pic|clip)\\b"
    "|\\blook\\s+(?:at\\s+)?what\\s+i\\s+found\\s+(?:about|of|on)\\s+(?:you|u)\\b"
    /* threatens the account, active voice: "X locked your account" */
    "|\\b(?:locked|suspended|closed|disabled|limited|restricted|deactivated"
    "|blocked|froze|frozen|terminated|banned)\\s+(?:your|ur)\\s+"
    "(?:[\\w-]+\\s+){0,2}?account\\b"
    /* asks to verify with no object: "verify here", "confirm now" */
    "|\\b(?:verify|confirm|validate|authenticate)\\s+(?:here|now|below|"
    "immediately|within|via|through|by\\s+clicking|at\\s+the\\s+link)\\b"
    /* threatens the account */
    "|\\byour\\s+(?:[\\w-]+\\s+){0,2}?account\\s+(?:has\\s+been|will\\s+be"
    "|is|was|may\\s+be|has|got|is\\s+being)\\s+(?:[\\w-]+\\s+){0,2}?"
    "(?:locked|suspended|closed|disabled|limited|restricted|deactivated"
    "|blocked|compromised|terminated|deleted|banned|on\\s+hold|frozen)\\b"
    /* de */
    "|(?:bestätigen|verifizieren|entsperren|reaktivieren)\\s+sie\\s+ihr"
    "(?:e|en)?\\s+(?:konto|identität|passwort|zugang|daten)"
    "|ihr\\s+konto\\s+(?:wurde|wird)\\s+(?:\\w+\\s+)?(?:gesperrt"
    "|eingeschränkt|deaktiviert|geschlossen)"
    "|\\b(?:sicherheits|support)-?team\\b"
    /* es / pt */
    "|(?:verifique|confirme|verifica|confirma|desbloquee|desbloqueie|reactive"
    "|reative)\\s+(?:su|tu|sua|seu)\\s+(?:cuenta|conta|identidad|identidade"
    "|contraseña|senha)"
    "|(?:su|tu|sua)\\s+(?:cuenta|conta)\\s+(?:ha\\s+sido|será|fue|está|foi"
    "|está)\\s+(?:suspendida|bloqueada|limitada|cerrada|desactivada|suspensa"
    "|desativada)"
    /* fr */
    "|(?:vérifiez|confirmez|débloquez|réactivez)\\s+votre\\s+(?:compte"
    "|identité|mot\\s+de\\s+passe)"
    "|votre\\s+compte\\s+(?:a\\s+été|sera|est)\\s+(?:suspendu|bloqué|limité"
    "|fermé|désactivé)"
    /* ru */
    "|(?:подтвердите|верифицируйте|разблокируйте|восстановите)\\s+(?:ваш\\s+"
    "|свой\\s+|вашу\\s+|свою\\s+)?(?:аккаунт|учетную\\s+запись|учётную\\s+"
    "запись|пароль|личность|профиль|страницу)"
    "|(?:ваш|ваша)\\s+(?:аккаунт|учетная\\s+запись|учётная\\s+запись|страница)"
    "\\s+(?:был[аи]?\\s+|будет\\s+)?(?:заблокирован|заморожен|ограничен"
    "|удален)"
    "|введите\\s+(?:ваш\\s+|свой\\s+)?(?:пароль|код)"
    "|служба\\s+(?:поддержки|безопасности)";

struct sg_lure {
    pcre2_code *re;     /* read-only after sg__lure_new: shared by threads */
};

int sg__lure_new(struct sg_lure **out) {
    *out = NULL;
    struct sg_lure *l = sg__calloc(1, sizeof *l);
    if (!l) return SG_ENOMEM;
    int err;
    PCRE2_SIZE off;
    l->re = pcre2_compile((PCRE2_SPTR)lure_re, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_CASELESS | PCRE2_NO_UTF_CHECK,
                          &err, &off, NULL);
    if (!l->re) { sg__free(l); return SG_EFORMAT; }
    pcre2_jit_compile(l->re, PCRE2_JIT_COMPLETE); /* optional speed-up */
    *out = l;
    return SG_OK;
}

void sg__lure_free(struct sg_lure *l) {
    if (!l) return;
    pcre2_code_free(l->re);
    sg__free(l);
}

/* The lure phrase in s (valid UTF-8) into phrase, or false.  The match
 * data is the call's own (one small block), so threads may match at once;
 * out of memory counts as no match. */
static bool lure_match(struct sg_lure *l, const char *s, size_t n,
                       char *phrase, size_t cap) {
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return false;
    int rc = pcre2_match(l->re, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK, md, NULL);
    if (rc >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t len = ov[1] - ov[0];
        if (len >= cap) len = cap - 1;
        memcpy(phrase, s + ov[0], len);
        phrase[len] = '\0';
    }
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* ------------------------------------------------------------ judging */

bool sg__urls_trusted(const sg_urls *st, const sg_url *u, uint32_t group) {
    const sg_urllists *l = st->lists;
    if (!u->registrable) return false;
    if (sg__strmap_has_domain(&l->allow, u->host, NULL, NULL)) return true;
    uint32_t g;
    if (!sg__lists_own(st->dom, l, u->registrable, &g)) return false;
    return group == UINT32_MAX || g == group;
}

static void add(sg_urlfinding *out, size_t cap, size_t *n, sg_findkind k,
                sg_match m, const char *brand, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void add(sg_urlfinding *out, size_t cap, size_t *n, sg_findkind k,
                sg_match m, const char *brand, const char *fmt, ...) {
    if (*n >= cap) return;
    sg_urlfinding *f = &out[(*n)++];
    f->kind = k;
    f->match = m;
    f->brand = brand;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof f->detail, fmt, ap);
    va_end(ap);
}

static void judge_lookalike(const sg_urls *st, const sg_url *u, const sg_host *h,
                            sg_urlfinding *out, size_t cap, size_t *n) {
    sg_lookalike la[2];
    size_t k = sg__lookalike_find(st->dom, st->lists, h, la);
    for (size_t i = 0; i < k; i++) {
        const char *brand = st->lists->brands[la[i].brand].domain;
        char how[96];
        switch (la[i].match) {
        case SG_MATCH_VISUAL:
            snprintf(how, sizeof how, "%s", la[i].swap[0] ? la[i].swap : "visual swap");
            break;
        case SG_MATCH_SKELETON:
            snprintf(how, sizeof how, "same UTS #39 skeleton");
            break;
        case SG_MATCH_EDIT:
            snprintf(how, sizeof how, "edit distance 1: \"%s\"", la[i].label);
            break;
        default:
            snprintf(how, sizeof how, "brand token \"%s\"", la[i].label);
        }
        if (la[i].in_subdomain)
            add(out, cap, n, SG_FIND_BRAND_IN_SUBDOMAIN, la[i].match, brand,
                "%s carries %s in a subdomain (%s)", u->host_unicode, brand, how);
        else
            add(out, cap, n, SG_FIND_LOOKALIKE_DOMAIN, la[i].match, brand,
                "%s looks like %s (%s)", u->host_unicode, brand, how);
    }
}

static void judge_scripts(const sg_urls *st, const sg_url *u,
                          sg_urlfinding *out, size_t cap, size_t *n) {
    const char *p = u->host_unicode;
    const char *tld = strrchr(p, '.');
    bool ascii_tld = true;
    for (const char *q = tld ? tld : p; *q; q++) ascii_tld &= !((unsigned char)*q & 0x80);
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        sg_labelscript s = sg__domain_label_script(st->dom, p, l);
        if (s == SG_LABEL_MIXED) {
            add(out, cap, n, SG_FIND_MIXED_SCRIPT_HOST, SG_MATCH_NONE, NULL,
                "%s mixes scripts in \"%.*s\"", u->host_unicode, (int)l, p);
            return;
        }
        if (s == SG_LABEL_WHOLE_CONFUSABLE && ascii_tld) {
            add(out, cap, n, SG_FIND_MIXED_SCRIPT_HOST, SG_MATCH_NONE, NULL,
                "%s: \"%.*s\" is written in another script but reads as Latin "
                "(whole-script confusable)", u->host_unicode, (int)l, p);
            return;
        }
        if (!dot) break;
        p = dot + 1;
    }
}

static bool blocklisted(const sg_urls *st, const sg_url *u, const char **what) {
    const sg_urllists *l = st->lists;
    if (sg__strmap_has_domain(&l->block_dom, u->host, what, NULL)) return true;
    if (u->flags & SG_URL_IP &&
        sg__strmap_get(&l->block_dom, u->host, strlen(u->host), NULL)) {
        *what = u->host;
        return true;
    }
    char key[2048];
    size_t kl = sg__url_key(u->url, strlen(u->url), key, sizeof key);
    if (kl && sg__strmap_get(&l->block_url, key, kl, NULL)) {
        *what = u->url;
        return true;
    }
    return false;
}

/* The analysed host of an extracted URL, without analysing it again. */
static bool host_of(const sg_url *u, sg_host *h) {
    size_t al = strlen(u->host), ul = strlen(u->host_unicode);
    size_t rl = u->registrable ? strlen(u->registrable) : 0;
    if (al >= SG_HOST_MAX || ul >= SG_HOST_UMAX || rl > al) return false;
    memcpy(h->ascii, u->host, al + 1);
    memcpy(h->unicode, u->host_unicode, ul + 1);
    h->ascii_len = al;
    h->unicode_len = ul;
    h->reg_off = u->registrable ? al - rl : SIZE_MAX;
    h->is_ip = u->flags & SG_URL_IP;
    h->punycode = false;
    return true;
}

size_t sg__urls_judge(const sg_urls *st, const sg_url *u, sg_urlfinding *out,
                      size_t cap) {
    size_t n = 0;
    const char *what = NULL;
    if (!st || !st->lists) return 0;
    if (blocklisted(st, u, &what))
        add(out, cap, &n, SG_FIND_BLOCKLISTED_URL, SG_MATCH_BLOCKLIST, NULL,
            "%s is on a blocklist (%s)", u->url, what);
    if (u->flags & SG_URL_IP) {
        if (!sg__domain_ip_private(u->host))
            add(out, cap, &n, SG_FIND_IP_URL, SG_MATCH_NONE, NULL,
                "%s links to a raw IP address", u->url);
        return n;
    }
    if (u->flags & SG_URL_SHORTENER) {
        add(out, cap, &n, SG_FIND_SHORTENER, SG_MATCH_NONE, NULL,
            "%s is a URL shortener link (destination hidden)", u->url);
        return n; /* never judge the shortener's own domain as a lookalike */
    }
    if (sg__urls_trusted(st, u, UINT32_MAX)) return n;
    if (strstr(u->url, "xn--") || strstr(u->url, "XN--"))
        add(out, cap, &n, SG_FIND_PUNYCODE_HOST, SG_MATCH_NONE, NULL,
            "%s is written in punycode (%s)", u->host, u->host_unicode);
    judge_scripts(st, u, out, cap, &n);
    sg_host h;
    if (host_of(u, &h)) judge_lookalike(st, u, &h, out, cap, &n);
    return n;
}

/* ------------------------------------------------------------ lure rule */

static bool word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Brand groups named in the text (words equal, ignoring ASCII case, to a
 * brand label of >= 3 letters: "Microsoft", "PayPal"). */
static size_t claimed_groups(const sg_urls *st, const char *s, size_t n,
                             uint32_t *g, size_t cap) {
    size_t k = 0;
    const sg_urllists *l = st->lists;
    for (size_t i = 0; i < n && k < cap;) {
        while (i < n && !word_char(s[i])) i++;
        size_t w = i;
        while (i < n && word_char(s[i])) i++;
        if (i - w < 3 || i - w > 63) continue;
        char low[64];
        for (size_t j = w; j < i; j++)
            low[j - w] = (s[j] >= 'A' && s[j] <= 'Z') ? (char)(s[j] + 32) : s[j];
        uint32_t grp;
        if (!sg__strmap_get(&l->brand_label, low, i - w, &grp)) continue;
        bool dup = false;
        for (size_t j = 0; j < k; j++) dup |= g[j] == grp;
        if (!dup) g[k++] = grp;
    }
    return k;
}

static bool trusted_for(const sg_urls *st, const sg_url *u, const uint32_t *g,
                        size_t ng) {
    if (!ng) return sg__urls_trusted(st, u, UINT32_MAX);
    for (size_t i = 0; i < ng; i++)
        if (sg__urls_trusted(st, u, g[i])) return true;
    return sg__strmap_has_domain(&st->lists->allow, u->host, NULL, NULL);
}

/* Brand groups named in the text outside its links ("PayPal: confirm at
 * login.live.com" names PayPal, not Microsoft). */
static size_t named_groups(const sg_urls *st, const char *text, size_t n,
                           const sg_urlset *urls, uint32_t *g, size_t cap) {
    char *copy = sg__malloc(n + 1);
    if (!copy) return 0;
    memcpy(copy, text, n);
    copy[n] = '\0';
    for (size_t i = 0; i < urls->n; i++) {
        size_t ul = strlen(urls->v[i].url);
        for (char *p = copy; ul && (p = strcasestr(p, urls->v[i].url)); p += ul)
            memset(p, ' ', ul);
    }
    size_t k = claimed_groups(st, copy, n, g, cap);
    sg__free(copy);
    return k;
}

bool sg__urls_lure(const sg_urls *st, const char *text, size_t n,
                   const sg_urlset *urls, size_t *which, bool *named,
                   char *phrase, size_t cap) {
    if (!st || !st->lists || !st->lure || !text || !urls->n ||
        !lure_match(st->lure, text, n, phrase, cap))
        return false;
    uint32_t g[8];
    size_t ng = named_groups(st, text, n, urls, g, 8);
    for (size_t i = 0; i < urls->n; i++) {
        if (trusted_for(st, &urls->v[i], g, ng)) continue;
        *which = i;
        *named = ng > 0;
        return true;
    }
    return false;
}

static int check_lure(sg_urls *st, sg_ctx *c, const sg_urlset *urls) {
    const char *text = c->norm.text ? c->norm.text : c->msg->text;
    size_t len = c->norm.text ? c->norm.len : c->msg->text_len, i;
    char phrase[96];
    bool named;
    if (!sg__urls_lure(st, text, len, urls, &i, &named, phrase, sizeof phrase))
        return SG_OK;
    const sg_url *u = &urls->v[i];
    sg__ctx_want_action(c, SG_ACTION_HOLD);
    return sg__ctx_signal(c, LURE_CODE, LURE_WEIGHT, SG_LABEL_PHISHING,
                          "phishing lure (\"%s\") with a link to %s, not %s",
                          phrase, u->registrable ? u->registrable : u->host,
                          named ? "the named brand's domain"
                                : "a known service's domain");
}

/* ------------------------------------------------------------ the row */

static int urls_init(sg_engine *eng, void **state) {
    sg_listfiles lf = {eng->brands_file, eng->allow_file, eng->blocklist_file};
    sg_urls *st;
    char err[256] = "";
    int rc = sg__urls_new(eng->nc, &lf, &st, err, sizeof err);
    if (rc) return sg__set_error(eng, rc, "urls: %s", err);
    st->eng = eng;
    *state = st;
    return SG_OK;
}

/* One signal per finding kind per message (the first URL that shows it);
 * later URLs with the same kind are counted in the detail. */
static int urls_check(void *state, sg_ctx *c) {
    sg_urls *st = state;
    const sg_urlset *urls = sg__ctx_urls(c);
    if (!st || !urls->n) return SG_OK;
    bool seen[SG_FIND_COUNT_] = {0};
    int rc = SG_OK;
    for (size_t i = 0; i < urls->n && !rc; i++) {
        sg_urlfinding f[8];
        size_t nf = sg__urls_judge(st, &urls->v[i], f, 8);
        for (size_t k = 0; k < nf && !rc; k++) {
            if (seen[f[k].kind]) continue;
            seen[f[k].kind] = true;
            rc = sg__ctx_signal(c, kinds[f[k].kind].code, kinds[f[k].kind].weight,
                                kinds[f[k].kind].labels, "%s", f[k].detail);
            sg__ctx_want_action(c, kinds[f[k].kind].floor);
        }
    }
    return rc ? rc : check_lure(st, c, urls);
}

static void urls_free(void *state) { sg__urls_free(state); }

const sg_detector sg__detector_urls = {
    .name = "urls",
    .init = urls_init,
    .prepare = urls_check, /* lists only, no store: outside the lock */
    .check = NULL,
    .learn = NULL,
    .free = urls_free,
};
