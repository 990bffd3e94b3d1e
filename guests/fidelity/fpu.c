/*
 * fpu: a 64-bit kernel that checks the x87 and SSE state of its ring-3 code survives whatever
 * the layers below do on traps: ring 3 loads a known x87 control word, x87 stack, MXCSR and
 * XMM0-15, takes many exceptions the kernel resumes from (#UD, #GP from port I/O, #BP, #PF),
 * then stores the state for the kernel to compare. FXSAVE and FXRSTOR in ring 0 must see and
 * set the same state (SDM Vol. 2A FXSAVE/FXRSTOR), and CR0.TS must turn the first SSE
 * instruction into #NM (Vol. 3A 2.5, 13.4).
 *
 * The kernel is built with -mgeneral-regs-only, so nothing but the asm here touches the FPU.
 */
#include "guests/fidelity/fid64.h"
#include "guests/fidelity/fidcheck.h"
#include "guests/fidelity/fpu.h"

#define X86_VEC_NM 7
#define X86_CR0_MP 0x2ull
#define X86_CR0_EM 0x4ull
#define X86_CR0_TS 0x8ull
#define X86_CR4_OSFXSR 0x200ull
#define X86_CR4_OSXMMEXCPT 0x400ull
#define X86_PTE_FLAGS_USER_RW (X86_PTE_U | X86_PTE_W)
#define FPU_UNMAPPED (FPU_USER_DATA + X86_PAGE_SIZE)
#define TRAPS_PER_ROUND 4

static unsigned traps_resumed, nm_count;
static uint64_t nm_rip;
static uint8_t fx_image[FXSAVE_SIZE] __attribute__((aligned(16)));

/* The traps ring 3 takes on purpose are stepped over; #NM clears CR0.TS and retries. */
int fid_trap_hook(struct nb_trap_frame *f)
{
	if ((f->cs & 3) != 3)
		return 0;
	if (f->vector == X86_VEC_NM) {
		nm_count++;
		nm_rip = f->rip;
		__asm__ volatile("clts");
		return 1;
	}
	if (f->rax != FPU_TRAP_MAGIC)
		return 0;
	switch (f->vector) {
	case X86_VEC_UD:
	case X86_VEC_GP:
		f->rip += 2; /* UD2; OUT imm8, AL */
		break;
	case X86_VEC_BP:
		break; /* a trap: RIP is already past the INT3 */
	case X86_VEC_PF:
		f->rip += 3; /* MOV (%rdx), %r8 */
		break;
	default:
		return 0;
	}
	traps_resumed++;
	return 1;
}

static struct fpu_results *results(void)
{
	return (struct fpu_results *)(uintptr_t)FPU_USER_DATA;
}

static int run_ended(void)
{
	return fid_last.vector == X86_VEC_UD && fid_last.rax == FPU_DONE_MAGIC;
}

static uint32_t image_u32(unsigned off, unsigned size)
{
	uint32_t v = 0;

	memcpy(&v, fx_image + off, size);
	return v;
}

static void image_set(unsigned off, uint32_t v, unsigned size)
{
	memcpy(fx_image + off, &v, size);
}

static void write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

/* x87 and SSE usable: EM clear (no emulation), MP set, TS clear; OSFXSR enables SSE and
 * FXSAVE's XMM part, OSXMMEXCPT routes SIMD exceptions to #XM (Vol. 3A 13.1.3). */
static void fpu_enable(void)
{
	uint64_t cr4 = x86_read_cr4();

	write_cr0((x86_read_cr0() & ~(X86_CR0_EM | X86_CR0_TS)) | X86_CR0_MP);
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT));
}

static void test_survives_traps(void)
{
	struct fpu_results *r = results();
	unsigned i, bad_x87 = 0, bad_xmm = 0;

	memset(r, 0, sizeof(*r));
	traps_resumed = 0;
	fid_run_user(fpuu_run, FPU_USER_DATA, FPU_ROUNDS, FPU_UNMAPPED);
	nb_check_u64("ring 3 ran its rounds of traps to the end", 1, run_ended());
	nb_check_u64("every trap was taken and resumed", FPU_ROUNDS * TRAPS_PER_ROUND,
		     traps_resumed);
	nb_check_u64("x87 control word survives the traps", FPU_CW, r->cw);
	nb_check_u64("MXCSR survives the traps", FPU_MXCSR, r->mxcsr);
	/* FISTP pops: ST0 is the value loaded last. */
	for (i = 0; i < FPU_X87_REGS; i++)
		bad_x87 += r->x87[i] != fpu_x87_values[FPU_X87_REGS - 1 - i];
	nb_check_u64("x87 registers ST0-ST7 survive the traps", 0, bad_x87);
	for (i = 0; i < FPU_XMM_REGS; i++)
		bad_xmm += memcmp(r->xmm[i], fpu_xmm_pattern[i], 16) != 0;
	nb_check_u64("XMM0-XMM15 survive the traps", 0, bad_xmm);
}

