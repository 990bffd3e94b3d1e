/*
 * Fuzz harness: the shadow page tables (shadow/spt.c) with the guest page walker under them. A
 * guest's page tables, its writes to them, its CR3 switches, INVLPGs and paging-mode changes are
 * all the guest's to choose.
 *
 * The harness is the property tests' engine (tests/unit/spt_sim.c) with every random choice
 * taken from the input instead of a seeded generator: the first byte picks the paging mode
 * (long, PAE, 32-bit), the rest builds the random guest (tables, physical map with holes and an
 * alias, allocation budget) and then drives operations - fills, page-table stores, CR3 switches,
 * INVLPGs, zaps, mode changes, hypervisor mappings - until the input ends. After every operation
 * every shadow translation in every cached root must be the guest's own translation composed
 * with its physical map, with rights no wider than the guest's, no writable leaf on a frame
 * holding a guest table a translation depends on, the hypervisor's slot unreachable from ring 3,
 * every fill's outcome the one the guest's tables call for, and no shadow page leaked.
 */
#include <stdarg.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tests/unit/spt_sim.h"

#define MAX_OPS 400

void spt_sim_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum gpt_paging modes[3] = { GPT_PAGING_LONG, GPT_PAGING_PAE, GPT_PAGING_32 };
	struct fuzz_in in = fuzz_in(data, size);
	struct prop *p;
	unsigned i;

	if (size < 1)
		return 0;
	p = calloc(1, sizeof(*p));
	FUZZ_CHECK(p, "out of memory");
	p->in = &in;
	prop_new_guest(p, modes[fuzz_u8(&in) % 3]);
	for (i = 0; i < MAX_OPS && !in.done; i++, p->op++)
		prop_step(p);
	spt_destroy(&p->ctx);
	sim_delete(p->s);
	free(p);
	return 0;
}
