/*
 * Virtual SVM (see svm_nested.h). Section numbers are those of the AMD64 Architecture
 * Programmer's Manual, Volume 2 (System Programming), chapter 15 unless they say otherwise;
 * function names follow KVM's arch/x86/kvm/svm/nested.c where there is a counterpart.
 */
#include "shadow/svm_nested.h"

/* Bits lo..63; 0 when lo is 64 or more. */
static uint64_t bits_from(unsigned lo)
{
	return lo >= 64 ? 0 : ~0ull << lo;
}

/* ---------------------------------------------------------------------------------------------
 * 1. Consistency checks (§15.5.1 "Basic Operation", "Canonicalization and Consistency Checks").
 */

static const char *const svm_nested_check_strs[SVM_NESTED_CHECK_COUNT] = {
	[SVM_NESTED_VALID] = "consistent",
	[SVM_NESTED_EFER_SVME_CLEAR] = "EFER.SVME is zero",
	[SVM_NESTED_CR0_NW_WITHOUT_CD] = "CR0.CD is zero and CR0.NW is set",
	[SVM_NESTED_CR0_HIGH] = "CR0[63:32] are not zero",
	[SVM_NESTED_CR3_MBZ] = "an MBZ bit of CR3 is set",
	[SVM_NESTED_CR4_MBZ] = "an MBZ bit of CR4 is set",
	[SVM_NESTED_DR6_HIGH] = "DR6[63:32] are not zero",
	[SVM_NESTED_DR7_HIGH] = "DR7[63:32] are not zero",
	[SVM_NESTED_EFER_MBZ] = "an MBZ bit of EFER is set",
	[SVM_NESTED_LONG_WITHOUT_PAE] = "EFER.LME and CR0.PG are set and CR4.PAE is zero",
	[SVM_NESTED_LONG_WITHOUT_PE] = "EFER.LME and CR0.PG are set and CR0.PE is zero",
	[SVM_NESTED_LONG_CS_L_AND_D] = "EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D are all set",
	[SVM_NESTED_NO_VMRUN_INTERCEPT] = "the VMRUN intercept bit is clear",
	[SVM_NESTED_MSRPM_BEYOND_MAXPHYADDR] = "the MSR permission map extends beyond MAXPHYADDR",
	[SVM_NESTED_IOPM_BEYOND_MAXPHYADDR] = "the I/O permission map extends beyond MAXPHYADDR",
	[SVM_NESTED_EVENTINJ_TYPE] = "EVENTINJ has a reserved event type",
	[SVM_NESTED_EVENTINJ_NMI_EXCEPTION] = "EVENTINJ injects vector 2 (NMI) as an exception",
	[SVM_NESTED_ASID_ZERO] = "the guest ASID is 0 (the host's)",
	[SVM_NESTED_NP_UNSUPPORTED] = "nested paging is enabled but not offered",
	[SVM_NESTED_NCR3_MBZ] = "nCR3 has bits at or above MAXPHYADDR",
};

const char *svm_nested_check_str(int reason)
{
	if (reason < 0 || reason >= SVM_NESTED_CHECK_COUNT)
		return NULL;
	return svm_nested_check_strs[reason];
}

/*
 * The save-area half (KVM: nested_vmcb_check_save), §15.5.1's list in its order. These are
 * states the processor could never be in, so VMRUN refuses to load them rather than define what
 * they would mean.
 */
