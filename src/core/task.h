/* Tasks (task.c): spawn, the first and last frame of every task, join. */
#ifndef CORRAL_CORE_TASK_H
#define CORRAL_CORE_TASK_H

#include "core/error.h"
#include "core/scope.h"
#include "core/wait.h"
#include "ground/alloc.h"
#include "ground/ctx.h"
#include "ground/heap.h"
#include "ground/list.h"
#include "ground/slab.h"
#include "ground/stack.h"

#include <string.h>

typedef struct corral__group corral__group;
typedef struct corral__locals corral__locals;

/* A task's outcome, compact: the reason is allocated only if cancelled. */
typedef struct corral__outcome {
  corral_status status;
  int code;
  void *result;
  corral_error *error;
  corral_cancel_reason *reason;
} corral__outcome;

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

struct corral_task {
  corral__ctx ctx;
  corral__rt *rt;
  corral_fn fn;
  void *arg;
  const char *file;
  corral__scope *scope;        /* innermost entered scope */
  corral__group *group;        /* the group it belongs to */
  corral__slab *slab;          /* the chunk it lives in */
  corral__timer timer;         /* deadline of the current wait */
  int line;                    /* spawn site */
  union {
    uint32_t stack_size;       /* until it runs: requested (0 = default) */
    uint32_t done_seq;         /* once done: completion order (wraps;
                                  compare by difference) */
  };
  uint16_t refs;               /* handle + group membership */
  uint16_t gen;                /* generation its handles carry (1..4095;
                                  0 once freed): see corral__task_of */
  uint8_t state;
  uint8_t handle;              /* a user handle is outstanding */
  uint8_t compact;             /* runs on the shared stack */
  uint8_t linked;              /* in its group's child and scope lists
                                  (next to compact: the channel fast paths
                                  test both at once) */
  /* From here to name: all zero when spawned (one block). */
  union {
    corral_task *rq_next;      /* run queue link (meaningful in the queue
                                  only: every way into it sets it) */
    void *chan_wait;           /* blocked in a channel's send or receive:
                                  its waiter (channel.c); the wake-up that
                                  queues the task overwrites it */
  };
  corral__stack *stack;
  const corral__wait *wait;    /* how the current wait is aborted */
  union {
    int wake_rc;               /* parked: what its park returns; 0 while
                                  it runs */
    uint32_t stack_peak;       /* once done: peak stack bytes (stack_paint) */
  };
  uint8_t finalized;
  uint8_t wait_kind;           /* CORRAL__W_*: what it waits on */
  uint8_t joined : 1;          /* its outcome was taken (join / wait) */
  uint8_t cnew : 1;            /* compact, first frame not laid out yet */
  uint8_t aborted : 1;         /* its current wait was asked to abort */
  uint8_t forced : 1;          /* ... and by the deadlock breaker */
  uint8_t spin_reported : 1;   /* cancel-spin report done */
  uint8_t owned : 1;           /* the spawner's handle is not released yet */
  uint8_t held : 1;            /* finished, owned: in rt->held */
  uint8_t stall_reported;      /* stall report done (written by the
                                  watchdog thread: a byte of its own) */
  union {
    corral_task *g_next;       /* linked: next sibling in the group */
    corral_task *eager_parent; /* not linked yet (started eagerly, has not
                                  suspended): the spawner, waiting outside
                                  the run queue, or NULL */
  };
  corral_task *g_prev;         /* linked: previous sibling in the group */
  corral__group *open_groups;  /* groups this task opened (stack) */
  corral__group *implicit;     /* create_task group, lazily made */
  corral__list *waiters;       /* ring of tasks joining it, or NULL */
  corral_error *last_err;      /* errno-like current error record */
  corral__locals *locals;      /* task-local values (shared, counted) */
  corral__outcome out;
  corral__csave *csave;        /* compact: saved live stack bytes */
  corral__scope root_scope;    /* child of the group's scope */
  char name[CORRAL_NAME_MAX];  /* (end of the zeroed part) */
};

CORRAL__HIDDEN __attribute__((noreturn)) void corral__task_entry(void *arg);
/* Link a task that started eagerly (and the eager ancestors it ran inside)
 * into its group's lists: done when it first suspends. NULL is fine. */
CORRAL__HIDDEN void corral__task_link(corral_task *t);
/* End a task that never ran (cancelled before it started, or no stack). */
CORRAL__HIDDEN void corral__task_finalize(corral__rt *rt, corral_task *t);
CORRAL__HIDDEN void corral__task_unref(corral__rt *rt, corral_task *t);
/* The runtime's end: release the user handles still held on finished
 * tasks (their records are freed with them). */
