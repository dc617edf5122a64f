/*
 * test_enforce.c -- the enforcement side of the engine (enforce.c) through
 * sg_check: a compromised account's lock and a spimmer's throttle and
 * suspension land in the evidence log with their reasons, message, text
 * hash, campaign and config version, and the log verifies; dry-run and the
 * allowlist record without enforcing; an appeal and a "clear" decision
 * restore a locked account, feed its messages back as ham and halve the
 * trust of the accounts that reported it; 50 fresh accounts flooding false
 * spam reports against one innocent account get it neither suspended nor
 * actioned at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "behavior.h"
#include "enforce.h"
#include "group.h"
#include "query.h"

#include "chat_fixture.h"

typedef struct fx {
    char dir[128], policy[160];
    sg_engine *eng;
} fx;

static sg_verdict *send(sg_engine *eng, const char *from, const char *to, const char *text,
                        int64_t ts, int contact, const char *client, const char *ip) {
    sg_message *m;
    assert_int_equal(sg_message_new(from, to, text, &m), SG_OK);
    sg_message_set_ts(m, ts);
    sg_message_set_contact(m, contact);
    if (client) sg_message_set_client(m, client);
    if (ip) sg_message_set_client_ip(m, ip);
    char id[32];
    static int n;
    snprintf(id, sizeof id, "t%d", ++n);
    sg_message_set_id(m, id);
    sg_verdict *v;
    assert_int_equal(sg_check(eng, m, &v), SG_OK);
    sg_message_free(m);
    return v;
}

static void send_free(sg_engine *eng, const char *from, const char *to, const char *text,
                      int64_t ts, int contact, const char *client, const char *ip) {
    sg_verdict_free(send(eng, from, to, text, ts, contact, client, ip));
}

static void open_engine(fx *f, const char *policy_text) {
    sg_options o = {.evidence_dir = f->dir};
    if (policy_text) {
        FILE *p = fopen(f->policy, "w");
        fputs(policy_text, p);
        fclose(p);
        o.policy_file = f->policy;
    }
    assert_int_equal(sg_engine_new(&o, &f->eng), SG_OK);
}

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sg_enforce_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->policy, sizeof f->policy, "%s/policy.conf", f->dir);
    strcat(f->dir, "/evidence");
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    sg_engine_free(f->eng);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)(strlen(f->dir) - 9), f->dir);
    if (system(cmd)) { /* best effort */ }
    free(f);
    return 0;
}

/* Five days of chat from alice's phone, then a takeover: the third lure
 * locks the account (test_sender.c has the same script). */
static void take_over_alice(sg_engine *eng, int64_t *t_out) {
    for (int d = 0; d < 5; d++)
        for (int k = 0; k < 6; k++)
            send_free(eng, "alice@x.example", friends[(d + k) % 4], chat[(d * 6 + k) % 6],
                      T0 + d * DAY_MS + (10 + k) * HOUR_MS, 1, "android-5.2", "81.2.69.10");
    int64_t t = T0 + 5 * DAY_MS + 3 * HOUR_MS + 10 * MIN_MS;
    static const char *lures[] = {
        "hey bob, is this you in this video?? https://faceb00k-video.com/watch?v=8812",
        "hey carol is this you in this video? https://faceb00k-video.com/watch?v=1931",
        "omg dave, is this you in this video?! https://faceb00k-video.com/watch?v=0077",
        "hey erin, is this you in this video?? https://faceb00k-video.com/watch?v=4410"};
    for (int i = 0; i < 4; i++)
        send_free(eng, "alice@x.example", friends[i], lures[i], t + i * 20000, 1, "web",
                  "185.220.101.7");
    *t_out = t + 2 * 20000; /* the third lure locks */
}

/* The log's lines of one kind for one account. */
static int grep_log(const fx *f, const char *kind, const char *account, char *first, size_t cap) {
    char path[200], *line = NULL, k[64], a[128];
    size_t lcap = 0;
    int n = 0;
    snprintf(path, sizeof path, "%s/log.jsonl", f->dir);
    snprintf(k, sizeof k, "\"kind\":\"%s\"", kind);
    snprintf(a, sizeof a, "\"account\":\"%s\"", account);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    while (getline(&line, &lcap, fp) > 0)
        if (strstr(line, k) && strstr(line, a) && n++ == 0 && first)
            snprintf(first, cap, "%s", line);
    free(line);
    fclose(fp);
    return n;
}

