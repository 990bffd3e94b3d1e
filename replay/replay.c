/*
 * The replay engine (the model is described in replay.h). Values of guest memory and shadow state
 * are kept in sparse maps (rmap.h); "forgetting" an entry makes it unknown again, so that the
 * next observation defines it instead of being checked against it. Every rule below forgets
 * rather than guesses whenever the trace cannot say what happened: a mismatch must always be a
 * real disagreement between recorded events.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/host_pages.h"
#include "replay/replay.h"
#include "replay/rmap.h"
#include "shadow/gpt_walk.h"
#include "shadow/spt.h"

#define ADDR_MASK 0x000ffffffffff000ull /* address bits of a long-mode entry or CR3 */
#define VA48_MASK ((1ull << 48) - 1)
#define PTE_AD (PTE_A | PTE_D)
#define CR3_UNKNOWN UINT64_MAX /* leaves filled before the VM's CR3 was known */
/* The CR3 bits some paging mode tells address spaces apart by (legacy PAE: 31:5; long mode:
 * 51:12): leaves are filed under these, finer than any mode's own key (see merge_spaces). */
#define CR3_FINE_MASK 0x000fffffffffffe0ull

/* The root cache as spt.c keeps it in one paging mode, over a guest with no memory contents
 * (no walk ever reaches memory). */
struct replay_cache {
	struct spt_ctx spt;
	bool live;
	struct nb_trace_record emitted_cr3, emitted_evict; /* what spt emitted for the last switch */
	bool got_cr3, got_evict;
};

struct replay_vm {
	struct nb_replay *r;
	uint8_t rec_level, guest_level;
	uint16_t vm_id;
	/*
	 * The trace does not record the guest's paging mode, and spt.c keys cached roots by it (no
	 * paging: every CR3 shares one shadow; 32-bit and long mode: the table frame; legacy PAE:
	 * the 32-byte PDPT). So the root cache is replayed once per paging mode the guest may be
	 * in: all four after a mode change (SPT_ZAP_MODE) and at the start (a Multiboot guest
	 * starts unpaged, an ELF64 one in long mode, a nested one as its VMCB says), fewer as
	 * events rule modes out (a CR3 switch's recorded outcome, a fill's address, a table level).
	 */
	struct replay_cache cache[REPLAY_MODES]; /* indexed by enum gpt_paging; live for modes only */
	unsigned modes;       /* REPLAY_MODE(m) for each paging mode m the guest may be in */
	int64_t modes_event;  /* the event that last changed `modes` (0: none) */
	bool cr3_known;
	uint64_t cr3;
	int64_t cr3_event;
	struct rmap mem;    /* (gpa & ~7, 0) -> v0 value, v1 table level, v2 event */
	struct rmap leaves; /* (cr3 & CR3_FINE_MASK or CR3_UNKNOWN, page | root kind) -> v0 shadow
			     * leaf, v1 gpa, v2 event, v3 nonzero while merging: conflicting */
	struct rmap spaces; /* (cr3 & CR3_FINE_MASK, 0) -> v[m] the key spt.c files that CR3's
			     * roots under in paging mode m (for the modes the guest may be in) */
	struct rmap phys;   /* (guest frame, 0) -> v0 host frame, v1 event */
	struct rmap tables; /* (guest frame, 0) -> v0 table level (0 unknown), v1 event */
	bool zap_pending;   /* PT_WRITE zaps seen; their PT_WRITE record says the level */
	bool evict_pending; /* an EVICT zap seen; its CR3_SWITCH follows */
	uint64_t evict_cr3;
	int64_t evict_event;
	bool walk_unknown;  /* the current re-walk read an entry the model does not know */
	/* The GPT_WALK record just before (valid for the next event only, the fill it precedes):
	 * the paging mode and CR3 it was made in, for its gva. */
	bool walk_valid;
	uint64_t walk_gva;
	struct gpt_mode walk_mode;
};

struct nb_replay {
	nb_replay_mismatch_fn fn;
	void *opaque;
	struct replay_vm **vm;
	unsigned nvm;
	struct nb_replay_stats stats;
};

/* ---- reporting ---------------------------------------------------------------------------- */

static void mismatch(struct replay_vm *v, int64_t id, int64_t since, const char *check,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void mismatch(struct replay_vm *v, int64_t id, int64_t since, const char *check,
		     const char *fmt, ...)
{
	struct nb_replay_mismatch m = {.event_id = id, .since_id = since, .rec_level = v->rec_level,
				       .guest_level = v->guest_level, .vm_id = v->vm_id, .check = check};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m.detail, sizeof(m.detail), fmt, ap);
	va_end(ap);
	v->r->stats.mismatches++;
	if (v->r->fn)
		v->r->fn(v->r->opaque, &m);
}

/* "paging mode 32-bit, PAE or long" */
static const char *modes_name(unsigned modes, char *buf, size_t size)
{
	static const char *const name[REPLAY_MODES] = {"none", "32-bit", "PAE", "long"};
	unsigned m, named = 0, left = (unsigned)__builtin_popcount(modes);
	size_t len = (size_t)snprintf(buf, size, "paging mode");

	for (m = 0; m < REPLAY_MODES; m++) {
		if (!(modes & REPLAY_MODE(m)))
			continue;
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s",
					!named ? " " : named + 1 < left ? ", " : " or ", name[m]);
		named++;
	}
	return buf;
}

