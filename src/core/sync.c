/* Events and semaphores (FIFO, cancellation-safe hand-off). */
#include "core/sched.h"

#include <string.h>

typedef struct {
  uint32_t magic;
  int set;
  corral__list waiters;
} event_t;

typedef struct {
  uint32_t magic;
  size_t value;
  corral__list waiters; /* FIFO */
} csem_t;

#define EVENT_MAGIC 0xe7e7e7e7u
#define SEM_MAGIC 0x5e3a5e3au

_Static_assert(sizeof(event_t) <= sizeof(corral_event), "event storage");
_Static_assert(sizeof(csem_t) <= sizeof(corral_semaphore), "semaphore storage");

void corral_event_init(corral_event *ce) {
  if (!ce) return;
  event_t *e = (event_t *)ce;
  memset(e, 0, sizeof *e);
  corral__list_init(&e->waiters);
  e->magic = EVENT_MAGIC;
}

void corral_event_set(corral_event *ce) {
  event_t *e = (event_t *)ce;
  if (!e || e->magic != EVENT_MAGIC || e->set) return;
  e->set = 1;
  corral__waiters_wake_all(&e->waiters);
}

void corral_event_clear(corral_event *ce) {
  event_t *e = (event_t *)ce;
  if (e && e->magic == EVENT_MAGIC) e->set = 0;
}

int corral_event_is_set(const corral_event *ce) {
  const event_t *e = (const event_t *)ce;
  return e && e->magic == EVENT_MAGIC && e->set;
}

int corral_event_wait(corral_event *ce) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  CORRAL__NO_COMPACT(self, "corral_event_wait");
  event_t *e = (event_t *)ce;
  if (!e || e->magic != EVENT_MAGIC) return CORRAL_EINVAL;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  if (e->set) {
    corral__quick_done(self->rt, self);
    return 0;
  }
  /* Waking is an edge: a set wakes every task waiting then with 0, even if
   * the event is cleared again before they run. */
  corral__waiter w;
  corral__waiter_add(&e->waiters, &w, self);
  const corral__wait rec = {.node = &w.node, .obj = e};
  int rc = corral__park(self, CORRAL__W_EVENT, &rec, CORRAL_FOREVER);
  corral__list_remove(&w.node);
  return rc;
}

void corral_semaphore_init(corral_semaphore *cs, size_t value) {
  if (!cs) return;
  csem_t *s = (csem_t *)cs;
  memset(s, 0, sizeof *s);
  corral__list_init(&s->waiters);
  s->magic = SEM_MAGIC;
  s->value = value;
}

int corral_semaphore_try_acquire(corral_semaphore *cs) {
  csem_t *s = (csem_t *)cs;
  if (!s || s->magic != SEM_MAGIC) return CORRAL_EINVAL;
  if (s->value == 0 || !corral__list_empty(&s->waiters)) return CORRAL_EAGAIN;
  s->value--;
  return 0;
}

int corral_semaphore_acquire(corral_semaphore *cs) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  CORRAL__NO_COMPACT(self, "corral_semaphore_acquire");
  csem_t *s = (csem_t *)cs;
  if (!s || s->magic != SEM_MAGIC) return CORRAL_EINVAL;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  if (s->value > 0 && corral__list_empty(&s->waiters)) {
    s->value--;
    corral__quick_done(self->rt, self);
    return 0;
  }
  corral__waiter w;
  corral__waiter_add(&s->waiters, &w, self);
  const corral__wait rec = {.node = &w.node, .obj = s};
  int rc = corral__park(self, CORRAL__W_SEMAPHORE, &rec, CORRAL_FOREVER);
  /* rc == 0: release() handed us the unit and unlinked us. */
  corral__list_remove(&w.node);
  return rc;
}

void corral_semaphore_release(corral_semaphore *cs) {
  csem_t *s = (csem_t *)cs;
  if (!s || s->magic != SEM_MAGIC) return;
  /* Hand the unit to the first waiter still blocked; waiters already woken
   * by a cancel will not take it. */
  corral__list *n;
  while ((n = corral__list_head(&s->waiters)) != NULL) {
    corral__list_remove(n);
    corral__waiter *w = corral__container_of(n, corral__waiter, node);
    if (w->task->state == CORRAL__T_BLOCKED) {
      corral__wake(w->task, 0);
      return;
    }
  }
  s->value++;
}

size_t corral_semaphore_value(const corral_semaphore *cs) {
  const csem_t *s = (const csem_t *)cs;
  return s && s->magic == SEM_MAGIC ? s->value : 0;
}
