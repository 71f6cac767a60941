/* Cancel scopes: level-triggered, deadlines, nesting, shields, reasons. */
#include "test.h"

static int64_t T0;
#define NOW() (corral_now() - T0)

static int m_level(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope s;
  CHECK_RC(corral_scope_enter(&s, &(corral_scope_opts){.name = "lvl"}), 0);
  CHECK_RC(corral_checkpoint_cancel(), 0);
  corral_scope_cancel(&s, "stop");
  for (int i = 0; i < 3; i++) { /* keeps failing: cannot be swallowed */
    CHECK_RC(corral_sleep(1), CORRAL_ECANCELED);
    CHECK_RC(corral_yield(), CORRAL_ECANCELED);
    CHECK_RC(corral_checkpoint_cancel(), CORRAL_ECANCELED);
  }
  CHECK_RC(corral_scope_exit(&s, CORRAL_ECANCELED), 0);
  CHECK(corral_scope_cancelled(&s));
  CHECK_RC(corral_sleep(1), 0); /* outside the scope: fine again */
  return 0;
}
TEST(level_triggered_until_scope_exit) { CHECK_RC(run_virtual(m_level, NULL), 0); }

static int m_move_on(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, 1 * SEC), 0);
  int rc = corral_sleep(5 * SEC);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK(corral_scope_timed_out(&s));
  CHECK_EQ(NOW(), 1 * SEC);
  return 0;
}
TEST(move_on_after_stops_silently) { CHECK_RC(run_virtual(m_move_on, NULL), 0); }

static int m_fail_after(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_scope s;
  CHECK_RC(corral_fail_after(&s, 1500 * MS), 0);
  int rc = corral_scope_exit(&s, corral_sleep(5 * SEC));
  CHECK_RC(rc, CORRAL_ETIMEDOUT);
  CHECK_EQ(NOW(), 1500 * MS);
  CHECK(strstr(corral_error_message(corral_last_error()), "fail_after"));
  /* Finishing in time reports success. */
  CHECK_RC(corral_fail_after(&s, 1 * SEC), 0);
  CHECK_RC(corral_scope_exit(&s, corral_sleep(999 * MS)), 0);
  return 0;
}
TEST(fail_after_reports_timed_out) { CHECK_RC(run_virtual(m_fail_after, NULL), 0); }

static int m_nested_outer_first(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_scope outer, inner;
  corral_fail_after(&outer, 1 * SEC);
  corral_fail_after(&inner, 2 * SEC);
  int rc = corral_sleep(5 * SEC);
  rc = corral_scope_exit(&inner, rc);
  CHECK_RC(rc, CORRAL_ECANCELED); /* not inner's deadline: passes through */
  CHECK(!corral_scope_timed_out(&inner));
  rc = corral_scope_exit(&outer, rc);
  CHECK_RC(rc, CORRAL_ETIMEDOUT); /* only the scope whose deadline fired */
  CHECK_EQ(NOW(), 1 * SEC);
  return 0;
}
TEST(nested_deadlines_outer_fires_first) {
  CHECK_RC(run_virtual(m_nested_outer_first, NULL), 0);
}

static int m_nested_inner_first(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_scope outer, inner;
  corral_fail_after(&outer, 3 * SEC);
  corral_fail_after(&inner, 1 * SEC);
  int rc = corral_scope_exit(&inner, corral_sleep(5 * SEC));
  CHECK_RC(rc, CORRAL_ETIMEDOUT);
  CHECK_EQ(NOW(), 1 * SEC);
  CHECK_RC(corral_sleep(1 * SEC), 0); /* outer still fine */
  CHECK_RC(corral_scope_exit(&outer, 0), 0);
  CHECK(!corral_scope_timed_out(&outer));
  return 0;
}
TEST(nested_deadlines_inner_fires_first) {
  CHECK_RC(run_virtual(m_nested_inner_first, NULL), 0);
}

static int m_past(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope s;
  CHECK_RC(corral_fail_at(&s, corral_now() - 1), 0);
  CHECK_RC(corral_checkpoint_cancel(), CORRAL_ECANCELED); /* at once */
  CHECK_RC(corral_scope_exit(&s, corral_yield()), CORRAL_ETIMEDOUT);
  CHECK_RC(corral_move_on_after(&s, 0), 0);
  CHECK_RC(corral_scope_exit(&s, corral_sleep(SEC)), 0);
  return 0;
}
TEST(deadline_already_in_the_past) { CHECK_RC(run_virtual(m_past, NULL), 0); }

