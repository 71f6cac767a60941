/* The top of the library: corral_run, its option checks, the loop's
 * phases (run tasks, fire timers, poll I/O, jump virtual time), deadlock
 * handling, and the runtime's end, which closes every handle still open
 * through the I/O registry. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "core/group.h"
#include "io/io.h"
#include "io/threads.h"
#include "ground/fault.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Virtual time starts at 1 s so that no real deadline is ever 0. */
#define CORRAL__VIRTUAL_EPOCH 1000000000LL
/* Poll I/O at least every this many scheduler passes while the run queue
 * never empties; a pass runs up to CORRAL__BUDGET tasks back to back. */
#define CORRAL__POLL_EVERY 4

static void *pool_alloc(void *c, size_t n) { return corral__malloc(c, n); }
static void pool_free(void *c, void *p) { corral__free(c, p); }

/* ---- public odds and ends ---- */
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
  return rt ? corral__stack_mode_name(rt->stacks.pools.mode) : NULL;
}

unsigned corral_version(void) { return CORRAL_VERSION_HEX; }
const char *corral_version_string(void) { return "0.1.0"; }

corral_task *corral_current(void) {
  corral_task *t = corral__self();
  return t ? corral__task_handle(t) : NULL;
}

/* Which runtime a task handle belongs to: 1..7, in turn. */
static unsigned next_serial(void) {
  static unsigned serial;
  return __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED) % 7 + 1;
}

/* The runtime's own timer came due: corral's timers are due. If it fires
 * at the start of a pass (its deadline passed before the pass began), the
 * pass must not go on to block in poll (libuv would wait with no timeout
 * once this, its last timer, has fired): stop it. */
static void on_uvtimer(uv_timer_t *h) { uv_stop(h->loop); }

static int start_uvtimer(corral__rt *rt, uint64_t ms) {
  return CORRAL__UV("timer_start", EINVAL,
                    uv_timer_start(&rt->uvtimer, on_uvtimer, ms, 0));
}

static void fire_timers(corral__rt *rt, int64_t now) {
  corral__timers_fire(&rt->clock.timers, now);
  /* What the watchdog compares the real clock with (a stopped timer may
   * still be at the top: at worst one pass too many). */
  corral__watch_publish(&rt->watch, corral__timers_peek(&rt->clock.timers));
}

/* ---- deadlock ---- */

static void wake_all_blocked(corral__rt *rt, corral_task *t) {
  if (t->state == CORRAL__T_BLOCKED) corral__wait_abort(t, CORRAL_EDEADLK);
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
            rt->sched.alive);
    corral__dump(rt, rt->report);
    fflush(rt->report);
    corral__scope_cancel(rt, &rt->root->root_scope, CORRAL_CANCEL_DEADLOCK,
                         "corral", "deadlock detected");
    return;
  }
  /* Shielded waits too: force every blocked wait to fail. */
  wake_all_blocked(rt, rt->root);
  if (!rt->sched.rq_head || rt->deadlocked > 10000) {
    /* Nothing could be woken: what is left waits on foreign operations
     * whose abort callbacks failed and which will never finish (nothing in
     * the loop is alive to finish them). They cannot be unwound safely. */
    fprintf(rt->report,
            "corral: after a deadlock, %zu task(s) are still parked and "
            "cannot be unwound (their abort callbacks failed and nothing "
            "alive in the loop can complete them); abort\n",
            rt->sched.alive);
    corral__dump(rt, rt->report);
    fflush(rt->report);
    abort();
  }
}

/* ---- the loop ---- */

/* One libuv pass. A callback that wakes a task meanwhile (corral__wake)
 * stops the pass from blocking in poll: the task runs at once. */
static void poll_io(corral__rt *rt, uv_run_mode mode) {
  rt->sched.in_uv = 1;
  uv_run(rt->loop, mode);
  rt->sched.in_uv = 0;
}

