/* Subprocesses owned by their scope (include/corral/process.h).
 *
 * Two ways to start a child, one behaviour (docs/processes.md):
 *  - Linux with glibc >= 2.29 and pidfd_open (5.3): posix_spawn, which
 *    glibc runs as clone(CLONE_VM | CLONE_VFORK): the child borrows the
 *    parent's memory until exec, so nothing of the parent's address space
 *    is copied (fork copies the page tables of every mapping and then
 *    takes a copy-on-write fault for each page the parent touches). The
 *    parent resumes once the child has called exec, so an exec failure is
 *    the spawn's error. The exit is watched on a pidfd (readable when the
 *    child ended; a libuv poll watcher) and reaped with waitid(P_PIDFD):
 *    no SIGCHLD handler, and no other process's child is ever reaped.
 *  - elsewhere, for a child born in a cgroup (clone3 CLONE_INTO_CGROUP,
 *    which posix_spawn cannot express), or with CORRAL_PROCESS_SPAWN=fork
 *    in the environment: fork (or clone3) and exec ourselves, without
 *    waiting for the exec. The program is looked up in PATH before the
 *    fork, so "no such program" is still an error of the spawn call; the
 *    child then only makes async-signal-safe calls until exec. One SIGCHLD
 *    watcher per runtime, active while such a child lives, reaps them by
 *    pid and wakes the task parked in corral_process_wait.
 * Both look the program up in PATH in the parent (the PATH of opts.env
 * when one is given), so the lookup is the same on both.
 * A cancelled wait runs the termination sequence with unabortable parks
 * (the cleanup must finish inside a cancelled scope) and returns only once
 * the child is reaped. A pipe is a Unix socket pair whose parent end is a
 * corral stream (corral_pipe_open): cancellable reads and writes,
 * CORRAL_EPIPE instead of SIGPIPE. */
#include "io/process.h"
#include "ground/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/sched.h>
#include <sys/syscall.h>
#endif

#if defined(__linux__) && defined(__GLIBC__) && defined(SYS_pidfd_open) &&      \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
#define FAST_SPAWN 1
#include <poll.h>
#include <spawn.h>
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#else
#define FAST_SPAWN 0
#endif

extern char **environ;


/* The runtime's live children and the SIGCHLD watcher that reaps them. */
typedef struct corral__children {
  uv_signal_t sig;
  corral__handle reg;
  corral__rt *rt;
  corral__list live; /* corral_process.node, not yet reaped */
  int watching, closed;
  int nfast; /* children of the fast path not yet reaped */
} children;

typedef struct pidfd_watch pidfd_watch;

struct corral_process {
  corral__list node;    /* fork path: in children.live until reaped */
  corral__rt *rt;
  corral__handle reg;
  children *tab;        /* fork path */
  int pid;
  int pidfd;            /* fast path: until reaped; else -1 */
  int counted;          /* fast path: in tab->nfast */
  pidfd_watch *watch;   /* fast path: the poll watcher on pidfd */
  int exited, exit_status, term_signal;
  int handle_closed;
  int free_later; /* closed while a task waited: that task frees it */
  corral_task *waiter;
  corral_term_step seq[16];
  size_t nseq;
  corral_stream *streams[3];
};

#define DEFAULT_GRACE_NS (2 * 1000000000LL)

static void unwatch(corral_process *p);

/* The child is gone: its exit code, or -1 and the signal that ended it. */
static void reaped_as(corral_process *p, int exit_status, int term_signal) {
  p->exited = 1;
  p->exit_status = exit_status;
  p->term_signal = term_signal;
  if (p->counted) {
    p->counted = 0;
    p->tab->nfast--;
  }
  corral__list_remove(&p->node);
  unwatch(p);
  if (p->waiter) corral__wake(p->waiter, 0);
}

static void reaped(corral_process *p, int status) {
  if (WIFSIGNALED(status))
    reaped_as(p, -1, WTERMSIG(status));
  else
    reaped_as(p, WEXITSTATUS(status), 0);
}

