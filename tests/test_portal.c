/* Portals: other threads run functions as tasks in a runtime, wait for
 * their results, many at once; after the runtime ended, CORRAL_ECLOSED. */
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct shared {
  corral_portal *portal;
  corral_event done;
  long counter;          /* touched only by tasks of the runtime */
  long expect;
  int nthreads, calls;
} shared;

static int add_one(void *arg, void **res) {
  shared *s = arg;
  s->counter++;
  *res = (void *)s->counter;
  if (s->counter == s->expect) corral_event_set(&s->done);
  return 0;
}

static int failing(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_errorf(CORRAL_ERANGE, "from a portal");
}

static int sleeper(void *arg, void **res) {
  (void)arg;
  *res = (void *)42;
  return corral_sleep(CORRAL_MS(5)); /* a real task: it may block */
}

static void *caller_thread(void *arg) {
  shared *s = arg;
  for (int i = 0; i < s->calls; i++) {
    void *r = NULL;
    CHECK_RC(corral_portal_call(s->portal, add_one, s, &r), 0);
    CHECK((long)r >= 1 && (long)r <= s->expect);
  }
  return NULL;
}

static int m_many(void *arg, void **res) {
  (void)res;
  shared *s = arg;
  corral_event_init(&s->done);
  CHECK_RC(corral_portal_open(&s->portal), 0);
  pthread_t th[16];
  for (int i = 0; i < s->nthreads; i++)
    CHECK_EQ(pthread_create(&th[i], NULL, caller_thread, s), 0);
  CHECK_RC(corral_event_wait(&s->done), 0);
  for (int i = 0; i < s->nthreads; i++) pthread_join(th[i], NULL);
  CHECK_EQ(s->counter, s->expect);
  corral_portal_release(s->portal);
  return 0;
}

TEST(many_threads_call_at_once) {
  int fds = count_fds();
  shared s = {0};
  s.nthreads = 8;
  s.calls = 500;
  s.expect = 8 * 500;
  CHECK_RC(corral_run(NULL, m_many, &s, NULL), 0);
  CHECK_EQ(count_fds(), fds);
}

/* Results and errors go to the calling thread; a portal outlives its
 * runtime and then answers CORRAL_ECLOSED. */
static corral_portal *kept;
static atomic_int checker_done;
static void *checker(void *arg) {
  (void)arg;
  void *r = NULL;
  CHECK_RC(corral_portal_call(kept, sleeper, NULL, &r), 0);
  CHECK_EQ((intptr_t)r, 42);
  CHECK_RC(corral_portal_call(kept, failing, NULL, &r), CORRAL_ERANGE);
  CHECK_RC(corral_portal_call(NULL, failing, NULL, &r), CORRAL_EINVAL);
  CHECK_RC(corral_portal_call(kept, NULL, NULL, &r), CORRAL_EINVAL);
  atomic_store(&checker_done, 1);
  return NULL;
}

static int m_results(void *arg, void **res) {
  (void)arg, (void)res;
  corral_portal *p, *p2;
  CHECK_RC(corral_portal_open(&p), 0);
  CHECK_RC(corral_portal_open(&p2), 0);
  CHECK(p == p2); /* one per runtime */
  corral_portal_release(p2);
  kept = corral_portal_ref(p);
  corral_portal_release(p);
  /* From the runtime's own thread a blocking call would deadlock. */
  CHECK_RC(corral_portal_call(kept, sleeper, NULL, NULL), CORRAL_EBUSY);
  pthread_t th;
  pthread_create(&th, NULL, checker, NULL);
  /* Wait for the thread without blocking the runtime. */
  for (int i = 0; i < 2000; i++) {
    if (atomic_load(&checker_done)) {
      pthread_join(th, NULL);
      return 0;
    }
    CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  }
  return CORRAL_ETIMEDOUT;
}

TEST(results_errors_and_closed_after_the_end) {
  int fds = count_fds();
  CHECK_RC(corral_run(NULL, m_results, NULL, NULL), 0); /* the error did
                                                           not fail main */
  CHECK_EQ(count_fds(), fds);
  CHECK_RC(corral_portal_submit(kept, failing, NULL, "late"), CORRAL_ECLOSED);
  CHECK_RC(corral_portal_call(kept, failing, NULL, NULL), CORRAL_ECLOSED);
  corral_portal_release(kept); /* the last reference frees it */
  CHECK_RC(corral_portal_open(&kept), CORRAL_ENOTASK);
}

/* A thread submits without pause while the runtime ends: every submission
 * either ran or was refused with CORRAL_ECLOSED; nothing is lost or leaks. */
