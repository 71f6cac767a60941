/* Tasks: spawn, the first and last frame of every task, join (sleep and
 * checkpoints: sleep.c). */
#include "core/group.h"
#include "core/sched.h"

#include <stdlib.h>
#include <string.h>

corral__group *corral__implicit_group(corral__rt *rt, corral_task *self) {
  if (self->implicit) return self->implicit;
  corral__group *g = corral__malloc(rt, sizeof *g);
  if (!g) return NULL;
  corral__group_open(rt, g, self,
                     &(corral_group_opts){.policy = CORRAL_COLLECT,
                                          .name = "create_task"},
                     true);
  self->implicit = g;
  return g;
}

/* Zero n bytes (a multiple of 8; p is `misalign` bytes past a 16-byte
 * boundary, 0 or 8) with aligned 16-byte stores, fully unrolled; the empty
 * asm keeps the compiler from making it a memset call. */
typedef uint64_t corral__u64x2 __attribute__((vector_size(16), aligned(8)));
static inline __attribute__((always_inline)) void
zero_block(void *p, size_t n, size_t misalign) {
  char *c = p;
  size_t i = 0;
  if (misalign == 8) { /* one 8-byte store, then aligned 16-byte ones */
    *(uint64_t *)(void *)c = 0;
    i = 8;
  }
#pragma GCC unroll 32
  for (; i + 16 <= n; i += 16) {
    *(corral__u64x2 *)(void *)(c + i) = (corral__u64x2){0, 0};
    __asm__("" ::: "memory");
  }
  if (i < n) *(uint64_t *)(void *)(c + i) = 0;
}

/* Put t in its group's child list and its root scope in the group scope's
 * children: what cancellation walks to find blocked tasks, and what the task
 * tree shows. */
static inline void link_one(corral_task *t) {
  t->linked = 1;
  t->g_next = NULL; /* was eager_parent */
  if (t->root_scope.parent) corral__scope_link(&t->root_scope);
  corral__group *g = t->group;
  if (g) {
    t->g_prev = g->last_child;
    if (g->last_child)
      g->last_child->g_next = t;
    else
      g->first_child = t;
    g->last_child = t;
  }
}

void corral__task_link(corral_task *t) {
  /* An eager task runs inside its spawner's spawn call, which may itself
   * be an eager task that has not suspended yet: link the whole chain, and
   * queue the spawners it ran inside at the front, innermost first, as if
   * each had been queued when it spawned. Only tasks of that chain are
   * unlinked (a task that suspended was linked then). The chain is at most
   * a scheduler budget (256) deep; the walk is iterative anyway, the
   * spawners' rq_next links holding the chain (they wait outside the run
   * queue). */
  corral_task *chain = NULL;
  while (t && !t->linked) {
    corral_task *p = t->eager_parent; /* before link_one reuses the field */
    link_one(t);
    if (p) {
      p->rq_next = chain;
      chain = p;
    }
    t = p;
  }
  while (chain) { /* outermost first, so the innermost ends at the front */
    corral_task *p = chain;
    chain = p->rq_next;
    corral__runq_push_front(p->rt, p);
  }
}

