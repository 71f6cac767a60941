/* Groups: FAIL_FAST, COLLECT, FIRST, QUORUM; aggregation; structure. */
#include "test.h"

typedef struct {
  int64_t sleep;  /* ns */
  int fail;       /* error code to return after sleeping, 0 = succeed */
  intptr_t value; /* result */
} job;

static int64_t T0;
#define NOW() (corral_now() - T0)

static int run_job(void *arg, void **res) {
  job *j = arg;
  int rc = corral_sleep(j->sleep);
  if (rc) return rc;
  if (j->fail) return corral_errorf(j->fail, "job failed after %lld ms",
                                     (long long)(j->sleep / MS));
  *res = (void *)j->value;
  return 0;
}

/* ---------------------------------------------------------------------- */

static int m_fail_fast(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job a = {5 * SEC, 0, 1}, b = {1 * SEC, CORRAL_EIO, 2}, c = {5 * SEC, 0, 3};
  corral_task *ta, *tb, *tc;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  corral_spawn(&g, run_job, &a, "A", &ta);
  corral_spawn(&g, run_job, &b, "B", &tb);
  corral_spawn(&g, run_job, &c, "C", &tc);
  int body = corral_sleep(10 * SEC); /* the body is woken by B's failure */
  CHECK_RC(body, CORRAL_ECANCELED);
  CHECK_EQ(NOW(), 1 * SEC);
  int rc = corral_group_close(&g, body);
  CHECK_RC(rc, CORRAL_EGROUP);
  CHECK_EQ(NOW(), 1 * SEC);
  const corral_error *e = corral_last_error();
  CHECK_RC(corral_error_code(e), CORRAL_EGROUP);
  CHECK_EQ(corral_error_count(e), 1);
  CHECK_STR(corral_error_task(corral_error_child(e, 0)), "B");
  CHECK_RC(corral_error_code(corral_error_child(e, 0)), CORRAL_EIO);
  CHECK_STR(corral_error_message(corral_error_child(e, 0)),
            "job failed after 1000 ms");
  CHECK_EQ(corral_task_status(ta), CORRAL_STATUS_CANCELLED);
  CHECK_EQ(treason(ta).kind, CORRAL_CANCEL_SIBLING_FAILED);
  CHECK_STR(treason(ta).task, "B");
  CHECK_EQ(corral_task_status(tc), CORRAL_STATUS_CANCELLED);
  CHECK_EQ(corral_task_status(tb), CORRAL_STATUS_ERROR);
  CHECK_EQ(corral_group_failed(&g), 1);
  corral_task_release(ta);
  corral_task_release(tb);
  corral_task_release(tc);
  return 0;
}
TEST(fail_fast_cancels_siblings_and_wakes_body) {
  CHECK_RC(run_virtual(m_fail_fast, NULL), 0);
}

static int m_simul(void *arg, void **res) {
  (void)arg, (void)res;
  job b = {1 * SEC, CORRAL_EIO, 0}, c = {1 * SEC, CORRAL_EPIPE, 0},
      d = {3 * SEC, 0, 0};
  corral_group g;
  corral_group_open(&g, NULL);
  corral_spawn(&g, run_job, &b, "B", NULL);
  corral_spawn(&g, run_job, &c, "C", NULL);
  corral_spawn(&g, run_job, &d, "D", NULL);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  const corral_error *e = corral_last_error();
  CHECK_EQ(corral_error_count(e), 2); /* both, in completion order */
  CHECK_STR(corral_error_task(corral_error_child(e, 0)), "B");
  CHECK_STR(corral_error_task(corral_error_child(e, 1)), "C");
  return 0;
}
TEST(simultaneous_errors_all_aggregated) {
  CHECK_RC(run_virtual(m_simul, NULL), 0);
}

static int m_body_err(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job a = {5 * SEC, 0, 0};
  corral_task *ta;
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.name = "work"});
  corral_spawn(&g, run_job, &a, "A", &ta);
  CORRAL_IGNORE(corral_sleep(2 * SEC));
  int body = corral_errorf(CORRAL_EINVAL, "body gave up");
  CHECK_RC(corral_group_close(&g, body), CORRAL_EGROUP);
  CHECK_EQ(NOW(), 2 * SEC);
  const corral_error *e = corral_last_error();
  CHECK_EQ(corral_error_count(e), 1);
  CHECK_STR(corral_error_message(corral_error_child(e, 0)), "body gave up");
  CHECK_STR(corral_error_task(corral_error_child(e, 0)), "main");
  CHECK_EQ(corral_task_status(ta), CORRAL_STATUS_CANCELLED);
  corral_task_release(ta);
  return 0;
}
TEST(body_error_fails_group_and_cancels_children) {
  CHECK_RC(run_virtual(m_body_err, NULL), 0);
}

