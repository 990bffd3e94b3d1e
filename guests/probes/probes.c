/*
 * probes: executes each sensitive instruction of shadow/sensitivity.h in the guest's kernel mode
 * and in its user mode, and reports what it observed - the values read, whether an exception
 * arrived - with what the architecture says it should have seen (Popek and Goldberg's
 * equivalence property: a program under a VMM behaves as on the real machine). Then it times a
 * few operations (Theorem 2: timing dependencies). Each observation is one console line
 *     PROBE insn=sgdt mode=kernel probe=0 features=umip fault=- value=0x... value2=0x...
 *           expected=0x... expected2=0x... expected_fault=- as_architecture=1
 * and one trace record (NB_EV_GUEST, aux = NB_PROBE_AUX(...), fields in sensitivity.h), which
 * the store's v_pg_observations decodes.
 *
 * Options: umip=1 (CR4.UMIP, SDM Vol. 3A 2.5), cpuidf=1 (CPUID faulting: MSR 0x140 bit 0 when
 * MSR 0xCE bit 31 offers it, SDM Vol. 4 table 2-2), tsd=1 (CR4.TSD): turned on before any probe,
 * so that a run measures one feature set. The expected exceptions follow the features the probe
 * managed to turn on (the set-up record says which).
 *
 * Values must not depend on the depth unless the machine is unfaithful: the probe loads its own
 * GDT, TSS and IDT at addresses fixed at link time and names segments by fixed selectors, so
 * every value a faithful machine returns is the same at every depth.
 */
#include "guests/fidelity/fid64.h"
#include "nestbed/ports.h"
#include "shadow/sensitivity.h"

#define CR4_TSD (1ull << 2)
#define CR4_UMIP (1ull << 11)
#define MSR_PLATFORM_INFO 0xceu
#define MSR_MISC_FEATURES_ENABLES 0x140u
#define MSR_TSC_AUX 0xc0000103u
#define PLATFORM_INFO_CPUID_FAULTING (1ull << 31)
#define CPUID_LEAF7_ECX_UMIP (1u << 2)
#define CPUID_EXT_EDX_RDTSCP (1u << 27)
#define TSC_AUX_VALUE 0x2au
#define TIMING_TRIES 16

/* The probes' stubs (probes_stubs.S): pg_X is the function, pg_X_i .. pg_X_e the instruction. */
#define STUB(x) extern char pg_##x[], pg_##x##_i[], pg_##x##_e[]
STUB(sgdt); STUB(sidt); STUB(sldt); STUB(str); STUB(smsw); STUB(pushf); STUB(popf); STUB(lar);
STUB(lsl); STUB(verr); STUB(verw); STUB(mov_cs); STUB(mov_ss); STUB(cpuid); STUB(rdtsc);
STUB(rdtscp); STUB(loop); STUB(ud2);
extern char pg_user_call[], pg_user_done[];

typedef void stub_fn(void);

/* ---- the probe's own descriptor tables (SDM Vol. 3A 3.4.5, 6.14.1, 8.7) ---- */

#define PG_GDT_ENTRIES 7
#define PG_IDT_VECTORS 256

/* Accessed bits preset (type 0x9b, 0x93...), so that LAR's answer does not depend on which
 * segments were loaded since. */
#define DESC_KCODE 0x00af9b000000ffffull
#define DESC_KDATA 0x00cf93000000ffffull
#define DESC_UDATA 0x00cff3000000ffffull
#define DESC_UCODE 0x00affb000000ffffull
#define TSS_TYPE_AVAILABLE 0x89ull

static uint64_t pg_gdt[PG_GDT_ENTRIES] __attribute__((aligned(16)));
static struct x86_idt_gate64 pg_idt[PG_IDT_VECTORS] __attribute__((aligned(16)));
static struct x86_tss64 pg_tss __attribute__((aligned(16)));

extern char nb_trap_stubs[]; /* guests/lib/traps.S: 16 bytes per vector */

