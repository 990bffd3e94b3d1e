/*
 * nbvmm's entry from the boot protocol (include/nestbed/boot.h): long mode, CPL 0, the loader's
 * identity map, RDI = boot info (physical). nbvmm is a static PIE linked at its physical
 * addresses: this code runs there, picks this level's PML4 slot (512 - level), relocates
 * nbvmm's pointers to run from that slot, maps physical memory there, switches to its own page
 * tables and calls nbvmm_main(boot info, virtual) on nbvmm's stack. Everything here is
 * RIP-relative, so it runs correctly at either address.
 */
#include "l1-vmm/layout.h"

#define R_X86_64_RELATIVE 8
#define BOOT_INFO_LEVEL 32	/* offsetof(struct nb_boot_info, level) */
#define BOOT_INFO_MEM_SIZE 8	/* offsetof(struct nb_boot_info, mem_size) */

	.section .text.start, "ax"
	.code64
	.globl	_start
_start:
	mov	%rdi, %r12

	/* slot = 512 - level; its base = 0xffff800000000000 + (slot - 256) << 39 (canonical). */
	mov	BOOT_INFO_LEVEL(%r12), %ecx
	mov	$512, %r13d
	sub	%ecx, %r13d
	mov	%r13, %r14
	sub	$256, %r14
	shl	$39, %r14
	movabs	$0xffff800000000000, %rax
	add	%rax, %r14

	/* Clear .bss: every loader zeroes it today, but nbvmm must not depend on that. */
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	shr	$3, %rcx
	xor	%eax, %eax
	cld
	rep stosq

	/* Relocate: each R_X86_64_RELATIVE word becomes slot base + addend. Link addresses are
	 * physical and this code runs identity-mapped, so r_offset is where the word is now. */
	lea	__rela_start(%rip), %rsi
	lea	__rela_end(%rip), %rdx
1:	cmp	%rdx, %rsi
	jae	3f
	cmpl	$R_X86_64_RELATIVE, 8(%rsi)
	jne	2f
	mov	(%rsi), %rdi
	mov	16(%rsi), %rax
	add	%r14, %rax
	mov	%rax, (%rdi)
	add	$24, %rsi
	jmp	1b
2:	ud2			/* a relocation a static PIE cannot have: stop here, L0 reports it */
3:
	/* PML4[slot] -> PDPT; PDPT[0], [1] -> two page directories of 2 MiB pages covering
	 * physical [0, 2 GiB), but only as far as RAM goes. */
	lea	nbvmm_pml4(%rip), %r9
	lea	nbvmm_pdpt(%rip), %r10
	lea	nbvmm_pd(%rip), %r11
	lea	NBVMM_PTE_P|NBVMM_PTE_W(%r10), %rax
	mov	%rax, (%r9,%r13,8)
	lea	NBVMM_PTE_P|NBVMM_PTE_W(%r11), %rax
	mov	%rax, (%r10)
	add	$4096, %rax
	mov	%rax, 8(%r10)
	/* Keep the loader's low identity map (its PML4[0]) until nbvmm_main has left it. */
	mov	%cr3, %rax
	and	$~0xfff, %rax
	mov	(%rax), %rax
	mov	%rax, (%r9)

	mov	BOOT_INFO_MEM_SIZE(%r12), %rcx
	add	$0x1fffff, %rcx
	shr	$21, %rcx
	cmp	$1024, %rcx
	jbe	4f
	mov	$1024, %rcx
4:	mov	$NBVMM_PTE_P|NBVMM_PTE_W|NBVMM_PTE_PS, %eax
5:	mov	%rax, (%r11)
	add	$0x200000, %rax
	add	$8, %r11
	dec	%rcx
	jnz	5b

	mov	%r14, nbvmm_vma(%rip)
	mov	%r13d, nbvmm_slot(%rip)
	mov	%r9, %cr3
	lea	nbvmm_high_start(%rip), %rax
	add	%r14, %rax
	jmp	*%rax

nbvmm_high_start:
	lea	nbvmm_boot_stack_top(%rip), %rsp
	xor	%ebp, %ebp
	lea	(%r12,%r14), %rdi
	call	nbvmm_main
6:	cli
	hlt
	jmp	6b

	.data
	.balign	8
	.globl	nbvmm_vma, nbvmm_slot
nbvmm_vma:	.quad	0
nbvmm_slot:	.long	0

	.section .bss.pagetables, "aw", @nobits
	.balign	4096
	.globl	nbvmm_pml4, nbvmm_pdpt
nbvmm_pml4:	.space	4096
nbvmm_pdpt:	.space	4096
nbvmm_pd:	.space	2 * 4096

	.section .bss, "aw", @nobits
	.balign	16
	.space	16384
nbvmm_boot_stack_top:

	.section .note.GNU-stack, "", @progbits
