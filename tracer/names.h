/*
 * Names of the trace's numbers: event kinds, trap actions and SVM exit codes. These tables are
 * the one source of the names; the store copies them into its event_kinds, trap_actions and
 * exit_codes tables so that SQL can say CPUID where the record says 0x72.
 */
#ifndef NESTBED_TRACER_NAMES_H
#define NESTBED_TRACER_NAMES_H

#include <stddef.h>
#include <stdint.h>
#include "tracer/trace_format.h"

#define NB_TRAP_ACTION_COUNT (NB_ACT_STOPPED + 1)

struct nb_event_kind_info {
	const char *name;        /* "TRAP", "PT_WRITE"... (the enum's name without NB_EV_) */
	int has_exit_code;       /* 1 when exit_code is the SVM (or nestbed) exit code of the event;
				  * at level 0 it always is, whatever the kind */
	const char *description;
};

struct nb_svm_exit_info {
	int64_t code;            /* as the store keeps it: VMEXIT_INVALID is -1 */
	const char *name;        /* "CPUID", "EXCP_PF"... (SVM_EXIT_ without the prefix) */
	const char *description;
};

/* Indexed by enum nb_event_kind; entry NB_EV_NONE has no name. */
extern const struct nb_event_kind_info nb_event_kinds[];
/* Indexed by enum nb_trap_action. */
extern const char *const nb_trap_action_names[];
/* Every code of shadow/svm_exit_codes.def, in its order. */
extern const struct nb_svm_exit_info nb_svm_exits[];
extern const size_t nb_svm_exit_count;

/* NULL when the value has no name. */
const char *nb_event_kind_name(unsigned kind);
const char *nb_trap_action_name(unsigned action);
const char *nb_svm_exit_name(uint64_t code);

#endif
