/*
 * normalize.c -- the Unicode stage: turns message text into the form every
 * detector reads (DESIGN.md "normalize text", docs/normalization.md).
 * Owns: the UTF-8 check, removal of invisible and format characters
 * (counted), folding of styled letters (small capitals, negative enclosed
 * letters, strike-through decorations) plus ICU's NFKC casefold,
 * de-obfuscation of mixed-script words ("frее" with a Cyrillic е -> "free")
 * and UTS #39 confusable skeletons.  It does not tokenize (features.c) and
 * does not look for links (urls.c).  Pure-ASCII text never calls ICU.
 */
#include "sg_internal.h"

#include <string.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

/* Letters of scripts with Latin look-alikes, checked in mixed-script words:
 * Greek, Cyrillic, Cyrillic Supplement, Armenian (one range) and Cherokee
 * (NFKC casefold maps Cherokee small letters to the capitals in 13A0..). */
#define CONF_LO 0x0370
#define CONF_HI 0x058F
#define CHER_LO 0x13A0
#define CHER_HI 0x13FF

/* Scratch buffers above this many UTF-16 units are released after a call,
 * so one huge message does not pin memory in the engine. */
#define KEEP_UNITS (1u << 16)

struct sg_normctx {
    const UNormalizer2 *nfkc_cf; /* owned by ICU, never closed */
    USpoofChecker *spoof;
    uint8_t conf[CONF_HI - CONF_LO + 1]; /* Latin look-alike 'a'..'z' or 0 */
    uint8_t cher[CHER_HI - CHER_LO + 1];
    UChar lat2cyr[26];  /* Cyrillic look-alike of 'a'..'z' or 0 */
    UChar *src, *dst;   /* UTF-16 scratch: before / after NFKC casefold */
    size_t src_cap, dst_cap;
    uint32_t *verb;     /* src indices copied verbatim (emoji ZWJ, FE0F, tags) */
    size_t nverb, verb_cap;
};

/* ------------------------------------------------------------ context */

/* Latin look-alike of one letter from its UTS #39 skeleton: the letter
 * when the skeleton is a single ASCII letter (lower-cased), else 0. */
static uint8_t skeleton_letter(USpoofChecker *sc, UChar32 c) {
    UChar in[2], out[8];
    int32_t n = 0;
    UBool err = false;
    U16_APPEND(in, n, 2, c, err);
    UErrorCode e = U_ZERO_ERROR;
    int32_t m = uspoof_getSkeleton(sc, 0, in, n, out, 8, &e);
    if (err || U_FAILURE(e) || m != 1 || out[0] >= 0x80 || !u_isalpha(out[0]))
        return 0;
    return (uint8_t)(out[0] | 0x20);
}

static void build_confusable_tables(sg_normctx *nc) {
    for (UChar32 c = CONF_LO; c <= CONF_HI; c++)
        nc->conf[c - CONF_LO] = u_isalpha(c) ? skeleton_letter(nc->spoof, c) : 0;
    for (UChar32 c = CHER_LO; c <= CHER_HI; c++)
        nc->cher[c - CHER_LO] = u_isalpha(c) ? skeleton_letter(nc->spoof, c) : 0;
    /* Reverse map for mostly-Cyrillic words with Latin letters inside:
     * basic Russian/Ukrainian lower-case letters only (U+0430..U+045F). */
    for (UChar32 c = 0x0430; c <= 0x045F; c++) {
        uint8_t l = nc->conf[c - CONF_LO];
        if (l && !nc->lat2cyr[l - 'a']) nc->lat2cyr[l - 'a'] = (UChar)c;
    }
}

int sg__normctx_new(sg_normctx **out) {
    *out = NULL;
    sg_normctx *nc = sg__calloc(1, sizeof *nc);
    if (!nc) return SG_ENOMEM;
    UErrorCode e = U_ZERO_ERROR;
    nc->nfkc_cf = unorm2_getNFKCCasefoldInstance(&e);
    if (U_SUCCESS(e)) nc->spoof = uspoof_open(&e);
    if (U_FAILURE(e)) {
        sg__normctx_free(nc);
        return SG_EUNICODE;
    }
    build_confusable_tables(nc);
    *out = nc;
    return SG_OK;
}

