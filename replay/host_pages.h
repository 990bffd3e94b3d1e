/*
 * shadow_ops pieces for replaying shadow/ code on the host: page-table pages from the C heap
 * (their address is their "host-physical" address), an identity physical map, and a guest whose
 * memory cannot be read or written (the replayer's root caches never walk guest tables); and
 * the guest paging modes a replay runs shadow/ code in, as the trace does not record them.
 */
#ifndef NESTBED_REPLAY_HOST_PAGES_H
#define NESTBED_REPLAY_HOST_PAGES_H

#include <stdint.h>

#include "shadow/gpt_walk.h"

/* Sets of paging modes a guest may be in: bit REPLAY_MODE(m) for each enum gpt_paging m. */
#define REPLAY_MODES 4 /* GPT_PAGING_NONE, _32, _PAE, _LONG */
#define REPLAY_MODE(m) (1u << (m))
#define REPLAY_MODES_ALL (REPLAY_MODE(REPLAY_MODES) - 1u)

/* A guest in paging mode `paging` with CR3 cr3. The rest of the mode is not in the trace either,
 * and is chosen so that a walk refuses nothing nbvmm's may have allowed: CR0.WP=0 (supervisor
 * writes ignore R/W), NX honoured (without EFER.NXE an entry with bit 63 set faults, so no fill
 * walked one), the widest physical addresses. (spt.c's root cache depends on paging alone.) */
void replay_gpt_mode(struct gpt_mode *m, enum gpt_paging paging, uint64_t cr3);

void *replay_alloc_page(void *opaque, uint64_t *hpa);
void replay_free_page(void *opaque, void *page, uint64_t hpa);
int replay_identity_gpa_to_hpa(void *opaque, uint64_t gpa, uint64_t *hpa);
int replay_no_read(void *opaque, uint64_t gpa, void *buf, unsigned len);
int replay_no_write(void *opaque, uint64_t gpa, const void *buf, unsigned len);

#endif
