/*
 * test_enforce_ring.c -- the recorded messages of an enforcement case
 * (enforce.c): a ring of binary records "enfm:{id}:0".."enfm:{id}:7"
 * written whole on every recorded verdict.  A locked account that keeps
 * sending has only its last 8 recorded messages in the ring, each in the
 * slot of its number, with its recipient and text; a "clear" decision
 * learns exactly those 8 as ham and empties the ring; recording stops
 * after the case's 32nd message (the ring then keeps messages 25..32); and
 * a store written before the ring (a JSON array in "enfm:{id}") is still
 * learned back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behavior.h"
#include "enforce.h"
#include "store.h"

#include "chat_fixture.h"

#define ALICE "alice@x.example"

static void send_free(sg_engine *eng, const char *to, const char *text, int64_t ts,
                      int contact, const char *client, const char *ip) {
    sg_message *m;
    assert_int_equal(sg_message_new(ALICE, to, text, &m), SG_OK);
    sg_message_set_ts(m, ts);
    sg_message_set_contact(m, contact);
    sg_message_set_client(m, client);
    sg_message_set_client_ip(m, ip);
    sg_verdict *v;
    assert_int_equal(sg_check(eng, m, &v), SG_OK);
    sg_verdict_free(v);
    sg_message_free(m);
}

/* Five days of alice's chat, then a takeover from a new client and
 * network: lures to her friends, then `extra` more lures to strangers
 * r1@x.example, r2@x.example, ...  @return the time after the last. */
static int64_t take_over_alice(sg_engine *eng, int extra) {
    for (int d = 0; d < 5; d++)
        for (int k = 0; k < 6; k++)
            send_free(eng, friends[(d + k) % 4], chat[(d * 6 + k) % 6],
                      T0 + d * DAY_MS + (10 + k) * HOUR_MS, 1, "android-5.2", "81.2.69.10");
    int64_t t = T0 + 5 * DAY_MS + 3 * HOUR_MS;
    char text[160], to[64];
    for (int i = 0; i < 4 + extra; i++, t += 20000) {
        snprintf(text, sizeof text, "hey, is this you in this video?? "
                 "https://faceb00k-video.com/watch?v=%04d", 1000 + i);
        if (i < 4) snprintf(to, sizeof to, "%s", friends[i]);
        else snprintf(to, sizeof to, "r%d@x.example", i - 3);
        send_free(eng, to, text, t, i < 4, "web", "185.220.101.7");
    }
    return t;
}

/* The ring's record in slot `slot`: its recipient and text, or false. */
static bool ring_slot(sg_engine *eng, int slot, char *to, char *text) {
    char key[SG_BEHAV_KEY_CAP], suffix[4] = {':', (char)('0' + slot), 0}, buf[4096];
    size_t kl = sg__behav_key(key, "enfm:", ALICE, suffix), vlen = 0;
    if (sg__store_get(eng->store, key, kl, buf, sizeof buf, &vlen, T0 + 6 * DAY_MS)) return false;
    assert_true(vlen >= 6 && vlen <= sizeof buf);
    uint16_t tol, tl;
    assert_int_equal(buf[0], 1); /* version */
    memcpy(&tol, buf + 2, 2);
    memcpy(&tl, buf + 4, 2);
    assert_int_equal(vlen, 6 + (size_t)tol + tl);
    memcpy(to, buf + 6, tol), to[tol] = '\0';
    memcpy(text, buf + 6 + tol, tl), text[tl] = '\0';
    return true;
}

/* The number of the lure in a recorded text (lure i is the case's
 * recorded message i + 1 when every lure is recorded). */
static int lure_of(const char *text) {
    const char *p = strstr(text, "?v=");
    assert_non_null(p);
    return atoi(p + 3) - 1000;
}

