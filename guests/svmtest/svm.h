/*
 * What svmtest, a minimal SVM hypervisor, needs from the CPU beyond shadow/vmcb.h (AMD64
 * Architecture Programmer's Manual, Volume 2, chapter 15 "Secure Virtual Machine"): the feature
 * bits, the MSRs, the permission maps' layout, and one wrapper per SVM instruction
 * (svm_insn.S). Usable from assembly for the register-block offsets.
 *
 * Every wrapper may be used where the instruction is expected to fault: an exception it raises
 * is caught by svmtest's trap hook (a fix-up table in svm_insn.S, as Linux's exception tables
 * do), recorded in svt_fault, and the wrapper returns 1 instead of 0.
 */
#ifndef NESTBED_GUESTS_SVMTEST_SVM_H
#define NESTBED_GUESTS_SVMTEST_SVM_H

/* struct svt_gprs as the world switch in svm_insn.S sees it: byte offsets. */
#define SVT_GPRS_RBX 0
#define SVT_GPRS_RCX 8
#define SVT_GPRS_RDX 16
#define SVT_GPRS_RSI 24
#define SVT_GPRS_RDI 32
#define SVT_GPRS_RBP 40
#define SVT_GPRS_R8 48
#define SVT_GPRS_R9 56
#define SVT_GPRS_R10 64
#define SVT_GPRS_R11 72
#define SVT_GPRS_R12 80
#define SVT_GPRS_R13 88
#define SVT_GPRS_R14 96
#define SVT_GPRS_R15 104

/* struct svt_world_switch: byte offsets. */
#define SVT_WS_ENTRIES 0
#define SVT_WS_RESUMES 8
#define SVT_WS_RSP_BEFORE 16
#define SVT_WS_RSP_AFTER 24
#define SVT_WS_RAX_AFTER 32

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/* CPUID (APM vol. 3, appendix E). 8000_0001 ECX[2]: SVM. 8000_000A: EAX[7:0] the SVM revision,
 * EBX the number of ASIDs, EDX the optional features (§15.4 "Enabling SVM"). */
#define CPUID_EXT_MAX 0x80000000u
#define CPUID_EXT_FEATURES 0x80000001u
#define CPUID_EXT_ADDR_SIZES 0x80000008u /* EAX[7:0]: MAXPHYADDR */
#define CPUID_SVM_FEATURES 0x8000000au
#define CPUID_EXT_ECX_SVM (1u << 2)
#define CPUID_SVM_EDX_NP (1u << 0)             /* nested paging (§15.25) */
#define CPUID_SVM_EDX_NRIPS (1u << 3)          /* nRIP saved on #VMEXIT (§15.7.1) */
#define CPUID_SVM_EDX_DECODE_ASSISTS (1u << 7) /* EXITINFO1 names MOV CRn's GPR ("Decode Assists") */

/* MSRs (§15.30 "SVM Related MSRs"). */
#define MSR_VM_CR 0xc0010114u
#define VM_CR_SVMDIS (1ull << 4)     /* set: EFER.SVME cannot be set (firmware disabled SVM) */
#define MSR_VM_HSAVE_PA 0xc0010117u  /* where VMRUN saves the host's state; page aligned */
#define X86_EFER_SVME (1ull << 12)   /* SVM enable: SVM instructions are #UD while clear */

/* Other MSRs VMLOAD and VMSAVE move (§15.5.2), and PAT for the guest's G_PAT. */
#define MSR_SYSENTER_CS 0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
#define MSR_PAT 0x277u
#define MSR_CSTAR 0xc0000083u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u

/*
 * The I/O permission map (§15.10.1): 12 KiB, one bit per port; an access is intercepted when
 * the bit of any port it touches is set (the third page covers accesses that run past 0xffff).
 * The MSR permission map (§15.11): 8 KiB, two bits per MSR (read, then write) for three ranges
 * of 8192 MSRs, 2 KiB each: 0000_0000, C000_0000 and C001_0000. MSRs outside them always exit.
 */
#define SVM_IOPM_SIZE 0x3000u
#define SVM_MSRPM_SIZE 0x2000u
#define SVM_MSRPM_RANGE_MSRS 0x2000u
#define SVM_MSRPM_RANGE_BYTES 0x800u

/* The guest's general registers that VMRUN does not switch: everything but RAX and RSP, which
 * live in the VMCB's save area (§15.5.1). The hypervisor saves and restores them itself. */
struct svt_gprs {
	uint64_t rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};
_Static_assert(offsetof(struct svt_gprs, rsi) == SVT_GPRS_RSI, "svm_insn.S offsets");
_Static_assert(offsetof(struct svt_gprs, r15) == SVT_GPRS_R15, "svm_insn.S offsets");

/* What svt_vmrun observed of the host side of each world switch, for the host-state checks. */
struct svt_world_switch {
	uint64_t entries;    /* times execution reached the VMRUN instruction from the code before it */
	uint64_t resumes;    /* times it went on at the instruction after it */
	uint64_t rsp_before; /* RSP at the VMRUN */
	uint64_t rsp_after;  /* RSP at the instruction after it */
	uint64_t rax_after;  /* RAX there: #VMEXIT restores the host's, the VMCB address */
};
_Static_assert(offsetof(struct svt_world_switch, rax_after) == SVT_WS_RAX_AFTER, "svm_insn.S offsets");
extern struct svt_world_switch svt_world_switch;

/* The exception the last wrapper call raised (when it returned 1). */
struct svt_fault {
	uint64_t vector, error;
};
extern struct svt_fault svt_fault;

/*
 * VMRUN (§15.5): rAX = the VMCB's physical address. Loads the guest's GPRs from *gprs, runs the
 * guest until a #VMEXIT and stores the guest's GPRs back into *gprs; the host's callee-saved
 * registers are preserved. Returns 0 after a #VMEXIT (the exit code is in the VMCB), 1 when
 * VMRUN itself raised an exception.
 */
int svt_vmrun(uint64_t vmcb_pa, struct svt_gprs *gprs);
/* VMLOAD and VMSAVE (§15.5.2): rAX = the physical address of a VMCB-format page. */
int svt_vmload(uint64_t pa);
int svt_vmsave(uint64_t pa);
/* STGI and CLGI (§15.17): set and clear the global interrupt flag. */
int svt_stgi(void);
int svt_clgi(void);
int svt_rdmsr(uint32_t msr, uint64_t *value);
int svt_wrmsr(uint32_t msr, uint64_t value);
/* Called with a trap frame's RIP: where to resume after a wrapped instruction faulted there,
 * or 0 when that RIP is none of them. */
uint64_t svt_fixup(uint64_t rip);

/* Ring-3 code (in .user.text): VMRUN with RAX = RDI, then UD2. svt_user_vmrun_insn is the VMRUN. */
extern char svt_user_vmrun[], svt_user_vmrun_insn[];
#endif

#endif
