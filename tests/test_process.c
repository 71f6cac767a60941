/* Subprocesses: exit codes and signals, pipes, run(), cancellation with
 * the termination sequence (a grandchild, a child ignoring SIGTERM), and
 * that nothing is left: child processes, process groups and descriptors are
 * back to their starting count after every test. */
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif


/* Our children (zombies too). */
static int count_children(void) {
  int n = 0;
  DIR *d = opendir("/proc");
  if (!d) return -1;
  struct dirent *de;
  while ((de = readdir(d))) {
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t r = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[r] = 0;
    char *rp = strrchr(buf, ')');
    int ppid;
    char st;
    if (rp && sscanf(rp + 2, "%c %d", &st, &ppid) == 2 && ppid == getpid()) n++;
  }
  closedir(d);
  return n;
}

typedef struct {
  int fds, kids;
} census;

static int warm_body(void *arg, void **result) {
  (void)arg, (void)result;
  corral_process *p;
  const char *const argv[] = {"true", NULL};
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = argv}, &p), 0);
  CHECK_RC(corral_process_wait(p, NULL, NULL), 0);
  corral_process_close(p);
  return 0;
}

/* libuv keeps two process-wide descriptors for signal delivery once any
 * child or signal was watched: count after they exist. */
static census take(void) {
  static int warm;
  if (!warm++) CHECK_RC(corral_run(NULL, warm_body, NULL, NULL), 0);
  return (census){count_fds(), count_children()};
}

static void check_same(census a) {
  census b = take();
  CHECK_EQ(b.fds, a.fds);
  CHECK_EQ(b.kids, a.kids);
}

/* Run body on the real clock; the test process is a subreaper so that the
 * orphans of a killed group come back to it (and the group wait reaps
 * them), as in the corral command. */
static int run_real(corral_fn fn, void *arg) {
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  return corral_run(NULL, fn, arg, NULL);
}

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

static int exit_codes_body(void *arg, void **result) {
  (void)arg, (void)result;
  corral_process *p;
  int es = -2, ts = -2;
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("true")}, &p), 0);
  CHECK(corral_process_pid(p) > 0);
  CHECK_RC(corral_process_wait(p, &es, &ts), 0);
  CHECK_EQ(es, 0);
  CHECK_EQ(ts, 0);
  CHECK_RC(corral_process_wait(p, &es, &ts), 0); /* again: same answer */
  corral_process_close(p);
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("sh", "-c", "exit 7")}, &p), 0);
  CHECK_RC(corral_process_wait(p, &es, &ts), 0);
  CHECK_EQ(es, 7);
  corral_process_close(p);
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("sh", "-c", "kill -USR1 $$")}, &p), 0);
  CHECK_RC(corral_process_wait(p, &es, &ts), 0);
  CHECK_EQ(es, -1);
  CHECK_EQ(ts, SIGUSR1);
  corral_process_close(p);
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("/nonexistent-corral-dir/prog")}, &p),
           CORRAL_ENOENT);
  CHECK(p == NULL);
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = NULL}, &p), CORRAL_EINVAL);
  /* cwd, env and a file for stdout */
  char path[] = "/tmp/corral_proc_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  corral_process_opts o = {.argv = ARGV("sh", "-c", "echo \"$X\" $(pwd)"),
                           .env = ARGV("X=hello", "PATH=/usr/bin:/bin"), .cwd = "/"};
  o.stdio[1] = (corral_stdio){.mode = CORRAL_STDIO_FILE, .path = path};
  CHECK_RC(corral_process_spawn(&o, &p), 0);
  CHECK_RC(corral_process_wait(p, &es, NULL), 0);
  corral_process_close(p);
  FILE *f = fopen(path, "r");
  char line[64] = "";
  CHECK(fgets(line, sizeof line, f) != NULL);
  fclose(f);
  unlink(path);
  CHECK_STR(line, "hello /\n");
  return 0;
}

TEST(exit_codes_signals_and_options) {
  census c = take();
  CHECK_RC(run_real(exit_codes_body, NULL), 0);
  check_same(c);
}

static int pipes_body(void *arg, void **result) {
  (void)arg, (void)result;
  corral_process_opts o = {.argv = ARGV("sh", "-c", "tr a-z A-Z; echo done >&2")};
  for (int i = 0; i < 3; i++) o.stdio[i].mode = CORRAL_STDIO_PIPE;
  corral_process *p;
  CHECK_RC(corral_process_spawn(&o, &p), 0);
  size_t w = 0;
  CHECK_RC(corral_stream_write(corral_process_stream(p, 0), "hello", 5, &w), 0);
  CHECK_EQ(w, 5);
  CHECK_RC(corral_stream_shutdown(corral_process_stream(p, 0)), 0); /* its EOF */
  char buf[64];
  size_t got = 0;
  int n;
  while ((n = corral_stream_read(corral_process_stream(p, 1), buf + got, sizeof buf - got)) > 0)
    got += (size_t)n;
  CHECK_EQ(n, 0);
  CHECK_EQ(got, 5);
  CHECK(memcmp(buf, "HELLO", 5) == 0);
  n = corral_stream_read(corral_process_stream(p, 2), buf, sizeof buf);
  CHECK_EQ(n, 5);
  CHECK_RC(corral_process_wait(p, NULL, NULL), 0);
  corral_process_close(p);
  CHECK(corral_process_stream(NULL, 1) == NULL);

  return 0;
}

