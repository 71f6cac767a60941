/* Lock, condition variable and capacity limiter (Trio's Lock, Condition,
 * CapacityLimiter). All three hand what they guard directly to the task
 * that waited longest (FIFO), in the releasing call: the new owner owns it
 * from that moment, even if a cancellation reaches it before it runs.
 * A waiter whose task was woken otherwise (cancel, deadlock breaker) is
 * dead: releases skip and unlink it. */
#include "core/channel.h"
#include "core/sched.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define LOCK_MAGIC 0x10c410c4u
#define COND_MAGIC 0xc0d1c0d1u
#define LIM_MAGIC 0x11a11a11u

typedef struct cond_waiter cond_waiter;

typedef struct lock_waiter {
  corral__list node;
  corral_task *task;
  cond_waiter *cw; /* a condition waiter reacquiring, else NULL */
  /* The first waiter of a lock held by a task also waits in that owner's
   * ring of joiners: the owner's end wakes it (with 0 while it does not
   * own the lock: the lock is broken). */
  corral__waiter ring;
  corral_task *ring_o; /* the owner whose ring holds `ring`, or NULL */
  uint16_t ring_gen;   /* ... and its generation then */
} lock_waiter;

typedef struct {
  uint32_t magic;
  uint16_t owner_gen;              /* the owner's generation: another one
                                      (its struct freed), or the task
                                      finished, once it ended */
  corral_task *owner;
  corral__rt *rt;                  /* the owner's runtime */
  corral__list waiters;            /* lock_waiter, FIFO */
  const char *name;
  char owner_name[CORRAL_NAME_MAX]; /* for reports: outlives the owner */
} lock_t;

typedef struct {
  uint32_t magic;
  lock_t *lock;
  corral__list waiters; /* cond_waiter (their lock_waiter node), FIFO */
  const char *name;
} cond_t;

enum { ST_COND, ST_LOCK, ST_OWNED, ST_GONE };

struct cond_waiter {
  lock_waiter lw; /* its node moves from the condition to the lock */
  cond_t *c;
  lock_t *l;
  uint8_t stage;  /* ST_* */
  uint8_t notified;
};

_Static_assert(sizeof(lock_t) <= sizeof(corral_lock), "lock storage");
/* Waiter nodes are followed by their task, as a corral__waiter's. */
_Static_assert(offsetof(lock_waiter, task) ==
                   offsetof(corral__waiter, task) &&
               offsetof(cond_waiter, lw) == 0, "waiter layout");
_Static_assert(sizeof(cond_t) <= sizeof(corral_condition), "cond storage");

static inline bool blocked(const corral_task *t) {
  return t->state == CORRAL__T_BLOCKED;
}

/* ---- lock ---- */

static inline lock_t *lock_get(corral_lock *cl) {
  lock_t *l = (lock_t *)cl;
  return l && l->magic == LOCK_MAGIC ? l : NULL;
}

static inline void lock_take(lock_t *l, corral_task *t) {
  l->owner = t;
  l->owner_gen = t->gen;
  l->rt = t->rt;
  memcpy(l->owner_name, t->name, CORRAL_NAME_MAX);
}

/* t has not ended: same generation (struct not freed), not finished. Task
 * memory stays mapped until the runtime ends (see corral__task_of). */
static inline bool task_alive(const corral_task *t, uint16_t gen) {
  return t->gen == gen && !t->finalized;
}
static inline bool owner_alive(const lock_t *l) {
  return l->owner && task_alive(l->owner, l->owner_gen);
}

/* w (the first waiter) waits for the end of the owner, known alive. */
static inline void lw_watch(lock_t *l, lock_waiter *w) {
  w->ring.task = w->task;
  corral__ring_push(&l->owner->waiters, &w->ring.node);
  w->ring_o = l->owner;
  w->ring_gen = l->owner_gen;
}

/* Out of the owner's ring. Reads only w: the lock may be gone. An owner
 * that ended took every node out of its ring already. */
static inline void lw_unregister(lock_waiter *w) {
  if (!w->ring_o) return;
  if (task_alive(w->ring_o, w->ring_gen))
    corral__ring_remove(&w->ring_o->waiters, &w->ring.node);
  w->ring_o = NULL;
}

