/* The what-if simulation (the model is in whatif.h). */
#include <stdlib.h>
#include <string.h>

#include "replay/host_pages.h"
#include "replay/rmap.h"
#include "replay/whatif.h"
#include "shadow/spt.h"

#define VA48_MASK ((1ull << 48) - 1)
#define KEY_UNKNOWN UINT64_MAX /* leaves filled before the VM's CR3 was known */

const struct nb_whatif_policy nb_whatif_policies[] = {
	{"4 roots per guest (nbvmm)", 4, 0, 0},
	{"1 root", 1, 0, 0},
	{"2 roots", 2, 0, 0},
	{"8 roots", 8, 0, 0},
	{"drop all on CR3 switch", 1, 1, 0},
	{"4 roots, unsync leaf tables", 4, 0, 1},
};
const unsigned nb_whatif_policy_count = sizeof(nb_whatif_policies) / sizeof(nb_whatif_policies[0]);

/* One policy (or the recorded run) in one paging mode. Shadow leaves: (key spt.c files the roots
 * of their CR3 under, page | kind) -> present. */
struct sim {
	const struct nb_whatif_policy *p;
	enum gpt_paging paging;
	struct spt_ctx spt;
	int live;
	uint64_t evicted;   /* set by the trace hook */
	int got_evict, hit;
	struct rmap leaves;
	struct rmap stale;  /* unsync: (range start, range end) of zaps deferred to the next resync */
	int last_fill_counted;
	struct nb_whatif_result r;
};

/*
 * The trace does not record the guest's paging mode, and spt.c keys cached roots by it (without
 * paging every CR3 shares one shadow), so each policy is simulated once per paging mode the guest
 * may be in: any after a mode change (SPT_ZAP_MODE) and at the start, then those where nbvmm's
 * own root cache, replayed, gives each CR3 switch the recorded outcome. A policy's figures are
 * those of one mode left (the last in enum gpt_paging) at each mode change and at the end.
 */
struct wvm {
	uint8_t rec_level, guest_level;
	uint16_t vm_id;
	int cr3_known;
	uint64_t cr3;
	unsigned modes;     /* REPLAY_MODE(m) for each paging mode m the guest may be in */
	int evict_pending;  /* the recorded run evicted roots (evicted) before its next switch */
	uint64_t evicted;
	struct sim rec[REPLAY_MODES]; /* the recorded run's own root cache and leaves, per mode */
	struct sim *sims;   /* policy i in mode m: sims[i * REPLAY_MODES + m] */
	/* the event before, for the unsync policy: a write fill of a table frame at this gpa */
	uint64_t last_write_fill_gpa;
	int last_was_write_fill;
	unsigned pending_zaps; /* PT_WRITE zaps waiting for their PT_WRITE record */
	uint64_t pending_lo[16], pending_hi[16];
};

struct nb_whatif {
	const struct nb_whatif_policy *p;
	unsigned n;
	struct wvm **vm;
	unsigned nvm;
	struct nb_whatif_result recorded;
};

static void hook(void *o, const struct nb_trace_record *rec)
{
	struct sim *s = o;

	if (rec->kind == NB_EV_SHADOW_ZAP && rec->old_val == SPT_ZAP_EVICT) {
		s->got_evict = 1;
		s->evicted = rec->addr;
	} else if (rec->kind == NB_EV_CR3_SWITCH) {
		s->hit = (int)rec->aux;
	}
}

static const struct shadow_ops sim_ops = {
	.read_gpa = replay_no_read, .write_gpa = replay_no_write, .gpa_to_hpa = replay_identity_gpa_to_hpa,
	.alloc_page = replay_alloc_page, .free_page = replay_free_page, .trace = hook,
};

static int sim_start(struct sim *s, uint64_t cr3)
{
	struct gpt_mode m;

	replay_gpt_mode(&m, s->paging, cr3);
	if (s->live)
		spt_destroy(&s->spt);
	s->live = spt_init(&s->spt, &sim_ops, s, &m) == 0;
	if (s->live)
		s->spt.roots = s->p ? s->p->roots : SPT_ROOT_CACHE;
	return s->live ? 0 : -1;
}

