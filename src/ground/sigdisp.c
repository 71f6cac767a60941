/* Save and restore signal dispositions around libuv's signal watches (see
 * sigdisp.h). The one piece of process-wide state in the library: signal
 * dispositions are process-wide themselves. */
#include "ground/sigdisp.h"
#include "ground/fault.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#ifndef NSIG
#define NSIG 65
#endif

static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned sig_watches[NSIG];          /* started corral watches */
static struct sigaction sig_saved[NSIG];    /* before the first one */

/* libuv installs its handler without SA_ONSTACK, so the kernel would push
 * the signal frame (1 to 3.5 KiB with the FPU state of AVX-512) and the
 * handler's own frames below the stack pointer of whatever task runs when
 * the signal arrives. On a task stack that is a deeper touch than the task
 * ever made itself: a task near the end of a small stack would hit its
 * guard, and pooled stacks grow resident a page at a time as signals land
 * ever deeper in them (a SIGCHLD per child on the fork path: the soak's RSS
 * rose 30 to 40 KiB a minute, docs/reliability.md "Soak"). With SA_ONSTACK
 * the handler runs on the runtime thread's alternate stack
 * (corral__fault_begin installs one when the thread has none; other threads
 * block every signal, or have no alternate stack and keep the old place).
 * Under sig_lock: no corral start or stop of libuv's handler slips between
 * the read and the write. */
static void on_altstack(int signum) {
  struct sigaction cur;
  if (sigaction(signum, NULL, &cur) != 0) return;
  if (cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN) return;
  if (cur.sa_flags & SA_ONSTACK) return;
  cur.sa_flags |= SA_ONSTACK;
  sigaction(signum, &cur, NULL);
}

int corral__signal_start(uv_signal_t *h, uv_signal_cb cb, int signum) {
  pthread_mutex_lock(&sig_lock);
  int rc = uv_signal_start(h, cb, signum);
  if (rc == 0) on_altstack(signum);
  pthread_mutex_unlock(&sig_lock);
  return rc;
}

void corral__signal_stop(uv_signal_t *h) {
  pthread_mutex_lock(&sig_lock);
  uv_signal_stop(h);
  pthread_mutex_unlock(&sig_lock);
}

int corral__sigwatch_start(uv_signal_t *h, uv_signal_cb cb, int signum) {
  if (signum <= 0 || signum >= NSIG) return UV_EINVAL;
  pthread_mutex_lock(&sig_lock);
  int first = sig_watches[signum] == 0;
  if (first && sigaction(signum, NULL, &sig_saved[signum]) != 0) {
    pthread_mutex_unlock(&sig_lock);
    return UV_EINVAL;
  }
  int rc = CORRAL__UV("signal_start", EINVAL, uv_signal_start(h, cb, signum));
  if (rc == 0) {
    sig_watches[signum]++;
    on_altstack(signum);
  } else if (first) {
    sigaction(signum, &sig_saved[signum], NULL); /* libuv may have reset it */
  }
  pthread_mutex_unlock(&sig_lock);
  return rc;
}

void corral__sigwatch_close(uv_signal_t *h, uv_close_cb close_cb) {
  int signum = h->signum; /* 0: never started (or already stopped) */
  /* libuv resets the last watch's signal to SIG_DFL before the saved
   * disposition is put back: a SIGINT or SIGUSR1 arriving in between would
   * kill the process. Blocked on this thread meanwhile (the runtime's other
   * threads block every signal), it waits and then meets the restored
   * disposition. */
  sigset_t one, old;
  sigemptyset(&one);
  if (signum > 0 && signum < NSIG) sigaddset(&one, signum);
  pthread_sigmask(SIG_BLOCK, &one, &old);
  pthread_mutex_lock(&sig_lock);
  uv_close((uv_handle_t *)h, close_cb); /* stops it: libuv may reset now */
  if (signum > 0 && signum < NSIG && sig_watches[signum] > 0 &&
      --sig_watches[signum] == 0)
    sigaction(signum, &sig_saved[signum], NULL);
  pthread_mutex_unlock(&sig_lock);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}
