/*
 * SVG charts for the HTML report (tracer/report.c), drawn by this code: a bar chart and a line
 * chart are a few hundred lines of C, which is less to keep than a charting library vendored into
 * the build, and their output needs no JavaScript. Every chart has a visible title, axes with
 * ticks and labels, a legend when it has more than one colour, and a <title> on each mark so that
 * hovering shows its exact number. Colours come from one colour-blind-safe palette.
 *
 * Output goes into an sqlite3_str (SQLite's growable string, already linked here); text from the
 * trace is escaped for XML, so the report stays well-formed whatever a guest printed.
 */
#ifndef NESTBED_REPORT_SVG_H
#define NESTBED_REPORT_SVG_H

#include <stddef.h>
#include <sqlite3.h>

/* Okabe and Ito's eight colours (2008), distinguishable with any common colour-vision deficiency. */
#define NB_SVG_COLOURS 8
/* Colour i of the palette (taken modulo NB_SVG_COLOURS), as "#rrggbb". */
const char *nb_svg_colour(unsigned i);
/* The colour that stands for trace level `level` in every chart of a report. */
unsigned nb_svg_level_colour(int level);

/* Appends text escaped for XML character data and attribute values: & < > " ' become entities,
 * control characters and bytes that are not UTF-8 become U+FFFD, so the document stays parseable. */
void nb_xml_text(sqlite3_str *out, const char *text);
/* The same for the first len bytes of text. */
void nb_xml_text_n(sqlite3_str *out, const char *text, size_t len);

/* Writes v for people: integers with comma grouping ("12,345"), others with three significant
 * digits ("0.0417", "12.3"). Returns buf. */
char *nb_svg_number(double v, char buf[static 32]);

struct nb_svg_legend {
	const char *name;
	unsigned colour;
};

/* One horizontal bar: its label on the left, its value at its end and in its hover text. */
struct nb_svg_bar {
	const char *label;
	double value;
	unsigned colour;
	const char *hover; /* extra hover line after "label: value unit"; NULL for none */
};

struct nb_svg_bar_chart {
	const char *id;          /* id attribute of the <svg>, unique in the document */
	const char *title;
	const char *value_label; /* the value axis' label */
	const char *unit;        /* after numbers in hover text ("traps"); NULL for none */
	const struct nb_svg_bar *bars;
	size_t nbars;
	const struct nb_svg_legend *legend; /* drawn when nlegend > 0 */
	size_t nlegend;
	const char *empty_text;  /* what to say instead of bars when there are none */
};

struct nb_svg_line {
	const char *name;
	unsigned colour;
	const double *y;         /* one value per point of the chart */
};

struct nb_svg_line_chart {
	const char *id;
	const char *title;
	const char *x_label;
	const char *y_label;
	const char *x_unit;      /* after x values in hover text ("ms") */
	const char *unit;        /* after y values in hover text */
	const double *x;         /* npoints x values, increasing */
	size_t npoints;
	const struct nb_svg_line *lines;
	size_t nlines;
	const char *empty_text;
};

/*
 * Each chart is one <svg> element with class "chart"; each data mark (a bar, a line, a point)
 * carries class "mark", so that a test can count what was drawn. A chart with nothing to draw
 * (no bars, no points, or only zeros) shows its title and empty_text, with class "chart empty".
 */
void nb_svg_bar_chart(sqlite3_str *out, const struct nb_svg_bar_chart *c);
void nb_svg_line_chart(sqlite3_str *out, const struct nb_svg_line_chart *c);

#endif
