/*
 * The guests' intercepts (APM vol. 2, §15.7 - §15.13), event injection (§15.20) and VMRUN's
 * consistency checks (§15.5.1), one area each. Every area builds a fresh VMCB for one piece of
 * guest.S, runs it, and at each #VMEXIT checks what the CPU reported, then does what a
 * hypervisor does with that exit (emulate the instruction, move RIP on) and runs the guest
 * again, until the guest's closing VMMCALL. A wrong exit ends the area: later steps would
 * mean nothing.
 *
 * RIP at a #VMEXIT is the intercepted instruction's (it has not run); with NRIPS, nRIP is the
 * next instruction's, for instruction intercepts only (§15.7.1).
 */
#include "guests/svmtest/svmtest.h"

/* Builds a field list whose length depends on the CPU's features. */
struct fields {
	struct fid_field f[24];
	unsigned n;
};

static void add(struct fields *fl, const char *what, uint64_t expected, uint64_t got)
{
	if (fl->n < FID_COUNT(fl->f))
		fl->f[fl->n++] = (struct fid_field){ what, expected, got };
}

/* nRIP is checked where the CPU offers NRIPS. */
static void add_nrip(struct fields *fl, struct svt_vm *vm, const void *next)
{
	if (svt_has(CPUID_SVM_EDX_NRIPS))
		add(fl, "nRIP", SVT_ADDR(next), vm->vmcb->control.next_rip);
}

static int check(unsigned line, const struct fields *fl)
{
	return svt_check(line, fl->f, fl->n);
}

/* Starts a field list with the exit code and the guest's RIP at the exit. */
static void exit_at(struct fields *fl, struct svt_vm *vm, uint64_t exit, uint64_t code,
		    const void *rip)
{
	fl->n = 0;
	add(fl, "exit code", code, exit);
	add(fl, "RIP", SVT_ADDR(rip), vm->vmcb->save.rip);
}

/* VMMCALL (APM vol. 3, VMMCALL): the guest's call to its hypervisor. Not intercepted, it is
 * #UD. */
enum { VMMCALL_EXIT, VMMCALL_UD };
static const char *const vmmcall_lines[] = {
	[VMMCALL_EXIT] = "VMMCALL intercept: exit 0x81 at the VMMCALL, nRIP after it",
	[VMMCALL_UD] = "VMMCALL with its intercept clear is #UD in the guest (exit 0x46)",
};

static void vmmcall_run(void)
{
	struct svt_vm vm;
	struct fields fl;
	uint64_t exit;

	svt_vm_init(&vm, svt_g_marker);
	svt_guest_ran = 0;
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_VMMCALL, svt_g_marker_vmmcall);
	add(&fl, "guest ran", 1, svt_guest_ran);
	add_nrip(&fl, &vm, svt_g_marker_end);
	check(VMMCALL_EXIT, &fl);

	svt_vm_init(&vm, svt_g_marker);
	vm.vmcb->control.intercept_misc2 &= ~VMCB_CTRL_INTERCEPT_MISC2_VMMCALL;
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_EXCP_UD, svt_g_marker_vmmcall);
	check(VMMCALL_UD, &fl);
}

const struct svt_area svt_area_vmmcall = SVT_AREA(vmmcall_lines, 0, NULL, vmmcall_run);

/*
 * The guest's registers: VMRUN loads RAX and RSP from the VMCB and #VMEXIT stores them there;
 * the others are the hypervisor's to load and save (svt_vmrun). Both ways are checked with a
 * different value in every register.
 */
enum { REGS_IN, REGS_OUT };
static const char *const registers_lines[] = {
	[REGS_IN] = "guest registers: the guest starts with what the hypervisor loaded "
		"(RAX, RSP via the VMCB)",
	[REGS_OUT] = "guest registers: what the guest left in them reaches the hypervisor "
		"(RAX, RSP via the VMCB)",
};

#define GPRS (sizeof(struct svt_gprs) / sizeof(uint64_t))
_Static_assert(sizeof(struct svt_gprs) == 14 * sizeof(uint64_t), "the GPRs besides RAX and RSP");

