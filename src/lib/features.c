/*
 * features.c -- turns a normalized message (normalize.c) into hashed
 * features for the content model (model.c): a bias, meta features (link,
 * phone number, currency, prize words, digit / upper-case shares, length,
 * obfuscation seen), word unigrams, OSB word pairs (Siefkes, Siefkes,
 * Hunt & Yerazunis 2004), shapes of tokens with digits and character 2- to
 * 5-grams.  Each kind is hashed with its own xxHash (XXH3) seed into
 * 1 << hash_bits slots and weighted per kind before the vector is scaled
 * to unit length; every feature keeps its span in the normalized text so a
 * reason can name it.  It owns no state and never calls the store.
 */
#include "sg_internal.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define FEAT_MAX 65536u    /* distinct features kept per message */
#define PAIR_WINDOW 4      /* OSB: word i with each of the next 4 words */
#define STACK_TEXT 512     /* texts up to this many bytes use stack scratch */
#define STACK_SET 8192     /* dedup slots kept on the stack (~45 KiB in all):
                              messages of up to 2048 features need no heap */
#define NAME_MAX_BYTES 48  /* longer spans are cut in names */

/* One seed per feature kind, so that kinds do not collide systematically. */
static const uint64_t SEED_BIAS = 0x73675f6269617321ull;
static const uint64_t SEED_WORD = 0x73675f776f726421ull;
static const uint64_t SEED_PAIR = 0x73675f7061697221ull;
static const uint64_t SEED_CHAR = 0x73675f6368617221ull;
static const uint64_t SEED_META = 0x73675f6d65746121ull;
static const uint64_t SEED_SHAPE = 0x73675f7368617021ull;

/* Value of each kind before the vector is scaled to unit L2 norm, indexed
 * by sg_feat_kind.  Chosen by 5-fold cross-validation on the training
 * corpora only (SMS train split, YouTube, tg-spam; docs/accuracy.md):
 * words count more than character n-grams, word pairs less, and a heavier
 * bias lets the intercept move with less cost to the margin. */
static const float kind_weight[] = {
    [SG_FEAT_BIAS] = 3.0f, [SG_FEAT_WORD] = 2.5f, [SG_FEAT_PAIR] = 0.7f,
    [SG_FEAT_CHAR] = 1.0f, [SG_FEAT_META] = 1.0f, [SG_FEAT_SHAPE] = 1.0f};

/* SG_FEAT_SHAPE features: which one, in sg_feat.gap. */
enum {
    SHAPE_TOKEN = 1,    /* shape of a whitespace token with a digit */
    SHAPE_DIGITS,       /* a run of N ASCII digits (N >= 3) */
    SHAPE_PREFIX,       /* a run of N digits starting with two given ones */
    SHAPE_LONGEST       /* the longest digit run of the message */
};
#define SHAPE_MAX_BYTES 36 /* token shapes are cut after this many bytes */
#define DIGITS_CAP 16      /* digit run lengths above this count as 16 */

/* ------------------------------------------------------------ scratch */

typedef struct word {
    uint32_t off, len;  /* span in the normalized text */
    uint64_t h;         /* XXH3 of the bytes, SEED_WORD */
    bool numeric;       /* ASCII digits only */
    bool spaced;        /* a whole word of a spaced script, not a bigram */
} word;

/* Where features go.  Each emitting loop copies it into a local so that
 * its fields live in registers (no aliasing with the stores it makes). */
typedef struct sink {
    sg_feat *v;             /* the message's records */
    sg_feat *f;             /* the next one: f - v features so far */
    sg_feat *end;           /* emit() stops here (the limit) */
    uint32_t *set;          /* dedup: weight index + 1, 0 = empty */
    uint32_t set_mask;
    uint32_t mask;          /* weight table mask */
    const float *warm;      /* weights to prefetch, or NULL */
} sink;

typedef struct fx {
    const sg_norm *n;
    sink k;
    word *w;                /* words in text order */
    size_t nw, wcap;
    uint64_t *uh;           /* hash of unit k (its bytes; ' ' for a space run) */
    uint32_t *so;           /* unit k spans text[so[k]..so[k + 1]): units are
                               contiguous, so[nu] is the end of the last */
    size_t nu;              /* units (code points; a space run is one) */
    bool currency_sign;     /* a code point of category Sc was seen */
    size_t ascii_digits;    /* ASCII digits in the text (bounds shapes) */
} fx;

/* ------------------------------------------------------------ emitting */

/* Add a feature unless its weight index is already in this message
 * (first one kept) or, when `checked`, the message already has its limit
 * of features.  The set is open addressing on the index, at most an eighth
 * full (a quarter when that keeps it on the stack): a collision costs a
 * mispredicted branch, and features of an SMS text took 2.6 us at a
 * quarter full (~35 extra probes), 2.4 us at an eighth (~16), 3.3 us at
 * half full (bench_split; the set's memset is in these).  The first probe
 * is the index's low bits (they are hash bits already).  The one branch
 * of the common case is taken only on a collision: a repeated index costs
 * none, as the record is written either way and the record pointer moves
 * on only for a new index.  The value is left to scale_unit_norm, which
 * sets every feature's.  A loop that cannot reach the limit (has_room)
 * passes checked = false and saves a compare per feature. */
static inline __attribute__((always_inline)) void
emit_to(sink *k, uint64_t h, sg_feat_kind kind, uint32_t off, uint32_t len,
        uint32_t off2, uint32_t len2, uint32_t gap, const bool checked) {
    if (checked && k->f >= k->end) return;
    uint32_t idx = (uint32_t)h & k->mask, key = idx + 1;
    if (k->warm) __builtin_prefetch(k->warm + idx); /* sg__features_warm */
    uint32_t s = idx & k->set_mask, cur = k->set[s];
    /* cur is neither empty nor key: product of two nonzero 32-bit values */
    if (__builtin_expect((uint64_t)(cur ^ key) * cur != 0, 0)) {
        do s = (s + 1) & k->set_mask;
        while ((cur = k->set[s]) != 0 && cur != key);
    }
    k->set[s] = key;
    sg_feat *f = k->f;
    f->idx = idx;
    f->kind = (uint8_t)kind;
    f->gap = (uint8_t)gap;
    f->off = off;
    f->len = len;
    f->off2 = off2;
    f->len2 = len2;
    /* on by one record for a new index: a mask, not a branch */
    k->f = (sg_feat *)(void *)((char *)f + ((0u - (uint32_t)(cur == 0)) & sizeof *f));
}

