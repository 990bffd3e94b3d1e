/*
 * Shadow page tables for a guest that runs deprivileged in hardware ring 3.
 *
 * The real MMU never sees the guest's page tables. It walks a shadow: a 4-level long-mode table
 * that maps guest-virtual addresses straight to host (nbvmm-)physical ones, the composition of
 * the guest's own translation (gpt_walk) and the guest's physical map (ops->gpa_to_hpa). The
 * shadow starts empty and is built one #PF at a time (spt_fill); it stays true because every
 * frame holding a guest page table that a shadow entry was derived from is mapped read-only in
 * every shadow, so each guest write to its tables traps, is emulated by the caller and reported
 * here (spt_pt_write), which drops exactly the shadow entries derived from the entry written.
 *
 * Deprivileging: guest kernel and guest user code both run at CPL 3, so the U/S bit cannot keep
 * them apart. Each guest address space therefore has two shadow roots: the kernel root, loaded
 * while the guest is (virtually) at CPL 0, and the user root, loaded at guest CPL 3, which only
 * ever receives translations a guest user-mode access may use. Every guest-derived leaf has U=1
 * (so ring 3 may use it); the hypervisor's own pages (spt_map_host) are present in every root
 * with U=0 in their PML4 entry, so no guest, in either mode, can reach them.
 *
 * Roots are cached per guest CR3 (SPT_ROOT_CACHE address spaces, least recently used dropped)
 * so that a guest switching between processes does not rebuild its shadows each time.
 *
 * The caller (nbvmm) must:
 *   - run the real CPU with EFER.NXE=1 (shadow NX bits) and load spt_root_hpa() into CR3 whenever
 *     the guest's CR3 or its virtual CPL changes;
 *   - flush the real TLB (reload CR3) before resuming the guest when spt_take_tlb_flush() is true:
 *     entries were dropped or write-protected;
 *   - call spt_set_mode() when CR0.PG/WP, CR4.PAE/PSE, EFER.LMA/NXE change, spt_cr3_switch() on
 *     MOV to CR3, spt_invlpg() on INVLPG;
 *   - report every emulated write to a guest page-table frame with spt_pt_write().
 */
#ifndef NESTBED_SHADOW_SPT_H
#define NESTBED_SHADOW_SPT_H

#include <stdbool.h>
#include <stdint.h>

#include "shadow/gpt_walk.h"
#include "shadow/shadow_ops.h"

#define SPT_ROOT_CACHE 4 /* guest address spaces whose shadow roots are kept (spt_init's default) */
#define SPT_ROOT_CACHE_MAX 8 /* the most struct spt_ctx's `roots` may say */

enum spt_root_kind {
	SPT_ROOT_KERNEL = 0, /* loaded while the guest runs at virtual CPL 0..2 */
	SPT_ROOT_USER = 1,   /* loaded while the guest runs at virtual CPL 3 */
};

struct spt_page;  /* one shadow table page and where it was derived from (spt.c) */
struct spt_wleaf; /* one writable shadow leaf, filed under the frame it maps (spt.c) */

/* Small objects carved out of pages from ops->alloc_page: shadow/ has no allocator of its own. */
struct spt_pool {
	void *free;
	void *pages;
};

struct spt_root_slot {
	uint64_t cr3;      /* guest CR3, table-address bits only */
	uint64_t last_use; /* LRU stamp */
	struct spt_page *root[2]; /* indexed by enum spt_root_kind; NULL when the slot is empty */
};

struct spt_stats {
	uint64_t pages;      /* hypervisor pages in use (shadow tables and their bookkeeping) */
	uint64_t fills;      /* shadow leaves installed */
	uint64_t zapped;     /* present shadow entries dropped */
	uint64_t wrprot;     /* writable leaves made read-only because their frame became a table */
	uint64_t pt_writes;  /* guest page-table writes reported */
	uint64_t cr3_hits;   /* CR3 switches that found cached roots */
	uint64_t cr3_misses;
};

/* All state; the caller owns the memory (nbvmm embeds it in its per-guest structure). */
struct spt_ctx {
	const struct shadow_ops *ops;
	void *opaque;
	struct gpt_mode mode; /* the guest's paging mode; mode.cr3 is its current CR3 */
	struct spt_root_slot slot[SPT_ROOT_CACHE_MAX];
	/* Address spaces whose roots are kept, 1..SPT_ROOT_CACHE_MAX: spt_init sets SPT_ROOT_CACHE.
	 * A policy knob for the replayer's what-if simulation; change it only right after spt_init. */
	unsigned roots;
	unsigned cur;         /* slot of mode.cr3 */
	uint64_t clock;       /* LRU time */
	struct spt_page **pt_hash;   /* guest table frame (host-physical) -> pages derived from it */
	uint64_t pt_hash_hpa;
	struct spt_wleaf **wleaf_hash; /* host frame -> writable leaves that map it */
	uint64_t wleaf_hash_hpa;
	struct spt_page *host;       /* template PML4 with the hypervisor's own mappings */
	uint64_t host_slots[8];      /* bitmap of PML4 slots that belong to the hypervisor */
	struct spt_pool page_pool, wleaf_pool;
	bool tlb_flush;
	struct spt_stats stats;
};

