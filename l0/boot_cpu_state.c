/*
 * The CPU state a kernel is entered with: the loader's GDT (both protocols) and, for the nestbed
 * protocol, the identity page tables and control registers of 64-bit long mode. References are
 * to the AMD64 Architecture Programmer's Manual, volume 2.
 */
#include "l0/boot_internal.h"

/* Control-register and EFER bits (APM vol. 2, 3.1). */
#define CR0_PE (1ull << 0)  /* protection enabled */
#define CR0_MP (1ull << 1)  /* WAIT/FWAIT honour TS */
#define CR0_ET (1ull << 4)  /* x87 present; hard-wired to 1 on modern CPUs */
#define CR0_NE (1ull << 5)  /* x87 errors as #MF exceptions, not the legacy IRQ 13 */
#define CR0_WP (1ull << 16) /* ring 0 honours read-only pages: needed for copy-on-write and W^X */
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5) /* long mode requires PAE-format tables (14.6.1) */
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10) /* normally set by the CPU when PG is set with LME; KVM takes it as given */
#define EFER_NXE (1ull << 11) /* so the kernel may use the NX bit in its own tables */

/* Page-table entry bits (5.4). */
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7) /* in a PDE: maps a 2 MiB page */

#define PAGE_2M (2 * NB_MIB)
#define ENTRIES_PER_TABLE 512

/*
 * Descriptors (4.8): base 0, limit 0xfffff with G = 1 (4 GiB), present, DPL 0. The accessed bit
 * is preset so the CPU never writes to the GDT when loading a selector, and a kernel may keep the
 * table read-only.
 *   0x08: 64-bit code (L = 1, D = 0), the nestbed protocol's CS
 *   0x10: data, D/B = 1, so that the same selector serves 64-bit and 32-bit code
 *   0x18: 32-bit code (L = 0, D = 1), the Multiboot CS
 */
static const uint64_t boot_gdt[] = {
	0,
	0x00af9b000000ffffull,
	0x00cf93000000ffffull,
	0x00cf9b000000ffffull,
};

_Static_assert(NB_BOOT_CS == 1 * 8 && NB_BOOT_DS == 2 * 8 && NB_BOOT_CS32 == 3 * 8,
	       "selectors index boot_gdt");
_Static_assert(NB_BOOT_GDT_ADDR + sizeof(boot_gdt) <= NB_BOOT_PML4_ADDR, "the GDT fits its page");
_Static_assert(NB_BOOT_PD_ADDR + NB_BOOT_PD_COUNT * NB_PAGE_SIZE <= NB_BOOT_INFO_ADDR,
	       "the page directories fit below the boot info");
_Static_assert(NB_BOOT_PD_COUNT * ENTRIES_PER_TABLE * PAGE_2M == 4 * NB_GIB,
	       "the page directories map the 4 GiB below which nb_boot_prepare requires RAM to end");

void nb_boot_write_gdt(struct nb_guest_mem *mem, struct nb_boot_plan *plan)
{
	nb_guest_write(mem, NB_BOOT_GDT_ADDR, boot_gdt, sizeof(boot_gdt));
	plan->gdt_base = NB_BOOT_GDT_ADDR;
	plan->gdt_limit = sizeof(boot_gdt) - 1;
}

static void put_entry(struct nb_guest_mem *mem, uint64_t table, unsigned index, uint64_t value)
{
	nb_guest_write(mem, table + index * sizeof(value), &value, sizeof(value));
}

/*
 * Identity map of [0, 4 GiB) with 2 MiB pages: PML4[0] -> PDPT, PDPT[i] -> page directory i,
 * which maps [i GiB, i+1 GiB). 4 GiB rather than just RAM so that the local APIC at 0xFEE00000
 * is reachable too. RAM ends below 4 GiB (checked by nb_boot_prepare).
 */
void nb_boot_setup_long_mode(struct nb_guest_mem *mem, struct nb_boot_plan *plan)
{
	unsigned i;

	put_entry(mem, NB_BOOT_PML4_ADDR, 0, NB_BOOT_PDPT_ADDR | PTE_P | PTE_RW);
	for (i = 0; i < NB_BOOT_PD_COUNT; i++)
		put_entry(mem, NB_BOOT_PDPT_ADDR, i, (NB_BOOT_PD_ADDR + i * NB_PAGE_SIZE) | PTE_P | PTE_RW);
	/* The directories are consecutive, so entry i of the whole run maps the i-th 2 MiB. */
	for (i = 0; i < NB_BOOT_PD_COUNT * ENTRIES_PER_TABLE; i++)
		put_entry(mem, NB_BOOT_PD_ADDR, i, (uint64_t)i * PAGE_2M | PTE_P | PTE_RW | PTE_PS);

	plan->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	plan->cr3 = NB_BOOT_PML4_ADDR;
	plan->cr4 = CR4_PAE;
	plan->efer = EFER_LME | EFER_LMA | EFER_NXE;
	plan->cs = NB_BOOT_CS;
	plan->ds = NB_BOOT_DS;
}
