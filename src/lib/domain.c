/*
 * domain.c -- host analysis for the URL stage: is this a valid host, what
 * is its ASCII (punycode) and Unicode form (ICU UTS #46), its registrable
 * domain (libpsl with Debian's publicsuffix list), is it a raw IP, was
 * punycode written, and do its labels mix scripts or read as Latin while
 * written in another script (ICU uspoof, UTS #39).  It knows nothing of
 * brands or lists; lookalike.c and phish.c decide what a host means.
 */
#define _GNU_SOURCE
#include "urls.h"

#include <arpa/inet.h>
#include <libpsl.h>
#include <stdio.h>
#include <string.h>
#include <unicode/uidna.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/utf8.h>

struct sg_domain {
    psl_ctx_t *psl;
    bool psl_builtin;      /* psl from psl_builtin(): not to be freed */
    UIDNA *idna;
    USpoofChecker *spoof;  /* restriction level checks + skeletons */
    sg_normctx *nc;        /* sg__skeleton (normalize.c), may be NULL */
    char askel[128][8];    /* skeleton of each printable ASCII character */
};

/* ------------------------------------------------------------ setup */

static int skeleton_icu(const sg_domain *d, const char *s, size_t n,
                        char *out, size_t cap) {
    if (d->nc) {
        char *sk = NULL;
        int rc = sg__skeleton(d->nc, s, n, &sk);
        if (rc) return rc == SG_ENOMEM ? rc : SG_EUNICODE;
        size_t l = strlen(sk);
        if (l + 1 > cap) { sg__free(sk); return SG_EINVAL; }
        memcpy(out, sk, l + 1);
        sg__free(sk);
        return (int)l;
    }
    UErrorCode e = U_ZERO_ERROR;
    int32_t l = uspoof_getSkeletonUTF8(d->spoof, 0, s, (int32_t)n, out,
                                       (int32_t)cap, &e);
    if (e == U_BUFFER_OVERFLOW_ERROR || (U_SUCCESS(e) && (size_t)l >= cap))
        return SG_EINVAL;
    if (U_FAILURE(e)) return SG_EUNICODE;
    out[l] = '\0';
    return l;
}

static int build_ascii_table(sg_domain *d) {
    for (int c = 0x21; c < 0x7F; c++) {
        char s[2] = {(char)c, 0};
        int l = skeleton_icu(d, s, 1, d->askel[c], sizeof d->askel[c]);
        if (l < 0) return l;
    }
    return SG_OK;
}

static int open_icu(sg_domain *d) {
    UErrorCode e = U_ZERO_ERROR;
    d->idna = uidna_openUTS46(UIDNA_NONTRANSITIONAL_TO_ASCII |
                                  UIDNA_NONTRANSITIONAL_TO_UNICODE |
                                  UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ |
                                  UIDNA_USE_STD3_RULES,
                              &e);
    if (U_FAILURE(e)) return SG_EUNICODE;
    d->spoof = uspoof_open(&e);
    if (U_FAILURE(e)) return SG_EUNICODE;
    uspoof_setChecks(d->spoof, USPOOF_RESTRICTION_LEVEL | USPOOF_MIXED_NUMBERS,
                     &e);
    uspoof_setRestrictionLevel(d->spoof, USPOOF_MODERATELY_RESTRICTIVE);
    return U_FAILURE(e) ? SG_EUNICODE : SG_OK;
}

int sg__domain_new(sg_normctx *nc, sg_domain **out) {
    *out = NULL;
    sg_domain *d = sg__calloc(1, sizeof *d);
    if (!d) return SG_ENOMEM;
    d->nc = nc;
    int rc = open_icu(d);
    if (!rc) {
        d->psl = psl_latest(NULL);
        if (!d->psl) {
            d->psl = (psl_ctx_t *)psl_builtin();
            d->psl_builtin = true;
        }
        if (!d->psl) rc = SG_EIO;
    }
    if (!rc) rc = build_ascii_table(d);
    if (rc) {
        sg__domain_free(d);
        return rc;
    }
    *out = d;
    return SG_OK;
}

