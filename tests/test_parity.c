/* Behaviour compared with Trio's and asyncio's own test suites: each case
 * is the corral program for one of their checks (the source test named in
 * the comment), on the virtual clock. */
#include "test.h"

#include <stdint.h>

static int64_t T0;
#define NOW() (corral_now() - T0)

static int sleeper(void *a, void **r) {
  int64_t ns = (int64_t)(intptr_t)a;
  *r = (void *)(intptr_t)7;
  return corral_sleep(ns);
}
static int failer(void *a, void **r) {
  (void)r;
  int64_t ns = (int64_t)(intptr_t)a;
  int rc = corral_sleep(ns);
  if (rc) return rc;
  return corral_errorf(CORRAL_EIO, "boom");
}

/* ---- cancel scopes (trio _core/_tests/test_run.py) ---- */

/* test_cancel_scope_nesting: of several cancelled scopes, the outermost
 * catches; inner ones see cancel_called but not cancelled_caught. */
static int m_three_scopes(void *a, void **r) {
  (void)a, (void)r;
  corral_scope s1, s2, s3;
  CHECK_RC(corral_scope_enter(&s1, NULL), 0);
  CHECK_RC(corral_scope_enter(&s2, NULL), 0);
  CHECK_RC(corral_scope_enter(&s3, NULL), 0);
  corral_scope_cancel(&s3, NULL);
  corral_scope_cancel(&s2, NULL);
  int rc = corral_sleep(CORRAL_FOREVER);
  CHECK_RC(rc, CORRAL_ECANCELED);
  rc = corral_scope_exit(&s3, rc);
  CHECK_RC(rc, CORRAL_ECANCELED);
  rc = corral_scope_exit(&s2, rc);
  CHECK_RC(rc, 0);
  CHECK_RC(corral_scope_exit(&s1, rc), 0);
  CHECK(corral_scope_cancelled(&s3) && !corral_scope_caught(&s3));
  CHECK(corral_scope_cancelled(&s2) && corral_scope_caught(&s2));
  CHECK(!corral_scope_cancelled(&s1) && !corral_scope_caught(&s1));
  return 0;
}
TEST(nested_cancelled_scopes_outermost_catches) {
  CHECK_RC(run_virtual(m_three_scopes, NULL), 0);
}

/* test_cancel_scope_nesting, second half: shield toggled inside a
 * cancelled scope; a cancelled scope popped before a checkpoint delivers
 * nothing; unshielding makes the outer cancel visible again. */
static int m_shield_toggle(void *a, void **r) {
  (void)a, (void)r;
  corral_scope s1, s2, s3;
  CHECK_RC(corral_scope_enter(&s1, NULL), 0);
  CHECK_RC(corral_scope_enter(&s2, NULL), 0);
  corral_scope_cancel(&s1, NULL);
  CHECK_RC(corral_sleep(0), CORRAL_ECANCELED);
  CHECK_RC(corral_sleep(0), CORRAL_ECANCELED);
  CHECK_RC(corral_scope_set_shield(&s2, 1), 0);
  CHECK_RC(corral_sleep(0), 0);
  corral_scope_cancel(&s2, NULL);
  CHECK_RC(corral_sleep(0), CORRAL_ECANCELED);
  CHECK_RC(corral_scope_set_shield(&s2, 0), 0);
  CHECK_RC(corral_scope_exit(&s2, CORRAL_ECANCELED), CORRAL_ECANCELED);
  CHECK(!corral_scope_caught(&s2));
  CHECK_RC(corral_scope_enter(&s2, &(corral_scope_opts){.shield = 1}), 0);
  CHECK_RC(corral_scope_enter(&s3, NULL), 0);
  corral_scope_cancel(&s3, NULL);
  CHECK_RC(corral_scope_exit(&s3, 0), 0); /* popped: nothing delivered */
  CHECK(!corral_scope_caught(&s3));
  CHECK_RC(corral_sleep(0), 0);
  CHECK_RC(corral_scope_exit(&s2, 0), 0);
  CHECK_RC(corral_sleep(0), CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s1, CORRAL_ECANCELED), 0);
  CHECK(corral_scope_caught(&s1));
  return 0;
}
TEST(shield_toggled_inside_cancelled_scope) {
  CHECK_RC(run_virtual(m_shield_toggle, NULL), 0);
}

/* test_cancel_edge_cases: two cancels in a row are idempotent and caught;
 * a cancel of a scope that exited changes nothing. */
static int m_cancel_edges(void *a, void **r) {
  (void)a, (void)r;
  corral_scope s;
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  CHECK_RC(corral_scope_cancel(&s, NULL), 0);
  CHECK_RC(corral_scope_cancel(&s, NULL), 0);
  CHECK_RC(corral_scope_exit(&s, corral_yield()), 0);
  CHECK(corral_scope_cancelled(&s) && corral_scope_caught(&s));
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  CHECK_RC(corral_scope_exit(&s, corral_yield()), 0);
  int rc = corral_scope_cancel(&s, NULL); /* after exit */
  CHECK(rc == 0 || rc == CORRAL_EINVAL);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK(!corral_scope_caught(&s));
  return 0;
}
TEST(cancel_twice_and_after_exit) { CHECK_RC(run_virtual(m_cancel_edges, NULL), 0); }

/* test_timeouts.py test_move_on_after / trio test_basic_timeout: a
 * deadline moved into the past marks the scope cancelled at once; the
 * deadline is read back. */
static int m_deadline_past_now(void *a, void **r) {
  (void)a, (void)r;
  int64_t start = corral_now();
  corral_scope s;
  CHECK_RC(corral_move_on_at(&s, start + SEC), 0);
  CHECK_EQ(corral_scope_deadline(&s), start + SEC);
  CHECK(!corral_scope_cancelled(&s));
  CHECK_RC(corral_scope_set_deadline(&s, start - 1), 0);
  CHECK(corral_scope_cancelled(&s));
  CHECK_RC(corral_scope_exit(&s, corral_sleep(0)), 0);
  CHECK(corral_scope_caught(&s));
  CHECK_EQ(corral_now(), start);
  /* Deadline passed while shielded: cancel_called is set without a
   * checkpoint in the scope itself. */
  corral_scope sh;
  CHECK_RC(corral_move_on_at(&s, start + SEC), 0);
  CHECK_RC(corral_shield(&sh, CORRAL_FOREVER), 0);
  CHECK_RC(corral_sleep(2 * SEC), 0);
  CHECK_RC(corral_scope_exit(&sh, 0), 0);
  CHECK(corral_scope_cancelled(&s));
  CHECK(corral_scope_timed_out(&s));
  CHECK_RC(corral_scope_exit(&s, 0), 0);
  CHECK(!corral_scope_caught(&s));
  return 0;
}
TEST(deadline_moved_into_the_past_cancels_now) {
  CHECK_RC(run_virtual(m_deadline_past_now, NULL), 0);
}

/* A deadline moved later / earlier while the task waits. */
static corral_scope *g_scope;
static int mover(void *a, void **r) {
  (void)r;
  CHECK_RC(corral_sleep(SEC / 2), 0);
  CHECK_RC(corral_scope_set_deadline(g_scope, T0 + (int64_t)(intptr_t)a), 0);
  return 0;
}
static int m_deadline_moved(void *a, void **r) {
  (void)a, (void)r;
  T0 = corral_now();
  corral_scope s;
  g_scope = &s;
  corral_task *t;
  CHECK_RC(corral_move_on_after(&s, SEC), 0);
  CHECK_RC(corral_create_task(mover, (void *)(intptr_t)(3 * SEC), "later", &t), 0);
  int rc = corral_sleep(10 * SEC);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_EQ(NOW(), 3 * SEC);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);

  T0 = corral_now();
  CHECK_RC(corral_move_on_after(&s, 5 * SEC), 0);
  CHECK_RC(corral_create_task(mover, (void *)(intptr_t)(SEC), "earlier", &t), 0);
  rc = corral_sleep(10 * SEC);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_EQ(NOW(), SEC);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);

  /* Removed (CORRAL_FOREVER) while waiting: the sleep runs its course. */
  T0 = corral_now();
  CHECK_RC(corral_move_on_after(&s, SEC), 0);
  CHECK_RC(corral_create_task(mover, (void *)(intptr_t)(CORRAL_FOREVER - T0), "never", &t), 0);
  CHECK_RC(corral_sleep(4 * SEC), 0);
  CHECK_EQ(NOW(), 4 * SEC);
  CHECK_RC(corral_scope_exit(&s, 0), 0);
  CHECK(!corral_scope_cancelled(&s));
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  return 0;
}
TEST(deadline_moved_while_waiting) { CHECK_RC(run_virtual(m_deadline_moved, NULL), 0); }

/* asyncio test_timeouts.py test_nested_timeouts: two timeouts with one
 * deadline: only the outer one converts, both report expired. */
static int m_same_deadline(void *a, void **r) {
  (void)a, (void)r;
  int64_t d = corral_now() + SEC;
  corral_scope o, i;
  CHECK_RC(corral_fail_at(&o, d), 0);
  CHECK_RC(corral_fail_at(&i, d), 0);
  int rc = corral_scope_exit(&i, corral_sleep(10 * SEC));
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&o, rc), CORRAL_ETIMEDOUT);
  CHECK(corral_scope_timed_out(&o));
  CHECK(corral_scope_timed_out(&i));
  CHECK(corral_scope_caught(&o) && !corral_scope_caught(&i));
  return 0;
}
TEST(nested_timeouts_same_deadline) { CHECK_RC(run_virtual(m_same_deadline, NULL), 0); }

/* asyncio test_timeouts.py test_timeout_in_the_past_sleep_zero,
 * test_timeout_zero, trio test_fail (fail_at(now)). */
