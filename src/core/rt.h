/* The runtime: one per thread, composed of one part per subsystem (Lua's
 * lstate.h is the model). Each part's type is declared next to the code
 * that owns it; this header only puts them together and gives the
 * thread's current runtime. */
#ifndef CORRAL_CORE_RT_H
#define CORRAL_CORE_RT_H

#include "core/error.h"
#include "core/scope.h"
#include "core/task.h"
#include "core/wait.h"
#include "core/watch.h"
#include "ground/alloc.h"
#include "ground/aset.h"
#include "ground/ctx.h"
#include "ground/heap.h"
#include "ground/list.h"
#include "ground/slab.h"
#include "ground/stack.h"

#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

/* Scheduler part (sched.h / sched.c). */
typedef struct corral__sched {
  corral_task *current;
  corral_task *rq_head, *rq_tail;
  unsigned budget;            /* direct switches left before the scheduler;
                                 the watchdog zeroes it when a deadline
                                 passed, so the next switch goes through the
                                 scheduler (relaxed atomic accesses: plain
                                 loads and stores) */
  uint64_t rng;               /* shuffle state, 0 = FIFO */
  size_t alive;               /* tasks not yet finalized */
  uint32_t done_seq;
  size_t ncancelled;          /* live cancelled scopes: 0 = skip the walk */
  uint32_t passes;            /* scheduler passes (run_task calls); with
                                 `current` and `budget`, what changes at
                                 every switch (the watchdog reads them) */
  uint8_t preempt;            /* set by the watchdog: a deadline passed */
  uint8_t in_uv;              /* inside uv_run (libuv callbacks may wake) */
  uint32_t quick_left;        /* blocking calls that may still complete at
                                 once before one yields (corral__quick_done;
                                 the watchdog zeroes it; relaxed atomic) */
  corral__ctx ctx;            /* the scheduler's own context */
  void *stack_bottom;         /* for ASan fiber switches */
  size_t stack_size;
  void *asan_fake;
} corral__sched;

/* Clock part: monotonic or virtual time, and the timers. */
typedef struct corral__clock {
  int virtual_clock;
  int64_t autojump_ms;        /* real ms to wait for I/O before a jump */
  int64_t vnow;
  corral__timers timers;
} corral__clock;

/* Stacks part (ground/stack.c) and the compact tasks' shared stack. */
typedef struct corral__stacks {
  corral__stack_pool pools;
  size_t default_size;        /* default task stack size, page-rounded */
  int paint;                  /* measure peak stack use */
  corral__stack *shared;      /* the compact tasks' stack */
  corral_task *shared_owner;  /* whose frames are on it now */
} corral__stacks;

/* I/O part (io/): the registry of open handles every family uses, closed
 * at the runtime's end (libuv's uv_walk is the model), and the table of
 * descriptors tasks wait on with corral_wait_readable / _writable. */
typedef struct corral__io {
  corral__list handles;
  struct corral__fdwait **fds;
  size_t nfds;
  struct corral__children *children; /* process.c: our live child processes */
} corral__io;

/* Threads part (io/thread.c, io/portal.c): the runtime's worker pool for
 * offloaded calls and the inbox other threads submit tasks through; both
 * made on first use. */
typedef struct corral__threads {
  struct corral__pool *pool;
  struct corral_portal *portal;
  size_t pool_size;           /* options: worker threads at most */
  int64_t drain_ns;           /* options: wait for abandoned work at the end */
} corral__threads;

