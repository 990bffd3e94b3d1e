/*
 * nb_boot_prepare with Multiboot v1 kernels: 32-bit ELF and a.out-kludge images, the Multiboot
 * information structure, the 32-bit entry state, and the header checks (checksum, flags, search
 * window, address fields).
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "nestbed/boot.h"
#include "l0/multiboot.h"
#include "tests/unit/boot_test_util.h"

/* A 32-bit ELF kernel with a Multiboot header at the start of its code segment. */
static const struct test_seg mb_segs[] = {
	{ .paddr = 0x100000, .filesz = 0x1000, .memsz = 0x1000, .flags = PF_R | PF_X, .fill = 0x33 },
	{ .paddr = 0x101000, .filesz = 0x80, .memsz = 0x2000, .flags = PF_R | PF_W, .fill = 0x44 },
};
#define MB_ENTRY 0x100040u
#define MB_END 0x103000ull

static struct test_boot *mb_elf_kernel(void **state, uint32_t flags)
{
	struct test_boot *t = *state;

	test_elf_build(&t->img, ELFCLASS32, MB_ENTRY, mb_segs, 2, 0);
	test_put_multiboot_header(t->img.data + t->img.seg_offset[0], flags, NULL);
	return t;
}

/* A flat (non-ELF) image of len bytes with a Multiboot header at hdr_off carrying the address
 * fields: header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr. */
static struct test_boot *mb_kludge_kernel(void **state, size_t len, size_t hdr_off, const uint32_t addr[5])
{
	struct test_boot *t = *state;
	size_t i;

	t->img.data = malloc(len);
	assert_non_null(t->img.data);
	t->img.len = len;
	for (i = 0; i < len; i++)
		t->img.data[i] = test_seg_byte(0x55, i);
	test_put_multiboot_header(t->img.data + hdr_off, MULTIBOOT_PAGE_ALIGN | MULTIBOOT_AOUT_KLUDGE, addr);
	return t;
}

/* The usual kludge kernel: header 0x40 bytes into the file, loaded at 2 MiB. */
static const uint32_t std_kludge[5] = { 0x200040, 0x200000, 0x200800, 0x203000, 0x200080 };

static struct multiboot_info read_mbi(const struct test_boot *t)
{
	struct multiboot_info mbi;

	EXPECT_EQ("ebx (MBI address)", NB_BOOT_MBI_ADDR, t->plan.rbx);
	memcpy(&mbi, t->mem.host + t->plan.rbx, sizeof(mbi));
	return mbi;
}

/* A string the kernel finds at a physical address: it must lie in the MBI area, NUL-terminated. */
static const char *guest_string(const struct test_boot *t, uint32_t addr)
{
	if (addr < NB_BOOT_MBI_ADDR || addr >= NB_BOOT_STACK_BASE)
		fail_msg("string address: expected inside 0x%llx - 0x%llx, got 0x%x\n", NB_BOOT_MBI_ADDR,
			 NB_BOOT_STACK_BASE, addr);
	if (!memchr(t->mem.host + addr, 0, NB_BOOT_STACK_BASE - addr))
		fail_msg("string at 0x%x: expected a NUL before 0x%llx, found none\n", addr, NB_BOOT_STACK_BASE);
	return (const char *)t->mem.host + addr;
}

/* ---- 32-bit ELF ---- */

static void test_multiboot_elf32_loads_segments_and_zeroes_bss(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO);

	expect_ok(test_boot_prepare(t), &t->err);
	expect_mem(t, "segment 0 bytes", 0x100000, t->img.data + t->img.seg_offset[0], 0x1000);
	expect_mem(t, "segment 1 bytes", 0x101000, t->img.data + t->img.seg_offset[1], 0x80);
	expect_mem_zero(t, "segment 1 bss", 0x101080, 0x2000 - 0x80);
	EXPECT_EQ("kernel_start", 0x100000, t->plan.kernel_start);
	EXPECT_EQ("kernel_end", MB_END, t->plan.kernel_end);
}

