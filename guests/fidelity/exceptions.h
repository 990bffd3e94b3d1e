/* The 64-bit exceptions kernel: constants shared by exceptions.c and exceptions_asm.S. */
#ifndef NESTBED_GUESTS_FIDELITY_EXCEPTIONS_H
#define NESTBED_GUESTS_FIDELITY_EXCEPTIONS_H

#define EXC_BAD_SELECTOR 0x403     /* GDT index 0x80, RPL 3: past the lib's 7-entry GDT */
#define EXC_BAD_SELECTOR_ERROR 0x400 /* the error code keeps index and TI, not the RPL */
#define EXC_KERNEL_DATA_SEL 0x10   /* NB_SEL_KDATA: DPL 0 */
#define EXC_NONCANONICAL 0x8000000000000000
/* In page 0, which nb_pt_kernel_space leaves unmapped. */
#define EXC_PF_READ_ADDR 0x10
#define EXC_PF_WRITE_ADDR 0x18
#define EXC_PF_FETCH_ADDR 0x20

#ifndef __ASSEMBLER__
#include <stdint.h>

extern uint64_t exc_rsp_before;

void exc_k_de(void), exc_k_ud(void), exc_k_ud_aligned(void), exc_k_into(void),
	exc_k_gp_sel(void), exc_k_gp_noncanon(void), exc_k_ss_noncanon(void), exc_k_pf_read(void), exc_k_pf_write(void), exc_k_pf_fetch(void);
extern char exc_k_de_insn[], exc_k_ud_insn[], exc_k_ud_aligned_insn[], exc_k_into_insn[],
	exc_k_gp_sel_insn[], exc_k_gp_noncanon_insn[], exc_k_ss_noncanon_insn[], exc_k_pf_read_insn[], exc_k_pf_write_insn[];

extern char exc_u_cli[], exc_u_cli_insn[], exc_u_hlt[], exc_u_hlt_insn[], exc_u_mov_cr0[],
	exc_u_mov_cr0_insn[], exc_u_out[], exc_u_out_insn[], exc_u_load_kdata[],
	exc_u_load_kdata_insn[], exc_u_ud2[], exc_u_ud2_insn[], exc_u_int3[], exc_u_int3_next[],
	exc_u_read[], exc_u_read_insn[], exc_u_single_step[], exc_u_single_step_next[],
	exc_u_misaligned[], exc_u_misaligned_insn[], exc_u_misaligned_next[];
#endif

#endif
