/*
 * nbvmm's entry from the boot protocol (include/nestbed/boot.h): long mode, CPL 0, the loader's
 * identity map, RDI = boot info (physical). Builds nbvmm's own map of physical memory at
 * NBVMM_VMA, switches to it and calls nbvmm_main(boot info, virtual address) on nbvmm's stack.
 * Runs at its physical address, so it may only use RIP-relative or computed physical addresses.
 */
#include "l1-vmm/layout.h"

	.section .boot.text, "ax"
	.code64
	.globl	_start
_start:
	mov	%rdi, %r12

	/* Clear .bss: every loader zeroes it today, but nbvmm must not depend on that. */
	movabs	$__bss_start, %rdi
	movabs	$__bss_end, %rcx
	sub	%rdi, %rcx
	shr	$3, %rcx
	movabs	$NBVMM_VMA, %rax
	sub	%rax, %rdi
	xor	%eax, %eax
	cld
	rep stosq

	/* PML4[511] -> PDPT; PDPT[510], [511] -> two page directories of 2 MiB pages covering
	 * physical [0, 2 GiB), but only as far as RAM goes (boot info mem_size at offset 8). */
	movabs	$NBVMM_VMA, %r8
	movabs	$nbvmm_pml4, %r9
	sub	%r8, %r9
	movabs	$nbvmm_pdpt, %r10
	sub	%r8, %r10
	movabs	$nbvmm_pd, %r11
	sub	%r8, %r11

	lea	NBVMM_PTE_P|NBVMM_PTE_W(%r10), %rax
	mov	%rax, 511*8(%r9)
	lea	NBVMM_PTE_P|NBVMM_PTE_W(%r11), %rax
	mov	%rax, 510*8(%r10)
	add	$4096, %rax
	mov	%rax, 511*8(%r10)
	/* Keep the loader's low identity map (its PML4[0]) until nbvmm_main has left it. */
	mov	%cr3, %rax
	and	$~0xfff, %rax
	mov	(%rax), %rax
	mov	%rax, (%r9)

	mov	8(%r12), %rcx		/* mem_size */
	add	$0x1fffff, %rcx
	shr	$21, %rcx
	cmp	$1024, %rcx
	jbe	1f
	mov	$1024, %rcx
1:	mov	$NBVMM_PTE_P|NBVMM_PTE_W|NBVMM_PTE_PS, %eax
2:	mov	%rax, (%r11)
	add	$0x200000, %rax
	add	$8, %r11
	dec	%rcx
	jnz	2b

	mov	%r9, %cr3
	movabs	$nbvmm_high_start, %rax
	jmp	*%rax

	.text
nbvmm_high_start:
	lea	nbvmm_boot_stack_top(%rip), %rsp
	xor	%ebp, %ebp
	movabs	$NBVMM_VMA, %rdi
	add	%r12, %rdi
	call	nbvmm_main
3:	cli
	hlt
	jmp	3b

	.section .bss.pagetables, "aw", @nobits
	.balign	4096
	.globl	nbvmm_pml4
nbvmm_pml4:	.space	4096
	.globl	nbvmm_pdpt
nbvmm_pdpt:	.space	4096
nbvmm_pd:	.space	2 * 4096

	.section .bss, "aw", @nobits
	.balign	16
	.space	16384
nbvmm_boot_stack_top:

	.section .note.GNU-stack, "", @progbits