static void test_multiboot_plan_enters_32bit_protected_mode(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, MULTIBOOT_PAGE_ALIGN);

	expect_ok(test_boot_prepare(t), &t->err);
	EXPECT_EQ("mode", NB_BOOT_MODE_PROTECTED32, t->plan.mode);
	EXPECT_EQ("rip", MB_ENTRY, t->plan.rip);
	EXPECT_EQ("eax (bootloader magic)", 0x2badb002, t->plan.rax);
	EXPECT_EQ("ebx", NB_BOOT_MBI_ADDR, t->plan.rbx);
	EXPECT_EQ("cr0 (PE|ET)", 0x11, t->plan.cr0);
	EXPECT_EQ("cr3", 0, t->plan.cr3);
	EXPECT_EQ("cr4", 0, t->plan.cr4);
	EXPECT_EQ("efer", 0, t->plan.efer);
	EXPECT_EQ("cs (32-bit code)", 0x18, t->plan.cs);
	EXPECT_EQ("ds", 0x10, t->plan.ds);
	EXPECT_EQ("rflags", 0x2, t->plan.rflags);
	EXPECT_EQ("rsp", NB_BOOT_STACK_TOP, t->plan.rsp);
	EXPECT_EQ("gdt_base", NB_BOOT_GDT_ADDR, t->plan.gdt_base);
	EXPECT_EQ("GDT[0x18] 32-bit code", 0x00cf9b000000ffffull, test_mem_read64(t, NB_BOOT_GDT_ADDR + 0x18));
	EXPECT_EQ("GDT[0x10] data with D/B set", 0x00cf93000000ffffull, test_mem_read64(t, NB_BOOT_GDT_ADDR + 0x10));
}

static void test_multiboot_kernel_gets_no_trace_ring(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, 0);

	t->req.ring_bytes = TEST_MIB;
	expect_ok(test_boot_prepare(t), &t->err);
	EXPECT_EQ("ring_addr", 0, t->plan.ring_addr);
	EXPECT_EQ("ring_size", 0, t->plan.ring_size);
	EXPECT_EQ("free_end (all of RAM)", TEST_MEM_SIZE, t->plan.free_end);
	EXPECT_EQ("free_start", MB_END, t->plan.free_start);
}

static void test_multiboot_info_flags_and_memory_sizes(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, MULTIBOOT_MEMORY_INFO);
	struct multiboot_info mbi;

	expect_ok(test_boot_prepare(t), &t->err);
	mbi = read_mbi(t);
	EXPECT_EQ("flags (MEMORY|CMDLINE|MODS|MEM_MAP|BOOT_LOADER_NAME)", 0x24d, mbi.flags);
	EXPECT_EQ("mem_lower (KiB)", 640, mbi.mem_lower);
	EXPECT_EQ("mem_upper (KiB above 1 MiB)", (TEST_MEM_SIZE - TEST_MIB) / 1024, mbi.mem_upper);
	EXPECT_STR("boot_loader_name", "nestbed", guest_string(t, mbi.boot_loader_name));
	EXPECT_EQ("mods_count", 0, mbi.mods_count);
}

static void test_multiboot_cmdline_is_image_basename_then_options(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, 0);
	struct multiboot_info mbi;

	t->req.options = "console=ttyS0 depth=2";
	expect_ok(test_boot_prepare(t), &t->err);
	mbi = read_mbi(t);
	EXPECT_STR("cmdline", "kernel.elf console=ttyS0 depth=2", guest_string(t, mbi.cmdline));
}

static void test_multiboot_cmdline_without_options_is_image_basename(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, 0);
	struct multiboot_info mbi;

	t->req.image_name = "mbhello";
	t->req.options = NULL;
	expect_ok(test_boot_prepare(t), &t->err);
	mbi = read_mbi(t);
	EXPECT_STR("cmdline", "mbhello", guest_string(t, mbi.cmdline));
}

