/*
 * serve.h -- what the files of `spimguard serve` share: the config table
 * (serve_config.c), the metrics (serve_metrics.c), the recent-message
 * cache that reports by id read (serve_recent.c), the HTTP layer
 * (serve_http.c), the API handlers (serve_api.c), the helper threads that
 * prepare batches (serve_prep.c) and the daemon's life:
 * start, signals, reload, drain, stop (serve.c).  API reference and the
 * report rules: docs/daemon.md.
 */
#ifndef SG_CLI_SERVE_H
#define SG_CLI_SERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "query.h"
#include "spimguard.h"

/* ---------------------------------------------------------------- config */

/** The daemon's configuration.  Each key is defined once, in the table of
 *  serve_config.c (name, type, bounds, default, reloadable); the config
 *  file has one `key = value` per line, `#` starts a comment. */
typedef struct sg_serve_config {
    char *listen;           /* address to bind; "127.0.0.1" */
    long port;              /* TCP port, 0 = any free one; 8750 */
    char *token;            /* bearer token; "" = no auth (loopback only) */
    char *store;            /* state store URI; "" = memory: or data_dir */
    char *data_dir;         /* LMDB state + learned model live here; "" */
    char *model;            /* starting model; "" = the default model.
                               data_dir/model.bin, once reports taught it,
                               is loaded instead */
    long threads;           /* HTTP worker threads, 0 = one per core */
    long max_body_bytes;    /* largest request body; 4 MiB */
    long max_batch;         /* most messages in one batch; 1000 */
    long max_text_bytes;    /* longest message text; 64 KiB */
    double report_burst;    /* reports a reporter may send at once; 20 */
    double report_per_hour; /* reporter bucket refill, reports/h; 20 */
    long recent_messages;   /* messages kept for reports by id; 65536 */
    long recent_bytes;      /* bytes of text they may hold; 32 MiB */
    long drain_ms;          /* SIGTERM: longest wait for in-flight; 10000 */
    char *brands_file;      /* protected brand domains; "" = shipped */
    char *allow_file;       /* extra allow-listed domains; "" */
    char *blocklist_file;   /* extra blocked domains / URLs; "" */
    char *policy_file;      /* enforcement policy (serve_enforce.c); "" */
    char *store_failure;    /* a check the store failed: "error" (503),
                               "open" (deliver unjudged) or "closed"
                               (hold unjudged); "error" */
} sg_serve_config;

/** Fill *c with the defaults (strings allocated; sg_serve_config_free). */
int sg_serve_config_defaults(sg_serve_config *c);
void sg_serve_config_free(sg_serve_config *c);

/** Set one key from its text value, checking type and bounds.
 *  @return 0, or -1 with a one-line reason in err ("port: 70000 is outside
 *          0..65535", "unknown key \"prot\""). */
int sg_serve_config_set(sg_serve_config *c, const char *key,
                        const char *value, char *err, size_t errlen);

/** Read a config file into c (keys not in the file keep their values).
 *  @return 0, or -1 with "FILE:LINE: reason" in err. */
int sg_serve_config_load(sg_serve_config *c, const char *path, char *err,
                         size_t errlen);

/** True when the key may change on SIGHUP without a restart. */
bool sg_serve_config_reloadable(const char *key);

/** Copy the reloadable keys of src into dst; names of the other keys
 *  that differ are written to changed (comma separated) so the daemon can
 *  say they need a restart.  @return 0, -1 out of memory. */
int sg_serve_config_apply_reload(sg_serve_config *dst,
                                 const sg_serve_config *src, char *changed,
                                 size_t cap);

/** Print the key table (name, default, reloadable, meaning) for --help. */
void sg_serve_config_help(FILE *f);

/* ---------------------------------------------------------------- metrics */

/* Upper bounds of the latency histogram buckets, seconds (+Inf implied). */
#define SG_SERVE_HIST_BUCKETS 12

enum { SG_SERVE_SINGLE = 0, SG_SERVE_BATCH = 1 };
enum { SG_REPORT_ACCEPTED = 0, SG_REPORT_LIMITED = 1, SG_REPORT_REJECTED = 2 };

