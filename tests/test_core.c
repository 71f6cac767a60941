/* Runtime core: spawn, join, yield, sleep, order, errors, bad input. */
#include "test.h"

#include <uv.h>

#include <fenv.h>

static int order[64];
static int norder;

static int rec(void *arg, void **res) {
  (void)res;
  int id = (int)(intptr_t)arg;
  order[norder++] = id;
  CORRAL_IGNORE(corral_yield());
  order[norder++] = id + 10;
  return 0;
}

static int main_fifo(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 1; i <= 3; i++)
    CHECK_RC(corral_spawn(&g, rec, (void *)(intptr_t)i, "rec", NULL), 0);
  return corral_group_close(&g, 0);
}

TEST(fifo_order) {
  CHECK_RC(run_virtual(main_fifo, NULL), 0);
  int want[] = {1, 2, 3, 11, 12, 13};
  CHECK_EQ(norder, 6);
  for (int i = 0; i < 6; i++) CHECK_EQ(order[i], want[i]);
}

static int ret_val(void *arg, void **res) {
  *res = arg;
  return 0;
}

static int main_join(void *arg, void **res) {
  corral_task *t;
  CHECK_RC(corral_create_task(ret_val, (void *)(intptr_t)42, "val", &t), 0);
  void *r = NULL;
  CHECK_RC(corral_join(t, &r), 0);
  CHECK_EQ((intptr_t)r, 42);
  CHECK_RC(corral_join(t, &r), CORRAL_EJOINED);
  CHECK_STR(corral_task_name(t), "val");
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_OK);
  corral_task_release(t);
  *res = (void *)(intptr_t)7;
  return 0;
}

TEST(join_result_and_double_join) {
  void *r = NULL;
  corral_options o = {.virtual_clock = 1};
  CHECK_RC(corral_run(&o, main_join, NULL, &r), 0);
  CHECK_EQ((intptr_t)r, 7);
}

static int64_t wake_at[8];
static int nwake;
static int sleeper(void *arg, void **res) {
  (void)res;
  CHECK_RC(corral_sleep((int64_t)(intptr_t)arg), 0);
  wake_at[nwake++] = corral_now();
  return 0;
}

static int main_sleep(void *arg, void **res) {
  (void)arg, (void)res;
  int64_t t0 = corral_now();
  corral_group g;
  corral_group_open(&g, NULL);
  corral_spawn(&g, sleeper, (void *)(intptr_t)(300 * MS), "a", NULL);
  corral_spawn(&g, sleeper, (void *)(intptr_t)(100 * MS), "b", NULL);
  corral_spawn(&g, sleeper, (void *)(intptr_t)(200 * MS), "c", NULL);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(corral_now() - t0, 300 * MS);
  CHECK_EQ(wake_at[0] - t0, 100 * MS);
  CHECK_EQ(wake_at[1] - t0, 200 * MS);
  CHECK_EQ(wake_at[2] - t0, 300 * MS);
  return 0;
}

TEST(sleep_virtual_exact) { CHECK_RC(run_virtual(main_sleep, NULL), 0); }

static int failing(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_errorf(CORRAL_EIO, "disk %d on fire", 3);
}

static int main_err(void *arg, void **res) {
  (void)arg, (void)res;
  corral_task *t;
  corral_create_task(failing, NULL, "burner", &t);
  int rc = corral_join(t, NULL);
  CHECK_RC(rc, CORRAL_EIO);
  const corral_error *e = corral_last_error();
  CHECK(e != NULL);
  CHECK_STR(corral_error_message(e), "disk 3 on fire");
  CHECK_STR(corral_error_task(e), "burner");
  corral_outcome o;
  CHECK_EQ(corral_task_outcome(t, &o), CORRAL_STATUS_ERROR);
  CHECK_RC(o.code, CORRAL_EIO);
  CHECK(o.error == corral_task_error(t));
  corral_task_release(t);
  CHECK_STR(corral_error_message(o.error), "disk 3 on fire"); /* own ref */
  corral_outcome_clear(&o);
  return 0;
}

TEST(error_record) { CHECK_RC(run_virtual(main_err, NULL), 0); }

