/*
 * The SQLite trace store. Ingest speed decides how much tracing a run can afford (bench/ingest
 * measures it), so the write path is: statements prepared once, the run id bound once per run,
 * instruction ids interned in memory, events inserted 32 rows per statement, and transactions of
 * NB_STORE_BATCH rows in WAL mode with synchronous=NORMAL. A crash then loses at most the open
 * batch (WAL keeps the file consistent), and a power cut at worst the last few commits, which a
 * trace can afford. One handle is used by one thread at a time (the connection has no mutex).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db/schema.h"
#include "tracer/annotate.h"
#include "tracer/insn_cache.h"
#include "tracer/names.h"
#include "tracer/store.h"

enum nb_store_stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_EVENT,
	STMT_EVENT_ROWS,
	STMT_INSN_FIND,
	STMT_INSN_ADD,
	STMT_INSN_ANNOTATE,
	STMT_RUN_BEGIN,
	STMT_RUN_END,
	STMT_VM_ADD,
	STMT_CONSOLE,
	STMT_LOST,
	STMT_RUN_LOST,
	STMT_COUNT
};

_Static_assert(NB_EV_TRAP == 1 && NB_EV_EXIT_REFLECTED == 2,
	       "db/schema.sql's events_traps index and v_traps_by_level_reason name these kinds by number");

static const char *const nb_store_sql[STMT_COUNT] = {
	[STMT_BEGIN] = "BEGIN",
	[STMT_COMMIT] = "COMMIT",
	[STMT_EVENT] = "INSERT INTO events (run_id, ts, rec_level, guest_level, vm_id, vcpu, kind, action,"
		       " exit_code, exit_info1, exit_info2, rip, addr, old_val, new_val, aux, insn_id)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
	[STMT_EVENT_ROWS] = NULL, /* built by nb_store_event_rows_sql */
	[STMT_INSN_FIND] = "SELECT insn_id, text IS NULL FROM insns WHERE bytes = ?1",
	[STMT_INSN_ADD] = "INSERT INTO insns (bytes, length, mnemonic, op_str, text, cs_id, groups)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[STMT_INSN_ANNOTATE] = "UPDATE insns SET length = ?2, mnemonic = ?3, op_str = ?4, text = ?5,"
			       " cs_id = ?6, groups = ?7 WHERE insn_id = ?1",
	[STMT_RUN_BEGIN] = "INSERT INTO runs (started_at, command_line, host_kernel, kvm_flavour, tsc_khz)"
			   " VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?1, ?2, ?3, ?4)",
	[STMT_RUN_END] = "UPDATE runs SET ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), completed = ?2,"
			 " exit_status = ?3, stop_reason = ?4, report = ?5,"
			 " records_lost = (SELECT coalesce(sum(count), 0) FROM records_lost WHERE run_id = ?1)"
			 " WHERE run_id = ?1",
	/* A VM may be described twice: a nested guest's hypervisor describes it, and so does the
	 * nbvmm that runs it for that hypervisor under virtual SVM. The first description stays;
	 * a guest repeating a VM id is no reason to stop recording. */
	[STMT_VM_ADD] = "INSERT INTO vms (run_id, vm_id, level, parent_vm_id, image, memory_bytes, args)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (run_id, vm_id) DO NOTHING",
	[STMT_CONSOLE] = "INSERT INTO console (run_id, ts, level, vm_id, line) VALUES (?1, ?2, ?3, ?4, ?5)",
	[STMT_LOST] = "INSERT INTO records_lost (run_id, level, vm_id, reason, count) VALUES (?1, ?2, ?3, ?4, ?5)"
		      " ON CONFLICT (run_id, level, vm_id, reason) DO UPDATE SET count = count + excluded.count",
	[STMT_RUN_LOST] = "UPDATE runs SET records_lost = records_lost + ?2 WHERE run_id = ?1",
};

/*
 * Events are inserted NB_STORE_ROWS at a time by one multi-row INSERT: a statement's start and
 * end (cursors opened and closed, locks checked) then cost once per 32 rows instead of per row.
 * The run id is parameter 1 of every row; row k's other values are parameters 2 + 16k...
 */
#define NB_STORE_ROWS 32
#define NB_EVENT_VALUES 16

struct nb_pending_event {
	struct nb_trace_record rec;
	int64_t insn_id;
};

struct nb_store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[STMT_COUNT];
	struct nb_annotator *annotator; /* NULL when annotation is off */
	struct nb_insn_cache insns;
	struct nb_pending_event pending[NB_STORE_ROWS]; /* events not yet handed to SQLite */
	unsigned npending;
	int in_batch;
	uint32_t batch;   /* rows written in the open batch, pending events included */
	int64_t run_id;   /* 0: no run begun */
	uint64_t events;  /* events of the current run */
};

