/*
 * Trace replay: re-executes a recorded run's shadow-paging events (guest page-table writes, CR3
 * switches, INVLPGs, shadow fills and zaps) VM by VM, rebuilding what the recording hypervisor
 * knew, and checks every recorded event against what the events before it imply.
 *
 * The trace does not hold the initial contents of guest memory, so the replayer models it
 * sparsely: the first time a value is observed it defines it, and later events must agree.
 *   - Guest page-table entries: a PT_WRITE's old value defines the entry if unknown, otherwise
 *     it must equal the modelled value up to the accessed and dirty bits the guest's walks set
 *     (untraced); its new value becomes the entry. An entry is forgotten as soon as its frame may
 *     have stopped being write-protected (a zap that can free the shadow pages derived from it:
 *     a PT_WRITE zap frees the tables below the level written, EVICT/ALL/MODE/HOST free any),
 *     since the guest may then change it without a trap.
 *   - Guest walks: the GPT_WALK record before each fill carries the entries the walk read
 *     (after its own A/D update), the CR3 and the paging mode. Each entry defines the modelled
 *     one if unknown (32-bit paging's 4-byte entries only update known ones), otherwise must
 *     equal it up to A and D ("walk-entry": the bits the walk says it set must have been clear,
 *     and bits the model has set must still be set; unrecorded walks, the emulator's, may have
 *     set others). Entry gpas are not recorded: re-walking the recorded entries from the CR3
 *     gives them. The CR3 must be the current one ("walk-cr3"), and the mode settles the paging
 *     mode below without guessing.
 *   - Each fill is re-walked with gpt_walk over the modelled entries when every entry of its walk
 *     is known, and its translation and rights compared; in the mode (CR0.WP, CR4.PSE and
 *     EFER.NXE included) of its walk record when there is one. (Traces from before GPT_WALK
 *     records only re-walk through entries the guest wrote under a trap; the others count as
 *     unwalkable.)
 *   - The trace does not record the guest's paging mode (no paging, 32-bit, PAE, long mode), yet
 *     spt.c keys its cached roots by it, and a walk depends on it. After each mode change
 *     (SPT_ZAP_MODE), and at the start, the guest may be in any; events rule modes out: a fill at
 *     a linear address above 4 GiB needs long mode, one whose gpa is not its gva needs paging,
 *     an NX leaf PAE or long mode, a write to a level-3 (level-4) guest table PAE or long (long)
 *     mode, and a CR3 switch's recorded outcome the modes whose replayed root cache agrees. An
 *     event no mode the guest may still be in allows is a "paging-mode" mismatch. Fills are
 *     re-walked once the mode is known (and is not 32-bit paging, whose walks depend on CR4.PSE,
 *     not recorded either); until then they count as fills_mode_unknown.
 *   - Shadow leaves: per guest CR3, root (kernel/user) and page, the leaf each fill installed,
 *     as zaps, INVLPGs, write-protection and evictions change it; a fill's recorded old leaf
 *     must equal the replayed one when it is known. CR3s whose roots are one shadow in every
 *     mode the guest may be in (without paging, all of them) share their leaves; CR3s whose
 *     roots are one shadow in some of these modes only have theirs forgotten.
 *   - The guest's physical map: a guest frame always maps to the same host frame.
 *   - Guest table frames are never mapped writable by a shadow leaf.
 *   - The root cache is replayed with shadow/spt.c itself (an spt_ctx per VM and paging mode it
 *     may be in, with the same number of cached roots), and is emptied as the recorded mode
 *     changes and spt_zap_all empty it: each CR3 switch's recorded hit and eviction must match
 *     it when the modes the guest may be in agree on them (otherwise the switch counts as
 *     cr3_unchecked, and says which modes the guest may be in), and its old CR3 must be the CR3
 *     of the switch before.
 *
 * VMs are told apart by (recording level, guest level, vm id): one spt_ctx in nbvmm each.
 */
#ifndef NESTBED_REPLAY_H
#define NESTBED_REPLAY_H

#include <stdint.h>

#include "tracer/trace_format.h"

struct nb_replay;

struct nb_replay_mismatch {
	int64_t event_id;   /* the event that disagrees */
	int64_t since_id;   /* the event that defined what was expected (0: none) */
	uint8_t rec_level, guest_level;
	uint16_t vm_id;
	const char *check;  /* short name: "pt-write-old", "fill-old-leaf", "cr3-hit", "paging-mode",
			     * "walk-entry"... */
	char detail[320];   /* what was recorded and what the replay expected */
};

struct nb_replay_stats {
	uint64_t events;        /* shadow-paging events replayed */
	uint64_t vms;
	uint64_t pt_writes, pt_writes_checked;  /* checked: the entry's old value was known */
	uint64_t fills, fills_leaf_checked;     /* the shadow leaf before the fill was known */
	uint64_t fills_walked, fills_unwalkable;/* re-walked over modelled memory / an entry unknown */
	uint64_t fills_mode_unknown;            /* not re-walked: the paging mode is not known */
	uint64_t walks, walk_entries_checked;   /* GPT_WALK records; their entries the model knew */
	uint64_t zaps, cr3_switches, invlpgs;
	uint64_t cr3_checked;   /* the outcome is the same in every paging mode the guest may be in */
	uint64_t cr3_unchecked; /* it is not: the recorded one only tells the mode */
	uint64_t mismatches;
};

typedef void (*nb_replay_mismatch_fn)(void *opaque, const struct nb_replay_mismatch *m);

/* A replayer reporting each mismatch to fn (may be NULL). NULL when out of memory. */
struct nb_replay *nb_replay_new(nb_replay_mismatch_fn fn, void *opaque);
void nb_replay_free(struct nb_replay *r);

/* Replays one event (events must come in recorded order; kinds other than PT_WRITE, GPT_WALK,
 * SHADOW_FILL, SHADOW_ZAP, CR3_SWITCH and INVLPG are ignored). 0, or -1 when out of memory. */
int nb_replay_event(struct nb_replay *r, int64_t event_id, const struct nb_trace_record *rec);

const struct nb_replay_stats *nb_replay_stats(const struct nb_replay *r);

#endif
