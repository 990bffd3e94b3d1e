/*
 * svmtest: a minimal SVM hypervisor that checks, as a nested hypervisor relies on it, what the
 * CPU under it does (svmtest.h). This file: start-up, what CPUID says of SVM, the areas' runner
 * and its guard against exceptions in the hypervisor, and the checks of the SVM instructions
 * themselves (enabling SVM, VMRUN's faults, VMLOAD/VMSAVE, CLGI/STGI). The guests' intercepts
 * are in intercepts.c, nested paging in npt.c.
 *
 * Without SVM (CPUID 8000_0001 ECX[2] clear: directly under L0 on machines without SVM, or
 * under a hypervisor that offers none) every line is a SKIP saying why, and the exit status is 0.
 */
#include "guests/svmtest/svmtest.h"

struct svt_cpu svt_cpu;
struct svt_fault svt_fault;
struct svt_world_switch svt_world_switch;
volatile uint64_t svt_guest_ran;
uint64_t svt_mem_size;

/* The area running, how many of its lines it has printed, and whether SVM is on. */
static const struct svt_area *running;
static unsigned lines_done;
static int svm_enabled;

int svt_check(unsigned line, const struct fid_field *fields, unsigned n)
{
	lines_done = line + 1;
	return fid_check_fields(running->lines[line], fields, n);
}

void svt_fail(unsigned line, const char *why)
{
	lines_done = line + 1;
	nb_check_fail(running->lines[line], why);
}

const char *svt_line_name(void)
{
	return running && lines_done < running->n ? running->lines[lines_done] : "(between checks)";
}

struct fixup {
	uint64_t insn, resume;
};

extern const struct fixup svt_fixups[], svt_fixups_end[]; /* svm_insn.S */

uint64_t svt_fixup(uint64_t rip)
{
	const struct fixup *p;

	for (p = svt_fixups; p < svt_fixups_end; p++)
		if (p->insn == rip)
			return p->resume;
	return 0;
}

/* fid64.c's ktrap asks here first: an exception at a wrapped SVM instruction (svm_insn.S) is
 * recorded and the wrapper returns 1; anything else goes on to the default handling (ring 3
 * back to fid_run_user's caller, ring 0 to the area's guard). */
int fid_trap_hook(struct nb_trap_frame *f)
{
	uint64_t resume = (f->cs & 3) == 0 ? svt_fixup(f->rip) : 0;

	if (!resume)
		return 0;
	svt_fault.vector = f->vector;
	svt_fault.error = f->error;
	f->rip = resume;
	return 1;
}

/* Fills svt_cpu; returns why SVM cannot be tested here, or NULL. */
static const char *cpu_probe(void)
{
	uint32_t max, a, b, c, d;

	x86_cpuid(CPUID_EXT_MAX, &max, &b, &c, &d);
	if (max < CPUID_EXT_FEATURES)
		return "CPUID has no leaf 8000_0001: no SVM on this CPU";
	x86_cpuid(CPUID_EXT_FEATURES, &a, &b, &c, &d);
	if (!(c & CPUID_EXT_ECX_SVM))
		return "CPUID 8000_0001 ECX[2] is clear: this CPU offers no SVM";
	if (max < CPUID_SVM_FEATURES)
		return "CPUID has no leaf 8000_000A: SVM offered but not described";
	x86_cpuid(CPUID_SVM_FEATURES, &a, &b, &c, &d);
	svt_cpu.revision = a & 0xff;
	svt_cpu.nasid = b;
	svt_cpu.features = d;
	/* Without leaf 8000_0008, 36 bits (APM vol. 3, CPUID Fn8000_0008). */
	svt_cpu.maxphyaddr = 36;
	if (max >= CPUID_EXT_ADDR_SIZES) {
		x86_cpuid(CPUID_EXT_ADDR_SIZES, &a, &b, &c, &d);
		svt_cpu.maxphyaddr = a & 0xff;
	}
	return NULL;
}

/*
 * Enabling SVM (§15.4): CPUID says it exists, VM_CR.SVMDIS says firmware has not locked it
 * away, EFER.SVME turns the SVM instructions on (until then they are #UD), and VM_HSAVE_PA
 * names the page where VMRUN will keep the host's state while a guest runs (§15.30.4).
 */
