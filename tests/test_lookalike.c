/*
 * test_lookalike.c -- judging links (lookalike.c, domain.c, lists.c,
 * phish.c): every match kind (skeleton, visual, edit, token, blocklist)
 * with its negative controls (the brand's own domain and subdomains, words
 * that contain a brand, bit.ly itself, bücher.de, президент.рф), IP /
 * script / punycode findings, list files in plain, hosts and CSV form with
 * reload, the credential-lure rule, and the score and action a whole
 * message gets from the engine.
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

#include "urls.h"

static sg_urls *st; /* shipped lists */

static int setup(void **state) {
    char err[256];
    return sg__urls_new(NULL, NULL, &st, err, sizeof err);
}

static int teardown(void **state) {
    sg__urls_free(st);
    return 0;
}

/* Findings of the first URL in text with state s, as
 * "KIND/match/brand; ..." (match and brand "-" when absent). */
static const char *judged_by(const sg_urls *s, const char *text) {
    static char buf[1024];
    sg_urlset set;
    assert_int_equal(sg__urls_extract(s, text, strlen(text), &set), SG_OK);
    buf[0] = '\0';
    if (!set.n) return "no url";
    sg_urlfinding f[8];
    size_t n = sg__urls_judge(s, &set.v[0], f, 8);
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s/%s/%s",
                 i ? "; " : "", sg__find_code(f[i].kind),
                 f[i].match ? sg__match_name(f[i].match) : "-",
                 f[i].brand ? f[i].brand : "-");
    sg__urlset_clear(&set);
    return buf;
}

static const char *judged(const char *text) { return judged_by(st, text); }

static void skeleton_matches_catch_homoglyphs(void **state) {
    /* Cyrillic р а у in "раураl" */
    assert_string_equal(judged("раураl.com"),
                        "MIXED_SCRIPT_HOST/-/-; LOOKALIKE_DOMAIN/skeleton/paypal.com");
    assert_string_equal(judged("https://xn--pple-43d.com/id"),
                        "PUNYCODE_HOST/-/-; MIXED_SCRIPT_HOST/-/-; "
                        "LOOKALIKE_DOMAIN/skeleton/apple.com");
    /* short brands match by equal skeleton only: Cyrillic о in aоl */
    assert_string_equal(judged("http://a\xd0\xbel.com/"),
                        "MIXED_SCRIPT_HOST/-/-; LOOKALIKE_DOMAIN/skeleton/aol.com");
    assert_string_equal(judged("a0l.com"), "");
}

static void visual_swaps_are_named(void **state) {
    assert_string_equal(judged("https://rnicrosoft-live.com/login"),
                        "LOOKALIKE_DOMAIN/visual/microsoft.com");
    assert_string_equal(judged("micros0ft.com"), "LOOKALIKE_DOMAIN/visual/microsoft.com");
    assert_string_equal(judged("goog1e.com"), "LOOKALIKE_DOMAIN/visual/google.com");
    assert_string_equal(judged("vvhatsapp.com"), "LOOKALIKE_DOMAIN/visual/whatsapp.com");
    assert_string_equal(judged("lnstagram.com"), "LOOKALIKE_DOMAIN/visual/instagram.com");
    sg_urlset set;
    sg_urlfinding f[4];
    sg__urls_extract(st, "rnicrosoft.com", 14, &set);
    assert_int_equal(sg__urls_judge(st, &set.v[0], f, 4), 1);
    assert_string_equal(f[0].detail, "rnicrosoft.com looks like microsoft.com (rn→m)");
    sg__urlset_clear(&set);
    sg__urls_extract(st, "micosoft.com", 12, &set);
    assert_int_equal(sg__urls_judge(st, &set.v[0], f, 4), 1);
    assert_string_equal(f[0].detail, "micosoft.com looks like microsoft.com (edit distance 1: \"micosoft\")");
    sg__urlset_clear(&set);
}

