/*
 * urls.c -- finds the links in free chat text the way a chat client
 * linkifies them, plus what attackers write to dodge filters (hxxp,
 * example[.]com, example dot com, full-width and ideographic dots,
 * zero-width characters, spaces before dots).  A pre-scan (pass 0) proves
 * most chat messages link-free without a copy; the rest take two linear
 * passes: undo the obfuscations into a clean copy (remembering which bytes
 * were rewritten), then scan the copy for scheme URLs and bare hosts.  Every
 * host goes through domain.c; what a URL means is phish.c's business.  Also
 * owns the URL stage's state (sg_urls) and sg__ctx_urls(), the per-message
 * cache.
 */
#define _GNU_SOURCE
#include "urls.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ================================================================ pass 1 */

enum { MARK_REWRITE = 1, MARK_REMOVED = 2 };

typedef struct clean {
    char *p;            /* de-obfuscated text (never longer than input) */
    uint8_t *mark;      /* per byte of p: MARK_* */
    size_t len;
    size_t word;        /* start of the current word in p */
    bool prev_host;     /* last emitted code point is a letter or digit */
    uint8_t pending;    /* mark for the next emitted byte */
} clean;

static UChar32 next_cp(const char *s, size_t n, size_t *i) {
    UChar32 c;
    int32_t k = (int32_t)*i;
    U8_NEXT(s, k, (int32_t)n, c);
    *i = (size_t)k;
    return c;
}

static bool is_zero_width(UChar32 c) {
    return (c >= 0x200B && c <= 0x200D) || (c >= 0x2060 && c <= 0x2064) ||
           c == 0xFEFF || c == 0x00AD || c == 0x180E || c == 0x034F;
}

/* Ideographic, full-width, half-width and middle dots used for '.'. */
static bool is_unicode_dot(UChar32 c) {
    return c == 0x3002 || c == 0xFF0E || c == 0xFF61 || c == 0x00B7 ||
           c == 0x0387 || c == 0x2024 || c == 0x2027 || c == 0x2219 ||
           c == 0x22C5 || c == 0x30FB || c == 0xFF65 || c == 0x2E31;
}

/* Character groups of host text: a host label never mixes "Latin-like"
 * letters (ASCII, Latin, Cyrillic, Greek ... the scripts that are
 * confusable with Latin) with letters of other scripts, so a change
 * between the two ends a host written right after CJK text. */
enum { G_NONE = 0, G_LATIN = 1, G_OTHER = 2 };

