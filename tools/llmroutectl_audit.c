/*
 * llmroutectl_audit.c - `llmroutectl audit`: summaries of an audit file
 * (router/lr_audit.h) per model, rule, process, server or day, and what
 * routing saved against the models the apps asked for.
 *
 * The file is streamed, never loaded whole, so it may be any size.  Each
 * line has a hard cap (AUDIT_LINE_CAP); a line that is longer, is not a
 * JSON object, or has no valid "time" is skipped, counted and its number
 * reported on stderr (the first BAD_LINES_SHOWN), never fatal; a blank
 * line (a record the shim could not finish, lr_audit.h) is not counted.
 * Percentiles are exact: every duration is kept (at most AUDIT_MAX_RECORDS
 * in all) and sorted at the end.  Groups are kept in a hash table and
 * printed sorted by name, so the output is the same whatever the line order.
 */
#include "llmroutectl.h"
#include "llmroutectl_audit.h"
#include "lr_audit.h"
#include "lr_error.h"
#include "lr_price.h"
#include "lr_table.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AUDIT_LINE_CAP (16 * LR_AUDIT_MAX_LINE) /* the writer's lines are 4 KiB at most */
#define AUDIT_MAX_RECORDS (1u << 24)
#define AUDIT_KEY_MAX 256
#define AUDIT_KEY_WIDTH 48 /* widest group name shown in the text table */
#define BAD_LINES_SHOWN (sizeof(((audit_summary *)0)->bad_line) / sizeof(unsigned long long))

static const char audit_usage[] =
	"usage: llmroutectl audit [FILE] [--by model|rule|process|server|day|intent]\n"
	"                         [--since TIME] [--json] [--savings] [--rules FILE]\n"
	"                         [--html OUT]\n"
	"  summarize an audit file: per group and in total, requests, errors,\n"
	"  tokens in and out, cost, and exact p50 / p95 of llmroute.duration_ms.\n"
	"  COST_USD counts a record with no price as 0; UNPRICED says how many.\n"
	"  FILE       default: $LLMROUTE_AUDIT, else the live table's \"audit\"; - is stdin\n"
	"  --by       model sent (default), rule, process, server (host:port), day (UTC);\n"
	"             by rule, requests a route matched but did not apply (the audit's\n"
	"             llmroute.applied false) are the group \"RULE (not applied)\";\n"
	"             intent (llmroute.intent) adds ESCALATED (attempts after an answer\n"
	"             the answer gate refused), ESC_RATE (of the app's requests) and\n"
	"             UNCERTAIN (routed by a route's when_unsure)\n"
	"  --since    2026-11-01, 2026-11-01T08:00[:00] (UTC), or 30m, 24h, 7d ago\n"
	"  --json     an array of objects: one per group, then the total (\"group\": null);\n"
	"             also fallbacks (attempts on a route's fallback) and p90, p99\n"
	"  --savings  also ASKED_USD (the same tokens on llmroute.original_model),\n"
	"             ACTUAL_USD and SAVED_USD = ASKED - ACTUAL; a record with no\n"
	"             price for either model is left out of these (EXCLUDED)\n"
	"  --rules    with --savings or --html: prices from this rules file, not the\n"
	"             live table (either way, then the built-in prices)\n"
	"  --html     write one self-contained HTML page to OUT (- is stdout): cost,\n"
	"             tokens, savings, error and fallback rates and p50/p90/p99 per\n"
	"             day, model, rule, process and server, as charts and tables;\n"
	"             the numbers are those of --json --savings --by each grouping\n"
	"  lines that are not audit records are skipped and counted on stderr\n"
	"\n"
	"usage: llmroutectl audit [FILE] --follow --otlp URL [--state FILE] [--batch N]\n"
	"                         [--token-env VAR] [--cacert FILE]\n"
	"  follow FILE (across logrotate's rename and copytruncate) and export each\n"
	"  record as an OTLP/HTTP JSON log record to URL (e.g.\n"
	"  http://collector:4318/v1/logs), batched, retried with back-off; at least\n"
	"  once: a restart resumes from the position saved in the state file\n"
	"  --state      default FILE.otlp-state (device, inode and offset)\n"
	"  --batch      records per request, 1 to 10000 (default 512)\n"
	"  --token-env  send the token in environment variable VAR as a bearer token\n"
	"  --cacert     trust the CAs in FILE (PEM) instead of the system's\n"
	"  SIGTERM or SIGINT stop it (exit 0)\n"
	"exit codes: 0 done, 1 usage, 2 unreadable file or rules, 3 no audit file known\n";

