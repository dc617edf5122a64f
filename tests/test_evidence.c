/*
 * test_evidence.c -- the evidence log (evidence.c, evidence_verify.c):
 * a log tampered with in each of the four ways (edited, removed, inserted,
 * reordered) is refused and the verdict names the first bad entry; a
 * chain rewritten with fresh hashes fails at the next signed checkpoint; a
 * checkpoint only verifies with the right public key; a torn last line is
 * reported and set aside on reopen; redaction removes a text and the
 * chain still verifies; an elided segment verifies on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence.h"
#include "sg_internal.h"

/* ---------------------------------------------------------------- files */

typedef struct lines {
    char **v;
    size_t n;
} lines;

static lines read_lines(const char *path) {
    lines L = {0};
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        L.v = realloc(L.v, (L.n + 1) * sizeof *L.v);
        L.v[L.n++] = strdup(line);
    }
    free(line);
    fclose(f);
    return L;
}

static void write_lines(const char *path, const lines *L) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < L->n; i++) fputs(L->v[i], f);
    fclose(f);
}

static void free_lines(lines *L) {
    for (size_t i = 0; i < L->n; i++) free(L->v[i]);
    free(L->v);
}

/* Index (0-based line) of the entry with this seq. */
static size_t line_of(const lines *L, uint64_t seq) {
    for (size_t i = 0; i < L->n; i++) {
        sg_ev_line l;
        if (sg__evidence_parse_line(L->v[i], strlen(L->v[i]) - 1, &l) && l.seq == seq)
            return i;
    }
    fail_msg("no entry %llu", (unsigned long long)seq);
    return 0;
}

/* ---------------------------------------------------------------- fixture */

typedef struct fixture {
    char dir[256], log[300], tampered[300], pub[300];
    unsigned char pk[32];
} fixture;

static const char *accounts[] = {"alice@example.org", "bob@example.org",
                                 "carol@example.org", "dave@example.org"};

/* A log of 30 action entries (checkpoint every 5), each with a message. */
static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sg_evidence_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->log, sizeof f->log, "%s/log.jsonl", f->dir);
    snprintf(f->tampered, sizeof f->tampered, "%s/tampered.jsonl", f->dir);
    snprintf(f->pub, sizeof f->pub, "%s/signing.pub", f->dir);
    sg_evidence_opts o = {.dir = f->dir, .checkpoint_every = 5};
    sg_evidence *ev;
    char err[256];
    assert_int_equal(sg__evidence_open(&o, &ev, NULL, err, sizeof err), SG_OK);
    for (int i = 0; i < 30; i++) {
        char text[128], id[32];
        snprintf(text, sizeof text, "hey, check http://rnicrosoft-login.com/%d now", i);
        snprintf(id, sizeof id, "m%d", i);
        sg_evidence_msg m = {.id = id, .from = accounts[i % 4], .to = accounts[(i + 1) % 4],
                             .ts_ms = 1700000000000 + i * 1000, .text = text,
                             .text_len = strlen(text)};
        sg_evidence_reason r = {"COMPROMISED_SENDER", 6.0, "new client; same campaign to 5 recipients"};
        sg_evidence_entry e = {.kind = "account_action", .ts_ms = m.ts_ms,
                               .account = m.from, .action = "lock_and_reset",
                               .message_action = "hold", .labels = {"phishing", "compromised_sender"},
                               .score = 0.99, .has_score = true, .campaign = "c0123456789ab",
                               .config_version = "policy:default", .reasons = &r, .nreasons = 1,
                               .msgs = &m, .nmsgs = 1};
        assert_int_equal(sg__evidence_append(ev, &e, NULL), SG_OK);
    }
    sg__evidence_close(ev);
    char e2[256];
    assert_int_equal(sg__evidence_read_pubkey(f->pub, f->pk, e2, sizeof e2), SG_OK);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd)) { /* best effort */ }
    free(f);
    return 0;
}

static sg_ev_report verify_file(const fixture *f, const char *path, bool with_key) {
    sg_ev_report r;
    sg__evidence_verify(path, with_key ? (const unsigned char(*)[32])f->pk : NULL,
                        with_key ? 1 : 0, false, &r);
    return r;
}

/* ---------------------------------------------------------------- tests */

static void an_untouched_log_verifies_with_its_signatures(void **state) {
    fixture *f = *state;
    sg_ev_report r = verify_file(f, f->log, true);
    assert_int_equal(r.fault, SG_EV_OK);
    /* genesis + 30 entries + a checkpoint after every 5 entries + close */
    assert_true(r.entries >= 37);
    assert_true(r.checkpoints >= 6);
    assert_int_equal(r.signatures_ok, r.checkpoints);
    assert_int_equal(r.unsigned_tail, 0);
    assert_int_equal(r.last_signed_seq, (int64_t)r.entries - 2);
}

