/*
 * Trap entry and exit for guest kernels with their own IDT (trap.h).
 *
 * In 64-bit mode the CPU always pushes SS, RSP, RFLAGS, CS and RIP, after switching to
 * TSS.RSP0 when the trap comes from CPL 3, and pushes an error code for some vectors only
 * (SDM Vol. 3A 6.14.2, 6.3.1). Each stub makes the frame uniform (a 0 where the CPU pushed no
 * error code, then the vector), the common path saves the GPRs and calls ktrap(frame), and
 * IRETQ resumes whatever the frame then describes.
 */
/* Vectors for which the CPU pushes an error code: #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP,
 * #VC, #SX. */
#define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || \
			   (v) == 29 || (v) == 30)

	.text
	/* 256 stubs of 16 bytes each: vector v's stub is at nb_trap_stubs + 16 * v. */
	.balign	16
	.globl	nb_trap_stubs
nb_trap_stubs:
	vec = 0
	.rept	256
	.balign	16
	.if	HAS_ERROR_CODE(vec)
	pushq	$vec
	.else
	pushq	$0
	pushq	$vec
	.endif
	jmp	trap_common
	vec = vec + 1
	.endr

trap_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	/* Interrupt gates do not clear DF, and the C ABI requires it clear on entry. */
	cld
	/* 22 quadwords since the CPU aligned RSP to 16: the call leaves the ABI's alignment. */
	movq	%rsp, %rdi
	call	ktrap
trap_restore:
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp /* vector and error code */
	iretq

/* uint64_t nb_trap_run_user(struct nb_trap_frame *f): the frame is restored as if a trap
 * were returning to it; the kernel's callee-saved registers wait for nb_trap_leave_user. */
	.globl	nb_trap_run_user
	.type	nb_trap_run_user, @function
nb_trap_run_user:
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, kernel_rsp(%rip)
	movq	%rdi, %rsp
	jmp	trap_restore
	.size	nb_trap_run_user, . - nb_trap_run_user

/* void nb_trap_leave_user(uint64_t value): called from ktrap, on the trap stack, which is
 * abandoned; the next trap from user mode starts again at TSS.RSP0. */
	.globl	nb_trap_leave_user
	.type	nb_trap_leave_user, @function
nb_trap_leave_user:
	movq	%rdi, %rax
	movq	kernel_rsp(%rip), %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret
	.size	nb_trap_leave_user, . - nb_trap_leave_user

/* int nb_try(struct nb_try *t): saves what the caller needs to resume, like setjmp. The
 * offsets are those of struct nb_try's first eight fields (trap.h). */
	.globl	nb_try
	.type	nb_try, @function
nb_try:
	movq	%rbx, 0(%rdi)
	movq	%rbp, 8(%rdi)
	movq	%r12, 16(%rdi)
	movq	%r13, 24(%rdi)
	movq	%r14, 32(%rdi)
	movq	%r15, 40(%rdi)
	leaq	8(%rsp), %rax
	movq	%rax, 48(%rdi)
	movq	(%rsp), %rax
	movq	%rax, 56(%rdi)
	movq	%rdi, nb_try_current(%rip)
	xorl	%eax, %eax
	ret
	.size	nb_try, . - nb_try

/* Where nb_try_catch sends an IRETQ, with RDI = the try: nb_try returns a second time, 1. */
	.globl	nb_try_landing
	.type	nb_try_landing, @function
nb_try_landing:
	movq	0(%rdi), %rbx
	movq	8(%rdi), %rbp
	movq	16(%rdi), %r12
	movq	24(%rdi), %r13
	movq	32(%rdi), %r14
	movq	40(%rdi), %r15
	movq	48(%rdi), %rsp
	movl	$1, %eax
	jmpq	*56(%rdi)
	.size	nb_try_landing, . - nb_try_landing

	.bss
	.balign	8
kernel_rsp:
	.quad	0

	/* NOBITS and outside .bss: a stack needs no clearing (kernel64.ld). */
	.section .stack, "aw", @nobits
	.balign	16
	.space	8192
	.globl	nb_trap_stack_top
nb_trap_stack_top:

	.section .note.GNU-stack, "", @progbits
