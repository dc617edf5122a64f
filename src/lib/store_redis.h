/*
 * store_redis.h -- what the two Redis backends share (private to
 * store_redis.c and store_cluster.c; the rest of the library sees only
 * store.h).
 *
 * store_redis.c owns the key layout, the group overlay and commit, on top
 * of a "link" that carries a pipeline of commands to Redis: one server
 * (store_redis.c) or a cluster routed by hash slot (store_cluster.c).  A
 * pipeline is a list of units; a unit is one command, or an atomic group of
 * commands on one hash slot sent as MULTI ... EXEC.
 */
#ifndef SG_STORE_REDIS_H
#define SG_STORE_REDIS_H

#include "sg_internal.h"
#include "store.h"

#include <hiredis/hiredis.h>

/* ------------------------------------------------------------ pipeline */

typedef struct sg_rarg {
    size_t off, len;        /* bytes in sg_rpipe.bytes */
} sg_rarg;

typedef struct sg_rcmd {
    size_t arg0;            /* first argument in sg_rpipe.arg */
    int argc;
    redisReply *reply;      /* borrowed from its unit; NULL if none */
} sg_rcmd;

typedef struct sg_runit {
    int slot;               /* hash slot 0..16383; -1 = any node */
    size_t cmd0, ncmd;      /* its commands in sg_rpipe.cmd */
    bool atomic;            /* send as MULTI cmds EXEC */
    int err;                /* SG_OK, or SG_ESTORE when not delivered */
    redisReply *reply;      /* owned: the command's reply, or EXEC's array,
                               or the error that aborted the group */
    int node;               /* link's routing scratch */
    int ask;                /* link's routing scratch: ASK target + 1 */
} sg_runit;

typedef struct sg_rpipe {
    sg_buf bytes;
    sg_rarg *arg;
    size_t narg, caparg;
    sg_rcmd *cmd;
    size_t ncmd, capcmd;
    sg_runit *unit;
    size_t nunit, capunit;
    int group;              /* open group's unit index + 1, or 0 */
    int err;                /* sticky SG_ENOMEM while building */
    sg_buf resp;            /* scratch: a unit in the Redis protocol */
} sg_rpipe;

/** Empty the pipeline for reuse: frees the replies, keeps the memory. */
void sg__rpipe_clear(sg_rpipe *p);
/** Release everything the pipeline holds; the struct can be reused. */
void sg__rpipe_free(sg_rpipe *p);
/** Start / end an atomic group on one hash slot; commands added in between
 *  join it.  A group of one command is sent without MULTI/EXEC. */
void sg__rpipe_group(sg_rpipe *p, int slot);
void sg__rpipe_group_end(sg_rpipe *p);
/** Build one command: start, then its arguments in order, then end.  The
 *  bytes are copied.  end returns the command's index in p->cmd.  Out of
 *  memory is sticky in p->err (check it once before sending). */
void sg__rpipe_start(sg_rpipe *p);
void sg__rpipe_arg(sg_rpipe *p, const void *b, size_t n);
void sg__rpipe_arg_str(sg_rpipe *p, const char *s);
void sg__rpipe_arg_i64(sg_rpipe *p, int64_t v);
size_t sg__rpipe_end(sg_rpipe *p, int slot);

/** Append unit u's commands to c's output buffer, preceded by ASKING when
 *  `asking`: formatted in the Redis protocol (RESP) into one scratch
 *  buffer, which hiredis copies once (no allocation per command).
 *  @return SG_OK or SG_ENOMEM. */
int sg__rpipe_append(sg_rpipe *p, sg_runit *u, redisContext *c, bool asking);
/** Read unit u's replies from c (after sg__rpipe_append).  @return SG_OK,
 *  or SG_ESTORE when the connection failed (c is then unusable). */
int sg__rpipe_read(sg_rpipe *p, sg_runit *u, redisContext *c, bool asking);
/** The error reply that stopped unit u (a failed command, or the error a
 *  queued command got, e.g. "MOVED 3999 127.0.0.1:7002"), or NULL. */
const redisReply *sg__rpipe_unit_error(const sg_runit *u);
/** Free u's replies so it can be sent again. */
void sg__rpipe_unit_reset(sg_runit *u);

/* ------------------------------------------------------------ link */

/** A way to Redis: one server or a cluster.  Single-threaded. */
typedef struct sg_rlink sg_rlink;
struct sg_rlink {
    const char *name;       /* "redis" or "redis-cluster" */
    /** Send every unit of p and read the replies.  @return SG_OK when each
     *  unit got a reply (which may be a Redis error), else SG_ESTORE with
     *  the undelivered units' err set and a detail in err. */
    int (*exec)(sg_rlink *l, sg_rpipe *p, char *err, size_t errlen);
    /** Hash slot of a key, or 0 when the link does not route by slot. */
    int (*slot)(sg_rlink *l, const void *key, size_t klen);
    /** Keys and bytes of memory used, summed over the servers.
     *  @return SG_OK or SG_ESTORE. */
    int (*stats)(sg_rlink *l, uint64_t *keys, uint64_t *bytes);
    void (*free)(sg_rlink *l);
};

/** The Redis store (key layout, groups, batches) over `link`, which it
 *  takes over (freed with the store, also on failure).
 *  @return SG_OK, SG_ENOMEM. */
int sg__redis_store_new(sg_rlink *link, sg_store **out);
/** The link under a store made by sg__redis_store_new. */
sg_rlink *sg__redis_store_link(sg_store *s);

/** sg__store_redis_new / sg__store_cluster_new with a one-line reason on
 *  failure in err (errlen bytes, NUL-terminated); same returns. */
int sg__redis_open_single(const char *host, int port, sg_store **out,
                          char *err, size_t errlen);
int sg__redis_open_cluster(const char *seeds, sg_store **out, char *err,
                           size_t errlen);

/** Connect to host:port with the backends' timeouts (connect 500 ms,
 *  commands 2000 ms), TCP_NODELAY.  @return a context, or NULL with a
 *  detail in err.  Ignores SIGPIPE if it is at its default action. */
redisContext *sg__redis_connect(const char *host, int port, char *err,
                                size_t errlen);

/** Wall clock in ms (CLOCK_MONOTONIC), for reconnect back-off. */
int64_t sg__redis_clock_ms(void);

/** Minimum time between two connection attempts to one server, ms. */
#define SG_REDIS_RETRY_MS 100

#endif /* SG_STORE_REDIS_H */
