/*
 * svmtest: a minimal SVM hypervisor as a test kernel (AMD64 Architecture Programmer's Manual,
 * Volume 2, chapter 15). It enables SVM, builds VMCBs for small guests made of its own code
 * (guest.S) and runs them with VMRUN, checking each #VMEXIT the way a nested hypervisor relies
 * on it: exit codes, EXITINFO1/2, nRIP, event injection, VMEXIT_INVALID, VMLOAD/VMSAVE state,
 * nested page faults, and that its own state comes back intact.
 *
 * The checks are grouped in areas (one per intercept or instruction). An area names all its
 * PASS/FAIL lines up front, so that a CPU without SVM (or without an optional feature an area
 * needs) prints the same names as SKIP lines, and so that an area cut short by a wrong exit or
 * an exception in the hypervisor still prints every one of its lines (as FAIL).
 *
 * Memory: the kernel runs on an identity map (the nestbed boot protocol, then its own tables
 * from guests/lib/paging.c), so the address of every object is its physical address: the
 * VMCB, the host save area and the permission maps are page-aligned statics (vm.c); the guest
 * runs this kernel's own code on this kernel's own page tables, or with nested paging on an nCR3
 * that identity-maps guest-physical memory (npt.c).
 */
#ifndef NESTBED_GUESTS_SVMTEST_SVMTEST_H
#define NESTBED_GUESTS_SVMTEST_SVMTEST_H

#include "guests/fidelity/fid64.h"
#include "guests/fidelity/fidcheck.h"
#include "guests/svmtest/guest.h"
#include "guests/svmtest/svm.h"
#include "shadow/vmcb.h"

/* What CPUID says of SVM (§15.4), filled by svmtest.c before any area runs. */
struct svt_cpu {
	uint32_t revision;   /* 8000_000A EAX[7:0] */
	uint32_t nasid;      /* 8000_000A EBX: ASIDs, the host's (0) included */
	uint32_t features;   /* 8000_000A EDX: CPUID_SVM_EDX_* */
	unsigned maxphyaddr; /* 8000_0008 EAX[7:0] */
};
extern struct svt_cpu svt_cpu;

static inline int svt_has(uint32_t feature)
{
	return (svt_cpu.features & feature) == feature;
}

/*
 * An area of checks. lines[] holds the names of its PASS/FAIL lines in the order run() prints
 * them (through svt_check, by index). needs: CPUID 8000_000A EDX bits without which the area
 * cannot run; its lines are SKIPped then, saying needs_why.
 */
struct svt_area {
	const char *const *lines;
	unsigned n;
	uint32_t needs;
	const char *needs_why;
	void (*run)(void);
};

#define SVT_AREA(lines, needs, needs_why, run) { (lines), FID_COUNT(lines), (needs), (needs_why), (run) }

/* The size of RAM, from the boot info. */
extern uint64_t svt_mem_size;

/* The areas, in the order kmain runs them. */
extern const struct svt_area svt_area_setup, svt_area_vmrun_faults, svt_area_vmmcall,
	svt_area_registers, svt_area_cpuid, svt_area_hlt, svt_area_ioio, svt_area_msr, svt_area_cr,
	svt_area_exceptions, svt_area_inject, svt_area_invalid, svt_area_vmload_vmsave,
	svt_area_gif, svt_area_npt, svt_area_host_state;

/* One line of the running area: PASS when every field has its expected value, else FAIL
 * naming the first that does not. Returns 1 on PASS. */
int svt_check(unsigned line, const struct fid_field *fields, unsigned n);
void svt_fail(unsigned line, const char *why);
/* The name of the line the running area is at, for messages about what it was doing. */
const char *svt_line_name(void);

/* A guest: its VMCB and the general registers the hypervisor keeps for it (svt_vmrun). */
struct svt_vm {
	struct vmcb *vmcb;
	struct svt_gprs gprs;
};

/* Not an SVM exit code: what svt_vm_run returns when VMRUN raised an exception instead. */
#define SVT_EXIT_VMRUN_RAISED 0xfffffffffffff000ull

/* vm.c: the VMCB for a guest that starts at entry (one VMCB, rebuilt by every call), with the
 * IOPM and MSRPM cleared. */
void svt_vm_init(struct svt_vm *vm, const void *entry);
/* One VMRUN: the exit code, or SVT_EXIT_VMRUN_RAISED. Checks the host's state after it. */
uint64_t svt_vm_run(struct svt_vm *vm);
/* After emulating the intercepted instruction (len bytes): on to the next one. */
void svt_vm_skip(struct svt_vm *vm, unsigned len);
void svt_iopm_intercept(uint16_t port);
void svt_msrpm_intercept(uint32_t msr, int read, int write);
uint64_t svt_hsave_pa(void);
/* A console line with the physical addresses above, for whoever debugs the CPU under us. */
void svt_vm_describe(void);
/* The guest IDT's gate for vector vec points at handler. */
void svt_guest_idt_set(unsigned vec, const void *handler);
/* The host's state now, as every #VMEXIT must restore it; and the host-state area's lines. */
void svt_host_snapshot(void);
void svt_host_report(unsigned line_state, unsigned line_rip);

#define SVT_ADDR(sym) FID_ADDR(sym)

#endif