/* One pass: run up to a budget of tasks, then timers, I/O, time. */
static void run_loop(corral__rt *rt) {
  unsigned since_poll = 0;
  while (rt->sched.alive > 0) {
    corral_task *t = corral__runq_pop(rt);
    if (t) corral__run_task(rt, t);
    if (unlikely(corral__preempt_pending(rt)))
      __atomic_store_n(&rt->sched.preempt, 0, __ATOMIC_RELAXED);
    if (rt->sched.alive == 0) break;
    if (!rt->clock.virtual_clock) fire_timers(rt, (int64_t)uv_hrtime());
    if (rt->sched.rq_head) {
      /* Busy: still poll I/O now and then so it is never starved. */
      if (++since_poll >= CORRAL__POLL_EVERY && uv_loop_alive(rt->loop)) {
        since_poll = 0;
        poll_io(rt, UV_RUN_NOWAIT);
      }
      continue;
    }
    since_poll = 0;
    if (rt->clock.virtual_clock && uv_loop_alive(rt->loop)) {
      if (rt->clock.autojump_ms > 0 && corral__timers_peek(&rt->clock.timers) != INT64_MAX) {
        /* Give pending I/O a chance before time jumps (Trio's threshold). */
        uv_update_time(rt->loop);
        /* A timer that cannot start must not let the loop sleep past it. */
        poll_io(rt, start_uvtimer(rt, (uint64_t)rt->clock.autojump_ms)
                        ? UV_RUN_NOWAIT
                        : UV_RUN_ONCE);
        uv_timer_stop(&rt->uvtimer);
      } else {
        poll_io(rt, UV_RUN_NOWAIT);
      }
      if (rt->sched.rq_head) continue;
    }
    corral__stack_trim(&rt->stacks.pools, uv_hrtime(), 4096); /* idle */
    /* Virtual time must jump to a live deadline; the real clock may wake
     * at a tombstone's (earlier) deadline and find nothing to do. */
    corral__timer *m = rt->clock.virtual_clock ? corral__timers_min(&rt->clock.timers) : NULL;
    int64_t next = rt->clock.virtual_clock ? (m ? m->deadline : INT64_MAX)
                                     : corral__timers_peek(&rt->clock.timers);
    if (m) {
      if (m->deadline > rt->clock.vnow) rt->clock.vnow = m->deadline; /* autojump */
      fire_timers(rt, rt->clock.vnow);
    } else if (next != INT64_MAX) {
      int64_t ms = (next - (int64_t)uv_hrtime() + 999999) / 1000000;
      uv_update_time(rt->loop);
      poll_io(rt, start_uvtimer(rt, (uint64_t)(ms > 0 ? ms : 0))
                      ? UV_RUN_NOWAIT
                      : UV_RUN_ONCE);
      uv_timer_stop(&rt->uvtimer);
      fire_timers(rt, (int64_t)uv_hrtime());
    } else if (uv_loop_alive(rt->loop)) {
      poll_io(rt, UV_RUN_ONCE);
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
  rt->sched.stack_bottom = top - size;
  rt->sched.stack_size = size;
#elif defined(CORRAL_ASAN)
  pthread_attr_t a;
  void *lo;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &a) == 0) {
    if (pthread_attr_getstack(&a, &lo, &size) == 0) {
      rt->sched.stack_bottom = lo;
      rt->sched.stack_size = size;
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
  corral_task *t = rt->sched.current;
  *pool = &rt->stacks.pools;
  *name = t ? t->name : NULL;
  return t ? t->stack : NULL;
}

static void on_close(uv_handle_t *h) { (void)h; }

static void close_leftover(uv_handle_t *h, void *arg) {
  if (uv_is_closing(h)) return;
  ++*(size_t *)arg;
  uv_close(h, NULL);
}

/* fork() in a task: the child inherits the runtime's memory but not its
 * threads, and its loop's epoll instance is shared with the parent, so
 * running it there would steal the parent's events and run copies of the
 * parent's tasks. In the child the forking thread is outside any runtime:
 * every call that needs one returns CORRAL_ENOTASK, and corral_run starts
 * a fresh runtime. */
static void forked_child(void) { corral__tl_rt = NULL; }
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void atfork_install(void) { pthread_atfork(NULL, NULL, forked_child); }

int corral_run(const corral_options *opts, corral_fn main_fn, void *arg,
               void **result) {
  corral_options o;
  if (opts)
    o = *opts;
  else
    memset(&o, 0, sizeof o);
  if (result) *result = NULL;
  if (o.error) *o.error = NULL;
  if (!main_fn) return CORRAL_EINVAL;
  if (corral__tl_rt) return CORRAL_EBUSY; /* one runtime per thread */
  if (o.stack_size && (o.stack_size < CORRAL_STACK_MIN ||
                       o.stack_size > CORRAL_STACK_MAX))
    return CORRAL_EINVAL;
  corral_allocator al = corral__std_allocator;
  if (o.allocator) {
    if (!o.allocator->malloc || !o.allocator->realloc || !o.allocator->free)
      return CORRAL_EINVAL;
    al = *o.allocator;
  }
  corral__rt *rt = al.malloc(al.ctx, sizeof *rt);
  if (!rt) return CORRAL_ENOMEM;
  memset(rt, 0, sizeof *rt);
  rt->al = al;
  rt->report = o.report ? o.report : stderr;
  rt->clock.virtual_clock = o.virtual_clock;
  rt->clock.autojump_ms = o.autojump_threshold_ns > 0
                        ? (o.autojump_threshold_ns + 999999) / 1000000
                        : 0;
  rt->clock.vnow = CORRAL__VIRTUAL_EPOCH;
  rt->sched.rng = o.shuffle_seed;
  rt->sched.quick_left = CORRAL__QUICK_EVERY;
  rt->serial = (uint8_t)next_serial();
  rt->threads.pool_size = o.offload_threads;
  rt->threads.drain_ns = o.offload_drain_ns ? o.offload_drain_ns
                                            : CORRAL_SEC(10);
  rt->stacks.paint = o.stack_paint;
#ifdef CORRAL_HAVE_VALGRIND
  rt->valgrind = RUNNING_ON_VALGRIND != 0;
#endif
  corral__slabs_init(&rt->slabs, sizeof(corral_task),
                     offsetof(corral_task, slab), &rt->al, !o.allocator,
                     o.huge_pages != 0, rt->valgrind);
  corral__io_init(rt);
  rt->stacks.default_size = o.stack_size ? o.stack_size : (size_t)256 * 1024;
  if (o.loop) {
    rt->loop = o.loop;
  } else {
    int rc = CORRAL__UV("loop_init", EMFILE, uv_loop_init(&rt->own_loop));
    if (rc) {
      al.free(al.ctx, rt);
      return rc;
    }
    rt->loop = &rt->own_loop;
  }
  int trc = CORRAL__UV("timer_init", ENOMEM, uv_timer_init(rt->loop, &rt->uvtimer));
  if (trc) {
    if (rt->loop == &rt->own_loop) uv_loop_close(rt->loop);
    al.free(al.ctx, rt);
    return trc;
  }
  corral__stack_pool_init(&rt->stacks.pools, !o.no_guard_install,
                          o.stack_cache ? o.stack_cache : 64, o.stack_paint,
                          pool_alloc, pool_free, rt);
  /* Page-rounded, as the pool keys its sizes (the fast path compares). */
  rt->stacks.default_size = (rt->stacks.default_size + rt->stacks.pools.page - 1) &
                           ~(rt->stacks.pools.page - 1);
  corral__fault_hook hook = {fault_who, rt};
  void *altstack = NULL;
  corral__fault_begin(&hook, &altstack);
  sched_stack_bounds(rt);
  corral__watch_start(rt, &o);
  pthread_once(&atfork_once, atfork_install);
  corral__tl_rt = rt;

  corral_task *root = NULL;
  int rc = corral__spawn(rt, NULL, main_fn, arg,
                         &(const corral_spawn_opts){.name = "main"}, &root,
                         "corral_run", 0);
  if (rc == 0) {
    rt->root = root;
    run_loop(rt);
    rc = root->out.code;
    if (root->out.status == CORRAL_STATUS_OK) {
      rc = 0;
      if (result) *result = root->out.result;
    }
    if (rt->deadlocked) rc = CORRAL_EDEADLK;
    /* The root's record reaches the caller (an aggregate included). */
    if (o.error && root->out.status == CORRAL_STATUS_ERROR)
      *o.error = corral_error_ref(root->out.error);
    root->handle = 0;
    corral__task_unref(rt, root);
  }
  corral__release_held(rt);

  corral__io_close_all(rt); /* no descriptor outlives the runtime */
  corral__pool_end(rt);     /* abandoned offloaded calls, worker threads */
  corral__watch_stop(rt);
  corral__tl_rt = NULL;
  corral__fault_end(altstack);
  uv_close((uv_handle_t *)&rt->uvtimer, on_close);
  uv_run(rt->loop, UV_RUN_NOWAIT);
  if (rt->loop == &rt->own_loop) {
    /* Handles a user put on corral_loop() and never closed would keep the
     * loop (and its descriptors) alive for ever: close them, and say so. */
    size_t left = 0;
    uv_walk(rt->loop, close_leftover, &left);
    if (left)
      fprintf(rt->report,
              "corral: %zu libuv handle(s) left open on corral_loop() were "
              "closed when the runtime ended (close your handles before "
              "the main task returns)\n",
              left);
    uv_run(rt->loop, UV_RUN_DEFAULT);
    uv_loop_close(rt->loop);
  }
  if (rt->stacks.shared) corral__stack_release(&rt->stacks.pools, rt->stacks.shared);
  corral__stack_pool_destroy(&rt->stacks.pools);
  corral__timers_free(&rt->clock.timers, &rt->al);
  corral__fdwait_free_table(rt);
  corral__lvals_free(rt);
  corral__aset_free(&rt->live, &rt->al);
  corral__slabs_destroy(&rt->slabs);
  al.free(al.ctx, rt);
  return rc;
}
