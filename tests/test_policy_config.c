/*
 * test_policy_config.c -- the enforcement policy file (policy_config.c):
 * the defaults are the values policy.c's static tables had; a file sets
 * every kind of key; a bad line is refused with FILE:LINE and the reason
 * and leaves the defaults; an unordered ladder is refused; a reload takes
 * the reloadable keys and names the others; allowlists match accounts,
 * resources and subdomains but not look-alike suffixes; thresholds from a
 * file change verdicts through sg_check.
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

#include "policy_config.h"
#include "sg_internal.h"

static char path[256];

static void write_file(const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state) {
    snprintf(path, sizeof path, "/tmp/sg_policy_%d.conf", (int)getpid());
    return 0;
}

static int teardown(void **state) {
    unlink(path);
    return 0;
}

static void defaults_are_the_old_static_table(void **state) {
    sg_policy_config c;
    sg__policy_config_default(&c);
    assert_true(c.drop_score == 0.98 && c.hold_score == 0.90 && c.warn_score == 0.60);
    assert_true(c.spim_score == 0.60);
    assert_int_equal(c.phishing_action, SG_ACTION_HOLD);
    assert_int_equal(c.blocklisted_action, SG_ACTION_HOLD);
    assert_int_equal(c.compromised_action, SG_ACTION_HOLD);
    assert_int_equal(c.lookalike_action, SG_ACTION_WARN);
    assert_int_equal(c.max_account_action, SG_ACCOUNT_SUSPEND);
    assert_false(c.dry_run);
    assert_true(c.record_message_actions);
    assert_int_equal(c.checkpoint_every, 1000);
    assert_string_equal(c.version, "policy:default");
    sg__policy_config_free(&c);
}

static void a_file_sets_every_kind_of_key(void **state) {
    write_file("# production policy\n"
               "dry_run = yes\n"
               "hold_score = 0.85   # a bit stricter\n"
               "lookalike_action = \"hold\"\n"
               "max_account_action = lock_and_reset\n"
               "suspend_hours = 72\n"
               "allow_accounts = support@example.org, Bot@Example.org\n"
               "allow_domains = partner.example\n"
               "checkpoint_every = 50\n");
    sg_policy_config c;
    sg__policy_config_default(&c);
    char err[256];
    assert_int_equal(sg__policy_config_load(&c, path, err, sizeof err), SG_OK);
    assert_true(c.dry_run);
    assert_true(c.hold_score == 0.85);
    assert_int_equal(c.lookalike_action, SG_ACTION_HOLD);
    assert_int_equal(c.max_account_action, SG_ACCOUNT_LOCK_AND_RESET);
    assert_true(c.suspend_hours == 72);
    assert_int_equal(c.nallow_accounts, 2);
    assert_string_equal(c.allow_accounts[1], "Bot@Example.org");
    assert_int_equal(c.checkpoint_every, 50);
    assert_int_equal(strlen(c.version), 7 + 16);
    assert_memory_equal(c.version, "policy:", 7);
    sg__policy_config_free(&c);
}

static void a_bad_line_is_refused_with_its_place_and_reason(void **state) {
    sg_policy_config c;
    sg__policy_config_default(&c);
    char err[256];
    write_file("dry_run = false\nhold_score = 1.5\n");
    assert_int_equal(sg__policy_config_load(&c, path, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, ":2: hold_score: 1.5 is outside 0..1"));
    assert_true(c.hold_score == 0.90); /* defaults kept */
    write_file("phishing_action = quarantine\n");
    assert_int_equal(sg__policy_config_load(&c, path, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, ":1: phishing_action: \"quarantine\" is not one of"));
    write_file("hold_scor = 0.5\n");
    assert_int_equal(sg__policy_config_load(&c, path, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, "unknown key \"hold_scor\""));
    write_file("warn_score = 0.95\n");
    assert_int_equal(sg__policy_config_load(&c, path, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, "drop_score >= hold_score >= warn_score"));
    write_file("just words\n");
    assert_int_equal(sg__policy_config_load(&c, path, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, ":1: expected key = value"));
    sg__policy_config_free(&c);
}

