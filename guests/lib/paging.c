/* A guest kernel's own page tables and frame allocator (paging.h). */
#include "guests/lib/nbkernel.h"
#include "guests/lib/paging.h"
#include "guests/lib/trap.h"

#define PT_ENTRIES 512

extern char __kernel_end[], __user_start[], __user_end[]; /* kernel64.ld, user.ld */

static uint64_t frames_next, frames_end, frames_used;

void nb_frames_init(uint64_t start, uint64_t end)
{
	frames_next = (start + X86_PAGE_SIZE - 1) & ~(X86_PAGE_SIZE - 1);
	frames_end = end & ~(X86_PAGE_SIZE - 1);
	frames_used = 0;
}

uint64_t nb_frame_alloc(void)
{
	uint64_t pa = frames_next;

	if (pa >= frames_end) {
		nb_printf("FAIL: out of physical frames after %llu\n",
			  (unsigned long long)frames_used);
		nb_hc_exit(NB_TRAP_EXIT_PANIC);
	}
	frames_next += X86_PAGE_SIZE;
	frames_used++;
	/* Memory handed over by a parent need not be zero, and a page table must start empty. */
	memset((void *)(uintptr_t)pa, 0, X86_PAGE_SIZE);
	return pa;
}

uint64_t nb_frames_used(void)
{
	return frames_used;
}

static unsigned pt_index(uint64_t va, unsigned level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & (PT_ENTRIES - 1);
}

uint64_t *nb_pt_entry(uint64_t root, uint64_t va, unsigned level, uint64_t table_flags)
{
	uint64_t *table = (uint64_t *)(uintptr_t)root;
	unsigned l;

	for (l = 4; l > level; l--) {
		uint64_t *e = &table[pt_index(va, l)];

		if (!(*e & X86_PTE_P)) {
			if (!table_flags)
				return NULL;
			/* The new table is filled (zeroed) before it is linked in. */
			*e = nb_frame_alloc() | table_flags | X86_PTE_P;
		} else if (*e & X86_PTE_PS) {
			return NULL;
		} else if ((*e & table_flags) != table_flags) {
			/* Rights are the AND over all levels: widen the way, the leaf decides. */
			*e |= table_flags;
		}
		table = (uint64_t *)(uintptr_t)(*e & X86_PTE_ADDR);
	}
	return &table[pt_index(va, level)];
}

int nb_pt_map(uint64_t root, uint64_t va, uint64_t pa, uint64_t flags)
{
	uint64_t *e = nb_pt_entry(root, va, 1, X86_PTE_P | X86_PTE_W | (flags & X86_PTE_U));

	if (!e)
		return -1;
	*e = (pa & X86_PTE_ADDR) | flags | X86_PTE_P;
	return 0;
}

uint64_t nb_pt_identity(uint64_t mem_size, uint64_t small_end)
{
	uint64_t root = nb_frame_alloc(), c, a;

	for (c = 0; c < mem_size; c += X86_LARGE_PAGE_SIZE) {
		uint64_t *pde = nb_pt_entry(root, c, 2, X86_PTE_P | X86_PTE_W), *pt;

		if (c >= small_end && c + X86_LARGE_PAGE_SIZE <= mem_size) {
			*pde = c | X86_PTE_P | X86_PTE_W | X86_PTE_PS;
			continue;
		}
		/* Fill the page table before the PDE points at it. */
		pt = (uint64_t *)(uintptr_t)nb_frame_alloc();
		for (a = c; a < c + X86_LARGE_PAGE_SIZE && a < mem_size; a += X86_PAGE_SIZE)
			pt[pt_index(a, 1)] = a | X86_PTE_P | X86_PTE_W;
		*pde = (uint64_t)(uintptr_t)pt | X86_PTE_P | X86_PTE_W;
	}
	return root;
}

uint64_t nb_pt_kernel_space(uint64_t mem_size)
{
	uint64_t small_end = ((uint64_t)(uintptr_t)__kernel_end + X86_LARGE_PAGE_SIZE - 1) &
			     ~(X86_LARGE_PAGE_SIZE - 1);
	uint64_t root = nb_pt_identity(mem_size, small_end), va;

	*nb_pt_entry(root, 0, 1, 0) = 0;
	for (va = (uint64_t)(uintptr_t)__user_start; va < (uint64_t)(uintptr_t)__user_end;
	     va += X86_PAGE_SIZE) {
		uint64_t *pte = nb_pt_entry(root, va, 1, X86_PTE_P | X86_PTE_W | X86_PTE_U);

		*pte = (*pte | X86_PTE_U) & ~X86_PTE_W;
	}
	return root;
}