void sg__normctx_free(sg_normctx *nc) {
    if (!nc) return;
    if (nc->spoof) uspoof_close(nc->spoof);
    sg__free(nc->src);
    sg__free(nc->dst);
    sg__free(nc->verb);
    sg__free(nc);
}

static void release_big_scratch(sg_normctx *nc) {
    if (nc->src_cap > KEEP_UNITS) {
        sg__free(nc->src);
        nc->src = NULL;
        nc->src_cap = 0;
    }
    if (nc->dst_cap > KEEP_UNITS) {
        sg__free(nc->dst);
        nc->dst = NULL;
        nc->dst_cap = 0;
    }
    if (nc->verb_cap > KEEP_UNITS) {
        sg__free(nc->verb);
        nc->verb = NULL;
        nc->verb_cap = 0;
    }
}

static int grow_units(UChar **p, size_t *cap, size_t need) {
    if (need <= *cap) return SG_OK;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    UChar *q = sg__realloc(*p, c * sizeof *q);
    if (!q) return SG_ENOMEM;
    *p = q;
    *cap = c;
    return SG_OK;
}

/* ------------------------------------------------------------ ASCII path */

static bool ascii_invisible(unsigned char b) {
    return (b < 0x20 && !(b >= 0x09 && b <= 0x0D)) || b == 0x7F;
}

/* Pure ASCII: lower-case with a table, drop control characters. */
static int normalize_ascii(const char *s, size_t len, sg_norm *out) {
    char *t = sg__malloc(len + 1);
    if (!t) return SG_ENOMEM;
    size_t k = 0;
    /* counts in locals: the stores to t could alias out's fields */
    uint32_t invisibles = 0, letters = 0, upper = 0, digits = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        if (ascii_invisible(b)) {
            invisibles++;
            continue;
        }
        bool up = b >= 'A' && b <= 'Z';
        upper += up;
        b |= (unsigned char)(up << 5);
        letters += b >= 'a' && b <= 'z';
        digits += b >= '0' && b <= '9';
        t[k++] = (char)b;
    }
    t[k] = '\0';
    out->invisibles += invisibles;
    out->letters += letters;
    out->uppercase += upper;
    out->digits += digits;
    out->text = t;
    out->len = k;
    out->codepoints = (uint32_t)len;
    if (out->letters) out->scripts = SG_SCRIPT_LATIN;
    return SG_OK;
}

/* ------------------------------------------------------------ pre-pass */
/* One walk over the original code points: counts, drops invisibles, folds
 * what NFKC misses, and marks emoji joiners to be copied verbatim (NFKC
 * casefold would delete them as default ignorables). */

typedef struct prepass {
    sg_normctx *nc;
    const char *s;
    int32_t n;
    size_t u;           /* UTF-16 units written to nc->src */
    UChar32 last;       /* last code point kept (after folding), -1 none */
    UChar32 base;       /* last kept code point that is not a mark */
    int marks;          /* combining marks kept on `base` */
    int32_t tags_end;   /* tag characters before this byte are kept */
    sg_norm *out;
} prepass;

/* Small capitals and negative enclosed letters: the plain letter, or 0.
 * NFKC leaves these alone (they have no decomposition). */
