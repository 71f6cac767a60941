/* Collective calls: gather / safe_gather, wait, wait_for, as_completed. */
#include "core/group.h"
#include "core/sched.h"

#include <stdlib.h>
#include <string.h>

/* The time rule (corral.h): CORRAL_FOREVER is none, <= 0 already expired. */
static int64_t deadline_in(corral__rt *rt, int64_t timeout_ns) {
  if (timeout_ns == CORRAL_FOREVER) return CORRAL_FOREVER;
  return corral__deadline_after(rt, timeout_ns);
}

/* ---- gather ---- */

int corral_gather(const corral_call *calls, size_t n, corral_outcome *out,
                  const corral_gather_opts *o) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  CORRAL__NO_COMPACT(self, "corral_gather");
  corral__rt *rt = self->rt;
  corral_gather_opts d = {0};
  if (!o) o = &d;
  if (n && (!calls || !out)) return CORRAL_EINVAL;
  if (n > SIZE_MAX / sizeof(corral_task *)) return CORRAL_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!calls[i].fn) return CORRAL_EINVAL;
  bool all = o->policy == CORRAL_GATHER_ALL;
  corral_policy gp;
  switch (o->policy) {
  case CORRAL_GATHER_FAIL_FAST: gp = CORRAL_FAIL_FAST; break;
  case CORRAL_GATHER_ALL: gp = CORRAL_COLLECT; break;
  case CORRAL_GATHER_FIRST: gp = CORRAL_FIRST; break;
  case CORRAL_GATHER_QUORUM: gp = CORRAL_QUORUM; break;
  default: return CORRAL_EINVAL; /* a group policy, or garbage */
  }
  corral_group_opts go = {.policy = gp,
                          .quorum = o->quorum,
                          .name = o->name ? o->name : "gather",
                          .timeout_ns = o->timeout_ns,
                          .eager = o->eager,
                          .compact = o->compact};
  if (go.policy == CORRAL_QUORUM && (o->quorum < 1 || o->quorum > n))
    return CORRAL_EINVAL;
  for (size_t i = 0; i < n; i++) {
    memset(&out[i], 0, sizeof out[i]);
    out[i].status = CORRAL_STATUS_NOT_STARTED;
  }
  if (n == 0) return corral__cancelled_scope(self->scope) ? CORRAL_ECANCELED : 0;
  corral_task **ts = corral__calloc(rt, n * sizeof *ts);
  if (!ts) return CORRAL_ENOMEM;
  corral__group g;
  int rc = corral__group_open(rt, &g, self, &go, false);
  if (rc) {
    corral__free(rt, ts);
    return rc;
  }
  g.notify = 1;
  size_t next = 0;
  int spawn_rc = 0;
  while (next < n) {
    if (g.failed || g.satisfied || corral__cancelled_scope(&g.scope)) break;
    if (o->limit && g.running >= o->limit) {
      /* Not abortable: cancellation reaches the children through the
       * scope tree; we wake when one of them finishes. */
      g.waiter = self;
      corral__park(self, CORRAL__W_GATHER_SLOT, CORRAL__UNABORTABLE,
                   CORRAL_FOREVER);
      g.waiter = NULL;
      continue;
    }
    const corral_call *c = &calls[next];
    rc = corral__spawn(rt, &g, c->fn, c->arg,
                       &(corral_spawn_opts){.name = c->name ? c->name : "call"},
                       &ts[next], __FILE__, __LINE__);
    if (rc) {
      spawn_rc = rc;
      out[next].status = CORRAL_STATUS_ERROR;
      out[next].code = rc;
      out[next].error = corral__error_new(rt, rc, c->name, "could not spawn");
      corral__scope_cancel(rt, &g.scope, CORRAL_CANCEL_EXPLICIT, self->name,
                           "gather could not spawn a task");
      break;
    }
    next++;
  }
  bool timed_before = false;
  rc = corral__group_close(rt, &g, 0);
  timed_before = g.scope.deadline_fired;
  for (size_t i = 0; i < next; i++) {
    corral_task *t = ts[i];
    corral__outcome_copy(t, &out[i]); /* TIMED_OUT: see end_cancelled */
    t->joined = 1;
    t->handle = 0;
    corral__task_unref(rt, t);
  }
  corral__free(rt, ts);
  if (spawn_rc) return spawn_rc;
  if (all) {
    /* return_exceptions=True: errors live in the outcomes. */
    if (rc == CORRAL_EGROUP) {
      if (timed_before)
        rc = corral_errorf(CORRAL_ETIMEDOUT, "gather timed out");
      else if (corral__cancelled_scope(self->scope))
        rc = CORRAL_ECANCELED;
      else
        rc = 0;
    }
  }
  return rc;
}

