/* posix_spawn and the pidfd: the fast path of the subprocess family
 * (process.c has the calls and the fork path; docs/processes.md). */
#include "io/process.h"
#include "io/threads.h"
#include "ground/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if CORRAL__FAST_SPAWN
#include <poll.h>
#include <spawn.h>
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
extern char **environ;
#endif

/* ------------------------------------------------ the fast path's watch */

/* The poll watcher on a child's pidfd: its own allocation, since libuv
 * finishes closing a handle after the process may have been freed. */
struct corral__pidfd_watch {
  uv_poll_t h;
  corral__rt *rt;
  corral_process *p; /* NULL once the process let go of it */
};

static void on_watch_closed(uv_handle_t *h) {
  corral__pidfd_watch *w = h->data;
  corral__free(w->rt, w);
}

/* Stop watching and close the pidfd (the poll watcher leaves the epoll set
 * inside uv_close, so the descriptor may be closed right after). */
void corral__process_unwatch(corral_process *p) {
  if (p->watch) {
    p->watch->p = NULL;
    uv_close((uv_handle_t *)&p->watch->h, on_watch_closed);
    p->watch = NULL;
  }
  if (p->pidfd >= 0) {
    close(p->pidfd);
    p->pidfd = -1;
  }
}

#if CORRAL__FAST_SPAWN
/* Reap the child of the fast path if it has ended (block: wait until it
 * has). Returns 1 when it was reaped. waitid(P_PIDFD) names this child and
 * no other; if it fails (a kernel before 5.4 has pidfd_open but not
 * P_PIDFD) waitpid by pid does the same. A child someone else reaped
 * (SIGCHLD ignored, a waitpid(-1) elsewhere) counts as exit status 0. */
int corral__process_reap_fast(corral_process *p, int block) {
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (CORRAL__SYS("process_waitid", EINVAL,
                    waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG)) == 0) {
      if (si.si_pid != 0) {
        if (si.si_code == CLD_EXITED)
          corral__process_reaped_as(p, si.si_status, 0);
        else
          corral__process_reaped_as(p, -1, si.si_status);
        return 1;
      }
      if (!block) return 0;
      struct pollfd pf = {.fd = p->pidfd, .events = POLLIN};
      (void)poll(&pf, 1, -1); /* EINTR: look again */
      continue;
    }
    if (errno == ECHILD) {
      corral__process_lost(p);
      return 1;
    }
    int st = 0;
    pid_t r = waitpid(p->pid, &st, block ? 0 : WNOHANG);
    if (r == p->pid) {
      corral__process_reaped(p, st);
      return 1;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      corral__process_lost(p);
      return 1;
    }
    return 0;
  }
}

static void on_pidfd(uv_poll_t *h, int status, int events) {
  (void)status, (void)events;
  corral__pidfd_watch *w = h->data;
  if (w->p) (void)corral__process_reap_fast(w->p, 0);
}

/* Watch p->pidfd: 0, or an error (the caller kills and reaps the child). */
static int watch_pidfd(corral_process *p) {
  corral__pidfd_watch *w = corral__calloc(p->rt, sizeof *w);
  if (!w) return CORRAL_ENOMEM;
  int rc = CORRAL__UV("process_poll_init", ENOMEM, uv_poll_init(p->rt->loop, &w->h, p->pidfd));
  if (rc) {
    corral__free(p->rt, w);
    return rc;
  }
  w->rt = p->rt;
  w->p = p;
  w->h.data = w;
  p->watch = w;
  rc = CORRAL__UV("process_poll_start", ENOMEM, uv_poll_start(&w->h, UV_READABLE, on_pidfd));
  return rc;
}

/* Is the fast path there? pidfd_open (Linux 5.3) on ourselves, asked once
 * per process; CORRAL_PROCESS_SPAWN=fork in the environment turns it off. */
static int fast_available(void) {
  static _Atomic int state; /* 0: not asked, 1: yes, -1: no */
  int s = state;
  if (s) return s > 0;
  const char *force = getenv("CORRAL_PROCESS_SPAWN");
  if (force && !strcmp(force, "fork")) {
    s = -1;
  } else {
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (fd >= 0) {
      close(fd);
      s = 1;
    } else if (errno == ENOSYS || errno == EPERM || errno == EINVAL) {
      s = -1; /* an old kernel, or a filter that refuses the call */
    } else {
      return 1; /* EMFILE and the like: the spawn reports it */
    }
  }
  state = s;
  return s > 0;
}
#endif

int corral__process_use_fast(const corral_process_opts *o) {
#if CORRAL__FAST_SPAWN
  return o->cgroup_fd <= 0 && fast_available();
#else
  (void)o;
  return 0;
#endif
}

int corral__process_fast(void) { return corral__process_use_fast(&(corral_process_opts){0}); }

#if CORRAL__FAST_SPAWN
/* glibc keeps two signals for itself (SIGRTMIN - 2 and - 1: thread
 * cancellation and set*id broadcasts); sigfillset and sigaddset leave
 * them out, and its posix_spawn then sets them to SIG_IGN in the child,
 * which an ignored signal keeps across exec. A forked child gets them at
 * SIG_DFL: so does this one. sigset_t is an array of unsigned long with
 * signal n at bit n - 1 (the kernel's layout). */
static void add_internal_signals(sigset_t *set) {
  unsigned long *w = (unsigned long *)(void *)set;
  const unsigned bits = 8 * sizeof *w;
  for (int sig = 32; sig < SIGRTMIN; sig++)
    w[(unsigned)(sig - 1) / bits] |= 1UL << ((unsigned)(sig - 1) % bits);
}

