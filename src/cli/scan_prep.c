/*
 * scan_prep.c -- the prepare phase of `spimguard scan`'s chunks on two
 * threads (scan_prep.h): the scanning thread and one helper thread claim
 * blocks of a chunk's messages in turn and run sg__check_prepare_reuse on
 * them (normalize, features, model, URLs, fingerprint), each with its own
 * normalizer scratch (the scanning thread the engine's, the helper one of
 * its own).  Preparing reads no store and writes nothing in the engine, so
 * the result is the same, byte for byte, whichever thread prepares what;
 * the judge phase stays with the scanning thread (cmd_scan.c).
 */
#define _GNU_SOURCE
#include "scan_prep.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#define BLOCK 16 /* messages claimed at a time (as serve_prep.c) */

struct sg_scan_prep {
    sg_engine *eng;
    sg_normctx *nc;             /* the helper's scratch */
    pthread_t th;
    bool helper;                /* th runs */
    pthread_mutex_t mu;
    pthread_cond_t go, done;    /* a job posted / the helper left it */
    unsigned long jobs;         /* jobs posted so far (mu) */
    bool busy;                  /* a job is posted and not done (mu) */
    bool taken;                 /* the helper took the posted job (mu) */
    bool stop;                  /* the helper is to quit (mu) */
    /* The job, set under mu before it is posted. */
    sg_message **m;
    sg_ctx *c;
    size_t n, nblocks;
    atomic_size_t next;         /* next block to claim */
};

/* Cores this process may run on. */
static long cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    return sysconf(_SC_NPROCESSORS_ONLN);
}

/* Claim blocks of the job until none is left; nc NULL: the engine's. */
static void work(sg_scan_prep *p, sg_normctx *nc) {
    for (size_t k; (k = atomic_fetch_add(&p->next, 1)) < p->nblocks;) {
        size_t end = (k + 1) * BLOCK < p->n ? (k + 1) * BLOCK : p->n;
        for (size_t i = k * BLOCK; i < end; i++)
            if (p->m[i]) sg__check_prepare_reuse(p->eng, p->m[i], &p->c[i], nc);
    }
}

static void *helper(void *arg) {
    sg_scan_prep *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->jobs == seen) pthread_cond_wait(&p->go, &p->mu);
        if (p->stop) break;
        seen = p->jobs;
        if (!p->busy) continue; /* the caller did it all and withdrew it */
        p->taken = true;
        pthread_mutex_unlock(&p->mu);
        work(p, p->nc);
        pthread_mutex_lock(&p->mu);
        p->busy = p->taken = false;
        pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

sg_scan_prep *sg_scan_prep_start(sg_engine *eng) {
    sg_scan_prep *p = sg__calloc(1, sizeof *p);
    if (!p) return NULL;
    p->eng = eng;
    atomic_init(&p->next, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if (cores() > 1 && sg__normctx_new(&p->nc) == SG_OK)
        p->helper = pthread_create(&p->th, NULL, helper, p) == 0;
    return p;
}

void sg_scan_prep_all(sg_scan_prep *p, sg_engine *eng, sg_message **m,
                      sg_ctx *c, size_t n) {
    if (!p || !p->helper || n <= BLOCK) { /* alone */
        for (size_t i = 0; i < n; i++)
            if (m[i]) sg__check_prepare_reuse(eng, m[i], &c[i], NULL);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->eng = eng;
    p->m = m;
    p->c = c;
    p->n = n;
    p->nblocks = (n + BLOCK - 1) / BLOCK;
    atomic_store(&p->next, 0);
    p->busy = true;
    p->jobs++;
    pthread_cond_signal(&p->go);
    pthread_mutex_unlock(&p->mu);
    work(p, NULL);
    /* A helper that has not woken yet finds the job withdrawn; one that
     * took it may still be in its last block. */
    pthread_mutex_lock(&p->mu);
    if (!p->taken) p->busy = false;
    while (p->busy) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void sg_scan_prep_stop(sg_scan_prep *p) {
    if (!p) return;
    if (p->helper) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_signal(&p->go);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->th, NULL);
    }
    if (p->nc) sg__normctx_free(p->nc);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    sg__free(p);
}
