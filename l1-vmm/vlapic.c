/* The guest's virtual local APIC (see vlapic.h). */
#include "guests/lib/nbkernel.h"
#include "l1-vmm/deliver.h"
#include "l1-vmm/trace.h"
#include "l1-vmm/vcpu.h"
#include "l1-vmm/vlapic.h"

#define APIC_ID 0x20
#define APIC_VERSION 0x30
#define APIC_TPR 0x80
#define APIC_APR 0x90
#define APIC_PPR 0xa0
#define APIC_EOI 0xb0
#define APIC_LDR 0xd0
#define APIC_DFR 0xe0
#define APIC_SVR 0xf0
#define APIC_ISR 0x100
#define APIC_TMR 0x180
#define APIC_IRR 0x200
#define APIC_ESR 0x280
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_THERMAL 0x330
#define APIC_LVT_PERF 0x340
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_LVT_ERROR 0x370
#define APIC_TIMER_ICR 0x380
#define APIC_TIMER_CCR 0x390
#define APIC_TIMER_DCR 0x3e0

#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define SVR_ENABLED (1u << 8)
/* Version 0x14 (integrated APIC), 6 LVT entries (max LVT index 5). */
#define APIC_VERSION_VALUE 0x00050014u
#define APIC_BUS_KHZ 1000000u /* KVM's APIC timer counts at 1 GHz before the divider */

void vlapic_init(struct vcpu *v, uint32_t tsc_khz)
{
	struct vlapic *a = &v->lapic;

	*a = (struct vlapic){0};
	/* Reset state (APM vol. 2, 16.3.2): LVTs masked, APIC software-disabled, spurious 0xff. */
	a->svr = 0xff;
	a->lvt_timer = a->lvt_lint0 = a->lvt_lint1 = a->lvt_error = a->lvt_thermal = a->lvt_perf = LVT_MASKED;
	a->dfr = 0xffffffffu;
	a->tsc_per_count = tsc_khz ? ((uint64_t)tsc_khz << 16) / APIC_BUS_KHZ : 1ull << 16;
}

static unsigned divider(const struct vlapic *a)
{
	/* DCR bits 0, 1, 3: 000 = 2, 001 = 4, 010 = 8, 011 = 16, 100 = 32, 101 = 64, 110 = 128, 111 = 1. */
	unsigned code = (a->dcr & 3) | ((a->dcr >> 1) & 4);
	return code == 7 ? 1 : 2u << code;
}

static uint64_t counts_to_tsc(const struct vlapic *a, uint64_t counts)
{
	return (counts * divider(a) * a->tsc_per_count) >> 16;
}

static int highest(const uint32_t *bits)
{
	int i;

	for (i = 7; i >= 0; i--)
		if (bits[i])
			return i * 32 + 31 - __builtin_clz(bits[i]);
	return -1;
}

void vlapic_request(struct vcpu *v, unsigned vector)
{
	v->lapic.irr[vector / 32] |= 1u << (vector % 32);
}

static uint32_t tpr(const struct vcpu *v)
{
	return (v->vmcb.control.int_ctl & V_TPR_MASK) << 4;
}

/* Processor priority: the higher of TPR and the highest in-service class (APM vol. 2, 16.6.4). */
static uint32_t ppr(struct vcpu *v)
{
	int isr = highest(v->lapic.isr);
	uint32_t t = tpr(v);

	return isr >= 0 && (uint32_t)(isr & 0xf0) > (t & 0xf0) ? (uint32_t)(isr & 0xf0) : t;
}

uint64_t vlapic_poll_timer(struct vcpu *v)
{
	struct vlapic *a = &v->lapic;
	uint64_t now;

	if (!a->deadline_tsc)
		return 0;
	now = nb_rdtsc();
	if (now < a->deadline_tsc)
		return a->deadline_tsc;
	if (!(a->lvt_timer & LVT_MASKED) && (a->svr & SVR_ENABLED))
		vlapic_request(v, a->lvt_timer & 0xff);
	if ((a->lvt_timer & LVT_TIMER_PERIODIC) && a->period_tsc) {
		/* Periods missed while nbvmm could not look are coalesced into one request, as a
		 * real APIC's single IRR bit would; the timebase itself never drifts. */
		a->deadline_tsc += ((now - a->deadline_tsc) / a->period_tsc + 1) * a->period_tsc;
	} else {
		a->deadline_tsc = 0;
	}
	return a->deadline_tsc;
}

int vlapic_pending(struct vcpu *v)
{
	int vec = highest(v->lapic.irr);

	/* GIF clear (a hypervisor between #VMEXIT and STGI) holds every interrupt (APM vol. 2,
	 * 15.17). */
	if (vec < 0 || !v->gif || !(v->vmcb.save.rflags & X86_RFLAGS_IF) || !(v->lapic.svr & SVR_ENABLED))
		return -1;
	if ((uint32_t)(vec & 0xf0) <= (ppr(v) & 0xf0))
		return -1;
	return vec;
}

void vlapic_inject(struct vcpu *v)
{
	const uint32_t *irr = v->lapic.irr;
	struct nb_trace_record rec = {0};
	int vec;

	/* Called before every entry: nothing requested is the common case, and must be cheap. */
	if (!(irr[0] | irr[1] | irr[2] | irr[3] | irr[4] | irr[5] | irr[6] | irr[7]))
		return;
	if (v->lapic.int_shadow_step || (vec = vlapic_pending(v)) < 0)
		return;
	v->lapic.irr[vec / 32] &= ~(1u << (vec % 32));
	v->lapic.isr[vec / 32] |= 1u << (vec % 32);
	rec.kind = NB_EV_INTERRUPT;
	rec.aux = (uint64_t)vec;
	trace_guest_event(v, &rec);
	deliver_event(v, (unsigned)vec, false, 0, 0);
}