TEST(strerror_table) {
  CHECK_STR(corral_strerror(CORRAL_ECANCELED), "cancelled");
  CHECK_STR(corral_err_name(CORRAL_ECANCELED), "CORRAL_ECANCELED");
  CHECK_STR(corral_err_name(CORRAL_EINVAL), "CORRAL_EINVAL");
  CHECK_EQ(CORRAL_EINVAL, -EINVAL);
  CHECK(CORRAL_EGROUP <= CORRAL_ERROR_RANGE_MAX &&
        CORRAL_EGROUP >= CORRAL_ERROR_RANGE_MIN);
  /* One "timed out" and one "cancelled", whoever produced them. */
  CHECK_EQ(CORRAL_ETIMEDOUT, -ETIMEDOUT);
  CHECK_EQ(CORRAL_ETIMEDOUT, UV_ETIMEDOUT);
  CHECK_EQ(CORRAL_ECANCELED, -ECANCELED);
  CHECK_EQ(CORRAL_EDEADLK, -EDEADLK);
  CHECK_STR(corral_strerror(12345), "unknown error");
  CHECK_STR(corral_err_name(12345), "E?");
  CHECK(strlen(corral_strerror(-EACCES)) > 0);
}

static int nop(void *arg, void **res) {
  (void)arg, (void)res;
  return 0;
}

static int main_many(void *arg, void **res) {
  (void)res;
  size_t n = (size_t)(uintptr_t)arg;
  corral_group g;
  corral_group_open(&g, NULL);
  for (size_t i = 0; i < n; i++)
    CHECK_RC(corral_spawn(&g, nop, NULL, "nop", NULL), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(corral_group_succeeded(&g), n);
  return 0;
}

TEST(spawn_join_100k) {
  CHECK_RC(run_virtual(main_many, (void *)(uintptr_t)100000), 0);
}

TEST(bad_input_outside_task) {
  CHECK_RC(corral_run(NULL, NULL, NULL, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_sleep(1), CORRAL_ENOTASK);
  CHECK_RC(corral_yield(), CORRAL_ENOTASK);
  CHECK_RC(corral_join(NULL, NULL), CORRAL_ENOTASK);
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), CORRAL_ENOTASK);
  CHECK_RC(corral_spawn(&g, nop, NULL, "x", NULL), CORRAL_ENOTASK);
  corral_options o = {.stack_size = 1};
  CHECK_RC(corral_run(&o, nop, NULL, NULL), CORRAL_EINVAL);
  o.stack_size = (size_t)1 << 40;
  CHECK_RC(corral_run(&o, nop, NULL, NULL), CORRAL_EINVAL);
  corral_task_release(NULL);
  corral_error_unref(NULL);
  corral_outcome_clear(NULL);
}

static int main_bad(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_join(NULL, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_join(corral_current(), NULL), CORRAL_EDEADLK);
  corral_spawn_opts so = {.name = "tiny", .stack_size = 100};
  corral_task *t = (corral_task *)1;
  CHECK_RC(corral_spawn_ex(NULL, nop, NULL, &so, &t), CORRAL_EINVAL);
  CHECK(t == NULL);
  so.stack_size = (size_t)1 << 40;
  CHECK_RC(corral_spawn_ex(NULL, nop, NULL, &so, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_spawn(NULL, NULL, NULL, "nofn", NULL), CORRAL_EINVAL);
  corral_group g;
  memset(&g, 0, sizeof g);
  CHECK_RC(corral_spawn(&g, nop, NULL, "x", NULL), CORRAL_EINVAL);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EINVAL);
  CHECK_RC(corral_group_open(NULL, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy = 99}),
           CORRAL_EINVAL);
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_QUORUM}),
           CORRAL_EINVAL);
  return 0;
}

TEST(bad_input_in_task) { CHECK_RC(run_virtual(main_bad, NULL), 0); }

TEST(version_and_backend) {
  CHECK_EQ(corral_version(), CORRAL_VERSION_HEX);
  CHECK(corral_context_backend() != NULL);
  CHECK(corral_stack_guard_mode() == NULL);
}

static int trace[16], ntrace;
static int eager_child(void *arg, void **res) {
  (void)res;
  trace[ntrace++] = (int)(intptr_t)arg;
  CORRAL_IGNORE(corral_sleep(MS));
  trace[ntrace++] = (int)(intptr_t)arg + 100;
  return 0;
}
static int m_eager(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.eager = 1});
  for (int i = 1; i <= 3; i++) {
    CHECK_RC(corral_spawn(&g, eager_child, (void *)(intptr_t)i, "e", NULL), 0);
    CHECK_EQ(trace[ntrace - 1], i); /* already ran up to its first block */
  }
  CHECK_RC(corral_group_close(&g, 0), 0);
  int want[] = {1, 2, 3, 101, 102, 103};
  CHECK_EQ(ntrace, 6);
  for (int i = 0; i < 6; i++) CHECK_EQ(trace[i], want[i]);
  /* A lazy spawn has not run yet when spawn returns. */
  ntrace = 0;
  corral_task *t;
  corral_create_task(eager_child, (void *)(intptr_t)7, "lazy", &t);
  CHECK_EQ(ntrace, 0);
  CORRAL_IGNORE(corral_join(t, NULL));
  corral_task_release(t);
  return 0;
}
TEST(eager_spawn_runs_child_first) { CHECK_RC(run_virtual(m_eager, NULL), 0); }

