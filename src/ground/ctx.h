/* Context switching: assembly per CPU, a ucontext fallback. */
#ifndef CORRAL_CTX_H
#define CORRAL_CTX_H

#include <stddef.h>
#include <stdint.h>

#if defined(CORRAL_CTX_UCONTEXT)
#include <ucontext.h>
typedef struct corral__ctx {
  ucontext_t uc;
} corral__ctx;
/* The saved stack pointer (for prefetching only): unknown here. */
static inline uintptr_t corral__ctx_sp(const corral__ctx *c) {
  (void)c;
  return 0;
}
#else
typedef struct corral__ctx {
  void *sp; /* saved stack pointer; the rest lives on the stack */
} corral__ctx;
/* The saved stack pointer. */
static inline uintptr_t corral__ctx_sp(const corral__ctx *c) {
  return (uintptr_t)c->sp;
}
#endif

const char *corral__ctx_backend(void) __attribute__((visibility("hidden")));

#if defined(__x86_64__) && !defined(CORRAL_CTX_UCONTEXT)

#ifdef __CET__
#define CORRAL__ENDBR "endbr64\n\t"
#else
#define CORRAL__ENDBR ""
#endif

/* Both ways into another context begin alike: push the resume address (the
 * local label 1 after the asm) and %rbp, then the FP control words. */
#define CORRAL__SAVE_FRAME                                                     \
  "leaq 1f(%%rip), %%rax\n\t"                                                  \
  "pushq %%rax\n\t"                                                            \
  "pushq %%rbp\n\t" CORRAL__FP_SAVE

/* What every switch clobbers besides the general registers it names: the
 * vector, x87 and MMX registers (caller-saved across any call), memory and
 * the flags. */
#define CORRAL__CLOBBERS_FP                                                    \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",      \
      "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "st",      \
      "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)", "mm0",    \
      "mm1", "mm2", "mm3", "mm4", "mm5", "mm6", "mm7", "memory", "cc"

#ifdef CORRAL_FAST_SWITCH
#define CORRAL__FP_SAVE "subq $8, %%rsp\n\t"
#define CORRAL__FP_LOAD "addq $8, %%rsp\n\t"
#else
/* Save MXCSR and the x87 control word; on the other side, load each only
 * when it differs (loading is slow, and they rarely differ). */
#define CORRAL__FP_SAVE                                                        \
  "subq $8, %%rsp\n\t"                                                         \
  "stmxcsr (%%rsp)\n\t"                                                        \
  "fnstcw 4(%%rsp)\n\t"                                                        \
  "movl (%%rsp), %%eax\n\t"                                                    \
  "movzwl 4(%%rsp), %%ecx\n\t"
#define CORRAL__FP_LOAD                                                        \
  "cmpl (%%rsp), %%eax\n\t"                                                    \
  "je 2f\n\t"                                                                  \
  "ldmxcsr (%%rsp)\n"                                                          \
  "2:\n\t"                                                                     \
  "cmpw 4(%%rsp), %%cx\n\t"                                                    \
  "je 3f\n\t"                                                                  \
  "fldcw 4(%%rsp)\n"                                                           \
  "3:\n\t"                                                                     \
  "addq $8, %%rsp\n\t"
#endif

void corral__ctx_boot(void) __attribute__((visibility("hidden")));

/* Prepare *c so that switching to it runs fn(arg) on [lo, lo + size).
 * fn must never return (it switches away for the last time instead). */
static inline void corral__ctx_make(corral__ctx *c, void *lo, size_t size,
                                    void (*fn)(void *), void *arg) {
  uint64_t *sp = (uint64_t *)(((uintptr_t)lo + size) & ~(uintptr_t)15);
  *--sp = (uint64_t)(uintptr_t)arg;              /* popped by boot */
  *--sp = (uint64_t)(uintptr_t)fn;               /* popped by boot */
  *--sp = (uint64_t)(uintptr_t)corral__ctx_boot; /* resume address */
  *--sp = 0;                                     /* rbp */
  /* MXCSR default 0x1f80 (low word), x87 control word 0x037f above it. */
  *--sp = ((uint64_t)0x037f << 32) | 0x1f80;
  c->sp = sp;
}

