/* Job inputs, streamed: `:::` lists, `::::` files, `-a FILE`, standard
 * input; lines (or NUL-terminated records with -0), split into columns with
 * --colsep. Several sources give their cross product in GNU parallel's
 * order (the last source varies fastest). Only the first source is read as
 * a stream; the others are held in memory because the product walks them
 * again for every value of the first. */
#ifndef CORRAL_CLI_INPUT_H
#define CORRAL_CLI_INPUT_H

#include "template.h"

typedef enum { CLI_SRC_LIST, CLI_SRC_FILE } cli_src_kind;

typedef struct cli_source {
  cli_src_kind kind;
  char **values;      /* CLI_SRC_LIST: borrowed */
  size_t n;
  const char *path;   /* CLI_SRC_FILE: "-" is standard input */
} cli_source;

typedef struct cli_input_opts {
  const cli_source *src; /* nsrc == 0: standard input */
  size_t nsrc;
  char sep;              /* record separator: '\n' (default) or '\0' */
  const char *colsep;    /* NULL: one column per record */
  /* Optional: called before a read of a descriptor that is not a regular
   * file; returns once it is readable (0) or an error (< 0). Lets a task
   * wait without blocking the runtime. */
  int (*wait_readable)(int fd, void *ctx);
  void *wait_ctx;
} cli_input_opts;

typedef struct cli_input cli_input;

/* 0, or -errno with a message in err (which file could not be opened). */
int cli_input_open(const cli_input_opts *o, cli_input **out, char *err,
                   size_t errlen);
/* Next job's values into *a (a->v owned by the caller: cli_args_free).
 * Returns 1, 0 at the end, or -errno. Seq / slot are left to the caller. */
int cli_input_next(cli_input *in, cli_args *a);
/* 1 if the input may be endless (a pipe or terminal is streamed). */
int cli_input_endless(const cli_input *in);
void cli_input_close(cli_input *in);

/* Decode the C escapes users write in --colsep ("\t", "\n", "\\"). */
char *cli_unescape(const char *s);

#endif
