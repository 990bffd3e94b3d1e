/*
 * libnbguest, the 64-bit part for kernels on the nestbed boot protocol (include/nestbed/boot.h):
 * the entry stub start64.S calls kmain(), boot-info checks, hypercalls and the trace helper.
 */
#ifndef NESTBED_GUESTS_NBKERNEL_H
#define NESTBED_GUESTS_NBKERNEL_H

#include <stdint.h>
#include "nestbed/boot.h"
#include "tracer/trace_format.h"
#include "guests/lib/nbguest.h"

/* Called by start64.S with the loader's RDI; its return value becomes the exit status. */
int kmain(struct nb_boot_info *bi);

/* Exit status of a kernel whose boot info is unusable (kept clear of small test statuses). */
#define NB_GUEST_EXIT_BAD_BOOT 99

/* Why nb_boot_check rejected a boot info. */
enum nb_boot_error {
	NB_BOOT_OK = 0,
	NB_BOOT_ENULL = -1,
	NB_BOOT_EMAGIC = -2,
	NB_BOOT_EVERSION = -3,
	NB_BOOT_ESIZE = -4,
	NB_BOOT_ESTRING = -5,  /* options, a module name or args without a NUL */
	NB_BOOT_EMODULE = -6,  /* too many modules, or one outside RAM */
	NB_BOOT_ELAYOUT = -7,  /* free range not inside RAM */
	NB_BOOT_ERING = -8,    /* trace ring outside RAM */
};

int nb_boot_check(const struct nb_boot_info *bi);
const char *nb_boot_strerror(int err);
const struct nb_boot_module *nb_boot_module(const struct nb_boot_info *bi, const char *name);

/*
 * Checks the boot info, then points the console, hypercalls, debug-exit and the trace helper at
 * what it names. On failure the lib keeps using the ports.h defaults.
 */
int nb_guest_init(struct nb_boot_info *bi);

/*
 * Hypercalls (nestbed/hypercall.h): a 32-bit OUT of the number to the hypercall port. DX must
 * hold the port, so only RDI and RSI can carry arguments.
 */
void nb_hc_set_port(uint16_t port);
int64_t nb_hc(uint32_t nr, uint64_t arg0, uint64_t arg1);
int64_t nb_hc3(uint32_t nr, uint64_t arg0, uint64_t arg1, uint64_t arg2);
int64_t nb_hc_trace_flush(void);
/* status is truncated to 0..255; if the parent ignores the hypercall, debug-exit is tried. */
__attribute__((noreturn)) void nb_hc_exit(int status);

static inline uint64_t nb_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/*
 * Trace helper. nb_trace_emit stamps *rec (tsc, recording and guest level, vm id) and pushes it;
 * when the ring is half full it asks for a drain, unless autoflush is off. Returns what
 * nb_ring_push returned (0, 1, or -1 when the record was dropped), or -1 when there is no ring.
 */
struct nb_trace_stats {
	uint64_t pushed;  /* records accepted by the ring */
	uint64_t dropped; /* records the ring refused (full) or that had no ring to go to */
	uint64_t flushes; /* NB_HC_TRACE_FLUSH hypercalls made */
};

void nb_trace_init(const struct nb_boot_info *bi);
struct nb_ring *nb_trace_ring(void); /* NULL when the boot info gave no usable ring */
void nb_trace_set_autoflush(int on);
int nb_trace_emit(struct nb_trace_record *rec);
/* An NB_EV_GUEST record: aux as given, rip and up to 16 instruction bytes (insn may be NULL). */
int nb_trace_guest(uint64_t aux, uint64_t rip, const void *insn, unsigned insn_len);
void nb_trace_flush(void);
const struct nb_trace_stats *nb_trace_stats(void);

#endif
