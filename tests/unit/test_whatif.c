/*
 * The what-if simulation (replay/whatif.c) on a small known trace, with the exact figures each
 * policy must give, and the spt.c knob it relies on (struct spt_ctx's `roots`).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "replay/host_pages.h"
#include "replay/whatif.h"
#include "shadow/spt.h"

static void feed(struct nb_whatif *w, uint16_t kind, uint64_t addr, uint64_t old_val, uint64_t new_val,
		 uint64_t aux, uint64_t info1, uint64_t info2)
{
	struct nb_trace_record rec = {.kind = kind, .rec_level = 1, .guest_level = 2, .vm_id = 2, .addr = addr,
				      .old_val = old_val, .new_val = new_val, .aux = aux,
				      .exit_info1 = info1, .exit_info2 = info2};

	assert_int_equal(nb_whatif_event(w, &rec), 0);
}

#define LEAF 0x25ull /* P, U, A */

static void fill(struct nb_whatif *w, uint64_t gva, unsigned access, uint64_t old)
{
	feed(w, NB_EV_SHADOW_FILL, gva, old, (gva + 0xa00000) | LEAF, 1, access, gva + 8);
}

/* Two address spaces, switched between three times; a write to a guest leaf table (its write
 * fault's fill, the zap, the PT_WRITE) and a fill again of the page it changed. */
static void known_trace(struct nb_whatif *w)
{
	fill(w, 0x1000, 0, 0);
	fill(w, 0x2000, 0, 0);
	feed(w, NB_EV_CR3_SWITCH, 0, 0x2000, 0x10000, 0, 0, 0);
	fill(w, 0x1000, 0, 0);
	feed(w, NB_EV_CR3_SWITCH, 0, 0x10000, 0x2000, 1, 0, 0);
	feed(w, NB_EV_CR3_SWITCH, 0, 0x2000, 0x10000, 1, 0, 0);
	feed(w, NB_EV_SHADOW_FILL, 0x5000, 0xa05025, 0xa05025, 1, 2, 0x5008); /* write to a table */
	feed(w, NB_EV_SHADOW_ZAP, 0x1000, SPT_ZAP_PT_WRITE, 0, 1, 0, 0);
	feed(w, NB_EV_PT_WRITE, 0x5008, 0x1025, 0x3025, 1, 0, 0);
	fill(w, 0x1000, 0, 0);
}

static void expect(const struct nb_whatif_result *r, uint64_t fills, uint64_t zaps, uint64_t ptw,
		   uint64_t hits, uint64_t misses)
{
	assert_int_equal(r->fills, fills);
	assert_int_equal(r->zaps, zaps);
	assert_int_equal(r->pt_write_traps, ptw);
	assert_int_equal(r->cr3_hits, hits);
	assert_int_equal(r->cr3_misses, misses);
}

static void test_policies_give_the_expected_figures(void **state)
{
	static const struct nb_whatif_policy p[] = {
		{"4 roots", 4, 0, 0}, {"2 roots", 2, 0, 0}, {"1 root", 1, 0, 0}, {"8 roots", 8, 0, 0},
		{"drop all", 1, 1, 0}, {"unsync", 4, 0, 1},
	};
	struct nb_whatif_result r[6], rec;
	struct nb_whatif *w = nb_whatif_new(p, 6);

	(void)state;
	assert_non_null(w);
	known_trace(w);
	nb_whatif_results(w, r, &rec);
	expect(&rec, 5, 1, 1, 2, 1);
	/* nbvmm's own policy reproduces the recorded figures; so do more roots than needed. */
	expect(&r[0], 5, 1, 1, 2, 1);
	expect(&r[1], 5, 1, 1, 2, 1);
	expect(&r[3], 5, 1, 1, 2, 1);
	/* One root: each switch evicts the other space, whose working set is filled again. */
	expect(&r[2], 8, 4, 1, 0, 3);
	/* Dropping everything on each switch: the same fills, a zap more per switch. */
	expect(&r[4], 8, 7, 1, 0, 3);
	/* Unsync leaf tables: no trap, no write fault, the stale leaf kept until the final resync. */
	expect(&r[5], 3, 1, 0, 2, 1);
	nb_whatif_free(w);
}

