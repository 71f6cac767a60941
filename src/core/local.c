/* Task-local values (Python's contextvars): a task's table of (key, value)
 * cells is immutable and shared, counted, with the children that inherited
 * it; setting a value makes the task its own copy of the table. A cell is
 * counted too, so a value several tables hold is destroyed once, when the
 * last of them lets go. */
#include "core/rt.h"

static void cell_unref(corral__rt *rt, corral__lcell *c) {
  if (--c->refs) return;
  if (c->key->destroy) c->key->destroy(c->value);
  corral__free(rt, c);
}

void corral__locals_release(corral__rt *rt, corral__locals *l) {
  if (--l->refs) return;
  for (uint32_t i = 0; i < l->n; i++) cell_unref(rt, l->cells[i]);
  corral__free(rt, l);
}

int corral_local_set(const corral_local_key *key, void *value) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!key) return CORRAL_EINVAL;
  corral__rt *rt = self->rt;
  corral__locals *old = self->locals;
  uint32_t n = old ? old->n : 0, at = n;
  for (uint32_t i = 0; i < n; i++)
    if (old->cells[i]->key == key) at = i;
  if (at < n && old->cells[at]->value == value) return 0; /* no change */
  corral__lcell *c = corral__malloc(rt, sizeof *c);
  corral__locals *l = corral__malloc(
      rt, sizeof *l + (n + (at == n)) * sizeof(corral__lcell *));
  if (!c || !l) {
    corral__free(rt, c);
    corral__free(rt, l);
    return CORRAL_ENOMEM;
  }
  c->refs = 1;
  c->key = key;
  c->value = value;
  l->refs = 1;
  l->n = n + (at == n);
  for (uint32_t i = 0; i < n; i++) {
    l->cells[i] = i == at ? c : old->cells[i];
    if (i != at) l->cells[i]->refs++;
  }
  if (at == n) l->cells[n] = c;
  self->locals = l;
  if (old) corral__locals_release(rt, old);
  return 0;
}

void *corral_local_get(const corral_local_key *key) {
  corral_task *self = corral__self();
  if (!self || !key || !self->locals) return NULL;
  corral__locals *l = self->locals;
  for (uint32_t i = 0; i < l->n; i++)
    if (l->cells[i]->key == key) return l->cells[i]->value;
  return NULL;
}
