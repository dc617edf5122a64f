/*
 * fuzz_evidence.c -- libFuzzer target for what reads untrusted evidence
 * files: the log verifier (evidence_verify.c: line parsing, the chain,
 * fault classification with its look-ahead, checkpoint JSON) on the input
 * as a log file, each line through sg__evidence_parse_line and
 * sg__evidence_elide, and the policy file parser (policy_config.c) on the
 * same bytes.  Any crash, sanitizer report or leak is a bug.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evidence.h"
#include "policy_config.h"
#include "sg_internal.h"

static char path[64];

static void write_input(const uint8_t *data, size_t size) {
    if (!path[0]) snprintf(path, sizeof path, "/tmp/sg_fuzz_evidence_%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(data, 1, size, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const unsigned char pk[1][32] = {{1, 2, 3}};
    write_input(data, size);
    sg_ev_report r;
    sg__evidence_verify(path, pk, 1, false, &r);
    sg__evidence_verify(path, NULL, 0, true, &r);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        sg_ev_line l;
        char *e = NULL;
        sg__evidence_parse_line(p, n, &l);
        if (sg__evidence_elide(p, n, &e) == SG_OK && !e) abort();
        sg__free(e);
        p += n + 1;
    }
    sg_policy_config c;
    char err[256];
    sg__policy_config_default(&c);
    sg__policy_config_load(&c, path, err, sizeof err);
    sg__policy_config_free(&c);
    return 0;
}
