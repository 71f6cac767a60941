/* Task handles given to the calls that collect tasks: one rule for all.
 * A NULL or stale handle is CORRAL_EINVAL, another runtime's
 * CORRAL_EFOREIGN (CORRAL_ENOTASK once no runtime runs), the caller's own
 * CORRAL_EDEADLK; a handle whose outcome was taken already (joined) is
 * CORRAL_EJOINED from the calls that take outcomes (join, wait_for,
 * gather_tasks), while the calls that only observe (wait, as_completed)
 * count it as a finished task. Every refusal comes before anything waits
 * or is cancelled: the other tasks given to the call are untouched. */
#include "test.h"

static int napper(void *a, void **r) {
  (void)a, (void)r;
  return corral_sleep(10 * MS);
}

static int quick(void *a, void **r) {
  (void)a;
  *r = (void *)(uintptr_t)7;
  return 0;
}

/* The other task given with the bad handle is still running, not
 * cancelled, and its outcome is still to be taken. */
static void untouched(corral_task *u) {
  CHECK_EQ(corral_task_done(u), 0);
  void *res = NULL;
  CHECK_RC(corral_join(u, &res), 0);
  corral_task_release(u);
}

static int m_joined(void *a, void **r) {
  (void)a, (void)r;
  corral_task *t, *u;
  CHECK_RC(corral_spawn(NULL, quick, NULL, "quick", &t), 0);
  void *res = NULL;
  CHECK_RC(corral_join(t, &res), 0);
  CHECK_EQ((uintptr_t)res, 7);
  /* Outcome takers: CORRAL_EJOINED, nothing else happens. */
  CHECK_RC(corral_join(t, NULL), CORRAL_EJOINED);
  CHECK_RC(corral_wait_for(t, SEC, NULL), CORRAL_EJOINED);
  corral_outcome out[2];
  memset(out, 0, sizeof out);
  CHECK_RC(corral_gather_tasks(&t, 1, out, NULL), CORRAL_EJOINED);
  CHECK_RC(corral_spawn(NULL, napper, NULL, "napper", &u), 0);
  corral_task *pair[2] = {u, t};
  CHECK_RC(corral_gather_tasks(pair, 2, out, NULL), CORRAL_EJOINED);
  corral_gather_opts ff = {.policy = CORRAL_GATHER_FIRST};
  CHECK_RC(corral_gather_tasks(pair, 2, out, &ff), CORRAL_EJOINED);
  untouched(u);
  /* Observers: a finished task. */
  size_t ndone = 0;
  CHECK_RC(corral_wait(&t, 1, CORRAL_ALL_COMPLETED, CORRAL_FOREVER, &ndone),
           0);
  CHECK_EQ(ndone, 1);
  corral_as_completed it;
  CHECK_RC(corral_as_completed_init(&it, &t, 1, CORRAL_FOREVER), 0);
  corral_task *got = NULL;
  CHECK_RC(corral_as_completed_next(&it, &got), 0);
  CHECK(got == t);
  CHECK_RC(corral_as_completed_next(&it, &got), CORRAL_EEOF);
  corral_as_completed_free(&it);
  corral_task_release(t);
  return 0;
}

TEST(joined_handle_same_rule_for_every_collect_call) {
  CHECK_RC(run_virtual(m_joined, NULL), 0);
}

