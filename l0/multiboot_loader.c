/*
 * Multiboot v1 kernels, loaded as QEMU's -kernel loads them (hw/i386/multiboot.c): a 32-bit ELF,
 * or any file whose Multiboot header carries the address fields (the "a.out kludge"), entered in
 * 32-bit protected mode with paging off, EAX = 0x2BADB002 and EBX = the Multiboot information
 * structure. References are to sections of the Multiboot specification 0.6.96.
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "l0/boot_internal.h"
#include "l0/multiboot.h"

/* Flags bits 0-15 nestbed honours: modules are always page-aligned, memory information is always
 * given. Any other required bit must make the load fail (3.1.2). */
#define MB_HONOURED (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO)

static uint32_t mb_read32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The first 4-byte aligned magic in the first 8192 bytes whose checksum holds is the header (3.1.1).
 * A magic with a bad checksum is skipped, as QEMU and GRUB do, since the value may occur in code
 * or data; if no valid header follows, the bad one is reported rather than "no header". */
static int mb_find_header(const struct nb_boot_ctx *ctx, size_t *header_off)
{
	const uint8_t *p = ctx->req->image;
	size_t len = ctx->req->image_len;
	size_t limit = len < MULTIBOOT_SEARCH ? len : MULTIBOOT_SEARCH;
	size_t off, bad_off = SIZE_MAX;
	uint32_t bad_sum = 0;

	for (off = 0; off + 12 <= limit; off += MULTIBOOT_HEADER_ALIGN) {
		uint32_t sum;

		if (mb_read32(p + off) != MULTIBOOT_HEADER_MAGIC)
			continue;
		sum = MULTIBOOT_HEADER_MAGIC + mb_read32(p + off + 4) + mb_read32(p + off + 8);
		if (sum == 0) {
			*header_off = off;
			return 0;
		}
		if (bad_off == SIZE_MAX) {
			bad_off = off;
			bad_sum = sum;
		}
	}
	if (bad_off != SIZE_MAX)
		return nb_boot_fail(ctx, NB_E_IMAGE,
				    "Multiboot header at offset 0x%zx has a bad checksum (magic + flags + checksum = 0x%08x, expected 0)",
				    bad_off, bad_sum);
	return NB_MULTIBOOT_ABSENT;
}

/*
 * The a.out kludge (3.1.3): the header says where it is loaded itself (header_addr), where the
 * loaded bytes start (load_addr) and end (load_end_addr, 0 = end of file), where the zeroed bss
 * ends (bss_end_addr, 0 = none) and the entry point. The file offset of load_addr follows from the
 * header's own offset: header_offset - (header_addr - load_addr).
 */
static int mb_parse_kludge(const struct nb_boot_ctx *ctx, size_t header_off, const struct multiboot_header *h,
			   struct nb_boot_image *img)
{
	size_t len = ctx->req->image_len;
	struct nb_load_segment *s = &img->seg[0];
	uint64_t text_off, load_size, load_end, memsz;

