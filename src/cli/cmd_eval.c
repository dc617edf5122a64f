/*
 * cmd_eval.c -- `spimguard eval`: measure a content model on labeled JSONL
 * (accuracy, spam caught, ham blocked, MCC, ROC AUC, (1-ROCA)%, spam caught
 * at 0.1 % and 1 % ham blocked; metrics.c computes them), optionally with
 * the ROC curve as SVG.  `eval --stream` scores a simulated stream instead
 * (eval_stream.c).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "metrics.h"

static void eval_usage(FILE *f) {
    fprintf(f,
        "usage: spimguard eval [--model M] [--json] [--roc OUT.svg] [--full] TEST.jsonl...\n"
        "       spimguard eval --scores SCORES.tsv [--json] [--roc OUT.svg]\n"
        "       spimguard eval --stream STREAM.jsonl VERDICTS.jsonl [--json]\n"
        "Measures the content model on labeled JSONL ({\"text\", \"label\"}).\n\n"
        "  --model FILE  model to measure (default: the model built with spimguard)\n"
        "  --json        one JSON object: messages, accuracy_pct, spam_caught_pct,\n"
        "                ham_blocked_pct, mcc, auc, one_minus_roca_pct,\n"
        "                sc_at_hb_0_1_pct, sc_at_hb_1_pct\n"
        "  --roc FILE    write the ROC curve as an SVG picture\n"
        "  --threshold P decision threshold on P(spim) (default 0.5)\n"
        "  --full        score with the whole pipeline (URLs, behaviour), not only\n"
        "                the content model\n"
        "  --scores FILE measure another filter's scores: lines \"SCORE LABEL\",\n"
        "                LABEL spam|ham|1|0, higher SCORE = more spam-like\n"
        "  --stream      score verdicts of a simulated stream (spimguard simulate)\n\n"
        "exit: 0 measured; 1 measured but some lines rejected; 2 usage; 3 fatal\n");
}

static void print_metrics(const sg_metrics *m, bool json) {
    if (json) {
        printf("{\"messages\": %zu, \"spam\": %zu, \"ham\": %zu, \"accuracy_pct\": %.4f, "
               "\"spam_caught_pct\": %.4f, \"ham_blocked_pct\": %.4f, \"mcc\": %.4f, "
               "\"auc\": %.6f, \"one_minus_roca_pct\": %.4f, \"sc_at_hb_0_1_pct\": %.4f, "
               "\"sc_at_hb_1_pct\": %.4f}\n",
               m->messages, m->spam, m->ham, m->accuracy_pct, m->spam_caught_pct,
               m->ham_blocked_pct, m->mcc, m->auc, m->one_minus_roca_pct,
               m->sc_at_hb_0_1_pct, m->sc_at_hb_1_pct);
        return;
    }
    printf("messages          %zu (%zu spam, %zu ham)\n", m->messages, m->spam, m->ham);
    printf("accuracy          %.2f %%   (threshold %.2f)\n", m->accuracy_pct, m->threshold);
    printf("spam caught       %.2f %%\n", m->spam_caught_pct);
    printf("ham blocked       %.2f %%\n", m->ham_blocked_pct);
    printf("MCC               %.4f\n", m->mcc);
    printf("ROC AUC           %.5f\n", m->auc);
    printf("(1-ROCA)%%         %.3f\n", m->one_minus_roca_pct);
    printf("spam caught at ham blocked <= 0.1 %%: %.2f %%\n", m->sc_at_hb_0_1_pct);
    printf("spam caught at ham blocked <= 1 %%:   %.2f %%\n", m->sc_at_hb_1_pct);
}

/* Score every message; returns 0 or an sg_error. */
static int score_all(sg_engine *eng, sg_message **msgs, size_t n, bool full,
                     double *scores, int *labels) {
    for (size_t i = 0; i < n; i++) {
        int rc;
        labels[i] = sg_message_label(msgs[i]);
        if (full) {
            sg_verdict *v;
            if ((rc = sg_check(eng, msgs[i], &v))) return rc;
            scores[i] = sg_verdict_score(v);
            sg_verdict_free(v);
        } else if ((rc = sg_content_score(eng, msgs[i], &scores[i]))) {
            return rc;
        }
        if ((i & 255) == 0) sg_progress("eval", i, n);
    }
    sg_progress_end();
    return SG_OK;
}

