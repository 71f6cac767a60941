/* gather / safe_gather, wait, wait_for, as_completed. */
#include "test.h"

typedef struct {
  int64_t sleep;
  int fail;
  intptr_t value;
} job;

static int64_t T0;
#define NOW() (corral_now() - T0)
static int running, max_running;

static int run_job(void *arg, void **res) {
  job *j = arg;
  running++;
  if (running > max_running) max_running = running;
  int rc = corral_sleep(j->sleep);
  running--;
  if (rc) return rc;
  if (j->fail) return corral_errorf(j->fail, "job %ld failed", (long)j->value);
  *res = (void *)j->value;
  return 0;
}

static void calls_of(corral_call *c, job *j, size_t n) {
  for (size_t i = 0; i < n; i++) c[i] = (corral_call){run_job, &j[i], "job"};
}

static int m_order(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[4] = {{3 * SEC, 0, 10}, {1 * SEC, 0, 11}, {2 * SEC, 0, 12},
              {500 * MS, 0, 13}};
  corral_call c[4];
  corral_outcome o[4];
  calls_of(c, j, 4);
  CHECK_RC(corral_gather(c, 4, o, NULL), 0);
  CHECK_EQ(NOW(), 3 * SEC);
  for (int i = 0; i < 4; i++) {
    CHECK_EQ(o[i].status, CORRAL_STATUS_OK);
    CHECK_EQ((intptr_t)o[i].result, 10 + i); /* input order */
  }
  corral_outcomes_clear(o, 4);
  return 0;
}
TEST(gather_results_in_input_order) { CHECK_RC(run_virtual(m_order, NULL), 0); }

static int m_all(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[3] = {{500 * MS, 0, 1}, {500 * MS, CORRAL_ECONNREFUSED, 2},
              {500 * MS, 0, 3}};
  corral_call c[3];
  corral_outcome o[3];
  calls_of(c, j, 3);
  CHECK_RC(corral_safe_gather(c, 3, o, 1, CORRAL_FOREVER), 0); /* return_exceptions */
  CHECK_EQ(o[0].status, CORRAL_STATUS_OK);
  CHECK_EQ(o[1].status, CORRAL_STATUS_ERROR);
  CHECK_RC(o[1].code, CORRAL_ECONNREFUSED);
  CHECK_STR(corral_error_message(o[1].error), "job 2 failed");
  CHECK_EQ(o[2].status, CORRAL_STATUS_OK);
  CHECK_EQ((intptr_t)o[2].result, 3);
  CHECK_EQ(NOW(), 500 * MS);
  corral_outcomes_clear(o, 3);
  CHECK(o[1].error == NULL);
  return 0;
}
TEST(gather_all_keeps_errors_as_values) { CHECK_RC(run_virtual(m_all, NULL), 0); }

static int m_fail_fast(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[4] = {{500 * MS, 0, 1}, {1 * SEC, CORRAL_EIO, 2}, {3 * SEC, 0, 3},
              {4 * SEC, 0, 4}};
  corral_call c[4];
  corral_outcome o[4];
  calls_of(c, j, 4);
  CHECK_RC(corral_safe_gather(c, 4, o, 0, CORRAL_FOREVER), CORRAL_EGROUP);
  CHECK_EQ(NOW(), 1 * SEC); /* fail fast, and nobody left running */
  CHECK_EQ(running, 0);
  CHECK_EQ(o[0].status, CORRAL_STATUS_OK); /* finished results kept */
  CHECK_EQ((intptr_t)o[0].result, 1);
  CHECK_EQ(o[1].status, CORRAL_STATUS_ERROR);
  CHECK_EQ(o[2].status, CORRAL_STATUS_CANCELLED);
  CHECK_EQ(o[3].status, CORRAL_STATUS_CANCELLED);
  CHECK_EQ(o[3].reason.kind, CORRAL_CANCEL_SIBLING_FAILED);
  CHECK_EQ(corral_error_count(corral_last_error()), 1);
  corral_outcomes_clear(o, 4);
  return 0;
}
TEST(safe_gather_fails_fast_keeps_finished) {
  CHECK_RC(run_virtual(m_fail_fast, NULL), 0);
}

