/*
 * Loading an image into guest memory and preparing the vCPU state the boot protocol promises.
 * Pure functions over a buffer of guest memory, so they are tested hosted with malformed,
 * truncated, overlapping and oversized images.
 */
#ifndef NESTBED_BOOT_LOADER_H
#define NESTBED_BOOT_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include "l0/nestbed.h"

struct nb_guest_mem {
	uint8_t *host;  /* host mapping of guest-physical [0, size) */
	uint64_t size;
};

struct nb_boot_module_data {
	const char *name;
	const char *args;
	const uint8_t *data;
	size_t len;
};

struct nb_boot_request {
	const char *image_name;   /* for messages: "guest image 'x.elf': ..." */
	const uint8_t *image;
	size_t image_len;
	const struct nb_boot_module_data *modules;
	int module_count;
	const char *options;      /* boot-info options / multiboot command line */
	uint64_t ring_bytes;      /* 0: no trace ring */
	uint32_t level;           /* level of the guest being booted */
	uint32_t tsc_khz;         /* TSC frequency handed down in the boot info, 0 if unknown */
	uint32_t vm_id;
};

enum nb_boot_mode {
	NB_BOOT_MODE_LONG64 = 1,  /* nestbed boot protocol */
	NB_BOOT_MODE_PROTECTED32 = 2, /* Multiboot v1: 32-bit protected mode, paging off */
};

/* Everything the vCPU must be set to, and what was placed where. */
struct nb_boot_plan {
	enum nb_boot_mode mode;
	uint64_t rip, rsp, rflags;
	uint64_t rax, rbx, rdi;   /* boot-info pointer (RDI) or multiboot magic/info (EAX/EBX) */
	uint64_t cr0, cr3, cr4, efer;
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint16_t cs, ds;          /* selectors into the loader's GDT */
	uint64_t kernel_start, kernel_end;  /* physical range of the loaded image */
	uint64_t free_start, free_end;
	uint64_t ring_addr, ring_size;      /* 0 when no ring */
	uint64_t module_addr[16];
};

/* Loads the image (format detected: ELF64 nestbed protocol, or Multiboot v1 ELF32 / a.out kludge),
 * its modules, the boot structures and page tables; fills plan. */
int nb_boot_prepare(struct nb_guest_mem *mem, const struct nb_boot_request *req,
		    struct nb_boot_plan *plan, struct nb_error *err);

/* Reads a whole file (images and modules). *data is malloc'd. what names it in messages
 * ("guest image", "module 'name'"). */
int nb_file_read(const char *path, const char *what, uint8_t **data, size_t *len, struct nb_error *err);

#endif
