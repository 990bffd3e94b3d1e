/*
 * The HTML report of a trace database: one self-contained file per database (inline CSS and SVG,
 * no script, nothing fetched), with, for each run, its header (command line, host, KVM flavour,
 * outcome, the tree of VMs), charts of traps per level over time, exit reasons by level, exit
 * multiplication by depth, page-table writes and shadow fills per page and the slowest trap
 * paths, the virtualizability verdicts when the database has them, records lost and the console.
 * The queries read the views of db/schema.sql wherever one answers the question.
 */
#ifndef NESTBED_REPORT_H
#define NESTBED_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "l0/nestbed.h"

struct nb_report_options {
	int64_t run_id;       /* the run to report; 0: every run in the database */
	const char *out_path; /* file to write; "-": standard output */
};

/*
 * Renders the report of db_path into a string the caller frees with free(). The database is
 * opened read-only; a file that is missing, not SQLite, or not a nestbed trace of this schema
 * version is refused with NB_E_DB, as is a run id it does not hold. *runs is set
 * to the number of runs reported.
 */
int nb_report_render(const char *db_path, int64_t run_id, char **html, size_t *len, int *runs,
		     struct nb_error *err);

/*
 * Renders the report and writes it to opt->out_path. Nothing is written when rendering fails. An
 * output that cannot be written is NB_E_DB too: the error codes have no I/O code of their own, and
 * for a script the report is one more file of the trace store.
 */
int nb_report_write(const char *db_path, const struct nb_report_options *opt, int *runs,
		    struct nb_error *err);

#endif