static int m_timeout(void *arg, void **res) {
  (void)arg, (void)res;
  job j[3] = {{1 * SEC, 0, 1}, {3 * SEC, 0, 2}, {2 * SEC, CORRAL_EIO, 3}};
  corral_call c[3];
  corral_outcome o[3];
  calls_of(c, j, 3);
  for (int re = 0; re <= 1; re++) {
    T0 = corral_now();
    int rc = corral_safe_gather(c, 3, o, re, (int64_t)1500 * MS);
    CHECK_RC(rc, CORRAL_ETIMEDOUT);
    CHECK_EQ(NOW(), 1500 * MS);
    CHECK_EQ(o[0].status, CORRAL_STATUS_OK);
    CHECK_EQ(o[1].status, CORRAL_STATUS_TIMED_OUT);
    CHECK_RC(o[1].code, CORRAL_ETIMEDOUT);
    CHECK_EQ(o[2].status, CORRAL_STATUS_TIMED_OUT);
    corral_outcomes_clear(o, 3);
  }
  return 0;
}
TEST(gather_timeout_partial_results) { CHECK_RC(run_virtual(m_timeout, NULL), 0); }

static int m_outside(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[2] = {{500 * MS, 0, 1}, {3 * SEC, 0, 2}};
  corral_call c[2];
  corral_outcome o[2];
  calls_of(c, j, 2);
  corral_scope s;
  corral_move_on_after(&s, 1 * SEC);
  int rc = corral_gather(c, 2, o, &(corral_gather_opts){.policy = CORRAL_GATHER_ALL});
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK_EQ(NOW(), 1 * SEC);
  CHECK_EQ(o[0].status, CORRAL_STATUS_OK);
  CHECK_EQ(o[1].status, CORRAL_STATUS_CANCELLED);
  CHECK_EQ(o[1].reason.kind, CORRAL_CANCEL_PARENT);
  CHECK_EQ(o[1].reason.cause, CORRAL_CANCEL_DEADLINE);
  corral_outcomes_clear(o, 2);
  return 0;
}
TEST(gather_cancelled_from_outside) { CHECK_RC(run_virtual(m_outside, NULL), 0); }

static int m_zero(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_gather(NULL, 0, NULL, NULL), 0);
  CHECK_RC(corral_safe_gather(NULL, 0, NULL, 0, SEC), 0);
  corral_outcome o;
  CHECK_RC(corral_gather(NULL, 1, &o, NULL), CORRAL_EINVAL);
  corral_call bad = {NULL, NULL, "nofn"};
  CHECK_RC(corral_gather(&bad, 1, &o, NULL), CORRAL_EINVAL);
  job j = {0, 0, 0};
  corral_call one = {run_job, &j, "one"};
  CHECK_RC(corral_gather(&one, 1, &o, &(corral_gather_opts){.policy = 77}),
           CORRAL_EINVAL);
  CHECK_RC(corral_gather(&one, 1, &o, &(corral_gather_opts){
                                          .policy = CORRAL_GATHER_QUORUM,
                                          .quorum = 2}),
           CORRAL_EINVAL);
  return 0;
}
TEST(gather_zero_and_bad_input) { CHECK_RC(run_virtual(m_zero, NULL), 0); }

static int m_limit(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[10];
  for (int i = 0; i < 10; i++) j[i] = (job){1 * SEC, 0, i};
  corral_call c[10];
  corral_outcome o[10];
  calls_of(c, j, 10);
  max_running = 0;
  CHECK_RC(corral_gather(c, 10, o, &(corral_gather_opts){.limit = 3}), 0);
  CHECK_EQ(max_running, 3);
  CHECK_EQ(NOW(), 4 * SEC); /* ceil(10 / 3) rounds */
  for (int i = 0; i < 10; i++) CHECK_EQ((intptr_t)o[i].result, i);
  corral_outcomes_clear(o, 10);
  return 0;
}
TEST(gather_limit_bounds_concurrency) { CHECK_RC(run_virtual(m_limit, NULL), 0); }

