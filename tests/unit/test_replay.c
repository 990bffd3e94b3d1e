/*
 * The replay engine (replay/replay.c) on hand-built traces: a consistent trace replays with no
 * mismatch, and each kind of deliberate inconsistency is caught, naming the event that disagrees
 * and the event that defined what was expected; what the trace cannot tell (accessed/dirty bits
 * set by walks, entries whose frame may have lost its write protection) is never reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "replay/replay.h"
#include "shadow/spt.h"

#define MAX_MIS 16

struct collected {
	unsigned n;
	struct nb_replay_mismatch m[MAX_MIS];
};

static void collect(void *opaque, const struct nb_replay_mismatch *m)
{
	struct collected *c = opaque;

	if (c->n < MAX_MIS)
		c->m[c->n] = *m;
	c->n++;
}

struct trace {
	struct nb_replay *r;
	struct collected mis;
	int64_t id;
};

static void t_init(struct trace *t)
{
	memset(t, 0, sizeof(*t));
	t->r = nb_replay_new(collect, &t->mis);
	assert_non_null(t->r);
	t->id = 100;
}

/* Replays one record of VM 2 (guest level 2, recorded by level 1); returns its event id. */
static int64_t ev(struct trace *t, uint16_t kind, uint64_t addr, uint64_t old_val, uint64_t new_val,
		  uint64_t aux, uint64_t info1, uint64_t info2)
{
	struct nb_trace_record rec = {.kind = kind, .rec_level = 1, .guest_level = 2, .vm_id = 2,
				      .addr = addr, .old_val = old_val, .new_val = new_val, .aux = aux,
				      .exit_info1 = info1, .exit_info2 = info2};

	t->id++;
	assert_int_equal(nb_replay_event(t->r, t->id, &rec), 0);
	return t->id;
}

static int64_t pt_write(struct trace *t, uint64_t gpa, uint64_t old, uint64_t new_val, unsigned level)
{
	return ev(t, NB_EV_PT_WRITE, gpa, old, new_val, level, 0, 0);
}

/* Host frame = guest frame + 0xa00000, as nbvmm's guest memory is one block. */
#define HOST(gpa) (((gpa) & ~0xfffull) + 0xa00000)
#define LEAF_RO (PTE_P | PTE_U | PTE_A)
#define LEAF_RW (LEAF_RO | PTE_W | PTE_D)

/* A fill of gva -> gpa with leaf rights `flags`; old_flags: the leaf it replaced (0: none). */
static int64_t fill(struct trace *t, uint64_t gva, unsigned access, uint64_t gpa, uint64_t old_flags,
		    uint64_t flags)
{
	return ev(t, NB_EV_SHADOW_FILL, gva, old_flags ? HOST(gpa) | old_flags : 0, HOST(gpa) | flags, 1,
		  access, gpa);
}

static int64_t cr3(struct trace *t, uint64_t from, uint64_t to, int hit)
{
	return ev(t, NB_EV_CR3_SWITCH, 0, from, to, (uint64_t)hit, 0, 0);
}

static int64_t zap(struct trace *t, uint64_t addr, unsigned reason, unsigned n)
{
	return ev(t, NB_EV_SHADOW_ZAP, addr, reason, 0, n, 0, 0);
}

static void expect_one(struct trace *t, const char *check, int64_t event, int64_t since)
{
	if (t->mis.n != 1) {
		unsigned i;
		for (i = 0; i < t->mis.n && i < MAX_MIS; i++)
			print_message("# got: event %lld %s: %s\n", (long long)t->mis.m[i].event_id,
				      t->mis.m[i].check, t->mis.m[i].detail);
	}
	assert_int_equal(t->mis.n, 1);
	assert_string_equal(t->mis.m[0].check, check);
	assert_int_equal(t->mis.m[0].event_id, event);
	assert_int_equal(t->mis.m[0].since_id, since);
	assert_int_equal(t->mis.m[0].vm_id, 2);
	assert_int_equal(nb_replay_stats(t->r)->mismatches, 1);
}

