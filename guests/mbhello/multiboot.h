/* Multiboot v1 (Multiboot Specification 0.6.96): the parts mbhello checks. */
#ifndef NESTBED_GUESTS_MULTIBOOT_H
#define NESTBED_GUESTS_MULTIBOOT_H

#define MB_HEADER_MAGIC 0x1BADB002
#define MB_BOOT_MAGIC 0x2BADB002 /* in EAX at entry */

/* Header flags (section 3.1.2). */
#define MB_HF_PAGE_ALIGN 0x00000001 /* modules page-aligned */
#define MB_HF_MEMORY_INFO 0x00000002 /* mem_* fields wanted */
#define MB_HF_AOUT_KLUDGE 0x00010000 /* load addresses are in the header, not the ELF */

/* Information flags (section 3.3). */
#define MB_IF_MEMORY 0x001
#define MB_IF_BOOTDEV 0x002
#define MB_IF_CMDLINE 0x004
#define MB_IF_MODS 0x008
#define MB_IF_MMAP 0x040
#define MB_IF_LOADER_NAME 0x200

#ifndef __ASSEMBLER__
#include <stdint.h>

struct mb_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB below 1 MiB */
	uint32_t mem_upper; /* KiB above 1 MiB, up to the first hole */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length;
	uint32_t mmap_addr;
	uint32_t drives_length;
	uint32_t drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
};

struct mb_module {
	uint32_t mod_start;
	uint32_t mod_end; /* first byte after the module */
	uint32_t string;
	uint32_t reserved;
};

/* size does not count itself: the next entry is at (char *)e + e->size + 4. */
struct mb_mmap_entry {
	uint32_t size;
	uint64_t base_addr;
	uint64_t length;
	uint32_t type; /* 1 = available RAM */
} __attribute__((packed));
#endif

#endif
