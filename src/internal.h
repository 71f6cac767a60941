/* Internal structures shared by the library's translation units. */
#ifndef CORRAL_INTERNAL_H
#define CORRAL_INTERNAL_H

#include "corral.h"
#include "ctx.h"
#include "stack.h"

#include <stdbool.h>
#include <string.h>
#include <uv.h>

#define CORRAL__HIDDEN __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

typedef struct corral__rt corral__rt;
typedef struct corral__scope corral__scope;
typedef struct corral__group corral__group;

/* ---- timers: binary min-heap of pointers, ordered by (deadline, seq) ---- */
typedef struct corral__timer {
  int64_t deadline;
  uint64_t seq;      /* tie-break: equal deadlines fire in the order set */
  uint32_t idx;      /* position in the heap, UINT32_MAX when not armed */
  uint8_t kind;      /* CORRAL__TIMER_TASK / CORRAL__TIMER_SCOPE */
} corral__timer;

enum { CORRAL__TIMER_TASK = 1, CORRAL__TIMER_SCOPE = 2 };
#define CORRAL__TIMER_OFF UINT32_MAX

/* Heap entries carry their deadline, so ordering touches timer memory only
 * on ties; a removed timer leaves a tombstone (t == NULL) popped or
 * compacted later. */
typedef struct corral__hent {
  int64_t deadline;
  corral__timer *t;
} corral__hent;

typedef struct corral__heap {
  corral__hent *v;
  uint32_t n, cap, ndead;
} corral__heap;

/* ---- errors ---- */
struct corral_error {
  uint32_t refs;
  int code;
  char *message;
  char task[CORRAL_NAME_MAX];
  size_t nchildren;
  corral_error **children;
  corral_allocator al;        /* copied: records may outlive the runtime */
};

/* ---- cancel scopes ---- */
typedef struct corral__cancel_info {
  char origin_task[CORRAL_NAME_MAX];
  char message[]; /* NUL-terminated */
} corral__cancel_info;

/* A task's outcome, compact: the reason is allocated only if cancelled. */
typedef struct corral__outcome {
  corral_status status;
  int code;
  void *result;
  corral_error *error;
  corral_cancel_reason *reason;
} corral__outcome;

struct corral__scope {
  corral__scope *parent;      /* enclosing scope (maybe in an ancestor task) */
  corral__scope *first_child, *last_child, *next_sib, *prev_sib;
  corral_task *owner;         /* task whose code runs inside */
  uint32_t magic;
  uint8_t cancelled;          /* cancel called on this very scope */
  uint8_t shield;
  uint8_t fail;               /* fail-after: exit reports ETIMEDOUT */
  uint8_t deadline_fired;
  uint8_t entered;            /* on the owner's scope stack */
  uint8_t counted_out;        /* detached: no longer in rt->ncancelled */
  uint8_t timed;              /* a corral__tscope: may have a deadline */
  uint8_t kind;               /* corral_cancel_kind of the cancel */
  const char *name;           /* borrowed (see corral_scope_opts.name) */
  corral__cancel_info *info;  /* who and why; allocated when cancelled */
};

/* Scopes that may have a deadline (user scopes, groups) carry a timer; a
 * task's root scope never does, and stays 24 bytes smaller. */
typedef struct corral__tscope {
  corral__scope s;
  corral__timer timer;
  uv_signal_t *sig; /* cancel on this signal (corral_*_cancel_on_signal) */
} corral__tscope;

static inline corral__timer *corral__scope_timer(corral__scope *s) {
  return s->timed ? &((corral__tscope *)(void *)s)->timer : NULL;
}

#define CORRAL__SCOPE_MAGIC 0x5c09e5c0u
#define CORRAL__GROUP_MAGIC 0x6a0b9a0bu

/* ---- groups ---- */
enum { CORRAL__G_OPEN = 1, CORRAL__G_CLOSING, CORRAL__G_CLOSED };

