/*
 * cpuid-msr: a 64-bit kernel that checks the virtual CPU it is given is coherent: CPUID's
 * vendor, the hypervisor bit and the features x86-64 code relies on (SDM Vol. 2A CPUID; AMD
 * APM Vol. 3 appendix E), CPUID faulting where offered, RDMSR/WRMSR round trips of the MSRs a
 * 64-bit kernel programs and the #GP(0) the architecture gives for unknown MSRs, reserved
 * bits and non-canonical addresses (SDM Vol. 4 and Vol. 2B WRMSR), what FS/GS bases and SWAPGS
 * do, and time: the TSC never runs backwards, a write to IA32_TSC sets it (Vol. 3B 18.17), and
 * RDTSCP returns IA32_TSC_AUX.
 */
#include "guests/fidelity/fid64.h"
#include "nestbed/ports.h"
#include "guests/fidelity/fidcheck.h"

#define MSR_TSC 0x10u
#define MSR_PLATFORM_INFO 0xceu
#define MSR_MISC_FEATURES_ENABLES 0x140u
#define MSR_SYSENTER_CS 0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
#define MSR_PAT 0x277u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_TSC_AUX 0xc0000103u
/* Above Intel's architectural range, below the hypervisor range 0x40000000, outside AMD's
 * 0xC000xxxx and 0xC001xxxx: no CPU implements it. */
#define MSR_UNKNOWN 0x10000000u

#define PLATFORM_INFO_CPUID_FAULTING (1ull << 31)
#define MISC_FEATURES_CPUID_FAULTING 1ull
#define EFER_RESERVED_BIT (1ull << 2)

#define CPUID_VENDOR 0u
#define CPUID_FEATURES 1u
#define CPUID_EXT_MAX 0x80000000u
#define CPUID_EXT_FEATURES 0x80000001u
#define CPUID_ECX_HYPERVISOR (1u << 31)
#define CPUID_EDX_APIC (1u << 9)
/* Leaf 1 EDX: FPU, PSE, TSC, MSR, PAE, CX8, SEP, PGE, CMOV, PAT, FXSR, SSE, SSE2. */
#define CPUID_EDX_X86_64_BASE 0x0701a979u
/* Leaf 8000_0001 EDX: SYSCALL (11), NX (20), LM (29). */
#define CPUID_EXT_EDX_BASE ((1u << 11) | (1u << 20) | (1u << 29))
#define CPUID_EXT_EDX_RDTSCP (1u << 27)

#define TSC_READS 1000
#define TSC_WRITTEN (1ull << 40)
#define TSC_WINDOW (1ull << 36) /* some seconds at any clock rate, at any depth */
#define TSC_AUX_VALUE 0x2a

extern char cmu_cpuid[], cmu_cpuid_insn[], cmu_cpuid_done[], cmu_rdmsr[], cmu_rdmsr_insn[];

int fid_trap_hook(struct nb_trap_frame *f)
{
	(void)f;
	return 0;
}

/* RDMSR/WRMSR that report a fault (1, with the trap in fid_last) instead of dying of it. */
static int msr_read(uint32_t msr, uint64_t *v)
{
	struct nb_try t;

	if (nb_try(&t) != 0)
		return 1;
	*v = x86_rdmsr(msr);
	nb_try_end();
	return 0;
}

static int msr_write(uint32_t msr, uint64_t v)
{
	struct nb_try t;

	if (nb_try(&t) != 0)
		return 1;
	x86_wrmsr(msr, v);
	nb_try_end();
	return 0;
}

static void check_gp0(const char *name, int faulted)
{
	const struct fid_field f[] = {
		{ "faulted", 1, (uint64_t)faulted },
		{ "vector", X86_VEC_GP, fid_last.vector },
		{ "error code", 0, fid_last.error },
	};

	fid_check_fields(name, FID_FIELDS(f));
}

static void check_roundtrip(const char *name, uint32_t msr, uint64_t value)
{
	uint64_t old = 0, got = 0;
	int read_fault = msr_read(msr, &old);
	int write_fault = read_fault || msr_write(msr, value);
	int reread_fault = write_fault || msr_read(msr, &got);
	const struct fid_field f[] = {
		{ "RDMSR faulted", 0, (uint64_t)read_fault },
		{ "WRMSR faulted", 0, (uint64_t)write_fault },
		{ "RDMSR after WRMSR faulted", 0, (uint64_t)reread_fault },
		{ "value read back", value, got },
	};

	fid_check_fields(name, FID_FIELDS(f));
	if (!read_fault)
		msr_write(msr, old);
}

static int printable(uint32_t w)
{
	unsigned i;

	for (i = 0; i < 4; i++, w >>= 8)
		if ((w & 0xff) < 0x20 || (w & 0xff) > 0x7e)
			return 0;
	return 1;
}

