/*
 * The trace ring: nb_ring_push (tracer/ring_writer.h, the guest side) against nb_ring_drain
 * (tracer/ring_reader.c, the host side), including a producer that lies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tracer/names.h"
#include "tracer/ring_reader.h"
#include "tracer/ring_writer.h"

#define MAX_SEEN 4096

/* What a drain handed to its sink. */
struct seen {
	uint64_t count;
	uint64_t addr[MAX_SEEN];
	int stop_at;  /* sink returns stop_rc at this call (1-based), 0: never */
	int stop_rc;
	int calls;
};

static int sink_record(void *ctx, const struct nb_trace_record *rec)
{
	struct seen *s = ctx;

	s->calls++;
	if (s->stop_at && s->calls == s->stop_at)
		return s->stop_rc;
	if (s->count < MAX_SEEN)
		s->addr[s->count] = rec->addr;
	s->count++;
	return 0;
}

/* A ring of `records` slots in a buffer of exactly the size the host would give. */
static void *ring_alloc(uint32_t records, uint64_t *size)
{
	void *mem;

	*size = NB_RING_HEADER_SIZE + (uint64_t)records * sizeof(struct nb_trace_record);
	mem = malloc(*size);
	assert_non_null(mem);
	memset(mem, 0xa5, *size);
	return mem;
}

static struct nb_trace_record valid_record(uint64_t addr)
{
	struct nb_trace_record r;

	memset(&r, 0, sizeof(r));
	r.kind = NB_EV_TRAP;
	r.rec_level = 1;
	r.guest_level = 2;
	r.vm_id = 7;
	r.action = NB_ACT_EMULATED;
	r.exit_code = 0x72;
	r.addr = addr;
	r.insn_len = 2;
	r.insn[0] = 0x0f;
	r.insn[1] = 0xa2;
	return r;
}

static void init_sets_header_and_capacity_is_largest_power_of_two_that_fits(void **state)
{
	struct nb_ring_reader rd;
	uint64_t size;
	void *mem = ring_alloc(13, &size);
	struct nb_ring *ring = mem;

	(void)state;
	assert_int_equal(nb_ring_reader_init(&rd, mem, size, 1), 0);
	assert_int_equal(rd.capacity, 8);
	assert_int_equal(ring->capacity, 8);
	assert_int_equal(ring->magic, NB_RING_MAGIC);
	assert_int_equal(ring->version, NB_RING_VERSION);
	assert_int_equal(ring->record_size, sizeof(struct nb_trace_record));
	assert_int_equal(ring->head, 0);
	assert_int_equal(ring->tail, 0);
	assert_int_equal(ring->lost, 0);
	free(mem);
}

static void init_refuses_a_size_too_small_for_one_record(void **state)
{
	struct nb_ring_reader rd;
	uint8_t mem[NB_RING_HEADER_SIZE + sizeof(struct nb_trace_record) - 1];

	(void)state;
	assert_int_equal(nb_ring_reader_init(&rd, mem, sizeof(mem), 1), -1);
	assert_int_equal(nb_ring_reader_init(&rd, mem, NB_RING_HEADER_SIZE, 1), -1);
	assert_int_equal(rd.capacity, 0);
}

static void wraparound_over_many_capacities_delivers_every_record_in_order(void **state)
{
	struct nb_ring_reader rd;
	struct seen *seen = calloc(1, sizeof(*seen));
	uint64_t size, next = 0, lost, expect = 0;
	void *mem = ring_alloc(16, &size);
	int round;

	(void)state;
	assert_int_equal(nb_ring_reader_init(&rd, mem, size, 1), 0);
	/* Uneven batches (1..16 records) so that drains stop at every slot of the ring. */
	for (round = 0; round < 1000; round++) {
		int n = 1 + (round * 7) % 16, i;

		for (i = 0; i < n; i++) {
			struct nb_trace_record r = valid_record(next++);

			assert_true(nb_ring_push(mem, &r) >= 0);
		}
		seen->count = 0;
		assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), n);
		assert_int_equal(lost, 0);
		for (i = 0; i < n; i++)
			assert_int_equal(seen->addr[i], expect++);
	}
	assert_true(next > 100 * 16);
	assert_int_equal(rd.tail, next);
	assert_int_equal(((struct nb_ring *)mem)->tail, next);
	assert_int_equal(rd.torn + rd.invalid + rd.overrun, 0);
	free(seen);
	free(mem);
}

