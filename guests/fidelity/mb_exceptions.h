/* mb-exceptions: constants shared by mb_exceptions.c and mb_exceptions_asm.S. */
#ifndef NESTBED_GUESTS_FIDELITY_MB_EXCEPTIONS_H
#define NESTBED_GUESTS_FIDELITY_MB_EXCEPTIONS_H

#define MBX_BAD_SELECTOR 0x403       /* GDT index 0x80, RPL 3: past mb32's GDT */
#define MBX_BAD_SELECTOR_ERROR 0x400 /* the error code keeps index and TI, not the RPL */
#define MBX_PAST_SMALL_LIMIT 0x2000  /* beyond MB32_SEL_SMALL's limit */
/* The 4 MiB at MBX_PF_ABSENT are mapped by a page table: page 0 not present, page 1
 * read-only; everything below is identity-mapped with 4 MiB pages. */
#define MBX_PF_ABSENT 0x01000000
#define MBX_PF_READONLY 0x01001000
#define MBX_BOUND_LOW 10
#define MBX_BOUND_HIGH 20

#ifndef __ASSEMBLER__
#include <stdint.h>

extern uint32_t mbx_esp_before;

void mbx_k_de(void), mbx_k_ud(void), mbx_k_gp_sel(void), mbx_k_gp_limit(void), mbx_k_np(void),
	mbx_k_ss(void), mbx_k_pf_read(void), mbx_k_pf_write(void), mbx_k_pf_write_ro(void);
extern char mbx_k_de_insn[], mbx_k_ud_insn[], mbx_k_gp_sel_insn[], mbx_k_gp_limit_insn[],
	mbx_k_np_insn[], mbx_k_ss_insn[], mbx_k_pf_read_insn[], mbx_k_pf_write_insn[],
	mbx_k_pf_write_ro_insn[];
extern char mbx_u_int3[], mbx_u_int3_next[], mbx_u_into[], mbx_u_into_next[], mbx_u_bound[],
	mbx_u_bound_insn[], mbx_u_cli[], mbx_u_cli_insn[], mbx_u_ud2[], mbx_u_ud2_insn[];
#endif

#endif
