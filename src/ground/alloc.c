/* The default allocator: libc. */
#include "ground/alloc.h"

#include <stdlib.h>

static void *std_malloc(void *c, size_t n) {
  (void)c;
  return malloc(n);
}
static void *std_realloc(void *c, void *p, size_t n) {
  (void)c;
  return realloc(p, n);
}
static void std_free(void *c, void *p) {
  (void)c;
  free(p);
}

const corral_allocator corral__std_allocator = {std_malloc, std_realloc,
                                                std_free, NULL};
