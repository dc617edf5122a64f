/*
 * eval_stream.c -- scores the verdicts `spimguard scan` gave for a stream
 * from `spimguard simulate` (undefended) against its ground truth:
 * how many lures a compromised account sent before it was locked, how many
 * innocent accounts were locked or suspended, how many attack messages were
 * held and how much ham was.  Called by `spimguard eval --stream S V`.
 *
 * Definitions (docs/behavior.md):
 *  - blocked = action hold or drop; locked = account_action lock_and_reset
 *    or suspend.
 *  - msgs_before_lock: per compromised account that sent lures, the lures
 *    it sent before the first verdict that locked it (the locking message
 *    is held, so it is not counted); an account never locked counts all
 *    its lures.  Median and 95th percentile (nearest rank), and the most
 *    for the first hop (accounts taken over with no lure received before:
 *    the phisher's own).
 *  - false_lock_pct: accounts locked at a time they were not compromised,
 *    over accounts that sent ham.
 *  - attack_recall_pct: attack messages (lures and spim) blocked.
 *  - ham_blocked_pct: ham blocked, leaving out ham an account's owner sent
 *    after the account was rightly locked as compromised (in a defended
 *    network the owner cannot send until the password reset; the stream
 *    was made without the defence).  Those are counted separately.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

typedef struct verdict_code {
    uint8_t action, account;
} verdict_code;

typedef struct verdicts {
    verdict_code *v;
    size_t n, cap;
    json_t *by_id;      /* id -> index into v */
} verdicts;

typedef struct account {
    int64_t compromised_at;   /* -1: never */
    int64_t first_lure_in;    /* first attack message received, -1: none */
    bool sent_ham, locked_compromised, locked_innocent;
    uint32_t lures, before_lock;
} account;

typedef struct tally {
    json_t *by_from;          /* account id -> index into acct */
    account *acct;
    size_t nacct, capacct;
    uint64_t attack, attack_blocked, ham, ham_blocked, ham_after_lock,
        ham_after_lock_blocked, unmatched;
} tally;

static uint8_t code_of(const char *s, const char *const *names, uint8_t n) {
    for (uint8_t i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return 0;
}

static const char *const action_names[] = {"deliver", "warn", "hold", "drop"};
static const char *const account_names[] = {"none", "throttle", "lock_and_reset",
                                             "suspend"};

static int add_verdict(verdicts *vs, json_t *j) {
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? 2 * vs->cap : 4096;
        verdict_code *v = realloc(vs->v, cap * sizeof *v);
        if (!v) return -1;
        vs->v = v, vs->cap = cap;
    }
    verdict_code c = {
        code_of(json_string_value(json_object_get(j, "action")), action_names, 4),
        code_of(json_string_value(json_object_get(j, "account_action")), account_names, 4)};
    const char *id = json_string_value(json_object_get(j, "id"));
    if (id && json_object_set_new(vs->by_id, id, json_integer((json_int_t)vs->n)))
        return -1;
    vs->v[vs->n++] = c;
    return 0;
}

static int read_verdicts(const char *path, verdicts *vs) {
    sg_lines r;
    if (sg_lines_open(&r, path, 1 << 22)) {
        sg_cli_error("eval", "%s: cannot open", path);
        return -1;
    }
    size_t len;
    int rc = 0;
    while (!rc && sg_lines_next(&r, &len) == 1) {
        json_t *j = json_loadb(r.buf, len, 0, NULL);
        if (j && json_object_get(j, "action")) rc = add_verdict(vs, j);
        json_decref(j);
    }
    sg_lines_close(&r);
    if (rc) sg_cli_error("eval", "out of memory");
    return rc;
}

