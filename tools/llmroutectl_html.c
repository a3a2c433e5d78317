/*
 * llmroutectl_html.c - `llmroutectl audit --html`: an audit summary
 * (llmroutectl_audit.h) as one self-contained HTML page.
 *
 * The page needs nothing from the network and runs no script: inline CSS,
 * charts as inline SVG drawn here, and a Content-Security-Policy that
 * forbids anything else, so even a string that escaped escaping could not
 * run.  Every string that comes from the audit (models, rules, process
 * names, servers, the file's name) goes through esc(): apps name their own
 * processes and models, and a hostile one must not write markup into the
 * page.
 *
 * Every number is in a data-v attribute (%.17g: the same double as the
 * JSON of `audit --json --savings`), beside data-k, the JSON key it
 * matches; rows carry data-group (or data-total), tables data-by.  The
 * text shown is rounded for people.
 */
#include "llmroutectl_audit.h"

#include <stdlib.h>
#include <string.h>

#define CHART_MAX_BARS 20   /* more groups: the largest are drawn, all are in the table */
#define CHART_MAX_DAYS 92   /* the latest days are drawn */
#define LABEL_MAX_CHARS 28  /* a chart label is cut after this many characters */

typedef double (*value_fn)(const audit_group *g);

typedef struct {
	const char *name, *color;
	value_fn v;
} series;

/* --- escaping -------------------------------------------------------------- */

/* s as HTML text or a quoted attribute value.  Control characters become
 * '?', as in the text output. */
static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
		}
	}
}

/* At most LABEL_MAX_CHARS characters of s, escaped, cut on a UTF-8
 * character boundary, with an ellipsis when cut. */
