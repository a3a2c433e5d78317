/*
 * llmroutectl_stats.c - `llmroutectl stats`: the live counters that every
 * shim process adds to (router/lr_stats.h), per route and per model.
 */
#include "llmroutectl.h"
#include "llmroutectl_stats.h"
#include "lr_error.h"
#include "lr_stats.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char stats_usage[] =
	"usage: llmroutectl stats [--json] [--reset]\n"
	"       llmroutectl stats --fleet\n"
	"       llmroutectl stats --prometheus [--textfile FILE [--interval S]]\n"
	"  requests, errors, tokens in and out, cost and mean latency per route\n"
	"  and per model, summed over every process since the last reset.\n"
	"  ROUTE (NOT APPLIED): requests a route matched but the transport could not\n"
	"  route (sent as the app made it; see the audit's llmroute.not_applied),\n"
	"  counted apart from the route's routed requests.\n"
	"  ATTEMPTS: per route, the attempts its resilient requests made by kind\n"
	"  (retry, fallback, context, escalation, ...: the audit's llmroute.via) and\n"
	"  those our time-outs ended (first_byte, ...).\n"
	"  --reset zeroes them.\n"
	"  --fleet: the fleet budgets (spent of limit today) and the targets'\n"
	"  shared cool-downs, read from the rules' \"fleet\" Redis.\n"
	"  --prometheus: the Prometheus text format; --textfile FILE writes it to\n"
	"  FILE atomically (node_exporter's textfile collector), every S seconds\n"
	"  with --interval until SIGTERM or SIGINT.\n";

typedef ctl_totals totals;

int ctl_stats_gather(const lr_stats_seg *s, uint32_t i, ctl_totals *t)
{
	const lr_stats_slot *a = &s->slot[i];
	uint32_t k;
	int n;

	memset(t, 0, sizeof(*t));
	for (k = 0; k < LR_STATS_SLOTS; k++) {
		const lr_stats_slot *b = &s->slot[k];
		if (atomic_load(&b->state) != 2 || b->kind != a->kind ||
		    strncmp(b->name, a->name, sizeof(a->name)) != 0)
			continue;
		if (k < i)
			return 0;
		t->requests += atomic_load(&b->requests);
		t->errors += atomic_load(&b->errors);
		t->in += atomic_load(&b->input_tokens);
		t->out += atomic_load(&b->output_tokens);
		t->cost_nusd += atomic_load(&b->cost_nusd);
		t->latency_us += atomic_load(&b->latency_us);
		for (n = 0; n < LR_STATS_LAT_BUCKETS; n++)
			t->bucket[n] += atomic_load(&b->latency_bucket[n]);
		for (n = 0; n < LR_STATS_VIAS; n++)
			t->via[n] += atomic_load(&b->via[n]);
		for (n = 0; n < LR_STATS_TIMEOUTS; n++)
			t->timeouts[n] += atomic_load(&b->timeouts[n]);
	}
	return 1;
}

static int any_attempts(const totals *t)
{
	int n;

	for (n = 1; n < LR_STATS_VIAS; n++)
		if (t->via[n])
			return 1;
	for (n = 1; n < LR_STATS_TIMEOUTS; n++)
		if (t->timeouts[n])
			return 1;
	return 0;
}

/* What the attempts of each route's resilient requests did: one column
 * per kind (the audit's llmroute.via), then our time-outs. */
static void print_attempts(const lr_stats_seg *s)
{
	uint32_t i;
	int any = 0, n;

	for (i = 0; i < LR_STATS_SLOTS; i++) {
		const lr_stats_slot *sl = &s->slot[i];
		totals t;
		if (atomic_load(&sl->state) != 2 || sl->kind != LR_STATS_ROUTE || !ctl_stats_gather(s, i, &t) ||
		    !any_attempts(&t))
			continue;
		if (!any++) {
			printf("%-28s", "ATTEMPTS (route)");
			for (n = 1; lr_stats_via_name(n); n++)
				printf(" %s", lr_stats_via_name(n));
			for (n = 1; lr_stats_timeout_name(n); n++)
				printf(" timeout:%s", lr_stats_timeout_name(n));
			putchar('\n');
		}
		printf("%-28.*s", (int)strnlen(sl->name, sizeof(sl->name)), sl->name);
		for (n = 1; lr_stats_via_name(n); n++)
			printf(" %*llu", (int)strlen(lr_stats_via_name(n)), t.via[n]);
		for (n = 1; lr_stats_timeout_name(n); n++)
			printf(" %*llu", (int)strlen(lr_stats_timeout_name(n)) + 8, t.timeouts[n]);
		putchar('\n');
	}
	if (any)
		putchar('\n');
}

static int is_day(int kind)
{
	return kind >= LR_STATS_DAY_ROUTE && kind <= LR_STATS_DAY_MODEL;
}

