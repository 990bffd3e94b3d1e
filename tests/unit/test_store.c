/*
 * The SQLite trace store (tracer/store.c and db/schema.sql): schema life cycle, 64-bit values,
 * capstone annotation, the views, batching and what a killed writer leaves behind. Every check
 * reads the file back through a separate SQLite connection, as a researcher's script would.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "tracer/names.h"
#include "tracer/store.h"

static char test_dir[] = "/tmp/nb-test-store-XXXXXX";

/* A fresh database path for each test. */
static const char *db_path(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s.db", test_dir, name);
	return path;
}

static int make_test_dir(void **state)
{
	(void)state;
	return mkdtemp(test_dir) ? 0 : -1;
}

static int remove_test_dir(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static sqlite3 *db_open_raw(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	return db;
}

/* The first column of the first row of sql, as an integer (fails the test if there is none). */
static int64_t q_int(const char *path, const char *sql)
{
	sqlite3 *db = db_open_raw(path);
	sqlite3_stmt *s = NULL;
	int64_t v;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("query '%s': %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(s) != SQLITE_ROW)
		fail_msg("query '%s' returned no row", sql);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* The same as text, in a static buffer; "NULL" for SQL NULL. */
static const char *q_text(const char *path, const char *sql)
{
	static char buf[1024];
	sqlite3 *db = db_open_raw(path);
	sqlite3_stmt *s = NULL;
	const unsigned char *t;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("query '%s': %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(s) != SQLITE_ROW)
		fail_msg("query '%s' returned no row", sql);
	t = sqlite3_column_text(s, 0);
	snprintf(buf, sizeof(buf), "%s", t ? (const char *)t : "NULL");
	sqlite3_finalize(s);
	sqlite3_close(db);
	return buf;
}

static struct nb_store *store_open(const char *path, int annotate)
{
	struct nb_store_options opt = { .annotate = annotate };
	struct nb_store *st = NULL;
	struct nb_error err = { 0 };

	if (nb_store_open(path, &opt, &st, &err) != 0)
		fail_msg("nb_store_open: %s", err.msg);
	return st;
}

static int64_t run_begin(struct nb_store *st)
{
	struct nb_run_info info = { "nestbed --test", "6.18 #1", "pvm", 2000000 };
	struct nb_error err = { 0 };
	int64_t run_id = 0;

	if (nb_store_run_begin(st, &info, &run_id, &err) != 0)
		fail_msg("nb_store_run_begin: %s", err.msg);
	return run_id;
}

static struct nb_trace_record record(uint16_t kind, uint8_t level, uint64_t exit_code, uint64_t addr)
{
	struct nb_trace_record r;

	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.rec_level = level;
	r.guest_level = level + 1;
	r.vm_id = level + 1;
	r.exit_code = exit_code;
	r.addr = addr;
	r.tsc = addr * 10;
	return r;
}

static void store_event(struct nb_store *st, const struct nb_trace_record *r)
{
	struct nb_error err = { 0 };

	if (nb_store_event(st, r, &err) != 0)
		fail_msg("nb_store_event: %s", err.msg);
}

static void run_end(struct nb_store *st, int completed)
{
	struct nb_error err = { 0 };

	if (nb_store_run_end(st, completed, 0, "guest exit", NULL, &err) != 0)
		fail_msg("nb_store_run_end: %s", err.msg);
}

static void new_database_gets_schema_version_tables_views_and_names(void **state)
{
	const char *path = db_path("new");
	struct nb_store *st;

	(void)state;
	st = store_open(path, 1);
	nb_store_close(st);
	assert_int_equal(q_int(path, "PRAGMA user_version"), NB_STORE_SCHEMA_VERSION);
	assert_string_equal(q_text(path, "PRAGMA journal_mode"), "wal");
	assert_int_equal(q_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
				     " ('runs', 'vms', 'events', 'insns', 'exit_codes', 'event_kinds',"
				     " 'trap_actions', 'console', 'records_lost')"), 9);
	assert_int_equal(q_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name IN"
				     " ('v_events', 'v_traps_by_level_reason', 'v_pt_writes',"
				     " 'v_shadow_fills_per_page', 'v_vm_events', 'v_run_summary')"), 6);
	assert_int_equal(q_int(path, "SELECT count(*) FROM exit_codes"), (int64_t)nb_svm_exit_count);
	assert_string_equal(q_text(path, "SELECT name FROM exit_codes WHERE code = 114"), "CPUID");
	assert_string_equal(q_text(path, "SELECT name FROM exit_codes WHERE code = -1"), "INVALID");
	assert_string_equal(q_text(path, "SELECT name FROM exit_codes WHERE code = -2"), "BUSY");
	assert_string_equal(q_text(path, "SELECT name FROM exit_codes WHERE code = 65536"), "NB_MMIO");
	assert_int_equal(q_int(path, "SELECT count(*) FROM event_kinds"), NB_EV_KIND_COUNT - 1);
	assert_string_equal(q_text(path, "SELECT name FROM event_kinds WHERE kind = 4"), "PT_WRITE");
	assert_int_equal(q_int(path, "SELECT count(*) FROM trap_actions"), NB_TRAP_ACTION_COUNT);
}

static void reopen_keeps_rows_and_accepts_the_same_schema_version(void **state)
{
	const char *path = db_path("reopen");
	struct nb_trace_record r = record(NB_EV_TRAP, 1, 0x72, 0x1000);
	struct nb_error err = { 0 };
	struct nb_store *st;
	int i;

	(void)state;
	st = store_open(path, 1);
	assert_int_equal(run_begin(st), 1);
	assert_int_equal(nb_store_vm_add(st, 1, 1, -1, "nbvmm.elf", 64 << 20, "", &err), 0);
	for (i = 0; i < 10; i++)
		store_event(st, &r);
	assert_int_equal(nb_store_console(st, 5, 1, 1, "hello", 5, &err), 0);
	run_end(st, 1);
	nb_store_close(st);

	st = store_open(path, 1);
	assert_int_equal(run_begin(st), 2);
	store_event(st, &r);
	nb_store_close(st);
	assert_int_equal(q_int(path, "PRAGMA user_version"), NB_STORE_SCHEMA_VERSION);
	assert_int_equal(q_int(path, "SELECT count(*) FROM events WHERE run_id = 1"), 10);
	assert_int_equal(q_int(path, "SELECT count(*) FROM events WHERE run_id = 2"), 1);
	assert_int_equal(q_int(path, "SELECT count(*) FROM vms"), 1);
	assert_string_equal(q_text(path, "SELECT line FROM console"), "hello");
	assert_int_equal(q_int(path, "SELECT completed FROM runs WHERE run_id = 1"), 1);
	assert_int_equal(q_int(path, "SELECT completed FROM runs WHERE run_id = 2"), 0);
	assert_int_equal(q_int(path, "SELECT count(*) FROM insns"), 0);
}

static void newer_schema_version_is_refused_with_a_clear_message(void **state)
{
	const char *path = db_path("newer");
	struct nb_store *st = NULL;
	struct nb_error err = { 0 };
	sqlite3 *db;
	char expect[128];

	(void)state;
	nb_store_close(store_open(path, 0));
	db = db_open_raw(path);
	snprintf(expect, sizeof(expect), "PRAGMA user_version = %d", NB_STORE_SCHEMA_VERSION + 1);
	assert_int_equal(sqlite3_exec(db, expect, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(nb_store_open(path, NULL, &st, &err), -NB_E_DB);
	assert_null(st);
	assert_int_equal(err.code, NB_E_DB);
	snprintf(expect, sizeof(expect), "schema version %d is newer than this nestbed supports (%d)",
		 NB_STORE_SCHEMA_VERSION + 1, NB_STORE_SCHEMA_VERSION);
	if (!strstr(err.msg, expect) || !strstr(err.msg, path))
		fail_msg("expected a message with '%s' and the path, got '%s'", expect, err.msg);
	/* Refusing must not touch the file. */
	assert_int_equal(q_int(path, "PRAGMA user_version"), NB_STORE_SCHEMA_VERSION + 1);
}

/* The objects (tables, indexes, views) of one file that the other lacks or defines otherwise, by
 * name ("" when the two schemas are the same to the letter). */
static const char *schema_differences(const char *path, const char *other)
{
	static char buf[1024];
	sqlite3 *db = db_open_raw(path);
	sqlite3_stmt *s = NULL;
	char *sql = sqlite3_mprintf("ATTACH %Q AS other", other);
	const unsigned char *t;

	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_free(sql);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT coalesce(group_concat(name, ' '), '') FROM"
					       " (SELECT type, name, sql FROM main.sqlite_master"
					       "  EXCEPT SELECT type, name, sql FROM other.sqlite_master"
					       "  UNION SELECT type, name, sql FROM (SELECT type, name, sql FROM other.sqlite_master"
					       "  EXCEPT SELECT type, name, sql FROM main.sqlite_master))", -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	t = sqlite3_column_text(s, 0);
	snprintf(buf, sizeof(buf), "%s", t ? (const char *)t : "");
	sqlite3_finalize(s);
	sqlite3_close(db);
	return buf;
}

/* A file made by this store, then taken back to how version `version` left it (by raw SQL). */
static void make_older_file(const char *path, int version)
{
	struct nb_trace_record r = record(NB_EV_TRAP, 1, 0x72, 0x1000);
	struct nb_store *st = store_open(path, 0);
	sqlite3 *db;
	char sql[64];

	run_begin(st);
	store_event(st, &r);
	run_end(st, 1);
	nb_store_close(st);
	db = db_open_raw(path);
	/* Version 2: no level-0 KVM views, other views over level 0, no outcome in v_run_summary. */
	assert_int_equal(sqlite3_exec(db, "DROP VIEW v_l1_insns_by_reason; DROP VIEW v_l1_insns_per_trap;"
					  " DROP VIEW v_kvm_events; DROP VIEW v_run_summary;"
					  " CREATE VIEW v_run_summary AS SELECT run_id, completed FROM runs;"
					  " DELETE FROM insn_classes; UPDATE pg_timing_probes SET what = 'old'",
				      NULL, NULL, NULL), SQLITE_OK);
	/* Version 1: no Popek-Goldberg tables, index or views either. */
	if (version == 1)
		assert_int_equal(sqlite3_exec(db, "DROP VIEW v_pg_verdicts; DROP VIEW v_pg_evidence; DROP TABLE insn_traps;"
						  " DROP TABLE pg_runs; DROP INDEX events_guest", NULL, NULL, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void older_schema_versions_are_migrated_and_keep_their_runs(void **state)
{
	char fresh[256], older[256];
	int version;

	(void)state;
	snprintf(fresh, sizeof(fresh), "%s", db_path("fresh"));
	nb_store_close(store_open(fresh, 0));
	for (version = 1; version < NB_STORE_SCHEMA_VERSION; version++) {
		snprintf(older, sizeof(older), "%s", db_path(version == 1 ? "v1" : "v2"));
		make_older_file(older, version);
		assert_int_equal(q_int(older, "PRAGMA user_version"), version);

		nb_store_close(store_open(older, 0));
		assert_int_equal(q_int(older, "PRAGMA user_version"), NB_STORE_SCHEMA_VERSION);
		/* The same tables, indexes and views as a new file, to the letter. */
		assert_string_equal(schema_differences(older, fresh), "");
		assert_int_equal(q_int(older, "SELECT count(*) FROM insn_classes"), q_int(fresh, "SELECT count(*) FROM insn_classes"));
		assert_int_equal(q_int(older, "SELECT count(*) FROM insn_traps"), q_int(fresh, "SELECT count(*) FROM insn_traps"));
		assert_int_equal(q_int(older, "SELECT count(*) FROM pg_timing_probes WHERE what = 'old'"), 0);
		/* The run recorded before is intact and reads through the new views. */
		assert_string_equal(q_text(older, "SELECT events || ' ' || outcome FROM v_run_summary"), "1 completed");
		assert_string_equal(q_text(older, "PRAGMA integrity_check"), "ok");
	}
}

static void older_schema_with_changed_columns_is_refused_and_left_alone(void **state)
{
	const char *path = db_path("changed");
	struct nb_store *st = NULL;
	struct nb_error err = { 0 };
	sqlite3 *db;

	(void)state;
	make_older_file(path, 2);
	db = db_open_raw(path);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE runs ADD COLUMN host_name TEXT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(nb_store_open(path, NULL, &st, &err), -NB_E_DB);
	assert_null(st);
	if (!strstr(err.msg, "schema version 2 is older than this nestbed's") ||
	    !strstr(err.msg, "cannot be migrated: table runs has other columns") || !strstr(err.msg, path))
		fail_msg("expected a message naming the file, the version and table runs, got '%s'", err.msg);
	/* Nothing of the migration stays: it was one transaction. */
	assert_int_equal(q_int(path, "PRAGMA user_version"), 2);
	assert_int_equal(q_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'v_kvm_events'"), 0);
	assert_int_equal(q_int(path, "SELECT count(*) FROM insn_classes"), 0);
}

static void foreign_database_without_schema_version_is_refused(void **state)
{
	const char *path = db_path("foreign");
	struct nb_store *st = NULL;
	struct nb_error err = { 0 };
	sqlite3 *db = NULL;

	(void)state;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(nb_store_open(path, NULL, &st, &err), -NB_E_DB);
	if (!strstr(err.msg, "not a nestbed trace database"))
		fail_msg("expected 'not a nestbed trace database', got '%s'", err.msg);
}

static void unwritable_path_gives_NB_E_DB_with_the_path_in_the_message(void **state)
{
	const char *paths[] = { "/nonexistent-nestbed-dir/sub/trace.db", test_dir };
	unsigned i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct nb_store *st = NULL;
		struct nb_error err = { 0 };
		char expect[300];

		assert_int_equal(nb_store_open(paths[i], NULL, &st, &err), -NB_E_DB);
		assert_null(st);
		assert_int_equal(err.code, NB_E_DB);
		snprintf(expect, sizeof(expect), "trace database '%s': ", paths[i]);
		if (strncmp(err.msg, expect, strlen(expect)) != 0)
			fail_msg("expected a message starting '%s', got '%s'", expect, err.msg);
	}
}

static void u64_values_at_and_above_2_63_round_trip_and_show_as_hex(void **state)
{
	const char *path = db_path("u64");
	struct nb_trace_record r = record(NB_EV_TRAP, 1, UINT64_MAX, 0x8000000000000000ull);
	struct nb_store *st;
	sqlite3 *db;
	sqlite3_stmt *s = NULL;

	(void)state;
	r.rip = 0xffffffffffffffffull;
	r.tsc = 0xfffffffffffffffeull;
	r.exit_info1 = 0x8000000000000001ull;
	r.old_val = 0x7fffffffffffffffull;
	r.new_val = 0;
	st = store_open(path, 1);
	run_begin(st);
	store_event(st, &r);
	nb_store_close(st);

	assert_string_equal(q_text(path, "SELECT rip FROM v_events"), "0xffffffffffffffff");
	assert_string_equal(q_text(path, "SELECT addr FROM v_events"), "0x8000000000000000");
	assert_string_equal(q_text(path, "SELECT exit_info1 FROM v_events"), "0x8000000000000001");
	assert_string_equal(q_text(path, "SELECT old_val FROM v_events"), "0x7fffffffffffffff");
	assert_string_equal(q_text(path, "SELECT new_val FROM v_events"), "0x0000000000000000");
	assert_string_equal(q_text(path, "SELECT exit_code FROM v_events"), "0xffffffffffffffff");
	assert_string_equal(q_text(path, "SELECT exit_name FROM v_events"), "INVALID");

	db = db_open_raw(path);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT rip, addr, ts, exit_code FROM events", -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal((uint64_t)sqlite3_column_int64(s, 0), 0xffffffffffffffffull);
	assert_int_equal((uint64_t)sqlite3_column_int64(s, 1), 0x8000000000000000ull);
	assert_int_equal((uint64_t)sqlite3_column_int64(s, 2), 0xfffffffffffffffeull);
	assert_int_equal((uint64_t)sqlite3_column_int64(s, 3), UINT64_MAX);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static void set_insn(struct nb_trace_record *r, const char *bytes, uint8_t len)
{
	memcpy(r->insn, bytes, len);
	r->insn_len = len;
}

static void capstone_text_is_stored_once_per_distinct_byte_string(void **state)
{
	const char *path = db_path("capstone");
	struct nb_trace_record r = record(NB_EV_TRAP, 1, 0x72, 0);
	struct nb_store *st;
	int i;

	(void)state;
	st = store_open(path, 1);
	run_begin(st);
	for (i = 0; i < 300; i++) {
		switch (i % 3) {
		case 0: set_insn(&r, "\x0f\xa2", 2); break;              /* cpuid */
		case 1: set_insn(&r, "\x0f\x20\xd8", 3); break;          /* mov rax, cr3 */
		default: set_insn(&r, "\x06", 1); break;                 /* push es: not in 64-bit mode */
		}
		store_event(st, &r);
	}
	set_insn(&r, "\x48\x8b\x43\x08\xcc\xcc", 6);                      /* mov rax, [rbx + 8], then a window */
	store_event(st, &r);
	r.insn_len = 0;
	store_event(st, &r);
	nb_store_close(st);

	/* A second process meets the same bytes again: it finds the rows, it does not add any. */
	st = store_open(path, 1);
	run_begin(st);
	set_insn(&r, "\x0f\xa2", 2);
	store_event(st, &r);
	nb_store_close(st);

	assert_int_equal(q_int(path, "SELECT count(*) FROM insns"), 4);
	assert_int_equal(q_int(path, "SELECT count(DISTINCT insn_id) FROM events"), 4);
	assert_int_equal(q_int(path, "SELECT count(*) FROM events WHERE insn_id IS NULL"), 1);
	assert_string_equal(q_text(path, "SELECT text FROM insns WHERE bytes = x'0fa2'"), "cpuid");
	assert_int_equal(q_int(path, "SELECT length FROM insns WHERE bytes = x'0fa2'"), 2);
	assert_true(q_int(path, "SELECT cs_id FROM insns WHERE bytes = x'0fa2'") > 0);
	assert_string_equal(q_text(path, "SELECT text FROM insns WHERE bytes = x'0f20d8'"), "mov rax, cr3");
	assert_string_equal(q_text(path, "SELECT mnemonic FROM insns WHERE bytes = x'0f20d8'"), "mov");
	assert_string_equal(q_text(path, "SELECT op_str FROM insns WHERE bytes = x'0f20d8'"), "rax, cr3");
	assert_non_null(strstr(q_text(path, "SELECT groups FROM insns WHERE bytes = x'0f20d8'"), "privilege"));
	assert_string_equal(q_text(path, "SELECT text FROM insns WHERE bytes = x'06'"), "(bad)");
	assert_int_equal(q_int(path, "SELECT cs_id FROM insns WHERE bytes = x'06'"), 0);
	assert_string_equal(q_text(path, "SELECT text FROM insns WHERE bytes = x'488b4308cccc'"),
			    "mov rax, qword ptr [rbx + 8]");
	assert_int_equal(q_int(path, "SELECT length FROM insns WHERE bytes = x'488b4308cccc'"), 4);
	assert_int_equal(q_int(path, "SELECT count(*) FROM v_events WHERE insn = 'cpuid'"), 101);
}

static void unannotated_bytes_get_their_text_when_an_annotating_store_meets_them(void **state)
{
	const char *path = db_path("annotate-later");
	struct nb_trace_record r = record(NB_EV_TRAP, 1, 0x72, 0);
	struct nb_store *st;

	(void)state;
	set_insn(&r, "\x0f\xa2", 2);
	st = store_open(path, 0);
	run_begin(st);
	store_event(st, &r);
	nb_store_close(st);
	assert_string_equal(q_text(path, "SELECT text FROM insns"), "NULL");
	assert_string_equal(q_text(path, "SELECT hex(bytes) FROM insns"), "0FA2");

	st = store_open(path, 1);
	run_begin(st);
	store_event(st, &r);
	nb_store_close(st);
	assert_int_equal(q_int(path, "SELECT count(*) FROM insns"), 1);
	assert_string_equal(q_text(path, "SELECT text FROM insns"), "cpuid");
}

static void views_answer_traps_by_level_and_reason_pt_writes_shadow_fills_and_vm_events(void **state)
{
	const char *path = db_path("views");
	struct nb_error err = { 0 };
	struct nb_trace_record r;
	struct nb_store *st;
	int i;

	(void)state;
	st = store_open(path, 1);
	run_begin(st);
	assert_int_equal(nb_store_vm_add(st, 2, 1, 0, "nbvmm.elf", 64 << 20, NULL, &err), 0);
	assert_int_equal(nb_store_vm_add(st, 3, 2, 2, "probe.elf", 16 << 20, "umip=1", &err), 0);
	for (i = 0; i < 3; i++) {
		r = record(NB_EV_TRAP, 1, 0x72, 0);
		store_event(st, &r);
	}
	for (i = 0; i < 2; i++) {
		r = record(NB_EV_EXIT_REFLECTED, 1, 0x72, 0);
		store_event(st, &r);
	}
	r = record(NB_EV_TRAP, 2, 0x7b, 0x3f8);
	store_event(st, &r);
	/* A hypercall's exit_code is the hypercall number, not an SVM exit code: no exit name. */
	r = record(NB_EV_HYPERCALL, 1, 2, 0);
	store_event(st, &r);
	/* The host records its exits under the device that served them, and a timeout as no kind. */
	r = record(NB_EV_IO, 0, 0x7b, 0x3f8);
	store_event(st, &r);
	r = record(NB_EV_HYPERCALL, 0, 0x7b, 0x500);
	store_event(st, &r);
	r = record(NB_EV_NONE, 0, 0, 0);
	store_event(st, &r);
	r = record(NB_EV_PT_WRITE, 1, 0, 0x1008);
	r.old_val = 0;
	r.new_val = 0x2003;
	r.aux = 1;
	r.rip = 0x401000;
	set_insn(&r, "\x48\x89\x07", 3);
	store_event(st, &r);
	r = record(NB_EV_SHADOW_FILL, 1, 0, 0x400000);
	store_event(st, &r);
	r = record(NB_EV_SHADOW_FILL, 1, 0, 0x400123);
	store_event(st, &r);
	r = record(NB_EV_SHADOW_FILL, 1, 0, 0x401000);
	store_event(st, &r);
	run_end(st, 1);
	nb_store_close(st);

	assert_int_equal(q_int(path, "SELECT count FROM v_traps_by_level_reason WHERE level = 1 AND exit_name = 'CPUID'"), 5);
	assert_int_equal(q_int(path, "SELECT handled FROM v_traps_by_level_reason WHERE level = 1 AND exit_name = 'CPUID'"), 3);
	assert_int_equal(q_int(path, "SELECT reflected FROM v_traps_by_level_reason WHERE level = 1 AND exit_name = 'CPUID'"), 2);
	assert_string_equal(q_text(path, "SELECT exit_name FROM v_traps_by_level_reason WHERE level = 2"), "IOIO");
	assert_string_equal(q_text(path, "SELECT exit_name || ' ' || count || ' ' || handled || ' ' || reflected"
					 " FROM v_traps_by_level_reason WHERE level = 0"), "IOIO 2 2 0");
	assert_int_equal(q_int(path, "SELECT count(*) FROM v_traps_by_level_reason"), 3);
	assert_string_equal(q_text(path, "SELECT exit_name FROM v_events WHERE kind = 'HYPERCALL' AND rec_level = 1"),
			    "NULL");
	assert_string_equal(q_text(path, "SELECT exit_code FROM v_events WHERE kind = 'HYPERCALL' AND rec_level = 1"),
			    "0x2");
	assert_string_equal(q_text(path, "SELECT exit_name FROM v_events WHERE kind = 'HYPERCALL' AND rec_level = 0"),
			    "IOIO");
	assert_string_equal(q_text(path, "SELECT exit_name FROM v_events WHERE kind = 'PT_WRITE'"), "NULL");

	assert_string_equal(q_text(path, "SELECT entry_gpa || ' ' || old_val || ' -> ' || new_val || ' L' || table_level"
					 " || ' ' || insn FROM v_pt_writes"),
			    "0x0000000000001008 0x0000000000000000 -> 0x0000000000002003 L1 mov qword ptr [rdi], rax");

	assert_int_equal(q_int(path, "SELECT fills FROM v_shadow_fills_per_page WHERE page = '0x0000000000400000'"), 2);
	assert_int_equal(q_int(path, "SELECT fills FROM v_shadow_fills_per_page WHERE page = '0x0000000000401000'"), 1);

	assert_int_equal(q_int(path, "SELECT events FROM v_vm_events WHERE vm_id = 2 AND kind = 'TRAP'"), 3);
	assert_string_equal(q_text(path, "SELECT level || ' ' || parent_vm_id || ' ' || image FROM v_vm_events"
					 " WHERE vm_id = 3 AND kind = 'TRAP'"), "2 2 probe.elf");
	assert_string_equal(q_text(path, "SELECT parent_vm_id FROM vms WHERE vm_id = 2"), "NULL");
}

static void traps_view_is_served_by_the_partial_trap_index(void **state)
{
	const char *path = db_path("plan");
	sqlite3_stmt *s = NULL;
	sqlite3 *db;
	int used = 0;

	(void)state;
	nb_store_close(store_open(path, 0));
	db = db_open_raw(path);
	assert_int_equal(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT * FROM v_traps_by_level_reason WHERE run_id = 1",
					    -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW)
		if (strstr((const char *)sqlite3_column_text(s, 3), "COVERING INDEX events_traps"))
			used = 1;
	sqlite3_finalize(s);
	sqlite3_close(db);
	assert_true(used);
}

static void run_summary_shows_events_by_level_lost_records_console_and_completion(void **state)
{
	const char *path = db_path("summary");
	struct nb_error err = { 0 };
	struct nb_trace_record r;
	struct nb_store *st;
	int i;

	(void)state;
	st = store_open(path, 1);
	run_begin(st);
	for (i = 0; i < 4; i++) {
		r = record(NB_EV_TRAP, 1, 0x72, 0);
		store_event(st, &r);
	}
	r = record(NB_EV_TRAP, 2, 0x72, 0);
	store_event(st, &r);
	assert_int_equal(nb_store_lost(st, 1, 1, "ring-full", 5, &err), 0);
	assert_int_equal(nb_store_lost(st, 1, 1, "torn", 2, &err), 0);
	assert_int_equal(nb_store_lost(st, 1, 1, "ring-full", 1, &err), 0);
	assert_int_equal(nb_store_console(st, 1, 1, 1, "booting\nignored", 7, &err), 0);
	assert_int_equal(nb_store_console(st, 2, 2, 2, "probe ok", 8, &err), 0);
	assert_int_equal(nb_store_event_count(st), 5);
	run_end(st, 1);
	run_begin(st);
	nb_store_close(st);

	assert_string_equal(q_text(path, "SELECT events || ' [' || events_by_level || '] deepest ' || deepest_level"
					 " || ' lost ' || records_lost || ' console ' || console_lines || ' completed '"
					 " || completed FROM v_run_summary WHERE run_id = 1"),
			    "5 [L1=4 L2=1] deepest 3 lost 8 console 2 completed 1");
	assert_string_equal(q_text(path, "SELECT lost_by_reason FROM v_run_summary WHERE run_id = 1"),
			    "L1 vm1 ring-full=6, L1 vm1 torn=2");
	assert_string_equal(q_text(path, "SELECT line FROM console WHERE level = 1"), "booting");
	assert_true(q_int(path, "SELECT ended_at LIKE '____-__-__T__:__:__.___Z' FROM runs WHERE run_id = 1"));
	assert_string_equal(q_text(path, "SELECT events || ' ' || completed || ' ' || coalesce(ended_at, '-')"
					 " FROM v_run_summary WHERE run_id = 2"), "0 0 -");
}

static void events_are_committed_in_batches_of_NB_STORE_BATCH(void **state)
{
	const char *path = db_path("batch");
	struct nb_trace_record r = record(NB_EV_TRAP, 1, 0x72, 0);
	struct nb_error err = { 0 };
	struct nb_store *st;
	int i;

	(void)state;
	st = store_open(path, 0);
	run_begin(st);
	for (i = 0; i < NB_STORE_BATCH - 1; i++)
		store_event(st, &r);
	assert_int_equal(q_int(path, "SELECT count(*) FROM events"), 0);
	store_event(st, &r);
	assert_int_equal(q_int(path, "SELECT count(*) FROM events"), NB_STORE_BATCH);
	store_event(st, &r);
	assert_int_equal(nb_store_flush(st, &err), 0);
	assert_int_equal(q_int(path, "SELECT count(*) FROM events"), NB_STORE_BATCH + 1);
	assert_int_equal(nb_store_event_count(st), NB_STORE_BATCH + 1);
	nb_store_close(st);
}

static void events_without_a_run_are_refused(void **state)
{
	const char *path = db_path("norun");
	struct nb_trace_record r = record(NB_EV_TRAP, 1, 0x72, 0);
	struct nb_error err = { 0 };
	struct nb_store *st;

	(void)state;
	st = store_open(path, 0);
	assert_int_equal(nb_store_event(st, &r, &err), -NB_E_USAGE);
	assert_non_null(strstr(err.msg, "without a run begun"));
	run_begin(st);
	run_end(st, 1);
	assert_int_equal(nb_store_event(st, &r, &err), -NB_E_USAGE);
	nb_store_close(st);
	assert_int_equal(q_int(path, "SELECT count(*) FROM events"), 0);
}

#define CRASH_FLUSHES 3
#define CRASH_FLUSH_EVERY 2500

/* The writer of the crash test: flushed batches, each reported to the parent, then writes without end. */
static __attribute__((noreturn)) void crash_writer(const char *path, int report_fd)
{
	struct nb_store_options opt = { .annotate = 1 };
	struct nb_store *st = NULL;
	struct nb_error err = { 0 };
	struct nb_run_info info = { "crash", NULL, NULL, 0 };
	struct nb_trace_record r = record(NB_EV_PT_WRITE, 1, 0, 0);
	uint64_t n = 0;
	int b, i;

	set_insn(&r, "\x48\x89\x07", 3);
	if (nb_store_open(path, &opt, &st, &err) != 0 || nb_store_run_begin(st, &info, NULL, &err) != 0)
		_exit(2);
	for (b = 0; b < CRASH_FLUSHES; b++) {
		for (i = 0; i < CRASH_FLUSH_EVERY; i++) {
			r.addr = n++;
			if (nb_store_event(st, &r, &err) != 0)
				_exit(3);
		}
		if (nb_store_flush(st, &err) != 0 || write(report_fd, &n, sizeof(n)) != sizeof(n))
			_exit(4);
	}
	for (;;) {
		r.addr = n++;
		r.insn[2] = (uint8_t)n; /* new instructions too, so that insns rows are mid-batch as well */
		if (nb_store_event(st, &r, &err) != 0)
			_exit(5);
	}
}

static void writer_killed_mid_batch_leaves_a_consistent_file_with_every_flushed_batch(void **state)
{
	const char *path = db_path("crash");
	struct timespec pause = { 0, 80 * 1000 * 1000 };
	uint64_t flushed = 0, n;
	int fds[2], status, b;
	int64_t events;
	char sql[200];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		crash_writer(path, fds[1]);
	}
	close(fds[1]);
	for (b = 0; b < CRASH_FLUSHES; b++) {
		if (read(fds[0], &n, sizeof(n)) != sizeof(n))
			break;
		flushed = n;
	}
	/* Let it write for a while: several automatic commits and an open batch. */
	nanosleep(&pause, NULL);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fds[0]);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(flushed, CRASH_FLUSHES * CRASH_FLUSH_EVERY);

	nb_store_close(store_open(path, 1));
	assert_string_equal(q_text(path, "PRAGMA integrity_check"), "ok");
	events = q_int(path, "SELECT count(*) FROM events");
	/* Every flushed event, then only whole automatic batches: nothing of the open one. */
	assert_true(events >= (int64_t)flushed);
	assert_int_equal((events - (int64_t)flushed) % NB_STORE_BATCH, 0);
	snprintf(sql, sizeof(sql), "SELECT count(DISTINCT addr) = %lld AND min(addr) = 0 AND max(addr) = %lld FROM events",
		 (long long)events, (long long)events - 1);
	assert_int_equal(q_int(path, sql), 1);
	assert_int_equal(q_int(path, "SELECT count(*) FROM events e LEFT JOIN insns i USING (insn_id)"
				     " WHERE i.insn_id IS NULL"), 0);
	assert_int_equal(q_int(path, "SELECT completed FROM runs"), 0);
	assert_string_equal(q_text(path, "SELECT coalesce(ended_at, 'none') FROM runs"), "none");
	print_message("# writer killed after %lld committed events (%llu flushed explicitly)\n",
		      (long long)events, (unsigned long long)flushed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_database_gets_schema_version_tables_views_and_names),
		cmocka_unit_test(reopen_keeps_rows_and_accepts_the_same_schema_version),
		cmocka_unit_test(newer_schema_version_is_refused_with_a_clear_message),
		cmocka_unit_test(older_schema_versions_are_migrated_and_keep_their_runs),
		cmocka_unit_test(older_schema_with_changed_columns_is_refused_and_left_alone),
		cmocka_unit_test(foreign_database_without_schema_version_is_refused),
		cmocka_unit_test(unwritable_path_gives_NB_E_DB_with_the_path_in_the_message),
		cmocka_unit_test(u64_values_at_and_above_2_63_round_trip_and_show_as_hex),
		cmocka_unit_test(capstone_text_is_stored_once_per_distinct_byte_string),
		cmocka_unit_test(unannotated_bytes_get_their_text_when_an_annotating_store_meets_them),
		cmocka_unit_test(views_answer_traps_by_level_and_reason_pt_writes_shadow_fills_and_vm_events),
		cmocka_unit_test(traps_view_is_served_by_the_partial_trap_index),
		cmocka_unit_test(run_summary_shows_events_by_level_lost_records_console_and_completion),
		cmocka_unit_test(events_are_committed_in_batches_of_NB_STORE_BATCH),
		cmocka_unit_test(events_without_a_run_are_refused),
		cmocka_unit_test(writer_killed_mid_batch_leaves_a_consistent_file_with_every_flushed_batch),
	};

	return cmocka_run_group_tests_name("trace store", tests, make_test_dir, remove_test_dir);
}
