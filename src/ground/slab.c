/* Task structs (fixed-size objects) come from slabs: chunks carved in order, each with its own
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
#include "ground/slab.h"

#include "ground/alloc.h"
#include "ground/fault.h"

#include <string.h>

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
static void partial_add(corral__slabs *ss, corral__slab *s) {
  s->prev = NULL;
  s->next = ss->partial;
  if (s->next) s->next->prev = s;
  ss->partial = s;
}

static void partial_del(corral__slabs *ss, corral__slab *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    ss->partial = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
}

/* Every chunk (the `anext`/`aprev` links), for the runtime's end. */
static void all_add(corral__slabs *ss, corral__slab *s) {
  s->aprev = NULL;
  s->anext = ss->all;
  if (s->anext) s->anext->aprev = s;
  ss->all = s;
}

static void all_del(corral__slabs *ss, corral__slab *s) {
  if (s->aprev)
    s->aprev->anext = s->anext;
  else
    ss->all = s->anext;
  if (s->anext) s->anext->aprev = s->aprev;
}

static void slab_destroy(corral__slabs *ss, corral__slab *s) {
  if (s->mapped)
    munmap(s, s->bytes);
  else
    corral__al_free(ss->al, s);
}

/* A chunk aligned to its size: the kernel backs only aligned 2 MiB ranges
 * with a huge page, which it does by itself where transparent huge pages
 * are "always" on, and here only when advised (corral_options.huge_pages). */
static void *map_aligned(size_t bytes, bool advise) {
  char *q = CORRAL__MMAP("slab_mmap", ENOMEM,
                         mmap(NULL, 2 * bytes, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (q == MAP_FAILED) return MAP_FAILED;
  char *a = (char *)(((uintptr_t)q + bytes - 1) & ~(uintptr_t)(bytes - 1));
  if (a > q) munmap(q, (size_t)(a - q));
  munmap(a + bytes, (size_t)(q + bytes - a));
#ifdef MADV_HUGEPAGE
  if (advise)
    (void)CORRAL__SYS("slab_madvise_huge", EINVAL, madvise(a, bytes, MADV_HUGEPAGE));
#else
  (void)advise;
#endif
  return a;
}

static corral__slab *slab_new(corral__slabs *ss) {
  corral__slab *s = ss->spare;
  if (s) {
    ss->spare = NULL;
  } else if ((s = ss->dormant) != NULL) {
    ss->dormant = s->next;
    s->next = NULL;
  } else {
    size_t bytes = ss->next_bytes ? ss->next_bytes : CORRAL__SLAB_MIN;
    bool mapped = ss->al_default;
    if (mapped) {
      void *p = bytes == CORRAL__SLAB_MAX
                    ? map_aligned(bytes, ss->huge_pages)
                    : CORRAL__MMAP("slab_mmap", ENOMEM,
                                   mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
      if (p == MAP_FAILED) return NULL;
      /* Big chunks are filled by a burst: fault their pages in one call
       * (older kernels refuse the advice; then they fault one by one). */
      if (bytes >= CORRAL__SLAB_POPULATE && !ss->valgrind)
        (void)CORRAL__SYS("slab_madvise_populate", EINVAL,
                          madvise(p, bytes, MADV_POPULATE_WRITE));
      s = p;
    } else {
      s = corral__al_malloc(ss->al, bytes);
      if (!s) return NULL;
    }
    memset(s, 0, sizeof *s);
    s->bytes = bytes;
    s->mapped = mapped;
    s->cap = (uint32_t)((bytes - slab_header()) / ss->obj_size);
    s->nfree = s->cap;
    if (bytes < CORRAL__SLAB_MAX) ss->next_bytes = bytes * 2;
    all_add(ss, s);
  }
  partial_add(ss, s);
  return s;
}

void corral__slabs_init(corral__slabs *ss, size_t obj_size, size_t owner_off,
                        const corral_allocator *al, bool al_default,
                        bool huge_pages, bool valgrind) {
  memset(ss, 0, sizeof *ss);
  ss->obj_size = (obj_size + 15) & ~(size_t)15;
  ss->owner_off = owner_off;
  ss->al = al;
  ss->al_default = al_default;
  ss->huge_pages = huge_pages;
  ss->valgrind = valgrind;
}

void *corral__slab_alloc_slow(corral__slabs *ss) {
  corral__slab *s = slab_new(ss);
  return s ? corral__slab_alloc(ss) : NULL;
}

void *corral__slab_carve(corral__slabs *ss, corral__slab *s) {
  void *o = (char *)s + slab_header() + (size_t)s->carved++ * ss->obj_size;
  corral__slab_owner(ss, o) = s;
  return o;
}

void corral__slab_full(corral__slabs *ss, corral__slab *s) {
  partial_del(ss, s);
}

void corral__slab_has_room(corral__slabs *ss, corral__slab *s) {
  partial_add(ss, s);
}

void corral__slab_empty(corral__slabs *ss, corral__slab *s) {
  /* The only chunk with room stays; of the others, one is kept spare (its
   * carved structs still on its free list) and the rest released. */
  if (ss->partial == s && !s->next) return;
  partial_del(ss, s);
  if (!ss->spare) {
    ss->spare = s;
    return;
  }
  /* A mapped chunk is released to the kernel but not unmapped: a struct's
   * address stays readable until the runtime ends, so a stale task handle
   * is detected (its generation no longer matches) instead of faulting,
   * and the watchdog may read the running task's name. The first page
   * (the header) stays. A user allocator's chunk goes back to it. */
  if (!s->mapped) {
    all_del(ss, s);
    slab_destroy(ss, s);
    return;
  }
  if (!ss->valgrind && s->bytes > 4096)
    (void)madvise((char *)s + 4096, s->bytes - 4096, MADV_DONTNEED);
  s->carved = 0;
  s->free = NULL;
  s->nfree = s->cap;
  s->next = ss->dormant;
  ss->dormant = s;
}

void corral__slabs_destroy(corral__slabs *ss) {
  ss->cache = NULL; /* they live in the chunks */
  ss->ncache = 0;
  while (ss->all) {
    corral__slab *s = ss->all;
    all_del(ss, s);
    slab_destroy(ss, s);
  }
  ss->partial = ss->spare = ss->dormant = NULL;
}
