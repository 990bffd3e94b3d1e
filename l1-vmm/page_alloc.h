/* nbvmm's physical page allocator: whole 4 KiB pages from the RAM its boot info left free. */
#ifndef NBVMM_PAGE_ALLOC_H
#define NBVMM_PAGE_ALLOC_H

#include <stdint.h>

#include "l1-vmm/layout.h"

static inline void *phys_to_virt(uint64_t pa)
{
	return (void *)(uintptr_t)(pa + nbvmm_vma);
}

static inline uint64_t virt_to_phys(const void *va)
{
	return (uint64_t)(uintptr_t)va - nbvmm_vma;
}

void page_alloc_init(uint64_t start, uint64_t end);
/* Contiguous, aligned to align bytes (a power of two >= 4 KiB), zeroed; 0 when out of memory. */
uint64_t page_alloc_range(uint64_t bytes, uint64_t align);
/* One zeroed page: its physical address, 0 when none is left. */
uint64_t page_alloc(void);
void page_free(uint64_t pa);
uint64_t page_alloc_free_bytes(void);

#endif
