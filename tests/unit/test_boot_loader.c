/*
 * nb_boot_prepare with the nestbed boot protocol (64-bit ELF), format detection, and the checks on
 * what the caller asks for (memory, modules, ring, options). Images are built in memory; every
 * malformed one is a well-formed image with one field broken.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "nestbed/boot.h"
#include "nestbed/ports.h"
#include "tests/unit/boot_test_util.h"

/* A small kernel: code at 1 MiB, then data with a bss. It ends at STD_END. */
static const struct test_seg std_segs[] = {
	{ .paddr = 0x100000, .filesz = 0x1800, .memsz = 0x1800, .flags = PF_R | PF_X, .fill = 0x11 },
	{ .paddr = 0x102000, .filesz = 0x100, .memsz = 0x3000, .flags = PF_R | PF_W, .fill = 0x22 },
};
#define STD_ENTRY 0x100010ull
#define STD_END 0x105000ull
#define RING_START (TEST_MEM_SIZE - TEST_MIB)

static struct test_boot *std_kernel(void **state)
{
	struct test_boot *t = *state;

	test_elf_build(&t->img, ELFCLASS64, STD_ENTRY, std_segs, 2, 0);
	return t;
}

static Elf64_Ehdr *ehdr(struct test_boot *t)
{
	return test_elf64_ehdr(&t->img);
}

static Elf64_Phdr *phdr(struct test_boot *t, int i)
{
	return test_elf64_phdr(&t->img, i);
}

static struct nb_boot_info read_boot_info(const struct test_boot *t)
{
	struct nb_boot_info bi;

	memcpy(&bi, t->mem.host + NB_BOOT_INFO_ADDR, sizeof(bi));
	return bi;
}

/* ---- a valid kernel ---- */

static void test_elf64_segments_load_at_paddr_and_bss_is_zeroed(void **state)
{
	struct test_boot *t = std_kernel(state);

	expect_ok(test_boot_prepare(t), &t->err);
	expect_mem(t, "segment 0 bytes", 0x100000, t->img.data + t->img.seg_offset[0], 0x1800);
	expect_mem(t, "segment 1 bytes", 0x102000, t->img.data + t->img.seg_offset[1], 0x100);
	expect_mem_zero(t, "segment 1 bss", 0x102100, 0x3000 - 0x100);
	EXPECT_EQ("kernel_start", 0x100000, t->plan.kernel_start);
	EXPECT_EQ("kernel_end", STD_END, t->plan.kernel_end);
	EXPECT_EQ("byte after the kernel (untouched)", 0xAA, t->mem.host[STD_END]);
}

static void test_elf64_plan_enters_long_mode_at_entry(void **state)
{
	struct test_boot *t = std_kernel(state);

	expect_ok(test_boot_prepare(t), &t->err);
	EXPECT_EQ("mode", NB_BOOT_MODE_LONG64, t->plan.mode);
	EXPECT_EQ("rip", STD_ENTRY, t->plan.rip);
	EXPECT_EQ("rsp", NB_BOOT_STACK_TOP, t->plan.rsp);
	EXPECT_EQ("rflags", 0x2, t->plan.rflags);
	EXPECT_EQ("rdi", NB_BOOT_INFO_ADDR, t->plan.rdi);
	EXPECT_EQ("cr0 (PE|MP|ET|NE|WP|PG)", 0x80010033, t->plan.cr0);
	EXPECT_EQ("cr3", NB_BOOT_PML4_ADDR, t->plan.cr3);
	EXPECT_EQ("cr4 (PAE)", 0x20, t->plan.cr4);
	EXPECT_EQ("efer (LME|LMA|NXE)", 0xd00, t->plan.efer);
	EXPECT_EQ("cs", NB_BOOT_CS, t->plan.cs);
	EXPECT_EQ("ds", NB_BOOT_DS, t->plan.ds);
	EXPECT_EQ("gdt_base", NB_BOOT_GDT_ADDR, t->plan.gdt_base);
	EXPECT_EQ("gdt_limit", 4 * 8 - 1, t->plan.gdt_limit);
	EXPECT_EQ("rsp is 16-byte aligned", 0, t->plan.rsp % 16);
}

