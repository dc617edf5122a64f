/*
 * test_sender.c -- account profiles and compromise detection (sender.c,
 * with bulk.c and campaign.c behind it), through the public sg_check():
 * a scripted compromise on a five-account graph is caught at the expected
 * message and the worm's next hop at its first; a legitimate user who
 * sends one link to three friends is not locked; fan-out, burst and bulk
 * windows expire; a fresh account messaging strangers is throttled, then
 * suspended.  The engine has no content model here (P(spim) = 0.5), so
 * what decides is the behaviour stages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "behavior.h"

#include "chat_fixture.h"

typedef struct sent {
    sg_action action;
    sg_account_action account;
    unsigned labels;
    char reasons[1024];
} sent;

/* Judge one message; return what the verdict said. */
static sent send(sg_engine *eng, const char *from, const char *to,
                 const char *text, int64_t ts, int contact, const char *client,
                 const char *ip) {
    sg_message *m;
    assert_int_equal(sg_message_new(from, to, text, &m), SG_OK);
    sg_message_set_ts(m, ts);
    if (contact >= 0) sg_message_set_contact(m, contact);
    if (client) sg_message_set_client(m, client);
    if (ip) sg_message_set_client_ip(m, ip);
    sg_verdict *v;
    assert_int_equal(sg_check(eng, m, &v), SG_OK);
    sent s = {sg_verdict_action(v), sg_verdict_account_action(v),
              sg_verdict_labels(v), ""};
    size_t n = 0;
    for (size_t i = 0; i < sg_verdict_reason_count(v); i++) {
        const sg_reason *r = sg_verdict_reason(v, i);
        n += (size_t)snprintf(s.reasons + n, sizeof s.reasons - n, "%s: %s | ",
                              r->code, r->detail);
        if (n >= sizeof s.reasons) break;
    }
    sg_verdict_free(v);
    sg_message_free(m);
    return s;
}

/* Five days of ordinary chat: `who` writes to its friends from its phone
 * on its home network between 10:00 and 17:00 UTC, no links. */
static void history(sg_engine *eng, const char *who, const char *ip) {
    for (int d = 0; d < 5; d++)
        for (int k = 0; k < 6; k++) {
            const char *to = friends[(d + k) % 4];
            if (!strcmp(to, who)) to = "alice@x.example";
            send(eng, who, to, chat[(d * 6 + k) % 6], T0 + d * DAY_MS + (10 + k) * HOUR_MS,
                 1, "android-5.2", ip);
        }
}

static int setup(void **state) {
    sg_engine *eng;
    if (sg_engine_new(NULL, &eng)) return -1;
    *state = eng;
    return 0;
}

static int teardown(void **state) {
    sg_engine_free(*state);
    return 0;
}

static const char *lure(int i) {
    static const char *const v[] = {
        "hey bob, is this you in this video?? https://faceb00k-video.com/watch?v=8812",
        "hey carol is this you in this video? https://faceb00k-video.com/watch?v=1931",
        "omg dave, is this you in this video?! https://faceb00k-video.com/watch?v=0077",
        "hey erin, is this you in this video?? https://faceb00k-video.com/watch?v=4410",
        "hi alice, is this you in this video?? https://faceb00k-video.com/watch?v=9090",
    };
    return v[i];
}

/* The attacker logs in from a web client on a hosting network at 03:10
 * UTC and sends the lure to alice's four friends, 20 s apart: the first
 * two go out, the third completes the fan-out to three contacts and locks
 * the account, the fourth is held as the account is locked. */