static int m_zero_timeouts(void *a, void **r) {
  (void)a, (void)r;
  corral_scope s;
  CHECK_RC(corral_fail_after(&s, -11 * SEC), 0);
  CHECK_RC(corral_scope_exit(&s, corral_sleep(0)), CORRAL_ETIMEDOUT);
  CHECK_RC(corral_fail_after(&s, 0), 0);
  CHECK_RC(corral_scope_exit(&s, corral_sleep(10 * SEC)), CORRAL_ETIMEDOUT);
  CHECK_RC(corral_fail_at(&s, corral_now()), 0);
  CHECK_RC(corral_scope_exit(&s, corral_sleep(CORRAL_FOREVER)), CORRAL_ETIMEDOUT);
  /* asyncio test_waiter_cancelled: the code inside handled the cancel and
   * finished: no timeout error, but the deadline fired. */
  CHECK_RC(corral_fail_after(&s, SEC), 0);
  CHECK_RC(corral_sleep(10 * SEC), CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, 0), 0);
  CHECK(corral_scope_timed_out(&s));
  /* sleep_until a time passed is a checkpoint. */
  CHECK_RC(corral_move_on_after(&s, 0), 0);
  CHECK_RC(corral_sleep_until(corral_now() - SEC), CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, CORRAL_ECANCELED), 0);
  return 0;
}
TEST(zero_and_negative_timeouts) { CHECK_RC(run_virtual(m_zero_timeouts, NULL), 0); }

/* asyncio test_timeouts.py test_foreign_cancel_doesnt_timeout_if_not_expired:
 * the task cancelled from outside inside a fail_after scope ends cancelled,
 * not timed out. */
static int inner_timeout(void *a, void **r) {
  (void)a, (void)r;
  corral_scope s;
  CHECK_RC(corral_fail_after(&s, 10 * SEC), 0);
  int rc = corral_scope_exit(&s, corral_sleep(CORRAL_FOREVER));
  CHECK(!corral_scope_timed_out(&s));
  CHECK(!corral_scope_caught(&s));
  return rc;
}
static int m_foreign_cancel(void *a, void **r) {
  (void)a, (void)r;
  corral_task *t;
  CHECK_RC(corral_create_task(inner_timeout, NULL, "t", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_cancel(t, NULL), 0);
  CHECK_RC(corral_join(t, NULL), CORRAL_ECANCELED);
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_CANCELLED);
  corral_task_release(t);
  return 0;
}
TEST(foreign_cancel_is_not_a_timeout) { CHECK_RC(run_virtual(m_foreign_cancel, NULL), 0); }

/* trio test_fail: an explicit cancel of a fail_after scope (Trio raises
 * TooSlowError when cancelled_caught; corral: fail_after reports
 * ETIMEDOUT only for its own deadline). */
static int m_fail_explicit(void *a, void **r) {
  (void)a, (void)r;
  corral_scope s;
  CHECK_RC(corral_fail_after(&s, 10 * SEC), 0);
  corral_scope_cancel(&s, NULL);
  int rc = corral_scope_exit(&s, corral_sleep(SEC));
  CHECK(corral_scope_caught(&s));
  CHECK_RC(rc, 0);
  return 0;
}
TEST(fail_after_cancelled_explicitly) { CHECK_RC(run_virtual(m_fail_explicit, NULL), 0); }

/* ---- groups (asyncio test_taskgroups.py, trio test_run.py) ---- */

/* test_taskgroup_03 / trio test_child_crash_basic: the first error cancels
 * the siblings and the body; the aggregate holds the one error. */
static int m_tg_first_error(void *a, void **r) {
  (void)a, (void)r;
  T0 = corral_now();
  corral_group g;
  corral_task *t1, *t2;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, sleeper, (void *)(intptr_t)(10 * SEC), "s", &t1), 0);
  CHECK_RC(corral_spawn(&g, failer, (void *)(intptr_t)SEC, "f", &t2), 0);
  int body = corral_sleep(100 * SEC);
  CHECK_RC(body, CORRAL_ECANCELED);
  CHECK_EQ(NOW(), SEC);
  CHECK_RC(corral_group_close(&g, body), CORRAL_EGROUP);
  const corral_error *e = corral_last_error();
  CHECK_EQ(corral_error_count(e), 1);
  CHECK_RC(corral_error_code(corral_error_child(e, 0)), CORRAL_EIO);
  CHECK_EQ(corral_task_status(t1), CORRAL_STATUS_CANCELLED);
  CHECK_EQ(corral_group_cancelled(&g), CORRAL_CANCEL_SIBLING_FAILED);
  corral_task_release(t1);
  corral_task_release(t2);
  return 0;
}
TEST(taskgroup_first_error_cancels_siblings_and_body) {
  CHECK_RC(run_virtual(m_tg_first_error, NULL), 0);
}

/* test_taskgroup_19: the body fails in its cleanup while the group cancels
 * it for a child's error: both errors, the body's last. */
static int m_tg_cleanup_error(void *a, void **r) {
  (void)a, (void)r;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, failer, (void *)(intptr_t)SEC, "crash_soon", NULL), 0);
  int body = corral_sleep(10 * SEC);
  CHECK_RC(body, CORRAL_ECANCELED);
  body = corral_errorf(CORRAL_EPIPE, "MyExc");
  CHECK_RC(corral_group_close(&g, body), CORRAL_EGROUP);
  const corral_error *e = corral_last_error();
  CHECK_EQ(corral_error_count(e), 2);
  CHECK_RC(corral_error_code(corral_error_child(e, 0)), CORRAL_EIO);
  CHECK_RC(corral_error_code(corral_error_child(e, 1)), CORRAL_EPIPE);
  return 0;
}
TEST(taskgroup_error_in_cleanup_aggregated) {
  CHECK_RC(run_virtual(m_tg_cleanup_error, NULL), 0);
}

/* Children failing while the group is cancelling (each cleanup fails):
 * every error is aggregated in completion order. */
static int fail_on_cancel(void *a, void **r) {
  (void)r;
  int rc = corral_sleep(CORRAL_FOREVER);
  if (rc == CORRAL_ECANCELED) return corral_errorf((int)(intptr_t)a, "cleanup");
  return rc;
}
static int m_tg_cancel_errors(void *a, void **r) {
  (void)a, (void)r;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, fail_on_cancel, (void *)(intptr_t)CORRAL_EPIPE, "a", NULL), 0);
  CHECK_RC(corral_spawn(&g, fail_on_cancel, (void *)(intptr_t)CORRAL_ERANGE, "b", NULL), 0);
  CHECK_RC(corral_spawn(&g, failer, (void *)(intptr_t)SEC, "first", NULL), 0);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  const corral_error *e = corral_last_error();
  CHECK_EQ(corral_error_count(e), 3);
  CHECK_RC(corral_error_code(corral_error_child(e, 0)), CORRAL_EIO);
  CHECK_RC(corral_error_code(corral_error_child(e, 1)), CORRAL_EPIPE);
  CHECK_RC(corral_error_code(corral_error_child(e, 2)), CORRAL_ERANGE);
  return 0;
}
TEST(taskgroup_errors_raised_while_cancelling_all_kept) {
  CHECK_RC(run_virtual(m_tg_cancel_errors, NULL), 0);
}

/* test_taskgroup_07: the body fails first; the children are cancelled
 * (not errors); the aggregate holds the body's error only. A child
 * failing after the body failed is kept too. */
static int m_tg_body_first(void *a, void **r) {
  (void)a, (void)r;
  corral_group g;
  corral_task *t;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, sleeper, (void *)(intptr_t)SEC, "foo1", &t), 0);
  CHECK_RC(corral_spawn(&g, sleeper, (void *)(intptr_t)(10 * SEC), "foo2", NULL), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_group_close(&g, corral_errorf(CORRAL_ERANGE, "div")), CORRAL_EGROUP);
  const corral_error *e = corral_last_error();
  CHECK_EQ(corral_error_count(e), 1);
  CHECK_RC(corral_error_code(corral_error_child(e, 0)), CORRAL_ERANGE);
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_CANCELLED);
  corral_task_release(t);

  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, fail_on_cancel, (void *)(intptr_t)CORRAL_EPIPE, "late", NULL), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_group_close(&g, corral_errorf(CORRAL_ERANGE, "body")), CORRAL_EGROUP);
  e = corral_last_error();
  CHECK_EQ(corral_error_count(e), 2);
  CHECK_RC(corral_error_code(corral_error_child(e, 0)), CORRAL_EPIPE);
  CHECK_RC(corral_error_code(corral_error_child(e, 1)), CORRAL_ERANGE);
  return 0;
}
TEST(taskgroup_body_error_then_child_error) {
  CHECK_RC(run_virtual(m_tg_body_first, NULL), 0);
}

/* asyncio TaskGroup (_on_task_done: a cancelled child is not an error)
 * and Trio (a Cancelled caught by the child's own scope): a child
 * cancelled on its own does not fail the group or cancel its siblings. */
static int m_tg_child_cancelled(void *a, void **r) {
  (void)a, (void)r;
  T0 = corral_now();
  corral_group g;
  corral_task *t1, *t2;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, sleeper, (void *)(intptr_t)(10 * SEC), "victim", &t1), 0);
  CHECK_RC(corral_spawn(&g, sleeper, (void *)(intptr_t)(2 * SEC), "other", &t2), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_cancel(t1, "just this one"), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(NOW(), 2 * SEC);
  CHECK_EQ(corral_task_status(t1), CORRAL_STATUS_CANCELLED);
  CHECK_EQ(corral_task_status(t2), CORRAL_STATUS_OK);
  CHECK_EQ(corral_group_cancelled(&g), CORRAL_CANCEL_NONE);
  corral_task_release(t1);
  corral_task_release(t2);
  return 0;
}
TEST(taskgroup_child_cancelled_alone_is_not_an_error) {
  CHECK_RC(run_virtual(m_tg_child_cancelled, NULL), 0);
}

/* test_taskgroup_task_after_close / create_task_after_shutting_down;
 * trio "Nursery is closed to new arrivals". */
static corral_group *g_late;
static int late_spawner(void *a, void **r) {
  (void)a, (void)r;
  CHECK_RC(corral_sleep(SEC), 0);
  return corral_spawn(g_late, sleeper, (void *)(intptr_t)SEC, "late", NULL);
}
static int m_tg_spawn_states(void *a, void **r) {
  (void)a, (void)r;
  T0 = corral_now();
  corral_group g;
  g_late = &g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, late_spawner, NULL, "sp", NULL), 0);
  CHECK_RC(corral_group_close(&g, 0), 0); /* spawn while closing: allowed */
  CHECK_EQ(NOW(), 2 * SEC);
  CHECK_RC(corral_spawn(&g, sleeper, NULL, "x", NULL), CORRAL_ECLOSED);
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, failer, (void *)(intptr_t)0, "f", NULL), 0);
  CHECK_RC(corral_sleep(SEC), CORRAL_ECANCELED);
  CHECK_RC(corral_spawn(&g, sleeper, NULL, "x", NULL), CORRAL_EFAILED);
  CHECK_RC(corral_group_close(&g, CORRAL_ECANCELED), CORRAL_EGROUP);
  return 0;
}
TEST(taskgroup_spawn_while_closing_failed_closed) {
  CHECK_RC(run_virtual(m_tg_spawn_states, NULL), 0);
}

