/* Groups (group.c): TaskGroup / nursery with FAIL_FAST, COLLECT, FIRST,
 * QUORUM. */
#ifndef CORRAL_CORE_GROUP_H
#define CORRAL_CORE_GROUP_H

#include "core/rt.h"

#define CORRAL__GROUP_MAGIC 0x6a0b9a0bu

enum { CORRAL__G_OPEN = 1, CORRAL__G_CLOSING, CORRAL__G_CLOSED };

struct corral__group {
  uint32_t magic;
  uint8_t state;
  uint8_t policy;
  uint8_t failed;         /* policy judged it failed (no more spawns) */
  uint8_t satisfied;      /* FIRST/QUORUM reached */
  uint8_t implicit;       /* the task's create_task group */
  uint8_t observed_only;  /* implicit: only unjoined errors count */
  uint8_t notify;         /* wake `waiter` on every child completion */
  uint8_t eager;          /* spawns start the child at once */
  uint8_t compact;        /* children are compact */
  corral__rt *rt;
  union {
    corral__tscope ts; /* the group's scope and its deadline timer */
    corral__scope scope;
  };
  corral_task *owner;
  corral__group *prev_open;  /* owner's stack of open groups (for dump) */
  corral_task *first_child, *last_child; /* children, in spawn order */
  size_t running, nsucc, nfail, quorum;
  corral_error **errors;
  size_t nerr, caperr;
  size_t lost;               /* errors whose record could not be kept */
  corral_task *waiter;       /* body parked at close / in gather */
};

CORRAL__HIDDEN void corral__group_child_done(corral__rt *rt, corral__group *g,
                                             corral_task *t);
/* A child of g ended. Inline, the common case of an eager child that
 * succeeded without ever being listed, in a group no success can satisfy:
 * only the counts change. Everything else: corral__group_child_done. */
static inline void corral__group_child_ended(corral__rt *rt, corral__group *g,
                                             corral_task *t) {
  if (likely(!t->linked && t->out.status == CORRAL_STATUS_OK &&
             g->policy <= CORRAL_COLLECT)) {
    t->group = NULL;
    g->running--;
    g->nsucc++;
    if (g->waiter && (g->running == 0 || g->notify)) corral__wake(g->waiter, 0);
    return;
  }
  corral__group_child_done(rt, g, t);
}
/* The task's create_task group, made on first use (NULL: no memory). */
CORRAL__HIDDEN corral__group *corral__implicit_group(corral__rt *rt,
                                                    corral_task *self);
CORRAL__HIDDEN int corral__group_open(corral__rt *rt, corral__group *g,
                                      corral_task *owner,
                                      const corral_group_opts *o, bool implicit);
CORRAL__HIDDEN int corral__group_close(corral__rt *rt, corral__group *g,
                                       int body_rc);

#endif