/* Loads the tables with LGDT, LTR and LIDT: same selectors and handlers as guests/lib's. */
static void pg_load_tables(void)
{
	uint64_t base = FID_ADDR(&pg_tss), limit = sizeof(pg_tss) - 1;
	struct x86_desc_ptr gdtr = { sizeof(pg_gdt) - 1, FID_ADDR(pg_gdt) };
	struct x86_desc_ptr idtr = { sizeof(pg_idt) - 1, FID_ADDR(pg_idt) };
	unsigned v;

	pg_tss.rsp[0] = FID_ADDR(nb_trap_stack_top);
	pg_tss.iomap_base = sizeof(pg_tss);
	pg_gdt[NB_SEL_KCODE >> 3] = DESC_KCODE;
	pg_gdt[NB_SEL_KDATA >> 3] = DESC_KDATA;
	pg_gdt[NB_SEL_UDATA >> 3] = DESC_UDATA;
	pg_gdt[NB_SEL_UCODE >> 3] = DESC_UCODE;
	pg_gdt[NB_SEL_TSS >> 3] = (limit & 0xffff) | (base & 0xffffff) << 16 | TSS_TYPE_AVAILABLE << 40 |
				  ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	pg_gdt[(NB_SEL_TSS >> 3) + 1] = base >> 32;
	for (v = 0; v < 32; v++) {
		uint64_t h = FID_ADDR(nb_trap_stubs + 16 * v);

		pg_idt[v].offset_lo = (uint16_t)h;
		pg_idt[v].selector = NB_SEL_KCODE;
		pg_idt[v].type_attr = 0x8e; /* P, DPL 0, 64-bit interrupt gate */
		pg_idt[v].offset_mid = (uint16_t)(h >> 16);
		pg_idt[v].offset_hi = (uint32_t)(h >> 32);
	}
	__asm__ volatile("lgdt %0\n\tltr %w1\n\tlidt %2" : : "m"(gdtr), "r"(NB_SEL_TSS), "m"(idtr) : "memory");
}

/* ---- observations ---- */

struct obs {
	uint64_t fault;        /* vector + 1, 0 for none */
	uint64_t value, value2;
};

struct expect {
	uint64_t fault;        /* vector + 1, 0 for none */
	int has_value, has_value2;
	uint64_t value, value2;
};

static unsigned requested, effective, offered;
static uint64_t cr0_low;

/* Runs stub(arg) at CPL 0, catching an exception. */
static struct obs run_kernel(const char *stub, uint64_t arg)
{
	struct obs o = { 0, 0, 0 };
	struct nb_try t;
	uint64_t a, d;

	if (nb_try(&t) != 0) {
		o.fault = t.vector + 1;
		return o;
	}
	__asm__ volatile("call *%[fn]"
			 : "=a"(a), "=d"(d), "+D"(arg)
			 : [fn] "r"(stub)
			 : "rcx", "rsi", "r8", "r9", "r10", "r11", "memory", "cc");
	nb_try_end();
	o.value = a;
	o.value2 = d;
	return o;
}

/* Runs stub(arg) at CPL 3: done when the UD2 after the call comes back. */
static struct obs run_user(const char *stub, uint64_t arg)
{
	struct obs o = { 0, 0, 0 };

	fid_run_user(pg_user_call, FID_ADDR(stub), arg, 0);
	if (fid_last.vector == X86_VEC_UD && fid_last.rip == FID_ADDR(pg_user_done)) {
		o.value = fid_last.rax;
		o.value2 = fid_last.rdx;
	} else {
		o.fault = fid_last.vector + 1;
	}
	return o;
}

int fid_trap_hook(struct nb_trap_frame *f)
{
	(void)f;
	return 0;
}

static int as_architecture(const struct obs *o, const struct expect *e)
{
	if (o->fault != e->fault)
		return 0;
	if (o->fault)
		return 1;
	return (!e->has_value || o->value == e->value) && (!e->has_value2 || o->value2 == e->value2);
}

