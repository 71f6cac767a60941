/* The contract's sharp edges: nested cancelled scopes, one rule for how a
 * group ends under every policy, waking is an edge, the time rule, codes
 * that tell the caller what happened. Every case runs on the virtual clock,
 * in FIFO order and under several shuffle seeds. */
#include "test.h"

static int64_t T0;
#define NOW() (corral_now() - T0)

/* Run fn as the main task on the virtual clock, FIFO and shuffled. */
static const uint64_t seeds[] = {0, 1, 7, 12345, 0xdeadbeef};
#define NSEEDS (sizeof seeds / sizeof *seeds)
static void run_modes(corral_fn fn, void *arg) {
  run_seeds(fn, arg, seeds, sizeof seeds / sizeof *seeds);
}

/* ---- nested cancelled scopes: only the outermost converts ---- */

static int m_nested_cancelled(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope outer, inner;
  /* Both cancelled explicitly: the inner passes the code through. */
  CHECK_RC(corral_move_on_after(&outer, CORRAL_FOREVER), 0);
  CHECK_RC(corral_move_on_after(&inner, CORRAL_FOREVER), 0);
  corral_scope_cancel(&inner, "inner");
  corral_scope_cancel(&outer, "outer");
  int rc = corral_sleep(CORRAL_SEC(1));
  CHECK_RC(rc, CORRAL_ECANCELED);
  rc = corral_scope_exit(&inner, rc);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK(!corral_scope_caught(&inner));
  rc = corral_scope_exit(&outer, rc);
  CHECK_RC(rc, 0);
  CHECK(corral_scope_caught(&outer));

  /* Inner fail-after whose deadline fired, outer cancelled too: the inner
   * does not turn it into a timeout; the outer move-on swallows it. */
  T0 = corral_now();
  CHECK_RC(corral_move_on_after(&outer, CORRAL_SEC(2)), 0);
  CHECK_RC(corral_fail_after(&inner, CORRAL_SEC(1)), 0);
  rc = corral_sleep(CORRAL_SEC(1)); /* inner fires at 1 s */
  CHECK_RC(rc, CORRAL_ECANCELED);
  corral_scope_cancel(&outer, "outer too");
  rc = corral_scope_exit(&inner, rc);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK(corral_scope_timed_out(&inner));
  CHECK_RC(corral_scope_exit(&outer, rc), 0);

  /* Outer fail-after fired, inner move-on cancelled: the outer reports
   * the timeout, the inner passes through. */
  CHECK_RC(corral_fail_after(&outer, CORRAL_SEC(1)), 0);
  CHECK_RC(corral_move_on_after(&inner, CORRAL_FOREVER), 0);
  rc = corral_sleep(CORRAL_SEC(5));
  corral_scope_cancel(&inner, "inner after the outer deadline");
  rc = corral_scope_exit(&inner, rc);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&outer, rc), CORRAL_ETIMEDOUT);

  /* A shield stops the outer cancellation: the shield's own deadline is
   * the outermost one that reaches inside, so it converts. */
  CHECK_RC(corral_move_on_after(&outer, CORRAL_FOREVER), 0);
  corral_scope_cancel(&outer, "outer");
  CHECK_RC(corral_shield(&inner, CORRAL_MS(10)), 0);
  rc = corral_sleep(CORRAL_SEC(1));
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&inner, rc), 0);
  CHECK(corral_scope_caught(&inner));
  CHECK_RC(corral_scope_exit(&outer, corral_checkpoint_cancel()), 0);
  return 0;
}
TEST(nested_cancelled_scopes_only_outermost_converts) {
  run_modes(m_nested_cancelled, NULL);
}

/* Groups follow the same rule: a group's own deadline does not turn an
 * enclosing cancellation into a timeout. */
static int sleeper(void *arg, void **res) {
  (void)res;
  return corral_sleep(*(int64_t *)arg);
}
static int m_group_nested(void *arg, void **res) {
  (void)arg, (void)res;
  static int64_t five = CORRAL_SEC(5);
  corral_scope outer;
  corral_group g;
  CHECK_RC(corral_move_on_after(&outer, CORRAL_SEC(1)), 0);
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.timeout_ns =
                                                          CORRAL_SEC(1)}),
           0);
  CHECK_RC(corral_spawn(&g, sleeper, &five, "s", NULL), 0);
  int rc = corral_group_close(&g, corral_sleep(CORRAL_SEC(5)));
  CHECK_RC(rc, CORRAL_ECANCELED); /* both fired at 1 s: the outer wins */
  CHECK_RC(corral_scope_exit(&outer, rc), 0);
  return 0;
}
TEST(group_deadline_with_enclosing_cancel_passes_cancel) {
  run_modes(m_group_nested, NULL);
}