int svm_nested_check_save(const struct vmcb_save_area *s, const struct svm_nested_caps *caps)
{
	/* Long mode is being (or is) active: the combination the last three rules constrain, and
	 * the one in which CR3 has its 64-bit format (§5.3) rather than a 32-bit one (§5.2). */
	bool long_paging = (s->efer & X86_EFER_LME) && (s->cr0 & X86_CR0_PG);

	/* VMRUN is an SVM instruction executed on behalf of a guest that runs with SVM enabled;
	 * a guest state without EFER.SVME could not have come from a hypervisor's #VMEXIT. */
	if (!(s->efer & X86_EFER_SVME))
		return SVM_NESTED_EFER_SVME_CLEAR;
	/* CD=0, NW=1 is the one cache-control combination MOV CR0 refuses with #GP (§3.1.1). */
	if (!(s->cr0 & X86_CR0_CD) && (s->cr0 & X86_CR0_NW))
		return SVM_NESTED_CR0_NW_WITHOUT_CD;
	if (s->cr0 >> 32)
		return SVM_NESTED_CR0_HIGH;
	/* CR3 MBZ: in long mode the table address may not reach MAXPHYADDR, and bits 63:52 are
	 * reserved too (§5.3); in legacy mode, PAE or not, CR3 is a 32-bit register (§5.2), so
	 * bits 63:32 must be clear. */
	if (s->cr3 & bits_from(long_paging ? caps->maxphyaddr : 32))
		return SVM_NESTED_CR3_MBZ;
	if (s->cr4 & ~caps->cr4_valid)
		return SVM_NESTED_CR4_MBZ;
	if (s->dr6 >> 32)
		return SVM_NESTED_DR6_HIGH;
	if (s->dr7 >> 32)
		return SVM_NESTED_DR7_HIGH;
	if (s->efer & ~caps->efer_valid)
		return SVM_NESTED_EFER_MBZ;
	if (long_paging) {
		/* Activating long mode requires PAE and protected mode (§14.6): the same
		 * combinations MOV CR0 refuses with #GP. */
		if (!(s->cr4 & X86_CR4_PAE))
			return SVM_NESTED_LONG_WITHOUT_PAE;
		if (!(s->cr0 & X86_CR0_PE))
			return SVM_NESTED_LONG_WITHOUT_PE;
		/* CS.L=1 with CS.D=1 is reserved in long mode (§4.8.1). */
		if ((s->cs.attrib & VMCB_SEG_ATTR_L) && (s->cs.attrib & VMCB_SEG_ATTR_DB))
			return SVM_NESTED_LONG_CS_L_AND_D;
	}
	return SVM_NESTED_VALID;
}

/*
 * Does a permission map of `size` bytes at `base_pa` reach an address at or above MAXPHYADDR?
 * Bits 11:0 of the base are ignored by the processor (the maps are page-aligned, Table B-1).
 */
static bool svm_map_beyond(uint64_t base_pa, uint64_t size, uint8_t maxphyaddr)
{
	uint64_t base = base_pa & ~0xfffull, limit = 1ull << maxphyaddr;

	return base >= limit || limit - base < size;
}

/*
 * The control-area half (KVM: nested_vmcb_check_controls): the rest of §15.5.1's list, then
 * what KVM checks beyond it.
 */
