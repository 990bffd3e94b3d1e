/*
 * Attempts that end the machine when it is contained: an IDT the CPU cannot use (so the next
 * exception becomes #DF, then a triple fault, i.e. shutdown), and an endless loop that only
 * the parent's timer can end. Not part of do=all.
 */
#include "guests/lib/nbkernel.h"
#include "guests/lib/check.h"
#include "guests/hostile/hostile.h"

#define UNMAPPED_VA 0x0000700000000000ull /* PML4 slot 224: nothing there */

static void load_idt_and_fault(uint64_t base, uint16_t limit)
{
	struct x86_desc_ptr p = { limit, base };

	__asm__ volatile("lidt %0\n\tud2" : : "m"(p) : "memory");
}

void hostile_idt_limit0(const struct hostile_env *e)
{
	(void)e;
	nb_printf("hostile: try an IDT with limit 0, then ud2 (the machine should stop: triple "
		  "fault)\n");
	load_idt_and_fault(0, 0);
	nb_check_fail("idt with limit 0", "the kernel kept running");
}

void hostile_idt_unmapped(const struct hostile_env *e)
{
	(void)e;
	nb_printf("hostile: try an IDT at unmapped 0x%llx, then ud2 (the machine should stop: "
		  "triple fault)\n", (unsigned long long)UNMAPPED_VA);
	load_idt_and_fault(UNMAPPED_VA, 0xfff);
	nb_check_fail("idt at an unmapped address", "the kernel kept running");
}

void hostile_loop(const struct hostile_env *e)
{
	(void)e;
	nb_printf("hostile: try spinning forever with interrupts off (only the parent's timer can "
		  "end this)\n");
	__asm__ volatile("cli\n1:\tjmp 1b");
}