static char styled_letter(UChar32 c) {
    if (c >= 0x1F150 && c <= 0x1F169) return (char)('a' + (c - 0x1F150));
    if (c >= 0x1F170 && c <= 0x1F189) return (char)('a' + (c - 0x1F170));
    switch (c) {
    case 0x1D00: return 'a';  case 0x0299: return 'b';  case 0x1D04: return 'c';
    case 0x1D05: return 'd';  case 0x1D07: return 'e';  case 0xA730: return 'f';
    case 0x0262: return 'g';  case 0x029C: return 'h';  case 0x026A: return 'i';
    case 0x1D0A: return 'j';  case 0x1D0B: return 'k';  case 0x029F: return 'l';
    case 0x1D0D: return 'm';  case 0x0274: return 'n';  case 0x1D0F: return 'o';
    case 0x1D18: return 'p';  case 0xA7AF: return 'q';  case 0x0280: return 'r';
    case 0xA731: return 's';  case 0x1D1B: return 't';  case 0x1D1C: return 'u';
    case 0x1D20: return 'v';  case 0x1D21: return 'w';  case 0x028F: return 'y';
    case 0x1D22: return 'z';
    default: return 0;
    }
}

/* Combining marks that text stylers put on every letter: overlays
 * (strike-through, slash), over/underlines, enclosing circles and squares.
 * The keycap U+20E3 is an emoji component and stays. */
static bool decoration_mark(UChar32 c) {
    return c == 0x0305 || c == 0x0332 || c == 0x0333 || c == 0x033F ||
           (c >= 0x0334 && c <= 0x0338) ||
           (c >= 0x20D0 && c <= 0x20F0 && c != 0x20E3);
}

static bool is_emoji_like(UChar32 c) {
    return c >= 0 && (c == 0xFE0F || c == 0xE007F ||
                      u_hasBinaryProperty(c, UCHAR_EXTENDED_PICTOGRAPHIC) ||
                      u_hasBinaryProperty(c, UCHAR_EMOJI_MODIFIER));
}

static UScriptCode script_of(UChar32 c) {
    UErrorCode e = U_ZERO_ERROR;
    UScriptCode s = uscript_getScript(c, &e);
    return U_FAILURE(e) ? USCRIPT_INVALID_CODE : s;
}

/* Letters of Latin, Greek or Cyrillic (or styled math letters, script
 * Common): where stacked or decorative marks are obfuscation. */
static bool base_is_lgc(UChar32 b) {
    if (b < 0) return false;
    if (b < 0x80) return (b | 0x20) >= 'a' && (b | 0x20) <= 'z';
    if (!u_isalnum(b)) return false;
    UScriptCode s = script_of(b);
    return s == USCRIPT_LATIN || s == USCRIPT_GREEK || s == USCRIPT_CYRILLIC ||
           s == USCRIPT_COMMON;
}

/* ZWNJ / ZWJ that spell a word of a script needing them (after a virama in
 * Indic scripts; Persian ZWNJ between Arabic letters): still removed (NFKC
 * casefold does), but not counted as obfuscation. */
static bool joiner_is_orthographic(UChar32 last, UChar32 next) {
    if (last < 0 || next < 0) return false;
    if (u_getCombiningClass(last) == 9) return true;
    if (!u_isalpha(last) || !u_isalpha(next)) return false;
    UScriptCode a = script_of(last);
    return a == script_of(next) && a != USCRIPT_LATIN && a != USCRIPT_GREEK &&
           a != USCRIPT_CYRILLIC && a != USCRIPT_COMMON;
}

static UChar32 peek(const prepass *p, int32_t i) {
    if (i >= p->n) return -1;
    UChar32 c;
    U8_NEXT(p->s, i, p->n, c);
    return c;
}

/* End (byte index) of an emoji tag sequence starting at i (tag letters,
 * digits or spaces, then CANCEL TAG U+E007F), e.g. the flag of Scotland;
 * 0 when there is none.  Lone tag characters hide text ("ASCII smuggling")
 * and are removed like other invisibles. */
static int32_t tag_sequence_end(const prepass *p, int32_t i) {
    for (int k = 0; k < 32 && i < p->n; k++) {
        UChar32 c;
        U8_NEXT(p->s, i, p->n, c);
        if (c == 0xE007F) return k > 0 ? i : 0;
        if (c < 0xE0020 || c > 0xE007E) return 0;
    }
    return 0;
}

