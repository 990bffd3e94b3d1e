/*
 * Shadow page tables (see spt.h for the model and the caller's duties). Section numbers are those
 * of the AMD64 Architecture Programmer's Manual, Volume 2.
 *
 * Bookkeeping
 * -----------
 * Every shadow table page has a struct spt_page saying which range of guest-virtual addresses it
 * maps and which guest table its entries were derived from (the "source"). A shadow page at level
 * L derives from the guest table whose entries span at least one shadow entry, i.e. the smallest
 * guest level at or above the guest leaf with shift >= that of L:
 *   long mode   shadow level L <- guest level L; below a guest 2 MiB / 1 GiB page, every shadow
 *               level under it derives from the guest PDE / PDPE table;
 *   legacy PAE  shadow PDPT <- the guest's 4-entry PDPT, PD <- PD, PT <- PT or PD; the shadow
 *               PML4 is structural (the guest has no such level);
 *   32-bit      shadow PD (2 MiB entries) <- guest PD (4 MiB entries, two shadow entries each),
 *               shadow PT <- guest PT (half of it) or, below a 4 MiB page, the guest PD;
 *               shadow PML4 and PDPT are structural;
 *   no paging   everything structural: gva = gpa.
 * Pages with a source are filed in pt_hash under the host frame of that guest table: this is the
 * reverse map spt_pt_write uses to find the shadow entries a guest entry write invalidates.
 * Keying by host frame (not gpa) keeps it right even if the physical map aliases two gpas.
 *
 * Writable shadow leaves are filed in wleaf_hash under the host frame they map, so that when a
 * frame becomes a guest page table its writable mappings can be found and made read-only.
 *
 * Non-leaf shadow entries grant everything (P, R/W, U/S); rights are decided at the leaf only,
 * which is legal because the MMU combines rights over levels (§5.7). A non-leaf entry without a
 * child page is the hypervisor's (spt_map_host, spt_map_host_slot) and is never dropped.
 */
#include <stddef.h>

#include "shadow/spt.h"

#define SPT_ENTRIES 512u
#define SPT_VA_MASK ((1ull << 48) - 1) /* shadow bookkeeping uses 48-bit linear addresses */
#define SPT_ADDR_MASK 0x000ffffffffff000ull /* address bits of a 4-level entry (§5.4.1) */
#define SPT_HASH_BUCKETS (SHADOW_PAGE_SIZE / sizeof(void *))
#define SPT_NONLEAF (PTE_P | PTE_W | PTE_U | PTE_A)

struct spt_page {
	uint64_t *table;         /* the entries the MMU reads */
	uint64_t hpa;            /* host-physical address of table */
	struct spt_page **child; /* levels 2-4: page that entry i points to (NULL: none or host) */
	uint64_t child_hpa;
	uint64_t gva;            /* first 48-bit linear address mapped */
	uint64_t src;            /* host-physical address of the source guest table (frame|offset) */
	uint64_t src_gpa;        /* its guest-physical address (for traces) */
	struct spt_page *hnext;  /* pt_hash chain */
	struct spt_page **hprev;
	uint8_t level;           /* 4 = PML4 ... 1 = PT */
	uint8_t src_level;       /* guest level of the source table; 0 = structural */
};

struct spt_wleaf {
	uint64_t frame;          /* host frame the leaf maps */
	struct spt_page *page;
	struct spt_wleaf *next;
	unsigned index;
};

static unsigned spt_shift(unsigned level)
{
	return 12 + 9 * (level - 1);
}

static unsigned spt_index(uint64_t va48, unsigned level)
{
	return (unsigned)(va48 >> spt_shift(level)) & (SPT_ENTRIES - 1);
}

static uint64_t spt_canonical(uint64_t va48)
{
	return (va48 & (1ull << 47)) ? va48 | ~SPT_VA_MASK : va48;
}

static unsigned spt_hash(uint64_t frame)
{
	return (unsigned)(((frame >> 12) * 0x9e3779b97f4a7c15ull) >> 55) & (SPT_HASH_BUCKETS - 1);
}

static bool spt_host_slot(const struct spt_ctx *ctx, unsigned slot)
{
	return (ctx->host_slots[slot / 64] >> (slot % 64)) & 1;
}

static void spt_trace(struct spt_ctx *ctx, uint16_t kind, uint64_t addr, uint64_t old_val,
		      uint64_t new_val, uint64_t aux, uint64_t info1, uint64_t info2)
{
	struct nb_trace_record rec = { 0 };

	if (!ctx->ops->trace)
		return;
	rec.kind = kind;
	rec.addr = addr;
	rec.old_val = old_val;
	rec.new_val = new_val;
	rec.aux = aux;
	rec.exit_info1 = info1;
	rec.exit_info2 = info2;
	ctx->ops->trace(ctx->opaque, &rec);
}

/* The A and D bits a walk set, two per level (A at bit 2 * (level - 1), D above it): the packing
 * of NB_EV_GPT_WALK's aux (spt.h). */
static uint64_t spt_walk_ad_bits(const struct gpt_walk *w)
{
	uint64_t bits = 0;
	unsigned l;

	for (l = 1; l <= GPT_MAX_LEVELS; l++)
		bits |= ((w->ad_set[l] & PTE_A ? 1ull : 0) | (w->ad_set[l] & PTE_D ? 2ull : 0)) << (2 * (l - 1));
	return bits;
}

