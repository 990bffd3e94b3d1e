/* nbvmm's own local APIC timer: how it takes the CPU back from a guest that never traps. */
#ifndef NBVMM_LAPIC_H
#define NBVMM_LAPIC_H

#include <stdint.h>

#define NBVMM_TIMER_VECTOR 0x20
#define NBVMM_SPURIOUS_VECTOR 0xff

/* Maps the APIC page, enables it and starts a periodic tick of about period_us. */
void lapic_timer_start(uint32_t period_us);
/* End of interrupt for the tick (not for the spurious vector, which needs none). */
void lapic_eoi(void);

#endif
