#include <stdlib.h>
#include <string.h>

#include "replay/rmap.h"

static size_t rmap_hash(uint64_t k0, uint64_t k1)
{
	uint64_t h = (k0 ^ (k1 * 0xff51afd7ed558ccdull)) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h ^ (h >> 29));
}

struct rmap_entry *rmap_get(const struct rmap *m, uint64_t k0, uint64_t k1)
{
	size_t i, mask = m->cap - 1;

	if (!m->cap)
		return NULL;
	for (i = rmap_hash(k0, k1) & mask;; i = (i + 1) & mask) {
		struct rmap_entry *e = &m->e[i];
		if (e->state == 0)
			return NULL;
		if (e->state == 1 && e->k0 == k0 && e->k1 == k1)
			return e;
	}
}

static int rmap_grow(struct rmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64, i;
	struct rmap old = *m;

	/* Many tombstones: rehash at the same size. */
	if (m->cap && m->live * 4 < m->cap)
		cap = m->cap;
	m->e = calloc(cap, sizeof(*m->e));
	if (!m->e) {
		*m = old;
		return -1;
	}
	m->cap = cap;
	m->used = m->live = 0;
	for (i = 0; i < old.cap; i++) {
		if (old.e[i].state == 1) {
			int created;
			struct rmap_entry *e = rmap_put(m, old.e[i].k0, old.e[i].k1, &created);
			memcpy(e->v, old.e[i].v, sizeof(e->v));
		}
	}
	free(old.e);
	return 0;
}

struct rmap_entry *rmap_put(struct rmap *m, uint64_t k0, uint64_t k1, int *created)
{
	struct rmap_entry *e = rmap_get(m, k0, k1), *tomb = NULL;
	size_t i, mask;

	*created = 0;
	if (e)
		return e;
	if ((m->used + 1) * 4 > m->cap * 3 && rmap_grow(m) < 0)
		return NULL;
	mask = m->cap - 1;
	for (i = rmap_hash(k0, k1) & mask;; i = (i + 1) & mask) {
		e = &m->e[i];
		if (e->state == 2 && !tomb)
			tomb = e;
		if (e->state == 0)
			break;
	}
	if (tomb)
		e = tomb;
	else
		m->used++;
	memset(e, 0, sizeof(*e));
	e->k0 = k0;
	e->k1 = k1;
	e->state = 1;
	m->live++;
	*created = 1;
	return e;
}

void rmap_del(struct rmap *m, struct rmap_entry *e)
{
	e->state = 2;
	m->live--;
}

void rmap_clear(struct rmap *m)
{
	if (m->cap)
		memset(m->e, 0, m->cap * sizeof(*m->e));
	m->used = m->live = 0;
}

void rmap_free(struct rmap *m)
{
	free(m->e);
	memset(m, 0, sizeof(*m));
}

struct rmap_entry *rmap_next(const struct rmap *m, struct rmap_entry *e)
{
	size_t i = e ? (size_t)(e - m->e) + 1 : 0;

	for (; i < m->cap; i++)
		if (m->e[i].state == 1)
			return &m->e[i];
	return NULL;
}