static void test_multiboot_modules_page_aligned_with_name_and_args(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, MULTIBOOT_PAGE_ALIGN);
	uint8_t a[6000], b[10];
	struct nb_boot_module_data mods[2] = { { "initrd", "root=/dev/ram0", a, sizeof(a) },
					       { "config", "", b, sizeof(b) } };
	struct multiboot_mod_list ml[2];
	struct multiboot_info mbi;

	memset(a, 0x61, sizeof(a));
	memset(b, 0x62, sizeof(b));
	t->req.modules = mods;
	t->req.module_count = 2;
	expect_ok(test_boot_prepare(t), &t->err);
	mbi = read_mbi(t);
	EXPECT_EQ("mods_count", 2, mbi.mods_count);
	memcpy(ml, t->mem.host + mbi.mods_addr, sizeof(ml));
	EXPECT_EQ("module 0 mod_start", MB_END, ml[0].mod_start);
	EXPECT_EQ("module 0 mod_end", MB_END + sizeof(a), ml[0].mod_end);
	EXPECT_EQ("module 1 mod_start (next page)", MB_END + 0x2000, ml[1].mod_start);
	EXPECT_EQ("module 1 mod_end", MB_END + 0x2000 + sizeof(b), ml[1].mod_end);
	EXPECT_STR("module 0 string", "initrd root=/dev/ram0", guest_string(t, ml[0].cmdline));
	EXPECT_STR("module 1 string", "config", guest_string(t, ml[1].cmdline));
	expect_mem(t, "module 0 bytes", ml[0].mod_start, a, sizeof(a));
	expect_mem(t, "module 1 bytes", ml[1].mod_start, b, sizeof(b));
	EXPECT_EQ("free_start", MB_END + 0x3000, t->plan.free_start);
}

static void test_multiboot_memory_map_has_two_usable_ranges(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, MULTIBOOT_MEMORY_INFO);
	struct multiboot_mmap_entry e[2];
	struct multiboot_info mbi;

	expect_ok(test_boot_prepare(t), &t->err);
	mbi = read_mbi(t);
	EXPECT_EQ("mmap_length", sizeof(e), mbi.mmap_length);
	memcpy(e, t->mem.host + mbi.mmap_addr, sizeof(e));
	EXPECT_EQ("entry 0 size", 20, e[0].size);
	EXPECT_EQ("entry 0 addr", 0, e[0].addr);
	EXPECT_EQ("entry 0 len", 640 * 1024, e[0].len);
	EXPECT_EQ("entry 0 type", MULTIBOOT_MEMORY_AVAILABLE, e[0].type);
	EXPECT_EQ("entry 1 size", 20, e[1].size);
	EXPECT_EQ("entry 1 addr", TEST_MIB, e[1].addr);
	EXPECT_EQ("entry 1 len", TEST_MEM_SIZE - TEST_MIB, e[1].len);
	EXPECT_EQ("entry 1 type", MULTIBOOT_MEMORY_AVAILABLE, e[1].type);
}

static void test_multiboot_elf32_entry_is_translated_from_virtual_address(void **state)
{
	struct test_boot *t = *state;
	struct test_seg segs[] = { { .paddr = 0x100000, .vaddr = 0xc0100000, .filesz = 0x1000, .memsz = 0x1000,
				     .flags = PF_R | PF_X } };

	test_elf_build(&t->img, ELFCLASS32, 0xc0100040, segs, 1, 0);
	test_put_multiboot_header(t->img.data + t->img.seg_offset[0], 0, NULL);
	expect_ok(test_boot_prepare(t), &t->err);
	EXPECT_EQ("rip (physical entry)", 0x100040, t->plan.rip);
	expect_mem(t, "segment loaded at p_paddr", 0x100000, t->img.data + t->img.seg_offset[0], 0x1000);
}

static void test_multiboot_elf32_wrong_machine_is_rejected(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, 0);
	uint16_t machine = EM_X86_64;

	memcpy(t->img.data + offsetof(Elf32_Ehdr, e_machine), &machine, sizeof(machine));
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "not an i386 ELF (e_machine 62)", NULL);
}

static void test_multiboot_elf32_segment_beyond_4gib_is_rejected(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, 0);
	uint32_t paddr = 0xfffff000;

	memcpy(t->img.data + sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr) + offsetof(Elf32_Phdr, p_paddr), &paddr,
	       sizeof(paddr));
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "segment 1 at 0xfffff000 + 0x2000 wraps around the 32-bit address space", NULL);
}

