/*
 * Private to the boot loader (boot_loader.c, elf_loader.c, multiboot_loader.c, boot_info.c,
 * boot_cpu_state.c). The loader works in three steps so that nothing is written to guest memory
 * before the image has been checked: parse the image into a list of segments and an entry point,
 * lay out kernel, modules and trace ring in guest memory, then write the boot structures, the
 * kernel and the modules.
 */
#ifndef NESTBED_L0_BOOT_INTERNAL_H
#define NESTBED_L0_BOOT_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "nestbed/boot.h"
#include "l0/boot_loader.h"

#define NB_PAGE_SIZE 4096ull
#define NB_MIB (1024ull * 1024)
#define NB_GIB (1024ull * NB_MIB)

/* More than any real kernel has (a few each); a fixed bound keeps the loader free of allocation. */
#define NB_LOAD_MAX_SEGMENTS 32

/* One range of the kernel in guest-physical memory: filesz bytes from the file at offset, then
 * memsz - filesz zero bytes. Every field has been checked against the file and for overflow. */
struct nb_load_segment {
	char label[32];  /* "segment 2" (program header 2) or "a.out-kludge image", for messages */
	uint64_t offset;
	uint64_t filesz;
	uint64_t paddr;
	uint64_t memsz;
};

/* What the format parsers found in the image. */
struct nb_boot_image {
	enum nb_boot_mode mode;
	struct nb_load_segment seg[NB_LOAD_MAX_SEGMENTS];
	unsigned nseg;
	uint64_t entry; /* guest-physical, inside the loaded bytes of an executable segment */
};

struct nb_boot_ctx {
	struct nb_guest_mem *mem;
	const struct nb_boot_request *req;
	struct nb_error *err;
	const char *name; /* image name for messages, never NULL */
};

/* Sets err to "guest image '<name>': <message>" and returns -code. */
int nb_boot_fail(const struct nb_boot_ctx *ctx, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "64 MiB", "640 KiB" or "1234 bytes": sizes in messages as a person would write them. */
const char *nb_boot_size_str(uint64_t bytes, char buf[32]);

static inline uint64_t nb_round_up_page(uint64_t v)
{
	return (v + NB_PAGE_SIZE - 1) & ~(NB_PAGE_SIZE - 1);
}

/* Every caller has checked [addr, addr + len) against the guest memory size. */
static inline void nb_guest_write(struct nb_guest_mem *mem, uint64_t addr, const void *src, size_t len)
{
	memcpy(mem->host + addr, src, len);
}

/* elf_loader.c: parses an ELF of class ELFCLASS64 (x86-64, nestbed protocol) or ELFCLASS32
 * (i386, Multiboot) into img->seg and img->entry. */
int nb_elf_parse(const struct nb_boot_ctx *ctx, int elf_class, struct nb_boot_image *img);

/* multiboot_loader.c: finds a Multiboot header and parses the kernel it describes. Returns 0 when
 * img is filled, NB_MULTIBOOT_ABSENT when the image carries no Multiboot magic at all, or a
 * negative error (bad checksum, unsupported flags, malformed image). */
#define NB_MULTIBOOT_ABSENT 1
int nb_multiboot_parse(const struct nb_boot_ctx *ctx, struct nb_boot_image *img);

/* multiboot_loader.c: writes the Multiboot information structure and sets the 32-bit entry state. */
int nb_multiboot_prepare_entry(const struct nb_boot_ctx *ctx, struct nb_boot_plan *plan);

/* boot_info.c: writes struct nb_boot_info and points RDI at it. */
int nb_boot_info_write(const struct nb_boot_ctx *ctx, struct nb_boot_plan *plan);

/* boot_cpu_state.c: the GDT (both protocols), and the identity page tables, control registers
 * and selectors of the nestbed protocol's long-mode entry. */
#define NB_BOOT_CS32 0x18 /* flat 32-bit code: the Multiboot entry selector */
void nb_boot_write_gdt(struct nb_guest_mem *mem, struct nb_boot_plan *plan);
void nb_boot_setup_long_mode(struct nb_guest_mem *mem, struct nb_boot_plan *plan);

#endif
