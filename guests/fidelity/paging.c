/*
 * paging: a 64-bit kernel that builds 4-level page tables of its own (SDM Vol. 3A 4.5) and
 * checks what the MMU does with them: translations through 4 KiB, 2 MiB and 1 GiB pages, the
 * exact #PF error codes of not-present, R/W, U/S, NX and reserved-bit violations (Vol. 3A 4.7),
 * CR0.WP, accessed and dirty bits written into the kernel's own tables (Vol. 3A 4.8), and that
 * INVLPG and a CR3 load make a changed entry take effect (Vol. 3A 4.10.4).
 */
#include "guests/fidelity/fid64.h"
#include "guests/fidelity/fidcheck.h"

#define X86_PTE_A 0x20ull
#define X86_PTE_D 0x40ull
#define X86_PTE_XD (1ull << 63)
#define CPUID_EXT_MAX 0x80000000u
#define CPUID_EXT_FEATURES 0x80000001u
#define CPUID_EXT_ADDR_SIZES 0x80000008u
#define CPUID_EDX_PAGE1GB (1u << 26)
#define CPUID_EDX_NX (1u << 20)
#define X86_OPCODE_RET 0xc3

/* Test addresses: PML4 entries 2 and 3, far from the identity map (PML4 entry 0). */
#define PG_VA_4K 0x0000010000000000ull    /* 4 KiB pages, one per case */
#define PG_VA_2M 0x0000010040000000ull    /* a 2 MiB page */
#define PG_VA_1G 0x0000010080000000ull    /* a 1 GiB page over physical 0 */
#define PG_VA_USER 0x0000018000000000ull  /* pages with U at every level but the PML4E */
#define PAGE(n) (PG_VA_4K + (n) * X86_PAGE_SIZE)

/* The 4 KiB test pages. */
enum {
	P_DATA = 0,    /* writable, supervisor */
	P_ABSENT = 1,  /* never mapped */
	P_RO = 2,      /* read-only, supervisor */
	P_NX = 3,      /* the code frame, XD */
	P_CODE = 4,    /* the code frame, executable */
	P_USER = 5,    /* writable, user */
	P_USER_RO = 6, /* read-only, user */
	P_RSVD = 7,    /* a reserved address bit set */
	P_AD = 8,      /* for accessed/dirty */
	P_SWAP = 9,    /* remapped to check INVLPG and CR3 loads */
};

#define WORD_DATA 0x6461746164617461ull
#define WORD_OTHER 0x6f746865726f7468ull
#define WORD_WRITE 0x7772697465777269ull

enum access { READ, WRITE, FETCH };

static uint64_t root;
static uint64_t frame_data, frame_other, frame_code, frame_ro;

int fid_trap_hook(struct nb_trap_frame *f)
{
	(void)f;
	return 0;
}

extern char pgu_read[], pgu_read_done[], pgu_write[], pgu_write_done[], pgu_fetch[],
	pgu_fetch_done[];

static uint64_t *pte(uint64_t va)
{
	return nb_pt_entry(root, va, 1, 0);
}

static void map(uint64_t va, uint64_t pa, uint64_t flags)
{
	nb_pt_map(root, va, pa, flags);
	x86_invlpg(va);
}

/* A CPL-0 access; 1 when it faulted (the fault is in fid_last). */
static int kernel_access(enum access kind, uint64_t va, volatile uint64_t *val)
{
	struct nb_try t;

	if (nb_try(&t) != 0)
		return 1;
	if (kind == READ)
		*val = *(volatile uint64_t *)(uintptr_t)va;
	else if (kind == WRITE)
		*(volatile uint64_t *)(uintptr_t)va = *val;
	else
		((void (*)(void))(uintptr_t)va)();
	nb_try_end();
	return 0;
}

