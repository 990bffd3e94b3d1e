/*
 * Which x86 instructions matter to a trap-and-emulate hypervisor, and why: the Popek-Goldberg
 * classification of the privileged, sensitive and SVM instructions, and whether each traps when
 * executed in ring 3 under each host feature set (UMIP, CPUID faulting, CR4.TSD).
 *
 * Popek and Goldberg, "Formal Requirements for Virtualizable Third Generation Architectures",
 * CACM 17(7), 1974 (see ../shared/background/):
 *   - privileged: traps in user mode and not in supervisor mode;
 *   - control-sensitive: attempts to change the configuration of resources (mode, relocation);
 *   - behaviour-sensitive: its effect depends on the mode or on the location in real memory;
 *   - user-sensitive (Theorem 3): sensitive in some user-mode state;
 *   - innocuous: not sensitive.
 * Theorem 1: a VMM can be built if every sensitive instruction is privileged. Theorem 2: the
 * machine is recursively virtualizable if it is virtualizable and a VMM without timing
 * dependencies can be built for it. Theorem 3: a hybrid VMM (one that interprets every
 * supervisor-mode instruction) can be built if every user-sensitive instruction is privileged.
 * x86's failures: Robin and Irvine, "Analysis of the Intel Pentium's Ability to Support a Secure
 * Virtual Machine Monitor", USENIX Security 2000; the trap conditions: Intel SDM Vol. 2 (each
 * instruction's "Protected Mode Exceptions") and Vol. 3A 2.5 (CR4.UMIP, CR4.TSD), Vol. 4 table
 * 2-2 (CPUID faulting: MSR_PLATFORM_INFO[31], MSR_MISC_FEATURE_ENABLES[0]); AMD APM Vol. 2
 * chapter 15 (SVM intercepts) and Vol. 3.
 *
 * "Traps" means: executed at CPL 3, the instruction raises an exception (#GP, #UD...) or
 * transfers to an entry point the hypervisor owns (INT n, SYSCALL), so that a hypervisor that
 * runs its guest in ring 3 gets control before the instruction has any effect. The table gives
 * the architecture's answer and, where it differs, what the machines of this project measured
 * (../shared/PLATFORM.md: under KVM's PVM, CPUID faulting and CR4.TSD have no effect on ring-3
 * code).
 *
 * Portable C, no libc, no globals besides the const table: compiled into libnbshadow (the
 * hosted tests and the schema generator) and usable in nbvmm.
 */
#ifndef NESTBED_SHADOW_SENSITIVITY_H
#define NESTBED_SHADOW_SENSITIVITY_H

#include <stddef.h>
#include <stdint.h>

/* Host feature sets: a bit mask (the store's host_features table names all eight). */
#define NB_FEAT_UMIP 0x1u           /* CR4.UMIP (bit 11): SGDT SIDT SLDT SMSW STR #GP at CPL > 0 */
#define NB_FEAT_CPUID_FAULTING 0x2u /* MSR 0x140 bit 0: CPUID #GP at CPL > 0 */
#define NB_FEAT_TSD 0x4u            /* CR4.TSD (bit 2): RDTSC RDTSCP #GP at CPL > 0 */
#define NB_FEAT_COUNT 8u            /* feature sets 0..7 */

/* Classification flags (struct nb_sens_insn.flags). */
#define NB_SENS_PRIVILEGED 0x01u /* traps at CPL 3, whatever the features, and runs at CPL 0 */
#define NB_SENS_CONTROL 0x02u    /* control-sensitive */
#define NB_SENS_BEHAVIOUR 0x04u  /* behaviour-sensitive */
#define NB_SENS_USER 0x08u       /* user-sensitive (Theorem 3) */
#define NB_SENS_TIMING 0x10u     /* reads time: Popek-Goldberg's equivalence excepts timing, so
				  * Theorems 1 and 3 leave these out and Theorem 2 adds them */
#define NB_SENS_SVM 0x20u        /* an SVM instruction (AMD APM Vol. 2 15.5) */

/* When it traps at CPL 3 (struct nb_sens_insn.traps and .measured): NB_TRAP_ALWAYS, or the
 * NB_FEAT_* bits of the features any one of which makes it trap. */
#define NB_TRAP_ALWAYS 0x80u

/* Popek-Goldberg class, the strongest property first. */
enum nb_pg_class {
	NB_PG_INNOCUOUS = 0,
	NB_PG_PRIVILEGED = 1,
	NB_PG_CONTROL = 2,
	NB_PG_BEHAVIOUR = 3,
};

/*
 * Stable ids: they are stored in trace records (the probes' aux) and in databases, so an id
 * is never reused or renumbered; new instructions take new numbers.
 */
