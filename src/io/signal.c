/* Signal watches: libuv signal handles feeding a small queue of pending
 * signal numbers that one task at a time reads. Every handle starts and
 * closes through ground/sigdisp, which gives the process its previous
 * disposition back after the last watch of a signal. */
#include "io/io.h"
#include "ground/fault.h"
#include "ground/sigdisp.h"

#include <signal.h>

typedef struct sig_handle {
  uv_signal_t h;
  corral_signal_watch *w;
} sig_handle;

struct corral_signal_watch {
  corral__rt *rt;
  corral__handle reg;
  corral_task *waiter;
  int closed;
  size_t n;
  size_t nopen;                    /* handles whose close has not completed */
  size_t qhead, qlen;              /* pending deliveries, oldest first */
  int queue[CORRAL_SIGNAL_WATCH_MAX];
  sig_handle hs[];
};

/* w is freed when its last handle has closed and no task is still between
 * its wake and its return from corral_signal_next. */
static void on_handle_closed(uv_handle_t *h) {
  corral_signal_watch *w = ((sig_handle *)h->data)->w;
  if (--w->nopen == 0 && !w->waiter) corral__free(w->rt, w);
}

static void watch_close(corral_signal_watch *w) {
  if (w->closed) return;
  w->closed = 1;
  corral__handle_unregister(&w->reg);
  if (w->waiter) corral__wake(w->waiter, CORRAL_ECLOSED); /* it clears */
  size_t n = w->n; /* the last close callback frees w */
  for (size_t i = 0; i < n; i++)
    corral__sigwatch_close(&w->hs[i].h, on_handle_closed);
}

static void close_registered(corral__handle *h) {
  watch_close(corral__container_of(h, corral_signal_watch, reg));
}

static void on_signal(uv_signal_t *h, int signum) {
  corral_signal_watch *w = ((sig_handle *)h->data)->w;
  for (size_t i = 0; i < w->qlen; i++)
    if (w->queue[(w->qhead + i) % CORRAL_SIGNAL_WATCH_MAX] == signum) return;
  w->queue[(w->qhead + w->qlen++) % CORRAL_SIGNAL_WATCH_MAX] = signum;
  if (w->waiter) corral__wake(w->waiter, 0);
}

static int watchable(int s) {
  return s > 0 && s < NSIG && s != SIGKILL && s != SIGSTOP;
}

int corral_signal_watch_open(const int *signums, size_t n,
                             corral_signal_watch **out) {
  corral_task *self = corral__self();
  if (out) *out = NULL;
  if (!self) return CORRAL_ENOTASK;
  if (!out || !signums || n == 0 || n > CORRAL_SIGNAL_WATCH_MAX)
    return CORRAL_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (!watchable(signums[i]))
      return corral_errorf(CORRAL_EINVAL, "signal %d cannot be watched",
                           signums[i]);
    for (size_t j = 0; j < i; j++)
      if (signums[j] == signums[i])
        return corral_errorf(CORRAL_EINVAL, "signal %d given twice",
                             signums[i]);
  }
  corral__rt *rt = self->rt;
  corral_signal_watch *w = corral__calloc(rt, sizeof *w + n * sizeof w->hs[0]);
  if (!w) return CORRAL_ENOMEM;
  w->rt = rt;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    sig_handle *sh = &w->hs[i];
    sh->w = w;
    rc = CORRAL__UV("signal_watch_init", EMFILE, uv_signal_init(rt->loop, &sh->h));
    if (rc) break;
    sh->h.data = sh;
    w->n++;
    w->nopen++;
    rc = corral__sigwatch_start(&sh->h, on_signal, signums[i]);
  }
  corral__handle_register(rt, &w->reg, "signal watch", close_registered);
  if (rc) {
    size_t opened = w->n;
    watch_close(w);
    if (opened == 0) corral__free(rt, w);
    return corral_errorf(corral__from_uv(rc), "watching signals: %s",
                         uv_strerror(rc));
  }
  *out = w;
  return 0;
}

int corral_signal_next(corral_signal_watch *w) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!w) return CORRAL_EINVAL;
  int rc = corral__io_check(self, w->rt);
  if (rc) return rc;
  /* A checkpoint also when a signal is queued already (it stays queued). */
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  for (bool waited = false;; waited = true) {
    if (w->closed) return CORRAL_ECLOSED;
    if (w->qlen) {
      int s = w->queue[w->qhead];
      w->qhead = (w->qhead + 1) % CORRAL_SIGNAL_WATCH_MAX;
      w->qlen--;
      if (!waited) corral__quick_done(self->rt, self);
      return s;
    }
    if (w->waiter) return CORRAL_EBUSY;
    w->waiter = self; /* keeps w allocated until we are back */
    rc = corral__park(self, CORRAL__W_SIGNAL, NULL, CORRAL_FOREVER);
    w->waiter = NULL;
    if (w->closed) {
      if (w->nopen == 0) corral__free(w->rt, w);
      return CORRAL_ECLOSED;
    }
    if (rc) return rc;
  }
}

void corral_signal_watch_close(corral_signal_watch *w) {
  if (w) watch_close(w);
}

int corral_signal_wait(int signum) {
  corral_signal_watch *w;
  int rc = corral_signal_watch_open(&signum, 1, &w);
  if (rc) return rc;
  rc = corral_signal_next(w);
  corral_signal_watch_close(w);
  return rc;
}