static void an_edited_entry_is_named(void **state) {
    fixture *f = *state;
    lines L = read_lines(f->log);
    size_t i = line_of(&L, 12);
    char *p = strstr(L.v[i], "\"account\":\"");
    assert_non_null(p);
    p[11] ^= 1; /* one changed letter in the account name */
    write_lines(f->tampered, &L);
    sg_ev_report r = verify_file(f, f->tampered, true);
    assert_int_equal(r.fault, SG_EV_EDITED);
    assert_int_equal(r.bad_line, i + 1);
    assert_int_equal(r.found_seq, 12);
    assert_int_equal(r.entries, 12); /* entries 0..11 verified */
    assert_non_null(strstr(r.detail, "entry 12"));
    free_lines(&L);
}

static void a_removed_entry_is_named(void **state) {
    fixture *f = *state;
    lines L = read_lines(f->log);
    size_t i = line_of(&L, 9);
    free(L.v[i]);
    memmove(&L.v[i], &L.v[i + 1], (L.n - i - 1) * sizeof *L.v);
    L.n--;
    write_lines(f->tampered, &L);
    sg_ev_report r = verify_file(f, f->tampered, true);
    assert_int_equal(r.fault, SG_EV_REMOVED);
    assert_int_equal(r.bad_line, i + 1);
    assert_int_equal(r.expected_seq, 9);
    assert_int_equal(r.found_seq, 10);
    assert_non_null(strstr(r.detail, "entry 9 was removed"));
    free_lines(&L);
}

/* A forger who knows the format: the new line carries the right seq and
 * prev and a hash that matches its own contents. */
static char *forge_after(const lines *L, size_t i_before, uint64_t seq) {
    sg_ev_line before;
    assert_true(sg__evidence_parse_line(L->v[i_before], strlen(L->v[i_before]) - 1, &before));
    char prev[65], body[512], hex[65];
    sg__evidence_hex(before.hash, 32, prev);
    int n = snprintf(body, sizeof body,
                     "{\"seq\":%llu,\"prev\":\"%s\",\"kind\":\"account_action\",\"ts\":1,"
                     "\"account\":\"innocent@example.org\",\"action\":\"suspend\"",
                     (unsigned long long)seq, prev);
    unsigned char digest[32], h[32];
    crypto_generichash(digest, 32, (unsigned char *)body, (size_t)n, NULL, 0);
    sg__evidence_chain_hash(before.hash, digest, h);
    sg__evidence_hex(h, 32, hex);
    char *line = malloc(700);
    snprintf(line, 700, "%s,\"hash\":\"%s\"}\n", body, hex);
    return line;
}

static void an_inserted_entry_is_named(void **state) {
    fixture *f = *state;
    lines L = read_lines(f->log);
    size_t i = line_of(&L, 15);
    L.v = realloc(L.v, (L.n + 1) * sizeof *L.v);
    memmove(&L.v[i + 1], &L.v[i], (L.n - i) * sizeof *L.v);
    L.v[i] = forge_after(&L, i - 1, 15); /* a self-consistent forgery */
    L.n++;
    write_lines(f->tampered, &L);
    sg_ev_report r = verify_file(f, f->tampered, true);
    assert_int_equal(r.fault, SG_EV_INSERTED);
    assert_int_equal(r.bad_line, i + 1);
    assert_non_null(strstr(r.detail, "was inserted"));
    free_lines(&L);
}

static void a_duplicated_line_counts_as_inserted(void **state) {
    fixture *f = *state;
    lines L = read_lines(f->log);
    size_t i = line_of(&L, 20);
    L.v = realloc(L.v, (L.n + 1) * sizeof *L.v);
    memmove(&L.v[i + 1], &L.v[i], (L.n - i) * sizeof *L.v);
    L.v[i + 1] = strdup(L.v[i]); /* entry 20 twice */
    L.n++;
    write_lines(f->tampered, &L);
    sg_ev_report r = verify_file(f, f->tampered, true);
    assert_int_equal(r.fault, SG_EV_INSERTED);
    assert_int_equal(r.bad_line, i + 2);
    assert_int_equal(r.found_seq, 20);
    free_lines(&L);
}

