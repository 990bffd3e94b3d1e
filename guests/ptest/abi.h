/*
 * ptest's user/kernel interface, shared by the kernel, the C worker and the assembly trouble
 * program.
 *
 * System calls: RAX = number, RDI and RSI = arguments, then UD2 (0F 0B); the result comes back
 * in RAX and every other register is preserved. UD2 rather than SYSCALL or INT 0x80 because on
 * these machines only exceptions reach the kernel from ring 3 at depth 1 (shared/PLATFORM.md):
 * the #UD handler recognises the two bytes and advances RIP past them.
 *
 * Every process sees the same user addresses, in PML4 slot 1, mapped to frames of its own.
 */
#ifndef NESTBED_GUESTS_PTEST_ABI_H
#define NESTBED_GUESTS_PTEST_ABI_H

#define PTEST_SYS_EXIT 0    /* RDI = status; does not return */
#define PTEST_SYS_WRITE 1   /* RDI = buffer, RSI = length; returns the length written */
#define PTEST_SYS_GETPID 2  /* returns the process id, 1 and up */
#define PTEST_SYS_YIELD 3   /* runs the next process (another CR3); returns 0 */
#define PTEST_SYS_REMAP 4   /* points the remap page at the process's second frame; returns 0 */
#define PTEST_SYS_ONFAULT 5 /* RDI = user address to resume at after the next fault; returns 0 */
#define PTEST_SYS_BOGUS 99  /* no such call: returns PTEST_ENOSYS */
#define PTEST_ENOSYS (-38)

#define PTEST_USER_BASE 0x0000008000000000 /* PML4 slot 1 */
#define PTEST_USER_DATA (PTEST_USER_BASE + 0x0)      /* 1 page, RW: word 0 set by the kernel */
#define PTEST_USER_REMAP (PTEST_USER_BASE + 0x1000)  /* 1 page, RO: frame A, then frame B */
#define PTEST_USER_STACK (PTEST_USER_BASE + 0x8000)  /* PTEST_USER_STACK_PAGES pages, RW */
#define PTEST_USER_STACK_PAGES 2
#define PTEST_USER_STACK_TOP (PTEST_USER_STACK + PTEST_USER_STACK_PAGES * 0x1000)
#define PTEST_USER_DEMAND (PTEST_USER_BASE + 0x100000) /* mapped on first touch */
#define PTEST_DEMAND_PAGES 8
#define PTEST_USER_WILD (PTEST_USER_BASE + 0x1f0000) /* never mapped */

/* Where the processes leave what they saw, in their data page, for the kernel to check. */
#define PTEST_RESULTS (PTEST_USER_DATA + 0x800)
#define PTEST_TROUBLE_STEPS (PTEST_USER_DATA + 0x10) /* faults the trouble program got past */

/* What the kernel writes before a process starts; "| pid" makes each process's differ. */
#define PTEST_DATA_MARKER 0xda7a000000000000
#define PTEST_REMAP_A_MARKER 0xaaaa000000000000
#define PTEST_REMAP_B_MARKER 0xbbbb000000000000
/* What a worker writes into its data page before yielding: pid * PTEST_DATA_STEP. */
#define PTEST_DATA_STEP 0x1111
/* The worker's SYS_WRITE text; '?' becomes its pid. */
#define PTEST_HELLO "pid ?: hello from ring 3 through ud2\n"
/* Iterations of the worker's ring-3 compute loop (sum of i * i). */
#define PTEST_LOOP_N (1ull << 20)

#ifndef __ASSEMBLER__
#include <stdint.h>

struct ptest_results {
	uint64_t pid;              /* getpid */
	uint64_t write_ret;        /* write's return value */
	uint64_t data_initial;     /* word 0 of the data page, as the kernel left it */
	uint64_t data_after_yield; /* word 1, written before a yield, read after it */
	uint64_t demand_nonzero;   /* demand-paged words that were not zero on first read */
	uint64_t demand_sum;       /* sum of what was written into them, read after a yield */
	uint64_t remap_before;     /* word 0 of the remap page before and after SYS_REMAP */
	uint64_t remap_after;
	uint64_t enosys;           /* PTEST_SYS_BOGUS's return value */
	uint64_t loop;             /* the compute loop's result */
};

/* User entry points (user.c, user_trouble.S). */
void ptest_worker(void);
void ptest_trouble(void);
extern char ptest_trouble_read_kernel[], ptest_trouble_write_wild[], ptest_trouble_div[],
	ptest_trouble_hlt[];
/* A kernel variable the trouble program tries to read from ring 3. */
extern uint64_t ptest_kernel_secret;
#endif

#endif
