/* The runtime: run queue, parking, timers, the loop driving libuv. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "schedule.h"


#include <pthread.h>
#include <stdlib.h>
#include <string.h>


_Thread_local corral__rt *corral__tl_rt;

/* Virtual time starts at 1 s so that no real deadline is ever 0. */
#define CORRAL__VIRTUAL_EPOCH 1000000000LL
/* Poll I/O at least every this many scheduler passes while the run queue
 * never empties; a pass runs up to CORRAL__BUDGET tasks back to back. */
#define CORRAL__POLL_EVERY 4
#define CORRAL__BUDGET 256

/* ---- allocation ---- */

static void *std_malloc(void *c, size_t n) { (void)c; return malloc(n); }
static void *std_realloc(void *c, void *p, size_t n) {
  (void)c;
  return realloc(p, n);
}
static void std_free(void *c, void *p) { (void)c; free(p); }

void *corral__malloc(corral__rt *rt, size_t n) {
  return rt->al.malloc(rt->al.ctx, n);
}
void *corral__calloc(corral__rt *rt, size_t n) {
  void *p = corral__malloc(rt, n);
  if (p) memset(p, 0, n);
  return p;
}
void *corral__realloc(corral__rt *rt, void *p, size_t n) {
  return rt->al.realloc(rt->al.ctx, p, n);
}
void corral__free(corral__rt *rt, void *p) {
  if (p) rt->al.free(rt->al.ctx, p);
}
char *corral__strdup(corral__rt *rt, const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = corral__malloc(rt, n);
  if (d) memcpy(d, s, n);
  return d;
}
static void *pool_alloc(void *c, size_t n) { return corral__malloc(c, n); }
static void pool_free(void *c, void *p) { corral__free(c, p); }

/* ---- time ---- */

int64_t corral__now(corral__rt *rt) {
  return rt->virtual_clock ? rt->vnow : (int64_t)uv_hrtime();
}

int64_t corral_now(void) {
  corral__rt *rt = corral__tl_rt;
  return rt ? corral__now(rt) : (int64_t)uv_hrtime();
}

uv_loop_t *corral_loop(void) {
  corral__rt *rt = corral__tl_rt;
  return rt ? rt->loop : NULL;
}

const char *corral_context_backend(void) { return corral__ctx_backend(); }

const char *corral_stack_guard_mode(void) {
  corral__rt *rt = corral__tl_rt;
  return rt ? corral__stack_mode_name(rt->pools.mode) : NULL;
}

unsigned corral_version(void) { return CORRAL_VERSION_HEX; }
const char *corral_version_string(void) { return "0.1.0"; }

corral_task *corral_current(void) { return corral__self(); }

/* ---- run queue ---- */

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
  corral_task *t = rt->rq_head;
  size_t n = 0;
  for (corral_task *c = t; c; c = c->rq_next) n++;
  size_t k = xorshift(&rt->rng) % n;
  corral_task *prev = NULL;
  while (k--) prev = t, t = t->rq_next;
  if (prev) {
    prev->rq_next = t->rq_next;
    if (rt->rq_tail == t) rt->rq_tail = prev;
  } else {
    rt->rq_head = t->rq_next;
    if (!rt->rq_head) rt->rq_tail = NULL;
  }
  t->rq_next = NULL;
  return t;
}

/* ---- switching ---- */

/* ---- compact tasks: one shared stack, live bytes saved on eviction ---- */

#if CORRAL__COMPACT_OK
static char *shared_top(corral__rt *rt) {
  return (char *)(((uintptr_t)rt->shared->lo + rt->shared->size) &
                  ~(uintptr_t)15);
}
#endif

/* Put t's frames on the shared stack, evicting the resident task. Must not
 * run on the shared stack. */