static void test_multiboot_kernel_larger_than_memory_fails_with_nomem(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, 0);
	uint32_t memsz = 100 << 20;

	memcpy(t->img.data + sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr) + offsetof(Elf32_Phdr, p_memsz), &memsz,
	       sizeof(memsz));
	expect_error(test_boot_prepare(t), &t->err, NB_E_NOMEM,
		     "segment 1 at 0x101000 - 0x6501000 does not fit in guest memory (64 MiB)", NULL);
}

static void test_multiboot_modules_beyond_memory_fail_with_nomem(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, 0);
	size_t len = TEST_MEM_SIZE - MB_END + 1;
	uint8_t *data = malloc(len);
	struct nb_boot_module_data mod = { "huge", NULL, data, len };

	assert_non_null(data);
	t->req.modules = &mod;
	t->req.module_count = 1;
	expect_error(test_boot_prepare(t), &t->err, NB_E_NOMEM, "module 'huge'", "ends at 0x4000000", NULL);
	free(data);
}

static void test_multiboot_cmdline_too_long_for_low_area_is_rejected(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, 0);
	size_t n = NB_BOOT_STACK_BASE - NB_BOOT_MBI_ADDR;
	char *options = malloc(n + 1);

	assert_non_null(options);
	memset(options, 'x', n);
	options[n] = 0;
	t->req.options = options;
	expect_error(test_boot_prepare(t), &t->err, NB_E_USAGE, "the Multiboot information for guest image",
		     "more than the 28672 reserved for it at 0x9000", NULL);
	free(options);
}

/* ---- a.out kludge ---- */

static void test_multiboot_kludge_loads_load_range_and_zeroes_bss(void **state)
{
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x40, std_kludge);

	expect_ok(test_boot_prepare(t), &t->err);
	expect_mem(t, "loaded bytes", 0x200000, t->img.data, 0x800);
	expect_mem_zero(t, "bss up to bss_end_addr", 0x200800, 0x2800);
	EXPECT_EQ("byte after bss_end_addr (untouched)", 0xAA, t->mem.host[0x203000]);
	EXPECT_EQ("mode", NB_BOOT_MODE_PROTECTED32, t->plan.mode);
	EXPECT_EQ("rip (entry_addr)", 0x200080, t->plan.rip);
	EXPECT_EQ("kernel_start", 0x200000, t->plan.kernel_start);
	EXPECT_EQ("kernel_end", 0x203000, t->plan.kernel_end);
}

static void test_multiboot_kludge_file_offset_follows_from_header_addr(void **state)
{
	/* Header 0x100 into the file but 0x20 after load_addr: loading starts at file offset 0xe0,
	 * and with load_end_addr 0 runs to the end of the file. */
	static const uint32_t addr[5] = { 0x300020, 0x300000, 0, 0, 0x300030 };
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x100, addr);

	expect_ok(test_boot_prepare(t), &t->err);
	expect_mem(t, "bytes from file offset 0xe0 to the end", 0x300000, t->img.data + 0xe0, 0x1000 - 0xe0);
	EXPECT_EQ("kernel_end", 0x300000 + 0x1000 - 0xe0, t->plan.kernel_end);
}

static void test_multiboot_kludge_wins_over_elf32_headers(void **state)
{
	static const uint32_t addr[5] = { 0x400000, 0x400000 - 0x80, 0, 0x402000, 0x400000 };
	struct test_boot *t = *state;

	test_elf_build(&t->img, ELFCLASS32, MB_ENTRY, mb_segs, 2, 0);
	/* seg_offset[0] is 0x80: the header is there and load_addr 0x80 before it, at offset 0. */
	EXPECT_EQ("test image layout", 0x80, t->img.seg_offset[0]);
	test_put_multiboot_header(t->img.data + 0x80, MULTIBOOT_AOUT_KLUDGE, addr);
	expect_ok(test_boot_prepare(t), &t->err);
	EXPECT_EQ("kernel_start (load_addr, not p_paddr)", 0x400000 - 0x80, t->plan.kernel_start);
	EXPECT_EQ("rip (entry_addr)", 0x400000, t->plan.rip);
	expect_mem(t, "the file from offset 0", 0x400000 - 0x80, t->img.data, t->img.len);
}

