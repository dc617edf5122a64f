/*
 * serve.c -- the life of the `spimguard serve` daemon: build the engine
 * (store, lists, model), start the HTTP layer, then wait for signals in
 * the main thread.  SIGHUP reloads the config file's reloadable keys and
 * the URL lists; SIGTERM/SIGINT stop accepting, let in-flight requests
 * finish (up to drain_ms), save a model that reports changed, close the
 * store and exit 0.  Worker threads never see a signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "serve.h"
#include "serve_enforce.h"

int64_t sg_serve_wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

uint64_t sg_serve_mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

uint64_t sg_serve_thread_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* A thread's CPU clock is a system call (no vDSO), ~1-2 us here: fine
 * once per batch, a large share of a single check.  Requests of fewer
 * than CPU_SAMPLE messages are timed one in CPU_SAMPLE (per thread and
 * phase) and counted CPU_SAMPLE times. */
#define CPU_SAMPLE 8

unsigned sg_serve_cpu_weight(int phase, size_t n) {
    static _Thread_local unsigned k[2];
    if (n >= CPU_SAMPLE) return 1;
    return k[phase & 1]++ % CPU_SAMPLE == 0 ? CPU_SAMPLE : 0;
}

int64_t sg_serve_now_ms(sg_serve *s) {
    int64_t c = sg__query_clock(s->eng);
    return c > 0 ? c : sg_serve_wall_ms();
}

void sg_serve_log(const char *fmt, ...) {
    char ts[32], line[1024];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s spimguard serve: %s\n", ts, line);
}

/* ---------------------------------------------------------------- engine */

static void free_nc(void *nc) { sg__normctx_free(nc); }

sg_normctx *sg_serve_thread_nc(sg_serve *s) {
    sg_normctx *nc = pthread_getspecific(s->nc_key);
    if (nc) return nc;
    if (sg__normctx_new(&nc)) return NULL;
    if (pthread_setspecific(s->nc_key, nc)) { sg__normctx_free(nc); return NULL; }
    return nc;
}

void sg_serve_lock_all(sg_serve *s) {
    pthread_rwlock_wrlock(&s->prep_lock);
    pthread_mutex_lock(&s->eng_lock);
}

void sg_serve_unlock_all(sg_serve *s) {
    pthread_mutex_unlock(&s->eng_lock);
    pthread_rwlock_unlock(&s->prep_lock);
}

static const char *or_null(const char *s) { return s && *s ? s : NULL; }

/* The store URI: --store, else lmdb:DATA_DIR/state, else memory:. */
static void store_uri(const sg_serve_config *c, char *buf, size_t cap) {
    if (*c->store) snprintf(buf, cap, "%s", c->store);
    else if (*c->data_dir) snprintf(buf, cap, "lmdb:%s/state", c->data_dir);
    else snprintf(buf, cap, "memory:");
}

/* The model to load: DATA_DIR/model.bin when reports have taught one
 * there, else --model, else the default model.  The learned model is saved
 * to DATA_DIR/model.bin at exit. */
static const char *model_path(sg_serve *s, char *buf, size_t cap) {
    const sg_serve_config *c = &s->cfg;
    if (*c->data_dir) {
        snprintf(s->model_out, sizeof s->model_out, "%s/model.bin", c->data_dir);
        if (access(s->model_out, R_OK) == 0) return s->model_out;
    }
    if (*c->model) return c->model;
    const char *d = sg_default_model_path();
    if (d) snprintf(buf, cap, "%s", d);
    return d ? buf : NULL;
}

static int engine_open(sg_serve *s) {
    char uri[4200], mbuf[4200];
    const sg_serve_config *c = &s->cfg;
    if (*c->data_dir && mkdir(c->data_dir, 0700) && errno != EEXIST) {
        sg_serve_log("data_dir %s: %s", c->data_dir, strerror(errno));
        return -1;
    }
    store_uri(c, uri, sizeof uri);
    sg_options o = {.max_text_bytes = (size_t)c->max_text_bytes,
                    .brands_file = or_null(c->brands_file),
                    .allow_file = or_null(c->allow_file),
                    .blocklist_file = or_null(c->blocklist_file),
                    .store_uri = uri};
    char evdir[4200];
    sg_serve_enforce_options(c, &o, evdir, sizeof evdir); /* evidence, policy */
    if (sg_engine_new(&o, &s->eng)) {
        sg_serve_log("cannot create engine: %s", sg_engine_errmsg(NULL));
        return -1;
    }
    const char *model = model_path(s, mbuf, sizeof mbuf);
    if (!model) {
        sg_serve_log("no model: pass --model, or build the default model (make)");
        return -1;
    }
    if (sg_engine_load_model(s->eng, model)) {
        sg_serve_log("cannot load model %s: %s", model, sg_engine_errmsg(s->eng));
        return -1;
    }
    sg_query_sizes z;
    sg__query_sizes(s->eng, &z);
    s->model_updates_at_load = z.model_updates;
    sg_serve_log("model %s (%lu weights); store %s (%s)", model,
                 (unsigned long)z.model_weights, uri, z.store_name);
    return 0;
}