static int m_body_last(void *arg, void **res) {
  (void)arg, (void)res;
  job a = {1 * SEC, CORRAL_EIO, 0}, b = {3 * SEC, CORRAL_EPIPE, 0};
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
  corral_spawn(&g, run_job, &a, "A", NULL);
  corral_spawn(&g, run_job, &b, "B", NULL);
  CORRAL_IGNORE(corral_sleep(2 * SEC));
  CHECK_RC(corral_group_close(&g, corral_errorf(CORRAL_ERANGE, "body")),
           CORRAL_EGROUP);
  const corral_error *e = corral_last_error();
  CHECK_EQ(corral_error_count(e), 3);
  CHECK_STR(corral_error_task(corral_error_child(e, 0)), "A");
  CHECK_STR(corral_error_task(corral_error_child(e, 1)), "B");
  CHECK_RC(corral_error_code(corral_error_child(e, 2)), CORRAL_ERANGE);
  return 0;
}
TEST(body_error_comes_last) { CHECK_RC(run_virtual(m_body_last, NULL), 0); }

static int inner_parent(void *arg, void **res) {
  (void)res;
  job *j = arg;
  corral_group g;
  corral_group_open(&g, NULL);
  corral_spawn(&g, run_job, &j[0], "kid1", NULL);
  corral_spawn(&g, run_job, &j[1], "kid2", NULL);
  int rc = corral_group_close(&g, 0);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_EQ(NOW(), 1 * SEC);
  return rc;
}

static int m_parent_cancel(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job kids[2] = {{5 * SEC, 0, 0}, {6 * SEC, 0, 0}};
  corral_task *p;
  corral_group g;
  corral_group_open(&g, NULL);
  corral_spawn(&g, inner_parent, kids, "parent", &p);
  CORRAL_IGNORE(corral_sleep(1 * SEC));
  corral_cancel(p, "operator said stop");
  CHECK_RC(corral_group_close(&g, 0), 0); /* cancellations are not errors */
  CHECK_EQ(corral_task_status(p), CORRAL_STATUS_CANCELLED);
  CHECK_EQ(treason(p).kind, CORRAL_CANCEL_EXPLICIT);
  CHECK_STR(treason(p).message, "operator said stop");
  corral_task_release(p);
  return 0;
}
TEST(parent_cancelled_while_children_run) {
  CHECK_RC(run_virtual(m_parent_cancel, NULL), 0);
}

static int64_t cleanup_done_at;
static int cleanup_child(void *arg, void **res) {
  (void)arg, (void)res;
  int rc = corral_sleep(10 * SEC);
  CHECK_RC(rc, CORRAL_ECANCELED);
  /* Unshielded waits fail at once... */
  CHECK_RC(corral_sleep(1 * SEC), CORRAL_ECANCELED);
  CHECK_RC(corral_yield(), CORRAL_ECANCELED);
  /* ...a shielded scope may still wait (bounded by its own timeout). */
  corral_scope sh;
  CHECK_RC(corral_shield(&sh, 5 * SEC), 0);
  CHECK_RC(corral_sleep(500 * MS), 0);
  CHECK_RC(corral_scope_exit(&sh, 0), 0);
  cleanup_done_at = NOW();
  CHECK_RC(corral_sleep(1), CORRAL_ECANCELED); /* still cancelled outside */
  return rc;
}

static int m_cleanup(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_group g;
  corral_group_open(&g, NULL);
  corral_task *t;
  corral_spawn(&g, cleanup_child, NULL, "polite", &t);
  CORRAL_IGNORE(corral_sleep(1 * SEC));
  corral_group_cancel(&g, "shutdown");
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(cleanup_done_at, 1500 * MS);
  CHECK_EQ(NOW(), 1500 * MS);
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_CANCELLED);
  corral_task_release(t);
  return 0;
}
TEST(cleanup_in_cancelled_child_shielded_waits) {
  CHECK_RC(run_virtual(m_cleanup, NULL), 0);
}

static int nested_mid(void *arg, void **res) {
  (void)res;
  job *j = arg;
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.name = "inner"});
  corral_spawn(&g, run_job, j, "leaf", NULL);
  return corral_group_close(&g, 0);
}

