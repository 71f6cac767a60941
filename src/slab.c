/* Task structs come from slabs: chunks carved in order, each with its own
 * LIFO free list, released as soon as every struct in them is free (one
 * empty chunk is kept as a spare, so a workload that hovers at a chunk
 * boundary does not map and unmap in a loop).
 *
 * Why not malloc: a burst of a million lazily started tasks is a million
 * live structs; malloc pays its bookkeeping per struct and the kernel a page
 * fault per 4 KiB touched. A chunk is one allocation; with the default
 * allocator it is an mmap that grows to 2 MiB, populated in one call
 * (MADV_POPULATE_WRITE) instead of 512 faults, and released to the kernel at
 * once when it empties. With a user allocator chunks come from it (and
 * allocation failure is reported as ENOMEM by spawn, as before).
 * corral_options.huge_pages asks for 2 MiB transparent huge pages for the
 * biggest chunks: a fault per 2 MiB instead of per 4 KiB. */
#include "internal.h"

#include <stdint.h>
#include <sys/mman.h>

#define CORRAL__SLAB_MIN ((size_t)16 * 1024)
#define CORRAL__SLAB_MAX ((size_t)2 * 1024 * 1024)
#define CORRAL__SLAB_POPULATE ((size_t)256 * 1024)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static size_t slab_header(void) {
  return (sizeof(corral__slab) + 63) & ~(size_t)63;
}

/* Chunks with free room (the `next`/`prev` links). */
static void partial_add(corral__rt *rt, corral__slab *s) {
  s->prev = NULL;
  s->next = rt->slabs_partial;
  if (s->next) s->next->prev = s;
  rt->slabs_partial = s;
}

static void partial_del(corral__rt *rt, corral__slab *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    rt->slabs_partial = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
}

/* Every chunk (the `anext`/`aprev` links), for the runtime's end. */
static void all_add(corral__rt *rt, corral__slab *s) {
  s->aprev = NULL;
  s->anext = rt->slabs;
  if (s->anext) s->anext->aprev = s;
  rt->slabs = s;
}

static void all_del(corral__rt *rt, corral__slab *s) {
  if (s->aprev)
    s->aprev->anext = s->anext;
  else
    rt->slabs = s->anext;
  if (s->anext) s->anext->aprev = s->aprev;
}

static void slab_destroy(corral__rt *rt, corral__slab *s) {
  if (s->mapped)
    munmap(s, s->bytes);
  else
    corral__free(rt, s);
}

/* A chunk aligned to its size: the kernel backs only aligned 2 MiB ranges
 * with a huge page, which it does by itself where transparent huge pages
 * are "always" on, and here only when advised (corral_options.huge_pages). */
static void *map_aligned(size_t bytes, bool advise) {
  char *q = mmap(NULL, 2 * bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (q == MAP_FAILED) return MAP_FAILED;
  char *a = (char *)(((uintptr_t)q + bytes - 1) & ~(uintptr_t)(bytes - 1));
  if (a > q) munmap(q, (size_t)(a - q));
  munmap(a + bytes, (size_t)(q + bytes - a));
#ifdef MADV_HUGEPAGE
  if (advise) (void)madvise(a, bytes, MADV_HUGEPAGE);
#else
  (void)advise;
#endif
  return a;
}

static corral__slab *slab_new(corral__rt *rt) {
  corral__slab *s = rt->slab_spare;
  if (s) {
    rt->slab_spare = NULL;
  } else {
    size_t bytes = rt->slab_next_bytes ? rt->slab_next_bytes : CORRAL__SLAB_MIN;
    bool mapped = rt->al_default;
    if (mapped) {
      void *p = bytes == CORRAL__SLAB_MAX
                    ? map_aligned(bytes, rt->huge_pages)
                    : mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return NULL;
      /* Big chunks are filled by a burst: fault their pages in one call
       * (older kernels refuse the advice; then they fault one by one). */
      if (bytes >= CORRAL__SLAB_POPULATE && !rt->valgrind)
        (void)madvise(p, bytes, MADV_POPULATE_WRITE);
      s = p;
    } else {
      s = corral__malloc(rt, bytes);
      if (!s) return NULL;
    }
    memset(s, 0, sizeof *s);
    s->bytes = bytes;
    s->mapped = mapped;
    s->cap = (uint32_t)((bytes - slab_header()) / sizeof(corral_task));
    s->nfree = s->cap;
    if (bytes < CORRAL__SLAB_MAX) rt->slab_next_bytes = bytes * 2;
    all_add(rt, s);
  }
  partial_add(rt, s);
  return s;
}

corral_task *corral__slab_alloc_slow(corral__rt *rt) {
  corral__slab *s = slab_new(rt);
  return s ? corral__slab_alloc(rt) : NULL;
}

corral_task *corral__slab_carve(corral__slab *s) {
  corral_task *t =
      (corral_task *)(void *)((char *)s + slab_header() +
                              (size_t)s->carved++ * sizeof(corral_task));
  t->slab = s;
  return t;
}

void corral__slab_full(corral__rt *rt, corral__slab *s) {
  partial_del(rt, s);
}

void corral__slab_has_room(corral__rt *rt, corral__slab *s) {
  partial_add(rt, s);
}

void corral__slab_empty(corral__rt *rt, corral__slab *s) {
  /* The only chunk with room stays; of the others, one is kept spare (its
   * carved structs still on its free list) and the rest released. */
  if (rt->slabs_partial == s && !s->next) return;
  partial_del(rt, s);
  if (!rt->slab_spare) {
    rt->slab_spare = s;
    return;
  }
  all_del(rt, s);
  slab_destroy(rt, s);
}

void corral__slab_destroy_all(corral__rt *rt) {
  rt->task_cache = NULL; /* they live in the chunks */
  rt->ntask_cache = 0;
  while (rt->slabs) {
    corral__slab *s = rt->slabs;
    all_del(rt, s);
    slab_destroy(rt, s);
  }
  rt->slabs_partial = rt->slab_spare = NULL;
}
