/*
 * serve_recent.c -- the daemon's memory of recently checked messages, so a
 * user's report can name a message by its id (POST /v1/report {"id"}).
 * A ring of at most max_msgs entries and max_bytes of strings, oldest out
 * first, with a chained hash index on the id (xxHash3).  Its own mutex;
 * never touches the engine.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "serve.h"

typedef struct entry {
    char *blob;         /* id \0 from \0 to \0 text \0, one allocation */
    size_t bytes;       /* size of blob */
    uint64_t hash;      /* of the id */
    int64_t next;       /* next entry in the bucket chain, -1 = end */
    char campaign[SG_CAMPAIGN_ID_LEN];
} entry;

struct sg_recent {
    pthread_mutex_t mu;
    entry *ring;        /* max_msgs slots */
    size_t max_msgs, max_bytes;
    size_t head, count; /* oldest slot, live entries */
    size_t bytes;       /* bytes of live blobs */
    int64_t *bucket;    /* nbuckets heads, -1 = empty */
    size_t nbuckets;    /* power of two >= 2 * max_msgs */
};

sg_recent *sg_recent_new(size_t max_msgs, size_t max_bytes) {
    sg_recent *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->max_msgs = max_msgs;
    r->max_bytes = max_bytes;
    r->nbuckets = 16;
    while (r->nbuckets < 2 * max_msgs) r->nbuckets *= 2;
    r->ring = calloc(max_msgs ? max_msgs : 1, sizeof *r->ring);
    r->bucket = malloc(r->nbuckets * sizeof *r->bucket);
    if (!r->ring || !r->bucket) {
        free(r->ring);
        free(r->bucket);
        free(r);
        return NULL;
    }
    for (size_t i = 0; i < r->nbuckets; i++) r->bucket[i] = -1;
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

void sg_recent_free(sg_recent *r) {
    if (!r) return;
    for (size_t i = 0; i < r->count; i++)
        free(r->ring[(r->head + i) % r->max_msgs].blob);
    pthread_mutex_destroy(&r->mu);
    free(r->ring);
    free(r->bucket);
    free(r);
}

/* Unlink slot i from its bucket chain and free it. */
static void evict_oldest(sg_recent *r) {
    size_t i = r->head;
    entry *e = &r->ring[i];
    int64_t *link = &r->bucket[e->hash & (r->nbuckets - 1)];
    while (*link != -1 && *link != (int64_t)i) link = &r->ring[*link].next;
    if (*link == (int64_t)i) *link = e->next;
    r->bytes -= e->bytes;
    free(e->blob);
    memset(e, 0, sizeof *e);
    r->head = (r->head + 1) % r->max_msgs;
    r->count--;
}

static char *pack(const sg_message *m, size_t *bytes) {
    const char *f[4] = {sg_message_id(m), sg_message_from(m), sg_message_to(m),
                        sg_message_text(m)};
    size_t len[4], total = 0;
    for (int i = 0; i < 4; i++) total += (len[i] = strlen(f[i])) + 1;
    char *blob = malloc(total), *p = blob;
    if (!blob) return NULL;
    for (int i = 0; i < 4; i++) {
        memcpy(p, f[i], len[i] + 1);
        p += len[i] + 1;
    }
    *bytes = total;
    return blob;
}

void sg_recent_put(sg_recent *r, const sg_message *m, const char *campaign) {
    const char *id = sg_message_id(m);
    if (!r || !id || !*id || !r->max_msgs) return;
    size_t bytes;
    char *blob = pack(m, &bytes);
    if (!blob) return;
    if (bytes > r->max_bytes) { free(blob); return; }
    uint64_t h = XXH3_64bits(id, strlen(id));
    pthread_mutex_lock(&r->mu);
    while (r->count && (r->count == r->max_msgs || r->bytes + bytes > r->max_bytes))
        evict_oldest(r);
    size_t i = (r->head + r->count) % r->max_msgs;
    entry *e = &r->ring[i];
    e->blob = blob;
    e->bytes = bytes;
    e->hash = h;
    snprintf(e->campaign, sizeof e->campaign, "%s", campaign ? campaign : "");
    int64_t *b = &r->bucket[h & (r->nbuckets - 1)];
    e->next = *b;
    *b = (int64_t)i;
    r->count++;
    r->bytes += bytes;
    pthread_mutex_unlock(&r->mu);
}

static bool unpack(const entry *e, sg_recent_msg *out) {
    const char *p = e->blob;
    char **f[4] = {&out->id, &out->from, &out->to, &out->text};
    for (int i = 0; i < 4; i++) {
        if (!(*f[i] = strdup(p))) { sg_recent_msg_clear(out); return false; }
        p += strlen(p) + 1;
    }
    snprintf(out->campaign, sizeof out->campaign, "%s", e->campaign);
    return true;
}

bool sg_recent_get(sg_recent *r, const char *id, sg_recent_msg *out) {
    memset(out, 0, sizeof *out);
    if (!r || !id || !r->max_msgs) return false;
    uint64_t h = XXH3_64bits(id, strlen(id));
    bool found = false;
    pthread_mutex_lock(&r->mu);
    for (int64_t i = r->bucket[h & (r->nbuckets - 1)]; i != -1; i = r->ring[i].next) {
        const entry *e = &r->ring[i];
        if (e->hash == h && !strcmp(e->blob, id)) {
            found = unpack(e, out);
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

void sg_recent_msg_clear(sg_recent_msg *m) {
    free(m->id);
    free(m->from);
    free(m->to);
    free(m->text);
    memset(m, 0, sizeof *m);
}

void sg_recent_size(sg_recent *r, size_t *msgs, size_t *bytes) {
    pthread_mutex_lock(&r->mu);
    *msgs = r->count;
    *bytes = r->bytes;
    pthread_mutex_unlock(&r->mu);
}