static void test_elf64_gdt_has_flat_code_and_data_descriptors(void **state)
{
	struct test_boot *t = std_kernel(state);

	expect_ok(test_boot_prepare(t), &t->err);
	EXPECT_EQ("GDT[0] null", 0, test_mem_read64(t, NB_BOOT_GDT_ADDR));
	EXPECT_EQ("GDT[0x08] 64-bit code", 0x00af9b000000ffffull, test_mem_read64(t, NB_BOOT_GDT_ADDR + 0x08));
	EXPECT_EQ("GDT[0x10] data", 0x00cf93000000ffffull, test_mem_read64(t, NB_BOOT_GDT_ADDR + 0x10));
	EXPECT_EQ("GDT[0x18] 32-bit code", 0x00cf9b000000ffffull, test_mem_read64(t, NB_BOOT_GDT_ADDR + 0x18));
}

/* Walks the boot page tables the way the CPU does for a 2 MiB page. */
static uint64_t walk_identity_map(const struct test_boot *t, uint64_t va)
{
	uint64_t pml4e = test_mem_read64(t, NB_BOOT_PML4_ADDR + ((va >> 39) & 511) * 8);
	uint64_t pdpte, pde;

	if (!(pml4e & 1))
		fail_msg("walk 0x%llx: expected a present PML4 entry, got 0x%llx\n", (unsigned long long)va,
			 (unsigned long long)pml4e);
	pdpte = test_mem_read64(t, (pml4e & ~0xfffull) + ((va >> 30) & 511) * 8);
	if (!(pdpte & 1))
		fail_msg("walk 0x%llx: expected a present PDPT entry, got 0x%llx\n", (unsigned long long)va,
			 (unsigned long long)pdpte);
	pde = test_mem_read64(t, (pdpte & ~0xfffull) + ((va >> 21) & 511) * 8);
	if ((pde & 0x83) != 0x83)
		fail_msg("walk 0x%llx: expected a present writable 2 MiB PDE, got 0x%llx\n", (unsigned long long)va,
			 (unsigned long long)pde);
	return (pde & ~0x1fffffull) | (va & 0x1fffff);
}

static void test_elf64_page_tables_identity_map_4gib_with_2mib_pages(void **state)
{
	static const uint64_t probes[] = { 0, NB_BOOT_INFO_ADDR, 0x100000, 0x3ffffff, 0x40000000,
					   0xfee00000, 0xffffffff };
	struct test_boot *t = std_kernel(state);
	unsigned i;

	expect_ok(test_boot_prepare(t), &t->err);
	EXPECT_EQ("PML4[0]", NB_BOOT_PDPT_ADDR | 3, test_mem_read64(t, NB_BOOT_PML4_ADDR));
	for (i = 1; i < 512; i++)
		EXPECT_EQ("PML4[1..511]", 0, test_mem_read64(t, NB_BOOT_PML4_ADDR + i * 8));
	for (i = 0; i < NB_BOOT_PD_COUNT; i++)
		EXPECT_EQ("PDPT[0..3]", (NB_BOOT_PD_ADDR + i * 0x1000) | 3, test_mem_read64(t, NB_BOOT_PDPT_ADDR + i * 8));
	EXPECT_EQ("PDPT[4]", 0, test_mem_read64(t, NB_BOOT_PDPT_ADDR + 4 * 8));
	for (i = 0; i < NB_BOOT_PD_COUNT * 512; i++)
		EXPECT_EQ("PD entry", (uint64_t)i << 21 | 0x83, test_mem_read64(t, NB_BOOT_PD_ADDR + i * 8));
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		EXPECT_EQ("identity translation", probes[i], walk_identity_map(t, probes[i]));
}

static void test_elf64_boot_info_describes_the_machine(void **state)
{
	struct test_boot *t = std_kernel(state);
	struct nb_boot_info bi;

	t->req.options = "depth=3 trace=on";
	t->req.level = 2;
	t->req.vm_id = 42;
	expect_ok(test_boot_prepare(t), &t->err);
	bi = read_boot_info(t);
	EXPECT_EQ("magic", NB_BOOT_MAGIC, bi.magic);
	EXPECT_EQ("version", NB_BOOT_VERSION, bi.version);
	EXPECT_EQ("size", sizeof(struct nb_boot_info), bi.size);
	EXPECT_EQ("mem_size", TEST_MEM_SIZE, bi.mem_size);
	EXPECT_EQ("free_start (page after the kernel)", STD_END, bi.free_start);
	EXPECT_EQ("free_end (ring start)", RING_START, bi.free_end);
	EXPECT_EQ("level", 2, bi.level);
	EXPECT_EQ("vm_id", 42, bi.vm_id);
	EXPECT_EQ("console_port", NB_PORT_COM1, bi.console_port);
	EXPECT_EQ("hypercall_port", NB_PORT_HYPERCALL, bi.hypercall_port);
	EXPECT_EQ("exit_port", NB_PORT_DEBUG_EXIT, bi.exit_port);
	EXPECT_STR("options", "depth=3 trace=on", bi.options);
	EXPECT_EQ("module_count", 0, bi.module_count);
	EXPECT_EQ("plan free_start", STD_END, t->plan.free_start);
	EXPECT_EQ("plan free_end", RING_START, t->plan.free_end);
}