/* A CPL-3 access; 1 when it faulted (else the observation UD2 ended it). */
static int user_access(enum access kind, uint64_t va, uint64_t val, uint64_t *read)
{
	static const char *const entry[] = { pgu_read, pgu_write, pgu_fetch };
	static const char *const done[] = { pgu_read_done, pgu_write_done, pgu_fetch_done };

	fid_run_user(entry[kind], va, val, 0);
	if (read)
		*read = fid_last.rax;
	return !(fid_last.vector == X86_VEC_UD && fid_last.rip == FID_ADDR(done[kind]));
}

static void check_pf(const char *name, int faulted, uint64_t error, uint64_t cr2)
{
	const struct fid_field f[] = {
		{ "faulted", 1, (uint64_t)faulted },
		{ "vector", X86_VEC_PF, fid_last.vector },
		{ "error code", error, fid_last.error },
		{ "CR2", cr2, fid_last.cr2 },
	};

	fid_check_fields(name, FID_FIELDS(f));
}

static void check_ok(const char *name, int faulted, uint64_t expected, uint64_t got)
{
	const struct fid_field f[] = {
		{ "faulted", 0, (uint64_t)faulted },
		{ "value", expected, got },
	};

	fid_check_fields(name, FID_FIELDS(f));
}

static uint32_t ext_features_edx(void)
{
	uint32_t a, b, c, d;

	x86_cpuid(CPUID_EXT_MAX, &a, &b, &c, &d);
	if (a < CPUID_EXT_FEATURES)
		return 0;
	x86_cpuid(CPUID_EXT_FEATURES, &a, &b, &c, &d);
	return d;
}

static void write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static void test_page_sizes(void)
{
	volatile uint64_t v = 0;
	uint64_t base2m = frame_data & ~(X86_LARGE_PAGE_SIZE - 1);
	uint64_t *e;
	int f;

	f = kernel_access(READ, PAGE(P_DATA), &v);
	check_ok("4 KiB page: a read sees the frame", f, WORD_DATA, v);
	/* A PDE with PS maps 2 MiB (Vol. 3A 4.5.4, table 4-18). */
	e = nb_pt_entry(root, PG_VA_2M, 2, X86_PTE_P | X86_PTE_W);
	*e = base2m | X86_PTE_PS | X86_PTE_W | X86_PTE_P;
	f = kernel_access(READ, PG_VA_2M + (frame_data - base2m), &v);
	check_ok("2 MiB page: a read sees the frame", f, WORD_DATA, v);
	nb_check_u64("2 MiB page: a read sets A, not D, in the PDE", X86_PTE_A,
		     *e & (X86_PTE_A | X86_PTE_D));
	f = kernel_access(WRITE, PG_VA_2M + (frame_data - base2m), &v);
	nb_check_u64("2 MiB page: a write sets D in the PDE", X86_PTE_A | X86_PTE_D,
		     *e & (X86_PTE_A | X86_PTE_D));
	if (!(ext_features_edx() & CPUID_EDX_PAGE1GB)) {
		nb_check_skip("1 GiB page: a read sees the frame",
			      "CPUID 8000_0001 EDX[26] offers no 1 GiB pages");
		return;
	}
	/* A PDPTE with PS maps 1 GiB (table 4-16). */
	e = nb_pt_entry(root, PG_VA_1G, 3, X86_PTE_P | X86_PTE_W);
	*e = 0 | X86_PTE_PS | X86_PTE_W | X86_PTE_P;
	f = kernel_access(READ, PG_VA_1G + frame_data, &v);
	check_ok("1 GiB page: a read sees the frame", f, WORD_DATA, v);
}

static void test_not_present(void)
{
	volatile uint64_t v = WORD_WRITE;
	int f;

	f = kernel_access(READ, PAGE(P_ABSENT) + 8, &v);
	check_pf("not present, read: #PF(0)", f, 0, PAGE(P_ABSENT) + 8);
	f = kernel_access(WRITE, PAGE(P_ABSENT) + 16, &v);
	check_pf("not present, write: #PF(W)", f, X86_PF_W, PAGE(P_ABSENT) + 16);
	f = kernel_access(FETCH, PAGE(P_ABSENT), &v);
	check_pf("not present, fetch: #PF(I)", f, X86_PF_I, PAGE(P_ABSENT));
	nb_check_u64("not present, fetch: RIP is the target", PAGE(P_ABSENT), fid_last.rip);
}