/* The key spt.c files the roots of the current CR3 under. */
static uint64_t key_of(const struct sim *s)
{
	uint64_t key;

	if (!s->live)
		return KEY_UNKNOWN;
	spt_cached_root(&s->spt, s->spt.cur, SPT_ROOT_KERNEL, &key);
	return key;
}

/* Policy i's simulation in paging mode m (i == n: the recorded run's). */
static struct sim *sim_of(struct nb_whatif *w, struct wvm *v, unsigned i, unsigned m)
{
	return i < w->n ? &v->sims[i * REPLAY_MODES + m] : &v->rec[m];
}

/* The paging mode whose figures stand for the guest's (see struct wvm). */
static unsigned chosen_mode(const struct wvm *v)
{
	return 31u - (unsigned)__builtin_clz(v->modes);
}

#define for_each_mode(v, m) \
	for ((m) = 0; (m) < REPLAY_MODES; (m)++) \
		if ((v)->modes & REPLAY_MODE(m))

static void drop_range(struct rmap *leaves, uint64_t lo, uint64_t hi)
{
	struct rmap_entry *e;

	for (e = rmap_next(leaves, NULL); e; e = rmap_next(leaves, e))
		if ((e->k1 & ~0xfffull) >= lo && (e->k1 & ~0xfffull) < hi)
			rmap_del(leaves, e);
}

static void drop_cr3(struct rmap *leaves, uint64_t key)
{
	struct rmap_entry *e;

	for (e = rmap_next(leaves, NULL); e; e = rmap_next(leaves, e))
		if (e->k0 == key)
			rmap_del(leaves, e);
}

/* Unsync: the zaps deferred since the last resync happen now. */
static void resync(struct sim *s)
{
	struct rmap_entry *e;

	for (e = rmap_next(&s->stale, NULL); e; e = rmap_next(&s->stale, e)) {
		drop_range(&s->leaves, e->k0, e->k1);
		s->r.zaps += e->v[0];
	}
	rmap_clear(&s->stale);
}

static struct wvm *vm_of(struct nb_whatif *w, const struct nb_trace_record *rec)
{
	struct wvm *v, **g;
	unsigned i;

	for (i = 0; i < w->nvm; i++)
		if (w->vm[i]->rec_level == rec->rec_level && w->vm[i]->guest_level == rec->guest_level &&
		    w->vm[i]->vm_id == rec->vm_id)
			return w->vm[i];
	v = calloc(1, sizeof(*v));
	g = realloc(w->vm, (w->nvm + 1) * sizeof(*g));
	if (g)
		w->vm = g;
	if (!v || !g || !(v->sims = calloc(w->n * REPLAY_MODES, sizeof(*v->sims)))) {
		free(v);
		return NULL;
	}
	for (i = 0; i < w->n * REPLAY_MODES; i++) {
		v->sims[i].p = &w->p[i / REPLAY_MODES];
		v->sims[i].paging = (enum gpt_paging)(i % REPLAY_MODES);
	}
	for (i = 0; i < REPLAY_MODES; i++)
		v->rec[i].paging = (enum gpt_paging)i;
	v->modes = REPLAY_MODES_ALL;
	v->rec_level = rec->rec_level;
	v->guest_level = rec->guest_level;
	v->vm_id = rec->vm_id;
	w->vm[w->nvm++] = v;
	return v;
}

struct nb_whatif *nb_whatif_new(const struct nb_whatif_policy *p, unsigned n)
{
	struct nb_whatif *w = calloc(1, sizeof(*w));

	if (w) {
		w->p = p;
		w->n = n;
	}
	return w;
}

static void sim_free(struct sim *s)
{
	if (s->live)
		spt_destroy(&s->spt);
	rmap_free(&s->leaves);
	rmap_free(&s->stale);
}

void nb_whatif_free(struct nb_whatif *w)
{
	unsigned i, j;

	if (!w)
		return;
	for (i = 0; i < w->nvm; i++) {
		for (j = 0; j < REPLAY_MODES; j++)
			sim_free(&w->vm[i]->rec[j]);
		for (j = 0; j < w->n * REPLAY_MODES; j++)
			sim_free(&w->vm[i]->sims[j]);
		free(w->vm[i]->sims);
		free(w->vm[i]);
	}
	free(w->vm);
	free(w);
}

