/*
 * llmroutectl_route.c - `llmroutectl route add|del|enable|disable`.
 *
 * An edit is: take the writer lock, read the live rules (canonical JSON
 * stored with the table), change them as cJSON, compile the whole result,
 * publish, release.  The lock makes concurrent edits serial, so none is
 * lost; compiling before publishing means a bad edit changes nothing.
 */
#include "llmroutectl.h"
#include "lr_error.h"
#include "lr_table.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ctl_open_writer(lr_shm *w, int reinit);

static const char route_usage[] =
	"usage: llmroutectl route add NAME [--match KEY=GLOB]... [--set KEY=VALUE]...\n"
	"                 [--deny MESSAGE] [--description TEXT] [--json ROUTE]\n"
	"                 [--disabled] [--first | --before NAME]\n"
	"       llmroutectl route del NAME\n"
	"       llmroutectl route enable NAME\n"
	"       llmroutectl route disable NAME\n"
	"  match keys: model host operation provider process (globs)\n"
	"  set keys:   model endpoint api_key_env keep_credentials=true|false\n"
	"  --json takes a whole route object, e.g. '{\"match\":{\"model\":\"o1*\"},\"deny\":\"no\"}'\n"
	"  new routes go last (first match wins) unless --first or --before\n";

/* The live rules as cJSON, or a fresh {"routes": []}. */
cJSON *ctl_live_rules(const lr_shm *w)
{
	size_t len;
	uint64_t gen;
	lr_table *t = ctl_snapshot(w, &len, &gen);
	cJSON *root;

	if (!t)
		return cJSON_Parse("{\"routes\": []}");
	root = cJSON_Parse(lr_table_str(t, t->source));
	free(t);
	if (!root)
		ctl_die(EX_SYSTEM, "the live table's stored rules do not parse; load a file again");
	return root;
}

static int route_index(cJSON *routes, const char *name)
{
	int i = 0;
	cJSON *r;

	cJSON_ArrayForEach(r, routes) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "name"));
		if (n && strcmp(n, name) == 0)
			return i;
		i++;
	}
	return -1;
}

void ctl_commit(lr_shm *w, cJSON *root, const char *what)
{
	char *text = cJSON_Print(root);
	size_t blen;
	void *blob;
	uint64_t gen;

	lr_rules_error e;

	if (!text)
		ctl_die(EX_SYSTEM, "out of memory");
	/* The text is ours, not the user's: name the route path, not a line. */
	if (lr_rules_compile(text, strlen(text), &blob, &blen, &e) < 0)
		ctl_die(EX_INVALID, "%s: %s%s%s", what, e.path, e.path[0] ? ": " : "", e.msg);
	if (lr_shm_publish(w, blob, blen, &gen) < 0)
		ctl_die(EX_INVALID, "the table is too big to publish");
	printf("published %s generation %llu\n", lr_shm_name(), (unsigned long long)gen);
	ctl_ensure_stats();
	free(blob);
	free(text);
}

/* KEY=VALUE into obj; "true"/"false" become booleans for keep_credentials. */
static void put_kv(cJSON *obj, const char *kv, const char *flag)
{
	const char *eq = strchr(kv, '=');
	char key[64];

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
		ctl_die(EX_USAGE, "%s wants KEY=VALUE, got \"%s\"", flag, kv);
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = '\0';
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	if (strcmp(key, "keep_credentials") == 0 && (!strcmp(eq + 1, "true") || !strcmp(eq + 1, "false")))
		cJSON_AddBoolToObject(obj, key, strcmp(eq + 1, "true") == 0);
	else
		cJSON_AddStringToObject(obj, key, eq + 1);
}

static cJSON *sub(cJSON *o, const char *key)
{
	cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);

	return s ? s : cJSON_AddObjectToObject(o, key);
}

/* A copy of object r with "name" as its first key, for a readable show. */
static cJSON *with_name_first(cJSON *r, const char *name)
{
	cJSON *o = cJSON_CreateObject(), *c;

	cJSON_AddStringToObject(o, "name", name);
	while ((c = r->child) != NULL)
		cJSON_AddItemToObject(o, c->string, cJSON_DetachItemViaPointer(r, c));
	cJSON_Delete(r);
	return o;
}

typedef struct {
	int first;
	const char *before;
} placement;

