/* Fault injection counters (see fault.h). Built only with
 * CORRAL_FAULT_INJECTION; state is per thread, so runtimes on other threads
 * do not disturb a test's count. */
#include "ground/fault.h"

#ifdef CORRAL_FAULT_INJECTION
#include <stddef.h>
#include <string.h>

static _Thread_local struct {
  long nth;        /* fail the call with this number; 0: never */
  long nth2;       /* and this one (a second fault in the same run) */
  int err;         /* 0: the site's own */
  const char *only;
  long calls, fired;
  const char *site;
  int site_err;
  int last_err; /* the errno of the fault being injected now */
  corral__inject_fn on_fire, trace;
  void *fire_arg, *trace_arg;
} F;

int corral__inject_hit(const char *site, int err) {
  if (F.only && strncmp(site, F.only, strlen(F.only)) != 0) return 0;
  long n = ++F.calls;
  if (F.trace) F.trace(site, err, F.trace_arg);
  if (n != F.nth && n != F.nth2) return 0;
  int e = F.err ? F.err : err;
  if (!F.fired++) { /* the first fault is the one reported */
    F.site = site;
    F.site_err = e;
  }
  F.last_err = e;
  if (F.on_fire) F.on_fire(site, e, F.fire_arg);
  return e;
}

void corral__inject_arm(long nth, int err, const char *only) {
  F.nth = nth;
  F.nth2 = 0;
  F.err = err;
  F.only = only;
  F.calls = F.fired = 0;
  F.site = NULL;
  F.site_err = 0;
}

void corral__inject_arm2(long nth, long nth2) {
  corral__inject_arm(nth, 0, NULL);
  F.nth2 = nth2;
}

int corral__inject_current_errno(void) { return F.last_err; }

static _Thread_local struct {
  long nth, calls;
  corral__park_fn fn;
  void *arg;
} PK;

void corral__inject_park(int kind) {
  if (++PK.calls == PK.nth && PK.fn) PK.fn(kind, PK.arg);
}

void corral__inject_park_arm(long nth, corral__park_fn fn, void *arg) {
  PK.nth = nth;
  PK.calls = 0;
  PK.fn = fn;
  PK.arg = arg;
}

long corral__inject_parks(void) { return PK.calls; }

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