static void full_ring_drops_records_and_the_loss_is_counted_once(void **state)
{
	struct nb_ring_reader rd;
	struct seen *seen = calloc(1, sizeof(*seen));
	struct nb_ring *ring;
	uint64_t size, lost;
	void *mem = ring_alloc(8, &size);
	int i;

	(void)state;
	ring = mem;
	assert_int_equal(nb_ring_reader_init(&rd, mem, size, 1), 0);
	for (i = 0; i < 8; i++) {
		struct nb_trace_record r = valid_record((uint64_t)i);

		assert_true(nb_ring_push(ring, &r) >= 0);
	}
	for (i = 0; i < 5; i++) {
		struct nb_trace_record r = valid_record(100);

		assert_int_equal(nb_ring_push(ring, &r), -1);
	}
	assert_int_equal(ring->lost, 5);
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), 8);
	assert_int_equal(lost, 5);
	for (i = 0; i < 8; i++)
		assert_int_equal(seen->addr[i], i);
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), 0);
	assert_int_equal(lost, 0);
	free(seen);
	free(mem);
}

static void torn_record_with_wrong_seq_is_rejected_and_counted(void **state)
{
	struct nb_ring_reader rd;
	struct seen *seen = calloc(1, sizeof(*seen));
	struct nb_ring *ring;
	uint64_t size, lost;
	void *mem = ring_alloc(8, &size);
	int i;

	(void)state;
	ring = mem;
	assert_int_equal(nb_ring_reader_init(&rd, mem, size, 1), 0);
	for (i = 0; i < 4; i++) {
		struct nb_trace_record r = valid_record((uint64_t)i);

		nb_ring_push(ring, &r);
	}
	/* The producer stopped after filling slot 2's body but before writing its seq. */
	nb_ring_records(ring)[2].seq = 0;
	/* A record from the ring's previous lap (seq one capacity behind) is as bad. */
	nb_ring_records(ring)[3].seq = 4 - 8;
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), 2);
	assert_int_equal(rd.torn, 2);
	assert_int_equal(lost, 2);
	assert_int_equal(seen->addr[0], 0);
	assert_int_equal(seen->addr[1], 1);
	assert_int_equal(rd.tail, 4);
	free(seen);
	free(mem);
}

static void forged_head_far_beyond_tail_is_clamped_to_one_ring_and_counted(void **state)
{
	struct nb_ring_reader rd;
	struct seen *seen = calloc(1, sizeof(*seen));
	struct nb_ring *ring;
	uint64_t size, lost;
	void *mem = ring_alloc(8, &size);
	int i;

	(void)state;
	ring = mem;
	assert_int_equal(nb_ring_reader_init(&rd, mem, size, 1), 0);
	for (i = 0; i < 3; i++) {
		struct nb_trace_record r = valid_record((uint64_t)i);

		nb_ring_push(ring, &r);
	}
	ring->head = 1000;
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), 0);
	/* 992 records claimed beyond one ring, and the 8 slots read do not hold records 992..999. */
	assert_int_equal(rd.overrun, 992);
	assert_int_equal(rd.torn, 8);
	assert_int_equal(lost, 1000);
	assert_int_equal(rd.tail, 1000);
	assert_int_equal(ring->tail, 1000);

	/* The ring keeps working from where the reader resynchronised. */
	{
		struct nb_trace_record r = valid_record(42);

		assert_int_equal(nb_ring_push(ring, &r), 0);
	}
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), 1);
	assert_int_equal(lost, 0);
	assert_int_equal(seen->addr[0], 42);

	/* The largest possible lie costs one ring's worth of reads, not 2^64. */
	ring->head = UINT64_MAX;
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), 0);
	assert_int_equal(lost, UINT64_MAX - 1001);
	free(seen);
	free(mem);
}

