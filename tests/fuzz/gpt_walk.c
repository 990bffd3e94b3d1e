/*
 * Fuzz harness: the guest page walker (shadow/gpt_walk.c) and the nested page walk built on it
 * (svm_npt_translate, shadow/svm_nested.c). A guest's page tables, and a nested hypervisor's
 * nested page tables, are memory the guest writes as it likes.
 *
 * Input: a paging mode (mode, CR3, CR0.WP, CR4.PSE, EFER.NXE, MAXPHYADDR), then commands until
 * the input ends: store an 8-byte value into the simulated guest memory (16 frames; the value
 * either raw or with its address bits aimed at a frame of that memory), walk an address with an
 * access type (with or without accessed/dirty updates), translate a nested-guest address through
 * nested tables rooted at a frame of that memory, or change the mode. Checked:
 *   - results are the documented ones; -SHADOW_EINVAL only for what the walker must refuse;
 *   - a translation keeps the page offset, stays below MAXPHYADDR, and its rights are those of
 *     the entries it went through (writable and user only if every level says so, NX if any);
 *   - the access asked for is allowed by those rights, and a #PF error code says what the
 *     access was (W, U, I/D) and whether the page was present;
 *   - asking less of the same page never fails where asking more succeeded, and gives the same
 *     address; walking twice without A/D updates gives the same result;
 *   - a nested translation is the long-mode user walk of the same address, and a nested fault
 *     says whether it was the final address or a guest table access.
 */
#include <string.h>

#include "shadow/gpt_walk.h"
#include "shadow/svm_nested.h"
#include "tests/fuzz/fuzz.h"

#define FRAMES 16
#define MEM_BYTES (FRAMES * 4096u)

static uint8_t mem[MEM_BYTES];

static int mem_read(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	(void)opaque;
	FUZZ_CHECK(len <= 8 && (gpa & 0xfff) + len <= 4096, "read of %u bytes at %#llx crosses a page",
		   len, (unsigned long long)gpa);
	if (gpa >= MEM_BYTES)
		return -1;
	memcpy(buf, mem + gpa, len);
	return 0;
}

static int mem_write(void *opaque, uint64_t gpa, const void *buf, unsigned len)
{
	(void)opaque;
	FUZZ_CHECK(len <= 8 && (gpa & 0xfff) + len <= 4096, "write of %u bytes at %#llx crosses a page",
		   len, (unsigned long long)gpa);
	if (gpa >= MEM_BYTES)
		return -1;
	memcpy(mem + gpa, buf, len);
	return 0;
}

static const struct shadow_ops ops = { .read_gpa = mem_read, .write_gpa = mem_write };

static void read_mode(struct fuzz_in *in, struct gpt_mode *m)
{
	uint8_t f = fuzz_u8(in);

	m->paging = (enum gpt_paging)(f & 3);
	m->cr0_wp = f & 4;
	m->cr4_pse = f & 8;
	m->efer_nxe = f & 16;
	m->maxphyaddr = (uint8_t)(32 + fuzz_below(in, 21));
	m->cr3 = fuzz_u64(in);
	if (f & 32) /* aimed at a frame of the memory, in the format of each mode */
		m->cr3 = (m->cr3 & 0xfe0) | (uint64_t)(m->cr3 >> 12) % FRAMES << 12;
}

static uint64_t levels_mask(const struct gpt_walk *w)
{
	return (1ull << (w->page_shift)) - 1;
}

/* What the entries the walk went through allow (recomputed from w->entry). */
static void check_rights(const struct gpt_mode *m, const struct gpt_walk *w)
{
	bool writable = true, user = true, nx = false;
	unsigned level;

	for (level = w->top_level; level >= w->leaf_level && level > 0; level--) {
		uint64_t e = w->entry[level];

		FUZZ_CHECK(e & PTE_P, "level %u entry %#llx used but not present", level,
			   (unsigned long long)e);
		if (m->paging == GPT_PAGING_PAE && level == 3)
			continue; /* a legacy PAE PDPE carries no rights */
		writable = writable && (e & PTE_W);
		user = user && (e & PTE_U);
		nx = nx || ((e & PTE_NX) && m->efer_nxe);
	}
	FUZZ_CHECK(w->writable == writable && w->user == user && w->nx == nx,
		   "rights W%d U%d NX%d, the entries say W%d U%d NX%d", w->writable, w->user, w->nx,
		   writable, user, nx);
}