const char *const audit_by_name[BY_N] = {"model", "rule", "process", "server", "day", "intent"};
static const char *const by_title[BY_N] = {"MODEL", "RULE", "PROCESS", "SERVER", "DAY", "INTENT"};

typedef struct {
	const char *file, *rules, *html;
	int by, has_by, json, savings, has_since;
	int64_t since_ms;
} opts;

/* What one record adds to its group and to the total. */
typedef struct {
	long long in, out;       /* < 0 = null */
	long long cache_read, cache_write; /* of in; < 0 (older records) = 0 */
	double cost, dur, asked, actual;
	int priced, has_dur, error, fallback, compared;
	int first, escalated, uncertain;
} sample;

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		ctl_die(EX_SYSTEM, "out of memory");
	return p;
}

/* --- time --------------------------------------------------------------- */

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): no timegm, no time zone. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int month_days(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Exactly n decimal digits at *p, advancing it.  Returns the value or -1. */
static int digits(const char **p, int n)
{
	int v = 0;

	for (; n > 0; n--, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

/* HH:MM[:SS[.fff]] after the 'T'.  Returns milliseconds into the day, or -1. */
static int64_t parse_clock(const char *s, const char **end)
{
	int h, mi, sec = 0, ms = 0, scale = 100;

	if ((h = digits(&s, 2)) < 0 || h > 23 || *s != ':')
		return -1;
	s++;
	if ((mi = digits(&s, 2)) < 0 || mi > 59)
		return -1;
	if (*s == ':') {
		s++;
		if ((sec = digits(&s, 2)) < 0 || sec > 60) /* 60: a leap second */
			return -1;
		if (*s == '.' && s[1] >= '0' && s[1] <= '9')
			for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
				ms += (*s - '0') * scale;
	}
	*end = s;
	return ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + ms;
}

/* YYYY-MM-DD[THH:MM[:SS[.fff]]][Z], always UTC.  Returns 0 with *ms (unix
 * milliseconds), or -1. */
static int parse_utc(const char *s, int64_t *ms)
{
	int y, mo, d;
	int64_t clock = 0;

	if ((y = digits(&s, 4)) < 0 || *s != '-')
		return -1;
	s++;
	if ((mo = digits(&s, 2)) < 1 || mo > 12 || *s != '-')
		return -1;
	s++;
	if ((d = digits(&s, 2)) < 1 || d > month_days(y, mo))
		return -1;
	if (*s == 'T' && (clock = parse_clock(s + 1, &s)) < 0)
		return -1;
	if (*s == 'Z')
		s++;
	if (*s)
		return -1;
	*ms = days_from_civil(y, mo, d) * 86400000 + clock;
	return 0;
}

/* An absolute time (parse_utc) or NUMBER{s,m,h,d} before now.  Returns 0
 * or -1. */
static int parse_since(const char *s, int64_t *ms)
{
	struct timespec now;
	unsigned long long n;
	int64_t unit;
	char *end;

	if (parse_utc(s, ms) == 0)
		return 0;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	unit = *end == 's' ? 1000 : *end == 'm' ? 60000 : *end == 'h' ? 3600000 : *end == 'd' ? 86400000 : 0;
	if (!unit || end[1] || errno || n > 1000000000ULL)
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	*ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - (int64_t)n * unit;
	return 0;
}

/* --- options -------------------------------------------------------------- */

static void usage_die(const char *fmt, const char *arg)
{
	fputs("llmroutectl: audit: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	fputs(audit_usage, stderr);
	exit(EX_USAGE);
}

static int parse_by(const char *v)
{
	int i;

	for (i = 0; i < BY_N; i++)
		if (!strcmp(v, audit_by_name[i]))
			return i;
	usage_die("--by takes model, rule, process, server, day or intent, not \"%s\"", v);
	return 0;
}

static void parse_opts(int argc, char **argv, opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (ctl_is_help(a)) {
			fputs(audit_usage, stdout);
			exit(EX_DONE);
		}
		if (!strcmp(a, "--json")) {
			o->json = 1;
			continue;
		}
		if (!strcmp(a, "--html")) {
			if (!v)
				usage_die("%s needs a value", a);
			o->html = argv[++i];
			continue;
		}
		if (!strcmp(a, "--savings")) {
			o->savings = 1;
			continue;
		}
		if (a[0] != '-' || !strcmp(a, "-")) {
			if (o->file)
				usage_die("one FILE only, not also \"%s\"", a);
			o->file = a;
			continue;
		}
		if (strcmp(a, "--by") && strcmp(a, "--since") && strcmp(a, "--rules"))
			usage_die("unknown option %s", a);
		if (!v)
			usage_die("%s needs a value", a);
		i++;
		if (!strcmp(a, "--by"))
			o->by = parse_by(v), o->has_by = 1;
		else if (!strcmp(a, "--rules"))
			o->rules = v;
		else if (parse_since(v, &o->since_ms) < 0)
			usage_die("--since takes 2026-11-01, 2026-11-01T08:00[:00], 30m, 24h or 7d, not \"%s\"", v);
		else
			o->has_since = 1;
	}
	if (o->rules && !o->savings && !o->html)
		usage_die("%s", "--rules gives prices for --savings or --html only");
	if (o->html && (o->json || o->has_by))
		usage_die("%s", "--html shows every grouping: no --by or --json with it");
}

/* --- one record ----------------------------------------------------------- */

static const char *str_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int num_of(const cJSON *o, const char *k, double *v)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
		return 0;
	*v = j->valuedouble;
	return 1;
}

/* A token count, or -1 for null, missing or nonsense. */
static long long count_of(const cJSON *o, const char *k)
{
	double v;

	return num_of(o, k, &v) && v >= 0 && v < 1e15 ? (long long)v : -1;
}

static void server_key(const cJSON *o, char *key, size_t cap)
{
	const char *a = str_of(o, "server.address");
	double port;

	if (!a || !*a)
		a = "(none)";
	if (!num_of(o, "server.port", &port) || port < 0 || port > 65535)
		snprintf(key, cap, "%s", a);
	else /* an IPv6 address gets brackets, as in a URL */
		snprintf(key, cap, strchr(a, ':') ? "[%s]:%d" : "%s:%d", a, (int)port);
}

static void group_key(int by, const cJSON *o, const char *time, char *key, size_t cap)
{
	static const char *const field[] = {"gen_ai.request.model", "llmroute.rule",
					    "process.executable.name"};
	const char *s;

	if (by == BY_DAY) { /* time was validated: it starts with YYYY-MM-DD */
		snprintf(key, cap, "%.10s", time);
		return;
	}
	if (by == BY_SERVER) {
		server_key(o, key, cap);
		return;
	}
	s = by == BY_INTENT ? str_of(o, "llmroute.intent") : str_of(o, field[by]);
	/* a route decided but not applied did not route this request */
	if (by == BY_RULE && s && *s && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "llmroute.applied")))
		snprintf(key, cap, "%s (not applied)", s);
	else
		snprintf(key, cap, "%s", s && *s ? s : "(none)");
}

