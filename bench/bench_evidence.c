/*
 * bench_evidence.c -- speed of the evidence log (evidence.h): appends per
 * second (each entry like the engine writes for a locked account: one
 * message with its text, two reasons, labels, campaign), then the time of
 * a full verification (BLAKE2b chain + Ed25519 checkpoints) of the log,
 * and its size.  The target (issue 7): verify 1 million entries in under
 * 10 s.
 *
 *   bench_evidence [ENTRIES [DIR]]   default 1000000 entries in a
 *                                    temporary directory (removed after)
 */
#include "evidence.h"
#include "sg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fill(const char *dir, long n) {
    sg_evidence_opts o = {.dir = dir};
    sg_evidence *ev;
    char err[256];
    if (sg__evidence_open(&o, &ev, NULL, err, sizeof err)) {
        fprintf(stderr, "bench_evidence: %s\n", err);
        return -1;
    }
    sg_evidence_reason r[2] = {
        {"COMPROMISED_SENDER", 6.0, "new client 'web-7.2', new network 203.0.113.0/24; "
                                    "same campaign to 5 recipients in a burst (3.50 points)"},
        {"LOOKALIKE_DOMAIN", 3.2, "rnicrosoft-login.com looks like microsoft.com (rn→m)"}};
    for (long i = 0; i < n; i++) {
        char from[64], to[64], id[32], text[160];
        snprintf(from, sizeof from, "user%ld@example.org", i % 50000);
        snprintf(to, sizeof to, "user%ld@example.org", (i * 7919) % 50000);
        snprintf(id, sizeof id, "m%ld", i);
        snprintf(text, sizeof text, "hey it's me, my account got a prize, log in at "
                 "http://rnicrosoft-login.com/%ld to claim yours", i % 977);
        sg_evidence_msg m = {id, from, to, 1700000000000 + i * 50, text, strlen(text)};
        sg_evidence_entry e = {.kind = "account_action", .ts_ms = m.ts_ms, .account = from,
                               .action = "lock_and_reset", .message_action = "hold",
                               .labels = {"phishing", "lookalike_url", "compromised_sender"},
                               .score = 0.9993, .has_score = true, .campaign = "c3f2a9b01c4d5",
                               .config_version = "policy:default", .actor = "engine",
                               .reasons = r, .nreasons = 2, .msgs = &m, .nmsgs = 1};
        if (sg__evidence_append(ev, &e, NULL)) {
            fprintf(stderr, "bench_evidence: %s\n", sg__evidence_errmsg(ev));
            sg__evidence_close(ev);
            return -1;
        }
    }
    sg__evidence_close(ev);
    return 0;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    char dir[256], log[300], pub[300], err[256];
    if (argc > 2) snprintf(dir, sizeof dir, "%s", argv[2]);
    else if (!mkdtemp(strcpy(dir, "/tmp/sg_bench_evidence_XXXXXX"))) return 3;
    snprintf(log, sizeof log, "%s/log.jsonl", dir);
    snprintf(pub, sizeof pub, "%s/signing.pub", dir);
    double t0 = secs();
    if (fill(dir, n)) return 3;
    double t1 = secs();
    unsigned char pk[32];
    if (sg__evidence_read_pubkey(pub, pk, err, sizeof err)) {
        fprintf(stderr, "bench_evidence: %s\n", err);
        return 3;
    }
    sg_ev_report r;
    double t2 = secs();
    int rc = sg__evidence_verify(log, (const unsigned char(*)[32])pk, 1, false, &r);
    double t3 = secs();
    struct stat st;
    stat(log, &st);
    printf("append: %ld entries in %.2f s (%.0f entries/s)\n", n, t1 - t0, n / (t1 - t0));
    printf("verify: %llu entries (%llu checkpoints, %llu signatures good) in %.2f s "
           "(%.0f entries/s) -> %s\n",
           (unsigned long long)r.entries, (unsigned long long)r.checkpoints,
           (unsigned long long)r.signatures_ok, t3 - t2, r.entries / (t3 - t2),
           rc ? r.detail : "ok");
    printf("log size: %.1f MiB (%.0f bytes/entry)\n", st.st_size / 1048576.0,
           (double)st.st_size / (r.entries ? r.entries : 1));
    if (argc <= 2) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd)) return 3;
    }
    return rc ? 1 : 0;
}