static int woke[8], nwoke;
static int same_deadline(void *arg, void **res) {
  (void)res;
  int id = (int)(intptr_t)arg;
  /* Set the timers in the reverse of the spawn order. */
  for (int i = 0; i < 5 - id; i++) CORRAL_IGNORE(corral_yield());
  CHECK_RC(corral_sleep_until((int64_t)5 * SEC), 0);
  woke[nwoke++] = id;
  return 0;
}
static int m_same(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  corral_group_open(&g, NULL);
  for (int i = 0; i < 5; i++)
    corral_spawn(&g, same_deadline, (void *)(intptr_t)i, "same", NULL);
  CHECK_RC(corral_group_close(&g, 0), 0);
  for (int i = 0; i < 5; i++) CHECK_EQ(woke[i], 4 - i); /* order they were set */
  return 0;
}
TEST(equal_deadlines_wake_in_order_set) { CHECK_RC(run_virtual(m_same, NULL), 0); }

/* Each task keeps its own FP rounding mode and its own live values across
 * yields (the direct yield path) and sleeps (the scheduler path), while the
 * other tasks use other modes. */
static int fp_task(void *arg, void **res) {
  (void)res;
  int mode = (int)(intptr_t)arg;
  CHECK_EQ(fegetround(), FE_TONEAREST); /* a new task starts at the default */
  fesetround(mode);
  volatile double one = 1.0, three = 3.0;
  double want = one / three; /* rounded in this task's mode */
  uint64_t a = 0x1111u * (uint64_t)mode, b = a ^ 0xffff, c = a + 7, d = a * 3;
  for (int i = 0; i < 200; i++) {
    if (i % 3 == 0)
      CHECK_RC(corral_sleep(i % 2 ? 1000 : 0), 0);
    else
      CHECK_RC(corral_yield(), 0);
    CHECK_EQ(fegetround(), mode);
    CHECK(one / three == want);
    a += 1, b += 2, c += 3, d += 4;
  }
  CHECK_EQ(a, 0x1111u * (uint64_t)mode + 200);
  CHECK_EQ(b, ((0x1111u * (uint64_t)mode) ^ 0xffff) + 400);
  CHECK_EQ(c, 0x1111u * (uint64_t)mode + 7 + 600);
  CHECK_EQ(d, 0x1111u * (uint64_t)mode * 3 + 800);
  return 0;
}

static int m_fp(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  int modes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO, FE_TONEAREST};
  for (int i = 0; i < 4; i++)
    CHECK_RC(corral_spawn(&g, fp_task, (void *)(intptr_t)modes[i], "fp", NULL),
             0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(fegetround(), FE_TONEAREST); /* the spawner's mode is its own */
  return 0;
}

TEST(fp_mode_and_registers_per_task) { CHECK_RC(run_virtual(m_fp, NULL), 0); }

/* An eager child joins its group's lists only when it first suspends. A
 * grandchild that blocks while its eager parent has not suspended yet must
 * still be reachable by a cancel of the outer group. */
static int gc_rc = 1;
static int gc_sleeper(void *arg, void **res) {
  (void)arg, (void)res;
  gc_rc = corral_sleep(CORRAL_FOREVER / 2);
  return 0;
}
static int eager_parent(void *arg, void **res) {
  (void)res;
  corral_group *outer = arg;
  corral_group h;
  CHECK_RC(corral_group_open(&h, &(corral_group_opts){.eager = 1}), 0);
  CHECK_RC(corral_spawn(&h, gc_sleeper, NULL, "grandchild", NULL), 0);
  CHECK_EQ(gc_rc, 1); /* blocked, not woken yet */
  /* This task has not suspended: the cancel must still find the grandchild
   * below it. */
  CHECK_RC(corral_group_cancel(outer, "stop"), 0);
  return corral_group_close(&h, 0) == 0 ? 0 : -1;
}
static int m_eager_chain(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.eager = 1,
                                                      .policy = CORRAL_COLLECT}),
           0);
  CHECK_RC(corral_spawn(&g, eager_parent, &g, "parent", NULL), 0);
  CORRAL_IGNORE(corral_group_close(&g, 0));
  CHECK_EQ(gc_rc, CORRAL_ECANCELED);
  CHECK_EQ(corral_now(), 1000000000LL); /* woken by the cancel, not time */
  return 0;
}
TEST(eager_chain_cancel_reaches_blocked_grandchild) {
  CHECK_RC(run_virtual(m_eager_chain, NULL), 0);
}

/* The task tree printed from inside an eager child that never suspended
 * shows it (and its spawn order among siblings is kept). */
