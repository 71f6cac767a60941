/* Runtime-level behaviour: deadlock reports, the task tree, sync
 * primitives, shuffle mode, overflow by name, allocation failure, threads,
 * a user-supplied libuv loop. */
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

static char *capture(int (*fn)(void *, void **), int *rc, int virt) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  corral_options o = {.virtual_clock = virt, .report = f};
  *rc = corral_run(&o, fn, NULL, NULL);
  fclose(f);
  return buf;
}

static corral_event never_set;
static int waits_forever(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_event_wait(&never_set);
}
static int m_deadlock(void *arg, void **res) {
  (void)arg, (void)res;
  corral_event_init(&never_set);
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.name = "stuck-group"});
  corral_spawn(&g, waits_forever, NULL, "waiter", NULL);
  int rc = corral_group_close(&g, 0);
  CHECK_RC(rc, CORRAL_ECANCELED); /* unwound by the runtime */
  return rc;
}
TEST(deadlock_reported_with_task_tree) {
  int rc;
  char *out = capture(m_deadlock, &rc, 1);
  CHECK_RC(rc, CORRAL_EDEADLK);
  if (!strstr(out, "corral: deadlock") || !strstr(out, "task 'waiter' [blocked] waits on event") ||
      !strstr(out, "group 'stuck-group'") || !strstr(out, "test_runtime.c:"))
    FAILF("report was:\n%s", out);
  free(out);
}

static int shielded_forever(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope s;
  corral_shield(&s, CORRAL_FOREVER);
  int rc = corral_event_wait(&never_set); /* even a shield is unwound */
  CHECK_RC(rc, CORRAL_EDEADLK);
  return corral_scope_exit(&s, rc);
}
static int m_deadlock_shield(void *arg, void **res) {
  (void)arg, (void)res;
  corral_event_init(&never_set);
  corral_task *t;
  corral_create_task(shielded_forever, NULL, "stubborn", &t);
  CHECK_RC(corral_join(t, NULL), CORRAL_ECANCELED); /* main is unwound */
  corral_task_release(t);
  return 0; /* returning waits for 'stubborn', which the runtime unwinds */
}
TEST(deadlock_unwinds_shielded_waits) {
  int rc;
  char *out = capture(m_deadlock_shield, &rc, 0);
  CHECK_RC(rc, CORRAL_EDEADLK);
  free(out);
}

static int dump_leaf(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_sleep(5 * SEC);
}
static int m_dump(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.name = "pool", .policy = CORRAL_COLLECT});
  corral_spawn(&g, dump_leaf, NULL, "leaf-1", NULL);
  corral_spawn(&g, dump_leaf, NULL, "leaf-2", NULL);
  CORRAL_IGNORE(corral_sleep(SEC));
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  corral_dump(f);
  fclose(f);
  CHECK(strstr(buf, "task 'main' [running]"));
  CHECK(strstr(buf, "+ group 'pool' (COLLECT, 2 running"));
  CHECK(strstr(buf, "task 'leaf-1' [blocked] waits on sleep, deadline in 4000.000 ms"));
  CHECK(strstr(buf, "leaf-2"));
  CHECK(strstr(buf, "spawned at "));
  free(buf);
  corral_group_cancel(&g, NULL);
  return corral_group_close(&g, 0);
}
TEST(dump_task_tree) { CHECK_RC(run_virtual(m_dump, NULL), 0); }

static corral_semaphore sem;
static int inside, max_inside;
static int sem_user(void *arg, void **res) {
  (void)arg, (void)res;
  int rc = corral_semaphore_acquire(&sem);
  if (rc) return rc;
  inside++;
  if (inside > max_inside) max_inside = inside;
  CORRAL_IGNORE(corral_sleep(SEC));
  inside--;
  corral_semaphore_release(&sem);
  return 0;
}
static int m_sem(void *arg, void **res) {
  (void)arg, (void)res;
  int64_t t0 = corral_now();
  corral_semaphore_init(&sem, 2);
  corral_group g;
  corral_group_open(&g, NULL);
  for (int i = 0; i < 6; i++) corral_spawn(&g, sem_user, NULL, "s", NULL);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(max_inside, 2);
  CHECK_EQ(corral_now() - t0, 3 * SEC);
  CHECK_EQ(corral_semaphore_value(&sem), 2);
  /* A waiter cancelled while queued does not swallow the unit. */
  CHECK_RC(corral_semaphore_try_acquire(&sem), 0);
  CHECK_RC(corral_semaphore_try_acquire(&sem), 0);
  CHECK_RC(corral_semaphore_try_acquire(&sem), CORRAL_EAGAIN);
  corral_task *a, *b;
  corral_create_task(sem_user, NULL, "a", &a);
  corral_create_task(sem_user, NULL, "b", &b);
  CORRAL_IGNORE(corral_yield());
  corral_cancel(a, NULL);
  corral_semaphore_release(&sem);
  CHECK_RC(corral_join(a, NULL), CORRAL_ECANCELED);
  CHECK_RC(corral_join(b, NULL), 0);
  corral_semaphore_release(&sem);
  CHECK_EQ(corral_semaphore_value(&sem), 2);
  corral_task_release(a);
  corral_task_release(b);
  return 0;
}
TEST(semaphore_limits_and_cancel_safe_handoff) { CHECK_RC(run_virtual(m_sem, NULL), 0); }

