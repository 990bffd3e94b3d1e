/*
 * One virtual CPU of a guest nbvmm runs by trap-and-emulate. Its architectural state is a VMCB
 * (shadow/vmcb.h): the save area holds what the guest believes (its CPL, CR0/3/4, EFER, RIP,
 * RFLAGS with the virtual IF and IOPL, descriptor-table registers, MSRs) and the control area
 * says why the last "#VMEXIT" happened. The real CPU state the guest runs on in ring 3 is the
 * frame; the general registers other than RAX and RSP live only there.
 */
#ifndef NBVMM_VCPU_H
#define NBVMM_VCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "l1-vmm/frame.h"
#include "l1-vmm/vlapic.h"
#include "nestbed/boot.h"
#include "shadow/spt.h"
#include "shadow/vmcb.h"

#define X86_RFLAGS_CF 0x1ull
#define X86_RFLAGS_FIXED 0x2ull
#define X86_RFLAGS_TF 0x100ull
#define X86_RFLAGS_IF 0x200ull
#define X86_RFLAGS_DF 0x400ull
#define X86_RFLAGS_IOPL 0x3000ull
#define X86_RFLAGS_NT 0x4000ull
#define X86_RFLAGS_RF 0x10000ull
#define X86_RFLAGS_VM 0x20000ull
#define X86_RFLAGS_AC 0x40000ull
/* CR4 bits a guest may set (AMD APM vol. 2, 3.1.3): all defined ones but LA57. The same for a
 * guest's CR4 and for a nested guest's in a VMCB (nested_svm.c). */
#define NBVMM_CR4_VALID 0x370fffull
/* The flags a deprivileged guest may really own; IF, IOPL, NT, RF, VM stay virtual. */
#define X86_RFLAGS_GUEST_REAL (0xcd5ull | X86_RFLAGS_TF | X86_RFLAGS_DF | X86_RFLAGS_AC | (1ull << 21))

/*
 * A few guest-virtual pages nbvmm reached recently with a walk of the guest's tables, and what
 * that walk allowed (rights: SOFT_TLB_READ, _WRITE once a write walk set the dirty bit, _FETCH).
 * Valid while gen equals the vCPU's tlb_gen.
 */
#define SOFT_TLB_ENTRIES 8
#define SOFT_TLB_READ 1
#define SOFT_TLB_WRITE 2
#define SOFT_TLB_FETCH 4
struct soft_tlb {
	uint64_t page, gen;
	uint64_t gpa; /* the guest-physical page it maps */
	uint8_t cpl, rights;
	uint8_t *host;
};

struct vcpu {
	struct vmcb vmcb;          /* page-aligned: the first member of a page-aligned vcpu */
	struct nbvmm_frame *frame; /* where the guest's real registers are while it runs */
	struct spt_ctx spt;
	uint64_t mem_hpa;          /* the guest's RAM: guest-physical [0, mem_size) is here */
	uint64_t mem_size;
	uint32_t level;            /* the guest's level (nbvmm's own + 1) */
	uint32_t vm_id;
	uint64_t dr[8];            /* debug registers (recorded, not acted on) */
	uint32_t tsc_aux;
	uint8_t maxphyaddr;        /* physical-address width the guest sees (CPUID 8000_0008h) */
	uint64_t deadline_tsc;     /* nbvmm stops the guest when its TSC passes this; 0: never */
	struct vlapic lapic;       /* the guest's local APIC */
	bool step_tf_saved;        /* the guest's own TF while nbvmm single-steps its STI shadow */
	uint64_t tlb_gen;          /* bumped by anything that may change a guest translation */
	bool segs_dirty;           /* a 32-bit guest's DS/ES/SS changed: mirror them again */
	bool svm_engine;           /* run with the CPU's VMRUN and nested paging (svm_engine.c) */
	bool audit;                /* audit mode (audit.c): single-step the guest's kernel */
	bool faithful;             /* faithful mode (audit.c): emulate sensitive instructions too */
	bool cpuid_faulting;       /* the guest's MISC_FEATURES_ENABLES.CPUID_FAULT (faithful mode) */
	bool audit_step;           /* this entry single-steps one instruction at audit_rip */
	uint64_t audit_rip, audit_rsp;
	struct soft_tlb soft_tlb[SOFT_TLB_ENTRIES]; /* guest_mem.c: nbvmm's own walks, remembered */
	/* Virtual SVM (nested_svm.c). For a guest that is a hypervisor: its global interrupt flag,
	 * VM_HSAVE_PA, and, while it runs a nested guest with VMRUN, that guest's vCPU. */
	bool gif;
	uint64_t vm_hsave_pa;
	struct vcpu *nested;
	/* For the vCPU of a nested guest: the hypervisor vCPU that VMRUN it, and, under nested
	 * paging, the root of the nested page table its guest-physical addresses go through. */
	struct vcpu *parent;
	bool npt;
	uint64_t ncr3;
	bool stopped;
	int exit_status;
	uint64_t exits;
};

/* The software VMRUN: enters the guest and returns at its next exit, with vmcb.control's
 * exit_code, exit_info_1 and exit_info_2 set as SVM would set them. */
void vcpu_run(struct vcpu *v);

/* General register n (0 = RAX ... 15 = R15, in the instruction encoding's order). */
uint64_t *vcpu_gpr(struct vcpu *v, unsigned n);

static inline unsigned vcpu_cpl(const struct vcpu *v)
{
	return v->vmcb.save.cpl;
}

#endif
