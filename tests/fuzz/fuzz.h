/*
 * What every fuzz harness in tests/fuzz shares: libFuzzer's entry point, a reader that turns the
 * input into the values a harness needs, and the check that stops the run when an invariant
 * breaks.
 *
 * Each harness defines LLVMFuzzerTestOneInput. Built with clang -fsanitize=fuzzer it is driven
 * by libFuzzer (tools/fuzz, make check); built with any compiler and standalone.c it replays the
 * files it is given, so that the committed corpus is a regression suite everywhere.
 */
#ifndef NESTBED_TESTS_FUZZ_H
#define NESTBED_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: say which and where, then abort so that libFuzzer (or the replay driver)
 * keeps the input that did it. */
#define FUZZ_CHECK(cond, ...)                                                                  \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                          \
			fputc('\n', stderr);                                                   \
			abort();                                                               \
		}                                                                              \
	} while (0)

/* The input, consumed front to back. Reading past its end gives zeros and sets `done`, so a
 * harness can loop "while the input lasts" and every prefix of an input is an input too. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
	bool done;
};

static inline struct fuzz_in fuzz_in(const uint8_t *data, size_t size)
{
	return (struct fuzz_in){ data, size, size == 0 };
}

/* `len` little-endian bytes as an integer (len <= 8). */
static inline uint64_t fuzz_bytes(struct fuzz_in *in, unsigned len)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < len; i++) {
		if (in->n == 0) {
			in->done = true;
			break;
		}
		v |= (uint64_t)*in->p++ << (8 * i);
		in->n--;
	}
	return v;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	return (uint8_t)fuzz_bytes(in, 1);
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	return (uint16_t)fuzz_bytes(in, 2);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	return (uint32_t)fuzz_bytes(in, 4);
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	return fuzz_bytes(in, 8);
}

/* A number below n (n > 0), from as few bytes as n needs. */
static inline unsigned fuzz_below(struct fuzz_in *in, unsigned n)
{
	unsigned len = n <= 0x100u ? 1 : n <= 0x10000u ? 2 : 4;

	return (unsigned)(fuzz_bytes(in, len) % n);
}

/* Copies up to len bytes into buf, zero-filling what the input no longer has; returns the
 * bytes copied. */
static inline size_t fuzz_copy(struct fuzz_in *in, void *buf, size_t len)
{
	uint8_t *d = buf;
	size_t k = len < in->n ? len : in->n, i;

	for (i = 0; i < len; i++)
		d[i] = i < k ? in->p[i] : 0;
	in->p += k;
	in->n -= k;
	if (k < len)
		in->done = true;
	return k;
}

#endif
