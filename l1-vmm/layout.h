/* nbvmm's address space; shared by its C and assembly code. */
#ifndef NBVMM_LAYOUT_H
#define NBVMM_LAYOUT_H

/* nbvmm's map of physical memory: physical p is at NBVMM_VMA + p, for p < 2 GiB. Its PML4 slot
 * (511) is present, supervisor-only, in every shadow address space, so traps never switch CR3. */
#define NBVMM_VMA 0xFFFFFFFF80000000
#define NBVMM_PML4_SLOT 511
#define NBVMM_MAX_PHYS 0x80000000

#define NBVMM_PTE_P 0x1
#define NBVMM_PTE_W 0x2
#define NBVMM_PTE_PS 0x80

/*
 * Selectors of nbvmm's GDT. The ring-3 segments a guest really runs on sit at the very top of a
 * full-size GDT; everything a guest is likely to name (its own GDT's low indices) is a DPL-0
 * descriptor or empty in nbvmm's. So when the guest reloads CS or SS (IRET, far RET, MOV SS) with
 * its own selectors, the load faults and nbvmm sees the change of virtual privilege level; a
 * guest whose own GDT reaches indices 509 to 511 could defeat this: nbvmm says so when it
 * loads such a GDT (emulate.c).
 * (A ring-3 LDT would be cleaner: PVM's emulated IRETQ refuses LDT code segments, measured.)
 */
#define NBVMM_CS 0x08
#define NBVMM_DS 0x10
#define NBVMM_TSS 0x18
#define NBVMM_GDT_ENTRIES 512
#define NBVMM_USER_CS32 (509 * 8 + 3) /* compatibility mode: a guest's 32-bit code */
#define NBVMM_USER_DS (510 * 8 + 3)
#define NBVMM_USER_CS (511 * 8 + 3)

#ifndef __ASSEMBLER__
#include <stdint.h>
/* boot.S: the page directory pointer table of nbvmm's map, shared by every shadow root, and
 * nbvmm's own PML4 (that map, plus the loader's identity map of low memory). */
extern uint64_t nbvmm_pdpt[512];
extern uint64_t nbvmm_pml4[512];
#endif

#endif
