/*
 * spt: shadow page tables, against a simulated machine: guest memory backed by host frames
 * through a physical map with holes (and an alias), pages handed out to shadow/ at their own
 * host-physical addresses, and a checker that walks the shadow exactly as the MMU would
 * (tests/unit/spt_sim.c, shared with the fuzz harness tests/fuzz/spt.c).
 *
 * Unit tests pin each rule down; the property tests then build random guests (random tables in
 * every paging mode, random physical maps) and run thousands of random fills, page-table
 * writes, CR3 switches, INVLPGs, mode changes and allocation failures, checking after each step
 * that every shadow translation is the guest's translation composed with the physical map, with
 * rights never wider than the guest's, and that no frame a translation depends on is writable.
 * Seed: NB_TEST_SEED (default: from the clock); time budget: NB_TEST_BUDGET seconds in all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/spt_sim.h"

/* A broken invariant of the simulated machine or the property engine: a test failure. */
void spt_sim_fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail_msg("%s", msg);
	abort(); /* fail_msg does not return */
}

static void gput64(struct sim *s, uint64_t gpa, uint64_t v)
{
	assert_int_equal(sim_write(s, gpa, &v, 8), 0);
}

static uint64_t gget64(struct sim *s, uint64_t gpa)
{
	uint64_t v = 0;
	assert_int_equal(sim_read(s, gpa, &v, 8), 0);
	return v;
}

static void gput32(struct sim *s, uint64_t gpa, uint32_t v)
{
	assert_int_equal(sim_write(s, gpa, &v, 4), 0);
}

/* ---- unit tests --------------------------------------------------------------------------- */

#define RWU (PTE_P | PTE_W | PTE_U)
#define RWUAD (RWU | PTE_A | PTE_D)

static struct gpt_mode long_mode(uint64_t cr3)
{
	struct gpt_mode m = { .paging = GPT_PAGING_LONG, .cr3 = cr3, .cr0_wp = true,
			      .cr4_pse = true, .efer_nxe = true, .maxphyaddr = 40 };
	return m;
}

/* Long-mode guest: PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000 (PT2 0x5000). */
#define VA(i4, i3, i2, i1) (((uint64_t)(i4) << 39) | ((uint64_t)(i3) << 30) | \
			    ((uint64_t)(i2) << 21) | ((uint64_t)(i1) << 12))

static void build_long_guest(struct sim *s)
{
	gput64(s, 0x1000 + 1 * 8, 0x2000 | RWU);
	gput64(s, 0x2000 + 0 * 8, 0x3000 | RWU);
	gput64(s, 0x3000 + 0 * 8, 0x4000 | RWU);
	gput64(s, 0x3000 + 1 * 8, 0x5000 | RWU);
	gput64(s, 0x4000 + 0 * 8, 0x8000 | RWUAD);
	gput64(s, 0x4000 + 1 * 8, 0x9000 | RWU);                 /* clean */
	gput64(s, 0x4000 + 2 * 8, 0xa000 | PTE_P | PTE_W | PTE_D); /* supervisor only */
	gput64(s, 0x4000 + 3 * 8, 0xb000 | PTE_P | PTE_U | PTE_D); /* read-only */
	gput64(s, 0x4000 + 4 * 8, 0xc000 | RWUAD | PTE_NX);
	gput64(s, 0x4000 + 5 * 8, 0x4000 | RWUAD);                /* the PT itself */
	gput64(s, 0x4000 + 6 * 8, 0x7f000000 | RWUAD);            /* outside guest RAM */
	gput64(s, 0x5000 + 0 * 8, 0xd000 | RWUAD);
	gput64(s, 0x3000 + 2 * 8, 0x00000000 | PTE_PS | RWUAD);   /* 2 MiB page at 0 */
}

struct fixture {
	struct sim *s;
	struct spt_ctx ctx;
};