static int is_error(const cJSON *o)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error.type");
	double status;

	return (e && !cJSON_IsNull(e)) ||
	       (num_of(o, "http.response.status_code", &status) && status >= 400);
}

/* An attempt sent to a route's fallback: the one before failed, or the
 * routed target was cooling down after failures (lr_attempt.c). */
static int is_fallback(const cJSON *o)
{
	const char *via = str_of(o, "llmroute.via");

	return via && (!strcmp(via, "fallback") || !strcmp(via, "health"));
}

/* What the same tokens would have cost on the model the app asked for.
 * The actual cost is the record's; when that is null, the sent model's
 * price in `t`.  A record that was not rerouted costs what it cost.  The
 * record is compared only when both sides have a price.  Cached prompt
 * tokens are priced at each model's cache rates. */
static void compare(const cJSON *o, const lr_table *t, sample *s)
{
	const char *asked = str_of(o, "llmroute.original_model");
	const char *sent = str_of(o, "gen_ai.request.model");
	lr_tokens k = {s->in, s->out, s->cache_read, s->cache_write};
	lr_price p;

	s->actual = s->cost;
	if (!s->priced) {
		if (!sent || lr_price_lookup(t, sent, &p) < 0)
			return;
		s->actual = lr_price_cost_tokens(&p, &k);
	}
	if (asked && sent && !strcmp(asked, sent))
		s->asked = s->actual;
	else if (asked && lr_price_lookup(t, asked, &p) == 0)
		s->asked = lr_price_cost_tokens(&p, &k);
	else
		return;
	s->compared = 1;
}

