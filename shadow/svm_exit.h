/*
 * SVM exit codes as C constants (SVM_EXIT_CPUID, ...), built from svm_exit_codes.def. A negative
 * value (VMEXIT_INVALID = -1) becomes the architectural 64-bit all-ones code when stored in a
 * uint64_t exit-code field.
 */
#ifndef NESTBED_SVM_EXIT_H
#define NESTBED_SVM_EXIT_H

enum svm_exit_code {
#define SVM_EXIT(value, name, desc) SVM_EXIT_##name = (value),
#include "shadow/svm_exit_codes.def"
#undef SVM_EXIT
};

#endif
