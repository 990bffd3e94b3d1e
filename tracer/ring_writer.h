/*
 * Producer side of the trace ring (see trace_format.h), for guests and nbvmm: freestanding,
 * header-only, no libc. Also compiled hosted by the ring tests.
 */
#ifndef NESTBED_RING_WRITER_H
#define NESTBED_RING_WRITER_H

#include <stdint.h>
#include "tracer/trace_format.h"

/*
 * The record is copied as 64-bit words. Reading a struct that has 8- and 16-bit members through
 * plain uint64_t pointers breaks strict aliasing: after inlining, the compiler may load the words
 * before the caller's stores to rec->kind and friends. may_alias makes the word copy legal.
 */
typedef uint64_t __attribute__((may_alias)) nb_ring_word;

/*
 * Appends *rec (its seq is ignored and set here). Returns 0, or -1 when the ring is full: the
 * record is dropped and counted in ring->lost. Returns 1 when the ring is now at least half
 * full, as a hint to ask the parent for a drain (NB_HC_TRACE_FLUSH).
 */
static inline int nb_ring_push(struct nb_ring *ring, const struct nb_trace_record *rec)
{
	uint32_t cap = ring->capacity;
	uint64_t head = ring->head;
	uint64_t tail = ring->tail;
	struct nb_trace_record *slot;
	const nb_ring_word *src;
	nb_ring_word *dst;
	unsigned long n;

	if (cap == 0 || head - tail >= cap) {
		ring->lost++;
		return -1;
	}
	slot = nb_ring_records(ring) + (head & (cap - 1));
	src = (const nb_ring_word *)rec + 1;
	dst = (nb_ring_word *)slot + 1;
	n = sizeof(*rec) / 8 - 1;
	/* seq (word 0) last, so a reader never sees a complete-looking record half written. One
	 * REP MOVSQ: in a hypervisor whose ring-0 code is emulated, one instruction, not a loop. */
	__asm__ volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
	slot->seq = head + 1;
	__asm__ volatile("" ::: "memory");
	ring->head = head + 1;
	return (head + 1 - tail) * 2 >= cap ? 1 : 0;
}

#endif