static void head_behind_tail_is_ignored_and_tail_restored(void **state)
{
	struct nb_ring_reader rd;
	struct seen *seen = calloc(1, sizeof(*seen));
	struct nb_ring *ring;
	uint64_t size, lost;
	void *mem = ring_alloc(8, &size);
	int i;

	(void)state;
	ring = mem;
	assert_int_equal(nb_ring_reader_init(&rd, mem, size, 1), 0);
	for (i = 0; i < 5; i++) {
		struct nb_trace_record r = valid_record((uint64_t)i);

		nb_ring_push(ring, &r);
	}
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), 5);
	ring->head = 2;
	ring->tail = 0;
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), 0);
	assert_int_equal(lost, 0);
	assert_int_equal(rd.tail, 5);
	assert_int_equal(ring->tail, 5);
	free(seen);
	free(mem);
}

static void invalid_kind_level_action_or_length_is_rejected_and_counted(void **state)
{
	struct nb_ring_reader rd;
	struct seen *seen = calloc(1, sizeof(*seen));
	struct nb_trace_record bad[7];
	uint64_t size, lost;
	void *mem = ring_alloc(16, &size);
	unsigned i;

	(void)state;
	assert_int_equal(nb_ring_reader_init(&rd, mem, size, 1), 0);
	for (i = 0; i < 7; i++)
		bad[i] = valid_record(1000 + i);
	bad[0].kind = NB_EV_NONE;
	bad[1].kind = NB_EV_KIND_COUNT;
	bad[2].rec_level = 0;     /* below the ring's min_level: a guest claiming to be the host */
	bad[3].guest_level = 0;   /* an event about a level above the recorder */
	bad[4].insn_len = 17;
	bad[5].action = NB_TRAP_ACTION_COUNT;
	bad[6].kind = 0xffff;
	for (i = 0; i < 7; i++) {
		struct nb_trace_record good = valid_record(i);

		nb_ring_push(mem, &good);
		nb_ring_push(mem, &bad[i]);
	}
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), 7);
	assert_int_equal(rd.invalid, 7);
	assert_int_equal(lost, 7);
	for (i = 0; i < 7; i++)
		assert_int_equal(seen->addr[i], i);
	free(seen);
	free(mem);
}

static void capacity_comes_from_the_size_given_not_from_the_ring_header(void **state)
{
	struct nb_ring_reader rd;
	struct seen *seen = calloc(1, sizeof(*seen));
	struct nb_ring *ring;
	uint64_t size, lost;
	void *mem = ring_alloc(8, &size);
	int i;

	(void)state;
	ring = mem;
	assert_int_equal(nb_ring_reader_init(&rd, mem, size, 1), 0);
	for (i = 0; i < 8; i++) {
		struct nb_trace_record r = valid_record((uint64_t)i);

		nb_ring_push(ring, &r);
	}
	/* The guest claims a ring 2^20 records big and 100 records ready: trusting either would
	 * read far past the 8 slots the host gave (AddressSanitizer builds catch that). */
	ring->capacity = 1u << 20;
	ring->head = 100;
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), 0);
	assert_int_equal(rd.capacity, 8);
	assert_int_equal(rd.overrun, 92);
	assert_int_equal(rd.torn, 8);
	free(seen);
	free(mem);
}

static void push_hints_a_flush_once_the_ring_is_half_full(void **state)
{
	struct nb_ring_reader rd;
	struct seen *seen = calloc(1, sizeof(*seen));
	struct nb_trace_record r = valid_record(0);
	uint64_t size, lost;
	void *mem = ring_alloc(8, &size);
	int i;

	(void)state;
	assert_int_equal(nb_ring_reader_init(&rd, mem, size, 1), 0);
	for (i = 1; i <= 8; i++)
		assert_int_equal(nb_ring_push(mem, &r), i >= 4 ? 1 : 0);
	assert_int_equal(nb_ring_push(mem, &r), -1);
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), 8);
	assert_int_equal(nb_ring_push(mem, &r), 0);
	free(seen);
	free(mem);
}