/* ---- the replayed root caches: spt.c over a guest with no memory contents, per paging mode --- */

static void cache_trace(void *opaque, const struct nb_trace_record *rec)
{
	struct replay_cache *c = opaque;

	if (rec->kind == NB_EV_CR3_SWITCH) {
		c->emitted_cr3 = *rec;
		c->got_cr3 = true;
	} else if (rec->kind == NB_EV_SHADOW_ZAP && rec->old_val == SPT_ZAP_EVICT) {
		c->emitted_evict = *rec;
		c->got_evict = true;
	}
}

static const struct shadow_ops cache_ops = {
	.read_gpa = replay_no_read,
	.write_gpa = replay_no_write,
	.gpa_to_hpa = replay_identity_gpa_to_hpa,
	.alloc_page = replay_alloc_page,
	.free_page = replay_free_page,
	.trace = cache_trace,
};

static bool cache_live(const struct replay_vm *v)
{
	unsigned m;

	for (m = 0; m < REPLAY_MODES; m++)
		if (v->cache[m].live)
			return true;
	return false;
}

/* Keeps the replayed caches of the paging modes in `modes` only. */
static void cache_keep(struct replay_vm *v, unsigned modes)
{
	unsigned m;

	for (m = 0; m < REPLAY_MODES; m++) {
		if (v->cache[m].live && !(modes & REPLAY_MODE(m))) {
			spt_destroy(&v->cache[m].spt);
			v->cache[m].live = false;
		}
	}
	v->modes = modes;
}

/* Records, for the current CR3, the key each replayed cache files its roots under. */
static int note_space(struct replay_vm *v)
{
	struct rmap_entry *s;
	unsigned m;
	int created;

	s = rmap_put(&v->spaces, v->cr3 & CR3_FINE_MASK, 0, &created);
	if (!s)
		return -1;
	for (m = 0; m < REPLAY_MODES; m++) {
		const struct spt_ctx *spt = &v->cache[m].spt;
		if (v->cache[m].live)
			spt_cached_root(spt, spt->cur, SPT_ROOT_KERNEL, &s->v[m]);
	}
	return 0;
}

/* Fresh root caches for CR3 v->cr3, one per paging mode the guest may be in: what spt_init and
 * spt_set_mode leave (one address space cached, empty). */
static int cache_start(struct replay_vm *v)
{
	unsigned m;

	for (m = 0; m < REPLAY_MODES; m++) {
		struct replay_cache *c = &v->cache[m];
		struct gpt_mode mode;

		if (c->live)
			spt_destroy(&c->spt);
		c->live = false;
		if (!(v->modes & REPLAY_MODE(m)))
			continue;
		replay_gpt_mode(&mode, (enum gpt_paging)m, v->cr3);
		if (spt_init(&c->spt, &cache_ops, c, &mode) < 0)
			return -1;
		c->live = true;
	}
	return note_space(v);
}

/* Could the roots of the CR3 leaves are filed under as `fine` be those spt.c keys as `key`, in
 * some paging mode the guest may be in? */
static bool space_may_be(const struct replay_vm *v, uint64_t fine, uint64_t key)
{
	const struct rmap_entry *s = rmap_get(&v->spaces, fine, 0);
	unsigned m;

	if (!s)
		return true;
	for (m = 0; m < REPLAY_MODES; m++)
		if ((v->modes & REPLAY_MODE(m)) && s->v[m] == key)
			return true;
	return false;
}

/* The paging modes (of those the guest may be in) where CR3s filed as `fine` share the current
 * CR3's roots. */
static unsigned space_shared(const struct replay_vm *v, uint64_t fine)
{
	const struct rmap_entry *s = rmap_get(&v->spaces, fine, 0);
	const struct rmap_entry *cur = rmap_get(&v->spaces, v->cr3 & CR3_FINE_MASK, 0);
	unsigned m, shared = 0;

	if (!s || !cur)
		return v->modes;
	for (m = 0; m < REPLAY_MODES; m++)
		if ((v->modes & REPLAY_MODE(m)) && s->v[m] == cur->v[m])
			shared |= REPLAY_MODE(m);
	return shared;
}

/*
 * The guest's CR3 is now v->cr3. Leaves are filed under the CR3 they were filled at, finer than
 * spt.c tells address spaces apart, so several CR3s may name one shadow (without paging, all do).
 * Leaves of another CR3 whose roots are the current CR3's in every paging mode the guest may be
 * in become the current CR3's; those whose roots are the current one's in some of these modes
 * only are forgotten, as the trace cannot say which shadow holds them. (So no two CR3s holding
 * leaves ever share roots in any mode the guest may be in.)
 */
