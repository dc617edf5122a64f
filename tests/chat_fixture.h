/*
 * chat_fixture.h -- the small social network the behaviour and
 * enforcement tests share: a clock, four friends and their ordinary chat.
 */
#ifndef SG_TEST_CHAT_FIXTURE_H
#define SG_TEST_CHAT_FIXTURE_H

#define MIN_MS (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define T0 1709510400000LL /* 2024-03-04T00:00:00Z */

static const char *const friends[] = {"bob@x.example", "carol@x.example",
                                      "dave@x.example", "erin@x.example"};
static const char *const chat[] = {
    "are we still on for lunch tomorrow at the usual place?",
    "thanks for the notes, they really helped with the homework",
    "can you pick up some milk on the way home please",
    "the meeting got moved to thursday afternoon, tell the others",
    "did you watch the game last night, what a finish that was",
    "i will be a bit late, the bus is stuck in traffic again",
};

#endif