/* ---- policies x endings: one table, one rule ---- */

typedef struct {
  int64_t delay;  /* sleep this long */
  int rc;         /* then return this */
  int cleanup_rc; /* if cancelled while sleeping: return this (0: cancel) */
} kid;

static int kid_fn(void *arg, void **res) {
  (void)res;
  const kid *k = arg;
  int rc = corral_sleep(k->delay);
  if (rc == CORRAL_ECANCELED && k->cleanup_rc)
    return corral_errorf(k->cleanup_rc, "failed while cleaning up");
  if (rc) return rc;
  return k->rc ? corral_errorf(k->rc, "child failed") : 0;
}

#define S(n) CORRAL_SEC(n)
#define EG CORRAL_EGROUP
#define TO CORRAL_ETIMEDOUT
#define CA CORRAL_ECANCELED
#define EIO_ CORRAL_EIO

typedef struct {
  const char *name;
  int64_t group_timeout; /* 0: none */
  int64_t outer_after;   /* enclosing move_on_after; 0: none */
  int body_rc;           /* what the body passes to close */
  kid k[3];
  int want[4];           /* FAIL_FAST, COLLECT, FIRST, QUORUM(2) */
  size_t nerr[4];        /* errors in the aggregate when EGROUP */
  corral_status kid_status; /* PENDING: not checked */
} ending;

static const ending endings[] = {
    {"all succeed", 0, 0, 0, {{S(1), 0, 0}, {S(2), 0, 0}, {S(3), 0, 0}},
     {0, 0, 0, 0}, {0, 0, 0, 0}, CORRAL_STATUS_PENDING},
    {"a child fails", 0, 0, 0,
     {{S(1), EIO_, 0}, {S(2), 0, 0}, {S(3), 0, 0}},
     {EG, EG, 0, 0}, {1, 1, 0, 0}, CORRAL_STATUS_PENDING},
    {"the body fails", 0, 0, EIO_, {{S(5), 0, 0}, {S(5), 0, 0}, {S(5), 0, 0}},
     {EG, EG, EG, EG}, {1, 1, 1, 1}, CORRAL_STATUS_PENDING},
    {"the group's deadline", S(1), 0, 0,
     {{S(5), 0, 0}, {S(5), 0, 0}, {S(5), 0, 0}},
     {TO, TO, TO, TO}, {0, 0, 0, 0}, CORRAL_STATUS_TIMED_OUT},
    {"the group's deadline after a child failed", S(2), 0, 0,
     {{S(1), EIO_, 0}, {S(5), 0, 0}, {S(5), 0, 0}},
     {EG, EG, EG, EG}, {1, 1, 1, 1}, CORRAL_STATUS_PENDING},
    {"an enclosing cancel", 0, S(1), 0,
     {{S(5), 0, 0}, {S(5), 0, 0}, {S(5), 0, 0}},
     {CA, CA, CA, CA}, {0, 0, 0, 0}, CORRAL_STATUS_CANCELLED},
    {"an enclosing cancel after a child failed", 0, S(2), 0,
     {{S(1), EIO_, 0}, {S(5), 0, 0}, {S(5), 0, 0}},
     {EG, EG, EG, EG}, {1, 1, 1, 1}, CORRAL_STATUS_PENDING},
    {"a failure while the group's deadline cancels", S(1), 0, 0,
     {{S(5), 0, EIO_}, {S(5), 0, 0}, {S(5), 0, 0}},
     {EG, EG, EG, EG}, {1, 1, 1, 1}, CORRAL_STATUS_PENDING},
    {"a failure while an enclosing cancel unwinds", 0, S(1), 0,
     {{S(5), 0, EIO_}, {S(5), 0, 0}, {S(5), 0, 0}},
     {EG, EG, EG, EG}, {1, 1, 1, 1}, CORRAL_STATUS_PENDING},
    {"both deadlines at once, a child failing in cleanup", S(1), S(1), 0,
     {{S(5), 0, EIO_}, {S(5), 0, 0}, {S(5), 0, 0}},
     {EG, EG, EG, EG}, {1, 1, 1, 1}, CORRAL_STATUS_PENDING},
    {"a loser fails in cleanup after the quorum", 0, 0, 0,
     {{S(1), 0, 0}, {S(1), 0, 0}, {S(5), 0, EIO_}},
     {0, 0, 0, 0}, {0, 0, 0, 0}, CORRAL_STATUS_PENDING},
};
#define NENDINGS (sizeof endings / sizeof *endings)

typedef struct {
  const ending *e;
  int pol;
} cell;

