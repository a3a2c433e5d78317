/*
 * llmroutectl_prom.c - `llmroutectl stats --prometheus`: the live counters,
 * the targets' health, today's spend, the live table and this user's
 * response cache in the Prometheus text exposition format (version 0.0.4),
 * to stdout or, with --textfile, into a file for node_exporter's textfile
 * collector.
 *
 * Only what the segments hold is exported: counters per route, model and
 * target (requests, errors, tokens, cost, a latency histogram), gauges for
 * health and for spend on the current UTC day (budgets reset at midnight).
 * A family's samples are written together, HELP and TYPE first.  Names in
 * the counters come from any local user (see lr_stats.h), so label values
 * are escaped (\\, \", \n) and bytes that are not UTF-8 become U+FFFD.
 *
 * --textfile writes a temporary file beside FILE (not ending in .prom, so
 * the collector never reads it half-written), mode 0644, then renames it
 * over FILE: a reader sees the old file or the new one, whole.
 */
#include "llmroutectl.h"
#include "llmroutectl_stats.h"
#include "lr_cache.h"
#include "lr_error.h"
#include "lr_json.h"
#include "lr_table.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { DIM_ROUTE, DIM_MODEL, DIM_TARGET, NDIMS };
static const struct {
	int kind;
	const char *label;
} dims[NDIMS] = {{LR_STATS_ROUTE, "route"}, {LR_STATS_MODEL, "model"}, {LR_STATS_TARGET, "target"}};

