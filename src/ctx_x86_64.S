/* x86-64 System V context switch.
 * corral__ctx_switch(from = %rdi, to = %rsi): push the callee-saved
 * registers, the SSE control/status word (MXCSR) and the x87 control word on
 * the current stack, save %rsp in from->sp, load to->sp, pop, return into the
 * other context. Loading MXCSR / the x87 control word is slow and they almost
 * never differ between tasks, so they are reloaded only when they do. */
/* CORRAL_FAST_SWITCH (a build option) skips the FP control words: reading
 * MXCSR alone costs ~5 ns on some CPUs. Only for programs whose tasks never
 * change the rounding mode or exception masks. */
    .text
    .globl corral__ctx_switch
    .hidden corral__ctx_switch
    .type corral__ctx_switch, @function
    .p2align 6 /* a cache line of its own: the hot loop is layout-sensitive */
corral__ctx_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
#ifndef CORRAL_FAST_SWITCH
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movl (%rsp), %eax
    movzwl 4(%rsp), %ecx
#endif
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
#ifndef CORRAL_FAST_SWITCH
    cmpl (%rsp), %eax
    je 1f
    ldmxcsr (%rsp)
1:  cmpw 4(%rsp), %cx
    je 2f
    fldcw 4(%rsp)
2:
#endif
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size corral__ctx_switch, .-corral__ctx_switch

/* First frame of every task: corral__ctx_make leaves fn in %r13 and its
 * argument in %r12. fn never returns. */
    .globl corral__ctx_boot
    .hidden corral__ctx_boot
    .type corral__ctx_boot, @function
    .p2align 4
corral__ctx_boot:
    .cfi_startproc
    .cfi_undefined rip
    xorl %ebp, %ebp
    movq %r12, %rdi
    andq $-16, %rsp
    callq *%r13
    ud2
    .cfi_endproc
    .size corral__ctx_boot, .-corral__ctx_boot

    .section .note.GNU-stack,"",@progbits