static inline __attribute__((always_inline)) void
emit(sink *k, uint64_t h, sg_feat_kind kind, uint32_t off, uint32_t len,
     uint32_t off2, uint32_t len2, uint32_t gap) {
    emit_to(k, h, kind, off, len, off2, len2, gap, true);
}

static inline size_t count(const sink *k) {
    return (size_t)(k->f - k->v);
}

/* Room for `more` features before the limit: emit_to needs no check. */
static inline bool has_room(const sink *k, size_t more) {
    return (size_t)(k->end - k->f) >= more;
}

static inline uint64_t rotl64(uint64_t v, unsigned r) {
    return (v << r) | (v >> (64 - r));
}

/* XXH3 of {id, bucket} (SEED_META) for the buckets in use, filled once. */
#define META_BUCKETS 6
static uint64_t meta_hash[SG_META_COUNT_][META_BUCKETS];
static uint64_t bias_hash; /* XXH3 of "bias", SEED_BIAS */

static uint64_t meta_key_hash(sg_meta_id id, uint32_t bucket) {
    uint32_t k[2] = {(uint32_t)id, bucket};
    return XXH3_64bits_withSeed(k, sizeof k, SEED_META);
}

static void emit_meta(fx *x, sg_meta_id id, uint32_t bucket) {
    uint64_t h = bucket < META_BUCKETS ? meta_hash[id][bucket] : meta_key_hash(id, bucket);
    emit(&x->k, h, SG_FEAT_META, id, bucket, 0, 0, 0);
}

/* ------------------------------------------------------------ tokenizing */

enum { K_SPACE, K_WORD, K_CONT, K_MARK, K_APOS, K_OTHER };

/* Scripts written without spaces between words: words become code point
 * bigrams there (no dictionary segmentation; fast and good enough for
 * hashed features). */
static bool continuous_script(UChar32 c) {
    if (c < 0x0E00) return false; /* Thai is the first of them */
    UErrorCode e = U_ZERO_ERROR;
    switch (uscript_getScript(c, &e)) {
    case USCRIPT_HAN: case USCRIPT_HIRAGANA: case USCRIPT_KATAKANA:
    case USCRIPT_THAI: case USCRIPT_LAO: case USCRIPT_KHMER:
    case USCRIPT_MYANMAR:
        return true;
    default:
        return false;
    }
}

static int ascii_kind(UChar32 c) {
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return K_WORD;
    if (c >= '0' && c <= '9') return K_WORD;
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return K_SPACE;
    if (c == '\'') return K_APOS;
    return K_OTHER;
}

static int cp_kind(fx *x, UChar32 c) {
    if (c < 0x80) {
        if (c == '$') x->currency_sign = true;
        return ascii_kind(c);
    }
    if (c == 0x2019 || c == 0x02BC) return K_APOS;
    int8_t t = u_charType(c);
    switch (t) {
    case U_UPPERCASE_LETTER: case U_LOWERCASE_LETTER: case U_TITLECASE_LETTER:
    case U_OTHER_LETTER:
        return continuous_script(c) ? K_CONT : K_WORD;
    case U_MODIFIER_LETTER: /* the katakana long vowel mark ー is Common */
        return continuous_script(c) ? K_CONT : K_MARK;
    case U_DECIMAL_DIGIT_NUMBER:
        return K_WORD;
    case U_NON_SPACING_MARK: case U_ENCLOSING_MARK: case U_COMBINING_SPACING_MARK:
        return K_MARK;
    case U_SPACE_SEPARATOR: case U_LINE_SEPARATOR: case U_PARAGRAPH_SEPARATOR:
        return K_SPACE;
    case U_CURRENCY_SYMBOL:
        x->currency_sign = true;
        return K_OTHER;
    default:
        return c == 0x85 ? K_SPACE : K_OTHER;
    }
}

static void push_word(fx *x, uint32_t off, uint32_t len, bool spaced) {
    if (x->nw == x->wcap || len == 0) return;
    const char *t = x->n->text + off;
    bool num = true;
    for (uint32_t i = 0; i < len && num; i++) num = t[i] >= '0' && t[i] <= '9';
    x->w[x->nw++] = (word){off, len, XXH3_64bits_withSeed(t, len, SEED_WORD),
                           num, spaced};
}

/* A run of a space-less script: one word per pair of neighbouring base
 * characters (marks stay with their base), or the single character. */
static void push_bigrams(fx *x, uint32_t off, uint32_t end) {
    const char *t = x->n->text;
    int64_t u0 = -1, u1 = -1;
    uint32_t i = off;
    while (i < end) {
        uint32_t at = i;
        UChar32 c;
        U8_NEXT(t, i, end, c);
        int8_t ty = u_charType(c);
        if (ty == U_NON_SPACING_MARK || ty == U_COMBINING_SPACING_MARK ||
            ty == U_ENCLOSING_MARK)
            continue;
        if (u0 >= 0 && u1 >= 0) {
            push_word(x, (uint32_t)u0, at - (uint32_t)u0, false);
            u0 = u1;
            u1 = at;
        } else if (u0 >= 0) {
            u1 = at;
        } else {
            u0 = at;
        }
    }
    if (u0 >= 0) push_word(x, (uint32_t)u0, end - (uint32_t)u0, false);
}

/* Units for character n-grams: each code point, a whitespace run as one
 * ' ' (the word boundary marker), no leading or trailing whitespace.  A
 * unit is kept as the XXH3 hash of its UTF-8 bytes (a table for ASCII;
 * a lone byte of invalid UTF-8 takes the entry of its low 7 bits). */
static uint64_t ascii_uh[128];
static uint8_t ascii_kinds[128]; /* ascii_kind() of each */

static uint64_t unit_hash(const char *t, uint32_t at, uint32_t end) {
    if (end - at == 1) return ascii_uh[(unsigned char)t[at] & 0x7F];
    return XXH3_64bits_withSeed(t + at, end - at, SEED_CHAR);
}

typedef struct run {
    int kind;           /* K_WORD, K_CONT or K_SPACE (= none) */
    uint32_t off, end;
} run;

static void end_run(fx *x, run *r) {
    if (r->kind == K_WORD) push_word(x, r->off, r->end - r->off, true);
    else if (r->kind == K_CONT) push_bigrams(x, r->off, r->end);
    r->kind = K_SPACE;
}

