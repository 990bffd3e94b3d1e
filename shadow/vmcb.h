/*
 * The Virtual Machine Control Block (AMD64 Architecture Programmer's Manual, Volume 2, chapter
 * 15 "Secure Virtual Machine" and Appendix B "Layout of VMCB").
 *
 * A VMCB is one 4 KiB page: a control area (offset 0, 0x400 bytes) saying what the guest may do
 * without an exit and, after an exit, why it happened; and a state-save area (offset 0x400)
 * holding the guest's registers that VMRUN loads and #VMEXIT stores (§15.5, §15.6).
 *
 * nbvmm keeps each guest's state in this exact layout even when it runs the guest by
 * trap-and-emulate: its software "VMRUN" loads the real CPU from the save area and its exits
 * write the exit code and exit information where SVM would. The same structure is what a nested
 * hypervisor hands to its (virtual) VMRUN, so merging a nested VMCB with nbvmm's own intercepts
 * is a field-by-field operation on two of these.
 */
#ifndef NESTBED_SHADOW_VMCB_H
#define NESTBED_SHADOW_VMCB_H

#include <stddef.h>
#include <stdint.h>

#include "shadow/svm_exit.h"

/*
 * Intercept vectors (Table B-1). CR and DR: reads of register n in bit n, writes in bit 16 + n
 * (§15.9 "Instruction Intercepts"). Exceptions: vector n in bit n (§15.12).
 */
#define VMCB_INTERCEPT_CR_READ(n) (1u << (n))
#define VMCB_INTERCEPT_CR_WRITE(n) (1u << (16 + (n)))
#define VMCB_INTERCEPT_DR_READ(n) (1u << (n))
#define VMCB_INTERCEPT_DR_WRITE(n) (1u << (16 + (n)))
#define VMCB_INTERCEPT_EXCEPTION(vector) (1u << (vector))

/* Intercept vector 3 (offset 0x00C), "misc1": names as in Table B-1. */
#define VMCB_CTRL_INTERCEPT_MISC1_INTR (1u << 0)
#define VMCB_CTRL_INTERCEPT_MISC1_NMI (1u << 1)
#define VMCB_CTRL_INTERCEPT_MISC1_SMI (1u << 2)
#define VMCB_CTRL_INTERCEPT_MISC1_INIT (1u << 3)
#define VMCB_CTRL_INTERCEPT_MISC1_VINTR (1u << 4)
#define VMCB_CTRL_INTERCEPT_MISC1_CR0_SEL_WRITE (1u << 5) /* CR0 writes changing more than TS/MP */
#define VMCB_CTRL_INTERCEPT_MISC1_IDTR_READ (1u << 6)
#define VMCB_CTRL_INTERCEPT_MISC1_GDTR_READ (1u << 7)
#define VMCB_CTRL_INTERCEPT_MISC1_LDTR_READ (1u << 8)
#define VMCB_CTRL_INTERCEPT_MISC1_TR_READ (1u << 9)
#define VMCB_CTRL_INTERCEPT_MISC1_IDTR_WRITE (1u << 10)
#define VMCB_CTRL_INTERCEPT_MISC1_GDTR_WRITE (1u << 11)
#define VMCB_CTRL_INTERCEPT_MISC1_LDTR_WRITE (1u << 12)
#define VMCB_CTRL_INTERCEPT_MISC1_TR_WRITE (1u << 13)
#define VMCB_CTRL_INTERCEPT_MISC1_RDTSC (1u << 14)
#define VMCB_CTRL_INTERCEPT_MISC1_RDPMC (1u << 15)
#define VMCB_CTRL_INTERCEPT_MISC1_PUSHF (1u << 16)
#define VMCB_CTRL_INTERCEPT_MISC1_POPF (1u << 17)
#define VMCB_CTRL_INTERCEPT_MISC1_CPUID (1u << 18)
#define VMCB_CTRL_INTERCEPT_MISC1_RSM (1u << 19)
#define VMCB_CTRL_INTERCEPT_MISC1_IRET (1u << 20)
#define VMCB_CTRL_INTERCEPT_MISC1_INTN (1u << 21)
#define VMCB_CTRL_INTERCEPT_MISC1_INVD (1u << 22)
#define VMCB_CTRL_INTERCEPT_MISC1_PAUSE (1u << 23)
#define VMCB_CTRL_INTERCEPT_MISC1_HLT (1u << 24)
#define VMCB_CTRL_INTERCEPT_MISC1_INVLPG (1u << 25)
#define VMCB_CTRL_INTERCEPT_MISC1_INVLPGA (1u << 26)
#define VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT (1u << 27)  /* consult the I/O permission map */
#define VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT (1u << 28)   /* consult the MSR permission map */
#define VMCB_CTRL_INTERCEPT_MISC1_TASK_SWITCH (1u << 29)
#define VMCB_CTRL_INTERCEPT_MISC1_FERR_FREEZE (1u << 30)
#define VMCB_CTRL_INTERCEPT_MISC1_SHUTDOWN (1u << 31)

