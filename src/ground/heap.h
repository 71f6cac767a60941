/* Timers: a binary min-heap ordered by (deadline, seq). A timer carries its
 * callback, so whoever arms one says what firing it does (wake a sleeping
 * task, cancel a scope, ...) and the loop only pops and calls. */
#ifndef CORRAL_GROUND_HEAP_H
#define CORRAL_GROUND_HEAP_H

#include "corral.h"
#include "ground/compiler.h"

#include <stdint.h>

typedef struct corral__timer corral__timer;
typedef void (*corral__timer_cb)(corral__timer *tm);

struct corral__timer {
  int64_t deadline;
  corral__timer_cb cb; /* what firing does */
  uint32_t seq;        /* tie-break: equal deadlines fire in the order set
                          (compared by difference: exact for timers started
                          within 2^31 starts of each other) */
  uint32_t idx;        /* position in the heap, CORRAL__TIMER_OFF if idle */
};

#define CORRAL__TIMER_OFF UINT32_MAX

static inline void corral__timer_init(corral__timer *tm) {
  tm->idx = CORRAL__TIMER_OFF;
}
static inline int corral__timer_armed(const corral__timer *tm) {
  return tm->idx != CORRAL__TIMER_OFF;
}

/* Heap entries carry their deadline, so ordering touches timer memory only
 * on ties; a removed timer leaves a tombstone (t == NULL) popped or
 * compacted later. */
typedef struct corral__hent {
  int64_t deadline;
  corral__timer *t;
} corral__hent;

/* The runtime's part: the heap and the start counter. */
typedef struct corral__timers {
  corral__hent *v;
  uint32_t n, cap, ndead;
  uint32_t seq;
} corral__timers;

/* Arm (or re-arm) tm. 0 or CORRAL_ENOMEM. */
CORRAL__HIDDEN int corral__timer_start(corral__timers *h,
                                       const corral_allocator *al,
                                       corral__timer *tm, int64_t deadline,
                                       corral__timer_cb cb);
static inline void corral__timer_stop(corral__timers *h, corral__timer *tm);
/* Pop and call, in (deadline, seq) order, every timer due at `now`. */
CORRAL__HIDDEN void corral__timers_fire(corral__timers *h, int64_t now);
/* The earliest live timer (tombstones on top are dropped), or NULL. */
CORRAL__HIDDEN corral__timer *corral__timers_min(corral__timers *h);
CORRAL__HIDDEN void corral__heap_remove(corral__timers *h, corral__timer *t);
CORRAL__HIDDEN void corral__timers_free(corral__timers *h,
                                        const corral_allocator *al);
/* The top entry's deadline, tombstone or not: never later than the earliest
 * live deadline (INT64_MAX when empty). Looks without popping. */
static inline int64_t corral__timers_peek(const corral__timers *h) {
  return h->n ? h->v[0].deadline : INT64_MAX;
}
static inline void corral__timer_stop(corral__timers *h, corral__timer *tm) {
  if (tm->idx != CORRAL__TIMER_OFF) corral__heap_remove(h, tm);
}

#endif
