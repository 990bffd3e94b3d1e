/*
 * SVG bar and line charts for the HTML report (see report_svg.h for why they are drawn here).
 * Geometry is in SVG user units; the report's CSS scales each chart to the page's width.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tracer/report_svg.h"

#define SVG_WIDTH 760.0
#define SVG_TITLE_Y 18.0
#define SVG_LEGEND_Y 36.0
#define SVG_CHAR_W 6.2      /* average width of an 11px sans-serif character, for layout */
#define BAR_ROW 20.0
#define BAR_HEIGHT 14.0
#define BAR_LABEL_MAX 48    /* longer labels are cut, in full in the hover text */
#define LINE_HEIGHT 300.0

const char *nb_svg_colour(unsigned i)
{
	/* Okabe-Ito order with black last: blue, orange, bluish green, reddish purple, vermillion,
	 * sky blue, yellow (weak on white, so late), black. */
	static const char *const palette[NB_SVG_COLOURS] = {
		"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000",
	};
	return palette[i % NB_SVG_COLOURS];
}

unsigned nb_svg_level_colour(int level)
{
	return level < 0 ? NB_SVG_COLOURS - 1 : (unsigned)level % (NB_SVG_COLOURS - 1);
}

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 when it is not well-formed. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not characters XML
	 * accepts; neither are U+FFFE and U+FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp > 0x10ffff || cp == 0xfffe || cp == 0xffff)
		return 0;
	return len;
}

void nb_xml_text_n(sqlite3_str *out, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, run = 0, len;

	/* Copies runs of plain bytes at once; anything that needs an entity ends the run. */
	while (i + run < n) {
		const unsigned char *p = s + i + run;
		const char *ent = NULL;

		switch (*p) {
		case '&': ent = "&amp;"; break;
		case '<': ent = "&lt;"; break;
		case '>': ent = "&gt;"; break;
		case '"': ent = "&quot;"; break;
		case '\'': ent = "&#39;"; break;
		case '\t':
		case '\n': break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				ent = "\xef\xbf\xbd"; /* XML 1.0 has no way to write most control characters */
			break;
		}
		len = ent ? 1 : utf8_len(p, n - i - run);
		if (!ent && !len) {
			ent = "\xef\xbf\xbd";
			len = 1;
		}
		if (!ent) {
			run += len;
			continue;
		}
		sqlite3_str_append(out, (const char *)s + i, (int)run);
		sqlite3_str_appendall(out, ent);
		i += run + len;
		run = 0;
	}
	sqlite3_str_append(out, (const char *)s + i, (int)run);
}

void nb_xml_text(sqlite3_str *out, const char *text)
{
	if (text)
		nb_xml_text_n(out, text, strlen(text));
}

char *nb_svg_number(double v, char buf[static 32])
{
	char digits[32], *d;
	size_t n, i, o = 0;
	int neg = v < 0;

	if (neg)
		v = -v;
	if (v < 1e15 && (v >= 1000 || (double)(int64_t)v == v)) {
		/* Whole numbers (and anything large enough that its fraction does not matter) with
		 * commas between thousands. */
		snprintf(digits, sizeof(digits), "%.0f", v);
		n = strlen(digits);
		if (neg)
			buf[o++] = '-';
		for (i = 0, d = digits; i < n; i++) {
			buf[o++] = d[i];
			if (i + 1 < n && (n - i - 1) % 3 == 0)
				buf[o++] = ',';
		}
		buf[o] = 0;
	} else {
		snprintf(buf, 32, "%s%.3g", neg ? "-" : "", v);
	}
	return buf;
}