enum { SETUP_CPUID, SETUP_VM_CR, SETUP_UD, SETUP_SVME, SETUP_HSAVE_GP, SETUP_HSAVE };
static const char *const setup_lines[] = {
	[SETUP_CPUID] = "CPUID 8000_000A: SVM revision 1 or later, ASIDs for guests",
	[SETUP_VM_CR] = "VM_CR (C001_0114) reads with SVMDIS clear",
	[SETUP_UD] = "VMRUN with EFER.SVME clear is #UD",
	[SETUP_SVME] = "WRMSR EFER with SVME: EFER.SVME reads back set",
	[SETUP_HSAVE_GP] = "WRMSR VM_HSAVE_PA (C001_0117) with bits 11:0 set is #GP(0)",
	[SETUP_HSAVE] = "VM_HSAVE_PA takes the host save area's page address",
};

static void setup_run(void)
{
	struct svt_vm vm;
	uint64_t vm_cr = 0, hsave = 0, efer = x86_rdmsr(X86_MSR_EFER) & ~X86_EFER_SVME;
	int faulted, raised;

	{
		const struct fid_field f[] = {
			{ "revision at least 1", 1, svt_cpu.revision >= 1 },
			/* ASID 0 is the host's: a guest needs another. */
			{ "at least 2 ASIDs", 1, svt_cpu.nasid >= 2 },
		};

		svt_check(SETUP_CPUID, FID_FIELDS(f));
	}
	faulted = svt_rdmsr(MSR_VM_CR, &vm_cr);
	{
		const struct fid_field f[] = {
			{ "RDMSR faulted", 0, (uint64_t)faulted },
			{ "SVMDIS", 0, vm_cr & VM_CR_SVMDIS },
		};

		if (!svt_check(SETUP_VM_CR, FID_FIELDS(f)))
			return;
	}
	x86_wrmsr(X86_MSR_EFER, efer);
	svt_vm_init(&vm, svt_g_marker);
	raised = svt_vmrun(SVT_ADDR(vm.vmcb), &vm.gprs);
	{
		const struct fid_field f[] = {
			{ "raised an exception", 1, (uint64_t)raised },
			{ "vector", X86_VEC_UD, svt_fault.vector },
		};

		svt_check(SETUP_UD, FID_FIELDS(f));
	}
	faulted = svt_wrmsr(X86_MSR_EFER, efer | X86_EFER_SVME);
	{
		const struct fid_field f[] = {
			{ "WRMSR faulted", 0, (uint64_t)faulted },
			{ "EFER.SVME", X86_EFER_SVME, x86_rdmsr(X86_MSR_EFER) & X86_EFER_SVME },
		};

		if (!svt_check(SETUP_SVME, FID_FIELDS(f)))
			return;
	}
	faulted = svt_wrmsr(MSR_VM_HSAVE_PA, svt_hsave_pa() | 0x800);
	{
		const struct fid_field f[] = {
			{ "faulted", 1, (uint64_t)faulted },
			{ "vector", X86_VEC_GP, svt_fault.vector },
			{ "error code", 0, svt_fault.error },
		};

		svt_check(SETUP_HSAVE_GP, FID_FIELDS(f));
	}
	faulted = svt_wrmsr(MSR_VM_HSAVE_PA, svt_hsave_pa()) || svt_rdmsr(MSR_VM_HSAVE_PA, &hsave);
	{
		const struct fid_field f[] = {
			{ "WRMSR or RDMSR faulted", 0, (uint64_t)faulted },
			{ "read back", svt_hsave_pa(), hsave },
		};

		if (!svt_check(SETUP_HSAVE, FID_FIELDS(f)))
			return;
	}
	svm_enabled = 1;
	/* From here on, every #VMEXIT must give the host back this state. */
	svt_host_snapshot();
}

const struct svt_area svt_area_setup = SVT_AREA(setup_lines, 0, NULL, setup_run);

/* VMRUN's own exceptions (APM vol. 3, VMRUN): #GP(0) at CPL > 0, and when rAX is not a
 * page-aligned physical address the CPU supports. The guest must not run in any case. */
enum { FAULT_CPL3, FAULT_UNALIGNED, FAULT_MAXPHYADDR };
static const char *const vmrun_fault_lines[] = {
	[FAULT_CPL3] = "VMRUN at CPL 3 is #GP(0)",
	[FAULT_UNALIGNED] = "VMRUN with a VMCB address not 4 KiB aligned is #GP(0)",
	[FAULT_MAXPHYADDR] = "VMRUN with a VMCB address at 2^MAXPHYADDR is #GP(0)",
};

