/*
 * mb-exceptions: a Multiboot kernel that raises exceptions in 32-bit protected mode, in ring 0
 * and ring 3, and checks vector, error code and the 32-bit frame (SDM Vol. 3A 6.12.1: EFLAGS,
 * CS, EIP and the error code on the current stack, nothing aligned; SS:ESP too, on the TSS's
 * ESP0 stack, from ring 3). #PF is checked under 32-bit paging. INT3, INTO and BOUND run in
 * ring 3: a kernel cannot take them in ring 0 at depth 1, where KVM's emulator runs ring-0
 * code and stops the VM at them (emulation failure); in ring 3 it answers #UD, which is
 * reported as a SKIP.
 */
#include "guests/lib/nbguest.h"
#include "guests/lib/check.h"
#include "guests/fidelity/fidcheck.h"
#include "guests/fidelity/mb32.h"
#include "guests/fidelity/mb_exceptions.h"

#define VEC_DE 0
#define VEC_BP 3
#define VEC_OF 4
#define VEC_BR 5
#define VEC_UD 6
#define VEC_NP 11
#define VEC_SS 12
#define VEC_GP 13
#define VEC_PF 14
#define PF_P 0x1u
#define PF_W 0x2u
#define EFLAGS_CF 0x1u
#define EFLAGS_FIXED 0x2u
#define EFLAGS_TF 0x100u
#define EFLAGS_IF 0x200u
#define EFLAGS_DF 0x400u
#define FLAGS_SEEN (EFLAGS_CF | EFLAGS_FIXED | EFLAGS_TF | EFLAGS_IF | EFLAGS_DF)
#define FLAGS_AT_FAULT (EFLAGS_CF | EFLAGS_FIXED | EFLAGS_DF) /* set by mb_exceptions_asm.S */
#define CR0_PG 0x80000000u
#define CR0_WP 0x10000u
#define CR4_PSE 0x10u
#define PDE_P 0x1u
#define PDE_W 0x2u
#define PDE_U 0x4u
#define PDE_PS 0x80u
#define BIG_PAGE 0x400000u
#define PAGE 0x1000u
#define IDENTITY_BIG_PAGES (MBX_PF_ABSENT / BIG_PAGE)
#define NAME_MAX 96
/* Addresses as numbers; in case tables they are set at run time: a 32-bit object has no
 * relocation for a 64-bit field. */
#define ADDR(sym) ((uint32_t)(sym))

static const char PVM_LEGACY_PAGING[] = "PVM: CR0.PG without EFER.LME is #GP";

uint32_t mb_main(uint32_t magic, uint32_t info_addr);

static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint32_t page_table[1024] __attribute__((aligned(4096)));
static uint8_t user_stack[4096] __attribute__((aligned(16)));

static struct fid_trap_seen seen(void)
{
	struct fid_trap_seen s = { mb32_last.vector, mb32_last.error, mb32_last.eip, mb32_last.cr2 };

	return s;
}

struct kcase {
	struct fid_trap_expect e;
	void (*fn)(void);
};

static const char KERNEL_FRAME[] = "frame CS, EFLAGS, ESP";

static void check_kernel_case(const struct kcase *c)
{
	char name[NAME_MAX];
	struct mb32_try t;

	if (mb32_try(&t) == 0) {
		c->fn();
		mb32_try_end();
		fid_check_no_trap(&c->e);
		return;
	}
	{
		const struct fid_trap_seen s = seen();
		const struct fid_field frame[] = {
			{ "CS", MB32_SEL_CODE32, mb32_last.cs },
			{ "EFLAGS", FLAGS_AT_FAULT, mb32_last.eflags & FLAGS_SEEN },
			{ "frame end (ESP before, no SS:ESP, not aligned)", mbx_esp_before,
			  mb32_last.frame_end },
		};

		fid_check_trap(&c->e, &s, "EIP");
		fid_check_fields(fid_name(name, sizeof(name), c->e.name, KERNEL_FRAME),
				 FID_FIELDS(frame));
	}
}

static void test_kernel(void)
{
	const struct kcase cases[] = {
		{ { "#DE from DIV by zero", VEC_DE, 0, 0, ADDR(mbx_k_de_insn), 0 }, mbx_k_de },
		{ { "#UD from UD2", VEC_UD, 0, 0, ADDR(mbx_k_ud_insn), 0 }, mbx_k_ud },
		{ { "#GP from MOV DS past the GDT limit", VEC_GP, 1, MBX_BAD_SELECTOR_ERROR,
		    ADDR(mbx_k_gp_sel_insn), 0 },
		  mbx_k_gp_sel },
		{ { "#GP(0) from a read past a segment limit", VEC_GP, 1, 0,
		    ADDR(mbx_k_gp_limit_insn), 0 },
		  mbx_k_gp_limit },
		{ { "#NP from MOV DS of a not-present segment", VEC_NP, 1, MB32_SEL_ABSENT,
		    ADDR(mbx_k_np_insn), 0 },
		  mbx_k_np },
		{ { "#SS from MOV SS of a not-present segment", VEC_SS, 1, MB32_SEL_ABSENT,
		    ADDR(mbx_k_ss_insn), 0 },
		  mbx_k_ss },
	};
	unsigned i;

	for (i = 0; i < FID_COUNT(cases); i++)
		check_kernel_case(&cases[i]);
}

/* 32-bit paging with CR4.PSE (SDM Vol. 3A 4.3): 4 MiB identity pages below MBX_PF_ABSENT, user
 * accessible so ring 3 runs anywhere; then one page table with a hole and a read-only page. */
