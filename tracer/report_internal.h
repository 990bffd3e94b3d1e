/*
 * Shared by the files of the HTML report: report.c (the document, opening the database, the run
 * loop), report_run.c (each run's header, tables and console) and report_charts.c (the charts and
 * the queries behind them).
 */
#ifndef NESTBED_REPORT_INTERNAL_H
#define NESTBED_REPORT_INTERNAL_H

#include <stdint.h>
#include <sqlite3.h>

#include "l0/nestbed.h"

struct nb_report {
	sqlite3 *db;
	const char *path;     /* of the database, for messages */
	sqlite3_str *out;     /* the document being written */
	struct nb_error *err;
};

/* What every section of one run needs to know about it. */
struct nb_report_run {
	int64_t run_id;
	double tsc_khz;       /* 0 when the run did not record it: times stay in TSC ticks */
	int64_t t0, t1;       /* first and last event timestamps (0, 0 without events) */
	int64_t events;
};

/* Sets r->err to "trace database 'path': what: SQLite's message" and returns its code. */
int report_fail(struct nb_report *r, const char *what);
/* Prepares sql and binds run_id to ?1 when the statement has parameters; NULL on failure. */
sqlite3_stmt *report_query(struct nb_report *r, const char *sql, int64_t run_id);
/* sqlite3_step with the failure turned into r->err: SQLITE_ROW, SQLITE_DONE, or a negative code. */
int report_step(struct nb_report *r, sqlite3_stmt *s, const char *what);
/* 1 when the database has a table or view of that name. */
int report_has_object(struct nb_report *r, const char *name);

/* Column i of the current row as escaped text ("" for NULL). */
void report_text_col(struct nb_report *r, sqlite3_stmt *s, int i);

/* A section heading and its one-paragraph explanation (trusted text, not escaped). */
void report_section(struct nb_report *r, const struct nb_report_run *run, const char *anchor,
		    const char *title, const char *explanation);

/* Time of a timestamp from the start of the run, in ms (or millions of ticks without tsc_khz). */
double report_time(const struct nb_report_run *run, int64_t ts);
/* The unit report_time returns, for axis labels. */
const char *report_time_unit(const struct nb_report_run *run);

/* report_run.c: the run's header (command line, host, outcome, VM tree). */
int report_run_header(struct nb_report *r, const struct nb_report_run *run);
/* report_run.c: verdicts (when present), records lost, the console. */
int report_run_tables(struct nb_report *r, const struct nb_report_run *run);
/* report_charts.c: every chart of the run with its caption. */
int report_run_charts(struct nb_report *r, const struct nb_report_run *run);

#endif
