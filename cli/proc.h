/* Child processes of the corral command: spawned in their own process
 * group, waited for from a task (cancellable), ended with a termination
 * sequence, reaped before the wait returns. */
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

typedef enum { CLI_IO_INHERIT, CLI_IO_NULL, CLI_IO_PIPE, CLI_IO_FD } cli_io;

typedef struct cli_proc_opts {
  char **argv;          /* argv[0] is looked up in PATH */
  const char *cwd;      /* NULL: ours */
  char **env;           /* NULL: ours */
  cli_io io[3];         /* stdin, stdout, stderr */
  int fd[3];            /* CLI_IO_FD */
  /* CLI_IO_PIPE output arrives here (which: 1 stdout, 2 stderr); n == 0 is
   * the end of that stream. Called from the loop, never inside a task. */
  void (*on_data)(void *ctx, int which, const char *p, size_t n);
  void *ctx;
} cli_proc_opts;

typedef struct cli_proc cli_proc;

/* TASK ONLY. Start a child in its own process group (it leads it). Returns
 * 0 or a negative errno (-ENOENT: no such program, -EACCES ...). */
int cli_proc_spawn(const cli_proc_opts *o, cli_proc **out);
/* BLOCKS until the child exited and its output streams ended. When the
 * waiting task is cancelled, the process group gets the termination
 * sequence (ts) and the call returns CORRAL_ECANCELED only after the child
 * is reaped. After the leader exited, what is left of its process group is
 * ended with the same sequence: a job leaves nothing behind. 0 or
 * CORRAL_ECANCELED. */
int cli_proc_wait(cli_proc *p, const cli_termseq *ts);
pid_t cli_proc_pid(const cli_proc *p);
int cli_proc_exited(const cli_proc *p);
int cli_proc_exit_status(const cli_proc *p); /* valid once exited */
int cli_proc_term_signal(const cli_proc *p); /* 0 if it exited normally */
/* Send sig to the whole process group (0 or -errno). */
int cli_proc_signal(cli_proc *p, int sig);
/* Release (after cli_proc_wait returned). */
void cli_proc_free(cli_proc *p);

#endif
