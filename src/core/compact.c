/* Compact tasks: one shared stack; a task's live bytes are saved when
 * another compact task needs the stack, and copied back before it runs. */
#include "core/sched.h"

#include <stdlib.h>

#if CORRAL__COMPACT_OK
static char *shared_top(corral__stacks *st) {
  return (char *)(((uintptr_t)st->shared->lo + st->shared->size) &
                  ~(uintptr_t)15);
}
#endif

/* Put t's frames on the shared stack, evicting the resident task. Must not
 * run on the shared stack. */
void corral__compact_load(corral__rt *rt, corral_task *t) {
#if !CORRAL__COMPACT_OK
  (void)rt, (void)t;
  abort(); /* no task is compact in this build */
#else
  corral__stacks *st = &rt->stacks;
  corral_task *o = st->shared_owner;
  if (o == t) return;
  char *top = shared_top(st);
  if (o) {
    size_t len = (size_t)(top - (char *)o->ctx.sp);
    if (!o->csave || len > o->csave->cap) {
      corral__csave *b = corral__realloc(rt, o->csave, sizeof *b + len);
      if (!b) {
        fprintf(rt->report, "corral: out of memory saving compact task '%s'\n",
                o->name);
        abort();
      }
      o->csave = b;
      b->cap = (uint32_t)len;
    }
    memcpy(o->csave->bytes, o->ctx.sp, len);
    o->csave->len = (uint32_t)len;
  }
  st->shared_owner = t;
#ifdef CORRAL_HAVE_VALGRIND
  /* Valgrind saw the shared stack's previous owner leave with its stack
   * pointer higher than where t's frames go: tell it they are written. */
  size_t need = t->cnew ? 64 : t->csave->len;
  VALGRIND_MAKE_MEM_UNDEFINED(top - need, need);
#endif
  if (t->cnew) {
    t->cnew = 0;
    corral__ctx_make(&t->ctx, st->shared->lo, st->shared->size,
                     corral__task_entry, t);
  } else {
    memcpy(top - t->csave->len, t->csave->bytes, t->csave->len);
  }
#endif
}

int corral__compact_refuse(corral_task *self, const char *call) {
  return corral_errorf(CORRAL_EINVAL,
                       "%s is not allowed in compact task '%s' (its stack is "
                       "not addressable while it is suspended)",
                       call, self->name);
}