/* Intercept vector 4 (offset 0x010), "misc2". */
#define VMCB_CTRL_INTERCEPT_MISC2_VMRUN (1u << 0) /* must be set, or VMRUN fails (§15.5.1) */
#define VMCB_CTRL_INTERCEPT_MISC2_VMMCALL (1u << 1)
#define VMCB_CTRL_INTERCEPT_MISC2_VMLOAD (1u << 2)
#define VMCB_CTRL_INTERCEPT_MISC2_VMSAVE (1u << 3)
#define VMCB_CTRL_INTERCEPT_MISC2_STGI (1u << 4)
#define VMCB_CTRL_INTERCEPT_MISC2_CLGI (1u << 5)
#define VMCB_CTRL_INTERCEPT_MISC2_SKINIT (1u << 6)
#define VMCB_CTRL_INTERCEPT_MISC2_RDTSCP (1u << 7)
#define VMCB_CTRL_INTERCEPT_MISC2_ICEBP (1u << 8)
#define VMCB_CTRL_INTERCEPT_MISC2_WBINVD (1u << 9)
#define VMCB_CTRL_INTERCEPT_MISC2_MONITOR (1u << 10)
#define VMCB_CTRL_INTERCEPT_MISC2_MWAIT (1u << 11)
#define VMCB_CTRL_INTERCEPT_MISC2_MWAIT_COND (1u << 12)
#define VMCB_CTRL_INTERCEPT_MISC2_XSETBV (1u << 13)
#define VMCB_CTRL_INTERCEPT_MISC2_RDPRU (1u << 14)
#define VMCB_CTRL_INTERCEPT_MISC2_EFER_WRITE_TRAP (1u << 15)
#define VMCB_CTRL_INTERCEPT_MISC2_CR_WRITE_TRAP(n) (1u << (16 + (n)))

/* TLB_CONTROL (offset 0x05C): what VMRUN flushes (§15.16 "TLB Control"). */
#define VMCB_TLB_CONTROL_DO_NOTHING 0
#define VMCB_TLB_CONTROL_FLUSH_ALL 1        /* every ASID */
#define VMCB_TLB_CONTROL_FLUSH_ASID 3       /* this guest's ASID */
#define VMCB_TLB_CONTROL_FLUSH_ASID_LOCAL 7 /* this guest's non-global entries */

/* Virtual interrupt control (offset 0x060, §15.21 "Interrupt and Local APIC Support"). */
#define V_TPR_MASK 0x0fu                /* the guest's virtual CR8 */
#define V_IRQ_MASK (1u << 8)            /* a virtual interrupt is pending */
#define V_GIF_MASK (1u << 9)            /* virtual global interrupt flag */
#define V_INTR_PRIO_SHIFT 16            /* bits 19:16: its priority */
#define V_INTR_PRIO_MASK (0xfu << V_INTR_PRIO_SHIFT)
#define V_IGN_TPR_MASK (1u << 20)       /* deliver it whatever V_TPR says */
#define V_INTR_MASKING_MASK (1u << 24)  /* the guest's RFLAGS.IF masks virtual interrupts only */
#define V_GIF_ENABLE_MASK (1u << 25)
#define AVIC_ENABLE_MASK (1u << 31)
#define V_INTR_VECTOR_MASK 0xffu        /* offset 0x064: the vector of the virtual interrupt */

/* Offset 0x068. */
#define SVM_INTERRUPT_SHADOW_MASK 1u      /* the guest is in an STI / MOV SS shadow */
#define SVM_GUEST_INTERRUPT_MASK (1u << 1) /* the guest's RFLAGS.IF at the exit (with V_INTR_MASKING) */

/* Offset 0x090 (§15.25 "Nested Paging"). */
#define SVM_NESTED_CTL_NP_ENABLE 1ull
#define SVM_NESTED_CTL_SEV_ENABLE (1ull << 1)
#define SVM_NESTED_CTL_SEV_ES_ENABLE (1ull << 2)

