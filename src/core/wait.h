/* The wait primitive (wait.c). Every blocking call in the library parks the
 * calling task here and nowhere else:
 *
 *     rc = corral__park(self, CORRAL__W_KIND, w, deadline);
 *
 * The call is a cancellation point: inside a cancelled scope it returns
 * CORRAL_ECANCELED at once without parking (unless w is
 * CORRAL__UNABORTABLE). While the task is parked, a cancellation that
 * reaches it aborts the wait: with w == NULL the task wakes at once with
 * CORRAL_ECANCELED; with w->abort set, the abort callback decides (Trio's
 * abort_fn): SUCCEEDED wakes the task with the cancel code, FAILED leaves it
 * parked until whatever it waits for calls corral__wake. The deadline
 * (CORRAL_FOREVER: none) wakes it with CORRAL_ETIMEDOUT. Whoever wakes the
 * task gives the code park returns. Waits a blocked task can be in are
 * named by one table, which the dump and the deadlock report print. */
#ifndef CORRAL_CORE_WAIT_H
#define CORRAL_CORE_WAIT_H

#include "corral.h"
#include "ground/compiler.h"
#include "ground/list.h"

#include <stdint.h>

/* What a blocked task waits on: name printed by corral_dump. */
#define CORRAL__WAIT_KINDS(XX)                                               \
  XX(NONE, "nothing")                                                        \
  XX(SLEEP, "sleep")                                                         \
  XX(JOIN, "join")                                                           \
  XX(WAIT, "wait")                                                           \
  XX(GROUP_CLOSE, "group close")                                             \
  XX(GATHER_SLOT, "gather slot")                                             \
  XX(START, "start (until the task calls corral_started)")                   \
  XX(EVENT, "event")                                                         \
  XX(SEMAPHORE, "semaphore")                                                 \
  XX(PARK, "park")                                                           \
  XX(FD_READABLE, "fd readable")                                             \
  XX(FD_WRITABLE, "fd writable")                                             \
  XX(STREAM_READ, "stream read")                                             \
  XX(STREAM_WRITE, "stream write")                                           \
  XX(TCP_ACCEPT, "tcp accept")                                               \
  XX(TCP_CONNECT, "tcp connect")                                             \
  XX(DNS, "name resolution")                                                 \
  XX(UDP_RECV, "udp receive")                                                \
  XX(UDP_SEND, "udp send")                                                   \
  XX(CHAN_SEND, "channel send")                                              \
  XX(CHAN_RECEIVE, "channel receive")                                        \
  XX(CHAN_SELECT, "channel select")                                          \
  XX(LOCK, "lock")                                                           \
  XX(CONDITION, "condition")                                                 \
  XX(LIMITER, "capacity limiter")                                            \
  XX(SIGNAL, "signal")                                                       \
  XX(FILE, "file")                                                           \
  XX(OFFLOAD, "worker thread")                                               \
  XX(PROCESS, "process exit")

enum {
#define CORRAL__XX(name, str) CORRAL__W_##name,
  CORRAL__WAIT_KINDS(CORRAL__XX)
#undef CORRAL__XX
  CORRAL__W_COUNT
};

CORRAL__HIDDEN extern const char *const corral__wait_names[CORRAL__W_COUNT];

/* How a parked task's wait is aborted. Lives in the parking frame (never in
 * a compact task: its stack is not addressable while it is parked).
 *
 * A task that waits in an object's list (an event, a lock, a join) leaves
 * that list the moment anything but the object ends its wait -- a
 * cancellation whose abort succeeded, the wait's deadline, the deadlock
 * breaker -- not when it runs again: by then the object may be gone (an
 * event in the frame of a task that was cancelled too and returned). The
 * record says how: `node` (one node, unlinked) or `leave(w)` (several
 * nodes, a ring, a count to keep). `obj` names the object in caller storage that holds the
 * list: when a task's function returns, a descendant still waiting on an
 * object of its stack is taken out of that list without touching the
 * object and woken with CORRAL_EINVAL (corral__frame_orphans, task.c). */
typedef struct corral__wait {
  corral_abort_fn abort; /* NULL: cancellation wakes the task at once */
  void *arg;             /* abort's and leave's argument, the dump's */
  const char *what;      /* detail for the dump, or NULL */
  corral__list *node;    /* the waiter's node in obj's list, or NULL */
  void (*leave)(const struct corral__wait *w, corral_task *t);
                         /* unlink t's node(s), or NULL */
  const void *obj;       /* the object (caller storage) waited on, or NULL;
                            with node: its first node is a corral__waiter
                            (node, then task) in a list whose head is in
                            obj */
} corral__wait;

/* The waiter of t leaves the object's list (see corral__wait). */
static inline void corral__wait_leave(const corral__wait *w, corral_task *t) {
  if (!w) return;
  if (w->leave)
    w->leave(w, t);
  else if (w->node)
    corral__list_remove(w->node);
}

/* The wait cannot be aborted: a cancellation does not wake it and parking
 * inside a cancelled scope still parks (group close, a request that owns
 * memory until its callback). Not a cancellation point. */
CORRAL__HIDDEN extern const corral__wait corral__unabortable;
#define CORRAL__UNABORTABLE (&corral__unabortable)

/* Park the current task t. Returns the wake code (see above). */
CORRAL__HIDDEN int corral__park(corral_task *t, int kind, const corral__wait *w,
                                int64_t deadline);
/* Make a parked task runnable; park returns `rc` in it. No-op if t is not
 * parked. */
CORRAL__HIDDEN void corral__wake(corral_task *t, int rc);

/* corral__wait_abort(t, code): a cancellation or the deadlock breaker
 * reached parked task t (core/rt.h, inline). */

/* A task waiting in a list (join, event, semaphore: one intrusive list). */
typedef struct corral__waiter {
  corral__list node;
  corral_task *task;
} corral__waiter;

/* Append a waiter for t at the tail of list h (FIFO). */
static inline void corral__waiter_add(corral__list *h, corral__waiter *w,
                                      corral_task *t) {
  w->task = t;
  corral__list_insert_tail(h, &w->node);
}
/* Unlink every waiter of h and wake its task with 0. Waking is an edge:
 * every task waiting when this is called returns 0. */
CORRAL__HIDDEN void corral__waiters_wake_all(corral__list *h);
/* The same for a ring of waiters (a task's joiners). */
CORRAL__HIDDEN void corral__ring_wake_all(corral__list **first);

/* Task t's function returned; its frame lay below `top` on its stack:
 * descendants still waiting on an object there leave its list untouched
 * and wake with CORRAL_EINVAL (see corral__wait). */
typedef struct corral__rt corral__rt;
CORRAL__HIDDEN void corral__frame_orphans(corral__rt *rt, corral_task *t,
                                          const char *top);

#endif
