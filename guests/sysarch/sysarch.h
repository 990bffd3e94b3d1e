/*
 * sysarch: checks SYSCALL/SYSRET and INT n/IRETQ between its ring-3 code and its kernel
 * against the architecture (SDM Vol. 2B SYSCALL, SYSRET, INT n, IRET; Vol. 3A 6.12, 6.14).
 * Shared by the C kernel, its SYSCALL entry (lstar.S) and its user code (user.S).
 */
#ifndef NESTBED_GUESTS_SYSARCH_H
#define NESTBED_GUESTS_SYSARCH_H

#include "guests/lib/x86.h"

/* User code ends each test with RAX = SYSARCH_SYS_OBSERVE and a UD2, RSI = its RAX before:
 * the #UD frame shows the state the test left it in. */
#define SYSARCH_SYS_OBSERVE 1

#define SYSARCH_INT_VEC 0x80      /* DPL-3 gate: INT from ring 3 reaches the kernel */
#define SYSARCH_INT_DPL0_VEC 0x81 /* DPL-0 gate: INT from ring 3 is a #GP */

/* What the kernel changes on the way back, so the return is seen to take it from where the
 * architecture says: RAX, and for IRETQ a lower RSP; AC is cleared in the returned RFLAGS. */
#define SYSARCH_IRET_RAX 0x1e1e
#define SYSARCH_SYSRET_RAX 0x5151
#define SYSARCH_IRET_RSP_DELTA 64

/* SYSCALL clears these RFLAGS bits (as Linux does): TF, IF, DF, NT, AC. */
#define SYSARCH_SFMASK (X86_RFLAGS_TF | X86_RFLAGS_IF | X86_RFLAGS_DF | X86_RFLAGS_NT | \
			X86_RFLAGS_AC)

#define SYSARCH_USER_STACK 0x0000008000000000 /* PML4 slot 1, one page */
#define SYSARCH_USER_STACK_TOP (SYSARCH_USER_STACK + 0x1000)

#ifndef __ASSEMBLER__
#include <stdint.h>
#include "guests/lib/trap.h"

/* A trap as ktrap saw it. */
struct sysarch_trap {
	int hit;
	uint64_t vector, error, rip, cs, ss, rflags, rsp;
	uint64_t rbx, rcx, r11, rsi;
	uint64_t frame_end; /* address just above the CPU's frame */
};

struct sysarch_seen {
	struct sysarch_trap trap;    /* the first trap from user mode other than the observation */
	struct sysarch_trap observe; /* the UD2 that ends a test */
	struct sysarch_trap probe;   /* the ring-0 UD2 in the SYSCALL entry */
};

extern struct sysarch_seen sysarch_seen;

/* user.S */
extern char sysarch_user_int80[], sysarch_int80_insn[], sysarch_int80_next[],
	sysarch_int80_landing[], sysarch_int80_observe[];
extern char sysarch_user_int_dpl0[], sysarch_int_dpl0_insn[];
extern char sysarch_user_syscall[], sysarch_syscall_insn[], sysarch_syscall_next[],
	sysarch_sysret_landing[], sysarch_sysret_observe[];
/* lstar.S */
extern char sysarch_lstar[], sysarch_lstar_probe[];
extern uint64_t sysarch_sc_user_rsp, sysarch_sc_rcx, sysarch_sc_r11, sysarch_sc_rbx;
#endif

#endif
