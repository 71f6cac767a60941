/* Groups: TaskGroup / nursery with FAIL_FAST, COLLECT, FIRST, QUORUM. */
#include "core/group.h"

#include <string.h>

_Static_assert(sizeof(corral__group) <= sizeof(corral_group),
               "corral_group storage too small");

/* Error entries remember the task for implicit groups, where an error a
 * caller joined is no longer "unobserved". */
typedef struct {
  corral_error *e;
  corral_task *t;
} gerr;

int corral__group_open(corral__rt *rt, corral__group *g, corral_task *owner,
                       const corral_group_opts *o, bool implicit) {
  corral_group_opts d = {0};
  if (!o) o = &d;
  if ((unsigned)o->policy > CORRAL_QUORUM) return CORRAL_EINVAL;
  if (o->policy == CORRAL_QUORUM && o->quorum < 1) return CORRAL_EINVAL;
  memset(g, 0, sizeof *g);
  g->rt = rt;
  g->policy = (uint8_t)o->policy;
  g->quorum = o->quorum;
  g->implicit = implicit;
  g->observed_only = implicit;
  g->eager = o->eager != 0;
  g->compact = o->compact != 0;
  g->owner = owner;
  g->state = CORRAL__G_OPEN;
  const char *name = o->name ? o->name : "group";
  if (implicit) {
    corral__tscope_init(&g->ts, owner, &owner->root_scope, name);
  } else {
    corral__tscope_init(&g->ts, owner, owner->scope, name);
    g->scope.entered = 1;
    owner->scope = &g->scope;
    g->prev_open = owner->open_groups;
    owner->open_groups = g;
  }
  g->magic = CORRAL__GROUP_MAGIC;
  if (o->timeout_ns != 0 && o->timeout_ns != CORRAL_FOREVER) {
    /* 0 = not set (a zeroed struct); < 0 already expired. */
    g->scope.fail = 1;
    int rc = corral__scope_set_deadline(
        rt, &g->scope, corral__deadline_after(rt, o->timeout_ns));
    if (rc) {
      if (!implicit) {
        owner->scope = g->scope.parent;
        owner->open_groups = g->prev_open;
      }
      corral__scope_detach(rt, &g->scope);
      g->magic = 0;
      return rc;
    }
  }
  return 0;
}

static int push_error(corral__rt *rt, corral__group *g, corral_error *e,
                      corral_task *t) {
  if (g->nerr == g->caperr) {
    size_t cap = g->caperr ? g->caperr * 2 : 4;
    gerr *v = corral__realloc(rt, g->errors, cap * sizeof(gerr));
    if (!v) return CORRAL_ENOMEM;
    g->errors = (corral_error **)(void *)v;
    g->caperr = cap;
  }
  gerr *v = (gerr *)(void *)g->errors;
  v[g->nerr].e = corral_error_ref(e);
  v[g->nerr].t = t;
  if (t) t->refs++;
  g->nerr++;
  return 0;
}

void corral__group_child_done(corral__rt *rt, corral__group *g,
                              corral_task *t) {
  if (t->linked) { /* an eager task that never suspended never was */
    if (t->g_prev)
      t->g_prev->g_next = t->g_next;
    else
      g->first_child = t->g_next;
    if (t->g_next)
      t->g_next->g_prev = t->g_prev;
    else
      g->last_child = t->g_prev;
    t->g_next = t->g_prev = NULL;
  }
  t->group = NULL;
  g->running--;
  switch (t->out.status) {
  case CORRAL_STATUS_OK:
    g->nsucc++;
    if (!g->satisfied &&
        ((g->policy == CORRAL_FIRST) ||
         (g->policy == CORRAL_QUORUM && g->nsucc >= g->quorum))) {
      g->satisfied = 1;
      corral__scope_cancel(rt, &g->scope, CORRAL_CANCEL_GROUP_DONE, t->name,
                           g->policy == CORRAL_FIRST ? "first result arrived"
                                                     : "quorum reached");
    }
    break;
  case CORRAL_STATUS_ERROR:
    g->nfail++;
    /* Out of memory must not hide a failure: `lost` still fails the group. */
    if (!t->out.error ||
        push_error(rt, g, t->out.error, g->observed_only ? t : NULL) != 0)
      g->lost++;
    if (g->policy == CORRAL_FAIL_FAST && !g->failed) {
      g->failed = 1;
      corral__scope_cancel(rt, &g->scope, CORRAL_CANCEL_SIBLING_FAILED,
                           t->name, t->out.error
                                        ? corral_error_message(t->out.error)
                                        : corral_strerror(t->out.code));
    }
    break;
  default:
    break;
  }
  if (g->waiter && (g->running == 0 || g->notify)) corral__wake(g->waiter, 0);
}