static void on_fill(struct nb_whatif *w, struct wvm *v, const struct nb_trace_record *rec)
{
	uint64_t kind = (rec->exit_info1 & 4) ? 1 : 0, page = (rec->addr & VA48_MASK & ~0xfffull) | kind;
	int created;
	unsigned i, m;

	w->recorded.fills++;
	for_each_mode(v, m) {
		for (i = 0; i <= w->n; i++) {
			struct sim *s = sim_of(w, v, i, m);
			/* A fill replacing a present leaf (a write to a clean page) faults under any
			 * policy that has the leaf; one that found none is saved where the policy
			 * still has it. */
			s->last_fill_counted = rec->old_val & 1 || !rmap_get(&s->leaves, key_of(s), page);
			s->r.fills += (uint64_t)s->last_fill_counted;
			rmap_put(&s->leaves, key_of(s), page, &created);
		}
	}
	v->last_was_write_fill = (rec->exit_info1 & 2) != 0;
	v->last_write_fill_gpa = rec->exit_info2 & ~7ull;
}

/* The guest touches again what the recorded run (rec, in the same paging mode as s) still maps in
 * the address space it switched to. */
static void refill_working_set(struct sim *rec, struct sim *s)
{
	uint64_t key = key_of(rec);
	struct rmap_entry *e;
	int created;

	for (e = rmap_next(&rec->leaves, NULL); e; e = rmap_next(&rec->leaves, e)) {
		if (e->k0 != key || rmap_get(&s->leaves, e->k0, e->k1))
			continue;
		rmap_put(&s->leaves, e->k0, e->k1, &created);
		s->r.fills++;
	}
}

/* Leaves filled before the VM's CR3 was known were filed under KEY_UNKNOWN: they are the
 * first CR3's, whose key the simulation now knows. */
static int file_unknown_leaves(struct sim *s)
{
	struct rmap moved = {0};
	struct rmap_entry *e;
	int created;

	for (e = rmap_next(&s->leaves, NULL); e; e = rmap_next(&s->leaves, e))
		if (!rmap_put(&moved, e->k0 == KEY_UNKNOWN ? key_of(s) : e->k0, e->k1, &created)) {
			rmap_free(&moved);
			return -1;
		}
	rmap_free(&s->leaves);
	s->leaves = moved;
	return 0;
}

/* The recorded run's root cache switches in each mode the guest may be in; those where its
 * outcome is not the recorded one are no longer (unless none is left: the trace disagrees with
 * itself, which nestbed replay reports, and the modes stay). */
static void narrow_modes(struct wvm *v, const struct nb_trace_record *rec)
{
	unsigned m, agree = 0;

	for_each_mode(v, m) {
		struct sim *s = &v->rec[m];
		s->got_evict = 0;
		s->hit = 0;
		if (s->live)
			spt_cr3_switch(&s->spt, rec->new_val);
		if (s->hit == !!rec->aux && s->got_evict == v->evict_pending &&
		    (!s->got_evict || s->evicted == v->evicted))
			agree |= REPLAY_MODE(m);
	}
	if (agree)
		v->modes = agree;
	v->evict_pending = 0;
}

