/* ptest's checks of what its processes saw (their results pages) and what the kernel did to
 * them (faults taken, exit status). */
#include "guests/lib/nbkernel.h"
#include "guests/lib/check.h"
#include "guests/ptest/ptest.h"

#define NAME_LEN 96
#define FAULT_TEXT_LEN 96

static void fault_text(char *buf, const struct ptest_fault *f)
{
	char v[16];

	if (!f) {
		nb_snprintf(buf, FAULT_TEXT_LEN, "no exception");
		return;
	}
	nb_snprintf(buf, FAULT_TEXT_LEN, "%s error 0x%llx rip 0x%llx cr2 0x%llx %s",
		    nb_vector_name(f->vector, v), (unsigned long long)f->error,
		    (unsigned long long)f->rip, (unsigned long long)f->cr2,
		    f->resumed ? "resumed" : "killed");
}

void ptest_check_fault(const char *name, const struct ptest_fault *want,
		       const struct ptest_fault *got)
{
	char w[FAULT_TEXT_LEN], g[FAULT_TEXT_LEN];
	int ok = got && got->vector == want->vector && got->error == want->error &&
		 got->rip == want->rip && got->cr2 == want->cr2 && got->resumed == want->resumed;

	fault_text(w, want);
	fault_text(g, got);
	nb_check_text(name, ok, w, g);
}

static void check(const struct proc *p, const char *what, uint64_t expected, uint64_t got)
{
	char name[NAME_LEN];

	nb_snprintf(name, sizeof(name), "pid %u: %s", p->pid, what);
	nb_check_u64(name, expected, got);
}

static void check_worker(const struct proc *p)
{
	const struct ptest_results *r =
		(const struct ptest_results *)(uintptr_t)(p->data_pa + (PTEST_RESULTS - PTEST_USER_DATA));
	uint64_t pid = p->pid, i, sum = 0, n = PTEST_LOOP_N;

	for (i = 0; i < PTEST_DEMAND_PAGES; i++)
		sum += pid * 1000 + i;
	check(p, "getpid", pid, r->pid);
	check(p, "write returns the length", sizeof(PTEST_HELLO) - 1, r->write_ret);
	check(p, "data page is its own frame", PTEST_DATA_MARKER | pid, r->data_initial);
	check(p, "data page keeps its value across a yield", pid * PTEST_DATA_STEP,
	      r->data_after_yield);
	check(p, "demand pages read zero", 0, r->demand_nonzero);
	check(p, "one page fault per demand page", PTEST_DEMAND_PAGES, p->demand_faults);
	check(p, "demand pages keep their data across a yield", sum, r->demand_sum);
	check(p, "remap page shows the first frame", PTEST_REMAP_A_MARKER | pid, r->remap_before);
	check(p, "remap with invlpg shows the second frame", PTEST_REMAP_B_MARKER | pid,
	      r->remap_after);
	check(p, "unknown system call returns ENOSYS", (uint64_t)PTEST_ENOSYS, r->enosys);
	/* Sum of i * i for i < n, in closed form: n (n - 1) (2n - 1) / 6, divided stepwise so
	 * every step is exact and nothing overflows for n = 2^20. */
	check(p, "ring-3 loop result", n * (n - 1) / 2 * (2 * n - 1) / 3, r->loop);
	check(p, "no faults", 0, p->nfaults);
	check(p, "exit status", 0, p->exit_status);
}

static void check_trouble(const struct proc *p)
{
	const struct ptest_fault want[PTEST_MAX_FAULTS] = {
		{ X86_VEC_PF, X86_PF_P | X86_PF_U, (uint64_t)(uintptr_t)ptest_trouble_read_kernel,
		  (uint64_t)(uintptr_t)&ptest_kernel_secret, 1 },
		{ X86_VEC_PF, X86_PF_W | X86_PF_U, (uint64_t)(uintptr_t)ptest_trouble_write_wild,
		  PTEST_USER_WILD, 1 },
		{ X86_VEC_DE, 0, (uint64_t)(uintptr_t)ptest_trouble_div, 0, 1 },
		{ X86_VEC_GP, 0, (uint64_t)(uintptr_t)ptest_trouble_hlt, 0, 0 },
	};
	static const char *const what[PTEST_MAX_FAULTS] = {
		"read of a kernel page raises #PF, resumed",
		"write outside its mappings raises #PF, resumed",
		"division by zero raises #DE, resumed",
		"hlt at cpl 3 raises #GP, killed",
	};
	char name[NAME_LEN];
	unsigned i;

	for (i = 0; i < PTEST_MAX_FAULTS; i++) {
		nb_snprintf(name, sizeof(name), "pid %u: %s", p->pid, what[i]);
		ptest_check_fault(name, &want[i], i < p->nfaults ? &p->faults[i] : NULL);
	}
	check(p, "ran on after each resumed fault", PTEST_MAX_FAULTS - 1,
	      *(const uint64_t *)(uintptr_t)(p->data_pa + (PTEST_TROUBLE_STEPS - PTEST_USER_DATA)));
	check(p, "exit status after the kill", 128 + X86_VEC_GP, p->exit_status);
}

void ptest_check_processes(const struct proc *procs, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (procs[i].entry == ptest_worker)
			check_worker(&procs[i]);
		else
			check_trouble(&procs[i]);
	}
}