int svm_nested_check_controls(const struct vmcb_control *c, const struct svm_nested_caps *caps)
{
	uint32_t type = c->event_inj & SVM_EVTINJ_TYPE_MASK;

	/* A guest that can execute VMRUN unintercepted could take over the real machine's SVM:
	 * the architecture makes the intercept mandatory (§15.5.1). */
	if (!(c->intercept_misc2 & VMCB_CTRL_INTERCEPT_MISC2_VMRUN))
		return SVM_NESTED_NO_VMRUN_INTERCEPT;
	/* The maps are read by the processor on each IN/OUT or RDMSR/WRMSR of the guest: they must
	 * lie in addressable memory (§15.5.1). They are consulted only under their intercept, so
	 * only then do they have to be valid. */
	if ((c->intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT) &&
	    svm_map_beyond(c->msrpm_base_pa, SVM_MSRPM_SIZE, caps->maxphyaddr))
		return SVM_NESTED_MSRPM_BEYOND_MAXPHYADDR;
	if ((c->intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT) &&
	    svm_map_beyond(c->iopm_base_pa, SVM_IOPM_SIZE, caps->maxphyaddr))
		return SVM_NESTED_IOPM_BEYOND_MAXPHYADDR;
	/* Illegal event injection (§15.20 "Event Injection"): TYPE 1, 5, 6 and 7 are reserved; an
	 * NMI must be injected as TYPE NMI, so vector 2 as an exception is refused. */
	if (c->event_inj & SVM_EVTINJ_VALID) {
		if (type != SVM_EVTINJ_TYPE_INTR && type != SVM_EVTINJ_TYPE_NMI &&
		    type != SVM_EVTINJ_TYPE_EXEPT && type != SVM_EVTINJ_TYPE_SOFT)
			return SVM_NESTED_EVENTINJ_TYPE;
		if (type == SVM_EVTINJ_TYPE_EXEPT && (c->event_inj & SVM_EVTINJ_VEC_MASK) == 2)
			return SVM_NESTED_EVENTINJ_NMI_EXCEPTION;
	}
	/* ASID 0 tags the host's own TLB entries; a guest running with it would share them
	 * (§15.16 "TLB Control": VMRUN with ASID 0 is illegal). */
	if (c->asid == 0)
		return SVM_NESTED_ASID_ZERO;
	if (c->nested_ctl & SVM_NESTED_CTL_NP_ENABLE) {
		/* A feature the virtual CPU does not report cannot be enabled (CPUID 8000_000Ah). */
		if (!caps->np)
			return SVM_NESTED_NP_UNSUPPORTED;
		/* nCR3 has the host's CR3 format (§15.25.4): no address bits at or above
		 * MAXPHYADDR. */
		if (c->nested_cr3 & bits_from(caps->maxphyaddr))
			return SVM_NESTED_NCR3_MBZ;
	}
	return SVM_NESTED_VALID;
}

int svm_nested_check_vmcb(const struct vmcb *v, const struct svm_nested_caps *caps,
			  const char **why)
{
	int r = svm_nested_check_save(&v->save, caps);

	if (r == SVM_NESTED_VALID)
		r = svm_nested_check_controls(&v->control, caps);
	if (why)
		*why = svm_nested_check_str(r);
	return r;
}

/* ---------------------------------------------------------------------------------------------
 * 2. Merge (KVM: nested_vmcb02_prepare_control and nested_vmcb02_recalc_intercepts).
 */

static uint32_t svm_merge_intercepts(uint32_t own, uint32_t nested,
				     struct svm_nested_origin *origin, enum svm_intercept_word w)
{
	if (origin) {
		origin->word[w].own_only = own & ~nested;
		origin->word[w].nested_only = nested & ~own;
		origin->word[w].both = own & nested;
	}
	return own | nested;
}

/* TLB_CONTROL values ordered by how much they flush; reserved values flush everything. */
static unsigned svm_tlb_ctl_strength(uint8_t tlb_ctl)
{
	switch (tlb_ctl) {
	case VMCB_TLB_CONTROL_DO_NOTHING:
		return 0;
	case VMCB_TLB_CONTROL_FLUSH_ASID_LOCAL:
		return 1;
	case VMCB_TLB_CONTROL_FLUSH_ASID:
		return 2;
	default:
		return 3;
	}
}

/* int_ctl bits that describe the nested guest's virtual interrupt state (§15.21). */
#define SVM_NESTED_INT_CTL_BITS \
	(V_TPR_MASK | V_IRQ_MASK | V_INTR_PRIO_MASK | V_IGN_TPR_MASK | V_INTR_MASKING_MASK)

void svm_nested_merge_controls(const struct vmcb_control *own, const struct vmcb_control *nested,
			       struct vmcb_control *out, struct svm_nested_origin *origin)
{
	unsigned i;

