/* Exception and interrupt delivery through the guest's IDT, in 64-bit mode. */
#include "guests/lib/nbguest.h"
#include "l1-vmm/deliver.h"
#include "l1-vmm/guest_mem.h"
#include "l1-vmm/trace.h"
#include "l0/nestbed.h"

bool x86_vector_has_error_code(unsigned vector)
{
	return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 ||
	       vector == 29 || vector == 30;
}

void vcpu_stop(struct vcpu *v, int status, const char *why)
{
	struct vmcb_save_area *s = &v->vmcb.save;
	struct nb_trace_record rec = {0};

	nb_printf("nbvmm: level %u guest stopped: %s\n", v->level, why);
	nb_printf("nbvmm:   RIP %llx RSP %llx RFLAGS %llx CPL %u CR0 %llx CR2 %llx CR3 %llx CR4 %llx EFER %llx\n",
		  (unsigned long long)s->rip, (unsigned long long)s->rsp, (unsigned long long)s->rflags, s->cpl,
		  (unsigned long long)s->cr0, (unsigned long long)s->cr2, (unsigned long long)s->cr3,
		  (unsigned long long)s->cr4, (unsigned long long)s->efer);
	if (status == NB_STATUS_CRASH) {
		rec.kind = NB_EV_SHUTDOWN;
		rec.exit_code = SVM_EXIT_SHUTDOWN;
		trace_guest_event(v, &rec);
	}
	v->stopped = true;
	v->exit_status = status;
}

void vcpu_shutdown(struct vcpu *v, const char *why)
{
	char msg[160];

	nb_snprintf(msg, sizeof(msg), "shut down (triple fault): %s", why);
	vcpu_stop(v, NB_STATUS_CRASH, msg);
}

/* Implicit supervisor accesses (IDT, TSS, the kernel stack) are made at CPL 0 whatever the
 * guest's CPL: pretend CPL 0 for their duration. */
static int sys_access(struct vcpu *v, uint64_t gva, void *buf, unsigned len, unsigned acc)
{
	uint8_t cpl = v->vmcb.save.cpl;
	uint32_t ec;
	uint64_t addr;
	int rc;

	v->vmcb.save.cpl = 0;
	rc = guest_virt_access(v, gva, buf, len, acc, &ec, &addr);
	v->vmcb.save.cpl = cpl;
	return rc;
}

struct idt_gate64 {
	uint16_t offset_lo, selector;
	uint8_t ist, type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi, reserved;
};

static int deliver_once(struct vcpu *v, unsigned vector, bool has_err, uint32_t err, unsigned soft_len)
{
	struct vmcb_save_area *s = &v->vmcb.save;
	struct idt_gate64 g;
	uint64_t frame[6], rsp, target;
	unsigned n = 0, new_cpl, type;

	if (vector * 16 + 15 > s->idtr.limit || sys_access(v, s->idtr.base + vector * 16, &g, 16, 0))
		return -1;
	type = g.type_attr & 0x1f;
	if (!(g.type_attr & 0x80) || (type != 0x0e && type != 0x0f))
		return -1;
	if (soft_len && ((g.type_attr >> 5) & 3) < s->cpl)
		return -1;
	new_cpl = g.selector & 3;
	target = g.offset_lo | (uint64_t)g.offset_mid << 16 | (uint64_t)g.offset_hi << 32;

	rsp = s->rsp;
	if (g.ist & 7) {
		if (sys_access(v, s->tr.base + 0x24 + 8 * ((g.ist & 7) - 1), &rsp, 8, 0))
			return -1;
	} else if (new_cpl < s->cpl) {
		if (sys_access(v, s->tr.base + 4 + 8 * new_cpl, &rsp, 8, 0))
			return -1;
	}
	rsp &= ~15ull;
	if (has_err)
		frame[n++] = err;
	frame[n++] = s->rip + soft_len;
	frame[n++] = s->cs.selector;
	frame[n++] = s->rflags;
	frame[n++] = s->rsp;
	frame[n++] = s->ss.selector;
	/* frame[] is in ascending address order from the new RSP. */
	rsp -= 8 * n;
	if (sys_access(v, rsp, frame, 8 * n, GUEST_ACC_WRITE))
		return -1;

	s->rsp = rsp;
	s->rip = target;
	s->cs.selector = g.selector;
	if (new_cpl != s->cpl)
		s->ss.selector = 0;
	s->cpl = (uint8_t)new_cpl;
	s->rflags &= ~(X86_RFLAGS_TF | X86_RFLAGS_NT | X86_RFLAGS_RF | X86_RFLAGS_VM);
	if (type == 0x0e)
		s->rflags &= ~X86_RFLAGS_IF;
	return 0;
}

void deliver_event(struct vcpu *v, unsigned vector, bool has_err, uint32_t err, unsigned soft_len)
{
	struct nb_trace_record rec = {0};

	rec.kind = NB_EV_EXCEPTION;
	rec.aux = vector;
	rec.exit_info1 = err;
	trace_guest_event(v, &rec);
	if (deliver_once(v, vector, has_err, err, soft_len) == 0)
		return;
	/* Delivery faulted: #GP with the IDT entry as the selector error code, then #DF. */
	if (vector != X86_VEC_DF && deliver_once(v, X86_VEC_GP, true, vector * 8 + 2, 0) == 0)
		return;
	if (vector != X86_VEC_DF && deliver_once(v, X86_VEC_DF, true, 0, 0) == 0)
		return;
	vcpu_shutdown(v, "exception delivery failed through the guest's IDT");
}
