/*
 * Reading a recorded run back out of a trace database (db/schema.sql) as trace records, in the
 * order they were recorded, for the replayer and the what-if simulation.
 */
#ifndef NESTBED_REPLAY_DB_H
#define NESTBED_REPLAY_DB_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "l0/nestbed.h"
#include "tracer/trace_format.h"

typedef int (*nb_replay_event_fn)(void *opaque, int64_t event_id, const struct nb_trace_record *rec);

/* Opens a trace database read-only; NB_E_DB with a message saying why when it is not one. */
int nb_replay_db_open(const char *path, sqlite3 **db, struct nb_error *err);

/* The run ids of the database, ascending (*ids malloc'd; free it). */
int nb_replay_db_runs(sqlite3 *db, int64_t **ids, size_t *n, struct nb_error *err);

/* Calls fn for each shadow-paging event (PT_WRITE, SHADOW_FILL, SHADOW_ZAP, CR3_SWITCH, INVLPG) of
 * run run_id in event order, with the record's fields as recorded (seq, tsc and insn are not
 * kept). Stops at fn's first non-zero return, which it returns. */
int nb_replay_db_feed(sqlite3 *db, int64_t run_id, nb_replay_event_fn fn, void *opaque,
		      struct nb_error *err);

#endif