static void reordered_entries_are_named(void **state) {
    fixture *f = *state;
    lines L = read_lines(f->log);
    size_t i = line_of(&L, 3);
    char *t = L.v[i];
    L.v[i] = L.v[i + 1];
    L.v[i + 1] = t;
    write_lines(f->tampered, &L);
    sg_ev_report r = verify_file(f, f->tampered, true);
    assert_int_equal(r.fault, SG_EV_REORDERED);
    assert_int_equal(r.bad_line, i + 1);
    assert_int_equal(r.expected_seq, 3);
    assert_int_equal(r.found_seq, 4);
    free_lines(&L);
}

/* Rewrite everything from one entry on with correct hashes: only the
 * signatures can tell. */
static void a_rewritten_chain_fails_at_the_next_checkpoint(void **state) {
    fixture *f = *state;
    lines L = read_lines(f->log);
    size_t i = line_of(&L, 8);
    free(L.v[i]);
    L.v[i] = forge_after(&L, i - 1, 8);
    unsigned char prev[32];
    sg_ev_line l;
    assert_true(sg__evidence_parse_line(L.v[i], strlen(L.v[i]) - 1, &l));
    memcpy(prev, l.hash, 32);
    size_t first_ckpt = 0;
    for (size_t k = i + 1; k < L.n; k++) { /* re-chain every later line */
        char *s = L.v[k], hex[65];
        assert_true(sg__evidence_parse_line(s, strlen(s) - 1, &l));
        if (l.checkpoint && !first_ckpt) first_ckpt = k;
        sg__evidence_hex(prev, 32, hex);
        memcpy(strstr(s, ",\"prev\":\"") + 9, hex, 64);
        assert_true(sg__evidence_parse_line(s, strlen(s) - 1, &l));
        sg__evidence_chain_hash(prev, l.digest, prev);
        sg__evidence_hex(prev, 32, hex);
        memcpy(s + strlen(s) - 1 - 2 - 64, hex, 64);
    }
    write_lines(f->tampered, &L);
    sg_ev_report r = verify_file(f, f->tampered, false);
    assert_int_equal(r.fault, SG_EV_OK); /* the chain alone looks fine */
    r = verify_file(f, f->tampered, true);
    assert_int_equal(r.fault, SG_EV_BAD_SIGNATURE);
    assert_int_equal(r.bad_line, first_ckpt + 1);
    assert_true(r.last_signed_seq < 8);
    free_lines(&L);
}

static void checkpoints_verify_only_with_the_right_public_key(void **state) {
    fixture *f = *state;
    unsigned char other[32], sk[64];
    crypto_sign_keypair(other, sk);
    sg_ev_report r;
    assert_int_equal(sg__evidence_verify(f->log, (const unsigned char(*)[32])other, 1,
                                         false, &r), SG_ECHECKSUM);
    assert_int_equal(r.fault, SG_EV_BAD_SIGNATURE);
    unsigned char both[2][32];
    memcpy(both[0], other, 32);
    memcpy(both[1], f->pk, 32);
    assert_int_equal(sg__evidence_verify(f->log, (const unsigned char(*)[32])both, 2,
                                         false, &r), SG_OK);
    assert_true(r.signatures_checked);
    assert_int_equal(r.signatures_ok, r.checkpoints);
}

static void a_torn_last_line_is_reported_then_set_aside(void **state) {
    fixture *f = *state;
    FILE *fp = fopen(f->log, "a");
    fputs("{\"seq\":99,\"prev\":\"00", fp); /* a write cut by a crash */
    fclose(fp);
    sg_ev_report r = verify_file(f, f->log, true);
    assert_int_equal(r.fault, SG_EV_TORN);
    lines L = read_lines(f->log);
    assert_int_equal(r.bad_line, L.n);
    free_lines(&L);

    sg_evidence_opts o = {.dir = f->dir, .checkpoint_every = 5};
    sg_evidence *ev;
    bool recovered = false;
    char err[256];
    assert_int_equal(sg__evidence_open(&o, &ev, &recovered, err, sizeof err), SG_OK);
    assert_true(recovered);
    sg__evidence_close(ev);
    r = verify_file(f, f->log, true);
    assert_int_equal(r.fault, SG_EV_OK);
    L = read_lines(f->log);
    bool noted = false;
    for (size_t i = 0; i < L.n; i++)
        noted |= strstr(L.v[i], "\"kind\":\"recovery\"") && strstr(L.v[i], "torn last line of 20 bytes");
    assert_true(noted);
    free_lines(&L);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "grep -q '^{\"seq\":99,\"prev\":\"00$' %s/torn-*.bin", f->dir);
    assert_int_equal(system(cmd), 0); /* the torn bytes are kept, not lost */
}