/*
 * Outcomes of spt_fill (besides negative errors).
 */
enum spt_fill_result {
	SPT_FILLED = 0,   /* a shadow leaf now maps the page: resume the guest */
	SPT_GUEST_PF = 1, /* the guest's own tables refuse the access: inject #PF with
			   * fault->error_code, guest CR2 = the address */
	SPT_PT_WRITE = 2, /* a write to a frame holding a guest page table: a read-only leaf is
			   * installed; emulate the instruction, then report it with spt_pt_write */
	SPT_MMIO = 3,     /* the guest maps an address outside its memory (fault->gpa), or writes
			   * a frame the physical map makes read-only: emulate the access as MMIO
			   * (or, for a nested guest, reflect a nested page fault) */
};

struct spt_fault {
	uint64_t gpa;        /* guest-physical address of the access (SPT_PT_WRITE, SPT_MMIO) */
	uint32_t error_code; /* #PF error code (SPT_GUEST_PF) */
};

/*
 * Sets up ctx for a guest in `mode` and builds empty roots for mode->cr3. Returns 0 or
 * -SHADOW_ENOMEM / -SHADOW_EINVAL (bad maxphyaddr).
 */
int spt_init(struct spt_ctx *ctx, const struct shadow_ops *ops, void *opaque,
	     const struct gpt_mode *mode);
/* Gives every page back through ops->free_page. */
void spt_destroy(struct spt_ctx *ctx);

/*
 * The guest changed how its addresses translate (paging on/off, PAE, long mode, WP, PSE, NXE,
 * or only CR3). Anything but a CR3 change invalidates every cached shadow.
 */
int spt_set_mode(struct spt_ctx *ctx, const struct gpt_mode *mode);

/* MOV to CR3: reuse the cached roots of new_cr3 or build empty ones (dropping the least
 * recently used pair when the cache is full). 0 or -SHADOW_ENOMEM. */
int spt_cr3_switch(struct spt_ctx *ctx, uint64_t new_cr3);

/* Host-physical address of the shadow root to load into the real CR3. */
uint64_t spt_root_hpa(const struct spt_ctx *ctx, enum spt_root_kind kind);

/* Cache slot i (< ctx->roots): its root of `kind` (host-physical) and, in *cr3, the guest
 * CR3 it shadows (table-address bits); 0 when the slot is empty. For dumps and checkers. */
uint64_t spt_cached_root(const struct spt_ctx *ctx, unsigned i, enum spt_root_kind kind,
			 uint64_t *cr3);

/*
 * The guest faulted at gva with an access of type `access` (PF_EC_W / PF_EC_U / PF_EC_ID, U
 * meaning the guest's virtual CPL is 3, which selects the user root). Walks the guest's tables
 * (setting their A/D bits as the hardware would), and installs one 4 KiB shadow leaf whose rights
 * are never wider than the guest's:
 *   - U=1 (the guest runs in ring 3); present in the user root only if the guest allows user
 *     access;
 *   - W only if the guest allows this mode to write (kernel: R/W or CR0.WP=0), the guest's leaf
 *     is already dirty (so the first write still reaches us to set D), and the frame does not
 *     hold a guest page table;
 *   - NX if the guest's translation is no-execute.
 * Returns enum spt_fill_result, or -SHADOW_EFAULT (a guest table outside guest memory),
 * -SHADOW_EINVAL (non-canonical gva), -SHADOW_EBUSY (gva lies in a slot of the hypervisor's own
 * mappings), -SHADOW_ENOMEM (spt_zap_all and retry).
 */
int spt_fill(struct spt_ctx *ctx, uint64_t gva, unsigned access, struct spt_fault *fault);

/*
 * The caller emulated a guest write to guest-physical gpa in a frame that holds (or held) a guest
 * page table. old and new_val are the naturally aligned 8 bytes containing the write, before and
 * after it (a write crossing 8-byte alignment is reported as two). Drops, in every cached root,
 * the shadow entries derived from each guest entry whose bytes changed; returns how many.
 */
unsigned spt_pt_write(struct spt_ctx *ctx, uint64_t gpa, uint64_t old, uint64_t new_val);

/* True when the guest frame holding gpa is a guest page table some shadow entry derives from:
 * a write the hypervisor makes there on the guest's behalf must be reported (spt_pt_write). */
bool spt_gpa_is_table(const struct spt_ctx *ctx, uint64_t gpa);

