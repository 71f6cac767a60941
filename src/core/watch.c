/* The watchdog: see watch.h. */
#include "core/sched.h"
#include "ground/fault.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_NS ((int64_t)1000000)       /* while tasks run */
#define IDLE_TICK_NS ((int64_t)16000000) /* longest sleep while idle */

static void sleep_until(corral__watch *w, int64_t ns) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + ns;
  ts.tv_sec = (time_t)(t / 1000000000);
  ts.tv_nsec = (long)(t % 1000000000);
  while (!w->stop)
    if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT) break;
}

#if defined(__SANITIZE_THREAD__)
/* The copy below is a seqlock-style read, validated by the CPU mark read
 * after it: ThreadSanitizer cannot know that (and refuses fences). */
#define CORRAL__SEQ_FENCE() ((void)corral__cpu_mark(rt))
#define CORRAL__NO_TSAN __attribute__((no_sanitize_thread))
#else
#define CORRAL__SEQ_FENCE() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define CORRAL__NO_TSAN
#endif

/* Report the current task once, if it is still the one that stalled. Its
 * struct stays mapped until the runtime ends (slab.c), and the CPU mark,
 * read again after the copy, says it did not end meanwhile. */
CORRAL__NO_TSAN static void report_stall(corral__rt *rt, uint64_t n,
                                         int64_t ran_ns) {
  corral_task *t = __atomic_load_n(&rt->sched.current, __ATOMIC_RELAXED);
  if (!t) return;
  char name[CORRAL_NAME_MAX];
  const char *file;
  int line;
  memcpy(name, t->name, sizeof name);
  name[sizeof name - 1] = 0;
  file = t->file;
  line = t->line;
  bool reported = __atomic_load_n(&t->stall_reported, __ATOMIC_RELAXED);
  CORRAL__SEQ_FENCE();
  if (corral__cpu_mark(rt) != n ||
      __atomic_load_n(&rt->sched.current, __ATOMIC_RELAXED) != t || reported)
    return;
  __atomic_store_n(&t->stall_reported, 1, __ATOMIC_RELAXED);
  fprintf(rt->report,
          "corral: task '%s' (spawned at %s:%d) has run for %lld ms without "
          "reaching a checkpoint that gives the CPU away (a blocking call, "
          "corral_yield); every other task and timer waits (reported once "
          "per task)\n",
          name, file ? file : "?", line, (long long)(ran_ns / 1000000));
  fflush(rt->report);
}

static void *watch_main(void *arg) {
  corral__rt *rt = arg;
  corral__watch *w = &rt->watch;
  int64_t tick = TICK_NS, stalled = 0, last_now = (int64_t)uv_hrtime();
  uint64_t last_n = 0;
  corral_task *last_t = NULL;
  pthread_mutex_lock(&w->mu);
  while (!w->stop) {
    sleep_until(w, tick);
    if (w->stop) break;
    int64_t now = (int64_t)uv_hrtime();
    if (!rt->clock.virtual_clock &&
        now >= __atomic_load_n(&w->deadline, __ATOMIC_RELAXED)) {
      /* The next switch goes through the scheduler, which fires the timers
       * (a store the runtime overwrites is made again next tick). */
      __atomic_store_n(&rt->sched.budget, 0, __ATOMIC_RELAXED);
      __atomic_store_n(&rt->sched.quick_left, 0, __ATOMIC_RELAXED);
      __atomic_store_n(&rt->sched.preempt, 1, __ATOMIC_RELAXED);
    }
    uint64_t n = corral__cpu_mark(rt);
    corral_task *cur = __atomic_load_n(&rt->sched.current, __ATOMIC_RELAXED);
    bool busy = cur != NULL;
    if (busy && n == last_n && cur == last_t) {
      /* A whole tick without a switch: the task used its slice. Its next
       * call that completes at once yields (corral__quick_done), its next
       * park goes through the scheduler. */
      if (!rt->clock.virtual_clock) {
        __atomic_store_n(&rt->sched.budget, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&rt->sched.quick_left, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&rt->sched.preempt, 1, __ATOMIC_RELAXED);
        n = corral__cpu_mark(rt);
      }
      stalled += now - last_now; /* real time: this thread may wake late */
      if (stalled >= w->stall_ns) report_stall(rt, n, stalled);
    } else {
      stalled = 0;
    }
    last_n = n;
    last_t = cur;
    last_now = now;
    /* Idle (blocked in the loop or between tasks): back off. */
    tick = busy ? TICK_NS : (tick * 2 > IDLE_TICK_NS ? IDLE_TICK_NS : tick * 2);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

void corral__watch_start(corral__rt *rt, const corral_options *o) {
  corral__watch *w = &rt->watch;
  w->deadline = INT64_MAX;
  w->stall_ns = o->stall_report_ns == 0 ? CORRAL_MS(100) : o->stall_report_ns;
  if (w->stall_ns < TICK_NS) w->stall_ns = TICK_NS;
  w->spin_limit = o->cancel_spin_report == 0 ? 10000 : o->cancel_spin_report;
  w->spin_fatal = o->cancel_spin_fatal != 0;
  pthread_mutex_init(&w->mu, NULL);
  /* Needed for deadlines on the real clock, and for stall reports. */
  if (rt->clock.virtual_clock && w->stall_ns == CORRAL_FOREVER) return;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->cv, &ca);
  pthread_condattr_destroy(&ca);
  /* Signals are for the program's threads, not this one. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  w->started = CORRAL__ERR("watch_thread", EAGAIN,
                           pthread_create(&w->thread, NULL, watch_main, rt)) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (!w->started) pthread_cond_destroy(&w->cv);
}

void corral__watch_stop(corral__rt *rt) {
  corral__watch *w = &rt->watch;
  if (w->started) {
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    w->started = false;
  }
  pthread_mutex_destroy(&w->mu);
}

void corral__cancel_spin(corral__rt *rt, corral_task *t, corral__scope *cs) {
  corral__watch *w = &rt->watch;
  if (w->spin_task != t || w->spin_scope != cs ||
      w->spin_mark != corral__cpu_mark(rt)) {
    /* A new run: another task or scope, or the CPU changed hands. */
    w->spin_task = t;
    w->spin_scope = cs;
    w->spin_mark = corral__cpu_mark(rt);
    w->spin_count = 0;
  }
  if (++w->spin_count != w->spin_limit || t->spin_reported ||
      w->spin_limit == UINT32_MAX)
    return;
  t->spin_reported = 1;
  fprintf(rt->report,
          "corral: task '%s' (spawned at %s:%d) hit %u checkpoints in a row "
          "inside cancelled scope '%s' without leaving it: a returned "
          "CORRAL_ECANCELED is being ignored (reported once per task)\n",
          t->name, t->file ? t->file : "?", t->line, w->spin_count, cs->name);
  fflush(rt->report);
  if (w->spin_fatal) abort();
}