static corral_error *aggregate(corral__rt *rt, corral__group *g,
                               corral_error *body, const char *why) {
  gerr *v = (gerr *)(void *)g->errors;
  size_t n = 0;
  for (size_t i = 0; i < g->nerr; i++)
    if (!(v[i].t && v[i].t->joined)) n++;
  if (body) n++;
  char msg[160];
  if (why)
    snprintf(msg, sizeof msg, "%s", why);
  else
    snprintf(msg, sizeof msg, "%zu error%s in group '%s'", n, n == 1 ? "" : "s",
             g->scope.name);
  corral_error *agg =
      corral__error_new(rt, CORRAL_EGROUP, g->owner->name, msg);
  if (!agg) return NULL;
  agg->children = corral__malloc(rt, (n ? n : 1) * sizeof(corral_error *));
  if (!agg->children) {
    corral_error_unref(agg);
    return NULL;
  }
  for (size_t i = 0; i < g->nerr; i++)
    if (!(v[i].t && v[i].t->joined))
      agg->children[agg->nchildren++] = corral_error_ref(v[i].e);
  if (body) agg->children[agg->nchildren++] = corral_error_ref(body);
  return agg;
}

static size_t unobserved(corral__group *g) {
  gerr *v = (gerr *)(void *)g->errors;
  size_t n = 0;
  for (size_t i = 0; i < g->nerr; i++)
    if (!(v[i].t && v[i].t->joined)) n++;
  return n;
}