int corral_safe_gather(const corral_call *calls, size_t n, corral_outcome *out,
                       int return_exceptions, int64_t timeout_ns) {
  corral_gather_opts o = {
      .policy = return_exceptions ? CORRAL_GATHER_ALL : CORRAL_GATHER_FAIL_FAST,
      /* The time rule for the argument; the option field's 0 = not set. */
      .timeout_ns = timeout_ns == CORRAL_FOREVER ? 0
                    : timeout_ns <= 0            ? -1
                                                 : timeout_ns,
      .name = "safe_gather"};
  return corral_gather(calls, n, out, &o);
}

/* ---- wait ---- */

/* The task behind a handle already checked by check_tasks. */
#define TK(h) ((corral_task *)((uintptr_t)(h) & CORRAL__H_ADDR))

static int check_tasks(corral_task *self, corral_task *const *tasks,
                       size_t n) {
  if (n && !tasks) return CORRAL_EINVAL;
  for (size_t i = 0; i < n; i++) {
    corral_task *t;
    int rc = corral__task_of(tasks[i], &t);
    if (rc) return rc == CORRAL__H_STALE ? CORRAL_EINVAL : rc;
    if (t == self) return CORRAL_EDEADLK;
  }
  return 0;
}

static bool wait_cond(corral_task *const *tasks, size_t n, int mode,
                      size_t *ndone) {
  size_t done = 0, exc = 0;
  for (size_t i = 0; i < n; i++)
    if (TK(tasks[i])->finalized) {
      done++;
      if (TK(tasks[i])->out.status == CORRAL_STATUS_ERROR) exc++;
    }
  if (ndone) *ndone = done;
  switch (mode) {
  case CORRAL_FIRST_COMPLETED: return done > 0 || n == 0;
  case CORRAL_FIRST_EXCEPTION: return exc > 0 || done == n;
  default: return done == n;
  }
}

typedef struct {
  corral_task *const *tasks;
  corral__waiter *ws;
  size_t n;
  bool left; /* out of every ring already */
} wait_rings;

static void leave_rings(wait_rings *r) {
  for (size_t i = 0; !r->left && i < r->n; i++)
    corral__ring_remove(&TK(r->tasks[i])->waiters, &r->ws[i].node);
  r->left = true;
}

/* Woken by its deadline or a cancellation: out of every ring at once (the
 * call then reads nothing of the caller's array again). */
static void wait_leave(const corral__wait *w, corral_task *t) {
  (void)t;
  leave_rings(w->arg);
}

/* Park until any of tasks[] finishes (or deadline / cancel). */
static int wait_any(corral_task *self, corral_task *const *tasks, size_t n,
                    const unsigned char *skip, int64_t deadline) {
  corral__rt *rt = self->rt;
  corral__waiter one, *ws = n == 1 ? &one : corral__calloc(rt, n * sizeof *ws);
  if (!ws) return CORRAL_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    corral__list_init(&ws[i].node);
    ws[i].task = self;
    if (!TK(tasks[i])->finalized && !(skip && skip[i]))
      corral__ring_push(&TK(tasks[i])->waiters, &ws[i].node);
  }
  wait_rings r = {tasks, ws, n, false};
  const corral__wait rec = {.arg = &r, .leave = wait_leave};
  int rc = corral__park(self, CORRAL__W_WAIT, &rec, deadline);
  leave_rings(&r);
  if (ws != &one) corral__free(rt, ws);
  return rc;
}

