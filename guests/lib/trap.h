/*
 * Descriptor tables, trap entry and user mode for guest kernels that run user processes
 * (ptest, sysarch, hostile). One CPU, one kernel trap stack, no interrupts.
 *
 * nb_cpu_init() loads this lib's GDT (the selectors below), a 64-bit TSS whose RSP0 is the trap
 * stack, and an IDT whose vectors 0-31 go, through traps.S, to the kernel's own
 *     void ktrap(struct nb_trap_frame *f);
 * with the full register state. ktrap may change *f (RIP, RAX, a whole other process's state);
 * returning resumes what *f describes, with IRETQ.
 */
#ifndef NESTBED_GUESTS_TRAP_H
#define NESTBED_GUESTS_TRAP_H

#include <stdint.h>
#include "guests/lib/x86.h"

/*
 * GDT selectors. User data sits just below user code, as SYSRET requires (SDM Vol. 2B SYSRET:
 * SS = STAR[63:48] + 8, CS = STAR[63:48] + 16), so STAR[63:48] = NB_SEL_KDATA works.
 */
#define NB_SEL_KCODE 0x08
#define NB_SEL_KDATA 0x10
#define NB_SEL_UDATA 0x1b /* index 3, RPL 3 */
#define NB_SEL_UCODE 0x23 /* index 4, RPL 3 */
#define NB_SEL_TSS 0x28

/* Saved by traps.S: GPRs in push order reversed, then what the stub and the CPU pushed. */
struct nb_trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error; /* error is 0 for vectors without an error code */
	uint64_t rip, cs, rflags, rsp, ss; /* the CPU's interrupt frame (SDM Vol. 3A 6.14.2) */
};

void ktrap(struct nb_trap_frame *f);

void nb_cpu_init(void);
/* Points IDT vector vec at traps.S's stub for it; dpl 3 lets INT n reach it from user mode. */
void nb_idt_set_gate(unsigned vec, unsigned dpl);
/* Top of the stack TSS.RSP0 names: where the CPU puts the frame of a trap from CPL 3. */
extern char nb_trap_stack_top[];

/*
 * Runs user mode from *f (which must have CS/SS of CPL 3) until a trap handler calls
 * nb_trap_leave_user(v); then returns v, on the caller's stack as if from a call.
 */
uint64_t nb_trap_run_user(struct nb_trap_frame *f);
/* A frame that starts user code at rip with stack pointer rsp: CPL 3 selectors, IF clear (the
 * kernels here take no interrupts). */
void nb_trap_user_frame(struct nb_trap_frame *f, uint64_t rip, uint64_t rsp);
__attribute__((noreturn)) void nb_trap_leave_user(uint64_t value);

/*
 * Catching an expected exception in kernel code, as setjmp does:
 *     struct nb_try t;
 *     if (nb_try(&t) == 0) { code that may fault; nb_try_end(); } else { t.vector ... }
 * ktrap calls nb_try_catch(f) for kernel-mode traps: while a try is open, it records the
 * exception and resumes at nb_try's return with 1. Locals changed inside must be volatile.
 */
struct nb_try {
	uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip; /* nb_try's caller, as saved */
	uint64_t vector, error, rip_fault, cr2;           /* what was caught */
};

__attribute__((returns_twice)) int nb_try(struct nb_try *t);
void nb_try_end(void);
int nb_try_catch(struct nb_trap_frame *f);

/* "#GP" for vector 13, "vector 40" for those without a mnemonic (buffer of 16 bytes). */
const char *nb_vector_name(uint64_t vector, char buf[16]);
/* Prints a FAIL line for a trap nobody expected and stops the machine with status 3. */
__attribute__((noreturn)) void nb_trap_panic(const struct nb_trap_frame *f);
#define NB_TRAP_EXIT_PANIC 3

#endif