static void vmrun_gp(unsigned line, uint64_t rax)
{
	struct svt_vm vm;
	int raised;

	svt_vm_init(&vm, svt_g_marker);
	svt_guest_ran = 0;
	raised = svt_vmrun(rax, &vm.gprs);
	{
		const struct fid_field f[] = {
			{ "raised an exception", 1, (uint64_t)raised },
			{ "vector", X86_VEC_GP, svt_fault.vector },
			{ "error code", 0, svt_fault.error },
			{ "guest ran", 0, svt_guest_ran },
		};

		svt_check(line, FID_FIELDS(f));
	}
}

static void vmrun_faults_run(void)
{
	struct svt_vm vm;

	svt_vm_init(&vm, svt_g_marker);
	svt_guest_ran = 0;
	fid_run_user(svt_user_vmrun, SVT_ADDR(vm.vmcb), 0, 0);
	{
		const struct fid_field f[] = {
			{ "vector", X86_VEC_GP, fid_last.vector },
			{ "error code", 0, fid_last.error },
			{ "RIP", SVT_ADDR(svt_user_vmrun_insn), fid_last.rip },
			{ "guest ran", 0, svt_guest_ran },
		};

		svt_check(FAULT_CPL3, FID_FIELDS(f));
	}
	vmrun_gp(FAULT_UNALIGNED, SVT_ADDR(vm.vmcb) + 0x10);
	vmrun_gp(FAULT_MAXPHYADDR, 1ull << svt_cpu.maxphyaddr);
}

const struct svt_area svt_area_vmrun_faults = SVT_AREA(vmrun_fault_lines, 0, NULL, vmrun_faults_run);

/*
 * VMLOAD and VMSAVE (§15.5.2) move the state VMRUN leaves alone between the CPU and a
 * VMCB-format page: FS, GS, TR, LDTR (hidden parts included), KernelGsBase, STAR, LSTAR,
 * CSTAR, SFMASK, SYSENTER_CS/ESP/EIP. A hypervisor uses them to switch that state to and from
 * its guests. The MSRs get values of their own here (canonical addresses; 32-bit SYSENTER
 * ones and SFMASK, which are 32 bits wide on AMD), and the original state is VMLOADed back.
 */
enum { VMSAVE_STORES, VMLOAD_LOADS, VMSAVE_UNALIGNED };
static const char *const vmload_vmsave_lines[] = {
	[VMSAVE_STORES] = "VMSAVE stores FS/GS/TR/LDTR, KernelGsBase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER MSRs",
	[VMLOAD_LOADS] = "VMLOAD loads them: RDMSR reads back the values of the page",
	[VMSAVE_UNALIGNED] = "VMSAVE with an address not 4 KiB aligned is #GP(0)",
};

struct msr_value {
	const char *what;
	uint32_t msr;
	uint64_t first, second; /* for VMSAVE, then VMLOAD */
	size_t offset;          /* in the save area */
};

#define MSR_VALUE(what, msr, first, second, field) \
	{ what, msr, first, second, offsetof(struct vmcb_save_area, field) }

static const struct msr_value msr_values[] = {
	MSR_VALUE("FS.base", MSR_FS_BASE, 0x0000123456789000ull, 0x0000234567890000ull, fs.base),
	MSR_VALUE("GS.base", MSR_GS_BASE, 0x00007fff12340000ull, 0x00007ffe43210000ull, gs.base),
	MSR_VALUE("KernelGsBase", MSR_KERNEL_GS_BASE, 0x00007fffdead0000ull, 0x00007ffebeef0000ull,
		  kernel_gs_base),
	MSR_VALUE("STAR", X86_MSR_STAR, 0x0023001012345678ull, 0x001b000887654321ull, star),
	MSR_VALUE("LSTAR", X86_MSR_LSTAR, 0xffffffff81234560ull, 0xffffffff82345670ull, lstar),
	MSR_VALUE("CSTAR", MSR_CSTAR, 0xffffffff81234580ull, 0xffffffff82345690ull, cstar),
	MSR_VALUE("SFMASK", X86_MSR_SFMASK, 0x47700, 0x40300, sfmask),
	MSR_VALUE("SYSENTER_CS", MSR_SYSENTER_CS, 0x0ab8, 0x0cd0, sysenter_cs),
	MSR_VALUE("SYSENTER_ESP", MSR_SYSENTER_ESP, 0x00c0ffe0, 0x00d0ffe0, sysenter_esp),
	MSR_VALUE("SYSENTER_EIP", MSR_SYSENTER_EIP, 0x00c0de00, 0x00d0de00, sysenter_eip),
};

