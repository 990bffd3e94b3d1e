/*
 * mb-modes: a Multiboot kernel that walks through every mode a 32-bit kernel can put an x86-64
 * CPU in, checking in each that memory reads through its mappings see what they must:
 *   1. protected mode, paging off (as Multiboot enters it): linear = physical;
 *   2. 32-bit paging with CR4.PSE: 4 KiB and 4 MiB pages (SDM Vol. 3A 4.3);
 *   3. PAE paging: 4 KiB and 2 MiB pages through the four PDPTEs (Vol. 3A 4.4);
 *   4. IA-32e mode: CR4.PAE, EFER.LME, then CR0.PG makes EFER.LMA 1 in compatibility mode;
 *      a far jump to a 64-bit code segment, 64-bit code reading above 4 GiB, and a far return
 *      to compatibility mode (Vol. 3A 9.8.5, 4.5);
 *   5. back out of IA-32e mode: CR0.PG cleared in compatibility mode clears EFER.LMA
 *      (Vol. 3A 9.8.5.4), and protected mode without paging again.
 * The same bytes are run in compatibility and 64-bit mode to see that they decode by mode.
 */
#include "guests/lib/nbguest.h"
#include "guests/lib/check.h"
#include "guests/fidelity/fidcheck.h"
#include "guests/fidelity/mb32.h"
#include "guests/fidelity/mb_modes.h"

#define CR0_PE 0x1u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x10u
#define CR4_PAE 0x20u
#define MSR_EFER 0xc0000080u
#define EFER_LME 0x100u
#define EFER_LMA 0x400u
#define PTE_P 0x1u
#define PTE_W 0x2u
#define PTE_A 0x20u
#define PTE_D 0x40u
#define PTE_PS 0x80u
#define PAGE 0x1000u
#define PAGE_4M 0x400000u
#define PAGE_2M 0x200000u
#define PAGE_1G 0x40000000ull
#define VEC_GP 13
#define CPUID_EXT_FEATURES 0x80000001u
#define CPUID_EDX_PAGE1GB (1u << 26)
#define KNOWN_WORD0 0x6b6e6f77u /* "know" */
#define KNOWN_WORD1 0x6e667261u /* "afrn" */
#define ALIAS_WRITE 0x77726974u /* "tirw" */
#define ADDR(sym) ((uint32_t)(sym))

static const char PVM_LEGACY_PAGING[] = "PVM: CR0.PG without EFER.LME is #GP";

uint32_t mb_main(uint32_t magic, uint32_t info_addr);

struct modes64_results modes64;

/* The frame every alias must show. */
static volatile uint32_t known[PAGE / 4] __attribute__((aligned(PAGE)));

/* 32-bit paging: one directory and one table. */
static uint32_t pd32[1024] __attribute__((aligned(PAGE)));
static uint32_t pt32[1024] __attribute__((aligned(PAGE)));
/* PAE: a PDPT and its directories; long mode reuses the directories under its PML4. */
static uint64_t pdpt_pae[512] __attribute__((aligned(PAGE)));
static uint64_t pd_low[512] __attribute__((aligned(PAGE)));   /* identity, 2 MiB pages */
static uint64_t pd_small[512] __attribute__((aligned(PAGE))); /* -> pt_small */
static uint64_t pt_small[512] __attribute__((aligned(PAGE))); /* entry 0 -> known */
static uint64_t pd_large[512] __attribute__((aligned(PAGE))); /* entry 0: 2 MiB over 0 */
static uint64_t pml4[512] __attribute__((aligned(PAGE)));
static uint64_t pdpt_low[512] __attribute__((aligned(PAGE)));
static uint64_t pdpt_high[512] __attribute__((aligned(PAGE)));