/* ---------------------------------------------------------------- config */

/* Defaults, then the config file, then $SPIMGUARD_TOKEN, then the command
 * line's key=value overrides.  0, or -1 with the reason in err. */
static int config_build(sg_serve_config *c, const char *path, char **ov,
                        int nov, char *err, size_t errlen) {
    if (sg_serve_config_defaults(c)) { snprintf(err, errlen, "out of memory"); return -1; }
    if (path && sg_serve_config_load(c, path, err, errlen)) return -1;
    const char *env = getenv("SPIMGUARD_TOKEN");
    if (env && *env && sg_serve_config_set(c, "token", env, err, errlen)) return -1;
    for (int i = 0; i < nov; i++) {
        char key[64];
        const char *eq = strchr(ov[i], '=');
        size_t kl = eq ? (size_t)(eq - ov[i]) : 0;
        if (!eq || kl >= sizeof key) { snprintf(err, errlen, "bad override %s", ov[i]); return -1; }
        memcpy(key, ov[i], kl);
        key[kl] = '\0';
        if (sg_serve_config_set(c, key, eq + 1, err, errlen)) return -1;
    }
    if (strcmp(c->store_failure, "error") && strcmp(c->store_failure, "open") &&
        strcmp(c->store_failure, "closed")) {
        snprintf(err, errlen, "store_failure: \"%s\" is not error, open or closed",
                 c->store_failure);
        return -1;
    }
    return 0;
}

static void reload(sg_serve *s, const char *path, char **ov, int nov) {
    sg_serve_config fresh;
    char err[512], changed[512], lerr[512] = "";
    if (config_build(&fresh, path, ov, nov, err, sizeof err)) {
        sg_serve_config_free(&fresh);
        sg_serve_log("reload failed, old config kept: %s", err);
        atomic_fetch_add(&s->metrics.reload_failures, 1);
        return;
    }
    pthread_rwlock_wrlock(&s->cfg_lock);
    int rc = sg_serve_config_apply_reload(&s->cfg, &fresh, changed, sizeof changed);
    pthread_rwlock_unlock(&s->cfg_lock);
    sg_serve_config_free(&fresh);
    if (!rc && changed[0])
        sg_serve_log("reload: %s changed in the config; they need a restart", changed);
    sg_serve_lock_all(s); /* the lists are read while preparing */
    int lrc = sg__query_reload_lists(s->eng, lerr, sizeof lerr);
    sg_serve_unlock_all(s);
    sg_serve_enforce_reload(s); /* the policy file (serve_enforce.c) */
    if (rc || (lrc && lrc != SG_ENOTFOUND)) {
        sg_serve_log("reload failed: %s", rc ? "out of memory" : lerr);
        atomic_fetch_add(&s->metrics.reload_failures, 1);
        return;
    }
    atomic_fetch_add(&s->metrics.reloads, 1);
    sg_serve_log("reloaded config%s", lrc ? "" : " and URL lists");
}

/* ---------------------------------------------------------------- run */