TEST(pipes_in_and_out) {
  census c = take();
  CHECK_RC(run_real(pipes_body, NULL), 0);
  check_same(c);
}

/* Writing to a child that is gone: CORRAL_EPIPE, the process lives, and the
 * application's SIGPIPE disposition is untouched. */
static int epipe_body(void *arg, void **result) {
  (void)arg, (void)result;
  corral_process_opts o = {.argv = ARGV("true")};
  o.stdio[0].mode = CORRAL_STDIO_PIPE;
  corral_process *p;
  CHECK_RC(corral_process_spawn(&o, &p), 0);
  CHECK_RC(corral_process_wait(p, NULL, NULL), 0);
  static char big[1 << 20];
  size_t w = 0;
  CHECK_RC(corral_stream_write(corral_process_stream(p, 0), big, sizeof big, &w), CORRAL_EPIPE);
  CHECK(w < sizeof big);
  corral_process_close(p);
  return 0;
}

TEST(dead_pipe_is_epipe_not_sigpipe) {
  census c = take();
  signal(SIGPIPE, SIG_DFL);
  CHECK_RC(run_real(epipe_body, NULL), 0);
  struct sigaction sa;
  sigaction(SIGPIPE, NULL, &sa);
  CHECK(sa.sa_handler == SIG_DFL);
  check_same(c);
}

typedef struct {
  const char *script;
  int64_t grace;
  int want_sig;
  int pid;
} cancel_case;

static int cancel_body(void *arg, void **result) {
  (void)result;
  cancel_case *cc = arg;
  corral_process *p;
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("sh", "-c", cc->script),
                                                      .kill_grace_ns = cc->grace},
                                &p), 0);
  cc->pid = corral_process_pid(p);
  CHECK_RC(corral_sleep(100 * MS), 0); /* let it start its grandchild / install its trap */
  corral_scope s;
  memset(&s, 0, sizeof s); /* never mistaken for a scope still entered */
  corral_move_on_after(&s, 100 * MS);
  int es = 0, ts = 0;
  int rc = corral_process_wait(p, &es, &ts);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK_EQ(es, -1);
  CHECK_EQ(ts, cc->want_sig);
  /* Reaped, and nothing of its process group is left. */
  CHECK(kill(-cc->pid, 0) != 0);
  corral_process_close(p);
  return 0;
}

TEST(cancel_kills_the_grandchild_too) {
  census c = take();
  cancel_case cc = {"sleep 100 & wait", 0, SIGTERM, 0};
  CHECK_RC(run_real(cancel_body, &cc), 0);
  CHECK(kill(-cc.pid, 0) != 0 && errno == ESRCH);
  check_same(c);
}

TEST(cancel_kills_a_child_that_ignores_sigterm) {
  census c = take();
  cancel_case cc = {"trap '' TERM; sleep 100 & wait; sleep 100", 200 * MS, SIGKILL, 0};
  CHECK_RC(run_real(cancel_body, &cc), 0);
  CHECK(kill(-cc.pid, 0) != 0);
  check_same(c);
}

static int cancel_read_body(void *arg, void **result) {
  (void)arg, (void)result;
  corral_process_opts o = {.argv = ARGV("sleep", "100"), .kill_grace_ns = -1};
  o.stdio[1].mode = CORRAL_STDIO_PIPE;
  corral_process *p;
  CHECK_RC(corral_process_spawn(&o, &p), 0);
  corral_scope s;
  memset(&s, 0, sizeof s); /* never mistaken for a scope still entered */
  corral_move_on_after(&s, 50 * MS);
  char buf[8];
  int rc = corral_stream_read(corral_process_stream(p, 1), buf, sizeof buf);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  corral_process_close(p); /* still running: killed and reaped */
  return 0;
}

TEST(cancelled_read_and_close_of_a_running_child) {
  census c = take();
  CHECK_RC(run_real(cancel_read_body, NULL), 0);
  check_same(c);
}

static int leak_body(void *arg, void **result) {
  (void)result;
  corral_process_opts o = {.argv = ARGV("sh", "-c", "sleep 100 & sleep 100")};
  o.stdio[1].mode = CORRAL_STDIO_PIPE;
  corral_process *p;
  CHECK_RC(corral_process_spawn(&o, &p), 0);
  *(int *)arg = corral_process_pid(p);
  CHECK_RC(corral_sleep(50 * MS), 0);
  return 0; /* never waited for, never closed */
}

TEST(run_end_leaves_no_child) {
  census c = take();
  int pid = 0;
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  FILE *rep = tmpfile();
  CHECK(rep != NULL);
  corral_options o = {0};
  o.report = rep;
  CHECK_RC(corral_run(&o, leak_body, &pid, NULL), 0);
  CHECK(pid > 0);
  /* the runtime says which process it had to kill */
  char text[512] = "", want[64];
  rewind(rep);
  size_t n = fread(text, 1, sizeof text - 1, rep);
  text[n] = 0;
  fclose(rep);
  snprintf(want, sizeof want, "process %d was still running", pid);
  if (!strstr(text, want)) FAILF("report: [%s]", text);
  /* the group is SIGKILLed at the end; its orphans come back to us */
  for (int i = 0; i < 100 && kill(-pid, 0) == 0; i++) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    usleep(10000);
  }
  CHECK(kill(-pid, 0) != 0);
  check_same(c);
}