	if (h->header_addr < h->load_addr)
		return nb_boot_fail(ctx, NB_E_IMAGE, "Multiboot header_addr 0x%x is below load_addr 0x%x",
				    h->header_addr, h->load_addr);
	if (h->header_addr - h->load_addr > header_off)
		return nb_boot_fail(ctx, NB_E_IMAGE,
				    "Multiboot load_addr 0x%x is 0x%x bytes before header_addr 0x%x, but the header is only 0x%zx bytes into the file",
				    h->load_addr, h->header_addr - h->load_addr, h->header_addr, header_off);
	text_off = header_off - (h->header_addr - h->load_addr);
	if (h->load_end_addr) {
		if (h->load_end_addr < h->load_addr)
			return nb_boot_fail(ctx, NB_E_IMAGE, "Multiboot load_end_addr 0x%x is below load_addr 0x%x",
					    h->load_end_addr, h->load_addr);
		load_size = h->load_end_addr - h->load_addr;
		if (load_size > len - text_off)
			return nb_boot_fail(ctx, NB_E_IMAGE,
					    "truncated: Multiboot load_addr - load_end_addr needs 0x%llx bytes from file offset 0x%llx, the file has 0x%zx",
					    (unsigned long long)load_size, (unsigned long long)text_off, len);
	} else {
		load_size = len - text_off;
	}
	/* 32-bit fields, 64-bit sums: no overflow, but the end must stay below 4 GiB. */
	load_end = h->load_addr + load_size;
	if (load_end > 4 * NB_GIB)
		return nb_boot_fail(ctx, NB_E_IMAGE, "Multiboot image at 0x%x + 0x%llx wraps around the 32-bit address space",
				    h->load_addr, (unsigned long long)load_size);
	if (h->bss_end_addr && h->bss_end_addr < load_end)
		return nb_boot_fail(ctx, NB_E_IMAGE, "Multiboot bss_end_addr 0x%x is below the end of the loaded bytes 0x%llx",
				    h->bss_end_addr, (unsigned long long)load_end);
	memsz = h->bss_end_addr ? h->bss_end_addr - h->load_addr : load_size;
	if (h->entry_addr < h->load_addr || h->entry_addr >= load_end)
		return nb_boot_fail(ctx, NB_E_IMAGE,
				    "Multiboot entry_addr 0x%x is outside the loaded bytes 0x%x - 0x%llx",
				    h->entry_addr, h->load_addr, (unsigned long long)load_end);
	snprintf(s->label, sizeof(s->label), "a.out-kludge image");
	s->offset = text_off;
	s->filesz = load_size;
	s->paddr = h->load_addr;
	s->memsz = memsz;
	img->nseg = 1;
	img->entry = h->entry_addr;
	return 0;
}

int nb_multiboot_parse(const struct nb_boot_ctx *ctx, struct nb_boot_image *img)
{
	const uint8_t *p = ctx->req->image;
	size_t len = ctx->req->image_len;
	struct multiboot_header h;
	uint32_t flags, unsupported;
	size_t off = 0; /* set by mb_find_header; gcc cannot tell */
	int rc;

	rc = mb_find_header(ctx, &off);
	if (rc)
		return rc;
	flags = mb_read32(p + off + 4);
	unsupported = flags & MULTIBOOT_REQUIRED_MASK & ~MB_HONOURED;
	if (unsupported)
		return nb_boot_fail(ctx, NB_E_IMAGE,
				    "Multiboot header asks for unsupported required feature flags 0x%x%s",
				    unsupported,
				    unsupported & MULTIBOOT_VIDEO_MODE ? " (bit 2: a video mode; nestbed has no display)" : "");
	img->mode = NB_BOOT_MODE_PROTECTED32;
	/* The address fields win over the ELF headers when present (3.1.3), as in QEMU. */
	if (flags & MULTIBOOT_AOUT_KLUDGE) {
		if (sizeof(h) > len - off)
			return nb_boot_fail(ctx, NB_E_IMAGE,
					    "truncated: Multiboot header at offset 0x%zx has address fields (flags bit 16) past the end of the file (0x%zx bytes)",
					    off, len);
		memcpy(&h, p + off, sizeof(h)); /* the image is little-endian, as is the host */
		return mb_parse_kludge(ctx, off, &h, img);
	}
	if (len > EI_CLASS && memcmp(p, ELFMAG, SELFMAG) == 0 && p[EI_CLASS] == ELFCLASS32)
		return nb_elf_parse(ctx, ELFCLASS32, img);
	return nb_boot_fail(ctx, NB_E_IMAGE,
			    "Multiboot header without address fields (flags bit 16) in a file that is not a 32-bit ELF: nowhere to load it");
}

/* The information structure is built in the reserved area [NB_BOOT_MBI_ADDR, NB_BOOT_STACK_BASE).
 * A cursor reserves space in it; past the end it keeps counting but writes nothing, so the error
 * can say how much would have been needed. */
struct mbi_area {
	struct nb_guest_mem *mem;
	uint64_t used;
};

#define MBI_AREA_SIZE (NB_BOOT_STACK_BASE - NB_BOOT_MBI_ADDR)

static uint64_t mbi_reserve(struct mbi_area *a, uint64_t len, uint64_t align)
{
	uint64_t off = (a->used + align - 1) & ~(align - 1);

	a->used = off + len;
	return NB_BOOT_MBI_ADDR + off;
}

static int mbi_fits(const struct mbi_area *a)
{
	return a->used <= MBI_AREA_SIZE;
}