CORRAL__HIDDEN void corral__release_held(corral__rt *rt);
/* A finished task whose user handle is still owned joins rt->held. */
CORRAL__HIDDEN void corral__task_hold(corral__rt *rt, corral_task *t);
CORRAL__HIDDEN int corral__spawn(corral__rt *rt, corral__group *g,
                                 corral_fn fn, void *arg,
                                 const corral_spawn_opts *o, corral_task **out,
                                 const char *file, int line);
/* self's create_task group, made on first use (NULL: no memory). */
CORRAL__HIDDEN corral__group *corral__implicit_group(corral__rt *rt,
                                                    corral_task *self);
/* Wait until t finished (abortable or not). 0 or CORRAL_ECANCELED. */
CORRAL__HIDDEN int corral__task_wait_done(corral_task *self, corral_task *t,
                                          bool abortable);
/* Mark t joined and translate its outcome into a return code. */
CORRAL__HIDDEN int corral__task_result(corral_task *self, corral_task *t,
                                       void **result);
CORRAL__HIDDEN void corral__set_reason(corral_task *t, corral__scope *cs);
/* t fails a call with `code` and no record of its own: a record of another
 * code is stale from now on (corral_last_error never returns a record of
 * an earlier, unrelated failure). Returns code. */
CORRAL__HIDDEN void corral__drop_last_error(corral_task *t);
static inline int corral__fail(corral_task *t, int code) {
  if (unlikely(t->last_err != NULL) && code && t->last_err->code != code)
    corral__drop_last_error(t);
  return code;
}
CORRAL__HIDDEN void corral__end_cancelled(corral_task *t, corral__scope *cs);
CORRAL__HIDDEN void corral__outcome_copy(const corral_task *t,
                                         corral_outcome *o);

/* Compact tasks need the assembly switch, and ASan cannot follow stacks
 * copied away and back. */
#if defined(CORRAL_ASAN) || defined(CORRAL_CTX_UCONTEXT)
#define CORRAL__COMPACT_OK 0
#else
#define CORRAL__COMPACT_OK 1
#endif
/* t is not compact and linked (it suspended once, if it started eagerly):
 * what corral__park_checked needs. One 16-bit test of the two bytes. */
_Static_assert(offsetof(corral_task, linked) ==
                   offsetof(corral_task, compact) + 1,
               "compact and linked are tested together");
static inline bool corral__task_plain(const corral_task *t) {
  static const uint8_t want_bytes[2] = {0, 1}; /* compact 0, linked 1 */
  uint16_t v, want;
  memcpy(&v, &t->compact, 2);
  memcpy(&want, want_bytes, 2);
  return v == want;
}

/* Compact tasks refuse calls that would expose their stack. */
CORRAL__HIDDEN int corral__compact_refuse(corral_task *self, const char *call);
#define CORRAL__NO_COMPACT(self, call)                                       \
  do {                                                                       \
    if (unlikely((self)->compact)) return corral__compact_refuse(self, call); \
  } while (0)

/* compact.c: put a compact task's frames on the shared stack. */
CORRAL__HIDDEN void corral__compact_load(corral__rt *rt, corral_task *t);

/* local.c: task-local values. */
CORRAL__HIDDEN void corral__locals_release(corral__rt *rt, corral__locals *l);
static inline void corral__locals_inherit(corral_task *child,
                                          corral_task *parent);

/* The same as corral__copy_name, on spawn's hot path: when the name's first
 * CORRAL_NAME_MAX bytes cannot cross a page, copy them whole and cut; what
 * follows the NUL in dst does not matter. Reading past the string's end is
 * invisible to the compiler (the barrier) but not to ASan or Valgrind: they
 * get the byte loop. */
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

/* Task-local values: an immutable, counted table shared by a task and the
 * children that inherited it; setting a value gives the task a copy
 * (contextvars). Values are counted per (key, value) across all tables of
 * the runtime (local.c), so a value is destroyed once, when no task holds
 * it any more, however it travelled. */
typedef struct corral__lentry {
  const corral_local_key *key;
  void *value;
} corral__lentry;

struct corral__locals {
  uint32_t refs;
  uint32_t n;
  corral__lentry e[];
};

static inline void corral__locals_inherit(corral_task *child,
                                          corral_task *parent) {
  corral__locals *l = parent->locals;
  if (l) {
    l->refs++;
    child->locals = l;
  }
}

#endif
