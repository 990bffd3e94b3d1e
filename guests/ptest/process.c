/*
 * ptest's processes: an address space each (own PML4; the kernel's entries shared, slot 1
 * private), a saved user frame, and round-robin switching on yield, exit and kill.
 */
#include "guests/lib/nbkernel.h"
#include "guests/lib/paging.h"
#include "guests/ptest/ptest.h"

#define USER_PML4_SLOT 1
#define USER_RW (X86_PTE_U | X86_PTE_W)

static struct proc *table;
static unsigned count, current;

void proc_create(struct proc *p, unsigned pid, void (*entry)(void), uint64_t kernel_root)
{
	uint64_t root = nb_frame_alloc(), i;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->entry = entry;
	p->state = PROC_RUNNABLE;
	p->cr3 = root;
	/* Kernel mappings are the kernel's own tables, shared: only the top level is copied.
	 * The table is not in use yet, so filling it costs no trap at any depth. */
	memcpy((void *)(uintptr_t)root, (void *)(uintptr_t)kernel_root, X86_PAGE_SIZE);
	((uint64_t *)(uintptr_t)root)[USER_PML4_SLOT] = 0;

	p->data_pa = nb_frame_alloc();
	*(uint64_t *)(uintptr_t)p->data_pa = PTEST_DATA_MARKER | pid;
	nb_pt_map(root, PTEST_USER_DATA, p->data_pa, USER_RW);

	p->remap_a_pa = nb_frame_alloc();
	p->remap_b_pa = nb_frame_alloc();
	*(uint64_t *)(uintptr_t)p->remap_a_pa = PTEST_REMAP_A_MARKER | pid;
	*(uint64_t *)(uintptr_t)p->remap_b_pa = PTEST_REMAP_B_MARKER | pid;
	nb_pt_map(root, PTEST_USER_REMAP, p->remap_a_pa, X86_PTE_U);

	for (i = 0; i < PTEST_USER_STACK_PAGES; i++)
		nb_pt_map(root, PTEST_USER_STACK + i * X86_PAGE_SIZE, nb_frame_alloc(), USER_RW);

	/* RSP as just after a call, which is what the entry functions are compiled for. */
	nb_trap_user_frame(&p->frame, (uint64_t)(uintptr_t)entry, PTEST_USER_STACK_TOP - 8);
}

struct proc *proc_current(void)
{
	return &table[current];
}

void proc_run_all(struct proc *procs, unsigned n, uint64_t kernel_root)
{
	table = procs;
	count = n;
	current = 0;
	x86_write_cr3(procs[0].cr3);
	nb_trap_run_user(&procs[0].frame);
	x86_write_cr3(kernel_root);
}

void proc_schedule(struct nb_trap_frame *f)
{
	struct proc *cur = &table[current];
	unsigned i;

	if (cur->state == PROC_RUNNABLE)
		cur->frame = *f;
	for (i = 1; i <= count; i++) {
		unsigned next = (current + i) % count;

		if (table[next].state != PROC_RUNNABLE)
			continue;
		if (next != current) {
			current = next;
			/* Same kernel half in every PML4: this code keeps running after the switch. */
			x86_write_cr3(table[next].cr3);
		}
		*f = table[next].frame;
		return;
	}
	nb_trap_leave_user(0);
}

void proc_kill(struct nb_trap_frame *f, uint64_t vector)
{
	struct proc *p = proc_current();
	char buf[16];

	p->state = PROC_KILLED;
	p->exit_status = 128 + vector;
	nb_printf("ptest: pid %u killed by %s (error 0x%llx)\n", p->pid,
		  nb_vector_name(vector, buf), (unsigned long long)f->error);
	proc_schedule(f);
}
