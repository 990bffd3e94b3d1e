/*
 * x86-64 architecture for guest kernels that run their own descriptor tables, page tables and
 * user processes: the manual's constants and one inline function per privileged instruction.
 * Names follow the Intel SDM / AMD APM (Vol. 3A ch. 2-6 and 4 for paging). The constants are
 * usable from assembly too.
 */
#ifndef NESTBED_GUESTS_X86_H
#define NESTBED_GUESTS_X86_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#define X86_U64(c) c##ull
#else
#define X86_U64(c) c
#endif

/* Exception vectors (SDM Vol. 3A 6.3.1). */
#define X86_VEC_DE 0   /* divide error */
#define X86_VEC_DB 1
#define X86_VEC_BP 3
#define X86_VEC_UD 6   /* invalid opcode */
#define X86_VEC_DF 8   /* double fault */
#define X86_VEC_TS 10
#define X86_VEC_NP 11
#define X86_VEC_SS 12
#define X86_VEC_GP 13  /* general protection */
#define X86_VEC_PF 14  /* page fault */
#define X86_VEC_AC 17

/* Page-fault error code (SDM Vol. 3A 4.7). */
#define X86_PF_P 0x1    /* 0: not-present page; 1: protection violation */
#define X86_PF_W 0x2    /* write access */
#define X86_PF_U 0x4    /* access from CPL 3 */
#define X86_PF_RSVD 0x8 /* a reserved bit was set in a paging-structure entry */
#define X86_PF_I 0x10   /* instruction fetch */

/* RFLAGS bits. */
#define X86_RFLAGS_FIXED 0x2 /* bit 1 always reads 1 */
#define X86_RFLAGS_TF 0x100
#define X86_RFLAGS_IF 0x200
#define X86_RFLAGS_DF 0x400
#define X86_RFLAGS_NT 0x4000
#define X86_RFLAGS_AC 0x40000

/* Paging-structure entry bits (4-level paging, SDM Vol. 3A 4.5). */
#define X86_PTE_P X86_U64(0x1)
#define X86_PTE_W X86_U64(0x2)
#define X86_PTE_U X86_U64(0x4)
#define X86_PTE_PS X86_U64(0x80) /* in a PDE or PDPTE: maps a 2 MiB or 1 GiB page */
#define X86_PTE_ADDR X86_U64(0x000ffffffffff000)
#define X86_PAGE_SIZE X86_U64(0x1000)
#define X86_LARGE_PAGE_SIZE X86_U64(0x200000)

/* Control-register bits. */
#define X86_CR0_PE X86_U64(0x1)
#define X86_CR0_WP X86_U64(0x10000)
#define X86_CR0_PG X86_U64(0x80000000)
#define X86_CR4_PAE X86_U64(0x20)

/* MSRs (SDM Vol. 4). */
#define X86_MSR_EFER 0xc0000080u
#define X86_MSR_STAR 0xc0000081u   /* SYSCALL/SYSRET selectors */
#define X86_MSR_LSTAR 0xc0000082u  /* SYSCALL target in 64-bit mode */
#define X86_MSR_SFMASK 0xc0000084u /* RFLAGS bits SYSCALL clears */
#define X86_EFER_SCE X86_U64(0x1)        /* SYSCALL/SYSRET enable */
#define X86_EFER_LME X86_U64(0x100)
#define X86_EFER_NXE X86_U64(0x800)

#ifndef __ASSEMBLER__
static inline uint64_t x86_read_cr0(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline uint64_t x86_read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline uint64_t x86_read_cr3(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

/* Loading CR3 flushes the TLB's non-global entries: the new address space takes effect. */
static inline void x86_write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline uint64_t x86_read_cr4(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

/* The architecture caches translations: after changing a present entry, INVLPG the address. */
static inline void x86_invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline uint64_t x86_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static inline void x86_wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}

static inline void x86_cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "0"(leaf), "2"(0));
}

#include "guests/lib/x86_desc.h"
#endif

#endif