static int setup_long(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct gpt_mode m = long_mode(0x1000);

	f->s = sim_new();
	build_long_guest(f->s);
	assert_int_equal(spt_init(&f->ctx, &sim_ops, f->s, &m), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	spt_destroy(&f->ctx);
	sim_delete(f->s);
	free(f);
	return 0;
}

static int fill(struct fixture *f, uint64_t gva, unsigned access)
{
	struct spt_fault fault;
	return spt_fill(&f->ctx, gva, access, &fault);
}

static uint64_t leaf(struct fixture *f, enum spt_root_kind kind, uint64_t gva)
{
	bool u_all;
	return shadow_leaf(f->s, spt_root_hpa(&f->ctx, kind), gva, &u_all);
}

static void test_spt_fill_maps_guest_virtual_to_host_physical(void **state)
{
	struct fixture *f = *state;
	uint64_t gva = VA(1, 0, 0, 0) + 0x123, e;

	f->s->gmap[8] = 30; /* the physical map is not the identity */
	assert_int_equal(fill(f, gva, PF_EC_U), SPT_FILLED);
	e = leaf(f, SPT_ROOT_USER, gva);
	assert_int_equal(e & ADDR_MASK, H_GUEST_BASE + 30 * 4096);
	assert_true((e & PTE_U) && (e & PTE_W) && !(e & PTE_NX));
	assert_int_equal(f->s->traces[NB_EV_SHADOW_FILL], 1);
	assert_int_equal(f->s->last[NB_EV_SHADOW_FILL].addr, gva);
	assert_int_equal(f->s->last[NB_EV_SHADOW_FILL].new_val, e);
	assert_int_equal(f->s->last[NB_EV_SHADOW_FILL].exit_info2, 0x8123);
	/* Filled lazily: the user root only, one page only. */
	assert_int_equal(leaf(f, SPT_ROOT_KERNEL, gva), 0);
	assert_int_equal(leaf(f, SPT_ROOT_USER, VA(1, 0, 0, 4)), 0);
}

/* The walk a fill was built from is recorded just before it: the entries as the walk left them,
 * the CR3, the mode and the A/D bits the walk set (spt.h). */
static void test_spt_fill_records_its_guest_walk(void **state)
{
	struct fixture *f = *state;
	uint64_t gva = VA(1, 0, 0, 1) + 0x123, ad_bits = 0; /* through a clean PTE, no A above */
	const struct nb_trace_record *rec = &f->s->last[NB_EV_GPT_WALK];
	struct gpt_walk before, after;
	unsigned l;

	assert_int_equal(gpt_walk(&sim_ops, f->s, &f->ctx.mode, gva, 0, 0, &before), 0);
	assert_int_equal(fill(f, gva, PF_EC_U | PF_EC_W), SPT_FILLED);
	assert_int_equal(gpt_walk(&sim_ops, f->s, &f->ctx.mode, gva, 0, 0, &after), 0);
	assert_int_equal(f->s->traces[NB_EV_GPT_WALK], 1);
	assert_int_equal(f->s->traces[NB_EV_SHADOW_FILL], 1);
	assert_int_equal(rec->addr, gva);
	assert_int_equal(rec->exit_code, 0x1000);
	assert_int_equal(rec->exit_info1, after.entry[4]);
	assert_int_equal(rec->exit_info2, after.entry[3]);
	assert_int_equal(rec->old_val, after.entry[2]);
	assert_int_equal(rec->new_val, after.entry[1]);
	for (l = 1; l <= 4; l++) {
		uint64_t set = after.entry[l] & ~before.entry[l];
		ad_bits |= ((set & PTE_A ? 1ull : 0) | (set & PTE_D ? 2ull : 0)) << (2 * (l - 1));
	}
	assert_int_equal(ad_bits, 0x57); /* A at every level, and the write set D in the PTE */
	assert_int_equal(rec->aux, 4 | 1 << 8 | (GPT_PAGING_LONG | (uint64_t)f->ctx.mode.cr0_wp << 4 |
						  (uint64_t)f->ctx.mode.cr4_pse << 5 |
						  (uint64_t)f->ctx.mode.efer_nxe << 6) << 16 | ad_bits << 24);

	/* A second fill through the same entries: the walk sets nothing. */
	assert_int_equal(fill(f, gva, PF_EC_U), SPT_FILLED);
	assert_int_equal(f->s->traces[NB_EV_GPT_WALK], 2);
	assert_int_equal(rec->aux >> 24, 0);
	assert_int_equal(rec->new_val, after.entry[1]);
}

static void test_spt_clean_page_stays_read_only_until_written(void **state)
{
	struct fixture *f = *state;
	uint64_t gva = VA(1, 0, 0, 1);

	assert_int_equal(fill(f, gva, PF_EC_U), SPT_FILLED);
	assert_false(leaf(f, SPT_ROOT_USER, gva) & PTE_W);
	assert_int_equal(gget64(f->s, 0x4008), 0x9000 | RWU | PTE_A);
	assert_int_equal(fill(f, gva, PF_EC_U | PF_EC_W), SPT_FILLED);
	assert_true(leaf(f, SPT_ROOT_USER, gva) & PTE_W);
	assert_int_equal(gget64(f->s, 0x4008), 0x9000 | RWUAD);
	/* Wider than before: no flush needed (the #PF dropped the stale TLB entry). */
	assert_false(spt_take_tlb_flush(&f->ctx));
	/* Narrower (the guest cleans the page): the old entry must leave the TLB. */
	spt_pt_write(&f->ctx, 0x4008, 0x9000 | RWUAD, 0x9000 | RWU | PTE_A);
	assert_true(spt_take_tlb_flush(&f->ctx));
	assert_false(spt_take_tlb_flush(&f->ctx));
}

static void test_spt_supervisor_page_never_reaches_the_user_root(void **state)
{
	struct fixture *f = *state;
	uint64_t gva = VA(1, 0, 0, 2);
	struct spt_fault fault;

	assert_int_equal(spt_fill(&f->ctx, gva, PF_EC_U, &fault), SPT_GUEST_PF);
	assert_int_equal(fault.error_code, PF_EC_P | PF_EC_U);
	assert_int_equal(leaf(f, SPT_ROOT_USER, gva), 0);
	assert_int_equal(fill(f, gva, PF_EC_W), SPT_FILLED);
	/* U=1 in the shadow (the guest kernel runs in ring 3), but only in the kernel root. */
	assert_true(leaf(f, SPT_ROOT_KERNEL, gva) & PTE_U);
	assert_int_equal(leaf(f, SPT_ROOT_USER, gva), 0);
}

static void test_spt_kernel_root_follows_cr0_wp(void **state)
{
	struct fixture *f = *state;
	uint64_t gva = VA(1, 0, 0, 3);
	struct gpt_mode m = long_mode(0x1000);
	struct spt_fault fault;

	assert_int_equal(spt_fill(&f->ctx, gva, PF_EC_W, &fault), SPT_GUEST_PF);
	assert_int_equal(fault.error_code, PF_EC_P | PF_EC_W);
	m.cr0_wp = false;
	assert_int_equal(spt_set_mode(&f->ctx, &m), 0);
	assert_int_equal(fill(f, gva, PF_EC_W), SPT_FILLED);
	assert_true(leaf(f, SPT_ROOT_KERNEL, gva) & PTE_W);
	assert_int_equal(spt_fill(&f->ctx, gva, PF_EC_W | PF_EC_U, &fault), SPT_GUEST_PF);
	assert_int_equal(fill(f, gva, PF_EC_U), SPT_FILLED);
	assert_false(leaf(f, SPT_ROOT_USER, gva) & PTE_W);
}

static void test_spt_no_execute_is_copied(void **state)
{
	struct fixture *f = *state;
	uint64_t gva = VA(1, 0, 0, 4);
	struct spt_fault fault;

	assert_int_equal(fill(f, gva, PF_EC_U), SPT_FILLED);
	assert_true(leaf(f, SPT_ROOT_USER, gva) & PTE_NX);
	assert_int_equal(spt_fill(&f->ctx, gva, PF_EC_U | PF_EC_ID, &fault), SPT_GUEST_PF);
	assert_int_equal(fault.error_code, PF_EC_P | PF_EC_U | PF_EC_ID);
}

static void test_spt_page_table_frames_are_write_protected(void **state)
{
	struct fixture *f = *state;
	uint64_t self = VA(1, 0, 0, 5), data = VA(1, 0, 1, 0);
	struct spt_fault fault;

	/* A write through a mapping of the guest's own PT: emulate, do not map writable. */
	assert_int_equal(spt_fill(&f->ctx, self, PF_EC_U | PF_EC_W, &fault), SPT_PT_WRITE);
	assert_int_equal(fault.gpa, 0x4000);
	assert_false(leaf(f, SPT_ROOT_USER, self) & PTE_W);
	assert_true(leaf(f, SPT_ROOT_USER, self) & PTE_P);

	/* A frame mapped writable that later becomes a table is write-protected at once. */
	assert_int_equal(fill(f, data, PF_EC_U | PF_EC_W), SPT_FILLED);
	assert_true(leaf(f, SPT_ROOT_USER, data) & PTE_W);
	spt_take_tlb_flush(&f->ctx);
	gput64(f->s, 0x3000 + 3 * 8, 0xd000 | RWU); /* PD entry 3 -> table in frame 0xd000 */
	spt_pt_write(&f->ctx, 0x3018, 0, 0xd000 | RWU);
	gput64(f->s, 0xd000, 0x8000 | RWUAD);
	assert_int_equal(fill(f, VA(1, 0, 3, 0), PF_EC_U), SPT_FILLED);
	assert_false(leaf(f, SPT_ROOT_USER, data) & PTE_W);
	assert_true(spt_take_tlb_flush(&f->ctx));
	assert_int_equal(f->s->last[NB_EV_SHADOW_ZAP].old_val, SPT_ZAP_WRPROT);
	assert_int_equal(f->s->last[NB_EV_SHADOW_ZAP].addr, 0xd000);
	assert_int_equal(spt_fill(&f->ctx, data, PF_EC_U | PF_EC_W, &fault), SPT_PT_WRITE);
}

/* A frame that is not the guest's table but must be seen written (a nested page table nbvmm
 * composes into its nested guest's shadow): every writable leaf mapping it, through any alias,
 * loses W at once; with the physical map saying read-only, reads still fill and writes are MMIO
 * for the caller to emulate. */
static void test_spt_write_protect_gpa_drops_w_from_every_alias(void **state)
{
	struct fixture *f = *state;
	uint64_t data = VA(1, 0, 0, 0) + 0x18, alias = VA(1, 0, 2, 8) + 0x18;
	struct spt_fault fault;

	assert_int_equal(fill(f, data, PF_EC_U | PF_EC_W), SPT_FILLED);
	assert_int_equal(fill(f, alias, PF_EC_W), SPT_FILLED); /* the 2 MiB page at 0: frame 8 again */
	assert_true(leaf(f, SPT_ROOT_USER, data) & PTE_W);
	assert_true(leaf(f, SPT_ROOT_KERNEL, alias) & PTE_W);
	spt_take_tlb_flush(&f->ctx);

	f->s->readonly[8] = true;
	spt_write_protect_gpa(&f->ctx, 0x8000);
	assert_false(leaf(f, SPT_ROOT_USER, data) & PTE_W);
	assert_false(leaf(f, SPT_ROOT_KERNEL, alias) & PTE_W);
	assert_true(leaf(f, SPT_ROOT_USER, data) & PTE_P);
	assert_true(spt_take_tlb_flush(&f->ctx));
	assert_int_equal(f->s->last[NB_EV_SHADOW_ZAP].old_val, SPT_ZAP_WRPROT);
	assert_int_equal(f->s->last[NB_EV_SHADOW_ZAP].addr, 0x8000);
	assert_int_equal(f->s->last[NB_EV_SHADOW_ZAP].aux, 2);

	/* A write is now the caller's to emulate; a read maps the frame read-only. */
	assert_int_equal(spt_fill(&f->ctx, data, PF_EC_U | PF_EC_W, &fault), SPT_MMIO);
	assert_int_equal(fault.gpa, 0x8018);
	spt_invlpg(&f->ctx, data);
	assert_int_equal(fill(f, data, PF_EC_U), SPT_FILLED);
	assert_false(leaf(f, SPT_ROOT_USER, data) & PTE_W);
	/* Another frame is untouched; a frame nobody maps writable is a no-op. */
	assert_int_equal(fill(f, VA(1, 0, 1, 0), PF_EC_U | PF_EC_W), SPT_FILLED);
	assert_true(leaf(f, SPT_ROOT_USER, VA(1, 0, 1, 0)) & PTE_W);
	spt_take_tlb_flush(&f->ctx);
	spt_write_protect_gpa(&f->ctx, 0x20000);
	assert_false(spt_take_tlb_flush(&f->ctx));
}

static void test_spt_pt_write_drops_exactly_the_derived_entries(void **state)
{
	struct fixture *f = *state;
	uint64_t a = VA(1, 0, 0, 0), b = VA(1, 0, 1, 0), c = VA(1, 0, 0, 1);

	assert_int_equal(fill(f, a, PF_EC_U), SPT_FILLED);
	assert_int_equal(fill(f, b, PF_EC_U), SPT_FILLED);
	assert_int_equal(fill(f, c, PF_EC_U), SPT_FILLED);
	/* Same value: nothing to drop. */
	spt_pt_write(&f->ctx, 0x4000, gget64(f->s, 0x4000), gget64(f->s, 0x4000));
	assert_int_not_equal(leaf(f, SPT_ROOT_USER, a), 0);
	/* PTE 0 changes: a goes, c (PTE 1 of the same PT) and b stay. */
	spt_pt_write(&f->ctx, 0x4000, 0x8000 | RWUAD, 0x8000 | RWU);
	assert_int_equal(leaf(f, SPT_ROOT_USER, a), 0);
	assert_int_not_equal(leaf(f, SPT_ROOT_USER, c), 0);
	assert_int_not_equal(leaf(f, SPT_ROOT_USER, b), 0);
	assert_int_equal(f->s->last[NB_EV_PT_WRITE].aux, 1);
	assert_int_equal(f->s->last[NB_EV_SHADOW_ZAP].addr, a);
	assert_int_equal(f->s->last[NB_EV_SHADOW_ZAP].aux, 1);
	/* A 4-byte write into the upper half of PTE 1 is reported as its whole quadword. */
	spt_pt_write(&f->ctx, 0x400c, 0x9000 | RWU, 0x9000 | RWU | PTE_NX);
	assert_int_equal(leaf(f, SPT_ROOT_USER, c), 0);
	/* PDPE 0 changes: everything below it goes. */
	spt_pt_write(&f->ctx, 0x2000, 0x3000 | RWU, 0x3000 | PTE_P | PTE_U);
	assert_int_equal(leaf(f, SPT_ROOT_USER, b), 0);
	assert_int_equal(f->s->last[NB_EV_PT_WRITE].aux, 3);
}

static void test_spt_invlpg_drops_the_whole_guest_page(void **state)
{
	struct fixture *f = *state;
	uint64_t big = VA(1, 0, 2, 0);

	assert_int_equal(fill(f, big + 0x1000, PF_EC_U), SPT_FILLED);
	assert_int_equal(fill(f, big + 0x5000, 0), SPT_FILLED);
	assert_int_equal(fill(f, VA(1, 0, 0, 0), PF_EC_U), SPT_FILLED);
	spt_invlpg(&f->ctx, big + 0x3000);
	assert_int_equal(leaf(f, SPT_ROOT_USER, big + 0x1000), 0);
	assert_int_equal(leaf(f, SPT_ROOT_KERNEL, big + 0x5000), 0);
	assert_int_not_equal(leaf(f, SPT_ROOT_USER, VA(1, 0, 0, 0)), 0);
	assert_int_equal(f->s->last[NB_EV_INVLPG].aux, 4); /* PDE and leaf, in both roots */
	spt_invlpg(&f->ctx, VA(1, 0, 0, 0));
	assert_int_equal(leaf(f, SPT_ROOT_USER, VA(1, 0, 0, 0)), 0);
}

static void test_spt_address_outside_guest_memory_is_mmio(void **state)
{
	struct fixture *f = *state;
	struct spt_fault fault;

	assert_int_equal(spt_fill(&f->ctx, VA(1, 0, 0, 6) + 0x10, 0, &fault), SPT_MMIO);
	assert_int_equal(fault.gpa, 0x7f000010);
	assert_int_equal(leaf(f, SPT_ROOT_KERNEL, VA(1, 0, 0, 6)), 0);
	/* A large guest page reaching past RAM: its pages past RAM are MMIO too. */
	assert_int_equal(spt_fill(&f->ctx, VA(1, 0, 2, 100), 0, &fault), SPT_MMIO);
	assert_int_equal(fill(f, VA(1, 0, 2, G_FRAMES - 1), 0), SPT_FILLED);
	/* A hole in the physical map. */
	f->s->gmap[0xd] = -1;
	assert_int_equal(spt_fill(&f->ctx, VA(1, 0, 1, 0), 0, &fault), SPT_MMIO);
}

static void test_spt_cr3_switch_reuses_cached_roots_lru(void **state)
{
	struct fixture *f = *state;
	uint64_t cr3[SPT_ROOT_CACHE + 1], roots[SPT_ROOT_CACHE + 1], gva = VA(1, 0, 0, 0);
	unsigned i;

	/* Address spaces 0x10000, 0x11000, ...: PML4s sharing the PDPT at 0x2000. */
	for (i = 0; i <= SPT_ROOT_CACHE; i++) {
		cr3[i] = 0x10000 + i * 0x1000;
		gput64(f->s, cr3[i] + 8, 0x2000 | RWU);
	}
	for (i = 0; i < SPT_ROOT_CACHE; i++) {
		assert_int_equal(spt_cr3_switch(&f->ctx, cr3[i]), 0);
		roots[i] = spt_root_hpa(&f->ctx, SPT_ROOT_USER);
		assert_int_equal(fill(f, gva, PF_EC_U), SPT_FILLED);
	}
	assert_int_equal(f->s->last[NB_EV_CR3_SWITCH].aux, 0);
	/* Back to the first: same root, its translation still there. */
	assert_int_equal(spt_cr3_switch(&f->ctx, cr3[0]), 0);
	assert_int_equal(f->s->last[NB_EV_CR3_SWITCH].aux, 1);
	assert_int_equal(f->s->last[NB_EV_CR3_SWITCH].new_val, cr3[0]);
	assert_int_equal(spt_root_hpa(&f->ctx, SPT_ROOT_USER), roots[0]);
	assert_int_not_equal(leaf(f, SPT_ROOT_USER, gva), 0);
	/* A fifth: the least recently used (cr3[1]) leaves the cache. */
	assert_int_equal(spt_cr3_switch(&f->ctx, cr3[SPT_ROOT_CACHE]), 0);
	assert_int_equal(f->s->last[NB_EV_SHADOW_ZAP].old_val, SPT_ZAP_EVICT);
	assert_int_equal(f->s->last[NB_EV_SHADOW_ZAP].addr, cr3[1]);
	for (i = 0; i < SPT_ROOT_CACHE; i++) {
		uint64_t key;
		uint64_t r = spt_cached_root(&f->ctx, i, SPT_ROOT_USER, &key);
		assert_true(r != 0 && key != cr3[1]);
	}
	assert_int_equal(spt_cr3_switch(&f->ctx, cr3[2]), 0);
	assert_int_equal(spt_root_hpa(&f->ctx, SPT_ROOT_USER), roots[2]);
	/* One PDPT shared by all address spaces: a write to it reaches every cached root. */
	spt_pt_write(&f->ctx, 0x2000, 0x3000 | RWU, 0);
	assert_int_equal(leaf(f, SPT_ROOT_USER, gva), 0);
	assert_int_equal(spt_cr3_switch(&f->ctx, cr3[0]), 0);
	assert_int_equal(leaf(f, SPT_ROOT_USER, gva), 0);
	assert_int_equal(f->ctx.stats.cr3_hits, 3);
}

static void test_spt_host_mappings_are_in_every_root_and_supervisor_only(void **state)
{
	struct fixture *f = *state;
	uint64_t hva = 0xffff960000000000ull, k;
	unsigned slot = (unsigned)((hva >> 39) & 511), i, kind;
	bool u_all;

	assert_int_equal(spt_map_host(&f->ctx, hva, H_HYP_BASE, PTE_W | PTE_NX), 0);
	assert_int_equal(spt_map_host(&f->ctx, hva + 0x1000, H_HYP_BASE + 0x1000, 0), 0);
	assert_int_equal(spt_map_host(&f->ctx, hva, H_HYP_BASE, PTE_U), -SHADOW_EINVAL);
	assert_int_equal(spt_map_host(&f->ctx, hva + 1, H_HYP_BASE, 0), -SHADOW_EINVAL);
	assert_int_equal(spt_cr3_switch(&f->ctx, 0x10000), 0); /* roots built afterwards too */
	gput64(f->s, 0x10000 + slot * 8, 0x2000 | RWU);        /* the guest tries to use it */
	assert_int_equal(fill(f, hva + 0x2000, PF_EC_U), -SHADOW_EBUSY);
	spt_zap_all(&f->ctx);
	for (i = 0; i < SPT_ROOT_CACHE; i++) {
		for (kind = 0; kind < 2; kind++) {
			uint64_t r = spt_cached_root(&f->ctx, i, kind, &k);
			uint64_t e;
			if (!r)
				continue;
			assert_false(sim_table(f->s, r)[slot] & PTE_U);
			e = shadow_leaf(f->s, r, hva, &u_all);
			assert_int_equal(e & ADDR_MASK, H_HYP_BASE);
			assert_true((e & PTE_W) && (e & PTE_NX) && !u_all);
			e = shadow_leaf(f->s, r, hva + 0x1000, &u_all);
			assert_int_equal(e & ADDR_MASK, H_HYP_BASE + 0x1000);
			assert_false(e & PTE_W);
		}
	}
}

static void test_spt_host_slot_given_whole_is_shared_and_supervisor_only(void **state)
{
	struct fixture *f = *state;
	uint64_t pdpt = H_HYP_BASE + 0x10000, k;
	unsigned i, kind, n = 0;

	gput64(f->s, 0x1000 + 511 * 8, 0x2000 | RWU); /* the guest maps the top slot too... */
	assert_int_equal(fill(f, 0xffffff8000000000ull, PF_EC_U), SPT_FILLED);
	assert_int_equal(spt_map_host_slot(&f->ctx, 511, pdpt), 0);
	/* ...which is now the hypervisor's: dropped, refused, in every root, new ones too. */
	assert_int_equal(f->s->last[NB_EV_SHADOW_ZAP].old_val, SPT_ZAP_HOST);
	assert_int_equal(fill(f, 0xffffff8000000000ull, PF_EC_U), -SHADOW_EBUSY);
	assert_int_equal(spt_map_host_slot(&f->ctx, 511, pdpt), -SHADOW_EBUSY);
	assert_int_equal(spt_map_host(&f->ctx, 0xffffff8000000000ull, H_HYP_BASE, 0), -SHADOW_EBUSY);
	assert_int_equal(spt_map_host_slot(&f->ctx, 512, pdpt), -SHADOW_EINVAL);
	assert_int_equal(spt_cr3_switch(&f->ctx, 0x10000), 0);
	for (i = 0; i < SPT_ROOT_CACHE; i++) {
		for (kind = 0; kind < 2; kind++) {
			uint64_t r = spt_cached_root(&f->ctx, i, kind, &k);
			if (!r)
				continue;
			assert_int_equal(sim_table(f->s, r)[511], pdpt | PTE_P | PTE_W | PTE_A);
			n++;
		}
	}
	assert_int_equal(n, 4);
	/* teardown checks that spt never frees the caller's table */
}

static void test_spt_out_of_memory_is_reported_and_recoverable(void **state)
{
	struct fixture *f = *state;

	f->s->budget = f->s->live; /* no page left */
	assert_int_equal(fill(f, VA(1, 0, 0, 0), PF_EC_U), -SHADOW_ENOMEM);
	assert_int_equal(spt_cr3_switch(&f->ctx, 0x10000), -SHADOW_ENOMEM);
	assert_int_equal(spt_root_hpa(&f->ctx, SPT_ROOT_USER), 0);
	f->s->budget = NO_BUDGET;
	gput64(f->s, 0x10000 + 8, 0x2000 | RWU);
	assert_int_equal(fill(f, VA(1, 0, 0, 0), PF_EC_U), SPT_FILLED);
	assert_int_not_equal(spt_root_hpa(&f->ctx, SPT_ROOT_USER), 0);
}

static void test_spt_destroy_gives_every_page_back(void **state)
{
	struct fixture *f = *state;
	unsigned i;

	for (i = 0; i < 7; i++)
		fill(f, VA(1, 0, 0, i), i & 1 ? PF_EC_U : PF_EC_W);
	spt_map_host(&f->ctx, 0xffff800000000000ull, H_HYP_BASE, 0);
	assert_true(f->s->live > 0);
	assert_int_equal(f->s->live, f->ctx.stats.pages);
	/* teardown destroys and checks that f->s->live is back to 0 */
}

static void test_spt_mode_change_drops_every_shadow(void **state)
{
	struct fixture *f = *state;
	struct gpt_mode m = long_mode(0x1000);

	assert_int_equal(fill(f, VA(1, 0, 0, 0), PF_EC_U), SPT_FILLED);
	m.efer_nxe = false;
	assert_int_equal(spt_set_mode(&f->ctx, &m), 0);
	assert_int_equal(leaf(f, SPT_ROOT_USER, VA(1, 0, 0, 0)), 0);
	assert_int_equal(f->s->last[NB_EV_SHADOW_ZAP].old_val, SPT_ZAP_MODE);
	assert_int_equal(f->s->last[NB_EV_SHADOW_ZAP].aux, 4); /* PML4E, PDPE, PDE, PTE */
}

static void test_spt_legacy_32bit_4m_page_spans_two_shadow_tables(void **state)
{
	struct sim *s = sim_new();
	struct gpt_mode m = { .paging = GPT_PAGING_32, .cr3 = 0x1000, .cr0_wp = true,
			      .cr4_pse = true, .maxphyaddr = 40 };
	struct spt_ctx ctx;
	struct spt_fault fault;
	bool u;

	(void)state;
	gput32(s, 0x1000 + 0 * 4, 0x00000000 | PTE_PS | RWUAD); /* 4 MiB at 0 */
	gput32(s, 0x1000 + 1 * 4, 0x2000 | RWU);                /* PT at 0x2000 */
	gput32(s, 0x2000 + 0 * 4, 0x5000 | RWUAD);
	gput32(s, 0x2000 + 1 * 4, 0x6000 | RWUAD);
	assert_int_equal(spt_init(&ctx, &sim_ops, s, &m), 0);
	assert_int_equal(spt_fill(&ctx, 0x3000, PF_EC_U, &fault), SPT_FILLED);
	assert_int_equal(spt_fill(&ctx, 0x200000 + 0x3000, PF_EC_U, &fault), SPT_MMIO);
	assert_int_equal(spt_fill(&ctx, 0x400000, PF_EC_U, &fault), SPT_FILLED);
	assert_int_equal(spt_fill(&ctx, 0x401000, PF_EC_U, &fault), SPT_FILLED);
	/* The frame of the PD is mapped by the 4 MiB page: read-only. */
	assert_int_equal(spt_fill(&ctx, 0x1000, PF_EC_U | PF_EC_W, &fault), SPT_PT_WRITE);
	/* A write to PDE 1 alone (the 8 bytes hold PDEs 0 and 1) keeps the 4 MiB page. */
	spt_pt_write(&ctx, 0x1000, 0x00000000 | PTE_PS | RWUAD | ((0x2000ull | RWU) << 32),
		     0x00000000 | PTE_PS | RWUAD | ((0x2000ull | PTE_P) << 32));
	assert_int_not_equal(shadow_leaf(s, spt_root_hpa(&ctx, SPT_ROOT_USER), 0x3000, &u), 0);
	assert_int_equal(shadow_leaf(s, spt_root_hpa(&ctx, SPT_ROOT_USER), 0x400000, &u), 0);
	assert_int_equal(shadow_leaf(s, spt_root_hpa(&ctx, SPT_ROOT_USER), 0x401000, &u), 0);
	/* INVLPG in the 4 MiB page drops it in both 2 MiB halves. */
	s->window = 0x200; /* gpa 2 MiB.. is RAM now */
	assert_int_equal(spt_fill(&ctx, 0x201000, PF_EC_U, &fault), SPT_FILLED);
	assert_int_equal(spt_fill(&ctx, 0x1000, PF_EC_U, &fault), SPT_FILLED);
	spt_invlpg(&ctx, 0x3000);
	assert_int_equal(shadow_leaf(s, spt_root_hpa(&ctx, SPT_ROOT_USER), 0x1000, &u), 0);
	assert_int_equal(shadow_leaf(s, spt_root_hpa(&ctx, SPT_ROOT_USER), 0x201000, &u), 0);
	assert_int_equal(s->last[NB_EV_INVLPG].aux, 5); /* 2 PDEs and 3 leaves */
	spt_destroy(&ctx);
	sim_delete(s);
}

static void test_spt_pae_pdpt_shares_its_frame(void **state)
{
	struct sim *s = sim_new();
	struct gpt_mode m = { .paging = GPT_PAGING_PAE, .cr3 = 0x1020, .cr0_wp = true,
			      .efer_nxe = true, .maxphyaddr = 40 };
	struct spt_ctx ctx;
	struct spt_fault fault;
	bool u;

	(void)state;
	gput64(s, 0x1000 + 0 * 8, 0x2000 | PTE_P);  /* another PDPT at 0x1000 */
	gput64(s, 0x1020 + 0 * 8, 0x3000 | PTE_P);
	gput64(s, 0x3000, 0x4000 | RWU);
	gput64(s, 0x4000, 0x5000 | RWUAD);
	assert_int_equal(spt_init(&ctx, &sim_ops, s, &m), 0);
	assert_int_equal(spt_fill(&ctx, 0x10, PF_EC_U, &fault), SPT_FILLED);
	spt_pt_write(&ctx, 0x1000, 0x2000 | PTE_P, 0);
	assert_int_not_equal(shadow_leaf(s, spt_root_hpa(&ctx, SPT_ROOT_USER), 0, &u), 0);
	spt_pt_write(&ctx, 0x1020, 0x3000 | PTE_P, 0x3000);
	assert_int_equal(shadow_leaf(s, spt_root_hpa(&ctx, SPT_ROOT_USER), 0, &u), 0);
	assert_int_equal(s->last[NB_EV_PT_WRITE].aux, 3);
	spt_destroy(&ctx);
	sim_delete(s);
}

static void test_spt_without_paging_maps_identity(void **state)
{
	struct sim *s = sim_new();
	struct gpt_mode m = { .paging = GPT_PAGING_NONE };
	struct spt_ctx ctx;
	struct spt_fault fault;
	uint64_t e;
	bool u;

	(void)state;
	s->gmap[5] = 17;
	assert_int_equal(spt_init(&ctx, &sim_ops, s, &m), 0);
	assert_int_equal(spt_fill(&ctx, 0x5010, PF_EC_W | PF_EC_U, &fault), SPT_FILLED);
	e = shadow_leaf(s, spt_root_hpa(&ctx, SPT_ROOT_USER), 0x5010, &u);
	assert_int_equal(e & ADDR_MASK, H_GUEST_BASE + 17 * 4096);
	assert_true(e & PTE_W);
	assert_int_equal(spt_fill(&ctx, 0x100000, 0, &fault), SPT_MMIO);
	spt_destroy(&ctx);
	sim_delete(s);
}

/* ---- property tests ----------------------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One seed for the whole program, so that NB_TEST_SEED replays every property test. */
static uint64_t test_seed(void)
{
	static uint64_t seed;
	const char *e = getenv("NB_TEST_SEED");

	if (!seed)
		seed = e && *e ? strtoull(e, NULL, 0)
			       : ((uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid()) | 1;
	return seed;
}

static double test_budget(void)
{
	const char *e = getenv("NB_TEST_BUDGET");
	double b = e && *e ? strtod(e, NULL) : 3.0;

	return b > 0 ? b : 3.0;
}

#define OPS_PER_RUN 200

static void run_property(enum gpt_paging paging)
{
	struct prop *p = calloc(1, sizeof(*p));
	double end = now() + test_budget() / 3;
	unsigned i;

	assert_non_null(p);
	p->seed = test_seed();
	p->rng = p->seed ^ ((uint64_t)paging << 56); /* one stream per mode */
	print_message("# seed %#llx (set NB_TEST_SEED to replay)\n", (unsigned long long)p->seed);
	do {
		prop_new_guest(p, paging);
		for (i = 0, p->op = 0; i < OPS_PER_RUN; i++, p->op++)
			prop_step(p);
		spt_destroy(&p->ctx);
		sim_delete(p->s);
		p->run++;
	} while (now() < end || p->run < 10);
	print_message("# mode %d: %u random guests, %lu operations, %lu full shadow checks, %lu "
		      "leaves checked; fills: %lu mapped, %lu guest #PF, %lu MMIO, %lu page-table "
		      "writes, %lu #PF after their own A/D update; table stores: %lu emulated, %lu direct; "
		      "%lu allocation failures\n",
		      paging, p->run, p->ops, p->checks, p->leaves, p->filled, p->guest_pf, p->mmio,
		      p->pt_write_fills, p->ad_refaults, p->emulated, p->direct, p->oom);
	assert_true(p->filled > 0 && p->guest_pf > 0 && p->emulated > 0);
	free(p);
}

static void test_spt_property_long_mode(void **state)
{
	(void)state;
	run_property(GPT_PAGING_LONG);
}

static void test_spt_property_pae(void **state)
{
	(void)state;
	run_property(GPT_PAGING_PAE);
}

static void test_spt_property_32bit(void **state)
{
	(void)state;
	run_property(GPT_PAGING_32);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup_long, teardown)
	const struct CMUnitTest tests[] = {
		T(test_spt_fill_maps_guest_virtual_to_host_physical),
		T(test_spt_fill_records_its_guest_walk),
		T(test_spt_clean_page_stays_read_only_until_written),
		T(test_spt_supervisor_page_never_reaches_the_user_root),
		T(test_spt_kernel_root_follows_cr0_wp),
		T(test_spt_no_execute_is_copied),
		T(test_spt_page_table_frames_are_write_protected),
		T(test_spt_write_protect_gpa_drops_w_from_every_alias),
		T(test_spt_pt_write_drops_exactly_the_derived_entries),
		T(test_spt_invlpg_drops_the_whole_guest_page),
		T(test_spt_address_outside_guest_memory_is_mmio),
		T(test_spt_cr3_switch_reuses_cached_roots_lru),
		T(test_spt_host_mappings_are_in_every_root_and_supervisor_only),
		T(test_spt_host_slot_given_whole_is_shared_and_supervisor_only),
		T(test_spt_out_of_memory_is_reported_and_recoverable),
		T(test_spt_destroy_gives_every_page_back),
		T(test_spt_mode_change_drops_every_shadow),
		cmocka_unit_test(test_spt_legacy_32bit_4m_page_spans_two_shadow_tables),
		cmocka_unit_test(test_spt_pae_pdpt_shares_its_frame),
		cmocka_unit_test(test_spt_without_paging_maps_identity),
		cmocka_unit_test(test_spt_property_long_mode),
		cmocka_unit_test(test_spt_property_pae),
		cmocka_unit_test(test_spt_property_32bit),
	};
#undef T

	return cmocka_run_group_tests_name("shadow: shadow page tables", tests, NULL, NULL);
}
