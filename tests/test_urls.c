/*
 * test_urls.c -- URL extraction from free chat text (urls.c): every rule of
 * issue 3 on real tricky inputs, each with its negative controls, plus the
 * pathological inputs (1 MB of "a.a.a...", a URL followed by 10,000 commas,
 * invalid UTF-8) and the per-message cache sg__ctx_urls().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urls.h"

static sg_urls *st; /* shipped lists, no engine */

static int setup(void **state) {
    char err[256];
    return sg__urls_new(NULL, NULL, &st, err, sizeof err);
}

static int teardown(void **state) {
    sg__urls_free(st);
    return 0;
}

/* The URLs found in text, joined with " | ". */
static const char *found(const char *text, sg_urlset *keep) {
    static char buf[4096];
    sg_urlset s;
    assert_int_equal(sg__urls_extract(st, text, strlen(text), &s), SG_OK);
    buf[0] = '\0';
    for (size_t i = 0; i < s.n; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s",
                 i ? " | " : "", s.v[i].url);
    if (keep) *keep = s;
    else sg__urlset_clear(&s);
    return buf;
}

static void scheme_urls_keep_path_query_and_fragment(void **state) {
    assert_string_equal(found("see https://example.com/a/b?q=1&r=2#top now", NULL),
                        "https://example.com/a/b?q=1&r=2#top");
    assert_string_equal(found("FTP://Files.Example.org/pub", NULL), "FTP://Files.Example.org/pub");
    sg_urlset s;
    found("HTTPS://WWW.Example.COM/X", &s);
    assert_string_equal(s.v[0].host, "www.example.com");
    assert_string_equal(s.v[0].registrable, "example.com");
    assert_int_equal(s.v[0].flags & SG_URL_NO_SCHEME, 0);
    sg__urlset_clear(&s);
    /* unknown schemes and a scheme glued to a word are not URLs */
    assert_string_equal(found("javascript:alert(1) xhttp://", NULL), "");
}

static void hosts_without_scheme_need_a_known_tld(void **state) {
    sg_urlset s;
    assert_string_equal(found("go to example.com/x or www.example.org", &s),
                        "example.com/x | www.example.org");
    assert_true(s.v[0].flags & SG_URL_NO_SCHEME);
    sg__urlset_clear(&s);
    assert_string_equal(found("bbc.co.uk and google.co.za and allegro.pl", NULL),
                        "bbc.co.uk | google.co.za | allegro.pl");
    /* unknown TLD, numeric TLD, file names, abbreviations, versions */
    assert_string_equal(found("foo.notatld image.jpg report.pdf setup.py e.g. i.e. v1.2.3 3.14", NULL), "");
    /* with a scheme any TLD goes (RFC 2606 .example) */
    assert_string_equal(found("http://evil.example/x", NULL), "http://evil.example/x");
}

static void invalid_hosts_are_not_extracted(void **state) {
    assert_string_equal(found("-example.com", NULL), "");
    assert_string_equal(found("1.2.3.400/x", NULL), "");
    assert_string_equal(found("http://example.co_m/ exa_mple.com", NULL), "");
    /* '_' below the TLD is accepted after a scheme, as browsers do */
    assert_string_equal(found("http://att_sign_in.example.com/", NULL),
                        "http://att_sign_in.example.com/");
    assert_string_equal(found("a..b.com", NULL), "b.com");
    char lab[80];
    memset(lab, 'a', 64);
    strcpy(lab + 64, ".com");            /* a 64-byte label */
    assert_string_equal(found(lab, NULL), "");
    lab[1] = '\0';
}