struct corral__rt {
  corral__sched sched;
  corral__clock clock;
  corral__stacks stacks;
  corral__slabs slabs;        /* task structs */
  corral__io io;
  struct corral__lvals *lvals; /* task-local values' counts (local.c) */
  corral__aset live;          /* entered user scopes, open user groups and
                                 open channels:
                                 known without reading caller storage */
  corral__watch watch;
  corral__threads threads;
  corral_allocator al;
  uv_loop_t *loop;
  FILE *report;
  bool valgrind;              /* running under Valgrind: careful reads */
  /* The top (run.c). */
  uv_loop_t own_loop;
  uv_timer_t uvtimer;
  corral_task *root;
  corral_task *held;          /* finished tasks whose user handle is not
                                 released yet (linked by g_next / g_prev):
                                 the runtime's end releases them */
  int deadlocked;
  uint64_t select_rng;        /* channel.c: select's fair pick (xorshift) */
  struct corral__start *starts; /* corral_start calls in progress */
  uint8_t serial;             /* 1..7: which runtime a handle belongs to */
  uint16_t gen_seq;           /* last task generation handed out */
};

/* The thread's runtime. Initial-exec TLS: one %fs-relative load in the
 * shared library too, instead of a call to __tls_get_addr, which also made
 * every fast path that reads it (channel operations, yield) save registers
 * around the call. A library loaded with dlopen takes its 8 bytes from
 * glibc's reserve of static TLS for such libraries. */
#if defined(__GNUC__) && defined(__ELF__)
#define CORRAL__TLS_MODEL __attribute__((tls_model("initial-exec")))
#else
#define CORRAL__TLS_MODEL
#endif
CORRAL__HIDDEN extern _Thread_local corral__rt *corral__tl_rt CORRAL__TLS_MODEL;

static inline void *corral__malloc(corral__rt *rt, size_t n) {
  return corral__al_malloc(&rt->al, n);
}
static inline void *corral__calloc(corral__rt *rt, size_t n) {
  return corral__al_calloc(&rt->al, n);
}
static inline void *corral__realloc(corral__rt *rt, void *p, size_t n) {
  return corral__al_realloc(&rt->al, p, n);
}
static inline void corral__free(corral__rt *rt, void *p) {
  corral__al_free(&rt->al, p);
}
static inline char *corral__strdup(corral__rt *rt, const char *s) {
  return corral__al_strdup(&rt->al, s);
}

static inline unsigned corral__budget(const corral__rt *rt) {
  return __atomic_load_n(&rt->sched.budget, __ATOMIC_RELAXED);
}
static inline void corral__budget_set(corral__rt *rt, unsigned b) {
  __atomic_store_n(&rt->sched.budget, b, __ATOMIC_RELAXED);
}

static inline int64_t corral__now(corral__rt *rt) {
  return rt->clock.virtual_clock ? rt->clock.vnow : (int64_t)uv_hrtime();
}

/* The running task changes here only: a relaxed atomic store (a plain move
 * on the CPUs we build for), because the watchdog thread reads it. */
#define corral__set_current(rt, t)                                           \
  __atomic_store_n(&(rt)->sched.current, (t), __ATOMIC_RELAXED)

/* The watchdog's "a deadline passed" flag (a relaxed atomic load). */
#define corral__preempt_pending(rt)                                          \
  __atomic_load_n(&(rt)->sched.preempt, __ATOMIC_RELAXED)

static inline corral_task *corral__self(void) {
  corral__rt *rt = corral__tl_rt;
  return rt ? rt->sched.current : NULL;
}

/* Arm / stop a timer on the runtime's clock. */
static inline int corral__timer_arm(corral__rt *rt, corral__timer *tm,
                                    int64_t deadline, corral__timer_cb cb) {
  if (deadline < rt->watch.deadline)
    corral__watch_publish(&rt->watch, deadline);
  return corral__timer_start(&rt->clock.timers, &rt->al, tm, deadline, cb);
}
static inline void corral__timer_disarm(corral__rt *rt, corral__timer *tm) {
  corral__timer_stop(&rt->clock.timers, tm);
}

/* The nearest cancelled scope that reaches s (stops at shields), or NULL.
 * The runtime counts live cancelled scopes, so the walk is skipped
 * entirely while nothing is cancelled. */
static inline corral__scope *corral__cancelled_scope(corral__scope *s) {
  return s && s->owner && s->owner->rt->sched.ncancelled == 0
             ? NULL
             : corral__cancelled_scope_walk(s);
}

