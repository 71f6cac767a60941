/* x86-64 System V: the first code every task runs.
 *
 * The switch itself is inline assembly in ctx.h, so that the compiler saves
 * only the callee-saved registers that are live at each switch. Every
 * suspended x86-64 context has the same three-word frame at its saved stack
 * pointer:
 *     sp + 0   MXCSR (low 32 bits), x87 control word (bits 32..47)
 *     sp + 8   %rbp
 *     sp + 16  resume address
 * corral__ctx_make lays out that frame with this function as the resume
 * address and fn and its argument above it. fn never returns. */
#include "asm.h"

    .text
CORRAL_FUNC_BEGIN(corral__ctx_boot)
    .cfi_startproc
    .cfi_undefined rip
#ifdef __CET__
    endbr64
#endif
    popq %rax
    popq %rdi
    xorl %ebp, %ebp
    andq $-16, %rsp
    /* Enter fn by a jump with a null return address (the ABI's alignment,
     * and unwinders stop here): a call would leave an entry on the return
     * predictor that fn's last switch never pops, and the task it switches
     * to would mispredict its next return. */
    pushq $0
    jmpq *%rax
    .cfi_endproc
CORRAL_FUNC_END(corral__ctx_boot)

CORRAL_NOTE_GNU_STACK
