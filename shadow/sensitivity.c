/*
 * The Popek-Goldberg classification of x86 instructions (sensitivity.h). References in the
 * entries: SDM = Intel SDM Vol. 2 (the instruction's "Protected Mode Exceptions") or the
 * volume named; APM = AMD64 APM (Vol. 2 chapter 15 for SVM, Vol. 3 for instructions); PG =
 * Popek and Goldberg 1974; RI = Robin and Irvine 2000, section 4 (the seventeen x86
 * instructions that break Theorem 1).
 */
#include "shadow/sensitivity.h"

#define PRIV NB_SENS_PRIVILEGED
#define CTL NB_SENS_CONTROL
#define BEH NB_SENS_BEHAVIOUR
#define USR NB_SENS_USER
#define TIM NB_SENS_TIMING
#define SVM NB_SENS_SVM
#define ALW NB_TRAP_ALWAYS
#define UMIP NB_FEAT_UMIP
#define CPUIDF NB_FEAT_CPUID_FAULTING
#define TSD NB_FEAT_TSD

/* Capstone 4.0 ids (X86_INS_*, <capstone/x86.h>); tests/unit/test_sensitivity.c checks each
 * against capstone's own names. */
enum {
	CS_CLGI = 66, CS_CLI = 67, CS_CLTS = 68, CS_CPUID = 109, CS_LCALL = 154, CS_LJMP = 155,
	CS_HLT = 208, CS_IN = 214, CS_INSB = 216, CS_INSD = 217, CS_INSW = 218, CS_INT = 221,
	CS_INT3 = 223, CS_INVD = 225, CS_INVLPG = 227, CS_INVLPGA = 228, CS_IRET = 231,
	CS_IRETD = 232, CS_IRETQ = 233, CS_LAR = 315, CS_LGDT = 327, CS_LIDT = 329, CS_LLDT = 330,
	CS_LMSW = 331, CS_RETF = 342, CS_RETFQ = 343, CS_LSL = 344, CS_LTR = 346, CS_MOV = 449,
	CS_NOP = 494, CS_OUT = 496, CS_OUTSB = 497, CS_OUTSD = 498, CS_OUTSW = 499, CS_POP = 566,
	CS_POPF = 570, CS_POPFQ = 572, CS_PUSH = 588, CS_PUSHF = 591, CS_PUSHFD = 592,
	CS_PUSHFQ = 593, CS_RDMSR = 600, CS_RDPMC = 601, CS_RDTSC = 604, CS_RDTSCP = 605,
	CS_SGDT = 643, CS_SIDT = 659, CS_SKINIT = 661, CS_SLDT = 662, CS_SMSW = 663, CS_STGI = 672,
	CS_STI = 673, CS_STR = 679, CS_SWAPGS = 694, CS_SYSCALL = 695, CS_SYSRET = 698,
	CS_UD2 = 701, CS_VERR = 775, CS_VERW = 776, CS_VMLOAD = 920, CS_VMMCALL = 921,
	CS_VMRUN = 956, CS_VMSAVE = 957, CS_WBINVD = 1294, CS_WRMSR = 1297,
};

#define IDS(...) { __VA_ARGS__ }

/* A privileged instruction: traps at CPL 3 everywhere (SDM: #GP(0) "if the CPL is not 0"). */
#define PRIVILEGED(id_, name_, dec_, cs_, glob_, flags_, icpt_, why_)                              \
	{ id_, name_, dec_, cs_, glob_, PRIV | (flags_), ALW, ALW, icpt_, why_, NULL }

