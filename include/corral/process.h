/* corral subprocesses: child processes owned by the code that started them.
 *
 * Each child leads its own session and process group (setsid), so a signal
 * sent to the process reaches everything it started that stayed in the
 * group, and the terminal's Ctrl-C reaches only the parent, which decides.
 * A child is never left behind:
 *   - corral_process_wait, when the waiting task is cancelled, sends the
 *     group SIGTERM (or opts.term_signal), then SIGKILL after the grace
 *     period, and returns only once the child is reaped;
 *   - corral_process_close kills (SIGKILL) what is left of a child and of its
 *     group, and reaps the child;
 *   - processes still open when corral_run ends are closed the same way;
 *     one still running then is reported on corral_options.report (by
 *     pid): the program forgot it.
 * Descendants that leave the group (setsid, double fork) are out of reach
 * of process groups; a program that must catch them too can make itself a
 * subreaper (Linux prctl PR_SET_CHILD_SUBREAPER): the calls here then also
 * reap the group's orphans that come to it.
 *
 * A child's pipes are corral streams (corral/stream.h): writing to a child
 * that has gone returns CORRAL_EPIPE and never raises SIGPIPE (the
 * application's SIGPIPE disposition is left as it is).
 *
 * Descriptors: the child gets stdio[0..2] as asked, plus every descriptor
 * of the process that is not marked close-on-exec (a pipe(2), open(2) or
 * socket(2) without O_CLOEXEC / SOCK_CLOEXEC, in any thread): a child
 * holding a pipe's write end keeps its reader from seeing end of file.
 * Open descriptors with O_CLOEXEC (corral's own all are) or set FD_CLOEXEC
 * with fcntl before spawning.
 *
 * The virtual clock (corral_options.virtual_clock) does not reach into
 * children: a child runs in real time, and waiting for it does not move
 * virtual time. Grace periods (kill_grace_ns, term_seq) are timers of the
 * runtime's clock, so on the virtual clock they are virtual: with nothing
 * else to run they pass at once (autojump), the child gets SIGKILL with
 * no real wait after SIGTERM, unless autojump_threshold_ns gives it that
 * much real time first. See docs/processes.md. Included by corral.h. */
#ifndef CORRAL_PROCESS_H
#define CORRAL_PROCESS_H

#include "../corral.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corral_process corral_process;

typedef enum {
  CORRAL_STDIO_INHERIT = 0, /* the parent's descriptor 0, 1 or 2 */
  CORRAL_STDIO_NULL,        /* /dev/null */
  CORRAL_STDIO_PIPE,        /* a stream (corral_process_stream) */
  CORRAL_STDIO_FD,          /* the descriptor `fd` (stays open in the parent) */
  CORRAL_STDIO_FILE         /* the file `path`: read for stdin; for output
                               created / truncated (or `append`), mode 0666
                               minus the umask */
} corral_stdio_mode;

typedef struct corral_stdio {
  corral_stdio_mode mode;
  int fd;            /* CORRAL_STDIO_FD */
  const char *path;  /* CORRAL_STDIO_FILE (borrowed during the spawn call) */
  int append;        /* CORRAL_STDIO_FILE, output: append */
} corral_stdio;

/* One step of a termination sequence: send signum, then wait up to wait_ns
 * for the child to exit before the next step. */
typedef struct corral_term_step {
  int signum;
  int64_t wait_ns;
} corral_term_step;

typedef struct corral_process_opts {
  const char *const *argv; /* argv[0] is searched in PATH; NULL-terminated */
  const char *const *env;  /* "NAME=value", NULL-terminated; NULL: ours */
  const char *cwd;         /* NULL: ours; checked by the spawn (a missing
                              directory is its CORRAL_ENOENT) */
  corral_stdio stdio[3];   /* stdin, stdout, stderr (zeroed: inherit) */
  int term_signal;         /* first signal when cancelled; 0: SIGTERM */
  int64_t kill_grace_ns;   /* then SIGKILL after this; 0: 2 s; < 0: SIGKILL
                              at once */
  /* Optional: the whole termination sequence instead of the two fields
   * above (GNU parallel's --termseq, e.g. TERM 200ms, TERM 100ms, KILL).
   * Copied at spawn (at most 16 steps). SIGKILL always follows the last
   * step if the child is still there. */
  const corral_term_step *term_seq;
  size_t term_seq_len;
  /* Linux: start the child inside this cgroup v2 (a descriptor of its
   * directory, opened with O_DIRECTORY), atomically (clone3 with
   * CLONE_INTO_CGROUP), so that nothing it starts can be outside it.
   * <= 0: none. Where the kernel cannot (before 5.7), the spawn fails with
   * -ENOSYS or the kernel's error. */
  int cgroup_fd;
} corral_process_opts;

