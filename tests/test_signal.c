/* Signals: waiting, watches, and the process's dispositions given back
 * exactly after the last watch (also for scope / group cancel-on-signal). */
#include "test.h"

#include <pthread.h>
#include <signal.h>

static volatile sig_atomic_t custom_hits;
static void custom_handler(int s) {
  (void)s;
  custom_hits++;
}

static struct sigaction disp(int s) {
  struct sigaction a;
  memset(&a, 0, sizeof a);
  sigaction(s, NULL, &a);
  return a;
}

static int m_watch_once(void *arg, void **res) {
  (void)res;
  int s = *(int *)arg;
  corral_signal_watch *w;
  int rc = corral_signal_watch_open(&s, 1, &w);
  if (rc) return rc;
  kill(getpid(), s);
  rc = corral_signal_next(w);
  corral_signal_watch_close(w);
  return rc == s ? 0 : (rc < 0 ? rc : CORRAL_EINVAL);
}

TEST(ignored_stays_ignored) {
  int fds = count_fds();
  int s = SIGUSR1;
  signal(s, SIG_IGN);
  CHECK_RC(corral_run(NULL, m_watch_once, &s, NULL), 0);
  CHECK(disp(s).sa_handler == SIG_IGN);
  kill(getpid(), s); /* still ignored: the process survives */
  CHECK_RC(corral_run(NULL, m_watch_once, &s, NULL), 0); /* again */
  CHECK(disp(s).sa_handler == SIG_IGN);
  CHECK_EQ(count_fds(), fds);
}

TEST(custom_handler_restored_exactly) {
  int s = SIGUSR2;
  struct sigaction a;
  memset(&a, 0, sizeof a);
  a.sa_handler = custom_handler;
  a.sa_flags = SA_RESTART | SA_NODEFER;
  sigemptyset(&a.sa_mask);
  sigaddset(&a.sa_mask, SIGHUP);
  CHECK_EQ(sigaction(s, &a, NULL), 0);
  CHECK_RC(corral_run(NULL, m_watch_once, &s, NULL), 0);
  CHECK_EQ(custom_hits, 0); /* the watch got it, not the handler */
  struct sigaction b = disp(s);
  CHECK(b.sa_handler == custom_handler);
  CHECK_EQ(b.sa_flags & (SA_RESTART | SA_NODEFER | SA_SIGINFO),
           SA_RESTART | SA_NODEFER);
  CHECK(sigismember(&b.sa_mask, SIGHUP));
  kill(getpid(), s);
  CHECK_EQ(custom_hits, 1);
}

TEST(default_stays_default) {
  int s = SIGUSR1;
  signal(s, SIG_DFL);
  CHECK_RC(corral_run(NULL, m_watch_once, &s, NULL), 0);
  CHECK(disp(s).sa_handler == SIG_DFL);
}

static int m_scope_signal(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope sc;
  CHECK_RC(corral_scope_enter(&sc, NULL), 0);
  CHECK_RC(corral_scope_cancel_on_signal(&sc, SIGTERM), 0);
  kill(getpid(), SIGTERM);
  int rc = corral_sleep(CORRAL_SEC(30));
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK(corral_scope_cancelled(&sc));
  return corral_scope_exit(&sc, rc);
}

static int m_group_signal(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_group_cancel_on_signal(&g, SIGTERM), 0);
  kill(getpid(), SIGTERM);
  int rc = corral_sleep(CORRAL_SEC(30));
  CHECK_RC(rc, CORRAL_ECANCELED);
  rc = corral_group_close(&g, 0); /* its own cancellation: no error */
  return rc == CORRAL_ECANCELED ? 0 : rc;
}

TEST(cancel_on_signal_restores_ignore) {
  signal(SIGTERM, SIG_IGN); /* as a daemon that ignores SIGTERM */
  CHECK_RC(corral_run(NULL, m_scope_signal, NULL, NULL), 0);
  CHECK(disp(SIGTERM).sa_handler == SIG_IGN);
  CHECK_RC(corral_run(NULL, m_group_signal, NULL, NULL), 0);
  CHECK(disp(SIGTERM).sa_handler == SIG_IGN);
  kill(getpid(), SIGTERM); /* the next SIGTERM does not kill it */
}

static int m_wait_cancelled(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope sc;
  CHECK_RC(corral_move_on_after(&sc, CORRAL_SEC(5)), 0);
  int rc = corral_signal_wait(SIGUSR1);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&sc, rc), 0);
  CHECK_RC(corral_signal_wait(SIGKILL), CORRAL_EINVAL);
  CHECK_RC(corral_signal_wait(0), CORRAL_EINVAL);
  int two[2] = {SIGUSR1, SIGUSR1};
  corral_signal_watch *w;
  CHECK_RC(corral_signal_watch_open(two, 2, &w), CORRAL_EINVAL);
  CHECK_RC(corral_signal_next(NULL), CORRAL_EINVAL);
  return 0;
}