static int m_limit_fail(void *arg, void **res) {
  (void)arg, (void)res;
  job j[6];
  for (int i = 0; i < 6; i++) j[i] = (job){1 * SEC, i == 1 ? CORRAL_EIO : 0, i};
  corral_call c[6];
  corral_outcome o[6];
  calls_of(c, j, 6);
  CHECK_RC(corral_gather(c, 6, o, &(corral_gather_opts){.limit = 2}),
           CORRAL_EGROUP);
  CHECK_EQ(o[0].status, CORRAL_STATUS_OK);
  CHECK_EQ(o[1].status, CORRAL_STATUS_ERROR);
  for (int i = 2; i < 6; i++) CHECK_EQ(o[i].status, CORRAL_STATUS_NOT_STARTED);
  corral_outcomes_clear(o, 6);

  /* A timeout while tasks are queued: queued ones never start. */
  T0 = corral_now();
  for (int i = 0; i < 6; i++) j[i].fail = 0;
  CHECK_RC(corral_gather(c, 6, o, &(corral_gather_opts){
                                      .policy = CORRAL_GATHER_ALL,
                                      .limit = 2,
                                      .timeout_ns = 1500 * MS}),
           CORRAL_ETIMEDOUT);
  CHECK_EQ(NOW(), 1500 * MS);
  CHECK_EQ(o[0].status, CORRAL_STATUS_OK);
  CHECK_EQ(o[1].status, CORRAL_STATUS_OK);
  CHECK_EQ(o[2].status, CORRAL_STATUS_TIMED_OUT);
  CHECK_EQ(o[3].status, CORRAL_STATUS_TIMED_OUT);
  CHECK_EQ(o[4].status, CORRAL_STATUS_NOT_STARTED);
  CHECK_EQ(o[5].status, CORRAL_STATUS_NOT_STARTED);
  corral_outcomes_clear(o, 6);
  return 0;
}
TEST(gather_limit_not_started) { CHECK_RC(run_virtual(m_limit_fail, NULL), 0); }

static int m_first_quorum(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[3] = {{3 * SEC, 0, 1}, {1 * SEC, 0, 2}, {2 * SEC, 0, 3}};
  corral_call c[3];
  corral_outcome o[3];
  calls_of(c, j, 3);
  CHECK_RC(corral_gather(c, 3, o, &(corral_gather_opts){.policy = CORRAL_GATHER_FIRST}), 0);
  CHECK_EQ(NOW(), 1 * SEC);
  CHECK_EQ(o[1].status, CORRAL_STATUS_OK);
  CHECK_EQ(o[0].status, CORRAL_STATUS_CANCELLED);
  CHECK_EQ(o[2].status, CORRAL_STATUS_CANCELLED);
  corral_outcomes_clear(o, 3);
  T0 = corral_now();
  CHECK_RC(corral_gather(c, 3, o, &(corral_gather_opts){
                                      .policy = CORRAL_GATHER_QUORUM,
                                      .quorum = 2}),
           0);
  CHECK_EQ(NOW(), 2 * SEC);
  CHECK_EQ(o[0].status, CORRAL_STATUS_CANCELLED);
  corral_outcomes_clear(o, 3);
  return 0;
}
TEST(gather_first_and_quorum) { CHECK_RC(run_virtual(m_first_quorum, NULL), 0); }

/* ---- wait ---- */

static int m_wait_modes(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[3] = {{1 * SEC, 0, 1}, {2 * SEC, CORRAL_EIO, 2}, {3 * SEC, 0, 3}};
  corral_task *t[3];
  for (int i = 0; i < 3; i++) corral_create_task(run_job, &j[i], "w", &t[i]);
  size_t done;
  CHECK_RC(corral_wait(t, 3, CORRAL_FIRST_COMPLETED, CORRAL_FOREVER, &done), 0);
  CHECK_EQ(NOW(), 1 * SEC);
  CHECK_EQ(done, 1);
  CHECK_RC(corral_wait(t, 3, CORRAL_FIRST_EXCEPTION, CORRAL_FOREVER, &done), 0);
  CHECK_EQ(NOW(), 2 * SEC);
  CHECK_EQ(done, 2);
  CHECK(!corral_task_done(t[2])); /* wait observes, never cancels */
  CHECK_RC(corral_wait(t, 3, CORRAL_ALL_COMPLETED, CORRAL_FOREVER, &done), 0);
  CHECK_EQ(NOW(), 3 * SEC);
  CHECK_EQ(done, 3);
  CHECK_EQ(corral_task_status(t[2]), CORRAL_STATUS_OK);
  CHECK_RC(corral_join(t[1], NULL), CORRAL_EIO); /* observed: parent is OK */
  for (int i = 0; i < 3; i++) corral_task_release(t[i]);
  return 0;
}
TEST(wait_three_modes) { CHECK_RC(run_virtual(m_wait_modes, NULL), 0); }

