/*
 * corral/channel.h -- channels, select, locks, conditions and capacity
 * limiters for tasks of one runtime. Included by corral.h.
 *
 * Everything here belongs to one runtime and is used on its thread only
 * (from tasks, or for the non-blocking calls also from libuv callbacks on
 * corral_loop()). A call on an object of another runtime returns
 * CORRAL_EFOREIGN. The blocking calls are cancellation points (see
 * corral.h): inside a cancelled scope they return CORRAL_ECANCELED at once,
 * and a cancellation that reaches a task blocked in one of them wakes it
 * with CORRAL_ECANCELED. A blocking call that completes at once (room in
 * the channel, a free lock) is a checkpoint all the same: a cancellation
 * point, and a schedule point once the task used its slice (see
 * CORRAL_YIELD_EVERY in corral.h). Timeouts come from scopes
 * (corral_move_on_after, corral_fail_after). Waking is FIFO: the task that
 * waited longest goes first. A task woken otherwise (cancelled, the
 * deadlock breaker) leaves the object's queue at that moment, so the
 * object may be freed or go out of scope before the task runs again.
 *
 * Compact tasks (corral_spawn_opts.compact) cannot block here: a blocked
 * caller's waiter record lives on its stack. The blocking calls return
 * CORRAL_EINVAL in a compact task; the try_ calls, release, notify and
 * close work there.
 */
#ifndef CORRAL_CHANNEL_H
#define CORRAL_CHANNEL_H

#include "corral.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Channels (Go channels, Trio memory channels)                             */
/* ------------------------------------------------------------------------ */

/* A bounded queue of fixed-size items with any number of senders and
 * receivers. Items are copied in on send and out on receive (item_size
 * bytes each), so the channel never owns a pointer of yours. capacity 0 is
 * a rendezvous: a send completes only when a receiver takes the item.
 *
 * Exactly once: an item is delivered to exactly one receiver, or stays
 * with its sender. A send that returns 0 handed its item over; any other
 * return means the item was not taken (resend it or drop it: it is yours).
 * A receive that returns an error consumed nothing. The hand-off is done
 * by the task that completes it, so a task cancelled after its partner
 * completed its operation still returns 0, and one cancelled before
 * returns CORRAL_ECANCELED with nothing moved.
 *
 * Closing (Trio's close of the send / receive channel):
 *   corral_channel_close_send: no more sends. Receivers drain what is
 *     buffered, then get CORRAL_EEOF. Tasks blocked in send get
 *     CORRAL_ECLOSED (their items were not taken).
 *   corral_channel_close_receive: nobody will receive again. Buffered items
 *     are dropped; senders get CORRAL_EPIPE (Trio's BrokenResourceError);
 *     tasks blocked in receive get CORRAL_ECLOSED.
 * A close wakes every task blocked on the channel at that moment, and each
 * of them returns the close code, whatever happens before it runs. */
typedef struct corral_channel corral_channel;

/* Allocate a channel (the runtime's allocator) and store it in *out.
 * item_size >= 1 bytes; capacity = items buffered (0: rendezvous). name
 * (copied, cut to CORRAL_NAME_MAX-1; NULL: "channel") appears in
 * corral_dump and deadlock reports. Call inside a runtime (any task).
 * Returns 0, CORRAL_EINVAL (out NULL, item_size 0, size overflow),
 * CORRAL_ENOMEM, CORRAL_ENOTASK (no runtime on this thread). Free it with
 * corral_channel_free(). */
CORRAL_API int corral_channel_open(corral_channel **out, size_t item_size,
                                   size_t capacity, const char *name);
/* Close both sides (waking every blocked task with its close code, see
 * above) and free. NULL is fine. May be called after corral_run returned
 * (then nobody can be blocked on it). On a thread that runs a runtime,
 * only that runtime's open channels are freed: a channel freed twice, or
 * another runtime's, is reported on the report stream and left alone. */
CORRAL_API void corral_channel_free(corral_channel *ch);