/* test_taskgroup_08 / trio: the group's task cancelled from outside: the
 * children are cancelled, close passes CORRAL_ECANCELED (no error), and the
 * outer scope converts. With a child error as well, the error wins
 * (asyncio 3.11+: errors are raised, not CancelledError). */
static int group_runner(void *a, void **r) {
  (void)r;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, sleeper, (void *)(intptr_t)(10 * SEC), "c", NULL), 0);
  if (a) CHECK_RC(corral_spawn(&g, fail_on_cancel, (void *)(intptr_t)CORRAL_EPIPE, "e", NULL), 0);
  int rc = corral_group_close(&g, corral_sleep(10 * SEC));
  if (!a) CHECK_EQ(corral_group_cancelled(&g), CORRAL_CANCEL_NONE);
  return rc;
}
static int m_tg_outer_cancel(void *a, void **r) {
  (void)a, (void)r;
  corral_task *t;
  CHECK_RC(corral_create_task(group_runner, NULL, "runner", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  corral_cancel(t, NULL);
  CHECK_RC(corral_join(t, NULL), CORRAL_ECANCELED);
  corral_task_release(t);
  CHECK_RC(corral_create_task(group_runner, (void *)1, "runner", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  corral_cancel(t, NULL);
  CHECK_RC(corral_join(t, NULL), CORRAL_EGROUP);
  corral_task_release(t);
  return 0;
}
TEST(taskgroup_cancelled_from_outside) {
  CHECK_RC(run_virtual(m_tg_outer_cancel, NULL), 0);
}

/* trio test_cancel_shield_abort: children of a group in a shielded scope
 * inside a cancelled scope sleep; unshielding aborts their sleep. */
static int rec_sleeper(void *a, void **r) {
  (void)r;
  int *rec = a;
  *rec = 1;
  int rc = corral_sleep(CORRAL_FOREVER);
  if (rc == CORRAL_ECANCELED) *rec = 2;
  return rc;
}
static int m_unshield_aborts(void *a, void **r) {
  (void)a, (void)r;
  corral_scope outer, sh;
  int rec = 0;
  CHECK_RC(corral_scope_enter(&outer, NULL), 0);
  corral_scope_cancel(&outer, NULL);
  CHECK_RC(corral_shield(&sh, CORRAL_FOREVER), 0);
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, rec_sleeper, &rec, "sleeper", NULL), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_EQ(rec, 1);
  CHECK_RC(corral_scope_set_shield(&sh, 0), 0);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_ECANCELED);
  CHECK_EQ(rec, 2);
  CHECK_RC(corral_scope_exit(&sh, CORRAL_ECANCELED), CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&outer, CORRAL_ECANCELED), 0);
  return 0;
}
TEST(unshield_aborts_sleeping_children) {
  CHECK_RC(run_virtual(m_unshield_aborts, NULL), 0);
}

/* ---- wait_for (asyncio test_waitfor.py) ---- */

typedef struct {
  int64_t cleanup; /* shielded cleanup time after a cancel */
  int on_cancel;   /* what it returns after the cleanup: 1 = a result,
                      else that code */
} stubborn_arg;
static int stubborn(void *a, void **r) {
  stubborn_arg *s = a;
  int rc = corral_sleep(CORRAL_FOREVER);
  if (rc != CORRAL_ECANCELED) return rc;
  corral_scope sh;
  CHECK_RC(corral_shield(&sh, CORRAL_FOREVER), 0);
  CHECK_RC(corral_scope_exit(&sh, corral_sleep(s->cleanup)), 0);
  if (s->on_cancel == 1) {
    *r = (void *)(intptr_t)42;
    return 0;
  }
  if (s->on_cancel == CORRAL_ECANCELED) return CORRAL_ECANCELED;
  return corral_errorf(s->on_cancel, "FooException");
}
static int m_wait_for_cases(void *a, void **r) {
  (void)a, (void)r;
  corral_task *t;
  void *res = NULL;
  /* test_wait_for_timeout_less_then_0_or_0_future_done */
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)0, "done", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK(corral_task_done(t));
  CHECK_RC(corral_wait_for(t, 0, &res), 0);
  CHECK_EQ((intptr_t)res, 7);
  corral_task_release(t);
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)0, "done", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_wait_for(t, -SEC, &res), 0);
  corral_task_release(t);
  /* test_wait_for_timeout_less_then_0_or_0: a running task, timeout 0 */
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)SEC, "foo", &t), 0);
  CHECK_RC(corral_yield(), 0);
  T0 = corral_now();
  CHECK_RC(corral_wait_for(t, 0, &res), CORRAL_ETIMEDOUT);
  CHECK_EQ(NOW(), 0);
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_TIMED_OUT);
  corral_task_release(t);
  /* test_wait_for_waits_for_task_cancellation: a task that takes 2 s to
   * honour its cancel is waited for; then the timeout is reported. */
  stubborn_arg sa = {2 * SEC, CORRAL_ECANCELED};
  CHECK_RC(corral_create_task(stubborn, &sa, "slow_cleanup", &t), 0);
  T0 = corral_now();
  CHECK_RC(corral_wait_for(t, SEC, &res), CORRAL_ETIMEDOUT);
  CHECK_EQ(NOW(), 3 * SEC);
  CHECK(corral_task_done(t));
  corral_task_release(t);
  /* The task swallows the cancel and returns a result: it wins. */
  sa = (stubborn_arg){SEC, 1};
  CHECK_RC(corral_create_task(stubborn, &sa, "swallow", &t), 0);
  res = NULL;
  CHECK_RC(corral_wait_for(t, SEC, &res), 0);
  CHECK_EQ((intptr_t)res, 42);
  corral_task_release(t);
  /* test_wait_for_reraises_exception_during_cancellation: an error
   * raised while handling the cancel is what wait_for reports. */
  sa = (stubborn_arg){0, CORRAL_EPIPE};
  CHECK_RC(corral_create_task(stubborn, &sa, "foo_exc", &t), 0);
  CHECK_RC(corral_wait_for(t, SEC, &res), CORRAL_EPIPE);
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_ERROR);
  corral_task_release(t);
  return 0;
}
TEST(wait_for_timeouts_and_stubborn_tasks) {
  CHECK_RC(run_virtual(m_wait_for_cases, NULL), 0);
}

/* test_cancel_wait_for / test_wait_for_cancel_suppressed: the caller is
 * cancelled: the inner task is cancelled and waited for. */
static corral_task *g_wf;
static int wf_caller(void *a, void **r) {
  (void)a, (void)r;
  return corral_wait_for(g_wf, 10 * SEC, NULL);
}
static int m_wait_for_caller_cancelled(void *a, void **r) {
  (void)a, (void)r;
  corral_task *c;
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)(100 * SEC), "inner", &g_wf), 0);
  CHECK_RC(corral_create_task(wf_caller, NULL, "caller", &c), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  corral_cancel(c, NULL);
  CHECK_RC(corral_join(c, NULL), CORRAL_ECANCELED);
  CHECK(corral_task_done(g_wf));
  CHECK_EQ(corral_task_status(g_wf), CORRAL_STATUS_CANCELLED);
  corral_task_release(c);
  corral_task_release(g_wf);
  return 0;
}
TEST(wait_for_caller_cancelled_cancels_inner) {
  CHECK_RC(run_virtual(m_wait_for_caller_cancelled, NULL), 0);
}

/* ---- wait / as_completed / gather (asyncio test_tasks.py) ---- */

static int canceller(void *a, void **r) {
  (void)r;
  CHECK_RC(corral_sleep(SEC), 0);
  corral_cancel((corral_task *)a, NULL);
  return 0;
}
static int m_wait_modes(void *a, void **r) {
  (void)a, (void)r;
  corral_task *t[3];
  size_t done = 99;
  /* FIRST_EXCEPTION: a cancelled task is not an exception
   * (asyncio _wait: `not f.cancelled() and f.exception()`). */
  T0 = corral_now();
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)(100 * SEC), "victim", &t[0]), 0);
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)(3 * SEC), "ok", &t[1]), 0);
  CHECK_RC(corral_create_task(canceller, t[0], "canceller", &t[2]), 0);
  CHECK_RC(corral_wait(t, 2, CORRAL_FIRST_EXCEPTION, CORRAL_FOREVER, &done), 0);
  CHECK_EQ(NOW(), 3 * SEC);
  CHECK_EQ(done, 2);
  for (int i = 0; i < 3; i++) corral_task_release(t[i]);
  /* FIRST_EXCEPTION with no failure is ALL_COMPLETED
   * (test_wait_first_exception's counterpart); with one failing, it
   * returns at that failure and leaves the rest running. */
  T0 = corral_now();
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)(2 * SEC), "a", &t[0]), 0);
  CHECK_RC(corral_create_task(failer, (void *)(intptr_t)(SEC), "f", &t[1]), 0);
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)(5 * SEC), "b", &t[2]), 0);
  CHECK_RC(corral_wait(t, 3, CORRAL_FIRST_EXCEPTION, CORRAL_FOREVER, &done), 0);
  CHECK_EQ(NOW(), SEC);
  CHECK_EQ(done, 1);
  /* FIRST_COMPLETED finds one done already: at once. */
  CHECK_RC(corral_wait(t, 3, CORRAL_FIRST_COMPLETED, CORRAL_FOREVER, &done), 0);
  CHECK_EQ(NOW(), SEC);
  /* ALL_COMPLETED with a timeout: pending left running. */
  CHECK_RC(corral_wait(t, 3, CORRAL_ALL_COMPLETED, 2 * SEC, &done), CORRAL_ETIMEDOUT);
  CHECK_EQ(NOW(), 3 * SEC);
  CHECK_EQ(done, 2);
  CHECK(!corral_task_done(t[2]));
  /* Duplicates count once (asyncio takes a set). */
  corral_task *dup[3] = {t[2], t[2], t[2]};
  CHECK_RC(corral_wait(dup, 3, CORRAL_FIRST_COMPLETED, CORRAL_FOREVER, &done), 0);
  CHECK_EQ(NOW(), 5 * SEC);
  CHECK_EQ(corral_task_status(t[2]), CORRAL_STATUS_OK);
  CHECK_RC(corral_join(t[1], NULL), CORRAL_EIO);
  for (int i = 0; i < 3; i++) corral_task_release(t[i]);
  /* test_wait_errors: no tasks; bad mode. */
  CHECK_RC(corral_wait(t, 0, CORRAL_ALL_COMPLETED, CORRAL_FOREVER, NULL), CORRAL_EINVAL);
  return 0;
}
TEST(wait_modes_cancelled_is_not_an_exception) {
  CHECK_RC(run_virtual(m_wait_modes, NULL), 0);
}