/* The walk a fill is built from, for a replay to check the guest entries it read (spt.h). */
static void spt_trace_walk(struct spt_ctx *ctx, uint64_t gva, const struct gpt_walk *w, uint64_t ad_bits)
{
	struct nb_trace_record rec = { 0 };
	uint64_t mode = (uint64_t)ctx->mode.paging | (uint64_t)ctx->mode.cr0_wp << 4 |
			(uint64_t)ctx->mode.cr4_pse << 5 | (uint64_t)ctx->mode.efer_nxe << 6;

	rec.kind = NB_EV_GPT_WALK;
	rec.addr = gva;
	rec.exit_code = ctx->mode.cr3;
	rec.exit_info1 = w->entry[4];
	rec.exit_info2 = w->entry[3];
	rec.old_val = w->entry[2];
	rec.new_val = w->entry[1];
	rec.aux = w->top_level | (uint64_t)w->leaf_level << 8 | mode << 16 | ad_bits << 24;
	ctx->ops->trace(ctx->opaque, &rec);
}

/* ---- memory ---------------------------------------------------------------------------- */

static void *spt_page_alloc(struct spt_ctx *ctx, uint64_t *hpa)
{
	void *p = ctx->ops->alloc_page(ctx->opaque, hpa);

	if (p)
		ctx->stats.pages++;
	return p;
}

static void spt_page_free(struct spt_ctx *ctx, void *p, uint64_t hpa)
{
	ctx->ops->free_page(ctx->opaque, p, hpa);
	ctx->stats.pages--;
}

/* Pool pages start with this header; the rest is cut into objects of one size. */
struct spt_pool_page {
	struct spt_pool_page *next;
	uint64_t hpa;
};

static void *spt_pool_get(struct spt_ctx *ctx, struct spt_pool *pool, unsigned size)
{
	void *obj;

	if (!pool->free) {
		uint64_t hpa, off;
		uint8_t *pg = spt_page_alloc(ctx, &hpa);
		struct spt_pool_page *hdr = (struct spt_pool_page *)pg;

		if (!pg)
			return NULL;
		hdr->hpa = hpa;
		hdr->next = pool->pages;
		pool->pages = hdr;
		for (off = sizeof(*hdr); off + size <= SHADOW_PAGE_SIZE; off += size) {
			*(void **)(pg + off) = pool->free;
			pool->free = pg + off;
		}
	}
	obj = pool->free;
	pool->free = *(void **)obj;
	return obj;
}

static void spt_pool_put(struct spt_pool *pool, void *obj)
{
	*(void **)obj = pool->free;
	pool->free = obj;
}

static void spt_pool_destroy(struct spt_ctx *ctx, struct spt_pool *pool)
{
	struct spt_pool_page *pg = pool->pages;

	while (pg) {
		struct spt_pool_page *next = pg->next;
		spt_page_free(ctx, pg, pg->hpa);
		pg = next;
	}
	pool->pages = NULL;
	pool->free = NULL;
}

/* ---- writable leaves --------------------------------------------------------------------- */

static int spt_wleaf_add(struct spt_ctx *ctx, uint64_t frame, struct spt_page *p, unsigned i)
{
	struct spt_wleaf *n = spt_pool_get(ctx, &ctx->wleaf_pool, sizeof(*n));
	struct spt_wleaf **b = &ctx->wleaf_hash[spt_hash(frame)];

	if (!n)
		return -SHADOW_ENOMEM;
	n->frame = frame;
	n->page = p;
	n->index = i;
	n->next = *b;
	*b = n;
	return 0;
}

static void spt_wleaf_remove(struct spt_ctx *ctx, uint64_t frame, struct spt_page *p, unsigned i)
{
	struct spt_wleaf **link = &ctx->wleaf_hash[spt_hash(frame)];

	for (; *link; link = &(*link)->next) {
		struct spt_wleaf *n = *link;
		if (n->page == p && n->index == i) {
			*link = n->next;
			spt_pool_put(&ctx->wleaf_pool, n);
			return;
		}
	}
}

/* The frame at src_gpa / frame just became a guest table: no shadow may let the guest write it
 * without trapping any more. */
static void spt_write_protect(struct spt_ctx *ctx, uint64_t frame, uint64_t src_gpa)
{
	struct spt_wleaf **link = &ctx->wleaf_hash[spt_hash(frame)];
	uint64_t count = 0;

	while (*link) {
		struct spt_wleaf *n = *link;
		if (n->frame != frame) {
			link = &n->next;
			continue;
		}
		n->page->table[n->index] &= ~PTE_W;
		*link = n->next;
		spt_pool_put(&ctx->wleaf_pool, n);
		count++;
	}
	if (count) {
		ctx->tlb_flush = true;
		ctx->stats.wrprot += count;
		spt_trace(ctx, NB_EV_SHADOW_ZAP, src_gpa & ~0xfffull, SPT_ZAP_WRPROT, 0, count, 0, 0);
	}
}

