/*
 * cpuid-msr's ring-3 code: CPUID (leaf 0) and RDMSR (EFER) at labels the kernel knows, each
 * followed by the observation UD2 that says the instruction completed.
 */
	.section .user.text, "ax"

	.globl	cmu_cpuid, cmu_cpuid_insn, cmu_cpuid_done
cmu_cpuid:
	xorl	%eax, %eax
	xorl	%ecx, %ecx
cmu_cpuid_insn:
	cpuid
cmu_cpuid_done:
	ud2

	.globl	cmu_rdmsr, cmu_rdmsr_insn
cmu_rdmsr:
	movl	$0xc0000080, %ecx
cmu_rdmsr_insn:
	rdmsr
	ud2

	.section .note.GNU-stack, "", @progbits