/* FXSAVE in ring 0 sees what ring 3 left; FXRSTOR of a changed image is what ring 3 sees. */
static void test_fxsave_fxrstor(void)
{
	struct fpu_results *r = results();
	unsigned i, bad_xmm = 0;

	/* The registers still hold ring 3's state but the x87 stack, which fpuu_store popped. */
	memset(fx_image, 0, sizeof(fx_image));
	__asm__ volatile("fxsave %0" : "=m"(fx_image));
	nb_check_u64("FXSAVE in ring 0: FCW is ring 3's", FPU_CW,
		     image_u32(FXSAVE_FCW, 2));
	nb_check_u64("FXSAVE in ring 0: MXCSR is ring 3's", FPU_MXCSR,
		     image_u32(FXSAVE_MXCSR, 4));
	for (i = 0; i < FPU_XMM_REGS; i++)
		bad_xmm += memcmp(fx_image + FXSAVE_XMM0 + 16 * i, fpu_xmm_pattern[i], 16) != 0;
	nb_check_u64("FXSAVE in ring 0: XMM0-XMM15 are ring 3's", 0, bad_xmm);

	image_set(FXSAVE_FCW, FPU_CW_RESTORED, 2);
	image_set(FXSAVE_MXCSR, FPU_MXCSR_RESTORED, 4);
	memcpy(fx_image + FXSAVE_XMM0 + 16 * 3, fpu_xmm_pattern[12], 16);
	__asm__ volatile("fxrstor %0" : : "m"(fx_image));
	memset(r, 0, sizeof(*r));
	fid_run_user(fpuu_store, FPU_USER_DATA, 0, 0);
	nb_check_u64("FXRSTOR in ring 0: ring 3 sees the restored FCW", FPU_CW_RESTORED, r->cw);
	nb_check_u64("FXRSTOR in ring 0: ring 3 sees the restored MXCSR", FPU_MXCSR_RESTORED,
		     r->mxcsr);
	{
		const struct fid_field f[] = {
			{ "XMM3 changed", 0, (uint64_t)memcmp(r->xmm[3], fpu_xmm_pattern[12], 16) },
			{ "XMM0 kept", 0, (uint64_t)memcmp(r->xmm[0], fpu_xmm_pattern[0], 16) },
			{ "XMM15 kept", 0, (uint64_t)memcmp(r->xmm[15], fpu_xmm_pattern[15], 16) },
		};

		fid_check_fields("FXRSTOR in ring 0: ring 3 sees the restored XMM registers",
				 FID_FIELDS(f));
	}
}

/* With CR0.TS set, the first x87/SSE instruction is #NM, a fault; after CLTS it runs. */
static void test_task_switched(void)
{
	nm_count = 0;
	nm_rip = 0;
	write_cr0(x86_read_cr0() | X86_CR0_TS);
	fid_run_user(fpuu_sse, 0, 0, 0);
	if (nm_count == 0 && run_ended()) {
		nb_check_skip("CR0.TS: SSE at CPL 3 is #NM once, then runs after CLTS",
			      "PVM: the guest's CR0.TS does not reach ring 3, no #NM");
	} else {
		const struct fid_field f[] = {
			{ "#NM count", 1, nm_count },
			{ "#NM RIP", FID_ADDR(fpuu_sse_insn), nm_rip },
			{ "ran after CLTS", 1, (uint64_t)run_ended() },
		};

		fid_check_fields("CR0.TS: SSE at CPL 3 is #NM once, then runs after CLTS",
				 FID_FIELDS(f));
	}
	write_cr0(x86_read_cr0() & ~X86_CR0_TS);
}

int kmain(struct nb_boot_info *bi)
{
	uint64_t root;
	int rc = fid_init(bi, "fpu", "x87 and SSE state across traps, FXSAVE/FXRSTOR, CR0.TS");

	if (rc)
		return rc;
	nb_idt_set_gate(X86_VEC_BP, 3);
	root = fid_user_space(bi);
	nb_pt_map(root, FPU_USER_DATA, nb_frame_alloc(), X86_PTE_FLAGS_USER_RW);
	x86_write_cr3(root);
	fpu_enable();
	test_survives_traps();
	test_fxsave_fxrstor();
	test_task_switched();
	return nb_check_summary("fpu");
}
