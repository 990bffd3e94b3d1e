/* Exception and interrupt delivery through the guest's IDT, in 64-bit mode. */
#include "guests/lib/nbguest.h"
#include "l1-vmm/deliver.h"
#include "l1-vmm/guest_mem.h"
#include "l1-vmm/nested_svm.h"
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

/*
 * One delivery attempt, as the CPU makes it (AMD APM vol. 2, 8.7 for protected mode, 8.9 for
 * long mode): read the gate, check it, pick the stack, push the frame, load CS:RIP. Returns 0,
 * or -1 when the delivery itself faults (the caller escalates).
 */
static int deliver_once(struct vcpu *v, unsigned vector, bool has_err, uint32_t err, unsigned soft_len)
{
	struct vmcb_save_area *s = &v->vmcb.save;
	int lm = (s->efer & (1ull << 10)) != 0;
	unsigned gate_size = lm ? 16 : 8, w = lm ? 8 : 4, n = 0, new_cpl, type;
	uint64_t g[2] = {0, 0}, rsp, target, frame[6];
	uint16_t sel, new_ss = s->ss.selector;
	struct vmcb_seg cs;
	uint8_t buf[48];

	if (vector * gate_size + gate_size - 1 > s->idtr.limit ||
	    guest_sys_access(v, s->idtr.base + vector * gate_size, g, gate_size, 0))
		return -1;
	type = (g[0] >> 40) & 0x1f;
	/* Interrupt (0xe) and trap (0xf) gates of the mode's width; no task gates. */
	if (!((g[0] >> 47) & 1) || (type != 0x0e && type != 0x0f))
		return -1;
	if (soft_len && ((g[0] >> 45) & 3) < s->cpl)
		return -1;
	sel = (uint16_t)(g[0] >> 16);
	target = (g[0] & 0xffff) | ((g[0] >> 32) & 0xffff0000ull) | (lm ? g[1] << 32 : 0);
	if (guest_load_descriptor(v, sel, &cs, 0) < 0 || !(cs.attrib & VMCB_SEG_ATTR_P))
		return -1;
	new_cpl = (cs.attrib >> VMCB_SEG_ATTR_DPL_SHIFT) & 3;
	if (new_cpl > s->cpl)
		return -1;

	rsp = s->rsp;
	if (lm && ((g[0] >> 32) & 7)) {
		if (guest_sys_access(v, s->tr.base + 0x24 + 8 * (((g[0] >> 32) & 7) - 1), &rsp, 8, 0))
			return -1;
	} else if (new_cpl < s->cpl) {
		uint32_t esp_ss[2];
		if (lm) {
			if (guest_sys_access(v, s->tr.base + 4 + 8 * new_cpl, &rsp, 8, 0))
				return -1;
		} else {
			/* 32-bit TSS: ESPn at 4 + 8n, SSn at 8 + 8n. */
			if (guest_sys_access(v, s->tr.base + 4 + 8 * new_cpl, esp_ss, 8, 0))
				return -1;
			rsp = esp_ss[0];
			new_ss = (uint16_t)esp_ss[1];
		}
	}
	if (lm)
		rsp &= ~15ull;
	if (has_err)
		frame[n++] = err;
	frame[n++] = s->rip + soft_len;
	frame[n++] = s->cs.selector;
	frame[n++] = s->rflags;
	/* Long mode always pushes SS:RSP; protected mode only when the privilege level changes. */
	if (lm || new_cpl != s->cpl) {
		frame[n++] = s->rsp;
		frame[n++] = s->ss.selector;
	}
	for (unsigned i = 0; i < n; i++)
		__builtin_memcpy(buf + i * w, &frame[i], w);
	rsp -= (uint64_t)w * n;
	if (!lm)
		rsp &= 0xffffffffull;
	if (guest_sys_access(v, rsp, buf, w * n, GUEST_ACC_WRITE))
		return -1;

	s->rsp = rsp;
	s->rip = target;
	s->cs = cs;
	s->cs.selector = (uint16_t)((sel & ~3u) | new_cpl);
	if (new_cpl != s->cpl) {
		s->ss.selector = lm ? 0 : new_ss;
		if (!lm)
			guest_load_descriptor(v, new_ss, &s->ss, 0);
		v->segs_dirty = true;
	}
	s->cpl = (uint8_t)new_cpl;
	s->rflags &= ~(X86_RFLAGS_TF | X86_RFLAGS_NT | X86_RFLAGS_RF | X86_RFLAGS_VM);
	if (type == 0x0e)
		s->rflags &= ~X86_RFLAGS_IF;
	return 0;
}

void deliver_event(struct vcpu *v, unsigned vector, bool has_err, uint32_t err, unsigned soft_len)
{
	/* A nested guest's exception that its hypervisor intercepts is a #VMEXIT instead (APM vol.
	 * 2, 15.12); software interrupts other than INT3 and INTO have their own intercept. */
	if (v->parent && (!soft_len || vector == X86_VEC_BP || vector == 4) && nested_svm_route_exception(v, vector, err))
		return;
	deliver_event_idt(v, vector, has_err, err, soft_len);
}

void deliver_event_idt(struct vcpu *v, unsigned vector, bool has_err, uint32_t err, unsigned soft_len)
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
