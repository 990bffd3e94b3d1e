/*
 * The shadow page table tests' simulated machine and property engine (see spt_sim.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/spt_sim.h"

static int sim_hframe(const struct sim *s, uint64_t gpa)
{
	uint64_t g = gpa >> 12;

	if (s->window && g >= s->window && g < s->window + 8u)
		return (int)(G_FRAMES - 8 + (g - s->window));
	return g < G_FRAMES ? s->gmap[g] : -1;
}

int sim_read(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	struct sim *s = opaque;
	int h = sim_hframe(s, gpa);

	if (h < 0 || (gpa & 0xfff) + len > 4096)
		return -1;
	memcpy(buf, s->hmem[h] + (gpa & 0xfff), len);
	return 0;
}

int sim_write(void *opaque, uint64_t gpa, const void *buf, unsigned len)
{
	struct sim *s = opaque;
	int h = sim_hframe(s, gpa);

	if (h < 0 || (gpa & 0xfff) + len > 4096)
		return -1;
	memcpy(s->hmem[h] + (gpa & 0xfff), buf, len);
	return 0;
}

int sim_gpa_to_hpa(void *opaque, uint64_t gpa, uint64_t *hpa)
{
	int h = sim_hframe(opaque, gpa);

	if (h < 0)
		return -1;
	*hpa = H_GUEST_BASE + (uint64_t)h * 4096;
	return gpa >> 12 < G_FRAMES && ((const struct sim *)opaque)->readonly[gpa >> 12] ? SHADOW_GPA_READONLY : 0;
}

static void *sim_alloc(void *opaque, uint64_t *hpa)
{
	struct sim *s = opaque;
	unsigned i;

	if (s->budget != NO_BUDGET && s->live >= s->budget)
		return NULL;
	for (i = 0; i < MAX_SPAGES; i++) {
		if (!s->spage[i]) {
			s->spage[i] = aligned_alloc(4096, 4096);
			if (!s->spage[i])
				spt_sim_fail("out of host memory for a shadow page");
			memset(s->spage[i], 0, 4096);
			s->live++;
			*hpa = H_SHADOW_BASE + (uint64_t)i * 4096;
			return s->spage[i];
		}
	}
	return NULL;
}

static void sim_free(void *opaque, void *page, uint64_t hpa)
{
	struct sim *s = opaque;
	uint64_t i = (hpa - H_SHADOW_BASE) / 4096;

	if (hpa < H_SHADOW_BASE || i >= MAX_SPAGES || s->spage[i] != page)
		spt_sim_fail("free_page(%p, %#llx): not a page this machine gave out", page,
			 (unsigned long long)hpa);
	free(page);
	s->spage[i] = NULL;
	s->live--;
}

static void sim_trace(void *opaque, const struct nb_trace_record *rec)
{
	struct sim *s = opaque;

	if (rec->kind >= NB_EV_KIND_COUNT)
		spt_sim_fail("trace record of kind %u", rec->kind);
	s->traces[rec->kind]++;
	s->last[rec->kind] = *rec;
}

const struct shadow_ops sim_ops = {
	.read_gpa = sim_read,
	.write_gpa = sim_write,
	.gpa_to_hpa = sim_gpa_to_hpa,
	.alloc_page = sim_alloc,
	.free_page = sim_free,
	.trace = sim_trace,
};

/* The MMU's view of a shadow page: only pages this machine handed out are tables. */
uint64_t *sim_table(const struct sim *s, uint64_t hpa)
{
	uint64_t i = (hpa - H_SHADOW_BASE) / 4096;

	if (hpa < H_SHADOW_BASE || i >= MAX_SPAGES || !s->spage[i])
		return NULL;
	return s->spage[i];
}

struct sim *sim_new(void)
{
	struct sim *s = calloc(1, sizeof(*s));
	unsigned g;

	if (!s)
		spt_sim_fail("out of memory for the simulated machine");
	for (g = 0; g < G_FRAMES; g++)
		s->gmap[g] = (int)g;
	s->budget = NO_BUDGET;
	return s;
}

