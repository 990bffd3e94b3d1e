/*
 * The faulting instructions of mb-exceptions, each at a label the C side compares the saved
 * EIP with. Ring-0 cases (mbx_k_*) are called inside an mb32_try; before the instruction they
 * set CF and DF and record ESP, so the frame can be checked against what the state was. Ring-3
 * cases (mbx_u_*) run from mb32_run_user with EBX = ESP at the instruction.
 */
#include "guests/fidelity/mb32.h"
#include "guests/fidelity/mb_exceptions.h"
#include "guests/fidelity/fid_asm.h"

.macro BEFORE
	std
	stc
	movl	%esp, mbx_esp_before
.endm

	.text
	.code32
/* #DE: a fault, EIP at the DIV (SDM Vol. 3A 6.15, interrupt 0). */
FUNC mbx_k_de
	xorl	%edx, %edx
	movl	$1, %eax
	xorl	%ecx, %ecx
	BEFORE
LABEL mbx_k_de_insn
	divl	%ecx
	ret

FUNC mbx_k_ud
	BEFORE
LABEL mbx_k_ud_insn
	ud2
	ret

/* MOV DS with a selector past the GDT limit: #GP(selector without RPL) (SDM Vol. 2B MOV). */
FUNC mbx_k_gp_sel
	movl	$MBX_BAD_SELECTOR, %eax
	BEFORE
LABEL mbx_k_gp_sel_insn
	movl	%eax, %ds
	ret

/* A read past a data segment's limit: #GP(0) (SDM Vol. 3A 5.3). */
FUNC mbx_k_gp_limit
	movl	$MB32_SEL_SMALL, %eax
	movl	%eax, %es
	BEFORE
LABEL mbx_k_gp_limit_insn
	movl	%es:MBX_PAST_SMALL_LIMIT, %eax
	movl	$MB32_SEL_DATA, %eax
	movl	%eax, %es
	ret

/* A not-present data segment: #NP(selector) into DS, #SS(selector) into SS (SDM Vol. 2B MOV). */
FUNC mbx_k_np
	movl	$MB32_SEL_ABSENT, %eax
	BEFORE
LABEL mbx_k_np_insn
	movl	%eax, %ds
	ret

FUNC mbx_k_ss
	movl	$MB32_SEL_ABSENT, %eax
	BEFORE
LABEL mbx_k_ss_insn
	movl	%eax, %ss
	ret

/* #PF with paging on: read and write of a not-present page, write of a read-only one. */
FUNC mbx_k_pf_read
	movl	$MBX_PF_ABSENT, %eax
	BEFORE
LABEL mbx_k_pf_read_insn
	movl	(%eax), %eax
	ret

FUNC mbx_k_pf_write
	movl	$MBX_PF_ABSENT, %eax
	BEFORE
LABEL mbx_k_pf_write_insn
	movl	%eax, (%eax)
	ret

FUNC mbx_k_pf_write_ro
	movl	$MBX_PF_READONLY, %eax
	BEFORE
LABEL mbx_k_pf_write_ro_insn
	movl	%eax, (%eax)
	ret

/* Ring 3: EBX = ESP at the instruction. Each ends at a trap. */
FUNC mbx_u_int3
	movl	%esp, %ebx
	int3
LABEL mbx_u_int3_next
	ud2

/* INTO with OF clear does nothing; with OF set it is #OF, a trap (SDM Vol. 2A INTO). */
FUNC mbx_u_into
	movl	%esp, %ebx
	xorl	%eax, %eax	/* OF = 0 */
	into
	movl	$0x7fffffff, %eax
	addl	$1, %eax	/* OF = 1 */
	into
LABEL mbx_u_into_next
	ud2

/* BOUND within the bounds does nothing; outside, #BR, a fault (SDM Vol. 2A BOUND). */
FUNC mbx_u_bound
	movl	%esp, %ebx
	movl	$MBX_BOUND_LOW, %eax
	bound	%eax, mbx_bounds
	movl	$MBX_BOUND_HIGH + 1, %eax
LABEL mbx_u_bound_insn
	bound	%eax, mbx_bounds
	ud2

/* CLI at CPL 3 with IOPL 0: #GP(0). */
FUNC mbx_u_cli
	movl	%esp, %ebx
LABEL mbx_u_cli_insn
	cli
	ud2

FUNC mbx_u_ud2
	movl	%esp, %ebx
LABEL mbx_u_ud2_insn
	ud2

	.section .rodata, "a"
	.balign	8
mbx_bounds:
	.long	MBX_BOUND_LOW, MBX_BOUND_HIGH

	.bss
	.balign	4
	.globl	mbx_esp_before
mbx_esp_before:
	.long	0

	.section .note.GNU-stack, "", @progbits