static void verify_ok(const fx *f) {
    char path[200], pub[200], err[128];
    unsigned char pk[32];
    snprintf(path, sizeof path, "%s/log.jsonl", f->dir);
    snprintf(pub, sizeof pub, "%s/signing.pub", f->dir);
    assert_int_equal(sg__evidence_read_pubkey(pub, pk, err, sizeof err), SG_OK);
    sg_ev_report r;
    assert_int_equal(sg__evidence_verify(path, (const unsigned char(*)[32])pk, 1, false, &r), SG_OK);
    assert_true(r.signatures_ok >= 1);
}

/* ---------------------------------------------------------------- tests */

static void a_lock_is_recorded_with_its_evidence(void **state) {
    fx *f = *state;
    open_engine(f, NULL);
    int64_t t;
    take_over_alice(f->eng, &t);
    char line[8192];
    assert_int_equal(grep_log(f, "account_action", "alice@x.example", line, sizeof line), 1);
    assert_non_null(strstr(line, "\"action\":\"lock_and_reset\""));
    assert_non_null(strstr(line, "\"message_action\":\"hold\""));
    assert_non_null(strstr(line, "\"code\":\"COMPROMISED_SENDER\""));
    assert_non_null(strstr(line, "new client 'web'"));
    assert_non_null(strstr(line, "\"to\":\"dave@x.example\""));
    assert_non_null(strstr(line, "\"urls\":[\"https://faceb00k-video.com/watch?v=0077\"]"));
    assert_non_null(strstr(line, "\"config_version\":\"policy:default\""));
    assert_non_null(strstr(line, "\"text_hash\":\""));
    /* message entries: the first two lures are held as phishing lures
     * ("is this you in this video" + a foreign link) before the lock, the
     * fourth because the account is locked */
    assert_int_equal(grep_log(f, "message_action", "alice@x.example", NULL, 0), 3);
    sg_enf_case c;
    assert_int_equal(sg__enforce_case(f->eng, "alice@x.example", t, &c), SG_OK);
    assert_int_equal(c.action, SG_ACCOUNT_LOCK_AND_RESET);
    assert_int_equal(c.since_ms, t);
    assert_int_equal(strlen(c.evidence_hash), 64);
    assert_non_null(strstr(line, c.evidence_hash));
    char text_hash[65];
    snprintf(text_hash, sizeof text_hash, "%.64s", strstr(line, "\"text_hash\":\"") + 13);
    char *text;
    assert_int_equal(sg__evidence_text(f->dir, text_hash, &text), SG_OK);
    assert_string_equal(text, "omg dave, is this you in this video?! https://faceb00k-video.com/watch?v=0077");
    sg__free(text);
    char ids[4][SG_ENFORCE_ID];
    size_t n;
    assert_int_equal(sg__enforce_list(f->eng, false, t, ids, 4, &n), SG_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "alice@x.example");
    sg_engine_free(f->eng); /* closes with a signed checkpoint */
    f->eng = NULL;
    verify_ok(f);
}

/* A spimmer's 20 messages to strangers (throttle, then suspend) inside one
 * store group that is aborted, as when another daemon's write makes a
 * batch's commit fail: no entry and no count is left; judged again one by
 * one, the two actions are logged once each. */
