/* Timer heap: a binary min-heap of pointers ordered by (deadline, seq), each
 * timer knowing its index so removal is O(log n). seq breaks ties so that
 * timers with equal deadlines fire in the order they were started. */
#include "internal.h"

static inline int before(const corral__timer *a, const corral__timer *b) {
  return a->deadline < b->deadline ||
         (a->deadline == b->deadline && a->seq < b->seq);
}

static void set(corral__heap *h, uint32_t i, corral__timer *t) {
  h->v[i] = t;
  t->idx = i;
}

static void up(corral__heap *h, uint32_t i) {
  corral__timer *t = h->v[i];
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (!before(t, h->v[p])) break;
    set(h, i, h->v[p]);
    i = p;
  }
  set(h, i, t);
}

static void down(corral__heap *h, uint32_t i) {
  corral__timer *t = h->v[i];
  for (;;) {
    uint32_t l = 2 * i + 1, m = i;
    const corral__timer *best = t;
    if (l < h->n && before(h->v[l], best)) m = l, best = h->v[l];
    if (l + 1 < h->n && before(h->v[l + 1], best)) m = l + 1;
    if (m == i) break;
    set(h, i, h->v[m]);
    i = m;
  }
  set(h, i, t);
}

int corral__heap_push(corral__rt *rt, corral__heap *h, corral__timer *t) {
  if (h->n == h->cap) {
    uint32_t cap = h->cap ? h->cap * 2 : 64;
    corral__timer **v = corral__realloc(rt, h->v, cap * sizeof *v);
    if (!v) return CORRAL_ENOMEM;
    h->v = v;
    h->cap = cap;
  }
  set(h, h->n++, t);
  up(h, t->idx);
  return 0;
}

void corral__heap_remove(corral__heap *h, corral__timer *t) {
  uint32_t i = t->idx;
  t->idx = CORRAL__TIMER_OFF;
  corral__timer *last = h->v[--h->n];
  if (i == h->n) return;
  set(h, i, last);
  if (i > 0 && before(last, h->v[(i - 1) / 2]))
    up(h, i);
  else
    down(h, i);
}
