/*
 * Fuzz harness: virtual SVM's checks and merge (shadow/svm_nested.c). A nested hypervisor hands
 * VMRUN a VMCB it wrote as it liked: nbvmm must refuse what the architecture refuses, and what it
 * runs must keep both its own intercepts and the nested hypervisor's.
 *
 * Input: the virtual CPU's capabilities, nbvmm's own controls, VMCB12 (controls and save area),
 * the nested guest's state at an exit, then exits (code, EXITINFO1, ECX) until the input ends.
 * The nested hypervisor's memory, where its permission maps are, is a fixed pattern. Checked:
 *   - svm_nested_check_vmcb returns a known reason with its string, the save area's reason if
 *     it has one, else the controls'; a VMCB it accepts has EFER.SVME, the VMRUN intercept, an
 *     ASID, a legal EVENTINJ, CR0 without NW-without-CD, and no nested paging unless offered;
 *   - the merge: every intercept word is own | nested, the origin masks are disjoint and make up
 *     that word exactly; the TLB flush is at least as strong as either side's; the TSC offset is
 *     the sum; ASID, permission maps and nested paging are nbvmm's; the nested guest's interrupt
 *     state and event injection are VMCB12's; clean bits and exit fields are zero;
 *   - routing: an exit VMCB12 intercepts (by its bit, or its IOPM or MSRPM read bit by bit
 *     here) is reflected, others are not; every exit reflected has its intercept in the merged
 *     controls too, so the nested guest cannot run past an intercept its hypervisor asked for;
 *     the origin of an exit names the side(s) whose bit is set;
 *   - #VMEXIT writes exactly the state the manual lists and clears EVENTINJ.V; VMLOAD and
 *     VMSAVE copy their fields both ways.
 */
#include <stddef.h>
#include <string.h>

#include "shadow/svm_exit.h"
#include "shadow/svm_nested.h"
#include "tests/fuzz/fuzz.h"

#define MEM_BYTES 0x10000u /* the nested hypervisor's memory: its permission maps live here */

static uint8_t mem_byte(uint64_t gpa)
{
	return (uint8_t)((gpa * 0x9du) ^ (gpa >> 7) ^ 0x5a);
}

static int mem_read(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	uint8_t *b = buf;
	unsigned i;

	(void)opaque;
	if (gpa >= MEM_BYTES || len > MEM_BYTES - gpa)
		return -1;
	for (i = 0; i < len; i++)
		b[i] = mem_byte(gpa + i);
	return 0;
}

static const struct shadow_ops ops = { .read_gpa = mem_read };

/* One bit of a permission map as the reference reads it: unreadable counts as set. */
static bool map_bit(uint64_t base_pa, uint64_t bit)
{
	uint8_t v;

	if (mem_read(NULL, (base_pa & ~0xfffull) + bit / 8, &v, 1) < 0)
		return true;
	return (v >> (bit % 8)) & 1;
}

static bool ref_ioio(const struct vmcb_control *c, uint64_t info1)
{
	unsigned port = (unsigned)(info1 >> SVM_IOIO_PORT_SHIFT) & 0xffff, size, i;

	if (!(c->intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT))
		return false;
	size = (info1 & SVM_IOIO_SIZE32) ? 4 : (info1 & SVM_IOIO_SIZE16) ? 2 : 1;
	for (i = 0; i < size; i++)
		if (map_bit(c->iopm_base_pa, port + i))
			return true;
	return false;
}

static bool ref_msr(const struct vmcb_control *c, uint32_t msr, uint64_t info1)
{
	uint64_t off;

	if (!(c->intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT))
		return false;
	if (msr <= 0x1fff)
		off = 0;
	else if (msr >= 0xc0000000u && msr <= 0xc0001fffu)
		off = 0x800 * 8, msr -= 0xc0000000u;
	else if (msr >= 0xc0010000u && msr <= 0xc0011fffu)
		off = 0x1000 * 8, msr -= 0xc0010000u;
	else
		return true;
	return map_bit(c->msrpm_base_pa, off + 2ull * msr + (info1 & 1));
}

static uint32_t word_of(const struct vmcb_control *c, unsigned w)
{
	const uint32_t v[SVM_INTERCEPT_WORDS] = { c->intercept_cr, c->intercept_dr,
						  c->intercept_exceptions, c->intercept_misc1,
						  c->intercept_misc2, c->intercept_misc3 };
	return v[w];
}

static unsigned tlb_strength(uint8_t t)
{
	return t == VMCB_TLB_CONTROL_DO_NOTHING ? 0 : t == VMCB_TLB_CONTROL_FLUSH_ASID_LOCAL ? 1
					       : t == VMCB_TLB_CONTROL_FLUSH_ASID ? 2 : 3;
}

