/*
 * gpt_walk: the guest page walker against hand-built tables in a simulated guest memory, one
 * test per paging mode and page size, plus exhaustive rights combinations, reserved bits, error
 * codes and accessed/dirty updates (AMD APM Vol 2 chapter 5 and §8.4.2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shadow/gpt_walk.h"

#include "tests/unit/sim_mem.h"

static struct gpt_mode mode_of(enum gpt_paging paging, uint64_t cr3)
{
	struct gpt_mode m = { .paging = paging, .cr3 = cr3, .cr0_wp = true, .cr4_pse = true,
			      .efer_nxe = true, .maxphyaddr = 48 };
	return m;
}

#define RWU (PTE_P | PTE_W | PTE_U)

/* Walks and checks the outcome; returns the walk for further checks. */
static struct gpt_walk walk_ok(struct mem *m, const struct gpt_mode *md, uint64_t gva,
			       unsigned access, uint64_t want_gpa)
{
	struct gpt_walk w;
	int r = gpt_walk(&ops, m, md, gva, access, 0, &w);

	if (r != 0)
		fail_msg("walk of %#llx: expected success, got %d (error code %#x)",
			 (unsigned long long)gva, r, w.error_code);
	if (w.gpa != want_gpa)
		fail_msg("walk of %#llx: expected gpa %#llx, got %#llx", (unsigned long long)gva,
			 (unsigned long long)want_gpa, (unsigned long long)w.gpa);
	return w;
}

static void walk_fault(struct mem *m, const struct gpt_mode *md, uint64_t gva, unsigned access,
		       uint32_t want_ec)
{
	struct gpt_walk w;
	int r = gpt_walk(&ops, m, md, gva, access, 0, &w);

	if (r != GPT_PAGE_FAULT || w.error_code != want_ec)
		fail_msg("walk of %#llx (access %#x): expected #PF error code %#x, got result %d "
			 "error code %#x", (unsigned long long)gva, access, want_ec, r,
			 w.error_code);
}

static void test_walk_without_paging_is_identity_on_32_bits(void **state)
{
	struct gpt_mode md = mode_of(GPT_PAGING_NONE, 0);
	struct gpt_walk w = walk_ok(*state, &md, 0x123456789ull, PF_EC_W | PF_EC_U, 0x23456789);

	assert_int_equal(w.top_level, 0);
	assert_true(w.writable && w.user && !w.nx);
}

static void test_walk_32bit_4k_page(void **state)
{
	struct mem *m = *state;
	struct gpt_mode md = mode_of(GPT_PAGING_32, 0x1000);
	struct gpt_walk w;

	put32(m, 0x1000 + 1 * 4, 0x2000 | RWU);
	put32(m, 0x2000 + 5 * 4, 0x7000 | PTE_P | PTE_U);
	w = walk_ok(m, &md, 0x00405abc, PF_EC_U, 0x7abc);
	assert_int_equal(w.top_level, 2);
	assert_int_equal(w.leaf_level, 1);
	assert_int_equal(w.page_shift, 12);
	assert_int_equal(w.entry_gpa[2], 0x1004);
	assert_int_equal(w.entry_gpa[1], 0x2014);
	assert_false(w.writable);
	assert_true(w.user);
	/* The upper 32 bits of a legacy linear address do not exist. */
	walk_ok(m, &md, 0xffffffff00405abcull, PF_EC_U, 0x7abc);
	walk_fault(m, &md, 0x00405abc, PF_EC_U | PF_EC_W, PF_EC_P | PF_EC_W | PF_EC_U);
}