/* test_as_completed_with_timeout, test_as_completed_duplicate_coroutines
 * (a set: each task once), empty input. */
static int m_as_completed(void *a, void **r) {
  (void)a, (void)r;
  T0 = corral_now();
  corral_task *t[2], *d;
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)(2 * SEC), "a", &t[0]), 0);
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)(SEC), "b", &t[1]), 0);
  corral_task *dup[4] = {t[0], t[1], t[0], t[1]};
  corral_as_completed it;
  CHECK_RC(corral_as_completed_init(&it, dup, 4, CORRAL_FOREVER), 0);
  CHECK_RC(corral_as_completed_next(&it, &d), 0);
  CHECK(d == t[1]);
  CHECK_RC(corral_as_completed_next(&it, &d), 0);
  CHECK(d == t[0]);
  int rc = corral_as_completed_next(&it, &d);
  corral_as_completed_free(&it);
  CHECK_RC(rc, CORRAL_EEOF);
  CHECK_RC(corral_as_completed_init(&it, t, 0, CORRAL_FOREVER), 0);
  CHECK_RC(corral_as_completed_next(&it, &d), CORRAL_EEOF);
  corral_as_completed_free(&it);
  for (int i = 0; i < 2; i++) corral_task_release(t[i]);
  /* Timeout counts from the call, not from each next. */
  T0 = corral_now();
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)(SEC), "a", &t[0]), 0);
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)(10 * SEC), "b", &t[1]), 0);
  CHECK_RC(corral_as_completed_init(&it, t, 2, 2 * SEC), 0);
  CHECK_RC(corral_as_completed_next(&it, &d), 0);
  CHECK_EQ(NOW(), SEC);
  CHECK_RC(corral_as_completed_next(&it, &d), CORRAL_ETIMEDOUT);
  CHECK_EQ(NOW(), 2 * SEC);
  CHECK(!corral_task_done(t[1])); /* left running */
  corral_as_completed_free(&it);
  corral_cancel(t[1], NULL);
  for (int i = 0; i < 2; i++) corral_task_release(t[i]);
  return 0;
}
TEST(as_completed_duplicates_empty_and_timeout) {
  CHECK_RC(run_virtual(m_as_completed, NULL), 0);
}

/* gather(return_exceptions=True): a child cancelled on its own is a value
 * (CancelledError); the others are not cancelled. */
static int self_cancel(void *a, void **r) {
  (void)a, (void)r;
  CHECK_RC(corral_sleep(SEC), 0);
  corral_cancel(corral_current(), NULL);
  return corral_sleep(SEC);
}
static int m_gather_values(void *a, void **r) {
  (void)a, (void)r;
  T0 = corral_now();
  corral_call calls[3] = {{self_cancel, NULL, "c"},
                          {failer, (void *)(intptr_t)SEC, "f"},
                          {sleeper, (void *)(intptr_t)(3 * SEC), "s"}};
  corral_outcome out[3];
  CHECK_RC(corral_gather(calls, 3, out, &(corral_gather_opts){.policy = CORRAL_GATHER_ALL}), 0);
  CHECK_EQ(NOW(), 3 * SEC);
  CHECK_EQ(out[0].status, CORRAL_STATUS_CANCELLED);
  CHECK_EQ(out[1].status, CORRAL_STATUS_ERROR);
  CHECK_RC(out[1].code, CORRAL_EIO);
  CHECK_EQ(out[2].status, CORRAL_STATUS_OK);
  CHECK_EQ((intptr_t)out[2].result, 7);
  corral_outcomes_clear(out, 3);
  /* FAIL_FAST: a child cancelled on its own is not an error either. */
  corral_call c2[2] = {{self_cancel, NULL, "c"}, {sleeper, (void *)(intptr_t)(3 * SEC), "s"}};
  CHECK_RC(corral_gather(c2, 2, out, NULL), 0);
  CHECK_EQ(out[0].status, CORRAL_STATUS_CANCELLED);
  CHECK_EQ(out[1].status, CORRAL_STATUS_OK);
  corral_outcomes_clear(out, 2);
  return 0;
}
TEST(gather_cancelled_child_is_a_value) {
  CHECK_RC(run_virtual(m_gather_values, NULL), 0);
}

/* as_completed over many places holding few tasks (the sorted path). */
static int m_as_completed_many_dups(void *a, void **r) {
  (void)a, (void)r;
  corral_task *t[3], *many[40], *d;
  for (int i = 0; i < 3; i++)
    CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)((3 - i) * SEC), "t", &t[i]), 0);
  for (int i = 0; i < 40; i++) many[i] = t[(i * 7) % 3];
  corral_as_completed it;
  CHECK_RC(corral_as_completed_init(&it, many, 40, CORRAL_FOREVER), 0);
  for (int k = 0; k < 3; k++) {
    CHECK_RC(corral_as_completed_next(&it, &d), 0);
    CHECK(d == t[2 - k]);
  }
  int rc = corral_as_completed_next(&it, &d);
  corral_as_completed_free(&it);
  CHECK_RC(rc, CORRAL_EEOF);
  for (int i = 0; i < 3; i++) corral_task_release(t[i]);
  return 0;
}
TEST(as_completed_many_duplicates) {
  CHECK_RC(run_virtual(m_as_completed_many_dups, NULL), 0);
}

/* ---- Lock (trio test_sync.py test_Lock_and_StrictFIFOLock, asyncio
 * test_locks.py test_cancel_race) ---- */

static corral_lock g_lock;
static int holder(void *a, void **r) {
  (void)r;
  int rc = corral_lock_acquire(&g_lock);
  if (rc) return rc;
  if (a) (*(int *)a)++;
  rc = corral_sleep(CORRAL_FOREVER);
  CHECK_RC(corral_lock_release(&g_lock), 0);
  return rc;
}
static int m_lock_trio(void *a, void **r) {
  (void)a, (void)r;
  corral_lock_init(&g_lock, "L");
  corral_group g;
  corral_task *h1;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, holder, NULL, "h1", &h1), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK(corral_lock_owner(&g_lock) == h1);
  CHECK_RC(corral_lock_try_acquire(&g_lock), CORRAL_EAGAIN);
  CHECK_RC(corral_lock_release(&g_lock), CORRAL_EPERM);
  CHECK_EQ(corral_lock_waiting(&g_lock), 0);
  CHECK_RC(corral_spawn(&g, holder, NULL, "h2", NULL), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_EQ(corral_lock_waiting(&g_lock), 1);
  corral_group_cancel(&g, NULL);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK(corral_lock_owner(&g_lock) == NULL);
  CHECK_EQ(corral_lock_waiting(&g_lock), 0);
  corral_task_release(h1);
  return 0;
}
TEST(lock_statistics_and_cancelled_holders) {
  CHECK_RC(run_virtual(m_lock_trio, NULL), 0);
}

/* asyncio test_cancel_race: A holds, B and C wait; B is cancelled in the
 * same instant A releases: C gets the lock. */
