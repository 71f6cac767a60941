/* Fault injection: one indirection around every system and libuv call the
 * library makes, so that a test can make the N-th call fail with a chosen
 * errno (neco's fail counters and SQLite's fault tests are the models).
 *
 *   CORRAL__UV(site, err, call)    a libuv call returning 0 / a UV error;
 *                                  injected: returns -err
 *   CORRAL__SYS(site, err, call)   a system call returning -1 and errno;
 *                                  injected: errno = err, returns -1
 *   CORRAL__MMAP(site, err, call)  mmap; injected: errno = err, MAP_FAILED
 *   CORRAL__CB(site, err, status)  the status a libuv callback delivers
 *                                  (status >= 0 becomes -err when injected)
 *   CORRAL__ERR(site, err, call)   a call returning 0 / a positive errno
 *                                  (pthread_create); injected: returns err
 *
 * `site` names the call ("tcp_connect", "stack_mmap"); `err` is the errno
 * the real call would most plausibly fail with, used unless the test
 * chooses another. Without CORRAL_FAULT_INJECTION (every normal build) the
 * macros are the bare call: nothing is added. */
#ifndef CORRAL_GROUND_FAULT_H
#define CORRAL_GROUND_FAULT_H

#include <errno.h>

#ifdef CORRAL_FAULT_INJECTION
#include "ground/compiler.h"

/* 0: let the call run; else the positive errno to fail it with. Counts
 * every call it sees. */
CORRAL__HIDDEN int corral__inject_hit(const char *site, int err);

#define CORRAL__UV(site, err, call)                                          \
  (corral__inject_hit((site), (err)) ? -corral__inject_current_errno() : (call))
#define CORRAL__SYS(site, err, call)                                         \
  (corral__inject_hit((site), (err))                                          \
       ? (errno = corral__inject_current_errno(), -1)                         \
       : (call))
#define CORRAL__MMAP(site, err, call)                                        \
  (corral__inject_hit((site), (err))                                          \
       ? (errno = corral__inject_current_errno(), MAP_FAILED)                 \
       : (call))
#define CORRAL__CB(site, err, status)                                        \
  ((status) >= 0 && corral__inject_hit((site), (err))                         \
       ? -corral__inject_current_errno()                                      \
       : (status))
#define CORRAL__ERR(site, err, call)                                         \
  (corral__inject_hit((site), (err)) ? corral__inject_current_errno() : (call))

/* The control side, for tests (tests/test_fault.c). Per thread. */
typedef void (*corral__inject_fn)(const char *site, int err, void *arg);
/* Fail the nth call seen from now on (1: the next one) with err (0: the
 * site's own errno); only calls whose site starts with `only` count when
 * only != NULL. nth == 0 disarms. Resets the counters. */
CORRAL__HIDDEN void corral__inject_arm(long nth, int err, const char *only);
/* Fail the nth and the nth2 calls (nth2 > nth: a second fault, often in
 * the cleanup of the first) with their sites' own errno. */
CORRAL__HIDDEN void corral__inject_arm2(long nth, long nth2);
/* The errno of the fault being injected now (the macros return it). */
CORRAL__HIDDEN int corral__inject_current_errno(void);
/* Calls seen since the last arm, and how many were failed (0, 1 or 2). */
CORRAL__HIDDEN long corral__inject_calls(void);
CORRAL__HIDDEN long corral__inject_fired(void);
/* The site and errno of the first injected failure (NULL / 0 when none). */
CORRAL__HIDDEN const char *corral__inject_site(void);
CORRAL__HIDDEN int corral__inject_errno(void);
/* Called when the failure is injected, before the call returns (a test
 * records which task made the call). */
CORRAL__HIDDEN void corral__inject_on_fire(corral__inject_fn fn, void *arg);
/* Record every site seen (for a listing of the calls a program makes). */
CORRAL__HIDDEN void corral__inject_trace(corral__inject_fn fn, void *arg);

/* Cancellation points: corral__park calls this at the entry of every
 * abortable park (kind: CORRAL__W_*). The nth such call (counted apart from
 * the fault sites, per thread) calls fn, which may cancel something: a
 * test then sees a cancellation arrive at exactly that point. */
typedef void (*corral__park_fn)(int kind, void *arg);
CORRAL__HIDDEN void corral__inject_park(int kind);
CORRAL__HIDDEN void corral__inject_park_arm(long nth, corral__park_fn fn, void *arg);
CORRAL__HIDDEN long corral__inject_parks(void);

#else

#define CORRAL__UV(site, err, call) (call)
#define CORRAL__SYS(site, err, call) (call)
#define CORRAL__MMAP(site, err, call) (call)
#define CORRAL__CB(site, err, status) (status)
#define CORRAL__ERR(site, err, call) (call)

#endif
#endif
