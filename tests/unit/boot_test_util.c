/* Helpers for the boot-loader tests: see boot_test_util.h. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l0/multiboot.h"
#include "tests/unit/boot_test_util.h"

void test_elf_build(struct test_image *img, int elf_class, uint64_t entry, const struct test_seg *segs,
		    int nseg, size_t extra)
{
	int is64 = elf_class == ELFCLASS64;
	size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	size_t off = (ehsize + (size_t)nseg * phsize + 15) & ~(size_t)15;
	uint8_t ident[EI_NIDENT] = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, (uint8_t)elf_class, ELFDATA2LSB,
				     EV_CURRENT };
	int i;

	assert_true(nseg <= 8);
	for (i = 0; i < nseg; i++) {
		img->seg_offset[i] = off;
		off = (off + segs[i].filesz + 15) & ~(size_t)15;
	}
	img->len = off + extra;
	img->data = calloc(1, img->len);
	assert_non_null(img->data);
	if (is64) {
		Elf64_Ehdr eh = { .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
				  .e_entry = entry, .e_phoff = ehsize, .e_ehsize = (uint16_t)ehsize,
				  .e_phentsize = (uint16_t)phsize, .e_phnum = (uint16_t)nseg };

		memcpy(eh.e_ident, ident, EI_NIDENT);
		memcpy(img->data, &eh, sizeof(eh));
	} else {
		Elf32_Ehdr eh = { .e_type = ET_EXEC, .e_machine = EM_386, .e_version = EV_CURRENT,
				  .e_entry = (uint32_t)entry, .e_phoff = (uint32_t)ehsize,
				  .e_ehsize = (uint16_t)ehsize, .e_phentsize = (uint16_t)phsize,
				  .e_phnum = (uint16_t)nseg };

		memcpy(eh.e_ident, ident, EI_NIDENT);
		memcpy(img->data, &eh, sizeof(eh));
	}
	for (i = 0; i < nseg; i++) {
		const struct test_seg *s = &segs[i];
		uint64_t vaddr = s->vaddr ? s->vaddr : s->paddr;
		uint64_t j;

		if (is64) {
			Elf64_Phdr ph = { PT_LOAD, s->flags, img->seg_offset[i], vaddr, s->paddr, s->filesz,
					  s->memsz, 0x1000 };

			memcpy(img->data + ehsize + i * phsize, &ph, sizeof(ph));
		} else {
			Elf32_Phdr ph = { PT_LOAD, (uint32_t)img->seg_offset[i], (uint32_t)vaddr,
					  (uint32_t)s->paddr, (uint32_t)s->filesz, (uint32_t)s->memsz, s->flags,
					  0x1000 };

			memcpy(img->data + ehsize + i * phsize, &ph, sizeof(ph));
		}
		for (j = 0; j < s->filesz; j++)
			img->data[img->seg_offset[i] + j] = test_seg_byte(s->fill, j);
	}
}

void test_image_free(struct test_image *img)
{
	free(img->data);
	img->data = NULL;
	img->len = 0;
}

void *test_elf64_ehdr(struct test_image *img)
{
	return img->data;
}

void *test_elf64_phdr(struct test_image *img, int index)
{
	return img->data + sizeof(Elf64_Ehdr) + (size_t)index * sizeof(Elf64_Phdr);
}

void test_put_multiboot_header(uint8_t *at, uint32_t flags, const uint32_t addr[5])
{
	uint32_t h[8] = { MULTIBOOT_HEADER_MAGIC, flags, 0u - MULTIBOOT_HEADER_MAGIC - flags };

	if (addr)
		memcpy(&h[3], addr, 5 * sizeof(uint32_t));
	memcpy(at, h, addr ? 32 : 12);
}

int test_boot_setup(void **state)
{
	struct test_boot *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->mem.size = TEST_MEM_SIZE;
	t->mem.host = malloc(TEST_MEM_SIZE);
	if (!t->mem.host) {
		free(t);
		return -1;
	}
	memset(t->mem.host, 0xAA, TEST_MEM_SIZE);
	t->req.image_name = "/images/kernel.elf";
	t->req.options = "";
	t->req.ring_bytes = TEST_MIB;
	t->req.level = 1;
	t->req.vm_id = 7;
	*state = t;
	return 0;
}

int test_boot_teardown(void **state)
{
	struct test_boot *t = *state;

	test_image_free(&t->img);
	free(t->mem.host);
	free(t);
	return 0;
}

int test_boot_prepare(struct test_boot *t)
{
	t->req.image = t->img.data;
	t->req.image_len = t->img.len;
	memset(&t->err, 0, sizeof(t->err));
	return nb_boot_prepare(&t->mem, &t->req, &t->plan, &t->err);
}

uint64_t test_mem_read64(const struct test_boot *t, uint64_t addr)
{
	uint64_t v;

	memcpy(&v, t->mem.host + addr, sizeof(v));
	return v;
}

uint32_t test_mem_read32(const struct test_boot *t, uint64_t addr)
{
	uint32_t v;

	memcpy(&v, t->mem.host + addr, sizeof(v));
	return v;
}

void expect_ok(int rc, const struct nb_error *err)
{
	if (rc)
		fail_msg("expected success, got %d (%s): \"%s\"\n", rc, nb_error_name(rc), err->msg);
}

void expect_error(int rc, const struct nb_error *err, int code, ...)
{
	const char *frag;
	va_list ap;

	if (rc == 0)
		fail_msg("expected error %s, got success\n", nb_error_name(code));
	if (rc != -code)
		fail_msg("expected error %s, got %d (%s): \"%s\"\n", nb_error_name(code), rc, nb_error_name(rc),
			 err->msg);
	if (err->code != code)
		fail_msg("expected err->code %d (%s), got %d\n", code, nb_error_name(code), err->code);
	va_start(ap, code);
	while ((frag = va_arg(ap, const char *)) != NULL) {
		if (!strstr(err->msg, frag)) {
			va_end(ap);
			fail_msg("expected the message to contain \"%s\", got \"%s\"\n", frag, err->msg);
		}
	}
	va_end(ap);
}

void expect_mem(const struct test_boot *t, const char *what, uint64_t addr, const uint8_t *bytes, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (t->mem.host[addr + i] != bytes[i])
			fail_msg("%s: expected byte 0x%02x at 0x%llx, got 0x%02x\n", what, bytes[i],
				 (unsigned long long)(addr + i), t->mem.host[addr + i]);
}

void expect_mem_zero(const struct test_boot *t, const char *what, uint64_t addr, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (t->mem.host[addr + i] != 0)
			fail_msg("%s: expected zero at 0x%llx, got 0x%02x\n", what, (unsigned long long)(addr + i),
				 t->mem.host[addr + i]);
}
