/*
 * The Popek-Goldberg verdicts of db/schema.sql on hand-built databases: the theory views on the
 * real classification (x86 fails Theorems 1 and 3 under every feature set) and on altered ones
 * (the theorems hold when every sensitive instruction traps; fail because of one instruction;
 * Theorem 3 survives a non-trapping instruction that is not user-sensitive), and the practice
 * views on hand-written probe records: all three hold at depths 1 and 2; Theorem 1 fails only at
 * depth 2 (our stand-in for "only at depth 3" until depth 3 runs), with the evidence; Theorem 2
 * fails on time dilation alone; an audit-mode VIOLATION event is evidence too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "db/schema.h"
#include "shadow/sensitivity.h"
#include "tracer/trace_format.h"

_Static_assert(NB_EV_VIOLATION == 11 && NB_EV_GUEST == 12,
	       "db/schema.sql's v_pg_violations and v_pg_observations name these kinds by number");

static sqlite3 *open_db(void)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	if (sqlite3_exec(db, nb_store_schema_sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("schema: %s", err);
	return db;
}

static void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

/* The first column of the first row as text ("" for NULL or no row). */
static char *text(sqlite3 *db, const char *fmt, ...)
{
	static char out[4096];
	char *sql;
	sqlite3_stmt *s;
	va_list ap;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	out[0] = '\0';
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_free(sql);
	return out;
}

static long num(sqlite3 *db, const char *sql_with_args, ...)
{
	char *sql, *t;
	va_list ap;
	long v;

	va_start(ap, sql_with_args);
	sql = sqlite3_vmprintf(sql_with_args, ap);
	va_end(ap);
	t = text(db, "%s", sql);
	if (!*t)
		fail_msg("%s: no value", sql);
	v = strtol(t, NULL, 10);
	sqlite3_free(sql);
	return v;
}

/* ---- theory ---- */

static void x86_fails_theorems_1_and_3_under_every_feature_set(void **state)
{
	sqlite3 *db = open_db();

	(void)state;
	assert_int_equal(num(db, "SELECT count(*) FROM v_pg_theory"), NB_FEAT_COUNT * 3 * 2);
	assert_int_equal(num(db, "SELECT count(*) FROM v_pg_theory WHERE holds"), 0);
	/* UMIP makes SGDT trap: it leaves the list; PUSHF never does. */
	assert_non_null(strstr(text(db, "SELECT failing FROM v_pg_theory WHERE feature_set = 'none' AND theorem = 1"
					" AND basis = 'architecture'"), "sgdt"));
	assert_null(strstr(text(db, "SELECT failing FROM v_pg_theory WHERE feature_set = 'umip' AND theorem = 1"
				    " AND basis = 'architecture'"), "sgdt"));
	assert_non_null(strstr(text(db, "SELECT failing FROM v_pg_theory WHERE feature_set = 'umip' AND theorem = 1"
					" AND basis = 'architecture'"), "pushf"));
	/* CPUID faulting works in the manuals, not on these machines. */
	assert_null(strstr(text(db, "SELECT failing FROM v_pg_theory WHERE feature_set = 'cpuidf' AND theorem = 1"
				    " AND basis = 'architecture'"), "cpuid"));
	assert_non_null(strstr(text(db, "SELECT failing FROM v_pg_theory WHERE feature_set = 'cpuidf' AND theorem = 1"
					" AND basis = 'measured'"), "cpuid"));
	/* Timing instructions count for Theorem 2 only. */
	assert_null(strstr(text(db, "SELECT failing FROM v_pg_theory WHERE features = 0 AND theorem = 1"
				    " AND basis = 'architecture'"), "rdtsc"));
	assert_non_null(strstr(text(db, "SELECT failing FROM v_pg_theory WHERE features = 0 AND theorem = 2"
					" AND basis = 'architecture'"), "rdtsc"));
	assert_null(strstr(text(db, "SELECT failing FROM v_pg_theory WHERE feature_set = 'tsd' AND theorem = 2"
				    " AND basis = 'architecture'"), "rdtsc"));
	/* MOV from a segment register is not user-sensitive. */
	assert_null(strstr(text(db, "SELECT failing FROM v_pg_theory WHERE features = 0 AND theorem = 3"
				    " AND basis = 'architecture'"), "mov from sreg"));
	sqlite3_close(db);
}

