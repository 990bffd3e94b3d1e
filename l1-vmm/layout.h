/* nbvmm's address space; shared by its C and assembly code. */
#ifndef NBVMM_LAYOUT_H
#define NBVMM_LAYOUT_H

/* nbvmm's map of physical memory: physical p is at nbvmm_vma + p, for p < 2 GiB, where
 * nbvmm_vma is the base of PML4 slot nbvmm_slot = 512 - level (boot.S). That slot is present,
 * supervisor-only, in every shadow address space, so traps never switch CR3; its PDPT entry 2
 * maps the local APIC, and entry 256 stays empty (where a guest's SYSCALL is sent to fault). */
#define NBVMM_MAX_PHYS 0x80000000
#define NBVMM_LAPIC_OFFSET (2ull << 30)
#define NBVMM_SYSCALL_OFFSET (256ull << 30)

#define NBVMM_PTE_P 0x1
#define NBVMM_PTE_W 0x2
#define NBVMM_PTE_PS 0x80

/*
 * Selectors of nbvmm's GDT. The ring-3 segments a guest really runs on sit near the top of a
 * full-size GDT, six entries per level (level 1: entries 506-511, level 2: 500-505, ...);
 * everything a guest is likely to name (its own GDT's low indices, and the entries a nested
 * nbvmm uses for its own guest) is a DPL-0 descriptor or empty in this level's GDT. So when the
 * guest reloads CS or SS (IRET, far RET, MOV SS, far JMP) with its own selectors, the load
 * faults and nbvmm sees the change of virtual privilege level. A guest whose own GDT reaches
 * this level's entries could defeat this: nbvmm says so when it loads such a GDT (emulate.c).
 * (A ring-3 LDT would be cleaner: PVM's emulated IRETQ refuses LDT code segments, measured.)
 */
#define NBVMM_CS 0x08
#define NBVMM_DS 0x10
#define NBVMM_TSS 0x18
#define NBVMM_GDT_ENTRIES 512
/* This level's first ring-3 entry: 512 - 6 * level (slot = 512 - level, see boot.S). */
#define NBVMM_USER_ENTRIES 6
#define NBVMM_USER_FIRST (512 - NBVMM_USER_ENTRIES * (512 - nbvmm_slot))
#define NBVMM_USER_CS32 ((NBVMM_USER_FIRST + 0) * 8 + 3) /* compatibility mode: 32-bit code */
#define NBVMM_USER_DS ((NBVMM_USER_FIRST + 1) * 8 + 3)
#define NBVMM_USER_CS ((NBVMM_USER_FIRST + 2) * 8 + 3)
/* A 32-bit guest's own DS, ES and SS, mirrored at DPL 3 so their bases and limits apply. */
#define NBVMM_USER_GDS ((NBVMM_USER_FIRST + 3) * 8 + 3)
#define NBVMM_USER_GES ((NBVMM_USER_FIRST + 4) * 8 + 3)
#define NBVMM_USER_GSS ((NBVMM_USER_FIRST + 5) * 8 + 3)

#ifndef __ASSEMBLER__
#include <stdint.h>
/* boot.S: the page directory pointer table of nbvmm's map, shared by every shadow root, and
 * nbvmm's own PML4 (that map, plus the loader's identity map of low memory); where nbvmm runs. */
extern uint64_t nbvmm_pdpt[512];
extern uint64_t nbvmm_pml4[512];
extern uint64_t nbvmm_vma;
extern uint32_t nbvmm_slot;
#endif

#endif
