/*
 * test_message.c -- parsing of the JSON message form: every field, every
 * error path (invalid JSON, missing fields, wrong types, invalid UTF-8,
 * oversized text), and that a failed parse leaves nothing behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "sg_internal.h"

static int parse(const char *js, sg_message **m, char *err) {
    return sg_message_parse_json(js, strlen(js), 0, 0, m, err, 256);
}

static void a_full_message_keeps_every_field(void **state) {
    sg_message *m = NULL;
    char err[256];
    assert_int_equal(parse("{\"id\":\"m1\",\"from\":\"alice@x.org\",\"to\":\"bob@x.org\","
                           "\"text\":\"hi bob\",\"ts\":\"2024-05-01T12:30:00.250Z\","
                           "\"contact\":true,\"client\":\"Conversations\","
                           "\"client_ip\":\"192.0.2.7\",\"lang\":\"en\",\"label\":\"ham\"}", &m, err),
                     SG_OK);
    assert_string_equal(sg_message_id(m), "m1");
    assert_string_equal(sg_message_from(m), "alice@x.org");
    assert_string_equal(sg_message_to(m), "bob@x.org");
    assert_string_equal(sg_message_text(m), "hi bob");
    assert_int_equal(sg_message_ts(m), 1714566600250LL);
    assert_int_equal(sg_message_contact(m), 1);
    assert_int_equal(sg_message_label(m), 0);
    assert_string_equal(m->client, "Conversations");
    assert_string_equal(m->client_ip, "192.0.2.7");
    sg_message_free(m);
}

static void ts_accepts_offsets_and_unix_milliseconds(void **state) {
    sg_message *m = NULL;
    char err[256];
    assert_int_equal(parse("{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"ts\":\"2024-05-01T14:30:00+02:00\"}", &m, err), SG_OK);
    assert_int_equal(sg_message_ts(m), 1714566600000LL);
    sg_message_free(m);
    assert_int_equal(parse("{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"ts\":1714566600123,\"id\":42}", &m, err), SG_OK);
    assert_int_equal(sg_message_ts(m), 1714566600123LL);
    assert_string_equal(sg_message_id(m), "42");
    assert_int_equal(sg_message_contact(m), -1);
    sg_message_free(m);
}

struct bad_case {
    const char *json;
    int rc;
    const char *err_contains;
};

static const struct bad_case bad_cases[] = {
    {"{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\"", SG_EJSON, "invalid JSON"},
    {"not json", SG_EJSON, "invalid JSON"},
    {"[1,2]", SG_EJSON, "expected a JSON object"},
    {"{\"to\":\"b\",\"text\":\"x\"}", SG_EFIELD, "missing field \"from\""},
    {"{\"from\":\"a\",\"text\":\"x\"}", SG_EFIELD, "missing field \"to\""},
    {"{\"from\":\"a\",\"to\":\"b\"}", SG_EFIELD, "missing field \"text\""},
    {"{\"from\":\"a\",\"to\":\"b\",\"text\":7}", SG_EFIELD, "\"text\" must be a string"},
    {"{\"from\":\"\",\"to\":\"b\",\"text\":\"x\"}", SG_EFIELD, "\"from\" is empty"},
    {"{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"ts\":\"yesterday\"}", SG_EFIELD, "\"ts\""},
    {"{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"ts\":9223372036854775807}", SG_EFIELD, "1970..9999"},
    {"{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"ts\":\"2024-05-01T12:30:00+1:3\"}", SG_EFIELD, "\"ts\""},
    {"{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"ts\":\"2024-05-01T12:30:00+99:99\"}", SG_EFIELD, "\"ts\""},
    {"{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"ts\":\"1960-05-01T12:30:00Z\"}", SG_EFIELD, "\"ts\""},
    {"{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"contact\":\"yes\"}", SG_EFIELD, "\"contact\""},
    {"{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"label\":\"maybe\"}", SG_EFIELD, "\"label\""},
    {"{\"from\":\"a\",\"to\":\"b\",\"text\":\"a\\u0000b\"}", SG_EUTF8, "NUL"},
    {"{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"from\":\"c\"}", SG_EJSON, "duplicate"},
};

static void every_bad_line_gets_its_own_clear_error(void **state) {
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        sg_message *m = (sg_message *)0x1;
        char err[256] = "";
        int rc = parse(bad_cases[i].json, &m, err);
        if (rc != bad_cases[i].rc || !strstr(err, bad_cases[i].err_contains))
            fail_msg("case %zu: rc %d err '%s'", i, rc, err);
        assert_null(m);
    }
}

static void invalid_utf8_bytes_are_rejected(void **state) {
    const char *overlong = "{\"from\":\"a\",\"to\":\"b\",\"text\":\"\xC0\xAF\"}";
    const char *surrogate = "{\"from\":\"a\",\"to\":\"b\",\"text\":\"\xED\xA0\x80\"}";
    const char *truncated = "{\"from\":\"a\",\"to\":\"b\",\"text\":\"\xE2\x82\"}";
    sg_message *m = NULL;
    char err[256];
    assert_int_equal(parse(overlong, &m, err), SG_EUTF8);
    assert_int_equal(parse(surrogate, &m, err), SG_EUTF8);
    assert_int_equal(parse(truncated, &m, err), SG_EUTF8);
    assert_non_null(strstr(err, "UTF-8"));
    assert_false(sg__utf8_valid("\xF4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_true(sg__utf8_valid("\xF0\x9F\x98\x80", 4));  /* U+1F600 */
}

