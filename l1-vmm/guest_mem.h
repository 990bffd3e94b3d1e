/* Reaching a guest's memory from nbvmm: guest-physical through the guest's RAM block,
 * guest-virtual through the guest's own page tables, exactly as its MMU would. */
#ifndef NBVMM_GUEST_MEM_H
#define NBVMM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "l1-vmm/vcpu.h"
#include "shadow/shadow_ops.h"

extern const struct shadow_ops nbvmm_shadow_ops;

/* nbvmm's pointer to guest-physical [gpa, gpa + len), or NULL when any of it is outside RAM. */
void *guest_phys_ptr(struct vcpu *v, uint64_t gpa, uint64_t len);

/* Access types for guest_virt_access (the #PF error-code bits of the access). */
#define GUEST_ACC_WRITE 0x2u
#define GUEST_ACC_USER 0x4u
#define GUEST_ACC_FETCH 0x10u

/*
 * Copies len bytes between buf and guest-virtual gva, checking each page as the guest's MMU would
 * for an access of type acc at the guest's current CPL. Returns 0, or 1 with *pf_error set when
 * the guest must take a #PF (its CR2 = *pf_addr), or a negative error when the guest's tables
 * point outside its RAM. A write to a frame that holds a guest page table is reported to the
 * shadow (spt_pt_write), so nbvmm never edits a guest table behind its own back.
 */
int guest_virt_access(struct vcpu *v, uint64_t gva, void *buf, size_t len, unsigned acc,
		      uint32_t *pf_error, uint64_t *pf_addr);

/* An implicit supervisor access (descriptor tables, the TSS, the stack an exception is delivered
 * on): made with CPL 0's rights whatever the guest's CPL. 0, or non-zero when it faulted. */
int guest_sys_access(struct vcpu *v, uint64_t gva, void *buf, size_t len, unsigned acc);

/* Reads the guest's descriptor for selector sel (GDT, or LDT when TI is set) into seg, in the
 * VMCB's form; system: a 16-byte system descriptor (TSS, LDT) of long mode. 0, or -1 when the
 * selector is outside its table or the table is unreadable. */
int guest_load_descriptor(struct vcpu *v, uint16_t sel, struct vmcb_seg *seg, int system);

#endif