static void ipv4_hosts_need_a_scheme_port_or_path(void **state) {
    sg_urlset s;
    assert_string_equal(found("http://45.33.12.7/paypal 45.33.12.8/login 45.33.12.9:8080", &s),
                        "http://45.33.12.7/paypal | 45.33.12.8/login | 45.33.12.9:8080");
    assert_true(s.v[0].flags & SG_URL_IP);
    assert_null(s.v[0].registrable);
    sg__urlset_clear(&s);
    assert_string_equal(found("my ip is 45.33.12.7, ping 10.0.0.1", NULL), "");
    found("http://3232235777/x", &s); /* dotless decimal, as browsers read it */
    assert_string_equal(s.v[0].host, "192.168.1.1");
    sg__urlset_clear(&s);
    found("http://[2001:db8::1]:8080/x", &s);
    assert_string_equal(s.v[0].host, "2001:db8::1");
    assert_true(s.v[0].flags & SG_URL_IP);
    sg__urlset_clear(&s);
}

static void ports_are_kept_and_colons_after_hosts_are_not(void **state) {
    assert_string_equal(found("example.com:8080/a", NULL), "example.com:8080/a");
    assert_string_equal(found("example.com: great site", NULL), "example.com");
    assert_string_equal(found("example.com:80abc", NULL), "example.com");
}

static void user_info_tricks_give_the_real_host(void **state) {
    sg_urlset s;
    found("https://microsoft.com@evil.example/", &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.v[0].url, "https://microsoft.com@evil.example/");
    assert_string_equal(s.v[0].host, "evil.example");
    assert_true(s.v[0].flags & SG_URL_USERINFO);
    sg__urlset_clear(&s);
    found("https://www.paypal.com:secure@203.0.113.9/login", &s);
    assert_string_equal(s.v[0].host, "203.0.113.9");
    sg__urlset_clear(&s);
    found("paypal.com@login-verify.com/x", &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.v[0].host, "login-verify.com");
    assert_true(s.v[0].flags & SG_URL_USERINFO);
    sg__urlset_clear(&s);
}

static void email_addresses_are_not_urls(void **state) {
    assert_string_equal(found("mail john.doe@example.com or mailto:a+b@example.org", NULL), "");
    assert_string_equal(found("write to support@paypal.com today", NULL), "");
}

static void idn_hosts_in_unicode_and_punycode(void **state) {
    sg_urlset s;
    found("bücher.de and xn--pple-43d.com and президент.рф", &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.v[0].host, "xn--bcher-kva.de");
    assert_string_equal(s.v[0].host_unicode, "bücher.de");
    assert_string_equal(s.v[1].host_unicode, "\xd0\xb0pple.com"); /* Cyrillic а */
    assert_true(s.v[1].flags & SG_URL_PUNYCODE);
    assert_string_equal(s.v[2].host, "xn--d1abbgf6aiiy.xn--p1ai");
    assert_string_equal(s.v[2].registrable, "xn--d1abbgf6aiiy.xn--p1ai");
    sg__urlset_clear(&s);
    found("ｍｉｃｒｏｓｏｆｔ.com", &s); /* full-width letters (UTS #46 maps) */
    assert_string_equal(s.v[0].host, "microsoft.com");
    sg__urlset_clear(&s);
    assert_string_equal(found("xn--zz.com", NULL), ""); /* bad punycode */
}

static void hosts_right_after_cjk_or_foreign_words(void **state) {
    assert_string_equal(found("请访问microsoft.com登录", NULL), "microsoft.com");
    assert_string_equal(found("詳しくはexample.jp/aへ", NULL), "example.jp/a");
    assert_string_equal(found("Подробностиflood-studio.com", NULL), "flood-studio.com");
    /* but a Cyrillic homoglyph disguise stays part of the host */
    sg_urlset s;
    found("раураl.com", &s);
    assert_string_equal(s.v[0].host, "xn--l-7sba6dbr.com");
    sg__urlset_clear(&s);
    /* and a whole-IDN host after CJK text is kept whole */
    assert_string_equal(found("日本語.jp", NULL), "日本語.jp");
}

