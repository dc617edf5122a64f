/*
 * serve_prep.c -- the prepare phase of a batch, spread over the cores:
 * the request's worker thread and a few helper threads each take chunks of
 * the batch's messages and run sg__check_prepare_reuse on them (normalize,
 * features, model, URLs, fingerprint; src/lib/engine.c), outside the
 * engine lock.  The judge phase stays with the request's thread (serve_api.c).
 * Helpers never take a lock of the engine: they run while the request's
 * thread holds prep_lock for reading, and it waits for them before it lets
 * go.  Each thread uses its own normalizer scratch (sg_serve_thread_nc).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "serve.h"

#define CHUNK 16        /* messages claimed at a time */
#define QUEUE 16        /* jobs waiting for a helper */

/* One batch being prepared; lives on the requesting thread's stack. */
typedef struct prep_job {
    sg_serve *s;
    sg_message **m;
    sg_ctx *c;
    size_t n, nchunks;
    atomic_size_t next;     /* next chunk to claim */
    int active;             /* helpers working on it (pool mutex) */
} prep_job;

struct sg_serve_pool {
    pthread_mutex_t mu;
    pthread_cond_t work, idle;  /* a job queued / a helper let go of one */
    prep_job *queue[QUEUE];
    size_t qlen;
    bool stop;
    unsigned n;
    pthread_t th[];
};

/* Claim chunks until none is left. */
static void work(prep_job *j) {
    sg_normctx *nc = sg_serve_thread_nc(j->s);
    if (!nc) return; /* out of memory: the others do this job */
    unsigned weight = sg_serve_cpu_weight(0, j->n);
    uint64_t cpu0 = weight ? sg_serve_thread_cpu_ns() : 0;
    for (;;) {
        size_t k = atomic_fetch_add(&j->next, 1);
        if (k >= j->nchunks) break;
        size_t end = (k + 1) * CHUNK < j->n ? (k + 1) * CHUNK : j->n;
        for (size_t i = k * CHUNK; i < end; i++)
            if (j->m[i]) sg__check_prepare_reuse(j->s->eng, j->m[i], &j->c[i], nc);
    }
    if (weight)
        atomic_fetch_add_explicit(&j->s->metrics.prepare_cpu_ns,
                                  (sg_serve_thread_cpu_ns() - cpu0) * weight,
                                  memory_order_relaxed);
}

static void *helper(void *arg) {
    sg_serve_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && !p->qlen) pthread_cond_wait(&p->work, &p->mu);
        if (p->stop) break;
        prep_job *j = p->queue[--p->qlen];
        j->active++;
        pthread_mutex_unlock(&p->mu);
        work(j);
        pthread_mutex_lock(&p->mu);
        j->active--;
        pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

sg_serve_pool *sg_serve_pool_start(sg_serve *s, unsigned helpers) {
    (void)s;
    sg_serve_pool *p = calloc(1, sizeof *p + helpers * sizeof p->th[0]);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->idle, NULL);
    for (; p->n < helpers; p->n++)
        if (pthread_create(&p->th[p->n], NULL, helper, p)) break;
    return p;
}

void sg_serve_pool_stop(sg_serve_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n; i++) pthread_join(p->th[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Offer the job to up to `want` helpers; returns how many entries were
 * queued. */
static size_t offer(sg_serve_pool *p, prep_job *j, size_t want) {
    size_t k = 0;
    pthread_mutex_lock(&p->mu);
    for (; k < want && p->qlen < QUEUE; k++) p->queue[p->qlen++] = j;
    if (k) pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    return k;
}

/* Take back the entries of j no helper took, then wait for the helpers
 * still in it. */
static void withdraw(sg_serve_pool *p, prep_job *j) {
    pthread_mutex_lock(&p->mu);
    size_t w = 0;
    for (size_t i = 0; i < p->qlen; i++)
        if (p->queue[i] != j) p->queue[w++] = p->queue[i];
    p->qlen = w;
    while (j->active) pthread_cond_wait(&p->idle, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void sg_serve_prepare_all(sg_serve *s, sg_message **m, sg_ctx *c, size_t n) {
    prep_job j = {.s = s, .m = m, .c = c, .n = n, .nchunks = (n + CHUNK - 1) / CHUNK};
    atomic_init(&j.next, 0);
    sg_serve_pool *p = s->pool;
    size_t helpers = p && j.nchunks > 1 ? p->n : 0;
    /* As many batches as cores already run: each keeps its own core busy,
     * and helpers joining in would only add wake-ups and switches. */
    if (atomic_load_explicit(&s->batches_busy, memory_order_relaxed) >= s->threads)
        helpers = 0;
    if (helpers > j.nchunks - 1) helpers = j.nchunks - 1;
    bool offered = helpers && offer(p, &j, helpers) > 0;
    work(&j);
    if (offered) withdraw(p, &j);
    if (atomic_load(&j.next) < j.nchunks) { /* no scratch here: the engine's */
        pthread_mutex_lock(&s->eng_lock);
        for (size_t k; (k = atomic_fetch_add(&j.next, 1)) < j.nchunks;)
            for (size_t i = k * CHUNK; i < n && i < (k + 1) * CHUNK; i++)
                if (m[i]) sg__check_prepare_reuse(s->eng, m[i], &c[i], NULL);
        pthread_mutex_unlock(&s->eng_lock);
    }
}