static int merge_spaces(struct replay_vm *v)
{
	uint64_t cur = v->cr3 & CR3_FINE_MASK;
	struct rmap moved = {0};
	struct rmap_entry *s, *e;
	bool any = false;
	int created;

	for (s = rmap_next(&v->spaces, NULL); s && !any; s = rmap_next(&v->spaces, s))
		any = s->k0 != cur && space_shared(v, s->k0);
	if (!any)
		return 0;
	for (e = rmap_next(&v->leaves, NULL); e; e = rmap_next(&v->leaves, e)) {
		bool filed = e->k0 == cur || rmap_get(&v->spaces, e->k0, 0);
		unsigned shared = e->k0 == cur ? v->modes : space_shared(v, e->k0);
		struct rmap_entry *n;

		if (!filed || (shared && shared != v->modes))
			continue;
		n = rmap_put(&moved, shared ? cur : e->k0, e->k1, &created);
		if (!n) {
			rmap_free(&moved);
			return -1;
		}
		if (created)
			memcpy(n->v, e->v, sizeof(n->v));
		else
			n->v[3] = 1; /* two leaves of one page now in one shadow: which one is it? */
	}
	for (e = rmap_next(&moved, NULL); e; e = rmap_next(&moved, e))
		if (e->v[3])
			rmap_del(&moved, e);
	rmap_free(&v->leaves);
	v->leaves = moved;
	for (s = rmap_next(&v->spaces, NULL); s; s = rmap_next(&v->spaces, s))
		if (s->k0 != cur && space_shared(v, s->k0))
			rmap_del(&v->spaces, s);
	return 0;
}

/*
 * An event possible only in the paging modes `allowed`: the guest is in one of them. When it
 * may be in none, the event contradicts those since the last mode change: a mismatch (what =
 * the event, described), and the modes stay as they were. Returns false then.
 */
static bool narrow_modes(struct replay_vm *v, int64_t id, unsigned allowed, const char *what)
{
	char was[64], only[64];

	if (!(v->modes & ~allowed))
		return true;
	if (!(v->modes & allowed)) {
		mismatch(v, id, v->modes_event, "paging-mode",
			 "%s needs %s, but the events since event %lld allow %s only", what,
			 modes_name(allowed, only, sizeof(only)), (long long)v->modes_event,
			 modes_name(v->modes, was, sizeof(was)));
		return false;
	}
	cache_keep(v, v->modes & allowed);
	v->modes_event = id;
	return true;
}

/* ---- guest memory as the trace showed it ------------------------------------------------- */

static int model_read_gpa(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	struct replay_vm *v = opaque;
	const struct rmap_entry *e = rmap_get(&v->mem, gpa & ~7ull, 0);
	uint64_t q;

	if (!e || (gpa & 7) + len > 8) {
		v->walk_unknown = true;
		return -SHADOW_EFAULT;
	}
	q = e->v[0] >> (8 * (gpa & 7));
	memcpy(buf, &q, len);
	return 0;
}

static const struct shadow_ops model_ops = {
	.read_gpa = model_read_gpa,
	.write_gpa = replay_no_write, /* walks do not set A/D in the model (see on_pt_write) */
	.gpa_to_hpa = replay_identity_gpa_to_hpa,
	.alloc_page = replay_alloc_page,
	.free_page = replay_free_page,
	.trace = NULL,
};

/* Forgets modelled entries and table frames of level below `level` (every one for level 9). */
static void forget_tables_below(struct replay_vm *v, uint64_t level)
{
	struct rmap_entry *e;

	for (e = rmap_next(&v->mem, NULL); e; e = rmap_next(&v->mem, e))
		if (e->v[1] < level)
			rmap_del(&v->mem, e);
	for (e = rmap_next(&v->tables, NULL); e; e = rmap_next(&v->tables, e))
		if (e->v[0] < level)
			rmap_del(&v->tables, e);
}

static void forget_leaves(struct replay_vm *v)
{
	rmap_clear(&v->leaves);
}

static uint64_t cr3_key(const struct replay_vm *v)
{
	return v->cr3_known ? v->cr3 & CR3_FINE_MASK : CR3_UNKNOWN;
}

/* The first CR3 an event tells (a switch's old CR3, a walk's): the VM's fills so far were there. */
static int learn_cr3(struct replay_vm *v, uint64_t cr3)
{
	struct rmap moved = {0};
	struct rmap_entry *e;
	int created;

	for (e = rmap_next(&v->leaves, NULL); e; e = rmap_next(&v->leaves, e)) {
		struct rmap_entry *n = rmap_put(&moved, cr3 & CR3_FINE_MASK, e->k1, &created);
		if (!n) {
			rmap_free(&moved);
			return -1;
		}
		memcpy(n->v, e->v, sizeof(n->v));
	}
	rmap_free(&v->leaves);
	v->leaves = moved;
	v->cr3 = cr3;
	v->cr3_known = true;
	return 0;
}

/* ---- events ------------------------------------------------------------------------------- */

