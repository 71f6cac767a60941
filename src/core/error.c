/* Error records: counted, immutable, nesting for group aggregates. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "core/rt.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

corral_error *corral__error_new(corral__rt *rt, int code, const char *task,
                                const char *msg) {
  corral_error *e = corral__malloc(rt, sizeof *e);
  if (!e) return NULL;
  memset(e, 0, sizeof *e);
  e->refs = 1;
  e->code = code;
  e->al = rt->al; /* records may outlive the runtime */
  corral__copy_name(e->task, task);
  e->message = corral__strdup(rt, msg ? msg : corral_strerror(code));
  return e;
}

corral_error *corral_error_ref(corral_error *e) {
  if (e) e->refs++;
  return e;
}

void corral_error_unref(corral_error *e) {
  if (!e || --e->refs) return;
  corral_allocator a = e->al;
  const corral_allocator *al = &a;
  for (size_t i = 0; i < e->nchildren; i++) corral_error_unref(e->children[i]);
  al->free(al->ctx, e->children);
  al->free(al->ctx, e->cause);
  al->free(al->ctx, e->message);
  al->free(al->ctx, e);
}

int corral_error_code(const corral_error *e) { return e ? e->code : 0; }
const char *corral_error_message(const corral_error *e) {
  return e && e->message ? e->message : (e ? corral_strerror(e->code) : "");
}
const char *corral_error_task(const corral_error *e) { return e ? e->task : ""; }
size_t corral_error_count(const corral_error *e) { return e ? e->nchildren : 0; }
const corral_error *corral_error_child(const corral_error *e, size_t i) {
  return e && i < e->nchildren ? e->children[i] : NULL;
}

const corral_cancel_reason *corral_error_cause(const corral_error *e) {
  return e ? e->cause : NULL;
}

static void print_rec(const corral_error *e, FILE *f, int depth) {
  fprintf(f, "%*s%s in task '%s': %s\n", depth * 2, "",
          corral_err_name(e->code), e->task, corral_error_message(e));
  if (e->cause) {
    const corral_cancel_reason *c = e->cause;
    fprintf(f, "%*s  while handling a cancellation: %s", depth * 2, "",
            corral_cancel_kind_name(c->kind));
    if (c->kind == CORRAL_CANCEL_PARENT)
      fprintf(f, " (%s)", corral_cancel_kind_name(c->cause));
    fprintf(f, " of scope '%s'", c->scope);
    if (c->task[0]) fprintf(f, " by task '%s'", c->task);
    if (c->message[0]) fprintf(f, ": %s", c->message);
    fputc('\n', f);
  }
  for (size_t i = 0; i < e->nchildren; i++)
    print_rec(e->children[i], f, depth + 1);
}

void corral_error_print(const corral_error *e, FILE *f) {
  if (e && f) print_rec(e, f, 0);
}

void corral__drop_last_error(corral_task *t) {
  corral_error *e = t->last_err;
  t->last_err = NULL;
  corral_error_unref(e);
}

void corral__set_last_error(corral_task *t, corral_error *e) {
  corral_error *old = t->last_err;
  t->last_err = e; /* takes the reference */
  corral_error_unref(old);
}

/* An error raised inside a cancelled scope carries why it was cancelled:
 * cleanup that fails says what it was cleaning up after. */
static void attach_cause(corral_task *t, corral_error *e) {
  corral__scope *cs = e ? corral__cancelled_scope(t->scope) : NULL;
  if (!cs) return;
  e->cause = corral__malloc(t->rt, sizeof *e->cause);
  if (e->cause) corral__fill_reason(t, cs, e->cause);
}

corral_error *corral__error_for(corral_task *t, int rc) {
  if (t->last_err && t->last_err->code == rc)
    return corral_error_ref(t->last_err);
  corral_error *e = corral__error_new(t->rt, rc, t->name, NULL);
  if (rc != CORRAL_EGROUP) attach_cause(t, e);
  return e;
}

int corral_errorf(int code, const char *fmt, ...) {
  corral_task *t = corral__self();
  if (!t) return code;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt ? fmt : "", ap);
  va_end(ap);
  corral_error *e = corral__error_new(t->rt, code, t->name, buf);
  if (code != CORRAL_ECANCELED && code != CORRAL_ETIMEDOUT) attach_cause(t, e);
  if (e) corral__set_last_error(t, e);
  return code;
}

const corral_error *corral_last_error(void) {
  corral_task *t = corral__self();
  return t ? t->last_err : NULL;
}

void corral_outcome_clear(corral_outcome *o) {
  if (!o) return;
  corral_error_unref(o->error);
  memset(o, 0, sizeof *o);
}

void corral_outcomes_clear(corral_outcome *o, size_t n) {
  for (size_t i = 0; o && i < n; i++) corral_outcome_clear(&o[i]);
}