static void expect_none(struct trace *t)
{
	unsigned i;

	for (i = 0; i < t->mis.n && i < MAX_MIS; i++)
		print_message("# unexpected: event %lld %s: %s\n", (long long)t->mis.m[i].event_id,
			      t->mis.m[i].check, t->mis.m[i].detail);
	assert_int_equal(t->mis.n, 0);
}

/* A guest's life in small: fills in the boot address space, a switch to a second one and back
 * (a hit), a page-table write that zaps, the re-fill, a write upgrade and an INVLPG. */
static void test_consistent_trace_has_no_mismatch(void **state)
{
	struct trace t;
	const struct nb_replay_stats *st;

	(void)state;
	t_init(&t);
	fill(&t, 0x100000, PF_EC_ID, 0x100000, 0, LEAF_RO);
	fill(&t, 0x200000, 0, 0x200000, 0, LEAF_RO);
	fill(&t, 0x200000, PF_EC_W, 0x200000, LEAF_RO, LEAF_RW); /* write upgrade: old leaf known */
	cr3(&t, 0x2000, 0x10000, 0);
	fill(&t, 0x200000, PF_EC_U, 0x300000, 0, LEAF_RO);        /* user root of the new space */
	cr3(&t, 0x10000, 0x2000, 1);
	zap(&t, 0x200000, SPT_ZAP_PT_WRITE, 1);
	pt_write(&t, 0x5008, 0x200023, 0x400023, 1);
	fill(&t, 0x200000, 0, 0x400000, 0, LEAF_RO);
	ev(&t, NB_EV_INVLPG, 0x200000, 0, 0, 1, 0, 0);
	fill(&t, 0x200000, 0, 0x400000, 0, LEAF_RO);               /* old leaf known: gone */
	expect_none(&t);
	st = nb_replay_stats(t.r);
	assert_int_equal(st->fills, 6);
	assert_int_equal(st->fills_leaf_checked, 2);
	assert_int_equal(st->cr3_switches, 2);
	/* Nothing said the guest pages before the first switch, and unpaged, every CR3 would share
	 * one shadow (a hit): its miss only tells the mode. The second is checked. */
	assert_int_equal(st->cr3_checked, 1);
	assert_int_equal(st->cr3_unchecked, 1);
	assert_int_equal(st->pt_writes, 1);
	assert_int_equal(st->vms, 1);
	nb_replay_free(t.r);
}

static void test_pt_write_old_value_disagreeing_is_caught(void **state)
{
	struct trace t;
	int64_t def, bad;

	(void)state;
	t_init(&t);
	def = pt_write(&t, 0x5010, 0, 0x600023, 1);
	bad = pt_write(&t, 0x5010, 0x700023, 0x800023, 1); /* the entry held 0x600023 */
	expect_one(&t, "pt-write-old", bad, def);
	assert_non_null(strstr(t.mis.m[0].detail, "0x0000000000700023"));
	nb_replay_free(t.r);
}

static void test_accessed_and_dirty_bits_set_by_walks_are_not_mismatches(void **state)
{
	struct trace t;

	(void)state;
	t_init(&t);
	pt_write(&t, 0x5010, 0, 0x600003, 1);
	pt_write(&t, 0x5010, 0x600063, 0x600003, 1); /* a walk set A and D */
	pt_write(&t, 0x5010, 0x600003, 0x0, 1);
	expect_none(&t);
	assert_int_equal(nb_replay_stats(t.r)->pt_writes_checked, 2);
	nb_replay_free(t.r);
}

/* A guest clearing A is a traced write; an entry whose A was set must not lose it silently. */
static void test_accessed_bit_lost_without_a_write_is_caught(void **state)
{
	struct trace t;
	int64_t def, bad;

	(void)state;
	t_init(&t);
	def = pt_write(&t, 0x5010, 0, 0x600023, 1);
	bad = pt_write(&t, 0x5010, 0x600003, 0x0, 1);
	expect_one(&t, "pt-write-old", bad, def);
	nb_replay_free(t.r);
}

