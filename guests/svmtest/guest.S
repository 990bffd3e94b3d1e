/*
 * The guests svmtest runs with VMRUN: short straight-line pieces of 64-bit code at CPL 0, each
 * doing what one check intercepts, labelled where the checks expect a #VMEXIT's RIP or nRIP
 * (guest.h). None loops, and each ends with a VMMCALL, which the hypervisor intercepts: a guest
 * cannot keep the CPU from its hypervisor. Results the hypervisor checks come back in
 * registers (R8-R11 mostly), which also checks that it saves and restores the guest's registers.
 */
#include "guests/fidelity/fid_asm.h"
#include "guests/svmtest/guest.h"

	.text

/* Registers: a VMMCALL with what the hypervisor put in every register, then every register
 * complemented (RSP moved down) and a second VMMCALL. */
FUNC svt_g_regs
LABEL svt_g_regs_call1
	vmmcall
	notq	%rax
	notq	%rbx
	notq	%rcx
	notq	%rdx
	notq	%rsi
	notq	%rdi
	notq	%rbp
	notq	%r8
	notq	%r9
	notq	%r10
	notq	%r11
	notq	%r12
	notq	%r13
	notq	%r14
	notq	%r15
	subq	$SVT_G_REGS_RSP_MOVE, %rsp
LABEL svt_g_regs_call2
	vmmcall

/* A marker that says the guest ran, then VMMCALL (3 bytes: 0F 01 D9). */
FUNC svt_g_marker
	movq	$1, svt_guest_ran(%rip)
LABEL svt_g_marker_vmmcall
	vmmcall
LABEL svt_g_marker_end
	vmmcall

/* CPUID (0F A2, 2 bytes) of a leaf the hypervisor answers itself; the answer into R8-R11. */
FUNC svt_g_cpuid
	movl	$SVT_G_CPUID_LEAF, %eax
	xorl	%ecx, %ecx
LABEL svt_g_cpuid_insn
	cpuid
LABEL svt_g_cpuid_next
	movq	%rax, %r8
	movq	%rbx, %r9
	movq	%rcx, %r10
	movq	%rdx, %r11
	vmmcall

/* HLT (F4, 1 byte): intercepted, so the guest never actually halts. */
FUNC svt_g_hlt
LABEL svt_g_hlt_insn
	hlt
LABEL svt_g_hlt_next
	vmmcall

/* Port I/O: an OUT to a port the I/O permission map lets through, a 16-bit OUT and a 32-bit IN
 * to ports it intercepts; what the IN read into R8. */
FUNC svt_g_ioio
	movb	$0x5a, %al
	outb	%al, $SVT_G_PORT_FREE
	movw	$SVT_G_PORT_OUT, %dx
	movw	$SVT_G_OUT_VALUE, %ax
LABEL svt_g_ioio_out
	outw	%ax, %dx
LABEL svt_g_ioio_out_next
	movw	$SVT_G_PORT_IN, %dx
LABEL svt_g_ioio_in
	inl	%dx, %eax
LABEL svt_g_ioio_in_next
	movq	%rax, %r8
	vmmcall

/* MSRs: RDMSR of SYSENTER_CS, which the MSR permission map lets through, into R8; RDMSR (into
 * R9 and R10) and WRMSR of SYSENTER_ESP, which it intercepts. RDMSR and WRMSR are 2 bytes. */
FUNC svt_g_msr
	movl	$SVT_G_MSR_FREE, %ecx
	rdmsr
	movq	%rax, %r8
	movl	$SVT_G_MSR_TRAPPED, %ecx
LABEL svt_g_msr_rd
	rdmsr
LABEL svt_g_msr_rd_next
	movq	%rax, %r9
	movq	%rdx, %r10
	movl	$SVT_G_MSR_LOW, %eax
	movl	$SVT_G_MSR_HIGH, %edx
LABEL svt_g_msr_wr
	wrmsr
LABEL svt_g_msr_wr_next
	vmmcall

/* Control registers: MOV from CR3 into RBX (intercepted), MOV from CR0 (not intercepted) and
 * back into CR0 (intercepted). Each MOV is 3 bytes (0F 20 DB, 0F 22 C0). */
FUNC svt_g_cr
LABEL svt_g_cr3_read
	movq	%cr3, %rbx
LABEL svt_g_cr3_read_next
	movq	%cr0, %rax
LABEL svt_g_cr0_write
	movq	%rax, %cr0
LABEL svt_g_cr0_write_next
	vmmcall

/* Exceptions: UD2 (2 bytes), then a write to an address this kernel's page tables leave
 * unmapped. The hypervisor skips both. */
FUNC svt_g_exc
LABEL svt_g_exc_ud
	ud2
LABEL svt_g_exc_ud_next
	movabsq	$SVT_G_PF_ADDR, %rbx
LABEL svt_g_exc_pf
	movq	$1, (%rbx)
LABEL svt_g_exc_pf_next
	vmmcall

/* Nested paging: RBX = a page nCR3 leaves unmapped, RCX = a page it maps read-only (their
 * guest-physical and virtual addresses are equal). A read of the first into R8, of the
 * second into R9, then a write to the second. */
FUNC svt_g_npf
LABEL svt_g_npf_read
	movq	SVT_G_NPF_OFFSET(%rbx), %r8
	movq	(%rcx), %r9
LABEL svt_g_npf_write
	movq	$SVT_G_NPF_WRITTEN, (%rcx)
	vmmcall

/* Event injection: the hypervisor injects an event as VMRUN enters the guest here; the
 * guest's handler (below) takes it and returns here, to a VMMCALL. */
FUNC svt_g_inject
LABEL svt_g_inject_site
	vmmcall

/* The guest's IDT handlers: R8 = the vector, R9 = the error code (0 if none), R10 = the RIP the
 * event pushed; then back to where the event came. */
FUNC svt_g_gp_handler
	movl	$13, %r8d
	popq	%r9
	movq	(%rsp), %r10
	iretq

FUNC svt_g_soft_handler
	movl	$SVT_G_SOFT_VECTOR, %r8d
	xorl	%r9d, %r9d
	movq	(%rsp), %r10
	iretq

	.section .note.GNU-stack, "", @progbits
