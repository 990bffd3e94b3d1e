/*
 * The guest code svmtest runs with VMRUN (guest.S): its entry points, the labels where the
 * checks expect a #VMEXIT's RIP and nRIP, and the values both sides agree on. Usable from
 * assembly.
 */
#ifndef NESTBED_GUESTS_SVMTEST_GUEST_H
#define NESTBED_GUESTS_SVMTEST_GUEST_H

#define SVT_G_REGS_RSP_MOVE 0x40
#define SVT_G_CPUID_LEAF 0x4000004e /* in the hypervisor range; the hypervisor answers it */
#define SVT_G_PORT_FREE 0x80        /* POST-code port: no device behind it at any level */
#define SVT_G_PORT_OUT 0x5000
#define SVT_G_PORT_IN 0x5004
#define SVT_G_OUT_VALUE 0xbeef
#define SVT_G_MSR_FREE 0x174        /* SYSENTER_CS */
#define SVT_G_MSR_TRAPPED 0x175     /* SYSENTER_ESP */
#define SVT_G_MSR_LOW 0x11223344
#define SVT_G_MSR_HIGH 0x55667788
/* Canonical, and above all RAM this kernel maps: its page tables leave it unmapped. */
#define SVT_G_PF_ADDR 0x00007f0000001028
#define SVT_G_NPF_OFFSET 0x18
#define SVT_G_NPF_WRITTEN 0x77
#define SVT_G_SOFT_VECTOR 0x80

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Set to 1 by svt_g_marker: the guest ran. */
extern volatile uint64_t svt_guest_ran;

extern char svt_g_regs[], svt_g_regs_call1[], svt_g_regs_call2[];
extern char svt_g_marker[], svt_g_marker_vmmcall[], svt_g_marker_end[];
extern char svt_g_cpuid[], svt_g_cpuid_insn[], svt_g_cpuid_next[];
extern char svt_g_hlt[], svt_g_hlt_insn[], svt_g_hlt_next[];
extern char svt_g_ioio[], svt_g_ioio_out[], svt_g_ioio_out_next[], svt_g_ioio_in[],
	svt_g_ioio_in_next[];
extern char svt_g_msr[], svt_g_msr_rd[], svt_g_msr_rd_next[], svt_g_msr_wr[], svt_g_msr_wr_next[];
extern char svt_g_cr[], svt_g_cr3_read[], svt_g_cr3_read_next[], svt_g_cr0_write[],
	svt_g_cr0_write_next[];
extern char svt_g_exc[], svt_g_exc_ud[], svt_g_exc_ud_next[], svt_g_exc_pf[], svt_g_exc_pf_next[];
extern char svt_g_npf[], svt_g_npf_read[], svt_g_npf_write[];
extern char svt_g_inject[], svt_g_inject_site[];
extern char svt_g_gp_handler[], svt_g_soft_handler[];
#endif

#endif