/** Counters of the daemon, updated lock-free from the worker threads. */
typedef struct sg_serve_metrics {
    atomic_uint_fast64_t checks[4];         /* by sg_action */
    atomic_uint_fast64_t labels[SG_LABEL_COUNT_];
    atomic_uint_fast64_t account_actions[4];/* by sg_account_action */
    atomic_uint_fast64_t check_errors;      /* messages answered with an error */
    atomic_uint_fast64_t store_errors[3];   /* checks the store failed, by
                                               store_failure: error, open,
                                               closed */
    atomic_uint_fast64_t batches;
    atomic_uint_fast64_t reports[2][3];     /* [is_spam][SG_REPORT_*] */
    atomic_uint_fast64_t learned;           /* reports that taught the model */
    atomic_uint_fast64_t http[6];           /* responses by class 1xx..5xx */
    atomic_uint_fast64_t hist[2][SG_SERVE_HIST_BUCKETS + 1];
    atomic_uint_fast64_t hist_sum_ns[2];
    atomic_uint_fast64_t reloads, reload_failures;
    atomic_uint_fast64_t prepare_cpu_ns;    /* thread CPU in the prepare phase
                                               (parallel, no lock) */
    atomic_uint_fast64_t judge_cpu_ns;      /* thread CPU in the judge phase,
                                               under eng_lock: the serial part */
} sg_serve_metrics;

/** Count one verdict (action, labels, account action). */
void sg_serve_metrics_verdict(sg_serve_metrics *m, const sg_verdict *v);

/** Count one request's latency, ns, in histogram kind SG_SERVE_SINGLE or
 *  SG_SERVE_BATCH. */
void sg_serve_metrics_latency(sg_serve_metrics *m, int kind, uint64_t ns);

struct sg_serve;
/** Render every metric in the Prometheus text exposition format (0.0.4)
 *  into a malloc'd string (caller frees with free()); NULL when out of
 *  memory.  Takes the engine lock briefly for the model and store sizes. */
char *sg_serve_metrics_render(struct sg_serve *s);

/* ---------------------------------------------------------------- recent */

/** A checked message kept so a report can name it by id. */
typedef struct sg_recent_msg {
    char *id, *from, *to, *text; /* copies, owned by the caller of get */
    char campaign[SG_CAMPAIGN_ID_LEN]; /* "" = none */
} sg_recent_msg;

typedef struct sg_recent sg_recent;

/** A bounded cache of the last `max_msgs` checked messages that had an id,
 *  holding at most `max_bytes` of their strings (the oldest go first).
 *  Thread-safe (its own mutex).  @return NULL when out of memory. */
sg_recent *sg_recent_new(size_t max_msgs, size_t max_bytes);
void sg_recent_free(sg_recent *r);

/** Remember message m (copied) with its verdict's campaign (may be NULL).
 *  A message without an id is not kept.  Out of memory drops it quietly. */
void sg_recent_put(sg_recent *r, const sg_message *m, const char *campaign);

/** Look up id; on success *out gets copies the caller releases with
 *  sg_recent_msg_clear.  @return true when found. */
bool sg_recent_get(sg_recent *r, const char *id, sg_recent_msg *out);
void sg_recent_msg_clear(sg_recent_msg *m);

/** Messages and bytes held now. */
void sg_recent_size(sg_recent *r, size_t *msgs, size_t *bytes);

/* ---------------------------------------------------------------- daemon */

