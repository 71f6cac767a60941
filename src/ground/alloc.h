/* Allocation through the runtime's allocator (corral_options.allocator,
 * else malloc/realloc/free). Ground code takes the allocator itself; the
 * core's corral__malloc(rt, n) family are one-line wrappers (core/rt.h). */
#ifndef CORRAL_GROUND_ALLOC_H
#define CORRAL_GROUND_ALLOC_H

#include "corral.h"
#include "ground/compiler.h"

#include <string.h>

CORRAL__HIDDEN extern const corral_allocator corral__std_allocator;

static inline void *corral__al_malloc(const corral_allocator *al, size_t n) {
  return al->malloc(al->ctx, n);
}
static inline void *corral__al_realloc(const corral_allocator *al, void *p,
                                       size_t n) {
  return al->realloc(al->ctx, p, n);
}
static inline void corral__al_free(const corral_allocator *al, void *p) {
  if (p) al->free(al->ctx, p);
}
static inline void *corral__al_calloc(const corral_allocator *al, size_t n) {
  void *p = corral__al_malloc(al, n);
  if (p) memset(p, 0, n);
  return p;
}
static inline char *corral__al_strdup(const corral_allocator *al,
                                      const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = corral__al_malloc(al, n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Copy a name into a CORRAL_NAME_MAX buffer, cut and NUL-terminated. */
static inline void corral__copy_name(char *dst, const char *src) {
  size_t i = 0;
  if (src)
    for (; i < CORRAL_NAME_MAX - 1 && src[i]; i++) dst[i] = src[i];
  dst[i] = 0;
}

#endif
