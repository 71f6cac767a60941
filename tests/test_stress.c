/* Seeded randomized stress: random trees of groups (lazy and eager), sleeps,
 * yields, tasks that never suspend, failures,
 * cancels and deadlines, on the virtual clock. After every run:
 *  - every task that ran returned exactly once, and only tasks cancelled
 *    before they started never ran;
 *  - every group's aggregate holds exactly the errors of its children
 *    (plus the body's);
 *  - no task outlived its group (all done when close returns);
 *  - nothing leaked (a counting allocator returns to zero).
 * CORRAL_STRESS_RUNS sets the number of runs (CI: a few hundred; make
 * stress: thousands); CORRAL_STRESS_SEED the first seed. */
#include "test.h"

typedef struct {
  uint64_t s;
} rng;
static uint64_t next(rng *r) {
  r->s ^= r->s << 13;
  r->s ^= r->s >> 7;
  r->s ^= r->s << 17;
  return r->s;
}
static int pick(rng *r, int n) { return (int)(next(r) % (uint64_t)n); }

typedef struct node {
  rng r;
  int depth;
  int returned; /* how many times the function returned */
  int ran;
} node;

static long live_blocks;
static void *c_malloc(void *c, size_t n) { (void)c; live_blocks++; return malloc(n); }
static void *c_realloc(void *c, void *p, size_t n) {
  (void)c;
  void *q = realloc(p, n);
  if (!p && q) live_blocks++;
  return q;
}
static void c_free(void *c, void *p) { (void)c; if (p) live_blocks--; free(p); }

#define MAXKIDS 5
static long total_tasks;

static int node_fn(void *arg, void **res);

static int run_group(node *self) {
  rng *r = &self->r;
  int nk = pick(r, MAXKIDS + 1);
  corral_policy pol = pick(r, 2) ? CORRAL_FAIL_FAST : CORRAL_COLLECT;
  corral_group g;
  int rc = corral_group_open(&g, &(corral_group_opts){
                                     .policy = pol,
                                     .timeout_ns = pick(r, 4) == 0 ? (pick(r, 50) + 1) * MS : 0,
                                     .eager = pick(r, 3) == 0});
  CHECK_RC(rc, 0);
  node kids[MAXKIDS];
  corral_task *t[MAXKIDS];
  int spawned = 0;
  for (int i = 0; i < nk; i++) {
    kids[i] = (node){{next(r) | 1}, self->depth + 1, 0, 0};
    t[i] = NULL;
    int s = corral_spawn(&g, node_fn, &kids[i], "kid", &t[i]);
    if (s == 0) {
      spawned++;
      total_tasks++;
    } else {
      CHECK(s == CORRAL_EFAILED || s == CORRAL_ECANCELED);
    }
    if (pick(r, 3) == 0) {
      int y = corral_sleep(pick(r, 20) * MS);
      CHECK(y == 0 || y == CORRAL_ECANCELED);
    }
  }
  /* Maybe cancel one child. */
  if (nk && pick(r, 4) == 0 && t[0]) corral_cancel(t[0], "random cancel");
  int body = 0;
  if (pick(r, 8) == 0) body = corral_errorf(CORRAL_ERANGE, "body fails");
  int crc = corral_group_close(&g, body);
  /* Nothing outlived the group; outcomes match the aggregate. */
  size_t errs = 0;
  for (int i = 0; i < nk; i++) {
    if (!t[i]) continue;
    CHECK(corral_task_done(t[i]));
    corral_status st = corral_task_status(t[i]);
    CHECK(st == CORRAL_STATUS_OK || st == CORRAL_STATUS_ERROR ||
          st == CORRAL_STATUS_CANCELLED || st == CORRAL_STATUS_TIMED_OUT);
    if (st == CORRAL_STATUS_ERROR) errs++;
    if (kids[i].ran) CHECK_EQ(kids[i].returned, 1);
    if (!kids[i].ran)
      CHECK(st == CORRAL_STATUS_CANCELLED || st == CORRAL_STATUS_TIMED_OUT);
    corral_task_release(t[i]);
  }
  CHECK_EQ(corral_group_failed(&g), errs);
  if (crc == CORRAL_EGROUP)
    CHECK_EQ(corral_error_count(corral_last_error()), errs + (body != 0));
  else
    CHECK(errs == 0 && body == 0);
  return crc;
}

static int node_fn(void *arg, void **res) {
  (void)res;
  node *self = arg;
  self->ran = 1;
  rng *r = &self->r;
  int rc = 0;
  corral_scope s;
  int scoped = pick(r, 4) == 0;
  if (scoped) {
    if (pick(r, 2))
      corral_move_on_after(&s, pick(r, 40) * MS);
    else
      corral_fail_after(&s, pick(r, 40) * MS);
  }
  switch (self->depth < 4 ? pick(r, 6) : pick(r, 3)) {
  case 0:
  case 1:
    rc = corral_sleep(pick(r, 60) * MS);
    if (rc == 0 && pick(r, 5) == 0) rc = corral_errorf(CORRAL_EIO, "injected");
    break;
  case 2: /* never suspends: an eager child ends inside its spawn */
    if (pick(r, 4) == 0) rc = corral_errorf(CORRAL_EIO, "at once");
    break;
  case 3:
    for (int n = pick(r, 4); n-- && rc == 0;) rc = corral_yield();
    break;
  default:
    rc = run_group(self);
    break;
  }
  if (scoped) rc = corral_scope_exit(&s, rc);
  self->returned++;
  return rc;
}

static int root(void *arg, void **res) {
  (void)res;
  node *n = arg;
  n->depth = 0;
  int rc = run_group(n);
  n->returned++;
  n->ran = 1;
  return rc;
}

TEST(random_trees) {
  const char *e = getenv("CORRAL_STRESS_RUNS");
  long runs = e ? atol(e) : 300;
  const char *s0 = getenv("CORRAL_STRESS_SEED");
  uint64_t seed0 = s0 ? strtoull(s0, NULL, 10) : 1;
  corral_allocator al = {c_malloc, c_realloc, c_free, NULL};
  for (long i = 0; i < runs; i++) {
    uint64_t seed = seed0 + (uint64_t)i;
    node n = {{seed * 0x9e3779b97f4a7c15ull | 1}, 0, 0, 0};
    live_blocks = 0;
    corral_options o = {.virtual_clock = 1,
                        .allocator = &al,
                        .shuffle_seed = (seed % 3 == 0) ? seed : 0};
    int rc = corral_run(&o, root, &n, NULL);
    if (rc != 0 && rc != CORRAL_EGROUP && rc != CORRAL_ETIMEDOUT)
      FAILF("seed %llu: corral_run gave %s", (unsigned long long)seed,
            corral_err_name(rc));
    CHECK_EQ(n.returned, 1);
    if (live_blocks != 0)
      FAILF("seed %llu: %ld blocks leaked", (unsigned long long)seed, live_blocks);
  }
  printf("stress: %ld runs, %ld tasks\n", runs, total_tasks);
}