/* CR0.WP: with it set, supervisor writes honour R/W; clear, they ignore it (Vol. 3A 4.6.1).
 * User writes honour R/W either way. */
static void test_write_protect(void)
{
	uint64_t cr0 = x86_read_cr0(), got;
	volatile uint64_t v = WORD_WRITE;
	int f;

	write_cr0(cr0 | X86_CR0_WP);
	f = kernel_access(WRITE, PAGE(P_RO), &v);
	check_pf("CR0.WP=1, supervisor write to a read-only page: #PF(P|W)", f,
		 X86_PF_P | X86_PF_W, PAGE(P_RO));
	f = user_access(WRITE, PAGE(P_USER_RO), WORD_WRITE, NULL);
	check_pf("CR0.WP=1, user write to a read-only page: #PF(P|W|U)", f,
		 X86_PF_P | X86_PF_W | X86_PF_U, PAGE(P_USER_RO));
	write_cr0(cr0 & ~X86_CR0_WP);
	f = kernel_access(WRITE, PAGE(P_RO), &v);
	got = 0;
	if (!f)
		kernel_access(READ, PAGE(P_RO), (volatile uint64_t *)&got);
	check_ok("CR0.WP=0, supervisor write to a read-only page goes through", f, WORD_WRITE,
		 got);
	f = user_access(WRITE, PAGE(P_USER_RO), WORD_WRITE, NULL);
	check_pf("CR0.WP=0, user write to a read-only page: #PF(P|W|U)", f,
		 X86_PF_P | X86_PF_W | X86_PF_U, PAGE(P_USER_RO));
	write_cr0(cr0);
}

static void test_user_supervisor(void)
{
	uint64_t got = 0;
	volatile uint64_t v = 0;
	int f;

	f = user_access(READ, PAGE(P_USER), 0, &got);
	check_ok("user read of a user page", f, WORD_OTHER, got);
	f = user_access(WRITE, PAGE(P_USER) + 8, WORD_WRITE, NULL);
	check_ok("user write to a user page", f, 0, 0);
	f = user_access(READ, PAGE(P_DATA), 0, NULL);
	check_pf("user read of a supervisor page: #PF(P|U)", f, X86_PF_P | X86_PF_U,
		 PAGE(P_DATA));
	f = user_access(WRITE, PAGE(P_DATA), WORD_WRITE, NULL);
	check_pf("user write to a supervisor page: #PF(P|W|U)", f,
		 X86_PF_P | X86_PF_W | X86_PF_U, PAGE(P_DATA));
	f = user_access(READ, PAGE(P_ABSENT), 0, NULL);
	check_pf("user read of a not-present page: #PF(U)", f, X86_PF_U, PAGE(P_ABSENT));
	f = user_access(FETCH, PAGE(P_CODE), 0, NULL);
	check_pf("user fetch from a supervisor page: #PF(P|U|I)", f,
		 X86_PF_P | X86_PF_U | X86_PF_I, PAGE(P_CODE));
	/* Rights are the most restrictive over all levels (Vol. 3A 4.6.1): U clear in the PML4E
	 * makes the page supervisor though its PTE says user. */
	f = user_access(READ, PG_VA_USER, 0, NULL);
	check_pf("user read, U clear in the PML4E only: #PF(P|U)", f, X86_PF_P | X86_PF_U,
		 PG_VA_USER);
	/* Without CR4.SMAP, supervisor code may read user pages. */
	f = kernel_access(READ, PAGE(P_USER), &v);
	check_ok("supervisor read of a user page", f, WORD_OTHER, v);
}