	out->intercept_cr = svm_merge_intercepts(own->intercept_cr, nested->intercept_cr, origin,
						 SVM_INTERCEPT_WORD_CR);
	out->intercept_dr = svm_merge_intercepts(own->intercept_dr, nested->intercept_dr, origin,
						 SVM_INTERCEPT_WORD_DR);
	out->intercept_exceptions = svm_merge_intercepts(own->intercept_exceptions,
							 nested->intercept_exceptions, origin,
							 SVM_INTERCEPT_WORD_EXCEPTION);
	out->intercept_misc1 = svm_merge_intercepts(own->intercept_misc1, nested->intercept_misc1,
						    origin, SVM_INTERCEPT_WORD_MISC1);
	out->intercept_misc2 = svm_merge_intercepts(own->intercept_misc2, nested->intercept_misc2,
						    origin, SVM_INTERCEPT_WORD_MISC2);
	out->intercept_misc3 = svm_merge_intercepts(own->intercept_misc3, nested->intercept_misc3,
						    origin, SVM_INTERCEPT_WORD_MISC3);
	for (i = 0; i < sizeof(out->reserved_018); i++)
		out->reserved_018[i] = 0;

	if (nested->intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_PAUSE) {
		out->pause_filter_thresh = nested->pause_filter_thresh;
		out->pause_filter_count = nested->pause_filter_count;
	} else {
		out->pause_filter_thresh = own->pause_filter_thresh;
		out->pause_filter_count = own->pause_filter_count;
	}
	out->iopm_base_pa = own->iopm_base_pa;
	out->msrpm_base_pa = own->msrpm_base_pa;
	out->tsc_offset = own->tsc_offset + nested->tsc_offset;

	out->asid = own->asid;
	out->tlb_ctl = svm_tlb_ctl_strength(nested->tlb_ctl) > svm_tlb_ctl_strength(own->tlb_ctl)
			       ? nested->tlb_ctl : own->tlb_ctl;
	for (i = 0; i < sizeof(out->reserved_05d); i++)
		out->reserved_05d[i] = 0;

	out->int_ctl = (nested->int_ctl & SVM_NESTED_INT_CTL_BITS) |
		       (own->int_ctl & ~SVM_NESTED_INT_CTL_BITS);
	out->int_vector = nested->int_vector;
	out->int_state = nested->int_state;
	out->reserved_06c = 0;

	out->exit_code = 0;
	out->exit_info_1 = 0;
	out->exit_info_2 = 0;
	out->exit_int_info = 0;
	out->exit_int_info_err = 0;

	out->nested_ctl = own->nested_ctl;
	out->avic_vapic_bar = own->avic_vapic_bar;
	out->ghcb_gpa = own->ghcb_gpa;
	out->event_inj = nested->event_inj;
	out->event_inj_err = nested->event_inj_err;
	out->nested_cr3 = own->nested_cr3;
	out->virt_ext = own->virt_ext;
	out->clean = 0;
	out->reserved_0c4 = 0;
	out->next_rip = nested->next_rip;
	out->insn_len = 0;
	for (i = 0; i < sizeof(out->insn_bytes); i++)
		out->insn_bytes[i] = 0;
	for (i = 0; i < sizeof(out->reserved_0e0); i++)
		out->reserved_0e0[i] = 0;
}

/*
 * The intercept bit an exit code comes from. Table B-1 lays the first six intercept vectors out
 * in exit-code order, 32 codes per vector: CR reads 0x00-0x0f and writes 0x10-0x1f are bits
 * 0-31 of the CR vector, DR likewise from 0x20, exception vectors from 0x40, then vectors 3, 4
 * and 5 from 0x60, 0x80 and 0xa0 (INTR 0x60 is bit 0 of vector 3, VMRUN 0x80 bit 0 of vector
 * 4...). Codes from 0xc0 up (NPF, AVIC, VMEXIT_INVALID...) have no intercept bit.
 */
static bool svm_exit_intercept_bit(uint64_t exit_code, enum svm_intercept_word *w, uint32_t *bit)
{
	if (exit_code >= 32u * SVM_INTERCEPT_WORDS)
		return false;
	*w = (enum svm_intercept_word)(exit_code / 32);
	*bit = 1u << (exit_code % 32);
	return true;
}