int corral__group_close(corral__rt *rt, corral__group *g, int body_rc) {
  corral_task *self = g->owner;
  corral_error *body = NULL;
  bool body_failed = body_rc < 0 && body_rc != CORRAL_ECANCELED;
  if (body_failed) {
    body = corral__error_for(self, body_rc);
    if (g->policy == CORRAL_FAIL_FAST && !g->failed) {
      g->failed = 1;
      corral__scope_cancel(rt, &g->scope, CORRAL_CANCEL_SIBLING_FAILED,
                           self->name, corral_strerror(body_rc));
    }
  }
  g->state = CORRAL__G_CLOSING;
  while (g->running > 0) {
    g->waiter = self;
    corral__park(self, CORRAL__W_GROUP_CLOSE, CORRAL__UNABORTABLE,
                 CORRAL_FOREVER);
  }
  g->waiter = NULL;
  g->state = CORRAL__G_CLOSED;
  if (!g->implicit) {
    self->scope = g->scope.parent;
    self->open_groups = g->prev_open;
    g->scope.entered = 0;
  }
  bool timed = g->scope.deadline_fired;
  bool outer = corral__cancelled_scope(g->scope.parent) != NULL &&
               !g->scope.shield;
  corral__scope_detach(rt, &g->scope);

  /* The one rule every policy follows (docs/semantics.md, "How a group
   * ends"). 1. The group FAILED when the body failed, or when a child
   * failed and the policy did not tolerate it: FAIL_FAST and COLLECT
   * tolerate no child error; FIRST and QUORUM(k) tolerate child errors
   * once k children succeeded. A FIRST/QUORUM group that ran to its end
   * (no cancel of any kind) short of k successes failed too. A failure
   * wins over every cancel and deadline: close returns CORRAL_EGROUP and
   * the aggregate holds every counted error. 2. Else a satisfied
   * FIRST/QUORUM group returns 0. 3. Else an enclosing cancellation passes
   * through as CORRAL_ECANCELED (only the outermost cancelled scope
   * converts). 4. Else the group's own deadline is CORRAL_ETIMEDOUT. 5.
   * Else 0 (a cancellation the group caused itself is not an error). */
  size_t nerr = unobserved(g) + g->lost;
  bool quorum_policy = g->policy == CORRAL_FIRST || g->policy == CORRAL_QUORUM;
  bool own_cancel = g->scope.cancelled && !g->satisfied;
  bool short_of_quorum =
      quorum_policy && !g->satisfied && !timed && !outer && !own_cancel;
  bool failed = body_failed ||
                (nerr > 0 && !(quorum_policy && g->satisfied)) ||
                short_of_quorum;
  const char *why = NULL;
  char buf[160];
  if (failed && nerr == 0 && !body_failed) {
    snprintf(buf, sizeof buf, "quorum not reached in group '%s': %zu of %zu",
             g->scope.name, g->nsucc,
             g->policy == CORRAL_FIRST ? (size_t)1 : g->quorum);
    why = buf;
  }
  int rc = 0;
  if (failed) {
    corral_error *agg = aggregate(rt, g, body, why);
    if (agg)
      corral__set_last_error(self, agg);
    rc = CORRAL_EGROUP;
  } else if (g->satisfied) {
    rc = 0;
  } else if (outer) {
    rc = CORRAL_ECANCELED;
  } else if (timed) {
    rc = corral_errorf(CORRAL_ETIMEDOUT, "deadline of group '%s' expired",
                       g->scope.name);
  } else if (body_rc == CORRAL_ECANCELED && !g->scope.cancelled) {
    rc = CORRAL_ECANCELED;
  }
  if (rc != CORRAL_EGROUP && rc != CORRAL_ETIMEDOUT) corral__fail(self, rc);
  corral_error_unref(body);
  gerr *v = (gerr *)(void *)g->errors;
  for (size_t i = 0; i < g->nerr; i++) {
    corral_error_unref(v[i].e);
    if (v[i].t) corral__task_unref(rt, v[i].t);
  }
  corral__free(rt, g->errors);
  g->errors = NULL;
  g->nerr = g->caperr = 0;
  return rc;
}

/* ---- public ---- */

static corral__group *valid(corral_group *cg) {
  corral__group *g = (corral__group *)cg;
  return g && g->magic == CORRAL__GROUP_MAGIC ? g : NULL;
}

int corral_group_open(corral_group *cg, const corral_group_opts *o) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!cg) return CORRAL_EINVAL;
  CORRAL__NO_COMPACT(self, "corral_group_open");
  corral__group *g = (corral__group *)cg;
  /* Still open (by this task or another): opening it again would orphan
   * its children. Closed storage may be reused. The runtime's set of open
   * groups says so without reading the storage, which may be
   * uninitialised (stale bytes must not look open). */
  corral__rt *rt = self->rt;
  if (corral__aset_has(&rt->live, g)) return CORRAL_EBUSY;
  if (corral__aset_add(&rt->live, &rt->al, g)) return CORRAL_ENOMEM;
  int rc = corral__group_open(rt, g, self, o, false);
  if (rc) corral__aset_del(&rt->live, g);
  return rc;
}

int corral_group_close(corral_group *cg, int body_rc) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  corral__group *g = valid(cg);
  if (!g) return CORRAL_EINVAL;
  if (g->rt != self->rt) return CORRAL_EFOREIGN;
  if (g->state != CORRAL__G_OPEN) return CORRAL_ECLOSED;
  if (g->owner != self || self->scope != &g->scope) return CORRAL_ENESTING;
  int rc = corral__group_close(self->rt, g, body_rc);
  corral__aset_del(&self->rt->live, g);
  return rc;
}

