/*
 * lr_price.c - model prices (see lr_price.h).
 *
 * The built-in list holds public list prices (USD per million tokens) of
 * common models as of 2025; more specific globs come first because the
 * first match wins.  Operators override any of them in the routes file.
 */
#include "lr_price.h"
#include "lr_error.h"
#include "lr_glob.h"

#include <string.h>

static const lr_price_entry builtin[] = {
	{"gpt-4o-mini*", {0.15, 0.60}},
	{"gpt-4o*", {2.50, 10.00}},
	{"gpt-4.1-nano*", {0.10, 0.40}},
	{"gpt-4.1-mini*", {0.40, 1.60}},
	{"gpt-4.1*", {2.00, 8.00}},
	{"gpt-4-turbo*", {10.00, 30.00}},
	{"gpt-4*", {30.00, 60.00}},
	{"gpt-3.5-turbo*", {0.50, 1.50}},
	{"o1-pro*", {150.00, 600.00}},
	{"o1-mini*", {1.10, 4.40}},
	{"o1*", {15.00, 60.00}},
	{"o3-mini*", {1.10, 4.40}},
	{"o3*", {2.00, 8.00}},
	{"o4-mini*", {1.10, 4.40}},
	{"text-embedding-3-small*", {0.02, 0.00}},
	{"text-embedding-3-large*", {0.13, 0.00}},
	{"text-embedding-ada-002*", {0.10, 0.00}},
	{"claude-3-5-haiku*", {0.80, 4.00}},
	{"claude-3-haiku*", {0.25, 1.25}},
	{"claude-*sonnet*", {3.00, 15.00}},
	{"claude-*opus*", {15.00, 75.00}},
	{"gemini-1.5-flash*", {0.075, 0.30}},
	{"gemini-1.5-pro*", {1.25, 5.00}},
	{"gemini-2.0-flash*", {0.10, 0.40}},
	{"gemini-2.5-flash*", {0.30, 2.50}},
	{"gemini-2.5-pro*", {1.25, 10.00}},
};

const lr_price_entry *lr_price_builtin(size_t *n)
{
	*n = sizeof(builtin) / sizeof(builtin[0]);
	return builtin;
}

int lr_price_lookup(const lr_table *t, const char *model, lr_price *p)
{
	size_t i, n = strlen(model ? model : "");

	if (!model || !*model)
		return LR_ENOTFOUND;
	for (i = 0; t && i < t->nprices; i++) {
		const lr_price_rec *r = &lr_table_prices(t)[i];
		if (lr_glob_match(lr_table_str(t, r->glob), model, n, 0)) {
			p->input_per_mtok = r->input_per_mtok;
			p->output_per_mtok = r->output_per_mtok;
			return 0;
		}
	}
	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		if (lr_glob_match(builtin[i].glob, model, n, 0)) {
			*p = builtin[i].price;
			return 0;
		}
	}
	return LR_ENOTFOUND;
}

double lr_price_cost(const lr_price *p, long long in, long long out)
{
	return ((in > 0 ? (double)in : 0) * p->input_per_mtok +
		(out > 0 ? (double)out : 0) * p->output_per_mtok) / 1e6;
}
