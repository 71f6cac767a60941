/* Cancel scopes: a tree spanning tasks. A task's root scope hangs under the
 * scope of the group it was spawned into, so cancelling a scope reaches
 * every descendant task. Cancellation is level-triggered: a blocking call
 * asks "is any scope between me and the nearest shield cancelled?" every
 * time (corral__cancelled_scope), and cancelling wakes the tasks currently
 * blocked below the scope. */
#include "core/group.h"
#include "ground/sigdisp.h"
#include "ground/fault.h"

#include <signal.h>
#include <string.h>

_Static_assert(sizeof(corral__tscope) <= sizeof(corral_scope),
               "corral_scope storage too small");

void corral__tscope_init(corral__tscope *ts, corral_task *owner,
                         corral__scope *parent, const char *name) {
  corral__scope_init(&ts->s, owner, parent, name);
  ts->s.timed = 1;
  corral__timer_init(&ts->timer);
  ts->sig = NULL;
}

static void on_sig_closed(uv_handle_t *h) {
  corral__free(h->data, h);
}

static void on_signal(uv_signal_t *h, int signum) {
  corral__tscope *ts = h->data;
  corral__rt *rt = ts->s.owner->rt;
  char msg[64];
  snprintf(msg, sizeof msg, "signal %d (%s) received", signum,
           strsignal(signum));
  corral__scope_cancel(rt, &ts->s, CORRAL_CANCEL_SIGNAL, "signal", msg);
}

int corral__tscope_on_signal(corral__rt *rt, corral__tscope *ts, int signum) {
  if (ts->sig) return CORRAL_EBUSY; /* one signal watcher per scope */
  uv_signal_t *h = corral__malloc(rt, sizeof *h);
  if (!h) return CORRAL_ENOMEM;
  int rc = CORRAL__UV("signal_init", EMFILE, uv_signal_init(rt->loop, h));
  if (rc) {
    corral__free(rt, h);
    return rc;
  }
  h->data = ts;
  rc = corral__sigwatch_start(h, on_signal, signum); /* restores on close */
  if (rc) {
    h->data = rt;
    uv_close((uv_handle_t *)h, on_sig_closed);
    return rc;
  }
  ts->sig = h;
  return 0;
}

void corral__scope_detach(corral__rt *rt, corral__scope *s) {
  corral__timer *tm = corral__scope_timer(s);
  if (tm) corral__timer_disarm(rt, tm);
  corral__tscope *ts = s->timed ? (corral__tscope *)(void *)s : NULL;
  if (ts && ts->sig) {
    ts->sig->data = rt; /* the close callback frees it with rt's allocator */
    corral__sigwatch_close(ts->sig, on_sig_closed);
    ts->sig = NULL;
  }
  if (s->parent) corral__scope_unlink(s);
  s->parent = NULL;
  corral__free(rt, s->info);
  s->info = NULL;
  if (s->cancelled && !s->counted_out) {
    s->counted_out = 1;
    rt->sched.ncancelled--;
  }
}

corral__scope *corral__cancelled_scope_walk(corral__scope *s) {
  for (; s; s = s->parent) {
    if (s->cancelled) return s;
    if (s->shield) return NULL;
  }
  return NULL;
}

void corral__fill_reason(corral_task *reader, corral__scope *s,
                         corral_cancel_reason *out) {
  memset(out, 0, sizeof *out);
  out->cause = (corral_cancel_kind)s->kind;
  /* Cancelled from further up than the task's own scopes and its group:
   * report it as inherited from the parent, with the original cause. */
  bool inherited = reader && s->owner != reader &&
                   !(reader->group && s == &reader->group->scope);
  out->kind = inherited ? CORRAL_CANCEL_PARENT : (corral_cancel_kind)s->kind;
  corral__copy_name(out->scope, s->name);
  if (s->info) {
    memcpy(out->task, s->info->origin_task, sizeof out->task);
    size_t n = strlen(s->info->message);
    if (n >= sizeof out->message) n = sizeof out->message - 1;
    memcpy(out->message, s->info->message, n);
  }
}

/* Next scope to visit in a pre-order walk of root's subtree, skipping
 * shielded subtrees (outer cancellation does not reach inside a shield) and
 * subtrees already cancelled (their tasks were woken then). */