static void check_vmcb(const struct vmcb *v, const struct svm_nested_caps *caps)
{
	const char *why = NULL;
	int r = svm_nested_check_vmcb(v, caps, &why), rs, rc;
	const struct vmcb_control *c = &v->control;
	uint32_t type = c->event_inj & SVM_EVTINJ_TYPE_MASK;

	FUZZ_CHECK(r >= 0 && r < SVM_NESTED_CHECK_COUNT, "reason %d", r);
	FUZZ_CHECK(why && why == svm_nested_check_str(r), "reason %d: string %p", r, (const void *)why);
	rs = svm_nested_check_save(&v->save, caps);
	rc = svm_nested_check_controls(c, caps);
	FUZZ_CHECK(r == (rs != SVM_NESTED_VALID ? rs : rc), "check %d, save %d, controls %d", r, rs, rc);
	if (r != SVM_NESTED_VALID)
		return;
	FUZZ_CHECK(v->save.efer & X86_EFER_SVME, "accepted without EFER.SVME");
	FUZZ_CHECK(!(v->save.efer & ~caps->efer_valid), "accepted EFER %#llx",
		   (unsigned long long)v->save.efer);
	FUZZ_CHECK(!(v->save.cr4 & ~caps->cr4_valid), "accepted CR4 %#llx",
		   (unsigned long long)v->save.cr4);
	FUZZ_CHECK((v->save.cr0 & X86_CR0_CD) || !(v->save.cr0 & X86_CR0_NW), "accepted CR0 %#llx",
		   (unsigned long long)v->save.cr0);
	FUZZ_CHECK(c->intercept_misc2 & VMCB_CTRL_INTERCEPT_MISC2_VMRUN, "accepted without VMRUN intercept");
	FUZZ_CHECK(c->asid != 0, "accepted ASID 0");
	FUZZ_CHECK(caps->np || !(c->nested_ctl & SVM_NESTED_CTL_NP_ENABLE), "accepted NP_ENABLE");
	FUZZ_CHECK(!(c->event_inj & SVM_EVTINJ_VALID) ||
			   ((type == SVM_EVTINJ_TYPE_INTR || type == SVM_EVTINJ_TYPE_NMI ||
			     type == SVM_EVTINJ_TYPE_EXEPT || type == SVM_EVTINJ_TYPE_SOFT) &&
			    !(type == SVM_EVTINJ_TYPE_EXEPT && (c->event_inj & 0xff) == 2)),
		   "accepted EVENTINJ %#x", c->event_inj);
}

static void check_merge(const struct vmcb_control *own, const struct vmcb_control *nested,
			const struct vmcb_control *out, const struct svm_nested_origin *o)
{
	const uint32_t nested_int = V_TPR_MASK | V_IRQ_MASK | V_INTR_PRIO_MASK | V_IGN_TPR_MASK |
				    V_INTR_MASKING_MASK;
	unsigned w;

	for (w = 0; w < SVM_INTERCEPT_WORDS; w++) {
		uint32_t a = word_of(own, w), b = word_of(nested, w), m = word_of(out, w);
		const struct svm_intercept_origin *g = &o->word[w];

		FUZZ_CHECK(m == (a | b), "word %u: own %#x | nested %#x, merged %#x", w, a, b, m);
		FUZZ_CHECK(!(g->own_only & g->nested_only) && !(g->own_only & g->both) &&
				   !(g->nested_only & g->both) &&
				   (g->own_only | g->nested_only | g->both) == m,
			   "word %u: origin %#x %#x %#x for %#x", w, g->own_only, g->nested_only, g->both, m);
		FUZZ_CHECK(g->own_only == (a & ~b) && g->nested_only == (b & ~a) && g->both == (a & b),
			   "word %u: origin does not say who asked", w);
	}
	FUZZ_CHECK(out->tlb_ctl == own->tlb_ctl || out->tlb_ctl == nested->tlb_ctl, "TLB control %u",
		   out->tlb_ctl);
	FUZZ_CHECK(tlb_strength(out->tlb_ctl) >= tlb_strength(own->tlb_ctl) &&
			   tlb_strength(out->tlb_ctl) >= tlb_strength(nested->tlb_ctl),
		   "TLB control %u weaker than own %u or nested %u", out->tlb_ctl, own->tlb_ctl,
		   nested->tlb_ctl);
	FUZZ_CHECK(out->tsc_offset == own->tsc_offset + nested->tsc_offset, "TSC offset");
	FUZZ_CHECK(out->asid == own->asid && out->iopm_base_pa == own->iopm_base_pa &&
			   out->msrpm_base_pa == own->msrpm_base_pa && out->nested_ctl == own->nested_ctl &&
			   out->nested_cr3 == own->nested_cr3 && out->avic_vapic_bar == own->avic_vapic_bar &&
			   out->ghcb_gpa == own->ghcb_gpa && out->virt_ext == own->virt_ext,
		   "a field that must be nbvmm's came from VMCB12");
	FUZZ_CHECK(out->int_ctl == ((nested->int_ctl & nested_int) | (own->int_ctl & ~nested_int)),
		   "int_ctl %#x from own %#x and nested %#x", out->int_ctl, own->int_ctl, nested->int_ctl);
	FUZZ_CHECK(out->int_vector == nested->int_vector && out->int_state == nested->int_state &&
			   out->event_inj == nested->event_inj && out->event_inj_err == nested->event_inj_err &&
			   out->next_rip == nested->next_rip,
		   "a field of the nested guest's own state did not come from VMCB12");
	FUZZ_CHECK(out->clean == 0 && out->exit_code == 0 && out->exit_info_1 == 0 &&
			   out->exit_info_2 == 0 && out->exit_int_info == 0 && out->exit_int_info_err == 0 &&
			   out->insn_len == 0,
		   "clean bits or exit fields left set");
	FUZZ_CHECK((nested->intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_PAUSE)
			   ? out->pause_filter_count == nested->pause_filter_count &&
				     out->pause_filter_thresh == nested->pause_filter_thresh
			   : out->pause_filter_count == own->pause_filter_count &&
				     out->pause_filter_thresh == own->pause_filter_thresh,
		   "pause filter");
}