/* Zaps caused by a level-2 write free the shadow tables derived from level-1 tables below it;
 * those frames lose their protection, so the model forgets their entries. */
static void test_entries_that_lost_protection_are_forgotten(void **state)
{
	struct trace t;

	(void)state;
	t_init(&t);
	pt_write(&t, 0x5010, 0, 0x600023, 1);
	pt_write(&t, 0x6018, 0, 0x700023, 2);
	zap(&t, 0x40000000, SPT_ZAP_PT_WRITE, 3);
	pt_write(&t, 0x6018, 0x700023, 0x0, 2);
	pt_write(&t, 0x5010, 0x999023, 0x0, 1); /* changed behind a now unprotected frame */
	pt_write(&t, 0x6018, 0x1, 0x0, 2);      /* the level-2 table stayed protected */
	expect_one(&t, "pt-write-old", t.id, t.id - 2);
	nb_replay_free(t.r);
}

static void test_fill_old_leaf_disagreeing_is_caught(void **state)
{
	struct trace t;
	int64_t def, bad;

	(void)state;
	t_init(&t);
	def = fill(&t, 0x200000, 0, 0x200000, 0, LEAF_RO);
	bad = fill(&t, 0x200000, PF_EC_W, 0x200000, 0, LEAF_RW); /* the leaf was present */
	expect_one(&t, "fill-old-leaf", bad, def);
	nb_replay_free(t.r);
}

static void test_write_protection_and_evictions_change_replayed_leaves(void **state)
{
	struct trace t;

	(void)state;
	t_init(&t);
	fill(&t, 0x7000, PF_EC_W, 0x7000, 0, LEAF_RW);
	zap(&t, 0x7000, SPT_ZAP_WRPROT, 1); /* frame 0x7000 became a guest table */
	fill(&t, 0x7000, PF_EC_W, 0x7000, LEAF_RW & ~PTE_W, LEAF_RO); /* W gone, D stays */
	cr3(&t, 0x2000, 0x10000, 0);
	cr3(&t, 0x10000, 0x11000, 0);
	cr3(&t, 0x11000, 0x12000, 0);
	zap(&t, 0x2000, SPT_ZAP_EVICT, 5);     /* four roots cached: 0x2000 is the oldest */
	cr3(&t, 0x12000, 0x13000, 0);
	zap(&t, 0x10000, SPT_ZAP_EVICT, 0);
	cr3(&t, 0x13000, 0x2000, 0);           /* a miss again, so no leaf is known there */
	fill(&t, 0x7000, 0, 0x7000, 0, LEAF_RO);
	expect_none(&t);
	nb_replay_free(t.r);
}

static void test_root_cache_disagreeing_is_caught(void **state)
{
	struct trace t;
	int64_t bad;

	(void)state;
	t_init(&t);
	cr3(&t, 0x2000, 0x10000, 0);
	bad = cr3(&t, 0x10000, 0x2000, 0); /* 0x2000's roots are still cached: a hit */
	expect_one(&t, "cr3-hit", bad, 0);
	nb_replay_free(t.r);
}

static void test_missing_eviction_is_caught(void **state)
{
	struct trace t;
	int64_t bad;

	(void)state;
	t_init(&t);
	cr3(&t, 0x2000, 0x10000, 0);
	cr3(&t, 0x10000, 0x11000, 0);
	cr3(&t, 0x11000, 0x12000, 0);
	bad = cr3(&t, 0x12000, 0x13000, 0); /* the cache was full: 0x2000 must have been evicted */
	expect_one(&t, "cr3-evict", bad, 0);
	nb_replay_free(t.r);
}

static void test_cr3_switch_from_another_cr3_is_caught(void **state)
{
	struct trace t;
	int64_t def, bad;

	(void)state;
	t_init(&t);
	def = cr3(&t, 0x2000, 0x10000, 0);
	bad = cr3(&t, 0x11000, 0x2000, 1);
	expect_one(&t, "cr3-old", bad, def);
	nb_replay_free(t.r);
}