static void on_pt_write(struct replay_vm *v, int64_t id, const struct nb_trace_record *rec)
{
	uint64_t gpa = rec->addr & ~7ull, level = rec->aux, ad;
	struct rmap_entry *e;
	char what[80];
	int created;

	v->r->stats.pt_writes++;
	if (level) {
		/* Guest tables exist with paging on; 4 levels in long mode only, 3 in PAE too. */
		snprintf(what, sizeof(what), "a write to a level-%llu guest table", (unsigned long long)level);
		narrow_modes(v, id, level >= 4 ? REPLAY_MODE(GPT_PAGING_LONG) :
				    level == 3 ? REPLAY_MODE(GPT_PAGING_PAE) | REPLAY_MODE(GPT_PAGING_LONG) :
						 REPLAY_MODES_ALL & ~REPLAY_MODE(GPT_PAGING_NONE), what);
	}
	/* In 32-bit paging the 8 bytes hold two entries, each with its own A and D. */
	ad = PTE_AD | ((v->modes & REPLAY_MODE(GPT_PAGING_32)) ? PTE_AD << 32 : 0);
	if (v->zap_pending) {
		/* The zaps before this record freed shadow tables derived from tables below the
		 * level written, whose frames the guest may now write without trapping. */
		forget_tables_below(v, level);
		v->zap_pending = false;
	}
	e = rmap_get(&v->mem, gpa, 0);
	if (e) {
		uint64_t known = e->v[0];
		v->r->stats.pt_writes_checked++;
		/* Walks set A and D without a record; nothing else changes a protected entry. */
		if ((rec->old_val & ~ad) != (known & ~ad) || (known & ad & ~rec->old_val))
			mismatch(v, id, (int64_t)e->v[2], "pt-write-old",
				 "page-table write at gpa 0x%llx: recorded old value 0x%016llx, but the entry "
				 "was 0x%016llx (A/D aside) since event %lld",
				 (unsigned long long)rec->addr, (unsigned long long)rec->old_val,
				 (unsigned long long)known, (long long)e->v[2]);
	}
	if (level == 0) {
		/* No shadow derives from the frame: later writes there are not traced. */
		if (e)
			rmap_del(&v->mem, e);
		return;
	}
	e = rmap_put(&v->mem, gpa, 0, &created);
	if (e) {
		e->v[0] = rec->new_val;
		e->v[1] = level;
		e->v[2] = (uint64_t)id;
	}
	e = rmap_put(&v->tables, gpa & ~0xfffull, 0, &created);
	if (e && (created || e->v[0] < level)) {
		e->v[0] = level;
		e->v[1] = (uint64_t)id;
	}
}

/* Is the guest frame a page table some shadow derives from (as far as the trace tells)? */
static bool frame_is_table(struct replay_vm *v, uint64_t frame, int64_t *since)
{
	const struct rmap_entry *t = rmap_get(&v->tables, frame, 0);
	unsigned i;

	if (t) {
		*since = (int64_t)t->v[1];
		return true;
	}
	/* In long mode every cached root mirrors its CR3's PML4, which is write-protected (in the
	 * other modes the roots are structural). */
	if (v->modes != REPLAY_MODE(GPT_PAGING_LONG) || !v->cache[GPT_PAGING_LONG].live)
		return false;
	for (i = 0; i < v->cache[GPT_PAGING_LONG].spt.roots; i++) {
		uint64_t cr3;
		if (spt_cached_root(&v->cache[GPT_PAGING_LONG].spt, i, SPT_ROOT_KERNEL, &cr3) &&
		    (cr3 & ADDR_MASK) == frame) {
			*since = 0;
			return true;
		}
	}
	return false;
}

/* A GPT_WALK record's entries, served to gpt_walk in the order it reads them (top level first),
 * so that the walker itself says where each one lies. */
struct walk_feed {
	uint64_t entry[GPT_MAX_LEVELS + 1];
	unsigned level; /* the next level gpt_walk reads */
};

static int feed_read_gpa(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	struct walk_feed *f = opaque;

	(void)gpa;
	if (f->level == 0 || len > 8)
		return -SHADOW_EFAULT;
	memcpy(buf, &f->entry[f->level--], len); /* little-endian: the low `len` bytes */
	return 0;
}

static const struct shadow_ops feed_ops = {
	.read_gpa = feed_read_gpa,
	.write_gpa = replay_no_write,
	.gpa_to_hpa = replay_identity_gpa_to_hpa,
	.alloc_page = replay_alloc_page,
	.free_page = replay_free_page,
	.trace = NULL,
};

/*
 * The walk a fill was built from (spt.h: entries after the walk's own A/D update, the mode, the
 * A/D bits it set). Each entry read defines the modelled entry if unknown, and must otherwise
 * equal it up to A and D: set by this walk (which must then have found them clear) or by walks
 * that leave no record (the emulator's). The entries' gpas come from re-walking the recorded
 * entries themselves from CR3. The mode and CR3 are kept for the fill that follows.
 */
