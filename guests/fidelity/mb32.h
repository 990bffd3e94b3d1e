/*
 * What the 32-bit Multiboot fidelity kernels share: their own GDT (the loader's need not stay
 * valid, Multiboot Specification 3.2), a 32-bit IDT whose handlers record each trap, a 32-bit
 * TSS for traps from ring 3, and a setjmp-like try for expected exceptions. The constants are
 * usable from assembly.
 */
#ifndef NESTBED_GUESTS_FIDELITY_MB32_H
#define NESTBED_GUESTS_FIDELITY_MB32_H

/*
 * GDT selectors (SDM Vol. 3A 3.4.5 for the descriptor format). The first four are in the order
 * SYSENTER/SYSEXIT require (SDM Vol. 2B SYSEXIT: CS = IA32_SYSENTER_CS + 16, SS = + 24), as
 * SYSEXIT is how the kernels enter ring 3.
 */
#define MB32_SEL_CODE32 0x08 /* flat 32-bit code, DPL 0; IA32_SYSENTER_CS */
#define MB32_SEL_DATA 0x10   /* flat data, DPL 0 */
#define MB32_SEL_UCODE 0x1b  /* flat 32-bit code, DPL 3, RPL 3 */
#define MB32_SEL_UDATA 0x23  /* flat data, DPL 3, RPL 3 */
#define MB32_SEL_CODE64 0x28 /* 64-bit code (L = 1), DPL 0: for the long-mode switch */
#define MB32_SEL_SMALL 0x30  /* data, base 0, limit 0xfff bytes: for limit checks */
#define MB32_SEL_ABSENT 0x38 /* data segment with P = 0 */
#define MB32_SEL_TSS 0x40
#define MB32_GDT_ENTRIES 9
#define MB32_SMALL_LIMIT 0xfff

/* Offsets in struct mb32_try, for mb32_entry.S. */
#define MB32_TRY_ESP 16
#define MB32_TRY_EIP 20

#ifndef __ASSEMBLER__
#include <stdint.h>

/* What mb32_entry.S saves: PUSHAL's registers, the vector and error code (0 when the CPU pushed
 * none), then the CPU's own frame; ESP and SS only on a change of privilege (SDM Vol. 3A
 * 6.12.1, figure 6-4). */
struct mb32_frame {
	uint32_t edi, esi, ebp, esp_pushal, ebx, edx, ecx, eax;
	uint32_t vector, error;
	uint32_t eip, cs, eflags, esp, ss;
};

/* The last trap. */
struct mb32_trap {
	uint32_t count, vector, error, eip, cs, eflags;
	uint32_t esp, ss;    /* valid for traps from ring 3 only */
	uint32_t cr2;        /* for #PF */
	uint32_t frame_end;  /* just above the EFLAGS slot: ESP before the trap, for ring 0 */
	uint32_t eax, ebx;
};

extern struct mb32_trap mb32_last;

/*
 * The banner line "<name>: <what>", a check that a Multiboot loader entered the kernel (EAX =
 * magic), then mb32_cpu_init. Returns 1 when the kernel can go on.
 */
int mb32_init(const char *name, const char *what, uint32_t magic);
/* Loads the GDT, reloads every segment register, loads the TSS and an IDT with all 32
 * exception vectors (gates of DPL 0, vectors 3 and 4 DPL 3 so INT3/INTO work from ring 3). */
void mb32_cpu_init(void);

struct mb32_try {
	uint32_t ebx, esi, edi, ebp, esp, eip;
};

/* Like nb_try (guests/lib/trap.h): 0 at first, 1 when an exception in ring 0 or 3 was caught,
 * with what it was in mb32_last. */
__attribute__((returns_twice)) int mb32_try(struct mb32_try *t);
void mb32_try_end(void);

/* Runs entry at CPL 3 (stack top user_esp, IOPL 0) until it traps. */
void mb32_run_user(const void *entry, uint32_t user_esp);

/* Top of the stack traps from ring 3 arrive on (TSS.ESP0). */
extern char mb32_trap_stack_top[];

/* Called by mb32_entry.S for every trap: resumes the open try, or stops the machine with a
 * FAIL line when there is none. */
__attribute__((noreturn)) void mb32_trap(struct mb32_frame *f);
__attribute__((noreturn)) void mb32_try_resume(struct mb32_try *t);
extern char mb32_stubs[];
#endif

#endif
