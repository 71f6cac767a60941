/* Termination sequences of the corral command (--term-seq); the processes
 * themselves are libcorral's (corral/process.h). */
#ifndef CORRAL_CLI_PROC_H
#define CORRAL_CLI_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* --term-seq: signals and the time to wait after each one. */
#define CLI_TERMSEQ_MAX 16
typedef struct cli_termseq {
  struct { int sig; int64_t wait_ns; } step[CLI_TERMSEQ_MAX];
  size_t n;
} cli_termseq;

/* "TERM,2s,KILL" or GNU parallel's "TERM,200,TERM,100,KILL,25" (a bare
 * number is milliseconds there, as in GNU parallel). Signal names with or
 * without SIG, or numbers. A sequence that does not end with KILL is
 * followed by one: no process survives. 0 or -1 with a hint in err. */
int cli_termseq_parse(const char *s, cli_termseq *ts, char *err, size_t errlen);
/* The default: TERM, 2 s, KILL. */
void cli_termseq_default(cli_termseq *ts);
/* "TERM" for SIGTERM, or the number. */
const char *cli_signame(int sig, char *buf, size_t len);

#endif