static int paging_on(void)
{
	uint32_t i, cr0, cr4;
	struct mb32_try t;

	for (i = 0; i < IDENTITY_BIG_PAGES; i++)
		page_dir[i] = i * BIG_PAGE | PDE_PS | PDE_U | PDE_W | PDE_P;
	page_table[(MBX_PF_READONLY - MBX_PF_ABSENT) / PAGE] = MBX_PF_READONLY | PDE_U | PDE_P;
	page_dir[MBX_PF_ABSENT / BIG_PAGE] = ADDR(page_table) | PDE_U | PDE_W | PDE_P;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_PSE));
	__asm__ volatile("mov %0, %%cr3" : : "r"(ADDR(page_dir)) : "memory");
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	if (mb32_try(&t) != 0)
		return 0;
	/* WP: supervisor writes honour R/W too (SDM Vol. 3A 4.6). */
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | CR0_PG | CR0_WP) : "memory");
	mb32_try_end();
	return 1;
}

static void test_page_faults(void)
{
	const struct kcase cases[] = {
		{ { "#PF reading a not-present page", VEC_PF, 1, 0, ADDR(mbx_k_pf_read_insn),
		    MBX_PF_ABSENT },
		  mbx_k_pf_read },
		{ { "#PF writing a not-present page", VEC_PF, 1, PF_W, ADDR(mbx_k_pf_write_insn),
		    MBX_PF_ABSENT },
		  mbx_k_pf_write },
		{ { "#PF writing a read-only page with CR0.WP", VEC_PF, 1, PF_P | PF_W,
		    ADDR(mbx_k_pf_write_ro_insn), MBX_PF_READONLY },
		  mbx_k_pf_write_ro },
	};
	unsigned i;

	if (!paging_on()) {
		/* On PVM only IA-32e mode may page (measured on these machines). */
		if (mb32_last.vector != VEC_GP) {
			nb_check_fail("32-bit paging", "the MOV to CR0 faulted");
			return;
		}
		for (i = 0; i < FID_COUNT(cases); i++)
			fid_skip_trap(&cases[i].e, "EIP", KERNEL_FRAME, PVM_LEGACY_PAGING);
		return;
	}
	for (i = 0; i < FID_COUNT(cases); i++)
		check_kernel_case(&cases[i]);
}

struct ucase {
	struct fid_trap_expect e;
	const char *entry;
	int emulated; /* an instruction KVM's emulator refuses with #UD */
};

static const char USER_FRAME[] = "frame CS, SS:ESP at ESP0";

static void check_user_case(const struct ucase *c)
{
	char name[NAME_MAX];

	mb32_run_user(c->entry, ADDR(user_stack + sizeof(user_stack)));
	/* On PVM legacy-mode ring 3 is emulated too, and KVM's emulator answers INT3, INTO and
	 * BOUND with #UD: a #UD before the end of the case is that. */
	if (c->emulated && mb32_last.vector == VEC_UD && mb32_last.eip < c->e.ip) {
		fid_skip_trap(&c->e, "EIP", USER_FRAME,
			      "PVM emulates legacy-mode ring 3: #UD from KVM's emulator");
		return;
	}
	{
		const struct fid_trap_seen s = seen();
		const struct fid_field frame[] = {
			{ "CS", MB32_SEL_UCODE, mb32_last.cs },
			{ "SS", MB32_SEL_UDATA, mb32_last.ss },
			{ "ESP", mb32_last.ebx, mb32_last.esp },
			{ "frame end (TSS.ESP0)", ADDR(mb32_trap_stack_top),
			  mb32_last.frame_end + 8 },
		};

		fid_check_trap(&c->e, &s, "EIP");
		fid_check_fields(fid_name(name, sizeof(name), c->e.name, USER_FRAME),
				 FID_FIELDS(frame));
	}
}

static void test_user(void)
{
	const struct ucase cases[] = {
		{ { "CPL 3 INT3 is #BP (a trap)", VEC_BP, 0, 0, ADDR(mbx_u_int3_next), 0 },
		  mbx_u_int3, 1 },
		{ { "CPL 3 INTO with OF set is #OF (a trap)", VEC_OF, 0, 0, ADDR(mbx_u_into_next),
		    0 },
		  mbx_u_into, 1 },
		{ { "CPL 3 BOUND out of range is #BR (a fault)", VEC_BR, 0, 0,
		    ADDR(mbx_u_bound_insn), 0 },
		  mbx_u_bound, 1 },
		{ { "CPL 3 CLI is #GP(0)", VEC_GP, 1, 0, ADDR(mbx_u_cli_insn), 0 }, mbx_u_cli, 0 },
		{ { "CPL 3 UD2 is #UD", VEC_UD, 0, 0, ADDR(mbx_u_ud2_insn), 0 }, mbx_u_ud2, 0 },
	};
	unsigned i;

	for (i = 0; i < FID_COUNT(cases); i++)
		check_user_case(&cases[i]);
}

uint32_t mb_main(uint32_t magic, uint32_t info_addr)
{
	(void)info_addr;
	if (!mb32_init("mb-exceptions", "32-bit protected-mode exceptions, error codes and frames",
		       magic))
		return (uint32_t)nb_check_summary("mb-exceptions");
	test_kernel();
	test_user();
	test_page_faults();
	return (uint32_t)nb_check_summary("mb-exceptions");
}