/* The first waiter watches the owner, unless it ended (lock broken). */
static void register_head(lock_t *l) {
  corral__list *n = corral__list_head(&l->waiters);
  lock_waiter *w = n ? corral__container_of(n, lock_waiter, node) : NULL;
  if (w && !w->ring_o && owner_alive(l)) lw_watch(l, w);
}

/* w leaves the lock's queue; the next first waiter takes over the watch. */
static void lw_unlink(lock_t *l, lock_waiter *w) {
  bool head = l->waiters.next == &w->node;
  corral__list_remove(&w->node);
  lw_unregister(w);
  if (head) register_head(l);
}

static void broken_msg(const lock_t *l, char *msg, size_t size) {
  snprintf(msg, size, "lock '%s': its owner, task '%s', ended without "
           "releasing it", l->name, l->owner_name);
}

static int broken_error(const lock_t *l) {
  char msg[160];
  broken_msg(l, msg, sizeof msg);
  return corral_errorf(CORRAL_EPIPE, "%s", msg);
}

/* The owner ended holding l: every waiter wakes with CORRAL_EPIPE and its
 * record (Trio's BrokenResourceError; it reads nothing of l when it runs:
 * l may be gone by then); later acquires get it at once (lock_enter). */
static void lock_break(lock_t *l, corral__rt *rt) {
  char msg[160];
  broken_msg(l, msg, sizeof msg);
  corral__list *n;
  while ((n = corral__list_head(&l->waiters)) != NULL) {
    lock_waiter *w = corral__container_of(n, lock_waiter, node);
    corral__list_remove(n);
    lw_unregister(w);
    if (blocked(w->task)) {
      corral_error *e = corral__error_new(rt, CORRAL_EPIPE, w->task->name, msg);
      if (e) corral__set_last_error(w->task, e);
      corral__wake(w->task, CORRAL_EPIPE);
    }
  }
}

/* Release: hand the lock to the oldest live waiter, or leave it free. */
static void lock_handoff(lock_t *l) {
  corral__list *n;
  while ((n = corral__list_head(&l->waiters)) != NULL) {
    lock_waiter *w = corral__container_of(n, lock_waiter, node);
    corral__list_remove(n);
    if (w->ring_o) { /* it watched the releasing owner, who runs */
      corral__ring_remove(&l->owner->waiters, &w->ring.node);
      w->ring_o = NULL;
    }
    if (blocked(w->task)) {
      lock_take(l, w->task);
      if (w->cw) w->cw->stage = ST_OWNED;
      corral__wake(w->task, 0);
      if ((n = corral__list_head(&l->waiters)) != NULL) /* the new first */
        lw_watch(l, corral__container_of(n, lock_waiter, node));
      return;
    }
  }
  l->owner = NULL;
}

/* A waiter woken otherwise (cancelled, deadlock breaker) leaves at once. */
static void lock_leave(const corral__wait *rec, corral_task *t) {
  (void)t;
  lw_unlink(rec->arg, corral__container_of(rec->node, lock_waiter, node));
}

static void describe_lock_state(const lock_t *l, FILE *f) {
  fprintf(f, "'%s' ", l->name);
  if (l->owner)
    fprintf(f, "held by task '%s'", l->owner_name);
  else
    fputs("(free)", f);
}


void corral_lock_init(corral_lock *cl, const char *name) {
  if (!cl) return;
  lock_t *l = (lock_t *)cl;
  memset(l, 0, sizeof *l);
  corral__list_init(&l->waiters);
  l->name = name ? name : "lock";
  l->magic = LOCK_MAGIC;
}

/* Common checks of acquire and try_acquire. */
static int lock_enter(lock_t *l, corral_task *self) {
  if (!self) return CORRAL_ENOTASK;
  if (!l) return CORRAL_EINVAL;
  if (l->owner && l->rt != self->rt) return CORRAL_EFOREIGN;
  if (l->owner == self) return CORRAL_EDEADLK; /* not re-entrant */
  if (l->owner && !task_alive(l->owner, l->owner_gen))
    return broken_error(l); /* nobody can release it any more */
  return 0;
}

