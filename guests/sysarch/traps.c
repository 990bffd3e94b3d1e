/*
 * sysarch's trap handler: records what each trap's frame says. INT 0x80 is answered with an
 * IRETQ to a changed frame; the observation UD2, and any other trap from user mode, ends the
 * test (back to kmain); the ring-0 UD2 in the SYSCALL entry is stepped over.
 */
#include "guests/lib/nbkernel.h"
#include "guests/sysarch/sysarch.h"

#define UD2_LEN 2

extern char __user_start[], __user_end[];

struct sysarch_seen sysarch_seen;

static void record(struct sysarch_trap *t, const struct nb_trap_frame *f)
{
	t->hit = 1;
	t->vector = f->vector;
	t->error = f->error;
	t->rip = f->rip;
	t->cs = f->cs;
	t->ss = f->ss;
	t->rflags = f->rflags;
	t->rsp = f->rsp;
	t->rbx = f->rbx;
	t->rcx = f->rcx;
	t->r11 = f->r11;
	t->rsi = f->rsi;
	t->frame_end = (uint64_t)(uintptr_t)(&f->ss + 1);
}

static int is_observation(const struct nb_trap_frame *f)
{
	const uint8_t *insn = (const uint8_t *)(uintptr_t)f->rip;

	return f->vector == X86_VEC_UD && f->rax == SYSARCH_SYS_OBSERVE &&
	       f->rip >= (uint64_t)(uintptr_t)__user_start &&
	       f->rip + UD2_LEN <= (uint64_t)(uintptr_t)__user_end && insn[0] == 0x0f &&
	       insn[1] == 0x0b;
}

void ktrap(struct nb_trap_frame *f)
{
	if ((f->cs & 3) != 3) {
		if (f->vector == X86_VEC_UD && f->rip == (uint64_t)(uintptr_t)sysarch_lstar_probe) {
			record(&sysarch_seen.probe, f);
			f->rip += UD2_LEN;
			return;
		}
		nb_trap_panic(f);
	}
	if (f->vector == SYSARCH_INT_VEC && !sysarch_seen.trap.hit) {
		record(&sysarch_seen.trap, f);
		/* IRETQ pops RIP, CS, RFLAGS, RSP and SS from here (SDM Vol. 2A IRET). */
		f->rip = (uint64_t)(uintptr_t)sysarch_int80_landing;
		f->rsp -= SYSARCH_IRET_RSP_DELTA;
		f->rflags &= ~(uint64_t)X86_RFLAGS_AC;
		f->rax = SYSARCH_IRET_RAX;
		return;
	}
	if (is_observation(f)) {
		record(&sysarch_seen.observe, f);
		nb_trap_leave_user(0);
	}
	if (!sysarch_seen.trap.hit)
		record(&sysarch_seen.trap, f);
	nb_trap_leave_user(0);
}
