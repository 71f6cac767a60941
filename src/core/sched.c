/* The scheduler's slow parts: preparing a task that never ran, the shuffle
 * test mode, yield. The hot path is inline in sched.h; this is the only
 * place besides it that switches to a task (through corral__resume). */
#include "core/sched.h"

#include <stdlib.h>

_Thread_local corral__rt *corral__tl_rt CORRAL__TLS_MODEL;

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

corral_task *corral__runq_pop_shuffled(corral__rt *rt) {
  /* Seeded shuffle (tests hunting order bugs): take a random element.
   * Counting the queue is fine in a test mode. */
  corral__sched *s = &rt->sched;
  corral_task *t = s->rq_head;
  size_t n = 0;
  for (corral_task *c = t; c; c = c->rq_next) n++;
  size_t k = xorshift(&s->rng) % n;
  corral_task *prev = NULL;
  while (k--) prev = t, t = t->rq_next;
  if (prev) {
    prev->rq_next = t->rq_next;
    if (s->rq_tail == t) s->rq_tail = prev;
  } else {
    s->rq_head = t->rq_next;
    if (!s->rq_head) s->rq_tail = NULL;
  }
  t->rq_next = NULL;
  return t;
}

/* Make a NEW task ready to run: a task cancelled before it ever ran never
 * runs nor gets a stack; a stack that cannot be had fails the task. Returns
 * false when the task finished here without running. */
bool corral__prepare(corral__rt *rt, corral_task *t) {
  corral__scope *cs = corral__cancelled_scope(t->scope);
  corral__stacks *st = &rt->stacks;
  if (cs) {
    corral__end_cancelled(t, cs);
  } else {
    int rc = 0;
    if (t->compact) {
      if (!st->shared)
        rc = corral__stack_acquire(&st->pools, st->default_size, &st->shared);
      if (rc == 0) {
        t->stack = st->shared;
        t->cnew = 1; /* laid out by compact_load */
        return true;
      }
    } else {
      rc = corral__stack_acquire_fast(
          &st->pools, t->stack_size ? t->stack_size : st->default_size,
          &t->stack);
    }
    if (rc == 0) {
      corral__ctx_make(&t->ctx, t->stack->lo, t->stack->size,
                       corral__task_entry, t);
      return true;
    }
    t->out.status = CORRAL_STATUS_ERROR;
    t->out.code = rc;
    t->out.error = corral__error_new(rt, rc, t->name,
                                     "could not allocate the task's stack");
  }
  t->state = CORRAL__T_DONE;
  corral__task_finalize(rt, t);
  return false;
}

/* Run t from the scheduler's context until it gives the CPU back. */
void corral__run_task(corral__rt *rt, corral_task *t) {
  if (t->state == CORRAL__T_NEW && !corral__prepare(rt, t)) return;
  if (t->compact) corral__compact_load(rt, t);
  corral__budget_set(rt, CORRAL__BUDGET);
  __atomic_store_n(&rt->sched.passes, rt->sched.passes + 1, __ATOMIC_RELAXED);
  corral__resume(rt, &rt->sched.ctx, t);
  corral__set_current(rt, NULL);
}

corral__scope *corral__checkpoint_slow(corral__rt *rt, corral_task *t) {
  if (corral__preempt_pending(rt) && !rt->clock.virtual_clock) {
    /* Fire this task's due scope deadlines now (so the check below sees
     * them); the next switch goes through the scheduler for the rest (the
     * watchdog's own store of the budget may have been overwritten). */
    corral__scope_deadlines_due(rt, t->scope);
    corral__budget_set(rt, 0);
  }
  corral__scope *cs = rt->sched.ncancelled
                          ? corral__cancelled_scope_walk(t->scope)
                          : NULL;
  if (cs) corral__cancel_spin(rt, t, cs);
  return cs;
}

void corral__quick_yield(corral__rt *rt, corral_task *t) {
  __atomic_store_n(&rt->sched.quick_left, CORRAL__QUICK_EVERY,
                   __ATOMIC_RELAXED);
  /* Due deadlines of t's scopes fire now (they cancel its next call); the
   * budget goes to 0 so this switch passes through the scheduler, which
   * fires the other timers and clears `preempt`. */
  if (corral__preempt_pending(rt)) (void)corral__checkpoint_scope(rt, t);
  t->state = CORRAL__T_RUNNABLE;
  corral__runq_push(rt, t);
  corral__switch_out_inline(rt, t);
}

int corral__quick_yield0(corral__rt *rt, corral_task *t) {
  corral__quick_yield(rt, t);
  return 0;
}

/* The hottest path there is: a task yielding to the head of the run queue.
 * It rotates the queue and switches straight there; anything unusual (an
 * empty queue, a task not started yet, a compact task, the budget spent, a
 * test mode) takes the general path. */
int corral_yield(void) {
  corral__rt *rt = corral__tl_rt;
  corral_task *self = rt ? rt->sched.current : NULL;
  if (unlikely(!self)) return CORRAL_ENOTASK;
  corral__sched *s = &rt->sched;
  /* A deadline that passed needs no test here: the watchdog zeroed the
   * budget, so this switch goes through the scheduler. */
  if (unlikely(s->ncancelled) && corral__checkpoint_scope(rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  self->state = CORRAL__T_RUNNABLE;
  self->rq_next = NULL;
  corral_task *next = s->rq_head;
  unsigned b = corral__budget(rt);
  if (likely(next && b && !s->rng && !rt->stacks.pools.ncanary &&
             next->state == CORRAL__T_RUNNABLE && !next->compact &&
             self->linked)) {
    corral__budget_set(rt, b - 1);
    corral_task *after = next->rq_next;
    if (after) {
      s->rq_head = after;
      s->rq_tail->rq_next = self;
    } else {
      s->rq_head = self;
    }
    s->rq_tail = self;
    next->rq_next = NULL;
    corral__resume(rt, &self->ctx, next);
    return 0;
  }
  corral__runq_push(rt, self);
  corral__switch_out_inline(rt, self);
  return 0;
}