static UChar32 next_cp(const char *t, uint32_t i, uint32_t n) {
    if (i >= n) return -1;
    UChar32 c;
    U8_NEXT(t, i, n, c);
    return c;
}

/* Word runs: letters/digits with marks and inner apostrophes ("don't");
 * space-less scripts in their own runs. */
static void step_run(fx *x, run *r, int k, uint32_t at, uint32_t end) {
    if (k == K_APOS && r->kind == K_WORD) {
        UChar32 c = next_cp(x->n->text, end, (uint32_t)x->n->len);
        if (c >= 0 && cp_kind(x, c) == K_WORD) k = K_MARK; /* inner: keep */
    }
    if (k == K_MARK) {
        if (r->kind != K_SPACE) r->end = end;
        return;
    }
    if ((k == K_WORD || k == K_CONT) && r->kind == k) {
        r->end = end;
        return;
    }
    end_run(x, r);
    if (k == K_WORD || k == K_CONT) *r = (run){k, at, end};
}

/* Units and word runs in one pass; ASCII (most of the text) by table,
 * and a letter or digit inside a word run takes the short way. */
static void tokenize(fx *x) {
    const char *t = x->n->text;
    uint32_t n = (uint32_t)x->n->len, i = 0;
    uint64_t *uh = x->uh;
    uint32_t *so = x->so;
    size_t nu = 0, digits = 0;
    bool last_space = false, dollar = false;
    run r = {K_SPACE, 0, 0};
    while (i < n) {
        uint32_t at = i;
        unsigned char b = (unsigned char)t[i];
        int k;
        if (b < 0x80) {
            i++;
            k = ascii_kinds[b];
            digits += (unsigned)(b - '0') < 10u;
            dollar |= b == '$';
        } else {
            UChar32 c;
            U8_NEXT(t, i, n, c);
            if (c < 0) c = 0xFFFD; /* normalize.c gives valid UTF-8 */
            k = cp_kind(x, c);
        }
        if (k != K_SPACE) {
            uh[nu] = b < 0x80 ? ascii_uh[b] : unit_hash(t, at, i);
            so[nu++] = at;
            last_space = false;
        } else if (nu > 0 && !last_space) { /* the first of a run */
            uh[nu] = ascii_uh[' '];
            so[nu++] = at;
            last_space = true;
        }
        if (k == K_WORD && r.kind == K_WORD) r.end = i;
        else step_run(x, &r, k, at, i);
        if (r.kind != K_WORD) continue;
        /* the rest of an ASCII word: its letters and digits */
        while (i < n && (b = (unsigned char)t[i]) < 0x80 && ascii_kinds[b] == K_WORD) {
            uh[nu] = ascii_uh[b];
            so[nu++] = i++;
            digits += (unsigned)(b - '0') < 10u;
        }
        r.end = i;
        last_space = false;
    }
    end_run(x, &r);
    if (last_space) nu--; /* trailing whitespace: so[nu] ends the last unit */
    else so[nu] = n;
    x->nu = nu;
    x->ascii_digits = digits;
    x->currency_sign |= dollar;
}

/* ------------------------------------------------------------ meta */