static void test_multiboot_kludge_header_addr_below_load_addr_is_rejected(void **state)
{
	static const uint32_t addr[5] = { 0x1fffff, 0x200000, 0, 0, 0x200000 };
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x40, addr);

	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "Multiboot header_addr 0x1fffff is below load_addr 0x200000", NULL);
}

static void test_multiboot_kludge_load_addr_before_file_start_is_rejected(void **state)
{
	static const uint32_t addr[5] = { 0x200100, 0x200000, 0, 0, 0x200100 };
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x40, addr);

	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "load_addr 0x200000 is 0x100 bytes before header_addr",
		     "only 0x40 bytes into the file", NULL);
}

static void test_multiboot_kludge_load_end_past_file_is_rejected(void **state)
{
	static const uint32_t addr[5] = { 0x200040, 0x200000, 0x202000, 0, 0x200080 };
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x40, addr);

	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "truncated: Multiboot load_addr - load_end_addr needs 0x2000 bytes from file offset 0x0, the file has 0x1000",
		     NULL);
}

static void test_multiboot_kludge_load_end_below_load_addr_is_rejected(void **state)
{
	static const uint32_t addr[5] = { 0x200040, 0x200000, 0x100000, 0, 0x200080 };
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x40, addr);

	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "load_end_addr 0x100000 is below load_addr 0x200000",
		     NULL);
}

static void test_multiboot_kludge_bss_end_below_load_end_is_rejected(void **state)
{
	static const uint32_t addr[5] = { 0x200040, 0x200000, 0x200800, 0x200400, 0x200080 };
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x40, addr);

	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "bss_end_addr 0x200400 is below the end of the loaded bytes 0x200800", NULL);
}

static void test_multiboot_kludge_entry_outside_loaded_bytes_is_rejected(void **state)
{
	static const uint32_t addr[5] = { 0x200040, 0x200000, 0x200800, 0x203000, 0x201000 };
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x40, addr);

	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "entry_addr 0x201000 is outside the loaded bytes 0x200000 - 0x200800", NULL);
}

static void test_multiboot_kludge_in_low_area_is_rejected(void **state)
{
	static const uint32_t addr[5] = { 0x8040, 0x8000, 0x8800, 0, 0x8080 };
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x40, addr);

	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "a.out-kludge image at 0x8000 - 0x8800 overlaps the reserved low area below 0x100000", NULL);
}

static void test_multiboot_kludge_wrapping_4gib_is_rejected(void **state)
{
	static const uint32_t addr[5] = { 0xfffff840, 0xfffff800, 0, 0, 0xfffff880 };
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x40, addr);

	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "Multiboot image at 0xfffff800 + 0x1000 wraps around the 32-bit address space", NULL);
}

static void test_multiboot_kludge_header_cut_by_end_of_file_is_rejected(void **state)
{
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x40, std_kludge);

	memmove(t->img.data + 0x1000 - 16, t->img.data + 0x40, 12); /* magic, flags, checksum only */
	memset(t->img.data + 0x40, 0, 32);
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "truncated: Multiboot header at offset 0xff0",
		     "address fields (flags bit 16)", NULL);
}

/* ---- the header ---- */

static void test_multiboot_bad_checksum_is_rejected(void **state)
{
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x40, std_kludge);

	t->img.data[0x48]++; /* the checksum's low byte: the sum becomes 1 */
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "Multiboot header at offset 0x40 has a bad checksum (magic + flags + checksum = 0x00000001, expected 0)",
		     NULL);
}

static void test_multiboot_magic_with_bad_checksum_is_skipped_for_a_later_valid_header(void **state)
{
	static const uint32_t addr[5] = { 0x200080, 0x200000, 0, 0, 0x200100 };
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x80, addr);
	uint32_t stray[3] = { MULTIBOOT_HEADER_MAGIC, 0, 0 }; /* the magic value in code or data */

	memcpy(t->img.data + 0x10, stray, sizeof(stray));
	expect_ok(test_boot_prepare(t), &t->err);
	EXPECT_EQ("rip", 0x200100, t->plan.rip);
}

static void test_multiboot_video_mode_flag_is_unsupported(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, MULTIBOOT_PAGE_ALIGN | MULTIBOOT_VIDEO_MODE);

	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "unsupported required feature flags 0x4",
		     "video mode", NULL);
}

