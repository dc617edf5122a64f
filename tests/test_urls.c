/*
 * test_urls.c -- URL extraction from free chat text (urls.c): every rule of
 * issue 3 on real tricky inputs, each with its negative controls, plus the
 * pathological inputs (1 MB of "a.a.a...", a URL followed by 10,000 commas,
 * invalid UTF-8) and the per-message cache sg__ctx_urls().  The pre-scan
 * (sg__urls_possible) is checked against the full extraction on every
 * message of the shared corpora, on 50,000 phishing URLs written plainly and
 * obfuscated, on tricky texts and on every Unicode code point.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/uidna.h>
#include <unicode/utf8.h>

#include "urls.h"
#include "jsonl_corpus.h"

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


/* ------------------------------------------------------------ pre-scan */

/* Extract text with and without the pre-scan; the two sets must be equal
 * URL by URL (url, host, flags), and a text the pre-scan proves empty must
 * be empty for the full extraction.  Returns the number of URLs. */
static size_t both_paths(const char *t, size_t n) {
    sg_urlset fast, full;
    assert_int_equal(sg__urls_extract(st, t, n, &fast), SG_OK);
    assert_int_equal(sg__urls_extract_full(st, t, n, &full), SG_OK);
    if (!sg__urls_possible(t, n) && full.n)
        fail_msg("pre-scan drops %s in \"%.*s\"", full.v[0].url, (int)n, t);
    if (fast.n != full.n) fail_msg("%zu vs %zu URLs in \"%.*s\"", fast.n, full.n, (int)n, t);
    for (size_t i = 0; i < full.n; i++) {
        assert_string_equal(fast.v[i].url, full.v[i].url);
        assert_string_equal(fast.v[i].host, full.v[i].host);
        assert_int_equal(fast.v[i].flags, full.v[i].flags);
    }
    size_t k = full.n;
    sg__urlset_clear(&fast);
    sg__urlset_clear(&full);
    return k;
}

typedef struct tally { size_t msgs, proven, urls; } tally;

static void check_text(const char *t, tally *y) {
    size_t n = strlen(t);
    y->msgs++;
    y->proven += !sg__urls_possible(t, n);
    y->urls += both_paths(t, n);
}

static void check_corpus_text(const char *t, size_t len, void *y) {
    (void)len; /* texts with a NUL end at it, as the engine reads them */
    check_text(t, y);
}

static void prescan_agrees_with_full_extraction_on_every_corpus_message(void **state) {
    tally sms = {0}, all = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s%s", SG_TEST_SHARED, corpus_shared_files[0]);
    corpus_each_text(path, check_corpus_text, &sms);
    corpus_each_text_all(SG_TEST_SHARED, 1, SG_TEST_SOURCE, check_corpus_text, &all);
    printf("SMS test: %zu messages, %zu proven link-free, %zu URLs; other corpora: "
           "%zu messages, %zu proven, %zu URLs\n", sms.msgs, sms.proven, sms.urls,
           all.msgs, all.proven, all.urls);
    /* the SMS test split has 1,338 messages and 40 URLs (as the full path
     * finds them); the pre-scan must settle most of its messages alone */
    assert_int_equal(sms.msgs, 1338);
    assert_int_equal(sms.urls, 40);
    assert_true(sms.proven > sms.msgs * 3 / 4);
    assert_true(all.urls > 1000);
}

/* Every phishing URL / host of the shared lists in a chat line, plainly
 * and with each of its dots and its scheme written the ways attackers do. */
static void prescan_keeps_obfuscated_phishing_urls(void **state) {
    static const char *const lists[] = {
        "openphish_urls_30d.txt", "phishtank_urls.txt", "phishtank_hosts.txt",
        "urlhaus_domains_online.txt", "eth_phishing_detect_blacklist.txt", NULL};
    static const char *const dots[] = {".", " . ", "[.]", "(dot)", " dot ",
                                       "\xE3\x80\x82", "\xEF\xBC\x8E", "\xC2\xB7",
                                       ".\xE2\x80\x8B", NULL};
    char path[4096], msg[8192], *line = NULL;
    size_t cap = 0, lines = 0, urls = 0, plain = 0;
    for (int k = 0; lists[k]; k++) {
        snprintf(path, sizeof path, "%s/phishing/%s", SG_TEST_SHARED, lists[k]);
        FILE *f = fopen(path, "r");
        if (!f) fail_msg("cannot open %s (the shared data sets, ../shared/data or SG_SHARED_DATA: see README)", path);
        while (getline(&line, &cap, f) > 0) {
            line[strcspn(line, "\r\n")] = '\0';
            if (!line[0] || line[0] == '#' || strlen(line) > 2000) continue;
            lines++;
            snprintf(msg, sizeof msg, "verify at %s now", line);
            size_t u = both_paths(msg, strlen(msg));
            plain += u > 0;
            urls += u;
            int d = (int)(lines % 9); /* one obfuscation per line, in turn */
            size_t o = (size_t)snprintf(msg, sizeof msg, "verify at ");
            const char *p = line;
            if (!strncmp(p, "http", 4) && lines % 2) {
                o += (size_t)snprintf(msg + o, sizeof msg - o, "hxxp");
                p += 4;
            }
            for (; *p && o + 16 < sizeof msg; p++) {
                if (*p == '.') o += (size_t)snprintf(msg + o, sizeof msg - o, "%s", dots[d]);
                else msg[o++] = *p;
            }
            msg[o] = '\0';
            urls += both_paths(msg, o);
        }
        fclose(f);
    }
    free(line);
    printf("%zu phishing lines, %zu found written plainly, %zu URLs in all\n",
           lines, plain, urls);
    assert_true(lines > 50000);
    assert_true(plain > lines * 9 / 10);
}

