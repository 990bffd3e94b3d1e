/*
 * exceptions: a 64-bit kernel that raises each exception it can on purpose, in ring 0 and in
 * ring 3, and checks vector, error code and the frame the CPU pushed (SDM Vol. 3A 6.14.2: in
 * 64-bit mode SS:RSP always, the stack aligned down to 16 bytes first; TSS.RSP0 on a change of
 * privilege). Faults leave RIP at the instruction, traps after it (Vol. 3A 6.5).
 */
#include "guests/fidelity/fid64.h"
#include "guests/fidelity/fidcheck.h"
#include "guests/fidelity/exceptions.h"

#define X86_RFLAGS_CF 0x1ull
#define X86_CR0_AM 0x40000ull /* alignment mask: #AC needs it and RFLAGS.AC at CPL 3 */
#define X86_DR6_BS 0x4000ull  /* single-step */
#define X86_DR6_INIT 0xffff0ff0ull
#define NAME_MAX 96

/* The RFLAGS bits the kernel cases set or rely on, and their values at the fault: CF and DF
 * set by exceptions_asm.S, IF and TF clear. */
#define FLAGS_SEEN (X86_RFLAGS_CF | X86_RFLAGS_FIXED | X86_RFLAGS_TF | X86_RFLAGS_IF | \
		    X86_RFLAGS_DF)
#define FLAGS_AT_FAULT (X86_RFLAGS_CF | X86_RFLAGS_FIXED | X86_RFLAGS_DF)

int fid_trap_hook(struct nb_trap_frame *f)
{
	(void)f;
	return 0;
}

static struct fid_trap_seen seen(void)
{
	struct fid_trap_seen s = { fid_last.vector, fid_last.error, fid_last.rip, fid_last.cr2 };

	return s;
}

struct kcase {
	struct fid_trap_expect e;
	void (*fn)(void);
};

/* Vector, error code, RIP, then the rest of the frame against what exceptions_asm.S saw. */
static void check_kernel_case(const struct kcase *c)
{
	char name[NAME_MAX];
	struct nb_try t;

	if (nb_try(&t) == 0) {
		c->fn();
		nb_try_end();
		fid_check_no_trap(&c->e);
		return;
	}
	{
		const struct fid_trap_seen s = seen();
		const struct fid_field frame[] = {
			{ "CS", NB_SEL_KCODE, fid_last.cs },
			{ "RFLAGS", FLAGS_AT_FAULT, fid_last.rflags & FLAGS_SEEN },
			{ "RSP", exc_rsp_before, fid_last.rsp },
			{ "SS", NB_SEL_KDATA, fid_last.ss },
			{ "frame end (RSP aligned down to 16)", exc_rsp_before & ~0xfull,
			  fid_last.frame_end },
		};

		fid_check_trap(&c->e, &s, "RIP");
		fid_check_fields(fid_name(name, sizeof(name), c->e.name, "frame CS, RFLAGS, SS:RSP"),
				 FID_FIELDS(frame));
	}
}

static void test_kernel(void)
{
	static const struct kcase cases[] = {
		{ { "#DE from DIV by zero", X86_VEC_DE, 0, 0, FID_ADDR(exc_k_de_insn), 0 },
		  exc_k_de },
		{ { "#UD from UD2", X86_VEC_UD, 0, 0, FID_ADDR(exc_k_ud_insn), 0 }, exc_k_ud },
		{ { "#UD from UD2 on an aligned stack", X86_VEC_UD, 0, 0,
		    FID_ADDR(exc_k_ud_aligned_insn), 0 },
		  exc_k_ud_aligned },
		{ { "INTO in 64-bit mode is #UD", X86_VEC_UD, 0, 0, FID_ADDR(exc_k_into_insn), 0 },
		  exc_k_into },
		{ { "#GP from MOV DS past the GDT limit", X86_VEC_GP, 1, EXC_BAD_SELECTOR_ERROR,
		    FID_ADDR(exc_k_gp_sel_insn), 0 },
		  exc_k_gp_sel },
		{ { "#GP from a non-canonical address", X86_VEC_GP, 1, 0,
		    FID_ADDR(exc_k_gp_noncanon_insn), 0 },
		  exc_k_gp_noncanon },
		{ { "#SS from a non-canonical address through RBP", X86_VEC_SS, 1, 0,
		    FID_ADDR(exc_k_ss_noncanon_insn), 0 },
		  exc_k_ss_noncanon },
		{ { "#PF reading a not-present page", X86_VEC_PF, 1, 0,
		    FID_ADDR(exc_k_pf_read_insn), EXC_PF_READ_ADDR },
		  exc_k_pf_read },
		{ { "#PF writing a not-present page", X86_VEC_PF, 1, X86_PF_W,
		    FID_ADDR(exc_k_pf_write_insn), EXC_PF_WRITE_ADDR },
		  exc_k_pf_write },
		{ { "#PF fetching from a not-present page", X86_VEC_PF, 1, X86_PF_I,
		    EXC_PF_FETCH_ADDR, EXC_PF_FETCH_ADDR },
		  exc_k_pf_fetch },
	};
	unsigned i;

	for (i = 0; i < FID_COUNT(cases); i++)
		check_kernel_case(&cases[i]);
}

struct ucase {
	struct fid_trap_expect e;
	const char *entry;
	uint64_t rdi;
};