static inline bool ascii_alnum(int c) {
    return ((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9');
}

static int cp_group_slow(UChar32 c);

static inline int cp_group(UChar32 c) {
    if (c < 0x80) return c >= 0 && (ascii_alnum(c) || c == '-') ? G_LATIN : G_NONE;
    return cp_group_slow(c);
}

static int cp_group_slow(UChar32 c) {
    int t = u_charType(c);
    if (!(t == U_UPPERCASE_LETTER || t == U_LOWERCASE_LETTER ||
          t == U_TITLECASE_LETTER || t == U_MODIFIER_LETTER ||
          t == U_OTHER_LETTER || t == U_NON_SPACING_MARK ||
          t == U_COMBINING_SPACING_MARK || t == U_DECIMAL_DIGIT_NUMBER))
        return G_NONE;
    UErrorCode e = U_ZERO_ERROR;
    UScriptCode sc = uscript_getScript(c, &e);
    switch (sc) {
    case USCRIPT_LATIN: case USCRIPT_CYRILLIC: case USCRIPT_GREEK:
    case USCRIPT_ARMENIAN: case USCRIPT_CHEROKEE: case USCRIPT_COMMON:
    case USCRIPT_INHERITED: case USCRIPT_COPTIC:
        return G_LATIN;
    default:
        return G_OTHER;
    }
}

static bool is_alnum_cp(UChar32 c) { return c != '-' && cp_group(c) != G_NONE; }

static void emit(clean *c, const char *s, size_t n, uint8_t mark) {
    for (size_t i = 0; i < n; i++) {
        c->mark[c->len] = mark | (i == 0 ? c->pending : 0);
        c->p[c->len++] = s[i];
    }
    c->pending = 0;
}

/* A dot written some other way, at s[i..]: returns the bytes it spans
 * (0: not one) and whether it is a rewrite. */
enum { DOT_PLAIN = 1, DOT_BRACKET, DOT_UNICODE, DOT_WORD };

static size_t dot_token(const char *s, size_t n, size_t i, int *kind) {
    static const char *const br[] = {"[.]", "(.)", "{.}", "<.>", "[dot]",
                                     "(dot)", "{dot}", NULL};
    if (i >= n) return 0;
    if (s[i] == '.') { *kind = DOT_PLAIN; return 1; }
    char c0 = s[i];
    if (c0 != '[' && c0 != '(' && c0 != '{' && c0 != '<' && (c0 | 32) != 'd' &&
        (unsigned char)c0 < 0x80)
        return 0;
    for (int k = 0; br[k]; k++) {
        size_t l = strlen(br[k]);
        if (i + l <= n && !strncasecmp(s + i, br[k], l)) { *kind = DOT_BRACKET; return l; }
    }
    if (i + 4 <= n && !strncasecmp(s + i, "dot ", 4)) { *kind = DOT_WORD; return 3; }
    size_t j = i;
    if ((unsigned char)s[i] >= 0x80 && is_unicode_dot(next_cp(s, n, &j))) {
        *kind = DOT_UNICODE;
        return j - i;
    }
    return 0;
}

static bool left_word_is_stop(const clean *c) {
    static const char *const stop[] = {"the", "a", "an", "one", NULL};
    size_t l = c->len - c->word;
    for (int k = 0; stop[k]; k++)
        if (strlen(stop[k]) == l && !strncasecmp(c->p + c->word, stop[k], l))
            return true;
    return false;
}

/* After a letter or digit: " . ", "[.]", "(dot)", " dot ", "。" ... followed
 * by a letter or digit.  Returns the input bytes consumed (0: no rewrite). */
static size_t try_dot(const clean *c, const char *s, size_t n, size_t i) {
    size_t k = i, sp1 = 0, sp2 = 0;
    while (k < n && s[k] == ' ' && sp1 < 3) { k++; sp1++; }
    int kind = 0;
    size_t tl = dot_token(s, n, k, &kind);
    if (!tl) return 0;
    size_t m = k + tl;
    while (m < n && s[m] == ' ' && sp2 < 3) { m++; sp2++; }
    size_t j = m;
    if (m >= n || !is_alnum_cp(next_cp(s, n, &j))) return 0;
    switch (kind) {
    case DOT_PLAIN: return sp1 ? m - i : 0;          /* "x .y", not "x. y" */
    case DOT_BRACKET: return m - i;
    case DOT_UNICODE: return (sp1 || sp2) ? 0 : m - i;
    case DOT_WORD: return (sp1 && sp2 && !left_word_is_stop(c)) ? m - i : 0;
    }
    return 0;
}

/* hxxp://, hxxps[:]//, http[://] ... at s[i]; writes "http://" or
 * "https://" into out.  Returns the bytes consumed, 0 if none or if the
 * text is a plain http(s):// already. */
static size_t try_scheme(const char *s, size_t n, size_t i, char *out,
                         size_t *outlen) {
    static const char *const sep[] = {"://", "[:]//", "[://]", "(:)//",
                                      "[:]\\\\", NULL};
    if (i + 4 > n || (s[i] | 32) != 'h' || (s[i + 3] | 32) != 'p') return 0;
    char a = (char)(s[i + 1] | 32), b = (char)(s[i + 2] | 32);
    if (!((a == 't' || a == 'x' || a == '*') && (b == 't' || b == 'x' || b == '*')))
        return 0;
    size_t k = i + 4;
    bool tls = k < n && (s[k] | 32) == 's';
    if (tls) k++;
    for (int q = 0; sep[q]; q++) {
        size_t l = strlen(sep[q]);
        if (k + l > n || memcmp(s + k, sep[q], l)) continue;
        if (a == 't' && b == 't' && q == 0) return 0;
        *outlen = (size_t)sprintf(out, "%s://", tls ? "https" : "http");
        return k + l - i;
    }
    return 0;
}

static void emit_cp(clean *c, const char *s, size_t n, UChar32 cp) {
    if (cp < 0) {
        emit(c, " ", 1, 0); /* invalid UTF-8 acts as a space */
    } else if (cp >= 0x80 && u_isUWhiteSpace(cp)) {
        emit(c, " ", 1, 0);
    } else {
        emit(c, s, n, 0);
    }
    c->prev_host = is_alnum_cp(cp);
    if (cp_group(cp) == G_NONE) c->word = c->len;
}

/* Clean copies of texts up to CLEAN_STACK bytes live on the caller's stack
 * (most chat lines); longer ones are allocated. */
#define CLEAN_STACK 1024

static int clean_text(const char *s, size_t n, clean *c, char *pbuf,
                      uint8_t *mbuf) {
    memset(c, 0, sizeof *c);
    c->p = n < CLEAN_STACK ? pbuf : sg__malloc(n + 1);
    c->mark = n < CLEAN_STACK ? mbuf : sg__malloc(n + 1);
    if (!c->p || !c->mark) return SG_ENOMEM;
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)s[i];
        char sch[16];
        size_t used, sl;
        if ((b | 32) == 'h' && !c->prev_host &&
            (used = try_scheme(s, n, i, sch, &sl))) {
            emit(c, sch, sl, MARK_REWRITE);
            c->prev_host = false;
            c->word = c->len;
            i += used;
            continue;
        }
        if (c->prev_host && (b == ' ' || b == '.' || b == '[' || b == '(' ||
                             b == '{' || b == '<' || b >= 0xC2) &&
            (used = try_dot(c, s, n, i))) {
            emit(c, ".", 1, MARK_REWRITE);
            c->prev_host = false;
            c->word = c->len;
            i += used;
            continue;
        }
        if (b < 0x80 && b != 'h' && b != 'H') { /* the common case */
            c->mark[c->len] = c->pending;
            c->p[c->len++] = (char)b;
            c->pending = 0;
            c->prev_host = ascii_alnum(b);
            if (!c->prev_host && b != '-') c->word = c->len;
            i++;
            continue;
        }
        size_t j = i;
        UChar32 cp = next_cp(s, n, &j);
        if (is_zero_width(cp)) {
            c->pending = MARK_REMOVED;
            i = j;
            continue;
        }
        emit_cp(c, s + i, j - i, cp);
        i = j;
    }
    c->p[c->len] = '\0';
    return SG_OK;
}

