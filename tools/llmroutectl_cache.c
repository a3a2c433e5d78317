/*
 * llmroutectl_cache.c - `llmroutectl cache`: counters of the response cache
 * that every shim process of this user shares (router/lr_cache.h), and
 * emptying it.  The segment belongs to the user: no cache yet is a normal
 * state, reported with zero counts, not an error.
 */
#include "llmroutectl.h"
#include "llmroutectl_cache.h"
#include "lr_cache.h"
#include "lr_error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char cache_usage[] =
	"usage: llmroutectl cache stats [--json]\n"
	"       llmroutectl cache clear [--remove]\n"
	"  stats: size, use, hits and misses of this user's response cache,\n"
	"  summed over every process since it was created or cleared.\n"
	"  clear: drops every answer and zeroes the counters; --remove also\n"
	"  deletes the segment (use it on a damaged or foreign one).\n";

static double hit_ratio(const lr_cache_stats *s)
{
	unsigned long long n = s->hits + s->misses;

	return n ? (double)s->hits / (double)n : 0.0;
}

/* Opens the cache read-write (the lock lives in it).  Returns NULL when
 * there is none; dies on anything else. */
static lr_cache *open_cache(const char *name)
{
	lr_cache *c = NULL;
	const char *why = "";
	int rc = lr_cache_open(name, 0, 0, &c, &why);

	if (rc == LR_ENOTFOUND)
		return NULL;
	if (rc < 0)
		ctl_die(EX_SYSTEM, "cache: %s: %s (%s)%s", name, lr_strerror(rc), why,
			rc == LR_EVERSION || rc == LR_EBUSY ? "; `llmroutectl cache clear --remove` deletes it" : "");
	return c;
}

static void print_json(const char *name, int exists, const lr_cache_stats *s)
{
	cJSON *o = cJSON_CreateObject();
	char *out;

	cJSON_AddStringToObject(o, "segment", name);
	cJSON_AddBoolToObject(o, "exists", exists);
	cJSON_AddNumberToObject(o, "capacity_bytes", (double)s->capacity_bytes);
	cJSON_AddNumberToObject(o, "used_bytes", (double)s->used_bytes);
	cJSON_AddNumberToObject(o, "entries", (double)s->entries);
	cJSON_AddNumberToObject(o, "hits", (double)s->hits);
	cJSON_AddNumberToObject(o, "misses", (double)s->misses);
	cJSON_AddNumberToObject(o, "hit_ratio", hit_ratio(s));
	cJSON_AddNumberToObject(o, "stores", (double)s->stores);
	cJSON_AddNumberToObject(o, "evictions", (double)s->evictions);
	cJSON_AddNumberToObject(o, "too_big", (double)s->too_big);
	cJSON_AddNumberToObject(o, "expired", (double)s->expired);
	out = cJSON_Print(o);
	if (!out)
		ctl_die(EX_SYSTEM, "out of memory");
	puts(out);
	free(out);
	cJSON_Delete(o);
}

static void print_text(const char *name, const lr_cache_stats *s)
{
	printf("cache      %s\n", name);
	printf("capacity   %llu bytes (%.1f MiB)\n", s->capacity_bytes, (double)s->capacity_bytes / 1048576.0);
	printf("used       %llu bytes (%.1f%%)\n", s->used_bytes,
	       s->capacity_bytes ? 100.0 * (double)s->used_bytes / (double)s->capacity_bytes : 0.0);
	printf("entries    %llu\n", s->entries);
	printf("hits       %llu\n", s->hits);
	printf("misses     %llu\n", s->misses);
	if (s->hits + s->misses)
		printf("hit ratio  %.1f%%\n", 100.0 * hit_ratio(s));
	else
		printf("hit ratio  - (no lookups yet)\n");
	printf("stores     %llu\n", s->stores);
	printf("evictions  %llu\n", s->evictions);
	printf("too_big    %llu\n", s->too_big);
	printf("expired    %llu\n", s->expired);
}

static int cache_stats(const char *name, int json)
{
	lr_cache_stats s;
	lr_cache *c = open_cache(name);
	int rc;

	memset(&s, 0, sizeof(s));
	if (c) {
		rc = lr_cache_get_stats(c, (long long)time(NULL), &s);
		lr_cache_close(c);
		if (rc < 0)
			ctl_die(EX_SYSTEM, "cache: %s: %s", name, lr_strerror(rc));
	}
	if (json) {
		print_json(name, c != NULL, &s);
	} else {
		if (!c)
			printf("no cache yet for this user (%s); all counts are zero\n", name);
		print_text(name, &s);
	}
	return EX_DONE;
}

static int cache_clear(const char *name, int remove)
{
	lr_cache *c;
	int rc;

	if (remove) {
		/* no open: a foreign or half-built segment must be removable too */
		rc = lr_cache_unlink(name);
		if (rc == LR_ENOTFOUND)
			printf("no cache at %s: nothing to remove\n", name);
		else if (rc < 0)
			ctl_die(EX_SYSTEM, "cache: %s: cannot remove it", name);
		else
			printf("cache at %s removed\n", name);
		return EX_DONE;
	}
	c = open_cache(name);
	if (!c) {
		printf("no cache at %s: nothing to clear\n", name);
		return EX_DONE;
	}
	rc = lr_cache_clear(c);
	lr_cache_close(c);
	if (rc < 0)
		ctl_die(EX_SYSTEM, "cache: %s: %s", name, lr_strerror(rc));
	printf("cache at %s cleared\n", name);
	return EX_DONE;
}

int ctl_cache(int argc, char **argv)
{
	char name[300];
	int json = 0, remove = 0, i;
	const char *verb = argc > 1 ? argv[1] : "";

	if (ctl_is_help(verb)) {
		fputs(cache_usage, stdout);
		return EX_DONE;
	}
	for (i = 2; i < argc; i++) {
		if (!strcmp(verb, "stats") && !strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(verb, "clear") && !strcmp(argv[i], "--remove"))
			remove = 1;
		else {
			fputs(cache_usage, ctl_is_help(argv[i]) ? stdout : stderr);
			return ctl_is_help(argv[i]) ? EX_DONE : EX_USAGE;
		}
	}
	lr_cache_name(lr_shm_name(), name, sizeof(name));
	if (!strcmp(verb, "stats"))
		return cache_stats(name, json);
	if (!strcmp(verb, "clear"))
		return cache_clear(name, remove);
	fputs(cache_usage, stderr);
	return EX_USAGE;
}
