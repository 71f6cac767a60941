/* Task stacks: lazily given, pooled, guarded. Independent of libuv so the
 * switch and stack tests can be cross-built for other CPUs on their own. */
#ifndef CORRAL_STACK_H
#define CORRAL_STACK_H

#include <stddef.h>
#include <stdint.h>

#include "sanitizer.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>) && __has_include(<valgrind/memcheck.h>)
#define CORRAL_HAVE_VALGRIND 1
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif
#endif

enum {
  CORRAL__GUARD_CANARY = 0,  /* no guard page: canary words, checked */
  CORRAL__GUARD_MPROTECT = 1,/* PROT_NONE page (costs two VMAs) */
  CORRAL__GUARD_INSTALL = 2  /* MADV_GUARD_INSTALL (Linux 6.13+): no VMA */
};

typedef struct corral__stack {
  char *lo;                  /* lowest usable byte */
  struct corral__stack *next;/* free list */
  struct corral__sizepool *pool;
  uint32_t size;             /* usable bytes (<= CORRAL_STACK_MAX) */
#ifdef CORRAL_HAVE_VALGRIND
  uint32_t vgid;             /* valgrind stack id */
#endif
  uint8_t guard;             /* CORRAL__GUARD_* for this slot */
  uint8_t warm;              /* pages may be resident */
  uint8_t used;
} corral__stack;

typedef struct corral__chunk {
  struct corral__chunk *next;
  char *map;
  size_t maplen, nslots, given;
  int guarded;               /* every slot's guard installed in one call */
  corral__stack slots[];
} corral__chunk;

typedef struct corral__sizepool {
  size_t size;
  corral__stack *warm, *cold;
  size_t nwarm;
  corral__chunk *chunks;
  struct corral__sizepool *next;
} corral__sizepool;

typedef struct corral__stack_pool {
  corral__sizepool *pools;
  size_t cache_max;          /* warm stacks kept per size */
  size_t page, guard_bytes;
  size_t mprotect_budget;    /* slots we may still guard with mprotect */
  int mode;                  /* best mode available: CORRAL__GUARD_* */
  int paint;                 /* fill stacks to measure peak use */
  void *(*alloc)(void *ctx, size_t n);
  void (*dealloc)(void *ctx, void *p);
  void *actx;
  size_t mapped_chunks;
  size_t ncanary;            /* slots guarded only by a canary */
  int pidfd;                 /* for batched process_madvise; -1: none */
  uint64_t last_trim_ns;     /* decay: trim at most once a second */
} corral__stack_pool;

#define CORRAL__CANARY 0xc0a1c0a1deadbeefull
#define CORRAL__PAINT 0xa5

__attribute__((visibility("hidden"))) void
corral__stack_pool_init(corral__stack_pool *p, int allow_guard_install,
                        size_t cache_max, int paint,
                        void *(*alloc)(void *, size_t),
                        void (*dealloc)(void *, void *), void *actx);
__attribute__((visibility("hidden"))) void
corral__stack_pool_destroy(corral__stack_pool *p);
/* 0, -EINVAL (size outside [CORRAL_STACK_MIN, CORRAL_STACK_MAX]), -ENOMEM. */
__attribute__((visibility("hidden"))) int
corral__stack_acquire(corral__stack_pool *p, size_t size, corral__stack **out);
/* Back to its size's warm list (LIFO: the next spawn reuses hot pages). */
static inline void corral__stack_release(corral__stack_pool *p,
                                         corral__stack *s) {
  (void)p;
  corral__sizepool *sp = s->pool;
  s->used = 0;
#ifdef CORRAL_ASAN
  /* The finished task never unwound its frames: clear their redzones. */
  __asan_unpoison_memory_region(s->lo, s->size);
#endif
  s->warm = 1;
  s->next = sp->warm;
  sp->warm = s;
  sp->nwarm++;
}
/* The common case inline: a warm stack of the most recently used size
 * (sizes already page-rounded), no painting; anything else, the call. */
static inline int corral__stack_acquire_fast(corral__stack_pool *p,
                                             size_t size,
                                             corral__stack **out) {
  corral__sizepool *sp = p->pools;
  corral__stack *s;
  if (sp && sp->size == size && (s = sp->warm) != NULL && !p->paint) {
    sp->warm = s->next;
    sp->nwarm--;
    s->next = NULL;
    s->used = 1;
    if (s->guard == CORRAL__GUARD_CANARY) *(uint64_t *)s->lo = CORRAL__CANARY;
    *out = s;
    return 0;
  }
  return corral__stack_acquire(p, size, out);
}
/* Called when the loop goes idle: at most once a second, give back the
 * pages of half the warm stacks beyond the cache (at most `max`). Releasing
 * a stack never costs a system call on the hot path, and a burst that comes
 * back soon finds its stacks still warm. */
__attribute__((visibility("hidden"))) void
corral__stack_trim(corral__stack_pool *p, uint64_t now_ns, size_t max);
/* Canary intact (always 1 for guarded stacks). */
static inline int corral__stack_ok(const corral__stack *s) {
  return s->guard != CORRAL__GUARD_CANARY ||
         *(const volatile uint64_t *)s->lo == CORRAL__CANARY;
}
/* Peak bytes used (paint mode only; else 0). */
__attribute__((visibility("hidden"))) size_t
corral__stack_peak(const corral__stack_pool *p, const corral__stack *s);
/* Does addr fall in the guard zone below s? */
__attribute__((visibility("hidden"))) int
corral__stack_guard_hit(const corral__stack_pool *p, const corral__stack *s,
                        const void *addr);
__attribute__((visibility("hidden"))) const char *
corral__stack_mode_name(int mode);

/* Overflow reporting: a SIGSEGV/SIGBUS handler on an alternate signal stack
 * asks `who` which stack the thread is running on and the task's name. */
typedef struct corral__fault_hook {
  const corral__stack *(*who)(void *ctx, const char **name,
                              const corral__stack_pool **pool);
  void *ctx;
} corral__fault_hook;

/* Install the process-wide handler (once) and this thread's alternate
 * stack; set the thread's hook. Returns 0 or -errno. */
__attribute__((visibility("hidden"))) int
corral__fault_begin(const corral__fault_hook *hook, void **altstack);
__attribute__((visibility("hidden"))) void corral__fault_end(void *altstack);
/* Report a smashed canary and abort. */
__attribute__((visibility("hidden"))) void
corral__stack_overflow_abort(const char *name, const corral__stack *s);

#endif