struct corral__group {
  uint32_t magic;
  uint8_t state;
  uint8_t policy;
  uint8_t failed;         /* policy judged it failed (no more spawns) */
  uint8_t satisfied;      /* FIRST/QUORUM reached */
  uint8_t implicit;       /* the task's create_task group */
  uint8_t observed_only;  /* implicit: only unjoined errors count */
  uint8_t notify;         /* wake `waiter` on every child completion */
  uint8_t eager;          /* spawns start the child at once */
  uint8_t compact;        /* children are compact */
  corral__rt *rt;
  union {
    corral__tscope ts; /* the group's scope and its deadline timer */
    corral__scope scope;
  };
  corral_task *owner;
  corral__group *prev_open;  /* owner's stack of open groups (for dump) */
  corral_task *first_child, *last_child; /* children, in spawn order */
  size_t running, nsucc, nfail, quorum;
  corral_error **errors;
  size_t nerr, caperr;
  size_t lost;               /* errors whose record could not be kept */
  corral_task *waiter;       /* body parked at close / in gather */
};

/* ---- tasks ---- */
/* What a blocked task waits on (for the task tree). */
enum {
  CORRAL__W_NONE = 0,
  CORRAL__W_SLEEP,
  CORRAL__W_JOIN,
  CORRAL__W_WAIT,
  CORRAL__W_GROUP_CLOSE,
  CORRAL__W_GATHER_SLOT,
  CORRAL__W_EVENT,
  CORRAL__W_SEMAPHORE,
  CORRAL__W_ACCEPT,
  CORRAL__W_CONNECT,
  CORRAL__W_READ,
  CORRAL__W_WRITE
};

/* A compact task's saved stack bytes: a header and the bytes. */
typedef struct corral__csave {
  uint32_t len, cap;
  unsigned char bytes[];
} corral__csave;

enum {
  CORRAL__T_NEW = 0,   /* spawned, never ran, no stack */
  CORRAL__T_RUNNABLE,
  CORRAL__T_RUNNING,
  CORRAL__T_BLOCKED,
  CORRAL__T_DONE
};

typedef struct corral__waiter {
  struct corral__waiter *next, *prev;
  corral_task *task;
  int linked;
} corral__waiter;

/* A chunk of task structs (slab.c). */
typedef struct corral__slab {
  struct corral__slab *next, *prev;   /* chunks with free room */
  struct corral__slab *anext, *aprev; /* every chunk */
  corral_task *free;                  /* freed structs, LIFO */
  uint32_t nfree;                     /* free: freed + never carved */
  uint32_t carved, cap;
  uint8_t mapped;                     /* mmap'd, else from the allocator */
  size_t bytes;
} corral__slab;

struct corral_task {
  corral__ctx ctx;
  corral__rt *rt;
  corral_fn fn;
  void *arg;
  const char *file;
  corral__scope *scope;        /* innermost entered scope */
  corral__group *group;        /* the group it belongs to */
  corral__slab *slab;          /* the chunk it lives in */
  corral__timer timer;         /* timeout of the current wait */
  int line;                    /* spawn site */
  uint32_t stack_size;         /* requested (0 = default); <= 1 GiB */
  uint32_t refs;               /* handle + group membership */
  uint8_t state;
  uint8_t handle;              /* a user handle is outstanding */
  uint8_t compact;             /* runs on the shared stack */
  uint8_t wait_what;           /* CORRAL__W_*: what it waits on (dump) */
  /* From here to name: all zero when spawned (one block). */
  corral_task *rq_next;        /* run queue link */
  corral__stack *stack;
  int wake_rc;
  uint32_t stack_peak;
  uint32_t done_seq;           /* completion order (wraps; compare by diff) */
  uint8_t cancellable;         /* blocked in a cancellable wait */
  uint8_t finalized;
  uint8_t linked;              /* in its group's child and scope lists */
  uint8_t joined : 1;          /* its outcome was taken (join / wait) */
  uint8_t cnew : 1;            /* compact, first frame not laid out yet */
  union {
    corral_task *g_next;       /* linked: next sibling in the group */
    corral_task *eager_parent; /* not linked yet (started eagerly, has not
                                  suspended): the spawner, waiting outside
                                  the run queue, or NULL */
  };
  corral_task *g_prev;         /* linked: previous sibling in the group */
  corral__group *open_groups;  /* groups this task opened (stack) */
  corral__group *implicit;     /* create_task group, lazily made */
  corral__waiter *waiters;     /* tasks waiting for it to finish */
  corral_error *last_err;      /* errno-like current error record */
  corral__outcome out;
  corral__csave *csave;        /* compact: saved live stack bytes */
  corral__scope root_scope;    /* child of the group's scope */
  char name[CORRAL_NAME_MAX];  /* (end of the zeroed part) */
};