enum { V_REQ, V_ERR, V_IN, V_OUT, V_COST };
static const struct {
	const char *name, *help;
	int v;
} counters[] = {
	{"requests_total", "Requests counted (a target: attempts sent to it).", V_REQ},
	{"errors_total", "Requests that ended in an error.", V_ERR},
	{"input_tokens_total", "Input (prompt) tokens the upstream reported.", V_IN},
	{"output_tokens_total", "Output (completion) tokens the upstream reported.", V_OUT},
	{"cost_usd_total", "Cost in US dollars at the table's prices.", V_COST},
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* A label value: escaped, and valid UTF-8 whatever the segment holds. */
static void put_label(FILE *f, const char *s, size_t n)
{
	size_t i = 0;
	int k;

	while (i < n && s[i]) {
		if (s[i] == '\\' || s[i] == '"') {
			fputc('\\', f);
			fputc(s[i++], f);
		} else if (s[i] == '\n') {
			fputs("\\n", f);
			i++;
		} else if ((k = lr_json_utf8_seq(s + i, n - i)) > 0) {
			fwrite(s + i, 1, (size_t)k, f);
			i += (size_t)k;
		} else {
			fputs("\xef\xbf\xbd", f);
			i++;
		}
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* NAME{LABEL="slot's name"EXTRA} — the start of a sample line. */
static void sample(FILE *f, const char *name, const char *label, const lr_stats_slot *sl, const char *extra)
{
	fprintf(f, "%s{%s=\"", name, label);
	put_label(f, sl->name, strnlen(sl->name, sizeof(sl->name)));
	fprintf(f, "\"%s} ", extra ? extra : "");
}

static int slot_of(const lr_stats_seg *s, uint32_t i, int kind, ctl_totals *t)
{
	const lr_stats_slot *sl = &s->slot[i];

	return atomic_load(&sl->state) == 2 && sl->kind == (uint32_t)kind && ctl_stats_gather(s, i, t);
}

static void put_value(FILE *f, const ctl_totals *t, int v)
{
	const unsigned long long x[] = {t->requests, t->errors, t->in, t->out};

	if (v == V_COST)
		fprintf(f, "%.9f\n", (double)t->cost_nusd / 1e9);
	else
		fprintf(f, "%llu\n", x[v]);
}

static void emit_counters(FILE *f, const lr_stats_seg *s, int d)
{
	char name[96];
	ctl_totals t;
	size_t c;
	uint32_t i;

	for (c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		snprintf(name, sizeof(name), "llmroute_%s_%s", dims[d].label, counters[c].name);
		family(f, name, "counter", counters[c].help);
		for (i = 0; i < LR_STATS_SLOTS; i++)
			if (slot_of(s, i, dims[d].kind, &t)) {
				sample(f, name, dims[d].label, &s->slot[i], NULL);
				put_value(f, &t, counters[c].v);
			}
	}
}

static void emit_histogram(FILE *f, const lr_stats_seg *s, int d)
{
	char name[96], le[48];
	unsigned long long cum;
	ctl_totals t;
	uint32_t i;
	int b;

	snprintf(name, sizeof(name), "llmroute_%s_request_duration_seconds", dims[d].label);
	family(f, name, "histogram", "Duration of requests that got an answer, from the app's request to its end.");
	for (i = 0; i < LR_STATS_SLOTS; i++) {
		if (!slot_of(s, i, dims[d].kind, &t))
			continue;
		snprintf(name, sizeof(name), "llmroute_%s_request_duration_seconds_bucket", dims[d].label);
		for (b = 0, cum = 0; b < LR_STATS_LAT_BUCKETS; b++) {
			cum += t.bucket[b];
			if (b < LR_STATS_LAT_BUCKETS - 1)
				snprintf(le, sizeof(le), ",le=\"%g\"", lr_stats_lat_bound_ms(b) / 1e3);
			else
				snprintf(le, sizeof(le), ",le=\"+Inf\"");
			sample(f, name, dims[d].label, &s->slot[i], le);
			fprintf(f, "%llu\n", cum);
		}
		snprintf(name, sizeof(name), "llmroute_%s_request_duration_seconds_sum", dims[d].label);
		sample(f, name, dims[d].label, &s->slot[i], NULL);
		fprintf(f, "%.6f\n", (double)t.latency_us / 1e6);
		snprintf(name, sizeof(name), "llmroute_%s_request_duration_seconds_count", dims[d].label);
		sample(f, name, dims[d].label, &s->slot[i], NULL);
		fprintf(f, "%llu\n", cum);
	}
}

static void emit_unapplied(FILE *f, const lr_stats_seg *s)
{
	ctl_totals t;
	uint32_t i;

	family(f, "llmroute_route_not_applied_requests_total", "counter",
	       "Requests a route matched but the transport could not route (sent as the app made them).");
	for (i = 0; i < LR_STATS_SLOTS; i++)
		if (slot_of(s, i, LR_STATS_UNAPPLIED, &t)) {
			sample(f, "llmroute_route_not_applied_requests_total", "route", &s->slot[i], NULL);
			fprintf(f, "%llu\n", t.requests);
		}
}

static void emit_unreached(FILE *f, const lr_stats_seg *s)
{
	ctl_totals t;
	uint32_t i;

	family(f, "llmroute_unreached_connections_total", "counter",
	       "TLS connections to an LLM host through a TLS library the shim does not hook (not routed).");
	for (i = 0; i < LR_STATS_SLOTS; i++)
		if (slot_of(s, i, LR_STATS_UNREACHED, &t)) {
			sample(f, "llmroute_unreached_connections_total", "host", &s->slot[i], NULL);
			fprintf(f, "%llu\n", t.requests);
		}
}

/* What the attempts of resilient requests did, per route and kind. */
static void emit_attempts(FILE *f, const lr_stats_seg *s)
{
	char extra[64];
	ctl_totals t;
	uint32_t i;
	int n;

	family(f, "llmroute_route_attempts_total", "counter",
	       "Attempts after the first of a route's requests, by kind (the audit's llmroute.via).");
	for (i = 0; i < LR_STATS_SLOTS; i++)
		if (slot_of(s, i, LR_STATS_ROUTE, &t))
			for (n = 1; lr_stats_via_name(n); n++) {
				snprintf(extra, sizeof(extra), ",via=\"%s\"", lr_stats_via_name(n));
				sample(f, "llmroute_route_attempts_total", "route", &s->slot[i], extra);
				fprintf(f, "%llu\n", t.via[n]);
			}
	family(f, "llmroute_route_timeouts_total", "counter",
	       "Attempts of a route's requests ended by one of our time-outs, by kind.");
	for (i = 0; i < LR_STATS_SLOTS; i++)
		if (slot_of(s, i, LR_STATS_ROUTE, &t))
			for (n = 1; lr_stats_timeout_name(n); n++) {
				snprintf(extra, sizeof(extra), ",kind=\"%s\"", lr_stats_timeout_name(n));
				sample(f, "llmroute_route_timeouts_total", "route", &s->slot[i], extra);
				fprintf(f, "%llu\n", t.timeouts[n]);
			}
}

/* The targets' health: the same numbers fallbacks and pools decide on. */
static void emit_health(FILE *f, const lr_stats_seg *s)
{
	static const char *names[] = {"llmroute_target_failures_in_row", "llmroute_target_cooldown_remaining_seconds",
				      "llmroute_target_latency_moving_average_seconds"};
	static const char *helps[] = {"Failed attempts since the target's last success.",
				      "Seconds until the target's cool-down ends; 0 when it is not cooling down.",
				      "Moving average of the target's durations (1/8 weight to the newest)."};
	long long now = (long long)time(NULL), until;
	char name[LR_STATS_NAME_MAX + 1];
	ctl_totals t;
	uint32_t i;
	int m;

	for (m = 0; m < 3; m++) {
		family(f, names[m], "gauge", helps[m]);
		for (i = 0; i < LR_STATS_SLOTS; i++) {
			const lr_stats_slot *sl = &s->slot[i];
			if (!slot_of(s, i, LR_STATS_TARGET, &t) || (m == 2 && !atomic_load(&sl->ema_us)))
				continue;
			sample(f, names[m], "target", sl, NULL);
			snprintf(name, sizeof(name), "%.*s", (int)strnlen(sl->name, sizeof(sl->name)), sl->name);
			until = lr_stats_down_until(s, name, now);
			if (m == 0)
				fprintf(f, "%llu\n", (unsigned long long)atomic_load(&sl->fails_in_row));
			else if (m == 1)
				fprintf(f, "%lld\n", until ? until - now : 0);
			else
				fprintf(f, "%.6f\n", (double)atomic_load(&sl->ema_us) / 1e6);
		}
	}
}

/* Spend on the current UTC day, what daily budgets compare against; a slot
 * still holding an earlier day has spent nothing today. */
static void emit_spend(FILE *f, const lr_stats_seg *s)
{
	static const char *per[] = {"route", "process", "model"};
	uint64_t today = (uint64_t)time(NULL) / 86400;
	char extra[32];
	ctl_totals t;
	uint32_t i;
	int k;

	family(f, "llmroute_spend_today_usd", "gauge", "Spend on the current UTC day, as daily budgets count it.");
	for (k = LR_STATS_DAY_ROUTE; k <= LR_STATS_DAY_MODEL; k++)
		for (i = 0; i < LR_STATS_SLOTS; i++)
			if (slot_of(s, i, k, &t) && atomic_load(&s->slot[i].day) == today) {
				snprintf(extra, sizeof(extra), ",per=\"%s\"", per[k - LR_STATS_DAY_ROUTE]);
				sample(f, "llmroute_spend_today_usd", "name", &s->slot[i], extra);
				fprintf(f, "%.9f\n", (double)t.cost_nusd / 1e9);
			}
}

static void emit_counters_seg(FILE *f, const lr_stats_seg *s)
{
	int d;

	for (d = 0; d < NDIMS; d++) {
		emit_counters(f, s, d);
		emit_histogram(f, s, d);
	}
	emit_unapplied(f, s);
	emit_unreached(f, s);
	emit_attempts(f, s);
	emit_health(f, s);
	emit_spend(f, s);
	family(f, "llmroute_counters_dropped_total", "counter", "Updates lost because every counter slot was taken.");
	fprintf(f, "llmroute_counters_dropped_total %llu\n", (unsigned long long)atomic_load(&s->dropped));
}

/* The live table: its generation, age and daily budgets. */
static void emit_table(FILE *f)
{
	static const char *per[] = {"", "route", "process", "model"};
	lr_shm sh;
	lr_table *t = NULL;
	size_t len;
	uint64_t gen;
	uint32_t i;
	const char *why = "";

	if (lr_shm_attach(lr_shm_name(), &sh, &why) < 0)
		return;
	if (lr_shm_snapshot(&sh, (void **)&t, &len, &gen) < 0 || !t || lr_table_validate(t, len) < 0) {
		free(t);
		lr_shm_close(&sh);
		return;
	}
	family(f, "llmroute_table_generation", "gauge", "Generation of the live routing table (bumped by each publish).");
	fprintf(f, "llmroute_table_generation %llu\n", (unsigned long long)gen);
	family(f, "llmroute_table_published_timestamp_seconds", "gauge", "Unix time of the live table's last publish.");
	fprintf(f, "llmroute_table_published_timestamp_seconds %llu\n", (unsigned long long)sh.hdr->published_at);
	family(f, "llmroute_table_routes", "gauge", "Routes in the live table.");
	fprintf(f, "llmroute_table_routes %u\n", t->nroutes);
	family(f, "llmroute_route_budget_per_day_usd", "gauge", "A route's daily budget in US dollars.");
	for (i = 0; i < t->nroutes; i++) {
		const lr_route *r = &lr_table_routes(t)[i];
		const char *nm = lr_table_str(t, r->name);
		if (!r->budget_per || r->budget_per > 3)
			continue;
		fputs("llmroute_route_budget_per_day_usd{route=\"", f);
		put_label(f, nm, strlen(nm));
		fprintf(f, "\",per=\"%s\"} %.9f\n", per[r->budget_per], r->budget_usd);
	}
	free(t);
	lr_shm_close(&sh);
}

/* This user's response cache (one per user: the exporter's uid). */
static void emit_cache(FILE *f)
{
	static const char *names[] = {"hits", "misses", "stores", "evictions", "expired", "too_big"};
	char name[300];
	lr_cache *c = NULL;
	lr_cache_stats st;
	const char *why = "";
	unsigned long long v[6];
	unsigned uid = (unsigned)geteuid();
	int i;

	lr_cache_name(lr_shm_name(), name, sizeof(name));
	if (lr_cache_open(name, 0, 0, &c, &why) < 0)
		return;
	i = lr_cache_get_stats(c, (long long)time(NULL), &st);
	lr_cache_close(c);
	if (i < 0)
		return;
	v[0] = st.hits, v[1] = st.misses, v[2] = st.stores, v[3] = st.evictions, v[4] = st.expired, v[5] = st.too_big;
	for (i = 0; i < 6; i++) {
		fprintf(f, "# HELP llmroute_cache_%s_total Response cache %s of this uid's programs.\n", names[i],
			names[i]);
		fprintf(f, "# TYPE llmroute_cache_%s_total counter\n", names[i]);
		fprintf(f, "llmroute_cache_%s_total{uid=\"%u\"} %llu\n", names[i], uid, v[i]);
	}
	family(f, "llmroute_cache_entries", "gauge", "Live entries in this uid's response cache.");
	fprintf(f, "llmroute_cache_entries{uid=\"%u\"} %llu\n", uid, st.entries);
	family(f, "llmroute_cache_used_bytes", "gauge", "Bytes of live entries in this uid's response cache.");
	fprintf(f, "llmroute_cache_used_bytes{uid=\"%u\"} %llu\n", uid, st.used_bytes);
	family(f, "llmroute_cache_capacity_bytes", "gauge", "Size of the data area of this uid's response cache.");
	fprintf(f, "llmroute_cache_capacity_bytes{uid=\"%u\"} %llu\n", uid, st.capacity_bytes);
}

/* Everything, into f.  Missing counters are not an error here: a scrape
 * says so (llmroute_counters_available 0) rather than fail. */
static void emit(FILE *f)
{
	const char *why = "";
	int err;
	lr_stats_seg *s = lr_stats_attach(lr_shm_name(), 0, NULL, &err, &why);

	emit_table(f);
	family(f, "llmroute_counters_available", "gauge", "1 if the live counters segment could be read.");
	fprintf(f, "llmroute_counters_available %d\n", s != NULL);
	if (s) {
		emit_counters_seg(f, s);
		lr_stats_detach(s);
	}
	emit_cache(f);
}

/* Writes the exposition to `path` atomically.  Returns 0, or -1 with a
 * message on stderr. */
static int write_textfile(const char *path)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, bad;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
		fprintf(stderr, "llmroutectl: %s: name too long\n", path);
		return -1;
	}
	if ((fd = mkstemp(tmp)) < 0 || fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "llmroutectl: %s: %s\n", fd < 0 ? tmp : path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return -1;
	}
	emit(f);
	bad = fflush(f) != 0 || ferror(f);
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) < 0) {
		fprintf(stderr, "llmroutectl: %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void catch_stop(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: the sleep ends at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static int textfile_loop(const char *path, long interval)
{
	struct timespec ts;

	catch_stop();
	while (!stop) {
		write_textfile(path); /* a failed write is logged; the next may work */
		ts.tv_sec = interval;
		ts.tv_nsec = 0;
		while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return EX_DONE;
}

int ctl_stats_prom(int argc, char **argv, const char *usage)
{
	const char *textfile = NULL;
	long interval = 0;
	char *end;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--prometheus"))
			continue;
		if (!strcmp(argv[i], "--textfile") && i + 1 < argc) {
			textfile = argv[++i];
		} else if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
			interval = strtol(argv[++i], &end, 10);
			if (*end || end == argv[i] || interval < 1 || interval > 86400)
				ctl_die(EX_USAGE, "stats: --interval: seconds from 1 to 86400");
		} else {
			fputs(usage, ctl_is_help(argv[i]) ? stdout : stderr);
			return ctl_is_help(argv[i]) ? EX_DONE : EX_USAGE;
		}
	}
	if (interval && !textfile)
		ctl_die(EX_USAGE, "stats: --interval needs --textfile FILE");
	if (!textfile) {
		emit(stdout);
		return fflush(stdout) == 0 && !ferror(stdout) ? EX_DONE : EX_SYSTEM;
	}
	if (interval)
		return textfile_loop(textfile, interval);
	return write_textfile(textfile) == 0 ? EX_DONE : EX_SYSTEM;
}