/* Writes "first second" (or "first" when second is empty), NUL-terminated; returns its address. */
static uint32_t mbi_put_words(struct mbi_area *a, const char *first, const char *second)
{
	size_t n1 = strlen(first), n2 = second ? strlen(second) : 0;
	uint64_t addr = mbi_reserve(a, n1 + (n2 ? 1 + n2 : 0) + 1, 1);

	if (mbi_fits(a)) {
		nb_guest_write(a->mem, addr, first, n1);
		if (n2) {
			nb_guest_write(a->mem, addr + n1, " ", 1);
			nb_guest_write(a->mem, addr + n1 + 1, second, n2);
		}
		nb_guest_write(a->mem, addr + n1 + (n2 ? 1 + n2 : 0), "", 1);
	}
	return (uint32_t)addr;
}

int nb_multiboot_prepare_entry(const struct nb_boot_ctx *ctx, struct nb_boot_plan *plan)
{
	const struct nb_boot_request *req = ctx->req;
	uint64_t mem_size = ctx->mem->size;
	struct mbi_area a = { .mem = ctx->mem };
	struct multiboot_info info = { 0 };
	struct multiboot_mod_list mods[NB_BOOT_MAX_MODULES] = { { 0 } };
	/* Usable RAM: below the legacy hole at 640 KiB, and from 1 MiB up (3.3, like QEMU's e820). */
	struct multiboot_mmap_entry mmap[2] = {
		{ sizeof(mmap[0]) - 4, 0, 640 * 1024, MULTIBOOT_MEMORY_AVAILABLE },
		{ sizeof(mmap[0]) - 4, NB_MIB, mem_size - NB_MIB, MULTIBOOT_MEMORY_AVAILABLE },
	};
	const char *base = strrchr(ctx->name, '/');
	uint64_t info_addr, mods_addr, mmap_addr;
	int i;

	info_addr = mbi_reserve(&a, sizeof(info), 8);
	mods_addr = mbi_reserve(&a, sizeof(mods[0]) * (uint64_t)req->module_count, 8);
	mmap_addr = mbi_reserve(&a, sizeof(mmap), 8);
	info.flags = MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_CMDLINE | MULTIBOOT_INFO_MODS |
		     MULTIBOOT_INFO_MEM_MAP | MULTIBOOT_INFO_BOOT_LOADER_NAME;
	info.mem_lower = 640;
	info.mem_upper = (uint32_t)((mem_size - NB_MIB) / 1024); /* RAM ends below 4 GiB: fits */
	/* QEMU passes the kernel's file name as the first word of the command line; so do we. */
	info.cmdline = mbi_put_words(&a, base ? base + 1 : ctx->name, req->options);
	info.boot_loader_name = mbi_put_words(&a, "nestbed", NULL);
	info.mods_count = (uint32_t)req->module_count;
	info.mods_addr = (uint32_t)mods_addr;
	info.mmap_length = sizeof(mmap);
	info.mmap_addr = (uint32_t)mmap_addr;
	for (i = 0; i < req->module_count; i++) {
		mods[i].mod_start = (uint32_t)plan->module_addr[i];
		mods[i].mod_end = (uint32_t)(plan->module_addr[i] + req->modules[i].len);
		mods[i].cmdline = mbi_put_words(&a, req->modules[i].name, req->modules[i].args);
	}
	if (!mbi_fits(&a))
		return nb_error_set(ctx->err, NB_E_USAGE,
				    "the Multiboot information for guest image '%s' (command line, module names and arguments) needs %llu bytes, more than the %llu reserved for it at 0x%llx",
				    ctx->name, (unsigned long long)a.used, MBI_AREA_SIZE, NB_BOOT_MBI_ADDR);
	nb_guest_write(ctx->mem, info_addr, &info, sizeof(info));
	nb_guest_write(ctx->mem, mods_addr, mods, sizeof(mods[0]) * (size_t)req->module_count);
	nb_guest_write(ctx->mem, mmap_addr, mmap, sizeof(mmap));

	/* 32-bit protected mode, paging off (3.2): CR0 = PE | ET, flat 32-bit code and data. */
	plan->rax = MULTIBOOT_BOOTLOADER_MAGIC;
	plan->rbx = info_addr;
	plan->cr0 = 0x11;
	plan->cs = NB_BOOT_CS32;
	plan->ds = NB_BOOT_DS;
	return 0;
}
