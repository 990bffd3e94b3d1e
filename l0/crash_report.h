#ifndef NESTBED_CRASH_REPORT_H
#define NESTBED_CRASH_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "l0/kvm.h"
#include "tracer/trace_format.h"

/* Writes the report for an abnormal stop into out; fills rec's RIP and instruction bytes. */
void nb_crash_report(struct nb_kvm *k, const char *why, struct nb_trace_record *rec, char *out, size_t outlen);

/* Disassembles one instruction (mode_bits 16, 32 or 64) into out; returns its length or 0. */
int nb_describe_insn(const uint8_t *bytes, size_t len, uint64_t addr, int mode_bits, char *out, size_t outlen);

#endif