/* A group of this runtime that has not finished closing, or an error. */
static int not_closed(corral__rt *rt, corral__group *g) {
  if (!rt) return CORRAL_ENOTASK;
  if (!g) return CORRAL_EINVAL;
  if (g->rt != rt) return CORRAL_EFOREIGN;
  return g->state == CORRAL__G_CLOSED ? CORRAL_ECLOSED : 0;
}

int corral_group_cancel(corral_group *cg, const char *message) {
  corral__rt *rt = corral__tl_rt;
  corral__group *g = valid(cg);
  int rc = not_closed(rt, g);
  if (rc) return rc;
  corral__scope_cancel(rt, &g->scope, CORRAL_CANCEL_EXPLICIT,
                       rt->sched.current ? rt->sched.current->name : "corral", message);
  return 0;
}

int corral_group_cancel_on_signal(corral_group *cg, int signum) {
  corral__rt *rt = corral__tl_rt;
  corral__group *g = valid(cg);
  int rc = not_closed(rt, g);
  return rc ? rc : corral__tscope_on_signal(rt, &g->ts, signum);
}

corral_cancel_kind corral_group_cancelled(const corral_group *cg) {
  const corral__group *g = (const corral__group *)cg;
  if (!g || g->magic != CORRAL__GROUP_MAGIC || !g->scope.cancelled) return CORRAL_CANCEL_NONE;
  return (corral_cancel_kind)g->scope.kind;
}
size_t corral_group_succeeded(const corral_group *cg) {
  const corral__group *g = (const corral__group *)cg;
  return g && g->magic == CORRAL__GROUP_MAGIC ? g->nsucc : 0;
}
size_t corral_group_failed(const corral_group *cg) {
  const corral__group *g = (const corral__group *)cg;
  return g && g->magic == CORRAL__GROUP_MAGIC ? g->nfail : 0;
}
size_t corral_group_running(const corral_group *cg) {
  const corral__group *g = (const corral__group *)cg;
  return g && g->magic == CORRAL__GROUP_MAGIC ? g->running : 0;
}

/* ---- start-and-wait-ready (Trio's nursery.start) ---- */

/* A start in progress: the child runs in a private group of the starter
 * (its errors and cancellations are the starter's) until it calls
 * corral_started, which moves it into the target group. */
typedef struct corral__start {
  struct corral__start *next; /* the runtime's pending starts */
  corral_task *task, *starter;
  corral__group *target, *tmp;
  void *value;
  bool started;
  int refused; /* the target could not take it: why */
} corral__start;

static void start_unlist(corral__rt *rt, corral__start *st) {
  for (corral__start **p = &rt->starts; *p; p = &(*p)->next)
    if (*p == st) {
      *p = st->next;
      return;
    }
}

/* Move child t (linked, lazily spawned) from group `from` into `to`. */
static void move_child(corral_task *t, corral__group *from,
                       corral__group *to) {
  if (t->g_prev)
    t->g_prev->g_next = t->g_next;
  else
    from->first_child = t->g_next;
  if (t->g_next)
    t->g_next->g_prev = t->g_prev;
  else
    from->last_child = t->g_prev;
  from->running--;
  t->g_next = NULL;
  t->g_prev = to->last_child;
  if (to->last_child)
    to->last_child->g_next = t;
  else
    to->first_child = t;
  to->last_child = t;
  to->running++;
  t->group = to;
  corral__scope_unlink(&t->root_scope);
  t->root_scope.parent = &to->scope;
  corral__scope_link(&t->root_scope);
}