static bool ascii_alnum(char c) {
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Word lists carry their lengths: matching runs for every word. */
typedef struct lex {
    const char *s;
    uint32_t len;
} lex;
#define LEX(str) {str, sizeof(str) - 1}

static bool in_lex(const lex *l, size_t nl, const char *s, uint32_t len) {
    for (size_t i = 0; i < nl; i++)
        if (l[i].len == len && s[0] == l[i].s[0] && memcmp(s, l[i].s, len) == 0)
            return true;
    return false;
}

/* Top-level domains that make "name.tld" look like a link even without a
 * scheme (the common gTLDs, ccTLDs of shorteners and cheap spam TLDs). */
static const lex url_tlds[] = {
    LEX("com"), LEX("net"), LEX("org"), LEX("info"), LEX("biz"), LEX("ru"),
    LEX("su"), LEX("uk"), LEX("co"), LEX("io"), LEX("ly"), LEX("me"),
    LEX("to"), LEX("gd"), LEX("gl"), LEX("be"), LEX("us"), LEX("de"),
    LEX("fr"), LEX("in"), LEX("cc"), LEX("tk"), LEX("ml"), LEX("ga"),
    LEX("cf"), LEX("gq"), LEX("pw"), LEX("ws"), LEX("tv"), LEX("xyz"),
    LEX("top"), LEX("site"), LEX("online"), LEX("club"), LEX("click"),
    LEX("link"), LEX("app"), LEX("shop"), LEX("store"), LEX("live"),
    LEX("tech"), LEX("vip"), LEX("win"), LEX("loan"), LEX("icu"), LEX("buzz")};
#define NLEX(a) (sizeof(a) / sizeof(a[0]))

static bool tld_at(const char *t, size_t i, size_t n) {
    size_t j = i;
    while (j < n && t[j] >= 'a' && t[j] <= 'z') j++;
    if (j - i < 2 || j - i > 6 || (j < n && ascii_alnum(t[j]))) return false;
    return in_lex(url_tlds, NLEX(url_tlds), t + i, (uint32_t)(j - i));
}

/* A link: "://", "www.", "hxxp:" or a name ending in a known TLD. */
static bool url_colon(const char *t, size_t i, size_t n) {
    if (i + 2 < n && t[i + 1] == '/' && t[i + 2] == '/') return true;
    return i >= 4 && memcmp(t + i - 4, "hxxp", 4) == 0;
}

static bool url_dot(const char *t, size_t i, size_t n) {
    if (!ascii_alnum(t[i - 1]) && !(t[i - 1] & 0x80)) return false;
    if (i >= 3 && memcmp(t + i - 3, "www", 3) == 0) return true;
    if (tld_at(t, i + 1, n)) return true;
    return n - i >= 5 && memcmp(t + i + 1, "\xD1\x80\xD1\x84", 4) == 0; /* .рф */
}

/* The ':' and '.' at 1 <= i < n - 1, found by memchr (the answer does
 * not depend on which is seen first). */
static bool meta_url(const char *t, size_t n) {
    if (n < 3) return false;
    const char *end = t + n - 1, *p;
    for (p = t + 1; (p = memchr(p, ':', (size_t)(end - p))) != NULL; p++)
        if (url_colon(t, (size_t)(p - t), n)) return true;
    for (p = t + 1; (p = memchr(p, '.', (size_t)(end - p))) != NULL; p++)
        if (url_dot(t, (size_t)(p - t), n)) return true;
    return false;
}

/* A run of ASCII digits with single separators (space, '-', '(' , ')'),
 * an optional leading '+'.  Returns the end; digit and group counts out. */
typedef struct digrun {
    unsigned digits, groups, glen[4];
    char sep;           /* the separator if all are the same, else '?' */
} digrun;

static size_t scan_digits(const char *t, size_t i, size_t n, digrun *d) {
    memset(d, 0, sizeof *d);
    size_t last = i;
    while (i < n) {
        if (t[i] >= '0' && t[i] <= '9') {
            if (i == 0 || t[i - 1] < '0' || t[i - 1] > '9') d->groups++;
            if (d->groups <= 4) d->glen[d->groups - 1]++;
            d->digits++;
            last = ++i;
            continue;
        }
        char c = t[i];
        if ((c == ' ' || c == '-' || c == '(' || c == ')') && i + 1 < n &&
            ((t[i + 1] >= '0' && t[i + 1] <= '9') || t[i + 1] == '(' ||
             (c == ')' && t[i + 1] == ' '))) {
            d->sep = (d->sep == 0 || d->sep == c) ? c : '?';
            i++;
            continue;
        }
        break;
    }
    return last;
}

static bool date_like(const digrun *d) {
    if (d->groups != 3 || d->sep != '-') return false;
    return (d->glen[0] == 4 && d->glen[1] <= 2 && d->glen[2] <= 2) ||
           (d->glen[0] <= 2 && d->glen[1] <= 2 && (d->glen[2] == 4 || d->glen[2] == 2));
}

static bool currency_next_to(const char *t, size_t a, size_t b, size_t n) {
    if ((a > 0 && t[a - 1] == '$') || (b < n && t[b] == '$')) return true;
    if (a > 0 && (unsigned char)t[a - 1] >= 0x80) {
        int32_t i = (int32_t)a;
        UChar32 c;
        U8_PREV(t, 0, i, c);
        if (c >= 0 && u_charType(c) == U_CURRENCY_SYMBOL) return true;
    }
    if (b < n && (unsigned char)t[b] >= 0x80) {
        int32_t i = (int32_t)b;
        UChar32 c;
        U8_NEXT(t, i, (int32_t)n, c);
        if (c >= 0 && u_charType(c) == U_CURRENCY_SYMBOL) return true;
    }
    return false;
}

/* Phone-number-like: 7..15 digits with optional separators (not a date),
 * or a stand-alone 5-digit short code ("text WIN to 86688"). */
static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* The digits at [a, b) continue a number: "3.14", "1,234". */
static bool part_of_number(const char *t, size_t a, size_t b, size_t n) {
    return (a >= 2 && (t[a - 1] == '.' || t[a - 1] == ',') && is_digit(t[a - 2])) ||
           (b + 1 < n && (t[b] == '.' || t[b] == ',') && is_digit(t[b + 1]));
}

static bool meta_phone(const char *t, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (!is_digit(t[i]) || (i > 0 && ascii_alnum(t[i - 1]))) {
            i++;
            continue;
        }
        digrun d;
        size_t end = scan_digits(t, i, n, &d);
        bool number = !part_of_number(t, i, end, n);
        bool alone = number && (end >= n || !ascii_alnum(t[end]));
        /* long numbers glued to a word still count: "08452810075over18" */
        if (number && d.digits >= 7 && d.digits <= 15 && !date_like(&d)) return true;
        if (alone && d.digits == 5 && d.groups == 1 && !currency_next_to(t, i, end, n))
            return true;
        i = end > i ? end : i + 1;
    }
    return false;
}

/* Prize / money / urgency words: English exact words, Russian stems. */
static const lex prize_exact[] = {
    LEX("win"), LEX("wins"), LEX("winner"), LEX("winners"), LEX("winning"),
    LEX("won"), LEX("prize"), LEX("prizes"), LEX("free"), LEX("claim"),
    LEX("claimed"), LEX("cash"), LEX("urgent"), LEX("urgently"),
    LEX("congratulations"), LEX("congrats"), LEX("award"), LEX("awarded"),
    LEX("guaranteed"), LEX("guarantee"), LEX("bonus"), LEX("crypto"),
    LEX("bitcoin"), LEX("invest"), LEX("investment"), LEX("earn"),
    LEX("earning"), LEX("earnings"), LEX("reward"), LEX("rewards"),
    LEX("lottery"), LEX("jackpot"), LEX("selected"), LEX("voucher"),
    LEX("gift"), LEX("giveaway"), LEX("profit"), LEX("income"), LEX("refund"),
    LEX("приз"), LEX("призы"), LEX("приза"), LEX("призов"), LEX("призом")};
static const lex prize_stems[] = {
    LEX("выигр"), LEX("заработ"), LEX("бесплатн"), LEX("срочн"), LEX("бонус"),
    LEX("доход"), LEX("инвест"), LEX("крипт"), LEX("поздравл"), LEX("подар"),
    LEX("халяв"), LEX("деньг"), LEX("денег"), LEX("прибыл")};

/* A 4096-bit filter of the word hashes of the exact-match lists: most
 * words are rejected with one bit test.  Filled once per process. */
static uint64_t lex_filter[64];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void lex_filter_add(const lex *l, size_t nl) {
    for (size_t i = 0; i < nl; i++) {
        uint64_t h = XXH3_64bits_withSeed(l[i].s, l[i].len, SEED_WORD);
        lex_filter[(h >> 52) & 63] |= 1ull << ((h >> 46) & 63);
    }
}

static void tables_init(void);

static bool lex_maybe(uint64_t h) {
    return (lex_filter[(h >> 52) & 63] >> ((h >> 46) & 63)) & 1;
}

static bool prize_word(const char *t, const word *w) {
    if (w->len < 3 || w->len > 32 || !w->spaced) return false;
    if (lex_maybe(w->h) && in_lex(prize_exact, NLEX(prize_exact), t + w->off, w->len))
        return true;
    if ((unsigned char)t[w->off] < 0x80) return false;
    for (size_t i = 0; i < NLEX(prize_stems); i++)
        if (w->len >= prize_stems[i].len &&
            memcmp(t + w->off, prize_stems[i].s, prize_stems[i].len) == 0)
            return true;
    return false;
}

