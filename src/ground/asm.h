/* Assembler portability for the context-switch sources: ELF (Linux, BSD)
 * and Mach-O (macOS), where C symbols carry a leading underscore, symbols
 * are hidden with .private_extern, and there is no .type/.size nor a
 * GNU-stack note. */
#ifndef CORRAL_ASM_H
#define CORRAL_ASM_H

/* Statement separator inside one macro line: Apple's arm64 assembler reads
 * ';' as a comment. */
#if defined(__APPLE__) && defined(__aarch64__)
#define CORRAL_SEP %%
#else
#define CORRAL_SEP ;
#endif

#if defined(__APPLE__)
#define CORRAL_SYM(name) _##name
#define CORRAL_FUNC_BEGIN(name)                                                \
  .globl CORRAL_SYM(name) CORRAL_SEP                                           \
  .private_extern CORRAL_SYM(name) CORRAL_SEP                                  \
  .p2align 4 CORRAL_SEP                                                        \
  CORRAL_SYM(name):
#define CORRAL_FUNC_END(name)
#define CORRAL_NOTE_GNU_STACK
#else
#define CORRAL_SYM(name) name
#define CORRAL_FUNC_BEGIN(name)                                                \
  .globl name CORRAL_SEP                                                       \
  .hidden name CORRAL_SEP                                                      \
  .type name, %function CORRAL_SEP                                             \
  .p2align 4 CORRAL_SEP                                                        \
  name:
#define CORRAL_FUNC_END(name) .size name, .- name
#define CORRAL_NOTE_GNU_STACK .section .note.GNU-stack, "", %progbits
#endif

#endif