static void one_edit_catches_typosquats_of_long_labels(void **state) {
    assert_string_equal(judged("micosoft.com"), "LOOKALIKE_DOMAIN/edit/microsoft.com");
    assert_string_equal(judged("instagarm.com"), "LOOKALIKE_DOMAIN/edit/instagram.com");
    assert_string_equal(judged("netflixx.com"), "LOOKALIKE_DOMAIN/edit/netflix.com");
    assert_string_equal(judged("amazn.com"), "LOOKALIKE_DOMAIN/edit/amazon.com");
    /* all-Cyrillic аррӏе: skeleton appie, i->l away from apple */
    assert_string_equal(judged("аррӏе.com"),
                        "MIXED_SCRIPT_HOST/-/-; LOOKALIKE_DOMAIN/visual/apple.com");
    /* two edits, labels under 5, another first letter: no */
    assert_string_equal(judged("micrsft.com"), "");
    assert_string_equal(judged("vibe.com"), "");
    assert_string_equal(judged("pcloud.com"), "");
    /* a typo in a subdomain only for long brands or before a suffix */
    assert_string_equal(judged("webchat.freenode.net"), "");
    assert_string_equal(judged("http://amaozn.co.jp.evil.example/"),
                        "BRAND_IN_SUBDOMAIN/edit/amazon.com");
}

static void brand_tokens_in_subdomains_and_registrable_labels(void **state) {
    assert_string_equal(judged("http://microsoft.com.verify-account.example/"),
                        "BRAND_IN_SUBDOMAIN/token/microsoft.com");
    assert_string_equal(judged("login-live-support.com"), "LOOKALIKE_DOMAIN/token/live.com");
    assert_string_equal(judged("paypal-secure.example.com/x"),
                        "BRAND_IN_SUBDOMAIN/token/paypal.com");
    assert_string_equal(judged("paypalsecure.com"), "LOOKALIKE_DOMAIN/token/paypal.com");
    assert_string_equal(judged("paypal2024-login.com"), "LOOKALIKE_DOMAIN/token/paypal.com");
    assert_string_equal(judged("http://hsbc.co.uk.cauthsb.example/"),
                        "BRAND_IN_SUBDOMAIN/token/hsbc.com");
    assert_string_equal(judged("http://ebay.com-itm-1234.evil.example/"),
                        "BRAND_IN_SUBDOMAIN/token/ebay.com");
    /* the brand name on a shared hosting domain is not the brand's */
    assert_string_equal(judged("paypal.github.io"), "LOOKALIKE_DOMAIN/token/paypal.com");
    /* short brands need a lure word beside them */
    assert_string_equal(judged("live-score.com"), "");
    assert_string_equal(judged("office365-verify.com"), "LOOKALIKE_DOMAIN/token/office365.com");
    assert_string_equal(judged("fb-help-center.example.com"), "BRAND_IN_SUBDOMAIN/token/fb.com");
    /* messenger-worm bait on a 2-letter brand: "is this you in this video?" */
    assert_string_equal(judged("http://fb-watch-video.net/v?id=1"), "LOOKALIKE_DOMAIN/token/fb.com");
    assert_string_equal(judged("watch-fb-video.com"), "LOOKALIKE_DOMAIN/token/fb.com");
    /* ... but not glued (xvideos: x.com), nor a 1-letter brand beside it */
    assert_string_equal(judged("xvideos.com"), "");
    assert_string_equal(judged("x-video.com"), "");
}

static void a_brands_own_domains_are_never_lookalikes(void **state) {
    const char *own[] = {"microsoft.com", "https://login.microsoftonline.com/x",
                         "mail.google.com", "google.de", "www.google.co.uk",
                         "https://www.paypal.com/signin", "account.live.com",
                         "aka.ms/xyz", "youtube-nocookie.com", NULL};
    for (int i = 0; own[i]; i++) assert_string_equal(judged(own[i]), "");
}

static void words_that_contain_a_brand_are_not_lookalikes(void **state) {
    const char *words[] = {"pineapple.com", "applebees.com", "deliver.com",
                           "snapple.com", "googleplex.example.org", "x.org",
                           "x.ai", NULL};
    for (int i = 0; words[i]; i++) assert_string_equal(judged(words[i]), "");
}