static void test_walk_32bit_4m_page_with_pse40_high_bits(void **state)
{
	struct mem *m = *state;
	struct gpt_mode md = mode_of(GPT_PAGING_32, 0x1000);
	struct gpt_walk w;

	/* PDE 3 maps 4 MiB at 0x00c00000; PDE 4 has bit 13 set: physical address bit 32. */
	put32(m, 0x1000 + 3 * 4, 0x00c00000 | PTE_PS | RWU);
	put32(m, 0x1000 + 4 * 4, 0x3000 | PTE_PS | RWU);
	w = walk_ok(m, &md, 0x00c12345, PF_EC_W, 0x00c12345);
	assert_int_equal(w.page_shift, 22);
	assert_int_equal(w.leaf_level, 2);
	walk_ok(m, &md, 0x01012345, 0, 0x100012345ull);

	/* Bit 21 is always reserved; with a 36-bit MAXPHYADDR so are bits 20:17. */
	put32(m, 0x1000 + 5 * 4, 0x00200000 | PTE_PS | RWU);
	walk_fault(m, &md, 0x01400000, 0, PF_EC_P | PF_EC_RSVD);
	md.maxphyaddr = 36;
	walk_ok(m, &md, 0x01012345, 0, 0x100012345ull);
	put32(m, 0x1000 + 4 * 4, 0x00020000 | PTE_PS | RWU); /* bit 17: PA bit 36 */
	walk_fault(m, &md, 0x01012345, PF_EC_U, PF_EC_P | PF_EC_RSVD | PF_EC_U);
}

static void test_walk_32bit_ps_is_ignored_without_pse(void **state)
{
	struct mem *m = *state;
	struct gpt_mode md = mode_of(GPT_PAGING_32, 0x1000);
	struct gpt_walk w;

	put32(m, 0x1000 + 4 * 4, 0x3000 | PTE_PS | RWU);
	put32(m, 0x3000 + 0x12 * 4, 0x9000 | RWU);
	md.cr4_pse = false;
	w = walk_ok(m, &md, 0x01012345, 0, 0x9345);
	assert_int_equal(w.leaf_level, 1);
	assert_int_equal(w.page_shift, 12);
}

static void test_walk_pae_4k_and_2m_pages(void **state)
{
	struct mem *m = *state;
	struct gpt_mode md = mode_of(GPT_PAGING_PAE, 0x1020); /* PDPT 32-byte aligned */
	struct gpt_walk w;

	put64(m, 0x1020 + 2 * 8, 0x2000 | PTE_P);
	put64(m, 0x2000 + 1 * 8, 0x3000 | RWU);
	put64(m, 0x3000 + 7 * 8, 0x9000 | PTE_P | PTE_U);
	put64(m, 0x2000 + 4 * 8, 0x00600000 | PTE_PS | RWU | PTE_NX);
	w = walk_ok(m, &md, 0x80000000u | (1u << 21) | (7u << 12) | 0x123, PF_EC_U, 0x9123);
	assert_int_equal(w.top_level, 3);
	assert_int_equal(w.entry_gpa[3], 0x1030);
	assert_int_equal(w.entry_gpa[2], 0x2008);
	assert_int_equal(w.entry_gpa[1], 0x3038);
	/* A PAE PDPE carries no rights: R/W and U/S come from the lower levels alone. */
	assert_true(w.user);
	assert_false(w.writable);

	w = walk_ok(m, &md, 0x80000000u | (4u << 21) | 0x54321, PF_EC_W, 0x654321);
	assert_int_equal(w.page_shift, 21);
	assert_true(w.nx);
	walk_fault(m, &md, 0x80000000u | (4u << 21), PF_EC_ID, PF_EC_P | PF_EC_ID);
}

