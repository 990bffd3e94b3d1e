/*
 * Multiboot v1 entry (32-bit protected mode, paging off, EAX = magic, EBX = info). The spec
 * leaves ESP undefined, so the first thing is a stack of our own. Built twice: with the ELF
 * form of the header (mbhello.elf) and, with NB_MB_KLUDGE, with the a.out kludge that gives the
 * load addresses in the header itself (mbkludge, loaded as a flat binary).
 */
#include "guests/mbhello/multiboot.h"

#ifdef NB_MB_KLUDGE
#define MB_FLAGS (MB_HF_PAGE_ALIGN | MB_HF_MEMORY_INFO | MB_HF_AOUT_KLUDGE)
#else
#define MB_FLAGS (MB_HF_PAGE_ALIGN | MB_HF_MEMORY_INFO)
#endif

	/* Must lie, 4-byte aligned, in the first 8 KiB of the image: multiboot.ld puts it first. */
	.section .multiboot, "a"
	.balign	4
mb_header:
	.long	MB_HEADER_MAGIC
	.long	MB_FLAGS
	.long	-(MB_HEADER_MAGIC + MB_FLAGS)
#ifdef NB_MB_KLUDGE
	.long	mb_header	/* header_addr: where this header lands */
	.long	__load_start	/* load_addr: image byte 0 goes here */
	.long	__load_end	/* load_end_addr: end of the bytes to copy */
	.long	__bss_end	/* bss_end_addr: zeroed up to here (covers the stack) */
	.long	_start		/* entry_addr */
#endif

	.text
	.code32
	.globl	_start
	.type	_start, @function
_start:
	mov	$mb_stack_top, %esp
	xor	%ebp, %ebp
	sub	$8, %esp	/* keep 16-byte alignment at the call, as the i386 ABI asks */
	push	%ebx
	push	%eax
	call	mb_main
	/* mb_main returns the isa-debug-exit value: 0 when every check passed. */
	mov	$0xf4, %dx
	out	%eax, %dx
1:	cli
	hlt
	jmp	1b
	.size	_start, . - _start

	.section .stack, "aw", @nobits
	.balign	16
	.space	8192
mb_stack_top:

	.section .note.GNU-stack, "", @progbits
