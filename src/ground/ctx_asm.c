/* Initial frames for the assembly switches (ctx_x86_64.S, ctx_aarch64.S). */
#include "ctx.h"

#include <stdint.h>
#include <string.h>

#if !defined(__x86_64__)
extern void corral__ctx_boot(void) __attribute__((visibility("hidden")));
#endif

#if defined(__x86_64__)
/* corral__ctx_make is inline in ctx.h. */
const char *corral__ctx_backend(void) { return "x86_64-sysv-asm"; }
#elif defined(__aarch64__)
void corral__ctx_make(corral__ctx *c, void *lo, size_t size,
                      void (*fn)(void *), void *arg) {
  uint64_t *top = (uint64_t *)(((uintptr_t)lo + size) & ~(uintptr_t)15);
  uint64_t *f = top - 22; /* 176-byte frame */
  memset(f, 0, 176);
  f[0] = (uint64_t)(uintptr_t)arg;             /* x19 */
  f[1] = (uint64_t)(uintptr_t)fn;              /* x20 */
  f[11] = (uint64_t)(uintptr_t)corral__ctx_boot; /* x30 */
  c->sp = f;
}
const char *corral__ctx_backend(void) { return "aarch64-aapcs64-asm"; }
#else
#error "no assembly context switch for this CPU; build with CORRAL_CONTEXT=ucontext"
#endif