TEST(wait_is_cancellable_and_checks_input) {
  int fds = count_fds();
  signal(SIGUSR1, SIG_IGN);
  CHECK_RC(run_virtual(m_wait_cancelled, NULL), 0);
  CHECK(disp(SIGUSR1).sa_handler == SIG_IGN);
  CHECK_EQ(count_fds(), fds);
}

/* Several signals, coalesced per signal, oldest first; a close wakes the
 * waiter with ECLOSED; an unclosed watch is closed by the runtime's end. */
static int closer(void *arg, void **res) {
  (void)res;
  CHECK_RC(corral_sleep(CORRAL_MS(10)), 0);
  corral_signal_watch_close(arg);
  return 0;
}

static int m_many(void *arg, void **res) {
  (void)arg, (void)res;
  int sigs[2] = {SIGUSR1, SIGUSR2};
  corral_signal_watch *w, *w2;
  CHECK_RC(corral_signal_watch_open(sigs, 2, &w), 0);
  kill(getpid(), SIGUSR2);
  kill(getpid(), SIGUSR2);
  kill(getpid(), SIGUSR1);
  CHECK_RC(corral_sleep(CORRAL_MS(20)), 0); /* let the loop see them */
  CHECK_EQ(corral_signal_next(w), SIGUSR2);
  CHECK_EQ(corral_signal_next(w), SIGUSR1);
  CHECK_RC(corral_create_task(closer, w, "closer", NULL), 0);
  CHECK_RC(corral_signal_next(w), CORRAL_ECLOSED);
  CHECK_RC(corral_signal_watch_open(sigs, 1, &w2), 0); /* left open */
  return 0;
}

TEST(coalesced_in_order_and_closed) {
  int fds = count_fds();
  signal(SIGUSR1, SIG_IGN);
  signal(SIGUSR2, SIG_IGN);
  CHECK_RC(corral_run(NULL, m_many, NULL, NULL), 0);
  CHECK(disp(SIGUSR1).sa_handler == SIG_IGN);
  CHECK(disp(SIGUSR2).sa_handler == SIG_IGN);
  CHECK_EQ(count_fds(), fds);
}

/* Runtimes in several threads watch the same signal, overlapping: the
 * disposition comes back only after the last watch ends. */
static pthread_barrier_t bar;
static int m_thread_watch(void *arg, void **res) {
  (void)arg, (void)res;
  int s = SIGUSR1;
  corral_signal_watch *w;
  CHECK_RC(corral_signal_watch_open(&s, 1, &w), 0);
  pthread_barrier_wait(&bar); /* all watching */
  kill(getpid(), s);
  CHECK_EQ(corral_signal_next(w), s); /* every watch sees it */
  pthread_barrier_wait(&bar);
  corral_signal_watch_close(w);
  return 0;
}
static void *thread_main(void *arg) {
  (void)arg;
  CHECK_RC(corral_run(NULL, m_thread_watch, NULL, NULL), 0);
  return NULL;
}

TEST(several_runtimes_in_threads) {
  signal(SIGUSR1, SIG_IGN);
  enum { N = 4 };
  pthread_t th[N];
  pthread_barrier_init(&bar, NULL, N);
  for (int i = 0; i < N; i++) pthread_create(&th[i], NULL, thread_main, NULL);
  for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&bar);
  CHECK(disp(SIGUSR1).sa_handler == SIG_IGN);
}

/* A signal's handler runs on the runtime thread's alternate stack, not
 * below the running task's stack pointer: the task that receives it uses
 * no more stack than the same task without it (the frame is 1 to 3.5 KiB;
 * on a pooled stack it made the pages resident ever deeper, and at the end
 * of a small stack it would hit the guard). */
static int send_self(void *arg, void **res) {
  (void)res;
  kill(getpid(), *(int *)arg); /* 0: no signal, the same calls */
  return 0;
}
static size_t peak_of(int s) {
  corral_task *t;
  if (corral_create_task(send_self, &s, "sender", &t) != 0) return 0;
  CORRAL_IGNORE(corral_join(t, NULL));
  size_t peak = corral_task_stack_peak(t);
  corral_task_release(t);
  return peak;
}
static int m_frame_off_task_stack(void *arg, void **res) {
  (void)arg, (void)res;
  int s = SIGUSR1;
  corral_signal_watch *w;
  CHECK_RC(corral_signal_watch_open(&s, 1, &w), 0);
  CHECK(disp(s).sa_flags & SA_ONSTACK);
  (void)peak_of(0); /* the first call of kill binds it: the resolver is deep */
  size_t quiet = peak_of(0);
  size_t hit = peak_of(s);
  CHECK_RC(corral_signal_next(w), s); /* it was delivered */
  corral_signal_watch_close(w);
  CHECK(quiet > 0);
  if (getenv("SHOW")) fprintf(stderr, "quiet %zu hit %zu\n", quiet, hit);
  CHECK(hit <= quiet + 512);
  return 0;
}
TEST(handler_runs_off_the_task_stack) {
  corral_options o = {.stack_paint = 1};
  CHECK_RC(corral_run(&o, m_frame_off_task_stack, NULL, NULL), 0);
}
