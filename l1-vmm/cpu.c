/*
 * nbvmm's GDT, TSS and IDT (AMD APM vol. 2, chapter 4 and 8). The guest never sees these: it
 * runs on the user selectors in ring 3 and its own descriptor tables are virtual.
 */
#include <stdint.h>

#include "guests/lib/nbguest.h"
#include "guests/lib/nbkernel.h"
#include "guests/lib/x86_desc.h"
#include "l0/nestbed.h"
#include "l1-vmm/cpu.h"
#include "l1-vmm/exits.h"
#include "l1-vmm/lapic.h"
#include "l1-vmm/layout.h"
#include "l1-vmm/page_alloc.h"
#include "shadow/vmcb.h"

#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_SFMASK 0xc0000084
#define MSR_PLATFORM_INFO 0xce
#define MSR_MISC_FEATURES_ENABLES 0x140
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)

extern const char nbvmm_trap_stubs[], nbvmm_wrmsr_safe_insn[], nbvmm_wrmsr_safe_fault[];

uint64_t cpu_cr3;

static struct x86_tss64 tss __attribute__((aligned(16)));
static struct x86_idt_gate64 idt[256] __attribute__((aligned(16)));
/* null, kernel code, kernel data, TSS (two slots), ..., user data, user code (see layout.h) */
static uint64_t gdt[NBVMM_GDT_ENTRIES] __attribute__((aligned(16)));

