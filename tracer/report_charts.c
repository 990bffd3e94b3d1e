/*
 * The charts of a run's section in the HTML report, each with the query behind it. Queries read
 * the views of db/schema.sql where one answers the question (v_traps_by_level_reason,
 * v_exit_multiplication, v_shadow_fills_per_page), so that the report and a researcher's SQL
 * agree; the rest bucket or rank events in ways no everyday view needs.
 *
 * What counts as an exit, everywhere in the report: at level 0 every event with a kind (the host
 * records each KVM exit under the device that served it), at deeper levels the TRAP and
 * EXIT_REFLECTED events, as in v_traps_by_level_reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracer/report_internal.h"
#include "tracer/report_svg.h"

#define TIME_BUCKETS 60
#define MAX_LEVELS 8        /* levels drawn as separate lines; deeper ones are rare */
#define TOP_REASONS 12      /* exit reasons per level in the bar chart */
#define TOP_PAGES 20
#define SLOW_PER_LEVEL 6
#define MAX_BARS 128

/* Bars and their labels, built row by row from a query. */
struct report_bars {
	struct nb_svg_bar bar[MAX_BARS];
	char label[MAX_BARS][96];
	char hover[MAX_BARS][160];
	size_t n;
	struct nb_svg_legend legend[MAX_LEVELS + 2];
	char legend_name[MAX_LEVELS + 2][48];
	size_t nlegend;
	unsigned legend_seen; /* colours already in the legend */
};

static struct nb_svg_bar *bars_add(struct report_bars *b, double value, unsigned colour)
{
	struct nb_svg_bar *bar;

	if (b->n == MAX_BARS)
		return NULL;
	bar = &b->bar[b->n];
	*bar = (struct nb_svg_bar){.label = b->label[b->n], .value = value, .colour = colour, .hover = b->hover[b->n]};
	b->label[b->n][0] = b->hover[b->n][0] = 0;
	b->n++;
	return bar;
}

static void bars_legend(struct report_bars *b, unsigned colour, const char *name)
{
	if ((b->legend_seen >> colour) & 1 || b->nlegend == sizeof(b->legend) / sizeof(b->legend[0]))
		return;
	b->legend_seen |= 1u << colour;
	snprintf(b->legend_name[b->nlegend], sizeof(b->legend_name[0]), "%s", name);
	b->legend[b->nlegend] = (struct nb_svg_legend){b->legend_name[b->nlegend], colour};
	b->nlegend++;
}

static const char *level_legend(int level)
{
	static const char *const names[] = {"L0: host exits", "L1 traps", "L2 traps", "L3 traps", "L4 traps",
					    "L5 traps", "L6 traps", "L7 traps"};
	return level >= 0 && level < MAX_LEVELS ? names[level] : "deeper levels";
}

/* "0x0000000000105000" as the views print it, without the leading zeros. */
static const char *short_hex(const char *hex)
{
	static char buf[24];
	const char *p;

	if (!hex || strncmp(hex, "0x", 2))
		return hex ? hex : "?";
	for (p = hex + 2; *p == '0' && p[1]; p++)
		;
	snprintf(buf, sizeof(buf), "0x%s", p);
	return buf;
}

/* The id of one of the run's charts: "run3-exit-reasons". */
static void chart_id(char id[static 64], const struct nb_report_run *run, const char *name)
{
	snprintf(id, 64, "run%lld-%s", (long long)run->run_id, name);
}

