/*
 * Fuzz harness: the guest loader of L0 (l0/boot_loader.c, elf_loader.c, multiboot_loader.c,
 * boot_info.c, boot_cpu_state.c): ELF64 kernels on the nestbed protocol, Multiboot kernels as
 * 32-bit ELFs or a.out-kludge images. The image file is untrusted.
 *
 * Input: a small request (memory size, trace ring, modules, options, level), then the image.
 * Checked, beyond "no crash and no access outside the image or guest memory":
 *   - a refused image gets a message and an error code, and guest memory above the reserved low
 *     area is untouched (the loader checks everything before it writes);
 *   - an accepted one is laid out as boot.h says: the kernel at or above 1 MiB, the entry point
 *     inside it, modules page-aligned after it with their bytes, the free range after them, the
 *     trace ring at the top of RAM, nothing overlapping, nothing beyond the memory;
 *   - the boot info L0 writes for a nestbed-protocol kernel passes the check the guest library
 *     (and nbvmm) makes on it, and says what was loaded; a Multiboot kernel gets EAX = the
 *     boot-loader magic and EBX inside the reserved area.
 */
#include <elf.h>
#include <string.h>

#include "guests/lib/nbkernel.h"
#include "l0/boot_loader.h"
#include "tests/fuzz/fuzz.h"

#define MIB (1024ull * 1024)
#define MAX_MEM (5 * MIB)
#define PATTERN 0xaa

static uint8_t guest[MAX_MEM + 0x800];
static uint8_t module_bytes[0x10000];

static uint64_t round_page(uint64_t v)
{
	return (v + 4095) & ~4095ull;
}

static bool untouched(uint64_t from, uint64_t to)
{
	static uint8_t pattern[0x10000];
	uint64_t n;

	if (!pattern[0])
		memset(pattern, PATTERN, sizeof(pattern));
	for (; from < to; from += n) {
		n = to - from < sizeof(pattern) ? to - from : sizeof(pattern);
		if (memcmp(guest + from, pattern, n))
			return false;
	}
	return true;
}