static void on_sigchld(uv_signal_t *h, int signum);

static void watch_update(children *c) {
  if (c->closed) return;
  int want = corral__list_head(&c->live) != NULL;
  if (want == c->watching) return;
  c->watching = want;
  if (want) uv_signal_start(&c->sig, on_sigchld, SIGCHLD);
  else uv_signal_stop(&c->sig);
}

/* SIGCHLD: reap those of our children that ended (by pid: other children
 * of the program are not ours to reap). */
static void on_sigchld(uv_signal_t *h, int signum) {
  (void)signum;
  children *c = h->data;
  corral__list *n = corral__list_head(&c->live);
  while (n) {
    corral__list *next = n->next != &c->live ? n->next : NULL;
    corral_process *p = corral__container_of(n, corral_process, node);
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) reaped(p, st);
    else if (r < 0 && errno == ECHILD) reaped(p, 0); /* someone else reaped it */
    n = next;
  }
  watch_update(c);
}

static void on_children_closed(uv_handle_t *h) {
  children *c = h->data;
  corral__free(c->rt, c);
}

static void children_close(corral__handle *h) {
  children *c = corral__container_of(h, children, reg);
  corral__handle_unregister(&c->reg);
  c->closed = 1;
  c->rt->io.children = NULL;
  uv_close((uv_handle_t *)&c->sig, on_children_closed);
}

static children *children_get(corral__rt *rt, int *rc) {
  children *c = rt->io.children;
  if (c) return c;
  c = corral__calloc(rt, sizeof *c);
  if (!c) {
    *rc = CORRAL_ENOMEM;
    return NULL;
  }
  *rc = CORRAL__UV("process_sigchld_init", EMFILE, uv_signal_init(rt->loop, &c->sig));
  if (*rc) {
    corral__free(rt, c);
    return NULL;
  }
  c->sig.data = c;
  c->rt = rt;
  corral__list_init(&c->live);
  corral__handle_register(rt, &c->reg, "process table", children_close);
  rt->io.children = c;
  return c;
}

/* ------------------------------------------------ the fast path's watch */

/* The poll watcher on a child's pidfd: its own allocation, since libuv
 * finishes closing a handle after the process may have been freed. */
struct pidfd_watch {
  uv_poll_t h;
  corral__rt *rt;
  corral_process *p; /* NULL once the process let go of it */
};

static void on_watch_closed(uv_handle_t *h) {
  pidfd_watch *w = h->data;
  corral__free(w->rt, w);
}

/* Stop watching and close the pidfd (the poll watcher leaves the epoll set
 * inside uv_close, so the descriptor may be closed right after). */
static void unwatch(corral_process *p) {
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

#if FAST_SPAWN
/* Reap the child of the fast path if it has ended (block: wait until it
 * has). Returns 1 when it was reaped. waitid(P_PIDFD) names this child and
 * no other; if it fails (a kernel before 5.4 has pidfd_open but not
 * P_PIDFD) waitpid by pid does the same. A child someone else reaped
 * (SIGCHLD ignored, a waitpid(-1) elsewhere) counts as exit status 0. */
static int reap_fast(corral_process *p, int block) {
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (CORRAL__SYS("process_waitid", EINVAL,
                    waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG)) == 0) {
      if (si.si_pid != 0) {
        if (si.si_code == CLD_EXITED)
          reaped_as(p, si.si_status, 0);
        else
          reaped_as(p, -1, si.si_status);
        return 1;
      }
      if (!block) return 0;
      struct pollfd pf = {.fd = p->pidfd, .events = POLLIN};
      (void)poll(&pf, 1, -1); /* EINTR: look again */
      continue;
    }
    if (errno == ECHILD) {
      reaped_as(p, 0, 0);
      return 1;
    }
    int st = 0;
    pid_t r = waitpid(p->pid, &st, block ? 0 : WNOHANG);
    if (r == p->pid) {
      reaped(p, st);
      return 1;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      reaped_as(p, 0, 0);
      return 1;
    }
    return 0;
  }
}

