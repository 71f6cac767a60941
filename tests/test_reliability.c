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