static void test_walk_pae_reserved_bits(void **state)
{
	struct mem *m = *state;
	struct gpt_mode md = mode_of(GPT_PAGING_PAE, 0x1000);
	uint64_t gva = (1u << 21) | 0x10;

	put64(m, 0x1000, 0x2000 | PTE_P);
	put64(m, 0x2000 + 8, 0x3000 | RWU);
	put64(m, 0x3000, 0x9000 | RWU);
	walk_ok(m, &md, gva, 0, 0x9010);
	/* PDPE: R/W, U/S, bits 8:5 and NX are reserved. */
	put64(m, 0x1000, 0x2000 | PTE_P | PTE_W);
	walk_fault(m, &md, gva, 0, PF_EC_P | PF_EC_RSVD);
	put64(m, 0x1000, 0x2000 | PTE_P | PTE_A);
	walk_fault(m, &md, gva, 0, PF_EC_P | PF_EC_RSVD);
	put64(m, 0x1000, 0x2000 | PTE_P | PTE_NX);
	walk_fault(m, &md, gva, 0, PF_EC_P | PF_EC_RSVD);
	put64(m, 0x1000, 0x2000 | PTE_P);
	/* Legacy PAE reserves bits 62:MAXPHYADDR (long mode leaves 62:52 available). */
	put64(m, 0x3000, 0x9000 | RWU | (1ull << 60));
	walk_fault(m, &md, gva, PF_EC_W, PF_EC_P | PF_EC_RSVD | PF_EC_W);
	/* NX is reserved while EFER.NXE=0. */
	put64(m, 0x3000, 0x9000 | RWU | PTE_NX);
	walk_ok(m, &md, gva, 0, 0x9010);
	md.efer_nxe = false;
	walk_fault(m, &md, gva, 0, PF_EC_P | PF_EC_RSVD);
	/* 2 MiB page: bits 20:13 are reserved. */
	md.efer_nxe = true;
	put64(m, 0x2000 + 8, 0x00400000 | (1u << 13) | PTE_PS | RWU);
	walk_fault(m, &md, gva, 0, PF_EC_P | PF_EC_RSVD);
}

/* Long mode: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000. */
#define LM_GVA ((1ull << 39) | (2ull << 30) | (3ull << 21) | (4ull << 12) | 0xabc)

static void build_long_chain(struct mem *m)
{
	put64(m, 0x1000 + 1 * 8, 0x2000 | RWU);
	put64(m, 0x2000 + 2 * 8, 0x3000 | RWU);
	put64(m, 0x3000 + 3 * 8, 0x4000 | RWU);
	put64(m, 0x4000 + 4 * 8, 0x8000 | RWU);
}

static void test_walk_long_4k_2m_1g_pages(void **state)
{
	struct mem *m = *state;
	struct gpt_mode md = mode_of(GPT_PAGING_LONG, 0x1000);
	struct gpt_walk w;

	build_long_chain(m);
	w = walk_ok(m, &md, LM_GVA, PF_EC_W | PF_EC_U, 0x8abc);
	assert_int_equal(w.top_level, 4);
	assert_int_equal(w.leaf_level, 1);
	assert_int_equal(w.entry_gpa[4], 0x1008);
	assert_int_equal(w.entry_gpa[3], 0x2010);
	assert_int_equal(w.entry_gpa[2], 0x3018);
	assert_int_equal(w.entry_gpa[1], 0x4020);

	put64(m, 0x3000 + 5 * 8, 0x00200000 | PTE_PS | RWU);
	w = walk_ok(m, &md, (1ull << 39) | (2ull << 30) | (5ull << 21) | 0x12345, 0, 0x212345);
	assert_int_equal(w.page_shift, 21);
	assert_int_equal(w.leaf_level, 2);

	put64(m, 0x2000 + 6 * 8, 0x40000000 | PTE_PS | RWU);
	w = walk_ok(m, &md, (1ull << 39) | (6ull << 30) | 0x1234567, 0, 0x41234567);
	assert_int_equal(w.page_shift, 30);
	assert_int_equal(w.leaf_level, 3);

	/* The upper canonical half goes through PML4E 511; a non-canonical address is refused. */
	put64(m, 0x1000 + 511 * 8, 0x2000 | RWU);
	walk_ok(m, &md, 0xffffff8000000000ull | (6ull << 30) | 0x10, 0, 0x40000010);
	assert_int_equal(gpt_walk(&ops, m, &md, 0x0000800000000000ull, 0, 0, &w), -SHADOW_EINVAL);
	/* Bits 62:52 are available to software in long mode. */
	put64(m, 0x4000 + 4 * 8, 0x8000 | RWU | (0x7ffull << 52));
	walk_ok(m, &md, LM_GVA, 0, 0x8abc);
}

