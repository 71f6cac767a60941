/* The scheduler's hot path, inlined wherever a task gives the CPU away
 * (yield, park, spawn, a task's last frame). Inlining is not only about call
 * overhead: a switch that happens in a frame the task entered with `call`
 * and leaves with a jump unbalances the CPU's return-address predictor, and
 * every return after it mispredicts. Keeping the switch in the outermost
 * library frame keeps those returns predicted. */
#ifndef CORRAL_CORE_SCHED_H
#define CORRAL_CORE_SCHED_H

#include "core/rt.h"
#include "ground/sanitizer.h"

/* Direct task-to-task switches before the scheduler looks at timers and
 * I/O again. */
#define CORRAL__BUDGET 256

/* Blocking calls that complete at once between two schedule points
 * (CORRAL_YIELD_EVERY). The CORRAL_YIELD_STRESS test build makes it 1:
 * every such call yields, so code that holds shared state across one
 * (assuming it cannot let another task run) fails in the tests. */
#ifndef CORRAL__QUICK_EVERY
#define CORRAL__QUICK_EVERY CORRAL_YIELD_EVERY
#endif

/* sched.c: the slow parts. */
/* Run t from the scheduler's context until it gives the CPU back. */
CORRAL__HIDDEN void corral__run_task(corral__rt *rt, corral_task *t);
/* Make a NEW task ready to run; false when it finished here without
 * running (cancelled before it started, or no stack to be had). */
CORRAL__HIDDEN bool corral__prepare(corral__rt *rt, corral_task *t);
/* Pop a random task (the seeded shuffle test mode). */
CORRAL__HIDDEN corral_task *corral__runq_pop_shuffled(corral__rt *rt);

static inline void corral__asan_enter(void **fake, const void *lo,
                                      size_t size) {
#ifdef CORRAL_ASAN
  __sanitizer_start_switch_fiber(fake, lo, size);
#else
  (void)fake, (void)lo, (void)size;
#endif
}

static inline void corral__asan_arrived(void *fake) {
#ifdef CORRAL_ASAN
  __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
  (void)fake;
#endif
}

/* Where the CPU is, as the watchdog sees it: every switch changes the
 * current task, spends budget, or goes through the scheduler (a pass), so
 * an unchanged mark means no checkpoint gave the CPU away. Free on the hot
 * paths: they update these anyway. */
static inline uint64_t corral__cpu_mark(corral__rt *rt) {
  uint32_t b = __atomic_load_n(&rt->sched.budget, __ATOMIC_RELAXED);
  uint32_t p = __atomic_load_n(&rt->sched.passes, __ATOMIC_RELAXED);
  return (uint64_t)p << 32 | b;
}

CORRAL__HIDDEN corral__scope *corral__checkpoint_slow(corral__rt *rt,
                                                     corral_task *t);
/* The cancel check of every checkpoint: the nearest cancelled scope that
 * reaches t, counted for the cancel-spin report, or NULL. A checkpoint
 * that does not switch also fires the deadlines around t that the
 * watchdog saw pass (one that switches goes through the scheduler). */
static inline corral__scope *corral__checkpoint_scope(corral__rt *rt,
                                                      corral_task *t) {
  if (likely((rt->sched.ncancelled | corral__preempt_pending(rt)) == 0))
    return NULL;
  return corral__checkpoint_slow(rt, t);
}

/* A blocking call of t completed at once (it never parked): a schedule
 * point once t has used its slice -- every CORRAL_YIELD_EVERY such calls,
 * or at the next one once the watchdog zeroed `quick_left` (a deadline
 * passed, or t ran a whole tick without giving the CPU away; a store the
 * runtime overwrites is made again next tick, as for the budget). The
 * yield is not a cancellation point: the call took effect. The channel
 * and sync fast paths call it last, after their own work: a load, a
 * compare, a store while nothing is due. */
CORRAL__HIDDEN void corral__quick_yield(corral__rt *rt, corral_task *t);
static inline void corral__quick_done(corral__rt *rt, corral_task *t) {
  uint32_t q = __atomic_load_n(&rt->sched.quick_left, __ATOMIC_RELAXED);
  if (likely(q > 1))
    __atomic_store_n(&rt->sched.quick_left, q - 1, __ATOMIC_RELAXED);
  else
    corral__quick_yield(rt, t);
}

/* The same returning 0, for a fast path that ends with it: a tail call
 * (no stack frame) when it yields. */