static int m_stale(void *a, void **r) {
  (void)a, (void)r;
  corral_task *t, *u;
  CHECK_RC(corral_spawn(NULL, quick, NULL, "quick", &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t); /* t is stale from here on */
  CHECK_RC(corral_spawn(NULL, napper, NULL, "napper", &u), 0);
  corral_task *pair[2] = {u, t}, *none[2] = {u, NULL};
  corral_outcome out[2];
  corral_as_completed it;
  for (int k = 0; k < 2; k++) {
    corral_task **v = k ? none : pair;
    CHECK_RC(corral_join(v[1], NULL), CORRAL_EINVAL);
    CHECK_RC(corral_wait_for(v[1], SEC, NULL), CORRAL_EINVAL);
    CHECK_RC(corral_gather_tasks(v, 2, out, NULL), CORRAL_EINVAL);
    CHECK_RC(corral_wait(v, 2, CORRAL_FIRST_COMPLETED, SEC, NULL),
             CORRAL_EINVAL);
    CHECK_RC(corral_as_completed_init(&it, v, 2, SEC), CORRAL_EINVAL);
  }
  untouched(u);
  return 0;
}

TEST(stale_or_null_handle_same_rule_for_every_collect_call) {
  CHECK_RC(run_virtual(m_stale, NULL), 0);
}

static int m_self(void *a, void **r) {
  (void)a, (void)r;
  corral_task *me = corral_current(), *u;
  CHECK_RC(corral_spawn(NULL, napper, NULL, "napper", &u), 0);
  corral_task *pair[2] = {u, me};
  corral_outcome out[2];
  corral_as_completed it;
  CHECK_RC(corral_join(me, NULL), CORRAL_EDEADLK);
  CHECK_RC(corral_wait_for(me, SEC, NULL), CORRAL_EDEADLK);
  CHECK_RC(corral_gather_tasks(pair, 2, out, NULL), CORRAL_EDEADLK);
  CHECK_RC(corral_wait(pair, 2, CORRAL_FIRST_COMPLETED, SEC, NULL),
           CORRAL_EDEADLK);
  CHECK_RC(corral_as_completed_init(&it, pair, 2, SEC), CORRAL_EDEADLK);
  untouched(u);
  return 0;
}

TEST(own_handle_same_rule_for_every_collect_call) {
  CHECK_RC(run_virtual(m_self, NULL), 0);
}

/* A handle of an earlier runtime, in a later one. */
static corral_task *kept;
static int m_keep(void *a, void **r) {
  (void)a, (void)r;
  CHECK_RC(corral_spawn(NULL, quick, NULL, "kept", &kept), 0);
  return corral_join(kept, NULL); /* never released */
}

static int m_foreign(void *a, void **r) {
  (void)a, (void)r;
  corral_task *u;
  CHECK_RC(corral_spawn(NULL, napper, NULL, "napper", &u), 0);
  corral_task *pair[2] = {u, kept};
  corral_outcome out[2];
  corral_as_completed it;
  CHECK_RC(corral_join(kept, NULL), CORRAL_EFOREIGN);
  CHECK_RC(corral_wait_for(kept, SEC, NULL), CORRAL_EFOREIGN);
  CHECK_RC(corral_gather_tasks(pair, 2, out, NULL), CORRAL_EFOREIGN);
  CHECK_RC(corral_wait(pair, 2, CORRAL_FIRST_COMPLETED, SEC, NULL),
           CORRAL_EFOREIGN);
  CHECK_RC(corral_as_completed_init(&it, pair, 2, SEC), CORRAL_EFOREIGN);
  untouched(u);
  return 0;
}

TEST(foreign_handle_same_rule_for_every_collect_call) {
  CHECK_RC(run_virtual(m_keep, NULL), 0);
  CHECK_RC(run_virtual(m_foreign, NULL), 0);
}

/* gather_tasks with a handle given twice still waits once and reports it
 * in both places (the second is not "joined already"). */
static int m_twice(void *a, void **r) {
  (void)a, (void)r;
  corral_task *t;
  CHECK_RC(corral_spawn(NULL, quick, NULL, "quick", &t), 0);
  corral_task *twice[2] = {t, t};
  corral_outcome out[2];
  CHECK_RC(corral_gather_tasks(twice, 2, out, NULL), 0);
  CHECK_EQ(out[0].status, CORRAL_STATUS_OK);
  CHECK_EQ(out[1].status, CORRAL_STATUS_OK);
  corral_outcomes_clear(out, 2);
  CHECK_RC(corral_gather_tasks(twice, 2, out, NULL), CORRAL_EJOINED);
  corral_task_release(t);
  return 0;
}

TEST(gather_tasks_handle_twice_then_joined) {
  CHECK_RC(run_virtual(m_twice, NULL), 0);
}