int corral_lock_acquire(corral_lock *cl) {
  corral_task *self = corral__self();
  lock_t *l = lock_get(cl);
  int rc = lock_enter(l, self);
  if (rc) return rc;
  CORRAL__NO_COMPACT(self, "corral_lock_acquire");
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  if (!l->owner) { /* free means nobody live is queued */
    lock_take(l, self);
    corral__quick_done(self->rt, self);
    return 0;
  }
  lock_waiter w = {{NULL, NULL}, self, NULL, {{NULL, NULL}, NULL}, NULL, 0};
  corral__list_insert_tail(&l->waiters, &w.node);
  /* lock_enter found the owner alive, and nothing ran since. */
  if (l->waiters.next == &w.node) lw_watch(l, &w);
  const corral__wait rec = {.arg = l, .node = &w.node, .leave = lock_leave,
                            .obj = l};
  rc = corral__park(self, CORRAL__W_LOCK, &rec, CORRAL_FOREVER);
  if (rc == 0 && l->owner != self) { /* the owner ended holding it */
    lw_unlink(l, &w);
    lock_break(l, self->rt);
    return broken_error(l);
  }
  /* 0: the release handed it to us; else out of the queue already (a
   * lock in a frame that returned: not touched, CORRAL_EINVAL; broken:
   * CORRAL_EPIPE and its record). */
  corral__list_remove(&w.node);
  lw_unregister(&w);
  return rc;
}

int corral_lock_try_acquire(corral_lock *cl) {
  corral_task *self = corral__self();
  lock_t *l = lock_get(cl);
  int rc = lock_enter(l, self);
  if (rc) return rc;
  if (l->owner) return CORRAL_EAGAIN;
  lock_take(l, self);
  return 0;
}

int corral_lock_release(corral_lock *cl) {
  corral_task *self = corral__self();
  lock_t *l = lock_get(cl);
  if (!self) return CORRAL_ENOTASK;
  if (!l) return CORRAL_EINVAL;
  if (l->owner && l->rt != self->rt) return CORRAL_EFOREIGN;
  if (l->owner != self) return CORRAL_EPERM;
  if (likely(corral__list_empty(&l->waiters)))
    l->owner = NULL; /* nobody waits: free */
  else
    lock_handoff(l);
  return 0;
}

corral_task *corral_lock_owner(const corral_lock *cl) {
  const lock_t *l = (const lock_t *)cl;
  /* The owner as a borrowed handle, what corral_current() gives it. */
  return l && l->magic == LOCK_MAGIC && l->owner
             ? corral__task_handle(l->owner)
             : NULL;
}

size_t corral_lock_waiting(const corral_lock *cl) {
  const lock_t *l = (const lock_t *)cl;
  size_t n = 0;
  if (!l || l->magic != LOCK_MAGIC) return 0;
  corral__list_foreach(it, &l->waiters) {
    if (blocked(corral__container_of(it, lock_waiter, node)->task)) n++;
  }
  return n;
}

/* ---- condition ---- */

static inline cond_t *cond_get(corral_condition *cc) {
  cond_t *c = (cond_t *)cc;
  return c && c->magic == COND_MAGIC ? c : NULL;
}

void corral_condition_init(corral_condition *cc, corral_lock *l,
                           const char *name) {
  if (!cc) return;
  cond_t *c = (cond_t *)cc;
  memset(c, 0, sizeof *c);
  corral__list_init(&c->waiters);
  c->lock = (lock_t *)l;
  c->name = name ? name : "condition";
  c->magic = COND_MAGIC;
}

/* A waiter leaves the condition (notified or cancelled) for the lock (Trio
 * reparks it the same way). Returns true when it got the lock at once. */
static bool cond_to_lock(cond_waiter *cw) {
  lock_t *l = cw->l;
  if (!l->owner) {
    lock_take(l, cw->lw.task);
    cw->stage = ST_OWNED;
    return true;
  }
  cw->stage = ST_LOCK;
  corral__list_insert_tail(&l->waiters, &cw->lw.node);
  if (!owner_alive(l))
    lock_break(l, cw->lw.task->rt); /* wakes it with CORRAL_EPIPE */
  else if (l->waiters.next == &cw->lw.node)
    lw_watch(l, &cw->lw);
  return false;
}