static uint32_t read_cr0(void)
{
	uint32_t v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static void write_cr0(uint32_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static uint32_t read_cr4(void)
{
	uint32_t v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static void write_cr4(uint32_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

static void write_cr3(uint32_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static uint32_t read_efer(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_EFER));
	return lo;
}

static void write_efer(uint32_t v)
{
	__asm__ volatile("wrmsr" : : "c"(MSR_EFER), "a"(v), "d"(0) : "memory");
}

static uint32_t peek(uint32_t linear)
{
	return *(volatile uint32_t *)linear;
}

/* CR0.PG on with CR3 and the CR4 bits given; 0 when the MOV to CR0 faulted (vector in
 * mb32_last). */
static int paging_on(uint32_t cr3, uint32_t cr4_bits)
{
	struct mb32_try t;

	write_cr4(read_cr4() | cr4_bits);
	write_cr3(cr3);
	if (mb32_try(&t) != 0) {
		write_cr4(read_cr4() & ~cr4_bits);
		return 0;
	}
	write_cr0(read_cr0() | CR0_PG);
	mb32_try_end();
	return 1;
}

/* Leaving paging for another mode goes through paging off (SDM Vol. 3A 4.1.2). */
static void paging_off(void)
{
	write_cr0(read_cr0() & ~CR0_PG);
	write_cr4(read_cr4() & ~(CR4_PSE | CR4_PAE));
}

/*
 * What each legacy paging mode is checked for, through the tables it was given: the known frame
 * through its 4 KiB alias and through the large page over physical 0, a write through the
 * alias landing in the frame, and the accessed and dirty bits the MMU writes into the entries
 * it used (SDM Vol. 3A 4.8). pte and pde point at the entries' low 32 bits.
 */
static void check_aliases(const char *mode, const char *large, int paged,
			  const volatile uint32_t *pte, const volatile uint32_t *pde)
{
	const char *const whats[] = {
		"read through a 4 KiB page",
		large,
		"a write through the alias reaches the frame",
		"the MMU set A and D in the PTE",
		"the MMU set A in the PDE",
	};
	char name[96];

	if (!paged) {
		/* On PVM only IA-32e mode may page (measured on these machines). */
		if (mb32_last.vector == VEC_GP)
			fid_skip_lines(mode, whats, sizeof(whats) / sizeof(whats[0]),
				       PVM_LEGACY_PAGING);
		else
			nb_check_fail(mode, "the MOV to CR0 faulted");
		return;
	}
	nb_check_u64(fid_name(name, sizeof(name), mode, whats[0]), KNOWN_WORD0,
		     peek(MODES_ALIAS_SMALL));
	nb_check_u64(fid_name(name, sizeof(name), mode, whats[1]), KNOWN_WORD0,
		     peek(MODES_ALIAS_LARGE + ADDR(known)));
	*(volatile uint32_t *)(MODES_ALIAS_SMALL + 4) = ALIAS_WRITE;
	nb_check_u64(fid_name(name, sizeof(name), mode, whats[2]), ALIAS_WRITE, known[1]);
	nb_check_u64(fid_name(name, sizeof(name), mode, whats[3]), PTE_A | PTE_D,
		     *pte & (PTE_A | PTE_D));
	nb_check_u64(fid_name(name, sizeof(name), mode, whats[4]), PTE_A, *pde & PTE_A);
	paging_off();
	known[1] = KNOWN_WORD1;
}

static void test_unpaged(void)
{
	uint32_t cr0 = read_cr0();

	nb_check_u64("entry: protected mode (CR0.PE)", CR0_PE, cr0 & CR0_PE);
	nb_check_u64("entry: paging off (CR0.PG)", 0, cr0 & CR0_PG);
	known[0] = KNOWN_WORD0;
	known[1] = KNOWN_WORD1;
	nb_check_u64("unpaged: a read at the physical address sees the frame", KNOWN_WORD0,
		     peek(ADDR(known)));
}

static void test_paging32(void)
{
	uint32_t i;

	/* Directory entries with PS map 4 MiB pages when CR4.PSE is set (SDM Vol. 3A 4.3). */
	for (i = 0; i < MODES_IDENTITY_END / PAGE_4M; i++)
		pd32[i] = i * PAGE_4M | PTE_PS | PTE_W | PTE_P;
	pt32[0] = ADDR(known) | PTE_W | PTE_P;
	pd32[MODES_ALIAS_SMALL / PAGE_4M] = ADDR(pt32) | PTE_W | PTE_P;
	pd32[MODES_ALIAS_LARGE / PAGE_4M] = 0 | PTE_PS | PTE_W | PTE_P;
	check_aliases("32-bit paging", "read through a 4 MiB page",
		      paging_on(ADDR(pd32), CR4_PSE), &pt32[0],
		      &pd32[MODES_ALIAS_SMALL / PAGE_4M]);
}

static void test_pae(void)
{
	uint32_t i;

	for (i = 0; i < MODES_IDENTITY_END / PAGE_2M; i++)
		pd_low[i] = (uint64_t)i * PAGE_2M | PTE_PS | PTE_W | PTE_P;
	pt_small[0] = ADDR(known) | PTE_W | PTE_P;
	pd_small[0] = ADDR(pt_small) | PTE_W | PTE_P;
	pd_large[0] = 0 | PTE_PS | PTE_W | PTE_P;
	/* PAE PDPTEs have only P among the flags (the others are reserved, Vol. 3A 4.4.1). */
	pdpt_pae[0] = ADDR(pd_low) | PTE_P;
	pdpt_pae[MODES_ALIAS_SMALL / PAGE_1G] = ADDR(pd_small) | PTE_P;
	pdpt_pae[MODES_ALIAS_LARGE / PAGE_1G] = ADDR(pd_large) | PTE_P;
	/* Little-endian: an entry's flags are in its low 32 bits. */
	check_aliases("PAE paging", "read through a 2 MiB page", paging_on(ADDR(pdpt_pae), CR4_PAE),
		      (const volatile uint32_t *)&pt_small[0],
		      (const volatile uint32_t *)&pd_small[0]);
}

static int has_1g_pages(void)
{
	uint32_t a, b, c, d;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "0"(0x80000000u), "2"(0));
	if (a < CPUID_EXT_FEATURES)
		return 0;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			 : "0"(CPUID_EXT_FEATURES), "2"(0));
	return (d & CPUID_EDX_PAGE1GB) != 0;
}

static void test_long_mode(void)
{
	uint32_t cr0;
	int gb = has_1g_pages();

	/* 4-level paging over the PAE directories; the entries above need R/W here. */
	pdpt_low[0] = ADDR(pd_low) | PTE_W | PTE_P;
	pdpt_low[MODES_ALIAS_SMALL / PAGE_1G] = ADDR(pd_small) | PTE_W | PTE_P;
	pdpt_low[MODES_ALIAS_LARGE / PAGE_1G] = ADDR(pd_large) | PTE_W | PTE_P;
	/* A 1 GiB page is a PDPTE with PS (Vol. 3A 4.5.4); without them, a 2 MiB page. */
	pdpt_high[0] = gb ? (0 | PTE_PS | PTE_W | PTE_P) : (ADDR(pd_large) | PTE_W | PTE_P);
	pml4[0] = ADDR(pdpt_low) | PTE_W | PTE_P;
	pml4[MODES_ALIAS_HIGH >> 39] = ADDR(pdpt_high) | PTE_W | PTE_P;
	/* IA-32e mode is entered by setting CR0.PG with CR4.PAE and EFER.LME set (Vol. 3A 9.8.5).
	 * The 32-bit IDT is useless from here on: a fault would be a triple fault. */
	write_efer(read_efer() | EFER_LME);
	if (!paging_on(ADDR(pml4), CR4_PAE)) {
		nb_check_fail("IA-32e mode: CR0.PG with EFER.LME set", "the MOV to CR0 faulted");
		write_efer(read_efer() & ~EFER_LME);
		return;
	}
	nb_check_u64("IA-32e mode: EFER.LMA set by CR0.PG", EFER_LMA, read_efer() & EFER_LMA);
	nb_check_u64("compatibility mode: 0x48 decodes as DEC EAX", 4, modes_rex_probe());
	nb_check_u64("compatibility mode: read through a 4 KiB page", KNOWN_WORD0,
		     peek(MODES_ALIAS_SMALL));
	nb_check_u64("compatibility mode: read through a 2 MiB page", KNOWN_WORD0,
		     peek(MODES_ALIAS_LARGE + ADDR(known)));
	modes_run64(ADDR(known));
	nb_check_u64("64-bit mode: entered by a far jump and left by a far return", 1,
		     modes64.done);
	nb_check_u64("64-bit mode: registers are 64 bits wide", 0xffffffffu, modes64.reg_high);
	nb_check_u64("64-bit mode: 0x48 is a REX prefix", 5, modes64.rex);
	nb_check_u64("64-bit mode: read above 4 GiB through the high alias", KNOWN_WORD0,
		     modes64.high_read);
	nb_check_u64("compatibility mode again: 0x48 decodes as DEC EAX", 4, modes_rex_probe());
	/* Out of IA-32e mode: paging off in compatibility mode, then EFER.LME (Vol. 3A 9.8.5.4). */
	cr0 = read_cr0();
	write_cr0(cr0 & ~CR0_PG);
	nb_check_u64("leaving IA-32e mode: CR0.PG cleared clears EFER.LMA", 0,
		     read_efer() & EFER_LMA);
	write_cr4(read_cr4() & ~CR4_PAE);
	write_efer(read_efer() & ~EFER_LME);
	nb_check_u64("unpaged again: a read at the physical address sees the frame", KNOWN_WORD0,
		     peek(ADDR(known)));
}

uint32_t mb_main(uint32_t magic, uint32_t info_addr)
{
	(void)info_addr;
	if (!mb32_init("mb-modes", "protected mode, 32-bit and PAE paging, IA-32e mode and back",
		       magic))
		return (uint32_t)nb_check_summary("mb-modes");
	test_unpaged();
	/* The 2 MiB and 4 MiB aliases over physical 0 cover the known frame only below 2 MiB. */
	if (!nb_check_u64("the known frame lies below 2 MiB", 1, ADDR(known) < PAGE_2M))
		return (uint32_t)nb_check_summary("mb-modes");
	test_paging32();
	test_pae();
	test_long_mode();
	return (uint32_t)nb_check_summary("mb-modes");
}