static void test_physical_map_and_rights_are_checked(void **state)
{
	struct trace t;
	int64_t def, bad;

	(void)state;
	t_init(&t);
	def = fill(&t, 0x200000, 0, 0x200000, 0, LEAF_RO);
	bad = ev(&t, NB_EV_SHADOW_FILL, 0x800000, 0, (HOST(0x200000) + 0x1000) | LEAF_RO, 1, 0, 0x200000);
	expect_one(&t, "phys-map", bad, def);
	nb_replay_free(t.r);

	t_init(&t);
	def = pt_write(&t, 0x5010, 0, 0x600023, 1);
	bad = fill(&t, 0x900000, PF_EC_W, 0x5000, 0, LEAF_RW); /* frame 0x5000 is a guest table */
	expect_one(&t, "fill-writable-table", bad, def);
	nb_replay_free(t.r);
}

/* The guest builds a whole address space under traps (every entry of the walk is a traced
 * write): fills there are re-walked with gpt_walk and their translation and rights compared. */
static void build_space(struct trace *t)
{
	cr3(t, 0x2000, 0x10000, 0);
	pt_write(t, 0x10000 + 8 * 1, 0, 0x11000 | PTE_P | PTE_W | PTE_U, 4);   /* PML4E 1 */
	pt_write(t, 0x11000 + 8 * 0, 0, 0x12000 | PTE_P | PTE_W | PTE_U, 3);   /* PDPTE 0 */
	pt_write(t, 0x12000 + 8 * 0, 0, 0x13000 | PTE_P | PTE_W | PTE_U, 2);   /* PDE 0 */
	pt_write(t, 0x13000 + 8 * 2, 0, 0x40000 | PTE_P | PTE_U | PTE_NX, 1); /* PTE 2: read-only */
}

static void test_fills_are_rewalked_over_modelled_tables(void **state)
{
	struct trace t;
	int64_t bad;

	(void)state;
	t_init(&t);
	build_space(&t);
	fill(&t, 0x8000002000, PF_EC_U, 0x40000, 0, LEAF_RO | PTE_NX);
	fill(&t, 0x8000003000, PF_EC_U, 0x41000, 0, LEAF_RO); /* PTE 3 never seen: not walkable */
	expect_none(&t);
	assert_int_equal(nb_replay_stats(t.r)->fills_walked, 1);
	assert_int_equal(nb_replay_stats(t.r)->fills_unwalkable, 1);
	nb_replay_free(t.r);

	t_init(&t);
	build_space(&t);
	bad = fill(&t, 0x8000002000, PF_EC_U, 0x50000, 0, LEAF_RO | PTE_NX);
	expect_one(&t, "fill-walk", bad, 0);
	assert_non_null(strstr(t.mis.m[0].detail, "translate to 0x40000"));
	nb_replay_free(t.r);

	t_init(&t);
	build_space(&t);
	bad = fill(&t, 0x8000002000, PF_EC_U | PF_EC_W, 0x40000, 0, LEAF_RW | PTE_NX);
	expect_one(&t, "fill-walk", bad, 0); /* the guest's PTE is read-only */
	nb_replay_free(t.r);
}

/* A GPT_WALK record in long mode (CR0.WP, EFER.NXE) from CR3 0x10000 down to level 1; ad: the
 * A/D bits the walk set, packed as spt.h says. */
static int64_t walk(struct trace *t, uint64_t gva, uint64_t l4, uint64_t l3, uint64_t l2, uint64_t l1,
		    uint64_t ad)
{
	struct nb_trace_record rec = {.kind = NB_EV_GPT_WALK, .rec_level = 1, .guest_level = 2, .vm_id = 2,
				      .addr = gva, .exit_code = 0x10000, .exit_info1 = l4, .exit_info2 = l3,
				      .old_val = l2, .new_val = l1,
				      .aux = 4 | 1 << 8 | (GPT_PAGING_LONG | 0x10 | 0x40) << 16 | ad << 24};

	t->id++;
	assert_int_equal(nb_replay_event(t->r, t->id, &rec), 0);
	return t->id;
}

