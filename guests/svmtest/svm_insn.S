/*
 * The SVM instructions as functions (svm.h), and VMRUN as a world switch.
 *
 * Each wrapped instruction has an entry in a fix-up table: when it raises an exception, the trap
 * hook (svmtest.c) records the exception in svt_fault and resumes at the entry's fix-up label,
 * which makes the wrapper return 1. So a check can expect #UD or #GP from an SVM instruction
 * without the kernel dying of it, and can never confuse an exception with a #VMEXIT.
 */
#include "guests/fidelity/fid_asm.h"
#include "guests/svmtest/svm.h"

/* A fix-up: an exception at insn resumes at fixup. */
.macro FIXUP insn, fixup
	.pushsection .rodata.svt_fixups, "a"
	.quad	\insn, \fixup
	.popsection
.endm

	.pushsection .rodata.svt_fixups, "a"
	.balign	8
	.globl	svt_fixups
svt_fixups:
	.popsection

	.text

/*
 * int svt_vmrun(uint64_t vmcb_pa = RDI, struct svt_gprs *gprs = RSI)
 *
 * VMRUN saves part of the host's state in the host save area (VM_HSAVE_PA): RIP (the next
 * instruction), RSP, RAX, RFLAGS, CR0, CR3, CR4, EFER, GDTR, IDTR, ES, CS, SS, DS; it loads the
 * guest's from the VMCB, and #VMEXIT puts the host's back (APM vol. 2, §15.5.1 "Basic
 * Operation", §15.6 "#VMEXIT"). Every other general register is shared: the guest finds the
 * host's values in them and the host finds the guest's after the exit. So a hypervisor loads the
 * guest's registers itself just before VMRUN and saves them just after, keeping its own
 * callee-saved registers and the pointer to the register block on its stack. RAX is the
 * exception: after #VMEXIT it holds the host's (the VMCB address); the guest's RAX is in the
 * VMCB. RSP too is switched through the VMCB.
 */
FUNC svt_vmrun
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	pushq	%rsi
	movl	$0, vmrun_raised(%rip)
	movq	%rsp, svt_world_switch+SVT_WS_RSP_BEFORE(%rip)
	movq	%rdi, %rax
	movq	SVT_GPRS_RBX(%rsi), %rbx
	movq	SVT_GPRS_RCX(%rsi), %rcx
	movq	SVT_GPRS_RDX(%rsi), %rdx
	movq	SVT_GPRS_RDI(%rsi), %rdi
	movq	SVT_GPRS_RBP(%rsi), %rbp
	movq	SVT_GPRS_R8(%rsi), %r8
	movq	SVT_GPRS_R9(%rsi), %r9
	movq	SVT_GPRS_R10(%rsi), %r10
	movq	SVT_GPRS_R11(%rsi), %r11
	movq	SVT_GPRS_R12(%rsi), %r12
	movq	SVT_GPRS_R13(%rsi), %r13
	movq	SVT_GPRS_R14(%rsi), %r14
	movq	SVT_GPRS_R15(%rsi), %r15
	movq	SVT_GPRS_RSI(%rsi), %rsi
	/* Counted here and after: a #VMEXIT that resumed anywhere but after VMRUN (at VMRUN
	 * itself, say) would make the two counts differ. */
	incq	svt_world_switch+SVT_WS_ENTRIES(%rip)