/* Exits per level per time bucket, one line per recording level. */
static int chart_traps_over_time(struct nb_report *r, const struct nb_report_run *run)
{
	static const char sql[] =
		"SELECT e.rec_level, (e.ts - ?2) * ?3 / ?4 AS bucket, count(*) FROM events e"
		" WHERE e.run_id = ?1 AND (e.kind IN (1, 2) OR e.rec_level = 0) AND e.kind > 0 AND e.kind < 21"
		" GROUP BY e.rec_level, bucket";
	double y[MAX_LEVELS][TIME_BUCKETS], x[TIME_BUCKETS], width;
	struct nb_svg_line lines[MAX_LEVELS];
	char title[96], xlabel[96], id[64], num[32];
	int64_t span = run->t1 - run->t0 + 1;
	unsigned present = 0;
	size_t nlines = 0, i;
	sqlite3_stmt *s;
	int rc, level;

	memset(y, 0, sizeof(y));
	s = report_query(r, sql, run->run_id);
	if (!s)
		return -NB_E_DB;
	sqlite3_bind_int64(s, 2, run->t0);
	sqlite3_bind_int(s, 3, TIME_BUCKETS);
	sqlite3_bind_int64(s, 4, span > 0 ? span : 1);
	while ((rc = report_step(r, s, "counting exits over time")) == SQLITE_ROW) {
		int64_t b = sqlite3_column_int64(s, 1);

		level = sqlite3_column_int(s, 0);
		if (level < 0 || level >= MAX_LEVELS || b < 0 || b >= TIME_BUCKETS)
			continue;
		y[level][b] = sqlite3_column_double(s, 2);
		present |= 1u << level;
	}
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;

	width = report_time(run, run->t0 + span) / TIME_BUCKETS;
	for (i = 0; i < TIME_BUCKETS; i++)
		x[i] = width * ((double)i + 0.5); /* each bucket at its middle */
	for (level = 0; level < MAX_LEVELS; level++)
		if ((present >> level) & 1)
			lines[nlines++] = (struct nb_svg_line){level_legend(level), nb_svg_level_colour(level), y[level]};
	snprintf(xlabel, sizeof(xlabel), "time since the run's first event (%s)", report_time_unit(run));
	snprintf(title, sizeof(title), "Exits per level over time, in buckets of %s %s", nb_svg_number(width, num),
		 report_time_unit(run));
	report_section(r, run, "traps-over-time-title", "Traps per level over time",
		       "How many exits each level took in each slice of the run: level 0 counts the exits KVM"
		       " handed the host, deeper levels the traps they handled or reflected.");
	chart_id(id, run, "traps-over-time");
	nb_svg_line_chart(r->out, &(struct nb_svg_line_chart){
		.id = id, .title = title, .x_label = xlabel, .y_label = "exits per bucket",
		.x_unit = report_time_unit(run), .unit = "exits", .x = x, .npoints = TIME_BUCKETS,
		.lines = lines, .nlines = nlines, .empty_text = "No exits were recorded in this run.",
	});
	return 0;
}

/* The top exit reasons of each level, the rest of a level's reasons folded into one bar. */
static int chart_exit_reasons(struct nb_report *r, const struct nb_report_run *run)
{
	static const char sql[] =
		"SELECT level, coalesce(exit_name, exit_code), count, handled, reflected,"
		" row_number() OVER (PARTITION BY level ORDER BY count DESC, exit_code),"
		" count(*) OVER (PARTITION BY level)"
		" FROM v_traps_by_level_reason WHERE run_id = ?1 ORDER BY level, 6";
	struct report_bars *b = calloc(1, sizeof(*b));
	double other = 0;
	int other_reasons = 0, other_level = -1, rc, level;
	struct nb_svg_bar *bar;
	sqlite3_stmt *s;
	char id[64];

	if (!b)
		return nb_error_set(r->err, NB_E_NOMEM, "trace database '%s': out of memory", r->path);
	s = report_query(r, sql, run->run_id);
	if (!s) {
		free(b);
		return -NB_E_DB;
	}
#define FLUSH_OTHER()                                                                                   \
	do {                                                                                            \
		if (other_reasons && (bar = bars_add(b, other, nb_svg_level_colour(other_level))))      \
			snprintf(b->label[b->n - 1], sizeof(b->label[0]), "L%d: %d other reasons",      \
				 other_level, other_reasons);                                           \
		other = 0;                                                                              \
		other_reasons = 0;                                                                      \
	} while (0)
	while ((rc = report_step(r, s, "reading exit reasons")) == SQLITE_ROW) {
		level = sqlite3_column_int(s, 0);
		if (level != other_level)
			FLUSH_OTHER();
		other_level = level;
		bars_legend(b, nb_svg_level_colour(level), level_legend(level));
		/* Folding a single reason would hide it for nothing: fold two or more. */
		if (sqlite3_column_int(s, 5) > TOP_REASONS && sqlite3_column_int(s, 6) > TOP_REASONS + 1) {
			other += sqlite3_column_double(s, 2);
			other_reasons++;
			continue;
		}
		bar = bars_add(b, sqlite3_column_double(s, 2), nb_svg_level_colour(level));
		if (!bar)
			continue;
		snprintf(b->label[b->n - 1], sizeof(b->label[0]), "L%d %s", level,
			 (const char *)sqlite3_column_text(s, 1));
		snprintf(b->hover[b->n - 1], sizeof(b->hover[0]), "handled %lld, reflected to a nested hypervisor %lld",
			 (long long)sqlite3_column_int64(s, 3), (long long)sqlite3_column_int64(s, 4));
	}
	FLUSH_OTHER();
#undef FLUSH_OTHER
	sqlite3_finalize(s);
	if (rc >= 0) {
		rc = 0;
		report_section(r, run, "exit-reasons-title", "Exit reasons by level",
			       "Which exits each level took, most frequent first (from <code>v_traps_by_level_reason</code>)."
			       " At level 0 these are the exits KVM returned to the host process.");
		chart_id(id, run, "exit-reasons");
		nb_svg_bar_chart(r->out, &(struct nb_svg_bar_chart){
			.id = id, .title = "Exits by level and reason", .value_label = "exits", .unit = "exits",
			.bars = b->bar, .nbars = b->n, .legend = b->legend, .nlegend = b->nlegend,
			.empty_text = "No exits were recorded in this run.",
		});
	}
	free(b);
	return rc;
}