/* ================================================================ pass 2 */

typedef struct scan {
    const sg_urls *st;
    const sg_domain *dom;
    const char *t;      /* clean text */
    const uint8_t *mark;
    size_t n;
    sg_urlset *out;
    sg_host h;          /* scratch */
} scan;

static int group_at(const char *t, size_t n, size_t i) {
    size_t j = i;
    return i < n ? cp_group(next_cp(t, n, &j)) : G_NONE;
}

/* Scripts that share letters with Latin: a label may mix them with ASCII
 * on purpose (раypal), so only real words in them end a host. */
static bool confusable_script(UChar32 c) {
    if (c < 0x80) return false;
    UErrorCode e = U_ZERO_ERROR;
    UScriptCode sc = uscript_getScript(c, &e);
    return sc == USCRIPT_CYRILLIC || sc == USCRIPT_GREEK ||
           sc == USCRIPT_ARMENIAN || sc == USCRIPT_CHEROKEE ||
           sc == USCRIPT_COPTIC;
}

/* A run of Cyrillic/Greek/... letters t[a..b) is a real word, not a
 * homoglyph disguise, when one of its letters does not read as Latin
 * (its UTS #39 skeleton is not ASCII): "Подробности", not "раура". */
static bool foreign_word(const sg_domain *dom, const char *t, size_t a,
                         size_t b) {
    for (size_t i = a; i < b;) {
        size_t j = i;
        next_cp(t, b, &j);
        char sk[32];
        int l = sg__domain_skeleton(dom, t + i, j - i, sk, sizeof sk);
        for (int k = 0; k < l; k++)
            if ((unsigned char)sk[k] & 0x80) return true;
        i = j;
    }
    return false;
}

/* End of the run of confusable-script letters starting at i. */
static size_t confusable_end(const char *t, size_t n, size_t i) {
    while (i < n) {
        size_t j = i;
        if (!confusable_script(next_cp(t, n, &j))) break;
        i = j;
    }
    return i;
}

/* A host run from s: letters, digits, hyphens, and single dots between
 * them (and '_' with `underscore`, for hosts after a scheme).  Within a
 * label, a change between Latin-like and other scripts
 * ends the run (请访问microsoft.com登录), and so does a change between ASCII
 * and a real word of Cyrillic, Greek ... (Подробностиflood-studio.com). */
static size_t host_run(const sg_domain *dom, const char *t, size_t n,
                       size_t s, bool underscore) {
    size_t i = s, seg = s;
    int g = G_NONE;
    bool in_conf = false;
    while (i < n) {
        size_t j = i + 1;
        UChar32 c = (unsigned char)t[i];
        if (c >= 0x80) {
            j = i;
            c = next_cp(t, n, &j);
        }
        if (c == '_' && underscore) {
            i = j;
            continue;
        }
        if (c == '.') {
            if (group_at(t, n, j) == G_NONE || t[j] == '-') break;
            g = G_NONE;
            i = seg = j;
            in_conf = false;
            continue;
        }
        int cg = cp_group(c);
        if (cg == G_NONE || (g != G_NONE && cg != g)) break;
        bool conf = confusable_script(c);
        if (g != G_NONE && conf != in_conf) {
            if (conf && foreign_word(dom, t, i, confusable_end(t, n, i))) break;
            if (!conf && foreign_word(dom, t, seg, i)) break;
            seg = i;
        }
        in_conf = conf;
        g = cg;
        i = j;
    }
    return i;
}

/* ASCII bytes that end a URL's path: blanks, controls, <>"`{}|\^[] */
static const uint8_t ascii_stop[128] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1,
};

/* Ends a URL's path: blanks, controls, <>"`{}|\^[], and non-ASCII
 * whitespace, punctuation, symbols or letters of non-Latin-like scripts. */
