/*
 * cli_io.c -- what the subcommands share: a bounded line reader for JSONL
 * streams, the terminal progress bar, engine setup with a model, reading a
 * labeled corpus, and error printing.  No judging happens here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"

void sg_cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "spimguard %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int sg_lines_open(sg_lines *r, const char *path, size_t cap) {
    memset(r, 0, sizeof *r);
    if (!path || !strcmp(path, "-")) {
        r->f = stdin;
        r->name = "<stdin>";
    } else {
        r->f = fopen(path, "rb");
        r->name = path;
        if (!r->f) return -1;
    }
    struct stat st;
    if (fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode)) r->total_bytes = st.st_size;
    r->cap = cap;
    r->buf = malloc(cap + 1);
    if (!r->buf) { if (r->f != stdin) fclose(r->f); errno = ENOMEM; return -1; }
    return 0;
}

int sg_lines_next(sg_lines *r, size_t *len) {
    size_t n = 0;
    int c;
    r->too_long = false;
    while ((c = getc_unlocked(r->f)) != EOF) {
        r->bytes_read++;
        if (c == '\n') break;
        if (n < r->cap) r->buf[n++] = (char)c;
        else r->too_long = true;
    }
    if (c == EOF) {
        if (ferror(r->f)) return -1;
        if (n == 0 && !r->too_long) return 0;
    }
    if (n && r->buf[n - 1] == '\r') n--;
    /* a UTF-8 byte-order mark that some editors put first is not JSON */
    if (r->lineno == 0 && n >= 3 && !memcmp(r->buf, "\xEF\xBB\xBF", 3)) {
        memmove(r->buf, r->buf + 3, n - 3);
        n -= 3;
    }
    size_t i = 0; /* a line of blanks counts as empty */
    while (i < n && (r->buf[i] == ' ' || r->buf[i] == '\t')) i++;
    if (i == n && !r->too_long) n = 0;
    r->buf[n] = '\0';
    r->lineno++;
    *len = n;
    return 1;
}

void sg_lines_close(sg_lines *r) {
    if (r->f && r->f != stdin) fclose(r->f);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

static int progress_on = -1;
static int progress_drawn;

void sg_progress(const char *what, size_t done, size_t total) {
    if (progress_on < 0) progress_on = isatty(STDERR_FILENO);
    if (!progress_on || !total) return;
    static int last = -1;
    int pct = (int)(100.0 * done / total);
    if (pct == last) return;
    last = pct;
    int bar = pct * 30 / 100;
    fprintf(stderr, "\r%-8s [%.*s%*s] %3d%%", what, bar,
            "##############################", 30 - bar, "", pct);
    progress_drawn = 1;
}

void sg_progress_end(void) {
    if (progress_drawn) fprintf(stderr, "\r%60s\r", "");
    progress_drawn = 0;
}

sg_engine *sg_cli_engine(const sg_options *opt, const char *model_path,
                         bool use_default) {
    sg_engine *eng;
    int rc = sg_engine_new(opt, &eng);
    if (rc) {
        fprintf(stderr, "spimguard: cannot create engine: %s\n", sg_engine_errmsg(NULL));
        return NULL;
    }
    if (!model_path && use_default) {
        model_path = sg_default_model_path();
        const char *env = getenv("SPIMGUARD_MODEL");
        if (!model_path && env && *env) {
            fprintf(stderr, "spimguard: SPIMGUARD_MODEL=%s: no such readable file "
                            "(a set SPIMGUARD_MODEL is not searched past)\n", env);
            sg_engine_free(eng);
            return NULL;
        }
        if (!model_path) {
            fprintf(stderr, "spimguard: no default model found (build it with `make`, "
                            "or set SPIMGUARD_MODEL, or pass --model)\n");
            sg_engine_free(eng);
            return NULL;
        }
    }
    if (model_path && (rc = sg_engine_load_model(eng, model_path))) {
        fprintf(stderr, "spimguard: cannot load model: %s\n", sg_engine_errmsg(eng));
        sg_engine_free(eng);
        return NULL;
    }
    return eng;
}

void sg_cli_free_messages(sg_message **v, size_t n) {
    for (size_t i = 0; i < n; i++) sg_message_free(v[i]);
    free(v);
}

/* Append the labeled messages of one file to *v. */
static int read_one(const char *path, sg_message ***v, size_t *n, size_t *cap,
                    size_t *bad, bool quiet) {
    sg_lines r;
    if (sg_lines_open(&r, path, 1 << 20) != 0) {
        fprintf(stderr, "spimguard: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t len;
    int got;
    char err[256];
    while ((got = sg_lines_next(&r, &len)) == 1) {
        if (len == 0) continue;
        sg_message *m = NULL;
        int rc = r.too_long ? SG_ETOOBIG
                            : sg_message_parse_json(r.buf, len, 0, SG_PARSE_LABELED, &m, err, sizeof err);
        if (rc) {
            (*bad)++;
            if (!quiet || rc != SG_ETOOBIG)
                fprintf(stderr, "%s:%zu: %s\n", r.name, r.lineno,
                        r.too_long ? "line too long" : err);
            continue;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 1024;
            sg_message **nv = realloc(*v, *cap * sizeof **v);
            if (!nv) { sg_message_free(m); sg_lines_close(&r); return -1; }
            *v = nv;
        }
        (*v)[(*n)++] = m;
    }
    if (got < 0) fprintf(stderr, "spimguard: %s: read error: %s\n", path, strerror(errno));
    sg_lines_close(&r);
    return got < 0 ? -1 : 0;
}

sg_message **sg_cli_read_labeled(char **paths, int npaths, size_t *n,
                                 size_t *bad, bool quiet) {
    sg_message **v = NULL;
    size_t cap = 0;
    *n = 0;
    *bad = 0;
    for (int i = 0; i < npaths; i++) {
        if (read_one(paths[i], &v, n, &cap, bad, quiet) != 0) {
            sg_cli_free_messages(v, *n);
            return NULL;
        }
    }
    if (!v) v = calloc(1, sizeof *v);
    return v;
}
