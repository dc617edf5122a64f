/*
 * urls.h -- the URL stage's own interface, shared by urls.c (extraction),
 * domain.c (host analysis), lookalike.c (brand matching), lists.c (list
 * files and string sets), phish.c (the detector row) and the `spimguard
 * urls` subcommand.  The rest of the engine only sees sg_url / sg_urlset
 * and sg__ctx_urls() in sg_internal.h.
 *
 * Lifetimes: an sg_urls (the detector state) lives as long as its engine;
 * its lists are replaced as a whole by sg__urls_reload(), so pointers into
 * the lists (brand names in findings) are valid until the next reload.
 */
#ifndef SG_URLS_H
#define SG_URLS_H

#include "sg_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ================================================================ lists.c */

/** Open-addressing hash map from byte strings to uint32 values (xxHash3
 *  keys).  Keys are copied into the map.  Zero-initialise before use. */
typedef struct sg_strmap {
    struct sg_strmap_slot *slot; /* cap slots, empty when len == UINT32_MAX */
    size_t cap, n;               /* cap is 0 or a power of two */
    sg_buf keys;                 /* key bytes, NUL-separated */
} sg_strmap;

/** Insert key -> val; an existing key keeps its first value unless
 *  `replace`.  @return SG_OK, SG_ENOMEM, SG_EINVAL (key > 4 GiB). */
int sg__strmap_put(sg_strmap *m, const char *key, size_t n, uint32_t val,
                   bool replace);
/** Look key up; on a hit store its value in *val (if not NULL).
 *  @return true when found. */
bool sg__strmap_get(const sg_strmap *m, const char *key, size_t n,
                    uint32_t *val);
/** Domain-list lookup: true when `host` (ASCII, lower-case) or one of its
 *  parent domains with at least two labels is a key.  `*hit` (if not NULL)
 *  gets the matching suffix of host. */
bool sg__strmap_has_domain(const sg_strmap *m, const char *host,
                           const char **hit, uint32_t *val);
void sg__strmap_free(sg_strmap *m);

/** Callback of sg__list_read: one entry (not NUL-terminated), the 1-based
 *  line it came from (entries of one line share it).  Return SG_OK to go
 *  on, anything else to stop the read with that code. */
typedef int (*sg_list_cb)(void *ud, const char *entry, size_t n,
                          size_t lineno);

/** Read a list file in any of the forms operators have at hand, calling cb
 *  for each entry:
 *   - plain: one domain or URL per line (several on a line, separated by
 *     blanks or commas, form one group -- used for brands, where
 *     `label.*` stands for label.<any ICANN suffix>); `#`, `!` and `;`
 *     start comments;
 *   - hosts file: `0.0.0.0 evil.example` / `127.0.0.1 a b` (the address
 *     and names like `localhost` are dropped);
 *   - CSV with a header naming a column `url`, `domain`, `host`,
 *     `hostname` or `fqdn` (quoted fields per RFC 4180; URLhaus CSV);
 *   - adblock-style `||evil.example^` and wildcard `*.evil.example`.
 *  @return SG_OK; SG_EIO (cannot open or read; detail in err), SG_ENOMEM,
 *          or the callback's code. */
int sg__list_read(const char *path, sg_list_cb cb, void *ud, char *err,
                  size_t errlen);

/** One protected brand domain from the brands list. */
typedef struct sg_brand {
    char *domain;       /* as listed, ASCII (punycode), lower-case, owned */
    const char *registrable; /* eTLD+1 of domain (points into domain) */
    uint32_t group;     /* brands listed on one line share a group */
} sg_brand;

typedef struct sg_domain sg_domain;
typedef struct sg_brandidx sg_brandidx;

/** The lists one engine uses; built whole, replaced whole on reload. */
typedef struct sg_urllists {
    sg_brand *brands;
    size_t nbrands;
    sg_strmap own;         /* brand registrable domain -> brand index */
    sg_strmap own_label;   /* "google.*" entries: label -> brand group */
    sg_strmap brand_label; /* ASCII label of each brand's registrable domain
                              ("paypal") -> brand group (its line) */
    sg_strmap allow;       /* allow-listed domains (and their subdomains) */
    sg_strmap shorteners;  /* URL shortener domains */
    sg_strmap block_dom;   /* blocklisted domains (and their subdomains) */
    sg_strmap block_url;   /* blocklisted URLs, key from sg__url_key() */
    sg_brandidx *idx;      /* lookalike index over brands (lookalike.c) */
    char *files;           /* the files read, for messages, owned */
} sg_urllists;

