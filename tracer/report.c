/*
 * The HTML report: opens a trace database read-only, checks that it is a nestbed trace of the
 * schema this program knows, and writes one document with a section per run. The document is
 * XHTML-compatible HTML5 (every element closed, text escaped), so that XML tools can check it and
 * browsers render it the same; it carries its CSS and its SVG inline and needs no script, so it
 * can be mailed, archived or opened offline years later.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tracer/report.h"
#include "tracer/report_internal.h"
#include "tracer/report_svg.h"
#include "tracer/store.h"

/* The report's whole style sheet. No '<' or '&' in it: the document must stay well-formed XML. */
static const char report_css[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1b1b;background:#fff;"
	"max-width:1000px;margin:0 auto;padding:0 18px 48px}\n"
	"h1{font-size:22px;margin:24px 0 4px}h2{font-size:19px;margin:36px 0 8px;padding-top:12px;"
	"border-top:3px solid #0072B2}h3{font-size:15px;margin:22px 0 2px}\n"
	"p.explain{margin:2px 0 6px;color:#444;max-width:80ch}\n"
	"code,pre{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:12.5px}\n"
	"pre{background:#f5f5f5;padding:8px;overflow:auto;max-height:36em;white-space:pre-wrap}\n"
	"table{border-collapse:collapse;margin:6px 0}th,td{padding:2px 10px 2px 0;text-align:left;"
	"vertical-align:top;border-bottom:1px solid #e4e4e4}th{font-weight:600}\n"
	"td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
	"dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:8px 0}"
	"dl.facts dt{font-weight:600}dl.facts dd{margin:0}\n"
	".badge{display:inline-block;padding:0 8px;border-radius:9px;color:#fff;font-weight:600}"
	".badge.ok{background:#007a5a}.badge.bad{background:#b34700}\n"
	"ul.tree{list-style:none;padding-left:18px;margin:2px 0}ul.tree li{margin:1px 0}"
	"ul.tree li::before{content:'\\2514\\2500 ';color:#888}\n"
	".level{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}\n"
	"svg.chart{display:block;max-width:100%;height:auto;margin:6px 0}"
	"svg.chart text{font:11px system-ui,sans-serif;fill:#1b1b1b}"
	"svg.chart text.title{font-size:13px;font-weight:600}svg.chart text.note{fill:#666;font-style:italic}"
	"svg.chart .grid{stroke:#e2e2e2}svg.chart .axis,svg.chart .tick-mark{stroke:#555;fill:none}"
	"svg.chart .mark:hover{opacity:.75}\n"
	"details summary{cursor:pointer;font-weight:600;margin:10px 0 4px}\n"
	"nav.runs td,nav.runs th{padding-right:16px}\n";

int report_fail(struct nb_report *r, const char *what)
{
	return nb_error_set(r->err, NB_E_DB, "trace database '%s': %s: %s", r->path, what, sqlite3_errmsg(r->db));
}

sqlite3_stmt *report_query(struct nb_report *r, const char *sql, int64_t run_id)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(r->db, sql, -1, &s, NULL) != SQLITE_OK) {
		report_fail(r, "preparing a query");
		sqlite3_finalize(s);
		return NULL;
	}
	if (sqlite3_bind_parameter_count(s) > 0)
		sqlite3_bind_int64(s, 1, run_id);
	return s;
}

int report_step(struct nb_report *r, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	return report_fail(r, what);
}

