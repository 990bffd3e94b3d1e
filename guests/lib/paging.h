/*
 * 4-level page tables built by a guest kernel for itself (SDM Vol. 3A 4.5), and the physical
 * frames they and its processes use. Tables are reached through the identity map the kernel
 * runs on, so a table's physical address is also a pointer to it.
 */
#ifndef NESTBED_GUESTS_PAGING_H
#define NESTBED_GUESTS_PAGING_H

#include <stdint.h>
#include "guests/lib/x86.h"

/* Frames come from [start, end) (the boot info's free range), zeroed, and are never freed.
 * Running out is a panic: the kernels here need a few dozen. */
void nb_frames_init(uint64_t start, uint64_t end);
uint64_t nb_frame_alloc(void);
uint64_t nb_frames_used(void);

/*
 * The entry for va at level (4 = PML4E ... 1 = PTE) in the tables rooted at root. With
 * table_flags non-zero, missing tables on the way are allocated and every entry on the way
 * gets at least those flags (a user page needs U at every level); with 0, NULL is returned
 * where a table is missing. NULL too where a large page is in the way.
 */
uint64_t *nb_pt_entry(uint64_t root, uint64_t va, unsigned level, uint64_t table_flags);
/* Maps the 4 KiB page at va to pa with flags (P is added); 0, or -1 if a large page is there. */
int nb_pt_map(uint64_t root, uint64_t va, uint64_t pa, uint64_t flags);
/*
 * A new root that identity-maps [0, mem_size) for the kernel (present, writable, supervisor):
 * 4 KiB pages below small_end and in a last partial 2 MiB, 2 MiB pages elsewhere.
 */
uint64_t nb_pt_identity(uint64_t mem_size, uint64_t small_end);
/*
 * The address space of a kernel linked with user.ld: nb_pt_identity over RAM with 4 KiB pages
 * across the kernel image, page 0 left out so that a null pointer faults, and the user code
 * pages [__user_start, __user_end) given the U bit and made read-only. The tables are not
 * loaded: writing them costs no trap at any depth until CR3 points at them.
 */
uint64_t nb_pt_kernel_space(uint64_t mem_size);

#endif