static void an_aborted_batch_leaves_no_evidence_and_is_logged_once_when_judged_again(void **state) {
    fx *f = *state;
    char uri[200];
    snprintf(uri, sizeof uri, "lmdb:%.*s/state", (int)(strlen(f->dir) - 9), f->dir);
    sg_options o = {.evidence_dir = f->dir, .store_uri = uri};
    assert_int_equal(sg_engine_new(&o, &f->eng), SG_OK);
    sg_message *m[20];
    for (int i = 0; i < 20; i++) {
        char to[32];
        snprintf(to, sizeof to, "victim%d@x.example", i + 1);
        assert_int_equal(sg_message_new("promo77@x.example", to, chat[(i + 1) % 6], &m[i]), SG_OK);
        sg_message_set_ts(m[i], T0 + DAY_MS + (i + 1) * 30000);
        sg_message_set_contact(m[i], 0);
    }
    sg_check_group g;
    assert_true(sg__group_worth(f->eng));
    assert_int_equal(sg__group_begin(&g, f->eng), SG_OK);
    for (int i = 0; i < 20; i++) {
        sg_verdict *v;
        assert_int_equal(sg__group_check(&g, m[i], &v), SG_OK);
        sg_verdict_free(v);
    }
    sg_enforce_stats st;
    sg__enforce_stats(f->eng, &st);
    assert_int_equal(st.account_actions, 2); /* judged, not yet committed */
    sg__group_abort(&g);
    sg__enforce_stats(f->eng, &st);
    assert_int_equal(st.account_actions, 0);
    assert_int_equal(grep_log(f, "account_action", "promo77@x.example", NULL, 0), 0);
    for (int i = 0; i < 20; i++) {
        sg_verdict *v;
        assert_int_equal(sg_check(f->eng, m[i], &v), SG_OK);
        sg_verdict_free(v);
        sg_message_free(m[i]);
    }
    sg__enforce_stats(f->eng, &st);
    assert_int_equal(st.account_actions, 2);
    assert_int_equal(grep_log(f, "account_action", "promo77@x.example", NULL, 0), 2);
    sg_engine_free(f->eng);
    f->eng = NULL;
    verify_ok(f);
}

static void a_spimmer_is_throttled_then_suspended_on_record(void **state) {
    fx *f = *state;
    open_engine(f, "suspend_hours = 48\n");
    char to[32];
    int64_t t = T0 + DAY_MS;
    for (int i = 1; i <= 20; i++) {
        snprintf(to, sizeof to, "victim%d@x.example", i);
        send_free(f->eng, "promo77@x.example", to, chat[i % 6], t + i * 30000, 0, "web", "45.83.64.10");
    }
    char line[8192];
    assert_int_equal(grep_log(f, "account_action", "promo77@x.example", line, sizeof line), 2);
    assert_non_null(strstr(line, "\"action\":\"throttle\""));
    assert_non_null(strstr(line, "SPIM_SENDER"));
    sg_enf_case c;
    assert_int_equal(sg__enforce_case(f->eng, "promo77@x.example", t + DAY_MS, &c), SG_OK);
    assert_int_equal(c.action, SG_ACCOUNT_SUSPEND);
    assert_true(c.until_ms == c.since_ms + 48 * HOUR_MS);
    sg_enforce_stats st;
    sg__enforce_stats(f->eng, &st);
    assert_int_equal(st.account_actions, 2);
    assert_int_equal(st.failures, 0);
}

static void dry_run_records_without_enforcing(void **state) {
    fx *f = *state;
    open_engine(f, "dry_run = true\n");
    char to[32];
    int suspended_verdicts = 0, dry_reasons = 0;
    for (int i = 1; i <= 20; i++) {
        snprintf(to, sizeof to, "victim%d@x.example", i);
        sg_verdict *v = send(f->eng, "promo77@x.example", to, chat[i % 6], T0 + i * 30000, 0,
                             "web", "45.83.64.10");
        suspended_verdicts += sg_verdict_account_action(v) != SG_ACCOUNT_NONE;
        assert_int_equal(sg_verdict_action(v), SG_ACTION_DELIVER);
        for (size_t k = 0; k < sg_verdict_reason_count(v); k++)
            dry_reasons += !strcmp(sg_verdict_reason(v, k)->code, "DRY_RUN");
        sg_verdict_free(v);
    }
    assert_int_equal(suspended_verdicts, 0);
    assert_true(dry_reasons >= 10);
    char line[8192];
    assert_int_equal(grep_log(f, "account_action", "promo77@x.example", line, sizeof line), 2);
    assert_non_null(strstr(line, "\"dry_run\":true"));
    sg_enf_case c;
    assert_int_equal(sg__enforce_case(f->eng, "promo77@x.example", T0 + DAY_MS, &c), SG_OK);
    assert_true(c.dry_run);
}