static const char *const gpr_names[GPRS] = {
	"RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
};

static uint64_t pattern(unsigned k)
{
	return 0x0123456789abcdefull ^ (k * 0x1111111111111111ull);
}

/* The exit, RAX, RSP and every other register against pattern (complemented if flip). */
static int check_registers(unsigned line, struct svt_vm *vm, uint64_t exit, const void *rip,
			   uint64_t rsp, uint64_t flip)
{
	struct fields fl;
	uint64_t got[GPRS];
	unsigned k;

	memcpy(got, &vm->gprs, sizeof(got));
	exit_at(&fl, vm, exit, SVM_EXIT_VMMCALL, rip);
	add(&fl, "RAX", pattern(0) ^ flip, vm->vmcb->save.rax);
	add(&fl, "RSP", rsp, vm->vmcb->save.rsp);
	for (k = 0; k < GPRS; k++)
		add(&fl, gpr_names[k], pattern(k + 1) ^ flip, got[k]);
	return check(line, &fl);
}

static void registers_run(void)
{
	struct svt_vm vm;
	uint64_t regs[GPRS], rsp, exit;
	unsigned k;

	svt_vm_init(&vm, svt_g_regs);
	for (k = 0; k < GPRS; k++)
		regs[k] = pattern(k + 1);
	memcpy(&vm.gprs, regs, sizeof(regs));
	vm.vmcb->save.rax = pattern(0);
	rsp = vm.vmcb->save.rsp;
	exit = svt_vm_run(&vm);
	if (!check_registers(REGS_IN, &vm, exit, svt_g_regs_call1, rsp, 0))
		return;
	svt_vm_skip(&vm, 3);
	exit = svt_vm_run(&vm);
	check_registers(REGS_OUT, &vm, exit, svt_g_regs_call2, rsp - SVT_G_REGS_RSP_MOVE, ~0ull);
}

const struct svt_area svt_area_registers = SVT_AREA(registers_lines, 0, NULL, registers_run);

/* CPUID (§15.9 "Instruction Intercepts", misc1 bit 18): the hypervisor answers for the CPU. */
enum { CPUID_EXIT, CPUID_RESULT };
static const char *const cpuid_lines[] = {
	[CPUID_EXIT] = "CPUID intercept: exit 0x72 at the CPUID, RAX the leaf, "
		"nRIP after it (2 bytes)",
	[CPUID_RESULT] = "CPUID intercept: the guest gets EAX-EDX as the hypervisor emulated them",
};

/* What the hypervisor answers: "nestbed svmt" and a version. */
#define CPUID_EAX 0x00000001u
#define CPUID_EBX 0x7473656eu
#define CPUID_ECX 0x20646562u
#define CPUID_EDX 0x746d7673u

static void cpuid_run(void)
{
	struct svt_vm vm;
	struct fields fl;
	uint64_t exit;

	svt_vm_init(&vm, svt_g_cpuid);
	vm.vmcb->control.intercept_misc1 |= VMCB_CTRL_INTERCEPT_MISC1_CPUID;
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_CPUID, svt_g_cpuid_insn);
	add(&fl, "RAX (the leaf)", SVT_G_CPUID_LEAF, vm.vmcb->save.rax);
	add_nrip(&fl, &vm, svt_g_cpuid_next);
	if (!check(CPUID_EXIT, &fl))
		return;
	/* Emulate: CPUID writes EAX-EDX (zero-extended), then the guest goes on. */
	vm.vmcb->save.rax = CPUID_EAX;
	vm.gprs.rbx = CPUID_EBX;
	vm.gprs.rcx = CPUID_ECX;
	vm.gprs.rdx = CPUID_EDX;
	svt_vm_skip(&vm, 2);
	exit = svt_vm_run(&vm);
	fl.n = 0;
	add(&fl, "exit code", SVM_EXIT_VMMCALL, exit);
	add(&fl, "EAX", CPUID_EAX, vm.gprs.r8);
	add(&fl, "EBX", CPUID_EBX, vm.gprs.r9);
	add(&fl, "ECX", CPUID_ECX, vm.gprs.r10);
	add(&fl, "EDX", CPUID_EDX, vm.gprs.r11);
	check(CPUID_RESULT, &fl);
}

