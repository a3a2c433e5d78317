/*
 * llmroutectl_stats.c - `llmroutectl stats`: the live counters that every
 * shim process adds to (router/lr_stats.h), per route and per model.
 */
#include "llmroutectl.h"
#include "lr_stats.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char stats_usage[] =
	"usage: llmroutectl stats [--json] [--reset]\n"
	"  requests, errors, tokens in and out, cost and mean latency per route\n"
	"  and per model, summed over every process since the last reset.\n"
	"  --reset zeroes them.\n";

static void print_kind(const lr_stats_seg *s, int kind, const char *title)
{
	uint32_t i;
	int any = 0;

	for (i = 0; i < LR_STATS_SLOTS; i++) {
		const lr_stats_slot *sl = &s->slot[i];
		unsigned long long req = atomic_load(&sl->requests);
		if (atomic_load(&sl->state) != 2 || sl->kind != (uint32_t)kind)
			continue;
		if (!any++)
			printf("%-28s %9s %7s %12s %12s %12s %10s\n", title, "REQUESTS", "ERRORS",
			       "TOKENS_IN", "TOKENS_OUT", "COST_USD", "MEAN_MS");
		printf("%-28.28s %9llu %7llu %12llu %12llu %12.6f %10.1f\n", sl->name, req,
		       (unsigned long long)atomic_load(&sl->errors),
		       (unsigned long long)atomic_load(&sl->input_tokens),
		       (unsigned long long)atomic_load(&sl->output_tokens),
		       (double)atomic_load(&sl->cost_nusd) / 1e9,
		       req ? (double)atomic_load(&sl->latency_us) / 1e3 / (double)req : 0.0);
	}
	if (!any)
		printf("%s: nothing counted yet\n", title);
}

static cJSON *json_kind(const lr_stats_seg *s, int kind)
{
	cJSON *a = cJSON_CreateArray();
	uint32_t i;

	for (i = 0; i < LR_STATS_SLOTS; i++) {
		const lr_stats_slot *sl = &s->slot[i];
		cJSON *o;
		if (atomic_load(&sl->state) != 2 || sl->kind != (uint32_t)kind)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", sl->name);
		cJSON_AddNumberToObject(o, "requests", (double)atomic_load(&sl->requests));
		cJSON_AddNumberToObject(o, "errors", (double)atomic_load(&sl->errors));
		cJSON_AddNumberToObject(o, "input_tokens", (double)atomic_load(&sl->input_tokens));
		cJSON_AddNumberToObject(o, "output_tokens", (double)atomic_load(&sl->output_tokens));
		cJSON_AddNumberToObject(o, "cost_usd", (double)atomic_load(&sl->cost_nusd) / 1e9);
		cJSON_AddNumberToObject(o, "latency_ms_sum", (double)atomic_load(&sl->latency_us) / 1e3);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

int ctl_stats(int argc, char **argv)
{
	int json = 0, reset = 0, i;
	char name[300];
	const char *why = "";
	lr_stats_seg *s;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--reset"))
			reset = 1;
		else {
			fputs(stats_usage, ctl_is_help(argv[i]) ? stdout : stderr);
			return ctl_is_help(argv[i]) ? EX_DONE : EX_USAGE;
		}
	}
	lr_stats_name(lr_shm_name(), name, sizeof(name));
	s = lr_stats_open(name, 0, reset, &why);
	if (!s)
		ctl_die(EX_NOTFOUND, "no counters at %s (%s); `llmroutectl load` creates them", name, why);
	if (reset) {
		lr_stats_reset(s);
		printf("counters at %s reset\n", name);
		return EX_DONE;
	}
	if (json) {
		cJSON *o = cJSON_CreateObject();
		char *out;
		cJSON_AddItemToObject(o, "routes", json_kind(s, LR_STATS_ROUTE));
		cJSON_AddItemToObject(o, "models", json_kind(s, LR_STATS_MODEL));
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
	print_kind(s, LR_STATS_MODEL, "MODEL");
	return EX_DONE;
}
