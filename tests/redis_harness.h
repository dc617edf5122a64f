/*
 * redis_harness.h -- start and stop private redis-server processes (one
 * server, or a 3-master Redis Cluster) on free loopback ports for the store
 * tests and bench/bench_store.c.  Servers run in a temporary directory,
 * without persistence, as children that die with this process
 * (PR_SET_PDEATHSIG) and are stopped by PID at exit, on a fatal signal, or
 * when a test asks.  Header-only (static functions) so that each test and
 * bench program is one file.
 */
#ifndef SG_REDIS_HARNESS_H
#define SG_REDIS_HARNESS_H

#include <hiredis/hiredis.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RH_MAX 8
#define RH_FN static __attribute__((unused))

typedef struct rh_server {
    pid_t pid;
    int port;
    bool cluster;
} rh_server;

static char rh_dir[128];
static rh_server rh_srv[RH_MAX];
static int rh_n;
static pid_t rh_owner; /* the process that started the servers */

RH_FN void rh_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* Is an executable `name` on $PATH? */
RH_FN bool rh_on_path(const char *name) {
    const char *path = getenv("PATH");
    char buf[512];
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name);
        if (access(buf, X_OK) == 0) return true;
        path = end ? end + 1 : NULL;
    }
    return false;
}

RH_FN bool rh_have_redis(void) {
    return rh_on_path("redis-server") && rh_on_path("redis-cli");
}

RH_FN bool rh_port_free(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

/* A free loopback port; for a cluster node port + 10000 (its bus) too. */
RH_FN int rh_free_port(bool cluster) {
    for (int tries = 0; tries < 200; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
            getsockname(fd, (struct sockaddr *)&a, &len)) {
            if (fd >= 0) close(fd);
            continue;
        }
        close(fd);
        int port = ntohs(a.sin_port);
        if (!cluster) return port;
        if (port < 55000 && rh_port_free(port + 10000)) return port;
    }
    return -1;
}

RH_FN void rh_kill_all_now(void) { /* async-signal-safe */
    if (getpid() != rh_owner) return;
    for (int i = 0; i < rh_n; i++)
        if (rh_srv[i].pid > 0) kill(rh_srv[i].pid, SIGKILL);
}

/* Stop server i by its PID: SIGTERM, then SIGKILL after 2 s. */
RH_FN void rh_stop(int i) {
    pid_t pid = rh_srv[i].pid;
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    for (int t = 0; t < 200; t++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            rh_srv[i].pid = 0;
            return;
        }
        rh_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    rh_srv[i].pid = 0;
}

/* Kill server i at once (a crash, as a test wants it). */
RH_FN void rh_crash(int i) {
    if (rh_srv[i].pid <= 0) return;
    kill(rh_srv[i].pid, SIGKILL);
    waitpid(rh_srv[i].pid, NULL, 0);
    rh_srv[i].pid = 0;
}

RH_FN void rh_remove_dir(void) {
    if (!rh_dir[0]) return;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", rh_dir);
    if (system(cmd) != 0) fprintf(stderr, "harness: could not remove %s\n", rh_dir);
    rh_dir[0] = '\0';
}

RH_FN void rh_stop_all(void) {
    if (getpid() != rh_owner) return; /* a forked worker exiting */
    for (int i = 0; i < rh_n; i++) rh_stop(i);
    rh_remove_dir();
}

RH_FN void rh_on_signal(int sig) {
    rh_kill_all_now();
    signal(sig, SIG_DFL);
    raise(sig);
}

RH_FN bool rh_init(void) {
    if (rh_dir[0]) return true;
    rh_owner = getpid();
    snprintf(rh_dir, sizeof rh_dir, "/tmp/sg-redis-XXXXXX");
    if (!mkdtemp(rh_dir)) {
        rh_dir[0] = '\0';
        return false;
    }
    atexit(rh_stop_all);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGABRT, SIGBUS};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], rh_on_signal);
    return true;
}