const struct svt_area svt_area_cpuid = SVT_AREA(cpuid_lines, 0, NULL, cpuid_run);

/* HLT (misc1 bit 24): a hypervisor would run something else until an interrupt is due. */
enum { HLT_EXIT, HLT_RESUME };
static const char *const hlt_lines[] = {
	[HLT_EXIT] = "HLT intercept: exit 0x78 at the HLT, nRIP after it (1 byte)",
	[HLT_RESUME] = "HLT intercept: the guest goes on after the HLT the hypervisor skipped",
};

static void hlt_run(void)
{
	struct svt_vm vm;
	struct fields fl;
	uint64_t exit;

	svt_vm_init(&vm, svt_g_hlt);
	vm.vmcb->control.intercept_misc1 |= VMCB_CTRL_INTERCEPT_MISC1_HLT;
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_HLT, svt_g_hlt_insn);
	add_nrip(&fl, &vm, svt_g_hlt_next);
	if (!check(HLT_EXIT, &fl))
		return;
	svt_vm_skip(&vm, 1);
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_VMMCALL, svt_g_hlt_next);
	check(HLT_RESUME, &fl);
}

const struct svt_area svt_area_hlt = SVT_AREA(hlt_lines, 0, NULL, hlt_run);

/*
 * IN and OUT (§15.10): with IOIO_PROT set, an access exits when the I/O permission map has the
 * bit of a port it touches. EXITINFO1 says port (31:16), size (6:4), string/REP (3:2) and
 * direction (bit 0, 1 = IN); EXITINFO2 is the next instruction's RIP, whatever NRIPS. Its
 * address-size and segment bits (12:7) describe string instructions' operands and are not
 * checked here.
 */
enum { IO_FREE, IO_OUT, IO_IN, IO_VALUE };
static const char *const ioio_lines[] = {
	[IO_FREE] = "IOIO: OUT to port 0x80, its IOPM bit clear, does not exit",
	[IO_OUT] = "IOIO intercept: 16-bit OUT to port 0x5000: exit 0x7b, "
		"EXITINFO1 port/size/OUT, EXITINFO2 the next RIP",
	[IO_IN] = "IOIO intercept: 32-bit IN from port 0x5004: exit 0x7b, "
		"EXITINFO1 port/size/IN, EXITINFO2 the next RIP",
	[IO_VALUE] = "IOIO intercept: the guest's IN gets the value the hypervisor emulated",
};

#define IOIO_INFO1_CHECKED 0xffff007full /* port, size, REP, string, direction */
#define IN_VALUE 0xfeedf00du

static uint64_t ioio_info1(uint16_t port, uint64_t size, int in)
{
	return (uint64_t)port << SVM_IOIO_PORT_SHIFT | size | (in ? SVM_IOIO_TYPE_IN : 0);
}