static void print_kind(const lr_stats_seg *s, int kind, const char *title)
{
	uint32_t i;
	int any = 0;

	for (i = 0; i < LR_STATS_SLOTS; i++) {
		const lr_stats_slot *sl = &s->slot[i];
		totals t;
		if (atomic_load(&sl->state) != 2 || sl->kind != (uint32_t)kind || !ctl_stats_gather(s, i, &t))
			continue;
		if (!any++)
			printf("%-28s %9s %7s %12s %12s %12s %10s\n", title, "REQUESTS", "ERRORS",
			       "TOKENS_IN", "TOKENS_OUT", "COST_USD", "MEAN_MS");
		if (is_day(kind)) { /* name@day */
			char nm[LR_STATS_NAME_MAX + 16], day[16];
			snprintf(nm, sizeof(nm), "%.*s@%s", (int)strnlen(sl->name, sizeof(sl->name)), sl->name,
				 lr_stats_day_str(atomic_load(&sl->day), day, sizeof(day)));
			printf("%-28s %9llu %7llu %12llu %12llu %12.6f %10.1f\n", nm, t.requests, t.errors, t.in,
			       t.out, (double)t.cost_nusd / 1e9,
			       t.requests ? (double)t.latency_us / 1e3 / (double)t.requests : 0.0);
			continue;
		}
		printf("%-28.*s %9llu %7llu %12llu %12llu %12.6f %10.1f\n",
		       (int)strnlen(sl->name, sizeof(sl->name)), sl->name, t.requests,
		       t.errors, t.in, t.out, (double)t.cost_nusd / 1e9,
		       t.requests ? (double)t.latency_us / 1e3 / (double)t.requests : 0.0);
	}
	if (!any)
		printf("%s: nothing counted yet\n", title);
}

/* Routes matched but not applied: only when there are some. */
static void print_unapplied(const lr_stats_seg *s)
{
	uint32_t i;

	for (i = 0; i < LR_STATS_SLOTS; i++)
		if (atomic_load(&s->slot[i].state) == 2 && s->slot[i].kind == LR_STATS_UNAPPLIED)
			break;
	if (i == LR_STATS_SLOTS)
		return;
	print_kind(s, LR_STATS_UNAPPLIED, "ROUTE (NOT APPLIED)");
	putchar('\n');
}

/* TLS to LLM hosts the shim could not see into: only when there is some. */
static void print_unreached(const lr_stats_seg *s)
{
	uint32_t i;
	int any = 0;

	for (i = 0; i < LR_STATS_SLOTS; i++) {
		const lr_stats_slot *x = &s->slot[i];
		if (atomic_load(&x->state) != 2 || x->kind != LR_STATS_UNREACHED || !atomic_load(&x->requests))
			continue; /* (a reset leaves the slot, at 0) */
		if (!any++)
			printf("UNREACHED (TLS the shim does not hook: not routed, denied or audited)\n%-40s %10s\n",
			       "HOST", "CONNS");
		printf("%-40.*s %10llu\n", LR_STATS_NAME_MAX, x->name, (unsigned long long)atomic_load(&x->requests));
	}
	if (any)
		putchar('\n');
}

/* Targets that failed lately: their run of failures and cool-down. */
static void print_health(const lr_stats_seg *s)
{
	long long now = (long long)time(NULL), until;
	uint32_t i;
	int any = 0;

	for (i = 0; i < LR_STATS_SLOTS; i++) {
		const lr_stats_slot *sl = &s->slot[i];
		char name[LR_STATS_NAME_MAX + 1];
		unsigned long long row;
		if (atomic_load(&sl->state) != 2 || sl->kind != LR_STATS_TARGET)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)strnlen(sl->name, sizeof(sl->name)), sl->name);
		row = atomic_load(&sl->fails_in_row);
		until = lr_stats_down_until(s, name, now);
		if (!row && !until)
			continue;
		if (!any++)
			printf("HEALTH (fallbacks)\n");
		printf("%-28s %llu failure%s in a row%s", name, row, row == 1 ? "" : "s", until ? ", cooling down for " : "\n");
		if (until)
			printf("%lld s more\n", until - now);
	}
	if (any)
		putchar('\n');
}

