/* Stack overflow is reported with the task's name in every guard mode,
 * also for a frame larger than the guard (a big local array, alloca), which
 * -fstack-clash-protection makes touch the guard page instead of jumping
 * over it into a neighbour's stack. Each case runs in a child process. */
#include "test.h"

#include <alloca.h>
#include <signal.h>

static volatile size_t big_n = 512 * 1024;

static int big_array(void *arg, void **res) {
  (void)arg, (void)res;
  volatile char big[512 * 1024]; /* larger than the task's whole stack */
  big[0] = 1;
  big[sizeof big - 1] = 1;
  return big[0];
}

static int big_alloca(void *arg, void **res) {
  (void)arg, (void)res;
  volatile char *p = alloca(big_n);
  p[0] = 1;
  p[big_n - 1] = 1;
  return p[0];
}

static volatile long depth_limit = 1L << 40;
static long recurse(long n) {
  volatile char pad[512];
  pad[0] = (char)n;
  if (n >= depth_limit) return pad[0];
  return recurse(n + 1) + pad[0];
}

static int deep(void *arg, void **res) {
  (void)arg, (void)res;
  return (int)recurse(0);
}

static corral_fn victim;
static int no_guard_install;

/* A neighbour, so the victim's stack is not the first of its chunk. */
static int neighbour(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_sleep(CORRAL_SEC(100));
}

static int main_overflow(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  if (corral_group_open(&g, NULL)) return 1;
  if (corral_spawn(&g, neighbour, NULL, "neighbour", NULL)) return 1;
  corral_spawn_opts so = {.name = "victim", .stack_size = 64 * 1024};
  if (corral_spawn_ex(&g, victim, NULL, &so, NULL)) return 1;
  return corral_group_close(&g, 0);
}

static void child(void) {
  corral_options o = {0};
  o.virtual_clock = 1;
  o.no_guard_install = no_guard_install;
  corral_run(&o, main_overflow, NULL, NULL);
  fprintf(stderr, "not killed\n");
}

static void expect_named(corral_fn fn, int no_install) {
  char buf[1024];
  victim = fn;
  no_guard_install = no_install;
  int st = run_child(child, buf, sizeof buf);
  if (!WIFSIGNALED(st) || !strstr(buf, "stack overflow in task 'victim'"))
    FAILF("expected a named overflow; status %d, child said: %s", st, buf);
}

TEST(large_frame_named) { expect_named(big_array, 0); }
TEST(large_frame_named_mprotect) { expect_named(big_array, 1); }
TEST(alloca_named) { expect_named(big_alloca, 0); }
TEST(recursion_named) { expect_named(deep, 0); }
TEST(recursion_named_mprotect) { expect_named(deep, 1); }
