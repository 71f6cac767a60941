/* Subprocesses and the clock, and what a child inherits: what
 * include/corral/process.h and docs/processes.md say.
 *  - On the virtual clock a child runs in real time while virtual time
 *    stands still (no timer: a wait for a child that sleeps 200 ms real
 *    ends with corral_now() unchanged), and the grace periods of the
 *    termination sequence are virtual: they pass at once when nothing else
 *    runs (SIGTERM, then SIGKILL with no real wait between).
 *  - A child inherits every descriptor not marked close-on-exec. */
#define _GNU_SOURCE
#include "test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static int m_child_runs_virtual_time_stands(void *a, void **r) {
  (void)a, (void)r;
  const char *argv[] = {"sleep", "0.2", NULL};
  corral_process_opts o = {.argv = argv};
  corral_process *p;
  CHECK_RC(corral_process_spawn(&o, &p), 0);
  int64_t t0 = corral_now();
  int st = -1;
  CHECK_RC(corral_process_wait(p, &st, NULL), 0);
  CHECK_EQ(st, 0);
  CHECK_EQ(corral_now(), t0); /* no timer: virtual time did not move */
  corral_process_close(p);
  return 0;
}

TEST(virtual_time_stands_while_a_child_runs) {
  int before = count_fds();
  CHECK_RC(run_virtual(m_child_runs_virtual_time_stands, NULL), 0);
  CHECK_EQ(count_fds(), before);
  CHECK(waitpid(-1, NULL, WNOHANG) < 0);
}

/* A child that ignores SIGTERM, cancelled after 1 s (virtual) with a
 * grace of 30 s: both periods pass at once in virtual time; the child
 * ends by SIGKILL. */
static int m_grace_is_virtual(void *a, void **r) {
  (void)a, (void)r;
  const char *argv[] = {"sh", "-c", "trap '' TERM; echo ready; sleep 30",
                        NULL};
  corral_process_opts o = {.argv = argv, .kill_grace_ns = CORRAL_SEC(30)};
  o.stdio[1].mode = CORRAL_STDIO_PIPE;
  corral_process *p;
  CHECK_RC(corral_process_spawn(&o, &p), 0);
  char line[16]; /* SIGTERM is ignored from here on */
  CHECK_RC(corral_stream_read_line(corral_process_stream(p, 1), line,
                                   sizeof line), 6);
  int64_t t0 = corral_now();
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, CORRAL_SEC(1)), 0);
  int st = -1, sig = -1;
  int rc = corral_process_wait(p, &st, &sig);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK_EQ(sig, SIGKILL);
  /* 1 s, then the 30 s grace; then the reaping of what is left of the
   * group polls on the same clock (under a second). */
  int64_t dt = corral_now() - t0;
  CHECK(dt >= CORRAL_SEC(31) && dt < CORRAL_SEC(32));
  corral_process_close(p);
  return 0;
}

TEST(termination_grace_is_virtual_time) {
  int before = count_fds();
  CHECK_RC(run_virtual(m_grace_is_virtual, NULL), 0);
  CHECK_EQ(count_fds(), before);
  CHECK(waitpid(-1, NULL, WNOHANG) < 0);
}

/* A descriptor without FD_CLOEXEC reaches the child; one with it does
 * not. */
static int g_plain, g_cloexec;
static int m_inherit(void *a, void **r) {
  (void)a, (void)r;
  char cmd[160];
  snprintf(cmd, sizeof cmd,
           "test -e /proc/self/fd/%d || exit 1; test -e /proc/self/fd/%d "
           "&& exit 2; exit 0",
           g_plain, g_cloexec);
  const char *argv[] = {"sh", "-c", cmd, NULL};
  corral_process_opts o = {.argv = argv};
  corral_process *p;
  CHECK_RC(corral_process_spawn(&o, &p), 0);
  int st = -1;
  CHECK_RC(corral_process_wait(p, &st, NULL), 0);
  CHECK_EQ(st, 0);
  corral_process_close(p);
  return 0;
}

TEST(child_inherits_descriptors_without_cloexec) {
  int before = count_fds();
  int a[2], b[2];
  CHECK(pipe(a) == 0 && pipe2(b, O_CLOEXEC) == 0);
  g_plain = a[0];
  g_cloexec = b[0];
  CHECK_RC(corral_run(NULL, m_inherit, NULL, NULL), 0);
  close(a[0]);
  close(a[1]);
  close(b[0]);
  close(b[1]);
  CHECK_EQ(count_fds(), before);
  CHECK(waitpid(-1, NULL, WNOHANG) < 0);
}
