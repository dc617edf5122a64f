/*
 * util.c -- small helpers every stage uses: a growable string buffer,
 * a strict UTF-8 validator (RFC 3629), and the names of error codes,
 * labels and actions.  No stage logic lives here.
 */
#include "sg_internal.h"

#include <stdio.h>
#include <string.h>

int sg__buf_append(sg_buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = sg__realloc(b->p, cap);
        if (!p) return SG_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return SG_OK;
}

int sg__buf_printf(sg_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return SG_EINVAL;
    if ((size_t)n < sizeof small) return sg__buf_append(b, small, (size_t)n);
    char *big = sg__malloc((size_t)n + 1);
    if (!big) return SG_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = sg__buf_append(b, big, (size_t)n);
    sg__free(big);
    return rc;
}

void sg__buf_free(sg_buf *b) {
    sg__free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Decode one UTF-8 sequence at s (n bytes left); returns its length, or 0
 * when it is invalid (overlong, surrogate, > U+10FFFF, truncated, NUL). */
static size_t utf8_seq_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c == 0) return 0;
    if (c < 0x80) return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    if (cp > 0x10FFFF) return 0;
    return len;
}

bool sg__utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] >= 0x01 && p[i] < 0x80) { i++; continue; }
        size_t l = utf8_seq_len(p + i, n - i);
        if (!l) return false;
        i += l;
    }
    return true;
}

const char *sg_strerror(int err) {
    switch (err) {
    case SG_OK: return "success";
    case SG_ENOMEM: return "out of memory";
    case SG_EINVAL: return "invalid argument";
    case SG_EJSON: return "invalid JSON";
    case SG_EFIELD: return "missing or invalid field";
    case SG_EUTF8: return "invalid UTF-8";
    case SG_ETOOBIG: return "message too big";
    case SG_EIO: return "input/output error";
    case SG_EFORMAT: return "bad file format";
    case SG_ECHECKSUM: return "checksum mismatch";
    case SG_EVERSION: return "unsupported file version";
    case SG_ESTORE: return "state store error";
    case SG_ENOTFOUND: return "not found";
    case SG_EUNICODE: return "Unicode service error";
    default: return "unknown error";
    }
}

static const char *const label_names[SG_LABEL_COUNT_] = {
    "spim", "phishing", "lookalike_url", "blocklisted_url",
    "bulk", "compromised_sender", "rate_limited", "stranger"};

const char *sg_label_name(unsigned bit) {
    for (unsigned i = 0; i < SG_LABEL_COUNT_; i++)
        if (bit == (1u << i)) return label_names[i];
    return NULL;
}

const char *sg_action_name(sg_action a) {
    static const char *const n[] = {"deliver", "warn", "hold", "drop"};
    return (unsigned)a < 4 ? n[a] : "unknown";
}

const char *sg_account_action_name(sg_account_action a) {
    static const char *const n[] = {"none", "throttle", "lock_and_reset",
                                    "suspend"};
    return (unsigned)a < 4 ? n[a] : "unknown";
}