static const lex currency_words[] = {
    LEX("usd"), LEX("eur"), LEX("gbp"), LEX("rub"), LEX("btc"), LEX("usdt"),
    LEX("dollar"), LEX("dollars"), LEX("euro"), LEX("euros"), LEX("pounds"),
    LEX("руб"), LEX("рубль"), LEX("рубля"), LEX("рублей"), LEX("долларов"),
    LEX("евро")};

static void tables_init(void) {
    for (unsigned c = 0; c < 128; c++) {
        char b = (char)c;
        ascii_uh[c] = XXH3_64bits_withSeed(&b, 1, SEED_CHAR);
        ascii_kinds[c] = (uint8_t)ascii_kind((UChar32)c);
    }
    bias_hash = XXH3_64bits_withSeed("bias", 4, SEED_BIAS);
    for (unsigned id = 0; id < SG_META_COUNT_; id++)
        for (uint32_t b = 0; b < META_BUCKETS; b++)
            meta_hash[id][b] = meta_key_hash((sg_meta_id)id, b);
    lex_filter_add(prize_exact, NLEX(prize_exact));
    lex_filter_add(currency_words, NLEX(currency_words));
}

/* A currency sign, an amount glued to a currency word ("1000usd"), or a
 * currency word next to a number ("20,000 pounds", "usd 500"). */
static bool meta_currency(const fx *x) {
    if (x->currency_sign) return true;
    const char *t = x->n->text;
    for (size_t i = 0; i < x->nw; i++) {
        const word *w = &x->w[i];
        uint32_t k = 0;
        if (t[w->off] >= '0' && t[w->off] <= '9') {
            while (k < w->len && t[w->off + k] >= '0' && t[w->off + k] <= '9') k++;
        } else if (!lex_maybe(w->h)) {
            continue;
        }
        if (k == w->len ||
            !in_lex(currency_words, NLEX(currency_words), t + w->off + k, w->len - k))
            continue;
        if (k > 0 || (i > 0 && x->w[i - 1].numeric) ||
            (i + 1 < x->nw && x->w[i + 1].numeric))
            return true;
    }
    return false;
}

static uint32_t bucket_digits(const sg_norm *n) {
    if (!n->digits) return 0;
    double r = (double)n->digits / (n->codepoints ? n->codepoints : 1);
    return r < 0.05 ? 1 : r < 0.15 ? 2 : r < 0.30 ? 3 : 4;
}

static uint32_t bucket_upper(const sg_norm *n) {
    if (n->letters < 4) return 4;
    double r = (double)n->uppercase / n->letters;
    return r < 0.10 ? 0 : r < 0.30 ? 1 : r < 0.60 ? 2 : 3;
}

static uint32_t bucket_length(const sg_norm *n) {
    uint32_t c = n->codepoints;
    return c < 20 ? 0 : c < 50 ? 1 : c < 100 ? 2 : c < 160 ? 3 : c < 400 ? 4 : 5;
}

static void emit_metas(fx *x) {
    const sg_norm *n = x->n;
    if (meta_url(n->text, n->len)) emit_meta(x, SG_META_URL, 1);
    if (x->ascii_digits && meta_phone(n->text, n->len)) emit_meta(x, SG_META_PHONE, 1);
    if (meta_currency(x)) emit_meta(x, SG_META_CURRENCY, 1);
    uint32_t prizes = 0;
    for (size_t i = 0; i < x->nw; i++) prizes += prize_word(n->text, &x->w[i]);
    if (prizes) emit_meta(x, SG_META_PRIZE, prizes < 3 ? prizes : 3);
    emit_meta(x, SG_META_DIGIT_RATIO, bucket_digits(n));
    emit_meta(x, SG_META_UPPER_RATIO, bucket_upper(n));
    emit_meta(x, SG_META_LENGTH, bucket_length(n));
    if (n->invisibles) emit_meta(x, SG_META_INVISIBLE, 1);
    if (n->mixed_script_words) emit_meta(x, SG_META_MIXED_SCRIPT, 1);
    if (n->folded) emit_meta(x, SG_META_FOLDED, 1);
}

/* ------------------------------------------------------------ features */

static inline __attribute__((always_inline)) void
words_loop(sink *k, const word *w, size_t nw, const bool checked) {
    for (size_t i = 0; i < nw; i++)
        emit_to(k, w[i].h, SG_FEAT_WORD, w[i].off, w[i].len, 0, 0, 0, checked);
}

static void emit_words(fx *x) {
    sink k = x->k;
    if (has_room(&k, x->nw)) words_loop(&k, x->w, x->nw, false);
    else words_loop(&k, x->w, x->nw, true);
    x->k.f = k.f;
}

/* Orthogonal sparse bigrams: word i with word i+1+gap, gap 0..3, keyed
 * with the gap (Siefkes et al., "Combining Winnow and Orthogonal Sparse
 * Bigrams for Incremental Spam Filtering", PKDD 2004). */
static inline __attribute__((always_inline)) void
pairs_loop(sink *s, const word *w, size_t nw, const bool checked) {
    for (size_t i = 0; i < nw; i++) {
        for (uint32_t g = 0; g < PAIR_WINDOW && i + 1 + g < nw; g++) {
            const word *a = &w[i], *b = &w[i + 1 + g];
            uint64_t k = a->h ^ rotl64(b->h, 29) ^ (SEED_PAIR + g);
            emit_to(s, XXH3_avalanche(k), SG_FEAT_PAIR, a->off, a->len, b->off,
                    b->len, g, checked);
        }
    }
}

static void emit_pairs(fx *x) {
    sink s = x->k;
    if (has_room(&s, PAIR_WINDOW * x->nw)) pairs_loop(&s, x->w, x->nw, false);
    else pairs_loop(&s, x->w, x->nw, true);
    x->k.f = s.f;
}

/* Character n-grams, n = 2..5 units.  The key of units k..k+n-1 is a
 * cyclic-polynomial combination of the unit hashes (each rotated by its
 * position, as in Buzhash), finished by XXH3's avalanche: one multiply
 * chain per n-gram instead of hashing its bytes again.  The 2-grams (with
 * the word boundary: " u", "u ", "xt") lowered the cross-validated
 * (1-ROCA)% and raised the leave-one-corpus-out ROC AUC on the training
 * corpora (docs/accuracy.md). */
