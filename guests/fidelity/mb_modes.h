/* mb-modes: constants and results shared by mb_modes.c and mb_modes_asm.S. */
#ifndef NESTBED_GUESTS_FIDELITY_MB_MODES_H
#define NESTBED_GUESTS_FIDELITY_MB_MODES_H

/*
 * Linear addresses of the alias mappings. Each paging mode maps the first 16 MiB onto
 * themselves, and maps the known frame once more at MODES_ALIAS_SMALL (a 4 KiB page) and all of
 * low memory again at MODES_ALIAS_LARGE (a 4 MiB or 2 MiB page over physical 0). Long mode
 * adds MODES_ALIAS_HIGH, beyond what 32-bit addresses reach: a 1 GiB page over physical 0 (a
 * 2 MiB one where 1 GiB pages are not offered).
 */
#define MODES_IDENTITY_END 0x01000000
#define MODES_ALIAS_SMALL 0x40000000
#define MODES_ALIAS_LARGE 0x80000000
#define MODES_ALIAS_HIGH 0x8000000000 /* PML4 entry 1 */

/* Offsets in struct modes64_results, for mb_modes_asm.S. */
#define MODES64_REG_HIGH 0
#define MODES64_REX 4
#define MODES64_HIGH_READ 8
#define MODES64_DONE 12

#ifndef __ASSEMBLER__
#include <stdint.h>

/* What the 64-bit code saw. */
struct modes64_results {
	uint32_t reg_high;  /* RAX[63:32] after MOV $-1, %rax: 0xffffffff in 64-bit mode */
	uint32_t rex;       /* modes_rex_probe's EAX */
	uint32_t high_read; /* the first word of the known frame, read through MODES_ALIAS_HIGH */
	uint32_t done;
};

extern struct modes64_results modes64;

/*
 * MOV EAX, 5 followed by 0x48 0x90: in 64-bit mode 0x48 is a REX.W prefix (the NOP stays a
 * NOP, EAX = 5); in compatibility and legacy mode it is DEC EAX (EAX = 4). SDM Vol. 2A 2.2.1.
 */
uint32_t modes_rex_probe(void);
/* From compatibility mode: far jump to the 64-bit code segment, run the 64-bit probes, far
 * return to the 32-bit code segment and return. */
void modes_run64(uint32_t known_frame);
#endif

#endif