static int m_cell(void *arg, void **res) {
  (void)res;
  const cell *c = arg;
  const ending *e = c->e;
  static const corral_policy pols[4] = {CORRAL_FAIL_FAST, CORRAL_COLLECT,
                                        CORRAL_FIRST, CORRAL_QUORUM};
  corral_scope outer;
  if (e->outer_after) CHECK_RC(corral_move_on_after(&outer, e->outer_after), 0);
  corral_group g;
  corral_group_opts go = {.policy = pols[c->pol], .quorum = 2,
                          .timeout_ns = e->group_timeout, .name = "g"};
  CHECK_RC(corral_group_open(&g, &go), 0);
  corral_task *t[3];
  for (int i = 0; i < 3; i++)
    CHECK_RC(corral_spawn(&g, kid_fn, (void *)&e->k[i], "kid", &t[i]), 0);
  int rc = corral_group_close(&g, e->body_rc);
  if (rc != e->want[c->pol])
    FAILF("%s, policy %d: close returned %s, want %s", e->name, c->pol,
          corral_err_name(rc), corral_err_name(e->want[c->pol]));
  if (rc == CORRAL_EGROUP) {
    const corral_error *agg = corral_last_error();
    CHECK(agg != NULL);
    CHECK_RC(corral_error_code(agg), CORRAL_EGROUP);
    if (corral_error_count(agg) != e->nerr[c->pol])
      FAILF("%s, policy %d: %zu errors in the aggregate, want %zu", e->name,
            c->pol, corral_error_count(agg), e->nerr[c->pol]);
  }
  if (e->kid_status != CORRAL_STATUS_PENDING)
    for (int i = 0; i < 3; i++)
      if (corral_task_status(t[i]) != e->kid_status)
        FAILF("%s, policy %d: child %d ended %s, want %s", e->name, c->pol,
              i, corral_status_name(corral_task_status(t[i])),
              corral_status_name(e->kid_status));
  for (int i = 0; i < 3; i++) corral_task_release(t[i]);
  if (e->outer_after) {
    int orc = corral_scope_exit(&outer, rc);
    /* The enclosing move-on swallows only its own cancellation. */
    CHECK_RC(orc, rc == CORRAL_ECANCELED ? 0 : rc);
  }
  return 0;
}

TEST(policies_x_endings_one_rule) {
  for (size_t i = 0; i < NENDINGS; i++)
    for (int p = 0; p < 4; p++) {
      cell c = {&endings[i], p};
      run_modes(m_cell, &c);
    }
}

/* ---- waking is an edge ---- */

static corral_event ev;
static int woke;
static int ev_waiter(void *arg, void **res) {
  (void)arg, (void)res;
  int rc = corral_event_wait(&ev);
  if (rc == 0) woke++;
  return rc;
}
static int m_event_edge(void *arg, void **res) {
  (void)arg, (void)res;
  corral_event_init(&ev);
  woke = 0;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < 3; i++)
    CHECK_RC(corral_spawn(&g, ev_waiter, NULL, "waiter", NULL), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0); /* all three are waiting */
  corral_event_set(&ev);
  corral_event_clear(&ev); /* without yielding in between */
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(woke, 3);
  return 0;
}
TEST(event_set_then_clear_wakes_every_waiter) { run_modes(m_event_edge, NULL); }

/* Joining is the other many-waiter wake-up: every joiner returns. */
static corral_task *joined_task;
static int joiner(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK(corral_wait(&joined_task, 1, CORRAL_ALL_COMPLETED, CORRAL_FOREVER,
                    NULL) == 0);
  woke++;
  return 0;
}
static int m_join_edge(void *arg, void **res) {
  (void)arg, (void)res;
  static int64_t d = CORRAL_MS(5);
  woke = 0;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, sleeper, &d, "target", &joined_task), 0);
  for (int i = 0; i < 3; i++)
    CHECK_RC(corral_spawn(&g, joiner, NULL, "joiner", NULL), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(woke, 3);
  corral_task_release(joined_task);
  return 0;
}
TEST(task_end_wakes_every_waiter) { run_modes(m_join_edge, NULL); }

/* ---- wait_for(t, 0), cancel of a finished task, wait on nothing ---- */