static int on_walk(struct replay_vm *v, int64_t id, const struct nb_trace_record *rec)
{
	static const char *const mode_name[REPLAY_MODES] = {"no paging", "32-bit paging", "PAE paging",
							    "long-mode paging"};
	unsigned top = rec->aux & 0xff, leaf = (rec->aux >> 8) & 0xff, mode = (rec->aux >> 16) & 0xff;
	unsigned ad_bits = (rec->aux >> 24) & 0xff, level;
	enum gpt_paging paging = (enum gpt_paging)(mode & 3);
	struct walk_feed feed = {.entry = {0, rec->new_val, rec->old_val, rec->exit_info2, rec->exit_info1}};
	struct gpt_mode m;
	struct gpt_walk w;
	char what[96];
	int r;

	v->r->stats.walks++;
	replay_gpt_mode(&m, paging, rec->exit_code);
	m.cr0_wp = mode & 0x10;
	m.cr4_pse = mode & 0x20;
	m.efer_nxe = mode & 0x40;
	snprintf(what, sizeof(what), "a guest walk of gva 0x%llx in %s", (unsigned long long)rec->addr,
		 mode_name[paging]);
	if (!narrow_modes(v, id, REPLAY_MODE(paging), what))
		return 0;
	if (v->cr3_known && rec->exit_code != v->cr3)
		mismatch(v, id, v->cr3_event, "walk-cr3",
			 "%s: walked from CR3 0x%llx, but CR3 was 0x%llx", what,
			 (unsigned long long)rec->exit_code, (unsigned long long)v->cr3);
	else if (!v->cr3_known && learn_cr3(v, rec->exit_code) < 0)
		return -1;
	v->walk_valid = true;
	v->walk_gva = rec->addr;
	v->walk_mode = m;

	feed.level = gpt_top_level(paging);
	r = gpt_walk(&feed_ops, &feed, &m, rec->addr, 0, 0, &w);
	if (r != 0 || w.top_level != top || w.leaf_level != (paging == GPT_PAGING_NONE ? 0 : leaf)) {
		mismatch(v, id, 0, "walk-record",
			 "%s: the recorded entries (levels 4..1: 0x%llx 0x%llx 0x%llx 0x%llx) do not make a "
			 "walk from level %u to level %u", what, (unsigned long long)rec->exit_info1,
			 (unsigned long long)rec->exit_info2, (unsigned long long)rec->old_val,
			 (unsigned long long)rec->new_val, top, leaf);
		v->walk_valid = false;
		return 0;
	}
	for (level = top; level >= leaf && level > 0; level--) {
		uint64_t gpa = w.entry_gpa[level], val = w.entry[level];
		uint64_t walk_ad = ((ad_bits >> (2 * (level - 1))) & 1 ? PTE_A : 0) |
				   ((ad_bits >> (2 * (level - 1))) & 2 ? PTE_D : 0);
		unsigned shift = paging == GPT_PAGING_32 ? 8 * (gpa & 7) : 0;
		uint64_t mask = paging == GPT_PAGING_32 ? 0xffffffffull << shift : ~0ull;
		struct rmap_entry *e = rmap_get(&v->mem, gpa & ~7ull, 0);
		int created;

		if (e) {
			uint64_t known = (e->v[0] & mask) >> shift;
			v->r->stats.walk_entries_checked++;
			if ((val & ~PTE_AD) != (known & ~PTE_AD) || (known & PTE_AD & ~val) || (known & walk_ad))
				mismatch(v, id, (int64_t)e->v[2], "walk-entry",
					 "%s: level-%u entry at gpa 0x%llx read as 0x%016llx (the walk set A/D "
					 "0x%llx), but the entry was 0x%016llx since event %lld", what, level,
					 (unsigned long long)gpa, (unsigned long long)val, (unsigned long long)walk_ad,
					 (unsigned long long)known, (long long)e->v[2]);
			if (val == known)
				continue; /* confirmed: still defined by the event that defined it */
			e->v[0] = (e->v[0] & ~mask) | val << shift;
		} else if (paging != GPT_PAGING_32) {
			/* (A 32-bit entry is half of the 8 bytes the model keeps: it cannot define them.) */
			e = rmap_put(&v->mem, gpa & ~7ull, 0, &created);
			if (!e)
				return -1;
			e->v[0] = val;
			e->v[1] = level;
		} else {
			continue;
		}
		e->v[2] = (uint64_t)id;
	}
	return 0;
}

static void rewalk_fill(struct replay_vm *v, int64_t id, const struct nb_trace_record *rec)
{
	unsigned access = (unsigned)rec->exit_info1;
	bool user = access & PF_EC_U;
	uint64_t spte = rec->new_val;
	struct gpt_mode m;
	struct gpt_walk w;
	int r;

	if (v->walk_valid && v->walk_gva == rec->addr) {
		/* Its walk record says the mode, CR4.PSE and CR0.WP included. */
		m = v->walk_mode;
	} else {
		if (!v->cr3_known)
			return;
		/* A walk needs the paging mode; 32-bit paging's depends on CR4.PSE too, unknown
		 * without a walk record. */
		if (v->modes != REPLAY_MODE(GPT_PAGING_NONE) && v->modes != REPLAY_MODE(GPT_PAGING_PAE) &&
		    v->modes != REPLAY_MODE(GPT_PAGING_LONG)) {
			v->r->stats.fills_mode_unknown++;
			return;
		}
		replay_gpt_mode(&m, (enum gpt_paging)__builtin_ctz(v->modes), v->cr3);
	}
	v->walk_unknown = false;
	r = gpt_walk(&model_ops, v, &m, rec->addr, access, 0, &w);
	if (v->walk_unknown) {
		v->r->stats.fills_unwalkable++;
		return;
	}
	v->r->stats.fills_walked++;
	if (r == GPT_PAGE_FAULT || r < 0) {
		mismatch(v, id, 0, "fill-walk",
			 "shadow fill of gva 0x%llx (access 0x%x) under CR3 0x%llx: the modelled guest tables "
			 "refuse the access (%s 0x%x)", (unsigned long long)rec->addr, access,
			 (unsigned long long)v->cr3, r < 0 ? "error" : "#PF error code",
			 r < 0 ? (unsigned)-r : w.error_code);
		return;
	}
	if (w.gpa != rec->exit_info2)
		mismatch(v, id, 0, "fill-walk",
			 "shadow fill of gva 0x%llx under CR3 0x%llx: recorded gpa 0x%llx, the modelled guest "
			 "tables translate to 0x%llx", (unsigned long long)rec->addr, (unsigned long long)v->cr3,
			 (unsigned long long)rec->exit_info2, (unsigned long long)w.gpa);
	if (!!(spte & PTE_NX) != w.nx || (user && !w.user) || (user && (spte & PTE_W) && !w.writable))
		mismatch(v, id, 0, "fill-walk",
			 "shadow fill of gva 0x%llx under CR3 0x%llx: shadow leaf 0x%016llx grants rights the "
			 "modelled guest walk does not (writable %d, user %d, nx %d)",
			 (unsigned long long)rec->addr, (unsigned long long)v->cr3, (unsigned long long)spte,
			 w.writable, w.user, w.nx);
}

