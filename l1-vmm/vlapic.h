/*
 * The local APIC nbvmm offers its guest: an xAPIC at guest-physical 0xFEE00000, emulated by
 * decoding each access that faults there (AMD APM vol. 2, 16.3-16.6). Its timer runs on the TSC
 * at KVM's APIC bus rate (1 GHz before the divider), so a guest's timer ticks at the same rate at
 * every depth; nbvmm's own APIC timer is aimed at the guest's next expiry to take the CPU back.
 */
#ifndef NBVMM_VLAPIC_H
#define NBVMM_VLAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define VLAPIC_BASE 0xfee00000ull
#define VLAPIC_SIZE 0x1000ull

struct vcpu;

struct vlapic {
	uint32_t svr, lvt_timer, lvt_lint0, lvt_lint1, lvt_error, lvt_thermal, lvt_perf;
	uint32_t icr_lo, icr_hi, dcr, initial_count, ldr, dfr, esr;
	uint32_t irr[8], isr[8];  /* 256-bit request and in-service registers */
	uint64_t deadline_tsc;    /* next timer expiry, 0 when the timer is stopped */
	uint64_t period_tsc;      /* periodic mode: TSC ticks per period */
	uint64_t tsc_per_count;   /* TSC ticks per timer count, times 2^16 (fixed point) */
	bool int_shadow_step;     /* single-stepping the instruction after STI */
};

void vlapic_init(struct vcpu *v, uint32_t tsc_khz);
uint32_t vlapic_read(struct vcpu *v, unsigned offset);
void vlapic_write(struct vcpu *v, unsigned offset, uint32_t value);
/* Moves expired timer periods into IRR; returns the TSC of the next expiry (0: none). */
uint64_t vlapic_poll_timer(struct vcpu *v);
/* The highest-priority requested vector the guest accepts now (IF, TPR, in-service), or -1. */
int vlapic_pending(struct vcpu *v);
/* Delivers the pending interrupt through the guest's IDT when it can be taken now. */
void vlapic_inject(struct vcpu *v);
/* Marks vector requested (self-IPI, timer). */
void vlapic_request(struct vcpu *v, unsigned vector);

#endif