static corral_abort_result cond_abort(corral_task *t, void *arg) {
  cond_waiter *cw = arg;
  if (t->forced) { /* the deadlock breaker's forced pass: give up */
    if (cw->stage == ST_LOCK)
      lw_unlink(cw->l, &cw->lw);
    else
      corral__list_remove(&cw->lw.node);
    cw->stage = ST_GONE;
    return CORRAL_ABORT_SUCCEEDED;
  }
  if (cw->stage != ST_COND) return CORRAL_ABORT_FAILED; /* reacquiring */
  corral__list_remove(&cw->lw.node);
  return cond_to_lock(cw) ? CORRAL_ABORT_SUCCEEDED : CORRAL_ABORT_FAILED;
}

static void describe_cond(const cond_waiter *cw, FILE *f) {
  fprintf(f, " '%s'", cw->c->name);
  if (cw->stage == ST_LOCK) {
    fputs(", reacquiring lock ", f);
    describe_lock_state(cw->l, f);
  } else {
    fprintf(f, " (lock '%s')", cw->l->name);
  }
}

int corral_condition_wait(corral_condition *cc) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  cond_t *c = cond_get(cc);
  lock_t *l = c ? lock_get((corral_lock *)c->lock) : NULL;
  if (!l) return CORRAL_EINVAL;
  if (l->owner && l->rt != self->rt) return CORRAL_EFOREIGN;
  CORRAL__NO_COMPACT(self, "corral_condition_wait");
  if (l->owner != self) return CORRAL_EPERM;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  cond_waiter cw = {{{NULL, NULL}, self, NULL, {{NULL, NULL}, NULL}, NULL, 0},
                    c, l, ST_COND, 0};
  cw.lw.cw = &cw;
  corral__list_insert_tail(&c->waiters, &cw.lw.node);
  lock_handoff(l);
  const corral__wait rec = {.abort = cond_abort, .arg = &cw,
                            .node = &cw.lw.node, .obj = c};
  int rc = corral__park(self, CORRAL__W_CONDITION, &rec, CORRAL_FOREVER);
  if (rc == 0 && cw.stage == ST_LOCK) { /* the lock's owner ended */
    lw_unlink(l, &cw.lw);
    lock_break(l, self->rt);
    return broken_error(l);
  }
  corral__list_remove(&cw.lw.node);
  lw_unregister(&cw.lw);
  /* ST_GONE: CORRAL_EDEADLK; ST_COND / ST_LOCK: its condition or lock
   * was in a frame that returned (CORRAL_EINVAL). The lock is not held. */
  if (cw.stage != ST_OWNED) return rc;
  /* ST_OWNED: a notify or a cancel moved us to the lock, which we hold. */
  return cw.notified ? 0 : CORRAL_ECANCELED;
}

size_t corral_condition_notify(corral_condition *cc, size_t n) {
  cond_t *c = cond_get(cc);
  if (!c || !lock_get((corral_lock *)c->lock)) return 0;
  size_t woke = 0;
  corral__list *node;
  while (woke < n && (node = corral__list_head(&c->waiters)) != NULL) {
    cond_waiter *cw = corral__container_of(node, cond_waiter, lw.node);
    corral__list_remove(node);
    if (!blocked(cw->lw.task)) continue;
    cw->notified = 1;
    if (cond_to_lock(cw)) corral__wake(cw->lw.task, 0);
    woke++;
  }
  return woke;
}

size_t corral_condition_notify_all(corral_condition *c) {
  return corral_condition_notify(c, SIZE_MAX);
}

/* ---- capacity limiter ---- */

typedef struct {
  const void *who;
  char name[CORRAL_NAME_MAX]; /* the task that acquired, for reports */
} borrower_t;

typedef struct {
  uint32_t magic;
  size_t total, borrowed;
  size_t tabcap;            /* >= borrowed + nwaiting: grants never fail */
  size_t nwaiting;          /* nodes in waiters, live or dead */
  borrower_t *tab;
  corral__list waiters;     /* lim_waiter, FIFO */
  const char *name;
  corral__rt *rt;           /* the runtime using it */
  corral_allocator al;      /* the table's allocator */
} lim_t;

typedef struct lim_waiter {
  corral__list node;
  corral_task *task;
  const void *who;
  lim_t *l;
} lim_waiter;
_Static_assert(offsetof(lim_waiter, task) == offsetof(corral__waiter, task),
               "waiter layout");

/* A cancelled waiter leaves the queue at once (see corral__wait). */
static void lim_leave(const corral__wait *w, corral_task *t) {
  (void)t;
  lim_waiter *lw = corral__container_of(w->node, lim_waiter, node);
  if (corral__list_linked(&lw->node)) {
    corral__list_remove(&lw->node);
    lw->l->nwaiting--;
  }
}