static void ioio_run(void)
{
	struct svt_vm vm;
	struct fields fl;
	struct vmcb_control *c;
	uint64_t exit;

	svt_vm_init(&vm, svt_g_ioio);
	c = &vm.vmcb->control;
	c->intercept_misc1 |= VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT;
	svt_iopm_intercept(SVT_G_PORT_OUT);
	svt_iopm_intercept(SVT_G_PORT_IN);
	exit = svt_vm_run(&vm);
	/* The first exit must be the intercepted OUT, not the OUT to port 0x80 before it. */
	exit_at(&fl, &vm, exit, SVM_EXIT_IOIO, svt_g_ioio_out);
	if (!check(IO_FREE, &fl))
		return;
	add(&fl, "EXITINFO1 (port, size, type)", ioio_info1(SVT_G_PORT_OUT, SVM_IOIO_SIZE16, 0),
	    c->exit_info_1 & IOIO_INFO1_CHECKED);
	add(&fl, "EXITINFO2 (next RIP)", SVT_ADDR(svt_g_ioio_out_next), c->exit_info_2);
	add(&fl, "AX (the value OUT writes)", SVT_G_OUT_VALUE, vm.vmcb->save.rax & 0xffff);
	if (!check(IO_OUT, &fl))
		return;
	vm.vmcb->save.rip = c->exit_info_2;
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_IOIO, svt_g_ioio_in);
	add(&fl, "EXITINFO1 (port, size, type)", ioio_info1(SVT_G_PORT_IN, SVM_IOIO_SIZE32, 1),
	    c->exit_info_1 & IOIO_INFO1_CHECKED);
	add(&fl, "EXITINFO2 (next RIP)", SVT_ADDR(svt_g_ioio_in_next), c->exit_info_2);
	if (!check(IO_IN, &fl))
		return;
	/* Emulate the IN: a 32-bit IN zero-extends into RAX. */
	vm.vmcb->save.rax = IN_VALUE;
	vm.vmcb->save.rip = c->exit_info_2;
	exit = svt_vm_run(&vm);
	fl.n = 0;
	add(&fl, "exit code", SVM_EXIT_VMMCALL, exit);
	add(&fl, "the value IN read", IN_VALUE, vm.gprs.r8);
	check(IO_VALUE, &fl);
}

const struct svt_area svt_area_ioio = SVT_AREA(ioio_lines, 0, NULL, ioio_run);

/*
 * RDMSR and WRMSR (§15.11): with MSR_PROT set, an access exits when the MSR permission map has
 * its read or write bit; EXITINFO1 is 0 for RDMSR, 1 for WRMSR, and ECX names the MSR. An MSR
 * whose bits are clear is the CPU's own: the guest reads what the host set (SYSENTER_CS is not
 * switched by VMRUN).
 */
enum { MSR_FREE, MSR_READ, MSR_WRITE, MSR_VALUES };
static const char *const msr_lines[] = {
	[MSR_FREE] = "MSR: RDMSR of SYSENTER_CS, its MSRPM bits clear, does not exit",
	[MSR_READ] = "MSR intercept: RDMSR of SYSENTER_ESP: exit 0x7c, EXITINFO1 0, ECX the MSR, "
		"nRIP after it",
	[MSR_WRITE] = "MSR intercept: WRMSR of SYSENTER_ESP: exit 0x7c, EXITINFO1 1, "
		"EDX:EAX the value, nRIP after it",
	[MSR_VALUES] = "MSR: the guest's RDMSRs got the real SYSENTER_CS, the emulated SYSENTER_ESP",
};

#define HOST_SYSENTER_CS 0x0ab8u
#define EMULATED_LOW 0xaabbccddu
#define EMULATED_HIGH 0x01020304u

static void msr_steps(void)
{
	struct svt_vm vm;
	struct fields fl;
	struct vmcb_control *c;
	uint64_t exit;

	svt_vm_init(&vm, svt_g_msr);
	c = &vm.vmcb->control;
	c->intercept_misc1 |= VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT;
	svt_msrpm_intercept(SVT_G_MSR_TRAPPED, 1, 1);
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_MSR, svt_g_msr_rd);
	if (!check(MSR_FREE, &fl))
		return;
	add(&fl, "EXITINFO1", 0, c->exit_info_1);
	add(&fl, "ECX", SVT_G_MSR_TRAPPED, vm.gprs.rcx);
	add_nrip(&fl, &vm, svt_g_msr_rd_next);
	if (!check(MSR_READ, &fl))
		return;
	/* Emulate the RDMSR: EDX:EAX, zero-extended. */
	vm.vmcb->save.rax = EMULATED_LOW;
	vm.gprs.rdx = EMULATED_HIGH;
	svt_vm_skip(&vm, 2);
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_MSR, svt_g_msr_wr);
	add(&fl, "EXITINFO1", 1, c->exit_info_1);
	add(&fl, "ECX", SVT_G_MSR_TRAPPED, vm.gprs.rcx);
	add(&fl, "EAX", SVT_G_MSR_LOW, vm.vmcb->save.rax & 0xffffffffu);
	add(&fl, "EDX", SVT_G_MSR_HIGH, vm.gprs.rdx & 0xffffffffu);
	add_nrip(&fl, &vm, svt_g_msr_wr_next);
	if (!check(MSR_WRITE, &fl))
		return;
	svt_vm_skip(&vm, 2);
	exit = svt_vm_run(&vm);
	fl.n = 0;
	add(&fl, "exit code", SVM_EXIT_VMMCALL, exit);
	add(&fl, "SYSENTER_CS read", HOST_SYSENTER_CS, vm.gprs.r8);
	add(&fl, "SYSENTER_ESP read: EAX", EMULATED_LOW, vm.gprs.r9);
	add(&fl, "SYSENTER_ESP read: EDX", EMULATED_HIGH, vm.gprs.r10);
	check(MSR_VALUES, &fl);
}