static inline __attribute__((always_inline)) void
chars_loop(sink *s, const uint64_t *u, const uint32_t *so, size_t nu,
           const bool checked) {
    size_t k = 0;
    for (; k + 5 <= nu; k++) { /* all four n-grams start at unit k */
        uint32_t o = so[k];
        uint64_t r = u[k] ^ rotl64(u[k + 1], 13);
        emit_to(s, XXH3_avalanche(r + 2 * SEED_CHAR), SG_FEAT_CHAR, o, so[k + 2] - o,
                0, 0, 0, checked);
        r ^= rotl64(u[k + 2], 26);
        emit_to(s, XXH3_avalanche(r + 3 * SEED_CHAR), SG_FEAT_CHAR, o, so[k + 3] - o,
                0, 0, 0, checked);
        r ^= rotl64(u[k + 3], 39);
        emit_to(s, XXH3_avalanche(r + 4 * SEED_CHAR), SG_FEAT_CHAR, o, so[k + 4] - o,
                0, 0, 0, checked);
        r ^= rotl64(u[k + 4], 52);
        emit_to(s, XXH3_avalanche(r + 5 * SEED_CHAR), SG_FEAT_CHAR, o, so[k + 5] - o,
                0, 0, 0, checked);
    }
    for (; k + 2 <= nu; k++) { /* the last units: the n-grams that fit */
        uint32_t o = so[k];
        uint64_t r = u[k] ^ rotl64(u[k + 1], 13);
        emit_to(s, XXH3_avalanche(r + 2 * SEED_CHAR), SG_FEAT_CHAR, o, so[k + 2] - o,
                0, 0, 0, checked);
        if (k + 3 > nu) continue;
        r ^= rotl64(u[k + 2], 26);
        emit_to(s, XXH3_avalanche(r + 3 * SEED_CHAR), SG_FEAT_CHAR, o, so[k + 3] - o,
                0, 0, 0, checked);
        if (k + 4 > nu) continue;
        r ^= rotl64(u[k + 3], 39);
        emit_to(s, XXH3_avalanche(r + 4 * SEED_CHAR), SG_FEAT_CHAR, o, so[k + 4] - o,
                0, 0, 0, checked);
    }
}

/* The loops in functions of their own, whose registers are their own
 * (inlined into extract() the loop kept the sink's fields on the stack);
 * the checked one, for messages at the limit, out of the way. */
static __attribute__((noinline)) sg_feat *
chars_unchecked(sink s, const uint64_t *u, const uint32_t *so, size_t nu) {
    chars_loop(&s, u, so, nu, false);
    return s.f;
}

static __attribute__((noinline, cold)) sg_feat *
chars_checked(sink s, const uint64_t *u, const uint32_t *so, size_t nu) {
    chars_loop(&s, u, so, nu, true);
    return s.f;
}

static void emit_chars(fx *x) {
    if (has_room(&x->k, 4 * x->nu)) x->k.f = chars_unchecked(x->k, x->uh, x->so, x->nu);
    else x->k.f = chars_checked(x->k, x->uh, x->so, x->nu);
}

/* Words that mix letters and digits ("4goten", "2nite", "150p"): each
 * digit part and each part between digits is a word too, so SMS spellings
 * share weights with the plain words ("goten", "nite", "150"). */
static void emit_word_parts(fx *x) {
    const char *t = x->n->text;
    sink s = x->k;
    for (size_t w = 0; w < x->nw; w++) {
        const word *wd = &x->w[w];
        if (wd->numeric || !wd->spaced) continue;
        uint32_t a = wd->off, end = wd->off + wd->len, digits = 0;
        for (uint32_t i = a; i < end; i++) digits += is_digit(t[i]);
        if (digits == 0) continue;
        for (uint32_t i = a; i < end;) {
            uint32_t from = i;
            bool d = is_digit(t[i]);
            while (i < end && is_digit(t[i]) == d) i++;
            emit(&s, XXH3_64bits_withSeed(t + from, i - from, SEED_WORD), SG_FEAT_WORD,
                 from, i - from, 0, 0, 0);
        }
    }
    x->k.f = s.f;
}

static bool ascii_space(char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D);
}

/* The shape of text[a..b): ASCII digits become '9', letters 'a', other
 * characters stay ("£1000" -> "£9999", "150p/txt" -> "999a/aaa"), cut at
 * a character boundary after SHAPE_MAX_BYTES.  Returns its length. */
static size_t token_shape(const char *t, uint32_t a, uint32_t b,
                          char out[SHAPE_MAX_BYTES]) {
    size_t k = 0;
    for (uint32_t i = a; i < b;) {
        uint32_t at = i;
        UChar32 c;
        U8_NEXT(t, i, b, c);
        if (k + (i - at) > SHAPE_MAX_BYTES) break;
        if (c >= '0' && c <= '9') {
            out[k++] = '9';
        } else if (c >= 0 && (c < 0x80 ? ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
                                       : u_isalpha(c))) {
            out[k++] = 'a';
        } else {
            memcpy(out + k, t + at, i - at);
            k += i - at;
        }
    }
    return k;
}

/* Shapes of the whitespace tokens that hold a digit: the form of phone
 * numbers, short codes, prices and SMS spellings whatever their digits
 * ("09061701461" -> 11 nines, "£1000" -> "£9999"). */
static void emit_token_shapes(fx *x) {
    const char *t = x->n->text;
    uint32_t n = (uint32_t)x->n->len;
    for (uint32_t i = 0; i < n;) {
        while (i < n && ascii_space(t[i])) i++;
        uint32_t a = i;
        bool digit = false;
        for (; i < n && !ascii_space(t[i]); i++) digit |= is_digit(t[i]);
        if (!digit) continue;
        char shape[SHAPE_MAX_BYTES];
        size_t len = token_shape(t, a, i, shape);
        emit(&x->k, XXH3_64bits_withSeed(shape, len, SEED_SHAPE), SG_FEAT_SHAPE, a,
             i - a, 0, 0, SHAPE_TOKEN);
    }
}

/* Runs of 3+ ASCII digits by length, and by length with their first two
 * digits (UK premium numbers start 09, mobiles 07, short codes 8); and the
 * length of the message's longest digit run (none without digits). */