static char dumpbuf[4096];
static int dumping_child(void *arg, void **res) {
  (void)arg, (void)res;
  FILE *f = fmemopen(dumpbuf, sizeof dumpbuf - 1, "w");
  corral_dump(f);
  fclose(f);
  return 0;
}
static int sleeping_child(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_sleep(MS);
}
static int m_eager_dump(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.eager = 1,
                                                      .name = "eg"}),
           0);
  CHECK_RC(corral_spawn(&g, sleeping_child, NULL, "first", NULL), 0);
  CHECK_RC(corral_spawn(&g, sleeping_child, NULL, "second", NULL), 0);
  CHECK_RC(corral_spawn(&g, dumping_child, NULL, "dumper", NULL), 0);
  return corral_group_close(&g, 0);
}
TEST(dump_inside_eager_child) {
  CHECK_RC(run_virtual(m_eager_dump, NULL), 0);
  const char *a = strstr(dumpbuf, "'first'"), *b = strstr(dumpbuf, "'second'");
  const char *c = strstr(dumpbuf, "'dumper'");
  CHECK(a && b && c);
  CHECK(a < b && b < c);
}

/* Nested eager spawns: when the innermost task suspends, the tasks it ran
 * inside resume innermost first, then it runs again. */
static char order_s[32];
static int order_n;
static void mark(char c) { order_s[order_n++] = c; }
static int nest_g(void *arg, void **res) {
  (void)arg, (void)res;
  mark('g');
  CHECK_RC(corral_yield(), 0);
  mark('G');
  return 0;
}
static int nest_c(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group h;
  mark('c');
  CHECK_RC(corral_group_open(&h, &(corral_group_opts){.eager = 1}), 0);
  CHECK_RC(corral_spawn(&h, nest_g, NULL, "g", NULL), 0);
  mark('C');
  return corral_group_close(&h, 0);
}
static int m_nest(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  mark('s');
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.eager = 1}), 0);
  CHECK_RC(corral_spawn(&g, nest_c, NULL, "c", NULL), 0);
  mark('S');
  CHECK_RC(corral_group_close(&g, 0), 0);
  mark('E');
  return 0;
}
TEST(nested_eager_resume_order) {
  CHECK_RC(run_virtual(m_nest, NULL), 0);
  CHECK_STR(order_s, "scgCSGE");
}

/* An eager child starts at the default FP environment whatever its
 * spawner's; the spawner gets its own back whether the child ends at once
 * or suspends first. */
static int fp_child_round = -1;
static int fp_eager_child(void *arg, void **res) {
  (void)res;
  fp_child_round = fegetround();
  fesetround(FE_TOWARDZERO);
  if (arg) CHECK_RC(corral_sleep(MS), 0);
  CHECK_EQ(fegetround(), FE_TOWARDZERO);
  return 0;
}
static int m_fp_eager(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.eager = 1}), 0);
  fesetround(FE_UPWARD);
  for (int suspend = 0; suspend < 2; suspend++) {
    fp_child_round = -1;
    CHECK_RC(corral_spawn(&g, fp_eager_child, (void *)(intptr_t)suspend, "fp",
                          NULL),
             0);
    CHECK_EQ(fp_child_round, FE_TONEAREST);
    CHECK_EQ(fegetround(), FE_UPWARD);
  }
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(fegetround(), FE_UPWARD);
  fesetround(FE_TONEAREST);
  return 0;
}
TEST(fp_mode_eager_child) { CHECK_RC(run_virtual(m_fp_eager, NULL), 0); }

/* A chain of 20,000 eager spawns, each inside the one before, whose
 * innermost task suspends: every 256 direct starts the spawn goes through
 * the scheduler (the budget), so the chain mixes children started at once
 * and children started by the scheduler; all are linked, queued in order
 * and unwound, on small stacks. */
#define CHAIN_DEPTH 20000
static int chain_deepest;
static int chain_level(void *arg, void **res) {
  (void)res;
  int depth = (int)(intptr_t)arg;
  if (depth > chain_deepest) chain_deepest = depth;
  if (depth == CHAIN_DEPTH) return corral_sleep(MS);
  corral_group g;
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.eager = 1}), 0);
  CHECK_RC(corral_spawn(&g, chain_level, (void *)(intptr_t)(depth + 1), "lvl",
                        NULL),
           0);
  return corral_group_close(&g, 0);
}
static int m_chain(void *arg, void **res) {
  (void)arg, (void)res;
  return chain_level((void *)(intptr_t)1, NULL);
}
TEST(deep_eager_chain_suspends) {
  corral_options o = {.virtual_clock = 1, .stack_size = 32 * 1024};
  CHECK_RC(corral_run(&o, m_chain, NULL, NULL), 0);
  CHECK_EQ(chain_deepest, CHAIN_DEPTH);
}