static bool allowed(const struct gpt_mode *m, const struct gpt_walk *w, unsigned access)
{
	if ((access & PF_EC_U) && !w->user)
		return false;
	if ((access & PF_EC_W) && !w->writable && ((access & PF_EC_U) || m->cr0_wp))
		return false;
	return !((access & PF_EC_ID) && w->nx);
}

static void walk(const struct gpt_mode *m, uint64_t gva, unsigned access, unsigned flags)
{
	struct gpt_walk w, w2;
	unsigned top = gpt_top_level(m->paging), sub;
	bool canonical = (gva >> 47) == 0 || (gva >> 47) == 0x1ffff;
	int r, r2;

	r = gpt_walk(&ops, NULL, m, gva, access, flags, &w);
	FUZZ_CHECK(r == 0 || r == GPT_PAGE_FAULT || r == -SHADOW_EFAULT || r == -SHADOW_EINVAL,
		   "result %d", r);
	FUZZ_CHECK(w.top_level == top, "top level %u in mode %d", w.top_level, m->paging);
	if (r == -SHADOW_EINVAL) {
		FUZZ_CHECK(m->paging == GPT_PAGING_LONG && !canonical, "%#llx refused in mode %d",
			   (unsigned long long)gva, m->paging);
		return;
	}
	FUZZ_CHECK(m->paging != GPT_PAGING_LONG || canonical, "non-canonical %#llx walked",
		   (unsigned long long)gva);
	if (m->paging == GPT_PAGING_NONE) {
		FUZZ_CHECK(r == 0 && w.gpa == (gva & 0xffffffffull), "no paging: %#llx -> %#llx",
			   (unsigned long long)gva, (unsigned long long)w.gpa);
		return;
	}
	FUZZ_CHECK(w.leaf_level >= 1 && w.leaf_level <= top, "leaf level %u", w.leaf_level);
	if (r == -SHADOW_EFAULT) {
		FUZZ_CHECK(w.entry_gpa[w.leaf_level] >= MEM_BYTES,
			   "EFAULT at %#llx, inside memory", (unsigned long long)w.entry_gpa[w.leaf_level]);
		return;
	}
	if (r == GPT_PAGE_FAULT) {
		uint32_t ec = w.error_code;
		bool has_id = m->efer_nxe && m->paging != GPT_PAGING_32;

		FUZZ_CHECK((ec & ~(PF_EC_P | PF_EC_W | PF_EC_U | PF_EC_RSVD | PF_EC_ID)) == 0,
			   "error code %#x", ec);
		FUZZ_CHECK((ec & (PF_EC_W | PF_EC_U)) == (access & (PF_EC_W | PF_EC_U)),
			   "error code %#x for access %#x", ec, access);
		FUZZ_CHECK(!!(ec & PF_EC_ID) == (has_id && (access & PF_EC_ID)),
			   "error code %#x for access %#x (NXE %d)", ec, access, m->efer_nxe);
		FUZZ_CHECK(!(ec & PF_EC_RSVD) || (ec & PF_EC_P), "RSVD without P: %#x", ec);
		FUZZ_CHECK(!!(ec & PF_EC_P) == !!(w.entry[w.leaf_level] & PTE_P),
			   "error code %#x, entry %#llx", ec, (unsigned long long)w.entry[w.leaf_level]);
		return;
	}
	/* A translation. */
	FUZZ_CHECK(w.page_shift == 12 || w.page_shift == 21 || w.page_shift == 22 || w.page_shift == 30,
		   "page shift %u", w.page_shift);
	FUZZ_CHECK(w.leaf_level == 1 || (w.entry[w.leaf_level] & PTE_PS), "leaf at level %u without PS",
		   w.leaf_level);
	FUZZ_CHECK((w.gpa & levels_mask(&w)) == (gva & levels_mask(&w)), "%#llx -> %#llx loses the offset",
		   (unsigned long long)gva, (unsigned long long)w.gpa);
	FUZZ_CHECK(w.gpa >> m->maxphyaddr == 0, "%#llx -> %#llx, beyond MAXPHYADDR %u",
		   (unsigned long long)gva, (unsigned long long)w.gpa, m->maxphyaddr);
	check_rights(m, &w);
	FUZZ_CHECK(allowed(m, &w, access), "access %#x allowed with W%d U%d NX%d (WP %d)", access,
		   w.writable, w.user, w.nx, m->cr0_wp);
	if (flags & GPT_SET_AD)
		return; /* the tables changed under the walk: nothing more to compare */
	/* The same walk again, and every weaker access: the same page. */
	for (sub = 0; sub < 32; sub++) {
		if ((sub & ~access) || (sub & ~(PF_EC_W | PF_EC_U | PF_EC_ID)))
			continue;
		r2 = gpt_walk(&ops, NULL, m, gva, sub, 0, &w2);
		FUZZ_CHECK(r2 == 0 && w2.gpa == w.gpa,
			   "access %#x gives %#llx, the weaker %#x gives %d (%#llx)", access,
			   (unsigned long long)w.gpa, sub, r2, (unsigned long long)w2.gpa);
	}
}