static int ran;
static int mark_ran(void *arg, void **res) {
  (void)arg, (void)res;
  ran = 1;
  return 0;
}
static int m_wait_for_zero(void *arg, void **res) {
  (void)arg, (void)res;
  ran = 0;
  corral_task *t;
  CHECK_RC(corral_create_task(mark_ran, NULL, "never", &t), 0);
  CHECK_RC(corral_wait_for(t, 0, NULL), CORRAL_ETIMEDOUT);
  CHECK_EQ(ran, 0); /* cancelled before it ever ran */
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_TIMED_OUT);
  corral_task_release(t);
  /* A negative timeout is expired too; a finished task still wins. */
  CHECK_RC(corral_create_task(mark_ran, NULL, "runs", &t), 0);
  CHECK_RC(corral_wait(&t, 1, CORRAL_ALL_COMPLETED, CORRAL_FOREVER, NULL), 0);
  CHECK(corral_task_done(t));
  CHECK_RC(corral_wait_for(t, -5, NULL), 0);
  corral_task_release(t);
  return 0;
}
TEST(wait_for_zero_cancels_a_task_not_started) {
  run_modes(m_wait_for_zero, NULL);
}

static int m_codes(void *arg, void **res) {
  (void)arg, (void)res;
  corral_task *t;
  CHECK_RC(corral_create_task(mark_ran, NULL, "quick", &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  CHECK_RC(corral_cancel(t, "too late"), CORRAL_ESRCH);
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_OK); /* unchanged */
  corral_task *none[1] = {t};
  CHECK_RC(corral_wait(none, 0, CORRAL_ALL_COMPLETED, CORRAL_FOREVER, NULL),
           CORRAL_EINVAL);
  CHECK_RC(corral_wait(NULL, 0, CORRAL_FIRST_COMPLETED, 0, NULL),
           CORRAL_EINVAL);
  corral_task_release(t);
  return 0;
}
TEST(cancel_finished_task_and_wait_on_nothing) { run_modes(m_codes, NULL); }

/* ---- deadlines on time on the real clock, even for a yield loop ---- */

#include <time.h>
static int64_t real_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static void busy(int64_t ns) {
  int64_t end = real_ns() + ns;
  while (real_ns() < end) {
  }
}

static int busy_yielder(void *arg, void **res) {
  (void)res;
  int *iters = arg;
  for (;;) {
    busy(CORRAL_MS(1));
    ++*iters;
    if (corral_yield() == CORRAL_ECANCELED) return CORRAL_ECANCELED;
    if (*iters > 10000) return CORRAL_EIO;
  }
}

static int m_yield_deadline(void *arg, void **res) {
  (void)res;
  int how = *(int *)arg;
  int iters[2] = {0, 0};
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, CORRAL_MS(10)), 0);
  int rc;
  if (how == 0) { /* alone: every yield comes straight back */
    rc = busy_yielder(&iters[0], NULL);
  } else if (how == 1) { /* two tasks ping-pong without the scheduler */
    corral_group g;
    CHECK_RC(corral_group_open(&g, NULL), 0);
    CHECK_RC(corral_spawn(&g, busy_yielder, &iters[1], "other", NULL), 0);
    rc = corral_group_close(&g, busy_yielder(&iters[0], NULL));
  } else if (how == 2) { /* only a cancel check, no switch at all */
    while ((rc = corral_checkpoint_cancel()) == 0 && iters[0] < 10000) {
      busy(CORRAL_MS(1));
      iters[0]++;
    }
  } else { /* a blocking call that need not block: no switch either */
    static corral_event set;
    corral_event_init(&set);
    corral_event_set(&set);
    while ((rc = corral_event_wait(&set)) == 0 && iters[0] < 10000) {
      busy(CORRAL_MS(1));
      iters[0]++;
    }
  }
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK(corral_scope_timed_out(&s));
  /* 10 ms of 1 ms steps: before the watchdog, the deadline was seen after
   * a budget of 256 switches (256 steps); now ~10. The bound is generous:
   * on a loaded machine the watchdog thread itself waits for a CPU. */
  if (iters[0] + iters[1] > 150)
    FAILF("mode %d: %d steps of 1 ms before a 10 ms deadline was seen", how,
          iters[0] + iters[1]);
  return 0;
}
TEST(deadline_seen_on_time_by_a_yield_loop) {
  for (int how = 0; how < 4; how++)
    for (size_t i = 0; i < 2; i++) {
      corral_options o = {0}; /* the real clock */
      o.shuffle_seed = seeds[i];
      CHECK_RC(corral_run(&o, m_yield_deadline, &how, NULL), 0);
    }
}

/* ---- runaway tasks are reported ---- */

