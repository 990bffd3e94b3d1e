/*
 * SVM exit codes as C constants (SVM_EXIT_CPUID, ...), built from svm_exit_codes.def (AMD64 APM
 * Volume 2, Appendix C "SVM Intercept Exit Codes"), the one list of them.
 *
 * EXITCODE is a 64-bit field and VMEXIT_INVALID (-1) and VMEXIT_BUSY (-2) are 64-bit values
 * (0xffff_ffff_ffff_ffff, ..._fffe). Every code is converted to uint64_t, which makes this a
 * 64-bit unsigned enum (a GNU C extension, standard since C23): codes compare with a uint64_t
 * EXITCODE without sign surprises and serve as switch labels.
 * Names of the codes: nb_svm_exit_name() in tracer/names.c, built from the same list.
 */
#ifndef NESTBED_SVM_EXIT_H
#define NESTBED_SVM_EXIT_H

#include <stdint.h>

enum svm_exit_code {
#define SVM_EXIT(value, name, desc) SVM_EXIT_##name = (uint64_t)(value),
#include "shadow/svm_exit_codes.def"
#undef SVM_EXIT
};

_Static_assert(SVM_EXIT_INVALID == 0xffffffffffffffffull, "VMEXIT_INVALID is all ones");
_Static_assert(SVM_EXIT_BUSY == 0xfffffffffffffffeull, "VMEXIT_BUSY is -2 in 64 bits");
_Static_assert(sizeof(enum svm_exit_code) == 8, "exit codes are 64-bit");

#endif
