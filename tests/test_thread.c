/* Worker-thread offload: results, cancellation while queued (never runs),
 * waiting for a running call, abandonment with cleanup, the runtime's end
 * waiting for (or reporting) abandoned work. */
#include "test.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>

static int square(void *arg, void **res) {
  intptr_t v = (intptr_t)arg;
  *res = (void *)(v * v);
  return v < 0 ? CORRAL_ERANGE : 0;
}

static int offloader(void *arg, void **res) {
  void *r;
  int rc = corral_to_thread(square, arg, &r, NULL);
  if (rc) return rc;
  *res = r;
  return 0;
}

static int m_basic(void *arg, void **res) {
  (void)arg, (void)res;
  void *r = NULL;
  CHECK_RC(corral_to_thread(square, (void *)7, &r, NULL), 0);
  CHECK_EQ((intptr_t)r, 49);
  CHECK_RC(corral_to_thread(square, (void *)-3, &r, NULL), CORRAL_ERANGE);
  CHECK_RC(corral_to_thread(NULL, NULL, &r, NULL), CORRAL_EINVAL);
  enum { N = 200 };
  corral_call calls[N];
  corral_outcome out[N];
  for (int i = 0; i < N; i++)
    calls[i] = (corral_call){offloader, (void *)(intptr_t)i, "sq"};
  CHECK_RC(corral_gather(calls, N, out, NULL), 0);
  for (int i = 0; i < N; i++) {
    CHECK_EQ(out[i].status, CORRAL_STATUS_OK);
    CHECK_EQ((intptr_t)out[i].result, (intptr_t)i * i);
  }
  corral_outcomes_clear(out, N);
  return 0;
}

TEST(results_and_many_at_once) {
  int fds = count_fds();
  corral_options o = {0};
  o.offload_threads = 3;
  CHECK_RC(corral_run(&o, m_basic, NULL, NULL), 0);
  CHECK_EQ(count_fds(), fds);
  CHECK_RC(corral_to_thread(square, NULL, NULL, NULL), CORRAL_ENOTASK);
}

/* A function that blocks until the test posts its semaphore. */
static sem_t gate, entered;
static atomic_int ran_count;
static int gated(void *arg, void **res) {
  sem_post(&entered);
  sem_wait(&gate);
  atomic_fetch_add(&ran_count, 1);
  *res = arg;
  return 0;
}
static atomic_int never_ran;
static int must_not_run(void *arg, void **res) {
  (void)arg, (void)res;
  atomic_store(&never_ran, 0);
  return 0;
}

static int gated_task(void *arg, void **res) {
  return corral_to_thread(gated, arg, res, NULL);
}
static int queued_task(void *arg, void **res) {
  (void)arg;
  return corral_to_thread(must_not_run, NULL, res, NULL);
}

static int m_cancel_queued(void *arg, void **res) {
  (void)arg, (void)res;
  corral_task *busy, *queued;
  CHECK_RC(corral_create_task(gated_task, (void *)5, "busy", &busy), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  sem_wait(&entered); /* the one worker runs it */
  CHECK_RC(corral_create_task(queued_task, NULL, "queued", &queued), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(5)), 0); /* queued behind it */
  CHECK_RC(corral_cancel(queued, "no"), 0);
  CHECK_RC(corral_join(queued, NULL), CORRAL_ECANCELED);
  CHECK(corral_task_done(queued));
  /* Cancel the running one: it cannot be interrupted, the task waits. */
  CHECK_RC(corral_cancel(busy, "too late"), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(20)), 0);
  CHECK(!corral_task_done(busy));
  sem_post(&gate);
  void *r = NULL;
  CHECK_RC(corral_join(busy, &r), 0); /* its real result */
  CHECK_EQ((intptr_t)r, 5);
  corral_task_release(busy);
  corral_task_release(queued);
  return 0;
}

TEST(cancel_while_queued_never_runs) {
  sem_init(&gate, 0, 0);
  sem_init(&entered, 0, 0);
  atomic_store(&never_ran, 1);
  corral_options o = {0};
  o.offload_threads = 1;
  int fds = count_fds();
  CHECK_RC(corral_run(&o, m_cancel_queued, NULL, NULL), 0);
  CHECK_EQ(atomic_load(&never_ran), 1);
  CHECK_EQ(count_fds(), fds);
}

/* Abandonment: the task gets CORRAL_EABANDONED at the deadline (virtual
 * clock: exactly then); the result goes to the cleanup when the function
 * finishes, before corral_run returns. */
