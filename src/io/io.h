/* The I/O layer every family (tcp.c, poll.c, ...) is built on:
 *  - the registry of open handles: each family's objects register here and
 *    are closed by the runtime's end (run.c) through one walk, so no
 *    descriptor outlives corral_run (libuv's uv_walk is the model);
 *  - awaiting a libuv request from a task (corral__ioreq);
 *  - the common checks at the start of every I/O call;
 *  - the bounce buffer for compact tasks, whose stack is not addressable
 *    while they are parked.
 * A blocking I/O call is: checks, start the libuv operation, then
 * corral__ioreq_wait (or corral__park directly) until its callback
 * completes the request. */
#ifndef CORRAL_IO_IO_H
#define CORRAL_IO_IO_H

#include "core/sched.h"

typedef struct corral__handle corral__handle;
struct corral__handle {
  corral__list node;                 /* in rt->io.handles */
  void (*close)(corral__handle *h);  /* close now; must unregister h */
  const char *kind;                  /* "tcp", ... (reports) */
};

static inline void corral__handle_register(corral__rt *rt, corral__handle *h,
                                           const char *kind,
                                           void (*close)(corral__handle *)) {
  h->kind = kind;
  h->close = close;
  corral__list_insert_tail(&rt->io.handles, &h->node);
}
static inline void corral__handle_unregister(corral__handle *h) {
  corral__list_remove(&h->node);
}
/* Close every handle still open (the runtime's end). */
CORRAL__HIDDEN void corral__io_close_all(corral__rt *rt);
CORRAL__HIDDEN void corral__io_init(corral__rt *rt);
/* poll.c: mark fd as a descriptor of corral's own object (a stream, a UDP
 * socket) until it is closed: corral_wait_readable / _writable refuse it
 * with CORRAL_EBUSY. */
CORRAL__HIDDEN void corral__io_own_fd(corral__rt *rt, int fd);
CORRAL__HIDDEN void corral__io_disown_fd(corral__rt *rt, int fd);
/* poll.c: free the descriptor table (after corral__io_close_all). */
CORRAL__HIDDEN void corral__fdwait_free_table(corral__rt *rt);

/* libuv's codes are negative errno values, as corral's errno-style codes. */
static inline int corral__from_uv(int rc) { return rc; }

/* One operation a task waits for: the callback completes it. */
typedef struct corral__ioreq {
  corral_task *task; /* the waiting task, or NULL */
  int result;        /* the callback's status */
  int done;
} corral__ioreq;

static inline void corral__ioreq_start(corral__ioreq *r) {
  r->task = NULL;
  r->result = 0;
  r->done = 0;
}
/* From the callback: record the status and wake the waiter. */
static inline void corral__ioreq_done(corral__ioreq *r, int status) {
  r->result = status;
  r->done = 1;
  if (r->task) corral__wake(r->task, 0);
}
/* Park self until r is done: returns its status, or the wake code when the
 * wait was aborted (cancelled, closed, ...) before it was done. w as in
 * corral__park (NULL: cancellation aborts the wait). */
CORRAL__HIDDEN int corral__ioreq_wait(corral_task *self, corral__ioreq *r,
                                      int kind, const corral__wait *w);

/* The common start of an I/O call on an object of runtime `rt`: a task, of
 * this runtime, not cancelled. */
static inline int corral__io_check(corral_task *self, corral__rt *rt) {
  if (!self) return CORRAL_ENOTASK;
  if (rt && rt != self->rt) return CORRAL_EFOREIGN;
  return 0;
}

/* A compact task's buffer lies on its stack, which is not addressable while
 * it is parked: return a heap buffer (at most 64 KiB: *len is cut) to do the
 * I/O in, or NULL when buf can be used directly. *err: CORRAL_ENOMEM. */
CORRAL__HIDDEN char *corral__io_bounce(corral_task *self, const void *buf,
                                       size_t *len, int *err);

#endif