static void sample_of(const cJSON *o, const lr_table *prices, int savings, sample *s)
{
	const char *via, *un;
	double attempt;

	memset(s, 0, sizeof(*s));
	s->in = count_of(o, "gen_ai.usage.input_tokens");
	s->out = count_of(o, "gen_ai.usage.output_tokens");
	s->cache_read = count_of(o, "gen_ai.usage.cache_read.input_tokens");
	s->cache_write = count_of(o, "gen_ai.usage.cache_creation.input_tokens");
	s->priced = num_of(o, "llmroute.cost_usd", &s->cost) && s->cost >= 0;
	if (!s->priced)
		s->cost = 0;
	s->has_dur = num_of(o, "llmroute.duration_ms", &s->dur) && s->dur >= 0;
	s->error = is_error(o);
	s->fallback = is_fallback(o);
	s->escalated = (via = str_of(o, "llmroute.via")) && !strcmp(via, "escalation");
	/* no attempt number: a route without resilience, one record per request */
	s->first = !num_of(o, "llmroute.attempt", &attempt) || attempt <= 1;
	s->uncertain = (un = str_of(o, "llmroute.uncertain")) && *un;
	if (savings)
		compare(o, prices, s);
}

/* --- groups --------------------------------------------------------------- */

static size_t hash(const char *s)
{
	size_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static void rehash(audit_grouping *sm)
{
	size_t i, j, mask;

	sm->nslot = sm->nslot ? sm->nslot * 2 : 64;
	mask = sm->nslot - 1;
	free(sm->slot);
	sm->slot = calloc(sm->nslot, sizeof(*sm->slot));
	if (!sm->slot)
		ctl_die(EX_SYSTEM, "out of memory");
	for (i = 0; i < sm->n; i++) {
		for (j = hash(sm->g[i]->key) & mask; sm->slot[j]; j = (j + 1) & mask)
			;
		sm->slot[j] = i + 1;
	}
}

/* The group called `key`, created empty on first sight. */
static audit_group *group_get(audit_grouping *sm, const char *key)
{
	size_t i, mask;
	audit_group *g;

	if (2 * (sm->n + 1) > sm->nslot)
		rehash(sm);
	mask = sm->nslot - 1;
	for (i = hash(key) & mask; sm->slot[i]; i = (i + 1) & mask)
		if (!strcmp(sm->g[sm->slot[i] - 1]->key, key))
			return sm->g[sm->slot[i] - 1];
	if (sm->n == sm->cap) {
		sm->cap = sm->cap ? sm->cap * 2 : 16;
		sm->g = xrealloc(sm->g, sm->cap * sizeof(*sm->g));
	}
	g = xrealloc(NULL, sizeof(*g));
	memset(g, 0, sizeof(*g));
	if (!(g->key = strdup(key)))
		ctl_die(EX_SYSTEM, "out of memory");
	sm->g[sm->n++] = g;
	sm->slot[i] = sm->n;
	return g;
}

static void group_add(audit_group *g, const sample *s)
{
	g->requests++;
	g->errors += (unsigned)s->error;
	g->fallbacks += (unsigned)s->fallback;
	g->firsts += (unsigned)s->first;
	g->escalated += (unsigned)s->escalated;
	g->uncertain += (unsigned)s->uncertain;
	g->in += s->in > 0 ? s->in : 0;
	g->out += s->out > 0 ? s->out : 0;
	g->cost += s->cost;
	g->unpriced += (unsigned)!s->priced;
	if (s->compared) {
		g->asked += s->asked;
		g->actual += s->actual;
	} else {
		g->excluded++;
	}
	if (!s->has_dur)
		return;
	if (g->ndur == g->capdur) {
		g->capdur = g->capdur ? g->capdur * 2 : 16;
		g->dur = xrealloc(g->dur, g->capdur * sizeof(*g->dur));
	}
	g->dur[g->ndur++] = s->dur;
}

static void group_free(audit_group *g)
{
	free(g->key);
	free(g->dur);
}

/* --- reading -------------------------------------------------------------- */

/* One line without its '\n' into buf.  Returns its length, -1 at the end
 * of the file, or -2 when it was longer than cap (the rest is consumed). */
static long read_line(FILE *f, char *buf, size_t cap)
{
	size_t n = 0;
	int c, over = 0;

	while ((c = getc_unlocked(f)) != EOF && c != '\n') {
		if (n < cap)
			buf[n++] = (char)c;
		else
			over = 1;
	}
	if (c == EOF && n == 0)
		return -1;
	return over ? -2 : (long)n;
}

static int blank(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p == end;
}

/* The line as a JSON object (caller deletes), or NULL. */
static cJSON *parse_line(const char *buf, size_t n)
{
	const char *end = NULL;
	cJSON *o = cJSON_ParseWithLengthOpts(buf, n, &end, 0);

	if (o && (!cJSON_IsObject(o) || !end || !blank(end, buf + n))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Adds one record.  Returns 0 (counted or before --since), or -1 when it
 * is not an audit record. */
static int take(audit_summary *sm, const cJSON *j, const opts *o, const lr_table *prices)
{
	const char *time = str_of(j, "time");
	char key[AUDIT_KEY_MAX];
	int64_t ms;
	sample s;
	size_t i;

	if (!time || parse_utc(time, &ms) < 0)
		return -1;
	if (o->has_since && ms < o->since_ms)
		return 0;
	if (sm->total.requests >= AUDIT_MAX_RECORDS)
		ctl_die(EX_SYSTEM, "audit: more than %u records: narrow them with --since",
			AUDIT_MAX_RECORDS);
	sample_of(j, prices, o->savings || o->html, &s);
	for (i = 0; i < sm->nby; i++) {
		group_key(sm->by[i].by, j, time, key, sizeof(key));
		group_add(group_get(&sm->by[i], key), &s);
	}
	group_add(&sm->total, &s);
	return 0;
}

static void summarize(FILE *f, const char *path, const opts *o, const lr_table *prices,
		      audit_summary *sm)
{
	char *buf = xrealloc(NULL, AUDIT_LINE_CAP);
	cJSON *j;
	long n;
	unsigned long long line = 0;

	while ((n = read_line(f, buf, AUDIT_LINE_CAP)) != -1) {
		line++;
		if (n >= 0 && blank(buf, buf + n))
			continue; /* a record the shim could not finish is blanked */
		j = n > 0 ? parse_line(buf, (size_t)n) : NULL;
		if (!j || take(sm, j, o, prices) < 0) {
			if (sm->bad < BAD_LINES_SHOWN)
				sm->bad_line[sm->bad] = line;
			sm->bad++;
		}
		cJSON_Delete(j);
	}
	if (ferror(f))
		ctl_die(EX_INVALID, "%s: %s", path, strerror(errno));
	free(buf);
}

/* --- output --------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_group(const void *a, const void *b)
{
	return strcmp((*(audit_group *const *)a)->key, (*(audit_group *const *)b)->key);
}

static void sort_durations(audit_group *g)
{
	if (g->ndur)
		qsort(g->dur, g->ndur, sizeof(*g->dur), cmp_double);
}

/* Nearest rank: the smallest duration with at least p% of them at or
 * below it, so always one that was measured.  -1 when there are none. */
double audit_pct(const audit_group *g, unsigned p)
{
	size_t rank = (p * g->ndur + 99) / 100;

	return g->ndur ? g->dur[rank ? rank - 1 : 0] : -1;
}

static void print_key(const char *k, int w)
{
	int i;

	for (i = 0; i < w && k[i]; i++) /* names come from apps: no escapes to the terminal */
		putchar((unsigned char)k[i] < 0x20 || k[i] == 0x7f ? '?' : k[i]);
	printf("%*s", w - i, "");
}

static void print_ms(double v)
{
	if (v < 0)
		printf(" %9s", "-");
	else
		printf(" %9.1f", v);
}

static void print_row(const audit_group *g, int w, int savings, int intent)
{
	print_key(g->key ? g->key : "TOTAL", w);
	printf(" %9llu %7llu %12lld %12lld %12.6f %8llu", g->requests, g->errors, g->in, g->out,
	       g->cost, g->unpriced);
	print_ms(audit_pct(g, 50));
	print_ms(audit_pct(g, 95));
	if (savings)
		printf(" %12.6f %12.6f %12.6f %8llu", g->asked, g->actual, g->asked - g->actual,
		       g->excluded);
	if (intent)
		printf(" %9llu %8.3f %9llu", g->escalated, g->firsts ? (double)g->escalated / g->firsts : 0,
		       g->uncertain);
	putchar('\n');
}

static void print_text(const audit_summary *sm, const opts *o)
{
	const audit_grouping *gs = &sm->by[0];
	int w = (int)strlen(by_title[o->by]);
	size_t i;

	for (i = 0; i < gs->n; i++)
		if ((int)strlen(gs->g[i]->key) > w)
			w = (int)strlen(gs->g[i]->key);
	w = w > AUDIT_KEY_WIDTH ? AUDIT_KEY_WIDTH : w < 5 ? 5 : w;
	printf("%-*s %9s %7s %12s %12s %12s %8s %9s %9s", w, by_title[o->by], "REQUESTS",
	       "ERRORS", "TOKENS_IN", "TOKENS_OUT", "COST_USD", "UNPRICED", "P50_MS", "P95_MS");
	if (o->savings)
		printf(" %12s %12s %12s %8s", "ASKED_USD", "ACTUAL_USD", "SAVED_USD", "EXCLUDED");
	if (o->by == BY_INTENT)
		printf(" %9s %8s %9s", "ESCALATED", "ESC_RATE", "UNCERTAIN");
	putchar('\n');
	for (i = 0; i < gs->n; i++)
		print_row(gs->g[i], w, o->savings, o->by == BY_INTENT);
	print_row(&sm->total, w, o->savings, o->by == BY_INTENT);
}

static void add_ms(cJSON *j, const char *k, double v)
{
	if (v < 0)
		cJSON_AddNullToObject(j, k);
	else
		cJSON_AddNumberToObject(j, k, v);
}

static cJSON *group_json(const audit_group *g, const opts *o)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "by", audit_by_name[o->by]);
	if (g->key)
		cJSON_AddStringToObject(j, "group", g->key);
	else
		cJSON_AddNullToObject(j, "group");
	cJSON_AddBoolToObject(j, "total", !g->key);
	cJSON_AddNumberToObject(j, "requests", (double)g->requests);
	cJSON_AddNumberToObject(j, "errors", (double)g->errors);
	cJSON_AddNumberToObject(j, "fallbacks", (double)g->fallbacks);
	cJSON_AddNumberToObject(j, "input_tokens", (double)g->in);
	cJSON_AddNumberToObject(j, "output_tokens", (double)g->out);
	cJSON_AddNumberToObject(j, "cost_usd", g->cost);
	cJSON_AddNumberToObject(j, "unpriced", (double)g->unpriced);
	add_ms(j, "p50_ms", audit_pct(g, 50));
	add_ms(j, "p90_ms", audit_pct(g, 90));
	add_ms(j, "p95_ms", audit_pct(g, 95));
	add_ms(j, "p99_ms", audit_pct(g, 99));
	if (o->by == BY_INTENT) { /* where the classifier is wrong: the gate escalated */
		cJSON_AddNumberToObject(j, "escalations", (double)g->escalated);
		cJSON_AddNumberToObject(j, "escalation_rate", g->firsts ? (double)g->escalated / g->firsts : 0);
		cJSON_AddNumberToObject(j, "uncertain", (double)g->uncertain);
	}
	if (o->savings) {
		cJSON_AddNumberToObject(j, "asked_cost_usd", g->asked);
		cJSON_AddNumberToObject(j, "actual_cost_usd", g->actual);
		cJSON_AddNumberToObject(j, "saved_usd", g->asked - g->actual);
		cJSON_AddNumberToObject(j, "savings_excluded", (double)g->excluded);
	}
	return j;
}

static void print_json(const audit_summary *sm, const opts *o)
{
	cJSON *a = cJSON_CreateArray();
	char *out;
	size_t i;

	for (i = 0; i < sm->by[0].n; i++)
		cJSON_AddItemToArray(a, group_json(sm->by[0].g[i], o));
	cJSON_AddItemToArray(a, group_json(&sm->total, o));
	out = cJSON_Print(a);
	if (!out)
		ctl_die(EX_SYSTEM, "out of memory");
	puts(out);
	free(out);
	cJSON_Delete(a);
}

/* --- the verb ------------------------------------------------------------- */

/* The live table, or NULL when none is published. */
static lr_table *live_table(void)
{
	size_t len;
	uint64_t gen;
	lr_shm s;
	lr_table *t;

	if (ctl_attach(&s) == EX_NOTFOUND)
		return NULL;
	t = ctl_snapshot(&s, &len, &gen);
	lr_shm_close(&s);
	return t;
}

/* The same order as the shim's: LLMROUTE_AUDIT, then the table's "audit". */
static const char *default_file(const lr_table *live)
{
	const char *p = getenv("LLMROUTE_AUDIT");

	if ((!p || !*p) && live)
		p = lr_table_str(live, live->audit);
	if (!p || !*p)
		ctl_die(EX_NOTFOUND, "audit: no audit file: give FILE, set \"audit\" in the "
			"live table, or set LLMROUTE_AUDIT");
	return p;
}

static lr_table *rules_table(const char *path)
{
	size_t len, blen;
	char *text = ctl_read_file(path, &len);
	lr_table *t = ctl_compile(path, text, len, &blen);

	free(text);
	return t;
}

static void sort_grouping(audit_grouping *gs)
{
	size_t i;

	if (gs->n) /* qsort of a NULL array is undefined, even of 0 items */
		qsort(gs->g, gs->n, sizeof(*gs->g), cmp_group);
	for (i = 0; i < gs->n; i++)
		sort_durations(gs->g[i]);
}

static void free_summary(audit_summary *sm)
{
	size_t i, k;

	for (k = 0; k < sm->nby; k++) {
		for (i = 0; i < sm->by[k].n; i++) {
			group_free(sm->by[k].g[i]);
			free(sm->by[k].g[i]);
		}
		free(sm->by[k].g);
		free(sm->by[k].slot);
	}
	group_free(&sm->total);
}

static void report_bad(const audit_summary *sm)
{
	size_t i;

	if (!sm->bad)
		return;
	fprintf(stderr, "llmroutectl: audit: %llu line%s skipped: not an audit record "
		"(a JSON object with a \"time\") or longer than %d bytes: line",
		sm->bad, sm->bad == 1 ? "" : "s", AUDIT_LINE_CAP);
	for (i = 0; i < sm->bad && i < BAD_LINES_SHOWN; i++)
		fprintf(stderr, "%s %llu", i ? "," : "", sm->bad_line[i]);
	fprintf(stderr, "%s\n", sm->bad > BAD_LINES_SHOWN ? ", ..." : "");
}

/* The page goes to a temporary file renamed over `path` once complete, so
 * a reader never sees half a report; "-" is stdout. */
static void write_html(const audit_summary *sm, const char *path, const char *source)
{
	char tmp[4096];
	FILE *f = stdout;

	if (strcmp(path, "-")) {
		if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
			ctl_die(EX_USAGE, "audit: --html %s: name too long", path);
		if (!(f = fopen(tmp, "w")))
			ctl_die(EX_SYSTEM, "audit: %s: %s", tmp, strerror(errno));
	}
	audit_html(f, sm, source);
	if (f == stdout) {
		if (fflush(f) || ferror(f))
			ctl_die(EX_SYSTEM, "audit: stdout: %s", strerror(errno));
		return;
	}
	if (ferror(f) | fclose(f) || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		ctl_die(EX_SYSTEM, "audit: %s: %s", path, strerror(e));
	}
}

static void finish(audit_summary *sm, const opts *o, const char *path)
{
	size_t k;

	for (k = 0; k < sm->nby; k++)
		sort_grouping(&sm->by[k]);
	sort_durations(&sm->total);
	if (o->html)
		write_html(sm, o->html, path);
	else if (o->json)
		print_json(sm, o);
	else
		print_text(sm, o);
	report_bad(sm);
	free_summary(sm);
}

const char *audit_default_file(void)
{
	return default_file(live_table()); /* the table is small and this runs once */
}

int ctl_audit(int argc, char **argv)
{
	opts o;
	audit_summary sm;
	lr_table *live = NULL, *rules = NULL;
	const char *path;
	FILE *f;
	int k;

	for (k = 1; k < argc && !ctl_is_help(argv[k]); k++)
		if (!strcmp(argv[k], "--follow"))
			return ctl_audit_follow(argc, argv);
	parse_opts(argc, argv, &o);
	if (!o.file || ((o.savings || o.html) && !o.rules))
		live = live_table();
	if (o.rules)
		rules = rules_table(o.rules);
	path = o.file ? o.file : default_file(live);
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f)
		ctl_die(EX_INVALID, "%s: %s", path, strerror(errno));
	memset(&sm, 0, sizeof(sm));
	if (o.html) /* the report shows every grouping */
		for (k = 0; k < BY_N; k++)
			sm.by[sm.nby++].by = k;
	else
		sm.by[sm.nby++].by = o.by;
	summarize(f, path, &o, rules ? rules : live, &sm);
	if (f != stdin)
		fclose(f);
	finish(&sm, &o, path);
	free(rules);
	free(live);
	return EX_DONE;
}
