/*
 * The paging kernel's ring-3 accesses: one instruction each on the address in RDI, then the
 * observation UD2 (a #UD there means the access went through; RAX holds what a read saw).
 */
	.section .user.text, "ax"

	.globl	pgu_read, pgu_read_done
pgu_read:
	movq	(%rdi), %rax
pgu_read_done:
	ud2

	.globl	pgu_write, pgu_write_done
pgu_write:
	movq	%rsi, (%rdi)
pgu_write_done:
	ud2

	.globl	pgu_fetch, pgu_fetch_done
pgu_fetch:
	callq	*%rdi
pgu_fetch_done:
	ud2

	.section .note.GNU-stack, "", @progbits
