/* nbvmm's own local APIC timer: how it takes the CPU back from a guest that never traps. */
#ifndef NBVMM_LAPIC_H
#define NBVMM_LAPIC_H

#include <stdint.h>

#define NBVMM_TIMER_VECTOR 0x20
#define NBVMM_SPURIOUS_VECTOR 0xff

/* Maps the APIC page and enables it; tsc_khz converts TSC deadlines into timer counts. */
void lapic_init(uint32_t tsc_khz);
/* Makes nbvmm's timer fire at (about) TSC value tsc_deadline; re-arms only when it changes. */
void lapic_timer_arm(uint64_t tsc_deadline);
/* The armed expiry has fired: the next lapic_timer_arm must program the timer again. */
void lapic_timer_fired(void);
/* End of interrupt for the tick (not for the spurious vector, which needs none). */
void lapic_eoi(void);

#endif