static void test_elf64_low_area_is_cleared(void **state)
{
	struct test_boot *t = std_kernel(state);

	expect_ok(test_boot_prepare(t), &t->err);
	expect_mem_zero(t, "below the GDT", 0, NB_BOOT_GDT_ADDR);
	expect_mem_zero(t, "Multiboot area, boot stack and the rest of the low area", NB_BOOT_MBI_ADDR,
			0x100000 - NB_BOOT_MBI_ADDR);
}

static void test_elf64_modules_load_page_aligned_after_kernel(void **state)
{
	struct test_boot *t = std_kernel(state);
	static const size_t lens[3] = { 5000, 4096, 1 };
	static const char *const names[3] = { "nbvmm", "guest.elf", "x" };
	static const char *const args[3] = { "level=2", "", NULL };
	static const uint64_t want_addr[3] = { STD_END, STD_END + 0x2000, STD_END + 0x3000 };
	struct nb_boot_module_data mods[3];
	uint8_t *data[3];
	struct nb_boot_info bi;
	int i;

	for (i = 0; i < 3; i++) {
		data[i] = malloc(lens[i]);
		assert_non_null(data[i]);
		memset(data[i], 0x40 + i, lens[i]);
		mods[i] = (struct nb_boot_module_data){ names[i], args[i], data[i], lens[i] };
	}
	t->req.modules = mods;
	t->req.module_count = 3;
	expect_ok(test_boot_prepare(t), &t->err);
	bi = read_boot_info(t);
	EXPECT_EQ("boot info module_count", 3, bi.module_count);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ("plan module_addr", want_addr[i], t->plan.module_addr[i]);
		EXPECT_EQ("boot info module addr", want_addr[i], bi.modules[i].addr);
		EXPECT_EQ("boot info module size", lens[i], bi.modules[i].size);
		EXPECT_STR("boot info module name", names[i], bi.modules[i].name);
		EXPECT_STR("boot info module args", args[i] ? args[i] : "", bi.modules[i].args);
		expect_mem(t, "module bytes", want_addr[i], data[i], lens[i]);
		free(data[i]);
	}
	EXPECT_EQ("free_start (page after the last module)", STD_END + 0x4000, bi.free_start);
	EXPECT_EQ("unused module slot", 0, bi.modules[3].addr);
}

static void test_elf64_trace_ring_is_at_top_of_ram_rounded_to_pages(void **state)
{
	struct test_boot *t = std_kernel(state);
	struct nb_boot_info bi;

	t->req.ring_bytes = 100000; /* 0x186a0: rounds up to 0x19000 */
	expect_ok(test_boot_prepare(t), &t->err);
	bi = read_boot_info(t);
	EXPECT_EQ("plan ring_size", 0x19000, t->plan.ring_size);
	EXPECT_EQ("plan ring_addr", TEST_MEM_SIZE - 0x19000, t->plan.ring_addr);
	EXPECT_EQ("plan free_end", TEST_MEM_SIZE - 0x19000, t->plan.free_end);
	EXPECT_EQ("boot info trace_ring_addr", TEST_MEM_SIZE - 0x19000, bi.trace_ring_addr);
	EXPECT_EQ("boot info trace_ring_size", 0x19000, bi.trace_ring_size);
	EXPECT_EQ("boot info free_end", TEST_MEM_SIZE - 0x19000, bi.free_end);
}

