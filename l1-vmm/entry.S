/*
 * The world switch between nbvmm (ring 0) and its guest (ring 3): the software half of VMRUN
 * and #VMEXIT. nbvmm_world_switch loads the guest's registers from its frame and IRETQs to
 * ring 3; any trap or interrupt from ring 3 lands in the frame (TSS.RSP0 points at its end),
 * the entry stub saves the general registers into it and returns from nbvmm_world_switch.
 * Every instruction here runs emulated on these machines (PLATFORM.md): keep it short.
 */
#include "l1-vmm/layout.h"

/* The general registers in struct nbvmm_frame's order (frame.h): RAX at the highest address. */
.macro SAVE_GPRS
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%rbp
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
.endm
.macro RESTORE_GPRS
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rbp
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rbx
	pop	%rax
.endm


	.text
	.globl	nbvmm_world_switch
nbvmm_world_switch:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, nbvmm_host_rsp(%rip)
	mov	%rdi, %rsp
	RESTORE_GPRS
	add	$16, %rsp		/* vector, error code */
	iretq

/* One 16-byte stub per vector; vectors with an architectural error code skip the dummy push. */
	.balign	16
	.globl	nbvmm_trap_stubs
nbvmm_trap_stubs:
	vec = 0
	.rept	256
	.balign	16
	.if !((vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30))
	push	$0
	.endif
	.if vec < 128
	.byte	0x6a, vec		/* push imm8 */
	.else
	.byte	0x68			/* push imm32, zero-extended by the and below */
	.long	vec
	.endif
	jmp	trap_common
	vec = vec + 1
	.endr

trap_common:
	/* A guest may trap with RFLAGS.DF set (interrupt gates do not clear it); nbvmm's C code,
	 * and its REP MOVS/STOS, need the ABI's DF = 0. The guest's DF is in the frame. */
	cld
	testb	$3, 24(%rsp)		/* CS of the interrupted code: vector, error, RIP, CS */
	jz	trap_from_nbvmm
	SAVE_GPRS
	mov	nbvmm_host_rsp(%rip), %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	ret

/* nbvmm itself trapped (a bug, or an interrupt while in ring 0): the same frame shape on the
 * current stack, handed to C. */
trap_from_nbvmm:
	SAVE_GPRS
	mov	%rsp, %rdi
	call	nbvmm_host_trap
	RESTORE_GPRS
	add	$16, %rsp
	iretq

/*
 * void nbvmm_svm_world_switch(struct nbvmm_frame *f, uint64_t vmcb_pa): the hardware VMRUN
 * engine's entry and exit (svm_engine.c). VMRUN switches RAX, RSP, RIP and RFLAGS itself (APM
 * vol. 2, 15.5.1); the other general registers are the guest's only while it runs, so they are
 * loaded from the frame before and stored back after.
 */
	.globl	nbvmm_svm_world_switch
nbvmm_svm_world_switch:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	push	%rdi			/* the frame */
	mov	%rsi, %rax
	mov	104(%rdi), %rbx
	mov	96(%rdi), %rcx
	mov	88(%rdi), %rdx
	mov	80(%rdi), %rsi
	mov	64(%rdi), %rbp
	mov	56(%rdi), %r8
	mov	48(%rdi), %r9
	mov	40(%rdi), %r10
	mov	32(%rdi), %r11
	mov	24(%rdi), %r12
	mov	16(%rdi), %r13
	mov	8(%rdi), %r14
	mov	0(%rdi), %r15
	mov	72(%rdi), %rdi
	vmrun	%rax
	push	%rdi
	mov	8(%rsp), %rdi		/* the frame */
	mov	%rbx, 104(%rdi)
	mov	%rcx, 96(%rdi)
	mov	%rdx, 88(%rdi)
	mov	%rsi, 80(%rdi)
	mov	%rbp, 64(%rdi)
	mov	%r8, 56(%rdi)
	mov	%r9, 48(%rdi)
	mov	%r10, 40(%rdi)
	mov	%r11, 32(%rdi)
	mov	%r12, 24(%rdi)
	mov	%r13, 16(%rdi)
	mov	%r14, 8(%rdi)
	mov	%r15, 0(%rdi)
	pop	%rsi
	mov	%rsi, 72(%rdi)		/* the guest's RDI */
	pop	%rdi
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	ret

/*
 * int nbvmm_wrmsr_safe(uint32_t msr, uint64_t value): 0, or -1 when the host refuses the MSR
 * (#GP). nbvmm_host_trap sends a #GP at nbvmm_wrmsr_safe_insn to nbvmm_wrmsr_safe_fault, so a
 * guest's MSR write that nbvmm passes through can never bring nbvmm down.
 */
	.globl	nbvmm_wrmsr_safe, nbvmm_wrmsr_safe_insn, nbvmm_wrmsr_safe_fault
nbvmm_wrmsr_safe:
	mov	%edi, %ecx
	mov	%rsi, %rax
	mov	%rsi, %rdx
	shr	$32, %rdx
nbvmm_wrmsr_safe_insn:
	wrmsr
	xor	%eax, %eax
	ret
nbvmm_wrmsr_safe_fault:
	mov	$-1, %eax
	ret

	.bss
	.balign	8
nbvmm_host_rsp:
	.quad	0

	.section .note.GNU-stack, "", @progbits