static int run_body(void *arg, void **result) {
  (void)arg, (void)result;
  corral_completed r;
  CHECK_RC(corral_process_run(&(corral_process_opts){.argv = ARGV("cat")}, "hi there", 8, 0, &r), 0);
  CHECK_EQ(r.exit_status, 0);
  CHECK_STR(r.out, "hi there");
  CHECK_STR(r.err, "");
  corral_completed_clear(&r);
  CHECK_RC(corral_process_run(&(corral_process_opts){
               .argv = ARGV("sh", "-c", "echo out; echo err >&2; exit 3")}, NULL, 0, 0, &r), 0);
  CHECK_EQ(r.exit_status, 3);
  CHECK_STR(r.out, "out\n");
  CHECK_STR(r.err, "err\n");
  corral_completed_clear(&r);
  CHECK_RC(corral_process_run(&(corral_process_opts){.argv = ARGV("seq", "1", "100000")},
                              NULL, 0, 10, &r), 0);
  CHECK_EQ(r.out_len, 10);
  CHECK(r.out_truncated);
  CHECK_STR(r.out, "1\n2\n3\n4\n5\n");
  corral_completed_clear(&r);
  /* A background process of the child holding stdout open does not hang
   * run(): it is killed once the child is done. */
  CHECK_RC(corral_process_run(&(corral_process_opts){
               .argv = ARGV("sh", "-c", "sleep 100 & echo started")}, NULL, 0, 0, &r), 0);
  CHECK_STR(r.out, "started\n");
  corral_completed_clear(&r);
  /* Cancelled: terminated, reaped, partial output kept. */
  corral_scope s;
  memset(&s, 0, sizeof s); /* never mistaken for a scope still entered */
  corral_move_on_after(&s, 200 * MS);
  int rc = corral_process_run(&(corral_process_opts){
               .argv = ARGV("sh", "-c", "echo early; sleep 100")}, NULL, 0, 0, &r);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK_STR(r.out, "early\n");
  CHECK_EQ(r.term_signal, SIGTERM);
  corral_completed_clear(&r);
  return 0;
}

TEST(run_captures_output_with_a_limit) {
  census c = take();
  CHECK_RC(run_real(run_body, NULL), 0);
  check_same(c);
}

static int foreign_body(void *arg, void **result) {
  (void)arg, (void)result;
  CHECK_RC(corral_process_wait(NULL, NULL, NULL), CORRAL_EINVAL);
  CHECK(corral_process_stream(NULL, 0) == NULL);
  corral_process_close(NULL);
  return 0;
}

TEST(bad_arguments) {
  corral_process *p;
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("true")}, &p),
           CORRAL_ENOTASK);
  CHECK_RC(run_real(foreign_body, NULL), 0);
}

typedef struct {
  const char *script;
  int want_sig;
} seq_case;

static int term_seq_body(void *arg, void **result) {
  (void)result;
  seq_case *sc = arg;
  const corral_term_step steps[] = {{SIGUSR1, 100 * MS}, {SIGINT, 100 * MS}};
  corral_process *p;
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("sh", "-c", sc->script),
                                                      .term_seq = steps, .term_seq_len = 2},
                                &p), 0);
  CHECK_RC(corral_sleep(100 * MS), 0);
  corral_scope s;
  memset(&s, 0, sizeof s); /* never mistaken for a scope still entered */
  corral_move_on_after(&s, 10 * MS);
  int es = 0, ts = 0;
  int rc = corral_process_wait(p, &es, &ts);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_EQ(ts, sc->want_sig);
  int pid = corral_process_pid(p);
  corral_process_close(p);
  CHECK(kill(-pid, 0) != 0);
  return 0;
}

/* A termination sequence of one's own (GNU parallel's --termseq): each step
 * is sent to the group, and SIGKILL follows the last one. */
TEST(own_termination_sequence) {
  census c = take();
  seq_case a = {"sleep 100", SIGUSR1};                         /* the first step ends it */
  CHECK_RC(run_real(term_seq_body, &a), 0);
  seq_case b = {"trap '' USR1; sleep 100", SIGINT};          /* the second */
  CHECK_RC(run_real(term_seq_body, &b), 0);
  seq_case d = {"trap '' USR1 INT; sleep 100", SIGKILL};     /* then SIGKILL */
  CHECK_RC(run_real(term_seq_body, &d), 0);
  check_same(c);
}

/* A process closed by one task while another waits for it: the waiter
 * wakes with CORRAL_ECLOSED, and nothing is touched after the close. */
static corral_process *shared_proc;
static int proc_waiter(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_process_wait(shared_proc, NULL, NULL);
}