/* XD (bit 63) forbids fetches when EFER.NXE is set (Vol. 3A 4.6.2); when NXE is clear, the bit
 * is reserved (4.5, table 4-19 notes). */
static void test_nx(void)
{
	volatile uint64_t v = 0;
	uint64_t efer;
	int f;

	if (!(ext_features_edx() & CPUID_EDX_NX)) {
		nb_check_skip("NX", "CPUID 8000_0001 EDX[20] offers no execute-disable");
		return;
	}
	efer = x86_rdmsr(X86_MSR_EFER);
	x86_wrmsr(X86_MSR_EFER, efer | X86_EFER_NXE);
	f = kernel_access(FETCH, PAGE(P_CODE), &v);
	check_ok("fetch from an executable page runs", f, 0, 0);
	f = kernel_access(FETCH, PAGE(P_NX), &v);
	check_pf("NXE=1, fetch from an XD page: #PF(P|I)", f, X86_PF_P | X86_PF_I, PAGE(P_NX));
	nb_check_u64("NXE=1, fetch from an XD page: RIP is the target", PAGE(P_NX), fid_last.rip);
	f = kernel_access(READ, PAGE(P_NX), &v);
	check_ok("NXE=1, read of an XD page", f, X86_OPCODE_RET, v & 0xff);
	x86_wrmsr(X86_MSR_EFER, efer & ~X86_EFER_NXE);
	x86_write_cr3(root);
	f = kernel_access(READ, PAGE(P_NX), &v);
	check_pf("NXE=0, read through an entry with bit 63: #PF(P|RSVD)", f,
		 X86_PF_P | X86_PF_RSVD, PAGE(P_NX));
	x86_wrmsr(X86_MSR_EFER, efer);
	x86_write_cr3(root);
}

/* Address bits at and above MAXPHYADDR are reserved (Vol. 3A 4.5). */
static void test_reserved(void)
{
	uint32_t a, b, c, d, maxphys = 36;
	volatile uint64_t v = WORD_WRITE;
	int f;

	x86_cpuid(CPUID_EXT_MAX, &a, &b, &c, &d);
	if (a >= CPUID_EXT_ADDR_SIZES) {
		x86_cpuid(CPUID_EXT_ADDR_SIZES, &a, &b, &c, &d);
		maxphys = a & 0xff;
	}
	if (maxphys >= 52) {
		nb_check_skip("reserved address bit in a PTE", "MAXPHYADDR is 52: no reserved bit");
		return;
	}
	map(PAGE(P_RSVD), frame_data | 1ull << maxphys, X86_PTE_W);
	f = kernel_access(READ, PAGE(P_RSVD), &v);
	check_pf("reserved address bit in a PTE, read: #PF(P|RSVD)", f, X86_PF_P | X86_PF_RSVD,
		 PAGE(P_RSVD));
	f = kernel_access(WRITE, PAGE(P_RSVD), &v);
	check_pf("reserved address bit in a PTE, write: #PF(P|W|RSVD)", f,
		 X86_PF_P | X86_PF_W | X86_PF_RSVD, PAGE(P_RSVD));
}