void corral__compact_load(corral__rt *rt, corral_task *t) {
#if !CORRAL__COMPACT_OK
  (void)rt, (void)t;
  abort(); /* no task is compact in this build */
#else
  corral_task *o = rt->shared_owner;
  if (o == t) return;
  char *top = shared_top(rt);
  if (o) {
    size_t len = (size_t)(top - (char *)o->ctx.sp);
    if (!o->csave || len > o->csave->cap) {
      corral__csave *b =
          corral__realloc(rt, o->csave, sizeof *b + len);
      if (!b) {
        fprintf(rt->report, "corral: out of memory saving compact task '%s'\n",
                o->name);
        abort();
      }
      o->csave = b;
      b->cap = (uint32_t)len;
    }
    memcpy(o->csave->bytes, o->ctx.sp, len);
    o->csave->len = (uint32_t)len;
  }
  rt->shared_owner = t;
#ifdef CORRAL_HAVE_VALGRIND
  /* Valgrind saw the shared stack's previous owner leave with its stack
   * pointer higher than where t's frames go: tell it they are written. */
  size_t need = t->cnew ? 64 : t->csave->len;
  VALGRIND_MAKE_MEM_UNDEFINED(top - need, need);
#endif
  if (t->cnew) {
    t->cnew = 0;
    corral__ctx_make(&t->ctx, rt->shared->lo, rt->shared->size,
                     corral__task_entry, t);
  } else {
    memcpy(top - t->csave->len, t->csave->bytes, t->csave->len);
  }
#endif
}

/* Make a NEW task ready to run: a task cancelled before it ever ran never
 * runs nor gets a stack; a stack that cannot be had fails the task. Returns
 * false when the task finished here without running. */
bool corral__prepare(corral__rt *rt, corral_task *t) {
  corral__scope *cs = corral__cancelled_scope(t->scope);
  if (cs) {
    t->out.status = CORRAL_CANCELLED;
    t->out.code = CORRAL_ECANCELED;
    if (t->handle) corral__set_reason(t, cs); /* only a handle can ask */
  } else {
    int rc = 0;
    if (t->compact) {
      if (!rt->shared)
        rc = corral__stack_acquire(&rt->pools, rt->pools_default_size,
                                   &rt->shared);
      if (rc == 0) {
        t->stack = rt->shared;
        t->cnew = 1; /* laid out by compact_load */
        return true;
      }
    } else {
      rc = corral__stack_acquire_fast(
          &rt->pools, t->stack_size ? t->stack_size : rt->pools_default_size,
          &t->stack);
    }
    if (rc == 0) {
      corral__ctx_make(&t->ctx, t->stack->lo, t->stack->size,
                       corral__task_entry, t);
      return true;
    }
    t->out.status = CORRAL_ERROR;
    t->out.code = rc;
    t->out.error = corral__error_new(rt, rc, t->name,
                                     "could not allocate the task's stack");
  }
  t->state = CORRAL__T_DONE;
  corral__task_finalize(rt, t);
  return false;
}

/* The hottest path there is: a task yielding to the head of the run queue.
 * It rotates the queue and switches straight there; anything unusual (an
 * empty queue, a task not started yet, a compact task, the budget spent, a
 * test mode) takes the general path. */
int corral_yield(void) {
  corral__rt *rt = corral__tl_rt;
  corral_task *self = rt ? rt->current : NULL;
  if (unlikely(!self)) return CORRAL_ENOTASK;
  if (unlikely(rt->ncancelled) && corral__cancelled_scope_walk(self->scope))
    return CORRAL_ECANCELED;
  self->state = CORRAL__T_RUNNABLE;
  self->rq_next = NULL;
  corral_task *next = rt->rq_head;
  if (likely(next && rt->budget && !rt->rng && !rt->pools.ncanary &&
             next->state == CORRAL__T_RUNNABLE && !next->compact &&
             self->linked)) {
    rt->budget--;
    corral_task *after = next->rq_next;
    if (after) {
      rt->rq_head = after;
      rt->rq_tail->rq_next = self;
    } else {
      rt->rq_head = self;
    }
    rt->rq_tail = self;
    next->rq_next = NULL;
    next->state = CORRAL__T_RUNNING;
    rt->current = next;
    void *fake = NULL;
    corral__asan_enter(&fake, next->stack->lo, next->stack->size);
    corral__ctx_switch(&self->ctx, &next->ctx);
    corral__asan_arrived(fake);
    return 0;
  }
  corral__runq_push(rt, self);
  corral__switch_out_inline(rt, self);
  return 0;
}