/* ---- the runtime (one per thread) ---- */
struct corral__rt {
  uv_loop_t *loop;
  uv_loop_t own_loop;
  uv_timer_t uvtimer;
  corral__ctx sched_ctx;
  corral_task *current;
  corral_task *rq_head, *rq_tail;
  corral__heap timers;
  uint64_t timer_seq;
  uint32_t done_seq;
  size_t alive;               /* tasks not yet finalized */
  int virtual_clock;
  int64_t autojump_ms;        /* real ms to wait for I/O before a jump */
  int64_t vnow;
  int64_t start_real;
  uint64_t rng;               /* shuffle state, 0 = FIFO */
  corral_allocator al;
  FILE *report;
  int stack_paint;
  int deadlocked;
  bool valgrind;              /* running under Valgrind: careful reads */
  corral_task *root;
  corral__stack_pool pools;
  size_t pools_default_size;  /* default task stack size */
  corral__stack *shared;      /* the compact tasks' stack */
  corral_task *shared_owner;  /* whose frames are on it now */
  corral__slab *slabs;        /* task struct chunks (slab.c) */
  corral__slab *slabs_partial;/* those with free room */
  corral__slab *slab_spare;   /* an empty one kept */
  corral_task *task_cache;    /* structs just freed (LIFO, bounded) */
  size_t ntask_cache;
  size_t slab_next_bytes;     /* size of the next new chunk */
  bool al_default;            /* the libc allocator: chunks may be mmap'd */
  bool huge_pages;            /* corral_options.huge_pages */
  unsigned budget;            /* direct switches left before the scheduler */
  size_t ncancelled;          /* live cancelled scopes: 0 = skip the walk */
  struct corral_tcp *sockets; /* open sockets, closed at the end */
  void *sched_stack_bottom;   /* for ASan fiber switches */
  size_t sched_stack_size;
  void *asan_fake;
};

/* rt.c */
CORRAL__HIDDEN extern _Thread_local corral__rt *corral__tl_rt;
CORRAL__HIDDEN void *corral__malloc(corral__rt *rt, size_t n);
CORRAL__HIDDEN void *corral__calloc(corral__rt *rt, size_t n);
CORRAL__HIDDEN void *corral__realloc(corral__rt *rt, void *p, size_t n);
CORRAL__HIDDEN void corral__free(corral__rt *rt, void *p);
CORRAL__HIDDEN char *corral__strdup(corral__rt *rt, const char *s);
CORRAL__HIDDEN int64_t corral__now(corral__rt *rt);
static inline void corral__runq_push(corral__rt *rt, corral_task *t) {
  t->rq_next = NULL;
  if (rt->rq_tail)
    rt->rq_tail->rq_next = t;
  else
    rt->rq_head = t;
  rt->rq_tail = t;
}
static inline void corral__runq_push_front(corral__rt *rt, corral_task *t) {
  t->rq_next = rt->rq_head;
  rt->rq_head = t;
  if (!rt->rq_tail) rt->rq_tail = t;
}
/* Park the current task. deadline CORRAL_FOREVER = none. Returns the wake
 * code: 0 (woken), CORRAL_ETIMEDOUT (deadline), CORRAL_ECANCELED. When
 * cancellable and the task is inside a cancelled scope it returns
 * CORRAL_ECANCELED without parking. */
