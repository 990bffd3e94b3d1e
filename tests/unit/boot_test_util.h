/*
 * Helpers shared by the boot-loader tests: images built in memory (ELF64, ELF32, Multiboot
 * headers), a guest memory buffer, and assertions that print what was expected and what came.
 */
#ifndef NESTBED_TESTS_BOOT_TEST_UTIL_H
#define NESTBED_TESTS_BOOT_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "l0/boot_loader.h"

#define TEST_MIB (1024ull * 1024)
#define TEST_MEM_SIZE (64 * TEST_MIB)

/* One PT_LOAD segment of a test image. Its file bytes are test_seg_byte(fill, i). */
struct test_seg {
	uint64_t paddr;
	uint64_t vaddr; /* 0: same as paddr */
	uint64_t filesz, memsz;
	uint32_t flags; /* PF_R | PF_W | PF_X */
	uint8_t fill;
};

static inline uint8_t test_seg_byte(uint8_t fill, uint64_t i)
{
	return (uint8_t)(fill + i % 251);
}

/* An image built in memory (malloc'd). */
struct test_image {
	uint8_t *data;
	size_t len;
	uint64_t seg_offset[8]; /* file offset of each segment's bytes */
};

/* An ELF image of class ELFCLASS64 (x86-64) or ELFCLASS32 (i386): header, program headers, then
 * each segment's bytes at a 16-byte aligned offset, then `extra` zero bytes. */
void test_elf_build(struct test_image *img, int elf_class, uint64_t entry, const struct test_seg *segs,
		    int nseg, size_t extra);
void test_image_free(struct test_image *img);

/* Field access into a built ELF64 image, for tests that break one field. */
void *test_elf64_ehdr(struct test_image *img);
void *test_elf64_phdr(struct test_image *img, int index);

/* Writes a Multiboot header at `at`: magic, flags, the checksum that makes their sum 0, then the
 * five address fields (header, load, load_end, bss_end, entry) when addr is not NULL. */
void test_put_multiboot_header(uint8_t *at, uint32_t flags, const uint32_t addr[5]);

/* The guest memory each test boots into: TEST_MEM_SIZE bytes, filled with 0xAA so that zeroing
 * shows. */
struct test_boot {
	struct nb_guest_mem mem;
	struct nb_boot_request req;
	struct nb_boot_plan plan;
	struct nb_error err;
	struct test_image img;
};

int test_boot_setup(void **state);
int test_boot_teardown(void **state);
int test_boot_prepare(struct test_boot *t); /* boots t->img with t->req */

uint64_t test_mem_read64(const struct test_boot *t, uint64_t addr);
uint32_t test_mem_read32(const struct test_boot *t, uint64_t addr);

#define EXPECT_EQ(what, expected, got)                                                            \
	do {                                                                                      \
		unsigned long long e_ = (unsigned long long)(expected), g_ = (unsigned long long)(got); \
		if (e_ != g_)                                                                     \
			fail_msg("%s: expected 0x%llx (%llu), got 0x%llx (%llu)\n", what, e_, e_, g_, g_); \
	} while (0)

#define EXPECT_STR(what, expected, got)                                                           \
	do {                                                                                      \
		const char *e_ = (expected), *g_ = (got);                                         \
		if (strcmp(e_, g_) != 0)                                                          \
			fail_msg("%s: expected \"%s\", got \"%s\"\n", what, e_, g_);                \
	} while (0)

void expect_ok(int rc, const struct nb_error *err);
/* rc must be -code and the message must contain every one of the (NULL-terminated) fragments. */
void expect_error(int rc, const struct nb_error *err, int code, ...) __attribute__((sentinel));
/* [addr, addr + len) of guest memory must equal the bytes given. */
void expect_mem(const struct test_boot *t, const char *what, uint64_t addr, const uint8_t *bytes, size_t len);
void expect_mem_zero(const struct test_boot *t, const char *what, uint64_t addr, size_t len);

#endif