static void test_elf64_no_trace_ring_when_ring_bytes_is_zero(void **state)
{
	struct test_boot *t = std_kernel(state);
	struct nb_boot_info bi;

	t->req.ring_bytes = 0;
	expect_ok(test_boot_prepare(t), &t->err);
	bi = read_boot_info(t);
	EXPECT_EQ("plan ring_addr", 0, t->plan.ring_addr);
	EXPECT_EQ("plan ring_size", 0, t->plan.ring_size);
	EXPECT_EQ("boot info trace_ring_addr", 0, bi.trace_ring_addr);
	EXPECT_EQ("boot info trace_ring_size", 0, bi.trace_ring_size);
	EXPECT_EQ("boot info free_end (all of RAM)", TEST_MEM_SIZE, bi.free_end);
}

static void test_elf64_kernel_may_end_exactly_at_the_ring(void **state)
{
	struct test_boot *t = *state;
	struct test_seg segs[] = {
		{ .paddr = 0x100000, .filesz = 0x10, .memsz = RING_START - 0x100000, .flags = PF_R | PF_X },
	};

	test_elf_build(&t->img, ELFCLASS64, 0x100000, segs, 1, 0);
	expect_ok(test_boot_prepare(t), &t->err);
	EXPECT_EQ("free_start", RING_START, t->plan.free_start);
	EXPECT_EQ("free_end", RING_START, t->plan.free_end);
}

static void test_elf64_with_multiboot_header_boots_nestbed_protocol(void **state)
{
	struct test_boot *t = std_kernel(state);

	test_put_multiboot_header(t->img.data + t->img.seg_offset[0] + 0x20, 0x3, NULL);
	expect_ok(test_boot_prepare(t), &t->err);
	EXPECT_EQ("mode", NB_BOOT_MODE_LONG64, t->plan.mode);
	EXPECT_EQ("rdi", NB_BOOT_INFO_ADDR, t->plan.rdi);
}

/* ---- malformed images ---- */

static void test_empty_image_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	t->img.len = 0;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "guest image '/images/kernel.elf': ", "empty",
		     NULL);
}

static void test_bad_magic_without_multiboot_header_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	t->img.data[3] = 'X';
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "not an ELF file (starts with 7f 45 4c 58)",
		     "no Multiboot header", NULL);
}

static void test_unknown_elf_class_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	t->img.data[EI_CLASS] = 3;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "unsupported ELF class 3", NULL);
}

static void test_elf32_without_multiboot_header_is_rejected(void **state)
{
	struct test_boot *t = *state;
	struct test_seg segs[] = { { .paddr = 0x100000, .filesz = 0x100, .memsz = 0x100, .flags = PF_R | PF_X } };

	test_elf_build(&t->img, ELFCLASS32, 0x100000, segs, 1, 0);
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "not an x86-64 ELF (a 32-bit ELF, e_machine 3) and no Multiboot header", NULL);
}

static void test_elf64_wrong_machine_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	ehdr(t)->e_machine = EM_386;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "guest image '/images/kernel.elf': not an x86-64 ELF (e_machine 3)", NULL);
}

static void test_elf64_big_endian_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	t->img.data[EI_DATA] = ELFDATA2MSB;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "not a little-endian ELF (EI_DATA 2)", NULL);
}

static void test_elf64_relocatable_object_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	ehdr(t)->e_type = ET_REL;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "not an executable ELF (e_type 1)", NULL);
}

static void test_elf64_self_relocating_kernel_loads_as_linked(void **state)
{
	struct test_boot *t = std_kernel(state);

	ehdr(t)->e_type = ET_DYN;
	expect_ok(test_boot_prepare(t), &t->err);
	if (t->plan.rip != ehdr(t)->e_entry)
		fail_msg("a static PIE is entered at e_entry as linked: expected 0x%llx, got 0x%llx",
			 (unsigned long long)ehdr(t)->e_entry, (unsigned long long)t->plan.rip);
}

static void test_elf64_program_with_interpreter_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	ehdr(t)->e_type = ET_DYN;
	phdr(t, 1)->p_type = PT_INTERP;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "a dynamically linked program (PT_INTERP)", NULL);
}

static void test_elf64_bad_phentsize_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	ehdr(t)->e_phentsize = 32;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "bad e_phentsize 32 (expected 56)", NULL);
}

static void test_elf64_phoff_past_end_of_file_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	ehdr(t)->e_phoff = t->img.len + 8;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "truncated: program header table at offset",
		     "past the end of the file", NULL);
}