/* A step of 1, 2 or 5 times a power of ten that cuts [0, span] into about `parts` intervals. */
static double nice_step(double span, int parts)
{
	double raw = span / parts, p = 1, m;

	if (!(raw > 0))
		return 1;
	while (p * 10 <= raw)
		p *= 10;
	while (p > raw)
		p /= 10;
	m = raw / p;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* The smallest multiple of step at or above v. */
static double ceil_to(double v, double step)
{
	double k = (double)(int64_t)(v / step);

	if (k * step < v)
		k += 1;
	return k * step;
}

static void svg_open(sqlite3_str *out, const char *id, const char *title, double height, int empty)
{
	sqlite3_str_appendall(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"");
	nb_xml_text(out, id);
	sqlite3_str_appendf(out, "\" class=\"chart%s\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\""
			    " role=\"img\" aria-labelledby=\"", empty ? " empty" : "", SVG_WIDTH, height,
			    SVG_WIDTH, height);
	nb_xml_text(out, id);
	sqlite3_str_appendall(out, "-title\">\n<title id=\"");
	nb_xml_text(out, id);
	sqlite3_str_appendall(out, "-title\">");
	nb_xml_text(out, title);
	sqlite3_str_appendf(out, "</title>\n<text class=\"title\" x=\"%.1f\" y=\"%.1f\">", 8.0, SVG_TITLE_Y);
	nb_xml_text(out, title);
	sqlite3_str_appendall(out, "</text>\n");
}

static void svg_empty(sqlite3_str *out, const char *id, const char *title, const char *why)
{
	svg_open(out, id, title, 60, 1);
	sqlite3_str_appendf(out, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\">", 8.0, 44.0);
	nb_xml_text(out, why ? why : "no data");
	sqlite3_str_appendall(out, "</text>\n</svg>\n");
}

/* Legend entries in a row under the title, wrapping to a new row when one is full. Returns the
 * height it took. */
static double svg_legend(sqlite3_str *out, const struct nb_svg_legend *legend, size_t n, double x0)
{
	double x = x0, y = SVG_LEGEND_Y, w;
	size_t i;

	for (i = 0; i < n; i++) {
		w = 18 + SVG_CHAR_W * (double)strlen(legend[i].name ? legend[i].name : "") + 16;
		if (x > x0 && x + w > SVG_WIDTH - 8) {
			x = x0;
			y += 16;
		}
		sqlite3_str_appendf(out, "<rect class=\"legend\" x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
				    "<text x=\"%.1f\" y=\"%.1f\">", x, y - 10, nb_svg_colour(legend[i].colour), x + 16, y);
		nb_xml_text(out, legend[i].name);
		sqlite3_str_appendall(out, "</text>\n");
		x += w;
	}
	return n ? y - SVG_LEGEND_Y + 16 : 0;
}

static void svg_hover_value(sqlite3_str *out, const char *what, double v, const char *unit)
{
	char num[32];

	nb_xml_text(out, what);
	sqlite3_str_appendf(out, ": %s", nb_svg_number(v, num));
	if (unit) {
		sqlite3_str_appendall(out, " ");
		nb_xml_text(out, unit);
	}
}

/* Appends at most max characters of label (whole UTF-8 sequences), with an ellipsis if cut. */
static void svg_label(sqlite3_str *out, const char *label, size_t max)
{
	size_t n = 0, chars = 0, len = strlen(label);

	while (n < len && chars < max) {
		n++;
		while (n < len && ((unsigned char)label[n] & 0xc0) == 0x80)
			n++;
		chars++;
	}
	nb_xml_text_n(out, label, n);
	if (n < len)
		sqlite3_str_appendall(out, "\xe2\x80\xa6");
}

void nb_svg_bar_chart(sqlite3_str *out, const struct nb_svg_bar_chart *c)
{
	double max = 0, step, top, left, right = 80, plot_w, height, y, w;
	size_t i, label_chars = 4;
	char num[32];

	for (i = 0; i < c->nbars; i++) {
		size_t l = c->bars[i].label ? strlen(c->bars[i].label) : 0;

		if (c->bars[i].value > max)
			max = c->bars[i].value;
		if (l > label_chars)
			label_chars = l;
	}
	if (!(max > 0)) {
		svg_empty(out, c->id, c->title, c->empty_text);
		return;
	}
	if (label_chars > BAR_LABEL_MAX)
		label_chars = BAR_LABEL_MAX + 1;
	left = 16 + SVG_CHAR_W * (double)label_chars;
	plot_w = SVG_WIDTH - left - right;
	step = nice_step(max, 5);
	max = ceil_to(max, step);

	/* The legend needs its height before the bars can be placed: draw it into a scratch string. */
	{
		sqlite3_str *legend = sqlite3_str_new(NULL);
		double legend_h = svg_legend(legend, c->legend, c->nlegend, left);
		char *text = sqlite3_str_finish(legend);

		top = SVG_LEGEND_Y + legend_h + 4;
		height = top + BAR_ROW * (double)c->nbars + 44;
		svg_open(out, c->id, c->title, height, 0);
		if (text)
			sqlite3_str_appendall(out, text);
		sqlite3_free(text);
	}

	/* Grid and value axis first, so that the bars are drawn over them. */
	for (i = 0; (double)i * step <= max * (1 + 1e-9); i++) {
		double v = (double)i * step, x = left + plot_w * v / max;

		sqlite3_str_appendf(out, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
				    "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
				    x, top - 2, x, top + BAR_ROW * (double)c->nbars, x,
				    top + BAR_ROW * (double)c->nbars + 14, nb_svg_number(v, num));
	}
	sqlite3_str_appendf(out, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", left,
			    top - 2, left, top + BAR_ROW * (double)c->nbars);
	sqlite3_str_appendf(out, "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
			    left + plot_w / 2, height - 8);
	nb_xml_text(out, c->value_label);
	sqlite3_str_appendall(out, "</text>\n");

	for (i = 0; i < c->nbars; i++) {
		const struct nb_svg_bar *b = &c->bars[i];
		const char *label = b->label ? b->label : "";

		y = top + BAR_ROW * (double)i;
		w = b->value > 0 ? plot_w * b->value / max : 0;
		if (b->value > 0 && w < 1)
			w = 1; /* a small non-zero value stays visible */
		sqlite3_str_appendf(out, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 6,
				    y + BAR_HEIGHT - 3);
		svg_label(out, label, BAR_LABEL_MAX);
		sqlite3_str_appendf(out, "</text>\n<rect class=\"mark\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\""
				    " fill=\"%s\"><title>", left, y + (BAR_ROW - BAR_HEIGHT) / 2, w, BAR_HEIGHT,
				    nb_svg_colour(b->colour));
		svg_hover_value(out, label, b->value, c->unit);
		if (b->hover) {
			sqlite3_str_appendall(out, "\n");
			nb_xml_text(out, b->hover);
		}
		sqlite3_str_appendf(out, "</title></rect>\n<text class=\"value\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
				    left + w + 4, y + BAR_HEIGHT - 3, nb_svg_number(b->value, num));
	}
	sqlite3_str_appendall(out, "</svg>\n");
}

void nb_svg_line_chart(sqlite3_str *out, const struct nb_svg_line_chart *c)
{
	const double left = 72, right = 16, bottom = 48;
	double ymax = 0, xmin, xmax, ystep, xstep, top, plot_w, plot_h, v;
	struct nb_svg_legend legend[NB_SVG_COLOURS * 2];
	size_t i, j, nlegend;
	char num[32];

	for (j = 0; j < c->nlines; j++)
		for (i = 0; i < c->npoints; i++)
			if (c->lines[j].y[i] > ymax)
				ymax = c->lines[j].y[i];
	if (!(ymax > 0)) {
		svg_empty(out, c->id, c->title, c->empty_text);
		return;
	}
	xmin = c->x[0];
	xmax = c->x[c->npoints - 1];
	if (!(xmax > xmin))
		xmax = xmin + 1; /* a single point: give the axis some width */
	ystep = nice_step(ymax, 5);
	ymax = ceil_to(ymax, ystep);
	xstep = nice_step(xmax - xmin, 8);

	nlegend = c->nlines < sizeof(legend) / sizeof(legend[0]) ? c->nlines : sizeof(legend) / sizeof(legend[0]);
	for (j = 0; j < nlegend; j++)
		legend[j] = (struct nb_svg_legend){c->lines[j].name, c->lines[j].colour};
	{
		sqlite3_str *l = sqlite3_str_new(NULL);
		double legend_h = svg_legend(l, legend, nlegend, left);
		char *text = sqlite3_str_finish(l);

		top = SVG_LEGEND_Y + legend_h + 6;
		svg_open(out, c->id, c->title, LINE_HEIGHT + top - SVG_LEGEND_Y, 0);
		if (text)
			sqlite3_str_appendall(out, text);
		sqlite3_free(text);
	}
	plot_w = SVG_WIDTH - left - right;
	plot_h = LINE_HEIGHT - SVG_LEGEND_Y - bottom;

#define X(xv) (left + plot_w * ((xv) - xmin) / (xmax - xmin))
#define Y(yv) (top + plot_h - plot_h * (yv) / ymax)
	for (v = 0; v <= ymax * (1 + 1e-9); v += ystep)
		sqlite3_str_appendf(out, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
				    "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
				    left, Y(v), left + plot_w, Y(v), left - 6, Y(v) + 4, nb_svg_number(v, num));
	for (v = ceil_to(xmin, xstep); v <= xmax * (1 + 1e-9) + 1e-12; v += xstep)
		sqlite3_str_appendf(out, "<line class=\"tick-mark\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
				    "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
				    X(v), top + plot_h, X(v), top + plot_h + 4, X(v), top + plot_h + 16,
				    nb_svg_number(v, num));
	sqlite3_str_appendf(out, "<path class=\"axis\" d=\"M%.1f %.1fV%.1fH%.1f\"/>\n", left, top, top + plot_h,
			    left + plot_w);
	sqlite3_str_appendf(out, "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
			    left + plot_w / 2, top + plot_h + 36);
	nb_xml_text(out, c->x_label);
	sqlite3_str_appendf(out, "</text>\n<text class=\"axis-label\" transform=\"translate(16 %.1f) rotate(-90)\""
				 " text-anchor=\"middle\">", top + plot_h / 2);
	nb_xml_text(out, c->y_label);
	sqlite3_str_appendall(out, "</text>\n");

	for (j = 0; j < c->nlines; j++) {
		const struct nb_svg_line *l = &c->lines[j];
		const char *colour = nb_svg_colour(l->colour);

		sqlite3_str_appendf(out, "<polyline class=\"mark\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
				    colour);
		for (i = 0; i < c->npoints; i++)
			sqlite3_str_appendf(out, "%s%.1f,%.1f", i ? " " : "", X(c->x[i]), Y(l->y[i]));
		sqlite3_str_appendall(out, "\"><title>");
		nb_xml_text(out, l->name);
		sqlite3_str_appendall(out, "</title></polyline>\n");
		for (i = 0; i < c->npoints; i++) {
			sqlite3_str_appendf(out, "<circle class=\"mark\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"><title>",
					    X(c->x[i]), Y(l->y[i]), l->y[i] > 0 ? "3" : "1.5", colour);
			svg_hover_value(out, l->name, l->y[i], c->unit);
			sqlite3_str_appendf(out, " at %s", nb_svg_number(c->x[i], num));
			if (c->x_unit) {
				sqlite3_str_appendall(out, " ");
				nb_xml_text(out, c->x_unit);
			}
			sqlite3_str_appendall(out, "</title></circle>\n");
		}
	}
#undef X
#undef Y
	sqlite3_str_appendall(out, "</svg>\n");
}