_Static_assert(sizeof(lim_t) <= sizeof(corral_limiter), "limiter storage");

static inline lim_t *lim_get(const corral_limiter *cl) {
  lim_t *l = (lim_t *)cl;
  return l && l->magic == LIM_MAGIC ? l : NULL;
}

int corral_limiter_init(corral_limiter *cl, size_t total, const char *name) {
  if (!cl || total == 0) return CORRAL_EINVAL;
  lim_t *l = (lim_t *)cl;
  memset(l, 0, sizeof *l);
  l->total = total;
  corral__list_init(&l->waiters);
  l->name = name ? name : "limiter";
  l->magic = LIM_MAGIC;
  return 0;
}

void corral_limiter_destroy(corral_limiter *cl) {
  lim_t *l = lim_get(cl);
  if (!l) return;
  /* Tasks still waiting: their acquire fails with CORRAL_ECLOSED (as a
   * channel's close), none keeps a node in the storage being destroyed. */
  corral__list *n;
  while ((n = corral__list_head(&l->waiters)) != NULL) {
    lim_waiter *w = corral__container_of(n, lim_waiter, node);
    corral__list_remove(n);
    corral__wake(w->task, CORRAL_ECLOSED);
  }
  l->nwaiting = 0;
  if (l->tab) corral__al_free(&l->al, l->tab);
  l->magic = 0;
}

static ptrdiff_t lim_find(const lim_t *l, const void *who) {
  for (size_t i = 0; i < l->borrowed; i++)
    if (l->tab[i].who == who) return (ptrdiff_t)i;
  return -1;
}

static int lim_reserve(lim_t *l, size_t need) {
  if (l->tabcap >= need) return 0;
  size_t cap = l->tabcap ? l->tabcap * 2 : 4;
  if (cap < need) cap = need;
  if (cap > SIZE_MAX / sizeof(borrower_t)) return CORRAL_ENOMEM;
  if (!l->tab) l->al = l->rt->al;
  borrower_t *t = corral__al_realloc(&l->al, l->tab, cap * sizeof *t);
  if (!t) return CORRAL_ENOMEM;
  l->tab = t;
  l->tabcap = cap;
  return 0;
}

static void lim_add(lim_t *l, const void *who, const corral_task *t) {
  borrower_t *b = &l->tab[l->borrowed++];
  b->who = who;
  corral__copy_name(b->name, t ? t->name : "(no task)");
}

static lim_waiter *lim_first_live(lim_t *l) {
  corral__list *n;
  while ((n = corral__list_head(&l->waiters)) != NULL) {
    lim_waiter *w = corral__container_of(n, lim_waiter, node);
    if (blocked(w->task)) return w;
    corral__list_remove(n);
    l->nwaiting--;
  }
  return NULL;
}

/* Give free tokens to the oldest live waiters. */
static void lim_grant(lim_t *l) {
  lim_waiter *w;
  while (l->borrowed < l->total && (w = lim_first_live(l)) != NULL) {
    corral__list_remove(&w->node);
    l->nwaiting--;
    lim_add(l, w->who, w->task);
    corral__wake(w->task, 0);
  }
}

static void describe_lim(const lim_t *l, FILE *f) {
  fprintf(f, " '%s' (%zu/%zu tokens borrowed", l->name, l->borrowed,
          l->total);
  for (size_t i = 0; i < l->borrowed && i < 4; i++)
    fprintf(f, "%s'%s'", i ? ", " : " by task ", l->tab[i].name);
  fputs(l->borrowed > 4 ? ", ...)" : ")", f);
}