static corral_event ev;
static int ev_waiter(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_event_wait(&ev);
}
static int m_event(void *arg, void **res) {
  (void)arg, (void)res;
  corral_event_init(&ev);
  corral_task *t[3];
  for (int i = 0; i < 3; i++) corral_create_task(ev_waiter, NULL, "e", &t[i]);
  CORRAL_IGNORE(corral_sleep(SEC));
  for (int i = 0; i < 3; i++) CHECK(!corral_task_done(t[i]));
  corral_event_set(&ev);
  CHECK(corral_event_is_set(&ev));
  for (int i = 0; i < 3; i++) {
    CHECK_RC(corral_join(t[i], NULL), 0);
    corral_task_release(t[i]);
  }
  CHECK_RC(corral_event_wait(&ev), 0);
  corral_event_clear(&ev);
  CHECK(!corral_event_is_set(&ev));
  return 0;
}
TEST(event_wakes_all) { CHECK_RC(run_virtual(m_event, NULL), 0); }

static int seq[16], nseq;
static int seq_task(void *arg, void **res) {
  (void)res;
  seq[nseq++] = (int)(intptr_t)arg;
  return 0;
}
static int m_seq(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  corral_group_open(&g, NULL);
  for (int i = 0; i < 8; i++) corral_spawn(&g, seq_task, (void *)(intptr_t)i, "q", NULL);
  return corral_group_close(&g, 0);
}
TEST(shuffle_mode_is_seeded_and_changes_order) {
  int first[8], differs = 0;
  for (uint64_t seed = 0; seed < 6; seed++) {
    nseq = 0;
    corral_options o = {.virtual_clock = 1, .shuffle_seed = seed};
    CHECK_RC(corral_run(&o, m_seq, NULL, NULL), 0);
    CHECK_EQ(nseq, 8);
    if (seed == 0)
      for (int i = 0; i < 8; i++) CHECK_EQ(seq[i], i); /* FIFO by default */
    if (seed == 1) memcpy(first, seq, sizeof first);
    if (seed > 1 && memcmp(first, seq, sizeof first)) differs = 1;
  }
  CHECK(differs);
  /* Same seed, same order. */
  nseq = 0;
  corral_options o = {.virtual_clock = 1, .shuffle_seed = 1};
  CHECK_RC(corral_run(&o, m_seq, NULL, NULL), 0);
  CHECK(memcmp(first, seq, sizeof first) == 0);
}

static volatile long depth_limit = 1L << 40;
static long dive(long n) {
  volatile char pad[512];
  pad[0] = (char)n;
  if (n > depth_limit) return 0;
  return dive(n + 1) + pad[0];
}
static int diver(void *arg, void **res) {
  (void)arg, (void)res;
  return (int)dive(0);
}
static int m_overflow(void *arg, void **res) {
  (void)arg, (void)res;
  corral_task *t;
  corral_spawn_opts so = {.name = "deep-diver", .stack_size = 64 * 1024};
  corral_spawn_ex(NULL, diver, NULL, &so, &t);
  CORRAL_IGNORE(corral_join(t, NULL));
  return 0;
}
static void overflow_child(void) { corral_run(NULL, m_overflow, NULL, NULL); }
TEST(stack_overflow_reported_with_task_name) {
  char buf[1024];
  int st = run_child(overflow_child, buf, sizeof buf);
  CHECK(WIFSIGNALED(st));
  if (!strstr(buf, "stack overflow in task 'deep-diver' (stack of 65536 bytes"))
    FAILF("child said: %s", buf);
}

/* ---- allocation failure walked through every allocation ---- */

