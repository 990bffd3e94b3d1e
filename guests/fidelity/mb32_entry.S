/*
 * Trap entry and the try landing of the 32-bit fidelity kernels (mb32.h).
 *
 * In 32-bit protected mode the CPU pushes EFLAGS, CS and EIP, and an error code for some
 * vectors; SS and ESP only when the trap changes privilege, after switching to the TSS's
 * SS0:ESP0. Nothing is aligned (SDM Vol. 3A 6.12.1). Each stub makes the frame uniform (a 0
 * where the CPU pushed no error code, then the vector) and the common path calls
 * mb32_trap(frame) with the kernel's data segments loaded.
 *
 * Nothing here returns with IRET: directly under L0 on PVM, 32-bit protected-mode code is run
 * by KVM's instruction emulator, which cannot execute a protected-mode IRET (emulation failure).
 * Every trap is expected inside an mb32_try and resumes at its landing, in ring 0, by a jump.
 */
#include "guests/fidelity/mb32.h"

/* #DF, #TS, #NP, #SS, #GP, #PF, #AC push an error code (SDM Vol. 3A 6.15). */
#define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17)

	.text
	.code32
	/* 32 stubs of 16 bytes: vector v's is at mb32_stubs + 16 * v. */
	.balign	16
	.globl	mb32_stubs
mb32_stubs:
	vec = 0
	.rept	32
	.balign	16
	.if	HAS_ERROR_CODE(vec)
	pushl	$vec
	.else
	pushl	$0
	pushl	$vec
	.endif
	jmp	trap_common
	vec = vec + 1
	.endr

trap_common:
	pushal
	movl	$MB32_SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	cld
	pushl	%esp
	call	mb32_trap	/* does not return */

/* int mb32_try(struct mb32_try *t): saves what its caller needs to resume, as setjmp does. */
	.globl	mb32_try
	.type	mb32_try, @function
mb32_try:
	movl	4(%esp), %eax
	movl	%ebx, 0(%eax)
	movl	%esi, 4(%eax)
	movl	%edi, 8(%eax)
	movl	%ebp, 12(%eax)
	leal	4(%esp), %ecx
	movl	%ecx, MB32_TRY_ESP(%eax)
	movl	(%esp), %ecx
	movl	%ecx, MB32_TRY_EIP(%eax)
	movl	%eax, mb32_try_current
	xorl	%eax, %eax
	ret
	.size	mb32_try, . - mb32_try

/* void mb32_try_resume(struct mb32_try *t): mb32_try returns again, with 1, on its own stack
 * (the trap's frame, wherever it is, is abandoned). */
	.globl	mb32_try_resume
	.type	mb32_try_resume, @function
mb32_try_resume:
	movl	4(%esp), %eax
	movl	0(%eax), %ebx
	movl	4(%eax), %esi
	movl	8(%eax), %edi
	movl	12(%eax), %ebp
	movl	MB32_TRY_ESP(%eax), %esp
	movl	MB32_TRY_EIP(%eax), %ecx
	movl	$1, %eax
	jmp	*%ecx
	.size	mb32_try_resume, . - mb32_try_resume

	.bss
	.balign	4
	.globl	mb32_try_current
mb32_try_current:
	.long	0

	/* The ring-0 stack for traps from ring 3 (TSS.ESP0). */
	.section .stack, "aw", @nobits
	.balign	16
	.space	4096
	.globl	mb32_trap_stack_top
mb32_trap_stack_top:

	.section .note.GNU-stack, "", @progbits