static void test_elf64_phoff_near_2_64_does_not_wrap(void **state)
{
	struct test_boot *t = std_kernel(state);

	ehdr(t)->e_phoff = UINT64_MAX - 8;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "program header table at offset 0xfffffffffffffff7",
		     NULL);
}

static void test_elf64_truncated_elf_header_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	t->img.len = 40;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "truncated: the ELF header needs 64 bytes, the file has 40", NULL);
}

static void test_elf64_truncated_program_header_is_rejected(void **state)
{
	struct test_boot *t = *state;
	struct test_seg segs[3] = { std_segs[0], std_segs[1],
				    { .paddr = 0x200000, .filesz = 0x10, .memsz = 0x10, .flags = PF_R } };

	test_elf_build(&t->img, ELFCLASS64, STD_ENTRY, segs, 3, 0);
	t->img.len = 64 + 2 * 56 + 10; /* program header 2 starts at 0xb0, the file ends at 0xba */
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "truncated: program header 2 extends past end of file (offset 0xb0 + 0x38 > 0xba)", NULL);
}

static void test_elf64_truncated_segment_data_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	t->img.len = t->img.seg_offset[1] + 0x80;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "truncated: segment 1 data extends past end of file",
		     NULL);
}

static void test_elf64_segment_offset_near_2_64_does_not_wrap(void **state)
{
	struct test_boot *t = std_kernel(state);

	phdr(t, 1)->p_offset = UINT64_MAX - 0x10;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "truncated: segment 1 data extends past end of file (offset 0xffffffffffffffef + 0x100", NULL);
}

static void test_elf64_filesz_larger_than_memsz_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	phdr(t, 1)->p_memsz = 0x80;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "segment 1 has p_filesz 0x100 larger than p_memsz 0x80", NULL);
}

static void test_elf64_overlapping_segments_are_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	phdr(t, 1)->p_paddr = 0x101000; /* segment 0 covers 0x100000 - 0x101800 */
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "segment 0 and segment 1 overlap (0x100000 - 0x101800 and 0x101000 - 0x104000)", NULL);
}

static void test_elf64_segment_in_reserved_low_area_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	phdr(t, 1)->p_paddr = 0x9f000;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "segment 1 at 0x9f000 - 0xa2000 overlaps the reserved low area below 0x100000", NULL);
}

static void test_elf64_segment_larger_than_memory_fails_with_nomem(void **state)
{
	struct test_boot *t = std_kernel(state);

	phdr(t, 1)->p_memsz = 128 * TEST_MIB;
	expect_error(test_boot_prepare(t), &t->err, NB_E_NOMEM,
		     "segment 1 at 0x102000 - 0x8102000 does not fit in guest memory (64 MiB)", NULL);
}

static void test_elf64_segment_address_wrapping_2_64_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	phdr(t, 1)->p_paddr = 0xfffffffffffff000ull;
	phdr(t, 1)->p_memsz = 0x2000;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "segment 1 at 0xfffffffffffff000 + 0x2000 wraps around the 64-bit address space", NULL);
}

static void test_elf64_segment_overlapping_trace_ring_fails_with_nomem(void **state)
{
	struct test_boot *t = std_kernel(state);

	phdr(t, 1)->p_paddr = RING_START - 0x1000;
	expect_error(test_boot_prepare(t), &t->err, NB_E_NOMEM, "overlaps the trace ring at 0x3f00000 - 0x4000000",
		     NULL);
}

static void test_elf64_entry_outside_segments_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	ehdr(t)->e_entry = 0x200000;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE,
		     "entry point 0x200000 is not inside the loaded bytes of an executable segment", NULL);
}

static void test_elf64_entry_in_non_executable_segment_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	ehdr(t)->e_entry = 0x102010;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "entry point 0x102010 is not inside", NULL);
}

static void test_elf64_without_load_segments_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	phdr(t, 0)->p_type = PT_NOTE;
	phdr(t, 1)->p_type = PT_GNU_STACK;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "no loadable segments", NULL);
}

static void test_elf64_without_program_headers_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	ehdr(t)->e_phnum = 0;
	expect_error(test_boot_prepare(t), &t->err, NB_E_IMAGE, "no loadable segments (no program headers)", NULL);
}

/* ---- what the caller asks for ---- */