static void the_ring_keeps_the_last_eight_and_a_clear_learns_them(void **state) {
    (void)state;
    sg_engine *eng;
    assert_int_equal(sg_engine_new(NULL, &eng), SG_OK);
    int64_t t = take_over_alice(eng, 10);
    sg_enf_case c;
    assert_int_equal(sg__enforce_case(eng, ALICE, t, &c), SG_OK);
    assert_int_equal(c.action, SG_ACCOUNT_LOCK_AND_RESET);
    uint32_t n = c.messages;
    assert_int_equal(n, 14); /* every lure recorded: more than the ring holds */
    /* message k (1..14) in slot (k-1) % 8: the ring holds lures 6..13 */
    int seen = 0, newest = -1, oldest = 1 << 20;
    for (int s = 0; s < 8; s++) {
        char to[600], text[4096];
        assert_true(ring_slot(eng, s, to, text));
        int lure = lure_of(text);
        newest = lure > newest ? lure : newest;
        oldest = lure < oldest ? lure : oldest;
        if (lure >= 4) { /* a stranger's: r1 got lure 4 */
            char want[64];
            snprintf(want, sizeof want, "r%d@x.example", lure - 3);
            assert_string_equal(to, want);
        }
        seen++;
    }
    assert_int_equal(seen, 8);
    assert_int_equal(newest, 13);      /* the last lure sent */
    assert_int_equal(oldest, 13 - 7);  /* 8 consecutive: the last 8 */
    /* the slot of the newest is (n-1) % 8 */
    char to[600], text[4096];
    assert_true(ring_slot(eng, (int)((n - 1) % 8), to, text));
    assert_int_equal(lure_of(text), 13);

    sg_enf_decision d;
    assert_int_equal(sg__enforce_decide(eng, ALICE, true, "op", "owner confirmed", t, &d),
                     SG_OK);
    assert_int_equal(d.learned_ham, 8);
    for (int s = 0; s < 8; s++) assert_false(ring_slot(eng, s, to, text));
    sg_engine_free(eng);
}

static void recording_stops_at_the_32nd_message(void **state) {
    (void)state;
    sg_engine *eng;
    assert_int_equal(sg_engine_new(NULL, &eng), SG_OK);
    int64_t t = take_over_alice(eng, 40);
    sg_enf_case c;
    assert_int_equal(sg__enforce_case(eng, ALICE, t, &c), SG_OK);
    assert_true(c.messages > 32);
    int newest = -1, oldest = 1 << 20;
    for (int s = 0; s < 8; s++) {
        char to[600], text[4096];
        assert_true(ring_slot(eng, s, to, text));
        int lure = lure_of(text);
        newest = lure > newest ? lure : newest;
        oldest = lure < oldest ? lure : oldest;
    }
    int first_recorded = 43 - (int)c.messages + 1; /* lure of message 1 */
    assert_int_equal(newest, first_recorded + 31);
    assert_int_equal(oldest, first_recorded + 24);
    sg_enf_decision d;
    assert_int_equal(sg__enforce_decide(eng, ALICE, true, "op", NULL, t, &d), SG_OK);
    assert_int_equal(d.learned_ham, 8);
    sg_engine_free(eng);
}

static void a_legacy_json_record_is_still_learned(void **state) {
    (void)state;
    sg_engine *eng;
    assert_int_equal(sg_engine_new(NULL, &eng), SG_OK);
    int64_t t = take_over_alice(eng, 0);
    char key[SG_BEHAV_KEY_CAP];
    size_t kl = sg__behav_key(key, "enfm:", ALICE, "");
    const char *old = "[{\"to\":\"bob@x.example\",\"text\":\"see you at the station\"},"
                      "{\"to\":\"carol@x.example\",\"text\":\"the keys are under the mat\"}]";
    assert_int_equal(sg__store_put(eng->store, key, kl, old, strlen(old), t + DAY_MS, t), SG_OK);
    sg_enf_case c;
    assert_int_equal(sg__enforce_case(eng, ALICE, t, &c), SG_OK);
    uint32_t ring = c.messages < 8 ? c.messages : 8;
    sg_enf_decision d;
    assert_int_equal(sg__enforce_decide(eng, ALICE, true, "op", NULL, t, &d), SG_OK);
    assert_int_equal(d.learned_ham, 2 + ring);
    size_t vlen;
    assert_int_equal(sg__store_get(eng->store, key, kl, NULL, 0, &vlen, t), SG_ENOTFOUND);
    sg_engine_free(eng);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_ring_keeps_the_last_eight_and_a_clear_learns_them),
        cmocka_unit_test(recording_stops_at_the_32nd_message),
        cmocka_unit_test(a_legacy_json_record_is_still_learned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
