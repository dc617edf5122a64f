/*
 * message.c -- one IM message: the public constructors and accessors, and
 * parsing of the JSON wire form (DESIGN.md "Formats") with jansson.
 * Parsing validates everything up front (fields, types, UTF-8, size) and
 * builds the message only when all of it is good, so a bad line changes
 * nothing.  It does not normalize or judge text (normalize.c, detectors).
 */
#define _GNU_SOURCE
#include "sg_internal.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_TEXT 65536
/* Latest accepted message time: 9999-12-31T23:59:59.999Z, so that adding a
 * window of days to it can never overflow. */
#define SG_MAX_TS_MS 253402300799999LL

static sg_message *message_alloc(void) {
    sg_message *m = sg__calloc(1, sizeof *m);
    if (!m) return NULL;
    m->contact = -1;
    m->label = -1;
    return m;
}

void sg_message_free(sg_message *m) {
    if (!m) return;
    sg__free(m->id);
    sg__free(m->from);
    sg__free(m->to);
    sg__free(m->text);
    sg__free(m->client);
    sg__free(m->client_ip);
    sg__free(m->lang);
    sg__free(m);
}

/* Replace *slot with a copy of s (NULL clears).  Valid UTF-8 required. */
static int set_str(char **slot, const char *s) {
    char *d = NULL;
    if (s) {
        if (!sg__utf8_valid(s, strlen(s))) return SG_EUTF8;
        if (!(d = sg__strdup(s))) return SG_ENOMEM;
    }
    sg__free(*slot);
    *slot = d;
    return SG_OK;
}

int sg_message_new(const char *from, const char *to, const char *text,
                   sg_message **out) {
    if (!out) return SG_EINVAL;
    *out = NULL;
    if (!from || !to || !text) return SG_EINVAL;
    sg_message *m = message_alloc();
    if (!m) return SG_ENOMEM;
    int rc;
    if ((rc = set_str(&m->from, from)) || (rc = set_str(&m->to, to)) ||
        (rc = set_str(&m->text, text))) {
        sg_message_free(m);
        return rc;
    }
    m->text_len = strlen(text);
    *out = m;
    return SG_OK;
}

int sg_message_set_id(sg_message *m, const char *id) {
    return m ? set_str(&m->id, id) : SG_EINVAL;
}
int sg_message_set_ts(sg_message *m, int64_t ts) {
    if (!m || ts < 0 || ts > SG_MAX_TS_MS) return SG_EINVAL;
    m->ts_ms = ts;
    return SG_OK;
}
int sg_message_set_contact(sg_message *m, int c) {
    if (!m) return SG_EINVAL;
    m->contact = c ? 1 : 0;
    return SG_OK;
}
int sg_message_set_client(sg_message *m, const char *s) {
    return m ? set_str(&m->client, s) : SG_EINVAL;
}
int sg_message_set_client_ip(sg_message *m, const char *s) {
    return m ? set_str(&m->client_ip, s) : SG_EINVAL;
}
int sg_message_set_lang(sg_message *m, const char *s) {
    return m ? set_str(&m->lang, s) : SG_EINVAL;
}

const char *sg_message_from(const sg_message *m) { return m->from; }
const char *sg_message_to(const sg_message *m) { return m->to; }
const char *sg_message_text(const sg_message *m) { return m->text; }
const char *sg_message_id(const sg_message *m) { return m->id; }
int64_t sg_message_ts(const sg_message *m) { return m->ts_ms; }
int sg_message_contact(const sg_message *m) { return m->contact; }
int sg_message_label(const sg_message *m) { return m->label; }

/* ---------------------------------------------------------------- time */

/* Parse RFC 3339 ("2024-05-01T12:30:00.250Z", "...+02:00") into Unix ms.
 * Returns 0 on success, -1 when the string is not RFC 3339. */
static int parse_rfc3339(const char *s, int64_t *out) {
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%d", &tm);
    if (!p || (*p != 'T' && *p != 't' && *p != ' ')) return -1;
    p = strptime(p + 1, "%H:%M:%S", &tm);
    if (!p) return -1;
    int64_t ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit((unsigned char)*p); p++, digits++)
            if (digits < 3) ms = ms * 10 + (*p - '0');
        if (!digits) return -1;
        for (; digits < 3; digits++) ms *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) || p[3] != ':' ||
            !isdigit((unsigned char)p[4]) || !isdigit((unsigned char)p[5]))
            return -1;
        int hh = (p[1] - '0') * 10 + (p[2] - '0'), mm = (p[4] - '0') * 10 + (p[5] - '0');
        if (hh > 23 || mm > 59) return -1;
        off = sign * (hh * 3600 + mm * 60);
        p += 6;
    } else {
        return -1;
    }
    if (*p) return -1;
    time_t t = timegm(&tm);
    *out = ((int64_t)t - off) * 1000 + ms;
    return 0;
}

