/*
 * Audit mode (nbvmm option audit=1): single-step the guest's kernel mode and record a VIOLATION
 * event for every sensitive instruction that ran natively instead of trapping, with what the
 * guest saw and what the virtual CPU should have shown (issue: "When does recursive
 * virtualizability hold?"; the classes come from shadow/sensitivity.c).
 */
#ifndef NBVMM_AUDIT_H
#define NBVMM_AUDIT_H

#include <stdbool.h>

#include "l1-vmm/vcpu.h"

void audit_init(struct vcpu *v, bool on);
/* Before an entry: arms the single step when the guest is in its kernel. */
void audit_before_entry(struct vcpu *v);
/* After the exit: undoes the step's TF; for the step's own #DB, audits the instruction that ran
 * and returns true (the exit is nbvmm's, not the guest's). */
bool audit_after_exit(struct vcpu *v);

#endif