static bool spt_frame_is_table(const struct spt_ctx *ctx, uint64_t frame)
{
	const struct spt_page *p = ctx->pt_hash[spt_hash(frame)];

	for (; p; p = p->hnext)
		if ((p->src & ~0xfffull) == frame)
			return true;
	return false;
}

bool spt_gpa_is_table(const struct spt_ctx *ctx, uint64_t gpa)
{
	uint64_t hpa;

	return ctx->ops->gpa_to_hpa(ctx->opaque, gpa, &hpa) >= 0 && spt_frame_is_table(ctx, hpa & ~0xfffull);
}

void spt_write_protect_gpa(struct spt_ctx *ctx, uint64_t gpa)
{
	uint64_t hpa;

	if (ctx->ops->gpa_to_hpa(ctx->opaque, gpa & ~0xfffull, &hpa) >= 0)
		spt_write_protect(ctx, hpa & ~0xfffull, gpa);
}

/* ---- shadow pages ------------------------------------------------------------------------ */

/* A new, empty shadow page at `level` mapping from va48, derived from the guest table at src_gpa
 * / src (host) when src_level != 0. */
static struct spt_page *spt_page_new(struct spt_ctx *ctx, unsigned level, uint64_t va48,
				     unsigned src_level, uint64_t src_gpa, uint64_t src)
{
	struct spt_page *p = spt_pool_get(ctx, &ctx->page_pool, sizeof(*p));

	if (!p)
		return NULL;
	p->table = spt_page_alloc(ctx, &p->hpa);
	if (!p->table) {
		spt_pool_put(&ctx->page_pool, p);
		return NULL;
	}
	p->child = NULL;
	p->child_hpa = 0;
	if (level > 1) {
		p->child = spt_page_alloc(ctx, &p->child_hpa);
		if (!p->child) {
			spt_page_free(ctx, p->table, p->hpa);
			spt_pool_put(&ctx->page_pool, p);
			return NULL;
		}
	}
	p->level = (uint8_t)level;
	p->gva = va48 & ~((1ull << spt_shift(level + 1)) - 1);
	p->src_level = (uint8_t)src_level;
	p->src = src;
	p->src_gpa = src_gpa;
	p->hnext = NULL;
	p->hprev = NULL;
	if (src_level) {
		struct spt_page **b = &ctx->pt_hash[spt_hash(src & ~0xfffull)];
		p->hnext = *b;
		if (*b)
			(*b)->hprev = &p->hnext;
		p->hprev = b;
		*b = p;
		spt_write_protect(ctx, src & ~0xfffull, src_gpa);
	}
	return p;
}

static unsigned spt_free_tree(struct spt_ctx *ctx, struct spt_page *p);
static unsigned spt_zap_derived(struct spt_ctx *ctx, uint64_t gpa, uint64_t old,
				uint64_t new_val, unsigned only_level, unsigned *level);

/* Drops entry i of p (and the subtree below it). Returns the present entries dropped. */
static unsigned spt_zap_entry(struct spt_ctx *ctx, struct spt_page *p, unsigned i)
{
	uint64_t e = p->table[i];
	unsigned n = 1;

	if (!(e & PTE_P))
		return 0;
	if (p->level == 1) {
		if (e & PTE_W)
			spt_wleaf_remove(ctx, e & SPT_ADDR_MASK, p, i);
	} else {
		if (!p->child[i])
			return 0; /* the hypervisor's own mapping */
		n += spt_free_tree(ctx, p->child[i]);
		p->child[i] = NULL;
	}
	p->table[i] = 0;
	ctx->tlb_flush = true;
	ctx->stats.zapped++;
	return n;
}

static unsigned spt_zap_range(struct spt_ctx *ctx, struct spt_page *p, unsigned lo, unsigned hi)
{
	unsigned i, n = 0;

	for (i = lo; i < hi; i++)
		n += spt_zap_entry(ctx, p, i);
	return n;
}

/* Frees p and everything below it; returns the present entries dropped. */
static unsigned spt_free_tree(struct spt_ctx *ctx, struct spt_page *p)
{
	unsigned n = spt_zap_range(ctx, p, 0, SPT_ENTRIES);

	if (p->hprev) {
		*p->hprev = p->hnext;
		if (p->hnext)
			p->hnext->hprev = p->hprev;
	}
	if (p->child)
		spt_page_free(ctx, p->child, p->child_hpa);
	spt_page_free(ctx, p->table, p->hpa);
	spt_pool_put(&ctx->page_pool, p);
	return n;
}

/*
 * The entries of p derived from entry j of p's source table: [*lo, *hi). The guest table spans
 * entries << shift bytes of linear address; p lies inside it (a slice of a bigger guest table)
 * or contains it (the 4-entry PAE PDPT inside a shadow PDPT). Returns false when entry j maps
 * nothing that p covers.
 */
static bool spt_derived_range(const struct spt_ctx *ctx, const struct spt_page *p, unsigned j,
			      unsigned *lo, unsigned *hi)
{
	struct gpt_level_shape g = gpt_level_shape(ctx->mode.paging, p->src_level);
	unsigned sshift = spt_shift(p->level);
	uint64_t tspan = (uint64_t)g.entries << g.shift;
	uint64_t elo = (p->gva & ~(tspan - 1)) + ((uint64_t)j << g.shift);
	uint64_t ehi = elo + (1ull << g.shift);
	uint64_t plo = p->gva, phi = p->gva + ((uint64_t)SPT_ENTRIES << sshift);
	uint64_t a = elo > plo ? elo : plo, b = ehi < phi ? ehi : phi;

	if (a >= b)
		return false;
	*lo = (unsigned)((a - plo) >> sshift);
	*hi = (unsigned)((b - plo) >> sshift);
	return true;
}