static int m_nested(void *arg, void **res) {
  (void)arg, (void)res;
  job leaf = {1 * SEC, CORRAL_ECONNREFUSED, 0}, other = {5 * SEC, 0, 0};
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.name = "outer"});
  corral_spawn(&g, nested_mid, &leaf, "mid", NULL);
  corral_spawn(&g, run_job, &other, "other", NULL);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  const corral_error *e = corral_last_error();
  CHECK_EQ(corral_error_count(e), 1);
  const corral_error *mid = corral_error_child(e, 0);
  CHECK_RC(corral_error_code(mid), CORRAL_EGROUP); /* nested aggregate */
  CHECK_STR(corral_error_task(mid), "mid");
  CHECK_EQ(corral_error_count(mid), 1);
  CHECK_STR(corral_error_task(corral_error_child(mid, 0)), "leaf");
  CHECK_RC(corral_error_code(corral_error_child(mid, 0)), CORRAL_ECONNREFUSED);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  corral_error_print(e, f);
  fclose(f);
  CHECK(strstr(buf, "  CORRAL_EGROUP in task 'mid'") != NULL);
  CHECK(strstr(buf, "    CORRAL_ECONNREFUSED in task 'leaf'") != NULL);
  free(buf);
  return 0;
}
TEST(nested_groups_errors_cross_levels) {
  CHECK_RC(run_virtual(m_nested, NULL), 0);
}

static corral_group *shared_g;
static int late_ran;
static int late(void *arg, void **res) {
  (void)arg, (void)res;
  CORRAL_IGNORE(corral_sleep(1 * SEC));
  late_ran = 1;
  return 0;
}
static int spawner(void *arg, void **res) {
  (void)arg, (void)res;
  CORRAL_IGNORE(corral_sleep(2 * SEC)); /* the body is already waiting at close */
  return corral_spawn(shared_g, late, NULL, "late", NULL);
}

static int m_spawn_at_close(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_group g;
  shared_g = &g;
  corral_group_open(&g, NULL);
  corral_spawn(&g, spawner, NULL, "spawner", NULL);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(late_ran, 1);
  CHECK_EQ(NOW(), 3 * SEC);
  CHECK_EQ(corral_group_succeeded(&g), 2);
  CHECK_RC(corral_spawn(&g, late, NULL, "too-late", NULL), CORRAL_ECLOSED);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_ECLOSED);
  return 0;
}
TEST(spawn_while_parent_waits_at_close) {
  CHECK_RC(run_virtual(m_spawn_at_close, NULL), 0);
}

static int never_runs_flag;
static int never(void *arg, void **res) {
  (void)arg, (void)res;
  never_runs_flag = 1;
  return 0;
}

static int m_refused(void *arg, void **res) {
  (void)arg, (void)res;
  job b = {1 * SEC, CORRAL_EIO, 0}, a = {5 * SEC, 0, 0};
  corral_group g;
  corral_group_open(&g, NULL);
  corral_spawn(&g, run_job, &b, "B", NULL);
  corral_spawn(&g, run_job, &a, "A", NULL);
  CHECK_RC(corral_sleep(2 * SEC), CORRAL_ECANCELED);
  corral_task *t = (corral_task *)&g;
  CHECK_RC(corral_spawn(&g, never, NULL, "x", &t), CORRAL_EFAILED);
  CHECK(t == NULL);
  CHECK_RC(corral_group_close(&g, CORRAL_ECANCELED), CORRAL_EGROUP);

  corral_group c;
  corral_group_open(&c, &(corral_group_opts){.policy = CORRAL_COLLECT});
  corral_group_cancel(&c, "no more");
  CHECK_RC(corral_spawn(&c, never, NULL, "x", NULL), CORRAL_ECANCELED);
  CHECK_RC(corral_group_close(&c, 0), 0);
  CHECK_RC(corral_spawn(&c, never, NULL, "x", NULL), CORRAL_ECLOSED);
  CHECK_EQ(never_runs_flag, 0);
  return 0;
}
TEST(spawn_into_failed_cancelled_closed_refused) {
  CHECK_RC(run_virtual(m_refused, NULL), 0);
}

static int m_collect(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[4] = {{1 * SEC, CORRAL_EIO, 0}, {2 * SEC, 0, 1},
              {3 * SEC, CORRAL_EPIPE, 0}, {4 * SEC, 0, 2}};
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
  for (int i = 0; i < 4; i++) corral_spawn(&g, run_job, &j[i], "w", NULL);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  CHECK_EQ(NOW(), 4 * SEC); /* failures did not cancel anybody */
  CHECK_EQ(corral_group_succeeded(&g), 2);
  CHECK_EQ(corral_group_failed(&g), 2);
  CHECK_EQ(corral_error_count(corral_last_error()), 2);
  return 0;
}
TEST(collect_keeps_siblings_and_every_error) {
  CHECK_RC(run_virtual(m_collect, NULL), 0);
}

