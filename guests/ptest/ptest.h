/* ptest's kernel: processes, system calls, traps and the checks (see ptest.c). */
#ifndef NESTBED_GUESTS_PTEST_H
#define NESTBED_GUESTS_PTEST_H

#include <stdint.h>
#include "guests/lib/trap.h"
#include "guests/ptest/abi.h"

#define PTEST_NPROC 3       /* two workers, then the trouble program */
#define PTEST_MAX_FAULTS 4  /* the trouble program's four */

enum proc_state { PROC_RUNNABLE, PROC_EXITED, PROC_KILLED };

/* A fault the kernel took for a process, as its handler saw it. */
struct ptest_fault {
	uint64_t vector, error, rip, cr2;
	int resumed; /* 1: resumed at the ONFAULT address; 0: the process was killed */
};

struct proc {
	unsigned pid;
	void (*entry)(void);          /* the program it runs */
	enum proc_state state;
	uint64_t cr3;                 /* its own PML4 */
	uint64_t data_pa;             /* frames behind PTEST_USER_DATA and PTEST_USER_REMAP */
	uint64_t remap_a_pa, remap_b_pa;
	struct nb_trap_frame frame;   /* user state while not running */
	uint64_t onfault;             /* where to resume after the next fault, or 0 */
	uint64_t exit_status;         /* SYS_EXIT's argument, or 128 + vector when killed */
	unsigned demand_faults;
	unsigned nfaults;
	struct ptest_fault faults[PTEST_MAX_FAULTS];
};

/* kernel_checks.c: ring-0 checks of the kernel's own tables, run before any process. */
void ptest_kernel_checks(uint64_t kernel_root, uint16_t console_port);

/* kprobes.S: the faulting instruction is each probe's first. One signature for all three,
 * each using what it needs (ud2 nothing, read va, write both). */
typedef void ptest_kprobe(uint64_t va, uint64_t value);
ptest_kprobe ptest_kprobe_ud2, ptest_kprobe_read, ptest_kprobe_write;

/* process.c */
void proc_create(struct proc *p, unsigned pid, void (*entry)(void), uint64_t kernel_root);
void proc_run_all(struct proc *procs, unsigned n, uint64_t kernel_root);
struct proc *proc_current(void);
/* Leaves the current process as f describes it and makes f describe the next runnable one
 * (switching CR3); when none is left, returns from proc_run_all. */
void proc_schedule(struct nb_trap_frame *f);
void proc_kill(struct nb_trap_frame *f, uint64_t vector);

/* syscall.c: f is a UD2 from CPL 3. */
void ptest_syscall(struct nb_trap_frame *f);
/* Is [va, va + len) inside what the user may name: its region or the user code pages? */
int ptest_user_range(uint64_t va, uint64_t len);

/* results.c: checks what each process left behind. */
void ptest_check_processes(const struct proc *procs, unsigned n);
/* One check line comparing a fault (got, or NULL for none) with the one expected. */
void ptest_check_fault(const char *name, const struct ptest_fault *want,
		       const struct ptest_fault *got);

#endif