static bool path_stop(const char *t, size_t n, size_t i, size_t *next) {
    unsigned char b = (unsigned char)t[i];
    *next = i + 1;
    if (b < 0x80) return ascii_stop[b];
    UChar32 c = next_cp(t, n, next);
    if (c < 0) return true;
    int ty = u_charType(c);
    if (ty == U_SPACE_SEPARATOR || ty == U_LINE_SEPARATOR ||
        ty == U_PARAGRAPH_SEPARATOR || ty == U_FORMAT_CHAR ||
        ty == U_CONTROL_CHAR)
        return true;
    if (ty >= U_DASH_PUNCTUATION && ty <= U_OTHER_SYMBOL) return true;
    if (ty == U_INITIAL_PUNCTUATION || ty == U_FINAL_PUNCTUATION) return true;
    return cp_group(c) == G_OTHER;
}

static size_t scan_path(const char *t, size_t n, size_t i) {
    while (i < n) {
        size_t next;
        if (path_stop(t, n, i, &next)) break;
        i = next;
    }
    return i;
}

/* Drop trailing punctuation and closing brackets that do not close an
 * opening one inside the URL: (see example.com/a_(b)). -> .../a_(b) */
static size_t trim_tail(const char *t, size_t start, size_t floor, size_t end) {
    long par = 0;
    for (size_t i = start; i < end; i++)
        par += (t[i] == '(') - (t[i] == ')');
    while (end > floor) {
        char c = t[end - 1];
        if (strchr(".,:;!?'\"*_~", c)) { end--; continue; }
        if (c == ')' && par < 0) { par++; end--; continue; }
        break;
    }
    return end;
}

/* Port and path after a host ending at e; returns the end of the URL. */
static size_t url_tail(const char *t, size_t n, size_t s, size_t e,
                       bool *has_path, bool *has_port) {
    size_t i = e;
    if (i + 1 < n && t[i] == ':' && t[i + 1] >= '0' && t[i + 1] <= '9') {
        size_t k = i + 1;
        while (k < n && k - i <= 6 && t[k] >= '0' && t[k] <= '9') k++;
        bool ok = k - i - 1 <= 5 &&
                  (k == n || !(((t[k] | 32) >= 'a' && (t[k] | 32) <= 'z') ||
                               (t[k] >= '0' && t[k] <= '9')));
        if (ok) { i = k; *has_port = true; }
    }
    size_t floor = i;
    if (i < n && (t[i] == '/' || t[i] == '?' || t[i] == '#')) {
        *has_path = true;
        i = scan_path(t, n, i);
    }
    return trim_tail(t, s, floor, i);
}

static bool is_file_name(const sg_host *h, unsigned flags, bool path) {
    /* file extensions that are also TLDs: setup.py, main.rs, notes.md */
    static const char *const ext[] = {"zip", "mov", "py", "sh", "md", "rs",
                                      "so", NULL};
    if (path || !(flags & SG_URL_NO_SCHEME)) return false;
    const char *dot = strchr(h->ascii, '.');
    if (!dot || strchr(dot + 1, '.')) return false; /* only name.ext */
    for (int k = 0; ext[k]; k++)
        if (!strcmp(dot + 1, ext[k])) return true;
    return false;
}

static bool is_duplicate(const sg_urlset *set, const char *u, size_t n) {
    for (size_t i = 0; i < set->n; i++)
        if (!strncmp(set->v[i].url, u, n) && set->v[i].url[n] == '\0') return true;
    return false;
}

/* Append t[us..ue) with the analysed host sc->h.  One allocation holds
 * url, host, host_unicode and registrable. */
static int push_url(scan *sc, size_t us, size_t ue, unsigned flags) {
    sg_urlset *o = sc->out;
    const sg_host *h = &sc->h;
    size_t ul = ue - us;
    if (o->n >= SG_URLS_MAX || is_duplicate(o, sc->t + us, ul)) return SG_OK;
    for (size_t i = us; i < ue; i++)
        if ((sc->mark[i] & MARK_REWRITE) || (i > us && (sc->mark[i] & MARK_REMOVED)))
            flags |= SG_URL_OBFUSCATED;
    if (h->is_ip) flags |= SG_URL_IP;
    if (strstr(h->ascii, "xn--")) flags |= SG_URL_PUNYCODE;
    const char *reg = h->reg_off != SIZE_MAX ? h->ascii + h->reg_off : NULL;
    if (reg && sc->st && sc->st->lists &&
        sg__strmap_has_domain(&sc->st->lists->shorteners, h->ascii, NULL, NULL))
        flags |= SG_URL_SHORTENER;
    size_t rl = reg ? strlen(reg) : 0;
    char *blk = sg__malloc(ul + h->ascii_len + h->unicode_len + rl + 4);
    if (!blk) return SG_ENOMEM;
    if (o->n % 8 == 0) {
        sg_url *v = sg__realloc(o->v, (o->n + 8) * sizeof *v);
        if (!v) { sg__free(blk); return SG_ENOMEM; }
        o->v = v;
    }
    sg_url *u = &o->v[o->n++];
    u->url = blk;
    memcpy(blk, sc->t + us, ul);
    blk[ul] = '\0';
    u->host = blk + ul + 1;
    memcpy(u->host, h->ascii, h->ascii_len + 1);
    u->host_unicode = u->host + h->ascii_len + 1;
    memcpy(u->host_unicode, h->unicode, h->unicode_len + 1);
    u->registrable = reg ? u->host_unicode + h->unicode_len + 1 : NULL;
    if (reg) memcpy(u->registrable, reg, rl + 1);
    u->flags = flags;
    return SG_OK;
}