static void compromise_is_caught_at_the_third_lure(void **state) {
    sg_engine *eng = *state;
    history(eng, "alice@x.example", "81.2.69.10");
    int64_t t = T0 + 5 * DAY_MS + 3 * HOUR_MS + 10 * MIN_MS;
    sent s[4];
    for (int i = 0; i < 4; i++)
        s[i] = send(eng, "alice@x.example", friends[i], lure(i), t + i * 20000, 1,
                    "web", "185.220.101.7");
    assert_int_equal(s[0].account, SG_ACCOUNT_NONE);
    assert_int_equal(s[1].account, SG_ACCOUNT_NONE);
    assert_false(s[1].labels & SG_LABEL_COMPROMISED_SENDER);
    assert_int_equal(s[2].account, SG_ACCOUNT_LOCK_AND_RESET);
    assert_true(s[2].labels & SG_LABEL_COMPROMISED_SENDER);
    assert_true(s[2].action >= SG_ACTION_HOLD);
    assert_non_null(strstr(s[2].reasons, "COMPROMISED_SENDER"));
    assert_non_null(strstr(s[2].reasons, "new client 'web'"));
    assert_non_null(strstr(s[2].reasons, "new network 185.220.101.0/24"));
    assert_non_null(strstr(s[2].reasons, "unusual hour 03 UTC"));
    assert_non_null(strstr(s[2].reasons, "same campaign to 3 recipients"));
    assert_int_equal(s[3].account, SG_ACCOUNT_LOCK_AND_RESET);
    assert_true(s[3].action >= SG_ACTION_HOLD);
    assert_non_null(strstr(s[3].reasons, "ACCOUNT_LOCKED"));
    /* even the owner's own next message waits for the password reset */
    sent own = send(eng, "alice@x.example", "bob@x.example", chat[0], t + HOUR_MS, 1,
                    "android-5.2", "81.2.69.10");
    assert_true(own.action >= SG_ACTION_HOLD);
    sg_acct_view av;
    assert_int_equal(sg__sender_view(eng, "alice@x.example", t + HOUR_MS, &av), SG_OK);
    assert_int_equal(av.status, SG_ACCT_LOCKED);
    /* after the reset she is back, with her profile */
    assert_int_equal(sg__sender_reset(eng, "alice@x.example", t + 2 * HOUR_MS), SG_OK);
    own = send(eng, "alice@x.example", "bob@x.example", chat[1], t + 7 * HOUR_MS, 1,
               "android-5.2", "81.2.69.10");
    assert_int_equal(own.account, SG_ACCOUNT_NONE);
    assert_true(own.action < SG_ACTION_HOLD);
}

/* Bob got the lure from alice and fell for it.  When his account sends
 * the same campaign, confirmed by alice's lock, his first lure is enough:
 * an infection edge alice -> bob. */
static void next_hop_of_the_worm_is_caught_at_its_first_lure(void **state) {
    sg_engine *eng = *state;
    history(eng, "alice@x.example", "81.2.69.10");
    history(eng, "bob@x.example", "93.184.216.34");
    int64_t t = T0 + 5 * DAY_MS + 3 * HOUR_MS;
    for (int i = 0; i < 3; i++)
        send(eng, "alice@x.example", friends[i], lure(i), t + i * 20000, 1, "web",
             "185.220.101.7");
    sent b = send(eng, "bob@x.example", "alice@x.example", lure(4), t + 2 * HOUR_MS, 1,
                  "web", "45.83.64.9");
    assert_int_equal(b.account, SG_ACCOUNT_LOCK_AND_RESET);
    assert_true(b.labels & SG_LABEL_COMPROMISED_SENDER);
    assert_non_null(strstr(b.reasons, "received it from alice@x.example"));
    assert_non_null(strstr(b.reasons, "campaign already seen from a compromised account"));
    /* the campaign remembers the edge */
    sg_verdict *v;
    sg_message *m;
    sg_message_new("frank@x.example", "dave@x.example", lure(2), &m);
    sg_message_set_ts(m, t + 3 * HOUR_MS);
    assert_int_equal(sg_check(eng, m, &v), SG_OK);
    const char *camp = sg_verdict_campaign(v);
    assert_non_null(camp);
    sg_campaign_info *ci = sg__calloc(1, sizeof *ci);
    assert_int_equal(sg__campaign_info(eng->store, camp, t + 3 * HOUR_MS, ci), SG_OK);
    assert_true(ci->infections >= 1);
    assert_int_equal(ci->locked, 2);
    bool edge = false;
    for (size_t i = 0; i < ci->nedges; i++)
        edge |= !strcmp(ci->edges[i][0], "alice@x.example") &&
                !strcmp(ci->edges[i][1], "bob@x.example");
    assert_true(edge);
    /* opened by alice's third lure, which completed three recipients, but
     * first seen at her first: the links' window record knew it */
    assert_int_equal(ci->first_ms, t);
    assert_int_equal(ci->nurls, 2); /* frank resent alice's third URL */
    assert_string_equal(ci->urls[1], "https://faceb00k-video.com/watch?v=9090");
    assert_int_equal(ci->nsender_ids, 3);
    sg__free(ci);
    sg_verdict_free(v);
    sg_message_free(m);
}