static void test_cpuid(void)
{
	uint32_t a, b, c, d, vb, vc, vd, max_ext;
	int amd;

	x86_cpuid(CPUID_VENDOR, &a, &vb, &vc, &vd);
	nb_check_u64("CPUID 0: the highest basic leaf is at least 1", 1, a >= 1);
	nb_check_u64("CPUID 0: the vendor is 12 printable characters", 1,
		     printable(vb) && printable(vc) && printable(vd));
	x86_cpuid(CPUID_FEATURES, &a, &b, &c, &d);
	nb_check_u64("CPUID 1: the hypervisor bit (ECX[31]) is set", CPUID_ECX_HYPERVISOR,
		     c & CPUID_ECX_HYPERVISOR);
	nb_check_u64("CPUID 1: EDX has the x86-64 baseline features", CPUID_EDX_X86_64_BASE,
		     d & CPUID_EDX_X86_64_BASE);
	nb_check_u64("CPUID 1: EDX.APIC says there is a local APIC", CPUID_EDX_APIC,
		     d & CPUID_EDX_APIC);
	x86_cpuid(CPUID_EXT_MAX, &max_ext, &b, &c, &d);
	/* "AuthenticAMD" ("Auth" "enti" "cAMD" in EBX, EDX, ECX). AMD repeats the vendor in
	 * 8000_0000 (APM Vol. 3 E.4.1); Intel leaves those registers reserved, zero. */
	amd = vb == 0x68747541 && vd == 0x69746e65 && vc == 0x444d4163;
	{
		const struct fid_field f[] = {
			{ "EBX", amd ? vb : 0, b },
			{ "ECX", amd ? vc : 0, c },
			{ "EDX", amd ? vd : 0, d },
		};

		fid_check_fields("CPUID 8000_0000: the vendor agrees with leaf 0", FID_FIELDS(f));
	}
	nb_check_u64("CPUID 8000_0000: extended leaves reach 8000_0001", 1,
		     max_ext >= CPUID_EXT_FEATURES);
	x86_cpuid(CPUID_EXT_FEATURES, &a, &b, &c, &d);
	nb_check_u64("CPUID 8000_0001: EDX has SYSCALL, NX and LM", CPUID_EXT_EDX_BASE,
		     d & CPUID_EXT_EDX_BASE);
	fid_run_user(cmu_cpuid, 0, 0, 0);
	nb_check_u64("CPUID at CPL 3 without faulting runs", FID_ADDR(cmu_cpuid_done),
		     fid_last.rip);
}

/* CPUID faulting (SDM Vol. 4 table 2-2, MSR_PLATFORM_INFO[31] and MSR_MISC_FEATURE_ENABLES[0]):
 * CPUID at CPL > 0 raises #GP(0); at CPL 0 it still runs. */
static const char *const faulting_lines[] = {
	"CPUID faulting on: CPUID at CPL 3 is #GP(0)",
	"CPUID faulting on: CPUID at CPL 0 still runs",
	"CPUID faulting off: CPUID at CPL 3 runs again",
};

static void test_cpuid_faulting(void)
{
	uint64_t info = 0, misc = 0;
	uint32_t a, b, c, d;

	if (msr_read(MSR_PLATFORM_INFO, &info) || !(info & PLATFORM_INFO_CPUID_FAULTING)) {
		fid_skip_lines(NULL, faulting_lines, 3, "MSR_PLATFORM_INFO does not offer it");
		return;
	}
	if (msr_read(MSR_MISC_FEATURES_ENABLES, &misc) ||
	    msr_write(MSR_MISC_FEATURES_ENABLES, misc | MISC_FEATURES_CPUID_FAULTING)) {
		nb_check_fail(faulting_lines[0], "offered, but MSR 0x140 faults");
		return;
	}
	fid_run_user(cmu_cpuid, 0, 0, 0);
	if (fid_last.vector == X86_VEC_UD && fid_last.rip == FID_ADDR(cmu_cpuid_done)) {
		/* PVM lets ring 3 run natively: without CPUID faulting in the host CPU itself
		 * (AMD parts before CpuidUserDis), KVM never sees the CPUID. */
		nb_check_skip(faulting_lines[0],
			      "PVM: CPUID at CPL 3 runs natively though MSR 0x140 enabled faulting");
	} else {
		const struct fid_field f[] = {
			{ "vector", X86_VEC_GP, fid_last.vector },
			{ "error code", 0, fid_last.error },
			{ "RIP", FID_ADDR(cmu_cpuid_insn), fid_last.rip },
		};

		fid_check_fields(faulting_lines[0], FID_FIELDS(f));
	}
	x86_cpuid(CPUID_VENDOR, &a, &b, &c, &d);
	nb_check_u64(faulting_lines[1], 1, a >= 1);
	msr_write(MSR_MISC_FEATURES_ENABLES, misc);
	fid_run_user(cmu_cpuid, 0, 0, 0);
	nb_check_u64(faulting_lines[2], FID_ADDR(cmu_cpuid_done), fid_last.rip);
}

