/*
 * cmd_check.c -- `spimguard check "text"`: judge one message given on the
 * command line and print a readable verdict (or JSON with --json).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static void check_usage(FILE *f) {
    fprintf(f,
        "usage: spimguard check [options] \"message text\"\n"
        "Judges one message and prints the verdict with its reasons.\n\n"
        "  --model FILE   content model (default: the model built with spimguard)\n"
        "  --from ID      sender (default \"sender\")\n"
        "  --to ID        recipient (default \"recipient\")\n"
        "  --contact      the sender is in the recipient's contacts\n"
        "  --stranger     the sender is not in the recipient's contacts\n"
        "                 (neither: not known, as when the IM server does not say)\n"
        "  --json         print the verdict as JSON\n\n"
        "exit: 0 delivered; 0 also for other actions (read the verdict); 2 usage; 3 fatal\n");
}

static void print_verdict(const sg_verdict *v) {
    printf("action:  %s\nscore:   %.3f (content model P(spim) %.3f)\nlabels: ",
           sg_action_name(sg_verdict_action(v)), sg_verdict_score(v), sg_verdict_content_score(v));
    unsigned l = sg_verdict_labels(v);
    if (!l) printf(" none");
    for (unsigned i = 0; i < SG_LABEL_COUNT_; i++)
        if (l & (1u << i)) printf(" %s", sg_label_name(1u << i));
    printf("\naccount: %s\nreasons:\n", sg_account_action_name(sg_verdict_account_action(v)));
    for (size_t i = 0; i < sg_verdict_reason_count(v); i++) {
        const sg_reason *r = sg_verdict_reason(v, i);
        printf("  %+7.2f  %-18s %s\n", r->weight, r->code, r->detail);
    }
}

int sg_cmd_check(int argc, char **argv) {
    static const struct option lo[] = {
        {"model", 1, 0, 'm'}, {"from", 1, 0, 'f'}, {"to", 1, 0, 't'},
        {"stranger", 0, 0, 's'}, {"contact", 0, 0, 'c'}, {"json", 0, 0, 'j'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *model = NULL, *from = "sender", *to = "recipient";
    bool json = false;
    int contact = -1; /* -1 not known, 0 stranger, 1 contact */
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 's': contact = 0; break;
        case 'c': contact = 1; break;
        case 'j': json = true; break;
        case 'h': check_usage(stdout); return EXIT_OK;
        default: check_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) { check_usage(stderr); return EXIT_USAGE; }
    if (!argv[optind][0]) {
        sg_cli_error("check", "the message text is empty");
        return EXIT_USAGE;
    }
    sg_engine *eng = sg_cli_engine(NULL, model, true);
    if (!eng) return EXIT_FATAL;
    sg_message *m = NULL;
    sg_verdict *v = NULL;
    int rc = sg_message_new(from, to, argv[optind], &m);
    if (!rc && contact >= 0) sg_message_set_contact(m, contact);
    if (!rc) rc = sg_check(eng, m, &v);
    if (rc) {
        sg_cli_error("check", "%s", rc == SG_EUTF8 ? "text is not valid UTF-8" : sg_strerror(rc));
    } else if (json) {
        char *s = sg_verdict_to_json(v);
        puts(s ? s : "null");
        free(s);
    } else {
        print_verdict(v);
    }
    sg_verdict_free(v);
    sg_message_free(m);
    sg_engine_free(eng);
    return rc == SG_EUTF8 ? EXIT_USAGE : rc ? EXIT_FATAL : EXIT_OK;
}