/* Save the current context into *from and resume *to.
 *
 * x86-64 System V. Every suspended context has this frame at its saved
 * stack pointer:
 *     sp + 0   MXCSR (low 32 bits), x87 control word (bits 32..47)
 *     sp + 8   %rbp
 *     sp + 16  resume address
 * The other callee-saved registers are declared clobbered, so the compiler
 * keeps across the switch only what is live there, and the caller-saved ones
 * are clobbered as by any call. Resuming jumps (never returns) to the resume
 * address: the return-stack predictor stays balanced and a ping-pong
 * predicts perfectly. The library is built with -mno-red-zone: the pushes
 * below %rsp must not land on a leaf function's red zone.
 *
 * CORRAL_FAST_SWITCH (a build option) leaves the FP control words alone:
 * reading MXCSR costs several ns on some CPUs. Only for programs whose tasks
 * never change the rounding mode or exception masks. */
static inline __attribute__((always_inline)) void
corral__ctx_switch(corral__ctx *from, corral__ctx *to) {
  void *f = from, *t = to;
  __asm__ volatile(
      CORRAL__SAVE_FRAME
      "movq %%rsp, (%[f])\n\t"
      "movq (%[t]), %%rsp\n\t"
      CORRAL__FP_LOAD
      "popq %%rbp\n\t"
      "popq %%rdx\n\t"
      "jmpq *%%rdx\n"
      "1:\n\t"
      CORRAL__ENDBR
      : [f] "+D"(f), [t] "+S"(t)
      :
      : "rax", "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11", "r12", "r13",
        "r14", "r15", CORRAL__CLOBBERS_FP);
}

#define CORRAL__CTX_HAVE_START 1
/* Save the current context into *from and start fn(arg) on the stack whose
 * aligned top is `top`, as a switch to a context made by corral__ctx_make
 * would, with nothing written or loaded in between: the FP control words
 * go to their defaults (loaded only when they differ). fn never returns. */
static inline __attribute__((always_inline)) void
corral__ctx_start(corral__ctx *from, void *top, void (*fn)(void *),
                  void *arg) {
  static const uint32_t fp_default[2] = {0x1f80, 0x037f};
  void *f = from, *a = arg, *sp = top;
  register void (*target)(void *) __asm__("r8") = fn;
  __asm__ volatile(
      CORRAL__SAVE_FRAME
      "movq %%rsp, (%[f])\n\t"
      "movq %[sp], %%rsp\n\t"
#ifndef CORRAL_FAST_SWITCH
      "cmpl $0x1f80, %%eax\n\t"
      "je 2f\n\t"
      "ldmxcsr %[fpd]\n"
      "2:\n\t"
      "cmpw $0x037f, %%cx\n\t"
      "je 3f\n\t"
      "fldcw 4+%[fpd]\n"
      "3:\n\t"
#endif
      "pushq $0\n\t" /* no return address: the ABI's alignment, and
                          unwinders stop here */
      "xorl %%ebp, %%ebp\n\t"
      "jmpq *%[fn]\n"
      "1:\n\t"
      CORRAL__ENDBR
      : [f] "+S"(f), "+D"(a), [sp] "+d"(sp), [fn] "+r"(target)
      : [fpd] "m"(fp_default)
      : "rax", "rbx", "rcx", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
        CORRAL__CLOBBERS_FP);
}

/* Resume *to from a context that is never resumed again (a finished task):
 * nothing is saved, and the FP control words are loaded unconditionally
 * (loading is cheap; reading MXCSR to compare is what costs). */
static inline __attribute__((always_inline, noreturn)) void
corral__ctx_jump(corral__ctx *to) {
  __asm__ volatile(
      "movq (%[t]), %%rsp\n\t"
#ifndef CORRAL_FAST_SWITCH
      "ldmxcsr (%%rsp)\n\t"
      "fldcw 4(%%rsp)\n\t"
#endif
      "addq $8, %%rsp\n\t"
      "popq %%rbp\n\t"
      "popq %%rdx\n\t"
      "jmpq *%%rdx\n"
      :
      : [t] "r"(to)
      : "memory");
  __builtin_unreachable();
}

#else

/* Prepare *c so that switching to it runs fn(arg) on [lo, lo + size).
 * fn must never return (it switches away for the last time instead). */
void corral__ctx_make(corral__ctx *c, void *lo, size_t size,
                      void (*fn)(void *), void *arg)
    __attribute__((visibility("hidden")));
/* Save the current context into *from and resume *to. */
void corral__ctx_switch(corral__ctx *from, corral__ctx *to)
    __attribute__((visibility("hidden")));
/* Resume *to from a context that is never resumed again. */
static inline __attribute__((always_inline, noreturn)) void
corral__ctx_jump(corral__ctx *to) {
  corral__ctx dead;
  corral__ctx_switch(&dead, to);
  __builtin_unreachable();
}

#endif

#endif
