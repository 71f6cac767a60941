/* Sleeping and the cancellation checkpoints of the public API. */
#include "core/group.h"
#include "core/sched.h"

#include <stdint.h>

/* Both sleeps park directly: few frames stay live while a task sleeps,
 * which is what a compact task keeps. */
/* A sleep is always a schedule point: a deadline that passed before the
 * park (a 1 ns sleep on the real clock) yields instead. */
static int sleep_park(corral_task *self, int64_t deadline) {
  corral__rt *rt = self->rt;
  uint64_t mark = corral__cpu_mark(rt);
  int rc = corral__park(self, CORRAL__W_SLEEP, NULL, deadline);
  if (rc == CORRAL_ETIMEDOUT && corral__cpu_mark(rt) == mark)
    return corral_yield();
  return rc == CORRAL_ETIMEDOUT ? 0 : rc;
}

int corral_sleep_until(int64_t deadline) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (deadline <= corral__now(self->rt)) return corral_yield();
  return sleep_park(self, deadline);
}

int corral_sleep(int64_t ns) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (ns <= 0) return corral_yield(); /* already expired: a checkpoint */
  int64_t now = corral__now(self->rt);
  return sleep_park(self, ns > INT64_MAX - now ? CORRAL_FOREVER : now + ns);
}

int corral_checkpoint_cancel(void) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  /* Not a switch point: expired deadlines of the scopes around the task
   * are fired here (corral__checkpoint_scope). */
  return corral__checkpoint_scope(self->rt, self)
             ? corral__fail(self, CORRAL_ECANCELED)
             : 0;
}

int corral_cancel_reason_get(corral_cancel_reason *out) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!out) return CORRAL_EINVAL;
  corral__scope *s = corral__cancelled_scope(self->scope);
  if (!s) return CORRAL_ENOENT;
  corral__fill_reason(self, s, out);
  return 0;
}
