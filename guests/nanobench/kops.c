/*
 * nanobench's kernel-mode operations. Each loop body holds NANOBENCH_UNROLL operations, so that
 * at depth 1, where every ring-0 instruction is emulated (shared/PLATFORM.md), the loop's own
 * decrement and branch add a quarter of an instruction per operation. A few iterations run
 * before the start marker, so first-time costs stay out of the window.
 */
#include "guests/lib/nbkernel.h"
#include "guests/lib/x86.h"
#include "guests/nanobench/nanobench.h"

_Static_assert(NANOBENCH_UNROLL == 8, "the loops below repeat their operation 8 times");
_Static_assert(NANOBENCH_WARM % NANOBENCH_UNROLL == 0, "warm-up is whole iterations");

struct kop_args {
	uint16_t port;
	uint64_t *pte, va, a, b;
};

typedef void kop_loop(uint64_t iters, const struct kop_args *k);

/* Warm-up, then n operations between the markers; returns their cycles. */
static uint64_t timed(kop_loop *loop, const struct kop_args *k, uint64_t n)
{
	uint64_t t0, t1;

	loop(NANOBENCH_WARM / NANOBENCH_UNROLL, k);
	nanobench_mark(NANOBENCH_MARK_START, 0, 0, 0);
	t0 = nb_rdtsc();
	loop(n / NANOBENCH_UNROLL, k);
	t1 = nb_rdtsc();
	nanobench_mark(NANOBENCH_MARK_END, n, t0, t1);
	return t1 - t0;
}

/* MOV from CR0: privileged, so at depth 2 a #GP that nbvmm decodes and emulates (CR0_READ). */
static void privileged_loop(uint64_t iters, const struct kop_args *k)
{
	uint64_t v;

	(void)k;
	for (; iters; iters--)
		__asm__ volatile(".rept 8\n\tmov %%cr0, %0\n\t.endr" : "=r"(v));
}

uint64_t nanobench_privileged(uint64_t n)
{
	return timed(privileged_loop, &(struct kop_args){ 0 }, n);
}

/* OUT of a byte to the UART's scratch register, which nothing reads. */
static void io_loop(uint64_t iters, const struct kop_args *k)
{
	for (; iters; iters--)
		__asm__ volatile(".rept 8\n\toutb %%al, %%dx\n\t.endr" : : "a"(0x5a), "d"(k->port));
}

uint64_t nanobench_io(uint64_t n, uint16_t port)
{
	return timed(io_loop, &(struct kop_args){ .port = port }, n);
}

/*
 * A MOV that points the PTE of va at frame a (then b, alternately), each followed by INVLPG va
 * as a kernel does when it remaps a page, or not (ptemod). Nothing touches va in between, so no
 * TLB or shadow entry is rebuilt: what is measured is the store and the invalidation.
 */
#define PTE_STORES(after) ".rept 4\n\tmovq %2, (%0)\n\t" after "movq %3, (%0)\n\t" after ".endr"
/* From a local copy, which the "memory" clobber does not make gcc reload every iteration. */
#define PTE_OPERANDS(k) "r"((k).pte), "r"((k).va), "r"((k).a), "r"((k).b)

static void ptwrite_loop(uint64_t iters, const struct kop_args *k)
{
	const struct kop_args r = *k;

	for (; iters; iters--)
		__asm__ volatile(PTE_STORES("invlpg (%1)\n\t") : : PTE_OPERANDS(r) : "memory");
}

static void ptemod_loop(uint64_t iters, const struct kop_args *k)
{
	const struct kop_args r = *k;

	for (; iters; iters--)
		__asm__ volatile(PTE_STORES("") : : PTE_OPERANDS(r) : "memory");
}

uint64_t nanobench_ptwrite(uint64_t n, uint64_t *pte, uint64_t va, uint64_t a, uint64_t b, int invlpg)
{
	return timed(invlpg ? ptwrite_loop : ptemod_loop, &(struct kop_args){ 0, pte, va, a, b }, n);
}
