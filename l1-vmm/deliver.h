/* Delivering exceptions and interrupts into a guest through its own (virtual) IDT. */
#ifndef NBVMM_DELIVER_H
#define NBVMM_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "l1-vmm/vcpu.h"

#define X86_VEC_DE 0
#define X86_VEC_DB 1
#define X86_VEC_BP 3
#define X86_VEC_UD 6
#define X86_VEC_DF 8
#define X86_VEC_GP 13
#define X86_VEC_PF 14

/* True for the vectors whose frame carries an error code (AMD APM vol. 2, 8.2). */
bool x86_vector_has_error_code(unsigned vector);

/*
 * Delivers vector to the guest as the CPU would in long mode (AMD APM vol. 2, 8.9): the gate
 * from its IDT, a stack switch to TSS.RSP0 (or an IST stack) when entering CPL 0 from CPL 3, the
 * frame SS, RSP, RFLAGS, CS, RIP (and the error code) pushed on the guest's stack, IF cleared
 * for an interrupt gate. soft_len: for a software interrupt (INT n, INT3, INTO), the length of
 * the instruction: the gate's DPL is checked against CPL and the return address is the next
 * instruction; 0 for exceptions and interrupts. A delivery that itself faults becomes #GP,
 * then #DF, then a shutdown: the guest is stopped with a report, as a triple fault stops a CPU.
 */
void deliver_event(struct vcpu *v, unsigned vector, bool has_err, uint32_t err, unsigned soft_len);
/* The same, never intercepted: for events a nested guest's hypervisor injects (EVENTINJ, V_IRQ),
 * which go straight through the nested guest's IDT. */
void deliver_event_idt(struct vcpu *v, unsigned vector, bool has_err, uint32_t err, unsigned soft_len);

/* Stops the guest as a CPU shutdown would (triple fault), saying why. */
void vcpu_shutdown(struct vcpu *v, const char *why);
/* Stops the guest for a reason of nbvmm's (status as L0 would give), with its state, saying why. */
void vcpu_stop(struct vcpu *v, int status, const char *why);

#endif