static void print_fault(const char *key, uint64_t fault)
{
	if (fault)
		nb_printf(" %s=%u", key, (unsigned)(fault - 1));
	else
		nb_printf(" %s=-", key);
}

static void emit(unsigned id, unsigned mode, unsigned probe, const char *insn_start, const char *insn_end,
		 const struct obs *o, const struct expect *e, uint64_t flags)
{
	struct nb_trace_record rec = { 0 };
	const struct nb_sens_insn *s = nb_sens_find(id);
	unsigned len = insn_start ? (unsigned)(insn_end - insn_start) : 0;

	rec.kind = NB_EV_GUEST;
	rec.aux = NB_PROBE_AUX(requested, mode, probe, id);
	rec.rip = FID_ADDR(insn_start);
	rec.insn_len = (uint8_t)(len < sizeof(rec.insn) ? len : sizeof(rec.insn));
	if (insn_start)
		memcpy(rec.insn, insn_start, rec.insn_len);
	rec.exit_info1 = o->fault;
	rec.old_val = o->value;
	rec.addr = o->value2;
	rec.new_val = e->value;
	rec.exit_code = e->value2;
	rec.exit_info2 = flags | (e->has_value ? NB_PROBE_F_EXPECT_VALUE : 0) |
			 (e->has_value2 ? NB_PROBE_F_EXPECT_VALUE2 : 0) | e->fault << 8;
	nb_trace_emit(&rec);

	nb_printf("PROBE insn=%s mode=%s probe=%u features=%s",
		  s ? s->name : id == NB_SENS_NONE ? "setup" : "timing",
		  mode == NB_PROBE_USER ? "user" : "kernel", probe, nb_feat_name(requested));
	if (flags & NB_PROBE_F_UNSUPPORTED) {
		nb_printf(" unsupported=1\n");
		return;
	}
	if (flags & NB_PROBE_F_TIMING) {
		nb_printf(" cycles=%lu\n", (unsigned long)o->value);
		return;
	}
	print_fault("fault", o->fault);
	nb_printf(" value=0x%lx value2=0x%lx", (unsigned long)o->value, (unsigned long)o->value2);
	if (e->has_value)
		nb_printf(" expected=0x%lx", (unsigned long)e->value);
	if (e->has_value2)
		nb_printf(" expected2=0x%lx", (unsigned long)e->value2);
	print_fault("expected_fault", e->fault);
	nb_printf(" as_architecture=%d\n", as_architecture(o, e));
}

/* One probe in both modes: the kernel's expectation, and the user mode's (the exception
 * `feature` makes it raise at CPL 3 when in effect, else the user values). */
struct probe {
	unsigned id, probe;
	const char *stub, *insn_start, *insn_end;
	uint64_t arg;
	struct expect kernel, user;
	unsigned feature; /* NB_FEAT_* that makes it #GP at CPL 3 */
};

static int kernel_descriptor_probes = 1;

static void run_probe(const struct probe *p)
{
	struct obs o = { 0, 0, 0 };
	struct expect u = p->user;
	int descriptor = p->id == NB_SENS_LAR || p->id == NB_SENS_LSL || p->id == NB_SENS_VERR ||
			 p->id == NB_SENS_VERW;

	if (descriptor && !kernel_descriptor_probes) {
		emit(p->id, NB_PROBE_KERNEL, p->probe, p->insn_start, p->insn_end, &o, &p->kernel,
		     NB_PROBE_F_UNSUPPORTED);
	} else {
		o = run_kernel(p->stub, p->arg);
		emit(p->id, NB_PROBE_KERNEL, p->probe, p->insn_start, p->insn_end, &o, &p->kernel, 0);
	}
	if (p->feature & effective)
		u.fault = X86_VEC_GP + 1;
	o = run_user(p->stub, p->arg);
	emit(p->id, NB_PROBE_USER, p->probe, p->insn_start, p->insn_end, &o, &u, 0);
}