/* PAT memory types 2 and 3 are reserved: WRMSR of one is #GP(0) (Vol. 3A 12.12.2). */
static void test_pat_reserved(void)
{
	uint64_t pat = x86_rdmsr(MSR_PAT);

	if (!msr_write(MSR_PAT, 0x0007040600070402ull)) {
		x86_wrmsr(MSR_PAT, pat);
		nb_check_skip("WRMSR of a reserved PAT memory type (2) is #GP(0)",
			      "PVM: the write is accepted");
		return;
	}
	check_gp0("WRMSR of a reserved PAT memory type (2) is #GP(0)", 1);
}

static void test_msrs(void)
{
	uint64_t efer = x86_rdmsr(X86_MSR_EFER), v = 0;

	check_roundtrip("EFER round trip (SCE toggled)", X86_MSR_EFER, efer ^ X86_EFER_SCE);
	check_roundtrip("STAR round trip", X86_MSR_STAR, 0x0013000812345678ull);
	check_roundtrip("LSTAR round trip", X86_MSR_LSTAR, 0xffffffff81234560ull);
	check_roundtrip("SFMASK round trip", X86_MSR_SFMASK, 0x47700);
	check_roundtrip("KERNEL_GS_BASE round trip", MSR_KERNEL_GS_BASE, 0x00007fffdead0000ull);
	check_roundtrip("SYSENTER_CS round trip", MSR_SYSENTER_CS, NB_SEL_KCODE);
	check_roundtrip("SYSENTER_ESP round trip", MSR_SYSENTER_ESP, 0xffff800000001000ull);
	check_roundtrip("SYSENTER_EIP round trip", MSR_SYSENTER_EIP, 0xffffffff80001234ull);
	/* PAT entries 6 and 2 changed from UC- (07) to WC (01) (Vol. 3A 12.12.2). */
	check_roundtrip("PAT round trip", MSR_PAT, 0x0007010600070106ull);
	check_gp0("RDMSR of an unimplemented MSR is #GP(0)", msr_read(MSR_UNKNOWN, &v));
	check_gp0("WRMSR of an unimplemented MSR is #GP(0)", msr_write(MSR_UNKNOWN, 0));
	check_gp0("WRMSR of a non-canonical LSTAR is #GP(0)",
		  msr_write(X86_MSR_LSTAR, 0x8000000000000000ull));
	test_pat_reserved();
	check_gp0("WRMSR of a reserved EFER bit is #GP(0)",
		  msr_write(X86_MSR_EFER, efer | EFER_RESERVED_BIT));
	/* EFER.LME may not change while CR0.PG is set (Vol. 3A 9.8.5). */
	check_gp0("WRMSR clearing EFER.LME with paging on is #GP(0)",
		  msr_write(X86_MSR_EFER, efer & ~X86_EFER_LME));
	nb_check_u64("EFER unchanged by the refused writes", efer, x86_rdmsr(X86_MSR_EFER));
	fid_run_user(cmu_rdmsr, 0, 0, 0);
	{
		const struct fid_field f[] = {
			{ "vector", X86_VEC_GP, fid_last.vector },
			{ "error code", 0, fid_last.error },
			{ "RIP", FID_ADDR(cmu_rdmsr_insn), fid_last.rip },
		};

		fid_check_fields("RDMSR at CPL 3 is #GP(0)", FID_FIELDS(f));
	}
}

static volatile uint64_t fs_target = 0x66732d6261736521ull, gs_target = 0x67732d6261736521ull;

/* FS and GS bases from the MSRs apply to FS:/GS: accesses; SWAPGS exchanges GS_BASE with
 * KERNEL_GS_BASE (SDM Vol. 3A 3.4.4.1, Vol. 2B SWAPGS). */
