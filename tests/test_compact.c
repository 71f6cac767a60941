/* Compact tasks: leaf tasks on a shared stack, live bytes saved while
 * suspended. */
#include "test.h"

static int compact_ok(void) {
#if defined(__SANITIZE_ADDRESS__)
  return 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return 0;
#endif
#endif
#ifdef CORRAL_CTX_UCONTEXT
  return 0;
#endif
  return 1;
}

static long done_sum;
static int checksum_task(void *arg, void **res) {
  (void)res;
  long seed = (long)(intptr_t)arg;
  volatile long local[40]; /* on the (shared) stack: must survive evictions */
  for (int i = 0; i < 40; i++) local[i] = seed * 131 + i;
  for (int round = 0; round < 3; round++) {
    int rc = corral_sleep((seed % 7 + 1) * MS);
    if (rc) return rc;
    CHECK_RC(corral_yield(), 0);
    for (int i = 0; i < 40; i++)
      if (local[i] != seed * 131 + i) FAILF("task %ld lost local %d", seed, i);
  }
  done_sum += seed;
  return 0;
}

static int m_many(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  corral_group_open(&g, NULL);
  long want = 0;
  for (long i = 1; i <= 2000; i++) {
    corral_spawn_opts so = {.name = "c", .compact = (i % 3 != 0)};
    CHECK_RC(corral_spawn_ex(&g, checksum_task, (void *)(intptr_t)i, &so, NULL), 0);
    want += i;
  }
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(done_sum, want);
  return 0;
}
TEST(compact_locals_survive_eviction_mixed_with_normal) {
  CHECK_RC(run_virtual(m_many, NULL), 0);
}

static int refuser(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope s;
  corral_group g;
  corral_event e;
  corral_semaphore sem;
  corral_event_init(&e);
  corral_semaphore_init(&sem, 1);
  int expect = compact_ok() ? CORRAL_EINVAL : 0;
  int rc = corral_scope_enter(&s, NULL);
  CHECK_RC(rc, expect);
  if (rc == 0) CORRAL_IGNORE(corral_scope_exit(&s, 0));
  if (expect) {
    CHECK(strstr(corral_error_message(corral_last_error()), "compact task 'leaf'"));
    CHECK_RC(corral_group_open(&g, NULL), CORRAL_EINVAL);
    CHECK_RC(corral_event_wait(&e), CORRAL_EINVAL);
    CHECK_RC(corral_semaphore_acquire(&sem), CORRAL_EINVAL);
    CHECK_RC(corral_gather(NULL, 0, NULL, NULL), CORRAL_EINVAL);
  }
  return corral_sleep(MS);
}
static int m_refuse(void *arg, void **res) {
  (void)arg, (void)res;
  corral_spawn_opts so = {.name = "leaf", .compact = 1};
  corral_task *t;
  CHECK_RC(corral_spawn_ex(NULL, refuser, NULL, &so, &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  return 0;
}
TEST(compact_refuses_stack_exposing_calls) { CHECK_RC(run_virtual(m_refuse, NULL), 0); }

static int sleeper(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_sleep(3600 * SEC);
}
static int m_cancel(void *arg, void **res) {
  (void)arg, (void)res;
  int64_t t0 = corral_now();
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.compact = 1});
  for (int i = 0; i < 1000; i++) corral_spawn(&g, sleeper, NULL, "z", NULL);
  CORRAL_IGNORE(corral_sleep(SEC));
  corral_group_cancel(&g, "done");
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(corral_now() - t0, SEC);
  /* gather of compact tasks */
  corral_call calls[50];
  corral_outcome out[50];
  for (int i = 0; i < 50; i++) calls[i] = (corral_call){checksum_task, (void *)(intptr_t)(i + 1), "g"};
  done_sum = 0;
  CHECK_RC(corral_gather(calls, 50, out, &(corral_gather_opts){.compact = 1, .limit = 7}), 0);
  CHECK_EQ(done_sum, 50 * 51 / 2);
  corral_outcomes_clear(out, 50);
  return 0;
}
TEST(compact_cancel_and_gather) { CHECK_RC(run_virtual(m_cancel, NULL), 0); }
