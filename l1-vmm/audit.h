/*
 * The single-stepping modes (issue: "When does recursive virtualizability hold?"; the classes
 * come from shadow/sensitivity.c):
 * - audit mode (nbvmm option audit=1): single-step the guest's kernel mode and record a
 *   VIOLATION event for every sensitive instruction that ran natively instead of trapping,
 *   with what the guest saw and what the virtual CPU should have shown;
 * - faithful mode (faithful=1): single-step the guest in every mode and, before each step,
 *   emulate the sensitive instructions that would not trap (emulate.c), so the guest sees its
 *   virtual CPU: equivalence restored at the price of a trap per instruction. With both on, the
 *   audit records what faithful mode still lets run (LAR, LSL, VERR, VERW...).
 */
#ifndef NBVMM_AUDIT_H
#define NBVMM_AUDIT_H

#include <stdbool.h>

#include "l1-vmm/vcpu.h"

void audit_init(struct vcpu *v, bool audit, bool faithful);
/* Before an entry: in faithful mode, emulates a sensitive instruction at RIP and returns true
 * (no entry this time: the run loop delivers what became pending and comes back); else arms the
 * single step (audit mode: in the guest's kernel; faithful mode: always) and returns false. */
bool audit_before_entry(struct vcpu *v);
/* After the exit: undoes the step's TF; for the step's own #DB, audits the instruction that ran
 * and returns true (the exit is nbvmm's, not the guest's). */
bool audit_after_exit(struct vcpu *v);

#endif