/* One posix_spawn. The calling thread stays in the kernel until the child
 * has called exec (or failed to): made on a worker thread (corral's offload
 * pool), that wait overlaps with the runtime's other work and other
 * spawns, as Go's runtime does with its threads. The calling task waits in
 * a shielded scope: the spawn is not a cancellation point, and the child
 * is never left without an owner. Inline when no worker can take it. */
typedef struct {
  const char *file;
  const posix_spawn_file_actions_t *fa;
  const posix_spawnattr_t *at;
  char *const *argv, *const *envp;
  pid_t pid;
  int err;
} spawn_call;

static int spawn_call_run(void *arg, void **result) {
  (void)result;
  spawn_call *c = arg;
  c->err = posix_spawn(&c->pid, c->file, c->fa, c->at, c->argv, c->envp);
  return 0;
}

/* 0 or a positive errno (posix_spawn's); a negative corral code when no
 * worker could take the call. */
static int spawn_call_now(spawn_call *c, int offload) {
  corral_scope s;
  memset(&s, 0, sizeof s); /* never mistaken for a scope still entered */
  if (offload && corral_scope_enter(&s, &(corral_scope_opts){.shield = 1,
                                                             .name = "process_spawn"}) == 0) {
    c->err = 0;
    int rc = corral_to_thread(spawn_call_run, c, NULL,
                              &(corral_thread_opts){.name = "posix_spawn"});
    CORRAL_IGNORE(corral_scope_exit(&s, 0));
    return rc ? rc : c->err;
  }
  spawn_call_run(c, NULL);
  return c->err;
}

/* posix_spawn: the child leads its own session and group (SETSID), its
 * signal mask is empty and every signal at its default action (SETSIGMASK,
 * SETSIGDEF), src[i] becomes its descriptor i (-1: ours, inherited, made
 * inheritable if it is close-on-exec), then it changes to opts.cwd. Then
 * the pidfd and its watcher. 0 or an error; on error no child is left. */
int corral__process_spawn_fast(corral_process *p, const char *file, const corral_process_opts *o,
                      const int src[3]) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  int moved[3] = {-1, -1, -1};
  int rc = posix_spawn_file_actions_init(&fa);
  if (rc) return -rc;
  rc = posix_spawnattr_init(&at);
  if (rc) {
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
  }
  for (int i = 0; i < 3 && rc == 0; i++) {
    int s = src[i];
    if (s >= 0 && s <= 2) {
      /* Above 2 first, so that a source is never another's target. */
      s = moved[i] = fcntl(s, F_DUPFD_CLOEXEC, 3);
      if (s < 0) {
        rc = errno;
        break;
      }
    }
    if (s >= 0) {
      rc = posix_spawn_file_actions_adddup2(&fa, s, i);
    } else {
      int fl = fcntl(i, F_GETFD);
      /* dup2 of a descriptor onto itself clears its close-on-exec flag */
      if (fl > 0 && (fl & FD_CLOEXEC)) rc = posix_spawn_file_actions_adddup2(&fa, i, i);
    }
  }
  if (rc == 0 && o->cwd) rc = posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
  if (rc == 0) {
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    add_internal_signals(&all);
    rc = posix_spawnattr_setsigmask(&at, &none);
    if (!rc) rc = posix_spawnattr_setsigdefault(&at, &all);
    if (!rc)
      rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                             POSIX_SPAWN_SETSIGDEF);
  }
  spawn_call call = {.file = file, .fa = &fa, .at = &at, .argv = (char *const *)o->argv,
                     .envp = (char *const *)(o->env ? o->env : (const char *const *)environ)};
  if (rc == 0) rc = CORRAL__ERR("process_posix_spawn", EAGAIN, 0);
  /* Offloaded when there is something to overlap with: other children
   * alive (their exits and output) or other tasks ready to run. */
  corral__rt *rt = p->rt;
  /* Not from a compact task: its stack, where the call's arguments are,
   * is copied away while it waits. Not behind the application's own
   * offloaded calls: only when a worker can take it at once. */
  int offload = !corral__self()->compact &&
                (p->tab->nfast > 0 || corral__list_head(&p->tab->live) || rt->sched.rq_head) &&
                corral__pool_has_room(rt);
  if (rc == 0) rc = spawn_call_now(&call, offload);
  pid_t pid = call.pid;
  rc = rc > 0 ? -rc : rc;
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  for (int i = 0; i < 3; i++)
    if (moved[i] >= 0) close(moved[i]);
  if (rc) return rc;
  p->pid = (int)pid;
  p->pidfd = CORRAL__SYS("process_pidfd_open", EMFILE, (int)syscall(SYS_pidfd_open, pid, 0));
  if (p->pidfd < 0) {
    rc = -errno;
    if (rc == -ESRCH) { /* already reaped by someone else */
      corral__process_lost(p);
      return 0;
    }
  } else {
    rc = watch_pidfd(p);
    if (rc == 0) {
      p->counted = 1;
      p->tab->nfast++;
    }
  }
  if (rc) {
    kill(-p->pid, SIGKILL);
    kill(p->pid, SIGKILL);
    pid_t r;
    while ((r = waitpid(p->pid, NULL, 0)) < 0 && errno == EINTR) {
    }
    corral__process_unwatch(p);
  }
  return rc;
}
#endif