/* A host run [s,e) without a scheme (possibly after user-info at us). */
static int bare_url(scan *sc, size_t us, size_t s, size_t e, unsigned flags,
                    size_t *end) {
    *end = e;
    /* most words: ASCII without a dot is never a host without a scheme
     * (sg__domain_host needs a dot then), so skip its IDNA and PSL work */
    bool ascii_dotless = true;
    for (size_t i = s; i < e && ascii_dotless; i++)
        ascii_dotless = sc->t[i] != '.' && !((unsigned char)sc->t[i] & 0x80);
    if (ascii_dotless) return SG_OK;
    if (sg__domain_host(sc->dom, sc->t + s, e - s, 0, &sc->h)) return SG_OK;
    bool path = false, port = false;
    size_t ue = url_tail(sc->t, sc->n, us, e, &path, &port);
    if (sc->h.is_ip && !path && !port) return SG_OK; /* "my ip is 10.0.0.1" */
    if (is_file_name(&sc->h, flags | SG_URL_NO_SCHEME, path || port)) return SG_OK;
    *end = ue;
    return push_url(sc, us, ue, flags | SG_URL_NO_SCHEME);
}

/* A host run at s with no scheme: e-mail, user-info or a plain host. */
static int at_run(scan *sc, size_t s, size_t *next) {
    const char *t = sc->t;
    size_t n = sc->n, e = host_run(sc->dom, t, n, s, false);
    *next = e > s ? e : s + 1;
    if (s > 0 && t[s - 1] == '@') return SG_OK; /* e-mail domain */
    if (s > 0 && strchr("_%~=+&\\/", t[s - 1])) return SG_OK; /* in a word */
    if (e < n && t[e] == '@') {
        size_t s2 = e + 1, e2 = host_run(sc->dom, t, n, s2, false);
        *next = e2 > s2 ? e2 : s2;
        /* microsoft.com@evil.example/x is user-info; a@b.com is e-mail */
        if (e2 < n && t[e2] == '/' && memchr(t + s, '.', e - s))
            return bare_url(sc, s, s2, e2, SG_URL_USERINFO, next);
        return SG_OK;
    }
    return bare_url(sc, s, s, e, 0, next);
}

static size_t scheme_at(const char *t, size_t n, size_t i) {
    static const char *const sch[] = {"https://", "http://", "ftp://", NULL};
    for (int k = 0; sch[k]; k++) {
        size_t l = strlen(sch[k]);
        if (i + l <= n && !strncasecmp(t + i, sch[k], l)) return l;
    }
    return 0;
}

/* Host part of a scheme URL starting at hs; IPv6 in brackets.  Sets *he
 * to its end (after ']' for IPv6). */
static int scheme_host(scan *sc, size_t hs, size_t ae, size_t *he) {
    const char *t = sc->t;
    if (hs < ae && t[hs] == '[') {
        const char *rb = memchr(t + hs, ']', ae - hs);
        if (!rb) return SG_EINVAL;
        *he = (size_t)(rb - t) + 1;
        return sg__domain_host(sc->dom, t + hs + 1, *he - hs - 2, SG_HOST_SCHEME,
                               &sc->h);
    }
    *he = host_run(sc->dom, t, sc->n, hs, true);
    if (*he == hs) return SG_EINVAL;
    if (*he < ae && strchr("%~=+&$!*,;'", t[*he])) return SG_EINVAL;
    return sg__domain_host(sc->dom, t + hs, *he - hs, SG_HOST_SCHEME, &sc->h);
}

/* A URL with a scheme at i (slen bytes of "https://"). */
static int scheme_url(scan *sc, size_t i, size_t slen, size_t *next) {
    const char *t = sc->t;
    size_t n = sc->n, a = i + slen, ae = a, at = SIZE_MAX;
    *next = a;
    while (ae < n && t[ae] != '/' && t[ae] != '?' && t[ae] != '#') {
        size_t nx;
        if (path_stop(t, n, ae, &nx) && t[ae] != '[' && t[ae] != ']') break;
        if (t[ae] == '@') at = ae;
        ae = nx;
    }
    size_t hs = at != SIZE_MAX ? at + 1 : a, he;
    if (scheme_host(sc, hs, ae, &he)) {
        *next = ae > a ? ae : a; /* skip the malformed authority */
        return SG_OK;
    }
    bool path = false, port = false;
    size_t ue = url_tail(t, n, i, he, &path, &port);
    *next = ue;
    return push_url(sc, i, ue, at != SIZE_MAX ? SG_URL_USERINFO : 0);
}

