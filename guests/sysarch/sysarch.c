/*
 * sysarch: the second test kernel of the nbvmm work. It checks, between its ring-3 code and
 * its kernel, what the first (ptest) cannot use on these machines: INT 0x80 through a DPL-3
 * gate and IRETQ back, INT through a DPL-0 gate, SYSCALL/SYSRET with STAR/LSTAR/SFMASK, and
 * SYSCALL with EFER.SCE clear. Directly under L0 on PVM, INT n from ring 3 raises #UD and
 * SYSCALL stays at CPL 3 (shared/PLATFORM.md): the kernel recognises both and prints SKIP
 * lines, so the same image passes at depth 1 and checks the architecture at depth 2.
 */
#include "guests/lib/nbkernel.h"
#include "guests/lib/check.h"
#include "guests/lib/paging.h"
#include "guests/sysarch/sysarch.h"

/* The RFLAGS bits the checks look at: the ones SFMASK clears that user code can hold. */
#define FLAGS_SEEN (X86_RFLAGS_TF | X86_RFLAGS_IF | X86_RFLAGS_DF | X86_RFLAGS_AC)
#define ADDR(sym) ((uint64_t)(uintptr_t)(sym))

static const char PVM_INT_UD[] = "depth 1 on PVM: #UD at the INT instruction";
static const char PVM_SYSCALL_CPL3[] = "depth 1 on PVM: SYSCALL reached LSTAR at CPL 3";

static void run_user(const char *entry)
{
	struct nb_trap_frame f;

	memset(&sysarch_seen, 0, sizeof(sysarch_seen));
	nb_trap_user_frame(&f, ADDR(entry), SYSARCH_USER_STACK_TOP);
	nb_trap_run_user(&f);
}

static int int_gave_ud(const char *insn)
{
	return sysarch_seen.trap.vector == X86_VEC_UD && sysarch_seen.trap.rip == ADDR(insn);
}

/* LSTAR is on a supervisor page: fetching it from CPL 3 is a #PF with RIP = LSTAR. */
static int syscall_stayed_at_cpl3(void)
{
	const struct sysarch_trap *t = &sysarch_seen.trap;

	return t->vector == X86_VEC_PF && t->rip == ADDR(sysarch_lstar) && (t->cs & 3) == 3;
}

static void test_int80(void)
{
	const struct sysarch_trap *t = &sysarch_seen.trap, *o = &sysarch_seen.observe;

	run_user(sysarch_user_int80);
	if (int_gave_ud(sysarch_int80_insn)) {
		nb_check_skip("int 0x80 through a DPL-3 gate and iretq", PVM_INT_UD);
		return;
	}
	nb_check_u64("int 0x80: delivered through the DPL-3 gate", SYSARCH_INT_VEC, t->vector);
	nb_check_u64("int 0x80: frame ends at TSS.RSP0", ADDR(nb_trap_stack_top), t->frame_end);
	nb_check_u64("int 0x80: saved RIP is the next instruction", ADDR(sysarch_int80_next),
		     t->rip);
	nb_check_u64("int 0x80: saved CS is the user code selector", NB_SEL_UCODE, t->cs);
	nb_check_u64("int 0x80: saved RFLAGS has the user's DF and AC",
		     X86_RFLAGS_DF | X86_RFLAGS_AC, t->rflags & FLAGS_SEEN);
	nb_check_u64("int 0x80: saved RSP is the user's", t->rbx, t->rsp);
	nb_check_u64("int 0x80: saved SS is the user data selector", NB_SEL_UDATA, t->ss);
	nb_check_u64("iretq: RIP from the frame", ADDR(sysarch_int80_observe), o->rip);
	nb_check_u64("iretq: CS from the frame", NB_SEL_UCODE, o->cs);
	nb_check_u64("iretq: RFLAGS from the frame (AC cleared)", X86_RFLAGS_DF,
		     o->rflags & FLAGS_SEEN);
	nb_check_u64("iretq: RSP from the frame", t->rbx - SYSARCH_IRET_RSP_DELTA, o->rsp);
	nb_check_u64("iretq: SS from the frame", NB_SEL_UDATA, o->ss);
	nb_check_u64("iretq: RAX as the kernel left it", SYSARCH_IRET_RAX, o->rsi);
}

/*
 * A gate's DPL below CPL: #GP whose error code names the IDT entry as a selector-format index,
 * vector * 8 + 2 (IDT bit; SDM Vol. 3A 6.13), in IA-32e mode too although gates are 16 bytes
 * there. (Old SDM editions wrote vector * 16 + 2, and QEMU's TCG still raises that.)
 */
static void test_int_dpl0(void)
{
	const struct sysarch_trap *t = &sysarch_seen.trap;

	run_user(sysarch_user_int_dpl0);
	if (int_gave_ud(sysarch_int_dpl0_insn)) {
		nb_check_skip("int 0x81 through a DPL-0 gate raises #GP", PVM_INT_UD);
		return;
	}
	nb_check_u64("int 0x81 through a DPL-0 gate raises #GP", X86_VEC_GP, t->vector);
	nb_check_u64("int 0x81: error code names the IDT entry", SYSARCH_INT_DPL0_VEC * 8 + 2,
		     t->error);
	nb_check_u64("int 0x81: #GP at the INT instruction", ADDR(sysarch_int_dpl0_insn), t->rip);
}

