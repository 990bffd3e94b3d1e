/* GDT, TSS, IDT and trap recording of the 32-bit fidelity kernels (mb32.h). */
#include "guests/lib/nbguest.h"
#include "guests/lib/check.h"
#include "guests/mbhello/multiboot.h"
#include "guests/fidelity/mb32.h"

#define MB32_IDT_VECTORS 32
#define MB32_GATE_INTERRUPT 0x8e /* P, DPL 0, 32-bit interrupt gate (SDM Vol. 3A 6.11) */
#define MB32_EXIT_PANIC 3
#define VEC_PF 14
#define MSR_SYSENTER_CS 0x174

/* 32-bit TSS (SDM Vol. 3A 8.2.1): only SS0:ESP0 and the I/O map base matter here. */
struct tss32 {
	uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2;
	uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap_base;
};

struct idt_gate32 {
	uint16_t offset_lo, selector;
	uint8_t zero, type_attr;
	uint16_t offset_hi;
};

struct mb32_desc_ptr {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

struct mb32_trap mb32_last;
extern struct mb32_try *mb32_try_current;

static struct tss32 tss __attribute__((aligned(16)));
static struct idt_gate32 idt[MB32_IDT_VECTORS] __attribute__((aligned(16)));
/*
 * Descriptors: base 0 and limit 4 GiB (G = 1) unless said. 0x00cf9a... is a 32-bit (D = 1)
 * execute/read code segment, 0x00af9a... a 64-bit one (L = 1, D = 0), 0x00cf92... read/write
 * data; DPL is in bits 45-46 and P in bit 47.
 */
static uint64_t gdt[MB32_GDT_ENTRIES] __attribute__((aligned(16))) = {
	[MB32_SEL_CODE32 >> 3] = 0x00cf9a000000ffffull,
	[MB32_SEL_DATA >> 3] = 0x00cf92000000ffffull,
	[MB32_SEL_UCODE >> 3] = 0x00cffa000000ffffull,
	[MB32_SEL_UDATA >> 3] = 0x00cff2000000ffffull,
	[MB32_SEL_CODE64 >> 3] = 0x00af9a000000ffffull,
	[MB32_SEL_SMALL >> 3] = 0x0040920000000000ull | MB32_SMALL_LIMIT, /* G = 0: bytes */
	[MB32_SEL_ABSENT >> 3] = 0x00cf12000000ffffull,                  /* P = 0 */
};

static void tss_fill(void)
{
	uint64_t base = (uint32_t)&tss, limit = sizeof(tss) - 1;

	tss.esp0 = (uint32_t)mb32_trap_stack_top;
	tss.ss0 = MB32_SEL_DATA;
	tss.iomap_base = sizeof(tss); /* no I/O bitmap: IN/OUT at CPL 3 with IOPL 0 is #GP */
	/* Type 9: available 32-bit TSS, P. */
	gdt[MB32_SEL_TSS >> 3] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 |
				 ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
}

static void idt_set(unsigned vec, unsigned dpl)
{
	uint32_t h = (uint32_t)(mb32_stubs + 16 * vec);

	idt[vec].offset_lo = (uint16_t)h;
	idt[vec].selector = MB32_SEL_CODE32;
	idt[vec].zero = 0;
	idt[vec].type_attr = (uint8_t)(MB32_GATE_INTERRUPT | dpl << 5);
	idt[vec].offset_hi = (uint16_t)(h >> 16);
}

void mb32_cpu_init(void)
{
	struct mb32_desc_ptr gdtr = { sizeof(gdt) - 1, (uint32_t)gdt };
	struct mb32_desc_ptr idtr = { sizeof(idt) - 1, (uint32_t)idt };
	unsigned v;

	tss_fill();
	/* LGDT changes no segment register: CS needs a far jump, the others a load each. */
	__asm__ volatile("lgdt %0\n\t"
			 "ljmp %1, $1f\n"
			 "1:\tmovl %2, %%eax\n\t"
			 "movl %%eax, %%ds\n\t"
			 "movl %%eax, %%es\n\t"
			 "movl %%eax, %%ss\n\t"
			 "movl %%eax, %%fs\n\t"
			 "movl %%eax, %%gs"
			 :
			 : "m"(gdtr), "i"(MB32_SEL_CODE32), "i"(MB32_SEL_DATA)
			 : "eax", "memory");
	__asm__ volatile("ltr %w0" : : "r"(MB32_SEL_TSS));
	for (v = 0; v < MB32_IDT_VECTORS; v++)
		idt_set(v, v == 3 || v == 4 ? 3 : 0);
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

int mb32_init(const char *name, const char *what, uint32_t magic)
{
	nb_printf("%s: %s\n", name, what);
	if (!nb_check_u64("entered by a Multiboot loader", MB_BOOT_MAGIC, magic))
		return 0;
	mb32_cpu_init();
	return 1;
}

void mb32_try_end(void)
{
	mb32_try_current = 0;
}

__attribute__((noreturn)) static void mb32_panic(const struct mb32_frame *f)
{
	nb_printf("FAIL: unexpected vector %u (error 0x%x) at eip 0x%x cs 0x%x\n", f->vector,
		  f->error, f->eip, f->cs);
	nb_debug_exit(MB32_EXIT_PANIC);
}

void mb32_trap(struct mb32_frame *f)
{
	struct mb32_try *t = mb32_try_current;
	uint32_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	mb32_last.count++;
	mb32_last.vector = f->vector;
	mb32_last.error = f->error;
	mb32_last.eip = f->eip;
	mb32_last.cs = f->cs;
	mb32_last.eflags = f->eflags;
	mb32_last.esp = (f->cs & 3) ? f->esp : 0;
	mb32_last.ss = (f->cs & 3) ? f->ss : 0;
	mb32_last.cr2 = f->vector == VEC_PF ? cr2 : 0;
	mb32_last.frame_end = (uint32_t)&f->esp;
	mb32_last.eax = f->eax;
	mb32_last.ebx = f->ebx;
	if (!t)
		mb32_panic(f);
	mb32_try_current = 0;
	/* The gate cleared IF and TF, the stub DF: the C code after the landing can run. */
	mb32_try_resume(t);
}

void mb32_run_user(const void *entry, uint32_t user_esp)
{
	struct mb32_try t;

	if (mb32_try(&t) != 0)
		return;
	/*
	 * SYSEXIT to CPL 3: EIP = EDX, ESP = ECX, CS and SS flat from IA32_SYSENTER_CS + 16 and
	 * + 24 with RPL 3 (SDM Vol. 2B SYSEXIT). IRET would do too, but KVM's emulator, which
	 * runs this code at depth 1, cannot execute a protected-mode IRET. DS and ES are made the
	 * user's first: SYSEXIT leaves them alone.
	 */
	__asm__ volatile("wrmsr" : : "c"(MSR_SYSENTER_CS), "a"(MB32_SEL_CODE32), "d"(0));
	__asm__ volatile("movl %0, %%ds\n\t"
			 "movl %0, %%es\n\t"
			 "sysexit"
			 :
			 : "r"((uint32_t)MB32_SEL_UDATA), "c"(user_esp), "d"(entry)
			 : "memory");
	__builtin_unreachable();
}
