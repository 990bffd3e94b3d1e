/*
 * The guest's real register state while it runs in ring 3, laid out exactly as the trap entry
 * code builds it: TSS.RSP0 points at the end of this structure, so a trap from ring 3 makes the
 * CPU push SS, RSP, RFLAGS, CS, RIP (and an error code) straight into it, and the entry stub
 * pushes the vector and the general registers below them. Nothing is copied twice.
 */
#ifndef NBVMM_FRAME_H
#define NBVMM_FRAME_H

#include <stdint.h>

struct nbvmm_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector;
	uint64_t error_code;
	/* pushed by the CPU */
	uint64_t rip, cs, rflags, rsp, ss;
} __attribute__((aligned(16)));

/* The CPU aligns RSP down to 16 bytes before pushing a 64-bit interrupt frame (AMD APM vol. 2,
 * 8.9.3), so the frame's end must be 16-byte aligned for the pushes to land in it. */
_Static_assert(sizeof(struct nbvmm_frame) % 16 == 0, "frame end is 16-byte aligned");
#define NBVMM_FRAME_SIZE (22 * 8)

/* Enters the guest with *f (iretq to ring 3) and returns when it traps, with *f updated. */
void nbvmm_world_switch(struct nbvmm_frame *f);

#endif
