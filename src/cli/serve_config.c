/*
 * serve_config.c -- the configuration of `spimguard serve`: every key is
 * one row of keys[] (name, type, bounds, default, reloadable, meaning);
 * that table drives the config file parser, the command-line overrides,
 * SIGHUP reloads and --help.  It knows nothing of HTTP or the engine.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

typedef enum { K_STR, K_INT, K_REAL } key_type;

static const struct key {
    const char *name;
    key_type type;
    size_t off;         /* offsetof in sg_serve_config */
    double min, max;    /* bounds of K_INT / K_REAL */
    const char *def;    /* default, as text */
    bool reloadable;
    const char *help;
} keys[] = {
#define O(f) offsetof(sg_serve_config, f)
    {"listen", K_STR, O(listen), 0, 0, "127.0.0.1", false,
     "address to bind (IPv4 or IPv6)"},
    {"port", K_INT, O(port), 0, 65535, "8750", false,
     "TCP port; 0 = any free port (logged at start)"},
    {"token", K_STR, O(token), 0, 0, "", true,
     "bearer token for all but /healthz (also $SPIMGUARD_TOKEN)"},
    {"store", K_STR, O(store), 0, 0, "", false,
     "state store URI: memory:, lmdb:DIR, redis://HOST[:PORT], redis-cluster://H:P,..."},
    {"data_dir", K_STR, O(data_dir), 0, 0, "", false,
     "directory for LMDB state (if no store) and the learned model"},
    {"model", K_STR, O(model), 0, 0, "", false,
     "starting model (default: shipped); DATA_DIR/model.bin wins once learned"},
    {"threads", K_INT, O(threads), 0, 256, "0", false,
     "HTTP worker threads, and as many threads for batches; 0 = one per core"},
    {"max_body_bytes", K_INT, O(max_body_bytes), 1024, 268435456, "4194304",
     true, "largest request body, bytes (413 above)"},
    {"max_batch", K_INT, O(max_batch), 1, 100000, "1000", true,
     "most messages in one POST /v1/check array"},
    {"max_text_bytes", K_INT, O(max_text_bytes), 16, 16777216, "65536", false,
     "longest message text, bytes"},
    {"report_burst", K_REAL, O(report_burst), 1, 1e6, "20", true,
     "reports one reporter may send at once"},
    {"report_per_hour", K_REAL, O(report_per_hour), 0, 1e6, "20", true,
     "refill of a reporter's report bucket, reports per hour"},
    {"recent_messages", K_INT, O(recent_messages), 0, 10000000, "65536", false,
     "checked messages kept so reports can name them by id"},
    {"recent_bytes", K_INT, O(recent_bytes), 0, 4294967296.0, "33554432",
     false, "bytes of text those messages may hold"},
    {"drain_ms", K_INT, O(drain_ms), 0, 600000, "10000", true,
     "on SIGTERM, longest wait for in-flight requests, ms"},
    {"brands_file", K_STR, O(brands_file), 0, 0, "", false,
     "protected brand domains (replaces the shipped list; reread on SIGHUP)"},
    {"allow_file", K_STR, O(allow_file), 0, 0, "", false,
     "extra allow-listed domains (reread on SIGHUP)"},
    {"blocklist_file", K_STR, O(blocklist_file), 0, 0, "", false,
     "extra blocked domains or URLs (reread on SIGHUP)"},
    {"policy_file", K_STR, O(policy_file), 0, 0, "", false,
     "enforcement policy, key = value (docs/enforcement.md; reread on SIGHUP)"},
    {"store_failure", K_STR, O(store_failure), 0, 0, "error", true,
     "state store down: error (503), open (deliver unjudged), closed (hold)"},
#undef O
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const struct key *find_key(const char *name) {
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].name, name)) return &keys[i];
    return NULL;
}

static char **str_at(sg_serve_config *c, const struct key *k) {
    return (char **)((char *)c + k->off);
}