static void check_loaded(const struct nb_guest_mem *mem, const struct nb_boot_request *req,
			 const struct nb_boot_plan *plan, bool elf64)
{
	uint64_t end;
	int i;

	FUZZ_CHECK(plan->mode == (elf64 ? NB_BOOT_MODE_LONG64 : NB_BOOT_MODE_PROTECTED32),
		   "mode %d for %s image", plan->mode, elf64 ? "an ELF64" : "a Multiboot");
	FUZZ_CHECK(plan->kernel_start >= NB_BOOT_KERNEL_MIN && plan->kernel_start < plan->kernel_end,
		   "kernel at %#llx - %#llx", (unsigned long long)plan->kernel_start,
		   (unsigned long long)plan->kernel_end);
	FUZZ_CHECK(plan->rip >= plan->kernel_start && plan->rip < plan->kernel_end,
		   "entry %#llx outside the kernel", (unsigned long long)plan->rip);
	FUZZ_CHECK(plan->kernel_end <= plan->free_start && plan->free_start <= plan->free_end &&
			   plan->free_end <= mem->size && plan->free_start % 4096 == 0,
		   "kernel end %#llx, free %#llx - %#llx, memory %#llx", (unsigned long long)plan->kernel_end,
		   (unsigned long long)plan->free_start, (unsigned long long)plan->free_end,
		   (unsigned long long)mem->size);
	if (elf64 && req->ring_bytes) {
		FUZZ_CHECK(plan->ring_size == round_page(req->ring_bytes) && plan->ring_addr == plan->free_end &&
				   plan->ring_addr + plan->ring_size == mem->size,
			   "ring %#llx + %#llx for %llu bytes", (unsigned long long)plan->ring_addr,
			   (unsigned long long)plan->ring_size, (unsigned long long)req->ring_bytes);
	} else {
		FUZZ_CHECK(plan->ring_addr == 0 && plan->ring_size == 0 && plan->free_end == mem->size,
			   "a ring where none was asked for");
	}
	end = plan->kernel_end;
	for (i = 0; i < req->module_count; i++) {
		const struct nb_boot_module_data *m = &req->modules[i];
		uint64_t a = plan->module_addr[i];

		FUZZ_CHECK(a % 4096 == 0 && a >= end && a + m->len <= plan->free_start,
			   "module %d at %#llx + %zu (previous end %#llx, free from %#llx)", i,
			   (unsigned long long)a, m->len, (unsigned long long)end,
			   (unsigned long long)plan->free_start);
		FUZZ_CHECK(memcmp(mem->host + a, m->data, m->len) == 0, "module %d's bytes", i);
		end = a + m->len;
	}
	if (elf64) {
		const struct nb_boot_info *bi = (const void *)(mem->host + NB_BOOT_INFO_ADDR);
		int r = nb_boot_check(bi);

		FUZZ_CHECK(plan->rdi == NB_BOOT_INFO_ADDR, "RDI %#llx", (unsigned long long)plan->rdi);
		FUZZ_CHECK(r == NB_BOOT_OK, "the guest refuses L0's boot info: %s", nb_boot_strerror(r));
		FUZZ_CHECK(bi->mem_size == mem->size && bi->free_start == plan->free_start &&
				   bi->free_end == plan->free_end && bi->trace_ring_addr == plan->ring_addr &&
				   bi->trace_ring_size == plan->ring_size && bi->level == req->level &&
				   (int)bi->module_count == req->module_count &&
				   strcmp(bi->options, req->options ? req->options : "") == 0,
			   "the boot info does not say what was loaded");
		for (i = 0; i < req->module_count; i++)
			FUZZ_CHECK(bi->modules[i].addr == plan->module_addr[i] &&
					   bi->modules[i].size == req->modules[i].len &&
					   strcmp(bi->modules[i].name, req->modules[i].name) == 0 &&
					   strcmp(bi->modules[i].args, req->modules[i].args ? req->modules[i].args : "") == 0,
				   "boot info module %d", i);
	} else {
		FUZZ_CHECK(plan->rax == 0x2badb002u && plan->rbx >= NB_BOOT_MBI_ADDR &&
				   plan->rbx < NB_BOOT_STACK_BASE,
			   "Multiboot entry EAX %#llx EBX %#llx", (unsigned long long)plan->rax,
			   (unsigned long long)plan->rbx);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const args[4] = { NULL, "", "mem=64 ring=128", "x" };
	static char options[300];
	struct fuzz_in in = fuzz_in(data, size);
	struct nb_boot_module_data mods[4];
	char names[4][40];
	struct nb_guest_mem mem;
	struct nb_boot_request req;
	struct nb_boot_plan plan;
	struct nb_error err = { 0 };
	uint8_t msel = fuzz_u8(&in), rsel = fuzz_u8(&in), modsel = fuzz_u8(&in), osel = fuzz_u8(&in);
	bool elf64;
	int i, rc;

	memset(&req, 0, sizeof(req));
	mem.host = guest;
	mem.size = (2 + (msel & 3)) * MIB + ((msel & 0x80) ? 0x800 : 0);
	req.ring_bytes = rsel ? (uint64_t)rsel * 8192 - ((rsel & 1) ? 100 : 0) : 0;
	req.level = 1 + (modsel >> 6);
	req.vm_id = 1;
	req.module_count = modsel & 3;
	memset(options, 0, sizeof(options));
	if (osel) /* up to 255 characters; 255 stands for one too many */
		memset(options, 'o', osel == 255 ? 256 : osel);
	req.options = (osel & 1) ? NULL : options;
	req.image_name = "fuzz.elf";
	for (i = 0; i < req.module_count; i++) {
		uint16_t len = fuzz_u16(&in);

		snprintf(names[i], sizeof(names[i]), "%s%d", (len & 0x8000) ? "module-with-a-long-name-" : "m", i);
		mods[i].name = names[i];
		mods[i].args = args[len & 3];
		mods[i].len = (len & 0x7ff0) * 37u;
		mods[i].data = module_bytes;
		if (mods[i].len > sizeof(module_bytes))
			mods[i].len = sizeof(module_bytes);
	}
	req.modules = mods;
	req.image = in.p;
	req.image_len = in.n;
	elf64 = in.n > EI_CLASS && memcmp(in.p, ELFMAG, SELFMAG) == 0 && in.p[EI_CLASS] == ELFCLASS64;

	if (!module_bytes[0])
		for (i = 0; i < (int)sizeof(module_bytes); i++)
			module_bytes[i] = (uint8_t)(i * 7 + 1);
	memset(guest, 0x55, NB_BOOT_KERNEL_MIN);
	memset(guest + NB_BOOT_KERNEL_MIN, PATTERN, mem.size - NB_BOOT_KERNEL_MIN);
	rc = nb_boot_prepare(&mem, &req, &plan, &err);
	if (rc == 0) {
		check_loaded(&mem, &req, &plan, elf64);
		return 0;
	}
	FUZZ_CHECK(rc < 0 && rc == -err.code && err.code >= NB_E_USAGE && err.code <= NB_E_INTERNAL,
		   "result %d, error code %d", rc, err.code);
	FUZZ_CHECK(err.msg[0] && memchr(err.msg, 0, sizeof(err.msg)), "no message");
	FUZZ_CHECK(untouched(NB_BOOT_KERNEL_MIN, mem.size), "a refused image (%s) wrote above 1 MiB", err.msg);
	return 0;
}