static int m_close_while_waited(void *arg, void **res) {
  (void)arg, (void)res;
  static const char *const argv[] = {"sleep", "100", NULL};
  corral_process_opts o = {.argv = argv};
  CHECK_RC(corral_process_spawn(&o, &shared_proc), 0);
  corral_group g;
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT}),
           0);
  corral_task *w;
  CHECK_RC(corral_spawn(&g, proc_waiter, NULL, "waiter", &w), 0);
  CHECK_RC(corral_yield(), 0);
  corral_process_close(shared_proc);
  CORRAL_IGNORE(corral_group_close(&g, 0));
  CHECK_RC(corral_task_code(w), CORRAL_ECLOSED);
  corral_task_release(w);
  return 0;
}

TEST(close_while_another_task_waits) {
  int fds = count_fds();
  CHECK_RC(corral_run(NULL, m_close_while_waited, NULL, NULL), 0);
  CHECK_EQ(count_fds(), fds);
}

/* A working directory that does not exist is the spawn's error; nothing
 * runs. */
static int m_bad_cwd(void *arg, void **res) {
  (void)arg, (void)res;
  static const char *const argv[] = {"true", NULL};
  corral_process_opts o = {.argv = argv, .cwd = "/nonexistent-corral-dir"};
  corral_process *p;
  CHECK_RC(corral_process_spawn(&o, &p), CORRAL_ENOENT);
  CHECK(p == NULL);
  o.cwd = "/etc/passwd";
  CHECK_RC(corral_process_spawn(&o, &p), -ENOTDIR);
  return 0;
}

TEST(missing_working_directory_is_a_spawn_error) {
  CHECK_RC(corral_run(NULL, m_bad_cwd, NULL, NULL), 0);
}

/* ------------------------------------------------- both ways of spawning */

#include "io/process.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

/* CTest runs every case twice: process.* on the default path (posix_spawn
 * and a pidfd on Linux) and process_fork.* with CORRAL_PROCESS_SPAWN=fork. */
static int forced_fork(void) {
  const char *v = getenv("CORRAL_PROCESS_SPAWN");
  return v && !strcmp(v, "fork");
}

TEST(the_expected_spawn_path_is_used) {
#if defined(__linux__) && defined(__GLIBC__)
  CHECK_EQ(corral__process_fast(), !forced_fork());
#else
  CHECK_EQ(corral__process_fast(), 0);
#endif
}

/* Read all of a pipe stream into buf (NUL-terminated). */
static size_t slurp(corral_stream *s, char *buf, size_t cap) {
  size_t got = 0;
  int n;
  while (got + 1 < cap && (n = corral_stream_read(s, buf + got, cap - 1 - got)) > 0)
    got += (size_t)n;
  buf[got] = 0;
  return got;
}

/* The child's signal mask is empty, no signal is ignored, and it leads its
 * own session and process group, whatever the parent's mask and
 * dispositions. */
static int clean_start_body(void *arg, void **result) {
  (void)arg, (void)result;
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  void (*old_int)(int) = signal(SIGINT, SIG_IGN);
#if defined(__linux__) && defined(SYS_rt_sigaction)
  /* As in a process GNU make started with posix_spawn: glibc's two own
   * signals (32, 33) ignored, which only the kernel's call can set. */
  unsigned long ign[4] = {(unsigned long)SIG_IGN, 0, 0, 0}, old32[4], old33[4];
  CHECK(syscall(SYS_rt_sigaction, 32, ign, old32, (size_t)8) == 0);
  CHECK(syscall(SYS_rt_sigaction, 33, ign, old33, (size_t)8) == 0);
#endif
  corral_process_opts o = {.argv = ARGV("sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status; "
                                                    "cut -d' ' -f1,5,6 /proc/self/stat")};
  o.stdio[1].mode = CORRAL_STDIO_PIPE;
  corral_process *p;
  int rc = corral_process_spawn(&o, &p);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  signal(SIGINT, old_int);
#if defined(__linux__) && defined(SYS_rt_sigaction)
  CHECK(syscall(SYS_rt_sigaction, 32, old32, NULL, (size_t)8) == 0);
  CHECK(syscall(SYS_rt_sigaction, 33, old33, NULL, (size_t)8) == 0);
#endif
  CHECK_RC(rc, 0);
  char buf[512];
  slurp(corral_process_stream(p, 1), buf, sizeof buf);
  int es = -1;
  CHECK_RC(corral_process_wait(p, &es, NULL), 0);
  CHECK_EQ(es, 0);
  /* sh ignores nothing and blocks nothing by itself when not interactive;
   * cut is its child, in its group and session. */
  if (!strstr(buf, "SigBlk:\t0000000000000000\n") || !strstr(buf, "SigIgn:\t0000000000000000\n"))
    FAILF("the child's signals are not clean:\n%s", buf);
  int cut_pid = 0, pgrp = 0, sid = 0;
  const char *last = strrchr(buf, '\n');
  while (last > buf && last[-1] != '\n') last--;
  CHECK_EQ(sscanf(last, "%d %d %d", &cut_pid, &pgrp, &sid), 3);
  CHECK_EQ(pgrp, corral_process_pid(p));
  CHECK_EQ(sid, corral_process_pid(p));
  corral_process_close(p);
  return 0;
}

TEST(child_starts_with_clean_signals_in_its_own_session) {
  census c = take();
  CHECK_RC(run_real(clean_start_body, NULL), 0);
  check_same(c);
}

/* Descriptors: a source that is another stream's target (the parent's fd 2
 * given as the child's stdout while its stderr goes to a file), and an
 * inherited descriptor that is close-on-exec in the parent (it is still
 * the child's). */
