/*
 * The fpu kernel's ring-3 code: FPU and SSE run natively there at every depth (in ring 0,
 * directly under L0 on PVM, KVM's emulator would have to run them, and it knows few).
 * fpuu_run loads known x87, MXCSR and XMM state, takes FPU_ROUNDS rounds of four traps the
 * kernel resumes from, and falls into fpuu_store, which writes the state to the results page
 * (RDI) and ends with the done UD2.
 */
#include "guests/fidelity/fpu.h"

	.section .user.rodata, "a"
	.balign	16
	.globl	fpu_xmm_pattern, fpu_x87_values
fpu_xmm_pattern:
	i = 0
	.rept	FPU_XMM_REGS
	.quad	0x0123456789abcdef + i * 0x1111111111111111, 0xfedcba9876543210 - i * 0x0101010101010101
	i = i + 1
	.endr
fpu_x87_values:
	.quad	1, -2, 3000000000, -4000000000000, 0x1234567890, 6, -7, 0x7fffffffffff
fpu_cw:
	.word	FPU_CW
	.balign	4
fpu_mxcsr:
	.long	FPU_MXCSR

	.section .user.text, "ax"

/* void fpuu_run(results *rdi, rounds rsi, unmapped address rdx) */
	.globl	fpuu_run
fpuu_run:
	fninit
	fldcw	fpu_cw(%rip)
	ldmxcsr	fpu_mxcsr(%rip)
	i = 0
	.rept	FPU_X87_REGS
	fildq	fpu_x87_values + 8 * i(%rip)
	i = i + 1
	.endr
	.irp	r, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	movdqa	fpu_xmm_pattern + 16 * \r(%rip), %xmm\r
	.endr
	movq	%rsi, %rcx
1:	movl	$FPU_TRAP_MAGIC, %eax
	ud2				/* #UD: a fault, resumed 2 bytes on */
	movl	$FPU_TRAP_MAGIC, %eax
	outb	%al, $0x80		/* #GP at IOPL 0: resumed 2 bytes on */
	movl	$FPU_TRAP_MAGIC, %eax
	int3				/* #BP: a trap, resumed where it points */
	movl	$FPU_TRAP_MAGIC, %eax
	movq	(%rdx), %r8		/* #PF: resumed 3 bytes on */
	decq	%rcx
	jnz	1b
	/* fall through */

/* Stores the state as it is now; ST0 first, as FISTP pops. */
	.globl	fpuu_store
fpuu_store:
	fnstcw	FPU_RES_CW(%rdi)
	stmxcsr	FPU_RES_MXCSR(%rdi)
	i = 0
	.rept	FPU_X87_REGS
	fistpq	FPU_RES_X87 + 8 * i(%rdi)
	i = i + 1
	.endr
	.irp	r, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	movdqu	%xmm\r, FPU_RES_XMM + 16 * \r(%rdi)
	.endr
	movl	$FPU_DONE_MAGIC, %eax
	ud2

/* One SSE instruction, for #NM with CR0.TS. */
	.globl	fpuu_sse, fpuu_sse_insn, fpuu_sse_done
fpuu_sse:
fpuu_sse_insn:
	pxor	%xmm0, %xmm0
fpuu_sse_done:
	movl	$FPU_DONE_MAGIC, %eax
	ud2

	.section .note.GNU-stack, "", @progbits
