/* Command-line parsing of the corral command (getopt_long). */
#ifndef CORRAL_CLI_OPTS_H
#define CORRAL_CLI_OPTS_H

#include "engine.h"

typedef struct cli_parsed {
  cli_config cfg;
  cli_source *src;     /* owned */
  size_t nsrc;
  char **words;        /* template words (borrowed from argv) */
  size_t nwords;
  char **rf_cmds;      /* owned: --retry-failed, the commands to run again */
  uint64_t *rf_seqs;   /* owned: their sequence numbers */
  int help, version, ncpu; /* ncpu: --number-of-cores and the like */
  int force_commands, view_opt; /* view_opt: -1 auto, 0 off, 1 on */
  char *colsep;        /* owned, as written (input.c reads its escapes) */
  char *delim, *recend, *recstart; /* owned, unescaped */
  char *shell;         /* owned */
  char **iwords;       /* owned: the words after -I STR, NULL-terminated */
  int warn_template;   /* every word has a space and none a {: the template
                          from words that look like commands */
} cli_parsed;

/* Parse argv. Returns 0, or CLI_EXIT_USAGE with a one-line message in err
 * that says what to write instead. stdin_tty / stdin_null describe standard
 * input (they decide whether bare arguments are commands). */
int cli_parse_args(int argc, char **argv, cli_parsed *p, int stdin_tty,
                   int stdin_null, char *err, size_t errlen);
void cli_parsed_free(cli_parsed *p);
/* The shell that runs the commands, as GNU parallel picks it:
 * $PARALLEL_SHELL, else the shell corral was started from (its parent
 * process, when that is a POSIX shell), else $SHELL when it is one, else
 * /bin/sh. malloc'd. */
char *cli_pick_shell(void);

#endif
