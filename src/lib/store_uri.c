/*
 * store_uri.c -- turns a store URI (`--store`, the config file) into an
 * open store: memory:, lmdb:DIR[?sync=always|MS&writemap=0|1],
 * redis://HOST[:PORT],
 * redis-cluster://HOST:PORT[,HOST:PORT...].  Parsing and clear errors
 * only; each backend's file owns its behaviour (docs/storage.md).
 */
#include "sg_internal.h"
#include "store.h"
#include "store_redis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDIS_DEFAULT_PORT 6379

static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int say(char *err, size_t errlen, int rc, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static bool starts(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* One option of an lmdb: URI: sync=always (fsync every commit) or
 * sync=MS, writemap=0|1. */
static int lmdb_option(const char *q, size_t n, sg_store_lmdb_opts *o) {
    char v[32];
    if (n > 5 && !strncmp(q, "sync=", 5) && n - 5 < sizeof v) {
        memcpy(v, q + 5, n - 5);
        v[n - 5] = '\0';
        if (!strcmp(v, "always")) {
            o->sync_ms = -1;
            return SG_OK;
        }
        char *end;
        long ms = strtol(v, &end, 10);
        if (end == v || *end || ms <= 0 || ms > 86400000L) return SG_EINVAL;
        o->sync_ms = ms;
        return SG_OK;
    }
    if (n == 10 && !strncmp(q, "writemap=", 9) && (q[9] == '0' || q[9] == '1')) {
        o->writemap = q[9] == '1' ? 1 : -1;
        return SG_OK;
    }
    return SG_EINVAL;
}

static int lmdb_query(const char *q, sg_store_lmdb_opts *o) {
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (lmdb_option(q, n, o)) return SG_EINVAL;
        q += n + (amp ? 1 : 0);
    }
    return SG_OK;
}

static int open_lmdb(const char *rest, sg_store **out, char *err,
                     size_t errlen) {
    if (starts(rest, "//")) rest += 2; /* lmdb:///var/lib/x */
    sg_store_lmdb_opts o = {0};
    const char *q = strchr(rest, '?');
    size_t dlen = q ? (size_t)(q - rest) : strlen(rest);
    if (dlen == 0)
        return say(err, errlen, SG_EINVAL, "lmdb: URI names no directory "
                   "(want lmdb:DIR)");
    if (q && lmdb_query(q + 1, &o))
        return say(err, errlen, SG_EINVAL, "lmdb: bad options \"%s\" (want "
                   "sync=always, sync=MS or writemap=0|1, joined by &)", q + 1);
    char *dir = sg__strndup(rest, dlen);
    if (!dir) return say(err, errlen, SG_ENOMEM, "out of memory");
    sg_store *s = NULL;
    int rc = sg__store_lmdb_open(dir, &o, &s);
    if (rc == SG_OK) {
        *out = s;
    } else if (rc == SG_EIO) {
        say(err, errlen, rc, "lmdb: cannot create directory %s", dir);
    } else {
        say(err, errlen, rc, "lmdb: cannot open the environment in %s: %s",
            dir, sg_strerror(rc));
    }
    sg__free(dir);
    return rc;
}

/* "HOST[:PORT][/]" or "[V6ADDR][:PORT][/]". */
static int split_host_port(const char *s, char *host, size_t hcap, int *port) {
    const char *h = s, *colon;
    size_t hlen;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close) return SG_EINVAL;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (!colon && close[1] && strcmp(close + 1, "/")) return SG_EINVAL;
    } else {
        colon = strchr(s, ':');
        const char *slash = strchr(s, '/');
        hlen = colon ? (size_t)(colon - s) : slash ? (size_t)(slash - s)
                                                   : strlen(s);
        if (slash && strcmp(slash, "/")) return SG_EINVAL;
    }
    if (hlen == 0 || hlen >= hcap) return SG_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = REDIS_DEFAULT_PORT;
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || (*end && strcmp(end, "/")) || p <= 0 ||
            p > 65535)
            return SG_EINVAL;
        *port = (int)p;
    }
    return SG_OK;
}

static int open_redis(const char *rest, sg_store **out, char *err,
                      size_t errlen) {
    char host[256];
    int port;
    if (split_host_port(rest, host, sizeof host, &port))
        return say(err, errlen, SG_EINVAL, "redis: bad address \"%s\" (want "
                   "redis://HOST:PORT)", rest);
    return sg__redis_open_single(host, port, out, err, errlen);
}

int sg__store_open_uri(const char *uri, sg_store **out, char *err,
                       size_t errlen) {
    char scratch[8];
    if (!err || !errlen) { /* the backends always write a reason */
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = '\0';
    if (!out) return say(err, errlen, SG_EINVAL, "no place for the store");
    *out = NULL;
    if (!uri) return say(err, errlen, SG_EINVAL, "no store URI");
    if (!strcmp(uri, "memory:") || !strcmp(uri, "memory")) {
        int rc = sg__store_memory_new(out);
        return rc ? say(err, errlen, rc, "memory: out of memory") : SG_OK;
    }
    if (starts(uri, "lmdb:")) return open_lmdb(uri + 5, out, err, errlen);
    if (starts(uri, "redis://")) return open_redis(uri + 8, out, err, errlen);
    if (starts(uri, "redis-cluster://")) {
        if (!uri[16])
            return say(err, errlen, SG_EINVAL, "redis-cluster: no seed node "
                       "(want redis-cluster://HOST:PORT[,HOST:PORT...])");
        char tmp[160];
        int rc = sg__redis_open_cluster(uri + 16, out, tmp, sizeof tmp);
        return rc ? say(err, errlen, rc, "%s", tmp) : SG_OK;
    }
    return say(err, errlen, SG_EINVAL, "unknown store \"%.80s\" (want "
               "memory:, lmdb:DIR, redis://HOST:PORT or "
               "redis-cluster://HOST:PORT[,HOST:PORT...])", uri);
}