static void text_over_the_limit_is_too_big(void **state) {
    char js[300];
    char text[201];
    memset(text, 'a', 200);
    text[200] = '\0';
    snprintf(js, sizeof js, "{\"from\":\"a\",\"to\":\"b\",\"text\":\"%s\"}", text);
    sg_message *m = NULL;
    char err[256];
    assert_int_equal(sg_message_parse_json(js, strlen(js), 199, 0, &m, err, sizeof err), SG_ETOOBIG);
    assert_non_null(strstr(err, "200 bytes"));
    assert_int_equal(sg_message_parse_json(js, strlen(js), 200, 0, &m, err, sizeof err), SG_OK);
    sg_message_free(m);
}

static void labeled_data_needs_a_label_but_not_a_sender(void **state) {
    const char *js = "{\"text\":\"WINNER!! claim your prize\",\"label\":\"spam\"}";
    sg_message *m = NULL;
    char err[256];
    assert_int_equal(sg_message_parse_json(js, strlen(js), 0, SG_PARSE_LABELED, &m, err, 256), SG_OK);
    assert_int_equal(sg_message_label(m), 1);
    assert_string_equal(sg_message_from(m), "unknown");
    sg_message_free(m);
    js = "{\"text\":\"hello\"}";
    assert_int_equal(sg_message_parse_json(js, strlen(js), 0, SG_PARSE_LABELED, &m, err, 256), SG_EFIELD);
    assert_non_null(strstr(err, "label"));
}

static void allocation_failure_leaves_nothing_behind(void **state) {
    const char *js = "{\"id\":\"m\",\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"client\":\"c\",\"lang\":\"en\"}";
    for (long n = 0; n < 10; n++) {
        sg_message *m = NULL;
        char err[256];
        sg__alloc_fail_after(n);
        int rc = parse(js, &m, err);
        sg__alloc_fail_after(-1);
        if (rc == SG_OK) { sg_message_free(m); break; }
        assert_int_equal(rc, SG_ENOMEM);
        assert_null(m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_full_message_keeps_every_field),
        cmocka_unit_test(ts_accepts_offsets_and_unix_milliseconds),
        cmocka_unit_test(every_bad_line_gets_its_own_clear_error),
        cmocka_unit_test(invalid_utf8_bytes_are_rejected),
        cmocka_unit_test(text_over_the_limit_is_too_big),
        cmocka_unit_test(labeled_data_needs_a_label_but_not_a_sender),
        cmocka_unit_test(allocation_failure_leaves_nothing_behind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
