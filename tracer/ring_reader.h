/*
 * Host side of the trace ring (see trace_format.h): drains records a guest wrote into its ring.
 * The guest is untrusted: the reader keeps its own capacity and tail, checks every record's seq
 * and fields, and counts what it rejects instead of storing it.
 */
#ifndef NESTBED_RING_READER_H
#define NESTBED_RING_READER_H

#include <stdint.h>
#include "tracer/trace_format.h"

struct nb_ring_reader {
	struct nb_ring *ring;  /* the ring in host memory (mapped guest memory) */
	uint32_t capacity;     /* from the size the host gave, never from the ring header */
	uint8_t min_level;     /* lowest rec_level a record of this ring may claim */
	uint64_t tail;         /* the reader's own count of records consumed */
	uint64_t torn;         /* records rejected: seq mismatch (torn or forged) */
	uint64_t invalid;      /* records rejected: bad kind, level or length */
	uint64_t overrun;      /* records the producer claims beyond one ring's worth (lost) */
	uint64_t lost_reported;/* the producer's `lost` counter as last seen */
};

/* Initialises the ring header in guest memory (the host does this before boot) and the reader.
 * Returns 0, or -1 when size is too small for one record. */
int nb_ring_reader_init(struct nb_ring_reader *rd, void *ring_mem, uint64_t size, uint8_t min_level);

/* Called for each valid record, in order; a non-zero return stops the drain and is returned. */
typedef int (*nb_ring_sink_fn)(void *ctx, const struct nb_trace_record *rec);

/*
 * Drains every record produced since the last drain. *new_lost receives the number of records
 * lost since the last drain (ring full, as the producer counted, plus torn, invalid and overrun
 * records the reader rejected). Returns the number of records passed to sink, or the sink's
 * negative return; the record the sink refused is read again by the next drain. A head more than
 * one ring ahead of the tail is clamped (the excess counts as overrun); a head behind the tail
 * is ignored.
 */
int64_t nb_ring_drain(struct nb_ring_reader *rd, nb_ring_sink_fn sink, void *ctx, uint64_t *new_lost);

#endif
