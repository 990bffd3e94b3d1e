/* Guest memory as nbvmm sees it, and the shadow/ operations table over it. */
#include <string.h>

#include "l1-vmm/guest_mem.h"
#include "l1-vmm/nested_svm.h"
#include "l1-vmm/page_alloc.h"
#include "l1-vmm/trace.h"
#include "shadow/gpt_walk.h"

void *guest_phys_ptr(struct vcpu *v, uint64_t gpa, uint64_t len)
{
	uint64_t hgpa;

	/* A nested guest under nested paging: its hypervisor's nested page table says where each
	 * of its pages is (an access never crosses a page here). */
	if (v->npt) {
		if ((gpa & 4095) + len > 4096 || nested_svm_npt_gpa(v, gpa, false, &hgpa, NULL) < 0)
			return NULL;
		return guest_phys_ptr(v->parent, hgpa, len);
	}
	if (gpa >= v->mem_size || len > v->mem_size - gpa)
		return NULL;
	return phys_to_virt(v->mem_hpa + gpa);
}

static int ops_read_gpa(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	void *p = guest_phys_ptr(opaque, gpa, len);

	if (!p)
		return -SHADOW_EFAULT;
	memcpy(buf, p, len);
	return 0;
}

static int ops_write_gpa(void *opaque, uint64_t gpa, const void *buf, unsigned len)
{
	void *p = guest_phys_ptr(opaque, gpa, len);

	if (!p)
		return -SHADOW_EFAULT;
	memcpy(p, buf, len);
	return 0;
}

static int ops_gpa_to_hpa(void *opaque, uint64_t gpa, uint64_t *hpa)
{
	struct vcpu *v = opaque;
	uint64_t hgpa;
	bool writable;

	if (v->npt) {
		if (nested_svm_npt_gpa(v, gpa, false, &hgpa, &writable) < 0 || ops_gpa_to_hpa(v->parent, hgpa, hpa) < 0)
			return -SHADOW_EFAULT;
		return writable ? 0 : SHADOW_GPA_READONLY;
	}

	if (gpa >= v->mem_size)
		return -SHADOW_EFAULT;
	*hpa = v->mem_hpa + (gpa & ~0xfffull);
	/* A page of the nested page table this guest gives its own guest: its writes are seen. */
	return nested_svm_npt_page(v, gpa) ? SHADOW_GPA_READONLY : 0;
}

static void *ops_alloc_page(void *opaque, uint64_t *hpa)
{
	(void)opaque;
	*hpa = page_alloc();
	return *hpa ? phys_to_virt(*hpa) : NULL;
}

static void ops_free_page(void *opaque, void *page, uint64_t hpa)
{
	(void)opaque;
	(void)page;
	page_free(hpa);
}

static void ops_trace(void *opaque, const struct nb_trace_record *rec)
{
	struct nb_trace_record r = *rec;

	/* Every change spt makes to translations is traced: the one place to notice them. */
	if (rec->kind != NB_EV_SHADOW_FILL)
		((struct vcpu *)opaque)->tlb_gen++;

	trace_guest_event(opaque, &r);
}

const struct shadow_ops nbvmm_shadow_ops = {
	.read_gpa = ops_read_gpa,
	.write_gpa = ops_write_gpa,
	.gpa_to_hpa = ops_gpa_to_hpa,
	.alloc_page = ops_alloc_page,
	.free_page = ops_free_page,
	.trace = ops_trace,
};

/*
 * nbvmm's own walks of the guest's tables (instruction fetch, exception delivery, emulated
 * accesses) come back to the same few pages trap after trap; each walk costs hundreds of
 * emulated instructions here. A hit needs the same page, CPL and translation generation, and
 * rights the walk that filled it checked: a write only after a write walk (which set the dirty
 * bit), a fetch only after a fetch walk.
 */
static unsigned soft_tlb_rights(unsigned acc)
{
	return SOFT_TLB_READ | (acc & GUEST_ACC_WRITE ? SOFT_TLB_WRITE : 0) | (acc & GUEST_ACC_FETCH ? SOFT_TLB_FETCH : 0);
}

static uint8_t *soft_tlb_lookup(struct vcpu *v, uint64_t gva, unsigned acc, uint64_t *gpa)
{
	struct soft_tlb *t = &v->soft_tlb[(gva >> 12) % SOFT_TLB_ENTRIES];
	unsigned need = soft_tlb_rights(acc);

	if (t->host && t->page == gva >> 12 && t->gen == v->tlb_gen && t->cpl == v->vmcb.save.cpl &&
	    (t->rights & need) == need) {
		*gpa = t->gpa + (gva & 4095);
		return t->host + (gva & 4095);
	}
	return NULL;
}

