/* Stack switch for x86-64, System V ABI, ELF (Linux, BSD), GCC or Clang.
 *
 *   void *gcffi_slp_switch(void *(*save)(void *sp, void *arg),
 *                          void *(*restore)(void *sp, void *arg),
 *                          void *arg);
 *
 * Pushes the callee-saved registers and the floating-point control words
 * on the current stack, calls save(sp, arg), which returns the stack pointer
 * to continue on (NULL: stay and return NULL), moves %rsp there, calls
 * restore(sp, arg), then pops the registers that were pushed on *that*
 * stack and returns restore's result to whoever called gcffi_slp_switch
 * on it.  %r12/%r13 carry restore and arg across the move: they are
 * callee-saved, so save() leaves them alone.
 *
 * Written as a top-level asm function so that the compiler cannot keep
 * anything of its own in registers or in the red zone across the move.
 */

#define GCFFI_PLATFORM "x86_64-sysv"

__asm__(
    ".text\n"
    ".p2align 4\n"
    ".globl gcffi_slp_switch\n"
    ".hidden gcffi_slp_switch\n"
    ".type gcffi_slp_switch, @function\n"
    "gcffi_slp_switch:\n"
    "    .cfi_startproc\n"
    "    pushq %rbp\n"
    "    .cfi_adjust_cfa_offset 8\n"
    "    pushq %rbx\n"
    "    .cfi_adjust_cfa_offset 8\n"
    "    pushq %r12\n"
    "    .cfi_adjust_cfa_offset 8\n"
    "    pushq %r13\n"
    "    .cfi_adjust_cfa_offset 8\n"
    "    pushq %r14\n"
    "    .cfi_adjust_cfa_offset 8\n"
    "    pushq %r15\n"
    "    .cfi_adjust_cfa_offset 8\n"
    /* 8 more bytes: room for MXCSR and the x87 control word, and
       %rsp is then 16-byte aligned for the two calls below. */
    "    subq $8, %rsp\n"
    "    .cfi_adjust_cfa_offset 8\n"
    "    stmxcsr (%rsp)\n"
    "    fnstcw 4(%rsp)\n"
    "    movq %rsi, %r12\n"
    "    movq %rdx, %r13\n"
    "    movq %rdi, %rax\n"
    "    movq %rsp, %rdi\n"
    "    movq %r13, %rsi\n"
    "    call *%rax\n"
    "    testq %rax, %rax\n"
    "    jz 1f\n"
    "    movq %rax, %rsp\n"
    "    movq %rax, %rdi\n"
    "    movq %r13, %rsi\n"
    "    call *%r12\n"
    "1:\n"
    "    ldmxcsr (%rsp)\n"
    "    fldcw 4(%rsp)\n"
    "    addq $8, %rsp\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    popq %r15\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    popq %r14\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    popq %r13\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    popq %r12\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    popq %rbx\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    popq %rbp\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    ret\n"
    "    .cfi_endproc\n"
    ".size gcffi_slp_switch, .-gcffi_slp_switch\n"
);