static uint32_t svm_intercept_vector(const struct vmcb_control *c, enum svm_intercept_word w)
{
	switch (w) {
	case SVM_INTERCEPT_WORD_CR:
		return c->intercept_cr;
	case SVM_INTERCEPT_WORD_DR:
		return c->intercept_dr;
	case SVM_INTERCEPT_WORD_EXCEPTION:
		return c->intercept_exceptions;
	case SVM_INTERCEPT_WORD_MISC1:
		return c->intercept_misc1;
	case SVM_INTERCEPT_WORD_MISC2:
		return c->intercept_misc2;
	case SVM_INTERCEPT_WORD_MISC3:
		return c->intercept_misc3;
	case SVM_INTERCEPT_WORDS:
		break;
	}
	return 0;
}

enum svm_origin svm_nested_exit_origin(const struct svm_nested_origin *origin, uint64_t exit_code)
{
	enum svm_intercept_word w;
	uint32_t bit;

	if (!svm_exit_intercept_bit(exit_code, &w, &bit))
		return SVM_ORIGIN_NONE;
	if (origin->word[w].both & bit)
		return SVM_ORIGIN_BOTH;
	if (origin->word[w].nested_only & bit)
		return SVM_ORIGIN_NESTED;
	if (origin->word[w].own_only & bit)
		return SVM_ORIGIN_OWN;
	return SVM_ORIGIN_NONE;
}

/* ---------------------------------------------------------------------------------------------
 * 3. Exit routing (KVM: nested_svm_intercept, nested_svm_intercept_ioio,
 * nested_svm_exit_handled_msr) and the reflected #VMEXIT (nested_svm_vmexit).
 */

/*
 * The I/O permission map (§15.10.1): one bit per port, set = intercept. An access of several
 * bytes is intercepted if the bit of any port it touches is set, which is why the map has a
 * third page: a 4-byte access at port 0xffff looks at bits 0x10000-0x10002. The port and the
 * size come from EXITINFO1 (§15.10.2). Bytes are read one at a time: an access covers at most
 * two, and they may lie in different pages.
 */
static bool svm_iopm_intercepts(const struct vmcb_control *nested, uint64_t info1,
				const struct shadow_ops *ops, void *opaque)
{
	uint64_t base = nested->iopm_base_pa & ~0xfffull;
	unsigned port = (unsigned)(info1 >> SVM_IOIO_PORT_SHIFT) & 0xffffu;
	unsigned size = (info1 & SVM_IOIO_SIZE32) ? 4 : (info1 & SVM_IOIO_SIZE16) ? 2 : 1;
	unsigned first = port / 8, last = (port + size - 1) / 8, byte;

	for (byte = first; byte <= last; byte++) {
		unsigned lo = byte == first ? port % 8 : 0;
		unsigned hi = byte == last ? (port + size - 1) % 8 : 7;
		uint8_t mask = (uint8_t)((0xffu >> (7 - hi)) & (0xffu << lo)), v;

		if (ops->read_gpa(opaque, base + byte, &v, 1) < 0 || (v & mask))
			return true;
	}
	return false;
}

/*
 * The MSR permission map (§15.11): three 2 KiB ranges of two bits per MSR, the read bit (2n)
 * then the write bit (2n + 1), for MSRs 0000_0000-0000_1fff (offset 0), c000_0000-c000_1fff
 * (0x800) and c001_0000-c001_1fff (0x1000); the last 2 KiB are reserved. Returns the number of
 * the MSR's read bit, or -1 for an MSR outside every range, which always causes the exit.
 */
static int64_t svm_msrpm_bit(uint32_t msr)
{
	static const uint32_t range_start[3] = { 0x00000000u, 0xc0000000u, 0xc0010000u };
	unsigned i;

	for (i = 0; i < 3; i++)
		if (msr - range_start[i] <= 0x1fffu)
			return (int64_t)i * 0x800 * 8 + (int64_t)(msr - range_start[i]) * 2;
	return -1;
}