static void run_task(corral__rt *rt, corral_task *t) {
  if (t->state == CORRAL__T_NEW && !corral__prepare(rt, t)) return;
  if (t->compact) corral__compact_load(rt, t);
  t->state = CORRAL__T_RUNNING;
  rt->current = t;
  rt->budget = CORRAL__BUDGET;
  corral__asan_enter(&rt->asan_fake, t->stack->lo, t->stack->size);
  corral__ctx_switch(&rt->sched_ctx, &t->ctx);
  corral__asan_arrived(rt->asan_fake);
  rt->current = NULL;
}

/* ---- parking ---- */

int corral__park(corral_task *t, int64_t deadline, bool cancellable,
                 int what) {
  corral__rt *rt = t->rt;
  if (cancellable && corral__cancelled_scope(t->scope)) return CORRAL_ECANCELED;
  if (deadline != CORRAL_FOREVER) {
    int rc = corral__timer_start(rt, &t->timer, deadline, CORRAL__TIMER_TASK);
    if (rc) return rc;
  }
  t->state = CORRAL__T_BLOCKED;
  t->cancellable = cancellable;
  t->wait_what = (uint8_t)what;
  t->wake_rc = 0;
  corral__switch_out_inline(rt, t); /* inlined: one frame less per sleeper */
  if (t->timer.idx != CORRAL__TIMER_OFF) corral__timer_stop(rt, &t->timer);
  t->cancellable = 0;
  t->wait_what = CORRAL__W_NONE;
  return t->wake_rc;
}

void corral__wake(corral_task *t, int rc) {
  if (t->state != CORRAL__T_BLOCKED) return;
  t->state = CORRAL__T_RUNNABLE;
  t->wake_rc = rc;
  corral__runq_push(t->rt, t);
}

/* ---- timers ---- */

int corral__timer_start(corral__rt *rt, corral__timer *tm, int64_t deadline,
                        int kind) {
  if (tm->idx != CORRAL__TIMER_OFF) corral__heap_remove(&rt->timers, tm);
  tm->deadline = deadline;
  tm->seq = rt->timer_seq++;
  tm->kind = (uint8_t)kind;
  return corral__heap_push(rt, &rt->timers, tm);
}

void corral__timer_stop(corral__rt *rt, corral__timer *tm) {
  if (tm->idx != CORRAL__TIMER_OFF) corral__heap_remove(&rt->timers, tm);
}

static void fire_timers(corral__rt *rt, int64_t now) {
  corral__timer *tm;
  /* Tombstones are popped only once their deadline is due: cancelling many
   * sleepers costs no heap work until then. */
  while (corral__heap_peek(&rt->timers) <= now &&
         (tm = corral__heap_min(&rt->timers)) && tm->deadline <= now) {
    corral__heap_pop(&rt->timers);
    if (tm->kind == CORRAL__TIMER_TASK)
      corral__wake(corral__task_of_timer(tm), CORRAL_ETIMEDOUT);
    else
      corral__scope_deadline_fired(rt, corral__scope_of_timer(tm));
  }
}

static void on_uvtimer(uv_timer_t *h) { (void)h; }

/* ---- deadlock ---- */

static void wake_all_blocked(corral__rt *rt, corral_task *t) {
  if (t->state == CORRAL__T_BLOCKED && t->cancellable)
    corral__wake(t, CORRAL_EDEADLK);
  for (corral__group *g = t->open_groups; g; g = g->prev_open)
    for (corral_task *c = g->first_child; c; c = c->g_next)
      wake_all_blocked(rt, c);
  if (t->implicit)
    for (corral_task *c = t->implicit->first_child; c; c = c->g_next)
      wake_all_blocked(rt, c);
}

static void on_deadlock(corral__rt *rt) {
  if (++rt->deadlocked == 1) {
    fprintf(rt->report,
            "corral: deadlock: %zu task(s) blocked, nothing can wake them\n",
            rt->alive);
    corral__dump(rt, rt->report);
    fflush(rt->report);
    corral__scope_cancel(rt, &rt->root->root_scope, CORRAL_CANCEL_DEADLOCK,
                         "corral", "deadlock detected");
    return;
  }
  if (rt->deadlocked > 10000) {
    fprintf(rt->report, "corral: tasks keep blocking after a deadlock; abort\n");
    abort();
  }
  /* Shielded waits too: force every blocked wait to fail. */
  wake_all_blocked(rt, rt->root);
}

