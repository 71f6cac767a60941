/* Internal to the subprocess family (process.c: the calls and the fork
 * path; process_posix.c: posix_spawn and the pidfd; process_run.c). */
#ifndef CORRAL_IO_PROCESS_H
#define CORRAL_IO_PROCESS_H

#include "io/io.h"

#ifdef __linux__
#include <sys/syscall.h>
#endif

/* posix_spawn with file actions that change directory (glibc 2.29) and a
 * pidfd (Linux 5.3): the fast path (process_posix.c). */
#if defined(__linux__) && defined(__GLIBC__) && defined(SYS_pidfd_open) &&      \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
#define CORRAL__FAST_SPAWN 1
#else
#define CORRAL__FAST_SPAWN 0
#endif

/* The runtime's live children and the SIGCHLD watcher that reaps them. */
typedef struct corral__children {
  uv_signal_t sig;
  corral__handle reg;
  corral__rt *rt;
  corral__list live; /* corral_process.node, not yet reaped */
  int watching, closed;
  int nfast; /* children of the fast path not yet reaped */
} corral__children;

typedef struct corral__pidfd_watch corral__pidfd_watch;

struct corral_process {
  corral__list node;    /* fork path: in children.live until reaped */
  corral__rt *rt;
  corral__handle reg;
  corral__children *tab;
  int pid;
  int pidfd;            /* fast path: until reaped; else -1 */
  int counted;          /* fast path: in tab->nfast */
  corral__pidfd_watch *watch; /* fast path: the poll watcher on pidfd */
  int exited, exit_status, term_signal;
  int lost;       /* reaped by someone else: the status is unknown */
  int handle_closed;
  int free_later; /* closed while tasks waited: the last one frees it */
  int killing;    /* a cancelled waiter runs the termination sequence */
  int ending;     /* a cancelled waiter ends the group (not a waiter then) */
  /* Tasks parked until the exit (corral_process_wait, any number of them,
   * as asyncio's and Trio's wait): the first two in wbuf, more on the
   * heap (waiters). A woken task takes itself out when it runs again; p
   * stays allocated until then. */
  corral_task *wbuf[2];
  corral_task **waiters;
  unsigned nwait, capwait;
  corral_term_step seq[16];
  size_t nseq;
  corral_stream *streams[3];
};


/* process.c: signal the child's group (the child itself until it has
 * one); reap the group's members that are our children; free p. */
CORRAL__HIDDEN int corral__process_signal_group(corral_process *p, int sig);
CORRAL__HIDDEN void corral__process_reap_group(corral_process *p);
CORRAL__HIDDEN void corral__process_free(corral_process *p);
/* process_wait.c: wake every task waiting for p's exit with code (a task
 * no longer parked is left alone). */
CORRAL__HIDDEN void corral__process_wake_waiters(corral_process *p, int code);

/* TASK ONLY. Kill (SIGKILL) what is left of p's process group and park,
 * unabortably and for at most a second, until it is gone, reaping the
 * members that became the caller's children. */
CORRAL__HIDDEN void corral__process_end_group(corral_process *p);

/* The child is gone: its exit code, or -1 and the signal that ended it
 * (or a wait status). Wakes the waiting task. */
CORRAL__HIDDEN void corral__process_reaped_as(corral_process *p, int exit_status,
                                              int term_signal);
CORRAL__HIDDEN void corral__process_reaped(corral_process *p, int status);
/* The child is gone but someone else reaped it (a waitpid(-1) in the
 * application): its status is unknown, and the wait says so (-ECHILD). */
CORRAL__HIDDEN void corral__process_lost(corral_process *p);

/* process_posix.c. Stop watching p's pidfd and close it (no-op without). */
CORRAL__HIDDEN void corral__process_unwatch(corral_process *p);
/* Does a child with these options start by posix_spawn? */
CORRAL__HIDDEN int corral__process_use_fast(const corral_process_opts *o);
/* 1 when a child with default options starts by posix_spawn and is
 * watched on a pidfd (the fast path); 0 when it is forked (tests). */
CORRAL__HIDDEN int corral__process_fast(void);
#if CORRAL__FAST_SPAWN
/* Start p's child: src[i] becomes its descriptor i (-1: inherited). 0 or
 * an error; on error no child is left. */
CORRAL__HIDDEN int corral__process_spawn_fast(corral_process *p, const char *file,
                                              const corral_process_opts *o,
                                              const int src[3]);
/* Reap p's child if it has ended (block: once it has). 1 when reaped. */
CORRAL__HIDDEN int corral__process_reap_fast(corral_process *p, int block);
#endif

#endif
