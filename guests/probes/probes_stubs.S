/*
 * The probes' instructions, one small function per probe: argument in RDI (a selector for
 * LAR/LSL/VERR/VERW), results in RAX (value) and RDX (value2), nothing else changed but RCX,
 * RSI, RDI and R8-R11 (the SysV caller-saved registers). The kernel calls them directly to
 * probe its own mode; pg_user_call runs one at CPL 3 and ends with the UD2 that brings the
 * kernel back (the probes' system call: INT n and SYSCALL do not work from ring 3 at depth 1,
 * ../shared/PLATFORM.md). They live in .user.text, the pages user.ld maps for ring 3.
 *
 * pg_X_i and pg_X_e bracket the probed instruction: its RIP and its bytes go into the trace
 * record, so the store can name it with capstone.
 */
	.section .user.text, "ax"

#define PROBE(name) .globl pg_##name, pg_##name##_i, pg_##name##_e; pg_##name:
#define INSN(name) pg_##name##_i:
#define END(name) pg_##name##_e:

/* pg_user_call(stub = RDI, arg = RSI): calls the stub at CPL 3, then UD2 at pg_user_done. */
	.globl	pg_user_call, pg_user_done
pg_user_call:
	movq	%rdi, %rax
	movq	%rsi, %rdi
	call	*%rax
pg_user_done:
	ud2

/* SGDT / SIDT: value = base, value2 = limit (SDM Vol. 2B SGDT: 10 bytes in 64-bit mode). */
PROBE(sgdt)
	subq	$16, %rsp
INSN(sgdt)
	sgdt	(%rsp)
END(sgdt)
	movzwl	(%rsp), %edx
	movq	2(%rsp), %rax
	addq	$16, %rsp
	ret

PROBE(sidt)
	subq	$16, %rsp
INSN(sidt)
	sidt	(%rsp)
END(sidt)
	movzwl	(%rsp), %edx
	movq	2(%rsp), %rax
	addq	$16, %rsp
	ret

/* SLDT / STR / SMSW to a 16-bit register: value = the selector or CR0[15:0]. */
PROBE(sldt)
	xorl	%eax, %eax
	xorl	%edx, %edx
INSN(sldt)
	sldt	%ax
END(sldt)
	ret

PROBE(str)
	xorl	%eax, %eax
	xorl	%edx, %edx
INSN(str)
	str	%ax
END(str)
	ret

PROBE(smsw)
	xorl	%eax, %eax
	xorl	%edx, %edx
INSN(smsw)
	smsw	%ax
END(smsw)
	ret

/* PUSHF: value = IF (0 or 1), value2 = IOPL (SDM Vol. 1 3.4.3). */
PROBE(pushf)
INSN(pushf)
	pushfq
END(pushf)
	popq	%rax
	jmp	pg_split_flags

/* POPF asking for IF = 1 and IOPL = 3, then PUSHF to see what it did; the old RFLAGS are put
 * back. At CPL 0 both change; at CPL 3 with IOPL 0 both are silently kept (SDM Vol. 2B POPF). */
PROBE(popf)
	pushfq
	popq	%rcx
	movq	%rcx, %rax
	orq	$0x3200, %rax
	pushq	%rax
INSN(popf)
	popfq
END(popf)
	pushfq
	popq	%rax
	pushq	%rcx
	popfq
pg_split_flags:
	movq	%rax, %rdx
	shrq	$9, %rax
	andl	$1, %eax
	shrq	$12, %rdx
	andl	$3, %edx
	ret

/* LAR / LSL of selector RDI: value = access rights or limit (0 when ZF is clear), value2 = ZF. */
PROBE(lar)
	xorl	%eax, %eax
	xorl	%edx, %edx
INSN(lar)
	larl	%edi, %eax
END(lar)
	setz	%dl
	ret

PROBE(lsl)
	xorl	%eax, %eax
	xorl	%edx, %edx
INSN(lsl)
	lsll	%edi, %eax
END(lsl)
	setz	%dl
	ret

/* VERR / VERW of selector RDI: value = ZF. */
PROBE(verr)
	xorl	%eax, %eax
	xorl	%edx, %edx
INSN(verr)
	verr	%di
END(verr)
	setz	%al
	ret

PROBE(verw)
	xorl	%eax, %eax
	xorl	%edx, %edx
INSN(verw)
	verw	%di
END(verw)
	setz	%al
	ret

/* MOV from CS / SS: value = the RPL (the CPL for CS), value2 = the selector. */
PROBE(mov_cs)
	xorl	%edx, %edx
INSN(mov_cs)
	movl	%cs, %edx
END(mov_cs)
	movl	%edx, %eax
	andl	$3, %eax
	ret

PROBE(mov_ss)
	xorl	%edx, %edx
INSN(mov_ss)
	movl	%ss, %edx
END(mov_ss)
	movl	%edx, %eax
	andl	$3, %eax
	ret

/* CPUID leaf RDI (subleaf 0): value = EDX:EBX, value2 = ECX:EAX. RBX is callee-saved. */
PROBE(cpuid)
	pushq	%rbx
	movl	%edi, %eax
	xorl	%ecx, %ecx
INSN(cpuid)
	cpuid
END(cpuid)
	shlq	$32, %rdx
	orq	%rbx, %rdx
	shlq	$32, %rcx
	orq	%rcx, %rax
	xchgq	%rax, %rdx
	popq	%rbx
	ret

/* RDTSC twice: value = 1 when the second read is above the first, value2 = 0. */
PROBE(rdtsc)
INSN(rdtsc)
	rdtsc
END(rdtsc)
	shlq	$32, %rdx
	orq	%rdx, %rax
	movq	%rax, %rcx
	rdtsc
	shlq	$32, %rdx
	orq	%rdx, %rax
	cmpq	%rcx, %rax
	seta	%al
	movzbl	%al, %eax
	xorl	%edx, %edx
	ret

/* RDTSCP: value = 1 when it ran, value2 = ECX (IA32_TSC_AUX). */
PROBE(rdtscp)
INSN(rdtscp)
	rdtscp
END(rdtscp)
	movl	%ecx, %edx
	movl	$1, %eax
	ret

/* Timing, user mode: cycles of 256 innocuous instructions (64 times 4), in RAX. */
PROBE(loop)
	rdtsc
	shlq	$32, %rdx
	orq	%rdx, %rax
	movq	%rax, %rsi
	movl	$64, %ecx
1:	addq	$1, %r8
	addq	$1, %r9
	addq	$1, %r10
INSN(loop)
	decl	%ecx
END(loop)
	jnz	1b
	rdtsc
	shlq	$32, %rdx
	orq	%rdx, %rax
	subq	%rsi, %rax
	xorl	%edx, %edx
	ret

/* Timing, user mode: a UD2 straight away (the kernel times the round trip). */
PROBE(ud2)
INSN(ud2)
	ud2
END(ud2)

	.section .note.GNU-stack, "", @progbits