/* ---- the loop ---- */

/* One pass: run up to a budget of tasks, then timers, I/O, time. */
static void run_loop(corral__rt *rt) {
  unsigned since_poll = 0;
  while (rt->alive > 0) {
    corral_task *t = corral__runq_pop(rt);
    if (t) run_task(rt, t);
    if (rt->alive == 0) break;
    if (!rt->virtual_clock) fire_timers(rt, (int64_t)uv_hrtime());
    if (rt->rq_head) {
      /* Busy: still poll I/O now and then so it is never starved. */
      if (++since_poll >= CORRAL__POLL_EVERY && uv_loop_alive(rt->loop)) {
        since_poll = 0;
        uv_run(rt->loop, UV_RUN_NOWAIT);
      }
      continue;
    }
    since_poll = 0;
    if (rt->virtual_clock && uv_loop_alive(rt->loop)) {
      if (rt->autojump_ms > 0 && corral__heap_peek(&rt->timers) != INT64_MAX) {
        /* Give pending I/O a chance before time jumps (Trio's threshold). */
        uv_update_time(rt->loop);
        uv_timer_start(&rt->uvtimer, on_uvtimer, (uint64_t)rt->autojump_ms, 0);
        uv_run(rt->loop, UV_RUN_ONCE);
        uv_timer_stop(&rt->uvtimer);
      } else {
        uv_run(rt->loop, UV_RUN_NOWAIT);
      }
      if (rt->rq_head) continue;
    }
    corral__stack_trim(&rt->pools, uv_hrtime(), 4096); /* idle */
    /* Virtual time must jump to a live deadline; the real clock may wake
     * at a tombstone's (earlier) deadline and find nothing to do. */
    corral__timer *m = rt->virtual_clock ? corral__heap_min(&rt->timers) : NULL;
    int64_t next = rt->virtual_clock ? (m ? m->deadline : INT64_MAX)
                                     : corral__heap_peek(&rt->timers);
    if (m) {
      if (m->deadline > rt->vnow) rt->vnow = m->deadline; /* autojump */
      fire_timers(rt, rt->vnow);
    } else if (next != INT64_MAX) {
      int64_t ms = (next - (int64_t)uv_hrtime() + 999999) / 1000000;
      uv_update_time(rt->loop);
      uv_timer_start(&rt->uvtimer, on_uvtimer, (uint64_t)(ms > 0 ? ms : 0), 0);
      uv_run(rt->loop, UV_RUN_ONCE);
      uv_timer_stop(&rt->uvtimer);
      fire_timers(rt, (int64_t)uv_hrtime());
    } else if (uv_loop_alive(rt->loop)) {
      uv_run(rt->loop, UV_RUN_ONCE);
    } else {
      on_deadlock(rt); /* nothing runnable, no timer, no I/O */
    }
  }
}

/* ---- task memory: recycled, so spawn rarely calls the allocator ---- */

static void sched_stack_bounds(corral__rt *rt) {
#if defined(CORRAL_ASAN) && defined(__APPLE__)
  size_t size = pthread_get_stacksize_np(pthread_self());
  char *top = pthread_get_stackaddr_np(pthread_self()); /* the high end */
  rt->sched_stack_bottom = top - size;
  rt->sched_stack_size = size;
#elif defined(CORRAL_ASAN)
  pthread_attr_t a;
  void *lo;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &a) == 0) {
    if (pthread_attr_getstack(&a, &lo, &size) == 0) {
      rt->sched_stack_bottom = lo;
      rt->sched_stack_size = size;
    }
    pthread_attr_destroy(&a);
  }
#else
  (void)rt;
#endif
}

/* ---- entry ---- */

static const corral__stack *fault_who(void *ctx, const char **name,
                                      const corral__stack_pool **pool) {
  corral__rt *rt = ctx;
  corral_task *t = rt->current;
  *pool = &rt->pools;
  *name = t ? t->name : NULL;
  return t ? t->stack : NULL;
}

