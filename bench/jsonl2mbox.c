/*
 * jsonl2mbox.c -- benchmark helper: turn labeled JSONL into an mbox (one
 * message per line's "text") for e-mail filters such as bogofilter, and
 * write the labels, one per line, to a second file.
 *   usage: jsonl2mbox IN.jsonl OUT.mbox OUT.labels [spam|ham]
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: jsonl2mbox IN OUT.mbox OUT.labels [spam|ham]\n"); return 2; }
    FILE *in = fopen(argv[1], "r"), *mb = fopen(argv[2], "w"), *lb = fopen(argv[3], "w");
    if (!in || !mb || !lb) { perror("jsonl2mbox"); return 3; }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *text = json_string_value(json_object_get(o, "text"));
        const char *label = json_string_value(json_object_get(o, "label"));
        if (text && label && (argc < 5 || !strcmp(label, argv[4]))) {
            fprintf(mb, "From bench@example Thu Jan  1 00:00:00 2026\nSubject: \n\n");
            for (const char *p = text; *p; p++) {
                if (*p == '\n') fputc(' ', mb);
                else if (p == text && !strncmp(p, "From ", 5)) { fputc('>', mb); fputc(*p, mb); }
                else fputc(*p, mb);
            }
            fprintf(mb, "\n\n");
            fprintf(lb, "%s\n", label);
        }
        json_decref(o);
    }
    fclose(in);
    fclose(mb);
    fclose(lb);
    return 0;
}