static int scan_text(scan *sc) {
    const char *t = sc->t;
    size_t n = sc->n;
    for (size_t i = 0; i < n && sc->out->n < SG_URLS_MAX;) {
        unsigned char b = (unsigned char)t[i];
        size_t next = i + 1, sl;
        int rc = SG_OK;
        bool word_start = i == 0 || !(((t[i - 1] | 32) >= 'a' && (t[i - 1] | 32) <= 'z') ||
                                      (t[i - 1] >= '0' && t[i - 1] <= '9'));
        if (word_start && (b | 32) >= 'f' && (b | 32) <= 'h' &&
            (sl = scheme_at(t, n, i))) {
            rc = scheme_url(sc, i, sl, &next);
        } else if (b < 0x80 ? cp_group(b) != G_NONE : group_at(t, n, i) != G_NONE) {
            rc = at_run(sc, i, &next);
        } else if (b >= 0x80) {
            size_t j = i;
            next_cp(t, n, &j);
            next = j;
        }
        if (rc) return rc;
        i = next > i ? next : i + 1;
    }
    return SG_OK;
}

/* ================================================================ pass 0 */

/* The pre-scan proves that pass 1 + pass 2 would find nothing, so most chat
 * messages (no link) skip both.  A URL needs, in the clean text, either
 * "://" after a scheme or a '.' inside a host run (sg__domain_host wants a
 * dot without a scheme, and IDNA maps no letter, mark or digit -- the only
 * code points of a host run -- to a dot: tests/test_urls.c checks every
 * code point).  The clean text gets its ':' and '.' only from the input's
 * own ':' and '.' bytes (zero-width characters removed between them) or
 * from the rewrites of pass 1, so a text is proven empty when none of these
 * triggers is in it (each is a superset of what pass 1 / pass 2 accept):
 *   ':'  followed by '/' or a non-ASCII byte (zero-width), or after '[' / '('
 *        ("://", "[:]//", "[://]", "(:)//", "[:]\\");
 *   '.'  after '[', '(', '{', '<' ("[.]" ...); after 1-3 spaces after a
 *        host byte and before 0-3 spaces and a host byte ("example . com");
 *        after a host byte (ASCII letter, digit, '-', non-ASCII) and before
 *        an ASCII letter or a non-ASCII byte (a dot before a digit never
 *        starts a top-level domain: those only make IPv4 addresses, so
 *        three of them after a digit or non-ASCII byte are a trigger);
 *   "dot" in any case after '[', '(' or '{', or " dot " ("[dot]", ...);
 *   one of the Unicode dots of is_unicode_dot (。．｡·・ ...), at any byte
 *        offset. */
enum { PRE_NONE = 0, PRE_DOT, PRE_COLON, PRE_D, PRE_LEAD };

/* The bytes the pre-scan looks at; PRE_LEAD: first bytes of the UTF-8
 * forms of the Unicode dots (C2 B7, CE 87, E2 .., E3 .., EF ..). */
static const uint8_t pre_class[256] = {
    ['.'] = PRE_DOT, [':'] = PRE_COLON, ['d'] = PRE_D, ['D'] = PRE_D,
    [0xC2] = PRE_LEAD, [0xCE] = PRE_LEAD, [0xE2] = PRE_LEAD, [0xE3] = PRE_LEAD,
    [0xEF] = PRE_LEAD,
};

/* A label that starts with an ASCII digit at p[i]: does it reach a
 * non-ASCII byte (then its ACE form may not start with a digit)? */
static bool pre_label_non_ascii(const unsigned char *p, size_t n, size_t i) {
    while (i < n && (ascii_alnum(p[i]) || p[i] == '-')) i++;
    return i < n && p[i] >= 0x80;
}

/* The '.' at p[i] has a space before it: could pass 1 rewrite it as in
 * "example . com" (host byte, 1-3 spaces, '.', 0-3 spaces, host byte)? */
static bool pre_spaced_dot(const unsigned char *p, size_t n, size_t i) {
    size_t a = i, b = i + 1;
    while (a > 0 && p[a - 1] == ' ' && i - a < 3) a--;
    if (a == 0 || !(p[a - 1] >= 0x80 || ascii_alnum(p[a - 1]))) return false;
    while (b < n && p[b] == ' ' && b - i <= 3) b++;
    return b < n && (p[b] >= 0x80 || ascii_alnum(p[b]));
}

