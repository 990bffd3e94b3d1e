#include <stdlib.h>
#include <string.h>

#include "replay/replay_db.h"

int nb_replay_db_open(const char *path, sqlite3 **db, struct nb_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*db = NULL;
	rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(*db, "SELECT 1 FROM events LIMIT 1", -1, &s, NULL);
	sqlite3_finalize(s);
	if (rc != SQLITE_OK) {
		nb_error_set(err, NB_E_DB, "'%s': not a nestbed trace database (%s)", path,
			     *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
		sqlite3_close(*db);
		*db = NULL;
		return -NB_E_DB;
	}
	return 0;
}

int nb_replay_db_runs(sqlite3 *db, int64_t **ids, size_t *n, struct nb_error *err)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT run_id FROM runs ORDER BY run_id", -1, &s, NULL) != SQLITE_OK)
		return nb_error_set(err, NB_E_DB, "reading runs: %s", sqlite3_errmsg(db));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			int64_t *g = realloc(*ids, (cap = cap ? cap * 2 : 8) * sizeof(*g));
			if (!g) {
				sqlite3_finalize(s);
				return nb_error_set(err, NB_E_NOMEM, "out of memory reading runs");
			}
			*ids = g;
		}
		(*ids)[(*n)++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return nb_error_set(err, NB_E_DB, "reading runs: %s", sqlite3_errmsg(db));
	return 0;
}

int nb_replay_db_feed(sqlite3 *db, int64_t run_id, nb_replay_event_fn fn, void *opaque,
		      struct nb_error *err)
{
	static const char sql[] =
		"SELECT event_id, ts, rec_level, guest_level, vm_id, vcpu, kind, action, exit_code, "
		"exit_info1, exit_info2, rip, addr, old_val, new_val, aux FROM events "
		"WHERE run_id = ?1 AND (kind BETWEEN 4 AND 8 OR kind = 26) ORDER BY event_id"; /* 26 = GPT_WALK */
	sqlite3_stmt *s = NULL;
	int rc, stop = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return nb_error_set(err, NB_E_DB, "reading events: %s", sqlite3_errmsg(db));
	sqlite3_bind_int64(s, 1, run_id);
	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct nb_trace_record rec;

		memset(&rec, 0, sizeof(rec));
		rec.tsc = (uint64_t)sqlite3_column_int64(s, 1);
		rec.rec_level = (uint8_t)sqlite3_column_int(s, 2);
		rec.guest_level = (uint8_t)sqlite3_column_int(s, 3);
		rec.vm_id = (uint16_t)sqlite3_column_int(s, 4);
		rec.vcpu = (uint16_t)sqlite3_column_int(s, 5);
		rec.kind = (uint16_t)sqlite3_column_int(s, 6);
		rec.action = (uint8_t)sqlite3_column_int(s, 7);
		/* The store bit-casts unsigned 64-bit values to signed ones: cast them back. */
		rec.exit_code = (uint64_t)sqlite3_column_int64(s, 8);
		rec.exit_info1 = (uint64_t)sqlite3_column_int64(s, 9);
		rec.exit_info2 = (uint64_t)sqlite3_column_int64(s, 10);
		rec.rip = (uint64_t)sqlite3_column_int64(s, 11);
		rec.addr = (uint64_t)sqlite3_column_int64(s, 12);
		rec.old_val = (uint64_t)sqlite3_column_int64(s, 13);
		rec.new_val = (uint64_t)sqlite3_column_int64(s, 14);
		rec.aux = (uint64_t)sqlite3_column_int64(s, 15);
		stop = fn(opaque, sqlite3_column_int64(s, 0), &rec);
	}
	if (!stop && rc != SQLITE_DONE) {
		nb_error_set(err, NB_E_DB, "reading events of run %lld: %s", (long long)run_id, sqlite3_errmsg(db));
		sqlite3_finalize(s);
		return -NB_E_DB;
	}
	sqlite3_finalize(s);
	return stop;
}