/* From CPL 3 the frame is at TSS.RSP0 and holds the user's CS, SS and RSP (kept in RBX). */
static void check_user_case(const struct ucase *c)
{
	char name[NAME_MAX];

	fid_run_user(c->entry, c->rdi, 0, 0);
	{
		const struct fid_trap_seen s = seen();
		const struct fid_field frame[] = {
			{ "CS", NB_SEL_UCODE, fid_last.cs },
			{ "SS", NB_SEL_UDATA, fid_last.ss },
			{ "RSP", fid_last.rbx, fid_last.rsp },
			{ "frame end (TSS.RSP0)", FID_ADDR(nb_trap_stack_top), fid_last.frame_end },
		};

		fid_check_trap(&c->e, &s, "RIP");
		fid_check_fields(fid_name(name, sizeof(name), c->e.name, "frame CS, SS:RSP at RSP0"),
				 FID_FIELDS(frame));
	}
}

static void test_user(void)
{
	static const struct ucase cases[] = {
		{ { "CPL 3 CLI is #GP(0)", X86_VEC_GP, 1, 0, FID_ADDR(exc_u_cli_insn), 0 },
		  exc_u_cli, 0 },
		{ { "CPL 3 HLT is #GP(0)", X86_VEC_GP, 1, 0, FID_ADDR(exc_u_hlt_insn), 0 },
		  exc_u_hlt, 0 },
		{ { "CPL 3 MOV from CR0 is #GP(0)", X86_VEC_GP, 1, 0, FID_ADDR(exc_u_mov_cr0_insn),
		    0 },
		  exc_u_mov_cr0, 0 },
		{ { "CPL 3 OUT with IOPL 0 is #GP(0)", X86_VEC_GP, 1, 0, FID_ADDR(exc_u_out_insn), 0 },
		  exc_u_out, 0 },
		{ { "CPL 3 MOV DS of a DPL-0 segment is #GP(selector)", X86_VEC_GP, 1,
		    EXC_KERNEL_DATA_SEL, FID_ADDR(exc_u_load_kdata_insn), 0 },
		  exc_u_load_kdata, 0 },
		{ { "CPL 3 UD2 is #UD", X86_VEC_UD, 0, 0, FID_ADDR(exc_u_ud2_insn), 0 }, exc_u_ud2, 0 },
		{ { "CPL 3 INT3 through a DPL-3 gate is #BP", X86_VEC_BP, 0, 0,
		    FID_ADDR(exc_u_int3_next), 0 },
		  exc_u_int3, 0 },
		{ { "CPL 3 read of a supervisor page is #PF(P|U)", X86_VEC_PF, 1, X86_PF_P | X86_PF_U,
		    FID_ADDR(exc_u_read_insn), FID_ADDR(&exc_rsp_before) },
		  exc_u_read, FID_ADDR(&exc_rsp_before) },
		{ { "CPL 3 single step after POPF sets TF", X86_VEC_DB, 0, 0,
		    FID_ADDR(exc_u_single_step_next), 0 },
		  exc_u_single_step, 0 },
	};
	unsigned i;
	uint64_t dr6;

	__asm__ volatile("mov %0, %%dr6" : : "r"(X86_DR6_INIT));
	for (i = 0; i < FID_COUNT(cases); i++) {
		check_user_case(&cases[i]);
		if (cases[i].e.vector != X86_VEC_DB)
			continue;
		__asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
		nb_check_u64("CPL 3 single step: DR6.BS", X86_DR6_BS, dr6 & X86_DR6_BS);
		__asm__ volatile("mov %0, %%dr6" : : "r"(X86_DR6_INIT));
	}
}

static void write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

/* #AC needs CR0.AM, RFLAGS.AC and CPL 3 together; without CR0.AM a misaligned load is fine. */
static void test_alignment_check(void)
{
	uint64_t cr0 = x86_read_cr0();

	write_cr0(cr0 & ~X86_CR0_AM);
	fid_run_user(exc_u_misaligned, 0, 0, 0);
	if (fid_last.vector == X86_VEC_AC) {
		nb_check_skip("misaligned load with RFLAGS.AC but CR0.AM clear runs",
			      "PVM runs ring 3 with the host's CR0.AM: #AC though the guest's is clear");
	} else {
		const struct fid_field f[] = {
			{ "vector", X86_VEC_UD, fid_last.vector },
			{ "RIP", FID_ADDR(exc_u_misaligned_next), fid_last.rip },
		};

		fid_check_fields("misaligned load with RFLAGS.AC but CR0.AM clear runs",
				 FID_FIELDS(f));
	}
	write_cr0(cr0 | X86_CR0_AM);
	{
		static const struct ucase c = {
			{ "CPL 3 misaligned load with CR0.AM and AC is #AC(0)", X86_VEC_AC, 1, 0,
			  FID_ADDR(exc_u_misaligned_insn), 0 },
			exc_u_misaligned, 0
		};

		check_user_case(&c);
	}
	write_cr0(cr0);
}

int kmain(struct nb_boot_info *bi)
{
	int rc = fid_init(bi, "exceptions", "64-bit exceptions: vectors, error codes, frames");

	if (rc)
		return rc;
	/* INT3 from ring 3 must reach its handler: a DPL-3 gate (else #GP, SDM Vol. 3A 6.12.1.1). */
	nb_idt_set_gate(X86_VEC_BP, 3);
	x86_write_cr3(fid_user_space(bi));
	test_kernel();
	test_user();
	test_alignment_check();
	return nb_check_summary("exceptions");
}
