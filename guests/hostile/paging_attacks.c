/*
 * Page tables that point where the guest has no memory, and page-table writes behind the
 * hypervisor's back. A hypervisor composing these with its own map must never let them reach
 * memory the guest does not own: its own, another guest's, or an address it computes by
 * wrapping. The architecture defines some outcomes (reserved bits: #PF with RSVD; a write
 * through an alias of a page table is a page-table write); the rest must at least not behave
 * like RAM the guest could use.
 */
#include "guests/lib/nbkernel.h"
#include "guests/lib/check.h"
#include "guests/lib/paging.h"
#include "guests/hostile/hostile.h"

#define MARKER_X 0x0101010101010101ull
#define MARKER_Y 0x0202020202020202ull

static volatile uint64_t seen;

static void read_word(uint64_t va)
{
	seen = *(volatile uint64_t *)(uintptr_t)va;
}

static uint64_t beyond_ram(const struct hostile_env *e)
{
	return (e->mem_size + X86_PAGE_SIZE - 1) & ~(X86_PAGE_SIZE - 1);
}

/* The leaf entry for va, set directly: the old translation may be cached, so INVLPG. */
static void set_pte(const struct hostile_env *e, uint64_t va, uint64_t pte)
{
	*nb_pt_entry(e->root, va, 1, X86_PTE_P | X86_PTE_W) = pte;
	x86_invlpg(va);
}

void hostile_pte_beyond_ram(const struct hostile_env *e)
{
	uint64_t pa = beyond_ram(e);

	nb_printf("hostile: try a PTE to 0x%llx, just past the end of RAM\n",
		  (unsigned long long)pa);
	set_pte(e, HOSTILE_BEYOND, pa | X86_PTE_P | X86_PTE_W);
	hostile_check_not_memory("pte past the end of RAM: no memory there", HOSTILE_BEYOND);
}

/*
 * Physical-address bits at or above MAXPHYADDR are reserved in every paging-structure entry:
 * using one is a #PF with P and RSVD set (SDM Vol. 3A 4.5.4, 4.7). Just below that limit the
 * address is valid but, with no RAM there, must still not behave like memory.
 */
void hostile_pte_high(const struct hostile_env *e)
{
	struct hostile_outcome o;
	uint64_t top = (1ull << e->maxphyaddr) - X86_PAGE_SIZE;

	nb_printf("hostile: try a PTE to 0x%llx, the last page below MAXPHYADDR (%u bits)\n",
		  (unsigned long long)top, e->maxphyaddr);
	set_pte(e, HOSTILE_TOP, top | X86_PTE_P | X86_PTE_W);
	hostile_check_not_memory("pte to the top of the physical space: no memory there",
				 HOSTILE_TOP);
	if (e->maxphyaddr >= 52) {
		nb_check_skip("pte with an address bit above MAXPHYADDR raises #PF(RSVD)",
			      "MAXPHYADDR is 52: no reserved address bits");
		return;
	}
	nb_printf("hostile: try a PTE with address bit %u set (reserved)\n", e->maxphyaddr);
	set_pte(e, HOSTILE_RSVD, (1ull << e->maxphyaddr) | X86_PTE_P | X86_PTE_W);
	o = hostile_try(read_word, HOSTILE_RSVD);
	hostile_check_fault("pte with an address bit above MAXPHYADDR raises #PF(RSVD)", &o,
			    X86_VEC_PF, X86_PF_P | X86_PF_RSVD, HOSTILE_RSVD);
}

/* A page table that is not in RAM: what the walk reads there is not the guest's to choose. */
void hostile_pde_beyond_ram(const struct hostile_env *e)
{
	uint64_t pa = beyond_ram(e);
	struct hostile_outcome o;

	nb_printf("hostile: try a PDE whose page table is at 0x%llx, past the end of RAM\n",
		  (unsigned long long)pa);
	*nb_pt_entry(e->root, HOSTILE_PT_BEYOND, 2, X86_PTE_P | X86_PTE_W) =
		pa | X86_PTE_P | X86_PTE_W;
	x86_invlpg(HOSTILE_PT_BEYOND);
	seen = 0;
	o = hostile_try(read_word, HOSTILE_PT_BEYOND);
	if (!o.faulted)
		nb_printf("hostile:   read 0x%llx\n", (unsigned long long)seen);
	hostile_check_not_memory("pde to a table past the end of RAM: no memory there",
				 HOSTILE_PT_BEYOND);
}

/*
 * A page table mapped writable at a second address, and a PTE changed through that alias. To
 * the architecture this is an ordinary write to the page table: after INVLPG the new entry is
 * used. A shadowing hypervisor must see the write (trap it) and apply it, never let it bypass
 * the shadow; nor may the alias smuggle in a mapping of memory the guest does not own.
 */
void hostile_pt_alias(const struct hostile_env *e)
{
	uint64_t x = nb_frame_alloc(), y = nb_frame_alloc(), pt, *alias, idx;

	*(volatile uint64_t *)(uintptr_t)x = MARKER_X;
	*(volatile uint64_t *)(uintptr_t)y = MARKER_Y;
	nb_pt_map(e->root, HOSTILE_TARGET, x, X86_PTE_W);
	pt = *nb_pt_entry(e->root, HOSTILE_TARGET, 2, 0) & X86_PTE_ADDR;
	nb_pt_map(e->root, HOSTILE_PT_ALIAS, pt, X86_PTE_W);
	alias = (uint64_t *)(uintptr_t)HOSTILE_PT_ALIAS;
	idx = (HOSTILE_TARGET >> 12) & 511;

	nb_printf("hostile: try remapping a page by writing its PTE through a writable alias of "
		  "its page table\n");
	nb_check_u64("page reads its first frame before the alias write", MARKER_X,
		     *(volatile uint64_t *)(uintptr_t)HOSTILE_TARGET);
	((volatile uint64_t *)alias)[idx] = y | X86_PTE_P | X86_PTE_W;
	x86_invlpg(HOSTILE_TARGET);
	nb_check_u64("page table holds the entry written through the alias",
		     y | X86_PTE_P | X86_PTE_W, ((volatile uint64_t *)(uintptr_t)pt)[idx]);
	nb_check_u64("alias write + invlpg: page reads the new frame", MARKER_Y,
		     *(volatile uint64_t *)(uintptr_t)HOSTILE_TARGET);

	nb_printf("hostile: try pointing the PTE past the end of RAM through the alias\n");
	((volatile uint64_t *)alias)[idx] = beyond_ram(e) | X86_PTE_P | X86_PTE_W;
	x86_invlpg(HOSTILE_TARGET);
	hostile_check_not_memory("alias write past the end of RAM: no memory there",
				 HOSTILE_TARGET);
}

/* CR3 names the PML4 by physical address; one past RAM leaves every walk without tables. */
void hostile_cr3_beyond_ram(const struct hostile_env *e)
{
	uint64_t pa = beyond_ram(e);

	nb_printf("hostile: try CR3 = 0x%llx, past the end of RAM (the machine should stop)\n",
		  (unsigned long long)pa);
	x86_write_cr3(pa);
	nb_printf("hostile: still running with CR3 past the end of RAM\n");
	nb_check_fail("cr3 past the end of RAM", "the kernel kept running");
}