typedef struct {
  long live, count, fail_at;
} counting;

static void *c_malloc(void *ctx, size_t n) {
  counting *c = ctx;
  if (++c->count == c->fail_at) return NULL;
  void *p = malloc(n);
  if (p) c->live++;
  return p;
}
static void *c_realloc(void *ctx, void *p, size_t n) {
  counting *c = ctx;
  if (++c->count == c->fail_at) return NULL;
  void *q = realloc(p, n);
  if (q && !p) c->live++;
  return q;
}
static void c_free(void *ctx, void *p) {
  counting *c = ctx;
  if (p) c->live--;
  free(p);
}

static int small_child(void *arg, void **res) {
  (void)res;
  intptr_t k = (intptr_t)arg;
  int rc = corral_sleep(k * MS);
  if (rc) return rc;
  if (k == 2) return corral_errorf(CORRAL_EIO, "child %ld fails", (long)k);
  return 0;
}
static int small_program(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  int rc = corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
  if (rc) return rc;
  for (intptr_t k = 1; k <= 3; k++) {
    int s = corral_spawn(&g, small_child, (void *)k, "kid", NULL);
    if (s) rc = s;
  }
  int crc = corral_group_close(&g, rc);
  corral_task *t;
  rc = corral_create_task(small_child, (void *)(intptr_t)1, "ct", &t);
  if (rc == 0) {
    CORRAL_IGNORE(corral_join(t, NULL));
    corral_task_release(t);
  }
  corral_call calls[2] = {{small_child, (void *)(intptr_t)1, "g1"},
                          {small_child, (void *)(intptr_t)2, "g2"}};
  corral_outcome out[2];
  CORRAL_IGNORE(corral_gather(calls, 2, out, &(corral_gather_opts){.policy = CORRAL_GATHER_ALL}));
  corral_outcomes_clear(out, 2);
  return crc;
}

TEST(allocation_failure_walk) {
  counting c = {0, 0, 0};
  corral_allocator al = {c_malloc, c_realloc, c_free, &c};
  corral_options o = {.virtual_clock = 1, .allocator = &al};
  CHECK_RC(corral_run(&o, small_program, NULL, NULL), CORRAL_EGROUP);
  long total = c.count;
  CHECK_EQ(c.live, 0);
  CHECK(total > 10);
  for (long n = 1; n <= total; n++) {
    c = (counting){0, 0, n};
    int rc = corral_run(&o, small_program, NULL, NULL);
    if (rc != CORRAL_EGROUP && rc != CORRAL_ENOMEM)
      FAILF("allocation %ld failing gave %s", n, corral_err_name(rc));
    if (c.live != 0) FAILF("leak of %ld blocks when allocation %ld fails", c.live, n);
  }
}

/* ---- threads and user loops ---- */

static int thread_main(void *arg, void **res) {
  (void)arg;
  int64_t t0 = corral_now();
  corral_group g;
  corral_group_open(&g, NULL);
  for (int i = 0; i < 1000; i++) corral_spawn(&g, dump_leaf, NULL, "t", NULL);
  CORRAL_IGNORE(corral_sleep(SEC));
  corral_group_cancel(&g, NULL);
  int rc = corral_group_close(&g, 0);
  *res = (void *)(intptr_t)(corral_now() - t0);
  return rc;
}
static void *thread_fn(void *arg) {
  corral_options o = {.virtual_clock = 1};
  void *r = NULL;
  *(int *)arg = corral_run(&o, thread_main, NULL, &r);
  if ((intptr_t)r != SEC) *(int *)arg = -1;
  return NULL;
}
TEST(one_runtime_per_thread_several_threads) {
  pthread_t th[4];
  int rcs[4] = {1, 1, 1, 1};
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, thread_fn, &rcs[i]);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 4; i++) CHECK_RC(rcs[i], 0);
}

static int nested_run(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_run(NULL, dump_leaf, NULL, NULL), CORRAL_EBUSY);
  CHECK(corral_loop() != NULL);
  return 0;
}
TEST(user_loop_and_no_nested_runtime) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  corral_options o = {.loop = &loop};
  CHECK_RC(corral_run(&o, nested_run, NULL, NULL), 0);
  CHECK_EQ(uv_loop_close(&loop), 0);
}

