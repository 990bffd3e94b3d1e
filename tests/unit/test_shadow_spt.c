/*
 * spt: shadow page tables, against a simulated machine: guest memory backed by host frames
 * through a physical map with holes (and an alias), pages handed out to shadow/ at their own
 * host-physical addresses, and a checker that walks the shadow exactly as the MMU would.
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

#include "shadow/spt.h"

/* ---- the simulated machine ---------------------------------------------------------------- */

#define G_FRAMES 40                    /* guest RAM: gpa frames 0..39 (some are holes) */
#define H_GUEST_BASE 0x1000000000ull   /* host frames backing guest RAM */
#define H_SHADOW_BASE 0x2000000000ull  /* pages given to shadow/ */
#define H_HYP_BASE 0x3000000000ull     /* hypervisor pages mapped with spt_map_host */
#define MAX_SPAGES 4096
#define ADDR_MASK 0x000ffffffffff000ull
#define NO_BUDGET 0xffffffffu

struct sim {
	uint8_t hmem[G_FRAMES][4096]; /* host frames backing guest RAM */
	int gmap[G_FRAMES];           /* gpa frame -> host frame, -1 for a hole */
	unsigned window;              /* if not 0: gpa frames window..window+7 -> the last 8 */
	bool readonly[G_FRAMES];      /* gpa frames the physical map lets nobody write */
	void *spage[MAX_SPAGES];
	unsigned live, budget;
	unsigned traces[NB_EV_KIND_COUNT];
	struct nb_trace_record last[NB_EV_KIND_COUNT];
};

static int sim_hframe(const struct sim *s, uint64_t gpa)
{
	uint64_t g = gpa >> 12;

	if (s->window && g >= s->window && g < s->window + 8u)
		return (int)(G_FRAMES - 8 + (g - s->window));
	return g < G_FRAMES ? s->gmap[g] : -1;
}

static int sim_read(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	struct sim *s = opaque;
	int h = sim_hframe(s, gpa);

	if (h < 0 || (gpa & 0xfff) + len > 4096)
		return -1;
	memcpy(buf, s->hmem[h] + (gpa & 0xfff), len);
	return 0;
}

static int sim_write(void *opaque, uint64_t gpa, const void *buf, unsigned len)
{
	struct sim *s = opaque;
	int h = sim_hframe(s, gpa);

	if (h < 0 || (gpa & 0xfff) + len > 4096)
		return -1;
	memcpy(s->hmem[h] + (gpa & 0xfff), buf, len);
	return 0;
}

static int sim_gpa_to_hpa(void *opaque, uint64_t gpa, uint64_t *hpa)
{
	int h = sim_hframe(opaque, gpa);

	if (h < 0)
		return -1;
	*hpa = H_GUEST_BASE + (uint64_t)h * 4096;
	return gpa >> 12 < G_FRAMES && ((const struct sim *)opaque)->readonly[gpa >> 12] ? SHADOW_GPA_READONLY : 0;
}

static void *sim_alloc(void *opaque, uint64_t *hpa)
{
	struct sim *s = opaque;
	unsigned i;

	if (s->budget != NO_BUDGET && s->live >= s->budget)
		return NULL;
	for (i = 0; i < MAX_SPAGES; i++) {
		if (!s->spage[i]) {
			s->spage[i] = aligned_alloc(4096, 4096);
			assert_non_null(s->spage[i]);
			memset(s->spage[i], 0, 4096);
			s->live++;
			*hpa = H_SHADOW_BASE + (uint64_t)i * 4096;
			return s->spage[i];
		}
	}
	return NULL;
}

static void sim_free(void *opaque, void *page, uint64_t hpa)
{
	struct sim *s = opaque;
	uint64_t i = (hpa - H_SHADOW_BASE) / 4096;

	if (hpa < H_SHADOW_BASE || i >= MAX_SPAGES || s->spage[i] != page)
		fail_msg("free_page(%p, %#llx): not a page this machine gave out", page,
			 (unsigned long long)hpa);
	free(page);
	s->spage[i] = NULL;
	s->live--;
}

static void sim_trace(void *opaque, const struct nb_trace_record *rec)
{
	struct sim *s = opaque;

	assert_true(rec->kind < NB_EV_KIND_COUNT);
	s->traces[rec->kind]++;
	s->last[rec->kind] = *rec;
}

