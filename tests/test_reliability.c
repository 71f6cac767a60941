/* Regression tests for what the runtime fuzzer (fuzz/) and the fault
 * injection walk (tests/test_fault.c) found, each written out as a
 * readable case. The raw fuzzer inputs live in fuzz/regress/. */
#include "test.h"

static int sleeper(void *a, void **r) {
  (void)a, (void)r;
  return corral_sleep(10 * MS);
}

static int child_fails(void *a, void **r) {
  (void)a, (void)r;
  return corral_errorf(CORRAL_EIO, "child fails");
}

/* A task that used create_task and failed with its own error keeps its own
 * code when no child error went unobserved (its children were only
 * cancelled): it used to end in CORRAL_EGROUP wrapping its own error. */
static int fails_with_kids(void *a, void **r) {
  (void)a, (void)r;
  corral_create_task(sleeper, NULL, "sleeper", NULL);
  return corral_errorf(CORRAL_ERANGE, "own error");
}
/* ...while an unobserved child error still makes it EGROUP, its own error
 * last. */
static int fails_with_failing_kid(void *a, void **r) {
  (void)a, (void)r;
  corral_create_task(child_fails, NULL, "bad", NULL);
  CORRAL_IGNORE(corral_sleep(MS));
  return corral_errorf(CORRAL_ERANGE, "own error");
}

static int m_own_error(void *a, void **r) {
  (void)a, (void)r;
  corral_task *t, *u;
  CHECK_RC(corral_spawn(NULL, fails_with_kids, NULL, "p", &t), 0);
  CHECK_RC(corral_join(t, NULL), CORRAL_ERANGE);
  CHECK_RC(corral_task_code(t), CORRAL_ERANGE);
  CHECK_STR(corral_error_message(corral_task_error(t)), "own error");
  CHECK_RC(corral_spawn(NULL, fails_with_failing_kid, NULL, "q", &u), 0);
  CHECK_RC(corral_join(u, NULL), CORRAL_EGROUP);
  const corral_error *e = corral_task_error(u);
  CHECK_EQ(corral_error_count(e), 2);
  CHECK_RC(corral_error_code(corral_error_child(e, 0)), CORRAL_EIO);
  CHECK_RC(corral_error_code(corral_error_child(e, 1)), CORRAL_ERANGE);
  corral_task_release(t);
  corral_task_release(u);
  return 0;
}

TEST(create_task_keeps_own_error) { CHECK_RC(run_virtual(m_own_error, NULL), 0); }

/* A task that parks while the watchdog's preempt flag is up (a deadline
 * passed while it ran without a checkpoint) used to yield inside the park,
 * after its caller had checked its condition: a wake-up that came during
 * that yield was lost and the task slept forever (found by the fault
 * injection walk: a group close that never returned). */
static void spin_ms(int ms) {
  int64_t end = corral_now() + CORRAL_MS(ms);
  while (corral_now() < end) {
  }
}
static int quick(void *a, void **r) {
  (void)a, (void)r;
  return 0;
}
static int short_sleep(void *a, void **r) {
  (void)a, (void)r;
  return corral_sleep(CORRAL_MS(1));
}
static int setter(void *a, void **r) {
  (void)r;
  corral_event_set(a);
  return 0;
}
static int m_preempt_park(void *a, void **r) {
  (void)a, (void)r;
  for (int i = 0; i < 5; i++) {
    corral_group g;
    CHECK_RC(corral_group_open(&g, NULL), 0);
    CHECK_RC(corral_spawn(&g, quick, NULL, "quick", NULL), 0);
    CHECK_RC(corral_spawn(&g, short_sleep, NULL, "sleeper", NULL), 0);
    spin_ms(20); /* the sleeper's deadline passes: the watchdog preempts */
    CHECK_RC(corral_group_close(&g, 0), 0);
  }
  corral_event e;
  corral_event_init(&e);
  for (int i = 0; i < 5; i++) {
    corral_event_clear(&e);
    corral_group g;
    CHECK_RC(corral_group_open(&g, NULL), 0);
    CHECK_RC(corral_spawn(&g, short_sleep, NULL, "sleeper", NULL), 0);
    spin_ms(20);
    /* The setter runs while the waiter is preempted inside its park. */
    CHECK_RC(corral_spawn(&g, setter, &e, "set", NULL), 0);
    CHECK_RC(corral_event_wait(&e), 0);
    CHECK_RC(corral_group_close(&g, 0), 0);
  }
  return 0;
}