/** Files to build lists from.  brands: NULL = the shipped data/brands.txt
 *  (a given file replaces it).  allow / blocklist: added to the shipped
 *  data/allow.txt / data/blocklist.txt (NULL = shipped only).  Shorteners
 *  always come from data/shorteners.txt. */
typedef struct sg_listfiles {
    const char *brands, *allow, *blocklist;
} sg_listfiles;

/** Read every list and build the lookalike index.
 *  @return SG_OK; SG_EIO (a file cannot be read, or a shipped list is not
 *          found), SG_EFORMAT (the brands list has no valid domain),
 *          SG_ENOMEM, SG_EUNICODE.  err gets a one-line detail.  On failure
 *          *out is NULL. */
int sg__lists_load(const sg_domain *d, const sg_listfiles *files,
                   sg_urllists **out, char *err, size_t errlen);
void sg__lists_free(sg_urllists *l);

/** Is `reg` (a registrable domain, ASCII) a protected brand's own: listed
 *  in the brands file, or label.<ICANN suffix> for a `label.*` entry?
 *  *group (if not NULL) gets the brand's group (its line).  */
bool sg__lists_own(const sg_domain *d, const sg_urllists *l, const char *reg,
                   uint32_t *group);

/** Canonical key of a URL for the URL blocklist: scheme and `www.` dropped,
 *  host lower-cased, a trailing `/` dropped, fragment dropped.  Writes at
 *  most cap-1 bytes and a NUL.  @return the key length, 0 when the URL has
 *  no host or the key does not fit. */
size_t sg__url_key(const char *url, size_t n, char *buf, size_t cap);

/* =============================================================== domain.c */

/* psl + UTS #46 + a spoof checker: immutable after sg__domain_new, so one
 * sg_domain may be used from several threads. */

/** Open the host-analysis services: libpsl's psl_latest(NULL) (Debian's
 *  publicsuffix DAFSA, falling back to the list built into libpsl), an ICU
 *  UTS #46 IDNA object (nontransitional, STD3 rules, CheckBidi, CheckJoiners)
 *  and an ICU spoof checker at the moderately restrictive level (UTS #39
 *  section 5.2).  `nc` (may be NULL) gives sg__skeleton(); it must outlive
 *  the sg_domain.  @return SG_OK, SG_ENOMEM, SG_EUNICODE, SG_EIO (no public
 *  suffix list). */
int sg__domain_new(sg_normctx *nc, sg_domain **out);
void sg__domain_free(sg_domain *d);

enum {
    SG_HOST_SCHEME = 1 << 0 /* written with a scheme: any TLD, single-label
                               and dotless-decimal IPv4 hosts accepted */
};

#define SG_HOST_MAX 256   /* bytes of an ASCII host incl. NUL (RFC 1035: 253) */
#define SG_HOST_UMAX 1024 /* bytes of its Unicode form incl. NUL */

/** A host after analysis. */
typedef struct sg_host {
    char ascii[SG_HOST_MAX];     /* lower-case ACE (punycode) host */
    char unicode[SG_HOST_UMAX];  /* UTS #46 ToUnicode form */
    size_t ascii_len, unicode_len;
    size_t reg_off;     /* registrable domain = ascii + reg_off, or
                           SIZE_MAX (IP host, public suffix, single label) */
    bool is_ip;         /* IPv4 (canonical dotted quad) or IPv6 */
    bool punycode;      /* an xn-- label was WRITTEN in the text */
} sg_host;

/** Validate and analyse a host written as s[0..n) (UTF-8; any case; IDN in
 *  Unicode or punycode; IPv4 dotted quad; IPv6 without brackets).  Without
 *  SG_HOST_SCHEME the host needs a dot, a top-level domain that is in the
 *  public suffix list (ICANN section, no implicit `*` rule) and a
 *  registrable domain.
 *  @return SG_OK; SG_EINVAL when it is not a valid host (bad label, label
 *          or host too long, invalid IDNA, 1.2.3.400, unknown TLD). */