static void msr_run(void)
{
	uint64_t old = x86_rdmsr(MSR_SYSENTER_CS);

	x86_wrmsr(MSR_SYSENTER_CS, HOST_SYSENTER_CS);
	msr_steps();
	x86_wrmsr(MSR_SYSENTER_CS, old);
}

const struct svt_area svt_area_msr = SVT_AREA(msr_lines, 0, NULL, msr_run);

/*
 * MOV to and from control registers (§15.9): intercept_cr bit n for reads of CRn, bit 16 + n
 * for writes. With decode assists, EXITINFO1 bit 63 says it was a MOV and bits 3:0 name its
 * general register ("Decode Assists", near the end of ch. 15). A CR0 read that is not
 * intercepted returns the guest's CR0, the VMCB's.
 */
enum { CR3_READ, CR0_WRITE, CR_VALUES };
static const char *const cr_lines[] = {
	[CR3_READ] = "CR3 read intercept: exit 0x03 at the MOV, nRIP after it",
	[CR0_WRITE] = "CR0 write intercept (bit 16): exit 0x10 at the MOV, RAX the value, "
		"nRIP after it",
	[CR_VALUES] = "CR intercepts: "
		"the guest's MOV from CR3 got the value the hypervisor emulated",
};

#define DECODE_ASSIST_MOV (1ull << 63)
#define GPR_RAX 0
#define GPR_RBX 3
#define EMULATED_CR3 0x00000000cafe0000ull

static void add_decode_assist(struct fields *fl, struct svt_vm *vm, unsigned gpr)
{
	if (svt_has(CPUID_SVM_EDX_DECODE_ASSISTS))
		add(fl, "EXITINFO1 (decode assist)", DECODE_ASSIST_MOV | gpr,
		    vm->vmcb->control.exit_info_1);
}

static void cr_run(void)
{
	struct svt_vm vm;
	struct fields fl;
	uint64_t exit;

	svt_vm_init(&vm, svt_g_cr);
	vm.vmcb->control.intercept_cr = VMCB_INTERCEPT_CR_READ(3) | VMCB_INTERCEPT_CR_WRITE(0);
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_CR3_READ, svt_g_cr3_read);
	add_decode_assist(&fl, &vm, GPR_RBX);
	add_nrip(&fl, &vm, svt_g_cr3_read_next);
	if (!check(CR3_READ, &fl))
		return;
	vm.gprs.rbx = EMULATED_CR3;
	svt_vm_skip(&vm, 3);
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_CR0_WRITE, svt_g_cr0_write);
	add(&fl, "RAX (the guest's CR0, read without exit)", vm.vmcb->save.cr0, vm.vmcb->save.rax);
	add_decode_assist(&fl, &vm, GPR_RAX);
	add_nrip(&fl, &vm, svt_g_cr0_write_next);
	if (!check(CR0_WRITE, &fl))
		return;
	/* Emulate the write (the guest writes back what it read). */
	vm.vmcb->save.cr0 = vm.vmcb->save.rax;
	svt_vm_skip(&vm, 3);
	exit = svt_vm_run(&vm);
	fl.n = 0;
	add(&fl, "exit code", SVM_EXIT_VMMCALL, exit);
	add(&fl, "RBX (CR3 as emulated)", EMULATED_CR3, vm.gprs.rbx);
	check(CR_VALUES, &fl);
}

