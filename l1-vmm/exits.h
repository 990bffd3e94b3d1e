/* What nbvmm does with each exit of its guest (the #VMEXIT handlers of its software VMRUN). */
#ifndef NBVMM_EXITS_H
#define NBVMM_EXITS_H

#include <stdint.h>

#include "l1-vmm/layout.h"
#include "l1-vmm/vcpu.h"
#include "shadow/insn_decode.h"

/* The address the real LSTAR points at: an empty part of nbvmm's own slot, mapped in no shadow,
 * so a guest SYSCALL (which on these machines stays in ring 3, and elsewhere enters ring 0)
 * faults there with RCX and R11 set. */
#define NBVMM_SYSCALL_TRAP (nbvmm_vma + NBVMM_SYSCALL_OFFSET)

void handle_exit(struct vcpu *v);

/* main.c: the guest executed HLT with interrupts on: wait for its next interrupt. */
void vcpu_halt(struct vcpu *v);

/* emulate.c: the instruction at the guest's RIP trapped (#GP, #UD): emulate or deliver it. */
void emulate_trapped_insn(struct vcpu *v);
/* Faithful mode: when the instruction at the guest's RIP is one that would run in ring 3 without
 * trapping although it is sensitive, emulates it against the virtual CPU (and traces it as the
 * intercept SVM would take) and returns true; else false, and the guest runs it. */
bool emulate_sensitive_at_rip(struct vcpu *v);
/* The exit code SVM gives when the decoded instruction is intercepted, or `trapped` for an
 * instruction SVM has no intercept for. */
uint64_t emulate_svm_exit_code(const struct insn *in, uint64_t trapped);
/* emulate.c: a write to a guest page table (a read-only shadow leaf): emulate the store. */
void emulate_pt_write(struct vcpu *v);
/* emulate.c: a MOV to or from guest-physical memory outside RAM: the local APIC, or nothing. */
void emulate_mmio(struct vcpu *v, uint64_t gpa);
/* emulate.c: the guest executed SYSCALL (the fault at NBVMM_SYSCALL_TRAP). */
void emulate_syscall(struct vcpu *v);

/* io.c: port I/O by the guest, served as its parent serves nbvmm's. */
uint32_t io_in(struct vcpu *v, uint16_t port, unsigned size);
void io_out(struct vcpu *v, uint16_t port, unsigned size, uint32_t value);

#endif