/* ---- roots -------------------------------------------------------------------------------- */

/* CR3 as a cache key: only the table address matters (PCD/PWT do not change translations),
 * and without paging every CR3 shares one shadow. */
static uint64_t spt_cr3_key(const struct gpt_mode *m, uint64_t cr3)
{
	switch (m->paging) {
	case GPT_PAGING_NONE:
		return 0;
	case GPT_PAGING_32:
		return cr3 & 0xfffff000ull;
	case GPT_PAGING_PAE:
		return cr3 & 0xffffffe0ull;
	case GPT_PAGING_LONG:
		break;
	}
	return cr3 & SPT_ADDR_MASK;
}

static struct spt_page *spt_root_new(struct spt_ctx *ctx, uint64_t key)
{
	struct spt_page *r;
	unsigned level = 0;
	uint64_t src = 0, gpa = key;
	unsigned s;

	/* In long mode the root mirrors the guest's PML4; in other modes it is structural. */
	if (ctx->mode.paging == GPT_PAGING_LONG && ctx->ops->gpa_to_hpa(ctx->opaque, gpa, &src) >= 0)
		level = 4;
	r = spt_page_new(ctx, 4, 0, level, gpa, src);
	if (!r)
		return NULL;
	for (s = 0; s < SPT_ENTRIES; s++)
		if (spt_host_slot(ctx, s))
			r->table[s] = ctx->host->table[s];
	return r;
}

static unsigned spt_slot_free(struct spt_ctx *ctx, struct spt_root_slot *sl)
{
	unsigned k, n = 0;

	for (k = 0; k < 2; k++) {
		if (sl->root[k])
			n += spt_free_tree(ctx, sl->root[k]);
		sl->root[k] = NULL;
	}
	return n;
}

static int spt_slot_fill(struct spt_ctx *ctx, struct spt_root_slot *sl, uint64_t key)
{
	unsigned k;

	sl->cr3 = key;
	for (k = 0; k < 2; k++) {
		sl->root[k] = spt_root_new(ctx, key);
		if (!sl->root[k]) {
			spt_slot_free(ctx, sl);
			return -SHADOW_ENOMEM;
		}
	}
	return 0;
}

/* The roots of mode.cr3, built again if an earlier allocation failure left none. */
static struct spt_root_slot *spt_current(struct spt_ctx *ctx)
{
	struct spt_root_slot *sl = &ctx->slot[ctx->cur];

	if (!sl->root[0] && spt_slot_fill(ctx, sl, spt_cr3_key(&ctx->mode, ctx->mode.cr3)) < 0)
		return NULL;
	sl->last_use = ++ctx->clock;
	return sl;
}

int spt_cr3_switch(struct spt_ctx *ctx, uint64_t new_cr3)
{
	uint64_t key = spt_cr3_key(&ctx->mode, new_cr3), old = ctx->mode.cr3;
	unsigned i, victim = 0;
	int hit = 0;

	ctx->mode.cr3 = new_cr3;
	for (i = 0; i < ctx->roots; i++) {
		struct spt_root_slot *sl = &ctx->slot[i];
		if (sl->root[0] && sl->cr3 == key) {
			hit = 1;
			victim = i;
			break;
		}
		/* Prefer an empty slot, else the least recently used one. */
		if (!sl->root[0] || (ctx->slot[victim].root[0] && sl->last_use < ctx->slot[victim].last_use))
			victim = i;
	}
	ctx->cur = victim;
	if (hit) {
		ctx->stats.cr3_hits++;
	} else {
		struct spt_root_slot *sl = &ctx->slot[victim];
		ctx->stats.cr3_misses++;
		if (sl->root[0]) {
			uint64_t evicted = sl->cr3;
			unsigned n = spt_slot_free(ctx, sl);
			spt_trace(ctx, NB_EV_SHADOW_ZAP, evicted, SPT_ZAP_EVICT, 0, n, 0, 0);
		}
	}
	spt_trace(ctx, NB_EV_CR3_SWITCH, 0, old, new_cr3, (uint64_t)hit, 0, 0);
	return spt_current(ctx) ? 0 : -SHADOW_ENOMEM;
}

uint64_t spt_root_hpa(const struct spt_ctx *ctx, enum spt_root_kind kind)
{
	const struct spt_page *r = ctx->slot[ctx->cur].root[kind];

	return r ? r->hpa : 0;
}

