/* Task-local values (Python's contextvars). A task's table of (key, value)
 * entries is immutable and shared, counted, with the children that
 * inherited it; setting a value gives the task its own copy of the table.
 *
 * Every value is counted per (key, value) pair across all the runtime's
 * tables, in one small open-addressing map: a value is destroyed once, when
 * no table holds it any more, however it got into them (inherited, read
 * with get and set again elsewhere, set twice). */
#include "core/rt.h"

typedef struct {
  const corral_local_key *key; /* NULL: free; &tomb: deleted */
  void *value;
  size_t n;
} lval;

struct corral__lvals {
  lval *v;
  size_t cap, used; /* used: live + deleted */
};

static const corral_local_key tomb;

static size_t hash(const corral_local_key *k, void *v) {
  uint64_t x = (uint64_t)(uintptr_t)k * 0x9e3779b97f4a7c15ull ^
               (uint64_t)(uintptr_t)v;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ull;
  return (size_t)(x ^ (x >> 32));
}

static lval *slot(struct corral__lvals *m, const corral_local_key *k, void *v,
                  bool insert) {
  if (!m->cap) return NULL;
  lval *del = NULL;
  for (size_t i = hash(k, v) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    lval *e = &m->v[i];
    if (e->key == k && e->value == v) return e;
    if (e->key == &tomb && !del) del = e;
    if (!e->key) {
      if (!insert) return NULL;
      if (del) return del;
      m->used++;
      return e;
    }
  }
}

static int grow(corral__rt *rt, struct corral__lvals *m) {
  size_t cap = m->cap ? m->cap * 2 : 16;
  lval *v = corral__calloc(rt, cap * sizeof *v);
  if (!v) return CORRAL_ENOMEM;
  lval *old = m->v;
  size_t ocap = m->cap;
  m->v = v;
  m->cap = cap;
  m->used = 0;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].key && old[i].key != &tomb) {
      lval *e = slot(m, old[i].key, old[i].value, true);
      *e = old[i];
    }
  corral__free(rt, old);
  return 0;
}

/* One more holder of (k, v). */
static int value_ref(corral__rt *rt, const corral_local_key *k, void *v) {
  if (!v) return 0; /* NULL is never destroyed */
  struct corral__lvals *m = rt->lvals;
  if (!m) {
    m = rt->lvals = corral__calloc(rt, sizeof *m);
    if (!m) return CORRAL_ENOMEM;
  }
  if ((m->used + 1) * 4 > m->cap * 3 && grow(rt, m)) return CORRAL_ENOMEM;
  lval *e = slot(m, k, v, true);
  if (e->key != k) *e = (lval){k, v, 0};
  e->n++;
  return 0;
}

/* One holder fewer; the last one destroys the value. */
static void value_unref(corral__rt *rt, const corral_local_key *k, void *v) {
  if (!v) return;
  lval *e = rt->lvals ? slot(rt->lvals, k, v, false) : NULL;
  if (!e || --e->n) return;
  e->key = &tomb;
  e->value = NULL;
  if (k->destroy) k->destroy(v);
}

void corral__locals_release(corral__rt *rt, corral__locals *l) {
  if (--l->refs) return;
  for (uint32_t i = 0; i < l->n; i++) value_unref(rt, l->e[i].key, l->e[i].value);
  corral__free(rt, l);
}

void corral__lvals_free(corral__rt *rt) {
  if (!rt->lvals) return;
  corral__free(rt, rt->lvals->v);
  corral__free(rt, rt->lvals);
  rt->lvals = NULL;
}

int corral_local_set(const corral_local_key *key, void *value) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!key) return CORRAL_EINVAL;
  corral__rt *rt = self->rt;
  corral__locals *old = self->locals;
  uint32_t n = old ? old->n : 0, at = n;
  for (uint32_t i = 0; i < n; i++)
    if (old->e[i].key == key) at = i;
  if (at < n && old->e[at].value == value) return 0; /* no change */
  uint32_t nn = n + (at == n);
  corral__locals *l = corral__malloc(rt, sizeof *l + nn * sizeof(corral__lentry));
  if (!l) return CORRAL_ENOMEM;
  /* Count the new table's holdings first: failing leaves everything as it
   * was. */
  uint32_t done = 0;
  for (; done < nn; done++) {
    corral__lentry e = done == at || done == n ? (corral__lentry){key, value}
                                               : old->e[done];
    if (value_ref(rt, e.key, e.value)) break;
    l->e[done] = e;
  }
  if (done < nn) {
    for (uint32_t i = 0; i < done; i++)
      value_unref(rt, l->e[i].key, l->e[i].value);
    corral__free(rt, l);
    return CORRAL_ENOMEM;
  }
  l->refs = 1;
  l->n = nn;
  self->locals = l; /* before the old table goes: its destructors see l */
  if (old) corral__locals_release(rt, old);
  return 0;
}

void *corral_local_get(const corral_local_key *key) {
  corral_task *self = corral__self();
  if (!self || !key || !self->locals) return NULL;
  corral__locals *l = self->locals;
  for (uint32_t i = 0; i < l->n; i++)
    if (l->e[i].key == key) return l->e[i].value;
  return NULL;
}
