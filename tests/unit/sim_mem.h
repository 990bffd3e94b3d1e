/*
 * Simulated guest-physical memory for the hosted shadow/ tests: 1 MiB of bytes behind a
 * struct shadow_ops, addresses above it "outside" the guest; writes through the ops are
 * counted (the walker's accessed/dirty updates).
 */
#ifndef NESTBED_TESTS_SIM_MEM_H
#define NESTBED_TESTS_SIM_MEM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shadow/shadow_ops.h"

#define MEM_SIZE (1u << 20)

struct mem {
	uint8_t bytes[MEM_SIZE];
	unsigned writes;
};

static inline int mem_read(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	struct mem *m = opaque;

	if (gpa >= MEM_SIZE || len > MEM_SIZE - gpa)
		return -1;
	memcpy(buf, m->bytes + gpa, len);
	return 0;
}

static inline int mem_write(void *opaque, uint64_t gpa, const void *buf, unsigned len)
{
	struct mem *m = opaque;

	if (gpa >= MEM_SIZE || len > MEM_SIZE - gpa)
		return -1;
	memcpy(m->bytes + gpa, buf, len);
	m->writes++;
	return 0;
}

static const struct shadow_ops ops = { .read_gpa = mem_read, .write_gpa = mem_write };

static inline void put64(struct mem *m, uint64_t gpa, uint64_t v)
{
	memcpy(m->bytes + gpa, &v, 8);
}

static inline void put32(struct mem *m, uint64_t gpa, uint32_t v)
{
	memcpy(m->bytes + gpa, &v, 4);
}

static inline uint64_t get64(const struct mem *m, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, m->bytes + gpa, 8);
	return v;
}

static inline uint32_t get32(const struct mem *m, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, m->bytes + gpa, 4);
	return v;
}

/* cmocka set-up and tear-down: a zeroed struct mem as the test's state. */
static inline int setup(void **state)
{
	*state = calloc(1, sizeof(struct mem));
	return *state ? 0 : -1;
}

static inline int teardown(void **state)
{
	free(*state);
	return 0;
}

#endif
