/*
 * sysarch's ring-3 code: one entry per test. Each sets up what the kernel will look for (DF and
 * AC set, its RSP copied into RBX), executes the instruction under test at a label the kernel
 * knows, and ends with the observation UD2. A return to the wrong place reaches a differently
 * labelled observation, which the kernel's RIP check reports.
 */
#include "guests/sysarch/sysarch.h"

/* AC can be set from CPL 3 with POPF; with CR0.AM clear it changes nothing but RFLAGS. */
.macro SET_DF_AC
	std
	pushfq
	orq	$X86_RFLAGS_AC, (%rsp)
	popfq
.endm

.macro OBSERVE label
	movq	%rax, %rsi
	movl	$SYSARCH_SYS_OBSERVE, %eax
	.globl	\label
\label:
	ud2
.endm

	.section .user.text, "ax"

	.globl	sysarch_user_int80
sysarch_user_int80:
	SET_DF_AC
	movq	%rsp, %rbx
	.globl	sysarch_int80_insn
sysarch_int80_insn:
	int	$SYSARCH_INT_VEC
	.globl	sysarch_int80_next
sysarch_int80_next:
	OBSERVE	sysarch_int80_not_redirected
	.globl	sysarch_int80_landing
sysarch_int80_landing:
	OBSERVE	sysarch_int80_observe

	.globl	sysarch_user_int_dpl0
sysarch_user_int_dpl0:
	.globl	sysarch_int_dpl0_insn
sysarch_int_dpl0_insn:
	int	$SYSARCH_INT_DPL0_VEC
	OBSERVE	sysarch_int_dpl0_returned

	.globl	sysarch_user_syscall
sysarch_user_syscall:
	SET_DF_AC
	movq	%rsp, %rbx
	.globl	sysarch_syscall_insn
sysarch_syscall_insn:
	syscall
	.globl	sysarch_syscall_next
sysarch_syscall_next:
	OBSERVE	sysarch_syscall_not_redirected
	.globl	sysarch_sysret_landing
sysarch_sysret_landing:
	OBSERVE	sysarch_sysret_observe

	.section .note.GNU-stack, "", @progbits
