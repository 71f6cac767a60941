/* Fixed-size objects (task structs) from slabs: see slab.c for why. The
 * allocation and free fast paths are inline; a freed object's first word
 * links it in a free list, and the object keeps a pointer to its chunk at
 * `owner_off` (set once, when the object is first carved). */
#ifndef CORRAL_GROUND_SLAB_H
#define CORRAL_GROUND_SLAB_H

#include "corral.h"
#include "ground/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct corral__slab {
  struct corral__slab *next, *prev;   /* chunks with free room */
  struct corral__slab *anext, *aprev; /* every chunk */
  void *free;                         /* freed objects, LIFO */
  uint32_t nfree;                     /* free: freed + never carved */
  uint32_t carved, cap;
  uint8_t mapped;                     /* mmap'd, else from the allocator */
  size_t bytes;
} corral__slab;

/* The runtime's part. */
typedef struct corral__slabs {
  corral__slab *all, *partial, *spare;
  void *cache;                 /* objects just freed (LIFO, bounded) */
  size_t ncache;
  size_t next_bytes;           /* size of the next new chunk */
  size_t obj_size;             /* bytes per object, a multiple of 16 */
  size_t owner_off;            /* where an object keeps its chunk pointer */
  const corral_allocator *al;
  bool al_default;             /* libc allocator: chunks may be mmap'd */
  bool huge_pages;
  bool valgrind;
  corral__slab *dormant;       /* emptied chunks, kept mapped (see slab.c) */
} corral__slabs;

/* A few objects just freed wait in a LIFO cache in front of the slabs: a
 * spawn loop keeps reusing one that is still in cache. */
#define CORRAL__SLAB_CACHE 64

CORRAL__HIDDEN void corral__slabs_init(corral__slabs *ss, size_t obj_size,
                                       size_t owner_off,
                                       const corral_allocator *al,
                                       bool al_default, bool huge_pages,
                                       bool valgrind);
CORRAL__HIDDEN void *corral__slab_alloc_slow(corral__slabs *ss);
CORRAL__HIDDEN void *corral__slab_carve(corral__slabs *ss, corral__slab *s);
CORRAL__HIDDEN void corral__slab_full(corral__slabs *ss, corral__slab *s);
CORRAL__HIDDEN void corral__slab_has_room(corral__slabs *ss, corral__slab *s);
CORRAL__HIDDEN void corral__slab_empty(corral__slabs *ss, corral__slab *s);
CORRAL__HIDDEN void corral__slabs_destroy(corral__slabs *ss);

#define corral__slab_link(o) (*(void **)(o))
#define corral__slab_owner(ss, o)                                            \
  (*(corral__slab **)(void *)((char *)(o) + (ss)->owner_off))

static inline void *corral__slab_alloc(corral__slabs *ss) {
  void *c = ss->cache;
  if (likely(c)) {
    ss->cache = corral__slab_link(c);
    ss->ncache--;
    return c;
  }
  corral__slab *s = ss->partial;
  if (unlikely(!s)) return corral__slab_alloc_slow(ss);
  void *o = s->free;
  if (o)
    s->free = corral__slab_link(o);
  else
    o = corral__slab_carve(ss, s);
  if (unlikely(--s->nfree == 0)) corral__slab_full(ss, s);
  return o;
}

static inline void corral__slab_free(corral__slabs *ss, void *o) {
  if (likely(ss->ncache < CORRAL__SLAB_CACHE)) {
    corral__slab_link(o) = ss->cache;
    ss->cache = o;
    ss->ncache++;
    return;
  }
  corral__slab *s = corral__slab_owner(ss, o);
  corral__slab_link(o) = s->free;
  s->free = o;
  if (unlikely(s->nfree++ == 0)) corral__slab_has_room(ss, s);
  if (unlikely(s->nfree == s->cap)) corral__slab_empty(ss, s);
}

#endif