/*
 * EVENTINJ (offset 0x0A8) and EXITINTINFO (0x088) share a format (§15.20 "Event Injection"):
 * vector in bits 7:0, type in 10:8, error code valid in 11, valid in 31, error code in 63:32.
 */
#define SVM_EVTINJ_VEC_MASK 0xffu
#define SVM_EVTINJ_TYPE_SHIFT 8
#define SVM_EVTINJ_TYPE_MASK (7u << SVM_EVTINJ_TYPE_SHIFT)
#define SVM_EVTINJ_TYPE_INTR (0u << 8)  /* external or virtual interrupt */
#define SVM_EVTINJ_TYPE_NMI (2u << 8)
#define SVM_EVTINJ_TYPE_EXEPT (3u << 8) /* exception (fault or trap) */
#define SVM_EVTINJ_TYPE_SOFT (4u << 8)  /* software interrupt INT n */
#define SVM_EVTINJ_VALID_ERR (1u << 11)
#define SVM_EVTINJ_VALID (1u << 31)

/* EXITINFO1 of an IOIO intercept (§15.10.2 "IN and OUT Behavior"). */
#define SVM_IOIO_TYPE_IN (1u << 0) /* 1 = IN, 0 = OUT */
#define SVM_IOIO_STR (1u << 2)     /* INS / OUTS */
#define SVM_IOIO_REP (1u << 3)
#define SVM_IOIO_SIZE8 (1u << 4)
#define SVM_IOIO_SIZE16 (1u << 5)
#define SVM_IOIO_SIZE32 (1u << 6)
#define SVM_IOIO_ADDR16 (1u << 7)
#define SVM_IOIO_ADDR32 (1u << 8)
#define SVM_IOIO_ADDR64 (1u << 9)
#define SVM_IOIO_SEG_SHIFT 10      /* bits 12:10: segment of INS/OUTS (0 = ES ... 5 = GS) */
#define SVM_IOIO_PORT_SHIFT 16     /* bits 31:16: the port */

/* EXITINFO1 of a nested page fault: the #PF error code bits, plus (§15.25): */
#define SVM_NPF_FINAL_GPA (1ull << 32)  /* the fault hit the guest's final physical address */
#define SVM_NPF_GUEST_TABLE (1ull << 33) /* the fault hit a guest page-table access */

/*
 * A segment register in the save area (Table B-2): selector, the descriptor's attributes in
 * compressed form (bits 7:0 are descriptor bits 47:40 - type, S, DPL, P; bits 11:8 are
 * descriptor bits 55:52 - AVL, L, D/B, G), limit and base expanded.
 */
struct vmcb_seg {
	uint16_t selector;
	uint16_t attrib;
	uint32_t limit;
	uint64_t base;
};
#define VMCB_SEG_ATTR_TYPE_MASK 0x00f
#define VMCB_SEG_ATTR_S (1u << 4)
#define VMCB_SEG_ATTR_DPL_SHIFT 5
#define VMCB_SEG_ATTR_P (1u << 7)
#define VMCB_SEG_ATTR_AVL (1u << 8)
#define VMCB_SEG_ATTR_L (1u << 9)
#define VMCB_SEG_ATTR_DB (1u << 10)
#define VMCB_SEG_ATTR_G (1u << 11)