static void on_pidfd(uv_poll_t *h, int status, int events) {
  (void)status, (void)events;
  pidfd_watch *w = h->data;
  if (w->p) (void)reap_fast(w->p, 0);
}

/* Watch p->pidfd: 0, or an error (the caller kills and reaps the child). */
static int watch_pidfd(corral_process *p) {
  pidfd_watch *w = corral__calloc(p->rt, sizeof *w);
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

static int use_fast(const corral_process_opts *o) {
#if FAST_SPAWN
  return o->cgroup_fd <= 0 && fast_available();
#else
  (void)o;
  return 0;
#endif
}

int corral__process_fast(void) { return use_fast(&(corral_process_opts){0}); }

static void close_streams(corral_process *p) {
  for (int i = 0; i < 3; i++) {
    corral_stream_close(p->streams[i]);
    p->streams[i] = NULL;
  }
}

/* Signal the child's process group; until the child has called setsid()
 * (it may not have run yet) the group does not exist: signal the child
 * itself then. Its signals stay blocked until it has reset their
 * dispositions, so the default action is what it gets. */
static int signal_group(corral_process *p, int sig) {
  if (kill(-p->pid, sig) == 0) return 0;
  if (errno != ESRCH || p->exited) return -errno;
  return kill(p->pid, sig) == 0 ? 0 : -errno;
}

/* Reap the group's members that are our children (when we are a
 * subreaper, the orphans of the group come to us). */
static void reap_group(corral_process *p) {
  while (waitpid(-p->pid, NULL, WNOHANG) > 0) {
  }
}

/* Kill and reap now, without parking: close and the runtime's end. */
static void close_now(corral_process *p) {
  if (p->handle_closed) return;
  p->handle_closed = 1;
  corral__handle_unregister(&p->reg);
  close_streams(p);
  if (p->waiter) corral__wake(p->waiter, CORRAL_ECLOSED);
  if (!p->exited) {
    kill(-p->pid, SIGKILL);
    kill(p->pid, SIGKILL);
    /* A SIGKILLed process ends at once, short of an uninterruptible wait
     * in the kernel. */
#if FAST_SPAWN
    if (p->pidfd >= 0) {
      (void)reap_fast(p, 1);
    } else
#endif
    {
      int st = 0;
      pid_t r;
      while ((r = waitpid(p->pid, &st, 0)) < 0 && errno == EINTR) {
      }
      reaped(p, r == p->pid ? st : 0);
      watch_update(p->tab);
    }
  }
  unwatch(p);
  if (kill(-p->pid, 0) == 0) kill(-p->pid, SIGKILL); /* what is left */
  reap_group(p);
  /* A task blocked in corral_process_wait still holds p: it frees it when
   * it resumes (with CORRAL_ECLOSED). */
  if (p->waiter)
    p->free_later = 1;
  else
    corral__free(p->rt, p);
}

/* After a park in corral_process_wait: p was closed meanwhile and is ours
 * to free. */
static bool freed_after_wait(corral_process *p) {
  if (!p->free_later || p->waiter) return false;
  corral__free(p->rt, p);
  return true;
}

static void close_registered(corral__handle *h) {
  close_now(corral__container_of(h, corral_process, reg));
}

/* The descriptor the child gets as `which`: *src (-1: ours, inherited);
 * *tmpfd is what the parent closes after the fork. */
static int open_stdio(const corral_stdio *s, int which, int *src, corral_process *p,
                      int *tmpfd) {
  *tmpfd = -1;
  *src = -1;
  switch (s->mode) {
  case CORRAL_STDIO_INHERIT:
    return 0;
  case CORRAL_STDIO_NULL: {
    int fd = CORRAL__SYS("process_devnull", EMFILE,
                         open("/dev/null", (which == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC));
    if (fd < 0) return -errno;
    *src = *tmpfd = fd;
    return 0;
  }
  case CORRAL_STDIO_FD:
    if (s->fd < 0 || fcntl(s->fd, F_GETFD) < 0) return CORRAL_EBADF;
    *src = s->fd;
    return 0;
  case CORRAL_STDIO_FILE: {
    if (!s->path) return CORRAL_EINVAL;
    int fl = which == 0 ? O_RDONLY
                        : O_WRONLY | O_CREAT | (s->append ? O_APPEND : O_TRUNC);
    int fd = open(s->path, fl | O_CLOEXEC, 0666);
    if (fd < 0) return -errno;
    *src = *tmpfd = fd;
    return 0;
  }
  case CORRAL_STDIO_PIPE: {
    /* A socket pair rather than pipe(2): shutdown gives the child end of
     * file while we keep reading, and it needs no SIGPIPE handling. The
     * child's end stays blocking, as a pipe's. */
    int sv[2];
    if (CORRAL__SYS("process_socketpair", EMFILE,
                    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) != 0)
      return -errno;
#ifdef SO_NOSIGPIPE
    int one = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    /* One direction only, as a pipe: the child reads stdin, writes 1, 2. */
    shutdown(sv[0], which == 0 ? SHUT_RD : SHUT_WR);
    int rc = corral_pipe_open(sv[0], &p->streams[which]);
    if (rc) {
      close(sv[0]);
      close(sv[1]);
      return rc;
    }
    *src = *tmpfd = sv[1];
    return 0;
  }
  }
  return CORRAL_EINVAL;
}

/* execvp's search, done in the parent: the path to exec, or an error. */
static int find_program(const char *name, const char *const *env, char *out,
                        size_t len) {
  if (strchr(name, '/')) {
    if (strlen(name) >= len) return -ENAMETOOLONG;
    strcpy(out, name);
    return access(name, X_OK) == 0 ? 0 : -errno;
  }
  const char *path = NULL;
  for (const char *const *e = env; e && *e; e++)
    if (!strncmp(*e, "PATH=", 5)) path = *e + 5;
  if (!env) path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  int err = -ENOENT;
  size_t nl = strlen(name);
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t dl = colon ? (size_t)(colon - path) : strlen(path);
    if (dl + nl + 2 <= len) {
      if (dl) {
        memcpy(out, path, dl);
        out[dl] = '/';
        memcpy(out + dl + 1, name, nl + 1);
      } else {
        memcpy(out, name, nl + 1); /* an empty entry is the cwd */
      }
      struct stat st;
      if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
        if (access(out, X_OK) == 0) return 0;
        err = -EACCES;
      }
    }
    if (!colon) break;
    path = colon + 1;
  }
  return err;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
__attribute__((noreturn)) static void child_exec(const char *file,
                                                 const corral_process_opts *o,
                                                 const int src[3]) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  setsid();
  /* Move the sources above 2 first, so that one may be another's target. */
  int tmp[3];
  for (int i = 0; i < 3; i++) {
    tmp[i] = src[i] >= 0 ? fcntl(src[i], F_DUPFD_CLOEXEC, 3) : -1;
    if (src[i] >= 0 && tmp[i] < 0) _exit(127);
  }
  for (int i = 0; i < 3; i++) {
    if (tmp[i] >= 0) {
      if (dup2(tmp[i], i) < 0) _exit(127);
    } else {
      int fl = fcntl(i, F_GETFD);
      if (fl > 0 && (fl & FD_CLOEXEC)) fcntl(i, F_SETFD, fl & ~FD_CLOEXEC);
    }
  }
  if (o->cwd && chdir(o->cwd) != 0) _exit(127);
  execve(file, (char *const *)o->argv,
         (char *const *)(o->env ? o->env : (const char *const *)environ));
  _exit(errno == EACCES ? 126 : 127);
}

