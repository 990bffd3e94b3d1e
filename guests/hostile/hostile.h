/* hostile: a guest kernel that tries to escape its hypervisor, one attempt per do= option. */
#ifndef NESTBED_GUESTS_HOSTILE_H
#define NESTBED_GUESTS_HOSTILE_H

#include <stdint.h>
#include "guests/lib/trap.h"

/* PML4 slot 2: the attempts' own mappings, away from the identity map. */
#define HOSTILE_VA 0x0000010000000000ull
#define HOSTILE_TARGET (HOSTILE_VA + 0x0000)     /* a normal page, remapped through the alias */
#define HOSTILE_PT_ALIAS (HOSTILE_VA + 0x1000)   /* the page table of this 2 MiB, writable */
#define HOSTILE_BEYOND (HOSTILE_VA + 0x2000)     /* first page past the end of RAM */
#define HOSTILE_RSVD (HOSTILE_VA + 0x3000)       /* an address bit at or above MAXPHYADDR */
#define HOSTILE_TOP (HOSTILE_VA + 0x4000)        /* the last page of the physical space */
#define HOSTILE_PT_BEYOND (HOSTILE_VA + 0x200000) /* its page table lies past RAM */

/* Written through mappings that must not reach RAM: reading it back means they did. */
#define HOSTILE_CANARY 0xca11ab1e5ca1ab1eull

struct hostile_env {
	uint64_t root;     /* the kernel's PML4 */
	uint64_t mem_size; /* RAM is guest-physical [0, mem_size) */
	unsigned maxphyaddr;
};

/* What one attempt raised, if anything. */
struct hostile_outcome {
	int faulted;
	uint64_t vector, error, cr2;
};

/* Runs op(arg) with exceptions caught; prints "hostile:   observed ..." and returns it. */
struct hostile_outcome hostile_try(void (*op)(uint64_t), uint64_t arg);
/* A check that the outcome is exactly this exception (cr2 compared for #PF only). */
void hostile_check_fault(const char *name, const struct hostile_outcome *o, uint64_t vector,
			 uint64_t error, uint64_t cr2);
/* A write of HOSTILE_CANARY then a read at va, each caught: PASS when the canary did not
 * come back, i.e. the write reached nothing that behaves like memory. */
void hostile_check_not_memory(const char *name, uint64_t va);

/* paging_attacks.c */
void hostile_pte_beyond_ram(const struct hostile_env *e);
void hostile_pte_high(const struct hostile_env *e);
void hostile_pde_beyond_ram(const struct hostile_env *e);
void hostile_pt_alias(const struct hostile_env *e);
void hostile_cr3_beyond_ram(const struct hostile_env *e);

/* privileged.c */
void hostile_msr(const struct hostile_env *e);
void hostile_control_registers(const struct hostile_env *e);
void hostile_descriptor_tables(const struct hostile_env *e);

/* fatal.c: these do not return when the machine is contained. */
void hostile_idt_limit0(const struct hostile_env *e);
void hostile_idt_unmapped(const struct hostile_env *e);
void hostile_loop(const struct hostile_env *e);

#endif