/* TASK ONLY. BLOCKS until the item (item_size bytes at `item`, copied at
 * once only if it is taken) is in the buffer or handed to a receiver.
 * Returns 0 (taken), CORRAL_ECLOSED (sending side closed, before or while
 * waiting), CORRAL_EPIPE (receiving side closed), CORRAL_ECANCELED,
 * CORRAL_EDEADLK (the runtime broke a deadlock), CORRAL_EINVAL (NULL
 * argument, compact task), CORRAL_EFOREIGN, CORRAL_ENOTASK. On any error
 * the item was not taken. */
CORRAL_NODISCARD CORRAL_API int corral_channel_send(corral_channel *ch, const void *item);
/* TASK ONLY. BLOCKS until an item is copied to `item` (item_size bytes;
 * NULL: the item is taken and dropped). Returns 0, CORRAL_EEOF (sending
 * side closed and nothing left), CORRAL_ECLOSED (receiving side closed),
 * CORRAL_ECANCELED, CORRAL_EDEADLK, CORRAL_EINVAL, CORRAL_EFOREIGN,
 * CORRAL_ENOTASK. On any error nothing was consumed. */
CORRAL_NODISCARD CORRAL_API int corral_channel_receive(corral_channel *ch, void *item);
/* Never block: the same as send / receive, but CORRAL_EAGAIN where those
 * would wait (buffer full and no receiver waiting / nothing to take). Not
 * cancellation points. Usable outside tasks on the runtime's thread. */
CORRAL_NODISCARD CORRAL_API int corral_channel_try_send(corral_channel *ch, const void *item);
CORRAL_NODISCARD CORRAL_API int corral_channel_try_receive(corral_channel *ch, void *item);
/* Close a side (see above). Idempotent. Never blocks. Returns 0,
 * CORRAL_EINVAL, CORRAL_EFOREIGN. */
CORRAL_API int corral_channel_close_send(corral_channel *ch);
CORRAL_API int corral_channel_close_receive(corral_channel *ch);

/* Trio's MemoryChannelStatistics. */
typedef struct corral_channel_stats {
  size_t item_size;
  size_t capacity;         /* max_buffer_size */
  size_t buffered;         /* current_buffer_used */
  size_t senders_waiting;  /* tasks_waiting_send (select clauses count) */
  size_t receivers_waiting; /* tasks_waiting_receive */
  int send_closed;
  int receive_closed;
} corral_channel_stats;
/* 0 or CORRAL_EINVAL. */
CORRAL_API int corral_channel_stats_get(const corral_channel *ch,
                                        corral_channel_stats *st);

/* ------------------------------------------------------------------------ */
/* Select (Go's select)                                                      */
/* ------------------------------------------------------------------------ */

typedef enum {
  CORRAL_SELECT_SEND = 1,
  CORRAL_SELECT_RECEIVE = 2
} corral_select_op;

typedef struct corral_select_clause {
  corral_channel *channel; /* NULL: the clause never fires (Go's nil
                              channel) */
  int op;                  /* CORRAL_SELECT_SEND or CORRAL_SELECT_RECEIVE */
  void *item;              /* SEND: the item to send (read only, must not be
                              NULL); RECEIVE: where to copy the item (NULL:
                              drop it) */
} corral_select_clause;

/* TASK ONLY. BLOCKS until one clause can take effect, makes exactly that
 * one take effect (the others do nothing: no item is sent or consumed by
 * them), stores its index in *fired and returns its code: 0 (the item
 * moved), or the code its operation alone would have returned on a closed
 * channel (RECEIVE: CORRAL_EEOF, CORRAL_ECLOSED; SEND: CORRAL_ECLOSED,
 * CORRAL_EPIPE): a closed channel's clause is ready, as in Go. When
 * several clauses are ready at the call, one is chosen uniformly at
 * random (Go's rule: no clause starves). Otherwise the first partner to
 * arrive decides. Other returns, with *fired = n (no clause fired):
 * CORRAL_ECANCELED, CORRAL_EDEADLK, CORRAL_ENOMEM (more than 8 clauses
 * need an allocation), CORRAL_EINVAL (clauses NULL with n > 0, fired NULL,
 * a bad op, a NULL send item, compact task), CORRAL_EFOREIGN,
 * CORRAL_ENOTASK. With no non-NULL channel it waits until cancelled.
 * The same channel may appear in several clauses. */