void sg__domain_free(sg_domain *d) {
    if (!d) return;
    if (d->psl && !d->psl_builtin) psl_free(d->psl);
    if (d->idna) uidna_close(d->idna);
    if (d->spoof) uspoof_close(d->spoof);
    sg__free(d);
}

/* ------------------------------------------------------------ IP hosts */

/* Dotted-quad IPv4 with 4 decimal parts 0..255 (no part longer than 3
 * digits), or with a scheme a single decimal 0..2^32-1 (browsers accept
 * http://3232235777/).  Canonical dotted form into out. */
static bool parse_ipv4(const char *s, size_t n, bool scheme, char *out,
                       size_t cap) {
    unsigned long part[4];
    size_t np = 0, digits = 0;
    unsigned long v = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!digits || np == 4) return false;
            part[np++] = v;
            v = digits = 0;
            continue;
        }
        if (s[i] < '0' || s[i] > '9' || ++digits > 10) return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (np == 1 && scheme && part[0] <= 0xFFFFFFFFul) {
        unsigned long a = part[0];
        snprintf(out, cap, "%lu.%lu.%lu.%lu", a >> 24, (a >> 16) & 255,
                 (a >> 8) & 255, a & 255);
        return true;
    }
    if (np != 4) return false;
    for (int k = 0; k < 4; k++)
        if (part[k] > 255) return false;
    snprintf(out, cap, "%lu.%lu.%lu.%lu", part[0], part[1], part[2], part[3]);
    return true;
}

static bool all_numeric_labels(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '.') return false;
    return true;
}

bool sg__domain_ip_private(const char *host) {
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1) {
        return a[0] == 10 || a[0] == 127 || a[0] == 0 ||
               (a[0] == 172 && (a[1] & 0xF0) == 16) ||
               (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254) ||
               (a[0] == 100 && (a[1] & 0xC0) == 64);
    }
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char lo[16] = {[15] = 1};
        return !memcmp(a, lo, 16) || (a[0] & 0xFE) == 0xFC ||
               (a[0] == 0xFE && (a[1] & 0xC0) == 0x80);
    }
    return false;
}

/* ------------------------------------------------------------ names */

/* LDH rules on an ASCII lower-case host: labels 1..63 bytes of [a-z0-9-],
 * no leading or trailing hyphen (RFC 1035, RFC 5891 4.2.3.1); with
 * `underscore`, '_' is accepted below the top-level label, as browsers do
 * (att_sign_in.example.com). */
static bool ldh_valid(const char *s, size_t n, bool underscore, bool *has_xn) {
    size_t start = 0;
    *has_xn = false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                  (c == '_' && underscore && memchr(s + i, '.', n - i))))
                return false;
            continue;
        }
        size_t l = i - start;
        if (l == 0 || l > 63 || s[start] == '-' || s[i - 1] == '-') return false;
        if (l >= 4 && !memcmp(s + start, "xn--", 4)) *has_xn = true;
        start = i + 1;
    }
    return true;
}

/* UIDNA errors that make a host invalid; hyphens in positions 3-4 of a
 * non-punycode label (ab--cd.com) are tolerated as browsers do. */
#define IDNA_FATAL (~(uint32_t)UIDNA_ERROR_HYPHEN_3_4)

static int idna_to_ascii(const sg_domain *d, const char *s, size_t n,
                         sg_host *h) {
    UIDNAInfo info = UIDNA_INFO_INITIALIZER;
    UErrorCode e = U_ZERO_ERROR;
    int32_t l = uidna_nameToASCII_UTF8(d->idna, s, (int32_t)n, h->ascii,
                                       SG_HOST_MAX, &info, &e);
    if (U_FAILURE(e) || (info.errors & IDNA_FATAL) || l <= 0 ||
        l >= SG_HOST_MAX)
        return SG_EINVAL;
    h->ascii[l] = '\0';
    h->ascii_len = (size_t)l;
    return SG_OK;
}