static void prescan_keeps_every_tricky_url(void **state) {
    /* text -> what the full extraction finds (the reference) */
    static const char *const cases[][2] = {
        {"go to example . com now", "example.com"},
        {"example [.] com", "example.com"},
        {"paypal(dot)com/login", "paypal.com/login"},
        {"visit paypal dot com today", "paypal.com"},
        {"paypal\xE3\x80\x82" "com", "paypal.com"},             /* 。 */
        {"paypal\xEF\xBC\x8E" "com", "paypal.com"},             /* ． */
        {"paypal\xEF\xBD\xA1" "com", "paypal.com"},             /* ｡ */
        {"paypal\xC2\xB7" "com", "paypal.com"},                 /* · */
        {"\xEF\xBD\x90\xEF\xBD\x81\xEF\xBD\x99\xEF\xBD\x90\xEF\xBD\x81\xEF\xBD\x8C"
         "\xEF\xBC\x8E\xEF\xBD\x83\xEF\xBD\x8F\xEF\xBD\x8D",
         "\xEF\xBD\x90\xEF\xBD\x81\xEF\xBD\x99\xEF\xBD\x90\xEF\xBD\x81\xEF\xBD\x8C"
         ".\xEF\xBD\x83\xEF\xBD\x8F\xEF\xBD\x8D"},              /* ｐａｙｐａｌ．ｃｏｍ */
        {"paypal.\xE2\x80\x8B" "com", "paypal.com"},            /* zero-width */
        {"h\xE2\x80\x8Bttp://x.example/a", "http://x.example/a"},
        {"http:\xE2\x80\x8B//x.example/a", "http://x.example/a"},
        {"hxxps[:]//evil[.]com/x", "https://evil.com/x"},
        {"hxxp(:)//evil.com", "http://evil.com"},
        {"http://localhost:8080/admin", "http://localhost:8080/admin"},
        {"http://[::1]/x", "http://[::1]/x"},
        {"http://3232235777/", "http://3232235777/"},
        {"router at 192.168.1.1/admin", "192.168.1.1/admin"},
        {"\xEF\xBC\x91.2.3.4/x", "\xEF\xBC\x91.2.3.4/x"},       /* １.2.3.4 */
        {"1\xE2\x80\x8B.2.3.4:8080", "1.2.3.4:8080"},
        {"www.example.org", "www.example.org"},
        {"bbc.co.uk", "bbc.co.uk"},
        {"example.1.bg", "example.1.bg"},
        {"xn--80ak6aa92e.com", "xn--80ak6aa92e.com"},
        {"\xD0\xBF\xD1\x80\xD0\xB8\xD0\xBC\xD0\xB5\xD1\x80.\xD1\x80\xD1\x84",
         "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xBC\xD0\xB5\xD1\x80.\xD1\x80\xD1\x84"}, /* пример.рф */
        {"microsoft.com@evil.com/x", "microsoft.com@evil.com/x"},
        {"FTP://files.example.org/pub", "FTP://files.example.org/pub"},
        {NULL, NULL}};
    for (int k = 0; cases[k][0]; k++) {
        const char *t = cases[k][0];
        if (!sg__urls_possible(t, strlen(t)) || !both_paths(t, strlen(t)))
            fail_msg("no URL in \"%s\"", t);
        assert_string_equal(found(t, NULL), cases[k][1]);
    }
    /* no URL, but the pre-scan must look: e-mail addresses, user-info */
    assert_true(sg__urls_possible("mail bob@example.com", 20));
    assert_int_equal(both_paths("mail bob@example.com", 20), 0);
    /* prose the pre-scan settles alone (the fast path really runs) */
    static const char *const prose[] = {
        "Ok lar... Joking wif u oni...", "Meet at 10:30 :) ok? (see you).",
        "It costs \xC2\xA3" "1.50. Call 08452810075 now.", "v1.2 is out, 3.14 too",
        "\xD0\x9D\xD0\xB5 \xD0\xB1\xD1\x8B\xD0\xB2\xD0\xB0\xD0\xB5\xD1\x82. "
        "\xD0\x92\xD1\x81\xD1\x91 \xD0\xBD\xD0\xB0 \xD0\x90.", /* Russian prose */
        "the dotted line", "I said: no", "end.\n(x.)", NULL};
    for (int k = 0; prose[k]; k++) {
        if (sg__urls_possible(prose[k], strlen(prose[k])))
            fail_msg("pre-scan not sure of \"%s\"", prose[k]);
        assert_string_equal(found(prose[k], NULL), "");
    }
}

