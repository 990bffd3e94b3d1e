/*
 * Fuzz harness: the host's reader of a guest's trace ring (tracer/ring_reader.c) and what the
 * drain hands each record to on its way to the store (event and action names, the instruction
 * cache, capstone's text of the instruction bytes). The ring is guest memory: its head, its
 * counters and every byte of every slot are the guest's to write, at any time.
 *
 * Input: the ring's size and the lowest level its records may claim, then operations until the
 * input ends: an honest push (tracer/ring_writer.h, as guests and nbvmm write), a hostile write
 * of 8 bytes anywhere in the ring, a forged head, a drain whose sink refuses the k-th record.
 * Checked at every drain:
 *   - every record handed over is one the reader may vouch for (kind, action, levels,
 *     instruction length), with the seq of its slot, in order;
 *   - the reader's tail and the ring's agree, and it moved by exactly the records handed over
 *     plus those rejected (torn, invalid) plus those skipped as overrun; the losses reported
 *     are the producer's ring-full count since the last drain plus those rejections;
 *   - while only the honest producer wrote, every record pushed and not dropped arrives
 *     exactly once, in order, unchanged, and a drop is reported as lost exactly once.
 */
#include <string.h>

#include "tracer/annotate.h"
#include "tracer/insn_cache.h"
#include "tracer/names.h"
#include "tracer/ring_reader.h"
#include "tracer/ring_writer.h"
#include "tests/fuzz/fuzz.h"

#define MAX_CAP 64
#define QUEUE 4096

static uint64_t ring_mem[(NB_RING_HEADER_SIZE + MAX_CAP * sizeof(struct nb_trace_record)) / 8 + 16];

struct sink {
	struct nb_ring_reader *rd;
	uint64_t first, end;    /* the seqs this drain may hand over: (first, end] */
	uint64_t last_seq;
	int calls, refuse_at;
	uint64_t passed;
	/* the honest producer's records, by the addr each carries */
	uint64_t queue[QUEUE];
	size_t head, tail;
	bool honest;
	struct nb_insn_cache cache;
	struct nb_annotator *an;
};

static int sink(void *ctx, const struct nb_trace_record *rec)
{
	struct sink *s = ctx;
	struct nb_insn_text text;
	int64_t id;

	if (++s->calls == s->refuse_at)
		return -7;
	FUZZ_CHECK(rec->seq > s->first && rec->seq <= s->end && rec->seq > s->last_seq,
		   "seq %llu handed over in (%llu, %llu] after %llu", (unsigned long long)rec->seq,
		   (unsigned long long)s->first, (unsigned long long)s->end, (unsigned long long)s->last_seq);
	s->last_seq = rec->seq;
	FUZZ_CHECK(nb_event_kind_name(rec->kind) && nb_trap_action_name(rec->action),
		   "kind %u or action %u without a name", rec->kind, rec->action);
	FUZZ_CHECK(rec->rec_level >= s->rd->min_level && rec->guest_level >= rec->rec_level,
		   "levels %u/%u (min %u)", rec->rec_level, rec->guest_level, s->rd->min_level);
	FUZZ_CHECK(rec->insn_len <= sizeof(rec->insn), "insn_len %u", rec->insn_len);
	(void)nb_svm_exit_name(rec->exit_code);
	/* What the store does with the instruction bytes: intern them, decode them once. */
	id = nb_insn_cache_get(&s->cache, rec->insn, rec->insn_len);
	if (!id) {
		nb_annotate(s->an, rec->insn, rec->insn_len, &text);
		FUZZ_CHECK(memchr(text.text, 0, sizeof(text.text)), "annotation without NUL");
		FUZZ_CHECK(nb_insn_cache_put(&s->cache, rec->insn, rec->insn_len, s->cache.used + 1) == 0,
			   "insn cache put");
		FUZZ_CHECK(nb_insn_cache_get(&s->cache, rec->insn, rec->insn_len) != 0, "insn cache get");
	}
	if (s->honest) {
		FUZZ_CHECK(s->tail < s->head && s->queue[s->tail % QUEUE] == rec->addr,
			   "honest ring: record %#llx arrived, expected %#llx", (unsigned long long)rec->addr,
			   s->tail < s->head ? (unsigned long long)s->queue[s->tail % QUEUE] : 0ull);
		s->tail++;
	}
	s->passed++;
	return 0;
}

