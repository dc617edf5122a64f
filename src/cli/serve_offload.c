/*
 * serve_offload.c -- request threads for batches.  libmicrohttpd gives
 * each connection to one of its worker threads for good, and a worker
 * answers its connections one request at a time; when a client's few
 * connections all land on one worker (they often do: a worker accepts up
 * to ten pending connections at once), the other cores stay idle.  So
 * the HTTP layer suspends a connection that posted a batch and queues the
 * batch here (serve_http.c); one of `threads` request threads runs it
 * (parse, prepare, judge, render) and resumes the connection, whose worker
 * then sends the answer.  Two batches in flight use two cores, whichever
 * worker holds their connections.  Jobs run in arrival order; when
 * max_queued wait already, a worker runs its batch itself, so that an
 * overload slows the reading of new requests instead of growing a queue.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "serve.h"

struct sg_serve_offload {
    pthread_mutex_t mu;
    pthread_cond_t work;
    sg_serve_job *head, *tail;  /* FIFO of queued jobs */
    unsigned queued, max_queued;
    bool stop, joined;
    unsigned n;
    pthread_t th[];
};

static void *runner(void *arg) {
    sg_serve_offload *o = arg;
    pthread_mutex_lock(&o->mu);
    for (;;) {
        while (!o->head && !o->stop) pthread_cond_wait(&o->work, &o->mu);
        sg_serve_job *j = o->head;
        if (!j) break; /* stopping, and nothing left to run */
        o->head = j->next;
        if (!o->head) o->tail = NULL;
        o->queued--;
        pthread_mutex_unlock(&o->mu);
        j->run(j);
        pthread_mutex_lock(&o->mu);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

sg_serve_offload *sg_serve_offload_start(unsigned threads, unsigned max_queued) {
    if (threads == 0) return NULL;
    sg_serve_offload *o = calloc(1, sizeof *o + threads * sizeof o->th[0]);
    if (!o) return NULL;
    o->max_queued = max_queued ? max_queued : 1;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->work, NULL);
    for (; o->n < threads; o->n++)
        if (pthread_create(&o->th[o->n], NULL, runner, o)) break;
    if (o->n == 0) {
        sg_serve_offload_stop(o);
        sg_serve_offload_free(o);
        return NULL;
    }
    return o;
}

bool sg_serve_offload_submit(sg_serve_offload *o, sg_serve_job *j) {
    if (!o || !j) return false;
    pthread_mutex_lock(&o->mu);
    bool ok = !o->stop && o->queued < o->max_queued;
    if (ok) {
        j->next = NULL;
        if (o->tail) o->tail->next = j;
        else o->head = j;
        o->tail = j;
        o->queued++;
        pthread_cond_signal(&o->work);
    }
    pthread_mutex_unlock(&o->mu);
    return ok;
}

void sg_serve_offload_stop(sg_serve_offload *o) {
    if (!o || o->joined) return;
    pthread_mutex_lock(&o->mu);
    o->stop = true;
    pthread_cond_broadcast(&o->work);
    pthread_mutex_unlock(&o->mu);
    for (unsigned i = 0; i < o->n; i++) pthread_join(o->th[i], NULL);
    o->joined = true;
}

void sg_serve_offload_free(sg_serve_offload *o) {
    if (!o) return;
    sg_serve_offload_stop(o);
    pthread_cond_destroy(&o->work);
    pthread_mutex_destroy(&o->mu);
    free(o);
}