static atomic_long ran, refused, accepted;
static int count_run(void *arg, void **res) {
  (void)arg, (void)res;
  atomic_fetch_add(&ran, 1);
  return 0;
}
static void *spammer(void *arg) {
  corral_portal *p = arg;
  for (;;) {
    int rc = corral_portal_submit(p, count_run, NULL, "spam");
    if (rc == CORRAL_ECLOSED) {
      atomic_fetch_add(&refused, 1);
      break;
    }
    CHECK_RC(rc, 0);
    /* A pause now and then: the runtime keeps up even when slowed down
     * (sanitizers), so the pending list stays small. */
    if (atomic_fetch_add(&accepted, 1) % 64 == 63) usleep(200);
  }
  corral_portal_release(p);
  return NULL;
}

static int m_end_race(void *arg, void **res) {
  (void)res;
  pthread_t *th = arg;
  corral_portal *p;
  CHECK_RC(corral_portal_open(&p), 0);
  pthread_create(th, NULL, spammer, p); /* the thread owns the reference */
  while (atomic_load(&ran) < 1000) CHECK_RC(corral_sleep(CORRAL_US(100)), 0);
  return 0;
}

TEST(submissions_racing_the_end) {
  int fds = count_fds();
  pthread_t th;
  CHECK_RC(corral_run(NULL, m_end_race, &th, NULL), 0);
  pthread_join(th, NULL);
  CHECK_EQ(atomic_load(&refused), 1);
  /* Accepted but never spawned (the main task had ended) are dropped: at
   * most the ones that arrived after main's end. */
  CHECK(atomic_load(&ran) >= 1000);
  CHECK(atomic_load(&ran) <= atomic_load(&accepted));
  CHECK_EQ(count_fds(), fds);
}

/* While a reference is held outside, a runtime waiting only for portal
 * work is not a deadlock. */
static corral_event wake_ev;
static int set_wake(void *arg, void **res) {
  (void)arg, (void)res;
  corral_event_set(&wake_ev);
  return 0;
}
static void *late_setter(void *arg) {
  usleep(50000);
  CHECK_RC(corral_portal_call(arg, set_wake, NULL, NULL), 0);
  corral_portal_release(arg);
  return NULL;
}
static int m_no_false_deadlock(void *arg, void **res) {
  (void)res;
  pthread_t *th = arg;
  corral_portal *p;
  corral_event_init(&wake_ev);
  CHECK_RC(corral_portal_open(&p), 0);
  pthread_create(th, NULL, late_setter, p);
  return corral_event_wait(&wake_ev);
}

TEST(no_false_deadlock_while_referenced) {
  pthread_t th;
  CHECK_RC(corral_run(NULL, m_no_false_deadlock, &th, NULL), 0);
  pthread_join(th, NULL);
}

/* Several runtimes in several threads hand work to each other. */
enum { RUNTIMES = 4, HOPS = 200 };
static corral_portal *ring[RUNTIMES];
static pthread_barrier_t ring_ready;
static atomic_int hops_left;
static corral_event ring_done[RUNTIMES];
typedef struct { int idx; } ring_arg;
static ring_arg ring_args[RUNTIMES];

static int stop_ring(void *arg, void **res) {
  (void)res;
  corral_event_set(arg);
  return 0;
}

static int hop(void *arg, void **res) {
  (void)res;
  ring_arg *a = arg;
  int left = atomic_fetch_sub(&hops_left, 1) - 1;
  if (left <= 0) { /* tell everyone (itself too), in their runtime */
    for (int i = 0; i < RUNTIMES; i++)
      CHECK_RC(corral_portal_submit(ring[i], stop_ring, &ring_done[i], "stop"), 0);
    return 0;
  }
  int next = (a->idx + 1) % RUNTIMES;
  return corral_portal_submit(ring[next], hop, &ring_args[next], "hop");
}

static int m_ring(void *arg, void **res) {
  (void)res;
  ring_arg *a = arg;
  corral_event_init(&ring_done[a->idx]);
  CHECK_RC(corral_portal_open(&ring[a->idx]), 0);
  pthread_barrier_wait(&ring_ready);
  if (a->idx == 0) CHECK_RC(hop(a, NULL), 0);
  return corral_event_wait(&ring_done[a->idx]); /* the last hop says stop */
}

static void *ring_thread(void *arg) {
  CHECK_RC(corral_run(NULL, m_ring, arg, NULL), 0);
  return NULL;
}

TEST(runtimes_hand_work_around_a_ring) {
  int fds = count_fds();
  atomic_store(&hops_left, HOPS);
  pthread_barrier_init(&ring_ready, NULL, RUNTIMES);
  pthread_t th[RUNTIMES];
  for (int i = 0; i < RUNTIMES; i++) {
    ring_args[i].idx = i;
    pthread_create(&th[i], NULL, ring_thread, &ring_args[i]);
  }
  for (int i = 0; i < RUNTIMES; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < RUNTIMES; i++) corral_portal_release(ring[i]);
  CHECK(atomic_load(&hops_left) <= 0);
  CHECK_EQ(count_fds(), fds);
}
