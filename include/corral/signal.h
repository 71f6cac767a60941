/* corral/signal.h -- waiting for signals in tasks. Included by corral.h.
 *
 * A watch turns the delivery of a signal into something a task waits for
 * (Trio's open_signal_receiver). While any watch of a signal is open in the
 * process, libuv's handler owns that signal; when the last one closes, the
 * disposition the process had before the first one (SIG_IGN, SIG_DFL or the
 * application's own handler, with its flags and mask) is restored exactly.
 * The same holds for corral_scope_cancel_on_signal and
 * corral_group_cancel_on_signal. Watches may be open in several runtimes in
 * several threads at once; each watch sees every delivery of its signals.
 */
#ifndef CORRAL_SIGNAL_H
#define CORRAL_SIGNAL_H

#include "corral.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A set of watched signals with the deliveries not read yet. Owned by the
 * code that opened it: close it with corral_signal_watch_close(); one still
 * open when the runtime ends is closed then. */
typedef struct corral_signal_watch corral_signal_watch;

#define CORRAL_SIGNAL_WATCH_MAX 32 /* signals in one watch */

/* TASK ONLY. Start watching the n signals of signums (1..n..
 * CORRAL_SIGNAL_WATCH_MAX, no duplicates; SIGKILL and SIGSTOP cannot be
 * watched). From this call on, deliveries are kept until read: a signal
 * delivered several times before it is read is reported once (signals do not
 * queue, as in Trio). Returns 0 and *out, CORRAL_EINVAL, CORRAL_ENOMEM,
 * CORRAL_ENOTASK, or libuv's code. */
CORRAL_NODISCARD CORRAL_API int corral_signal_watch_open(const int *signums, size_t n,
                                        corral_signal_watch **out);
/* BLOCKS until one of the watched signals has been delivered; returns its
 * number (> 0), oldest delivery first. Returns CORRAL_ECANCELED,
 * CORRAL_ECLOSED (the watch was closed meanwhile), CORRAL_EINVAL (NULL),
 * CORRAL_EFOREIGN (another runtime's watch), CORRAL_EBUSY (another task
 * already waits on it), CORRAL_ENOTASK. A cancelled wait loses nothing: a
 * delivery is kept for the next call. */
CORRAL_NODISCARD CORRAL_API int corral_signal_next(corral_signal_watch *w);
/* Stop watching and free (never blocks; NULL is fine). A task blocked in
 * corral_signal_next on w gets CORRAL_ECLOSED. When this was the last
 * watch of a signal in the process, its previous disposition is restored. */
CORRAL_API void corral_signal_watch_close(corral_signal_watch *w);

/* BLOCKS. Watch signum, wait for one delivery, stop watching: returns
 * signum, or a code as corral_signal_next (CORRAL_EINVAL for a signal that
 * cannot be watched). A delivery before the call is not seen: open a watch
 * first when none may be missed. */
CORRAL_NODISCARD CORRAL_API int corral_signal_wait(int signum);

#ifdef __cplusplus
}
#endif
#endif