static void test_walk_long_reserved_bits(void **state)
{
	struct mem *m = *state;
	struct gpt_mode md = mode_of(GPT_PAGING_LONG, 0x1000);
	const uint32_t rsvd = PF_EC_P | PF_EC_RSVD;

	build_long_chain(m);
	/* PML4E: PS (bit 7) and, on AMD, bit 8 are reserved. */
	put64(m, 0x1008, 0x2000 | RWU | PTE_PS);
	walk_fault(m, &md, LM_GVA, 0, rsvd);
	put64(m, 0x1008, 0x2000 | RWU | PTE_G);
	walk_fault(m, &md, LM_GVA, 0, rsvd);
	put64(m, 0x1008, 0x2000 | RWU);
	/* 1 GiB page: bits 29:13; 2 MiB page: bits 20:13. Bit 12 is PAT, allowed. */
	put64(m, 0x2010, 0x40000000 | (1u << 13) | PTE_PS | RWU);
	walk_fault(m, &md, LM_GVA, 0, rsvd);
	put64(m, 0x2010, 0x40000000 | (1u << 12) | PTE_PS | RWU);
	walk_ok(m, &md, LM_GVA, 0, 0x40000000 | (LM_GVA & 0x3fffffff));
	put64(m, 0x2010, 0x3000 | RWU);
	put64(m, 0x3018, 0x00600000 | (1u << 20) | PTE_PS | RWU);
	walk_fault(m, &md, LM_GVA, 0, rsvd);
	put64(m, 0x3018, 0x4000 | RWU);
	/* Address bits at or above MAXPHYADDR, at any level. */
	put64(m, 0x4020, 0x8000 | RWU | (1ull << 48));
	walk_fault(m, &md, LM_GVA, 0, rsvd);
	md.maxphyaddr = 52;
	walk_ok(m, &md, LM_GVA, 0, 0x1000000008abcull);
	md.maxphyaddr = 40;
	put64(m, 0x4020, 0x8000 | RWU);
	put64(m, 0x2010, 0x3000 | RWU | (1ull << 40));
	walk_fault(m, &md, LM_GVA, PF_EC_U | PF_EC_W, rsvd | PF_EC_U | PF_EC_W);
	put64(m, 0x2010, 0x3000 | RWU);
	/* NX without EFER.NXE. */
	put64(m, 0x3018, 0x4000 | RWU | PTE_NX);
	md.efer_nxe = false;
	walk_fault(m, &md, LM_GVA, PF_EC_ID, rsvd);
	md.efer_nxe = true;
	walk_fault(m, &md, LM_GVA, PF_EC_ID, PF_EC_P | PF_EC_ID);
}

static void test_walk_not_present_at_each_level(void **state)
{
	struct mem *m = *state;
	struct gpt_mode md = mode_of(GPT_PAGING_LONG, 0x1000);
	const uint64_t at[] = { 0, 0x4020, 0x3018, 0x2010, 0x1008 };
	unsigned level;

	for (level = 1; level <= 4; level++) {
		struct gpt_walk w;
		uint64_t e;

		build_long_chain(m);
		e = get64(m, at[level]);
		put64(m, at[level], e & ~PTE_P);
		assert_int_equal(gpt_walk(&ops, m, &md, LM_GVA, PF_EC_W | PF_EC_U, 0, &w),
				 GPT_PAGE_FAULT);
		assert_int_equal(w.error_code, PF_EC_W | PF_EC_U);
		assert_int_equal(w.leaf_level, level);
		assert_int_equal(w.entry_gpa[level], at[level]);
	}
}

