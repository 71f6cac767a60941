/* The wait primitive: every blocking call parks here (see wait.h), and the
 * public hooks for foreign libraries are built on it. */
#include "core/group.h"
#include "core/sched.h"
#include "ground/fault.h"

#include <stdio.h>

const char *const corral__wait_names[CORRAL__W_COUNT] = {
#define CORRAL__XX(name, str) str,
    CORRAL__WAIT_KINDS(CORRAL__XX)
#undef CORRAL__XX
};

const corral__wait corral__unabortable = {.what = "not abortable"};

static void on_wait_timeout(corral__timer *tm) {
  corral_task *t = corral__container_of(tm, corral_task, timer);
  if (t->state == CORRAL__T_BLOCKED) corral__wait_leave(t->wait, t);
  corral__wake(t, CORRAL_ETIMEDOUT);
}

int corral__park(corral_task *t, int kind, const corral__wait *w,
                 int64_t deadline) {
  corral__rt *rt = t->rt;
#ifdef CORRAL_FAULT_INJECTION
  if (w != CORRAL__UNABORTABLE) corral__inject_park(kind); /* a cancel point */
#endif
  /* A deadline passed while tasks switched among themselves: the check
   * below fires this task's due scope deadlines, and this park goes
   * through the scheduler, which fires the rest. Never switch here: the
   * caller registered its waiter (a join, an event) and another task
   * running now could complete it before we are parked. */
  if (unlikely(corral__preempt_pending(rt))) corral__budget_set(rt, 0);
  bool aborted = false;
  if (w != CORRAL__UNABORTABLE && corral__checkpoint_scope(rt, t)) {
    /* Cancelled before parking (a deadline this check fired, a cancel
     * made since the caller's own check): the operation the caller started
     * is withdrawn as if the cancellation had reached it parked. Returning
     * without asking its abort callback left a request that owns memory
     * until its callback (getaddrinfo) running with a task that had moved
     * on: a leak, and a wake-up of whatever task came next. corral_park's
     * callers are promised the opposite (no abort before parking). The
     * waiter leaves the object's list here, as one woken by a
     * cancellation would. */
    if (!w || !w->abort || kind == CORRAL__W_PARK ||
        w->abort(t, w->arg) == CORRAL_ABORT_SUCCEEDED) {
      corral__wait_leave(w, t);
      return corral__fail(t, CORRAL_ECANCELED);
    }
    aborted = true; /* it cannot be withdrawn: wait for its waker */
  }
  if (deadline != CORRAL_FOREVER && !aborted) {
    int rc = CORRAL_ETIMEDOUT; /* expired */
    if (deadline <= corral__now(rt) ||
        (rc = corral__timer_arm(rt, &t->timer, deadline, on_wait_timeout))) {
      if (w != CORRAL__UNABORTABLE) corral__wait_leave(w, t);
      return rc;
    }
  }
  t->state = CORRAL__T_BLOCKED;
  t->wait = w;
  t->wait_kind = (uint8_t)kind;
  t->wake_rc = 0;
  t->aborted = aborted;
  t->forced = 0;
  corral__switch_out_inline(rt, t); /* inlined: one frame less per sleeper */
  if (corral__timer_armed(&t->timer)) corral__timer_disarm(rt, &t->timer);
  t->wait = NULL;
  t->wait_kind = CORRAL__W_NONE;
  /* The wait's own deadline is the caller's business (sleep turns it
   * into 0); other codes end the call. While a task runs, its wake_rc,
   * aborted and forced are 0 (corral__park_checked relies on it). */
  int rc = t->wake_rc;
  t->wake_rc = 0;
  t->aborted = t->forced = 0;
  return rc == CORRAL_ETIMEDOUT ? rc : corral__fail(t, rc);
}

void corral__wake(corral_task *t, int rc) { corral__wake_inline(t, rc); }

void corral__waiters_wake_all(corral__list *h) {
  corral__list *n;
  while ((n = corral__list_head(h)) != NULL) {
    corral__list_remove(n);
    corral__wake(corral__container_of(n, corral__waiter, node)->task, 0);
  }
}

void corral__ring_wake_all(corral__list **first) {
  corral__list *n;
  while ((n = *first) != NULL) {
    corral__ring_remove(first, n);
    corral__wake(corral__container_of(n, corral__waiter, node)->task, 0);
  }
}

