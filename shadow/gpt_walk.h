/*
 * The guest page walker: translates a guest-virtual address through the guest's own page tables
 * exactly as the processor would (AMD64 Architecture Programmer's Manual, Volume 2, chapter 5
 * "Page Translation and Protection"), reading the tables through ops->read_gpa.
 *
 * It is the reference for everything nbvmm derives from guest paging: shadow page tables are
 * built from its results, #PF error codes reflected into the guest come from it, and the
 * emulator uses it to reach instruction bytes and memory operands.
 */
#ifndef NESTBED_SHADOW_GPT_WALK_H
#define NESTBED_SHADOW_GPT_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "shadow/shadow_ops.h"

/* Page-table entry bits, common to every paging mode (APM Vol 2 §5.4.1 "Field Definitions"). */
#define PTE_P (1ull << 0)   /* present */
#define PTE_W (1ull << 1)   /* R/W: writes allowed */
#define PTE_U (1ull << 2)   /* U/S: user (CPL 3) accesses allowed */
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A (1ull << 5)   /* accessed: set by the walk that uses the entry */
#define PTE_D (1ull << 6)   /* dirty: set in the leaf by the first write through it */
#define PTE_PS (1ull << 7)  /* page size: this entry maps a large page (PDE, PDPE) */
#define PTE_G (1ull << 8)   /* global: translation survives CR3 loads when CR4.PGE=1 */
#define PTE_NX (1ull << 63) /* no-execute, when EFER.NXE=1; reserved otherwise */

/*
 * #PF error code bits (APM Vol 2 §8.4.2 "Page-Fault Error Code"). The access type a walk checks
 * is given with the same bits: PF_EC_W for a write, PF_EC_U for an access made at CPL 3, PF_EC_ID
 * for an instruction fetch.
 */
#define PF_EC_P (1u << 0)    /* 0: the page was not present; 1: a protection or reserved-bit fault */
#define PF_EC_W (1u << 1)    /* the access was a write */
#define PF_EC_U (1u << 2)    /* the access was made in user mode (CPL 3) */
#define PF_EC_RSVD (1u << 3) /* a reserved bit was set in a paging-structure entry */
#define PF_EC_ID (1u << 4)   /* the access was an instruction fetch (reported when NX is enabled) */

enum gpt_paging {
	GPT_PAGING_NONE, /* CR0.PG=0: linear = physical (32 bits) */
	GPT_PAGING_32,   /* legacy 2-level paging, 4-byte entries, 4 MiB pages with CR4.PSE */
	GPT_PAGING_PAE,  /* legacy PAE: 3 levels (4-entry PDPT), 8-byte entries, 2 MiB pages */
	GPT_PAGING_LONG, /* long mode 4-level paging: 2 MiB and 1 GiB pages */
};

/* The guest state that decides how a walk goes. */
struct gpt_mode {
	enum gpt_paging paging;
	uint64_t cr3;
	bool cr0_wp;      /* CR0.WP: supervisor writes honour R/W */
	bool cr4_pse;     /* CR4.PSE: 4 MiB pages in 32-bit paging */
	bool efer_nxe;    /* EFER.NXE: the NX bit exists (PAE and long mode) */
	uint8_t maxphyaddr; /* guest physical-address width (CPUID 8000_0008h EAX[7:0]), 32..52 */
};

/* Register bits that select the paging mode (APM Vol 2 §3.1 "System-Control Registers"). */
#define X86_CR0_PG (1ull << 31)
#define X86_CR0_WP (1ull << 16)
#define X86_CR4_PSE (1ull << 4)
#define X86_CR4_PAE (1ull << 5)
#define X86_EFER_LMA (1ull << 10)
#define X86_EFER_NXE (1ull << 11)

/* The walker's view of a guest from its control registers (APM Vol 2 §5.1 "Page Translation
 * Overview": CR0.PG, CR4.PAE and EFER.LMA select the mode). */
void gpt_mode_from_regs(struct gpt_mode *m, uint64_t cr0, uint64_t cr3, uint64_t cr4,
			uint64_t efer, uint8_t maxphyaddr);

/* Levels are numbered as the manual's tables are: 1 = PTE, 2 = PDE, 3 = PDPE, 4 = PML4E. */
#define GPT_MAX_LEVELS 4

struct gpt_walk {
	uint64_t gpa;        /* the translation (valid when the walk succeeds) */
	/* Entry used at each level (index = level): its guest-physical address and value (after
	 * the walk's own accessed/dirty update). Levels not read are 0. The gpas are what must be
	 * write-protected for a translation derived from this walk to stay true. */
	uint64_t entry_gpa[GPT_MAX_LEVELS + 1];
	uint64_t entry[GPT_MAX_LEVELS + 1];
	/* Bits the walk itself set in that entry (GPT_SET_AD): its value before was
	 * entry & ~ad_set. Callers that derive state from guest tables must treat these updates
	 * as writes to the tables like any other. */
	uint64_t ad_set[GPT_MAX_LEVELS + 1];
	uint8_t top_level;   /* first level read: 4, 3 or 2; 0 without paging */
	uint8_t leaf_level;  /* level of the entry that mapped the page, or where the walk stopped */
	uint8_t page_shift;  /* log2 of the page size: 12, 21, 22 or 30 */
	/* Effective rights, combined over every level (APM Vol 2 §5.7 "Protection Across Paging
	 * Hierarchy"): writable and user only if every level says so, nx if any level says so. */
	bool writable, user, nx;
	uint32_t error_code; /* #PF error code when the walk faults */
};

/* Return values of gpt_walk besides 0 (translated). */
enum gpt_result {
	GPT_PAGE_FAULT = 1, /* the guest takes #PF: w->error_code, CR2 = the address */
};

/* Flags of gpt_walk. */
#define GPT_SET_AD 1u /* update accessed and dirty bits through ops->write_gpa, as the MMU would */

/*
 * Walks the guest's tables for gva and checks an access of type `access` (PF_EC_W, PF_EC_U,
 * PF_EC_ID bits). Returns 0 with w filled, GPT_PAGE_FAULT with w->error_code, -SHADOW_EFAULT when
 * a table entry lies outside guest memory (w->entry_gpa[w->leaf_level] says where), or
 * -SHADOW_EINVAL for a non-canonical address in long mode (which is #GP, not #PF).
 */
int gpt_walk(const struct shadow_ops *ops, void *opaque, const struct gpt_mode *m, uint64_t gva,
	     unsigned access, unsigned flags, struct gpt_walk *w);

/*
 * Shape of the guest's tables at one level in one mode, shared with the shadow code that mirrors
 * them: each entry maps 1 << shift bytes, a table has `entries` entries of `entry_size` bytes.
 */
struct gpt_level_shape {
	uint8_t shift;
	uint8_t entry_size;
	uint16_t entries;
};

/* Top level of the mode (0 for GPT_PAGING_NONE) and the shape of each level 1..top. */
unsigned gpt_top_level(enum gpt_paging paging);
struct gpt_level_shape gpt_level_shape(enum gpt_paging paging, unsigned level);

#endif