CORRAL__HIDDEN int corral__quick_yield0(corral__rt *rt, corral_task *t);
static inline int corral__quick_done0(corral__rt *rt, corral_task *t) {
  uint32_t q = __atomic_load_n(&rt->sched.quick_left, __ATOMIC_RELAXED);
  if (unlikely(q <= 1)) return corral__quick_yield0(rt, t);
  __atomic_store_n(&rt->sched.quick_left, q - 1, __ATOMIC_RELAXED);
  return 0;
}

static inline void corral__runq_push(corral__rt *rt, corral_task *t) {
  t->rq_next = NULL;
  if (rt->sched.rq_tail)
    rt->sched.rq_tail->rq_next = t;
  else
    rt->sched.rq_head = t;
  rt->sched.rq_tail = t;
}

static inline void corral__runq_push_front(corral__rt *rt, corral_task *t) {
  t->rq_next = rt->sched.rq_head;
  rt->sched.rq_head = t;
  if (!rt->sched.rq_tail) rt->sched.rq_tail = t;
}

static inline corral_task *corral__runq_pop(corral__rt *rt) {
  corral_task *t = rt->sched.rq_head;
  if (!t) return NULL;
  if (unlikely(rt->sched.rng) && t->rq_next) return corral__runq_pop_shuffled(rt);
  rt->sched.rq_head = t->rq_next;
  if (!rt->sched.rq_head) rt->sched.rq_tail = NULL;
  t->rq_next = NULL;
  return t;
}

/* corral__wake (wait.h), inline for the hot paths that wake a partner
 * (channels). */
static inline void corral__wake_inline(corral_task *t, int rc) {
  if (t->state != CORRAL__T_BLOCKED) return;
  t->state = CORRAL__T_RUNNABLE;
  t->wake_rc = rc;
  corral__rt *rt = t->rt;
  corral__runq_push(rt, t);
  /* Woken from a libuv callback: the pass in progress must not block in
   * poll while a task is runnable (uv_stop makes its poll non-blocking). */
  if (unlikely(rt->sched.in_uv)) uv_stop(rt->loop);
}

/* The task to run after `cur` gives the CPU away, or NULL for the
 * scheduler (the budget of direct switches is spent, the queue is empty, or
 * a compact task must be loaded and cur stands on the shared stack). NEW
 * tasks are prepared on the way; a yielding cur may come back as itself. */
static inline __attribute__((always_inline)) corral_task *
corral__pick_next(corral__rt *rt, corral_task *cur, bool cur_compact) {
  corral_task *next = NULL;
  unsigned b;
  while ((b = corral__budget(rt)) > 0 && (next = corral__runq_pop(rt)) != NULL) {
    corral__budget_set(rt, b - 1);
    if (next == cur) return cur;
    if (next->state != CORRAL__T_NEW || corral__prepare(rt, next)) break;
    next = NULL;
  }
  if (next && next->compact && rt->stacks.shared_owner != next) {
    if (cur_compact) { /* we stand on the shared stack: let the scheduler */
      corral__runq_push_front(rt, next);
      next = NULL;
    } else {
      corral__compact_load(rt, next);
    }
  }
  return next;
}

/* Overlap the memory latency of the tasks that run next (a wake-up storm
 * resumes tasks whose memory is cold): the live frames of the second task in
 * line, and the lines below its stack pointer that the frames it pushes
 * when it resumes will write; the struct of the third. always_inline: a
 * function whose only effect is prefetching is "pure" to GCC, and a call to
 * it is deleted as dead code. */
static inline __attribute__((always_inline)) void
corral__prefetch_queue(corral__rt *rt) {
  corral_task *n1 = rt->sched.rq_head, *n2 = n1 ? n1->rq_next : NULL;
  corral_task *n3 = n2 ? n2->rq_next : NULL;
  if (n2 && n2->state != CORRAL__T_NEW) {
    /* Integer arithmetic: a saved sp not written yet may be null. */
    uintptr_t sp = corral__ctx_sp(&n2->ctx);
    for (int i = 0; i < 320; i += 64) __builtin_prefetch((void *)(sp + i));
    for (int i = 64; i <= 256; i += 64)
      __builtin_prefetch((void *)(sp - i), 1);
  }
  if (n3) {
    __builtin_prefetch(n3);
    __builtin_prefetch((char *)n3 + 128);
    __builtin_prefetch((char *)n3 + 256);
  }
}

/* The one sequence that hands the CPU from the context `from` (a task's or
 * the scheduler's) to task `next`, or to the scheduler when next is NULL;
 * returns when `from` runs again. */
