/* Job inputs, streamed: `:::` lists, `::::` files, `-a FILE`, standard
 * input; lines (or NUL-terminated records with -0, or records ending with
 * the -d delimiter), split into columns with --colsep. Several sources give
 * their cross product in GNU parallel's order (the last source varies
 * fastest); linked sources (`:::+`, `::::+`, --link) are read in step and
 * give one row per step. The first group of sources is read as a stream;
 * the others are held in memory because the product walks them again for
 * every row of the first (and --link's wrap-around needs their lengths).
 *
 * Rows become jobs: one row per job, -N rows per job, or with -m / -X as
 * many rows as fit in --max-chars (a short input is spread over the job
 * slots, as GNU parallel does). --pipe reads blocks of records instead
 * (cli_input_block). */
#ifndef CORRAL_CLI_INPUT_H
#define CORRAL_CLI_INPUT_H

#include "template.h"

typedef enum { CLI_SRC_LIST, CLI_SRC_FILE } cli_src_kind;

typedef struct cli_source {
  cli_src_kind kind;
  char **values;      /* CLI_SRC_LIST: borrowed */
  size_t n;
  const char *path;   /* CLI_SRC_FILE: "-" is standard input */
  int linked;         /* :::+ / ::::+: in step with the previous source */
} cli_source;

#define CLI_TRIM_L 1
#define CLI_TRIM_R 2

typedef struct cli_input_opts {
  const cli_source *src; /* nsrc == 0: standard input */
  size_t nsrc;
  char sep;              /* record separator: '\n' (default) or '\0' */
  const char *delim;     /* -d: records end with this string (overrides sep) */
  const char *colsep;    /* NULL: one column per record. A Perl-style
                            regular expression (\s \d \w \t understood); a
                            separator without regex syntax is literal */
  int link;              /* --link: every source in step, shorter ones wrap */
  const char *eof_str;   /* -E STR: a record equal to STR ends its source */
  int trim;              /* CLI_TRIM_L | CLI_TRIM_R: spaces and tabs */
  int header;            /* --header: each source's first record names it */
  size_t max_args;       /* -N / -n / -L: rows per job (0 or 1: one) */
  int no_args;           /* -N 0: one row per job, its values not used */
  int batch;             /* -m / -X: rows per job up to max_chars */
  size_t max_chars;      /* -s (0: 65536) */
  unsigned jobs;         /* batch: a short input is spread over this many */
  const cli_template *tmpl; /* batch: measures the command line */
  int read_all;          /* read the whole input first: the total is known */
  int shuffle;           /* --shuf: the jobs in random order (reads it all) */
  /* --pipe */
  int pipe;
  uint64_t block;        /* bytes per block (0: 1 MB) */
  const char *recend;    /* NULL: "\n" (or "" when recstart is given) */
  const char *recstart;  /* NULL: "" */
  /* Optional: called before a read of a descriptor that is not a regular
   * file; returns once it is readable (0) or an error (< 0). Lets a task
   * wait without blocking the runtime. */
  int (*wait_readable)(int fd, void *ctx);
  void *wait_ctx;
} cli_input_opts;

typedef struct cli_input cli_input;

/* 0, or -errno with a message in err (which file could not be opened, or
 * the --colsep that is not a regular expression: -EINVAL). */
int cli_input_open(const cli_input_opts *o, cli_input **out, char *err,
                   size_t errlen);
/* Next job's values into *a (a->v owned by the caller: cli_args_free).
 * Returns 1, 0 at the end, or -errno. Seq / slot are left to the caller;
 * a->names points into the input (valid until cli_input_close). */
int cli_input_next(cli_input *in, cli_args *a);
/* --pipe: the next block of whole records into *data (malloc'd, *len
 * bytes). 1, 0 at the end, or -errno. */
int cli_input_block(cli_input *in, char **data, size_t *len);
/* 1 once, after a record held a NUL (replaced by the two characters \0:
 * no argument can hold one): the caller warns (without -0 / --null). */
int cli_input_nul_warning(cli_input *in);
/* 1 if the input may be endless (a pipe or terminal is streamed). */
int cli_input_endless(const cli_input *in);
/* The number of jobs when it is known without reading further (lists, or
 * read_all), else 0. */
uint64_t cli_input_total(const cli_input *in);
void cli_input_close(cli_input *in);

/* Decode the C escapes users write in --colsep and -d ("\t", "\n", "\\"). */
char *cli_unescape(const char *s);

#endif
