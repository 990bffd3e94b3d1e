/*
 * sysarch's SYSCALL entry (IA32_LSTAR). SYSCALL (SDM Vol. 2B) loads CS and SS from STAR[47:32],
 * saves RIP in RCX and RFLAGS in R11, clears the SFMASK bits and does not touch RSP: the kernel
 * must move to a stack of its own before it pushes anything. It records what it found, lets a
 * ring-0 UD2 show its CS, SS and RFLAGS in a trap frame (reading CS or SS directly is not
 * virtualized by a deprivileging hypervisor, a trap frame is), and returns with SYSRET.
 */
#include "guests/sysarch/sysarch.h"

	.text
	.globl	sysarch_lstar
	.type	sysarch_lstar, @function
sysarch_lstar:
	/* If SYSCALL left the CPU at CPL 3 (PVM at depth 1, shared/PLATFORM.md), fetching this
	 * supervisor page already raises #PF with RIP = LSTAR: nothing here runs. */
	movq	%rsp, sysarch_sc_user_rsp(%rip)
	leaq	sc_stack_top(%rip), %rsp
	movq	%rcx, sysarch_sc_rcx(%rip)
	movq	%r11, sysarch_sc_r11(%rip)
	movq	%rbx, sysarch_sc_rbx(%rip)
	.globl	sysarch_lstar_probe
sysarch_lstar_probe:
	ud2
	/* SYSRET: RIP from RCX, RFLAGS from R11, CS and SS from STAR[63:48] with RPL 3; RSP is
	 * the kernel's to restore. Return elsewhere, with AC cleared, to see each one used. */
	leaq	sysarch_sysret_landing(%rip), %rcx
	movq	sysarch_sc_r11(%rip), %r11
	andq	$~X86_RFLAGS_AC, %r11
	movl	$SYSARCH_SYSRET_RAX, %eax
	movq	sysarch_sc_user_rsp(%rip), %rsp
	sysretq
	.size	sysarch_lstar, . - sysarch_lstar

	.bss
	.balign	8
	.globl	sysarch_sc_user_rsp, sysarch_sc_rcx, sysarch_sc_r11, sysarch_sc_rbx
sysarch_sc_user_rsp:
	.quad	0
sysarch_sc_rcx:
	.quad	0
sysarch_sc_r11:
	.quad	0
sysarch_sc_rbx:
	.quad	0

	.section .stack, "aw", @nobits
	.balign	16
	.space	4096
sc_stack_top:

	.section .note.GNU-stack, "", @progbits
