/* Stack switch for AArch64, AAPCS64, ELF (Linux, BSD), GCC or Clang.
 * Same contract as switch_x86_64_sysv.h:
 *
 *   void *gcffi_slp_switch(void *(*save)(void *sp, void *arg),
 *                          void *(*restore)(void *sp, void *arg),
 *                          void *arg);
 *
 * Saves the callee-saved registers (x19-x28, the frame pointer x29, the
 * link register x30, d8-d15) and FPCR in a 176-byte block on the current
 * stack, calls save(sp, arg), moves sp to what it returns (NULL: stay and
 * return NULL), calls restore(sp, arg), then reloads the block found on
 * *that* stack and returns restore's result.  x19/x20 carry restore and arg
 * across the move: save() preserves them, being callee-saved.
 */

#define GCFFI_PLATFORM "aarch64-aapcs"

__asm__(
    ".text\n"
    ".p2align 2\n"
    ".globl gcffi_slp_switch\n"
    ".hidden gcffi_slp_switch\n"
    ".type gcffi_slp_switch, %function\n"
    "gcffi_slp_switch:\n"
    "    .cfi_startproc\n"
    "    stp x29, x30, [sp, #-176]!\n"
    "    .cfi_def_cfa_offset 176\n"
    "    .cfi_offset x29, -176\n"
    "    .cfi_offset x30, -168\n"
    "    mov x29, sp\n"
    "    stp x19, x20, [sp, #16]\n"
    "    stp x21, x22, [sp, #32]\n"
    "    stp x23, x24, [sp, #48]\n"
    "    stp x25, x26, [sp, #64]\n"
    "    stp x27, x28, [sp, #80]\n"
    "    stp d8, d9, [sp, #96]\n"
    "    stp d10, d11, [sp, #112]\n"
    "    stp d12, d13, [sp, #128]\n"
    "    stp d14, d15, [sp, #144]\n"
    "    mrs x9, fpcr\n"
    "    str x9, [sp, #160]\n"
    "    mov x19, x1\n"
    "    mov x20, x2\n"
    "    mov x9, x0\n"
    "    mov x0, sp\n"
    "    mov x1, x20\n"
    "    blr x9\n"
    "    cbz x0, 1f\n"
    "    mov sp, x0\n"
    "    mov x1, x20\n"
    "    blr x19\n"
    "1:\n"
    "    ldr x9, [sp, #160]\n"
    "    msr fpcr, x9\n"
    "    ldp d14, d15, [sp, #144]\n"
    "    ldp d12, d13, [sp, #128]\n"
    "    ldp d10, d11, [sp, #112]\n"
    "    ldp d8, d9, [sp, #96]\n"
    "    ldp x27, x28, [sp, #80]\n"
    "    ldp x25, x26, [sp, #64]\n"
    "    ldp x23, x24, [sp, #48]\n"
    "    ldp x21, x22, [sp, #32]\n"
    "    ldp x19, x20, [sp, #16]\n"
    "    ldp x29, x30, [sp], #176\n"
    "    ret\n"
    "    .cfi_endproc\n"
    ".size gcffi_slp_switch, .-gcffi_slp_switch\n"
);
