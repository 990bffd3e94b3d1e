/*
 * Everything nbvmm records reaches L0 through one ring: its own events (traps, shadow fills,
 * page-table writes) stamped with its level, and its guest's records, drained from the guest's
 * ring as they are (a parent drains its child's ring into its own, keeping their levels).
 */
#include <string.h>

#include "guests/lib/nbkernel.h"
#include "l1-vmm/guest_mem.h"
#include "l1-vmm/page_alloc.h"
#include "l1-vmm/trace.h"
#include "nestbed/hypercall.h"
#include "tracer/ring_reader.h"
#include "tracer/ring_writer.h"

static struct nb_ring *ring;
static uint8_t own_level;
static struct nb_ring_reader child;
static int have_child;

void trace_init(const struct nb_boot_info *bi)
{
	struct nb_boot_info copy = *bi;

	if (copy.trace_ring_addr)
		copy.trace_ring_addr = (uint64_t)(uintptr_t)phys_to_virt(copy.trace_ring_addr);
	nb_trace_init(&copy);
	ring = nb_trace_ring();
	own_level = (uint8_t)bi->level;
}

void trace_flush(void)
{
	nb_hc_trace_flush();
}

static void push(struct nb_trace_record *rec)
{
	if (ring && nb_ring_push(ring, rec) == 1)
		trace_flush();
}

void trace_guest_event(struct vcpu *v, struct nb_trace_record *rec)
{
	rec->tsc = nb_rdtsc();
	rec->rec_level = own_level;
	rec->guest_level = (uint8_t)v->level;
	rec->vm_id = (uint16_t)v->vm_id;
	if (!rec->rip)
		rec->rip = v->vmcb.save.rip;
	push(rec);
}

void trace_exit(struct vcpu *v, uint8_t action, const uint8_t *insn, unsigned insn_len)
{
	struct nb_trace_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.kind = NB_EV_TRAP;
	rec.action = action;
	rec.exit_code = v->vmcb.control.exit_code;
	rec.exit_info1 = v->vmcb.control.exit_info_1;
	rec.exit_info2 = v->vmcb.control.exit_info_2;
	rec.rip = v->vmcb.save.rip;
	if (insn_len > sizeof(rec.insn))
		insn_len = sizeof(rec.insn);
	rec.insn_len = (uint8_t)insn_len;
	if (insn_len)
		memcpy(rec.insn, insn, insn_len);
	trace_guest_event(v, &rec);
}

void trace_child_init(struct vcpu *v, uint64_t ring_gpa, uint64_t ring_size)
{
	void *mem = guest_phys_ptr(v, ring_gpa, ring_size);

	have_child = mem && nb_ring_reader_init(&child, mem, ring_size, (uint8_t)v->level) == 0;
}

static int child_sink(void *ctx, const struct nb_trace_record *rec)
{
	struct nb_trace_record copy = *rec;

	(void)ctx;
	push(&copy);
	return 0;
}

void trace_child_drain(struct vcpu *v)
{
	uint64_t lost = 0;

	if (!have_child)
		return;
	nb_ring_drain(&child, child_sink, v, &lost);
	if (lost)
		nb_hc(NB_HC_RECORDS_LOST, v->level | (uint64_t)v->vm_id << 16, lost);
}