static void trailing_punctuation_and_brackets_are_trimmed(void **state) {
    assert_string_equal(found("(see example.com/a_(b)).", NULL), "example.com/a_(b)");
    assert_string_equal(found("Visit example.com. Or example.org!", NULL), "example.com | example.org");
    assert_string_equal(found("'https://example.com/a',", NULL), "https://example.com/a");
    assert_string_equal(found("\"example.com/x?\"", NULL), "example.com/x");
    assert_string_equal(found("https://en.wikipedia.org/wiki/Foo_(bar)", NULL),
                        "https://en.wikipedia.org/wiki/Foo_(bar)");
    assert_string_equal(found("«example.com/x»", NULL), "example.com/x");
}

static void angle_brackets_and_markdown_links(void **state) {
    assert_string_equal(found("<https://example.com/x>", NULL), "https://example.com/x");
    assert_string_equal(found("[microsoft.com](https://evil.example/x)", NULL),
                        "microsoft.com | https://evil.example/x");
    assert_string_equal(found("[click here](http://evil.example/login)", NULL),
                        "http://evil.example/login");
}

static void obfuscated_schemes_and_dots_are_undone(void **state) {
    sg_urlset s;
    found("hxxp://evil[.]com/x", &s);
    assert_string_equal(s.v[0].url, "http://evil.com/x");
    assert_true(s.v[0].flags & SG_URL_OBFUSCATED);
    sg__urlset_clear(&s);
    assert_string_equal(found("hXXps[:]//evil(.)com/a", NULL), "https://evil.com/a");
    assert_string_equal(found("evil{.}com evil(dot)com evil[DOT]com", NULL), "evil.com");
    assert_string_equal(found("go to evil dot com now", NULL), "evil.com");
    assert_string_equal(found("evil。com evil．org evil｡net", NULL), "evil.com | evil.org | evil.net");
    assert_string_equal(found("evil·com", NULL), "evil.com");
    assert_string_equal(found("evil . com and evil2 .com", NULL), "evil.com | evil2.com");
    found("ev\xe2\x80\x8bil.c\xe2\x80\x8dom", &s); /* zero-width space and joiner */
    assert_string_equal(s.v[0].url, "evil.com");
    assert_true(s.v[0].flags & SG_URL_OBFUSCATED);
    sg__urlset_clear(&s);
    found("plain http://evil.com/x", &s);
    assert_int_equal(s.v[0].flags & SG_URL_OBFUSCATED, 0);
    sg__urlset_clear(&s);
}

static void ordinary_prose_is_not_deobfuscated(void **state) {
    assert_string_equal(found("I agree. no problem. it is. in fact", NULL), "");
    assert_string_equal(found("the dot com bubble", NULL), "");
    assert_string_equal(found("a polka dot dress", NULL), "");
    assert_string_equal(found("你好。我们走吧", NULL), "");
    assert_string_equal(found("Tom · Jerry", NULL), "");
}

static void shorteners_are_flagged_and_duplicates_dropped(void **state) {
    sg_urlset s;
    found("bit.ly/abc and bit.ly/abc and https://t.co/x", &s);
    assert_int_equal(s.n, 2);
    assert_true(s.v[0].flags & SG_URL_SHORTENER);
    assert_true(s.v[1].flags & SG_URL_SHORTENER);
    sg__urlset_clear(&s);
    found("bitly.example.com/x", &s);
    assert_int_equal(s.v[0].flags & SG_URL_SHORTENER, 0);
    sg__urlset_clear(&s);
}

static void invalid_utf8_acts_as_a_space(void **state) {
    const char t[] = "\xff\xfe" "example.com/a\xc3" " \xed\xa0\x80" "evil.com";
    sg_urlset s;
    assert_int_equal(sg__urls_extract(st, t, sizeof t - 1, &s), SG_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.v[0].url, "example.com/a");
    assert_string_equal(s.v[1].url, "evil.com");
    sg__urlset_clear(&s);
}

