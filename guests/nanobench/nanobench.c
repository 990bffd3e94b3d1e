/*
 * nanobench: a kernel that runs one operation n times and reports what it cost, so that the same
 * image can be timed at depth 1 (under L0) and depth 2 (under nbvmm) and the two compared
 * (bench/depth). Options: op=NAME n=COUNT [dry=0|1] [quiet].
 *
 *   compute     a ring-3 loop of integer work: no trap at any depth, so its time per iteration
 *               should not depend on the depth
 *   privileged  MOV from CR0 in the kernel: emulated by KVM at depth 1, a trap nbvmm emulates
 *               at depth 2
 *   pgfault     a store from ring 3 to a page not yet mapped: the kernel's #PF handler maps it
 *               (demand paging); at depth 2 also nbvmm's shadow fill
 *   fill        a store from ring 3 to a page the kernel mapped in advance: no fault at depth 1,
 *               one shadow fill by nbvmm at depth 2
 *   ptwrite     a kernel store to a live page-table entry, then INVLPG of its address
 *   ptemod      the same store without the INVLPG
 *   syscall     a null system call from ring 3 (UD2 to the kernel and IRETQ back)
 *   io          an OUT to the UART's scratch register
 *
 * Kernel-mode loops repeat their operation NANOBENCH_UNROLL times per iteration, so n is
 * rounded up to a multiple of it. The result is one console line,
 *   NANOBENCH op=NAME level=L n=N cycles=C per_op=P faults=F tsc_khz=K
 * (cycles: RDTSC ticks across the n operations; per_op with three decimals; faults: demand
 * faults the kernel served, warm-up included), after NB_EV_GUEST trace records that mark the
 * measured loop and carry its timestamps (nanobench.h).
 *
 * For bench/depth, which counts what a whole run costs and subtracts a baseline run: "dry=1"
 * sets everything up for n operations, warm-up included, but times none (the END marker says
 * n=0), and "quiet" leaves the result line out. A run with "dry=0 quiet" and its "dry=1 quiet"
 * twin then differ only by the timed operations (at depth 1 even the option parsing, which is
 * emulated, costs the same).
 * Exit status 0, 2 for bad options, 3 for an unexpected trap.
 */
#include "guests/lib/nbkernel.h"
#include "guests/lib/paging.h"
#include "guests/lib/trap.h"
#include "guests/nanobench/nanobench.h"

#define USER_FLAGS (X86_PTE_U | X86_PTE_W)
#define PTWRITE_VA (NANOBENCH_USER_BASE + 0x1000) /* a supervisor page, remapped by ptwrite */
#define UART_SCRATCH 7                           /* register offset from the UART's base */
#define EXIT_USAGE 2

enum op_kind { OP_USER, OP_REGION_DEMAND, OP_REGION_MAPPED, OP_KERNEL };

/*
 * interrupts: user mode runs with IF set, as user code does under any kernel. Nothing in the
 * guest raises an interrupt, but a hypervisor underneath may take the CPU back with its own
 * timer when the guest's IF is set (nbvmm's real IF follows the guest's): part of what compute
 * measures. The trap operations run with IF clear, so that their traps are theirs alone.
 */
struct op {
	const char *name;
	enum op_kind kind;
	nanobench_user_program *program; /* OP_USER and OP_REGION_*: what runs in ring 3 */
	int interrupts;
	uint64_t default_n;
};