static int keep_verbatim(prepass *p, UChar32 c) {
    sg_normctx *nc = p->nc;
    if (nc->nverb == nc->verb_cap) {
        size_t cap = nc->verb_cap ? nc->verb_cap * 2 : 16;
        uint32_t *v = sg__realloc(nc->verb, cap * sizeof *v);
        if (!v) return SG_ENOMEM;
        nc->verb = v;
        nc->verb_cap = cap;
    }
    nc->verb[nc->nverb++] = (uint32_t)p->u;
    U16_APPEND_UNSAFE(nc->src, p->u, c);
    p->last = c;
    return SG_OK;
}

static void keep(prepass *p, UChar32 c, int8_t type) {
    U16_APPEND_UNSAFE(p->nc->src, p->u, c);
    p->last = c;
    if (type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK ||
        type == U_COMBINING_SPACING_MARK) {
        p->marks++;
    } else {
        p->base = c;
        p->marks = 0;
    }
}

static bool is_invisible(UChar32 c, int8_t type) {
    if (type == U_FORMAT_CHAR) return true;
    if (c >= 0x0350 && c < 0x115F) return false; /* no other ignorables */
    return (type == U_CONTROL_CHAR && !u_isspace(c)) ||
           u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}

static bool keycap_base(UChar32 c) {
    return c == '#' || c == '*' || (c >= '0' && c <= '9');
}

/* An invisible character: removed and counted, except the emoji parts. */
static int pre_invisible(prepass *p, UChar32 c, int32_t next_i) {
    UChar32 next = peek(p, next_i);
    if (c == 0x200D && is_emoji_like(p->last) &&
        u_hasBinaryProperty(next, UCHAR_EXTENDED_PICTOGRAPHIC))
        return keep_verbatim(p, c);
    if (c == 0xFE0F && (is_emoji_like(p->last) ||
                        (next == 0x20E3 && keycap_base(p->last))))
        return keep_verbatim(p, c);
    if ((c == 0x200C || c == 0x200D) && joiner_is_orthographic(p->last, next))
        return SG_OK;
    p->out->invisibles++;
    return SG_OK;
}

static bool compat_styled(UChar32 c, int8_t type) {
    /* ª º ordinal indicators (< U+0100) are orthography; U+0100..U+02AF and
     * U+02E5..U+10FB (Greek .. Georgian) have no styled decomposition. */
    if (c < 0x02B0 || (c > 0x02E4 && c < 0x10FC)) return false;
    bool alnum = (type >= U_UPPERCASE_LETTER && type <= U_OTHER_LETTER) ||
                 type == U_DECIMAL_DIGIT_NUMBER ||
                 (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149);
    if (!alnum) return false;
    switch (u_getIntPropertyValue(c, UCHAR_DECOMPOSITION_TYPE)) {
    case U_DT_FONT: case U_DT_WIDE: case U_DT_SUPER: case U_DT_SUB:
    case U_DT_CIRCLE: case U_DT_SQUARE: case U_DT_SMALL:
        return true;
    default:
        return false;
    }
}

static void count_original(sg_norm *out, int8_t type) {
    if (type >= U_UPPERCASE_LETTER && type <= U_OTHER_LETTER) {
        out->letters++;
        if (type == U_UPPERCASE_LETTER) out->uppercase++;
    } else if (type == U_DECIMAL_DIGIT_NUMBER) {
        out->digits++;
    }
}

