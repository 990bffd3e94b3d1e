/*
 * apic-timer's interrupt-shadow probes (SDM Vol. 3A 6.8.3): called with IF clear and an
 * interrupt pending, each sets IF with STI; the interrupt must be taken only after the
 * instruction that follows the STI, so its saved RIP is the label after that instruction.
 */
	.text
	.globl	apic_sti_shadow, apic_sti_shadow_after
	.type	apic_sti_shadow, @function
apic_sti_shadow:
	sti
	movq	$1, apic_marker(%rip)
apic_sti_shadow_after:
	nop
	cli
	ret
	.size	apic_sti_shadow, . - apic_sti_shadow

/* The idiom of idle loops: the interrupt cannot slip in between STI and HLT, and HLT wakes
 * on it (with one pending already, at once). */
	.globl	apic_sti_hlt, apic_sti_hlt_after
	.type	apic_sti_hlt, @function
apic_sti_hlt:
	sti
	hlt
apic_sti_hlt_after:
	cli
	ret
	.size	apic_sti_hlt, . - apic_sti_hlt

	.bss
	.balign	8
	.globl	apic_marker
apic_marker:
	.quad	0

	.section .note.GNU-stack, "", @progbits