static bool svm_msrpm_intercepts(const struct vmcb_control *nested, uint32_t msr, uint64_t info1,
				 const struct shadow_ops *ops, void *opaque)
{
	int64_t bit = svm_msrpm_bit(msr);
	uint8_t v;

	if (bit < 0)
		return true;
	bit += (int64_t)(info1 & 1); /* EXITINFO1: 0 = RDMSR, 1 = WRMSR */
	if (ops->read_gpa(opaque, (nested->msrpm_base_pa & ~0xfffull) + (uint64_t)bit / 8, &v, 1) < 0)
		return true;
	return (v >> (bit % 8)) & 1;
}

bool svm_nested_exit_wanted(const struct vmcb_control *nested, uint64_t exit_code,
			    uint64_t exit_info_1, uint32_t ecx, const struct shadow_ops *ops,
			    void *opaque)
{
	enum svm_intercept_word w;
	uint32_t bit;

	switch (exit_code) {
	case SVM_EXIT_IOIO:
		return (nested->intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT) &&
		       svm_iopm_intercepts(nested, exit_info_1, ops, opaque);
	case SVM_EXIT_MSR:
		return (nested->intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT) &&
		       svm_msrpm_intercepts(nested, ecx, exit_info_1, ops, opaque);
	case SVM_EXIT_NPF:
		/* With its nested paging on, every fault of its tables is the nested
		 * hypervisor's to resolve; without it, the nested guest's guest-physical space is
		 * the nested hypervisor's own and a fault there is nbvmm's (§15.25.6). */
		return (nested->nested_ctl & SVM_NESTED_CTL_NP_ENABLE) != 0;
	case SVM_EXIT_INVALID:
	case SVM_EXIT_BUSY:
		return true;
	default:
		break;
	}
	if (!svm_exit_intercept_bit(exit_code, &w, &bit))
		return false;
	return (svm_intercept_vector(nested, w) & bit) != 0;
}

void svm_nested_vmexit_fill(struct vmcb *nested, const struct vmcb *current_guest_state,
			    uint64_t exit_code, uint64_t info1, uint64_t info2,
			    uint32_t exit_int_info, uint32_t exit_int_info_err, uint64_t next_rip)
{
	const struct vmcb_save_area *g = &current_guest_state->save;
	struct vmcb_save_area *s = &nested->save;
	struct vmcb_control *c = &nested->control;
	const uint32_t int_ctl_saved = V_TPR_MASK | V_IRQ_MASK;
	const uint32_t int_state_saved = SVM_INTERRUPT_SHADOW_MASK | SVM_GUEST_INTERRUPT_MASK;

	/* §15.6: the guest state #VMEXIT writes back to the VMCB - what VMRUN loaded from it. */
	s->es = g->es;
	s->cs = g->cs;
	s->ss = g->ss;
	s->ds = g->ds;
	s->gdtr = g->gdtr;
	s->idtr = g->idtr;
	s->efer = g->efer;
	s->cr0 = g->cr0;
	s->cr2 = g->cr2;
	s->cr3 = g->cr3;
	s->cr4 = g->cr4;
	s->rflags = g->rflags;
	s->rip = g->rip;
	s->rsp = g->rsp;
	s->rax = g->rax;
	s->dr6 = g->dr6;
	s->dr7 = g->dr7;
	s->cpl = g->cpl;

	/* The virtual interrupt state the processor updates while the guest runs: V_TPR follows
	 * the guest's CR8 writes, V_IRQ is cleared when the virtual interrupt was taken (§15.21);
	 * the interrupt shadow is the guest's at the exit (§15.21). */
	c->int_ctl = (c->int_ctl & ~int_ctl_saved) |
		     (current_guest_state->control.int_ctl & int_ctl_saved);
	c->int_state = (c->int_state & ~int_state_saved) |
		       (current_guest_state->control.int_state & int_state_saved);

	c->exit_code = exit_code;
	c->exit_info_1 = info1;
	c->exit_info_2 = info2;
	c->exit_int_info = exit_int_info;
	c->exit_int_info_err = exit_int_info_err;
	c->next_rip = next_rip;
	/* The event VMRUN injected has been delivered, or its delivery was interrupted and is
	 * described by EXITINTINFO: either way it is no longer pending (§15.20). */
	c->event_inj &= ~SVM_EVTINJ_VALID;
}