/* ---- waits on a returned frame ----
 * A task's function returned: its frame is gone. A descendant still
 * waiting on an object of that frame (an event lent to a create_task
 * child, see corral_create_task) would write into the stack when it
 * leaves the object's list, which the task's next frames now use. Every
 * waiter of that list is taken out of it without touching the object and
 * woken with CORRAL_EINVAL and a message; the runtime reports the misuse. */

static inline bool in_frame(const void *p, const char *lo, const char *hi) {
  return (const char *)p >= lo && (const char *)p < hi;
}

static void orphan_list(corral__rt *rt, corral_task *t, corral__list *n0,
                        const char *lo, const char *hi, const void *obj,
                        int kind) {
  corral__list *n = n0;
  while (!in_frame(n->prev, lo, hi)) { /* back to the first waiter */
    n = n->prev;
    if (n == n0) return; /* a list whose head is elsewhere */
  }
  fprintf(rt->report,
          "corral: misuse: task '%s' returned while tasks waited on a %s in "
          "its stack frame (%p); they are woken with CORRAL_EINVAL\n",
          t->name, corral__wait_names[kind], obj);
  while (!in_frame(n, lo, hi)) {
    corral__list *next = n->next;
    /* Every waiter node of these lists is followed by its task. */
    corral_task *w = corral__container_of(n, corral__waiter, node)->task;
    n->next = n->prev = n;
    if (w->state == CORRAL__T_BLOCKED) {
      char msg[192];
      snprintf(msg, sizeof msg,
               "the %s this task waited on (%p) was in the stack frame of "
               "task '%s', whose function returned",
               corral__wait_names[kind], obj, t->name);
      corral_error *e = corral__error_new(rt, CORRAL_EINVAL, w->name, msg);
      if (e) corral__set_last_error(w, e);
      corral__wake(w, CORRAL_EINVAL);
    }
    n = next;
  }
}

static void orphans_in(corral__rt *rt, corral_task *t, corral_task *c,
                       const char *lo, const char *hi) {
  const corral__wait *w = c->wait;
  if (c->state == CORRAL__T_BLOCKED && w && w != CORRAL__UNABORTABLE &&
      w->obj && w->node && in_frame(w->obj, lo, hi))
    orphan_list(rt, t, w->node, lo, hi, w->obj, c->wait_kind);
  for (corral__group *g = c->open_groups; g; g = g->prev_open)
    for (corral_task *d = g->first_child; d; d = d->g_next)
      orphans_in(rt, t, d, lo, hi);
  if (c->implicit)
    for (corral_task *d = c->implicit->first_child; d; d = d->g_next)
      orphans_in(rt, t, d, lo, hi);
}

void corral__frame_orphans(corral__rt *rt, corral_task *t, const char *top) {
  if (!t->stack || t->compact) return;
  for (corral_task *d = t->implicit->first_child; d; d = d->g_next)
    orphans_in(rt, t, d, t->stack->lo, top);
}

/* ---- public hooks ---- */

/* The user's abort callback gets the task's (borrowed) handle. */
typedef struct {
  corral_abort_fn fn;
  void *arg;
} user_abort;

static corral_abort_result call_user_abort(corral_task *t, void *arg) {
  user_abort *ua = arg;
  return ua->fn ? ua->fn(corral__task_handle(t), ua->arg)
                : CORRAL_ABORT_SUCCEEDED;
}

int corral_park(const char *what, corral_abort_fn abort, void *arg) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  CORRAL__NO_COMPACT(self, "corral_park");
  user_abort ua = {abort, arg};
  corral__wait w = {.abort = call_user_abort, .arg = &ua, .what = what};
  return corral__park(self, CORRAL__W_PARK, &w, CORRAL_FOREVER);
}

int corral_unpark(corral_task *h, int code) {
  corral_task *t;
  int rc = corral__task_of(h, &t);
  if (rc) return rc == CORRAL__H_STALE ? CORRAL_EINVAL : rc;
  if (t->state != CORRAL__T_BLOCKED || t->wait_kind != CORRAL__W_PARK)
    return CORRAL_EINVAL;
  corral__wake(t, code);
  return 0;
}