static void esc_label(FILE *f, const char *s)
{
	char buf[LABEL_MAX_CHARS * 4 + 1];
	size_t n = 0, chars = 0;

	for (; s[n] && n < sizeof(buf) - 1; n++) {
		if (((unsigned char)s[n] & 0xc0) != 0x80 && chars++ == LABEL_MAX_CHARS)
			break;
	}
	while (n && s[n] && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--; /* the buffer ended inside a character */
	memcpy(buf, s, n);
	buf[n] = '\0';
	esc(f, buf);
	if (s[n])
		fputs("\xe2\x80\xa6", f);
}

/* --- values ------------------------------------------------------------------ */

static double v_requests(const audit_group *g) { return (double)g->requests; }
static double v_errors(const audit_group *g) { return (double)g->errors; }
static double v_fallbacks(const audit_group *g) { return (double)g->fallbacks; }
static double v_in(const audit_group *g) { return (double)g->in; }
static double v_out(const audit_group *g) { return (double)g->out; }
static double v_cost(const audit_group *g) { return g->cost; }
static double v_unpriced(const audit_group *g) { return (double)g->unpriced; }
static double v_asked(const audit_group *g) { return g->asked; }
static double v_actual(const audit_group *g) { return g->actual; }
static double v_saved(const audit_group *g) { return g->asked - g->actual; }
static double v_excluded(const audit_group *g) { return (double)g->excluded; }
static double v_p50(const audit_group *g) { return audit_pct(g, 50); }
static double v_p90(const audit_group *g) { return audit_pct(g, 90); }
static double v_p95(const audit_group *g) { return audit_pct(g, 95); }
static double v_p99(const audit_group *g) { return audit_pct(g, 99); }

/* A share of the requests; -1 (shown as a dash) when there are none. */
static double v_error_rate(const audit_group *g)
{
	return g->requests ? (double)g->errors / (double)g->requests : -1;
}

static double v_fallback_rate(const audit_group *g)
{
	return g->requests ? (double)g->fallbacks / (double)g->requests : -1;
}

enum { F_COUNT, F_USD, F_RATE, F_MS };

typedef struct {
	const char *key, *title;  /* key: the --json key */
	value_fn v;
	int format;
} column;

static const column columns[] = {
	{"requests", "Requests", v_requests, F_COUNT},
	{"errors", "Errors", v_errors, F_COUNT},
	{"error_rate", "Error rate", v_error_rate, F_RATE},
	{"fallbacks", "Fallbacks", v_fallbacks, F_COUNT},
	{"fallback_rate", "Fallback rate", v_fallback_rate, F_RATE},
	{"input_tokens", "Tokens in", v_in, F_COUNT},
	{"output_tokens", "Tokens out", v_out, F_COUNT},
	{"cost_usd", "Cost", v_cost, F_USD},
	{"unpriced", "Unpriced", v_unpriced, F_COUNT},
	{"asked_cost_usd", "Cost as asked", v_asked, F_USD},
	{"actual_cost_usd", "Cost as sent", v_actual, F_USD},
	{"saved_usd", "Saved", v_saved, F_USD},
	{"savings_excluded", "Not compared", v_excluded, F_COUNT},
	{"p50_ms", "p50 ms", v_p50, F_MS},
	{"p90_ms", "p90 ms", v_p90, F_MS},
	{"p95_ms", "p95 ms", v_p95, F_MS},
	{"p99_ms", "p99 ms", v_p99, F_MS},
};
#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

/* The value for people; a negative rate or duration is "none". */
static void show(FILE *f, double v, int format)
{
	if ((format == F_RATE || format == F_MS) && v < 0)
		fputs("&ndash;", f);
	else if (format == F_COUNT)
		fprintf(f, "%.0f", v);
	else if (format == F_USD)
		fprintf(f, "%s$%.6f", v < 0 ? "&minus;" : "", v < 0 ? -v : v);
	else if (format == F_RATE)
		fprintf(f, "%.1f%%", 100 * v);
	else
		fprintf(f, "%.1f", v);
}

/* data-v: the exact double, empty for none (the JSON's null). */
static void data_v(FILE *f, double v, int format)
{
	if ((format == F_RATE || format == F_MS) && v < 0)
		fputs(" data-v=\"\"", f);
	else
		fprintf(f, " data-v=\"%.17g\"", v);
}

/* --- tables ---------------------------------------------------------------- */

static void table_row(FILE *f, const audit_group *g)
{
	size_t c;

	if (g->key) {
		fputs("<tr data-group=\"", f);
		esc(f, g->key);
		fputs("\"><th scope=\"row\">", f);
		esc(f, g->key);
	} else {
		fputs("<tr class=\"total\" data-total=\"1\"><th scope=\"row\">TOTAL", f);
	}
	fputs("</th>", f);
	for (c = 0; c < NCOLUMNS; c++) {
		fprintf(f, "<td data-k=\"%s\"", columns[c].key);
		data_v(f, columns[c].v(g), columns[c].format);
		fputc('>', f);
		show(f, columns[c].v(g), columns[c].format);
		fputs("</td>", f);
	}
	fputs("</tr>\n", f);
}

static void table(FILE *f, const audit_grouping *gs, const audit_group *total, const char *title)
{
	size_t c, i;

	fprintf(f, "<div class=\"scroll\"><table id=\"by-%s\" data-by=\"%s\">\n<thead><tr><th>%s</th>",
		audit_by_name[gs->by], audit_by_name[gs->by], title);
	for (c = 0; c < NCOLUMNS; c++)
		fprintf(f, "<th>%s</th>", columns[c].title);
	fputs("</tr></thead>\n<tbody>\n", f);
	for (i = 0; i < gs->n; i++)
		table_row(f, gs->g[i]);
	table_row(f, total);
	fputs("</tbody></table></div>\n", f);
}

/* --- charts ---------------------------------------------------------------- */

typedef struct {
	const audit_group *g;
	double v;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
	const ranked *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? 1 : -1;
	return strcmp(x->g->key, y->g->key);
}

/* A value drawn as a bar: none (< 0) is nothing. */
static double bar_v(const series *s, const audit_group *g)
{
	double v = s->v(g);

	return v > 0 ? v : 0;
}

static void fig_open(FILE *f, const char *title, const series *s, int ns)
{
	int i;

	fprintf(f, "<figure><figcaption>%s", title);
	for (i = 0; ns > 1 && i < ns; i++)
		fprintf(f, " <span class=\"key\" style=\"background:%s\"></span>%s", s[i].color,
			s[i].name);
	fputs("</figcaption>\n", f);
}

static void no_data(FILE *f, const char *id)
{
	fprintf(f, "<svg id=\"chart-%s\" class=\"chart\" width=\"640\" height=\"40\" "
		"viewBox=\"0 0 640 40\" role=\"img\"><text x=\"10\" y=\"25\">no requests</text>"
		"</svg></figure>\n", id);
}

/* A value beside its bar: whole numbers (tokens, ms) in full, others to
 * four significant digits. */
static void bar_value(FILE *f, double v, const char *unit)
{
	if (v == (double)(long long)v && v < 1e15)
		fprintf(f, "%lld%s", (long long)v, unit);
	else
		fprintf(f, "%.4g%s", v, unit);
}

static void bar_title(FILE *f, const char *label, const series *s, double v, const char *unit)
{
	fputs("<title>", f);
	esc(f, label);
	fprintf(f, " %s: ", s->name);
	bar_value(f, v, unit);
	fputs("</title>", f);
}

/* One row of horizontal bars per group (the largest CHART_MAX_BARS by the
 * first series), the series side by side. */
static void hbars(FILE *f, const char *id, const char *title, const audit_grouping *gs,
		  const series *s, int ns, const char *unit)
{
	ranked *r = malloc((gs->n ? gs->n : 1) * sizeof(*r));
	size_t i, n = gs->n < CHART_MAX_BARS ? gs->n : CHART_MAX_BARS;
	double max = 0, y;
	int k, row = 8 + 14 * ns, h;

	if (!r)
		return;
	for (i = 0; i < gs->n; i++)
		r[i] = (ranked){gs->g[i], bar_v(&s[0], gs->g[i])};
	if (gs->n)
		qsort(r, gs->n, sizeof(*r), cmp_ranked);
	for (i = 0; i < n; i++)
		for (k = 0; k < ns; k++)
			max = bar_v(&s[k], r[i].g) > max ? bar_v(&s[k], r[i].g) : max;
	fig_open(f, title, s, ns);
	if (!n) {
		no_data(f, id);
		free(r);
		return;
	}
	h = (int)n * row + 10;
	fprintf(f, "<svg id=\"chart-%s\" class=\"chart\" width=\"720\" height=\"%d\" "
		"viewBox=\"0 0 720 %d\" role=\"img\">\n", id, h, h);
	for (i = 0; i < n; i++) {
		y = 5 + (double)i * row;
		fprintf(f, "<text class=\"label\" x=\"200\" y=\"%.1f\" text-anchor=\"end\">", y + row / 2.0 + 1);
		esc_label(f, r[i].g->key);
		fputs("</text>\n", f);
		for (k = 0; k < ns; k++) {
			double v = bar_v(&s[k], r[i].g), w = max > 0 ? 400 * v / max : 0;
			fprintf(f, "<rect class=\"bar\" x=\"206\" y=\"%.1f\" width=\"%.2f\" height=\"12\" "
				"fill=\"%s\">", y + 4 + 14 * k, w > 0 && w < 1 ? 1 : w, s[k].color);
			bar_title(f, r[i].g->key, &s[k], v, unit);
			fprintf(f, "</rect><text class=\"val\" x=\"%.2f\" y=\"%.1f\">", 210 + w,
				y + 14 + 14 * k);
			bar_value(f, v, unit);
			fputs("</text>\n", f);
		}
	}
	if (gs->n > n)
		fprintf(f, "<text class=\"note\" x=\"206\" y=\"%d\">the %zu largest of %zu</text>\n",
			h - 1, n, gs->n);
	fputs("</svg></figure>\n", f);
	free(r);
}

/* One column per day (the latest CHART_MAX_DAYS), the series stacked. */
static void columns_by_day(FILE *f, const char *id, const char *title, const audit_grouping *days,
			   const series *s, int ns, const char *unit)
{
	size_t first = days->n > CHART_MAX_DAYS ? days->n - CHART_MAX_DAYS : 0, i;
	double max = 0, sum, x, y, hgt;
	int k, w;

	fig_open(f, title, s, ns);
	if (!days->n) {
		no_data(f, id);
		return;
	}
	for (i = first; i < days->n; i++) {
		for (sum = 0, k = 0; k < ns; k++)
			sum += bar_v(&s[k], days->g[i]);
		max = sum > max ? sum : max;
	}
	w = 60 + 34 * (int)(days->n - first);
	w = w < 320 ? 320 : w;
	fprintf(f, "<svg id=\"chart-%s\" class=\"chart\" width=\"%d\" height=\"230\" "
		"viewBox=\"0 0 %d 230\" role=\"img\">\n", id, w, w);
	fprintf(f, "<line x1=\"50\" y1=\"200\" x2=\"%d\" y2=\"200\" stroke=\"#888\"/>"
		"<text class=\"val\" x=\"46\" y=\"24\" text-anchor=\"end\">", w - 5);
	bar_value(f, max, unit);
	fputs("</text>\n", f);
	for (i = first; i < days->n; i++) {
		x = 56 + 34.0 * (double)(i - first);
		y = 200;
		for (k = 0; k < ns; k++) {
			double v = bar_v(&s[k], days->g[i]);
			hgt = max > 0 ? 180 * v / max : 0;
			y -= hgt;
			fprintf(f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.2f\" width=\"26\" height=\"%.2f\" "
				"fill=\"%s\">", x, y, hgt, s[k].color);
			bar_title(f, days->g[i]->key, &s[k], v, unit);
			fputs("</rect>\n", f);
		}
		fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"214\" text-anchor=\"middle\">", x + 13);
		esc(f, strlen(days->g[i]->key) == 10 ? days->g[i]->key + 5 : days->g[i]->key);
		fputs("</text>\n", f);
	}
	fputs("</svg></figure>\n", f);
}