/* Alice, who never sends links, shares one article with three friends in
 * three minutes from her usual phone at her usual hour, on another /24 of
 * her carrier's /16: the link deviation is seen and explained, the network
 * is not new, and nothing is locked. */
static void one_link_to_three_friends_is_not_locked(void **state) {
    sg_engine *eng = *state;
    history(eng, "alice@x.example", "81.2.69.10");
    int64_t t = T0 + 5 * DAY_MS + 14 * HOUR_MS;
    const char *text = "look at this, the article i told you about "
                       "https://www.bbc.co.uk/news/science-environment-68431035";
    for (int i = 0; i < 3; i++) {
        sent s = send(eng, "alice@x.example", friends[i], text, t + i * MIN_MS, 1,
                      "android-5.2", "81.2.71.44");
        assert_int_equal(s.account, SG_ACCOUNT_NONE);
        assert_false(s.labels & SG_LABEL_COMPROMISED_SENDER);
        assert_true(s.action < SG_ACTION_HOLD);
        if (i == 0) { /* seen, explained, not enough */
            assert_non_null(strstr(s.reasons, "links from an account that rarely sends any"));
            assert_null(strstr(s.reasons, "new network"));
        }
    }
    sg_acct_view av;
    assert_int_equal(sg__sender_view(eng, "alice@x.example", t + 3 * MIN_MS, &av), SG_OK);
    assert_int_equal(av.status, SG_ACCT_OK);
    assert_int_equal(av.burst_recipients, 3);
    assert_int_equal(av.nclients, 1);
    assert_int_equal(av.nnetworks, 2); /* 81.2.69.0/24 and now 81.2.71.0/24 */
}

/* A burst ends after 6 hours of silence: two lures, a pause of 7 hours,
 * two more: no burst reaches three contacts, nothing locked; a fifth lure
 * soon after completes the second burst. */
static void a_paused_burst_starts_over(void **state) {
    sg_engine *eng = *state;
    history(eng, "alice@x.example", "81.2.69.10");
    int64_t t = T0 + 5 * DAY_MS + 3 * HOUR_MS;
    const char *to[] = {"bob@x.example", "carol@x.example", "dave@x.example",
                        "erin@x.example", "frank@x.example"};
    int64_t when[] = {t, t + 20000, t + 7 * HOUR_MS + 40000, t + 7 * HOUR_MS + 60000,
                      t + 7 * HOUR_MS + 80000};
    for (int i = 0; i < 5; i++) {
        sent s = send(eng, "alice@x.example", to[i], lure(i % 4), when[i], 1, "web",
                      "185.220.101.7");
        assert_int_equal(s.account, i < 4 ? SG_ACCOUNT_NONE : SG_ACCOUNT_LOCK_AND_RESET);
    }
}

/* Fan-out counts distinct recipients over the current and the previous
 * hour; three hours later only the new one is left. */