static const struct op ops[] = {
	{ "compute", OP_USER, nanobench_user_compute, 1, 200000000 },
	{ "privileged", OP_KERNEL, NULL, 0, 2000 },
	{ "pgfault", OP_REGION_DEMAND, nanobench_user_touch, 0, 1000 },
	{ "fill", OP_REGION_MAPPED, nanobench_user_touch, 0, 1000 },
	{ "ptwrite", OP_KERNEL, NULL, 0, 1000 },
	{ "ptemod", OP_KERNEL, NULL, 0, 1000 },
	{ "syscall", OP_USER, nanobench_user_syscall, 0, 1000 },
	{ "io", OP_KERNEL, NULL, 0, 2000 },
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

void nanobench_mark(unsigned which, uint64_t n, uint64_t t0, uint64_t t1)
{
	struct nb_trace_record rec = { 0 };

	rec.kind = NB_EV_GUEST;
	rec.aux = NANOBENCH_MARK | which;
	rec.addr = n;
	rec.old_val = t0;
	rec.new_val = t1;
	nb_trace_emit(&rec);
}

static const struct op *op_find(const char *options)
{
	unsigned i;

	for (i = 0; i < NOPS; i++)
		if (nb_opt_is(options, "op", ops[i].name))
			return &ops[i];
	return NULL;
}

static void usage(void)
{
	unsigned i;

	nb_printf("nanobench: usage: op=NAME n=COUNT [dry=0|1] [quiet], NAME one of");
	for (i = 0; i < NOPS; i++)
		nb_printf(" %s", ops[i].name);
	nb_printf("\n");
}

/* Runs a user program on the kernel's own tables (user pages live in PML4 slot 1) until its
 * NANOBENCH_SYS_DONE; returns the cycles it measured. */
static uint64_t run_user(uint64_t root, const struct op *op, uint64_t n)
{
	struct nb_trap_frame f;
	uint64_t va;

	for (va = NANOBENCH_USER_STACK; va < NANOBENCH_USER_STACK_TOP; va += X86_PAGE_SIZE)
		nb_pt_map(root, va, nb_frame_alloc(), USER_FLAGS);
	/* RSP as just after a call, which is what the program's function is compiled for. */
	nb_trap_user_frame(&f, (uint64_t)(uintptr_t)op->program, NANOBENCH_USER_STACK_TOP - 8);
	if (op->interrupts)
		f.rflags |= X86_RFLAGS_IF;
	f.rdi = n;
	nanobench_user.n = n;
	nb_trap_run_user(&f);
	return nanobench_user.t1 - nanobench_user.t0;
}

/* The region is set up for `size` operations whether or not they all run (dry). */
static uint64_t run_region(uint64_t root, const struct op *op, uint64_t size, uint64_t n)
{
	uint64_t pages = NANOBENCH_WARM + size, i;

	if (nanobench_region_init(root, pages) < 0) {
		nb_printf("nanobench: n=%llu: at most %llu pages for %s\n", (unsigned long long)size,
			  (unsigned long long)(NANOBENCH_REGION_MAX_PAGES - NANOBENCH_WARM), op->name);
		nb_hc_exit(EXIT_USAGE);
	}
	if (op->kind == OP_REGION_MAPPED)
		for (i = 0; i < pages; i++)
			nanobench_region_map(NANOBENCH_REGION + i * X86_PAGE_SIZE);
	return run_user(root, op, n);
}

static uint64_t run_ptwrite(uint64_t root, uint64_t n, int invlpg)
{
	uint64_t a = nb_frame_alloc(), b = nb_frame_alloc();
	uint64_t *pte;

	nb_pt_map(root, PTWRITE_VA, a, X86_PTE_W);
	pte = nb_pt_entry(root, PTWRITE_VA, 1, 0);
	/* A read through the entry: a shadow-paging hypervisor now knows the table as one, and
	 * write-protects it, as it does every page table in use. */
	(void)*(volatile uint64_t *)(uintptr_t)PTWRITE_VA;
	return nanobench_ptwrite(n, pte, PTWRITE_VA, a | X86_PTE_P | X86_PTE_W, b | X86_PTE_P | X86_PTE_W,
				 invlpg);
}

static uint64_t run_kernel(uint64_t root, const struct op *op, uint64_t n, uint16_t console_port)
{
	if (!nb_strcmp(op->name, "privileged"))
		return nanobench_privileged(n);
	if (!nb_strcmp(op->name, "io"))
		return nanobench_io(n, (uint16_t)(console_port + UART_SCRATCH));
	return run_ptwrite(root, n, !nb_strcmp(op->name, "ptwrite"));
}

int kmain(struct nb_boot_info *bi)
{
	const struct op *op;
	uint64_t root, size, n, cycles, per_op_milli;
	size_t len;
	int err = nb_guest_init(bi);

	if (err) {
		nb_printf("nanobench: unusable boot info: %s\n", nb_boot_strerror(err));
		return NB_GUEST_EXIT_BAD_BOOT;
	}
	op = op_find(bi->options);
	if (!op) {
		usage();
		return EXIT_USAGE;
	}
	size = nb_opt_u64(bi->options, "n", op->default_n);
	if (op->kind == OP_KERNEL)
		size = (size + NANOBENCH_UNROLL - 1) / NANOBENCH_UNROLL * NANOBENCH_UNROLL;
	n = nb_opt_u64(bi->options, "dry", 0) ? 0 : size;

	nb_frames_init(bi->free_start, bi->free_end);
	nb_cpu_init();
	root = nb_pt_kernel_space(bi->mem_size);
	x86_write_cr3(root);
	nanobench_mark(NANOBENCH_MARK_READY, 0, 0, 0);

	if (op->kind == OP_KERNEL)
		cycles = run_kernel(root, op, n, bi->console_port);
	else if (op->kind == OP_USER)
		cycles = run_user(root, op, n);
	else
		cycles = run_region(root, op, size, n);

	nb_trace_flush();
	if (nb_opt_find(bi->options, "quiet", &len))
		return 0;
	per_op_milli = n ? cycles * 1000 / n : 0;
	nb_printf("NANOBENCH op=%s level=%u n=%llu cycles=%llu per_op=%llu.%03llu faults=%llu tsc_khz=%u\n",
		  op->name, bi->level, (unsigned long long)n, (unsigned long long)cycles,
		  (unsigned long long)(per_op_milli / 1000), (unsigned long long)(per_op_milli % 1000),
		  (unsigned long long)nanobench_user.faults, bi->tsc_khz);
	return 0;
}
