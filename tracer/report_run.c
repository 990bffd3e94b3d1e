/*
 * The textual parts of a run's section in the HTML report: the header (what was run, where,
 * how it ended, the tree of VMs), the virtualizability verdicts, records lost and the console.
 */
#include <stdlib.h>
#include <string.h>

#include "tracer/report_internal.h"
#include "tracer/report_svg.h"

#define REPORT_MAX_VMS 256
#define REPORT_CONSOLE_LINES 5000
#define REPORT_VERDICT_ROWS 500

struct report_vm {
	int vm_id, level, parent;
	char *image, *args;
	int64_t mem, events;
};

/* A coloured square naming a level, the same colour as the level's marks in the charts. */
static void report_level_swatch(struct nb_report *r, int level)
{
	sqlite3_str_appendf(r->out, "<span class=\"level\" style=\"background:%s\"></span>",
			    nb_svg_colour(nb_svg_level_colour(level)));
}

static void report_vm_children(struct nb_report *r, const struct report_vm *vms, int n, int parent, int depth)
{
	int i, any = 0;

	/* Depth bounds the recursion: a vms table with a cycle in it must not hang the report. */
	if (depth > 16)
		return;
	for (i = 0; i < n; i++) {
		if (vms[i].parent != parent)
			continue;
		if (!any++)
			sqlite3_str_appendall(r->out, "<ul class=\"tree\">\n");
		sqlite3_str_appendall(r->out, "<li>");
		report_level_swatch(r, vms[i].level);
		sqlite3_str_appendf(r->out, "<b>L%d</b> vm %d <code>", vms[i].level, vms[i].vm_id);
		nb_xml_text(r->out, vms[i].image ? vms[i].image : "?");
		sqlite3_str_appendall(r->out, "</code>");
		if (vms[i].args && vms[i].args[0]) {
			sqlite3_str_appendall(r->out, " <code>");
			nb_xml_text(r->out, vms[i].args);
			sqlite3_str_appendall(r->out, "</code>");
		}
		sqlite3_str_appendf(r->out, ", %lld MiB, %lld events about it", (long long)(vms[i].mem >> 20),
				    (long long)vms[i].events);
		report_vm_children(r, vms, n, vms[i].vm_id, depth + 1);
		sqlite3_str_appendall(r->out, "</li>\n");
	}
	if (any)
		sqlite3_str_appendall(r->out, "</ul>\n");
}

/* The VMs as a tree under the host: each VM under its parent, guests of the host at the top. */
static int report_vm_tree(struct nb_report *r, const struct nb_report_run *run, const char *flavour)
{
	sqlite3_stmt *s = report_query(r,
				       "SELECT v.vm_id, v.level, coalesce(v.parent_vm_id, 0), v.image, v.args,"
				       " coalesce(v.memory_bytes, 0),"
				       " (SELECT count(*) FROM events e WHERE e.run_id = v.run_id AND e.vm_id = v.vm_id)"
				       " FROM vms v WHERE v.run_id = ?1 ORDER BY v.level, v.vm_id",
				       run->run_id);
	struct report_vm vms[REPORT_MAX_VMS];
	int n = 0, rc, i;

	if (!s)
		return -NB_E_DB;
	while ((rc = report_step(r, s, "reading the VMs")) == SQLITE_ROW && n < REPORT_MAX_VMS) {
		const char *image = (const char *)sqlite3_column_text(s, 3);
		const char *args = (const char *)sqlite3_column_text(s, 4);

		vms[n] = (struct report_vm){
			.vm_id = sqlite3_column_int(s, 0),
			.level = sqlite3_column_int(s, 1),
			.parent = sqlite3_column_int(s, 2),
			.image = image ? strdup(image) : NULL,
			.args = args ? strdup(args) : NULL,
			.mem = sqlite3_column_int64(s, 5),
			.events = sqlite3_column_int64(s, 6),
		};
		n++;
	}
	sqlite3_finalize(s);
	if (rc >= 0) {
		rc = 0;
		sqlite3_str_appendall(r->out, "<div class=\"vms\"><b>Levels and VMs</b>\n<ul class=\"tree\"><li>");
		report_level_swatch(r, 0);
		sqlite3_str_appendall(r->out, "<b>L0</b> host: nestbed on KVM (");
		nb_xml_text(r->out, flavour ? flavour : "unknown");
		sqlite3_str_appendall(r->out, ")\n");
		report_vm_children(r, vms, n, 0, 0);
		sqlite3_str_appendall(r->out, "</li></ul></div>\n");
	}
	for (i = 0; i < n; i++) {
		free(vms[i].image);
		free(vms[i].args);
	}
	return rc;
}