static void an_allowlisted_account_is_never_actioned(void **state) {
    fx *f = *state;
    open_engine(f, "allow_domains = x.example\n");
    char to[32];
    for (int i = 1; i <= 20; i++) {
        snprintf(to, sizeof to, "victim%d@y.example", i);
        sg_verdict *v = send(f->eng, "news@x.example", to, chat[i % 6], T0 + i * 30000, 0,
                             "web", "45.83.64.10");
        assert_int_equal(sg_verdict_account_action(v), SG_ACCOUNT_NONE);
        assert_true(sg_verdict_action(v) <= SG_ACTION_WARN);
        sg_verdict_free(v);
    }
    char line[8192];
    assert_true(grep_log(f, "account_action", "news@x.example", line, sizeof line) >= 1);
    assert_non_null(strstr(line, "\"note\":\"allowlisted: not enforced\""));
    sg_enf_case c;
    assert_int_equal(sg__enforce_case(f->eng, "news@x.example", T0 + DAY_MS, &c), SG_ENOTFOUND);
    sg_enforce_stats st;
    sg__enforce_stats(f->eng, &st);
    assert_true(st.allowlisted >= 10);
}

/* Appeal, then the operator clears: the account is unlocked, its held
 * messages become ham for the model, and whoever reported it as spam loses
 * half its trust. */
static void clearing_an_appeal_restores_learns_and_lowers_reporter_trust(void **state) {
    fx *f = *state;
    open_engine(f, NULL);
    int64_t t;
    take_over_alice(f->eng, &t);
    const char *reporters[] = {"bob@x.example", "carol@x.example", "mallory@x.example"};
    for (int i = 0; i < 3; i++) sg__enforce_note_report(f->eng, reporters[i], "alice@x.example", 1, t);
    sg__enforce_note_report(f->eng, "erin@x.example", "alice@x.example", 0, t);
    sg_message *m;
    sg_message_new("alice@x.example", "dave@x.example",
                   "omg dave, is this you in this video?! https://faceb00k-video.com/watch?v=0077", &m);
    double before, after;
    assert_int_equal(sg_content_score(f->eng, m, &before), SG_OK);

    assert_int_equal(sg__enforce_appeal(f->eng, "bob@x.example", "not me", t, NULL), SG_ENOTFOUND);
    sg_enf_case c;
    assert_int_equal(sg__enforce_appeal(f->eng, "alice@x.example", "It was me, sharing a video!",
                                        t + HOUR_MS, &c), SG_OK);
    assert_int_equal(c.appeal, SG_APPEAL_OPEN);
    char ids[4][SG_ENFORCE_ID];
    size_t n;
    assert_int_equal(sg__enforce_list(f->eng, true, t + HOUR_MS, ids, 4, &n), SG_OK);
    assert_int_equal(n, 1);

    sg_enf_decision d;
    assert_int_equal(sg__enforce_decide(f->eng, "alice@x.example", true, "op-kim",
                                        "owner confirmed by phone", t + 2 * HOUR_MS, &d), SG_OK);
    assert_int_equal(d.after.action, SG_ACCOUNT_NONE);
    assert_int_equal(d.after.appeal, SG_APPEAL_CLEARED);
    assert_true(d.status_restored);
    assert_int_equal(d.learned_ham, 4); /* the two lures held as phishing, the
                                           locking one and the one held after */
    assert_int_equal(d.reporters_penalized, 3);
    sg_acct_view av;
    assert_int_equal(sg__sender_view(f->eng, "alice@x.example", t + 2 * HOUR_MS, &av), SG_OK);
    assert_int_equal(av.status, SG_ACCT_OK);
    assert_true(sg__enforce_reporter_trust(f->eng, "mallory@x.example", t + 3 * HOUR_MS) == 0.5);
    assert_true(sg__enforce_reporter_trust(f->eng, "erin@x.example", t + 3 * HOUR_MS) == 1.0);
    assert_int_equal(sg_content_score(f->eng, m, &after), SG_OK);
    assert_true(after < before);
    sg_message_free(m);
    assert_int_equal(sg__enforce_list(f->eng, true, t + 3 * HOUR_MS, ids, 4, &n), SG_OK);
    assert_int_equal(n, 0);
    char line[8192];
    assert_int_equal(grep_log(f, "appeal", "alice@x.example", line, sizeof line), 1);
    assert_non_null(strstr(line, "It was me, sharing a video!"));
    assert_int_equal(grep_log(f, "decision", "alice@x.example", line, sizeof line), 1);
    assert_non_null(strstr(line, "\"action\":\"clear\""));
    assert_non_null(strstr(line, "\"actor\":\"op-kim\""));
    assert_non_null(strstr(line, "4 messages learned as ham, trust lowered for 3 reporters"));
    sg_engine_free(f->eng);
    f->eng = NULL;
    verify_ok(f);
}