static void a_second_writer_is_refused(void **state) {
    fixture *f = *state;
    sg_evidence_opts o = {.dir = f->dir};
    sg_evidence *a, *b;
    char err[256];
    assert_int_equal(sg__evidence_open(&o, &a, NULL, err, sizeof err), SG_OK);
    assert_int_equal(sg__evidence_open(&o, &b, NULL, err, sizeof err), SG_EIO);
    assert_null(b);
    assert_non_null(strstr(err, "in use"));
    sg__evidence_close(a);
}

/* One action entry about message `id` (as the fixture writes them). */
static int append_one(sg_evidence *ev, const char *id, int64_t ts, sg_evidence_ref *ref) {
    const char *text = "hey, is this you? http://fb-watch-video.net/v";
    sg_evidence_msg m = {.id = id, .from = accounts[0], .to = accounts[1], .ts_ms = ts,
                         .text = text, .text_len = strlen(text)};
    sg_evidence_entry e = {.kind = "message_action", .ts_ms = ts, .account = m.from,
                           .message_action = "hold", .labels = {"phishing"},
                           .config_version = "policy:default", .msgs = &m, .nmsgs = 1};
    return sg__evidence_append(ev, &e, ref);
}

static size_t file_bytes(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* A group of entries (a batch whose store commit may fail) is written only
 * at its commit; an aborted group leaves the log, the texts and the chain
 * exactly as they were, so the batch judged again is logged once. */
static void a_group_is_written_at_commit_and_nothing_of_an_aborted_one(void **state) {
    fixture *f = *state;
    char texts[300], err[256];
    snprintf(texts, sizeof texts, "%s/texts.jsonl", f->dir);
    sg_evidence_opts o = {.dir = f->dir, .checkpoint_every = 5};
    sg_evidence *ev;
    assert_int_equal(sg__evidence_open(&o, &ev, NULL, err, sizeof err), SG_OK);
    uint64_t n0 = sg__evidence_count(ev);
    size_t log0 = file_bytes(f->log), texts0 = file_bytes(texts);
    char head0[SG_EV_HEX_LEN + 1];
    snprintf(head0, sizeof head0, "%s", sg__evidence_head(ev));

    assert_int_equal(sg__evidence_begin(ev), SG_OK);
    assert_int_equal(sg__evidence_begin(ev), SG_EINVAL); /* no nesting */
    for (int i = 0; i < 7; i++) /* past checkpoint_every: a checkpoint inside */
        assert_int_equal(append_one(ev, "dropped", 1800000000000 + i, NULL), SG_OK);
    assert_true(sg__evidence_count(ev) > n0 + 7);
    assert_int_equal(file_bytes(f->log), log0);     /* nothing written yet */
    sg__evidence_abort(ev);
    assert_int_equal(sg__evidence_count(ev), n0);
    assert_string_equal(sg__evidence_head(ev), head0);
    assert_int_equal(file_bytes(f->log), log0);
    assert_int_equal(file_bytes(texts), texts0);

    assert_int_equal(sg__evidence_begin(ev), SG_OK);
    sg_evidence_ref ref;
    assert_int_equal(append_one(ev, "kept", 1800000001000, &ref), SG_OK);
    assert_int_equal(ref.seq, n0);                  /* the seq it will have */
    assert_int_equal(sg__evidence_commit(ev), SG_OK);
    assert_true(file_bytes(f->log) > log0);
    assert_true(file_bytes(texts) > texts0);
    assert_int_equal(sg__evidence_commit(ev), SG_OK); /* none open: nothing */
    sg__evidence_close(ev);

    sg_ev_report r = verify_file(f, f->log, true);
    assert_int_equal(r.fault, SG_EV_OK);
    assert_int_equal(r.signatures_ok, r.checkpoints);
    lines L = read_lines(f->log);
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < L.n; i++) {
        kept += strstr(L.v[i], "\"kept\"") != NULL;
        dropped += strstr(L.v[i], "\"dropped\"") != NULL;
    }
    free_lines(&L);
    assert_int_equal(kept, 1);
    assert_int_equal(dropped, 0);
}