static int m_first(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[3] = {{3 * SEC, 0, 1}, {1 * SEC, CORRAL_EIO, 2}, {2 * SEC, 0, 3}};
  corral_task *t[3];
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_FIRST});
  for (int i = 0; i < 3; i++) corral_spawn(&g, run_job, &j[i], "racer", &t[i]);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(NOW(), 2 * SEC);
  CHECK_EQ(corral_task_status(t[2]), CORRAL_STATUS_OK);
  CHECK_EQ((intptr_t)corral_task_result(t[2]), 3);
  CHECK_EQ(corral_task_status(t[0]), CORRAL_STATUS_CANCELLED);
  CHECK_EQ(treason(t[0]).kind, CORRAL_CANCEL_GROUP_DONE);
  CHECK_EQ(corral_task_status(t[1]), CORRAL_STATUS_ERROR);
  for (int i = 0; i < 3; i++) corral_task_release(t[i]);

  job f[2] = {{1 * SEC, CORRAL_EIO, 0}, {2 * SEC, CORRAL_EPIPE, 0}};
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_FIRST});
  for (int i = 0; i < 2; i++) corral_spawn(&g, run_job, &f[i], "loser", NULL);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  CHECK_EQ(corral_error_count(corral_last_error()), 2);
  return 0;
}
TEST(first_success_wins_and_all_fail) {
  CHECK_RC(run_virtual(m_first, NULL), 0);
}

static int m_quorum(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[4] = {{1 * SEC, 0, 1}, {2 * SEC, CORRAL_EIO, 0}, {3 * SEC, 0, 3},
              {9 * SEC, 0, 4}};
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_QUORUM,
                                             .quorum = 2});
  for (int i = 0; i < 4; i++) corral_spawn(&g, run_job, &j[i], "replica", NULL);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(NOW(), 3 * SEC);
  CHECK_EQ(corral_group_succeeded(&g), 2);

  job k[3] = {{1 * SEC, 0, 1}, {2 * SEC, CORRAL_EIO, 0},
              {3 * SEC, CORRAL_EIO, 0}};
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_QUORUM,
                                             .quorum = 2});
  for (int i = 0; i < 3; i++) corral_spawn(&g, run_job, &k[i], "replica", NULL);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  CHECK_EQ(corral_error_count(corral_last_error()), 2);

  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_QUORUM,
                                             .quorum = 3});
  corral_spawn(&g, run_job, &k[0], "only-one", NULL);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  CHECK(strstr(corral_error_message(corral_last_error()), "quorum not reached"));
  return 0;
}
TEST(quorum_reached_and_not) { CHECK_RC(run_virtual(m_quorum, NULL), 0); }

static int m_group_timeout(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[2] = {{1 * SEC, 0, 0}, {9 * SEC, 0, 0}};
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.timeout_ns = 2 * SEC});
  corral_spawn(&g, run_job, &j[0], "fast", NULL);
  corral_spawn(&g, run_job, &j[1], "slow", NULL);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_ETIMEDOUT);
  CHECK_EQ(NOW(), 2 * SEC);
  return 0;
}
TEST(group_timeout) { CHECK_RC(run_virtual(m_group_timeout, NULL), 0); }

static int m_create_task(void *arg, void **res) {
  (void)arg, (void)res;
  job bad = {1 * SEC, CORRAL_EIO, 0};
  corral_task *t;
  corral_create_task(run_job, &bad, "joined-bad", &t);
  CHECK_RC(corral_join(t, NULL), CORRAL_EIO);
  corral_task_release(t);
  return 0; /* the joined error was observed: the parent succeeds */
}

static int m_create_task_unobserved(void *arg, void **res) {
  (void)arg, (void)res;
  static job bad = {1 * SEC, CORRAL_EIO, 0}, slow = {2 * SEC, 0, 0};
  corral_create_task(run_job, &bad, "forgotten", NULL);
  corral_create_task(run_job, &slow, "slow", NULL);
  return 0; /* returns at once; the children are awaited */
}