int corral_wait(corral_task *const *tasks, size_t n, int mode,
                int64_t timeout_ns, size_t *ndone) {
  corral_task *self = corral__self();
  if (ndone) *ndone = 0;
  if (!self) return CORRAL_ENOTASK;
  CORRAL__NO_COMPACT(self, "corral_wait");
  if (mode < CORRAL_FIRST_COMPLETED || mode > CORRAL_ALL_COMPLETED)
    return CORRAL_EINVAL;
  if (n == 0) return CORRAL_EINVAL; /* asyncio.wait: ValueError */
  int rc = check_tasks(self, tasks, n);
  if (rc) return rc;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  int64_t deadline = deadline_in(self->rt, timeout_ns);
  if (wait_cond(tasks, n, mode, ndone)) { /* held already */
    corral__quick_done(self->rt, self);
    return 0;
  }
  for (;;) {
    if (wait_cond(tasks, n, mode, ndone)) return 0;
    rc = wait_any(self, tasks, n, NULL, deadline);
    if (rc == CORRAL_ETIMEDOUT)
      /* A completion at the deadline's instant still counts. */
      return wait_cond(tasks, n, mode, ndone)
                 ? 0
                 : corral__fail(self, CORRAL_ETIMEDOUT);
    if (rc) return rc;
  }
}

/* ---- wait_for ---- */

int corral_wait_for(corral_task *h, int64_t timeout_ns, void **result) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  CORRAL__NO_COMPACT(self, "corral_wait_for");
  int rc = check_tasks(self, &h, 1);
  if (rc) return rc;
  corral_task *t = TK(h);
  if (t->joined) return CORRAL_EJOINED;
  /* A result already there wins over a cancellation of the caller, as one
   * arriving at the deadline does; a schedule point all the same. */
  if (t->finalized) corral__quick_done(self->rt, self);
  int64_t deadline = deadline_in(self->rt, timeout_ns);
  rc = 0;
  while (!t->finalized) {
    rc = wait_any(self, &h, 1, NULL, deadline);
    if (rc) break;
  }
  if (rc == CORRAL_ENOMEM) return rc;
  bool timed = false;
  if (!t->finalized) {
    /* Timed out or cancelled: cancel t and wait until it has finished
     * (not abortable, so nothing outlives this call). */
    timed = rc == CORRAL_ETIMEDOUT;
    if (timed)
      corral__scope_cancel(self->rt, &t->root_scope, CORRAL_CANCEL_DEADLINE,
                           self->name, "wait_for timed out");
    else
      corral__scope_cancel(self->rt, &t->root_scope, CORRAL_CANCEL_PARENT,
                           self->name, "wait_for was cancelled");
    corral__task_wait_done(self, t, false);
  }
  if (timed && (t->out.status == CORRAL_STATUS_CANCELLED ||
                t->out.status == CORRAL_STATUS_TIMED_OUT)) {
    t->joined = 1;
    return corral_errorf(CORRAL_ETIMEDOUT, "wait_for: task '%s' timed out",
                         t->name);
  }
  int trc = corral__task_result(self, t, result);
  if (rc == CORRAL_ECANCELED && trc == CORRAL_ECANCELED) return rc;
  return trc;
}

/* ---- as_completed ---- */

static int cmp_task_at(const void *a, const void *b) {
  const uintptr_t *x = a, *y = b; /* {task address, index} pairs */
  if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
  return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* mark[i] = 1 for every place i whose task appears at an earlier place. */
static int mark_duplicates(corral__rt *rt, corral_task *const *tasks,
                           size_t n, unsigned char *mark) {
  if (n < 2) return 0;
  if (n <= 16) {
    for (size_t i = 1; i < n; i++)
      for (size_t j = 0; j < i && !mark[i]; j++)
        if (TK(tasks[i]) == TK(tasks[j])) mark[i] = 1;
    return 0;
  }
  uintptr_t *p = corral__calloc(rt, n * 2 * sizeof *p);
  if (!p) return CORRAL_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    p[2 * i] = (uintptr_t)TK(tasks[i]);
    p[2 * i + 1] = i;
  }
  qsort(p, n, 2 * sizeof *p, cmp_task_at);
  for (size_t i = 1; i < n; i++)
    if (p[2 * i] == p[2 * i - 2]) mark[p[2 * i + 1]] = 1;
  corral__free(rt, p);
  return 0;
}