static int on_cr3(struct nb_whatif *w, struct wvm *v, const struct nb_trace_record *rec)
{
	unsigned i, m;

	if (!v->cr3_known) {
		v->cr3 = rec->old_val;
		v->cr3_known = 1;
	}
	for (m = 0; m < REPLAY_MODES; m++) {
		for (i = 0; i <= w->n; i++) {
			struct sim *s = sim_of(w, v, i, m);
			if (s->live)
				continue;
			if (sim_start(s, v->cr3) < 0 || file_unknown_leaves(s) < 0)
				return -1;
		}
	}
	if (rec->aux)
		w->recorded.cr3_hits++;
	else
		w->recorded.cr3_misses++;
	v->cr3 = rec->new_val;
	narrow_modes(v, rec);
	for_each_mode(v, m) {
		for (i = 0; i < w->n; i++) {
			struct sim *s = sim_of(w, v, i, m);
			if (s->p->unsync_leaves)
				resync(s);
			s->got_evict = 0;
			s->hit = 0;
			if (s->live)
				spt_cr3_switch(&s->spt, rec->new_val);
			if (s->hit)
				s->r.cr3_hits++;
			else
				s->r.cr3_misses++;
			if (s->got_evict) {
				drop_cr3(&s->leaves, s->evicted);
				s->r.zaps++;
			}
			if (s->p->drop_on_switch) {
				if (s->live)
					spt_zap_all(&s->spt);
				rmap_clear(&s->leaves);
				s->r.zaps++;
			}
			if (!s->hit || s->p->drop_on_switch)
				refill_working_set(&v->rec[m], s);
		}
	}
	return 0;
}

/* A paging-mode change: each policy's figures so far are those of the mode chosen among those
 * the guest may have been in; every simulation starts again from them, in any mode. */
static int restart_modes(struct nb_whatif *w, struct wvm *v, uint64_t cr3)
{
	unsigned i, m, chosen = chosen_mode(v);

	for (m = 0; m < REPLAY_MODES; m++) {
		for (i = 0; i <= w->n; i++) {
			struct sim *s = sim_of(w, v, i, m);
			s->r = sim_of(w, v, i, chosen)->r;
		}
	}
	for (m = 0; m < REPLAY_MODES; m++)
		for (i = 0; i <= w->n; i++)
			if (sim_start(sim_of(w, v, i, m), cr3) < 0)
				return -1;
	v->modes = REPLAY_MODES_ALL;
	v->cr3 = cr3;
	v->cr3_known = 1;
	return 0;
}

static int on_zap(struct nb_whatif *w, struct wvm *v, const struct nb_trace_record *rec)
{
	uint64_t lo = rec->addr & VA48_MASK, hi = (lo | ((1ull << 39) - 1)) + 1;
	unsigned i, m;

	w->recorded.zaps++;
	switch (rec->old_val) {
	case SPT_ZAP_PT_WRITE:
		for (m = 0; m < REPLAY_MODES; m++)
			drop_range(&v->rec[m].leaves, lo, hi);
		/* Counted when the PT_WRITE record says the level (unsync defers level-1 ones). */
		if (v->pending_zaps < 16) {
			v->pending_lo[v->pending_zaps] = lo;
			v->pending_hi[v->pending_zaps] = hi;
			v->pending_zaps++;
		}
		return 0;
	case SPT_ZAP_EVICT:
		/* addr: the key of the roots evicted, in the guest's paging mode; each policy
		 * evicts on its own. */
		for (m = 0; m < REPLAY_MODES; m++)
			drop_cr3(&v->rec[m].leaves, rec->addr);
		v->evict_pending = 1;
		v->evicted = rec->addr;
		return 0;
	case SPT_ZAP_WRPROT:
		for (i = 0; i < w->n * REPLAY_MODES; i++)
			v->sims[i].r.zaps++;
		return 0;
	case SPT_ZAP_MODE:
		if (restart_modes(w, v, rec->addr) < 0)
			return -1;
		break;
	case SPT_ZAP_ALL:
		/* spt_zap_all frees the roots of every address space but the current one. */
		for (m = 0; m < REPLAY_MODES; m++) {
			for (i = 0; i <= w->n; i++) {
				struct sim *s = sim_of(w, v, i, m);
				if (s->live)
					spt_zap_all(&s->spt);
			}
		}
		break;
	}
	for (m = 0; m < REPLAY_MODES; m++) {
		rmap_clear(&v->rec[m].leaves);
		for (i = 0; i < w->n; i++) {
			struct sim *s = sim_of(w, v, i, m);
			rmap_clear(&s->leaves);
			rmap_clear(&s->stale);
			s->r.zaps++;
		}
	}
	return 0;
}