TEST(park_while_preempted_keeps_its_wakeup) {
  corral_options o = {0};
  CHECK_RC(corral_run(&o, m_preempt_park, NULL, NULL), 0);
}

/* An offloaded call whose scope's deadline passed while the task ran
 * without a checkpoint: the deadline fires when the task parks for the
 * call, which must then withdraw or wait for the job through its abort
 * callback; returning at once freed a job still queued or running (a
 * use-after-free found by the soak under AddressSanitizer). */
#include "corral/thread.h"
static int slow_job(void *arg, void **res) {
  (void)res;
  usleep(20000);
  ++*(int *)arg;
  return 0;
}
static int m_offload_deadline(void *a, void **r) {
  (void)a, (void)r;
  static int ran;
  for (int i = 0; i < 3; i++) {
    corral_scope s;
    CHECK_RC(corral_move_on_after(&s, CORRAL_MS(1)), 0);
    spin_ms(20); /* the deadline passes; the watchdog raises its flag */
    int rc = corral_to_thread(slow_job, &ran, NULL, NULL);
    CHECK(rc == 0 || rc == CORRAL_ECANCELED);
    CHECK_RC(corral_scope_exit(&s, rc), 0);
  }
  return 0;
}

TEST(offload_whose_deadline_fires_at_the_park) {
  corral_options o = {0};
  CHECK_RC(corral_run(&o, m_offload_deadline, NULL, NULL), 0);
}

/* fork() in a task: the child is outside the runtime it inherited (its
 * loop shares the parent's epoll instance; its tasks are copies): a
 * blocking call there returns CORRAL_ENOTASK instead of running the copies,
 * and corral_run starts a fresh runtime. Both used to go wrong: the child's
 * corral_sleep ran the parent's copied tasks on the shared loop, and
 * corral_run returned CORRAL_EBUSY. */
#include <sys/wait.h>
#include <unistd.h>

static int in_child(void *a, void **r) {
  (void)a;
  *r = (void *)(intptr_t)(corral_sleep(MS) == 0 ? 42 : 1);
  return 0;
}

static int m_fork_in_task(void *a, void **r) {
  (void)a, (void)r;
  corral_task *t;
  CHECK_RC(corral_spawn(NULL, sleeper, NULL, "sleeper", &t), 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    int code = 0;
    if (corral_sleep(MS) != CORRAL_ENOTASK) code |= 1;
    if (corral_current() != NULL) code |= 2;
    if (corral_cancel(t, NULL) != CORRAL_ENOTASK) code |= 4;
    void *res = NULL;
    int rc = corral_run(NULL, in_child, NULL, &res);
    if (rc != 0 || res != (void *)(intptr_t)42) code |= 8;
    _exit(code);
  }
  CHECK(pid > 0);
  int st = 0;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  return 0;
}

TEST(fork_in_a_task_leaves_the_child_outside_the_runtime) {
  CHECK_RC(corral_run(NULL, m_fork_in_task, NULL, NULL), 0);
}

/* A termination grace of INT64_MAX (CORRAL_FOREVER: "wait as long as it
 * takes after SIGTERM") overflowed the deadline: the wrapped, past deadline
 * sent SIGKILL right after SIGTERM, and the ASan + UBSan build stops at
 * the overflow. */
#include "corral/process.h"
#include <signal.h>
#include <sys/prctl.h>