/* A 16-byte system-segment descriptor (the TSS) for the GDT (APM vol. 2, 4.8.3). */
static void gdt_set_system(unsigned index, uint64_t base, uint64_t limit, uint8_t type)
{
	gdt[index] = (limit & 0xffff) | ((base & 0xffffff) << 16) | ((uint64_t)(0x80 | type) << 40) |
		     (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[index + 1] = base >> 32;
}

void cpu_init(struct nbvmm_frame *guest_frame)
{
	struct x86_desc_ptr gdtr = {sizeof(gdt) - 1, (uint64_t)gdt};
	struct x86_desc_ptr idtr = {sizeof(idt) - 1, (uint64_t)idt};
	int v;

	cpu_cr3 = virt_to_phys(nbvmm_pml4); /* what boot.S loaded */
	gdt[1] = 0x00af9a000000ffffull; /* ring-0 64-bit code */
	gdt[2] = 0x00cf92000000ffffull; /* ring-0 data */
	gdt_set_system(NBVMM_TSS / 8, (uint64_t)&tss, sizeof(tss) - 1, 0x9);
	gdt[NBVMM_USER_CS32 / 8] = 0x00cffa000000ffffull; /* ring-3 32-bit code (compatibility mode) */
	gdt[NBVMM_USER_DS / 8] = 0x00cff2000000ffffull; /* ring-3 data */
	gdt[NBVMM_USER_CS / 8] = 0x00affa000000ffffull; /* ring-3 64-bit code */

	/* Traps from ring 3 push their frame at RSP0: the end of the guest's frame. */
	tss.rsp[0] = (uint64_t)(guest_frame + 1);
	/* No I/O permission bitmap: every guest IN/OUT in ring 3 raises #GP, to be emulated. */
	tss.iomap_base = sizeof(tss);

	for (v = 0; v < 256; v++) {
		uint64_t a = (uint64_t)(nbvmm_trap_stubs + 16 * v);
		/* DPL 0 interrupt gates: a guest INT n in ring 3 must fault (#GP), never reach nbvmm
		 * as if it were an interrupt; IF is cleared on entry so nbvmm runs unpreempted. */
		idt[v] = (struct x86_idt_gate64){.offset_lo = a & 0xffff, .selector = NBVMM_CS, .ist = 0,
					   .type_attr = 0x8e, .offset_mid = (a >> 16) & 0xffff,
					   .offset_hi = a >> 32};
	}

	__asm__ volatile("lgdt %0" ::"m"(gdtr));
	__asm__ volatile("mov %0, %%ds; mov %0, %%es; mov %0, %%ss; mov %1, %%fs; mov %1, %%gs"
			 ::"r"(NBVMM_DS), "r"(0));
	/* Reload CS through a far return onto the new GDT's code selector. */
	__asm__ volatile("pushq %0; leaq 1f(%%rip), %%rax; pushq %%rax; lretq; 1:" ::"i"(NBVMM_CS) : "rax", "memory");
	__asm__ volatile("ltr %w0" ::"r"(NBVMM_TSS));
	__asm__ volatile("lidt %0" ::"m"(idtr));

	/* A guest SYSCALL must come back to nbvmm. Here it stays in ring 3 and jumps to LSTAR
	 * (PLATFORM.md): point LSTAR where no shadow maps anything, so it faults at a known RIP
	 * with RCX and R11 as SYSCALL left them. EFER.SCE stays clear, so where SYSCALL honours it
	 * the instruction raises #UD instead; both paths are emulated. SFMASK 0 keeps the real IF. */
	cpu_wrmsr(MSR_LSTAR, NBVMM_SYSCALL_TRAP);
	cpu_wrmsr(MSR_STAR, 0);
	cpu_wrmsr(MSR_SFMASK, 0);
	/* CPUID faulting (MSR_PLATFORM_INFO bit 31 offers it, MSR_MISC_FEATURES_ENABLES bit 0
	 * turns it on): CPUID at CPL 3 then raises #GP, so the guest's CPUID is emulated and
	 * shows the virtual CPU nbvmm implements rather than the host's. */
	if (cpu_rdmsr(MSR_PLATFORM_INFO) & (1ull << 31))
		cpu_wrmsr(MSR_MISC_FEATURES_ENABLES, 1);
	/* Guests own the FPU and SSE state; nbvmm never touches it (-mgeneral-regs-only). */
	uint64_t cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" ::"r"(cr4 | CR4_OSFXSR | CR4_OSXMMEXCPT));
}

void cpu_use_own_tables(void)
{
	if (cpu_cr3 != virt_to_phys(nbvmm_pml4))
		cpu_write_cr3(virt_to_phys(nbvmm_pml4));
}

void cpu_set_guest_data_segment(uint16_t sel, const struct vmcb_seg *seg)
{
	/* Always a present ring-3 data segment (type from the guest's, code bit clear), so the
	 * guest gains nothing it could not have had: only its base and limit are kept. */
	uint64_t attr = (seg->attrib & (VMCB_SEG_ATTR_DB | VMCB_SEG_ATTR_AVL)) | VMCB_SEG_ATTR_P | VMCB_SEG_ATTR_S |
			(3u << VMCB_SEG_ATTR_DPL_SHIFT) | ((seg->attrib & 0x7) | 0x2);
	uint64_t limit = seg->limit, base = (uint32_t)seg->base;

	if (limit > 0xfffff) {
		attr |= VMCB_SEG_ATTR_G;
		limit >>= 12;
	}
	gdt[sel / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | ((attr & 0xff) << 40) |
		       (((limit >> 16) & 0xf) << 48) | (((attr >> 8) & 0xf) << 52) | (((base >> 24) & 0xff) << 56);
}

/* A trap taken in ring 0: a bug in nbvmm. Say where, and stop the machine. */
void nbvmm_host_trap(struct nbvmm_frame *f);
void nbvmm_host_trap(struct nbvmm_frame *f)
{
	uint64_t cr2;

	/* nbvmm's timer, taken while it sleeps in its emulation of a guest's HLT. */
	if (f->vector == NBVMM_TIMER_VECTOR) {
		lapic_eoi();
		lapic_timer_fired();
		return;
	}
	if (f->vector == NBVMM_SPURIOUS_VECTOR)
		return;
	if (f->vector == 13 && f->rip == (uint64_t)nbvmm_wrmsr_safe_insn) {
		f->rip = (uint64_t)nbvmm_wrmsr_safe_fault;
		return;
	}

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	nb_printf("nbvmm: internal fault: vector %llu, error code 0x%llx, RIP 0x%llx, RSP 0x%llx, CR2 0x%llx\n",
		  (unsigned long long)f->vector, (unsigned long long)f->error_code, (unsigned long long)f->rip,
		  (unsigned long long)f->rsp, (unsigned long long)cr2);
	nb_hc_exit(NB_STATUS_CRASH);
	for (;;)
		__asm__ volatile("cli; hlt");
}
