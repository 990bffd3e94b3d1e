/*
 * nbvmm as a hypervisor that uses the SVM it is given (issue "Virtual SVM and recursion", item
 * 4): when its own CPU offers SVM (at depth 3 and below, the virtual SVM of the nbvmm above it),
 * nbvmm runs its guest with VMRUN on the guest's VMCB, with nested paging over an identity map
 * of the guest's RAM, instead of deprivileging it by trap-and-emulate. The guest's page tables
 * are then its own business; nbvmm sees only the exits it intercepts (port I/O, MSRs, HLT,
 * shutdown, its own timer, and nested page faults on the local APIC page), and handles them with
 * the same emulator as before. The guest is offered virtual SVM in turn (nested_svm.c): a
 * hypervisor at every level runs its guest with VMRUN.
 */
#ifndef NBVMM_SVM_ENGINE_H
#define NBVMM_SVM_ENGINE_H

#include <stdbool.h>

#include "l1-vmm/vcpu.h"

/* Sets SVM up for v when the CPU has it: EFER.SVME, the host save area, the nested page table,
 * the VMCB's intercepts. false (nothing changed) when the CPU has no SVM or refuses it. */
bool svm_engine_init(struct vcpu *v);

/* The hardware VMRUN: enters v and returns at its #VMEXIT, with the VMCB's exit fields set. */
void svm_engine_run(struct vcpu *v);
/* Before nbvmm reads or writes the guest's FS, GS, TR, LDTR, KernelGsBase or system-call MSRs in
 * its VMCB (an MSR exit): the CPU's copy, which is the current one, into the VMCB. */
void svm_engine_sync_state(struct vcpu *v);
/* Sets GIF (clear since the last #VMEXIT) so that nbvmm's own interrupts can come in. */
void svm_engine_allow_interrupts(void);
/* Before nbvmm runs next, a vCPU of its own, by trap-and-emulate (the nested guest of a guest it
 * runs with VMRUN): nbvmm's own TR, LDTR and system-call MSRs back in the CPU (the guest's saved
 * into its VMCB), next's FS and GS bases, GIF set. Nothing to do when no VMRUN ran since. */
void svm_engine_leave(struct vcpu *next);
/* Makes guest-physical page gpa of v read-only in its nested page table (a write there is then
 * a nested page fault nbvmm emulates). 0, or -1 (outside its RAM, or no memory to split a large
 * page). */
int svm_engine_write_protect(struct vcpu *v, uint64_t gpa);

#endif