const struct nb_sens_insn nb_sens_table[] = {
	PRIVILEGED(NB_SENS_HLT, "hlt", "hlt", IDS(CS_HLT), NULL, CTL, "HLT",
		   "halts the processor: a resource the VMM owns (SDM HLT: #GP(0) at CPL > 0)"),
	PRIVILEGED(NB_SENS_CLI, "cli", "cli", IDS(CS_CLI), NULL, CTL, "none (guest mode has its own IF; VINTR masking, APM 15.21)",
		   "changes IF, the interrupt configuration; #GP(0) when CPL > IOPL, and the VMM keeps IOPL 0"),
	PRIVILEGED(NB_SENS_STI, "sti", "sti", IDS(CS_STI), NULL, CTL, "none (guest mode has its own IF; VINTR masking, APM 15.21)",
		   "changes IF; #GP(0) when CPL > IOPL, and the VMM keeps IOPL 0"),
	PRIVILEGED(NB_SENS_IN, "in", "in", IDS(CS_IN), NULL, CTL | BEH, "IOIO",
		   "reads a device; #GP(0) when CPL > IOPL and the TSS I/O bitmap denies the port (SDM Vol. 1 19.5)"),
	PRIVILEGED(NB_SENS_OUT, "out", "out", IDS(CS_OUT), NULL, CTL, "IOIO",
		   "drives a device; #GP(0) when CPL > IOPL and the TSS I/O bitmap denies the port"),
	PRIVILEGED(NB_SENS_INS, "ins", "ins", IDS(CS_INSB, CS_INSW, CS_INSD), NULL, CTL | BEH, "IOIO",
		   "string port input; the I/O permission check of IN"),
	PRIVILEGED(NB_SENS_OUTS, "outs", "outs", IDS(CS_OUTSB, CS_OUTSW, CS_OUTSD), NULL, CTL, "IOIO",
		   "string port output; the I/O permission check of OUT"),
	PRIVILEGED(NB_SENS_MOV_TO_CR, "mov to cr", "mov to cr", IDS(CS_MOV), "cr*", CTL, "CR0-CR15 writes",
		   "changes paging, protection or the mode (CR0, CR3, CR4, CR8); #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_MOV_FROM_CR, "mov from cr", "mov from cr", IDS(CS_MOV), "*, cr*", BEH, "CR0-CR15 reads",
		   "reveals the real CR0/CR3/CR4 (where the page tables are: location-sensitive); #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_MOV_TO_DR, "mov to dr", "mov to dr", IDS(CS_MOV), "dr*", CTL, "DR0-DR15 writes",
		   "programs the debug hardware; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_MOV_FROM_DR, "mov from dr", "mov from dr", IDS(CS_MOV), "*, dr*", BEH, "DR0-DR15 reads",
		   "reads the debug hardware; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_LGDT, "lgdt", "lgdt", IDS(CS_LGDT), NULL, CTL, "GDTR write",
		   "relocates the descriptor table (PG's relocation register); #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_LIDT, "lidt", "lidt", IDS(CS_LIDT), NULL, CTL, "IDTR write",
		   "relocates the interrupt table; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_LLDT, "lldt", "lldt", IDS(CS_LLDT), NULL, CTL, "LDTR write",
		   "loads the LDT; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_LTR, "ltr", "ltr", IDS(CS_LTR), NULL, CTL, "TR write",
		   "loads the task register (the stacks of privilege changes); #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_LMSW, "lmsw", "lmsw", IDS(CS_LMSW), NULL, CTL, "CR0 write",
		   "writes CR0's low bits (PE, MP, EM, TS); #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_CLTS, "clts", "clts", IDS(CS_CLTS), NULL, CTL, "CR0 write",
		   "clears CR0.TS; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_RDMSR, "rdmsr", "rdmsr", IDS(CS_RDMSR), NULL, BEH, "MSR_PROT (MSR permission map)",
		   "reads model-specific configuration; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_WRMSR, "wrmsr", "wrmsr", IDS(CS_WRMSR), NULL, CTL, "MSR_PROT (MSR permission map)",
		   "writes model-specific configuration (EFER, LSTAR...); #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_INVLPG, "invlpg", "invlpg", IDS(CS_INVLPG), NULL, CTL, "INVLPG",
		   "changes what the TLB translates; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_INVD, "invd", "invd", IDS(CS_INVD), NULL, CTL, "INVD",
		   "discards the caches; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_WBINVD, "wbinvd", "wbinvd", IDS(CS_WBINVD), NULL, CTL, "WBINVD",
		   "writes back and discards the caches; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_SWAPGS, "swapgs", "swapgs", IDS(CS_SWAPGS), NULL, CTL, "none (runs on the guest's own GS bases)",
		   "exchanges GS.base with KERNEL_GS_BASE; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_SYSRET, "sysret", "sysret", IDS(CS_SYSRET), NULL, CTL, "none (guest mode has its own STAR/LSTAR)",
		   "returns to CPL 3; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_RDPMC, "rdpmc", NULL, IDS(CS_RDPMC), NULL, BEH, "RDPMC",
		   "reads performance counters; #GP(0) at CPL > 0 while CR4.PCE is clear, as a VMM keeps it"),
	/* SVM (APM Vol. 2 15.5): #GP(0) at CPL > 0, #UD while EFER.SVME is clear. */
	PRIVILEGED(NB_SENS_VMRUN, "vmrun", "vmrun", IDS(CS_VMRUN), NULL, CTL | SVM, "VMRUN",
		   "enters a guest; #GP(0) at CPL > 0, #UD without EFER.SVME (APM Vol. 3 VMRUN)"),
	PRIVILEGED(NB_SENS_VMLOAD, "vmload", "vmload", IDS(CS_VMLOAD), NULL, CTL | SVM, "VMLOAD",
		   "loads hidden processor state from a VMCB; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_VMSAVE, "vmsave", "vmsave", IDS(CS_VMSAVE), NULL, BEH | SVM, "VMSAVE",
		   "stores hidden processor state into a VMCB; #GP(0) at CPL > 0"),
	{ NB_SENS_VMMCALL, "vmmcall", "vmmcall", IDS(CS_VMMCALL), NULL, CTL | SVM, ALW, ALW, "VMMCALL",
	  "calls the hypervisor: intercepted in guest mode, #UD outside it (APM Vol. 3 VMMCALL); not privileged, it works at any CPL",
	  NULL },
	PRIVILEGED(NB_SENS_STGI, "stgi", "stgi", IDS(CS_STGI), NULL, CTL | SVM, "STGI",
		   "sets the global interrupt flag; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_CLGI, "clgi", "clgi", IDS(CS_CLGI), NULL, CTL | SVM, "CLGI",
		   "clears the global interrupt flag; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_INVLPGA, "invlpga", "invlpga", IDS(CS_INVLPGA), NULL, CTL | SVM, "INVLPGA",
		   "invalidates a guest's TLB entry; #GP(0) at CPL > 0"),
	PRIVILEGED(NB_SENS_SKINIT, "skinit", "skinit", IDS(CS_SKINIT), NULL, CTL | SVM, "SKINIT",
		   "secure init and jump; #GP(0) at CPL > 0"),

	/* The sensitive instructions that are not privileged: RI's list, and time. */
	{ NB_SENS_SGDT, "sgdt", "sgdt", IDS(CS_SGDT), NULL, BEH | USR, UMIP, UMIP, "GDTR read",
	  "stores the real GDTR: where the VMM's descriptor table is (location-sensitive, RI 4.1); #GP(0) at CPL > 0 only with CR4.UMIP", NULL },
	{ NB_SENS_SIDT, "sidt", "sidt", IDS(CS_SIDT), NULL, BEH | USR, UMIP, UMIP, "IDTR read",
	  "stores the real IDTR (RI 4.1); #GP(0) at CPL > 0 only with CR4.UMIP", NULL },
	{ NB_SENS_SLDT, "sldt", "sldt", IDS(CS_SLDT), NULL, BEH | USR, UMIP, UMIP, "LDTR read",
	  "stores the real LDTR selector (RI 4.1); #GP(0) at CPL > 0 only with CR4.UMIP", NULL },
	{ NB_SENS_STR, "str", "str", IDS(CS_STR), NULL, BEH | USR, UMIP, UMIP, "TR read",
	  "stores the real task register selector (RI 4.1); #GP(0) at CPL > 0 only with CR4.UMIP", NULL },
	{ NB_SENS_SMSW, "smsw", "smsw", IDS(CS_SMSW), NULL, BEH | USR, UMIP, UMIP, "CR0 read",
	  "stores the real CR0's low bits (PE, MP, EM, TS..., RI 4.2); #GP(0) at CPL > 0 only with CR4.UMIP", NULL },
	{ NB_SENS_PUSHF, "pushf", "pushf", IDS(CS_PUSHF, CS_PUSHFD, CS_PUSHFQ), NULL, BEH | USR, 0, 0, "PUSHF",
	  "stores the real IF and IOPL: the mode the VMM runs the guest in (RI 4.3); never traps", NULL },
	{ NB_SENS_POPF, "popf", "popf", IDS(CS_POPF, CS_POPFQ), NULL, CTL | USR, 0, 0, "POPF",
	  "changes IF and IOPL at CPL <= IOPL, silently keeps them otherwise (RI 4.3); never traps", NULL },
	{ NB_SENS_LAR, "lar", "lar", IDS(CS_LAR), NULL, BEH | USR, 0, 0, "none (guest mode reads the guest's own descriptors)",
	  "reads access rights from the real descriptor tables, checked against CPL (RI 4.4); never traps", NULL },
	{ NB_SENS_LSL, "lsl", "lsl", IDS(CS_LSL), NULL, BEH | USR, 0, 0, "none (guest mode reads the guest's own descriptors)",
	  "reads a limit from the real descriptor tables, checked against CPL (RI 4.4); never traps", NULL },
	{ NB_SENS_VERR, "verr", "verr", IDS(CS_VERR), NULL, BEH | USR, 0, 0, "none (guest mode reads the guest's own descriptors)",
	  "tests readability against CPL and the real descriptor (RI 4.4); never traps", NULL },
	{ NB_SENS_VERW, "verw", "verw", IDS(CS_VERW), NULL, BEH | USR, 0, 0, "none (guest mode reads the guest's own descriptors)",
	  "tests writability against CPL and the real descriptor (RI 4.4); never traps", NULL },
	{ NB_SENS_MOV_FROM_SREG, "mov from sreg", "mov from sreg", IDS(CS_MOV), "*, [cdefgs]s", BEH, 0, 0,
	  "none (guest mode has the guest's own CPL)",
	  "CS's and SS's RPL is the real CPL (RI 4.5); never traps. Not user-sensitive: in user mode real and virtual CPL are both 3",
	  NULL },
	{ NB_SENS_PUSH_SREG, "push sreg", "push sreg", IDS(CS_PUSH), "[cdefgs]s", BEH, 0, 0,
	  "none (guest mode has the guest's own CPL)",
	  "pushes a selector whose RPL can be the real CPL (RI 4.5; only PUSH FS/GS exist in 64-bit mode); never traps", NULL },
	{ NB_SENS_MOV_TO_SREG, "mov to sreg", "mov to sreg", IDS(CS_MOV), "[cdefgs]s, *", CTL, 0, 0,
	  "none (guest mode checks the guest's own descriptors)",
	  "loads a segment checked against CPL and the real descriptor (RI 4.5); traps only for a descriptor the VMM made DPL 0", NULL },
	{ NB_SENS_POP_SREG, "pop sreg", "pop sreg", IDS(CS_POP), "[cdefgs]s", CTL, 0, 0,
	  "none (guest mode checks the guest's own descriptors)",
	  "as MOV to Sreg (RI 4.5; only POP FS/GS exist in 64-bit mode)", NULL },
	{ NB_SENS_CALL_FAR, "call far", "call far", IDS(CS_LCALL), NULL, CTL | USR, 0, 0,
	  "none (guest mode checks the guest's own descriptors)",
	  "privilege checks of CPL against the real descriptors and call gates (RI 4.6); traps only on a check the VMM's descriptors fail", NULL },
	{ NB_SENS_JMP_FAR, "jmp far", "jmp far", IDS(CS_LJMP), NULL, CTL | USR, 0, 0,
	  "none (guest mode checks the guest's own descriptors)", "as far CALL (RI 4.6)", NULL },
	{ NB_SENS_RET_FAR, "ret far", "ret far", IDS(CS_RETF, CS_RETFQ), NULL, CTL | USR, 0, 0,
	  "none (guest mode checks the guest's own descriptors)",
	  "returns to the RPL of the popped CS, checked against the real CPL (RI 4.6)", NULL },
	{ NB_SENS_IRET, "iret", "iret", IDS(CS_IRET, CS_IRETD, CS_IRETQ), NULL, CTL | USR, 0, 0, "IRET",
	  "pops IF and IOPL, silently kept at CPL > 0 as by POPF (RI 4.6); to the same CPL it never traps", NULL },
	{ NB_SENS_INT, "int", "int", IDS(CS_INT), NULL, CTL, ALW, ALW, "INTn",
	  "enters the supervisor through the real IDT; the VMM's gates are DPL 0, so #GP(n*8+2) at CPL 3",
	  "#UD at the INT instruction under PVM (KVM fails to emulate it): still a trap" },
	{ NB_SENS_INT3, "int3", "int3", IDS(CS_INT3), NULL, CTL, ALW, ALW, "EXCP_BP",
	  "#BP through the real IDT (or #GP at a DPL-0 gate): the VMM gets control",
	  "#BP is delivered even through a DPL-0 gate under PVM" },
	{ NB_SENS_SYSCALL, "syscall", "syscall", IDS(CS_SYSCALL), NULL, CTL, ALW, ALW, "none (guest mode has its own LSTAR)",
	  "jumps to the real LSTAR at CPL 0: into the VMM",
	  "lands at LSTAR still at CPL 3 under PVM; a VMM that leaves LSTAR unmapped gets a #PF there" },
	{ NB_SENS_CPUID, "cpuid", "cpuid", IDS(CS_CPUID), NULL, BEH | USR, CPUIDF, 0, "CPUID",
	  "reveals the real processor and the hypervisor bit (the machine's configuration); #GP(0) at CPL > 0 only with CPUID faulting (SDM Vol. 4 table 2-2)",
	  "CPUID faulting has no effect on ring-3 code under PVM, though MSR 0xCE offers it" },
	{ NB_SENS_RDTSC, "rdtsc", "rdtsc", IDS(CS_RDTSC), NULL, BEH | USR | TIM, TSD, 0, "RDTSC",
	  "reads real time (PG's timing exception; Theorem 2); #GP(0) at CPL > 0 only with CR4.TSD",
	  "never traps with CR4.TSD under PVM" },
	{ NB_SENS_RDTSCP, "rdtscp", "rdtscp", IDS(CS_RDTSCP), NULL, BEH | USR | TIM, TSD, 0, "RDTSCP",
	  "reads real time and the real TSC_AUX; #GP(0) at CPL > 0 only with CR4.TSD",
	  "never traps with CR4.TSD under PVM" },

	/* Innocuous references. */
	{ NB_SENS_UD2, "ud2", "ud2", IDS(CS_UD2), NULL, 0, ALW, ALW, "EXCP_UD",
	  "always #UD, at every CPL: not sensitive (the probes' system call)", NULL },
	{ NB_SENS_MOV, "mov", "mov", IDS(CS_MOV), "*", 0, 0, 0, NULL,
	  "moves data between registers and memory the guest maps: not sensitive", NULL },
	{ NB_SENS_NOP, "nop", NULL, IDS(CS_NOP), NULL, 0, 0, 0, NULL, "does nothing: not sensitive", NULL },
};

const size_t nb_sens_count = sizeof(nb_sens_table) / sizeof(nb_sens_table[0]);

const struct nb_sens_insn *nb_sens_find(unsigned id)
{
	size_t i;

	for (i = 0; i < nb_sens_count; i++)
		if (nb_sens_table[i].id == id)
			return &nb_sens_table[i];
	return NULL;
}

enum nb_pg_class nb_sens_class(const struct nb_sens_insn *e)
{
	if (e->flags & NB_SENS_PRIVILEGED)
		return NB_PG_PRIVILEGED;
	if (e->flags & NB_SENS_CONTROL)
		return NB_PG_CONTROL;
	if (e->flags & NB_SENS_BEHAVIOUR)
		return NB_PG_BEHAVIOUR;
	return NB_PG_INNOCUOUS;
}

const char *nb_pg_class_name(enum nb_pg_class c)
{
	switch (c) {
	case NB_PG_PRIVILEGED:
		return "privileged";
	case NB_PG_CONTROL:
		return "control-sensitive";
	case NB_PG_BEHAVIOUR:
		return "behaviour-sensitive";
	default:
		return "innocuous";
	}
}

int nb_sens_is_sensitive(const struct nb_sens_insn *e)
{
	return (e->flags & (NB_SENS_CONTROL | NB_SENS_BEHAVIOUR)) != 0;
}

int nb_sens_traps(const struct nb_sens_insn *e, unsigned features, int measured)
{
	unsigned t = measured ? e->measured : e->traps;

	return (t & NB_TRAP_ALWAYS) || (t & features & (NB_FEAT_COUNT - 1)) != 0;
}

const char *nb_feat_name(unsigned features)
{
	static const char *const names[NB_FEAT_COUNT] = {
		"none", "umip", "cpuidf", "umip+cpuidf", "tsd", "umip+tsd", "cpuidf+tsd", "umip+cpuidf+tsd",
	};

	return features < NB_FEAT_COUNT ? names[features] : NULL;
}

/* An snprintf-like writer: counts everything, stores what fits. */
struct sql_out {
	char *buf;
	size_t size, len;
};

static void out_char(struct sql_out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_str(struct sql_out *o, const char *s)
{
	while (*s)
		out_char(o, *s++);
}

static void out_uint(struct sql_out *o, unsigned v)
{
	char digits[12];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		out_char(o, digits[--n]);
}

/* An SQL string literal ('' doubles a quote), or NULL. */
static void out_text(struct sql_out *o, const char *s)
{
	if (!s) {
		out_str(o, "NULL");
		return;
	}
	out_char(o, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			out_char(o, '\'');
		out_char(o, *s);
	}
	out_char(o, '\'');
}

static void out_sep(struct sql_out *o)
{
	out_str(o, ", ");
}

size_t nb_sens_sql(char *buf, size_t size)
{
	struct sql_out o = { buf, size, 0 };
	size_t i;
	unsigned f, k;

	out_str(&o, "-- Generated from shadow/sensitivity.c (nb_sens_sql): edit the C table, not this.\n");
	for (f = 0; f < NB_FEAT_COUNT; f++) {
		out_str(&o, "INSERT OR REPLACE INTO host_features (features, name, umip, cpuid_faulting, tsd) VALUES (");
		out_uint(&o, f);
		out_sep(&o);
		out_text(&o, nb_feat_name(f));
		out_sep(&o);
		out_uint(&o, (f & NB_FEAT_UMIP) != 0);
		out_sep(&o);
		out_uint(&o, (f & NB_FEAT_CPUID_FAULTING) != 0);
		out_sep(&o);
		out_uint(&o, (f & NB_FEAT_TSD) != 0);
		out_str(&o, ");\n");
	}
	for (i = 0; i < nb_sens_count; i++) {
		const struct nb_sens_insn *e = &nb_sens_table[i];

		out_str(&o, "INSERT OR REPLACE INTO insn_classes (sens_id, name, decoder_mnemonic, pg_class, privileged,"
			    " control_sensitive, behaviour_sensitive, user_sensitive, timing, svm, svm_intercept, why,"
			    " measured_note) VALUES (");
		out_uint(&o, e->id);
		out_sep(&o);
		out_text(&o, e->name);
		out_sep(&o);
		out_text(&o, e->decoder);
		out_sep(&o);
		out_text(&o, nb_pg_class_name(nb_sens_class(e)));
		out_sep(&o);
		out_uint(&o, (e->flags & NB_SENS_PRIVILEGED) != 0);
		out_sep(&o);
		out_uint(&o, (e->flags & NB_SENS_CONTROL) != 0);
		out_sep(&o);
		out_uint(&o, (e->flags & NB_SENS_BEHAVIOUR) != 0);
		out_sep(&o);
		out_uint(&o, (e->flags & NB_SENS_USER) != 0);
		out_sep(&o);
		out_uint(&o, (e->flags & NB_SENS_TIMING) != 0);
		out_sep(&o);
		out_uint(&o, (e->flags & NB_SENS_SVM) != 0);
		out_sep(&o);
		out_text(&o, e->svm_intercept);
		out_sep(&o);
		out_text(&o, e->why);
		out_sep(&o);
		out_text(&o, e->measured_note);
		out_str(&o, ");\n");
		for (k = 0; k < NB_SENS_CS_IDS && e->cs_ids[k]; k++) {
			out_str(&o, "INSERT OR REPLACE INTO insn_capstone (cs_id, sens_id, op_glob) VALUES (");
			out_uint(&o, e->cs_ids[k]);
			out_sep(&o);
			out_uint(&o, e->id);
			out_sep(&o);
			out_text(&o, e->cs_op_glob);
			out_str(&o, ");\n");
		}
		for (f = 0; f < NB_FEAT_COUNT; f++) {
			out_str(&o, "INSERT OR REPLACE INTO insn_traps (sens_id, features, traps_arch, traps_measured) VALUES (");
			out_uint(&o, e->id);
			out_sep(&o);
			out_uint(&o, f);
			out_sep(&o);
			out_uint(&o, (unsigned)nb_sens_traps(e, f, 0));
			out_sep(&o);
			out_uint(&o, (unsigned)nb_sens_traps(e, f, 1));
			out_str(&o, ");\n");
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len;
}
