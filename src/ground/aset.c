/* A set of addresses: see aset.h. */
#include "ground/aset.h"

#include "ground/alloc.h"

#define DELETED ((const void *)1)

static uint32_t hash(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
  return (uint32_t)(x >> 32);
}

static const void **find(const corral__aset *s, const void *p) {
  if (!s->cap) return NULL;
  for (uint32_t i = hash(p) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    if (s->v[i] == p) return &s->v[i];
    if (!s->v[i]) return NULL;
  }
}

bool corral__aset_has(const corral__aset *s, const void *p) {
  return find(s, p) != NULL;
}

static void put(corral__aset *s, const void *p) {
  for (uint32_t i = hash(p) & (s->cap - 1);; i = (i + 1) & (s->cap - 1))
    if (!s->v[i] || s->v[i] == DELETED) {
      if (!s->v[i]) s->used++;
      s->live++;
      s->v[i] = p;
      return;
    }
}

int corral__aset_add(corral__aset *s, const corral_allocator *al,
                     const void *p) {
  if ((s->used + 1) * 4 > s->cap * 3) {
    /* Sized by the live addresses, at most half full: a set whose slots
     * are mostly tombstones (addresses added and deleted, as scopes and
     * groups come and go) is rebuilt at its size or smaller, not doubled.
     * Doubling on every rebuild grew the set with the number of distinct
     * addresses ever added (2,048 slots, 16 KiB, after two minutes of the
     * soak, with a few dozen live). */
    uint32_t cap = 32;
    while (cap < 2 * (s->live + 1)) cap *= 2;
    const void **v = corral__al_calloc(al, cap * sizeof *v);
    if (!v) return CORRAL_ENOMEM;
    const void **old = s->v;
    uint32_t ocap = s->cap;
    s->v = v;
    s->cap = cap;
    s->used = s->live = 0; /* put counts them again */
    for (uint32_t i = 0; i < ocap; i++)
      if (old[i] && old[i] != DELETED) put(s, old[i]);
    corral__al_free(al, (void *)old);
  }
  put(s, p);
  return 0;
}

void corral__aset_del(corral__aset *s, const void *p) {
  const void **e = find(s, p);
  if (e) {
    *e = DELETED;
    s->live--;
  }
}

void corral__aset_free(corral__aset *s, const corral_allocator *al) {
  corral__al_free(al, (void *)s->v);
  s->v = NULL;
  s->cap = s->used = s->live = 0;
}