int report_has_object(struct nb_report *r, const char *name)
{
	sqlite3_stmt *s = NULL;
	int found = 0;

	if (sqlite3_prepare_v2(r->db, "SELECT 1 FROM sqlite_master WHERE name = ?1", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		found = sqlite3_step(s) == SQLITE_ROW;
	}
	sqlite3_finalize(s);
	return found;
}

void report_text_col(struct nb_report *r, sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	if (t)
		nb_xml_text_n(r->out, (const char *)t, (size_t)sqlite3_column_bytes(s, i));
}

void report_section(struct nb_report *r, const struct nb_report_run *run, const char *anchor,
		    const char *title, const char *explanation)
{
	sqlite3_str_appendf(r->out, "<h3 id=\"run%lld-%s\">%s</h3>\n", (long long)run->run_id, anchor, title);
	if (explanation)
		sqlite3_str_appendf(r->out, "<p class=\"explain\">%s</p>\n", explanation);
}

double report_time(const struct nb_report_run *run, int64_t ts)
{
	double ticks = (double)(ts - run->t0);

	return run->tsc_khz > 0 ? ticks / run->tsc_khz : ticks / 1e6;
}

const char *report_time_unit(const struct nb_report_run *run)
{
	return run->tsc_khz > 0 ? "ms" : "million TSC ticks";
}

/*
 * Opens the database read-only and checks that it is a nestbed trace this program can read.
 * Read-only so that a report never changes a trace (nor creates a file where a path was mistyped).
 */
static int report_open(struct nb_report *r)
{
	struct stat st;
	sqlite3_stmt *s = NULL;
	int version = -1, rc;

	if (stat(r->path, &st) < 0)
		return nb_error_set(r->err, NB_E_DB, "trace database '%s': %s", r->path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return nb_error_set(r->err, NB_E_DB, "trace database '%s': is a directory", r->path);
	if (sqlite3_open_v2(r->path, &r->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return nb_error_set(r->err, NB_E_DB, "trace database '%s': %s", r->path,
				    r->db ? sqlite3_errmsg(r->db) : "out of memory");
	sqlite3_busy_timeout(r->db, 5000); /* a run may be committing a batch right now */
	if (sqlite3_prepare_v2(r->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		rc = sqlite3_errcode(r->db) == SQLITE_NOTADB
			     ? nb_error_set(r->err, NB_E_DB, "trace database '%s': not an SQLite database", r->path)
			     : report_fail(r, "reading the schema version");
		sqlite3_finalize(s);
		return rc;
	}
	version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (version == 0 || !report_has_object(r, "runs") || !report_has_object(r, "events"))
		return nb_error_set(r->err, NB_E_DB,
				    "trace database '%s': not a nestbed trace database (no schema version or no runs and events tables)",
				    r->path);
	/* Older versions only lack views added since, and the report does without those. */
	if (version > NB_STORE_SCHEMA_VERSION)
		return nb_error_set(r->err, NB_E_DB, "trace database '%s': schema version %d is newer than"
				    " this nestbed reads (%d); report it with a newer nestbed",
				    r->path, version, NB_STORE_SCHEMA_VERSION);
	return 0;
}

/* The runs to report, in order: run_id or every run. Fails when run_id is not in the file. */
static int report_run_ids(struct nb_report *r, int64_t run_id, int64_t **ids, int *n)
{
	sqlite3_stmt *s = report_query(r, "SELECT run_id FROM runs WHERE ?1 = 0 OR run_id = ?1 ORDER BY run_id", run_id);
	int rc = 0, cap = 0;

	*ids = NULL;
	*n = 0;
	if (!s)
		return -NB_E_DB;
	while ((rc = report_step(r, s, "listing the runs")) == SQLITE_ROW) {
		if (*n == cap) {
			int64_t *grown = realloc(*ids, sizeof(**ids) * (size_t)(cap = cap ? cap * 2 : 16));

			if (!grown) {
				rc = nb_error_set(r->err, NB_E_NOMEM, "trace database '%s': out of memory", r->path);
				break;
			}
			*ids = grown;
		}
		(*ids)[(*n)++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;
	if (*n == 0 && run_id)
		return nb_error_set(r->err, NB_E_DB, "trace database '%s': has no run %lld (see: sqlite3 '%s' 'SELECT run_id FROM runs')",
				    r->path, (long long)run_id, r->path);
	return 0;
}

static int report_load_run(struct nb_report *r, struct nb_report_run *run)
{
	sqlite3_stmt *s = report_query(r,
				       "SELECT coalesce(r.tsc_khz, 0), min(e.ts), max(e.ts), count(e.ts) FROM runs r"
				       " LEFT JOIN events e ON e.run_id = r.run_id WHERE r.run_id = ?1",
				       run->run_id);
	int rc;

	if (!s)
		return -NB_E_DB;
	rc = report_step(r, s, "reading a run");
	if (rc == SQLITE_ROW) {
		run->tsc_khz = sqlite3_column_double(s, 0);
		run->t0 = sqlite3_column_int64(s, 1);
		run->t1 = sqlite3_column_int64(s, 2);
		run->events = sqlite3_column_int64(s, 3);
	}
	sqlite3_finalize(s);
	return rc < 0 ? rc : 0;
}

/* With several runs, a table of them at the top links to each one's section. */
static int report_index(struct nb_report *r, int64_t run_id)
{
	sqlite3_stmt *s = report_query(r,
				       "SELECT run_id, started_at, command_line, completed, exit_status, stop_reason, events,"
				       " events_by_level, ended_at IS NULL FROM v_run_summary WHERE ?1 = 0 OR run_id = ?1"
				       " ORDER BY run_id",
				       run_id);
	int rc;

	if (!s)
		return -NB_E_DB;
	sqlite3_str_appendall(r->out, "<nav class=\"runs\"><table><tr><th>run</th><th>started</th><th>command line</th>"
				      "<th>outcome</th><th>events</th></tr>\n");
	while ((rc = report_step(r, s, "listing the runs")) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(s, 0);

		sqlite3_str_appendf(r->out, "<tr><td><a href=\"#run-%lld\">run %lld</a></td><td>", id, id);
		report_text_col(r, s, 1);
		sqlite3_str_appendall(r->out, "</td><td><code>");
		report_text_col(r, s, 2);
		if (sqlite3_column_int(s, 8)) {
			sqlite3_str_appendall(r->out, "</code></td><td>unfinished (no end recorded)");
		} else {
			sqlite3_str_appendf(r->out, "</code></td><td>%s status %d, ",
					    sqlite3_column_int(s, 3) ? "completed," : "did not complete,",
					    sqlite3_column_int(s, 4));
			report_text_col(r, s, 5);
		}
		sqlite3_str_appendf(r->out, "</td><td class=\"num\">%lld (", (long long)sqlite3_column_int64(s, 6));
		report_text_col(r, s, 7);
		sqlite3_str_appendall(r->out, ")</td></tr>\n");
	}
	sqlite3_finalize(s);
	sqlite3_str_appendall(r->out, "</table></nav>\n");
	return rc < 0 ? rc : 0;
}

static void report_head(struct nb_report *r, int nruns)
{
	char when[64];
	time_t now = time(NULL);
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&now, &tm));
	sqlite3_str_appendall(r->out, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n"
				      "<head>\n<meta charset=\"utf-8\"/>\n"
				      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
				      "<title>nestbed report: ");
	nb_xml_text(r->out, r->path);
	sqlite3_str_appendf(r->out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>nestbed trace report</h1>\n"
				    "<p>Database <code>", report_css);
	nb_xml_text(r->out, r->path);
	sqlite3_str_appendf(r->out, "</code>: %d run%s. Written %s. Hover over a bar or point for its exact number."
				    " Times are the recording level's TSC since the run's first event; every level"
				    " records on the same TSC, so their events line up.</p>\n",
			    nruns, nruns == 1 ? "" : "s", when);
}

int nb_report_render(const char *db_path, int64_t run_id, char **html, size_t *len, int *runs,
		     struct nb_error *err)
{
	struct nb_report r = {.path = db_path, .err = err};
	int64_t *ids = NULL;
	int n = 0, i, rc;

	*html = NULL;
	*len = 0;
	if (runs)
		*runs = 0;
	rc = report_open(&r);
	if (rc == 0)
		rc = report_run_ids(&r, run_id, &ids, &n);
	if (rc < 0)
		goto out;
	r.out = sqlite3_str_new(NULL);
	report_head(&r, n);
	if (n == 0)
		sqlite3_str_appendall(r.out, "<p>This database holds no runs yet.</p>\n");
	if (n > 1)
		rc = report_index(&r, run_id);
	for (i = 0; rc == 0 && i < n; i++) {
		struct nb_report_run run = {.run_id = ids[i]};

		sqlite3_str_appendf(r.out, "<section class=\"run\" id=\"run-%lld\">\n", (long long)run.run_id);
		rc = report_load_run(&r, &run);
		if (rc == 0)
			rc = report_run_header(&r, &run);
		if (rc == 0)
			rc = report_run_charts(&r, &run);
		if (rc == 0)
			rc = report_run_tables(&r, &run);
		sqlite3_str_appendall(r.out, "</section>\n");
	}
	sqlite3_str_appendall(r.out, "</body>\n</html>\n");
	if (rc == 0 && sqlite3_str_errcode(r.out) != SQLITE_OK)
		rc = nb_error_set(err, NB_E_NOMEM, "trace database '%s': out of memory writing the report", db_path);
	if (rc == 0) {
		*len = (size_t)sqlite3_str_length(r.out);
		/* The caller frees with free(): copy out of SQLite's allocator. */
		*html = malloc(*len + 1);
		if (*html)
			memcpy(*html, sqlite3_str_value(r.out), *len + 1);
		else
			rc = nb_error_set(err, NB_E_NOMEM, "trace database '%s': out of memory writing the report", db_path);
	}
	sqlite3_free(sqlite3_str_finish(r.out));
	if (rc == 0 && runs)
		*runs = n;
out:
	free(ids);
	sqlite3_close(r.db);
	return rc;
}

int nb_report_write(const char *db_path, const struct nb_report_options *opt, int *runs, struct nb_error *err)
{
	const char *path = opt->out_path ? opt->out_path : "report.html";
	int to_stdout = !strcmp(path, "-");
	char *html;
	size_t len;
	FILE *f;
	int rc = nb_report_render(db_path, opt->run_id, &html, &len, runs, err);

	if (rc < 0)
		return rc;
	f = to_stdout ? stdout : fopen(path, "w");
	if (!f) {
		rc = nb_error_set(err, NB_E_DB, "report '%s': %s", path, strerror(errno));
	} else {
		if (fwrite(html, 1, len, f) != len || fflush(f) != 0)
			rc = nb_error_set(err, NB_E_DB, "report '%s': %s", path, strerror(errno));
		if (!to_stdout && fclose(f) != 0 && rc == 0)
			rc = nb_error_set(err, NB_E_DB, "report '%s': %s", path, strerror(errno));
	}
	free(html);
	return rc;
}