static atomic_int cleaned;
static pthread_t runtime_thread;
static void cleanup(void *arg, int code, void *result) {
  CHECK_EQ(code, 0);
  CHECK(result == arg);
  CHECK(pthread_equal(pthread_self(), runtime_thread));
  free(result);
  atomic_fetch_add(&cleaned, 1);
}

static void *release_later(void *arg) {
  (void)arg;
  usleep(30000);
  sem_post(&gate);
  return NULL;
}

/* Runnable until the worker has entered the function, so virtual time
 * cannot jump before the call runs. */
static int wait_entered(void *arg, void **res) {
  (void)arg, (void)res;
  while (sem_trywait(&entered) != 0) CHECK_RC(corral_yield(), 0);
  return 0;
}

static int m_abandon(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_create_task(wait_entered, NULL, "spin", NULL), 0);
  char *buf = malloc(100); /* owned by the result: cleanup frees it */
  int64_t t0 = corral_now();
  corral_thread_opts o = {.name = "slow", .abandon_after_ns = CORRAL_SEC(2),
                          .cleanup = cleanup};
  void *r = (void *)1;
  int rc = corral_to_thread(gated, buf, &r, &o);
  CHECK_RC(rc, CORRAL_EABANDONED);
  CHECK(r == NULL);
  CHECK_EQ(corral_now() - t0, CORRAL_SEC(2));
  CHECK(strstr(corral_error_message(corral_last_error()), "slow") != NULL);
  pthread_t th;
  pthread_create(&th, NULL, release_later, NULL);
  pthread_detach(th);
  CHECK_EQ(atomic_load(&cleaned), 0);
  return 0;
}

TEST(abandon_with_cleanup) {
  sem_init(&gate, 0, 0);
  sem_init(&entered, 0, 0);
  runtime_thread = pthread_self();
  corral_options o = {0};
  o.virtual_clock = 1;
  CHECK_RC(corral_run(&o, m_abandon, NULL, NULL), 0);
  CHECK_EQ(atomic_load(&cleaned), 1); /* the end waited for it */
}

/* Finished at the deadline: the result wins; queued at the deadline: it
 * never runs. */
static int m_queued_deadline(void *arg, void **res) {
  (void)arg, (void)res;
  corral_task *busy;
  CHECK_RC(corral_create_task(gated_task, (void *)1, "busy", &busy), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  sem_wait(&entered);
  corral_thread_opts o = {.abandon_after_ns = CORRAL_MS(10)};
  CHECK_RC(corral_to_thread(must_not_run, NULL, NULL, &o), CORRAL_ETIMEDOUT);
  o.abandon_after_ns = -1; /* already expired */
  CHECK_RC(corral_to_thread(must_not_run, NULL, NULL, &o), CORRAL_ETIMEDOUT);
  sem_post(&gate);
  CHECK_RC(corral_join(busy, NULL), 0);
  corral_task_release(busy);
  o.abandon_after_ns = CORRAL_SEC(100);
  void *r;
  CHECK_RC(corral_to_thread(square, (void *)4, &r, &o), 0);
  CHECK_EQ((intptr_t)r, 16);
  return 0;
}

TEST(deadline_while_queued_never_runs) {
  sem_init(&gate, 0, 0);
  sem_init(&entered, 0, 0);
  atomic_store(&never_ran, 1);
  corral_options o = {0};
  o.offload_threads = 1;
  CHECK_RC(corral_run(&o, m_queued_deadline, NULL, NULL), 0);
  CHECK_EQ(atomic_load(&never_ran), 1);
}

/* Still running when the drain bound passes: reported by name, detached;
 * the worker runs the cleanup when the function finally returns. */
static atomic_int late_cleaned;
static void late_cleanup(void *arg, int code, void *result) {
  (void)arg, (void)code;
  free(result);
  atomic_store(&late_cleaned, 1);
}

static int m_detach(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_create_task(wait_entered, NULL, "spin", NULL), 0);
  corral_thread_opts o = {.name = "stuck-call", .abandon_after_ns = CORRAL_MS(5),
                          .cleanup = late_cleanup};
  CHECK_RC(corral_to_thread(gated, malloc(10), NULL, &o), CORRAL_EABANDONED);
  return 0;
}