/* ---------------------------------------------------------------- JSON */

typedef struct parse_err {
    char *buf;
    size_t len;
} parse_err;

static int fail(parse_err *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(parse_err *e, int rc, const char *fmt, ...) {
    if (e->buf && e->len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Fetch a required string field; checks type and UTF-8. */
static int req_string(json_t *obj, const char *key, const char **out,
                      size_t *len, parse_err *e) {
    json_t *v = json_object_get(obj, key);
    if (!v) return fail(e, SG_EFIELD, "missing field \"%s\"", key);
    if (!json_is_string(v))
        return fail(e, SG_EFIELD, "field \"%s\" must be a string", key);
    *out = json_string_value(v);
    *len = json_string_length(v);
    if (memchr(*out, '\0', *len))
        return fail(e, SG_EUTF8, "field \"%s\" contains a NUL character", key);
    return SG_OK;
}

/* Optional string field: absent or null is fine, another type is not. */
static int opt_string(json_t *obj, const char *key, const char **out,
                      parse_err *e) {
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) return SG_OK;
    if (!json_is_string(v))
        return fail(e, SG_EFIELD, "field \"%s\" must be a string", key);
    *out = json_string_value(v);
    if (strlen(*out) != json_string_length(v))
        return fail(e, SG_EUTF8, "field \"%s\" contains a NUL character", key);
    return SG_OK;
}

static int get_id(json_t *obj, char *tmp, size_t cap, const char **out,
                  parse_err *e) {
    json_t *v = json_object_get(obj, "id");
    *out = NULL;
    if (!v || json_is_null(v)) return SG_OK;
    if (json_is_integer(v)) {
        snprintf(tmp, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = tmp;
        return SG_OK;
    }
    return opt_string(obj, "id", out, e);
}

static int get_ts(json_t *obj, int64_t *ts, parse_err *e) {
    json_t *v = json_object_get(obj, "ts");
    *ts = 0;
    if (!v || json_is_null(v)) return SG_OK;
    if (json_is_integer(v)) {
        *ts = json_integer_value(v);
        if (*ts < 0 || *ts > SG_MAX_TS_MS)
            return fail(e, SG_EFIELD, "field \"ts\" is outside 1970..9999");
        return SG_OK;
    }
    if (json_is_string(v) && parse_rfc3339(json_string_value(v), ts) == 0 &&
        *ts >= 0 && *ts <= SG_MAX_TS_MS)
        return SG_OK;
    return fail(e, SG_EFIELD,
                "field \"ts\" must be RFC 3339 or Unix milliseconds");
}

static int get_flags(json_t *obj, int *contact, int *label, parse_err *e) {
    json_t *v = json_object_get(obj, "contact");
    *contact = -1;
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return fail(e, SG_EFIELD, "field \"contact\" must be true or false");
        *contact = json_is_true(v);
    }
    *label = -1;
    v = json_object_get(obj, "label");
    if (v && !json_is_null(v)) {
        const char *l = json_is_string(v) ? json_string_value(v) : "";
        if (!strcmp(l, "spam") || !strcmp(l, "spim")) *label = 1;
        else if (!strcmp(l, "ham")) *label = 0;
        else return fail(e, SG_EFIELD, "field \"label\" must be \"spam\" or \"ham\"");
    }
    return SG_OK;
}

typedef struct fields {
    const char *from, *to, *text, *id, *client, *client_ip, *lang;
    size_t from_len, to_len, text_len;
    int64_t ts;
    int contact, label;
    char idbuf[32];
} fields;

/* In labeled data (training corpora) sender and recipient may be absent. */
static int sender_recipient(json_t *obj, unsigned flags, fields *f, parse_err *e) {
    int rc;
    if ((flags & SG_PARSE_LABELED) && !json_object_get(obj, "from")) {
        f->from = "unknown";
        f->from_len = 7;
    } else if ((rc = req_string(obj, "from", &f->from, &f->from_len, e))) {
        return rc;
    }
    if ((flags & SG_PARSE_LABELED) && !json_object_get(obj, "to")) {
        f->to = "unknown";
        f->to_len = 7;
        return SG_OK;
    }
    return req_string(obj, "to", &f->to, &f->to_len, e);
}

static int read_fields(json_t *obj, size_t max_text, unsigned flags, fields *f,
                       parse_err *e) {
    int rc;
    if ((rc = sender_recipient(obj, flags, f, e)) ||
        (rc = req_string(obj, "text", &f->text, &f->text_len, e)))
        return rc;
    if (f->text_len > max_text)
        return fail(e, SG_ETOOBIG, "field \"text\" is %zu bytes, over the %zu-byte limit",
                    f->text_len, max_text);
    if (!f->from_len) return fail(e, SG_EFIELD, "field \"from\" is empty");
    if (!f->to_len) return fail(e, SG_EFIELD, "field \"to\" is empty");
    if ((rc = get_id(obj, f->idbuf, sizeof f->idbuf, &f->id, e)) ||
        (rc = get_ts(obj, &f->ts, e)) ||
        (rc = get_flags(obj, &f->contact, &f->label, e)) ||
        (rc = opt_string(obj, "client", &f->client, e)) ||
        (rc = opt_string(obj, "client_ip", &f->client_ip, e)) ||
        (rc = opt_string(obj, "lang", &f->lang, e)))
        return rc;
    if ((flags & SG_PARSE_LABELED) && f->label < 0)
        return fail(e, SG_EFIELD, "missing field \"label\" (\"spam\" or \"ham\")");
    return SG_OK;
}

static int build_message(const fields *f, sg_message **out) {
    sg_message *m = message_alloc();
    if (!m) return SG_ENOMEM;
    m->from = sg__strndup(f->from, f->from_len);
    m->to = sg__strndup(f->to, f->to_len);
    m->text = sg__strndup(f->text, f->text_len);
    m->text_len = f->text_len;
    m->id = f->id ? sg__strdup(f->id) : NULL;
    m->client = f->client ? sg__strdup(f->client) : NULL;
    m->client_ip = f->client_ip ? sg__strdup(f->client_ip) : NULL;
    m->lang = f->lang ? sg__strdup(f->lang) : NULL;
    m->ts_ms = f->ts;
    m->contact = f->contact;
    m->label = f->label;
    if (!m->from || !m->to || !m->text || (f->id && !m->id) ||
        (f->client && !m->client) || (f->client_ip && !m->client_ip) ||
        (f->lang && !m->lang)) {
        sg_message_free(m);
        return SG_ENOMEM;
    }
    *out = m;
    return SG_OK;
}

int sg_message_parse_json(const char *json, size_t len, size_t max_text,
                          unsigned flags, sg_message **out, char *err,
                          size_t errlen) {
    parse_err e = {err, errlen};
    if (err && errlen) err[0] = '\0';
    if (!out) return SG_EINVAL;
    *out = NULL;
    if (!json) return fail(&e, SG_EINVAL, "no input");
    if (!max_text) max_text = DEFAULT_MAX_TEXT;
    if (!sg__utf8_valid(json, len))
        return fail(&e, SG_EUTF8, memchr(json, '\0', len)
                                      ? "input contains a NUL byte"
                                      : "input is not valid UTF-8");
    json_error_t jerr;
    json_t *obj = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!obj)
        return fail(&e, SG_EJSON, "invalid JSON at column %d: %s", jerr.column,
                    jerr.text);
    int rc = sg__message_from_json(obj, max_text, flags, out, err, errlen);
    json_decref(obj);
    return rc;
}

int sg__message_from_json(struct json_t *obj, size_t max_text, unsigned flags,
                          sg_message **out, char *err, size_t errlen) {
    parse_err e = {err, errlen};
    if (err && errlen) err[0] = '\0';
    if (!out) return SG_EINVAL;
    *out = NULL;
    if (!max_text) max_text = DEFAULT_MAX_TEXT;
    int rc;
    fields f = {0};
    if (!obj || !json_is_object(obj))
        rc = fail(&e, SG_EJSON, "expected a JSON object");
    else if ((rc = read_fields(obj, max_text, flags, &f, &e)) == SG_OK &&
             (rc = build_message(&f, out)) == SG_ENOMEM)
        fail(&e, rc, "out of memory");
    return rc;
}
