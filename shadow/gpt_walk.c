/*
 * Guest page walker (see gpt_walk.h). Section numbers are those of the AMD64 Architecture
 * Programmer's Manual, Volume 2 (System Programming).
 */
#include "shadow/gpt_walk.h"

/* Bits lo..hi of a 64-bit value, inclusive; 0 when lo > hi (so a 52-bit MAXPHYADDR reserves
 * nothing below bit 52). */
static uint64_t bit_range(unsigned lo, unsigned hi)
{
	if (lo > hi)
		return 0;
	return (~0ull >> (63 - hi)) & ~((1ull << lo) - 1);
}

void gpt_mode_from_regs(struct gpt_mode *m, uint64_t cr0, uint64_t cr3, uint64_t cr4,
			uint64_t efer, uint8_t maxphyaddr)
{
	if (!(cr0 & X86_CR0_PG))
		m->paging = GPT_PAGING_NONE;
	else if (efer & X86_EFER_LMA)
		m->paging = GPT_PAGING_LONG; /* long mode requires CR4.PAE=1 (§14.6) */
	else if (cr4 & X86_CR4_PAE)
		m->paging = GPT_PAGING_PAE;
	else
		m->paging = GPT_PAGING_32;
	m->cr3 = cr3;
	m->cr0_wp = (cr0 & X86_CR0_WP) != 0;
	m->cr4_pse = (cr4 & X86_CR4_PSE) != 0;
	m->efer_nxe = (efer & X86_EFER_NXE) != 0;
	m->maxphyaddr = maxphyaddr;
}

unsigned gpt_top_level(enum gpt_paging paging)
{
	switch (paging) {
	case GPT_PAGING_32:
		return 2;
	case GPT_PAGING_PAE:
		return 3;
	case GPT_PAGING_LONG:
		return 4;
	case GPT_PAGING_NONE:
		break;
	}
	return 0;
}

struct gpt_level_shape gpt_level_shape(enum gpt_paging paging, unsigned level)
{
	struct gpt_level_shape s;

	if (paging == GPT_PAGING_32) {
		/* §5.2: 1024 four-byte entries per table, 10 address bits per level. */
		s.shift = (uint8_t)(level == 1 ? 12 : 22);
		s.entry_size = 4;
		s.entries = 1024;
	} else {
		/* §5.2 (PAE) and §5.3: 512 eight-byte entries, 9 bits per level; the legacy-PAE
		 * page-directory-pointer table has only 4 entries (linear bits 31:30). */
		s.shift = (uint8_t)(12 + 9 * (level - 1));
		s.entry_size = 8;
		s.entries = (paging == GPT_PAGING_PAE && level == 3) ? 4 : 512;
	}
	return s;
}

/* Physical address of the top-level table: CR3 formats of §5.2 (legacy) and §5.3 (long mode). */
static uint64_t gpt_root_table(const struct gpt_mode *m)
{
	switch (m->paging) {
	case GPT_PAGING_32:
		return m->cr3 & 0xfffff000ull;
	case GPT_PAGING_PAE:
		return m->cr3 & 0xffffffe0ull; /* the PDPT is only 32-byte aligned */
	default:
		return m->cr3 & bit_range(12, (unsigned)m->maxphyaddr - 1);
	}
}

/*
 * Does this present entry map a page rather than point to a table? PDEs and long-mode PDPEs
 * with PS=1 do (§5.3.4, §5.3.5); in 32-bit paging a PDE's PS is honoured only with CR4.PSE=1 and
 * is otherwise ignored (§5.2.3). PS in a PML4E or a PAE PDPE is reserved, caught below.
 */
static int gpt_is_large(const struct gpt_mode *m, unsigned level, uint64_t e)
{
	if (!(e & PTE_PS))
		return 0;
	if (level == 2)
		return m->paging != GPT_PAGING_32 || m->cr4_pse;
	return level == 3 && m->paging == GPT_PAGING_LONG;
}