/** The daemon: one engine behind one lock, the HTTP server, counters. */
typedef struct sg_serve {
    sg_serve_config cfg;        /* live config; reloadable keys guarded by
                                   cfg_lock */
    pthread_rwlock_t cfg_lock;
    sg_engine *eng;             /* every call on it holds eng_lock, except
                                   sg__check_prepare (prep_lock read) */
    pthread_mutex_t eng_lock;
    pthread_rwlock_t prep_lock; /* read: preparing messages outside
                                   eng_lock (serve_api.c); write, taken
                                   before eng_lock: whatever changes the
                                   model or the URL lists (reports that
                                   learn, operator decisions, SIGHUP) */
    pthread_key_t nc_key;       /* each worker thread's normalizer scratch
                                   (sg_serve_thread_nc) */
    pthread_key_t work_key;     /* each worker thread's recycled check
                                   contexts (serve_api.c) */
    struct sg_serve_pool *pool; /* helpers that prepare batches (serve_prep.c) */
    struct sg_serve_offload *offload; /* request threads for batches
                                   (serve_offload.c); NULL: batches run on
                                   the HTTP worker */
    bool model_dirty;           /* reports changed the model (eng_lock) */
    char model_out[4096];       /* where to save it at exit, "" = nowhere */
    sg_serve_metrics metrics;
    uint64_t model_updates_at_load; /* the model file's own step count */
    sg_recent *recent;
    struct MHD_Daemon *mhd;
    int listen_fd;              /* our listening socket (serve_http.c), -1
                                   once closed */
    pthread_t acceptor;         /* accepts and deals connections to MHD's
                                   workers in turn */
    bool acceptor_running;
    atomic_bool accept_stop;    /* set before the listening socket is shut
                                   down: the acceptor's errors end it */
    atomic_int inflight;        /* requests received whole and being
                                   answered (SIGTERM's drain waits for them) */
    atomic_uint batches_busy;   /* batches being judged or prepared now
                                   (serve_api.c): when they fill the
                                   cores, helpers are not asked to join */
    atomic_bool draining;       /* SIGTERM seen: refuse new requests */
    int64_t started_ms;         /* wall clock at start */
    unsigned threads;           /* worker threads in use */
    struct {                    /* campaigns noted lately (eng_lock) */
        char id[SG_CAMPAIGN_ID_LEN];
        int64_t at_ms;
    } noted[1024];              /* (a slot per id hash; 64 thrashed under
                                   many campaigns) */
} sg_serve;

/** Wall clock, Unix ms. */
int64_t sg_serve_wall_ms(void);
/** Monotonic clock, ns. */
uint64_t sg_serve_mono_ns(void);
/** CPU time of the calling thread, ns. */
uint64_t sg_serve_thread_cpu_ns(void);
/** Whether to time a phase (0 prepare, 1 judge) of a request of n messages
 *  with sg_serve_thread_cpu_ns, and how many times to count what it
 *  took: 1 for n >= 8; else 8 for one call in 8 of this thread and phase,
 *  0 for the others (the clock costs a system call: an unbiased sample
 *  for single checks).  serve.c. */
unsigned sg_serve_cpu_weight(int phase, size_t n);
/** The time used for state queries and reports: the engine's clock (the
 *  latest message time) when it has one, else the wall clock.  Call with
 *  eng_lock held. */
int64_t sg_serve_now_ms(sg_serve *s);

/** The calling thread's normalizer scratch for sg__check_prepare, made on
 *  first use and freed when the thread ends; NULL when out of memory. */
struct sg_normctx;
struct sg_normctx *sg_serve_thread_nc(sg_serve *s);

/** Destructor of a worker thread's recycled contexts (serve_api.c), for
 *  pthread_key_create(&s->work_key, ...). */
void sg_serve_work_free(void *work);

/** Helper threads for the prepare phase of batches (serve_prep.c); NULL
 *  when out of memory (batches are then prepared by their own thread). */
typedef struct sg_serve_pool sg_serve_pool;
sg_serve_pool *sg_serve_pool_start(sg_serve *s, unsigned helpers);
/** Stop and join the helpers (NULL is a no-op). */
void sg_serve_pool_stop(sg_serve_pool *p);

/** The prepare phase (sg__check_prepare_reuse) of the messages m[0..n)
 *  that are not NULL, into c[i] (each zero or recycled), in chunks shared by the calling thread and idle
 *  helpers; returns when all are prepared.  Call with prep_lock held for
 *  reading and eng_lock not held. */
void sg_serve_prepare_all(sg_serve *s, sg_message **m, sg_ctx *c, size_t n);