void sim_delete(struct sim *s)
{
	if (s->live)
		spt_sim_fail("%u shadow pages were never given back", s->live);
	free(s);
}

/* The shadow leaf the MMU would use for va from root (0 if none); *u_all = U/S at every level. */
uint64_t shadow_leaf(const struct sim *s, uint64_t root, uint64_t va, bool *u_all)
{
	uint64_t hpa = root, e = 0;
	int level;

	*u_all = true;
	for (level = 4; level >= 1; level--) {
		uint64_t *t = sim_table(s, hpa);
		if (!t)
			spt_sim_fail("shadow entry points at %#llx, which is not a shadow table",
				 (unsigned long long)hpa);
		e = t[(va >> (12 + 9 * (level - 1))) & 511];
		if (!(e & PTE_P))
			return 0;
		*u_all = *u_all && (e & PTE_U);
		hpa = e & ADDR_MASK;
	}
	return e;
}

/* ---- the property engine ------------------------------------------------------------------ */

static uint64_t rnd64(struct prop *p)
{
	uint64_t z;

	if (p->in)
		return fuzz_u64(p->in);
	/* splitmix64: small, fast, and every seed is a good one. */
	z = (p->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rnd(struct prop *p, unsigned n)
{
	if (p->in)
		return fuzz_below(p->in, n);
	return (unsigned)(rnd64(p) % n);
}

#define PROP_FAIL(p, ...)                                                                     \
	do {                                                                                  \
		char msg_[512];                                                               \
		snprintf(msg_, sizeof(msg_), __VA_ARGS__);                                    \
		spt_sim_fail("seed %#llx (NB_TEST_SEED), mode %d, run %u, op %u: %s",          \
			 (unsigned long long)(p)->seed, (p)->mode.paging, (p)->run, (p)->op,   \
			 msg_);                                                               \
	} while (0)

static unsigned entry_size(const struct prop *p)
{
	return p->mode.paging == GPT_PAGING_32 ? 4 : 8;
}

/* Table indices the random guest populates and the random addresses use. */
static unsigned pick_index(struct prop *p, unsigned level)
{
	static const unsigned idx512[] = { 0, 1, 2, 511 }, idx1024[] = { 0, 1, 2, 1023 };
	unsigned entries = gpt_level_shape(p->mode.paging, level).entries;

	if (entries == 4)
		return rnd(p, 4);
	if (rnd(p, level == 1 ? 4 : 16) == 0)
		return rnd(p, entries); /* mostly unpopulated: faults, or frames of a large page */
	return entries == 1024 ? idx1024[rnd(p, 4)] : idx512[rnd(p, 4)];
}

static uint64_t rand_gva(struct prop *p)
{
	unsigned level, top = gpt_top_level(p->mode.paging);
	uint64_t gva = rnd64(p) & 0xfff;

	if (top == 0)
		return rnd64(p) & ((G_FRAMES + 4) * 4096ull - 1);
	for (level = top; level >= 1; level--) {
		struct gpt_level_shape s = gpt_level_shape(p->mode.paging, level);
		unsigned i = pick_index(p, level);
		if (level == 4 && rnd(p, 50) == 0)
			i = p->host_slot;
		gva |= (uint64_t)i << s.shift;
	}
	if (p->mode.paging == GPT_PAGING_LONG && (gva >> 47))
		gva |= 0xffff000000000000ull;
	return gva;
}

/* A random guest entry: mostly present, mostly permissive, pointing at a random frame or
 * mapping a large page at 0; sometimes with a reserved bit. */
static uint64_t rand_entry(struct prop *p)
{
	bool wide = entry_size(p) == 8;
	uint64_t e;

	if (rnd(p, 100) < 8)
		return rnd64(p) & ~PTE_P & (wide ? ~0ull : 0xffffffffull);
	if (p->mode.paging == GPT_PAGING_PAE && rnd(p, 2))
		return PTE_P | (uint64_t)rnd(p, G_FRAMES) << 12; /* a valid PDPE (no rights bits) */
	e = PTE_P | (rnd(p, 100) < 85 ? PTE_W : 0) | (rnd(p, 100) < 90 ? PTE_U : 0) |
	    (rnd(p, 2) ? PTE_A : 0) | (rnd(p, 100) < 70 ? PTE_D : 0);
	if (wide && rnd(p, 100) < 10)
		e |= PTE_NX;
	if (rnd(p, 100) < 12)
		e |= PTE_PS; /* a large page at 0 at levels 2 and 3, PAT in a PTE, reserved in a PML4E */
	else
		e |= (uint64_t)rnd(p, G_FRAMES + 2) << 12; /* a few beyond RAM */
	if (rnd(p, 100) < 3)
		e |= wide ? 1ull << (40 + rnd(p, 12)) : 1ull << 21;
	return e;
}

/* Does any shadow leaf, in any cached root, let the guest write host frame h? */
static bool shadow_maps_writable(struct prop *p, uint64_t hpa);

/* The guest writes `size` bytes at gpa (a store of its own). When no shadow lets it write the
 * frame, the store traps and the hypervisor emulates it and reports it, as nbvmm will. */
static void guest_store(struct prop *p, uint64_t gpa, uint64_t v, unsigned size)
{
	uint64_t q = gpa & ~7ull, old = 0, new_val = 0, hpa;

	if (sim_gpa_to_hpa(p->s, gpa, &hpa) < 0)
		return;
	if (shadow_maps_writable(p, hpa)) {
		sim_write(p->s, gpa, &v, size);
		p->direct++;
		return;
	}
	sim_read(p->s, q, &old, 8);
	sim_write(p->s, gpa, &v, size);
	sim_read(p->s, q, &new_val, 8);
	spt_pt_write(&p->ctx, gpa, old, new_val);
	p->emulated++;
}

static void rand_table_store(struct prop *p)
{
	unsigned g = rnd(p, G_FRAMES), es = entry_size(p);
	unsigned level = 1 + rnd(p, gpt_top_level(p->mode.paging));
	uint64_t gpa = (uint64_t)g * 4096 + (uint64_t)pick_index(p, level) * es;
	uint64_t v = rand_entry(p);

	if (es == 8 && rnd(p, 4) == 0) /* half an entry, as 32-bit PAE kernels write them */
		guest_store(p, gpa + 4 * rnd(p, 2), v >> (32 * rnd(p, 2)), 4);
	else
		guest_store(p, gpa, v, es);
}

/* Walks one shadow table (level, covering va) and checks every present entry under it. */
static void check_table(struct prop *p, uint64_t cr3, enum spt_root_kind kind, uint64_t hpa,
			unsigned level, uint64_t va, unsigned pass);

static void check_leaf(struct prop *p, uint64_t cr3, enum spt_root_kind kind, uint64_t va,
		       uint64_t e, unsigned pass)
{
	struct gpt_mode m = p->mode;
	unsigned acc = kind == SPT_ROOT_USER ? PF_EC_U : 0, level;
	uint64_t hpa = e & ADDR_MASK, want;
	struct gpt_walk w;
	int r;

	p->leaves++;
	m.cr3 = cr3;
	if (!(e & PTE_U))
		PROP_FAIL(p, "guest leaf for %#llx has U=0: ring 3 could not use it",
			  (unsigned long long)va);
	r = gpt_walk(&sim_ops, p->s, &m, va, acc, 0, &w);
	if (r != 0)
		PROP_FAIL(p, "%s root (cr3 %#llx) maps %#llx -> %#llx but the guest's walk gives %d "
			  "(error code %#x)", kind ? "user" : "kernel", (unsigned long long)cr3,
			  (unsigned long long)va, (unsigned long long)hpa, r, w.error_code);
	if (sim_gpa_to_hpa(p->s, w.gpa, &want) < 0 || want != hpa)
		PROP_FAIL(p, "%#llx: shadow gives %#llx, guest walk gives gpa %#llx, physical map "
			  "gives %#llx", (unsigned long long)va, (unsigned long long)hpa,
			  (unsigned long long)w.gpa,
			  (unsigned long long)(sim_gpa_to_hpa(p->s, w.gpa, &want) < 0 ? 0 : want));
	if (pass == 0) {
		for (level = w.top_level; level >= w.leaf_level && level > 0; level--) {
			uint64_t t;
			if (sim_gpa_to_hpa(p->s, w.entry_gpa[level], &t) == 0)
				p->table_frame[(t - H_GUEST_BASE) / 4096] = true;
		}
		if (e & PTE_W)
			p->writable_frame[(hpa - H_GUEST_BASE) / 4096] = true;
		return;
	}
	if (e & PTE_W) {
		if (gpt_walk(&sim_ops, p->s, &m, va, acc | PF_EC_W, 0, &w) != 0)
			PROP_FAIL(p, "%#llx writable in the %s root but the guest forbids the write",
				  (unsigned long long)va, kind ? "user" : "kernel");
		if (w.leaf_level && !(w.entry[w.leaf_level] & PTE_D))
			PROP_FAIL(p, "%#llx writable while the guest's entry is clean",
				  (unsigned long long)va);
		if (p->table_frame[(hpa - H_GUEST_BASE) / 4096])
			PROP_FAIL(p, "%#llx writable, but its frame %#llx holds a guest page table "
				  "a shadow translation depends on", (unsigned long long)va,
				  (unsigned long long)hpa);
	}
	if (((e & PTE_NX) != 0) != w.nx)
		PROP_FAIL(p, "%#llx: shadow NX %d, guest NX %d", (unsigned long long)va,
			  (e & PTE_NX) != 0, w.nx);
}

static void check_table(struct prop *p, uint64_t cr3, enum spt_root_kind kind, uint64_t hpa,
			unsigned level, uint64_t va, unsigned pass)
{
	const uint64_t *t = sim_table(p->s, hpa);
	unsigned i, h, found;

	if (!t)
		PROP_FAIL(p, "shadow entry points at %#llx, not a shadow table",
			  (unsigned long long)hpa);
	for (i = 0; i < 512; i++) {
		uint64_t e = t[i], v = va | ((uint64_t)i << (12 + 9 * (level - 1)));

		if (!(e & PTE_P))
			continue;
		if (level == 4 && (v >> 47))
			v |= 0xffff000000000000ull;
		if (level > 1 && (e & PTE_PS))
			PROP_FAIL(p, "large shadow entry at level %u", level);
		if (level == 4 && i == p->host_slot && p->nhost) {
			/* The hypervisor's slot: supervisor-only, exactly its mappings. */
			if (e & PTE_U)
				PROP_FAIL(p, "hypervisor slot reachable from ring 3");
			for (h = 0, found = 0; h < p->nhost; h++) {
				bool u_all;
				uint64_t l = shadow_leaf(p->s, hpa, p->host_va[h], &u_all);
				found += (l & ADDR_MASK) == p->host_hpa[h] && !u_all;
			}
			if (found != p->nhost)
				PROP_FAIL(p, "%u of %u hypervisor mappings missing", p->nhost - found,
					  p->nhost);
			continue;
		}
		if (level > 1)
			check_table(p, cr3, kind, e & ADDR_MASK, level - 1, v, pass);
		else
			check_leaf(p, cr3, kind, v, e, pass);
	}
}

void check_shadows(struct prop *p)
{
	unsigned i, k, pass, h;

	p->checks++;
	for (h = 0; h < G_FRAMES; h++)
		p->table_frame[h] = p->writable_frame[h] = false;
	/* Pass 0 collects the frames translations depend on; pass 1 checks rights against it. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < SPT_ROOT_CACHE; i++) {
			for (k = 0; k < 2; k++) {
				uint64_t cr3, r = spt_cached_root(&p->ctx, i, k, &cr3);
				if (r)
					check_table(p, cr3, k, r, 4, 0, pass);
			}
		}
	}
	if (p->s->live != p->ctx.stats.pages)
		PROP_FAIL(p, "%u pages live, spt counts %llu", p->s->live,
			  (unsigned long long)p->ctx.stats.pages);
}

static bool shadow_maps_writable(struct prop *p, uint64_t hpa)
{
	check_shadows(p);
	return p->writable_frame[(hpa - H_GUEST_BASE) / 4096];
}

/* What the fill must answer, from the guest's tables before it runs. */
static void check_fill(struct prop *p, uint64_t gva, unsigned access)
{
	struct gpt_walk w;
	struct spt_fault f;
	struct gpt_mode m = p->mode;
	uint64_t hpa, va48 = gva & ((1ull << 48) - 1);
	int want, got;

	want = gpt_walk(&sim_ops, p->s, &m, gva, access, 0, &w);
	if (p->nhost && m.paging == GPT_PAGING_LONG && ((va48 >> 39) & 511) == p->host_slot)
		want = -SHADOW_EBUSY;
	else if (want == GPT_PAGE_FAULT)
		want = SPT_GUEST_PF;
	else if (want == 0 && sim_gpa_to_hpa(p->s, w.gpa, &hpa) < 0)
		want = SPT_MMIO;
	got = spt_fill(&p->ctx, gva, access, &f);
	if (got == SPT_GUEST_PF && want != SPT_GUEST_PF &&
	    gpt_walk(&sim_ops, p->s, &m, gva, access, 0, &w) == GPT_PAGE_FAULT) {
		/* The fill's own accessed/dirty updates changed the tables under it (an entry
		 * serving at two levels): the fault must be what the tables say now. */
		want = SPT_GUEST_PF;
		p->ad_refaults++;
	}
	if (got == -SHADOW_ENOMEM) {
		p->oom++;
		spt_zap_all(&p->ctx);
		p->s->budget = NO_BUDGET;
		return;
	}
	if (want == 0 && (got == SPT_FILLED || got == SPT_PT_WRITE)) {
		p->filled++;
		if (got == SPT_PT_WRITE) {
			if (!(access & PF_EC_W))
				PROP_FAIL(p, "SPT_PT_WRITE for a read of %#llx", (unsigned long long)gva);
			p->pt_write_fills++;
			guest_store(p, f.gpa & ~(uint64_t)(entry_size(p) - 1), rand_entry(p),
				    entry_size(p));
		}
		return;
	}
	if (got != want)
		PROP_FAIL(p, "fill of %#llx (access %#x): expected %d, got %d",
			  (unsigned long long)gva, access, want, got);
	if (got == SPT_GUEST_PF) {
		p->guest_pf++;
		if (f.error_code != w.error_code)
			PROP_FAIL(p, "fill of %#llx: #PF error code %#x, the walk says %#x",
				  (unsigned long long)gva, f.error_code, w.error_code);
	}
	if (got == SPT_MMIO)
		p->mmio++;
}

void prop_new_guest(struct prop *p, enum gpt_paging paging)
{
	unsigned g, i, holes, es;
	static const unsigned idx8[] = { 0, 1, 2, 3, 4, 5, 6, 7, 511 }, idx4[] = { 0, 1, 2, 3, 1023 };

	p->s = sim_new();
	memset(&p->mode, 0, sizeof(p->mode));
	p->mode.paging = paging;
	p->mode.cr0_wp = rnd(p, 2);
	p->mode.cr4_pse = rnd(p, 4) != 0;
	p->mode.efer_nxe = paging != GPT_PAGING_32 && rnd(p, 4) != 0;
	p->mode.maxphyaddr = 40;
	es = paging == GPT_PAGING_32 ? 4 : 8;

	/* Physical map: a random permutation, a few holes, sometimes one alias. */
	for (g = 0; g < G_FRAMES; g++)
		p->s->gmap[g] = (int)g;
	for (g = G_FRAMES - 1; g > 0; g--) {
		unsigned j = rnd(p, g + 1);
		int t = p->s->gmap[g];
		p->s->gmap[g] = p->s->gmap[j];
		p->s->gmap[j] = t;
	}
	for (holes = rnd(p, 4); holes; holes--)
		p->s->gmap[1 + rnd(p, G_FRAMES - 1)] = -1;
	if (rnd(p, 3) == 0)
		p->s->gmap[rnd(p, G_FRAMES)] = p->s->gmap[rnd(p, G_FRAMES)];

	/* Every frame may serve as a table at any level, or as data: that is what makes page
	 * tables and data share frames, the case write protection exists for. */
	for (g = 0; g < G_FRAMES; g++) {
		if (p->s->gmap[g] < 0)
			continue;
		for (i = 0; i < (es == 8 ? 9u : 5u); i++) {
			uint64_t v = rand_entry(p);
			sim_write(p->s, (uint64_t)g * 4096 + (es == 8 ? idx8[i] : idx4[i]) * es, &v, es);
		}
	}
	for (i = 0; i < 6; i++) {
		uint64_t base = (uint64_t)rnd(p, G_FRAMES) * 4096;
		p->cr3s[i] = paging == GPT_PAGING_PAE ? base + 32 * rnd(p, 2) : base;
	}
	p->mode.cr3 = p->cr3s[0];
	/* The hypervisor's slot: one the guest cannot reach in legacy modes, or one the random
	 * long-mode guest rarely uses. */
	p->host_slot = paging == GPT_PAGING_LONG ? 300 : 511;
	p->nhost = 0;
	p->s->budget = rnd(p, 5) == 0 ? 8 + rnd(p, 40) : NO_BUDGET;
	if (spt_init(&p->ctx, &sim_ops, p->s, &p->mode) < 0) {
		p->s->budget = NO_BUDGET;
		if (spt_init(&p->ctx, &sim_ops, p->s, &p->mode) < 0)
			spt_sim_fail("spt_init fails with no allocation limit");
	}
}

void prop_step(struct prop *p)
{
	unsigned op = rnd(p, 100);

	p->ops++;
	if (op < 45) {
		unsigned access = (rnd(p, 100) < 40 ? PF_EC_W : 0) | (rnd(p, 2) ? PF_EC_U : 0);
		if (!(access & PF_EC_W) && rnd(p, 100) < 15)
			access |= PF_EC_ID;
		check_fill(p, rand_gva(p), access);
	} else if (op < 72) {
		rand_table_store(p);
	} else if (op < 82) {
		p->mode.cr3 = p->cr3s[rnd(p, 6)];
		if (spt_cr3_switch(&p->ctx, p->mode.cr3) == -SHADOW_ENOMEM) {
			p->oom++;
			p->s->budget = NO_BUDGET;
		}
	} else if (op < 90) {
		spt_invlpg(&p->ctx, rand_gva(p));
	} else if (op < 92) {
		spt_zap_all(&p->ctx);
	} else if (op < 95) {
		if (rnd(p, 2) || p->mode.paging == GPT_PAGING_32)
			p->mode.cr0_wp = !p->mode.cr0_wp;
		else
			p->mode.efer_nxe = !p->mode.efer_nxe;
		if (spt_set_mode(&p->ctx, &p->mode) == -SHADOW_ENOMEM) {
			p->oom++;
			p->s->budget = NO_BUDGET;
		}
	} else if (p->nhost < 4) {
		uint64_t va = ((uint64_t)p->host_slot << 39) | ((uint64_t)rnd(p, 1u << 20) << 12);
		unsigned h;
		if (va >> 47)
			va |= 0xffff000000000000ull;
		/* A second page at the same address would replace the first, which the checker
		 * still expects there: map each address once. */
		for (h = 0; h < p->nhost && p->host_va[h] != va; h++)
			;
		if (h == p->nhost) {
			p->host_va[p->nhost] = va;
			p->host_hpa[p->nhost] = H_HYP_BASE + (uint64_t)p->nhost * 4096;
			if (spt_map_host(&p->ctx, va, p->host_hpa[p->nhost], rnd(p, 2) ? PTE_W : 0) == 0)
				p->nhost++;
			else
				p->s->budget = NO_BUDGET;
		}
	}
	check_shadows(p);
}
