/*
 * nanobench's trap handler and the demand region. From ring 3: UD2 is a system call, a
 * not-present fault in the region gets a page. Anything else, from either ring, is a bug in the
 * benchmark: a FAIL line and exit status 3.
 *
 * The fault path does as little as a kernel can: one store into a page table found by index,
 * no allocation, no zeroing (the region's pages share a small pool of frames), no INVLPG (a
 * not-present entry is never cached, SDM Vol. 3A 4.10.2). At depth 1 every instruction of it
 * is emulated; at depth 2 it runs natively except what traps to nbvmm.
 */
#include "guests/lib/nbkernel.h"
#include "guests/lib/paging.h"
#include "guests/lib/trap.h"
#include "guests/nanobench/nanobench.h"

#define UD2_LEN 2
#define PT_ENTRIES 512
#define POOL_FRAMES 16
#define REGION_PAGE_FLAGS (X86_PTE_P | X86_PTE_W | X86_PTE_U)

struct nanobench_user_result nanobench_user;

static uint64_t *region_pt[NANOBENCH_REGION_MAX_PAGES / PT_ENTRIES];
static uint64_t region_pages;
static uint64_t pool[POOL_FRAMES];

extern char __user_start[], __user_end[];

int nanobench_region_init(uint64_t root, uint64_t pages)
{
	uint64_t i;

	if (pages > NANOBENCH_REGION_MAX_PAGES)
		return -1;
	for (i = 0; i < POOL_FRAMES; i++)
		pool[i] = nb_frame_alloc();
	/* The entry for the first page of each 2 MiB is the first of its page table. */
	for (i = 0; i < pages; i += PT_ENTRIES)
		region_pt[i / PT_ENTRIES] = nb_pt_entry(root, NANOBENCH_REGION + i * X86_PAGE_SIZE, 1,
							REGION_PAGE_FLAGS);
	region_pages = pages;
	return 0;
}

int nanobench_region_map(uint64_t va)
{
	uint64_t idx = (va - NANOBENCH_REGION) / X86_PAGE_SIZE;

	if (va < NANOBENCH_REGION || idx >= region_pages)
		return 0;
	region_pt[idx / PT_ENTRIES][idx % PT_ENTRIES] = pool[idx % POOL_FRAMES] | REGION_PAGE_FLAGS;
	return 1;
}

static int is_ud2(uint64_t rip)
{
	const uint8_t *insn = (const uint8_t *)(uintptr_t)rip;

	return rip >= (uint64_t)(uintptr_t)__user_start && rip + UD2_LEN <= (uint64_t)(uintptr_t)__user_end &&
	       insn[0] == 0x0f && insn[1] == 0x0b;
}

static void system_call(struct nb_trap_frame *f)
{
	f->rip += UD2_LEN;
	switch (f->rax) {
	case NANOBENCH_SYS_NULL:
		f->rax = 0;
		break;
	case NANOBENCH_SYS_START:
		nanobench_mark(NANOBENCH_MARK_START, 0, 0, 0);
		f->rax = 0;
		break;
	case NANOBENCH_SYS_DONE:
		nanobench_user.t0 = f->rdi;
		nanobench_user.t1 = f->rsi;
		nanobench_mark(NANOBENCH_MARK_END, nanobench_user.n, f->rdi, f->rsi);
		nb_trap_leave_user(0);
		break;
	default:
		nb_trap_panic(f);
	}
}

void ktrap(struct nb_trap_frame *f)
{
	if ((f->cs & 3) == 3) {
		if (f->vector == X86_VEC_UD && is_ud2(f->rip)) {
			system_call(f);
			return;
		}
		if (f->vector == X86_VEC_PF && !(f->error & X86_PF_P) && nanobench_region_map(x86_read_cr2())) {
			nanobench_user.faults++;
			return;
		}
	}
	nb_trap_panic(f);
}