static int spinner(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope s;
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  corral_scope_cancel(&s, "stop");
  int n = 0;
  for (int i = 0; i < 30000; i++) /* ignores the cancel code */
    if (corral_yield() == CORRAL_ECANCELED) n++;
  CHECK_EQ(n, 30000);
  return corral_scope_exit(&s, CORRAL_ECANCELED);
}
static int m_spin(void *arg, void **res) {
  (void)arg, (void)res;
  corral_task *t;
  CHECK_RC(corral_create_task(spinner, NULL, "spinner", &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  CHECK_RC(corral_create_task(spinner, NULL, "spinner2", &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  return 0;
}
static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}
TEST(cancel_spin_reported_once_per_task) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  corral_options o = {0};
  o.virtual_clock = 1;
  o.report = f;
  o.stall_report_ns = CORRAL_FOREVER;
  CHECK_RC(corral_run(&o, m_spin, NULL, NULL), 0);
  fclose(f);
  CHECK_EQ(count(buf, "task 'spinner' (spawned at"), 1);
  CHECK_EQ(count(buf, "task 'spinner2' (spawned at"), 1);
  CHECK(strstr(buf, "test_contract.c:") != NULL);
  CHECK(strstr(buf, "CORRAL_ECANCELED is being ignored") != NULL);
  free(buf);
  /* Off: nothing. */
  f = open_memstream(&buf, &len);
  o.report = f;
  o.cancel_spin_report = UINT32_MAX;
  CHECK_RC(corral_run(&o, m_spin, NULL, NULL), 0);
  fclose(f);
  CHECK_EQ(len, 0);
  free(buf);
}

static void spin_fatal_child(void) {
  corral_options o = {0};
  o.virtual_clock = 1;
  o.cancel_spin_report = 100;
  o.cancel_spin_fatal = 1;
  corral_run(&o, m_spin, NULL, NULL);
}
TEST(cancel_spin_fatal_option_aborts) {
  char buf[4096];
  int st = run_child(spin_fatal_child, buf, sizeof buf);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  CHECK(strstr(buf, "task 'spinner' (spawned at") != NULL);
  CHECK(strstr(buf, "hit 100 checkpoints") != NULL);
}

static int staller(void *arg, void **res) {
  (void)arg, (void)res;
  busy(CORRAL_MS(150));
  CHECK_RC(corral_yield(), 0);
  busy(CORRAL_MS(150)); /* again: reported once per task */
  return 0;
}
static int m_stall(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, staller, NULL, "cruncher", NULL), 0);
  return corral_group_close(&g, 0);
}
TEST(stall_without_checkpoint_reported_once) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  corral_options o = {0};
  o.virtual_clock = 1;
  o.report = f;
  o.stall_report_ns = CORRAL_MS(20);
  CHECK_RC(corral_run(&o, m_stall, NULL, NULL), 0);
  fclose(f);
  CHECK_EQ(count(buf, "task 'cruncher' (spawned at"), 1);
  CHECK(strstr(buf, "without reaching a checkpoint") != NULL);
  CHECK(strstr(buf, "test_contract.c:") != NULL);
  free(buf);
}

/* ---- errors never lost, never stale ---- */

static int failing(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_errorf(CORRAL_EIO, "disk on fire");
}
static int m_root_error(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy =
                                                          CORRAL_COLLECT}),
           0);
  CHECK_RC(corral_spawn(&g, failing, NULL, "a", NULL), 0);
  CHECK_RC(corral_spawn(&g, failing, NULL, "b", NULL), 0);
  return corral_group_close(&g, 0);
}
TEST(corral_run_hands_back_the_root_error_record) {
  for (size_t i = 0; i < NSEEDS; i++) {
    corral_error *e = (corral_error *)1;
    corral_options o = {0};
    o.virtual_clock = 1;
    o.shuffle_seed = seeds[i];
    o.error = &e;
    CHECK_RC(corral_run(&o, m_root_error, NULL, NULL), CORRAL_EGROUP);
    CHECK(e != NULL);
    CHECK_RC(corral_error_code(e), CORRAL_EGROUP);
    CHECK_EQ(corral_error_count(e), 2);
    CHECK_STR(corral_error_message(corral_error_child(e, 0)), "disk on fire");
    corral_error_unref(e); /* outlives its runtime */
  }
  corral_error *e = (corral_error *)1;
  corral_options o = {0};
  o.virtual_clock = 1;
  o.error = &e;
  CHECK_RC(corral_run(&o, m_codes, NULL, NULL), 0);
  CHECK(e == NULL); /* success: no record */
}