static void redaction_removes_the_text_and_keeps_the_chain(void **state) {
    fixture *f = *state;
    lines L = read_lines(f->log);
    const char *line = NULL;
    for (size_t i = 0; i < L.n && !line; i++)
        if (strstr(L.v[i], "\"id\":\"m4\"")) line = L.v[i];
    assert_non_null(line);
    const char *p = strstr(line, "\"text_hash\":\"");
    assert_non_null(p);
    char hash[65];
    snprintf(hash, sizeof hash, "%.64s", p + 13);
    free_lines(&L);
    char *text = NULL;
    assert_int_equal(sg__evidence_text(f->dir, hash, &text), SG_OK);
    assert_non_null(strstr(text, "rnicrosoft-login.com/4"));
    sg__free(text);
    uint64_t present, bad;
    assert_int_equal(sg__evidence_check_texts(f->dir, &present, &bad), SG_OK);
    assert_int_equal(present, 30);
    assert_int_equal(bad, 0);

    sg_evidence_opts o = {.dir = f->dir};
    sg_evidence *ev;
    char err[256];
    assert_int_equal(sg__evidence_open(&o, &ev, NULL, err, sizeof err), SG_OK);
    const char *hs[] = {hash};
    size_t removed = 0;
    assert_int_equal(sg__evidence_redact(ev, hs, 1, "GDPR erasure request 17", "op1", 0, &removed), SG_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(sg__evidence_redact(ev, hs, 1, "again", "op1", 0, &removed), SG_ENOTFOUND);
    sg__evidence_close(ev);

    assert_int_equal(sg__evidence_text(f->dir, hash, &text), SG_ENOTFOUND);
    assert_int_equal(sg__evidence_check_texts(f->dir, &present, &bad), SG_OK);
    assert_int_equal(present, 29);
    sg_ev_report r = verify_file(f, f->log, true);
    assert_int_equal(r.fault, SG_EV_OK);
    L = read_lines(f->log);
    assert_non_null(strstr(L.v[L.n - 2], "\"kind\":\"redaction\""));
    assert_non_null(strstr(L.v[L.n - 2], hash));
    free_lines(&L);
}

static void an_edited_text_beside_the_chain_is_found(void **state) {
    fixture *f = *state;
    char path[300];
    snprintf(path, sizeof path, "%s/texts.jsonl", f->dir);
    lines L = read_lines(path);
    char *p = strstr(L.v[3], "rnicrosoft");
    p[0] = 'm';
    p[1] = 'm';
    write_lines(path, &L);
    free_lines(&L);
    uint64_t present, bad;
    assert_int_equal(sg__evidence_check_texts(f->dir, &present, &bad), SG_OK);
    assert_int_equal(present, 30);
    assert_int_equal(bad, 1);
}

/* A segment with other people's entries elided still proves itself. */
static void an_elided_segment_verifies_against_its_checkpoint(void **state) {
    fixture *f = *state;
    lines L = read_lines(f->log);
    size_t a = line_of(&L, 12), b = a + 1;
    sg_ev_line l;
    while (sg__evidence_parse_line(L.v[b], strlen(L.v[b]) - 1, &l) && !l.checkpoint) b++;
    lines S = {calloc(b - a + 1, sizeof(char *)), b - a + 1};
    for (size_t k = a; k <= b; k++) {
        if (k != a && k != b) {
            char *e;
            assert_int_equal(sg__evidence_elide(L.v[k], strlen(L.v[k]) - 1, &e), SG_OK);
            S.v[k - a] = malloc(strlen(e) + 2);
            sprintf(S.v[k - a], "%s\n", e);
            sg__free(e);
        } else {
            S.v[k - a] = strdup(L.v[k]);
        }
    }
    write_lines(f->tampered, &S);
    sg_ev_report r;
    assert_int_equal(sg__evidence_verify(f->tampered, (const unsigned char(*)[32])f->pk, 1,
                                         true, &r), SG_OK);
    assert_int_equal(r.first_seq, 12);
    assert_true(r.elided >= 1);
    assert_int_equal(r.signatures_ok, 1);
    /* the same segment as a whole log is refused: it does not start at 0 */
    assert_int_equal(sg__evidence_verify(f->tampered, (const unsigned char(*)[32])f->pk, 1,
                                         false, &r), SG_ECHECKSUM);
    free_lines(&S);
    free_lines(&L);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(an_untouched_log_verifies_with_its_signatures, setup, teardown),
        cmocka_unit_test_setup_teardown(an_edited_entry_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(a_removed_entry_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(an_inserted_entry_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(a_duplicated_line_counts_as_inserted, setup, teardown),
        cmocka_unit_test_setup_teardown(reordered_entries_are_named, setup, teardown),
        cmocka_unit_test_setup_teardown(a_rewritten_chain_fails_at_the_next_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(checkpoints_verify_only_with_the_right_public_key, setup, teardown),
        cmocka_unit_test_setup_teardown(a_torn_last_line_is_reported_then_set_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(a_second_writer_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_group_is_written_at_commit_and_nothing_of_an_aborted_one, setup, teardown),
        cmocka_unit_test_setup_teardown(redaction_removes_the_text_and_keeps_the_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(an_edited_text_beside_the_chain_is_found, setup, teardown),
        cmocka_unit_test_setup_teardown(an_elided_segment_verifies_against_its_checkpoint, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
