/* The guest's side of the trace ring (tracer/trace_format.h): stamp, push, ask for drains. */
#include "tracer/ring_writer.h"
#include "guests/lib/nbkernel.h"

static struct nb_ring *trace_ring;
static uint8_t trace_level;
static uint16_t trace_vm;
static int trace_autoflush = 1;
static struct nb_trace_stats trace_stats;

void nb_trace_init(const struct nb_boot_info *bi)
{
	struct nb_ring *r = (struct nb_ring *)(uintptr_t)bi->trace_ring_addr;
	uint32_t cap = nb_ring_capacity_for(bi->trace_ring_size);

	trace_ring = NULL;
	trace_level = (uint8_t)bi->level;
	trace_vm = (uint16_t)bi->vm_id;
	if (!r || cap == 0)
		return;
	/*
	 * The loader normally writes the header. A header that is still all zero is one nobody
	 * set up; as the ring's producer we may, and the consumer takes sizes from its own boot
	 * info anyway.
	 */
	if (r->magic == 0 && r->capacity == 0 && r->head == 0 && r->tail == 0) {
		r->version = NB_RING_VERSION;
		r->record_size = sizeof(struct nb_trace_record);
		r->capacity = cap;
		r->magic = NB_RING_MAGIC;
	}
	/* Refuse a header whose capacity would make nb_ring_push write outside the ring. */
	if (r->magic != NB_RING_MAGIC || r->record_size != sizeof(struct nb_trace_record) ||
	    r->capacity == 0 || (r->capacity & (r->capacity - 1)) || r->capacity > cap)
		return;
	trace_ring = r;
}

struct nb_ring *nb_trace_ring(void)
{
	return trace_ring;
}

void nb_trace_set_autoflush(int on)
{
	trace_autoflush = on;
}

void nb_trace_flush(void)
{
	if (!trace_ring)
		return;
	trace_stats.flushes++;
	nb_hc_trace_flush();
}

int nb_trace_emit(struct nb_trace_record *rec)
{
	int r;

	rec->tsc = nb_rdtsc();
	rec->rec_level = trace_level;
	rec->guest_level = trace_level;
	rec->vm_id = trace_vm;
	if (!trace_ring) {
		trace_stats.dropped++;
		return -1;
	}
	r = nb_ring_push(trace_ring, rec);
	if (r < 0)
		trace_stats.dropped++;
	else
		trace_stats.pushed++;
	if (r == 1 && trace_autoflush)
		nb_trace_flush();
	return r;
}

int nb_trace_guest(uint64_t aux, uint64_t rip, const void *insn, unsigned insn_len)
{
	struct nb_trace_record rec = { 0 };

	rec.kind = NB_EV_GUEST;
	rec.aux = aux;
	rec.rip = rip;
	if (insn) {
		rec.insn_len = (uint8_t)(insn_len < sizeof(rec.insn) ? insn_len : sizeof(rec.insn));
		memcpy(rec.insn, insn, rec.insn_len);
	}
	return nb_trace_emit(&rec);
}

const struct nb_trace_stats *nb_trace_stats(void)
{
	return &trace_stats;
}