const struct svt_area svt_area_cr = SVT_AREA(cr_lines, 0, NULL, cr_run);

/*
 * Exceptions (§15.12): intercepted vectors exit with code 0x40 + vector before delivery, RIP at
 * the faulting instruction; for #PF, EXITINFO1 is the error code and EXITINFO2 the faulting
 * address. Exceptions give no nRIP: the hypervisor knows where to go on.
 */
enum { EXC_UD, EXC_PF, EXC_RESUME };
static const char *const exceptions_lines[] = {
	[EXC_UD] = "#UD intercept: exit 0x46 at the UD2",
	[EXC_PF] = "#PF intercept: exit 0x4e at the write, EXITINFO1 the error code (W), "
		"EXITINFO2 the address",
	[EXC_RESUME] = "exception intercepts: the guest goes on where the hypervisor sends it",
};

static void exceptions_run(void)
{
	struct svt_vm vm;
	struct fields fl;
	uint64_t exit;

	svt_vm_init(&vm, svt_g_exc); /* every vector is intercepted (svt_vm_init) */
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_EXCP_UD, svt_g_exc_ud);
	if (!check(EXC_UD, &fl))
		return;
	vm.vmcb->save.rip += 2; /* UD2 */
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_EXCP_PF, svt_g_exc_pf);
	/* A write (W) to a page not present (P clear) at CPL 0 (U clear). */
	add(&fl, "EXITINFO1 (error code)", X86_PF_W, vm.vmcb->control.exit_info_1);
	add(&fl, "EXITINFO2 (address)", SVT_G_PF_ADDR, vm.vmcb->control.exit_info_2);
	if (!check(EXC_PF, &fl))
		return;
	/* A hypervisor would map the page or reflect the #PF into the guest: this one skips the
	 * write. */
	vm.vmcb->save.rip = SVT_ADDR(svt_g_exc_pf_next);
	exit = svt_vm_run(&vm);
	exit_at(&fl, &vm, exit, SVM_EXIT_VMMCALL, svt_g_exc_pf_next);
	check(EXC_RESUME, &fl);
}

const struct svt_area svt_area_exceptions = SVT_AREA(exceptions_lines, 0, NULL, exceptions_run);

/*
 * Event injection (§15.20): VMRUN delivers the event EVENTINJ describes through the guest's
 * IDT as the guest starts, as if it had happened there, and clears EVENTINJ's valid bit on
 * the next #VMEXIT. An exception pushes RIP (the VMCB's); a software interrupt pushes the
 * return address, which with NRIPS is nRIP: the hypervisor sets nRIP = RIP here, so the
 * handler returns to RIP with or without NRIPS. The guest's handlers report what they saw in
 * R8-R10 and IRETQ back to a VMMCALL.
 */
enum { INJ_EXCEPTION, INJ_VALID_CLEAR, INJ_SOFT };
static const char *const inject_lines[] = {
	[INJ_EXCEPTION] = "EVENTINJ #GP with error code 0x1238: "
		"the guest's handler sees vector 13, the error code, RIP",
	[INJ_VALID_CLEAR] = "EVENTINJ: the valid bit is clear after the #VMEXIT",
	[INJ_SOFT] = "EVENTINJ software interrupt 0x80: "
		"the guest's handler sees vector 0x80 and RIP",
};

#define INJECTED_ERROR 0x1238u

static int check_injected(unsigned line, struct svt_vm *vm, uint64_t exit, uint64_t vector,
			  uint64_t error)
{
	struct fields fl;

	exit_at(&fl, vm, exit, SVM_EXIT_VMMCALL, svt_g_inject_site);
	add(&fl, "vector seen", vector, vm->gprs.r8);
	add(&fl, "error code seen", error, vm->gprs.r9);
	add(&fl, "RIP pushed", SVT_ADDR(svt_g_inject_site), vm->gprs.r10);
	return check(line, &fl);
}