/* The control area (Table B-1). */
struct vmcb_control {
	uint32_t intercept_cr;   /* 0x000: bits 15:0 reads, 31:16 writes of CR0-CR15 */
	uint32_t intercept_dr;   /* 0x004: the same for DR0-DR15 */
	uint32_t intercept_exceptions; /* 0x008: one bit per vector */
	uint32_t intercept_misc1;/* 0x00c */
	uint32_t intercept_misc2;/* 0x010 */
	uint32_t intercept_misc3;/* 0x014: INVLPGB, INVPCID, MCOMMIT, TLBSYNC... */
	uint8_t reserved_018[0x03c - 0x018];
	uint16_t pause_filter_thresh; /* 0x03c */
	uint16_t pause_filter_count;  /* 0x03e */
	uint64_t iopm_base_pa;   /* 0x040: I/O permission map, 12 KiB, one bit per port */
	uint64_t msrpm_base_pa;  /* 0x048: MSR permission map, 8 KiB, read and write bit per MSR */
	uint64_t tsc_offset;     /* 0x050: added to the TSC the guest reads */
	uint32_t asid;           /* 0x058: the guest's TLB tag; 0 is the host's and invalid */
	uint8_t tlb_ctl;         /* 0x05c: VMCB_TLB_CONTROL_* */
	uint8_t reserved_05d[3];
	uint32_t int_ctl;        /* 0x060: V_TPR, V_IRQ, V_GIF, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING */
	uint32_t int_vector;     /* 0x064: V_INTR_VECTOR */
	uint32_t int_state;      /* 0x068: interrupt shadow, guest interrupt mask */
	uint32_t reserved_06c;
	uint64_t exit_code;      /* 0x070: enum svm_exit_code (VMEXIT_INVALID is all ones) */
	uint64_t exit_info_1;    /* 0x078 */
	uint64_t exit_info_2;    /* 0x080 */
	uint32_t exit_int_info;  /* 0x088: an event being delivered when the exit came */
	uint32_t exit_int_info_err;
	uint64_t nested_ctl;     /* 0x090: NP_ENABLE, SEV, SEV-ES */
	uint64_t avic_vapic_bar; /* 0x098 */
	uint64_t ghcb_gpa;       /* 0x0a0 */
	uint32_t event_inj;      /* 0x0a8: an event VMRUN delivers to the guest on entry */
	uint32_t event_inj_err;
	uint64_t nested_cr3;     /* 0x0b0: nCR3, the root of the nested page table */
	uint64_t virt_ext;       /* 0x0b8: LBR virtualization, virtual VMLOAD/VMSAVE */
	uint32_t clean;          /* 0x0c0: VMCB clean bits (fields unchanged since the last VMRUN) */
	uint32_t reserved_0c4;
	uint64_t next_rip;       /* 0x0c8: nRIP, the RIP after the intercepted instruction */
	uint8_t insn_len;        /* 0x0d0: bytes fetched at the intercepted instruction */
	uint8_t insn_bytes[15];  /* 0x0d1 */
	uint8_t reserved_0e0[0x400 - 0x0e0];
};

/* The state-save area (Table B-2), at offset 0x400 of the VMCB. */
struct vmcb_save_area {
	struct vmcb_seg es, cs, ss, ds, fs, gs; /* 0x000 - 0x05f */
	struct vmcb_seg gdtr, ldtr, idtr, tr;   /* 0x060 - 0x09f */
	uint8_t reserved_0a0[0x0cb - 0x0a0];
	uint8_t cpl;             /* 0x0cb: the guest's CPL (SS.DPL may differ in real mode) */
	uint32_t reserved_0cc;
	uint64_t efer;           /* 0x0d0 */
	uint8_t reserved_0d8[0x148 - 0x0d8];
	uint64_t cr4;            /* 0x148 */
	uint64_t cr3;            /* 0x150 */
	uint64_t cr0;            /* 0x158 */
	uint64_t dr7;            /* 0x160 */
	uint64_t dr6;            /* 0x168 */
	uint64_t rflags;         /* 0x170 */
	uint64_t rip;            /* 0x178 */
	uint8_t reserved_180[0x1d8 - 0x180];
	uint64_t rsp;            /* 0x1d8 */
	uint64_t s_cet, ssp, isst_addr; /* 0x1e0 - 0x1f7: shadow stacks */
	uint64_t rax;            /* 0x1f8: the only GPR besides RSP that VMRUN switches */
	uint64_t star;           /* 0x200: SYSCALL/SYSRET MSRs */
	uint64_t lstar;          /* 0x208 */
	uint64_t cstar;          /* 0x210 */
	uint64_t sfmask;         /* 0x218 */
	uint64_t kernel_gs_base; /* 0x220: what SWAPGS exchanges with GS.base */
	uint64_t sysenter_cs;    /* 0x228 */
	uint64_t sysenter_esp;   /* 0x230 */
	uint64_t sysenter_eip;   /* 0x238 */
	uint64_t cr2;            /* 0x240 */
	uint8_t reserved_248[0x268 - 0x248];
	uint64_t g_pat;          /* 0x268: the guest's PAT under nested paging */
	uint64_t dbgctl;         /* 0x270 */
	uint64_t br_from, br_to, last_excp_from, last_excp_to; /* 0x278 - 0x297 */
	uint8_t reserved_298[0xc00 - 0x298];
};