/* The MMU sets A in each entry it uses and D in the leaf on a write (Vol. 3A 4.8). */
static void test_accessed_dirty(void)
{
	uint64_t va = PAGE(P_AD);
	uint64_t *l4 = nb_pt_entry(root, va, 4, 0), *l3 = nb_pt_entry(root, va, 3, 0),
		 *l2 = nb_pt_entry(root, va, 2, 0), *l1 = pte(va);
	volatile uint64_t v = 0;
	int f;

	*l4 &= ~X86_PTE_A;
	*l3 &= ~X86_PTE_A;
	*l2 &= ~X86_PTE_A;
	*l1 &= ~(X86_PTE_A | X86_PTE_D);
	/* A CR3 load flushes the TLB and the paging-structure caches of these entries. */
	x86_write_cr3(root);
	f = kernel_access(READ, va, &v);
	check_ok("accessed/dirty: the read went through", f, WORD_DATA, v);
	nb_check_u64("accessed/dirty: a read sets A in the PML4E", X86_PTE_A, *l4 & X86_PTE_A);
	nb_check_u64("accessed/dirty: a read sets A in the PDPTE", X86_PTE_A, *l3 & X86_PTE_A);
	nb_check_u64("accessed/dirty: a read sets A in the PDE", X86_PTE_A, *l2 & X86_PTE_A);
	nb_check_u64("accessed/dirty: a read sets A, not D, in the PTE", X86_PTE_A,
		     *l1 & (X86_PTE_A | X86_PTE_D));
	v = WORD_DATA;
	f = kernel_access(WRITE, va, &v);
	nb_check_u64("accessed/dirty: a write sets D in the PTE", X86_PTE_A | X86_PTE_D,
		     *l1 & (X86_PTE_A | X86_PTE_D));
}

/* A changed entry takes effect after INVLPG of the page, or after a CR3 load (4.10.4.1). */
static void test_invalidation(void)
{
	volatile uint64_t v = 0;
	uint64_t va = PAGE(P_SWAP);

	int f;

	f = kernel_access(READ, va, &v);
	check_ok("remap: the first frame", f, WORD_DATA, v);
	*pte(va) = frame_other | X86_PTE_W | X86_PTE_P;
	x86_invlpg(va);
	f = kernel_access(READ, va, &v);
	check_ok("remap: INVLPG makes the new frame seen", f, WORD_OTHER, v);
	*pte(va) = frame_data | X86_PTE_W | X86_PTE_P;
	x86_write_cr3(root);
	f = kernel_access(READ, va, &v);
	check_ok("remap: a CR3 load makes the new frame seen", f, WORD_DATA, v);
	*pte(va) = 0;
	x86_invlpg(va);
	check_pf("remap: INVLPG after clearing P makes the page fault", kernel_access(READ, va, &v),
		 0, va);
}

static void build(const struct nb_boot_info *bi)
{
	uint64_t *e;

	root = fid_user_space(bi);
	frame_data = nb_frame_alloc();
	frame_other = nb_frame_alloc();
	frame_code = nb_frame_alloc();
	frame_ro = nb_frame_alloc();
	*(uint64_t *)(uintptr_t)frame_data = WORD_DATA;
	*(uint64_t *)(uintptr_t)frame_other = WORD_OTHER;
	*(uint8_t *)(uintptr_t)frame_code = X86_OPCODE_RET;
	nb_pt_map(root, PAGE(P_DATA), frame_data, X86_PTE_W);
	nb_pt_map(root, PAGE(P_RO), frame_ro, 0);
	nb_pt_map(root, PAGE(P_NX), frame_code, X86_PTE_XD);
	nb_pt_map(root, PAGE(P_CODE), frame_code, 0);
	nb_pt_map(root, PAGE(P_USER), frame_other, X86_PTE_U | X86_PTE_W);
	nb_pt_map(root, PAGE(P_USER_RO), frame_other, X86_PTE_U);
	nb_pt_map(root, PAGE(P_AD), frame_data, X86_PTE_W);
	nb_pt_map(root, PAGE(P_SWAP), frame_data, X86_PTE_W);
	nb_pt_map(root, PG_VA_USER, frame_other, X86_PTE_U | X86_PTE_W);
	e = nb_pt_entry(root, PG_VA_USER, 4, 0);
	*e &= ~X86_PTE_U;
	x86_write_cr3(root);
}

int kmain(struct nb_boot_info *bi)
{
	int rc = fid_init(bi, "paging", "4-level paging: page sizes, #PF error codes, A/D bits");

	if (rc)
		return rc;
	build(bi);
	test_page_sizes();
	test_not_present();
	test_write_protect();
	test_user_supervisor();
	test_nx();
	test_reserved();
	test_accessed_dirty();
	test_invalidation();
	return nb_check_summary("paging");
}