/* The paging modes a fill is possible in: linear addresses are 32 bits wide outside long mode;
 * without paging they are the guest-physical ones; only PAE and long-mode entries have NX. */
static unsigned fill_modes(const struct nb_trace_record *rec)
{
	unsigned modes = REPLAY_MODES_ALL;

	if (rec->addr >> 32)
		modes = REPLAY_MODE(GPT_PAGING_LONG);
	if (rec->exit_info2 != (rec->addr & 0xffffffffull))
		modes &= ~REPLAY_MODE(GPT_PAGING_NONE);
	if (rec->new_val & PTE_NX)
		modes &= REPLAY_MODE(GPT_PAGING_PAE) | REPLAY_MODE(GPT_PAGING_LONG);
	return modes;
}

static void on_fill(struct replay_vm *v, int64_t id, const struct nb_trace_record *rec)
{
	unsigned access = (unsigned)rec->exit_info1;
	uint64_t kind = (access & PF_EC_U) ? SPT_ROOT_USER : SPT_ROOT_KERNEL;
	uint64_t page = rec->addr & VA48_MASK & ~0xfffull, spte = rec->new_val;
	uint64_t gframe = rec->exit_info2 & ~0xfffull, hframe = spte & ADDR_MASK;
	struct rmap_entry *e;
	char what[96];
	int64_t since;
	int created;

	v->r->stats.fills++;
	e = rmap_get(&v->leaves, cr3_key(v), page | kind);
	if (e) {
		v->r->stats.fills_leaf_checked++;
		if (e->v[0] != rec->old_val)
			mismatch(v, id, (int64_t)e->v[2], "fill-old-leaf",
				 "shadow fill of gva 0x%llx (%s root): recorded old shadow leaf 0x%016llx, the "
				 "replayed shadow held 0x%016llx", (unsigned long long)rec->addr,
				 kind == SPT_ROOT_USER ? "user" : "kernel", (unsigned long long)rec->old_val,
				 (unsigned long long)e->v[0]);
	}
	if ((spte & (PTE_P | PTE_U | PTE_A)) != (PTE_P | PTE_U | PTE_A) ||
	    ((spte & PTE_W) && !(spte & PTE_D)))
		mismatch(v, id, 0, "fill-spte",
			 "shadow fill of gva 0x%llx: leaf 0x%016llx is not one spt_fill builds (P, U and A "
			 "set, D with W)", (unsigned long long)rec->addr, (unsigned long long)spte);
	e = rmap_put(&v->phys, gframe, 0, &created);
	if (e && created) {
		e->v[0] = hframe;
		e->v[1] = (uint64_t)id;
	} else if (e && e->v[0] != hframe) {
		mismatch(v, id, (int64_t)e->v[1], "phys-map",
			 "shadow fill of gva 0x%llx: guest frame 0x%llx mapped to host frame 0x%llx, but to "
			 "0x%llx since event %lld", (unsigned long long)rec->addr, (unsigned long long)gframe,
			 (unsigned long long)hframe, (unsigned long long)e->v[0], (long long)e->v[1]);
	}
	if ((spte & PTE_W) && frame_is_table(v, gframe, &since))
		mismatch(v, id, since, "fill-writable-table",
			 "shadow fill of gva 0x%llx: writable leaf 0x%016llx maps guest frame 0x%llx, a guest "
			 "page table (the guest could change it without a trap)", (unsigned long long)rec->addr,
			 (unsigned long long)spte, (unsigned long long)gframe);
	snprintf(what, sizeof(what), "shadow fill of gva 0x%llx (gpa 0x%llx, leaf 0x%016llx)",
		 (unsigned long long)rec->addr, (unsigned long long)rec->exit_info2, (unsigned long long)spte);
	if (narrow_modes(v, id, fill_modes(rec), what))
		rewalk_fill(v, id, rec);
	e = rmap_put(&v->leaves, cr3_key(v), page | kind, &created);
	if (e) {
		e->v[0] = spte;
		e->v[1] = rec->exit_info2;
		e->v[2] = (uint64_t)id;
	}
}