/* How many exits of the level below accompany one trap of a level, by the trap's reason. */
static int chart_exit_multiplication(struct nb_report *r, const struct nb_report_run *run)
{
	static const char sql[] =
		"SELECT level, guest_level, coalesce(exit_name, exit_code), traps, exits_below, exits_per_trap"
		" FROM v_exit_multiplication WHERE run_id = ?1 ORDER BY level, exits_per_trap DESC, traps DESC";
	struct report_bars *b;
	sqlite3_stmt *s;
	double traps = 0, below = 0;
	int rc, level = 0, rows = 0;
	char id[64], name[48];

	report_section(r, run, "exit-multiplication-title", "Exit multiplication by depth",
		       "For each reason a hypervisor level trapped (the guest's exit it handled), how many exits the"
		       " level below it took meanwhile: from the trap's record to that level's next trap"
		       " (<code>v_exit_multiplication</code>). One level-2 exit that costs nbvmm at level 1 three"
		       " exits to the host shows as 3.");
	chart_id(id, run, "exit-multiplication");
	if (!report_has_object(r, "v_exit_multiplication")) {
		nb_svg_bar_chart(r->out, &(struct nb_svg_bar_chart){
			.id = id, .title = "Exits of the level below per trap",
			.empty_text = "This database predates the v_exit_multiplication view: record the run again to see it.",
		});
		return 0;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return nb_error_set(r->err, NB_E_NOMEM, "trace database '%s': out of memory", r->path);
	s = report_query(r, sql, run->run_id);
	if (!s) {
		free(b);
		return -NB_E_DB;
	}
	while ((rc = report_step(r, s, "reading exit multiplication")) == SQLITE_ROW) {
		struct nb_svg_bar *bar;

		level = sqlite3_column_int(s, 0);
		traps += sqlite3_column_double(s, 3);
		below += sqlite3_column_double(s, 4);
		rows++;
		/* Coloured as the exits counted: those of the level below. */
		snprintf(name, sizeof(name), "L%d exits per L%d trap", level - 1, level);
		bars_legend(b, nb_svg_level_colour(level - 1), name);
		bar = bars_add(b, sqlite3_column_double(s, 5), nb_svg_level_colour(level - 1));
		if (!bar)
			continue;
		snprintf(b->label[b->n - 1], sizeof(b->label[0]), "L%d guest %s, trapped by L%d",
			 sqlite3_column_int(s, 1), (const char *)sqlite3_column_text(s, 2), level);
		snprintf(b->hover[b->n - 1], sizeof(b->hover[0]), "%lld L%d traps, %lld L%d exits while handling them",
			 (long long)sqlite3_column_int64(s, 3), level, (long long)sqlite3_column_int64(s, 4), level - 1);
	}
	sqlite3_finalize(s);
	if (rc >= 0) {
		rc = 0;
		nb_svg_bar_chart(r->out, &(struct nb_svg_bar_chart){
			.id = id, .title = "Exits of the level below per trap, by reason",
			.value_label = "exits of the level below per trap", .unit = "per trap",
			.bars = b->bar, .nbars = b->n, .legend = b->legend, .nlegend = b->nlegend,
			.empty_text = "No level above 0 trapped in this run (a guest at depth 1 has no nested exits).",
		});
		if (rows) {
			char t[32], e[32], p[32];

			sqlite3_str_appendf(r->out, "<p>In all: %s exits of the levels below during %s traps, %s per trap.</p>\n",
					    nb_svg_number(below, e), nb_svg_number(traps, t),
					    nb_svg_number(traps > 0 ? below / traps : 0, p));
		}
	}
	free(b);
	return rc;
}

/* Page-table writes per page-table page and shadow fills per guest-virtual page, top pages. */
static int chart_pages(struct nb_report *r, const struct nb_report_run *run)
{
	static const char writes_sql[] =
		"SELECT e.guest_level, e.vm_id, printf('0x%x', e.addr & ~4095) AS page, count(*) AS n,"
		" count(DISTINCT e.addr), min(e.aux), max(e.aux), count(*) OVER (), sum(count(*)) OVER ()"
		" FROM events e JOIN event_kinds k ON k.kind = e.kind AND k.name = 'PT_WRITE'"
		" WHERE e.run_id = ?1 GROUP BY e.guest_level, e.vm_id, e.addr & ~4095"
		" ORDER BY n DESC, e.addr & ~4095 LIMIT 20";
	static const char fills_sql[] =
		"SELECT guest_level, vm_id, page, fills, rec_level, count(*) OVER (), sum(fills) OVER ()"
		" FROM v_shadow_fills_per_page WHERE run_id = ?1 ORDER BY fills DESC, page LIMIT 20";
	struct report_bars *b = calloc(1, sizeof(*b));
	char id[64], title[128], legend[48];
	long long pages = 0, total = 0;
	sqlite3_stmt *s;
	int rc, pass;

	if (!b)
		return nb_error_set(r->err, NB_E_NOMEM, "trace database '%s': out of memory", r->path);
	report_section(r, run, "pages-title", "Page-table writes and shadow fills per guest page",
		       "Where the shadow paging work went. First the guest page-table pages whose writes the"
		       " hypervisor had to emulate (write-protected in every shadow), then the guest-virtual"
		       " pages whose shadow entries were built, again each time a shadow was zapped.");
	for (pass = 0, rc = 0; pass < 2 && rc == 0; pass++) {
		memset(b, 0, sizeof(*b));
		pages = total = 0;
		s = report_query(r, pass ? fills_sql : writes_sql, run->run_id);
		if (!s) {
			rc = -NB_E_DB;
			break;
		}
		while ((rc = report_step(r, s, pass ? "reading shadow fills" : "reading page-table writes")) == SQLITE_ROW) {
			int gl = sqlite3_column_int(s, 0);

			pages = sqlite3_column_int64(s, pass ? 5 : 7);
			total = sqlite3_column_int64(s, pass ? 6 : 8);
			snprintf(legend, sizeof(legend), "L%d guest", gl);
			bars_legend(b, nb_svg_level_colour(gl), legend);
			if (!bars_add(b, sqlite3_column_double(s, 3), nb_svg_level_colour(gl)))
				continue;
			snprintf(b->label[b->n - 1], sizeof(b->label[0]), "L%d vm%d %s %s", gl, sqlite3_column_int(s, 1),
				 pass ? "gva" : "table", short_hex((const char *)sqlite3_column_text(s, 2)));
			if (pass)
				snprintf(b->hover[b->n - 1], sizeof(b->hover[0]), "shadow entries built by L%d",
					 sqlite3_column_int(s, 4));
			else
				snprintf(b->hover[b->n - 1], sizeof(b->hover[0]),
					 "%lld distinct entries written; table level %d to %d",
					 (long long)sqlite3_column_int64(s, 4), sqlite3_column_int(s, 5), sqlite3_column_int(s, 6));
		}
		sqlite3_finalize(s);
		if (rc < 0)
			break;
		rc = 0;
		snprintf(title, sizeof(title), "%s: %lld over %lld pages%s", pass ? "Shadow fills" : "Page-table writes",
			 total, pages, pages > TOP_PAGES ? ", top 20" : "");
		chart_id(id, run, pass ? "shadow-fills" : "pt-writes");
		nb_svg_bar_chart(r->out, &(struct nb_svg_bar_chart){
			.id = id, .title = title, .value_label = pass ? "shadow fills" : "page-table writes",
			.unit = pass ? "fills" : "writes", .bars = b->bar, .nbars = b->n, .legend = b->legend,
			.nlegend = b->nlegend,
			.empty_text = pass ? "No shadow entries were built (the guest ran on hardware paging)."
					   : "No guest page-table writes were trapped.",
		});
	}
	free(b);
	return rc;
}

/*
 * The slowest gaps between consecutive events of one level: from an event to the level's next
 * one, which for a trap is its handling plus the guest's run to its next exit. The longest of them
 * are where a run spent its time, and the instruction says what the guest was doing.
 */
static int chart_slow_paths(struct nb_report *r, const struct nb_report_run *run)
{
	static const char sql[] =
		"WITH g AS (SELECT e.event_id, e.rec_level, e.guest_level, e.vm_id, e.kind, e.action, e.exit_code,"
		"  e.rip, e.insn_id, lead(e.ts) OVER w - e.ts AS gap, lead(e.kind) OVER w AS next_kind"
		"  FROM events e WHERE e.run_id = ?1 AND e.kind < 21 WINDOW w AS (PARTITION BY e.rec_level ORDER BY e.ts, e.event_id)),"
		" ranked AS (SELECT *, row_number() OVER (PARTITION BY rec_level ORDER BY gap DESC, event_id) AS rank"
		"  FROM g WHERE gap IS NOT NULL)"
		" SELECT t.rec_level, t.event_id, t.guest_level, t.vm_id, k.name, a.name, x.name, printf('0x%x', t.rip),"
		"  i.text, t.gap, nk.name"
		" FROM ranked t LEFT JOIN event_kinds k ON k.kind = t.kind"
		" LEFT JOIN trap_actions a ON a.action = t.action"
		" LEFT JOIN exit_codes x ON x.code = t.exit_code AND (k.has_exit_code OR (t.rec_level = 0 AND t.kind < 21))"
		" LEFT JOIN insns i ON i.insn_id = t.insn_id"
		" LEFT JOIN event_kinds nk ON nk.kind = t.next_kind"
		" WHERE t.rank <= ?2 ORDER BY t.rec_level, t.gap DESC";
	struct report_bars *b = calloc(1, sizeof(*b));
	const int micro = run->tsc_khz > 0;
	sqlite3_str *table = sqlite3_str_new(NULL);
	sqlite3_stmt *s;
	char id[64];
	int rc;

	if (!b) {
		sqlite3_free(sqlite3_str_finish(table));
		return nb_error_set(r->err, NB_E_NOMEM, "trace database '%s': out of memory", r->path);
	}
	s = report_query(r, sql, run->run_id);
	if (!s) {
		free(b);
		sqlite3_free(sqlite3_str_finish(table));
		return -NB_E_DB;
	}
	sqlite3_bind_int(s, 2, SLOW_PER_LEVEL);
	sqlite3_str_appendf(table, "<table class=\"slow\"><tr><th>level</th><th>event</th><th>guest</th><th>what</th>"
				   "<th>instruction</th><th>RIP</th><th class=\"num\">gap (%s)</th><th>next event</th></tr>\n",
			    micro ? "\xc2\xb5s" : "ticks");
	while ((rc = report_step(r, s, "finding the slowest trap paths")) == SQLITE_ROW) {
		int level = sqlite3_column_int(s, 0);
		double gap = sqlite3_column_double(s, 9) * (micro ? 1000.0 / run->tsc_khz : 1);
		const char *kind = (const char *)sqlite3_column_text(s, 4);
		const char *exit = (const char *)sqlite3_column_text(s, 6);
		const char *insn = (const char *)sqlite3_column_text(s, 8);
		char num[32];

		bars_legend(b, nb_svg_level_colour(level), level_legend(level));
		if (bars_add(b, gap, nb_svg_level_colour(level))) {
			snprintf(b->label[b->n - 1], sizeof(b->label[0]), "L%d #%lld %s%s%s%s%s", level,
				 (long long)sqlite3_column_int64(s, 1), kind ? kind : "?", exit ? " " : "", exit ? exit : "",
				 insn ? ": " : "", insn ? insn : "");
			snprintf(b->hover[b->n - 1], sizeof(b->hover[0]), "guest L%d vm%d, RIP %s; next event %s",
				 sqlite3_column_int(s, 2), sqlite3_column_int(s, 3), (const char *)sqlite3_column_text(s, 7),
				 sqlite3_column_text(s, 10) ? (const char *)sqlite3_column_text(s, 10) : "?");
		}
		sqlite3_str_appendf(table, "<tr><td>L%d</td><td class=\"num\">%lld</td><td>L%d vm%d</td><td>", level,
				    (long long)sqlite3_column_int64(s, 1), sqlite3_column_int(s, 2), sqlite3_column_int(s, 3));
		nb_xml_text(table, kind);
		if (exit) {
			sqlite3_str_appendall(table, " ");
			nb_xml_text(table, exit);
		}
		if (sqlite3_column_text(s, 5) && strcmp((const char *)sqlite3_column_text(s, 5), "NONE")) {
			sqlite3_str_appendall(table, ", ");
			nb_xml_text(table, (const char *)sqlite3_column_text(s, 5));
		}
		sqlite3_str_appendall(table, "</td><td><code>");
		nb_xml_text(table, insn);
		sqlite3_str_appendall(table, "</code></td><td><code>");
		nb_xml_text(table, (const char *)sqlite3_column_text(s, 7));
		sqlite3_str_appendf(table, "</code></td><td class=\"num\">%s</td><td>", nb_svg_number(gap, num));
		nb_xml_text(table, (const char *)sqlite3_column_text(s, 10));
		sqlite3_str_appendall(table, "</td></tr>\n");
	}
	sqlite3_finalize(s);
	if (rc >= 0) {
		rc = 0;
		report_section(r, run, "slow-paths-title", "Longest trap paths",
			       "The longest gaps between consecutive events of one level, the slowest of each level:"
			       " from an event to that level's next one, which for a trap is its handling plus the"
			       " guest's run to its next exit.");
		chart_id(id, run, "slow-paths");
		nb_svg_bar_chart(r->out, &(struct nb_svg_bar_chart){
			.id = id, .title = micro ? "Slowest gaps to the level's next event (\xc2\xb5s)"
						 : "Slowest gaps to the level's next event (TSC ticks)",
			.value_label = micro ? "microseconds to the next event of the same level" : "TSC ticks",
			.unit = micro ? "\xc2\xb5s" : "ticks", .bars = b->bar, .nbars = b->n, .legend = b->legend,
			.nlegend = b->nlegend, .empty_text = "Too few events to measure a gap.",
		});
		if (b->n) {
			sqlite3_str_appendall(table, "</table>\n");
			sqlite3_str_appendall(r->out, sqlite3_str_value(table));
		}
	}
	sqlite3_free(sqlite3_str_finish(table));
	free(b);
	return rc;
}

int report_run_charts(struct nb_report *r, const struct nb_report_run *run)
{
	int rc = chart_traps_over_time(r, run);

	if (rc == 0)
		rc = chart_exit_reasons(r, run);
	if (rc == 0)
		rc = chart_exit_multiplication(r, run);
	if (rc == 0)
		rc = chart_pages(r, run);
	if (rc == 0)
		rc = chart_slow_paths(r, run);
	return rc;
}