/* SQLite integers are signed 64-bit; the bit pattern is what matters (see db/schema.sql). */
static inline int64_t nb_s64(uint64_t v)
{
	return (int64_t)v;
}

/* The failed call's message, with the system's reason where SQLite keeps one (a file it could not
 * open or an I/O error: "unable to open database file (Read-only file system)"). */
static int nb_store_fail(struct nb_store *st, struct nb_error *err, const char *what)
{
	int primary = sqlite3_extended_errcode(st->db) & 0xff, os = sqlite3_system_errno(st->db);

	if ((primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR) && os)
		return nb_error_set(err, NB_E_DB, "trace database '%s': %s: %s (%s)", st->path, what,
				    sqlite3_errmsg(st->db), strerror(os));
	return nb_error_set(err, NB_E_DB, "trace database '%s': %s: %s", st->path, what,
			    sqlite3_errmsg(st->db));
}

/*
 * After a failed statement SQLite may have rolled the open transaction back on its own (disk
 * full, I/O error). Interned ids written in that transaction are then gone from the file, so the
 * cache and the pending events that name them must go too.
 */
static int nb_store_step_failed(struct nb_store *st, sqlite3_stmt *s, struct nb_error *err, const char *what)
{
	int rc = nb_store_fail(st, err, what);

	sqlite3_reset(s);
	if (st->in_batch && sqlite3_get_autocommit(st->db)) {
		st->in_batch = 0;
		st->batch = 0;
		st->npending = 0;
		nb_insn_cache_clear(&st->insns);
	}
	return rc;
}

/* Runs a statement that returns no rows. */
static int nb_store_exec(struct nb_store *st, enum nb_store_stmt which, struct nb_error *err, const char *what)
{
	sqlite3_stmt *s = st->stmt[which];

	if (sqlite3_step(s) != SQLITE_DONE)
		return nb_store_step_failed(st, s, err, what);
	sqlite3_reset(s);
	return 0;
}