static void soft_tlb_insert(struct vcpu *v, uint64_t gva, unsigned acc, uint8_t *p, uint64_t gpa)
{
	struct soft_tlb *t = &v->soft_tlb[(gva >> 12) % SOFT_TLB_ENTRIES];
	unsigned rights = soft_tlb_rights(acc);

	if (t->host && t->page == gva >> 12 && t->gen == v->tlb_gen && t->cpl == v->vmcb.save.cpl)
		rights |= t->rights;
	*t = (struct soft_tlb){.page = gva >> 12, .gen = v->tlb_gen, .cpl = v->vmcb.save.cpl,
			       .rights = (uint8_t)rights, .host = p - (gva & 4095), .gpa = gpa & ~4095ull};
}

int guest_virt_access(struct vcpu *v, uint64_t gva, void *buf, size_t len, unsigned acc,
		      uint32_t *pf_error, uint64_t *pf_addr)
{
	uint8_t *b = buf;

	if (vcpu_cpl(v) == 3)
		acc |= GUEST_ACC_USER;
	while (len) {
		size_t chunk = 4096 - (gva & 4095);
		struct gpt_walk w;
		uint8_t *p;
		int rc;

		if (chunk > len)
			chunk = len;
		p = soft_tlb_lookup(v, gva, acc, &w.gpa);
		if (!p) {
			rc = gpt_walk(&nbvmm_shadow_ops, v, &v->spt.mode, gva, acc, GPT_SET_AD, &w);
			if (rc == GPT_PAGE_FAULT || rc == -SHADOW_EFAULT) {
				/* A table outside the guest's RAM reads as nothing there: not present, as
				 * KVM reports it one level up. */
				*pf_error = rc == GPT_PAGE_FAULT ? w.error_code
								 : acc & (GUEST_ACC_WRITE | GUEST_ACC_USER | GUEST_ACC_FETCH);
				*pf_addr = gva;
				return 1;
			}
			if (rc < 0)
				return rc;
			p = guest_phys_ptr(v, w.gpa, chunk);
			if (!p)
				return -SHADOW_EFAULT;
			soft_tlb_insert(v, gva, acc, p, w.gpa);
		}
		if ((acc & GUEST_ACC_WRITE) && !spt_gpa_is_table(&v->spt, w.gpa) && !nested_svm_npt_page(v, w.gpa)) {
			memcpy(p, b, chunk);
		} else if (acc & GUEST_ACC_WRITE) {
			uint64_t base = w.gpa & ~7ull, end = (w.gpa + chunk + 7) & ~7ull, q;
			uint64_t old[2];

			/* A guest page table (or a nested one it gives its guest): report each naturally
			 * aligned quadword the copy changes, before and after, so the shadows derived
			 * from it stay true. */
			for (q = base; q < end; q += 8) {
				uint64_t lo = q < w.gpa ? w.gpa : q, hi = q + 8 > w.gpa + chunk ? w.gpa + chunk : q + 8;
				uint64_t *word = guest_phys_ptr(v, q, 8);

				old[0] = *word;
				memcpy((uint8_t *)word + (lo - q), b + (lo - w.gpa), hi - lo);
				old[1] = *word;
				if (old[0] == old[1])
					continue;
				if (nested_svm_npt_page(v, q))
					nested_svm_npt_write(v, q, old[0], old[1]);
				else
					spt_pt_write(&v->spt, q, old[0], old[1]);
			}
		} else {
			memcpy(b, p, chunk);
		}
		b += chunk;
		gva += chunk;
		len -= chunk;
	}
	return 0;
}

int guest_sys_access(struct vcpu *v, uint64_t gva, void *buf, size_t len, unsigned acc)
{
	uint8_t cpl = v->vmcb.save.cpl;
	uint64_t addr;
	uint32_t ec;
	int rc;

	v->vmcb.save.cpl = 0;
	rc = guest_virt_access(v, gva, buf, len, acc, &ec, &addr);
	v->vmcb.save.cpl = cpl;
	return rc;
}

int guest_load_descriptor(struct vcpu *v, uint16_t sel, struct vmcb_seg *seg, int system)
{
	const struct vmcb_save_area *s = &v->vmcb.save;
	const struct vmcb_seg *table = (sel & 4) ? &s->ldtr : &s->gdtr;
	uint64_t d[2] = {0, 0};
	unsigned size = system ? 16 : 8;

	if ((sel & ~7u) + size - 1 > table->limit || guest_sys_access(v, table->base + (sel & ~7u), d, size, 0))
		return -1;
	seg->selector = sel;
	seg->attrib = (uint16_t)(((d[0] >> 40) & 0xff) | ((d[0] >> 44) & 0xf00));
	seg->limit = (uint32_t)((d[0] & 0xffff) | ((d[0] >> 32) & 0xf0000));
	if (seg->attrib & VMCB_SEG_ATTR_G)
		seg->limit = (seg->limit << 12) | 0xfff;
	seg->base = ((d[0] >> 16) & 0xffffff) | ((d[0] >> 32) & 0xff000000ull) | (system ? d[1] << 32 : 0);
	return 0;
}