static int idna_to_unicode(const sg_domain *d, sg_host *h) {
    UIDNAInfo info = UIDNA_INFO_INITIALIZER;
    UErrorCode e = U_ZERO_ERROR;
    int32_t l = uidna_nameToUnicodeUTF8(d->idna, h->ascii, (int32_t)h->ascii_len,
                                        h->unicode, SG_HOST_UMAX, &info, &e);
    if (U_FAILURE(e) || (info.errors & IDNA_FATAL) || l <= 0 ||
        l >= SG_HOST_UMAX)
        return SG_EINVAL;
    h->unicode[l] = '\0';
    h->unicode_len = (size_t)l;
    return SG_OK;
}

/* Fill h->ascii / h->unicode for a name (not an IP). */
static int host_forms(const sg_domain *d, const char *s, size_t n, bool scheme,
                      sg_host *h) {
    bool ascii = true, has_xn;
    for (size_t i = 0; i < n && ascii; i++) ascii = !((unsigned char)s[i] & 0x80);
    if (ascii) {
        if (n >= SG_HOST_MAX) return SG_EINVAL;
        for (size_t i = 0; i < n; i++)
            h->ascii[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
        h->ascii[n] = '\0';
        h->ascii_len = n;
        if (!ldh_valid(h->ascii, n, scheme, &has_xn)) return SG_EINVAL;
        h->punycode = has_xn;
        if (!has_xn) {
            memcpy(h->unicode, h->ascii, n + 1);
            h->unicode_len = n;
            return SG_OK;
        }
        return idna_to_unicode(d, h);
    }
    int rc = idna_to_ascii(d, s, n, h);
    if (!rc && !ldh_valid(h->ascii, h->ascii_len, false, &has_xn)) rc = SG_EINVAL;
    if (!rc) rc = idna_to_unicode(d, h);
    return rc;
}

/* Some ICANN public suffix of the host (last 1..3 labels) is listed: "com",
 * or "co.za" where "za" alone is not. */
static bool tld_known(const sg_domain *d, const char *ascii) {
    const char *p = ascii + strlen(ascii);
    for (int labels = 0; labels < 3; labels++) {
        while (p > ascii && p[-1] != '.') p--;
        if (p == ascii) return false; /* the whole host: no name left */
        if (psl_is_public_suffix2(d->psl, p,
                                  PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE))
            return true;
        p--; /* onto the dot */
    }
    return false;
}

static int ip_host(const char *s, size_t n, bool scheme, sg_host *h) {
    if (memchr(s, ':', n)) {
        unsigned char a[16];
        char tmp[64];
        if (n >= sizeof tmp) return SG_EINVAL;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        if (inet_pton(AF_INET6, tmp, a) != 1 ||
            !inet_ntop(AF_INET6, a, h->ascii, SG_HOST_MAX))
            return SG_EINVAL;
    } else if (!parse_ipv4(s, n, scheme, h->ascii, SG_HOST_MAX)) {
        return SG_EINVAL;
    }
    h->ascii_len = strlen(h->ascii);
    memcpy(h->unicode, h->ascii, h->ascii_len + 1);
    h->unicode_len = h->ascii_len;
    h->is_ip = true;
    return SG_OK;
}

int sg__domain_host(const sg_domain *d, const char *s, size_t n,
                    unsigned flags, sg_host *h) {
    bool scheme = flags & SG_HOST_SCHEME;
    h->reg_off = SIZE_MAX;
    h->is_ip = h->punycode = false;
    if (!n || n >= SG_HOST_UMAX) return SG_EINVAL;
    if (memchr(s, ':', n)) return ip_host(s, n, scheme, h);
    if (all_numeric_labels(s, n)) return ip_host(s, n, scheme, h);
    int rc = host_forms(d, s, n, scheme, h);
    if (rc) return rc;
    if (all_numeric_labels(h->ascii, h->ascii_len)) /* full-width digits */
        return ip_host(h->ascii, h->ascii_len, scheme, h);
    const char *dot = strrchr(h->ascii, '.');
    const char *tld = dot ? dot + 1 : h->ascii;
    if (tld[0] >= '0' && tld[0] <= '9') return SG_EINVAL; /* 1.2.3.400a */
    if (!scheme && !tld_known(d, h->ascii)) return SG_EINVAL;
    const char *reg = psl_registrable_domain(d->psl, h->ascii);
    if (reg) h->reg_off = (size_t)(reg - h->ascii);
    else if (!scheme) return SG_EINVAL;
    return SG_OK;
}

const char *sg__domain_registrable(const sg_domain *d, const char *host) {
    return psl_registrable_domain(d->psl, host);
}

bool sg__domain_is_suffix(const sg_domain *d, const char *s, size_t n) {
    char buf[SG_HOST_MAX];
    if (!n || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return psl_is_public_suffix2(d->psl, buf,
                                 PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE) != 0;
}

bool sg__domain_icann_suffix(const sg_domain *d, const char *reg) {
    const char *dot = strchr(reg, '.');
    if (!dot) return false;
    return psl_is_public_suffix2(d->psl, dot + 1,
                                 PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE) != 0;
}

/* ------------------------------------------------------------ labels */

int sg__domain_skeleton(const sg_domain *d, const char *s, size_t n,
                        char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c & 0x80 || c < 0x21 || c == 0x7F)
            return skeleton_icu(d, s, n, out, cap);
        size_t l = strlen(d->askel[c]);
        if (o + l + 1 > cap) return SG_EINVAL;
        memcpy(out + o, d->askel[c], l);
        o += l;
    }
    out[o] = '\0';
    return (int)o;
}