int corral_start_at(corral_group *cg, corral_fn fn, void *arg,
                    const char *name, void **value, corral_task **out,
                    const char *file, int line) {
  corral_task *self = corral__self();
  if (value) *value = NULL;
  if (out) *out = NULL;
  if (!self) return CORRAL_ENOTASK;
  CORRAL__NO_COMPACT(self, "corral_start");
  corral__rt *rt = self->rt;
  corral__group *target = (corral__group *)cg;
  if (!fn) return CORRAL_EINVAL;
  if (target) {
    if (target->magic != CORRAL__GROUP_MAGIC) return CORRAL_EINVAL;
    if (target->rt != rt) return CORRAL_EFOREIGN;
    if (target->state == CORRAL__G_CLOSED) return CORRAL_ECLOSED;
    if (target->failed) return CORRAL_EFAILED;
  }
  corral__group tmp;
  int rc = corral__group_open(rt, &tmp, self,
                              &(corral_group_opts){.policy = CORRAL_COLLECT,
                                                   .name = "start"},
                              false);
  if (rc) return rc;
  tmp.notify = 1;
  corral_task *t = NULL;
  rc = corral__spawn(rt, &tmp, fn, arg,
                     &(corral_spawn_opts){.name = name ? name : "task"}, &t,
                     file, line);
  if (rc) {
    CORRAL_IGNORE(corral__group_close(rt, &tmp, 0));
    return corral__fail(self, rc);
  }
  corral__start st = {rt->starts, t, self, target, &tmp, NULL, false, 0};
  rt->starts = &st;
  /* Not abortable: a cancellation reaches the child through the scopes,
   * and the start returns once it has either started or ended. */
  while (!st.started && !t->finalized) {
    tmp.waiter = self;
    corral__park(self, CORRAL__W_START, CORRAL__UNABORTABLE, CORRAL_FOREVER);
  }
  tmp.waiter = NULL;
  start_unlist(rt, &st);
  if (st.started && st.refused) {
    /* The target could not take it (closed, failed or cancelled since):
     * cancel the child here, where it still belongs. */
    corral__scope_cancel(rt, &tmp.scope, CORRAL_CANCEL_EXPLICIT, self->name,
                         "the group it started for no longer takes tasks");
    rc = corral__fail(self, st.refused);
  }
  CORRAL_IGNORE(corral__group_close(rt, &tmp, 0));
  if (!st.started) {
    /* Ended before it said "started": its outcome is the starter's. */
    if (t->out.status == CORRAL_STATUS_ERROR) {
      corral__set_last_error(self, corral_error_ref(t->out.error));
      rc = t->out.code;
    } else if (t->out.status == CORRAL_STATUS_OK) {
      rc = corral_errorf(CORRAL_EPROTO,
                         "task '%s' finished without calling corral_started",
                         t->name);
    } else {
      rc = corral__fail(self, t->out.status == CORRAL_STATUS_TIMED_OUT
                                  ? CORRAL_ETIMEDOUT
                                  : CORRAL_ECANCELED);
    }
  } else if (!rc) {
    if (value) *value = st.value;
    if (out) {
      t->refs++; /* the caller's handle */
      t->handle = t->owned = 1;
      if (t->finalized) corral__task_hold(rt, t); /* it already ended */
      *out = corral__task_handle(t);
    }
  }
  t->handle = out && !rc ? 1 : 0;
  corral__task_unref(rt, t); /* start's own reference */
  return rc;
}

int corral_started(void *value) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  corral__rt *rt = self->rt;
  corral__start *st = rt->starts;
  while (st && st->task != self) st = st->next;
  if (!st || st->started) return CORRAL_EINVAL; /* not starting, or twice */
  st->started = true;
  st->value = value;
  corral__group *to = st->target;
  if (!to) to = corral__implicit_group(rt, st->starter);
  if (!to)
    st->refused = CORRAL_ENOMEM;
  else if (to->state == CORRAL__G_CLOSED)
    st->refused = CORRAL_ECLOSED;
  else if (to->failed)
    st->refused = CORRAL_EFAILED;
  else if (to->satisfied || corral__cancelled_scope_walk(&to->scope))
    st->refused = CORRAL_ECANCELED;
  else
    move_child(self, st->tmp, to);
  corral__wake(st->starter, 0);
  start_unlist(rt, st);
  return 0;
}