CORRAL_NODISCARD CORRAL_API int corral_select(const corral_select_clause *clauses, size_t n,
                             size_t *fired);
/* Never blocks (Go's select with a default case): as corral_select, or
 * CORRAL_EAGAIN (*fired = n) when no clause is ready. */
CORRAL_NODISCARD CORRAL_API int corral_try_select(const corral_select_clause *clauses,
                                 size_t n, size_t *fired);

/* ------------------------------------------------------------------------ */
/* Lock (Trio's Lock)                                                        */
/* ------------------------------------------------------------------------ */

/* A mutual-exclusion lock between tasks, in caller storage. FIFO fair: a
 * release hands the lock directly to the task that waited longest (it
 * owns the lock from that moment, even if cancelled before it runs).
 * Owner-checked and not re-entrant: only the task that acquired it may
 * release it. A task must release its locks before it ends. */
typedef struct corral_lock {
  CORRAL_ALIGN16 unsigned char opaque_[96];
} corral_lock;

/* Initialise (unlocked). name (borrowed: must outlive the lock; NULL:
 * "lock") names it in corral_dump and deadlock reports ("task 'A' waits
 * on lock 'L' held by task 'B'"). */
CORRAL_API void corral_lock_init(corral_lock *l, const char *name);
/* TASK ONLY. BLOCKS until the calling task owns l. Returns 0,
 * CORRAL_EDEADLK (the caller already owns it: not re-entrant; or the
 * runtime broke a deadlock), CORRAL_ECANCELED, CORRAL_EINVAL (NULL or not
 * initialised, compact task; or the lock was in the stack frame of a task
 * that returned while this one waited, see corral_create_task),
 * CORRAL_EFOREIGN, CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_lock_acquire(corral_lock *l);
/* TASK ONLY. Never blocks: 0, CORRAL_EAGAIN (held, or tasks queued),
 * CORRAL_EDEADLK (held by the caller), CORRAL_EINVAL, CORRAL_EFOREIGN,
 * CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_lock_try_acquire(corral_lock *l);
/* TASK ONLY. Release: 0, CORRAL_EPERM (the caller does not own it),
 * CORRAL_EINVAL, CORRAL_EFOREIGN, CORRAL_ENOTASK. */
CORRAL_API int corral_lock_release(corral_lock *l);
/* The owner (borrowed; NULL when unlocked or l is invalid). */
CORRAL_API corral_task *corral_lock_owner(const corral_lock *l);
/* Tasks waiting to acquire l. */
CORRAL_API size_t corral_lock_waiting(const corral_lock *l);

/* ------------------------------------------------------------------------ */
/* Condition variable (Trio's Condition)                                     */
/* ------------------------------------------------------------------------ */

typedef struct corral_condition {
  CORRAL_ALIGN16 unsigned char opaque_[64];
} corral_condition;

/* Initialise, bound to lock l (borrowed: must outlive c). name as for the
 * lock. */
CORRAL_API void corral_condition_init(corral_condition *c, corral_lock *l,
                                      const char *name);
/* TASK ONLY. BLOCKS. The caller must own the lock: it is released, the
 * task waits for a notify, and it owns the lock again when this returns,
 * also when cancelled (Trio's rule). Returns 0 (notified: also when the
 * task was cancelled after the notify, while it waited for the lock; the
 * cancel then shows at the next blocking call), CORRAL_ECANCELED (lock
 * held again), CORRAL_EPERM (the caller does not own the lock; nothing
 * changed), CORRAL_EDEADLK (the runtime broke a deadlock while the task
 * waited: the lock is NOT held then), CORRAL_EINVAL (also when the
 * condition or its lock was in the stack frame of a task that returned
 * while this one waited: the lock is NOT held then), CORRAL_EFOREIGN,
 * CORRAL_ENOTASK. As with any condition variable, check your predicate
 * in a loop. */
