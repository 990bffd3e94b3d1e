/*
 * Interning of instruction byte strings: bytes -> insn_id of the store's insns table, in memory.
 * The store looks every event's bytes up here, so a byte string costs one SQL lookup and one
 * capstone decode per process, not one per event. Open addressing, linear probing, grown at
 * half load.
 */
#ifndef NESTBED_TRACER_INSN_CACHE_H
#define NESTBED_TRACER_INSN_CACHE_H

#include <stdint.h>

#define NB_INSN_MAX 16

struct nb_insn_cache_slot {
	int64_t id; /* 0: empty */
	uint8_t len;
	uint8_t bytes[NB_INSN_MAX]; /* zero beyond len, so that keys compare as whole arrays */
};

struct nb_insn_cache {
	struct nb_insn_cache_slot *slots;
	uint32_t mask;
	uint32_t used;
};

/* Returns 0, or -1 when out of memory. */
int nb_insn_cache_init(struct nb_insn_cache *c);
void nb_insn_cache_free(struct nb_insn_cache *c);
/* Forgets every entry (when the ids they name were rolled back). */
void nb_insn_cache_clear(struct nb_insn_cache *c);
/* The id of bytes[0..len), or 0 when not interned. len <= NB_INSN_MAX. */
int64_t nb_insn_cache_get(const struct nb_insn_cache *c, const uint8_t *bytes, uint8_t len);
/* Interns bytes[0..len) as id (> 0). Returns 0, or -1 when out of memory. */
int nb_insn_cache_put(struct nb_insn_cache *c, const uint8_t *bytes, uint8_t len, int64_t id);

#endif