int sg__domain_host(const sg_domain *d, const char *s, size_t n,
                    unsigned flags, sg_host *h);

/** UTS #39 skeleton of one label (UTF-8) into out (cap bytes, NUL added).
 *  ASCII labels use a table built once from the same skeleton function.
 *  @return the length in bytes, or SG_EUNICODE / SG_EINVAL (too long). */
int sg__domain_skeleton(const sg_domain *d, const char *s, size_t n,
                        char *out, size_t cap);

/** Script verdict of one host label (UTF-8, Unicode form). */
typedef enum sg_labelscript {
    SG_LABEL_OK = 0,
    SG_LABEL_MIXED,          /* fails the moderately restrictive level:
                                e.g. Latin mixed with Cyrillic (раypal) */
    SG_LABEL_WHOLE_CONFUSABLE /* one non-Latin script whose skeleton is all
                                 ASCII: reads as a Latin word (аррӏе, сосо) */
} sg_labelscript;

/** Classify a label's scripts (ICU uspoof restriction level, UTS #39).
 *  ASCII labels are SG_LABEL_OK without calling ICU. */
sg_labelscript sg__domain_label_script(const sg_domain *d, const char *s,
                                       size_t n);

/** Public suffix of a registrable domain `reg` is an ICANN suffix (not a
 *  private one such as github.io or blogspot.com). */
bool sg__domain_icann_suffix(const sg_domain *d, const char *reg);

/** s[0..n) (ASCII, lower-case) is an ICANN public suffix: "com", "co.uk"
 *  (no implicit `*` rule). */
bool sg__domain_is_suffix(const sg_domain *d, const char *s, size_t n);

/** Registrable domain (eTLD+1) of an ASCII lower-case host, pointing into
 *  host, or NULL (public suffix itself, single label).  libpsl. */
const char *sg__domain_registrable(const sg_domain *d, const char *host);

/** An IPv4 host (dotted quad) in a private, loopback, link-local, CGNAT or
 *  "this network" range (RFC 1918, 1122, 3927, 6598), or IPv6 ::1, fc00::/7,
 *  fe80::/10.  Such hosts are no phishing signal (router pages in chats). */
bool sg__domain_ip_private(const char *host);

/* ============================================================ lookalike.c */

typedef enum sg_match {
    SG_MATCH_NONE = 0,
    SG_MATCH_SKELETON,  /* UTS #39 skeletons equal (homoglyphs) */
    SG_MATCH_EDIT,      /* Damerau-Levenshtein distance 1 (typosquat) */
    SG_MATCH_VISUAL,    /* equal after rn->m vv->w cl->d 0->o 1->l ll->11 */
    SG_MATCH_TOKEN,     /* brand stands as a token / in a subdomain */
    SG_MATCH_BLOCKLIST  /* listed in a blocklist */
} sg_match;

/** "skeleton", "edit", "visual", "token", "blocklist" or "none". */
const char *sg__match_name(sg_match m);

/** A lookalike finding for one host. */
typedef struct sg_lookalike {
    sg_match match;
    bool in_subdomain;  /* the brand is in a subdomain label */
    uint32_t brand;     /* index into the lists' brands */
    char label[64];     /* the label or token that matched (Unicode,
                           truncated) */
    char swap[16];      /* visual swaps seen, e.g. "rn→m", or "" */
} sg_lookalike;

/** Build the lookalike index over brands (skeletons, visual folds and
 *  single-deletion neighbourhoods of each distinct brand label).
 *  @return SG_OK, SG_ENOMEM, SG_EUNICODE. */
int sg__lookalike_index_new(const sg_domain *d, const sg_brand *brands,
                            size_t n, sg_brandidx **out);
void sg__lookalike_index_free(sg_brandidx *x);

