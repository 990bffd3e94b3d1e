/*
 * What KVM itself does to L1, as level 0 of the trace: run as root, L0 opens a private tracefs
 * instance filtered to its vCPU thread and records KVM's kvm:kvm_inj_exception, kvm:kvm_pio,
 * kvm:kvm_mmio, kvm:kvm_emulate_insn and (where the host has it) kvm:kvm_exit events.
 *
 * Timestamps: the instance uses the x86-tsc trace clock, so each event carries the host TSC;
 * adding KVM's TSC offset gives L1's TSC, the clock every level records on.
 *
 * Volume: on PVM hosts every ring-0 instruction of L1 is emulated (about a million a second), so
 * kvm_emulate_insn events are not stored one by one: consecutive ones become one KVM_EMULATED
 * event with their count, cut at every other KVM event and at every L1 trap record (whose
 * timestamps L0 learns as it drains L1's ring, before it reads tracefs), so that the view
 * v_l1_insns_per_trap can charge each trap of L1 exactly.
 */
#ifndef NESTBED_L0_KVM_TRACEFS_H
#define NESTBED_L0_KVM_TRACEFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracer/trace_format.h"

struct nb_kvm_trace;

/* Receives each level-0 event built from KVM's events; non-zero stops the collection. */
typedef int (*nb_kvm_trace_sink)(void *ctx, struct nb_trace_record *rec);

/*
 * Starts recording KVM's events of thread tid (the vCPU thread). 0, or -1 with why (what keeps
 * level 0 limited to userspace exits: not root, no tracefs, built without libtracefs...).
 */
int nb_kvm_trace_start(struct nb_kvm_trace **out, pid_t tid, char *why, size_t why_len);

/* An L1 trap was recorded at L1 TSC ts: emulated-instruction counts are cut there. */
void nb_kvm_trace_boundary(struct nb_kvm_trace *kt, uint64_t ts);

/*
 * Reads every KVM event recorded so far (call it with the vCPU stopped, after draining L1's ring)
 * and hands the level-0 events to sink. tsc_offset: L1 TSC - host TSC. *lost grows by the events
 * the kernel dropped because the instance's buffers were full. 0 or -1.
 */
int nb_kvm_trace_collect(struct nb_kvm_trace *kt, int64_t tsc_offset, nb_kvm_trace_sink sink,
			 void *ctx, uint64_t *lost);

/* Stops recording and removes the instance. */
void nb_kvm_trace_stop(struct nb_kvm_trace *kt);

#endif
