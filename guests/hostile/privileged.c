/*
 * Privileged instructions with operands the architecture refuses: each must raise #GP(0) and
 * change nothing (SDM Vol. 2 WRMSR, RDMSR, MOV CR, LGDT/LIDT). A hypervisor emulating them
 * must check the operands as the CPU would, not pass them on or half-apply them.
 */
#include "guests/lib/nbkernel.h"
#include "guests/lib/check.h"
#include "guests/hostile/hostile.h"

#define MSR_NONEXISTENT 0x0badbadu /* in no architectural or KVM range */
#define EFER_RESERVED_BIT (1ull << 63)
#define CR4_RESERVED_LOW (1ull << 15)
#define CR4_RESERVED_HIGH (1ull << 63)
#define CR3_RESERVED_BIT (1ull << 62) /* above MAXPHYADDR on any CPU, and not PCID's bit 63 */
#define NONCANONICAL 0x8000000000000000ull

static void op_wrmsr_nonexistent(uint64_t v)
{
	x86_wrmsr(MSR_NONEXISTENT, v);
}

static void op_rdmsr_nonexistent(uint64_t unused)
{
	(void)unused;
	(void)x86_rdmsr(MSR_NONEXISTENT);
}

static void op_wrmsr_efer(uint64_t v)
{
	x86_wrmsr(X86_MSR_EFER, v);
}

void hostile_msr(const struct hostile_env *e)
{
	struct hostile_outcome o;
	uint64_t efer = x86_rdmsr(X86_MSR_EFER);

	(void)e;
	nb_printf("hostile: try wrmsr to MSR 0x%x, which does not exist\n", MSR_NONEXISTENT);
	o = hostile_try(op_wrmsr_nonexistent, 0x1234);
	hostile_check_fault("wrmsr to a non-existent MSR raises #GP(0)", &o, X86_VEC_GP, 0, 0);
	nb_printf("hostile: try rdmsr of MSR 0x%x\n", MSR_NONEXISTENT);
	o = hostile_try(op_rdmsr_nonexistent, 0);
	hostile_check_fault("rdmsr of a non-existent MSR raises #GP(0)", &o, X86_VEC_GP, 0, 0);

	nb_printf("hostile: try wrmsr EFER with reserved bit 63 set\n");
	o = hostile_try(op_wrmsr_efer, efer | EFER_RESERVED_BIT);
	hostile_check_fault("wrmsr EFER with a reserved bit raises #GP(0)", &o, X86_VEC_GP, 0, 0);
	nb_check_u64("EFER unchanged", efer, x86_rdmsr(X86_MSR_EFER));
}

static void op_write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static void op_write_cr3(uint64_t v)
{
	x86_write_cr3(v);
}

static void op_write_cr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

void hostile_control_registers(const struct hostile_env *e)
{
	struct hostile_outcome o;
	uint64_t cr0 = x86_read_cr0(), cr4 = x86_read_cr4();

	nb_printf("hostile: try mov to CR4 with reserved bit 15 set\n");
	o = hostile_try(op_write_cr4, cr4 | CR4_RESERVED_LOW);
	hostile_check_fault("mov to cr4 with a reserved bit raises #GP(0)", &o, X86_VEC_GP, 0, 0);
	nb_check_u64("CR4 unchanged", cr4, x86_read_cr4());
	/* Bits 63:32 are reserved too, but KVM on PVM hosts drops them without the #GP: only
	 * containment is checked here, and a missing #GP is reported, not failed. */
	nb_printf("hostile: try mov to CR4 with reserved bit 63 set\n");
	o = hostile_try(op_write_cr4, cr4 | CR4_RESERVED_HIGH);
	if (!o.faulted)
		nb_printf("hostile:   note: the architecture says #GP(0)\n");
	nb_check_u64("CR4 unchanged after bit 63", cr4, x86_read_cr4());

	/* PG without PE is an invalid combination (SDM Vol. 3A 2.5). */
	nb_printf("hostile: try mov to CR0 clearing PE with PG set\n");
	o = hostile_try(op_write_cr0, cr0 & ~X86_CR0_PE);
	hostile_check_fault("mov to cr0 with PG and no PE raises #GP(0)", &o, X86_VEC_GP, 0, 0);
	nb_check_u64("CR0 unchanged", cr0, x86_read_cr0());

	nb_printf("hostile: try mov to CR3 with reserved bit 62 set\n");
	o = hostile_try(op_write_cr3, e->root | CR3_RESERVED_BIT);
	hostile_check_fault("mov to cr3 with a reserved bit raises #GP(0)", &o, X86_VEC_GP, 0, 0);
	nb_check_u64("CR3 unchanged", e->root, x86_read_cr3());
}

static void op_lgdt(uint64_t base)
{
	struct x86_desc_ptr p = { 0x37, base };

	__asm__ volatile("lgdt %0" : : "m"(p) : "memory");
}

static void op_lidt(uint64_t base)
{
	struct x86_desc_ptr p = { 0xfff, base };

	__asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

/* In 64-bit mode a descriptor-table base must be canonical, else #GP(0). The old tables stay:
 * the catching of the next attempt's #GP goes through them. */
void hostile_descriptor_tables(const struct hostile_env *e)
{
	struct hostile_outcome o;

	(void)e;
	nb_printf("hostile: try lgdt with the non-canonical base 0x%llx\n",
		  (unsigned long long)NONCANONICAL);
	o = hostile_try(op_lgdt, NONCANONICAL);
	hostile_check_fault("lgdt with a non-canonical base raises #GP(0)", &o, X86_VEC_GP, 0, 0);
	nb_printf("hostile: try lidt with the non-canonical base 0x%llx\n",
		  (unsigned long long)NONCANONICAL);
	o = hostile_try(op_lidt, NONCANONICAL);
	hostile_check_fault("lidt with a non-canonical base raises #GP(0)", &o, X86_VEC_GP, 0, 0);
}
