/* apic-timer: constants and the shadow probes shared by apic_timer.c and apic_shadow.S. */
#ifndef NESTBED_GUESTS_FIDELITY_APIC_TIMER_H
#define NESTBED_GUESTS_FIDELITY_APIC_TIMER_H

#define APIC_MMIO_BASE 0xfee00000
#define APIC_TIMER_VECTOR 0x40
#define APIC_LOW_VECTOR 0x50  /* priority class 5 */
#define APIC_HIGH_VECTOR 0x60 /* priority class 6 */
#define APIC_SPURIOUS_VECTOR 0xff
/* The timer's initial count: 10 ms at divide-by-16 on a 1 GHz APIC clock (KVM's), and no
 * check depends on the clock being that. */
#define APIC_COUNT 625000

#ifndef __ASSEMBLER__
#include <stdint.h>

extern volatile uint64_t apic_marker;

/* STI; store 1 to apic_marker; (apic_sti_shadow_after) NOP; CLI. */
void apic_sti_shadow(void);
/* STI; HLT; (apic_sti_hlt_after) CLI. */
void apic_sti_hlt(void);
extern char apic_sti_shadow_after[], apic_sti_hlt_after[];
#endif

#endif