static void test_walk_table_outside_memory_is_an_error(void **state)
{
	struct mem *m = *state;
	struct gpt_mode md = mode_of(GPT_PAGING_LONG, 0x1000);
	struct gpt_walk w;

	build_long_chain(m);
	put64(m, 0x2010, 0x7fff000000ull | RWU);
	assert_int_equal(gpt_walk(&ops, m, &md, LM_GVA, 0, 0, &w), -SHADOW_EFAULT);
	assert_int_equal(w.leaf_level, 2);
	assert_int_equal(w.entry_gpa[2], 0x7fff000000ull + 3 * 8);
}

/* The architecture's rule (§5.6), written independently of the walker. */
static uint32_t expected_ec(bool w_all, bool u_all, bool nx_any, bool wp, bool nxe, bool has_nx,
			    unsigned access)
{
	bool user = access & PF_EC_U, write = access & PF_EC_W, fetch = access & PF_EC_ID;
	uint32_t base = (access & (PF_EC_W | PF_EC_U)) | ((fetch && nxe && has_nx) ? PF_EC_ID : 0);

	if (nx_any && !nxe && has_nx)
		return base | PF_EC_P | PF_EC_RSVD;
	if (user && !u_all)
		return base | PF_EC_P;
	if (write && !w_all && (user || wp))
		return base | PF_EC_P;
	if (fetch && nx_any && nxe && has_nx)
		return base | PF_EC_P;
	return 0;
}

/*
 * Every combination of R/W, U/S and NX at each level of a mode, with CR0.WP and EFER.NXE on and
 * off, for every access type: the walk's verdict, error code and combined rights must be the
 * architecture's.
 */
static void check_rights_exhaustively(struct mem *m, enum gpt_paging paging)
{
	const uint64_t tables[] = { 0, 0x4000, 0x3000, 0x2000, 0x1000 };
	unsigned top = gpt_top_level(paging), first = paging == GPT_PAGING_PAE ? 2 : top;
	unsigned nbits = paging == GPT_PAGING_32 ? 2 : 3, combos = 1u << (nbits * first);
	uint64_t cr3 = paging == GPT_PAGING_PAE ? 0x5000 : tables[top];
	unsigned c, wp, nxe, access, level, count = 0;

	for (c = 0; c < combos; c++) {
		bool w_all = true, u_all = true, nx_any = false;

		/* Level l's three bits are bits 3(l-1)..3(l-1)+2 of c: R/W, U/S, NX. */
		for (level = first; level >= 1; level--) {
			unsigned b = c >> (nbits * (level - 1));
			uint64_t next = level == 1 ? 0x9000 : tables[level - 1];
			uint64_t e = next | PTE_P | ((b & 1) ? PTE_W : 0) | ((b & 2) ? PTE_U : 0) |
				     ((nbits == 3 && (b & 4)) ? PTE_NX : 0);
			w_all = w_all && (b & 1);
			u_all = u_all && (b & 2);
			nx_any = nx_any || (nbits == 3 && (b & 4));
			if (paging == GPT_PAGING_32)
				put32(m, tables[level], (uint32_t)e);
			else
				put64(m, tables[level], e);
		}
		if (paging == GPT_PAGING_PAE)
			put64(m, 0x5000, 0x3000 | PTE_P);
		for (wp = 0; wp < 2; wp++) {
			for (nxe = 0; nxe < 2; nxe++) {
				for (access = 0; access < 8; access++) {
					unsigned acc = ((access & 1) ? PF_EC_W : 0) |
						       ((access & 2) ? PF_EC_U : 0) |
						       ((access & 4) ? PF_EC_ID : 0);
					struct gpt_mode md = mode_of(paging, cr3);
					uint32_t want = expected_ec(w_all, u_all, nx_any, wp, nxe,
								    paging != GPT_PAGING_32, acc);
					struct gpt_walk w;
					int r;

					md.cr0_wp = wp;
					md.efer_nxe = nxe;
					r = gpt_walk(&ops, m, &md, 0x10, acc, 0, &w);
					count++;
					if (want == 0 && r == 0 && w.writable == w_all &&
					    w.user == u_all && w.nx == (nx_any && nxe))
						continue;
					if (want != 0 && r == GPT_PAGE_FAULT && w.error_code == want)
						continue;
					fail_msg("mode %d rights %#x wp %u nxe %u access %#x: expected "
						 "error code %#x, got result %d error code %#x "
						 "(w %d u %d nx %d)", paging, c, wp, nxe, acc, want, r,
						 w.error_code, w.writable, w.user, w.nx);
				}
			}
		}
	}
	print_message("# %u walks checked in mode %d\n", count, paging);
}