static int m_forever_grace(void *a, void **r) {
  (void)a, (void)r;
  static const char *const argv[] = {"sleep", "10", NULL};
  corral_process_opts o = {.argv = argv, .kill_grace_ns = CORRAL_FOREVER};
  corral_process *p = NULL;
  CHECK_RC(corral_process_spawn(&o, &p), 0);
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, 50 * MS), 0);
  int es = 0, ts = 0;
  CHECK_RC(corral_process_wait(p, &es, &ts), CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, 0), 0);
  CHECK_EQ(es, -1);
  CHECK_EQ(ts, SIGTERM); /* SIGTERM ended it: no SIGKILL came early */
  corral_process_close(p);
  return 0;
}

TEST(termination_grace_of_forever_does_not_overflow) {
  int fds = count_fds();
  CHECK_RC(corral_run(NULL, m_forever_grace, NULL, NULL), 0);
  CHECK_EQ(count_fds(), fds);
}

/* A handle never released: the runtime's end frees the task's error
 * record and cancel reason with it (they leaked: the task struct went with
 * the slabs, the records it pointed to stayed). */
static long live_blocks;
static void *cnt_malloc(void *c, size_t n) {
  (void)c;
  void *p = malloc(n);
  if (p) live_blocks++;
  return p;
}
static void *cnt_realloc(void *c, void *p, size_t n) {
  (void)c;
  void *q = realloc(p, n);
  if (!p && q) live_blocks++;
  return q;
}
static void cnt_free(void *c, void *p) {
  (void)c;
  if (p) live_blocks--;
  free(p);
}

static int forever(void *a, void **r) {
  (void)a, (void)r;
  return corral_sleep(CORRAL_SEC(100));
}

static int started_then_fails(void *a, void **r) {
  (void)a, (void)r;
  CORRAL_IGNORE(corral_started(NULL));
  return corral_errorf(CORRAL_EIO, "after started");
}

static int m_unreleased(void *a, void **r) {
  (void)a, (void)r;
  corral_task *t, *u, *v, *w;
  CHECK_RC(corral_spawn(NULL, child_fails, NULL, "fails", &t), 0);
  CHECK_RC(corral_join(t, NULL), CORRAL_EIO);
  CHECK_RC(corral_spawn(NULL, forever, NULL, "lazy", &u), 0);
  CHECK_RC(corral_wait_for(u, 0, NULL), CORRAL_ETIMEDOUT); /* cancelled: a reason */
  CHECK_RC(corral_spawn(NULL, sleeper, NULL, "released", &v), 0);
  CHECK_RC(corral_join(v, NULL), 0);
  corral_task_release(v); /* released ones leave the list */
  corral_group g;
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT}), 0);
  /* ends right after corral_started, before its starter resumes */
  CHECK_RC(corral_start(&g, started_then_fails, NULL, "started", NULL, &w), 0);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  return 0; /* t, u and w are never released */
}

TEST(unreleased_handles_free_their_records_at_the_end) {
  corral_allocator al = {cnt_malloc, cnt_realloc, cnt_free, NULL};
  live_blocks = 0;
  CHECK_RC(corral_run(&(corral_options){.allocator = &al, .virtual_clock = 1},
                       m_unreleased, NULL, NULL), 0);
  CHECK_EQ(live_blocks, 0);
}

/* Signals arriving during a runtime's start, life and teardown: another
 * process sends SIGUSR1 (a signal watch's) and SIGINT (a group's cancel
 * signal) in a loop while runtimes come and go. The application's own
 * handlers must be back after each run, and no signal may kill the
 * process: libuv resets a signal to SIG_DFL when its last watch closes,
 * before the library puts the application's handler back, and a signal in
 * that moment killed the process (2 runs in 5). */
#include <sched.h>

static volatile sig_atomic_t app_hits;
static void app_handler(int s) {
  (void)s;
  app_hits++;
}

static int m_signals_all_along(void *a, void **r) {
  (void)a, (void)r;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_group_cancel_on_signal(&g, SIGINT), 0);
  int sig = SIGUSR1, got = 0;
  corral_signal_watch *w = NULL;
  int rc = corral_signal_watch_open(&sig, 1, &w);
  for (int i = 0; rc == 0 && i < 3; i++) {
    corral_scope s;
    CHECK_RC(corral_move_on_after(&s, MS), 0);
    if (corral_signal_next(w) > 0) got++;
    CORRAL_IGNORE(corral_scope_exit(&s, 0));
  }
  corral_signal_watch_close(w);
  rc = corral_group_close(&g, rc);
  return rc == CORRAL_ECANCELED ? 0 : rc;
}