static void fanout_window_expires(void **state) {
    sg_engine *eng = *state;
    int64_t t = T0 + 10 * HOUR_MS + 5 * MIN_MS;
    char to[32];
    for (int i = 0; i < 6; i++) {
        snprintf(to, sizeof to, "friend%d@x.example", i);
        send(eng, "zed@x.example", to, chat[i], t + i * MIN_MS, 1, NULL, NULL);
    }
    send(eng, "zed@x.example", "friend0@x.example", chat[0], t + 7 * MIN_MS, 1, NULL, NULL);
    sg_acct_view av;
    assert_int_equal(sg__sender_view(eng, "zed@x.example", t + 8 * MIN_MS, &av), SG_OK);
    assert_int_equal(av.fanout, 6);
    assert_int_equal(av.msgs, 7);
    send(eng, "zed@x.example", "friend9@x.example", chat[1], t + 3 * HOUR_MS, 1, NULL, NULL);
    assert_int_equal(sg__sender_view(eng, "zed@x.example", t + 3 * HOUR_MS, &av), SG_OK);
    assert_int_equal(av.fanout, 1);
}

/* Three senders with one text in an hour make it bulk; three hours later
 * the count has expired and a fourth sender is not bulk. */
static void bulk_window_expires(void **state) {
    sg_engine *eng = *state;
    const char *text = "limited offer: get 500 free followers today, just reply YES";
    int64_t t = T0 + 10 * HOUR_MS;
    sent s[4];
    s[0] = send(eng, "p1@x.example", "q1@x.example", text, t, 1, NULL, NULL);
    s[1] = send(eng, "p2@x.example", "q2@x.example", text, t + MIN_MS, 1, NULL, NULL);
    s[2] = send(eng, "p3@x.example", "q3@x.example", text, t + 2 * MIN_MS, 1, NULL, NULL);
    s[3] = send(eng, "p4@x.example", "q4@x.example", text, t + 3 * HOUR_MS, 1, NULL, NULL);
    assert_false(s[1].labels & SG_LABEL_BULK);
    assert_true(s[2].labels & SG_LABEL_BULK);
    assert_non_null(strstr(s[2].reasons, "sent by ~3 senders"));
    assert_false(s[3].labels & SG_LABEL_BULK);
}

/* A fresh account messages strangers: throttled at the fifth distinct
 * stranger, suspended at about the fifteenth (the distinct count is a
 * linear-counting estimate over 64 bits, which reads 14 distinct as ~16);
 * what it sends after is held. */
static void new_account_messaging_strangers_is_throttled_then_suspended(void **state) {
    sg_engine *eng = *state;
    int64_t t = T0 + DAY_MS;
    char to[32];
    int throttled_at = 0, suspended_at = 0;
    for (int i = 1; i <= 20; i++) {
        snprintf(to, sizeof to, "victim%d@x.example", i);
        sent s = send(eng, "promo77@x.example", to, chat[i % 6], t + i * 30000, 0, "web",
                      "45.83.64.10");
        if (s.account == SG_ACCOUNT_THROTTLE && !throttled_at) {
            throttled_at = i;
            assert_true(s.labels & SG_LABEL_RATE_LIMITED);
            assert_true(s.labels & SG_LABEL_SPIM);
        }
        if (s.account == SG_ACCOUNT_SUSPEND && !suspended_at) suspended_at = i;
        if (suspended_at) {
            assert_int_equal(s.account, SG_ACCOUNT_SUSPEND);
            assert_true(s.action >= SG_ACTION_HOLD);
        } else if (throttled_at) {
            assert_int_equal(s.account, SG_ACCOUNT_THROTTLE);
        }
    }
    assert_int_equal(throttled_at, 5);
    assert_true(suspended_at >= 12 && suspended_at <= 15);
    /* an established account writing to a few strangers is fine */
    history(eng, "alice@x.example", "81.2.69.10");
    for (int i = 1; i <= 6; i++) {
        snprintf(to, sizeof to, "shop%d@x.example", i);
        sent s = send(eng, "alice@x.example", to, chat[i % 6],
                      T0 + 5 * DAY_MS + 12 * HOUR_MS + i * MIN_MS, 0, "android-5.2",
                      "81.2.69.10");
        assert_int_equal(s.account, SG_ACCOUNT_NONE);
    }
}