static inline __attribute__((always_inline)) int
spawn_impl(corral__rt *rt, corral__group *g, corral_fn fn, void *arg,
           const corral_spawn_opts *o, corral_task **out, const char *file,
           int line, bool public_handle) {
  if (out) *out = NULL;
  if (!fn) return CORRAL_EINVAL;
  size_t ss = 0;
  int o_eager = 0, o_compact = 0;
  if (o) {
    ss = o->stack_size;
    o_eager = o->eager != 0;
    o_compact = o->compact != 0;
  }
  if (ss && (ss < CORRAL_STACK_MIN || ss > CORRAL_STACK_MAX))
    return CORRAL_EINVAL;
  corral_task *self = rt->sched.current;
  bool root = !g && !self;
  if (!root) {
    if (!g) {
      g = corral__implicit_group(rt, self);
      if (!g) return CORRAL_ENOMEM;
    }
    if (g->magic != CORRAL__GROUP_MAGIC) return CORRAL_EINVAL;
    if (g->rt != rt) return CORRAL_EFOREIGN;
    if (g->state == CORRAL__G_CLOSED) return CORRAL_ECLOSED;
    if (g->failed) return CORRAL_EFAILED;
    if (g->satisfied ||
        (unlikely(rt->sched.ncancelled) && corral__cancelled_scope_walk(&g->scope)))
      return CORRAL_ECANCELED;
  }
  corral_task *t = corral__slab_alloc(&rt->slabs);
  if (!t) return CORRAL_ENOMEM;
  /* The fields that start at zero are one block: a few wide stores (not
   * memset, which compiles to a slow-starting rep stos at this size). */
  /* Task structs are 16-aligned (slab chunks, malloc). */
  zero_block(&t->rq_next,
             offsetof(corral_task, name) - offsetof(corral_task, rq_next),
             offsetof(corral_task, rq_next) % 16);
  _Static_assert(CORRAL_STATUS_PENDING == 0, "the zeroed block relies on it");
  t->rt = rt;
  t->fn = fn;
  t->arg = arg;
  t->file = file;
  t->line = line;
  t->stack_size = (uint32_t)ss;
  t->refs = out ? 2 : 1;
  uint16_t gen = (uint16_t)((rt->gen_seq + 1) & 0xfff);
  rt->gen_seq = t->gen = gen ? gen : 1;
  t->handle = out != NULL;
  t->owned = out != NULL && public_handle;
  t->compact = CORRAL__COMPACT_OK && (o_compact | (g ? g->compact : 0));
  t->linked = 0;
  corral__timer_init(&t->timer);
  t->wait_kind = CORRAL__W_NONE;
  if (self) corral__locals_inherit(t, self);
  corral__copy_name_fast(t->name, o && o->name ? o->name : "task",
                         rt->valgrind);
  corral__scope *rs = &t->root_scope;
  rs->parent = root ? NULL : &g->scope;
  rs->owner = t;
  rs->magic = CORRAL__SCOPE_MAGIC;
  rs->name = t->name;
  rs->entered = 1;
  t->scope = rs;
  t->group = g;
  if (g) g->running++;
  t->state = CORRAL__T_NEW;
  rt->sched.alive++;
  if (out) *out = public_handle ? corral__task_handle(t) : t;
  if (self && (o_eager | (g ? g->eager : 0)) && !rt->sched.rng &&
      !self->compact) { /* shuffle mode and compact spawners stay lazy */
    /* Eager: the child runs now; the spawner resumes right after it. It
     * joins its group's lists only if it suspends (corral__task_link):
     * until then nothing else runs, and one that ends first never does. */
    self->state = CORRAL__T_RUNNABLE;
    unsigned b = corral__budget(rt);
    if (likely(b && !t->compact && !rt->stacks.pools.ncanary) &&
        corral__stack_acquire_fast(&rt->stacks.pools,
                              ss ? ss : rt->stacks.default_size,
                              &t->stack) == 0) {
      /* Straight into the child (its group's scope is not cancelled: it
       * was checked above). The spawner waits outside the run queue: the
       * child's end jumps straight back to it, and a child that suspends
       * first queues it at the front (corral__task_link). */
      corral__budget_set(rt, b - 1);
      t->eager_parent = self;
#ifdef CORRAL__CTX_HAVE_START
      /* corral__resume, entering the child's function directly. */
      t->state = CORRAL__T_RUNNING;
      corral__set_current(rt, t);
      void *fake = NULL;
      corral__asan_enter(&fake, t->stack->lo, t->stack->size);
      corral__ctx_start(&self->ctx,
                        (void *)(((uintptr_t)t->stack->lo + t->stack->size) &
                                 ~(uintptr_t)15),
                        corral__task_entry, t);
      corral__asan_arrived(fake);
#else
      corral__ctx_make(&t->ctx, t->stack->lo, t->stack->size,
                       corral__task_entry, t);
      corral__resume(rt, &self->ctx, t);
#endif
      return 0;
    }
    link_one(t);
    corral__runq_push_front(rt, self);
    corral__runq_push_front(rt, t); /* the general path, failures and all */
    corral__switch_out_inline(rt, self);
    return 0;
  }
  link_one(t);
  corral__runq_push(rt, t);
  return 0;
}

int corral__spawn(corral__rt *rt, corral__group *g, corral_fn fn, void *arg,
                  const corral_spawn_opts *o, corral_task **out,
                  const char *file, int line) {
  return spawn_impl(rt, g, fn, arg, o, out, file, line, false);
}