int corral_as_completed_init(corral_as_completed *it, corral_task *const *tasks,
                             size_t n, int64_t timeout_ns) {
  corral_task *self = corral__self();
  if (!it) return CORRAL_EINVAL;
  memset(it, 0, sizeof *it);
  if (!self) return CORRAL_ENOTASK;
  CORRAL__NO_COMPACT(self, "corral_as_completed_init");
  int rc = check_tasks(self, tasks, n);
  if (rc) return rc;
  it->taken = n ? corral__calloc(self->rt, n) : NULL;
  if (n && !it->taken) return CORRAL_ENOMEM;
  /* A handle given twice is yielded once (asyncio takes a set): its later
   * places count as yielded already. */
  rc = mark_duplicates(self->rt, tasks, n, it->taken);
  if (rc) {
    corral__free(self->rt, it->taken);
    it->taken = NULL;
    return rc;
  }
  for (size_t i = 0; i < n; i++) it->yielded += it->taken[i];
  it->tasks = tasks;
  it->n = n;
  it->deadline = deadline_in(self->rt, timeout_ns);
  return 0;
}

int corral_as_completed_next(corral_as_completed *it, corral_task **out) {
  corral_task *self = corral__self();
  if (out) *out = NULL;
  if (!self) return CORRAL_ENOTASK;
  if (!it || !out) return CORRAL_EINVAL;
  if (it->yielded == it->n) return CORRAL_EEOF;
  int vrc = check_tasks(self, it->tasks, it->n); /* released meanwhile? */
  if (vrc) return vrc;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  for (bool waited = false;; waited = true) {
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < it->n; i++)
      if (!it->taken[i] && TK(it->tasks[i])->finalized &&
          (best == SIZE_MAX || (int32_t)(TK(it->tasks[i])->done_seq -
                                         TK(it->tasks[best])->done_seq) < 0))
        best = i;
    if (best != SIZE_MAX) {
      it->taken[best] = 1;
      it->yielded++;
      *out = it->tasks[best];
      if (!waited) corral__quick_done(self->rt, self);
      return 0;
    }
    int rc = wait_any(self, it->tasks, it->n, it->taken, it->deadline);
    if (rc == CORRAL_ETIMEDOUT) {
      for (size_t i = 0; i < it->n; i++)
        if (!it->taken[i] && TK(it->tasks[i])->finalized) rc = 0;
      if (rc) return corral__fail(self, rc);
    } else if (rc) {
      return rc;
    }
  }
}

void corral_as_completed_free(corral_as_completed *it) {
  if (!it || !it->taken) return;
  corral__rt *rt = corral__tl_rt;
  if (rt) corral__free(rt, it->taken);
  it->taken = NULL;
}

/* ---- gather over tasks that exist already ---- */

/* Cancel every task of tasks[] that has not finished (a handle given twice
 * is cancelled once: the second cancel finds it cancelled). */
static void cancel_rest(corral_task *self, corral_task *const *tasks,
                        size_t n, corral_cancel_kind kind, const char *msg) {
  for (size_t i = 0; i < n; i++) {
    corral_task *t = TK(tasks[i]);
    if (!t->finalized)
      corral__scope_cancel(self->rt, &t->root_scope, kind, self->name, msg);
  }
}