static void a_megabyte_of_dots_and_ten_thousand_commas_stay_linear(void **state) {
    size_t n = 1 << 20;
    char *t = malloc(n + 1);
    for (size_t i = 0; i < n; i++) t[i] = (i % 2) ? '.' : 'a';
    t[n] = '\0';
    sg_urlset s;
    assert_int_equal(sg__urls_extract(st, t, n, &s), SG_OK);
    assert_int_equal(s.n, 0); /* one 1 MB run: far over 253 bytes */
    sg__urlset_clear(&s);
    for (size_t i = 0; i < n; i++) t[i] = (i % 4 == 3) ? ' ' : "a.b"[i % 4];
    assert_int_equal(sg__urls_extract(st, t, n, &s), SG_OK);
    assert_int_equal(s.n, 0); /* a.b: unknown TLD */
    sg__urlset_clear(&s);
    strcpy(t, "https://example.com/x");
    size_t l = strlen(t);
    memset(t + l, ',', 10000);
    t[l + 10000] = '\0';
    assert_int_equal(sg__urls_extract(st, t, l + 10000, &s), SG_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.v[0].url, "https://example.com/x");
    sg__urlset_clear(&s);
    for (size_t i = 0; i < n; i++) t[i] = "http://"[i % 7];
    assert_int_equal(sg__urls_extract(st, t, n, &s), SG_OK);
    sg__urlset_clear(&s);
    free(t);
}

static void at_most_256_urls_are_kept(void **state) {
    sg_buf b = {0};
    for (int i = 0; i < 300; i++) sg__buf_printf(&b, "h%d.example.com ", i);
    sg_urlset s;
    assert_int_equal(sg__urls_extract(st, b.p, b.len, &s), SG_OK);
    assert_int_equal(s.n, SG_URLS_MAX);
    assert_string_equal(s.v[255].url, "h255.example.com");
    sg__urlset_clear(&s);
    sg__buf_free(&b);
}

static void ctx_urls_extracts_once_from_the_original_text(void **state) {
    sg_engine *eng;
    assert_int_equal(sg_engine_new(NULL, &eng), SG_OK);
    assert_non_null(sg__urls_of(eng));
    sg_message *m;
    assert_int_equal(sg_message_new("a@x", "b@x", "ВНИМАНИЕ hxxp://ＥＶＩＬ[.]com/Path", &m), SG_OK);
    sg_ctx c;
    assert_int_equal(sg__ctx_init(eng, m, &c), SG_OK);
    const sg_urlset *u = sg__ctx_urls(&c);
    assert_int_equal(u->n, 1);
    assert_string_equal(u->v[0].host, "evil.com");
    assert_string_equal(u->v[0].url, "http://ＥＶＩＬ.com/Path"); /* as written */
    assert_ptr_equal(sg__ctx_urls(&c), u);
    sg__ctx_free(&c);
    sg_message_free(m);
    sg_engine_free(eng);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scheme_urls_keep_path_query_and_fragment),
        cmocka_unit_test(hosts_without_scheme_need_a_known_tld),
        cmocka_unit_test(invalid_hosts_are_not_extracted),
        cmocka_unit_test(ipv4_hosts_need_a_scheme_port_or_path),
        cmocka_unit_test(ports_are_kept_and_colons_after_hosts_are_not),
        cmocka_unit_test(user_info_tricks_give_the_real_host),
        cmocka_unit_test(email_addresses_are_not_urls),
        cmocka_unit_test(idn_hosts_in_unicode_and_punycode),
        cmocka_unit_test(hosts_right_after_cjk_or_foreign_words),
        cmocka_unit_test(trailing_punctuation_and_brackets_are_trimmed),
        cmocka_unit_test(angle_brackets_and_markdown_links),
        cmocka_unit_test(obfuscated_schemes_and_dots_are_undone),
        cmocka_unit_test(ordinary_prose_is_not_deobfuscated),
        cmocka_unit_test(shorteners_are_flagged_and_duplicates_dropped),
        cmocka_unit_test(invalid_utf8_acts_as_a_space),
        cmocka_unit_test(a_megabyte_of_dots_and_ten_thousand_commas_stay_linear),
        cmocka_unit_test(at_most_256_urls_are_kept),
        cmocka_unit_test(ctx_urls_extracts_once_from_the_original_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