static void legitimate_idns_get_no_finding(void **state) {
    assert_string_equal(judged("bücher.de"), "");
    assert_string_equal(judged("президент.рф"), "");
    assert_string_equal(judged("münchen.de/stadt"), "");
    /* an all-Cyrillic label that reads as Latin under a Latin TLD */
    assert_string_equal(judged("сосо.com"), "MIXED_SCRIPT_HOST/-/-");
}

static void shorteners_and_ip_hosts(void **state) {
    assert_string_equal(judged("bit.ly/3abc"), "SHORTENER/-/-");
    assert_string_equal(judged("https://bit.ly"), "SHORTENER/-/-");
    assert_string_equal(judged("http://45.33.12.7/paypal"), "IP_URL/-/-");
    assert_string_equal(judged("http://192.168.1.1/admin"), "");
    assert_string_equal(judged("http://[::1]/"), "");
    assert_true(sg__domain_ip_private("100.64.0.1"));
    assert_false(sg__domain_ip_private("8.8.8.8"));
}

static void distance_is_damerau_levenshtein_by_code_point(void **state) {
    assert_int_equal(sg__lookalike_distance("ab", 2, "ba", 2, 3), 1);
    assert_int_equal(sg__lookalike_distance("kitten", 6, "sitting", 7, 5), 3);
    assert_int_equal(sg__lookalike_distance("kitten", 6, "sitting", 7, 1), 2);
    assert_int_equal(sg__lookalike_distance("аррӏе", strlen("аррӏе"), "appie", 5, 9), 5);
    assert_int_equal(sg__lookalike_distance("", 0, "abc", 3, 9), 3);
}

/* ---------------------------------------------------------------- lists */

static char dir[64];

static const char *write_file(const char *name, const char *body) {
    static char path[4][128];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 128, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(body, f);
    fclose(f);
    return p;
}

static void list_files_in_plain_hosts_and_csv_form(void **state) {
    strcpy(dir, "/tmp/sg_test_lookalike_XXXXXX");
    assert_non_null(mkdtemp(dir));
    const char *block = write_file("block.txt",
        "# plain\nevil-one.example.com\n"
        "0.0.0.0 evil-two.example.net # hosts file\n"
        "127.0.0.1 localhost\n"
        "||evil-three.example.org^\n"
        "http://203.0.113.5/drop/x.exe\n");
    const char *csv = write_file("feed.csv",
        "id,dateadded,url,url_status,tags\n"
        "1,2024-01-01,\"http://bad-four.example.com/a.php\",online,\"elf,mirai\"\n"
        "2,2024-01-01,https://bad-five.example.com/,offline,x\n");
    sg_listfiles lf = {NULL, NULL, block};
    sg_urls *s;
    char err[256];
    assert_int_equal(sg__urls_new(NULL, &lf, &s, err, sizeof err), SG_OK);
    assert_string_equal(judged_by(s, "http://www.evil-one.example.com/x"),
                        "BLOCKLISTED_URL/blocklist/-");
    assert_string_equal(judged_by(s, "evil-two.example.net"), "BLOCKLISTED_URL/blocklist/-");
    assert_string_equal(judged_by(s, "a.evil-three.example.org/"), "BLOCKLISTED_URL/blocklist/-");
    assert_string_equal(judged_by(s, "http://203.0.113.5/drop/x.exe"),
                        "BLOCKLISTED_URL/blocklist/-; IP_URL/-/-");
    assert_string_equal(judged_by(s, "http://203.0.113.5/other"), "IP_URL/-/-");
    assert_string_equal(judged_by(s, "example.net"), "");
    sg__urls_free(s);
    lf.blocklist = csv;
    assert_int_equal(sg__urls_new(NULL, &lf, &s, err, sizeof err), SG_OK);
    assert_string_equal(judged_by(s, "http://bad-four.example.com/a.php"),
                        "BLOCKLISTED_URL/blocklist/-");
    assert_string_equal(judged_by(s, "http://bad-four.example.com/b.php"), "");
    assert_string_equal(judged_by(s, "bad-five.example.com/zzz"), "BLOCKLISTED_URL/blocklist/-");
    assert_string_equal(judged_by(s, "mirai.example.com"), ""); /* not a tag */
    sg__urls_free(s);
}