/* ---------------------------------------------------------------------------------------------
 * 4. VMLOAD / VMSAVE (§15.5.2; KVM: svm_copy_vmloadsave_state). These registers are left out of
 * VMRUN and #VMEXIT because a hypervisor rarely needs to switch them on every world switch; it
 * does so on demand with VMLOAD and VMSAVE.
 */

static void svm_copy_vmloadsave_state(struct vmcb_save_area *to, const struct vmcb_save_area *from)
{
	to->fs = from->fs;
	to->gs = from->gs;
	to->tr = from->tr;
	to->ldtr = from->ldtr;
	to->kernel_gs_base = from->kernel_gs_base;
	to->star = from->star;
	to->lstar = from->lstar;
	to->cstar = from->cstar;
	to->sfmask = from->sfmask;
	to->sysenter_cs = from->sysenter_cs;
	to->sysenter_esp = from->sysenter_esp;
	to->sysenter_eip = from->sysenter_eip;
}

void svm_vmload_fields(struct vmcb_save_area *cpu, const struct vmcb_save_area *from)
{
	svm_copy_vmloadsave_state(cpu, from);
}

void svm_vmsave_fields(struct vmcb_save_area *to, const struct vmcb_save_area *cpu)
{
	svm_copy_vmloadsave_state(to, cpu);
}

/* ---------------------------------------------------------------------------------------------
 * 5. Nested page walk (§15.25; KVM: the nested NPT MMU and nested_svm_inject_npf_exit).
 */

int svm_npt_translate(const struct shadow_ops *ops, void *opaque, uint64_t ncr3, bool nxe,
		      uint8_t maxphyaddr, uint64_t ngpa, unsigned access, bool guest_table_access,
		      struct gpt_walk *w, uint64_t *npf_info1)
{
	/* The nested tables have the host's long-mode format, rooted at nCR3 (§15.25.4). CR0.WP
	 * and CR4.PSE do not matter: every access is a user one, and PSE only concerns 32-bit
	 * tables. */
	struct gpt_mode m = { .paging = GPT_PAGING_LONG, .cr3 = ncr3, .cr0_wp = true,
			      .cr4_pse = false, .efer_nxe = nxe, .maxphyaddr = maxphyaddr };
	unsigned nested_access;
	uint64_t addr;
	int r;

	if (ngpa >> 48)
		return -SHADOW_EINVAL;
	/* §15.25.5: nested table walks are user accesses. A guest page-table access is a user
	 * write whatever the guest instruction was: the processor may write the entry's A/D
	 * bits through it. */
	if (guest_table_access)
		nested_access = PF_EC_W | PF_EC_U;
	else
		nested_access = (access & (PF_EC_W | PF_EC_ID)) | PF_EC_U;
	/* gpt_walk takes a canonical linear address: give it ngpa with bit 47 copied upward. Only
	 * bits 47:0 choose the entries and the page offset, so the translation is ngpa's. */
	addr = (ngpa & (1ull << 47)) ? ngpa | ~((1ull << 48) - 1) : ngpa;
	r = gpt_walk(ops, opaque, &m, addr, nested_access, GPT_SET_AD, w);
	if (r != GPT_PAGE_FAULT)
		return r;
	/* §15.25.6: EXITINFO1 of #VMEXIT(NPF) is a #PF error code for the nested walk, plus
	 * whether the faulting access was the final guest-physical address or one of the guest's
	 * own page-table reads; EXITINFO2 is the guest-physical address. */
	*npf_info1 = w->error_code | (guest_table_access ? SVM_NPF_GUEST_TABLE : SVM_NPF_FINAL_GPA);
	return SVM_NPT_FAULT;
}