static void a_reload_takes_reloadable_keys_and_names_the_others(void **state) {
    sg_policy_config live, fresh;
    sg__policy_config_default(&live);
    sg__policy_config_default(&fresh);
    char err[256], changed[256];
    write_file("dry_run = true\nallow_accounts = a@x\nevidence_dir = /somewhere/else\n"
               "checkpoint_every = 7\n");
    assert_int_equal(sg__policy_config_load(&fresh, path, err, sizeof err), SG_OK);
    assert_int_equal(sg__policy_config_apply_reload(&live, &fresh, changed, sizeof changed), SG_OK);
    assert_true(live.dry_run);
    assert_int_equal(live.nallow_accounts, 1);
    assert_string_equal(live.evidence_dir, ""); /* needs a restart */
    assert_int_equal(live.checkpoint_every, 1000);
    assert_string_equal(changed, "evidence_dir, checkpoint_every");
    sg__policy_config_free(&live);
}

static void allowlists_match_accounts_resources_and_subdomains(void **state) {
    sg_policy_config c;
    sg__policy_config_default(&c);
    char err[256];
    assert_int_equal(sg__policy_config_set(&c, "allow_accounts", "support@example.org", err, sizeof err), SG_OK);
    assert_int_equal(sg__policy_config_set(&c, "allow_domains", "partner.example", err, sizeof err), SG_OK);
    assert_true(sg__policy_allowlisted(&c, "support@example.org"));
    assert_true(sg__policy_allowlisted(&c, "SUPPORT@example.org/desktop"));
    assert_false(sg__policy_allowlisted(&c, "support@example.org.evil"));
    assert_true(sg__policy_allowlisted(&c, "bot@partner.example"));
    assert_true(sg__policy_allowlisted(&c, "bot@eu.partner.example/res"));
    assert_false(sg__policy_allowlisted(&c, "bot@evilpartner.example"));
    assert_false(sg__policy_allowlisted(&c, "partner.example"));
    sg__policy_config_free(&c);
}

static int check_action(sg_engine *eng, const char *text) {
    sg_message *m;
    sg_verdict *v;
    assert_int_equal(sg_message_new("a@x.example", "b@x.example", text, &m), SG_OK);
    assert_int_equal(sg_check(eng, m, &v), SG_OK);
    int a = sg_verdict_action(v);
    sg_verdict_free(v);
    sg_message_free(m);
    return a;
}

/* A lookalike link is warned by default; the file makes it held. */
static void thresholds_from_a_file_change_verdicts(void **state) {
    const char *text = "log in at https://rnicrosoft-online.com/verify to keep your files";
    sg_engine *eng;
    assert_int_equal(sg_engine_new(NULL, &eng), SG_OK);
    int before = check_action(eng, text);
    sg_engine_free(eng);
    write_file("lookalike_action = drop\n");
    sg_options o = {.policy_file = path};
    assert_int_equal(sg_engine_new(&o, &eng), SG_OK);
    int after = check_action(eng, text);
    sg_engine_free(eng);
    assert_true(before < SG_ACTION_DROP);
    assert_int_equal(after, SG_ACTION_DROP);
    write_file("lookalike_action = sometimes\n");
    assert_int_equal(sg_engine_new(&o, &eng), SG_EINVAL);
    assert_non_null(strstr(sg_engine_errmsg(NULL), "lookalike_action"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_the_old_static_table),
        cmocka_unit_test(a_file_sets_every_kind_of_key),
        cmocka_unit_test(a_bad_line_is_refused_with_its_place_and_reason),
        cmocka_unit_test(a_reload_takes_reloadable_keys_and_names_the_others),
        cmocka_unit_test(allowlists_match_accounts_resources_and_subdomains),
        cmocka_unit_test(thresholds_from_a_file_change_verdicts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