static int m_shield(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_scope outer, sh;
  corral_move_on_after(&outer, 1 * SEC);
  CHECK_RC(corral_sleep(5 * SEC), CORRAL_ECANCELED);
  CHECK_RC(corral_shield(&sh, CORRAL_FOREVER), 0);
  CHECK_RC(corral_sleep(2 * SEC), 0); /* shielded from outer's cancel */
  CHECK_RC(corral_checkpoint_cancel(), 0);
  CHECK_RC(corral_scope_exit(&sh, 0), 0);
  CHECK_EQ(NOW(), 3 * SEC);
  CHECK_RC(corral_sleep(1), CORRAL_ECANCELED); /* level-triggered again */
  CHECK_RC(corral_scope_exit(&outer, CORRAL_ECANCELED), 0);
  return 0;
}
TEST(shield_blocks_outer_cancellation) { CHECK_RC(run_virtual(m_shield, NULL), 0); }

static int m_shield_timeout(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_scope outer, sh;
  corral_scope_enter(&outer, NULL);
  corral_scope_cancel(&outer, NULL);
  CHECK_RC(corral_shield(&sh, 1 * SEC), 0);
  int rc = corral_sleep(5 * SEC); /* bounded by the shield's own deadline */
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&sh, rc), 0);
  CHECK_EQ(NOW(), 1 * SEC);
  CHECK_RC(corral_scope_exit(&outer, CORRAL_ECANCELED), 0);
  return 0;
}
TEST(shield_with_own_timeout) { CHECK_RC(run_virtual(m_shield_timeout, NULL), 0); }

static corral_scope *victim_scope;
static int64_t victim_woke;
static int victim(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope s;
  corral_scope_enter(&s, &(corral_scope_opts){.name = "victim-scope"});
  victim_scope = &s;
  int rc = corral_sleep(10 * SEC);
  victim_woke = NOW();
  corral_cancel_reason r;
  CHECK_RC(corral_cancel_reason_get(&r), 0);
  CHECK_EQ(r.kind, CORRAL_CANCEL_EXPLICIT);
  CHECK_STR(r.scope, "victim-scope");
  CHECK_STR(r.task, "killer");
  CHECK_STR(r.message, "enough");
  victim_scope = NULL;
  return corral_scope_exit(&s, rc);
}
static int killer(void *arg, void **res) {
  (void)arg, (void)res;
  CORRAL_IGNORE(corral_sleep(2 * SEC));
  return corral_scope_cancel(victim_scope, "enough");
}
static int m_cross(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_group g;
  corral_group_open(&g, NULL);
  corral_spawn(&g, victim, NULL, "victim", NULL);
  corral_spawn(&g, killer, NULL, "killer", NULL);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(victim_woke, 2 * SEC);
  return 0;
}
TEST(cancel_scope_from_another_task) { CHECK_RC(run_virtual(m_cross, NULL), 0); }

static int sleepy(void *arg, void **res) {
  (void)res;
  corral_cancel_reason *r = arg;
  int rc = corral_sleep(10 * SEC);
  corral_cancel_reason_get(r);
  return rc;
}
static int m_reasons(void *arg, void **res) {
  (void)arg, (void)res;
  corral_cancel_reason r1, r2;
  corral_scope s;
  corral_fail_after(&s, 1 * SEC);
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.name = "kids"});
  corral_spawn(&g, sleepy, &r1, "kid", NULL);
  int rc = corral_group_close(&g, 0);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), CORRAL_ETIMEDOUT);
  CHECK_EQ(r1.kind, CORRAL_CANCEL_PARENT); /* inherited from main's scope */
  CHECK_EQ(r1.cause, CORRAL_CANCEL_DEADLINE);
  CHECK_STR(r1.task, "main");

  corral_task *t;
  corral_create_task(sleepy, &r2, "direct", &t);
  CORRAL_IGNORE(corral_yield());
  corral_cancel(t, "bye");
  CHECK_RC(corral_join(t, NULL), CORRAL_ECANCELED);
  CHECK_EQ(r2.kind, CORRAL_CANCEL_EXPLICIT);
  CHECK_STR(r2.message, "bye");
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_CANCELLED);
  CHECK_STR(treason(t).message, "bye");
  corral_task_release(t);
  return 0;
}
TEST(cancel_reasons_explicit_deadline_parent) {
  CHECK_RC(run_virtual(m_reasons, NULL), 0);
}