static void emit_digit_runs(fx *x) {
    const char *t = x->n->text;
    uint32_t n = (uint32_t)x->n->len, longest = 0;
    for (uint32_t i = 0; i < n;) {
        if (!is_digit(t[i])) { i++; continue; }
        uint32_t a = i;
        while (i < n && is_digit(t[i])) i++;
        uint32_t len = i - a;
        if (len > longest) longest = len;
        if (len < 3) continue;
        uint32_t key[3] = {SHAPE_DIGITS, len < DIGITS_CAP ? len : DIGITS_CAP, 0};
        emit(&x->k, XXH3_64bits_withSeed(key, 8, SEED_SHAPE), SG_FEAT_SHAPE, a, len,
             0, 0, SHAPE_DIGITS);
        key[0] = SHAPE_PREFIX;
        key[2] = (uint32_t)(t[a] - '0') * 10 + (uint32_t)(t[a + 1] - '0');
        emit(&x->k, XXH3_64bits_withSeed(key, 12, SEED_SHAPE), SG_FEAT_SHAPE, a, len,
             0, 0, SHAPE_PREFIX);
    }
    if (longest == 0) return; /* "no digits" already says so */
    uint32_t key[2] = {SHAPE_LONGEST, longest < DIGITS_CAP ? longest : DIGITS_CAP};
    emit(&x->k, XXH3_64bits_withSeed(key, 8, SEED_SHAPE), SG_FEAT_SHAPE, 0, key[1],
         0, 0, SHAPE_LONGEST);
}

/* Each feature gets its kind's weight, then the vector is scaled to unit
 * L2 norm.  Features come in blocks of one kind: block b is
 * v[end[b - 1]..end[b]) (end[-1] = 0) of kind kinds[b]. */
static void scale_unit_norm(sg_featvec *fv, const size_t *end,
                            const sg_feat_kind *kinds, size_t blocks) {
    double ss = 0;
    for (size_t b = 0, from = 0; b < blocks; from = end[b++])
        ss += (double)(end[b] - from) * kind_weight[kinds[b]] * kind_weight[kinds[b]];
    if (ss <= 0) return;
    double z = 1.0 / sqrt(ss);
    for (size_t b = 0, from = 0; b < blocks; from = end[b++]) {
        float v = (float)(kind_weight[kinds[b]] * z);
        for (size_t i = from; i < end[b]; i++) fv->v[i].val = v;
    }
}

/* Upper bound of the features of a tokenized message, capped.  ASCII
 * digits add at most 5 each: word parts (<= 3 per digit of the word), a
 * token shape, two digit-run keys per run of 3+ digits and the longest
 * run (one per message). */
static size_t feature_bound(const fx *x) {
    size_t b = 1 + SG_META_COUNT_ + x->nw * (1 + PAIR_WINDOW) + x->nu * 4 +
               x->ascii_digits * 5;
    return b < FEAT_MAX ? b : FEAT_MAX;
}

static int reserve(sg_featvec *fv, size_t cap) {
    if (fv->cap >= cap) return SG_OK;
    sg_feat *v = sg__realloc(fv->v, cap * sizeof *v);
    if (!v) return SG_ENOMEM;
    fv->v = v;
    fv->cap = cap;
    return SG_OK;
}

static int extract(fx *x, sg_featvec *fv) {
    size_t bound = feature_bound(x);
    int rc = reserve(fv, bound);
    if (rc) return rc;
    x->k.v = x->k.f = fv->v;
    x->k.end = fv->v + bound;
    uint32_t stack[STACK_SET], bits = 4;
    while (((size_t)1 << bits) < 8 * bound) bits++; /* at most 1/8 full */
    size_t slots = (size_t)1 << bits;
    if (slots > STACK_SET && 4 * bound <= STACK_SET) slots = STACK_SET; /* 1/4 */
    x->k.set_mask = (uint32_t)slots - 1;
    x->k.set = slots <= STACK_SET ? stack : sg__malloc(slots * sizeof *x->k.set);
    if (!x->k.set) return SG_ENOMEM;
    memset(x->k.set, 0, slots * sizeof *x->k.set);
    static const sg_feat_kind kinds[] = {SG_FEAT_BIAS, SG_FEAT_META, SG_FEAT_WORD,
                                         SG_FEAT_SHAPE, SG_FEAT_PAIR, SG_FEAT_CHAR};
    size_t end[6];
    emit(&x->k, bias_hash, SG_FEAT_BIAS, 0, 0, 0, 0, 0);
    end[0] = count(&x->k);
    emit_metas(x);
    end[1] = count(&x->k);
    emit_words(x);
    if (x->ascii_digits) emit_word_parts(x);
    end[2] = count(&x->k);
    if (x->ascii_digits) {
        emit_token_shapes(x);
        emit_digit_runs(x);
    }
    end[3] = count(&x->k);
    emit_pairs(x);
    end[4] = count(&x->k);
    emit_chars(x);
    end[5] = fv->n = count(&x->k);
    scale_unit_norm(fv, end, kinds, 6);
    if (x->k.set != stack) sg__free(x->k.set);
    x->k.set = NULL;
    return SG_OK;
}

/* Scratch for tokenizing: on the stack for short texts, else one block. */
typedef struct scratch {
    uint64_t uh[STACK_TEXT + 1];
    uint32_t so[STACK_TEXT + 1];
    word w[STACK_TEXT / 2 + 2];
} scratch;

static int scratch_setup(fx *x, scratch *st, void **heap) {
    size_t n = x->n->len;
    x->wcap = n / 2 + 2;
    *heap = NULL;
    if (n <= STACK_TEXT) {
        x->uh = st->uh;
        x->so = st->so;
        x->w = st->w;
        return SG_OK;
    }
    size_t bytes = x->wcap * sizeof(word) + (n + 1) * sizeof(uint64_t) +
                   (n + 1) * sizeof(uint32_t);
    char *p = sg__malloc(bytes);
    if (!p) return SG_ENOMEM;
    *heap = p;
    x->w = (word *)(void *)p;
    x->uh = (uint64_t *)(void *)(p + x->wcap * sizeof(word));
    x->so = (uint32_t *)(x->uh + n + 1);
    return SG_OK;
}

int sg__features(const sg_norm *n, uint32_t hash_bits, sg_featvec *fv) {
    return sg__features_warm(n, hash_bits, NULL, fv);
}