/*
 * Bits that must be zero in a present entry, or the walk faults with RSVD=1 (§5.4.1; the
 * per-format figures of §5.2 and §5.3):
 *   - every 8-byte entry: physical-address bits at or above MAXPHYADDR (up to 51 in long mode,
 *     62 in legacy PAE, where bits 62:52 are not "available"), and NX when EFER.NXE=0;
 *   - large pages: the low address bits between PAT (bit 12) and the page's alignment;
 *   - PML4E: bits 8:7 (AMD reserves G as well as PS in PML4Es; Intel only PS);
 *   - legacy PAE PDPE: R/W, U/S (bits 2:1), bits 8:5 and NX: this entry carries no rights;
 *   - 32-bit 4 MiB page: bit 21, and those of bits 20:13 (physical address bits 39:32, AMD's
 *     PSE-40 extension) that lie at or above MAXPHYADDR. 4 KiB 32-bit entries reserve nothing.
 */
static uint64_t gpt_rsvd_mask(const struct gpt_mode *m, unsigned level, int large)
{
	unsigned maxpa = m->maxphyaddr;
	uint64_t nx = m->efer_nxe ? 0 : PTE_NX;
	uint64_t high;

	switch (m->paging) {
	case GPT_PAGING_32:
		if (!large)
			return 0;
		return bit_range(21, 21) | bit_range(13 + (maxpa - 32), 20);
	case GPT_PAGING_PAE:
		if (level == 3)
			return bit_range(maxpa, 63) | bit_range(5, 8) | bit_range(1, 2);
		high = bit_range(maxpa, 62) | nx;
		return large ? high | bit_range(13, 20) : high;
	case GPT_PAGING_LONG:
		high = bit_range(maxpa, 51) | nx;
		if (level == 4)
			return high | bit_range(7, 8);
		if (!large)
			return high;
		return high | (level == 3 ? bit_range(13, 29) : bit_range(13, 20));
	case GPT_PAGING_NONE:
		break;
	}
	return 0;
}

/* Physical address of the next table (non-leaf) or of the page (leaf) an entry names. */
static uint64_t gpt_entry_address(const struct gpt_mode *m, uint64_t e, unsigned shift)
{
	if (m->paging == GPT_PAGING_32) {
		if (shift == 22) /* PSE-40: bits 20:13 hold physical address bits 39:32 */
			return (e & 0xffc00000ull) | (((e >> 13) & 0xff) << 32);
		return e & 0xfffff000ull;
	}
	return e & bit_range(shift, 51);
}

static int gpt_fault(struct gpt_walk *w, const struct gpt_mode *m, unsigned access,
		     uint32_t why)
{
	uint32_t ec = why | (access & (PF_EC_W | PF_EC_U));

	/* I/D is defined only when no-execute is enabled (§8.4.2): EFER.NXE in PAE or long mode. */
	if ((access & PF_EC_ID) && m->efer_nxe && m->paging != GPT_PAGING_32)
		ec |= PF_EC_ID;
	w->error_code = ec;
	return GPT_PAGE_FAULT;
}

/*
 * Sets A in every entry the walk used and D in the leaf when the access is a write, as the MMU
 * does (§5.4.2 "Notes on Accessed and Dirty Bits"). The processor does these updates with locked
 * read-modify-writes; nbvmm runs one vCPU per guest and the guest does not run while its
 * hypervisor walks, so plain writes give the same result. Legacy PAE PDPEs have no A bit (bit 5
 * is reserved there). Updates go top-down so that when one entry is used at two levels (a
 * self-referencing table) its final value carries both A and D.
 */
static int gpt_set_ad(const struct shadow_ops *ops, void *opaque, const struct gpt_mode *m,
		      struct gpt_walk *w, unsigned access)
{
	unsigned level;

	for (level = w->top_level; level >= w->leaf_level && level > 0; level--) {
		uint64_t e = w->entry[level], ne = e | PTE_A;
		struct gpt_level_shape s = gpt_level_shape(m->paging, level);

		if (m->paging == GPT_PAGING_PAE && level == 3)
			continue;
		if (level == w->leaf_level && (access & PF_EC_W))
			ne |= PTE_D;
		if (ne == e)
			continue;
		if (ops->write_gpa(opaque, w->entry_gpa[level], &ne, s.entry_size) < 0)
			return -SHADOW_EFAULT;
		w->ad_set[level] = ne & ~e;
		w->entry[level] = ne;
	}
	return 0;
}