static void on_close(uv_handle_t *h) { (void)h; }

int corral_run(const corral_options *opts, corral_fn main_fn, void *arg,
               void **result) {
  corral_options o;
  if (opts)
    o = *opts;
  else
    memset(&o, 0, sizeof o);
  if (result) *result = NULL;
  if (!main_fn) return CORRAL_EINVAL;
  if (corral__tl_rt) return CORRAL_EBUSY; /* one runtime per thread */
  if (o.stack_size && (o.stack_size < CORRAL_STACK_MIN ||
                       o.stack_size > CORRAL_STACK_MAX))
    return CORRAL_EINVAL;
  corral_allocator al = {std_malloc, std_realloc, std_free, NULL};
  if (o.allocator) {
    if (!o.allocator->malloc || !o.allocator->realloc || !o.allocator->free)
      return CORRAL_EINVAL;
    al = *o.allocator;
  }
  corral__rt *rt = al.malloc(al.ctx, sizeof *rt);
  if (!rt) return CORRAL_ENOMEM;
  memset(rt, 0, sizeof *rt);
  rt->al = al;
  rt->al_default = !o.allocator;
  rt->huge_pages = o.huge_pages != 0;
  rt->report = o.report ? o.report : stderr;
  rt->virtual_clock = o.virtual_clock;
  rt->autojump_ms = o.autojump_threshold_ns > 0
                        ? (o.autojump_threshold_ns + 999999) / 1000000
                        : 0;
  rt->vnow = CORRAL__VIRTUAL_EPOCH;
  rt->rng = o.shuffle_seed;
  rt->stack_paint = o.stack_paint;
#ifdef CORRAL_HAVE_VALGRIND
  rt->valgrind = RUNNING_ON_VALGRIND != 0;
#endif
  rt->pools_default_size = o.stack_size ? o.stack_size : (size_t)256 * 1024;
  if (o.loop) {
    rt->loop = o.loop;
  } else {
    int rc = uv_loop_init(&rt->own_loop);
    if (rc) {
      al.free(al.ctx, rt);
      return rc;
    }
    rt->loop = &rt->own_loop;
  }
  uv_timer_init(rt->loop, &rt->uvtimer);
  corral__stack_pool_init(&rt->pools, !o.no_guard_install,
                          o.stack_cache ? o.stack_cache : 64, o.stack_paint,
                          pool_alloc, pool_free, rt);
  /* Page-rounded, as the pool keys its sizes (the fast path compares). */
  rt->pools_default_size = (rt->pools_default_size + rt->pools.page - 1) &
                           ~(rt->pools.page - 1);
  corral__fault_hook hook = {fault_who, rt};
  void *altstack = NULL;
  corral__fault_begin(&hook, &altstack);
  sched_stack_bounds(rt);
  corral__tl_rt = rt;

  corral_task *root = NULL;
  int rc = corral__spawn(rt, NULL, main_fn, arg,
                         &(const corral_spawn_opts){.name = "main"}, &root,
                         "corral_run", 0);
  if (rc == 0) {
    rt->root = root;
    run_loop(rt);
    rc = root->out.code;
    if (root->out.status == CORRAL_OK) {
      rc = 0;
      if (result) *result = root->out.result;
    }
    if (rt->deadlocked) rc = CORRAL_EDEADLK;
    corral_task_release(root);
  }

  corral__tcp_close_all(rt); /* no descriptor outlives the runtime */
  corral__tl_rt = NULL;
  corral__fault_end(altstack);
  uv_close((uv_handle_t *)&rt->uvtimer, on_close);
  uv_run(rt->loop, UV_RUN_NOWAIT);
  if (rt->loop == &rt->own_loop) {
    uv_run(rt->loop, UV_RUN_DEFAULT);
    uv_loop_close(rt->loop);
  }
  if (rt->shared) corral__stack_release(&rt->pools, rt->shared);
  corral__stack_pool_destroy(&rt->pools);
  corral__free(rt, rt->timers.v);
  corral__slab_destroy_all(rt);
  al.free(al.ctx, rt);
  return rc;
}
