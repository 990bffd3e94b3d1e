/*
 * What the 64-bit fidelity kernels (nestbed boot protocol) share: start-up, one ktrap that
 * copies every trap's frame before deciding what to do with it, and ring-3 runs.
 *
 * ktrap (fid64.c) first offers each trap to the kernel's own fid_trap_hook; what the hook
 * leaves goes: from CPL 3, back to fid_run_user's caller; from CPL 0 inside an nb_try, to the
 * try's landing; anything else is a FAIL line and exit status 3.
 */
#ifndef NESTBED_GUESTS_FIDELITY_FID64_H
#define NESTBED_GUESTS_FIDELITY_FID64_H

#include "guests/lib/nbkernel.h"
#include "guests/lib/check.h"
#include "guests/lib/paging.h"
#include "guests/lib/trap.h"

#define FID_ADDR(sym) ((uint64_t)(uintptr_t)(sym))

/* Where ring-3 code runs its stack: one page, mapped by fid_user_space. */
#define FID_USER_STACK 0x40000000ull
#define FID_USER_STACK_TOP (FID_USER_STACK + X86_PAGE_SIZE)

/* The last trap, as the CPU delivered it (SDM Vol. 3A 6.14.2: the 64-bit frame). */
struct fid_trap {
	uint64_t count; /* traps seen so far */
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
	uint64_t cr2;       /* read at entry for #PF, else 0 */
	uint64_t frame_end; /* the address just above the SS slot the CPU wrote */
	uint64_t rax, rbx, rcx, rdx, rsi, rdi;
};

extern struct fid_trap fid_last;

/*
 * The kernel's own say on a trap, before the default handling. Returns 1 when it dealt with the
 * trap (ktrap then returns, resuming what *f describes), 0 to leave it to the default.
 */
int fid_trap_hook(struct nb_trap_frame *f);

/* nb_guest_init, the banner line, the frame allocator over the free range, GDT/TSS/IDT.
 * Returns 0, or the exit status for an unusable boot info. */
int fid_init(struct nb_boot_info *bi, const char *name, const char *what);

/* A kernel address space with user.ld's pages for ring 3 and the user stack (not loaded). */
uint64_t fid_user_space(const struct nb_boot_info *bi);

/*
 * Runs entry at CPL 3 (stack FID_USER_STACK_TOP, RDI and RSI as given, RFLAGS as given plus the
 * fixed bit) until a trap that the hook leaves alone; that trap is in fid_last.
 */
void fid_run_user(const void *entry, uint64_t rdi, uint64_t rsi, uint64_t rflags);

#endif
