/*
 * cmd_train.c -- `spimguard train`: fit the content model on labeled JSONL
 * ("label": "spam"|"ham") for a few epochs and save it.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#define DEFAULT_EPOCHS 10

static void train_usage(FILE *f) {
    fprintf(f,
        "usage: spimguard train --model OUT [--in FILE]... [FILE...]\n"
        "Trains the content model (a linear SVM on hashed features, regularised\n"
        "toward a naive-Bayes model of the same data, scaled to log-odds;\n"
        "docs/accuracy.md)\n"
        "on labeled JSONL: {\"text\": ..., \"label\": \"spam\"|\"ham\"}.\n\n"
        "  --in FILE      labeled JSONL (may repeat; positional files work too)\n"
        "  --model OUT    where to write the model\n"
        "  --init FILE    refine this model (instead of starting from naive Bayes)\n"
        "  --epochs N     most passes over the data, 1..100 (default %d)\n"
        "  --seed N       shuffling seed (default 1); same seed, same model\n"
        "  --quiet        only errors on stderr\n\n"
        "exit: 0 trained; 1 trained but some lines rejected; 2 usage; 3 fatal\n",
        DEFAULT_EPOCHS);
}

int sg_cmd_train(int argc, char **argv) {
    static const struct option lo[] = {
        {"in", 1, 0, 'i'}, {"model", 1, 0, 'm'}, {"init", 1, 0, 'I'}, {"epochs", 1, 0, 'e'},
        {"seed", 1, 0, 's'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    int nin = 0, epochs = DEFAULT_EPOCHS, c;
    const char *out = NULL, *init = NULL;
    bool quiet = false;
    sg_options opt = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:m:h", lo, NULL)) != -1) {
        switch (c) {
        case 'i': inputs[nin++] = optarg; break;
        case 'm': out = optarg; break;
        case 'I': init = optarg; break;
        case 'e': epochs = atoi(optarg); break;
        case 's': opt.seed = strtoull(optarg, NULL, 10); break;
        case 'q': quiet = true; break;
        case 'h': train_usage(stdout); free(inputs); return EXIT_OK;
        default: train_usage(stderr); free(inputs); return EXIT_USAGE;
        }
    }
    while (optind < argc) inputs[nin++] = argv[optind++];
    if (!out || !nin || epochs < 1 || epochs > 100) {
        train_usage(stderr);
        free(inputs);
        return EXIT_USAGE;
    }
    size_t n, bad;
    sg_message **msgs = sg_cli_read_labeled(inputs, nin, &n, &bad, quiet);
    free(inputs);
    if (!msgs) return EXIT_FATAL;
    sg_engine *eng = sg_cli_engine(&opt, init, false);
    int rc = eng ? sg_train(eng, msgs, n, epochs) : SG_ENOMEM;
    if (eng && !rc) rc = sg_engine_save_model(eng, out);
    if (rc) {
        if (eng) sg_cli_error("train", "%s", sg_engine_errmsg(eng));
    } else if (!quiet) {
        size_t spam = 0;
        for (size_t i = 0; i < n; i++) spam += sg_message_label(msgs[i]) == 1;
        fprintf(stderr, "trained on %zu messages (%zu spam, %zu ham), %d epochs -> %s\n",
                n, spam, n - spam, epochs, out);
    }
    sg_engine_free(eng);
    sg_cli_free_messages(msgs, n);
    if (!eng || rc) return EXIT_FATAL;
    return bad ? EXIT_BADLINES : EXIT_OK;
}