static void test_too_many_modules_are_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);
	struct nb_boot_module_data mods[NB_BOOT_MAX_MODULES + 1];
	static const uint8_t byte = 1;
	int i;

	for (i = 0; i <= NB_BOOT_MAX_MODULES; i++)
		mods[i] = (struct nb_boot_module_data){ "m", "", &byte, 1 };
	t->req.modules = mods;
	t->req.module_count = NB_BOOT_MAX_MODULES + 1;
	expect_error(test_boot_prepare(t), &t->err, NB_E_USAGE, "too many modules: 17 given, at most 16", NULL);
}

static void test_module_name_of_32_characters_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);
	static const uint8_t byte = 1;
	struct nb_boot_module_data mod = { "abcdefghijklmnopqrstuvwxyz012345", "", &byte, 1 };

	t->req.modules = &mod;
	t->req.module_count = 1;
	expect_error(test_boot_prepare(t), &t->err, NB_E_USAGE,
		     "module name 'abcdefghijklmnopqrstuvwxyz012345' is 32 characters long, at most 31", NULL);
}

static void test_module_args_of_128_characters_are_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);
	static const uint8_t byte = 1;
	char args[129];
	struct nb_boot_module_data mod = { "guest", args, &byte, 1 };

	memset(args, 'a', 128);
	args[128] = 0;
	t->req.modules = &mod;
	t->req.module_count = 1;
	expect_error(test_boot_prepare(t), &t->err, NB_E_USAGE,
		     "arguments of module 'guest' are 128 characters long, at most 127", NULL);
}

static void test_module_without_name_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);
	static const uint8_t byte = 1;
	struct nb_boot_module_data mods[2] = { { "a", NULL, &byte, 1 }, { "", NULL, &byte, 1 } };

	t->req.modules = mods;
	t->req.module_count = 2;
	expect_error(test_boot_prepare(t), &t->err, NB_E_USAGE, "module 1 has no name", NULL);
}

static void test_options_up_to_255_characters_are_accepted_and_256_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);
	char options[257];
	struct nb_boot_info bi;

	memset(options, 'o', 256);
	options[255] = 0;
	t->req.options = options;
	expect_ok(test_boot_prepare(t), &t->err);
	bi = read_boot_info(t);
	EXPECT_STR("options", options, bi.options);
	options[255] = 'o';
	options[256] = 0;
	expect_error(test_boot_prepare(t), &t->err, NB_E_USAGE, "options for guest image '/images/kernel.elf'",
		     "256 characters long, at most 255", NULL);
}

static void test_modules_beyond_memory_fail_with_nomem(void **state)
{
	struct test_boot *t = std_kernel(state);
	size_t len = TEST_MEM_SIZE - STD_END - TEST_MIB + 1; /* one byte more than fits below the ring */
	uint8_t *data = malloc(len);
	struct nb_boot_module_data mod = { "big", "", data, len };

	assert_non_null(data);
	t->req.modules = &mod;
	t->req.module_count = 1;
	expect_error(test_boot_prepare(t), &t->err, NB_E_NOMEM, "module 'big'", "does not fit in guest memory",
		     "would start at 0x105000", "ends at 0x3f00000", "trace ring takes the top 1 MiB", NULL);
	mod.len = len - 1;
	memset(data, 0x5a, mod.len);
	expect_ok(test_boot_prepare(t), &t->err);
	EXPECT_EQ("free_start (all memory up to the ring used)", RING_START, t->plan.free_start);
	free(data);
}

static void test_memory_smaller_than_low_area_fails_with_nomem(void **state)
{
	struct test_boot *t = std_kernel(state);

	t->mem.size = 512 * 1024;
	expect_error(test_boot_prepare(t), &t->err, NB_E_NOMEM, "guest memory of 512 KiB is too small", NULL);
}

static void test_memory_too_small_for_kernel_fails_with_nomem(void **state)
{
	struct test_boot *t = std_kernel(state);

	t->mem.size = 0x102000; /* 1 MiB + 8 KiB: segment 0 fits, segment 1 does not */
	t->req.ring_bytes = 0;
	expect_error(test_boot_prepare(t), &t->err, NB_E_NOMEM,
		     "segment 1 at 0x102000 - 0x105000 does not fit in guest memory (1032 KiB)", NULL);
}