uint64_t spt_cached_root(const struct spt_ctx *ctx, unsigned i, enum spt_root_kind kind,
			 uint64_t *cr3)
{
	const struct spt_page *r = ctx->slot[i].root[kind];

	*cr3 = ctx->slot[i].cr3;
	return r ? r->hpa : 0;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

int spt_init(struct spt_ctx *ctx, const struct shadow_ops *ops, void *opaque,
	     const struct gpt_mode *mode)
{
	unsigned i;

	if (mode->paging != GPT_PAGING_NONE && (mode->maxphyaddr < 32 || mode->maxphyaddr > 52))
		return -SHADOW_EINVAL;
	ctx->ops = ops;
	ctx->opaque = opaque;
	ctx->mode = *mode;
	ctx->roots = SPT_ROOT_CACHE;
	for (i = 0; i < SPT_ROOT_CACHE_MAX; i++) {
		ctx->slot[i].cr3 = 0;
		ctx->slot[i].last_use = 0;
		ctx->slot[i].root[0] = NULL;
		ctx->slot[i].root[1] = NULL;
	}
	ctx->cur = 0;
	ctx->clock = 0;
	ctx->host = NULL;
	for (i = 0; i < 8; i++)
		ctx->host_slots[i] = 0;
	ctx->page_pool.free = ctx->page_pool.pages = NULL;
	ctx->wleaf_pool.free = ctx->wleaf_pool.pages = NULL;
	ctx->tlb_flush = false;
	ctx->stats.pages = ctx->stats.fills = ctx->stats.zapped = ctx->stats.wrprot = 0;
	ctx->stats.pt_writes = ctx->stats.cr3_hits = ctx->stats.cr3_misses = 0;
	ctx->wleaf_hash = NULL;
	ctx->pt_hash = spt_page_alloc(ctx, &ctx->pt_hash_hpa);
	if (ctx->pt_hash)
		ctx->wleaf_hash = spt_page_alloc(ctx, &ctx->wleaf_hash_hpa);
	if (!ctx->wleaf_hash || !spt_current(ctx)) {
		spt_destroy(ctx);
		return -SHADOW_ENOMEM;
	}
	return 0;
}

void spt_destroy(struct spt_ctx *ctx)
{
	unsigned i;

	for (i = 0; i < ctx->roots; i++)
		spt_slot_free(ctx, &ctx->slot[i]);
	if (ctx->host)
		spt_free_tree(ctx, ctx->host);
	ctx->host = NULL;
	spt_pool_destroy(ctx, &ctx->wleaf_pool);
	spt_pool_destroy(ctx, &ctx->page_pool);
	if (ctx->wleaf_hash)
		spt_page_free(ctx, ctx->wleaf_hash, ctx->wleaf_hash_hpa);
	if (ctx->pt_hash)
		spt_page_free(ctx, ctx->pt_hash, ctx->pt_hash_hpa);
	ctx->wleaf_hash = NULL;
	ctx->pt_hash = NULL;
}

int spt_set_mode(struct spt_ctx *ctx, const struct gpt_mode *mode)
{
	const struct gpt_mode *o = &ctx->mode;
	unsigned i, n = 0;

	if (mode->paging != GPT_PAGING_NONE && (mode->maxphyaddr < 32 || mode->maxphyaddr > 52))
		return -SHADOW_EINVAL;
	if (o->paging == mode->paging && o->cr0_wp == mode->cr0_wp && o->cr4_pse == mode->cr4_pse &&
	    o->efer_nxe == mode->efer_nxe && o->maxphyaddr == mode->maxphyaddr)
		return spt_cr3_switch(ctx, mode->cr3);
	/* Every shadow was derived under the old rules (and the source bookkeeping under the
	 * old table shapes): none survives. */
	for (i = 0; i < ctx->roots; i++)
		n += spt_slot_free(ctx, &ctx->slot[i]);
	ctx->mode = *mode;
	ctx->cur = 0;
	spt_trace(ctx, NB_EV_SHADOW_ZAP, mode->cr3, SPT_ZAP_MODE, 0, n, 0, 0);
	return spt_current(ctx) ? 0 : -SHADOW_ENOMEM;
}

void spt_zap_all(struct spt_ctx *ctx)
{
	unsigned i, k, n = 0;

	for (i = 0; i < ctx->roots; i++) {
		struct spt_root_slot *sl = &ctx->slot[i];
		if (i != ctx->cur) {
			n += spt_slot_free(ctx, sl);
			continue;
		}
		for (k = 0; k < 2; k++)
			if (sl->root[k])
				n += spt_zap_range(ctx, sl->root[k], 0, SPT_ENTRIES);
	}
	spt_trace(ctx, NB_EV_SHADOW_ZAP, ctx->mode.cr3, SPT_ZAP_ALL, 0, n, 0, 0);
}

bool spt_take_tlb_flush(struct spt_ctx *ctx)
{
	bool f = ctx->tlb_flush;

	ctx->tlb_flush = false;
	return f;
}

/* ---- fill --------------------------------------------------------------------------------- */

/* Linear address as the bookkeeping uses it: 48 bits in long mode (after the canonical check),
 * 32 bits otherwise. Returns false for a non-canonical long-mode address. */
static bool spt_va48(const struct spt_ctx *ctx, uint64_t gva, uint64_t *va48)
{
	if (ctx->mode.paging == GPT_PAGING_LONG) {
		uint64_t upper = gva >> 47;
		if (upper != 0 && upper != 0x1ffff)
			return false;
		*va48 = gva & SPT_VA_MASK;
	} else {
		*va48 = gva & 0xffffffffull;
	}
	return true;
}

/* Source guest level of a shadow page at slevel on the path of walk w (see the top of file). */
static unsigned spt_src_level(const struct spt_ctx *ctx, const struct gpt_walk *w,
			      unsigned slevel)
{
	unsigned g;

	for (g = w->leaf_level; g >= 1 && g <= w->top_level; g++)
		if (gpt_level_shape(ctx->mode.paging, g).shift >= spt_shift(slevel))
			return g;
	return 0;
}

/*
 * The walk just set accessed/dirty bits in guest tables, and those are writes to guest tables too.
 * In most roles they cannot invalidate anything derived from the entry: A is informational, and
 * D matters only in a leaf, where setting it can only widen what a shadow may grant. The
 * exception is legacy PAE, where bits 8:5 of a PDPE are reserved (§5.2): a frame may be a
 * PD or PT for one walk and the PDPT of some address space (even this one: the 32-byte PDPT may
 * share its frame with a PD), and the A bit set in the first role makes the entry invalid in
 * the second. Drops what derives from such PDPEs and says whether the walk must be redone (it
 * read one of the entries written as its own PDPE, or something derived was dropped).
 */
static bool spt_walk_wrote(struct spt_ctx *ctx, const struct gpt_walk *w)
{
	uint64_t pdpe, hpa;
	unsigned l, level;
	bool again = false;

	if (ctx->mode.paging != GPT_PAGING_PAE)
		return false;
	/* Compare host addresses: two gpas may alias one frame. (The walk read its PDPE, so
	 * that frame is guest memory.) */
	if (ctx->ops->gpa_to_hpa(ctx->opaque, w->entry_gpa[3] & ~0xfffull, &pdpe) < 0)
		return false;
	pdpe |= w->entry_gpa[3] & 0xfff;
	for (l = 1; l <= 2; l++) {
		uint64_t gpa = w->entry_gpa[l];

		if (!w->ad_set[l])
			continue;
		if (spt_zap_derived(ctx, gpa, w->entry[l] & ~w->ad_set[l], w->entry[l], 3, &level))
			again = true;
		if (ctx->ops->gpa_to_hpa(ctx->opaque, gpa & ~0xfffull, &hpa) >= 0 &&
		    (hpa | (gpa & 0xfff)) == pdpe)
			again = true;
	}
	return again;
}

/* The shadow page at `level` on the path of va48 below p, created if missing. */
static struct spt_page *spt_child(struct spt_ctx *ctx, struct spt_page *p, uint64_t va48,
				  const struct gpt_walk *w)
{
	unsigned i = spt_index(va48, p->level), level = p->level - 1u;
	unsigned g = spt_src_level(ctx, w, level);
	uint64_t src = 0, src_gpa = 0;
	struct spt_page *c = p->child[i];

	if (c)
		return c;
	if (g) {
		struct gpt_level_shape s = gpt_level_shape(ctx->mode.paging, g);
		uint64_t frame;
		src_gpa = w->entry_gpa[g] & ~((uint64_t)s.entries * s.entry_size - 1);
		if (ctx->ops->gpa_to_hpa(ctx->opaque, src_gpa & ~0xfffull, &frame) < 0)
			return NULL;
		src = frame | (src_gpa & 0xfff);
	}
	c = spt_page_new(ctx, level, va48, g, src_gpa, src);
	if (!c)
		return NULL;
	p->child[i] = c;
	p->table[i] = c->hpa | SPT_NONLEAF;
	return c;
}

/* Installs leaf spte at entry i of p, keeping the writable-leaf index in step. */
static int spt_set_leaf(struct spt_ctx *ctx, struct spt_page *p, unsigned i, uint64_t spte)
{
	uint64_t old = p->table[i];

	if ((spte & PTE_W) && spt_wleaf_add(ctx, spte & SPT_ADDR_MASK, p, i) < 0)
		return -SHADOW_ENOMEM;
	if ((old & PTE_P) && (old & PTE_W))
		spt_wleaf_remove(ctx, old & SPT_ADDR_MASK, p, i);
	/* A narrower translation must leave the TLB. A wider one need not: the #PF that brought
	 * us here already removed the faulting address's entries (Intel SDM §4.10.4.1; AMD
	 * likewise), so the guest's retry walks the new entry. */
	if ((old & PTE_P) && ((old ^ spte) & SPT_ADDR_MASK || (old & ~spte & PTE_W) ||
			      (spte & ~old & PTE_NX)))
		ctx->tlb_flush = true;
	p->table[i] = spte;
	return 0;
}

int spt_fill(struct spt_ctx *ctx, uint64_t gva, unsigned access, struct spt_fault *fault)
{
	enum spt_root_kind kind = (access & PF_EC_U) ? SPT_ROOT_USER : SPT_ROOT_KERNEL;
	struct spt_root_slot *sl;
	struct spt_page *p;
	struct gpt_walk w;
	uint64_t va48, frame, spte, old, ad_bits = 0;
	bool writable, table, frame_readonly;
	unsigned i;
	int r;

	fault->gpa = 0;
	fault->error_code = 0;
	if (!spt_va48(ctx, gva, &va48))
		return -SHADOW_EINVAL;
	if (spt_host_slot(ctx, spt_index(va48, 4)))
		return -SHADOW_EBUSY;
	sl = spt_current(ctx);
	if (!sl)
		return -SHADOW_ENOMEM;

	/* A/D bits only ever get set, so this settles after a round or two. */
	do {
		r = gpt_walk(ctx->ops, ctx->opaque, &ctx->mode, gva, access, GPT_SET_AD, &w);
		if (r < 0)
			return r;
		if (r == GPT_PAGE_FAULT) {
			fault->error_code = w.error_code;
			return SPT_GUEST_PF;
		}
		if (ctx->ops->trace)
			ad_bits |= spt_walk_ad_bits(&w);
	} while (spt_walk_wrote(ctx, &w));
	fault->gpa = w.gpa;
	r = ctx->ops->gpa_to_hpa(ctx->opaque, w.gpa & ~0xfffull, &frame);
	/* A frame the physical map lets nobody write (a read-only nested-page-table mapping):
	 * a write there is not memory's to take, and no leaf may allow one. */
	if (r < 0 || (r == SHADOW_GPA_READONLY && (access & PF_EC_W)))
		return SPT_MMIO;
	frame_readonly = r == SHADOW_GPA_READONLY;

	/* Build the path first: creating pages may make new frames guest tables, which must be
	 * known before the leaf's rights are decided. */
	p = sl->root[kind];
	while (p->level > 1) {
		p = spt_child(ctx, p, va48, &w);
		if (!p)
			return -SHADOW_ENOMEM;
	}
	i = spt_index(va48, 1);

	if (kind == SPT_ROOT_USER)
		writable = w.writable;
	else
		writable = w.writable || !ctx->mode.cr0_wp;
	/* A clean guest page stays read-only until the guest writes it, so that the write
	 * faults here and the walk sets D in the guest's entry, as the MMU would (§5.4.2). */
	if (w.leaf_level && !(w.entry[w.leaf_level] & PTE_D))
		writable = false;
	table = spt_frame_is_table(ctx, frame);
	if (table || frame_readonly)
		writable = false;

	/* A and D preset: the MMU would otherwise spend locked cycles setting them in a table
	 * nobody reads them from. Guest cache attributes are not mirrored (write-back). */
	spte = frame | PTE_P | PTE_U | PTE_A | (writable ? PTE_W | PTE_D : 0) |
	       (w.nx ? PTE_NX : 0);
	old = p->table[i];
	r = spt_set_leaf(ctx, p, i, spte);
	if (r < 0)
		return r;
	ctx->stats.fills++;
	if (ctx->ops->trace)
		spt_trace_walk(ctx, gva, &w, ad_bits);
	spt_trace(ctx, NB_EV_SHADOW_FILL, gva, old, spte, 1, access, w.gpa);
	return (table && (access & PF_EC_W)) ? SPT_PT_WRITE : SPT_FILLED;
}

/* ---- invalidation ------------------------------------------------------------------------- */

/*
 * Drops the shadow entries derived from the guest entries that differ between old and new_val,
 * the 8 aligned bytes at gpa (only from tables of guest level only_level, if not 0). Returns the
 * entries dropped; *level = guest level of the tables in that frame (0 when no shadow derives
 * from it).
 */
static unsigned spt_zap_derived(struct spt_ctx *ctx, uint64_t gpa, uint64_t old,
				uint64_t new_val, unsigned only_level, unsigned *level)
{
	uint64_t frame, diff = old ^ new_val;
	unsigned qoff = (unsigned)(gpa & 0xff8), total = 0;
	struct spt_page *p;

	*level = 0;
	if (diff == 0 || ctx->ops->gpa_to_hpa(ctx->opaque, gpa & ~0xfffull, &frame) < 0)
		return 0;
again:
	for (p = ctx->pt_hash[spt_hash(frame)]; p; p = p->hnext) {
		struct gpt_level_shape g;
		unsigned off, tbytes, toff = (unsigned)(p->src & 0xfff);

		if ((p->src & ~0xfffull) != frame || (only_level && p->src_level != only_level))
			continue;
		g = gpt_level_shape(ctx->mode.paging, p->src_level);
		tbytes = (unsigned)g.entries * g.entry_size;
		*level = p->src_level;
		for (off = 0; off < 8; off += g.entry_size) {
			uint64_t mask = g.entry_size == 8 ? ~0ull : 0xffffffffull << (8 * off);
			unsigned eoff = qoff + off, lo, hi, n;

			if (!(diff & mask) || eoff < toff || eoff >= toff + tbytes)
				continue;
			if (!spt_derived_range(ctx, p, (eoff - toff) / g.entry_size, &lo, &hi))
				continue;
			n = spt_zap_range(ctx, p, lo, hi);
			if (n) {
				total += n;
				spt_trace(ctx, NB_EV_SHADOW_ZAP,
					  spt_canonical(p->gva + ((uint64_t)lo << spt_shift(p->level))),
					  SPT_ZAP_PT_WRITE, 0, n, 0, 0);
				/* Freed pages may have left this chain: look again. */
				goto again;
			}
		}
	}
	return total;
}

unsigned spt_pt_write(struct spt_ctx *ctx, uint64_t gpa, uint64_t old, uint64_t new_val)
{
	unsigned level, n;

	ctx->stats.pt_writes++;
	n = spt_zap_derived(ctx, gpa, old, new_val, 0, &level);
	spt_trace(ctx, NB_EV_PT_WRITE, gpa, old, new_val, level, 0, 0);
	return n;
}

void spt_invlpg(struct spt_ctx *ctx, uint64_t gva)
{
	uint64_t va48;
	unsigned i, k, n = 0;

	if (!spt_va48(ctx, gva, &va48) || spt_host_slot(ctx, spt_index(va48, 4)))
		goto out;
	for (i = 0; i < ctx->roots; i++) {
		for (k = 0; k < 2; k++) {
			struct spt_page *p = ctx->slot[i].root[k];

			while (p) {
				unsigned x = spt_index(va48, p->level), lo, hi;
				struct spt_page *c;

				if (p->level == 1) {
					n += spt_zap_entry(ctx, p, x);
					break;
				}
				c = p->child[x];
				/*
				 * A child derived from the same guest table as p sits under a
				 * guest large page: drop every shadow entry of that page (a
				 * 4 MiB page spans two shadow PDEs), not just this 4 KiB.
				 */
				if (c && p->src_level && c->src_level == p->src_level) {
					struct gpt_level_shape g =
						gpt_level_shape(ctx->mode.paging, p->src_level);
					unsigned j = (unsigned)(va48 >> g.shift) & (g.entries - 1u);
					if (spt_derived_range(ctx, p, j, &lo, &hi))
						n += spt_zap_range(ctx, p, lo, hi);
					break;
				}
				p = c;
			}
		}
	}
out:
	spt_trace(ctx, NB_EV_INVLPG, gva, 0, 0, n, 0, 0);
}

/* ---- the hypervisor's own mappings -------------------------------------------------------- */

/* The template PML4 holding the hypervisor's slots, created on first use. */
static struct spt_page *spt_host_template(struct spt_ctx *ctx)
{
	if (!ctx->host)
		ctx->host = spt_page_new(ctx, 4, 0, 0, 0, 0);
	return ctx->host;
}

/* PML4 slot `slot` of the template is set: make it the hypervisor's in every root, dropping
 * what guests had there. */
static void spt_take_slot(struct spt_ctx *ctx, unsigned slot)
{
	unsigned i, k, n = 0;

	ctx->host_slots[slot / 64] |= 1ull << (slot % 64);
	for (i = 0; i < ctx->roots; i++) {
		for (k = 0; k < 2; k++) {
			struct spt_page *r = ctx->slot[i].root[k];
			if (!r)
				continue;
			n += spt_zap_entry(ctx, r, slot);
			r->table[slot] = ctx->host->table[slot];
		}
	}
	ctx->tlb_flush = true;
	if (n)
		spt_trace(ctx, NB_EV_SHADOW_ZAP, spt_canonical((uint64_t)slot << 39), SPT_ZAP_HOST, 0,
			  n, 0, 0);
}

int spt_map_host(struct spt_ctx *ctx, uint64_t va, uint64_t hpa, uint64_t flags)
{
	uint64_t va48 = va & SPT_VA_MASK, upper = va >> 47;
	unsigned slot = spt_index(va48, 4);
	struct spt_page *p;

	if ((va & 0xfff) || (hpa & ~SPT_ADDR_MASK) || (upper != 0 && upper != 0x1ffff) ||
	    (flags & ~(PTE_W | PTE_NX | PTE_G)))
		return -SHADOW_EINVAL;
	p = spt_host_template(ctx);
	if (!p)
		return -SHADOW_ENOMEM;
	if (spt_host_slot(ctx, slot) && !p->child[slot])
		return -SHADOW_EBUSY; /* a slot given whole with spt_map_host_slot */
	/* Walk (building) the host tree. Non-leaf entries have U=0 so that the whole slot is
	 * supervisor-only whatever a leaf says (§5.7). */
	while (p->level > 1) {
		unsigned x = spt_index(va48, p->level);
		if (!p->child[x]) {
			struct spt_page *c = spt_page_new(ctx, p->level - 1u, va48, 0, 0, 0);
			if (!c)
				return -SHADOW_ENOMEM;
			p->child[x] = c;
			p->table[x] = c->hpa | PTE_P | PTE_W | PTE_A;
		}
		p = p->child[x];
	}
	p->table[spt_index(va48, 1)] = hpa | PTE_P | PTE_A | PTE_D | flags;
	ctx->tlb_flush = true;
	if (!spt_host_slot(ctx, slot))
		spt_take_slot(ctx, slot);
	return 0;
}

int spt_map_host_slot(struct spt_ctx *ctx, unsigned slot, uint64_t pdpt_hpa)
{
	struct spt_page *h;

	if (slot >= SPT_ENTRIES || (pdpt_hpa & ~SPT_ADDR_MASK))
		return -SHADOW_EINVAL;
	h = spt_host_template(ctx);
	if (!h)
		return -SHADOW_ENOMEM;
	if (spt_host_slot(ctx, slot))
		return -SHADOW_EBUSY;
	/* No child page: the table is the caller's, never freed or zapped here. */
	h->table[slot] = pdpt_hpa | PTE_P | PTE_W | PTE_A;
	spt_take_slot(ctx, slot);
	return 0;
}