/* --- the page -------------------------------------------------------------- */

static const char style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}"
	"h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}"
	".cards{display:flex;flex-wrap:wrap;gap:.8em}"
	".card{border:1px solid #ccc;border-radius:6px;padding:.5em .9em;min-width:8em}"
	".card b{display:block;font-size:1.3em}"
	".scroll{overflow-x:auto}table{border-collapse:collapse;font-size:12px;margin:.5em 0}"
	"th,td{border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap}"
	"th[scope=row]{text-align:left;max-width:28em;overflow:hidden;text-overflow:ellipsis}"
	"tr.total{font-weight:bold;background:#f4f4f4}thead th{background:#eee}"
	"figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:.3em}"
	".key{display:inline-block;width:.8em;height:.8em;margin:0 .2em 0 .8em}"
	"svg.chart text{font-size:11px;fill:#333}svg.chart .note{fill:#888}"
	".warn{background:#fff6d5;border:1px solid #e5c400;padding:.4em .8em}";

static const series s_cost[] = {{"cost", "#3b6fb6", v_cost}};
static const series s_tokens[] = {{"input tokens", "#3b6fb6", v_in}, {"output tokens", "#e08a2c", v_out}};
static const series s_savings[] = {{"as asked", "#c0504d", v_asked}, {"as sent", "#4f9a55", v_actual}};
static const series s_latency[] = {{"p50", "#4f9a55", v_p50}, {"p90", "#e08a2c", v_p90}, {"p99", "#c0504d", v_p99}};
static const series s_rates[] = {{"error rate", "#c0504d", v_error_rate}, {"fallback rate", "#e08a2c", v_fallback_rate}};