/* A cancellation (code CORRAL_ECANCELED) or the deadlock breaker (code
 * CORRAL_EDEADLK) reached parked task t: abort its wait as its wait record
 * says. An abort callback is asked at most once per wait for a
 * cancellation, and once more by the deadlock breaker's forced pass.
 * Inline: a cancelled group of thousands comes through here. */
static inline void corral__wait_abort(corral_task *t, int code) {
  const corral__wait *w = t->wait;
  if (t->state != CORRAL__T_BLOCKED || w == CORRAL__UNABORTABLE) return;
  if (code == CORRAL_EDEADLK) {
    if (t->forced) return;
    t->forced = 1;
  } else {
    if (t->aborted) return;
    t->aborted = 1;
  }
  if (w && w->abort && w->abort(t, w->arg) != CORRAL_ABORT_SUCCEEDED) return;
  corral__wait_leave(w, t);
  corral__wake(t, code);
}

/* A relative timeout as an absolute deadline, saturating at FOREVER. */
static inline int64_t corral__deadline_after(corral__rt *rt, int64_t ns) {
  int64_t now = corral__now(rt);
  if (ns <= 0) return now;
  return ns > INT64_MAX - now ? CORRAL_FOREVER : now + ns;
}

/* local.c: drop the task-local value counts (the runtime's end). */
CORRAL__HIDDEN void corral__lvals_free(corral__rt *rt);
/* Caller storage about to be initialised is read first, to refuse one
 * still in use (its magic): fine for us, uninitialised to Valgrind. */
static inline void corral__storage_probe(const void *p, size_t n) {
#ifdef CORRAL_HAVE_VALGRIND
  (void)VALGRIND_MAKE_MEM_DEFINED(p, n);
#else
  (void)p, (void)n;
#endif
}

/* ---- task handles ----
 * A corral_task * given to the user is the struct's address with a tag in
 * its top 16 bits (user-space addresses fit in 48): bits 60-62 the
 * runtime's serial, bits 48-59 the task's generation; one value per task,
 * whoever asks (spawn, corral_current, an abort callback), so handles
 * compare equal. A task struct stays mapped until its runtime ends
 * (slab.c) and its generation is cleared when it is freed, so a stale
 * handle is detected even after the struct was reused, instead of touching
 * another task; `owned` says whether the spawner's handle is still to be
 * released, so a second release is detected too. */
#define CORRAL__H_ADDR ((uintptr_t)0x0000ffffffffffffu)

static inline corral_task *corral__task_handle(corral_task *t) {
  return (corral_task *)((uintptr_t)t | ((uintptr_t)t->rt->serial << 60) |
                         ((uintptr_t)t->gen << 48));
}

enum { CORRAL__H_STALE = 1 };
/* The task behind handle h of the current runtime: 0 and *out, or
 * CORRAL_EINVAL (NULL), CORRAL_ENOTASK (no runtime on this thread: its
 * runtime ended?), CORRAL_EFOREIGN (another runtime's), CORRAL__H_STALE
 * (released, or its task was freed). */
static inline int corral__task_of(const corral_task *h, corral_task **out) {
  uintptr_t v = (uintptr_t)h;
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  if (!h) return CORRAL_EINVAL;
  if (((v >> 60) & 7) != rt->serial) return CORRAL_EFOREIGN;
  corral_task *t = (corral_task *)(v & CORRAL__H_ADDR);
  if (t->gen != ((v >> 48) & 0xfff)) return CORRAL__H_STALE;
  if (t->rt != rt) return CORRAL_EFOREIGN;
  *out = t;
  return 0;
}
/* Misuse that leaves nothing to return a code through. */
CORRAL__HIDDEN __attribute__((noreturn)) void
corral__handle_abort(const char *call, const corral_task *h, int why);

/* dump.c */
CORRAL__HIDDEN void corral__dump(corral__rt *rt, FILE *f);
CORRAL__HIDDEN const char *corral__state_name(int st);

#endif
