/*
 * verdict.c -- the verdict object handed back to callers: accessors, its
 * JSON form (DESIGN.md "Formats") and its release.  Deciding what goes in
 * a verdict is policy.c's job.
 */
#include "sg_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sg_verdict_free(sg_verdict *v) {
    if (!v) return;
    for (size_t i = 0; !v->reasons_block && i < v->nreasons; i++)
        sg__free((char *)v->reasons[i].detail);
    sg__free(v->reasons);
    sg__free(v->id);
    sg__free(v->campaign);
    sg__free(v);
}

sg_action sg_verdict_action(const sg_verdict *v) { return v->action; }
sg_account_action sg_verdict_account_action(const sg_verdict *v) {
    return v->account_action;
}
double sg_verdict_score(const sg_verdict *v) { return v->score; }
double sg_verdict_content_score(const sg_verdict *v) { return v->content_score; }
unsigned sg_verdict_labels(const sg_verdict *v) { return v->labels; }
size_t sg_verdict_reason_count(const sg_verdict *v) { return v->nreasons; }
const sg_reason *sg_verdict_reason(const sg_verdict *v, size_t i) {
    return i < v->nreasons ? &v->reasons[i] : NULL;
}
const char *sg_verdict_campaign(const sg_verdict *v) { return v->campaign; }
const char *sg_verdict_id(const sg_verdict *v) { return v->id; }

/* The JSON is written directly into one buffer, not built as a jansson
 * tree and dumped: the daemon renders one verdict per message, and the
 * tree's allocations were a large share of its CPU.  The text is the same
 * as jansson's JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)
 * dump (tests/test_engine.c compares the two). */

/* Round to 4 decimals so the JSON stays short and stable. */
static double round4(double x) {
    return (double)(long long)(x * 10000.0 + (x < 0 ? -0.5 : 0.5)) / 10000.0;
}

/* round4(x) as "%.6g" would print it, when |x| < 100: then the rounded
 * value k / 10^4 has at most 6 significant digits, which "%.6g" prints
 * exactly, in fixed notation (|x| >= 1e-4 unless 0), trailing zeros cut;
 * ".0" added as jansson does.  Written from the integer k: no printf. */
static bool put_real_small(sg_buf *b, double x) {
    long long k = (long long)(x * 10000.0 + (x < 0 ? -0.5 : 0.5));
    char t[16], *p = t;
    if (k < 0) *p++ = '-', k = -k;
    long long ip = k / 10000, fp = k % 10000;
    if (ip >= 10) *p++ = (char)('0' + ip / 10);
    *p++ = (char)('0' + ip % 10);
    *p++ = '.';
    if (!fp) *p++ = '0';
    for (int d = 1000; fp; d /= 10) *p++ = (char)('0' + fp / d), fp %= d;
    return sg__buf_append(b, t, (size_t)(p - t)) == SG_OK;
}

/* A real as jansson writes it: "%.6g", a decimal point or exponent always
 * there (".0" added), no '+' and no leading zeros in the exponent.
 * False for NaN and infinities, which JSON cannot hold. */
static bool put_real(sg_buf *b, double x) {
    if (!isfinite(x)) return false;
    if (x > -99.99 && x < 99.99) return put_real_small(b, x);
    char t[48];
    int n = snprintf(t, sizeof t - 2, "%.6g", round4(x));
    if (n < 0 || (size_t)n >= sizeof t - 2) return false;
    for (char *c = t; *c; c++)
        if (*c == ',') *c = '.'; /* a locale's decimal comma */
    char *e = strchr(t, 'e');
    if (!e && !strchr(t, '.')) memcpy(t + n, ".0", 3);
    if (e) {
        char *from = e + 1, *to = e + 1;
        if (*from == '+') from++;
        else if (*from == '-') from++, to++;
        while (*from == '0' && from[1]) from++;
        memmove(to, from, strlen(from) + 1);
    }
    return sg__buf_append(b, t, strlen(t)) == SG_OK;
}

/* Bytes of the well-formed UTF-8 sequence at s[0..n), or 0 if it is not. */
static size_t utf8_seq(const char *s, size_t n) {
    unsigned char c = (unsigned char)s[0];
    if (c < 0x80) return 1;
    size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    return len && len <= n && sg__utf8_valid(s, len) ? len : 0;
}