/* Is the '.' at p[i] a trigger?  *ipdots counts dots between digits. */
static bool pre_dot(const unsigned char *p, size_t n, size_t i, int *ipdots) {
    unsigned char prev = i ? p[i - 1] : 0, next = i + 1 < n ? p[i + 1] : 0;
    if (prev == '[' || prev == '(' || prev == '{' || prev == '<') return true;
    if (prev == ' ') return pre_spaced_dot(p, n, i);
    if (!(prev >= 0x80 || prev == '-' || ascii_alnum(prev))) return false;
    if (next >= 0x80 || ((next | 32) >= 'a' && (next | 32) <= 'z')) return true;
    if (!(next >= '0' && next <= '9')) return false;
    if (pre_label_non_ascii(p, n, i + 1)) return true;
    return (prev >= 0x80 || (prev >= '0' && prev <= '9')) && ++*ipdots >= 3;
}

/* Is the byte at p[i] (a pre_class byte) a trigger? */
static bool pre_trigger(const unsigned char *p, size_t n, size_t i, int *ipdots) {
    unsigned char prev = i ? p[i - 1] : 0;
    switch (pre_class[p[i]]) {
    case PRE_DOT:
        return pre_dot(p, n, i, ipdots);
    case PRE_COLON:
        return (i + 1 < n && (p[i + 1] == '/' || p[i + 1] >= 0x80)) ||
               prev == '[' || prev == '(';
    case PRE_D:
        return i + 2 < n && (p[i + 1] | 32) == 'o' && (p[i + 2] | 32) == 't' &&
               ((prev == ' ' && i + 3 < n && p[i + 3] == ' ') || prev == '[' ||
                prev == '(' || prev == '{');
    case PRE_LEAD: {
        size_t j = i;
        return is_unicode_dot(next_cp((const char *)p, n, &j));
    }
    default:
        return false;
    }
}

#ifdef __SSE2__
/* Candidate bytes of p[i..i+16) (needs p[i-1] and p[i+16]) as a bit mask,
 * without the bytes that can be ruled out from their neighbours alone: a
 * '.' after '.' or before ' ' (unless after ' ' or a bracket) -- "Ok. See",
 * "wait..." -- and a 'd' that does not start "do" after ' ' or a bracket.
 * Every other '.', ':', 'd' and Unicode-dot lead byte goes to pre_trigger. */
static unsigned pre_block(const unsigned char *p, size_t i) {
    const __m128i v = _mm_loadu_si128((const __m128i *)(p + i)),
                  pv = _mm_loadu_si128((const __m128i *)(p + i - 1)),
                  nv = _mm_loadu_si128((const __m128i *)(p + i + 1)),
                  lower = _mm_set1_epi8(0x20);
#define EQ(x, c) _mm_cmpeq_epi8((x), _mm_set1_epi8((char)(c)))
    __m128i open = _mm_or_si128(_mm_or_si128(EQ(pv, '['), EQ(pv, '(')),
                                _mm_or_si128(EQ(pv, '{'), EQ(pv, '<')));
    __m128i after_sp = _mm_or_si128(EQ(pv, ' '), open);
    __m128i dot_safe = _mm_or_si128(EQ(pv, '.'), _mm_andnot_si128(after_sp, EQ(nv, ' ')));
    __m128i m = _mm_andnot_si128(dot_safe, EQ(v, '.'));
    m = _mm_or_si128(m, EQ(v, ':'));
    m = _mm_or_si128(m, _mm_and_si128(_mm_and_si128(EQ(_mm_or_si128(v, lower), 'd'),
                                                    EQ(_mm_or_si128(nv, lower), 'o')),
                                      after_sp));
    m = _mm_or_si128(m, _mm_or_si128(EQ(v, 0xC2), EQ(v, 0xCE)));
    m = _mm_or_si128(m, _mm_or_si128(EQ(v, 0xE2), EQ(v, 0xE3)));
    m = _mm_or_si128(m, EQ(v, 0xEF));
#undef EQ
    return (unsigned)_mm_movemask_epi8(m);
}
#endif

bool sg__urls_possible(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    int ipdots = 0;
#ifdef __SSE2__
    /* 16 bytes at a time from p[1] to p[n-2] (the last block overlaps the
     * one before; its bytes seen already are masked off), p[0] and p[n-1]
     * one by one */
    if (n >= 18) {
        if (pre_class[p[0]] && pre_trigger(p, n, 0, &ipdots)) return true;
        for (size_t i = 1, done = 1;; i += 16) {
            if (i + 17 > n) i = n - 17;
            unsigned bits = pre_block(p, i) & (0xFFFFu << (done - i));
            for (; bits; bits &= bits - 1)
                if (pre_trigger(p, n, i + (size_t)__builtin_ctz(bits), &ipdots))
                    return true;
            if (i == n - 17) break;
            done = i + 16;
        }
        return pre_class[p[n - 1]] && pre_trigger(p, n, n - 1, &ipdots);
    }
#endif
    for (size_t i = 0; i < n; i++)
        if (pre_class[p[i]] && pre_trigger(p, n, i, &ipdots)) return true;
    return false;
}

/* Host services for extraction without a state (an engine that has no
 * urls row, the fuzzer): built once, never freed. */