/* The pre-scan counts on IDNA mapping no host-run code point (letter, mark,
 * decimal digit) to a dot: check it for all of Unicode with the options of
 * domain.c, and check the code points that DO map to a dot (。．｡) are
 * pre-scan triggers.  Then every code point between two labels, through
 * both paths. */
static void no_host_code_point_becomes_a_dot_without_a_trigger(void **state) {
    UErrorCode e = U_ZERO_ERROR;
    UIDNA *idna = uidna_openUTS46(UIDNA_NONTRANSITIONAL_TO_ASCII |
                                      UIDNA_NONTRANSITIONAL_TO_UNICODE |
                                      UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ |
                                      UIDNA_USE_STD3_RULES, &e);
    assert_true(U_SUCCESS(e));
    size_t dots = 0;
    for (UChar32 c = 0x80; c <= 0x10FFFF; c++) {
        if (U_IS_SURROGATE(c)) continue;
        char in[16], out[64];
        int32_t k = 0;
        in[k++] = 'a';
        U8_APPEND_UNSAFE(in, k, c);
        in[k++] = 'b';
        UIDNAInfo info = UIDNA_INFO_INITIALIZER;
        e = U_ZERO_ERROR;
        int32_t l = uidna_nameToASCII_UTF8(idna, in, k, out, sizeof out, &info, &e);
        if (U_FAILURE(e) || (info.errors & ~(uint32_t)UIDNA_ERROR_HYPHEN_3_4) ||
            !memchr(out, '.', (size_t)l))
            continue;
        dots++;
        int t = u_charType(c);
        bool host = (U_GC_L_MASK | U_GC_MN_MASK | U_GC_MC_MASK | U_GC_ND_MASK) & U_MASK(t);
        if (host || !sg__urls_possible(in + 1, (size_t)k - 2))
            fail_msg("U+%04X maps to a dot: %s", (unsigned)c, out);
    }
    uidna_close(idna);
    assert_int_equal(dots, 3); /* U+3002, U+FF0E, U+FF61 */
    char text[32];
    for (UChar32 c = 0x80; c <= 0x10FFFF; c += (c < 0x3400 ? 1 : 97)) {
        if (U_IS_SURROGATE(c)) continue;
        int32_t k = 6;
        memcpy(text, "paypal", 6);
        U8_APPEND_UNSAFE(text, k, c);
        memcpy(text + k, "com", 3);
        both_paths(text, (size_t)k + 3);
    }
}


/* Random texts built from the pieces URLs and their disguises are made of
 * (a fixed seed, so a failure repeats): both paths must agree on each. */
static void prescan_agrees_on_random_texts_of_url_pieces(void **state) {
    static const char *const piece[] = {
        "a", "B", "x", "com", "org", "uk", "co", "1", "10", "192", "255", "0",
        ".", ".", ".", " ", " ", " ", ":", "/", "//", "[", "]", "(", ")", "{",
        "}", "<", ">", "dot", "DOT", "d", "ot", "http", "HTTPS", "hxxp", "ftp",
        "www", "@", "-", "_", "?", "#", "%", ",", "\n", "\t", "xn--", "p1ai",
        "\xE3\x80\x82", "\xEF\xBC\x8E", "\xEF\xBD\xA1", "\xC2\xB7", "\xE3\x83\xBB",
        "\xE2\x80\x8B", "\xC2\xAD", "\xC2\xA0", "\xC3\xA9", "\xD1\x80",
        "\xD1\x84", "\xEF\xBC\x91", "\xE4\xB8\xAD", "\xFF", "\xE2\x80", "\xCE\x87",
        "the ", "one ", "example", "paypal", "bg", "rf"};
    const size_t np = sizeof piece / sizeof *piece;
    uint64_t x = 0x9E3779B97F4A7C15u;
    size_t urls = 0, proven = 0;
    char text[256];
    for (int k = 0; k < 200000; k++) {
        size_t len = 0;
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int pieces = 1 + (int)(x % 12);
        for (int q = 0; q < pieces; q++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            const char *pc = piece[x % np];
            size_t l = strlen(pc);
            memcpy(text + len, pc, l);
            len += l;
        }
        proven += !sg__urls_possible(text, len);
        urls += both_paths(text, len);
    }
    printf("200,000 random texts: %zu URLs, %zu proven link-free\n", urls, proven);
    assert_true(urls > 1000);
    assert_true(proven > 10000);
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
        cmocka_unit_test(prescan_agrees_with_full_extraction_on_every_corpus_message),
        cmocka_unit_test(prescan_keeps_obfuscated_phishing_urls),
        cmocka_unit_test(prescan_keeps_every_tricky_url),
        cmocka_unit_test(no_host_code_point_becomes_a_dot_without_a_trigger),
        cmocka_unit_test(prescan_agrees_on_random_texts_of_url_pieces),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
