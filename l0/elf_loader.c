/*
 * ELF executables (System V ABI, "ELF-64 Object File Format"): the 64-bit x86-64 kernels of the
 * nestbed protocol and the 32-bit i386 kernels of Multiboot. Both classes are read into one
 * class-neutral form, so the checks are written once. The file is untrusted: every offset and
 * size is checked against the file length, every sum for overflow, before it is used.
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "l0/boot_internal.h"

struct elf_header {
	unsigned data, version; /* e_ident[EI_DATA], e_ident[EI_VERSION] */
	uint16_t type, machine, phentsize, phnum;
	uint64_t entry, phoff;
};

struct elf_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

/* What differs between the two classes. */
struct elf_class_info {
	size_t ehdr_size, phdr_size;
	uint16_t machine;
	const char *machine_name;
	uint64_t addr_space; /* bytes of physical address space the kernel is entered with */
};

static const struct elf_class_info elf64_info = {
	sizeof(Elf64_Ehdr), sizeof(Elf64_Phdr), EM_X86_64, "x86-64", 0,
};
/* A Multiboot kernel runs with paging off in 32-bit mode: nothing above 4 GiB is addressable. */
static const struct elf_class_info elf32_info = {
	sizeof(Elf32_Ehdr), sizeof(Elf32_Phdr), EM_386, "i386", 4 * NB_GIB,
};

/* memcpy: the image buffer need not be aligned for the header structures. */
static void elf_read_header(const uint8_t *p, int elf_class, struct elf_header *h)
{
	h->data = p[EI_DATA];
	h->version = p[EI_VERSION];
	if (elf_class == ELFCLASS64) {
		Elf64_Ehdr e;

		memcpy(&e, p, sizeof(e));
		h->type = e.e_type;
		h->machine = e.e_machine;
		h->phentsize = e.e_phentsize;
		h->phnum = e.e_phnum;
		h->entry = e.e_entry;
		h->phoff = e.e_phoff;
	} else {
		Elf32_Ehdr e;

		memcpy(&e, p, sizeof(e));
		h->type = e.e_type;
		h->machine = e.e_machine;
		h->phentsize = e.e_phentsize;
		h->phnum = e.e_phnum;
		h->entry = e.e_entry;
		h->phoff = e.e_phoff;
	}
}

static void elf_read_phdr(const uint8_t *p, int elf_class, struct elf_phdr *ph)
{
	if (elf_class == ELFCLASS64) {
		Elf64_Phdr e;

		memcpy(&e, p, sizeof(e));
		*ph = (struct elf_phdr){ e.p_type, e.p_flags, e.p_offset, e.p_vaddr, e.p_paddr,
					 e.p_filesz, e.p_memsz };
	} else {
		Elf32_Phdr e;

		memcpy(&e, p, sizeof(e));
		*ph = (struct elf_phdr){ e.p_type, e.p_flags, e.p_offset, e.p_vaddr, e.p_paddr,
					 e.p_filesz, e.p_memsz };
	}
}

static int elf_check_header(const struct nb_boot_ctx *ctx, const struct elf_class_info *ci,
			    const struct elf_header *h)
{
	size_t len = ctx->req->image_len;

	if (h->data != ELFDATA2LSB)
		return nb_boot_fail(ctx, NB_E_IMAGE, "not a little-endian ELF (EI_DATA %u)", h->data);
	if (h->version != EV_CURRENT)
		return nb_boot_fail(ctx, NB_E_IMAGE, "unsupported ELF version %u", h->version);
	if (h->machine != ci->machine)
		return nb_boot_fail(ctx, NB_E_IMAGE, "not an %s ELF (e_machine %u)", ci->machine_name,
				    h->machine);
	/* ET_DYN is a self-relocating kernel (a static PIE such as nbvmm, which runs at a different
	 * virtual address at each level): it is loaded at its physical addresses as linked, like an
	 * ET_EXEC, and applies its own relocations. One that asks for an interpreter is a program. */
	if (h->type != ET_EXEC && h->type != ET_DYN)
		return nb_boot_fail(ctx, NB_E_IMAGE,
				    "not an executable ELF (e_type %u): kernels are loaded at fixed physical addresses; link with -static",
				    h->type);
	if (h->phentsize != ci->phdr_size)
		return nb_boot_fail(ctx, NB_E_IMAGE, "bad e_phentsize %u (expected %zu)", h->phentsize,
				    ci->phdr_size);
	if (h->phnum == 0)
		return nb_boot_fail(ctx, NB_E_IMAGE, "no loadable segments (no program headers)");
	/* PN_XNUM moves the real count into section header 0; no kernel needs that many. */
	if (h->phnum == PN_XNUM)
		return nb_boot_fail(ctx, NB_E_IMAGE, "too many program headers (e_phnum 0x%x, extended numbering)",
				    h->phnum);
	if (h->phoff > len)
		return nb_boot_fail(ctx, NB_E_IMAGE,
				    "truncated: program header table at offset 0x%llx is past the end of the file (0x%zx bytes)",
				    (unsigned long long)h->phoff, len);
	/* The whole table first, so that a truncated one is reported as such rather than as the
	 * segment data it would describe. */
	if ((len - h->phoff) / h->phentsize < h->phnum) {
		unsigned first_cut = (unsigned)((len - h->phoff) / h->phentsize);

		return nb_boot_fail(ctx, NB_E_IMAGE,
				    "truncated: program header %u extends past end of file (offset 0x%llx + 0x%x > 0x%zx)",
				    first_cut, (unsigned long long)(h->phoff + (uint64_t)first_cut * h->phentsize),
				    h->phentsize, len);
	}
	return 0;
}