static int m_not_stale(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_errorf(CORRAL_EIO, "earlier"), CORRAL_EIO);
  CHECK(corral_last_error() != NULL);
  /* A later failure without a record of its own: the old one is gone. */
  corral_scope s;
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  corral_scope_cancel(&s, "stop");
  CHECK_RC(corral_sleep(CORRAL_SEC(1)), CORRAL_ECANCELED);
  CHECK(corral_last_error() == NULL);
  CHECK_RC(corral_scope_exit(&s, CORRAL_ECANCELED), 0);
  /* Group close returning the cancel of an enclosing scope. */
  CHECK_RC(corral_errorf(CORRAL_EIO, "earlier again"), CORRAL_EIO);
  CHECK_RC(corral_move_on_after(&s, CORRAL_MS(5)), 0);
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  int rc = corral_group_close(&g, corral_sleep(CORRAL_SEC(1)));
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK(corral_last_error() == NULL);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  /* A refused spawn. */
  CHECK_RC(corral_errorf(CORRAL_EIO, "and again"), CORRAL_EIO);
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_RC(corral_spawn(&g, failing, NULL, "late", NULL), CORRAL_ECLOSED);
  CHECK(corral_last_error() == NULL);
  /* A record that matches the code it came with stays. */
  CHECK_RC(corral_errorf(CORRAL_EIO, "kept"), CORRAL_EIO);
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  CHECK_STR(corral_error_message(corral_last_error()), "kept");
  return 0;
}
TEST(last_error_is_never_stale) { run_modes(m_not_stale, NULL); }

/* ---- start-and-wait-ready (Trio's nursery.start) ---- */

typedef struct {
  int64_t before;  /* work before "started" */
  int fail_before; /* fail instead of starting */
  int twice;       /* signal twice */
  int never;       /* return without signalling */
  int port;
  int second_rc;
} server;

static int serve(void *arg, void **res) {
  (void)res;
  server *s = arg;
  int rc = corral_sleep(s->before);
  if (rc) return rc;
  if (s->fail_before) return corral_errorf(CORRAL_EIO, "bind failed");
  if (s->never) return 0;
  CHECK_RC(corral_started(&s->port), 0);
  if (s->twice) s->second_rc = corral_started(&s->port);
  return corral_sleep(CORRAL_SEC(5)); /* serves */
}

static int m_start(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  server s = {CORRAL_SEC(1), 0, 1, 0, 8080, 0};
  void *v = NULL;
  corral_task *t = NULL;
  CHECK_RC(corral_start(&g, serve, &s, "server", &v, &t), 0);
  CHECK_EQ(NOW(), CORRAL_SEC(1)); /* returned once it said "started" */
  CHECK(v == &s.port);
  CHECK_RC(s.second_rc, CORRAL_EINVAL); /* signalled twice */
  CHECK_EQ(corral_group_running(&g), 1); /* it lives in g now */
  CHECK_STR(corral_task_name(t), "server");
  CHECK_RC(corral_started(NULL), CORRAL_EINVAL); /* not being started */
  /* An error before "started" goes to the starter, not to the group. */
  server bad = {CORRAL_SEC(1), 1, 0, 0, 0, 0};
  CHECK_RC(corral_start(&g, serve, &bad, "bad", NULL, NULL), CORRAL_EIO);
  CHECK_STR(corral_error_message(corral_last_error()), "bind failed");
  /* Finishing without signalling is an error too. */
  server mute = {CORRAL_MS(1), 0, 0, 1, 0, 0};
  CHECK_RC(corral_start(&g, serve, &mute, "mute", NULL, NULL), CORRAL_EPROTO);
  /* Cancelled while starting: the child is cancelled, nothing runs on. */
  corral_scope sc;
  CHECK_RC(corral_move_on_after(&sc, CORRAL_MS(500)), 0);
  server slow = {CORRAL_SEC(3), 0, 0, 0, 0, 0};
  int rc = corral_start(&g, serve, &slow, "slow", NULL, NULL);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&sc, rc), 0);
  CHECK_EQ(corral_group_running(&g), 1);
  CHECK_RC(corral_group_close(&g, 0), 0); /* waits for the server */
  CHECK_EQ(NOW(), CORRAL_SEC(6)); /* the server's 1 s + 5 s */
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_OK);
  corral_task_release(t);
  /* Started into a group that closed meanwhile: refused, cancelled. */
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  server late = {CORRAL_MS(1), 0, 0, 0, 0, 0};
  CHECK_RC(corral_start(&g, serve, &late, "late", NULL, NULL), CORRAL_ECLOSED);
  return 0;
}
TEST(start_waits_until_started_and_errors_go_to_the_starter) {
  run_modes(m_start, NULL);
}

/* ---- scopes configured before entry, read back, shield toggled ---- */