static corral__scope *skip(corral__scope *s) {
  while (s && (s->shield || s->cancelled)) s = s->next_sib;
  return s;
}

static void wake_below(corral__scope *root) {
  corral__scope *c = root;
  for (;;) {
    /* Siblings live in other tasks' (cold) structs: start loading the next
     * one while this one is handled. */
    if (c->next_sib) __builtin_prefetch(c->next_sib);
    corral_task *o = c->owner;
    if (o && o->scope == c && o->state == CORRAL__T_BLOCKED)
      corral__wait_abort(o, CORRAL_ECANCELED);
    corral__scope *n = skip(c->first_child);
    if (n) {
      c = n;
      continue;
    }
    for (;;) {
      if (c == root) return;
      n = skip(c->next_sib);
      if (n) {
        c = n;
        break;
      }
      c = c->parent;
    }
  }
}

void corral__scope_cancel(corral__rt *rt, corral__scope *s,
                          corral_cancel_kind kind, const char *origin_task,
                          const char *msg) {
  if (s->cancelled) return;
  s->cancelled = 1;
  rt->sched.ncancelled++;
  s->kind = (uint8_t)kind;
  /* Out of memory only loses the who/why text, never the cancellation. */
  size_t n = msg ? strlen(msg) : 0;
  corral__free(rt, s->info);
  s->info = corral__malloc(rt, sizeof *s->info + n + 1);
  if (s->info) {
    corral__copy_name(s->info->origin_task, origin_task);
    memcpy(s->info->message, msg ? msg : "", n + 1);
  }
  corral__timer *tm = corral__scope_timer(s);
  if (tm && kind != CORRAL_CANCEL_DEADLINE) corral__timer_disarm(rt, tm);
  wake_below(s);
}

static void on_scope_deadline(corral__timer *tm) {
  corral__scope *s = &corral__container_of(tm, corral__tscope, timer)->s;
  corral__rt *rt = s->owner->rt;
  if (s->cancelled) return;
  s->deadline_fired = 1;
  char msg[96];
  snprintf(msg, sizeof msg, "deadline of scope '%s' expired", s->name);
  corral__scope_cancel(rt, s, CORRAL_CANCEL_DEADLINE,
                       s->owner ? s->owner->name : "corral", msg);
}

void corral__scope_deadlines_due(corral__rt *rt, corral__scope *s) {
  int64_t now = corral__now(rt);
  for (; s; s = s->parent) {
    corral__timer *tm = corral__scope_timer(s);
    if (tm && corral__timer_armed(tm) && tm->deadline <= now) {
      corral__timer_disarm(rt, tm);
      on_scope_deadline(tm);
    }
    if (s->shield) break;
  }
}

/* ---- public API ---- */

int corral__scope_set_deadline(corral__rt *rt, corral__scope *s,
                               int64_t deadline) {
  corral__timer *tm = corral__scope_timer(s);
  if (!tm) return CORRAL_EINVAL;
  if (deadline == CORRAL_FOREVER) {
    corral__timer_disarm(rt, tm);
    return 0;
  }
  if (s->cancelled) return 0;
  if (deadline <= corral__now(rt)) {
    corral__timer_disarm(rt, tm);
    on_scope_deadline(tm); /* already in the past */
    return 0;
  }
  return corral__timer_arm(rt, tm, deadline, on_scope_deadline);
}

static bool is_preset(const corral__scope *s) {
  return s && s->magic == CORRAL__SCOPE_MAGIC && s->preset && !s->entered;
}

int corral_scope_init(corral_scope *us, const corral_scope_opts *o) {
  if (!us) return CORRAL_EINVAL;
  corral__tscope *ts = (corral__tscope *)(void *)us;
  corral__scope *s = &ts->s;
  corral__rt *rt = corral__tl_rt;
  corral__storage_probe(ts, sizeof *ts);
  if (s->magic == CORRAL__SCOPE_MAGIC && s->entered && s->owner && rt &&
      s->owner->rt == rt)
    return CORRAL_EBUSY;
  corral_scope_opts d = {0};
  if (!o) o = &d;
  memset(ts, 0, sizeof *ts);
  s->magic = CORRAL__SCOPE_MAGIC;
  s->preset = 1;
  s->shield = o->shield != 0;
  s->fail = o->fail != 0;
  s->name = o->name ? o->name : "scope";
  ts->preset_deadline = o->deadline == 0 ? CORRAL_FOREVER : o->deadline;
  return 0;
}