static void report_fact(struct nb_report *r, const char *name, sqlite3_stmt *s, int col)
{
	sqlite3_str_appendf(r->out, "<dt>%s</dt><dd>", name);
	report_text_col(r, s, col);
	sqlite3_str_appendall(r->out, "</dd>\n");
}

int report_run_header(struct nb_report *r, const struct nb_report_run *run)
{
	sqlite3_stmt *s = report_query(r,
				       "SELECT r.command_line, r.started_at, r.ended_at,"
				       " round((julianday(r.ended_at) - julianday(r.started_at)) * 86400, 3),"
				       " r.host_kernel, r.kvm_flavour, r.tsc_khz, r.completed, r.exit_status, r.stop_reason,"
				       " r.report, s.events_by_level, s.deepest_level, r.records_lost, s.lost_by_reason,"
				       " s.console_lines, s.vms"
				       " FROM runs r JOIN v_run_summary s USING (run_id) WHERE r.run_id = ?1",
				       run->run_id);
	char *flavour = NULL;
	int rc, ok;

	if (!s)
		return -NB_E_DB;
	rc = report_step(r, s, "reading the run");
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(s);
		return rc < 0 ? rc : 0;
	}
	sqlite3_str_appendf(r->out, "<h2>Run %lld: <code>", (long long)run->run_id);
	report_text_col(r, s, 0);
	sqlite3_str_appendall(r->out, "</code></h2>\n<dl class=\"facts\">\n");
	/* Completed with status 0 is the one outcome a reader need not look into. */
	ok = sqlite3_column_int(s, 7) && sqlite3_column_type(s, 8) != SQLITE_NULL && sqlite3_column_int(s, 8) == 0;
	/* No end recorded: L0 was killed (or is still running), and the row says no more than that. */
	if (sqlite3_column_type(s, 2) == SQLITE_NULL) {
		sqlite3_str_appendall(r->out, "<dt>outcome</dt><dd><span class=\"badge bad\">unfinished</span> no end"
					      " recorded: nestbed was killed, or is still running; the trace holds what it"
					      " committed</dd>\n");
	} else {
		sqlite3_str_appendf(r->out, "<dt>outcome</dt><dd><span class=\"badge %s\">%s</span> exit status ",
				    ok ? "ok" : "bad", sqlite3_column_int(s, 7) ? "completed" : "did not complete");
		report_text_col(r, s, 8);
		sqlite3_str_appendall(r->out, ", stopped by ");
		report_text_col(r, s, 9);
		sqlite3_str_appendall(r->out, "</dd>\n");
	}
	report_fact(r, "started", s, 1);
	report_fact(r, "ended", s, 2);
	if (sqlite3_column_type(s, 3) != SQLITE_NULL)
		sqlite3_str_appendf(r->out, "<dt>wall time</dt><dd>%.3f s</dd>\n", sqlite3_column_double(s, 3));
	report_fact(r, "host", s, 4);
	report_fact(r, "KVM flavour", s, 5);
	sqlite3_str_appendall(r->out, "<dt>TSC</dt><dd>");
	if (sqlite3_column_int64(s, 6) > 0)
		sqlite3_str_appendf(r->out, "%.3f MHz", sqlite3_column_double(s, 6) / 1000);
	else
		sqlite3_str_appendall(r->out, "frequency not recorded: times are in TSC ticks");
	sqlite3_str_appendf(r->out, "</dd>\n<dt>events</dt><dd>%lld (", (long long)run->events);
	report_text_col(r, s, 11);
	sqlite3_str_appendall(r->out, "), deepest guest level ");
	report_text_col(r, s, 12);
	sqlite3_str_appendf(r->out, "</dd>\n<dt>records lost</dt><dd>%lld", (long long)sqlite3_column_int64(s, 13));
	if (sqlite3_column_type(s, 14) != SQLITE_NULL) {
		sqlite3_str_appendall(r->out, " (");
		report_text_col(r, s, 14);
		sqlite3_str_appendall(r->out, ")");
	}
	sqlite3_str_appendf(r->out, "</dd>\n<dt>console</dt><dd>%lld lines</dd>\n</dl>\n",
			    (long long)sqlite3_column_int64(s, 15));
	if (sqlite3_column_type(s, 10) != SQLITE_NULL && sqlite3_column_bytes(s, 10) > 0) {
		sqlite3_str_appendall(r->out, "<details open=\"open\"><summary>Crash report</summary><pre>");
		report_text_col(r, s, 10);
		sqlite3_str_appendall(r->out, "</pre></details>\n");
	}
	if (sqlite3_column_text(s, 5))
		flavour = strdup((const char *)sqlite3_column_text(s, 5));
	sqlite3_finalize(s);
	rc = report_vm_tree(r, run, flavour);
	free(flavour);
	return rc;
}