static int set_key(sg_serve_config *c, const struct key *k, const char *v,
                   char *err, size_t errlen) {
    if (k->type == K_STR) {
        char *d = strdup(v);
        if (!d) { snprintf(err, errlen, "out of memory"); return -1; }
        free(*str_at(c, k));
        *str_at(c, k) = d;
        return 0;
    }
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    while (*end && isspace((unsigned char)*end)) end++;
    if (errno || end == v || *end || x != x) {
        snprintf(err, errlen, "%s: \"%s\" is not a number", k->name, v);
        return -1;
    }
    if (k->type == K_INT && x != (double)(long)x) {
        snprintf(err, errlen, "%s: \"%s\" is not a whole number", k->name, v);
        return -1;
    }
    if (x < k->min || x > k->max) {
        snprintf(err, errlen, "%s: %s is outside %.15g..%.15g", k->name, v,
                 k->min, k->max);
        return -1;
    }
    if (k->type == K_INT) *(long *)((char *)c + k->off) = (long)x;
    else *(double *)((char *)c + k->off) = x;
    return 0;
}

int sg_serve_config_set(sg_serve_config *c, const char *key,
                        const char *value, char *err, size_t errlen) {
    const struct key *k = find_key(key);
    if (!k) {
        snprintf(err, errlen, "unknown key \"%s\"", key);
        return -1;
    }
    return set_key(c, k, value, err, errlen);
}

int sg_serve_config_defaults(sg_serve_config *c) {
    char err[128];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NKEYS; i++)
        if (set_key(c, &keys[i], keys[i].def, err, sizeof err)) {
            sg_serve_config_free(c);
            return -1;
        }
    return 0;
}

void sg_serve_config_free(sg_serve_config *c) {
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type == K_STR) {
            free(*str_at(c, &keys[i]));
            *str_at(c, &keys[i]) = NULL;
        }
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* One line "key = value"; blank lines and # comments are skipped. */
static int parse_line(sg_serve_config *c, char *line, char *err,
                      size_t errlen) {
    char *hash = strchr(line, '#');
    if (hash && (hash == line || isspace((unsigned char)hash[-1]))) *hash = '\0';
    char *s = trim(line);
    if (!*s) return 0;
    char *eq = strchr(s, '=');
    if (!eq) { snprintf(err, errlen, "expected key = value"); return -1; }
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    size_t n = strlen(val);
    if (n >= 2 && val[0] == '"' && val[n - 1] == '"') {
        val[n - 1] = '\0';
        val++;
    }
    return sg_serve_config_set(c, key, val, err, errlen);
}

int sg_serve_config_load(sg_serve_config *c, const char *path, char *err,
                         size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096], why[256];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = -1;
        } else if (parse_line(c, line, why, sizeof why)) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            rc = -1;
        }
    }
    if (!rc && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}

bool sg_serve_config_reloadable(const char *key) {
    const struct key *k = find_key(key);
    return k && k->reloadable;
}

static bool same_value(const sg_serve_config *a, const sg_serve_config *b,
                       const struct key *k) {
    const char *pa = (const char *)a + k->off, *pb = (const char *)b + k->off;
    switch (k->type) {
    case K_STR: return !strcmp(*(char *const *)pa, *(char *const *)pb);
    case K_INT: return *(const long *)pa == *(const long *)pb;
    default: return *(const double *)pa == *(const double *)pb;
    }
}

int sg_serve_config_apply_reload(sg_serve_config *dst,
                                 const sg_serve_config *src, char *changed,
                                 size_t cap) {
    size_t used = 0;
    if (cap) changed[0] = '\0';
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        if (same_value(dst, src, k)) continue;
        if (!k->reloadable) {
            int n = snprintf(changed + used, cap - used, "%s%s",
                             used ? ", " : "", k->name);
            if (n > 0 && used + n < cap) used += n;
            continue;
        }
        if (k->type == K_STR) {
            char *d = strdup(*(char *const *)((const char *)src + k->off));
            if (!d) return -1;
            free(*str_at(dst, k));
            *str_at(dst, k) = d;
        } else {
            memcpy((char *)dst + k->off, (const char *)src + k->off,
                   k->type == K_INT ? sizeof(long) : sizeof(double));
        }
    }
    return 0;
}

void sg_serve_config_help(FILE *f) {
    fprintf(f, "config keys (file: key = value; * = reloaded on SIGHUP):\n");
    for (size_t i = 0; i < NKEYS; i++)
        fprintf(f, "  %-16s%c %-10s %s\n", keys[i].name,
                keys[i].reloadable ? '*' : ' ',
                keys[i].def[0] ? keys[i].def : "\"\"", keys[i].help);
}