int corral_scope_enter(corral_scope *us, const corral_scope_opts *o) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!us) return CORRAL_EINVAL;
  CORRAL__NO_COMPACT(self, "corral_scope_enter");
  corral__tscope *ts = (corral__tscope *)(void *)us;
  corral__scope *s = &ts->s;
  /* Entered already (by this task or another): entering again would link
   * it into the tree twice. An exited scope may be entered again. */
  corral__storage_probe(ts, sizeof *ts);
  if (s->magic == CORRAL__SCOPE_MAGIC && s->entered && s->owner &&
      s->owner->rt == self->rt)
    return CORRAL_EBUSY;
  /* Configured by corral_scope_init: enter it as configured. */
  bool preset = !o && is_preset(s);
  bool pre_cancel = preset && s->preset_cancel;
  const char *pre_msg = preset ? ts->preset_msg : NULL;
  corral_scope_opts d = {0};
  if (preset) {
    d.name = s->name;
    d.shield = s->shield;
    d.fail = s->fail;
    d.deadline = ts->preset_deadline;
  }
  if (!o) o = &d;
  int64_t deadline = o->deadline == 0 ? CORRAL_FOREVER : o->deadline;
  corral__tscope_init(ts, self, self->scope, o->name);
  s->shield = o->shield != 0;
  s->fail = o->fail != 0;
  s->entered = 1;
  self->scope = s;
  if (pre_cancel)
    corral__scope_cancel(self->rt, s, CORRAL_CANCEL_EXPLICIT, self->name,
                         pre_msg);
  /* The option field's 0 = not set (a zeroed struct has no deadline). */
  int rc = corral__scope_set_deadline(self->rt, s, deadline);
  if (rc) {
    self->scope = s->parent;
    corral__scope_detach(self->rt, s);
    s->magic = 0;
  }
  return rc;
}

int corral_scope_exit(corral_scope *us, int rc) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  corral__scope *s = (corral__scope *)us;
  if (!s || s->magic != CORRAL__SCOPE_MAGIC || !s->entered)
    return CORRAL_EINVAL;
  if (s->owner != self || self->scope != s) return CORRAL_ENESTING;
  /* Only the outermost cancelled scope converts the cancellation (Trio's
   * CancelScope, asyncio's Timeout): while an enclosing scope's
   * cancellation reaches this one, the cancel code passes through. */
  bool outer = !s->shield && corral__cancelled_scope(s->parent) != NULL;
  self->scope = s->parent;
  s->entered = 0;
  s->caught = rc == CORRAL_ECANCELED && s->cancelled && !outer;
  int mine = s->caught, timed = s->deadline_fired;
  corral__scope_detach(self->rt, s);
  if (mine) {
    if (s->fail && timed)
      return corral_errorf(CORRAL_ETIMEDOUT, "deadline of scope '%s' expired",
                           s->name);
    return 0;
  }
  return rc;
}

int corral_scope_cancel(corral_scope *us, const char *message) {
  corral__scope *s = (corral__scope *)us;
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  if (is_preset(s)) { /* applied when it is entered */
    s->preset_cancel = 1;
    ((corral__tscope *)(void *)s)->preset_msg = message;
    return 0;
  }
  if (!s || s->magic != CORRAL__SCOPE_MAGIC || !s->entered)
    return CORRAL_EINVAL;
  if (!s->owner || s->owner->rt != rt) return CORRAL_EFOREIGN;
  corral__scope_cancel(rt, s, CORRAL_CANCEL_EXPLICIT,
                       rt->sched.current ? rt->sched.current->name : "corral", message);
  return 0;
}

int corral_scope_cancel_on_signal(corral_scope *us, int signum) {
  corral__scope *s = (corral__scope *)us;
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  if (!s || s->magic != CORRAL__SCOPE_MAGIC || !s->entered || !s->timed)
    return CORRAL_EINVAL;
  if (!s->owner || s->owner->rt != rt) return CORRAL_EFOREIGN;
  return corral__tscope_on_signal(rt, (corral__tscope *)(void *)s, signum);
}