static const struct shadow_ops sim_ops = {
	.read_gpa = sim_read,
	.write_gpa = sim_write,
	.gpa_to_hpa = sim_gpa_to_hpa,
	.alloc_page = sim_alloc,
	.free_page = sim_free,
	.trace = sim_trace,
};

/* The MMU's view of a shadow page: only pages this machine handed out are tables. */
static uint64_t *sim_table(const struct sim *s, uint64_t hpa)
{
	uint64_t i = (hpa - H_SHADOW_BASE) / 4096;

	if (hpa < H_SHADOW_BASE || i >= MAX_SPAGES || !s->spage[i])
		return NULL;
	return s->spage[i];
}

static struct sim *sim_new(void)
{
	struct sim *s = calloc(1, sizeof(*s));
	unsigned g;

	assert_non_null(s);
	for (g = 0; g < G_FRAMES; g++)
		s->gmap[g] = (int)g;
	s->budget = NO_BUDGET;
	return s;
}

static void sim_delete(struct sim *s)
{
	if (s->live)
		fail_msg("%u shadow pages were never given back", s->live);
	free(s);
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

/* The shadow leaf the MMU would use for va from root (0 if none); *u_all = U/S at every level. */
static uint64_t shadow_leaf(const struct sim *s, uint64_t root, uint64_t va, bool *u_all)
{
	uint64_t hpa = root, e = 0;
	int level;

	*u_all = true;
	for (level = 4; level >= 1; level--) {
		uint64_t *t = sim_table(s, hpa);
		if (!t)
			fail_msg("shadow entry points at %#llx, which is not a shadow table",
				 (unsigned long long)hpa);
		e = t[(va >> (12 + 9 * (level - 1))) & 511];
		if (!(e & PTE_P))
			return 0;
		*u_all = *u_all && (e & PTE_U);
		hpa = e & ADDR_MASK;
	}
	return e;
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

struct prop {
	struct sim *s;
	struct spt_ctx ctx;
	struct gpt_mode mode;
	uint64_t rng, seed;
	uint64_t cr3s[6];
	unsigned host_slot;
	uint64_t host_va[4], host_hpa[4];
	unsigned nhost, run, op;
	/* scratch for the checker, per host frame of guest RAM */
	bool table_frame[G_FRAMES], writable_frame[G_FRAMES];
	/* totals */
	unsigned long ops, checks, leaves, filled, guest_pf, mmio, pt_write_fills, emulated,
		direct, oom, ad_refaults;
};

static uint64_t rnd64(struct prop *p)
{
	/* splitmix64: small, fast, and every seed is a good one. */
	uint64_t z = (p->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rnd(struct prop *p, unsigned n)
{
	return (unsigned)(rnd64(p) % n);
}

#define PROP_FAIL(p, ...)                                                                     \
	do {                                                                                  \
		char msg_[512];                                                               \
		snprintf(msg_, sizeof(msg_), __VA_ARGS__);                                    \
		fail_msg("seed %#llx (NB_TEST_SEED), mode %d, run %u, op %u: %s",              \
			 (unsigned long long)(p)->seed, (p)->mode.paging, (p)->run, (p)->op,   \
			 msg_);                                                               \
	} while (0)

static unsigned entry_size(const struct prop *p)
{
	return p->mode.paging == GPT_PAGING_32 ? 4 : 8;
}

/* Table indices the random guest populates and the random addresses use. */
static unsigned pick_index(struct prop *p, unsigned level)
{
	static const unsigned idx512[] = { 0, 1, 2, 511 }, idx1024[] = { 0, 1, 2, 1023 };
	unsigned entries = gpt_level_shape(p->mode.paging, level).entries;

	if (entries == 4)
		return rnd(p, 4);
	if (rnd(p, level == 1 ? 4 : 16) == 0)
		return rnd(p, entries); /* mostly unpopulated: faults, or frames of a large page */
	return entries == 1024 ? idx1024[rnd(p, 4)] : idx512[rnd(p, 4)];
}

static uint64_t rand_gva(struct prop *p)
{
	unsigned level, top = gpt_top_level(p->mode.paging);
	uint64_t gva = rnd64(p) & 0xfff;

	if (top == 0)
		return rnd64(p) & ((G_FRAMES + 4) * 4096ull - 1);
	for (level = top; level >= 1; level--) {
		struct gpt_level_shape s = gpt_level_shape(p->mode.paging, level);
		unsigned i = pick_index(p, level);
		if (level == 4 && rnd(p, 50) == 0)
			i = p->host_slot;
		gva |= (uint64_t)i << s.shift;
	}
	if (p->mode.paging == GPT_PAGING_LONG && (gva >> 47))
		gva |= 0xffff000000000000ull;
	return gva;
}

/* A random guest entry: mostly present, mostly permissive, pointing at a random frame or
 * mapping a large page at 0; sometimes with a reserved bit. */
static uint64_t rand_entry(struct prop *p)
{
	bool wide = entry_size(p) == 8;
	uint64_t e;

	if (rnd(p, 100) < 8)
		return rnd64(p) & ~PTE_P & (wide ? ~0ull : 0xffffffffull);
	if (p->mode.paging == GPT_PAGING_PAE && rnd(p, 2))
		return PTE_P | (uint64_t)rnd(p, G_FRAMES) << 12; /* a valid PDPE (no rights bits) */
	e = PTE_P | (rnd(p, 100) < 85 ? PTE_W : 0) | (rnd(p, 100) < 90 ? PTE_U : 0) |
	    (rnd(p, 2) ? PTE_A : 0) | (rnd(p, 100) < 70 ? PTE_D : 0);
	if (wide && rnd(p, 100) < 10)
		e |= PTE_NX;
	if (rnd(p, 100) < 12)
		e |= PTE_PS; /* a large page at 0 at levels 2 and 3, PAT in a PTE, reserved in a PML4E */
	else
		e |= (uint64_t)rnd(p, G_FRAMES + 2) << 12; /* a few beyond RAM */
	if (rnd(p, 100) < 3)
		e |= wide ? 1ull << (40 + rnd(p, 12)) : 1ull << 21;
	return e;
}

/* Does any shadow leaf, in any cached root, let the guest write host frame h? */
static bool shadow_maps_writable(struct prop *p, uint64_t hpa);

/* The guest writes `size` bytes at gpa (a store of its own). When no shadow lets it write the
 * frame, the store traps and the hypervisor emulates it and reports it, as nbvmm will. */
static void guest_store(struct prop *p, uint64_t gpa, uint64_t v, unsigned size)
{
	uint64_t q = gpa & ~7ull, old = 0, new_val = 0, hpa;

	if (sim_gpa_to_hpa(p->s, gpa, &hpa) < 0)
		return;
	if (shadow_maps_writable(p, hpa)) {
		sim_write(p->s, gpa, &v, size);
		p->direct++;
		return;
	}
	sim_read(p->s, q, &old, 8);
	sim_write(p->s, gpa, &v, size);
	sim_read(p->s, q, &new_val, 8);
	spt_pt_write(&p->ctx, gpa, old, new_val);
	p->emulated++;
}

static void rand_table_store(struct prop *p)
{
	unsigned g = rnd(p, G_FRAMES), es = entry_size(p);
	unsigned level = 1 + rnd(p, gpt_top_level(p->mode.paging));
	uint64_t gpa = (uint64_t)g * 4096 + (uint64_t)pick_index(p, level) * es;
	uint64_t v = rand_entry(p);

	if (es == 8 && rnd(p, 4) == 0) /* half an entry, as 32-bit PAE kernels write them */
		guest_store(p, gpa + 4 * rnd(p, 2), v >> (32 * rnd(p, 2)), 4);
	else
		guest_store(p, gpa, v, es);
}

/* Walks one shadow table (level, covering va) and checks every present entry under it. */
static void check_table(struct prop *p, uint64_t cr3, enum spt_root_kind kind, uint64_t hpa,
			unsigned level, uint64_t va, unsigned pass);

static void check_leaf(struct prop *p, uint64_t cr3, enum spt_root_kind kind, uint64_t va,
		       uint64_t e, unsigned pass)
{
	struct gpt_mode m = p->mode;
	unsigned acc = kind == SPT_ROOT_USER ? PF_EC_U : 0, level;
	uint64_t hpa = e & ADDR_MASK, want;
	struct gpt_walk w;
	int r;

	p->leaves++;
	m.cr3 = cr3;
	if (!(e & PTE_U))
		PROP_FAIL(p, "guest leaf for %#llx has U=0: ring 3 could not use it",
			  (unsigned long long)va);
	r = gpt_walk(&sim_ops, p->s, &m, va, acc, 0, &w);
	if (r != 0)
		PROP_FAIL(p, "%s root (cr3 %#llx) maps %#llx -> %#llx but the guest's walk gives %d "
			  "(error code %#x)", kind ? "user" : "kernel", (unsigned long long)cr3,
			  (unsigned long long)va, (unsigned long long)hpa, r, w.error_code);
	if (sim_gpa_to_hpa(p->s, w.gpa, &want) < 0 || want != hpa)
		PROP_FAIL(p, "%#llx: shadow gives %#llx, guest walk gives gpa %#llx, physical map "
			  "gives %#llx", (unsigned long long)va, (unsigned long long)hpa,
			  (unsigned long long)w.gpa,
			  (unsigned long long)(sim_gpa_to_hpa(p->s, w.gpa, &want) < 0 ? 0 : want));
	if (pass == 0) {
		for (level = w.top_level; level >= w.leaf_level && level > 0; level--) {
			uint64_t t;
			if (sim_gpa_to_hpa(p->s, w.entry_gpa[level], &t) == 0)
				p->table_frame[(t - H_GUEST_BASE) / 4096] = true;
		}
		if (e & PTE_W)
			p->writable_frame[(hpa - H_GUEST_BASE) / 4096] = true;
		return;
	}
	if (e & PTE_W) {
		if (gpt_walk(&sim_ops, p->s, &m, va, acc | PF_EC_W, 0, &w) != 0)
			PROP_FAIL(p, "%#llx writable in the %s root but the guest forbids the write",
				  (unsigned long long)va, kind ? "user" : "kernel");
		if (w.leaf_level && !(w.entry[w.leaf_level] & PTE_D))
			PROP_FAIL(p, "%#llx writable while the guest's entry is clean",
				  (unsigned long long)va);
		if (p->table_frame[(hpa - H_GUEST_BASE) / 4096])
			PROP_FAIL(p, "%#llx writable, but its frame %#llx holds a guest page table "
				  "a shadow translation depends on", (unsigned long long)va,
				  (unsigned long long)hpa);
	}
	if (((e & PTE_NX) != 0) != w.nx)
		PROP_FAIL(p, "%#llx: shadow NX %d, guest NX %d", (unsigned long long)va,
			  (e & PTE_NX) != 0, w.nx);
}

static void check_table(struct prop *p, uint64_t cr3, enum spt_root_kind kind, uint64_t hpa,
			unsigned level, uint64_t va, unsigned pass)
{
	const uint64_t *t = sim_table(p->s, hpa);
	unsigned i, h, found;

	if (!t)
		PROP_FAIL(p, "shadow entry points at %#llx, not a shadow table",
			  (unsigned long long)hpa);
	for (i = 0; i < 512; i++) {
		uint64_t e = t[i], v = va | ((uint64_t)i << (12 + 9 * (level - 1)));

		if (!(e & PTE_P))
			continue;
		if (level == 4 && (v >> 47))
			v |= 0xffff000000000000ull;
		if (level > 1 && (e & PTE_PS))
			PROP_FAIL(p, "large shadow entry at level %u", level);
		if (level == 4 && i == p->host_slot && p->nhost) {
			/* The hypervisor's slot: supervisor-only, exactly its mappings. */
			if (e & PTE_U)
				PROP_FAIL(p, "hypervisor slot reachable from ring 3");
			for (h = 0, found = 0; h < p->nhost; h++) {
				bool u_all;
				uint64_t l = shadow_leaf(p->s, hpa, p->host_va[h], &u_all);
				found += (l & ADDR_MASK) == p->host_hpa[h] && !u_all;
			}
			if (found != p->nhost)
				PROP_FAIL(p, "%u of %u hypervisor mappings missing", p->nhost - found,
					  p->nhost);
			continue;
		}
		if (level > 1)
			check_table(p, cr3, kind, e & ADDR_MASK, level - 1, v, pass);
		else
			check_leaf(p, cr3, kind, v, e, pass);
	}
}

static void check_shadows(struct prop *p)
{
	unsigned i, k, pass, h;

	p->checks++;
	for (h = 0; h < G_FRAMES; h++)
		p->table_frame[h] = p->writable_frame[h] = false;
	/* Pass 0 collects the frames translations depend on; pass 1 checks rights against it. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < SPT_ROOT_CACHE; i++) {
			for (k = 0; k < 2; k++) {
				uint64_t cr3, r = spt_cached_root(&p->ctx, i, k, &cr3);
				if (r)
					check_table(p, cr3, k, r, 4, 0, pass);
			}
		}
	}
	if (p->s->live != p->ctx.stats.pages)
		PROP_FAIL(p, "%u pages live, spt counts %llu", p->s->live,
			  (unsigned long long)p->ctx.stats.pages);
}

static bool shadow_maps_writable(struct prop *p, uint64_t hpa)
{
	check_shadows(p);
	return p->writable_frame[(hpa - H_GUEST_BASE) / 4096];
}

/* What the fill must answer, from the guest's tables before it runs. */
static void check_fill(struct prop *p, uint64_t gva, unsigned access)
{
	struct gpt_walk w;
	struct spt_fault f;
	struct gpt_mode m = p->mode;
	uint64_t hpa, va48 = gva & ((1ull << 48) - 1);
	int want, got;

	want = gpt_walk(&sim_ops, p->s, &m, gva, access, 0, &w);
	if (p->nhost && m.paging == GPT_PAGING_LONG && ((va48 >> 39) & 511) == p->host_slot)
		want = -SHADOW_EBUSY;
	else if (want == GPT_PAGE_FAULT)
		want = SPT_GUEST_PF;
	else if (want == 0 && sim_gpa_to_hpa(p->s, w.gpa, &hpa) < 0)
		want = SPT_MMIO;
	got = spt_fill(&p->ctx, gva, access, &f);
	if (got == SPT_GUEST_PF && want != SPT_GUEST_PF &&
	    gpt_walk(&sim_ops, p->s, &m, gva, access, 0, &w) == GPT_PAGE_FAULT) {
		/* The fill's own accessed/dirty updates changed the tables under it (an entry
		 * serving at two levels): the fault must be what the tables say now. */
		want = SPT_GUEST_PF;
		p->ad_refaults++;
	}
	if (got == -SHADOW_ENOMEM) {
		p->oom++;
		spt_zap_all(&p->ctx);
		p->s->budget = NO_BUDGET;
		return;
	}
	if (want == 0 && (got == SPT_FILLED || got == SPT_PT_WRITE)) {
		p->filled++;
		if (got == SPT_PT_WRITE) {
			if (!(access & PF_EC_W))
				PROP_FAIL(p, "SPT_PT_WRITE for a read of %#llx", (unsigned long long)gva);
			p->pt_write_fills++;
			guest_store(p, f.gpa & ~(uint64_t)(entry_size(p) - 1), rand_entry(p),
				    entry_size(p));
		}
		return;
	}
	if (got != want)
		PROP_FAIL(p, "fill of %#llx (access %#x): expected %d, got %d",
			  (unsigned long long)gva, access, want, got);
	if (got == SPT_GUEST_PF) {
		p->guest_pf++;
		if (f.error_code != w.error_code)
			PROP_FAIL(p, "fill of %#llx: #PF error code %#x, the walk says %#x",
				  (unsigned long long)gva, f.error_code, w.error_code);
	}
	if (got == SPT_MMIO)
		p->mmio++;
}

static void prop_new_guest(struct prop *p, enum gpt_paging paging)
{
	unsigned g, i, holes, es;
	static const unsigned idx8[] = { 0, 1, 2, 3, 4, 5, 6, 7, 511 }, idx4[] = { 0, 1, 2, 3, 1023 };

	p->s = sim_new();
	memset(&p->mode, 0, sizeof(p->mode));
	p->mode.paging = paging;
	p->mode.cr0_wp = rnd(p, 2);
	p->mode.cr4_pse = rnd(p, 4) != 0;
	p->mode.efer_nxe = paging != GPT_PAGING_32 && rnd(p, 4) != 0;
	p->mode.maxphyaddr = 40;
	es = paging == GPT_PAGING_32 ? 4 : 8;

	/* Physical map: a random permutation, a few holes, sometimes one alias. */
	for (g = 0; g < G_FRAMES; g++)
		p->s->gmap[g] = (int)g;
	for (g = G_FRAMES - 1; g > 0; g--) {
		unsigned j = rnd(p, g + 1);
		int t = p->s->gmap[g];
		p->s->gmap[g] = p->s->gmap[j];
		p->s->gmap[j] = t;
	}
	for (holes = rnd(p, 4); holes; holes--)
		p->s->gmap[1 + rnd(p, G_FRAMES - 1)] = -1;
	if (rnd(p, 3) == 0)
		p->s->gmap[rnd(p, G_FRAMES)] = p->s->gmap[rnd(p, G_FRAMES)];

	/* Every frame may serve as a table at any level, or as data: that is what makes page
	 * tables and data share frames, the case write protection exists for. */
	for (g = 0; g < G_FRAMES; g++) {
		if (p->s->gmap[g] < 0)
			continue;
		for (i = 0; i < (es == 8 ? 9u : 5u); i++) {
			uint64_t v = rand_entry(p);
			sim_write(p->s, (uint64_t)g * 4096 + (es == 8 ? idx8[i] : idx4[i]) * es, &v, es);
		}
	}
	for (i = 0; i < 6; i++) {
		uint64_t base = (uint64_t)rnd(p, G_FRAMES) * 4096;
		p->cr3s[i] = paging == GPT_PAGING_PAE ? base + 32 * rnd(p, 2) : base;
	}
	p->mode.cr3 = p->cr3s[0];
	/* The hypervisor's slot: one the guest cannot reach in legacy modes, or one the random
	 * long-mode guest rarely uses. */
	p->host_slot = paging == GPT_PAGING_LONG ? 300 : 511;
	p->nhost = 0;
	p->s->budget = rnd(p, 5) == 0 ? 8 + rnd(p, 40) : NO_BUDGET;
	if (spt_init(&p->ctx, &sim_ops, p->s, &p->mode) < 0) {
		p->s->budget = NO_BUDGET;
		assert_int_equal(spt_init(&p->ctx, &sim_ops, p->s, &p->mode), 0);
	}
}

static void prop_step(struct prop *p)
{
	unsigned op = rnd(p, 100);

	p->ops++;
	if (op < 45) {
		unsigned access = (rnd(p, 100) < 40 ? PF_EC_W : 0) | (rnd(p, 2) ? PF_EC_U : 0);
		if (!(access & PF_EC_W) && rnd(p, 100) < 15)
			access |= PF_EC_ID;
		check_fill(p, rand_gva(p), access);
	} else if (op < 72) {
		rand_table_store(p);
	} else if (op < 82) {
		p->mode.cr3 = p->cr3s[rnd(p, 6)];
		if (spt_cr3_switch(&p->ctx, p->mode.cr3) == -SHADOW_ENOMEM) {
			p->oom++;
			p->s->budget = NO_BUDGET;
		}
	} else if (op < 90) {
		spt_invlpg(&p->ctx, rand_gva(p));
	} else if (op < 92) {
		spt_zap_all(&p->ctx);
	} else if (op < 95) {
		if (rnd(p, 2) || p->mode.paging == GPT_PAGING_32)
			p->mode.cr0_wp = !p->mode.cr0_wp;
		else
			p->mode.efer_nxe = !p->mode.efer_nxe;
		if (spt_set_mode(&p->ctx, &p->mode) == -SHADOW_ENOMEM) {
			p->oom++;
			p->s->budget = NO_BUDGET;
		}
	} else if (p->nhost < 4) {
		uint64_t va = ((uint64_t)p->host_slot << 39) | ((uint64_t)rnd(p, 1u << 20) << 12);
		if (va >> 47)
			va |= 0xffff000000000000ull;
		p->host_va[p->nhost] = va;
		p->host_hpa[p->nhost] = H_HYP_BASE + (uint64_t)p->nhost * 4096;
		if (spt_map_host(&p->ctx, va, p->host_hpa[p->nhost], rnd(p, 2) ? PTE_W : 0) == 0)
			p->nhost++;
		else
			p->s->budget = NO_BUDGET;
	}
	check_shadows(p);
}

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