static void drain(struct nb_ring_reader *rd, struct sink *s, int refuse_at, uint64_t *drops)
{
	struct nb_ring *ring = rd->ring;
	uint64_t t0 = rd->tail, torn = rd->torn, invalid = rd->invalid, overrun = rd->overrun;
	uint64_t reported = rd->lost_reported, lost_now = ring->lost, new_lost = 99, moved, rejected;
	int64_t r;

	s->first = t0;
	s->end = ring->head > t0 ? ring->head : t0;
	s->last_seq = 0;
	s->calls = 0;
	s->refuse_at = refuse_at;
	s->passed = 0;
	r = nb_ring_drain(rd, sink, s, &new_lost);
	FUZZ_CHECK(r == (refuse_at && s->calls >= refuse_at ? -7 : (int64_t)s->passed),
		   "drain returned %lld, handed over %llu", (long long)r, (unsigned long long)s->passed);
	FUZZ_CHECK(ring->tail == rd->tail, "ring tail %llu, reader tail %llu",
		   (unsigned long long)ring->tail, (unsigned long long)rd->tail);
	moved = rd->tail - t0;
	rejected = (rd->torn - torn) + (rd->invalid - invalid);
	FUZZ_CHECK(moved == s->passed + rejected + (rd->overrun - overrun),
		   "tail moved %llu: %llu handed over, %llu rejected, %llu overrun", (unsigned long long)moved,
		   (unsigned long long)s->passed, (unsigned long long)rejected,
		   (unsigned long long)(rd->overrun - overrun));
	FUZZ_CHECK(s->passed <= rd->capacity, "%llu records from a ring of %u", (unsigned long long)s->passed,
		   rd->capacity);
	FUZZ_CHECK(new_lost == (lost_now > reported ? lost_now - reported : 0) + rejected +
				       (rd->overrun - overrun),
		   "lost %llu", (unsigned long long)new_lost);
	if (s->honest) {
		FUZZ_CHECK(rejected == 0 && rd->overrun == overrun, "honest ring: records rejected");
		FUZZ_CHECK(new_lost == *drops, "honest ring: %llu drops reported as %llu lost",
			   (unsigned long long)*drops, (unsigned long long)new_lost);
		*drops = 0;
		if (!refuse_at || s->calls < refuse_at)
			FUZZ_CHECK(s->tail == s->head, "honest ring: %zu records pushed never arrived",
				   s->head - s->tail);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sink s;
	struct fuzz_in in = fuzz_in(data, size);
	struct nb_ring_reader rd;
	struct nb_ring *ring = (struct nb_ring *)ring_mem;
	uint64_t bytes, drops = 0;
	unsigned steps = 0;

	if (!s.an) {
		struct nb_error err;
		FUZZ_CHECK(nb_annotator_open(&s.an, &err) == 0, "capstone: %s", err.msg);
	}
	FUZZ_CHECK(nb_insn_cache_init(&s.cache) == 0, "insn cache");
	s.rd = &rd;
	s.head = s.tail = 0;
	s.honest = true;
	bytes = NB_RING_HEADER_SIZE + fuzz_below(&in, MAX_CAP * sizeof(struct nb_trace_record) + 1);
	if (nb_ring_reader_init(&rd, ring_mem, bytes, fuzz_u8(&in) % 4) < 0) {
		FUZZ_CHECK(bytes < NB_RING_HEADER_SIZE + sizeof(struct nb_trace_record), "init refused %llu bytes",
			   (unsigned long long)bytes);
		nb_insn_cache_free(&s.cache);
		return 0;
	}
	FUZZ_CHECK(rd.capacity && (rd.capacity & (rd.capacity - 1)) == 0 &&
			   NB_RING_HEADER_SIZE + rd.capacity * sizeof(struct nb_trace_record) <= bytes,
		   "capacity %u for %llu bytes", rd.capacity, (unsigned long long)bytes);
	while (!in.done && steps++ < 512) {
		uint8_t op = fuzz_u8(&in);

		switch (op % 5) {
		case 0:
		case 1: { /* an honest push (the producer trusts its own header: keep it intact) */
			struct nb_trace_record rec;
			int r;

			ring->capacity = rd.capacity;
			memset(&rec, 0, sizeof(rec));
			rec.kind = (uint16_t)(1 + fuzz_below(&in, NB_EV_KIND_COUNT - 1));
			rec.rec_level = (uint8_t)(rd.min_level + (op >> 7));
			rec.guest_level = (uint8_t)(rec.rec_level + ((op >> 6) & 1));
			rec.action = (uint8_t)fuzz_below(&in, NB_TRAP_ACTION_COUNT);
			rec.insn_len = (uint8_t)fuzz_below(&in, 17);
			fuzz_copy(&in, rec.insn, rec.insn_len);
			rec.addr = s.head + 0x1000;
			r = nb_ring_push(ring, &rec);
			if (r < 0)
				drops++;
			else if (s.head - s.tail < QUEUE)
				s.queue[s.head++ % QUEUE] = rec.addr;
			else
				s.honest = false;
			break;
		}
		case 2: { /* the guest writes anything anywhere in its ring */
			uint64_t off = fuzz_below(&in, (unsigned)(bytes - 7)), v = fuzz_u64(&in);
			memcpy((uint8_t *)ring_mem + off, &v, 8);
			s.honest = false;
			break;
		}
		case 3: /* a forged head: near the tail, or anywhere */
			ring->head = (op & 0x80) ? fuzz_u64(&in) : rd.tail + fuzz_below(&in, 4 * rd.capacity);
			s.honest = false;
			break;
		default:
			drain(&rd, &s, (op >> 3) & 7, &drops);
			break;
		}
	}
	drain(&rd, &s, 0, &drops);
	nb_insn_cache_free(&s.cache);
	return 0;
}