#define P(id_, probe_, x, arg_) NB_SENS_##id_, probe_, pg_##x, pg_##x##_i, pg_##x##_e, arg_
#define VALUES(v, v2) { 0, 1, 1, v, v2 }
#define VALUE(v) { 0, 1, 0, v, 0 }
#define UNKNOWN { 0, 0, 0, 0, 0 }

/* LAR's rights (SDM Vol. 2A LAR: descriptor bits 23:8 of the high dword, masked F0FF00) and
 * LSL's limits of the probe's own descriptors. */
#define RIGHTS(desc) (((desc) >> 32) & 0x00f0ff00u)
#define TSS_BUSY_RIGHTS 0x8b00u
#define FLAT_LIMIT 0xffffffffu

static void run_selector_probes(void)
{
	static const struct {
		uint16_t sel;
		uint64_t desc;
		int user_ok; /* DPL 3: visible at CPL 3 */
		int readable, writable;
	} sels[] = {
		{ NB_SEL_KCODE, DESC_KCODE, 0, 1, 0 }, { NB_SEL_KDATA, DESC_KDATA, 0, 1, 1 },
		{ NB_SEL_UDATA, DESC_UDATA, 1, 1, 1 }, { NB_SEL_UCODE, DESC_UCODE, 1, 1, 0 },
		{ NB_SEL_TSS, 0, 0, 0, 0 },
	};
	unsigned i;

	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		int tss = sels[i].sel == NB_SEL_TSS;
		uint64_t rights = tss ? TSS_BUSY_RIGHTS : RIGHTS(sels[i].desc);
		uint64_t limit = tss ? sizeof(pg_tss) - 1 : FLAT_LIMIT;
		int u = sels[i].user_ok;
		struct probe p[] = {
			{ P(LAR, i, lar, sels[i].sel), VALUES(rights, 1), VALUES(u ? rights : 0, u), 0 },
			{ P(LSL, i, lsl, sels[i].sel), VALUES(limit, 1), VALUES(u ? limit : 0, u), 0 },
			{ P(VERR, i, verr, sels[i].sel), VALUE(sels[i].readable), VALUE(u && sels[i].readable), 0 },
			{ P(VERW, i, verw, sels[i].sel), VALUE(sels[i].writable), VALUE(u && sels[i].writable), 0 },
		};
		unsigned k;

		for (k = 0; k < sizeof(p) / sizeof(p[0]); k++)
			run_probe(&p[k]);
	}
}

static void run_probes(void)
{
	uint64_t gdt_base = FID_ADDR(pg_gdt), idt_base = FID_ADDR(pg_idt);
	struct probe p[] = {
		{ P(SGDT, 0, sgdt, 0), VALUES(gdt_base, sizeof(pg_gdt) - 1), VALUES(gdt_base, sizeof(pg_gdt) - 1), NB_FEAT_UMIP },
		{ P(SIDT, 0, sidt, 0), VALUES(idt_base, sizeof(pg_idt) - 1), VALUES(idt_base, sizeof(pg_idt) - 1), NB_FEAT_UMIP },
		{ P(SLDT, 0, sldt, 0), VALUE(0), VALUE(0), NB_FEAT_UMIP },
		{ P(STR, 0, str, 0), VALUE(NB_SEL_TSS), VALUE(NB_SEL_TSS), NB_FEAT_UMIP },
		{ P(SMSW, 0, smsw, 0), VALUE(cr0_low), VALUE(cr0_low), NB_FEAT_UMIP },
		/* The kernel runs with IF clear, and so does its user mode (nb_trap_user_frame). */
		{ P(PUSHF, 0, pushf, 0), VALUES(0, 0), VALUES(0, 0), 0 },
		{ P(POPF, 0, popf, 0), VALUES(1, 3), VALUES(0, 0), 0 },
		{ P(MOV_FROM_SREG, 0, mov_cs, 0), VALUES(0, NB_SEL_KCODE), VALUES(3, NB_SEL_UCODE), 0 },
		{ P(MOV_FROM_SREG, 1, mov_ss, 0), VALUE(0), VALUES(3, NB_SEL_UDATA), 0 },
		/* Leaf 0, the vendor, and leaf 1, the features with the hypervisor bit (ECX[31],
		 * value2 bit 63): what the machine says of itself. No architectural value. */
		{ P(CPUID, 0, cpuid, 0), UNKNOWN, UNKNOWN, NB_FEAT_CPUID_FAULTING },
		{ P(CPUID, 1, cpuid, 1), UNKNOWN, UNKNOWN, NB_FEAT_CPUID_FAULTING },
		{ P(RDTSC, 0, rdtsc, 0), VALUES(1, 0), VALUES(1, 0), NB_FEAT_TSD },
	};
	unsigned i;

	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		run_probe(&p[i]);
	run_selector_probes();
}

