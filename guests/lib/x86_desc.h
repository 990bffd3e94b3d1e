/*
 * The x86 system structures a kernel builds for the CPU (SDM Vol. 3A): shared by the guests'
 * kernels (guests/lib) and nbvmm, with no other definitions so either can include it.
 */
#ifndef NESTBED_GUESTS_X86_DESC_H
#define NESTBED_GUESTS_X86_DESC_H

#include <stdint.h>

/* The operand of LGDT/LIDT (SDM Vol. 3A 2.4.1): a 16-bit limit and a 64-bit linear base. */
struct x86_desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* 64-bit TSS (SDM Vol. 3A 8.7): the stacks for privilege changes and IST, the I/O map base. */
struct x86_tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

/* 64-bit interrupt or trap gate (SDM Vol. 3A 6.14.1). */
struct x86_idt_gate64 {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr; /* P, DPL, type */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
};

#endif
