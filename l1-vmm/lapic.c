/*
 * The local APIC (AMD APM vol. 2, 16.3-16.4), used by nbvmm only for its periodic timer: an
 * endless loop in a guest's ring-3 code never traps, and without an interrupt nbvmm would never
 * run again. The APIC page (physical 0xFEE00000) is mapped with a 2 MiB page through a spare
 * entry of nbvmm's PDPT, so it is present, supervisor-only, in every shadow address space too.
 */
#include "guests/lib/nbkernel.h"
#include "l1-vmm/lapic.h"
#include "l1-vmm/layout.h"
#include "l1-vmm/page_alloc.h"

#define LAPIC_PHYS 0xfee00000ull
#define LAPIC_PDPT_SLOT (NBVMM_LAPIC_OFFSET >> 30)
#define LAPIC_VA (nbvmm_vma + NBVMM_LAPIC_OFFSET + (LAPIC_PHYS & 0x1fffff))

#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_DCR 0x3e0
#define LAPIC_SVR_ENABLE 0x100
#define LAPIC_DCR_DIV16 0x3

/* KVM's in-kernel APIC timer counts at 1 GHz before the divider: 62.5 counts per us at 16. */
#define LAPIC_COUNTS_PER_MS_DIV16 62500ull

static uint32_t tsc_per_ms;
static uint64_t armed;

static volatile uint32_t *reg(unsigned off)
{
	return (volatile uint32_t *)(uintptr_t)(LAPIC_VA + off);
}

void lapic_init(uint32_t tsc_khz)
{
	uint64_t pd = page_alloc();
	uint64_t *pde;

	if (!pd)
		return;
	pde = phys_to_virt(pd);
	/* LAPIC_VA is the first 2 MiB of the slot. PCD | PWT: device registers are never cached. */
	pde[0] = LAPIC_PHYS | NBVMM_PTE_P | NBVMM_PTE_W | NBVMM_PTE_PS | 0x18;
	nbvmm_pdpt[LAPIC_PDPT_SLOT] = pd | NBVMM_PTE_P | NBVMM_PTE_W;

	tsc_per_ms = tsc_khz ? tsc_khz : 1000000; /* without a rate, assume 1 GHz */
	*reg(LAPIC_SVR) = LAPIC_SVR_ENABLE | NBVMM_SPURIOUS_VECTOR;
	*reg(LAPIC_TIMER_DCR) = LAPIC_DCR_DIV16;
	*reg(LAPIC_LVT_TIMER) = NBVMM_TIMER_VECTOR; /* one-shot */
}

void lapic_timer_arm(uint64_t tsc_deadline)
{
	uint64_t now = nb_rdtsc(), counts;

	/* A timer that fires sooner, or has fired and whose interrupt is still to be taken
	 * (lapic_timer_fired clears armed), stays: firing early costs one exit, re-arming costs a
	 * trap into the level above on every entry (measured: one per exit under VMRUN). */
	if (armed && (armed <= now || armed <= tsc_deadline))
		return;
	armed = tsc_deadline;
	counts = tsc_deadline > now ? (tsc_deadline - now) * LAPIC_COUNTS_PER_MS_DIV16 / tsc_per_ms : 1;
	*reg(LAPIC_TIMER_ICR) = counts ? (counts > 0xffffffffull ? 0xffffffffu : (uint32_t)counts) : 1;
}

void lapic_timer_fired(void)
{
	armed = 0;
}

void lapic_eoi(void)
{
	*reg(LAPIC_EOI) = 0;
}