/* Read "score label" lines (another filter's output) into arrays. */
static int read_scores(const char *path, double **scores, int **labels, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) { sg_cli_error("eval", "%s: cannot open", path); return -1; }
    size_t cap = 0;
    char label[32], line[256];
    double s;
    *n = 0; *scores = NULL; *labels = NULL;
    for (size_t lineno = 1; fgets(line, sizeof line, f); lineno++) {
        if (sscanf(line, "%lf %31s", &s, label) != 2) {
            sg_cli_error("eval", "%s:%zu: expected \"SCORE LABEL\"", path, lineno);
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            *scores = realloc(*scores, cap * sizeof **scores);
            *labels = realloc(*labels, cap * sizeof **labels);
        }
        (*scores)[*n] = s;
        (*labels)[(*n)++] = !strcmp(label, "spam") || !strcmp(label, "1");
    }
    fclose(f);
    return 0;
}

static int eval_scores_cmd(const char *path, double thr, bool json, const char *roc) {
    double *scores;
    int *labels;
    size_t n;
    if (read_scores(path, &scores, &labels, &n)) return EXIT_FATAL;
    sg_metrics m;
    int rc = sg__metrics_compute(scores, labels, n, thr, &m);
    if (rc) sg_cli_error("eval", "need both spam and ham scores to measure");
    else print_metrics(&m, json);
    if (!rc && roc) rc = sg__metrics_roc_svg(scores, labels, n, "ROC", roc);
    free(scores);
    free(labels);
    return rc ? EXIT_FATAL : EXIT_OK;
}

static int eval_stream_cmd(int argc, char **argv, int first, bool json) {
    if (argc - first != 2) { eval_usage(stderr); return EXIT_USAGE; }
    if (!sg_eval_stream) {
        sg_cli_error("eval", "--stream is not available in this build");
        return EXIT_FATAL;
    }
    return sg_eval_stream(argv[first], argv[first + 1], json, stdout);
}

int sg_cmd_eval(int argc, char **argv) {
    static const struct option lo[] = {
        {"model", 1, 0, 'm'}, {"json", 0, 0, 'j'}, {"roc", 1, 0, 'r'}, {"full", 0, 0, 'f'},
        {"threshold", 1, 0, 't'}, {"stream", 0, 0, 's'}, {"scores", 1, 0, 'S'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *model = NULL, *roc = NULL, *scores_path = NULL;
    bool json = false, full = false, stream = false;
    double thr = 0.5;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'j': json = true; break;
        case 'r': roc = optarg; break;
        case 'f': full = true; break;
        case 't': thr = atof(optarg); break;
        case 's': stream = true; break;
        case 'S': scores_path = optarg; break;
        case 'h': eval_usage(stdout); return EXIT_OK;
        default: eval_usage(stderr); return EXIT_USAGE;
        }
    }
    if (stream) return eval_stream_cmd(argc, argv, optind, json);
    if (scores_path) return eval_scores_cmd(scores_path, thr, json, roc);
    if (optind >= argc) { eval_usage(stderr); return EXIT_USAGE; }
    size_t n, bad;
    sg_message **msgs = sg_cli_read_labeled(argv + optind, argc - optind, &n, &bad, false);
    if (!msgs) return EXIT_FATAL;
    sg_engine *eng = sg_cli_engine(NULL, model, true);
    double *scores = calloc(n ? n : 1, sizeof *scores);
    int *labels = calloc(n ? n : 1, sizeof *labels);
    int rc = (!eng || !scores || !labels) ? SG_ENOMEM : score_all(eng, msgs, n, full, scores, labels);
    sg_metrics m;
    if (!rc && (rc = sg__metrics_compute(scores, labels, n, thr, &m)) == SG_EINVAL)
        sg_cli_error("eval", "need both spam and ham messages to measure");
    if (!rc) print_metrics(&m, json);
    if (!rc && roc && (rc = sg__metrics_roc_svg(scores, labels, n, "spimguard ROC", roc)))
        sg_cli_error("eval", "%s: cannot write the ROC curve", roc);
    free(scores);
    free(labels);
    sg_engine_free(eng);
    sg_cli_free_messages(msgs, n);
    if (rc) return EXIT_FATAL;
    return bad ? EXIT_BADLINES : EXIT_OK;
}
