/*
 * The SQLite trace store: one database file per run (or several runs per file), schema in
 * db/schema.sql (embedded at build time). WAL journal, prepared statements, batched
 * transactions: records are buffered into a transaction that is committed every
 * NB_STORE_BATCH events and on nb_store_flush(), so a crash loses at most the open batch and
 * the file stays consistent.
 */
#ifndef NESTBED_STORE_H
#define NESTBED_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "l0/nestbed.h"
#include "tracer/trace_format.h"

#define NB_STORE_SCHEMA_VERSION 3
#define NB_STORE_BATCH 10000

struct nb_store;

struct nb_store_options {
	int annotate; /* decode instruction bytes with capstone (default 1) */
};

/*
 * Opens or creates the database at path, creating or checking the schema: a file of an older
 * schema version is migrated (tables added, views and the schema's own rows replaced), one of a
 * newer version or not made by nestbed is refused (NB_E_DB), never altered, and so is a file
 * that cannot be written. A handle must not be used by two threads at once. opt may be NULL
 * (defaults).
 */
int nb_store_open(const char *path, const struct nb_store_options *opt, struct nb_store **out,
		  struct nb_error *err);
void nb_store_close(struct nb_store *st);

struct nb_run_info {
	const char *command_line;
	const char *host_kernel;  /* uname -r -v */
	const char *kvm_flavour;  /* "pvm", "intel", "amd", "unknown" */
	uint64_t tsc_khz;         /* guest TSC frequency, to turn timestamps into time */
};

/* Starts a run row (completed = 0 until nb_store_run_end). */
int nb_store_run_begin(struct nb_store *st, const struct nb_run_info *info, int64_t *run_id,
		       struct nb_error *err);
/* VM ids start at 1; parent_vm_id <= 0 means the VM's parent is the host (stored as NULL). */
int nb_store_vm_add(struct nb_store *st, int vm_id, int level, int parent_vm_id,
		    const char *image, uint64_t mem_bytes, const char *args, struct nb_error *err);
/* Buffers one event of the current run; instruction bytes are decoded once per distinct string. */
int nb_store_event(struct nb_store *st, const struct nb_trace_record *rec, struct nb_error *err);
int nb_store_console(struct nb_store *st, uint64_t tsc, int level, int vm_id, const char *line,
		     size_t len, struct nb_error *err);
/* Records lost: a full ring, torn or invalid records. Adds to the per (level, vm, reason) count. */
int nb_store_lost(struct nb_store *st, int level, int vm_id, const char *reason, uint64_t count,
		  struct nb_error *err);
/* Commits the open batch. */
int nb_store_flush(struct nb_store *st, struct nb_error *err);
/* Ends the run: commits, sets end time, completion, exit status and stop reason. */
int nb_store_run_end(struct nb_store *st, int completed, int exit_status, const char *stop_reason,
		     const char *report, struct nb_error *err);

/* Counts for the current run (events stored so far, including the open batch). */
uint64_t nb_store_event_count(const struct nb_store *st);

#endif
