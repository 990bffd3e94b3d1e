/*
 * The simulated machine of the shadow page table tests, and their property engine: guest memory
 * backed by host frames through a physical map with holes (and an alias), pages handed out to
 * shadow/ at their own host-physical addresses, a checker that walks the shadow exactly as the
 * MMU would, and random guests driven through random fills, page-table writes, CR3 switches,
 * INVLPGs, mode changes and allocation failures, checking after each step that every shadow
 * translation is the guest's translation composed with the physical map, with rights never wider
 * than the guest's, and that no frame a translation depends on is writable.
 *
 * Shared by the unit and property tests (tests/unit/test_shadow_spt.c), where the random choices
 * come from a seeded generator, and the fuzz harness (tests/fuzz/spt.c), where they come from the
 * fuzzer's bytes. Each program defines spt_sim_fail, which reports a broken invariant and does
 * not return.
 */
#ifndef NESTBED_TESTS_SPT_SIM_H
#define NESTBED_TESTS_SPT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shadow/spt.h"
#include "tests/fuzz/fuzz.h"

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

void spt_sim_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

extern const struct shadow_ops sim_ops;
int sim_read(void *opaque, uint64_t gpa, void *buf, unsigned len);
int sim_write(void *opaque, uint64_t gpa, const void *buf, unsigned len);
int sim_gpa_to_hpa(void *opaque, uint64_t gpa, uint64_t *hpa);
/* The MMU's view of a shadow page: only pages this machine handed out are tables. */
uint64_t *sim_table(const struct sim *s, uint64_t hpa);
struct sim *sim_new(void);
/* Frees the machine; fails when shadow/ kept pages. */
void sim_delete(struct sim *s);
/* The shadow leaf the MMU would use for va from root (0 if none); *u_all = U/S at every level. */
uint64_t shadow_leaf(const struct sim *s, uint64_t root, uint64_t va, bool *u_all);

/* ---- the property engine ------------------------------------------------------------------ */

struct prop {
	struct sim *s;
	struct spt_ctx ctx;
	struct gpt_mode mode;
	uint64_t rng, seed;
	/* When not NULL, every random choice is taken from this input instead of rng (the fuzz
	 * harness tests/fuzz/spt.c). */
	struct fuzz_in *in;
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

/* A random guest in `paging` mode (tables, physical map, CR3s, allocation budget) with spt_init
 * done on it. */
void prop_new_guest(struct prop *p, enum gpt_paging paging);
/* One random operation, then check_shadows. */
void prop_step(struct prop *p);
/* Every shadow translation of every cached root against the guest's tables and physical map. */
void check_shadows(struct prop *p);

#endif