static void nb_bind_text(sqlite3_stmt *s, int i, const char *text)
{
	if (text)
		sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static int nb_store_begin_batch(struct nb_store *st, struct nb_error *err)
{
	int rc;

	if (st->in_batch)
		return 0;
	rc = nb_store_exec(st, STMT_BEGIN, err, "starting a batch");
	if (rc == 0)
		st->in_batch = 1;
	return rc;
}

/* Binds one event's values as parameters first..first + 15 of s. */
static void nb_store_bind_event(sqlite3_stmt *s, int first, const struct nb_pending_event *ev)
{
	const struct nb_trace_record *rec = &ev->rec;

	sqlite3_bind_int64(s, first, nb_s64(rec->tsc));
	sqlite3_bind_int(s, first + 1, rec->rec_level);
	sqlite3_bind_int(s, first + 2, rec->guest_level);
	sqlite3_bind_int(s, first + 3, rec->vm_id);
	sqlite3_bind_int(s, first + 4, rec->vcpu);
	sqlite3_bind_int(s, first + 5, rec->kind);
	sqlite3_bind_int(s, first + 6, rec->action);
	sqlite3_bind_int64(s, first + 7, nb_s64(rec->exit_code));
	sqlite3_bind_int64(s, first + 8, nb_s64(rec->exit_info1));
	sqlite3_bind_int64(s, first + 9, nb_s64(rec->exit_info2));
	sqlite3_bind_int64(s, first + 10, nb_s64(rec->rip));
	sqlite3_bind_int64(s, first + 11, nb_s64(rec->addr));
	sqlite3_bind_int64(s, first + 12, nb_s64(rec->old_val));
	sqlite3_bind_int64(s, first + 13, nb_s64(rec->new_val));
	sqlite3_bind_int64(s, first + 14, nb_s64(rec->aux));
	if (ev->insn_id)
		sqlite3_bind_int64(s, first + 15, ev->insn_id);
	else
		sqlite3_bind_null(s, first + 15);
}

/* Hands the pending events to SQLite: all in one statement when there is a full set. */
static int nb_store_write_pending(struct nb_store *st, struct nb_error *err)
{
	unsigned i, n = st->npending;
	int rc = 0;

	st->npending = 0;
	if (n == NB_STORE_ROWS) {
		for (i = 0; i < n; i++)
			nb_store_bind_event(st->stmt[STMT_EVENT_ROWS], 2 + (int)i * NB_EVENT_VALUES, &st->pending[i]);
		return nb_store_exec(st, STMT_EVENT_ROWS, err, "storing events");
	}
	for (i = 0; i < n && rc == 0; i++) {
		nb_store_bind_event(st->stmt[STMT_EVENT], 2, &st->pending[i]);
		rc = nb_store_exec(st, STMT_EVENT, err, "storing an event");
	}
	return rc;
}

int nb_store_flush(struct nb_store *st, struct nb_error *err)
{
	int rc;

	if (!st->in_batch)
		return 0;
	rc = nb_store_write_pending(st, err);
	if (rc == 0)
		rc = nb_store_exec(st, STMT_COMMIT, err, "committing a batch");
	if (rc < 0) {
		/* Give the transaction up rather than grow it forever after a failure. */
		if (!sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		nb_insn_cache_clear(&st->insns);
	}
	st->in_batch = 0;
	st->batch = 0;
	return rc;
}

/* Counts one row written in the open batch, and commits the batch when it is full. */
static int nb_store_batch_row(struct nb_store *st, struct nb_error *err)
{
	if (++st->batch >= NB_STORE_BATCH)
		return nb_store_flush(st, err);
	return 0;
}

static int nb_store_need_run(struct nb_store *st, struct nb_error *err, const char *what)
{
	if (st->run_id)
		return 0;
	return nb_error_set(err, NB_E_USAGE, "trace database '%s': %s without a run begun", st->path,
			    what);
}

/* Fills the name tables from the C tables, so names added to the code reach existing files too. */
static int nb_store_fill_names(struct nb_store *st, struct nb_error *err)
{
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO exit_codes (code, name, description) VALUES (?1, ?2, ?3)",
			       -1, &s, NULL) != SQLITE_OK)
		return nb_store_fail(st, err, "preparing the exit code names");
	for (i = 0; i < nb_svm_exit_count && rc == 0; i++) {
		sqlite3_bind_int64(s, 1, nb_svm_exits[i].code);
		sqlite3_bind_text(s, 2, nb_svm_exits[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, nb_svm_exits[i].description, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = nb_store_fail(st, err, "writing the exit code names");
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;

	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO event_kinds (kind, name, has_exit_code, description)"
				       " VALUES (?1, ?2, ?3, ?4)", -1, &s, NULL) != SQLITE_OK)
		return nb_store_fail(st, err, "preparing the event kind names");
	for (i = 1; i < NB_EV_KIND_COUNT && rc == 0; i++) {
		sqlite3_bind_int64(s, 1, (int64_t)i);
		sqlite3_bind_text(s, 2, nb_event_kinds[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, nb_event_kinds[i].has_exit_code);
		sqlite3_bind_text(s, 4, nb_event_kinds[i].description, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = nb_store_fail(st, err, "writing the event kind names");
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;

	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO trap_actions (action, name) VALUES (?1, ?2)", -1, &s,
			       NULL) != SQLITE_OK)
		return nb_store_fail(st, err, "preparing the trap action names");
	for (i = 0; i < NB_TRAP_ACTION_COUNT && rc == 0; i++) {
		sqlite3_bind_int64(s, 1, (int64_t)i);
		sqlite3_bind_text(s, 2, nb_trap_action_names[i], -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = nb_store_fail(st, err, "writing the trap action names");
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	return rc;
}

static int nb_store_user_version(struct nb_store *st, int *version, struct nb_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return nb_store_fail(st, err, "reading the schema version");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : nb_store_fail(st, err, "reading the schema version");
}

static int nb_store_table_count(struct nb_store *st, int *count, struct nb_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master", -1, &s, NULL) != SQLITE_OK)
		return nb_store_fail(st, err, "reading the schema");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : nb_store_fail(st, err, "reading the schema");
}

/* Runs one statement of SQL built with sqlite3_mprintf (NULL: out of memory) on db. */
static int nb_store_exec_sql(struct nb_store *st, sqlite3 *db, char *sql, struct nb_error *err, const char *what)
{
	int rc = 0;

	if (!sql)
		return nb_error_set(err, NB_E_NOMEM, "trace database '%s': out of memory", st->path);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		rc = nb_error_set(err, NB_E_DB, "trace database '%s': %s: %s", st->path, what, sqlite3_errmsg(db));
	sqlite3_free(sql);
	return rc;
}

/* The first column of a query's first row as text (NULL when there is none), with ?1 = arg. */
static char *nb_store_query_text(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *s = NULL;
	char *text = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		if (arg)
			sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
			text = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	return text;
}

/* What a table's columns are: names, types, constraints, in order. */
static const char nb_store_columns_sql[] =
	"SELECT group_concat(name || ' ' || type || ' ' || \"notnull\" || ' ' || coalesce(dflt_value, '') || ' ' || pk,"
	" ', ') FROM (SELECT * FROM pragma_table_info(?1) ORDER BY cid)";

/*
 * Tables and indexes: what the file lacks is created. A table of the file whose columns differ
 * from the schema's needs a migration written for it, so the file is refused; an index whose
 * definition changed is made again.
 */
static int nb_store_migrate_tables(struct nb_store *st, sqlite3 *fresh, int version, struct nb_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(fresh, "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'index')"
				      " AND sql IS NOT NULL ORDER BY type = 'index', rowid", -1, &s, NULL) != SQLITE_OK)
		return nb_error_set(err, NB_E_DB, "trace database '%s': reading the new schema: %s", st->path,
				    sqlite3_errmsg(fresh));
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(s, 0);
		const char *name = (const char *)sqlite3_column_text(s, 1);
		const char *sql = (const char *)sqlite3_column_text(s, 2);
		char *have = nb_store_query_text(st->db, "SELECT sql FROM sqlite_master WHERE name = ?1", name);
		char *want_cols, *have_cols;

		if (!have) {
			rc = nb_store_exec_sql(st, st->db, sqlite3_mprintf("%s", sql), err, "migrating the schema");
		} else if (!strcmp(type, "index")) {
			if (strcmp(have, sql) != 0)
				rc = nb_store_exec_sql(st, st->db, sqlite3_mprintf("DROP INDEX \"%w\"; %s", name, sql), err,
						       "migrating the schema");
		} else {
			want_cols = nb_store_query_text(fresh, nb_store_columns_sql, name);
			have_cols = nb_store_query_text(st->db, nb_store_columns_sql, name);
			if (!want_cols || !have_cols || strcmp(want_cols, have_cols) != 0)
				rc = nb_error_set(err, NB_E_DB, "trace database '%s': schema version %d is older than"
						  " this nestbed's (%d) and cannot be migrated: table %s has other columns",
						  st->path, version, NB_STORE_SCHEMA_VERSION, name);
			sqlite3_free(want_cols);
			sqlite3_free(have_cols);
		}
		sqlite3_free(have);
	}
	sqlite3_finalize(s);
	return rc;
}

/* Views: every view of the file is dropped and the schema's are created (they hold no data). */
static int nb_store_migrate_views(struct nb_store *st, sqlite3 *fresh, struct nb_error *err)
{
	sqlite3_stmt *s = NULL;
	char *name;
	int rc = 0;

	while (rc == 0 && (name = nb_store_query_text(st->db, "SELECT name FROM sqlite_master WHERE type = 'view'"
								     " LIMIT 1", NULL))) {
		rc = nb_store_exec_sql(st, st->db, sqlite3_mprintf("DROP VIEW \"%w\"", name), err, "migrating the views");
		sqlite3_free(name);
	}
	if (rc < 0)
		return rc;
	if (sqlite3_prepare_v2(fresh, "SELECT sql FROM sqlite_master WHERE type = 'view' ORDER BY rowid", -1, &s,
			       NULL) != SQLITE_OK)
		return nb_error_set(err, NB_E_DB, "trace database '%s': reading the new schema: %s", st->path,
				    sqlite3_errmsg(fresh));
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW)
		rc = nb_store_exec_sql(st, st->db, sqlite3_mprintf("%s", (const char *)sqlite3_column_text(s, 0)), err,
				       "migrating the views");
	sqlite3_finalize(s);
	return rc;
}

/* Copies every row of table `name` from fresh into the file, in place of the file's rows. */
static int nb_store_copy_rows(struct nb_store *st, sqlite3 *fresh, const char *name, struct nb_error *err)
{
	sqlite3_stmt *from = NULL, *to = NULL;
	sqlite3_str *ins = sqlite3_str_new(NULL);
	char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", name);
	int rc, i, n = 0;

	rc = nb_store_exec_sql(st, st->db, sqlite3_mprintf("DELETE FROM \"%w\"", name), err, "refreshing the schema's rows");
	if (rc == 0 && (!sql || sqlite3_prepare_v2(fresh, sql, -1, &from, NULL) != SQLITE_OK))
		rc = nb_error_set(err, NB_E_DB, "trace database '%s': reading the new schema's %s", st->path, name);
	if (rc == 0) {
		n = sqlite3_column_count(from);
		sqlite3_str_appendf(ins, "INSERT INTO \"%w\" VALUES (", name);
		for (i = 0; i < n; i++)
			sqlite3_str_appendall(ins, i ? ", ?" : "?");
		sqlite3_str_appendall(ins, ")");
		if (sqlite3_prepare_v2(st->db, sqlite3_str_value(ins), -1, &to, NULL) != SQLITE_OK)
			rc = nb_store_fail(st, err, "refreshing the schema's rows");
	}
	while (rc == 0 && sqlite3_step(from) == SQLITE_ROW) {
		for (i = 0; i < n; i++)
			sqlite3_bind_value(to, i + 1, sqlite3_column_value(from, i));
		if (sqlite3_step(to) != SQLITE_DONE)
			rc = nb_store_fail(st, err, "refreshing the schema's rows");
		sqlite3_reset(to);
	}
	sqlite3_finalize(from);
	sqlite3_finalize(to);
	sqlite3_free(sqlite3_str_finish(ins));
	sqlite3_free(sql);
	return rc;
}

/*
 * Brings a file of an older schema version up to this one, inside the caller's transaction. The
 * current schema is built in a scratch in-memory database and the file made to match it: tables
 * and indexes it lacks are created (nb_store_migrate_tables), its views replaced, and the rows
 * the schema itself provides (the tables it fills: the Popek-Goldberg classification, the timing
 * probes) replaced by the current ones. The name tables are refreshed by every open anyway.
 * Versions 1 and 2 differ from 3 only in that way: tables added, views changed.
 */
static int nb_store_migrate(struct nb_store *st, int version, struct nb_error *err)
{
	sqlite3 *fresh = NULL;
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_open_v2(":memory:", &fresh, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_exec(fresh, nb_store_schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
		rc = nb_error_set(err, NB_E_DB, "trace database '%s': building schema version %d to migrate to: %s",
				  st->path, NB_STORE_SCHEMA_VERSION, fresh ? sqlite3_errmsg(fresh) : "out of memory");
		sqlite3_close(fresh);
		return rc;
	}
	rc = nb_store_migrate_tables(st, fresh, version, err);
	if (rc == 0)
		rc = nb_store_migrate_views(st, fresh, err);
	if (rc == 0 && sqlite3_prepare_v2(fresh, "SELECT name FROM sqlite_master WHERE type = 'table'"
						 " AND name NOT LIKE 'sqlite_%' ORDER BY rowid", -1, &s, NULL) != SQLITE_OK)
		rc = nb_error_set(err, NB_E_DB, "trace database '%s': reading the new schema: %s", st->path,
				  sqlite3_errmsg(fresh));
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", name);
		char *rows = sql ? nb_store_query_text(fresh, sql, NULL) : NULL;

		if (rows && strcmp(rows, "0") != 0)
			rc = nb_store_copy_rows(st, fresh, name, err);
		sqlite3_free(rows);
		sqlite3_free(sql);
	}
	sqlite3_finalize(s);
	if (rc == 0)
		rc = nb_store_exec_sql(st, st->db, sqlite3_mprintf("PRAGMA user_version = %d", NB_STORE_SCHEMA_VERSION),
				       err, "migrating the schema");
	sqlite3_close(fresh);
	return rc;
}

/*
 * Creates the schema in an empty file, migrates an older one, or refuses a file it does not know.
 * Done in one write transaction so that two processes opening a new file at once cannot both
 * create it, and a migration is all or nothing.
 */
static int nb_store_prepare_schema(struct nb_store *st, struct nb_error *err)
{
	int version = 0, objects = 0, rc;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return nb_store_fail(st, err, "locking the database");
	rc = nb_store_user_version(st, &version, err);
	if (rc == 0 && version == 0)
		rc = nb_store_table_count(st, &objects, err);
	if (rc < 0)
		goto out;
	if (version == 0 && objects > 0) {
		rc = nb_error_set(err, NB_E_DB, "trace database '%s': not a nestbed trace database"
				  " (it has tables but no schema version)", st->path);
	} else if (version > NB_STORE_SCHEMA_VERSION) {
		rc = nb_error_set(err, NB_E_DB, "trace database '%s': schema version %d is newer than"
				  " this nestbed supports (%d); open it with a newer nestbed", st->path, version,
				  NB_STORE_SCHEMA_VERSION);
	} else if (version < 0) {
		rc = nb_error_set(err, NB_E_DB, "trace database '%s': schema version %d is not a nestbed"
				  " version", st->path, version);
	} else if (version == 0) {
		if (sqlite3_exec(st->db, nb_store_schema_sql, NULL, NULL, NULL) != SQLITE_OK)
			rc = nb_store_fail(st, err, "creating the schema");
	} else if (version < NB_STORE_SCHEMA_VERSION) {
		rc = nb_store_migrate(st, version, err);
	}
	if (rc == 0)
		rc = nb_store_fill_names(st, err);
	if (rc == 0 && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = nb_store_fail(st, err, "committing the schema");
out:
	if (rc < 0 && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int nb_store_configure(struct nb_store *st, struct nb_error *err)
{
	/*
	 * WAL: readers (Tcl scripts querying a live run) do not block the writer, and a killed writer
	 * leaves a consistent file. synchronous=NORMAL syncs only at checkpoints, so commits stay
	 * cheap; checkpointing every 64 MiB of WAL instead of SQLite's 4 MiB makes those syncs rare
	 * (they were the largest cost left on a virtual disk) while keeping the WAL bounded.
	 */
	static const char pragmas[] = "PRAGMA journal_mode = WAL;"
				      "PRAGMA synchronous = NORMAL;"
				      "PRAGMA wal_autocheckpoint = 16384;"
				      "PRAGMA temp_store = MEMORY;"
				      "PRAGMA cache_size = -32768;";

	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, 5000);
	if (sqlite3_exec(st->db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
		return nb_store_fail(st, err, "setting journal mode");
	return 0;
}

/* STMT_EVENT with NB_STORE_ROWS rows of values. */
static char *nb_store_event_rows_sql(void)
{
	const char *single = nb_store_sql[STMT_EVENT];
	const char *values = strstr(single, " VALUES ");
	sqlite3_str *sql = sqlite3_str_new(NULL);
	int row, col;

	sqlite3_str_append(sql, single, (int)(values - single));
	sqlite3_str_appendall(sql, " VALUES ");
	for (row = 0; row < NB_STORE_ROWS; row++) {
		sqlite3_str_appendf(sql, "%s(?1", row ? ", " : "");
		for (col = 0; col < NB_EVENT_VALUES; col++)
			sqlite3_str_appendf(sql, ", ?%d", 2 + row * NB_EVENT_VALUES + col);
		sqlite3_str_appendall(sql, ")");
	}
	return sqlite3_str_finish(sql);
}

/*
 * Why a file that does not exist cannot be created in its folder (NULL if it exists, or if the
 * folder looks writable). SQLite's own errno would mislead here: after a failed create it retries
 * read-only, and reports that attempt's "No such file or directory" on a read-only file system.
 */
static const char *nb_store_cannot_create(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int rc;

	if (access(path, F_OK) == 0 || errno != ENOENT)
		return NULL;
	if (!slash)
		return access(".", W_OK | X_OK) < 0 ? strerror(errno) : NULL;
	dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!dir)
		return NULL;
	rc = access(dir, W_OK | X_OK);
	free(dir);
	return rc < 0 ? strerror(errno) : NULL;
}

int nb_store_open(const char *path, const struct nb_store_options *opt, struct nb_store **out,
		  struct nb_error *err)
{
	struct nb_store *st;
	int i, rc;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(path)) || nb_insn_cache_init(&st->insns) < 0) {
		rc = nb_error_set(err, NB_E_NOMEM, "trace database '%s': out of memory", path);
		goto fail;
	}
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		const char *why = nb_store_cannot_create(path);

		if (why)
			rc = nb_error_set(err, NB_E_DB, "trace database '%s': cannot create it: %s", path, why);
		else if (st->db)
			rc = nb_store_fail(st, err, "opening it");
		else
			rc = nb_error_set(err, NB_E_NOMEM, "trace database '%s': out of memory", path);
		goto fail;
	}
	/* SQLite falls back to reading a file it may not write: say so now, not at the first write. */
	if (sqlite3_db_readonly(st->db, "main") == 1) {
		rc = nb_error_set(err, NB_E_DB, "trace database '%s': cannot write to it: %s", path,
				  access(path, W_OK) < 0 ? strerror(errno) : "opened read-only");
		goto fail;
	}
	rc = nb_store_configure(st, err);
	if (rc == 0)
		rc = nb_store_prepare_schema(st, err);
	for (i = 0; rc == 0 && i < STMT_COUNT; i++) {
		char *sql = i == STMT_EVENT_ROWS ? nb_store_event_rows_sql() : NULL;

		if (i == STMT_EVENT_ROWS && !sql)
			rc = nb_error_set(err, NB_E_NOMEM, "trace database '%s': out of memory", path);
		else if (sqlite3_prepare_v3(st->db, sql ? sql : nb_store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					    &st->stmt[i], NULL) != SQLITE_OK)
			rc = nb_store_fail(st, err, "preparing statements");
		sqlite3_free(sql);
	}
	if (rc == 0 && (!opt || opt->annotate))
		rc = nb_annotator_open(&st->annotator, err);
	if (rc < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	nb_store_close(st);
	return rc;
}

void nb_store_close(struct nb_store *st)
{
	int i;

	if (!st)
		return;
	if (st->db)
		nb_store_flush(st, NULL);
	for (i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	nb_annotator_close(st->annotator);
	nb_insn_cache_free(&st->insns);
	free(st->path);
	free(st);
}

int nb_store_run_begin(struct nb_store *st, const struct nb_run_info *info, int64_t *run_id,
		       struct nb_error *err)
{
	sqlite3_stmt *s = st->stmt[STMT_RUN_BEGIN];
	int rc, i;

	/* The run row is committed at once: a run that crashes early is still in the file. */
	rc = nb_store_flush(st, err);
	if (rc < 0)
		return rc;
	nb_bind_text(s, 1, info ? info->command_line : NULL);
	nb_bind_text(s, 2, info ? info->host_kernel : NULL);
	nb_bind_text(s, 3, info ? info->kvm_flavour : NULL);
	sqlite3_bind_int64(s, 4, info ? nb_s64(info->tsc_khz) : 0);
	rc = nb_store_exec(st, STMT_RUN_BEGIN, err, "starting a run");
	if (rc < 0)
		return rc;
	st->run_id = sqlite3_last_insert_rowid(st->db);
	st->events = 0;
	/* Bindings survive sqlite3_reset: the run id is bound once, not once per row. */
	for (i = 0; i < STMT_COUNT; i++)
		if (i == STMT_EVENT || i == STMT_EVENT_ROWS || i == STMT_VM_ADD || i == STMT_CONSOLE || i == STMT_LOST ||
		    i == STMT_RUN_LOST || i == STMT_RUN_END)
			sqlite3_bind_int64(st->stmt[i], 1, st->run_id);
	if (run_id)
		*run_id = st->run_id;
	return 0;
}

int nb_store_vm_add(struct nb_store *st, int vm_id, int level, int parent_vm_id,
		    const char *image, uint64_t mem_bytes, const char *args, struct nb_error *err)
{
	sqlite3_stmt *s = st->stmt[STMT_VM_ADD];
	int rc;

	rc = nb_store_need_run(st, err, "adding a VM");
	if (rc == 0)
		rc = nb_store_begin_batch(st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 2, vm_id);
	sqlite3_bind_int(s, 3, level);
	if (parent_vm_id <= 0)
		sqlite3_bind_null(s, 4);
	else
		sqlite3_bind_int(s, 4, parent_vm_id);
	nb_bind_text(s, 5, image);
	sqlite3_bind_int64(s, 6, nb_s64(mem_bytes));
	nb_bind_text(s, 7, args);
	rc = nb_store_exec(st, STMT_VM_ADD, err, "adding a VM");
	return rc < 0 ? rc : nb_store_batch_row(st, err);
}

static void nb_store_bind_annotation(sqlite3_stmt *s, const struct nb_insn_text *t)
{
	sqlite3_bind_int(s, 2, t->decoded ? t->length : 0);
	sqlite3_bind_text(s, 3, t->mnemonic, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, t->op_str, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, t->text, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 6, (int)t->cs_id);
	sqlite3_bind_text(s, 7, t->groups, -1, SQLITE_TRANSIENT);
}

/*
 * The insns row for bytes that the in-memory cache does not know: found in the file (written by
 * an earlier process, and annotated now if it was stored without text), or added.
 */
static int nb_store_insn_intern(struct nb_store *st, const uint8_t *bytes, uint8_t len, int64_t *id,
				struct nb_error *err)
{
	sqlite3_stmt *find = st->stmt[STMT_INSN_FIND];
	sqlite3_stmt *s;
	struct nb_insn_text text;
	int rc, missing_text = 0;

	*id = 0;
	sqlite3_bind_blob(find, 1, bytes, len, SQLITE_STATIC);
	rc = sqlite3_step(find);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(find, 0);
		missing_text = sqlite3_column_int(find, 1);
	} else if (rc != SQLITE_DONE) {
		return nb_store_step_failed(st, find, err, "looking up an instruction");
	}
	sqlite3_reset(find);

	if (*id == 0 || (missing_text && st->annotator)) {
		s = st->stmt[*id ? STMT_INSN_ANNOTATE : STMT_INSN_ADD];
		if (*id)
			sqlite3_bind_int64(s, 1, *id);
		else
			sqlite3_bind_blob(s, 1, bytes, len, SQLITE_STATIC);
		if (st->annotator) {
			nb_annotate(st->annotator, bytes, len, &text);
			nb_store_bind_annotation(s, &text);
		} else {
			for (int i = 2; i <= 7; i++)
				sqlite3_bind_null(s, i);
		}
		rc = nb_store_exec(st, *id ? STMT_INSN_ANNOTATE : STMT_INSN_ADD, err, "adding an instruction");
		if (rc < 0)
			return rc;
		if (*id == 0)
			*id = sqlite3_last_insert_rowid(st->db);
	}
	if (nb_insn_cache_put(&st->insns, bytes, len, *id) < 0)
		return nb_error_set(err, NB_E_NOMEM, "trace database '%s': out of memory", st->path);
	return 0;
}

int nb_store_event(struct nb_store *st, const struct nb_trace_record *rec, struct nb_error *err)
{
	int64_t insn_id = 0;
	int rc;

	if (!st->in_batch || !st->run_id) {
		rc = nb_store_need_run(st, err, "storing an event");
		if (rc == 0)
			rc = nb_store_begin_batch(st, err);
		if (rc < 0)
			return rc;
	}
	if (rec->insn_len > NB_INSN_MAX)
		return nb_error_set(err, NB_E_USAGE, "trace database '%s': event with %u instruction bytes"
				    " (at most %d)", st->path, rec->insn_len, NB_INSN_MAX);
	if (rec->insn_len) {
		insn_id = nb_insn_cache_get(&st->insns, rec->insn, rec->insn_len);
		if (insn_id == 0) {
			rc = nb_store_insn_intern(st, rec->insn, rec->insn_len, &insn_id, err);
			if (rc < 0)
				return rc;
		}
	}
	st->pending[st->npending].rec = *rec;
	st->pending[st->npending].insn_id = insn_id;
	if (++st->npending == NB_STORE_ROWS) {
		rc = nb_store_write_pending(st, err);
		if (rc < 0)
			return rc;
	}
	st->events++;
	return nb_store_batch_row(st, err);
}

int nb_store_console(struct nb_store *st, uint64_t tsc, int level, int vm_id, const char *line,
		     size_t len, struct nb_error *err)
{
	sqlite3_stmt *s = st->stmt[STMT_CONSOLE];
	int rc;

	rc = nb_store_need_run(st, err, "storing a console line");
	if (rc == 0)
		rc = nb_store_begin_batch(st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 2, nb_s64(tsc));
	sqlite3_bind_int(s, 3, level);
	sqlite3_bind_int(s, 4, vm_id);
	sqlite3_bind_text64(s, 5, line, len, SQLITE_TRANSIENT, SQLITE_UTF8);
	rc = nb_store_exec(st, STMT_CONSOLE, err, "storing a console line");
	return rc < 0 ? rc : nb_store_batch_row(st, err);
}

int nb_store_lost(struct nb_store *st, int level, int vm_id, const char *reason, uint64_t count,
		  struct nb_error *err)
{
	sqlite3_stmt *s = st->stmt[STMT_LOST];
	int rc;

	if (count == 0)
		return 0;
	rc = nb_store_need_run(st, err, "counting lost records");
	if (rc == 0)
		rc = nb_store_begin_batch(st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 2, level);
	sqlite3_bind_int(s, 3, vm_id);
	sqlite3_bind_text(s, 4, reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 5, nb_s64(count));
	rc = nb_store_exec(st, STMT_LOST, err, "counting lost records");
	/* runs.records_lost follows as it goes, so that a run that never ends still shows its losses. */
	if (rc == 0) {
		sqlite3_bind_int64(st->stmt[STMT_RUN_LOST], 2, nb_s64(count));
		rc = nb_store_exec(st, STMT_RUN_LOST, err, "counting lost records");
	}
	return rc < 0 ? rc : nb_store_batch_row(st, err);
}

int nb_store_run_end(struct nb_store *st, int completed, int exit_status, const char *stop_reason,
		     const char *report, struct nb_error *err)
{
	sqlite3_stmt *s = st->stmt[STMT_RUN_END];
	int rc;

	rc = nb_store_need_run(st, err, "ending a run");
	if (rc == 0)
		rc = nb_store_flush(st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 2, completed ? 1 : 0);
	sqlite3_bind_int(s, 3, exit_status);
	nb_bind_text(s, 4, stop_reason);
	nb_bind_text(s, 5, report);
	rc = nb_store_exec(st, STMT_RUN_END, err, "ending the run");
	if (rc == 0)
		st->run_id = 0;
	return rc;
}

uint64_t nb_store_event_count(const struct nb_store *st)
{
	return st->events;
}