RH_FN redisReply *rh_cmd(int port, const char *fmt, ...) {
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return r;
}

RH_FN bool rh_ping(int port) {
    redisReply *r = rh_cmd(port, "PING");
    bool ok = r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");
    if (r) freeReplyObject(r);
    return ok;
}

/* Run redis-server for server slot i (its port and mode already set). */
RH_FN bool rh_spawn(int i) {
    rh_server *s = &rh_srv[i];
    char port[16], log[256], conf[64];
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(log, sizeof log, "%s/redis-%d.log", rh_dir, s->port);
    snprintf(conf, sizeof conf, "nodes-%d.conf", s->port);
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (s->cluster)
            execlp("redis-server", "redis-server", "--port", port, "--bind",
                   "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--daemonize", "no", "--dir", rh_dir, "--cluster-enabled",
                   "yes", "--cluster-config-file", conf,
                   "--cluster-node-timeout", "2000", (char *)NULL);
        else
            execlp("redis-server", "redis-server", "--port", port, "--bind",
                   "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--daemonize", "no", "--dir", rh_dir, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int t = 0; t < 500; t++) { /* up to 5 s */
        if (rh_ping(s->port)) return true;
        if (waitpid(pid, NULL, WNOHANG) == pid) break;
        rh_sleep_ms(10);
    }
    rh_stop(i);
    return false;
}

/* Start one redis-server; returns its index in rh_srv[] or -1. */
RH_FN int rh_start(bool cluster) {
    if (!rh_init() || rh_n == RH_MAX) return -1;
    int i = rh_n;
    rh_srv[i] = (rh_server){0, rh_free_port(cluster), cluster};
    if (rh_srv[i].port < 0) return -1;
    rh_n++;
    return rh_spawn(i) ? i : -1;
}

/* Start server i again on its port (a cluster node keeps its nodes.conf
 * and so its identity and slots). */
RH_FN bool rh_restart(int i) { return rh_spawn(i); }

RH_FN bool rh_cluster_ok(int port) {
    redisReply *r = rh_cmd(port, "CLUSTER INFO");
    bool ok = r && r->type == REDIS_REPLY_STRING &&
              strstr(r->str, "cluster_state:ok");
    if (r) freeReplyObject(r);
    return ok;
}

/* Wait until every node of the cluster in idx[0..n) says cluster_state:ok
 * and agrees on the slot map; up to timeout_ms. */
RH_FN bool rh_cluster_wait(const int *idx, int n, int timeout_ms) {
    for (int t = 0; t < timeout_ms / 20; t++) {
        bool all = true;
        for (int i = 0; i < n && all; i++) all = rh_cluster_ok(rh_srv[idx[i]].port);
        if (all) return true;
        rh_sleep_ms(20);
    }
    return false;
}

/* Start three cluster-enabled masters and join them with
 * `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`.
 * idx receives their indices.  Returns false (servers stopped) on failure. */
RH_FN bool rh_start_cluster(int idx[3]) {
    for (int i = 0; i < 3; i++)
        if ((idx[i] = rh_start(true)) < 0) return false;
    char a[3][32], log[256];
    for (int i = 0; i < 3; i++)
        snprintf(a[i], sizeof a[i], "127.0.0.1:%d", rh_srv[idx[i]].port);
    snprintf(log, sizeof log, "%s/cluster-create.log", rh_dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("redis-cli", "redis-cli", "--cluster", "create", a[0], a[1],
               a[2], "--cluster-replicas", "0", "--cluster-yes", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
        WEXITSTATUS(st) != 0) {
        fprintf(stderr, "harness: redis-cli --cluster create failed (%s)\n", log);
        return false;
    }
    return rh_cluster_wait(idx, 3, 10000);
}

/* FLUSHALL on server i. */
RH_FN bool rh_flush(int i) {
    redisReply *r = rh_cmd(rh_srv[i].port, "FLUSHALL");
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (r) freeReplyObject(r);
    return ok;
}

#endif /* SG_REDIS_HARNESS_H */