static void lists_reload_without_a_restart(void **state) {
    const char *block = write_file("reload.txt", "first.example.com\n");
    const char *brands = write_file("brands.txt", "# ours\nchatnet.org chatnet.*\n");
    const char *allow = write_file("allow.txt", "chatnett.com\n");
    sg_listfiles lf = {brands, allow, block};
    sg_urls *s;
    char err[256];
    assert_int_equal(sg__urls_new(NULL, &lf, &s, err, sizeof err), SG_OK);
    assert_string_equal(judged_by(s, "first.example.com"), "BLOCKLISTED_URL/blocklist/-");
    assert_string_equal(judged_by(s, "second.example.com"), "");
    /* --brands replaces the shipped brands; --allow adds */
    assert_string_equal(judged_by(s, "rnicrosoft.com"), "");
    assert_string_equal(judged_by(s, "https://chatnet-login.example.com/"),
                        "BRAND_IN_SUBDOMAIN/token/chatnet.org");
    assert_string_equal(judged_by(s, "chatnett.org"), "LOOKALIKE_DOMAIN/edit/chatnet.org");
    assert_string_equal(judged_by(s, "chatnet.de"), "");    /* chatnet.* */
    assert_string_equal(judged_by(s, "chatnett.com"), "");  /* allow-listed */
    write_file("reload.txt", "second.example.com\n");
    assert_int_equal(sg__urls_reload(s, err, sizeof err), SG_OK);
    assert_string_equal(judged_by(s, "first.example.com"), "");
    assert_string_equal(judged_by(s, "second.example.com"), "BLOCKLISTED_URL/blocklist/-");
    /* a failed reload keeps the lists in use */
    unlink(block);
    assert_int_equal(sg__urls_reload(s, err, sizeof err), SG_EIO);
    assert_non_null(strstr(err, "reload.txt"));
    assert_string_equal(judged_by(s, "second.example.com"), "BLOCKLISTED_URL/blocklist/-");
    sg__urls_free(s);
    /* a brands file without any domain is refused */
    lf = (sg_listfiles){write_file("empty.txt", "# nothing\n"), NULL, NULL};
    assert_int_equal(sg__urls_new(NULL, &lf, &s, err, sizeof err), SG_EFORMAT);
    lf = (sg_listfiles){"/nonexistent/brands.txt", NULL, NULL};
    assert_int_equal(sg__urls_new(NULL, &lf, &s, err, sizeof err), SG_EIO);
    unlink(brands);
    unlink(allow);
    unlink(write_file("empty.txt", ""));
    unlink(write_file("block.txt", ""));
    unlink(write_file("feed.csv", ""));
    rmdir(dir);
}

/* ---------------------------------------------------------------- lures */

static const char *lure(const char *text) {
    static char phrase[96];
    sg_urlset set;
    sg__urls_extract(st, text, strlen(text), &set);
    size_t which;
    bool named;
    bool hit = sg__urls_lure(st, text, strlen(text), &set, &which, &named,
                             phrase, sizeof phrase);
    sg__urlset_clear(&set);
    return hit ? phrase : "";
}

static void lures_with_a_foreign_link_are_phishing(void **state) {
    assert_string_equal(lure("Microsoft security team here. Open https://account-check.example/x"),
                        "security team");
    assert_string_equal(lure("please verify your account at evil-site.com/login"),
                        "verify your account");
    assert_string_equal(lure("Your PayPal account has been limited: secure-pp.com"),
                        "Your PayPal account has been limited");
    assert_string_equal(lure("enter the 6-digit code at http://203.0.113.9/"),
                        "enter the 6-digit code");
    assert_string_equal(lure("Подтвердите аккаунт: vk-help.ru"), "Подтвердите аккаунт");
    /* the brand named is PayPal, the link is Microsoft's: still foreign */
    assert_string_equal(lure("PayPal: confirm your identity at https://login.live.com/"),
                        "confirm your identity");
}