#define UPPER (PTE_P | PTE_W | PTE_U | PTE_A)
#define AD_ALL_A_LEAF_D 0x57 /* A set at every level, D at level 1 */

/* Walk records define the entries no trap showed: the fills after them are re-walked, and a later
 * walk is checked against what earlier ones read. */
static void test_walk_records_define_entries_and_fills_are_rewalked(void **state)
{
	struct trace t;
	const struct nb_replay_stats *st;
	int64_t first, bad;

	(void)state;
	t_init(&t);
	first = walk(&t, 0x8000002000, 0x11000 | UPPER, 0x12000 | UPPER, 0x13000 | UPPER,
		     0x40000 | UPPER | PTE_D, AD_ALL_A_LEAF_D);
	fill(&t, 0x8000002000, PF_EC_U | PF_EC_W, 0x40000, 0, LEAF_RW);
	walk(&t, 0x8000003000, 0x11000 | UPPER, 0x12000 | UPPER, 0x13000 | UPPER, 0x41000 | UPPER, 1);
	fill(&t, 0x8000003000, PF_EC_U, 0x41000, 0, LEAF_RO);
	expect_none(&t);
	st = nb_replay_stats(t.r);
	assert_int_equal(st->walks, 2);
	assert_int_equal(st->walk_entries_checked, 3); /* the second walk's levels 4, 3 and 2 */
	assert_int_equal(st->fills_walked, 2);
	assert_int_equal(st->fills_unwalkable, 0);
	assert_int_equal(st->fills_mode_unknown, 0);

	/* A PDE that changed with no trace of a write: a mismatch naming the walk and the first
	 * walk, which defined the entry. */
	bad = walk(&t, 0x8000004000, 0x11000 | UPPER, 0x12000 | UPPER, 0x14000 | UPPER,
		   0x42000 | UPPER, 1);
	fill(&t, 0x8000004000, PF_EC_U, 0x42000, 0, LEAF_RO);
	expect_one(&t, "walk-entry", bad, first);
	assert_non_null(strstr(t.mis.m[0].detail, "level-2 entry at gpa 0x12000"));
	nb_replay_free(t.r);

	/* The walk says it set A in a PML4 entry the model holds with A set already. */
	t_init(&t);
	first = walk(&t, 0x8000002000, 0x11000 | UPPER, 0x12000 | UPPER, 0x13000 | UPPER,
		     0x40000 | UPPER | PTE_D, AD_ALL_A_LEAF_D);
	fill(&t, 0x8000002000, PF_EC_U | PF_EC_W, 0x40000, 0, LEAF_RW);
	bad = walk(&t, 0x8000002000, 0x11000 | UPPER, 0x12000 | UPPER, 0x13000 | UPPER,
		   0x40000 | UPPER | PTE_D, 1 << 6);
	expect_one(&t, "walk-entry", bad, first);
	nb_replay_free(t.r);

	/* A fill the walk just before it contradicts. */
	t_init(&t);
	walk(&t, 0x8000002000, 0x11000 | UPPER, 0x12000 | UPPER, 0x13000 | UPPER, 0x40000 | UPPER, 0x55);
	bad = fill(&t, 0x8000002000, PF_EC_U, 0x50000, 0, LEAF_RO);
	expect_one(&t, "fill-walk", bad, 0);
	nb_replay_free(t.r);
}

static void test_vms_are_replayed_apart(void **state)
{
	struct trace t;
	struct nb_trace_record rec = {.kind = NB_EV_PT_WRITE, .rec_level = 2, .guest_level = 3, .vm_id = 3,
				      .addr = 0x5010, .old_val = 0x1, .new_val = 0, .aux = 1};

	(void)state;
	t_init(&t);
	pt_write(&t, 0x5010, 0, 0x600023, 1);
	assert_int_equal(nb_replay_event(t.r, 999, &rec), 0); /* another VM's entry at that gpa */
	expect_none(&t);
	assert_int_equal(nb_replay_stats(t.r)->vms, 2);
	nb_replay_free(t.r);
}

