/* Context switch and stacks, without the runtime: this file also builds for
 * aarch64 and runs under qemu-user (scripts/test-cross.sh). */
#include "test.h"

#include "ground/ctx.h"
#include "ground/stack.h"

#include <fenv.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static void *sys_alloc(void *c, size_t n) { (void)c; return malloc(n); }
static void sys_free(void *c, void *p) { (void)c; free(p); }

static corral__ctx main_ctx, co_ctx;
static volatile long counter;

static void pingpong(void *arg) {
  long n = (long)(intptr_t)arg;
  for (long i = 0; i < n; i++) {
    counter++;
    corral__ctx_switch(&co_ctx, &main_ctx);
  }
  for (;;) corral__ctx_switch(&co_ctx, &main_ctx);
}

static corral__stack_pool pool;

static corral__stack *get_stack(size_t size) {
  corral__stack *s = NULL;
  CHECK_RC(corral__stack_acquire(&pool, size, &s), 0);
  return s;
}

TEST(switch_pingpong) {
  corral__stack_pool_init(&pool, 1, 4, 0, sys_alloc, sys_free, NULL);
  corral__stack *s = get_stack(64 * 1024);
  corral__ctx_make(&co_ctx, s->lo, s->size, pingpong, (void *)(intptr_t)1000);
  for (long i = 0; i < 1000; i++) {
    corral__ctx_switch(&main_ctx, &co_ctx);
    CHECK_EQ(counter, i + 1);
  }
  corral__stack_release(&pool, s);
  corral__stack_pool_destroy(&pool);
}

/* The other side scribbles every callee-saved register. */
static void scribbler(void *arg) {
  (void)arg;
  for (;;) {
#if defined(__x86_64__)
    __asm__ volatile("mov $0x1111, %%rbx\n\tmov $0x2222, %%r12\n\t"
                     "mov $0x3333, %%r13\n\tmov $0x4444, %%r14\n\t"
                     "mov $0x5555, %%r15\n\t"
                     ::: "rbx", "r12", "r13", "r14", "r15", "memory");
#elif defined(__aarch64__)
    __asm__ volatile("mov x19, #1\n\tmov x20, #2\n\tmov x21, #3\n\t"
                     "mov x22, #4\n\tmov x23, #5\n\tmov x24, #6\n\t"
                     "mov x25, #7\n\tmov x26, #8\n\tmov x27, #9\n\t"
                     "mov x28, #10\n\tfmov d8, x19\n\tfmov d9, x20\n\t"
                     "fmov d10, x21\n\tfmov d11, x22\n\tfmov d12, x23\n\t"
                     "fmov d13, x24\n\tfmov d14, x25\n\tfmov d15, x26\n\t"
                     ::: "x19", "x20", "x21", "x22", "x23", "x24", "x25",
                       "x26", "x27", "x28", "d8", "d9", "d10", "d11", "d12",
                       "d13", "d14", "d15", "memory");
#endif
    corral__ctx_switch(&co_ctx, &main_ctx);
  }
}

__attribute__((noinline)) static long live_values(long seed) {
  /* Many values live across the switch: the compiler keeps them in
   * callee-saved registers, which the scribbler overwrites. */
  long a = seed * 3, b = seed * 5, c = seed * 7, d = seed * 11, e = seed * 13,
       f = seed * 17, g = seed * 19, h = seed * 23;
  double x = (double)seed * 1.5, y = (double)seed * 2.5, z = (double)seed * 3.5;
  corral__ctx_switch(&main_ctx, &co_ctx);
  return a + b + c + d + e + f + g + h + (long)(x + y + z);
}

TEST(callee_saved_registers_preserved) {
  corral__stack_pool_init(&pool, 1, 4, 0, sys_alloc, sys_free, NULL);
  corral__stack *s = get_stack(64 * 1024);
  corral__ctx_make(&co_ctx, s->lo, s->size, scribbler, NULL);
  for (long seed = 1; seed < 100; seed++) {
    long want = seed * (3 + 5 + 7 + 11 + 13 + 17 + 19 + 23) + (long)(seed * 7.5);
    CHECK_EQ(live_values(seed), want);
  }
  corral__stack_release(&pool, s);
  corral__stack_pool_destroy(&pool);
}

static int co_round;
static void fp_side(void *arg) {
  (void)arg;
  for (;;) {
    co_round = fegetround();
    fesetround(FE_DOWNWARD);
    corral__ctx_switch(&co_ctx, &main_ctx);
  }
}