static void lures_linking_to_the_brand_itself_are_not(void **state) {
    assert_string_equal(lure("verify your account at https://account.microsoft.com"), "");
    assert_string_equal(lure("Your PayPal account is limited, see https://www.paypal.com/"), "");
    assert_string_equal(lure("support team meeting notes: https://example.com/notes"),
                        "support team"); /* a lure phrase with a foreign link */
    assert_string_equal(lure("see https://wiki.ubuntu.com/MactelSupportTeam/Pages"), "");
    assert_string_equal(lure("verify your account please"), ""); /* no link */
}

/* ---------------------------------------------------------------- engine */

static sg_verdict *check(sg_engine *eng, const char *text) {
    sg_message *m;
    sg_verdict *v;
    assert_int_equal(sg_message_new("a@x", "b@x", text, &m), SG_OK);
    assert_int_equal(sg_check(eng, m, &v), SG_OK);
    sg_message_free(m);
    return v;
}

static bool has_reason(const sg_verdict *v, const char *code) {
    for (size_t i = 0; i < sg_verdict_reason_count(v); i++)
        if (!strcmp(sg_verdict_reason(v, i)->code, code)) return true;
    return false;
}

static void the_engine_scores_lookalikes_and_lures(void **state) {
    sg_engine *eng;
    assert_int_equal(sg_engine_new(NULL, &eng), SG_OK); /* zero model */
    sg_verdict *v = check(eng, "look https://rnicrosoft.com/x");
    assert_true(sg_verdict_score(v) > 0.9);
    assert_true(sg_verdict_labels(v) & SG_LABEL_LOOKALIKE_URL);
    assert_false(sg_verdict_labels(v) & SG_LABEL_PHISHING);
    assert_true(sg_verdict_action(v) >= SG_ACTION_WARN);
    assert_true(has_reason(v, "LOOKALIKE_DOMAIN"));
    sg_verdict_free(v);
    v = check(eng, "Security team: verify your account at https://acc-check.example.net/x");
    assert_true(sg_verdict_score(v) > 0.97);
    assert_true(sg_verdict_labels(v) & SG_LABEL_PHISHING);
    assert_int_equal(sg_verdict_action(v) >= SG_ACTION_HOLD, 1);
    assert_true(has_reason(v, "CREDENTIAL_LURE"));
    sg_verdict_free(v);
    v = check(eng, "lunch at noon? menu on https://example.com/menu");
    assert_int_equal(sg_verdict_labels(v) & (SG_LABEL_PHISHING | SG_LABEL_LOOKALIKE_URL |
                                             SG_LABEL_BLOCKLISTED_URL), 0);
    assert_false(has_reason(v, "SHORTENER"));
    sg_verdict_free(v);
    v = check(eng, "bit.ly/abc bit.ly/def tinyurl.com/x"); /* one signal per kind */
    size_t shorteners = 0;
    for (size_t i = 0; i < sg_verdict_reason_count(v); i++)
        shorteners += !strcmp(sg_verdict_reason(v, i)->code, "SHORTENER");
    assert_int_equal(shorteners, 1);
    assert_true(sg_verdict_score(v) < 0.7);
    sg_verdict_free(v);
    sg_engine_free(eng);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(skeleton_matches_catch_homoglyphs),
        cmocka_unit_test(visual_swaps_are_named),
        cmocka_unit_test(one_edit_catches_typosquats_of_long_labels),
        cmocka_unit_test(brand_tokens_in_subdomains_and_registrable_labels),
        cmocka_unit_test(a_brands_own_domains_are_never_lookalikes),
        cmocka_unit_test(words_that_contain_a_brand_are_not_lookalikes),
        cmocka_unit_test(legitimate_idns_get_no_finding),
        cmocka_unit_test(shorteners_and_ip_hosts),
        cmocka_unit_test(distance_is_damerau_levenshtein_by_code_point),
        cmocka_unit_test(list_files_in_plain_hosts_and_csv_form),
        cmocka_unit_test(lists_reload_without_a_restart),
        cmocka_unit_test(lures_with_a_foreign_link_are_phishing),
        cmocka_unit_test(lures_linking_to_the_brand_itself_are_not),
        cmocka_unit_test(the_engine_scores_lookalikes_and_lures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