static int pre_char(prepass *p, UChar32 c, int32_t i, int32_t next_i) {
    sg_norm *out = p->out;
    out->codepoints++;
    if (c < 0x80 && !ascii_invisible((unsigned char)c)) {
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
            out->letters++;
            out->uppercase += c <= 'Z';
        } else if (c >= '0' && c <= '9') {
            out->digits++;
        }
        keep(p, c, U_OTHER_LETTER);
        return SG_OK;
    }
    int8_t type = u_charType(c);
    count_original(out, type);
    if (i < p->tags_end) return keep_verbatim(p, c);
    if (is_invisible(c, type)) return pre_invisible(p, c, next_i);
    char l = styled_letter(c);
    if (l) {
        out->folded++;
        keep(p, (UChar32)l, U_OTHER_LETTER);
        return SG_OK;
    }
    if ((type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK) &&
        base_is_lgc(p->base) && (decoration_mark(c) || p->marks >= 2)) {
        out->folded++; /* strike-through, underline, "Zalgo" stacks */
        return SG_OK;
    }
    if (compat_styled(c, type)) out->folded++;
    if (c == 0x1F3F4) p->tags_end = tag_sequence_end(p, next_i);
    keep(p, c, type);
    return SG_OK;
}

static int prepass_run(sg_normctx *nc, const char *s, size_t len, sg_norm *out,
                       size_t *units) {
    int rc = grow_units(&nc->src, &nc->src_cap, len + 1);
    if (rc) return rc;
    nc->nverb = 0;
    prepass p = {.nc = nc, .s = s, .n = (int32_t)len, .last = -1, .base = -1,
                 .out = out};
    int32_t i = 0;
    while (i < p.n) {
        int32_t at = i;
        UChar32 c;
        U8_NEXT(s, i, p.n, c);
        if (c <= 0) return SG_EUTF8; /* sg__utf8_valid checked already */
        if ((rc = pre_char(&p, c, at, i))) return rc;
    }
    *units = p.u;
    return SG_OK;
}

/* ------------------------------------------------------------ NFKC casefold */

static int nfkc_append(sg_normctx *nc, size_t from, size_t to, size_t *d) {
    for (;;) {
        size_t room = nc->dst_cap - *d;
        if (room > INT32_MAX) room = INT32_MAX;
        UErrorCode e = U_ZERO_ERROR;
        int32_t got = unorm2_normalize(nc->nfkc_cf, nc->src + from,
                                       (int32_t)(to - from), nc->dst + *d,
                                       (int32_t)room, &e);
        if (e == U_BUFFER_OVERFLOW_ERROR) {
            int rc = grow_units(&nc->dst, &nc->dst_cap, *d + (size_t)got + 1);
            if (rc) return rc;
            continue;
        }
        if (U_FAILURE(e)) return SG_EUNICODE;
        *d += (size_t)got;
        return SG_OK;
    }
}

/* NFKC casefold nc->src[0..nsrc) into nc->dst, copying the verbatim code
 * points (emoji joiners, FE0F, emoji tags) between the segments.  Every
 * verbatim code point follows an emoji, a normalization boundary. */
static int nfkc_segments(sg_normctx *nc, size_t nsrc, size_t *ndst) {
    int rc = grow_units(&nc->dst, &nc->dst_cap, nsrc + nsrc / 4 + 16);
    size_t pos = 0, d = 0;
    for (size_t k = 0; !rc && k <= nc->nverb; k++) {
        size_t end = k < nc->nverb ? nc->verb[k] : nsrc;
        if (end > pos) rc = nfkc_append(nc, pos, end, &d);
        if (rc || k == nc->nverb) break;
        size_t units = U16_IS_LEAD(nc->src[end]) ? 2 : 1;
        if ((rc = grow_units(&nc->dst, &nc->dst_cap, d + units + 1))) break;
        memcpy(nc->dst + d, nc->src + end, units * sizeof(UChar));
        d += units;
        pos = end + units;
    }
    *ndst = d;
    return rc;
}

/* ------------------------------------------------------------ words */
/* After NFKC: scripts seen, and mixed-script words rewritten in place. */

typedef struct wordstat {
    unsigned nlat, nconf, ncyr;
    bool all_conf_latinizable, all_lat_cyrillizable;
} wordstat;

static uint8_t conf_latin(const sg_normctx *nc, UChar32 c) {
    if (c >= CONF_LO && c <= CONF_HI) return nc->conf[c - CONF_LO];
    if (c >= CHER_LO && c <= CHER_HI) return nc->cher[c - CHER_LO];
    return 0;
}

