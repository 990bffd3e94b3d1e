/*
 * The nestbed boot protocol: how every level hands control to the next.
 *
 * A kernel on this protocol is a 64-bit ELF (ET_EXEC) whose PT_LOAD segments are loaded at their
 * physical addresses (p_paddr), all at or above NB_BOOT_KERNEL_MIN. It is entered at e_entry:
 *   - in 64-bit long mode at CPL 0, interrupts disabled (RFLAGS = 0x2);
 *   - CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE, EFER = LME|LMA|NXE;
 *   - paging on, identity-mapping [0, max(4 GiB, memory size)) with 2 MiB pages, so that RAM and
 *     the local APIC page (0xFEE00000) are both reachable; the tables live in the reserved low
 *     area and may be replaced by the kernel;
 *   - a flat 64-bit code segment (selector NB_BOOT_CS) and data segments (NB_BOOT_DS) in a GDT in
 *     the reserved low area;
 *   - RDI = physical (= virtual) address of a struct nb_boot_info;
 *   - RSP = top of a boot stack of at least 16 KiB, 16-byte aligned, in the reserved low area.
 * Modules are loaded page-aligned after the kernel. The trace ring sits at the top of RAM.
 * Everything in [free_start, free_end) is the kernel's to use.
 *
 * This header is shared by the host (l0/), the hypervisor (l1-vmm/) and the guests (guests/):
 * it uses fixed-size types only and no libc.
 */
#ifndef NESTBED_BOOT_H
#define NESTBED_BOOT_H

#include <stdint.h>

#define NB_BOOT_MAGIC 0x4942424eu /* "NBBI" little-endian */
#define NB_BOOT_VERSION 1

#define NB_BOOT_MAX_MODULES 16
#define NB_BOOT_NAME_LEN 32
#define NB_BOOT_ARGS_LEN 128
#define NB_BOOT_OPTIONS_LEN 256

/* Guest-physical layout of the reserved low area written by the loader. */
#define NB_BOOT_GDT_ADDR 0x1000ull
#define NB_BOOT_PML4_ADDR 0x2000ull
#define NB_BOOT_PDPT_ADDR 0x3000ull
#define NB_BOOT_PD_ADDR 0x4000ull /* NB_BOOT_PD_COUNT consecutive page directories */
#define NB_BOOT_PD_COUNT 4        /* 4 x 1 GiB: 4 GiB identity map */
#define NB_BOOT_INFO_ADDR 0x8000ull
#define NB_BOOT_MBI_ADDR 0x9000ull /* multiboot information (Multiboot boots only) */
#define NB_BOOT_STACK_BASE 0x10000ull
#define NB_BOOT_STACK_TOP 0x20000ull
#define NB_BOOT_KERNEL_MIN 0x100000ull /* 1 MiB: no kernel byte may load below this */

#define NB_BOOT_CS 0x08
#define NB_BOOT_DS 0x10

struct nb_boot_module {
	uint64_t addr; /* guest-physical, page-aligned */
	uint64_t size; /* bytes */
	char name[NB_BOOT_NAME_LEN];  /* NUL-terminated */
	char args[NB_BOOT_ARGS_LEN];  /* NUL-terminated, may be empty */
};

struct nb_boot_info {
	uint32_t magic;   /* NB_BOOT_MAGIC */
	uint16_t version; /* NB_BOOT_VERSION */
	uint16_t size;    /* sizeof(struct nb_boot_info) as the writer knew it */
	uint64_t mem_size;   /* bytes of RAM, guest-physical [0, mem_size) */
	uint64_t free_start; /* first byte not used by the loader, kernel or modules (page-aligned) */
	uint64_t free_end;   /* end of RAM the kernel may use (the trace ring starts here) */
	uint32_t level;      /* 1 for a guest of L0, 2 for a guest of an L1 hypervisor, ... */
	uint32_t vm_id;      /* this guest's id in the trace */
	uint16_t console_port;   /* 16550 UART base */
	uint16_t hypercall_port; /* see nestbed/hypercall.h */
	uint16_t exit_port;      /* isa-debug-exit: writing v exits with status (v << 1) | 1 */
	uint16_t reserved0;
	uint64_t trace_ring_addr; /* guest-physical address of a struct nb_ring, 0 if none */
	uint64_t trace_ring_size; /* bytes, including the ring header */
	char options[NB_BOOT_OPTIONS_LEN]; /* options for this guest, NUL-terminated */
	uint32_t module_count;
	uint32_t tsc_khz;    /* the TSC's frequency, so a level can keep time without calibrating; 0 if unknown */
	struct nb_boot_module modules[NB_BOOT_MAX_MODULES];
};

#endif