static int lockit(void *a, void **r) {
  (void)r;
  int rc = corral_lock_acquire(&g_lock);
  if (rc) return rc;
  if (a) rc = corral_event_wait(a);
  CHECK_RC(corral_lock_release(&g_lock), 0);
  return rc;
}
static int m_lock_cancel_race(void *a, void **r) {
  (void)a, (void)r;
  corral_lock_init(&g_lock, "L");
  corral_event fa;
  corral_event_init(&fa);
  corral_task *ta, *tb, *tc;
  CHECK_RC(corral_create_task(lockit, &fa, "A", &ta), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK(corral_lock_owner(&g_lock) == ta);
  CHECK_RC(corral_create_task(lockit, NULL, "B", &tb), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_create_task(lockit, NULL, "C", &tc), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_EQ(corral_lock_waiting(&g_lock), 2);
  corral_event_set(&fa);
  corral_cancel(tb, NULL);
  CHECK_RC(corral_join(tc, NULL), 0);
  CHECK_EQ(corral_task_status(tb), CORRAL_STATUS_CANCELLED);
  CHECK_EQ(corral_task_status(ta), CORRAL_STATUS_OK);
  CHECK(corral_lock_owner(&g_lock) == NULL);
  corral_task_release(ta);
  corral_task_release(tb);
  corral_task_release(tc);
  return 0;
}
TEST(lock_cancel_race_next_waiter_gets_it) {
  CHECK_RC(run_virtual(m_lock_cancel_race, NULL), 0);
}

/* ---- Condition (trio test_Condition; asyncio test_cancelled_wakeup) ---- */

static corral_condition g_cond;
static int cond_waiter(void *a, void **r) {
  (void)r;
  CHECK_RC(corral_lock_acquire(&g_lock), 0);
  int rc = corral_condition_wait(&g_cond);
  CHECK(corral_lock_owner(&g_lock) == corral_current());
  CHECK_RC(corral_lock_release(&g_lock), 0);
  if (rc == 0) (*(int *)a)++;
  return rc;
}
static int m_cond_trio(void *a, void **r) {
  (void)a, (void)r;
  corral_lock_init(&g_lock, "L");
  corral_condition_init(&g_cond, &g_lock, "C");
  CHECK_RC(corral_condition_wait(&g_cond), CORRAL_EPERM); /* lock not held */
  int finished = 0;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < 3; i++) {
    CHECK_RC(corral_spawn(&g, cond_waiter, &finished, "w", NULL), 0);
    CHECK_RC(corral_sleep(SEC), 0);
  }
  CHECK_RC(corral_lock_acquire(&g_lock), 0);
  CHECK_EQ(corral_condition_notify(&g_cond, 2), 2);
  /* Trio: the notified waiters now wait for the lock. */
  CHECK_EQ(corral_lock_waiting(&g_lock), 2);
  CHECK_RC(corral_lock_release(&g_lock), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_EQ(finished, 2);
  CHECK_RC(corral_lock_acquire(&g_lock), 0);
  CHECK_EQ(corral_condition_notify_all(&g_cond), 1);
  CHECK_RC(corral_lock_release(&g_lock), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(finished, 3);
  /* Cancelled: still holds the lock. */
  corral_scope s;
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  CHECK_RC(corral_lock_acquire(&g_lock), 0);
  corral_scope_cancel(&s, NULL);
  int rc = corral_condition_wait(&g_cond);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK(corral_lock_owner(&g_lock) == corral_current());
  CHECK_RC(corral_lock_release(&g_lock), 0);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  return 0;
}
TEST(condition_trio_sequence) { CHECK_RC(run_virtual(m_cond_trio, NULL), 0); }

/* asyncio test_cancelled_wakeup: a waiter cancelled in the same instant
 * as it is notified does not lose the wakeup: the item is consumed. */
static int g_state;
static int consumer(void *a, void **r) {
  (void)a, (void)r;
  CHECK_RC(corral_lock_acquire(&g_lock), 0);
  int rc = 0;
  for (;;) {
    while (g_state == 0 && rc == 0) rc = corral_condition_wait(&g_cond);
    if (rc) break;
    if (g_state < 0) break;
    g_state--;
  }
  CHECK_RC(corral_lock_release(&g_lock), 0);
  return rc;
}
static int m_cond_cancel_wakeup(void *a, void **r) {
  (void)a, (void)r;
  corral_lock_init(&g_lock, "L");
  corral_condition_init(&g_cond, &g_lock, "C");
  g_state = 0;
  corral_task *c[2];
  for (int i = 0; i < 2; i++)
    CHECK_RC(corral_create_task(consumer, NULL, "consumer", &c[i]), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_lock_acquire(&g_lock), 0);
  g_state++;
  CHECK_EQ(corral_condition_notify(&g_cond, 1), 1);
  corral_cancel(c[0], NULL);
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, SEC), 0);
  int rc = 0;
  while (g_state != 0 && rc == 0) rc = corral_condition_wait(&g_cond);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK_EQ(g_state, 0);
  g_state = -1;
  corral_condition_notify_all(&g_cond);
  CHECK_RC(corral_lock_release(&g_lock), 0);
  CHECK_RC(corral_join(c[1], NULL), 0);
  for (int i = 0; i < 2; i++) corral_task_release(c[i]);
  return 0;
}
TEST(condition_cancelled_waiter_keeps_the_wakeup) {
  CHECK_RC(run_virtual(m_cond_cancel_wakeup, NULL), 0);
}

/* ---- Semaphore (trio test_Semaphore; asyncio test_acquire_hang) ---- */

static int sem_acq(void *a, void **r) {
  (void)r;
  return corral_semaphore_acquire(a);
}
static int m_sem(void *a, void **r) {
  (void)a, (void)r;
  corral_semaphore s;
  corral_semaphore_init(&s, 1);
  corral_semaphore_release(&s);
  CHECK_EQ(corral_semaphore_value(&s), 2);
  CHECK_RC(corral_semaphore_try_acquire(&s), 0);
  CHECK_RC(corral_semaphore_try_acquire(&s), 0);
  corral_task *t;
  CHECK_RC(corral_create_task(sem_acq, &s, "acq", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK(!corral_task_done(t));
  corral_semaphore_release(&s);
  CHECK_EQ(corral_semaphore_value(&s), 0); /* fairness: handed over */
  CHECK_RC(corral_semaphore_try_acquire(&s), CORRAL_EAGAIN);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  /* asyncio test_acquire_hang: the first waiter cancelled, a release
   * then goes to the second. */
  corral_task *t1, *t2;
  CHECK_RC(corral_create_task(sem_acq, &s, "t1", &t1), 0);
  CHECK_RC(corral_create_task(sem_acq, &s, "t2", &t2), 0);
  CHECK_RC(corral_yield(), 0);
  corral_cancel(t1, NULL);
  corral_semaphore_release(&s);
  CHECK_RC(corral_join(t2, NULL), 0);
  CHECK_RC(corral_join(t1, NULL), CORRAL_ECANCELED);
  CHECK_EQ(corral_semaphore_value(&s), 0);
  corral_task_release(t1);
  corral_task_release(t2);
  return 0;
}
TEST(semaphore_fair_handoff_and_cancelled_waiter) { CHECK_RC(run_virtual(m_sem, NULL), 0); }

/* ---- CapacityLimiter (trio test_CapacityLimiter, _change_total_tokens,
 * _memleak_548) ---- */

static corral_limiter g_lim;
static int lim_acq(void *a, void **r) {
  (void)r;
  return corral_limiter_acquire_on_behalf_of(&g_lim, a);
}
static int m_limiter(void *a, void **r) {
  (void)a, (void)r;
  corral_limiter_stats st;
  CHECK_RC(corral_limiter_init(&g_lim, 0, "C"), CORRAL_EINVAL);
  CHECK_RC(corral_limiter_init(&g_lim, 2, "C"), 0);
  CHECK_RC(corral_limiter_release(&g_lim), CORRAL_EPERM);
  CHECK_RC(corral_limiter_try_acquire(&g_lim), 0);
  CHECK_RC(corral_limiter_stats_get(&g_lim, &st), 0);
  CHECK_EQ(st.borrowed_tokens, 1);
  CHECK_EQ(st.available_tokens, 1);
  CHECK_RC(corral_limiter_try_acquire(&g_lim), CORRAL_EDEADLK);
  CHECK_RC(corral_limiter_acquire(&g_lim), CORRAL_EDEADLK);
  static const char someone[] = "someone", third[] = "third";
  CHECK_RC(corral_limiter_acquire_on_behalf_of(&g_lim, someone), 0);
  CHECK_RC(corral_limiter_try_acquire_on_behalf_of(&g_lim, third), CORRAL_EAGAIN);
  CHECK_RC(corral_limiter_release_on_behalf_of(&g_lim, corral_current()), 0);
  CHECK_RC(corral_limiter_release_on_behalf_of(&g_lim, someone), 0);
  CHECK_RC(corral_limiter_set_total_tokens(&g_lim, 0), CORRAL_EINVAL);
  /* change_total_tokens */
  static int ids[5];
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < 5; i++) {
    CHECK_RC(corral_spawn(&g, lim_acq, &ids[i], "acq", NULL), 0);
    CHECK_RC(corral_yield(), 0);
  }
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK(corral_limiter_holds(&g_lim, &ids[0]) && corral_limiter_holds(&g_lim, &ids[1]));
  CHECK_RC(corral_limiter_stats_get(&g_lim, &st), 0);
  CHECK_EQ(st.tasks_waiting, 3);
  CHECK_RC(corral_limiter_set_total_tokens(&g_lim, 3), 0);
  CHECK(corral_limiter_holds(&g_lim, &ids[2])); /* granted at once */
  CHECK_RC(corral_limiter_stats_get(&g_lim, &st), 0);
  CHECK_EQ(st.tasks_waiting, 2);
  CHECK_RC(corral_limiter_set_total_tokens(&g_lim, 1), 0);
  CHECK_RC(corral_limiter_stats_get(&g_lim, &st), 0);
  CHECK_EQ(st.borrowed_tokens, 3);
  CHECK_EQ(st.available_tokens, 0);
  CHECK_RC(corral_limiter_release_on_behalf_of(&g_lim, &ids[0]), 0);
  CHECK_RC(corral_limiter_release_on_behalf_of(&g_lim, &ids[1]), 0);
  CHECK_RC(corral_limiter_stats_get(&g_lim, &st), 0);
  CHECK_EQ(st.borrowed_tokens, 1);
  CHECK_EQ(st.tasks_waiting, 2);
  CHECK_RC(corral_limiter_release_on_behalf_of(&g_lim, &ids[2]), 0);
  CHECK(corral_limiter_holds(&g_lim, &ids[3]));
  CHECK_RC(corral_limiter_set_total_tokens(&g_lim, 10), 0);
  CHECK(corral_limiter_holds(&g_lim, &ids[4]));
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_RC(corral_limiter_release_on_behalf_of(&g_lim, &ids[3]), 0);
  CHECK_RC(corral_limiter_release_on_behalf_of(&g_lim, &ids[4]), 0);
  /* memleak_548: a cancelled waiter leaves nothing behind. */
  CHECK_RC(corral_limiter_set_total_tokens(&g_lim, 1), 0);
  CHECK_RC(corral_limiter_acquire(&g_lim), 0);
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, lim_acq, &ids[0], "acq", NULL), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  corral_group_cancel(&g, NULL);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_RC(corral_limiter_stats_get(&g_lim, &st), 0);
  CHECK_EQ(st.tasks_waiting, 0);
  CHECK(!corral_limiter_holds(&g_lim, &ids[0]));
  CHECK_RC(corral_limiter_release(&g_lim), 0);
  corral_limiter_destroy(&g_lim);
  return 0;
}
TEST(limiter_trio_sequence) { CHECK_RC(run_virtual(m_limiter, NULL), 0); }

/* ---- Event (asyncio test_clear_with_waiters, trio test_Event) ---- */
static int ev_wait(void *a, void **r) {
  (void)r;
  return corral_event_wait(a);
}
static int m_event(void *a, void **r) {
  (void)a, (void)r;
  corral_event e;
  corral_event_init(&e);
  CHECK(!corral_event_is_set(&e));
  corral_task *t[2];
  for (int i = 0; i < 2; i++) CHECK_RC(corral_create_task(ev_wait, &e, "w", &t[i]), 0);
  CHECK_RC(corral_yield(), 0);
  corral_event_set(&e);
  corral_event_clear(&e);
  corral_event_set(&e);
  CHECK_RC(corral_event_wait(&e), 0);
  corral_event_clear(&e);
  for (int i = 0; i < 2; i++) {
    CHECK_RC(corral_join(t[i], NULL), 0);
    corral_task_release(t[i]);
  }
  CHECK(!corral_event_is_set(&e));
  return 0;
}
TEST(event_set_clear_with_waiters) { CHECK_RC(run_virtual(m_event, NULL), 0); }

/* ---- memory channels (trio _tests/test_channel.py; asyncio
 * test_queues.py) ---- */

static int ch_send(void *a, void **r) {
  (void)r;
  corral_channel *ch = a;
  int v = 2;
  return corral_channel_send(ch, &v);
}
static int ch_recv(void *a, void **r) {
  corral_channel *ch = a;
  int v = 0;
  int rc = corral_channel_receive(ch, &v);
  *r = (void *)(intptr_t)v;
  return rc;
}
/* test_channel */
static int m_channel_basic(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch;
  int v;
  CHECK_RC(corral_channel_open(&ch, sizeof(int), 2, "c"), 0);
  v = 1;
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  v = 2;
  CHECK_RC(corral_channel_send(ch, &v), 0);
  CHECK_RC(corral_channel_try_send(ch, &v), CORRAL_EAGAIN);
  CHECK_RC(corral_channel_receive(ch, &v), 0);
  CHECK_EQ(v, 1);
  CHECK_RC(corral_channel_try_receive(ch, &v), 0);
  CHECK_EQ(v, 2);
  CHECK_RC(corral_channel_try_receive(ch, &v), CORRAL_EAGAIN);
  v = 3;
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  CHECK_RC(corral_channel_close_send(ch), 0);
  CHECK_RC(corral_channel_send(ch, &v), CORRAL_ECLOSED);
  CHECK_RC(corral_channel_try_send(ch, &v), CORRAL_ECLOSED);
  CHECK_RC(corral_channel_close_send(ch), 0);
  CHECK_RC(corral_channel_try_receive(ch, &v), 0);
  CHECK_EQ(v, 3);
  CHECK_RC(corral_channel_receive(ch, &v), CORRAL_EEOF);
  CHECK_RC(corral_channel_try_receive(ch, &v), CORRAL_EEOF);
  CHECK_RC(corral_channel_close_receive(ch), 0);
  CHECK_RC(corral_channel_receive(ch, &v), CORRAL_ECLOSED);
  CHECK_RC(corral_channel_try_receive(ch, &v), CORRAL_ECLOSED);
  CHECK_RC(corral_channel_close_receive(ch), 0);
  corral_channel_free(ch);
  return 0;
}
TEST(channel_trio_sequence) { CHECK_RC(run_virtual(m_channel_basic, NULL), 0); }

/* test_close_basics */
static int m_channel_close_basics(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch;
  corral_task *t;
  int v = 0;
  /* closing send: the blocked sender gets ClosedResourceError; lasting;
   * receive gets EndOfChannel. */
  CHECK_RC(corral_channel_open(&ch, sizeof(int), 0, "c"), 0);
  CHECK_RC(corral_create_task(ch_send, ch, "s", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_channel_close_send(ch), 0);
  CHECK_RC(corral_join(t, NULL), CORRAL_ECLOSED);
  corral_task_release(t);
  CHECK_RC(corral_channel_try_send(ch, &v), CORRAL_ECLOSED);
  CHECK_RC(corral_channel_send(ch, &v), CORRAL_ECLOSED);
  CHECK_RC(corral_channel_try_receive(ch, &v), CORRAL_EEOF);
  CHECK_RC(corral_channel_receive(ch, &v), CORRAL_EEOF);
  corral_channel_free(ch);
  /* closing receive: the blocked sender gets BrokenResourceError. */
  CHECK_RC(corral_channel_open(&ch, sizeof(int), 0, "c"), 0);
  CHECK_RC(corral_create_task(ch_send, ch, "s", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_channel_close_receive(ch), 0);
  CHECK_RC(corral_join(t, NULL), CORRAL_EPIPE);
  corral_task_release(t);
  CHECK_RC(corral_channel_try_send(ch, &v), CORRAL_EPIPE);
  CHECK_RC(corral_channel_send(ch, &v), CORRAL_EPIPE);
  corral_channel_free(ch);
  /* closing receive: a blocked receiver gets ClosedResourceError. */
  CHECK_RC(corral_channel_open(&ch, sizeof(int), 0, "c"), 0);
  CHECK_RC(corral_create_task(ch_recv, ch, "r", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_channel_close_receive(ch), 0);
  CHECK_RC(corral_join(t, NULL), CORRAL_ECLOSED);
  corral_task_release(t);
  CHECK_RC(corral_channel_try_receive(ch, &v), CORRAL_ECLOSED);
  corral_channel_free(ch);
  /* the last sender closing wakes a blocked receiver with EndOfChannel. */
  CHECK_RC(corral_channel_open(&ch, sizeof(int), 3, "c"), 0);
  CHECK_RC(corral_create_task(ch_recv, ch, "r", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_channel_close_send(ch), 0);
  CHECK_RC(corral_join(t, NULL), CORRAL_EEOF);
  corral_task_release(t);
  corral_channel_free(ch);
  return 0;
}
TEST(channel_close_basics) { CHECK_RC(run_virtual(m_channel_close_basics, NULL), 0); }

/* test_channel_fairness */
static int m_channel_fairness(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch;
  corral_task *t;
  int v;
  void *res;
  CHECK_RC(corral_channel_open(&ch, sizeof(int), 1, "c"), 0);
  v = 1;
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  CHECK_RC(corral_channel_try_receive(ch, &v), 0);
  v = 2;
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  CHECK_RC(corral_channel_try_receive(ch, &v), 0);
  CHECK_EQ(v, 2);
  /* A waiting receiver owns the item we send. */
  CHECK_RC(corral_create_task(ch_recv, ch, "r", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  v = 2;
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  CHECK_RC(corral_channel_try_receive(ch, &v), CORRAL_EAGAIN);
  CHECK_RC(corral_join(t, &res), 0);
  CHECK_EQ((intptr_t)res, 2);
  corral_task_release(t);
  /* A waiting sender owns the room we free. */
  v = 1;
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  CHECK_RC(corral_channel_try_send(ch, &v), CORRAL_EAGAIN);
  CHECK_RC(corral_create_task(ch_send, ch, "s", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_channel_try_receive(ch, &v), 0);
  CHECK_EQ(v, 1);
  v = 3;
  CHECK_RC(corral_channel_try_send(ch, &v), CORRAL_EAGAIN);
  CHECK_RC(corral_channel_receive(ch, &v), 0);
  CHECK_EQ(v, 2);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  corral_channel_free(ch);
  return 0;
}
TEST(channel_fairness) { CHECK_RC(run_virtual(m_channel_fairness, NULL), 0); }

/* test_unbuffered and test_statistics */
static int m_channel_unbuffered_stats(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch;
  corral_channel_stats st;
  corral_task *t;
  int v = 1;
  CHECK_RC(corral_channel_open(&ch, sizeof(int), 0, "c"), 0);
  CHECK_RC(corral_channel_try_receive(ch, &v), CORRAL_EAGAIN);
  CHECK_RC(corral_channel_try_send(ch, &v), CORRAL_EAGAIN);
  CHECK_RC(corral_create_task(ch_send, ch, "s", &t), 0);
  CHECK_RC(corral_channel_receive(ch, &v), 0);
  CHECK_EQ(v, 2);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  CHECK_RC(corral_channel_try_receive(ch, &v), CORRAL_EAGAIN);
  corral_channel_free(ch);

  CHECK_RC(corral_channel_open(&ch, sizeof(int), 2, "c"), 0);
  CHECK_RC(corral_channel_stats_get(ch, &st), 0);
  CHECK_EQ(st.buffered, 0);
  CHECK_EQ(st.capacity, 2);
  CHECK_EQ(st.senders_waiting + st.receivers_waiting, 0);
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  CHECK_RC(corral_channel_stats_get(ch, &st), 0);
  CHECK_EQ(st.buffered, 2);
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, ch_send, ch, "s", NULL), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_channel_stats_get(ch, &st), 0);
  CHECK_EQ(st.senders_waiting, 1);
  corral_group_cancel(&g, NULL);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_RC(corral_channel_stats_get(ch, &st), 0);
  CHECK_EQ(st.senders_waiting, 0);
  CHECK_EQ(st.buffered, 2); /* the cancelled send left nothing */
  while (corral_channel_try_receive(ch, &v) == 0) {
  }
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, ch_recv, ch, "r", NULL), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_channel_stats_get(ch, &st), 0);
  CHECK_EQ(st.receivers_waiting, 1);
  corral_group_cancel(&g, NULL);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_RC(corral_channel_stats_get(ch, &st), 0);
  CHECK_EQ(st.receivers_waiting, 0);
  corral_channel_free(ch);
  return 0;
}
TEST(channel_unbuffered_and_statistics) {
  CHECK_RC(run_virtual(m_channel_unbuffered_stats, NULL), 0);
}

/* asyncio test_put_cancelled_race: a cancelled putter puts nothing and the
 * next one's item follows in order. */
typedef struct {
  corral_channel *ch;
  int v;
} put_arg;
static int putter(void *a, void **r) {
  (void)r;
  put_arg *p = a;
  return corral_channel_send(p->ch, &p->v);
}
static int m_put_cancelled_race(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch;
  CHECK_RC(corral_channel_open(&ch, sizeof(int), 1, "q"), 0);
  put_arg pa = {ch, 'a'}, pb = {ch, 'X'}, pc = {ch, 'b'};
  corral_task *ta, *tb, *tc;
  CHECK_RC(corral_create_task(putter, &pa, "a", &ta), 0);
  CHECK_RC(corral_create_task(putter, &pb, "b", &tb), 0);
  CHECK_RC(corral_create_task(putter, &pc, "c", &tc), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK(corral_task_done(ta) && !corral_task_done(tb));
  corral_cancel(tb, NULL);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK(corral_task_done(tb));
  int v;
  CHECK_RC(corral_channel_try_receive(ch, &v), 0);
  CHECK_EQ(v, 'a');
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_channel_try_receive(ch, &v), 0);
  CHECK_EQ(v, 'b');
  CHECK_RC(corral_join(tc, NULL), 0);
  CHECK_RC(corral_join(tb, NULL), CORRAL_ECANCELED);
  corral_task_release(ta);
  corral_task_release(tb);
  corral_task_release(tc);
  corral_channel_free(ch);
  return 0;
}
TEST(channel_put_cancelled_race) { CHECK_RC(run_virtual(m_put_cancelled_race, NULL), 0); }

/* ---- cancel of a task blocked in each primitive ---- */
static int blocked_in(void *a, void **r) {
  (void)r;
  intptr_t which = (intptr_t)a;
  static corral_event e;
  static corral_semaphore s;
  static corral_condition c;
  static corral_limiter lim;
  static corral_channel *ch;
  int rc = 0;
  switch (which) {
  case 0: return corral_sleep(CORRAL_FOREVER);
  case 1: corral_event_init(&e); return corral_event_wait(&e);
  case 2: corral_semaphore_init(&s, 0); return corral_semaphore_acquire(&s);
  case 3: {
    corral_lock_init(&g_lock, "L");
    CHECK_RC(corral_lock_acquire(&g_lock), 0);
    corral_condition_init(&c, &g_lock, "C");
    rc = corral_condition_wait(&c);
    CHECK(corral_lock_owner(&g_lock) == corral_current());
    CHECK_RC(corral_lock_release(&g_lock), 0);
    return rc;
  }
  case 4:
    CHECK_RC(corral_limiter_init(&lim, 1, "lim"), 0);
    CHECK_RC(corral_limiter_acquire_on_behalf_of(&lim, &lim), 0);
    rc = corral_limiter_acquire(&lim);
    corral_limiter_destroy(&lim);
    return rc;
  case 5:
  case 6: {
    CHECK_RC(corral_channel_open(&ch, sizeof(int), 0, "c"), 0);
    int v = 0;
    rc = which == 5 ? corral_channel_send(ch, &v) : corral_channel_receive(ch, &v);
    corral_channel_free(ch);
    return rc;
  }
  case 7: {
    corral_task *t;
    CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)(100 * SEC), "inner", &t), 0);
    rc = corral_join(t, NULL);
    corral_cancel(t, NULL);
    corral_task_release(t);
    return rc;
  }
  case 8: {
    size_t fired;
    return corral_select(NULL, 0, &fired);
  }
  }
  return CORRAL_EINVAL;
}
static int m_cancel_blocked(void *a, void **r) {
  (void)a, (void)r;
  for (intptr_t k = 0; k <= 8; k++) {
    corral_task *t;
    CHECK_RC(corral_create_task(blocked_in, (void *)k, "blocked", &t), 0);
    CHECK_RC(corral_sleep(SEC), 0);
    CHECK(!corral_task_done(t));
    CHECK_RC(corral_cancel(t, NULL), 0);
    int rc = corral_join(t, NULL);
    if (rc != CORRAL_ECANCELED) FAILF("primitive %d: %s", (int)k, corral_err_name(rc));
    corral_task_release(t);
  }
  return 0;
}
TEST(cancel_reaches_a_task_blocked_in_each_primitive) {
  CHECK_RC(run_virtual(m_cancel_blocked, NULL), 0);
}

/* trio test_lock_multiple_acquire / "Owner of this lock exited without
 * releasing": a task that ends holding a lock. */
static int hold_and_leave(void *a, void **r) {
  (void)a, (void)r;
  return corral_lock_acquire(&g_lock);
}
static int m_lock_owner_exits(void *a, void **r) {
  (void)a, (void)r;
  corral_lock_init(&g_lock, "L");
  corral_task *t;
  CHECK_RC(corral_create_task(hold_and_leave, NULL, "leaver", &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  /* The owner finished, its handle still held. */
  CHECK_RC(corral_lock_acquire(&g_lock), CORRAL_EPIPE);
  CHECK(strstr(corral_error_message(corral_last_error()), "leaver"));
  CHECK_RC(corral_lock_try_acquire(&g_lock), CORRAL_EPIPE);
  corral_task_release(t);
  /* The handle released: the task struct is gone or reused. */
  CHECK_RC(corral_lock_acquire(&g_lock), CORRAL_EPIPE);
  for (int i = 0; i < 4; i++) {
    CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)0, "reuse", &t), 0);
    CHECK_RC(corral_lock_try_acquire(&g_lock), CORRAL_EPIPE);
    CHECK_RC(corral_join(t, NULL), 0);
    corral_task_release(t);
  }
  CHECK_RC(corral_lock_try_acquire(&g_lock), CORRAL_EPIPE);
  /* corral_lock_init makes it usable again. */
  corral_lock_init(&g_lock, "L");
  CHECK_RC(corral_lock_acquire(&g_lock), 0);
  CHECK_RC(corral_lock_release(&g_lock), 0);
  return 0;
}
TEST(lock_owner_exits_holding_it) {
  CHECK_RC(run_virtual(m_lock_owner_exits, NULL), 0);
}