static int elf_add_segment(const struct nb_boot_ctx *ctx, const struct elf_class_info *ci, unsigned index,
			   const struct elf_phdr *ph, struct nb_boot_image *img)
{
	size_t len = ctx->req->image_len;
	struct nb_load_segment *s;
	uint64_t end;

	if (ph->filesz > ph->memsz)
		return nb_boot_fail(ctx, NB_E_IMAGE, "segment %u has p_filesz 0x%llx larger than p_memsz 0x%llx",
				    index, (unsigned long long)ph->filesz, (unsigned long long)ph->memsz);
	if (ph->memsz == 0)
		return 0; /* nothing to load; an empty PT_LOAD is legal */
	if (ph->filesz && (ph->offset > len || ph->filesz > len - ph->offset))
		return nb_boot_fail(ctx, NB_E_IMAGE,
				    "truncated: segment %u data extends past end of file (offset 0x%llx + 0x%llx > 0x%zx)",
				    index, (unsigned long long)ph->offset, (unsigned long long)ph->filesz, len);
	if (__builtin_add_overflow(ph->paddr, ph->memsz, &end) || (ci->addr_space && end > ci->addr_space))
		return nb_boot_fail(ctx, NB_E_IMAGE,
				    "segment %u at 0x%llx + 0x%llx wraps around the %s address space",
				    index, (unsigned long long)ph->paddr, (unsigned long long)ph->memsz,
				    ci->addr_space ? "32-bit" : "64-bit");
	if (img->nseg == NB_LOAD_MAX_SEGMENTS)
		return nb_boot_fail(ctx, NB_E_IMAGE, "too many loadable segments (more than %d)",
				    NB_LOAD_MAX_SEGMENTS);
	s = &img->seg[img->nseg++];
	snprintf(s->label, sizeof(s->label), "segment %u", index);
	s->offset = ph->offset;
	s->filesz = ph->filesz;
	s->paddr = ph->paddr;
	s->memsz = ph->memsz;
	return 0;
}

/*
 * The entry point must be among the loaded bytes of an executable segment: anything else is a
 * link error that would otherwise show up as a triple fault at the first instruction.
 * - 64-bit: paging is on with an identity map, so e_entry is used as it is, and it must lie in
 *   a segment's physical range.
 * - 32-bit Multiboot: paging is off, and e_entry is a virtual address; for kernels linked with
 *   p_vaddr != p_paddr it is translated to the physical one, as QEMU's ELF loader does.
 */
static int elf_find_entry(const struct nb_boot_ctx *ctx, int elf_class, const struct elf_header *h,
			  struct nb_boot_image *img)
{
	const uint8_t *p = ctx->req->image;
	struct elf_phdr ph;
	unsigned i;

	for (i = 0; i < h->phnum; i++) {
		uint64_t base;

		elf_read_phdr(p + h->phoff + (uint64_t)i * h->phentsize, elf_class, &ph);
		if (ph.type != PT_LOAD || !(ph.flags & PF_X))
			continue;
		base = elf_class == ELFCLASS64 ? ph.paddr : ph.vaddr;
		if (h->entry >= base && h->entry - base < ph.filesz) {
			img->entry = h->entry - base + ph.paddr;
			return 0;
		}
	}
	return nb_boot_fail(ctx, NB_E_IMAGE,
			    "entry point 0x%llx is not inside the loaded bytes of an executable segment",
			    (unsigned long long)h->entry);
}

int nb_elf_parse(const struct nb_boot_ctx *ctx, int elf_class, struct nb_boot_image *img)
{
	const struct elf_class_info *ci = elf_class == ELFCLASS64 ? &elf64_info : &elf32_info;
	const uint8_t *p = ctx->req->image;
	size_t len = ctx->req->image_len;
	struct elf_header h;
	struct elf_phdr ph;
	unsigned i;
	int rc;

	if (len < ci->ehdr_size)
		return nb_boot_fail(ctx, NB_E_IMAGE, "truncated: the ELF header needs %zu bytes, the file has %zu",
				    ci->ehdr_size, len);
	elf_read_header(p, elf_class, &h);
	rc = elf_check_header(ctx, ci, &h);
	if (rc)
		return rc;
	for (i = 0; i < h.phnum; i++) {
		elf_read_phdr(p + h.phoff + (uint64_t)i * h.phentsize, elf_class, &ph);
		if (ph.type == PT_INTERP)
			return nb_boot_fail(ctx, NB_E_IMAGE,
					    "a dynamically linked program (PT_INTERP), not a kernel: link with -static or -static-pie");
		if (ph.type != PT_LOAD)
			continue;
		rc = elf_add_segment(ctx, ci, i, &ph, img);
		if (rc)
			return rc;
	}
	if (img->nseg == 0)
		return nb_boot_fail(ctx, NB_E_IMAGE, "no loadable segments");
	return elf_find_entry(ctx, elf_class, &h, img);
}
