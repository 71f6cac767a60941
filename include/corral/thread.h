/* corral/thread.h -- worker-thread offload and cross-thread portals.
 * Included by corral.h.
 *
 * Offload (asyncio.to_thread, Trio's to_thread.run_sync) runs a blocking or
 * CPU-heavy C function on the runtime's own pool of worker threads while the
 * calling task waits. The pool is separate from libuv's, so offloaded calls
 * never hold up file requests and name lookups; its size is
 * corral_options.offload_threads (default 8; threads start on demand).
 *
 * Portals (Trio's from_thread / TrioToken) let any thread submit a function
 * to run as a task in a given runtime, and optionally wait for its result.
 */
#ifndef CORRAL_THREAD_H
#define CORRAL_THREAD_H

#include "corral.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- offload ---- */

/* Receives the outcome of an abandoned call when it finally finishes:
 * fn's argument, its return code and its result. Runs on the runtime's
 * thread, outside any task (it must not block); or, if the call is still
 * running when the runtime has ended and waited offload_drain_ns for it, on
 * the worker thread when it finishes. */
typedef void (*corral_thread_cleanup_fn)(void *arg, int code, void *result);

typedef struct corral_thread_opts {
  const char *name;        /* for reports (copied); NULL: "to_thread" */
  int64_t abandon_after_ns; /* stop waiting for a running call after this
                               long (see corral_to_thread). The time rule
                               for option fields: 0 (not set) and
                               CORRAL_FOREVER: wait however long; < 0:
                               already expired (the call returns
                               CORRAL_ETIMEDOUT and fn never runs) */
  corral_thread_cleanup_fn cleanup; /* an abandoned call's outcome; NULL:
                                       dropped */
} corral_thread_opts;

/* TASK ONLY. BLOCKS. Run fn(arg, &result) on a worker thread and return
 * its code, with its result in *result (may be NULL). fn must not call
 * corral's task functions (on a worker they return CORRAL_ENOTASK).
 * Cancellation (Trio's rule):
 *   - while the call is queued, it is withdrawn: fn never runs, and the
 *     call returns CORRAL_ECANCELED;
 *   - once fn runs, it cannot be interrupted: the task waits for it and
 *     returns its code and result (the next blocking call sees the
 *     cancellation); unless an abandon deadline was given:
 *   - opts->abandon_after_ns after the call (cancelled or not), a call still
 *     running is abandoned: corral_to_thread returns CORRAL_EABANDONED at
 *     once, and when fn finishes its outcome goes to opts->cleanup, so
 *     nothing it returns leaks. A call still queued at that deadline never
 *     runs and returns CORRAL_ETIMEDOUT. A call that finished at the same
 *     moment returns its result.
 * The runtime's end waits for abandoned calls, at most
 * corral_options.offload_drain_ns (default 10 s); a call still running then
 * is reported by name on options->report and left to finish on its own
 * thread, which then runs its cleanup.
 * Returns fn's code (any int fn returns, passed through unchanged),
 * CORRAL_ECANCELED, CORRAL_ETIMEDOUT, CORRAL_EABANDONED, CORRAL_EINVAL (fn
 * NULL), CORRAL_ENOMEM, CORRAL_EAGAIN (no worker thread could be started),
 * CORRAL_ENOTASK. *result is set to NULL first and gets fn's result only
 * when fn's outcome is returned. */
CORRAL_NODISCARD CORRAL_API int corral_to_thread(int (*fn)(void *arg, void **result), void *arg,
                                void **result, const corral_thread_opts *opts);

/* ---- portals ---- */

/* A way into one runtime from other threads; reference counted, safe to use
 * from any thread, and safe to keep after the runtime ended (submissions
 * then fail with CORRAL_ECLOSED). */
typedef struct corral_portal corral_portal;

/* TASK ONLY. A new reference to the current runtime's portal (the same
 * object every time). Release it with corral_portal_release(). Submitted
 * functions run as tasks spawned into the main task's create_task group:
 * they are part of the runtime's tree, cancelled with it, and corral_run
 * waits for them. While a reference is held outside the runtime, a
 * submission may come at any time, so the runtime does not report a
 * deadlock while its tasks wait for one. Returns 0, CORRAL_ENOMEM,
 * CORRAL_ENOTASK, or libuv's code. */
CORRAL_NODISCARD CORRAL_API int corral_portal_open(corral_portal **out);
/* Another reference (any thread). Returns p. */
CORRAL_API corral_portal *corral_portal_ref(corral_portal *p);
/* Drop a reference (any thread; NULL is fine). The object is freed when
 * the runtime has ended and the last reference is dropped. A release more
 * than the references taken aborts with a message while the runtime lives
 * (after it ended and the last reference went, p is gone: undefined). */
CORRAL_API void corral_portal_release(corral_portal *p);

/* Any thread, never blocks. Run fn(arg, &result) as a task named `name`
 * (copied; NULL: "portal") in p's runtime, soon. Its error, if any, is the
 * task's error (as with corral_create_task: an error nobody joins fails
 * the main task's group). Returns 0, CORRAL_ECLOSED (the runtime has
 * ended, or its main task has finished), CORRAL_EINVAL, CORRAL_ENOMEM. A
 * submission accepted here whose task the runtime then has no memory for
 * does not run; the runtime says so on its report stream
 * (corral_options.report). */
CORRAL_NODISCARD CORRAL_API int corral_portal_submit(corral_portal *p,
                                    int (*fn)(void *arg, void **result),
                                    void *arg, const char *name);
/* BLOCKS THE CALLING THREAD (Trio's from_thread.run). Run fn as in
 * corral_portal_submit and wait until the task has finished: returns its
 * code with its result in *result (may be NULL): 0, fn's error code,
 * CORRAL_ECANCELED (the runtime cancelled it), CORRAL_ENOMEM (the runtime
 * had no memory for its task: it did not run), or CORRAL_ECLOSED (the
 * runtime ended before it ran). Its error is returned here, not raised in
 * the runtime. Must not be called from a thread that runs a corral runtime
 * (that would stop the runtime until the task ends, and deadlock if it is
 * p's runtime): there it returns CORRAL_EBUSY; use corral_portal_submit. */
CORRAL_NODISCARD CORRAL_API int corral_portal_call(corral_portal *p,
                                  int (*fn)(void *arg, void **result),
                                  void *arg, void **result);

#ifdef __cplusplus
}
#endif
#endif