/* ---- paging modes: the trace does not record them, spt.c keys its roots by them ----------- */

/*
 * A 32-bit Multiboot kernel's life, as mb-modes records it at depth 2: it changes CR4 while still
 * unpaged (a mode change for spt_set_mode), loads CR3 (unpaged, every CR3 shares one shadow: a
 * hit), turns 32-bit paging on and off again, and loads another CR3 (a hit again). Replayed as
 * a long-mode guest's, both switches would be misses.
 */
static void test_unpaged_cr3_switches_after_a_mode_change_hit(void **state)
{
	struct trace t;
	const struct nb_replay_stats *st;

	(void)state;
	t_init(&t);
	zap(&t, 0, SPT_ZAP_MODE, 0);
	fill(&t, 0x101000, PF_EC_ID, 0x101000, 0, LEAF_RO);
	cr3(&t, 0, 0x10f000, 1);
	fill(&t, 0x101000, PF_EC_W, 0x101000, LEAF_RO, LEAF_RW); /* one shadow: its leaf is known */
	fill(&t, 0x112000, PF_EC_W, 0x112000, 0, LEAF_RW);
	zap(&t, 0x10f000, SPT_ZAP_MODE, 3);                       /* paging on: every shadow dropped */
	fill(&t, 0x101000, PF_EC_ID, 0x101000, 0, LEAF_RO);
	fill(&t, 0x400000, PF_EC_W, 0x112000, 0, LEAF_RO);        /* gva is not gpa: paging is on */
	zap(&t, 0x10f000, SPT_ZAP_MODE, 2);                       /* paging off again */
	fill(&t, 0x101000, PF_EC_ID, 0x101000, 0, LEAF_RO);
	cr3(&t, 0x10f000, 0x10d000, 1);
	cr3(&t, 0x10d000, 0x10d000, 1);
	expect_none(&t);
	st = nb_replay_stats(t.r);
	assert_int_equal(st->cr3_switches, 3);
	assert_int_equal(st->cr3_unchecked, 2); /* these told the replay the guest was unpaged */
	assert_int_equal(st->cr3_checked, 1);
	assert_int_equal(st->fills_leaf_checked, 1);
	nb_replay_free(t.r);
}

/* Once the switches showed an unpaged guest, what contradicts it is caught: a miss, a fill
 * whose gva is not its gpa, and an old leaf that is not the one filled under the other CR3. */
static void test_unpaged_guest_contradicted_is_caught(void **state)
{
	struct trace t;
	int64_t def, bad;

	(void)state;
	t_init(&t);
	zap(&t, 0, SPT_ZAP_MODE, 0);
	cr3(&t, 0, 0x10f000, 1);
	bad = cr3(&t, 0x10f000, 0x10d000, 0);
	expect_one(&t, "cr3-hit", bad, 0);
	assert_non_null(strstr(t.mis.m[0].detail, "paging mode none) hits"));
	nb_replay_free(t.r);

	t_init(&t);
	zap(&t, 0, SPT_ZAP_MODE, 0);
	def = cr3(&t, 0, 0x10f000, 1);
	bad = fill(&t, 0x400000, 0, 0x112000, 0, LEAF_RO);
	expect_one(&t, "paging-mode", bad, def);
	nb_replay_free(t.r);

	t_init(&t);
	zap(&t, 0, SPT_ZAP_MODE, 0);
	def = fill(&t, 0x101000, 0, 0x101000, 0, LEAF_RO);
	cr3(&t, 0, 0x10f000, 1);
	bad = fill(&t, 0x101000, PF_EC_W, 0x101000, 0, LEAF_RW); /* the shared shadow had a leaf */
	expect_one(&t, "fill-old-leaf", bad, def);
	nb_replay_free(t.r);
}

/* Legacy PAE keys roots by the 32-byte PDPT: two CR3s in one frame are two address spaces,
 * with leaves of their own. */