static uint32_t script_bit(UScriptCode s) {
    switch (s) {
    case USCRIPT_COMMON: case USCRIPT_INHERITED: return 0;
    case USCRIPT_LATIN: return SG_SCRIPT_LATIN;
    case USCRIPT_CYRILLIC: return SG_SCRIPT_CYRILLIC;
    case USCRIPT_GREEK: return SG_SCRIPT_GREEK;
    case USCRIPT_ARABIC: return SG_SCRIPT_ARABIC;
    case USCRIPT_HEBREW: return SG_SCRIPT_HEBREW;
    case USCRIPT_HAN: return SG_SCRIPT_HAN;
    case USCRIPT_HIRAGANA: case USCRIPT_KATAKANA: return SG_SCRIPT_KANA;
    case USCRIPT_HANGUL: return SG_SCRIPT_HANGUL;
    case USCRIPT_DEVANAGARI: return SG_SCRIPT_DEVANAGARI;
    case USCRIPT_THAI: return SG_SCRIPT_THAI;
    default: return SG_SCRIPT_OTHER;
    }
}

static void word_letter(const sg_normctx *nc, UChar32 c, wordstat *w,
                        uint32_t *scripts) {
    if (c < 0x80) {
        w->nlat++;
        *scripts |= SG_SCRIPT_LATIN;
        if (!nc->lat2cyr[(c | 0x20) - 'a']) w->all_lat_cyrillizable = false;
        return;
    }
    UScriptCode s = script_of(c);
    *scripts |= script_bit(s);
    if (s == USCRIPT_LATIN) {
        w->nlat++;
        w->all_lat_cyrillizable = false;
    } else if (s == USCRIPT_CYRILLIC || s == USCRIPT_GREEK ||
               s == USCRIPT_ARMENIAN || s == USCRIPT_CHEROKEE) {
        w->nconf++;
        if (s == USCRIPT_CYRILLIC) w->ncyr++;
        if (!conf_latin(nc, c)) w->all_conf_latinizable = false;
    }
}

/* Rewrite a mixed-script word u[a..b): to Cyrillic when it is mostly
 * Cyrillic and every Latin letter has a Cyrillic twin ("заработoк"),
 * else to Latin when every foreign letter has a Latin twin ("frее",
 * "раураl"); otherwise leave it. */
static void fix_word(const sg_normctx *nc, UChar *u, size_t a, size_t b,
                     const wordstat *w) {
    bool only_cyr = w->ncyr == w->nconf;
    bool to_cyr = only_cyr && w->all_lat_cyrillizable &&
                  (w->nconf > w->nlat || !w->all_conf_latinizable);
    if (!to_cyr && !w->all_conf_latinizable) return;
    for (size_t i = a; i < b; i++) { /* every letter involved is in the BMP */
        UChar c = u[i];
        if (to_cyr && c < 0x80 && u_isalpha(c))
            u[i] = nc->lat2cyr[(c | 0x20) - 'a'];
        else if (!to_cyr && conf_latin(nc, c))
            u[i] = conf_latin(nc, c);
    }
}

static bool letter_or_mark(UChar32 c) {
    if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    int8_t t = u_charType(c);
    return (t >= U_UPPERCASE_LETTER && t <= U_OTHER_LETTER) ||
           (t >= U_NON_SPACING_MARK && t <= U_COMBINING_SPACING_MARK);
}

static void words_pass(const sg_normctx *nc, UChar *u, size_t n, sg_norm *out) {
    size_t i = 0;
    while (i < n) {
        size_t a = i;
        UChar32 c;
        U16_NEXT(u, i, n, c);
        if (!letter_or_mark(c)) continue;
        wordstat w = {0, 0, 0, true, true};
        size_t b = i;
        for (;;) {
            if (u_isalpha(c)) word_letter(nc, c, &w, &out->scripts);
            b = i;
            if (i >= n) break;
            U16_NEXT(u, i, n, c);
            if (!letter_or_mark(c)) break;
        }
        if (w.nlat && w.nconf) {
            out->mixed_script_words++;
            fix_word(nc, u, a, b, &w);
        }
    }
}

