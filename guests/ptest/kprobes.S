/*
 * One-instruction probes for ptest's ring-0 checks: the faulting instruction is the first of
 * each function, so a caught exception's RIP must equal the function's address.
 */
	.text
	.globl	ptest_kprobe_ud2
	.type	ptest_kprobe_ud2, @function
ptest_kprobe_ud2:
	ud2
	ret
	.size	ptest_kprobe_ud2, . - ptest_kprobe_ud2

	/* ptest_kprobe_read(va, unused): the value read is not needed */
	.globl	ptest_kprobe_read
	.type	ptest_kprobe_read, @function
ptest_kprobe_read:
	movq	(%rdi), %rax
	ret
	.size	ptest_kprobe_read, . - ptest_kprobe_read

	/* ptest_kprobe_write(va, value) */
	.globl	ptest_kprobe_write
	.type	ptest_kprobe_write, @function
ptest_kprobe_write:
	movq	%rsi, (%rdi)
	ret
	.size	ptest_kprobe_write, . - ptest_kprobe_write

	.section .note.GNU-stack, "", @progbits