/* The guest frame at gpa holds something else the caller must see written (a nested page table
 * that another guest's shadow is composed from): every writable shadow leaf that maps it loses W
 * now (traced as a SHADOW_ZAP, SPT_ZAP_WRPROT). The caller's physical map must say
 * SHADOW_GPA_READONLY for the frame from then on, so that no later fill grants W and a write
 * there is SPT_MMIO, the caller's to emulate. */
void spt_write_protect_gpa(struct spt_ctx *ctx, uint64_t gpa);

/* INVLPG gva: drops the shadow translation of gva (of the whole guest page, when it is a large
 * one) in every cached root. */
void spt_invlpg(struct spt_ctx *ctx, uint64_t gva);

/* Drops every guest-derived shadow entry (keeps the hypervisor's mappings and the current
 * roots). */
void spt_zap_all(struct spt_ctx *ctx);

/*
 * Maps the hypervisor's page hpa at va (both 4 KiB-aligned, va canonical) in every shadow root,
 * present to ring 0 only. flags: PTE_W, PTE_NX, PTE_G. The whole PML4 slot of va (512 GiB)
 * becomes the hypervisor's: guest translations there are dropped and spt_fill refuses them, so
 * pick a slot the guest does not use. 0, -SHADOW_EINVAL, -SHADOW_ENOMEM, or -SHADOW_EBUSY when
 * the slot was given whole with spt_map_host_slot.
 */
int spt_map_host(struct spt_ctx *ctx, uint64_t va, uint64_t hpa, uint64_t flags);

/*
 * The same for a whole PML4 slot (512 GiB) the hypervisor already maps with its own tables:
 * PML4 entry `slot` of every root points at the caller's PDPT at pdpt_hpa, with U=0, so nothing
 * below it is reachable from ring 3 whatever its entries say. spt never changes or frees that
 * table. 0, -SHADOW_EINVAL, -SHADOW_ENOMEM or -SHADOW_EBUSY (the slot is already taken).
 */
int spt_map_host_slot(struct spt_ctx *ctx, unsigned slot, uint64_t pdpt_hpa);

/* True once (then cleared) when shadow entries were dropped or downgraded since the last call:
 * the real TLB may hold them and must be flushed before the guest runs again. */
bool spt_take_tlb_flush(struct spt_ctx *ctx);

/*
 * Trace records (ops->trace), beyond what trace_format.h says of each kind:
 *   NB_EV_GPT_WALK     just before each SHADOW_FILL: the guest walk it was built from (the last
 *                      one, when a legacy-PAE walk had to be redone). addr = gva, exit_code = the
 *                      guest CR3 it started from; exit_info1, exit_info2, old_val, new_val = the
 *                      entries at levels 4, 3, 2, 1 after the walk's own A/D update (0 where not
 *                      read; 32-bit paging's are 4 bytes); aux bits 7:0 = top level, 15:8 = leaf
 *                      level, 23:16 = mode: bits 17:16 enum gpt_paging, 20 CR0.WP, 21 CR4.PSE,
 *                      22 EFER.NXE; bits 31:24 = the A/D bits the walk(s) set, two per level:
 *                      bit 24 + 2 * (level - 1) = A, the next bit = D. Entry gpas are not
 *                      recorded: they follow from CR3, gva and the entries above them (a replay
 *                      re-walks the recorded entries to find them, replay/replay.c);
 *   NB_EV_SHADOW_FILL  addr = gva, new_val / old_val = shadow leaf after / before, aux = level (1),
 *                      exit_info1 = access (#PF error code bits), exit_info2 = gpa;
 *   NB_EV_SHADOW_ZAP   addr = first gva dropped, or the CR3 or frame gpa concerned (see reason),
 *                      aux = entries dropped or downgraded, old_val = enum spt_zap_reason;
 *   NB_EV_PT_WRITE     addr = gpa written, old_val / new_val, aux = guest table level (0 if no
 *                      shadow derives from the frame);
 *   NB_EV_CR3_SWITCH   old_val / new_val = guest CR3, aux = 1 if cached roots were reused;
 *   NB_EV_INVLPG       addr = gva, aux = shadow entries dropped.
 */
enum spt_zap_reason {
	SPT_ZAP_PT_WRITE = 1, /* addr = first gva of the range dropped */
	SPT_ZAP_EVICT = 2,    /* addr = CR3 whose roots left the cache */
	SPT_ZAP_ALL = 3,      /* addr = current CR3 */
	SPT_ZAP_MODE = 4,     /* addr = new CR3 after a paging-mode change */
	SPT_ZAP_WRPROT = 5,   /* addr = gpa of a frame that became a guest table; leaves made read-only */
	SPT_ZAP_HOST = 6,     /* addr = va of a PML4 slot taken for the hypervisor's mappings */
};

#endif