TEST(fp_control_state_per_context) {
#ifdef CORRAL_FAST_SWITCH
  puts("built with CORRAL_FAST_SWITCH: FP control state is shared");
  return;
#endif
  corral__stack_pool_init(&pool, 1, 4, 0, sys_alloc, sys_free, NULL);
  corral__stack *s = get_stack(64 * 1024);
  corral__ctx_make(&co_ctx, s->lo, s->size, fp_side, NULL);
  fesetround(FE_UPWARD);
  corral__ctx_switch(&main_ctx, &co_ctx);
  CHECK_EQ(fegetround(), FE_UPWARD); /* the other side's mode did not leak */
#ifndef CORRAL_CTX_UCONTEXT
  CHECK_EQ(co_round, FE_TONEAREST);  /* a new context starts at the default */
#endif
  corral__ctx_switch(&main_ctx, &co_ctx);
  CHECK_EQ(fegetround(), FE_UPWARD);
  fesetround(FE_TONEAREST);
  corral__stack_release(&pool, s);
  corral__stack_pool_destroy(&pool);
}

static long recurse(long n) {
  volatile char pad[512];
  pad[0] = (char)n;
  if (n == 0) return 0;
  long r = recurse(n - 1); /* not a tail call: pad is read afterwards */
  return r + 1 + (pad[0] != (char)n);
}

static long deep_result;
static void deep(void *arg) {
  deep_result = recurse((long)(intptr_t)arg);
  corral__ctx_switch(&co_ctx, &main_ctx);
}

TEST(deep_recursion_in_context) {
  corral__stack_pool_init(&pool, 1, 4, 1, sys_alloc, sys_free, NULL);
  corral__stack *s = get_stack(1024 * 1024);
  /* ~600 B per frame: 1000 frames use well over half a MiB. */
  corral__ctx_make(&co_ctx, s->lo, s->size, deep, (void *)(intptr_t)1000);
  corral__ctx_switch(&main_ctx, &co_ctx);
  CHECK_EQ(deep_result, 1000);
  size_t peak = corral__stack_peak(&pool, s);
  CHECK(peak > 500 * 1000);
  CHECK(peak < 1024 * 1024);
  corral__stack_release(&pool, s);
  corral__stack_pool_destroy(&pool);
}

TEST(stack_reuse_and_sizes) {
  corral__stack_pool_init(&pool, 1, 2, 0, sys_alloc, sys_free, NULL);
  corral__stack *a = get_stack(64 * 1024);
  char *lo = a->lo;
  corral__stack_release(&pool, a);
  corral__stack *b = get_stack(64 * 1024);
  CHECK(b->lo == lo); /* warm stacks are reused, LIFO */
  corral__stack *c = get_stack(64 * 1024);
  CHECK(c->lo != lo);
  corral__stack *d = get_stack(128 * 1024);
  CHECK_EQ(d->size, 128 * 1024);
  corral__stack *x = NULL;
  CHECK_RC(corral__stack_acquire(&pool, 100, &x), -EINVAL);
  CHECK_RC(corral__stack_acquire(&pool, (size_t)1 << 40, &x), -EINVAL);
  CHECK(x == NULL);
  /* Past the warm cache, released stacks go cold but stay reusable. */
  corral__stack_release(&pool, b);
  corral__stack_release(&pool, c);
  corral__stack_release(&pool, d);
  corral__stack *many[200];
  for (int i = 0; i < 200; i++) many[i] = get_stack(64 * 1024);
  for (int i = 0; i < 200; i++) corral__stack_release(&pool, many[i]);
  size_t chunks = pool.mapped_chunks;
  for (int i = 0; i < 200; i++) many[i] = get_stack(64 * 1024);
  CHECK_EQ(pool.mapped_chunks, chunks); /* all 200 came from the pool */
  for (int i = 0; i < 200; i++) corral__stack_release(&pool, many[i]);
  corral__stack_pool_destroy(&pool);
}

