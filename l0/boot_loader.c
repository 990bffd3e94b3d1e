/*
 * nb_boot_prepare: from an image and its modules to guest memory and the vCPU state to enter it.
 *
 * The image is untrusted input. It is parsed (elf_loader.c, multiboot_loader.c) into segments
 * whose every field has been checked against the file and for overflow; this file then lays the
 * segments, the modules and the trace ring out in guest memory, checks that none of them overlaps
 * another or the reserved low area, and only then writes anything.
 *
 * Guest-physical map after a nestbed-protocol boot:
 *   [0, 1 MiB)              reserved low area: GDT, page tables, boot info, boot stack (boot.h)
 *   [kernel_start, kernel_end)   the PT_LOAD segments
 *   page-aligned modules, one after the other
 *   [free_start, free_end)  the kernel's to use
 *   [free_end, mem_size)    the trace ring (absent when ring_bytes is 0)
 * A Multiboot boot has the same map without the ring, and the Multiboot information structure in
 * the low area.
 */
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "l0/boot_internal.h"
#include "l0/multiboot.h"

_Static_assert(sizeof(((struct nb_boot_plan *)0)->module_addr) / sizeof(uint64_t) >= NB_BOOT_MAX_MODULES,
	       "the plan has an address for every module the boot info can describe");