/* The public call inlines the whole spawn: one frame less to return
 * through (mispredicted) after an eager child switches back. */
int corral_spawn_at(corral_group *cg, corral_fn fn, void *arg,
                    const corral_spawn_opts *opts, corral_task **out,
                    const char *file, int line) {
  corral__rt *rt = corral__tl_rt;
  if (out) *out = NULL;
  if (!rt || !rt->sched.current) return CORRAL_ENOTASK;
  corral_task *self = rt->sched.current;
  int rc = spawn_impl(rt, (corral__group *)cg, fn, arg, opts, out, file, line,
                      true);
  return unlikely(rc) ? corral__fail(self, rc) : 0;
}

int corral_spawn_with_at(corral_group *cg, corral_fn fn, void *arg,
                         corral_spawn_opts opts, corral_task **out,
                         const char *file, int line) {
  return corral_spawn_at(cg, fn, arg, &opts, out, file, line);
}

int corral_spawn_named_at(corral_group *cg, corral_fn fn, void *arg,
                          const char *name, corral_task **out,
                          const char *file, int line) {
  corral__rt *rt = corral__tl_rt;
  if (out) *out = NULL;
  if (!rt || !rt->sched.current) return CORRAL_ENOTASK;
  corral_spawn_opts o = {name, 0, 0, 0};
  corral_task *self = rt->sched.current;
  int rc = spawn_impl(rt, (corral__group *)cg, fn, arg, &o, out, file, line,
                      true);
  return unlikely(rc) ? corral__fail(self, rc) : 0;
}

static void finish(corral_task *t, int rc, void *res) {
  corral__scope *cs;
  if (rc == 0) {
    t->out.status = CORRAL_STATUS_OK;
    t->out.code = 0;
    t->out.result = res;
  } else if (rc == CORRAL_ECANCELED) {
    cs = corral__cancelled_scope(t->scope);
    corral__end_cancelled(t, cs);
  } else {
    t->out.status = CORRAL_STATUS_ERROR;
    t->out.code = rc;
    t->out.error = corral__error_for(t, rc);
  }
}

static void structure_violation(corral_task *t) {
  const char *what = t->open_groups ? "a group" : "a cancel scope";
  const char *name = t->open_groups ? t->open_groups->scope.name : t->scope->name;
  fprintf(t->rt->report,
          "corral: task '%s' returned with %s ('%s') still open; every "
          "corral_scope_enter / corral_group_open needs its exit / close "
          "before the function returns\n",
          t->name, what, name);
  abort();
}

/* Closing the implicit (create_task) group when the task's function has
 * returned: see corral_create_task in corral.h. */
static int close_implicit(corral__rt *rt, corral_task *t, int rc) {
  corral__group *g = t->implicit;
  if (rc < 0 && !g->scope.cancelled)
    corral__scope_cancel(rt, &g->scope, CORRAL_CANCEL_PARENT, t->name,
                         "the parent task ended with an error");
  int grc = corral__group_close(rt, g, rc < 0 ? rc : 0);
  corral__free(rt, g);
  t->implicit = NULL;
  if (grc != CORRAL_EGROUP) return rc;
  /* An aggregate of the task's own error alone: no child error nobody
   * joined, so the task keeps its own code and record. */
  const corral_error *agg = t->last_err;
  if (rc < 0 && rc != CORRAL_ECANCELED && agg &&
      corral_error_code(agg) == CORRAL_EGROUP && corral_error_count(agg) == 1 &&
      corral_error_code(corral_error_child(agg, 0)) == rc) {
    corral__set_last_error(
        t, corral_error_ref((corral_error *)corral_error_child(agg, 0)));
    return rc;
  }
  return grc;
}

static void task_release_records(corral__rt *rt, corral_task *t) {
  corral_error_unref(t->out.error);
  corral_error_unref(t->last_err);
  corral__free(rt, t->out.reason);
}

static inline __attribute__((always_inline)) void
task_unref(corral__rt *rt, corral_task *t) {
  if (--t->refs) return;
  t->gen = 0; /* its handles are stale from here on */
  if (unlikely(t->out.error || t->last_err || t->out.reason))
    task_release_records(rt, t);
  corral__slab_free(&rt->slabs, t);
}