static sg_domain *fallback_dom;
static void fallback_init(void) {
    if (sg__domain_new(NULL, &fallback_dom)) fallback_dom = NULL;
}

int sg__urls_extract(const sg_urls *st, const char *s, size_t n,
                     sg_urlset *out) {
    memset(out, 0, sizeof *out);
    if (!s || !n || !sg__urls_possible(s, n)) return SG_OK;
    return sg__urls_extract_full(st, s, n, out);
}

int sg__urls_extract_full(const sg_urls *st, const char *s, size_t n,
                          sg_urlset *out) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    memset(out, 0, sizeof *out);
    if (!s || !n) return SG_OK;
    const sg_domain *dom = st ? st->dom : NULL;
    if (!dom) {
        pthread_once(&once, fallback_init);
        if (!(dom = fallback_dom)) return SG_EUNICODE;
    }
    clean c;
    char pbuf[CLEAN_STACK];
    uint8_t mbuf[CLEAN_STACK];
    int rc = clean_text(s, n, &c, pbuf, mbuf);
    if (!rc) {
        scan sc = {.st = st, .dom = dom, .t = c.p, .mark = c.mark, .n = c.len,
                   .out = out}; /* ~1.3 KiB with its host scratch */
        rc = scan_text(&sc);
    }
    if (c.p != pbuf) sg__free(c.p);
    if (c.mark != mbuf) sg__free(c.mark);
    return rc;
}

/* The set of every message the pre-scan proves link-free (sg__ctx_urls):
 * shared, never written, never freed. */
static sg_urlset no_urls;

void sg__urlset_clear(sg_urlset *s) {
    if (!s || s == &no_urls) return;
    for (size_t i = 0; i < s->n; i++) sg__free(s->v[i].url);
    sg__free(s->v);
    s->v = NULL;
    s->n = 0;
}

void sg__urlset_free(sg_urlset *s) {
    if (s == &no_urls) return;
    sg__urlset_clear(s);
    sg__free(s);
}

/* ================================================================ state */

int sg__urls_new(sg_normctx *nc, const sg_listfiles *files, sg_urls **out,
                 char *err, size_t errlen) {
    static const sg_listfiles none = {0};
    *out = NULL;
    if (!files) files = &none;
    sg_urls *st = sg__calloc(1, sizeof *st);
    if (!st) return SG_ENOMEM;
    const char *f[3] = {files->brands, files->allow, files->blocklist};
    int rc = SG_OK;
    for (int k = 0; k < 3 && !rc; k++)
        if (f[k] && !(st->files[k] = sg__strdup(f[k]))) rc = SG_ENOMEM;
    if (!rc && (rc = sg__domain_new(nc, &st->dom)))
        snprintf(err, errlen, "cannot open ICU / libpsl: %s", sg_strerror(rc));
    if (!rc) {
        sg_listfiles lf = {st->files[0], st->files[1], st->files[2]};
        rc = sg__lists_load(st->dom, &lf, &st->lists, err, errlen);
    }
    if (!rc && (rc = sg__lure_new(&st->lure)))
        snprintf(err, errlen, "cannot compile lure phrases: %s", sg_strerror(rc));
    if (rc) {
        sg__urls_free(st);
        return rc;
    }
    *out = st;
    return SG_OK;
}

void sg__urls_free(sg_urls *st) {
    if (!st) return;
    sg__lists_free(st->lists);
    sg__domain_free(st->dom);
    sg__lure_free(st->lure);
    for (int k = 0; k < 3; k++) sg__free(st->files[k]);
    sg__free(st);
}

int sg__urls_reload(sg_urls *st, char *err, size_t errlen) {
    sg_listfiles lf = {st->files[0], st->files[1], st->files[2]};
    sg_urllists *nl;
    int rc = sg__lists_load(st->dom, &lf, &nl, err, errlen);
    if (rc) return rc;
    sg_urllists *old = st->lists;
    st->lists = nl;
    sg__lists_free(old);
    return SG_OK;
}

sg_urls *sg__urls_of(sg_engine *eng) {
    if (!eng) return NULL;
    for (size_t i = 0; i < sg__ndetectors; i++)
        if (sg__detectors[i] == &sg__detector_urls) return eng->det_state[i];
    return NULL;
}

const sg_urlset *sg__ctx_urls(sg_ctx *c) {
    static const sg_urlset empty = {NULL, 0};
    if (c->urls) return c->urls;
    const sg_message *m = c->msg;
    if (!m || !m->text || !sg__urls_possible(m->text, m->text_len))
        return c->urls = &no_urls; /* no allocation for most messages */
    sg_urlset *s = sg__calloc(1, sizeof *s);
    if (!s) return &empty;
    if (sg__urls_extract_full(sg__urls_of(c->eng), m->text, m->text_len, s) ==
            SG_ENOMEM && !s->n) {
        sg__free(s);
        return &empty;
    }
    c->urls = s;
    return s;
}