static void card(FILE *f, const char *title, const audit_group *t, const char *key)
{
	size_t c;

	for (c = 0; c < NCOLUMNS && strcmp(columns[c].key, key); c++)
		;
	fprintf(f, "<div class=\"card\" id=\"total-%s\" data-k=\"%s\"", key, key);
	data_v(f, columns[c].v(t), columns[c].format);
	fprintf(f, ">%s<b>", title);
	show(f, columns[c].v(t), columns[c].format);
	fputs("</b></div>\n", f);
}

static void head(FILE *f, const audit_summary *sm, const char *source)
{
	const audit_grouping *days = &sm->by[BY_DAY];

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'\">\n<title>llmroute audit: ", f);
	esc(f, source);
	fprintf(f, "</title>\n<style>%s</style></head><body>\n<h1>llmroute audit report</h1>\n"
		"<p>Audit file <code id=\"source\">", style);
	esc(f, source);
	fprintf(f, "</code>: <span id=\"records\">%llu</span> requests", sm->total.requests);
	if (days->n) {
		fputs(" from ", f);
		esc(f, days->g[0]->key);
		fputs(" to ", f);
		esc(f, days->g[days->n - 1]->key);
		fputs(" (UTC)", f);
	}
	fprintf(f, "; <span id=\"skipped\">%llu</span> lines skipped (not audit records).</p>\n",
		sm->bad);
}

static void cards(FILE *f, const audit_group *t)
{
	fputs("<section class=\"cards\" id=\"summary\">\n", f);
	card(f, "Requests", t, "requests");
	card(f, "Cost", t, "cost_usd");
	card(f, "Tokens in", t, "input_tokens");
	card(f, "Tokens out", t, "output_tokens");
	card(f, "Saved by routing", t, "saved_usd");
	card(f, "Error rate", t, "error_rate");
	card(f, "Fallback rate", t, "fallback_rate");
	card(f, "p50 ms", t, "p50_ms");
	card(f, "p90 ms", t, "p90_ms");
	card(f, "p99 ms", t, "p99_ms");
	fputs("</section>\n", f);
}