void corral__task_unref(corral__rt *rt, corral_task *t) { task_unref(rt, t); }

/* Everything that ends a task but giving back its stack and struct. */
static inline __attribute__((always_inline)) void
finalize_books(corral__rt *rt, corral_task *t) {
  if (t->compact) {
    if (rt->stacks.shared_owner == t) rt->stacks.shared_owner = NULL;
    corral__free(rt, t->csave);
    t->csave = NULL;
    t->stack = NULL; /* the shared stack is not ours to release */
  }
  if (unlikely(rt->stacks.pools.paint) && t->stack)
    t->stack_peak = (uint32_t)corral__stack_peak(&rt->stacks.pools, t->stack);
  corral__scope *rs = &t->root_scope;
  if (likely(!rs->info && !rs->cancelled)) {
    /* The usual end: out of the group scope's children, nothing else to
     * undo (a root scope has no timer, and no child scope outlives it). */
    if (rs->parent && t->linked) corral__scope_unlink(rs);
    rs->parent = NULL;
  } else {
    if (!t->linked) rs->parent = NULL; /* in no list: nothing to unlink */
    corral__scope_detach(rt, rs);
  }
  while (unlikely(t->locals)) { /* a destructor may set another value */
    corral__locals *l = t->locals;
    t->locals = NULL; /* destructors see none */
    corral__locals_release(rt, l);
  }
  t->done_seq = ++rt->sched.done_seq;
  t->finalized = 1;
  if (t->waiters) corral__ring_wake_all(&t->waiters);
  if (t->group) corral__group_child_ended(rt, t->group, t);
  if (t->owned) corral__task_hold(rt, t);
  rt->sched.alive--;
}

/* Out of its group's lists now: g_next / g_prev are free. */
void corral__task_hold(corral__rt *rt, corral_task *t) {
  if (t->held) return;
  t->held = 1;
  t->g_prev = NULL;
  t->g_next = rt->held;
  if (rt->held) rt->held->g_prev = t;
  rt->held = t;
}

static void held_remove(corral__rt *rt, corral_task *t) {
  if (!t->held) return;
  t->held = 0;
  if (t->g_prev)
    t->g_prev->g_next = t->g_next;
  else
    rt->held = t->g_next;
  if (t->g_next) t->g_next->g_prev = t->g_prev;
  t->g_next = t->g_prev = NULL;
}

/* The runtime's end: handles never released die with it, and what their
 * tasks still held (error records, the cancel reason) is freed. */
void corral__release_held(corral__rt *rt) {
  while (rt->held) {
    corral_task *t = rt->held;
    held_remove(rt, t);
    t->owned = 0;
    t->handle = 0;
    task_unref(rt, t);
  }
}

/* A task that never ran (cancelled before it started, or no stack). */
void corral__task_finalize(corral__rt *rt, corral_task *t) {
  finalize_books(rt, t);
  if (t->stack) corral__stack_release(&rt->stacks.pools, t->stack);
  t->stack = NULL;
  corral__task_unref(rt, t);
}

/* A task's end, on its own stack: it settles its own books, picks the next
 * task, gives its stack back and jumps there, saving nothing. Inlined in
 * the task's first frame, which was entered by a jump (see ctx_boot): the
 * return predictor stays as the task that resumes left it. An eager child
 * that ended inside its spawn call goes straight back to its spawner. In a
 * wake-up storm (a cancelled group of thousands) the next tasks' memory is
 * cold: it is prefetched here as in every switch (without it fail_fast took
 * half again as long). */
static inline __attribute__((always_inline, noreturn)) void
task_exit(corral__rt *rt, corral_task *t) {
  if (unlikely(rt->stacks.pools.ncanary) && !corral__stack_ok(t->stack))
    corral__stack_overflow_abort(t->name, t->stack);
  corral_task *next = t->linked ? NULL : t->eager_parent;
  finalize_books(rt, t);
  corral__stack *st = t->stack; /* NULL for a compact task */
  bool compact = t->compact;
  t->stack = NULL;
  corral__set_current(rt, NULL);
  task_unref(rt, t); /* t may be gone from here on */
  /* Still on st: it goes back to the pool only after the next task is
   * picked (preparing a NEW one takes a stack, and must not take this). */
  if (!next) {
    next = corral__pick_next(rt, NULL, compact);
    corral__prefetch_queue(rt);
  }
  if (st) corral__stack_release(&rt->stacks.pools, st);
  corral__resume_jump(rt, next);
}