static int stdio_body(void *arg, void **result) {
  (void)arg, (void)result;
  int pa[2], pb[2];
  CHECK(pipe(pa) == 0 && pipe(pb) == 0);
  int saved2 = dup(2);
  char path[] = "/tmp/corral_stdio_XXXXXX";
  int tfd = mkstemp(path);
  close(tfd);
  /* 1: the parent's fd 2 (pipe a) as stdout, stderr to the file */
  dup2(pa[1], 2);
  corral_process_opts o = {.argv = ARGV("sh", "-c", "echo out; echo err >&2")};
  o.stdio[1] = (corral_stdio){.mode = CORRAL_STDIO_FD, .fd = 2};
  o.stdio[2] = (corral_stdio){.mode = CORRAL_STDIO_FILE, .path = path};
  corral_process *p;
  int rc = corral_process_spawn(&o, &p);
  /* 2: stderr inherited from a close-on-exec fd 2 (pipe b) */
  corral_process *q = NULL;
  dup2(pb[1], 2);
  fcntl(2, F_SETFD, FD_CLOEXEC);
  corral_process_opts o2 = {.argv = ARGV("sh", "-c", "echo inherited >&2")};
  int rc2 = corral_process_spawn(&o2, &q);
  dup2(saved2, 2);
  close(saved2);
  close(pa[1]);
  close(pb[1]);
  CHECK_RC(rc, 0);
  CHECK_RC(rc2, 0);
  CHECK_RC(corral_process_wait(p, NULL, NULL), 0);
  CHECK_RC(corral_process_wait(q, NULL, NULL), 0);
  corral_process_close(p);
  corral_process_close(q);
  char buf[64] = "";
  ssize_t n = read(pa[0], buf, sizeof buf - 1);
  CHECK(n > 0);
  buf[n > 0 ? n : 0] = 0;
  CHECK_STR(buf, "out\n");
  n = read(pb[0], buf, sizeof buf - 1);
  CHECK(n > 0);
  buf[n > 0 ? n : 0] = 0;
  CHECK_STR(buf, "inherited\n");
  close(pa[0]);
  close(pb[0]);
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  CHECK(fgets(buf, sizeof buf, f) != NULL);
  fclose(f);
  unlink(path);
  CHECK_STR(buf, "err\n");
  return 0;
}

TEST(stdio_sources_that_are_targets_and_close_on_exec_inherited) {
  census c = take();
  CHECK_RC(run_real(stdio_body, NULL), 0);
  check_same(c);
}

/* Which PATH finds the program: opts.env's when an environment is given
 * (its absence: /usr/local/bin:/usr/bin:/bin), else ours. */
static int path_body(void *arg, void **result) {
  (void)arg, (void)result;
  corral_process *p;
  corral_process_opts o = {.argv = ARGV("true"), .env = ARGV("PATH=/nonexistent-corral")};
  CHECK_RC(corral_process_spawn(&o, &p), CORRAL_ENOENT);
  CHECK(p == NULL);
  o.env = ARGV("X=1"); /* no PATH: the default one */
  CHECK_RC(corral_process_spawn(&o, &p), 0);
  int es = -1;
  CHECK_RC(corral_process_wait(p, &es, NULL), 0);
  CHECK_EQ(es, 0);
  corral_process_close(p);
  return 0;
}

TEST(path_search_uses_the_given_environment) {
  census c = take();
  CHECK_RC(run_real(path_body, NULL), 0);
  check_same(c);
}

/* Exec failures. Not found and not executable are the spawn's errors on
 * both paths (the program is looked up before the child starts). A later
 * exec failure (argument list too long, not an executable format) is the
 * spawn's error on the posix_spawn path; a forked child ends with 127. */
static int exec_fail_body(void *arg, void **result) {
  (void)arg, (void)result;
  int fast = corral__process_fast();
  corral_process *p;
  char dir[] = "/tmp/corral_exec_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char noexec[64], garbage[64];
  snprintf(noexec, sizeof noexec, "%s/noexec", dir);
  snprintf(garbage, sizeof garbage, "%s/garbage", dir);
  FILE *f = fopen(noexec, "w");
  fputs("#!/bin/sh\n", f);
  fclose(f);
  chmod(noexec, 0644);
  f = fopen(garbage, "w");
  fputs("\x01\x02\x03 not a program\n", f);
  fclose(f);
  chmod(garbage, 0755);
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV(noexec)}, &p), -EACCES);
  CHECK(p == NULL);
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("no-such-program-corral")}, &p),
           CORRAL_ENOENT);
  size_t big = 256 * 1024; /* one argument above the kernel's 128 KiB */
  char *huge = malloc(big + 1);
  memset(huge, 'x', big);
  huge[big] = 0;
  const char *const cases[2][3] = {{"true", huge, NULL}, {garbage, NULL, NULL}};
  const int want[2] = {-E2BIG, -ENOEXEC};
  for (int i = 0; i < 2; i++) {
    int rc = corral_process_spawn(&(corral_process_opts){.argv = cases[i]}, &p);
    if (fast) {
      CHECK_RC(rc, want[i]);
      CHECK(p == NULL);
    } else {
      CHECK_RC(rc, 0);
      int es = 0;
      CHECK_RC(corral_process_wait(p, &es, NULL), 0);
      CHECK_EQ(es, 127);
      corral_process_close(p);
    }
  }
  free(huge);
  unlink(noexec);
  unlink(garbage);
  rmdir(dir);
  return 0;
}