static void inject_run(void)
{
	struct svt_vm vm;
	struct vmcb_control *c;
	uint64_t exit;

	svt_guest_idt_set(X86_VEC_GP, svt_g_gp_handler);
	svt_guest_idt_set(SVT_G_SOFT_VECTOR, svt_g_soft_handler);

	svt_vm_init(&vm, svt_g_inject);
	c = &vm.vmcb->control;
	/* Delivered to the guest's IDT, not intercepted. */
	c->intercept_exceptions &= ~VMCB_INTERCEPT_EXCEPTION(X86_VEC_GP);
	c->event_inj = X86_VEC_GP | SVM_EVTINJ_TYPE_EXEPT | SVM_EVTINJ_VALID_ERR | SVM_EVTINJ_VALID;
	c->event_inj_err = INJECTED_ERROR;
	vm.gprs.r8 = vm.gprs.r9 = vm.gprs.r10 = ~0ull;
	exit = svt_vm_run(&vm);
	if (!check_injected(INJ_EXCEPTION, &vm, exit, X86_VEC_GP, INJECTED_ERROR))
		return;
	{
		const struct fid_field f[] = {
			{ "EVENTINJ valid bit", 0, c->event_inj & SVM_EVTINJ_VALID },
		};

		svt_check(INJ_VALID_CLEAR, FID_FIELDS(f));
	}

	svt_vm_init(&vm, svt_g_inject);
	c = &vm.vmcb->control;
	c->event_inj = SVT_G_SOFT_VECTOR | SVM_EVTINJ_TYPE_SOFT | SVM_EVTINJ_VALID;
	c->next_rip = vm.vmcb->save.rip;
	vm.gprs.r8 = vm.gprs.r9 = vm.gprs.r10 = ~0ull;
	exit = svt_vm_run(&vm);
	check_injected(INJ_SOFT, &vm, exit, SVT_G_SOFT_VECTOR, 0);
}

const struct svt_area svt_area_inject = SVT_AREA(inject_lines, 0, NULL, inject_run);

/*
 * VMRUN's consistency checks (§15.5.1 "Canonicalization and Consistency Checks"): an illegal
 * VMCB makes VMRUN end at once with exit code VMEXIT_INVALID (-1), without running the guest.
 * Three of the conditions: the VMRUN intercept clear, the guest's EFER.SVME clear, ASID 0.
 */
enum { INVALID_NO_VMRUN, INVALID_SVME, INVALID_ASID };
static const char *const invalid_lines[] = {
	[INVALID_NO_VMRUN] = "VMRUN intercept clear: VMEXIT_INVALID (-1), the guest does not run",
	[INVALID_SVME] = "guest EFER.SVME clear: VMEXIT_INVALID, the guest does not run",
	[INVALID_ASID] = "ASID 0: VMEXIT_INVALID, the guest does not run",
};

static void check_invalid(unsigned line, struct svt_vm *vm)
{
	uint64_t exit;

	svt_guest_ran = 0;
	exit = svt_vm_run(vm);
	{
		const struct fid_field f[] = {
			{ "exit code", SVM_EXIT_INVALID, exit },
			{ "guest ran", 0, svt_guest_ran },
		};

		svt_check(line, FID_FIELDS(f));
	}
}

static void invalid_run(void)
{
	struct svt_vm vm;

	svt_vm_init(&vm, svt_g_marker);
	vm.vmcb->control.intercept_misc2 &= ~VMCB_CTRL_INTERCEPT_MISC2_VMRUN;
	check_invalid(INVALID_NO_VMRUN, &vm);
	svt_vm_init(&vm, svt_g_marker);
	vm.vmcb->save.efer &= ~X86_EFER_SVME;
	check_invalid(INVALID_SVME, &vm);
	svt_vm_init(&vm, svt_g_marker);
	vm.vmcb->control.asid = 0;
	check_invalid(INVALID_ASID, &vm);
}

const struct svt_area svt_area_invalid = SVT_AREA(invalid_lines, 0, NULL, invalid_run);