static int lim_acquire(corral_limiter *cl, const void *who, bool block) {
  corral__rt *rt = corral__tl_rt;
  corral_task *self = rt ? rt->sched.current : NULL;
  if (!rt || (block && !self)) return CORRAL_ENOTASK;
  lim_t *l = lim_get(cl);
  if (!l || !who) return CORRAL_EINVAL;
  if (l->rt != rt) {
    if (l->rt && (l->borrowed || l->nwaiting)) return CORRAL_EFOREIGN;
    l->rt = rt; /* idle: adopt the runtime that uses it now */
  }
  if (lim_find(l, who) >= 0) return CORRAL_EDEADLK;
  if (block) {
    CORRAL__NO_COMPACT(self, "corral_limiter_acquire");
    if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  }
  int rc = lim_reserve(l, l->borrowed + l->nwaiting + 1);
  if (rc) return rc;
  if (l->borrowed < l->total && !lim_first_live(l)) {
    lim_add(l, who, self);
    if (block) corral__quick_done(rt, self);
    return 0;
  }
  if (!block) return CORRAL_EAGAIN;
  corral__list_foreach(it, &l->waiters) { /* one token per borrower */
    lim_waiter *o = corral__container_of(it, lim_waiter, node);
    if (o->who == who && blocked(o->task)) return CORRAL_EDEADLK;
  }
  lim_waiter w = {{NULL, NULL}, self, who, l};
  corral__list_insert_tail(&l->waiters, &w.node);
  l->nwaiting++;
  const corral__wait rec = {
      .arg = l, .node = &w.node, .leave = lim_leave, .obj = l};
  rc = corral__park(self, CORRAL__W_LIMITER, &rec, CORRAL_FOREVER);
  /* Granted (unlinked by the grant) or left at the wake: not queued, and
   * l may be gone if we were woken otherwise. */
  return rc;
}

/* The default borrower is the calling task as corral_current() names it. */
static const void *me(void) {
  corral_task *self = corral__self();
  return self ? corral__task_handle(self) : NULL;
}

int corral_limiter_acquire(corral_limiter *l) {
  return lim_acquire(l, me(), true);
}
int corral_limiter_acquire_on_behalf_of(corral_limiter *l, const void *who) {
  return lim_acquire(l, who, true);
}
int corral_limiter_try_acquire(corral_limiter *l) {
  if (!corral__self()) return CORRAL_ENOTASK;
  return lim_acquire(l, me(), false);
}
int corral_limiter_try_acquire_on_behalf_of(corral_limiter *l,
                                            const void *who) {
  return lim_acquire(l, who, false);
}

int corral_limiter_release_on_behalf_of(corral_limiter *cl, const void *who) {
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  lim_t *l = lim_get(cl);
  if (!l || !who) return CORRAL_EINVAL;
  if (l->rt != rt) return l->rt ? CORRAL_EFOREIGN : CORRAL_EPERM;
  ptrdiff_t i = lim_find(l, who);
  if (i < 0) return CORRAL_EPERM;
  l->tab[i] = l->tab[--l->borrowed];
  lim_grant(l);
  return 0;
}

int corral_limiter_release(corral_limiter *l) {
  if (!corral__self()) return CORRAL_ENOTASK;
  return corral_limiter_release_on_behalf_of(l, me());
}

int corral_limiter_set_total_tokens(corral_limiter *cl, size_t total) {
  lim_t *l = lim_get(cl);
  if (!l || total == 0) return CORRAL_EINVAL;
  if (l->rt && l->rt != corral__tl_rt && (l->borrowed || l->nwaiting))
    return CORRAL_EFOREIGN;
  l->total = total;
  lim_grant(l);
  return 0;
}

int corral_limiter_holds(const corral_limiter *cl, const void *who) {
  const lim_t *l = lim_get(cl);
  return l && who && lim_find(l, who) >= 0;
}

int corral_limiter_stats_get(const corral_limiter *cl,
                             corral_limiter_stats *st) {
  const lim_t *l = lim_get(cl);
  if (!l || !st) return CORRAL_EINVAL;
  st->total_tokens = l->total;
  st->borrowed_tokens = l->borrowed;
  st->available_tokens = l->total > l->borrowed ? l->total - l->borrowed : 0;
  st->tasks_waiting = 0;
  corral__list_foreach(it, &l->waiters) {
    if (blocked(corral__container_of(it, lim_waiter, node)->task))
      st->tasks_waiting++;
  }
  return 0;
}

void corral__lock_describe(int kind, const void *arg, FILE *f) {
  switch (kind) {
  case CORRAL__W_LOCK:
    fputc(' ', f);
    describe_lock_state(arg, f);
    break;
  case CORRAL__W_CONDITION: describe_cond(arg, f); break;
  case CORRAL__W_LIMITER: describe_lim(arg, f); break;
  default: break;
  }
}