CORRAL__HIDDEN int corral__park(corral_task *t, int64_t deadline,
                                bool cancellable, int what);
CORRAL__HIDDEN void corral__wake(corral_task *t, int rc);
CORRAL__HIDDEN int corral__timer_start(corral__rt *rt, corral__timer *tm,
                                       int64_t deadline, int kind);
CORRAL__HIDDEN void corral__timer_stop(corral__rt *rt, corral__timer *tm);
static inline corral_task *corral__self(void) {
  corral__rt *rt = corral__tl_rt;
  return rt ? rt->current : NULL;
}

/* heap.c */
CORRAL__HIDDEN int corral__heap_push(corral__rt *rt, corral__heap *h,
                                     corral__timer *t);
CORRAL__HIDDEN void corral__heap_remove(corral__heap *h, corral__timer *t);
/* The earliest live timer (tombstones on top are dropped), or NULL. */
CORRAL__HIDDEN corral__timer *corral__heap_min(corral__heap *h);
/* Remove the earliest live timer (after corral__heap_min returned it). */
CORRAL__HIDDEN void corral__heap_pop(corral__heap *h);
/* The top entry's deadline, tombstone or not: never later than the earliest
 * live deadline (INT64_MAX when empty). Looks without popping. */
static inline int64_t corral__heap_peek(const corral__heap *h) {
  return h->n ? h->v[0].deadline : INT64_MAX;
}

/* error.c */
CORRAL__HIDDEN corral_error *corral__error_new(corral__rt *rt, int code,
                                               const char *task,
                                               const char *msg);
CORRAL__HIDDEN void corral__set_last_error(corral_task *t, corral_error *e);
CORRAL__HIDDEN corral_error *corral__error_for(corral_task *t, int rc);

/* scope.c */
/* Append s to s->parent's children (the tree cancellation walks). */
static inline void corral__scope_link(corral__scope *s) {
  corral__scope *p = s->parent;
  s->prev_sib = p->last_child;
  if (p->last_child)
    p->last_child->next_sib = s;
  else
    p->first_child = s;
  p->last_child = s;
}

/* Take s out of s->parent's children. */
static inline void corral__scope_unlink(corral__scope *s) {
  corral__scope *p = s->parent;
  if (s->prev_sib)
    s->prev_sib->next_sib = s->next_sib;
  else
    p->first_child = s->next_sib;
  if (s->next_sib)
    s->next_sib->prev_sib = s->prev_sib;
  else
    p->last_child = s->prev_sib;
  s->prev_sib = s->next_sib = NULL;
}

static inline void corral__scope_init(corral__scope *s, corral_task *owner,
                                      corral__scope *parent,
                                      const char *name) {
  s->parent = parent;
  s->first_child = s->last_child = s->next_sib = s->prev_sib = NULL;
  s->owner = owner;
  s->magic = CORRAL__SCOPE_MAGIC;
  s->timed = 0;
  s->cancelled = s->shield = s->fail = s->deadline_fired = s->entered = 0;
  s->counted_out = 0;
  s->kind = 0;
  s->name = name ? name : "scope";
  s->info = NULL;
  if (parent) corral__scope_link(s);
}
CORRAL__HIDDEN void corral__tscope_init(corral__tscope *ts, corral_task *owner,
                                        corral__scope *parent,
                                        const char *name);
CORRAL__HIDDEN void corral__scope_detach(corral__rt *rt, corral__scope *s);
CORRAL__HIDDEN int corral__tscope_on_signal(corral__rt *rt, corral__tscope *ts,
                                            int signum);
CORRAL__HIDDEN void corral__scope_cancel(corral__rt *rt, corral__scope *s,
                                         corral_cancel_kind kind,
                                         const char *origin_task,
                                         const char *msg);