TEST(exec_failures) {
  census c = take();
  CHECK_RC(run_real(exec_fail_body, NULL), 0);
  check_same(c);
}

/* corral_process_signal reaches the child; a child of the program that the
 * library did not start is never reaped by it (its zombie stays for us). */
static int signal_body(void *arg, void **result) {
  (void)result;
  int other = *(int *)arg;
  corral_process *p;
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("sleep", "100")}, &p), 0);
  CHECK_RC(corral_sleep(20 * MS), 0);
  CHECK_RC(corral_process_signal(p, 0), 0);
  CHECK_RC(corral_process_signal(p, SIGUSR1), 0);
  int es = 0, ts = 0;
  CHECK_RC(corral_process_wait(p, &es, &ts), 0);
  CHECK_EQ(es, -1);
  CHECK_EQ(ts, SIGUSR1);
  corral_process_close(p);
  /* ours, exited meanwhile, still there to be reaped */
  siginfo_t si;
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_PID, (id_t)other, &si, WEXITED | WNOHANG | WNOWAIT) == 0);
  CHECK_EQ(si.si_pid, other);
  return 0;
}

TEST(signal_and_other_children_left_alone) {
  census c = take();
  int other = fork();
  if (other == 0) _exit(5);
  CHECK(other > 0);
  CHECK_RC(run_real(signal_body, &other), 0);
  int st = 0;
  CHECK_EQ(waitpid(other, &st, 0), other);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5);
  check_same(c);
}

/* Several tasks spawning at once (on the posix_spawn path a spawn made
 * while other children live runs on a worker thread, and the other tasks
 * run meanwhile): every child's own exit code comes back to its task; then
 * a cancellation that comes while spawns are under way: each spawn
 * completes (a spawn is not a cancellation point) and each wait terminates
 * and reaps its child. */
static int many_worker(void *arg, void **result) {
  (void)result;
  int id = (int)(intptr_t)arg;
  for (int k = 0; k < 5; k++) {
    char script[32];
    snprintf(script, sizeof script, "exit %d", id * 5 + k);
    corral_process *p;
    CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("sh", "-c", script)}, &p), 0);
    int es = -1;
    CHECK_RC(corral_process_wait(p, &es, NULL), 0);
    CHECK_EQ(es, id * 5 + k);
    corral_process_close(p);
  }
  return 0;
}

static int sleeper_worker(void *arg, void **result) {
  (void)arg, (void)result;
  corral_process *p;
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("sleep", "100"),
                                                      .kill_grace_ns = -1},
                                &p), 0);
  int ts = 0;
  int rc = corral_process_wait(p, NULL, &ts);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_EQ(ts, SIGKILL);
  corral_process_close(p);
  return rc;
}

