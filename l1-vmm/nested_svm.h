/*
 * Virtual SVM: nbvmm offers AMD's Secure Virtual Machine to its guest (AMD APM vol. 2, chapter
 * 15), so the guest can be a hypervisor in its turn. The guest's VMRUN traps (it runs in ring 3,
 * where every SVM instruction is #UD); nbvmm copies the guest's VMCB once, checks it
 * (shadow/svm_nested.c), and runs the nested guest itself, by trap-and-emulate, on a second vCPU
 * whose shadow page tables compose the nested guest's tables, the nested page table (when the
 * hypervisor enables nested paging) and nbvmm's own physical map. Each exit of the nested guest
 * is routed: the ones its hypervisor intercepts become a #VMEXIT written into its VMCB; the
 * others (shadow fills, nbvmm's timer, instructions it does not intercept) nbvmm handles and the
 * nested guest goes on, unaware.
 */
#ifndef NBVMM_NESTED_SVM_H
#define NBVMM_NESTED_SVM_H

#include <stdbool.h>
#include <stdint.h>

#include "l1-vmm/vcpu.h"
#include "shadow/insn_decode.h"

#define MSR_VM_CR 0xc0010114
#define MSR_VM_HSAVE_PA 0xc0010117

/* CPUID as the virtual CPU shows SVM: 8000_0001h ECX.SVM, leaf 8000_000Ah (revision, ASIDs,
 * nested paging and next-RIP saving), and an extended range that reaches it. */
void nested_svm_cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d);

/* The SVM instructions of v, after the caller's checks of EFER.SVME (#UD) and CPL (#GP). Each
 * returns 0, or -1 for #GP(0) (a bad VMCB or save-area address in RAX). len: the instruction's
 * length (VMRUN saves the host's RIP after it). */
int nested_svm_vmrun(struct vcpu *v, unsigned len);
int nested_svm_vmload(struct vcpu *v);
int nested_svm_vmsave(struct vcpu *v);
void nested_svm_invlpga(struct vcpu *v);

/* The vCPU to run next for v: its nested guest's while it runs one, else v itself. Before that
 * entry, an interrupt v's own APIC has for it (its hypervisor intercepts INTR) or the nested
 * guest's virtual interrupt (V_IRQ) is dealt with here. */
struct vcpu *nested_svm_prepare_entry(struct vcpu *v);

/* Exit routing for the vCPU g of a nested guest (g->parent set). An instruction that trapped:
 * true when its hypervisor intercepts it (the #VMEXIT is done), false to emulate it for g. */
bool nested_svm_route_insn(struct vcpu *g, const struct insn *in);
/* An exception about to be delivered into g: true when its hypervisor intercepts the vector. */
bool nested_svm_route_exception(struct vcpu *g, unsigned vector, uint32_t err);
/* g touched guest-physical gpa (access: #PF error-code bits) where nbvmm's shadow found no
 * memory: a nested page fault for its hypervisor when its nested page table does not map gpa;
 * else (mapped past the hypervisor's RAM, or no nested paging) an access to nothing, emulated as
 * a bus where nothing answers, or a shutdown when it was a walk of g's own page tables. */
void nested_svm_npf(struct vcpu *g, uint64_t gpa, unsigned access, bool guest_table);
/* After g's exit was handled: a nested guest that shut down becomes #VMEXIT(SHUTDOWN), or,
 * not intercepted, shuts its hypervisor's machine down. */
void nested_svm_after_exit(struct vcpu *g);

/* Guest-physical addresses of a nested guest under nested paging: gpa translated through the
 * nested page table to its hypervisor's guest-physical *out. 0, or -1 (not mapped). */
int nested_svm_npt_gpa(struct vcpu *g, uint64_t gpa, bool write, uint64_t *out, bool *writable);

/* Whether gpa, in the memory of hypervisor v, is a page of its nested page table nbvmm
 * write-protected (it walked it): v's writes there are emulated and reported with
 * nested_svm_npt_write instead of being done. */
bool nested_svm_npt_page(const struct vcpu *v, uint64_t gpa);
/* v wrote the nested-page-table entry at gpa (done): traced, and every translation nbvmm
 * derived from the nested page table is dropped. */
void nested_svm_npt_write(struct vcpu *v, uint64_t gpa, uint64_t old, uint64_t new_val);

#endif