/* TASK ONLY. Start a child. Not a cancellation point; on Linux, while
 * other children of the runtime are alive, other tasks may run before it
 * returns (the spawn's wait for the child's exec is made on an offload
 * thread: docs/processes.md). Returns 0 and *out (close it with
 * corral_process_close), or CORRAL_ENOENT (no such program, looked up in
 * the PATH of opts.env when given), -EACCES, CORRAL_EINVAL (no argv, bad
 * stdio), CORRAL_ENOMEM, another negative errno of posix_spawn / fork /
 * exec / open (-E2BIG, -ENOEXEC: on Linux's posix_spawn path every exec
 * failure is the spawn's; a forked child whose exec fails exits with 127),
 * CORRAL_EAGAIN, CORRAL_ENOTASK. On error nothing runs and *out is NULL.
 * The child inherits every descriptor not marked close-on-exec. */
CORRAL_NODISCARD CORRAL_API int corral_process_spawn(const corral_process_opts *opts,
                                    corral_process **out);

/* The child's pid (also its process group and session id). */
CORRAL_API int corral_process_pid(const corral_process *p);

/* The stream of the child's descriptor fd (0: write to its stdin; 1, 2:
 * read its output), or NULL if that one is not CORRAL_STDIO_PIPE. Owned by
 * the process: valid until corral_process_close, which closes it; do not
 * close it yourself. corral_stream_shutdown on stdin's stream gives the
 * child end of file. */
CORRAL_API corral_stream *corral_process_stream(corral_process *p, int fd);

/* BLOCKS until the child exits; a cancellation point. Returns 0 with
 * *exit_status (its exit code, or -1 when a signal ended it) and
 * *term_signal (the signal, or 0); either pointer may be NULL. If the
 * waiting task is cancelled, the child's process group gets the
 * termination sequence (opts.term_signal, grace, SIGKILL) and the call
 * returns CORRAL_ECANCELED after the child is reaped, with the status
 * filled. An exit that arrives with the cancellation wins (returns 0).
 * If even the SIGKILL cannot be sent (kill(2) fails: -EPERM), the call
 * returns that error instead of waiting for an exit that will not come;
 * the child is then still running and corral_process_close kills it.
 * After the child exited, returns at once (any number of times). Any
 * number of tasks may wait at once (as asyncio's Process.wait and Trio's
 * Process.wait): the exit wakes them all with the same status. When one
 * of them is cancelled, that one runs the termination sequence; the
 * others get the status it ends with (0), and a second cancelled waiter
 * waits for that end too (CORRAL_ECANCELED, status filled). Also
 * CORRAL_ECLOSED (corral_process_close ran meanwhile), -ECHILD (someone
 * else reaped the child, e.g. a SIGCHLD handler of the program calling
 * waitpid(-1): its status is unknown; *exit_status is -1 and *term_signal
 * 0), CORRAL_ENOMEM,
 * CORRAL_EINVAL, CORRAL_EFOREIGN, CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_process_wait(corral_process *p, int *exit_status,
                                   int *term_signal);

/* Send signum to the child's whole process group (signum 0 tests that it
 * is there). Does not block. 0, -ESRCH when it has been reaped,
 * CORRAL_EINVAL. */
CORRAL_API int corral_process_signal(corral_process *p, int signum);

/* Close the process and its streams (NULL is fine). A child that has not
 * exited is killed (SIGKILL to its group) and reaped at once; what is left
 * of its group is killed too. A task blocked in corral_process_wait on it
 * wakes with CORRAL_ECLOSED. Does not park the task (it waits only the
 * moment the kernel takes to end a SIGKILLed process). */
CORRAL_API void corral_process_close(corral_process *p);

/* What corral_process_run collected. */
typedef struct corral_completed {
  int exit_status;      /* exit code, or -1 when a signal ended it */
  int term_signal;      /* 0 or the signal */
  char *out, *err;      /* NUL-terminated (also when empty), malloc'd */
  size_t out_len, err_len;
  int out_truncated;    /* 1: more than max_output bytes came; the rest
                           was read and dropped */
  int err_truncated;
} corral_completed;

/* BLOCKS. Python's subprocess.run(capture_output=True, input=...) /
 * asyncio's communicate(): spawn opts (stdout and stderr become pipes;
 * stdin too when input != NULL), write input (then close stdin), collect
 * both outputs (each up to max_output bytes; 0: 64 MiB) and wait; what the
 * child left running in its process group is then killed (it would hold
 * the pipes open). A process that left the group (setsid) can still hold
 * them: after the exit the outputs are read while bytes come and given up
 * once a pipe has been silent for 100 ms, or 1 s after the exit
 * whatever comes, so the call never waits for such a process to end
 * (Python's run would). Returns 0
 * when the child ran (whatever its exit status: look at *res), a spawn
 * error, or CORRAL_ECANCELED (the child was terminated and reaped; *res has
 * what came until then). Release *res with corral_completed_clear. */
CORRAL_NODISCARD CORRAL_API int corral_process_run(const corral_process_opts *opts,
                                  const void *input, size_t input_len,
                                  size_t max_output, corral_completed *res);
/* Frees out and err and zeroes the whole struct (exit_status and
 * term_signal become 0 too): read what you need before. NULL is a no-op. */
CORRAL_API void corral_completed_clear(corral_completed *res);

#ifdef __cplusplus
}
#endif
#endif /* CORRAL_PROCESS_H */