/* 50 accounts created for the purpose report an innocent account as spam,
 * each through the report ledger; the account goes on chatting and is
 * neither suspended nor actioned, and nothing of it enters the log. */
static void a_flood_of_false_reports_suspends_no_one(void **state) {
    fx *f = *state;
    open_engine(f, NULL);
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < 6; k++)
            send_free(f->eng, "victim@x.example", friends[k % 4], chat[k], T0 + d * DAY_MS + (9 + k) * HOUR_MS,
                      1, "ios-5.1", "81.2.69.20");
    int64_t t = T0 + 3 * DAY_MS + 12 * HOUR_MS;
    sg_report_limits lim;
    sg__report_limits_default(&lim);
    for (int i = 0; i < 50; i++) {
        char reporter[64], text[128];
        snprintf(reporter, sizeof reporter, "fresh%02d@throwaway.example", i);
        snprintf(text, sizeof text, "%s", chat[i % 6]);
        sg_report r = {.reporter = reporter, .account = "victim@x.example", .text = text,
                       .text_len = strlen(text), .is_spam = 1, .reporter_received = false};
        sg_report_result res;
        assert_int_equal(sg__report_take(f->eng, &lim, &r, t + i * 1000, &res), SG_OK);
        assert_false(res.learn); /* they never received it: nothing is learned */
        sg__enforce_note_report(f->eng, reporter, "victim@x.example", 1, t + i * 1000);
    }
    sg_report_tally tally;
    assert_int_equal(sg__report_tally(f->eng, "victim@x.example", false, t + HOUR_MS, &tally), SG_OK);
    assert_int_equal(tally.spam, 50);
    for (int k = 0; k < 12; k++) {
        sg_verdict *v = send(f->eng, "victim@x.example", friends[k % 4], chat[k % 6],
                             t + HOUR_MS + k * 10 * MIN_MS, 1, "ios-5.1", "81.2.69.20");
        assert_int_equal(sg_verdict_account_action(v), SG_ACCOUNT_NONE);
        assert_int_equal(sg_verdict_action(v), SG_ACTION_DELIVER);
        sg_verdict_free(v);
    }
    sg_acct_view av;
    assert_int_equal(sg__sender_view(f->eng, "victim@x.example", t + 4 * HOUR_MS, &av), SG_OK);
    assert_int_equal(av.status, SG_ACCT_OK);
    sg_enf_case c;
    assert_int_equal(sg__enforce_case(f->eng, "victim@x.example", t + 4 * HOUR_MS, &c), SG_ENOTFOUND);
    assert_int_equal(grep_log(f, "account_action", "victim@x.example", NULL, 0), 0);
    assert_int_equal(grep_log(f, "message_action", "victim@x.example", NULL, 0), 0);
    sg_enf_report rec[8];
    assert_int_equal(sg__enforce_recent_reports(f->eng, rec, 8), 8);
    assert_string_equal(rec[0].reporter, "fresh49@throwaway.example");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_lock_is_recorded_with_its_evidence, setup, teardown),
        cmocka_unit_test_setup_teardown(a_spimmer_is_throttled_then_suspended_on_record, setup, teardown),
        cmocka_unit_test_setup_teardown(dry_run_records_without_enforcing, setup, teardown),
        cmocka_unit_test_setup_teardown(an_allowlisted_account_is_never_actioned, setup, teardown),
        cmocka_unit_test_setup_teardown(clearing_an_appeal_restores_learns_and_lowers_reporter_trust, setup, teardown),
        cmocka_unit_test_setup_teardown(a_flood_of_false_reports_suspends_no_one, setup, teardown),
        cmocka_unit_test_setup_teardown(an_aborted_batch_leaves_no_evidence_and_is_logged_once_when_judged_again, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
