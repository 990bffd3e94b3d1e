/*
 * ptest's trap handler. From ring 3: UD2 is a system call, a not-present fault in the demand
 * region gets a fresh page, anything else is the process's fault (resumed where it asked, or
 * killed). From ring 0: only the checks' expected exceptions, caught by nb_try.
 */
#include "guests/lib/nbkernel.h"
#include "guests/lib/paging.h"
#include "guests/ptest/ptest.h"

extern char __user_start[], __user_end[];

static int is_ud2(uint64_t rip)
{
	const uint8_t *insn = (const uint8_t *)(uintptr_t)rip;

	/* Read only from the user code pages, which are mapped in every address space. */
	return rip >= (uint64_t)(uintptr_t)__user_start &&
	       rip + 2 <= (uint64_t)(uintptr_t)__user_end && insn[0] == 0x0f && insn[1] == 0x0b;
}

/*
 * Demand paging: a zeroed frame for a not-present page of the region. No INVLPG: a
 * not-present entry is never cached in the TLB (SDM Vol. 3A 4.10.2), so the retried access
 * walks the tables again and finds the new entry.
 */
static int demand_fault(struct proc *p, uint64_t cr2, uint64_t error)
{
	uint64_t page = cr2 & ~(X86_PAGE_SIZE - 1);

	if ((error & X86_PF_P) || page < PTEST_USER_DEMAND ||
	    page >= PTEST_USER_DEMAND + PTEST_DEMAND_PAGES * X86_PAGE_SIZE)
		return 0;
	nb_pt_map(p->cr3, page, nb_frame_alloc(), X86_PTE_U | X86_PTE_W);
	p->demand_faults++;
	return 1;
}

static void user_fault(struct nb_trap_frame *f, uint64_t cr2)
{
	struct proc *p = proc_current();

	if (p->nfaults < PTEST_MAX_FAULTS) {
		struct ptest_fault *r = &p->faults[p->nfaults++];

		r->vector = f->vector;
		r->error = f->error;
		r->rip = f->rip;
		r->cr2 = cr2;
		r->resumed = p->onfault != 0;
	}
	if (!p->onfault) {
		proc_kill(f, f->vector);
		return;
	}
	/* Like a one-shot signal handler: the process goes on where it said, once. */
	f->rip = p->onfault;
	p->onfault = 0;
}

void ktrap(struct nb_trap_frame *f)
{
	uint64_t cr2 = 0;

	if ((f->cs & 3) != 3) {
		if (nb_try_catch(f))
			return;
		nb_trap_panic(f);
	}
	if (f->vector == X86_VEC_UD && is_ud2(f->rip)) {
		ptest_syscall(f);
		return;
	}
	if (f->vector == X86_VEC_PF) {
		cr2 = x86_read_cr2();
		if (demand_fault(proc_current(), cr2, f->error))
			return;
	}
	user_fault(f, cr2);
}