static void sink_error_stops_the_drain_and_the_refused_record_is_read_again(void **state)
{
	struct nb_ring_reader rd;
	struct seen *seen = calloc(1, sizeof(*seen));
	uint64_t size, lost;
	void *mem = ring_alloc(8, &size);
	int i;

	(void)state;
	assert_int_equal(nb_ring_reader_init(&rd, mem, size, 1), 0);
	for (i = 0; i < 5; i++) {
		struct nb_trace_record r = valid_record((uint64_t)i);

		nb_ring_push(mem, &r);
	}
	seen->stop_at = 3;
	seen->stop_rc = -4;
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), -4);
	assert_int_equal(seen->count, 2);
	assert_int_equal(rd.tail, 2);
	seen->stop_at = 0;
	assert_int_equal(nb_ring_drain(&rd, sink_record, seen, &lost), 3);
	assert_int_equal(seen->count, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(seen->addr[i], i);
	free(seen);
	free(mem);
}

static void reset_of_the_producers_lost_counter_is_not_counted_as_loss(void **state)
{
	struct nb_ring_reader rd;
	struct seen *seen = calloc(1, sizeof(*seen));
	struct nb_ring *ring;
	uint64_t size, lost;
	void *mem = ring_alloc(8, &size);

	(void)state;
	ring = mem;
	assert_int_equal(nb_ring_reader_init(&rd, mem, size, 1), 0);
	ring->lost = 10;
	nb_ring_drain(&rd, sink_record, seen, &lost);
	assert_int_equal(lost, 10);
	ring->lost = 3;
	nb_ring_drain(&rd, sink_record, seen, &lost);
	assert_int_equal(lost, 0);
	ring->lost = 5;
	nb_ring_drain(&rd, sink_record, seen, &lost);
	assert_int_equal(lost, 2);
	free(seen);
	free(mem);
}

static void every_event_kind_and_trap_action_has_a_name(void **state)
{
	unsigned i;

	(void)state;
	assert_null(nb_event_kind_name(NB_EV_NONE));
	for (i = 1; i < NB_EV_KIND_COUNT; i++)
		assert_non_null(nb_event_kind_name(i));
	assert_null(nb_event_kind_name(NB_EV_KIND_COUNT));
	for (i = 0; i < NB_TRAP_ACTION_COUNT; i++)
		assert_non_null(nb_trap_action_name(i));
	assert_string_equal(nb_svm_exit_name(0x72), "CPUID");
	assert_string_equal(nb_svm_exit_name(UINT64_MAX), "INVALID");
	assert_null(nb_svm_exit_name(0x12345));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_sets_header_and_capacity_is_largest_power_of_two_that_fits),
		cmocka_unit_test(init_refuses_a_size_too_small_for_one_record),
		cmocka_unit_test(wraparound_over_many_capacities_delivers_every_record_in_order),
		cmocka_unit_test(full_ring_drops_records_and_the_loss_is_counted_once),
		cmocka_unit_test(torn_record_with_wrong_seq_is_rejected_and_counted),
		cmocka_unit_test(forged_head_far_beyond_tail_is_clamped_to_one_ring_and_counted),
		cmocka_unit_test(head_behind_tail_is_ignored_and_tail_restored),
		cmocka_unit_test(invalid_kind_level_action_or_length_is_rejected_and_counted),
		cmocka_unit_test(capacity_comes_from_the_size_given_not_from_the_ring_header),
		cmocka_unit_test(push_hints_a_flush_once_the_ring_is_half_full),
		cmocka_unit_test(sink_error_stops_the_drain_and_the_refused_record_is_read_again),
		cmocka_unit_test(reset_of_the_producers_lost_counter_is_not_counted_as_loss),
		cmocka_unit_test(every_event_kind_and_trap_action_has_a_name),
	};

	return cmocka_run_group_tests_name("trace ring", tests, NULL, NULL);
}