/** A unit of work for the request threads: run(job) is called once, on
 *  one of them; the job is the caller's (usually inside its request). */
typedef struct sg_serve_job {
    void (*run)(struct sg_serve_job *job);
    struct sg_serve_job *next;  /* queue link, the pool's */
} sg_serve_job;

/** Request threads for batches (serve_offload.c): `threads` of them,
 *  at most `max_queued` jobs waiting; NULL when threads is 0 or none could
 *  start (run batches inline). */
typedef struct sg_serve_offload sg_serve_offload;
sg_serve_offload *sg_serve_offload_start(unsigned threads, unsigned max_queued);
/** Queue j to run on a request thread, in arrival order.  false when o is
 *  NULL, stopping or full (max_queued waiting): then j will not run and
 *  stays the caller's, who runs it inline -- which also slows the HTTP
 *  worker's reading of new requests: the pressure goes back to clients. */
bool sg_serve_offload_submit(sg_serve_offload *o, sg_serve_job *j);
/** Refuse new jobs (submit returns false from now on), run every job
 *  already queued and join the threads; o stays valid for submit until
 *  sg_serve_offload_free (NULL is a no-op). */
void sg_serve_offload_stop(sg_serve_offload *o);
/** Free a stopped o, once nothing can call submit (after MHD stopped). */
void sg_serve_offload_free(sg_serve_offload *o);

/** Take the engine for a change of the model or the URL lists: prep_lock
 *  for writing, then eng_lock (so no message is being prepared).
 *  sg_serve_unlock_all releases both. */
void sg_serve_lock_all(sg_serve *s);
void sg_serve_unlock_all(sg_serve *s);

/** Log one line to stderr: "2024-05-01T10:00:00Z spimguard serve: ...". */
void sg_serve_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Start the HTTP server on the configured address (serve_http.c).
 *  @return 0, or -1 after logging why. */
int sg_serve_http_start(sg_serve *s);
/** Stop accepting connections (the listening socket is closed). */
void sg_serve_http_quiesce(sg_serve *s);
/** Close every connection and join the worker threads. */
void sg_serve_http_stop(sg_serve *s);
/** The port actually bound (useful with port 0). */
unsigned sg_serve_http_port(sg_serve *s);

/** An API response: status and a malloc'd body (JSON, or text for
 *  /metrics); the HTTP layer sends and frees it. */
typedef struct sg_serve_resp {
    unsigned status;
    char *body;
    size_t len;
    const char *content_type;   /* static; NULL = application/json */
    const char *allow;          /* static Allow header for 405, or NULL */
} sg_serve_resp;

/** Fill r with the compact JSON text of o and status; takes o's reference
 *  (json_decref).  o == NULL or an unprintable o gives a 500 error body. */
typedef struct json_t json_t;
void sg_serve_json(sg_serve_resp *r, unsigned status, json_t *o);

/** Fill r with {"error": msg} and status.  msg is formatted into at most
 *  511 bytes, cut back to its last whole UTF-8 character, and escaped by
 *  jansson; a msg that is not UTF-8 is replaced by a fixed message, so the
 *  body is always valid JSON.  r->body is NULL (len 0) only when out of
 *  memory. */
void sg_serve_error(sg_serve_resp *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Route one authenticated request to its handler (serve_api.c).
 *  `path` is the URL path (already percent-decoded), body/len the request
 *  body (may be empty). */
void sg_serve_api(sg_serve *s, const char *method, const char *path,
                  const char *body, size_t len, sg_serve_resp *r);

/** Run the daemon until SIGTERM/SIGINT (serve.c).  The config is built
 *  from the defaults, the file config_path (may be NULL), $SPIMGUARD_TOKEN
 *  and then the overrides ("key=value" strings from the command line), in
 *  that order, at start and again on every SIGHUP.
 *  @return an exit code (EXIT_OK after a clean stop, EXIT_USAGE for a bad
 *          config, EXIT_FATAL when it cannot start). */
int sg_serve_run(const char *config_path, char **overrides, int noverrides);

#endif /* SG_CLI_SERVE_H */