TEST(signals_during_start_and_teardown) {
  struct sigaction sa = {0};
  sa.sa_handler = app_handler;
  sigemptyset(&sa.sa_mask);
  CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
  CHECK_EQ(sigaction(SIGINT, &sa, NULL), 0);
  CHECK_RC(corral_run(NULL, m_signals_all_along, NULL, NULL), 0); /* warm */
  int fds = count_fds();
  pid_t parent = getpid(), sender = fork();
  if (sender == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a failed test */
    while (getppid() == parent) { /* until the parent kills it */
      kill(parent, SIGUSR1);
      kill(parent, SIGINT);
      /* Tens of thousands a second, not an unbroken flood: a clone(2) that
       * a process-wide signal interrupts is restarted by the kernel, and
       * an unbroken flood on an idle machine kept the runtime's watchdog
       * thread from ever being created (a livelock of the test, not of
       * the library). */
      usleep(20);
    }
    _exit(0);
  }
  CHECK(sender > 0);
  for (int i = 0; i < 2000; i++) {
    int rc = corral_run(NULL, m_signals_all_along, NULL, NULL);
    if (rc != 0 && rc != CORRAL_ECANCELED) FAILF("run %d: %s", i, corral_err_name(rc));
    struct sigaction now;
    sigaction(SIGUSR1, NULL, &now);
    CHECK(now.sa_handler == app_handler);
    sigaction(SIGINT, NULL, &now);
    CHECK(now.sa_handler == app_handler);
  }
  kill(sender, SIGKILL);
  waitpid(sender, NULL, 0);
  CHECK_EQ(count_fds(), fds);
  CHECK(app_hits > 0);
}

/* Closing a file twice: the second close is refused (it read and freed the
 * struct a second time: a use after free under AddressSanitizer, a double
 * close of a descriptor number that may have been reused). */
#include "corral/file.h"
#include <fcntl.h>

static int m_file_twice(void *a, void **r) {
  (void)a, (void)r;
  corral_file *f = NULL;
  CHECK_RC(corral_file_open("/dev/null", O_RDONLY, 0, &f), 0);
  CHECK_RC(corral_file_close(f), 0);
  /* the descriptor number is reused by the next open: the stale close must
   * not close it */
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  CHECK_RC(corral_file_close(f), CORRAL_EINVAL);
  CHECK(fcntl(fd, F_GETFD) >= 0); /* still open */
  close(fd);
  return 0;
}

TEST(file_closed_twice_is_refused) {
  int fds = count_fds();
  CHECK_RC(corral_run(NULL, m_file_twice, NULL, NULL), 0);
  CHECK_EQ(count_fds(), fds);
}

/* A portal released once too often: it aborts with a message while the
 * runtime lives (the extra release dropped the runtime's own reference and
 * the portal was freed under it). Checked in a child process. */
#include "corral/thread.h"

static int m_portal_twice(void *a, void **r) {
  (void)a, (void)r;
  corral_portal *p = NULL;
  CHECK_RC(corral_portal_open(&p), 0);
  corral_portal_release(p);
  corral_portal_release(p); /* one too many */
  return 0;
}

TEST(portal_released_twice_aborts_with_a_message) {
  int pfd[2];
  CHECK_EQ(pipe(pfd), 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pfd[1], 2);
    close(pfd[0]);
    corral_run(NULL, m_portal_twice, NULL, NULL);
    _exit(0);
  }
  close(pfd[1]);
  char buf[512] = "";
  size_t got = 0;
  ssize_t n;
  while (got < sizeof buf - 1 && (n = read(pfd[0], buf + got, sizeof buf - 1 - got)) > 0)
    got += (size_t)n;
  close(pfd[0]);
  int st = 0;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  CHECK(strstr(buf, "released more times") != NULL);
}