/* The nearest cancelled scope that reaches t's current position (stops at
 * shields), or NULL. The runtime counts live cancelled scopes, so the walk
 * is skipped entirely while nothing is cancelled. */
CORRAL__HIDDEN corral__scope *corral__cancelled_scope_walk(corral__scope *s);
static inline corral__scope *corral__cancelled_scope(corral__scope *s) {
  return s && s->owner && s->owner->rt->ncancelled == 0
             ? NULL
             : corral__cancelled_scope_walk(s);
}
CORRAL__HIDDEN void corral__fill_reason(corral_task *reader, corral__scope *s,
                                        corral_cancel_reason *out);
CORRAL__HIDDEN void corral__scope_deadline_fired(corral__rt *rt,
                                                 corral__scope *s);
#define corral__scope_of_timer(tm)                                           \
  (&((corral__tscope *)((char *)(tm) - offsetof(corral__tscope, timer)))->s)
#define corral__task_of_timer(tm)                                            \
  ((corral_task *)((char *)(tm) - offsetof(corral_task, timer)))

/* task.c */
CORRAL__HIDDEN __attribute__((noreturn)) void corral__task_entry(void *arg);
/* Link a task that started eagerly (and the eager ancestors it ran inside)
 * into its group's lists: done when it first suspends. NULL is fine. */
CORRAL__HIDDEN void corral__task_link(corral_task *t);
CORRAL__HIDDEN void corral__task_finalize(corral__rt *rt, corral_task *t);
CORRAL__HIDDEN void corral__task_unref(corral__rt *rt, corral_task *t);
CORRAL__HIDDEN int corral__spawn(corral__rt *rt, corral__group *g,
                                 corral_fn fn, void *arg,
                                 const corral_spawn_opts *o, corral_task **out,
                                 const char *file, int line);

CORRAL__HIDDEN void corral__wl_add(corral__waiter **head, corral__waiter *w,
                                   corral_task *t);
CORRAL__HIDDEN void corral__wl_del(corral__waiter **head, corral__waiter *w);
/* Unlink every waiter and wake its task with 0. */
CORRAL__HIDDEN void corral__wl_wake_all(corral__waiter **head);
/* Wait until t finished (cancellable or not). 0 or CORRAL_ECANCELED. */
CORRAL__HIDDEN int corral__task_wait_done(corral_task *self, corral_task *t,
                                          bool cancellable);
/* Mark t joined and translate its outcome into a return code. */
CORRAL__HIDDEN int corral__task_result(corral_task *self, corral_task *t,
                                       void **result);

CORRAL__HIDDEN void corral__set_reason(corral_task *t, corral__scope *cs);
CORRAL__HIDDEN void corral__outcome_copy(const corral_task *t,
                                         corral_outcome *o);

/* Compact tasks need the assembly switch, and ASan cannot follow stacks
 * copied away and back. */
#if defined(CORRAL_ASAN) || defined(CORRAL_CTX_UCONTEXT)
#define CORRAL__COMPACT_OK 0
#else
#define CORRAL__COMPACT_OK 1
#endif
/* Compact tasks refuse calls that would expose their stack. */
CORRAL__HIDDEN int corral__compact_refuse(corral_task *self, const char *call);
#define CORRAL__NO_COMPACT(self, call)                                       \
  do {                                                                       \
    if (unlikely((self)->compact)) return corral__compact_refuse(self, call); \
  } while (0)

/* group.c */
CORRAL__HIDDEN void corral__group_child_done(corral__rt *rt, corral__group *g,
                                             corral_task *t);
/* A child of g ended. Inline, the common case of an eager child that
 * succeeded without ever being listed, in a group no success can satisfy:
 * only the counts change. Everything else: corral__group_child_done. */