/*
 * Verdict views of the virtualizability checks, found by name (v_virtualizability..., v_verdicts,
 * v_pg_verdicts...) so that the report follows the checks as they grow; failing views, tables of
 * such names.
 */
static const char report_verdict_objects_sql[] =
	"WITH named AS (SELECT name, type FROM sqlite_master WHERE type IN ('view', 'table')"
	" AND (name LIKE '%verdict%' OR name LIKE '%virtualizab%'))"
	" SELECT name FROM named WHERE type = 'view'"
	" OR NOT EXISTS (SELECT 1 FROM named WHERE type = 'view') ORDER BY name";

/*
 * One verdict view as a table, whatever its columns: the checks that fill them are still growing,
 * so the report shows what they hold rather than assuming a shape. Rows are this run's when the
 * view has a run_id column. Returns the number of rows, or a negative code.
 */
static int report_verdict_table(struct nb_report *r, const struct nb_report_run *run, const char *name)
{
	char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", name);
	sqlite3_stmt *s = sql ? report_query(r, sql, 0) : NULL;
	int i, ncol, has_run = 0, rows = 0, rc;

	sqlite3_free(sql);
	if (!s)
		return -NB_E_DB;
	ncol = sqlite3_column_count(s);
	for (i = 0; i < ncol; i++)
		has_run |= !strcmp(sqlite3_column_name(s, i), "run_id");
	if (has_run) {
		sqlite3_finalize(s);
		sql = sqlite3_mprintf("SELECT * FROM \"%w\" WHERE run_id = ?1", name);
		s = sql ? report_query(r, sql, run->run_id) : NULL;
		sqlite3_free(sql);
		if (!s)
			return -NB_E_DB;
	}
	while ((rc = report_step(r, s, "reading the virtualizability verdicts")) == SQLITE_ROW) {
		if (++rows > REPORT_VERDICT_ROWS)
			continue; /* counted, not shown */
		if (rows == 1) {
			sqlite3_str_appendall(r->out, "<table class=\"verdicts\"><caption><code>");
			nb_xml_text(r->out, name);
			sqlite3_str_appendall(r->out, "</code></caption>\n<tr>");
			for (i = 0; i < ncol; i++) {
				sqlite3_str_appendall(r->out, "<th>");
				nb_xml_text(r->out, sqlite3_column_name(s, i));
				sqlite3_str_appendall(r->out, "</th>");
			}
			sqlite3_str_appendall(r->out, "</tr>\n");
		}
		sqlite3_str_appendall(r->out, "<tr>");
		for (i = 0; i < ncol; i++) {
			int type = sqlite3_column_type(s, i);

			sqlite3_str_appendf(r->out, "<td%s>", type == SQLITE_INTEGER || type == SQLITE_FLOAT
								    ? " class=\"num\"" : "");
			if (type == SQLITE_BLOB)
				sqlite3_str_appendf(r->out, "(%d bytes)", sqlite3_column_bytes(s, i));
			else
				report_text_col(r, s, i);
			sqlite3_str_appendall(r->out, "</td>");
		}
		sqlite3_str_appendall(r->out, "</tr>\n");
	}
	sqlite3_finalize(s);
	if (rows)
		sqlite3_str_appendall(r->out, "</table>\n");
	if (rows > REPORT_VERDICT_ROWS)
		sqlite3_str_appendf(r->out, "<p>%d more rows not shown.</p>\n", rows - REPORT_VERDICT_ROWS);
	return rc < 0 ? rc : rows;
}