static int on_zap(struct replay_vm *v, int64_t id, const struct nb_trace_record *rec)
{
	uint64_t lo = rec->addr & VA48_MASK, hi = (lo | ((1ull << 39) - 1)) + 1;
	struct rmap_entry *e;
	unsigned m;

	v->r->stats.zaps++;
	switch (rec->old_val) {
	case SPT_ZAP_PT_WRITE:
		/* Entries derived from one guest entry, in every cached root: they lie within the
		 * 512 GiB region that starts at the first one (one PML4 entry at most). */
		for (e = rmap_next(&v->leaves, NULL); e; e = rmap_next(&v->leaves, e))
			if ((e->k1 & ~0xfffull) >= lo && (e->k1 & ~0xfffull) < hi)
				rmap_del(&v->leaves, e);
		v->zap_pending = true;
		break;
	case SPT_ZAP_EVICT:
		/* addr is the evicted roots' key in the guest's paging mode. */
		for (e = rmap_next(&v->leaves, NULL); e; e = rmap_next(&v->leaves, e))
			if (space_may_be(v, e->k0, rec->addr))
				rmap_del(&v->leaves, e);
		forget_tables_below(v, 9);
		v->evict_pending = true;
		v->evict_cr3 = rec->addr;
		v->evict_event = id;
		break;
	case SPT_ZAP_WRPROT:
		/* The frame became a guest table: leaves mapping it lost W. */
		for (e = rmap_next(&v->leaves, NULL); e; e = rmap_next(&v->leaves, e))
			if ((e->v[1] & ~0xfffull) == (rec->addr & ~0xfffull))
				e->v[0] &= ~PTE_W;
		if (!rmap_get(&v->tables, rec->addr & ~0xfffull, 0)) {
			int created;
			e = rmap_put(&v->tables, rec->addr & ~0xfffull, 0, &created);
			if (e)
				e->v[1] = (uint64_t)id;
		}
		break;
	case SPT_ZAP_MODE:
		/* spt_set_mode freed every cached root and built the new CR3's, keyed as the new
		 * mode keys them; which mode that is, the trace does not say. */
		v->cr3 = rec->addr;
		v->cr3_known = true;
		v->cr3_event = id;
		v->modes = REPLAY_MODES_ALL;
		v->modes_event = id;
		rmap_clear(&v->spaces);
		forget_leaves(v);
		forget_tables_below(v, 9);
		return cache_start(v);
	case SPT_ZAP_ALL:
		/* spt_zap_all frees the roots of every address space but the current one. */
		for (m = 0; m < REPLAY_MODES; m++)
			if (v->cache[m].live)
				spt_zap_all(&v->cache[m].spt);
		/* fall through */
	default: /* SPT_ZAP_HOST and reasons this replayer does not know */
		forget_leaves(v);
		forget_tables_below(v, 9);
		break;
	}
	return 0;
}

/* What a replayed root cache did on a CR3 switch. */
struct cr3_outcome {
	bool hit, evict;
	uint64_t evicted; /* key of the roots evicted */
};

static bool cr3_outcome_equal(const struct cr3_outcome *a, const struct cr3_outcome *b)
{
	return a->hit == b->hit && a->evict == b->evict && (!a->evict || a->evicted == b->evicted);
}

/*
 * Each replayed cache (one per paging mode the guest may be in) switches too. Where they all
 * agree, the recorded outcome is checked against theirs; where they do not, it depends on the
 * paging mode, which the trace does not record: the switch counts as unchecked and tells which
 * modes the guest may be in (a mismatch still when it fits none of them).
 */
static int on_cr3_switch(struct replay_vm *v, int64_t id, const struct nb_trace_record *rec)
{
	struct cr3_outcome out[REPLAY_MODES], want = {.hit = rec->aux != 0, .evict = v->evict_pending,
						  .evicted = v->evict_cr3};
	unsigned m, first = REPLAY_MODES, hit_ok = 0, all_ok = 0;
	bool differ = false;
	char modes[64];

	v->r->stats.cr3_switches++;
	if (v->cr3_known && rec->old_val != v->cr3)
		mismatch(v, id, v->cr3_event, "cr3-old",
			 "CR3 switch from 0x%llx to 0x%llx, but CR3 was 0x%llx", (unsigned long long)rec->old_val,
			 (unsigned long long)rec->new_val, (unsigned long long)v->cr3);
	if (!v->cr3_known && learn_cr3(v, rec->old_val) < 0)
		return -1;
	if (!cache_live(v) && cache_start(v) < 0)
		return -1;
	for (m = 0; m < REPLAY_MODES; m++) {
		struct replay_cache *c = &v->cache[m];
		if (!c->live)
			continue;
		c->got_cr3 = c->got_evict = false;
		spt_cr3_switch(&c->spt, rec->new_val);
		out[m].hit = c->got_cr3 && c->emitted_cr3.aux;
		out[m].evict = c->got_evict;
		out[m].evicted = c->got_evict ? c->emitted_evict.addr : 0;
		if (first == REPLAY_MODES)
			first = m;
		else if (!cr3_outcome_equal(&out[m], &out[first]))
			differ = true;
		if (out[m].hit == want.hit)
			hit_ok |= REPLAY_MODE(m);
		if (cr3_outcome_equal(&out[m], &want))
			all_ok |= REPLAY_MODE(m);
	}
	if (differ)
		v->r->stats.cr3_unchecked++;
	else
		v->r->stats.cr3_checked++;
	modes_name(v->modes, modes, sizeof(modes));
	if (!hit_ok) {
		mismatch(v, id, 0, "cr3-hit",
			 "CR3 switch to 0x%llx: recorded %s, the replayed root cache (%u roots, least "
			 "recently used dropped; %s) %s", (unsigned long long)rec->new_val,
			 want.hit ? "a cached-root hit" : "a miss", v->cache[first].spt.roots, modes,
			 out[first].hit ? "hits" : "misses");
	} else if (!all_ok) {
		m = (unsigned)__builtin_ctz(hit_ok);
		mismatch(v, id, v->evict_pending ? v->evict_event : 0, "cr3-evict",
			 "CR3 switch to 0x%llx: recorded eviction of %s%llx, the replayed root cache (%s) "
			 "evicts %s%llx", (unsigned long long)rec->new_val, want.evict ? "0x" : "none ",
			 (unsigned long long)(want.evict ? want.evicted : 0),
			 modes_name(hit_ok, modes, sizeof(modes)), out[m].evict ? "0x" : "none ",
			 (unsigned long long)(out[m].evict ? out[m].evicted : 0));
	}
	m = all_ok ? all_ok : hit_ok ? hit_ok : v->modes;
	if (m != v->modes) {
		cache_keep(v, m);
		v->modes_event = id;
	}
	v->evict_pending = false;
	v->cr3 = rec->new_val;
	v->cr3_known = true;
	v->cr3_event = id;
	return note_space(v) < 0 || merge_spaces(v) < 0 ? -1 : 0;
}

