/*
 * Entry of every 64-bit guest kernel on the nestbed boot protocol (include/nestbed/boot.h):
 * long mode, CPL 0, interrupts off, RDI = boot info. Runs kmain(bi) on the kernel's own stack
 * and exits through the exit hypercall with kmain's return value.
 */
	.section .text.start, "ax"
	.globl	_start
	.type	_start, @function
_start:
	/* The boot stack lives in the reserved low area, which the kernel may reuse: leave it. */
	lea	nb_stack_top(%rip), %rsp
	xor	%ebp, %ebp
	/* REP STOS needs RDI; keep the boot info pointer in a callee-saved register. */
	mov	%rdi, %rbx
	/* Clear .bss ourselves rather than trust every loader at every level to have done it.
	 * Quadwords, as each iteration is emulated in ring 0 (kernel64.ld aligns both ends). */
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	shr	$3, %rcx
	xor	%eax, %eax
	cld
	rep stosq
	mov	%rbx, %rdi
	call	kmain
	mov	%eax, %edi
	call	nb_hc_exit
	.size	_start, . - _start

	/* NOBITS and outside [__bss_start, __bss_end): a stack needs no clearing. */
	.section .stack, "aw", @nobits
	.balign	16
	.space	16384
nb_stack_top:

	.section .note.GNU-stack, "", @progbits
