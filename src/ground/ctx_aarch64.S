/* AArch64 (AAPCS64) context switch.
 * corral__ctx_switch(from = x0, to = x1): save x19-x30, d8-d15 and FPCR in a
 * 176-byte frame on the current stack, store sp in from->sp, load to->sp,
 * restore, return through x30 into the other context. */
#include "asm.h"

    .text
CORRAL_FUNC_BEGIN(corral__ctx_switch)
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
#ifndef CORRAL_FAST_SWITCH
    mrs x9, fpcr
    str x9, [sp, #160]
#endif
    mov x9, sp
    str x9, [x0]
    ldr x9, [x1]
    mov sp, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
#ifndef CORRAL_FAST_SWITCH
    ldr x9, [sp, #160]
    msr fpcr, x9
#endif
    add sp, sp, #176
    ret
CORRAL_FUNC_END(corral__ctx_switch)

/* First frame of every task: fn in x20, its argument in x19. */
CORRAL_FUNC_BEGIN(corral__ctx_boot)
    mov x29, #0
    mov x0, x19
    blr x20
    brk #0
CORRAL_FUNC_END(corral__ctx_boot)

CORRAL_NOTE_GNU_STACK