static int m_nesting(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope a, b;
  corral_scope_enter(&a, NULL);
  corral_scope_enter(&b, NULL);
  CHECK_RC(corral_scope_exit(&a, 0), CORRAL_ENESTING);
  CHECK_RC(corral_scope_exit(&b, 0), 0);
  CHECK_RC(corral_scope_exit(&b, 0), CORRAL_EINVAL); /* already exited */
  CHECK_RC(corral_scope_exit(&a, 0), 0);
  CHECK_RC(corral_scope_enter(NULL, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_scope_exit(NULL, 0), CORRAL_EINVAL);
  return 0;
}
TEST(scope_exit_out_of_order) { CHECK_RC(run_virtual(m_nesting, NULL), 0); }

static int m_set_deadline(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_scope s;
  corral_move_on_after(&s, 1 * SEC);
  corral_scope_set_deadline(&s, corral_now() + 3 * SEC); /* extend */
  int rc = corral_sleep(10 * SEC);
  CHECK_EQ(NOW(), 3 * SEC);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  corral_scope_enter(&s, NULL);
  corral_scope_set_deadline(&s, corral_now() + 1 * SEC); /* add one */
  CHECK_RC(corral_scope_exit(&s, corral_sleep(10 * SEC)), 0);
  CHECK_EQ(NOW(), 4 * SEC);
  return 0;
}
TEST(set_deadline_moves_it) { CHECK_RC(run_virtual(m_set_deadline, NULL), 0); }

static int ran_flag;
static int flagger(void *arg, void **res) {
  (void)arg, (void)res;
  ran_flag = 1;
  return 0;
}
static int m_before_start(void *arg, void **res) {
  (void)arg, (void)res;
  corral_task *t;
  corral_create_task(flagger, NULL, "never", &t);
  corral_cancel(t, "too early");
  CHECK_RC(corral_join(t, NULL), CORRAL_ECANCELED);
  CHECK_EQ(ran_flag, 0); /* cancelled before it ran: never ran, no stack */
  CHECK_STR(treason(t).message, "too early");
  corral_task_release(t);
  return 0;
}
TEST(cancelled_before_start_never_runs) {
  CHECK_RC(run_virtual(m_before_start, NULL), 0);
}

static int m_cancel_finished(void *arg, void **res) {
  (void)arg, (void)res;
  corral_task *t;
  corral_create_task(flagger, NULL, "quick", &t);
  CHECK_RC(corral_join(t, NULL), 0);
  CHECK_RC(corral_cancel(t, "late"), CORRAL_ESRCH); /* told, harmless */
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_OK);
  CHECK_RC(corral_cancel(NULL, NULL), CORRAL_EINVAL);
  corral_task_release(t);
  return 0;
}
TEST(cancel_after_finish_is_harmless) {
  CHECK_RC(run_virtual(m_cancel_finished, NULL), 0);
}

static int m_swallow(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope s;
  corral_scope_enter(&s, NULL);
  corral_scope_cancel(&s, NULL);
  int fails = 0;
  for (int i = 0; i < 100; i++) /* a retry loop cannot outrun it */
    if (corral_sleep(MS) == CORRAL_ECANCELED) fails++;
  CHECK_EQ(fails, 100);
  CORRAL_IGNORE(corral_scope_exit(&s, CORRAL_ECANCELED));
  return 0;
}
TEST(retry_loop_cannot_swallow_cancel) { CHECK_RC(run_virtual(m_swallow, NULL), 0); }

#include <signal.h>
static int raiser(void *arg, void **res) {
  (void)arg, (void)res;
  CORRAL_IGNORE(corral_sleep(SEC));
  raise(SIGUSR1);
  return 0;
}
static int m_signal(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_scope s;
  corral_scope_enter(&s, &(corral_scope_opts){.name = "until-usr1"});
  CHECK_RC(corral_scope_cancel_on_signal(&s, SIGUSR1), 0);
  CHECK_RC(corral_scope_cancel_on_signal(&s, SIGUSR2), CORRAL_EBUSY);
  corral_task *t;
  corral_create_task(raiser, NULL, "raiser", &t);
  int rc = corral_sleep(10 * SEC);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_EQ(NOW(), SEC);
  corral_cancel_reason r;
  CHECK_RC(corral_cancel_reason_get(&r), 0);
  CHECK_EQ(r.kind, CORRAL_CANCEL_SIGNAL);
  CHECK(strstr(r.message, "signal") != NULL);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  /* A group cancelled by a signal (as a CLI cancels on Ctrl-C). */
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.name = "workers"});
  CHECK_RC(corral_group_cancel_on_signal(&g, SIGUSR1), 0);
  corral_spawn(&g, raiser, NULL, "raiser", NULL);
  CHECK_RC(corral_sleep(10 * SEC), CORRAL_ECANCELED);
  CHECK_RC(corral_group_close(&g, CORRAL_ECANCELED), 0);
  /* close said 0 (the group's own cancel is no error): the program can
   * still tell that a signal stopped it (to exit with 128 + signal) */
  CHECK_EQ(corral_group_cancelled(&g), CORRAL_CANCEL_SIGNAL);
  CHECK_RC(corral_scope_cancel_on_signal(NULL, SIGUSR1), CORRAL_EINVAL);
  return 0;
}
TEST(cancel_on_signal) {
  signal(SIGUSR1, SIG_IGN); /* a stray delivery must not kill the test */
  CHECK_RC(run_virtual(m_signal, NULL), 0);
}
