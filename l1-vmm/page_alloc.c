/*
 * Pages come from one range: large regions (guest memory) from its top, single pages (shadow
 * tables) from a free list refilled from its bottom. Memory L0 or a parent hands over is zero,
 * so only recycled pages are cleared.
 */
#include <string.h>

#include "l1-vmm/page_alloc.h"

static uint64_t low, high;
static uint64_t free_list; /* physical address of the first free page; each holds the next */
static uint64_t free_count;

void page_alloc_init(uint64_t start, uint64_t end)
{
	low = (start + 4095) & ~4095ull;
	high = end & ~4095ull;
	free_list = 0;
	free_count = 0;
}

uint64_t page_alloc_range(uint64_t bytes, uint64_t align)
{
	uint64_t base;

	bytes = (bytes + 4095) & ~4095ull;
	if (bytes > high - low)
		return 0;
	base = (high - bytes) & ~(align - 1);
	if (base < low)
		return 0;
	high = base;
	return base;
}

uint64_t page_alloc(void)
{
	uint64_t pa;

	if (free_list) {
		pa = free_list;
		free_list = *(uint64_t *)phys_to_virt(pa);
		free_count--;
		memset(phys_to_virt(pa), 0, 4096);
		return pa;
	}
	if (high - low < 4096)
		return 0;
	pa = low;
	low += 4096;
	return pa;
}

void page_free(uint64_t pa)
{
	*(uint64_t *)phys_to_virt(pa) = free_list;
	free_list = pa;
	free_count++;
}

uint64_t page_alloc_free_bytes(void)
{
	return high - low + free_count * 4096;
}