static void test_walk_rights_long_mode_all_combinations(void **state)
{
	check_rights_exhaustively(*state, GPT_PAGING_LONG);
}

static void test_walk_rights_pae_all_combinations(void **state)
{
	check_rights_exhaustively(*state, GPT_PAGING_PAE);
}

static void test_walk_rights_32bit_all_combinations(void **state)
{
	check_rights_exhaustively(*state, GPT_PAGING_32);
}

static void test_walk_sets_accessed_and_dirty_as_the_mmu(void **state)
{
	struct mem *m = *state;
	struct gpt_mode md = mode_of(GPT_PAGING_LONG, 0x1000);
	const uint64_t at[] = { 0, 0x4020, 0x3018, 0x2010, 0x1008 };
	struct gpt_walk w;
	unsigned level;

	build_long_chain(m);
	/* Without GPT_SET_AD nothing is written. */
	walk_ok(m, &md, LM_GVA, PF_EC_W, 0x8abc);
	assert_int_equal(m->writes, 0);
	/* A read sets A at every level, D nowhere. */
	assert_int_equal(gpt_walk(&ops, m, &md, LM_GVA, 0, GPT_SET_AD, &w), 0);
	for (level = 1; level <= 4; level++) {
		assert_true(get64(m, at[level]) & PTE_A);
		assert_false(get64(m, at[level]) & PTE_D);
		assert_int_equal(w.entry[level], get64(m, at[level]));
	}
	/* A write sets D in the leaf only. */
	assert_int_equal(gpt_walk(&ops, m, &md, LM_GVA, PF_EC_W, GPT_SET_AD, &w), 0);
	assert_true(get64(m, at[1]) & PTE_D);
	for (level = 2; level <= 4; level++)
		assert_false(get64(m, at[level]) & PTE_D);
	/* A faulting walk changes nothing. */
	build_long_chain(m);
	put64(m, at[1], 0x8000 | PTE_P | PTE_U);
	m->writes = 0;
	assert_int_equal(gpt_walk(&ops, m, &md, LM_GVA, PF_EC_W | PF_EC_U, GPT_SET_AD, &w),
			 GPT_PAGE_FAULT);
	assert_int_equal(m->writes, 0);
	/* Large page: D lands in the PDE that maps it. */
	put64(m, at[2], 0x00600000 | PTE_PS | RWU);
	assert_int_equal(gpt_walk(&ops, m, &md, LM_GVA, PF_EC_W, GPT_SET_AD, &w), 0);
	assert_int_equal(get64(m, at[2]), 0x00600000 | PTE_PS | RWU | PTE_A | PTE_D);
}