static inline __attribute__((always_inline)) void
corral__resume(corral__rt *rt, corral__ctx *from, corral_task *next) {
  void *fake = NULL;
  if (next) {
    next->state = CORRAL__T_RUNNING;
    corral__set_current(rt, next);
    corral__asan_enter(&fake, next->stack->lo, next->stack->size);
    corral__ctx_switch(from, &next->ctx);
  } else {
    corral__set_current(rt, NULL);
    corral__asan_enter(&fake, rt->sched.stack_bottom, rt->sched.stack_size);
    corral__ctx_switch(from, &rt->sched.ctx);
  }
  corral__asan_arrived(fake);
}

/* The same without coming back: the caller's context is dead (a task's
 * last frame). */
static inline __attribute__((always_inline, noreturn)) void
corral__resume_jump(corral__rt *rt, corral_task *next) {
  if (next) {
    next->state = CORRAL__T_RUNNING;
    corral__set_current(rt, next);
    corral__asan_enter(NULL, next->stack->lo, next->stack->size);
    corral__ctx_jump(&next->ctx);
  }
  corral__set_current(rt, NULL);
  corral__asan_enter(NULL, rt->sched.stack_bottom, rt->sched.stack_size);
  corral__ctx_jump(&rt->sched.ctx);
}

/* Give the CPU away from `cur` (marked BLOCKED or queued RUNNABLE):
 * straight to the next runnable task while the budget lasts, else to the
 * scheduler. Returns when cur runs again. */
static inline __attribute__((always_inline)) void
corral__switch_out_inline(corral__rt *rt, corral_task *cur) {
  /* Canaries exist only once guard pages ran out: one load otherwise. */
  if (unlikely(rt->stacks.pools.ncanary) && !corral__stack_ok(cur->stack))
    corral__stack_overflow_abort(cur->name, cur->stack);
  if (unlikely(!cur->linked)) corral__task_link(cur);
  corral_task *next = corral__pick_next(rt, cur, cur->compact);
  if (next == cur) { /* yielded with nobody else to run */
      cur->state = CORRAL__T_RUNNING;
    return;
  }
  if (next) corral__prefetch_queue(rt);
  corral__resume(rt, &cur->ctx, next);
}

/* corral__park (wait.h) for a wait with no deadline, in a caller that has
 * just made the checkpoint test itself (nothing cancelled, no deadline
 * due) with nothing in between that could change it, for a task that is
 * linked and not compact: the channel fast paths. Inline: one call level, and its saved registers, less per
 * blocked operation. Leaner than corral__park on the way back: no wait
 * timer was armed (only corral__park arms t->timer, and disarms it before
 * it returns), and t->wait / t->wait_kind keep the finished wait's values
 * until the next park (every reader of them checks that t is BLOCKED).
 * For a wait record without an abort callback: a cancellation or the
 * deadlock breaker always ends the wait with a code other than 0. */
static inline __attribute__((always_inline)) int
corral__park_checked(corral_task *t, int kind, const corral__wait *w) {
  t->state = CORRAL__T_BLOCKED;
  t->wait = w;
  t->wait_kind = (uint8_t)kind;
  /* t->wake_rc, aborted and forced are 0 while a task runs (corral__park
   * and the end of this function clear them after a wait). */
  /* The common case of corral__switch_out_inline, as in corral_yield: the
   * head of the run queue is a task that ran before, budget is left, FIFO
   * mode, no stack canaries, nothing compact. */
  corral__rt *rt = t->rt;
  corral__sched *s = &rt->sched;
  corral_task *next = s->rq_head;
  unsigned b = corral__budget(rt);
  /* next's state byte on its own: a channel partner wrote it a moment
   * ago, and a wider load of it and compact together would wait for that
   * store to reach the cache (no store forwarding from a narrower store). */
  if (likely(next && b && (s->rng | rt->stacks.pools.ncanary) == 0 &&
             __atomic_load_n(&next->state, __ATOMIC_RELAXED) ==
                 CORRAL__T_RUNNABLE &&
             !next->compact)) {
    corral__budget_set(rt, b - 1);
    s->rq_head = next->rq_next; /* next->rq_next stays: every way into the
                                   queue sets it */
    if (!s->rq_head) s->rq_tail = NULL;
    corral__resume(rt, &t->ctx, next);
  } else {
    corral__switch_out_inline(rt, t);
  }
  int rc = t->wake_rc;
  if (likely(rc == 0)) return 0; /* no abort was asked either: one ends
                                    the wait with its code */
  t->wake_rc = 0;
  t->aborted = t->forced = 0;
  return corral__fail(t, rc);
}

#endif