static corral_scope toggled, toggled_outer;
static int shield_toggler(void *arg, void **res) {
  (void)res;
  int *rc = arg;
  CHECK_RC(corral_scope_enter(&toggled_outer, NULL), 0);
  CHECK_RC(corral_scope_enter(&toggled, &(corral_scope_opts){.shield = 1}), 0);
  *rc = corral_sleep(CORRAL_SEC(10));
  int r = corral_scope_exit(&toggled, *rc); /* not its cancel: passes */
  CHECK_RC(r, CORRAL_ECANCELED);
  return corral_scope_exit(&toggled_outer, r);
}
static int m_scope_config(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  corral_scope s;
  int64_t dl = corral_now() + CORRAL_SEC(2);
  CHECK_RC(corral_scope_init(&s, &(corral_scope_opts){.deadline = dl,
                                                      .fail = 1}),
           0);
  CHECK_EQ(corral_scope_deadline(&s), dl);
  CHECK_EQ(corral_scope_shielded(&s), 0);
  CHECK_RC(corral_scope_set_deadline(&s, dl + CORRAL_SEC(1)), 0);
  CHECK_RC(corral_scope_set_shield(&s, 1), 0);
  CHECK_RC(corral_scope_enter(&s, NULL), 0); /* as configured */
  CHECK_EQ(corral_scope_deadline(&s), dl + CORRAL_SEC(1));
  CHECK_EQ(corral_scope_shielded(&s), 1);
  int rc = corral_sleep(CORRAL_SEC(10));
  CHECK_RC(corral_scope_exit(&s, rc), CORRAL_ETIMEDOUT);
  CHECK(corral_scope_caught(&s));
  CHECK_EQ(NOW(), CORRAL_SEC(3));
  /* Cancelled before entry: cancelled on entry. */
  CHECK_RC(corral_scope_init(&s, NULL), 0);
  CHECK_RC(corral_scope_cancel(&s, "not even started"), 0);
  CHECK(!corral_scope_cancelled(&s));
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  CHECK(corral_scope_cancelled(&s));
  CHECK_RC(corral_checkpoint_cancel(), CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, CORRAL_ECANCELED), 0);
  /* Shield toggled after entry: unshielding lets the outer cancel in. */
  int inner_rc = 1;
  corral_task *t;
  CHECK_RC(corral_create_task(shield_toggler, &inner_rc, "shielded", &t), 0);
  CHECK_RC(corral_sleep(CORRAL_SEC(1)), 0);
  CHECK_RC(corral_scope_cancel(&toggled_outer, "outer"), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_EQ(inner_rc, 1); /* still shielded, still asleep */
  CHECK_RC(corral_sleep(CORRAL_SEC(1)), 0);
  CHECK_EQ(inner_rc, 1);
  CHECK_RC(corral_scope_set_shield(&toggled, 0), 0);
  CHECK_EQ(corral_scope_shielded(&toggled), 0);
  CHECK_RC(corral_wait(&t, 1, CORRAL_ALL_COMPLETED, CORRAL_FOREVER, NULL), 0);
  CHECK_RC(inner_rc, CORRAL_ECANCELED);
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_OK); /* outer moved on */
  CHECK_EQ(NOW(), CORRAL_SEC(5)); /* woken at once, not after 10 s */
  corral_task_release(t);
  return 0;
}
TEST(scope_configured_before_entry_read_back_shield_toggled) {
  run_modes(m_scope_config, NULL);
}

/* ---- gather over existing handles ---- */

static int m_gather_tasks(void *arg, void **res) {
  (void)arg, (void)res;
  T0 = corral_now();
  static kid ok = {CORRAL_SEC(1), 0, 0}, bad = {CORRAL_SEC(2), CORRAL_EIO, 0},
             slow = {CORRAL_SEC(9), 0, 0};
  corral_task *a, *b, *c;
  CHECK_RC(corral_create_task(kid_fn, &ok, "ok", &a), 0);
  CHECK_RC(corral_create_task(kid_fn, &bad, "bad", &b), 0);
  CHECK_RC(corral_create_task(kid_fn, &slow, "slow", &c), 0);
  corral_task *ts[4] = {a, b, c, a}; /* a twice */
  corral_outcome o[4];
  int rc = corral_gather_tasks(ts, 4, o, NULL); /* FAIL_FAST */
  CHECK_RC(rc, CORRAL_EGROUP);
  CHECK_EQ(corral_error_count(corral_last_error()), 1);
  CHECK_EQ(NOW(), CORRAL_SEC(2)); /* slow was cancelled, not waited out */
  CHECK_EQ(o[0].status, CORRAL_STATUS_OK);
  CHECK_EQ(o[3].status, CORRAL_STATUS_OK); /* reported in both places */
  CHECK_EQ(o[1].status, CORRAL_STATUS_ERROR);
  CHECK_EQ(o[2].status, CORRAL_STATUS_CANCELLED);
  corral_outcomes_clear(o, 4);
  for (int i = 0; i < 3; i++) corral_task_release(ts[i]);
  /* Timeout: the unfinished end TIMED_OUT, finished results are kept. */
  CHECK_RC(corral_create_task(kid_fn, &ok, "ok", &a), 0);
  CHECK_RC(corral_create_task(kid_fn, &slow, "slow", &c), 0);
  corral_task *t2[2] = {a, c};
  rc = corral_gather_tasks(t2, 2, o,
                           &(corral_gather_opts){.policy = CORRAL_GATHER_ALL,
                                                 .timeout_ns = CORRAL_SEC(3)});
  CHECK_RC(rc, CORRAL_ETIMEDOUT);
  CHECK_EQ(o[0].status, CORRAL_STATUS_OK);
  CHECK_EQ(o[1].status, CORRAL_STATUS_TIMED_OUT);
  corral_outcomes_clear(o, 2);
  corral_task_release(a);
  corral_task_release(c);
  return 0; /* bad was gathered: its error does not fail main */
}
TEST(gather_over_existing_handles) { run_modes(m_gather_tasks, NULL); }