static int m_wait_timeout(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[2] = {{1 * SEC, 0, 1}, {5 * SEC, 0, 2}};
  corral_task *t[2];
  for (int i = 0; i < 2; i++) corral_create_task(run_job, &j[i], "w", &t[i]);
  size_t done;
  CHECK_RC(corral_wait(t, 2, CORRAL_ALL_COMPLETED, 2 * SEC, &done),
           CORRAL_ETIMEDOUT);
  CHECK_EQ(NOW(), 2 * SEC);
  CHECK_EQ(done, 1);
  CHECK_RC(corral_wait(t, 2, CORRAL_ALL_COMPLETED, 0, &done), CORRAL_ETIMEDOUT);
  CHECK_RC(corral_join(t[1], NULL), 0); /* not cancelled: finishes */
  CHECK_EQ(NOW(), 5 * SEC);
  CHECK_RC(corral_wait(t, 2, 0, CORRAL_FOREVER, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_wait(NULL, 2, CORRAL_ALL_COMPLETED, CORRAL_FOREVER, NULL),
           CORRAL_EINVAL);
  for (int i = 0; i < 2; i++) corral_task_release(t[i]);
  return 0;
}
TEST(wait_timeout_observes_only) { CHECK_RC(run_virtual(m_wait_timeout, NULL), 0); }

static int m_wait_for(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job slow = {5 * SEC, 0, 1}, quick = {1 * SEC, 0, 2}, tie = {2 * SEC, 0, 3};
  corral_task *t;
  void *r = NULL;
  corral_create_task(run_job, &slow, "slow", &t);
  CHECK_RC(corral_wait_for(t, 2 * SEC, &r), CORRAL_ETIMEDOUT);
  CHECK_EQ(NOW(), 2 * SEC);
  CHECK(corral_task_done(t)); /* cancelled and waited for */
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_TIMED_OUT);
  CHECK_RC(corral_task_code(t), CORRAL_ETIMEDOUT);
  CHECK_EQ(treason(t).kind, CORRAL_CANCEL_DEADLINE);
  CHECK_RC(corral_wait_for(t, SEC, &r), CORRAL_EJOINED);
  corral_task_release(t);

  corral_create_task(run_job, &quick, "quick", &t);
  CHECK_RC(corral_wait_for(t, 2 * SEC, &r), 0);
  CHECK_EQ((intptr_t)r, 2);
  CHECK_EQ(NOW(), 3 * SEC);
  corral_task_release(t);

  /* The result arrives at the deadline's very instant: the result wins. */
  corral_create_task(run_job, &tie, "tie", &t);
  CHECK_RC(corral_wait_for(t, 2 * SEC, &r), 0);
  CHECK_EQ((intptr_t)r, 3);
  CHECK_EQ(NOW(), 5 * SEC);
  corral_task_release(t);
  return 0;
}
TEST(wait_for_timeout_success_and_tie) { CHECK_RC(run_virtual(m_wait_for, NULL), 0); }

static int m_as_completed(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  job j[4] = {{3 * SEC, 0, 0}, {1 * SEC, 0, 1}, {2 * SEC, 0, 2}, {9 * SEC, 0, 3}};
  corral_task *t[4];
  for (int i = 0; i < 4; i++) corral_create_task(run_job, &j[i], "ac", &t[i]);
  corral_as_completed it;
  CHECK_RC(corral_as_completed_init(&it, t, 4, 5 * SEC), 0);
  int want[] = {1, 2, 0};
  for (int k = 0; k < 3; k++) {
    corral_task *d;
    CHECK_RC(corral_as_completed_next(&it, &d), 0);
    CHECK(d == t[want[k]]);
    CHECK_EQ(NOW(), (want[k] + 1 == 1 ? 3 : want[k]) * SEC);
  }
  corral_task *d;
  CHECK_RC(corral_as_completed_next(&it, &d), CORRAL_ETIMEDOUT);
  CHECK_EQ(NOW(), 5 * SEC);
  corral_as_completed_free(&it);
  corral_cancel(t[3], "enough");
  CHECK_RC(corral_as_completed_init(&it, t, 3, CORRAL_FOREVER), 0);
  for (int k = 0; k < 3; k++) CHECK_RC(corral_as_completed_next(&it, &d), 0);
  CHECK_RC(corral_as_completed_next(&it, &d), CORRAL_EEOF);
  corral_as_completed_free(&it);
  for (int i = 0; i < 4; i++) corral_task_release(t[i]);
  return 0;
}
TEST(as_completed_yields_in_completion_order) {
  CHECK_RC(run_virtual(m_as_completed, NULL), 0);
}
