/* Signal watches that give the process its signal dispositions back.
 *
 * libuv installs its own handler when the first uv_signal_t of a signal
 * starts and resets the signal to SIG_DFL when the last one stops, so an
 * application that ignored SIGTERM (or had its own handler) would find the
 * default disposition after a watch, and the next SIGTERM would kill it.
 * Every corral watch starts and stops through these two calls: the
 * disposition is saved (sigaction) before the first watch of a signal in the
 * process and restored exactly after the last one ends. Dispositions are
 * process-wide, and several runtimes in several threads may watch at once,
 * so the count per signal lives in the process, under one mutex that also
 * covers libuv's start and stop (nothing can slip between libuv's reset and
 * our restore). */
#ifndef CORRAL_GROUND_SIGDISP_H
#define CORRAL_GROUND_SIGDISP_H

#include "ground/compiler.h"

#include <uv.h>

/* uv_signal_start(h, cb, signum), saving the disposition first if this is
 * the process's first corral watch of signum. Returns libuv's code. */
CORRAL__HIDDEN int corral__sigwatch_start(uv_signal_t *h, uv_signal_cb cb,
                                          int signum);
/* uv_close(h, close_cb), restoring the saved disposition if h was started
 * and was the process's last corral watch of its signal. */
CORRAL__HIDDEN void corral__sigwatch_close(uv_signal_t *h, uv_close_cb close_cb);

/* uv_signal_start and uv_signal_stop for a watch that keeps no saved
 * disposition (the fork path's SIGCHLD watch), under the same mutex. Every
 * start, here and in corral__sigwatch_start, adds SA_ONSTACK to libuv's
 * handler: it runs on the thread's alternate stack, never below a task's
 * stack pointer. Returns libuv's code. */
CORRAL__HIDDEN int corral__signal_start(uv_signal_t *h, uv_signal_cb cb, int signum);
CORRAL__HIDDEN void corral__signal_stop(uv_signal_t *h);

#endif
