/* Waiting for a child (include/corral/process.h): any number of tasks
 * park until the exit; a cancelled waiter runs the termination sequence
 * with unabortable parks and returns only once the child is reaped; the
 * group's leftovers are killed and reaped (corral__process_end_group). */
#include "io/process.h"
#include "ground/fault.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the tasks waiting for the exit ---- */

static corral_task **waiter_slots(corral_process *p) {
  return p->waiters ? p->waiters : p->wbuf;
}

static int waiter_add(corral_process *p, corral_task *t) {
  unsigned cap = p->waiters ? p->capwait : 2;
  if (p->nwait == cap) {
    unsigned ncap = cap * 2;
    corral_task **w = corral__calloc(p->rt, ncap * sizeof *w);
    if (!w) return CORRAL_ENOMEM;
    memcpy(w, waiter_slots(p), p->nwait * sizeof *w);
    corral__free(p->rt, p->waiters);
    p->waiters = w;
    p->capwait = ncap;
  }
  waiter_slots(p)[p->nwait++] = t;
  return 0;
}

static void waiter_remove(corral_process *p, corral_task *t) {
  corral_task **w = waiter_slots(p);
  for (unsigned i = 0; i < p->nwait; i++)
    if (w[i] == t) {
      w[i] = w[--p->nwait];
      return;
    }
}

void corral__process_wake_waiters(corral_process *p, int code) {
  corral_task **w = waiter_slots(p);
  for (unsigned i = 0; i < p->nwait; i++) corral__wake(w[i], code);
}

/* After a park in corral_process_wait (the caller has left the waiters):
 * p was closed meanwhile, and the last waiter to run frees it. */
static bool closed_after_wait(corral_process *p) {
  if (!p->free_later) return false;
  if (p->nwait == 0 && !p->ending) corral__process_free(p);
  return true;
}

/* Park without being abortable until the exit callback ran or the deadline
 * passed. Returns 1 if the child has exited. */
static int park_exit(corral_task *self, corral_process *p, int64_t deadline) {
  while (!p->exited && !p->handle_closed) {
    if (waiter_add(p, self)) { /* no memory: look again in a millisecond */
      int64_t soon = corral_now() + 1000000;
      if (corral__park(self, CORRAL__W_PROCESS, CORRAL__UNABORTABLE,
                       deadline < soon ? deadline : soon) == CORRAL_ETIMEDOUT &&
          corral_now() >= deadline)
        break;
      continue;
    }
    int rc = corral__park(self, CORRAL__W_PROCESS, CORRAL__UNABORTABLE, deadline);
    waiter_remove(p, self);
    if (rc == CORRAL_ETIMEDOUT) break;
  }
  return p->exited;
}

/* Kill what is left of the group and wait (at most a second) until it is
 * gone, reaping the members that became our children; zombies whose parent
 * is elsewhere are that parent's to reap. Unabortable. */
/* Is a process of group pgid still running? Zombies do not count: their
 * reaping is their parent's (init's, for orphans). */
static int group_running(int pgid) {
  if (kill(-pgid, 0) != 0) return 0;
#ifdef __linux__
  DIR *d = opendir("/proc");
  if (!d) return 1;
  int live = 0;
  struct dirent *de;
  while (!live && (de = readdir(d))) {
    if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
    char path[300], buf[256];
    snprintf(path, sizeof path, "/proc/%.255s/stat", de->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    char *rp = strrchr(buf, ')');
    char st;
    int ppid, pgrp;
    if (rp && sscanf(rp + 2, "%c %d %d", &st, &ppid, &pgrp) == 3 && pgrp == pgid &&
        st != 'Z' && st != 'X')
      live = 1;
  }
  closedir(d);
  return live;
#else
  return 1;
#endif
}

void corral__process_end_group(corral_process *p) {
  corral_task *self = corral__self();
  if (!self) return;
  if (kill(-p->pid, 0) != 0) return;
  kill(-p->pid, SIGKILL);
  int64_t end = corral_now() + 1000000000LL;
  for (;;) {
    corral__process_reap_group(p);
    if (!group_running(p->pid) || corral_now() >= end) {
      corral__process_reap_group(p); /* one may have died between the reap and the check */
      break;
    }
    (void)corral__park(self, CORRAL__W_PROCESS, CORRAL__UNABORTABLE,
                       corral_now() + 2000000);
  }
}

/* The status for the caller: 0, or -ECHILD when the child was reaped by
 * someone else (its status is unknown: never reported as a success). */
static int fill(const corral_process *p, int *es, int *ts) {
  if (es) *es = p->exit_status;
  if (ts) *ts = p->term_signal;
  if (!p->lost) return 0;
  return corral_errorf(-ECHILD,
                       "child %d was reaped by someone else (a waitpid(-1) or a "
                       "SIGCHLD handler in the program?): its exit status is unknown",
                       p->pid);
}

int corral_process_wait(corral_process *p, int *exit_status, int *term_signal) {
  corral_task *self = corral__self();
  int rc = corral__io_check(self, p ? p->rt : NULL);
  if (rc) return rc;
  if (!p) return CORRAL_EINVAL;
  if (p->exited) return fill(p, exit_status, term_signal);
  if (p->handle_closed) return CORRAL_ECLOSED;
  rc = waiter_add(p, self);
  if (rc) return rc;
  rc = corral__park(self, CORRAL__W_PROCESS, NULL, CORRAL_FOREVER);
  waiter_remove(p, self);
  if (closed_after_wait(p)) return CORRAL_ECLOSED;
  if (p->exited) /* the exit won the race with a cancellation */
    return fill(p, exit_status, term_signal);
  if (rc == 0) rc = CORRAL_ECANCELED;
  if (p->handle_closed) return CORRAL_ECLOSED;
  while (p->killing) {
    /* Another cancelled waiter runs the termination sequence: wait for
     * its end (unabortably, as that waiter does), looking again every
     * 100 ms: if that waiter gave up (its SIGKILL failed), this one runs
     * the sequence itself and gets the error too. */
    park_exit(self, p, corral__deadline_after(self->rt, 100 * 1000000LL));
    if (closed_after_wait(p)) return CORRAL_ECLOSED;
    if (p->exited) {
      (void)fill(p, exit_status, term_signal);
      return rc;
    }
    if (p->handle_closed) return CORRAL_ECLOSED;
  }
  p->killing = 1;
  /* Cancelled: the termination sequence, then always the reap. */
  for (size_t i = 0; i < p->nseq && !p->exited; i++) {
    corral__process_signal_group(p, p->seq[i].signum);
    corral__process_signal_group(p, SIGCONT); /* a stopped child must run to see it */
    if (p->seq[i].wait_ns > 0)
      park_exit(self, p, corral__deadline_after(self->rt, p->seq[i].wait_ns));
    if (p->handle_closed) break;
  }
  if (!p->exited && !p->handle_closed) {
    int k = corral__process_signal_group(p, SIGKILL);
    /* A child that cannot be killed would be waited for forever: the
     * caller gets kill's error, and corral_process_close tries again. */
    if (k != 0 && !p->exited) {
      p->killing = 0;
      return k;
    }
    park_exit(self, p, CORRAL_FOREVER);
  }
  p->killing = 0;
  if (closed_after_wait(p)) return CORRAL_ECLOSED;
  /* Ending the group parks: a close meanwhile (by a waiter the exit woke)
   * leaves p to this task (free_later). */
  p->ending = 1;
  corral__process_end_group(p);
  p->ending = 0;
  (void)fill(p, exit_status, term_signal);
  (void)closed_after_wait(p);
  return rc;
}