static inline void corral__group_child_ended(corral__rt *rt, corral__group *g,
                                             corral_task *t) {
  if (likely(!t->linked && t->out.status == CORRAL_OK &&
             g->policy <= CORRAL_COLLECT)) {
    t->group = NULL;
    g->running--;
    g->nsucc++;
    if (g->waiter && (g->running == 0 || g->notify)) corral__wake(g->waiter, 0);
    return;
  }
  corral__group_child_done(rt, g, t);
}
CORRAL__HIDDEN int corral__group_open(corral__rt *rt, corral__group *g,
                                      corral_task *owner,
                                      const corral_group_opts *o, bool implicit);
CORRAL__HIDDEN int corral__group_close(corral__rt *rt, corral__group *g,
                                       int body_rc);

/* tcp.c */
CORRAL__HIDDEN void corral__tcp_close_all(corral__rt *rt);

/* dump.c */
CORRAL__HIDDEN void corral__dump(corral__rt *rt, FILE *f);
CORRAL__HIDDEN const char *corral__state_name(int st);

/* slab.c: task structs. */
CORRAL__HIDDEN corral_task *corral__slab_alloc_slow(corral__rt *rt);
CORRAL__HIDDEN corral_task *corral__slab_carve(corral__slab *s);
CORRAL__HIDDEN void corral__slab_full(corral__rt *rt, corral__slab *s);
CORRAL__HIDDEN void corral__slab_has_room(corral__rt *rt, corral__slab *s);
CORRAL__HIDDEN void corral__slab_empty(corral__rt *rt, corral__slab *s);
CORRAL__HIDDEN void corral__slab_destroy_all(corral__rt *rt);

/* A few structs just freed wait in a LIFO cache in front of the slabs: a
 * spawn loop keeps reusing one that is still in cache, at the price of a
 * push and a pop. */
#define CORRAL__TASK_CACHE 64

static inline corral_task *corral__slab_alloc(corral__rt *rt) {
  corral_task *c = rt->task_cache;
  if (likely(c)) {
    rt->task_cache = c->rq_next;
    rt->ntask_cache--;
    return c;
  }
  corral__slab *s = rt->slabs_partial;
  if (unlikely(!s)) return corral__slab_alloc_slow(rt);
  corral_task *t = s->free;
  if (t)
    s->free = t->rq_next;
  else
    t = corral__slab_carve(s);
  if (unlikely(--s->nfree == 0)) corral__slab_full(rt, s);
  return t;
}

static inline void corral__slab_free(corral__rt *rt, corral_task *t) {
  if (likely(rt->ntask_cache < CORRAL__TASK_CACHE)) {
    t->rq_next = rt->task_cache;
    rt->task_cache = t;
    rt->ntask_cache++;
    return;
  }
  corral__slab *s = t->slab;
  t->rq_next = s->free;
  s->free = t;
  if (unlikely(s->nfree++ == 0)) corral__slab_has_room(rt, s);
  if (unlikely(s->nfree == s->cap)) corral__slab_empty(rt, s);
}

static inline void corral__copy_name(char *dst, const char *src) {
  size_t i = 0;
  if (src)
    for (; i < CORRAL_NAME_MAX - 1 && src[i]; i++) dst[i] = src[i];
  dst[i] = 0;
}

/* The same, on spawn's hot path: when the name's first CORRAL_NAME_MAX
 * bytes cannot cross a page, copy them whole and cut; what follows the NUL
 * in dst does not matter. Reading past the string's end is invisible to
 * the compiler (the barrier) but not to ASan or Valgrind: they get the
 * byte loop. */
static inline void corral__copy_name_fast(char *dst, const char *src,
                                          bool careful) {
#ifndef CORRAL_ASAN
  if (likely(!careful && src &&
             ((uintptr_t)src & 4095) <= 4096 - CORRAL_NAME_MAX)) {
    __asm__("" : "+r"(src));
    memcpy(dst, src, CORRAL_NAME_MAX);
    dst[CORRAL_NAME_MAX - 1] = 0;
    return;
  }
#endif
  (void)careful;
  corral__copy_name(dst, src);
}

#endif