/* Single script of a label (ignoring Common / Inherited characters), or
 * USCRIPT_INVALID_CODE when it has several or none. */
static UScriptCode single_script(const char *s, size_t n) {
    UScriptCode one = USCRIPT_INVALID_CODE;
    for (int32_t i = 0; i < (int32_t)n;) {
        UChar32 c;
        U8_NEXT(s, i, (int32_t)n, c);
        if (c < 0) return USCRIPT_INVALID_CODE;
        UErrorCode e = U_ZERO_ERROR;
        UScriptCode sc = uscript_getScript(c, &e);
        if (U_FAILURE(e) || sc == USCRIPT_COMMON || sc == USCRIPT_INHERITED)
            continue;
        if (one != USCRIPT_INVALID_CODE && one != sc) return USCRIPT_INVALID_CODE;
        one = sc;
    }
    return one;
}

sg_labelscript sg__domain_label_script(const sg_domain *d, const char *s,
                                       size_t n) {
    bool ascii = true;
    for (size_t i = 0; i < n && ascii; i++) ascii = !((unsigned char)s[i] & 0x80);
    if (ascii || n > 255) return SG_LABEL_OK;
    UErrorCode e = U_ZERO_ERROR;
    int32_t r = uspoof_checkUTF8(d->spoof, s, (int32_t)n, NULL, &e);
    if (U_FAILURE(e)) return SG_LABEL_OK;
    if (r & (USPOOF_RESTRICTION_LEVEL | USPOOF_MIXED_NUMBERS))
        return SG_LABEL_MIXED;
    UScriptCode sc = single_script(s, n);
    if (sc == USCRIPT_INVALID_CODE || sc == USCRIPT_LATIN) return SG_LABEL_OK;
    char sk[512];
    int l = sg__domain_skeleton(d, s, n, sk, sizeof sk);
    if (l <= 0) return SG_LABEL_OK;
    for (int i = 0; i < l; i++) {
        unsigned char c = (unsigned char)sk[i];
        if (c & 0x80) return SG_LABEL_OK;
    }
    return SG_LABEL_WHOLE_CONFUSABLE;
}