static int real_sleep(void *arg, void **res) {
  (void)arg, (void)res;
  int64_t t0 = corral_now();
  CHECK_RC(corral_sleep(20 * MS), 0);
  CHECK(corral_now() - t0 >= 20 * MS); /* never early (upper bound untested) */
  const char *mode = corral_stack_guard_mode();
  CHECK(mode && (!strcmp(mode, "guard-install") || !strcmp(mode, "mprotect") ||
                 !strcmp(mode, "canary")));
  return 0;
}
TEST(real_clock_sleep_never_early) { CHECK_RC(corral_run(NULL, real_sleep, NULL, NULL), 0); }

static int painted(void *arg, void **res) {
  (void)arg, (void)res;
  volatile char buf[20000];
  memset((char *)buf, 1, sizeof buf);
  return buf[100] == 1 ? 0 : -1;
}
static int m_peak(void *arg, void **res) {
  (void)arg, (void)res;
  corral_task *t;
  corral_create_task(painted, NULL, "painter", &t);
  CHECK_RC(corral_join(t, NULL), 0);
  size_t peak = corral_task_stack_peak(t);
  CHECK(peak >= 20000 && peak < 64 * 1024);
  corral_task_release(t);
  return 0;
}
TEST(stack_peak_with_paint) {
  corral_options o = {.virtual_clock = 1, .stack_paint = 1};
  CHECK_RC(corral_run(&o, m_peak, NULL, NULL), 0);
}

/* A handle from one thread's runtime is refused by another's. */
/* Atomics: the handle is published from one thread to the other. */
static _Atomic(corral_task *) foreign;
static _Atomic int foreign_done;
static int foreign_owner(void *arg, void **res) {
  (void)arg, (void)res;
  corral_task *t;
  corral_create_task(dump_leaf, NULL, "owned", &t); /* sleeps 5 s */
  foreign = t;
  while (!foreign_done) CORRAL_IGNORE(corral_sleep(MS));
  corral_cancel(t, NULL);
  CORRAL_IGNORE(corral_join(t, NULL));
  corral_task_release(t);
  return 0;
}
static void *foreign_thread(void *arg) {
  (void)arg;
  corral_run(NULL, foreign_owner, NULL, NULL);
  return NULL;
}
static int foreign_user(void *arg, void **res) {
  (void)arg, (void)res;
  corral_task *t = foreign;
  CHECK_RC(corral_join(t, NULL), CORRAL_EFOREIGN);
  CHECK_RC(corral_cancel(t, NULL), CORRAL_EFOREIGN);
  CHECK_RC(corral_wait_for(t, SEC, NULL), CORRAL_EFOREIGN);
  CHECK_RC(corral_wait(&t, 1, CORRAL_ALL_COMPLETED, 0, NULL), CORRAL_EFOREIGN);
  return 0;
}
TEST(join_task_of_another_runtime_is_refused) {
  pthread_t th;
  pthread_create(&th, NULL, foreign_thread, NULL);
  while (!foreign) usleep(1000);
  int rc = corral_run(NULL, foreign_user, NULL, NULL);
  foreign_done = 1;
  pthread_join(th, NULL);
  CHECK_RC(rc, 0);
}

/* ---- task struct slabs ---- */

static long slab_runs;
static int count_run(void *arg, void **res) {
  (void)arg, (void)res;
  slab_runs++;
  return 0;
}
static int burst(void *arg, void **res) {
  (void)res;
  counting *c = arg;
  slab_runs = 0;
  long before = c ? c->live : 0;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < 30000; i++)
    CHECK_RC(corral_spawn(&g, count_run, NULL, "n", NULL), 0);
  if (c) CHECK(c->live - before >= 8); /* chunks grew for the burst */
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(slab_runs, 30000);
  /* Every chunk emptied: all given back but the last, one spare, and at
   * most two pinned by the structs waiting in the small LIFO cache (without
   * release, about ten would stay). */
  if (c && c->live - before > 4) FAILF("%ld chunks kept", c->live - before);
  return 0;
}
TEST(task_slabs_released_after_a_burst) {
  counting c = {0, 0, 0};
  corral_allocator al = {c_malloc, c_realloc, c_free, &c};
  corral_options o = {.virtual_clock = 1, .allocator = &al};
  CHECK_RC(corral_run(&o, burst, &c, NULL), 0);
  CHECK_EQ(c.live, 0);
}
TEST(task_slabs_huge_pages) {
  corral_options o = {.virtual_clock = 1, .huge_pages = 1};
  CHECK_RC(corral_run(&o, burst, NULL, NULL), 0);
  CHECK_RC(corral_run(NULL, burst, NULL, NULL), 0); /* mmap'd, not huge */
}