static void child_detach(void) {
  sem_init(&gate, 0, 0);
  sem_init(&entered, 0, 0);
  corral_options o = {0};
  o.virtual_clock = 1; /* abandoned exactly once it runs */
  o.offload_drain_ns = CORRAL_MS(20);
  if (corral_run(&o, m_detach, NULL, NULL) != 0) _exit(3);
  if (atomic_load(&late_cleaned)) _exit(4); /* not finished yet */
  sem_post(&gate);
  for (int i = 0; i < 1000 && !atomic_load(&late_cleaned); i++) usleep(1000);
  if (!atomic_load(&late_cleaned)) _exit(5);
  _exit(0);
}

TEST(drain_bound_reports_and_detaches) {
  char buf[2048];
  int st = run_child(child_detach, buf, sizeof buf);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) FAILF("child: %d\n%s", st, buf);
  CHECK(strstr(buf, "'stuck-call' still running") != NULL);
}

/* Several runtimes in several threads offload at once. */
static void *rt_thread(void *arg) {
  (void)arg;
  corral_options o = {0};
  o.offload_threads = 2;
  CHECK_RC(corral_run(&o, m_basic, NULL, NULL), 0);
  return NULL;
}

TEST(runtimes_in_threads) {
  pthread_t th[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, rt_thread, NULL);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
}

/* Offloaded calls have their own threads: eight of them blocked do not
 * hold up file requests, which use libuv's pool (4 threads). */
static int m_no_starvation(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < 8; i++)
    CHECK_RC(corral_spawn(&g, gated_task, (void *)1, "blocked", NULL), 0);
  for (int i = 0; i < 8; i++) {
    CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
    sem_wait(&entered); /* all eight run, each on its own worker */
  }
  corral_stat st;
  for (int i = 0; i < 16; i++) CHECK_RC(corral_file_stat("/", &st), 0);
  CHECK_EQ(atomic_load(&ran_count), 0); /* none of them finished */
  for (int i = 0; i < 8; i++) sem_post(&gate);
  return corral_group_close(&g, 0);
}

TEST(blocked_offloads_do_not_starve_files) {
  sem_init(&gate, 0, 0);
  sem_init(&entered, 0, 0);
  setenv("UV_THREADPOOL_SIZE", "4", 1);
  corral_options o = {0};
  o.offload_threads = 8;
  CHECK_RC(corral_run(&o, m_no_starvation, NULL, NULL), 0);
  CHECK_EQ(atomic_load(&ran_count), 8);
}

/* Signals are for the program's threads: an offloaded call runs with every
 * signal blocked except those a fault raises, so a process-directed signal
 * (SIGCHLD, SIGINT, the program's own) is handled on a thread of the
 * program, never in the middle of an offloaded call. */
static _Atomic(pthread_t) usr1_thread;
static atomic_int usr1_count;
static void on_usr1(int sig) {
  (void)sig;
  atomic_store(&usr1_thread, pthread_self());
  atomic_fetch_add(&usr1_count, 1);
}
static int mask_probe(void *arg, void **res) {
  (void)arg;
  sigset_t now;
  pthread_sigmask(SIG_SETMASK, NULL, &now);
  int blocked = 0;
  const int wanted[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGPIPE, SIGALRM};
  for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++) blocked += sigismember(&now, wanted[i]) == 1;
  const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
  int open = 0;
  for (size_t i = 0; i < sizeof faults / sizeof *faults; i++) open += sigismember(&now, faults[i]) == 0;
  kill(getpid(), SIGUSR1); /* process-directed: a thread that does not block it takes it */
  *res = (void *)(intptr_t)(blocked * 100 + open);
  return 0;
}
static int m_masked(void *arg, void **res) {
  (void)arg, (void)res;
  void *r = NULL;
  CHECK_RC(corral_to_thread(mask_probe, NULL, &r, NULL), 0);
  CHECK_EQ((intptr_t)r, 7 * 100 + 4);
  while (atomic_load(&usr1_count) == 0) CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  return 0;
}

TEST(offloaded_calls_run_with_signals_blocked) {
  pthread_t self = pthread_self();
  struct sigaction sa = {0}, old;
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  CHECK_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  corral_options o = {0};
  o.offload_threads = 1;
  CHECK_RC(corral_run(&o, m_masked, NULL, NULL), 0);
  CHECK_EQ(atomic_load(&usr1_count), 1);
  CHECK(pthread_equal(atomic_load(&usr1_thread), self));
  /* the program's own mask is untouched */
  sigset_t now;
  pthread_sigmask(SIG_SETMASK, NULL, &now);
  CHECK_EQ(sigismember(&now, SIGUSR1), 0);
  CHECK_EQ(sigismember(&now, SIGCHLD), 0);
  sigaction(SIGUSR1, &old, NULL);
}