static void check_exit(const struct vmcb_control *own, const struct vmcb_control *nested,
		       const struct vmcb_control *merged, const struct svm_nested_origin *o,
		       uint64_t code, uint64_t info1, uint32_t ecx)
{
	bool wanted = svm_nested_exit_wanted(nested, code, info1, ecx, &ops, NULL), want;
	enum svm_origin origin = svm_nested_exit_origin(o, code);
	bool has_bit = code < 32u * SVM_INTERCEPT_WORDS;
	uint32_t bit = has_bit ? 1u << (code % 32) : 0;
	unsigned w = has_bit ? (unsigned)(code / 32) : 0;

	if (code == SVM_EXIT_IOIO)
		want = ref_ioio(nested, info1);
	else if (code == SVM_EXIT_MSR)
		want = ref_msr(nested, ecx, info1);
	else if (code == SVM_EXIT_NPF)
		want = nested->nested_ctl & SVM_NESTED_CTL_NP_ENABLE;
	else if (code == SVM_EXIT_INVALID || code == SVM_EXIT_BUSY)
		want = true;
	else
		want = has_bit && (word_of(nested, w) & bit);
	FUZZ_CHECK(wanted == want, "exit %#llx (info1 %#llx, ecx %#x): reflected %d, VMCB12 asks %d",
		   (unsigned long long)code, (unsigned long long)info1, ecx, wanted, want);
	if (wanted && has_bit)
		FUZZ_CHECK(word_of(merged, w) & bit, "exit %#llx reflected but not intercepted when merged",
			   (unsigned long long)code);
	if (code == SVM_EXIT_IOIO && wanted)
		FUZZ_CHECK(merged->intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT, "IOIO_PROT lost");
	if (code == SVM_EXIT_MSR && wanted)
		FUZZ_CHECK(merged->intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT, "MSR_PROT lost");
	if (has_bit) {
		bool a = word_of(own, w) & bit, b = word_of(nested, w) & bit;
		enum svm_origin expect = a && b ? SVM_ORIGIN_BOTH : b ? SVM_ORIGIN_NESTED
							  : a ? SVM_ORIGIN_OWN : SVM_ORIGIN_NONE;
		FUZZ_CHECK(origin == expect, "exit %#llx: origin %d, expected %d",
			   (unsigned long long)code, origin, expect);
	} else {
		FUZZ_CHECK(origin == SVM_ORIGIN_NONE, "exit %#llx without a bit has origin %d",
			   (unsigned long long)code, origin);
	}
}

