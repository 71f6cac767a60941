/* Cancel scopes (scope.c): a tree spanning tasks. A task's root scope hangs
 * under the scope of the group it was spawned into, so cancelling a scope
 * reaches every descendant task. */
#ifndef CORRAL_CORE_SCOPE_H
#define CORRAL_CORE_SCOPE_H

#include "corral.h"
#include "ground/compiler.h"
#include "ground/heap.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct corral__rt corral__rt;
typedef struct corral__scope corral__scope;

typedef struct corral__cancel_info {
  char origin_task[CORRAL_NAME_MAX];
  char message[]; /* NUL-terminated */
} corral__cancel_info;

struct corral__scope {
  corral__scope *parent;      /* enclosing scope (maybe in an ancestor task) */
  corral__scope *first_child, *last_child, *next_sib, *prev_sib;
  corral_task *owner;         /* task whose code runs inside */
  uint32_t magic;
  uint8_t cancelled;          /* cancel called on this very scope */
  uint8_t shield;
  uint8_t fail;               /* fail-after: exit reports ETIMEDOUT */
  uint8_t deadline_fired;
  uint8_t entered;            /* on the owner's scope stack */
  uint8_t counted_out;        /* detached: no longer in ncancelled */
  uint8_t timed;              /* a corral__tscope: may have a deadline */
  uint8_t kind;               /* corral_cancel_kind of the cancel */
  uint8_t caught;             /* exit converted its cancellation */
  uint8_t preset;             /* configured by corral_scope_init, not
                                 entered yet (user scopes only) */
  uint8_t preset_cancel;      /* cancelled before it was entered */
  const char *name;           /* borrowed (see corral_scope_opts.name) */
  corral__cancel_info *info;  /* who and why; allocated when cancelled */
};

/* Scopes that may have a deadline (user scopes, groups) carry a timer; a
 * task's root scope never does, and stays smaller. */
typedef struct corral__tscope {
  corral__scope s;
  corral__timer timer;
  uv_signal_t *sig; /* cancel on this signal (corral_*_cancel_on_signal) */
  int64_t preset_deadline;  /* corral_scope_init: applied on entry */
  const char *preset_msg;   /* a cancel before entry: its message */
} corral__tscope;

static inline corral__timer *corral__scope_timer(corral__scope *s) {
  return s->timed ? &((corral__tscope *)(void *)s)->timer : NULL;
}

#define CORRAL__SCOPE_MAGIC 0x5c09e5c0u

/* Append s to s->parent's children (the tree cancellation walks). */
static inline void corral__scope_link(corral__scope *s) {
  corral__scope *p = s->parent;
  s->prev_sib = p->last_child;
  if (p->last_child)
    p->last_child->next_sib = s;
  else
    p->first_child = s;
  p->last_child = s;
}

/* Take s out of s->parent's children. */
static inline void corral__scope_unlink(corral__scope *s) {
  corral__scope *p = s->parent;
  if (s->prev_sib)
    s->prev_sib->next_sib = s->next_sib;
  else
    p->first_child = s->next_sib;
  if (s->next_sib)
    s->next_sib->prev_sib = s->prev_sib;
  else
    p->last_child = s->prev_sib;
  s->prev_sib = s->next_sib = NULL;
}

static inline void corral__scope_init(corral__scope *s, corral_task *owner,
                                      corral__scope *parent,
                                      const char *name) {
  s->parent = parent;
  s->first_child = s->last_child = s->next_sib = s->prev_sib = NULL;
  s->owner = owner;
  s->magic = CORRAL__SCOPE_MAGIC;
  s->timed = 0;
  s->cancelled = s->shield = s->fail = s->deadline_fired = s->entered = 0;
  s->counted_out = 0;
  s->caught = 0;
  s->preset = s->preset_cancel = 0;
  s->kind = 0;
  s->name = name ? name : "scope";
  s->info = NULL;
  if (parent) corral__scope_link(s);
}

CORRAL__HIDDEN void corral__tscope_init(corral__tscope *ts, corral_task *owner,
                                        corral__scope *parent,
                                        const char *name);
/* Take s out of the tree and free what it holds (timer, signal, info). */
CORRAL__HIDDEN void corral__scope_detach(corral__rt *rt, corral__scope *s);
CORRAL__HIDDEN int corral__tscope_on_signal(corral__rt *rt, corral__tscope *ts,
                                            int signum);
/* Cancel s and wake (abort the waits of) the tasks blocked below it. */
CORRAL__HIDDEN void corral__scope_cancel(corral__rt *rt, corral__scope *s,
                                         corral_cancel_kind kind,
                                         const char *origin_task,
                                         const char *msg);
/* Arm s's deadline (absolute; 0 or CORRAL_FOREVER: none). */
CORRAL__HIDDEN int corral__scope_set_deadline(corral__rt *rt, corral__scope *s,
                                              int64_t deadline);
/* Fire the deadlines that passed of s and the scopes around it (up to a
 * shield), from the task they reach. */
CORRAL__HIDDEN void corral__scope_deadlines_due(corral__rt *rt, corral__scope *s);
/* The nearest cancelled scope that reaches s (stops at shields), or NULL. */
CORRAL__HIDDEN corral__scope *corral__cancelled_scope_walk(corral__scope *s);
CORRAL__HIDDEN void corral__fill_reason(corral_task *reader, corral__scope *s,
                                        corral_cancel_reason *out);

#endif