CORRAL_NODISCARD CORRAL_API int corral_condition_wait(corral_condition *c);
/* Wake up to n tasks waiting on c (an edge: tasks that wait later are not
 * woken); each then reacquires the lock in FIFO order. Returns how many
 * were woken (0 for an invalid c). The lock need not be held. Never
 * blocks. */
CORRAL_API size_t corral_condition_notify(corral_condition *c, size_t n);
CORRAL_API size_t corral_condition_notify_all(corral_condition *c);

/* ------------------------------------------------------------------------ */
/* Capacity limiter (Trio's CapacityLimiter)                                 */
/* ------------------------------------------------------------------------ */

/* A pool of tokens that knows its borrowers: each token is held by one
 * borrower (by default the calling task; any pointer with the
 * _on_behalf_of calls), a borrower holds at most one token, and only the
 * borrower may give it back. FIFO fair. In caller storage; the borrower
 * table is allocated with the runtime's allocator and freed by
 * corral_limiter_destroy(). */
typedef struct corral_limiter {
  CORRAL_ALIGN16 unsigned char opaque_[128];
} corral_limiter;

/* Initialise with total_tokens (>= 1). name as for the lock. Returns 0 or
 * CORRAL_EINVAL (l NULL, total_tokens 0). */
CORRAL_API int corral_limiter_init(corral_limiter *l, size_t total_tokens,
                                   const char *name);
/* Free the borrower table. NULL is fine. Tasks still waiting in acquire
 * fail with CORRAL_ECLOSED; tokens still borrowed are forgotten (their
 * release then returns CORRAL_EINVAL). */
CORRAL_API void corral_limiter_destroy(corral_limiter *l);
/* TASK ONLY. BLOCKS until a token is borrowed by the calling task
 * (acquire) or by `borrower` (acquire_on_behalf_of; not NULL). Returns 0,
 * CORRAL_EDEADLK (the borrower already holds a token; or the runtime
 * broke a deadlock), CORRAL_ECANCELED, CORRAL_ECLOSED (the limiter was
 * destroyed while the task waited), CORRAL_ENOMEM, CORRAL_EINVAL (also:
 * the limiter was in the stack frame of a task that returned while this
 * one waited, see corral_create_task), CORRAL_EFOREIGN, CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_limiter_acquire(corral_limiter *l);
CORRAL_NODISCARD CORRAL_API int corral_limiter_acquire_on_behalf_of(corral_limiter *l,
                                                   const void *borrower);
/* Never block: as above, or CORRAL_EAGAIN (no token free, or tasks
 * queued). try_acquire is TASK ONLY. */
CORRAL_NODISCARD CORRAL_API int corral_limiter_try_acquire(corral_limiter *l);
CORRAL_NODISCARD CORRAL_API int corral_limiter_try_acquire_on_behalf_of(corral_limiter *l,
                                                       const void *borrower);
/* Give the token back: 0, CORRAL_EPERM (the borrower holds none),
 * CORRAL_EINVAL, CORRAL_EFOREIGN, CORRAL_ENOTASK (release without a task). */
CORRAL_API int corral_limiter_release(corral_limiter *l);
CORRAL_API int corral_limiter_release_on_behalf_of(corral_limiter *l,
                                                   const void *borrower);
/* Change the number of tokens (>= 1). More tokens wake waiters at once;
 * fewer let current borrowers keep theirs and stop new grants until the
 * borrowed count is below the new total. 0, CORRAL_EINVAL, CORRAL_EFOREIGN. */
CORRAL_API int corral_limiter_set_total_tokens(corral_limiter *l,
                                               size_t total_tokens);
/* 1 if `borrower` holds a token of l, else 0. */
CORRAL_API int corral_limiter_holds(const corral_limiter *l,
                                    const void *borrower);

/* Trio's CapacityLimiterStatistics. */
typedef struct corral_limiter_stats {
  size_t total_tokens;
  size_t borrowed_tokens;
  size_t available_tokens; /* total - borrowed, 0 when over-borrowed */
  size_t tasks_waiting;
} corral_limiter_stats;
/* 0 or CORRAL_EINVAL. */
CORRAL_API int corral_limiter_stats_get(const corral_limiter *l,
                                        corral_limiter_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* CORRAL_CHANNEL_H */
