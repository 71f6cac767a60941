/* The watchdog (watch.c): a thread per runtime that never touches the
 * scheduler's state, only reads two counters and sets one flag.
 *  - Deadlines on time: tasks that switch among themselves without ever
 *    returning to the scheduler (yield ping-pong, a budget of 256 direct
 *    switches) would not see a deadline fire until the budget ran out. The
 *    runtime publishes its earliest timer deadline; when the real clock
 *    passes it, the watchdog raises `preempt`, and the next checkpoint goes
 *    through the scheduler, which fires the timers.
 *  - Stalls: a task that runs longer than a threshold without giving the
 *    CPU away (the current task, the switch budget and the scheduler's pass
 *    count did not move: corral__cpu_mark) is reported once, by name and
 *    spawn site, to the report stream (Seastar's stall detector).
 * A task that keeps hitting checkpoints inside a cancelled scope without
 * leaving it is detected on the runtime's thread (corral__cancel_spin). */
#ifndef CORRAL_CORE_WATCH_H
#define CORRAL_CORE_WATCH_H

#include "corral.h"
#include "ground/compiler.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct corral__rt corral__rt;
typedef struct corral__scope corral__scope;

typedef struct corral__watch {
  pthread_t thread;
  pthread_mutex_t mu;        /* guards stop */
  pthread_cond_t cv;
  bool started, stop;
  int64_t deadline;          /* earliest real-clock timer deadline (atomic) */
  int64_t stall_ns;          /* report threshold; CORRAL_FOREVER: off */
  uint32_t spin_limit;       /* cancelled checkpoints in a row; 0: off */
  bool spin_fatal;
  /* Cancel-spin state, runtime thread only. */
  corral_task *spin_task;
  corral__scope *spin_scope;
  uint64_t spin_mark;        /* where the CPU was (corral__cpu_mark) */
  uint32_t spin_count;
} corral__watch;

CORRAL__HIDDEN void corral__watch_start(corral__rt *rt,
                                        const corral_options *o);
CORRAL__HIDDEN void corral__watch_stop(corral__rt *rt);
/* The runtime's earliest deadline changed (INT64_MAX: none). */
static inline void corral__watch_publish(corral__watch *w, int64_t deadline) {
  __atomic_store_n(&w->deadline, deadline, __ATOMIC_RELAXED);
}
/* Task t is inside cancelled scope cs at a checkpoint: count it. */
CORRAL__HIDDEN void corral__cancel_spin(corral__rt *rt, corral_task *t,
                                        corral__scope *cs);

#endif