/* trio test_lock_multiple_acquire: tasks blocked in acquire when the owner
 * ends holding the lock wake with BrokenResourceError (CORRAL_EPIPE). */
static int hold_then_leave(void *a, void **r) {
  (void)r;
  CHECK_RC(corral_lock_acquire(&g_lock), 0);
  return corral_sleep((int64_t)(intptr_t)a); /* ends holding it */
}
static int acq_release(void *a, void **r) {
  (void)a, (void)r;
  int rc = corral_lock_acquire(&g_lock);
  if (rc == 0) {
    CHECK_RC(corral_sleep(SEC), 0);
    CHECK_RC(corral_lock_release(&g_lock), 0);
  }
  return rc;
}
static int m_lock_waiters_broken(void *a, void **r) {
  (void)a, (void)r;
  corral_lock_init(&g_lock, "L");
  corral_task *o, *w[3];
  CHECK_RC(corral_create_task(hold_then_leave, (void *)(intptr_t)(2 * SEC), "owner", &o), 0);
  for (int i = 0; i < 3; i++)
    CHECK_RC(corral_create_task(acq_release, NULL, "waiter", &w[i]), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_EQ(corral_lock_waiting(&g_lock), 3);
  corral_cancel(w[0], NULL); /* the first waiter leaves: the next watches */
  T0 = corral_now();
  for (int i = 1; i < 3; i++) {
    CHECK_RC(corral_join(w[i], NULL), CORRAL_EPIPE);
    CHECK(strstr(corral_error_message(corral_task_error(w[i])), "owner"));
  }
  CHECK_EQ(NOW(), SEC); /* at the owner's end */
  CHECK_RC(corral_join(w[0], NULL), CORRAL_ECANCELED);
  CHECK_RC(corral_join(o, NULL), 0);
  for (int i = 0; i < 3; i++) corral_task_release(w[i]);
  corral_task_release(o);
  CHECK_EQ(corral_lock_waiting(&g_lock), 0);
  CHECK_RC(corral_lock_acquire(&g_lock), CORRAL_EPIPE);

  /* trio test_lock_handover: the owner hands the lock over and ends later:
   * nothing breaks; the waiters get it in turn. */
  corral_lock_init(&g_lock, "L");
  CHECK_RC(corral_lock_acquire(&g_lock), 0);
  for (int i = 0; i < 3; i++)
    CHECK_RC(corral_create_task(acq_release, NULL, "waiter", &w[i]), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_lock_release(&g_lock), 0);
  for (int i = 0; i < 3; i++) {
    CHECK_RC(corral_join(w[i], NULL), 0);
    corral_task_release(w[i]);
  }
  CHECK(corral_lock_owner(&g_lock) == NULL);

  /* A handed-over owner ends while others wait behind it. */
  corral_lock_init(&g_lock, "L");
  CHECK_RC(corral_lock_acquire(&g_lock), 0);
  CHECK_RC(corral_create_task(hold_then_leave, (void *)(intptr_t)SEC, "second", &o), 0);
  CHECK_RC(corral_create_task(acq_release, NULL, "third", &w[0]), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_lock_release(&g_lock), 0); /* to "second" */
  CHECK_RC(corral_join(o, NULL), 0);
  CHECK_RC(corral_join(w[0], NULL), CORRAL_EPIPE);
  corral_task_release(o);
  corral_task_release(w[0]);
  return 0;
}
TEST(lock_waiters_woken_when_the_owner_ends_holding_it) {
  CHECK_RC(run_virtual(m_lock_waiters_broken, NULL), 0);
}

/* A condition waiter notified, waiting for the lock, when its owner ends
 * holding it: CORRAL_EPIPE, the lock not held. */
static int cond_notify_and_leave(void *a, void **r) {
  (void)a, (void)r;
  CHECK_RC(corral_lock_acquire(&g_lock), 0);
  corral_condition_notify_all(&g_cond);
  return corral_sleep(SEC); /* ends holding it */
}
static int cond_waiter_rc(void *a, void **r) {
  (void)a, (void)r;
  CHECK_RC(corral_lock_acquire(&g_lock), 0);
  int rc = corral_condition_wait(&g_cond);
  if (rc == 0) CHECK_RC(corral_lock_release(&g_lock), 0);
  return rc;
}
static int m_cond_owner_ends(void *a, void **r) {
  (void)a, (void)r;
  corral_lock_init(&g_lock, "L");
  corral_condition_init(&g_cond, &g_lock, "C");
  corral_task *w[2], *o;
  for (int i = 0; i < 2; i++)
    CHECK_RC(corral_create_task(cond_waiter_rc, NULL, "cw", &w[i]), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  CHECK_RC(corral_create_task(cond_notify_and_leave, NULL, "notifier", &o), 0);
  for (int i = 0; i < 2; i++) {
    CHECK_RC(corral_join(w[i], NULL), CORRAL_EPIPE);
    corral_task_release(w[i]);
  }
  CHECK_RC(corral_join(o, NULL), 0);
  corral_task_release(o);
  return 0;
}
TEST(condition_waiter_woken_when_the_lock_owner_ends) {
  CHECK_RC(run_virtual(m_cond_owner_ends, NULL), 0);
}

/* asyncio test_timeouts.py test_timeout_taskgroup: errors raised in a
 * group while a timeout cancels it win over the timeout (an
 * ExceptionGroup, not TimeoutError). */
static int crash_in_cleanup(void *a, void **r) {
  (void)a, (void)r;
  int rc = corral_sleep(2 * SEC);
  if (rc == CORRAL_ECANCELED) return corral_errorf(CORRAL_ERANGE, "1/0");
  return rc;
}
static int m_timeout_taskgroup(void *a, void **r) {
  (void)a, (void)r;
  T0 = corral_now();
  corral_scope s;
  corral_group g;
  CHECK_RC(corral_fail_after(&s, 10 * MS), 0);
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, crash_in_cleanup, NULL, "task", NULL), 0);
  int body = corral_errorf(CORRAL_EINVAL, "ValueError");
  CHECK_RC(corral_sleep(SEC), CORRAL_ECANCELED); /* finally: sleep(1) */
  int rc = corral_group_close(&g, body);
  CHECK_RC(rc, CORRAL_EGROUP);
  CHECK_EQ(corral_error_count(corral_last_error()), 2);
  rc = corral_scope_exit(&s, rc);
  CHECK_RC(rc, CORRAL_EGROUP);
  CHECK(corral_scope_timed_out(&s));
  CHECK_EQ(NOW(), 10 * MS);
  return 0;
}
TEST(timeout_around_failing_group_keeps_the_errors) {
  CHECK_RC(run_virtual(m_timeout_taskgroup, NULL), 0);
}

