/* Portable fallback: POSIX ucontext. Slower (swapcontext saves the signal
 * mask with a system call) but runs anywhere glibc/musl provide it. */
#include "ctx.h"

#include <fenv.h>
#include <stdint.h>
#include <stdlib.h>

static void boot(unsigned hi, unsigned lo, unsigned fhi, unsigned flo) {
  void *arg = (void *)(((uint64_t)hi << 32) | (uintptr_t)lo);
  void (*fn)(void *) =
      (void (*)(void *))(((uint64_t)fhi << 32) | (uintptr_t)flo);
  /* getcontext captured its caller's FP environment; a task starts with
   * the default one, as with the assembly back ends (swapcontext keeps
   * each context's own from then on). */
  fesetenv(FE_DFL_ENV);
  fn(arg);
  abort(); /* fn never returns */
}

void corral__ctx_make(corral__ctx *c, void *lo, size_t size,
                      void (*fn)(void *), void *arg) {
  getcontext(&c->uc);
  c->uc.uc_stack.ss_sp = lo;
  c->uc.uc_stack.ss_size = size;
  c->uc.uc_link = NULL;
  uint64_t a = (uintptr_t)arg, f = (uintptr_t)fn;
  makecontext(&c->uc, (void (*)(void))boot, 4, (unsigned)(a >> 32),
              (unsigned)a, (unsigned)(f >> 32), (unsigned)f);
}

void corral__ctx_switch(corral__ctx *from, corral__ctx *to) {
  swapcontext(&from->uc, &to->uc);
}

const char *corral__ctx_backend(void) { return "ucontext"; }