/* ---- an error raised while handling a cancellation has it as cause ---- */

static int m_cause(void *arg, void **res) {
  (void)arg, (void)res;
  static kid cleanup_fails = {CORRAL_SEC(5), 0, CORRAL_EIO};
  corral_group g;
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.timeout_ns =
                                                          CORRAL_SEC(1),
                                                      .name = "batch"}),
           0);
  CHECK_RC(corral_spawn(&g, kid_fn, &cleanup_fails, "worker", NULL), 0);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  const corral_error *e = corral_error_child(corral_last_error(), 0);
  CHECK(e != NULL);
  const corral_cancel_reason *why = corral_error_cause(e);
  CHECK(why != NULL);
  CHECK_EQ(why->kind, CORRAL_CANCEL_DEADLINE);
  CHECK_STR(why->scope, "batch");
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  corral_error_print(corral_last_error(), f);
  fclose(f);
  CHECK(strstr(buf, "failed while cleaning up") != NULL);
  CHECK(strstr(buf, "while handling a cancellation: deadline of scope 'batch'") != NULL);
  free(buf);
  CHECK(corral_error_cause(corral_last_error()) == NULL); /* the aggregate */
  return 0;
}
TEST(error_in_cleanup_carries_the_cancel_as_cause) { run_modes(m_cause, NULL); }

/* gather is a group: the same rule, through corral_gather's policies. */
static int m_gather_rule(void *arg, void **res) {
  (void)arg, (void)res;
  static kid fail1 = {S(1), EIO_, 0}, long5 = {S(5), 0, 0},
             cleanup = {S(5), 0, EIO_};
  corral_call calls[3] = {{kid_fn, &fail1, "fails"}, {kid_fn, &long5, "a"},
                          {kid_fn, &long5, "b"}};
  corral_outcome o[3];
  static const corral_gather_policy pols[4] = {
      CORRAL_GATHER_FAIL_FAST, CORRAL_GATHER_ALL, CORRAL_GATHER_FIRST,
      CORRAL_GATHER_QUORUM};
  /* The deadline fires after a child failed: an error, not a timeout
   * (ALL keeps errors as values: the timeout). */
  static const int want[4] = {EG, TO, EG, EG};
  for (int p = 0; p < 4; p++) {
    int rc = corral_gather(calls, 3, o,
                           &(corral_gather_opts){.policy = pols[p],
                                                 .quorum = 2,
                                                 .timeout_ns = S(2)});
    if (rc != want[p])
      FAILF("gather policy %d: %s, want %s", p, corral_err_name(rc),
            corral_err_name(want[p]));
    CHECK_EQ(o[0].status, CORRAL_STATUS_ERROR);
    corral_outcomes_clear(o, 3);
  }
  /* A failure in cleanup while the gather's deadline cancels. */
  calls[0].arg = &cleanup;
  for (int p = 0; p < 4; p++) {
    int rc = corral_gather(calls, 3, o,
                           &(corral_gather_opts){.policy = pols[p],
                                                 .quorum = 2,
                                                 .timeout_ns = S(1)});
    if (rc != want[p])
      FAILF("gather policy %d, cleanup: %s, want %s", p, corral_err_name(rc),
            corral_err_name(want[p]));
    CHECK_EQ(o[0].status, CORRAL_STATUS_ERROR);
    CHECK_EQ(o[1].status, CORRAL_STATUS_TIMED_OUT);
    corral_outcomes_clear(o, 3);
  }
  return 0;
}
TEST(gather_follows_the_group_rule) { run_modes(m_gather_rule, NULL); }
