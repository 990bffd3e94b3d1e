/*
 * Multiboot v1 (specification 0.6.96): the parts of the header a kernel carries and of the
 * information structure a boot loader hands it that nestbed implements. Names follow the
 * specification and GRUB's multiboot.h. Everything is little-endian and 32-bit: a Multiboot kernel
 * is entered in 32-bit protected mode with paging off, so every address it is given is below 4 GiB.
 */
#ifndef NESTBED_L0_MULTIBOOT_H
#define NESTBED_L0_MULTIBOOT_H

#include <stdint.h>

/* The header must sit, 4-byte aligned, in the first MULTIBOOT_SEARCH bytes of the file (3.1.1). */
#define MULTIBOOT_SEARCH 8192
#define MULTIBOOT_HEADER_ALIGN 4
#define MULTIBOOT_HEADER_MAGIC 0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u /* EAX at entry */

/* Header flags (3.1.2). Bits 0-15 are requirements: a loader that cannot honour one must refuse
 * the kernel. Bits 16-31 are optional features. */
#define MULTIBOOT_PAGE_ALIGN 0x00000001u   /* modules page-aligned */
#define MULTIBOOT_MEMORY_INFO 0x00000002u  /* mem_* fields (and the memory map) wanted */
#define MULTIBOOT_VIDEO_MODE 0x00000004u   /* a graphics mode wanted: nestbed has no display */
#define MULTIBOOT_REQUIRED_MASK 0x0000ffffu
#define MULTIBOOT_AOUT_KLUDGE 0x00010000u  /* the address fields below are valid: use them */

struct multiboot_header {
	uint32_t magic;
	uint32_t flags;
	uint32_t checksum;      /* magic + flags + checksum == 0 (mod 2^32) */
	/* valid if MULTIBOOT_AOUT_KLUDGE */
	uint32_t header_addr;   /* physical address the header itself is loaded at */
	uint32_t load_addr;     /* physical address of the first byte loaded */
	uint32_t load_end_addr; /* end of the bytes loaded from the file; 0: to the end of the file */
	uint32_t bss_end_addr;  /* end of the zeroed area after them; 0: no bss */
	uint32_t entry_addr;
};

/* Information structure flags (3.3): which fields the loader filled in. */
#define MULTIBOOT_INFO_MEMORY 0x00000001u
#define MULTIBOOT_INFO_CMDLINE 0x00000004u
#define MULTIBOOT_INFO_MODS 0x00000008u
#define MULTIBOOT_INFO_MEM_MAP 0x00000040u
#define MULTIBOOT_INFO_BOOT_LOADER_NAME 0x00000200u

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB of memory from 0 (at most 640) */
	uint32_t mem_upper; /* KiB of memory from 1 MiB up to the first hole */
	uint32_t boot_device;
	uint32_t cmdline;   /* physical address of a NUL-terminated string */
	uint32_t mods_count;
	uint32_t mods_addr; /* physical address of mods_count struct multiboot_mod_list */
	uint32_t syms[4];
	uint32_t mmap_length; /* bytes of memory map, each entry preceded by its own size field */
	uint32_t mmap_addr;
	uint32_t drives_length;
	uint32_t drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
	uint32_t vbe_control_info;
	uint32_t vbe_mode_info;
	uint16_t vbe_mode;
	uint16_t vbe_interface_seg;
	uint16_t vbe_interface_off;
	uint16_t vbe_interface_len;
};

struct multiboot_mod_list {
	uint32_t mod_start;
	uint32_t mod_end; /* exclusive */
	uint32_t cmdline; /* physical address of the module's string */
	uint32_t pad;
};

#define MULTIBOOT_MEMORY_AVAILABLE 1

/* `size` counts the bytes after itself, so a kernel steps to the next entry with size + 4. */
struct multiboot_mmap_entry {
	uint32_t size;
	uint64_t addr;
	uint64_t len;
	uint32_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct multiboot_header) == 32, "multiboot header with address fields is 32 bytes");
_Static_assert(sizeof(struct multiboot_info) == 88, "multiboot info up to the VBE fields is 88 bytes");
_Static_assert(sizeof(struct multiboot_mod_list) == 16, "multiboot module entry is 16 bytes");
_Static_assert(sizeof(struct multiboot_mmap_entry) == 24, "multiboot memory map entry is 24 bytes");

#endif
