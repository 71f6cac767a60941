/* Compiler conveniences shared by every layer. */
#ifndef CORRAL_GROUND_COMPILER_H
#define CORRAL_GROUND_COMPILER_H

#define CORRAL__HIDDEN __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define corral__container_of(p, type, field)                                 \
  ((type *)(void *)((char *)(p) - offsetof(type, field)))

#endif