static void theorems_hold_when_every_sensitive_instruction_traps(void **state)
{
	sqlite3 *db = open_db();

	(void)state;
	exec(db, "UPDATE insn_traps SET traps_arch = 1 WHERE features = 7");
	assert_int_equal(num(db, "SELECT count(*) FROM v_pg_theory WHERE features = 7 AND basis = 'architecture'"
				 " AND holds AND failing IS NULL"), 3);
	assert_int_equal(num(db, "SELECT count(*) FROM v_pg_theory WHERE features = 7 AND basis = 'measured'"
				 " AND holds"), 0);
	sqlite3_close(db);
}

static void theorem_1_fails_because_of_one_instruction(void **state)
{
	sqlite3 *db = open_db();

	(void)state;
	exec(db, "UPDATE insn_traps SET traps_arch = 1 WHERE features = 7"
		 " AND sens_id <> (SELECT sens_id FROM insn_classes WHERE name = 'pushf')");
	assert_string_equal(text(db, "SELECT holds || ' ' || failing FROM v_pg_theory WHERE features = 7"
				     " AND basis = 'architecture' AND theorem = 1"), "0 pushf");
	assert_string_equal(text(db, "SELECT holds || ' ' || failing FROM v_pg_theory WHERE features = 7"
				     " AND basis = 'architecture' AND theorem = 3"), "0 pushf");
	sqlite3_close(db);
}

/* Theorem 3 (hybrid VMM) needs only the user-sensitive instructions to trap. */
static void theorem_3_holds_where_theorem_1_fails_on_a_supervisor_only_instruction(void **state)
{
	sqlite3 *db = open_db();

	(void)state;
	exec(db, "UPDATE insn_traps SET traps_arch = 1 WHERE features = 7"
		 " AND sens_id <> (SELECT sens_id FROM insn_classes WHERE name = 'mov from sreg')");
	assert_string_equal(text(db, "SELECT holds || ' ' || failing FROM v_pg_theory WHERE features = 7"
				     " AND basis = 'architecture' AND theorem = 1"), "0 mov from sreg");
	assert_int_equal(num(db, "SELECT holds FROM v_pg_theory WHERE features = 7 AND basis = 'architecture'"
				 " AND theorem = 3"), 1);
	sqlite3_close(db);
}

/* ---- practice: hand-written probe records ---- */

#define NONE (-1)

static void add_run(sqlite3 *db, int run, const char *mode)
{
	char *sql = sqlite3_mprintf("INSERT INTO runs (run_id, started_at) VALUES (%d, 'now');"
				    "INSERT INTO pg_runs (run_id, mode) VALUES (%d, %Q)", run, run, mode);

	exec(db, sql);
	sqlite3_free(sql);
}

/* One probe record, as guests/probes writes it (sensitivity.h, NB_PROBE_AUX). */
static void add_obs(sqlite3 *db, int run, int depth, unsigned features, unsigned mode, unsigned probe, unsigned id,
		    int vector, uint64_t value, uint64_t value2, int expected_vector, int has_expected, uint64_t expected,
		    uint64_t flags)
{
	uint64_t info2 = flags | (has_expected ? NB_PROBE_F_EXPECT_VALUE : 0) |
			 (uint64_t)(expected_vector == NONE ? 0 : expected_vector + 1) << 8;
	char *sql = sqlite3_mprintf(
		"INSERT INTO events (run_id, ts, rec_level, guest_level, vm_id, vcpu, kind, action, exit_code,"
		" exit_info1, exit_info2, rip, addr, old_val, new_val, aux) VALUES (%d, 0, %d, %d, %d, 0, %d, 0, 0,"
		" %lld, %lld, %lld, %lld, %lld, %lld, %lld)",
		run, depth, depth, depth, NB_EV_GUEST, (long long)(vector == NONE ? 0 : vector + 1), (long long)info2,
		(long long)(0x100000 + id * 16), (long long)value2, (long long)value, (long long)expected,
		(long long)NB_PROBE_AUX(features, mode, probe, id));

	exec(db, sql);
	sqlite3_free(sql);
}