static void syscall_enable(int on)
{
	uint64_t efer = x86_rdmsr(X86_MSR_EFER);

	x86_wrmsr(X86_MSR_EFER, on ? efer | X86_EFER_SCE : efer & ~X86_EFER_SCE);
}

static void test_syscall(void)
{
	const struct sysarch_trap *t = &sysarch_seen.trap, *p = &sysarch_seen.probe,
				  *o = &sysarch_seen.observe;

	/* STAR[47:32]: SYSCALL's CS (SS is +8). STAR[63:48]: SYSRET's base, CS +16, SS +8. */
	x86_wrmsr(X86_MSR_STAR, (uint64_t)NB_SEL_KDATA << 48 | (uint64_t)NB_SEL_KCODE << 32);
	x86_wrmsr(X86_MSR_LSTAR, ADDR(sysarch_lstar));
	x86_wrmsr(X86_MSR_SFMASK, SYSARCH_SFMASK);
	syscall_enable(1);
	run_user(sysarch_user_syscall);
	if (syscall_stayed_at_cpl3()) {
		/* Even so, SYSCALL did save RIP and leave RSP alone. */
		nb_check_u64("syscall: RCX holds the next instruction", ADDR(sysarch_syscall_next),
			     t->rcx);
		nb_check_u64("syscall: RSP unchanged", t->rbx, t->rsp);
		nb_check_skip("syscall to CPL 0 and sysret", PVM_SYSCALL_CPL3);
		return;
	}
	nb_check_u64("syscall: reaches LSTAR at CPL 0", 1, p->hit);
	nb_check_u64("syscall: CS from STAR[47:32]", NB_SEL_KCODE, p->cs);
	nb_check_u64("syscall: SS from STAR[47:32] + 8", NB_SEL_KDATA, p->ss);
	nb_check_u64("syscall: RCX holds the next instruction", ADDR(sysarch_syscall_next),
		     sysarch_sc_rcx);
	nb_check_u64("syscall: R11 holds the user's RFLAGS", X86_RFLAGS_DF | X86_RFLAGS_AC,
		     sysarch_sc_r11 & FLAGS_SEEN);
	nb_check_u64("syscall: SFMASK cleared DF and AC", 0, p->rflags & FLAGS_SEEN);
	nb_check_u64("syscall: RSP unchanged", sysarch_sc_rbx, sysarch_sc_user_rsp);
	nb_check_u64("sysret: RIP from RCX", ADDR(sysarch_sysret_observe), o->rip);
	nb_check_u64("sysret: CS from STAR[63:48] + 16, RPL 3", NB_SEL_UCODE, o->cs);
	nb_check_u64("sysret: RFLAGS from R11 (AC cleared)", X86_RFLAGS_DF, o->rflags & FLAGS_SEEN);
	nb_check_u64("sysret: RSP as the kernel restored it", sysarch_sc_rbx, o->rsp);
	nb_check_u64("sysret: SS from STAR[63:48] + 8, RPL 3", NB_SEL_UDATA, o->ss);
	nb_check_u64("sysret: RAX as the kernel left it", SYSARCH_SYSRET_RAX, o->rsi);
}

/* With EFER.SCE clear, SYSCALL is an invalid opcode (SDM Vol. 2B SYSCALL). */
static void test_syscall_disabled(void)
{
	const struct sysarch_trap *t = &sysarch_seen.trap;

	syscall_enable(0);
	run_user(sysarch_user_syscall);
	if (syscall_stayed_at_cpl3()) {
		nb_check_skip("syscall with EFER.SCE clear raises #UD",
			      "depth 1 on PVM: SYSCALL ignores EFER.SCE");
		return;
	}
	nb_check_u64("syscall with EFER.SCE clear raises #UD", X86_VEC_UD, t->vector);
	nb_check_u64("syscall with EFER.SCE clear: #UD at the SYSCALL", ADDR(sysarch_syscall_insn),
		     t->rip);
}

int kmain(struct nb_boot_info *bi)
{
	uint64_t root;
	int err = nb_guest_init(bi);

	if (err) {
		nb_printf("sysarch: unusable boot info: %s\n", nb_boot_strerror(err));
		return NB_GUEST_EXIT_BAD_BOOT;
	}
	nb_printf("sysarch: int n/iretq and syscall/sysret between ring 3 and the kernel\n");
	nb_frames_init(bi->free_start, bi->free_end);
	nb_cpu_init();
	nb_idt_set_gate(SYSARCH_INT_VEC, 3);
	nb_idt_set_gate(SYSARCH_INT_DPL0_VEC, 0);
	root = nb_pt_kernel_space(bi->mem_size);
	nb_pt_map(root, SYSARCH_USER_STACK, nb_frame_alloc(), X86_PTE_U | X86_PTE_W);
	x86_write_cr3(root);

	test_int80();
	test_int_dpl0();
	test_syscall();
	test_syscall_disabled();
	return nb_check_summary("sysarch");
}