int sg__features_warm(const sg_norm *n, uint32_t hash_bits, const float *weights,
                      sg_featvec *fv) {
    sg_assert(hash_bits >= 1 && hash_bits <= 31);
    fv->n = 0;
    sg_norm empty = {0};
    if (!n->text) {
        empty.text = (char *)"";
        n = &empty;
    }
    fx x = {.n = n, .k = {.mask = (1u << hash_bits) - 1, .warm = weights}};
    scratch st;
    void *heap;
    int rc = scratch_setup(&x, &st, &heap);
    if (rc) return rc;
    pthread_once(&tables_once, tables_init);
    tokenize(&x);
    rc = extract(&x, fv);
    sg__free(heap);
    return rc;
}

void sg__featvec_free(sg_featvec *fv) {
    if (!fv) return;
    sg__free(fv->v);
    fv->v = NULL;
    fv->n = fv->cap = 0;
}

/* ------------------------------------------------------------ names */

/* Append text[off..off+len) with whitespace runs shown as one space and
 * long spans cut at a code point boundary. */
static int name_span(const sg_norm *n, uint32_t off, uint32_t len, sg_buf *b) {
    if ((size_t)off + len > n->len || !n->text) return sg__buf_append(b, "?", 1);
    const char *t = n->text + off;
    bool cut = len > NAME_MAX_BYTES;
    uint32_t end = cut ? NAME_MAX_BYTES : len;
    while (cut && end > 0 && ((unsigned char)t[end] & 0xC0) == 0x80) end--;
    int rc = SG_OK;
    for (uint32_t i = 0; i < end && !rc;) {
        uint32_t j = i;
        bool ws = false;
        while (j < end && (t[j] == ' ' || (t[j] >= 0x09 && t[j] <= 0x0D))) {
            ws = true;
            j++;
        }
        if (ws) {
            rc = sg__buf_append(b, " ", 1);
            i = j;
            continue;
        }
        while (j < end && !(t[j] == ' ' || (t[j] >= 0x09 && t[j] <= 0x0D))) j++;
        rc = sg__buf_append(b, t + i, j - i);
        i = j;
    }
    if (!rc && cut) rc = sg__buf_append(b, "\xE2\x80\xA6", 3); /* … */
    return rc;
}

static const char *meta_name(uint32_t id, uint32_t bucket) {
    static const char *const digits[] = {"no digits", "few digits", "some digits",
                                         "many digits", "mostly digits"};
    static const char *const upper[] = {"little upper case", "some upper case",
                                        "much upper case", "mostly upper case",
                                        "few letters"};
    static const char *const length[] = {"very short message", "short message",
                                         "medium message", "SMS-length message",
                                         "long message", "very long message"};
    static const char *const prize[] = {"prize word", "prize word",
                                        "2 prize words", "3+ prize words"};
    switch (id) {
    case SG_META_URL: return "link";
    case SG_META_PHONE: return "phone number";
    case SG_META_CURRENCY: return "currency amount";
    case SG_META_PRIZE: return bucket < 4 ? prize[bucket] : "prize word";
    case SG_META_DIGIT_RATIO: return bucket < 5 ? digits[bucket] : "digits";
    case SG_META_UPPER_RATIO: return bucket < 5 ? upper[bucket] : "upper case";
    case SG_META_LENGTH: return bucket < 6 ? length[bucket] : "length";
    case SG_META_INVISIBLE: return "invisible characters";
    case SG_META_MIXED_SCRIPT: return "mixed-script word";
    case SG_META_FOLDED: return "styled letters";
    default: return "meta feature";
    }
}

/* `token shape "£9999"`, `11-digit number`, `11-digit number starting
 * "09"`, `longest digit run: 11`. */
static int shape_name(const sg_norm *n, const sg_feat *f, sg_buf *b) {
    if (f->gap == SHAPE_LONGEST)
        return sg__buf_printf(b, "longest digit run: %u%s", f->len,
                              f->len >= DIGITS_CAP ? "+" : "");
    if ((size_t)f->off + f->len > n->len || !n->text || f->len == 0)
        return sg__buf_append(b, "digits", 6);
    const char *t = n->text + f->off, *plus = f->len >= DIGITS_CAP ? "+" : "";
    unsigned len = f->len < DIGITS_CAP ? f->len : DIGITS_CAP;
    switch (f->gap) {
    case SHAPE_TOKEN: {
        char shape[SHAPE_MAX_BYTES];
        size_t k = token_shape(n->text, f->off, f->off + f->len, shape);
        return sg__buf_printf(b, "token shape \"%.*s\"", (int)k, shape);
    }
    case SHAPE_DIGITS:
        return sg__buf_printf(b, "%u%s-digit number", len, plus);
    case SHAPE_PREFIX:
        if (f->len < 2) break;
        return sg__buf_printf(b, "%u%s-digit number starting \"%.2s\"", len, plus, t);
    default:
        break;
    }
    return sg__buf_append(b, "digits", 6);
}

int sg__feature_name(const sg_norm *n, const sg_feat *f, sg_buf *b) {
    int rc;
    switch (f->kind) {
    case SG_FEAT_BIAS:
        return sg__buf_append(b, "bias", 4);
    case SG_FEAT_WORD:
        if ((rc = sg__buf_append(b, "word \"", 6)) || (rc = name_span(n, f->off, f->len, b)))
            return rc;
        return sg__buf_append(b, "\"", 1);
    case SG_FEAT_PAIR:
        if ((rc = sg__buf_append(b, "word pair \"", 11)) ||
            (rc = name_span(n, f->off, f->len, b)) ||
            (rc = f->gap ? sg__buf_append(b, " \xE2\x80\xA6 ", 5) : sg__buf_append(b, " ", 1)) ||
            (rc = name_span(n, f->off2, f->len2, b)))
            return rc;
        return sg__buf_append(b, "\"", 1);
    case SG_FEAT_CHAR:
        if ((rc = sg__buf_append(b, "char n-gram \"", 13)) ||
            (rc = name_span(n, f->off, f->len, b)))
            return rc;
        return sg__buf_append(b, "\"", 1);
    case SG_FEAT_META: {
        const char *s = meta_name(f->off, f->len);
        return sg__buf_append(b, s, strlen(s));
    }
    case SG_FEAT_SHAPE:
        return shape_name(n, f, b);
    default:
        return sg__buf_append(b, "feature", 7);
    }
}
