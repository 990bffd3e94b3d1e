/*
 * The kernel's own GDT, TSS and IDT (trap.h). The loader's GDT lives in the reserved low area
 * and has no user segments or TSS, so a kernel with user processes brings its own.
 */
#include "guests/lib/trap.h"

#define GDT_ENTRIES 7 /* null, kernel code/data, user data/code, TSS (two slots) */
#define IDT_VECTORS 256
#define IDT_EXCEPTIONS 32
#define GATE_INTERRUPT 0x8e /* P, type 0xE: IF is cleared on entry, so handlers are not nested */
#define TSS_TYPE_AVAILABLE 0x89ull /* P, type 9: available 64-bit TSS */

extern char nb_trap_stubs[]; /* traps.S: 16 bytes per vector */

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static struct x86_idt_gate64 idt[IDT_VECTORS] __attribute__((aligned(16)));
static struct x86_tss64 tss __attribute__((aligned(16)));

static void gdt_fill(void)
{
	uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof(tss) - 1;

	gdt[0] = 0;
	/* Flat segments: in 64-bit mode only L, D, DPL, P and the type count. */
	gdt[NB_SEL_KCODE >> 3] = 0x00af9a000000ffffull; /* L, DPL 0, execute/read */
	gdt[NB_SEL_KDATA >> 3] = 0x00cf92000000ffffull; /* DPL 0, read/write */
	gdt[NB_SEL_UDATA >> 3] = 0x00cff2000000ffffull; /* DPL 3, read/write */
	gdt[NB_SEL_UCODE >> 3] = 0x00affa000000ffffull; /* L, DPL 3, execute/read */
	/* A system descriptor is 16 bytes in long mode: base bits 63:32 take the next slot. */
	gdt[NB_SEL_TSS >> 3] = (limit & 0xffff) | (base & 0xffffff) << 16 | TSS_TYPE_AVAILABLE << 40 |
			       ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	gdt[(NB_SEL_TSS >> 3) + 1] = base >> 32;
}

/* LGDT does not reload the segment registers: CS needs a far return, SS a move. DS and ES are
 * ignored in 64-bit mode; null keeps IRETQ to CPL 3 from having to clear them. */
static void gdt_load(void)
{
	struct x86_desc_ptr p = { sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt };

	__asm__ volatile("lgdt %0\n\t"
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\tmovl %2, %%eax\n\t"
			 "movl %%eax, %%ss\n\t"
			 "xorl %%eax, %%eax\n\t"
			 "movl %%eax, %%ds\n\t"
			 "movl %%eax, %%es\n\t"
			 "movl %%eax, %%fs\n\t"
			 "movl %%eax, %%gs"
			 :
			 : "m"(p), "i"(NB_SEL_KCODE), "i"(NB_SEL_KDATA)
			 : "rax", "memory");
}

void nb_idt_set_gate(unsigned vec, unsigned dpl)
{
	uint64_t h = (uint64_t)(uintptr_t)(nb_trap_stubs + 16 * vec);
	struct x86_idt_gate64 *g = &idt[vec & (IDT_VECTORS - 1)];

	g->offset_lo = (uint16_t)h;
	g->selector = NB_SEL_KCODE;
	g->ist = 0;
	g->type_attr = (uint8_t)(GATE_INTERRUPT | (dpl & 3) << 5);
	g->offset_mid = (uint16_t)(h >> 16);
	g->offset_hi = (uint32_t)(h >> 32);
	g->reserved = 0;
}

void nb_cpu_init(void)
{
	struct x86_desc_ptr idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
	unsigned v;

	/* Traps from CPL 3 switch to RSP0. An I/O map base beyond the limit means no I/O bitmap:
	 * IN/OUT at CPL 3 (IOPL 0) raise #GP. */
	tss.rsp[0] = (uint64_t)(uintptr_t)nb_trap_stack_top;
	tss.iomap_base = sizeof(tss);
	gdt_fill();
	gdt_load();
	/* LTR marks the descriptor busy; it is loaded once. */
	__asm__ volatile("ltr %w0" : : "r"(NB_SEL_TSS));
	/* Exceptions only: vectors 32-255 stay not present (a stray interrupt becomes #NP). */
	for (v = 0; v < IDT_EXCEPTIONS; v++)
		nb_idt_set_gate(v, 0);
	__asm__ volatile("lidt %0" : : "m"(idtr));
}
