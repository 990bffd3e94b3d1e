/*
 * The HTML report's SVG charts (tracer/report_svg.c) and the report as a whole on small hand-built
 * trace databases (tracer/report.c): bars and lines drawn to scale for known data, text from the
 * trace escaped so the document stays well-formed, empty datasets drawn as an explained empty
 * chart, and clear errors for files that are not nestbed traces.
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

#include "tracer/report.h"
#include "tracer/report_svg.h"
#include "tracer/store.h"

static char test_dir[] = "/tmp/nb-test-report-XXXXXX";

static const char *test_path(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", test_dir, name);
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

/* Runs draw(out, arg) into a fresh string and returns it (free with sqlite3_free). */
static char *render(void (*draw)(sqlite3_str *, const void *), const void *arg)
{
	sqlite3_str *out = sqlite3_str_new(NULL);

	draw(out, arg);
	return sqlite3_str_finish(out);
}

static void draw_bars(sqlite3_str *out, const void *c)
{
	nb_svg_bar_chart(out, c);
}

static void draw_lines(sqlite3_str *out, const void *c)
{
	nb_svg_line_chart(out, c);
}

static int count(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The numeric value of attribute attr in the n-th (0-based) element that starts with tag. */
static double attr_of(const char *svg, const char *tag, int n, const char *attr)
{
	const char *p = svg;
	char key[32];

	for (int i = 0; i <= n; i++) {
		p = strstr(p, tag);
		assert_non_null(p);
		if (i < n)
			p += strlen(tag);
	}
	snprintf(key, sizeof(key), " %s=\"", attr);
	p = strstr(p, key);
	assert_non_null(p);
	return strtod(p + strlen(key), NULL);
}

static void test_bars_are_drawn_to_scale(void **state)
{
	const struct nb_svg_bar bars[] = {
		{"L1 IOIO", 100, 1, "handled 100"}, {"L1 EXCP_PF", 50, 1, NULL}, {"L0 IOIO", 25, 0, NULL},
	};
	const struct nb_svg_legend legend[] = {{"L0", 0}, {"L1", 1}};
	struct nb_svg_bar_chart c = {
		.id = "t-bars", .title = "Exits", .value_label = "exits", .unit = "exits", .bars = bars, .nbars = 3,
		.legend = legend, .nlegend = 2,
	};
	char *svg = render(draw_bars, &c);
	double w0, w1, w2;

	(void)state;
	assert_non_null(svg);
	assert_int_equal(count(svg, "<svg "), 1);
	assert_int_equal(count(svg, "</svg>"), 1);
	assert_non_null(strstr(svg, "id=\"t-bars\""));
	assert_null(strstr(svg, "chart empty"));
	assert_int_equal(count(svg, "class=\"mark\""), 3);
	w0 = attr_of(svg, "<rect class=\"mark\"", 0, "width");
	w1 = attr_of(svg, "<rect class=\"mark\"", 1, "width");
	w2 = attr_of(svg, "<rect class=\"mark\"", 2, "width");
	assert_true(w0 > 100);
	assert_true(w1 > 0.49 * w0 && w1 < 0.51 * w0);
	assert_true(w2 > 0.24 * w0 && w2 < 0.26 * w0);
	/* Hover text: label, number and unit, then the bar's own line. */
	assert_non_null(strstr(svg, "<title>L1 IOIO: 100 exits\nhandled 100</title>"));
	assert_non_null(strstr(svg, "<title>L1 EXCP_PF: 50 exits</title>"));
	/* Colours from the palette, a legend entry per colour, labels and axis. */
	assert_non_null(strstr(svg, nb_svg_colour(1)));
	assert_int_equal(count(svg, "class=\"legend\""), 2);
	assert_non_null(strstr(svg, ">L0 IOIO</text>"));
	assert_non_null(strstr(svg, ">exits</text>"));
	assert_non_null(strstr(svg, "<text class=\"title\""));
	sqlite3_free(svg);
}

static void test_lines_are_drawn_to_scale(void **state)
{
	const double x[] = {0.5, 1.5, 2.5, 3.5};
	const double l0[] = {1, 2, 3, 4}, l1[] = {0, 8, 0, 2};
	const struct nb_svg_line lines[] = {{"L0 exits", 0, l0}, {"L1 traps", 1, l1}};
	struct nb_svg_line_chart c = {
		.id = "t-lines", .title = "Over time", .x_label = "time (ms)", .y_label = "exits", .x_unit = "ms",
		.unit = "exits", .x = x, .npoints = 4, .lines = lines, .nlines = 2,
	};
	char *svg = render(draw_lines, &c);
	double y_max, y_zero, y_half;

	(void)state;
	assert_non_null(svg);
	/* A polyline per series and a point per value: 2 + 8 marks. */
	assert_int_equal(count(svg, "<polyline class=\"mark\""), 2);
	assert_int_equal(count(svg, "<circle class=\"mark\""), 8);
	/* The largest value (8) at the top of the axis (the axis ends at 8 too: 8 is a nice number),
	 * zero at the bottom, 4 half way. */
	y_max = attr_of(svg, "<circle class=\"mark\"", 5, "cy");
	y_zero = attr_of(svg, "<circle class=\"mark\"", 4, "cy");
	y_half = attr_of(svg, "<circle class=\"mark\"", 3, "cy");
	assert_true(y_zero > y_max);
	assert_true(y_half > y_max && y_half < y_zero);
	assert_true(y_half - (y_max + y_zero) / 2 < 0.2 && (y_max + y_zero) / 2 - y_half < 0.2);
	assert_non_null(strstr(svg, "<title>L1 traps: 8 exits at 1.5 ms</title>"));
	assert_int_equal(count(svg, "class=\"legend\""), 2);
	assert_non_null(strstr(svg, ">time (ms)</text>"));
	assert_non_null(strstr(svg, "rotate(-90)"));
	sqlite3_free(svg);
}

static void test_text_is_escaped(void **state)
{
	/* A guest console line with markup in it, an invalid UTF-8 byte, a control character, and
	 * valid multi-byte characters that must pass unchanged. */
	const char line[] = "<b>x & \"y\" 'z'</b> \xff\x01 caf\xc3\xa9 \xe2\x86\x92";
	const struct nb_svg_bar bars[] = {{"a<b>&c", 1, 0, "\"quoted\" & <tagged>"}};
	struct nb_svg_bar_chart c = {.id = "t\"id", .title = "T<&>", .value_label = "v", .bars = bars, .nbars = 1};
	sqlite3_str *out = sqlite3_str_new(NULL);
	char *text, *svg;

	(void)state;
	nb_xml_text(out, line);
	text = sqlite3_str_finish(out);
	assert_string_equal(text, "&lt;b&gt;x &amp; &quot;y&quot; &#39;z&#39;&lt;/b&gt; \xef\xbf\xbd\xef\xbf\xbd"
				  " caf\xc3\xa9 \xe2\x86\x92");
	sqlite3_free(text);

	svg = render(draw_bars, &c);
	assert_non_null(svg);
	assert_null(strstr(svg, "a<b>"));
	assert_null(strstr(svg, "T<&>"));
	assert_non_null(strstr(svg, "id=\"t&quot;id\""));
	assert_non_null(strstr(svg, ">a&lt;b&gt;&amp;c</text>"));
	assert_non_null(strstr(svg, "&quot;quoted&quot; &amp; &lt;tagged&gt;</title>"));
	assert_non_null(strstr(svg, ">T&lt;&amp;&gt;</text>"));
	sqlite3_free(svg);
}

static void test_long_labels_are_cut_but_hover_is_whole(void **state)
{
	char label[200];
	struct nb_svg_bar bar = {label, 3, 0, NULL};
	struct nb_svg_bar_chart c = {.id = "t-long", .title = "T", .value_label = "v", .bars = &bar, .nbars = 1};
	char *svg;

	(void)state;
	memset(label, 'x', 120);
	strcpy(label + 120, "END");
	svg = render(draw_bars, &c);
	assert_non_null(strstr(svg, "xxx\xe2\x80\xa6</text>"));
	assert_non_null(strstr(svg, "xxxEND: 3</title>"));
	sqlite3_free(svg);
}

static void test_empty_datasets_say_so(void **state)
{
	const struct nb_svg_bar zero[] = {{"nothing", 0, 0, NULL}};
	struct nb_svg_bar_chart none = {.id = "t-none", .title = "No bars", .empty_text = "No exits & no traps."};
	struct nb_svg_bar_chart zeros = {.id = "t-zero", .title = "Zero bars", .bars = zero, .nbars = 1};
	struct nb_svg_line_chart nolines = {.id = "t-nolines", .title = "No lines", .empty_text = "Nothing."};
	char *svg;

	(void)state;
	svg = render(draw_bars, &none);
	assert_non_null(strstr(svg, "class=\"chart empty\""));
	assert_non_null(strstr(svg, "No exits &amp; no traps."));
	assert_int_equal(count(svg, "class=\"mark\""), 0);
	assert_non_null(strstr(svg, "id=\"t-none\""));
	sqlite3_free(svg);

	svg = render(draw_bars, &zeros);
	assert_non_null(strstr(svg, "class=\"chart empty\""));
	assert_non_null(strstr(svg, ">no data</text>"));
	assert_int_equal(count(svg, "class=\"mark\""), 0);
	sqlite3_free(svg);

	svg = render(draw_lines, &nolines);
	assert_non_null(strstr(svg, "class=\"chart empty\""));
	assert_non_null(strstr(svg, ">Nothing.</text>"));
	assert_int_equal(count(svg, "class=\"mark\""), 0);
	sqlite3_free(svg);
}

static void test_numbers_read_well(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(nb_svg_number(0, buf), "0");
	assert_string_equal(nb_svg_number(999, buf), "999");
	assert_string_equal(nb_svg_number(12345, buf), "12,345");
	assert_string_equal(nb_svg_number(-1000, buf), "-1,000");
	assert_string_equal(nb_svg_number(1234567.8, buf), "1,234,568");
	assert_string_equal(nb_svg_number(0.0417, buf), "0.0417");
	assert_string_equal(nb_svg_number(12.34, buf), "12.3");
}

static void test_level_colours_are_distinct(void **state)
{
	(void)state;
	for (int a = 0; a < NB_SVG_COLOURS - 1; a++)
		for (int b = a + 1; b < NB_SVG_COLOURS - 1; b++)
			assert_string_not_equal(nb_svg_colour(nb_svg_level_colour(a)), nb_svg_colour(nb_svg_level_colour(b)));
}

/* A small trace, as a depth-2 run stores it: L0 exits, L1 traps of an L2 guest, page-table work. */
static void make_trace(const char *path)
{
	struct nb_store_options opt = {.annotate = 1};
	struct nb_run_info info = {.command_line = "nestbed run <nbvmm> & \"ptest\"", .host_kernel = "Linux test",
				   .kvm_flavour = "pvm", .tsc_khz = 1000000};
	static const uint8_t in_al_dx[] = {0xec};
	struct nb_store *st = NULL;
	struct nb_error err = {0};
	struct nb_trace_record rec;
	int64_t run_id;
	const char *line = "console <tag> & \"quotes\"";

	assert_int_equal(nb_store_open(path, &opt, &st, &err), 0);
	assert_int_equal(nb_store_run_begin(st, &info, &run_id, &err), 0);
	assert_int_equal(nb_store_vm_add(st, 1, 1, 0, "nbvmm.elf", 128 << 20, NULL, &err), 0);
	assert_int_equal(nb_store_vm_add(st, 2, 2, 1, "ptest", 64 << 20, "x=<1>", &err), 0);
	for (int i = 0; i < 40; i++) {
		memset(&rec, 0, sizeof(rec));
		rec.tsc = 1000000 + (uint64_t)i * 100000;
		rec.vm_id = 2;
		rec.rec_level = 1;
		rec.guest_level = 2;
		switch (i % 4) {
		case 0: /* an L2 port read, trapped by L1, which forwards it: one L0 exit follows */
			rec.kind = NB_EV_TRAP;
			rec.action = NB_ACT_EMULATED;
			rec.exit_code = 0x7b;
			rec.insn_len = 1;
			memcpy(rec.insn, in_al_dx, 1);
			break;
		case 1: /* the L0 exit that forwarding made, after the trap */
			rec.rec_level = 0;
			rec.guest_level = 1;
			rec.vm_id = 1;
			rec.kind = NB_EV_IO;
			rec.exit_code = 0x7b;
			rec.tsc -= 50000;
			break;
		case 2:
			rec.kind = NB_EV_PT_WRITE;
			rec.addr = 0x105000 + (uint64_t)(i % 3) * 8;
			rec.old_val = 0;
			rec.new_val = 0x2003;
			rec.aux = 1;
			break;
		default:
			rec.kind = NB_EV_SHADOW_FILL;
			rec.addr = 0x400000 + (uint64_t)(i % 5) * 4096;
			rec.aux = 1;
			break;
		}
		rec.vcpu = 0;
		assert_int_equal(nb_store_event(st, &rec, &err), 0);
	}
	assert_int_equal(nb_store_console(st, 1000, 2, 2, line, strlen(line), &err), 0);
	assert_int_equal(nb_store_run_end(st, 1, 0, "guest-exit", NULL, &err), 0);
	nb_store_close(st);
}

static void test_report_of_a_small_trace(void **state)
{
	const char *db = test_path("small.db");
	struct nb_error err = {0};
	char *html = NULL;
	size_t len = 0;
	int runs = 0;
	static const char *const charts[] = {"run1-traps-over-time", "run1-exit-reasons", "run1-exit-multiplication",
					     "run1-pt-writes", "run1-shadow-fills", "run1-slow-paths"};

	(void)state;
	make_trace(db);
	assert_int_equal(nb_report_render(db, 0, &html, &len, &runs, &err), 0);
	assert_int_equal(runs, 1);
	assert_int_equal(strlen(html), len);
	for (size_t i = 0; i < sizeof(charts) / sizeof(charts[0]); i++) {
		char id[80];
		const char *svg;

		snprintf(id, sizeof(id), "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"%s\" class=\"chart\"", charts[i]);
		svg = strstr(html, id);
		if (!svg)
			fail_msg("chart %s is missing or empty", charts[i]);
		assert_true(strstr(svg, "class=\"mark\"") < strstr(svg, "</svg>"));
	}
	/* Trace text escaped wherever it appears. */
	assert_non_null(strstr(html, "nestbed run &lt;nbvmm&gt; &amp; &quot;ptest&quot;"));
	assert_non_null(strstr(html, "console &lt;tag&gt; &amp; &quot;quotes&quot;"));
	assert_null(strstr(html, "<tag>"));
	assert_non_null(strstr(html, "x=&lt;1&gt;"));
	/* Every port read of L2 was followed by one L0 exit: 1 per trap. */
	assert_non_null(strstr(html, "<title>L2 guest IOIO, trapped by L1: 1 per trap"));
	assert_non_null(strstr(html, "No records were lost."));
	assert_non_null(strstr(html, "</html>\n"));
	assert_null(strstr(html, "Virtualizability verdicts"));
	free(html);

	/* A verdict view, whatever its columns, is shown as a table of this run's rows. */
	sqlite3 *raw;
	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "CREATE VIEW v_verdicts_test AS SELECT 1 AS run_id, 'T<1>' AS theorem,"
					   " 0 AS holds UNION ALL SELECT 2, 'other run', 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	assert_int_equal(nb_report_render(db, 1, &html, &len, &runs, &err), 0);
	assert_non_null(strstr(html, "Virtualizability verdicts"));
	assert_non_null(strstr(html, "<th>theorem</th>"));
	assert_non_null(strstr(html, "<td>T&lt;1&gt;</td>"));
	assert_null(strstr(html, "other run"));
	free(html);
}

static void test_report_refuses_what_is_not_a_trace(void **state)
{
	struct nb_error err = {0};
	char *html = (char *)1, msg[512];
	size_t len;
	FILE *f;
	sqlite3 *db;

	(void)state;
	assert_int_equal(nb_report_render(test_path("missing.db"), 0, &html, &len, NULL, &err), -NB_E_DB);
	assert_null(html);
	snprintf(msg, sizeof(msg), "trace database '%s': No such file or directory", test_path("missing.db"));
	assert_string_equal(err.msg, msg);

	f = fopen(test_path("text.db"), "w");
	assert_non_null(f);
	fputs("this is not a database, it is a long enough line of text to look like a file header\n", f);
	fclose(f);
	assert_int_equal(nb_report_render(test_path("text.db"), 0, &html, &len, NULL, &err), -NB_E_DB);
	assert_non_null(strstr(err.msg, "not an SQLite database"));

	assert_int_equal(sqlite3_open(test_path("other.db"), &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(nb_report_render(test_path("other.db"), 0, &html, &len, NULL, &err), -NB_E_DB);
	assert_non_null(strstr(err.msg, "not a nestbed trace database"));

	make_trace(test_path("runs.db"));
	assert_int_equal(nb_report_render(test_path("runs.db"), 7, &html, &len, NULL, &err), -NB_E_DB);
	assert_non_null(strstr(err.msg, "has no run 7"));

	char out[256];
	struct nb_report_options opt = {.run_id = 0, .out_path = out};

	snprintf(out, sizeof(out), "%s", test_path("no/such/dir/r.html"));
	assert_int_equal(nb_report_write(test_path("runs.db"), &opt, NULL, &err), -NB_E_DB);
	snprintf(msg, sizeof(msg), "report '%s': No such file or directory", out);
	assert_string_equal(err.msg, msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bars_are_drawn_to_scale),
		cmocka_unit_test(test_lines_are_drawn_to_scale),
		cmocka_unit_test(test_text_is_escaped),
		cmocka_unit_test(test_long_labels_are_cut_but_hover_is_whole),
		cmocka_unit_test(test_empty_datasets_say_so),
		cmocka_unit_test(test_numbers_read_well),
		cmocka_unit_test(test_level_colours_are_distinct),
		cmocka_unit_test(test_report_of_a_small_trace),
		cmocka_unit_test(test_report_refuses_what_is_not_a_trace),
	};

	return cmocka_run_group_tests(tests, make_test_dir, remove_test_dir);
}