static void on_invlpg(struct replay_vm *v, const struct nb_trace_record *rec)
{
	uint64_t page = rec->addr & VA48_MASK & ~0xfffull, region = page & ~((1ull << 30) - 1);
	struct rmap_entry *e;

	v->r->stats.invlpgs++;
	/* The page's leaf is gone from every cached root; a large guest page (up to 1 GiB)
	 * around it may have gone too. */
	for (e = rmap_next(&v->leaves, NULL); e; e = rmap_next(&v->leaves, e)) {
		uint64_t p = e->k1 & ~0xfffull;
		if (p == page)
			e->v[0] = 0;
		else if ((p & ~((1ull << 30) - 1)) == region)
			rmap_del(&v->leaves, e);
	}
}

/* ---- the engine ---------------------------------------------------------------------------- */

static struct replay_vm *vm_of(struct nb_replay *r, const struct nb_trace_record *rec)
{
	struct replay_vm *v, **grown;
	unsigned i;

	for (i = 0; i < r->nvm; i++) {
		v = r->vm[i];
		if (v->rec_level == rec->rec_level && v->guest_level == rec->guest_level &&
		    v->vm_id == rec->vm_id)
			return v;
	}
	v = calloc(1, sizeof(*v));
	grown = realloc(r->vm, (r->nvm + 1) * sizeof(*grown));
	if (!v || !grown) {
		free(v);
		if (grown)
			r->vm = grown;
		return NULL;
	}
	r->vm = grown;
	v->r = r;
	v->rec_level = rec->rec_level;
	v->guest_level = rec->guest_level;
	v->vm_id = rec->vm_id;
	v->modes = REPLAY_MODES_ALL;
	r->vm[r->nvm++] = v;
	r->stats.vms = r->nvm;
	return v;
}

struct nb_replay *nb_replay_new(nb_replay_mismatch_fn fn, void *opaque)
{
	struct nb_replay *r = calloc(1, sizeof(*r));

	if (r) {
		r->fn = fn;
		r->opaque = opaque;
	}
	return r;
}

void nb_replay_free(struct nb_replay *r)
{
	unsigned i;

	if (!r)
		return;
	for (i = 0; i < r->nvm; i++) {
		struct replay_vm *v = r->vm[i];
		cache_keep(v, 0);
		rmap_free(&v->mem);
		rmap_free(&v->leaves);
		rmap_free(&v->spaces);
		rmap_free(&v->phys);
		rmap_free(&v->tables);
		free(v);
	}
	free(r->vm);
	free(r);
}

int nb_replay_event(struct nb_replay *r, int64_t event_id, const struct nb_trace_record *rec)
{
	struct replay_vm *v;

	int rc = 0;

	if ((rec->kind < NB_EV_PT_WRITE || rec->kind > NB_EV_INVLPG) && rec->kind != NB_EV_GPT_WALK)
		return 0;
	v = vm_of(r, rec);
	if (!v)
		return -1;
	r->stats.events++;
	if (v->zap_pending && rec->kind != NB_EV_PT_WRITE &&
	    !(rec->kind == NB_EV_SHADOW_ZAP && rec->old_val == SPT_ZAP_PT_WRITE)) {
		/* Zaps with no PT_WRITE after them (a walk's own accessed-bit update, legacy PAE):
		 * any table may have lost its protection. */
		forget_tables_below(v, 9);
		v->zap_pending = false;
	}
	if (v->evict_pending && rec->kind != NB_EV_CR3_SWITCH) {
		mismatch(v, event_id, v->evict_event, "cr3-evict",
			 "an eviction of the roots of CR3 0x%llx (event %lld) is not followed by its CR3 switch",
			 (unsigned long long)v->evict_cr3, (long long)v->evict_event);
		v->evict_pending = false;
	}
	switch (rec->kind) {
	case NB_EV_PT_WRITE: on_pt_write(v, event_id, rec); break;
	case NB_EV_SHADOW_FILL: on_fill(v, event_id, rec); break;
	case NB_EV_SHADOW_ZAP: rc = on_zap(v, event_id, rec); break;
	case NB_EV_CR3_SWITCH: rc = on_cr3_switch(v, event_id, rec); break;
	case NB_EV_INVLPG: on_invlpg(v, rec); break;
	case NB_EV_GPT_WALK: rc = on_walk(v, event_id, rec); break;
	}
	if (rec->kind != NB_EV_GPT_WALK)
		v->walk_valid = false; /* a walk record tells about the next event only */
	return rc;
}

const struct nb_replay_stats *nb_replay_stats(const struct nb_replay *r)
{
	return &r->stats;
}
