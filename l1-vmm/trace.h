/* nbvmm's trace: its own events and its guest's ring, all into the ring its parent drains. */
#ifndef NBVMM_TRACE_H
#define NBVMM_TRACE_H

#include <stdint.h>

#include "l1-vmm/vcpu.h"
#include "nestbed/boot.h"
#include "tracer/trace_format.h"

/* bi is nbvmm's own boot info (virtual address); its ring address is physical. */
void trace_init(const struct nb_boot_info *bi);
/* Stamps rec (time, levels, guest, RIP if unset) and appends it; asks for a drain when due. */
void trace_guest_event(struct vcpu *v, struct nb_trace_record *rec);
/* The exit just handled: exit code and information from the VMCB, what nbvmm did about it. */
void trace_exit(struct vcpu *v, uint8_t action, const uint8_t *insn, unsigned insn_len);
/* Sets up the reader of the guest's own ring (in guest memory). */
void trace_child_init(struct vcpu *v, uint64_t ring_gpa, uint64_t ring_size);
/* Moves the guest's records into nbvmm's ring (the guest's flush hypercall, and at exit). */
void trace_child_drain(struct vcpu *v);
/* Asks the parent to drain nbvmm's ring. */
void trace_flush(void);

#endif