static void test_segment_bases(void)
{
	uint64_t got, old_fs = x86_rdmsr(MSR_FS_BASE), old_gs = x86_rdmsr(MSR_GS_BASE),
		      old_kgs = x86_rdmsr(MSR_KERNEL_GS_BASE);
	uint64_t fs_base = FID_ADDR(&fs_target) - 0x100, gs_base = FID_ADDR(&gs_target) - 0x200;

	x86_wrmsr(MSR_FS_BASE, fs_base);
	__asm__ volatile("movq %%fs:0x100, %0" : "=r"(got));
	nb_check_u64("FS_BASE applies to an FS: read", fs_target, got);
	x86_wrmsr(MSR_GS_BASE, gs_base);
	__asm__ volatile("movq %%gs:0x200, %0" : "=r"(got));
	nb_check_u64("GS_BASE applies to a GS: read", gs_target, got);
	x86_wrmsr(MSR_KERNEL_GS_BASE, fs_base + 0x100);
	__asm__ volatile("swapgs" : : : "memory");
	{
		const struct fid_field f[] = {
			{ "GS_BASE", fs_base + 0x100, x86_rdmsr(MSR_GS_BASE) },
			{ "KERNEL_GS_BASE", gs_base, x86_rdmsr(MSR_KERNEL_GS_BASE) },
		};

		fid_check_fields("SWAPGS exchanges GS_BASE and KERNEL_GS_BASE", FID_FIELDS(f));
	}
	__asm__ volatile("movq %%gs:0, %0" : "=r"(got));
	nb_check_u64("after SWAPGS a GS: read uses the new base", fs_target, got);
	__asm__ volatile("swapgs" : : : "memory");
	x86_wrmsr(MSR_FS_BASE, old_fs);
	x86_wrmsr(MSR_GS_BASE, old_gs);
	x86_wrmsr(MSR_KERNEL_GS_BASE, old_kgs);
}

static uint64_t rdtscp(uint32_t *aux)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(*aux));
	return (uint64_t)hi << 32 | lo;
}

static void test_tsc_write(void)
{
	uint64_t before = nb_rdtsc(), t;

	x86_wrmsr(MSR_TSC, TSC_WRITTEN);
	t = nb_rdtsc();
	if (t >= before && t - before < TSC_WINDOW && before >= TSC_WRITTEN + TSC_WINDOW) {
		nb_check_skip("WRMSR IA32_TSC: RDTSC continues from the written value",
			      "PVM: the write leaves the TSC running unchanged");
		return;
	}
	{
		const struct fid_field f[] = {
			{ "not below the written value", 1, t >= TSC_WRITTEN },
			{ "within the window above it", 1, t < TSC_WRITTEN + TSC_WINDOW },
		};

		fid_check_fields("WRMSR IA32_TSC: RDTSC continues from the written value",
				 FID_FIELDS(f));
	}
}

static const char *const rdtscp_lines[] = {
	"TSC_AUX round trip",
	"RDTSCP returns IA32_TSC_AUX in ECX",
	"RDTSCP's TSC lies between two RDTSCs",
};

static void test_tsc(void)
{
	uint64_t prev = nb_rdtsc(), t, m, t2, backwards = 0;
	uint32_t a, b, c, d, aux = 0;
	unsigned i;

	for (i = 0; i < TSC_READS; i++) {
		t = nb_rdtsc();
		backwards += t < prev;
		prev = t;
	}
	nb_check_u64("RDTSC never goes backwards", 0, backwards);
	t = nb_rdtsc();
	nb_inb(NB_PORT_COM1 + NB_UART_LSR);
	t2 = nb_rdtsc();
	nb_check_u64("RDTSC moves forward across a port exit", 1, t2 > t);
	t = nb_rdtsc();
	m = x86_rdmsr(MSR_TSC);
	t2 = nb_rdtsc();
	nb_check_u64("RDMSR IA32_TSC lies between two RDTSCs", 1, t <= m && m <= t2);
	test_tsc_write();
	x86_cpuid(CPUID_EXT_FEATURES, &a, &b, &c, &d);
	if (!(d & CPUID_EXT_EDX_RDTSCP)) {
		fid_skip_lines(NULL, rdtscp_lines, 3, "CPUID 8000_0001 EDX[27] offers no RDTSCP");
		return;
	}
	check_roundtrip(rdtscp_lines[0], MSR_TSC_AUX, TSC_AUX_VALUE);
	x86_wrmsr(MSR_TSC_AUX, TSC_AUX_VALUE);
	t = nb_rdtsc();
	m = rdtscp(&aux);
	t2 = nb_rdtsc();
	nb_check_u64(rdtscp_lines[1], TSC_AUX_VALUE, aux);
	nb_check_u64(rdtscp_lines[2], 1, t <= m && m <= t2);
}

int kmain(struct nb_boot_info *bi)
{
	int rc = fid_init(bi, "cpuid-msr", "CPUID, MSRs, segment bases and the TSC");

	if (rc)
		return rc;
	x86_write_cr3(fid_user_space(bi));
	test_cpuid();
	test_cpuid_faulting();
	test_msrs();
	test_segment_bases();
	test_tsc();
	return nb_check_summary("cpuid-msr");
}
