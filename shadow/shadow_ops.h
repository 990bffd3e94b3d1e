/*
 * The side effects of shadow/: everything the walker, the shadow page tables and the decoder's
 * callers need from the world goes through one small table of functions, so the same code runs in
 * nbvmm's ring 0 (freestanding, memory reached through its own direct map) and in hosted unit
 * tests (memory simulated in arrays). shadow/ itself has no globals and calls no library.
 */
#ifndef NESTBED_SHADOW_OPS_H
#define NESTBED_SHADOW_OPS_H

#include <stdint.h>

#include "tracer/trace_format.h"

#define SHADOW_PAGE_SIZE 4096u

/* Error codes: functions return 0 (or a documented positive outcome) or one of these, negated. */
enum shadow_error {
	SHADOW_EFAULT = 14, /* a guest-physical address lies outside the guest's memory */
	SHADOW_ENOMEM = 12, /* ops->alloc_page failed */
	SHADOW_EINVAL = 22, /* a bad argument (unaligned or non-canonical address, bad flags...) */
	SHADOW_EBUSY = 16,  /* the address belongs to the hypervisor's own mappings */
};

#define SHADOW_GPA_READONLY 1 /* gpa_to_hpa: the frame is readable only */

struct shadow_ops {
	/* Copy len bytes of guest-physical memory at gpa into buf. 0, or negative when any byte lies
	 * outside the guest's memory. Accesses never cross a page. */
	int (*read_gpa)(void *opaque, uint64_t gpa, void *buf, unsigned len);
	/* The reverse: used only to set accessed and dirty bits in the guest's page tables. */
	int (*write_gpa)(void *opaque, uint64_t gpa, const void *buf, unsigned len);
	/* The guest's physical map: host-physical address of the 4 KiB guest frame holding gpa
	 * (page-aligned). 0, SHADOW_GPA_READONLY when the frame may be read but not written (a
	 * nested guest's page that its hypervisor's nested page table maps read-only), or negative
	 * when gpa is outside the guest's memory (MMIO, holes). */
	int (*gpa_to_hpa)(void *opaque, uint64_t gpa, uint64_t *hpa);
	/* A zeroed, 4 KiB-aligned page of hypervisor memory: returns a pointer this code can use and
	 * stores its host-physical address (what goes into page-table entries); NULL when none. */
	void *(*alloc_page)(void *opaque, uint64_t *hpa);
	void (*free_page)(void *opaque, void *page, uint64_t hpa);
	/* Emit one trace record. shadow/ fills kind, addr, old_val, new_val, aux, exit_info1/2; the
	 * callee fills what only it knows (tsc, levels, vm and vcpu ids, rip) and pushes it into the
	 * ring. May be NULL when tracing is off. */
	void (*trace)(void *opaque, const struct nb_trace_record *rec);
};

#endif