static void timer_start(struct vcpu *v)
{
	struct vlapic *a = &v->lapic;
	uint64_t span = counts_to_tsc(a, a->initial_count);

	a->deadline_tsc = a->initial_count && span ? nb_rdtsc() + span : 0;
	a->period_tsc = (a->lvt_timer & LVT_TIMER_PERIODIC) ? span : 0;
}

uint32_t vlapic_read(struct vcpu *v, unsigned off)
{
	struct vlapic *a = &v->lapic;
	uint64_t now;

	switch (off) {
	case APIC_ID: return 0;
	case APIC_VERSION: return APIC_VERSION_VALUE;
	case APIC_TPR: return tpr(v);
	case APIC_APR: return 0;
	case APIC_PPR: return ppr(v);
	case APIC_LDR: return a->ldr;
	case APIC_DFR: return a->dfr;
	case APIC_SVR: return a->svr;
	case APIC_ESR: return a->esr;
	case APIC_ICR_LO: return a->icr_lo;
	case APIC_ICR_HI: return a->icr_hi;
	case APIC_LVT_TIMER: return a->lvt_timer;
	case APIC_LVT_THERMAL: return a->lvt_thermal;
	case APIC_LVT_PERF: return a->lvt_perf;
	case APIC_LVT_LINT0: return a->lvt_lint0;
	case APIC_LVT_LINT1: return a->lvt_lint1;
	case APIC_LVT_ERROR: return a->lvt_error;
	case APIC_TIMER_ICR: return a->initial_count;
	case APIC_TIMER_DCR: return a->dcr;
	case APIC_TIMER_CCR:
		vlapic_poll_timer(v);
		if (!a->deadline_tsc)
			return 0;
		now = nb_rdtsc();
		return now >= a->deadline_tsc ? 0
					      : (uint32_t)(((a->deadline_tsc - now) << 16) /
							   (a->tsc_per_count * divider(a)));
	default:
		if (off >= APIC_ISR && off < APIC_TMR && !(off & 0xf))
			return a->isr[(off - APIC_ISR) >> 4];
		if (off >= APIC_IRR && off < APIC_IRR + 0x80 && !(off & 0xf)) {
			vlapic_poll_timer(v);
			return a->irr[(off - APIC_IRR) >> 4];
		}
		return 0;
	}
}

void vlapic_write(struct vcpu *v, unsigned off, uint32_t val)
{
	struct vlapic *a = &v->lapic;
	int vec;

	switch (off) {
	case APIC_TPR:
		v->vmcb.control.int_ctl = (v->vmcb.control.int_ctl & ~V_TPR_MASK) | ((val >> 4) & V_TPR_MASK);
		break;
	case APIC_EOI:
		vec = highest(a->isr);
		if (vec >= 0)
			a->isr[vec / 32] &= ~(1u << (vec % 32));
		break;
	case APIC_LDR: a->ldr = val & 0xff000000u; break;
	case APIC_DFR: a->dfr = val | 0x0fffffffu; break;
	case APIC_SVR:
		a->svr = val & 0x3ff;
		/* Software-disabling the APIC masks every LVT entry (APM vol. 2, 16.3.3). */
		if (!(a->svr & SVR_ENABLED)) {
			a->lvt_timer |= LVT_MASKED;
			a->lvt_thermal |= LVT_MASKED;
			a->lvt_perf |= LVT_MASKED;
			a->lvt_lint0 |= LVT_MASKED;
			a->lvt_lint1 |= LVT_MASKED;
			a->lvt_error |= LVT_MASKED;
		}
		break;
	case APIC_ESR: a->esr = 0; break;
	case APIC_ICR_HI: a->icr_hi = val; break;
	case APIC_ICR_LO:
		a->icr_lo = val & ~(1u << 12); /* delivered at once: never "send pending" */
		/* Fixed delivery to self: shorthand "self", or physical destination 0 (our ID). */
		if (((val >> 8) & 7) == 0 && (((val >> 18) & 3) == 1 || (((val >> 18) & 3) == 0 && !(a->icr_hi >> 24))))
			vlapic_request(v, val & 0xff);
		break;
	case APIC_LVT_TIMER:
		a->lvt_timer = (val & (0xff | LVT_MASKED | LVT_TIMER_PERIODIC)) | (a->svr & SVR_ENABLED ? 0 : LVT_MASKED);
		a->period_tsc = (val & LVT_TIMER_PERIODIC) ? counts_to_tsc(a, a->initial_count) : 0;
		break;
	case APIC_LVT_THERMAL: a->lvt_thermal = val & 0x107ff; break;
	case APIC_LVT_PERF: a->lvt_perf = val & 0x107ff; break;
	case APIC_LVT_LINT0: a->lvt_lint0 = val & 0x1a7ff; break;
	case APIC_LVT_LINT1: a->lvt_lint1 = val & 0x1a7ff; break;
	case APIC_LVT_ERROR: a->lvt_error = val & 0x100ff; break;
	case APIC_TIMER_ICR:
		a->initial_count = val;
		timer_start(v);
		break;
	case APIC_TIMER_DCR: a->dcr = val & 0xb; break;
	default: break; /* read-only and reserved registers ignore writes */
	}
}