/* A scope storage entered again after it exited starts fresh: not
 * cancelled, no deadline, nothing caught (Trio refuses to reuse a
 * CancelScope; corral reuses caller storage). */
static int m_scope_reentry(void *a, void **r) {
  (void)a, (void)r;
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, SEC), 0);
  CHECK_RC(corral_scope_exit(&s, corral_sleep(2 * SEC)), 0);
  CHECK(corral_scope_caught(&s) && corral_scope_timed_out(&s));
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  CHECK(!corral_scope_cancelled(&s));
  CHECK_EQ(corral_scope_deadline(&s), CORRAL_FOREVER);
  CHECK_RC(corral_sleep(2 * SEC), 0);
  CHECK_RC(corral_scope_exit(&s, 0), 0);
  CHECK(!corral_scope_caught(&s) && !corral_scope_timed_out(&s));
  return 0;
}
TEST(scope_storage_reentered_starts_fresh) {
  CHECK_RC(run_virtual(m_scope_reentry, NULL), 0);
}

/* trio test_unshield_while_cancel_propagating (shield set while the outer
 * cancel passes through), test_cancel_shielded: a shield does not stop
 * the scope's own cancel; test_cancel_unbound: cancelled or expired before
 * entry, cancelled at entry. */
static int m_shield_edges(void *a, void **r) {
  (void)a, (void)r;
  corral_scope outer, inner;
  CHECK_RC(corral_scope_enter(&outer, NULL), 0);
  CHECK_RC(corral_scope_enter(&inner, NULL), 0);
  corral_scope_cancel(&outer, NULL);
  int rc = corral_yield();
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_set_shield(&inner, 1), 0);
  rc = corral_scope_exit(&inner, rc);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&outer, rc), 0);
  CHECK(corral_scope_caught(&outer) && !corral_scope_caught(&inner));

  CHECK_RC(corral_scope_enter(&inner, &(corral_scope_opts){.shield = 1}), 0);
  corral_scope_cancel(&inner, NULL);
  rc = corral_yield();
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&inner, rc), 0);
  CHECK(corral_scope_caught(&inner));

  CHECK_RC(corral_scope_init(&inner, NULL), 0);
  CHECK_RC(corral_scope_cancel(&inner, NULL), 0);
  CHECK_RC(corral_scope_enter(&inner, NULL), 0);
  CHECK_RC(corral_scope_exit(&inner, corral_yield()), 0);
  CHECK(corral_scope_caught(&inner));
  CHECK_RC(corral_scope_init(&inner, &(corral_scope_opts){.deadline = corral_now() - 1}), 0);
  CHECK_RC(corral_scope_enter(&inner, NULL), 0);
  CHECK_RC(corral_scope_exit(&inner, corral_yield()), 0);
  CHECK(corral_scope_caught(&inner) && corral_scope_timed_out(&inner));
  CHECK_RC(corral_scope_enter(&inner, NULL), 0);
  CHECK_RC(corral_scope_enter(&inner, NULL), CORRAL_EBUSY);
  CHECK_RC(corral_scope_exit(&inner, 0), 0);
  return 0;
}
TEST(shield_and_unbound_scope_edges) {
  CHECK_RC(run_virtual(m_shield_edges, NULL), 0);
}

