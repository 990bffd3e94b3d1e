/*
 * nbvmm as a hypervisor that uses the SVM it is given (issue "Virtual SVM and recursion", item
 * 4): when its own CPU offers SVM (at depth 3 and below, the virtual SVM of the nbvmm above it),
 * nbvmm runs its guest with VMRUN on the guest's VMCB, with nested paging over an identity map
 * of the guest's RAM, instead of deprivileging it by trap-and-emulate. The guest's page tables
 * are then its own business; nbvmm sees only the exits it intercepts (port I/O, MSRs, HLT,
 * shutdown, its own timer, and nested page faults on the local APIC page), and handles them with
 * the same emulator as before.
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

#endif