/*
 * A 32-bit Multiboot kernel (mb-modes at depth 2): unpaged after a mode change, it loads a CR3 (a
 * hit: unpaged, every CR3 shares one shadow), turns paging on and off, and loads another (a hit
 * again). Every policy keeps the one shadow; dropping it on each switch costs a fill again.
 */
static void mode_change_trace(struct nb_whatif *w)
{
	feed(w, NB_EV_SHADOW_ZAP, 0, SPT_ZAP_MODE, 0, 0, 0, 0);
	fill(w, 0x101000, 0, 0);
	feed(w, NB_EV_CR3_SWITCH, 0, 0, 0x10f000, 1, 0, 0);
	fill(w, 0x102000, 0, 0);
	feed(w, NB_EV_SHADOW_ZAP, 0x10f000, SPT_ZAP_MODE, 0, 2, 0, 0);
	fill(w, 0x101000, 0, 0);
	feed(w, NB_EV_SHADOW_ZAP, 0x10f000, SPT_ZAP_MODE, 0, 1, 0, 0);
	feed(w, NB_EV_CR3_SWITCH, 0, 0x10f000, 0x10d000, 1, 0, 0);
	fill(w, 0x102000, 0, 0);
}

static void test_unpaged_guest_switches_hit_under_every_policy(void **state)
{
	static const struct nb_whatif_policy p[] = {{"4 roots", 4, 0, 0}, {"1 root", 1, 0, 0}, {"drop all", 1, 1, 0}};
	struct nb_whatif_result r[3], rec;
	struct nb_whatif *w = nb_whatif_new(p, 3);

	(void)state;
	assert_non_null(w);
	mode_change_trace(w);
	nb_whatif_results(w, r, &rec);
	expect(&rec, 4, 3, 0, 2, 0);
	expect(&r[0], 4, 3, 0, 2, 0);
	expect(&r[1], 4, 3, 0, 2, 0);
	/* A zap per switch, and 0x101000 (mapped when the first switch dropped it) filled again. */
	expect(&r[2], 5, 5, 0, 2, 0);
	nb_whatif_free(w);
}

static void test_default_policy_list_starts_with_nbvmms(void **state)
{
	(void)state;
	assert_true(nb_whatif_policy_count >= 5);
	assert_int_equal(nb_whatif_policies[0].roots, SPT_ROOT_CACHE);
	assert_false(nb_whatif_policies[0].drop_on_switch);
	assert_false(nb_whatif_policies[0].unsync_leaves);
}

/* ---- spt.c's roots knob -------------------------------------------------------------------- */

static void test_spt_roots_knob_bounds_the_root_cache(void **state)
{
	static const struct shadow_ops ops = {replay_no_read, replay_no_write, replay_identity_gpa_to_hpa,
					      replay_alloc_page, replay_free_page, NULL};
	struct gpt_mode m = {.paging = GPT_PAGING_LONG, .cr3 = 0x2000, .cr0_wp = true, .maxphyaddr = 40};
	struct spt_ctx ctx;
	uint64_t cr3;
	unsigned i, cached = 0;

	(void)state;
	assert_int_equal(spt_init(&ctx, &ops, NULL, &m), 0);
	assert_int_equal(ctx.roots, SPT_ROOT_CACHE);
	ctx.roots = 2;
	assert_int_equal(spt_cr3_switch(&ctx, 0x10000), 0);
	assert_int_equal(spt_cr3_switch(&ctx, 0x2000), 0);
	assert_int_equal(ctx.stats.cr3_hits, 1);
	assert_int_equal(spt_cr3_switch(&ctx, 0x11000), 0); /* evicts 0x10000, the least recent */
	assert_int_equal(spt_cr3_switch(&ctx, 0x10000), 0);
	assert_int_equal(ctx.stats.cr3_hits, 1);
	assert_int_equal(ctx.stats.cr3_misses, 3);
	for (i = 0; i < SPT_ROOT_CACHE_MAX; i++)
		if (spt_cached_root(&ctx, i, SPT_ROOT_KERNEL, &cr3))
			cached++;
	assert_int_equal(cached, 2);
	spt_destroy(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policies_give_the_expected_figures),
		cmocka_unit_test(test_unpaged_guest_switches_hit_under_every_policy),
		cmocka_unit_test(test_default_policy_list_starts_with_nbvmms),
		cmocka_unit_test(test_spt_roots_knob_bounds_the_root_cache),
	};

	return cmocka_run_group_tests_name("what-if", tests, NULL, NULL);
}