enum nb_sens_id {
	NB_SENS_NONE = 0, /* the probes' set-up record */
	NB_SENS_HLT = 1, NB_SENS_CLI, NB_SENS_STI, NB_SENS_IN, NB_SENS_OUT, NB_SENS_INS, NB_SENS_OUTS,
	NB_SENS_MOV_TO_CR, NB_SENS_MOV_FROM_CR, NB_SENS_MOV_TO_DR, NB_SENS_MOV_FROM_DR,
	NB_SENS_LGDT, NB_SENS_LIDT, NB_SENS_LLDT, NB_SENS_LTR, NB_SENS_LMSW, NB_SENS_CLTS,
	NB_SENS_RDMSR, NB_SENS_WRMSR, NB_SENS_INVLPG, NB_SENS_INVD, NB_SENS_WBINVD,
	NB_SENS_SWAPGS, NB_SENS_SYSRET, NB_SENS_RDPMC,
	NB_SENS_VMRUN = 30, NB_SENS_VMLOAD, NB_SENS_VMSAVE, NB_SENS_VMMCALL, NB_SENS_STGI,
	NB_SENS_CLGI, NB_SENS_INVLPGA, NB_SENS_SKINIT,
	NB_SENS_SGDT = 40, NB_SENS_SIDT, NB_SENS_SLDT, NB_SENS_STR, NB_SENS_SMSW,
	NB_SENS_PUSHF, NB_SENS_POPF, NB_SENS_LAR, NB_SENS_LSL, NB_SENS_VERR, NB_SENS_VERW,
	NB_SENS_MOV_FROM_SREG, NB_SENS_PUSH_SREG, NB_SENS_MOV_TO_SREG, NB_SENS_POP_SREG,
	NB_SENS_CALL_FAR, NB_SENS_JMP_FAR, NB_SENS_RET_FAR, NB_SENS_IRET, NB_SENS_INT,
	NB_SENS_INT3, NB_SENS_SYSCALL, NB_SENS_CPUID, NB_SENS_RDTSC, NB_SENS_RDTSCP,
	NB_SENS_UD2 = 80, NB_SENS_MOV, NB_SENS_NOP,
	NB_SENS_TIMING_PROBE = 90, /* the probes' timing records (not an instruction) */
};

#define NB_SENS_CS_IDS 4 /* capstone ids per entry, 0-terminated when fewer */

struct nb_sens_insn {
	uint16_t id;              /* enum nb_sens_id */
	const char *name;         /* "sgdt", "mov to cr": our name, as in the store */
	const char *decoder;      /* insn_mnemonic_name() of shadow/insn_decode.h, NULL if none */
	uint16_t cs_ids[NB_SENS_CS_IDS]; /* capstone 4.0 X86_INS_* ids (<capstone/x86.h>) */
	const char *cs_op_glob;   /* GLOB on capstone's op_str that singles this one out of the
				   * others with the same id (MOV), NULL for any operands */
	uint8_t flags;            /* NB_SENS_* */
	uint8_t traps;            /* architecture: NB_TRAP_ALWAYS or NB_FEAT_* (0: never traps) */
	uint8_t measured;         /* the same, as measured on this project's machines */
	const char *svm_intercept;/* what catches it in SVM guest mode (APM Vol. 2 15.9-15.13),
				   * or why it need not be caught; NULL for none */
	const char *why;          /* what makes it (in)sensitive, and when it traps */
	const char *measured_note;/* what was measured where it differs, else NULL */
};

extern const struct nb_sens_insn nb_sens_table[];
extern const size_t nb_sens_count;

/* The entry of id, NULL if none. */
const struct nb_sens_insn *nb_sens_find(unsigned id);
/* The Popek-Goldberg class of an entry, and its name ("control-sensitive"...). */
enum nb_pg_class nb_sens_class(const struct nb_sens_insn *e);
const char *nb_pg_class_name(enum nb_pg_class c);
/* Sensitive: control- or behaviour-sensitive (privileged ones included). */
int nb_sens_is_sensitive(const struct nb_sens_insn *e);
/* Does e trap at CPL 3 under feature set `features`: by the architecture (measured = 0) or as
 * measured here (measured = 1)? */
int nb_sens_traps(const struct nb_sens_insn *e, unsigned features, int measured);
/* "none", "umip", "umip+cpuidf+tsd"... for a feature set (NULL above 7). */
const char *nb_feat_name(unsigned features);

/*
 * The classification as SQL for the store (db/schema.sql's insn_classes, insn_capstone,
 * host_features and insn_traps): INSERT OR REPLACE statements, so that running it again
 * refreshes an existing file. Writes at most size bytes, NUL-terminated when size > 0, and
 * returns the length of the whole text (as snprintf: call with size 0 to size the buffer).
 */
size_t nb_sens_sql(char *buf, size_t size);

/*
 * The probes' trace records (guests/probes, kind NB_EV_GUEST): aux says which observation.
 *   aux = NB_PROBE_TAG << 48 | features << 32 | cpu_mode << 24 | probe << 16 | sens_id
 * cpu_mode 0 = the guest's kernel mode, 1 = its user mode; probe numbers the observations of
 * one instruction (LAR on several selectors...). Fields: old_val = value, addr = value2,
 * new_val / exit_code = expected value / value2, exit_info1 = the exception the guest received
 * (vector + 1; 0 = none), exit_info2 = NB_PROBE_F_* | expected exception (vector + 1) << 8.
 * db/schema.sql's v_pg_observations reads them back.
 */
#define NB_PROBE_TAG 0x5047ull /* "PG" */
#define NB_PROBE_AUX(features, cpu_mode, probe, id)                                                 \
	(NB_PROBE_TAG << 48 | (uint64_t)((features) & 0xffu) << 32 | (uint64_t)((cpu_mode) & 0xffu) << 24 | \
	 (uint64_t)((probe) & 0xffu) << 16 | (uint64_t)((id) & 0xffffu))
#define NB_PROBE_KERNEL 0
#define NB_PROBE_USER 1
#define NB_PROBE_F_EXPECT_VALUE 0x01u  /* new_val holds the architecture's value */
#define NB_PROBE_F_EXPECT_VALUE2 0x02u /* exit_code holds the architecture's value2 */
#define NB_PROBE_F_TIMING 0x04u        /* a time measurement (cycles in old_val): compared as a
					* ratio between depths, not for equality */
#define NB_PROBE_F_UNSUPPORTED 0x08u   /* the CPU does not offer it: not run */

#endif