int corral_scope_set_deadline(corral_scope *us, int64_t deadline) {
  corral__scope *s = (corral__scope *)us;
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  if (is_preset(s)) {
    ((corral__tscope *)(void *)s)->preset_deadline = deadline;
    return 0;
  }
  if (!s || s->magic != CORRAL__SCOPE_MAGIC || !s->entered)
    return CORRAL_EINVAL;
  return corral__scope_set_deadline(rt, s, deadline);
}

int corral_scope_cancelled(const corral_scope *us) {
  const corral__scope *s = (const corral__scope *)us;
  return s && s->magic == CORRAL__SCOPE_MAGIC && s->cancelled;
}

int64_t corral_scope_deadline(const corral_scope *us) {
  const corral__scope *s = (const corral__scope *)us;
  if (!s || s->magic != CORRAL__SCOPE_MAGIC) return CORRAL_FOREVER;
  const corral__tscope *ts = (const corral__tscope *)(const void *)s;
  if (is_preset(s)) return ts->preset_deadline;
  if (!s->entered || !s->timed || !corral__timer_armed(&ts->timer))
    return CORRAL_FOREVER;
  return ts->timer.deadline;
}

int corral_scope_shielded(const corral_scope *us) {
  const corral__scope *s = (const corral__scope *)us;
  return s && s->magic == CORRAL__SCOPE_MAGIC && s->shield;
}

int corral_scope_set_shield(corral_scope *us, int on) {
  corral__scope *s = (corral__scope *)us;
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  if (!s || s->magic != CORRAL__SCOPE_MAGIC || (!s->entered && !s->preset))
    return CORRAL_EINVAL;
  if (s->entered && s->owner && s->owner->rt != rt) return CORRAL_EFOREIGN;
  bool was = s->shield;
  s->shield = on != 0;
  /* Unshielded while an enclosing scope is cancelled: the tasks blocked
   * inside see it now (level-triggered). */
  if (was && !s->shield && s->entered && s->parent &&
      corral__cancelled_scope_walk(s->parent))
    wake_below(s);
  return 0;
}

int corral_scope_caught(const corral_scope *us) {
  const corral__scope *s = (const corral__scope *)us;
  return s && s->magic == CORRAL__SCOPE_MAGIC && s->caught;
}

int corral_scope_timed_out(const corral_scope *us) {
  const corral__scope *s = (const corral__scope *)us;
  return s && s->magic == CORRAL__SCOPE_MAGIC && s->deadline_fired;
}

/* The time rule: CORRAL_FOREVER is none, <= 0 already expired. */
static int64_t rel(int64_t ns) {
  if (ns == CORRAL_FOREVER) return CORRAL_FOREVER;
  corral__rt *rt = corral__tl_rt;
  return rt ? corral__deadline_after(rt, ns) : CORRAL_FOREVER;
}
/* An absolute deadline for scope options, whose 0 means "not set": a
 * deadline at 0 or before is expired, so it becomes "now". */
static int64_t abs_dl(int64_t deadline) {
  corral__rt *rt = corral__tl_rt;
  if (deadline == CORRAL_FOREVER || !rt) return deadline;
  int64_t now = corral__now(rt);
  return deadline <= now ? now : deadline;
}

int corral_move_on_at(corral_scope *s, int64_t deadline) {
  return corral_scope_enter(
      s, &(corral_scope_opts){.name = "move_on", .deadline = abs_dl(deadline)});
}
int corral_move_on_after(corral_scope *s, int64_t ns) {
  return corral_move_on_at(s, rel(ns));
}
int corral_fail_at(corral_scope *s, int64_t deadline) {
  return corral_scope_enter(s, &(corral_scope_opts){.name = "fail_after",
                                                   .deadline = abs_dl(deadline),
                                                   .fail = 1});
}
int corral_fail_after(corral_scope *s, int64_t ns) {
  return corral_fail_at(s, rel(ns));
}
int corral_shield(corral_scope *s, int64_t timeout_ns) {
  return corral_scope_enter(
      s, &(corral_scope_opts){.name = "shield",
                              .shield = 1,
                              .deadline = rel(timeout_ns)});
}