static int many_body(void *arg, void **result) {
  (void)arg, (void)result;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (intptr_t i = 0; i < 8; i++)
    CHECK_RC(corral_spawn(&g, many_worker, (void *)i, "worker", NULL), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  corral_scope s;
  memset(&s, 0, sizeof s); /* never mistaken for a scope still entered */
  corral_move_on_after(&s, 5 * MS); /* while the spawns are under way */
  corral_group h;
  CHECK_RC(corral_group_open(&h, &(corral_group_opts){.policy = CORRAL_COLLECT}), 0);
  for (int i = 0; i < 8; i++)
    CHECK_RC(corral_spawn(&h, sleeper_worker, NULL, "sleeper", NULL), 0);
  int rc = corral_group_close(&h, 0);
  CHECK(rc != 0); /* the waits were cancelled */
  CHECK_RC(corral_scope_exit(&s, 0), 0);
  return 0;
}

TEST(many_children_at_once_and_cancelled_while_spawning) {
  census c = take();
  CHECK_RC(run_real(many_body, NULL), 0);
  check_same(c);
}

/* Several tasks wait for one child at once (asyncio's and Trio's
 * Process.wait allow it): the exit wakes them all with the same status, in
 * ordinary and compact tasks. When one waiter is cancelled it runs the
 * termination sequence and the others get the status it ends with; a
 * second cancelled waiter waits for that end too. A close wakes every
 * waiter with CORRAL_ECLOSED. */
typedef struct {
  corral_process *p;
  int es, ts, rc;
  int64_t deadline; /* for the cancelled waiters: one instant for all */
} mw_slot;
static int mw_waiter(void *arg, void **res) {
  (void)res;
  mw_slot *s = arg;
  s->rc = corral_process_wait(s->p, &s->es, &s->ts);
  return 0;
}
static int mw_cancelled_waiter(void *arg, void **res) {
  (void)res;
  mw_slot *s = arg;
  corral_scope sc;
  corral_move_on_at(&sc, s->deadline);
  s->rc = corral_process_wait(s->p, &s->es, &s->ts);
  CORRAL_IGNORE(corral_scope_exit(&sc, s->rc));
  return 0;
}
static int m_many_waiters(void *arg, void **res) {
  (void)arg, (void)res;
  enum { N = 7 };
  mw_slot s[N];
  corral_process *p;
  /* 1: all wait, the child exits by itself */
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("sh", "-c", "sleep 0.1; exit 3")}, &p), 0);
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < N; i++) {
    s[i] = (mw_slot){p, -2, -2, 99, 0};
    CHECK_RC(corral_spawn_with(&g, mw_waiter, &s[i], NULL,
                               (corral_spawn_opts){.name = "waiter", .compact = i % 2}),
             0);
  }
  CHECK_RC(corral_group_close(&g, 0), 0);
  for (int i = 0; i < N; i++) {
    CHECK_RC(s[i].rc, 0);
    CHECK_EQ(s[i].es, 3);
    CHECK_EQ(s[i].ts, 0);
  }
  corral_process_close(p);
  /* 2: two waiters are cancelled, the others get the SIGTERM status */
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("sleep", "100")}, &p), 0);
  CHECK_RC(corral_group_open(&g, NULL), 0);
  /* Both cancelled waiters share one deadline: with two, the second could
   * start late enough (a loaded machine) for the child to die of the
   * first one's SIGTERM before its own deadline, and then it rightly
   * returns the status. */
  int64_t at = corral_now() + 50 * MS;
  for (int i = 0; i < N; i++) {
    s[i] = (mw_slot){p, -2, -2, 99, at};
    CHECK_RC(corral_spawn(&g, i < 2 ? mw_cancelled_waiter : mw_waiter, &s[i], "waiter", NULL), 0);
  }
  CHECK_RC(corral_group_close(&g, 0), 0);
  for (int i = 0; i < N; i++) {
    CHECK_RC(s[i].rc, i < 2 ? CORRAL_ECANCELED : 0);
    CHECK_EQ(s[i].es, -1);
    CHECK_EQ(s[i].ts, SIGTERM);
  }
  corral_process_close(p);
  /* 3: closed while they wait */
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("sleep", "100")}, &p), 0);
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT}), 0);
  for (int i = 0; i < N; i++) {
    s[i] = (mw_slot){p, -2, -2, 99, 0};
    CHECK_RC(corral_spawn(&g, mw_waiter, &s[i], "waiter", NULL), 0);
  }
  CHECK_RC(corral_yield(), 0);
  corral_process_close(p);
  CHECK_RC(corral_group_close(&g, 0), 0);
  for (int i = 0; i < N; i++) CHECK_RC(s[i].rc, CORRAL_ECLOSED);
  return 0;
}
TEST(many_tasks_wait_for_one_child) {
  census c = take();
  CHECK_RC(run_real(m_many_waiters, NULL), 0);
  check_same(c);
}

/* A child of the runtime that the program reaps itself (waitpid(-1), as
 * a SIGCHLD handler that reaps every child does): its status is lost, and
 * the wait says so (-ECHILD, exit status -1) instead of a success. */
static int m_stolen(void *arg, void **res) {
  (void)arg, (void)res;
  corral_process *p;
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("sh", "-c", "exit 5")}, &p), 0);
  int st = 0;
  CHECK_EQ(waitpid(-1, &st, 0), corral_process_pid(p));
  CHECK_EQ(WEXITSTATUS(st), 5);
  int es = 7, ts = 7;
  corral_scope sc;
  corral_fail_after(&sc, 10 * 1000 * MS); /* a lost exit must not hang */
  int rc = corral_process_wait(p, &es, &ts);
  CHECK_RC(corral_scope_exit(&sc, rc), -ECHILD);
  CHECK_EQ(es, -1);
  CHECK_EQ(ts, 0);
  CHECK_RC(corral_process_wait(p, NULL, NULL), -ECHILD); /* and again */
  corral_process_close(p);
  return 0;
}
TEST(child_reaped_by_the_program_is_not_a_success) {
  census c = take();
  CHECK_RC(run_real(m_stolen, NULL), 0);
  check_same(c);
}

/* corral_process_run with a process that left the child's group (setsid)
 * and holds the output pipe open: the call returns once the child exited
 * and the pipe went silent, with what came, instead of waiting for that
 * process to end. */
/* corral_process_run of `script`, whose child exits 0 and whose escapee
 * prints "pid=PID" first; a call still running at `broken_ns` is broken.
 * Returns the escapee's pid (its line and the child's come in either
 * order: a loaded machine may start the escapee late). */
static int run_with_escapee(const char *script, int64_t broken_ns, corral_completed *r) {
  corral_scope s;
  CHECK_RC(corral_fail_after(&s, broken_ns), 0);
  int rc = corral_process_run(&(corral_process_opts){.argv = ARGV("sh", "-c", script)}, NULL, 0,
                              0, r);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK_EQ(r->exit_status, 0);
  int pid = 0;
  const char *at = strstr(r->out, "pid=");
  CHECK(at && sscanf(at + 4, "%d", &pid) == 1);
  CHECK(pid > 0);
  return pid;
}