1:	vmrun	%rax
2:	movq	%rsp, svt_world_switch+SVT_WS_RSP_AFTER(%rip)
	movq	%rax, svt_world_switch+SVT_WS_RAX_AFTER(%rip)
	incq	svt_world_switch+SVT_WS_RESUMES(%rip)
	/* Free RSI for the block's address, which is on the stack. */
	pushq	%rsi
	movq	8(%rsp), %rsi
	movq	%rbx, SVT_GPRS_RBX(%rsi)
	movq	%rcx, SVT_GPRS_RCX(%rsi)
	movq	%rdx, SVT_GPRS_RDX(%rsi)
	movq	%rdi, SVT_GPRS_RDI(%rsi)
	movq	%rbp, SVT_GPRS_RBP(%rsi)
	movq	%r8, SVT_GPRS_R8(%rsi)
	movq	%r9, SVT_GPRS_R9(%rsi)
	movq	%r10, SVT_GPRS_R10(%rsi)
	movq	%r11, SVT_GPRS_R11(%rsi)
	movq	%r12, SVT_GPRS_R12(%rsi)
	movq	%r13, SVT_GPRS_R13(%rsi)
	movq	%r14, SVT_GPRS_R14(%rsi)
	movq	%r15, SVT_GPRS_R15(%rsi)
	popq	SVT_GPRS_RSI(%rsi)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	movl	vmrun_raised(%rip), %eax
	ret
	/* VMRUN raised an exception (the guest never ran): the same way out, returning 1. */
3:	movl	$1, vmrun_raised(%rip)
	jmp	2b
	FIXUP	1b, 3b
	.size	svt_vmrun, . - svt_vmrun

/* A wrapper for an instruction that takes rAX: RDI goes to RAX, 0 or 1 comes back. */
.macro RAX_INSN name, insn
FUNC \name
	movq	%rdi, %rax
1:	\insn	%rax
	xorl	%eax, %eax
	ret
2:	movl	$1, %eax
	ret
	FIXUP	1b, 2b
	.size	\name, . - \name
.endm

/* VMLOAD loads, and VMSAVE stores, the state VMRUN leaves alone: FS, GS, TR and LDTR with their
 * hidden parts, KernelGsBase, STAR, LSTAR, CSTAR, SFMASK and the SYSENTER MSRs (§15.5.2). */
RAX_INSN svt_vmload, vmload
RAX_INSN svt_vmsave, vmsave

.macro PLAIN_INSN name, insn
FUNC \name
1:	\insn
	xorl	%eax, %eax
	ret
2:	movl	$1, %eax
	ret
	FIXUP	1b, 2b
	.size	\name, . - \name
.endm

PLAIN_INSN svt_stgi, stgi
PLAIN_INSN svt_clgi, clgi

/* int svt_rdmsr(uint32_t msr = EDI, uint64_t *value = RSI) */
FUNC svt_rdmsr
	movl	%edi, %ecx
1:	rdmsr
	shlq	$32, %rdx
	orq	%rdx, %rax
	movq	%rax, (%rsi)
	xorl	%eax, %eax
	ret
2:	movl	$1, %eax
	ret
	FIXUP	1b, 2b
	.size	svt_rdmsr, . - svt_rdmsr

/* int svt_wrmsr(uint32_t msr = EDI, uint64_t value = RSI) */
FUNC svt_wrmsr
	movl	%edi, %ecx
	movl	%esi, %eax
	movq	%rsi, %rdx
	shrq	$32, %rdx
1:	wrmsr
	xorl	%eax, %eax
	ret
2:	movl	$1, %eax
	ret
	FIXUP	1b, 2b
	.size	svt_wrmsr, . - svt_wrmsr

/* Ring 3: VMRUN is #GP(0) at CPL > 0 once EFER.SVME is set (APM vol. 3, VMRUN). The UD2 after
 * it would bring the kernel back if it did not fault. */
	.section .user.text, "ax"
FUNC svt_user_vmrun
	movq	%rdi, %rax
LABEL svt_user_vmrun_insn
	vmrun	%rax
	ud2
	.size	svt_user_vmrun, . - svt_user_vmrun

	.bss
	.balign	4
vmrun_raised:
	.long	0

	/* The end of the table, after every FIXUP above. */
	.pushsection .rodata.svt_fixups, "a"
	.globl	svt_fixups_end
svt_fixups_end:
	.popsection

	.section .note.GNU-stack, "", @progbits