static void test_multiboot_unknown_required_flag_is_unsupported(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, MULTIBOOT_MEMORY_INFO | 0x20);

	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "unsupported required feature flags 0x20", NULL);
}

static void test_multiboot_unknown_optional_flag_is_ignored(void **state)
{
	struct test_boot *t = mb_elf_kernel(state, MULTIBOOT_MEMORY_INFO | 0x00100000);

	expect_ok(test_boot_prepare(t), &t->err);
	EXPECT_EQ("mode", NB_BOOT_MODE_PROTECTED32, t->plan.mode);
}

static void test_multiboot_header_past_first_8192_bytes_is_not_found(void **state)
{
	static const uint32_t addr[5] = { 0x202000, 0x200000, 0, 0, 0x202000 };
	struct test_boot *t = mb_kludge_kernel(state, 0x3000, 0x2000, addr);

	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "no Multiboot header in its first 8192 bytes", NULL);
}

static void test_multiboot_unaligned_header_is_not_found(void **state)
{
	static const uint32_t addr[5] = { 0x200042, 0x200000, 0, 0, 0x200080 };
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x42, addr);

	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "no Multiboot header", NULL);
}

static void test_multiboot_header_without_address_fields_in_flat_file_is_rejected(void **state)
{
	struct test_boot *t = mb_kludge_kernel(state, 0x1000, 0x40, std_kludge);

	test_put_multiboot_header(t->img.data + 0x40, MULTIBOOT_PAGE_ALIGN, NULL);
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "Multiboot header without address fields (flags bit 16) in a file that is not a 32-bit ELF", NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_boot_setup, test_boot_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_multiboot_elf32_loads_segments_and_zeroes_bss),
		T(test_multiboot_plan_enters_32bit_protected_mode),
		T(test_multiboot_kernel_gets_no_trace_ring),
		T(test_multiboot_info_flags_and_memory_sizes),
		T(test_multiboot_cmdline_is_image_basename_then_options),
		T(test_multiboot_cmdline_without_options_is_image_basename),
		T(test_multiboot_modules_page_aligned_with_name_and_args),
		T(test_multiboot_memory_map_has_two_usable_ranges),
		T(test_multiboot_elf32_entry_is_translated_from_virtual_address),
		T(test_multiboot_elf32_wrong_machine_is_rejected),
		T(test_multiboot_elf32_segment_beyond_4gib_is_rejected),
		T(test_multiboot_kernel_larger_than_memory_fails_with_nomem),
		T(test_multiboot_modules_beyond_memory_fail_with_nomem),
		T(test_multiboot_cmdline_too_long_for_low_area_is_rejected),
		T(test_multiboot_kludge_loads_load_range_and_zeroes_bss),
		T(test_multiboot_kludge_file_offset_follows_from_header_addr),
		T(test_multiboot_kludge_wins_over_elf32_headers),
		T(test_multiboot_kludge_header_addr_below_load_addr_is_rejected),
		T(test_multiboot_kludge_load_addr_before_file_start_is_rejected),
		T(test_multiboot_kludge_load_end_past_file_is_rejected),
		T(test_multiboot_kludge_load_end_below_load_addr_is_rejected),
		T(test_multiboot_kludge_bss_end_below_load_end_is_rejected),
		T(test_multiboot_kludge_entry_outside_loaded_bytes_is_rejected),
		T(test_multiboot_kludge_in_low_area_is_rejected),
		T(test_multiboot_kludge_wrapping_4gib_is_rejected),
		T(test_multiboot_kludge_header_cut_by_end_of_file_is_rejected),
		T(test_multiboot_bad_checksum_is_rejected),
		T(test_multiboot_magic_with_bad_checksum_is_skipped_for_a_later_valid_header),
		T(test_multiboot_video_mode_flag_is_unsupported),
		T(test_multiboot_unknown_required_flag_is_unsupported),
		T(test_multiboot_unknown_optional_flag_is_ignored),
		T(test_multiboot_header_past_first_8192_bytes_is_not_found),
		T(test_multiboot_unaligned_header_is_not_found),
		T(test_multiboot_header_without_address_fields_in_flat_file_is_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