static void test_pae_cr3s_in_one_frame_are_two_address_spaces(void **state)
{
	struct trace t;
	int64_t bad;

	(void)state;
	t_init(&t);
	zap(&t, 0x10d000, SPT_ZAP_MODE, 0);
	fill(&t, 0x1000, 0, 0x5000, 0, LEAF_RO);
	cr3(&t, 0x10d000, 0x10d020, 0);
	fill(&t, 0x1000, 0, 0x5000, 0, LEAF_RO); /* a new shadow: no leaf there yet */
	cr3(&t, 0x10d020, 0x10d000, 1);
	fill(&t, 0x1000, PF_EC_W, 0x5000, LEAF_RO, LEAF_RW);
	expect_none(&t);
	assert_int_equal(nb_replay_stats(t.r)->cr3_unchecked, 1);
	assert_int_equal(nb_replay_stats(t.r)->cr3_checked, 1);
	assert_int_equal(nb_replay_stats(t.r)->fills_leaf_checked, 1);
	bad = cr3(&t, 0x10d000, 0x10d040, 1); /* PAE it is: a PDPT never seen cannot hit */
	expect_one(&t, "cr3-hit", bad, 0);
	nb_replay_free(t.r);
}

/* In 32-bit paging the 8 bytes a write reports hold two entries: a walk sets the A and D bits
 * of either without a record. */
static void test_accessed_bits_of_both_32_bit_entries_are_not_mismatches(void **state)
{
	struct trace t;

	(void)state;
	t_init(&t);
	zap(&t, 0x10f000, SPT_ZAP_MODE, 0);
	pt_write(&t, 0x10f000, 0, 0x0010500300104003ull, 2);
	pt_write(&t, 0x10f000, 0x0010506300104023ull, 0x0010506300104003ull, 2);
	expect_none(&t);
	assert_int_equal(nb_replay_stats(t.r)->pt_writes_checked, 1);
	nb_replay_free(t.r);
}

/* spt_zap_all frees the roots of every address space but the current one. */
static void test_zap_all_empties_the_root_cache(void **state)
{
	struct trace t;

	(void)state;
	t_init(&t);
	cr3(&t, 0x2000, 0x10000, 0);
	zap(&t, 0x10000, SPT_ZAP_ALL, 0);
	cr3(&t, 0x10000, 0x2000, 0);  /* 0x2000's roots were freed */
	cr3(&t, 0x2000, 0x10000, 1);  /* the current address space's were kept */
	expect_none(&t);
	nb_replay_free(t.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_consistent_trace_has_no_mismatch),
		cmocka_unit_test(test_pt_write_old_value_disagreeing_is_caught),
		cmocka_unit_test(test_accessed_and_dirty_bits_set_by_walks_are_not_mismatches),
		cmocka_unit_test(test_accessed_bit_lost_without_a_write_is_caught),
		cmocka_unit_test(test_entries_that_lost_protection_are_forgotten),
		cmocka_unit_test(test_fill_old_leaf_disagreeing_is_caught),
		cmocka_unit_test(test_write_protection_and_evictions_change_replayed_leaves),
		cmocka_unit_test(test_root_cache_disagreeing_is_caught),
		cmocka_unit_test(test_missing_eviction_is_caught),
		cmocka_unit_test(test_cr3_switch_from_another_cr3_is_caught),
		cmocka_unit_test(test_physical_map_and_rights_are_checked),
		cmocka_unit_test(test_fills_are_rewalked_over_modelled_tables),
		cmocka_unit_test(test_walk_records_define_entries_and_fills_are_rewalked),
		cmocka_unit_test(test_vms_are_replayed_apart),
		cmocka_unit_test(test_unpaged_cr3_switches_after_a_mode_change_hit),
		cmocka_unit_test(test_unpaged_guest_contradicted_is_caught),
		cmocka_unit_test(test_pae_cr3s_in_one_frame_are_two_address_spaces),
		cmocka_unit_test(test_accessed_bits_of_both_32_bit_entries_are_not_mismatches),
		cmocka_unit_test(test_zap_all_empties_the_root_cache),
	};

	return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