/* What is unknown, said plainly: costs without a price count as 0, and
 * savings leave out what cannot be compared. */
static void price_notes(FILE *f, const audit_group *t)
{
	if (t->unpriced)
		fprintf(f, "<p class=\"warn\" id=\"unpriced-note\">%llu of %llu requests have no known "
			"price for the model sent: their cost counts as $0 in the costs "
			"(column Unpriced).</p>\n", t->unpriced, t->requests);
	if (t->requests && t->excluded == t->requests)
		fputs("<p class=\"warn\" id=\"savings-note\">What routing saved is unknown: no request "
		      "has a known price for both the model asked and the model sent.</p>\n", f);
	else if (t->excluded)
		fprintf(f, "<p class=\"warn\" id=\"savings-note\">%llu of %llu requests are left out of "
			"the savings (column Not compared): the price of the model asked or of "
			"the model sent is unknown.  Give prices with a rules file "
			"(\"prices\") and --rules.</p>\n", t->excluded, t->requests);
}

static void savings(FILE *f, const audit_summary *sm)
{
	fputs("<h2 id=\"savings\">What routing saved</h2>\n<p>For each request, the cost of its "
	      "tokens on the model the app asked for (llmroute.original_model) against the "
	      "cost on the model sent; a request that was not rerouted counts the same on both "
	      "sides.  Prices: the audit record's cost, else the rules' prices, else the built-in "
	      "list.</p>\n", f);
	price_notes(f, &sm->total);
	hbars(f, "savings-rule", "Cost as asked and as sent, per route (USD)", &sm->by[BY_RULE],
	      s_savings, 2, "");
	hbars(f, "savings-model", "Cost as asked and as sent, per model sent (USD)",
	      &sm->by[BY_MODEL], s_savings, 2, "");
}

void audit_html(FILE *f, const audit_summary *sm, const char *source)
{
	const audit_group *t = &sm->total;

	head(f, sm, source);
	cards(f, t);
	fputs("<h2 id=\"days\">Per day (UTC)</h2>\n", f);
	columns_by_day(f, "cost-day", "Cost per day (USD)", &sm->by[BY_DAY], s_cost, 1, "");
	columns_by_day(f, "tokens-day", "Tokens per day", &sm->by[BY_DAY], s_tokens, 2, "");
	table(f, &sm->by[BY_DAY], t, "Day");
	fputs("<h2 id=\"models\">Per model sent</h2>\n", f);
	hbars(f, "cost-model", "Cost per model (USD)", &sm->by[BY_MODEL], s_cost, 1, "");
	hbars(f, "tokens-model", "Tokens per model", &sm->by[BY_MODEL], s_tokens, 2, "");
	table(f, &sm->by[BY_MODEL], t, "Model");
	fputs("<h2 id=\"routes\">Per route</h2>\n", f);
	hbars(f, "cost-rule", "Cost per route (USD)", &sm->by[BY_RULE], s_cost, 1, "");
	table(f, &sm->by[BY_RULE], t, "Route");
	fputs("<h2 id=\"processes\">Per process</h2>\n", f);
	hbars(f, "cost-process", "Cost per process (USD)", &sm->by[BY_PROCESS], s_cost, 1, "");
	table(f, &sm->by[BY_PROCESS], t, "Process");
	savings(f, sm);
	fputs("<h2 id=\"reliability\">Errors, fallbacks and latency</h2>\n", f);
	hbars(f, "rates-model", "Error and fallback rates per model", &sm->by[BY_MODEL], s_rates, 2, "");
	hbars(f, "latency-model", "Latency per model, p50 / p90 / p99 (ms)", &sm->by[BY_MODEL],
	      s_latency, 3, " ms");
	fputs("<h2 id=\"servers\">Per server</h2>\n", f);
	table(f, &sm->by[BY_SERVER], t, "Server");
	fputs("<p>Requests are audit records: under a route with fallbacks, one per attempt. "
	      "An error is a record with an error.type or an HTTP status of 400 or more; a "
	      "fallback, an attempt on a route's fallback (llmroute.via \"fallback\" or "
	      "\"health\").  Percentiles are exact (nearest rank) over llmroute.duration_ms. "
	      "Routes are llmroute.rule; \"(none)\" is no route, \"RULE (not applied)\" a route "
	      "decided but not applied.</p>\n</body></html>\n", f);
}