static void test_walk_ad_updates_in_legacy_modes(void **state)
{
	struct mem *m = *state;
	struct gpt_mode pae = mode_of(GPT_PAGING_PAE, 0x1000);
	struct gpt_mode p32 = mode_of(GPT_PAGING_32, 0x5000);
	struct gpt_walk w;

	/* PAE: the PDPE has no A bit (bit 5 is reserved there) and must be left alone. */
	put64(m, 0x1000, 0x2000 | PTE_P);
	put64(m, 0x2000, 0x3000 | RWU);
	put64(m, 0x3000, 0x9000 | RWU);
	assert_int_equal(gpt_walk(&ops, m, &pae, 0x10, PF_EC_W, GPT_SET_AD, &w), 0);
	assert_int_equal(get64(m, 0x1000), 0x2000 | PTE_P);
	assert_int_equal(get64(m, 0x2000), 0x3000 | RWU | PTE_A);
	assert_int_equal(get64(m, 0x3000), 0x9000 | RWU | PTE_A | PTE_D);
	/* 32-bit: four-byte entries; the neighbours are untouched. */
	put32(m, 0x5000, 0x6000 | RWU);
	put32(m, 0x5004, 0xdeadbeef);
	put32(m, 0x6000, 0x9000 | RWU);
	put32(m, 0x6004, 0xcafef00d);
	assert_int_equal(gpt_walk(&ops, m, &p32, 0x10, PF_EC_W, GPT_SET_AD, &w), 0);
	assert_int_equal(get32(m, 0x5000), 0x6000 | RWU | PTE_A);
	assert_int_equal(get32(m, 0x5004), 0xdeadbeef);
	assert_int_equal(get32(m, 0x6000), 0x9000 | RWU | PTE_A | PTE_D);
	assert_int_equal(get32(m, 0x6004), 0xcafef00d);
}

static void test_walk_self_referencing_table(void **state)
{
	struct mem *m = *state;
	struct gpt_mode md = mode_of(GPT_PAGING_LONG, 0x1000);
	uint64_t gva = 0xffffff0000000000ull | (510ull << 30) | (510ull << 21) | (510ull << 12) | 8;
	struct gpt_walk w;

	/* PML4E 510 points at the PML4 itself: the classic recursive mapping. Walking
	 * 510/510/510/510 uses that one entry at all four levels and lands on the PML4 page. */
	put64(m, 0x1000 + 510 * 8, 0x1000 | RWU);
	assert_int_equal(gpt_walk(&ops, m, &md, gva, PF_EC_W, GPT_SET_AD, &w), 0);
	assert_int_equal(w.gpa, 0x1008);
	assert_int_equal(get64(m, 0x1000 + 510 * 8), 0x1000 | RWU | PTE_A | PTE_D);
}

static void test_mode_from_control_registers(void **state)
{
	struct gpt_mode md;

	(void)state;
	gpt_mode_from_regs(&md, 0x11, 0x1000, X86_CR4_PAE, X86_EFER_LMA, 40);
	assert_int_equal(md.paging, GPT_PAGING_NONE);
	gpt_mode_from_regs(&md, X86_CR0_PG | X86_CR0_WP, 0x1000, X86_CR4_PSE, 0, 40);
	assert_int_equal(md.paging, GPT_PAGING_32);
	assert_true(md.cr0_wp && md.cr4_pse && !md.efer_nxe);
	gpt_mode_from_regs(&md, X86_CR0_PG, 0x1000, X86_CR4_PAE, X86_EFER_NXE, 40);
	assert_int_equal(md.paging, GPT_PAGING_PAE);
	assert_true(!md.cr0_wp && md.efer_nxe);
	gpt_mode_from_regs(&md, X86_CR0_PG, 0x1000, X86_CR4_PAE, X86_EFER_LMA, 40);
	assert_int_equal(md.paging, GPT_PAGING_LONG);
	assert_int_equal(md.maxphyaddr, 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_walk_without_paging_is_identity_on_32_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_32bit_4k_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_32bit_4m_page_with_pse40_high_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_32bit_ps_is_ignored_without_pse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_pae_4k_and_2m_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_pae_reserved_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_long_4k_2m_1g_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_long_reserved_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_not_present_at_each_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_table_outside_memory_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_rights_long_mode_all_combinations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_rights_pae_all_combinations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_rights_32bit_all_combinations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_sets_accessed_and_dirty_as_the_mmu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_ad_updates_in_legacy_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_self_referencing_table, setup, teardown),
		cmocka_unit_test(test_mode_from_control_registers),
	};

	return cmocka_run_group_tests_name("shadow: guest page walker", tests, NULL, NULL);
}
