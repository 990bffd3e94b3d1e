/*
 * Self-checking test kernels: one console line per check, "PASS: <name>",
 * "FAIL: <name>: expected X got Y" or "SKIP: <name> (<why>)", then a summary line. Lines must
 * not depend on the depth the kernel runs at, so no addresses or times go into them.
 */
#ifndef NESTBED_GUESTS_CHECK_H
#define NESTBED_GUESTS_CHECK_H

#include <stdint.h>

/* Each returns 1 when the check passed. Values print in decimal when small, else in hex. */
int nb_check_u64(const char *name, uint64_t expected, uint64_t got);
/* For checks whose values are words: "FAIL: name: expected <expected> got <got>". */
int nb_check_text(const char *name, int ok, const char *expected, const char *got);
void nb_check_skip(const char *name, const char *why);
void nb_check_fail(const char *name, const char *why);
/* Prints "<prog>: N passed, M failed, K skipped" and returns the exit status: 0 when nothing
 * failed, 1 otherwise. */
int nb_check_summary(const char *prog);

#endif
