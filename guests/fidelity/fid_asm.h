/* Assembler macros of the fidelity kernels' .S files (32- and 64-bit). */
#ifndef NESTBED_GUESTS_FIDELITY_FID_ASM_H
#define NESTBED_GUESTS_FIDELITY_FID_ASM_H

/* A global function. */
.macro FUNC name
	.globl	\name
	.type	\name, @function
\name:
.endm

/* A global label inside one: where the C side expects a saved RIP/EIP to point. */
.macro LABEL name
	.globl	\name
\name:
.endm

#endif
