/*
 * hostile: a guest kernel that tries to escape, for containment tests (issue 4 item 7).
 * Option do= picks one attempt; do=all (the default) runs every attempt that a contained
 * machine survives, in order. Each prints what it tries and what it observed, and checks the
 * outcome where the architecture defines it; the exit status is 0 when no check failed.
 *
 *   do=pte-beyond-ram   a PTE to the first page past RAM: write, read back
 *   do=pte-high         a PTE to the top of the physical space; one with a reserved address bit
 *   do=pde-beyond-ram   a page table that lies past RAM
 *   do=pt-alias         a page table written through a writable alias: remap, then past RAM
 *   do=msr              wrmsr/rdmsr of a non-existent MSR, EFER with a reserved bit
 *   do=cr               CR4 with a reserved bit, CR0 with PG and no PE, CR3 with a reserved bit
 *   do=lgdt             lgdt and lidt with non-canonical bases
 *   do=all              all of the above
 * and, each stopping the machine when it is contained:
 *   do=cr3-beyond-ram   CR3 past the end of RAM
 *   do=idt-limit0       IDT limit 0, then a fault: triple fault
 *   do=idt-unmapped     IDT at an unmapped address, then a fault: triple fault
 *   do=loop             an endless loop with interrupts off
 */
#include "guests/lib/nbkernel.h"
#include "guests/lib/check.h"
#include "guests/lib/paging.h"
#include "guests/hostile/hostile.h"

#define HOSTILE_EXIT_USAGE 2
#define CPUID_ADDR_SIZES 0x80000008u

struct attempt {
	const char *name;
	void (*run)(const struct hostile_env *e);
	int in_all;
};

static const struct attempt attempts[] = {
	{ "pte-beyond-ram", hostile_pte_beyond_ram, 1 },
	{ "pte-high", hostile_pte_high, 1 },
	{ "pde-beyond-ram", hostile_pde_beyond_ram, 1 },
	{ "pt-alias", hostile_pt_alias, 1 },
	{ "msr", hostile_msr, 1 },
	{ "cr", hostile_control_registers, 1 },
	{ "lgdt", hostile_descriptor_tables, 1 },
	{ "cr3-beyond-ram", hostile_cr3_beyond_ram, 0 },
	{ "idt-limit0", hostile_idt_limit0, 0 },
	{ "idt-unmapped", hostile_idt_unmapped, 0 },
	{ "loop", hostile_loop, 0 },
};
#define N_ATTEMPTS (sizeof(attempts) / sizeof(attempts[0]))

/* Only ring-0 code here: every trap is an attempt's, caught by nb_try, or a failure. */
void ktrap(struct nb_trap_frame *f)
{
	if (!nb_try_catch(f))
		nb_trap_panic(f);
}

static unsigned maxphyaddr(void)
{
	uint32_t a, b, c, d;

	x86_cpuid(0x80000000u, &a, &b, &c, &d);
	if (a < CPUID_ADDR_SIZES)
		return 36; /* the architectural default without the leaf */
	x86_cpuid(CPUID_ADDR_SIZES, &a, &b, &c, &d);
	return a & 0xff;
}

static void usage(const char *opts)
{
	unsigned i;

	nb_printf("hostile: options \"%s\": want do=all", opts);
	for (i = 0; i < N_ATTEMPTS; i++)
		nb_printf("|%s", attempts[i].name);
	nb_printf("\n");
}

int kmain(struct nb_boot_info *bi)
{
	struct hostile_env env;
	const char *opts;
	unsigned i, ran = 0;
	int all, err = nb_guest_init(bi);

	if (err) {
		nb_printf("hostile: unusable boot info: %s\n", nb_boot_strerror(err));
		return NB_GUEST_EXIT_BAD_BOOT;
	}
	opts = bi->options;
	all = !nb_opt_find(opts, "do", NULL) || nb_opt_is(opts, "do", "all");
	nb_frames_init(bi->free_start, bi->free_end);
	nb_cpu_init();
	env.mem_size = bi->mem_size;
	env.root = nb_pt_kernel_space(bi->mem_size);
	env.maxphyaddr = maxphyaddr();
	x86_write_cr3(env.root);
	nb_printf("hostile: own GDT, IDT and page tables loaded; RAM is 0x%llx bytes\n",
		  (unsigned long long)bi->mem_size);

	for (i = 0; i < N_ATTEMPTS; i++) {
		if (all ? !attempts[i].in_all : !nb_opt_is(opts, "do", attempts[i].name))
			continue;
		attempts[i].run(&env);
		ran++;
	}
	if (!ran) {
		usage(opts);
		return HOSTILE_EXIT_USAGE;
	}
	return nb_check_summary("hostile");
}