#define MSR_VALUES FID_COUNT(msr_values)

static uint64_t *save_field(struct vmcb *page, const struct msr_value *m)
{
	return (uint64_t *)((char *)&page->save + m->offset);
}

static uint16_t read_tr(void)
{
	uint16_t sel;

	__asm__ volatile("str %0" : "=r"(sel));
	return sel;
}

static uint16_t read_fs(void)
{
	uint16_t sel;

	__asm__ volatile("mov %%fs, %0" : "=r"(sel));
	return sel;
}

/* The host's own state before the check, the page VMSAVE fills, the page VMLOAD reads. */
static struct vmcb vmsave_orig, vmsave_page, vmload_page __attribute__((aligned(4096)));

static void vmload_vmsave_checks(void)
{
	struct fid_field f[MSR_VALUES + 4];
	unsigned i, n = 0;
	int raised;

	for (i = 0; i < MSR_VALUES; i++)
		x86_wrmsr(msr_values[i].msr, msr_values[i].first);
	memset(&vmsave_page, 0, sizeof(vmsave_page));
	raised = svt_vmsave(SVT_ADDR(&vmsave_page));
	f[n++] = (struct fid_field){ "raised an exception", 0, (uint64_t)raised };
	for (i = 0; i < MSR_VALUES; i++)
		f[n++] = (struct fid_field){ msr_values[i].what, msr_values[i].first,
					     *save_field(&vmsave_page, &msr_values[i]) };
	f[n++] = (struct fid_field){ "TR selector", read_tr(), vmsave_page.save.tr.selector };
	f[n++] = (struct fid_field){ "LDTR selector", 0, vmsave_page.save.ldtr.selector };
	f[n++] = (struct fid_field){ "FS selector", read_fs(), vmsave_page.save.fs.selector };
	if (!svt_check(VMSAVE_STORES, f, n))
		return;

	/* The same state (TR and LDTR stay valid) with the second set of values. */
	vmload_page = vmsave_page;
	for (i = 0; i < MSR_VALUES; i++)
		*save_field(&vmload_page, &msr_values[i]) = msr_values[i].second;
	raised = svt_vmload(SVT_ADDR(&vmload_page));
	n = 0;
	f[n++] = (struct fid_field){ "raised an exception", 0, (uint64_t)raised };
	for (i = 0; i < MSR_VALUES; i++)
		f[n++] = (struct fid_field){ msr_values[i].what, msr_values[i].second,
					     x86_rdmsr(msr_values[i].msr) };
	f[n++] = (struct fid_field){ "TR selector", vmsave_page.save.tr.selector, read_tr() };
	svt_check(VMLOAD_LOADS, f, n);
}

static void vmload_vmsave_run(void)
{
	int raised;

	if (svt_vmsave(SVT_ADDR(&vmsave_orig))) {
		svt_fail(VMSAVE_STORES, "VMSAVE of the host's own state raised an exception");
		return;
	}
	vmload_vmsave_checks();
	svt_vmload(SVT_ADDR(&vmsave_orig));
	raised = svt_vmsave(SVT_ADDR(&vmsave_page) + 0x10);
	{
		const struct fid_field f[] = {
			{ "raised an exception", 1, (uint64_t)raised },
			{ "vector", X86_VEC_GP, svt_fault.vector },
			{ "error code", 0, svt_fault.error },
		};

		svt_check(VMSAVE_UNALIGNED, FID_FIELDS(f));
	}
}

const struct svt_area svt_area_vmload_vmsave =
	SVT_AREA(vmload_vmsave_lines, 0, NULL, vmload_vmsave_run);

/* CLGI and STGI (§15.17) at CPL 0 with SVME set. svt_vm_run uses them around every VMRUN. */
static const char *const gif_lines[] = { "CLGI and STGI run at CPL 0 with EFER.SVME set" };

static void gif_run(void)
{
	int clgi = svt_clgi(), stgi = svt_stgi();
	const struct fid_field f[] = {
		{ "CLGI raised an exception", 0, (uint64_t)clgi },
		{ "STGI raised an exception", 0, (uint64_t)stgi },
	};

	svt_check(0, FID_FIELDS(f));
}

