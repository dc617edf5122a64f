/*
 * fuzz_message.c -- libFuzzer target for the message path: JSON parsing
 * (message.c) and, for every input that parses, the whole pipeline
 * (normalize, features, every detector, policy, verdict JSON).  Any crash,
 * sanitizer report or leak is a bug.
 */
#include <stdlib.h>

#include "sg_internal.h"

static sg_engine *eng;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!eng && sg_engine_new(&(sg_options){.hash_bits = 16}, &eng)) abort();
    sg_message *m = NULL;
    char err[256];
    if (sg_message_parse_json((const char *)data, size, 4096, 0, &m, err, sizeof err) != SG_OK)
        return 0;
    sg_verdict *v = NULL;
    if (sg_check(eng, m, &v) == SG_OK) {
        char *js = sg_verdict_to_json(v);
        if (!js) abort();
        free(js);
    }
    sg_verdict_free(v);
    sg_message_free(m);
    return 0;
}
