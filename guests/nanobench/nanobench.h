/*
 * nanobench: one operation, run n times at whatever depth the kernel finds itself, timed with
 * RDTSC and reported on one console line (see nanobench.c). This header is the kernel's and the
 * user programs' shared interface: the user address space, the system calls and the markers.
 */
#ifndef NESTBED_GUESTS_NANOBENCH_H
#define NESTBED_GUESTS_NANOBENCH_H

/*
 * System calls, as in ptest: RAX = number, RDI and RSI = arguments, then UD2 (the one way into
 * the kernel from ring 3 that works at depth 1 on these machines, shared/PLATFORM.md); the
 * result comes back in RAX, every other register is preserved.
 */
#define NANOBENCH_SYS_NULL 0  /* does nothing: the system-call round trip being measured */
#define NANOBENCH_SYS_START 1 /* the measured loop starts now (a start marker is traced) */
#define NANOBENCH_SYS_DONE 2  /* RDI, RSI = RDTSC before and after the loop; does not return */

/* The user address space, in PML4 slot 1 of the kernel's own tables. */
#define NANOBENCH_USER_BASE 0x0000008000000000
#define NANOBENCH_USER_STACK (NANOBENCH_USER_BASE + 0x8000) /* 2 pages, RW */
#define NANOBENCH_USER_STACK_TOP (NANOBENCH_USER_STACK + 0x2000)
/* Pages the pgfault and fill operations touch: NANOBENCH_WARM for the warm-up, then one per
 * operation. 2 MiB aligned, so each 512 of them share one page table. */
#define NANOBENCH_REGION (NANOBENCH_USER_BASE + 0x200000)
/* Operations run before the measured ones, on their own pages or iterations, so that first-time
 * costs (shadow tables for the code, stack and page tables) fall outside the window. */
#define NANOBENCH_WARM 16
/* Kernel loops repeat their operation this many times per iteration (kops.c); n is rounded up to
 * a multiple of it. */
#define NANOBENCH_UNROLL 8

/*
 * Markers: NB_EV_GUEST trace records, aux = NANOBENCH_MARK | which. START and END bracket the
 * measured loop; END also carries the number of operations in addr and the loop's own RDTSC
 * readings, first in old_val and last in new_val, so that bench/depth can count in the trace
 * exactly the events between them (every level stamps its records with the same TSC).
 */
#define NANOBENCH_MARK 0x4e414e4f00000000ull /* "NANO" */
#define NANOBENCH_MARK_READY 0 /* set-up done; its record also brings the ring's page in */
#define NANOBENCH_MARK_START 1
#define NANOBENCH_MARK_END 2

#ifndef __ASSEMBLER__
#include <stdint.h>

/* User programs (user.c), entered from the kernel with RDI = the number of operations to time;
 * each ends with NANOBENCH_SYS_DONE, which does not return. */
typedef void nanobench_user_program(uint64_t n);
nanobench_user_program nanobench_user_compute, nanobench_user_syscall, nanobench_user_touch;

/* Kernel loops (kops.c): each runs n operations between the markers and returns the cycles
 * they took. ptwrite alternates the entry *pte between a and b, with INVLPG va after each store
 * when invlpg is set. */
uint64_t nanobench_privileged(uint64_t n);
uint64_t nanobench_io(uint64_t n, uint16_t port);
uint64_t nanobench_ptwrite(uint64_t n, uint64_t *pte, uint64_t va, uint64_t a, uint64_t b, int invlpg);

/* nanobench.c: traces marker `which` (NANOBENCH_MARK_*); n, t0 and t1 are the END marker's
 * operation count and loop timestamps, 0 for the others. */
void nanobench_mark(unsigned which, uint64_t n, uint64_t t0, uint64_t t1);

/* traps.c: the pages of NANOBENCH_REGION. nanobench_region_init makes the page tables for its
 * first `pages` pages, none mapped (0, or -1 if that is more than NANOBENCH_REGION_MAX_PAGES);
 * nanobench_region_map maps the page at va to a frame of a small pool with one store (1), or
 * returns 0 when va is not one of them. */
#define NANOBENCH_REGION_MAX_PAGES (64 * 512) /* 64 page tables, 128 MiB of virtual space */
int nanobench_region_init(uint64_t root, uint64_t pages);
int nanobench_region_map(uint64_t va);

/* traps.c: the user program's operation count, what it reported with NANOBENCH_SYS_DONE, and
 * the demand faults the kernel served for it. */
struct nanobench_user_result {
	uint64_t n;
	uint64_t t0, t1;
	uint64_t faults;
};
extern struct nanobench_user_result nanobench_user;
#endif

#endif
