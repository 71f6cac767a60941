/* Fault injection counters (see fault.h). Built only with
 * CORRAL_FAULT_INJECTION; state is per thread, so runtimes on other threads
 * do not disturb a test's count. */
#include "ground/fault.h"

#ifdef CORRAL_FAULT_INJECTION
#include <stddef.h>
#include <string.h>

static _Thread_local struct {
  long nth;        /* fail the call with this number; 0: never */
  int err;         /* 0: the site's own */
  const char *only;
  long calls, fired;
  const char *site;
  int site_err;
  corral__inject_fn on_fire, trace;
  void *fire_arg, *trace_arg;
} F;

int corral__inject_hit(const char *site, int err) {
  if (F.only && strncmp(site, F.only, strlen(F.only)) != 0) return 0;
  long n = ++F.calls;
  if (F.trace) F.trace(site, err, F.trace_arg);
  if (n != F.nth) return 0;
  F.fired++;
  F.site = site;
  F.site_err = F.err ? F.err : err;
  if (F.on_fire) F.on_fire(site, F.site_err, F.fire_arg);
  return F.site_err;
}

void corral__inject_arm(long nth, int err, const char *only) {
  F.nth = nth;
  F.err = err;
  F.only = only;
  F.calls = F.fired = 0;
  F.site = NULL;
  F.site_err = 0;
}

long corral__inject_calls(void) { return F.calls; }
long corral__inject_fired(void) { return F.fired; }
const char *corral__inject_site(void) { return F.site; }
int corral__inject_errno(void) { return F.site_err; }

void corral__inject_on_fire(corral__inject_fn fn, void *arg) {
  F.on_fire = fn;
  F.fire_arg = arg;
}

void corral__inject_trace(corral__inject_fn fn, void *arg) {
  F.trace = fn;
  F.trace_arg = arg;
}
#else
typedef int corral__inject_unused; /* ISO C: not an empty unit */
#endif
