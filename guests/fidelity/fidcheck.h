/*
 * Checks the fidelity kernels (32- and 64-bit) share, on top of guests/lib/check.h: several
 * fields in one line, an exception's vector, error code, saved RIP/EIP and CR2, and SKIP lines
 * named like the PASS lines they stand for. A line's name never depends on the outcome, so the
 * lines of runs at different depths compare one to one.
 */
#ifndef NESTBED_GUESTS_FIDELITY_FIDCHECK_H
#define NESTBED_GUESTS_FIDELITY_FIDCHECK_H

#include <stdint.h>

struct fid_field {
	const char *what;
	uint64_t expected, got;
};

#define FID_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define FID_FIELDS(a) (a), FID_COUNT(a)
#define FID_VEC_PF 14

/* What an exception must look like, and what was seen of it. */
struct fid_trap_expect {
	const char *name;
	uint64_t vector;
	int has_error; /* the vector pushes an error code (SDM Vol. 3A 6.15) */
	uint64_t error;
	uint64_t ip;  /* where the saved RIP/EIP must point: the instruction, or after it */
	uint64_t cr2; /* for #PF */
};

struct fid_trap_seen {
	uint64_t vector, error, ip, cr2;
};

/* One line each: "<name>: vector", "<name>: error code" (when the vector has one),
 * "<name>: saved <ip_reg>" and, for #PF, "<name>: CR2". */
void fid_check_trap(const struct fid_trap_expect *e, const struct fid_trap_seen *s,
		    const char *ip_reg);
/* No exception came: one FAIL line. */
void fid_check_no_trap(const struct fid_trap_expect *e);

/* One PASS line when every field has its expected value, else one FAIL line naming the first
 * field that does not. */
int fid_check_fields(const char *name, const struct fid_field *fields, unsigned n);
/*
 * A check that cannot run here is reported as a SKIP line under each name its PASS lines would
 * have had, so that a run elsewhere where they do run can be compared line by line: for each
 * what, "SKIP: <prefix>: <what> (<why>)" (or "SKIP: <what> (<why>)" when prefix is NULL).
 */
void fid_skip_lines(const char *prefix, const char *const *whats, unsigned n, const char *why);
/* The names fid_check_trap and a frame check would have given, as SKIP lines. */
void fid_skip_trap(const struct fid_trap_expect *e, const char *ip_reg, const char *frame,
		   const char *why);
/* "<prefix>: <what>" into buf, for check names built from a case's name. */
const char *fid_name(char *buf, unsigned size, const char *prefix, const char *what);

#endif