struct vmcb {
	struct vmcb_control control;
	struct vmcb_save_area save;
};

#define VMCB_SAVE(field) (0x400 + offsetof(struct vmcb_save_area, field))

_Static_assert(sizeof(struct vmcb_seg) == 16, "a segment register is 16 bytes");
_Static_assert(sizeof(struct vmcb_control) == 0x400, "control area is 0x400 bytes");
_Static_assert(sizeof(struct vmcb) == 0x1000, "a VMCB is one 4 KiB page");
_Static_assert(offsetof(struct vmcb, save) == 0x400, "save area at 0x400");
_Static_assert(offsetof(struct vmcb_control, intercept_misc1) == 0x0c, "misc1 at 0x0c");
_Static_assert(offsetof(struct vmcb_control, pause_filter_thresh) == 0x3c, "pause filter at 0x3c");
_Static_assert(offsetof(struct vmcb_control, iopm_base_pa) == 0x40, "IOPM_BASE_PA at 0x40");
_Static_assert(offsetof(struct vmcb_control, tsc_offset) == 0x50, "TSC_OFFSET at 0x50");
_Static_assert(offsetof(struct vmcb_control, asid) == 0x58, "guest ASID at 0x58");
_Static_assert(offsetof(struct vmcb_control, tlb_ctl) == 0x5c, "TLB_CONTROL at 0x5c");
_Static_assert(offsetof(struct vmcb_control, int_ctl) == 0x60, "V_TPR... at 0x60");
_Static_assert(offsetof(struct vmcb_control, int_state) == 0x68, "interrupt shadow at 0x68");
_Static_assert(offsetof(struct vmcb_control, exit_code) == 0x70, "EXITCODE at 0x70");
_Static_assert(offsetof(struct vmcb_control, exit_info_1) == 0x78, "EXITINFO1 at 0x78");
_Static_assert(offsetof(struct vmcb_control, exit_int_info) == 0x88, "EXITINTINFO at 0x88");
_Static_assert(offsetof(struct vmcb_control, nested_ctl) == 0x90, "NP_ENABLE at 0x90");
_Static_assert(offsetof(struct vmcb_control, event_inj) == 0xa8, "EVENTINJ at 0xa8");
_Static_assert(offsetof(struct vmcb_control, nested_cr3) == 0xb0, "N_CR3 at 0xb0");
_Static_assert(offsetof(struct vmcb_control, clean) == 0xc0, "VMCB clean bits at 0xc0");
_Static_assert(offsetof(struct vmcb_control, next_rip) == 0xc8, "nRIP at 0xc8");
_Static_assert(offsetof(struct vmcb_control, insn_bytes) == 0xd1, "guest bytes at 0xd1");
_Static_assert(VMCB_SAVE(gdtr) == 0x460, "GDTR at 0x460");
_Static_assert(VMCB_SAVE(tr) == 0x490, "TR at 0x490");
_Static_assert(VMCB_SAVE(cpl) == 0x4cb, "CPL at 0x4cb");
_Static_assert(VMCB_SAVE(efer) == 0x4d0, "EFER at 0x4d0");
_Static_assert(VMCB_SAVE(cr4) == 0x548, "CR4 at 0x548");
_Static_assert(VMCB_SAVE(cr0) == 0x558, "CR0 at 0x558");
_Static_assert(VMCB_SAVE(dr6) == 0x568, "DR6 at 0x568");
_Static_assert(VMCB_SAVE(rflags) == 0x570, "RFLAGS at 0x570");
_Static_assert(VMCB_SAVE(rip) == 0x578, "RIP at 0x578");
_Static_assert(VMCB_SAVE(rsp) == 0x5d8, "RSP at 0x5d8");
_Static_assert(VMCB_SAVE(rax) == 0x5f8, "RAX at 0x5f8");
_Static_assert(VMCB_SAVE(star) == 0x600, "STAR at 0x600");
_Static_assert(VMCB_SAVE(kernel_gs_base) == 0x620, "KernelGsBase at 0x620");
_Static_assert(VMCB_SAVE(sysenter_eip) == 0x638, "SYSENTER_EIP at 0x638");
_Static_assert(VMCB_SAVE(cr2) == 0x640, "CR2 at 0x640");
_Static_assert(VMCB_SAVE(g_pat) == 0x668, "G_PAT at 0x668");
_Static_assert(VMCB_SAVE(last_excp_to) == 0x690, "LASTEXCPTO at 0x690");

#endif