/* The PT_WRITE zaps before a PT_WRITE record (level from its aux, 0 for zaps with none). */
static void settle_zaps(struct nb_whatif *w, struct wvm *v, uint64_t level)
{
	unsigned i, z;
	int created;

	for (i = 0; i < w->n * REPLAY_MODES; i++) {
		struct sim *s = &v->sims[i];
		for (z = 0; z < v->pending_zaps; z++) {
			if (s->p->unsync_leaves && level == 1) {
				struct rmap_entry *e = rmap_put(&s->stale, v->pending_lo[z], v->pending_hi[z], &created);
				if (e)
					e->v[0] = 1;
				continue;
			}
			drop_range(&s->leaves, v->pending_lo[z], v->pending_hi[z]);
			s->r.zaps++;
		}
	}
	v->pending_zaps = 0;
}

static void on_pt_write(struct nb_whatif *w, struct wvm *v, const struct nb_trace_record *rec)
{
	unsigned i;

	w->recorded.pt_write_traps++;
	settle_zaps(w, v, rec->aux);
	for (i = 0; i < w->n * REPLAY_MODES; i++) {
		struct sim *s = &v->sims[i];
		if (s->p->unsync_leaves && rec->aux == 1) {
			/* No trap, and no write fault before it either. */
			if (v->last_was_write_fill && v->last_write_fill_gpa == (rec->addr & ~7ull) &&
			    s->last_fill_counted)
				s->r.fills--;
			continue;
		}
		s->r.pt_write_traps++;
	}
}

int nb_whatif_event(struct nb_whatif *w, const struct nb_trace_record *rec)
{
	struct wvm *v;
	unsigned i, m;

	if (rec->kind < NB_EV_PT_WRITE || rec->kind > NB_EV_INVLPG)
		return 0;
	v = vm_of(w, rec);
	if (!v)
		return -1;
	if (v->pending_zaps && rec->kind != NB_EV_PT_WRITE &&
	    !(rec->kind == NB_EV_SHADOW_ZAP && rec->old_val == SPT_ZAP_PT_WRITE))
		settle_zaps(w, v, 0);
	switch (rec->kind) {
	case NB_EV_SHADOW_FILL:
		on_fill(w, v, rec);
		return 0;
	case NB_EV_PT_WRITE: on_pt_write(w, v, rec); break;
	case NB_EV_SHADOW_ZAP:
		if (on_zap(w, v, rec) < 0)
			return -1;
		break;
	case NB_EV_CR3_SWITCH:
		if (on_cr3(w, v, rec) < 0)
			return -1;
		break;
	case NB_EV_INVLPG:
		for (m = 0; m < REPLAY_MODES; m++) {
			for (i = 0; i <= w->n; i++) {
				struct sim *s = sim_of(w, v, i, m);
				uint64_t page = rec->addr & VA48_MASK & ~0xfffull;
				if (i < w->n && s->p->unsync_leaves)
					resync(s);
				drop_range(&s->leaves, page, page + 0x1000);
			}
		}
		break;
	}
	/* The zaps of a write to a table come between its fill and its PT_WRITE record. */
	if (!(rec->kind == NB_EV_SHADOW_ZAP && rec->old_val == SPT_ZAP_PT_WRITE))
		v->last_was_write_fill = 0;
	return 0;
}

void nb_whatif_results(struct nb_whatif *w, struct nb_whatif_result *per_policy,
		       struct nb_whatif_result *recorded)
{
	unsigned i, j;

	for (j = 0; j < w->n; j++)
		memset(&per_policy[j], 0, sizeof(per_policy[j]));
	for (i = 0; i < w->nvm; i++) {
		struct wvm *v = w->vm[i];
		if (v->pending_zaps)
			settle_zaps(w, v, 0);
		for (j = 0; j < w->n; j++) {
			struct sim *s = sim_of(w, v, j, chosen_mode(v));
			if (s->p->unsync_leaves)
				resync(s);
			per_policy[j].fills += s->r.fills;
			per_policy[j].zaps += s->r.zaps;
			per_policy[j].pt_write_traps += s->r.pt_write_traps;
			per_policy[j].cr3_hits += s->r.cr3_hits;
			per_policy[j].cr3_misses += s->r.cr3_misses;
		}
	}
	*recorded = w->recorded;
}