/** Match a host against the protected brands (issue 3 rules; details and
 *  examples in docs/phishing.md section 3).  The caller has already
 *  checked that the registrable domain is not a brand's own, not
 *  allow-listed and not a shortener.  Each label, `-` token, letter run
 *  (labels with digits) and label with lure words glued on is compared
 *  with the brand labels: literal, UTS #39 skeleton, visual fold (rn->m
 *  vv->w cl->d 0->o 1->l i->l on the skeleton), Damerau-Levenshtein 1 on
 *  the folds (both >= 5 code points, same first letter), a brand of >= 7
 *  code points at either end of a label, and the brand's domain inside the
 *  subdomain (paypal.com.evil.example, ebay.com-item.evil.example).  Brand
 *  labels of <= 4 code points match only by equal skeleton, or as a token
 *  beside a lure word (login-live-support); 1-2-letter brands never by a
 *  bare same-name domain (x.org).
 *  @param h  the analysed host (IP hosts give no finding).
 *  @param out at most 2 findings: the best in the registrable label
 *             (in_subdomain false) and the best in a subdomain label.
 *  @return the number of findings (0..2). */
size_t sg__lookalike_find(const sg_domain *d, const sg_urllists *l,
                          const sg_host *h, sg_lookalike out[2]);

/** Damerau-Levenshtein distance (optimal string alignment variant: adjacent
 *  transpositions cost 1) between UTF-8 strings a and b, counted in code
 *  points (at most 63 each; longer strings give cap+1).  Returns cap+1 as
 *  soon as the distance exceeds cap. */
unsigned sg__lookalike_distance(const char *a, size_t na, const char *b,
                                size_t nb, unsigned cap);

/* ================================================================= urls.c */

#define SG_URLS_MAX 256 /* URLs kept per message; the rest are ignored */

/** The URL detector's state (one per engine). */
typedef struct sg_urls {
    sg_engine *eng;        /* owner (not owned); NULL for a standalone one */
    sg_domain *dom;        /* owned */
    sg_urllists *lists;    /* owned; replaced by sg__urls_reload */
    struct sg_lure *lure;  /* owned (phish.c) */
    char *files[3];        /* brands, allow, blocklist given (owned) */
} sg_urls;

/** Create a state: host services + lists from `files` (see sg_listfiles).
 *  `nc` may be NULL.  @return SG_OK or an error of sg__domain_new /
 *  sg__lists_load (detail in err).  On failure *out is NULL. */
int sg__urls_new(sg_normctx *nc, const sg_listfiles *files, sg_urls **out,
                 char *err, size_t errlen);
void sg__urls_free(sg_urls *st);

/** Re-read the state's lists from the same files (for SIGHUP).  The new
 *  lists are built completely before they replace the old ones, so a
 *  failed reload changes nothing.  Must not run concurrently with a check
 *  on the same engine (the daemon holds its engine lock).
 *  @return SG_OK, or an error of sg__lists_load (detail in err). */
int sg__urls_reload(sg_urls *st, char *err, size_t errlen);

/** The URL state of an engine (its urls detector row), or NULL when the
 *  row is not in sg__detectors[]. */
sg_urls *sg__urls_of(sg_engine *eng);

/** Extract every URL from s[0..n) (UTF-8; invalid bytes act as spaces) into
 *  *out (zeroed first; free with sg__urlset_free).  Texts that
 *  sg__urls_possible() proves empty (most chat messages) return at once
 *  with no allocation.  Rules in
 *  docs/phishing.md: scheme URLs, www./bare hosts with a known TLD, IPv4
 *  with a scheme, port or path, user-info, IDN, markdown links, trailing
 *  punctuation and brackets, obfuscations (hxxp, [.], (dot), " dot ",
 *  full-width / ideographic / middle dots, zero-width characters, spaces
 *  before dots); never e-mail addresses, file names or invalid hosts.
 *  Linear in n.  `st` may be NULL (no shortener flags).
 *  Each sg_url's url/host/host_unicode/registrable live in ONE block owned
 *  by url; free them only through sg__urlset_clear (a set the caller
 *  holds by value) or sg__urlset_free (a set from sg__calloc, freed whole,
 *  as sg__ctx_urls makes).
 *  SG_URL_PUNYCODE: the ASCII host has an xn-- label (any IDN).
 *  @return SG_OK, SG_ENOMEM (out holds what was found before). */
