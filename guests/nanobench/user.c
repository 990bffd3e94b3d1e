/*
 * nanobench's ring-3 programs. Everything here is in .user.text (guests/lib/user.ld), the only
 * kernel-image pages mapped with the U bit: no calls out of this file and no string literals.
 * Each program warms up, asks the kernel to mark the start, reads RDTSC (which never traps in
 * ring 3 on these machines, at any depth) around its loop and hands both readings to the kernel.
 */
#include "guests/nanobench/nanobench.h"

#define USER_TEXT __attribute__((section(".user.text")))
#define PAGE 0x1000

/* The system call (nanobench.h): only RAX changes. */
static inline __attribute__((always_inline)) uint64_t sys(uint64_t nr, uint64_t a, uint64_t b)
{
	__asm__ volatile("ud2" : "+a"(nr) : "D"(a), "S"(b) : "memory");
	return nr;
}

static inline __attribute__((always_inline)) uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

static inline __attribute__((always_inline, noreturn)) void done(uint64_t t0)
{
	sys(NANOBENCH_SYS_DONE, t0, rdtsc());
	__builtin_unreachable();
}

/*
 * Integer work that never leaves ring 3: a 64-bit LCG step (a multiply and an add) and a sum of
 * its high bits per iteration. The empty asm makes gcc keep every step and its result.
 */
USER_TEXT void nanobench_user_compute(uint64_t n)
{
	uint64_t x = 1, sum = 0, i, t0;

	sys(NANOBENCH_SYS_START, 0, 0);
	t0 = rdtsc();
	for (i = 0; i < n; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		sum += x >> 33;
		__asm__ volatile("" : "+r"(x), "+r"(sum));
	}
	done(t0);
}

/* The null system call: UD2 to the kernel's #UD handler, which returns at once. */
USER_TEXT void nanobench_user_syscall(uint64_t n)
{
	uint64_t i, t0;

	for (i = 0; i < NANOBENCH_WARM; i++)
		sys(NANOBENCH_SYS_NULL, 0, 0);
	sys(NANOBENCH_SYS_START, 0, 0);
	t0 = rdtsc();
	for (i = 0; i < n; i++)
		sys(NANOBENCH_SYS_NULL, 0, 0);
	done(t0);
}

/*
 * One store to each of NANOBENCH_WARM pages of the region, then, timed, to each of the n pages
 * after them. Whether a store faults depends on the kernel: demand paging (pgfault) or pages
 * mapped in advance (fill, where only a shadow-paging hypervisor underneath takes a fault).
 */
USER_TEXT void nanobench_user_touch(uint64_t n)
{
	uint64_t i, t0;

	for (i = 0; i < NANOBENCH_WARM; i++)
		*(volatile uint64_t *)(NANOBENCH_REGION + i * PAGE) = i;
	sys(NANOBENCH_SYS_START, 0, 0);
	t0 = rdtsc();
	for (i = NANOBENCH_WARM; i < NANOBENCH_WARM + n; i++)
		*(volatile uint64_t *)(NANOBENCH_REGION + i * PAGE) = i;
	done(t0);
}
