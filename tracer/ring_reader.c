/*
 * Consumer side of the trace ring. The producer runs in a guest and may be buggy, stopped
 * mid-write or hostile, so everything read from the ring is treated as a claim: the reader keeps
 * its own capacity and tail, copies each record out of guest memory before looking at it, and
 * counts every record it cannot vouch for instead of storing it.
 */
#include <string.h>

#include "tracer/names.h"
#include "tracer/ring_reader.h"

/* Guest memory can change under us; a barrier keeps the compiler from re-reading it after a check. */
#define nb_compiler_barrier() __asm__ volatile("" ::: "memory")

int nb_ring_reader_init(struct nb_ring_reader *rd, void *ring_mem, uint64_t size, uint8_t min_level)
{
	struct nb_ring *ring = ring_mem;
	uint32_t cap = nb_ring_capacity_for(size);

	memset(rd, 0, sizeof(*rd));
	if (cap == 0)
		return -1;
	/*
	 * Zeroing the slots matters when the memory held an earlier ring: a stale record whose seq
	 * happens to equal its new index would otherwise pass for one the producer never finished.
	 */
	memset(ring_mem, 0, NB_RING_HEADER_SIZE + (uint64_t)cap * sizeof(struct nb_trace_record));
	ring->magic = NB_RING_MAGIC;
	ring->version = NB_RING_VERSION;
	ring->record_size = sizeof(struct nb_trace_record);
	ring->capacity = cap;
	rd->ring = ring;
	rd->capacity = cap;
	rd->min_level = min_level;
	return 0;
}

static int nb_ring_record_valid(const struct nb_ring_reader *rd, const struct nb_trace_record *rec)
{
	if (rec->kind == NB_EV_NONE || rec->kind >= NB_EV_KIND_COUNT)
		return 0;
	if (rec->action >= NB_TRAP_ACTION_COUNT)
		return 0;
	/* A level records what it sees itself or below it, never what happens above it. */
	if (rec->rec_level < rd->min_level || rec->guest_level < rec->rec_level)
		return 0;
	return rec->insn_len <= sizeof(rec->insn);
}

int64_t nb_ring_drain(struct nb_ring_reader *rd, nb_ring_sink_fn sink, void *ctx, uint64_t *new_lost)
{
	struct nb_ring *ring = rd->ring;
	struct nb_trace_record *slots;
	uint64_t mask = rd->capacity - 1;
	uint64_t rejected_before = rd->torn + rd->invalid + rd->overrun;
	uint64_t head, lost_now, full_lost = 0, i;
	struct nb_trace_record rec;
	int64_t passed = 0;
	int rc = 0;

	if (new_lost)
		*new_lost = 0;
	if (rd->capacity == 0)
		return 0;
	slots = nb_ring_records(ring);
	head = ring->head;
	nb_compiler_barrier();
	/*
	 * A head behind our tail cannot come from an honest producer; there is nothing to read and
	 * no count of records to blame, so it is ignored and the tail below tells the producer
	 * where the consumer really is.
	 */
	if (head < rd->tail)
		head = rd->tail;
	if (head - rd->tail > rd->capacity) {
		rd->overrun += head - rd->tail - rd->capacity;
		rd->tail = head - rd->capacity;
	}
	for (i = rd->tail; i != head; i++) {
		memcpy(&rec, &slots[i & mask], sizeof(rec));
		nb_compiler_barrier();
		if (rec.seq != i + 1) {
			rd->torn++;
			continue;
		}
		if (!nb_ring_record_valid(rd, &rec)) {
			rd->invalid++;
			continue;
		}
		rc = sink(ctx, &rec);
		if (rc != 0)
			break;
		passed++;
	}
	/* Every slot is copied out before the producer is told it may reuse it. */
	nb_compiler_barrier();
	/* On a sink failure the record it refused stays unconsumed, for the next drain. */
	rd->tail = i;
	ring->tail = i;

	lost_now = ring->lost;
	if (lost_now > rd->lost_reported)
		full_lost = lost_now - rd->lost_reported;
	rd->lost_reported = lost_now;
	if (new_lost)
		*new_lost = full_lost + rd->torn + rd->invalid + rd->overrun - rejected_before;
	return rc != 0 ? rc : passed;
}
