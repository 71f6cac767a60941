/* Subprocesses owned by their scope (include/corral/process.h).
 *
 * Two ways to start a child, one behaviour (docs/processes.md):
 *  - Linux with glibc >= 2.29 and pidfd_open (5.3): posix_spawn, which
 *    glibc runs as clone(CLONE_VM | CLONE_VFORK): the child borrows the
 *    parent's memory until exec, so nothing of the parent's address space
 *    is copied (fork copies the page tables of every mapping and then
 *    takes a copy-on-write fault for each page the parent touches). The
 *    parent resumes once the child has called exec, so an exec failure is
 *    the spawn's error; while other children live, that wait is made on
 *    an offload thread (spawn_call_now). The exit is watched on a pidfd
 *    (readable when the child ended; a libuv poll watcher) and reaped with
 *    waitid(P_PIDFD): no SIGCHLD handler, and no child but this one is
 *    ever reaped.
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
#include "io/threads.h"
#include "ground/fault.h"
#include "ground/sigdisp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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


extern char **environ;


typedef corral__children children;

#define DEFAULT_GRACE_NS (2 * 1000000000LL)

void corral__process_free(corral_process *p) {
  corral__free(p->rt, p->waiters);
  corral__free(p->rt, p);
}

/* The child is gone: its exit code, or -1 and the signal that ended it. */
void corral__process_reaped_as(corral_process *p, int exit_status, int term_signal) {
  p->exited = 1;
  p->exit_status = exit_status;
  p->term_signal = term_signal;
  if (p->counted) {
    p->counted = 0;
    p->tab->nfast--;
  }
  corral__list_remove(&p->node);
  corral__process_unwatch(p);
  corral__process_wake_waiters(p, 0);
}

void corral__process_lost(corral_process *p) {
  p->lost = 1;
  corral__process_reaped_as(p, -1, 0);
}

void corral__process_reaped(corral_process *p, int status) {
  if (WIFSIGNALED(status))
    corral__process_reaped_as(p, -1, WTERMSIG(status));
  else
    corral__process_reaped_as(p, WEXITSTATUS(status), 0);
}

static void on_sigchld(uv_signal_t *h, int signum);

static void watch_update(children *c) {
  if (c->closed) return;
  int want = corral__list_head(&c->live) != NULL;
  if (want == c->watching) return;
  c->watching = want;
  /* the handler runs on the alternate stack, not a task's (sigdisp.c) */
  if (want) (void)corral__signal_start(&c->sig, on_sigchld, SIGCHLD);
  else corral__signal_stop(&c->sig);
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
    pid_t r;
    while ((r = CORRAL__SYS("process_waitpid", EINTR, waitpid(p->pid, &st, WNOHANG))) < 0 &&
           errno == EINTR) {
    }
    if (r == p->pid) corral__process_reaped(p, st);
    else if (r < 0 && errno == ECHILD) corral__process_lost(p); /* someone else reaped it */
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
int corral__process_signal_group(corral_process *p, int sig) {
  if (CORRAL__SYS("process_kill", EPERM, kill(-p->pid, sig)) == 0) return 0;
  if (errno != ESRCH || p->exited) return -errno;
  return CORRAL__SYS("process_kill", EPERM, kill(p->pid, sig)) == 0 ? 0 : -errno;
}

/* Reap the group's members that are our children (when we are a
 * subreaper, the orphans of the group come to us). */
void corral__process_reap_group(corral_process *p) {
  while (waitpid(-p->pid, NULL, WNOHANG) > 0) {
  }
}

/* Kill and reap now, without parking: close and the runtime's end. */
static void close_now(corral_process *p) {
  if (p->handle_closed) return;
  p->handle_closed = 1;
  corral__handle_unregister(&p->reg);
  close_streams(p);
  corral__process_wake_waiters(p, CORRAL_ECLOSED);
  if (!p->exited) {
    CORRAL_IGNORE(CORRAL__SYS("process_kill", EPERM, kill(-p->pid, SIGKILL)));
    kill(p->pid, SIGKILL);
    /* A SIGKILLed process ends at once, short of an uninterruptible wait
     * in the kernel. */
#if CORRAL__FAST_SPAWN
    if (p->pidfd >= 0) {
      (void)corral__process_reap_fast(p, 1);
    } else
#endif
    {
      int st = 0;
      pid_t r;
      while ((r = CORRAL__SYS("process_waitpid", EINTR, waitpid(p->pid, &st, 0))) < 0 &&
             errno == EINTR) {
      }
      if (r == p->pid)
        corral__process_reaped(p, st);
      else
        corral__process_lost(p);
      watch_update(p->tab);
    }
  }
  corral__process_unwatch(p);
  if (kill(-p->pid, 0) == 0) kill(-p->pid, SIGKILL); /* what is left */
  corral__process_reap_group(p);
  /* Tasks blocked in corral_process_wait still hold p: the last one frees
   * it when it resumes (with CORRAL_ECLOSED). */
  if (p->nwait || p->ending)
    p->free_later = 1;
  else
    corral__process_free(p);
}

/* The runtime's end: a process never closed is killed (no child outlives
 * corral_run); one still running is reported, as a task would be. */
static void close_registered(corral__handle *h) {
  corral_process *p = corral__container_of(h, corral_process, reg);
  siginfo_t si = {0};
  if (!p->exited && p->rt && p->rt->report &&
      waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0)
    fprintf(p->rt->report,
            "corral: process %d was still running when the runtime ended and was "
            "killed (wait for it or close it before the main task returns)\n",
            (int)p->pid);
  close_now(p);
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
#if defined(__linux__) && defined(SYS_rt_sigaction)
  /* glibc's sigaction refuses the two signals it keeps for itself (32 and
   * 33); a parent started by posix_spawn (GNU make's children) has them
   * ignored, which exec keeps. The kernel's call takes them: an all-zero
   * kernel sigaction is SIG_DFL with no flags and an empty mask. */
  for (int sig = 32; sig < SIGRTMIN; sig++) {
    unsigned long ksa[4] = {0, 0, 0, 0};
    (void)syscall(SYS_rt_sigaction, sig, ksa, NULL, (size_t)8);
  }
#endif
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
  int fast = corral__process_use_fast(o);
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
#if CORRAL__FAST_SPAWN
  if (rc == 0 && fast) {
    rc = corral__process_spawn_fast(p, file, o, src);
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
    corral__process_free(p);
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
  return corral__process_signal_group(p, signum);
}

void corral_process_close(corral_process *p) {
  if (!p) return;
  if (p->handle_closed) {
    /* spawn already failed or close ran twice: nothing owns it */
    return;
  }
  close_now(p);
}