static void check_vmexit(const struct vmcb *before, const struct vmcb *cur, uint64_t code,
			 uint64_t info1, uint64_t info2, uint32_t eii, uint32_t eiie, uint64_t nrip)
{
	static struct vmcb after, expect;
	const uint32_t int_ctl = V_TPR_MASK | V_IRQ_MASK;
	const uint32_t int_state = SVM_INTERRUPT_SHADOW_MASK | SVM_GUEST_INTERRUPT_MASK;

	after = *before;
	svm_nested_vmexit_fill(&after, cur, code, info1, info2, eii, eiie, nrip);
	/* What the manual says #VMEXIT writes, onto the VMCB as it was. */
	expect = *before;
	expect.save.es = cur->save.es;
	expect.save.cs = cur->save.cs;
	expect.save.ss = cur->save.ss;
	expect.save.ds = cur->save.ds;
	expect.save.gdtr = cur->save.gdtr;
	expect.save.idtr = cur->save.idtr;
	expect.save.efer = cur->save.efer;
	expect.save.cr0 = cur->save.cr0;
	expect.save.cr2 = cur->save.cr2;
	expect.save.cr3 = cur->save.cr3;
	expect.save.cr4 = cur->save.cr4;
	expect.save.rflags = cur->save.rflags;
	expect.save.rip = cur->save.rip;
	expect.save.rsp = cur->save.rsp;
	expect.save.rax = cur->save.rax;
	expect.save.dr6 = cur->save.dr6;
	expect.save.dr7 = cur->save.dr7;
	expect.save.cpl = cur->save.cpl;
	expect.control.int_ctl = (before->control.int_ctl & ~int_ctl) | (cur->control.int_ctl & int_ctl);
	expect.control.int_state = (before->control.int_state & ~int_state) |
				   (cur->control.int_state & int_state);
	expect.control.exit_code = code;
	expect.control.exit_info_1 = info1;
	expect.control.exit_info_2 = info2;
	expect.control.exit_int_info = eii;
	expect.control.exit_int_info_err = eiie;
	expect.control.next_rip = nrip;
	expect.control.event_inj &= ~SVM_EVTINJ_VALID;
	FUZZ_CHECK(memcmp(&after, &expect, sizeof(after)) == 0,
		   "#VMEXIT wrote something the manual does not list, or missed something it does");
}

static void check_vmloadsave(const struct vmcb_save_area *a, const struct vmcb_save_area *b)
{
	static struct vmcb_save_area cpu, vmcb;

	cpu = *a;
	svm_vmload_fields(&cpu, b);
	vmcb = *b;
	svm_vmsave_fields(&vmcb, &cpu);
	FUZZ_CHECK(memcmp(&vmcb, b, sizeof(vmcb)) == 0, "VMSAVE after VMLOAD changed the VMCB");
	FUZZ_CHECK(cpu.rip == a->rip && cpu.cr3 == a->cr3 && cpu.efer == a->efer && cpu.cs.base == a->cs.base &&
			   cpu.fs.base == b->fs.base && cpu.tr.limit == b->tr.limit && cpu.star == b->star &&
			   cpu.sysenter_eip == b->sysenter_eip && cpu.kernel_gs_base == b->kernel_gs_base,
		   "VMLOAD copied the wrong fields");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmcb own, v12, cur;
	struct fuzz_in in = fuzz_in(data, size);
	struct svm_nested_caps caps;
	struct vmcb_control merged;
	struct svm_nested_origin origin;
	unsigned exits = 0;
	uint8_t f;

	memset(&own, 0, sizeof(own));
	memset(&v12, 0, sizeof(v12));
	memset(&cur, 0, sizeof(cur));
	f = fuzz_u8(&in);
	caps.maxphyaddr = (uint8_t)(32 + fuzz_below(&in, 21));
	caps.np = f & 1;
	caps.cr4_valid = fuzz_u64(&in);
	caps.efer_valid = fuzz_u64(&in) | X86_EFER_SVME;
	fuzz_copy(&in, &own.control, offsetof(struct vmcb_control, reserved_0e0));
	fuzz_copy(&in, &v12.control, offsetof(struct vmcb_control, reserved_0e0));
	fuzz_copy(&in, &v12.save, sizeof(v12.save));
	if (f & 2) { /* permission maps inside the nested hypervisor's memory */
		v12.control.iopm_base_pa %= MEM_BYTES;
		v12.control.msrpm_base_pa %= MEM_BYTES;
	}
	fuzz_copy(&in, &cur.save, sizeof(cur.save));
	cur.control.int_ctl = fuzz_u32(&in);
	cur.control.int_state = fuzz_u32(&in);

	check_vmcb(&v12, &caps);
	memset(&merged, 0xcc, sizeof(merged));
	svm_nested_merge_controls(&own.control, &v12.control, &merged, &origin);
	check_merge(&own.control, &v12.control, &merged, &origin);
	check_vmloadsave(&cur.save, &v12.save);
	while (!in.done && exits++ < 64) {
		uint16_t sel = fuzz_u16(&in);
		uint64_t code = sel & 0x8000 ? (uint64_t)(int64_t)(int16_t)sel : sel & 0x7ff;
		uint64_t info1 = fuzz_u64(&in);
		uint32_t ecx = fuzz_u32(&in);

		check_exit(&own.control, &v12.control, &merged, &origin, code, info1, ecx);
		if (exits == 1)
			check_vmexit(&v12, &cur, code, info1, fuzz_u64(&in), ecx, (uint32_t)info1, info1 ^ ecx);
	}
	return 0;
}