static int m_run_escapee(void *arg, void **res) {
  (void)arg, (void)res;
  corral_completed r;
  int pid = run_with_escapee("setsid sh -c 'echo pid=$$; exec sleep 300' & sleep 0.3; echo early",
                             30 * 1000 * MS, &r);
  CHECK(strstr(r.out, "early\n") != NULL);
  /* the escapee is ours to end (the test is a subreaper) */
  CHECK_RC(kill(pid, SIGKILL), 0);
  CHECK_EQ(waitpid(pid, NULL, 0), pid);
  corral_completed_clear(&r);
  return 0;
}
TEST(run_returns_while_an_escaped_process_holds_the_pipe) {
  census c = take();
  CHECK_RC(run_real(m_run_escapee, NULL), 0);
  check_same(c);
}

/* A cancelled waiter that ends the child's group (members still running
 * after the child's exit: the SIGKILL takes a moment) while another waiter,
 * woken by the same exit, closes the process: the close must not free
 * the process under the first waiter. */
static int eg_closer(void *arg, void **res) {
  (void)res;
  mw_slot *s = arg;
  s->rc = corral_process_wait(s->p, &s->es, &s->ts);
  CORRAL_IGNORE(corral_yield()); /* the cancelled waiter ends the group */
  corral_process_close(s->p);
  return 0;
}
static int m_close_during_group_end(void *arg, void **res) {
  (void)arg, (void)res;
  for (int round = 0; round < 5; round++) {
    corral_process *p;
    CHECK_RC(corral_process_spawn(
                 &(corral_process_opts){
                     .argv = ARGV("sh", "-c",
                                  "for i in 1 2 3 4 5 6 7 8; do (trap '' TERM; exec sleep 100) & done; "
                                  "exec sleep 100")},
                 &p),
             0);
    mw_slot a = {p, -2, -2, 99, corral_now() + 50 * MS}, b = {p, -2, -2, 99, 0};
    corral_group g;
    CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT}), 0);
    CHECK_RC(corral_spawn(&g, mw_cancelled_waiter, &a, "cancelled", NULL), 0);
    CHECK_RC(corral_spawn(&g, eg_closer, &b, "closer", NULL), 0);
    CHECK_RC(corral_group_close(&g, 0), 0);
    CHECK(a.rc == CORRAL_ECANCELED || a.rc == CORRAL_ECLOSED);
    CHECK_RC(b.rc, 0);
    CHECK_EQ(b.ts, SIGTERM);
  }
  return 0;
}
TEST(close_while_a_cancelled_waiter_ends_the_group) {
  census c = take();
  CHECK_RC(run_real(m_close_during_group_end, NULL), 0);
  check_same(c);
}

/* Tasks already waiting when the program reaps the child itself: each
 * wait ends with -ECHILD (never a success, never a hang). */
static int st_thief(void *arg, void **res) {
  (void)res;
  corral_process *p = arg;
  CORRAL_IGNORE(corral_yield()); /* the waiters park first */
  int st = 0;
  CHECK_EQ(waitpid(-1, &st, 0), corral_process_pid(p)); /* blocks the thread */
  return 0;
}
static int m_stolen_while_waited(void *arg, void **res) {
  (void)arg, (void)res;
  enum { N = 4 };
  corral_process *p;
  CHECK_RC(corral_process_spawn(&(corral_process_opts){.argv = ARGV("sh", "-c", "sleep 0.2; exit 4")}, &p), 0);
  mw_slot s[N];
  corral_scope sc;
  CHECK_RC(corral_fail_after(&sc, 10 * 1000 * MS), 0); /* a lost exit must not hang */
  corral_group g;
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT}), 0);
  for (int i = 0; i < N; i++) {
    s[i] = (mw_slot){p, -2, -2, 99, 0};
    CHECK_RC(corral_spawn_with(&g, mw_waiter, &s[i], NULL,
                               (corral_spawn_opts){.name = "waiter", .compact = i % 2}),
             0);
  }
  CHECK_RC(corral_spawn(&g, st_thief, p, "thief", NULL), 0);
  CHECK_RC(corral_scope_exit(&sc, corral_group_close(&g, 0)), 0);
  for (int i = 0; i < N; i++) {
    CHECK_RC(s[i].rc, -ECHILD);
    CHECK_EQ(s[i].es, -1);
  }
  corral_process_close(p);
  return 0;
}
TEST(child_reaped_by_the_program_while_tasks_wait) {
  census c = take();
  CHECK_RC(run_real(m_stolen_while_waited, NULL), 0);
  check_same(c);
}

/* The same with an escaped process that keeps writing (more often than the
 * 100 ms of silence that ends the reading): the call still returns soon
 * after the exit, with the output that came until then. */
static int m_run_chatty_escapee(void *arg, void **res) {
  (void)arg, (void)res;
  corral_completed r;
  int pid = run_with_escapee(
      "setsid sh -c 'echo pid=$$; while :; do echo x; sleep 0.02; done' & sleep 0.1; echo early",
      20 * 1000 * MS, &r);
  CHECK(strstr(r.out, "early") != NULL);
  /* its group (it leads one: setsid) is ours to end: the test is a
   * subreaper, and its sleep comes to us too */
  CHECK_RC(kill(-pid, SIGKILL), 0);
  while (waitpid(-pid, NULL, 0) > 0) {
  }
  corral_completed_clear(&r);
  return 0;
}
TEST(run_returns_while_an_escaped_process_keeps_writing) {
  census c = take();
  CHECK_RC(run_real(m_run_chatty_escapee, NULL), 0);
  check_same(c);
}