static cJSON *json_kind(const lr_stats_seg *s, int kind)
{
	char name[LR_STATS_NAME_MAX + 1];
	cJSON *a = cJSON_CreateArray();
	uint32_t i;

	for (i = 0; i < LR_STATS_SLOTS; i++) {
		const lr_stats_slot *sl = &s->slot[i];
		totals t;
		cJSON *o;
		if (atomic_load(&sl->state) != 2 || sl->kind != (uint32_t)kind || !ctl_stats_gather(s, i, &t))
			continue;
		o = cJSON_CreateObject();
		/* any user can write the segment: never trust its NUL */
		snprintf(name, sizeof(name), "%.*s", (int)strnlen(sl->name, sizeof(sl->name)), sl->name);
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddNumberToObject(o, "requests", (double)t.requests);
		cJSON_AddNumberToObject(o, "errors", (double)t.errors);
		cJSON_AddNumberToObject(o, "input_tokens", (double)t.in);
		cJSON_AddNumberToObject(o, "output_tokens", (double)t.out);
		cJSON_AddNumberToObject(o, "cost_usd", (double)t.cost_nusd / 1e9);
		cJSON_AddNumberToObject(o, "latency_ms_sum", (double)t.latency_us / 1e3);
		if (kind == LR_STATS_ROUTE) { /* what the attempts did, by the audit's llmroute.via */
			cJSON *at = cJSON_CreateObject(), *to = cJSON_CreateObject();
			int n;
			for (n = 1; lr_stats_via_name(n); n++)
				cJSON_AddNumberToObject(at, lr_stats_via_name(n), (double)t.via[n]);
			for (n = 1; lr_stats_timeout_name(n); n++)
				cJSON_AddNumberToObject(to, lr_stats_timeout_name(n), (double)t.timeouts[n]);
			cJSON_AddItemToObject(o, "attempts", at);
			cJSON_AddItemToObject(o, "timeouts", to);
		}
		if (kind == LR_STATS_TARGET) {
			long long until = lr_stats_down_until(s, name, (long long)time(NULL));
			cJSON_AddNumberToObject(o, "latency_ms_moving_average",
						(double)atomic_load(&sl->ema_us) / 1e3);
			cJSON_AddNumberToObject(o, "failures_in_row", (double)atomic_load(&sl->fails_in_row));
			if (until)
				cJSON_AddNumberToObject(o, "cooling_down_until", (double)until);
			else
				cJSON_AddNullToObject(o, "cooling_down_until");
		}
		if (is_day(kind)) {
			char day[16];
			cJSON_AddStringToObject(o, "per", kind == LR_STATS_DAY_ROUTE ? "route" :
						kind == LR_STATS_DAY_PROCESS ? "process" : "model");
			cJSON_AddStringToObject(o, "day", lr_stats_day_str(atomic_load(&sl->day), day, sizeof(day)));
		}
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

int ctl_stats(int argc, char **argv)
{
	int json = 0, reset = 0, i, k;
	cJSON *spend;
	const char *why = "";
	lr_stats_seg *s;
	int err;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--prometheus"))
			return ctl_stats_prom(argc, argv, stats_usage);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--fleet"))
			return ctl_stats_fleet();
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--reset"))
			reset = 1;
		else {
			fputs(stats_usage, ctl_is_help(argv[i]) ? stdout : stderr);
			return ctl_is_help(argv[i]) ? EX_DONE : EX_USAGE;
		}
	}
	s = lr_stats_attach(lr_shm_name(), reset, NULL, &err, &why);
	if (!s)
		ctl_die(err == LR_ENOTFOUND ? EX_NOTFOUND : EX_SYSTEM,
			"no usable counters for %s at key 0x%08x (%s); `llmroutectl load` makes or mends them",
			lr_shm_name(), (unsigned)lr_stats_key(lr_shm_name()), why);
	if (reset) {
		lr_stats_reset(s);
		printf("counters of %s reset\n", lr_shm_name());
		return EX_DONE;
	}
	if (json) {
		cJSON *o = cJSON_CreateObject();
		char *out, key[16];
		snprintf(key, sizeof(key), "0x%08x", (unsigned)lr_stats_key(lr_shm_name()));
		cJSON_AddStringToObject(o, "key", key); /* System V key: ipcs -m */
		cJSON_AddItemToObject(o, "routes", json_kind(s, LR_STATS_ROUTE));
		cJSON_AddItemToObject(o, "not_applied", json_kind(s, LR_STATS_UNAPPLIED));
		cJSON_AddItemToObject(o, "unreached", json_kind(s, LR_STATS_UNREACHED));
		cJSON_AddItemToObject(o, "models", json_kind(s, LR_STATS_MODEL));
		cJSON_AddItemToObject(o, "targets", json_kind(s, LR_STATS_TARGET));
		spend = cJSON_CreateArray();
		for (k = LR_STATS_DAY_ROUTE; k <= LR_STATS_DAY_MODEL; k++) {
			cJSON *part = json_kind(s, k), *x;
			while ((x = cJSON_DetachItemFromArray(part, 0)))
				cJSON_AddItemToArray(spend, x);
			cJSON_Delete(part);
		}
		cJSON_AddItemToObject(o, "spend_today", spend);
		cJSON_AddNumberToObject(o, "dropped", (double)atomic_load(&s->dropped));
		out = cJSON_Print(o);
		if (out)
			puts(out);
		free(out);
		cJSON_Delete(o);
		return EX_DONE;
	}
	print_kind(s, LR_STATS_ROUTE, "ROUTE");
	putchar('\n');
	print_attempts(s);
	print_unapplied(s);
	print_unreached(s);
	print_kind(s, LR_STATS_MODEL, "MODEL");
	putchar('\n');
	print_kind(s, LR_STATS_TARGET, "TARGET");
	putchar('\n');
	print_health(s);
	print_kind(s, LR_STATS_DAY_ROUTE, "ROUTE@DAY (budgets)");
	putchar('\n');
	print_kind(s, LR_STATS_DAY_PROCESS, "PROCESS@DAY (budgets)");
	putchar('\n');
	print_kind(s, LR_STATS_DAY_MODEL, "MODEL@DAY (budgets)");
	return EX_DONE;
}
