/* The fpu kernel: constants and layouts shared by fpu.c and fpu_user.S. */
#ifndef NESTBED_GUESTS_FIDELITY_FPU_H
#define NESTBED_GUESTS_FIDELITY_FPU_H

#define FPU_TRAP_MAGIC 0x66707574 /* RAX at a trap the kernel steps over and resumes */
#define FPU_DONE_MAGIC 0x646f6e65 /* RAX at the UD2 that ends a run */
#define FPU_ROUNDS 50             /* trap rounds per run: four traps each */
#define FPU_CW 0x0e7f             /* x87: all exceptions masked, 53-bit precision, truncate */
#define FPU_MXCSR 0x7f80          /* SSE: all exceptions masked, round toward zero */
#define FPU_CW_RESTORED 0x037f    /* FNINIT's control word, put back by FXRSTOR */
#define FPU_MXCSR_RESTORED 0x1f80 /* MXCSR's reset value */
#define FPU_USER_DATA 0x40001000  /* a user page for results, after the user stack */

/* struct fpu_results (written by ring 3) */
#define FPU_RES_CW 0
#define FPU_RES_MXCSR 4
#define FPU_RES_X87 8   /* 8 quadwords, ST0 first */
#define FPU_RES_XMM 72  /* 16 x 16 bytes */
#define FPU_XMM_REGS 16
#define FPU_X87_REGS 8

/* FXSAVE image offsets (SDM Vol. 2A FXSAVE, table 3-53). */
#define FXSAVE_FCW 0
#define FXSAVE_MXCSR 24
#define FXSAVE_ST0 32   /* 16 bytes per ST register */
#define FXSAVE_XMM0 160 /* 16 bytes per XMM register */
#define FXSAVE_SIZE 512

#ifndef __ASSEMBLER__
#include <stdint.h>

struct fpu_results {
	uint16_t cw, pad;
	uint32_t mxcsr;
	int64_t x87[FPU_X87_REGS];
	uint8_t xmm[FPU_XMM_REGS][16];
} __attribute__((packed));

extern const uint8_t fpu_xmm_pattern[FPU_XMM_REGS][16];
extern const int64_t fpu_x87_values[FPU_X87_REGS];
extern char fpuu_run[], fpuu_store[], fpuu_sse[], fpuu_sse_insn[], fpuu_sse_done[];
#endif

#endif