const struct svt_area svt_area_gif = SVT_AREA(gif_lines, 0, NULL, gif_run);

/* Last: what every #VMEXIT so far gave back to the host (vm.c keeps the first difference). */
enum { HOST_STATE, HOST_RIP };
static const char *const host_state_lines[] = {
	[HOST_STATE] = "every #VMEXIT gave the host back its RSP, RAX, CR0, CR3, CR4, EFER, GDTR, IDTR",
	[HOST_RIP] = "every VMRUN went on at the instruction after it",
};

static void host_state_run(void)
{
	svt_host_report(HOST_STATE, HOST_RIP);
}

const struct svt_area svt_area_host_state = SVT_AREA(host_state_lines, 0, NULL, host_state_run);

static const struct svt_area *const areas[] = {
	&svt_area_setup, &svt_area_vmrun_faults, &svt_area_vmmcall, &svt_area_registers,
	&svt_area_cpuid, &svt_area_hlt, &svt_area_ioio, &svt_area_msr, &svt_area_cr,
	&svt_area_exceptions, &svt_area_inject, &svt_area_invalid, &svt_area_vmload_vmsave,
	&svt_area_gif, &svt_area_npt, &svt_area_host_state,
};

/* Runs an area under a guard: an exception in the hypervisor's own code fails the line the
 * area was at, with where it happened, and the lines it did not reach fail too. */
static void area_run(const struct svt_area *a)
{
	struct nb_try t;
	char why[160], name[16];

	running = a;
	lines_done = 0;
	if (nb_try(&t) == 0) {
		a->run();
		nb_try_end();
	} else {
		/* It may have come with GIF clear (between CLGI and STGI). */
		svt_stgi();
		nb_snprintf(why, sizeof(why), "unexpected %s (error code 0x%llx) in the hypervisor at RIP 0x%llx",
			    nb_vector_name(t.vector, name), (unsigned long long)t.error,
			    (unsigned long long)t.rip_fault);
		if (lines_done < a->n)
			svt_fail(lines_done, why);
		else
			nb_check_fail(a->lines[a->n - 1], why);
	}
	while (lines_done < a->n)
		svt_fail(lines_done, "not reached: an earlier step of this check failed");
	running = NULL;
}

int kmain(struct nb_boot_info *bi)
{
	int rc = fid_init(bi, "svmtest", "a minimal SVM hypervisor checks its CPU (AMD APM vol. 2, ch. 15)");
	const char *no_svm;
	unsigned i;

	if (rc)
		return rc;
	svt_mem_size = bi->mem_size;
	/* Its own page tables: user pages for the ring-3 check, an identity map of RAM for the
	 * guests (which share them) and for nested paging (which maps the same addresses). */
	x86_write_cr3(fid_user_space(bi));
	no_svm = cpu_probe();
	if (no_svm) {
		nb_printf("svmtest: %s\n", no_svm);
	} else {
		nb_printf("svmtest: SVM revision %u, %u ASIDs, 8000_000A EDX 0x%x: NP %s, NRIPS %s, "
			  "decode assists %s; MAXPHYADDR %u\n",
			  svt_cpu.revision, svt_cpu.nasid, svt_cpu.features,
			  svt_has(CPUID_SVM_EDX_NP) ? "yes" : "no",
			  svt_has(CPUID_SVM_EDX_NRIPS) ? "yes" : "no",
			  svt_has(CPUID_SVM_EDX_DECODE_ASSISTS) ? "yes" : "no", svt_cpu.maxphyaddr);
		svt_vm_describe();
	}
	for (i = 0; i < FID_COUNT(areas); i++) {
		const struct svt_area *a = areas[i];

		running = a;
		lines_done = 0;
		if (no_svm) {
			fid_skip_lines(NULL, a->lines, a->n, no_svm);
		} else if (!svt_has(a->needs)) {
			fid_skip_lines(NULL, a->lines, a->n, a->needs_why);
		} else if (a != &svt_area_setup && !svm_enabled) {
			while (lines_done < a->n)
				svt_fail(lines_done, "not run: SVM could not be enabled (see above)");
		} else {
			area_run(a);
		}
	}
	running = NULL;
	return nb_check_summary("svmtest");
}
