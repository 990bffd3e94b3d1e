/* nbvmm's own CPU set-up: descriptor tables, the TSS that routes guest traps into the frame. */
#ifndef NBVMM_CPU_H
#define NBVMM_CPU_H

#include <stdint.h>

#include "l1-vmm/frame.h"

/* Loads nbvmm's GDT, TSS and IDT; traps from ring 3 will land in *guest_frame. */
void cpu_init(struct nbvmm_frame *guest_frame);

struct vmcb_seg;
/* Writes the guest data segment seg into nbvmm's GDT at selector sel as a ring-3 data segment
 * with the guest's base, limit and attributes (compatibility mode applies them natively). */
void cpu_set_guest_data_segment(uint16_t sel, const struct vmcb_seg *seg);

static inline void cpu_wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* entry.S: WRMSR that returns -1 instead of faulting when the host refuses it. */
int nbvmm_wrmsr_safe(uint32_t msr, uint64_t value);

static inline uint64_t cpu_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

/* What the CPU's CR3 holds (nbvmm writes it only through cpu_write_cr3): one CPU runs every
 * vCPU, so "is this root loaded" is the CPU's question, not a vCPU's. */
extern uint64_t cpu_cr3;

static inline void cpu_write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory");
	cpu_cr3 = v;
}

/* Before spt may free shadow roots (a mode change, a CR3 switch that evicts a cached root, a
 * flush), nbvmm leaves them for its own tables: the CPU must never run on a freed, reused page.
 * The next entry loads the right root again. */
void cpu_use_own_tables(void);

static inline uint64_t cpu_read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline void cpu_invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
}

/* Physical-address width of this CPU (CPUID 8000_0008h EAX[7:0]): the guest sees the same. */
static inline uint8_t cpu_maxphyaddr(void)
{
	uint32_t a = 0x80000008, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return (uint8_t)a;
}

#endif