/* RDTSCP only where CPUID says it exists; TSC_AUX set first so its value is known. */
static void run_rdtscp_probe(void)
{
	uint32_t a, b, c, d;
	struct probe p = { P(RDTSCP, 0, rdtscp, 0), VALUES(1, TSC_AUX_VALUE), VALUES(1, TSC_AUX_VALUE), NB_FEAT_TSD };
	struct obs none = { 0, 0, 0 };

	x86_cpuid(0x80000001u, &a, &b, &c, &d);
	if (!(d & CPUID_EXT_EDX_RDTSCP)) {
		emit(NB_SENS_RDTSCP, NB_PROBE_KERNEL, 0, NULL, NULL, &none, &p.kernel, NB_PROBE_F_UNSUPPORTED);
		emit(NB_SENS_RDTSCP, NB_PROBE_USER, 0, NULL, NULL, &none, &p.user, NB_PROBE_F_UNSUPPORTED);
		return;
	}
	x86_wrmsr(MSR_TSC_AUX, TSC_AUX_VALUE);
	run_probe(&p);
}

/* ---- timing (Theorem 2) ---- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void emit_timing(unsigned probe, unsigned mode, const char *start, const char *end, uint64_t cycles,
			int unsupported)
{
	struct obs o = { 0, cycles, 0 };
	struct expect none = UNKNOWN;

	emit(NB_SENS_TIMING_PROBE, mode, probe, start, end, &o, &none,
	     NB_PROBE_F_TIMING | (unsupported ? NB_PROBE_F_UNSUPPORTED : 0));
}

static void run_timing(void)
{
	uint64_t best[4] = { ~0ull, ~0ull, ~0ull, ~0ull }, t0;
	uint32_t a, b, c, d;
	int user_time = 1;
	unsigned i;

	for (i = 0; i < TIMING_TRIES; i++) {
		struct obs o = run_user(pg_loop, 0);

		if (o.fault)
			user_time = 0;
		else
			best[0] = min_u64(best[0], o.value);
		t0 = nb_rdtsc();
		nb_inb(NB_PORT_COM1 + NB_UART_LSR);
		best[1] = min_u64(best[1], nb_rdtsc() - t0);
		t0 = nb_rdtsc();
		x86_cpuid(0, &a, &b, &c, &d);
		best[2] = min_u64(best[2], nb_rdtsc() - t0);
		t0 = nb_rdtsc();
		fid_run_user(pg_ud2, 0, 0, 0);
		best[3] = min_u64(best[3], nb_rdtsc() - t0);
	}
	emit_timing(0, NB_PROBE_USER, pg_loop_i, pg_loop_e, user_time ? best[0] : 0, !user_time);
	emit_timing(1, NB_PROBE_KERNEL, NULL, NULL, best[1], 0);
	emit_timing(2, NB_PROBE_KERNEL, NULL, NULL, best[2], 0);
	emit_timing(3, NB_PROBE_USER, pg_ud2_i, pg_ud2_e, best[3], 0);
}

/* ---- features ---- */

static int try_write_cr4(uint64_t v)
{
	struct nb_try t;

	if (nb_try(&t) != 0)
		return 0;
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
	nb_try_end();
	return 1;
}