int corral_gather_tasks(corral_task *const *tasks, size_t n,
                        corral_outcome *out, const corral_gather_opts *opts) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  CORRAL__NO_COMPACT(self, "corral_gather_tasks");
  corral_gather_opts d = {0};
  if (!opts) opts = &d;
  if (n && !out) return CORRAL_EINVAL;
  int rc = check_tasks(self, tasks, n);
  if (rc) return rc;
  /* It takes the outcomes, as join: one taken already is refused before
   * anything is waited for or cancelled. */
  for (size_t i = 0; i < n; i++)
    if (TK(tasks[i])->joined) return CORRAL_EJOINED;
  corral_gather_policy pol = opts->policy;
  size_t need = pol == CORRAL_GATHER_FIRST ? 1 : opts->quorum;
  if (pol != CORRAL_GATHER_FAIL_FAST && pol != CORRAL_GATHER_ALL &&
      pol != CORRAL_GATHER_FIRST && pol != CORRAL_GATHER_QUORUM)
    return CORRAL_EINVAL;
  if (pol == CORRAL_GATHER_QUORUM && (need < 1 || need > n))
    return CORRAL_EINVAL;
  int64_t deadline = opts->timeout_ns == 0 || opts->timeout_ns == CORRAL_FOREVER
                         ? CORRAL_FOREVER
                         : corral__deadline_after(self->rt, opts->timeout_ns);
  bool timed = false, cancelled = false, satisfied = false;
  /* A checkpoint also when every task finished already. */
  bool outer = corral__checkpoint_scope(self->rt, self) != NULL;
  for (;;) {
    size_t done = 0, ok = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
      corral_task *t = TK(tasks[i]);
      if (!t->finalized) continue;
      done++;
      if (t->out.status == CORRAL_STATUS_OK) ok++;
      if (t->out.status == CORRAL_STATUS_ERROR) bad++;
    }
    if (done == n) break;
    if (!cancelled) {
      const char *why = NULL;
      corral_cancel_kind kind = CORRAL_CANCEL_EXPLICIT;
      if (bad && pol == CORRAL_GATHER_FAIL_FAST) {
        kind = CORRAL_CANCEL_SIBLING_FAILED;
        why = "another task of the gather failed";
      } else if ((pol == CORRAL_GATHER_FIRST || pol == CORRAL_GATHER_QUORUM) &&
                 ok >= need) {
        kind = CORRAL_CANCEL_GROUP_DONE;
        why = "enough results arrived";
        satisfied = true;
      } else if (timed) {
        kind = CORRAL_CANCEL_DEADLINE;
        why = "gather timed out";
      } else if (outer) {
        kind = CORRAL_CANCEL_PARENT;
        why = "gather was cancelled";
      }
      if (why) {
        cancel_rest(self, tasks, n, kind, why);
        cancelled = true;
      }
    }
    /* Once cancelling, wait without being aborted: nothing it cancelled
     * outlives the call. */
    rc = cancelled ? 0
                   : wait_any(self, tasks, n, NULL, deadline);
    if (cancelled) {
      corral_task *t = NULL;
      for (size_t i = 0; i < n && !t; i++)
        if (!TK(tasks[i])->finalized) t = TK(tasks[i]);
      if (t) corral__task_wait_done(self, t, false);
    } else if (rc == CORRAL_ETIMEDOUT) {
      timed = true;
    } else if (rc == CORRAL_ECANCELED) {
      outer = true;
    } else if (rc) {
      return rc; /* ENOMEM: nothing cancelled, nothing waited for */
    }
  }
  /* Outcomes (a handle given twice is reported in both places) and the
   * verdict, by the rule of corral_group_close. */
  size_t ok = 0, nerr = 0;
  for (size_t i = 0; i < n; i++) {
    corral_task *t = TK(tasks[i]);
    corral__outcome_copy(t, &out[i]);
    t->joined = 1;
    bool first = true;
    for (size_t j = 0; j < i; j++)
      if (TK(tasks[j]) == t) first = false;
    if (!first) continue;
    if (t->out.status == CORRAL_STATUS_OK) ok++;
    if (t->out.status == CORRAL_STATUS_ERROR) nerr++;
  }
  bool quorum = pol == CORRAL_GATHER_FIRST || pol == CORRAL_GATHER_QUORUM;
  satisfied = satisfied || (quorum && ok >= need);
  bool failed = pol != CORRAL_GATHER_ALL && nerr > 0 && !(quorum && satisfied);
  if (!failed && quorum && !satisfied && !timed && !outer) failed = true;
  if (failed) {
    corral_error *agg = corral__error_new(self->rt, CORRAL_EGROUP, self->name,
                                          "gather over tasks failed");
    if (agg && nerr) {
      agg->children = corral__malloc(self->rt, nerr * sizeof *agg->children);
      for (size_t i = 0; agg->children && i < n; i++) {
        corral_task *t = TK(tasks[i]);
        bool first = true;
        for (size_t j = 0; j < i; j++)
          if (TK(tasks[j]) == t) first = false;
        if (first && t->out.status == CORRAL_STATUS_ERROR)
          agg->children[agg->nchildren++] = corral_error_ref(t->out.error);
      }
    }
    if (agg) corral__set_last_error(self, agg);
    return CORRAL_EGROUP;
  }
  if (satisfied) return 0;
  if (outer) return corral__fail(self, CORRAL_ECANCELED);
  if (timed) return corral_errorf(CORRAL_ETIMEDOUT, "gather timed out");
  return 0;
}
