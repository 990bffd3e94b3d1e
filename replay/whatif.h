/*
 * What-if simulation: the recorded run's shadow-paging events replayed under other shadow-paging
 * policies, counting the shadow fills, zaps and page-table-write traps each would have cost.
 *
 * The root cache of each policy is shadow/spt.c's own (an spt_ctx per VM and policy, with its
 * `roots` knob), driven by the recorded CR3 switches. Leaves are tracked per policy as the replayer
 * tracks them (guest CR3, root kind, page), with one assumption the trace cannot avoid, since
 * it shows only the accesses that faulted: when a policy lost an address space's roots that the
 * recorded run kept, the guest touches again, after switching back to it, every page the recorded
 * run still had mapped there (each costs one fill). Page-table writes are the recorded ones; a
 * policy with unsynchronised leaf tables lets writes to level-1 tables through without a trap
 * (and without the write fault's fill that led to each), and drops the shadow entries they made
 * stale at the next CR3 switch or INVLPG instead (one zap per table written, then).
 *
 * spt.c keys cached roots by the guest's paging mode (without paging every CR3 shares one shadow),
 * which the trace does not record: each policy is simulated in every paging mode the guest may be
 * in, that is, after each mode change, those where nbvmm's own root cache gives the CR3 switches
 * the recorded outcomes (see struct wvm in whatif.c).
 */
#ifndef NESTBED_WHATIF_H
#define NESTBED_WHATIF_H

#include <stdint.h>

#include "tracer/trace_format.h"

struct nb_whatif_policy {
	const char *name;
	unsigned roots;       /* address spaces whose shadow roots are cached (1..SPT_ROOT_CACHE_MAX) */
	int drop_on_switch;   /* every CR3 switch drops every shadow */
	int unsync_leaves;    /* level-1 guest tables are left writable; resync at CR3 switch/INVLPG */
};

struct nb_whatif_result {
	uint64_t fills, zaps, pt_write_traps;
	uint64_t cr3_hits, cr3_misses;
};

/* The policies `nestbed replay --what-if` compares; the first is nbvmm's own. */
extern const struct nb_whatif_policy nb_whatif_policies[];
extern const unsigned nb_whatif_policy_count;

struct nb_whatif;

/* A simulation of n policies (kept by pointer). NULL when out of memory. */
struct nb_whatif *nb_whatif_new(const struct nb_whatif_policy *p, unsigned n);
void nb_whatif_free(struct nb_whatif *w);
/* Feeds one recorded event (in order; other kinds than the shadow-paging ones are ignored). */
int nb_whatif_event(struct nb_whatif *w, const struct nb_trace_record *rec);
/* Ends the simulation (pending resyncs are counted) and gives each policy's figures, and in
 * *recorded what the recorded run itself cost. */
void nb_whatif_results(struct nb_whatif *w, struct nb_whatif_result *per_policy,
		       struct nb_whatif_result *recorded);

#endif