void corral__task_entry(void *arg) {
  corral_task *t = arg;
  corral__rt *rt = t->rt;
  corral__asan_arrived(NULL);
  void *res = NULL;
  int rc = t->fn(t->arg, &res);
  if (t->scope != &t->root_scope || t->open_groups) structure_violation(t);
  if (t->implicit) {
    if (t->implicit->first_child)
      corral__frame_orphans(rt, t, (const char *)&res);
    rc = close_implicit(rt, t, rc);
  }
  finish(t, rc, res);
  t->state = CORRAL__T_DONE;
  task_exit(rt, t);
}

/* ---- public task calls ---- */

/* A handle's task for a call that returns a code: a stale handle is
 * CORRAL_EINVAL. */
static int task_arg(const corral_task *h, corral_task **t) {
  int rc = corral__task_of(h, t);
  return rc == CORRAL__H_STALE ? CORRAL_EINVAL : rc;
}

/* A handle's task for a call with no code to return (NULL handled by the
 * caller): misuse aborts, naming the call. */
static corral_task *task_get(const corral_task *h, const char *call) {
  corral_task *t = NULL;
  int rc = corral__task_of(h, &t);
  if (rc) corral__handle_abort(call, h, rc);
  return t;
}

void corral__handle_abort(const char *call, const corral_task *h, int why) {
  const char *what =
      why == CORRAL__H_STALE
          ? "is stale: released already (or never owned: corral_current), "
            "or its task ended and was freed after the last release"
      : why == CORRAL_ENOTASK
          ? "is used outside the runtime that made it (handles die when "
            "corral_run returns)"
          : "belongs to another runtime";
  corral__rt *rt = corral__tl_rt;
  fprintf(rt ? rt->report : stderr, "corral: %s: task handle %p %s\n", call,
          (const void *)h, what);
  abort();
}

/* A cancelled joiner leaves t's ring at once (see corral__wait). */
static void join_leave(const corral__wait *w, corral_task *self) {
  (void)self;
  corral_task *t = w->arg;
  corral__ring_remove(&t->waiters, w->node);
}

int corral__task_wait_done(corral_task *self, corral_task *t,
                           bool abortable) {
  while (!t->finalized) {
    corral__waiter w = {.task = self};
    corral__ring_push(&t->waiters, &w.node);
    const corral__wait rec = {.arg = t, .node = &w.node, .leave = join_leave};
    int rc = corral__park(self, CORRAL__W_JOIN,
                          abortable ? &rec : CORRAL__UNABORTABLE,
                          CORRAL_FOREVER);
    corral__ring_remove(&t->waiters, &w.node);
    if (rc) return rc;
  }
  return 0;
}

int corral__task_result(corral_task *self, corral_task *t, void **result) {
  t->joined = 1;
  switch (t->out.status) {
  case CORRAL_STATUS_OK:
    if (result) *result = t->out.result;
    return 0;
  case CORRAL_STATUS_ERROR:
    corral__set_last_error(self, corral_error_ref(t->out.error));
    return t->out.code;
  case CORRAL_STATUS_TIMED_OUT:
    return CORRAL_ETIMEDOUT;
  default:
    return CORRAL_ECANCELED;
  }
}

int corral_join(corral_task *h, void **result) {
  corral_task *self = corral__self(), *t;
  int rc = task_arg(h, &t);
  if (rc) return rc;
  if (!self) return CORRAL_ENOTASK;
  if (t == self) return CORRAL_EDEADLK;
  CORRAL__NO_COMPACT(self, "corral_join");
  if (t->joined) return CORRAL_EJOINED;
  if (t->finalized) { /* a checkpoint all the same: takes nothing if so */
    if (corral__checkpoint_scope(self->rt, self))
      return corral__fail(self, CORRAL_ECANCELED);
    corral__quick_done(self->rt, self);
  }
  rc = corral__task_wait_done(self, t, true);
  if (rc) return rc;
  return corral__task_result(self, t, result);
}