/* A probe run: the set-up record, SGDT in kernel mode (value sgdt_base, architecture 0x1000),
 * PUSHF in user mode (IF as given, architecture 0), RDTSC in user mode trapping as TSD asks, and
 * a port-exit timing record of `cycles`. */
static void add_probe_run(sqlite3 *db, int run, int depth, const char *mode, uint64_t sgdt_base, uint64_t user_if,
			  uint64_t cycles)
{
	const unsigned f = NB_FEAT_TSD;

	add_run(db, run, mode);
	add_obs(db, run, depth, f, NB_PROBE_KERNEL, 0, NB_SENS_NONE, NONE, f, 7, NONE, 1, f, 0);
	add_obs(db, run, depth, f, NB_PROBE_KERNEL, 0, NB_SENS_SGDT, NONE, sgdt_base, 0x37, NONE, 1, 0x1000, 0);
	add_obs(db, run, depth, f, NB_PROBE_USER, 0, NB_SENS_PUSHF, NONE, user_if, 0, NONE, 1, 0, 0);
	add_obs(db, run, depth, f, NB_PROBE_USER, 0, NB_SENS_RDTSC, 13, 0, 0, 13, 1, 1, 0);
	add_obs(db, run, depth, f, NB_PROBE_KERNEL, 1, NB_SENS_TIMING_PROBE, NONE, cycles, 0, NONE, 0, 0,
		NB_PROBE_F_TIMING);
}

static long holds(sqlite3 *db, int run, int theorem)
{
	return num(db, "SELECT holds_in_practice FROM v_pg_verdicts WHERE run_id = %d AND theorem = %d", run, theorem);
}

static void theorems_hold_in_practice_at_depths_1_and_2(void **state)
{
	sqlite3 *db = open_db();
	int t;

	(void)state;
	add_probe_run(db, 1, 1, "plain", 0x1000, 0, 1000);
	add_probe_run(db, 2, 2, "plain", 0x1000, 0, 1500);
	assert_int_equal(num(db, "SELECT count(*) FROM v_pg_probe_runs"), 2);
	assert_int_equal(num(db, "SELECT count(*) FROM v_pg_equivalence WHERE run_id = 2 AND as_depth1 = 1"), 3);
	for (t = 1; t <= 3; t++) {
		assert_int_equal(holds(db, 1, t), 1);
		assert_int_equal(holds(db, 2, t), 1);
	}
	assert_string_equal(text(db, "SELECT dilation FROM v_pg_timing WHERE run_id = 2"), "1.5");
	assert_int_equal(num(db, "SELECT count(*) FROM v_pg_evidence"), 0);
	sqlite3_close(db);
}

/* Depth 1 is faithful, depth 2's kernel-mode SGDT shows another base: Theorem 1 (and 2) stop
 * holding at depth 2; Theorem 3 still holds there (a hybrid VMM interprets kernel mode). */
static void theorem_1_fails_only_at_depth_2(void **state)
{
	sqlite3 *db = open_db();

	(void)state;
	add_probe_run(db, 1, 1, "plain", 0x1000, 0, 1000);
	add_probe_run(db, 2, 2, "plain", 0xfffff000, 0, 1000);
	assert_int_equal(holds(db, 1, 1), 1);
	assert_int_equal(holds(db, 2, 1), 0);
	assert_int_equal(holds(db, 2, 2), 0);
	assert_int_equal(holds(db, 2, 3), 1);
	assert_string_equal(text(db, "SELECT min(depth) FROM v_pg_verdicts WHERE theorem = 1 AND NOT holds_in_practice"), "2");
	assert_string_equal(text(db, "SELECT insn || ' ' || cpu_mode || ' ' || rip || ' ' || observed || ' / ' || expected"
				     " || ' / ' || compared_with FROM v_pg_evidence WHERE run_id = 2 AND theorem = 1"),
			    "sgdt kernel 0x0000000000100280 0xfffff000 0x37 / 0x1000 0x37 / depth 1 (run 1)");
	sqlite3_close(db);
}