static unsigned cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* Wait for in-flight requests, at most drain_ms. */
static void drain(sg_serve *s) {
    pthread_rwlock_rdlock(&s->cfg_lock);
    int64_t limit = s->cfg.drain_ms;
    pthread_rwlock_unlock(&s->cfg_lock);
    uint64_t t0 = sg_serve_mono_ns();
    while (atomic_load(&s->inflight) > 0 &&
           (int64_t)((sg_serve_mono_ns() - t0) / 1000000) < limit) {
        struct timespec d = {0, 5 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
    int left = atomic_load(&s->inflight);
    if (left) sg_serve_log("%d requests still open after %ld ms; closing them", left,
                           (long)limit);
}

/* Flush: save a model that reports changed; the store closes with the
 * engine (LMDB syncs on close). */
static int shutdown_engine(sg_serve *s) {
    int rc = 0;
    if (s->model_dirty && s->model_out[0]) {
        if (sg_engine_save_model(s->eng, s->model_out)) {
            sg_serve_log("cannot save model %s: %s", s->model_out, sg_engine_errmsg(s->eng));
            rc = -1;
        } else {
            sg_serve_log("saved learned model to %s", s->model_out);
        }
    }
    sg_engine_free(s->eng);
    s->eng = NULL;
    return rc;
}

static int wait_signals(sg_serve *s, const sigset_t *set, const char *path,
                        char **ov, int nov) {
    for (;;) {
        int sig;
        if (sigwait(set, &sig)) continue;
        if (sig == SIGHUP) { reload(s, path, ov, nov); continue; }
        sg_serve_log("%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return sig;
    }
}

/* Open everything and listen.  @return 0, -1 (fatal), -2 (a refused
 * configuration: exit 2). */
static int start(sg_serve *s, sg_serve_config *cfg) {
    s->cfg = *cfg;
    s->listen_fd = -1;
    memset(cfg, 0, sizeof *cfg);
    pthread_rwlock_init(&s->cfg_lock, NULL);
    pthread_mutex_init(&s->eng_lock, NULL);
    pthread_rwlockattr_t ra; /* a report must not wait behind a stream of checks */
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->prep_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    if (pthread_key_create(&s->nc_key, free_nc) ||
        pthread_key_create(&s->work_key, sg_serve_work_free)) {
        sg_serve_log("out of memory");
        return -1;
    }
    s->started_ms = sg_serve_wall_ms();
    s->threads = s->cfg.threads > 0 ? (unsigned)s->cfg.threads : cores();
    bool loopback = !strncmp(s->cfg.listen, "127.", 4) || !strcmp(s->cfg.listen, "::1");
    if (!loopback && !*s->cfg.token) {
        sg_serve_log("refusing to listen on %s without a token (set token or "
                     "SPIMGUARD_TOKEN)", s->cfg.listen);
        return -2; /* a configuration refused: a usage error */
    }
    s->recent = sg_recent_new((size_t)s->cfg.recent_messages, (size_t)s->cfg.recent_bytes);
    if (!s->recent) { sg_serve_log("out of memory"); return -1; }
    if (engine_open(s)) return -1;
    s->pool = sg_serve_pool_start(s, s->threads > 1 ? s->threads - 1 : 0);
    s->offload = sg_serve_offload_start(s->threads > 1 ? s->threads : 0, 4 * s->threads);
    if (sg_serve_http_start(s)) return -1;
    sg_serve_log("listening on %s port %u (%u threads, auth %s)", s->cfg.listen,
                 sg_serve_http_port(s), s->threads, *s->cfg.token ? "bearer token" : "off");
    return 0;
}

int sg_serve_run(const char *config_path, char **overrides, int noverrides) {
    static sg_serve srv; /* large (counters); one per process */
    sg_serve *s = &srv;
    sg_serve_config cfg;
    char err[512];
    if (config_build(&cfg, config_path, overrides, noverrides, err, sizeof err)) {
        sg_serve_config_free(&cfg);
        fprintf(stderr, "spimguard serve: %s\n", err);
        return EXIT_USAGE;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every worker */
    signal(SIGPIPE, SIG_IGN);
    int rc = EXIT_OK;
    int st = start(s, &cfg);
    if (st) {
        rc = st == -2 ? EXIT_USAGE : EXIT_FATAL;
    } else {
        wait_signals(s, &set, config_path, overrides, noverrides);
        atomic_store(&s->draining, true);
        sg_serve_http_quiesce(s);
        drain(s);
    }
    sg_serve_offload_stop(s->offload); /* before MHD: it resumes what it ran */
    sg_serve_http_stop(s);
    sg_serve_offload_free(s->offload); /* after MHD: no worker can submit now */
    s->offload = NULL;
    sg_serve_pool_stop(s->pool);
    s->pool = NULL;
    if (s->eng && shutdown_engine(s)) rc = EXIT_FATAL;
    sg_recent_free(s->recent);
    sg_serve_config_free(&s->cfg);
    if (rc == EXIT_OK) sg_serve_log("stopped");
    return rc;
}