static int try_rdmsr(uint32_t msr, uint64_t *v)
{
	struct nb_try t;

	if (nb_try(&t) != 0)
		return 0;
	*v = x86_rdmsr(msr);
	nb_try_end();
	return 1;
}

static int try_wrmsr(uint32_t msr, uint64_t v)
{
	struct nb_try t;

	if (nb_try(&t) != 0)
		return 0;
	x86_wrmsr(msr, v);
	nb_try_end();
	return 1;
}

/* Turns on what was asked for, as far as the (virtual) CPU lets it; effective says what is on. */
static void enable_features(void)
{
	uint32_t a, b, c, d;
	uint64_t info = 0, misc = 0;

	x86_cpuid(0, &a, &b, &c, &d);
	if (a >= 7) {
		x86_cpuid(7, &a, &b, &c, &d);
		if (c & CPUID_LEAF7_ECX_UMIP)
			offered |= NB_FEAT_UMIP;
	}
	if (try_rdmsr(MSR_PLATFORM_INFO, &info) && (info & PLATFORM_INFO_CPUID_FAULTING))
		offered |= NB_FEAT_CPUID_FAULTING;
	offered |= NB_FEAT_TSD; /* CR4.TSD is architectural since the Pentium */

	if ((requested & NB_FEAT_UMIP) && (offered & NB_FEAT_UMIP) &&
	    try_write_cr4(x86_read_cr4() | CR4_UMIP) && (x86_read_cr4() & CR4_UMIP))
		effective |= NB_FEAT_UMIP;
	if ((requested & NB_FEAT_CPUID_FAULTING) && (offered & NB_FEAT_CPUID_FAULTING) &&
	    try_rdmsr(MSR_MISC_FEATURES_ENABLES, &misc) && try_wrmsr(MSR_MISC_FEATURES_ENABLES, misc | 1) &&
	    try_rdmsr(MSR_MISC_FEATURES_ENABLES, &misc) && (misc & 1))
		effective |= NB_FEAT_CPUID_FAULTING;
	if ((requested & NB_FEAT_TSD) && try_write_cr4(x86_read_cr4() | CR4_TSD) && (x86_read_cr4() & CR4_TSD))
		effective |= NB_FEAT_TSD;
}

int kmain(struct nb_boot_info *bi)
{
	struct obs setup;
	struct expect want = UNKNOWN;
	int rc = fid_init(bi, "probes", "sensitive instructions in kernel and user mode (Popek-Goldberg)");

	if (rc)
		return rc;
	x86_write_cr3(fid_user_space(bi));
	pg_load_tables();
	/* At depth 1 the kernel's ring 0 is KVM's instruction emulator (PVM), which cannot emulate
	 * LAR, LSL, VERR or VERW: the VM would stop with an emulation failure. Deeper, the guest's
	 * kernel runs in ring 3 and they run natively; the store then compares them with the
	 * architecture instead of with depth 1. Option kdesc=0/1 overrides. */
	kernel_descriptor_probes = (int)nb_opt_u64(bi->options, "kdesc", bi->level > 1);
	requested = (nb_opt_u64(bi->options, "umip", 0) ? NB_FEAT_UMIP : 0) |
		    (nb_opt_u64(bi->options, "cpuidf", 0) ? NB_FEAT_CPUID_FAULTING : 0) |
		    (nb_opt_u64(bi->options, "tsd", 0) ? NB_FEAT_TSD : 0);
	enable_features();
	cr0_low = x86_read_cr0() & 0xffff;

	setup.fault = 0;
	setup.value = effective;
	setup.value2 = offered;
	want.has_value = 1;
	want.value = requested;
	emit(NB_SENS_NONE, NB_PROBE_KERNEL, 0, NULL, NULL, &setup, &want, 0);
	run_probes();
	run_rdtscp_probe();
	run_timing();
	nb_printf("probes: done (features %s asked, %s in effect)\n", nb_feat_name(requested), nb_feat_name(effective));
	nb_trace_flush();
	return 0;
}