static account *account_of(tally *t, const char *from) {
    json_t *ix = json_object_get(t->by_from, from);
    if (ix) return &t->acct[json_integer_value(ix)];
    if (t->nacct == t->capacct) {
        size_t cap = t->capacct ? 2 * t->capacct : 1024;
        account *a = realloc(t->acct, cap * sizeof *a);
        if (!a) return NULL;
        t->acct = a, t->capacct = cap;
    }
    if (json_object_set_new(t->by_from, from, json_integer((json_int_t)t->nacct)))
        return NULL;
    account *a = &t->acct[t->nacct++];
    *a = (account){.compromised_at = -1, .first_lure_in = -1};
    return a;
}

/* One message of the stream with its verdict. */
static void score_message(tally *t, account *a, bool attack, int64_t comp_at,
                          int64_t ts, verdict_code v) {
    if (comp_at >= 0 && (a->compromised_at < 0 || comp_at < a->compromised_at))
        a->compromised_at = comp_at;
    bool compromised_now = a->compromised_at >= 0 && ts >= a->compromised_at;
    bool blocked = v.action >= 2, locks = v.account >= 2;
    bool was_locked = a->locked_compromised;
    if (locks && compromised_now) a->locked_compromised = true;
    else if (locks && !compromised_now && !attack) a->locked_innocent = true;
    if (attack) {
        t->attack++;
        t->attack_blocked += blocked;
        if (comp_at >= 0) {
            a->lures++;
            if (!a->locked_compromised) a->before_lock++;
        }
        return;
    }
    a->sent_ham = true;
    if (was_locked) {
        t->ham_after_lock++;
        t->ham_after_lock_blocked += blocked;
        return;
    }
    t->ham++;
    t->ham_blocked += blocked;
}

/* The recipient of an attack message got its first lure now (if first). */
static int note_receipt(tally *t, const char *to, int64_t ts) {
    if (!to) return 0;
    account *r = account_of(t, to);
    if (!r) return -1;
    if (r->first_lure_in < 0) r->first_lure_in = ts;
    return 0;
}

static int read_stream(const char *path, const verdicts *vs, tally *t) {
    sg_lines r;
    if (sg_lines_open(&r, path, 1 << 22)) {
        sg_cli_error("eval", "%s: cannot open", path);
        return -1;
    }
    size_t len, line = 0;
    int rc = 0;
    while (!rc && sg_lines_next(&r, &len) == 1) {
        json_t *j = json_loadb(r.buf, len, 0, NULL);
        const char *from = json_string_value(json_object_get(j, "from"));
        if (!from) { json_decref(j); continue; }
        json_t *ix = json_object_get(vs->by_id, json_string_value(json_object_get(j, "id")));
        size_t k = ix ? (size_t)json_integer_value(ix) : line;
        line++;
        json_t *ca = json_object_get(j, "truth_compromised_at");
        account *a = account_of(t, from);
        if (!a) rc = -1;
        else if (k >= vs->n) t->unmatched++;
        else
            score_message(t, a, json_is_true(json_object_get(j, "truth_attack")),
                          json_is_integer(ca) ? json_integer_value(ca) : -1,
                          json_integer_value(json_object_get(j, "ts")), vs->v[k]);
        if (!rc && a && json_is_true(json_object_get(j, "truth_attack")))
            rc = note_receipt(t, json_string_value(json_object_get(j, "to")),
                              json_integer_value(json_object_get(j, "ts")));
        json_decref(j);
    }
    sg_lines_close(&r);
    if (rc) sg_cli_error("eval", "out of memory");
    return rc;
}

static int cmp_u32(const void *x, const void *y) {
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

/* Nearest-rank percentile q (0..1) of sorted v[n]; 0 when empty. */
static uint32_t percentile(const uint32_t *v, size_t n, double q) {
    if (!n) return 0;
    size_t r = (size_t)ceil(q * n);
    return v[r ? r - 1 : 0];
}

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * a / b : 0; }

/* Taken over from outside the network (the phisher's first k), not
 * through a lure seen in the stream. */
static bool first_hop(const account *a) {
    return a->first_lure_in < 0 || a->first_lure_in > a->compromised_at;
}