/* ------------------------------------------------------------ normalize */

static int to_utf8(const UChar *u, size_t n, sg_norm *out) {
    size_t cap = n * 3 + 1;
    char *t = sg__malloc(cap);
    if (!t) return SG_ENOMEM;
    int32_t len = 0;
    UErrorCode e = U_ZERO_ERROR;
    u_strToUTF8(t, (int32_t)cap, &len, u, (int32_t)n, &e);
    if (U_FAILURE(e)) {
        sg__free(t);
        return SG_EUNICODE;
    }
    t[len] = '\0';
    if (cap - (size_t)len > 4096) { /* give back the slack of big texts */
        char *s = sg__realloc(t, (size_t)len + 1);
        if (s) t = s;
    }
    out->text = t;
    out->len = (size_t)len;
    return SG_OK;
}

static bool plain_ascii(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80 || s[i] == 0) return false;
    return true;
}

static int normalize_unicode(sg_normctx *nc, const char *s, size_t len,
                             sg_norm *out) {
    if (len > INT32_MAX / 3) return SG_EUNICODE; /* beyond ICU's int32 sizes */
    if (!sg__utf8_valid(s, len)) return SG_EUTF8;
    size_t units = 0, nd = 0;
    int rc = prepass_run(nc, s, len, out, &units);
    if (!rc) rc = nfkc_segments(nc, units, &nd);
    if (rc) return rc;
    words_pass(nc, nc->dst, nd, out);
    return to_utf8(nc->dst, nd, out);
}

int sg__normalize(sg_normctx *nc, const char *text, size_t len, sg_norm *out) {
    sg_assert(nc && out);
    memset(out, 0, sizeof *out);
    if (!text) text = "";
    int rc = plain_ascii(text, len) ? normalize_ascii(text, len, out)
                                    : normalize_unicode(nc, text, len, out);
    release_big_scratch(nc);
    if (rc) {
        sg__free(out->text);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

void sg__norm_free(sg_norm *n) {
    if (!n) return;
    sg__free(n->text);
    sg__free(n->skeleton);
    memset(n, 0, sizeof *n);
}

/* ------------------------------------------------------------ skeleton */

static int skeleton_utf8(sg_normctx *nc, const char *s, size_t len,
                         char **out, size_t *outlen) {
    *out = NULL;
    if (len > INT32_MAX / 4) return SG_EUNICODE;
    if (!sg__utf8_valid(s, len)) return SG_EUTF8;
    size_t cap = len * 2 + 16;
    for (;;) {
        char *buf = sg__malloc(cap);
        if (!buf) return SG_ENOMEM;
        UErrorCode e = U_ZERO_ERROR;
        int32_t n = uspoof_getSkeletonUTF8(nc->spoof, 0, s, (int32_t)len, buf,
                                           (int32_t)cap, &e);
        if (e == U_BUFFER_OVERFLOW_ERROR || (U_SUCCESS(e) && (size_t)n >= cap)) {
            sg__free(buf);
            cap = (size_t)n + 1;
            continue;
        }
        if (U_FAILURE(e)) {
            sg__free(buf);
            return SG_EUNICODE;
        }
        buf[n] = '\0';
        *out = buf;
        if (outlen) *outlen = (size_t)n;
        return SG_OK;
    }
}

int sg__norm_skeleton(sg_normctx *nc, sg_norm *n) {
    if (n->skeleton) return SG_OK;
    return skeleton_utf8(nc, n->text ? n->text : "", n->len, &n->skeleton,
                         &n->skeleton_len);
}

int sg__skeleton(sg_normctx *nc, const char *s, size_t len, char **out) {
    return skeleton_utf8(nc, s ? s : "", s ? len : 0, out, NULL);
}
