/*
 * ptest's worker program, run in ring 3 by two processes at once. Everything here is in
 * .user.text / .user.rodata (guests/lib/user.ld), the only kernel-image pages mapped with the
 * U bit; calls out of this file, or string literals (which land in kernel .rodata), would fault.
 * What the worker sees goes into struct ptest_results in its own data page; the kernel checks
 * it after the process has exited, so the worker itself prints only through SYS_WRITE.
 */
#include "guests/ptest/abi.h"

#define USER_TEXT __attribute__((section(".user.text")))
#define USER_RODATA __attribute__((section(".user.rodata")))
#define PAGE 0x1000

/* The system call: only RAX changes (abi.h). */
static inline __attribute__((always_inline)) uint64_t sys(uint64_t nr, uint64_t a, uint64_t b)
{
	__asm__ volatile("ud2" : "+a"(nr) : "D"(a), "S"(b) : "memory");
	return nr;
}

USER_RODATA static const char hello[] = PTEST_HELLO;

/* Native speed in ring 3 at any depth; the barrier keeps gcc from finding the closed form. */
USER_TEXT static uint64_t compute_loop(void)
{
	uint64_t i, sum = 0;

	for (i = 0; i < PTEST_LOOP_N; i++) {
		sum += i * i;
		__asm__ volatile("" : "+r"(sum));
	}
	return sum;
}

USER_TEXT static void say_hello(volatile struct ptest_results *r, uint64_t pid)
{
	char msg[sizeof(hello)];
	unsigned i;

	for (i = 0; i < sizeof(hello); i++)
		msg[i] = hello[i] == '?' ? (char)('0' + pid) : hello[i];
	r->write_ret = sys(PTEST_SYS_WRITE, (uint64_t)(uintptr_t)msg, sizeof(hello) - 1);
}

/* Same virtual address in every process: each must see its own frame, across a yield too. */
USER_TEXT static void private_data(volatile struct ptest_results *r, uint64_t pid)
{
	volatile uint64_t *data = (volatile uint64_t *)PTEST_USER_DATA;

	r->data_initial = data[0];
	data[1] = pid * PTEST_DATA_STEP;
	sys(PTEST_SYS_YIELD, 0, 0);
	r->data_after_yield = data[1];
}

/* Each page faults once; the kernel maps a zeroed frame and resumes the read. */
USER_TEXT static void demand_paging(volatile struct ptest_results *r, uint64_t pid)
{
	uint64_t i, nonzero = 0, sum = 0;

	for (i = 0; i < PTEST_DEMAND_PAGES; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(PTEST_USER_DEMAND + i * PAGE) + pid;

		nonzero += *p != 0;
		*p = pid * 1000 + i;
	}
	sys(PTEST_SYS_YIELD, 0, 0);
	for (i = 0; i < PTEST_DEMAND_PAGES; i++)
		sum += *((volatile uint64_t *)(PTEST_USER_DEMAND + i * PAGE) + pid);
	r->demand_nonzero = nonzero;
	r->demand_sum = sum;
}

/* The read before the call puts the old translation in the TLB; the kernel's INVLPG must
 * make the read after it see the new frame. */
USER_TEXT static void remap(volatile struct ptest_results *r)
{
	volatile uint64_t *page = (volatile uint64_t *)PTEST_USER_REMAP;

	r->remap_before = page[0];
	sys(PTEST_SYS_REMAP, 0, 0);
	r->remap_after = page[0];
}

USER_TEXT __attribute__((noreturn)) void ptest_worker(void)
{
	volatile struct ptest_results *r = (volatile struct ptest_results *)PTEST_RESULTS;
	uint64_t pid = sys(PTEST_SYS_GETPID, 0, 0);

	r->pid = pid;
	say_hello(r, pid);
	private_data(r, pid);
	demand_paging(r, pid);
	remap(r);
	r->enosys = sys(PTEST_SYS_BOGUS, 0, 0);
	r->loop = compute_loop();
	sys(PTEST_SYS_EXIT, 0, 0);
	for (;;)
		;
}