/* asyncio test_taskgroup_08's variant: the task is cancelled while it
 * waits in close (the body finished): the children are cancelled and
 * close passes CORRAL_ECANCELED. */
static int close_waiter(void *a, void **r) {
  (void)a, (void)r;
  corral_group g;
  corral_task *c;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, sleeper, (void *)(intptr_t)(100 * SEC), "child", &c), 0);
  int rc = corral_group_close(&g, 0);
  CHECK_EQ(corral_task_status(c), CORRAL_STATUS_CANCELLED);
  corral_task_release(c);
  return rc;
}
static int m_cancel_in_close(void *a, void **r) {
  (void)a, (void)r;
  T0 = corral_now();
  corral_task *t;
  CHECK_RC(corral_create_task(close_waiter, NULL, "runner", &t), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  corral_cancel(t, NULL);
  CHECK_RC(corral_join(t, NULL), CORRAL_ECANCELED);
  CHECK_EQ(NOW(), SEC);
  corral_task_release(t);
  return 0;
}
TEST(task_cancelled_while_waiting_in_group_close) {
  CHECK_RC(run_virtual(m_cancel_in_close, NULL), 0);
}

/* trio: sleep(0) is a checkpoint that always yields: two tasks looping on
 * it alternate strictly (FIFO). */
static char g_trace[16];
static int g_pos;
static int zero_sleeper(void *a, void **r) {
  (void)r;
  for (int i = 0; i < 4; i++) {
    g_trace[g_pos++] = *(const char *)a;
    CHECK_RC(corral_sleep(0), 0);
  }
  return 0;
}
static int m_sleep_zero(void *a, void **r) {
  (void)a, (void)r;
  g_pos = 0;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, zero_sleeper, "a", "a", NULL), 0);
  CHECK_RC(corral_spawn(&g, zero_sleeper, "b", "b", NULL), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  g_trace[g_pos] = 0;
  CHECK_STR(g_trace, "abababab");
  return 0;
}
TEST(sleep_zero_always_yields) { CHECK_RC(run_virtual(m_sleep_zero, NULL), 0); }

/* asyncio's wait_for race reports (bpo-37658, gh-86296): the caller is
 * cancelled in the instant the inner task finishes with a result: the
 * result is not lost. */
static int wf_result_caller(void *a, void **r) {
  (void)a;
  return corral_wait_for(g_wf, CORRAL_FOREVER, r);
}
static int m_wait_for_cancel_race(void *a, void **r) {
  (void)a, (void)r;
  corral_task *c;
  void *res = NULL;
  CHECK_RC(corral_create_task(sleeper, (void *)(intptr_t)SEC, "inner", &g_wf), 0);
  CHECK_RC(corral_create_task(wf_result_caller, NULL, "caller", &c), 0);
  CHECK_RC(corral_sleep(SEC), 0); /* inner's timer fired first */
  corral_cancel(c, NULL);
  CHECK_RC(corral_join(c, &res), 0);
  CHECK_EQ((intptr_t)res, 7);
  CHECK_EQ(corral_task_status(g_wf), CORRAL_STATUS_OK);
  corral_task_release(c);
  corral_task_release(g_wf);
  return 0;
}
TEST(wait_for_result_wins_over_a_simultaneous_cancel) {
  CHECK_RC(run_virtual(m_wait_for_cancel_race, NULL), 0);
}

/* trio test_nursery_start_with_cancelled_nursery: a task with sleeping
 * children calls started() and moves into a group that is cancelled just
 * before (corral: start reports CORRAL_ECANCELED, the task is cancelled
 * and waited for) or just after (the move carries the cancel to the
 * sleeping grandchildren). Neither hangs. */
static corral_group *g_target;
static int sleeping_children(void *a, void **r) {
  (void)r;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, sleeper, (void *)(intptr_t)CORRAL_FOREVER, "z1", NULL), 0);
  CHECK_RC(corral_spawn(&g, sleeper, (void *)(intptr_t)CORRAL_FOREVER, "z2", NULL), 0);
  CHECK_RC(corral_sleep(SEC), 0);
  if (a) corral_group_cancel(g_target, NULL);
  CHECK_RC(corral_started(NULL), 0);
  return corral_group_close(&g, corral_sleep(CORRAL_FOREVER));
}
static int m_start_cancelled(void *a, void **r) {
  (void)a, (void)r;
  T0 = corral_now();
  corral_group g;
  g_target = &g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  int rc = corral_start(&g, sleeping_children, (void *)1, "before", NULL, NULL);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(NOW(), SEC);

  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_start(&g, sleeping_children, NULL, "after", NULL, NULL), 0);
  corral_group_cancel(&g, NULL);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(NOW(), 2 * SEC);
  return 0;
}
TEST(start_into_a_group_cancelled_before_or_after_started) {
  CHECK_RC(run_virtual(m_start_cancelled, NULL), 0);
}

/* trio: CapacityLimiter.acquire is a checkpoint even with a token free:
 * inside a cancelled scope it fails and borrows nothing. */
static int m_limiter_cancelled(void *a, void **r) {
  (void)a, (void)r;
  corral_limiter_stats st;
  CHECK_RC(corral_limiter_init(&g_lim, 1, "C"), 0);
  corral_scope s;
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  corral_scope_cancel(&s, NULL);
  int rc = corral_limiter_acquire(&g_lim);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK_RC(corral_limiter_stats_get(&g_lim, &st), 0);
  CHECK_EQ(st.borrowed_tokens, 0);
  CHECK(!corral_limiter_holds(&g_lim, corral_current()));
  corral_limiter_destroy(&g_lim);
  return 0;
}
TEST(limiter_acquire_in_cancelled_scope_borrows_nothing) {
  CHECK_RC(run_virtual(m_limiter_cancelled, NULL), 0);
}