/* A task ended by the cancellation of scope cs (NULL: it returned the
 * cancel code on its own): CANCELLED, or TIMED_OUT when cs was cancelled by
 * its deadline (a group's or wait_for's timeout). One vocabulary for
 * groups, gather and wait_for. */
void corral__end_cancelled(corral_task *t, corral__scope *cs) {
  /* Its own deadline (wait_for) or its group's: not one inherited from
   * further out, which is a cancellation from outside. */
  bool timed = cs && cs->kind == CORRAL_CANCEL_DEADLINE &&
               (cs->owner == t || (t->group && cs == &t->group->scope));
  t->out.status = timed ? CORRAL_STATUS_TIMED_OUT : CORRAL_STATUS_CANCELLED;
  t->out.code = timed ? CORRAL_ETIMEDOUT : CORRAL_ECANCELED;
  if (cs && t->handle) corral__set_reason(t, cs); /* only a handle can ask */
}

void corral__set_reason(corral_task *t, corral__scope *cs) {
  if (!t->out.reason) t->out.reason = corral__malloc(t->rt, sizeof *t->out.reason);
  if (t->out.reason) corral__fill_reason(t, cs, t->out.reason);
}

corral_status corral_task_status(const corral_task *h) {
  return h ? task_get(h, "corral_task_status")->out.status
           : CORRAL_STATUS_PENDING;
}
int corral_task_code(const corral_task *h) {
  return h ? task_get(h, "corral_task_code")->out.code : 0;
}
void *corral_task_result(const corral_task *h) {
  return h ? task_get(h, "corral_task_result")->out.result : NULL;
}
const corral_error *corral_task_error(const corral_task *h) {
  return h ? task_get(h, "corral_task_error")->out.error : NULL;
}

int corral_task_cancel_reason(const corral_task *h, corral_cancel_reason *out) {
  corral_task *t;
  int rc = task_arg(h, &t);
  if (rc) return rc;
  if (!out) return CORRAL_EINVAL;
  if (t->out.status != CORRAL_STATUS_CANCELLED &&
      t->out.status != CORRAL_STATUS_TIMED_OUT)
    return CORRAL_ENOENT;
  if (t->out.reason)
    *out = *t->out.reason;
  else
    memset(out, 0, sizeof *out);
  return 0;
}

void corral__outcome_copy(const corral_task *t, corral_outcome *o) {
  memset(o, 0, sizeof *o);
  o->status = t->out.status;
  o->code = t->out.code;
  o->result = t->out.result;
  o->error = corral_error_ref(t->out.error);
  if (t->out.reason) o->reason = *t->out.reason;
}

corral_status corral_task_outcome(const corral_task *h, corral_outcome *out) {
  const corral_task *t = h ? task_get(h, "corral_task_outcome") : NULL;
  if (!out) return t ? t->out.status : CORRAL_STATUS_PENDING;
  if (!t) {
    memset(out, 0, sizeof *out);
    return CORRAL_STATUS_PENDING;
  }
  corral__outcome_copy(t, out);
  return out->status;
}

int corral_task_done(const corral_task *h) {
  return h ? task_get(h, "corral_task_done")->finalized : 0;
}

const char *corral_task_name(const corral_task *h) {
  return h ? task_get(h, "corral_task_name")->name : NULL;
}

size_t corral_task_stack_peak(const corral_task *h) {
  return h ? task_get(h, "corral_task_stack_peak")->stack_peak : 0;
}

void corral_task_release(corral_task *h) {
  if (!h) return;
  corral_task *t = task_get(h, "corral_task_release");
  if (!t->owned) corral__handle_abort("corral_task_release", h, CORRAL__H_STALE);
  held_remove(t->rt, t);
  t->owned = 0;
  t->handle = 0;
  corral__task_unref(t->rt, t);
}

int corral_cancel(corral_task *h, const char *message) {
  corral_task *t;
  int rc = task_arg(h, &t);
  if (rc) return rc;
  corral__rt *rt = t->rt;
  if (t->finalized) return CORRAL_ESRCH;
  corral_task *self = rt->sched.current;
  corral__scope_cancel(rt, &t->root_scope, CORRAL_CANCEL_EXPLICIT,
                       self ? self->name : "corral", message);
  return 0;
}