/* A fresh account's lookalike links to strangers are a suspicious burst
 * (not learned into its profile) but still count toward its stranger
 * share: it is throttled and suspended like any spim sender. */
static void flagged_links_to_strangers_still_count_toward_spim(void **state) {
    sg_engine *eng = *state;
    char to[32], text[128];
    sg_account_action last = SG_ACCOUNT_NONE;
    for (int i = 1; i <= 20; i++) {
        snprintf(to, sizeof to, "target%d@x.example", i);
        snprintf(text, sizeof text,
                 "you won a new phone, claim it now at https://faceb00k-video.com/prize?id=%d", i);
        sent s = send(eng, "promo88@x.example", to, text, T0 + DAY_MS + i * 20000, 0, "web",
                      "45.83.64.11");
        if (i == 5) assert_int_equal(s.account, SG_ACCOUNT_THROTTLE);
        last = s.account;
    }
    assert_int_equal(last, SG_ACCOUNT_SUSPEND);
    sg_acct_view av;
    assert_int_equal(sg__sender_view(eng, "promo88@x.example", T0 + 2 * DAY_MS, &av), SG_OK);
    assert_int_equal(av.status, SG_ACCT_SUSPENDED);
    assert_int_equal(av.url_msgs, 0); /* its links were not learned as normal */
}

