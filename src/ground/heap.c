/* Timer heap: a binary min-heap ordered by (deadline, seq); seq breaks ties
 * so that timers with equal deadlines fire in the order they were started.
 *
 * Entries carry their deadline, so sifting reads only the array (and the
 * timers themselves only to break ties). Removing an
 * arbitrary timer (a sleeping task cancelled, a scope left early) leaves a
 * tombstone in O(1) instead of sifting through other tasks' memory: cancelling
 * 100,000 sleepers would otherwise cost 100,000 root-to-leaf walks with a
 * cache miss per level. Tombstones are dropped when they reach the top and
 * the array is compacted (O(n) heapify) once they are half of it. */
#include "ground/heap.h"

#include "ground/alloc.h"

/* Ties go by start order (the timer's seq). A tombstone sorts before every
 * live entry of its deadline: that only lowers its own key, which keeps the
 * order of the live entries intact, and it is dropped sooner. */
static inline int before(const corral__hent *a, const corral__hent *b) {
  if (a->deadline != b->deadline) return a->deadline < b->deadline;
  if (!a->t || !b->t) return !a->t && b->t;
  return (int32_t)(a->t->seq - b->t->seq) < 0;
}

static inline void set(corral__timers *h, uint32_t i, corral__hent e) {
  h->v[i] = e;
  if (e.t) e.t->idx = i;
}

static void up(corral__timers *h, uint32_t i) {
  corral__hent e = h->v[i];
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (!before(&e, &h->v[p])) break;
    set(h, i, h->v[p]);
    i = p;
  }
  set(h, i, e);
}

static void down(corral__timers *h, uint32_t i) {
  corral__hent e = h->v[i];
  for (;;) {
    uint32_t l = 2 * i + 1, m = i;
    const corral__hent *best = &e;
    if (l < h->n && before(&h->v[l], best)) m = l, best = &h->v[l];
    if (l + 1 < h->n && before(&h->v[l + 1], best)) m = l + 1;
    if (m == i) break;
    set(h, i, h->v[m]);
    i = m;
  }
  set(h, i, e);
}

static int push(corral__timers *h, const corral_allocator *al,
                corral__timer *t) {
  if (h->n == h->cap) {
    uint32_t cap = h->cap ? h->cap * 2 : 64;
    corral__hent *v = corral__al_realloc(al, h->v, cap * sizeof *v);
    if (!v) return CORRAL_ENOMEM;
    h->v = v;
    h->cap = cap;
  }
  h->v[h->n] = (corral__hent){t->deadline, t};
  t->idx = h->n++;
  up(h, t->idx);
  return 0;
}

static void pop_root(corral__timers *h) {
  if (h->v[0].t)
    h->v[0].t->idx = CORRAL__TIMER_OFF;
  else
    h->ndead--;
  corral__hent last = h->v[--h->n];
  if (h->n == 0) return;
  h->v[0] = last;
  down(h, 0);
}

static void compact(corral__timers *h) {
  uint32_t j = 0;
  for (uint32_t i = 0; i < h->n; i++)
    if (h->v[i].t) h->v[j++] = h->v[i];
  h->n = j;
  h->ndead = 0;
  for (uint32_t i = h->n / 2; i-- > 0;) down(h, i);
  for (uint32_t i = 0; i < h->n; i++) h->v[i].t->idx = i;
}

void corral__heap_remove(corral__timers *h, corral__timer *t) {
  uint32_t i = t->idx;
  t->idx = CORRAL__TIMER_OFF;
  h->v[i].t = NULL;
  h->ndead++;
  if (h->ndead > 64 && h->ndead * 2 > h->n) compact(h);
}

corral__timer *corral__timers_min(corral__timers *h) {
  while (h->n && !h->v[0].t) pop_root(h);
  return h->n ? h->v[0].t : NULL;
}

int corral__timer_start(corral__timers *h, const corral_allocator *al,
                        corral__timer *tm, int64_t deadline,
                        corral__timer_cb cb) {
  if (tm->idx != CORRAL__TIMER_OFF) corral__heap_remove(h, tm);
  tm->deadline = deadline;
  tm->seq = h->seq++;
  tm->cb = cb;
  return push(h, al, tm);
}

void corral__timers_fire(corral__timers *h, int64_t now) {
  corral__timer *tm;
  /* Tombstones are popped only once their deadline is due: cancelling many
   * sleepers costs no heap work until then. */
  while (corral__timers_peek(h) <= now && (tm = corral__timers_min(h)) &&
         tm->deadline <= now) {
    pop_root(h);
    tm->cb(tm);
  }
}

void corral__timers_free(corral__timers *h, const corral_allocator *al) {
  corral__al_free(al, h->v);
  h->v = NULL;
  h->n = h->cap = h->ndead = 0;
}