static void npt(struct fuzz_in *in, const struct gpt_mode *m)
{
	uint64_t ncr3 = (uint64_t)fuzz_below(in, FRAMES + 1) << 12, ngpa = fuzz_u64(in), info1 = 0;
	uint8_t f = fuzz_u8(in);
	unsigned access = f & (PF_EC_W | PF_EC_ID | PF_EC_U);
	bool table = f & 0x80;
	struct gpt_mode lm = { .paging = GPT_PAGING_LONG, .cr3 = ncr3, .cr0_wp = true,
			       .efer_nxe = m->efer_nxe, .maxphyaddr = m->maxphyaddr };
	uint64_t addr;
	unsigned want_access = table ? (PF_EC_W | PF_EC_U) : ((access & (PF_EC_W | PF_EC_ID)) | PF_EC_U);
	struct gpt_walk w, ref;
	int r, rr;

	if (f & 0x40)
		ngpa &= (1ull << 48) - 1;
	addr = (ngpa & (1ull << 47)) ? ngpa | ~((1ull << 48) - 1) : ngpa;
	rr = gpt_walk(&ops, NULL, &lm, addr, want_access, 0, &ref);
	r = svm_npt_translate(&ops, NULL, ncr3, m->efer_nxe, m->maxphyaddr, ngpa, access, table, &w,
			      &info1);
	if (ngpa >> 48) {
		FUZZ_CHECK(r == -SHADOW_EINVAL, "ngpa %#llx gives %d", (unsigned long long)ngpa, r);
		return;
	}
	FUZZ_CHECK(r == 0 || r == SVM_NPT_FAULT || r == -SHADOW_EFAULT, "nested result %d", r);
	if (r == SVM_NPT_FAULT) {
		FUZZ_CHECK(rr == GPT_PAGE_FAULT && (uint32_t)info1 == ref.error_code,
			   "nested fault %#llx, the walk gives %d (%#x)", (unsigned long long)info1, rr,
			   ref.error_code);
		FUZZ_CHECK((info1 >> 32) == (table ? 2u : 1u), "EXITINFO1 %#llx for a %s access",
			   (unsigned long long)info1, table ? "guest table" : "final");
		FUZZ_CHECK(info1 & PF_EC_U, "nested fault %#llx is not a user access",
			   (unsigned long long)info1);
	} else if (r == 0) {
		FUZZ_CHECK(rr == 0 && w.gpa == ref.gpa, "nested %#llx -> %#llx, the walk gives %d (%#llx)",
			   (unsigned long long)ngpa, (unsigned long long)w.gpa, rr,
			   (unsigned long long)ref.gpa);
		FUZZ_CHECK(w.user, "nested translation without U at every level");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);
	struct gpt_mode m;
	unsigned steps = 0;

	memset(mem, 0, sizeof(mem));
	read_mode(&in, &m);
	while (!in.done && steps++ < 256) {
		uint8_t cmd = fuzz_u8(&in);

		switch (cmd % 4) {
		case 0: { /* store an entry */
			uint64_t at = (uint64_t)fuzz_below(&in, MEM_BYTES / 4) * 4, v = fuzz_u64(&in);
			if (cmd & 4)
				v = (v & ~0x000ffffffffff000ull) | ((v >> 12) % FRAMES) << 12;
			memcpy(mem + at, &v, at + 8 <= MEM_BYTES ? 8 : 4);
			break;
		}
		case 1: { /* walk */
			uint64_t gva = fuzz_u64(&in);
			uint8_t f = fuzz_u8(&in);
			if (f & 0x80) /* canonical */
				gva = (gva & (1ull << 47)) ? gva | ~((1ull << 48) - 1) : gva & ((1ull << 48) - 1);
			walk(&m, gva, f & (PF_EC_W | PF_EC_U | PF_EC_ID), (f & 0x40) ? GPT_SET_AD : 0);
			break;
		}
		case 2:
			npt(&in, &m);
			break;
		default:
			read_mode(&in, &m);
			break;
		}
	}
	return 0;
}
