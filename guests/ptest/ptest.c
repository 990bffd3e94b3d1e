/*
 * ptest: a small kernel that exercises what a hypervisor must virtualize, and checks itself.
 * It loads its own GDT, TSS and IDT, builds its own 4-level page tables, checks a few ring-0
 * behaviours (kernel_checks.c), then runs three ring-3 processes in separate address spaces:
 * two workers (user.c: system calls by UD2, private data, demand paging, a remap with INVLPG, a
 * compute loop) and a trouble program (user_trouble.S: #PF, #DE and #GP, resumed or killed).
 * It prints one PASS/FAIL line per check and exits 0 only if all passed.
 *
 * Its output must be the same at every depth (directly under L0, under nbvmm, ...): it prints
 * no addresses except in FAIL lines, no times and not the level it runs at. Ring-0 work is
 * kept small, as ring-0 code is emulated on the build machines (shared/PLATFORM.md).
 */
#include "guests/lib/nbkernel.h"
#include "guests/lib/check.h"
#include "guests/lib/paging.h"
#include "guests/ptest/ptest.h"

/* Kernel .data, so on a supervisor-only page: the trouble program reads it from ring 3. */
uint64_t ptest_kernel_secret = 0x5ec7e7;

int kmain(struct nb_boot_info *bi)
{
	static struct proc procs[PTEST_NPROC];
	uint64_t root;
	int err = nb_guest_init(bi);

	if (err) {
		nb_printf("ptest: unusable boot info: %s\n", nb_boot_strerror(err));
		return NB_GUEST_EXIT_BAD_BOOT;
	}
	nb_printf("ptest: descriptor tables, paging, processes, system calls, faults\n");
	nb_frames_init(bi->free_start, bi->free_end);
	nb_cpu_init();
	root = nb_pt_kernel_space(bi->mem_size);
	x86_write_cr3(root);
	ptest_kernel_checks(root, bi->console_port);

	proc_create(&procs[0], 1, ptest_worker, root);
	proc_create(&procs[1], 2, ptest_worker, root);
	proc_create(&procs[2], 3, ptest_trouble, root);
	nb_printf("ptest: running %u processes in ring 3\n", PTEST_NPROC);
	proc_run_all(procs, PTEST_NPROC, root);
	ptest_check_processes(procs, PTEST_NPROC);
	return nb_check_summary("ptest");
}
