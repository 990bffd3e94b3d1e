#include <stdlib.h>
#include <string.h>

#include "tracer/insn_cache.h"

#define NB_INSN_CACHE_INITIAL 1024u

static void nb_insn_key(uint8_t key[NB_INSN_MAX], const uint8_t *bytes, uint8_t len)
{
	memset(key, 0, NB_INSN_MAX);
	memcpy(key, bytes, len);
}

static uint32_t nb_insn_hash(const uint8_t key[NB_INSN_MAX], uint8_t len)
{
	uint64_t w0, w1, h;

	memcpy(&w0, key, 8);
	memcpy(&w1, key + 8, 8);
	h = (w0 ^ len) * 0x9e3779b97f4a7c15ull;
	h ^= (w1 + (h >> 32)) * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 29;
	return (uint32_t)h;
}

static struct nb_insn_cache_slot *nb_insn_cache_find(const struct nb_insn_cache *c,
						     const uint8_t key[NB_INSN_MAX], uint8_t len)
{
	uint32_t i = nb_insn_hash(key, len) & c->mask;

	for (;; i = (i + 1) & c->mask) {
		struct nb_insn_cache_slot *s = &c->slots[i];

		if (s->id == 0 || (s->len == len && memcmp(s->bytes, key, NB_INSN_MAX) == 0))
			return s;
	}
}

int nb_insn_cache_init(struct nb_insn_cache *c)
{
	c->slots = calloc(NB_INSN_CACHE_INITIAL, sizeof(*c->slots));
	c->mask = NB_INSN_CACHE_INITIAL - 1;
	c->used = 0;
	return c->slots ? 0 : -1;
}

void nb_insn_cache_free(struct nb_insn_cache *c)
{
	free(c->slots);
	c->slots = NULL;
	c->mask = 0;
	c->used = 0;
}

void nb_insn_cache_clear(struct nb_insn_cache *c)
{
	memset(c->slots, 0, ((size_t)c->mask + 1) * sizeof(*c->slots));
	c->used = 0;
}

int64_t nb_insn_cache_get(const struct nb_insn_cache *c, const uint8_t *bytes, uint8_t len)
{
	uint8_t key[NB_INSN_MAX];

	nb_insn_key(key, bytes, len);
	return nb_insn_cache_find(c, key, len)->id;
}

static int nb_insn_cache_grow(struct nb_insn_cache *c)
{
	struct nb_insn_cache old = *c;
	uint32_t i;

	c->slots = calloc((size_t)old.mask + 1, 2 * sizeof(*c->slots));
	if (!c->slots) {
		*c = old;
		return -1;
	}
	c->mask = old.mask * 2 + 1;
	for (i = 0; i <= old.mask; i++)
		if (old.slots[i].id)
			*nb_insn_cache_find(c, old.slots[i].bytes, old.slots[i].len) = old.slots[i];
	free(old.slots);
	return 0;
}

int nb_insn_cache_put(struct nb_insn_cache *c, const uint8_t *bytes, uint8_t len, int64_t id)
{
	uint8_t key[NB_INSN_MAX];
	struct nb_insn_cache_slot *s;

	if ((c->used + 1) * 2 > c->mask + 1 && nb_insn_cache_grow(c) < 0)
		return -1;
	nb_insn_key(key, bytes, len);
	s = nb_insn_cache_find(c, key, len);
	if (s->id == 0)
		c->used++;
	s->id = id;
	s->len = len;
	memcpy(s->bytes, key, NB_INSN_MAX);
	return 0;
}