/* The documented state size holds, and long ids keep keys bounded. */
static void account_state_is_128_bytes_and_long_ids_are_hashed(void **state) {
    sg_engine *eng = *state;
    char id[2000];
    memset(id, 'a', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    send(eng, id, "bob@x.example", chat[0], T0, 1, NULL, NULL);
    char key[SG_BEHAV_KEY_CAP];
    size_t kl = sg__behav_key(key, "acct:", id, "");
    assert_int_equal(kl, strlen("acct:{#}") + 16);
    size_t vlen = 0;
    assert_int_equal(sg__store_get(eng->store, key, kl, NULL, 0, &vlen, T0), SG_OK);
    assert_int_equal(vlen, SG_ACCT_STATE_BYTES);
}

/* A campaign opens when its cluster reaches a second sender; its record
 * counts what the cluster had by then (the first sender's copy too), and
 * a sender seen before the opening is not counted twice afterwards. */
static const char *check_at(sg_engine *eng, const char *from, const char *to,
                            const char *text, int64_t ts, char *camp) {
    sg_message *m;
    sg_verdict *v;
    assert_int_equal(sg_message_new(from, to, text, &m), SG_OK);
    sg_message_set_ts(m, ts);
    assert_int_equal(sg_check(eng, m, &v), SG_OK);
    const char *c = sg_verdict_campaign(v);
    snprintf(camp, SG_CAMPAIGN_ID_LEN, "%s", c ? c : "");
    sg_verdict_free(v);
    sg_message_free(m);
    return camp;
}

static void a_campaign_counts_the_messages_that_opened_it(void **state) {
    sg_engine *eng = *state;
    const char *text = "You will be in the place of that man, see you by the river tonight";
    char camp[SG_CAMPAIGN_ID_LEN];
    int64_t t = T0 + DAY_MS;
    assert_string_equal(check_at(eng, "s1@x.example", "r1@x.example", text, t, camp), "");
    check_at(eng, "s2@x.example", "r2@x.example", text, t + 60000, camp);
    assert_true(camp[0] == 'c'); /* the second sender opens it */
    sg_campaign_info *ci = sg__calloc(1, sizeof *ci);
    assert_int_equal(sg__campaign_info(eng->store, camp, t + 60000, ci), SG_OK);
    assert_int_equal(ci->msgs, 2);
    assert_int_equal(ci->senders, 2);
    assert_int_equal(ci->recipients, 2);
    /* first seen: the first sender's message, a minute before the opening */
    assert_int_equal(ci->first_ms, t);
    assert_int_equal(ci->last_ms, t + 60000);
    /* the first sender again, to the second recipient: a third message,
     * still two senders and two recipients (not counted twice) */
    char again[SG_CAMPAIGN_ID_LEN];
    check_at(eng, "s1@x.example", "r2@x.example", text, t + 120000, again);
    assert_string_equal(again, camp);
    assert_int_equal(sg__campaign_info(eng->store, camp, t + 120000, ci), SG_OK);
    assert_int_equal(ci->msgs, 3);
    assert_int_equal(ci->senders, 2);
    assert_int_equal(ci->recipients, 2);
    /* a new sender adds to the bitmap's count */
    check_at(eng, "s3@x.example", "r2@x.example", text, t + 180000, again);
    assert_int_equal(sg__campaign_info(eng->store, camp, t + 180000, ci), SG_OK);
    assert_int_equal(ci->msgs, 4);
    assert_int_equal(ci->senders, 3);
    assert_int_equal(ci->first_ms, t);
    sg__free(ci);
}

/* The window key "fpw:<hex>" of a text's cluster when it opens one: its
 * first band (bulk.c), from the real normalizer and fingerprint. */
static size_t window_key_of(const char *text, char key[4 + 17]) {
    sg_normctx *nc;
    sg_norm n;
    sg_fingerprint fp;
    assert_int_equal(sg__normctx_new(&nc), SG_OK);
    assert_int_equal(sg__normalize(nc, text, strlen(text), &n), SG_OK);
    assert_int_equal(sg__fingerprint(n.text, n.len, &fp), SG_OK);
    sg__norm_free(&n);
    sg__normctx_free(nc);
    memcpy(key, "fpw:", 4);
    sg__behav_hex64(fp.band[0], key + 4);
    return 20;
}

/* A window record of the previous layout (80 bytes, without the first
 * message's time, as a store filled by an older version holds it) still
 * counts, and the campaign it opens falls back to its opening time. */
static void a_window_record_of_the_previous_layout_still_counts(void **state) {
    sg_engine *eng = *state;
    const char *text = "You will be in the place of that man, see you by the river tonight";
    char camp[SG_CAMPAIGN_ID_LEN], key[4 + 17];
    int64_t t = T0 + DAY_MS;
    check_at(eng, "s1@x.example", "r1@x.example", text, t, camp);
    size_t kl = window_key_of(text, key), vlen = 0;
    unsigned char w[88];
    assert_int_equal(sg__store_get(eng->store, key, kl, w, sizeof w, &vlen, t), SG_OK);
    assert_int_equal(vlen, 88);
    int64_t first;
    memcpy(&first, w + 80, 8);
    assert_int_equal(first, t); /* this layout keeps it */
    assert_int_equal(sg__store_put(eng->store, key, kl, w, 80, t + 2 * HOUR_MS, t), SG_OK);
    check_at(eng, "s2@x.example", "r2@x.example", text, t + 60000, camp);
    assert_true(camp[0] == 'c');
    sg_campaign_info *ci = sg__calloc(1, sizeof *ci);
    assert_int_equal(sg__campaign_info(eng->store, camp, t + 60000, ci), SG_OK);
    assert_int_equal(ci->msgs, 2);       /* the old record's message counted */
    assert_int_equal(ci->senders, 2);
    assert_int_equal(ci->first_ms, t + 60000); /* unknown: the opening */
    sg__free(ci);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(compromise_is_caught_at_the_third_lure),
        T(next_hop_of_the_worm_is_caught_at_its_first_lure),
        T(one_link_to_three_friends_is_not_locked),
        T(a_paused_burst_starts_over),
        T(fanout_window_expires),
        T(bulk_window_expires),
        T(new_account_messaging_strangers_is_throttled_then_suspended),
        T(flagged_links_to_strangers_still_count_toward_spim),
        T(account_state_is_128_bytes_and_long_ids_are_hashed),
        T(a_campaign_counts_the_messages_that_opened_it),
        T(a_window_record_of_the_previous_layout_still_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
