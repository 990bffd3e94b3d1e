/*
 * A small hash map for the replayer: 128-bit keys (two 64-bit words) to four 64-bit values, open
 * addressing with linear probing and tombstones. The replayer models guest memory, shadow leaves
 * and the guest's physical map sparsely, keyed by address, and now and then scans a whole map to
 * forget what an event may have changed behind its back; this does both without a library.
 */
#ifndef NESTBED_REPLAY_RMAP_H
#define NESTBED_REPLAY_RMAP_H

#include <stddef.h>
#include <stdint.h>

struct rmap_entry {
	uint64_t k0, k1;
	uint64_t v[4];
	uint8_t state; /* 0 empty, 1 live, 2 deleted */
};

struct rmap {
	struct rmap_entry *e;
	size_t cap;   /* a power of two, or 0 before the first insert */
	size_t used;  /* live + deleted */
	size_t live;
};

/* The live entry of key (k0, k1), or NULL. */
struct rmap_entry *rmap_get(const struct rmap *m, uint64_t k0, uint64_t k1);
/* The entry of key (k0, k1), inserted with zero values when missing (*created says which);
 * NULL when out of memory. Pointers into the map are valid until the next rmap_put. */
struct rmap_entry *rmap_put(struct rmap *m, uint64_t k0, uint64_t k1, int *created);
void rmap_del(struct rmap *m, struct rmap_entry *e);
void rmap_clear(struct rmap *m);
void rmap_free(struct rmap *m);

/* Iteration: for (e = rmap_next(m, NULL); e; e = rmap_next(m, e)); deleting e is allowed. */
struct rmap_entry *rmap_next(const struct rmap *m, struct rmap_entry *e);

#endif