/* Depth 1 already differs from the architecture in user mode (PUSHF shows IF = 1, as PVM does). */
static void user_mode_infidelity_fails_theorems_1_and_3_at_depth_1(void **state)
{
	sqlite3 *db = open_db();

	(void)state;
	add_probe_run(db, 1, 1, "plain", 0x1000, 1, 1000);
	assert_int_equal(holds(db, 1, 1), 0);
	assert_int_equal(holds(db, 1, 3), 0);
	assert_string_equal(text(db, "SELECT compared_with FROM v_pg_evidence WHERE run_id = 1 AND theorem = 3"),
			    "the architecture");
	sqlite3_close(db);
}

static void theorem_2_fails_on_time_dilation_alone(void **state)
{
	sqlite3 *db = open_db();

	(void)state;
	add_probe_run(db, 1, 1, "plain", 0x1000, 0, 1000);
	add_probe_run(db, 2, 2, "plain", 0x1000, 0, 50000);
	assert_int_equal(holds(db, 2, 1), 1);
	assert_int_equal(holds(db, 2, 2), 0);
	assert_int_equal(holds(db, 2, 3), 1);
	assert_string_equal(text(db, "SELECT kind || ': ' || observed FROM v_pg_evidence WHERE run_id = 2 AND theorem = 2"),
			    "time: 50000 cycles (x50.0)");
	sqlite3_close(db);
}

/* A VIOLATION event (nbvmm's audit mode) in a run is evidence against Theorem 1, named by aux
 * (a sens_id) or by capstone's id and operands. */
static void audit_mode_violations_are_evidence(void **state)
{
	sqlite3 *db = open_db();

	(void)state;
	add_probe_run(db, 1, 1, "plain", 0x1000, 0, 1000);
	add_probe_run(db, 2, 2, "audit", 0x1000, 0, 1000);
	exec(db, "INSERT INTO insns (insn_id, bytes, length, mnemonic, op_str, text, cs_id) VALUES"
		 " (1, x'8cca', 2, 'mov', 'edx, cs', 'mov edx, cs', 449)");
	exec(db, "INSERT INTO events (run_id, ts, rec_level, guest_level, vm_id, vcpu, kind, action, exit_code,"
		 " exit_info1, exit_info2, rip, addr, old_val, new_val, aux, insn_id)"
		 " VALUES (2, 0, 1, 2, 2, 0, 11, 0, 0, 0, 0, 4096, 0, 51, 8, 0, 1)");
	assert_string_equal(text(db, "SELECT (SELECT name FROM insn_classes c WHERE c.sens_id = v.sens_id) || ' ' || mode"
				     " || ' ' || observed || ' ' || expected FROM v_pg_violations v"),
			    "mov from sreg audit 0x33 0x8");
	assert_int_equal(holds(db, 2, 1), 0);
	assert_int_equal(holds(db, 2, 3), 1);
	assert_string_equal(text(db, "SELECT kind || ' ' || disassembly FROM v_pg_evidence WHERE run_id = 2 AND theorem = 1"),
			    "violation mov edx, cs");
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(x86_fails_theorems_1_and_3_under_every_feature_set),
		cmocka_unit_test(theorems_hold_when_every_sensitive_instruction_traps),
		cmocka_unit_test(theorem_1_fails_because_of_one_instruction),
		cmocka_unit_test(theorem_3_holds_where_theorem_1_fails_on_a_supervisor_only_instruction),
		cmocka_unit_test(theorems_hold_in_practice_at_depths_1_and_2),
		cmocka_unit_test(theorem_1_fails_only_at_depth_2),
		cmocka_unit_test(user_mode_infidelity_fails_theorems_1_and_3_at_depth_1),
		cmocka_unit_test(theorem_2_fails_on_time_dilation_alone),
		cmocka_unit_test(audit_mode_violations_are_evidence),
	};

	return cmocka_run_group_tests_name("sensitivity_sql", tests, NULL, NULL);
}