/* fork(), or clone3 into a cgroup: 0 in the child, the pid, or -1. */
static pid_t spawn_fork(int cgroup_fd) {
  if (cgroup_fd <= 0) return CORRAL__SYS("process_fork", EAGAIN, fork());
#if defined(__linux__) && defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
  struct clone_args ca;
  memset(&ca, 0, sizeof ca);
  ca.flags = CLONE_INTO_CGROUP;
  ca.exit_signal = SIGCHLD;
  ca.cgroup = (uint64_t)cgroup_fd;
  /* Without a new stack clone3 returns twice like fork; the child only
   * makes system calls until exec (child_exec). */
  return (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
#else
  errno = ENOSYS;
  return -1;
#endif
}

#if FAST_SPAWN
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
static int spawn_fast(corral_process *p, const char *file, const corral_process_opts *o,
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
   * is copied away while it waits. */
  int offload = !corral__self()->compact &&
                (p->tab->nfast > 0 || corral__list_head(&p->tab->live) || rt->sched.rq_head);
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
      reaped_as(p, 0, 0);
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
    unwatch(p);
  }
  return rc;
}
#endif

int corral_process_spawn(const corral_process_opts *o, corral_process **out) {
  if (out) *out = NULL;
  corral_task *self = corral__self();
  int rc = corral__io_check(self, NULL);
  if (rc) return rc;
  if (!o || !o->argv || !o->argv[0] || !out) return CORRAL_EINVAL;
  corral__rt *rt = self->rt;
  /* The child does not report a failed chdir (the spawn does not wait for
   * its exec): check the directory here, as the spawn's own error. */
  if (o->cwd) {
    struct stat cst;
    if (stat(o->cwd, &cst) != 0)
      return corral_errorf(-errno, "working directory '%s': %s", o->cwd,
                           strerror(errno));
    if (!S_ISDIR(cst.st_mode))
      return corral_errorf(-ENOTDIR, "working directory '%s': not a directory",
                           o->cwd);
    if (access(o->cwd, X_OK) != 0)
      return corral_errorf(-errno, "working directory '%s': %s", o->cwd,
                           strerror(errno));
  }
  char file[4096];
  if (o->cwd && strchr(o->argv[0], '/') && o->argv[0][0] != '/') {
    /* a relative path with a directory: relative to the child's cwd */
    if (strlen(o->argv[0]) >= sizeof file) return -ENAMETOOLONG;
    strcpy(file, o->argv[0]);
  } else if ((rc = find_program(o->argv[0], o->env, file, sizeof file)) != 0) {
    return rc;
  }
  int fast = use_fast(o);
  (void)fast; /* without the fast path: always 0 */
  children *tab = children_get(rt, &rc);
  if (!tab) return rc;
  corral_process *p = corral__calloc(rt, sizeof *p);
  if (!p) return CORRAL_ENOMEM;
  p->rt = rt;
  p->tab = tab;
  p->pidfd = -1;
  corral__list_init(&p->node);
  if (o->term_seq && o->term_seq_len) {
    p->nseq = o->term_seq_len < 16 ? o->term_seq_len : 16;
    memcpy(p->seq, o->term_seq, p->nseq * sizeof *p->seq);
  } else if (o->kill_grace_ns >= 0) {
    p->seq[0].signum = o->term_signal > 0 ? o->term_signal : SIGTERM;
    p->seq[0].wait_ns = o->kill_grace_ns == 0 ? DEFAULT_GRACE_NS : o->kill_grace_ns;
    p->nseq = 1;
  }
  int src[3] = {-1, -1, -1}, child_fd[3] = {-1, -1, -1};
  for (int i = 0; i < 3 && rc == 0; i++)
    rc = open_stdio(&o->stdio[i], i, &src[i], p, &child_fd[i]);
#if FAST_SPAWN
  if (rc == 0 && fast) {
    rc = spawn_fast(p, file, o, src);
  } else
#endif
  if (rc == 0) {
    /* The watcher runs before the child exists: its SIGCHLD is not lost. */
    corral__list_insert_tail(&tab->live, &p->node);
    watch_update(tab);
    /* No signal handler may run in the child before exec. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = spawn_fork(o->cgroup_fd);
    if (pid == 0) child_exec(file, o, src);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
      rc = -e;
      corral__list_remove(&p->node);
      watch_update(tab);
    } else {
      p->pid = (int)pid;
    }
  }
  for (int i = 0; i < 3; i++)
    if (child_fd[i] >= 0) close(child_fd[i]);
  if (rc) {
    close_streams(p);
    corral__free(rt, p);
    return rc;
  }
  corral__handle_register(rt, &p->reg, "process", close_registered);
  *out = p;
  return 0;
}

int corral_process_pid(const corral_process *p) { return p ? p->pid : 0; }

corral_stream *corral_process_stream(corral_process *p, int fd) {
  if (!p || fd < 0 || fd > 2) return NULL;
  return p->streams[fd];
}

int corral_process_signal(corral_process *p, int signum) {
  if (!p || signum < 0) return CORRAL_EINVAL;
  if (p->handle_closed && p->exited) return -ESRCH;
  return signal_group(p, signum);
}

/* Park without being abortable until the exit callback ran or the deadline
 * passed. Returns 1 if the child has exited. */
static int park_exit(corral_task *self, corral_process *p, int64_t deadline) {
  while (!p->exited && !p->handle_closed) {
    p->waiter = self;
    int rc = corral__park(self, CORRAL__W_PROCESS, CORRAL__UNABORTABLE, deadline);
    p->waiter = NULL;
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
    reap_group(p);
    if (!group_running(p->pid) || corral_now() >= end) {
      reap_group(p); /* one may have died between the reap and the check */
      break;
    }
    (void)corral__park(self, CORRAL__W_PROCESS, CORRAL__UNABORTABLE,
                       corral_now() + 2000000);
  }
}

static void fill(const corral_process *p, int *es, int *ts) {
  if (es) *es = p->exit_status;
  if (ts) *ts = p->term_signal;
}

int corral_process_wait(corral_process *p, int *exit_status, int *term_signal) {
  corral_task *self = corral__self();
  int rc = corral__io_check(self, p ? p->rt : NULL);
  if (rc) return rc;
  if (!p) return CORRAL_EINVAL;
  if (p->exited) {
    fill(p, exit_status, term_signal);
    return 0;
  }
  if (p->handle_closed) return CORRAL_ECLOSED;
  if (p->waiter) return CORRAL_EBUSY;
  p->waiter = self;
  rc = corral__park(self, CORRAL__W_PROCESS, NULL, CORRAL_FOREVER);
  p->waiter = NULL;
  if (freed_after_wait(p)) return CORRAL_ECLOSED;
  if (p->exited) { /* the exit won the race with a cancellation */
    fill(p, exit_status, term_signal);
    return 0;
  }
  if (rc == 0) rc = CORRAL_ECANCELED;
  if (p->handle_closed) return CORRAL_ECLOSED;
  /* Cancelled: the termination sequence, then always the reap. */
  for (size_t i = 0; i < p->nseq && !p->exited; i++) {
    signal_group(p, p->seq[i].signum);
    signal_group(p, SIGCONT); /* a stopped child must run to see it */
    if (p->seq[i].wait_ns > 0) park_exit(self, p, corral_now() + p->seq[i].wait_ns);
    if (p->handle_closed) break;
  }
  if (!p->exited && !p->handle_closed) {
    signal_group(p, SIGKILL);
    park_exit(self, p, CORRAL_FOREVER);
  }
  if (freed_after_wait(p)) return CORRAL_ECLOSED;
  corral__process_end_group(p);
  fill(p, exit_status, term_signal);
  return rc;
}

void corral_process_close(corral_process *p) {
  if (!p) return;
  if (p->handle_closed) {
    /* spawn already failed or close ran twice: nothing owns it */
    return;
  }
  close_now(p);
}