TEST(guard_modes) {
  corral__stack_pool_init(&pool, 1, 2, 0, sys_alloc, sys_free, NULL);
  printf("best guard mode here: %s\n", corral__stack_mode_name(pool.mode));
  corral__stack *s = get_stack(64 * 1024);
  CHECK(s->guard == pool.mode);
  corral__stack_release(&pool, s);
  corral__stack_pool_destroy(&pool);
  corral__stack_pool_init(&pool, 0, 2, 0, sys_alloc, sys_free, NULL);
  CHECK_EQ(pool.mode, CORRAL__GUARD_MPROTECT);
  pool.mprotect_budget = 1;
  corral__stack *g1 = get_stack(64 * 1024), *g2 = get_stack(64 * 1024);
  CHECK_EQ(g1->guard, CORRAL__GUARD_MPROTECT);
  CHECK_EQ(g2->guard, CORRAL__GUARD_CANARY); /* budget spent: canary */
  CHECK(corral__stack_ok(g2));
  g2->lo[0] = 0; /* what an overflow would do */
  CHECK(!corral__stack_ok(g2));
  corral__stack_release(&pool, g1);
  corral__stack_release(&pool, g2);
  corral__stack_pool_destroy(&pool);
}

/* ---- overflow reported by name, in a child process ---- */

static const corral__stack *cur_stack;
static const corral__stack *who(void *ctx, const char **name,
                                const corral__stack_pool **p) {
  (void)ctx;
  *name = "deep-diver";
  *p = &pool;
  return cur_stack;
}

static volatile long depth_limit = LONG_MAX;
static long forever(long n) {
  volatile char pad[256];
  pad[0] = (char)n;
  if (n >= depth_limit) return pad[0];
  return forever(n + 1) + pad[0];
}

static void overflow(void *arg) {
  (void)arg;
  forever(0);
}

static int allow_install_flag, canary_flag;
static void overflow_child(void) {
  corral__stack_pool_init(&pool, allow_install_flag, 2, 0, sys_alloc, sys_free,
                          NULL);
  if (canary_flag) pool.mprotect_budget = 0; /* no guard page at all */
  corral__stack *s = get_stack(64 * 1024);
  if (canary_flag && s->guard != CORRAL__GUARD_CANARY) _exit(3);
  cur_stack = s;
  corral__fault_hook hook = {who, NULL};
  void *alt;
  corral__fault_begin(&hook, &alt);
  corral__ctx_make(&co_ctx, s->lo, s->size, overflow, NULL);
  corral__ctx_switch(&main_ctx, &co_ctx);
}

static void check_overflow(int allow_install) {
  char buf[512];
  allow_install_flag = allow_install;
  int st = run_child(overflow_child, buf, sizeof buf);
  CHECK(WIFSIGNALED(st));
  CHECK_EQ(WTERMSIG(st), SIGSEGV);
  if (!strstr(buf, "stack overflow in task 'deep-diver'"))
    FAILF("child said: %s", buf);
}

TEST(overflow_reported_by_name) { check_overflow(1); }
/* No guard page: the recursion runs through the memory below the stack and
 * faults further down; the stack pointer names the task. */
TEST(overflow_reported_by_name_canary) {
  canary_flag = 1;
  check_overflow(0);
}
TEST(overflow_reported_by_name_mprotect) { check_overflow(0); }

/* The address set of open scopes, groups, files and channels: sized by the
 * addresses in it, not by how many came and went (a rebuild over mostly
 * tombstones doubled it every time: 16 KiB after two minutes of the soak). */
#include "ground/alloc.h"
#include "ground/aset.h"
TEST(aset_sized_by_live_addresses) {
  corral__aset s = {0};
  const corral_allocator *al = &corral__std_allocator;
  static char obj[200000];
  for (int i = 0; i < 200000; i++) { /* three live at a time */
    CHECK_EQ(corral__aset_add(&s, al, &obj[i]), 0);
    if (i >= 3) corral__aset_del(&s, &obj[i - 3]);
  }
  CHECK(s.cap <= 64);
  CHECK_EQ(s.live, 3);
  CHECK(corral__aset_has(&s, &obj[199999]) && corral__aset_has(&s, &obj[199997]));
  CHECK(!corral__aset_has(&s, &obj[199996]) && !corral__aset_has(&s, &obj[5]));
  for (int i = 0; i < 5000; i++) CHECK_EQ(corral__aset_add(&s, al, &obj[i]), 0);
  CHECK(s.cap * 3 >= 5003 * 4 && s.cap <= 16384); /* at most 3/4 full */
  for (int i = 0; i < 5000; i++) CHECK(corral__aset_has(&s, &obj[i]));
  for (int i = 0; i < 5000; i++) corral__aset_del(&s, &obj[i]);
  CHECK_EQ(s.live, 3);
  for (int i = 100000; i < 150000; i++) { /* the tombstones go at a rebuild */
    CHECK_EQ(corral__aset_add(&s, al, &obj[i]), 0);
    corral__aset_del(&s, &obj[i]);
  }
  CHECK(s.cap <= 64);
  corral__aset_free(&s, al);
}
