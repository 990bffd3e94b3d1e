/*
 * ptest's trouble program (ring 3): four faults the kernel must handle, in order. Before each
 * of the first three it names, with SYS_ONFAULT, where to resume, and counts the steps it got
 * past at PTEST_TROUBLE_STEPS; the fourth (HLT) it leaves unhandled, so the kernel kills it.
 * Assembly, because the kernel checks each fault's RIP against these labels.
 */
#include "guests/ptest/abi.h"

.macro ONFAULT resume
	leaq	\resume(%rip), %rdi
	movl	$PTEST_SYS_ONFAULT, %eax
	ud2
.endm

.macro STEP_DONE
	movabsq	$PTEST_TROUBLE_STEPS, %rdx
	incq	(%rdx)
.endm

	.section .user.text, "ax"
	.globl	ptest_trouble
	.type	ptest_trouble, @function
ptest_trouble:
	/* A kernel page from CPL 3: present but supervisor, so #PF with P|U (SDM Vol. 3A 4.6). */
	ONFAULT	1f
	.globl	ptest_trouble_read_kernel
ptest_trouble_read_kernel:
	movq	ptest_kernel_secret(%rip), %rax
1:	STEP_DONE

	/* Outside every region the kernel maps: #PF with U|W, not present. */
	ONFAULT	1f
	movabsq	$PTEST_USER_WILD, %rdx
	.globl	ptest_trouble_write_wild
ptest_trouble_write_wild:
	movq	$1, (%rdx)
1:	STEP_DONE

	/* Division by zero: #DE at the DIV, no error code. */
	ONFAULT	1f
	movl	$7, %eax
	xorl	%edx, %edx
	xorl	%ecx, %ecx
	.globl	ptest_trouble_div
ptest_trouble_div:
	divq	%rcx
1:	STEP_DONE

	/* HLT is privileged: #GP(0) at CPL 3. No ONFAULT, so this is the end. */
	.globl	ptest_trouble_hlt
ptest_trouble_hlt:
	hlt
	/* Only if HLT did not fault: exit with a status the kernel reports as wrong. */
	movl	$1, %edi
	movl	$PTEST_SYS_EXIT, %eax
	ud2
	.size	ptest_trouble, . - ptest_trouble

	.section .note.GNU-stack, "", @progbits
