/* Audit mode (see audit.h). */
#include <string.h>

#include "guests/lib/nbguest.h"
#include "l1-vmm/audit.h"
#include "l1-vmm/exits.h"
#include "l1-vmm/guest_mem.h"
#include "l1-vmm/trace.h"
#include "shadow/insn_decode.h"
#include "shadow/sensitivity.h"

/* Decoder mnemonic -> the sensitivity table's entry, built once (the table is keyed by name). */
static const struct nb_sens_insn *by_mnemonic[INSN_MNEMONIC_COUNT];

void audit_init(struct vcpu *v, bool audit, bool faithful)
{
	unsigned m;
	size_t i;

	v->audit = audit;
	v->faithful = faithful;
	if (!audit)
		return;
	for (m = 0; m < INSN_MNEMONIC_COUNT; m++)
		for (i = 0; i < nb_sens_count; i++)
			if (nb_sens_table[i].decoder && !nb_strcmp(nb_sens_table[i].decoder, insn_mnemonic_name(m)))
				by_mnemonic[m] = &nb_sens_table[i];
}

bool audit_before_entry(struct vcpu *v)
{
	if (v->faithful && emulate_sensitive_at_rip(v))
		return true;
	v->audit_step = v->faithful || (v->audit && v->vmcb.save.cpl == 0);
	if (v->audit_step) {
		v->audit_rip = v->vmcb.save.rip;
		v->audit_rsp = v->vmcb.save.rsp;
	}
	return false;
}

/* What the guest saw and what it should have seen, where nbvmm can tell (0 and 0 elsewhere). */
static void observed_expected(struct vcpu *v, const struct insn *in, uint64_t *seen, uint64_t *want)
{
	const struct vmcb_save_area *s = &v->vmcb.save;
	const struct vmcb_seg *segs[6] = {&s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs};
	uint64_t pf_addr, top = 0;
	uint32_t pf_ec;

	switch (in->mnemonic) {
	case INSN_PUSHF:
		/* The real flags it pushed carry the real IOPL (0); the guest believes in its own. */
		if (guest_virt_access(v, s->rsp, &top, in->opsize, 0, &pf_ec, &pf_addr) == 0) {
			*seen = top;
			*want = (top & ~X86_RFLAGS_IOPL) | (s->rflags & X86_RFLAGS_IOPL);
		}
		break;
	case INSN_MOV_FROM_SREG:
		if (!in->has_mem && in->sreg < 6) {
			*seen = *vcpu_gpr(v, in->rm) & 0xffff;
			*want = segs[in->sreg]->selector;
		}
		break;
	case INSN_SMSW:
		if (!in->has_mem) {
			*seen = *vcpu_gpr(v, in->rm) & 0xffff;
			*want = s->cr0 & 0xffff;
		}
		break;
	default:
		break;
	}
}

bool audit_after_exit(struct vcpu *v)
{
	struct vmcb_save_area *s = &v->vmcb.save;
	struct nb_trace_record rec = {0};
	const struct nb_sens_insn *e;
	uint8_t bytes[INSN_MAX_LEN];
	uint64_t pf_addr;
	uint32_t pf_ec;
	struct insn in;
	unsigned n;

	if (!v->audit_step)
		return false;
	v->audit_step = false;
	s->rflags &= ~X86_RFLAGS_TF;
	if (v->vmcb.control.exit_code != SVM_EXIT_EXCP_DB)
		return false; /* the instruction trapped: nbvmm handles it as usual */
	/* Faithful mode steps user mode too; the audit is of the kernel's instructions (an
	 * instruction that ran natively cannot have changed the virtual CPL). */
	if (!v->audit || v->vmcb.save.cpl != 0)
		return true;
	/* The instruction at audit_rip ran natively (the page is mapped: it just executed). */
	for (n = INSN_MAX_LEN; n && guest_virt_access(v, s->cs.base + v->audit_rip, bytes, n, GUEST_ACC_FETCH,
						       &pf_ec, &pf_addr) != 0; n--)
		;
	if (!n || insn_decode(bytes, n, (s->cs.attrib & VMCB_SEG_ATTR_L) ? INSN_MODE_64 : INSN_MODE_32, &in) != 0)
		return true;
	e = in.mnemonic < INSN_MNEMONIC_COUNT ? by_mnemonic[in.mnemonic] : NULL;
	if (!e || !nb_sens_is_sensitive(e) || (e->flags & NB_SENS_PRIVILEGED))
		return true;
	rec.kind = NB_EV_VIOLATION;
	rec.rip = v->audit_rip;
	rec.aux = e->id;
	rec.insn_len = in.len;
	memcpy(rec.insn, bytes, in.len);
	observed_expected(v, &in, &rec.old_val, &rec.new_val);
	trace_guest_event(v, &rec);
	return true;
}