static int m_create_wrapper(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_task *a, *b;
  corral_create_task(m_create_task, NULL, "observer", &a);
  corral_create_task(m_create_task_unobserved, NULL, "forgetful", &b);
  CHECK_RC(corral_join(a, NULL), 0);
  CHECK_RC(corral_join(b, NULL), CORRAL_EGROUP);
  CHECK_EQ(NOW(), 2 * SEC); /* forgetful ended only after its children */
  const corral_error *e = corral_last_error();
  CHECK_EQ(corral_error_count(e), 1);
  CHECK_STR(corral_error_task(corral_error_child(e, 0)), "forgotten");
  corral_task_release(a);
  corral_task_release(b);
  return 0;
}
TEST(create_task_children_awaited_and_unobserved_errors_fail_parent) {
  CHECK_RC(run_virtual(m_create_wrapper, NULL), 0);
}

static int m_nesting(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  corral_scope s;
  corral_group_open(&g, NULL);
  corral_scope_enter(&s, NULL);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_ENESTING);
  CHECK_RC(corral_scope_exit(&s, 0), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  return 0;
}
TEST(close_out_of_order_is_refused) { CHECK_RC(run_virtual(m_nesting, NULL), 0); }

static int reason_child(void *arg, void **res) {
  (void)res;
  corral_cancel_reason *r = arg;
  CHECK_RC(corral_cancel_reason_get(r), CORRAL_ENOENT);
  CHECK_RC(corral_sleep(5 * SEC), CORRAL_ECANCELED);
  CHECK_RC(corral_cancel_reason_get(r), 0);
  return CORRAL_ECANCELED;
}

static int m_reason(void *arg, void **res) {
  (void)arg, (void)res;
  corral_cancel_reason r;
  job b = {1 * SEC, CORRAL_EIO, 0};
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.name = "team"});
  corral_spawn(&g, reason_child, &r, "listener", NULL);
  corral_spawn(&g, run_job, &b, "breaker", NULL);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  CHECK_EQ(r.kind, CORRAL_CANCEL_SIBLING_FAILED);
  CHECK_STR(r.task, "breaker");
  CHECK_STR(r.scope, "team");
  CHECK_STR(r.message, "job failed after 1000 ms");
  return 0;
}
TEST(cancel_reason_names_failing_sibling) {
  CHECK_RC(run_virtual(m_reason, NULL), 0);
}

/* corral_group_cancelled: whether the group's own scope was cancelled, and
 * why; a cancellation from an enclosing scope is not the group's own. */
static int m_group_cancelled(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_EQ(corral_group_cancelled(NULL), CORRAL_CANCEL_NONE);
  job quick = {SEC, 0, 1}, slow = {5 * SEC, 0, 2}, bad = {SEC, CORRAL_EIO, 3};
  corral_group g;
  /* untouched */
  CHECK_RC(corral_group_open(&g, NULL), 0);
  corral_spawn(&g, run_job, &quick, "quick", NULL);
  CHECK_EQ(corral_group_cancelled(&g), CORRAL_CANCEL_NONE);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(corral_group_cancelled(&g), CORRAL_CANCEL_NONE);
  /* explicit */
  CHECK_RC(corral_group_open(&g, NULL), 0);
  corral_spawn(&g, run_job, &slow, "slow", NULL);
  CHECK_RC(corral_group_cancel(&g, "enough"), 0);
  CHECK_EQ(corral_group_cancelled(&g), CORRAL_CANCEL_EXPLICIT);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(corral_group_cancelled(&g), CORRAL_CANCEL_EXPLICIT);
  /* fail-fast */
  CHECK_RC(corral_group_open(&g, NULL), 0);
  corral_spawn(&g, run_job, &slow, "slow", NULL);
  corral_spawn(&g, run_job, &bad, "bad", NULL);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  CHECK_EQ(corral_group_cancelled(&g), CORRAL_CANCEL_SIBLING_FAILED);
  /* first success */
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_FIRST}), 0);
  corral_spawn(&g, run_job, &slow, "slow", NULL);
  corral_spawn(&g, run_job, &quick, "quick", NULL);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(corral_group_cancelled(&g), CORRAL_CANCEL_GROUP_DONE);
  /* its timeout */
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.timeout_ns = 2 * SEC}), 0);
  corral_spawn(&g, run_job, &slow, "slow", NULL);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_ETIMEDOUT);
  CHECK_EQ(corral_group_cancelled(&g), CORRAL_CANCEL_DEADLINE);
  /* an enclosing scope's cancellation is not the group's */
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, 2 * SEC), 0);
  CHECK_RC(corral_group_open(&g, NULL), 0);
  corral_spawn(&g, run_job, &slow, "slow", NULL);
  int rc = corral_group_close(&g, 0);
  CHECK_EQ(corral_group_cancelled(&g), CORRAL_CANCEL_NONE);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  return 0;
}
TEST(group_cancelled_says_why) { CHECK_RC(run_virtual(m_group_cancelled, NULL), 0); }
