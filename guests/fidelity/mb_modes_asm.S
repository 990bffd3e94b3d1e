/*
 * mb-modes' 64-bit excursion. Called from compatibility mode (IA-32e mode with a 32-bit code
 * segment); a far jump to a code segment with L = 1 enters 64-bit mode, a far return to the
 * 32-bit code segment leaves it (SDM Vol. 3A 9.8.5, 5.2.1 for CS.L/CS.D).
 */
#include "guests/fidelity/mb32.h"
#include "guests/fidelity/mb_modes.h"

	.text
	.code32
/* The same bytes decode differently by mode: see mb_modes.h. */
	.globl	modes_rex_probe
	.type	modes_rex_probe, @function
modes_rex_probe:
	.byte	0xb8, 5, 0, 0, 0	/* mov $5, %eax */
	.byte	0x48			/* 64-bit mode: REX.W; otherwise DEC EAX */
	.byte	0x90			/* nop */
	.byte	0xc3			/* ret (near, in either mode) */
	.size	modes_rex_probe, . - modes_rex_probe

/* void modes_run64(uint32_t known_frame) */
	.globl	modes_run64
	.type	modes_run64, @function
modes_run64:
	pushl	%ebx
	pushl	%esi
	pushl	%edi
	pushl	%ebp
	movl	20(%esp), %esi
	ljmp	$MB32_SEL_CODE64, $1f

	.code64
	/* The upper halves of the registers are undefined on entry to 64-bit mode from
	 * compatibility mode (SDM Vol. 1 3.4.1.1): make RSP and RSI the 32-bit values. */
1:	movl	%esp, %esp
	movl	%esi, %esi
	movq	$-1, %rax
	shrq	$32, %rax
	movl	%eax, modes64 + MODES64_REG_HIGH(%rip)
	call	modes_rex_probe
	movl	%eax, modes64 + MODES64_REX(%rip)
	movabsq	$MODES_ALIAS_HIGH, %rax
	addq	%rsi, %rax
	movl	(%rax), %eax
	movl	%eax, modes64 + MODES64_HIGH_READ(%rip)
	movl	$1, modes64 + MODES64_DONE(%rip)
	/* LRET pops RIP then CS, 8 bytes each with REX.W. (A 32-bit object has no relocation for
	 * PUSHQ's sign-extended immediate: the address goes through EAX, zero-extended.) */
	pushq	$MB32_SEL_CODE32
	movl	$2f, %eax
	pushq	%rax
	lretq

	.code32
2:	popl	%ebp
	popl	%edi
	popl	%esi
	popl	%ebx
	ret
	.size	modes_run64, . - modes_run64

	.section .note.GNU-stack, "", @progbits