static void report(const tally *t, int json, FILE *out) {
    uint32_t *before = malloc((t->nacct ? t->nacct : 1) * sizeof *before);
    size_t nc = 0, locked = 0, ham_accts = 0, false_locks = 0, nseed = 0;
    uint32_t seed_max = 0;
    for (size_t i = 0; i < t->nacct; i++) {
        const account *a = &t->acct[i];
        if (a->compromised_at >= 0 && a->lures && before) {
            before[nc++] = a->before_lock;
            locked += a->locked_compromised;
            if (first_hop(a)) {
                nseed++;
                if (a->before_lock > seed_max) seed_max = a->before_lock;
            }
        }
        ham_accts += a->sent_ham;
        false_locks += a->locked_innocent && a->sent_ham;
    }
    if (before) qsort(before, nc, sizeof *before, cmp_u32);
    uint32_t med = before ? percentile(before, nc, 0.5) : 0;
    uint32_t p95 = before ? percentile(before, nc, 0.95) : 0;
    free(before);
    double fl = pct(false_locks, ham_accts), rec = pct(t->attack_blocked, t->attack);
    double hb = pct(t->ham_blocked, t->ham);
    if (json) {
        fprintf(out, "{\"msgs_before_lock_median\": %u, \"msgs_before_lock_p95\": %u, "
                     "\"false_lock_pct\": %.4f, \"attack_recall_pct\": %.4f, "
                     "\"ham_blocked_pct\": %.4f, \"compromised_senders\": %zu, "
                     "\"compromised_locked\": %zu, \"false_locks\": %zu, "
                     "\"accounts_with_ham\": %zu, \"attack_messages\": %llu, "
                     "\"ham_messages\": %llu, \"ham_after_lock\": %llu, "
                     "\"ham_after_lock_blocked\": %llu, \"first_hop_senders\": %zu, "
                     "\"first_hop_msgs_before_lock_max\": %u, \"unmatched\": %llu}\n",
                med, p95, fl, rec, hb, nc, locked, false_locks, ham_accts,
                (unsigned long long)t->attack, (unsigned long long)t->ham,
                (unsigned long long)t->ham_after_lock,
                (unsigned long long)t->ham_after_lock_blocked, nseed, seed_max,
                (unsigned long long)t->unmatched);
        return;
    }
    fprintf(out, "compromised senders        %zu (%zu locked)\n", nc, locked);
    fprintf(out, "msgs before lock           median %u, p95 %u; first hop (%zu "
                 "accounts the phisher took over) at most %u\n", med, p95, nseed, seed_max);
    fprintf(out, "false locks                %zu of %zu accounts (%.4f %%)\n",
            false_locks, ham_accts, fl);
    fprintf(out, "attack recall              %.2f %% of %llu attack messages held\n", rec,
            (unsigned long long)t->attack);
    fprintf(out, "ham blocked                %.4f %% of %llu (plus %llu sent after a "
                 "rightful lock)\n", hb, (unsigned long long)t->ham,
            (unsigned long long)t->ham_after_lock);
    if (t->unmatched)
        fprintf(out, "unmatched                  %llu messages had no verdict\n",
                (unsigned long long)t->unmatched);
}

int sg_eval_stream(const char *stream_path, const char *verdicts_path,
                   int json, FILE *out) {
    verdicts vs = {.by_id = json_object()};
    tally t = {.by_from = json_object()};
    int rc = (!vs.by_id || !t.by_from) ? -1 : read_verdicts(verdicts_path, &vs);
    if (!rc) rc = read_stream(stream_path, &vs, &t);
    if (!rc) report(&t, json, out);
    if (!rc && t.unmatched)
        fprintf(stderr, "spimguard eval: %llu messages of %s have no verdict in %s: "
                        "are they the verdicts of this stream?\n",
                (unsigned long long)t.unmatched, stream_path, verdicts_path);
    json_decref(vs.by_id);
    json_decref(t.by_from);
    free(vs.v);
    free(t.acct);
    return rc ? EXIT_FATAL : t.unmatched ? EXIT_BADLINES : EXIT_OK;
}