int sg__urls_extract(const sg_urls *st, const char *s, size_t n,
                     sg_urlset *out);

/** sg__urls_extract without its pre-scan: always runs both passes.  Same
 *  contract and results; for tests (tests/test_urls.c compares the two on
 *  every corpus message) and benchmarks. */
int sg__urls_extract_full(const sg_urls *st, const char *s, size_t n,
                          sg_urlset *out);

/** The pre-scan of sg__urls_extract: false proves that s[0..n) (UTF-8, any
 *  bytes) has no URL for the extractor -- no ':' before '/' (nor "[:]"),
 *  no '.' that could join two host labels or be rewritten into one, no
 *  " dot " / "[dot]", no Unicode dot (the trigger rules are in urls.c).
 *  true means "maybe": run the full extraction.  One pass over the bytes
 *  (16 at a time with SSE2), no allocation: about 25 ns for an 80-byte SMS. */
bool sg__urls_possible(const char *s, size_t n);

/** Free the URLs of a set held by value and empty it (NULL is a no-op). */
void sg__urlset_clear(sg_urlset *s);

/* ================================================================ phish.c */

typedef enum sg_findkind {
    SG_FIND_LOOKALIKE_DOMAIN = 0,
    SG_FIND_BRAND_IN_SUBDOMAIN,
    SG_FIND_BLOCKLISTED_URL,
    SG_FIND_SHORTENER,
    SG_FIND_IP_URL,
    SG_FIND_MIXED_SCRIPT_HOST,
    SG_FIND_PUNYCODE_HOST,
    SG_FIND_COUNT_
} sg_findkind;

/** One finding about one URL. */
typedef struct sg_urlfinding {
    sg_findkind kind;
    sg_match match;        /* SG_MATCH_NONE for IP, shortener, script,
                              punycode findings */
    const char *brand;     /* brand domain (lives as long as the lists) or
                              NULL */
    char detail[160];      /* "rnicrosoft-live.com looks like microsoft.com
                              (rn→m)" */
} sg_urlfinding;

/** Compiled lure phrases (PCRE2, JIT when available).  @return SG_OK,
 *  SG_ENOMEM, SG_EFORMAT (a pattern does not compile: a bug). */
int sg__lure_new(struct sg_lure **out);
void sg__lure_free(struct sg_lure *l);

/** Reason code of a finding kind ("LOOKALIKE_DOMAIN", ...). */
const char *sg__find_code(sg_findkind k);

/** Judge one extracted URL against the state's lists: blocklist, shortener,
 *  IP host, mixed-script / whole-script confusable labels, written
 *  punycode, lookalike and brand-in-subdomain.  Hosts on the allow-list or
 *  a brand's own registrable domain get no lookalike finding.
 *  @return the number of findings written (<= cap). */
size_t sg__urls_judge(const sg_urls *st, const sg_url *u, sg_urlfinding *out,
                      size_t cap);

/** The credential-lure rule (issue 3) on one text: `text` (n bytes, UTF-8;
 *  ideally the normalized text) carries a lure phrase -- a claim to be a
 *  support / security team, a request to verify, confirm, unlock or
 *  reactivate an account, to enter a password or code, or a threat to the
 *  account -- and one of `urls` links to a registrable domain that is not
 *  the named brand's (brands named as words in the text; when none is
 *  named, not any protected brand's) and not allow-listed.  On a hit,
 *  *which gets that URL's index, *named whether a brand was named, and
 *  phrase (cap bytes) the matched words.  Thread-safe: concurrent calls on
 *  one state are fine (not with a reload).  @return true when the rule
 *  fires. */
bool sg__urls_lure(const sg_urls *st, const char *text, size_t n,
                   const sg_urlset *urls, size_t *which, bool *named,
                   char *phrase, size_t cap);

/** True when the registrable domain of u is a protected brand's own (any
 *  brand, or only brands of `group` when group != UINT32_MAX) or is on the
 *  allow-list. */
bool sg__urls_trusted(const sg_urls *st, const sg_url *u, uint32_t group);

#endif /* SG_URLS_H */
