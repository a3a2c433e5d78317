/*
 * llmroutectl_prices.c - `llmroutectl prices`: the price catalogue.
 *
 *   prices import FILE   makes FILE (LiteLLM's price catalogue format) the
 *                        live table's prices_file and publishes the table,
 *                        as `load` would; nothing changes unless FILE and the
 *                        whole new table are valid
 *   prices show MODEL... the price each model gets, and where it comes from
 *
 * The import names the file, it does not copy it into the rules: the live
 * rules keep "prices_file": ABSOLUTE-PATH, so `show --json` says where the
 * prices came from and a later edit (route add, ...) reads the file again.
 */
#include "llmroutectl.h"
#include "lr_catalog.h"
#include "lr_error.h"
#include "lr_glob.h"
#include "lr_price.h"
#include "lr_table.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char prices_usage[] =
	"usage: llmroutectl prices import FILE | prices show MODEL...\n"
	"  import FILE  publish the live table with FILE as its price catalogue\n"
	"               (\"prices_file\": LiteLLM's model_prices_and_context_window.json\n"
	"               format); the live table is unchanged if FILE is invalid\n"
	"  show MODEL   the price each MODEL gets from the live table, and its source\n"
	"               (the rules' prices, the catalogue, or the built-in list)\n";

static int prices_import(const char *file)
{
	char path[PATH_MAX], msg[256];
	lr_catalog cat;
	lr_shm w;
	cJSON *root;
	int rc;

	if (!realpath(file, path))
		ctl_die(EX_INVALID, "%s: cannot resolve the path", file);
	/* checked before the segment is touched, with the catalogue's own words */
	if ((rc = lr_catalog_load(path, &cat, msg, sizeof(msg))) < 0)
		ctl_die(rc == LR_ENOMEM ? EX_SYSTEM : EX_INVALID, "%s: %s", file, msg);
	ctl_open_writer(&w, 0);
	root = ctl_live_rules(&w);
	cJSON_DeleteItemFromObjectCaseSensitive(root, "prices_file");
	if (!cJSON_AddStringToObject(root, "prices_file", path))
		ctl_die(EX_SYSTEM, "out of memory");
	ctl_commit(&w, root, "prices import");
	printf("prices from %s: %zu models, %zu entries without a token price skipped\n", path, cat.n,
	       cat.skipped);
	cJSON_Delete(root);
	lr_shm_close(&w);
	lr_catalog_free(&cat);
	return EX_DONE;
}

/* Where model's price comes from in t, as lr_price_lookup looks. */
static void source_of(const lr_table *t, const char *model, char *out, size_t cap)
{
	size_t i, n, len = strlen(model);
	const lr_price_entry *b = lr_price_builtin(&n);

	for (i = 0; t && i < t->nprices; i++)
		if (lr_glob_match(lr_table_str(t, lr_table_prices(t)[i].glob), model, len, 0)) {
			snprintf(out, cap, "rules price \"%s\"", lr_table_str(t, lr_table_prices(t)[i].glob));
			return;
		}
	if (lr_price_catalog_find(t, model)) {
		snprintf(out, cap, "catalogue (prices_file)");
		return;
	}
	for (i = 0; i < n; i++)
		if (lr_glob_match(b[i].glob, model, len, 0)) {
			snprintf(out, cap, "built-in \"%s\" (as published, checked %s)", b[i].glob,
				 LR_PRICE_BUILTIN_DATE);
			return;
		}
	snprintf(out, cap, "none");
}

static void put_rate(const char *what, double v, double input)
{
	if (v < 0)
		printf(", %s $%g (the input rate)", what, input);
	else
		printf(", %s $%g", what, v);
}

static int prices_show(int n, char **models)
{
	lr_shm s;
	lr_table *t = NULL;
	size_t len;
	uint64_t gen;
	char src[300];
	lr_price p;
	const lr_price_rec *c;
	int i, missing = 0;

	if (ctl_attach(&s) == 0) {
		t = ctl_snapshot(&s, &len, &gen);
		lr_shm_close(&s);
	}
	for (i = 0; i < n; i++) {
		if (lr_price_lookup(t, models[i], &p) < 0) {
			printf("%s: no price (its cost is recorded as null)\n", models[i]);
			missing = 1;
			continue;
		}
		source_of(t, models[i], src, sizeof(src));
		printf("%s: per million tokens: input $%g, output $%g", models[i], p.input_per_mtok,
		       p.output_per_mtok);
		put_rate("cache read", p.cache_read_per_mtok, p.input_per_mtok);
		put_rate("cache write", p.cache_write_per_mtok, p.input_per_mtok);
		if ((c = lr_price_catalog_find(t, models[i])) && c->context_window > 0)
			printf("; context window %.0f", c->context_window);
		printf("; from %s\n", src);
	}
	free(t);
	return missing ? EX_NOTFOUND : EX_DONE;
}

int ctl_prices(int argc, char **argv)
{
	if (argc >= 2 && ctl_is_help(argv[1])) {
		fputs(prices_usage, stdout);
		return EX_DONE;
	}
	if (argc == 3 && strcmp(argv[1], "import") == 0)
		return prices_import(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "show") == 0)
		return prices_show(argc - 2, argv + 2);
	fputs(prices_usage, stderr);
	return EX_USAGE;
}