static void test_ring_larger_than_memory_fails_with_nomem(void **state)
{
	struct test_boot *t = std_kernel(state);

	t->req.ring_bytes = TEST_MEM_SIZE;
	expect_error(test_boot_prepare(t), &t->err, NB_E_NOMEM, "trace ring of 64 MiB does not fit in guest memory of 64 MiB",
		     NULL);
	t->req.ring_bytes = UINT64_MAX; /* rounding up to a page must not wrap to 0 */
	expect_error(test_boot_prepare(t), &t->err, NB_E_NOMEM, "does not fit in guest memory of 64 MiB", NULL);
}

static void test_memory_of_4gib_or_more_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	t->mem.size = 4ull << 30; /* checked before any access: the 64 MiB buffer is enough */
	expect_error(test_boot_prepare(t), &t->err, NB_E_USAGE, "guest memory of 4096 MiB: must end below 4 GiB",
		     NULL);
	t->mem.size = 8ull << 30;
	expect_error(test_boot_prepare(t), &t->err, NB_E_USAGE, "guest memory of 8192 MiB: must end below 4 GiB",
		     NULL);
}

static void test_memory_size_not_page_multiple_is_rejected(void **state)
{
	struct test_boot *t = std_kernel(state);

	t->mem.size = TEST_MEM_SIZE - 100;
	expect_error(test_boot_prepare(t), &t->err, NB_E_USAGE, "is not a multiple of 4 KiB", NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_boot_setup, test_boot_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_elf64_segments_load_at_paddr_and_bss_is_zeroed),
		T(test_elf64_plan_enters_long_mode_at_entry),
		T(test_elf64_gdt_has_flat_code_and_data_descriptors),
		T(test_elf64_page_tables_identity_map_4gib_with_2mib_pages),
		T(test_elf64_boot_info_describes_the_machine),
		T(test_elf64_low_area_is_cleared),
		T(test_elf64_modules_load_page_aligned_after_kernel),
		T(test_elf64_trace_ring_is_at_top_of_ram_rounded_to_pages),
		T(test_elf64_no_trace_ring_when_ring_bytes_is_zero),
		T(test_elf64_kernel_may_end_exactly_at_the_ring),
		T(test_elf64_with_multiboot_header_boots_nestbed_protocol),
		T(test_empty_image_is_rejected),
		T(test_bad_magic_without_multiboot_header_is_rejected),
		T(test_unknown_elf_class_is_rejected),
		T(test_elf32_without_multiboot_header_is_rejected),
		T(test_elf64_wrong_machine_is_rejected),
		T(test_elf64_big_endian_is_rejected),
		T(test_elf64_relocatable_object_is_rejected),
		T(test_elf64_self_relocating_kernel_loads_as_linked),
		T(test_elf64_program_with_interpreter_is_rejected),
		T(test_elf64_bad_phentsize_is_rejected),
		T(test_elf64_phoff_past_end_of_file_is_rejected),
		T(test_elf64_phoff_near_2_64_does_not_wrap),
		T(test_elf64_truncated_elf_header_is_rejected),
		T(test_elf64_truncated_program_header_is_rejected),
		T(test_elf64_truncated_segment_data_is_rejected),
		T(test_elf64_segment_offset_near_2_64_does_not_wrap),
		T(test_elf64_filesz_larger_than_memsz_is_rejected),
		T(test_elf64_overlapping_segments_are_rejected),
		T(test_elf64_segment_in_reserved_low_area_is_rejected),
		T(test_elf64_segment_larger_than_memory_fails_with_nomem),
		T(test_elf64_segment_address_wrapping_2_64_is_rejected),
		T(test_elf64_segment_overlapping_trace_ring_fails_with_nomem),
		T(test_elf64_entry_outside_segments_is_rejected),
		T(test_elf64_entry_in_non_executable_segment_is_rejected),
		T(test_elf64_without_load_segments_is_rejected),
		T(test_elf64_without_program_headers_is_rejected),
		T(test_too_many_modules_are_rejected),
		T(test_module_name_of_32_characters_is_rejected),
		T(test_module_args_of_128_characters_are_rejected),
		T(test_module_without_name_is_rejected),
		T(test_options_up_to_255_characters_are_accepted_and_256_rejected),
		T(test_modules_beyond_memory_fail_with_nomem),
		T(test_memory_smaller_than_low_area_fails_with_nomem),
		T(test_memory_too_small_for_kernel_fails_with_nomem),
		T(test_ring_larger_than_memory_fails_with_nomem),
		T(test_memory_of_4gib_or_more_is_rejected),
		T(test_memory_size_not_page_multiple_is_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
