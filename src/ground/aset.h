/* A set of addresses (open addressing, linear probing, tombstones): which
 * caller-storage objects (entered scopes, open groups) are live, known
 * without reading the caller's storage, which may be uninitialised. */
#ifndef CORRAL_GROUND_ASET_H
#define CORRAL_GROUND_ASET_H

#include "corral.h"
#include "ground/compiler.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct corral__aset {
  const void **v;
  uint32_t cap, used; /* used: live + deleted slots */
  uint32_t live;      /* addresses in the set */
} corral__aset;

/* 0, or CORRAL_ENOMEM (the set is unchanged). p must not be in it. */
CORRAL__HIDDEN int corral__aset_add(corral__aset *s, const corral_allocator *al,
                                    const void *p);
CORRAL__HIDDEN bool corral__aset_has(const corral__aset *s, const void *p);
CORRAL__HIDDEN void corral__aset_del(corral__aset *s, const void *p);
CORRAL__HIDDEN void corral__aset_free(corral__aset *s,
                                      const corral_allocator *al);

#endif