int gpt_walk(const struct shadow_ops *ops, void *opaque, const struct gpt_mode *m, uint64_t gva,
	     unsigned access, unsigned flags, struct gpt_walk *w)
{
	unsigned level, top = gpt_top_level(m->paging);
	struct gpt_level_shape s;
	uint64_t table, e = 0;
	int large = 0;

	for (level = 0; level <= GPT_MAX_LEVELS; level++) {
		w->entry_gpa[level] = 0;
		w->entry[level] = 0;
		w->ad_set[level] = 0;
	}
	w->top_level = (uint8_t)top;
	w->leaf_level = 0;
	w->page_shift = 12;
	w->writable = true;
	w->user = true;
	w->nx = false;
	w->error_code = 0;

	if (m->paging == GPT_PAGING_NONE) {
		/* Paging off: linear addresses are physical, 32 bits wide (§5.1). */
		w->gpa = gva & 0xffffffffull;
		return 0;
	}
	if (m->maxphyaddr < 32 || m->maxphyaddr > 52)
		return -SHADOW_EINVAL;
	if (m->paging == GPT_PAGING_LONG) {
		/* Bits 63:48 must copy bit 47 (§5.3.1); otherwise it is #GP or #SS, not a walk. */
		uint64_t upper = gva >> 47;
		if (upper != 0 && upper != 0x1ffff)
			return -SHADOW_EINVAL;
	} else {
		gva &= 0xffffffffull; /* legacy linear addresses are 32 bits */
	}

	table = gpt_root_table(m);
	for (level = top;; level--) {
		uint64_t egpa;

		s = gpt_level_shape(m->paging, level);
		egpa = table + ((gva >> s.shift) & (s.entries - 1u)) * s.entry_size;
		e = 0;
		w->entry_gpa[level] = egpa;
		w->leaf_level = (uint8_t)level;
		if (ops->read_gpa(opaque, egpa, &e, s.entry_size) < 0)
			return -SHADOW_EFAULT;
		w->entry[level] = e;
		if (!(e & PTE_P))
			return gpt_fault(w, m, access, 0);
		large = gpt_is_large(m, level, e);
		if (e & gpt_rsvd_mask(m, level, large))
			return gpt_fault(w, m, access, PF_EC_P | PF_EC_RSVD);
		/* A legacy PAE PDPE has no R/W, U/S or NX: it restricts nothing (§5.2). */
		if (!(m->paging == GPT_PAGING_PAE && level == 3)) {
			if (!(e & PTE_W))
				w->writable = false;
			if (!(e & PTE_U))
				w->user = false;
			if ((e & PTE_NX) && m->efer_nxe)
				w->nx = true;
		}
		if (level == 1 || large)
			break;
		table = gpt_entry_address(m, e, 12);
	}

	w->page_shift = s.shift;
	w->gpa = gpt_entry_address(m, e, s.shift) | (gva & ((1ull << s.shift) - 1));

	/*
	 * Protection checks (§5.6): user accesses need U/S=1 at every level; writes need R/W=1,
	 * except that supervisor writes ignore R/W while CR0.WP=0 (§5.6.2); fetches need NX=0 at
	 * every level. SMEP and SMAP are not offered to guests, so supervisor accesses to user
	 * pages are allowed.
	 */
	if ((access & PF_EC_U) && !w->user)
		return gpt_fault(w, m, access, PF_EC_P);
	if ((access & PF_EC_W) && !w->writable && ((access & PF_EC_U) || m->cr0_wp))
		return gpt_fault(w, m, access, PF_EC_P);
	if ((access & PF_EC_ID) && w->nx)
		return gpt_fault(w, m, access, PF_EC_P);

	if (flags & GPT_SET_AD)
		return gpt_set_ad(ops, opaque, m, w, access);
	return 0;
}
