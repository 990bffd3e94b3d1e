/* The state of one running machine, shared by the run loop and the devices (private to l0/). */
#ifndef NESTBED_MACHINE_H
#define NESTBED_MACHINE_H

#include <stdint.h>

#include "l0/kvm.h"
#include "l0/kvm_tracefs.h"
#include "l0/nestbed.h"
#include "tracer/ring_reader.h"
#include "tracer/store.h"
#include "tracer/trace_format.h"

#define NB_CONSOLE_LINE_MAX 1024

struct nb_machine {
	const struct nb_machine_config *cfg;
	struct nb_run_result *res;
	struct nb_error *err;
	struct nb_kvm kvm;
	struct nb_store *store;  /* NULL when no database was asked for */
	struct nb_ring_reader ring;
	int have_ring;
	struct nb_kvm_trace *kvm_trace; /* KVM's own events (root only); NULL when not recorded */
	int64_t tsc_offset;      /* guest TSC - host TSC */
	int stopping;            /* set by a device: leave the run loop after this exit */
	int store_failed;        /* a store error ends the run; err holds it */
	uint8_t uart[8];         /* 16550 registers (scratch and configuration; output is not buffered) */
	uint64_t exit_rip;       /* the instruction behind the exit being handled */
	uint8_t exit_insn[16];
	uint8_t exit_insn_len;
	char line[NB_CONSOLE_LINE_MAX];
	size_t line_len;
};

/* The store failed: keeps the first error in err and ends the run (the guest is stopped at the
 * next exit). */
void nb_machine_store_failed(struct nb_machine *m, const struct nb_error *e);

/* Appends a level-0 event to the store (no-op without one). */
void nb_machine_record(struct nb_machine *m, struct nb_trace_record *rec);

/* Port I/O exit: serves the device and records the event. data holds count * size bytes. */
void nb_ports_io(struct nb_machine *m, uint16_t port, int out, int size, uint8_t *data, uint32_t count);

/* Console bytes (the UART's transmit register). */
void nb_console_putc(struct nb_machine *m, uint8_t c);
void nb_console_flush(struct nb_machine *m);
/* One whole line from the guest at `level` (L1's own, or a deeper guest's forwarded by L1). */
void nb_console_line(struct nb_machine *m, int level, int vm_id, const char *text, size_t len);

/* Drains the guest's trace ring into the store. */
void nb_machine_drain_ring(struct nb_machine *m);

/* Fills rec's common fields for an event of this machine's L1 vCPU seen by L0 now. */
void nb_machine_event_init(struct nb_machine *m, struct nb_trace_record *rec, uint16_t kind,
			   uint64_t exit_code);

#endif
