/*
 * The faulting instructions of the 64-bit exceptions kernel, each at a label the C side
 * compares the saved RIP with. Kernel cases (exc_k_*) are called inside an nb_try; before the
 * instruction they set CF and DF and record RSP, so the frame the CPU pushes can be checked
 * against what the state really was. User cases (exc_u_*) run at CPL 3 from
 * fid_run_user and end at a trap either way.
 *
 * No INT3 or INT n in ring 0: directly under L0 on PVM, KVM's emulator cannot execute them and
 * stops the VM (emulation failure), so INT3 is checked from ring 3 only, and INT n through
 * gates is guests/sysarch's.
 */
#include "guests/lib/x86.h"
#include "guests/fidelity/exceptions.h"
#include "guests/fidelity/fid_asm.h"

/*
 * Flags to find again in the saved RFLAGS (CF and DF; IF stays clear, as the kernel never sets
 * it), and RSP as it is at the fault. The flags are not read back with PUSHF: in a guest run
 * deprivileged, PUSHF shows the real IF, which is not what the frame must hold.
 */
.macro BEFORE
	std
	stc
	movq	%rsp, exc_rsp_before(%rip)
.endm

	.text
/* #DE: DIV by zero is a fault, RIP at the DIV (SDM Vol. 3A 6.15, interrupt 0). */
FUNC exc_k_de
	xorl	%edx, %edx
	movl	$1, %eax
	xorl	%ecx, %ecx
	BEFORE
LABEL exc_k_de_insn
	divl	%ecx
	ret

/* #UD from UD2; called with RSP = 8 mod 16, so the CPU must align the frame down by 8. */
FUNC exc_k_ud
	BEFORE
LABEL exc_k_ud_insn
	ud2
	ret

/* The same with RSP already 16-byte aligned: the frame starts right below it. */
FUNC exc_k_ud_aligned
	pushq	$0
	BEFORE
LABEL exc_k_ud_aligned_insn
	ud2
	popq	%rax
	ret

/* INTO (0xCE) is invalid in 64-bit mode: #UD, even with OF set (SDM Vol. 2A INTO). */
FUNC exc_k_into
	movl	$0x7fffffff, %eax
	addl	$1, %eax	/* OF = 1 */
	BEFORE
LABEL exc_k_into_insn
	.byte	0xce
	ret

/* MOV to DS with a selector past the GDT limit: #GP(selector), RPL dropped from the error
 * code (SDM Vol. 2B MOV; Vol. 3A 6.13 error-code format). */
FUNC exc_k_gp_sel
	movl	$EXC_BAD_SELECTOR, %eax
	BEFORE
LABEL exc_k_gp_sel_insn
	movl	%eax, %ds
	ret

/* A non-canonical data address: #GP(0) (SDM Vol. 3A 3.3.7.1). */
FUNC exc_k_gp_noncanon
	movabsq	$EXC_NONCANONICAL, %rax
	BEFORE
LABEL exc_k_gp_noncanon_insn
	movq	(%rax), %rax
	ret

/* The same through RBP, which addresses the stack segment: #SS(0). */
FUNC exc_k_ss_noncanon
	movabsq	$EXC_NONCANONICAL, %rbp
	BEFORE
LABEL exc_k_ss_noncanon_insn
	movq	(%rbp), %rax
	ret

/* #PF reading and writing a not-present page, and fetching from one: then RIP = CR2 = the
 * target (SDM Vol. 3A 4.7). */
FUNC exc_k_pf_read
	movl	$EXC_PF_READ_ADDR, %eax
	BEFORE
LABEL exc_k_pf_read_insn
	movq	(%rax), %rax
	ret

FUNC exc_k_pf_write
	movl	$EXC_PF_WRITE_ADDR, %eax
	BEFORE
LABEL exc_k_pf_write_insn
	movq	%rax, (%rax)
	ret

FUNC exc_k_pf_fetch
	movl	$EXC_PF_FETCH_ADDR, %eax
	BEFORE
	jmpq	*%rax

/* Ring 3. RBX = RSP at the instruction, for the frame check. */
	.section .user.text, "ax"

/* CLI, HLT, MOV from CR0 and OUT at CPL 3 with IOPL 0: #GP(0) (SDM Vol. 2A CLI, HLT; Vol. 3A
 * 5.9; Vol. 1 19.5.1). */
FUNC exc_u_cli
	movq	%rsp, %rbx
LABEL exc_u_cli_insn
	cli
	ud2

FUNC exc_u_hlt
	movq	%rsp, %rbx
LABEL exc_u_hlt_insn
	hlt
	ud2

FUNC exc_u_mov_cr0
	movq	%rsp, %rbx
LABEL exc_u_mov_cr0_insn
	movq	%cr0, %rax
	ud2

FUNC exc_u_out
	movq	%rsp, %rbx
LABEL exc_u_out_insn
	outb	%al, $0x80
	ud2

/* A DPL-0 data segment loaded at CPL 3: #GP(selector) (SDM Vol. 2B MOV). */
FUNC exc_u_load_kdata
	movq	%rsp, %rbx
	movl	$EXC_KERNEL_DATA_SEL, %eax
LABEL exc_u_load_kdata_insn
	movl	%eax, %ds
	ud2

FUNC exc_u_ud2
	movq	%rsp, %rbx
LABEL exc_u_ud2_insn
	ud2

/* INT3 through a DPL-3 gate: #BP at CPL 0, RIP after the INT3. */
FUNC exc_u_int3
	movq	%rsp, %rbx
	int3
LABEL exc_u_int3_next
	ud2

/* Reading a supervisor page (RDI) at CPL 3: #PF with P and U (SDM Vol. 3A 4.6, 4.7). */
FUNC exc_u_read
	movq	%rsp, %rbx
LABEL exc_u_read_insn
	movq	(%rdi), %rax
	ud2

/*
 * POPF setting TF: the single-step trap comes after the instruction that follows the POPF,
 * not after the POPF (SDM Vol. 3A 18.3.1.4), with DR6.BS set.
 */
FUNC exc_u_single_step
	movq	%rsp, %rbx
	pushfq
	orq	$X86_RFLAGS_TF, (%rsp)
	popfq
	nop
LABEL exc_u_single_step_next
	nop
	ud2

/* A misaligned load at CPL 3 with RFLAGS.AC set: #AC(0) if CR0.AM is set, else nothing (SDM
 * Vol. 3A 6.15, interrupt 17). */
FUNC exc_u_misaligned
	movq	%rsp, %rbx
	pushfq
	orq	$X86_RFLAGS_AC, (%rsp)
	popfq
LABEL exc_u_misaligned_insn
	movq	1(%rsp), %rax
LABEL exc_u_misaligned_next
	ud2

	.bss
	.balign	8
	.globl	exc_rsp_before
exc_rsp_before:
	.quad	0

	.section .note.GNU-stack, "", @progbits
