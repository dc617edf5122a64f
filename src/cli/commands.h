/*
 * commands.h -- the `spimguard` subcommands (one file each, cmd_*.c) and
 * the helpers they share (cli_io.c).  main.c dispatches through a table.
 *
 * Exit codes, the same for every subcommand:
 *   0  success
 *   1  finished, but some input lines were rejected (each reported on stderr)
 *   2  usage error (unknown option, missing argument)
 *   3  fatal error (cannot open a file, load a model, out of memory)
 */
#ifndef SG_CLI_COMMANDS_H
#define SG_CLI_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#include "spimguard.h"

enum { EXIT_OK = 0, EXIT_BADLINES = 1, EXIT_USAGE = 2, EXIT_FATAL = 3 };

int sg_cmd_scan(int argc, char **argv);
int sg_cmd_check(int argc, char **argv);
int sg_cmd_train(int argc, char **argv);
int sg_cmd_eval(int argc, char **argv);
int sg_cmd_urls(int argc, char **argv);
int sg_cmd_simulate(int argc, char **argv);
int sg_cmd_serve(int argc, char **argv);
int sg_cmd_evidence(int argc, char **argv);

/** Score a simulated stream (eval_stream.c): `stream_path` holds the
 *  simulator's messages with ground truth, `verdicts_path` the verdicts
 *  `spimguard scan` gave for them, line by line.  Prints the compromise
 *  measures (msgs_before_lock_median, msgs_before_lock_p95, false_lock_pct,
 *  attack_recall_pct, ham_blocked_pct) to out, as JSON when json is set.
 *  Returns an exit code (EXIT_OK, EXIT_FATAL). */
int sg_eval_stream(const char *stream_path, const char *verdicts_path,
                   int json, FILE *out) __attribute__((weak));

/* ---- shared helpers (cli_io.c) ---- */

/** A line reader that never holds more than `cap` bytes of a line: longer
 *  lines are skipped to their end and reported as too long. */
typedef struct sg_lines {
    FILE *f;
    const char *name;   /* file name for messages ("<stdin>") */
    char *buf;
    size_t cap;         /* largest line kept, bytes */
    size_t lineno;      /* 1-based number of the line last read */
    bool too_long;      /* the line last read was longer than cap */
    size_t bytes_read;  /* total bytes consumed, for progress */
    size_t total_bytes; /* file size when known (0 for pipes) */
} sg_lines;

/** Open `path` ("-" or NULL = stdin).  Returns 0, or -1 with errno. */
int sg_lines_open(sg_lines *r, const char *path, size_t cap);
/** Next line without its newline (and a final CR) into r->buf; *len gets
 *  its length in bytes: 0 for a line of only spaces and tabs, which callers
 *  skip as empty.  A UTF-8 byte-order mark opening the first line is
 *  dropped.  Returns 1 for a line, 0 at end of input, -1 on read error. */
int sg_lines_next(sg_lines *r, size_t *len);
void sg_lines_close(sg_lines *r);

/** Progress bar on stderr, drawn only when stderr is a terminal. */
void sg_progress(const char *what, size_t done, size_t total);
void sg_progress_end(void);

/** Create an engine with options and load --model (or the default model
 *  when model_path is NULL and use_default is true).  Prints the error and
 *  returns NULL on failure. */
sg_engine *sg_cli_engine(const sg_options *opt, const char *model_path,
                         bool use_default);

/** Read every labeled message of the JSONL files (SG_PARSE_LABELED).
 *  Bad lines are reported on stderr and counted in *bad.  Returns the
 *  array (free with sg_cli_free_messages) or NULL on a fatal error. */
sg_message **sg_cli_read_labeled(char **paths, int npaths, size_t *n,
                                 size_t *bad, bool quiet);
void sg_cli_free_messages(sg_message **v, size_t n);

/** Print "spimguard CMD: " + message to stderr. */
void sg_cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