/* The escape of byte c in a JSON string as jansson writes it, into esc. */
static const char *escape_of(unsigned char c, char esc[8]) {
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\b': return "\\b";
    case '\f': return "\\f";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default:
        if (c >= 0x20) return "\xEF\xBF\xBD"; /* not valid UTF-8: U+FFFD */
        snprintf(esc, 8, "\\u%04X", c);
        return esc;
    }
}

/* A JSON string: '"', '\\' and controls escaped as jansson does (\b \f \n
 * \r \t, else \u00XX); other UTF-8 as is; a byte that is not part of valid
 * UTF-8 (a detail cut mid-character) becomes U+FFFD. */
static bool put_string(sg_buf *b, const char *s) {
    size_t n = strlen(s), i = 0, run = 0;
    bool ok = sg__buf_append(b, "\"", 1) == SG_OK;
    while (ok && i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') { /* plain ASCII */
            i++, run++;
            continue;
        }
        size_t len = c >= 0x20 && c != '"' && c != '\\' ? utf8_seq(s + i, n - i) : 0;
        if (len) {
            i += len, run += len;
            continue;
        }
        char esc[8];
        const char *t = escape_of(c, esc);
        ok = sg__buf_append(b, s + i - run, run) == SG_OK &&
             sg__buf_append(b, t, strlen(t)) == SG_OK;
        run = 0;
        i++;
    }
    if (ok && run) ok = sg__buf_append(b, s + i - run, run) == SG_OK;
    return ok && sg__buf_append(b, "\"", 1) == SG_OK;
}

static bool put(sg_buf *b, const char *lit) {
    return sg__buf_append(b, lit, strlen(lit)) == SG_OK;
}

static bool put_string_or_null(sg_buf *b, const char *s) {
    return s ? put_string(b, s) : put(b, "null");
}

static bool put_labels(sg_buf *b, unsigned labels) {
    bool ok = put(b, "["), first = true;
    for (unsigned i = 0; ok && i < SG_LABEL_COUNT_; i++) {
        if (!(labels & (1u << i))) continue;
        ok = (first || put(b, ",")) && put_string(b, sg_label_name(1u << i));
        first = false;
    }
    return ok && put(b, "]");
}

static bool put_reasons(sg_buf *b, const sg_verdict *v) {
    bool ok = put(b, "[");
    for (size_t i = 0; ok && i < v->nreasons; i++) {
        const sg_reason *r = &v->reasons[i];
        ok = (i == 0 || put(b, ",")) && put(b, "{\"code\":") &&
             put_string(b, r->code) && put(b, ",\"weight\":") &&
             put_real(b, r->weight) && put(b, ",\"detail\":") &&
             put_string(b, r->detail ? r->detail : "") && put(b, "}");
    }
    return ok && put(b, "]");
}

int sg__verdict_json_append(sg_buf *b, const sg_verdict *v) {
    if (!b || !v) return SG_EINVAL;
    size_t len0 = b->len;
    bool ok = put(b, "{\"id\":") && put_string_or_null(b, v->id) &&
              put(b, ",\"action\":") && put_string(b, sg_action_name(v->action)) &&
              put(b, ",\"score\":") && put_real(b, v->score) &&
              put(b, ",\"content_score\":") && put_real(b, v->content_score) &&
              put(b, ",\"labels\":") && put_labels(b, v->labels) &&
              put(b, ",\"reasons\":") && put_reasons(b, v) &&
              put(b, ",\"campaign\":") && put_string_or_null(b, v->campaign) &&
              put(b, ",\"account_action\":") &&
              put_string(b, sg_account_action_name(v->account_action)) && put(b, "}");
    if (ok) return SG_OK;
    bool finite = isfinite(v->score) && isfinite(v->content_score);
    for (size_t i = 0; finite && i < v->nreasons; i++) finite = isfinite(v->reasons[i].weight);
    b->len = len0;
    if (b->p && b->cap > len0) b->p[len0] = '\0';
    return finite ? SG_ENOMEM : SG_EINVAL;
}

char *sg_verdict_to_json(const sg_verdict *v) {
    if (!v) return NULL;
    sg_buf b = {sg__malloc(512), 0, 512}; /* most verdicts fit */
    if (!b.p) return NULL;
    if (sg__verdict_json_append(&b, v)) {
        sg__buf_free(&b);
        return NULL;
    }
    return b.p;
}