static cJSON *route_from_args(int argc, char **argv, placement *pl)
{
	cJSON *r = cJSON_CreateObject();
	int i;

	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--disabled")) {
			cJSON_AddFalseToObject(r, "enabled");
			continue;
		}
		if (!strcmp(a, "--first")) {
			pl->first = 1;
			continue;
		}
		if (!v)
			ctl_die(EX_USAGE, "%s needs a value\n%s", a, route_usage);
		i++;
		if (!strcmp(a, "--match")) {
			put_kv(sub(r, "match"), v, a);
		} else if (!strcmp(a, "--set")) {
			put_kv(sub(r, "set"), v, a);
		} else if (!strcmp(a, "--deny")) {
			cJSON_AddStringToObject(r, "deny", v);
		} else if (!strcmp(a, "--description")) {
			cJSON_AddStringToObject(r, "description", v);
		} else if (!strcmp(a, "--before")) {
			pl->before = v;
		} else if (!strcmp(a, "--json")) {
			cJSON_Delete(r);
			r = cJSON_Parse(v);
			if (!cJSON_IsObject(r))
				ctl_die(EX_INVALID, "--json: not a JSON object: %s", v);
		} else {
			ctl_die(EX_USAGE, "unknown option %s\n%s", a, route_usage);
		}
	}
	/* The NAME argument is the route's name; a --json name must agree. */
	cJSON *n = cJSON_GetObjectItemCaseSensitive(r, "name");
	if (n && (!cJSON_IsString(n) || strcmp(n->valuestring, argv[1]) != 0))
		ctl_die(EX_INVALID, "--json names the route \"%s\", the argument \"%s\"",
			cJSON_IsString(n) ? n->valuestring : "?", argv[1]);
	if (!n)
		r = with_name_first(r, argv[1]);
	return r;
}

/* cJSON 1.7.15 (Debian 12) loses items inserted in the middle of an array
 * with cJSON_InsertItemInArray, so rebuild the list in order instead. */
static void insert_at(cJSON *arr, int at, cJSON *item)
{
	cJSON *tmp = cJSON_CreateArray(), *c;
	int i = 0;

	while ((c = arr->child) != NULL) {
		if (i++ == at)
			cJSON_AddItemToArray(tmp, item);
		cJSON_AddItemToArray(tmp, cJSON_DetachItemViaPointer(arr, c));
	}
	if (i <= at)
		cJSON_AddItemToArray(tmp, item);
	while ((c = tmp->child) != NULL)
		cJSON_AddItemToArray(arr, cJSON_DetachItemViaPointer(tmp, c));
	cJSON_Delete(tmp);
}

static int route_add(lr_shm *w, cJSON *root, int argc, char **argv)
{
	cJSON *routes = cJSON_GetObjectItemCaseSensitive(root, "routes");
	placement pl = {0};
	cJSON *r = route_from_args(argc, argv, &pl);
	int at;

	if (route_index(routes, argv[1]) >= 0)
		ctl_die(EX_INVALID, "a route named \"%s\" exists already", argv[1]);
	if (pl.before) {
		at = route_index(routes, pl.before);
		if (at < 0)
			ctl_die(EX_NOTFOUND, "--before: no route named \"%s\"", pl.before);
		insert_at(routes, at, r);
	} else if (pl.first) {
		insert_at(routes, 0, r);
	} else {
		cJSON_AddItemToArray(routes, r);
	}
	ctl_commit(w, root, "route");
	return EX_DONE;
}

static int route_change(lr_shm *w, cJSON *root, const char *verb, const char *name)
{
	cJSON *routes = cJSON_GetObjectItemCaseSensitive(root, "routes");
	int at = route_index(routes, name);
	cJSON *r;

	if (at < 0)
		ctl_die(EX_NOTFOUND, "no route named \"%s\"", name);
	if (!strcmp(verb, "del")) {
		cJSON_DeleteItemFromArray(routes, at);
	} else {
		r = cJSON_GetArrayItem(routes, at);
		cJSON_DeleteItemFromObjectCaseSensitive(r, "enabled");
		if (!strcmp(verb, "disable"))
			cJSON_AddFalseToObject(r, "enabled");
	}
	ctl_commit(w, root, "route");
	return EX_DONE;
}

int ctl_route(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "";
	int is_add = !strcmp(verb, "add"), rc;
	lr_shm w;
	cJSON *root;

	if (argc < 3 || ctl_is_help(argv[1]) || ctl_is_help(argv[2]) ||
	    (!is_add && argc != 3) ||
	    (!is_add && strcmp(verb, "del") && strcmp(verb, "enable") && strcmp(verb, "disable"))) {
		fputs(route_usage, stderr);
		return (argc > 1 && (ctl_is_help(argv[1]) || (argc > 2 && ctl_is_help(argv[2])))) ? EX_DONE : EX_USAGE;
	}
	ctl_open_writer(&w, 0);
	root = ctl_live_rules(&w);
	rc = is_add ? route_add(&w, root, argc - 1, argv + 1)
		    : route_change(&w, root, verb, argv[2]);
	cJSON_Delete(root);
	lr_shm_close(&w);
	return rc;
}
