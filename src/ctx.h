/* Context switching: one assembly file per CPU, a ucontext fallback. */
#ifndef CORRAL_CTX_H
#define CORRAL_CTX_H

#include <stddef.h>

#if defined(CORRAL_CTX_UCONTEXT)
#include <ucontext.h>
typedef struct corral__ctx {
  ucontext_t uc;
} corral__ctx;
#else
typedef struct corral__ctx {
  void *sp; /* saved stack pointer; registers live on the stack */
} corral__ctx;
#endif

/* Save the current context into *from and resume *to. */
void corral__ctx_switch(corral__ctx *from, corral__ctx *to)
    __attribute__((visibility("hidden")));
/* Prepare *c so that switching to it runs fn(arg) on [lo, lo + size).
 * fn must never return (it switches away for the last time instead). */
void corral__ctx_make(corral__ctx *c, void *lo, size_t size,
                      void (*fn)(void *), void *arg)
    __attribute__((visibility("hidden")));
const char *corral__ctx_backend(void) __attribute__((visibility("hidden")));

#endif