int nb_boot_fail(const struct nb_boot_ctx *ctx, int code, const char *fmt, ...)
{
	char msg[NB_ERRMSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return nb_error_set(ctx->err, code, "guest image '%s': %s", ctx->name, msg);
}

const char *nb_boot_size_str(uint64_t bytes, char buf[32])
{
	if (bytes && bytes % NB_MIB == 0)
		snprintf(buf, 32, "%llu MiB", (unsigned long long)(bytes / NB_MIB));
	else if (bytes && bytes % 1024 == 0)
		snprintf(buf, 32, "%llu KiB", (unsigned long long)(bytes / 1024));
	else
		snprintf(buf, 32, "%llu bytes", (unsigned long long)bytes);
	return buf;
}

/* What the caller asked for, before looking at the image: memory, modules. */
static int boot_check_request(const struct nb_boot_ctx *ctx)
{
	const struct nb_boot_request *req = ctx->req;
	uint64_t size = ctx->mem->size;
	char s[32];
	int i;

	if (size % NB_PAGE_SIZE)
		return nb_error_set(ctx->err, NB_E_USAGE,
				    "guest memory size %llu is not a multiple of 4 KiB",
				    (unsigned long long)size);
	/* The identity map covers 4 GiB (NB_BOOT_PD_COUNT page directories) and a Multiboot kernel
	 * is given 32-bit addresses (a module ending at 4 GiB would have mod_end 0): RAM must end
	 * below 4 GiB to be both mapped and described. */
	if (size >= 4 * NB_GIB)
		return nb_error_set(ctx->err, NB_E_USAGE,
				    "guest memory of %s: must end below 4 GiB, the limit of the boot page tables and of Multiboot's 32-bit addresses",
				    nb_boot_size_str(size, s));
	if (size <= NB_BOOT_KERNEL_MIN)
		return nb_error_set(ctx->err, NB_E_NOMEM,
				    "guest memory of %s is too small: the reserved low area alone takes the first 1 MiB",
				    nb_boot_size_str(size, s));
	if (req->module_count > NB_BOOT_MAX_MODULES)
		return nb_error_set(ctx->err, NB_E_USAGE, "too many modules: %d given, at most %d",
				    req->module_count, NB_BOOT_MAX_MODULES);
	if (req->module_count < 0 || (req->module_count && !req->modules))
		return nb_error_set(ctx->err, NB_E_INTERNAL, "nb_boot_prepare: %d modules, module array %p",
				    req->module_count, (const void *)req->modules);
	for (i = 0; i < req->module_count; i++) {
		const struct nb_boot_module_data *m = &req->modules[i];
		size_t args_len = m->args ? strlen(m->args) : 0;

		if (!m->name || !m->name[0])
			return nb_error_set(ctx->err, NB_E_USAGE, "module %d has no name", i);
		if (strlen(m->name) >= NB_BOOT_NAME_LEN)
			return nb_error_set(ctx->err, NB_E_USAGE,
					    "module name '%s' is %zu characters long, at most %d",
					    m->name, strlen(m->name), NB_BOOT_NAME_LEN - 1);
		if (args_len >= NB_BOOT_ARGS_LEN)
			return nb_error_set(ctx->err, NB_E_USAGE,
					    "arguments of module '%s' are %zu characters long, at most %d",
					    m->name, args_len, NB_BOOT_ARGS_LEN - 1);
		if (m->len && !m->data)
			return nb_error_set(ctx->err, NB_E_INTERNAL, "nb_boot_prepare: module '%s' has no data",
					    m->name);
	}
	return 0;
}

/* Format detection. A 64-bit ELF is always taken as a nestbed-protocol kernel, even when it also
 * carries a Multiboot header: it was built for long mode. Everything else must be Multiboot. */
static int boot_parse_image(const struct nb_boot_ctx *ctx, struct nb_boot_image *img)
{
	const uint8_t *p = ctx->req->image;
	size_t len = ctx->req->image_len;
	int is_elf = len >= SELFMAG && memcmp(p, ELFMAG, SELFMAG) == 0;
	unsigned elf_class = is_elf && len > EI_CLASS ? p[EI_CLASS] : ELFCLASSNONE;
	int rc;

	if (elf_class == ELFCLASS64) {
		img->mode = NB_BOOT_MODE_LONG64;
		return nb_elf_parse(ctx, ELFCLASS64, img);
	}
	rc = nb_multiboot_parse(ctx, img);
	if (rc != NB_MULTIBOOT_ABSENT)
		return rc;
	if (elf_class == ELFCLASS32)
		return nb_boot_fail(ctx, NB_E_IMAGE,
				    "not an x86-64 ELF (a 32-bit ELF, e_machine %u) and no Multiboot header in its first %d bytes",
				    len >= 20 ? (unsigned)(p[18] | p[19] << 8) : 0u, MULTIBOOT_SEARCH);
	if (is_elf)
		return nb_boot_fail(ctx, NB_E_IMAGE, "unsupported ELF class %u (expected %u, 64-bit)",
				    elf_class, ELFCLASS64);
	return nb_boot_fail(ctx, NB_E_IMAGE,
			    "not an ELF file (starts with %02x %02x %02x %02x) and no Multiboot header in its first %d bytes",
			    len > 0 ? p[0] : 0, len > 1 ? p[1] : 0, len > 2 ? p[2] : 0, len > 3 ? p[3] : 0,
			    MULTIBOOT_SEARCH);
}

/* The ring goes at the very top of RAM so that its address follows from the memory size alone,
 * and everything below it stays one contiguous free range. Multiboot kernels get no ring: they
 * have no boot info to learn where it is. */
static int boot_place_ring(const struct nb_boot_ctx *ctx, enum nb_boot_mode mode, struct nb_boot_plan *plan)
{
	uint64_t mem_size = ctx->mem->size;
	uint64_t ring_bytes = ctx->req->ring_bytes;
	char s1[32], s2[32];

	plan->free_end = mem_size;
	if (mode != NB_BOOT_MODE_LONG64 || ring_bytes == 0)
		return 0;
	/* Compared before rounding so that rounding a huge ring_bytes up cannot overflow. */
	if (ring_bytes > mem_size - NB_BOOT_KERNEL_MIN ||
	    nb_round_up_page(ring_bytes) > mem_size - NB_BOOT_KERNEL_MIN)
		return nb_error_set(ctx->err, NB_E_NOMEM,
				    "trace ring of %s does not fit in guest memory of %s above the reserved low area",
				    nb_boot_size_str(ring_bytes, s1), nb_boot_size_str(mem_size, s2));
	plan->ring_size = nb_round_up_page(ring_bytes);
	plan->ring_addr = mem_size - plan->ring_size;
	plan->free_end = plan->ring_addr;
	return 0;
}

static int boot_check_segments(const struct nb_boot_ctx *ctx, const struct nb_boot_image *img,
			       struct nb_boot_plan *plan)
{
	uint64_t mem_size = ctx->mem->size;
	char s1[32], s2[32];
	unsigned i, j;

	plan->kernel_start = UINT64_MAX;
	plan->kernel_end = 0;
	for (i = 0; i < img->nseg; i++) {
		const struct nb_load_segment *s = &img->seg[i];
		uint64_t end = s->paddr + s->memsz; /* no overflow: checked by the parser */

		if (s->paddr < NB_BOOT_KERNEL_MIN)
			return nb_boot_fail(ctx, NB_E_IMAGE,
					    "%s at 0x%llx - 0x%llx overlaps the reserved low area below 0x%llx",
					    s->label, (unsigned long long)s->paddr, (unsigned long long)end,
					    NB_BOOT_KERNEL_MIN);
		if (end > mem_size)
			return nb_boot_fail(ctx, NB_E_NOMEM,
					    "%s at 0x%llx - 0x%llx does not fit in guest memory (%s)",
					    s->label, (unsigned long long)s->paddr, (unsigned long long)end,
					    nb_boot_size_str(mem_size, s1));
		if (end > plan->free_end)
			return nb_boot_fail(ctx, NB_E_NOMEM,
					    "%s at 0x%llx - 0x%llx overlaps the trace ring at 0x%llx - 0x%llx (guest memory %s, ring %s)",
					    s->label, (unsigned long long)s->paddr, (unsigned long long)end,
					    (unsigned long long)plan->ring_addr, (unsigned long long)mem_size,
					    nb_boot_size_str(mem_size, s1), nb_boot_size_str(plan->ring_size, s2));
		for (j = 0; j < i; j++) {
			const struct nb_load_segment *o = &img->seg[j];

			if (s->paddr < o->paddr + o->memsz && o->paddr < end)
				return nb_boot_fail(ctx, NB_E_IMAGE,
						    "%s and %s overlap (0x%llx - 0x%llx and 0x%llx - 0x%llx)",
						    o->label, s->label, (unsigned long long)o->paddr,
						    (unsigned long long)(o->paddr + o->memsz),
						    (unsigned long long)s->paddr, (unsigned long long)end);
		}
		if (s->paddr < plan->kernel_start)
			plan->kernel_start = s->paddr;
		if (end > plan->kernel_end)
			plan->kernel_end = end;
	}
	return 0;
}

/* Modules follow the kernel, each on its own page (Multiboot's MULTIBOOT_PAGE_ALIGN, and what the
 * boot info promises), so a kernel can map or free them page by page. */
static int boot_place_modules(const struct nb_boot_ctx *ctx, struct nb_boot_plan *plan)
{
	uint64_t addr = nb_round_up_page(plan->kernel_end);
	char s1[32], s2[32], s3[32];
	int i;

	for (i = 0; i < ctx->req->module_count; i++) {
		const struct nb_boot_module_data *m = &ctx->req->modules[i];

		/* addr <= free_end holds: both are page-aligned and kernel_end <= free_end. */
		if (m->len > plan->free_end - addr) {
			char ring_note[64] = "";

			if (plan->ring_size)
				snprintf(ring_note, sizeof(ring_note), ", of which the trace ring takes the top %s",
					 nb_boot_size_str(plan->ring_size, s3));
			return nb_error_set(ctx->err, NB_E_NOMEM,
					    "module '%s' (%s) does not fit in guest memory: it would start at 0x%llx and the memory the kernel may use ends at 0x%llx (guest memory %s%s)",
					    m->name, nb_boot_size_str(m->len, s1), (unsigned long long)addr,
					    (unsigned long long)plan->free_end, nb_boot_size_str(ctx->mem->size, s2),
					    ring_note);
		}
		plan->module_addr[i] = addr;
		addr = nb_round_up_page(addr + m->len);
	}
	plan->free_start = addr;
	return 0;
}

static void boot_copy_kernel_and_modules(const struct nb_boot_ctx *ctx, const struct nb_boot_image *img,
					 const struct nb_boot_plan *plan)
{
	struct nb_guest_mem *mem = ctx->mem;
	unsigned i;
	int m;

	for (i = 0; i < img->nseg; i++) {
		const struct nb_load_segment *s = &img->seg[i];

		nb_guest_write(mem, s->paddr, ctx->req->image + s->offset, s->filesz);
		/* The bss: guest memory may hold anything (a previous run, the host's pattern). */
		memset(mem->host + s->paddr + s->filesz, 0, s->memsz - s->filesz);
	}
	for (m = 0; m < ctx->req->module_count; m++)
		if (ctx->req->modules[m].len)
			nb_guest_write(mem, plan->module_addr[m], ctx->req->modules[m].data,
				       ctx->req->modules[m].len);
}

int nb_boot_prepare(struct nb_guest_mem *mem, const struct nb_boot_request *req,
		    struct nb_boot_plan *plan, struct nb_error *err)
{
	struct nb_boot_ctx ctx = { .mem = mem, .req = req, .err = err };
	struct nb_boot_image img;
	int rc;

	if (!mem || !mem->host || !req || !plan)
		return nb_error_set(err, NB_E_INTERNAL, "nb_boot_prepare: missing memory, request or plan");
	ctx.name = req->image_name ? req->image_name : "(unnamed)";
	if (!req->image || req->image_len == 0)
		return nb_boot_fail(&ctx, NB_E_IMAGE, "the image is empty");
	memset(plan, 0, sizeof(*plan));
	memset(&img, 0, sizeof(img));

	rc = boot_check_request(&ctx);
	if (!rc)
		rc = boot_parse_image(&ctx, &img);
	if (!rc)
		rc = boot_place_ring(&ctx, img.mode, plan);
	if (!rc)
		rc = boot_check_segments(&ctx, &img, plan);
	if (!rc)
		rc = boot_place_modules(&ctx, plan);
	if (rc)
		return rc;

	/* Only now is guest memory written: the low area first, cleared so that what a kernel finds
	 * there does not depend on what the memory held before, then its structures (whose writers
	 * still check the lengths of options and command lines, so a failure touches only the low
	 * area), then the kernel and the modules. */
	memset(mem->host, 0, NB_BOOT_KERNEL_MIN);
	plan->mode = img.mode;
	plan->rip = img.entry;
	plan->rsp = NB_BOOT_STACK_TOP;
	plan->rflags = 0x2; /* bit 1 is reserved and always set; IF clear: interrupts off at entry */
	nb_boot_write_gdt(mem, plan);
	if (img.mode == NB_BOOT_MODE_LONG64) {
		rc = nb_boot_info_write(&ctx, plan);
		if (!rc)
			nb_boot_setup_long_mode(mem, plan);
	} else {
		rc = nb_multiboot_prepare_entry(&ctx, plan);
	}
	if (rc)
		return rc;
	boot_copy_kernel_and_modules(&ctx, &img, plan);
	return 0;
}