/* The verdicts section, only when some verdict view has rows for this run. */
static int report_verdicts(struct nb_report *r, const struct nb_report_run *run)
{
	sqlite3_stmt *s = report_query(r, report_verdict_objects_sql, 0);
	sqlite3_str *doc = r->out, *tables = sqlite3_str_new(NULL);
	char *names[32], *text;
	int n = 0, i, rc, rows = 0;

	if (!s) {
		sqlite3_free(sqlite3_str_finish(tables));
		return -NB_E_DB;
	}
	while ((rc = report_step(r, s, "looking for verdict views")) == SQLITE_ROW && n < 32)
		names[n++] = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	/* The tables go to a scratch string first: the heading is written only if they hold rows. */
	r->out = tables;
	for (i = 0; i < n; i++) {
		if (rc >= 0 && names[i]) {
			rc = report_verdict_table(r, run, names[i]);
			rows += rc > 0 ? rc : 0;
		}
		free(names[i]);
	}
	r->out = doc;
	text = sqlite3_str_finish(tables);
	if (rc >= 0 && rows > 0 && text) {
		report_section(r, run, "verdicts", "Virtualizability verdicts",
			       "What the Popek-Goldberg checks concluded about this run, as the database's verdict"
			       " views hold it.");
		sqlite3_str_appendall(r->out, text);
	}
	sqlite3_free(text);
	return rc < 0 ? rc : 0;
}

static int report_lost(struct nb_report *r, const struct nb_report_run *run)
{
	sqlite3_stmt *s = report_query(r, "SELECT level, vm_id, reason, count FROM records_lost WHERE run_id = ?1"
					  " ORDER BY level, vm_id, reason", run->run_id);
	int rc, rows = 0;

	if (!s)
		return -NB_E_DB;
	report_section(r, run, "lost", "Records lost",
		       "Trace records a level could not pass on (a full ring, or records its reader rejected)."
		       " Counts from the rings themselves: every lost record is counted here.");
	while ((rc = report_step(r, s, "reading the records lost")) == SQLITE_ROW) {
		if (!rows++)
			sqlite3_str_appendall(r->out, "<table><tr><th>level</th><th>vm</th><th>reason</th><th>records</th></tr>\n");
		sqlite3_str_appendf(r->out, "<tr><td>L%d</td><td>%d</td><td>", sqlite3_column_int(s, 0),
				    sqlite3_column_int(s, 1));
		report_text_col(r, s, 2);
		sqlite3_str_appendf(r->out, "</td><td class=\"num\">%lld</td></tr>\n", (long long)sqlite3_column_int64(s, 3));
	}
	sqlite3_finalize(s);
	sqlite3_str_appendall(r->out, rows ? "</table>\n" : "<p><span class=\"badge ok\">none</span> No records were lost.</p>\n");
	return rc < 0 ? rc : 0;
}

/* The console, collapsed: it is long, and the charts are what the page is for. */
static int report_console(struct nb_report *r, const struct nb_report_run *run)
{
	sqlite3_stmt *s = report_query(r, "SELECT level, vm_id, line, (SELECT count(*) FROM console WHERE run_id = ?1)"
					  " FROM console WHERE run_id = ?1 ORDER BY console_id", run->run_id);
	int rc, rows = 0;
	int64_t total = 0;

	if (!s)
		return -NB_E_DB;
	while ((rc = report_step(r, s, "reading the console")) == SQLITE_ROW) {
		if (!rows++) {
			total = sqlite3_column_int64(s, 3);
			sqlite3_str_appendf(r->out, "<details id=\"run%lld-console\"><summary>Console: %lld lines</summary><pre>",
					    (long long)run->run_id, (long long)total);
		}
		if (rows > REPORT_CONSOLE_LINES)
			break;
		sqlite3_str_appendf(r->out, "[L%d vm%d] ", sqlite3_column_int(s, 0), sqlite3_column_int(s, 1));
		report_text_col(r, s, 2);
		sqlite3_str_appendall(r->out, "\n");
	}
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;
	if (rows > REPORT_CONSOLE_LINES)
		sqlite3_str_appendf(r->out, "... %lld more lines (SELECT line FROM console WHERE run_id = %lld)\n",
				    (long long)(total - REPORT_CONSOLE_LINES), (long long)run->run_id);
	sqlite3_str_appendall(r->out, rows ? "</pre></details>\n" : "<p>The guests printed nothing.</p>\n");
	return 0;
}

int report_run_tables(struct nb_report *r, const struct nb_report_run *run)
{
	int rc = report_verdicts(r, run);

	if (rc == 0)
		rc = report_lost(r, run);
	if (rc == 0)
		rc = report_console(r, run);
	return rc;
}
